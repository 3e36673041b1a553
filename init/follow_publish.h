/* SPDX-License-Identifier: MIT */
/*
 * Publishing a follower's copy to the app (LSINIT_ROLE=follower|standby).
 *
 * `litestream restore -f` writes the pages of each new transaction into its
 * output in place, without SQLite's locks: a reader of that file can see half
 * of a transaction. So Litestream follows into a private copy (A) that no app
 * opens, and lsinit publishes A into the database the app reads (B) the way a
 * SQLite writer in rollback-journal mode would:
 *
 *   1. compare A and B page by page (A is stable: its follower is stopped);
 *   2. take SQLite's RESERVED, PENDING and EXCLUSIVE locks on B (new readers
 *      wait on PENDING; the wait for readers already in a transaction is
 *      bounded: a reader holding its transaction open only delays a publish);
 *   3. write the original of every page about to change into B-journal (a
 *      SQLite rollback journal, fsync'd), then the new pages into B, then
 *      delete the journal: if lsinit dies half-way, the journal is hot and a
 *      reader gets an error instead of half a transaction, until the next
 *      publish (which writes every differing page again) removes it;
 *   4. bump B's file change counter, so every reader's page cache is dropped
 *      at its next transaction (the header says rollback-journal mode: WAL
 *      readers would not look at it), and release the locks.
 *
 * B keeps its inode: an app's open connections see the new data at their next
 * transaction. No other fd of B may be opened and closed in the publishing
 * process (POSIX locks belong to the process and go with any close).
 */
#ifndef LSINIT_FOLLOW_PUBLISH_H
#define LSINIT_FOLLOW_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct publish_stats {
    uint64_t pages;         /* pages in A */
    uint64_t pages_written; /* pages that differed and were written into B */
    int64_t lock_wait_ms;   /* waiting for B's readers */
    bool changed;           /* B was written */
};

enum publish_result {
    PUBLISH_OK = 0,
    PUBLISH_BUSY = 1,   /* a reader kept its transaction open past lock_timeout_ms: try again later */
    PUBLISH_ERROR = -1, /* err says what */
};

struct publish_options {
    int64_t lock_timeout_ms;  /* the longest wait for B's readers */
    bool crash_before_commit; /* tests: stop as a killed publish would, B written, the journal left */
};

/*
 * Makes B (b_fd, opened O_RDWR, its path b_path for the journal) the same
 * database as A (a_fd), under SQLite's locks. Nothing is written when they are
 * the same database already.
 */
enum publish_result follow_publish(int a_fd, int b_fd, const char *b_path, const struct publish_options *opt,
                                   struct publish_stats *st, char *err, size_t err_size);

/* The page size in a database header's bytes 16-17 (1 = 65536), 0 when the header is not SQLite's. */
uint32_t follow_page_size(const unsigned char *header, size_t len);

#endif
