#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Run every libFuzzer target (tests/fuzz/fuzz_*.c, built by make fuzz-test
# into $FUZZ_OUT/fuzz) for FUZZ_SECONDS each, FUZZ_JOBS (2) at a time.
# Each starts from its committed seeds (tests/fuzz/corpus/NAME, read only)
# plus the corpus earlier runs grew in $FUZZ_OUT/work/corpus/NAME.  Any
# crash, sanitizer report, leak, timeout or violated property fails the
# run; the input is kept in $FUZZ_OUT/work/artifacts/ with the command that
# replays it.  A fixed bug's input belongs in a unit test (tests/unit/) and
# in the seeds.
set -u
cd "$(dirname "$0")/../.." || exit 1

FUZZ_OUT=${FUZZ_OUT:-.output/fuzz-$(uname -m | sed 's/aarch64/arm64/')}
SECS=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-2}
WORK=$FUZZ_OUT/work
SEEDS=tests/fuzz/corpus

mkdir -p "$WORK/corpus" "$WORK/artifacts" "$WORK/logs"
targets=()
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	t=${t#fuzz_}
	if [ ! -x "$FUZZ_OUT/fuzz/fuzz_$t" ]; then
		echo "fuzz: $FUZZ_OUT/fuzz/fuzz_$t is not built (make fuzz-test)" >&2
		exit 1
	fi
	if [ ! -d "$SEEDS/$t" ]; then
		echo "fuzz: no seeds for $t ($SEEDS/$t)" >&2
		exit 1
	fi
	targets+=("$t")
done

run_one() {	# target
	local t=$1 bin log rc
	bin=$FUZZ_OUT/fuzz/fuzz_$t
	log=$WORK/logs/$t.log
	mkdir -p "$WORK/corpus/$t"
	rm -f "$WORK/artifacts/$t-"*
	# -timeout: one input may take 10 s on a loaded machine, no more;
	# ASan's own leak check runs after every input that allocated
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -use_value_profile=1 \
		-print_final_stats=1 -artifact_prefix="$WORK/artifacts/$t-" \
		"$WORK/corpus/$t" "$SEEDS/$t" >"$log" 2>&1
	rc=$?
	echo "$rc" >"$WORK/logs/$t.rc"
}
export -f run_one
export FUZZ_OUT WORK SEEDS SECS

echo "# fuzz: ${#targets[@]} targets, ${SECS}s each, $JOBS at a time"
start=$(date +%s)
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

fail=0
printf '%-10s %-6s %10s %9s %6s %6s %7s\n' target result runs exec/s cov ft corpus
for t in "${targets[@]}"; do
	log=$WORK/logs/$t.log
	rc=$(cat "$WORK/logs/$t.rc" 2>/dev/null || echo '?')
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	corpus=$(find "$WORK/corpus/$t" -type f | wc -l)
	art=$(find "$WORK/artifacts" -name "$t-*" -type f | head -1)
	if [ "$rc" = 0 ] && [ -z "$art" ]; then
		res=ok
	else
		res=FAIL
		fail=$((fail + 1))
	fi
	printf '%-10s %-6s %10s %9s %6s %6s %7s\n' "$t" "$res" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$corpus"
done
for t in "${targets[@]}"; do
	rc=$(cat "$WORK/logs/$t.rc" 2>/dev/null || echo '?')
	art=$(find "$WORK/artifacts" -name "$t-*" -type f | head -1)
	[ "$rc" = 0 ] && [ -z "$art" ] && continue
	echo
	echo "FAIL $t (exit $rc): $WORK/logs/$t.log"
	grep -E 'ERROR|runtime error|property violated|SUMMARY|^    #[0-9]+ .* (src|tests)/' "$WORK/logs/$t.log" |
		head -15 | sed 's/^/     /'
	[ -n "$art" ] && echo "     input: $art; replay: $FUZZ_OUT/fuzz/fuzz_$t $art"
done
echo
echo "fuzz: ${#targets[@]} targets in $(($(date +%s) - start))s, $fail failed"
[ "$fail" -eq 0 ]
