/* SPDX-License-Identifier: MIT */
#include "supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "exit_codes.h"
#include "health_server.h"
#include "log.h"
#include "parse.h"
#include "plan.h"
#include "proc.h"
#include "replication.h"
#include "scraper.h"
#include "spawn.h"
#include "verifier.h"

#define SUPERVISOR_MAX_CHILD_SCAN 4096
#define SUPERVISOR_MAX_POLL (8 + HEALTH_MAX_CONNS)
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

int supervisor_status_to_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return EXIT_NOEXEC + 1;
}

void supervisor_decide_exit(struct supervisor *sup, int code)
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
    };
    pid_t pid = spawn_process(&req, &exec_errno);
    if (pid < 0) {
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
void supervisor_signal_everything(struct supervisor *sup, int sig)
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
void supervisor_begin_draining(struct supervisor *sup, int64_t now)
{
    sup->phase = PHASE_DRAINING;
    verifier_stop(sup);
    if (!supervisor_has_children())
        return;
    log_debug("main process exited; sending TERM to remaining processes");
    supervisor_signal_everything(sup, SIGTERM);
    sup->straggler_deadline = now + sup->settings->straggler_ms;
    if (sup->grace_deadline != 0 && sup->grace_deadline < sup->straggler_deadline)
        sup->straggler_deadline = sup->grace_deadline;
}

static void supervisor_on_main_exit(struct supervisor *sup, int status, int64_t now)
{
    sup->main_exited = true;
    int code = supervisor_status_to_code(status);
    log_debug("main process %ld exited with code %d", (long)sup->main_pid, code);
    supervisor_decide_exit(sup, settings_remap_exit(sup->settings, code));
    supervisor_begin_draining(sup, now);
}

/*
 * Reaps until nothing is left to reap. The main child is recognised inside
 * this loop: SIGCHLDs coalesce, so one signal may stand for many exits
 * (catatonit#4).
 */
static void supervisor_reap(struct supervisor *sup, int64_t now)
{
    bool reaped = false;
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        reaped = true;
        sup->zombies_reaped++;
        if (verifier_on_child_exit(sup, pid, status, now))
            continue;
        if (sup->replication != NULL && replication_on_child_exit(sup, pid, status, now))
            continue;
        if (pid == sup->main_pid && sup->replication == NULL)
            supervisor_on_main_exit(sup, status, now);
    }
    /*
     * Not PID 1, after the final SIGKILL: a process that just died handed its
     * children to us (their subreaper) after that kill went out. They get one
     * too, or a TERM-ignoring grandchild would keep lsinit waiting forever.
     */
    if (reaped && sup->killed_everything && !sup->is_pid1)
        supervisor_signal_everything(sup, SIGKILL);
}

static void supervisor_start_stop(struct supervisor *sup, int sig, int64_t now)
{
    if (sup->stop_signal != 0)
        return;
    sup->stop_signal = sig;
    verifier_stop(sup);
    if (sup->phase == PHASE_RUNNING || sup->phase == PHASE_STARTING)
        sup->phase = PHASE_STOPPING;
    sup->grace_deadline = now + sup->settings->grace_ms;
    char name[16];
    log_info("received SIG%s: stopping (grace %lldms)", signal_name(sig, name, sizeof(name)),
             (long long)sup->settings->grace_ms);
}

/* Plain mode: every signal goes to the child (or its group), after rewriting. */
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
        if (is_stop)
            supervisor_start_stop(sup, sig, now);
        replication_on_signal(sup, sig, routed, is_stop, now);
        return;
    }
    if (sup->main_exited) {
        /* Stragglers already got TERM; more signals would only confuse them. */
        return;
    }
    pid_t target = sup->settings->kill_group ? -sup->main_pid : sup->main_pid;
    if (kill(target, routed) != 0 && errno != ESRCH)
        log_warn("cannot forward SIG%s to %ld: %m", signal_name(routed, routed_name, sizeof(routed_name)), (long)target);
    if (is_stop)
        supervisor_start_stop(sup, sig, now);
}

static void supervisor_on_signalfd(struct supervisor *sup, int64_t now)
{
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(sup->sig.fd, &info, sizeof(info));
        if (n != (ssize_t)sizeof(info))
            break;
        int sig = (int)info.ssi_signo;
        if (sig == SIGCHLD)
            continue; /* the reap pass after every wake-up handles it */
        supervisor_forward(sup, sig, now);
    }
}

