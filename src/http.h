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

/* Write the exposition to out (OpenMetrics 1.0 when asked); non-zero: 500. */
typedef int (*fl_http_render_fn)(void *ctx, FILE *out, bool openmetrics);

struct fl_http;

/*
 * "[ADDR:]PORT" ("19477", "127.0.0.1:19477", "[::1]:19477", ":19477" for
 * all addresses).  Returns 0 and fills the socket address, or -EINVAL with
 * *why set.
 */
int fl_http_parse_listen(const char *s, void *sockaddr_storage,
			 unsigned int *len, const char **why);
/* NULL when the address cannot be bound. */
struct fl_http *fl_http_start(const void *sockaddr, fl_http_render_fn render, void *ctx);
void fl_http_stop(struct fl_http *h);

#endif
