#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make test's driver: every stage (a make target) in order, each timed, all
# of them run even after one fails (a 50-minute CI run should say everything
# that is wrong at once), then one table of stage, result and seconds, the
# figures the CI budget is kept with (README, Tests).
#
#   tools/test-stages.sh MAKE STAGE...
#
# A failed stage's failing checks are printed again under the table: a CI
# log is often kept as its head and tail only, and the table alone does not
# say what failed in the middle of a 40-minute run.
#
# Exit status: 0 when every stage passed, 2 when any failed (make's own).
set -uo pipefail

make=$1
shift
results=()
failed=0
failed_stages=()
# the lines every harness prints for a failed check: "FAIL name" (the
# shell and python harnesses), "not ok", cmocka's "[  FAILED  ]"/"[  ERROR   ]",
# and a build's compiler errors and make's "***" lines
fail_re='^(FAIL|not ok)|^\[  (FAILED|ERROR) +\]|: error: |^make(\[[0-9]+\])?: \*\*\*'
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
t0=$(date +%s)
for stage in "$@"; do
	s=$(date +%s)
	printf '=== stage %s (at %ds)\n' "$stage" $((s - t0))
	# python harnesses write through a pipe now: unbuffered keeps the order
	if PYTHONUNBUFFERED=1 $make --no-print-directory "$stage" 2>&1 | tee "$logs/$stage"; then r=pass
	else r=FAIL; failed=$((failed + 1)); failed_stages+=("$stage"); fi
	e=$(date +%s)
	printf '=== stage %s: %s in %ds\n' "$stage" "$r" $((e - s))
	results+=("$(printf '%-16s %-5s %5ds' "$stage" "$r" $((e - s)))")
done
for stage in "${failed_stages[@]}"; do
	printf '\n--- %s: failed checks\n' "$stage"
	lines=$(grep -E -A1 "$fail_re" "$logs/$stage" | head -n 40)
	printf '%s\n' "${lines:-(none by name: the stage itself failed; its output is above)}"
done
printf '\n%-16s %-5s %6s\n' STAGE RESULT TIME
printf '%s\n' "${results[@]}"
printf '%-16s %-5s %5ds (%d:%02d)\n' total "$( ((failed)) && echo FAIL || echo pass)" \
	$(($(date +%s) - t0)) $((($(date +%s) - t0) / 60)) $((($(date +%s) - t0) % 60))
((failed == 0)) || { printf 'make test: %d of %d stages failed\n' "$failed" $#; exit 2; }
