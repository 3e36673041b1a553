/* SPDX-License-Identifier: MIT */
/*
 * One libcurl request with a bounded body: GET or POST, over TCP or a unix
 * socket, no proxy, no signals. For lsinit's own loopback reads
 * (Litestream's metrics and control socket); never used with credentials.
 */
#ifndef LSINIT_HTTP_FETCH_H
#define LSINIT_HTTP_FETCH_H

#include <stddef.h>

#define HTTP_FETCH_MAX_BODY ((size_t)4 * 1024 * 1024)

struct http_fetch {
    const char *url;
    const char *unix_socket; /* NULL: TCP */
    const char *post_body;   /* NULL: GET */
    long timeout_ms;
};

/*
 * Performs the request. Returns the HTTP status (0 when no answer came: no
 * connection, timeout, body over HTTP_FETCH_MAX_BODY) and sets *body to a
 * malloc'ed, NUL-terminated body (or NULL). The caller frees *body.
 */
long http_fetch(const struct http_fetch *req, char **body);

#endif
