/* SPDX-License-Identifier: MIT */
#include "replication.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "exit_codes.h"
#include "health_state.h"
#include "lease.h"
#include "lease_keeper.h"
#include "json_text.h"
#include "litestream.h"
#include "log.h"
#include "parse.h"
#include "plan.h"
#include "replicate.h"
#include "restore.h"
#include "settings.h"
#include "shim.h"
#include "spawn.h"

#define SHIM_WAIT_MS 5000
#define EXEC_STRING_MAX 65536
#define LITESTREAM_HANG_MS 30000

struct replication {
    const struct plan *plan;
    const struct settings *settings;
    const sigset_t *child_mask;
    const char *cwd;
    struct health_state *health;
    struct replication_host host;

    char **litestream_env; /* lsinit's environment without what would change Litestream's behaviour */
    char self_exe[PATH_MAX];
    int report_read, report_write;
    char report_buf[512];
    struct line_reader reports;

    struct restore_set restores;
    bool restores_finished;
    struct replicate rep;

    int stop_signal;
    bool decided;
    bool draining;
    bool litestream_started; /* at least once */

    /* the replica's lease (lease_keeper.h) */
    enum { LEASE_OFF, LEASE_ACQUIRING, LEASE_HELD, LEASE_LOST, LEASE_ENDED } lease;
    pid_t keeper_pid;
    int keeper_cmd, keeper_events;
    char keeper_buf[1200];
    struct line_reader keeper_lines;
    struct lease_keeper_params keeper_params;
    size_t leases_wanted, leases_held;
    int64_t lease_renewed_ms;
    char lease_text[400];
};

/*
 * Litestream 0.5 lets LOG_LEVEL override its logging level: an app's own
 * LOG_LEVEL=debug would flood the container's log with Litestream's debug
 * lines. Litestream gets lsinit's environment without it; the app still gets
 * the container's whole environment from the shim.
 */
static char **litestream_environment(void)
{
    static const char *const dropped[] = {"LOG_LEVEL=", NULL};
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 1, sizeof(char *));
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t d = 0; dropped[d] != NULL; d++)
            drop = drop || strncmp(environ[i], dropped[d], strlen(dropped[d])) == 0;
        if (!drop)
            env[k++] = environ[i];
    }
    env[k] = NULL;
    return env;
}

/* ---- what the state machine does to the world --------------------------- */

static void host_decide(struct replication *r, int code)
{
    r->decided = true;
    r->host.decide(r->host.ctx, code);
}

static void host_drain(struct replication *r)
{
    if (r->draining)
        return;
    r->draining = true;
    if (r->keeper_cmd >= 0) {
        /* Released only after the app's last writes are in the replica (or when the app never ran). */
        bool release = r->lease != LEASE_LOST && replicate_may_release(&r->rep);
        const char *cmd = release ? "release\n" : "quit\n";
        (void)!write(r->keeper_cmd, cmd, strlen(cmd));
        close(r->keeper_cmd);
        r->keeper_cmd = -1;
        if (!release && r->lease == LEASE_HELD)
            log_warn("the replica's lease is left to expire (the final sync did not succeed)");
    }
    r->host.drain(r->host.ctx);
}

