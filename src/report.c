// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include <time.h>
#include "exposure.h"
#include "json.h"
#include "knownbugs.h"
#include "ksyms.h"
#include "probes.h"
#include "signals.h"
#include "report.h"
#include "stuck.h"
#include "util.h"

static int nr_frames(const struct fl_report *r)
{
	int n = r->stack_sz > 0 ? r->stack_sz / 8 : 0;

	return n > FL_MAX_STACK ? FL_MAX_STACK : n;
}

static const struct ksym *frame_sym(const struct ksyms *ks, uint64_t addr)
{
	return ks ? ksyms__map_addr(ks, addr) : NULL;
}

int fl_report_stack_syms(const struct fl_report *r, const struct ksyms *ks,
			 const struct ksym *syms[FL_MAX_STACK])
{
	int i, n = nr_frames(r);

	for (i = 0; i < n; i++)
		syms[i] = frame_sym(ks, r->stack[i]);
	return n;
}

unsigned int fl_report_owner_sig(const struct fl_report *r, const struct ksyms *ks)
{
	const struct ksym *syms[FL_MAX_STACK];
	char base[128];
	int i, s, n;

	if (fl_sig_is_owner(r->owner))
		return r->owner;
	n = fl_report_stack_syms(r, ks, syms);
	for (i = 0; i < n; i++) {
		if (!syms[i])
			continue;
		s = fl_sig_by_name(ksyms__base_name(syms[i]->name, base, sizeof(base)));
		if (fl_sig_is_owner(s))
			return s;
	}
	return 0;
}

const char *fl_report_owner(const struct fl_report *r, const struct ksyms *ks)
{
	unsigned int s = fl_report_owner_sig(r, ks);

	return s ? fl_sig_name(s) : NULL;
}

/*
 * The first frames of a stack taken in a BPF program are the tracer's own
 * (the program, bpf_trace_run*, trampolines, kprobe handlers): report from
 * the traced kernel code on.  Only the leading run: further down, a
 * kretprobe_trampoline is the return address a kretprobe swapped in (on
 * arm64 5.10, search_ioctl's), and everything above it is the loop itself.
 */
static int first_frame(const struct fl_report *r, const struct ksyms *ks)
{
	static const char *const tracer[] = {
		"bpf_trace_run", "__bpf_trace_", "bpf_prog_", "bpf_trampoline_",
		"kprobe_", "kretprobe_", "trace_call_bpf", "perf_trace_",
		"__kretprobe_trampoline", "arch_rethook_", "rethook_", "ftrace_",
		"fprobe_", "__bpf_prog_enter", "__bpf_prog_exit",
	};
	int i, first = 0, n = nr_frames(r);
	size_t t;

	for (i = 0; i < n && i < 8; i++) {
		const struct ksym *k = frame_sym(ks, r->stack[i]);
		/* BPF code: listed (module "bpf"), or JIT'ed after kallsyms
		 * was read and inside no symbol */
		bool ours = !k || ksyms__is_bpf(k);

		for (t = 0; k && t < sizeof(tracer) / sizeof(tracer[0]); t++)
			if (!strncmp(k->name, tracer[t], strlen(tracer[t])))
				ours = true;
		if (!ours)
			break;
		first = i + 1;
	}
	return first < n ? first : 0;
}

static void fmt_frame(const struct ksyms *ks, uint64_t addr, char *buf, size_t len)
{
	const struct ksym *k = frame_sym(ks, addr);

	if (!k) {
		snprintf(buf, len, "0x%llx", (unsigned long long)addr);
		return;
	}
	if (k->module)
		snprintf(buf, len, "%s+0x%llx [%s]", k->name,
			 (unsigned long long)(addr - k->addr), k->module);
	else
		snprintf(buf, len, "%s+0x%llx", k->name,
			 (unsigned long long)(addr - k->addr));
}

static void fmt_time(const struct fl_report_ctx *c, uint64_t mono_ns, bool iso,
		     char *buf, size_t len)
{
	int64_t real = (int64_t)mono_ns + c->real_minus_mono_ns;
	time_t sec = real / 1000000000LL;
	struct tm tm;

	gmtime_r(&sec, &tm);
	if (iso) {
		size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);

		snprintf(buf + n, len - n, ".%06lluZ",
			 (unsigned long long)(real % 1000000000LL) / 1000);
	} else {
		strftime(buf, len, "%H:%M:%S", &tm);
	}
}

