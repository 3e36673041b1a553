/* SPDX-License-Identifier: MIT */
/*
 * The lease keeper: a child of PID 1 (forked, never exec'd: it shares the
 * plan and its credentials in memory, nothing goes to argv or disk) that does
 * the lease's blocking I/O, so PID 1's loop never waits on a store.
 *
 * It acquires every database's lease in plan order (the same order in every
 * instance, so two instances never hold half each), renews them every TTL/3,
 * and reports on its event pipe, one line each (lease_event_parse):
 *   waiting <i> <who holds it, or why it cannot tell>
 *   held <i> <generation>
 *   unleased <i> <why>   (LSINIT_LEASE=auto) this store cannot hold a lease: none for it
 *   renewed
 *   lost <i> <why>       it could not prove it is alone: stop uploading now
 *   released
 *   fail <code> <line>   cannot go on (a store ignoring conditions, a
 *                        lock.json that is not a lease, LSINIT_LEASE_WAIT over)
 * Commands on its command pipe: "release" (delete every lease it holds, if
 * still its own), "quit" (leave them to expire); end of file = quit.
 */
#ifndef LSINIT_LEASE_KEEPER_H
#define LSINIT_LEASE_KEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct plan;

struct lease_keeper_params {
    const struct plan *plan;
    int64_t ttl_ms;
    int64_t wait_ms;
    int cmd_fd;   /* read end */
    int event_fd; /* write end */
    long parent;  /* lsinit's pid: the keeper dies with it */
};

/* The child's body (spawn_function): returns its exit code. */
int lease_keeper_main(const void *params);

enum lease_event_kind {
    LEASE_EV_WAITING,
    LEASE_EV_HELD,
    LEASE_EV_UNLEASED,
    LEASE_EV_RENEWED,
    LEASE_EV_LOST,
    LEASE_EV_RELEASED,
    LEASE_EV_FAIL,
};

struct lease_event {
    enum lease_event_kind kind;
    long index; /* the database (waiting, held, lost); the exit code (fail) */
    const char *text;
};

/* Parses one event line (without its newline; text points into line). 0, or -1 when it is not one. */
int lease_event_parse(char *line, struct lease_event *out);

#endif
