/* SPDX-License-Identifier: MIT */
#include "replication.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exit_codes.h"
#include "legacy_layout.h"
#include "litestream.h"
#include "log.h"
#include "parse.h"
#include "plan.h"
#include "shim.h"
#include "spawn.h"
#include "supervisor.h"
#include "verifier.h"
#include "clock.h"

#define RESTORE_BACKOFF_FIRST_MS 500
#define RESTORE_BACKOFF_MAX_MS 10000
#define RESTART_BACKOFF_FIRST_MS 1000
#define RESTART_BACKOFF_MAX_MS 30000
#define SHIM_WAIT_MS 5000
#define SIBLING_FIRST_TICK_MS 2500
#define EXEC_STRING_MAX 65536
#define LITESTREAM_HANG_MS 30000
#define ONCE_PASS_MIN_MS 500
#define RESTORE_PROGRESS_CHECK_MS 10000

/* CHECKING: a child of ours runs PRAGMA quick_check on the restored file (Litestream < 0.5.10 checks nothing).
 * PROBING: 0.5 found no backup on an sftp replica; a child of ours looks for a 0.3 layout (legacy_layout.h). */
enum restore_state { RESTORE_PENDING, RESTORE_RUNNING, RESTORE_CHECKING, RESTORE_PROBING, RESTORE_DONE };

struct restore_job {
    enum restore_state state;
    pid_t pid;
    int attempts;
    int64_t retry_at; /* 0: not waiting */
    bool deadline_killed;
    int64_t progress_check_at; /* past the deadline: when to look at <db>.tmp again */
    long long tmp_size;        /* its size at the last look, -1: none */
};

struct replication {
    const struct plan *plan;
    char **litestream_env;     /* lsinit's environment without what would change Litestream's behaviour */
    char self_exe[PATH_MAX];
    struct restore_job restores[PLAN_MAX_DBS];
    char report_buf[512];
    size_t report_len;

    /* deadlines and times (ms, monotonic; 0: none) */
    int64_t restore_deadline;
    int64_t litestream_started_ms;
    int64_t restart_at;
    int64_t sibling_term_at;   /* app gone, replication restarted: TERM after its first tick */
    int64_t start_deadline;    /* replica unreachable at start (0.5.16+): retry replicate until then */
    int64_t start_retry_at;

    int report_read;
    int report_write;
    pid_t litestream_pid;
    pid_t shim_pid;
    pid_t app_pid;
    int restarts;
    int app_status;
    int app_exec_errno;
    int start_attempts;
    int stop_routed;

    bool restores_finished;
    bool litestream_has_app;   /* started with -exec: the shim is its child */
    bool app_started;
    bool app_exited;
    bool app_execfail;
    bool shim_gone;
    bool sync_reported;        /* 0.5: the shim asked Litestream to upload the app's last writes */
    bool sync_confirmed;       /* ... and the replica has them */
    bool once_pass;            /* 0.5: the second pass is `replicate -once` */
    bool stop_forwarded;       /* the one TERM/INT went to litestream or the shim */
    bool final_term_sent;      /* sibling mode: TERM to litestream after the app exited */
    bool second_pass;          /* the final sync failed once: one more replicate run */
};

static struct replication *rep_of(const struct supervisor *sup) { return sup->replication; }

/*
 * Litestream 0.5 lets LOG_LEVEL override its logging level: an app's own
 * LOG_LEVEL=debug would flood the container's log with Litestream's debug
 * lines. Litestream gets lsinit's environment without it; the app still gets
 * the container's whole environment from the shim.
 */
static char **litestream_environment(void)
{
    static const char *const dropped[] = {"LOG_LEVEL=", NULL};
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 1, sizeof(char *));
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t d = 0; dropped[d] != NULL; d++)
            drop = drop || strncmp(environ[i], dropped[d], strlen(dropped[d])) == 0;
        if (!drop)
            env[k++] = environ[i];
    }
    env[k] = NULL;
    return env;
}

static int64_t backoff_ms(int attempt, int64_t first, int64_t max)
{
    int64_t ms = first;
    for (int i = 1; i < attempt && ms < max; i++)
        ms *= 2;
    return ms < max ? ms : max;
}

static void restore_start(struct supervisor *sup, size_t i, int64_t now);
static void restore_failed(struct supervisor *sup, size_t i, int code, int64_t now);
static int legacy_probe_child(const char *db, const struct ynode *rep);
/* How litestream replicate runs: with the app as its -exec child, beside an app it no longer owns, or one pass. */
enum replicate_mode { REPLICATE_WITH_APP, REPLICATE_SIBLING, REPLICATE_ONCE };
static void replicate_start(struct supervisor *sup, enum replicate_mode mode, int64_t now);

