#!/usr/bin/env bash
# fetch-kernel.sh SUITE ARCH
#
# Download the newest Debian kernel of SUITE (the "cloud" flavour when the
# suite has one for ARCH, otherwise the generic flavour) and unpack it into
#   ${FAULTLOOP_CACHE:-/var/cache/faultloop}/kernels/SUITE-ARCH/
# A flavoured suite (tools/lib.sh: RELEASE-rt, trixie-16k) takes that
# flavour's kernel from RELEASE's archives instead (linux-image-rt-ARCH,
# linux-image-arm64-16k) into its own tree, kernels/trixie-rt-arm64/; the
# apt lists are RELEASE's, shared with its other flavours.
# Two package layouts: up to 6.x linux-image-KVER holds boot/vmlinuz-KVER and
# the modules; from 7.x (sid, trixie-backports) linux-image-KVER is a
# metapackage and the kernel is split into linux-binary-KVER
# (usr/lib/modules/KVER/vmlinuz, nothing in /boot), linux-modules-KVER and
# linux-base-KVER (modules.builtin, config, System.map), all three unpacked.
# The absolute path of that tree is the only thing printed on stdout; progress
# goes to stderr. The tree contains boot/vmlinuz-KVER, lib/modules/KVER/ and a
# file KVER holding the exact kernel release string (as `uname -r` reports it
# in a guest), plus PACKAGE ("name version" of the versioned image package) for
# provenance.
#
# A second call finds the complete tree and prints its path without touching
# the network. Set FAULTLOOP_REFRESH=1 to re-resolve and re-download (e.g. to
# pick up a newer security update).
#
# The host's apt configuration is never modified: apt runs with private
# sources, lists, cache and status under the cache dir.
#
# Environment:
#   FAULTLOOP_CACHE            cache root (default /var/cache/faultloop)
#   FAULTLOOP_MIRROR           Debian mirror (default http://deb.debian.org/debian)
#   FAULTLOOP_SECURITY_MIRROR  security mirror (default http://deb.debian.org/debian-security)
#   FAULTLOOP_REFRESH=1        ignore an existing tree and fetch again
set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"
usage() { printf 'usage: %s SUITE ARCH   (SUITE: %s, ARCH: amd64|arm64)\n' "$PROG" "${DEBIAN_SUITES// /|}" >&2; exit 2; }

[[ $# -eq 2 ]] || usage
SUITE=$1
ARCH=$2
known_suite "$SUITE" || die "unsupported suite '$SUITE' (want one of: $DEBIAN_SUITES)"
case $ARCH in amd64|arm64) ;; *) die "unsupported arch '$ARCH' (want amd64 or arm64)";; esac
RELEASE=$(suite_release "$SUITE")
FLAVOUR=$(suite_flavour "$SUITE")
# The flavour's meta-packages, preferred first, and the `uname -r` suffix of
# the kernel they must lead to (a meta-package that named another flavour's
# kernel would silently boot the wrong configuration).
case $FLAVOUR in
	"") METAS=("linux-image-cloud-$ARCH" "linux-image-$ARCH") KVER_RE="-(cloud-)?$ARCH\$" ;;
	rt) METAS=("linux-image-rt-$ARCH") KVER_RE="-rt-$ARCH\$" ;;
	16k)
		[[ $ARCH == arm64 ]] || die "the 16k flavour is arm64 only (Debian's linux-image-arm64-16k), not $ARCH"
		METAS=("linux-image-arm64-16k") KVER_RE="-arm64-16k\$"
		;;
esac

