/* SPDX-License-Identifier: MIT */
/*
 * The follow keeper (LSINIT_ROLE=follower|standby): a child of PID 1 (forked,
 * never exec'd, like the lease keeper) that keeps each database's read-only
 * copy current, so PID 1's loop never blocks on a copy or a listing.
 *
 * For each database it runs `litestream restore -f` into a private copy
 * (DB.lsinit-follow/db, always from scratch: Litestream 0.5.17 cannot resume a
 * follower whose position is past the replica's latest snapshot), watches it
 * with inotify, and after each transaction Litestream applies (its -txid
 * sidecar renamed into place) stops the follower, checks that no page was
 * written since (a stopped follower cannot be half-way through a transaction
 * the queue does not show), publishes the copy into the app's database
 * (follow_publish) and lets the follower go on. Every lag_check_ms it lists
 * the replica's level 0 (`litestream ltx -level 0`) and reports the lag: 0
 * when the published transaction is the replica's newest, else the age of the
 * oldest replica transaction not yet published, by the replica's clock.
 *
 * A follower that exits is restarted from scratch with backoff (1s doubling
 * to 30s); one that stays alive but falls behind by more than stuck_ms while
 * the replica moves on (history pruned past it, a lineage it cannot follow)
 * is killed and restarted from scratch. The app's database is only ever
 * written by a publish.
 *
 * Events, one line each on event_fd:
 *   published <i> <txid> <pages written> <pages> <ms>
 *   lag <i> <lag ms> <replica txid> <published txid>
 *   unreachable <i> <lag ms, an upper bound> <why>
 *   restarted <i> <why>
 *   error <i> <why>
 *   lease <i> vacant                       (standby) the primary's lease is absent or stale
 *   lease <i> held <who>                   (standby) a primary holds it
 * SIGUSR1 asks for a listing (and a look at the lease) at once.
 */
#ifndef LSINIT_FOLLOW_KEEPER_H
#define LSINIT_FOLLOW_KEEPER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "follow_events.h"

struct plan;

struct follow_keeper_params {
    const struct plan *plan;
    const int *app_fds;   /* per database: the app's copy, O_RDWR (PID 1 opened it) */
    int64_t interval_ms;  /* restore -f -follow-interval */
    int64_t lag_check_ms; /* listing the replica */
    int64_t stuck_ms;     /* behind this long with the replica moving on: rebuilt */
    int64_t lock_timeout_ms;
    bool watch_lease; /* standby: read each database's lease at every listing */
    int64_t lease_ttl_ms;
    int event_fd; /* write end */
    long parent;  /* lsinit's pid: the keeper dies with it */
    const sigset_t *child_mask;
    const char *cwd;
};

/* The child's body (spawn_function): returns its exit code. */
int follow_keeper_main(const void *params);

/* The private copy of db: DB.lsinit-follow/db. */
void follow_copy_path(const char *db, char *out, size_t size);

#endif
