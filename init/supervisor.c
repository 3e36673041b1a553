/* SPDX-License-Identifier: MIT */
#include "supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "exit_codes.h"
#include "follower.h"
#include "health_server.h"
#include "litestream.h"
#include "log.h"
#include "parse.h"
#include "plan.h"
#include "proc.h"
#include "replication.h"
#include "scraper.h"
#include "spawn.h"
#include "health_status.h"
#include "verifier.h"

#define SUPERVISOR_MAX_CHILD_SCAN 4096
#define SCRAPE_INTERVAL_MS 5000
#define VERIFY_FIRST_DELAY_MS 30000

void supervisor_init(struct supervisor *sup, const struct settings *settings, const struct signal_state *sig,
                     const char *cwd)
{
    memset(sup, 0, sizeof(*sup));
    sup->settings = settings;
    sup->sig = *sig;
    sup->cwd = cwd;
    sup->started_ms = clock_now_ms();
    sup->is_pid1 = getpid() == 1;
    sup->phase = PHASE_STARTING;
    sup->main_pid = -1;
    sup->health.started_unix = (int64_t)time(NULL);
    /* Plain mode with no health endpoint watches nothing but signals: one blocking read then waits for them,
     * as catatonit does, instead of a ppoll and a read per wake-up (-1: the loop always polls). */
    sup->sig_wait_fd = signalfd(-1, &sig->blocked, SFD_CLOEXEC);
    /* Our cwd must not pin the app's mount (catatonit#28), and a child that looks at its parent's cwd
     * (dumb-init's own tests do) must already see "/": children start in cwd, which is kept by name. */
    if (chdir("/") != 0)
        log_debug("chdir / failed: %m");
    if (!sup->is_pid1) {
        /*
         * Fly.io machines, `docker run --init` and shareProcessNamespace pods
         * put another init at PID 1. Orphans of our app must still come to
         * us, so become a subreaper, quietly (catatonit's behaviour).
         */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
            log_warn("cannot become a child subreaper (%m): orphans of the app will not be reaped by lsinit");
        else
            log_debug("not PID 1: registered as a child subreaper");
    }
}

static void supervisor_decide_exit(struct supervisor *sup, int code)
{
    if (!sup->exit_decided) {
        sup->exit_code = code;
        sup->exit_decided = true;
    }
}

int supervisor_start_command(struct supervisor *sup)
{
    int exec_errno = 0;
    struct spawn_request req = {
        .argv = sup->settings->command,
        .envp = NULL,
        .child_mask = &sup->sig.original_mask,
        .cwd = sup->cwd,
        .new_pgrp = true,
        .foreground = true,
        .read_only_files = sup->app_read_only,
    };
    pid_t pid = spawn_process(&req, &exec_errno);
    if (pid < 0) {
        if (exec_errno == EPERM && sup->app_read_only) {
            log_error("cannot start %s without CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_CHOWN (LSINIT_ROLE=follower runs "
                      "a root app without them, so it cannot write its read-only copy): lsinit needs CAP_SETPCAP "
                      "to drop them, or run the container as a non-root user",
                      sup->settings->command[0]);
            return EXIT_OSERR;
        }
        if (exec_errno != 0) {
            errno = exec_errno;
            log_error("cannot run %s: %m%s", sup->settings->command[0],
                      exec_errno == ENOENT ? " (not found: check the command name and PATH)" : "");
            return spawn_exit_code_for_errno(exec_errno);
        }
        log_error("cannot start %s: fork failed: %m", sup->settings->command[0]);
        return EXIT_OSERR;
    }
    sup->main_pid = pid;
    sup->phase = PHASE_RUNNING;
    log_debug("started %s as pid %ld", sup->settings->command[0], (long)pid);
    return 0;
}

/*
 * Sends sig to every process that should stop with us. As PID 1 of a
 * namespace kill(-1) reaches all of them (and never ourselves). Elsewhere
 * kill(-1) would reach the whole machine, so we target the main child's
 * process group and our own children (adopted orphans) instead.
 */
static void supervisor_signal_everything(struct supervisor *sup, int sig)
{
    if (sup->is_pid1) {
        (void)kill(-1, sig);
        return;
    }
    if (sup->main_pid > 0 && !sup->main_exited)
        (void)kill(-sup->main_pid, sig);
    pid_t children[SUPERVISOR_MAX_CHILD_SCAN];
    size_t n = proc_children(getpid(), children, SUPERVISOR_MAX_CHILD_SCAN);
    for (size_t i = 0; i < n; i++)
        (void)kill(children[i], sig);
}

