// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --metrics [ADDR:]PORT (src/http.c fl_http_parse_listen): any string.
 * On success the address is one inet_pton accepts, of the family its
 * length says, with a port in 1-65535; on error *why says why.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	unsigned int len = 0;
	const char *why = NULL;
	char *s = fz_strndup(data, size);

	memset(&ss, 0xa5, sizeof(ss));
	if (fl_http_parse_listen(s, &ss, &len, &why) == 0) {
		const struct sockaddr_in *v4 = (const void *)&ss;
		const struct sockaddr_in6 *v6 = (const void *)&ss;

		FZ_ASSERT(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
		if (ss.ss_family == AF_INET) {
			FZ_ASSERT(len == sizeof(*v4));
			FZ_ASSERT(ntohs(v4->sin_port) >= 1);
		} else {
			FZ_ASSERT(len == sizeof(*v6));
			FZ_ASSERT(ntohs(v6->sin6_port) >= 1);
			FZ_ASSERT(s[0] == '[');
		}
	} else {
		FZ_ASSERT(why != NULL);
	}
	free(s);
	return 0;
}
