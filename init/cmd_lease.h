/* SPDX-License-Identifier: MIT */
/*
 * `lsinit lease [--break --yes]`: each database's lease holder (or "free"),
 * read from its replica; --break deletes a lease an operator knows is stale.
 */
#ifndef LSINIT_CMD_LEASE_H
#define LSINIT_CMD_LEASE_H

struct plan;

/* argv[0] is "lease". Returns the exit code. */
int cmd_lease_main(int argc, char **argv, const struct plan *plan);

#endif
