/* SPDX-License-Identifier: MIT */
/*
 * lsinit's own exit codes. Anything else lsinit exits with is the app's code
 * (0-255) or 128+signal. The table is repeated in docs/exit-codes.md.
 */
#ifndef LSINIT_EXIT_CODES_H
#define LSINIT_EXIT_CODES_H

enum lsinit_exit {
    EXIT_USAGE = 64,      /* bad command line: unknown flag, missing argument */
    EXIT_DATAERR = 65,    /* install-litestream: checksum mismatch, corrupt archive */
    EXIT_RESTORE = 69,    /* a database could not be restored (app not started); a download failed */
    EXIT_LITESTREAM = 70, /* litestream failed before the app started (config rejected, crash) */
    EXIT_OSERR = 71,      /* a system call failed (fork, signalfd, memfd, ...) */
    EXIT_CANTCREAT = 73,  /* install-litestream: cannot write the target folder */
    EXIT_SYNC = 75,       /* the app stopped but its last writes could not be synced to the replica */
    EXIT_LEASE = 76,      /* the replica's lease: held by another instance past LSINIT_LEASE_WAIT, or lost */
    EXIT_CONFIG = 78,     /* bad configuration: an environment variable or config file */
    EXIT_NOEXEC = 126,    /* the command exists but cannot be executed */
    EXIT_NOTFOUND = 127,  /* the command was not found */
};

#endif
