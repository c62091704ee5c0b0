// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include "listen.h"
#include "util.h"

int fl_listen_parse(const char *s, struct fl_listen *l, const char **why)
{
	char host[128] = "127.0.0.1";
	const char *port_s = s, *colon;
	uint64_t port;
	bool is6 = false;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host)) {
			*why = "expected [IPV6]:PORT";
			return -EINVAL;
		}
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = 0;
		port_s = end + 2;
		is6 = true;
	} else if ((colon = strrchr(s, ':'))) {
		if ((size_t)(colon - s) >= sizeof(host)) {
			*why = "address too long";
			return -EINVAL;
		}
		memcpy(host, s, colon - s);
		host[colon - s] = 0;
		if (!host[0])
			strcpy(host, "0.0.0.0");
		port_s = colon + 1;
	}
	if (parse_u64(port_s, 1, 65535, &port, why)) {
		*why = "port must be 1-65535";
		return -EINVAL;
	}
	memset(l, 0, sizeof(*l));
	l->family = is6 ? AF_INET6 : AF_INET;
	l->port = port;
	l->spec = s;
	if (inet_pton(l->family, host, &l->addr) != 1) {
		*why = is6 ? "not an IPv6 address" : "not an IPv4 address";
		return -EINVAL;
	}
	return 0;
}
