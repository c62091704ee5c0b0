// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: empty BPF programs, one per attach kind faultloop
 * uses.  tools/bench/floor loads one copy per hook faultloop attached (same
 * kind, same target), so the difference between floor and no tracer is
 * what attaching anything there costs; faultloop minus floor is what its
 * programs' bodies cost.  Section targets are placeholders: the loader
 * retargets every copy.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/page_fault_kernel")
int floor_tp_btf(void *ctx) { return 0; }

SEC("raw_tp/page_fault_kernel")
int floor_raw_tp(void *ctx) { return 0; }

SEC("tracepoint/exceptions/page_fault_kernel")
int floor_tp(void *ctx) { return 0; }

SEC("fentry/handle_mm_fault")
int floor_fentry(void *ctx) { return 0; }

SEC("fexit/handle_mm_fault")
int floor_fexit(void *ctx) { return 0; }

SEC("kprobe/handle_mm_fault")
int floor_kprobe(void *ctx) { return 0; }

SEC("kretprobe/handle_mm_fault")
int floor_kretprobe(void *ctx) { return 0; }
