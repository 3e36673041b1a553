/* SPDX-License-Identifier: MIT */
#include "supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "exit_codes.h"
#include "log.h"
#include "parse.h"
#include "proc.h"
#include "replication.h"
#include "spawn.h"

#define SUPERVISOR_MAX_CHILD_SCAN 4096

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
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        sup->zombies_reaped++;
        if (sup->replication != NULL && replication_on_child_exit(sup, pid, status, now))
            continue;
        if (pid == sup->main_pid && sup->replication == NULL)
            supervisor_on_main_exit(sup, status, now);
    }
}

static void supervisor_start_stop(struct supervisor *sup, int sig, int64_t now)
{
    if (sup->stop_signal != 0)
        return;
    sup->stop_signal = sig;
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
    };
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (candidates[i] != 0 && (next == 0 || candidates[i] < next))
            next = candidates[i];
    }
    return next;
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
        supervisor_on_deadlines(sup, now);
        if (sup->replication != NULL)
            replication_on_timer(sup, now);
        if (sup->phase == PHASE_DRAINING && !supervisor_has_children()) {
            supervisor_reap(sup, now);
            break;
        }

        struct pollfd fds[8];
        nfds_t nfds = 0;
        fds[nfds++] = (struct pollfd){.fd = sup->sig.fd, .events = POLLIN};
        if (sup->replication != NULL)
            nfds += replication_poll_fds(sup, fds + nfds, (sizeof(fds) / sizeof(fds[0])) - nfds);

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
        int rc = ppoll(fds, nfds, timeout_ptr, NULL);
        if (rc < 0) {
            if (errno != EINTR)
                log_warn("ppoll failed: %m");
            continue;
        }
        now = clock_now_ms();
        if (fds[0].revents & POLLIN)
            supervisor_on_signalfd(sup, now);
        if (sup->replication != NULL) {
            for (nfds_t i = 1; i < nfds; i++) {
                if (fds[i].revents != 0)
                    replication_on_fd(sup, fds[i].fd, now);
            }
        }
    }
    int64_t elapsed = clock_now_ms() - sup->started_ms;
    log_debug("exiting with code %d after %lldms, %lu processes reaped", sup->exit_code, (long long)elapsed,
              sup->zombies_reaped);
    return sup->exit_code;
}
