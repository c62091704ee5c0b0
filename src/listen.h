/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics endpoint's address, parsed once by config.c from --metrics
 * and handed by main.c to http.c's listen: neither re-parses the text.
 */
#ifndef FL_LISTEN_H
#define FL_LISTEN_H

#include <stdint.h>
#include <netinet/in.h>

struct fl_listen {
	int family;		/* AF_INET or AF_INET6; 0: off */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint16_t port;		/* host order, 1-65535 */
	const char *spec;	/* the flag's value, for messages; NULL: off */
};

/*
 * "[ADDR:]PORT" ("19477", "127.0.0.1:19477", "[::1]:19477", ":19477" for
 * all addresses).  Returns 0 and fills *l, or -EINVAL with *why set.
 */
int fl_listen_parse(const char *s, struct fl_listen *l, const char **why);

#endif
