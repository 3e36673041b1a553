/* SPDX-License-Identifier: MIT */
#include "follower.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exit_codes.h"
#include "follow_keeper.h"
#include "fsutil.h"
#include "health_state.h"
#include "json_text.h"
#include "log.h"
#include "plan.h"
#include "settings.h"
#include "clock.h"
#include "spawn.h"

#define KEEPER_BACKOFF_FIRST_MS 1000
#define KEEPER_BACKOFF_MAX_MS 30000
#define NOBODY 65534

struct follower {
    const struct plan *plan;
    const struct settings *settings;
    struct health_state *health;
    struct follower_host host;
    const sigset_t *child_mask;
    const char *cwd;
    int app_fds[PLAN_MAX_DBS];
    struct follow_keeper_params kp;
    pid_t keeper;
    int events; /* read end, -1 when none */
    char buf[2048];
    struct line_reader lines;
    int64_t restart_at, backoff_ms, started_at;
    bool app_started, stopped;
    /* standby */
    bool standby, handing_over;
    bool vacant[PLAN_MAX_DBS];
    int64_t vacant_since; /* every lease vacant since (monotonic), 0: not */
    /* Events are numbered as they arrive: the keeper lists the replica, then reads the lease, in each
     * round, so a listing numbered after the vacancy was made after the lease was read as vacant. */
    unsigned long event_seq, vacant_seq;
    unsigned long caught_up_seq[PLAN_MAX_DBS]; /* the last listing that found the copy at the newest */
    uint64_t caught_up_txid[PLAN_MAX_DBS];
};

/* The app's copy, opened read-write for lsinit, mode 0444 for everyone else. */
static int open_app_copy(const char *path, bool *created)
{
    *created = false;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
        *created = fd >= 0;
    }
    if (fd < 0 && errno == EACCES) {
        /* Ours and read-only already (an earlier run): writable for the moment it takes to open. The app has
         * not started yet, so nothing else can open it in between. */
        if (chmod(path, 0644) == 0) {
            fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
            int e = errno;
            (void)chmod(path, 0444);
            errno = e;
        }
    }
    if (fd < 0)
        return -1;
    (void)fchmod(fd, 0444);
    /* Owned by nobody: not the app's (root's, without CAP_FOWNER) to chmod back. */
    if (geteuid() == 0 && fchown(fd, NOBODY, NOBODY) != 0)
        log_warn("cannot give %s to uid %d (%m): a root app without CAP_FOWNER could still chmod it", path, NOBODY);
    return fd;
}

static int keeper_start(struct follower *f, int64_t now)
{
    int ev[2];
    if (pipe2(ev, O_CLOEXEC) != 0)
        return -1;
    const struct settings *s = f->settings;
    int64_t check = s->follow_max_lag_ms / 4;
    f->kp = (struct follow_keeper_params){
        .plan = f->plan,
        .app_fds = f->app_fds,
        .interval_ms = s->follow_interval_ms,
        .lag_check_ms = check < 500    ? 500
                        : check > 5000 ? 5000
                                       : check,
        .stuck_ms = s->follow_max_lag_ms * 3 > 10000 ? s->follow_max_lag_ms * 3 : 10000,
        .lock_timeout_ms = 2000,
        .watch_lease = f->standby,
        .lease_ttl_ms = f->plan->lease_ttl_ms,
        .event_fd = ev[1],
        .parent = (long)getpid(),
        .child_mask = f->child_mask,
        .cwd = f->cwd,
    };
    pid_t pid = spawn_function(follow_keeper_main, &f->kp, NULL);
    close(ev[1]);
    if (pid < 0) {
        close(ev[0]);
        return -1;
    }
    (void)fcntl(ev[0], F_SETFL, O_NONBLOCK);
    f->keeper = pid;
    f->events = ev[0];
    f->lines = (struct line_reader){.buf = f->buf, .size = sizeof(f->buf)};
    f->started_at = now;
    f->restart_at = 0;
    return 0;
}

