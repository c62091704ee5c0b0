// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The probe table against the BPF object it drives (opened, not loaded). */
#include <pthread.h>
#include <setjmp.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "faultloop.h"	/* the skeleton's .bss types */
#include "faultloop.skel.h"
#include "kbtf.h"
#include "probes.h"
#include "report.h"

static bool table_uses(const char *prog)
{
	int i, c, m;

	for (i = 0; i < fl_nr_probe_defs; i++)
		for (c = 0; c < FL_MAX_CANDS && fl_probe_defs[i].cand[c].sym; c++)
			for (m = 0; m < FL_MAX_IMPLS; m++) {
				const struct fl_impl *im = &fl_probe_defs[i].cand[c].impl[m];

				if ((im->entry && !strcmp(im->entry, prog)) ||
				    (im->exit && !strcmp(im->exit, prog)))
					return true;
			}
	return false;
}

/* Every program the table names exists, and every program is reachable. */
static void test_table_matches_object(void **state)
{
	struct faultloop_bpf *skel = faultloop_bpf__open();
	struct bpf_program *prog;
	int i, c, m, n = 0;

	assert_non_null(skel);
	for (i = 0; i < fl_nr_probe_defs; i++)
		for (c = 0; c < FL_MAX_CANDS && fl_probe_defs[i].cand[c].sym; c++)
			for (m = 0; m < FL_MAX_IMPLS; m++) {
				const struct fl_impl *im = &fl_probe_defs[i].cand[c].impl[m];

				if (im->entry)
					assert_non_null(bpf_object__find_program_by_name(skel->obj, im->entry));
				if (im->exit)
					assert_non_null(bpf_object__find_program_by_name(skel->obj, im->exit));
			}
	bpf_object__for_each_program(prog, skel->obj) {
		n++;
		/* the stuck-task iterator and the sweep are no probes:
		 * session.c loads them */
		if (!strcmp(bpf_program__name(prog), "fl_task_iter") ||
		    !strcmp(bpf_program__name(prog), "fl_sweep"))
			continue;
		if (!table_uses(bpf_program__name(prog)))
			fail_msg("program %s is not in the probe table", bpf_program__name(prog));
	}
	assert_true(n > 40);
	faultloop_bpf__destroy(skel);
}

/* A program that needs a helper is chosen only where the kernel's BTF
 * names it: fl_kbtf_has_helper against BTFs made here, with and without
 * BPF_FUNC_find_vma in enum bpf_func_id, and with no such enum at all. */
static void test_helper_from_btf(void **state)
{
	struct fl_kbtf kb = { 0 };
	int id;

	kb.vmlinux = btf__new_empty();
	assert_non_null(kb.vmlinux);
	assert_false(fl_kbtf_has_helper(&kb, "find_vma"));	/* no enum */
	id = btf__add_enum(kb.vmlinux, "bpf_func_id", 4);
	assert_true(id > 0);
	assert_int_equal(btf__add_enum_value(kb.vmlinux, "BPF_FUNC_unspec", 0), 0);
	assert_int_equal(btf__add_enum_value(kb.vmlinux, "BPF_FUNC_map_lookup_elem", 1), 0);
	assert_false(fl_kbtf_has_helper(&kb, "find_vma"));	/* 5.10's */
	assert_true(fl_kbtf_has_helper(&kb, "map_lookup_elem"));
	assert_int_equal(btf__add_enum_value(kb.vmlinux, "BPF_FUNC_find_vma", 180), 0);
	assert_true(fl_kbtf_has_helper(&kb, "find_vma"));	/* 5.17's */
	assert_false(fl_kbtf_has_helper(&kb, "find"));		/* whole names only */
	btf__free(kb.vmlinux);
	kb.vmlinux = NULL;
	assert_false(fl_kbtf_has_helper(&kb, "find_vma"));	/* no BTF */
}

/* Every signal has a name, every probe a distinct signal, owners are owners. */
static void test_signals(void **state)
{
	int i, j;

	for (i = 1; i < FL_SIG__MAX; i++)
		assert_string_not_equal(fl_sig_name(i), "unknown");
	assert_string_equal(fl_sig_name(FL_SIG__MAX), "unknown");
	for (i = 0; i < fl_nr_probe_defs; i++) {
		const struct fl_probe_def *d = &fl_probe_defs[i];

		assert_true(d->sig > 0 && d->sig < FL_SIG__MAX);
		assert_non_null(d->cand[0].sym);
		assert_non_null(d->since);
		assert_int_equal(fl_sig_is_owner(d->sig),
				 d->sig >= FL_NR_ADDR_SIGS && d->sig < FL_SIG_TASK_EXIT);
		/* every owner is found again by its name in a stack */
		if (fl_sig_is_owner(d->sig))
			assert_int_equal(fl_sig_by_name(d->name), d->sig);
		for (j = i + 1; j < fl_nr_probe_defs; j++)
			assert_int_not_equal(d->sig, fl_probe_defs[j].sig);
	}
}

