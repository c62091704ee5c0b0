#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make sanitize-test (root): the tests again, with faultloop built with
# sanitizers (the Makefile builds them into their own output dirs first).
#
#   AddressSanitizer + UndefinedBehaviorSanitizer ($ASAN_OUT): the unit
#   tests, the BPF detector tests (tests/bpf) and the host e2e tests
#   (tests/e2e.sh with FL= the ASan faultloop), LeakSanitizer included;
#   ThreadSanitizer ($TSAN_OUT): the metrics tests (tests/metrics.sh),
#   where the HTTP thread renders scrapes while the report consumer and
#   the sweep run, and tests/sanitize/daemon_race, main.c's daemon with
#   probes re-armed and stuck tasks rechecked under scrapes.
#
# No recovery: the first report ends the process.  Reports go to files
# (log_path) as well as failing the process, because a test that expects
# a failure exit would otherwise not notice one; any file there fails the
# run, whatever the tests said.  tests/sanitize/tsan.supp may silence
# frames of uninstrumented third-party libraries only, each with a
# reason; never faultloop's own code.
set -u
cd "$(dirname "$0")/.." || exit 1

ARCH=$(uname -m | sed 's/aarch64/arm64/')
OUTPUT=${OUTPUT:-.output/$ARCH}
ASAN_OUT=${ASAN_OUT:-.output/asan-$ARCH}
TSAN_OUT=${TSAN_OUT:-.output/tsan-$ARCH}
RACE=$OUTPUT/race
# the e2e tests run faultloop as nobody too: its report files must be writable
LOGS=$(mktemp -d /tmp/faultloop-sanitize.XXXXXX)
chmod 1777 "$LOGS"
export TMPDIR=${TMPDIR:-/tmp}
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; wait 2>/dev/null' EXIT

if [ "$(id -u)" != 0 ]; then
	echo "sanitize: needs root (sudo make sanitize-test)" >&2
	exit 1
fi
for b in "$ASAN_OUT/faultloop" "$ASAN_OUT/tests/detect_test" "$TSAN_OUT/faultloop" \
	"$TSAN_OUT/tests/daemon_race" "$RACE"; do
	[ -x "$b" ] || { echo "sanitize: build first ($b; make sanitize-test builds it)" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

ASAN_ENV=(
	"ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:log_path=$LOGS/asan"
	"UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87:log_path=$LOGS/ubsan"
	"LSAN_OPTIONS=exitcode=86"
)
TSAN_ENV=(
	"TSAN_OPTIONS=halt_on_error=1:exitcode=88:second_deadlock_stack=1:history_size=4:suppressions=$PWD/tests/sanitize/tsan.supp:log_path=$LOGS/tsan"
)

results=()
failed=0
# SAN_ONLY="unit bpf e2e metrics daemon": run only these stages
stage() {	# key name env-array-name command...
	local key=$1 name=$2 envname=$3 s rc
	shift 3
	if [ -n "${SAN_ONLY:-}" ] && [[ " $SAN_ONLY " != *" $key "* ]]; then
		return
	fi
	local -n envs=$envname
	echo
	echo "=== sanitize: $name"
	s=$(date +%s)
	(
		for e in "${envs[@]}"; do export "${e?}"; done
		"$@"
	)
	rc=$?
	results+=("$(printf '%-34s %s %4ss' "$name" "$([ $rc -eq 0 ] && echo ok || echo "FAIL (exit $rc)")" $(($(date +%s) - s)))")
	[ $rc -eq 0 ] || failed=$((failed + 1))
}

unit_tests() {
	local t rc=0
	for t in "$ASAN_OUT"/tests/test_*; do
		"$t" || rc=1
	done
	return $rc
}

daemon_race() {
	local port secs=20 rc
	port=$(free_port)
	# reports for the consumer: the race at threshold 2, all along
	"$RACE" -t $((secs + 5)) -w 4 -c sanrace >/dev/null &
	PIDS+=($!)
	"$TSAN_OUT/tests/daemon_race" "$port" "$secs" >"$LOGS/daemon_race.out" 2>"$LOGS/daemon_race.err"
	rc=$?
	wait "${PIDS[-1]}" 2>/dev/null
	grep -v '^libbpf' "$LOGS/daemon_race.err" | grep -E 'daemon_race|ThreadSanitizer' | tail -3
	n=$(grep -c '"event":"detected"' "$LOGS/daemon_race.out")
	echo "daemon_race: $n DETECTED reports consumed, exit $rc"
	return $rc
}

echo "# sanitize on $(uname -r); reports in $LOGS"
stage unit "ASan+UBSan unit tests" ASAN_ENV unit_tests
stage bpf "ASan+UBSan BPF detector tests" ASAN_ENV "$ASAN_OUT/tests/detect_test"
stage e2e "ASan+UBSan e2e (tests/e2e.sh)" ASAN_ENV env FL="$ASAN_OUT/faultloop" OUTPUT="$OUTPUT" tests/e2e.sh
stage metrics "TSan metrics (tests/metrics.sh)" TSAN_ENV env FL="$TSAN_OUT/faultloop" OUTPUT="$OUTPUT" \
	PORT="$(free_port)" tests/metrics.sh
stage daemon "TSan daemon race (re-arm, sweep, HTTP)" TSAN_ENV daemon_race

reports=$(find "$LOGS" -type f \( -name 'asan.*' -o -name 'ubsan.*' -o -name 'tsan.*' \) | sort)
echo
echo "=== sanitize: summary"
printf '%s\n' "${results[@]}"
if [ -n "$reports" ]; then
	echo
	for f in $reports; do
		echo "--- sanitizer report $f"
		head -60 "$f"
	done
	echo "sanitize: $(echo "$reports" | wc -l) sanitizer report(s): FAIL"
	exit 1
fi
echo "sanitize: no sanitizer report"
if [ $failed -ne 0 ]; then
	echo "sanitize: $failed stage(s) failed"
	exit 1
fi
rm -rf "$LOGS"
