#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The DaemonSet in a real OCI runtime: the image `make image` builds
# (IMAGE, an OCI archive), loaded into podman and run by runc with exactly
# the confinement deploy/kubernetes/faultloop-daemonset.yaml gives it, read
# from the manifest (hostPID, its capabilities, its Localhost seccomp
# profile, read-only root, /sys read-only submounts included,
# no_new_privs, its args).  On this host it must catch the userfaultfd +
# signal loop (tools/uffd-loop) with a symbolized stack and its known-bug
# name, serve /metrics, keep no capability but CAP_BPF on any thread once
# armed, stay under the manifest's memory request, and leave none of its BPF
# objects behind when stopped.
#
# podman here: runc, cgroupfs, vfs storage of the test's own (nothing left
# in the host's image store), and a containers.conf whose default_ulimits
# is empty (crun and the ulimit defaults need cgroup v2 / CAP_SYS_RESOURCE,
# which a CI container may not have).  The pod's network is stood in for by
# a private network namespace (--network none): the test scrapes from
# inside it (nsenter), as the kubelet's probes would from the node.
set -u
cd "$(dirname "$0")/.." || exit 1

OUTPUT=${OUTPUT:-.output/$(uname -m | sed 's/aarch64/arm64/')}
MANIFEST=${MANIFEST:-deploy/kubernetes/faultloop-daemonset.yaml}
IMAGE=${IMAGE:-.output/image/faultloop-$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog).tar}
UFFD=${UFFD:-$OUTPUT/uffd-loop}
TMP=$(mktemp -d /var/tmp/faultloop-container.XXXXXX)
NAME=faultloop-test-$$
FL=unused	# tests/lib.sh's start_fl is not used: faultloop runs in the container
FLHOST=${FLHOST:-./faultloop}	# root's --probes on the host, for the comparison
readonly PROG=container
# shellcheck source=tests/lib.sh
. tests/lib.sh
# shellcheck source=tools/lib.sh
. tools/lib.sh

P() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }
cleanup() {
	# only ever the test's own storage (its configuration is in TMP)
	[ -n "${CONTAINERS_STORAGE_CONF:-}" ] && P rm -f -t 0 "$NAME" >/dev/null 2>&1
	kill_pids
	rm -rf "$TMP"
}
trap cleanup EXIT
require_root container
ensure_tools podman:podman runc:runc nsenter:util-linux
for f in "$IMAGE" "$UFFD" "$MANIFEST"; do
	[ -e "$f" ] || { echo "container: $f is missing (make image tools)" >&2; exit 1; }
done

cat >"$TMP/containers.conf" <<EOF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$TMP/libpod"
EOF
cat >"$TMP/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$TMP/storage"
runroot = "$TMP/run"
EOF
export CONTAINERS_CONF=$TMP/containers.conf CONTAINERS_STORAGE_CONF=$TMP/storage.conf

echo "# faultloop's image under podman $(podman --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}'), $(uname -r)"

# 1. the image: an OCI index for amd64 and arm64, loaded by podman as the
# name the manifest gives, with its labels
if python3 - "$IMAGE" >"$TMP/index.out" 2>&1 <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
blob = lambda d: json.load(t.extractfile("blobs/" + d.replace(":", "/")))
top = json.load(t.extractfile("index.json"))["manifests"]
assert len(top) == 1 and top[0]["mediaType"] == "application/vnd.oci.image.index.v1+json", top
idx = blob(top[0]["digest"])
plats = sorted(m["platform"]["architecture"] for m in idx["manifests"])
assert plats == ["amd64", "arm64"], plats
for m in idx["manifests"]:
    cfg = blob(blob(m["digest"])["config"]["digest"])
    assert cfg["architecture"] == m["platform"]["architecture"], cfg["architecture"]
    assert cfg["config"]["Entrypoint"] == ["/usr/sbin/faultloop"], cfg["config"]
    for k in ("version", "revision", "source", "created", "licenses"):
        assert cfg["config"]["Labels"].get("org.opencontainers.image." + k), k
print(top[0]["annotations"]["org.opencontainers.image.ref.name"], " ".join(plats))
PY
then ok "image: OCI index $(cat "$TMP/index.out"), entry point and OCI labels"
else nok "image: OCI index for amd64 and arm64" "$(tail -3 "$TMP/index.out")"; fi

if P load -q -i "$IMAGE" >"$TMP/load.out" 2>&1; then
	loaded=$(sed -n 's/^Loaded image.*: //p' "$TMP/load.out")
	ok "podman load: $loaded"
else
	nok "podman load $IMAGE" "$(tail -3 "$TMP/load.out")"
	summary container
	exit
fi

