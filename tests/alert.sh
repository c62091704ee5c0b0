#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The page that reaches a person, live: a real Prometheus (scrape and rule
# evaluation every second, the shipped deploy/prometheus/faultloop-rules.yml)
# and a real Alertmanager (its default route timing: group_wait 30s) routing
# to a webhook receiver, all on random loopback ports with their data in a
# temporary directory, started here (never as system services) and killed by
# PID at the end.  A freshly started faultloop, scraped once, then the first
# loop (tools/uffd-loop: the userfaultfd + pending-signal busy loop, 8 s):
# FaultloopLoopDetected must reach the receiver within 60 s of the loop's
# start, with the loop's known bug as its label.  Prints the delay.
# Needs root.  RULES=file checks another rule file (the old one: no page).
set -u
cd "$(dirname "$0")/.." || exit 1

OUTPUT=${OUTPUT:-.output/$(uname -m | sed 's/aarch64/arm64/')}
FL=${FL:-./faultloop}
UFFD=${UFFD:-$OUTPUT/uffd-loop}
RULES=$(realpath "${RULES:-deploy/prometheus/faultloop-rules.yml}")
LIMIT=60
TMP=$(mktemp -d /tmp/faultloop-alert.XXXXXX)
# shellcheck source=tests/lib.sh
. tests/lib.sh
trap 'kill_pids; rm -rf "$TMP"' EXIT
require_root alert
for b in "$FL" "$UFFD" prometheus prometheus-alertmanager promtool; do
	command -v "$b" >/dev/null || { echo "alert: $b missing (make test-deps; make)" >&2; exit 1; }
done

# the rules themselves first: valid, and their unit tests (series as
# faultloop exports them) pass
run() { local name=$1; shift; if "$@" >"$TMP/out" 2>&1; then ok "$name"; else nok "$name" "$(tail -5 "$TMP/out")"; fi; }
run "promtool check rules $(basename "$RULES")" promtool check rules "$RULES"
run "promtool test rules faultloop-rules.test.yml" \
	bash -c 'cd deploy/prometheus && promtool test rules faultloop-rules.test.yml'

# four free loopback ports (bound once by the kernel's choice, then released)
read -r FL_PORT PROM_PORT AM_PORT HOOK_PORT < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
)

