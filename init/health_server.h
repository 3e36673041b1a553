/* SPDX-License-Identifier: MIT */
/*
 * The HTTP health endpoint, as part of the supervisor's single loop:
 * non-blocking accept, bounded per-connection buffers, a per-connection
 * deadline and a connection cap, so slow or idle clients can never delay
 * signal forwarding or reaping. One request per connection (Connection: close).
 */
#ifndef LSINIT_HEALTH_SERVER_H
#define LSINIT_HEALTH_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTH_MAX_CONNS 64
#define HEALTH_CONN_TIMEOUT_MS 5000
/* After an answer, at most this many bytes a client still sends are read and dropped before closing. */
#define HEALTH_DRAIN_MAX ((size_t)1 << 20)

struct health_server;
struct http_request;
struct http_response;

/* Answers one parsed request (status.c's routes, through the supervisor's snapshot). 0, or -1 out of memory. */
typedef int (*health_respond_fn)(void *ctx, const struct http_request *req, struct http_response *resp);

struct health_routes {
    health_respond_fn respond;
    void *ctx;
    unsigned long *requests; /* counts answered requests */
    unsigned long *rejected; /* counts refused or timed-out connections */
};

/* Binds addr ("HOST:PORT", ":PORT", "[::]:PORT"); port 0 picks one. NULL + err on failure. */
struct health_server *health_server_listen(const char *addr, const struct health_routes *routes, char *err,
                                           size_t err_size);
void health_server_free(struct health_server *h);
int health_server_port(const struct health_server *h);

nfds_t health_server_poll_fds(struct health_server *h, struct pollfd *fds, nfds_t room);
void health_server_on_fd(struct health_server *h, int fd, short revents, int64_t now);
int64_t health_server_next_deadline(const struct health_server *h);
void health_server_on_timer(struct health_server *h, int64_t now);

#endif
