/* SPDX-License-Identifier: MIT */
#include "replicate.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "exit_codes.h"
#include "log.h"
#include "parse.h"
#include "spawn.h"

#define START_BACKOFF_FIRST_MS 500
#define START_BACKOFF_MAX_MS 10000
#define RESTART_BACKOFF_FIRST_MS 1000
#define RESTART_BACKOFF_MAX_MS 30000
#define BESIDE_FIRST_TICK_MS 2500 /* a restarted 0.3 Litestream syncs on its first monitor tick */
#define ONE_PASS_MIN_MS 500

typedef void (*replicate_action)(struct replicate *r, const struct replicate_event *ev);

static int64_t backoff_ms(int attempt, int64_t first, int64_t max)
{
    int64_t ms = first;
    for (int i = 1; i < attempt && ms < max; i++)
        ms *= 2;
    return ms < max ? ms : max;
}

static void set_state(struct replicate *r, enum replicate_state s)
{
    if (r->state != s)
        log_debug("replication: %s -> %s", replicate_state_name(r->state), replicate_state_name(s));
    r->state = s;
}

static void decide(struct replicate *r, int code)
{
    if (!r->decided) {
        r->decided = true;
        r->code = code;
    }
    r->ops.decide(r->ops.ctx, code);
}

/* Decided, and nothing of ours runs: the supervisor takes over. */
static void finish(struct replicate *r, int code)
{
    decide(r, code);
    set_state(r, REPLICATE_DONE);
    if (r->litestream_pid <= 0)
        r->ops.drain(r->ops.ctx);
}

static void final_sync_text(struct replicate *r, const char *text) { r->ops.final_sync(r->ops.ctx, text); }

/* Starts Litestream in mode; false when it could not be started (fail_code says why, 0: transient). */
static bool start(struct replicate *r, enum replicate_mode mode, int64_t now, int *fail_code)
{
    *fail_code = 0;
    pid_t pid = r->ops.spawn(r->ops.ctx, mode, fail_code);
    if (pid <= 0)
        return false;
    r->litestream_pid = pid;
    r->litestream_started_ms = now;
    r->litestream_has_app = mode == REPLICATE_WITH_APP;
    r->ops.main_child(r->ops.ctx, pid);
    return true;
}

static void start_with_app(struct replicate *r, int64_t now)
{
    int fail = 0;
    if (r->start_deadline == 0)
        r->start_deadline = now + r->cfg.start_timeout_ms;
    if (start(r, REPLICATE_WITH_APP, now, &fail)) {
        set_state(r, REPLICATE_STARTING);
        return;
    }
    finish(r, fail != 0 ? fail : EXIT_OSERR);
}

/* A restart beside the app (or, once the app is gone, one run that syncs its last writes). */
static void restart_beside(struct replicate *r, int64_t now)
{
    r->restart_at = 0;
    bool app_gone = r->shim_gone || (r->app_exited && r->shim_pid <= 0);
    int fail = 0;
    if (!start(r, REPLICATE_BESIDE_APP, now, &fail)) {
        r->restarts++;
        r->restart_at = now + backoff_ms(r->restarts, RESTART_BACKOFF_FIRST_MS, RESTART_BACKOFF_MAX_MS);
        return;
    }
    r->final_term_sent = false;
    log_warn("replication restarted (restart #%d)%s", r->restarts,
             app_gone ? ": syncing the app's last writes, then stopping" : "");
    if (app_gone)
        r->term_at = now + BESIDE_FIRST_TICK_MS;
    set_state(r, r->app_exited || app_gone ? REPLICATE_FINAL_SYNC : REPLICATE_SIBLING);
}

/* The app's own exit code (remapped by -e), once its writes are known to be in the replica. */
static void finish_with_app_code(struct replicate *r)
{
    finish(r, r->ops.remap_exit(r->ops.ctx, spawn_status_code(r->app_status)));
}

static void final_sync_failed(struct replicate *r, const char *what, int code)
{
    if (r->decided && r->code == EXIT_SYNC) {
        set_state(r, REPLICATE_DONE); /* the grace ran out first, and said so */
        if (r->litestream_pid <= 0)
            r->ops.drain(r->ops.ctx);
        return;
    }
    log_error("the final sync failed: %s (litestream exit code %d), so the app's last writes may be missing from "
              "the replica (the local database is intact; the next start replicates them); exiting %d",
              what, code, EXIT_SYNC);
    char text[200];
    snprintf(text, sizeof(text), "failed: %s", what);
    final_sync_text(r, text);
    finish(r, EXIT_SYNC);
}