# 2. the manifest's confinement, as podman flags: every securityContext
# field is translated or refused, so a field added to the manifest and not
# here fails the test instead of being silently left out
if ! python3 - "$MANIFEST" "$TMP" >"$TMP/flags" 2>"$TMP/flags.err" <<'PY'
import os, sys, yaml
manifest, tmp = sys.argv[1:]
docs = {d["kind"]: d for d in yaml.safe_load_all(open(manifest)) if d}
pod = docs["DaemonSet"]["spec"]["template"]["spec"]
(c,) = pod["containers"]
flags = []
out = lambda *a: flags.extend(a)
assert set(pod.get("securityContext", {})) <= set(), pod.get("securityContext")
if pod.get("hostPID"):
    out("--pid", "host")
assert not pod.get("hostNetwork") and not pod.get("hostIPC")
out("--network", "none")        # the pod's own network namespace
sc = dict(c["securityContext"])
assert sc.pop("privileged") is False
out("--user", str(sc.pop("runAsUser")))
if sc.pop("readOnlyRootFilesystem"):
    out("--read-only", "--read-only-tmpfs=false")
if sc.pop("allowPrivilegeEscalation") is False:
    out("--security-opt", "no-new-privileges")
caps = sc.pop("capabilities")
out("--cap-drop", ",".join(caps.get("drop", [])))
if caps.get("add"):
    out("--cap-add", ",".join(caps["add"]))
# none named: the runtime's default (the kubelet's SeccompDefault)
sp = sc.pop("seccompProfile", {"type": "RuntimeDefault"})
if sp["type"] == "Localhost":
    out("--security-opt", "seccomp=" + os.path.join(os.path.dirname(manifest), sp["localhostProfile"]))
elif sp["type"] == "Unconfined":
    out("--security-opt", "seccomp=unconfined")
assert not sc, "securityContext fields this test does not apply: %s" % sorted(sc)
vols = {v["name"]: v for v in pod["volumes"]}
for m in c["volumeMounts"]:
    src = vols[m["name"]]["hostPath"]["path"]
    ro = m.get("readOnly", False)
    # recursiveReadOnly: podman 4.3 has no rro, so each mount under the
    # host path is bound read-only by itself, which is what rro gives
    subs = [src]
    if ro and m.get("recursiveReadOnly") in ("Enabled", "IfPossible"):
        for l in open("/proc/self/mountinfo"):
            mp = l.split()[4]
            if mp.startswith(src.rstrip("/") + "/"):
                subs.append(mp)
    for s in subs:
        dst = m["mountPath"] + s[len(src):]
        out("--mount", "type=bind,src=%s,dst=%s,ro=%s%s" % (s, dst, str(ro).lower(),
            ",bind-nonrecursive=true" if len(subs) > 1 else ""))
# the request the test holds faultloop's resident size to
open(tmp + "/mem_request", "w").write(c["resources"]["requests"]["memory"])
open(tmp + "/image", "w").write(c["image"])
print("\n".join(flags + ["--"] + c["args"]))
PY
then
	nok "the manifest's confinement as podman flags" "$(tail -3 "$TMP/flags.err")"
	summary container
	exit
fi
mapfile -t flags < <(sed '/^--$/,$d' "$TMP/flags")
mapfile -t args < <(sed '1,/^--$/d' "$TMP/flags")
image=$(cat "$TMP/image")
check "the manifest names the image make image builds ($image)" \
	test "localhost/$image" = "$loaded" -o "$image" = "$loaded"
echo "# podman run ${flags[*]} $image ${args[*]}"

# --probes under the manifest's confinement equals root's on this host,
# row by row (the same source: ./faultloop, built for this machine)
if [ -x "$FLHOST" ]; then
	P run --rm "${flags[@]}" "$loaded" --probes >"$TMP/probes.pod" 2>&1
	"$FLHOST" --probes >"$TMP/probes.root" 2>&1
	# the probe rows alike to the letter; the known loops (decided from
	# files a container sees differently: its own /dev, no Debian
	# changelog) alike in status, or "unknown" where the pod says what
	# it cannot see
	sed '/^KNOWN LOOP/,$d' "$TMP/probes.root" >"$TMP/rows.root"
	sed '/^KNOWN LOOP/,$d' "$TMP/probes.pod" >"$TMP/rows.pod"
	if diff "$TMP/rows.root" "$TMP/rows.pod" >"$TMP/probes.diff"; then
		ok "--probes in the pod equals root's on the host, row by row ($(grep -c . "$TMP/rows.root") lines)"
	else
		nok "--probes in the pod equals root's" "$(head -6 "$TMP/probes.diff")"
	fi
	if kl=$(python3 - "$TMP/probes.root" "$TMP/probes.pod" 2>&1 <<'PY'
import sys
def loops(path):
    lines = open(path).read().split("\n")
    i = next(n for n, l in enumerate(lines) if l.startswith("KNOWN LOOP"))
    return {l.split()[0]: (l.split()[1], l) for l in lines[i + 1:] if l.strip()}
root, pod = loops(sys.argv[1]), loops(sys.argv[2])
assert root and set(root) == set(pod), (sorted(root), sorted(pod))
for bug, (st, line) in root.items():
    pst, pline = pod[bug]
    assert pst == st or (pst == "unknown" and "not visible here" in pline), (line, pline)
print(", ".join("%s %s/%s" % (b, root[b][0], pod[b][0]) for b in sorted(root)))
PY
	); then
		ok "known loops: the pod's exposure agrees with root's ($kl)"
	else
		nok "known loops: the pod's exposure agrees with root's" "$kl"
	fi
