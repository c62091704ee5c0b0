#!/usr/bin/env bash
# gen-vmlinux.sh: generate vmlinux/<arch>/vmlinux.h from real kernel BTF.
#
#   tools/gen-vmlinux.sh --running              BTF of the running kernel
#   tools/gen-vmlinux.sh --deb SUITE ARCH       BTF of a Debian kernel package
#   options: --out FILE   write FILE instead of vmlinux/<arch>/vmlinux.h
#
# <arch> is x86_64 or arm64, matching the -D__TARGET_ARCH_x86 /
# -D__TARGET_ARCH_arm64 builds that include the header.
#
# --deb fetches the package with tools/fetch-kernel.sh and extracts the BTF
# without booting it:
#   x86:   vmlinuz is a bzImage; its setup header locates the compressed
#          payload (gzip/xz/zstd/lz4/...), which decompresses to an ELF vmlinux
#          whose .BTF section bpftool reads directly.
#   arm64: vmlinuz is the raw Image (some builds gzip it; both are handled).
#          The Image is not ELF, so the BTF blob is carved out by its header.
# The raw BTF is also kept next to the kernel as <tree>/vmlinux.btf, usable as
# libbpf's btf_custom_path or as the base for module BTF
# (bpftool btf dump file foo.ko base <tree>/vmlinux.btf).
#
# The header is written atomically (temp file + rename), so a failed run never
# leaves a truncated vmlinux.h behind.
set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"
usage() {
	cat >&2 <<EOF
usage: $PROG --running [--out FILE]
       $PROG --deb SUITE ARCH [--out FILE]     (SUITE: ${DEBIAN_SUITES// /|}, ARCH: amd64|arm64)
EOF
	exit 2
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd -P)
# Only /usr/bin/python3: a pyenv/venv python3 earlier on PATH may be absent on
# other machines or lack the standard modules we rely on.
PYTHON=/usr/bin/python3

mode="" suite="" deb_arch="" out=""
while [[ $# -gt 0 ]]; do
	case $1 in
		--running) mode=running; shift ;;
		--deb)
			[[ $# -ge 3 ]] || usage
			mode=deb suite=$2 deb_arch=$3
			shift 3 ;;
		--out)
			[[ $# -ge 2 ]] || usage
			out=$2
			shift 2 ;;
		-h|--help) usage ;;
		*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[[ -n $mode ]] || usage


ensure_tools bpftool:bpftool
bpftool btf help >/dev/null 2>&1 || die "bpftool at $(command -v bpftool) is not usable"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen-vmlinux.XXXXXX")
outtmp=""
cleanup() {
	rm -rf "$tmp"
	[[ -z $outtmp ]] || rm -f "$outtmp"
}
trap cleanup EXIT

# Carve the vmlinux BTF blob out of a raw (non-ELF) kernel image. Every
# occurrence of the magic 9f eb 01 00 (little-endian 0xeB9F, version 1,
# flags 0) is checked as a btf_header:
#   u16 magic, u8 version, u8 flags, u32 hdr_len,
#   u32 type_off, u32 type_len, u32 str_off, u32 str_len
# pahole emits type_off == 0 and str_off == type_len, and the string section
# starts and ends with NUL. The blob is hdr_len + str_off + str_len bytes.
# The largest valid candidate wins: the vmlinux BTF is megabytes, while a stray
# magic in code or data cannot pass all the checks with a plausible size.
carve_btf() {
	"$PYTHON" - "$1" "$2" <<'PY'
import struct, sys

src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
best = None
pos = data.find(b"\x9f\xeb\x01\x00")
while pos >= 0:
    if pos + 24 <= len(data):
        hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<5I", data, pos + 4)
        start = pos + hdr_len
        end = start + str_off + str_len
        if (24 <= hdr_len <= 256 and type_off == 0 and type_len > 0 and type_len % 4 == 0
                and str_off == type_len and str_len > 0 and end <= len(data)
                and data[start + str_off] == 0 and data[end - 1] == 0):
            if best is None or end - pos > best[1] - best[0]:
                best = (pos, end)
    pos = data.find(b"\x9f\xeb\x01\x00", pos + 1)
if best is None:
    sys.exit("no valid BTF header found in " + src)
with open(dst, "wb") as f:
    f.write(data[best[0]:best[1]])
print("BTF at offset %#x, %d bytes" % (best[0], best[1] - best[0]), file=sys.stderr)
PY
}

# Print "OFFSET LENGTH FORMAT" of the compressed kernel inside an x86 bzImage.
# The setup header (boot protocol >= 2.08) gives payload_offset/payload_length
# relative to the protected-mode code, which starts after (setup_sects+1)
# sectors. Falls back to scanning for compressor magics like the kernel's
# scripts/extract-vmlinux when the header looks wrong.
x86_payload() {
	"$PYTHON" - "$1" <<'PY'
import struct, sys

data = open(sys.argv[1], "rb").read()
MAGICS = [
    (b"\x1f\x8b\x08", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x02\x21\x4c\x18", "lz4"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x89LZO", "lzo"),
]

def fmt_at(off):
    for magic, name in MAGICS:
        if data.startswith(magic, off):
            return name
    return None

if data[0x202:0x206] == b"HdrS" and struct.unpack_from("<H", data, 0x206)[0] >= 0x208:
    setup_sects = data[0x1F1] or 4
    poff, plen = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + poff
    fmt = fmt_at(start)
    if fmt and start + plen <= len(data):
        print(start, plen, fmt)
        sys.exit(0)
print("bzImage setup header unusable, scanning for compressor magic", file=sys.stderr)
found = sorted((data.find(m), n) for m, n in MAGICS if data.find(m) >= 0)
if not found:
    sys.exit("no compressed payload found in " + sys.argv[1])
for off, fmt in found:
    print(off, len(data) - off, fmt)
PY
}

decompress_cmd() {
	case $1 in
		gzip) printf 'gzip -dc' ;;
		xz) printf 'xz -dc' ;;
		zstd) printf 'zstd -dcq' ;;
		lz4) printf 'lz4 -dc' ;;
		bzip2) printf 'bzip2 -dc' ;;
		lzma) printf 'xz --format=lzma -dc' ;;
		lzo) printf 'lzop -dc' ;;
		*) return 1 ;;
	esac
}

