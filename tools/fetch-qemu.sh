#!/usr/bin/env bash
# fetch-qemu.sh: a qemu-system new enough for the project's guests, next to
# (never over) the host's qemu.
#
#   tools/fetch-qemu.sh [aarch64|x86_64]   print the path of a qemu-system-ARCH
#                                          (default aarch64) new enough
#
# aarch64 needs 8.0: Debian bookworm's qemu 7.2 looks MTE tags up at the
# page-aligned physical address (fixed by QEMU commit 28fb921f02ef, in 8.0):
# under it every tagged access in a guest checks the tag of its page's first
# granule, so correct buffers fault too and the arm64 MTE tests would prove
# nothing.
# x86_64 needs 10.0: under bookworm's 7.2 with multi-threaded TCG a vCPU
# runs a stale translation of kernel text another vCPU has just patched
# (text_poke_bp()), and the guest crashes ("Oops: int3", or a soft lockup
# before 6.3): tools/vm/text-poke-stress.sh crashed 7 of 7 guests (5.10,
# 6.1, 6.12) within 3 s under 7.2, none of 6 in 60 s each under 10.0
# (tools/vm/README.md, "The wedge explained").  Every attach and detach of
# faultloop patches text, so under 7.2 the matrix failed on the emulator.
#
# When the host's qemu-system-ARCH is older, this script downloads
# qemu-system-arm, qemu-system-x86, qemu-system-common and qemu-system-data
# from bookworm-backports with a private apt setup (sources, lists and
# status under the cache; the host's apt configuration and dpkg database
# are never touched), unpacks them into
#   ${FAULTLOOP_CACHE:-/var/cache/faultloop}/qemu-10/
# together with any library package qemu depends on that the host lacks, and
# prints the path of a wrapper script there that runs the unpacked binary
# with its own modules (QEMU_MODULE_DIR), firmware/data (-L) and libraries
# (LD_LIBRARY_PATH).  Only that path goes to stdout; progress goes to stderr.
#
# A second call finds the complete tree and prints the path without touching
# the network.  FAULTLOOP_REFRESH=1 fetches again.  Exit status 1 if no
# suitable qemu can be had, 2 on bad usage.
#
# Environment:
#   FAULTLOOP_CACHE       cache root (default /var/cache/faultloop)
#   FAULTLOOP_MIRROR      Debian mirror (default http://deb.debian.org/debian)
#   FAULTLOOP_REFRESH=1   ignore an existing tree and fetch again
set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"
[[ $# -le 1 ]] || { printf 'usage: %s [aarch64|x86_64]\n' "$PROG" >&2; exit 2; }
ARCH=${1:-aarch64}
case $ARCH in
	aarch64) MIN_MAJOR=8 ;;
	x86_64) MIN_MAJOR=10 ;;
	*) printf 'usage: %s [aarch64|x86_64]\n' "$PROG" >&2; exit 2 ;;
esac

