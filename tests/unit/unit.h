/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What more than one unit test needs. */
#ifndef FL_UNIT_H
#define FL_UNIT_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ksyms.h"

/* A kallsyms text loaded as /proc/kallsyms would be (through a temporary
 * file, which is gone on return); NULL if it cannot be. */
static inline struct ksyms *ksyms_from_text(const char *text)
{
	char path[] = "/tmp/fl-ksyms-XXXXXX";
	size_t n = strlen(text);
	struct ksyms *ks = NULL;
	int fd = mkstemp(path);

	if (fd < 0)
		return NULL;
	if (write(fd, text, n) == (ssize_t)n) {
		close(fd);
		ks = ksyms__load(path);
	} else {
		close(fd);
	}
	unlink(path);
	return ks;
}

#endif
