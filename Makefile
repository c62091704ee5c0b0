# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
#   make                 ./faultloop for this machine
#   make STATIC=1        fully static binary (VM tests)
#   make ARCH=arm64      cross build with aarch64-linux-gnu-gcc
#   make check           warning-free build (-Werror) and unit tests, no root
#   make test            every test (root)        make V=1: show commands
#   make sanitize-test   unit, BPF and e2e tests under ASan+UBSan, metrics under TSan
#   make fuzz-test       every libFuzzer target for FUZZ_SECONDS (30) each
#   make fuzz FUZZ_SECONDS=600   the same, longer      make soak [SOAK_SECONDS=600]
#   make deb             Debian packages for amd64 and arm64 in .output/deb/
#   make image           OCI image (amd64 + arm64 index) in .output/image/faultloop-VERSION.tar

HOST_ARCH := $(shell uname -m | sed -e 's/aarch64/arm64/')
ARCH ?= $(HOST_ARCH)
BPF_ARCH := $(subst x86_64,x86,$(ARCH))
OUTPUT ?= .output/$(ARCH)$(if $(STATIC),-static)
# The BPF object and its skeletons: one for every user-space flavour (the
# sanitizer and fuzz builds keep theirs in OUTPUT and take these from here)
BPF_OUT ?= $(OUTPUT)
CLANG ?= clang
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)

ifeq ($(ARCH),$(HOST_ARCH))
CC ?= cc
PKG_CONFIG ?= pkg-config
else ifeq ($(ARCH),arm64)
CC := aarch64-linux-gnu-gcc
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig pkg-config
endif

CFLAGS ?= -g -O2
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	  -D_FORTIFY_SOURCE=2 -DFAULTLOOP_VERSION='"$(VERSION)"' $(WERROR) $(SANITIZE)
INCLUDES := -I$(OUTPUT) -I$(BPF_OUT) -Iinclude -Isrc
LIBS := $(if $(STATIC),-static) \
	$(shell $(PKG_CONFIG) --libs $(if $(STATIC),--static) libbpf 2>/dev/null || echo -lbpf -lelf -lz) -lz

# clang -target bpf does not search the host's multiarch include dirs
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Wno-unused-function $(WERROR) \
	      -I$(BPF_OUT) -Iinclude -Ibpf -Ivmlinux/$(ARCH) $(CLANG_BPF_SYS_INCLUDES)

# every stage but main.c: the unit tests link them too
LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c))
# Debian's libmicrohttpd.a needs gnutls and p11-kit, which have no static
# libraries: static builds link one without HTTPS, built from Debian's
# source package by tools/build-microhttpd.sh into $(FL_CACHE), per arch,
# rebuilt only when its version changes.
ifeq ($(STATIC),)
HTTP_LIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
else
FL_CACHE ?= /var/cache/faultloop
MHD_PREFIX := $(FL_CACHE)/microhttpd/$(ARCH)
MHD_LIB := $(MHD_PREFIX)/lib/libmicrohttpd.a
INCLUDES += -I$(MHD_PREFIX)/include
HTTP_LIBS := $(MHD_LIB)
endif
LIB_OBJS := $(patsubst src/%.c,$(OUTPUT)/%.o,$(LIB_SRCS))
BPF_HDRS := bpf/detector.bpf.h bpf/probe.bpf.h bpf/stall.bpf.h include/faultloop.h $(VMLINUX)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
MAKEFLAGS += --no-print-directory
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean check test unit-test bpf-test e2e-test stall-test metrics-test deploy-test alert-test run deps test-deps tools vmtest vmtest-x86 vmtest-arm64 faultloop bench
.PHONY: sanitize-test fuzz-test fuzz soak crash-test exit-test san-build fuzz-build man deb deb-test systemd-test
.PHONY: image container-test

all: faultloop tools

