// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's config (src/kconfig.c, src/hz.c): lines of
 * /boot/config-$(uname -r) or /proc/config.gz, as gzgets() hands them
 * over (up to 511 bytes, newline kept), looked up by name; CONFIG_HZ's
 * value.  The first line of the input is the name asked for.
 */
#include "fuzz.h"
#include "hz.h"
#include "kconfig.h"

static void one_line(const char *line, const char *name)
{
	const char *v = fl_kconfig_line(line, name);
	unsigned int hz = fl_config_hz_line(line);

	if (v)
		FZ_ASSERT(v >= line && v <= line + strlen(line));
	FZ_ASSERT(hz <= 100000);
	if (hz)
		FZ_ASSERT(fl_kconfig_line(line, "HZ") != NULL);
	fl_kconfig_line(line, "HZ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fz_strndup(data, size), *p = text, *nl, *name, line[512];

	nl = strchr(p, '\n');
	if (!nl) {
		free(text);
		return 0;
	}
	*nl = 0;
	name = p;
	p = nl + 1;
	while (*p) {
		size_t n = strcspn(p, "\n");

		/* gzgets: at most sizeof(line) - 1 bytes, the newline kept */
		if (n + 1 > sizeof(line) - 1)
			n = sizeof(line) - 2;
		memcpy(line, p, n + (p[n] == '\n'));
		line[n + (p[n] == '\n')] = 0;
		one_line(line, name);
		p += n + (p[n] == '\n');
	}
	free(text);
	return 0;
}