/* ---- start-up: folders, stale files, restores --------------------------- */

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
        /* mkdir -p: a missing data folder is created, never anything inside it. */
        for (char *p = dir + 1; *p != '\0'; p++) {
            if (*p != '/')
                continue;
            *p = '\0';
            (void)mkdir(dir, 0755);
            *p = '/';
        }
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            log_error("LSINIT_DB: cannot create the folder %s for %s: %m; create it or mount a volume there", dir, db_path);
            return EXIT_CONFIG;
        }
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_error("LSINIT_DB: %s is not a folder, so %s cannot live in it", dir, db_path);
        return EXIT_CONFIG;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        log_error("LSINIT_DB: the folder %s is not writable by uid %ld: fix its owner or mode, or mount a writable volume",
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

int replication_check_folders(const struct plan *plan)
{
    for (size_t i = 0; i < plan->db_count; i++) {
        int rc = prepare_db_folder(plan->dbs[i].path);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int replication_attach(struct supervisor *sup, const struct plan *plan, char **self_exe_unused)
{
    (void)self_exe_unused;
    struct replication *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        log_error("out of memory");
        return EXIT_OSERR;
    }
    r->plan = plan;
    r->litestream_pid = -1;
    r->shim_pid = -1;
    r->app_pid = -1;
    /*
     * Litestream runs the shim through /proc/<our pid>/exe: that is this very
     * binary even after an upgrade replaced or deleted the file on disk.
     */
    snprintf(r->self_exe, sizeof(r->self_exe), "/proc/%ld/exe", (long)getpid());
    if (access(r->self_exe, X_OK) != 0) {
        log_error("cannot run lsinit's own binary through %s: %m; is /proc mounted?", r->self_exe);
        free(r);
        return EXIT_OSERR;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        log_error("cannot create the report pipe: %m");
        free(r);
        return EXIT_OSERR;
    }
    r->report_read = fds[0];
    r->report_write = fds[1];
    for (size_t i = 0; i < plan->db_count; i++) {
        int rc = prepare_db_folder(plan->dbs[i].path);
        if (rc != 0) {
            close(fds[0]);
            close(fds[1]);
            free(r);
            return rc;
        }
    }
    r->litestream_env = litestream_environment();
    if (r->litestream_env == NULL) {
        log_error("out of memory");
        close(fds[0]);
        close(fds[1]);
        free(r);
        return EXIT_OSERR;
    }
    sup->replication = r;
    sup->phase = PHASE_STARTING;
    int64_t now = sup->started_ms;
    r->restore_deadline = now + plan->restore_timeout_ms;
    bool any = false;
    for (size_t i = 0; i < plan->db_count; i++) {
        struct stat st;
        if (stat(plan->dbs[i].path, &st) == 0 && empty_database_file(plan->dbs[i].path, &st)) {
            /*
             * A 0-byte file holds no data: SQLite opens it as an empty
             * database, and Litestream would replicate that emptiness as the
             * newest state (0.5 adopts the replica's TXID and snapshots it).
             * It is treated as missing: removed, then restored.
             */
            log_warn("%s is an empty (0-byte) file: treating it as missing", plan->dbs[i].path);
            (void)unlink(plan->dbs[i].path);
        }
        if (stat(plan->dbs[i].path, &st) == 0) {
            r->restores[i].state = RESTORE_DONE;
            log_debug("%s exists: no restore needed", plan->dbs[i].path);
            continue;
        }
        remove_stale_sidecars(plan->dbs[i].path);
        restore_start(sup, i, now);
        any = true;
    }
    if (!any) {
        r->restores_finished = true;
        replicate_start(sup, REPLICATE_WITH_APP, now);
    }
    return 0;
}

static void restore_start(struct supervisor *sup, size_t i, int64_t now)
{
    struct replication *r = rep_of(sup);
    const struct plan *plan = r->plan;
    struct restore_job *job = &r->restores[i];
    const char *argv[16];
    size_t n = 0;
    argv[n++] = plan->litestream;
    argv[n++] = "restore";
    argv[n++] = "-config";
    argv[n++] = plan->config_path;
    argv[n++] = "-no-expand-env";
    argv[n++] = "-if-replica-exists";
    if (ls_version_at_least(&plan->version, 0, 5, 10)) {
        argv[n++] = "-integrity-check";
        argv[n++] = "quick";
    }
    argv[n++] = plan->dbs[i].path;
    argv[n] = NULL;
    int exec_errno = 0;
    struct spawn_request req = {
        .argv = (char *const *)argv,
        .envp = r->litestream_env,
        .child_mask = &sup->sig.original_mask,
        .cwd = sup->cwd,
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
        log_error("cannot run %s restore: %m", plan->litestream);
        job->state = RESTORE_PENDING;
        job->retry_at = now + backoff_ms(job->attempts, RESTORE_BACKOFF_FIRST_MS, RESTORE_BACKOFF_MAX_MS);
        return;
    }
    job->pid = pid;
    job->state = RESTORE_RUNNING;
    log_info("%s is missing: restoring it from its replica (attempt %d)", plan->dbs[i].path, job->attempts);
}

static bool restores_all_done(const struct replication *r)
{
    for (size_t i = 0; i < r->plan->db_count; i++) {
        if (r->restores[i].state != RESTORE_DONE)
            return false;
    }
    return true;
}

static bool restores_any_running(const struct replication *r)
{
    for (size_t i = 0; i < r->plan->db_count; i++) {
        if (r->restores[i].state == RESTORE_RUNNING || r->restores[i].state == RESTORE_CHECKING ||
            r->restores[i].state == RESTORE_PROBING)
            return true;
    }
    return false;
}

static void restores_abort(struct supervisor *sup)
{
    struct replication *r = rep_of(sup);
    for (size_t i = 0; i < r->plan->db_count; i++) {
        struct restore_job *job = &r->restores[i];
        if (job->state == RESTORE_RUNNING)
            (void)kill(job->pid, SIGTERM);
        else if (job->state == RESTORE_CHECKING || job->state == RESTORE_PROBING)
            (void)kill(job->pid, SIGKILL);
        else
            job->state = RESTORE_DONE;
        job->retry_at = 0;
    }
    r->restores_finished = true;
}

/* In a forked child: 0 when SQLite finds the restored database sound. */
static int restored_db_check(const char *db)
{
    sqlite3 *h = NULL;
    int ok = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *first = sqlite3_column_text(st, 0);
            ok = first != NULL && strcmp((const char *)first, "ok") == 0;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return ok ? 0 : 1;
}

static void restores_maybe_finished(struct supervisor *sup, int64_t now)
{
    struct replication *r = rep_of(sup);
    if (!restores_all_done(r))
        return;
    r->restores_finished = true;
    if (sup->exit_decided || sup->stop_signal != 0) {
        supervisor_decide_exit(sup, 128 + sup->stop_signal);
        supervisor_begin_draining(sup, now);
        return;
    }
    replicate_start(sup, REPLICATE_WITH_APP, now);
}

static void restore_check_on_exit(struct supervisor *sup, size_t i, int status, int64_t now)
{
    struct replication *r = rep_of(sup);
    const char *db = r->plan->dbs[i].path;
    struct restore_job *job = &r->restores[i];
    job->pid = -1;
    job->state = RESTORE_DONE;
    bool sound = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!sound) {
        /* Never leave an unchecked or corrupt copy for the next boot to start on. */
        (void)unlink(db);
        remove_stale_sidecars(db);
    }
    if (sup->stop_signal != 0 || r->restores_finished) {
        restores_maybe_finished(sup, now);
        return;
    }
    if (!sound) {
        log_error("cannot restore %s: the restored database fails SQLite's quick_check, so the backup is corrupt; "
                  "not starting the app (see lsinit generations, and restore an older one by hand)", db);
        supervisor_decide_exit(sup, EXIT_RESTORE);
        restores_abort(sup);
        if (!restores_any_running(r))
            supervisor_begin_draining(sup, now);
        return;
    }
    struct stat st;
    sup->health.restores++;
    log_info("restored %s from its replica (%lld bytes, quick_check ok)", db,
             stat(db, &st) == 0 ? (long long)st.st_size : -1LL);
    restores_maybe_finished(sup, now);
}

static void restore_on_exit(struct supervisor *sup, size_t i, int status, int64_t now)
{
    struct replication *r = rep_of(sup);
    const char *db = r->plan->dbs[i].path;
    struct restore_job *job = &r->restores[i];
    job->pid = -1;
    int code = supervisor_status_to_code(status);
    if (sup->stop_signal != 0 || r->restores_finished) {
        job->state = RESTORE_DONE;
        remove_partial_restore(db);
    } else if (code == 0) {
        job->state = RESTORE_DONE;
        remove_partial_restore(db);
        struct stat st;
        if (stat(db, &st) == 0 && !ls_version_at_least(&r->plan->version, 0, 5, 10)) {
            /* Litestream < 0.5.10 restores without any check: a snapshot with bad pages would start the app. */
            pid_t pid = fork();
            if (pid == 0)
                _exit(restored_db_check(db));
            if (pid > 0) {
                job->pid = pid;
                job->state = RESTORE_CHECKING;
                log_debug("restored %s; checking it (pid %ld)", db, (long)pid);
                return;
            }
            log_warn("cannot fork to check the restored %s: %m; starting without the check", db);
        }
        if (stat(db, &st) == 0) {
            sup->health.restores++;
            log_info("restored %s from its replica (%lld bytes)", db, (long long)st.st_size);
        } else {
            /* 0.5 sees an sftp replica holding only 0.3 backups as empty: look for the 0.3 layout first. */
            const struct ynode *rep = legacy_layout_replica_of(r->plan->config, db);
            if (ls_version_is_v05(&r->plan->version) && legacy_layout_is_sftp(rep)) {
                pid_t pid = fork();
                if (pid == 0)
                    _exit(legacy_probe_child(db, rep));
                if (pid > 0) {
                    job->pid = pid;
                    job->state = RESTORE_PROBING;
                    return;
                }
                log_warn("cannot fork to look for Litestream 0.3 backups of %s: %m", db);
                job->state = RESTORE_PENDING;
                restore_failed(sup, i, 2, now);
                return;
            }
            log_info("no backup of %s exists yet: starting with a fresh database", db);
        }
    } else {
        remove_partial_restore(db);
        restore_failed(sup, i, code, now);
        return;
    }
    restores_maybe_finished(sup, now);
}

/* A failed attempt: retried with backoff until LSINIT_RESTORE_TIMEOUT, then exit 69. */
static void restore_failed(struct supervisor *sup, size_t i, int code, int64_t now)
{
    struct replication *r = rep_of(sup);
    const char *db = r->plan->dbs[i].path;
    struct restore_job *job = &r->restores[i];
    int64_t wait = backoff_ms(job->attempts, RESTORE_BACKOFF_FIRST_MS, RESTORE_BACKOFF_MAX_MS);
    if (now + wait > r->restore_deadline) {
        char limit[32];
        format_duration(r->plan->restore_timeout_ms, limit, sizeof(limit));
        log_error("cannot restore %s: litestream restore failed %d time%s within LSINIT_RESTORE_TIMEOUT=%s "
                  "(last exit code %d); not starting the app, so an empty database never replaces your backups. "
                  "Check the replica URL, network and credentials",
                  db, job->attempts, job->attempts == 1 ? "" : "s", limit, code);
        job->state = RESTORE_DONE;
        supervisor_decide_exit(sup, EXIT_RESTORE);
        restores_abort(sup);
        if (!restores_any_running(r))
            supervisor_begin_draining(sup, now);
        return;
    }
    log_warn("restore of %s failed (exit code %d); retrying in %lldms", db, code, (long long)wait);
    job->state = RESTORE_PENDING;
    job->retry_at = now + wait;
}

/* In a forked child: 0 no 0.3 layout, 1 found (the refusal logged), 2 cannot tell (logged). */
static int legacy_probe_child(const char *db, const struct ynode *rep)
{
    char why[1024], line[1024];
    int rc = legacy_layout_probe(rep, why, sizeof(why));
    if (rc == 1) {
        legacy_layout_refusal(db, why, line, sizeof(line));
        log_error("%s", line);
        return 1;
    }
    if (rc < 0) {
        log_warn("cannot tell whether the replica of %s holds Litestream 0.3 backups: %s", db, why);
        return 2;
    }
    log_debug("no Litestream 0.3 backup of %s either: %s", db, why);
    return 0;
}

static void restore_probe_on_exit(struct supervisor *sup, size_t i, int status, int64_t now)
{
    struct replication *r = rep_of(sup);
    const char *db = r->plan->dbs[i].path;
    struct restore_job *job = &r->restores[i];
    job->pid = -1;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 2;
    job->state = RESTORE_DONE;
    if (sup->stop_signal != 0 || r->restores_finished) {
        restores_maybe_finished(sup, now);
        return;
    }
    if (code == 0) {
        log_info("no backup of %s exists yet: starting with a fresh database", db);
        restores_maybe_finished(sup, now);
    } else if (code == 1) {
        supervisor_decide_exit(sup, EXIT_RESTORE);
        restores_abort(sup);
        if (!restores_any_running(r))
            supervisor_begin_draining(sup, now);
    } else {
        job->state = RESTORE_PENDING;
        restore_failed(sup, i, code, now);
    }
}

/*
 * Past LSINIT_RESTORE_TIMEOUT, a restore that is still downloading (its
 * <db>.tmp grows) goes on: a large database takes as long as it takes. One
 * that has written nothing, or stopped growing, is stuck — Litestream 0.5's
 * S3 client retries a dead endpoint 10 times with backoff, for minutes — and
 * is stopped; its exit is then the last attempt (69).
 */
static void restore_check_progress(struct replication *r, size_t i, int64_t now)
{
    struct restore_job *job = &r->restores[i];
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", r->plan->dbs[i].path);
    struct stat st;
    long long size = stat(tmp, &st) == 0 ? (long long)st.st_size : -1;
    bool first_look = job->progress_check_at == 0;
    if (size >= 0 && (first_look || size > job->tmp_size)) {
        job->tmp_size = size;
        job->progress_check_at = now + RESTORE_PROGRESS_CHECK_MS;
        if (first_look)
            log_info("restore of %s still downloads at LSINIT_RESTORE_TIMEOUT (%lld bytes so far): letting it "
                     "finish while it progresses", r->plan->dbs[i].path, size);
        return;
    }
    log_warn("restore of %s %s at LSINIT_RESTORE_TIMEOUT: stopping it", r->plan->dbs[i].path,
             size < 0 ? "has downloaded nothing" : "stopped progressing");
    (void)kill(job->pid, SIGKILL);
    job->deadline_killed = true;
}

/* ---- replicate ---------------------------------------------------------- */

static bool build_exec_string(struct supervisor *sup, char *out, size_t size)
{
    struct replication *r = rep_of(sup);
    const struct plan *plan = r->plan;
    size_t argc = 0;
    for (char **a = sup->settings->command; *a != NULL; a++)
        argc++;
    char **argv = calloc(argc + plan->db_count + 10, sizeof(char *));
    if (argv == NULL)
        return false;
    char pid_text[24], fd_text[24], wait_text[24];
    snprintf(pid_text, sizeof(pid_text), "%ld", (long)getpid());
    snprintf(fd_text, sizeof(fd_text), "%d", r->report_write);
    /* The shim waits for Litestream at most the whole grace: lsinit's own grace timer is the real bound. */
    int64_t wait_ms = sup->settings->grace_ms > 0 ? sup->settings->grace_ms : SHIM_WAIT_MS;
    snprintf(wait_text, sizeof(wait_text), "%lld", (long long)wait_ms);
    size_t n = 0;
    argv[n++] = r->self_exe;
    argv[n++] = (char *)SHIM_ARGV0;
    argv[n++] = pid_text;
    argv[n++] = fd_text;
    argv[n++] = plan->metrics_addr[0] != '\0' ? (char *)plan->metrics_addr : (char *)"-";
    argv[n++] = plan->socket_path[0] != '\0' ? (char *)plan->socket_path : (char *)"-";
    argv[n++] = wait_text;
    for (size_t i = 0; i < plan->db_count; i++)
        argv[n++] = (char *)plan->dbs[i].path;
    argv[n++] = (char *)"--";
    for (size_t i = 0; i < argc; i++)
        argv[n++] = sup->settings->command[i];
    argv[n] = NULL;
    size_t len = ls_shell_quote(argv, out, size);
    free(argv);
    return len > 0;
}

static void replicate_start(struct supervisor *sup, enum replicate_mode mode, int64_t now)
{
    bool with_app = mode == REPLICATE_WITH_APP;
    struct replication *r = rep_of(sup);
    const struct plan *plan = r->plan;
    char *exec_string = NULL;
    const char *argv[12];
    size_t n = 0;
    argv[n++] = plan->litestream;
    argv[n++] = "replicate";
    argv[n++] = "-config";
    argv[n++] = plan->config_path;
    argv[n++] = "-no-expand-env";
    if (mode == REPLICATE_ONCE)
        argv[n++] = "-once";
    if (with_app) {
        exec_string = malloc(EXEC_STRING_MAX);
        if (exec_string == NULL || !build_exec_string(sup, exec_string, EXEC_STRING_MAX)) {
            log_error("the command cannot be passed to litestream -exec: over %d bytes quoted, or an argument "
                      "is not valid UTF-8 (Go would replace its bytes)", EXEC_STRING_MAX);
            free(exec_string);
            supervisor_decide_exit(sup, EXIT_USAGE);
            supervisor_begin_draining(sup, now);
            return;
        }
        argv[n++] = "-exec";
        argv[n++] = exec_string;
    }
    argv[n] = NULL;
    int exec_errno = 0;
    struct spawn_request req = {
        .argv = (char *const *)argv,
        .envp = r->litestream_env,
        .child_mask = &sup->sig.original_mask,
        .cwd = sup->cwd,
        .new_pgrp = true,
    };
    pid_t pid = spawn_process(&req, &exec_errno);
    free(exec_string);
    if (pid < 0) {
        errno = exec_errno != 0 ? exec_errno : errno;
        log_error("cannot run %s replicate: %m", plan->litestream);
        if (with_app) {
            supervisor_decide_exit(sup, exec_errno != 0 ? spawn_exit_code_for_errno(exec_errno) : EXIT_OSERR);
            supervisor_begin_draining(sup, now);
        } else {
            r->restarts++;
            r->restart_at = now + backoff_ms(r->restarts, RESTART_BACKOFF_FIRST_MS, RESTART_BACKOFF_MAX_MS);
        }
        return;
    }
    r->litestream_pid = pid;
    r->litestream_started_ms = now;
    r->litestream_has_app = with_app;
    r->once_pass = mode == REPLICATE_ONCE;
    if (with_app && r->start_deadline == 0)
        r->start_deadline = now + plan->restore_timeout_ms;
    sup->main_pid = pid;
    sup->main_exited = false;
    if (sup->phase == PHASE_STARTING)
        sup->phase = PHASE_RUNNING;
    log_debug("started litestream %s replicate as pid %ld%s", plan->version.text, (long)pid,
              with_app ? " with the app as its -exec child" : "");
}

/* ---- reports from the shim --------------------------------------------- */

static void report_handle_line(struct supervisor *sup, const char *line)
{
    struct replication *r = rep_of(sup);
    struct shim_report rep;
    if (shim_report_parse(line, &rep) != 0) {
        log_debug("ignoring malformed shim report");
        return;
    }
    switch (rep.kind) {
    case SHIM_REPORT_APP:
        r->shim_pid = (pid_t)rep.shim_pid;
        r->app_pid = (pid_t)rep.value;
        r->app_started = true;
        r->start_attempts = 0;
        if (sup->verifier != NULL)
            verifier_arm(sup->verifier, clock_now_ms());
        log_debug("the app runs as pid %ld (shim %ld)", rep.value, rep.shim_pid);
        break;
    case SHIM_REPORT_EXIT: {
        r->shim_pid = (pid_t)rep.shim_pid;
        r->app_exited = true;
        r->app_status = (int)rep.value;
        int status = (int)rep.value;
        char name[16];
        if (WIFSIGNALED(status))
            log_info("the app was killed by SIG%s; waiting for litestream's final sync",
                     signal_name(WTERMSIG(status), name, sizeof(name)));
        else
            log_info("the app exited with code %d; waiting for litestream's final sync", supervisor_status_to_code(status));
        break;
    }
    case SHIM_REPORT_EXECFAIL:
        r->shim_pid = (pid_t)rep.shim_pid;
        r->app_execfail = true;
        r->app_exec_errno = (int)rep.value;
        break;
    case SHIM_REPORT_SYNC:
        r->sync_reported = true;
        r->sync_confirmed = rep.value == SHIM_SYNC_CONFIRMED;
        snprintf(sup->health.final_sync, sizeof(sup->health.final_sync), "%s",
                 r->sync_confirmed ? "done: the replica holds the app's last writes"
                                   : "retrying: the replica did not confirm the app's last writes; litestream's "
                                     "shutdown retries within LSINIT_GRACE");
        log_debug("the app's last writes are %s in the replica", r->sync_confirmed ? "confirmed" : "not confirmed");
        break;
    }
}

static void report_drain(struct supervisor *sup)
{
    struct replication *r = rep_of(sup);
    for (;;) {
        ssize_t n = read(r->report_read, r->report_buf + r->report_len, sizeof(r->report_buf) - 1 - r->report_len);
        if (n <= 0)
            break;
        r->report_len += (size_t)n;
        r->report_buf[r->report_len] = '\0';
        char *start = r->report_buf;
        char *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            report_handle_line(sup, start);
            start = nl + 1;
        }
        size_t left = r->report_len - (size_t)(start - r->report_buf);
        memmove(r->report_buf, start, left);
        r->report_len = left;
        if (r->report_len >= sizeof(r->report_buf) - 1)
            r->report_len = 0; /* a line this long is not ours */
    }
}