/* Reports whether lsinit has any child left (zombie or alive). */
static bool supervisor_has_children(void)
{
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    int rc = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
    return rc == 0;
}

/*
 * The main child is gone. Leftover processes get TERM now and a short
 * straggler grace before KILL, so the kernel does not SIGKILL them mid-write
 * when we exit (tini#180).
 */
static void supervisor_begin_draining(struct supervisor *sup, int64_t now)
{
    sup->phase = PHASE_DRAINING;
    verifier_stop(sup->verifier);
    follower_stop(sup->follower);
    if (!supervisor_has_children())
        return;
    log_debug("main process exited; sending TERM to remaining processes");
    supervisor_signal_everything(sup, SIGTERM);
    sup->straggler_deadline = now + sup->settings->straggler_ms;
    if (sup->grace_deadline != 0 && sup->grace_deadline < sup->straggler_deadline)
        sup->straggler_deadline = sup->grace_deadline;
}

static void supervisor_start_stop(struct supervisor *sup, int sig, int64_t now)
{
    if (sup->stop_signal != 0)
        return;
    sup->stop_signal = sig;
    verifier_stop(sup->verifier);
    follower_stop(sup->follower);
    if (sup->handing_over) {
        log_info("stopping: the takeover is abandoned");
        sup->handing_over = false;
        if (sup->main_exited) {
            supervisor_decide_exit(sup, 128 + sig);
            supervisor_begin_draining(sup, now);
        }
    }
    if (sup->phase == PHASE_RUNNING || sup->phase == PHASE_STARTING)
        sup->phase = PHASE_STOPPING;
    sup->grace_deadline = now + sup->settings->grace_ms;
    char name[16];
    log_info("received SIG%s: stopping (grace %lldms)", signal_name(sig, name, sizeof(name)),
             (long long)sup->settings->grace_ms);
}

/* Every signal goes to the child (or its group) after rewriting; in Litestream mode, to replication. */
static void supervisor_forward(struct supervisor *sup, int sig, int64_t now)
{
    int routed = settings_route_signal(sup->settings, sig);
    char name[16], routed_name[16];
    if (routed == 0) {
        log_debug("dropping SIG%s (rewrite rule)", signal_name(sig, name, sizeof(name)));
        return;
    }
    bool is_stop = sig == SIGTERM || sig == SIGINT;
    if (sup->replication != NULL) {
        if (is_stop) {
            supervisor_start_stop(sup, sig, now);
            replication_on_stop(sup->replication, sig, routed, sup->grace_deadline, now);
        } else {
            replication_on_signal(sup->replication, sig, routed, now);
        }
        return;
    }
    if (sup->main_exited) {
        /* Stragglers already got TERM; more signals would only confuse them. */
        return;
    }
    if (sup->main_pid <= 0) {
        /* A follower whose app has not started yet: nothing to forward to; a stop ends lsinit. */
        if (is_stop) {
            supervisor_start_stop(sup, sig, now);
            supervisor_decide_exit(sup, 128 + sig);
            supervisor_begin_draining(sup, now);
        }
        return;
    }
    pid_t target = sup->settings->kill_group ? -sup->main_pid : sup->main_pid;
    if (kill(target, routed) != 0 && errno != ESRCH)
        log_warn("cannot forward SIG%s to %ld: %m", signal_name(routed, routed_name, sizeof(routed_name)),
                 (long)target);
    if (is_stop)
        supervisor_start_stop(sup, sig, now);
}

/* ---- the supervisor's own source: signals, the grace, the plain-mode child -- */

static nfds_t self_poll_fds(void *self, struct pollfd *fds, nfds_t room)
{
    const struct supervisor *sup = self;
    if (room < 1)
        return 0;
    fds[0] = (struct pollfd){.fd = sup->sig.fd, .events = POLLIN};
    return 1;
}

