#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# build-rootfs.sh SUITE ARCH [PACKAGE...]
#
# A bootable Debian root filesystem with systemd as init, for the kernel
# that tools/fetch-kernel.sh fetched for SUITE/ARCH: mmdebstrap from the
# Debian mirror (the root filesystem's release is SUITE without a
# "-backports" suffix), the kernel's modules and an initramfs made inside it
# by Debian's own initramfs-tools, and the extra PACKAGEs (e.g. a package's
# run-time dependencies, to install it offline in the guest).  Cached under
#   ${FAULTLOOP_CACHE:-/var/cache/faultloop}/rootfs/SUITE-ARCH-KEY/
# keyed by this script, the suite, the kernel and the packages, and built
# once; prints that directory, which holds:
#   rootfs.img   raw ext4 image (boot it with snapshot=on: it stays pristine)
#   rootfs.tar   the same tree as a tarball (a chroot without systemd)
#   vmlinuz initrd.img KVER
#
# The guest runs /payload/run.sh from its second disk (/dev/vdb, any file
# system the kernel mounts) once multi-user.target is reached, with its
# output on ttyS0, then powers off (faultloop-vm-payload.service).  Getty
# and network time are masked; there is no network (-nic none).  The host
# need not wait for the power-off: the disk is a snapshot.
set -euo pipefail
readonly PROG=${0##*/}
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/../lib.sh"
(($# >= 2)) || { echo "usage: $PROG SUITE ARCH [PACKAGE...]" >&2; exit 2; }
suite=$1 arch=$2
shift 2
extra=("$@")
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
CACHE=${FAULTLOOP_CACHE:-/var/cache/faultloop}
MIRROR=${FAULTLOOP_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${FAULTLOOP_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
release=${suite%-backports}
[[ $(id -u) -eq 0 ]] || die "needs root (mmdebstrap, chroot)"
PATH=$PATH:/usr/sbin:/sbin
ensure_tools mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs flock:util-linux

tree=$("$SCRIPT_DIR/../fetch-kernel.sh" "$suite" "$arch") || die "fetch-kernel.sh $suite $arch failed"
kver=$(<"$tree/KVER")

# everything a Debian server has for systemd to run as on a real host;
# curl for the metrics, procps for ps
packages=(systemd systemd-sysv udev dbus kmod initramfs-tools zstd procps curl
	libpam-systemd iproute2 "${extra[@]}")
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)

key=$( {
	printf '%s\n' "$suite" "$arch" "$kver" "${packages[*]}" "$MIRROR"
	cat "${BASH_SOURCE[0]}"
	cat "$tree/PACKAGE"
} | sha256sum | cut -c1-16)
dir=$CACHE/rootfs/$suite-$arch-$key
mkdir -p "$CACHE/rootfs"
exec 7>"$CACHE/rootfs/.lock"
flock 7
if [[ -s $dir/rootfs.img && -s $dir/initrd.img ]]; then
	touch "$dir"
	printf '%s\n' "$dir"
	exit 0
fi

t0=$(date +%s)
log "building the $release/$arch root filesystem for $kver (${packages[*]})"
work=$(mktemp -d "$CACHE/rootfs/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

sources="deb $MIRROR $release main"
case $release in
	sid|unstable) ;;
	*) sources+=$'\n'"deb $MIRROR $release-updates main"$'\n'"deb $SECURITY_MIRROR $release-security main" ;;
esac

# The guest's own files, written by the customize hook.
cat >"$work/payload.service" <<'UNIT'
[Unit]
Description=faultloop VM payload (/payload/run.sh from /dev/vdb)
After=multi-user.target

[Service]
# exec, not oneshot: the boot finishes (systemctl is-system-running) while
# the payload runs
Type=exec
Environment=SYSTEMD_COLORS=0 SYSTEMD_PAGER= TERM=dumb
ExecStartPre=/bin/mkdir -p /payload
ExecStartPre=/bin/mount -o ro /dev/vdb /payload
ExecStart=/payload/run.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Install]
WantedBy=multi-user.target
UNIT

# Debian's 7.x packages keep config and System.map beside the modules
# (/usr/lib/modules/KVER/, copied with them) and nothing in /boot; 6.x and
# older have them in /boot
if [[ -e $tree/boot/config-$kver ]]; then
	boot_files="cp '$tree/boot/config-$kver' '$tree/boot/System.map-$kver' \"\$1/boot/\""
else
	boot_files=true
fi

# root: chroot mode (this runs as root; no user namespaces needed)
if ! mmdebstrap --mode=root --variant=minbase --architectures="$arch" \
	--include="$(IFS=,; echo "${packages[*]}")" \
	--customize-hook='mkdir -p "$1/lib/modules" "$1/boot"' \
	--customize-hook="cp -a '$tree/lib/modules/$kver' \"\$1/lib/modules/\"" \
	--customize-hook="$boot_files" \
	--customize-hook="chroot \"\$1\" depmod -a '$kver'" \
	--customize-hook="chroot \"\$1\" update-initramfs -c -k '$kver'" \
	--customize-hook="cp '$work/payload.service' \"\$1/etc/systemd/system/faultloop-vm-payload.service\"" \
	--customize-hook='chroot "$1" systemctl enable faultloop-vm-payload.service' \
	--customize-hook='chroot "$1" systemctl mask getty@tty1.service serial-getty@ttyS0.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer 2>/dev/null || true' \
	--customize-hook='chroot "$1" systemctl set-default multi-user.target' \
	--customize-hook='echo faultloop-vm >"$1/etc/hostname"' \
	--customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 faultloop-vm\n" >"$1/etc/hosts"' \
	--customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 0\n" >"$1/etc/fstab"' \
	--customize-hook="cp \"\$1/boot/initrd.img-$kver\" '$work/initrd.img'" \
	"$release" "$work/root" - <<<"$sources" >"$work/mmdebstrap.log" 2>&1; then
	tail -30 "$work/mmdebstrap.log" >&2
	die "mmdebstrap $release/$arch failed"
fi

tar -C "$work/root" --numeric-owner --xattrs -cf "$work/rootfs.tar" .
truncate -s 3G "$work/rootfs.img"
mkfs.ext4 -q -F -L fl-root -d "$work/root" "$work/rootfs.img" >/dev/null ||
	die "mkfs.ext4 -d failed"
cp "$tree/boot/vmlinuz-$kver" "$work/vmlinuz"
printf '%s\n' "$kver" >"$work/KVER"
printf '%s\n' "${packages[@]}" >"$work/PACKAGES"
mkdir -p "$work/out"
mv "$work/rootfs.img" "$work/rootfs.tar" "$work/initrd.img" "$work/vmlinuz" "$work/KVER" "$work/PACKAGES" "$work/out/"
rm -rf "$dir"
mv "$work/out" "$dir"
# images no run has used for two weeks go (every change of this script, the
# kernel or the packages makes a new one)
find "$CACHE/rootfs" -mindepth 1 -maxdepth 1 -type d -name "$suite-$arch-*" -mtime +14 -exec rm -rf {} + 2>/dev/null || true
log "root filesystem ready in $(($(date +%s) - t0))s: $dir ($(du -sh --apparent-size "$dir/rootfs.tar" | cut -f1) of files)"
printf '%s\n' "$dir"
