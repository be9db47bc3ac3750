#!/usr/bin/env bash
# Peak RSS of a run whose target misbehaves with its bodies: 10 viewers against the
# fault target (tests/integration/fault_target.rs) serving 100 MB answers, then a
# gzip bomb (~5 MB inflating to 1 GiB). Prints each peak (the child's VmHWM) as the
# integration test measures it, then the cost of reading and judging a clean 1 MB
# answer in 16 KB chunks (criterion, `judge_clean_1mb_answer`).
#
# Usage: bench/answer_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/machine.sh
machine
cargo test -q --test integration faults::huge_answers_and_gzip_bombs_stay_in_bounded_memory \
  -- --nocapture 2>&1 | grep -E "peak RSS|panel queries"
cargo bench -q --bench queries -- judge_clean_1mb_answer 2>&1 | grep -E "judge_clean|time:"