/* Handles the signals of one signalfd read; returns how many there were. */
static size_t self_handle_signals(struct supervisor *sup, const struct signalfd_siginfo *info, ssize_t n, int64_t now)
{
    if (n < (ssize_t)sizeof(info[0]))
        return 0;
    size_t got = (size_t)n / sizeof(info[0]);
    for (size_t i = 0; i < got; i++) {
        int sig = (int)info[i].ssi_signo;
        if (sig == SIGCHLD)
            loop_child_exited(&sup->loop); /* the next pass reaps: SIGCHLDs coalesce */
        else
            supervisor_forward(sup, sig, now);
    }
    return got;
}

static void self_on_fd(void *self, int fd, short revents, int64_t now)
{
    struct supervisor *sup = self;
    (void)fd;
    (void)revents;
    /* Up to 8 signals per read; a short read means the queue is empty, so the usual wake-up (one
     * SIGCHLD) costs one read, not a second one that fails with EAGAIN. */
    struct signalfd_siginfo info[8];
    while (self_handle_signals(sup, info, read(sup->sig.fd, info, sizeof(info)), now) == sizeof(info) / sizeof(info[0]))
        ;
}

/* The loop watches only the signals and has no deadline: block in one read until some arrive. Each
 * wake-up then costs the read alone (a full read leaves the rest to the next pass, whose read returns at
 * once). false: no blocking signalfd, or the read failed: the loop polls instead. */
static bool self_wait_alone(void *self, int64_t (*now_ms)(void))
{
    struct supervisor *sup = self;
    if (sup->sig_wait_fd < 0)
        return false;
    struct signalfd_siginfo info[8];
    ssize_t n = read(sup->sig_wait_fd, info, sizeof(info));
    return self_handle_signals(sup, info, n, now_ms()) > 0;
}

static void handover_step(struct supervisor *sup, int64_t now);

