/* SPDX-License-Identifier: MIT */
/*
 * plan_build (init/plan.c): the environment + an optional base
 * litestream.yml → the config litestream reads, the databases, the metrics
 * address and the control socket; rendering (redacted) and the sealed
 * in-memory config file. plan_build only ever sees the synthetic envp arrays
 * built here; a copy of /bin/true stands in for litestream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exit_codes.h"
#include "litestream.h"
#include "ls_config.h"
#include "plan.h"
#include "yaml_tree.h"

#define CONFIG_TEST_IS_SECRET ls_config_is_secret_key
#include "config_test_helpers.h"

/* ---- temp dir with a fake litestream ------------------------------------ */

static struct plan the_plan;
static char plan_err[1024];
static char tmpdir[64];
static char ls_bin[128];
static char ls_env[160];
static char tmp_files[16][160];
static size_t tmp_file_count;

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/lsinit-test-config-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    /* A copy of /bin/true stands in for litestream: it is never run. */
    int in = open("/bin/true", O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    static char buf[1 << 20];
    ssize_t n = read(in, buf, sizeof(buf));
    close(in);
    if (n <= 0)
        return -1;
    snprintf(ls_bin, sizeof(ls_bin), "%s/litestream", tmpdir);
    if (write_file(ls_bin, buf, (size_t)n, 0755) != 0)
        return -1;
    snprintf(ls_env, sizeof(ls_env), "LSINIT_LITESTREAM=%s", ls_bin);
    the_plan.config_fd = -1; /* plan_free closes config_fd when >= 0 */
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < tmp_file_count; i++)
        unlink(tmp_files[i]);
    unlink(ls_bin);
    rmdir(tmpdir);
    return 0;
}

/* Writes a config file into the temp dir; returns its path (static storage). */
static const char *temp_config(const char *name, const char *text)
{
    assert_true(tmp_file_count < sizeof(tmp_files) / sizeof(tmp_files[0]));
    char *path = tmp_files[tmp_file_count++];
    snprintf(path, sizeof(tmp_files[0]), "%s/%s", tmpdir, name);
    assert_int_equal(write_file(path, text, strlen(text), 0644), 0);
    return path;
}

/* plan_build with extra (first, so they win) + the fake litestream + version. */
static int build(const char *version, const char *cwd, const char *const *extra)
{
    char *envp[64];
    size_t n = 0;
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        envp[n++] = (char *)extra[i];
    char vbuf[64];
    if (version != NULL) {
        snprintf(vbuf, sizeof(vbuf), "LSINIT_LITESTREAM_VERSION=%s", version);
        envp[n++] = vbuf;
    }
    envp[n++] = ls_env;
    envp[n] = NULL;
    sigset_t mask;
    sigemptyset(&mask);
    plan_err[0] = '\0';
    plan_free(&the_plan);
    return plan_build(&the_plan, envp, cwd != NULL ? cwd : "/", &mask, plan_err, sizeof(plan_err));
}

static struct plan *build_ok(const char *version, const char *cwd, const char *const *extra)
{
    int rc = build(version, cwd, extra);
    if (rc != 0)
        print_error("plan_build failed (%d): %s\n", rc, plan_err);
    assert_int_equal(rc, 0);
    assert_true(the_plan.enabled);
    assert_non_null(the_plan.config);
    return &the_plan;
}

static void build_fails(const char *version, const char *const *extra, int code, const char *want1, const char *want2)
{
    int rc = build(version, "/", extra);
    if (rc != code || strstr(plan_err, want1) == NULL || (want2 != NULL && strstr(plan_err, want2) == NULL))
        print_error("plan_build = %d '%s'; want %d with '%s' / '%s'\n", rc, plan_err, code, want1,
                    want2 != NULL ? want2 : "");
    assert_int_equal(rc, code);
    assert_non_null(strstr(plan_err, want1));
    if (want2 != NULL)
        assert_non_null(strstr(plan_err, want2));
}

static int test_teardown(void **state)
{
    (void)state;
    plan_free(&the_plan);
    return 0;
}

#define E(...) ((const char *const[]){__VA_ARGS__, NULL})

/* =========================================================================
 * plan_build
 * ========================================================================= */

static void test_plan_plain_init(void **state)
{
    (void)state;
    assert_int_equal(build("0.3.13", "/", E("HOME=/root")), 0);
    assert_false(the_plan.enabled);
    assert_int_equal(build("0.3.13", "/", E("LSINIT_DB=")), 0);
    assert_false(the_plan.enabled);
}