/* "known_bug": {...} or null */
static void json_bug(struct jw *w, const struct fl_known_bug *b)
{
	int fixed;

	jw_name(w, "known_bug");
	if (!b) {
		jw_null(w);
		return;
	}
	fixed = fl_known_bug_fixed(b);
	jw_object_start(w);
	jw_kv_string(w, "id", b->id);
	jw_kv_string(w, "title", b->title);
	jw_name(w, "fix");
	jw_string(w, b->fix);
	jw_name(w, "fixed_in");
	jw_string(w, b->fixed_in);
	jw_kv_string(w, "kernel", fl_kernel_version());
	jw_name(w, "kernel_has_fix");
	if (fixed < 0)
		jw_null(w);
	else
		jw_bool(w, fixed);
	jw_object_end(w);
}

static void text_bug(FILE *out, const struct fl_known_bug *b)
{
	int fixed;

	if (!b)
		return;
	fixed = fl_known_bug_fixed(b);
	fprintf(out, "    known bug: %s; ", b->title);
	if (!b->fix)
		fprintf(out, "no fix merged upstream");
	else
		fprintf(out, "fixed by %s in %s; this kernel (%s) %s", b->fix, b->fixed_in,
			fl_kernel_version(), fixed < 0 ? "unknown" : fixed ? "has the fix" : "lacks it");
	fputc('\n', out);
}

static void print_json(const struct fl_report_ctx *c, const struct fl_report *r,
		       const char *owner, const char *cg, const struct fl_known_bug *bug)
{
	char buf[256], comm[FL_COMM_LEN + 1];
	struct jw w;
	int i;

	fl_sanitize_comm(r->comm, sizeof(r->comm), comm, sizeof(comm));
	jw_init(&w, c->out);
	jw_object_start(&w);
	jw_kv_string(&w, "event", fl_report_kind_name(r->kind));
	fmt_time(c, r->ts_ns, true, buf, sizeof(buf));
	jw_kv_string(&w, "time", buf);
	jw_kv_uint(&w, "pid", r->pid);
	jw_kv_uint(&w, "tid", r->tid);
	jw_name(&w, "comm");
	jw_string_utf8(&w, comm);
	jw_name(&w, "cgroup");
	jw_string(&w, cg);
	jw_kv_uint(&w, "cgroup_id", r->cgroup_id);
	jw_kv_string(&w, "signal", fl_sig_name(r->sig));
	jw_kv_string(&w, "symbol", c->probes ? fl_probes_symbol(c->probes, r->sig) : "?");
	jw_name(&w, "signals");
	jw_array_start(&w);
	for (i = 0; i < FL_SIG__MAX; i++)
		if (r->sig_mask & (1ULL << i))
			jw_string(&w, fl_sig_name(i));
	jw_array_end(&w);
	jw_kv_hex(&w, "addr", r->addr);
	jw_kv_uint(&w, "size", r->size);
	jw_kv_uint(&w, "retries", r->retries);
	jw_kv_uint(&w, "samples", r->samples);
	jw_kv_uint(&w, "events", r->events);
	jw_kv_uint(&w, "duration_ns", r->duration_ns);
	jw_name(&w, "owner");
	jw_string(&w, owner);
	jw_name(&w, "owner_ret");
	if (r->flags & FL_EP_HAS_RET)
		jw_int(&w, r->owner_ret);
	else
		jw_null(&w);
	jw_name(&w, "reason");
	jw_string(&w, r->kind == FL_REPORT_ENDED ? fl_end_reason_name(r->reason) : NULL);
	json_bug(&w, bug);
	jw_name(&w, "stack");
	jw_array_start(&w);
	for (i = first_frame(r, c->ks); i < nr_frames(r); i++) {
		fmt_frame(c->ks, r->stack[i], buf, sizeof(buf));
		jw_string(&w, buf);
	}
	jw_array_end(&w);
	jw_object_end(&w);
	fputc('\n', c->out);
}