static int64_t self_next_deadline(const void *self)
{
    const struct supervisor *sup = self;
    if (sup->handing_over)
        return clock_now_ms() + 20; /* watching the app and the follower stop */
    if (sup->killed_everything)
        return 0;
    int64_t a = sup->grace_deadline, b = sup->straggler_deadline;
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

static void self_on_timer(void *self, int64_t now)
{
    struct supervisor *sup = self;
    if (sup->handing_over) {
        handover_step(sup, now);
        return;
    }
    if (sup->grace_deadline != 0 && now >= sup->grace_deadline && !sup->killed_everything) {
        log_warn("grace period of %lldms is over: sending SIGKILL to everything left",
                 (long long)sup->settings->grace_ms);
        if (sup->replication != NULL)
            replication_on_grace_expired(sup->replication, now);
        supervisor_signal_everything(sup, SIGKILL);
        sup->killed_everything = true;
    }
    if (sup->straggler_deadline != 0 && now >= sup->straggler_deadline && !sup->killed_everything) {
        log_warn("processes left after the app exited did not stop within %lldms: sending SIGKILL",
                 (long long)sup->settings->straggler_ms);
        supervisor_signal_everything(sup, SIGKILL);
        sup->killed_everything = true;
    }
}

static bool self_on_child_exit(void *self, pid_t pid, int status, int64_t now)
{
    struct supervisor *sup = self;
    if (sup->replication != NULL || pid != sup->main_pid)
        return false;
    sup->main_exited = true;
    if (sup->handing_over) {
        log_debug("the read-only app exited (%d) for the handover", spawn_status_code(status));
        return true;
    }
    int code = spawn_status_code(status);
    log_debug("main process %ld exited with code %d", (long)sup->main_pid, code);
    supervisor_decide_exit(sup, settings_remap_exit(sup->settings, code));
    supervisor_begin_draining(sup, now);
    return true;
}

static const struct loop_source_ops self_source = {
    .name = "signals",
    .poll_fds = self_poll_fds,
    .on_fd = self_on_fd,
    .wait_alone = self_wait_alone,
    .next_deadline = self_next_deadline,
    .on_timer = self_on_timer,
    .on_child_exit = self_on_child_exit,
};

/* Every reaped pid: counted; and, not PID 1, after the final SIGKILL, a
 * process that just died handed its children to us (their subreaper) after
 * that kill went out: they get one too, or a TERM-ignoring grandchild would
 * keep lsinit waiting forever. */
static void on_reaped(void *ctx, pid_t pid)
{
    struct supervisor *sup = ctx;
    (void)pid;
    sup->zombies_reaped++;
    if (sup->killed_everything && !sup->is_pid1)
        supervisor_signal_everything(sup, SIGKILL);
}

static bool loop_finished(void *ctx)
{
    const struct supervisor *sup = ctx;
    return sup->phase == PHASE_DRAINING && !supervisor_has_children();
}

/* ---- the other services' sources (adapters from the loop's ops) ---------- */

static nfds_t http_poll_fds(void *self, struct pollfd *fds, nfds_t room)
{
    return health_server_poll_fds(self, fds, room);
}
static void http_on_fd(void *self, int fd, short revents, int64_t now) { health_server_on_fd(self, fd, revents, now); }
static int64_t http_next_deadline(const void *self) { return health_server_next_deadline(self); }
static void http_on_timer(void *self, int64_t now) { health_server_on_timer(self, now); }
static const struct loop_source_ops http_source = {
    .name = "health",
    .poll_fds = http_poll_fds,
    .on_fd = http_on_fd,
    .next_deadline = http_next_deadline,
    .on_timer = http_on_timer,
};

static nfds_t scraper_source_poll(void *self, struct pollfd *fds, nfds_t room)
{
    return scraper_poll_fds(self, fds, room);
}
static void scraper_source_on_fd(void *self, int fd, short revents, int64_t now)
{
    if (scraper_fd(self) == fd)
        scraper_on_fd(self, revents, now);
}
static int64_t scraper_source_deadline(const void *self) { return scraper_next_deadline(self); }
static void scraper_source_on_timer(void *self, int64_t now) { scraper_on_timer(self, now); }
static const struct loop_source_ops scraper_source = {
    .name = "scraper",
    .poll_fds = scraper_source_poll,
    .on_fd = scraper_source_on_fd,
    .next_deadline = scraper_source_deadline,
    .on_timer = scraper_source_on_timer,
};

static nfds_t verifier_source_poll(void *self, struct pollfd *fds, nfds_t room)
{
    return verifier_poll_fds(self, fds, room);
}
static void verifier_source_on_fd(void *self, int fd, short revents, int64_t now)
{
    (void)revents;
    if (verifier_fd(self) == fd)
        verifier_on_fd(self, now);
}
static int64_t verifier_source_deadline(const void *self) { return verifier_next_deadline(self); }
static void verifier_source_on_timer(void *self, int64_t now) { verifier_on_timer(self, now); }
static bool verifier_source_child(void *self, pid_t pid, int status, int64_t now)
{
    return verifier_on_child_exit(self, pid, status, now);
}
static const struct loop_source_ops verifier_source = {
    .name = "verifier",
    .poll_fds = verifier_source_poll,
    .on_fd = verifier_source_on_fd,
    .next_deadline = verifier_source_deadline,
    .on_timer = verifier_source_on_timer,
    .on_child_exit = verifier_source_child,
};

/* ---- what the services see of the supervisor ------------------------------ */

static bool app_running(void *ctx)
{
    const struct supervisor *sup = ctx;
    return sup->replication != NULL ? replication_app_running(sup->replication)
                                    : sup->main_pid > 0 && !sup->main_exited;
}

static void status_snapshot(const struct supervisor *sup, struct status_view *v)
{
    memset(v, 0, sizeof(*v));
    v->health = &sup->health;
    v->litestream_mode = sup->replication != NULL;
    v->starting = sup->phase == PHASE_STARTING;
    v->stopping = sup->stop_signal != 0;
    v->zombies_reaped = sup->zombies_reaped;
    v->app_up = app_running((void *)sup);
    v->litestream_up = v->litestream_mode && replication_litestream_running(sup->replication);
    bool alive = !v->stopping && sup->phase != PHASE_DRAINING;
    if (v->litestream_mode) {
        v->lease = replication_lease_text(sup->replication);
        v->lease_waiting = replication_lease_waiting(sup->replication);
        alive = alive && !replication_lease_lost(sup->replication);
        v->live = alive && replication_is_live(sup->replication);
        v->ready = v->live && replication_is_ready(sup->replication);
    } else if (sup->follower != NULL) {
        /* Alive while it restores (the app has not started) and while the app runs; ready within the lag. */
        v->follower_role = true;
        v->mono_ms = clock_now_ms();
        v->starting = sup->main_pid <= 0 && alive;
        v->live = alive && !(sup->main_pid > 0 && sup->main_exited);
        v->ready = v->live && sup->main_pid > 0 && follower_within_lag(sup->follower, clock_now_ms());
    } else {
        v->live = alive && sup->main_pid > 0 && !sup->main_exited;
        v->ready = v->live && sup->phase == PHASE_RUNNING;
    }
}

static int respond(void *ctx, const struct http_request *req, struct http_response *resp)
{
    struct status_view v;
    status_snapshot(ctx, &v);
    return status_respond(&v, req, resp);
}

static void host_decide(void *ctx, int code) { supervisor_decide_exit(ctx, code); }
static void host_drain(void *ctx) { supervisor_begin_draining(ctx, clock_now_ms()); }

/* The lease was lost: lsinit stops on its own; the app gets LSINIT_GRACE as after a TERM. */
static void host_begin_grace(void *ctx)
{
    struct supervisor *sup = ctx;
    verifier_stop(sup->verifier);
    if (sup->grace_deadline != 0)
        return;
    if (sup->phase == PHASE_RUNNING || sup->phase == PHASE_STARTING)
        sup->phase = PHASE_STOPPING;
    sup->grace_deadline = clock_now_ms() + sup->settings->grace_ms;
    log_info("stopping the app (grace %lldms)", (long long)sup->settings->grace_ms);
}

static void host_app_started(void *ctx)
{
    struct supervisor *sup = ctx;
    if (sup->verifier != NULL)
        verifier_arm(sup->verifier, clock_now_ms());
}

static void host_main_child(void *ctx, pid_t pid)
{
    struct supervisor *sup = ctx;
    if (pid > 0) {
        sup->main_pid = pid;
        sup->main_exited = false;
        if (sup->phase == PHASE_STARTING)
            sup->phase = PHASE_RUNNING;
    } else {
        sup->main_exited = true;
    }
}

int supervisor_start_services(struct supervisor *sup, const struct plan *plan)
{
    const struct settings *s = sup->settings;
    const char *addr = s->health_addr;
    if (addr[0] == '\0')
        addr = plan != NULL ? SETTINGS_DEFAULT_HEALTH_ADDR : "off";
    if (strcmp(addr, "off") != 0) {
        char err[256];
        struct health_routes routes = {
            .respond = respond,
            .ctx = sup,
            .requests = &sup->health.http_requests,
            .rejected = &sup->health.http_rejected,
        };
        sup->http = health_server_listen(addr, &routes, err, sizeof(err));
        if (sup->http == NULL && s->health_addr[0] == '\0') {
            /* The default port may be taken (host networking, two instances): the app still runs. */
            log_warn("%s; running without a health endpoint", err);
        } else if (sup->http == NULL) {
            log_error("%s", err);
            return EXIT_CONFIG;
        }
    }
    if (sup->http != NULL) {
        log_info("health endpoint on %s (port %d): /livez /readyz /healthz /metrics", addr,
                 health_server_port(sup->http));
    }
    if (plan == NULL)
        return 0;
    struct health_state *h = &sup->health;
    h->verify_interval_ms = s->verify_interval_ms;
    h->db_count = plan->db_count;
    for (size_t i = 0; i < plan->db_count; i++)
        snprintf(h->dbs[i].path, sizeof(h->dbs[i].path), "%s", plan->dbs[i].path);
    if (s->role != ROLE_PRIMARY)
        return 0; /* a follower writes nothing: no Litestream replicating, nothing to verify */
    if (plan->metrics_addr[0] != '\0')
        sup->scraper = scraper_new(plan->metrics_addr, plan->socket_path, h, SCRAPE_INTERVAL_MS, clock_now_ms());
    if (s->verify_interval_ms > 0) {
        bool has_follow = ls_version_at_least(&plan->version, 0, 5, 9);
        if (s->verify_mode == VERIFY_MODE_FOLLOW && !has_follow) {
            log_error("LSINIT_VERIFY_MODE=follow needs Litestream 0.5.9 or later (restore -f, follow mode); this "
                      "litestream is %s: use LSINIT_VERIFY_MODE=full or auto",
                      plan->version.text);
            return EXIT_CONFIG;
        }
        bool follow = has_follow && s->verify_mode != VERIFY_MODE_FULL;
        snprintf(h->verify_mode, sizeof(h->verify_mode), "%s", follow ? "follow" : "full");
        struct verifier_params vp = {
            .interval_ms = s->verify_interval_ms,
            .first_delay_ms =
                s->verify_interval_ms < VERIFY_FIRST_DELAY_MS ? s->verify_interval_ms : VERIFY_FIRST_DELAY_MS,
            .tmp_dir = s->verify_dir,
            .plan = plan,
            .health = h,
            .child_mask = &sup->sig.original_mask,
            .cwd = sup->cwd,
            .app_running = app_running,
            .ctx = sup,
            .follow = follow,
            .full_interval_ms = s->verify_full_interval_ms,
            .check_interval_ms = s->verify_check_interval_ms,
            .follow_interval_ms = s->verify_follow_interval_ms,
        };
        sup->verifier = verifier_new(&vp);
    }
    return 0;
}

static const struct loop_source_ops follower_source = {
    .name = "follower",
    .poll_fds = follower_poll_fds,
    .on_fd = follower_on_fd,
    .next_deadline = follower_next_deadline,
    .on_timer = follower_on_timer,
    .on_child_exit = follower_on_child_exit,
};

/* Standby taking over: the app and the follower are stopping; once both are gone, lsinit becomes the
 * primary by exec'ing itself (same pid, so still PID 1) with LSINIT_ROLE=primary, the transactions the
 * copies hold (the primary path checks the replica has nothing newer once it holds the lease) and no
 * wait for a lease someone else took meanwhile (76: the orchestrator restarts it as a standby). */
static void handover_exec(struct supervisor *sup)
{
    extern char **environ;
    if (follower_release_copies(sup->follower) != 0) {
        supervisor_decide_exit(sup, EXIT_CANTCREAT);
        supervisor_begin_draining(sup, clock_now_ms());
        return;
    }
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 5, sizeof(char *));
    static char role[] = "LSINIT_ROLE=primary", wait[] = "LSINIT_LEASE_WAIT=0s";
    char txid[sizeof(sup->takeover_txids) + 32];
    snprintf(txid, sizeof(txid), "LSINIT_TAKEOVER_TXID=%s", sup->takeover_txids);
    if (env == NULL) {
        supervisor_decide_exit(sup, EXIT_OSERR);
        supervisor_begin_draining(sup, clock_now_ms());
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LSINIT_ROLE=", 12) != 0 && strncmp(environ[i], "LSINIT_LEASE_WAIT=", 18) != 0 &&
            strncmp(environ[i], "LSINIT_TAKEOVER_TXID=", 21) != 0 &&
            strncmp(environ[i], SIGNALS_HANDOVER_ENV "=", sizeof(SIGNALS_HANDOVER_ENV)) != 0)
            env[k++] = environ[i];
    env[k++] = role;
    env[k++] = wait;
    env[k++] = txid;
    char mask[64], hex[24];
    signals_mask_hex(&sup->sig.original_mask, hex, sizeof(hex));
    snprintf(mask, sizeof(mask), "%s=%s", SIGNALS_HANDOVER_ENV, hex);
    env[k++] = mask;
    env[k] = NULL;
    log_info("handing over: lsinit restarts as the primary (same process, pid %ld)", (long)getpid());
    execve("/proc/self/exe", sup->self_argv, env);
    log_error("cannot exec /proc/self/exe to take over as the primary: %m");
    free(env);
    supervisor_decide_exit(sup, EXIT_OSERR);
    supervisor_begin_draining(sup, clock_now_ms());
}

