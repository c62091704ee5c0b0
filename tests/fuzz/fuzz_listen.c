// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --metrics [ADDR:]PORT (src/listen.c fl_listen_parse): any string.
 * On success the family is IPv4 or IPv6 (IPv6 only in brackets), the
 * address one inet_ntop prints and the parser reads back to the same
 * bytes, the port 1-65535; on error *why says why.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_listen l, again;
	char host[INET6_ADDRSTRLEN], spec[INET6_ADDRSTRLEN + 16];
	const char *why = NULL;
	char *s = fz_strndup(data, size);

	memset(&l, 0xa5, sizeof(l));
	if (fl_listen_parse(s, &l, &why) == 0) {
		FZ_ASSERT(l.family == AF_INET || l.family == AF_INET6);
		FZ_ASSERT(l.port >= 1);
		FZ_ASSERT(l.spec == s);
		FZ_ASSERT(l.family == AF_INET || s[0] == '[');
		FZ_ASSERT(inet_ntop(l.family, &l.addr, host, sizeof(host)));
		snprintf(spec, sizeof(spec), l.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 host, l.port);
		FZ_ASSERT(fl_listen_parse(spec, &again, &why) == 0);
		FZ_ASSERT(again.family == l.family && again.port == l.port);
		FZ_ASSERT(!memcmp(&again.addr, &l.addr,
				  l.family == AF_INET6 ? sizeof(l.addr.v6) : sizeof(l.addr.v4)));
	} else {
		FZ_ASSERT(why != NULL);
	}
	free(s);
	return 0;
}