struct follower *follower_new(const struct follower_params *p, int64_t now, int *code)
{
    struct follower *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        *code = EXIT_OSERR;
        return NULL;
    }
    f->plan = p->plan;
    f->settings = p->settings;
    f->health = p->health;
    f->host = p->host;
    f->child_mask = p->child_mask;
    f->cwd = p->cwd;
    f->keeper = -1;
    f->events = -1;
    f->standby = p->standby;
    f->backoff_ms = KEEPER_BACKOFF_FIRST_MS;
    for (size_t i = 0; i < PLAN_MAX_DBS; i++)
        f->app_fds[i] = -1;
    for (size_t i = 0; i < p->plan->db_count; i++) {
        const char *db = p->plan->dbs[i].path;
        bool created = false;
        f->app_fds[i] = open_app_copy(db, &created);
        if (f->app_fds[i] < 0) {
            log_error("cannot open %s for the follower's read-only copy: %m (LSINIT_ROLE=follower needs a folder "
                      "lsinit can write)",
                      db);
            *code = EXIT_CANTCREAT;
            follower_free(f);
            return NULL;
        }
        if (!created)
            log_info("%s exists: the app starts once it holds the replica's latest data", db);
    }
    f->health->follow_max_lag_ms = p->settings->follow_max_lag_ms;
    if (keeper_start(f, now) != 0) {
        log_error("cannot start the follow keeper: %m");
        *code = EXIT_OSERR;
        follower_free(f);
        return NULL;
    }
    log_info("following the replica into a read-only copy of %zu database(s) (LSINIT_ROLE=%s); the app "
             "starts once each is published",
             p->plan->db_count, f->standby ? "standby" : "follower");
    return f;
}

void follower_free(struct follower *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < PLAN_MAX_DBS; i++)
        if (f->app_fds[i] >= 0)
            close(f->app_fds[i]);
    if (f->events >= 0)
        close(f->events);
    free(f);
}

/* Standby: every lease vacant, and a listing made since then found each copy at the replica's newest. */
static void maybe_take_over(struct follower *f, int64_t now)
{
    if (!f->standby || f->handing_over || f->stopped || f->vacant_since == 0 || !follower_published(f))
        return;
    uint64_t txids[PLAN_MAX_DBS];
    for (size_t i = 0; i < f->plan->db_count; i++) {
        if (f->caught_up_seq[i] <= f->vacant_seq)
            return;
        txids[i] = f->caught_up_txid[i];
    }
    f->handing_over = true;
    log_info("the primary's lease is vacant and the copy holds the replica's newest transaction (%lldms after the "
             "lease was seen vacant): taking over as the primary",
             (long long)(now - f->vacant_since));
    f->host.take_over(f->host.ctx, txids, f->plan->db_count);
}

static void on_lease(struct follower *f, size_t i, bool vacant, const char *who, int64_t now)
{
    f->vacant[i] = vacant;
    if (!vacant) {
        log_info("%s: the primary holds the lease: %s (standing by)", f->plan->dbs[i].path, who);
        f->vacant_since = 0;
        return;
    }
    for (size_t j = 0; j < f->plan->db_count; j++)
        if (!f->vacant[j])
            return;
    if (f->vacant_since == 0) {
        f->vacant_since = now;
        f->vacant_seq = f->event_seq;
        log_warn("the primary's lease is vacant (absent, or not renewed for LSINIT_LEASE_TTL=%llds): catching up "
                 "with the replica before taking over",
                 (long long)(f->plan->lease_ttl_ms / 1000));
        if (f->keeper > 0)
            (void)kill(f->keeper, SIGUSR1); /* a listing now, not a check interval later */
    }
}

static void on_event(char *line, void *ctx)
{
    struct follower *f = ctx;
    struct follow_event ev;
    if (follow_event_parse(line, &ev) != 0 || ev.index >= f->plan->db_count) {
        log_debug("follow keeper: %s", line);
        return;
    }
    struct db_health *d = &f->health->dbs[ev.index];
    int64_t now = clock_now_ms();
    f->event_seq++;
    switch (ev.kind) {
    case FOLLOW_EV_PUBLISHED:
        if (!d->follow_published)
            log_info("%s: published the replica's data up to transaction %016llx (%llu pages, %lldms)", d->path,
                     (unsigned long long)ev.txid, (unsigned long long)ev.pages, (long long)ev.ms);
        else
            log_debug("%s: published %016llx (%llu of %llu pages written, %lldms)", d->path,
                      (unsigned long long)ev.txid, (unsigned long long)ev.pages_written, (unsigned long long)ev.pages,
                      (long long)ev.ms);
        d->follow_published = true;
        d->follow_txid = ev.txid;
        d->follow_publishes++;
        if (!f->app_started && follower_published(f) && !f->stopped) {
            f->app_started = true;
            f->host.app_ready(f->host.ctx);
        }
        break;
    case FOLLOW_EV_LAG:
        if (ev.txid >= ev.replica_txid && d->follow_published) {
            f->caught_up_seq[ev.index] = f->event_seq;
            f->caught_up_txid[ev.index] = ev.txid;
        }
        d->follow_lag_known = d->follow_published;
        d->follow_unreachable = false;
        d->follow_lag_ms = ev.ms;
        d->follow_lag_at_ms = now;
        d->follow_replica_txid = ev.replica_txid;
        break;
    case FOLLOW_EV_UNREACHABLE:
        if (!d->follow_unreachable)
            log_warn("%s: cannot list the replica (%s): the copy's lag is unknown", d->path, ev.text);
        d->follow_unreachable = true;
        d->follow_lag_ms = ev.ms;
        d->follow_lag_at_ms = now;
        snprintf(d->follow_note, sizeof(d->follow_note), "replica unreachable: %s", ev.text);
        break;
    case FOLLOW_EV_RESTARTED:
        log_warn("%s: %s", d->path, ev.text);
        f->health->follow_restarts++;
        snprintf(d->follow_note, sizeof(d->follow_note), "%s", ev.text);
        break;
    case FOLLOW_EV_ERROR:
        log_warn("%s: %s", d->path, ev.text);
        snprintf(d->follow_note, sizeof(d->follow_note), "%s", ev.text);
        break;
    case FOLLOW_EV_LEASE_VACANT:
    case FOLLOW_EV_LEASE_HELD: on_lease(f, ev.index, ev.kind == FOLLOW_EV_LEASE_VACANT, ev.text, now); break;
    }
    maybe_take_over(f, now);
}

