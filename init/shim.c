/* SPDX-License-Identifier: MIT */
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "ls_socket.h"
#include "metrics_client.h"
#include "parse.h"
#include "proc.h"
#include "signals.h"
#include "spawn.h"

#define SHIM_MAX_DBS 32
#define SHIM_FIRST_TICK_MS 1000
#define SHIM_POLL_MS 50
/* 0.3: how often to look at Litestream's open files for an upload in flight. */
#define SHIM_FD_POLL_MS 20
/* 0.5: the longest one sync -wait request may take before lsinit hears "not confirmed yet". */
#define SHIM_SYNC_ATTEMPT_MS 5000
/* 0.3: monitor ticks after which a database's first upload is over (or had nothing to send). */
#define SHIM_FIRST_UPLOAD_TICKS 3
/* 0.3: Litestream reading this much within one look is uploading (a snapshot reads the whole database). */
#define SHIM_BUSY_READ_BYTES (64LL * 1024)
#define SHIM_ENV_MAX ((size_t)4 * 1024 * 1024)

struct shim_db {
    const char *path;
    struct stat db_before;
    struct stat wal_before;
    bool db_existed;
    bool wal_existed;
};

struct shim {
    long parent_pid;
    int report_fd;
    const char *metrics_addr;
    const char *socket_path; /* Litestream 0.5's control socket, or NULL (0.3) */
    int64_t wait_ms;
    struct shim_db dbs[SHIM_MAX_DBS];
    size_t db_count;
    char **command;
    int64_t app_started_ms;
    char *env_block;
    char **envp;
};

static const char *const shim_report_names[] = {"app", "exit", "execfail", "sync"};

