#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# One exit status per kind of failure (README, Flags): every usage error
# exits 2, argp's own (unknown flag, missing value, a value given to a
# flag that takes none, an ambiguous abbreviation) as well as faultloop's
# (a bad value, a stray argument), with a message on stderr and nothing
# on stdout, before anything is attached; a failure at run time exits 1
# with one line; --help, --usage and --version exit 0.  Needs root (the
# run-time cases get as far as attaching).
set -u

OUTPUT=${OUTPUT:-.output/$(uname -m | sed 's/aarch64/arm64/')}
FL=${FL:-./faultloop}
TMP=$(mktemp -d /tmp/faultloop-exit.XXXXXX)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
trap 'kill_pids; rm -rf "$TMP"' EXIT
require_root exit
[ -x "$FL" ] || { echo "exit: build first ($FL)" >&2; exit 1; }

echo "# faultloop exit statuses on $(uname -r)"

# expect STATUS LINES ARGS...: LINES is the stderr line count wanted
# ("1", or "+" for at least one); stdout must stay empty unless STATUS is 0
expect() {
	local want=$1 lines=$2 rc n
	shift 2
	timeout 60 "$FL" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
	n=$(grep -vc '^libbpf' "$TMP/err")
	if [ "$rc" -ne "$want" ]; then
		nok "exit $want: faultloop $*" "got $rc; stderr: $(head -3 "$TMP/err")"
	elif [ "$lines" = 1 ] && [ "$n" -ne 1 ]; then
		nok "exit $want with one line: faultloop $*" "$n lines: $(head -5 "$TMP/err")"
	elif [ "$lines" = + ] && [ "$n" -lt 1 ]; then
		nok "exit $want with a message: faultloop $*" "stderr empty"
	elif [ "$want" -ne 0 ] && [ -s "$TMP/out" ]; then
		nok "exit $want, nothing on stdout: faultloop $*" "stdout: $(head -3 "$TMP/out")"
	else
		ok "exit $rc: faultloop $* ($(grep -v '^libbpf' "$TMP/err" | head -1 | cut -c1-90))"
	fi
}

# --- argp's own usage errors: 2 (its default, 64, is overridden) -----------------
expect 2 + --no-such-flag
expect 2 + -x
expect 2 + --threshold			# missing value, long
expect 2 + -t				# missing value, short
expect 2 + --metrics
expect 2 + --json=1			# a value for a flag that takes none
expect 2 + --probes=yes
expect 2 + --m 5			# ambiguous: --min-duration --metrics --mode --max-tasks
expect 2 + -t 5 --no-such-flag		# after good flags
expect 2 + --version=1

# --- faultloop's own: a bad value or a stray argument, one line ------------------
for a in 0 -1 abc '' 4294967296 1073741824 ' 7' 0x10; do expect 2 1 --pid "$a"; done
for a in 0 -3 1000000001 12abc 1e3 99999999999999999999999; do expect 2 1 --threshold "$a"; done
for a in 2h 1x -1s 1.5s 3601s ''; do expect 2 1 --min-duration "$a"; done
for a in 0 10us 5parsecs 2h; do expect 2 1 --gap "$a"; done
for a in 5ms 9ms 0; do expect 2 1 --interval "$a"; done
for a in 0 1.5 -1 366d 32000000s; do expect 2 1 --duration "$a"; done
for a in 100ms OFF 0 ''; do expect 2 1 --stall "$a"; done
# 65536 tasks: two preallocated episode hashes of ~36 MB each (552 bytes an
# entry, bytes_memlock); 1<<22 took ~2.3 GB each
for a in 0 65537 4194304 -5; do expect 2 1 --max-tasks "$a"; done
# a pid above PID_MAX_LIMIT (4194304) cannot exist on any kernel: usage
for a in 4194305 1073741823; do expect 2 1 --pid "$a"; done
for a in uprobe '' AUTO; do expect 2 1 --mode "$a"; done
for a in '' 0 70000 host:80 '[::1]' '[::1:80' 1.2.3.4.5:80 '::1:80'; do expect 2 1 --metrics "$a"; done
expect 2 1 --cgroup ''
expect 2 1 stray
expect 2 1 -- --json
expect 2 1 -t 5 -v --gap 0		# after good flags
expect 2 1 -t=5				# short flags take no '='
# usage comes first: a bad flag without privileges is still a usage error
if command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$FL" --threshold 0 >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -eq 2 ]; then ok "exit 2 without privileges too: a usage error is found first"; else nok "usage before privileges" "got $rc: $(cat "$TMP/err")"; fi
fi

# --- success -------------------------------------------------------------------
expect 0 0 --help
expect 0 0 -h
expect 0 0 --usage
expect 0 0 '-?'
expect 0 0 --version

# --- run-time failures: 1, one line ----------------------------------------------
if command -v setpriv >/dev/null; then
	for args in "-d 5s" "--probes"; do
		# shellcheck disable=SC2086
		setpriv --reuid=65534 --regid=65534 --clear-groups "$FL" $args >"$TMP/out" 2>"$TMP/err"
		rc=$?
		if [ $rc -eq 1 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ]; then
			ok "exit 1 without privileges: faultloop $args ($(cat "$TMP/err"))"
		else
			nok "exit 1 without privileges: faultloop $args" "got $rc: $(head -3 "$TMP/err")"
		fi
	done