static void test_plan_file_single(void **state)
{
    (void)state;
    struct plan *p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=file:///backup/app"));
    assert_int_equal(p->db_count, 1);
    assert_string_equal(p->dbs[0].path, "/data/app.db");
    assert_string_equal(p->litestream, ls_bin);
    assert_string_equal(p->version.text, "v0.3.13");
    assert_str_at(p->config, P("dbs", "#0", "path"), "/data/app.db");
    const struct ynode *reps = at(p->config, P("dbs", "#0", "replicas"));
    assert_non_null(reps);
    assert_int_equal(reps->kind, YNODE_SEQ);
    assert_int_equal(reps->count, 1);
    assert_str_at(p->config, R03("type"), "file");
    assert_str_at(p->config, R03("path"), "/backup/app");
    assert_null(at(p->config, P("dbs", "#0", "replica")));
    assert_null(at(p->config, P("socket")));
    assert_string_equal(p->socket_path, "");
    assert_string_equal(p->config_source, "");
    /* The rendered config is valid for this version. */
    char *text = plan_render(p, false);
    assert_non_null(text);
    struct ynode *back = parse_ok(text);
    char err[512] = "";
    assert_int_equal(ls_config_validate(back, &p->version, "rendered", err, sizeof(err)), 0);
    assert_same_tree(p->config, back);
    ynode_free(back);
    free(text);
}

static void test_plan_file_two_dbs(void **state)
{
    (void)state;
    struct plan *p =
        build_ok("0.3.13", "/", E("LSINIT_DB= /data/a.db , /data/b.db,", "LSINIT_REPLICA_URL=file:///backup/"));
    assert_int_equal(p->db_count, 2);
    assert_string_equal(p->dbs[0].path, "/data/a.db");
    assert_string_equal(p->dbs[1].path, "/data/b.db");
    assert_str_at(p->config, R03("path"), "/backup/a.db");
    assert_str_at(p->config, P("dbs", "#1", "replicas", "#0", "path"), "/backup/b.db");
    /* The root as the replica directory. */
    p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/a.db,/data/b.db", "LSINIT_REPLICA_URL=file:///"));
    assert_str_at(p->config, R03("path"), "/a.db");
    assert_str_at(p->config, P("dbs", "#1", "replicas", "#0", "path"), "/b.db");
    /* Naming the same database twice lists it once. */
    p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/a.db,/data/a.db", "LSINIT_REPLICA_URL=file:///backup"));
    assert_int_equal(p->db_count, 1);
    assert_str_at(p->config, R03("path"), "/backup");
}

static void test_plan_s3_url_paths(void **state)
{
    (void)state;
    struct plan *p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=s3://bkt"));
    assert_str_at(p->config, R03("type"), "s3");
    assert_str_at(p->config, R03("bucket"), "bkt");
    assert_str_at(p->config, R03("path"), "app.db");
    assert_null(at(p->config, R03("endpoint")));
    assert_null(at(p->config, R03("region")));
    assert_null(at(p->config, R03("force-path-style")));
    assert_null(at(p->config, R03("access-key-id")));
    p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=s3://bkt/backups/app/"));
    assert_str_at(p->config, R03("path"), "backups/app");
    p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/a.db,/x/b.db", "LSINIT_REPLICA_URL=s3://bkt//backups"));
    assert_str_at(p->config, R03("path"), "backups/a.db");
    assert_str_at(p->config, P("dbs", "#1", "replicas", "#0", "path"), "backups/b.db");
    /* abs and sftp shapes. */
    p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=abs://acct@cont/p"));
    assert_str_at(p->config, R03("type"), "abs");
    assert_str_at(p->config, R03("account-name"), "acct");
    assert_str_at(p->config, R03("bucket"), "cont");
    assert_str_at(p->config, R03("path"), "p");
    p = build_ok("0.3.13", "/",
                 E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=sftp://me:pw@host:2022/srv/b",
                   "LSINIT_SFTP_HOST_KEY=ssh-ed25519 AAAA"));
    assert_str_at(p->config, R03("type"), "sftp");
    assert_str_at(p->config, R03("host"), "host:2022");
    assert_str_at(p->config, R03("user"), "me");
    assert_str_at(p->config, R03("password"), "pw");
    assert_str_at(p->config, R03("path"), "/srv/b");
    assert_null(at(p->config, R03("host-key"))); /* 0.5.3+ only */
    p = build_ok("0.5.16", "/",
                 E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=sftp://me@host/srv/b", "LSINIT_SFTP_PASSWORD=envpw",
                   "LSINIT_SFTP_HOST_KEY=ssh-ed25519 AAAA"));
    assert_str_at(p->config, R05("password"), "envpw");
    assert_str_at(p->config, R05("host-key"), "ssh-ed25519 AAAA");
}

