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
# Exit status: 0 when every stage passed, 2 when any failed (make's own).
set -uo pipefail

make=$1
shift
results=()
failed=0
t0=$(date +%s)
for stage in "$@"; do
	s=$(date +%s)
	printf '=== stage %s (at %ds)\n' "$stage" $((s - t0))
	if $make --no-print-directory "$stage"; then r=pass; else r=FAIL; failed=$((failed + 1)); fi
	e=$(date +%s)
	printf '=== stage %s: %s in %ds\n' "$stage" "$r" $((e - s))
	results+=("$(printf '%-16s %-5s %5ds' "$stage" "$r" $((e - s)))")
done
printf '\n%-16s %-5s %6s\n' STAGE RESULT TIME
printf '%s\n' "${results[@]}"
printf '%-16s %-5s %5ds (%d:%02d)\n' total "$( ((failed)) && echo FAIL || echo pass)" \
	$(($(date +%s) - t0)) $((($(date +%s) - t0) / 60)) $((($(date +%s) - t0) % 60))
((failed == 0)) || { printf 'make test: %d of %d stages failed\n' "$failed" $#; exit 2; }
