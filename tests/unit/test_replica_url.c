/* SPDX-License-Identifier: MIT */
/*
 * Replica URLs (init/replica_url.c): every scheme, path normalisation, every
 * error, and that neither an error nor a redacted URL ever shows a password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "replica_url.h"

/* Parses url and expects success. */
static void parse_ok(const char *url, struct replica_url *out)
{
    char err[256] = "";
    int rc = replica_url_parse(url, out, err, sizeof(err));
    if (rc != 0)
        print_error("replica_url_parse(%s) failed: %s\n", url, err);
    assert_int_equal(rc, 0);
}

/* Parses url, expects failure, and checks the message contains want. */
static void parse_fails(const char *url, const char *want)
{
    struct replica_url u;
    char err[256] = "";
    int rc = replica_url_parse(url, &u, err, sizeof(err));
    if (rc == 0)
        print_error("replica_url_parse(%s) succeeded; wanted an error containing '%s'\n", url, want);
    assert_int_equal(rc, -1);
    assert_true(err[0] != '\0');
    if (strstr(err, want) == NULL)
        print_error("replica_url_parse(%s): error '%s' does not contain '%s'\n", url, err, want);
    assert_non_null(strstr(err, want));
}

/* ---- schemes ------------------------------------------------------------ */

static void test_s3(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("s3://my-bucket/backups/app.db", &u);
    assert_int_equal(u.type, REPLICA_S3);
    assert_string_equal(u.bucket, "my-bucket");
    assert_string_equal(u.path, "backups/app.db");
    assert_string_equal(u.account, "");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "");
    assert_string_equal(replica_type_name(u.type), "s3");
}

static void test_s3_bucket_only(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("s3://my-bucket", &u);
    assert_string_equal(u.bucket, "my-bucket");
    assert_string_equal(u.path, "");
    parse_ok("s3://my-bucket/", &u);
    assert_string_equal(u.bucket, "my-bucket");
    assert_string_equal(u.path, "");
}

static void test_gs_and_gcs(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("gs://g-bucket/db", &u);
    assert_int_equal(u.type, REPLICA_GCS);
    assert_string_equal(u.bucket, "g-bucket");
    assert_string_equal(u.path, "db");
    assert_string_equal(replica_type_name(u.type), "gs");
    parse_ok("gcs://g-bucket/a/b", &u);
    assert_int_equal(u.type, REPLICA_GCS);
    assert_string_equal(u.bucket, "g-bucket");
    assert_string_equal(u.path, "a/b");
}

static void test_abs(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("abs://myaccount@mycontainer/some/path", &u);
    assert_int_equal(u.type, REPLICA_ABS);
    assert_string_equal(u.account, "myaccount");
    assert_string_equal(u.bucket, "mycontainer");
    assert_string_equal(u.path, "some/path");
    assert_string_equal(replica_type_name(u.type), "abs");
}

static void test_sftp_user_host_default_port(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("sftp://alice@backup.example.com/srv/replica", &u);
    assert_int_equal(u.type, REPLICA_SFTP);
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "");
    assert_string_equal(u.host, "backup.example.com:22");
    assert_string_equal(u.path, "/srv/replica");
    assert_string_equal(replica_type_name(u.type), "sftp");
}

static void test_sftp_password_and_port(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("sftp://bob:hunter2@10.0.0.5:2222/data/db", &u);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "hunter2");
    assert_string_equal(u.host, "10.0.0.5:2222");
    assert_string_equal(u.path, "/data/db");
    /* A password may hold a colon: everything after the first one. */
    parse_ok("sftp://bob:a:b:c@host/p", &u);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "a:b:c");
    assert_string_equal(u.host, "host:22");
    /* Ports at both ends of the range. */
    parse_ok("sftp://bob@host:1/p", &u);
    assert_string_equal(u.host, "host:1");
    parse_ok("sftp://bob@host:65535/p", &u);
    assert_string_equal(u.host, "host:65535");
    /* IPv6: bracketed with or without a port (Litestream's default written out); a bare address as it is. */
    parse_ok("sftp://bob@[::1]:2222/p", &u);
    assert_string_equal(u.host, "[::1]:2222");
    parse_ok("sftp://bob@[fe80::1]/p", &u);
    assert_string_equal(u.host, "[fe80::1]:22");
    parse_ok("sftp://bob@::1/p", &u);
    assert_string_equal(u.host, "::1");
}

