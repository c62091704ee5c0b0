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
run "promtool test rules (8 alerts, firing and quiet cases)" \
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
import json, os, re, sys, yaml
path = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
kinds = {d["kind"]: d for d in docs}
assert set(kinds) == {"Namespace", "ServiceAccount", "ResourceQuota", "DaemonSet", "Service",
                      "ServiceMonitor"}, kinds.keys()
ns = kinds["Namespace"]["metadata"]["name"]
assert ns != "kube-system" and all(d["metadata"].get("namespace", ns) == ns for d in docs)
assert kinds["ServiceAccount"]["automountServiceAccountToken"] is False
ds = kinds["DaemonSet"]["spec"]
pod = ds["template"]
spec = pod["spec"]
assert spec["serviceAccountName"] == kinds["ServiceAccount"]["metadata"]["name"]
assert spec["automountServiceAccountToken"] is False and spec["hostPID"] is True
assert spec["priorityClassName"] in kinds["ResourceQuota"]["spec"]["scopeSelector"]["matchExpressions"][0]["values"]
# one node at a time, the old pod gone first: never two on a node
assert ds["updateStrategy"]["rollingUpdate"]["maxSurge"] == 0, ds["updateStrategy"]
(c,) = spec["containers"]
port = c["ports"][0]["containerPort"]
assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
assert f"0.0.0.0:{port}" in c["args"], c["args"]
sc = c["securityContext"]
assert sc["privileged"] is False and sc["readOnlyRootFilesystem"] is True
assert sc["allowPrivilegeEscalation"] is False
# the API refuses allowPrivilegeEscalation false next to "CAP_SYS_ADMIN"
# spelled with its prefix (ValidateSecurityContext): capabilities unprefixed
assert not any(a.startswith("CAP_") for a in sc["capabilities"]["add"]), sc["capabilities"]
assert sc["capabilities"]["drop"] == ["ALL"]
prof = sc["seccompProfile"]
assert prof["type"] == "Localhost", prof
seccomp = json.load(open(os.path.join(os.path.dirname(path), prof["localhostProfile"])))
allowed = {n for r in seccomp["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
           for n in r["names"]}
assert seccomp["defaultAction"] in ("SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS")
assert {"bpf", "perf_event_open", "read", "mmap", "epoll_wait"} <= allowed
# what CAP_SYS_ADMIN and CAP_SYSLOG would open under RuntimeDefault stays shut
shut = {"mount", "umount2", "setns", "unshare", "pivot_root", "syslog", "ptrace", "fsopen",
        "fsmount", "open_tree", "move_mount", "kexec_load", "init_module", "finit_module", "clone3"}
assert not shut & allowed, shut & allowed
assert not any("includes" in r or "excludes" in r for r in seccomp["syscalls"]), "not OCI form"
(sys_mount,) = c["volumeMounts"]
assert sys_mount["mountPath"] == "/sys" and sys_mount["readOnly"] is True
assert sys_mount["recursiveReadOnly"] in ("Enabled", "IfPossible")
units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
mem = lambda v: int(v[:-2]) * units[v[-2:]]
assert mem(c["resources"]["requests"]["memory"]) < mem(c["resources"]["limits"]["memory"])
assert c["startupProbe"]["httpGet"]["port"] == "metrics" and c["livenessProbe"]
# the image make image builds: faultloop:<debian/changelog's version>
version = re.match(r"\S+ \(([^)]+)\)", open("debian/changelog").readline()).group(1)
assert c["image"] == f"faultloop:{version}", (c["image"], version)
print(f"{', '.join(kinds)} in {ns}; port {port}; image {c['image']}; {len(allowed)} calls allowed")
PY

# The capabilities: the unit, the DaemonSet, faultloop(8) and README's
# table grant the same set, and agree with the code on the one kept
run "capabilities: unit, DaemonSet, man page, README and privs.c agree" /usr/bin/python3 - \
	deploy/systemd/faultloop.service deploy/kubernetes/faultloop-daemonset.yaml \
	"$TMP/man/man8/faultloop.8" README.md src/privs.c <<'PY'
import re, sys, yaml
unit, manifest, man, readme, privs = sys.argv[1:]
u = dict(l.split("=", 1) for l in open(unit).read().splitlines() if re.match(r"^\w+=", l))
bounding, ambient = set(u["CapabilityBoundingSet"].split()), set(u["AmbientCapabilities"].split())
assert bounding == ambient, (bounding, ambient)
ds = next(d for d in yaml.safe_load_all(open(manifest)) if d and d["kind"] == "DaemonSet")
k8s = {"CAP_" + a for a in ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"]}
page = open(man).read()
sec = page.split(".SH CAPABILITIES", 1)[1].split("\n.SH ", 1)[0]
man_caps = {}
for cap, body in re.findall(r"\.TP\n\.B (CAP_\w+)\n(.*?)(?=\n\.TP|\Z)", sec, re.S):
    man_caps[cap] = "kept" if "Kept after the start" in body else "dropped" if "Dropped after the start" in body else "?"
rows = re.findall(r"^\| `(CAP_\w+)` \|.*\| (kept|dropped) \|$", open(readme).read(), re.M)
table = dict(rows)
kept_code = set(re.findall(r"if \(cap != (CAP_\w+)\)", open(privs).read()))
sets = {"unit": bounding, "DaemonSet": k8s, "man page": set(man_caps), "README": set(table)}
assert len({frozenset(v) for v in sets.values()}) == 1, sets
kept = {"man page": {c for c, k in man_caps.items() if k == "kept"},
        "README": {c for c, k in table.items() if k == "kept"}, "privs.c": kept_code}
assert len({frozenset(v) for v in kept.values()}) == 1 and "?" not in man_caps.values(), kept
print(" ".join(sorted(bounding)), "granted everywhere; kept:", " ".join(sorted(kept_code)))
PY

echo
echo "deploy: $pass passed, $fail failed"
[ $fail -eq 0 ]
