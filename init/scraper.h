/* SPDX-License-Identifier: MIT */
/*
 * Reads Litestream's metrics from inside the event loop without blocking it:
 * a non-blocking loopback HTTP GET every few seconds, parsed into the
 * replication progress of each database (sync counts, errors, lag).
 */
#ifndef LSINIT_SCRAPER_H
#define LSINIT_SCRAPER_H

#include <poll.h>
#include <stdint.h>

struct scraper;
struct health_state;

/* socket_path: Litestream 0.5's control socket (replica positions), or NULL/"" on 0.3. */
/* Writes what it reads into health (replication progress, scrape counters). */
struct scraper *scraper_new(const char *metrics_addr, const char *socket_path, struct health_state *health,
                            int64_t interval_ms, int64_t now);
void scraper_free(struct scraper *s);
nfds_t scraper_poll_fds(struct scraper *s, struct pollfd *fds, nfds_t room);
void scraper_on_fd(struct scraper *s, short revents, int64_t now);
int64_t scraper_next_deadline(const struct scraper *s);
void scraper_on_timer(struct scraper *s, int64_t now);
int scraper_fd(const struct scraper *s);

#endif
