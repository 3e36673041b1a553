/* SPDX-License-Identifier: MIT */
/*
 * `lsinit __shim`: the process Litestream starts as its -exec child. It sits
 * between Litestream and the app so that:
 *  - the app gets exactly the environment lsinit was started with (Litestream
 *    copies LITESTREAM_* credentials into AWS_* in its own environment);
 *  - lsinit learns the app's pid and its real exit status (Litestream maps
 *    every failure to 1), through the report pipe lsinit holds open;
 *  - Litestream always sees a clean exit, so it always runs its final sync
 *    (it skips it when the app exits non-zero after SIGTERM);
 *  - a database the app changed before Litestream's first tick is synced
 *    anyway (litestream #436): the shim waits for Litestream to pick it up.
 */
#ifndef LSINIT_SHIM_H
#define LSINIT_SHIM_H

#include "signals.h"

#define SHIM_ARGV0 "__shim"
#define SHIM_REPORT_MAX 128

/* argv[1] is SHIM_ARGV0; sig was set up first thing in main. Returns the exit code. */
int shim_main(int argc, char **argv, const struct signal_state *sig);

#endif
