/* SPDX-License-Identifier: MIT */
#include "signals.h"

#include <signal.h>
#include <sys/signalfd.h>

int signal_is_synchronous(int sig)
{
    return sig == SIGFPE || sig == SIGILL || sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGTRAP ||
           sig == SIGSYS;
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
