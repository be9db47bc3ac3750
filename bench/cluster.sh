#!/usr/bin/env bash
# Distributed runs' cost and accuracy: the same total viewers as one process and as
# 1, 2 and 4 local workers (`--workers local:N`), against the trivial loopback target
# answering after a fixed delay (its handler time, the ground truth). The generator
# side (manager and its worker children) is pinned to core 0, the target to core 1
# (BENCH.md). Prints per setup: generator CPU µs per HTTP request (user+sys of the
# manager and every worker, /usr/bin/time counts waited-for children), requests/s,
# and the merged panel-query p50/p99 of the hold beside the target's delay.
#
# Two ratios per distributed setup. "Worker cost" (the goal, ≤ 1.05): N workers at V
# total viewers ÷ one process at V/N viewers, i.e. each worker against a single run
# carrying the same load per process, so what is left is what being a worker costs
# (ticks, the barrier, uploads, the manager's merge). "Split on one core": N workers ÷
# one process at V, the same total; this is larger because Goose's CPU per request
# rises as a process's concurrency falls (fewer ready sockets per wake-up), which a
# single run at V/N viewers shows just as much. On separate machines each worker has
# its own cores, so the first ratio is the one a user pays.
# Every run is bounded by its plan (ramp + hold).
#
# Usage: bench/cluster.sh [viewers=32] [hold_seconds=10] [delay_ms=20] [rounds=2]
source "$(dirname "$0")/common.sh"
VIEWERS=${1:-32}; SECS=${2:-10}; DELAY=${3:-20}; ROUNDS=${4:-2}
cargo build --release -q --bin dashload --example trivial_target
start_trivial_target "$DELAY"
PORT=$TARGET_PORT

measure() { # name, workers (0: one process), viewers
  local name=$1 workers=$2 viewers=$3 dir=$OUT/runs-$1
  local extra=()
  [ "$workers" = 0 ] || extra=(--workers "local:$workers")
  /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 target/release/dashload run \
    bench/fixtures/viewers-trivial-staged.toml --reports-dir "$dir" \
    --set "target.url=http://127.0.0.1:$PORT" --set "stages.0.users=$viewers" \
    --set "stages.0.hold=${SECS}s" "${extra[@]}" > "$OUT/$name.log" 2>&1 || true
  read -r user sys < "$OUT/time"
  python3 - "$name" "$user" "$sys" "$dir" "$SECS" <<'PY' || { tail -5 "$OUT/$name.log" >&2; exit 1; }
import glob, json, sys
name, user, sys_, d, secs = sys.argv[1:]
summary = json.load(open(glob.glob(d + "/*/summary.json")[0]))
http = summary["totals"]["requests"]
hold = [w for w in summary["windows"] if w["kind"] == "hold"][0]
panel = [c for c in hold["classes"] if c["class"] == "panel_query"][0]["latency"]
cpu_us = (float(user) + float(sys_)) / max(http, 1) * 1e6
print(f"{name} {cpu_us:.1f} {hold['requests'] / ((hold['end_ms'] - hold['start_ms']) / 1000):.0f} "
      f"{panel['p50']:.2f} {panel['p99']:.2f} {http}")
PY
  rm -rf "$dir"
}

echo "setup cpu_us_per_request hold_req_per_s panel_p50_ms panel_p99_ms http_requests (target delay ${DELAY} ms)"
for i in $(seq "$ROUNDS"); do
  measure single 0 "$VIEWERS"
  for n in 1 2 4; do
    [ "$n" = 1 ] || measure "single-at-$((VIEWERS / n))" 0 "$((VIEWERS / n))"
    measure "workers$n" "$n" "$VIEWERS"
  done
done | tee "$OUT/results"
for n in 1 2 4; do
  share=single; [ "$n" = 1 ] || share="single-at-$((VIEWERS / n))"
  echo "worker cost, $n worker(s) ÷ one process at $((VIEWERS / n)) viewers: $(median_ratio "$OUT/results" "workers$n" "$share")"
done
for n in 2 4; do
  echo "split on one core, $n workers ÷ one process at $VIEWERS viewers: $(median_ratio "$OUT/results" "workers$n" single)"
done