/* The shim's command line, quoted for -exec: __shim PARENT REPORT_FD METRICS SOCKET WAIT_MS [DB...] -- CMD */
static bool build_exec_string(const struct replication *r, char *out, size_t size)
{
    const struct plan *plan = r->plan;
    size_t argc = 0;
    for (char **a = r->settings->command; *a != NULL; a++)
        argc++;
    char **argv = calloc(argc + plan->db_count + 10, sizeof(char *));
    if (argv == NULL)
        return false;
    char pid_text[24], fd_text[24], wait_text[24];
    snprintf(pid_text, sizeof(pid_text), "%ld", (long)getpid());
    snprintf(fd_text, sizeof(fd_text), "%d", r->report_write);
    /* The shim waits for Litestream at most the whole grace: lsinit's own grace timer is the real bound. */
    int64_t wait_ms = r->settings->grace_ms > 0 ? r->settings->grace_ms : SHIM_WAIT_MS;
    snprintf(wait_text, sizeof(wait_text), "%lld", (long long)wait_ms);
    size_t n = 0;
    argv[n++] = (char *)r->self_exe;
    argv[n++] = (char *)SHIM_ARGV0;
    argv[n++] = pid_text;
    argv[n++] = fd_text;
    argv[n++] = plan->metrics_addr[0] != '\0' ? (char *)plan->metrics_addr : (char *)"-";
    argv[n++] = plan->socket_path[0] != '\0' ? (char *)plan->socket_path : (char *)"-";
    argv[n++] = wait_text;
    for (size_t i = 0; i < plan->db_count; i++)
        argv[n++] = (char *)plan->dbs[i].path;
    argv[n++] = (char *)"--";
    for (size_t i = 0; i < argc; i++)
        argv[n++] = r->settings->command[i];
    argv[n] = NULL;
    size_t len = ls_shell_quote(argv, out, size);
    free(argv);
    return len > 0;
}

static pid_t op_spawn(void *ctx, enum replicate_mode mode, int *fail_code)
{
    struct replication *r = ctx;
    const struct plan *plan = r->plan;
    char *exec_string = NULL;
    if (mode == REPLICATE_WITH_APP) {
        exec_string = malloc(EXEC_STRING_MAX);
        if (exec_string == NULL || !build_exec_string(r, exec_string, EXEC_STRING_MAX)) {
            log_error("the command cannot be passed to litestream -exec: over %d bytes quoted, or an argument "
                      "is not valid UTF-8 (Go would replace its bytes)",
                      EXEC_STRING_MAX);
            free(exec_string);
            *fail_code = EXIT_USAGE;
            return -1;
        }
    }
    const char *argv[LS_ARGV_MAX];
    ls_replicate_argv(plan->litestream, plan->config_path, mode == REPLICATE_ONE_PASS, exec_string, argv);
    int exec_errno = 0;
    struct spawn_request req = {
        .argv = (char *const *)argv,
        .envp = r->litestream_env,
        .child_mask = r->child_mask,
        .cwd = r->cwd,
        .new_pgrp = true,
    };
    pid_t pid = spawn_process(&req, &exec_errno);
    free(exec_string);
    if (pid < 0) {
        errno = exec_errno != 0 ? exec_errno : errno;
        log_error("cannot run %s replicate: %m", plan->litestream);
        *fail_code = exec_errno != 0 ? spawn_exit_code_for_errno(exec_errno) : EXIT_OSERR;
        return -1;
    }
    r->litestream_started = true;
    log_debug("started litestream %s replicate as pid %ld%s", plan->version.text, (long)pid,
              mode == REPLICATE_WITH_APP ? " with the app as its -exec child" : "");
    return pid;
}

static void op_signal(void *ctx, pid_t pid, int sig)
{
    (void)ctx;
    char name[16];
    if (kill(pid, sig) != 0 && errno != ESRCH)
        log_warn("cannot send SIG%s to %ld: %m", signal_name(sig, name, sizeof(name)), (long)pid);
}

static void op_decide(void *ctx, int code) { host_decide(ctx, code); }
static void op_drain(void *ctx) { host_drain(ctx); }

static void op_app_started(void *ctx)
{
    struct replication *r = ctx;
    r->host.app_started(r->host.ctx);
}

static void op_main_child(void *ctx, pid_t pid)
{
    struct replication *r = ctx;
    r->host.main_child(r->host.ctx, pid);
}

static void op_final_sync(void *ctx, const char *text)
{
    struct replication *r = ctx;
    snprintf(r->health->final_sync, sizeof(r->health->final_sync), "%s", text);
}

static void op_restarted(void *ctx)
{
    struct replication *r = ctx;
    r->health->litestream_restarts++;
}

static void op_begin_grace(void *ctx)
{
    struct replication *r = ctx;
    r->host.begin_grace(r->host.ctx);
}

static int op_remap_exit(void *ctx, int code)
{
    const struct replication *r = ctx;
    return settings_remap_exit(r->settings, code);
}

