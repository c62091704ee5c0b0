#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Crash and restart, on the live kernel (root).  faultloop pins nothing:
# every program, map and link it creates lives as long as its descriptors,
# so SIGKILL (no handler, no detach) must leave none of them, checked by
# the ids it held (tests/bpf_ids.py, from /proc/PID/fdinfo), not by
# counting the whole system.  A new instance must serve metrics on the
# same port at once (libmicrohttpd sets SO_REUSEADDR: the killed one's
# connections in TIME_WAIT do not hold the port).
#
# Two instances: each loads its own programs and maps, so two can run
# side by side (with --metrics off or on different ports: both work, each
# sees every event).  On the same port the second gets one line naming the
# address, its exit summary, and exit status 1, and leaves nothing behind;
# the first keeps serving.
set -u

OUTPUT=${OUTPUT:-.output/$(uname -m | sed 's/aarch64/arm64/')}
FL=${FL:-./faultloop}
RACE=${RACE:-$OUTPUT/race}
TMP=$(mktemp -d /tmp/faultloop-crash.XXXXXX)
IDS="python3 $(dirname "$0")/bpf_ids.py"
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
trap 'kill_pids; rm -rf "$TMP"' EXIT
require_root crash
for b in "$FL" "$RACE"; do [ -x "$b" ] || { echo "crash: build first ($b)" >&2; exit 1; }; done

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/metrics
echo "# faultloop crash and restart on $(uname -r), port $PORT"

scrape() { curl -s -m 10 -o "$1" -w '%{http_code}' "$URL"; }
held() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join("%d %ss" % (len(d[k]), k) for k in ("prog","map","link")) if all(d.values()) else "")' "$1"; }
now_ms() { date +%s%3N; }

# --- 1. SIGKILL in the middle of things ---------------------------------------------
start_fl "$TMP/a.out" "$TMP/a.err" -t 2 -D 0 --json --metrics "127.0.0.1:$PORT"
A=$FLPID
"$RACE" -t 30 -w 4 -c crashrace >/dev/null &
R=$!
PIDS+=("$R")
for _ in 1 2 3 4 5; do scrape "$TMP/m0.txt" >/dev/null; done
# a scraper mid-request and another connection open when the kill comes
python3 - "$PORT" >/dev/null 2>&1 <<'PY' &
import socket, sys, time
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
a.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
b = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)
PY
PIDS+=($!)
# a busy host may keep the race's threads apart for a while: up to 30 s
for _ in $(seq 1 150); do grep -q '"event":"detected"' "$TMP/a.out" && break; sleep 0.2; done
$IDS owned "$A" >"$TMP/a.ids"
h=$(held "$TMP/a.ids")
if [ -n "$h" ] && grep -q '"event":"detected"' "$TMP/a.out"; then
	ok "running: holds $h, a loop detected, metrics served"
else
	nok "running instance holds programs, maps and links and detects" "$(cat "$TMP/a.ids")"
fi
t0=$(now_ms)
kill -KILL "$A"
wait "$A" 2>/dev/null
kill "$R" 2>/dev/null	# the workload is no part of the restart's time

# --- 2. a new instance serves on the same port at once ------------------------------
t1=$(now_ms)
start_fl "$TMP/b.out" "$TMP/b.err" --metrics "127.0.0.1:$PORT"
B=$FLPID
code=$(scrape "$TMP/m1.txt")
t2=$(now_ms)
# a fresh counter (this scrape counts itself): not the killed one, which had 5
if [ "$code" = 200 ] && grep -qE '^faultloop_scrapes_total\{result="ok"\} [01]$' "$TMP/m1.txt" &&
	! grep -q 'cannot serve' "$TMP/b.err"; then
	ok "restarted at once on port $PORT: started $((t1 - t0)) ms after the SIGKILL, served its first scrape $((t2 - t1)) ms later (its start-up: probe selection)"
else
	nok "restart serves on the same port" "HTTP $code; $(grep -v '^libbpf' "$TMP/b.err" | head -3)" \
		"$(grep scrapes_total "$TMP/m1.txt")"
fi

# --- 3. nothing of the killed instance is left --------------------------------------
left=$($IDS gone "$TMP/a.ids" 2>&1)
if [ $? -eq 0 ]; then
	ok "SIGKILL: none of the $h it held is left"
else
	nok "SIGKILL leaves nothing" "of the $h it held, still there after 20 s: $left"
fi

# --- 4. a second instance on the same port ------------------------------------------
"$FL" --metrics "127.0.0.1:$PORT" -d 10s >"$TMP/c.out" 2>"$TMP/c.err" &
C=$!
PIDS+=("$C")
$IDS watch "$C" >"$TMP/c.ids" &
W=$!
wait "$C"
rc=$?
wait "$W"
# the port is bound before anything loads: one line, and not one program,
# map or link of its own ever exists
if [ $rc -eq 1 ] && grep -q "^faultloop: cannot serve metrics on 127.0.0.1:$PORT: Address already in use" "$TMP/c.err" &&
	[ "$(grep -vc '^libbpf' "$TMP/c.err")" -eq 1 ]; then
	ok "second instance on the same port: exit 1, one line naming it ($(head -1 "$TMP/c.err" | cut -c1-60)...)"
else
	nok "second instance on the same port: exit 1 and one line" "rc=$rc; $(cat "$TMP/c.err")"
fi
h=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join("%d %ss" % (len(d[k]), k) for k in ("prog","map","link") if d[k]))' "$TMP/c.ids")
if [ -z "$h" ]; then
	ok "... it loaded nothing (no program, map or link seen while it ran)"
else
	nok "second instance loads nothing" "seen while it ran: $h"
fi
code=$(scrape "$TMP/m2.txt")
if kill -0 "$B" && [ "$code" = 200 ] && grep -qE '^faultloop_scrapes_total\{result="ok"\} [1-9]' "$TMP/m2.txt"; then
	ok "the first instance still serves (pid $B)"
else
	nok "the first instance still serves" "HTTP $code"
fi

# --- 5. side by side: another port, or no metrics ------------------------------------
P2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for args in "--metrics off" "--metrics 127.0.0.1:$P2"; do
	# shellcheck disable=SC2086
	"$FL" $args -t 2 -D 0 --json >"$TMP/d.out" 2>"$TMP/d.err" &
	D=$!
	PIDS+=("$D")
	wait_attached "$TMP/d.err"
	# the race until this instance reports it (20 s at most: a busy host
	# may keep its writer and dropper apart for a while)
	"$RACE" -t 20 -c sidebyside >/dev/null &
	R=$!
	PIDS+=("$R")
	for _ in $(seq 1 100); do grep -q '"comm":"sidebyside"' "$TMP/d.out" && break; sleep 0.2; done
	kill "$R" 2>/dev/null
	wait "$R" 2>/dev/null
	kill -TERM "$D"
	wait "$D"
	rc=$?
	n=$(grep -c '"comm":"sidebyside"' "$TMP/d.out")
	if [ $rc -eq 0 ] && [ "$n" -ge 1 ] && kill -0 "$B"; then
		ok "second instance with $args alongside: exit 0, $n reports of its own"
	else
		nok "second instance with $args alongside" "rc=$rc reports=$n $(grep -v '^libbpf' "$TMP/d.err" | head -3)"
	fi
done

kill -TERM "$B"
wait "$B"
check "first instance: exit 0 on SIGTERM" test $? -eq 0
summary crash
