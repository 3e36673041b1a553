/* SPDX-License-Identifier: MIT */
/*
 * Schedules verification cycles from the supervisor: every
 * LSINIT_VERIFY_INTERVAL (with jitter, the first one soon after the app
 * starts) it runs `lsinit __verify` as a child at low CPU and I/O priority
 * and reads its JSON lines from a pipe inside the event loop.
 */
#ifndef LSINIT_VERIFIER_H
#define LSINIT_VERIFIER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct supervisor;
struct verifier;

struct verifier *verifier_new(int64_t interval_ms, int64_t first_delay_ms, const char *tmp_dir);
void verifier_free(struct verifier *v);
/* The app started: the first cycle is due first_delay from now. */
void verifier_arm(struct verifier *v, int64_t now);
nfds_t verifier_poll_fds(struct verifier *v, struct pollfd *fds, nfds_t room);
void verifier_on_fd(struct supervisor *sup, int64_t now);
int verifier_fd(const struct verifier *v);
int64_t verifier_next_deadline(const struct verifier *v);
void verifier_on_timer(struct supervisor *sup, int64_t now);
/* Returns true when pid was the verification child. */
bool verifier_on_child_exit(struct supervisor *sup, pid_t pid, int status, int64_t now);
/* Stop: kill a running cycle (its group) and schedule nothing more. */
void verifier_stop(struct supervisor *sup);

#endif
