/* SPDX-License-Identifier: MIT */
#include "signals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int signal_is_synchronous(int sig)
{
    return sig == SIGFPE || sig == SIGILL || sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGTRAP ||
           sig == SIGSYS;
}

/* close_range(2)'s flag (Linux 5.11); musl 1.2.3 has the syscall number but no wrapper or flag. */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Marks [first, last] close-on-exec in one call; -1 when the kernel cannot (older than 5.11). */
static int fds_cloexec_range(unsigned int first, unsigned int last)
{
#ifdef SYS_close_range
    if (first > last)
        return 0;
    return (int)syscall(SYS_close_range, first, last, CLOSE_RANGE_CLOEXEC);
#else
    (void)first;
    (void)last;
    return -1;
#endif
}

void fds_close_inherited_on_exec(int keep_fd)
{
    /* One system call where the kernel has close_range(CLOSE_RANGE_CLOEXEC); keep_fd stays as it is. */
    if (keep_fd < 3 ? fds_cloexec_range(3, ~0U) == 0
                    : fds_cloexec_range(3, (unsigned int)keep_fd - 1) == 0 &&
                          fds_cloexec_range((unsigned int)keep_fd + 1, ~0U) == 0)
        return;
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return;
    int self = dirfd(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int fd = atoi(e->d_name);
        if (fd < 3 || fd == self || fd == keep_fd)
            continue;
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && (flags & FD_CLOEXEC) == 0)
            (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
    closedir(dir);
}

int signals_setup(struct signal_state *st)
{
    st->fd = -1;
    sigfillset(&st->blocked);
    /* A fault in lsinit itself must still kill it and leave a core. */
    sigdelset(&st->blocked, SIGFPE);
    sigdelset(&st->blocked, SIGILL);
    sigdelset(&st->blocked, SIGSEGV);
    sigdelset(&st->blocked, SIGBUS);
    sigdelset(&st->blocked, SIGABRT);
    sigdelset(&st->blocked, SIGTRAP);
    sigdelset(&st->blocked, SIGSYS);
    if (sigprocmask(SIG_SETMASK, &st->blocked, &st->original_mask) != 0)
        return -1;
    /* A standby that took over exec'd itself with every signal still blocked (so none could be lost or
     * kill it in between): the mask its children get came along in the environment. */
    const char *handed = getenv(SIGNALS_HANDOVER_ENV);
    if (handed != NULL) {
        char *end = NULL;
        unsigned long long bits = strtoull(handed, &end, 16);
        if (end != handed && *end == '\0') {
            sigemptyset(&st->original_mask);
            for (int sig = 1; sig <= 64; sig++)
                if (bits & (1ULL << (sig - 1)))
                    (void)sigaddset(&st->original_mask, sig);
        }
        (void)unsetenv(SIGNALS_HANDOVER_ENV);
    }
    st->fd = signalfd(-1, &st->blocked, SFD_NONBLOCK | SFD_CLOEXEC);
    return st->fd < 0 ? -1 : 0;
}

int signals_wait_forwarding(const struct signal_state *st, pid_t pid, int *status)
{
    for (;;) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return 0;
        struct pollfd pfd = {.fd = st->fd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            return -1;
        struct signalfd_siginfo info;
        while (read(st->fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
            if ((int)info.ssi_signo != SIGCHLD)
                (void)kill(pid, (int)info.ssi_signo);
        }
    }
}

void signals_mask_hex(const sigset_t *mask, char *out, size_t size)
{
    unsigned long long bits = 0;
    for (int sig = 1; sig <= 64; sig++)
        if (sigismember(mask, sig) == 1)
            bits |= 1ULL << (sig - 1);
    snprintf(out, size, "%llx", bits);
}
