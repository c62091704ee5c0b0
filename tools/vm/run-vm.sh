#!/usr/bin/env bash
# run-vm.sh: boot a Debian kernel under qemu (TCG) with a busybox initramfs,
# run a payload in it, and exit with the payload's status.
#
#   tools/vm/run-vm.sh --suite bookworm --arch amd64 --payload DIR --timeout SECONDS
#                      [--modules 'btrfs ...'] [--disk IMG] [--smp 2] [--mem 1024]
#                      [--log FILE] [--append 'kernel args']
#
# The guest copies DIR to /payload and runs /payload/run.sh as root with the
# usual pseudo filesystems mounted (proc, sys, devtmpfs, /tmp tmpfs, bpffs,
# tracefs, debugfs) and the requested modules loaded. It then prints
# "FAULTLOOP-VM-EXIT <status>" and powers off.
#
# A payload that leaves the guest unable to power off (a task live-locked in
# the kernel) prints "FAULTLOOP-VM-DONE <status>" on a line of its own once
# its results are complete: the host then stops qemu about a second later
# and exits with that status.
#
# The console is scanned while the guest runs (guest_trouble, tools/lib.sh):
# a kernel crash, lockup or stall line stops qemu TROUBLE_GRACE seconds
# later (time for the stall's backtraces) instead of at the timeout.
#
# Exit status: 123 if the guest kernel crashed, locked up or stalled (its
# lines on stderr; whatever the payload's status); else the guest's status
# from that marker; 124 if the guest was killed at the timeout; 125 if it
# stopped without printing the marker (panic, crash); 1 on a host-side
# error; 2 on bad usage.
#
# arm64 guests need a qemu >= 8.0 for correct MTE, x86 guests a qemu >= 10.0
# (7.2's multi-threaded TCG runs stale translations of patched kernel text):
# tools/fetch-qemu.sh provides one (bookworm-backports, unpacked into the
# cache) when the host's is older, and the run is refused if it cannot.
#
# See tools/vm/README.md. Never uses KVM: guests hang under KVM on the
# project's hosts, and TCG behaves the same everywhere.
set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/../lib.sh"
usage() {
	cat >&2 <<EOF
usage: $PROG --suite SUITE --arch ARCH --payload DIR --timeout SECONDS
             [--modules 'mod ...'] [--disk IMG] [--smp N] [--tcg single|multi] [--mem MB]
             [--log FILE] [--append 'kernel args']
  SUITE: ${DEBIAN_SUITES// /|}   ARCH: amd64|arm64
EOF
	exit 2
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
FETCH=$SCRIPT_DIR/../fetch-kernel.sh
CACHE=${FAULTLOOP_CACHE:-/var/cache/faultloop}

suite="" arch="" payload="" timeout="" modules="" disk="" smp=2 tcg=multi mem=1024 logfile="" append=""
while [[ $# -gt 0 ]]; do
	[[ $1 == -h || $1 == --help ]] && usage
	[[ $# -ge 2 ]] || { printf '%s: error: option %s needs a value\n' "$PROG" "$1" >&2; usage; }
	case $1 in
		--suite) suite=$2 ;;
		--arch) arch=$2 ;;
		--payload) payload=$2 ;;
		--timeout) timeout=$2 ;;
		--modules) modules=$2 ;;
		--disk) disk=$2 ;;
		--smp) smp=$2 ;;
		--tcg) tcg=$2 ;;
		--mem) mem=$2 ;;
		--log) logfile=$2 ;;
		--append) append=$2 ;;
		*) printf '%s: error: unknown option %s\n' "$PROG" "$1" >&2; usage ;;
	esac
	shift 2
done

