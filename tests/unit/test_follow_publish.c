/* SPDX-License-Identifier: MIT */
/* follow_publish: a follower's private copy published into the app's database under SQLite's locks. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "follow_publish.h"

struct fixture {
    char dir[64];
    char a[96], b[96], journal[112];
    int a_fd, b_fd;
};

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

static long long count_rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/lsinit-publish-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->a, sizeof(f->a), "%s/a.db", f->dir);
    snprintf(f->b, sizeof(f->b), "%s/b.db", f->dir);
    snprintf(f->journal, sizeof(f->journal), "%s-journal", f->b);
    /* A is what Litestream's follower writes: a database from a WAL-mode primary, checkpointed. */
    exec_sql(f->a, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<2000)"
                   "INSERT INTO t(v) SELECT hex(randomblob(100)) FROM n; PRAGMA wal_checkpoint(TRUNCATE);"
                   "PRAGMA journal_mode=DELETE;");
    f->a_fd = open(f->a, O_RDONLY | O_CLOEXEC);
    f->b_fd = open(f->b, O_RDWR | O_CREAT | O_CLOEXEC, 0444);
    assert_true(f->a_fd >= 0 && f->b_fd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close(f->a_fd);
    close(f->b_fd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static enum publish_result publish(struct fixture *f, struct publish_stats *st)
{
    char err[256] = "";
    const struct publish_options opt = {.lock_timeout_ms = 200};
    enum publish_result r = follow_publish(f->a_fd, f->b_fd, f->b, &opt, st, err, sizeof(err));
    if (r == PUBLISH_ERROR)
        fail_msg("publish: %s", err);
    return r;
}

static void test_first_publish_fills_an_empty_file(void **state)
{
    struct fixture *f = *state;
    struct publish_stats st;
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    assert_true(st.changed);
    assert_int_equal(st.pages_written, st.pages);
    assert_int_not_equal(access(f->journal, F_OK), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->b, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(count_rows(db), 2000);
    sqlite3_stmt *st2 = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st2, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st2), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st2, 0), "ok");
    sqlite3_finalize(st2);
    sqlite3_close(db);
    /* Rollback-journal mode in B's header: readers check the change counter. */
    unsigned char h[20];
    assert_int_equal(pread(f->b_fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
    assert_int_equal(h[18], 1);
    assert_int_equal(h[19], 1);
}

static void test_an_open_reader_sees_the_next_publish(void **state)
{
    struct fixture *f = *state;
    struct publish_stats st;
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->b, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(count_rows(db), 2000); /* its page cache now holds B's pages */
    exec_sql(f->a, "INSERT INTO t(v) VALUES ('one more'); DELETE FROM t WHERE id <= 10;");
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    assert_true(st.changed);
    assert_true(st.pages_written >= 2 && st.pages_written < st.pages);
    assert_int_equal(count_rows(db), 1991);
    sqlite3_close(db);
    /* Nothing changed: nothing written, readers keep their caches. */
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    assert_false(st.changed);
    assert_int_equal(st.pages_written, 0);
}

static void test_the_app_cannot_write_the_published_copy(void **state)
{
    struct fixture *f = *state;
    struct publish_stats st;
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    /* As root the app would ignore the 0444 mode: lsinit drops its CAP_DAC_OVERRIDE (tested end to end);
     * here a child becomes nobody, whom the mode binds the same way. */
    assert_int_equal(chmod(f->dir, 0755), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0)
            _exit(2);
        sqlite3 *db = NULL;
        if (sqlite3_open(f->b, &db) != SQLITE_OK) /* read-write asked, read-only given */
            _exit(3);
        char *msg = NULL;
        int rc = sqlite3_exec(db, "INSERT INTO t(v) VALUES ('x')", NULL, NULL, &msg);
        bool loud = rc == SQLITE_READONLY && msg != NULL && strstr(msg, "readonly") != NULL;
        sqlite3_free(msg);
        sqlite3_close(db);
        _exit(loud ? 0 : 4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_not_equal(access(f->journal, F_OK), 0);
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    assert_false(st.changed); /* the copy is as published */
}

static void test_a_reader_inside_a_transaction_makes_it_busy(void **state)
{
    struct fixture *f = *state;
    struct publish_stats st;
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->b, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN; SELECT count(*) FROM t;", NULL, NULL, NULL), SQLITE_OK);
    exec_sql(f->a, "INSERT INTO t(v) VALUES ('during a read');");
    /* A child publishes: POSIX locks of one process never conflict with each other. */
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        const struct publish_options opt = {.lock_timeout_ms = 100};
        _exit(follow_publish(f->a_fd, f->b_fd, f->b, &opt, &st, err, sizeof(err)) == PUBLISH_BUSY ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(count_rows(db), 2000); /* the reader's snapshot was not touched */
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_not_equal(access(f->journal, F_OK), 0);
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    assert_int_equal(count_rows(db), 2001);
    sqlite3_close(db);
}

static long long changed_rows(sqlite3 *db, int *rc)
{
    sqlite3_stmt *q = NULL;
    long long n = -1;
    *rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE v = 'changed'", -1, &q, NULL);
    if (*rc == SQLITE_OK && (*rc = sqlite3_step(q)) == SQLITE_ROW) {
        n = sqlite3_column_int64(q, 0);
        *rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return n;
}

static void test_a_publish_cut_short_leaves_a_hot_journal(void **state)
{
    struct fixture *f = *state;
    struct publish_stats st;
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    exec_sql(f->a, "UPDATE t SET v = 'changed' WHERE id % 7 = 0;");
    char err[256] = "";
    const struct publish_options crash = {.lock_timeout_ms = 200, .crash_before_commit = true};
    assert_int_equal(follow_publish(f->a_fd, f->b_fd, f->b, &crash, &st, err, sizeof(err)), PUBLISH_OK);
    assert_int_equal(access(f->journal, F_OK), 0);
    /* A read-only reader (the app) cannot roll the journal back: it fails loudly, it does not read on. */
    sqlite3 *db = NULL;
    int rc = 0;
    assert_int_equal(sqlite3_open_v2(f->b, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(changed_rows(db, &rc), -1);
    assert_int_equal(rc & 0xff, SQLITE_READONLY);
    sqlite3_close(db);
    /* The journal is a valid SQLite journal: a writer rolls B back to the last whole publish. */
    assert_int_equal(chmod(f->b, 0644), 0);
    assert_int_equal(sqlite3_open(f->b, &db), SQLITE_OK);
    assert_int_equal(changed_rows(db, &rc), 0);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
    assert_int_not_equal(access(f->journal, F_OK), 0);
    /* and the next publish brings it to A's state. */
    assert_int_equal(publish(f, &st), PUBLISH_OK);
    assert_int_equal(sqlite3_open_v2(f->b, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(changed_rows(db, &rc), 285);
    sqlite3_close(db);
}

static void test_page_size_from_the_header(void **state)
{
    (void)state;
    unsigned char h[100] = "SQLite format 3";
    h[16] = 0x10;
    h[17] = 0x00;
    assert_int_equal(follow_page_size(h, sizeof(h)), 4096);
    h[16] = 0;
    h[17] = 1;
    assert_int_equal(follow_page_size(h, sizeof(h)), 65536);
    h[16] = 0x0c;
    assert_int_equal(follow_page_size(h, sizeof(h)), 0); /* not a power of two */
    assert_int_equal(follow_page_size(h, 50), 0);
    memcpy(h, "SQLite format 2", 16);
    assert_int_equal(follow_page_size(h, sizeof(h)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_publish_fills_an_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_open_reader_sees_the_next_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_app_cannot_write_the_published_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_reader_inside_a_transaction_makes_it_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_publish_cut_short_leaves_a_hot_journal, setup, teardown),
        cmocka_unit_test(test_page_size_from_the_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
