/* SPDX-License-Identifier: MIT */
#include "verifier.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "health_state.h"
#include "json_text.h"
#include "litestream.h"
#include "log.h"
#include "plan.h"
#include "spawn.h"
#include "verify.h"

struct verifier {
    int64_t interval_ms;
    int64_t first_delay_ms;
    int64_t next_at; /* 0: not scheduled */
    bool stopped;
    pid_t pid;
    int out_fd;
    char buf[8192];
    struct line_reader lines;
    char tmp_dir[PATH_MAX];
    unsigned int seed;
    const struct plan *plan;
    struct health_state *health;
    const sigset_t *child_mask;
    const char *cwd;
    bool (*app_running)(void *ctx);
    void *ctx;
    /* follow mode */
    bool follow;
    int64_t full_interval_ms, check_interval_ms;
    char follow_interval[24];            /* -follow-interval, a Go duration */
    int64_t last_full_ms, last_check_ms; /* monotonic: when the last full cycle / quick_check started */
    bool cycle_full, cycle_check;        /* what the running cycle does */
    int64_t positions_at;                /* next read of the followers' -txid files */
    char *const *env;
    struct follower {
        pid_t pid;
        int64_t started_ms;
        int64_t restart_at; /* 0: none pending */
        int quick_exits;    /* exits within FOLLOWER_HEALTHY_MS in a row */
        int restarts;
    } followers[PLAN_MAX_DBS];
};

#define FOLLOWER_HEALTHY_MS 30000
#define FOLLOWER_BACKOFF_FIRST_MS 1000
#define FOLLOWER_BACKOFF_MAX_MS 30000
#define FOLLOWER_REBUILD_AFTER 3

static void followers_start(struct verifier *v, int64_t now);
static bool follower_exited(struct verifier *v, pid_t pid, int status, int64_t now);
static void follower_start(struct verifier *v, size_t i, int64_t now);

struct verifier *verifier_new(const struct verifier_params *p)
{
    struct verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->interval_ms = p->interval_ms;
    v->first_delay_ms = p->first_delay_ms;
    v->plan = p->plan;
    v->health = p->health;
    v->child_mask = p->child_mask;
    v->cwd = p->cwd;
    v->app_running = p->app_running;
    v->ctx = p->ctx;
    v->follow = p->follow;
    v->full_interval_ms = p->full_interval_ms;
    v->check_interval_ms = p->check_interval_ms;
    snprintf(v->follow_interval, sizeof(v->follow_interval), "%lldms",
             (long long)(p->follow_interval_ms > 0 ? p->follow_interval_ms : 1000));
    v->env = p->env;
    for (size_t i = 0; i < PLAN_MAX_DBS; i++)
        v->followers[i].pid = -1;
    v->pid = -1;
    v->out_fd = -1;
    snprintf(v->tmp_dir, sizeof(v->tmp_dir), "%s", p->tmp_dir);
    v->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
    return v;
}

void verifier_free(struct verifier *v)
{
    if (v == NULL)
        return;
    if (v->out_fd >= 0)
        close(v->out_fd);
    free(v);
}

void verifier_arm(struct verifier *v, int64_t now)
{
    if (v->next_at == 0 && !v->stopped) {
        v->next_at = now + v->first_delay_ms;
        if (v->follow) {
            /* The followers' first restore is itself a from-scratch restore: the next full one is due later.
             * They start with the first cycle, once the replica has a snapshot to follow. */
            v->last_full_ms = now;
            v->last_check_ms = now;
        }
    }
}

int verifier_fd(const struct verifier *v) { return v->out_fd; }

nfds_t verifier_poll_fds(struct verifier *v, struct pollfd *fds, nfds_t room)
{
    if (room < 1 || v->out_fd < 0)
        return 0;
    fds[0] = (struct pollfd){.fd = v->out_fd, .events = POLLIN};
    return 1;
}

int64_t verifier_next_deadline(const struct verifier *v)
{
    int64_t next = v->pid > 0 || v->stopped ? 0 : v->next_at;
    for (size_t i = 0; v->follow && !v->stopped && i < v->plan->db_count; i++) {
        int64_t t = v->followers[i].restart_at;
        if (t != 0 && (next == 0 || t < next))
            next = t;
    }
    return next;
}