/* A second pass fits in what is left of the grace: `replicate -once` needs a start and one sync; a 0.3 run a tick. */
static bool second_pass_fits(const struct replicate *r, bool one_pass, int64_t now)
{
    if (r->killed_everything)
        return false;
    int64_t needs = one_pass ? ONE_PASS_MIN_MS : BESIDE_FIRST_TICK_MS + 1000;
    return r->grace_deadline == 0 || r->grace_deadline - now > needs;
}

static bool second_pass_start(struct replicate *r, int code, int64_t now)
{
    bool one_pass = r->cfg.confirm_by_socket;
    if (!second_pass_fits(r, one_pass, now))
        return false;
    if (one_pass)
        log_warn("litestream stopped without confirming that the replica holds the app's last writes; running "
                 "`litestream replicate -once` to sync and check");
    else
        log_warn("litestream exited with code %d after the app stopped; running one more sync pass", code);
    int fail = 0;
    if (!start(r, one_pass ? REPLICATE_ONE_PASS : REPLICATE_BESIDE_APP, now, &fail))
        return false;
    final_sync_text(r, "retrying: one more sync pass");
    if (!one_pass) {
        r->term_at = now + BESIDE_FIRST_TICK_MS;
        r->final_term_sent = false;
    }
    set_state(r, REPLICATE_SECOND_PASS);
    return true;
}

/* ---- actions ------------------------------------------------------------ */

static void act_ignore(struct replicate *r, const struct replicate_event *ev)
{
    (void)r;
    (void)ev;
}

static void act_start(struct replicate *r, const struct replicate_event *ev) { start_with_app(r, ev->now); }

static void act_app_started(struct replicate *r, const struct replicate_event *ev)
{
    r->shim_pid = ev->shim_pid;
    r->app_pid = ev->pid;
    r->app_started = true;
    r->start_attempts = 0;
    log_debug("the app runs as pid %ld (shim %ld)", (long)ev->pid, (long)ev->shim_pid);
    r->ops.app_started(r->ops.ctx);
    if (r->state == REPLICATE_STARTING)
        set_state(r, REPLICATE_RUNNING);
}

static void act_app_exited(struct replicate *r, const struct replicate_event *ev)
{
    r->shim_pid = ev->shim_pid;
    r->app_exited = true;
    r->app_status = ev->status;
    char name[16];
    if (WIFSIGNALED(ev->status))
        log_info("the app was killed by SIG%s; waiting for litestream's final sync",
                 signal_name(WTERMSIG(ev->status), name, sizeof(name)));
    else
        log_info("the app exited with code %d; waiting for litestream's final sync", spawn_status_code(ev->status));
    if (r->state == REPLICATE_RUNNING || r->state == REPLICATE_SIBLING || r->state == REPLICATE_STARTING)
        set_state(r, REPLICATE_FINAL_SYNC);
}

static void act_exec_failed(struct replicate *r, const struct replicate_event *ev)
{
    r->shim_pid = ev->shim_pid;
    r->exec_failed = true;
    r->exec_errno = ev->err;
}

static void act_sync(struct replicate *r, const struct replicate_event *ev)
{
    r->sync_confirmed = ev->confirmed;
    final_sync_text(r, ev->confirmed ? "done: the replica holds the app's last writes"
                                     : "retrying: the replica did not confirm the app's last writes; litestream's "
                                       "shutdown retries within LSINIT_GRACE");
    log_debug("the app's last writes are %s in the replica", ev->confirmed ? "confirmed" : "not confirmed");
}

/* Litestream gone, for whatever reason: the bookkeeping every exit shares. */
static int litestream_gone(struct replicate *r, const struct replicate_event *ev)
{
    r->litestream_pid = -1;
    r->litestream_has_app = false;
    r->term_at = 0;
    r->ops.main_child(r->ops.ctx, -1);
    return spawn_status_code(ev->status);
}

/*
 * Litestream exited before it started the app. From 0.5.16 on it connects to
 * an SFTP (or region-less S3, NATS, WebDAV) replica first and exits 1 when it
 * cannot: like a restore, that is retried with backoff until
 * LSINIT_RESTORE_TIMEOUT, and /readyz stays false.
 */