nfds_t replication_poll_fds(struct supervisor *sup, struct pollfd *fds, nfds_t room)
{
    if (room < 1)
        return 0;
    fds[0] = (struct pollfd){.fd = rep_of(sup)->report_read, .events = POLLIN};
    return 1;
}

void replication_on_fd(struct supervisor *sup, int fd, int64_t now)
{
    (void)now;
    if (fd == rep_of(sup)->report_read)
        report_drain(sup);
}

/* ---- child exits --------------------------------------------------------- */

/* A second sync pass needs a litestream start, a monitor tick and a shutdown. */
/*
 * A second pass fits in what is left of the grace: `replicate -once` needs a
 * Litestream start and one sync; a 0.3 pass also a first monitor tick.
 */
static bool final_sync_retry_fits(const struct supervisor *sup, bool once, int64_t now)
{
    if (sup->killed_everything)
        return false;
    int64_t needs = once ? ONCE_PASS_MIN_MS : SIBLING_FIRST_TICK_MS + 1000;
    return sup->grace_deadline == 0 || sup->grace_deadline - now > needs;
}

/* The app's own exit code (remapped by -e), once its writes are known to be in the replica. */
static void decide_app_code(struct supervisor *sup)
{
    const struct replication *r = rep_of(sup);
    supervisor_decide_exit(sup, settings_remap_exit(sup->settings, supervisor_status_to_code(r->app_status)));
}

