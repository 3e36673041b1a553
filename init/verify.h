/* SPDX-License-Identifier: MIT */
/*
 * One verification cycle per database: write a marker row, wait until the
 * replica has caught up past it, restore the replica into a private temporary
 * folder, check the copy's integrity and look for the marker, clean up.
 * Runs in its own process (`lsinit verify`, or a child of the supervisor at
 * low CPU and I/O priority), so the supervisor's loop never blocks on it.
 */
#ifndef LSINIT_VERIFY_H
#define LSINIT_VERIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "litestream.h"
#include "signals.h"

enum verify_result {
    VERIFY_PASS,
    VERIFY_STALE,            /* the restored copy lacks the marker: the replica is behind */
    VERIFY_RESTORE_FAILED,   /* litestream restore failed (unreachable, missing files, ...) */
    VERIFY_INTEGRITY_FAILED, /* the copy fails PRAGMA integrity_check */
    VERIFY_NO_SPACE,         /* not enough room for the copy */
    VERIFY_LOCAL_ERROR,      /* the marker could not be written, the temp folder not made, ... */
    VERIFY_RESULT_COUNT,
};

const char *verify_result_name(enum verify_result r);
int verify_result_parse(const char *name, enum verify_result *out);

struct verify_params {
    const char *litestream;
    struct ls_version version;
    const char *config_path;
    const char *metrics_addr; /* running litestream's metrics, NULL/"" if none */
    const char *socket_path;  /* 0.5 */
    const char *tmp_dir;
    int64_t catchup_timeout_ms;
    int64_t follow_interval_ms; /* follow mode: the follower's poll, added to the wait for the marker */
    int64_t restore_timeout_ms;
    int attempts;
    const char *ping_url;
    const char *ca_bundle;
    bool ping_start;
    const sigset_t *child_mask;
    /* Follow mode (Litestream 0.5.9+): each database has a follower copy in follow_dir kept current by
     * `litestream restore -f` (the supervisor runs it); a cycle looks for the marker in that copy instead of
     * restoring the whole database, and runs quick_check on it when quick_check is set (the follower,
     * follower_pids[i] in database order, is paused meanwhile). NULL: full mode. */
    const char *follow_dir;
    bool quick_check;
    const long *follower_pids;
    int follower_count;
};

struct verify_outcome {
    enum verify_result result;
    char reason[256];
    int64_t started_unix;
    int64_t duration_ms;
    int64_t catchup_ms;
    int64_t restore_ms;
    int attempts;
    const char *mode; /* "full" or "follow" */
};

void verify_database(const struct verify_params *p, const char *db, struct verify_outcome *out);

/* The follower copy of db in follow_dir: <dir>/lsinit-follow-<hash of db's path>/<db's file name>. */
void verify_follow_copy(const char *follow_dir, const char *db, char *out, size_t size);

/* One cycle on the follower copy (follower: its pid, to pause it during quick_check; <= 0: none). */
void verify_database_follow(const struct verify_params *p, const char *db, long follower, struct verify_outcome *out);

/* One JSON object (no newline) describing the outcome. */
void verify_outcome_json(const char *db, const struct verify_outcome *o, char *buf, size_t size);

/* `lsinit verify [--json] [DB]`: exit 0 only when every database passes. */
int verify_cli_main(int argc, char **argv, char *const *envp, const struct signal_state *sig);

/* `lsinit __verify KEY=VALUE... -- DB...`: the supervisor's child; JSON lines on stdout. */
int verify_child_main(int argc, char **argv, const struct signal_state *sig);

#define VERIFY_CHILD_ARGV0 "__verify"

#endif
