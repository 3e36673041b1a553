/* SPDX-License-Identifier: MIT */
/*
 * What the health endpoint reports: counters, the last verification of each
 * database, and replication progress read from Litestream's metrics. Owned
 * by the supervisor's struct; written by the verifier, the scraper and the
 * replication side, read by the HTTP routes.
 */
#ifndef LSINIT_HEALTH_STATE_H
#define LSINIT_HEALTH_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "plan.h"
#include "verify.h"

struct db_health {
    char path[PATH_MAX];
    /* the last verification */
    bool verified;
    enum verify_result last_result;
    char last_reason[256];
    int64_t last_verify_unix;
    int64_t last_duration_ms;
    int64_t last_success_unix;
    /* replication progress from Litestream's metrics */
    bool scraped;
    double sync_count;
    double sync_errors;
    double sync_errors_previous;
    int64_t sync_moved_unix; /* when sync_count last increased */
    int64_t caught_up_unix;  /* when the replica last matched the local shadow WAL */
    bool caught_up;          /* it did at the last read */
    double prev_local[2];    /* the local position at the previous read, and when */
    int64_t prev_unix;
    bool prev_valid;
    double shadow_index, shadow_size, replica_index, replica_offset;
    /* follow-mode verification */
    bool follower_known;
    double follower_txid;           /* what the follower copy has applied (its -txid file) */
    int64_t last_full_success_unix; /* the last passing whole restore */
    /* LSINIT_ROLE=follower|standby: the app's read-only copy */
    bool follow_published;        /* published at least once */
    uint64_t follow_txid;         /* the transaction the app's copy holds */
    uint64_t follow_replica_txid; /* the replica's newest at the last listing */
    bool follow_lag_known;        /* a listing succeeded since the keeper started */
    int64_t follow_lag_ms;        /* at the last listing (or its upper bound while the replica is unreachable) */
    int64_t follow_lag_at_ms;     /* monotonic time of that report */
    bool follow_unreachable;      /* the last listing failed */
    unsigned long follow_publishes;
    char follow_note[200]; /* the last error, restart or unreachable reason */
};

struct health_state {
    int64_t started_unix;
    unsigned long verifications[VERIFY_RESULT_COUNT];
    double verification_seconds_sum;
    unsigned long restores;
    unsigned long litestream_restarts;
    unsigned long scrapes_failed;
    int64_t scrape_ok_ms; /* monotonic time of the last good read of litestream's metrics */
    unsigned long litestream_hangs;
    unsigned long follower_restarts; /* follow-mode verification: follower processes restarted */
    unsigned long follower_rebuilds; /* ... follower copies rebuilt from scratch */
    char verify_mode[8];             /* "follow" or "full" ("" when verification is off) */
    unsigned long http_requests;
    unsigned long http_rejected;
    int64_t verify_interval_ms;    /* 0: verification off */
    char final_sync[200];          /* after the app stopped: "" (not yet), "done", "retrying: ...", "failed: ..." */
    const char *role;              /* LSINIT_ROLE: "primary", "follower", "standby" */
    int64_t follow_max_lag_ms;     /* LSINIT_FOLLOW_MAX_LAG */
    unsigned long follow_restarts; /* follow processes restarted (exited, or rebuilt from scratch) */
    struct db_health dbs[PLAN_MAX_DBS];
    size_t db_count;
};

#endif
