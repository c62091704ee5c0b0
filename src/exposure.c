// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>
#include "exposure.h"
#include "json.h"
#include "util.h"

static const char *const names[] = {
	[FL_EXP_UNKNOWN] = "unknown",
	[FL_EXP_EXPOSED] = "exposed",
	[FL_EXP_FIXED] = "fixed",
	[FL_EXP_NOT_APPLICABLE] = "not_applicable",
};

const char *fl_exposure_name(enum fl_exposure e)
{
	return e < ARRAY_SIZE(names) ? names[e] : "unknown";
}

/* "Features\t: fp asimd ... mte ..." on arm64: the CPU has MTE (HWCAP2_MTE). */
static bool cpu_has_mte(const char *cpuinfo)
{
	const char *p = cpuinfo;

	while (p && (p = strstr(p, "Features"))) {
		const char *eol = strchr(p, '\n'), *m = p;

		if (!eol)
			eol = p + strlen(p);
		while ((m = strstr(m, " mte")) && m < eol) {
			if (m[4] == ' ' || m[4] == '\n' || !m[4])
				return true;
			m += 4;
		}
		p = eol;
	}
	return false;
}

/* "nodev\tsysfs\n\tbtrfs\n": fs is one of the names */
static bool has_fs(const char *filesystems, const char *fs)
{
	size_t n = strlen(fs);
	const char *p = filesystems;

	while (p && (p = strstr(p, fs))) {
		if ((p == filesystems || p[-1] == '\t' || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == '\n' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/*
 * Userfaultfd that handles kernel-mode faults (the loop is a uaccess),
 * open to an unprivileged process: vm.unprivileged_userfaultfd 1 (the
 * sysctl exists from 5.2 with CONFIG_USERFAULTFD; with 0 an unprivileged
 * process gets UFFD_USER_MODE_ONLY at most, 5.11+), or /dev/userfaultfd
 * (6.1+) open to a group or others.  Before 5.2 there is no sysctl and
 * anyone may.  Privileged processes (CAP_SYS_PTRACE) always can.
 */
static int uffd_open(const struct fl_host_facts *h, const unsigned int v[3], bool have_v,
		     char *why, size_t len)
{
	static const unsigned int sysctl_since[3] = { 5, 2, 0 };

	if (h->unpriv_uffd == 1 || (h->dev_uffd_mode >= 0 && (h->dev_uffd_mode & 066)))
		return 1;
	if (h->unpriv_uffd < 0 && have_v && fl_version_cmp(v, sysctl_since) < 0)
		return 1;
	if (h->unpriv_uffd < 0 && h->dev_uffd_mode == FL_DEV_ABSENT) {
		snprintf(why, len, "no userfaultfd (no vm.unprivileged_userfaultfd: CONFIG_USERFAULTFD off)");
		return 0;
	}
	/* A container's /dev is its own: the host's device node, and so its
	 * mode, cannot be seen from here (sysfs still lists the device). */
	if (h->dev_uffd_mode == FL_DEV_HIDDEN) {
		snprintf(why, len, "vm.unprivileged_userfaultfd=0 and /dev/userfaultfd not visible "
			 "here (a private /dev: a container's, or PrivateDevices=): its mode on the host decides");
		return -1;
	}
	snprintf(why, len, "userfaultfd closed to unprivileged processes "
		 "(vm.unprivileged_userfaultfd=0, /dev/userfaultfd %s); "
		 "processes with CAP_SYS_PTRACE can still loop",
		 h->dev_uffd_mode < 0 ? "absent" : "root only");
	return 0;
}

/* The highest "X.Y.Z" after each occurrence of key in text into v. */
static void max_after(const char *text, const char *key, unsigned int v[3])
{
	const char *p = text;
	unsigned int w[3];

	while (p && (p = strstr(p, key))) {
		p += strlen(key);
		if (!fl_version_parse(p, w) && fl_version_cmp(w, v) > 0)
			memcpy(v, w, sizeof(w));
	}
}

/*
 * The upstream version the kernel contains, and where it was read: a
 * Debian kernel's changelog names each stable update merged
 * ("ChangeLog-6.1.76") and its own versions ("linux (6.1.119-1)", the
 * signed package's "Sign kernel from linux 6.1.119-1"); /proc/version
 * says "Debian 6.1.119-1"; else uname's release, which says nothing
 * about what was backported.
 */
static const char *host_version(const struct fl_host_facts *h, unsigned int v[3])
{
	const char *deb = h->proc_version ? strstr(h->proc_version, " Debian ") : NULL;

	memset(v, 0, 3 * sizeof(*v));
	if (h->changelog) {
		max_after(h->changelog, "/ChangeLog-", v);
		max_after(h->changelog, "linux (", v);
		max_after(h->changelog, "from linux ", v);
		if (v[0])
			return "debian-changelog";
	}
	if (deb && !fl_version_parse(deb + 8, v))
		return "debian";
	if (h->release && !fl_version_parse(h->release, v))
		return "uname";
	return NULL;
}

static void set(struct fl_exposure_result *out, enum fl_exposure st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set(struct fl_exposure_result *out, enum fl_exposure st, const char *fmt, ...)
{
	va_list ap;

	out->status = st;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* Whether the host offers what b needs; if not, out says why. */
static bool applicable(const struct fl_known_bug *b, const struct fl_host_facts *h,
		       const unsigned int v[3], bool have_v, struct fl_exposure_result *out)
{
	unsigned int since[3];
	char why[160];
	int uffd = 1;

	if (b->arch && b->arch != h->arch)
		set(out, FL_EXP_NOT_APPLICABLE, "%s only",
		    b->arch == FL_BUG_ARCH_ARM64 ? "arm64" : "x86_64");
	else if ((b->needs & FL_BUG_NEEDS_MTE) && !cpu_has_mte(h->cpuinfo))
		set(out, FL_EXP_NOT_APPLICABLE, "no MTE (no \"mte\" in /proc/cpuinfo Features)");
	else if ((b->needs & FL_BUG_NEEDS_BTRFS) && !has_fs(h->filesystems, "btrfs"))
		set(out, FL_EXP_NOT_APPLICABLE, "btrfs not loaded (not in /proc/filesystems)");
	else if ((b->needs & FL_BUG_NEEDS_UFFD) &&
		 (uffd = uffd_open(h, v, have_v, why, sizeof(why))) <= 0)
		set(out, uffd ? FL_EXP_UNKNOWN : FL_EXP_NOT_APPLICABLE, "%s", why);
	else if (b->since && have_v && !fl_version_parse(b->since, since) &&
		 fl_version_cmp(v, since) < 0)
		set(out, FL_EXP_NOT_APPLICABLE, "before %s, which brought the code", b->since);
	else
		return true;
	return false;
}

void fl_exposure_decide(const struct fl_known_bug *b, const struct fl_host_facts *h,
			struct fl_exposure_result *out)
{
	unsigned int v[3], fix[3];
	int fixed;

	memset(out, 0, sizeof(*out));
	out->source = host_version(h, v);
	if (out->source)
		snprintf(out->version, sizeof(out->version), "%u.%u.%u", v[0], v[1], v[2]);
	if (!applicable(b, h, v, out->source != NULL, out))
		return;
	if (!b->fix) {
		set(out, FL_EXP_EXPOSED, "no fix merged upstream");
		return;
	}
	if (h->changelog && b->fix_title && strstr(h->changelog, b->fix_title)) {
		set(out, FL_EXP_FIXED, "the Debian changelog lists %s", b->fix);
		return;
	}
	if (!out->source) {
		set(out, FL_EXP_UNKNOWN, "kernel version unknown");
		return;
	}
	fixed = fl_known_bug_fixed_in(b, out->version);
	if (!fl_version_parse(b->fixed_in, fix) && fl_version_cmp(v, fix) >= 0)
		set(out, FL_EXP_FIXED, "%s >= %s, which has %s", out->version, b->fixed_in, b->fix);
	else if (!strcmp(out->source, "uname"))
		set(out, FL_EXP_UNKNOWN, "%s (uname) says nothing about backports of %s",
		    h->release, b->fix);
	else if (fixed == 1)
		set(out, FL_EXP_FIXED, "stable %s has %s (backported)", out->version, b->fix);
	else
		set(out, FL_EXP_EXPOSED, "stable %s lacks %s (%s)", out->version, b->fix,
		    b->fixed_in);
}

/* ---- this host ------------------------------------------------------ */

/* The whole of a (possibly gzip'ed) file, NULL if unreadable or empty. */
static char *slurp(const char *path, size_t max)
{
	gzFile f = gzopen(path, "rb");
	size_t n = 0, cap = 0;
	char *buf = NULL, *p;
	int r;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(buf, cap);
			if (!p)
				break;
			buf = p;
		}
		r = gzread(f, buf + n, 4096);
		if (r > 0)
			n += r;
	} while (r > 0 && n < max);
	gzclose(f);
	if (!buf || !n) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

static int read_int(const char *path)
{
	char *s = slurp(path, 64);
	int v = s ? atoi(s) : -1;

	free(s);
	return v;
}

static char *debian_changelog(const char *release)
{
	/* 7.x: linux-image-KVER is a metapackage, linux-binary-KVER the kernel */
	static const char *const pkgs[] = { "linux-image", "linux-binary" };
	char path[512], *s = NULL;
	size_t i;

	for (i = 0; !s && i < ARRAY_SIZE(pkgs); i++) {
		snprintf(path, sizeof(path), "/usr/share/doc/%s-%s/changelog.Debian.gz",
			 pkgs[i], release);
		s = slurp(path, 64 << 20);
	}
	return s;
}

static struct fl_exposure_result host_results[8];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void decide_host(void)
{
	struct fl_host_facts h = { .arch = fl_known_bug_arch() };
	char *pv = slurp("/proc/version", 4096), *cl, *fs, *cpu;
	struct utsname u;
	struct stat st;
	int i;

	if (uname(&u))
		u.release[0] = 0;
	h.release = u.release;
	h.proc_version = pv;
	h.changelog = cl = debian_changelog(u.release);
	h.filesystems = fs = slurp("/proc/filesystems", 1 << 20);
	h.cpuinfo = cpu = slurp("/proc/cpuinfo", 4 << 20);
	h.unpriv_uffd = read_int("/proc/sys/vm/unprivileged_userfaultfd");
	if (!stat("/dev/userfaultfd", &st))
		h.dev_uffd_mode = (int)(st.st_mode & 07777);
	else
		h.dev_uffd_mode = access("/sys/class/misc/userfaultfd", F_OK) ? FL_DEV_ABSENT
									: FL_DEV_HIDDEN;
	for (i = 0; i < fl_nr_known_bugs && i < (int)ARRAY_SIZE(host_results); i++)
		fl_exposure_decide(&fl_known_bugs[i], &h, &host_results[i]);
	free(pv);
	free(cl);
	free(fs);
	free(cpu);
}

const struct fl_exposure_result *fl_exposure_host(void)
{
	pthread_once(&host_once, decide_host);
	return host_results;
}

int fl_known_bug_fixed(const struct fl_known_bug *b)
{
	const struct fl_exposure_result *e;

	if (b < fl_known_bugs || b >= fl_known_bugs + fl_nr_known_bugs)
		return fl_known_bug_fixed_in(b, fl_kernel_version());
	e = &fl_exposure_host()[b - fl_known_bugs];
	switch (e->status) {
	case FL_EXP_FIXED:
		return 1;
	case FL_EXP_EXPOSED:
		return 0;
	case FL_EXP_UNKNOWN:
		return -1;
	default:
		return fl_known_bug_fixed_in(b, e->version);
	}
}

const char *fl_kernel_version(void)
{
	return fl_exposure_host()[0].version;
}

static const char *fixed_in(const struct fl_known_bug *b)
{
	return b->fixed_in ? b->fixed_in : "none";
}

void fl_exposure_print(FILE *out)
{
	const struct fl_exposure_result *e = fl_exposure_host();
	int i;

	fprintf(out, "\n%-28s %-15s %-9s %s\n", "KNOWN LOOP", "EXPOSURE", "FIXED IN", "WHY");
	for (i = 0; i < fl_nr_known_bugs; i++)
		fprintf(out, "%-28s %-15s %-9s %s%s%s%s\n", fl_known_bugs[i].id,
			fl_exposure_name(e[i].status), fixed_in(&fl_known_bugs[i]), e[i].reason,
			e[i].source ? " [kernel " : "", e[i].source ? e[i].version : "",
			e[i].source ? "]" : "");
}

void fl_exposure_json(struct jw *w)
{
	const struct fl_exposure_result *e = fl_exposure_host();
	int i;

	jw_array_start(w);
	for (i = 0; i < fl_nr_known_bugs; i++) {
		const struct fl_known_bug *b = &fl_known_bugs[i];

		jw_object_start(w);
		jw_kv_string(w, "bug", b->id);
		jw_kv_string(w, "status", fl_exposure_name(e[i].status));
		jw_name(w, "fix");
		jw_string(w, b->fix);
		jw_name(w, "fixed_in");
		jw_string(w, b->fixed_in);
		jw_name(w, "kernel");
		jw_string(w, e[i].source ? e[i].version : NULL);
		jw_name(w, "kernel_from");
		jw_string(w, e[i].source);
		jw_kv_string(w, "reason", e[i].reason);
		jw_object_end(w);
	}
	jw_array_end(w);
}

void fl_exposure_banner(FILE *out)
{
	const struct fl_exposure_result *e = fl_exposure_host();
	int i;

	for (i = 0; i < fl_nr_known_bugs; i++)
		if (e[i].status == FL_EXP_EXPOSED)
			fprintf(out, "faultloop: this host is exposed to %s (%s): %s\n",
				fl_known_bugs[i].id, fl_known_bugs[i].title, e[i].reason);
}

void fl_exposure_metrics(FILE *out)
{
	const struct fl_exposure_result *e = fl_exposure_host();
	int i;

	fprintf(out, "# HELP faultloop_known_bug_exposure Whether this host can hit each known "
		"kernel loop, decided at start: status exposed, fixed, not_applicable or unknown.\n"
		"# TYPE faultloop_known_bug_exposure gauge\n");
	for (i = 0; i < fl_nr_known_bugs; i++)
		fprintf(out, "faultloop_known_bug_exposure{bug=\"%s\",status=\"%s\",fixed_in=\"%s\"} 1\n",
			fl_known_bugs[i].id, fl_exposure_name(e[i].status),
			fixed_in(&fl_known_bugs[i]));
}
