#!/bin/sh
# Toggl entries generated + turned into line protocol, one core (BENCH.md goal:
# >= 1,000,000 entries/s). Pins the benchmark to core ${CORE:-0}; criterion
# prints the throughput (Melem/s = million entries/s) for each case:
#   generate+line_protocol (the goal), generate, line_protocol, count_only.
# Usage: bench/toggl_throughput.sh [criterion filter, default "toggl/"]
set -eu
cd "$(dirname "$0")/.."
source bench/machine.sh
machine
cargo bench --bench workload --no-run
exec taskset -c "${CORE:-0}" cargo bench --bench workload -- "${1:-toggl/}"
