/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics endpoint: GET /metrics on one libmicrohttpd polling thread,
 * bounded connections, timeouts and memory.  What it serves comes from the
 * render callback, which runs on that thread.
 */
#ifndef FL_HTTP_H
#define FL_HTTP_H

#include <stdbool.h>
#include <stdio.h>
#include "listen.h"

/* Write the exposition to out (OpenMetrics 1.0 when asked); non-zero: 500. */
typedef int (*fl_http_render_fn)(void *ctx, FILE *out, bool openmetrics);

struct fl_http;

/*
 * A listening socket on the address, or -errno.  Bound before the probes
 * are loaded, so that a port in use fails the start at once, with nothing
 * loaded or attached.
 */
int fl_http_listen(const struct fl_listen *l);
/* Serve on listen_fd, which it owns from then on (also on failure: NULL,
 * *err set).  confine (NULL: none) runs first on the thread that starts
 * the HTTP thread, which inherits what it leaves (privs.h). */
struct fl_http *fl_http_start(int listen_fd, fl_http_render_fn render, void *ctx,
			      int (*confine)(void), int *err);
void fl_http_stop(struct fl_http *h);

#endif
