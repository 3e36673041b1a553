/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"

int loop_add(struct loop *l, const struct loop_source_ops *ops, void *self)
{
    if (l->count >= LOOP_MAX_SOURCES || self == NULL)
        return -1;
    l->sources[l->count++] = (struct loop_source){.ops = ops, .self = self};
    return 0;
}

unsigned long loop_reap(struct loop *l, int64_t now, unsigned long max)
{
    unsigned long n = 0;
    while (max == 0 || n < max) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        n++;
        if (l->reaped != NULL)
            l->reaped(l->ctx, pid);
        for (size_t i = 0; i < l->count; i++) {
            const struct loop_source *s = &l->sources[i];
            if (s->ops->on_child_exit != NULL && s->ops->on_child_exit(s->self, pid, status, now))
                break;
        }
    }
    return n;
}

void loop_child_exited(struct loop *l) { l->reap_pending = true; }

static int64_t next_deadline(const struct loop *l)
{
    int64_t next = 0;
    for (size_t i = 0; i < l->count; i++) {
        const struct loop_source *s = &l->sources[i];
        int64_t t = s->ops->next_deadline != NULL ? s->ops->next_deadline(s->self) : 0;
        if (t != 0 && (next == 0 || t < next))
            next = t;
    }
    return next;
}

void loop_run(struct loop *l, int64_t (*now_ms)(void))
{
    l->reap_pending = true; /* children may have exited before the loop started */
    for (;;) {
        int64_t now = now_ms();
        if (l->reap_pending) {
            /*
             * Cleared first: a SIGCHLD read after this pass's waitpid returned 0 asks for the next one. At most
             * LOOP_REAP_BATCH per pass: a burst of thousands of orphans is reaped in slices, with the signals
             * and health requests that arrived meanwhile served in between (the next ppoll does not wait).
             */
            l->reap_pending = false;
            if (loop_reap(l, now, LOOP_REAP_BATCH) == LOOP_REAP_BATCH)
                l->reap_pending = true;
        }
        for (size_t i = 0; i < l->count; i++) {
            const struct loop_source *s = &l->sources[i];
            if (s->ops->on_timer != NULL)
                s->ops->on_timer(s->self, now);
        }
        if (l->finished(l->ctx)) {
            (void)loop_reap(l, now, 0);
            return;
        }

        struct pollfd fds[LOOP_MAX_FDS];
        unsigned char owner[LOOP_MAX_FDS] = {0};
        nfds_t nfds = 0;
        for (size_t i = 0; i < l->count && nfds < LOOP_MAX_FDS; i++) {
            const struct loop_source *s = &l->sources[i];
            if (s->ops->poll_fds == NULL)
                continue;
            nfds_t added = s->ops->poll_fds(s->self, fds + nfds, LOOP_MAX_FDS - nfds);
            memset(owner + nfds, (int)i, added);
            nfds += added;
        }
        int64_t deadline = next_deadline(l);
        const struct loop_source *only = nfds == 1 ? &l->sources[owner[0]] : NULL;
        if (only != NULL && deadline == 0 && !l->reap_pending && only->ops->wait_alone != NULL &&
            only->ops->wait_alone(only->self, now_ms))
            continue; /* one wait, no ppoll: the next pass acts on what it handled */
        struct timespec timeout;
        struct timespec *timeout_ptr = NULL;
        if (l->reap_pending)
            deadline = now; /* children left from this pass's slice: look at the fds, then reap on */
        if (deadline != 0) {
            int64_t wait_ms = deadline - now;
            if (wait_ms < 0)
                wait_ms = 0;
            timeout.tv_sec = wait_ms / 1000;
            timeout.tv_nsec = (wait_ms % 1000) * 1000000;
            timeout_ptr = &timeout;
        }
        /* The one place lsinit blocks. */
        int rc = ppoll(fds, nfds, timeout_ptr, NULL);
        if (rc < 0) {
            if (errno != EINTR)
                log_warn("ppoll failed: %m");
            continue;
        }
        now = now_ms();
        /* In registration order: the signal source comes first, so forwarding never waits behind a client. */
        for (nfds_t k = 0; k < nfds; k++) {
            if (fds[k].revents == 0)
                continue;
            const struct loop_source *s = &l->sources[owner[k]];
            if (s->ops->on_fd != NULL)
                s->ops->on_fd(s->self, fds[k].fd, fds[k].revents, now);
        }
    }
}
