/* SPDX-License-Identifier: MIT */
/*
 * The life of `litestream replicate` as a state machine: one state enum, one
 * table of actions indexed by [state][event] (s6-supervise's model), and no
 * system calls of its own: everything it does to the world (start Litestream,
 * send a signal, decide lsinit's exit code, start draining) goes through
 * struct replicate_ops, so unit tests drive it with events and record what it
 * decided (tests/unit/test_replicate.c).
 *
 *   IDLE --start--> STARTING --app reported--> RUNNING --app exited--> FINAL_SYNC --litestream exited--> DONE
 *                      |                          |                        |
 *                      | exited before the app    | litestream died        | sync not confirmed (0.5) or
 *                      v (0.5.16+: retried)       v (restart backoff)      v failed (0.3): one more pass
 *                 START_BACKOFF                  DOWN --restart--> SIBLING  SECOND_PASS --exited--> DONE
 *
 * The shim (shim.h) reports the app's pid, its wait status, a failed exec and,
 * on Litestream 0.5, whether the replica confirmed the app's last writes.
 */
#ifndef LSINIT_REPLICATE_H
#define LSINIT_REPLICATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum replicate_state {
    REPLICATE_IDLE,          /* restores still run: nothing started */
    REPLICATE_STARTING,      /* `replicate -exec <shim> <app>` runs; the app is not reported yet */
    REPLICATE_START_BACKOFF, /* it exited before starting the app (0.5.16+: replica unreachable): retry timer */
    REPLICATE_RUNNING,       /* the app runs as Litestream's -exec child */
    REPLICATE_DOWN,          /* Litestream died while the app runs: restart timer */
    REPLICATE_SIBLING,       /* Litestream restarted beside the app, which it no longer owns */
    REPLICATE_FINAL_SYNC,    /* the app exited: Litestream's shutdown runs the final sync */
    REPLICATE_SECOND_PASS,   /* the final sync was not confirmed: one more pass decides */
    REPLICATE_FENCED,        /* the replica's lease was lost: Litestream killed, the app stopping, exit 76 */
    REPLICATE_DONE,          /* lsinit's exit code is decided; nothing more starts */
    REPLICATE_STATE_COUNT
};

enum replicate_event_kind {
    REPLICATE_EV_START,             /* restores finished: start Litestream with the app */
    REPLICATE_EV_APP_STARTED,       /* shim: the app runs (pid, shim_pid) */
    REPLICATE_EV_APP_EXITED,        /* shim: the app's wait status (status) */
    REPLICATE_EV_EXEC_FAILED,       /* shim: exec of the app failed (err) */
    REPLICATE_EV_SYNC,              /* shim, 0.5: the replica confirmed the app's last writes (confirmed) */
    REPLICATE_EV_LITESTREAM_EXITED, /* status */
    REPLICATE_EV_SHIM_EXITED,
    REPLICATE_EV_STOP,          /* the first TERM/INT (sig, routed: the signal after rewriting, deadline: grace end) */
    REPLICATE_EV_SIGNAL,        /* any other signal (sig, routed) */
    REPLICATE_EV_GRACE_EXPIRED, /* LSINIT_GRACE is over; everything gets SIGKILL after this */
    REPLICATE_EV_HUNG,          /* Litestream's metrics have not answered for too long */
    REPLICATE_EV_TIMER,
    REPLICATE_EV_LEASE_LOST, /* another instance may hold the replica: no byte more may be uploaded */
    REPLICATE_EVENT_COUNT
};

struct replicate_event {
    enum replicate_event_kind kind;
    int64_t now;
    pid_t pid, shim_pid;
    int status; /* wait status */
    int err;    /* errno */
    int sig, routed;
    int64_t deadline;
    bool confirmed;
};

/* How Litestream runs: with the app as its -exec child, beside an app it no longer owns, or one pass. */
enum replicate_mode { REPLICATE_WITH_APP, REPLICATE_BESIDE_APP, REPLICATE_ONE_PASS };

struct replicate_ops {
    void *ctx;
    /* Starts Litestream; returns its pid, or -1 with *fail_code set (0: transient, retry later). */
    pid_t (*spawn)(void *ctx, enum replicate_mode mode, int *fail_code);
    void (*signal)(void *ctx, pid_t pid, int sig);   /* kill(2): a negative pid is a process group */
    void (*decide)(void *ctx, int code);             /* lsinit's exit code; the first decision wins */
    void (*drain)(void *ctx);                        /* nothing of ours runs any more: the supervisor drains */
    void (*app_started)(void *ctx);                  /* the app runs (the verifier arms, /readyz may turn ready) */
    void (*main_child)(void *ctx, pid_t pid);        /* Litestream's pid, -1 when it is gone */
    void (*final_sync)(void *ctx, const char *text); /* /healthz's replication:final-sync */
    void (*restarted)(void *ctx);                    /* one more Litestream restart (a health counter) */
    int (*remap_exit)(void *ctx, int code);          /* the -e rules: the app's code as lsinit exits with it */
    void (*begin_grace)(void *ctx);                  /* lsinit stops on its own: LSINIT_GRACE starts now */
};

struct replicate_config {
    bool confirm_by_socket;   /* 0.5: the shim's sync report, not Litestream's exit code, says the sync held */
    bool retry_start;         /* 0.5.16+: an exit before the app started (replica unreachable) is retried */
    int64_t start_timeout_ms; /* LSINIT_RESTORE_TIMEOUT: how long that is retried */
};

struct replicate {
    enum replicate_state state;
    struct replicate_config cfg;
    struct replicate_ops ops;

    pid_t litestream_pid, shim_pid, app_pid;
    bool litestream_has_app; /* started with -exec: the shim is its child */
    int64_t litestream_started_ms;

    /* what the shim reported */
    bool app_started, app_exited, exec_failed, shim_gone;
    int app_status, exec_errno;
    bool sync_confirmed;

    /* the stop */
    int stop_signal, stop_routed;
    bool stop_forwarded; /* the one TERM/INT went to Litestream or the shim */
    int64_t grace_deadline;
    bool killed_everything;

    /* timers (monotonic ms; 0: none) */
    int64_t start_deadline, start_retry_at, restart_at, term_at;
    int start_attempts, restarts;
    bool final_term_sent; /* beside the app: TERM to Litestream once the app is gone */

    bool decided;
    int code;
    bool synced; /* the final sync succeeded: the replica holds the app's last writes */
};

void replicate_init(struct replicate *r, const struct replicate_config *cfg, const struct replicate_ops *ops);
/* The one transition function. */
void replicate_handle(struct replicate *r, const struct replicate_event *ev);
int64_t replicate_next_deadline(const struct replicate *r);
const char *replicate_state_name(enum replicate_state s);

/* For the health endpoint. */
bool replicate_app_running(const struct replicate *r);
bool replicate_is_live(const struct replicate *r);
/* The app ran and its final sync succeeded, or Litestream never ran the app: the lease may be released. */
bool replicate_may_release(const struct replicate *r);

#endif
