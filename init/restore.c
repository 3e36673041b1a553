/* SPDX-License-Identifier: MIT */
#include "restore.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db_check.h"
#include "follow_events.h"
#include "exit_codes.h"
#include "fsutil.h"
#include "lease_store.h"
#include "legacy_layout.h"
#include "litestream.h"
#include "log.h"
#include "parse.h"
#include "spawn.h"

#define RESTORE_BACKOFF_FIRST_MS 500
#define RESTORE_BACKOFF_MAX_MS 10000
#define RESTORE_PROGRESS_CHECK_MS 10000

static int64_t backoff_ms(int attempt)
{
    int64_t ms = RESTORE_BACKOFF_FIRST_MS;
    for (int i = 1; i < attempt && ms < RESTORE_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < RESTORE_BACKOFF_MAX_MS ? ms : RESTORE_BACKOFF_MAX_MS;
}

/* ---- files -------------------------------------------------------------- */

static int prepare_db_folder(const char *db_path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", db_path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0) {
        /* A missing data folder is created, never anything inside it. */
        if (fs_mkdir_p(dir, 0755, NULL) != 0) {
            log_error("LSINIT_DB: cannot create the folder %s for %s: %m; create it or mount a volume there", dir,
                      db_path);
            return EXIT_CONFIG;
        }
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_error("LSINIT_DB: %s is not a folder, so %s cannot live in it", dir, db_path);
        return EXIT_CONFIG;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        log_error(
            "LSINIT_DB: the folder %s is not writable by uid %ld: fix its owner or mode, or mount a writable volume",
            dir, (long)geteuid());
        return EXIT_CONFIG;
    }
    struct stat db;
    if (stat(db_path, &db) == 0 && !S_ISREG(db.st_mode)) {
        log_error("LSINIT_DB: %s exists but is not a regular file", db_path);
        return EXIT_CONFIG;
    }
    return 0;
}

int restore_prepare_folders(const struct plan *plan)
{
    for (size_t i = 0; i < plan->db_count; i++) {
        int rc = prepare_db_folder(plan->dbs[i].path);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Removes <db_path><suffix> for each suffix (a NULL-terminated list). */
static void remove_siblings(const char *db_path, const char *const *suffixes, bool stale)
{
    for (size_t i = 0; suffixes[i] != NULL; i++) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s%s", db_path, suffixes[i]);
        if (unlink(path) != 0)
            continue;
        if (stale)
            log_warn("removed stale %s (its database was missing)", path);
        else
            log_debug("removed %s", path);
    }
}

/* A -wal/-shm/-journal next to a missing database belongs to some other
 * database's past; next to a freshly restored one it would corrupt it. */
static void remove_stale_sidecars(const char *db_path)
{
    static const char *const suffixes[] = {"-wal", "-shm", "-journal", NULL};
    remove_siblings(db_path, suffixes, true);
}

/* Litestream restores into <db>.tmp (and SQLite may leave <db>.tmp-wal/-shm next to it). */
static void remove_partial_restore(const char *db_path)
{
    static const char *const suffixes[] = {".tmp", ".tmp-wal", ".tmp-shm", NULL};
    remove_siblings(db_path, suffixes, false);
}

/* A 0-byte database file with no WAL beside it (or an empty one): no data at all. */
static bool empty_database_file(const char *db_path, const struct stat *st)
{
    if (!S_ISREG(st->st_mode) || st->st_size != 0)
        return false;
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    struct stat ws;
    return stat(wal, &ws) != 0 || ws.st_size == 0;
}

/* ---- jobs --------------------------------------------------------------- */

static void job_start(struct restore_set *s, size_t i, int64_t now)
{
    struct restore_job *job = &s->jobs[i];
    const char *argv[LS_ARGV_MAX];
    ls_restore_argv(&s->plan->version, s->plan->litestream, s->plan->config_path, s->plan->dbs[i].path, NULL, "quick",
                    argv);
    int exec_errno = 0;
    struct spawn_request req = {
        .argv = (char *const *)argv,
        .envp = s->env,
        .child_mask = s->child_mask,
        .cwd = s->cwd,
        .new_pgrp = true,
    };
    job->attempts++;
    job->retry_at = 0;
    job->progress_check_at = 0;
    job->tmp_size = -1;
    job->deadline_killed = false;
    pid_t pid = spawn_process(&req, &exec_errno);
    if (pid < 0) {
        errno = exec_errno != 0 ? exec_errno : errno;
        log_error("cannot run %s restore: %m", s->plan->litestream);
        job->state = RESTORE_PENDING;
        job->retry_at = now + backoff_ms(job->attempts);
        return;
    }
    job->pid = pid;
    job->state = RESTORE_RUNNING;
    log_info("%s is missing: restoring it from its replica (attempt %d)", s->plan->dbs[i].path, job->attempts);
}

/* The highest TXID among the <min>-<max>.ltx files in dir (0 when there is none). -1 when dir exists but
 * cannot be read; a missing dir counts as empty. */
static int ltx_dir_max(const char *dir, uint64_t *max)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t txid = 0;
        if (parse_ltx_name(e->d_name, &txid) == 0 && txid > *max)
            *max = txid;
    }
    closedir(d);
    return 0;
}

