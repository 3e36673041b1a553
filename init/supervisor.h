/* SPDX-License-Identifier: MIT */
/*
 * The PID 1 event loop. One ppoll over the signalfd (and, in Litestream
 * mode, the shim's report pipe), with a timeout computed from the nearest
 * deadline, so an idle lsinit never wakes up. All mutable state lives in
 * struct supervisor; handlers are short functions named for their event.
 */
#ifndef LSINIT_SUPERVISOR_H
#define LSINIT_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "health_state.h"
#include "settings.h"
#include "signals.h"

struct replication;
struct health_server;
struct scraper;
struct verifier;

enum supervisor_phase {
    PHASE_STARTING, /* Litestream mode: restoring databases, app not started */
    PHASE_RUNNING,  /* the main child runs */
    PHASE_STOPPING, /* a stop signal arrived: waiting for the main child within the grace */
    PHASE_DRAINING, /* the main child is gone: TERMed leftovers get the straggler grace */
};

struct supervisor {
    const struct settings *settings;
    struct signal_state sig;
    struct replication *replication; /* NULL in plain init mode */
    const char *cwd;                 /* the directory children start in */
    bool is_pid1;
    enum supervisor_phase phase;
    int64_t started_ms;

    pid_t main_pid;      /* plain mode: the app; Litestream mode: litestream replicate */
    bool main_exited;
    int exit_code;       /* decided when the main child exits */
    bool exit_decided;

    int stop_signal;            /* the first TERM/INT, 0 before */
    int64_t grace_deadline;     /* 0: none */
    int64_t straggler_deadline; /* 0: none */
    bool killed_everything;

    unsigned long zombies_reaped;

    struct health_state health;      /* what /healthz and /metrics report */
    struct health_server *http;      /* NULL: no health endpoint */
    struct scraper *scraper;         /* NULL in plain mode */
    struct verifier *verifier;       /* NULL when verification is off */
};

/* Prepares the struct; signals must already be set up in *sig. */
void supervisor_init(struct supervisor *sup, const struct settings *settings, const struct signal_state *sig,
                     const char *cwd);

/* Starts the plain-mode child. Returns 0, or an exit code when it could not be started. */
int supervisor_start_command(struct supervisor *sup);

/* Runs the loop until everything is gone; returns lsinit's exit code. */
int supervisor_run(struct supervisor *sup);

/* Releases what start_services and replication_attach allocated. */
void supervisor_free(struct supervisor *sup);

/* Helpers the Litestream side uses. */
void supervisor_begin_draining(struct supervisor *sup, int64_t now);
void supervisor_decide_exit(struct supervisor *sup, int code);
void supervisor_signal_everything(struct supervisor *sup, int sig);
int supervisor_status_to_code(int status);

/* Opens the health endpoint (if configured) and, in Litestream mode, the scraper and verifier. */
struct plan;
int supervisor_start_services(struct supervisor *sup, const struct plan *plan);

#endif