CACHE=${FAULTLOOP_CACHE:-/var/cache/faultloop}
MIRROR=${FAULTLOOP_MIRROR:-http://deb.debian.org/debian}

# major version of a qemu binary ($@: command), 0 if unknown
qemu_major() {
	"$@" --version 2>/dev/null | sed -n '1s/.*version \([0-9][0-9]*\)\..*/\1/p' | grep . || echo 0
}

# The host's own qemu is fine when it is new enough (trixie, a backports install).
if command -v "qemu-system-$ARCH" >/dev/null 2>&1 &&
	(($(qemu_major "qemu-system-$ARCH") >= MIN_MAJOR)); then
	command -v "qemu-system-$ARCH"
	exit 0
fi

mkdir -p "$CACHE" || die "cannot create cache dir $CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
TREE=$CACHE/qemu-10
WRAPPER=$TREE/qemu-system-$ARCH

# the x86 tree also needs its own SeaBIOS (below)
tree_ok() {
	[[ -x $WRAPPER ]] && (($(qemu_major "$WRAPPER") >= MIN_MAJOR)) &&
		[[ -e $TREE/root/usr/share/seabios/bios-256k.bin ]]
}
if [[ ${FAULTLOOP_REFRESH:-0} != 1 ]] && tree_ok; then
	printf '%s\n' "$WRAPPER"
	exit 0
fi

for tool in apt-get apt-cache dpkg-deb dpkg-query flock; do
	command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done
[[ $(uname -m) == x86_64 ]] || die "only x86_64 hosts are handled (have $(uname -m)); install qemu-system-$ARCH >= $MIN_MAJOR.0"

APTDIR=$CACHE/apt/bookworm-backports
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/preferences.d"
exec 9>"$APTDIR/.lock"
flock 9
if [[ ${FAULTLOOP_REFRESH:-0} != 1 ]] && tree_ok; then
	printf '%s\n' "$WRAPPER"
	exit 0
fi

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r $keyring ]] || keyring=/usr/share/keyrings/debian-archive-bookworm-automatic.gpg
[[ -r $keyring ]] || die "no Debian archive keyring in /usr/share/keyrings (install debian-archive-keyring)"
# bookworm main too: a library that qemu 10 needs and the host lacks comes
# from there (the backports build is linked against bookworm's libraries).
cat >"$APTDIR/sources.list" <<EOF
deb [arch=amd64 signed-by=$keyring] $MIRROR bookworm-backports main
deb [arch=amd64 signed-by=$keyring] $MIRROR bookworm main
EOF
[[ -e $APTDIR/status ]] || : >"$APTDIR/status"
APT_OPTS=(-q
	-o "Dir::Etc::sourcelist=$APTDIR/sources.list" -o "Dir::Etc::sourceparts=-"
	-o "Dir::Etc::preferences=$APTDIR/preferences" -o "Dir::Etc::preferencesparts=$APTDIR/preferences.d"
	-o "Dir::State::Lists=$APTDIR/lists" -o "Dir::State::status=$APTDIR/status"
	-o "Dir::Cache=$APTDIR/cache" -o "APT::Architectures=amd64")

stamp=$APTDIR/lists/.updated
if [[ ${FAULTLOOP_REFRESH:-0} == 1 || ! -e $stamp || -n $(find "$stamp" -mmin +1440 2>/dev/null) ]]; then
	log "updating private apt lists for bookworm-backports"
	out=$(apt-get "${APT_OPTS[@]}" update 2>&1) || { printf '%s\n' "$out" >&2; die "apt-get update for bookworm-backports failed"; }
	if grep -qE '^(W|E): .*(Failed to fetch|does not have a Release file|NO_PUBKEY|not signed)' <<<"$out"; then
		printf '%s\n' "$out" >&2
		die "apt-get update for bookworm-backports reported errors"
	fi
	touch "$stamp"
fi