CACHE=${FAULTLOOP_CACHE:-/var/cache/faultloop}
MIRROR=${FAULTLOOP_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${FAULTLOOP_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# debian-archive-keyring.gpg on bookworm carries the bullseye, bookworm and
# trixie archive keys; the per-release files are a fallback for hosts whose
# combined keyring is older or newer than the suite being fetched.
KEYRING_DIR=/usr/share/keyrings

mkdir -p "$CACHE" || die "cannot create cache dir $CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
TREE=$CACHE/kernels/$SUITE-$ARCH

# A tree is complete only if the final rename happened, which happens after
# KVER is written; checking the files too guards against manual tampering.
tree_complete() {
	[[ -s $TREE/KVER ]] || return 1
	local kver
	kver=$(<"$TREE/KVER")
	[[ -f $TREE/boot/vmlinuz-$kver && -d $TREE/lib/modules/$kver ]]
}

if [[ ${FAULTLOOP_REFRESH:-0} != 1 ]] && tree_complete; then
	printf '%s\n' "$TREE"
	exit 0
fi

for tool in apt-get apt-cache dpkg-deb flock; do
	command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done

# One private apt root per release: mixing suites in one sources list would
# make apt's candidate the newest version across *all* suites (trixie's 6.12
# would win over bullseye's 5.10), so each gets its own lists.  The flavours
# of a release share them (tools/vm/run-vm.sh takes busybox from the same).
APTDIR=$CACHE/apt/$RELEASE
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/preferences.d" \
	"$CACHE/kernels" "$CACHE/debs"

# Serialise concurrent callers (e.g. parallel test runs) per suite: they share
# the lists dir, and apt-get update refuses to run on a locked lists dir.
exec 9>"$APTDIR/.lock"
flock 9

# Another caller may have finished the same tree while we waited for the lock.
if [[ ${FAULTLOOP_REFRESH:-0} != 1 ]] && tree_complete; then
	printf '%s\n' "$TREE"
	exit 0
fi

# The release a suite is published in: a backports suite lives in its base
# release (Release file, signing key), whose lists come along since run-vm.sh
# takes busybox-static from the same lists and backports carry none.  Only
# the suite's own archives are searched for its kernel (KERNEL_ARCHIVES).
# sid has no security suite and no key of its own: it is signed with the
# current releases' keys, which the combined keyring holds.
BASE=${RELEASE%-backports}
case $RELEASE in
	sid) KERNEL_ARCHIVES=(sid) ;;
	*-backports) KERNEL_ARCHIVES=("$RELEASE") ;;
	# the security suite carries the newest kernel of a stable release
	# (bullseye LTS kernels are only there)
	*) KERNEL_ARCHIVES=("$RELEASE" "$RELEASE-security") ;;
esac

# Pick the keyring for one archive ($1 = "" for the main archive, "-security"
# for the security archive). Prefer the combined keyring when it holds this
# suite's key (uids read "(12/bookworm)"); otherwise use the per-release file
# (debian-archive-bookworm-security-automatic.gpg, ...).
pick_keyring() {
	# trixie's keyring package names its files *.pgp; bookworm's use *.gpg.
	local combined=$KEYRING_DIR/debian-archive-keyring.gpg
	local single=$KEYRING_DIR/debian-archive-$BASE$1-automatic.gpg
	[[ -r $combined || ! -r ${combined%.gpg}.pgp ]] || combined=${combined%.gpg}.pgp
	[[ -r $single || ! -r ${single%.gpg}.pgp ]] || single=${single%.gpg}.pgp
	local label="Debian Archive Automatic Signing Key"
	[[ -z $1 ]] || label="Debian Security Archive Automatic Signing Key"
	if [[ -r $combined ]] && command -v gpg >/dev/null 2>&1 &&
		gpg --no-default-keyring --keyring "$combined" --list-keys 2>/dev/null |
		grep -F "$label (" | grep -qF "/$BASE)"; then
		printf '%s\n' "$combined"
	elif [[ -r $single ]]; then
		printf '%s\n' "$single"
	elif [[ -r $combined ]]; then
		# Let apt report the real signature problem rather than guessing here.
		printf '%s\n' "$combined"
	else
		die "no Debian archive keyring found in $KEYRING_DIR (install debian-archive-keyring)"
	fi
}
KEYRING=$(pick_keyring "")
[[ $BASE == sid ]] || SEC_KEYRING=$(pick_keyring -security)
# Both architectures go in, so one `apt-get update` serves amd64 and arm64 of
# the same suite.
{
	[[ $RELEASE == "$BASE" ]] ||
		printf 'deb [arch=amd64,arm64 signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$RELEASE"
	printf 'deb [arch=amd64,arm64 signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$BASE"
	[[ $BASE == sid ]] ||
		printf 'deb [arch=amd64,arm64 signed-by=%s] %s %s-security main\n' "$SEC_KEYRING" \
			"$SECURITY_MIRROR" "$BASE"
} >"$APTDIR/sources.list.tmp"
mv -f "$APTDIR/sources.list.tmp" "$APTDIR/sources.list"
# An empty dpkg status keeps the host's installed packages (and their pins)
# from influencing which version apt picks.
[[ -e $APTDIR/status ]] || : >"$APTDIR/status"

