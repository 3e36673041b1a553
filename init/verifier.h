/* SPDX-License-Identifier: MIT */
/*
 * Schedules verification cycles from the supervisor: every
 * LSINIT_VERIFY_INTERVAL (with jitter, the first one soon after the app
 * starts) it runs `lsinit __verify` as a child at low CPU and I/O priority
 * and reads its JSON lines from a pipe inside the event loop.
 */
#ifndef LSINIT_VERIFIER_H
#define LSINIT_VERIFIER_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct verifier;
struct plan;
struct health_state;

struct verifier_params {
    int64_t interval_ms;    /* LSINIT_VERIFY_INTERVAL */
    int64_t first_delay_ms; /* after the app started */
    const char *tmp_dir;    /* LSINIT_VERIFY_DIR */
    const struct plan *plan;
    struct health_state *health; /* where results go */
    const sigset_t *child_mask;
    const char *cwd;
    bool (*app_running)(void *ctx); /* a cycle only runs while the app does */
    bool follow;                    /* follow mode: a follower copy per database (Litestream 0.5.9+) */
    int64_t full_interval_ms;       /* follow mode: a from-scratch restore this often */
    int64_t follow_interval_ms;     /* follow mode: the followers' -follow-interval */
    int64_t check_interval_ms;      /* follow mode: quick_check of the follower copy this often */
    char *const *env;               /* Litestream's environment, for the followers */
    void *ctx;
};

struct verifier *verifier_new(const struct verifier_params *p);
void verifier_free(struct verifier *v);
/* The app started: the first cycle is due first_delay from now. */
void verifier_arm(struct verifier *v, int64_t now);
nfds_t verifier_poll_fds(struct verifier *v, struct pollfd *fds, nfds_t room);
void verifier_on_fd(struct verifier *v, int64_t now);
int verifier_fd(const struct verifier *v);
int64_t verifier_next_deadline(const struct verifier *v);
void verifier_on_timer(struct verifier *v, int64_t now);
/* Returns true when pid was the verification child. */
bool verifier_on_child_exit(struct verifier *v, pid_t pid, int status, int64_t now);
/* Stop: kill a running cycle (its group) and schedule nothing more. */
void verifier_stop(struct verifier *v); /* NULL: nothing */

#endif
