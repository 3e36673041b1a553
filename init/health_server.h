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

struct supervisor;
struct health_server;

/* Binds addr ("HOST:PORT", ":PORT", "[::]:PORT"); port 0 picks one. NULL + err on failure. */
struct health_server *health_server_listen(const char *addr, char *err, size_t err_size);
void health_server_free(struct health_server *h);
int health_server_port(const struct health_server *h);

nfds_t health_server_poll_fds(struct health_server *h, struct pollfd *fds, nfds_t room);
void health_server_on_fd(struct supervisor *sup, int fd, short revents, int64_t now);
int64_t health_server_next_deadline(const struct health_server *h);
void health_server_on_timer(struct supervisor *sup, int64_t now);

#endif