static void test_plan_bucket_env(void **state)
{
    (void)state;
    static const char *const db = "LSINIT_DB=/data/app.db";
    struct plan *p = build_ok("0.3.13", "/", E(db, "BUCKET_NAME=b3", "AWS_BUCKET=b2", "LITESTREAM_REPLICA_BUCKET=b1"));
    assert_str_at(p->config, R03("type"), "s3");
    assert_str_at(p->config, R03("bucket"), "b1");
    assert_str_at(p->config, R03("path"), "app.db");
    p = build_ok("0.3.13", "/", E(db, "BUCKET_NAME=b3", "AWS_BUCKET=b2"));
    assert_str_at(p->config, R03("bucket"), "b2");
    p = build_ok("0.3.13", "/", E(db, "BUCKET_NAME=b3"));
    assert_str_at(p->config, R03("bucket"), "b3");
    /* An empty variable does not count. */
    p = build_ok("0.3.13", "/", E(db, "LITESTREAM_REPLICA_BUCKET=", "AWS_BUCKET=b2"));
    assert_str_at(p->config, R03("bucket"), "b2");
    /* The prefix, with its slashes trimmed. */
    p = build_ok("0.3.13", "/", E(db, "AWS_BUCKET=b2", "LSINIT_PATH_PREFIX=/svc/prod/"));
    assert_str_at(p->config, R03("path"), "svc/prod/app.db");
    p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/a.db,/data/b.db", "AWS_BUCKET=b2", "LSINIT_PATH_PREFIX=pre"));
    assert_str_at(p->config, R03("path"), "pre/a.db");
    assert_str_at(p->config, P("dbs", "#1", "replicas", "#0", "path"), "pre/b.db");
    /* The URL wins over the bucket variables. */
    p = build_ok("0.3.13", "/", E(db, "LSINIT_REPLICA_URL=file:///bk", "LITESTREAM_REPLICA_BUCKET=b1"));
    assert_str_at(p->config, R03("type"), "file");
    /* A URL in a bucket variable is refused, naming it. */
    build_fails("0.3.13", E(db, "AWS_BUCKET=s3://b2/x"), EXIT_CONFIG, "AWS_BUCKET", "bucket name");
}

static void test_plan_credentials(void **state)
{
    (void)state;
    static const char *const db = "LSINIT_DB=/data/app.db";
    static const char *const url = "LSINIT_REPLICA_URL=s3://bkt/p";
    struct plan *p = build_ok("0.3.13", "/",
                              E(db, url, "AWS_ACCESS_KEY_ID=AK", "AWS_SECRET_ACCESS_KEY=AS",
                                "LITESTREAM_ACCESS_KEY_ID=LK", "LITESTREAM_SECRET_ACCESS_KEY=LS"));
    assert_str_at(p->config, R03("access-key-id"), "LK");
    assert_str_at(p->config, R03("secret-access-key"), "LS");
    p = build_ok("0.3.13", "/", E(db, url, "AWS_ACCESS_KEY_ID=AK", "AWS_SECRET_ACCESS_KEY=AS"));
    assert_str_at(p->config, R03("access-key-id"), "AK");
    assert_str_at(p->config, R03("secret-access-key"), "AS");
    /* Rendered for people, the keys are hidden. */
    char *text = plan_render(p, true);
    assert_non_null(text);
    assert_null(strstr(text, "AS\""));
    assert_non_null(strstr(text, "<redacted>"));
    free(text);
    /* Not attached to a non-S3 replica. */
    p = build_ok("0.3.13", "/",
                 E(db, "LSINIT_REPLICA_URL=file:///bk", "AWS_ACCESS_KEY_ID=AK", "AWS_SECRET_ACCESS_KEY=AS"));
    assert_null(at(p->config, R03("access-key-id")));
}

static void test_plan_endpoint_region(void **state)
{
    (void)state;
    static const char *const db = "LSINIT_DB=/data/app.db";
    static const char *const url = "LSINIT_REPLICA_URL=s3://bkt/p";
    struct plan *p = build_ok("0.3.13", "/",
                              E(db, url, "AWS_ENDPOINT_URL=http://e3", "AWS_ENDPOINT_URL_S3=http://e2",
                                "LITESTREAM_REPLICA_ENDPOINT=https://e1", "AWS_DEFAULT_REGION=r3", "AWS_REGION=r2",
                                "LITESTREAM_REPLICA_REGION=r1"));
    assert_str_at(p->config, R03("endpoint"), "https://e1");
    assert_str_at(p->config, R03("region"), "r1");
    assert_str_at(p->config, R03("force-path-style"), "true");
    p = build_ok("0.3.13", "/",
                 E(db, url, "AWS_ENDPOINT_URL=http://e3", "AWS_ENDPOINT_URL_S3=http://e2", "AWS_DEFAULT_REGION=r3",
                   "AWS_REGION=r2"));
    assert_str_at(p->config, R03("endpoint"), "http://e2");
    assert_str_at(p->config, R03("region"), "r2");
    p = build_ok("0.3.13", "/", E(db, url, "AWS_ENDPOINT_URL=http://e3", "AWS_DEFAULT_REGION=r3"));
    assert_str_at(p->config, R03("endpoint"), "http://e3");
    assert_str_at(p->config, R03("region"), "r3");
    /* An endpoint without a region: us-east-1 rather than GetBucketLocation. */
    p = build_ok("0.3.13", "/", E(db, url, "LITESTREAM_REPLICA_ENDPOINT=http://minio:9000"));
    assert_str_at(p->config, R03("region"), "us-east-1");
    /* A region alone. */
    p = build_ok("0.3.13", "/", E(db, url, "AWS_REGION=eu-west-1"));
    assert_str_at(p->config, R03("region"), "eu-west-1");
    assert_null(at(p->config, R03("endpoint")));
    assert_null(at(p->config, R03("force-path-style")));
    build_fails("0.3.13", E(db, url, "AWS_ENDPOINT_URL_S3=minio:9000"), EXIT_CONFIG, "AWS_ENDPOINT_URL_S3", "http://");
}

