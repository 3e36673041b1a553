/* SPDX-License-Identifier: MIT */
#include "follow_keeper.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "follow_events.h"
#include "json_text.h"
#include "follow_publish.h"
#include "lease.h"
#include "lease_store.h"
#include "fsutil.h"
#include "litestream.h"
#include "plan.h"
#include "spawn.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
#define STOP_WAIT_MS 1000
#define RETRY_MID_APPLY_MS 20
#define RETRY_BUSY_MS 100
#define RETRY_ERROR_MS 1000
#define LTX_TIMEOUT_MS 10000
#define COPY_NAME "db"

struct fdb {
    const char *db;
    int64_t restart_at, backoff_ms, started_at;
    int64_t publish_at; /* retry time, 0: at once when pending */
    uint64_t published; /* the txid the app's database holds */
    uint64_t replica_txid;
    int64_t lag_ms, lag_ok_at; /* the last good measurement, and when (monotonic) */
    int64_t behind_since;      /* monotonic: when the lag last went from 0 to > 0 at this published txid */
    uint64_t behind_txid;
    int64_t lease_seen_since; /* standby, monotonic: when this lease etag was first seen */
    struct lease_store store; /* standby: the primary's lease */
    pid_t pid;
    int wd;
    int a_fd;        /* the copy, opened after it appears */
    int lease_state; /* 0 unknown, 1 held, 2 vacant (what was last reported) */
    bool consistent; /* no page of the copy written since its last -txid rename */
    bool pending;    /* a transaction applied and not published yet */
    bool published_once;
    bool lag_known;
    bool lease_on;
    char lease_etag[160];
    char dir[PATH_MAX], copy[PATH_MAX + 8];
};

struct keeper {
    const struct follow_keeper_params *p;
    size_t n;
    struct fdb dbs[PLAN_MAX_DBS];
    int ino, sigfd;
    int64_t next_lag_check;
    char interval[24];
    bool stopping;
    int64_t stop_deadline; /* then SIGKILL */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define emit(k, ...) line_write((k)->p->event_fd, __VA_ARGS__)

void follow_copy_path(const char *db, char *out, size_t size)
{
    snprintf(out, size, "%s.lsinit-follow/" COPY_NAME, db);
}

/* ---- the follower processes ----------------------------------------------------- */

static void clear_copy(struct fdb *d)
{
    static const char *const names[] = {COPY_NAME, COPY_NAME "-txid", COPY_NAME ".tmp", COPY_NAME "-txid.tmp"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/%s", d->dir, names[i]);
        (void)unlink(path);
    }
    if (d->a_fd >= 0)
        close(d->a_fd);
    d->a_fd = -1;
    d->consistent = false;
    d->pending = false;
}

static void start_follower(struct keeper *k, size_t i, int64_t now)
{
    struct fdb *d = &k->dbs[i];
    clear_copy(d);
    const char *argv[LS_ARGV_MAX];
    ls_follow_argv(k->p->plan->litestream, k->p->plan->config_path, d->db, d->copy, k->interval, argv);
    int exec_errno = 0;
    struct spawn_request req = {
        .argv = (char *const *)argv,
        .child_mask = k->p->child_mask,
        .cwd = k->p->cwd,
        .new_pgrp = true,
    };
    pid_t pid = spawn_process(&req, &exec_errno);
    if (pid < 0) {
        emit(k, "error %zu cannot start litestream restore -f: %s", i, strerror(exec_errno != 0 ? exec_errno : errno));
        d->restart_at = now + d->backoff_ms;
        return;
    }
    d->pid = pid;
    d->started_at = now;
    d->restart_at = 0;
}

static void stop_follower(pid_t pid)
{
    if (pid <= 0)
        return;
    (void)kill(pid, SIGKILL);
    (void)kill(pid, SIGCONT);
}

/* Every thread of pid stopped (so none is inside a write the inotify queue does not show yet). */
static bool all_stopped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return false;
    bool stopped = true;
    struct dirent *e;
    while (stopped && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char stat_path[320], buf[512];
        snprintf(stat_path, sizeof(stat_path), "/proc/%ld/task/%s/stat", (long)pid, e->d_name);
        int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n <= 0)
            continue; /* the thread is gone */
        buf[n] = '\0';
        const char *paren = strrchr(buf, ')');
        if (paren == NULL || paren[1] != ' ' || (paren[2] != 'T' && paren[2] != 't'))
            stopped = false;
    }
    closedir(dir);
    return stopped;
}