/* Litestream 0.5's position of db in its own local state: the highest TXID among the .ltx files in .<name>-litestream/ltx/0
 * (what its db.Pos() reads), 0 when there is none. */
static uint64_t local_position(const char *db)
{
    char dir[PATH_MAX + 64];
    const char *slash = strrchr(db, '/');
    int base = slash != NULL ? (int)(slash - db) : 0;
    snprintf(dir, sizeof(dir), "%.*s/.%s-litestream/ltx/0", base, db, slash != NULL ? slash + 1 : db);
    uint64_t max = 0;
    (void)ltx_dir_max(dir, &max);
    return max;
}

/*
 * A file replica's newest transaction straight from its directory: the highest TXID named in
 * <path>/ltx/<level>/ over every level — the files `litestream ltx -level all` lists, read without starting a
 * Litestream process (~25 ms of Go start-up on every boot). 0 done; 1 not a file replica with an absolute
 * path (ask Litestream); -1 a level directory exists but cannot be read.
 */
static int file_replica_newest(const struct ynode *rep, uint64_t *newest)
{
    const char *type = rep != NULL ? ynode_map_get_str(rep, "type") : NULL;
    const char *path = rep != NULL ? ynode_map_get_str(rep, "path") : NULL;
    const char *url = rep != NULL ? ynode_map_get_str(rep, "url") : NULL;
    if (type == NULL && path == NULL && url != NULL && strncmp(url, "file://", 7) == 0)
        path = url + 7;
    else if (type == NULL || strcmp(type, "file") != 0)
        return 1;
    if (path == NULL || path[0] != '/')
        return 1;
    char root[PATH_MAX + 8];
    snprintf(root, sizeof(root), "%s/ltx", path);
    DIR *d = opendir(root);
    *newest = 0;
    if (d == NULL)
        return errno == ENOENT ? 0 : -1; /* no ltx/ yet: an empty replica */
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char *end = NULL;
        long level = strtol(e->d_name, &end, 10);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end != '\0' || level > 99)
            continue;
        char dir[PATH_MAX + 16];
        if (snprintf(dir, sizeof(dir), "%s/%ld", root, level) >= (int)sizeof(dir))
            continue;
        rc = ltx_dir_max(dir, newest);
    }
    closedir(d);
    return rc;
}

/*
 * An S3 replica's newest transaction from ListObjectsV2 of <path>/ (every page), signed like the lease
 * (lease_store.c): 0 done; -1 the store cannot be reached (asking Litestream would only wait as long again);
 * 1 not S3, or lsinit cannot list it itself (no explicit credentials: Litestream may have an instance role;
 * a 4xx) — Litestream is asked instead.
 */
