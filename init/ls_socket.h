/* SPDX-License-Identifier: MIT */
/*
 * Litestream 0.5's control socket (HTTP over a unix socket, `socket:` in its
 * config, 0.5.7+; POST /sync with "wait" 0.5.9+). lsinit enables it in the
 * config it generates and uses it to learn where the replica stands:
 * POST /sync {"wait":true} runs the local WAL→LTX step and then uploads
 * everything up to that point, and answers only when both are done — the
 * "has the replica caught up?" question 0.3 answered through its metrics.
 */
#ifndef LSINIT_LS_SOCKET_H
#define LSINIT_LS_SOCKET_H

#include <stdbool.h>
#include <stdint.h>

enum ls_sync_outcome {
    LS_SYNC_OK,        /* the replica holds everything up to txid */
    LS_SYNC_NOT_OPEN,  /* Litestream has not opened the database yet (first monitor tick) */
    LS_SYNC_NO_ANSWER, /* no socket, no answer within the timeout */
    LS_SYNC_FAILED,    /* Litestream answered with an error (replica unreachable, ...) */
};

struct ls_sync_result {
    enum ls_sync_outcome outcome;
    long http_status;
    uint64_t txid;            /* local position after the sync */
    uint64_t replicated_txid; /* the replica's position */
    char error[256];          /* Litestream's error text, one line */
};

/*
 * POST /sync for db. wait=true: also upload, and wait up to timeout_ms for
 * the replica. Fills *res; returns 0 when outcome is LS_SYNC_OK.
 */
int ls_socket_sync(const char *socket_path, const char *db, bool wait, long timeout_ms, struct ls_sync_result *res);

#endif