static void final_sync_failed(struct supervisor *sup, const char *what, int code)
{
    if (sup->exit_decided && sup->exit_code == EXIT_SYNC)
        return; /* the grace ran out first, and said so */
    log_error("the final sync failed: %s (litestream exit code %d), so the app's last writes may be missing from "
              "the replica (the local database is intact; the next start replicates them); exiting %d", what, code,
              EXIT_SYNC);
    snprintf(sup->health.final_sync, sizeof(sup->health.final_sync), "failed: %s", what);
    supervisor_decide_exit(sup, EXIT_SYNC);
}

/* One more replicate run decides; returns true when it started. */
static bool final_pass_start(struct supervisor *sup, enum replicate_mode mode, int64_t now)
{
    struct replication *r = rep_of(sup);
    r->second_pass = true;
    replicate_start(sup, mode, now);
    if (r->litestream_pid <= 0)
        return false;
    snprintf(sup->health.final_sync, sizeof(sup->health.final_sync), "retrying: one more sync pass");
    if (mode == REPLICATE_SIBLING) {
        r->sibling_term_at = now + SIBLING_FIRST_TICK_MS;
        r->final_term_sent = false;
    }
    return true;
}

/* The second pass (`replicate -once` on 0.5, a short replicate run on 0.3) ended. */
static void final_pass_on_exit(struct supervisor *sup, int code)
{
    if (code == 0) {
        log_warn("the second sync pass succeeded: the app's last writes are in the replica");
        snprintf(sup->health.final_sync, sizeof(sup->health.final_sync), "done (second pass)");
        decide_app_code(sup);
        return;
    }
    final_sync_failed(sup, "the second sync pass failed too", code);
}

