// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel versions (src/knownbugs.c fl_known_bug_fixed_in): the running
 * kernel's version is the digits and dots at the start of the Debian
 * version in /proc/version or of uname's release (fl_kernel_version:
 * "6.1.119", "5.10.0", a custom build's anything), and so is every
 * fixed_in and stable entry.  Against every known bug, and a bug whose
 * fixed_in and stable branches come from the input too, checked against
 * a reference written from the rules: X.Y[.Z], fixed if at least
 * fixed_in, or on a stable branch X.Y from its Z on; no X.Y: unknown (-1).
 * Inputs are cut as fl_kernel_version cuts them; components of more than
 * 9 digits (no kernel has them) are left out.
 *
 * Exposure (src/exposure.c fl_exposure_decide): the same tokens as uname,
 * /proc/version and a Debian changelog: a status of the four, a loop
 * without a fix never "fixed", a changelog naming a fix never "exposed",
 * and a version from uname alone never "exposed" for a loop with a fix.
 */
#include "fuzz.h"
#include "exposure.h"
#include "knownbugs.h"

/* [0-9.]* prefix of s, at most 63 bytes, as sscanf("%63[0-9.]") keeps */
static char *digits_dots(char *s)
{
	size_t n = strspn(s, "0123456789.");

	s[n < 63 ? n : 63] = 0;
	return s;
}

static bool short_runs(const char *s)
{
	size_t run = 0;

	for (; *s; s++) {
		run = *s == '.' ? 0 : run + 1;
		if (run > 9)
			return false;
	}
	return true;
}

static const char *number(const char *p, unsigned int *v)
{
	if (*p < '0' || *p > '9')
		return NULL;
	*v = 0;
	while (*p >= '0' && *p <= '9')
		*v = *v * 10 + (*p++ - '0');
	return p;
}

/* X.Y[.Z]: three numbers, -1 if there is no X.Y */
static int ref_version(const char *s, unsigned int v[3])
{
	const char *p;

	v[2] = 0;
	if (!s || !(p = number(s, &v[0])) || *p != '.' || !(p = number(p + 1, &v[1])))
		return -1;
	if (*p == '.')
		number(p + 1, &v[2]);
	return 0;
}

static int ref_cmp(const unsigned int a[3], const unsigned int b[3])
{
	int i;

	for (i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

static int ref_fixed(const struct fl_known_bug *b, const char *version)
{
	unsigned int have[3], fix[3];
	int i;

	if (!b->fix)
		return 0;
	if (ref_version(version, have) || ref_version(b->fixed_in, fix))
		return -1;
	if (ref_cmp(have, fix) >= 0)
		return 1;
	for (i = 0; i < 4 && b->stable[i]; i++)
		if (!ref_version(b->stable[i], fix) && have[0] == fix[0] &&
		    have[1] == fix[1] && have[2] >= fix[2])
			return 1;
	return 0;
}

/* the rest of the input: uname's release, /proc/version, a changelog */
static void check_exposure(struct fz *f)
{
	char *release = fz_token(f), *proc_version = fz_token(f), *changelog = fz_token(f);
	struct fl_host_facts h = {
		.arch = FL_BUG_ARCH_ARM64, .release = release, .proc_version = proc_version,
		.changelog = changelog[0] ? changelog : NULL, .filesystems = "\tbtrfs\n",
		.cpuinfo = "Features\t: fp mte\n", .unpriv_uffd = 1, .dev_uffd_mode = -1,
	};
	struct fl_exposure_result r;
	int i;

	for (i = 0; i < fl_nr_known_bugs; i++) {
		const struct fl_known_bug *b = &fl_known_bugs[i];

		fl_exposure_decide(b, &h, &r);
		FZ_ASSERT(r.status <= FL_EXP_NOT_APPLICABLE);
		FZ_ASSERT(strlen(r.reason) < sizeof(r.reason));
		FZ_ASSERT(b->fix || r.status != FL_EXP_FIXED);
		if (r.source && !strcmp(r.source, "uname"))
			FZ_ASSERT(!b->fix || r.status != FL_EXP_EXPOSED);
		if (b->fix_title && h.changelog && strstr(h.changelog, b->fix_title))
			FZ_ASSERT(r.status != FL_EXP_EXPOSED);
	}
	free(release);
	free(proc_version);
	free(changelog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	char *version = digits_dots(fz_token(&f)), *fixed_in = digits_dots(fz_token(&f));
	char *stable[4] = { digits_dots(fz_token(&f)), digits_dots(fz_token(&f)),
			    digits_dots(fz_token(&f)), digits_dots(fz_token(&f)) };
	struct fl_known_bug b = { .id = "fuzz", .title = "fuzz", .fix = "0123456789ab",
				  .fixed_in = fixed_in };
	int i, r;

	if (!short_runs(version) || !short_runs(fixed_in) || !short_runs(stable[0]) ||
	    !short_runs(stable[1]) || !short_runs(stable[2]) || !short_runs(stable[3]))
		goto out;
	for (i = 0; i < fl_nr_known_bugs; i++) {
		r = fl_known_bug_fixed_in(&fl_known_bugs[i], version);
		FZ_ASSERT(r == ref_fixed(&fl_known_bugs[i], version));
	}
	for (i = 0; i < 4 && stable[i][0]; i++)
		b.stable[i] = stable[i];
	r = fl_known_bug_fixed_in(&b, version);
	FZ_ASSERT(r >= -1 && r <= 1 && r == ref_fixed(&b, version));
	b.fix = NULL;
	FZ_ASSERT(fl_known_bug_fixed_in(&b, version) == 0);
	check_exposure(&f);
out:
	free(version);
	free(fixed_in);
	for (i = 0; i < 4; i++)
		free(stable[i]);
	return 0;
}