APT_OPTS=(
	-o "Dir::Etc::sourcelist=$APTDIR/sources.list"
	-o "Dir::Etc::sourceparts=-"
	-o "Dir::Etc::preferences=$APTDIR/preferences"
	-o "Dir::Etc::preferencesparts=$APTDIR/preferences.d"
	-o "Dir::State::Lists=$APTDIR/lists"
	-o "Dir::State::status=$APTDIR/status"
	-o "Dir::Cache=$APTDIR/cache"
	-o "APT::Architectures=amd64,arm64"
	-o "APT::Get::List-Cleanup=true"
	-q
)

# Refresh the lists when they are missing, when asked to, or when older than a
# day (security kernels are superseded quickly and old .debs vanish from the
# mirror, which would make `apt-get download` fail with a 404).
stamp=$APTDIR/lists/.updated
updated=0
update_lists() {
	log "updating private apt lists for $RELEASE"
	if ! out=$(apt-get "${APT_OPTS[@]}" update 2>&1); then
		printf '%s\n' "$out" >&2
		die "apt-get update failed for $RELEASE (mirror $MIRROR)"
	fi
	# apt-get update exits 0 on some fetch failures; treat its warnings as fatal
	# for a missing release file, since we would otherwise silently use nothing.
	if grep -qE '^(W|E): .*(Failed to fetch|does not have a Release file|NO_PUBKEY|not signed)' <<<"$out"; then
		printf '%s\n' "$out" >&2
		die "apt-get update for $RELEASE reported errors"
	fi
	touch "$stamp"
	updated=1
}
if [[ ${FAULTLOOP_REFRESH:-0} == 1 || ! -e $stamp || -n $(find "$stamp" -mmin +1440 2>/dev/null) ]]; then
	update_lists
fi