/* The interval ± 10 %, so a fleet of containers does not verify in lockstep. */
static int64_t jittered(struct verifier *v)
{
    int64_t spread = v->interval_ms / 10;
    if (spread <= 0)
        return v->interval_ms;
    int64_t r = (int64_t)(rand_r(&v->seed) % (unsigned int)(2 * spread + 1)) - spread;
    return v->interval_ms + r;
}

static void verifier_apply_line(struct verifier *v, const char *line)
{
    char db[PATH_MAX], result[32], reason[256], started[32], duration[32];
    if (json_field(line, "db", db, sizeof(db)) != 0 || json_field(line, "result", result, sizeof(result)) != 0)
        return;
    enum verify_result r;
    if (verify_result_parse(result, &r) != 0)
        return;
    if (json_field(line, "reason", reason, sizeof(reason)) != 0)
        reason[0] = '\0';
    long long started_at = json_field(line, "started_at", started, sizeof(started)) == 0 ? atoll(started) : 0;
    long long duration_ms = json_field(line, "duration_ms", duration, sizeof(duration)) == 0 ? atoll(duration) : 0;
    struct health_state *h = v->health;
    char mode_seen[16];
    h->verifications[r]++;
    h->verification_seconds_sum += (double)duration_ms / 1000.0;
    for (size_t i = 0; i < h->db_count; i++) {
        struct db_health *d = &h->dbs[i];
        if (strcmp(d->path, db) != 0)
            continue;
        d->verified = true;
        d->last_result = r;
        snprintf(d->last_reason, sizeof(d->last_reason), "%s", reason);
        d->last_verify_unix = started_at;
        d->last_duration_ms = duration_ms;
        if (r == VERIFY_PASS)
            d->last_success_unix = started_at + duration_ms / 1000;
        if (r == VERIFY_PASS && json_field(line, "mode", mode_seen, sizeof(mode_seen)) == 0 &&
            strcmp(mode_seen, "full") == 0)
            d->last_full_success_unix = started_at + duration_ms / 1000;
    }
    char mode[16];
    if (json_field(line, "mode", mode, sizeof(mode)) != 0)
        snprintf(mode, sizeof(mode), "full");
    if (r == VERIFY_PASS)
        log_info("verification of %s passed in %lldms (%s)", db, duration_ms, mode);
    else
        log_error("verification of %s failed: %s: %s (%s)", db, result, reason, mode);
}

static void on_result_line(char *line, void *ctx) { verifier_apply_line(ctx, line); }

void verifier_on_fd(struct verifier *v, int64_t now)
{
    (void)now;
    if (line_reader_drain(&v->lines, v->out_fd, on_result_line, v) == 0) {
        close(v->out_fd);
        v->out_fd = -1;
    }
}

/* ---- follow mode: one `litestream restore -f` per database ------------------ */

static void follower_start(struct verifier *v, size_t i, int64_t now)
{
    struct follower *f = &v->followers[i];
    const char *db = v->plan->dbs[i].path;
    char copy[PATH_MAX + 64], dir[PATH_MAX + 64];
    verify_follow_copy(v->tmp_dir, db, copy, sizeof(copy));
    snprintf(dir, sizeof(dir), "%s", copy);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    if (f->quick_exits >= FOLLOWER_REBUILD_AFTER) {
        /* It keeps failing on its copy (history pruned past its position, a damaged copy): from scratch. */
        log_warn("the follower copy of %s keeps failing: rebuilding it with a full restore", db);
        fs_remove_tree(dir);
        v->health->follower_rebuilds++;
        f->quick_exits = 0;
    }
    if (fs_mkdir_p(dir, 0700, NULL) != 0) {
        log_warn("cannot create %s for the follower copy of %s: %m", dir, db);
        f->restart_at = now + FOLLOWER_BACKOFF_MAX_MS;
        return;
    }
    const char *argv[LS_ARGV_MAX];
    ls_follow_argv(v->plan->litestream, v->plan->config_path, db, copy, v->follow_interval, argv);
    int exec_errno = 0;
    struct spawn_request req = {
        .argv = (char *const *)argv,
        .envp = v->env,
        .child_mask = v->child_mask,
        .cwd = v->cwd,
        .new_pgrp = true,
        .nice_increment = 10,
        .idle_io = true,
    };
    pid_t pid = spawn_process(&req, &exec_errno);
    if (pid < 0) {
        log_warn("cannot start the follower of %s: %s", db, strerror(exec_errno != 0 ? exec_errno : errno));
        f->restart_at = now + FOLLOWER_BACKOFF_MAX_MS;
        return;
    }
    f->pid = pid;
    f->started_ms = now;
    f->restart_at = 0;
    log_debug("follower of %s started (pid %ld) into %s", db, (long)pid, copy);
}