/*
 * Litestream 0.5: its replicate exits 0 even when its shutdown sync failed,
 * so its code says nothing. The shim's report does: it asked Litestream to
 * upload everything after the app exited, and the replica confirmed it (or
 * not). Unconfirmed: `replicate -once` syncs what is left and its exit code
 * is the replica sync's.
 */
static void final_sync_on_exit_v05(struct supervisor *sup, int code, int64_t now)
{
    struct replication *r = rep_of(sup);
    if (r->sync_confirmed) {
        log_debug("litestream exited with code %d; the replica had confirmed the app's last writes", code);
        snprintf(sup->health.final_sync, sizeof(sup->health.final_sync), "done");
        decide_app_code(sup);
        return;
    }
    if (!r->second_pass && final_sync_retry_fits(sup, true, now)) {
        log_warn("litestream stopped without confirming that the replica holds the app's last writes; running "
                 "`litestream replicate -once` to sync and check");
        if (final_pass_start(sup, REPLICATE_ONCE, now))
            return;
    }
    final_sync_failed(sup, "the replica did not confirm the app's last writes", code);
}

/*
 * Litestream 0.3 exits 1 when any step of its shutdown fails — a replica
 * hiccup, an upload it raced with, or a checkpoint that failed after
 * everything was uploaded. One more replicate run decides: it syncs what is
 * left, and its own shutdown must succeed.
 */
