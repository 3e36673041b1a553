/* SPDX-License-Identifier: MIT */
#include "shim.h"

#include <errno.h>
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
#include "metrics_client.h"
#include "parse.h"
#include "signals.h"
#include "spawn.h"

#define SHIM_MAX_DBS 32
#define SHIM_FIRST_TICK_MS 1000
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
    int64_t wait_ms;
    struct shim_db dbs[SHIM_MAX_DBS];
    size_t db_count;
    char **command;
    int64_t app_started_ms;
    char *env_block;
    char **envp;
};

static void shim_report(const struct shim *s, const char *kind, long a, long b)
{
    char line[SHIM_REPORT_MAX];
    int n = snprintf(line, sizeof(line), "%s %ld %ld\n", kind, a, b);
    if (n > 0 && s->report_fd >= 0) {
        /* Under PIPE_BUF: one atomic write. */
        ssize_t ignored = write(s->report_fd, line, (size_t)n);
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
    for (size_t i = 0; i < len && k < count + 1; ) {
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

/*
 * True once litestream has synced db at least once and its replica has
 * uploaded the shadow WAL up to that sync's position: the replica goroutine is
 * idle. Litestream v0.3's shutdown (DB.Close) runs its own final Replica.Sync
 * without stopping that goroutine first; released while it uploads, both
 * write the same WAL segment (file replica: "client write: stat
 * ....wal.lz4.tmp: no such file or directory"), litestream exits 1 and lsinit
 * reports a failed final sync (75). Assumes one replica per database (what
 * lsinit generates); metrics_find reads the first replica's gauges.
 */
static bool shim_litestream_idle(const char *text, const char *db)
{
    return metrics_replica_caught_up(text, db) == 1;
}

/*
 * Litestream v0.3 opens each database lazily on its first monitor tick, and
 * skips the final sync of a database it never opened (litestream #436). When
 * the app changed a database, wait until Litestream has synced it at least
 * once and its replica has caught up; then Litestream's shutdown sync covers
 * every write, alone.
 */
static void shim_wait_for_litestream(const struct shim *s)
{
    if (s->metrics_addr == NULL || s->metrics_addr[0] == '\0' || s->wait_ms <= 0)
        return;
    int64_t deadline = clock_now_ms() + s->wait_ms;
    /*
     * Litestream opens a database on its first monitor tick (1 s by default):
     * an app that ran for less than half of that left nothing in flight to
     * race with, so an unchanged database needs no look at the metrics.
     */
    char *first = clock_now_ms() - s->app_started_ms >= SHIM_FIRST_TICK_MS / 2 ? metrics_fetch(s->metrics_addr, 500) : NULL;
    for (size_t i = 0; i < s->db_count; i++) {
        /*
         * An unchanged database still needs the wait when litestream is in
         * the middle of uploading it (a first snapshot after a restore):
         * v0.3's Close syncs concurrently with that upload and can fail.
         */
        double count = 0;
        bool busy = first != NULL && metrics_find(first, "litestream_sync_count", s->dbs[i].path, &count) == 0 &&
                    count >= 1 && !shim_litestream_idle(first, s->dbs[i].path);
        if (!busy && !shim_db_changed(&s->dbs[i]))
            continue;
        bool idle = false;
        while (!idle && clock_now_ms() < deadline) {
            char *text = metrics_fetch(s->metrics_addr, 500);
            if (text != NULL)
                idle = shim_litestream_idle(text, s->dbs[i].path);
            free(text);
            if (!idle) {
                struct timespec ts = {0, 50 * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        if (!idle)
            log_warn("litestream has not caught up with %s yet; its final sync may miss the app's last writes",
                     s->dbs[i].path);
    }
    free(first);
}

static int shim_parse(struct shim *s, int argc, char **argv)
{
    /* __shim PARENT_PID REPORT_FD METRICS_ADDR WAIT_MS [DB...] -- COMMAND... */
    if (argc < 7)
        return -1;
    long fd = -1, wait_ms = 0;
    if (parse_int_range(argv[2], 1, 1L << 30, &s->parent_pid) != 0 || parse_int_range(argv[3], -1, 1 << 20, &fd) != 0 ||
        parse_int_range(argv[5], 0, 1L << 30, &wait_ms) != 0)
        return -1;
    s->metrics_addr = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
    s->wait_ms = wait_ms;
    int i = 6;
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
                  "litestream's environment (it holds copied credentials)", s.parent_pid);
        shim_report(&s, "execfail", (long)getpid(), (long)EACCES);
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
        log_error("cannot run %s: %m%s", s.command[0], errno == ENOENT ? " (not found: check the command name and PATH)" : "");
        shim_report(&s, "execfail", (long)getpid(), (long)(exec_errno != 0 ? exec_errno : ENOEXEC));
        free(s.envp);
        free(s.env_block);
        return 0;
    }
    shim_report(&s, "app", (long)getpid(), (long)app);

    int status = 0;
    for (;;) {
        struct pollfd pfd = {.fd = sig->fd, .events = POLLIN};
        pid_t done = waitpid(app, &status, WNOHANG);
        if (done == app)
            break;
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            break;
        struct signalfd_siginfo info;
        while (read(sig->fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
            if ((int)info.ssi_signo != SIGCHLD)
                (void)kill(app, (int)info.ssi_signo);
        }
    }
    shim_report(&s, "exit", (long)getpid(), (long)status);
    shim_wait_for_litestream(&s);
    free(s.envp);
    free(s.env_block);
    if (s.report_fd >= 0)
        close(s.report_fd);
    /* Always 0: Litestream runs its final sync only after a clean exit. */
    return 0;
}
