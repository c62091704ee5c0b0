#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Install the Debian packages faultloop needs to build, run and test, and
# mount what it expects.  Idempotent and quiet when nothing is missing.
#   tools/install-deps.sh            build + run + tests
set -euo pipefail

PKGS=(
	make gcc clang llvm bpftool pkg-config	# toolchain, BPF target, skeletons
	libbpf-dev libelf-dev zlib1g-dev	# libbpf CO-RE loader (static libs too)
	libmicrohttpd-dev			# the metrics endpoint
	dpkg-dev				# STATIC=1: dpkg-source unpacks libmicrohttpd (tools/build-microhttpd.sh)
	gcc-aarch64-linux-gnu			# ARCH=arm64 cross compiler
	# ARCH=arm64 libraries (static ones included), from Debian multiarch:
	# the arm64 packages of the same mirror, in lockstep with the amd64 ones
	# and kept up to date by apt, which a sysroot of debs unpacked by hand
	# would not be; the cross gcc searches /usr/lib/aarch64-linux-gnu.
	libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64
	libmicrohttpd-dev:arm64			# make deb: the arm64 package (dynamic, cross-built)
	build-essential debhelper help2man lintian	# make deb: dpkg-buildpackage, faultloop(8), the package check
	mmdebstrap e2fsprogs qemu-system-x86	# systemd test: Debian root filesystems booted in qemu
	libcmocka-dev				# unit tests
	# make fuzz-test: libFuzzer and clang's sanitizer runtimes (clang
	# only recommends them); gcc's (make sanitize-test) come with gcc
	libclang-rt-dev
	python3 util-linux procps curl		# tests: JSON checks, setpriv, HTTP
	prometheus python3-prometheus-client	# tests: promtool, a real server, OpenMetrics parser
	python3-yaml systemd			# deploy tests: manifests, systemd-analyze
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-deps: missing ${missing[*]}: run as root (sudo make ...)" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	: >/tmp/faultloop-apt.log
	# the lists have no arm64 packages until the architecture is added
	fresh=
	if [[ " ${missing[*]}" == *:arm64* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
		fresh=1
	fi
	# try without a slow 'apt-get update' first; a stale list needs one
	if [[ -n $fresh ]] || ! apt-get install -y -qq "${missing[@]}" >>/tmp/faultloop-apt.log 2>&1; then
		apt-get update -qq >>/tmp/faultloop-apt.log 2>&1 || true
		apt-get install -y -qq "${missing[@]}" >>/tmp/faultloop-apt.log 2>&1 || {
			tail -20 /tmp/faultloop-apt.log >&2
			echo "install-deps: apt-get install failed (log: /tmp/faultloop-apt.log)" >&2
			exit 1
		}
	fi
fi

# Not mounted at boot on some hosts; bpftool and classic tracepoints use them.
if [[ $(id -u) -eq 0 ]]; then
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
	mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
