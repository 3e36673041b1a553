/* SPDX-License-Identifier: MIT */
/*
 * Litestream mode, seen from the supervisor: restore missing databases,
 * start `litestream replicate -exec "<lsinit shim> <app>"`, learn the app's
 * pid and real exit status from the shim, restart litestream if it dies,
 * and decide lsinit's exit code once the final sync has run.
 */
#ifndef LSINIT_REPLICATION_H
#define LSINIT_REPLICATION_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct supervisor;
struct plan;

/* Checks (and creates, if missing) every database's folder; returns 0 or
 * EXIT_CONFIG with one error logged. Run before anything else starts. */
int replication_check_folders(const struct plan *plan);

/* Attaches Litestream mode to sup; returns 0 or an exit code. Starts restores. */
int replication_attach(struct supervisor *sup, const struct plan *plan, char **argv0_path);

bool replication_on_child_exit(struct supervisor *sup, pid_t pid, int status, int64_t now);
void replication_on_signal(struct supervisor *sup, int sig, int routed, bool is_stop, int64_t now);
void replication_on_grace_expired(struct supervisor *sup, int64_t now);
void replication_on_timer(struct supervisor *sup, int64_t now);
int64_t replication_next_deadline(const struct supervisor *sup);
nfds_t replication_poll_fds(struct supervisor *sup, struct pollfd *fds, nfds_t room);
void replication_on_fd(struct supervisor *sup, int fd, int64_t now);

void replication_free(struct supervisor *sup);

/* State the health endpoint and the verifier read. */
const struct plan *replication_plan(const struct supervisor *sup);
bool replication_app_running(const struct supervisor *sup);
bool replication_litestream_running(const struct supervisor *sup);
/* Live: nothing has died that should be running (restoring counts as live). */
bool replication_is_live(const struct supervisor *sup);
/* Ready: restores done and the app started (and running). */
bool replication_is_ready(const struct supervisor *sup);

#endif
