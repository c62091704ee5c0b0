#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Install the Debian packages faultloop needs, and mount what it expects.
# Idempotent and quiet when nothing is missing.
#   tools/install-deps.sh [run]   build and run only (make, make run)
#   tools/install-deps.sh test    and every test stage's (make test, .ci/run)
#
# A newcomer's `make run` must not turn their machine into a test rig: the
# test set (qemu, a cross compiler and arm64 as a foreign architecture,
# Prometheus and Alertmanager) is installed by `make test` only, and
# installing anything here starts no service (policy-rc.d below).
set -euo pipefail

set_=${1:-run}
case $set_ in
run | test) ;;
*) echo "usage: tools/install-deps.sh [run|test]" >&2; exit 2 ;;
esac

# make, make run, make STATIC=1
RUN_PKGS=(
	make gcc clang llvm bpftool pkg-config	# toolchain, BPF target, skeletons
	libbpf-dev libelf-dev zlib1g-dev	# libbpf CO-RE loader (static libs too)
	libmicrohttpd-dev			# the metrics endpoint
	dpkg-dev				# STATIC=1: dpkg-source unpacks libmicrohttpd (tools/build-microhttpd.sh)
)

# make test: one line per stage; a stage that needs more adds its own line
TEST_PKGS=(
	libcmocka-dev				# unit tests
	python3 util-linux procps curl iproute2	# tests: JSON checks, setpriv, HTTP, ss
	python3-prometheus-client		# metrics test: OpenMetrics parser
	python3-yaml systemd			# deploy test: manifests, systemd-analyze
	# make fuzz-test: libFuzzer and clang's sanitizer runtimes (clang
	# only recommends them); gcc's (make sanitize-test) come with gcc
	libclang-rt-dev
	gcc-aarch64-linux-gnu			# ARCH=arm64 cross compiler (arm64 VM tests, make deb)
	# ARCH=arm64 libraries (static ones included), from Debian multiarch:
	# the arm64 packages of the same mirror, in lockstep with the amd64 ones
	# and kept up to date by apt, which a sysroot of debs unpacked by hand
	# would not be; the cross gcc searches /usr/lib/aarch64-linux-gnu.
	libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64
	libmicrohttpd-dev:arm64			# make deb: the arm64 package (dynamic, cross-built)
	build-essential debhelper help2man lintian	# make deb: dpkg-buildpackage, faultloop(8), the package check
	mmdebstrap e2fsprogs qemu-system-x86	# systemd test: Debian root filesystems booted in qemu
)

# make test, packages that ship a daemon: installed without Recommends
# (prometheus recommends prometheus-node-exporter, another daemon), never
# started, and left disabled; the tests start their own copies on loopback
# ports (tests/alert.sh, tests/metrics.sh) and only use the binaries.
SERVICE_PKGS=(
	prometheus				# promtool, and a real server (metrics, alert tests)
	prometheus-alertmanager			# alert test: the page that reaches a person
)

missing_of() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
	done
}

# Debian's maintainer scripts start a package's service through
# invoke-rc.d (sysvinit) or deb-systemd-invoke (systemd); both ask
# /usr/sbin/policy-rc.d first, and 101 means "action forbidden"
# (/usr/share/doc/init-system-helpers/README.policy-rc.d.gz).  The host's own
# policy, if any, is put back afterwards.
POLICY=/usr/sbin/policy-rc.d
SAVED=$POLICY.faultloop-saved
forbid_services() {
	[[ -e $SAVED ]] || { [[ -e $POLICY ]] && mv "$POLICY" "$SAVED"; } || true
	trap allow_services EXIT
	cat >"$POLICY" <<'EOF'
#!/bin/sh
# tools/install-deps.sh: no service starts while faultloop's packages install
echo "install-deps: policy-rc.d: not running '$*'" >&2
exit 101
EOF
	chmod 755 "$POLICY"
}
allow_services() {
	rm -f "$POLICY"
	[[ -e $SAVED ]] && mv "$SAVED" "$POLICY"
	return 0
}

apt_install() {
	local fresh=$1; shift
	# try without a slow 'apt-get update' first; a stale list needs one
	if [[ -n $fresh ]] || ! apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >>/tmp/faultloop-apt.log 2>&1; then
		apt-get update -qq >>/tmp/faultloop-apt.log 2>&1 || true
		apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >>/tmp/faultloop-apt.log 2>&1 || {
			tail -20 /tmp/faultloop-apt.log >&2
			echo "install-deps: apt-get install failed (log: /tmp/faultloop-apt.log)" >&2
			exit 1
		}
	fi
}

pkgs=("${RUN_PKGS[@]}")
[[ $set_ == test ]] && pkgs+=("${TEST_PKGS[@]}")
mapfile -t missing < <(missing_of "${pkgs[@]}")
services=()
[[ $set_ == test ]] && mapfile -t services < <(missing_of "${SERVICE_PKGS[@]}")
all=("${missing[@]}" "${services[@]}")
if ((${#all[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-deps: missing ${all[*]}: run as root (sudo make ...)" >&2
		exit 1
	fi
	echo "install-deps: installing ${all[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	: >/tmp/faultloop-apt.log
	# the lists have no arm64 packages until the architecture is added
	fresh=
	if [[ " ${missing[*]}" == *:arm64* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
		fresh=1
	fi
	# no package starts a daemon here (systemd, for one, recommends
	# systemd-timesyncd)
	forbid_services
	((${#missing[@]})) && apt_install "$fresh" "${missing[@]}"
	((${#services[@]})) && apt_install "$fresh" --no-install-recommends "${services[@]}"
	allow_services
	trap - EXIT
	grep -h '^install-deps: policy-rc.d' /tmp/faultloop-apt.log >&2 || true
	if ((${#services[@]})); then
		# not started now, and not at the next boot either (each package's
		# service is named after it; one the host had before is left alone)
		for s in "${services[@]}"; do
			if [[ -e /lib/systemd/system/$s.service ]] && command -v systemctl >/dev/null; then
				systemctl disable "$s.service" >>/tmp/faultloop-apt.log 2>&1 || true
			fi
			if [[ -e /etc/init.d/$s ]]; then
				update-rc.d "$s" disable >>/tmp/faultloop-apt.log 2>&1 || true
			fi
		done
	fi
fi

# Not mounted at boot on some hosts; bpftool and classic tracepoints use them.
if [[ $(id -u) -eq 0 ]]; then
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
	mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