fi
expect 1 1 --metrics off -d 5s --cgroup /definitely/not/a/cgroup
expect 1 1 --metrics off -d 5s --cgroup /etc/passwd
# above this host's kernel.pid_max (but within PID_MAX_LIMIT): run time
pid_max=$(cat /proc/sys/kernel/pid_max)
if [ "$pid_max" -lt 4194304 ]; then
	expect 1 1 --metrics off -d 5s --pid $((pid_max + 1))
	grep -q "pid_max" "$TMP/err" || nok "--pid above pid_max names kernel.pid_max" "$(cat "$TMP/err")"
else
	skip "--pid above this host's pid_max" "kernel.pid_max is $pid_max, the absolute maximum"
fi
# "/" is the cgroup root, not the filesystem's (whose fd is no cgroup)
expect 0 + --metrics off -d 1s --cgroup /
expect 1 1 --metrics off -d 5s --cgroup not-here/either
# a port someone else holds
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); open(sys.argv[2], "w").close(); time.sleep(60)' "$port" "$TMP/held" &
PIDS+=($!)
# bound and listening before faultloop tries (python starts slowly on a busy host)
for _ in $(seq 1 100); do [ -e "$TMP/held" ] && break; sleep 0.1; done
# the port is bound before anything is loaded: one line that names the
# address and the reason, no banner, no summary (nothing ran)
expect 1 1 --metrics "127.0.0.1:$port" -d 5s
if grep -q "^faultloop: cannot serve metrics on 127.0.0.1:$port: Address already in use" "$TMP/err" &&
	[ "$(wc -l <"$TMP/err")" -eq 1 ]; then
	ok "port in use: one line names the address and the reason, nothing else"
else
	nok "port in use: one line names the address and the reason, nothing else" "$(cat "$TMP/err")"
fi

# --json: an error is one object on stdout, {"error": MESSAGE} (bpftool's
# shape), and nothing of faultloop's on stderr: argp's and getopt's usage
# errors, our own value checks and run-time failures alike
expect_json() {
	local want=$1 rc
	shift
	timeout 60 "$FL" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
	if [ "$rc" -eq "$want" ] && [ "$(wc -l <"$TMP/out")" -eq 1 ] &&
		python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert list(d) == ["error"] and d["error"].strip(); print(d["error"])' "$TMP/out" >"$TMP/msg" 2>/dev/null &&
		! grep -v '^libbpf' "$TMP/err" | grep -q .; then
		ok "--json, exit $want: faultloop $* -> $(cut -c1-70 "$TMP/msg")"
	else
		nok "--json, exit $want: faultloop $*" "rc=$rc stdout: $(head -2 "$TMP/out") stderr: $(head -2 "$TMP/err")"
	fi
}
expect_json 2 --json --threshold 0
expect_json 2 --threshold 0 --json
expect_json 2 -j --no-such-flag
expect_json 2 --json --threshold
expect_json 2 --json stray-argument
expect_json 2 -t 5 -j --gap 0		# after good flags, -j among them
expect_json 1 --json --metrics off -d 5s --cgroup /definitely/not/a/cgroup
expect_json 1 --json --metrics "127.0.0.1:$port" -d 5s
kill "${PIDS[-1]}" 2>/dev/null

# SIGTERM during start-up (here: while the final object loads) stops it
# there: exit 0 at once, "stopped during start-up", no banner, and no link
# ever held.  The signal is made to land inside the load: faultloop is
# stopped (SIGSTOP) when -v says the load begins, signalled, continued.
python3 - "$FL" "$(dirname "$0")" >"$TMP/startup.txt" 2>&1 <<'PY'
import os, signal, subprocess, sys, threading, time
sys.path.insert(0, sys.argv[2])
from bpf_ids import owned
p = subprocess.Popen([sys.argv[1], "-v", "--metrics", "off"], stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE)
links = set()
def watch():
    while p.poll() is None:
        links.update(owned(p.pid)["link"])
        time.sleep(0.005)
threading.Thread(target=watch, daemon=True).start()
err = b""
for line in p.stderr:
    err += line
    if b"kernel HZ" in line:        # printed as the final load begins
        os.kill(p.pid, signal.SIGSTOP)
        os.kill(p.pid, signal.SIGTERM)
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGCONT)
        break
else:
    sys.exit("no 'kernel HZ' line: %r" % err[-300:])
err += p.stderr.read()
rc = p.wait()
ms = (time.monotonic() - t0) * 1000
text = err.decode()
bad = []
if rc != 0: bad.append("rc=%d" % rc)
if "stopped during start-up" not in text: bad.append("no 'stopped during start-up'")
if "probes attached" in text or "start-up: attach" in text: bad.append("went on to attach")
if links: bad.append("held links %s" % sorted(links))
print(("ok: exit 0 %.0f ms after SIGTERM, no link ever held" % ms) if not bad else "; ".join(bad) + " | " + text[-400:].replace("\n", " / "))
sys.exit(1 if bad else 0)
PY
if [ $? -eq 0 ]; then ok "SIGTERM during start-up: $(cut -c5- "$TMP/startup.txt")"; else nok "SIGTERM during start-up stops it" "$(cat "$TMP/startup.txt")"; fi

summary exit