# Newest qemu-system-arm with major >= MIN_MAJOR (the backports one); the
# x86 one of the same version goes into the same tree.
ver=$(apt-cache "${APT_OPTS[@]}" madison qemu-system-arm 2>/dev/null | awk -F' *[|] *' '{ print $2 }' |
	while read -r v; do
		m=${v#*:}
		m=${m%%.*}
		[[ $m =~ ^[0-9]+$ ]] && ((m >= MIN_MAJOR)) && { printf '%s\n' "$v"; break; }
	done) || true
[[ -n $ver ]] || die "no qemu-system-arm >= $MIN_MAJOR.0 in bookworm-backports (lists in $APTDIR/lists)"

dl=$(mktemp -d "$CACHE/.qemu-dl.XXXXXX")
work=""
cleanup() { rm -rf "$dl"; [[ -z $work ]] || rm -rf "$work"; }
trap cleanup EXIT
if id _apt >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then chown _apt "$dl"; fi

fetch() {	# PKG=VERSION ...
	local out
	out=$(cd "$dl" && apt-get "${APT_OPTS[@]}" download "$@" 2>&1) ||
		{ printf '%s\n' "$out" >&2; die "apt-get download $* failed"; }
}
log "downloading qemu-system-arm and qemu-system-x86 $ver (and -common, -data) from bookworm-backports"
fetch "qemu-system-arm=$ver" "qemu-system-x86=$ver" "qemu-system-common=$ver" \
	"qemu-system-data=$(apt-cache "${APT_OPTS[@]}" madison qemu-system-data | awk -F' *[|] *' -v v="${ver%%+*}" 'index($2, v) == 1 { print $2; exit }')"

# SeaBIOS from bookworm-backports too, whatever the host has: qemu 10
# depends on seabios >> 1.16.3-1~, and with bookworm's 1.16.2 an x86 guest
# sits 32 s in the BIOS before "Booting from ROM" (0.4 s with 1.16.3).
sbver=$(apt-cache "${APT_OPTS[@]}" madison seabios 2>/dev/null | awk -F' *[|] *' 'NR == 1 { print $2 }')
[[ -n $sbver ]] || die "no seabios in bookworm-backports (lists in $APTDIR/lists)"
log "downloading seabios $sbver from bookworm-backports"
fetch "seabios=$sbver"

# Library dependencies the host does not have (a fresh machine without the
# distribution's qemu): take bookworm's package and unpack it into the tree.
deps=$(for d in "$dl"/qemu-system-arm_*.deb "$dl"/qemu-system-x86_*.deb; do
	dpkg-deb -f "$d" Depends | tr ',' '\n'; done |
	sed -E 's/^ *//; s/ *\|.*//; s/ *\(.*//' | grep -vE '^(qemu-|libc6$|seabios$)' | sort -u || true)
missing=()
for p in $deps; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	log "libraries the host lacks, unpacked into the tree: ${missing[*]}"
	fetch "${missing[@]}"
fi

work=$(mktemp -d "$CACHE/.qemu-10.XXXXXX")
for deb in "$dl"/*.deb; do
	dpkg-deb -x "$deb" "$work/root" || die "dpkg-deb -x failed on ${deb##*/}"
done
printf '%s\n' "$ver" >"$work/VERSION"
# The wrappers resolve their own directory, so the tree may be moved.  The
# firmware: the tree's (qemu-system-data links bios-256k.bin to
# ../seabios, the tree's SeaBIOS), then the host's for what else.  Callers
# add -audio none: the host's qemu modules (7.2) must not be probed ("Only
# modules from the same build can be loaded").
for a in aarch64 x86_64; do
	cat >"$work/qemu-system-$a" <<EOF
#!/bin/sh
# qemu-system-$a from bookworm-backports, unpacked by tools/fetch-qemu.sh
d=\$(cd "\$(dirname "\$0")" && pwd -P)/root
export QEMU_MODULE_DIR="\$d/usr/lib/x86_64-linux-gnu/qemu"
export LD_LIBRARY_PATH="\$d/usr/lib/x86_64-linux-gnu:\$d/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
case " \$* " in
*" --version "*|*" -version "*|*" --help "*|*" -h "*) exec "\$d/usr/bin/qemu-system-$a" "\$@" ;;
esac
exec "\$d/usr/bin/qemu-system-$a" -L "\$d/usr/share/qemu" -L "\$d/usr/share/seabios" \\
	-L /usr/share/qemu "\$@"
EOF
	chmod 755 "$work/qemu-system-$a"
	if LD_LIBRARY_PATH=$work/root/usr/lib/x86_64-linux-gnu ldd "$work/root/usr/bin/qemu-system-$a" | grep -q 'not found'; then
		LD_LIBRARY_PATH=$work/root/usr/lib/x86_64-linux-gnu ldd "$work/root/usr/bin/qemu-system-$a" | grep 'not found' >&2
		die "the unpacked qemu-system-$a misses libraries"
	fi
done
chmod 755 "$work"
rm -rf "$TREE.old"
[[ ! -e $TREE ]] || mv "$TREE" "$TREE.old"
mv "$work" "$TREE"
work=""
rm -rf "$TREE.old"
tree_ok || die "unpacked qemu in $TREE does not run"
log "qemu $("$WRAPPER" --version | head -n1 | sed 's/.*version //') ready in $TREE"
printf '%s\n' "$WRAPPER"
