/* SPDX-License-Identifier: MIT */
/*
 * Restore on boot: every database whose file is missing is restored from its
 * replica before anything else starts. A failed attempt is retried with
 * backoff until LSINIT_RESTORE_TIMEOUT; a copy Litestream < 0.5.10 restored
 * unchecked gets SQLite's quick_check; on 0.5, an SFTP replica that looks
 * empty is searched for a 0.3 layout first (legacy_layout.h). The set never
 * decides lsinit's exit code itself: it reports an outcome to its owner
 * (replication.c).
 */
#ifndef LSINIT_RESTORE_H
#define LSINIT_RESTORE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "plan.h"

enum restore_job_state {
    RESTORE_PENDING,  /* waiting to start (or to retry) */
    RESTORE_RUNNING,  /* litestream restore runs */
    RESTORE_CHECKING, /* a child of ours runs quick_check on the restored file */
    RESTORE_PROBING,  /* a child of ours looks for a Litestream 0.3 layout */
    RESTORE_DONE,
};

struct restore_job {
    enum restore_job_state state;
    pid_t pid;
    int attempts;
    int64_t retry_at; /* 0: not waiting */
    bool deadline_killed;
    int64_t progress_check_at; /* past the deadline: when to look at <db>.tmp again */
    long long tmp_size;        /* its size at the last look, -1: none */
};

enum restore_outcome {
    RESTORE_BUSY,     /* something still runs or waits */
    RESTORE_ALL_DONE, /* every database is there (restored, fresh, or the set was aborted and is idle) */
    RESTORE_FAILED,   /* one cannot be restored: the reason is logged; the owner exits 69 */
};

struct restore_set {
    const struct plan *plan;
    char *const *env; /* Litestream's environment */
    const sigset_t *child_mask;
    const char *cwd;
    unsigned long *restored; /* counts successful restores (health) */
    int64_t deadline;
    bool aborted;
    struct restore_job jobs[PLAN_MAX_DBS];
};

/* Litestream 0.5: the replica's newest TXID for db over every level — a file replica's ltx/ directories read
 * directly, an S3 replica listed with lsinit's own signed requests, anything else (or an S3 listing that
 * fails) through `litestream ltx -level all` (blocking, at most 30 s). 0, or -1 when it cannot be listed. */
int restore_replica_newest(const struct plan *plan, const char *db, const sigset_t *child_mask, uint64_t *newest);

/* Checks (and creates, if missing) every database's folder; 0 or EXIT_CONFIG with one line logged. */
int restore_prepare_folders(const struct plan *plan);

/* Treats 0-byte files as missing, removes stale sidecars and starts a restore for every missing database.
 * Returns true when at least one started (false: nothing to restore). */
bool restore_set_begin(struct restore_set *s, int64_t now);
/* Returns true when pid was one of the set's children; *out then says where the set stands. */
bool restore_set_on_child_exit(struct restore_set *s, pid_t pid, int status, int64_t now, enum restore_outcome *out);
void restore_set_on_timer(struct restore_set *s, int64_t now);
int64_t restore_set_next_deadline(const struct restore_set *s);
/* A stop (or a failure elsewhere): running restores get TERM, checks KILL; nothing new starts. */
void restore_set_abort(struct restore_set *s);
bool restore_set_running(const struct restore_set *s);

#endif