/* ---- inotify ---------------------------------------------------------------------- */

static void drain_inotify(struct keeper *k)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(k->ino, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                for (size_t i = 0; i < k->n; i++)
                    k->dbs[i].consistent = false; /* until the next -txid rename */
                continue;
            }
            for (size_t i = 0; i < k->n; i++) {
                struct fdb *d = &k->dbs[i];
                if (d->wd != ev->wd || ev->len == 0)
                    continue;
                if (strcmp(ev->name, COPY_NAME) == 0) {
                    d->consistent = false;
                    if (ev->mask & IN_MOVED_TO) {
                        /* the first restore renamed a new file into place */
                        if (d->a_fd >= 0)
                            close(d->a_fd);
                        d->a_fd = -1;
                    }
                } else if (strcmp(ev->name, COPY_NAME "-txid") == 0 && (ev->mask & IN_MOVED_TO)) {
                    d->consistent = true;
                    d->pending = true;
                }
            }
        }
    }
}

static int read_txid(const struct fdb *d, uint64_t *txid)
{
    char path[PATH_MAX + 16], buf[64];
    snprintf(path, sizeof(path), "%s-txid", d->copy);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return follow_parse_txid(buf, txid);
}

/* ---- publishing ------------------------------------------------------------------- */

static void publish(struct keeper *k, size_t i, int64_t now)
{
    struct fdb *d = &k->dbs[i];
    if (d->pid <= 0)
        return;
    (void)kill(d->pid, SIGSTOP);
    int64_t t0 = mono_ms();
    while (!all_stopped(d->pid) && mono_ms() - t0 < STOP_WAIT_MS) {
        struct timespec nap = {0, 500000};
        nanosleep(&nap, NULL);
    }
    drain_inotify(k);
    uint64_t txid = 0;
    if (!all_stopped(d->pid) || !d->consistent || read_txid(d, &txid) != 0) {
        (void)kill(d->pid, SIGCONT);
        d->publish_at = now + RETRY_MID_APPLY_MS;
        return;
    }
    if (d->a_fd < 0)
        d->a_fd = open(d->copy, O_RDONLY | O_CLOEXEC);
    char err[512] = "";
    struct publish_stats st;
    const struct publish_options opt = {.lock_timeout_ms = k->p->lock_timeout_ms};
    enum publish_result r =
        d->a_fd < 0 ? PUBLISH_ERROR : follow_publish(d->a_fd, k->p->app_fds[i], d->db, &opt, &st, err, sizeof(err));
    (void)kill(d->pid, SIGCONT);
    if (d->a_fd < 0)
        snprintf(err, sizeof(err), "cannot open the follower copy %s: %s", d->copy, strerror(errno));
    if (r == PUBLISH_OK) {
        d->pending = false;
        d->publish_at = 0;
        if (st.changed || !d->published_once || txid != d->published)
            emit(k, "published %zu %016llx %llu %llu %lld", i, (unsigned long long)txid,
                 (unsigned long long)st.pages_written, (unsigned long long)st.pages, (long long)(mono_ms() - t0));
        if (!d->published_once)
            k->next_lag_check = now; /* /readyz needs a measurement: at once, not a check interval later */
        d->published = txid;
        d->published_once = true;
    } else if (r == PUBLISH_BUSY) {
        d->publish_at = now + RETRY_BUSY_MS;
    } else {
        emit(k, "error %zu cannot publish the follower copy of %s: %s", i, d->db, err);
        d->publish_at = now + RETRY_ERROR_MS;
    }
}

/* ---- the replica's position ---------------------------------------------------------- */

