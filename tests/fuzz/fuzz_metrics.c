// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Label values in the exposition (src/metrics.c): fl_metrics_escape with
 * arbitrary bytes (comm is any 16 bytes a process chooses), then whole
 * expositions whose comm labels come from the input, in both formats.
 *
 * Text format 0.0.4 and OpenMetrics 1.0 both require label values to be
 * UTF-8 with \\, \" and \n escaped; Prometheus and promtool reject the
 * whole scrape otherwise ("invalid label value").  So: every line is
 * valid UTF-8 and a well-formed comment or sample, and a value that was
 * valid UTF-8 comes back unchanged once unescaped.  No two samples may
 * have the same name and labels (OpenMetrics forbids it; Prometheus
 * keeps one of them).
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "knownbugs.h"
#include "metrics.h"

/* Unescape a label value ending at the closing quote; NULL if malformed. */
static const char *label_value(const char *p, const char *end, char *out, size_t *outlen)
{
	size_t k = 0;

	while (p < end && *p != '"') {
		if (*p == '\n')
			return NULL;
		if (*p == '\\') {
			if (p + 1 >= end)
				return NULL;
			if (p[1] == 'n')
				out[k++] = '\n';
			else if (p[1] == '\\' || p[1] == '"')
				out[k++] = p[1];
			else
				return NULL;
			p += 2;
			continue;
		}
		out[k++] = *p++;
	}
	*outlen = k;
	return p < end ? p : NULL;
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* One line of the exposition (without its newline). */
static void check_line(const char *l, size_t n)
{
	const char *p = l, *end = l + n;
	char val[256];
	size_t vlen;

	FZ_ASSERT(fz_utf8_valid(l, n));
	if (n && *p == '#')
		return;
	FZ_ASSERT(n && name_char(*p, true));
	while (p < end && name_char(*p, false))
		p++;
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			FZ_ASSERT(name_char(*p, true));
			while (p < end && name_char(*p, false))
				p++;
			FZ_ASSERT(end - p >= 2 && p[0] == '=' && p[1] == '"');
			p = label_value(p + 2, end, val, &vlen);
			FZ_ASSERT(p != NULL);
			p++;
			if (p < end && *p == ',')
				p++;
		}
		FZ_ASSERT(p < end && *p == '}');
		p++;
	}
	FZ_ASSERT(p < end && *p == ' ');
}

/* the sample's name and labels: up to the last space */
static int series_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t nx = strrchr(x, ' ') - x, ny = strrchr(y, ' ') - y;

	return nx != ny ? (nx < ny ? -1 : 1) : memcmp(x, y, nx);
}

static void check_exposition(const char *s, size_t n)
{
	char *copy = fz_strndup((const uint8_t *)s, n), *p = copy, *nl;
	const char **samples = calloc(n, sizeof(*samples));
	size_t ns = 0, i;

	FZ_ASSERT(n && s[n - 1] == '\n');
	while (p < copy + n) {
		nl = memchr(p, '\n', copy + n - p);
		FZ_ASSERT(nl != NULL);
		check_line(p, nl - p);
		*nl = 0;
		if (*p != '#')
			samples[ns++] = p;
		p = nl + 1;
	}
	qsort(samples, ns, sizeof(*samples), series_cmp);
	for (i = 1; i < ns; i++)
		FZ_ASSERT(series_cmp(&samples[i - 1], &samples[i]) != 0);
	free(samples);
	free(copy);
}

static void escape_one(const char *in, size_t len)
{
	char *out = NULL, back[256];
	size_t outlen = 0, backlen, want = strnlen(in, len);
	FILE *f = open_memstream(&out, &outlen);
	const char *end;

	fl_metrics_escape(f, in, len);
	fputc('"', f);
	fclose(f);
	FZ_ASSERT(fz_utf8_valid(out, outlen));
	end = label_value(out, out + outlen, back, &backlen);
	FZ_ASSERT(end == out + outlen - 1);
	if (fz_utf8_valid(in, want))
		FZ_ASSERT(backlen == want && !memcmp(back, in, want));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fl_user_stats u;
	struct fl_metrics_snapshot snap = { .version = "fuzz\"\\\n" };
	struct fz f = { data, size };
	char *out = NULL;
	size_t outlen = 0;
	FILE *o;
	int i;

	escape_one((const char *)data, size < 64 ? size : 64);

	fl_user_stats_init(&u);
	while (f.n >= FL_COMM_LEN + 1 && u.nloops < 40) {
		uint8_t sel = fz_u8(&f);

		if (sel & 1 && snap.nstuck < FL_STUCK_MAX) {
			struct fl_stuck_task *t = &snap.stuck[snap.nstuck++];

			t->pid = 1000;
			t->tid = 1000 + snap.nstuck;	/* distinct threads */
			memcpy(t->comm, f.d, sizeof(t->comm) - 1);	/* as /proc gives it */
			t->comm[sizeof(t->comm) - 1] = 0;
			t->syscall = (int8_t)sel;
			t->preempted = sel & 2;
		} else {
			fl_user_stats_loop(&u, sel % FL_SIG__MAX, (sel >> 3) % FL_SIG__MAX,
					   sel & 0x80 ? &fl_known_bugs[0] : NULL, (const char *)f.d, FL_COMM_LEN);
		}
		f.d += FL_COMM_LEN;
		f.n -= FL_COMM_LEN;
	}
	for (i = 0; i < 2; i++) {
		o = open_memstream(&out, &outlen);
		fl_metrics_render(o, i, &snap, &u);
		fclose(o);
		check_exposition(out, outlen);
		free(out);
		out = NULL;
	}
	pthread_mutex_destroy(&u.lock);
	return 0;
}
