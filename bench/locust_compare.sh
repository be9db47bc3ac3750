#!/usr/bin/env bash
# dashload's dashboard viewers against Locust (BENCH.md: requests/s per core), both on
# core 0 against the trivial target on core 1: Locust's default HttpUser and its
# FastHttpUser GETting `/` with no wait, dashload's viewers loading the shipped
# dashboard back to back (bench/fixtures/viewers-trivial.toml). Alternates the three;
# prints requests/s of each run and the median ratios. Every run is bounded by -t.
#
# Needs Locust: LOCUST=/path/to/locust (default: `locust` on PATH), e.g.
#   python3 -m venv /tmp/locust && /tmp/locust/bin/pip install locust
#   LOCUST=/tmp/locust/bin/locust bench/locust_compare.sh
#
# Usage: bench/locust_compare.sh [users=32] [seconds=10] [rounds=3]
source "$(dirname "$0")/common.sh"
USERS=${1:-32}; SECS=${2:-10}; ROUNDS=${3:-3}
LOCUST=${LOCUST:-locust}
command -v "$LOCUST" > /dev/null || { echo "Locust not found: set LOCUST=/path/to/locust"; exit 1; }
cargo build --release -q --bin dashload --example trivial_target
start_trivial_target
PORT=$TARGET_PORT
cat > "$OUT/locustfile.py" <<'PY'
import os
from locust import HttpUser, constant, task
from locust.contrib.fasthttp import FastHttpUser

if os.environ.get("FAST") == "1":
    class Root(FastHttpUser):
        wait_time = constant(0)
        @task
        def root(self):
            self.client.get("/")
else:
    class Root(HttpUser):
        wait_time = constant(0)
        @task
        def root(self):
            self.client.get("/")
PY

locust_run() { # name, FAST: prints "name requests/s"
  FAST=$2 taskset -c 0 "$LOCUST" -f "$OUT/locustfile.py" --headless -u "$USERS" -r "$USERS" \
    -t "${SECS}s" -H "http://127.0.0.1:$PORT" --csv "$OUT/$1" --only-summary > /dev/null 2>&1 || true
  python3 - "$OUT/${1}_stats.csv" "$1" "$SECS" <<'PY'
import csv, sys
rows = {r["Name"]: r for r in csv.DictReader(open(sys.argv[1]))}
print(sys.argv[2], round(int(rows["Aggregated"]["Request Count"]) / float(sys.argv[3])))
PY
}

for i in $(seq "$ROUNDS"); do
  locust_run locust 0
  locust_run fasthttp 1
  taskset -c 0 target/release/dashload run bench/fixtures/viewers-trivial.toml --reports-dir "$OUT/runs" \
    --set "target.url=http://127.0.0.1:$PORT" --no-report -u "$USERS" -r "$USERS" -t "${SECS}s" > /dev/null 2>&1 || true
  n=$(grep -c -E ',(panel|variable) [^,]*,' "$OUT"/runs/*/requests.csv || true)
  rm -rf "$OUT/runs"
  echo "dashload $((n / SECS))"
done | tee "$OUT/results"
echo "requests/s, dashload viewers ÷ Locust HttpUser: $(median_ratio "$OUT/results" dashload locust)"
echo "requests/s, dashload viewers ÷ Locust FastHttpUser: $(median_ratio "$OUT/results" dashload fasthttp)"
