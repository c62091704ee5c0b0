#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The Debian package under a real systemd.
#
#   tests/vm/systemd-test.sh [SUITE...]      (default: bookworm trixie-backports)
#
# 1. Where systemd is not running (this host, CI's): the package installed
#    and purged in a chroot of the test root filesystem (no
#    /run/systemd/system there either): the maintainer scripts must
#    succeed, enable the unit without starting anything, and the purge
#    must leave nothing.
# 2. Per SUITE: a Debian root filesystem of that release (mmdebstrap,
#    cached: tools/vm/build-rootfs.sh) booted with the kernel
#    tools/fetch-kernel.sh fetches for SUITE (bookworm 6.1, trixie 6.12;
#    SUITE-backports: that release's root filesystem with the backports
#    kernel) and systemd as PID 1, in qemu TCG (tools/vm/run-systemd-vm.sh).
#    tests/vm/systemd-guest.sh installs .output/deb/faultloop_*_amd64.deb
#    with apt and proves, under the unit as shipped: active and staying
#    active, the capabilities the unit grants and the drop to CAP_BPF after
#    attach on every thread (/proc/PID/task/*/status, the HTTP thread
#    included), the userfaultfd + signal loop (tools/uffd-loop.c, static)
#    DETECTED with a symbolized stack and its known-bug name, /metrics on
#    127.0.0.1, --probes under the unit's settings equal to root's on every
#    column, the same --probes, per-thread drop and uffd loop under the
#    DaemonSet's confinement (its capability list and args read here from
#    deploy/kubernetes/faultloop-daemonset.yaml, applied by setpriv as uid
#    0 with no_new_privs: no container runtime in the guest), a lower threshold
#    from /etc/default/faultloop detecting tools/race.c in the journal and
#    in the metrics, the configuration kept by an upgrade, a restart after
#    kill -9, a bad flag failing without a restart loop, no SIGSYS and no
#    denial in the journal or the kernel log, and nothing left (BPF
#    program, unit, file) after systemctl stop and apt purge.
#
# Every check of CHECKS must print "ok" in the guest's console output: a
# check that did not run (a guest that died half-way) fails.  Console logs
# in .output/vm-logs/systemd-SUITE.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROG=systemd-test
# shellcheck source=tools/lib.sh
. tools/lib.sh

CHECKS=(pid1-systemd install enabled started-on-install stays-active caps-granted caps-dropped
	caps-bounding no-new-privs-seccomp metrics config-read race-detected-journal race-report-fields
	race-detected-metrics conffile-kept restarted-on-upgrade restart-after-kill no-denial-journal
	no-denial-kernel sandbox sandbox-kallsyms bad-flag-fails bad-flag-journal denial-seen
	threads-caps unit-sampler uffd-unit-detected uffd-unit-report restart-after-fix probes-under-unit
	pod-confinement pod-probes pod-attached pod-threads-caps pod-sampler pod-uffd-detected pod-uffd-report pod-stop stop-clean stop-no-bpf purge-stops purge-no-unit purge-no-files
	purge-not-installed no-denial-end)

