// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "log.h"
#include "privs.h"

static bool has_cap(unsigned int cap)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return cap < 64 && (eff >> cap) & 1;
}

bool fl_privs_has(unsigned int cap)
{
	return has_cap(cap);
}

int fl_privs_preflight(void)
{
	/* CAP_BPF (39) + CAP_PERFMON (38) since 5.8; CAP_SYS_ADMIN (21) before */
	if (!has_cap(21) && !(has_cap(39) && has_cap(38))) {
		fl_fail("needs root or CAP_BPF and CAP_PERFMON (running as uid %u without them)",
			getuid());
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fl_fail("this kernel has no BTF (/sys/kernel/btf/vmlinux: %s); "
			"faultloop needs CONFIG_DEBUG_INFO_BTF=y", strerror(errno));
		return -ENOENT;
	}
	return 0;
}


/*
 * Once attached, faultloop needs only bpf() on the fds it holds: keep
 * CAP_BPF (5.8+; with kernel.unprivileged_bpf_disabled, kernels before
 * 6.5 refuse every bpf() command without it) and drop everything else,
 * bounding set included.
 */
int fl_privs_drop(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {};
	int cap, last = 40;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = 40;
		fclose(f);
	}
	for (cap = 0; cap <= last; cap++)
		if (cap != CAP_BPF)
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	data[CAP_TO_INDEX(CAP_BPF)].effective = CAP_TO_MASK(CAP_BPF);
	data[CAP_TO_INDEX(CAP_BPF)].permitted = CAP_TO_MASK(CAP_BPF);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : 0;
}