static void final_sync_on_exit_v03(struct supervisor *sup, int code, int64_t now)
{
    struct replication *r = rep_of(sup);
    if (code == 0) {
        log_debug("litestream finished its final sync");
        snprintf(sup->health.final_sync, sizeof(sup->health.final_sync), "done");
        decide_app_code(sup);
        return;
    }
    if (!r->second_pass && final_sync_retry_fits(sup, false, now)) {
        log_warn("litestream exited with code %d after the app stopped; running one more sync pass", code);
        if (final_pass_start(sup, REPLICATE_SIBLING, now))
            return;
    }
    final_sync_failed(sup, "litestream's shutdown reported an error", code);
}

/*
 * Litestream exited before it started the app. From 0.5.16 on it connects
 * to an SFTP (or region-less S3, NATS, WebDAV) replica before starting the
 * app and exits 1 when it cannot: like a restore, that is retried with
 * backoff until LSINIT_RESTORE_TIMEOUT, and /readyz stays false. Only then
 * (or on a stop) does lsinit give up, with one line.
 */
static void litestream_before_app_on_exit(struct supervisor *sup, int code, int64_t now)
{
    struct replication *r = rep_of(sup);
    if (sup->stop_signal != 0) {
        supervisor_decide_exit(sup, 128 + sup->stop_signal);
        supervisor_begin_draining(sup, now);
        return;
    }
    if (!ls_version_at_least(&r->plan->version, 0, 5, 16)) {
        log_error("litestream exited with code %d before starting the app: see its messages above (config, "
                  "database or replica problem); exiting %d", code, EXIT_LITESTREAM);
        supervisor_decide_exit(sup, EXIT_LITESTREAM);
        supervisor_begin_draining(sup, now);
        return;
    }
    r->start_attempts++;
    int64_t wait = backoff_ms(r->start_attempts, RESTORE_BACKOFF_FIRST_MS, RESTORE_BACKOFF_MAX_MS);
    if (now + wait <= r->start_deadline) {
        log_warn("litestream exited with code %d before starting the app (attempt %d; see its messages above: an "
                 "unreachable replica at start is retried); retrying in %lldms", code, r->start_attempts,
                 (long long)wait);
        r->start_retry_at = now + wait;
        return;
    }
    char limit[32];
    format_duration(r->plan->restore_timeout_ms, limit, sizeof(limit));
    log_error("litestream exited with code %d before starting the app, %d time%s within LSINIT_RESTORE_TIMEOUT=%s: "
              "it connects to the replica first (Litestream 0.5.16+), so the replica is unreachable or refuses the "
              "credentials (see its messages above); not starting the app; exiting %d",
              code, r->start_attempts, r->start_attempts == 1 ? "" : "s", limit, EXIT_RESTORE);
    supervisor_decide_exit(sup, EXIT_RESTORE);
    supervisor_begin_draining(sup, now);
}

