#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# tools/build-image.sh OUT.tar VERSION ARCH=BINARY...
#   e.g. tools/build-image.sh .output/image/faultloop-0.1.0.tar 0.1.0 \
#            amd64=.output/x86_64-static/faultloop arm64=.output/arm64-static/faultloop
#
# The OCI image of faultloop (make image): for each architecture the static
# binary (make STATIC=1, stripped) alone on an empty base, /usr/sbin/faultloop
# as its entry point, run as root (the DaemonSet's runAsUser 0), then one
# OCI index over them, written as an OCI archive named faultloop:VERSION
# that `podman load` and `skopeo copy --all oci-archive:...` take.
#
# Why scratch: the binary links libbpf, libelf, zlib and libmicrohttpd
# statically and reads only /proc and /sys, which the runtime mounts; a
# base image would add files nothing runs (and a registry to pull it from,
# which this build has none of).  Built with buildah from Debian's package,
# in storage of its own (vfs, removed at the end): no daemon, no registry,
# nothing left in the host's image store.  Reproducible: every timestamp is
# the commit's (SOURCE_DATE_EPOCH), so the same commit gives the same digests.
set -euo pipefail
cd "$(dirname "$0")/.."
readonly PROG=build-image
# shellcheck source=tools/lib.sh
. tools/lib.sh

(($# >= 3)) || die "usage: $0 OUT.tar VERSION ARCH=BINARY..."
out=$1 version=$2
shift 2
ensure_tools buildah:buildah

source_url=$(sed -n 's/^Source: //p' debian/copyright)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || revision+=-dirty
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

tmp=$(mktemp -d /var/tmp/faultloop-image.XXXXXX)
B=(buildah --root "$tmp/root" --runroot "$tmp/run" --storage-driver vfs)
cleanup() { "${B[@]}" rm --all >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

name=faultloop:$version
"${B[@]}" manifest create "$name" >/dev/null
for spec in "$@"; do
	arch=${spec%%=*} bin=${spec#*=}
	[[ -x $bin ]] || die "$bin: no such binary (make ARCH=... STATIC=1)"
	# the binary must be the architecture it is labelled with, and static:
	# the base has no loader and no libraries
	machine=$(LC_ALL=C readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
	# binutils' strip of the target (llvm-strip refuses static glibc's
	# .rela.plt of IRELATIVE relocations)
	case $arch in
	amd64) strip=x86_64-linux-gnu-strip; [[ $machine == *X86-64* ]] ;;
	arm64) strip=aarch64-linux-gnu-strip; [[ $machine == *AArch64* ]] ;;
	*) die "unsupported architecture '$arch' (amd64, arm64)" ;;
	esac || die "$bin is '$machine', not $arch"
	! LC_ALL=C readelf -l "$bin" | grep -q 'INTERP' || die "$bin is dynamically linked: build it with STATIC=1"
	"$strip" --strip-debug -o "$tmp/faultloop-$arch" "$bin"

	ctr=$("${B[@]}" from --arch "$arch" --os linux scratch)
	"${B[@]}" copy --chmod 0755 "$ctr" "$tmp/faultloop-$arch" /usr/sbin/faultloop >/dev/null
	labels=(
		--label "org.opencontainers.image.title=faultloop"
		--label "org.opencontainers.image.description=Detects the Linux kernel stuck in fault-in, uaccess and page-fault retry loops"
		--label "org.opencontainers.image.version=$version"
		--label "org.opencontainers.image.revision=$revision"
		--label "org.opencontainers.image.source=$source_url"
		--label "org.opencontainers.image.url=$source_url"
		--label "org.opencontainers.image.documentation=$source_url#running-in-production"
		--label "org.opencontainers.image.licenses=LGPL-2.1-only OR BSD-2-Clause"
		--label "org.opencontainers.image.created=$created"
	)
	# the same keys as annotations of the manifest: registries show those
	annotations=("${labels[@]/#--label/--annotation}")
	# CMD is the DaemonSet's args, so a bare `podman run` serves metrics
	# on the pod's address; the manifest's args replace it
	"${B[@]}" config --os linux --arch "$arch" --user 0:0 \
		--entrypoint '["/usr/sbin/faultloop"]' --cmd '--json --metrics 0.0.0.0:19477' \
		--port 19477/tcp --stop-signal SIGTERM "${labels[@]}" "${annotations[@]}" "$ctr"
	"${B[@]}" commit --quiet --format oci --timestamp "$epoch" --rm "$ctr" "faultloop:$version-$arch" >/dev/null
	"${B[@]}" manifest add --arch "$arch" --os linux "$name" "containers-storage:localhost/faultloop:$version-$arch" >/dev/null
	log "$arch: $(stat -c %s "$tmp/faultloop-$arch") bytes, /usr/sbin/faultloop"
done

mkdir -p "$(dirname "$out")"
rm -f "$out.tmp"
"${B[@]}" manifest push --quiet --all --format oci "$name" "oci-archive:$out.tmp:$name"
mv -f "$out.tmp" "$out"
log "$out: $name for $(printf '%s ' "${@%%=*}")(OCI index, $(stat -c %s "$out") bytes)"