$(sort $(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/fuzz $(BPF_OUT)):
	$(Q)mkdir -p $@

# --- BPF ---------------------------------------------------------------------

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BPF_OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(BPF_OUT)/%.skel.h: $(BPF_OUT)/%.bpf.o | $(BPF_OUT)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# --- user space --------------------------------------------------------------

$(OUTPUT)/%.o: src/%.c $(wildcard src/*.h) include/faultloop.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

$(OUTPUT)/session.o: $(BPF_OUT)/faultloop.skel.h

ifneq ($(STATIC),)
# FORCE: the script runs every time but leaves the library untouched (no
# rebuild, no relink) unless the version, flags or compiler changed
$(MHD_LIB): FORCE
	$(Q)CC="$(CC)" tools/build-microhttpd.sh $(ARCH) $(MHD_PREFIX)

$(OUTPUT)/http.o: $(MHD_LIB)
endif
# phony, or .SECONDARY would let make skip it
.PHONY: FORCE
FORCE:

$(OUTPUT)/faultloop: $(OUTPUT)/main.o $(LIB_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LIBS) $(HTTP_LIBS) -lpthread -o $@

# ./faultloop is the last binary built for this machine (STATIC=1 included;
# a cross build stays in its $(OUTPUT)): phony so that switching flavours
# always refreshes it.  Written by rename: it may be running.
ifeq ($(ARCH),$(HOST_ARCH))
faultloop: $(OUTPUT)/faultloop
	$(Q)cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }
else
faultloop: $(OUTPUT)/faultloop
endif

# --- man page ----------------------------------------------------------------

# faultloop(8) from `faultloop --help` (argp: the flags are defined once)
# and man/faultloop.h2m (exit statuses, the service, files), by help2man;
# runs the binary, so ARCH must be this machine's (debian/rules builds one
# for the man page in a cross build)
MAN := .output/man/faultloop.8
man: $(MAN)
$(MAN): $(OUTPUT)/faultloop man/faultloop.h2m man/help2man.sh
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)man/help2man.sh $(OUTPUT)/faultloop $@

# --- workloads ---------------------------------------------------------------

TOOLS := $(OUTPUT)/race $(OUTPUT)/btrfs-search $(OUTPUT)/bpf-progs $(OUTPUT)/uffd-loop \
	 $(OUTPUT)/populate-eio
# the arm64 MTE repro of the seeds' search_ioctl live-lock (runs in the VM)
ifeq ($(ARCH),arm64)
TOOLS += $(OUTPUT)/mte-search
endif
tools: $(TOOLS)

$(OUTPUT)/mte-search: tools/mte-search.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -static -march=armv8.5-a+memtag $< -o $@

$(OUTPUT)/race $(OUTPUT)/btrfs-search $(OUTPUT)/uffd-loop $(OUTPUT)/populate-eio: $(OUTPUT)/%: tools/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(if $(STATIC),-static) -pthread $< -o $@

$(OUTPUT)/bpf-progs: tools/bpf-progs.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIBS) -o $@

# --- tests -------------------------------------------------------------------

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))

$(OUTPUT)/tests/test_%: tests/unit/test_%.c tests/unit/unit.h $(LIB_OBJS) $(BPF_OUT)/faultloop.skel.h | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< $(LIB_OBJS) -lcmocka $(LIBS) $(HTTP_LIBS) -lpthread -o $@

$(BPF_OUT)/detect_test.bpf.o: tests/bpf/detect_test.bpf.c tests/bpf/detect_test.h $(BPF_HDRS) | $(BPF_OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/tests/detect_test: tests/bpf/detect_test.c tests/bpf/detect_test.h $(BPF_OUT)/detect_test.skel.h $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< $(LIB_OBJS) -lcmocka $(LIBS) $(HTTP_LIBS) -lpthread -o $@

# the edit-compile loop: everything built with -Werror in its own output
# dir (so a warning-free build is not mistaken for a cached one), then the
# unit tests, none of which needs root
check:
	$(Q)$(MAKE) OUTPUT=.output/check-$(ARCH) WERROR=-Werror \
		all .output/check-$(ARCH)/tests/detect_test unit-test

unit-test: $(UNIT_TESTS)
	$(Q)set -e; for t in $(UNIT_TESTS); do $$t; done

bpf-test: $(OUTPUT)/tests/detect_test
	$(Q)$(OUTPUT)/tests/detect_test

e2e-test: faultloop tools
	$(Q)OUTPUT=$(OUTPUT) tests/e2e.sh

# fentry/kprobe selection on Debian 5.10 / 6.1 / 6.12 in qemu (TCG)
# x86_64: fentry/kprobe selection and detection on Debian 5.10 / 6.1 / 6.12;
# arm64 + MTE: the seeds' search_ioctl live-lock on 5.10, fixed on 6.1 / 6.12
vmtest: vmtest-x86 vmtest-arm64

# VMTEST_SUITES / VMTEST_ARM64_SUITES: other suites than the scripts'
# default (every one but sid), e.g. VMTEST_SUITES='sid trixie-backports'
vmtest-x86:
	$(Q)tests/vm/test_trouble.sh
	$(Q)tests/vm/vmtest.sh $(VMTEST_SUITES)

vmtest-arm64:
	$(Q)tests/vm/vmtest-arm64.sh $(VMTEST_ARM64_SUITES)

# overhead benchmark (BENCHMARKS.md), not part of `make test`:
#   make bench [BENCH_ARGS='--reps 9' | BENCH_ARGS='--vm bookworm']
bench: faultloop
	$(Q)tools/bench/bench.sh $(BENCH_ARGS)

stall-test: faultloop tools
	$(Q)OUTPUT=$(OUTPUT) tests/stall.sh

metrics-test: faultloop tools
	$(Q)OUTPUT=$(OUTPUT) tests/metrics.sh

deploy-test: faultloop
	$(Q)tests/deploy.sh

# the first loop pages a person: Prometheus + Alertmanager + a webhook, live
alert-test: faultloop tools
	$(Q)OUTPUT=$(OUTPUT) tests/alert.sh

# one exit status per kind of failure (README, Flags)
exit-test: faultloop
	$(Q)OUTPUT=$(OUTPUT) tests/exit.sh

# SIGKILL leaves nothing of faultloop's behind; a restart serves at once;
# a second instance on the same port gets one line and exit 1
crash-test: faultloop tools
	$(Q)OUTPUT=$(OUTPUT) tests/crash.sh

# --- sanitizers and fuzzing ----------------------------------------------------
# Each flavour builds user space into its own OUTPUT (never mixed with the
# normal build) and takes the BPF object from the normal one (BPF_OUT).

ASAN_OUT := .output/asan-$(ARCH)
TSAN_OUT := .output/tsan-$(ARCH)
FUZZ_OUT := .output/fuzz-$(ARCH)
# no recovery: the first report ends the process, and tests/sanitize.sh
# fails on any report (the sanitizers log to files it checks)
SAN_COMMON := -fno-omit-frame-pointer -U_FORTIFY_SOURCE
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all $(SAN_COMMON)
TSAN_FLAGS := -fsanitize=thread $(SAN_COMMON)
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all $(SAN_COMMON)
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

# what a sanitizer flavour builds (run with OUTPUT and SANITIZE set)
san-build: $(OUTPUT)/faultloop $(UNIT_TESTS) $(OUTPUT)/tests/detect_test $(OUTPUT)/tests/daemon_race

# main.c's daemon, driven by a test (tests/sanitize/daemon_race.c)
$(OUTPUT)/tests/daemon_race: tests/sanitize/daemon_race.c src/main.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< $(LIB_OBJS) $(LIBS) $(HTTP_LIBS) -lpthread -o $@

fuzz-build: $(FUZZ_TARGETS)

$(OUTPUT)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(LIB_OBJS) | $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -fsanitize=fuzzer $< $(LIB_OBJS) $(LIBS) $(HTTP_LIBS) -lpthread -lm -o $@

# ASan+UBSan: unit, BPF and e2e tests; TSan: the metrics tests and the
# daemon's threads racing (tests/sanitize.sh)
sanitize-test: tools
	$(Q)$(MAKE) OUTPUT=$(ASAN_OUT) BPF_OUT=$(OUTPUT) SANITIZE="$(ASAN_FLAGS)" san-build
	$(Q)$(MAKE) OUTPUT=$(TSAN_OUT) BPF_OUT=$(OUTPUT) SANITIZE="$(TSAN_FLAGS)" san-build
	$(Q)OUTPUT=$(OUTPUT) ASAN_OUT=$(ASAN_OUT) TSAN_OUT=$(TSAN_OUT) tests/sanitize.sh

# every libFuzzer target (tests/fuzz/) for FUZZ_SECONDS, two at a time
fuzz-test:
	$(Q)$(MAKE) OUTPUT=$(FUZZ_OUT) BPF_OUT=$(OUTPUT) CC=$(CLANG) SANITIZE="$(FUZZ_FLAGS)" fuzz-build
	$(Q)FUZZ_OUT=$(FUZZ_OUT) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# the same, longer: 10 minutes per target unless FUZZ_SECONDS says otherwise
fuzz:
	$(Q)$(MAKE) fuzz-test FUZZ_SECONDS=$(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),600)

# 10 minutes of the race, scrapes and hostile clients (not in make test)
SOAK_SECONDS ?= 600
soak: faultloop tools
	$(Q)OUTPUT=$(OUTPUT) SOAK_SECONDS=$(SOAK_SECONDS) tests/soak.sh

# Debian packages (debian/, debhelper) for amd64 and, cross-built, arm64:
# .output/deb/faultloop_VERSION_ARCH.deb, each checked with lintian
DEB_ARCHES ?= amd64 arm64
deb: test-deps
	$(Q)tools/build-deb.sh $(DEB_ARCHES)

# the packages' maintainer scripts on a host where systemd is not running
# (a chroot of the test root filesystem), then the amd64 package under a
# real systemd: Debian root filesystems booted in qemu with their kernels
# (SYSTEMD_SUITES, default bookworm 6.1 and the matrix's newest kernel,
# trixie-backports 7.3 on a trixie root filesystem)
SYSTEMD_SUITES ?= bookworm trixie-backports
systemd-test: deb
	$(Q)tests/vm/systemd-test.sh $(SYSTEMD_SUITES)

# OCI image: the static binary of each IMAGE_ARCHES (built here, arm64
# cross-built) alone on scratch, as one OCI index in an OCI archive
# (tools/build-image.sh); named faultloop:VERSION, VERSION the package's
# (debian/changelog), as the DaemonSet names it
IMAGE_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
IMAGE_ARCHES ?= x86_64 arm64
IMAGE := .output/image/faultloop-$(IMAGE_VERSION).tar
image: test-deps
	$(Q)set -e; for a in $(IMAGE_ARCHES); do \
		$(MAKE) ARCH=$$a STATIC=1 OUTPUT=.output/$$a-static .output/$$a-static/faultloop; done
	$(Q)tools/build-image.sh $(IMAGE) $(IMAGE_VERSION) \
		$(foreach a,$(IMAGE_ARCHES),$(subst x86_64,amd64,$(a))=.output/$(a)-static/faultloop)

# the image under podman + runc with the DaemonSet's confinement, read
# from the manifest: catches the uffd loop on this host, serves metrics
container-test: image faultloop tools
	$(Q)OUTPUT=$(OUTPUT) IMAGE=$(IMAGE) tests/container.sh

# every stage, each timed, run on past a failure; one table at the end
# (tools/test-stages.sh)
TEST_STAGES := unit-test bpf-test e2e-test stall-test metrics-test deploy-test container-test \
	alert-test exit-test crash-test sanitize-test fuzz-test vmtest-x86 vmtest-arm64 systemd-test
# the fuzz stage 15 s a target unless FUZZ_SECONDS is given: a fresh clone
# has only the seeds, and the whole run keeps to the CI budget (README)
test: test-deps
	$(Q)FUZZ_SECONDS=$(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),15) \
		tools/test-stages.sh "$(MAKE)" $(TEST_STAGES)

# what building and running need (make run); the tests' packages only
# with make test (tools/install-deps.sh)
deps:
	$(Q)tools/install-deps.sh run

test-deps:
	$(Q)tools/install-deps.sh test

run: deps
	$(Q)$(MAKE) faultloop
	./faultloop $(ARGS)

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf .output faultloop