# Decompress an x86 bzImage payload into an ELF vmlinux at $2.
x86_extract_elf() {
	local vmlinuz=$1 dst=$2 off len fmt cmd
	ensure_tools gzip:gzip xz:xz-utils zstd:zstd lz4:lz4 bzip2:bzip2
	while read -r off len fmt; do
		cmd=$(decompress_cmd "$fmt") || continue
		[[ $fmt != lzo ]] || ensure_tools lzop:lzop
		log "x86 payload: $fmt at offset $off ($len bytes)"
		# The kernel build appends the uncompressed size (le32) after the
		# compressed stream; decompressors may complain about that trailer
		# after writing all output, so their exit status is not trusted and
		# the result is validated as an ELF image instead.
		tail -c +"$((off + 1))" "$vmlinuz" | head -c "$len" | $cmd >"$dst" 2>/dev/null || true
		if [[ -s $dst && $(head -c 4 "$dst" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; then
			return 0
		fi
	done < <(x86_payload "$vmlinuz")
	die "could not decompress an ELF vmlinux out of $vmlinuz"
}

# Turn a raw arm64 kernel image (possibly gzipped) into a BTF blob at $2.
arm64_extract_btf() {
	local vmlinuz=$1 dst=$2 image=$tmp/Image magic
	magic=$(head -c 2 "$vmlinuz" | od -An -tx1 | tr -d ' \n')
	if [[ $magic == 1f8b ]]; then
		ensure_tools gzip:gzip
		log "arm64 vmlinuz is gzip-compressed, decompressing"
		gzip -dc <"$vmlinuz" >"$image" || die "gunzip of $vmlinuz failed"
	else
		image=$vmlinuz
	fi
	# arm64 Image header: "ARM\x64" at offset 0x38.
	[[ $(tail -c +57 "$image" | head -c 4 | od -An -tx1 | tr -d ' \n') == 41524d64 ]] ||
		die "$vmlinuz is neither an arm64 Image nor a gzipped one (EFI zboot images are not supported)"
	carve_btf "$image" "$dst"
}

case $mode in
	running)
		btf_src=/sys/kernel/btf/vmlinux
		[[ -r $btf_src ]] || die "$btf_src not readable (kernel without CONFIG_DEBUG_INFO_BTF?)"
		case $(uname -m) in
			x86_64) arch=x86_64 ;;
			aarch64|arm64) arch=arm64 ;;
			*) die "unsupported machine $(uname -m)" ;;
		esac
		kver=$(uname -r)
		source_desc="running kernel $kver ($(uname -m)), $btf_src"
		cmdline="tools/gen-vmlinux.sh --running"
		btf=$btf_src
		;;
	deb)
		case $deb_arch in
			amd64) arch=x86_64 ;;
			arm64) arch=arm64 ;;
			*) die "unsupported arch '$deb_arch' (want amd64 or arm64)" ;;
		esac
		[[ -x /usr/bin/python3 ]] || ensure_tools python3:python3
		tree=$("$SCRIPT_DIR/fetch-kernel.sh" "$suite" "$deb_arch") || die "fetch-kernel.sh $suite $deb_arch failed"
		kver=$(<"$tree/KVER")
		pkgdesc=$(cat "$tree/PACKAGE" 2>/dev/null || printf 'unknown package')
		vmlinuz=$tree/boot/vmlinuz-$kver
		source_desc="Debian $suite $deb_arch kernel $kver ($pkgdesc), BTF from boot/vmlinuz-$kver"
		cmdline="tools/gen-vmlinux.sh --deb $suite $deb_arch"
		btf=$tree/vmlinux.btf
		if [[ ! -s $btf ]]; then
			if [[ $arch == x86_64 ]]; then
				x86_extract_elf "$vmlinuz" "$tmp/vmlinux"
				# Keep only the raw .BTF section: it is what libbpf and bpftool
				# need later, at a fraction of the ELF's size.
				objcopy_ok=0
				if command -v objcopy >/dev/null 2>&1 &&
					objcopy -O binary --only-section=.BTF "$tmp/vmlinux" "$tmp/vmlinux.btf" 2>/dev/null &&
					[[ -s $tmp/vmlinux.btf ]]; then
					objcopy_ok=1
				fi
				[[ $objcopy_ok == 1 ]] || carve_btf "$tmp/vmlinux" "$tmp/vmlinux.btf"
			else
				arm64_extract_btf "$vmlinuz" "$tmp/vmlinux.btf"
			fi
			bpftool btf dump file "$tmp/vmlinux.btf" >/dev/null 2>&1 ||
				die "extracted BTF from $vmlinuz is not parseable by bpftool"
			cp "$tmp/vmlinux.btf" "$btf.tmp.$$" && chmod 644 "$btf.tmp.$$" && mv -f "$btf.tmp.$$" "$btf"
		fi
		;;
esac

[[ -n $out ]] || out=$REPO_DIR/vmlinux/$arch/vmlinux.h
outdir=$(dirname "$out")
mkdir -p "$outdir" || die "cannot create $outdir"
outtmp=$(mktemp "$outdir/.vmlinux.h.XXXXXX")

log "dumping BTF of $kver to $out"
{
	cat <<EOF
/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmlinux.h for $arch, generated from real kernel BTF. Do not edit.
 *
 * Source:    $source_desc
 * Generated: $cmdline
 * Dumper:    $(bpftool version 2>/dev/null | head -n1)
 */
EOF
	bpftool btf dump file "$btf" format c
} >"$outtmp" || die "bpftool btf dump of $btf failed"
grep -q 'struct task_struct {' "$outtmp" || die "dump of $btf lacks struct task_struct; not a vmlinux BTF?"
chmod 644 "$outtmp"
mv -f "$outtmp" "$out"
outtmp=""
log "wrote $out ($(wc -c <"$out") bytes, kernel $kver)"