static int s3_replica_newest(const struct ynode *rep, uint64_t *newest)
{
    const char *type = rep != NULL ? ynode_map_get_str(rep, "type") : NULL;
    if (type == NULL || strcmp(type, "s3") != 0)
        return 1;
    struct lease_store *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return 1;
    const char *kind = NULL;
    char why[600] = "";
    unsigned long long n = 0;
    int rc = 1;
    if (lease_store_init(st, rep, 10000, &kind, why, sizeof(why)) == 0) {
        int listed = lease_store_s3_ltx_newest(st, &n, why, sizeof(why));
        rc = listed == 0 ? 0 : listed == -1 ? -1 : 1;
    }
    if (rc == 0)
        *newest = n;
    else
        log_debug("listing the replica without Litestream: %s%s", why, rc == 1 ? "; asking litestream ltx" : "");
    free(st);
    return rc;
}

int restore_replica_newest(const struct plan *plan, const char *db, const sigset_t *child_mask, uint64_t *newest)
{
    const struct ynode *rep = plan_replica_of(plan->config, db);
    int direct = file_replica_newest(rep, newest);
    if (direct == 1)
        direct = s3_replica_newest(rep, newest);
    if (direct != 1)
        return direct;
    const char *argv[] = {
        plan->litestream, "ltx", "-config", plan->config_path, "-no-expand-env", "-level", "all", db, NULL};
    char out[1 << 16];
    struct spawn_capture c = {.argv = (char *const *)argv,
                              .child_mask = child_mask,
                              .capture_stderr = true,
                              .timeout_ms = 30000,
                              .out = out,
                              .out_size = sizeof(out)};
    struct spawn_result res;
    int64_t unused = 0;
    if (spawn_capture(&c, &res) != 0 || res.timed_out || spawn_status_code(res.status) != 0 ||
        follow_parse_ltx(out, 0, newest, &unused) != 0)
        return -1;
    return 0;
}

/*
 * Litestream 0.5: an existing database whose own local position is behind the replica's newest transaction
 * was written by another instance since this one last ran (a standby took over, a second primary on a
 * copied volume). Replicating it would make its older content the newest state (Litestream adopts the
 * replica's TXID and snapshots what it has), so it is moved aside — kept, with its Litestream state — and
 * restored. Runs once the lease is held (nothing can upload meanwhile). true: moved aside.
 */
static bool behind_replica(const struct restore_set *s, const char *db)
{
    if (!ls_version_is_v05(&s->plan->version) || s->plan->takeover)
        return false;
    uint64_t local = local_position(db);
    if (local == 0)
        return false; /* no local state: nothing to compare (a copied-in or restored database) */
    uint64_t newest = 0;
    if (restore_replica_newest(s->plan, db, s->child_mask, &newest) != 0) {
        log_warn("%s: cannot list its replica to compare positions; replicating the database as it is", db);
        return false;
    }
    log_debug("%s: its Litestream position %016" PRIx64 ", the replica's newest %016" PRIx64, db, local, newest);
    if (newest <= local)
        return false;
    char aside[PATH_MAX + 64];
    snprintf(aside, sizeof(aside), "%s.behind-%016" PRIx64 "-%lld", db, local, (long long)time(NULL));
    log_warn("%s is behind its replica (its transaction %016" PRIx64 ", the replica's %016" PRIx64
             "): another instance wrote since; keeping it as %s and restoring the replica's",
             db, local, newest, aside);
    static const char *const sidecars[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
        char from[PATH_MAX + 8], to[PATH_MAX + 80];
        snprintf(from, sizeof(from), "%s%s", db, sidecars[i]);
        snprintf(to, sizeof(to), "%s%s", aside, sidecars[i]);
        if (rename(from, to) != 0 && errno != ENOENT)
            log_warn("cannot move %s aside: %m", from);
    }
    char meta[PATH_MAX + 32], meta_aside[PATH_MAX + 128];
    const char *slash = strrchr(db, '/');
    int base = slash != NULL ? (int)(slash - db) : 0;
    snprintf(meta, sizeof(meta), "%.*s/.%s-litestream", base, db, slash != NULL ? slash + 1 : db);
    snprintf(meta_aside, sizeof(meta_aside), "%s-litestream-state", aside);
    if (rename(meta, meta_aside) != 0 && errno != ENOENT)
        log_warn("cannot move %s aside: %m", meta);
    return true;
}