static void test_mode_selection(void **state)
{
	enum fl_mode_sel s;

	assert_int_equal(fl_mode_sel_parse("auto", &s), 0);
	assert_int_equal(s, FL_SEL_AUTO);
	assert_int_equal(fl_mode_sel_parse("kprobe", &s), 0);
	assert_int_not_equal(fl_mode_sel_parse("kprobes", &s), 0);
	assert_int_not_equal(fl_mode_sel_parse("", &s), 0);

	/* fentry/kprobe restrict function probes; tracepoints always attach */
	assert_true(fl_mode_allowed(FL_SEL_FENTRY, FL_MODE_FENTRY));
	assert_false(fl_mode_allowed(FL_SEL_FENTRY, FL_MODE_KPROBE));
	assert_true(fl_mode_allowed(FL_SEL_FENTRY, FL_MODE_TP_BTF));
	assert_false(fl_mode_allowed(FL_SEL_KPROBE, FL_MODE_FENTRY));
	assert_true(fl_mode_allowed(FL_SEL_KPROBE, FL_MODE_KPROBE));
	assert_false(fl_mode_allowed(FL_SEL_TRACEPOINT, FL_MODE_FENTRY));
	assert_false(fl_mode_allowed(FL_SEL_TRACEPOINT, FL_MODE_KPROBE));
	assert_true(fl_mode_allowed(FL_SEL_TRACEPOINT, FL_MODE_RAW_TP));
	assert_true(fl_mode_allowed(FL_SEL_AUTO, FL_MODE_KPROBE));
}

/* Within a candidate, fentry comes before kprobe, tp_btf before raw_tp. */
static void test_mode_order(void **state)
{
	int i, c, m;

	for (i = 0; i < fl_nr_probe_defs; i++)
		for (c = 0; c < FL_MAX_CANDS && fl_probe_defs[i].cand[c].sym; c++)
			for (m = 1; m < FL_MAX_IMPLS; m++) {
				const struct fl_impl *a = &fl_probe_defs[i].cand[c].impl[m - 1];
				const struct fl_impl *b = &fl_probe_defs[i].cand[c].impl[m];

				if (!b->entry && !b->exit)
					break;
				assert_true(a->mode <= b->mode);
			}
}

/* Rows of another architecture are not missing signals: the banner used
 * to say "some signals missing" on every kernel because of them. */
