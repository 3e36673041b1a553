/* SPDX-License-Identifier: MIT */
/*
 * The follow keeper's two text formats (follow_keeper.h): its event lines,
 * which PID 1 reads from its pipe, and `litestream ltx`'s table, which it
 * reads to learn the replica's position. Pure parsers (fuzzed:
 * tests/fuzz/fuzz_follow_events.c).
 */
#ifndef LSINIT_FOLLOW_EVENTS_H
#define LSINIT_FOLLOW_EVENTS_H

#include <stddef.h>
#include <stdint.h>

enum follow_event_kind {
    FOLLOW_EV_PUBLISHED,
    FOLLOW_EV_LAG,
    FOLLOW_EV_UNREACHABLE,
    FOLLOW_EV_RESTARTED,
    FOLLOW_EV_ERROR,
    FOLLOW_EV_LEASE_VACANT,
    FOLLOW_EV_LEASE_HELD,
};

struct follow_event {
    enum follow_event_kind kind;
    size_t index;
    uint64_t txid;         /* published: the txid; lag: the published txid */
    uint64_t replica_txid; /* lag */
    int64_t ms;            /* published: the publish's time; lag/unreachable: the lag */
    uint64_t pages_written, pages;
    const char *text; /* unreachable, restarted, error: why (points into the line) */
};

/* Parses one event line (without its newline). 0, or -1 when it is not one. */
int follow_event_parse(char *line, struct follow_event *out);

/* The level-0 listing of `litestream ltx` (its text table): the newest txid, and the time (unix seconds,
 * by the replica's clock) of the oldest file holding a txid after `after` (0 when none). 0, or -1. */
int follow_parse_ltx(const char *out, uint64_t after, uint64_t *newest, int64_t *oldest_after_unix);

/* A TXID as Litestream prints it (16 hex digits; any hex number is taken). 0, or -1. */
int follow_parse_txid(const char *s, uint64_t *out);

#endif
