/* SPDX-License-Identifier: MIT */
/*
 * Starting a child the way an init must: its own process group (and the
 * terminal's foreground, when there is one), the exact signal mask lsinit was
 * started with, the caller's working directory, and an exec error reported
 * back through a close-on-exec pipe so the parent can print one clear line.
 */
#ifndef LSINIT_SPAWN_H
#define LSINIT_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

struct spawn_request {
    char *const *argv;
    char *const *envp;          /* NULL: inherit lsinit's environment */
    const sigset_t *child_mask; /* the mask to exec with */
    const char *cwd;            /* NULL: lsinit's current directory */
    bool new_pgrp;              /* setpgid(0, 0) */
    bool foreground;            /* also take the terminal's foreground process group */
    int nice_increment;         /* lower priority for background work (0: unchanged) */
    bool idle_io;               /* I/O priority class "idle" (background work) */
    int stdout_to;              /* > 0: dup2 onto stdout (0: unchanged) */
    int stderr_to;              /* > 0: dup2 onto stderr (0: unchanged) */
};

/*
 * Forks and execs. Returns the pid, or -1 when fork failed (errno set) or the
 * exec failed: then *exec_errno holds the exec's errno and the child has been
 * reaped already.
 */
pid_t spawn_process(const struct spawn_request *req, int *exec_errno);

/* The shell's (and tini's) exit codes for a command that could not be run;
 * exit_codes.h names the same numbers EXIT_NOTFOUND and EXIT_NOEXEC. */
#define SPAWN_EXIT_NOTFOUND 127
#define SPAWN_EXIT_NOEXEC 126

/* 127 for "not found", 126 for "found but not executable" (tini's rule). */
int spawn_exit_code_for_errno(int err);

#endif