static void check_lag(struct keeper *k, size_t i, int64_t now)
{
    struct fdb *d = &k->dbs[i];
    const char *argv[12] = {k->p->plan->litestream,
                            "ltx",
                            "-config",
                            k->p->plan->config_path,
                            "-no-expand-env",
                            "-level",
                            "0",
                            d->db,
                            NULL};
    char out[65536];
    struct spawn_capture c = {.argv = (char *const *)argv,
                              .child_mask = k->p->child_mask,
                              .capture_stderr = true,
                              .timeout_ms = LTX_TIMEOUT_MS,
                              .out = out,
                              .out_size = sizeof(out)};
    struct spawn_result res;
    uint64_t newest = 0;
    int64_t oldest = 0;
    bool ok = spawn_capture(&c, &res) == 0 && !res.timed_out && spawn_status_code(res.status) == 0 &&
              follow_parse_ltx(out, d->published, &newest, &oldest) == 0;
    if (!ok) {
        int64_t bound = d->lag_known ? d->lag_ms + (now - d->lag_ok_at) : now - d->started_at;
        char why[200];
        snprintf(why, sizeof(why), "%.199s", res.timed_out ? "litestream ltx timed out" : out);
        why[strcspn(why, "\n")] = '\0';
        emit(k, "unreachable %zu %lld cannot list the replica: %s", i, (long long)bound, why);
        return;
    }
    d->replica_txid = newest;
    d->lag_known = d->published_once;
    d->lag_ok_at = now;
    int64_t lag = 0;
    if (!d->published_once)
        lag = now - d->started_at;
    else if (newest > d->published && oldest > 0)
        lag = unix_ms() - oldest * 1000;
    if (lag < 0)
        lag = 0;
    d->lag_ms = lag;
    emit(k, "lag %zu %lld %016llx %016llx", i, (long long)lag, (unsigned long long)newest,
         (unsigned long long)d->published);
    /* Alive, behind, and not moving while the replica does: a copy it cannot follow any more. */
    if (newest > d->published && d->published_once) {
        if (d->behind_since == 0 || d->behind_txid != d->published) {
            d->behind_since = now;
            d->behind_txid = d->published;
        } else if (now - d->behind_since > k->p->stuck_ms && d->pid > 0) {
            emit(k,
                 "restarted %zu the follower stayed at %016llx for %llds while the replica reached %016llx: "
                 "rebuilding its copy from scratch",
                 i, (unsigned long long)d->published, (long long)((now - d->behind_since) / 1000),
                 (unsigned long long)newest);
            stop_follower(d->pid); /* reaped below; restarted at once */
            d->restart_at = now;
            d->behind_since = 0;
        }
    } else {
        d->behind_since = 0;
    }
}

/* ---- standby: the primary's lease ------------------------------------------------------ */

static void check_lease(struct keeper *k, size_t i, int64_t now)
{
    struct fdb *d = &k->dbs[i];
    if (!d->lease_on)
        return;
    struct lease_obs o;
    char why[512] = "";
    if (lease_store_read(&d->store, &o, why, sizeof(why)) != 0)
        return; /* unknown: nothing changes (a standby never takes over on a failed read) */
    bool vacant = !o.exists;
    if (o.exists) {
        if (strcmp(o.etag, d->lease_etag) != 0) {
            snprintf(d->lease_etag, sizeof(d->lease_etag), "%s", o.etag);
            d->lease_seen_since = now;
        }
        vacant = lease_is_stale(&o, now - d->lease_seen_since, k->p->lease_ttl_ms);
    } else {
        d->lease_etag[0] = '\0';
    }
    int state = vacant ? 2 : 1;
    if (state == d->lease_state)
        return;
    d->lease_state = state;
    if (vacant) {
        emit(k, "lease %zu vacant", i);
    } else {
        char who[400];
        lease_describe(&o.rec, who, sizeof(who));
        emit(k, "lease %zu held %s", i, who);
    }
}

/* ---- the loop ----------------------------------------------------------------------- */

static void on_child(struct keeper *k, pid_t pid, int status, int64_t now)
{
    for (size_t i = 0; i < k->n; i++) {
        struct fdb *d = &k->dbs[i];
        if (d->pid != pid)
            continue;
        d->pid = -1;
        if (k->stopping)
            return;
        /* A rebuild asked for (restart_at set) goes at once; an exit on its own gets the backoff. */
        if (d->restart_at == 0) {
            if (now - d->started_at > BACKOFF_MAX_MS)
                d->backoff_ms = BACKOFF_FIRST_MS;
            emit(k, "restarted %zu litestream restore -f exited (%d): starting it again from scratch in %llds", i,
                 spawn_status_code(status), (long long)(d->backoff_ms / 1000));
            d->restart_at = now + d->backoff_ms;
            d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
        }
        return;
    }
}