# Print "PKG VERSION" lines, most preferred first, for the versioned image
# packages that could provide this kernel. The flavour meta-package
# (linux-image-cloud-ARCH, METAS) only depends on the versioned package
# (linux-image-6.1.0-28-cloud-amd64 (= 6.1.119-1)). Older versions and the
# -unsigned twin are listed too because a mirror can lack the newest file for
# one architecture even though the index names it (seen for bullseye-security
# arm64). Only versions from the suite's own archives count: a backports
# suite's lists also hold its base release, whose older kernel is not the
# backports kernel.
image_candidates() {
	local meta ver dep
	for meta in "${METAS[@]}"; do
		# madison lists every version known to the lists, newest first.
		while read -r ver; do
			dep=$(apt-cache "${APT_OPTS[@]}" show "$meta:$ARCH=$ver" 2>/dev/null |
				awk -F': ' '$1 == "Depends" { print $2; exit }' |
				tr ',|' '\n' | sed -E 's/^ +//; s/:[a-z0-9]+ / /' |
				grep -E '^linux-image-[0-9][^ ]* \(= [^)]+\)' | head -n1) || true
			[[ -n $dep ]] || continue
			# "linux-image-X (= V)" -> "linux-image-X V"
			dep=$(sed -E 's/ \(= ([^)]+)\)/ \1/' <<<"$dep")
			printf '%s\n' "$dep"
			printf '%s-unsigned %s\n' "${dep% *}" "${dep#* }"
		done < <(apt-cache "${APT_OPTS[@]}" madison "$meta:$ARCH" 2>/dev/null |
			awk -F' *[|] *' -v keep=" ${KERNEL_ARCHIVES[*]} " '
				{ split($3, a, " "); sub(/\/.*/, "", a[2]) }
				index(keep, " " a[2] " ") { print $2 }' | awk '!seen[$0]++')
	done
}

# The packages to unpack for versioned image package $1 at version $2, one
# "PKG VERSION" line each. Up to 6.x that is the image package itself; from
# 7.x (Debian's kernel packaging split) the image is a metapackage whose
# Depends name linux-binary-KVER (vmlinuz), linux-modules-KVER and
# linux-base-KVER (modules.builtin, which run-vm.sh needs to tell a built-in
# virtio_pci from a missing one) at the same version.
image_parts() {
	local deps
	deps=$(apt-cache "${APT_OPTS[@]}" show "$1:$ARCH=$2" 2>/dev/null |
		awk -F': ' '$1 == "Depends" { print $2; exit }' | tr ',|' '\n' |
		sed -E 's/^ +//; s/:[a-z0-9]+ / /' |
		sed -nE 's/^(linux-(binary|modules|base)-[0-9][^ ]*) \(= ([^)]+)\)$/\1 \3/p')
	if grep -q '^linux-binary-' <<<"$deps"; then
		if ! grep -q '^linux-modules-' <<<"$deps" || ! grep -q '^linux-base-' <<<"$deps"; then
			die "$1 $2 names linux-binary but not both linux-modules and linux-base: $(tr '\n' ' ' <<<"$deps")"
		fi
		printf '%s\n' "$deps"
	else
		printf '%s %s\n' "$1" "$2"
	fi
}

# Download into a directory _apt can write to, so apt keeps its privilege drop
# for the download instead of warning and falling back to root.
dl=$(mktemp -d "$CACHE/debs/.dl.XXXXXX")
work=""
cleanup() {
	rm -rf "$dl"
	[[ -z $work ]] || rm -rf "$work"
}
trap cleanup EXIT
if id _apt >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
	chown _apt "$dl"
fi

# Path of the .deb of package $1 version $2 in the cache, downloaded if
# needed; fails (with a log line) when the mirror does not serve it.
fetch_deb() {
	local pkg=$1 ver=$2 cached out got
	# dpkg file names encode the epoch colon as %3a; kernel versions have
	# none, but keep the glob tolerant.
	cached=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*${ver#*:}_$ARCH.deb" -print -quit)
	if [[ -n $cached ]] && dpkg-deb --info "$cached" >/dev/null 2>&1; then
		log "reusing $cached"
		printf '%s\n' "$cached"
		return 0
	fi
	log "downloading $pkg:$ARCH=$ver"
	if out=$(cd "$dl" && apt-get "${APT_OPTS[@]}" download "$pkg:$ARCH=$ver" 2>&1); then
		got=$(find "$dl" -maxdepth 1 -name '*.deb' -print -quit)
		if [[ -n $got ]]; then
			mv -f "$got" "$CACHE/debs/${got##*/}"
			printf '%s\n' "$CACHE/debs/${got##*/}"
			return 0
		fi
	fi
	log "download of $pkg $ver failed: $(grep -E '^E: ' <<<"$out" | head -n1 || true)"
	return 1
}

# Resolve and download; if nothing downloads with lists under a day old, the
# suite moved on since they were fetched (sid replaces its kernel within
# days and the pool drops the old files): fetch the lists once more, retry.
debs=() image=""
while :; do
	mapfile -t cands < <(image_candidates)
	[[ ${#cands[@]} -gt 0 ]] || die "no ${METAS[*]} in ${KERNEL_ARCHIVES[*]} (lists in $APTDIR/lists)"
	for c in "${cands[@]}"; do
		pkg=${c% *}
		pkg_ver=${c#* }
		# Only consider versions the lists actually carry for this arch (the
		# -unsigned twin does not exist for every flavour).
		apt-cache "${APT_OPTS[@]}" show "$pkg:$ARCH=$pkg_ver" >/dev/null 2>&1 || continue
		mapfile -t parts < <(image_parts "$pkg" "$pkg_ver")
		debs=()
		for part in "${parts[@]}"; do
			deb=$(fetch_deb "${part% *}" "${part#* }") || { debs=(); break; }
			debs+=("$deb")
		done
		if ((${#debs[@]})); then
			image="$pkg $pkg_ver"
			break
		fi
	done
	((${#debs[@]} == 0 && !updated)) || break
	update_lists
done
((${#debs[@]})) || die "could not download any kernel image for $SUITE/$ARCH"

# Extract next to the final location and rename into place, so an interrupted
# run never leaves a half-populated tree that tree_complete() would accept.
work=$(mktemp -d "$CACHE/kernels/.$SUITE-$ARCH.XXXXXX")
for deb in "${debs[@]}"; do
	log "extracting ${deb##*/}"
	dpkg-deb -x "$deb" "$work" || die "dpkg-deb -x failed on $deb"
done

# trixie's packages install under /usr/lib (merged /usr); expose lib/ so that
# consumers always find lib/modules/KVER at the same place.
if [[ ! -e $work/lib && -d $work/usr/lib ]]; then
	ln -s usr/lib "$work/lib"
fi

shopt -s nullglob
vmlinuz=("$work"/boot/vmlinuz-*)
mods=("$work"/lib/modules/*/)
# 7.x: linux-binary installs only lib/modules/KVER/vmlinuz; the tree keeps
# boot/vmlinuz-KVER for every suite (run-vm.sh, gen-vmlinux.sh).
if ((${#vmlinuz[@]} == 0 && ${#mods[@]} == 1)) && [[ -f ${mods[0]}vmlinuz ]]; then
	mkdir -p "$work/boot"
	kver=${mods[0]%/}
	kver=${kver##*/}
	ln "${mods[0]}vmlinuz" "$work/boot/vmlinuz-$kver"
	vmlinuz=("$work/boot/vmlinuz-$kver")
fi
shopt -u nullglob
[[ ${#vmlinuz[@]} -eq 1 ]] || die "expected exactly one boot/vmlinuz-* in ${debs[*]##*/}, found ${#vmlinuz[@]}"
[[ ${#mods[@]} -eq 1 ]] || die "expected exactly one lib/modules/* in ${debs[*]##*/}, found ${#mods[@]}"
kver=${vmlinuz[0]##*/vmlinuz-}
mdir=${mods[0]%/}
[[ ${mdir##*/} == "$kver" ]] || die "vmlinuz version '$kver' does not match modules dir '${mdir##*/}'"
# A split kernel whose modules package is missing would boot without btrfs.
[[ -d $mdir/kernel ]] || die "no modules in lib/modules/$kver (unpacked ${debs[*]##*/})"
[[ $kver =~ $KVER_RE ]] || die "${image% *} unpacked kernel $kver, not the ${FLAVOUR:-cloud/generic} flavour of $ARCH"

printf '%s\n' "$kver" >"$work/KVER"
# the versioned image package: on 7.x its linux-binary, -modules and -base
# parts, unpacked above, have the same version
printf '%s\n' "$image" >"$work/PACKAGE"
chmod 755 "$work"

rm -rf "$TREE.old"
[[ ! -e $TREE ]] || mv "$TREE" "$TREE.old"
mv "$work" "$TREE"
work=""
rm -rf "$TREE.old"
log "kernel $kver ready"
printf '%s\n' "$TREE"
