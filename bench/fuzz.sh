#!/bin/bash
# The property tests at length: every test fn named `prop_…` in any test binary of the
# project (library, integration tests, whoever adds them later), in release builds,
# with PROPTEST_CASES raised round by round until each test's share of the time is
# used. Prints, per test, the cases run, the seconds taken and cases per second; exits
# 1 when any property fails (its minimal input is in the output above the table).
#
# usage: bench/fuzz.sh [seconds] [filter]   (default: 300 seconds in all; filter is a
#        substring of the test path, default every prop_ test)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/machine.sh
machine
budget=${1:-300}
filter=${2:-}
first_cases=${FUZZ_FIRST_CASES:-256}

echo "building the test binaries (release)..." >&2
# Every test executable, listed by cargo itself: new test targets are picked up
# (only test-profile artifacts: the plain dashload binary is built too).
mapfile -t bins < <(cargo test --release --no-run --message-format=json 2>/dev/null |
    grep '"test":true' | grep -o '"executable":"[^"]*"' | sed 's/"executable":"//; s/"$//' | sort -u)
[ ${#bins[@]} -gt 0 ] || { echo "fuzz.sh: no test binaries built" >&2; exit 2; }

# (binary, test) pairs for every test whose last path segment starts with prop_.
tests=()
for bin in "${bins[@]}"; do
    while IFS= read -r name; do
        case "${name##*::}" in prop_*) ;; *) continue ;; esac
        [ -z "$filter" ] || [[ "$name" == *"$filter"* ]] || continue
        tests+=("$bin"$'\t'"$name")
    done < <("$bin" --list --format terse 2>/dev/null | sed -n 's/: test$//p')
done
[ ${#tests[@]} -gt 0 ] || { echo "fuzz.sh: no prop_ tests found" >&2; exit 2; }
share=$(( budget / ${#tests[@]} ))
[ "$share" -ge 1 ] || share=1
echo "${#tests[@]} property tests, ${share} s each (${budget} s in all)" >&2

failed=0
total_cases=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
printf '%-72s %10s %8s %10s %s\n' test cases seconds cases/s result
for entry in "${tests[@]}"; do
    bin=${entry%%$'\t'*}
    name=${entry#*$'\t'}
    cases=$first_cases
    ran=0
    result=ok
    start=$(date +%s.%N)
    while :; do
        now=$(date +%s.%N)
        left=$(echo "$share - ($now - $start)" | bc -l)
        # Stop when under a second is left; a round that runs out of time is cut off
        # and not counted (timeout), so the total stays within the budget.
        if [ "$(echo "$left < 1" | bc -l)" = 1 ]; then break; fi
        if PROPTEST_CASES=$cases timeout --signal=KILL "$left" \
            "$bin" --exact "$name" --test-threads=1 --quiet >"$log" 2>&1; then
            ran=$((ran + cases))
            cases=$((cases * 2))
        elif grep -q 'test result: FAILED' "$log"; then
            result=FAILED
            failed=1
            cat "$log" >&2
            break
        else
            break # timed out: this round does not count
        fi
    done
    secs=$(echo "$(date +%s.%N) - $start" | bc -l)
    rate=$(echo "$ran / ($secs + 0.000001)" | bc -l)
    total_cases=$((total_cases + ran))
    printf '%-72s %10d %8.1f %10.0f %s\n' "$(basename "$bin" | sed 's/-[0-9a-f]*$//')::$name" \
        "$ran" "$secs" "$rate" "$result"
done
echo "total: $total_cases cases over ${#tests[@]} property tests"
exit $failed
