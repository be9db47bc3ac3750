#!/usr/bin/env bash
# Generator cost per request: dashload's dashboard viewers vs raw Goose plain GETs,
# both against a trivial loopback target that does no work (examples/trivial_target),
# generator pinned to core 0, target to core 1 (BENCH.md). Alternates A B A B and
# prints CPU µs per request, requests/s and peak RSS for each run, then the median
# ratio of CPU per request and of peak RSS. Every run is bounded by -t.
#
# Usage: bench/generator_cost.sh [users=32] [seconds=10] [pairs=3]
#        env: KEEP=dir keeps the runs' logs and request logs; BIN=path measures that
#        dashload build (e.g. a copy of the one before a change) instead of building one
source "$(dirname "$0")/common.sh"
USERS=${1:-32}; SECS=${2:-10}; PAIRS=${3:-3}
if [ -n "${BIN:-}" ]; then
  cargo build --release -q --example trivial_target --example raw_goose
else
  cargo build --release -q --bin dashload --example trivial_target --example raw_goose
  BIN=target/release/dashload
fi
start_trivial_target
PORT=$TARGET_PORT
echo "trivial target on 127.0.0.1:$PORT; $USERS users, ${SECS}s runs, $PAIRS pairs"
echo "name cpu_us_per_request requests_per_s peak_rss_kb"

measure() { # name, command...: prints "name cpu_us_per_req req_per_s rss_kb"
  local name=$1; shift
  local log=$OUT/$name.log
  /usr/bin/time -f "%U %S %M" -o "$OUT/time" taskset -c 0 "$@" > "$log" 2>&1 || true
  read -r user sys rss < "$OUT/time"
  local requests
  if [ "$name" = raw ]; then
    requests=$(python3 -c "import json,sys; r=json.load(open('$OUT/raw.json')); print(sum(v['raw_data']['counter'] for v in r['raw_request_metrics'].values()) if 'raw_request_metrics' in r and isinstance(r['raw_request_metrics'], dict) else 0)" 2>/dev/null || echo 0)
    [ "$requests" -gt 0 ] || requests=$(($(wc -l < "$OUT/raw.csv") - 1))
  else
    local dir; dir=$(ls -d "$OUT"/runs/*/ | tail -1)
    # HTTP requests: panel and variable queries (a dashboard load is a derived record).
    requests=$(grep -c -E ',(panel|variable) [^,]*,' "$dir/requests.csv" || true)
    [ -n "${KEEP:-}" ] || rm -rf "$OUT/runs"
  fi
  # A run that sent nothing measured nothing: say so rather than print a figure.
  if [ "$requests" -le 0 ]; then
    echo "$name sent no request (log: $log):" >&2
    tail -5 "$log" >&2
    exit 4
  fi
  python3 -c "u=$user+$sys; n=max($requests,1); print(f'$name {u/n*1e6:.1f} {n/$SECS:.0f} $rss')"
}

for i in $(seq "$PAIRS"); do
  measure raw target/release/examples/raw_goose -H "http://127.0.0.1:$PORT" -u "$USERS" -r "$USERS" -t "${SECS}s" \
    --request-log "$OUT/raw.csv" --request-format csv -q --no-print-metrics
  measure dashload "$BIN" run bench/fixtures/viewers-trivial.toml --reports-dir "$OUT/runs" \
    --set "target.url=http://127.0.0.1:$PORT" --no-report -u "$USERS" -r "$USERS" -t "${SECS}s"
done | tee "$OUT/results"
echo "CPU per request, dashload viewer ÷ raw Goose GET: $(median_ratio "$OUT/results" dashload raw);"
echo "its inverse is the requests/s per core ratio"
# Peak RSS is the 4th column: the same pairing on it.
awk '{print $1, $4}' "$OUT/results" > "$OUT/rss"
echo "peak RSS, dashload ÷ raw Goose at $USERS users: $(median_ratio "$OUT/rss" dashload raw)"