static void followers_start(struct verifier *v, int64_t now)
{
    for (size_t i = 0; i < v->plan->db_count; i++) {
        if (v->followers[i].pid <= 0 && v->followers[i].restart_at == 0)
            follower_start(v, i, now);
    }
}

/* A follower exited: restarted with backoff; one that keeps exiting soon after its start is rebuilt. */
static bool follower_exited(struct verifier *v, pid_t pid, int status, int64_t now)
{
    for (size_t i = 0; i < v->plan->db_count; i++) {
        struct follower *f = &v->followers[i];
        if (f->pid != pid)
            continue;
        f->pid = -1;
        if (v->stopped)
            return true;
        f->quick_exits = now - f->started_ms < FOLLOWER_HEALTHY_MS ? f->quick_exits + 1 : 1;
        f->restarts++;
        v->health->follower_restarts++;
        int64_t wait = FOLLOWER_BACKOFF_FIRST_MS;
        for (int k = 1; k < f->quick_exits && wait < FOLLOWER_BACKOFF_MAX_MS; k++)
            wait *= 2;
        if (wait > FOLLOWER_BACKOFF_MAX_MS)
            wait = FOLLOWER_BACKOFF_MAX_MS;
        log_warn("the follower of %s exited (code %d): restarting it in %lldms", v->plan->dbs[i].path,
                 spawn_status_code(status), (long long)wait);
        f->restart_at = now + wait;
        return true;
    }
    return false;
}

static void verifier_start(struct verifier *v, int64_t now)
{
    const struct plan *plan = v->plan;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        log_warn("cannot start a verification: pipe: %m");
        v->next_at = now + jittered(v);
        return;
    }
    /* Through /proc, so a binary replaced on disk (an upgrade) still runs as this version. */
    char self[] = "/proc/self/exe";
    char a_ls[PATH_MAX + 16], a_ver[64], a_cfg[96], a_metrics[160], a_sock[PATH_MAX + 16];
    snprintf(a_ls, sizeof(a_ls), "litestream=%s", plan->litestream);
    snprintf(a_ver, sizeof(a_ver), "version=%s", plan->version.text);
    snprintf(a_cfg, sizeof(a_cfg), "config=%s", plan->config_path);
    snprintf(a_metrics, sizeof(a_metrics), "metrics=%s", plan->metrics_addr);
    snprintf(a_sock, sizeof(a_sock), "socket=%s", plan->socket_path);
    char *argv[12 + PLAN_MAX_DBS + 2];
    size_t k = 0;
    argv[k++] = self;
    argv[k++] = (char *)VERIFY_CHILD_ARGV0;
    argv[k++] = a_ls;
    argv[k++] = a_ver;
    argv[k++] = a_cfg;
    argv[k++] = a_metrics;
    argv[k++] = a_sock;
    /* Follow mode: the follower copies, unless a from-scratch restore is due (LSINIT_VERIFY_FULL_INTERVAL). */
    if (v->follow)
        followers_start(v, now);
    char a_follow[PATH_MAX + 16], a_pids[PLAN_MAX_DBS * 12 + 16];
    v->cycle_full = !v->follow || now - v->last_full_ms >= v->full_interval_ms;
    v->cycle_check = !v->cycle_full && now - v->last_check_ms >= v->check_interval_ms;
    if (!v->cycle_full) {
        snprintf(a_follow, sizeof(a_follow), "follow=%s", v->tmp_dir);
        size_t n = (size_t)snprintf(a_pids, sizeof(a_pids), "followers=");
        for (size_t i = 0; i < plan->db_count && n < sizeof(a_pids); i++)
            n += (size_t)snprintf(a_pids + n, sizeof(a_pids) - n, "%s%ld", i > 0 ? "," : "", (long)v->followers[i].pid);
        argv[k++] = a_follow;
        argv[k++] = a_pids;
        argv[k++] = (char *)(v->cycle_check ? "check=1" : "check=0");
    }
    argv[k++] = (char *)"--";
    for (size_t i = 0; i < plan->db_count; i++)
        argv[k++] = (char *)plan->dbs[i].path;
    argv[k] = NULL;
    int exec_errno = 0;
    struct spawn_request req = {
        .argv = argv,
        .child_mask = v->child_mask,
        .cwd = v->cwd,
        .new_pgrp = true,
        .nice_increment = 10,
        .idle_io = true,
        .stdout_to = pipefd[1],
    };
    pid_t pid = spawn_process(&req, &exec_errno);
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        log_warn("cannot start a verification: %s", strerror(exec_errno != 0 ? exec_errno : errno));
        v->next_at = now + jittered(v);
        return;
    }
    (void)fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    v->pid = pid;
    v->out_fd = pipefd[0];
    if (v->cycle_full)
        v->last_full_ms = now;
    if (v->cycle_check)
        v->last_check_ms = now;
    v->lines = (struct line_reader){.buf = v->buf, .size = sizeof(v->buf)};
    v->next_at = 0;
    log_debug("verification started (pid %ld)", (long)pid);
}