static void act_exited_before_app(struct replicate *r, const struct replicate_event *ev)
{
    int code = litestream_gone(r, ev);
    if (r->exec_failed) {
        finish(r, spawn_exit_code_for_errno(r->exec_errno));
        return;
    }
    if (r->stop_signal != 0) {
        finish(r, 128 + r->stop_signal);
        return;
    }
    if (!r->cfg.retry_start) {
        log_error("litestream exited with code %d before starting the app: see its messages above (config, "
                  "database or replica problem); exiting %d",
                  code, EXIT_LITESTREAM);
        finish(r, EXIT_LITESTREAM);
        return;
    }
    r->start_attempts++;
    int64_t wait = backoff_ms(r->start_attempts, START_BACKOFF_FIRST_MS, START_BACKOFF_MAX_MS);
    if (ev->now + wait <= r->start_deadline) {
        log_warn("litestream exited with code %d before starting the app (attempt %d; see its messages above: an "
                 "unreachable replica at start is retried); retrying in %lldms",
                 code, r->start_attempts, (long long)wait);
        r->start_retry_at = ev->now + wait;
        set_state(r, REPLICATE_START_BACKOFF);
        return;
    }
    char limit[32];
    format_duration(r->cfg.start_timeout_ms, limit, sizeof(limit));
    log_error("litestream exited with code %d before starting the app, %d time%s within LSINIT_RESTORE_TIMEOUT=%s: "
              "it connects to the replica first (Litestream 0.5.16+), so the replica is unreachable or refuses the "
              "credentials (see its messages above); not starting the app; exiting %d",
              code, r->start_attempts, r->start_attempts == 1 ? "" : "s", limit, EXIT_RESTORE);
    finish(r, EXIT_RESTORE);
}

/* Litestream died while the app runs: the app keeps running; replication comes back after a backoff. */
static void act_died_under_app(struct replicate *r, const struct replicate_event *ev)
{
    bool had_app = r->litestream_has_app;
    pid_t pid = r->litestream_pid;
    int code = litestream_gone(r, ev);
    if (r->exec_failed) {
        finish(r, spawn_exit_code_for_errno(r->exec_errno));
        return;
    }
    if (r->killed_everything) {
        finish(r, 128 + SIGKILL);
        return;
    }
    /* A copy that ran longer than the longest backoff was healthy: start over. */
    if (ev->now - r->litestream_started_ms >= RESTART_BACKOFF_MAX_MS)
        r->restarts = 0;
    r->restarts++;
    r->ops.restarted(r->ops.ctx);
    int64_t wait = backoff_ms(r->restarts, RESTART_BACKOFF_FIRST_MS, RESTART_BACKOFF_MAX_MS);
    log_error("litestream (pid %ld) died with code %d while the app runs%s: the app keeps running; restarting "
              "replication in %lldms (restart #%d)",
              (long)pid, code, had_app ? "" : " (restarted copy)", (long long)wait, r->restarts);
    r->restart_at = ev->now + wait;
    set_state(r, REPLICATE_DOWN);
    if (r->stop_signal != 0 && r->shim_pid > 0) {
        /* Stopping, and Litestream died before it passed the stop on: the app gets it through the shim now. */
        r->ops.signal(r->ops.ctx, r->shim_pid, r->stop_routed != 0 ? r->stop_routed : SIGTERM);
        r->stop_forwarded = true;
    }
}

/*
 * The app is gone and Litestream's shutdown ran the final sync. Litestream
 * 0.5 exits 0 even when that sync failed, so its code says nothing: the
 * shim's report does (it asked Litestream to upload everything and the
 * replica confirmed it, or not). Litestream 0.3 exits 1 when any step of its
 * shutdown fails. Either way, one more pass decides when it is not clean.
 */
static void act_final_sync_exited(struct replicate *r, const struct replicate_event *ev)
{
    int code = litestream_gone(r, ev);
    if (r->exec_failed) {
        finish(r, spawn_exit_code_for_errno(r->exec_errno));
        return;
    }
    bool clean = r->cfg.confirm_by_socket ? r->sync_confirmed : code == 0;
    if (clean) {
        log_debug("litestream exited with code %d after the final sync", code);
        r->synced = true;
        final_sync_text(r, "done");
        finish_with_app_code(r);
        return;
    }
    if (second_pass_start(r, code, ev->now))
        return;
    final_sync_failed(r,
                      r->cfg.confirm_by_socket ? "the replica did not confirm the app's last writes"
                                               : "litestream's shutdown reported an error",
                      code);
}