static void handover_step(struct supervisor *sup, int64_t now)
{
    bool app_gone = sup->main_pid <= 0 || sup->main_exited;
    if (app_gone && follower_stopped(sup->follower)) {
        sup->handing_over = false;
        handover_exec(sup);
        return;
    }
    if (now >= sup->handover_deadline && !sup->killed_everything) {
        log_warn("the read-only app or the follower did not stop within LSINIT_GRACE: SIGKILL");
        supervisor_signal_everything(sup, SIGKILL);
        sup->handover_deadline = now + 5000;
    }
}

static void host_take_over(void *ctx, const uint64_t *txids, size_t count)
{
    struct supervisor *sup = ctx;
    if (sup->stop_signal != 0 || sup->phase == PHASE_DRAINING)
        return;
    size_t used = 0;
    sup->takeover_txids[0] = '\0';
    for (size_t i = 0; i < count; i++)
        used += (size_t)snprintf(sup->takeover_txids + used, sizeof(sup->takeover_txids) - used, "%s%016llx",
                                 i == 0 ? "" : ",", (unsigned long long)txids[i]);
    sup->handing_over = true;
    sup->handover_deadline = clock_now_ms() + sup->settings->grace_ms;
    follower_stop(sup->follower);
    if (sup->main_pid > 0 && !sup->main_exited) {
        pid_t target = sup->settings->kill_group ? -sup->main_pid : sup->main_pid;
        (void)kill(target, SIGTERM);
    }
}

