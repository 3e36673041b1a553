/* SPDX-License-Identifier: MIT */
/*
 * `lsinit config|databases|restore|generations|snapshots|wal|ltx|status|
 * sync|reset|version`: Litestream's commands run against the configuration
 * lsinit generates, mapped to the detected Litestream version.
 */
#ifndef LSINIT_CMD_LITESTREAM_H
#define LSINIT_CMD_LITESTREAM_H

#include <stdbool.h>

#include "signals.h"

bool subcommand_is_known(const char *name);

/* argv[0] is the subcommand's name. Returns the exit code. */
int subcommand_main(int argc, char **argv, char *const *envp, const struct signal_state *sig);

#endif