/* ---- set-up --------------------------------------------------------------- */

struct replication *replication_new(const struct replication_params *p, int *code)
{
    struct replication *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        log_error("out of memory");
        *code = EXIT_OSERR;
        return NULL;
    }
    r->plan = p->plan;
    r->settings = p->settings;
    r->child_mask = p->child_mask;
    r->cwd = p->cwd;
    r->health = p->health;
    r->host = p->host;
    r->report_read = r->report_write = -1;
    r->keeper_cmd = r->keeper_events = -1;
    r->keeper_pid = -1;
    /*
     * Litestream runs the shim through /proc/<our pid>/exe: that is this very
     * binary even after an upgrade replaced or deleted the file on disk.
     */
    snprintf(r->self_exe, sizeof(r->self_exe), "/proc/%ld/exe", (long)getpid());
    if (access(r->self_exe, X_OK) != 0) {
        log_error("cannot run lsinit's own binary through %s: %m; is /proc mounted?", r->self_exe);
        *code = EXIT_OSERR;
        replication_free(r);
        return NULL;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        log_error("cannot create the report pipe: %m");
        *code = EXIT_OSERR;
        replication_free(r);
        return NULL;
    }
    r->report_read = fds[0];
    r->report_write = fds[1];
    r->reports = (struct line_reader){.buf = r->report_buf, .size = sizeof(r->report_buf)};
    *code = restore_prepare_folders(p->plan);
    if (*code != 0) {
        replication_free(r);
        return NULL;
    }
    r->litestream_env = litestream_environment();
    if (r->litestream_env == NULL) {
        log_error("out of memory");
        *code = EXIT_OSERR;
        replication_free(r);
        return NULL;
    }
    r->restores = (struct restore_set){
        .plan = p->plan,
        .env = r->litestream_env,
        .child_mask = p->child_mask,
        .cwd = p->cwd,
        .restored = &p->health->restores,
    };
    struct replicate_config cfg = {
        .confirm_by_socket = p->plan->socket_path[0] != '\0',
        .retry_start = ls_version_at_least(&p->plan->version, 0, 5, 16),
        .start_timeout_ms = p->plan->restore_timeout_ms,
    };
    struct replicate_ops ops = {
        .ctx = r,
        .spawn = op_spawn,
        .signal = op_signal,
        .decide = op_decide,
        .drain = op_drain,
        .app_started = op_app_started,
        .main_child = op_main_child,
        .final_sync = op_final_sync,
        .restarted = op_restarted,
        .remap_exit = op_remap_exit,
        .begin_grace = op_begin_grace,
    };
    replicate_init(&r->rep, &cfg, &ops);
    return r;
}

static void replicate_event(struct replication *r, enum replicate_event_kind kind, int64_t now)
{
    struct replicate_event ev = {.kind = kind, .now = now};
    replicate_handle(&r->rep, &ev);
}

static void restores_begin(struct replication *r, int64_t now)
{
    if (!restore_set_begin(&r->restores, now)) {
        r->restores_finished = true;
        replicate_event(r, REPLICATE_EV_START, now);
    }
}

