# Sourced by the bench scripts: a work folder removed on exit, the trivial target on
# core 1 (BENCH.md: generator on core 0, target on core 1), and median ratios of
# paired runs. Loopback only; every caller bounds its runs with -t or a fixed input.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=$(mktemp -d)
TARGET_PID=

# The exit trap; a script that starts more servers sets its own trap and calls this.
bench_cleanup() {
  [ -z "$TARGET_PID" ] || kill -INT "$TARGET_PID" 2>/dev/null || true
  rm -rf "$OUT"
}
trap bench_cleanup EXIT

# start_trivial_target PORT [DELAY_MS]: its output goes to $OUT/target.out.
start_trivial_target() {
  taskset -c 1 target/release/examples/trivial_target "$@" > "$OUT/target.out" &
  TARGET_PID=$!
  sleep 0.5
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
