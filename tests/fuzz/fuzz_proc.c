// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * /proc/PID/task/TID/{stat,status,io} (src/stuck.c): any thread chooses
 * its comm, which sits in the middle of stat, and faultloop reads every
 * running thread's files at start.  The same bytes go to all three
 * parsers, as read_small() hands them over: NUL-terminated, at most 2047
 * bytes.
 */
#include "fuzz.h"
#include "stuck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_task_stat st;
	char *buf;

	if (size > 2047)
		size = 2047;
	buf = fz_strndup(data, size);

	memset(&st, 0xa5, sizeof(st));
	if (fl_parse_task_stat(buf, &st) == 0) {
		FZ_ASSERT(memchr(st.comm, 0, sizeof(st.comm)) != NULL);
		FZ_ASSERT(st.state != 0);
	}
	memset(&st, 0, sizeof(st));
	fl_parse_task_status(buf, &st);
	fl_parse_task_io(buf, &st);
	free(buf);
	return 0;
}