static void supervisor_on_deadlines(struct supervisor *sup, int64_t now)
{
    if (sup->grace_deadline != 0 && now >= sup->grace_deadline && !sup->killed_everything) {
        log_warn("grace period of %lldms is over: sending SIGKILL to everything left",
                 (long long)sup->settings->grace_ms);
        if (sup->replication != NULL)
            replication_on_grace_expired(sup, now);
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

static int64_t supervisor_next_deadline(const struct supervisor *sup)
{
    int64_t next = 0;
    const int64_t candidates[] = {
        sup->killed_everything ? 0 : sup->grace_deadline,
        sup->killed_everything ? 0 : sup->straggler_deadline,
        sup->replication != NULL ? replication_next_deadline(sup) : 0,
        sup->http != NULL ? health_server_next_deadline(sup->http) : 0,
        sup->scraper != NULL ? scraper_next_deadline(sup->scraper) : 0,
        sup->verifier != NULL ? verifier_next_deadline(sup->verifier) : 0,
    };
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (candidates[i] != 0 && (next == 0 || candidates[i] < next))
            next = candidates[i];
    }
    return next;
}

int supervisor_start_services(struct supervisor *sup, const struct plan *plan)
{
    const struct settings *s = sup->settings;
    const char *addr = s->health_addr;
    if (addr[0] == '\0')
        addr = plan != NULL ? SETTINGS_DEFAULT_HEALTH_ADDR : "off";
    if (strcmp(addr, "off") != 0) {
        char err[256];
        sup->http = health_server_listen(addr, err, sizeof(err));
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
    if (plan->metrics_addr[0] != '\0')
        sup->scraper = scraper_new(plan->metrics_addr, plan->socket_path, SCRAPE_INTERVAL_MS, clock_now_ms());
    if (s->verify_interval_ms > 0) {
        int64_t first = s->verify_interval_ms < VERIFY_FIRST_DELAY_MS ? s->verify_interval_ms : VERIFY_FIRST_DELAY_MS;
        sup->verifier = verifier_new(s->verify_interval_ms, first, s->verify_dir);
    }
    return 0;
}

void supervisor_free(struct supervisor *sup)
{
    health_server_free(sup->http);
    sup->http = NULL;
    scraper_free(sup->scraper);
    sup->scraper = NULL;
    verifier_free(sup->verifier);
    sup->verifier = NULL;
    if (sup->replication != NULL)
        replication_free(sup);
}

enum poll_owner { OWN_SIGNALS, OWN_REPLICATION, OWN_HTTP, OWN_SCRAPER, OWN_VERIFIER };

static void supervisor_on_timers(struct supervisor *sup, int64_t now)
{
    supervisor_on_deadlines(sup, now);
    if (sup->replication != NULL)
        replication_on_timer(sup, now);
    if (sup->http != NULL)
        health_server_on_timer(sup, now);
    if (sup->scraper != NULL)
        scraper_on_timer(sup, now);
    if (sup->verifier != NULL)
        verifier_on_timer(sup, now);
}

/* From here on lsinit must not die except through this function's return. */
int supervisor_run(struct supervisor *sup)
{
    /* Our cwd must not pin the app's mount (catatonit#28). */
    if (chdir("/") != 0)
        log_debug("chdir / failed: %m");
    for (;;) {
        int64_t now = clock_now_ms();
        supervisor_reap(sup, now);
        supervisor_on_timers(sup, now);
        if (sup->phase == PHASE_DRAINING && !supervisor_has_children()) {
            supervisor_reap(sup, now);
            break;
        }

        struct pollfd fds[SUPERVISOR_MAX_POLL];
        unsigned char owners[SUPERVISOR_MAX_POLL];
        nfds_t nfds = 0, added;
        fds[nfds] = (struct pollfd){.fd = sup->sig.fd, .events = POLLIN};
        owners[nfds++] = OWN_SIGNALS;
#define SUPERVISOR_ADD(call, owner)                                                                    \
    do {                                                                                               \
        added = (call);                                                                                \
        for (nfds_t k = 0; k < added; k++)                                                             \
            owners[nfds + k] = (owner);                                                                \
        nfds += added;                                                                                 \
    } while (0)
        if (sup->replication != NULL)
            SUPERVISOR_ADD(replication_poll_fds(sup, fds + nfds, SUPERVISOR_MAX_POLL - nfds), OWN_REPLICATION);
        if (sup->scraper != NULL)
            SUPERVISOR_ADD(scraper_poll_fds(sup->scraper, fds + nfds, SUPERVISOR_MAX_POLL - nfds), OWN_SCRAPER);
        if (sup->verifier != NULL)
            SUPERVISOR_ADD(verifier_poll_fds(sup->verifier, fds + nfds, SUPERVISOR_MAX_POLL - nfds), OWN_VERIFIER);
        if (sup->http != NULL)
            SUPERVISOR_ADD(health_server_poll_fds(sup->http, fds + nfds, SUPERVISOR_MAX_POLL - nfds), OWN_HTTP);
#undef SUPERVISOR_ADD

        int64_t deadline = supervisor_next_deadline(sup);
        struct timespec timeout;
        struct timespec *timeout_ptr = NULL;
        if (deadline != 0) {
            int64_t wait_ms = deadline - now;
            if (wait_ms < 0)
                wait_ms = 0;
            timeout.tv_sec = wait_ms / 1000;
            timeout.tv_nsec = (wait_ms % 1000) * 1000000;
            timeout_ptr = &timeout;
        }
        /* The one place lsinit blocks. */
        int rc = ppoll(fds, nfds, timeout_ptr, NULL);
        if (rc < 0) {
            if (errno != EINTR)
                log_warn("ppoll failed: %m");
            continue;
        }
        now = clock_now_ms();
        /* Signals first: forwarding never waits behind a health client. */
        if (fds[0].revents & POLLIN)
            supervisor_on_signalfd(sup, now);
        for (nfds_t i = 1; i < nfds; i++) {
            if (fds[i].revents == 0)
                continue;
            switch (owners[i]) {
            case OWN_REPLICATION:
                replication_on_fd(sup, fds[i].fd, now);
                break;
            case OWN_SCRAPER:
                if (sup->scraper != NULL && scraper_fd(sup->scraper) == fds[i].fd)
                    scraper_on_fd(sup, fds[i].revents, now);
                break;
            case OWN_VERIFIER:
                if (sup->verifier != NULL && verifier_fd(sup->verifier) == fds[i].fd)
                    verifier_on_fd(sup, now);
                break;
            case OWN_HTTP:
                health_server_on_fd(sup, fds[i].fd, fds[i].revents, now);
                break;
            default:
                break;
            }
        }
    }
    int64_t elapsed = clock_now_ms() - sup->started_ms;
    log_debug("exiting with code %d after %lldms, %lu processes reaped", sup->exit_code, (long long)elapsed,
              sup->zombies_reaped);
    return sup->exit_code;
}