static void test_plan_force_path_style(void **state)
{
    (void)state;
    static const char *const db = "LSINIT_DB=/data/app.db";
    static const char *const url = "LSINIT_REPLICA_URL=s3://bkt/p";
    struct plan *p =
        build_ok("0.3.13", "/", E(db, url, "LITESTREAM_REPLICA_ENDPOINT=http://m", "LSINIT_FORCE_PATH_STYLE=0"));
    assert_str_at(p->config, R03("force-path-style"), "false");
    p = build_ok("0.3.13", "/", E(db, url, "LSINIT_FORCE_PATH_STYLE=true"));
    assert_str_at(p->config, R03("force-path-style"), "true");
    p = build_ok("0.3.13", "/", E(db, url, "LSINIT_FORCE_PATH_STYLE=off"));
    assert_str_at(p->config, R03("force-path-style"), "false");
    /* Written as a YAML boolean, not a string. */
    assert_false(at(p->config, R03("force-path-style"))->quoted);
    build_fails("0.3.13", E(db, url, "LSINIT_FORCE_PATH_STYLE=maybe"), EXIT_CONFIG, "LSINIT_FORCE_PATH_STYLE", NULL);
}

static void test_plan_sync_interval(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"1500ms", "1500ms"}, {"60s", "1m"},  {"2", "2s"},      {"0.5s", "500ms"},
        {"1h", "1h"},         {"90m", "90m"}, {"1m30s", "90s"}, {"10s", "10s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char var[64];
        snprintf(var, sizeof(var), "LSINIT_SYNC_INTERVAL=%s", cases[i][0]);
        struct plan *p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=file:///b", var));
        assert_str_at(p->config, R03("sync-interval"), cases[i][1]);
        assert_false(at(p->config, R03("sync-interval"))->quoted);
    }
    build_fails("0.3.13", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=file:///b", "LSINIT_SYNC_INTERVAL=0s"),
                EXIT_CONFIG, "LSINIT_SYNC_INTERVAL", NULL);
    build_fails("0.3.13", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=file:///b", "LSINIT_SYNC_INTERVAL=soon"),
                EXIT_CONFIG, "LSINIT_SYNC_INTERVAL", NULL);
}