/* The second pass (`replicate -once` on 0.5, a short replicate run on 0.3) ended: its exit code decides. */
static void act_second_pass_exited(struct replicate *r, const struct replicate_event *ev)
{
    int code = litestream_gone(r, ev);
    if (code == 0) {
        log_warn("the second sync pass succeeded: the app's last writes are in the replica");
        r->synced = true;
        final_sync_text(r, "done (second pass)");
        finish_with_app_code(r);
        return;
    }
    final_sync_failed(r, "the second sync pass failed too", code);
}

static void act_exited_when_done(struct replicate *r, const struct replicate_event *ev)
{
    (void)litestream_gone(r, ev);
    r->ops.drain(r->ops.ctx);
}

static void act_shim_exited(struct replicate *r, const struct replicate_event *ev)
{
    r->shim_gone = true;
    if (r->litestream_pid > 0 && !r->litestream_has_app && !r->final_term_sent) {
        /* Beside the app: the app is gone; Litestream's shutdown runs the final sync. */
        r->ops.signal(r->ops.ctx, r->litestream_pid, SIGTERM);
        r->final_term_sent = true;
        if (r->state == REPLICATE_SIBLING)
            set_state(r, REPLICATE_FINAL_SYNC);
    } else if (r->state == REPLICATE_DOWN) {
        /* Litestream is down: restart it now, once, to sync the app's last writes. */
        log_warn("the app exited while litestream was down; restarting it once for a final sync");
        r->restart_at = ev->now;
    }
}

/* A stop before Litestream started the app, while it waits to retry: nothing runs; the stop decides. */
static void act_stop_idle(struct replicate *r, const struct replicate_event *ev)
{
    r->stop_signal = ev->sig;
    r->stop_routed = ev->routed;
    r->grace_deadline = ev->deadline;
    r->start_retry_at = 0;
    finish(r, 128 + ev->sig);
}

static void act_stop(struct replicate *r, const struct replicate_event *ev)
{
    char name[16];
    if (r->stop_signal == 0) {
        r->stop_signal = ev->sig;
        r->grace_deadline = ev->deadline;
    }
    if (r->stop_forwarded) {
        log_info("already stopping (SIG%s ignored so the final sync is not cut short; the grace period still "
                 "applies)",
                 signal_name(ev->sig, name, sizeof(name)));
        return;
    }
    r->stop_routed = ev->routed;
    if (r->app_exited || r->exec_failed) {
        r->stop_forwarded = true; /* Litestream is already shutting down */
        return;
    }
    /*
     * Exactly one signal. With the app as Litestream's -exec child it goes to
     * Litestream's pid (never its group, which races with the app exiting on
     * its own), which passes it on and then syncs. Beside the app, or while
     * Litestream is down, it goes to the shim; Litestream stops once the app
     * is gone.
     */
    pid_t target = r->litestream_pid;
    if (!(r->litestream_pid > 0 && r->litestream_has_app) && r->shim_pid > 0)
        target = r->shim_pid;
    if (target > 0) {
        r->ops.signal(r->ops.ctx, target, ev->routed);
        r->stop_forwarded = true;
    }
}

/* Other signals go to the app only: Go's defaults make HUP kill Litestream and QUIT dump it. */
static void act_signal(struct replicate *r, const struct replicate_event *ev)
{
    char name[16];
    if (replicate_app_running(r) && r->app_pid > 0)
        r->ops.signal(r->ops.ctx, r->app_pid, ev->routed);
    else
        log_debug("SIG%s arrived while the app is not running: dropped", signal_name(ev->sig, name, sizeof(name)));
}

static void act_grace_expired(struct replicate *r, const struct replicate_event *ev)
{
    (void)ev;
    r->killed_everything = true;
    if (!r->app_exited && r->app_pid > 0) {
        log_error("the app did not exit within LSINIT_GRACE; killing it (its last writes may not be replicated)");
        r->ops.signal(r->ops.ctx, -r->app_pid, SIGKILL);
        r->ops.signal(r->ops.ctx, r->app_pid, SIGKILL);
        decide(r, 128 + SIGKILL);
    } else if (r->app_exited && r->litestream_pid > 0) {
        log_error("litestream's final sync did not finish within LSINIT_GRACE: raise LSINIT_GRACE (and the "
                  "platform's stop timeout); exiting %d",
                  EXIT_SYNC);
        final_sync_text(r, "failed: litestream's final sync did not finish within LSINIT_GRACE");
        decide(r, EXIT_SYNC);
    }
}

