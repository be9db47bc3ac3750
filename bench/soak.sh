#!/usr/bin/env bash
# Generator soak (BENCH.md: RSS and CPU per request flat over a long run). Viewers
# refreshing every 5 s (bench/fixtures/viewers-soak.toml) against the trivial target,
# generator on core 0, target on core 1. Samples the generator's RSS and CPU time every
# 30 s, then prints, per 5-minute slice, peak RSS and CPU µs per HTTP request (from the
# request log), and the last slice against the first. Bounded by -t.
#
# Usage: bench/soak.sh [users=200] [minutes=30]
source "$(dirname "$0")/common.sh"
USERS=${1:-200}; MINUTES=${2:-30}
cargo build --release -q --bin dashload --example trivial_target
start_trivial_target
PORT=$TARGET_PORT
taskset -c 0 target/release/dashload run bench/fixtures/viewers-soak.toml --reports-dir "$OUT/runs" \
  --set "target.url=http://127.0.0.1:$PORT" --no-report -u "$USERS" -r "$USERS" -t "${MINUTES}m" > "$OUT/log" 2>&1 &
GEN=$!
TICK=$(getconf CLK_TCK); START=$(date +%s.%N)
# seconds since start, RSS kB, CPU seconds (user + system)
while kill -0 $GEN 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$GEN/status 2>/dev/null || true)
  cpu=$(awk -v t="$TICK" '{print ($14 + $15) / t}' /proc/$GEN/stat 2>/dev/null || true)
  [ -n "$rss" ] && [ -n "$cpu" ] && echo "$(echo "$(date +%s.%N) - $START" | bc) $rss $cpu" >> "$OUT/samples"
  sleep 30
done
wait $GEN || true
python3 - "$OUT/samples" "$(ls "$OUT"/runs/*/requests.csv)" <<'PY'
import csv, sys
samples = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
ends = []  # ms since the attack started of every HTTP request
with open(sys.argv[2], newline="") as f:
    for row in csv.DictReader(f):
        if row["name"].startswith(("panel ", "variable ")):
            ends.append(int(row["elapsed"]))
SLICE = 300
rows = []
for start in range(0, int(samples[-1][0]), SLICE):
    inside = [s for s in samples if start <= s[0] < start + SLICE]
    if len(inside) < 2:
        continue
    t0, t1 = inside[0][0], inside[-1][0]
    requests = sum(1 for e in ends if t0 * 1000 <= e < t1 * 1000)
    cpu = inside[-1][2] - inside[0][2]
    rows.append((start // 60, max(s[1] for s in inside) / 1024, cpu / max(requests, 1) * 1e6, requests / (t1 - t0)))
print("minute  peak RSS MB  CPU µs/request  requests/s")
for m, rss, us, rate in rows:
    print(f"{m:6d}  {rss:11.1f}  {us:14.1f}  {rate:10.0f}")
if len(rows) >= 2:
    print(f"last slice ÷ first: RSS {rows[-1][1] / rows[0][1]:.2f}, CPU per request {rows[-1][2] / rows[0][2]:.2f}")
PY