static void test_plan_v05(void **state)
{
    (void)state;
    struct plan *p = build_ok("0.5.16", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=gs://gb/p"));
    const struct ynode *rep = at(p->config, P("dbs", "#0", "replica"));
    assert_non_null(rep);
    assert_int_equal(rep->kind, YNODE_MAP);
    assert_null(at(p->config, P("dbs", "#0", "replicas")));
    assert_str_at(p->config, R05("type"), "gs");
    assert_str_at(p->config, R05("bucket"), "gb");
    assert_str_at(p->config, R05("path"), "p");
    assert_str_at(p->config, P("socket", "enabled"), "true");
    /* Named after the databases (FNV-1a of "/data/app.db"), so lsinit's subcommands find PID 1's. */
    assert_true(strncmp(p->socket_path, "/", 1) == 0 && strstr(p->socket_path, "/.lsinit-") != NULL);
    assert_str_at(p->config, P("socket", "path"), p->socket_path);
    char first[PATH_MAX];
    snprintf(first, sizeof(first), "%s", p->socket_path);
    p = build_ok("0.5.16", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=gs://gb/p"));
    assert_string_equal(p->socket_path, first);
    p = build_ok("0.5.16", "/", E("LSINIT_DB=/data/other.db", "LSINIT_REPLICA_URL=gs://gb/p"));
    assert_string_not_equal(p->socket_path, first);
    p = build_ok("0.5.16", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=gs://gb/p"));
    char *text = plan_render(p, false);
    struct ynode *back = parse_ok(text);
    char err[512] = "";
    assert_int_equal(ls_config_validate(back, &p->version, "rendered", err, sizeof(err)), 0);
    ynode_free(back);
    free(text);
    /* gcs:// is accepted from the user and written as gs on 0.5, gcs on 0.3. */
    p = build_ok("0.5.16", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=gcs://gb/p"));
    assert_str_at(p->config, R05("type"), "gs");
    p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=gs://gb/p"));
    assert_str_at(p->config, R03("type"), "gcs");
    p = build_ok("0.5.16", "/",
                 E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=file:///b", "LSINIT_SOCKET=/run/ls.sock"));
    assert_str_at(p->config, P("socket", "path"), "/run/ls.sock");
    assert_string_equal(p->socket_path, "/run/ls.sock");
}

static void test_plan_relative_db(void **state)
{
    (void)state;
    struct plan *p = build_ok("0.3.13", "/srv/app", E("LSINIT_DB=data/app.db", "LSINIT_REPLICA_URL=file:///b"));
    assert_string_equal(p->dbs[0].path, "/srv/app/data/app.db");
    assert_str_at(p->config, P("dbs", "#0", "path"), "/srv/app/data/app.db");
    p = build_ok("0.3.13", "/", E("LSINIT_DB=app.db", "LSINIT_REPLICA_URL=file:///b"));
    assert_string_equal(p->dbs[0].path, "/app.db");
    p = build_ok("0.3.13", "/", E("LSINIT_DB=~/app.db", "HOME=/home/u", "LSINIT_REPLICA_URL=file:///b"));
    assert_string_equal(p->dbs[0].path, "/home/u/app.db");
    build_fails("0.3.13", E("LSINIT_DB=/data/", "LSINIT_REPLICA_URL=file:///b"), EXIT_CONFIG, "LSINIT_DB", "folder");
}

/*
 * Litestream cleans every database path (filepath.Abs), so "./app.db" and
 * "/srv/app.db" are the same database to it. lsinit must not treat them as
 * two (duplicate entries, a second replica of the same file) nor fail to
 * find "/srv/app.db" when LSINIT_DB said "./app.db".
 */
static void test_plan_paths_are_cleaned(void **state)
{
    (void)state;
    struct plan *p = build_ok("0.3.13", "/srv", E("LSINIT_DB=./app.db", "LSINIT_REPLICA_URL=file:///b"));
    assert_string_equal(p->dbs[0].path, "/srv/app.db");
    p = build_ok("0.3.13", "/srv", E("LSINIT_DB=/data//x/../app.db", "LSINIT_REPLICA_URL=file:///b"));
    assert_string_equal(p->dbs[0].path, "/data/app.db");
    const char *cfg = temp_config("clean.yml", "dbs:\n  - path: /srv/app.db\n    replicas:\n      - path: /b/app\n");
    char var[256];
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", cfg);
    p = build_ok("0.3.13", "/srv", E(var, "LSINIT_DB=./app.db"));
    assert_int_equal(p->db_count, 1);
}

static void test_plan_base_config_merge(void **state)
{
    (void)state;
    const char *cfg = temp_config("base.yml", "# base\n"
                                              "addr: \":9191\"\n"
                                              "dbs:\n"
                                              "  - path: /data/has.db\n"
                                              "    replicas:\n"
                                              "      - type: file\n"
                                              "        path: /elsewhere/has\n"
                                              "  - path: rel/none.db\n"
                                              "    monitor-interval: 2s\n");
    char var[256];
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", cfg);
    struct plan *p = build_ok("0.3.13", "/srv", E(var, "LSINIT_DB=/data/new.db", "LSINIT_REPLICA_URL=file:///backup"));
    assert_string_equal(p->config_source, cfg);
    assert_int_equal(p->db_count, 3);
    assert_string_equal(p->dbs[0].path, "/data/has.db");
    assert_string_equal(p->dbs[1].path, "/srv/rel/none.db");
    assert_string_equal(p->dbs[2].path, "/data/new.db");
    /* The configured replica is kept as it is. */
    assert_str_at(p->config, R03("path"), "/elsewhere/has");
    assert_int_equal(at(p->config, P("dbs", "#0", "replicas"))->count, 1);
    /* The env replica fills the two databases without one: directory + name. */
    assert_str_at(p->config, P("dbs", "#1", "replicas", "#0", "path"), "/backup/none.db");
    assert_str_at(p->config, P("dbs", "#1", "monitor-interval"), "2s");
    assert_str_at(p->config, P("dbs", "#2", "replicas", "#0", "path"), "/backup/new.db");
    /* addr kept, read through loopback. */
    assert_str_at(p->config, P("addr"), ":9191");
    assert_string_equal(p->metrics_addr, "127.0.0.1:9191");

    /* LSINIT_DB naming a configured database does not add it again. */
    p = build_ok("0.3.13", "/srv", E(var, "LSINIT_DB=/data/has.db", "LSINIT_REPLICA_URL=file:///backup"));
    assert_int_equal(p->db_count, 2);
    /* Only one needs the env replica: the URL path as it is. */
    assert_str_at(p->config, P("dbs", "#1", "replicas", "#0", "path"), "/backup");

    /* LITESTREAM_CONFIG works as the base config too. */
    snprintf(var, sizeof(var), "LITESTREAM_CONFIG=%s", cfg);
    p = build_ok("0.3.13", "/srv", E(var, "LSINIT_REPLICA_URL=file:///backup"));
    assert_int_equal(p->db_count, 2);
}

static void test_plan_base_config_env_and_errors(void **state)
{
    (void)state;
    const char *cfg = temp_config("env.yml", "dbs:\n"
                                             "  - path: ${DBDIR}/app.db\n"
                                             "    replicas:\n"
                                             "      - type: s3\n"
                                             "        bucket: $BKT\n"
                                             "        secret-access-key: \"${SECRET}\"\n"
                                             "        access-key-id: AK\n");
    char var[256];
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", cfg);
    struct plan *p = build_ok("0.3.13", "/", E(var, "DBDIR=/data", "BKT=my-bkt", "SECRET=a$b#c"));
    assert_string_equal(p->dbs[0].path, "/data/app.db");
    assert_str_at(p->config, R03("bucket"), "my-bkt");
    assert_str_at(p->config, R03("secret-access-key"), "a$b#c");

    const char *bad = temp_config("bad.yml", "dbs:\n  - path: /a\n    replcas:\n      - url: file:///b\n");
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", bad);
    build_fails("0.3.13", E(var), EXIT_CONFIG, "line 3", "did you mean 'replicas'");
    const char *v05 = temp_config("v05.yml", "dbs:\n  - path: /a\n    replica:\n      url: file:///b\n");
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", v05);
    build_fails("0.3.13", E(var), EXIT_CONFIG, "'replica:'", "0.5");
    const char *syntax = temp_config("syntax.yml", "dbs:\n  - path: /a\n    replicas: [\n");
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", syntax);
    build_fails("0.3.13", E(var), EXIT_CONFIG, "syntax.yml", "line ");
    const char *none = temp_config("none.yml", "dbs: []\n");
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", none);
    build_fails("0.3.13", E(var), EXIT_CONFIG, "no databases", NULL);
    build_fails("0.3.13", E("LSINIT_CONFIG=/nonexistent/litestream.yml"), EXIT_CONFIG, "LSINIT_CONFIG",
                "/nonexistent/litestream.yml");
    const char *twice = temp_config("twice.yml", "dbs:\n  - path: /a.db\n    replicas: [{path: /b}]\n"
                                                 "  - path: /a.db\n    replicas: [{path: /c}]\n");
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", twice);
    build_fails("0.3.13", E(var), EXIT_CONFIG, "/a.db", "twice");
}

static void test_plan_addr(void **state)
{
    (void)state;
    static const char *const db = "LSINIT_DB=/data/app.db";
    static const char *const url = "LSINIT_REPLICA_URL=file:///b";
    struct plan *p = build_ok("0.3.13", "/", E(db, url));
    const char *addr = str_at(p->config, P("addr"));
    assert_non_null(addr);
    assert_string_equal(addr, p->metrics_addr);
    assert_int_equal(strncmp(addr, "127.0.0.1:", 10), 0);
    long port = strtol(addr + 10, NULL, 10);
    assert_true(port > 0 && port < 65536);

    static const char *const cases[][2] = {
        {"addr: \"0.0.0.0:9090\"\n", "127.0.0.1:9090"},
        {"addr: \"localhost:9092\"\n", "localhost:9092"},
        {"addr: \"[::]:9093\"\n", "127.0.0.1:9093"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[32], var[256];
        snprintf(name, sizeof(name), "addr%zu.yml", i);
        snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", temp_config(name, cases[i][0]));
        p = build_ok("0.3.13", "/", E(var, db, url));
        assert_string_equal(p->metrics_addr, cases[i][1]);
    }
    char var[256];
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", temp_config("addrbad.yml", "addr: \"localhost\"\n"));
    build_fails("0.3.13", E(var, db, url), EXIT_CONFIG, "addr", "port");
}

static void test_plan_find_db(void **state)
{
    (void)state;
    struct plan *p =
        build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db,/other/app.db,/data/x.db", "LSINIT_REPLICA_URL=file:///b"));
    assert_int_equal(p->db_count, 3);
    assert_string_equal(plan_find_db(p, "/data/x.db", "/"), "/data/x.db");
    assert_string_equal(plan_find_db(p, "/other/app.db", "/"), "/other/app.db");
    assert_string_equal(plan_find_db(p, "x.db", "/"), "/data/x.db");
    assert_string_equal(plan_find_db(p, "data/x.db", "/"), "/data/x.db");
    assert_string_equal(plan_find_db(p, "x.db", "/data"), "/data/x.db");
    assert_string_equal(plan_find_db(p, "app.db", "/data"), "/data/app.db"); /* the path wins */
    assert_null(plan_find_db(p, "app.db", "/"));                             /* two files named app.db: ambiguous */
    assert_null(plan_find_db(p, "nope.db", "/"));
    assert_null(plan_find_db(p, "/data/nope.db", "/"));
    /* The returned pointer is the plan's own storage. */
    assert_ptr_equal(plan_find_db(p, "x.db", "/"), p->dbs[2].path);
}

static void test_plan_find_db_cleans(void **state)
{
    (void)state;
    struct plan *p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/x.db", "LSINIT_REPLICA_URL=file:///b"));
    const char *found = plan_find_db(p, "./x.db", "/data");
    if (found == NULL)
        print_error("plan_find_db(\"./x.db\", cwd /data) did not find /data/x.db\n");
    assert_non_null(found);
    assert_string_equal(found, "/data/x.db");
    found = plan_find_db(p, "../data/x.db", "/srv");
    assert_non_null(found);
    assert_string_equal(found, "/data/x.db");
}

static void test_plan_errors(void **state)
{
    (void)state;
    static const char *const db = "LSINIT_DB=/data/app.db";
    static const char *const url = "LSINIT_REPLICA_URL=s3://bkt/p";
    build_fails("0.3.13", E(db, url, "LITESTREAM_ACCESS_KEY_ID=LK"), EXIT_CONFIG, "LITESTREAM_ACCESS_KEY_ID", "secret");
    build_fails("0.3.13", E(db, url, "AWS_ACCESS_KEY_ID=AK"), EXIT_CONFIG, "AWS_ACCESS_KEY_ID", "secret");
    build_fails("0.3.13", E(db, url, "AWS_SECRET_ACCESS_KEY=AS"), EXIT_CONFIG, "AWS_SECRET_ACCESS_KEY", "access key");
    build_fails("0.3.13", E(db), EXIT_CONFIG, "no replica", "LSINIT_REPLICA_URL");
    build_fails("0.3.13", E(db, "LSINIT_REPLICA_URL=ftp://host/x"), EXIT_CONFIG, "LSINIT_REPLICA_URL",
                "unknown scheme 'ftp'");
    build_fails("0.3.13", E(db, "LSINIT_REPLICA_URL=bucket/path"), EXIT_CONFIG, "LSINIT_REPLICA_URL", "not a URL");
    build_fails("0.3.13", E(db, "LSINIT_REPLICA_URL=sftp://me@host/p"), EXIT_CONFIG, "LSINIT_SFTP_KEY_PATH", NULL);
    build_fails("0.3.13", E(db, "LSINIT_REPLICA_URL=sftp://me@host/p", "LSINIT_SFTP_KEY_PATH=/nonexistent/key"),
                EXIT_CONFIG, "LSINIT_SFTP_KEY_PATH", "/nonexistent/key");
    build_fails("0.5.0", E(db, url), EXIT_CONFIG, "#774", "v0.5.1");
    build_fails("1.0.0", E(db, url), EXIT_CONFIG, "not supported", NULL);
    build_fails("latest", E(db, url), EXIT_CONFIG, "LSINIT_LITESTREAM_VERSION", NULL);
    build_fails("0.3.13", E(db, url, "LSINIT_LITESTREAM=/nonexistent/litestream"), EXIT_CONFIG, "LSINIT_LITESTREAM",
                "/nonexistent/litestream");
    build_fails("0.3.13", E(db, url, "LSINIT_RESTORE_TIMEOUT=forever"), EXIT_CONFIG, "LSINIT_RESTORE_TIMEOUT", NULL);
    /* A password in the URL is never echoed back. */
    build_fails("0.3.13", E(db, "LSINIT_REPLICA_URL=sftp://me:Secr3tPw@host:0/p"), EXIT_CONFIG, "LSINIT_REPLICA_URL",
                "port");
    assert_null(strstr(plan_err, "Secr3tPw"));
    build_fails("0.3.13", E(db, "LSINIT_REPLICA_URL=s3://AKIA:Secr3tKey@bkt/p"), EXIT_CONFIG, "LSINIT_REPLICA_URL",
                "credentials");
    assert_null(strstr(plan_err, "Secr3tKey"));
}

static void test_plan_error_hides_secret_with_slash(void **state)
{
    (void)state;
    /* AWS secret keys often contain '/': still never echoed back. */
    build("0.3.13", "/",
          E("LSINIT_DB=/data/app.db",
            "LSINIT_REPLICA_URL=s3://AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@bkt/p"));
    assert_non_null(strstr(plan_err, "LSINIT_REPLICA_URL"));
    if (strstr(plan_err, "K7MDENG") != NULL)
        print_error("error shows the secret key: %s\n", plan_err);
    assert_null(strstr(plan_err, "K7MDENG"));
}

static void test_plan_render_redacts(void **state)
{
    (void)state;
    struct plan *p =
        build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=sftp://me:UrlPw123@host/srv"));
    char *text = plan_render(p, true);
    assert_non_null(text);
    assert_null(strstr(text, "UrlPw123"));
    assert_non_null(strstr(text, "<redacted>"));
    free(text);
    text = plan_render(p, false);
    assert_non_null(strstr(text, "UrlPw123"));
    free(text);
}

/* A base config may carry a password inside a url: value. `lsinit config`
 * (plan_render with redact) must not print it. */
static void test_plan_render_redacts_url_password(void **state)
{
    (void)state;
    const char *cfg = temp_config("urlpw.yml", "dbs:\n"
                                               "  - path: /data/app.db\n"
                                               "    replicas:\n"
                                               "      - url: sftp://me:InUrlPw456@host/srv\n");
    char var[256];
    snprintf(var, sizeof(var), "LSINIT_CONFIG=%s", cfg);
    struct plan *p = build_ok("0.3.13", "/", E(var));
    char *text = plan_render(p, true);
    assert_non_null(text);
    if (strstr(text, "InUrlPw456") != NULL)
        print_error("redacted config shows the URL password:\n%s\n", text);
    bool leaked = strstr(text, "InUrlPw456") != NULL;
    free(text);
    assert_false(leaked);
}

static void test_plan_write_config(void **state)
{
    (void)state;
    struct plan *p = build_ok("0.3.13", "/", E("LSINIT_DB=/data/app.db", "LSINIT_REPLICA_URL=file:///b"));
    char err[256] = "";
    assert_int_equal(plan_write_config(p, err, sizeof(err)), 0);
    assert_true(p->config_fd >= 0);
    char want_path[64];
    snprintf(want_path, sizeof(want_path), "/proc/%ld/fd/%d", (long)getpid(), p->config_fd);
    assert_string_equal(p->config_path, want_path);
    int fd = open(p->config_path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    char *text = plan_render(p, false);
    assert_string_equal(buf, text);
    free(text);
    /* Sealed: litestream reads it, nobody rewrites it. */
    assert_true(write(p->config_fd, "x", 1) < 0);
}

static struct ynode *replica_yaml(const char *text)
{
    char err[256] = "";
    struct ynode *n = ynode_parse(text, strlen(text), err, sizeof(err));
    if (n == NULL)
        print_error("ynode_parse: %s\n%s\n", err, text);
    assert_non_null(n);
    return n;
}

static void test_plan_replica_of(void **state)
{
    (void)state;
    struct ynode *v05 = replica_yaml("dbs:\n- path: /data/a.db\n  replica:\n    type: sftp\n    host: h\n"
                                     "- path: /data/b.db\n  replica:\n    type: s3\n");
    const struct ynode *r = plan_replica_of(v05, "/data/b.db");
    assert_non_null(r);
    assert_string_equal(ynode_map_get_str(r, "type"), "s3");
    r = plan_replica_of(v05, "/data/a.db");
    assert_non_null(r);
    assert_string_equal(ynode_map_get_str(r, "host"), "h");
    assert_null(plan_replica_of(v05, "/data/c.db"));
    ynode_free(v05);

    struct ynode *v03 =
        replica_yaml("dbs:\n- path: /data/a.db\n  replicas:\n  - type: sftp\n    host: h1\n  - type: file\n"
                     "- path: /data/b.db\n");
    r = plan_replica_of(v03, "/data/a.db");
    assert_non_null(r);
    assert_string_equal(ynode_map_get_str(r, "host"), "h1");
    assert_null(plan_replica_of(v03, "/data/b.db"));
    ynode_free(v03);
    assert_null(plan_replica_of(NULL, "/data/a.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_replica_of),
        cmocka_unit_test_teardown(test_plan_plain_init, test_teardown),
        cmocka_unit_test_teardown(test_plan_file_single, test_teardown),
        cmocka_unit_test_teardown(test_plan_file_two_dbs, test_teardown),
        cmocka_unit_test_teardown(test_plan_s3_url_paths, test_teardown),
        cmocka_unit_test_teardown(test_plan_bucket_env, test_teardown),
        cmocka_unit_test_teardown(test_plan_credentials, test_teardown),
        cmocka_unit_test_teardown(test_plan_endpoint_region, test_teardown),
        cmocka_unit_test_teardown(test_plan_force_path_style, test_teardown),
        cmocka_unit_test_teardown(test_plan_sync_interval, test_teardown),
        cmocka_unit_test_teardown(test_plan_v05, test_teardown),
        cmocka_unit_test_teardown(test_plan_relative_db, test_teardown),
        cmocka_unit_test_teardown(test_plan_paths_are_cleaned, test_teardown),
        cmocka_unit_test_teardown(test_plan_base_config_merge, test_teardown),
        cmocka_unit_test_teardown(test_plan_base_config_env_and_errors, test_teardown),
        cmocka_unit_test_teardown(test_plan_addr, test_teardown),
        cmocka_unit_test_teardown(test_plan_find_db, test_teardown),
        cmocka_unit_test_teardown(test_plan_find_db_cleans, test_teardown),
        cmocka_unit_test_teardown(test_plan_errors, test_teardown),
        cmocka_unit_test_teardown(test_plan_error_hides_secret_with_slash, test_teardown),
        cmocka_unit_test_teardown(test_plan_render_redacts, test_teardown),
        cmocka_unit_test_teardown(test_plan_render_redacts_url_password, test_teardown),
        cmocka_unit_test_teardown(test_plan_write_config, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