static void act_hung(struct replicate *r, const struct replicate_event *ev)
{
    (void)ev;
    if (r->litestream_pid <= 0 || r->stop_signal != 0)
        return;
    r->ops.signal(r->ops.ctx, r->litestream_pid, SIGKILL);
    r->ops.signal(r->ops.ctx, r->litestream_pid, SIGCONT);
}

static void act_timer(struct replicate *r, const struct replicate_event *ev)
{
    int64_t now = ev->now;
    if (r->state == REPLICATE_START_BACKOFF && r->start_retry_at != 0 && now >= r->start_retry_at) {
        r->start_retry_at = 0;
        start_with_app(r, now);
        return;
    }
    if (r->state == REPLICATE_DOWN && r->restart_at != 0 && now >= r->restart_at) {
        restart_beside(r, now);
        return;
    }
    if (r->term_at != 0 && now >= r->term_at) {
        r->term_at = 0;
        if (r->litestream_pid > 0 && !r->final_term_sent) {
            r->ops.signal(r->ops.ctx, r->litestream_pid, SIGTERM);
            r->final_term_sent = true;
        }
    }
}

/*
 * The replica's lease is gone: another instance may already be writing to the
 * replica. Litestream is killed at once (no byte more is uploaded), the app
 * gets a TERM through the shim and LSINIT_GRACE, and lsinit exits 76.
 */
static void act_fence(struct replicate *r, const struct replicate_event *ev)
{
    (void)ev;
    decide(r, EXIT_LEASE);
    if (r->litestream_pid > 0) {
        r->ops.signal(r->ops.ctx, r->litestream_pid, SIGKILL);
        r->ops.signal(r->ops.ctx, r->litestream_pid, SIGCONT);
    }
    if (replicate_app_running(r) && r->shim_pid > 0 && !r->stop_forwarded) {
        r->ops.signal(r->ops.ctx, r->shim_pid, r->stop_routed != 0 ? r->stop_routed : SIGTERM);
        r->stop_forwarded = true;
    }
    r->restart_at = 0;
    r->start_retry_at = 0;
    r->term_at = 0;
    r->ops.begin_grace(r->ops.ctx);
    set_state(r, REPLICATE_FENCED);
    if (r->litestream_pid <= 0 && !replicate_app_running(r))
        finish(r, EXIT_LEASE);
}

/* Fenced: whatever ends, lsinit is done once Litestream is gone and the app with it. */
static void act_fenced_exit(struct replicate *r, const struct replicate_event *ev)
{
    if (ev->kind == REPLICATE_EV_LITESTREAM_EXITED)
        (void)litestream_gone(r, ev);
    else if (ev->kind == REPLICATE_EV_SHIM_EXITED)
        r->shim_gone = true;
    else if (ev->kind == REPLICATE_EV_APP_EXITED)
        act_app_exited(r, ev);
    bool app_gone = !replicate_app_running(r) || r->shim_gone;
    if (r->litestream_pid <= 0 && app_gone)
        finish(r, EXIT_LEASE);
}

static void act_stop_fenced(struct replicate *r, const struct replicate_event *ev)
{
    if (r->stop_signal == 0) {
        r->stop_signal = ev->sig;
        r->grace_deadline = ev->deadline;
    }
    if (!r->stop_forwarded && replicate_app_running(r) && r->shim_pid > 0) {
        r->ops.signal(r->ops.ctx, r->shim_pid, ev->routed);
        r->stop_forwarded = true;
    }
}

/* ---- the table ---------------------------------------------------------- */

