/* SPDX-License-Identifier: MIT */
/*
 * The one event loop: one ppoll over the fds of every registered source,
 * with a timeout computed from the nearest deadline any source has, so an
 * idle lsinit never wakes up. A pass that follows a SIGCHLD (a source calls
 * loop_child_exited) reaps exited children first, LOOP_REAP_BATCH at most, and
 * offers each to the sources in registration order until one claims it
 * (SIGCHLDs coalesce: one wake-up may stand for many exits, catatonit#4); a
 * pass that filled its slice looks at the fds without waiting and reaps on in
 * the next, so a burst of orphans never holds a signal or a health request
 * up for longer than one slice. Other passes (a health request, a timer) make
 * no waitpid call.
 *
 * A source is an ops table and a pointer (the pattern of redis's ae.c): the
 * loop includes no module's header and knows nothing of what a source is.
 * Any op may be NULL.
 */
#ifndef LSINIT_LOOP_H
#define LSINIT_LOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define LOOP_MAX_SOURCES 8
#define LOOP_MAX_FDS 96

struct loop_source_ops {
    const char *name;
    /* Fills up to room pollfds; returns how many. */
    nfds_t (*poll_fds)(void *self, struct pollfd *fds, nfds_t room);
    void (*on_fd)(void *self, int fd, short revents, int64_t now);
    /* The next time on_timer must run (monotonic ms), 0: none. */
    int64_t (*next_deadline)(const void *self);
    void (*on_timer)(void *self, int64_t now);
    /* true: the pid was this source's child. */
    bool (*on_child_exit)(void *self, pid_t pid, int status, int64_t now);
    /* Instead of ppoll, when this source's one fd is all the loop watches and no deadline is set: block until
     * it has handled at least one event. false: it did not (the loop polls). */
    bool (*wait_alone)(void *self, int64_t (*now_ms)(void));
};

struct loop_source {
    const struct loop_source_ops *ops;
    void *self;
};

struct loop {
    struct loop_source sources[LOOP_MAX_SOURCES];
    size_t count;
    /* Called for every reaped pid, claimed or not, before the sources see it. */
    void (*reaped)(void *ctx, pid_t pid);
    /* Asked after each pass's timers: true ends the loop (after one last reap). */
    bool (*finished)(void *ctx);
    void *ctx;
    bool reap_pending; /* a SIGCHLD was read: the next pass reaps */
};

/* Adds a source (self may not be NULL). Returns 0, -1 when the table is full. */
int loop_add(struct loop *l, const struct loop_source_ops *ops, void *self);
/* Runs until finished() says so. */
void loop_run(struct loop *l, int64_t (*now_ms)(void));
/* A SIGCHLD arrived (the signal source saw it): the next pass reaps. */
void loop_child_exited(struct loop *l);
/* Children reaped per pass of the loop at most (the rest in the next passes, after the fds ready meanwhile). */
#define LOOP_REAP_BATCH 32UL
/* One reap pass: exited children (at most max; 0: all), offered to the sources. Returns how many were reaped. */
unsigned long loop_reap(struct loop *l, int64_t now, unsigned long max);

#endif