/* The lease keeper: a forked child that does the lease's blocking I/O (lease_keeper.h). */
static int keeper_start(struct replication *r)
{
    int cmd[2], ev[2];
    if (pipe2(cmd, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(ev, O_CLOEXEC) != 0) {
        close(cmd[0]);
        close(cmd[1]);
        return -1;
    }
    r->keeper_params = (struct lease_keeper_params){
        .plan = r->plan,
        .ttl_ms = r->plan->lease_ttl_ms,
        .wait_ms = r->plan->lease_wait_ms,
        .cmd_fd = cmd[0],
        .event_fd = ev[1],
        .parent = (long)getpid(),
    };
    /* Signals stay blocked in the keeper: the stop's TERM must not cut a release short. */
    pid_t pid = spawn_function(lease_keeper_main, &r->keeper_params, NULL);
    close(cmd[0]);
    close(ev[1]);
    if (pid < 0) {
        close(cmd[1]);
        close(ev[0]);
        return -1;
    }
    (void)fcntl(ev[0], F_SETFL, O_NONBLOCK);
    r->keeper_pid = pid;
    r->keeper_cmd = cmd[1];
    r->keeper_events = ev[0];
    r->keeper_lines = (struct line_reader){.buf = r->keeper_buf, .size = sizeof(r->keeper_buf)};
    return 0;
}

void replication_begin(struct replication *r, int64_t now)
{
    if (!r->plan->lease) {
        restores_begin(r, now);
        return;
    }
    for (size_t i = 0; i < r->plan->db_count; i++)
        r->leases_wanted += r->plan->lease_db[i] ? 1 : 0;
    if (keeper_start(r) != 0) {
        log_error("cannot start the lease keeper: %m");
        host_decide(r, EXIT_OSERR);
        r->restores_finished = true;
        host_drain(r);
        return;
    }
    r->lease = LEASE_ACQUIRING;
    snprintf(r->lease_text, sizeof(r->lease_text), "waiting: taking the replica's lease");
    log_debug("taking the replica's lease (TTL %lldms) before anything else", (long long)r->plan->lease_ttl_ms);
}

/* ---- the lease ------------------------------------------------------------- */

static void lease_lost(struct replication *r, const char *why, int64_t now)
{
    if (r->lease == LEASE_LOST || r->lease == LEASE_ENDED)
        return;
    bool was_held = r->lease == LEASE_HELD;
    r->lease = LEASE_LOST;
    snprintf(r->lease_text, sizeof(r->lease_text), "lost: %.380s", why);
    log_error("the replica's lease is lost: %s; stopping Litestream at once (no more uploads), then the app; exiting "
              "%d",
              why, EXIT_LEASE);
    host_decide(r, EXIT_LEASE);
    if (!r->restores_finished) {
        restore_set_abort(&r->restores);
        r->restores_finished = true;
        if (!restore_set_running(&r->restores) && !r->litestream_started)
            host_drain(r);
        return;
    }
    (void)was_held;
    replicate_event(r, REPLICATE_EV_LEASE_LOST, now);
}

/*
 * A standby that just became this primary (LSINIT_TAKEOVER_TXID): now that the lease is ours, nothing can
 * upload; the replica's newest transaction must still be the one its copy holds, or another writer came
 * in between and this copy is behind: stop (76) rather than write a stale database over the history.
 */
static bool takeover_checked(struct replication *r)
{
    if (!r->plan->takeover)
        return true;
    for (size_t i = 0; i < r->plan->db_count; i++) {
        const char *db = r->plan->dbs[i].path;
        uint64_t newest = 0;
        if (restore_replica_newest(r->plan, db, r->child_mask, &newest) != 0) {
            log_error("taking over %s: cannot list the replica to check it holds nothing newer than this copy; "
                      "exiting %d (restarted, this instance is a standby again)",
                      db, EXIT_LEASE);
            return false;
        }
        if (newest != r->plan->takeover_txid[i]) {
            log_error("taking over %s: the replica's newest transaction is %016llx, this copy holds %016llx: another "
                      "writer came in between; exiting %d (restarted, this instance is a standby again)",
                      db, (unsigned long long)newest, (unsigned long long)r->plan->takeover_txid[i], EXIT_LEASE);
            return false;
        }
        log_info("took over %s at transaction %016llx: the replica has nothing newer", db, (unsigned long long)newest);
    }
    return true;
}

/* Every database that can carry a lease has one (or none can): the restores may begin. */
static void leases_maybe_complete(struct replication *r, int64_t now)
{
    if (r->lease != LEASE_ACQUIRING || r->leases_held < r->leases_wanted)
        return;
    if (r->leases_wanted == 0) {
        r->lease = LEASE_ENDED;
        snprintf(r->lease_text, sizeof(r->lease_text), "off: no store here can hold a lease");
    } else {
        r->lease = LEASE_HELD;
        snprintf(r->lease_text, sizeof(r->lease_text), "held (TTL %llds)", (long long)(r->plan->lease_ttl_ms / 1000));
    }
    if (r->stop_signal == 0 && !r->decided && !takeover_checked(r)) {
        host_decide(r, EXIT_LEASE);
        r->restores_finished = true;
        host_drain(r);
        return;
    }
    if (r->stop_signal == 0 && !r->decided)
        restores_begin(r, now);
}

static void on_keeper_line(char *line, void *ctx)
{
    struct replication *r = ctx;
    struct lease_event ev;
    if (lease_event_parse(line, &ev) != 0)
        return;
    int64_t now = clock_now_ms();
    switch (ev.kind) {
    case LEASE_EV_WAITING:
        log_warn("%s", ev.text);
        snprintf(r->lease_text, sizeof(r->lease_text), "waiting: %.380s", ev.text);
        break;
    case LEASE_EV_HELD:
        if (ev.index >= 0 && (size_t)ev.index < r->plan->db_count)
            log_info("holding the replica's lease for %s (generation %s)", r->plan->dbs[ev.index].path, ev.text);
        r->leases_held++;
        r->lease_renewed_ms = now;
        leases_maybe_complete(r, now);
        break;
    case LEASE_EV_UNLEASED:
        log_warn("%s", ev.text);
        if (r->leases_wanted > 0)
            r->leases_wanted--;
        leases_maybe_complete(r, now);
        break;
    case LEASE_EV_RENEWED: r->lease_renewed_ms = now; break;
    case LEASE_EV_LOST: lease_lost(r, ev.text, now); break;
    case LEASE_EV_RELEASED:
        if (r->lease != LEASE_LOST)
            r->lease = LEASE_ENDED;
        snprintf(r->lease_text, sizeof(r->lease_text), "released");
        log_info("released the replica's lease");
        break;
    case LEASE_EV_FAIL:
        log_error("%s", ev.text);
        r->lease = LEASE_ENDED;
        snprintf(r->lease_text, sizeof(r->lease_text), "failed: %.380s", ev.text);
        host_decide(r, (int)ev.index);
        if (!r->restores_finished) {
            r->restores_finished = true;
            host_drain(r);
        } else {
            lease_lost(r, ev.text, now);
        }
        break;
    }
}

static void keeper_drain(struct replication *r)
{
    if (r->keeper_events < 0)
        return;
    if (line_reader_drain(&r->keeper_lines, r->keeper_events, on_keeper_line, r) == 0) {
        close(r->keeper_events);
        r->keeper_events = -1;
    }
}

static void keeper_exited(struct replication *r, int status, int64_t now)
{
    keeper_drain(r);
    r->keeper_pid = -1;
    if (r->lease == LEASE_ACQUIRING || r->lease == LEASE_HELD) {
        char why[96];
        snprintf(why, sizeof(why), "the lease keeper exited unexpectedly (code %d)", spawn_status_code(status));
        if (r->lease == LEASE_ACQUIRING && !r->decided) {
            log_error("%s before it took the lease; exiting %d", why, EXIT_LEASE);
            host_decide(r, EXIT_LEASE);
            r->lease = LEASE_ENDED;
            r->restores_finished = true;
            host_drain(r);
            return;
        }
        if (r->lease == LEASE_HELD && !r->draining)
            lease_lost(r, why, now);
    }
}

/* The keeper renews every TTL/3; silence past the holder's limit means nobody proves we are alone. */
static void lease_watchdog(struct replication *r, int64_t now)
{
    if (r->lease != LEASE_HELD || r->draining)
        return;
    int64_t limit = lease_holder_limit_ms(r->plan->lease_ttl_ms) + 1000;
    if (now - r->lease_renewed_ms > limit)
        lease_lost(r, "the lease keeper stopped reporting renewals", now);
}

void replication_free(struct replication *r)
{
    if (r == NULL)
        return;
    if (r->report_read >= 0)
        close(r->report_read);
    if (r->report_write >= 0)
        close(r->report_write);
    if (r->keeper_cmd >= 0)
        close(r->keeper_cmd);
    if (r->keeper_events >= 0)
        close(r->keeper_events);
    free(r->litestream_env);
    free(r);
}

/* ---- restores ------------------------------------------------------------ */

static void restores_outcome(struct replication *r, enum restore_outcome o, int64_t now)
{
    if (o == RESTORE_FAILED) {
        host_decide(r, EXIT_RESTORE);
        restore_set_abort(&r->restores);
        r->restores_finished = true;
    } else if (o == RESTORE_ALL_DONE && !r->decided && r->stop_signal == 0) {
        r->restores_finished = true;
        replicate_event(r, REPLICATE_EV_START, now);
        return;
    } else if (o == RESTORE_ALL_DONE) {
        r->restores_finished = true;
        host_decide(r, 128 + r->stop_signal);
    }
    if (r->restores_finished && r->decided && !restore_set_running(&r->restores) && !r->litestream_started)
        host_drain(r);
}

/* ---- the shim's reports --------------------------------------------------- */

static void report_handle_line(struct replication *r, const char *line)
{
    struct shim_report rep;
    if (shim_report_parse(line, &rep) != 0) {
        log_debug("ignoring malformed shim report");
        return;
    }
    struct replicate_event ev = {.now = 0, .shim_pid = (pid_t)rep.shim_pid};
    switch (rep.kind) {
    case SHIM_REPORT_APP:
        ev.kind = REPLICATE_EV_APP_STARTED;
        ev.pid = (pid_t)rep.value;
        break;
    case SHIM_REPORT_EXIT:
        ev.kind = REPLICATE_EV_APP_EXITED;
        ev.status = (int)rep.value;
        break;
    case SHIM_REPORT_EXECFAIL:
        ev.kind = REPLICATE_EV_EXEC_FAILED;
        ev.err = (int)rep.value;
        break;
    case SHIM_REPORT_SYNC:
        ev.kind = REPLICATE_EV_SYNC;
        ev.confirmed = rep.value == SHIM_SYNC_CONFIRMED;
        break;
    default: return;
    }
    replicate_handle(&r->rep, &ev);
}

static void on_report_line(char *line, void *ctx) { report_handle_line(ctx, line); }

static void report_drain(struct replication *r)
{
    (void)line_reader_drain(&r->reports, r->report_read, on_report_line, r);
}

/* ---- signals -------------------------------------------------------------- */

void replication_on_stop(struct replication *r, int sig, int routed, int64_t grace_deadline, int64_t now)
{
    if (r->stop_signal == 0)
        r->stop_signal = sig;
    if (!r->restores_finished) {
        log_info("stopping before the app started: cancelling restores");
        restore_set_abort(&r->restores);
        r->restores_finished = true;
        host_decide(r, 128 + sig);
        if (!restore_set_running(&r->restores))
            host_drain(r);
        return;
    }
    struct replicate_event ev = {
        .kind = REPLICATE_EV_STOP, .now = now, .sig = sig, .routed = routed, .deadline = grace_deadline};
    replicate_handle(&r->rep, &ev);
}

void replication_on_signal(struct replication *r, int sig, int routed, int64_t now)
{
    struct replicate_event ev = {.kind = REPLICATE_EV_SIGNAL, .now = now, .sig = sig, .routed = routed};
    replicate_handle(&r->rep, &ev);
}

void replication_on_grace_expired(struct replication *r, int64_t now)
{
    replicate_event(r, REPLICATE_EV_GRACE_EXPIRED, now);
}

/* ---- the loop source ------------------------------------------------------ */

static nfds_t source_poll_fds(void *self, struct pollfd *fds, nfds_t room)
{
    const struct replication *r = self;
    if (room < 1)
        return 0;
    fds[0] = (struct pollfd){.fd = r->report_read, .events = POLLIN};
    if (r->keeper_events < 0 || room < 2)
        return 1;
    fds[1] = (struct pollfd){.fd = r->keeper_events, .events = POLLIN};
    return 2;
}

static void source_on_fd(void *self, int fd, short revents, int64_t now)
{
    struct replication *r = self;
    (void)revents;
    (void)now;
    if (fd == r->report_read)
        report_drain(r);
    else if (fd == r->keeper_events)
        keeper_drain(r);
}

static int64_t source_next_deadline(const void *self)
{
    const struct replication *r = self;
    int64_t t[] = {restore_set_next_deadline(&r->restores), replicate_next_deadline(&r->rep),
                   r->lease == LEASE_HELD && !r->draining
                       ? r->lease_renewed_ms + lease_holder_limit_ms(r->plan->lease_ttl_ms) + 1001
                       : 0};
    int64_t next = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i] != 0 && (next == 0 || t[i] < next))
            next = t[i];
    }
    return next;
}