nfds_t follower_poll_fds(void *self, struct pollfd *fds, nfds_t room)
{
    const struct follower *f = self;
    if (f->events < 0 || room < 1)
        return 0;
    fds[0] = (struct pollfd){.fd = f->events, .events = POLLIN};
    return 1;
}

void follower_on_fd(void *self, int fd, short revents, int64_t now)
{
    struct follower *f = self;
    (void)fd;
    (void)revents;
    (void)now;
    if (line_reader_drain(&f->lines, f->events, on_event, f) != 1) {
        close(f->events);
        f->events = -1;
    }
}

int64_t follower_next_deadline(const void *self)
{
    const struct follower *f = self;
    return f->stopped ? 0 : f->restart_at;
}

void follower_on_timer(void *self, int64_t now)
{
    struct follower *f = self;
    if (f->stopped || f->restart_at == 0 || now < f->restart_at || f->keeper > 0)
        return;
    if (keeper_start(f, now) != 0) {
        log_warn("cannot restart the follow keeper: %m");
        f->restart_at = now + KEEPER_BACKOFF_MAX_MS;
    }
}

bool follower_on_child_exit(void *self, pid_t pid, int status, int64_t now)
{
    struct follower *f = self;
    if (pid != f->keeper)
        return false;
    f->keeper = -1;
    if (f->events >= 0) {
        (void)line_reader_drain(&f->lines, f->events, on_event, f);
        close(f->events);
        f->events = -1;
    }
    if (f->stopped)
        return true;
    if (now - f->started_at > KEEPER_BACKOFF_MAX_MS)
        f->backoff_ms = KEEPER_BACKOFF_FIRST_MS;
    log_warn("the follow keeper exited (code %d): restarting it in %lldms; the app keeps reading its copy",
             spawn_status_code(status), (long long)f->backoff_ms);
    f->health->follow_restarts++;
    f->restart_at = now + f->backoff_ms;
    f->backoff_ms = f->backoff_ms * 2 > KEEPER_BACKOFF_MAX_MS ? KEEPER_BACKOFF_MAX_MS : f->backoff_ms * 2;
    return true;
}

void follower_stop(struct follower *f)
{
    if (f == NULL || f->stopped)
        return;
    f->stopped = true;
    if (f->keeper > 0)
        (void)kill(f->keeper, SIGTERM);
}

bool follower_published(const struct follower *f)
{
    for (size_t i = 0; i < f->plan->db_count; i++)
        if (!f->health->dbs[i].follow_published)
            return false;
    return true;
}

bool follower_within_lag(const struct follower *f, int64_t now)
{
    int64_t max = f->settings->follow_max_lag_ms;
    for (size_t i = 0; i < f->plan->db_count; i++) {
        const struct db_health *d = &f->health->dbs[i];
        if (!d->follow_published || !d->follow_lag_known || d->follow_unreachable)
            return false;
        if (d->follow_lag_ms >= max || now - d->follow_lag_at_ms >= max)
            return false;
    }
    return true;
}

bool follower_stopped(const struct follower *f) { return f->stopped && f->keeper <= 0; }

int follower_release_copies(struct follower *f)
{
    int rc = 0;
    for (size_t i = 0; i < f->plan->db_count; i++) {
        const char *db = f->plan->dbs[i].path;
        if (f->app_fds[i] >= 0) {
            if (fchown(f->app_fds[i], geteuid(), getegid()) != 0 || fchmod(f->app_fds[i], 0644) != 0) {
                log_error("cannot make %s writable for the primary: %m", db);
                rc = -1;
            }
            close(f->app_fds[i]);
            f->app_fds[i] = -1;
        }
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof(dir), "%s.lsinit-follow", db);
        fs_remove_tree(dir);
    }
    return rc;
}