static void print_text(const struct fl_report_ctx *c, const struct fl_report *r,
		       const char *owner, const char *cg, const struct fl_known_bug *bug)
{
	char t[32], d[32], comm[FL_COMM_LEN + 1], frame[256], cgs[4096];
	int i, n = 0;

	fmt_time(c, r->ts_ns, false, t, sizeof(t));
	fmt_duration(r->duration_ns, d, sizeof(d));
	fl_sanitize_comm(r->comm, sizeof(r->comm), comm, sizeof(comm));
	/* directory names are anyone's who may create cgroups, like comm */
	if (cg)
		fl_sanitize_comm(cg, strlen(cg), cgs, sizeof(cgs));
	fprintf(c->out, "%s %-8s pid %u tid %u comm %s cgroup %s\n", t,
		r->kind == FL_REPORT_DETECTED ? "DETECTED" :
		r->kind == FL_REPORT_ONGOING ? "ONGOING" : "ENDED",
		r->pid, r->tid, comm, cg ? cgs : "?");
	/* a stall counts samples inside one fault, not retries */
	fprintf(c->out, "    %llu %s, %llu events in %s at 0x%llx size %llu; signal %s (%s)\n",
		(unsigned long long)(r->samples ? r->samples : r->retries),
		r->samples ? "samples" : "retries", (unsigned long long)r->events, d,
		(unsigned long long)r->addr, (unsigned long long)r->size,
		fl_sig_name(r->sig),
		c->probes ? fl_probes_symbol(c->probes, r->sig) : "?");
	fprintf(c->out, "    owner %s", owner ? owner : "?");
	if (r->flags & FL_EP_HAS_RET)
		fprintf(c->out, " returned %lld", (long long)r->owner_ret);
	if (r->kind == FL_REPORT_ENDED)
		fprintf(c->out, "; ended: %s", fl_end_reason_name(r->reason));
	fprintf(c->out, "; signals:");
	for (i = 0; i < FL_SIG__MAX; i++)
		if (r->sig_mask & (1ULL << i))
			fprintf(c->out, "%s%s", n++ ? "," : " ", fl_sig_name(i));
	fputc('\n', c->out);
	text_bug(c->out, bug);
	for (i = first_frame(r, c->ks); i < nr_frames(r); i++) {
		fmt_frame(c->ks, r->stack[i], frame, sizeof(frame));
		fprintf(c->out, "      %s\n", frame);
	}
}

void fl_report_print(const struct fl_report_ctx *c, const struct fl_report *r,
		     unsigned int owner_sig, const struct fl_known_bug *bug)
{
	const char *owner = owner_sig ? fl_sig_name(owner_sig) : NULL;
	char cgbuf[4096];
	const char *cg = c->cgroup_path ? c->cgroup_path(r->cgroup_id, cgbuf, sizeof(cgbuf)) : NULL;

	if (c->json)
		print_json(c, r, owner, cg, bug);
	else
		print_text(c, r, owner, cg, bug);
	fflush(c->out);
}

void fl_report_print_stuck(const struct fl_report_ctx *c, const struct fl_stuck_task *t,
			   bool ended, uint64_t now)
{
	const char *name = t->syscall >= 0 ? fl_syscall_name(t->syscall) : NULL;
	char ts[64], d[32], comm[sizeof(t->comm) + 1];

	fl_sanitize_comm(t->comm, sizeof(t->comm), comm, sizeof(comm));
	if (c->json) {
		struct jw w;

		jw_init(&w, c->out);
		jw_object_start(&w);
		jw_kv_string(&w, "event", ended ? "unstuck" : "stuck");
		fmt_time(c, now, true, ts, sizeof(ts));
		jw_kv_string(&w, "time", ts);
		jw_kv_uint(&w, "pid", t->pid);
		jw_kv_uint(&w, "tid", t->tid);
		jw_name(&w, "comm");
		jw_string_utf8(&w, comm);
		jw_kv_int(&w, "cpu", t->cpu);
		jw_name(&w, "syscall");
		if (t->syscall >= 0)
			jw_int(&w, t->syscall);
		else
			jw_null(&w);
		jw_name(&w, "syscall_name");
		jw_string(&w, name);
		jw_kv_uint(&w, "on_cpu_ns", t->on_cpu_ns);
		jw_kv_uint(&w, "quiet_ns", t->quiet_ns);
		jw_kv_uint(&w, "sys_pct", t->sys_pct);
		jw_kv_bool(&w, "preempted", t->preempted);
		jw_object_end(&w);
		fputc('\n', c->out);
	} else {
		fmt_time(c, now, false, ts, sizeof(ts));
		fmt_duration(t->on_cpu_ns, d, sizeof(d));
		fprintf(c->out, "%s %-8s pid %u tid %u comm %s\n", ts, ended ? "UNSTUCK" : "STUCK",
			t->pid, t->tid, comm);
		if (ended)
			fprintf(c->out, "    left the kernel or scheduled after %s on CPU %d\n", d, t->cpu);
		else if (t->syscall >= 0)
			fprintf(c->out, "    in the kernel on CPU %d for %s without a %scontext switch, %u%% system time; syscall %s (%ld)\n",
				t->cpu, d, t->preempted ? "voluntary " : "", t->sys_pct, name ? name : "?", t->syscall);
		else
			fprintf(c->out, "    in the kernel on CPU %d for %s without a %scontext switch, %u%% system time\n",
				t->cpu, d, t->preempted ? "voluntary " : "", t->sys_pct);
	}
	fflush(c->out);
}