/*
 * A litestream that stopped answering (SIGSTOPped, deadlocked, stuck in I/O)
 * replicates nothing but never exits. When its metrics endpoint has not
 * answered for LITESTREAM_HANG_MS while the app runs, it is killed: the
 * restart path brings replication back.
 */
static void check_hang(struct replication *r, int64_t now)
{
    struct health_state *h = r->health;
    if (r->plan->metrics_addr[0] == '\0' || r->rep.litestream_pid <= 0 || r->stop_signal != 0 ||
        !replicate_app_running(&r->rep))
        return;
    if (h->scrape_ok_ms < r->rep.litestream_started_ms)
        h->scrape_ok_ms = r->rep.litestream_started_ms;
    if (now - h->scrape_ok_ms < LITESTREAM_HANG_MS)
        return;
    log_error("litestream (pid %ld) has not answered on its metrics endpoint for %lds: killing it so replication "
              "restarts",
              (long)r->rep.litestream_pid, (long)((now - h->scrape_ok_ms) / 1000));
    h->litestream_hangs++;
    h->scrape_ok_ms = now;
    replicate_event(r, REPLICATE_EV_HUNG, now);
}

static void source_on_timer(void *self, int64_t now)
{
    struct replication *r = self;
    if (r->draining)
        return;
    lease_watchdog(r, now);
    check_hang(r, now);
    restore_set_on_timer(&r->restores, now);
    replicate_event(r, REPLICATE_EV_TIMER, now);
}

