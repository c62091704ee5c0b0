// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the rest of faultloop asks of the probe set once it is armed: the
 * rows the HTTP thread copies (under set->lock), what is attached, what
 * is missing. */
#include <stdio.h>
#include <string.h>
#include "probes.h"

int fl_probes_rows(struct fl_probe_set *set, struct fl_probe_row *rows, int max)
{
	int i;

	pthread_mutex_lock(&set->lock);
	for (i = 0; i < set->n && i < max; i++) {
		const struct fl_probe *p = &set->probes[i];
		bool ok = p->status == FL_ST_ATTACHED;

		rows[i].name = p->def->name;
		rows[i].sig = p->def->sig;
		rows[i].status = p->status;
		rows[i].mode = ok ? fl_mode_name(p->impl) : "none";
		snprintf(rows[i].sym, sizeof(rows[i].sym), "%s",
			 ok ? p->sym : p->def->cand[0].sym);
		rows[i].prog[0] = ok ? p->impl->entry : NULL;
		rows[i].prog[1] = ok ? p->impl->exit : NULL;
	}
	pthread_mutex_unlock(&set->lock);
	return i;
}

int fl_probes_missing(const struct fl_probe_set *set)
{
	int i, n = 0;

	for (i = 0; i < set->n; i++)
		n += set->probes[i].status != FL_ST_ATTACHED &&
		     set->probes[i].status != FL_ST_OTHER_ARCH;
	return n;
}

bool fl_probes_have_addr(const struct fl_probe_set *set, unsigned int kinds)
{
	int i;

	for (i = 0; i < set->n; i++) {
		unsigned int sig = set->probes[i].def->sig;

		if (set->probes[i].status == FL_ST_ATTACHED && fl_sig_has_addr(sig) &&
		    (!kinds || (kinds & (1u << fl_sig_kind(sig)))))
			return true;
	}
	return false;
}

bool fl_probes_have(const struct fl_probe_set *set, unsigned int sig)
{
	const struct fl_probe *p = fl_probes_get(set, sig);

	return p && p->status == FL_ST_ATTACHED;
}

const struct fl_probe *fl_probes_get(const struct fl_probe_set *set, unsigned int sig)
{
	int i;

	/* the atomic flavour of page_fault_kernel comes from the same probe */
	if (sig == FL_SIG_PF_KERNEL_ATOMIC)
		sig = FL_SIG_PF_KERNEL;
	for (i = 0; set && i < set->n; i++)
		if (set->probes[i].def->sig == sig)
			return &set->probes[i];
	return NULL;
}

const char *fl_probes_symbol(const struct fl_probe_set *set, unsigned int sig)
{
	const struct fl_probe *p = fl_probes_get(set, sig);

	return p && p->status == FL_ST_ATTACHED ? p->sym : "?";
}

int fl_probes_count(const struct fl_probe_set *set, enum fl_status st)
{
	int i, n = 0;

	for (i = 0; i < set->n; i++)
		n += set->probes[i].status == st;
	return n;
}
