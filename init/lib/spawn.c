/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

int spawn_exit_code_for_errno(int err)
{
    bool not_found = err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG;
    return not_found ? SPAWN_EXIT_NOTFOUND : SPAWN_EXIT_NOEXEC;
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void spawn_child(const struct spawn_request *req, int report_fd)
{
    if (req->new_pgrp) {
        (void)setpgid(0, 0);
        /*
         * SIGTTOU is still blocked here, so tcsetpgrp from a background group
         * succeeds instead of stopping us. ENOTTY/ENXIO just mean "no tty".
         */
        if (req->foreground)
            (void)tcsetpgrp(STDIN_FILENO, getpgrp());
    }
    if (req->nice_increment != 0 && nice(req->nice_increment) == -1) {
        /* Lower priority is a courtesy; running at normal priority is fine. */
    }
    if (req->idle_io) {
        /* ioprio_set(IOPRIO_WHO_PROCESS, self, IOPRIO_CLASS_IDLE << 13) */
        (void)syscall(SYS_ioprio_set, 1, 0, 3 << 13);
    }
    if (req->stdout_to > 0)
        (void)dup2(req->stdout_to, STDOUT_FILENO);
    if (req->stderr_to > 0)
        (void)dup2(req->stderr_to, STDERR_FILENO);
    int err = 0;
    if (req->cwd != NULL && chdir(req->cwd) != 0)
        err = errno;
    if (err == 0) {
        (void)sigprocmask(SIG_SETMASK, req->child_mask, NULL);
        execvpe(req->argv[0], req->argv, req->envp != NULL ? req->envp : environ);
        err = errno;
        /* Block again: nothing may interrupt the report. */
    }
    ssize_t ignored = write(report_fd, &err, sizeof(err));
    (void)ignored;
    _exit(spawn_exit_code_for_errno(err));
}

pid_t spawn_process(const struct spawn_request *req, int *exec_errno)
{
    int report[2];
    *exec_errno = 0;
    if (pipe2(report, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(report[0]);
        spawn_child(req, report[1]);
    }
    if (req->new_pgrp)
        (void)setpgid(pid, pid); /* both sides set it, so there is no window */
    close(report[1]);
    int err = 0;
    ssize_t n;
    do {
        n = read(report[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof(err)) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        *exec_errno = err;
        return -1;
    }
    return pid;
}
