/* SPDX-License-Identifier: MIT */
/*
 * The follower role in PID 1's loop (LSINIT_ROLE=follower): opens each
 * database the app will read (PID 1 keeps the descriptor, so the follow
 * keeper can be restarted without reopening a file the app cannot write),
 * runs the follow keeper (follow_keeper.h) and restarts it with backoff,
 * turns its events into health state, asks the host to start the app once
 * every database has been published, and answers whether the copy is within
 * LSINIT_FOLLOW_MAX_LAG of the replica.
 *
 * The app's database: mode 0444 (owned by nobody when lsinit is root, whose
 * app also runs without CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_CHOWN), so
 * SQLite opens it read-only and every write fails in the app with
 * "attempt to write a readonly database".
 */
#ifndef LSINIT_FOLLOWER_H
#define LSINIT_FOLLOWER_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct plan;
struct settings;
struct health_state;

struct follower_host {
    void *ctx;
    void (*app_ready)(void *ctx); /* every database published: start the app */
    /* standby: every database's lease is vacant and its copy holds the replica's newest transaction
     * (txids[i], listed after the lease was seen vacant): hand over to the primary path. */
    void (*take_over)(void *ctx, const uint64_t *txids, size_t count);
};

struct follower_params {
    const struct plan *plan;
    const struct settings *settings;
    const sigset_t *child_mask;
    const char *cwd;
    struct health_state *health;
    struct follower_host host;
    bool standby; /* LSINIT_ROLE=standby: watch the primary's lease */
};

struct follower;

/* NULL with *code set (and one line logged) when a database cannot be opened for the app. */
struct follower *follower_new(const struct follower_params *p, int64_t now, int *code);
void follower_free(struct follower *f);

nfds_t follower_poll_fds(void *self, struct pollfd *fds, nfds_t room);
void follower_on_fd(void *self, int fd, short revents, int64_t now);
int64_t follower_next_deadline(const void *self);
void follower_on_timer(void *self, int64_t now);
bool follower_on_child_exit(void *self, pid_t pid, int status, int64_t now);

/* Stops the keeper (and through it the follow processes) for good. */
void follower_stop(struct follower *f);
/* The keeper has exited after follower_stop (or never ran). */
bool follower_stopped(const struct follower *f);
/* Standby handing over: the app's copies become ordinary files owned by lsinit's user, mode 0644, the
 * private copies are deleted, the descriptors closed. 0, or -1 (logged). */
int follower_release_copies(struct follower *f);
/* Every database published and within LSINIT_FOLLOW_MAX_LAG by a measurement no older than that. */
bool follower_within_lag(const struct follower *f, int64_t now);
/* Every database published at least once (the app may start). */
bool follower_published(const struct follower *f);

#endif