static void litestream_on_exit(struct supervisor *sup, int status, int64_t now)
{
    struct replication *r = rep_of(sup);
    report_drain(sup);
    int code = supervisor_status_to_code(status);
    r->litestream_pid = -1;
    sup->main_exited = true;
    bool had_app = r->litestream_has_app;
    r->litestream_has_app = false;

    if (r->app_execfail) {
        supervisor_decide_exit(sup, spawn_exit_code_for_errno(r->app_exec_errno));
        supervisor_begin_draining(sup, now);
        return;
    }
    if (r->app_exited) {
        if (r->once_pass)
            final_pass_on_exit(sup, code);
        else if (r->plan->socket_path[0] != '\0')
            final_sync_on_exit_v05(sup, code, now);
        else
            final_sync_on_exit_v03(sup, code, now);
        if (r->litestream_pid <= 0)
            supervisor_begin_draining(sup, now);
        return;
    }
    if (!r->app_started) {
        litestream_before_app_on_exit(sup, code, now);
        return;
    }
    if (sup->killed_everything) {
        supervisor_decide_exit(sup, 128 + SIGKILL);
        supervisor_begin_draining(sup, now);
        return;
    }
    /* The app still runs without replication: bring litestream back. A copy
     * that ran longer than the longest backoff was healthy: start over. */
    if (now - r->litestream_started_ms >= RESTART_BACKOFF_MAX_MS)
        r->restarts = 0;
    r->restarts++;
    sup->health.litestream_restarts++;
    int64_t wait = backoff_ms(r->restarts, RESTART_BACKOFF_FIRST_MS, RESTART_BACKOFF_MAX_MS);
    log_error("litestream (pid %ld) died with code %d while the app runs%s: the app keeps running; restarting "
              "replication in %lldms (restart #%d)",
              (long)sup->main_pid, code, had_app ? "" : " (restarted copy)", (long long)wait, r->restarts);
    r->restart_at = now + wait;
    if (sup->stop_signal != 0 && r->shim_pid > 0) {
        /* Stopping, and litestream died before it passed the stop on (or before
         * we sent it): the app gets it through the shim now. */
        (void)kill(r->shim_pid, r->stop_routed != 0 ? r->stop_routed : SIGTERM);
        r->stop_forwarded = true;
    }
}

static void shim_on_exit(struct supervisor *sup, int64_t now)
{
    struct replication *r = rep_of(sup);
    report_drain(sup);
    r->shim_gone = true;
    if (r->litestream_pid > 0 && !r->litestream_has_app && !r->final_term_sent) {
        /* Sibling mode: the app is gone; litestream's shutdown runs the final sync. */
        (void)kill(r->litestream_pid, SIGTERM);
        r->final_term_sent = true;
    } else if (r->litestream_pid <= 0 && r->restart_at != 0) {
        /* Litestream is down: the restart below runs once more to sync, then stops. */
        log_warn("the app exited while litestream was down; restarting it once for a final sync");
        r->restart_at = now;
    }
}

bool replication_on_child_exit(struct supervisor *sup, pid_t pid, int status, int64_t now)
{
    struct replication *r = rep_of(sup);
    for (size_t i = 0; i < r->plan->db_count; i++) {
        if (r->restores[i].state == RESTORE_CHECKING && r->restores[i].pid == pid) {
            restore_check_on_exit(sup, i, status, now);
            if (r->restores_finished && sup->exit_decided && !restores_any_running(r) && sup->main_pid < 0)
                supervisor_begin_draining(sup, now);
            return true;
        }
        if (r->restores[i].state == RESTORE_PROBING && r->restores[i].pid == pid) {
            restore_probe_on_exit(sup, i, status, now);
            if (r->restores_finished && sup->exit_decided && !restores_any_running(r) && sup->main_pid < 0)
                supervisor_begin_draining(sup, now);
            return true;
        }
        if (r->restores[i].state == RESTORE_RUNNING && r->restores[i].pid == pid) {
            r->restores[i].state = RESTORE_PENDING;
            restore_on_exit(sup, i, status, now);
            if (r->restores_finished && sup->exit_decided && !restores_any_running(r) && sup->main_pid < 0)
                supervisor_begin_draining(sup, now);
            return true;
        }
    }
    if (pid == r->litestream_pid) {
        litestream_on_exit(sup, status, now);
        return true;
    }
    if (pid == r->shim_pid) {
        shim_on_exit(sup, now);
        return true;
    }
    return false;
}

/* ---- signals ------------------------------------------------------------- */

void replication_on_signal(struct supervisor *sup, int sig, int routed, bool is_stop, int64_t now)
{
    struct replication *r = rep_of(sup);
    char name[16];
    if (!is_stop) {
        /* Never to litestream: Go's defaults make HUP kill it and QUIT dump it. */
        if (r->app_pid > 0 && r->app_started && !r->app_exited) {
            if (kill(r->app_pid, routed) != 0 && errno != ESRCH)
                log_warn("cannot forward SIG%s to the app: %m", signal_name(routed, name, sizeof(name)));
        } else {
            log_debug("SIG%s arrived while the app is not running: dropped", signal_name(sig, name, sizeof(name)));
        }
        return;
    }
    if (!r->restores_finished) {
        log_info("stopping before the app started: cancelling restores");
        restores_abort(sup);
        supervisor_decide_exit(sup, 128 + sig);
        if (!restores_any_running(r))
            supervisor_begin_draining(sup, now);
        return;
    }
    if (r->stop_forwarded) {
        log_info("already stopping (SIG%s ignored so the final sync is not cut short; the grace period still "
                 "applies)", signal_name(sig, name, sizeof(name)));
        return;
    }
    r->stop_routed = routed;
    if (r->app_exited || r->app_execfail) {
        r->stop_forwarded = true; /* litestream is already shutting down */
        return;
    }
    /*
     * Exactly one signal. With the app as litestream's -exec child it goes to
     * litestream's pid (never its group, which races with the app exiting on its own), which passes
     * it on and then syncs. After a litestream restart the app is no longer
     * its child, so it goes to the shim; litestream is stopped once the app
     * is gone.
     */
    pid_t target = r->litestream_pid;
    if (!(r->litestream_pid > 0 && r->litestream_has_app) && r->shim_pid > 0)
        target = r->shim_pid;
    if (target > 0) {
        (void)kill(target, routed);
        r->stop_forwarded = true;
    }
}

