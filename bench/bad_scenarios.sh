#!/usr/bin/env bash
# Every bad scenario of tests/fixtures/bad-scenarios through `dashload check` (and
# `run` with --run): how each ended (exit code, wall time, first line of stderr)
# and the tally. A case ends well with exit 2, a file:line:col and its offending
# value (the `# value:` line of the case). Each command is bounded to 20 s and
# 2 GB of memory, so a regression shows as a kill, not a hung machine.
# Usage: bench/bad_scenarios.sh [BINARY] [--run]   (default: target/debug/dashload)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/machine.sh
machine
BIN=$(realpath "${1:-target/debug/dashload}")
SUBS="check"
[ "${2:-}" = "--run" ] && SUBS="check run"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -r scenarios "$WORK/scenarios"
cp -r tests/fixtures/bad-scenarios "$WORK/scenarios/bad"
cd "$WORK"
declare -A tally
total=0
for case in scenarios/bad/*.toml; do
  name=$(basename "$case" .toml)
  value=$(head -1 "$case" | sed 's/^# value: //')
  for sub in $SUBS; do
    total=$((total + 1))
    start=$(date +%s.%N)
    (ulimit -v 2000000; timeout 20 "$BIN" "$sub" "$case" > out.txt 2> err.txt)
    code=$?
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    first=$(grep -v '^$' err.txt | head -1 | cut -c1-160)
    if [ "$code" = 2 ] && grep -qE ':[0-9]+:[0-9]+: ' err.txt && grep -qF -- "$value" err.txt; then
      verdict="ok (2, located, value)"
    elif [ "$code" = 2 ]; then
      verdict="2 without location or value"
    elif [ "$code" = 124 ]; then
      verdict="killed after 20 s"
    elif [ "$code" = 101 ] || [ "$code" -gt 128 ]; then
      verdict="crashed ($code)"
    else
      verdict="exit $code (accepted)"
    fi
    tally[$verdict]=$(( ${tally[$verdict]:-0} + 1 ))
    printf '%-32s %-5s %-30s %5.1fs  %s\n' "$name" "$sub" "$verdict" "$secs" "$first"
  done
done
echo
echo "$total bad-scenario commands:"
for v in "${!tally[@]}"; do printf '  %4d  %s\n' "${tally[$v]}" "$v"; done
