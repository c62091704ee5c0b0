#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The operator's files in deploy/: alert rules checked and unit-tested with
# promtool, the dashboard's every metric name checked against a live
# scrape, the systemd unit verified, the Kubernetes manifests parsed and
# cross-checked.  Needs root (a live faultloop is scraped).
set -u
cd "$(dirname "$0")/.." || exit 1

FL=${FL:-./faultloop}
PORT=${PORT:-19677}
TMP=$(mktemp -d /tmp/faultloop-deploy.XXXXXX)
pass=0 fail=0
FLPID=""
trap '[ -n "$FLPID" ] && kill -KILL "$FLPID" 2>/dev/null; rm -rf "$TMP"' EXIT

ok() { pass=$((pass + 1)); printf 'ok   %s\n' "$1"; }
nok() { fail=$((fail + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }
run() { local name=$1; shift; if "$@" >"$TMP/out" 2>&1; then ok "$name"; else nok "$name" "$(tail -5 "$TMP/out")"; fi; }

run "promtool check rules" promtool check rules deploy/prometheus/faultloop-rules.yml
run "promtool test rules (5 alerts, firing and quiet cases)" \
	bash -c 'cd deploy/prometheus && promtool test rules faultloop-rules.test.yml'
run "promtool test rules: known-loop exposure (warning, info, quiet)" \
	bash -c 'cd deploy/prometheus && promtool test rules faultloop-exposure.test.yml'

# the dashboard against what faultloop really exports
"$FL" --metrics "127.0.0.1:$PORT" -d 30 >/dev/null 2>"$TMP/fl.err" &
FLPID=$!
for _ in $(seq 1 100); do grep -q 'metrics on' "$TMP/fl.err" && break; sleep 0.1; done
# --bpf-stats families are exported only with the flag: ask for them too
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/scrape.txt"
kill -TERM "$FLPID"; wait "$FLPID"; FLPID=""
"$FL" --metrics "127.0.0.1:$PORT" --bpf-stats -d 30 >/dev/null 2>"$TMP/fl.err" &
FLPID=$!
for _ in $(seq 1 100); do grep -q 'metrics on' "$TMP/fl.err" && break; sleep 0.1; done
curl -s "http://127.0.0.1:$PORT/metrics" >>"$TMP/scrape.txt"
kill -TERM "$FLPID"; wait "$FLPID"; FLPID=""
# the exposure test's input is what faultloop exports: this host's series
# (instance label aside) are among it
run "exposure rule test fed with this host's faultloop_known_bug_exposure" /usr/bin/python3 - \
	deploy/prometheus/faultloop-exposure.test.yml "$TMP/scrape.txt" <<'PY'
import re, sys, yaml
test = yaml.safe_load(open(sys.argv[1]))
fed = {re.sub(r'instance="[^"]*",', "", s["series"]) for t in test["tests"] for s in t["input_series"]}
got = {l.split()[0] for l in open(sys.argv[2]) if l.startswith("faultloop_known_bug_exposure{")}
assert got, "no faultloop_known_bug_exposure exported"
missing = sorted(got - fed)
assert not missing, f"exported but not in the test: {missing}"
print(f"{len(got)} series, all in the test")
PY
run "dashboard: valid JSON, every expression names an exported metric" \
	/usr/bin/python3 - deploy/grafana/faultloop-dashboard.json "$TMP/scrape.txt" <<'PY'
import json, re, sys
dash = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
exported = {l.split("{")[0].split(" ")[0] for l in lines if l.strip() and not l.startswith("#")}
exported |= {l.split()[2] for l in lines if l.startswith("# TYPE ")}  # families without samples yet
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
exprs += [v.get("query", "") for v in dash["templating"]["list"] if v.get("type") == "query"]
assert len(exprs) >= 10, exprs
used = set()
for e in exprs:
    used |= set(re.findall(r"\bfaultloop_[a-z0-9_]+", e))
missing = sorted(used - exported)
assert not missing, f"not exported: {missing}"
print(f"{len(exprs)} expressions, {len(used)} metric names, all exported")
PY
cat "$TMP/out"

# (the unit at run time, under a real systemd: tests/vm/systemd-test.sh)
sed "s|^ExecStart=/usr/sbin/faultloop|ExecStart=$(pwd)/faultloop|" deploy/systemd/faultloop.service >"$TMP/faultloop.service"
# Documentation=man:faultloop(8) must resolve: the page help2man makes
mkdir -p "$TMP/man/man8"
run "faultloop(8) from --help" man/help2man.sh "$FL" "$TMP/man/man8/faultloop.8"
run "systemd-analyze verify faultloop.service (man page included)" \
	env MANPATH="$TMP/man" systemd-analyze verify "$TMP/faultloop.service"
# the four it needs for the start (the unit's comment says why each; the
# daemon drops all but CAP_BPF once attached, tests/vm/systemd-test.sh)
run "systemd unit: least privilege" bash -c "grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYSLOG CAP_SYS_ADMIN' deploy/systemd/faultloop.service &&
	grep -qx 'AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYSLOG CAP_SYS_ADMIN' deploy/systemd/faultloop.service &&
	grep -qx 'NoNewPrivileges=yes' deploy/systemd/faultloop.service && grep -qx 'ProtectSystem=strict' deploy/systemd/faultloop.service"
# the flags the unit passes from /etc/default/faultloop must parse: the
# binary starts with them and stops at once (--probes would attach: -d 1)
run "/etc/default/faultloop: its FAULTLOOP_OPTS parse" bash -c \
	'. deploy/systemd/faultloop.default && [[ -n $FAULTLOOP_OPTS ]] && ./faultloop $FAULTLOOP_OPTS --metrics 127.0.0.1:'"$PORT"' -d 1 >/dev/null'

run "Kubernetes manifests parse and agree" /usr/bin/python3 - deploy/kubernetes/faultloop-daemonset.yaml <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
assert set(kinds) == {"DaemonSet", "Service", "ServiceMonitor"}, kinds.keys()
pod = kinds["DaemonSet"]["spec"]["template"]
c = pod["spec"]["containers"][0]
port = c["ports"][0]["containerPort"]
assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
assert f"0.0.0.0:{port}" in c["args"], c["args"]
caps = c["securityContext"]["capabilities"]
assert caps["drop"] == ["ALL"] and sorted(caps["add"]) == ["BPF", "PERFMON"], caps
assert c["securityContext"]["privileged"] is False
print("DaemonSet, Service, ServiceMonitor; port", port)
PY

echo
echo "deploy: $pass passed, $fail failed"
[ $fail -eq 0 ]