bool restore_set_begin(struct restore_set *s, int64_t now)
{
    s->deadline = now + s->plan->restore_timeout_ms;
    bool any = false;
    for (size_t i = 0; i < s->plan->db_count; i++) {
        const char *db = s->plan->dbs[i].path;
        struct stat st;
        if (stat(db, &st) == 0 && empty_database_file(db, &st)) {
            /*
             * A 0-byte file holds no data: SQLite opens it as an empty
             * database, and Litestream would replicate that emptiness as the
             * newest state (0.5 adopts the replica's TXID and snapshots it).
             * It is treated as missing: removed, then restored.
             */
            log_warn("%s is an empty (0-byte) file: treating it as missing", db);
            (void)unlink(db);
        }
        if (stat(db, &st) == 0 && !behind_replica(s, db)) {
            s->jobs[i].state = RESTORE_DONE;
            log_debug("%s exists: no restore needed", db);
            continue;
        }
        remove_stale_sidecars(db);
        job_start(s, i, now);
        any = true;
    }
    return any;
}

static bool all_done(const struct restore_set *s)
{
    for (size_t i = 0; i < s->plan->db_count; i++) {
        if (s->jobs[i].state != RESTORE_DONE)
            return false;
    }
    return true;
}

static enum restore_outcome where(const struct restore_set *s) { return all_done(s) ? RESTORE_ALL_DONE : RESTORE_BUSY; }

bool restore_set_running(const struct restore_set *s)
{
    for (size_t i = 0; i < s->plan->db_count; i++) {
        enum restore_job_state st = s->jobs[i].state;
        if (st == RESTORE_RUNNING || st == RESTORE_CHECKING || st == RESTORE_PROBING)
            return true;
    }
    return false;
}

void restore_set_abort(struct restore_set *s)
{
    for (size_t i = 0; i < s->plan->db_count; i++) {
        struct restore_job *job = &s->jobs[i];
        if (job->state == RESTORE_RUNNING)
            (void)kill(job->pid, SIGTERM);
        else if (job->state == RESTORE_CHECKING || job->state == RESTORE_PROBING)
            (void)kill(job->pid, SIGKILL);
        else
            job->state = RESTORE_DONE;
        job->retry_at = 0;
    }
    s->aborted = true;
}

/* A failed attempt: retried with backoff until LSINIT_RESTORE_TIMEOUT, then the set fails (69). */
static enum restore_outcome job_failed(struct restore_set *s, size_t i, int code, int64_t now)
{
    const char *db = s->plan->dbs[i].path;
    struct restore_job *job = &s->jobs[i];
    int64_t wait = backoff_ms(job->attempts);
    if (now + wait > s->deadline) {
        char limit[32];
        format_duration(s->plan->restore_timeout_ms, limit, sizeof(limit));
        log_error("cannot restore %s: litestream restore failed %d time%s within LSINIT_RESTORE_TIMEOUT=%s "
                  "(last exit code %d); not starting the app, so an empty database never replaces your backups. "
                  "Check the replica URL, network and credentials",
                  db, job->attempts, job->attempts == 1 ? "" : "s", limit, code);
        job->state = RESTORE_DONE;
        return RESTORE_FAILED;
    }
    log_warn("restore of %s failed (exit code %d); retrying in %lldms", db, code, (long long)wait);
    job->state = RESTORE_PENDING;
    job->retry_at = now + wait;
    return RESTORE_BUSY;
}

