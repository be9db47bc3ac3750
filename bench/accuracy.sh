#!/usr/bin/env bash
# Latency accuracy: what the generator reports minus the target's own truth (BENCH.md).
# The trivial target answers every query after exactly DELAY ms and times its own
# handlers; each run starts a fresh target, so its histogram covers that run alone.
# dashload's viewers and raw Goose's plain GETs are measured alternately (generator on
# core 0, target on core 1), raw Goose with 6 users per viewer so that both keep the
# same number of requests in flight (a viewer loads up to 6 panels at once); printed per run: the tool's p50/p99 of its HTTP requests,
# the target's p50/p99 handler time, and the differences in ms; then the medians.
# Every run is bounded by -t.
#
# Usage: bench/accuracy.sh [users=100] [seconds=10] [runs=3] [delay_ms=50]
source "$(dirname "$0")/common.sh"
USERS=${1:-100}; SECS=${2:-10}; RUNS=${3:-3}; DELAY=${4:-50}
cargo build --release -q --bin dashload --example trivial_target --example raw_goose

# tool name, command...: prints "tool tool_p50 tool_p99 server_p50 server_p99" in µs.
# Each run gets a fresh target on a free port: @PORT@ in the command is replaced by it.
measure() {
  local tool=$1; shift
  start_trivial_target "$DELAY"
  local args=()
  for a in "$@"; do args+=("${a//@PORT@/$TARGET_PORT}"); done
  taskset -c 0 "${args[@]}" > "$OUT/$tool.log" 2>&1 || true
  stop_trivial_target
  local log
  if [ "$tool" = raw ]; then log=$OUT/raw.csv; else log=$(ls "$OUT"/runs/*/requests.csv); fi
  python3 - "$tool" "$log" "$OUT/target.out" <<'PY'
import csv, sys
tool, log, server = sys.argv[1:]
times = []
with open(log, newline="") as f:
    for row in csv.DictReader(f):
        # dashload's log also holds derived records (dashboard loads): HTTP requests only.
        if tool == "raw" or row["name"].startswith(("panel ", "variable ")):
            times.append(int(row["response_time_us"]))
times.sort()
rank = lambda q: times[min(len(times) - 1, int(q * len(times)))]
truth = open(server).read().split()
p50, p99 = truth[truth.index("p50") + 1], truth[truth.index("p99") + 1]
print(tool, rank(0.5), rank(0.99), p50, p99, len(times))
PY
  rm -rf "$OUT/runs" "$OUT/raw.csv"
}

for i in $(seq "$RUNS"); do
  measure dashload target/release/dashload run bench/fixtures/viewers-trivial.toml \
    --reports-dir "$OUT/runs" --no-report --set "target.url=http://127.0.0.1:@PORT@" \
    -u "$USERS" -r "$USERS" -t "${SECS}s"
  measure raw target/release/examples/raw_goose -H "http://127.0.0.1:@PORT@" \
    -u $((USERS * 6)) -r $((USERS * 6)) -t "${SECS}s" --request-log "$OUT/raw.csv" --request-format csv \
    -q --no-print-metrics
done | tee "$OUT/results" | awk '{printf "%-8s tool p50 %.2f p99 %.2f ms, target p50 %.2f p99 %.2f ms: +%.2f / +%.2f ms (%d requests)\n",
  $1, $2/1000, $3/1000, $4/1000, $5/1000, ($2-$4)/1000, ($3-$5)/1000, $6}'
python3 - "$OUT/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for tool in ("dashload", "raw"):
    d50 = [(int(r[1]) - int(r[3])) / 1000 for r in rows if r[0] == tool]
    d99 = [(int(r[2]) - int(r[4])) / 1000 for r in rows if r[0] == tool]
    print(f"{tool}: reported minus target truth, median of {len(d50)}: "
          f"p50 +{statistics.median(d50):.2f} ms ({min(d50):.2f} to {max(d50):.2f}), "
          f"p99 +{statistics.median(d99):.2f} ms ({min(d99):.2f} to {max(d99):.2f})")
PY
