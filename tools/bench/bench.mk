# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The overhead benchmark's binaries (tools/bench/bench.sh builds them; run
# from the repository root):
#   make -f tools/bench/bench.mk [STATIC=1]
# -> .output/x86_64[-static]/bench/{bench-work,floor,bpf-stat,parts}
# STATIC=1 links everything (libbpf, libelf, zlib, libc) statically, as the
# top-level Makefile does, for the busybox-only VM guests.
ARCH := x86_64
BPF_ARCH := x86
OUT ?= .output/$(ARCH)$(if $(STATIC),-static)/bench
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
CFLAGS ?= -g -O2
CFLAGS += -Wall -Wextra -Wno-unused-parameter
LIBBPF := $(if $(STATIC),-static) \
	$(shell $(PKG_CONFIG) --libs $(if $(STATIC),--static) libbpf 2>/dev/null || echo -lbpf -lelf -lz)
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall \
	-Ivmlinux/$(ARCH) -Ibpf -Iinclude $(CLANG_BPF_SYS_INCLUDES)

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all
all: $(OUT)/bench-work $(OUT)/floor $(OUT)/bpf-stat $(OUT)/parts

$(OUT):
	@mkdir -p $@

$(OUT)/%.bpf.o: tools/bench/%.bpf.c | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

# parts.bpf.c builds faultloop's own detector and glue
$(OUT)/parts.bpf.o: bpf/detector.bpf.h bpf/probe.bpf.h include/faultloop.h

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUT)/floor: $(OUT)/%: tools/bench/%.c $(OUT)/%.skel.h
	$(CC) $(CFLAGS) -I$(OUT) $< $(LIBBPF) -o $@

# parts sets the coarse clock as faultloop does (src/hz.c)
$(OUT)/parts: tools/bench/parts.c include/faultloop.h src/hz.c src/hz.h src/kconfig.c src/kconfig.h $(OUT)/parts.skel.h
	$(CC) $(CFLAGS) -I$(OUT) -Isrc -Iinclude tools/bench/parts.c src/hz.c src/kconfig.c $(LIBBPF) -lz -o $@

$(OUT)/bpf-stat: tools/bench/bpf-stat.c | $(OUT)
	$(CC) $(CFLAGS) $< $(LIBBPF) -o $@

$(OUT)/bench-work: tools/bench/bench-work.c | $(OUT)
	$(CC) $(CFLAGS) $(if $(STATIC),-static) -pthread $< -o $@