/* The follower copies' positions (their -txid files, hex), for /metrics' follower lag; every 2 s at most. */
static void followers_read_positions(struct verifier *v, int64_t now)
{
    if (!v->follow || now < v->positions_at)
        return;
    v->positions_at = now + 2000;
    for (size_t i = 0; i < v->plan->db_count && i < v->health->db_count; i++) {
        char copy[PATH_MAX + 64], txid[PATH_MAX + 72], text[32] = "";
        verify_follow_copy(v->tmp_dir, v->plan->dbs[i].path, copy, sizeof(copy));
        snprintf(txid, sizeof(txid), "%s-txid", copy);
        FILE *f = fopen(txid, "re");
        if (f == NULL)
            continue;
        bool ok = fgets(text, sizeof(text), f) != NULL;
        fclose(f);
        char *end = NULL;
        unsigned long long t = ok ? strtoull(text, &end, 16) : 0;
        if (ok && end != text) {
            v->health->dbs[i].follower_txid = (double)t;
            v->health->dbs[i].follower_known = true;
        }
    }
}

void verifier_on_timer(struct verifier *v, int64_t now)
{
    followers_read_positions(v, now);
    for (size_t i = 0; v->follow && !v->stopped && i < v->plan->db_count; i++) {
        struct follower *f = &v->followers[i];
        if (f->pid <= 0 && f->restart_at != 0 && now >= f->restart_at)
            follower_start(v, i, now);
    }
    if (v->stopped || v->pid > 0 || v->next_at == 0 || now < v->next_at)
        return;
    if (!v->app_running(v->ctx)) {
        v->next_at = now + 5000;
        return;
    }
    verifier_start(v, now);
}

/* A killed cycle cannot clean up after itself: remove its temporary folders. */
static void verifier_remove_leftovers(const struct verifier *v, pid_t pid)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "lsinit-verify-%ld-", (long)pid);
    DIR *d = opendir(v->tmp_dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char dir[PATH_MAX + 300];
        snprintf(dir, sizeof(dir), "%s/%s", v->tmp_dir, e->d_name);
        fs_remove_tree(dir);
    }
    closedir(d);
}

bool verifier_on_child_exit(struct verifier *v, pid_t pid, int status, int64_t now)
{
    if (v == NULL)
        return false;
    if (v->follow && pid != v->pid)
        return follower_exited(v, pid, status, now);
    if (pid != v->pid)
        return false;
    /* A killed cycle may have left a follower paused for its quick_check. */
    for (size_t i = 0; v->follow && i < v->plan->db_count; i++) {
        if (v->followers[i].pid > 0)
            (void)kill(v->followers[i].pid, SIGCONT);
    }
    v->pid = -1;
    if (v->out_fd >= 0)
        verifier_on_fd(v, now);
    if (v->out_fd >= 0) {
        close(v->out_fd);
        v->out_fd = -1;
    }
    if (WIFSIGNALED(status))
        verifier_remove_leftovers(v, pid);
    if (!v->stopped)
        v->next_at = now + jittered(v);
    return true;
}

void verifier_stop(struct verifier *v)
{
    if (v == NULL)
        return;
    v->stopped = true;
    v->next_at = 0;
    if (v->pid > 0) {
        /* Its restore must not hold the shutdown up: the whole group goes. */
        (void)kill(-v->pid, SIGKILL);
    }
    for (size_t i = 0; v->follow && i < v->plan->db_count; i++) {
        if (v->followers[i].pid > 0) {
            (void)kill(v->followers[i].pid, SIGCONT);
            (void)kill(v->followers[i].pid, SIGTERM);
        }
    }
}