static void test_missing_excludes_other_arch(void **state)
{
	struct fl_probe probes[3] = {};
	struct fl_probe_set set = { .probes = probes, .n = 3 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	probes[0].def = &fl_probe_defs[0];
	probes[0].status = FL_ST_ATTACHED;
	probes[0].impl = &fl_probe_defs[0].cand[0].impl[0];
	probes[1].def = &fl_probe_defs[1];
	probes[1].status = FL_ST_OTHER_ARCH;
	probes[2].def = &fl_probe_defs[2];
	probes[2].status = FL_ST_OTHER_ARCH;
	assert_int_equal(fl_probes_missing(&set), 0);
	f = open_memstream(&buf, &len);
	fl_report_probe_summary(&set, f);
	fclose(f);
	assert_null(strstr(buf, "missing"));
	free(buf);
	probes[2].status = FL_ST_REFUSED;
	assert_int_equal(fl_probes_missing(&set), 1);
}

/* The address predicate the BPF knobs and the "no probe" refusal share. */
static void test_has_addr(void **state)
{
	assert_false(fl_sig_has_addr(FL_SIG_NONE));
	assert_true(fl_sig_has_addr(FL_SIG_FAULT_IN_READABLE));
	assert_true(fl_sig_has_addr(FL_SIG_PF_KERNEL_ATOMIC));
	assert_false(fl_sig_has_addr(FL_SIG_OWNER_SEARCH_IOCTL));
	assert_false(fl_sig_has_addr(FL_SIG_TASK_EXIT));
#if defined(__aarch64__)
	assert_false(fl_sig_has_addr(FL_SIG_FIXUP_EXCEPTION));
#else
	assert_true(fl_sig_has_addr(FL_SIG_FIXUP_EXCEPTION));
#endif
}

struct rows_reader {
	struct fl_probe_set *set;
	struct fl_probe_row rows[2];
	int n;
	volatile int done;
};

static void *read_rows(void *p)
{
	struct rows_reader *r = p;

	r->n = fl_probes_rows(r->set, r->rows, 2);
	r->done = 1;
	return NULL;
}

/*
 * The HTTP race, provoked deterministically: held probes are being armed
 * (the set's lock held, a probe half written: attached, no impl yet)
 * while a scrape reads the set.  The reader must wait for the whole
 * update; it used to read status and impl unlocked, and dereference the
 * NULL impl.
 */
static void test_rows_wait_for_arming(void **state)
{
	const struct fl_impl *impl = &fl_probe_defs[0].cand[0].impl[0];
	struct fl_probe probes[1] = {};
	struct fl_probe_set set = { .probes = probes, .n = 1 };
	struct rows_reader r = { .set = &set };
	pthread_t th;

	probes[0].def = &fl_probe_defs[0];
	probes[0].status = FL_ST_HELD;
	pthread_mutex_init(&set.lock, NULL);
	pthread_mutex_lock(&set.lock);
	probes[0].status = FL_ST_ATTACHED;
	assert_int_equal(pthread_create(&th, NULL, read_rows, &r), 0);
	usleep(100 * 1000);
	assert_false(r.done);		/* waits while the probe is half written */
	probes[0].impl = impl;
	snprintf(probes[0].sym, sizeof(probes[0].sym), "%s", "fault_in_readable");
	pthread_mutex_unlock(&set.lock);
	pthread_join(th, NULL);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.rows[0].status, FL_ST_ATTACHED);
	assert_string_equal(r.rows[0].mode, fl_mode_name(impl));
	assert_string_equal(r.rows[0].sym, "fault_in_readable");
	assert_ptr_equal(r.rows[0].prog[1], impl->exit);
	pthread_mutex_destroy(&set.lock);
}

/* The links this process holds (fdinfo's link_id), whatever their kind. */
static int links_held(void)
{
	char path[64], line[128];
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			n += !strncmp(line, "link_id:", 8);
		fclose(f);
	}
	return n;
}

/*
 * A candidate whose entry program attaches but whose exit program is not
 * in the object: the attach fails, and the entry's link must not stay
 * behind (attach_impl returned -ENOENT holding it: a probe counted
 * refused, still running, never destroyed).  Root: a real tracepoint.
 */
static void test_attach_pair_leaves_no_link(void **state)
{
	static const struct fl_impl pair = { FL_MODE_TP_BTF, "fl_task_exit__tp_btf",
					     "fl_no_such_program", 0 };
	struct fl_probe probes[1] = {};
	struct fl_probe_set set = { .probes = probes, .n = 1 };
	struct faultloop_bpf *skel;
	struct bpf_program *prog;
	int before;

	if (geteuid()) {
		skip();		/* cmocka counts it apart, never as a pass */
		return;
	}
	skel = faultloop_bpf__open();
	assert_non_null(skel);
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, !strcmp(bpf_program__name(prog), pair.entry));
	prog = bpf_object__find_program_by_name(skel->obj, pair.entry);
	assert_non_null(prog);
	bpf_program__set_attach_target(prog, 0, "sched_process_exit");
	assert_int_equal(faultloop_bpf__load(skel), 0);
	pthread_mutex_init(&set.lock, NULL);
	probes[0].def = &fl_probe_defs[0];
	probes[0].status = FL_ST_REFUSED;
	probes[0].ntries = 1;
	probes[0].tries[0].impl = &pair;
	snprintf(probes[0].tries[0].sym, sizeof(probes[0].tries[0].sym), "sched/sched_process_exit");
	probes[0].tries[0].obj = skel->obj;
	before = links_held();
	assert_int_equal(fl_probes_attach(&set), 0);
	assert_int_equal(probes[0].status, FL_ST_REFUSED);
	assert_int_equal(links_held(), before);
	fl_probes_detach(&set);
	pthread_mutex_destroy(&set.lock);
	faultloop_bpf__destroy(skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_object),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_helper_from_btf),
		cmocka_unit_test(test_mode_selection),
		cmocka_unit_test(test_mode_order),
		cmocka_unit_test(test_missing_excludes_other_arch),
		cmocka_unit_test(test_has_addr),
		cmocka_unit_test(test_rows_wait_for_arming),
		cmocka_unit_test(test_attach_pair_leaves_no_link),
	};

	return cmocka_run_group_tests_name("probes", tests, NULL, NULL);
}
