// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * faultloop probes.  Every logical signal has one program per attach mode
 * (fentry/fexit, kprobe/kretprobe, tp_btf/raw_tp/tracepoint); the loader
 * (src/probes.c) picks, per signal, the first symbol and mode that the
 * running kernel actually lets it attach, and loads only those programs.
 * Section names carry a default target; the loader retargets them.
 */
#include "stall.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- struct iov_iter across layouts ----------------------------------- */

/* <= 5.13: 'type' holds the iterator kind | direction; ITER_IOVEC == 4. */
struct iov_iter___type {
	unsigned int type;
} __attribute__((preserve_access_index));

/* 5.14 - ~6.3: the iovec array pointer was 'iov' (renamed '__iov' later). */
struct iov_iter___iov {
	const struct iovec *iov;
} __attribute__((preserve_access_index));

/* Current user address of a user-backed iterator, 0 for any other kind. */
static __always_inline __u64 fl_iter_addr(void *p)
{
	struct iov_iter *i = p;
	const struct iovec *iov;
	__u64 off = BPF_CORE_READ(i, iov_offset);

	if (bpf_core_field_exists(struct iov_iter___type, type)) {
		unsigned int type = BPF_CORE_READ((struct iov_iter___type *)p, type);

		if ((type & ~3u) != 4)
			return 0;
		iov = BPF_CORE_READ((struct iov_iter___iov *)p, iov);
		return (__u64)BPF_CORE_READ(iov, iov_base) + off;
	}

	__u8 t = BPF_CORE_READ(i, iter_type);

	/* ITER_UBUF arrived in 6.0 (fcb14cb1bdac) and its value moved:
	 * 6 in 6.1, 5 in 6.6, 0 in 6.12. */
	if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
	    t == bpf_core_enum_value(enum iter_type, ITER_UBUF))
		return (__u64)BPF_CORE_READ(i, ubuf) + off;
	if (t != bpf_core_enum_value(enum iter_type, ITER_IOVEC))
		return 0;
	if (bpf_core_field_exists(struct iov_iter, __iov))
		iov = BPF_CORE_READ(i, __iov);
	else
		iov = BPF_CORE_READ((struct iov_iter___iov *)p, iov);
	return (__u64)BPF_CORE_READ(iov, iov_base) + off;
}

/* ---- register / mode helpers ------------------------------------------ */

static __always_inline bool fl_user_mode(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, cs) & 3;
#elif defined(__TARGET_ARCH_arm64)
	return (BPF_CORE_READ(regs, pstate) & 0xf) == 0;	/* PSR_MODE_EL0t */
#else
	return false;
#endif
}

/* FAULT_FLAG_USER and FAULT_FLAG_TRIED: an enum from 5.11 (da2f5eb3d344),
 * #defines before (0x40, 0x20 in 5.10). */
static __always_inline __u32 fl_fault_flag_user(void)
{
	if (bpf_core_enum_value_exists(enum fault_flag, FAULT_FLAG_USER))
		return bpf_core_enum_value(enum fault_flag, FAULT_FLAG_USER);
	return 0x40;
}

static __always_inline __u32 fl_fault_flag_tried(void)
{
	if (bpf_core_enum_value_exists(enum fault_flag, FAULT_FLAG_TRIED))
		return bpf_core_enum_value(enum fault_flag, FAULT_FLAG_TRIED);
	return 0x20;
}

/* ---- kprobe entry stash for return probes that need entry arguments --- */

struct fl_stash {
	__u64 addr;
	__u64 size;
	__u32 sig;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct fl_stash);
} stash SEC(".maps");

static __always_inline int fl_stash_put(__u32 sig, __u64 addr, __u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fl_stash s = { .addr = addr, .size = size, .sig = sig };

	if (bpf_map_update_elem(&stash, &tid, &s, BPF_ANY)) {
		struct fl_stats *st = fl_stats();

		if (st)
			st->cnt[FL_CNT_STASH_DROPPED]++;
	}
	return 0;
}