size_t shim_report_format(const struct shim_report *r, char *buf, size_t size)
{
    if ((unsigned)r->kind >= sizeof(shim_report_names) / sizeof(shim_report_names[0]))
        return 0;
    int n = snprintf(buf, size, "%s %ld %ld\n", shim_report_names[r->kind], r->shim_pid, r->value);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int shim_report_parse(const char *line, struct shim_report *out)
{
    char kind[16];
    long a = 0, b = 0;
    int used = 0;
    if (sscanf(line, "%15s %ld %ld%n", kind, &a, &b, &used) != 3 || line[used] != '\0')
        return -1;
    for (size_t i = 0; i < sizeof(shim_report_names) / sizeof(shim_report_names[0]); i++) {
        if (strcmp(kind, shim_report_names[i]) == 0) {
            out->kind = (enum shim_report_kind)i;
            out->shim_pid = a;
            out->value = b;
            return 0;
        }
    }
    return -1;
}

static void shim_report(const struct shim *s, enum shim_report_kind kind, long a, long b)
{
    char line[SHIM_REPORT_MAX];
    struct shim_report r = {.kind = kind, .shim_pid = a, .value = b};
    size_t n = shim_report_format(&r, line, sizeof(line));
    if (n > 0 && s->report_fd >= 0) {
        /* Under PIPE_BUF: one atomic write. */
        ssize_t ignored = write(s->report_fd, line, n);
        (void)ignored;
    }
}

/*
 * The app's environment is lsinit's own starting environment, read from
 * /proc/<lsinit>/environ: exactly what the container started with, whatever
 * Litestream added to its own copy.
 */
static int shim_load_environment(struct shim *s)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/environ", s->parent_pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= SHIM_ENV_MAX)
                break;
            cap *= 2;
            char *grown = realloc(buf, cap + 1);
            if (grown == NULL)
                break;
            buf = grown;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    size_t count = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\0')
            count++;
    }
    char **envp = calloc(count + 2, sizeof(char *));
    if (envp == NULL) {
        free(buf);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < len && k < count + 1;) {
        envp[k++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    envp[k] = NULL;
    s->env_block = buf;
    s->envp = envp;
    return 0;
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void shim_snapshot(struct shim_db *db)
{
    char wal[4200];
    snprintf(wal, sizeof(wal), "%s-wal", db->path);
    db->db_existed = stat(db->path, &db->db_before) == 0;
    db->wal_existed = stat(wal, &db->wal_before) == 0;
}

static bool shim_db_changed(const struct shim_db *db)
{
    struct stat now_db, now_wal;
    char wal[4200];
    snprintf(wal, sizeof(wal), "%s-wal", db->path);
    bool db_exists = stat(db->path, &now_db) == 0;
    bool wal_exists = stat(wal, &now_wal) == 0;
    if (!db_exists)
        return false; /* nothing to lose */
    if (!db->db_existed || !same_file_state(&now_db, &db->db_before))
        return true;
    if (wal_exists != db->wal_existed)
        return true;
    return wal_exists && !same_file_state(&now_wal, &db->wal_before);
}

static void shim_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Litestream 0.3's first steps with db, from its metrics. opened: it has
 * synced db at least once (it opens databases lazily on their first monitor
 * tick, #436). first_upload_pending: that first sync has just woken the
 * replica goroutine, whose first upload (a snapshot of a new generation,
 * then the WAL) has not written a segment yet; a database opened more than
 * two ticks ago is past that (an initial sync with nothing to upload writes
 * no segment).
 */
struct shim_v03_state {
    bool opened;
    bool first_upload_pending;
};

static struct shim_v03_state shim_v03_read(const char *metrics_addr, const char *db)
{
    struct shim_v03_state st = {false, false};
    char *text = metrics_fetch(metrics_addr, 500);
    double count = 0, index = 0;
    st.opened = text != NULL && metrics_find(text, "litestream_sync_count", db, &count) == 0 && count >= 1;
    st.first_upload_pending = st.opened && count < SHIM_FIRST_UPLOAD_TICKS &&
                              metrics_find(text, "litestream_replica_wal_index", db, &index) != 0;
    free(text);
    return st;
}

/*
 * True while process pid holds one of db's shadow WAL files open
 * (<dir>/.<name>-litestream/generations/<gen>/wal/<index>.wal). Litestream
 * 0.3 opens one for the length of each replica upload (ShadowWALReader) and
 * otherwise only for the few milliseconds of its 1 s local sync.
 */
static bool shim_v03_reading_shadow_wal(long pid, const char *db)
{
    const char *slash = strrchr(db, '/');
    if (slash == NULL)
        return false;
    char meta[PATH_MAX];
    int n = snprintf(meta, sizeof(meta), "%.*s/.%s-litestream/generations/", (int)(slash - db), db, slash + 1);
    if (n <= 0 || (size_t)n >= sizeof(meta))
        return false;
    char dir_path[64];
    snprintf(dir_path, sizeof(dir_path), "/proc/%ld/fd", pid);
    DIR *dir = opendir(dir_path);
    if (dir == NULL)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char target[PATH_MAX];
        ssize_t len = readlinkat(dirfd(dir), e->d_name, target, sizeof(target) - 1);
        if (len <= 4)
            continue;
        target[len] = '\0';
        found = strncmp(target, meta, (size_t)n) == 0 && strcmp(target + len - 4, ".wal") == 0;
    }
    closedir(dir);
    return found;
}

/* Bytes process pid has read so far (rchar in /proc/<pid>/io), or -1. */
static long long shim_proc_rchar(long pid)
{
    char buf[512];
    if (proc_read(pid, "io", buf, sizeof(buf)) < 0)
        return -1;
    const char *p = strstr(buf, "rchar:");
    return p != NULL ? strtoll(p + 6, NULL, 10) : -1;
}

/*
 * Litestream 0.3: wait for exactly what its shutdown's final sync needs, and
 * nothing else — in particular not for the next sync tick: the shutdown
 * uploads everything itself, whatever the sync interval.
 *  1. A database the app changed must have been opened by Litestream: it
 *     opens databases on their first monitor tick and skips the final sync of
 *     one it never opened (litestream #436).
 *  2. No upload may be in flight: v0.3's DB.Close runs Replica.Sync without
 *     stopping the replica goroutine first; if that goroutine is uploading,
 *     both write the same WAL segment ("client write: stat ....wal.lz4.tmp:
 *     no such file or directory") and litestream exits 1. The first sync of
 *     a database wakes the replica goroutine for its first upload at once
 *     (whatever the sync interval): wait for its first segment. Later, a
 *     WAL upload holds a shadow WAL file open; a snapshot upload reads the
 *     database fast.
 *     Wait until Litestream shows neither on two looks in a row (it reopens
 *     a shadow WAL per segment) — one look while it has not opened the
 *     database yet, when no snapshot can run. Should a race still happen (an
 *     upload that starts right after the last look), lsinit's second sync
 *     pass covers it.
 * Returns the milliseconds waited.
 */
static int64_t shim_wait_v03(const struct shim *s, int64_t deadline)
{
    int64_t t0 = clock_now_ms();
    long litestream = (long)getppid();
    bool under_litestream = litestream != s->parent_pid; /* after a restart the shim's parent is lsinit */
    for (size_t i = 0; i < s->db_count; i++) {
        const char *db = s->dbs[i].path;
        const char *waiting_for = NULL;
        bool changed = shim_db_changed(&s->dbs[i]);
        struct shim_v03_state st;
        for (;;) {
            st = shim_v03_read(s->metrics_addr, db);
            if (changed && !st.opened)
                waiting_for = "litestream to open it (its first monitor tick)";
            else if (st.first_upload_pending)
                waiting_for = "its first upload to finish";
            else
                waiting_for = NULL;
            if (waiting_for == NULL || clock_now_ms() >= deadline)
                break;
            shim_sleep_ms(SHIM_POLL_MS);
        }
        /*
         * Until Litestream has opened the database (its first monitor tick) no snapshot can run (Replica.Snapshot
         * needs the open database) and a WAL upload holds a shadow WAL open for its whole length: one look
         * settles it. Once opened, a snapshot shows only as a read rate, which takes two looks.
         */
        int quiet = 0, looks = st.opened ? 2 : 1;
        long long rchar = shim_proc_rchar(litestream);
        while (waiting_for == NULL && under_litestream && quiet < looks) {
            /*
             * A snapshot upload (the first of a generation) reads the whole
             * database through a file Litestream keeps open: it shows as a
             * read rate, not as a new open file.
             */
            long long now_rchar = shim_proc_rchar(litestream);
            bool reading = rchar >= 0 && now_rchar - rchar >= SHIM_BUSY_READ_BYTES;
            rchar = now_rchar;
            if (reading || shim_v03_reading_shadow_wal(litestream, db)) {
                quiet = 0;
                if (clock_now_ms() >= deadline) {
                    waiting_for = "the upload in progress to finish";
                    break;
                }
            } else {
                quiet++;
            }
            if (quiet < looks)
                shim_sleep_ms(SHIM_FD_POLL_MS);
        }
        if (waiting_for != NULL)
            log_warn("litestream has not caught up with %s yet (waited for %s); its final sync may miss the "
                     "app's last writes",
                     db, waiting_for);
    }
    return clock_now_ms() - t0;
}

/*
 * Litestream 0.5: ask it, through its control socket, to upload every
 * database now and answer when the replica holds it all. Its shutdown then
 * has nothing left to upload, and lsinit learns whether the app's last
 * writes are safe (0.5's replicate exits 0 even when its shutdown sync
 * failed). A database Litestream has not opened yet (#436: created by the
 * app before the first monitor tick) answers "not open" until that tick.
 */
static enum shim_sync shim_sync_v05(const struct shim *s, int64_t deadline)
{
    enum shim_sync verdict = SHIM_SYNC_CONFIRMED;
    for (size_t i = 0; i < s->db_count; i++) {
        const char *db = s->dbs[i].path;
        struct ls_sync_result res;
        for (;;) {
            /*
             * One attempt waits at most SHIM_SYNC_ATTEMPT_MS: an upload that
             * takes longer (a big backlog, an unreachable replica) is left to
             * Litestream's own shutdown, and lsinit hears "not confirmed" now,
             * so /healthz can say why the stop is slow.
             */
            int64_t left = deadline - clock_now_ms();
            if (left > SHIM_SYNC_ATTEMPT_MS)
                left = SHIM_SYNC_ATTEMPT_MS;
            if (left < 1000)
                left = 1000;
            int64_t asked = clock_now_ms();
            if (ls_socket_sync(s->socket_path, db, true, (long)left, &res) == 0)
                break;
            if (res.outcome == LS_SYNC_NO_ANSWER && clock_now_ms() - asked >= left)
                res.outcome = LS_SYNC_FAILED; /* it took the whole attempt: not "no socket yet" */
            struct stat st;
            bool exists = stat(db, &st) == 0;
            if (res.outcome == LS_SYNC_NOT_OPEN && !exists)
                break; /* never created: nothing to lose */
            if (res.outcome == LS_SYNC_FAILED && strstr(res.error, "waiting for data") != NULL)
                break; /* Litestream holds no transaction of it at all even after this sync: nothing to lose */
            bool retry = res.outcome == LS_SYNC_NOT_OPEN || res.outcome == LS_SYNC_NO_ANSWER;
            if (!retry || clock_now_ms() >= deadline) {
                log_warn("litestream could not confirm that %s is in its replica before its shutdown (%s); "
                         "lsinit checks again after it",
                         db, res.error);
                verdict = SHIM_SYNC_FAILED;
                break;
            }
            shim_sleep_ms(SHIM_POLL_MS);
        }
    }
    return verdict;
}

static int shim_parse(struct shim *s, int argc, char **argv)
{
    /* __shim PARENT_PID REPORT_FD METRICS_ADDR|- SOCKET|- WAIT_MS [DB...] -- COMMAND... */
    if (argc < 8)
        return -1;
    long fd = -1, wait_ms = 0;
    if (parse_int_range(argv[2], 1, 1L << 30, &s->parent_pid) != 0 || parse_int_range(argv[3], -1, 1 << 20, &fd) != 0 ||
        parse_int_range(argv[6], 0, 1L << 30, &wait_ms) != 0)
        return -1;
    s->metrics_addr = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
    s->socket_path = strcmp(argv[5], "-") == 0 ? NULL : argv[5];
    s->wait_ms = wait_ms;
    int i = 7;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (s->db_count < SHIM_MAX_DBS)
            s->dbs[s->db_count++].path = argv[i];
    }
    if (i >= argc - 1)
        return -1;
    s->command = argv + i + 1;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/fd/%ld", s->parent_pid, fd);
    s->report_fd = fd >= 0 ? open(path, O_WRONLY | O_CLOEXEC) : -1;
    return 0;
}

int shim_main(int argc, char **argv, const struct signal_state *sig)
{
    struct shim s;
    memset(&s, 0, sizeof(s));
    s.report_fd = -1;
    if (shim_parse(&s, argc, argv) != 0) {
        log_error("shim: bad arguments (this mode is internal to lsinit)");
        return 1;
    }
    if (shim_load_environment(&s) != 0) {
        log_error("cannot read lsinit's environment from /proc/%ld/environ: %m; not starting the app with "
                  "litestream's environment (it holds copied credentials)",
                  s.parent_pid);
        shim_report(&s, SHIM_REPORT_EXECFAIL, (long)getpid(), (long)EACCES);
        return 0;
    }
    for (size_t i = 0; i < s.db_count; i++)
        shim_snapshot(&s.dbs[i]);

    int exec_errno = 0;
    struct spawn_request req = {
        .argv = s.command,
        .envp = s.envp,
        .child_mask = &sig->original_mask,
        .cwd = NULL,
        .new_pgrp = true,
        .foreground = true,
    };
    s.app_started_ms = clock_now_ms();
    pid_t app = spawn_process(&req, &exec_errno);
    if (app < 0) {
        errno = exec_errno != 0 ? exec_errno : errno;
        log_error("cannot run %s: %m%s", s.command[0],
                  errno == ENOENT ? " (not found: check the command name and PATH)" : "");
        shim_report(&s, SHIM_REPORT_EXECFAIL, (long)getpid(), (long)(exec_errno != 0 ? exec_errno : ENOEXEC));
        free(s.envp);
        free(s.env_block);
        return 0;
    }
    shim_report(&s, SHIM_REPORT_APP, (long)getpid(), (long)app);

    int status = 0;
    (void)signals_wait_forwarding(sig, app, &status);
    shim_report(&s, SHIM_REPORT_EXIT, (long)getpid(), (long)status);
    int64_t deadline = clock_now_ms() + s.wait_ms;
    if (s.socket_path != NULL) {
        int64_t t0 = clock_now_ms();
        enum shim_sync verdict = shim_sync_v05(&s, deadline);
        shim_report(&s, SHIM_REPORT_SYNC, (long)getpid(), (long)verdict);
        log_debug("shim: litestream synced the app's last writes in %lldms (%s)", (long long)(clock_now_ms() - t0),
                  verdict == SHIM_SYNC_CONFIRMED ? "confirmed" : "not confirmed");
    } else if (s.metrics_addr != NULL && s.wait_ms > 0) {
        int64_t waited = shim_wait_v03(&s, deadline);
        log_debug("shim: waited %lldms for litestream before its shutdown", (long long)waited);
    }
    free(s.envp);
    free(s.env_block);
    if (s.report_fd >= 0)
        close(s.report_fd);
    /* Always 0: Litestream runs its final sync only after a clean exit. */
    return 0;
}
