#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# loops-repeat.sh: the userfaultfd scenarios of tests/vm/loops.sh many times
# in one boot and across boots, with faultloop as given or without it, to
# measure how often a guest kernel crashes, locks up or stalls (the scanner
# of tools/lib.sh, through run-vm.sh's status 123) and with what stack.
# One guest at a time.
#
#   tools/vm/loops-repeat.sh [--suite bookworm] [--arch amd64] [--boots 5]
#       [--repeat 10] [--only 'uffd-write uffd-read'] [--tcg multi|single]
#       [--smp 2] [--tag NAME] [--append 'kernel args'] [--modules 'btrfs']
#       [-- FAULTLOOP-ARGS... | -- none]
# --only attach: faultloop started and stopped with no workload (loops.sh).
# Every run starts its own faultloop (LOOPS_RESTART=1), unless --shared:
# all runs in one faultloop, as `make test` runs them.
#
# FAULTLOOP-ARGS are added to `faultloop --json --metrics off` for every
# run (default: none added, faultloop's defaults); "none" runs the
# workload without faultloop (the control).  Per boot one line; at the end
#   loops-repeat TAG: B boots, R of R' runs done, W boots wedged
# and the trouble lines of each wedged boot; logs in
# .output/vm-logs/loops-repeat-TAG-BOOT.log.  Exit status 0 if no boot
# wedged and every run was DETECTED (when faultloop ran), else 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROG=loops-repeat
# shellcheck source=tools/lib.sh
. tools/lib.sh

suite=bookworm arch=amd64 boots=5 repeat=10 only="uffd-write uffd-read" tcg=multi smp=2 tag="" append="" modules="" restart=1
while [[ $# -gt 0 ]]; do
	case $1 in
		--) shift; break ;;
		--shared) restart=0; shift ;;
		--suite|--arch|--boots|--repeat|--only|--tcg|--smp|--tag|--append|--modules)
			[[ $# -ge 2 ]] || die "$1 needs a value"
			declare "${1#--}=$2"
			shift 2 ;;
		*) die "unknown argument '$1' (see the header of $0)" ;;
	esac
done
fl_args="$*"
known_suite "$suite" || die "unknown suite '$suite'"
[[ $boots =~ ^[1-9][0-9]*$ && $repeat =~ ^[1-9][0-9]*$ ]] || die "--boots and --repeat take positive numbers"
tag=${tag:-$suite-$arch-${fl_args:-default}}
tag=${tag// /_}

case $arch in
	amd64) out=.output/x86_64-static; mk=(STATIC=1) ;;
	arm64) out=.output/arm64-static; mk=(ARCH=arm64 STATIC=1) ;;
	*) die "unknown arch '$arch'" ;;
esac
make -s "${mk[@]}" "$out/faultloop" "$out/uffd-loop" >/dev/null || die "make ${mk[*]} failed"

work=$(mktemp -d /tmp/faultloop-loops-repeat.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/payload" .output/vm-logs
cp "$out/faultloop" "$out/uffd-loop" tests/vm/loops.sh "$work/payload/"
cat >"$work/payload/run.sh" <<GUEST
#!/bin/sh
cd /payload
LOOPS_REPEAT=$repeat LOOPS_RESTART=$restart LOOPS_ONLY='$only' LOOPS_FL='$fl_args' sh ./loops.sh /payload
GUEST
chmod +x "$work/payload/run.sh"

# each run: up to ~15 s under TCG (attach, 3.3 s of the loop, detach)
timeout=$((120 + repeat * 2 * 30))
done_runs=0 want_runs=0 wedged=0 t0=$EPOCHSECONDS
for ((b = 1; b <= boots; b++)); do
	log=.output/vm-logs/loops-repeat-$tag-$b.log
	rc=0
	tools/vm/run-vm.sh --suite "$suite" --arch "$arch" --payload "$work/payload" --tcg "$tcg" \
		--smp "$smp" --timeout "$timeout" --log "$log" ${append:+--append "$append"} ${modules:+--modules "$modules"} \
		>/dev/null 2>"$work/err" || rc=$?
	runs=$(tr -d '\r' <"$log" | grep -c '^LOOPS-END ' || true)
	want=$((repeat * $(wc -w <<<"$only")))
	done_runs=$((done_runs + runs)) want_runs=$((want_runs + want))
	verdict=$(cd tests/vm && python3 - "$OLDPWD/$log" "$fl_args" <<'PY'
import sys
from check_loops import check_loops
from console import payload_text
text = payload_text(sys.argv[1])
lines = []
check_loops(text, lambda good, what: lines.append(("ok " if good else "FAIL ") + what.split("\n")[0]))
# without faultloop nothing can be DETECTED: only what ran counts
print("; ".join(lines) if sys.argv[2] != "none" else "control")
PY
	)
	boot_line "$b" "$rc" "$work/err" "$runs/$want runs; $verdict" || wedged=$((wedged + 1))
done
echo "loops-repeat $tag: $boots boots, $done_runs of $want_runs runs done, $wedged boots wedged ($((EPOCHSECONDS - t0))s; logs .output/vm-logs/loops-repeat-$tag-*.log)"
((wedged == 0 && done_runs == want_runs))
