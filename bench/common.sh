# Sourced by the bench scripts: a work folder removed on exit (kept with KEEP=dir),
# free loopback ports, the trivial target on core 1 (BENCH.md: generator on core 0,
# target on core 1) checked to answer before anything is measured, the machine the
# figures come from, and median ratios of paired runs. Loopback only; every caller
# bounds its runs with -t or a fixed input.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# KEEP=dir keeps the runs there; otherwise a temporary folder, removed on exit.
if [ -n "${KEEP:-}" ]; then
  OUT=$KEEP
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d)
fi
TARGET_PID=
TARGET_PORT=

# The exit trap; a script that starts more servers sets its own trap and calls this.
bench_cleanup() {
  [ -z "$TARGET_PID" ] || kill -INT "$TARGET_PID" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$OUT"
}
trap bench_cleanup EXIT

# free_port: a loopback port nothing listens on now (the kernel's pick).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

source bench/machine.sh

# wait_for_http URL PID [WHAT]: until URL answers (any HTTP status) while PID lives;
# exits 4 when PID died or nothing answered within 10 s, so nothing else is measured.
wait_for_http() {
  local url=$1 pid=$2 what=${3:-the target}
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$what did not start (it exited): nothing measured" >&2
      exit 4
    fi
    if curl -s -o /dev/null --max-time 1 "$url"; then
      return 0
    fi
    sleep 0.1
  done
  echo "$what does not answer at $url after 10 s: nothing measured" >&2
  exit 4
}

# start_trivial_target [DELAY_MS]: on a free port (TARGET_PORT), its output in
# $OUT/target.out; returns once its /ping answers 204.
start_trivial_target() {
  TARGET_PORT=$(free_port)
  taskset -c 1 target/release/examples/trivial_target "$TARGET_PORT" "$@" > "$OUT/target.out" &
  TARGET_PID=$!
  wait_for_http "http://127.0.0.1:$TARGET_PORT/ping" "$TARGET_PID" "the trivial target"
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TARGET_PORT/ping")
  if [ "$code" != 204 ]; then
    echo "port $TARGET_PORT answers /ping with $code, not the trivial target's 204: nothing measured" >&2
    exit 4
  fi
}

# stop_trivial_target: Ctrl-C and wait, so $OUT/target.out holds its closing figures.
stop_trivial_target() {
  kill -INT "$TARGET_PID" 2>/dev/null || true
  wait "$TARGET_PID" 2>/dev/null || true
  TARGET_PID=
}

# median_ratio FILE A B: lines of FILE are "name figure ..."; prints the median, min
# and max of A's figure ÷ B's, pairing A's and B's lines in order.
median_ratio() {
  python3 - "$@" <<'PY'
import statistics, sys
path, a, b = sys.argv[1:]
rows = [line.split() for line in open(path)]
ratios = [x / y for x, y in zip([float(r[1]) for r in rows if r[0] == a],
                                [float(r[1]) for r in rows if r[0] == b])]
print(f"median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}, "
      f"{len(ratios)} pairs)")
PY
}

machine