/* Every database is published: the app starts, read-only. */
static void host_follower_ready(void *ctx)
{
    struct supervisor *sup = ctx;
    if (sup->stop_signal != 0 || sup->phase == PHASE_DRAINING)
        return;
    log_info("the read-only copy is published: starting %s", sup->settings->command[0]);
    int code = supervisor_start_command(sup);
    if (code != 0) {
        supervisor_decide_exit(sup, code);
        supervisor_begin_draining(sup, clock_now_ms());
    }
}

int supervisor_start_follower(struct supervisor *sup, const struct plan *plan)
{
    struct follower_params p = {
        .plan = plan,
        .settings = sup->settings,
        .child_mask = &sup->sig.original_mask,
        .cwd = sup->cwd,
        .health = &sup->health,
        .host = {.ctx = sup, .app_ready = host_follower_ready, .take_over = host_take_over},
        .standby = sup->settings->role == ROLE_STANDBY,
    };
    int code = 0;
    sup->app_read_only = true;
    sup->health.role = p.standby ? "standby" : "follower";
    sup->follower = follower_new(&p, clock_now_ms(), &code);
    if (sup->follower == NULL)
        return code;
    sup->phase = PHASE_STARTING;
    return 0;
}

int supervisor_start_replication(struct supervisor *sup, const struct plan *plan)
{
    struct replication_params p = {
        .plan = plan,
        .settings = sup->settings,
        .child_mask = &sup->sig.original_mask,
        .cwd = sup->cwd,
        .health = &sup->health,
        .host = {.ctx = sup,
                 .decide = host_decide,
                 .drain = host_drain,
                 .app_started = host_app_started,
                 .main_child = host_main_child,
                 .begin_grace = host_begin_grace},
    };
    int code = 0;
    sup->replication = replication_new(&p, &code);
    if (sup->replication == NULL)
        return code;
    sup->phase = PHASE_STARTING;
    replication_begin(sup->replication, sup->started_ms);
    return 0;
}