else
	nok "--probes compared with root's" "$FLHOST: build it first (make)"
fi

# 3. run it; the host's view of the process from here on
if ! P run -d --name "$NAME" "${flags[@]}" "$loaded" "${args[@]}" >"$TMP/run.out" 2>&1; then
	nok "podman run with the manifest's confinement" "$(tail -3 "$TMP/run.out")"
	summary container
	exit
fi
logs() { P logs "$NAME" 2>"$TMP/stderr" >"$TMP/stdout"; }
# until it serves metrics (every probe attached) or exits; sets pid
wait_serving() {
	for _ in $(seq 1 150); do
		logs
		grep -q 'metrics on' "$TMP/stderr" && break
		[ "$(P inspect -f '{{.State.Running}}' "$NAME")" = true ] || break
		sleep 0.2
	done
	pid=$(P inspect -f '{{.State.Pid}}' "$NAME")
}
wait_serving
python3 tests/bpf_ids.py watch "$pid" >"$TMP/ids.json" &
PIDS+=($!)
sed 's/^/     | /' "$TMP/stderr"
if grep -q 'metrics on' "$TMP/stderr" && [ "${pid:-0}" -gt 0 ]; then
	ok "started and attached under the manifest's confinement (host pid $pid)"
else
	nok "faultloop starts in the container" "$(tail -5 "$TMP/stderr")"
	summary container
	exit
fi

# the confinement as the kernel sees it: seccomp filter, no_new_privs,
# every mount under /sys read-only (the visible one: the last per path)
status=/proc/$pid/status
check "seccomp filter and no_new_privs on the process" \
	grep -qzP 'NoNewPrivs:\t1\nSeccomp:\t2\n' "$status"
