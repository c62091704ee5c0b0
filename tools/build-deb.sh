#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# tools/build-deb.sh [ARCH...]   (default: amd64 arm64)
#
# Build the Debian package from debian/ with dpkg-buildpackage (debhelper),
# natively for this machine's architecture and cross-built for the others,
# and leave .output/deb/faultloop_VERSION_ARCH.deb.  Each build runs in a
# copy of the source tree under .output/deb/ (the checkout's own .output/,
# ./faultloop and debian/ stay untouched), made of the files git knows
# (committed or not, untracked ones included unless ignored) or, outside a
# git checkout, of everything but .output/.  Every package is then checked
# with lintian: an error fails the build, warnings are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
readonly PROG=build-deb
# shellcheck source=tools/lib.sh
. tools/lib.sh

arches=("$@")
((${#arches[@]})) || arches=(amd64 arm64)
for a in "${arches[@]}"; do
	case $a in amd64|arm64) ;; *) die "unsupported architecture '$a' (amd64, arm64)" ;; esac
done
for t in dpkg-buildpackage dh lintian help2man; do
	command -v "$t" >/dev/null || die "$t is missing: run tools/install-deps.sh"
done

version=$(dpkg-parsechangelog -S Version)
build_arch=$(dpkg --print-architecture)
out=.output/deb
mkdir -p "$out"

files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# tracked (as in the work tree) and untracked-but-not-ignored files
		# that exist: a fresh clone and a checkout with edits both build
		git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done
	else
		find . -path ./.output -prune -o \( -type f -o -type l \) -print0
	fi
}

rc=0
for arch in "${arches[@]}"; do
	t0=$(date +%s)
	top=$out/build-$arch
	src=$top/faultloop-$version
	rm -rf "$top"
	mkdir -p "$src"
	files | tar -c --null -T - -f - | tar -x -C "$src" -f -
	opts=(-b -us -uc -j2) how=native
	[[ $arch == "$build_arch" ]] || { opts+=(-a"$arch"); how=cross; }
	log "building faultloop $version for $arch ($how) in $src"
	if ! (cd "$src" && dpkg-buildpackage "${opts[@]}") >"$top/build.log" 2>&1; then
		tail -30 "$top/build.log" >&2
		die "dpkg-buildpackage for $arch failed (log: $top/build.log)"
	fi
	deb=$top/faultloop_${version}_$arch.deb
	[[ -s $deb ]] || die "dpkg-buildpackage for $arch left no ${deb##*/}"
	cp -f "$deb" "$out/"
	log "$out/${deb##*/} ($(($(date +%s) - t0))s): $(dpkg-deb -f "$deb" Depends)"
	# lintian on the .changes (the .deb, the .buildinfo), every tag shown:
	# info, pedantic and experimental ones, and overridden ones (O:) with
	# the reason debian/faultloop.lintian-overrides gives; as nobody when
	# root (lintian warns against running as root)
	as=()
	[[ $(id -u) -ne 0 ]] || ! id nobody >/dev/null 2>&1 || as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	"${as[@]}" env HOME=/tmp lintian --display-info --pedantic --display-experimental --show-overrides \
		--tag-display-limit 0 "$top"/faultloop_"${version}"_"$arch".changes >"$top/lintian.txt" 2>&1 || true
	sed "s|^|  lintian $arch: |" "$top/lintian.txt" >&2
	[[ -s $top/lintian.txt ]] || echo "  lintian $arch: no tag" >&2
	if grep -q '^E: ' "$top/lintian.txt"; then
		echo "$PROG: error: lintian reports errors for $arch" >&2
		rc=1
	fi
done
exit $rc
