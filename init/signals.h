/* SPDX-License-Identifier: MIT */
/*
 * Signal plumbing: the very first thing lsinit does is block every signal
 * except the synchronous kernel ones and open a signalfd (catatonit's order).
 * The mask lsinit was started with is kept so that children get it back.
 */
#ifndef LSINIT_SIGNALS_H
#define LSINIT_SIGNALS_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct signal_state {
    sigset_t original_mask; /* restored in every child before exec */
    sigset_t blocked;       /* what lsinit blocks and reads from the signalfd */
    int fd;                 /* signalfd, non-blocking, close-on-exec; -1 before setup */
};

/* Blocks signals and opens the signalfd. Returns 0 or -1 with errno set. */
int signals_setup(struct signal_state *st);

/* The children's signal mask across a standby's exec (hex, bit N-1 = signal N). */
#define SIGNALS_HANDOVER_ENV "LSINIT_HANDOVER_SIGMASK"
/* The mask as that variable's value. */
void signals_mask_hex(const sigset_t *mask, char *out, size_t size);

/*
 * Marks every inherited descriptor >= 3 close-on-exec, so the app does not
 * inherit what the container runtime leaked to PID 1 (catatonit#12). Kept
 * when systemd-style socket activation (LISTEN_FDS) or LSINIT_KEEP_FDS asks.
 */
void fds_close_inherited_on_exec(int keep_fd);

/*
 * Waits for one child (not PID 1's loop: the shim and the foreground
 * subcommands), passing every signal but SIGCHLD on to it as it arrives.
 * Returns 0 with its wait status in *status, or -1 when polling failed.
 */
int signals_wait_forwarding(const struct signal_state *st, pid_t pid, int *status);

/* Synchronous kernel signals: never forwarded, never blocked. */
int signal_is_synchronous(int sig);

#endif
