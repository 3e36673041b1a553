/* SPDX-License-Identifier: MIT */
#include "signals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int signal_is_synchronous(int sig)
{
    return sig == SIGFPE || sig == SIGILL || sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGTRAP ||
           sig == SIGSYS;
}

void fds_close_inherited_on_exec(int keep_fd)
{
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