enum fl_copy_kind { FL_COPY_SHORT, FL_COPY_NONZERO };

/* kretprobe side: a copy failed when it came up short (atomic copies
 * return bytes copied) or returned non-zero (nofault copies: -EFAULT). */
static __always_inline int fl_stash_ret(void *ctx, __u32 sig, long ret,
					enum fl_copy_kind kind)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fl_stash *s = bpf_map_lookup_elem(&stash, &tid);
	__u64 addr, size;
	bool failed;

	if (!s)
		return 0;
	if (s->sig != sig) {
		bpf_map_delete_elem(&stash, &tid);
		return 0;
	}
	addr = s->addr;
	size = s->size;
	bpf_map_delete_elem(&stash, &tid);
	if (kind == FL_COPY_SHORT) {
		failed = (__u64)ret < size;
		addr += ret;		/* where the copy stopped */
	} else {
		failed = ret != 0;
	}
	if (!failed)
		return fl_probe_count(sig, false);
	return fl_probe_event(ctx, sig, addr, size, true);
}

/* ---- nofault copies: 0 or -EFAULT --------------------------------------- */

/* First in the object: libbpf loads programs in object order and stops at
 * the first that fails, and these fexit programs are the ones that do not
 * load before 6.16 (const void * arguments, 1271a40eeafa): the failed
 * load (src/session.c drops them and loads again) is then short. */