static void test_sftp_password_with_at_sign(void **state)
{
    (void)state;
    /* Go's url.Parse (which Litestream 0.3 uses on the same URL) splits the
     * user info at the LAST '@' of the authority; '@' is valid in user info.
     * lsinit must not put part of the password into the (unredacted) host. */
    struct replica_url u;
    parse_ok("sftp://bob:p@ss@host:2222/data", &u);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "p@ss");
    assert_string_equal(u.host, "host:2222");
    assert_string_equal(u.path, "/data");
}

static void test_file(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("file:///data/replica", &u);
    assert_int_equal(u.type, REPLICA_FILE);
    assert_string_equal(u.path, "/data/replica");
    assert_string_equal(u.bucket, "");
    assert_string_equal(replica_type_name(u.type), "file");
    parse_ok("file:///", &u);
    assert_string_equal(u.path, "/");
}

/* ---- normalisation ------------------------------------------------------ */

static void test_trailing_slashes(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("s3://b/path/to/dir///", &u);
    assert_string_equal(u.path, "path/to/dir");
    parse_ok("gs://b/x/", &u);
    assert_string_equal(u.path, "x");
    parse_ok("abs://acct@c/x//", &u);
    assert_string_equal(u.path, "x");
    parse_ok("file:///data/replica//", &u);
    assert_string_equal(u.path, "/data/replica");
    parse_ok("file:////", &u);
    assert_string_equal(u.path, "/"); /* the root stays the root */
    parse_ok("sftp://u:pw@h/srv/x/", &u);
    assert_string_equal(u.path, "/srv/x");
}

static void test_leading_slashes(void **state)
{
    (void)state;
    struct replica_url u;
    parse_ok("s3://b//path", &u);
    assert_string_equal(u.bucket, "b");
    assert_string_equal(u.path, "path");
    parse_ok("gs://b///a/b", &u);
    assert_string_equal(u.path, "a/b");
    parse_ok("abs://acct@c//x", &u);
    assert_string_equal(u.path, "x");
    /* sftp paths are absolute on the server: exactly one leading slash. */
    parse_ok("sftp://u:pw@h//srv", &u);
    assert_string_equal(u.path, "/srv");
}

/* ---- errors ------------------------------------------------------------- */

static void test_error_no_scheme(void **state)
{
    (void)state;
    parse_fails("my-bucket/path", "not a URL");
    parse_fails("/data/replica", "not a URL");
    parse_fails("", "not a URL");
    parse_fails("://bucket/path", "no scheme");
}

static void test_error_unknown_scheme(void **state)
{
    (void)state;
    parse_fails("ftp://host/path", "unknown scheme 'ftp'");
    parse_fails("http://host/path", "unknown scheme 'http'");
    parse_fails("averyveryverylongscheme://x/y", "no scheme");
}

static void test_error_missing_bucket(void **state)
{
    (void)state;
    parse_fails("s3:///path", "needs a bucket");
    parse_fails("s3://", "needs a bucket");
    parse_fails("gs:///path", "needs a bucket");
    parse_fails("abs://acct@/path", "needs a container");
    parse_fails("abs://container/path", "needs an account");
    parse_fails("abs://@container/path", "needs an account");
    parse_fails("s3://bucket:9000/path", "port in the bucket");
}

static void test_error_relative_file(void **state)
{
    (void)state;
    parse_fails("file://data/replica", "absolute path");
    parse_fails("file://", "absolute path");
    parse_fails("file://./replica", "absolute path");
}