#define IGN act_ignore
/* Columns: START APP_STARTED APP_EXITED EXEC_FAILED SYNC LITESTREAM_EXITED SHIM_EXITED STOP SIGNAL GRACE HUNG TIMER */
static const replicate_action actions[REPLICATE_STATE_COUNT][REPLICATE_EVENT_COUNT] = {
    [REPLICATE_IDLE] = {act_start, IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN, act_fence},
    [REPLICATE_STARTING] = {IGN, act_app_started, act_app_exited, act_exec_failed, act_sync, act_exited_before_app,
                            act_shim_exited, act_stop, act_signal, act_grace_expired, IGN, act_timer, act_fence},
    [REPLICATE_START_BACKOFF] = {IGN, IGN, IGN, IGN, IGN, IGN, IGN, act_stop_idle, act_signal, act_grace_expired, IGN,
                                 act_timer, act_fence},
    [REPLICATE_RUNNING] = {IGN, act_app_started, act_app_exited, act_exec_failed, act_sync, act_died_under_app,
                           act_shim_exited, act_stop, act_signal, act_grace_expired, act_hung, act_timer, act_fence},
    [REPLICATE_DOWN] = {IGN, act_app_started, act_app_exited, act_exec_failed, act_sync, IGN, act_shim_exited, act_stop,
                        act_signal, act_grace_expired, IGN, act_timer, act_fence},
    [REPLICATE_SIBLING] = {IGN, act_app_started, act_app_exited, act_exec_failed, act_sync, act_died_under_app,
                           act_shim_exited, act_stop, act_signal, act_grace_expired, act_hung, act_timer, act_fence},
    [REPLICATE_FINAL_SYNC] = {IGN, IGN, act_app_exited, act_exec_failed, act_sync, act_final_sync_exited,
                              act_shim_exited, act_stop, act_signal, act_grace_expired, IGN, act_timer, act_fence},
    [REPLICATE_SECOND_PASS] = {IGN, IGN, IGN, IGN, act_sync, act_second_pass_exited, act_shim_exited, act_stop,
                               act_signal, act_grace_expired, IGN, act_timer, act_fence},
    [REPLICATE_FENCED] = {IGN, IGN, act_fenced_exit, IGN, IGN, act_fenced_exit, act_fenced_exit, act_stop_fenced,
                          act_signal, act_grace_expired, IGN, IGN, IGN},
    [REPLICATE_DONE] = {IGN, IGN, IGN, IGN, IGN, act_exited_when_done, IGN, act_stop, act_signal, act_grace_expired,
                        IGN, IGN, IGN},
};
#undef IGN

void replicate_handle(struct replicate *r, const struct replicate_event *ev)
{
    if ((unsigned)r->state >= REPLICATE_STATE_COUNT || (unsigned)ev->kind >= REPLICATE_EVENT_COUNT)
        return;
    actions[r->state][ev->kind](r, ev);
}

void replicate_init(struct replicate *r, const struct replicate_config *cfg, const struct replicate_ops *ops)
{
    memset(r, 0, sizeof(*r));
    r->cfg = *cfg;
    r->ops = *ops;
    r->litestream_pid = -1;
    r->shim_pid = -1;
    r->app_pid = -1;
    r->state = REPLICATE_IDLE;
}

int64_t replicate_next_deadline(const struct replicate *r)
{
    int64_t next = 0;
    const int64_t t[] = {
        r->state == REPLICATE_START_BACKOFF ? r->start_retry_at : 0,
        r->state == REPLICATE_DOWN ? r->restart_at : 0,
        r->litestream_pid > 0 && !r->final_term_sent ? r->term_at : 0,
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i] != 0 && (next == 0 || t[i] < next))
            next = t[i];
    }
    return next;
}

const char *replicate_state_name(enum replicate_state s)
{
    static const char *const names[REPLICATE_STATE_COUNT] = {
        "idle",       "starting",   "start-backoff", "running", "down",
        "beside-app", "final-sync", "second-pass",   "fenced",  "done",
    };
    return (unsigned)s < REPLICATE_STATE_COUNT ? names[s] : "?";
}

bool replicate_app_running(const struct replicate *r) { return r->app_started && !r->app_exited && !r->exec_failed; }

/* Live: nothing has died that should be running (starting, or waiting to retry, counts as live). */
bool replicate_is_live(const struct replicate *r)
{
    if (r->state == REPLICATE_IDLE || r->state == REPLICATE_START_BACKOFF ||
        (r->state == REPLICATE_STARTING && !r->app_started))
        return true;
    return replicate_app_running(r) && r->litestream_pid > 0;
}

bool replicate_may_release(const struct replicate *r) { return r->synced || !r->app_started; }