void supervisor_free(struct supervisor *sup)
{
    if (sup->sig_wait_fd >= 0) {
        close(sup->sig_wait_fd);
        sup->sig_wait_fd = -1;
    }
    health_server_free(sup->http);
    sup->http = NULL;
    scraper_free(sup->scraper);
    sup->scraper = NULL;
    verifier_free(sup->verifier);
    sup->verifier = NULL;
    follower_free(sup->follower);
    sup->follower = NULL;
    replication_free(sup->replication);
    sup->replication = NULL;
}

/* From here on lsinit must not die except through this function's return. */
int supervisor_run(struct supervisor *sup)
{
    struct loop *l = &sup->loop;
    memset(l, 0, sizeof(*l));
    l->reaped = on_reaped;
    l->finished = loop_finished;
    l->ctx = sup;
    /* Order matters: signals are read first in a pass; children are offered in this order. */
    (void)loop_add(l, &self_source, sup);
    if (sup->verifier != NULL)
        (void)loop_add(l, &verifier_source, sup->verifier);
    if (sup->replication != NULL)
        (void)loop_add(l, &replication_source, sup->replication);
    if (sup->scraper != NULL)
        (void)loop_add(l, &scraper_source, sup->scraper);
    if (sup->follower != NULL)
        (void)loop_add(l, &follower_source, sup->follower);
    if (sup->http != NULL)
        (void)loop_add(l, &http_source, sup->http);
    loop_run(l, clock_now_ms);
    int64_t elapsed = clock_now_ms() - sup->started_ms;
    log_debug("exiting with code %d after %lldms, %lu processes reaped", sup->exit_code, (long long)elapsed,
              sup->zombies_reaped);
    return sup->exit_code;
}
