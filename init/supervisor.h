/* SPDX-License-Identifier: MIT */
/*
 * PID 1: owns every service and registers each with the event loop
 * (loop.h): its own signal source (the signalfd, the stop's grace and the
 * stragglers' deadlines, the plain-mode child), the verifier, Litestream mode
 * (replication.h), the scraper and the health endpoint. All of lsinit's
 * mutable state lives in struct supervisor. No module below this one
 * includes this header: each gets what it needs when it is built.
 */
#ifndef LSINIT_SUPERVISOR_H
#define LSINIT_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "health_state.h"
#include "loop.h"
#include "settings.h"
#include "plan.h"
#include "signals.h"

struct replication;
struct health_server;
struct scraper;
struct verifier;
struct follower;
struct plan;

enum supervisor_phase {
    PHASE_STARTING, /* Litestream mode: restoring databases, Litestream not started */
    PHASE_RUNNING,  /* the main child runs */
    PHASE_STOPPING, /* a stop signal arrived: waiting for the main child within the grace */
    PHASE_DRAINING, /* the main child is gone: TERMed leftovers get the straggler grace */
};

struct supervisor {
    const struct settings *settings;
    struct signal_state sig;
    int sig_wait_fd; /* a blocking signalfd for the same signals (the loop's wait when it watches nothing else) */
    const char *cwd; /* the directory children start in */
    bool is_pid1;
    enum supervisor_phase phase;
    int64_t started_ms;

    pid_t main_pid; /* plain mode: the app; Litestream mode: litestream replicate */
    bool main_exited;
    int exit_code; /* decided when the main child exits */
    bool exit_decided;

    int stop_signal;            /* the first TERM/INT, 0 before */
    int64_t grace_deadline;     /* 0: none */
    int64_t straggler_deadline; /* 0: none */
    bool killed_everything;

    unsigned long zombies_reaped;

    struct health_state health;      /* what /healthz and /metrics report */
    struct replication *replication; /* NULL in plain init mode */
    struct health_server *http;      /* NULL: no health endpoint */
    struct scraper *scraper;         /* NULL in plain mode */
    struct verifier *verifier;       /* NULL when verification is off */
    struct follower *follower;       /* LSINIT_ROLE=follower: the read-only copy (the app is the main child) */
    bool app_read_only;              /* start the app without the capabilities that bypass file modes */
    char *const *self_argv;          /* lsinit's own argv: a standby taking over execs itself with it */
    bool handing_over;               /* standby: stopping the app and the follower, then exec as the primary */
    int64_t handover_deadline;       /* then SIGKILL what is left */
    char takeover_txids[PLAN_MAX_DBS * 17 + 1];
    struct loop loop;
};

/* Prepares the struct; signals must already be set up in *sig. */
void supervisor_init(struct supervisor *sup, const struct settings *settings, const struct signal_state *sig,
                     const char *cwd);

/* Opens the health endpoint (if configured) and, in Litestream mode, the scraper and verifier. */
int supervisor_start_services(struct supervisor *sup, const struct plan *plan);

/* LSINIT_ROLE=follower: opens the app's copies and starts following; the app starts once they are published.
 * Returns 0, or an exit code. */
int supervisor_start_follower(struct supervisor *sup, const struct plan *plan);

/* Starts the plain-mode child. Returns 0, or an exit code when it could not be started. */
int supervisor_start_command(struct supervisor *sup);

/* Litestream mode: restores, then litestream replicate with the app. Returns 0 or an exit code. */
int supervisor_start_replication(struct supervisor *sup, const struct plan *plan);

/* Runs the loop until everything is gone; returns lsinit's exit code. */
int supervisor_run(struct supervisor *sup);

void supervisor_free(struct supervisor *sup);

#endif