static void test_error_sftp_parts(void **state)
{
    (void)state;
    parse_fails("sftp://host/path", "needs a user");
    parse_fails("sftp://@host/path", "needs a user");
    parse_fails("sftp://:pw@host/path", "needs a user");
    parse_fails("sftp://user@/path", "needs a host");
    parse_fails("sftp://user@host", "needs a path");
    parse_fails("sftp://user@host/", "needs a path");
    parse_fails("sftp://user@host:22/", "needs a path");
}

static void test_error_sftp_bad_port(void **state)
{
    (void)state;
    parse_fails("sftp://user@host:0/path", "invalid port");
    parse_fails("sftp://user@host:70000/path", "invalid port");
    parse_fails("sftp://user@host:abc/path", "invalid port");
    parse_fails("sftp://user@host:/path", "invalid port");
    parse_fails("sftp://user@host:-1/path", "invalid port");
    parse_fails("sftp://user@host:99999999999999999999/path", "invalid port");
    parse_fails("sftp://user@[::1]:0/path", "invalid port");
    parse_fails("sftp://user@[::1/path", "not HOST:PORT");
    parse_fails("sftp://user@[::1]x/path", "not HOST:PORT");
}

static void test_error_query_and_fragment(void **state)
{
    (void)state;
    parse_fails("s3://bucket/path?region=us-east-1", "query");
    parse_fails("s3://bucket/path?endpoint=http://minio:9000&forcePathStyle=true", "LITESTREAM_REPLICA_ENDPOINT");
    parse_fails("s3://bucket/path#frag", "query or fragment");
    parse_fails("file:///data?x", "query");
}

static void test_error_spaces(void **state)
{
    (void)state;
    parse_fails("s3://bucket/my path", "white space");
    parse_fails("s3://bucket/path\n", "white space");
    parse_fails("file:///data/a\tb", "white space");
}

static void test_error_credentials_in_s3(void **state)
{
    (void)state;
    parse_fails("s3://AKIAEXAMPLE:secret@bucket/path", "LITESTREAM_ACCESS_KEY_ID");
    parse_fails("s3://AKIAEXAMPLE@bucket/path", "must not carry credentials");
    parse_fails("gs://user:pw@bucket/path", "must not carry credentials");
}

static void test_error_too_long(void **state)
{
    (void)state;
    char url[4096];
    int n = snprintf(url, sizeof(url), "s3://bucket/");
    memset(url + n, 'a', 2000);
    url[n + 2000] = '\0';
    parse_fails(url, "too long");
    n = snprintf(url, sizeof(url), "s3://");
    memset(url + n, 'b', 300);
    snprintf(url + n + 300, sizeof(url) - (size_t)n - 300, "/p");
    parse_fails(url, "too long");
}

/* ---- secrets ------------------------------------------------------------ */

#define PW "Zq9-SuperSecret-77"

static void test_error_never_shows_password(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "sftp://user:" PW "@host:0/path", "sftp://user:" PW "@host:70000/path", "sftp://user:" PW "@host:abc/path",
        "sftp://user:" PW "@host",        "sftp://user:" PW "@host/",           "sftp://user:" PW "@/path",
        "sftp://:" PW "@host/path",       "sftp://user:" PW "@host/path?x=1",   "sftp://user:" PW "@host/pa th",
        "s3://key:" PW "@bucket/path",    "gs://key:" PW "@bucket/path",        "bogus://user:" PW "@host/path",
        "sftp://user:" PW "/x@host/path",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct replica_url u;
        char err[512] = "";
        int rc = replica_url_parse(urls[i], &u, err, sizeof(err));
        assert_int_equal(rc, -1);
        if (strstr(err, PW) != NULL)
            print_error("error for %s shows the password: %s\n", urls[i], err);
        assert_null(strstr(err, PW));
    }
}