void fl_report_print_summary(FILE *out, const struct fl_stats *s, uint64_t sweep_errors,
			     int verbose)
{
	__u64 events = 0;
	int i;

	for (i = 0; i < FL_SIG__MAX; i++)
		events += s->events[i];
	fprintf(out,
		"faultloop: %llu events, %llu episodes, %llu retries, %llu loops detected, "
		"%llu reports lost, %llu tasks untracked (map full), %llu stash drops, "
		"%llu events filtered, %llu nested skipped, %llu sweep errors\n",
		(unsigned long long)events, (unsigned long long)s->cnt[FL_CNT_EPISODES],
		(unsigned long long)s->cnt[FL_CNT_RETRIES],
		(unsigned long long)s->cnt[FL_CNT_DETECTED],
		(unsigned long long)s->cnt[FL_CNT_REPORTS_LOST],
		(unsigned long long)s->cnt[FL_CNT_EPISODES_DROPPED],
		(unsigned long long)s->cnt[FL_CNT_STASH_DROPPED],
		(unsigned long long)s->cnt[FL_CNT_FILTERED],
		(unsigned long long)s->cnt[FL_CNT_NESTED],
		(unsigned long long)sweep_errors);
	if (!verbose)
		return;
	for (i = 1; i < FL_SIG__MAX; i++)
		if (s->events[i])
			fprintf(out, "  %-28s %12llu events %10llu failed\n", fl_sig_name(i),
				(unsigned long long)s->events[i],
				(unsigned long long)s->failures[i]);
}

/* ---- the probes: --probes, and the start-up summary ---------------------- */

void fl_report_probes(const struct fl_probe_set *set, FILE *out)
{
	int i;

	fprintf(out, "%-26s %-12s %-11s %-36s %-16s %s\n", "SIGNAL", "KIND",
		"STATUS", "SYMBOL", "MODE", "WHY NOT / TRIED");
	for (i = 0; i < set->n; i++) {
		const struct fl_probe *p = &set->probes[i];
		bool ok = p->status == FL_ST_ATTACHED;

		fprintf(out, "%-26s %-12s %-11s %-36s %-16s %s\n", p->def->name,
			fl_kind_name(fl_sig_kind(p->def->sig)), fl_status_name(p->status),
			ok ? p->sym : p->def->cand[0].sym,
			ok ? fl_mode_name(p->impl) : "-",
			ok ? (p->reason[0] ? p->reason : "") : p->reason);
	}
}

void fl_report_probes_json(const struct fl_probe_set *set, struct jw *w)
{
	int i, c;

	jw_array_start(w);
	for (i = 0; i < set->n; i++) {
		const struct fl_probe *p = &set->probes[i];
		bool ok = p->status == FL_ST_ATTACHED;

		jw_object_start(w);
		jw_kv_string(w, "signal", p->def->name);
		jw_kv_string(w, "kind", fl_kind_name(fl_sig_kind(p->def->sig)));
		jw_kv_string(w, "status", fl_status_name(p->status));
		jw_kv_bool(w, "attached", ok);
		jw_name(w, "symbol");
		jw_string(w, ok ? p->sym : NULL);
		jw_name(w, "mode");
		jw_string(w, ok ? fl_mode_name(p->impl) : NULL);
		jw_kv_string(w, "reason", p->reason);
		jw_name(w, "candidates");
		jw_array_start(w);
		for (c = 0; c < FL_MAX_CANDS && p->def->cand[c].sym; c++)
			jw_string(w, p->def->cand[c].sym);
		jw_array_end(w);
		jw_kv_string(w, "since", p->def->since);
		jw_object_end(w);
	}
	jw_array_end(w);
}

void fl_report_probe_summary(const struct fl_probe_set *set, FILE *out)
{
	static const enum fl_kind kinds[] = { FL_K_FAULTIN, FL_K_COPY, FL_K_FAULT, FL_K_OWNER };
	size_t k;
	int i;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		int have = 0, total = 0;

		fprintf(out, "  %-9s", fl_kind_name(kinds[k]));
		for (i = 0; i < set->n; i++) {
			const struct fl_probe *p = &set->probes[i];

			if (fl_sig_kind(p->def->sig) != kinds[k] || p->status == FL_ST_OTHER_ARCH)
				continue;
			total++;
			if (p->status == FL_ST_ATTACHED) {
				have++;
				fprintf(out, " +%s(%s)", p->def->name, fl_mode_name(p->impl));
			}
		}
		fprintf(out, "  [%d/%d]", have, total);
		if (have < total) {
			fprintf(out, " missing:");
			for (i = 0; i < set->n; i++) {
				const struct fl_probe *p = &set->probes[i];

				if (fl_sig_kind(p->def->sig) == kinds[k] && p->status != FL_ST_ATTACHED &&
				    p->status != FL_ST_OTHER_ARCH)
					fprintf(out, " %s", p->def->name);
			}
		}
		fputc('\n', out);
	}
}