void replication_on_grace_expired(struct supervisor *sup, int64_t now)
{
    struct replication *r = rep_of(sup);
    (void)now;
    if (!r->app_exited && r->app_pid > 0) {
        log_error("the app did not exit within LSINIT_GRACE; killing it (its last writes may not be replicated)");
        (void)kill(-r->app_pid, SIGKILL);
        (void)kill(r->app_pid, SIGKILL);
        supervisor_decide_exit(sup, 128 + SIGKILL);
    } else if (r->app_exited && r->litestream_pid > 0) {
        log_error("litestream's final sync did not finish within LSINIT_GRACE: raise LSINIT_GRACE (and the "
                  "platform's stop timeout); exiting %d", EXIT_SYNC);
        snprintf(sup->health.final_sync, sizeof(sup->health.final_sync),
                 "failed: litestream's final sync did not finish within LSINIT_GRACE");
        supervisor_decide_exit(sup, EXIT_SYNC);
    }
}

void replication_free(struct supervisor *sup)
{
    struct replication *r = rep_of(sup);
    close(r->report_read);
    close(r->report_write);
    free(r->litestream_env);
    free(r);
    sup->replication = NULL;
}

/* ---- state for the health endpoint -------------------------------------- */

const struct plan *replication_plan(const struct supervisor *sup) { return rep_of(sup)->plan; }

bool replication_app_running(const struct supervisor *sup)
{
    const struct replication *r = rep_of(sup);
    return r->app_started && !r->app_exited && !r->app_execfail;
}

bool replication_litestream_running(const struct supervisor *sup) { return rep_of(sup)->litestream_pid > 0; }

bool replication_is_live(const struct supervisor *sup)
{
    const struct replication *r = rep_of(sup);
    if (!r->restores_finished || (!r->app_started && (r->litestream_pid > 0 || r->start_retry_at != 0)))
        return true; /* restoring, or litestream is starting the app (or will retry) */
    return replication_app_running(sup) && r->litestream_pid > 0;
}

bool replication_is_ready(const struct supervisor *sup)
{
    const struct replication *r = rep_of(sup);
    return r->restores_finished && replication_app_running(sup);
}

/* ---- timers ------------------------------------------------------------- */

int64_t replication_next_deadline(const struct supervisor *sup)
{
    const struct replication *r = rep_of(sup);
    int64_t next = 0;
    for (size_t i = 0; i < r->plan->db_count; i++) {
        int64_t t = r->restores[i].retry_at;
        if (r->restores[i].state == RESTORE_RUNNING && !r->restores[i].deadline_killed)
            t = r->restores[i].progress_check_at > r->restore_deadline ? r->restores[i].progress_check_at
                                                                       : r->restore_deadline;
        if (t != 0 && (next == 0 || t < next))
            next = t;
    }
    const int64_t others[] = {r->restart_at, r->sibling_term_at, r->start_retry_at};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        if (others[i] != 0 && (next == 0 || others[i] < next))
            next = others[i];
    }
    return next;
}

/*
 * A litestream that stopped answering (SIGSTOPped, deadlocked, stuck in I/O)
 * replicates nothing but never exits. When its metrics endpoint has not
 * answered for LITESTREAM_HANG_MS while the app runs, kill it: the restart
 * path brings replication back.
 */
static void litestream_check_hang(struct supervisor *sup, int64_t now)
{
    struct replication *r = rep_of(sup);
    if (sup->scraper == NULL || r->litestream_pid <= 0 || sup->stop_signal != 0 || !replication_app_running(sup))
        return;
    if (sup->health.scrape_ok_ms < r->litestream_started_ms)
        sup->health.scrape_ok_ms = r->litestream_started_ms;
    if (now - sup->health.scrape_ok_ms < LITESTREAM_HANG_MS)
        return;
    log_error("litestream (pid %ld) has not answered on its metrics endpoint for %lds: killing it so replication "
              "restarts", (long)r->litestream_pid, (long)((now - sup->health.scrape_ok_ms) / 1000));
    sup->health.litestream_hangs++;
    sup->health.scrape_ok_ms = now;
    (void)kill(r->litestream_pid, SIGKILL);
    (void)kill(r->litestream_pid, SIGCONT);
}

void replication_on_timer(struct supervisor *sup, int64_t now)
{
    struct replication *r = rep_of(sup);
    if (sup->phase == PHASE_DRAINING)
        return;
    litestream_check_hang(sup, now);
    for (size_t i = 0; i < r->plan->db_count; i++) {
        struct restore_job *job = &r->restores[i];
        if (job->state == RESTORE_PENDING && job->retry_at != 0 && now >= job->retry_at && !r->restores_finished)
            restore_start(sup, i, now);
        if (job->state == RESTORE_RUNNING && now >= r->restore_deadline && !job->deadline_killed &&
            now >= job->progress_check_at)
            restore_check_progress(r, i, now);
    }
    if (r->start_retry_at != 0 && now >= r->start_retry_at && r->litestream_pid <= 0 && sup->stop_signal == 0) {
        r->start_retry_at = 0;
        replicate_start(sup, REPLICATE_WITH_APP, now);
    }
    if (r->restart_at != 0 && now >= r->restart_at && r->litestream_pid <= 0) {
        r->restart_at = 0;
        bool app_gone = r->shim_gone || (r->app_exited && r->shim_pid <= 0);
        replicate_start(sup, REPLICATE_SIBLING, now);
        if (r->litestream_pid > 0) {
            log_warn("replication restarted (restart #%d)%s", r->restarts,
                     app_gone ? ": syncing the app's last writes, then stopping" : "");
            if (app_gone)
                r->sibling_term_at = now + SIBLING_FIRST_TICK_MS;
        }
    }
    if (r->sibling_term_at != 0 && now >= r->sibling_term_at) {
        r->sibling_term_at = 0;
        if (r->litestream_pid > 0 && !r->final_term_sent) {
            (void)kill(r->litestream_pid, SIGTERM);
            r->final_term_sent = true;
        }
    }
}