/* In a forked child: 0 when SQLite finds the restored database sound. */
static int quick_check_child(const void *arg)
{
    char why[256];
    return db_check((const char *)arg, DB_CHECK_QUICK, false, why, sizeof(why)) == 0 ? 0 : 1;
}

/* In a forked child: 0 no 0.3 layout, 1 found (the refusal logged), 2 cannot tell (logged). */
struct probe_arg {
    const char *db;
    const struct ynode *rep;
};

static int legacy_probe_child(const void *arg)
{
    const struct probe_arg *p = arg;
    char why[1024], line[1024];
    int rc = legacy_layout_probe(p->rep, why, sizeof(why));
    if (rc == 1) {
        legacy_layout_refusal(p->db, why, line, sizeof(line));
        log_error("%s", line);
        return 1;
    }
    if (rc < 0) {
        log_warn("cannot tell whether the replica of %s holds Litestream 0.3 backups: %s", p->db, why);
        return 2;
    }
    log_debug("no Litestream 0.3 backup of %s either: %s", p->db, why);
    return 0;
}

static enum restore_outcome restored(struct restore_set *s, size_t i, const char *how)
{
    struct stat st;
    const char *db = s->plan->dbs[i].path;
    s->jobs[i].state = RESTORE_DONE;
    if (s->restored != NULL)
        (*s->restored)++;
    log_info("restored %s from its replica (%lld bytes%s)", db, stat(db, &st) == 0 ? (long long)st.st_size : -1LL, how);
    return where(s);
}

static enum restore_outcome restore_exited(struct restore_set *s, size_t i, int status, int64_t now)
{
    const char *db = s->plan->dbs[i].path;
    struct restore_job *job = &s->jobs[i];
    job->pid = -1;
    remove_partial_restore(db);
    int code = spawn_status_code(status);
    if (s->aborted) {
        job->state = RESTORE_DONE;
        return where(s);
    }
    if (code != 0)
        return job_failed(s, i, code, now);
    struct stat st;
    if (stat(db, &st) == 0) {
        if (!ls_version_at_least(&s->plan->version, 0, 5, 10)) {
            /* Litestream < 0.5.10 restores without any check: a snapshot with bad pages would start the app. */
            pid_t pid = spawn_function(quick_check_child, db, s->child_mask);
            if (pid > 0) {
                job->pid = pid;
                job->state = RESTORE_CHECKING;
                log_debug("restored %s; checking it (pid %ld)", db, (long)pid);
                return RESTORE_BUSY;
            }
            log_warn("cannot fork to check the restored %s: %m; starting without the check", db);
        }
        return restored(s, i, "");
    }
    /* 0.5 sees an sftp replica holding only 0.3 backups as empty: look for the 0.3 layout first. */
    const struct ynode *rep = plan_replica_of(s->plan->config, db);
    if (ls_version_is_v05(&s->plan->version) && legacy_layout_is_sftp(rep)) {
        struct probe_arg arg = {db, rep};
        pid_t pid = spawn_function(legacy_probe_child, &arg, s->child_mask);
        if (pid > 0) {
            job->pid = pid;
            job->state = RESTORE_PROBING;
            return RESTORE_BUSY;
        }
        log_warn("cannot fork to look for Litestream 0.3 backups of %s: %m", db);
        return job_failed(s, i, 2, now);
    }
    log_info("no backup of %s exists yet: starting with a fresh database", db);
    job->state = RESTORE_DONE;
    return where(s);
}

static enum restore_outcome check_exited(struct restore_set *s, size_t i, int status)
{
    const char *db = s->plan->dbs[i].path;
    struct restore_job *job = &s->jobs[i];
    job->pid = -1;
    job->state = RESTORE_DONE;
    bool sound = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!sound) {
        /* Never leave an unchecked or corrupt copy for the next boot to start on. */
        (void)unlink(db);
        remove_stale_sidecars(db);
    }
    if (s->aborted)
        return where(s);
    if (!sound) {
        log_error("cannot restore %s: the restored database fails SQLite's quick_check, so the backup is corrupt; "
                  "not starting the app (see lsinit generations, and restore an older one by hand)",
                  db);
        return RESTORE_FAILED;
    }
    return restored(s, i, ", quick_check ok");
}

