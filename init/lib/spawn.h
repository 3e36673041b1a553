/* SPDX-License-Identifier: MIT */
/*
 * Starting a child the way an init must: its own process group (and the
 * terminal's foreground, when there is one), the exact signal mask lsinit was
 * started with, the caller's working directory, and an exec error reported
 * back (the child runs in the parent's memory until it execs, as posix_spawn
 * does) so the parent can print one clear line.
 *
 * Three ways in, one per need:
 *   spawn_process   start a command and return at once (the app, litestream,
 *                   the verification child): the caller's loop reaps it.
 *   spawn_capture   run a command to its end, or to a deadline, keeping what
 *                   it printed (`litestream version`, a verification's
 *                   `litestream restore` and `sync -wait`). Blocks.
 *   spawn_function  run a function of this program in a forked child (a
 *                   SQLite check, an SFTP probe) and return at once.
 */
#ifndef LSINIT_SPAWN_H
#define LSINIT_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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
    bool read_only_files;       /* as root: exec without CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_CHOWN (bounding
                                 * set too), so file modes bind it like any user; the start fails (EPERM)
                                 * when they cannot be dropped */
};

/*
 * Starts the child (clone, CLONE_VM | CLONE_VFORK) and returns once it has
 * exec'd. Returns the pid, or -1 when fork failed (errno set) or the
 * exec failed: then *exec_errno holds the exec's errno and the child has been
 * reaped already.
 */
pid_t spawn_process(const struct spawn_request *req, int *exec_errno);

/*
 * A command run to its end with its output kept. The child gets child_mask,
 * lsinit's working directory and environment, stdout (and stderr when
 * capture_stderr, else /dev/null) on a pipe; stdin is inherited.
 */
struct spawn_capture {
    char *const *argv;          /* argv[0]: a path, or a name looked up on PATH */
    const sigset_t *child_mask; /* the mask to exec with */
    bool capture_stderr;        /* stderr into the same buffer (else /dev/null) */
    int64_t timeout_ms;         /* for the whole run: then SIGKILL, and timed_out */
    char *out;                  /* what it printed, NUL-terminated (may be cut) */
    size_t out_size;            /* > 0 */
    bool keep_tail;             /* keep the last out_size-1 bytes (a log's end), not the first */
};

struct spawn_result {
    int status;     /* waitpid's status (WIFEXITED, ...); spawn_status_code turns it into a number */
    bool timed_out; /* killed at the deadline: status says SIGKILL */
    int exec_errno; /* when it could not be run: the exec's errno (ENOENT, EACCES, ...), else 0 */
};

/*
 * Runs c->argv, reads its output until it closes it or the deadline passes
 * (reading on after out is full, so a chatty child never blocks), and reaps
 * it. Returns 0 when the command ran (check res->status and res->timed_out),
 * or -1 when it could not be started: res->exec_errno set when the exec
 * failed, else errno from pipe or fork. Blocks for at most about
 * c->timeout_ms: lsinit's own signals wait (they are blocked, on a signalfd).
 */
int spawn_capture(const struct spawn_capture *c, struct spawn_result *res);

/*
 * Forks a child that runs fn(arg) with child_mask (NULL: keep lsinit's mask,
 * everything blocked, so only SIGKILL ends it early) and _exits with fn's
 * return value (0-255); it never returns into the caller's loop. Returns the
 * pid (the caller reaps it), or -1 with errno set when fork failed.
 */
pid_t spawn_function(int (*fn)(const void *arg), const void *arg, const sigset_t *child_mask);

/* What a shell reports for a waitpid status: the exit code, or 128 + the signal. */
int spawn_status_code(int status);

/* The shell's (and tini's) exit codes for a command that could not be run;
 * exit_codes.h names the same numbers EXIT_NOTFOUND and EXIT_NOEXEC. */
#define SPAWN_EXIT_NOTFOUND 127
#define SPAWN_EXIT_NOEXEC 126

/* 127 for "not found", 126 for "found but not executable" (tini's rule). */
int spawn_exit_code_for_errno(int err);

#endif
