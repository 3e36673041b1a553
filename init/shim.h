/* SPDX-License-Identifier: MIT */
/*
 * `lsinit __shim`: the process Litestream starts as its -exec child. It sits
 * between Litestream and the app so that:
 *  - the app gets exactly the environment lsinit was started with (Litestream
 *    copies LITESTREAM_* credentials into AWS_* in its own environment);
 *  - lsinit learns the app's pid and its real exit status (Litestream maps
 *    every failure to 1), through the report pipe lsinit holds open;
 *  - Litestream always sees a clean exit, so it always runs its final sync
 *    (it skips it when the app exits non-zero after SIGTERM);
 *  - a database the app changed before Litestream's first tick is synced
 *    anyway (litestream #436): the shim waits for Litestream to pick it up;
 *  - on Litestream 0.5 (control socket), the app's last writes are uploaded
 *    with `POST /sync {"wait":true}` before Litestream's shutdown starts, and
 *    lsinit learns whether they reached the replica (0.5's replicate exits 0
 *    even when its shutdown sync failed).
 *
 * argv: __shim PARENT_PID REPORT_FD METRICS_ADDR|- SOCKET|- WAIT_MS [DB...] -- COMMAND...
 */
#ifndef LSINIT_SHIM_H
#define LSINIT_SHIM_H

#include "signals.h"

#define SHIM_ARGV0 "__shim"
#define SHIM_REPORT_MAX 128

/*
 * The report protocol: one line per event, "<kind> <shim pid> <value>\n",
 * written by the shim in one write (under PIPE_BUF) and read by
 * replication.c. Both ends use these two functions.
 */
enum shim_report_kind {
    SHIM_REPORT_APP,      /* value: the app's pid */
    SHIM_REPORT_EXIT,     /* value: the app's wait status */
    SHIM_REPORT_EXECFAIL, /* value: errno of the failed exec */
    SHIM_REPORT_SYNC,     /* value: enum shim_sync (Litestream 0.5's sync after the app exited) */
};

enum shim_sync {
    SHIM_SYNC_CONFIRMED, /* every database is in the replica up to the app's last write */
    SHIM_SYNC_FAILED,    /* at least one is not: Litestream's shutdown retries, lsinit checks again */
};

struct shim_report {
    enum shim_report_kind kind;
    long shim_pid;
    long value;
};

/* Formats r as one line (with its newline). Returns the length, or 0. */
size_t shim_report_format(const struct shim_report *r, char *buf, size_t size);
/* Parses one line (without its newline). Returns 0, or -1 when it is not a report. */
int shim_report_parse(const char *line, struct shim_report *out);

/* argv[1] is SHIM_ARGV0; sig was set up first thing in main. Returns the exit code. */
int shim_main(int argc, char **argv, const struct signal_state *sig);

#endif
