#!/usr/bin/env bash
# Sync-job ingest into a real influxd (Debian's influxdb package) against the curl
# baseline of BENCH.md: the same kind of points (Toggl entries as line protocol), gzip
# batches of 5,000, four in flight. influxd on core 1, the client on core 0, a fresh
# data folder each run. Alternates curl and dashload; prints points/s of each run and
# the median ratio. Every run is bounded (a fixed file set, or -t).
#
# Usage: bench/ingest.sh [seconds=30] [pairs=3]
source "$(dirname "$0")/common.sh"
SECS=${1:-30}; PAIRS=${2:-3}; HTTP=$(free_port); RPC=$(free_port)
INFLUXD=$(command -v influxd) || { echo "influxd is not installed (apt-get install influxdb)"; exit 1; }
cargo build --release -q --bin dashload
SERVER=
stop() { if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi; SERVER=; }
trap 'stop; bench_cleanup' EXIT

start() { # a fresh influxd with an empty toggl database
  rm -rf "$OUT/db"; mkdir -p "$OUT/db"
  cat > "$OUT/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$RPC"
[meta]
  dir = "$OUT/db/meta"
[data]
  dir = "$OUT/db/data"
  wal-dir = "$OUT/db/wal"
  query-log-enabled = false
[coordinator]
  max-select-buckets = 100000
  query-timeout = "10s"
  max-concurrent-queries = 32
[http]
  bind-address = "127.0.0.1:$HTTP"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
CONF
  taskset -c 1 "$INFLUXD" -config "$OUT/influxdb.conf" > /dev/null 2>&1 &
  SERVER=$!
  wait_for_http "http://127.0.0.1:$HTTP/ping" "$SERVER" "influxd"
  curl -sf -XPOST "http://127.0.0.1:$HTTP/query" --data-urlencode "q=CREATE DATABASE toggl" > /dev/null
}

# The baseline's input: 50 gzip batches of 5,000 Toggl points, made once.
target/release/dashload generate toggl --count 250000 --format lp --seed 7 > "$OUT/all.lp"
mkdir "$OUT/batches"
split -l 5000 -d -a 3 "$OUT/all.lp" "$OUT/batches/b"
gzip "$OUT"/batches/b*

for i in $(seq "$PAIRS"); do
  start
  t0=$(date +%s.%N)
  ls "$OUT"/batches/*.gz | taskset -c 0 xargs -P 4 -I{} curl -sf -o /dev/null -XPOST \
    "http://127.0.0.1:$HTTP/write?db=toggl&precision=s" -H "Content-Encoding: gzip" --data-binary @{}
  t1=$(date +%s.%N)
  stop
  python3 -c "print(f'curl {250000 / ($t1 - $t0):.0f}')"

  start
  rm -rf "$OUT/runs"
  taskset -c 0 target/release/dashload run bench/fixtures/ingest-influxd.toml --reports-dir "$OUT/runs" \
    --set "target.url=http://127.0.0.1:$HTTP" --no-report -u 4 -r 4 -t "${SECS}s" > "$OUT/dashload.log" 2>&1 || true
  stop
  python3 - "$(ls "$OUT"/runs/*/ingest.csv)" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["success"] == "true"]
start = min(int(r["elapsed_ms"]) - int(r["duration_us"]) // 1000 for r in rows)
end = max(int(r["elapsed_ms"]) for r in rows)
print(f"dashload {sum(int(r['points']) for r in rows) / ((end - start) / 1000):.0f}")
PY
done | tee "$OUT/results"
echo "points/s, dashload sync job ÷ curl: $(median_ratio "$OUT/results" dashload curl)"
