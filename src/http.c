// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "http.h"
#include "util.h"

struct fl_http {
	struct MHD_Daemon *d;
	fl_http_render_fn render;
	void *ctx;
};

static const char landing[] =
	"<!DOCTYPE html>\n<html><head><title>faultloop</title></head><body>\n"
	"<h1>faultloop</h1>\n"
	"<p>Catches the kernel stuck in fault-in/uaccess retry loops.</p>\n"
	"<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code,
			     const char *type, const char *body, size_t len,
			     bool must_free)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
					    must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (must_free)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* OpenMetrics only when the scraper asks for it (Prometheus does). */
static bool wants_openmetrics(struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

	return accept && strstr(accept, "application/openmetrics-text");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload, size_t *upload_size, void **state)
{
	static int first_call;
	struct fl_http *h = cls;
	char *body = NULL;
	size_t len = 0;
	bool om;
	FILE *f;

	(void)version;
	(void)upload;
	if (strcmp(method, MHD_HTTP_METHOD_GET)) {
		/* drain any request body, then refuse */
		if (*upload_size) {
			*upload_size = 0;
			return MHD_YES;
		}
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
			     "405 method not allowed: use GET\n", 32, false);
	}
	if (!*state) {		/* headers only so far */
		*state = &first_call;
		return MHD_YES;
	}
	if (*upload_size) {	/* GET with a body: ignore it */
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", landing,
			     sizeof(landing) - 1, false);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
			     "404 not found: try /metrics\n", 28, false);

	om = wants_openmetrics(c);
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	if (h->render(h->ctx, f, om)) {
		fclose(f);
		free(body);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			     "500 cannot read the BPF maps\n", 29, false);
	}
	fclose(f);
	return reply(c, MHD_HTTP_OK,
		     om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
			: "text/plain; version=0.0.4; charset=utf-8",
		     body, len, true);
}

int fl_http_listen(const struct fl_listen *l)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	if (l->family == AF_INET6) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(l->port);
		v6->sin6_addr = l->addr.v6;
		len = sizeof(*v6);
	} else {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(l->port);
		v4->sin_addr = l->addr.v4;
		len = sizeof(*v4);
	}
	fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a restart binds while the old socket's connections sit in TIME_WAIT */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    /* "[::1]:PORT" means IPv6 only, whatever net.ipv6.bindv6only says */
	    (l->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 32)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

struct launch {
	struct fl_http *h;
	int listen_fd;
	int (*confine)(void);
	int err;
};

/*
 * A thread of its own starts the daemon, so that the HTTP thread is born
 * with that thread's credentials: capset() and the bounding set change
 * only the calling thread (capabilities(7)), and a thread inherits its
 * creator's at clone().  Confined here, it never holds what the main
 * thread still needs to arm held probes.
 */
static void *launch(void *arg)
{
	struct launch *l = arg;

	l->err = l->confine ? l->confine() : 0;
	if (l->err)
		return NULL;
	/*
	 * One polling thread; bounded connections (a scraper needs one),
	 * 10 s idle timeout against slow clients, 32 KiB of memory per
	 * connection so oversized headers are refused, not buffered.
	 */
	l->h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
				   handler, l->h,
				   MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->listen_fd,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
				   MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)16,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
				   MHD_OPTION_END);
	if (!l->h->d)
		l->err = -ENOMEM;
	return NULL;
}

struct fl_http *fl_http_start(int listen_fd, fl_http_render_fn render, void *ctx,
			      int (*confine)(void), int *err)
{
	struct launch l = { .listen_fd = listen_fd, .confine = confine };
	pthread_t th;
	int rc;

	l.h = calloc(1, sizeof(*l.h));
	if (!l.h) {
		l.err = -ENOMEM;
		goto cleanup;
	}
	l.h->render = render;
	l.h->ctx = ctx;
	/* l.err is the launcher's until the join: its own status apart */
	rc = pthread_create(&th, NULL, launch, &l);
	if (rc)
		l.err = -rc;
	else
		pthread_join(th, NULL);
	if (!l.err)
		return l.h;
cleanup:
	close(listen_fd);
	free(l.h);
	*err = l.err;
	return NULL;
}

void fl_http_stop(struct fl_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