static int setup(struct keeper *k)
{
    const struct follow_keeper_params *p = k->p;
    snprintf(k->interval, sizeof(k->interval), "%lldms", (long long)p->interval_ms);
    k->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    k->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (k->ino < 0 || k->sigfd < 0) {
        emit(k, "error 0 cannot set up the follow keeper: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < k->n; i++) {
        struct fdb *d = &k->dbs[i];
        d->db = p->plan->dbs[i].path;
        d->a_fd = -1;
        d->pid = -1;
        d->backoff_ms = BACKOFF_FIRST_MS;
        follow_copy_path(d->db, d->copy, sizeof(d->copy));
        snprintf(d->dir, sizeof(d->dir), "%s.lsinit-follow", d->db);
        if (fs_mkdir_p(d->dir, 0700, NULL) != 0) {
            emit(k, "error %zu cannot create %s: %s", i, d->dir, strerror(errno));
            return -1;
        }
        d->wd = inotify_add_watch(k->ino, d->dir, IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE);
        if (d->wd < 0) {
            emit(k, "error %zu cannot watch %s: %s", i, d->dir, strerror(errno));
            return -1;
        }
        d->restart_at = 1; /* start at once */
        if (p->watch_lease) {
            const char *kind = "?";
            char why[600] = "";
            const struct ynode *rep = plan_replica_of(p->plan->config, d->db);
            if (lease_store_init(&d->store, rep, 5000, &kind, why, sizeof(why)) != 0) {
                emit(k, "error %zu a standby needs the primary's lease, and this replica (%s) cannot hold one: %s", i,
                     kind, why);
                return -1;
            }
            d->lease_on = true;
        }
    }
    return 0;
}

int follow_keeper_main(const void *params)
{
    const struct follow_keeper_params *p = params;
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if ((long)getppid() != p->parent)
        return 0;
    struct keeper *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return 1;
    k->p = p;
    k->n = p->plan->db_count;
    if (p->watch_lease)
        curl_global_init(CURL_GLOBAL_DEFAULT);
    if (setup(k) != 0)
        return 1;
    k->next_lag_check = mono_ms() + p->lag_check_ms;
    for (;;) {
        int64_t now = mono_ms();
        bool alive = false;
        for (size_t i = 0; i < k->n; i++) {
            struct fdb *d = &k->dbs[i];
            if (!k->stopping && d->pid <= 0 && d->restart_at != 0 && now >= d->restart_at)
                start_follower(k, i, now);
            alive = alive || d->pid > 0;
        }
        if (k->stopping && !alive)
            break;
        if (k->stopping && now >= k->stop_deadline)
            for (size_t i = 0; i < k->n; i++)
                stop_follower(k->dbs[i].pid);
        for (size_t i = 0; !k->stopping && i < k->n; i++) {
            struct fdb *d = &k->dbs[i];
            if (d->pending && now >= d->publish_at)
                publish(k, i, now);
        }
        if (!k->stopping && now >= k->next_lag_check) {
            for (size_t i = 0; i < k->n; i++) {
                check_lag(k, i, now);
                check_lease(k, i, mono_ms());
            }
            k->next_lag_check = mono_ms() + p->lag_check_ms;
        }
        int64_t next = k->next_lag_check;
        for (size_t i = 0; i < k->n; i++) {
            const struct fdb *d = &k->dbs[i];
            if (d->pid <= 0 && d->restart_at != 0 && d->restart_at < next)
                next = d->restart_at;
            if (d->pending && d->publish_at < next)
                next = d->publish_at;
        }
        int64_t wait = next - mono_ms();
        if (wait < 0)
            wait = 0;
        if (k->stopping)
            wait = 100;
        struct pollfd fds[2] = {{.fd = k->ino, .events = POLLIN}, {.fd = k->sigfd, .events = POLLIN}};
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
        if (ppoll(fds, 2, &ts, NULL) < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN)
            drain_inotify(k);
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo info[8];
            ssize_t n;
            while ((n = read(k->sigfd, info, sizeof(info))) > 0) {
                for (size_t j = 0; j < (size_t)n / sizeof(info[0]); j++) {
                    if (info[j].ssi_signo == SIGCHLD)
                        continue;
                    if (info[j].ssi_signo == SIGUSR1) {
                        k->next_lag_check = 0; /* a listing (and the lease) at once */
                        continue;
                    }
                    if (!k->stopping) {
                        k->stopping = true;
                        k->stop_deadline = mono_ms() + 5000;
                        for (size_t i = 0; i < k->n; i++)
                            if (k->dbs[i].pid > 0) {
                                (void)kill(k->dbs[i].pid, SIGTERM);
                                (void)kill(k->dbs[i].pid, SIGCONT);
                            }
                    }
                }
            }
        }
        int status = 0;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            on_child(k, pid, status, mono_ms());
    }
    free(k);
    return 0;
}