/* Redacts url and checks that the output does not contain secret. */
static void redact_hides(const char *url, const char *secret, const char *want)
{
    char buf[512];
    memset(buf, 'X', sizeof(buf));
    replica_url_redact(url, buf, sizeof(buf));
    if (strstr(buf, secret) != NULL)
        print_error("replica_url_redact(%s) = %s still shows '%s'\n", url, buf, secret);
    assert_null(strstr(buf, secret));
    if (want != NULL)
        assert_string_equal(buf, want);
}

static void test_redact(void **state)
{
    (void)state;
    redact_hides("sftp://bob:" PW "@host:22/data", PW, "sftp://bob:<redacted>@host:22/data");
    redact_hides("sftp://bob:" PW "@host", PW, "sftp://bob:<redacted>@host");
    redact_hides("s3://AKIA:" PW "@bucket/path", PW, "s3://AKIA:<redacted>@bucket/path");
    char buf[256];
    /* Nothing to hide: copied verbatim. */
    replica_url_redact("sftp://bob@host:22/data", buf, sizeof(buf));
    assert_string_equal(buf, "sftp://bob@host:22/data");
    replica_url_redact("s3://bucket/a:b@c", buf, sizeof(buf));
    assert_string_equal(buf, "s3://bucket/a:b@c");
    replica_url_redact("abs://acct@container/x", buf, sizeof(buf));
    assert_string_equal(buf, "abs://acct@container/x");
    replica_url_redact("not a url", buf, sizeof(buf));
    assert_string_equal(buf, "not a url");
    replica_url_redact("", buf, sizeof(buf));
    assert_string_equal(buf, "");
}

static void test_redact_small_buffer(void **state)
{
    (void)state;
    char buf[16];
    replica_url_redact("sftp://bob:" PW "@host:22/data", buf, sizeof(buf));
    assert_true(strlen(buf) < sizeof(buf));
    assert_null(strstr(buf, "Super"));
    char tiny[1];
    replica_url_redact("sftp://bob:" PW "@host:22/data", tiny, sizeof(tiny));
    assert_string_equal(tiny, "");
}

static void test_redact_password_with_at_sign(void **state)
{
    (void)state;
    /* '@' is legal in user info (Go splits at the last '@'). */
    redact_hides("sftp://bob:p@ss" PW "@host/data", "ss" PW, NULL);
}

static void test_redact_secret_with_slash(void **state)
{
    (void)state;
    /* AWS secret keys often contain '/'. Such a URL is rejected, and the
     * rejection message shows the URL through replica_url_redact: the secret
     * must not be printed. */
    redact_hides("s3://AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@bucket/db",
                 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL);
    redact_hides("sftp://bob:pa/" PW "@host/data", PW, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3),
        cmocka_unit_test(test_s3_bucket_only),
        cmocka_unit_test(test_gs_and_gcs),
        cmocka_unit_test(test_abs),
        cmocka_unit_test(test_sftp_user_host_default_port),
        cmocka_unit_test(test_sftp_password_and_port),
        cmocka_unit_test(test_sftp_password_with_at_sign),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_trailing_slashes),
        cmocka_unit_test(test_leading_slashes),
        cmocka_unit_test(test_error_no_scheme),
        cmocka_unit_test(test_error_unknown_scheme),
        cmocka_unit_test(test_error_missing_bucket),
        cmocka_unit_test(test_error_relative_file),
        cmocka_unit_test(test_error_sftp_parts),
        cmocka_unit_test(test_error_sftp_bad_port),
        cmocka_unit_test(test_error_query_and_fragment),
        cmocka_unit_test(test_error_spaces),
        cmocka_unit_test(test_error_credentials_in_s3),
        cmocka_unit_test(test_error_too_long),
        cmocka_unit_test(test_error_never_shows_password),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_redact_small_buffer),
        cmocka_unit_test(test_redact_password_with_at_sign),
        cmocka_unit_test(test_redact_secret_with_slash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