rw=$(awk '$5 ~ /^\/sys(\/|$)/ { opt[$5] = $6 } END { for (m in opt) if (opt[m] !~ /^ro(,|$)/) print m }' "/proc/$pid/mountinfo")
check "/sys and every mount under it read-only in the container${rw:+ (rw: $rw)}" test -z "$rw"
# every thread: CAP_BPF alone once armed (1 << 39)
bad=$(for s in /proc/"$pid"/task/*/status; do
	awk -v t="${s%/status}" '/^Name:/{n=$2} /^CapEff:/ && $2 != "0000008000000000" {print t " " n " " $2}' "$s"
done)
check "every thread keeps CAP_BPF only once armed${bad:+ (not: $bad)}" test -z "$bad"

# 4. /metrics from the pod's network namespace, every probe attached
scrape() { nsenter -t "$pid" -n curl -s -m 5 "http://127.0.0.1:19477/metrics"; }
scrape >"$TMP/metrics.txt"
if grep -q '^faultloop_build_info' "$TMP/metrics.txt" &&
	grep -qx 'faultloop_symbols_available 1' "$TMP/metrics.txt" &&
	grep -q 'faultloop_probe_info{signal="fault_stall".*status="attached"' "$TMP/metrics.txt"; then
	ok "/metrics served in the pod's network namespace; symbols available, fault_stall attached"
else
	nok "/metrics with symbols and fault_stall attached" \
		"$(grep -E 'build_info|symbols_available|fault_stall' "$TMP/metrics.txt" | head -3)"
fi

# 5. the loop on the host, caught from inside the container: 5 s, so
# that it spins past --stall (1 s on its CPU) on a loaded machine too
"$UFFD" -d write -t 5 -c uffdpod >"$TMP/uffd.out"
sleep 0.5
logs
tid=$(awk '/^tid/{print $2}' "$TMP/uffd.out")
stime=$(awk '/^utime_ms/{print $4}' "$TMP/uffd.out")
if python3 - "$TMP/stdout" "$tid" >"$TMP/det.out" 2>&1 <<'PY'
import json, sys
path, tid = sys.argv[1], int(sys.argv[2])
reps = [json.loads(l) for l in open(path) if l.startswith("{")]
det = [r for r in reps if r.get("tid") == tid and r.get("event") == "detected"]
assert det, "no DETECTED for tid %d in %d reports" % (tid, len(reps))
r = det[0]
assert r["signal"] == "fault_stall", r["signal"]
assert r["known_bug"]["id"] == "uffd-signal-busy-loop", r["known_bug"]
named = [f for f in r["stack"] if not f.startswith("0x")]
assert r["stack"] and len(named) == len(r["stack"]), r["stack"]
entry = ("exc_page_fault", "do_user_addr_fault", "do_page_fault", "do_mem_abort")
assert any(f.split("+")[0] in entry for f in named), named
print("%s, %s, stack %s" % (r["signal"], r["known_bug"]["id"], " < ".join(f.split("+")[0] for f in named[:4])))
PY
then ok "the uffd loop on the host DETECTED: $(cat "$TMP/det.out")"
else nok "the uffd loop caught with a symbolized stack and its known bug" \
	"tid $tid spun ${stime}ms of system time in 5 s" "$(tail -3 "$TMP/det.out")"; fi
if scrape | grep -q '^faultloop_loops_detected_total{.*bug="uffd-signal-busy-loop".*} [1-9]'; then
	ok "faultloop_loops_detected_total counts it, bug=\"uffd-signal-busy-loop\""
else
	nok "faultloop_loops_detected_total after the loop" "$(scrape | grep loops_detected | head -3)"
fi

# 6. resident size against the manifest's request (the peak, VmHWM)
hwm=$(awk '/^VmHWM:/{print $2}' "$status")
req=$(python3 -c '
import sys
v = sys.argv[1]; units = {"Ki": 1, "Mi": 1024, "Gi": 1024 ** 2}
print(int(v[:-2]) * units[v[-2:]])' "$(cat "$TMP/mem_request")")
echo "     VmHWM ${hwm} kB, request ${req} kB ($(cat "$TMP/mem_request"))"
check "peak resident size ${hwm} kB under the memory request" test "${hwm:-0}" -gt 0 -a "${hwm:-0}" -lt "$req"

# 7. stopped as the kubelet stops it (SIGTERM): exit 0, nothing left attached
P stop -t 20 "$NAME" >/dev/null 2>&1
rc=$(P inspect -f '{{.State.ExitCode}}' "$NAME")
logs
check "podman stop: exit status 0 and the exit summary (got $rc)" test "$rc" = 0 -a -n "$(grep 'loops detected' "$TMP/stderr")"
wait "${PIDS[-1]}"
ids=$(cat "$TMP/ids.json")
if left=$(python3 tests/bpf_ids.py gone "$TMP/ids.json"); then
	ok "none of its BPF objects left ($ids)"
else
	nok "BPF objects left after stop" "$left"
fi

# 8. the same confinement with CAP_BPF and CAP_PERFMON only (the manifest
# before it granted CAP_SYSLOG and CAP_SYS_ADMIN): where the kernel hides
# kallsyms' addresses from it, faultloop must say so, with the real cause,
# and not count the stall sampler as attached
kptr=$(cat /proc/sys/kernel/kptr_restrict) paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
if [ "$kptr" -ge 1 ] || [ "$paranoid" -gt 1 ]; then
	mapfile -t two < <(printf '%s\n' "${flags[@]}" | sed '/^BPF,PERFMON,SYSLOG,SYS_ADMIN$/s/.*/BPF,PERFMON/')
	P rm -f -t 0 "$NAME" >/dev/null 2>&1
	P run -d --name "$NAME" "${two[@]}" "$loaded" "${args[@]}" -d 60 >/dev/null 2>&1
	wait_serving
	scrape >"$TMP/blind.txt"
	sed 's/^/     | /' "$TMP/stderr" | grep -E 'hidden|sampler|fault '
	if [ "$kptr" -ge 2 ]; then cause="kptr_restrict is $kptr"
	elif [ "$kptr" = 1 ]; then cause="kptr_restrict is 1 and no CAP_SYSLOG"
	else cause="perf_event_paranoid is $paranoid (above 1) and no CAP_SYSLOG"; fi
	check "BPF+PERFMON only: the start-up line names the cause ($cause)" \
		grep -q "addresses are hidden.*$cause" "$TMP/stderr"
	check "BPF+PERFMON only: the banner does not count fault_stall attached" \
		bash -c "grep -q '^  fault .*missing:.*fault_stall' '$TMP/stderr' && ! grep -q '+fault_stall' '$TMP/stderr'"
	check "BPF+PERFMON only: faultloop_symbols_available 0, fault_stall status \"no symbols\"" \
		bash -c "grep -qx 'faultloop_symbols_available 0' '$TMP/blind.txt' &&
			grep -q 'faultloop_probe_info{signal=\"fault_stall\".*status=\"no symbols\"' '$TMP/blind.txt'"
	P rm -f -t 0 "$NAME" >/dev/null 2>&1
else
	skip "BPF+PERFMON only: this kernel shows kallsyms' addresses to any reader (kptr_restrict 0, perf_event_paranoid $paranoid)"
fi

summary container