[[ -n $suite && -n $arch && -n $payload && -n $timeout ]] || usage
known_suite "$suite" || die "unsupported suite '$suite' (want one of: $DEBIAN_SUITES)"
case $arch in amd64|arm64) ;; *) die "unsupported arch '$arch' (want amd64 or arm64)";; esac
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer"
case $tcg in single|multi) ;; *) die "--tcg must be single or multi";; esac
[[ $mem =~ ^[1-9][0-9]*$ ]] || die "--mem must be a size in MiB"
[[ -d $payload ]] || die "payload directory '$payload' does not exist"
[[ -f $payload/run.sh ]] || die "payload directory '$payload' has no run.sh"
if [[ -n $disk ]]; then
	[[ -r $disk ]] || die "disk image '$disk' is not readable"
	disk=$(cd "$(dirname "$disk")" && pwd -P)/${disk##*/}
fi


# modinfo lives in /sbin, which a non-login root shell may not have on PATH.
PATH=$PATH:/usr/sbin:/sbin
ensure_tools cpio:cpio gzip:gzip xz:xz-utils zstd:zstd modinfo:kmod sha256sum:coreutils flock:util-linux
case $arch in
	amd64)
		# qemu 10: bookworm's 7.2 runs stale translations of patched
		# kernel text under multi-threaded TCG (tools/fetch-qemu.sh)
		if ! qemu_x86=$("$SCRIPT_DIR/../fetch-qemu.sh" x86_64); then
			have=$(qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p')
			die "no qemu-system-x86_64 >= 10.0 (the host's: ${have:-none}) and tools/fetch-qemu.sh failed: refusing to boot an x86 guest whose patched text the emulator may run stale"
		fi
		QEMU=("$qemu_x86" -machine q35 -audio none)
		CPU=max
		CONSOLE=ttyS0
		;;
	arm64)
		# virt + cpu max gives MTE only with mte=on; it is free under TCG and the
		# project's arm64 tests need it.  qemu before 8.0 (bookworm's 7.2) gets
		# MTE wrong: it looks tags up at the page-aligned physical address
		# (fixed by QEMU commit 28fb921f02ef), so every sub-page tag check
		# misfires and MTE results would be wrong.  fetch-qemu.sh returns the
		# host's qemu when it is 8.0 or newer, else one from bookworm-backports
		# unpacked into the cache.
		if ! qemu_aarch64=$("$SCRIPT_DIR/../fetch-qemu.sh"); then
			have=$(qemu-system-aarch64 --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p')
			die "no qemu-system-aarch64 >= 8.0 (the host's: ${have:-none}) and tools/fetch-qemu.sh failed: refusing to boot an arm64 guest whose MTE would be wrong"
		fi
		# pauth-impdef: TCG's architected QARMA pointer authentication is slow;
		# the guests do not care which algorithm signs their pointers.
		# -audio none: no audio backend probing (qemu 8+ syntax).
		QEMU=("$qemu_aarch64" -machine "virt,mte=on" -audio none)
		CPU=max,pauth-impdef=on
		CONSOLE=ttyAMA0
		;;
esac

tree=$("$FETCH" "$suite" "$arch") || die "fetch-kernel.sh $suite $arch failed"
kver=$(<"$tree/KVER")
kernel=$tree/boot/vmlinuz-$kver
moddir=$tree/lib/modules/$kver

# ---------------------------------------------------------------- busybox --
# Return the path of a static busybox for the guest architecture.
guest_busybox() {
	if [[ $arch == amd64 && $(uname -m) == x86_64 ]]; then
		# The host's busybox-static is the right binary for an amd64 guest.
		if ! { [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; }; then
			ensure_tools busybox:busybox-static
			# The dynamic "busybox" package satisfies `command -v` but would not
			# run without the host's libc in the initramfs.
			if ldd /bin/busybox >/dev/null 2>&1; then
				DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null 2>&1 ||
					die "apt-get install busybox-static failed"
			fi
		fi
		printf '%s\n' /bin/busybox
		return
	fi
	# Foreign-arch guest: take busybox-static:ARCH from the same suite through
	# the private apt setup that fetch-kernel.sh created (never the host's
	# apt config, and no dpkg --add-architecture on the host).
	local rel; rel=$(suite_release "$suite")	# a flavour's lists are its release's
	local dir=$CACHE/busybox/$rel-$arch apt=$CACHE/apt/$rel bb
	# bookworm ships bin/busybox, trixie (merged /usr) usr/bin/busybox.
	bb_in() { local p; for p in "$1/bin/busybox" "$1/usr/bin/busybox"; do [[ -x $p ]] && { printf '%s\n' "$p"; return 0; }; done; return 1; }
	if ! bb_in "$dir" >/dev/null; then
		local dl
		dl=$(mktemp -d "$CACHE/busybox/.dl.XXXXXX")
		if id _apt >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then chown _apt "$dl"; fi
		local aptopts=(-q
			-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-"
			-o "Dir::Etc::preferences=$apt/preferences" -o "Dir::Etc::preferencesparts=$apt/preferences.d"
			-o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
			-o "Dir::Cache=$apt/cache" -o "APT::Architectures=amd64,arm64")
		# Newest first, falling back to older versions: the mirror can lack
		# the newest file of an architecture (seen for bullseye-security arm64).
		# A kernel tree used from the cache leaves the lists as old as it is:
		# if the suite moved on (sid), fetch them again once.
		local v ok=0 try
		for try in cached fresh; do
			if [[ $try == fresh ]]; then
				log "no busybox-static:$arch downloads with the cached lists of $suite: updating them"
				apt-get "${aptopts[@]}" update >/dev/null 2>&1 || break
			fi
			while read -r v; do
				log "downloading busybox-static:$arch=$v from $suite"
				if (cd "$dl" && apt-get "${aptopts[@]}" download "busybox-static:$arch=$v" >/dev/null 2>&1); then
					ok=1
					break 2
				fi
			done < <(apt-cache "${aptopts[@]}" madison "busybox-static:$arch" 2>/dev/null | awk -F' *[|] *' '{ print $2 }')
		done
		((ok)) || { rm -rf "$dl"; die "apt-get download busybox-static:$arch failed for every version in $suite"; }
		rm -rf "$dir.tmp"
		dpkg-deb -x "$dl"/busybox-static_*.deb "$dir.tmp" || { rm -rf "$dl"; die "cannot unpack busybox-static:$arch"; }
		rm -rf "$dl" "$dir"
		mv "$dir.tmp" "$dir"
	fi
	bb=$(bb_in "$dir") || die "busybox-static:$arch has no busybox binary"
	printf '%s\n' "$bb"
}
mkdir -p "$CACHE/busybox" "$CACHE/initramfs" "$CACHE/logs"
busybox=$(guest_busybox)

# ---------------------------------------------------------------- modules --
# virtio disks need virtio_pci/virtio_blk, which are modules on 5.10 and 6.1.
if [[ -n $disk ]]; then
	modules="virtio_pci virtio_blk $modules"
fi

declare -A KO_PATH=() BUILTIN=() VISITED=()
LOAD_ORDER=()
norm() { printf '%s' "${1//-/_}"; }
if [[ -n ${modules// /} ]]; then
	[[ -d $moddir ]] || die "no module tree at $moddir"
	# Index every module file by its normalised name (modprobe treats - and _
	# alike); Debian ships no modules.dep, since depmod runs at install time.
	while IFS= read -r -d '' f; do
		b=${f##*/}
		b=${b%.ko*}
		KO_PATH[$(norm "$b")]=$f
	done < <(find "$moddir" \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \) -print0)
	if [[ -r $moddir/modules.builtin ]]; then
		while IFS= read -r f; do
			b=${f##*/}
			BUILTIN[$(norm "${b%.ko*}")]=1
		done <"$moddir/modules.builtin"
	fi
fi

# Cache key parts: everything that goes into the base initramfs.
# shellcheck disable=SC2086 # word splitting of the module list is intended
modkey=$(printf '%s\n' $modules | sed 's/-/_/g' | sort -u | xargs)

# Decompress module $1 into $2 (the staging dir) and, depth-first, its
# dependencies before it, so LOAD_ORDER is a valid insmod order.
add_module() {
	local name dest src dep deps soft b n
	name=$(norm "$1")
	[[ -z ${VISITED[$name]:-} ]] || return 0
	VISITED[$name]=1
	src=${KO_PATH[$name]:-}
	if [[ -z $src ]]; then
		[[ -n ${BUILTIN[$name]:-} ]] && { log "module $name is built into $kver"; return 0; }
		die "module '$name' not found in $moddir"
	fi
	dest=$2/lib/modules/$name.ko
	case $src in
		*.ko.xz) xz -dc "$src" >"$dest" ;;
		*.ko.zst) zstd -dcq "$src" >"$dest" ;;
		*.ko.gz) gzip -dc "$src" >"$dest" ;;
		*) cp "$src" "$dest" ;;
	esac || die "cannot decompress $src"
	deps=$(modinfo -F depends "$dest") || die "modinfo failed on $src"
	for dep in ${deps//,/ }; do
		add_module "$dep" "$2"
	done
	# "softdep: pre: crc32c" (btrfs) names modules wanted before this one;
	# they are optional (often built in), so only existing ones are added.
	# The name may be an alias: libcrc32c's "pre: crc32c" is crc32c_generic
	# (and crc32c-intel), modules in the generic and rt flavours, built in
	# in cloud's; without one libcrc32c's init fails with -ENOENT.
	soft=$(modinfo -F softdep "$dest" 2>/dev/null | sed -n 's/.*pre: *\([^:]*\)\( post:.*\)\{0,1\}$/\1/p')
	for dep in $soft; do
		if [[ -n ${KO_PATH[$(norm "$dep")]:-} ]]; then
			add_module "$dep" "$2"
			continue
		fi
		n=$(norm "$dep")
		for b in "${!KO_PATH[@]}"; do
			[[ $b == "$n"_* ]] && modinfo -F alias "${KO_PATH[$b]}" | grep -qxF "$dep" &&
				add_module "$b" "$2"
		done
	done
	LOAD_ORDER+=("$name")
}

# ------------------------------------------------------------------- init --
# The guest's PID 1. Kept in a variable so that its text is part of the
# initramfs cache key.
read -r -d '' INIT <<'INIT_EOF' || true
#!/bin/busybox sh
# faultloop guest init (generated by tools/vm/run-vm.sh)
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb
mkdir -p /proc /sys /dev /tmp /root /mnt
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The kernel opened /dev/console from the initramfs node; reopen it on
# devtmpfs so output keeps flowing whatever the cpio carried.
exec </dev/console >/dev/console 2>&1
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug /dev/pts /dev/shm
mount -t bpf bpf /sys/fs/bpf || echo "FAULTLOOP-VM: cannot mount bpffs"
mount -t tracefs tracefs /sys/kernel/tracing || echo "FAULTLOOP-VM: cannot mount tracefs"
mount -t debugfs debugfs /sys/kernel/debug || echo "FAULTLOOP-VM: cannot mount debugfs"
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
hostname faultloop-vm
# Loopback up, for payloads that talk to themselves (a metrics endpoint
# scraped with wget); there is no other interface (-nic none).
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null || echo "FAULTLOOP-VM: cannot bring up lo"
for m in $(cat /etc/faultloop-modules); do
	insmod "/lib/modules/$m.ko" || echo "FAULTLOOP-VM: insmod $m failed"
done
# A payload that hangs on the console must not block the marker forever;
# the host's timeout covers that case.
echo "FAULTLOOP-VM-START uptime=$(cut -d' ' -f1 /proc/uptime)"
cd /payload
if [ -x /payload/run.sh ]; then
	/payload/run.sh
else
	sh /payload/run.sh
fi
status=$?
# Start the marker on a fresh line even if the payload's last output had no
# trailing newline; the host only accepts it at the start of a line.
echo
echo "FAULTLOOP-VM-EXIT $status"
sync
poweroff -f
# Only reached if poweroff failed: panic=-1 plus -no-reboot then ends qemu.
exit "$status"
INIT_EOF

# --------------------------------------------------------- base initramfs --
# busybox + init + modules, cached by content: rebuilding it costs seconds
# (module decompression), the payload changes every run.
key=$( {
	printf '%s\n%s\n%s\n' "$suite-$arch" "$kver" "$modkey"
	printf '%s\n' "$INIT"
	sha256sum <"$busybox"
} | sha256sum | cut -c1-16)
base=$CACHE/initramfs/$suite-$arch-$key.cpio.gz
exec 8>"$CACHE/initramfs/.lock"
flock 8
if [[ ! -s $base ]]; then
	log "building initramfs for $kver (modules: ${modkey:-none})"
	stage=$(mktemp -d "$CACHE/initramfs/.stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,lib/modules,payload}
	cp "$busybox" "$stage/bin/busybox"
	chmod 755 "$stage/bin/busybox"
	printf '%s\n' "$INIT" >"$stage/init"
	chmod 755 "$stage/init"
	for m in $modules; do
		add_module "$m" "$stage"
	done
	printf '%s\n' "${LOAD_ORDER[@]}" >"$stage/etc/faultloop-modules"
	[[ ${#LOAD_ORDER[@]} -eq 0 ]] || log "module load order: ${LOAD_ORDER[*]}"
	# The kernel opens /dev/console before running /init; without the node,
	# init would start with no stdout at all.
	# (Without CAP_MKNOD this fails; the kernel's built-in initramfs then
	# still provides /dev/console, so it is not fatal.)
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || log "cannot mknod /dev/console (not root?), relying on the kernel's"
	mknod -m 666 "$stage/dev/null" c 1 3 2>/dev/null || true
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet | gzip -1 >"$base.tmp") ||
		die "cpio of the initramfs failed"
	mv -f "$base.tmp" "$base"
	rm -rf "$stage"
	trap - EXIT
fi
# Mark it used, and drop images no run has used for two weeks (every change
# of modules or of this script's init makes a new one).
touch "$base"
find "$CACHE/initramfs" -maxdepth 1 -name '*.cpio.gz' -mtime +14 -delete 2>/dev/null || true
flock -u 8

# ---------------------------------------------------------------- payload --
run=$(mktemp -d "${TMPDIR:-/tmp}/faultloop-vm.XXXXXX")
qpid=""
# shellcheck disable=SC2317 # only ever invoked through the EXIT trap
cleanup() {
	[[ -z $qpid ]] || kill "$qpid" 2>/dev/null || true
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The payload is a second cpio archive appended to the cached one: the
# kernel unpacks concatenated archives in order.
mkdir -p "$run/root/payload"
cp -a "$payload/." "$run/root/payload/"
(cd "$run/root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet | gzip -1 >"$run/payload.cpio.gz") ||
	die "cpio of the payload failed"
cat "$base" "$run/payload.cpio.gz" >"$run/initrd"

if [[ -z $logfile ]]; then
	logfile=$CACHE/logs/$suite-$arch-$(date +%Y%m%d-%H%M%S)-$$.log
fi
mkdir -p "$(dirname "$logfile")"
: >"$logfile"
# Keep the default log dir bounded: the newest 100 logs are plenty to debug.
find "$CACHE/logs" -maxdepth 1 -name '*.log' -printf '%T@ %p\n' 2>/dev/null |
	sort -rn | tail -n +101 | cut -d' ' -f2- | xargs -r rm -f --

# Boot quietly, but so that a lockup shows where it is: loglevel=5 prints
# KERN_WARNING and above, which takes in the stacks that a soft lockup, an
# RCU stall, a hung task or a WARN print at KERN_DEFAULT (4) and that
# `quiet` (loglevel=4) hid, and not the boot's notices and info (a busy
# UART under TCG).  Every CPU's backtrace on a soft lockup: the CPU that
# should have released the spinning one is often the culprit.  Never panic
# on any of them: the run must show all it can, and the scanner below fails
# it.  printk.time=1: the scanner's anchor.
KERNEL_DIAG_ARGS="loglevel=5 printk.time=1 softlockup_panic=0 softlockup_all_cpu_backtrace=1 hung_task_panic=0 panic_on_warn=0"
TROUBLE_GRACE=${FAULTLOOP_VM_TROUBLE_GRACE:-20}

# -accel tcg, never kvm: guests hang under KVM on the hosts this runs on.
# -nic none: the guest needs no network and must not reach any.
# --tcg single: one host thread runs every vCPU.  Multi-threaded TCG can
# let a vCPU run a stale translation of code another vCPU just patched:
# x86 guests then die on a leftover int3 from text_poke_bp() ("Oops: int3"
# at a freshly traced function), seen on 6.12 while attaching fentry.
# The console: qemu itself writes it to stdout and to the log (the chardev's
# logfile), so no reader process wakes up for every byte the emulated UART
# sends (a `tail -f` of the log did, for megabytes of reports per guest).
# signal=off: a ^C reaches this script, not the guest.
qemu_args=("${QEMU[@]}" -accel "tcg,thread=$tcg" -cpu "$CPU" -m "$mem" -smp "$smp"
	-display none -monitor none -serial chardev:con
	-chardev "stdio,id=con,signal=off,logfile=$logfile,logappend=on"
	-no-reboot -nic none
	-kernel "$kernel" -initrd "$run/initrd"
	-append "console=$CONSOLE panic=-1 $KERNEL_DIAG_ARGS${append:+ $append}")
if [[ -n $disk ]]; then
	fmt=raw
	[[ $(head -c 4 "$disk" | od -An -tx1 | tr -d ' \n') == 514649fb ]] && fmt=qcow2
	qemu_args+=(-drive "file=$disk,if=virtio,format=$fmt,readonly=on")
fi

log "booting $kver ($suite/$arch, smp=$smp, mem=${mem}M, timeout=${timeout}s), log: $logfile"
start=$EPOCHREALTIME
# stdin from /dev/null: a terminal there would be put in raw mode and typed
# keys would become console input.  qemu's own messages go to the log too.
"${qemu_args[@]}" </dev/null 2>>"$logfile" &
qpid=$!

# Two greps and a sleep every half second: the markers need no faster
# answer, and the loop's own cost stays far below the guest's.
deadline=$((EPOCHSECONDS + timeout))
timed_out=0 marker_seen_at="" done_seen_at="" trouble_seen=0
while kill -0 "$qpid" 2>/dev/null; do
	# a crashed or wedged guest kernel: nothing it does later can pass, so
	# stop waiting for the timeout (500 s of soft lockups in one CI run)
	if ((!trouble_seen)) && grep -qaE "$GUEST_TROUBLE_RE" "$logfile" && guest_trouble "$logfile" >/dev/null; then
		trouble_seen=1
		log "guest kernel trouble: $(guest_trouble "$logfile" | head -n1); stopping qemu in ${TROUBLE_GRACE}s"
		((deadline < EPOCHSECONDS + TROUBLE_GRACE)) || deadline=$((EPOCHSECONDS + TROUBLE_GRACE))
	fi
	# FAULTLOOP-VM-DONE: the payload has printed all its results but the
	# guest may be unable to shut down (a task live-locked in the kernel
	# wedges anything that needs every CPU, poweroff included).  Stop qemu
	# a second or two later: qemu wrote the log, so everything the payload
	# printed before the marker is in it.
	if grep -q '^FAULTLOOP-VM-DONE [0-9]' "$logfile"; then
		done_seen_at=${done_seen_at:-$EPOCHSECONDS}
		if ((EPOCHSECONDS - done_seen_at >= 2)); then
			log "payload printed FAULTLOOP-VM-DONE; stopping qemu"
			kill "$qpid" 2>/dev/null || true
			break
		fi
	fi
	if grep -q '^FAULTLOOP-VM-EXIT [0-9]' "$logfile"; then
		# poweroff -f should end qemu at once; give it a moment, then stop it.
		marker_seen_at=${marker_seen_at:-$EPOCHSECONDS}
		if ((EPOCHSECONDS - marker_seen_at > 10)); then
			log "guest printed its exit marker but did not power off; stopping qemu"
			kill "$qpid" 2>/dev/null || true
			break
		fi
	fi
	if ((EPOCHSECONDS >= deadline)); then
		timed_out=1
		kill "$qpid" 2>/dev/null || true
		break
	fi
	sleep 0.5
done
wait "$qpid" 2>/dev/null || true
qpid=""
end=$EPOCHREALTIME

total=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
# Boot time as the guest saw it (kernel uptime when /init reached the
# payload); the wall time adds qemu start-up and firmware.
boot=$(tr -d '\r' <"$logfile" | sed -n 's/.*FAULTLOOP-VM-START uptime=\([0-9.]*\).*/\1/p' | head -n1)
[[ -z $boot ]] || log "guest reached the payload at uptime ${boot}s"

# The last marker wins, in case the payload echoed an earlier one. Serial
# consoles add \r.
status=$(tr -d '\r' <"$logfile" | sed -n 's/^FAULTLOOP-VM-EXIT \([0-9][0-9]*\)$/\1/p' | tail -n1)
# A payload that ended with FAULTLOOP-VM-DONE is as good as one that exited.
[[ -n $status ]] ||
	status=$(tr -d '\r' <"$logfile" | sed -n 's/^FAULTLOOP-VM-DONE \([0-9][0-9]*\)$/\1/p' | tail -n1)
if trouble=$(guest_trouble "$logfile"); then
	# what the payload was doing: its last line before the first trouble
	during=$(tr -d '\r' <"$logfile" | T="$GUEST_TROUBLE_RE" awk '
		$0 ~ ENVIRON["T"] { exit } !/^\[ *[0-9]+\.[0-9]+\]/ && NF { last = $0 } END { print last }')
	log "the guest kernel crashed, locked up or stalled (payload status ${status:-none}, after ${total}s; log: $logfile):"
	printf "payload's last line before it: %s\n%s\n" "${during:-none}" "$trouble" | sed 's/^/    /' >&2
	log "guest kernel trouble: $(head -n1 <<<"$trouble")"
	exit 123
fi
if ((timed_out)) && [[ -z $status ]]; then
	log "timeout: guest killed after ${timeout}s (log: $logfile)"
	exit 124
fi
if [[ -z $status ]]; then
	log "guest stopped without printing FAULTLOOP-VM-EXIT after ${total}s (log: $logfile)"
	exit 125
fi
log "guest exit status $status after ${total}s"
exit "$status"