# the receiver: every POST as one JSON line with the time it arrived
cat >"$TMP/hook.py" <<'PY'
import http.server, json, sys, time
out = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        out.write(json.dumps({"t": time.time(), "body": json.loads(body)}) + "\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$TMP/hook.py" "$HOOK_PORT" "$TMP/hook.jsonl" 2>"$TMP/hook.err" &
PIDS+=($!)

cat >"$TMP/am.yml" <<YML
route:
  receiver: person
  group_by: [alertname, instance, bug]
receivers:
  - name: person
    webhook_configs:
      - url: http://127.0.0.1:$HOOK_PORT/
YML
prometheus-alertmanager --config.file="$TMP/am.yml" --storage.path="$TMP/am" \
	--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
	>"$TMP/am.log" 2>&1 &
PIDS+=($!)

start_prometheus "$FL_PORT" "$PROM_PORT" "$TMP/prom" <<YML
rule_files: ['$RULES']
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$AM_PORT']
YML
ready() { curl -sf "$1" >/dev/null; }
waitfor() {	# seconds command...
	local n=$(($1 * 10)); shift
	for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
check "Alertmanager ready on 127.0.0.1:$AM_PORT" waitfor 30 ready "http://127.0.0.1:$AM_PORT/-/ready"
check "Prometheus ready on 127.0.0.1:$PROM_PORT" waitfor 30 ready "http://127.0.0.1:$PROM_PORT/-/ready"
check "webhook receiver on 127.0.0.1:$HOOK_PORT" waitfor 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HOOK_PORT" 2>/dev/null

start_fl "$TMP/fl.json" "$TMP/fl.err" --json --metrics "127.0.0.1:$FL_PORT"
check "faultloop attached, metrics on 127.0.0.1:$FL_PORT" kill -0 "$FLPID"
scraped() { [ "$(prom_query "up{job=\"faultloop\"}")" = 1 ]; }
check "Prometheus scraped the fresh faultloop" waitfor 20 scraped
nrules=$(curl -s "$PROM_URL/api/v1/rules" |
	python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
check "Prometheus loaded the rules ($nrules from $RULES)" test "${nrules:-0}" -gt 0

# what the rule stands on: every bug's series scraped at 0 before any loop,
# and the start time of a faultloop just started
nzero=$(prom_query 'count(faultloop_loops_by_bug_total == 0)')
nall=$(prom_query 'count(faultloop_loops_by_bug_total)')
check "before the loop Prometheus holds every bug's series at 0 (${nzero:-0} of ${nall:-0})" \
	test "${nall:-0}" -ge 2 -a "${nzero:-0}" = "${nall:-0}"
age=$(prom_query 'time() - faultloop_start_time_seconds')
check "faultloop_start_time_seconds: started ${age%.*} s ago" \
	python3 -c "import sys; sys.exit(0 if 0 <= float('${age:--1}') < 60 else 1)"

# the first loop: a real live-lock spins until someone intervenes; 8 s
# (not stall.sh's 3) so that the loop gets its second of CPU that the stall
# sampler needs even when the shared 2-core host is loaded (at load 8 a 3 s
# loop got 790 ms of system time, twice, and went unreported: the sampler
# wants a quarter of the stall on a CPU, bpf/stall.bpf.h)
"$UFFD" -d write -t 8 -c flalert >"$TMP/uffd.out"
sig_ns=$(awk '/^signal_realtime_ns/{print $2}' "$TMP/uffd.out")
tid=$(awk '/^tid/{print $2}' "$TMP/uffd.out")
bug=$(python3 - "$TMP/fl.json" "$tid" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l) if l.strip() else None
    if r and r.get("tid") == int(sys.argv[2]) and r.get("event") == "detected":
        print((r.get("known_bug") or {}).get("id", "none"))
        break
PY
)
if [ -n "$bug" ]; then
	ok "faultloop DETECTED the loop (tid $tid, known bug $bug)"
else
	nok "faultloop DETECTED the loop (tid $tid)" "uffd-loop: $(tr '\n' ' ' <"$TMP/uffd.out")" \
		"faultloop: $(tail -3 "$TMP/fl.err" | tr '\n' ' ') $(head -c 300 "$TMP/fl.json")"
fi

# the page: the receiver's first firing FaultloopLoopDetected for this faultloop
paged() {
	python3 - "$TMP/hook.jsonl" "127.0.0.1:$FL_PORT" "$sig_ns" >"$TMP/page" 2>/dev/null <<'PY'
import json, sys
path, inst, sig = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1e9
for l in open(path):
    m = json.loads(l)
    for a in m["body"]["alerts"]:
        lb = a["labels"]
        if a["status"] == "firing" and lb.get("alertname") == "FaultloopLoopDetected" and lb.get("instance") == inst:
            print("%.1f %s %s" % (m["t"] - sig, lb.get("bug", "-"), json.dumps(a["annotations"]["description"])))
            sys.exit(0)
sys.exit(1)
PY
}
deadline=$((sig_ns / 1000000000 + LIMIT + 5))
while [ "$(date +%s)" -le "$deadline" ] && ! paged; do sleep 0.5; done
if paged; then
	read -r delay pbug desc <"$TMP/page"
	echo "# alert delay: ${delay} s from the loop's start (signal) to the receiver (FaultloopLoopDetected, bug $pbug)"
	check "paged within $LIMIT s of the loop's start (${delay} s)" \
		python3 -c "import sys; sys.exit(0 if 0 < $delay <= $LIMIT else 1)"
	check "the page names the loop's known bug ($pbug = ${bug:-?})" test "$pbug" = "$bug"
	check "its description names the looping comm" grep -q 'flalert in ' <<<"$desc"
else
	nok "FaultloopLoopDetected reached the receiver within $LIMIT s" \
		"receiver got: $(head -c 400 "$TMP/hook.jsonl" 2>/dev/null)" \
		"Prometheus: faultloop_loops_by_bug_total=$(prom_query 'sum(faultloop_loops_by_bug_total)')" \
		"ALERTS: $(prom_query 'count(ALERTS{alertname="FaultloopLoopDetected"})')"
fi
kill -TERM "$FLPID"; wait "$FLPID"
check "faultloop exit 0 on SIGTERM" test $? -eq 0

summary alert