/* (uptr_arg selects which argument is the user pointer) */
#define COPY_NOFAULT(name, SIG, A0, A1, UPTR, SIZE, ...)			\
SEC("fexit/" #name)								\
int BPF_PROG(fl_##name##__fexit, __u64 A0, __u64 A1, __u64 a2, ##__VA_ARGS__,	\
	     long ret)								\
{										\
	if (!ret)								\
		return fl_probe_count(SIG, false);				\
	return fl_probe_event(ctx, SIG, UPTR, SIZE, true);			\
}										\
SEC("kprobe/" #name)								\
int BPF_KPROBE(fl_##name##__kprobe, __u64 A0, __u64 A1, __u64 a2,		\
	       ##__VA_ARGS__)							\
{										\
	return fl_stash_put(SIG, UPTR, SIZE);					\
}										\
SEC("kretprobe/" #name)								\
int BPF_KRETPROBE(fl_##name##__kretprobe, long ret)				\
{										\
	return fl_stash_ret(ctx, SIG, ret, FL_COPY_NONZERO);			\
}

/* copy_from_user_nofault(dst, src, size): the very first program, the
 * one whose fexit is rejected before 6.16 (its const void __user *src), so
 * that the failed load stops before verifying any other. */
COPY_NOFAULT(copy_from_user_nofault, FL_SIG_COPY_FROM_USER_NOFAULT, a0, a1, a1, a2)
/* copy_to_user_nofault(dst, src, size), 5.8 (c0ee37e85e0e); notrace on
 * distro kernels, so usually refused: seen through the fault path. */
COPY_NOFAULT(copy_to_user_nofault, FL_SIG_COPY_TO_USER_NOFAULT, a0, a1, a0, a2)
/* btrfs read_extent_buffer_to_user_nofault(eb, dstv, start, len), 5.9
 * (a48b73eca4ce): the copy inside the search_ioctl loop. */
COPY_NOFAULT(read_extent_buffer_to_user_nofault, FL_SIG_EB_TO_USER_NOFAULT,
	     a0, a1, a1, a3, __u64 a3)

/* ---- fault-in helpers: (uaddr, size) -> bytes not faulted in ----------- */

/* fault_in_{readable,writeable,safe_writeable,subpage_writeable}: 5.16
 * (bb523b406c84 "gup: Turn fault_in_pages_{readable,writeable} into
 * fault_in_{readable,writeable}"), subpage 5.19 (da32b5817253). */
/*
 * Set by the loader once a copy or fault probe is attached.  Then a
 * fault-in only feeds an episode that a failed copy or a fault opened: in a
 * loop the copy fails before each retried fault-in, while every buffered
 * write on 5.19+ prefaults its chunk (generic_perform_write), so opening
 * an episode per fault-in meant a hash insert and delete per write(), for
 * nothing.  Without such probes, fault-ins are all faultloop sees.
 */
volatile __u32 faultin_joins_only = 0;

static __always_inline int fl_faultin_event(void *ctx, __u32 sig, __u64 addr,
					    __u64 size, bool failed)
{
	return fl_probe_any_event(ctx, sig, addr, size, failed, faultin_joins_only, 0);
}

#define FAULTIN_UADDR(name, SIG)						\
SEC("fexit/" #name)								\
int BPF_PROG(fl_##name##__fexit, void *uaddr, __u64 size, __u64 ret)		\
{										\
	return fl_faultin_event(ctx, SIG, (__u64)uaddr, size, ret != 0);	\
}										\
SEC("kprobe/" #name)								\
int BPF_KPROBE(fl_##name##__kprobe, void *uaddr, __u64 size)			\
{										\
	return fl_faultin_event(ctx, SIG, (__u64)uaddr, size, false);		\
}										\
SEC("kretprobe/" #name)								\
int BPF_KRETPROBE(fl_##name##__kretprobe, long ret)				\
{										\
	return fl_probe_count(SIG, ret != 0);					\
}

FAULTIN_UADDR(fault_in_readable, FL_SIG_FAULT_IN_READABLE)
FAULTIN_UADDR(fault_in_writeable, FL_SIG_FAULT_IN_WRITEABLE)
FAULTIN_UADDR(fault_in_safe_writeable, FL_SIG_FAULT_IN_SAFE_WRITEABLE)
FAULTIN_UADDR(fault_in_subpage_writeable, FL_SIG_FAULT_IN_SUBPAGE_WRITEABLE)

/* fault_in_iov_iter_{readable,writeable}(i, size) (5.16) and the older
 * iov_iter_fault_in_readable(i, bytes) (<= 5.15.0): iterator first. */
#define FAULTIN_ITER(name, SIG)							\
SEC("fexit/" #name)								\
int BPF_PROG(fl_##name##__fexit, void *i, __u64 size, long ret)			\
{										\
	return fl_faultin_event(ctx, SIG, fl_iter_addr(i), size, ret != 0);	\
}										\
SEC("kprobe/" #name)								\
int BPF_KPROBE(fl_##name##__kprobe, void *i, __u64 size)			\
{										\
	return fl_faultin_event(ctx, SIG, fl_iter_addr(i), size, false);	\
}										\
SEC("kretprobe/" #name)								\
int BPF_KRETPROBE(fl_##name##__kretprobe, long ret)				\
{										\
	return fl_probe_count(SIG, ret != 0);					\
}

FAULTIN_ITER(fault_in_iov_iter_readable, FL_SIG_FAULT_IN_IOV_READABLE)
FAULTIN_ITER(fault_in_iov_iter_writeable, FL_SIG_FAULT_IN_IOV_WRITEABLE)
FAULTIN_ITER(iov_iter_fault_in_readable, FL_SIG_FAULT_IN_IOV_READABLE)

/* ---- atomic copies ------------------------------------------------------ */

/* copy_page_from_iter_atomic (5.14) / copy_folio_from_iter_atomic (6.6):
 * (page|folio, offset, bytes, i) -> bytes copied; they advance the
 * iterator by what they copied, so at exit the iterator points at the
 * failing byte. */
#define COPY_ATOMIC_NEW(name)							\
SEC("fexit/" #name)								\
int BPF_PROG(fl_##name##__fexit, void *pg, __u64 off, __u64 bytes, void *i,	\
	     __u64 ret)								\
{										\
	if (ret >= bytes)							\
		return fl_probe_count(FL_SIG_COPY_ATOMIC, false);		\
	return fl_probe_event(ctx, FL_SIG_COPY_ATOMIC, fl_iter_addr(i), bytes,	\
			      true);						\
}										\
SEC("kprobe/" #name)								\
int BPF_KPROBE(fl_##name##__kprobe, void *pg, __u64 off, __u64 bytes, void *i)	\
{										\
	return fl_stash_put(FL_SIG_COPY_ATOMIC, fl_iter_addr(i), bytes);	\
}										\
SEC("kretprobe/" #name)								\
int BPF_KRETPROBE(fl_##name##__kretprobe, long ret)				\
{										\
	return fl_stash_ret(ctx, FL_SIG_COPY_ATOMIC, ret, FL_COPY_SHORT);	\
}

COPY_ATOMIC_NEW(copy_folio_from_iter_atomic)
COPY_ATOMIC_NEW(copy_page_from_iter_atomic)

/* <= 5.13: iov_iter_copy_from_user_atomic(page, i, offset, bytes) does not
 * advance the iterator. */
SEC("fexit/iov_iter_copy_from_user_atomic")
int BPF_PROG(fl_iov_iter_copy_from_user_atomic__fexit, void *pg, void *i,
	     __u64 off, __u64 bytes, __u64 ret)
{
	if (ret >= bytes)
		return fl_probe_count(FL_SIG_COPY_ATOMIC, false);
	return fl_probe_event(ctx, FL_SIG_COPY_ATOMIC, fl_iter_addr(i) + ret,
			      bytes, true);
}

SEC("kprobe/iov_iter_copy_from_user_atomic")
int BPF_KPROBE(fl_iov_iter_copy_from_user_atomic__kprobe, void *pg, void *i,
	       __u64 off, __u64 bytes)
{
	return fl_stash_put(FL_SIG_COPY_ATOMIC, fl_iter_addr(i), bytes);
}

SEC("kretprobe/iov_iter_copy_from_user_atomic")
int BPF_KRETPROBE(fl_iov_iter_copy_from_user_atomic__kretprobe, long ret)
{
	return fl_stash_ret(ctx, FL_SIG_COPY_ATOMIC, ret, FL_COPY_SHORT);
}

/* ---- fault path ---------------------------------------------------------- */

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(fl_pf_kernel__tp_btf, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return fl_pf_kernel(ctx, address);
}

SEC("raw_tp/page_fault_kernel")
int BPF_PROG(fl_pf_kernel__raw_tp, unsigned long address)
{
	return fl_pf_kernel(ctx, address);
}

#if defined(__TARGET_ARCH_x86)
SEC("tracepoint/exceptions/page_fault_kernel")
int fl_pf_kernel__tp(struct trace_event_raw_exceptions *args)
{
	return fl_pf_kernel(args, args->address);
}
#endif

/* fixup_exception: x86 (regs, trapnr, error_code, fault_addr) since 4.19
 * (81fd9c18444d); arm64 (regs[, esr]) has no address: counted only. */
#if defined(__TARGET_ARCH_x86)
SEC("fentry/fixup_exception")
int BPF_PROG(fl_fixup_exception__fentry, struct pt_regs *regs, int trapnr,
	     unsigned long error_code, unsigned long fault_addr)
{
	if (trapnr != 14 || !fl_user_addr(fault_addr))	/* X86_TRAP_PF */
		return fl_probe_count(FL_SIG_FIXUP_EXCEPTION, false);
	return fl_probe_event(ctx, FL_SIG_FIXUP_EXCEPTION, fault_addr, 0, false);
}

SEC("kprobe/fixup_exception")
int BPF_KPROBE(fl_fixup_exception__kprobe, struct pt_regs *regs, int trapnr,
	       unsigned long error_code, unsigned long fault_addr)
{
	if (trapnr != 14 || !fl_user_addr(fault_addr))
		return fl_probe_count(FL_SIG_FIXUP_EXCEPTION, false);
	return fl_probe_event(ctx, FL_SIG_FIXUP_EXCEPTION, fault_addr, 0, false);
}
#else
SEC("fentry/fixup_exception")
int BPF_PROG(fl_fixup_exception__fentry)
{
	return fl_probe_count(FL_SIG_FIXUP_EXCEPTION, false);
}

SEC("kprobe/fixup_exception")
int BPF_KPROBE(fl_fixup_exception__kprobe)
{
	return fl_probe_count(FL_SIG_FIXUP_EXCEPTION, false);
}
#endif

/*
 * Set by the loader when exceptions:page_fault_kernel is attached too: it
 * sees every kernel fault handle_mm_fault() sees, earlier and with
 * pagefault_disabled, so a second detector run for the same fault at the
 * same address adds nothing but a second detector run per fault
 * (BENCHMARKS.md).  handle_mm_fault then only counts, except for a
 * retry inside one fault: page_fault_kernel fires once per #PF, while
 * do_user_addr_fault() (and arm64's do_page_fault()) go back to retry:
 * and call handle_mm_fault() again with FAULT_FLAG_TRIED, as does GUP
 * with FOLL_TRIED.  Those are the loop's own iterations.
 */
volatile __u32 mm_fault_count_only = 0;

/* handle_mm_fault(vma, address, flags, regs): user-mode faults are the bulk
 * and never part of a uaccess loop, so they leave after one branch. */
static __always_inline int fl_mm_fault(void *ctx, struct vm_area_struct *vma,
				       __u64 address, __u32 flags)
{
	if (flags & fl_fault_flag_user())
		return 0;
	if (mm_fault_count_only && !(flags & fl_fault_flag_tried()))
		return fl_probe_count(FL_SIG_HANDLE_MM_FAULT, false);
	return fl_probe_any_event(ctx, FL_SIG_HANDLE_MM_FAULT, address, 0, false, false,
				  fl_vma_uffd(vma));
}

SEC("fentry/handle_mm_fault")
int BPF_PROG(fl_handle_mm_fault__fentry, struct vm_area_struct *vma,
	     unsigned long address, unsigned int flags)
{
	return fl_mm_fault(ctx, vma, address, flags);
}

SEC("kprobe/handle_mm_fault")
int BPF_KPROBE(fl_handle_mm_fault__kprobe, struct vm_area_struct *vma,
	       unsigned long address, unsigned int flags)
{
	return fl_mm_fault(ctx, vma, address, flags);
}

/* arm64 (far, esr, regs) handlers: do_page_fault, do_tag_check_fault
 * (MTE, 5.10 98c970da8b35), __do_kernel_fault (addr, esr, regs). */
#define ARM64_FAULT(name, SIG)							\
SEC("fentry/" #name)								\
int BPF_PROG(fl_##name##__fentry, unsigned long far, unsigned long esr,		\
	     struct pt_regs *regs)						\
{										\
	if (fl_user_mode(regs))							\
		return 0;							\
	return fl_probe_event(ctx, SIG, far, 0, true);				\
}										\
SEC("kprobe/" #name)								\
int BPF_KPROBE(fl_##name##__kprobe, unsigned long far, unsigned long esr,	\
	       struct pt_regs *regs)						\
{										\
	if (fl_user_mode(regs))							\
		return 0;							\
	return fl_probe_event(ctx, SIG, far, 0, true);				\
}

ARM64_FAULT(do_page_fault, FL_SIG_DO_PAGE_FAULT)
ARM64_FAULT(do_tag_check_fault, FL_SIG_TAG_CHECK_FAULT)
ARM64_FAULT(__do_kernel_fault, FL_SIG_KERNEL_FAULT)

/* ---- loop owners ----------------------------------------------------------- */

/* fexit reads the return value after the arguments, so one program per
 * arity; the loader checks the arity in BTF before picking one (e.g.
 * generic_perform_write has 3 arguments in 5.10 and 2 from 5.19). */
#define OWNER_FEXIT(name, SIG, N)						\
SEC("fexit/" #name)								\
int fl_##name##__fexit##N(__u64 *ctx)						\
{										\
	return fl_probe_end(ctx, SIG, FL_END_OWNER_RETURN, (long)ctx[N],	\
			    true);						\
}

#define OWNER_KRET(name, SIG)							\
SEC("kretprobe/" #name)								\
int BPF_KRETPROBE(fl_##name##__kretprobe, long ret)				\
{										\
	return fl_probe_end(ctx, SIG, FL_END_OWNER_RETURN, ret, true);	\
}

/* btrfs search_ioctl(inode|root, sk, buf_size, ubuf): entry too, so each
 * ioctl starts a fresh episode (ioctls do not move ioac.syscr/syscw). */
SEC("fentry/search_ioctl")
int BPF_PROG(fl_search_ioctl__fentry)
{
	return fl_probe_end(ctx, FL_SIG_OWNER_SEARCH_IOCTL, FL_END_OWNER_ENTRY, 0, false);
}

SEC("kprobe/search_ioctl")
int BPF_KPROBE(fl_search_ioctl__kprobe)
{
	return fl_probe_end(ctx, FL_SIG_OWNER_SEARCH_IOCTL, FL_END_OWNER_ENTRY, 0, false);
}

OWNER_FEXIT(search_ioctl, FL_SIG_OWNER_SEARCH_IOCTL, 4)
OWNER_KRET(search_ioctl, FL_SIG_OWNER_SEARCH_IOCTL)

OWNER_FEXIT(generic_perform_write, FL_SIG_OWNER_GENERIC_PERFORM_WRITE, 2)
OWNER_FEXIT(generic_perform_write, FL_SIG_OWNER_GENERIC_PERFORM_WRITE, 3)
OWNER_KRET(generic_perform_write, FL_SIG_OWNER_GENERIC_PERFORM_WRITE)

OWNER_FEXIT(btrfs_buffered_write, FL_SIG_OWNER_BTRFS_BUFFERED_WRITE, 2)
OWNER_KRET(btrfs_buffered_write, FL_SIG_OWNER_BTRFS_BUFFERED_WRITE)

OWNER_FEXIT(iomap_file_buffered_write, FL_SIG_OWNER_IOMAP_BUFFERED_WRITE, 3)
OWNER_FEXIT(iomap_file_buffered_write, FL_SIG_OWNER_IOMAP_BUFFERED_WRITE, 4)
OWNER_FEXIT(iomap_file_buffered_write, FL_SIG_OWNER_IOMAP_BUFFERED_WRITE, 5)
OWNER_KRET(iomap_file_buffered_write, FL_SIG_OWNER_IOMAP_BUFFERED_WRITE)

OWNER_FEXIT(fuse_perform_write, FL_SIG_OWNER_FUSE_PERFORM_WRITE, 2)
OWNER_FEXIT(fuse_perform_write, FL_SIG_OWNER_FUSE_PERFORM_WRITE, 4)
OWNER_KRET(fuse_perform_write, FL_SIG_OWNER_FUSE_PERFORM_WRITE)

/* ---- task exit ------------------------------------------------------------- */

static __always_inline int fl_task_gone(void *ctx)
{
	return fl_probe_end(ctx, FL_SIG_TASK_EXIT, FL_END_TASK_EXIT, 0, false);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(fl_task_exit__tp_btf)
{
	return fl_task_gone(ctx);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(fl_task_exit__raw_tp)
{
	return fl_task_gone(ctx);
}

SEC("tracepoint/sched/sched_process_exit")
int fl_task_exit__tp(void *args)
{
	return fl_task_gone(args);
}

/* ---- the stall sampler: a software cpu-clock event on every CPU ---------------- */

static __always_inline int fl_stall_perf(struct bpf_perf_event_data *ctx, bool vma)
{
	__u64 ips[FL_MAX_STACK] = {};
	struct task_struct *t;
	struct fl_stats *st;
	__u64 id, flags;
	long n;

	if (!stall_ns)
		return 0;
	t = fl_current();
	id = fl_task_id(t);
	if (!(__u32)id)
		return 0;	/* the idle task */
	flags = FL_HAVE_TASK_BTF ? t->flags : BPF_CORE_READ(t, flags);
	if (flags & FL_PF_KTHREAD)
		return 0;
	st = fl_stats();
	if (!st)
		return 0;
	/* no kernel frames when the sample interrupted user mode */
	n = bpf_get_stack(ctx, ips, sizeof(ips), 0);
	fl_stall_entry(ctx, st, id, fl_progress(t), fl_oncpu(t), fl_task_sigpend(t), ips,
		       n > 0 ? (int)((__u64)n >> 3) : 0, bpf_ktime_get_ns(), vma);
	return 0;
}

/* The sampler, and the same with the fault address's VMA looked up
 * (fl_stall_vma in bpf/stall.bpf.h: 5.17+, the table's first choice). */
SEC("perf_event")
int fl_stall__perf(struct bpf_perf_event_data *ctx)
{
	return fl_stall_perf(ctx, false);
}

SEC("perf_event")
int fl_stall_vma__perf(struct bpf_perf_event_data *ctx)
{
	return fl_stall_perf(ctx, true);
}

/* ---- stuck tasks: what /proc cannot say about a running thread ------------- */

/* task_struct.state became __state (unsigned int) in 5.14 (2f064a59a11f) */
struct task_struct___state_old {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline long fl_task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___state_old *)t, state);
}

/* THREAD_SIZE: 16 KiB on x86_64 and arm64 with 4K pages, doubled by
 * KASAN, the page size on arm64 with 64K pages; the loader finds it
 * (fl_kernel_thread_size in src/kconfig.c). */
const volatile __u64 thread_size = 16384;

/* The syscall a task is in, from the pt_regs saved at kernel entry. */
static __always_inline long fl_task_syscall(struct task_struct *t)
{
	struct pt_regs *regs;

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)) {
		/* 5.15 (dd6e10fbd9fb): also right with x86 FRED's stack padding */
		regs = (struct pt_regs *)bpf_task_pt_regs(t);
	} else {
		/* 5.10-5.14: task_pt_regs() is the top of the kernel stack
		 * (no padding on 64-bit), THREAD_SIZE bytes above its base */
		void *stack = BPF_CORE_READ(t, stack);

		if (!stack)
			return -1;
		regs = stack + thread_size - bpf_core_type_size(struct pt_regs);
	}
#if defined(__TARGET_ARCH_x86)
	return (long)BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ(regs, syscallno);
#else
	return -1;
#endif
}

/* Every running user thread; user space keeps those /proc found stuck. */
SEC("iter/task")
int fl_task_iter(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct fl_task_rec r = {};

	if (!t || fl_task_state(t) != 0 || (BPF_CORE_READ(t, flags) & FL_PF_KTHREAD))
		return 0;
	r.pid = BPF_CORE_READ(t, tgid);
	r.tid = BPF_CORE_READ(t, pid);
	r.syscall = fl_task_syscall(t);
	if (bpf_core_field_exists(t->sched_info))	/* CONFIG_SCHED_INFO */
		r.last_arrival_ns = BPF_CORE_READ(t, sched_info.last_arrival);
	r.now_ns = bpf_ktime_get_ns();
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/* ---- the idle sweep ---------------------------------------------------------- */

/* Run by user space with BPF_PROG_TEST_RUN (5.10, 1b4d60ec162f), never
 * attached: args[0] tid, args[1] all (detach), args[2] 1: the stall
 * sampler's map, 0: the episodes hash.  Returns 1 when it ended one. */
SEC("raw_tp")
int fl_sweep(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[2])
		return fl_stall_sweep_one(ctx, (__u32)ctx->args[0], ctx->args[1], 0);
	return fl_sweep_one(ctx, (__u32)ctx->args[0], ctx->args[1], 0);
}