suites=("$@")
((${#suites[@]})) || suites=(bookworm trixie-backports)
[[ $(id -u) -eq 0 ]] || die "needs root (chroot, mmdebstrap)"
version=$(dpkg-parsechangelog -S Version)
deb=.output/deb/faultloop_${version}_amd64.deb
[[ -s $deb ]] || die "$deb is missing: make deb"
start=$(date +%s)
work=$(mktemp -d /tmp/faultloop-systemd.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); printf 'ok   %s\n' "$1"; }
nok() { fail=$((fail + 1)); printf 'FAIL %s: %s\n' "$1" "$2"; }

out=.output/x86_64-static
make -s STATIC=1 "$out/race" "$out/uffd-loop" "$out/bpf-progs" >/dev/null
# The DaemonSet's confinement, for the guest to run faultloop under without
# a container runtime (setpriv): its capability list and args as the
# manifest spells them.  Only what the guest applies is read, and the rest
# of the securityContext is checked to be what setpriv stands in for: root,
# every capability dropped but the added ones, no_new_privs.
manifest=deploy/kubernetes/faultloop-daemonset.yaml
pod_conf=$(python3 - "$manifest" <<'PY'
import sys, yaml
docs = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
(c,) = docs["DaemonSet"]["spec"]["template"]["spec"]["containers"]
sc = c["securityContext"]
assert sc["runAsUser"] == 0 and sc["privileged"] is False, sc
assert sc["allowPrivilegeEscalation"] is False, sc
caps = sc["capabilities"]
assert caps["drop"] == ["ALL"], caps
assert caps["add"], caps
print(",".join(n.lower() for n in caps["add"]))
print("\n".join(c["args"]))
PY
) || die "cannot read the DaemonSet's confinement from $manifest"

# the guest installs offline: its image carries the package's run-time
# dependencies (the first of each alternative, without versions: apt then
# checks the versions against the package)
mapfile -t deps < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/ //g' | grep -v '^$')
mkdir -p .output/vm-logs

# ---- 1. a host without systemd running: a chroot -----------------------------
rootfs=$(tools/vm/build-rootfs.sh "${suites[0]}" amd64 "${deps[@]}") || die "build-rootfs.sh ${suites[0]} failed"
t0=$(date +%s)
ch=$work/chroot
mkdir -p "$ch"
tar -C "$ch" -xf "$rootfs/rootfs.tar"
cp "$deb" "$ch/root/"
# what the maintainer scripts ask of systemd is recorded, then done by the
# real tools (wrappers first in PATH): in a chroot, as on a host without
# systemd, systemctl only edits files (--root=/ preset, enable) and fails
# for anything that needs a running manager
for t in systemctl deb-systemd-invoke; do
	printf '#!/bin/sh\necho "%s $*" >>/tmp/systemd-calls\nexec /usr/bin/%s "$@"\n' "$t" "$t" >"$ch/usr/local/sbin/$t"
	chmod 755 "$ch/usr/local/sbin/$t"
done
: >"$ch/tmp/systemd-calls"
if PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$ch" dpkg -i "/root/${deb##*/}" >"$work/chroot-install.log" 2>&1 </dev/null; then
	ok "nosystemd-install"
else
	nok "nosystemd-install" "dpkg -i in a chroot without systemd failed: $(tail -2 "$work/chroot-install.log" | tr '\n' ' ')"
fi
sed 's/^/    /' "$work/chroot-install.log"
started() { grep -E '^deb-systemd-invoke|^systemctl .*(start|restart|stop|reload)( |$)' "$ch/tmp/systemd-calls"; }
sed 's/^/    asked: /' "$ch/tmp/systemd-calls"
if [[ -L $ch/etc/systemd/system/multi-user.target.wants/faultloop.service && -z $(started) ]]; then
	ok "nosystemd-enabled-not-started"
else
	nok "nosystemd-enabled-not-started" "enabled: $(ls "$ch"/etc/systemd/system/multi-user.target.wants/faultloop.service 2>&1); started: $(started | tr '\n' ';')"
fi
: >"$ch/tmp/systemd-calls"
chroot "$ch" dpkg-query -L faultloop | sort >"$work/files"
if PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$ch" dpkg --purge faultloop >"$work/chroot-purge.log" 2>&1 </dev/null; then
	left=$(while read -r f; do
		[[ -e $ch$f || -L $ch$f ]] || continue
		if [[ -d $ch$f ]]; then	# other packages' and the layout's (/lib -> usr/lib)
			[[ $f == /. || -L $ch$f ]] && continue
			chroot "$ch" dpkg-query -S "$f" >/dev/null 2>&1 && continue
			chroot "$ch" dpkg-query -S "$(chroot "$ch" readlink -f "$f")" >/dev/null 2>&1 && continue
		fi
		echo "$f"
	done <"$work/files"; ls -d "$ch"/etc/systemd/system/*/faultloop.service "$ch"/var/lib/systemd/deb-systemd-helper-*/*faultloop* 2>/dev/null || true)
	sed 's/^/    asked: /' "$ch/tmp/systemd-calls"
	if [[ -z $left && -z $(started) ]]; then
		ok "nosystemd-purge"
	else
		nok "nosystemd-purge" "left after dpkg --purge: $(head -5 <<<"$left" | tr '\n' ' '); stopped: $(started | tr '\n' ';')"
	fi
else
	nok "nosystemd-purge" "dpkg --purge in the chroot failed: $(tail -2 "$work/chroot-purge.log" | tr '\n' ' ')"
fi
rm -rf "$ch"
echo "     chroot took $(($(date +%s) - t0))s"

# ---- 2. a real systemd, per suite -------------------------------------------
mkdir -p "$work/payload"
cp "$deb" "$out/race" "$out/uffd-loop" "$out/bpf-progs" "$work/payload/"
# first line: the capabilities as setpriv names them (bpf,perfmon,...),
# then one arg a line
printf '%s\n' "$pod_conf" >"$work/payload/pod-confinement"
cp tests/vm/systemd-guest.sh "$work/payload/run.sh"
for suite in "${suites[@]}"; do
	t0=$(date +%s)
	if ! rootfs=$(tools/vm/build-rootfs.sh "$suite" amd64 "${deps[@]}"); then
		nok "$suite" "cannot build the $suite root filesystem"
		continue
	fi
	log=.output/vm-logs/systemd-$suite.log
	# Booted again (3 boots at most, each named) only if the guest never
	# reached its payload; a guest kernel that crashed, locked up or stalled
	# (guest_trouble, tools/lib.sh) fails below and is never retried
	# (issue 19: a retry hid a soft lockup)
	for attempt in 1 2 3; do
		rc=0
		tools/vm/run-systemd-vm.sh --rootfs "$rootfs" --payload "$work/payload" --timeout 600 \
			--log "$log" >/dev/null 2>"$work/$suite.err" || rc=$?
		((rc == 124 || rc == 125)) || break
		if grep -aq 'systemd-guest: ' "$log" || guest_trouble "$log" >/dev/null; then break; fi
		cp "$log" ".output/vm-logs/systemd-$suite-failed$attempt.log"
		echo "note $suite: boot $attempt never reached its payload: $(tail -1 "$work/$suite.err"); booting again"
	done
	if trouble=$(guest_trouble "$log"); then
		nok "$suite guest-kernel" "the guest kernel crashed, locked up or stalled (log: $log):"
		printf '    %s\n' "${trouble//$'\n'/$'\n'    }"
		why=$(tcg_stale_int3 "$log") && printf '    %s\n' "$why"
	fi
	echo "== $suite: $(cat "$rootfs/KVER"), $(tail -1 "$work/$suite.err")"
	# the guest's own output, from its first line
	# (the first line shares the console's line with the firmware's escapes)
	tr -d '\r' <"$log" | sed 's/.*\(systemd-guest: .*PID 1\)/\1/' |
		sed -n '/^systemd-guest: .*PID 1/,/^FAULTLOOP-VM-EXIT/p' | grep -av '^FAULTLOOP-VM-EXIT' | sed 's/^/  | /'
	if ((rc == 124 || rc == 125)); then
		nok "$suite" "guest failed: $(tail -1 "$work/$suite.err") (log: $log)"
	fi
	for c in "${CHECKS[@]}"; do
		line=$(tr -d '\r' <"$log" | grep -a -m1 -E "^(ok  |FAIL) $c(:|$)" || true)
		if [[ $line == "ok   $c" ]]; then
			ok "$suite $c"
		elif [[ -n $line ]]; then
			nok "$suite $c" "${line#FAIL "$c": }"
		else
			nok "$suite $c" "the guest never ran this check (log: $log)"
		fi
	done
	echo "     $suite took $(($(date +%s) - t0))s"
done
echo "systemd-test: $pass passed, $fail failed ($(($(date +%s) - start))s)"
((fail == 0))
