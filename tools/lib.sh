# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared by the tools/ scripts: source after setting PROG.
# shellcheck shell=bash

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

# The Debian suites the kernel tools fetch from (tools/fetch-kernel.sh) and
# boot (tools/vm/run-vm.sh): the three releases, trixie-backports (whose
# release carries no busybox and no dependencies of its own: its base,
# trixie, comes along) and sid.
DEBIAN_SUITES="bullseye bookworm trixie trixie-backports sid"
known_suite() { [[ " $DEBIAN_SUITES " == *" $1 "* ]]; }

# Install the Debian packages providing missing tools ("cmd:package" pairs),
# quietly; apt's output is shown only if the install fails.
ensure_tools() {
	local spec missing=()
	for spec in "$@"; do
		command -v "${spec%%:*}" >/dev/null 2>&1 || missing+=("${spec#*:}")
	done
	[[ ${#missing[@]} -gt 0 ]] || return 0
	[[ $(id -u) -eq 0 ]] || die "missing packages ${missing[*]}; install them or run as root"
	log "installing ${missing[*]}"
	local outp
	if ! outp=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" 2>&1); then
		# A fresh machine may have no package lists yet.
		outp=$(apt-get update -q 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" 2>&1) ||
			{ printf '%s\n' "$outp" >&2; die "apt-get install ${missing[*]} failed"; }
	fi
}

# The small btrfs image the VM scenarios attach read-only, made once:
#   img=$(btrfs_image)
btrfs_image() {
	# tools/eio-image.sh: a btrfs image whose /eio reads fail with EIO (the
	# MADV_POPULATE loop of tests/vm/loops.sh); the btrfs searches only
	# need a btrfs
	local img=.output/btrfs-eio.img
	if [[ ! -s $img ]]; then
		PATH=$PATH:/usr/sbin:/sbin
		ensure_tools mkfs.btrfs:btrfs-progs filefrag:e2fsprogs
		mkdir -p .output
		tools/eio-image.sh "$img.tmp.$$" >&2 || die "cannot make the btrfs image"
		mv "$img.tmp.$$" "$img"
	fi
	printf '%s\n' "$img"
}