static enum restore_outcome probe_exited(struct restore_set *s, size_t i, int status, int64_t now)
{
    const char *db = s->plan->dbs[i].path;
    struct restore_job *job = &s->jobs[i];
    job->pid = -1;
    job->state = RESTORE_DONE;
    if (s->aborted)
        return where(s);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 2;
    if (code == 0) {
        log_info("no backup of %s exists yet: starting with a fresh database", db);
        return where(s);
    }
    if (code == 1)
        return RESTORE_FAILED;
    return job_failed(s, i, code, now);
}

bool restore_set_on_child_exit(struct restore_set *s, pid_t pid, int status, int64_t now, enum restore_outcome *out)
{
    for (size_t i = 0; i < s->plan->db_count; i++) {
        struct restore_job *job = &s->jobs[i];
        if (job->pid != pid || pid <= 0)
            continue;
        switch (job->state) {
        case RESTORE_RUNNING: *out = restore_exited(s, i, status, now); return true;
        case RESTORE_CHECKING: *out = check_exited(s, i, status); return true;
        case RESTORE_PROBING: *out = probe_exited(s, i, status, now); return true;
        default: break;
        }
    }
    return false;
}

/*
 * Past LSINIT_RESTORE_TIMEOUT, a restore that is still downloading (its
 * <db>.tmp grows) goes on: a large database takes as long as it takes. One
 * that has written nothing, or stopped growing, is stuck — Litestream 0.5's
 * S3 client retries a dead endpoint 10 times with backoff, for minutes — and
 * is stopped; its exit is then the last attempt (69).
 */
static void check_progress(struct restore_set *s, size_t i, int64_t now)
{
    struct restore_job *job = &s->jobs[i];
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->plan->dbs[i].path);
    struct stat st;
    long long size = stat(tmp, &st) == 0 ? (long long)st.st_size : -1;
    bool first_look = job->progress_check_at == 0;
    if (size >= 0 && (first_look || size > job->tmp_size)) {
        job->tmp_size = size;
        job->progress_check_at = now + RESTORE_PROGRESS_CHECK_MS;
        if (first_look)
            log_info("restore of %s still downloads at LSINIT_RESTORE_TIMEOUT (%lld bytes so far): letting it "
                     "finish while it progresses",
                     s->plan->dbs[i].path, size);
        return;
    }
    log_warn("restore of %s %s at LSINIT_RESTORE_TIMEOUT: stopping it", s->plan->dbs[i].path,
             size < 0 ? "has downloaded nothing" : "stopped progressing");
    (void)kill(job->pid, SIGKILL);
    job->deadline_killed = true;
}

void restore_set_on_timer(struct restore_set *s, int64_t now)
{
    for (size_t i = 0; i < s->plan->db_count; i++) {
        struct restore_job *job = &s->jobs[i];
        if (job->state == RESTORE_PENDING && job->retry_at != 0 && now >= job->retry_at && !s->aborted)
            job_start(s, i, now);
        if (job->state == RESTORE_RUNNING && now >= s->deadline && !job->deadline_killed &&
            now >= job->progress_check_at)
            check_progress(s, i, now);
    }
}

int64_t restore_set_next_deadline(const struct restore_set *s)
{
    int64_t next = 0;
    for (size_t i = 0; i < s->plan->db_count; i++) {
        const struct restore_job *job = &s->jobs[i];
        int64_t t = job->state == RESTORE_PENDING ? job->retry_at : 0;
        if (job->state == RESTORE_RUNNING && !job->deadline_killed)
            t = job->progress_check_at > s->deadline ? job->progress_check_at : s->deadline;
        if (t != 0 && (next == 0 || t < next))
            next = t;
    }
    return next;
}
