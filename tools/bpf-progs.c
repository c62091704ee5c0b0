// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bpf-progs: print the name of every BPF program loaded in the kernel, one
 * per line.  A bpftool-free check for VM guests that a tracer left nothing
 * behind.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

int main(void)
{
	__u32 id = 0;
	int n = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;	/* freed meanwhile */
		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			printf("%u %s\n", id, info.name);
		close(fd);
		n++;
	}
	if (errno != ENOENT) {
		perror("bpf-progs: BPF_PROG_GET_NEXT_ID");
		return 1;
	}
	return 0;
}
