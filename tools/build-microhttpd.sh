#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Build a static libmicrohttpd without HTTPS for static faultloop builds.
#   tools/build-microhttpd.sh ARCH PREFIX      (ARCH: x86_64 or arm64; CC from the environment)
#
# Debian's libmicrohttpd.a needs gnutls and p11-kit, which ship no static
# libraries, so static builds link one built here from Debian's own source
# package (the version of the installed libmicrohttpd-dev, else the newest),
# configured without HTTPS. The source comes through a private deb-src list
# (derived from this machine's apt sources; the system's sources and lists
# are not touched) and is cached, as is the result: PREFIX is rebuilt only
# when the version, the flags or the compiler change. Quiet unless it
# builds (one line) or fails (the tail of its log).
set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

(($# == 2)) || die "usage: $0 ARCH PREFIX"
arch=$1 prefix=$2
case $arch in
x86_64) host=x86_64-linux-gnu; : "${CC:=cc}" ;;
arm64) host=aarch64-linux-gnu; : "${CC:=aarch64-linux-gnu-gcc}" ;;
*) die "unsupported ARCH $arch (x86_64, arm64)" ;;
esac
prefix=$(realpath -m "$prefix")
cache=$(dirname "$prefix")	# shared by the arches: sources, apt lists, logs

CONF=(--enable-static --disable-shared --disable-https --without-gnutls
      --disable-doc --disable-examples --disable-curl --disable-nls --with-threads=posix)
[[ $arch == "$(uname -m | sed s/aarch64/arm64/)" ]] || CONF+=(--host="$host")

want=$(dpkg-query -W -f='${source:Version}\n' libmicrohttpd-dev 2>/dev/null | head -n1 || true)
key="libmicrohttpd ${want:-newest} $arch CC=$CC ${CONF[*]}"
stamp=$prefix/faultloop.stamp
up_to_date() { [[ -f $prefix/lib/libmicrohttpd.a && -f $stamp && $(<"$stamp") == "$key" ]]; }
up_to_date && exit 0

mkdir -p "$cache" 2>/dev/null && [[ -w $cache ]] ||
	die "cannot write $cache: run as root, or point FL_CACHE at a writable directory"
exec 9>"$cache/.lock"
flock 9			# another make (other arch, same cache) may be building
up_to_date && exit 0

log=$cache/build-$arch.log
work=$(mktemp -d "$cache/build-$arch.XXXXXX")
: >"$log"
finish() {
	local rc=$?
	rm -rf "$work"
	if ((rc)); then
		tail -n 30 "$log" >&2
		printf '%s: error: build failed (log: %s)\n' "$PROG" "$log" >&2
	fi
	exit "$rc"
}
trap finish EXIT

# --- Debian source package, through a private deb-src list -------------------
src=$cache/src
apt=$cache/apt
mkdir -p "$src" "$apt/sources.list.d" "$apt/lists/partial"
APT=(apt-get -q -o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts="$apt/sources.list.d"
     -o Dir::State::Lists="$apt/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
     -o APT::Sandbox::User=root)
dsc=
if [[ -n $want ]]; then
	dsc=$src/libmicrohttpd_${want#*:}.dsc
	[[ -f $dsc ]] || dsc=
fi
if [[ -z $dsc ]]; then
	# The machine's own mirrors, as deb-src: one-line and deb822 sources.
	sed -nE 's/^[[:space:]]*deb(-src)?([[:space:]])/deb-src\2/p' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list >"$apt/sources.list" 2>/dev/null || true
	rm -f "$apt/sources.list.d/"*.sources
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$apt/sources.list.d/${f##*/}"
	done
	# A third-party repository without sources makes update fail, the
	# Debian lists are fetched all the same: apt-get source says if not.
	"${APT[@]}" update >>"$log" 2>&1 || true
	(
		cd "$src"
		"${APT[@]}" source --download-only "libmicrohttpd${want:+=$want}" >>"$log" 2>&1 ||
			{ [[ -n $want ]] && echo "libmicrohttpd $want not found, taking the newest" >>"$log" &&
				"${APT[@]}" source --download-only libmicrohttpd >>"$log" 2>&1; }
	)
	dsc=$(ls -t "$src"/libmicrohttpd_*.dsc | head -n1)
fi
ver=$(sed -n 's/^Version: //p' "$dsc")

# --- build, install into a staging dir, then swap ----------------------------
printf '  %-8s %s\n' MHD "$prefix (libmicrohttpd $ver, $arch, no HTTPS)"
{
	dpkg-source -x "$dsc" "$work/src"
	cd "$work/src"
	# no gnutls/libgcrypt from the build machine's pkg-config
	PKG_CONFIG_LIBDIR=/nonexistent CC=$CC CFLAGS=-O2 ./configure --prefix="$prefix" "${CONF[@]}"
	make -j"$(nproc)"
	make install DESTDIR="$work/stage"
} >>"$log" 2>&1
[[ -f $work/stage$prefix/lib/libmicrohttpd.a ]] || die "no libmicrohttpd.a installed"
printf '%s\n' "$key" >"$work/stage$prefix/faultloop.stamp"
rm -rf "$prefix.old"
[[ ! -e $prefix ]] || mv "$prefix" "$prefix.old"
mv "$work/stage$prefix" "$prefix"
rm -rf "$prefix.old"