static bool source_on_child_exit(void *self, pid_t pid, int status, int64_t now)
{
    struct replication *r = self;
    enum restore_outcome o;
    if (pid == r->keeper_pid) {
        keeper_exited(r, status, now);
        return true;
    }
    if (restore_set_on_child_exit(&r->restores, pid, status, now, &o)) {
        restores_outcome(r, o, now);
        return true;
    }
    if (pid == r->rep.litestream_pid || pid == r->rep.shim_pid) {
        report_drain(r); /* what the shim said before it (or Litestream) went */
        struct replicate_event ev = {.now = now,
                                     .status = status,
                                     .kind = pid == r->rep.litestream_pid ? REPLICATE_EV_LITESTREAM_EXITED
                                                                          : REPLICATE_EV_SHIM_EXITED};
        replicate_handle(&r->rep, &ev);
        return true;
    }
    return false;
}

const struct loop_source_ops replication_source = {
    .name = "replication",
    .poll_fds = source_poll_fds,
    .on_fd = source_on_fd,
    .next_deadline = source_next_deadline,
    .on_timer = source_on_timer,
    .on_child_exit = source_on_child_exit,
};

/* ---- state for the health endpoint --------------------------------------- */

bool replication_app_running(const struct replication *r) { return replicate_app_running(&r->rep); }

bool replication_litestream_running(const struct replication *r) { return r->rep.litestream_pid > 0; }

bool replication_is_live(const struct replication *r) { return !r->restores_finished || replicate_is_live(&r->rep); }

bool replication_is_ready(const struct replication *r)
{
    return r->restores_finished && replicate_app_running(&r->rep);
}

const char *replication_lease_text(const struct replication *r) { return r->lease == LEASE_OFF ? "" : r->lease_text; }

bool replication_lease_waiting(const struct replication *r) { return r->lease == LEASE_ACQUIRING; }

bool replication_lease_lost(const struct replication *r) { return r->lease == LEASE_LOST; }
