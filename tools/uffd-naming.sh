#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# uffd-naming.sh: how often the userfaultfd + signal loop (tools/uffd-loop)
# is DETECTED on this host with its known bug named, and on what evidence:
# faultloop at default settings (or FAULTLOOP_ARGS), one loop per run, as
# root.  BENCHMARKS.md, "Naming the userfaultfd loop", was measured with it.
#
#   tools/uffd-naming.sh [-n RUNS] [-d write|read] [-b] [-f FAULTLOOP]
#     -b  two busy shells on the CPUs meanwhile (the loop gets preempted
#         and moves CPU, as on a loaded host)
#
# One line per run (bug, whether the report's stack has handle_userfault,
# its address, its signals), then
#   uffd-naming: N runs: A named, B unnamed, C undetected; S stacks without
#   handle_userfault; Z without a fault address
# Exit status 0 when every run was DETECTED and named, else 1.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10 dir=write busy=0 fl=.output/x86_64/faultloop
while getopts "n:d:bf:" o; do
	case $o in
		n) runs=$OPTARG ;;
		d) dir=$OPTARG ;;
		b) busy=1 ;;
		f) fl=$OPTARG ;;
		*) sed -n '10,12p' "$0" >&2; exit 2 ;;
	esac
done
uffd=.output/x86_64/uffd-loop
if [ ! -x "$fl" ] || [ ! -x "$uffd" ]; then echo "uffd-naming: build first (make)" >&2; exit 2; fi
[ "$(id -u)" = 0 ] || { echo "uffd-naming: needs root" >&2; exit 2; }
tmp=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
if ((busy)); then
	for _ in 1 2; do sh -c 'while :; do :; done' & pids+=($!); done
fi

named=0 unnamed=0 undetected=0 nostack=0 noaddr=0
for i in $(seq "$runs"); do
	# shellcheck disable=SC2086
	"$fl" --json --metrics off ${FAULTLOOP_ARGS:-} >"$tmp/r.json" 2>"$tmp/r.err" &
	flp=$!
	for _ in $(seq 100); do grep -q ' attached' "$tmp/r.err" && break; sleep 0.1; done
	"$uffd" -d "$dir" -t 3 -c "uffd$dir" >"$tmp/u.out"
	sleep 0.3
	kill -TERM "$flp"; wait "$flp" || true
	tid=$(awk '/^tid/{print $2}' "$tmp/u.out")
	line=$(python3 - "$tmp/r.json" "$tid" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l) if l.strip() else {}
    if r.get("tid") == int(sys.argv[2]) and r.get("event") == "detected":
        bug = (r.get("known_bug") or {}).get("id") or "none"
        uf = any("handle_userfault" in f for f in r["stack"])
        print(bug, "stack:handle_userfault" if uf else "stack:other", r["addr"],
              ",".join(r["signals"]))
        break
else:
    print("undetected")
PY
)
	echo "run $i: $line"
	case $line in
		undetected) undetected=$((undetected + 1)) ;;
		uffd-signal-busy-loop*) named=$((named + 1)) ;;
		*) unnamed=$((unnamed + 1)) ;;
	esac
	case $line in *stack:other*) nostack=$((nostack + 1)) ;; esac
	case $line in *" 0x0 "*) noaddr=$((noaddr + 1)) ;; esac
done
echo "uffd-naming: $runs runs ($dir$( ((busy)) && echo ', busy')): $named named, $unnamed unnamed," \
	"$undetected undetected; $nostack stacks without handle_userfault; $noaddr without a fault address"
[ "$named" = "$runs" ]
