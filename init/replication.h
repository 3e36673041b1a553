/* SPDX-License-Identifier: MIT */
/*
 * Litestream mode, as one event-loop source: restore missing databases
 * (restore.h), then run `litestream replicate -exec "<lsinit shim> <app>"`
 * (replicate.h, the state machine), read the shim's reports (shim.h) and
 * notice a Litestream that hangs. It never sees the supervisor: what it needs
 * from its host (decide the exit code, start draining, "the app runs", "this
 * is the main child") comes through struct replication_host.
 */
#ifndef LSINIT_REPLICATION_H
#define LSINIT_REPLICATION_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

struct plan;
struct settings;
struct health_state;
struct replication;

struct replication_host {
    void *ctx;
    void (*decide)(void *ctx, int code);      /* lsinit's exit code; the first decision wins */
    void (*drain)(void *ctx);                 /* nothing of ours runs any more */
    void (*app_started)(void *ctx);           /* the app runs */
    void (*main_child)(void *ctx, pid_t pid); /* litestream replicate's pid, -1 when gone */
    void (*begin_grace)(void *ctx);           /* lsinit stops on its own (the lease was lost): the grace starts */
};

struct replication_params {
    const struct plan *plan;
    const struct settings *settings; /* the command, LSINIT_GRACE, the -e rules */
    const sigset_t *child_mask;
    const char *cwd;
    struct health_state *health;
    struct replication_host host;
};

/* Prepares Litestream mode (report pipe, environment, folders). NULL with *code set: cannot. */
struct replication *replication_new(const struct replication_params *p, int *code);
/* Starts the restores, or Litestream when nothing is missing. */
void replication_begin(struct replication *r, int64_t now);
void replication_free(struct replication *r);

/* The loop source (report pipe, timers, children). */
extern const struct loop_source_ops replication_source;

/* Signals, from the supervisor: the first TERM/INT, any other signal, the grace's end. */
void replication_on_stop(struct replication *r, int sig, int routed, int64_t grace_deadline, int64_t now);
void replication_on_signal(struct replication *r, int sig, int routed, int64_t now);
void replication_on_grace_expired(struct replication *r, int64_t now);

/* For the health endpoint and the verifier. */
bool replication_app_running(const struct replication *r);
bool replication_litestream_running(const struct replication *r);
bool replication_is_live(const struct replication *r);  /* nothing died that should run (restoring counts) */
bool replication_is_ready(const struct replication *r); /* restores done and the app runs */
/* The lease as /healthz shows it: "" when there is none, else "held …", "waiting: …", "lost: …". */
const char *replication_lease_text(const struct replication *r);
bool replication_lease_waiting(const struct replication *r);
bool replication_lease_lost(const struct replication *r);

#endif
