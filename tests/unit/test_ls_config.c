/* SPDX-License-Identifier: MIT */
/*
 * ls_config (init/ls_config.c): which keys are secret (and their redaction
 * when the config is emitted), validation of a base litestream.yml by
 * Litestream version, and $VAR expansion as Litestream does it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "litestream.h"
#include "ls_config.h"
#include "yaml_tree.h"

#define CONFIG_TEST_IS_SECRET ls_config_is_secret_key
#include "config_test_helpers.h"

static struct ls_version V03, V05;

static int group_setup(void **state)
{
    (void)state;
    if (ls_version_parse("0.3.13", &V03) != 0 || ls_version_parse("0.5.16", &V05) != 0)
        return -1;
    return 0;
}

/* =========================================================================
 * redaction
 * ========================================================================= */

static void test_secret_keys(void **state)
{
    (void)state;
    static const char *const secret[] = {"access-key-id",
                                         "secret-access-key",
                                         "password",
                                         "account-key",
                                         "sas-token",
                                         "sse-customer-key",
                                         "webdav-password",
                                         "jwt",
                                         "seed",
                                         "nkey",
                                         "token"};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        assert_true(ls_config_is_secret_key(secret[i]));
    static const char *const plain[] = {"path",   "bucket",   "user", "host", "key-path", "sse-customer-key-path",
                                        "region", "endpoint", "url",  "type", ""};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        assert_false(ls_config_is_secret_key(plain[i]));
}

static void test_emit_redacts(void **state)
{
    (void)state;
    static const char yml[] = "access-key-id: TOPAKIA111\n"
                              "secret-access-key: TOPSECRET222\n"
                              "dbs:\n"
                              "  - path: /data/app.db\n"
                              "    replicas:\n"
                              "      - type: s3\n"
                              "        bucket: visible-bucket\n"
                              "        access-key-id: AKIA333\n"
                              "        secret-access-key: \"S3CRET/444+x\"\n"
                              "      - type: sftp\n"
                              "        host: h:22\n"
                              "        user: visible-user\n"
                              "        password: 'pw 555'\n"
                              "      - type: abs\n"
                              "        account-key: ACCTKEY666\n"
                              "        sas-token: SAS777\n"
                              "        password: \"\"\n";
    struct ynode *root = parse_ok(yml);
    char *text = emit(root, true);
    static const char *const hidden[] = {"TOPAKIA111", "TOPSECRET222", "AKIA333",    "S3CRET",
                                         "444",        "pw 555",       "ACCTKEY666", "SAS777"};
    for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
        if (strstr(text, hidden[i]) != NULL)
            print_error("redacted text shows '%s':\n%s\n", hidden[i], text);
        assert_null(strstr(text, hidden[i]));
    }
    assert_non_null(strstr(text, "visible-bucket"));
    assert_non_null(strstr(text, "visible-user"));
    struct ynode *back = parse_ok(text);
    assert_str_at(back, P("access-key-id"), "<redacted>");
    assert_str_at(back, P("secret-access-key"), "<redacted>");
    assert_str_at(back, R03("secret-access-key"), "<redacted>");
    assert_str_at(back, P("dbs", "#0", "replicas", "#1", "password"), "<redacted>");
    assert_str_at(back, P("dbs", "#0", "replicas", "#2", "account-key"), "<redacted>");
    assert_str_at(back, P("dbs", "#0", "replicas", "#2", "password"), ""); /* empty stays visibly empty */
    assert_str_at(back, R03("bucket"), "visible-bucket");
    ynode_free(back);
    free(text);
    /* Without redact the values are there. */
    text = emit(root, false);
    assert_non_null(strstr(text, "S3CRET/444+x"));
    assert_non_null(strstr(text, "pw 555"));
    free(text);
    ynode_free(root);
}

/* =========================================================================
 * ls_config_validate
 * ========================================================================= */

static void validate_ok(const char *yml, const struct ls_version *v)
{
    struct ynode *root = parse_ok(yml);
    char err[512] = "";
    int rc = ls_config_validate(root, v, "cfg.yml", err, sizeof(err));
    if (rc != 0)
        print_error("validate on %s refused: %s\n", v->text, err);
    assert_int_equal(rc, 0);
    ynode_free(root);
}

static void validate_fails(const char *yml, const struct ls_version *v, const char *w1, const char *w2, const char *w3)
{
    struct ynode *root = parse_ok(yml);
    char err[512] = "";
    int rc = ls_config_validate(root, v, "cfg.yml", err, sizeof(err));
    bool good = rc == -1 && strstr(err, "cfg.yml") != NULL && strstr(err, w1) != NULL &&
                (w2 == NULL || strstr(err, w2) != NULL) && (w3 == NULL || strstr(err, w3) != NULL);
    if (!good)
        print_error("validate on %s: rc=%d '%s'; want '%s' '%s' '%s'\n", v->text, rc, err, w1, w2 ? w2 : "",
                    w3 ? w3 : "");
    ynode_free(root);
    assert_true(good);
}

static void test_validate_typical(void **state)
{
    (void)state;
    validate_ok(typical_yml, &V03);
    validate_ok("dbs:\n  - path: /a\n    replica:\n      type: s3\n      bucket: b\n", &V05);
    validate_ok("dbs:\n  - path: /a\n    replicas:\n      - url: s3://b/p\n", &V05);
    validate_ok("{}", &V03);
    validate_ok("addr: ':9090'\n", &V05);
    validate_ok("mcp-addr: ':8081'\nheartbeat-url: https://hc.example/x\nsocket:\n  enabled: true\n"
                "dbs:\n  - dir: /data\n    pattern: '*.db'\n    replica:\n      url: gs://b/p\n",
                &V05);
}

static void test_validate_misspelled(void **state)
{
    (void)state;
    validate_fails("dbs:\n  - path: /a\n    replcas:\n      - url: file:///b\n", &V03, "line 3", "did you mean",
                   "'replicas'");
    validate_fails("adr: ':9090'\n", &V03, "line 1", "'adr'", "did you mean 'addr'");
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      - type: s3\n        buckt: b\n", &V05, "line 5",
                   "did you mean 'bucket'", NULL);
    validate_fails("\n\nsomething-else: 1\n", &V03, "line 3", "'something-else'", "ignore");
}

static void test_validate_v05_keys_on_v03(void **state)
{
    (void)state;
    validate_fails("mcp-addr: ':8081'\n", &V03, "line 1", "mcp-addr", "0.5");
    validate_fails("addr: ':9090'\nheartbeat-url: https://x\n", &V03, "line 2", "heartbeat-url", "0.5");
    validate_fails("socket:\n  enabled: true\n", &V03, "line 1", "socket", "0.5");
    validate_fails("dbs:\n  - path: /a\n    replica:\n      url: s3://b/p\n", &V03, "line 3", "'replica:'", "0.5");
    validate_fails("dbs:\n  - path: /a\n    busy-timeout: 5s\n    replicas:\n      - url: s3://b/p\n", &V03, "line 3",
                   "busy-timeout", "0.5");
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      - url: s3://b/p\n        storage-class: GLACIER\n", &V03,
                   "line 5", "storage-class", "0.5");
}

static void test_validate_v03_keys_on_v05(void **state)
{
    (void)state;
    validate_fails("dbs:\n  - path: /a\n    max-checkpoint-page-count: 10000\n    replica:\n      url: s3://b/p\n",
                   &V05, "line 3", "max-checkpoint-page-count", "0.3");
    validate_fails("dbs:\n  - path: /a\n    replica:\n      url: s3://b/p\n      retention: 24h\n", &V05, "line 5",
                   "retention", "0.3");
    validate_fails("dbs:\n  - path: /a\n    replica:\n      url: s3://b/p\n      age:\n        identities: [x]\n", &V05,
                   "line 5", "age", "0.3");
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      - url: s3://b/p\n        snapshot-interval: 1h\n", &V05,
                   "line 5", "snapshot-interval", "0.3");
}

static void test_validate_gcs_by_version(void **state)
{
    (void)state;
    validate_ok("dbs:\n  - path: /a\n    replicas:\n      - type: gcs\n        bucket: b\n", &V03);
    validate_ok("dbs:\n  - path: /a\n    replicas:\n      - url: gcs://b/p\n", &V03);
    validate_ok("dbs:\n  - path: /a\n    replica:\n      type: gs\n      bucket: b\n", &V05);
    validate_fails("dbs:\n  - path: /a\n    replica:\n      type: gcs\n      bucket: b\n", &V05, "line 4", "'gs'",
                   "0.5");
    validate_fails("dbs:\n  - path: /a\n    replica:\n      url: gcs://b/p\n", &V05, "line 4", "gs://", "0.5");
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      - type: gs\n        bucket: b\n", &V03, "line 4", "gcs",
                   "0.5");
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      - url: gs://b/p\n", &V03, "line 4", "gcs://", NULL);
}

static void test_validate_structure(void **state)
{
    (void)state;
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      - url: s3://b/p\n        path: x\n", &V03, "line 4", "url",
                   "not both");
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      - url: s3://b/p\n        bucket: x\n", &V03, "url",
                   "not both", NULL);
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      - url: s3://b/p\n      - url: file:///x\n", &V05, "line 4",
                   "one replica", "has 2");
    validate_ok("dbs:\n  - path: /a\n    replicas:\n      - url: s3://b/p\n      - url: file:///x\n", &V03);
    validate_fails("dbs:\n  - path: /a\n    replica:\n      url: s3://b/p\n    replicas:\n      - url: file:///x\n",
                   &V05, "line 2", "not both", NULL);
    validate_fails("dbs:\n  path: /a\n", &V03, "line 2", "dbs must be a list", NULL);
    validate_fails("dbs:\n  - /a\n", &V03, "line 2", "must be a map", NULL);
    validate_fails("dbs:\n  - path: [/a]\n", &V03, "line 2", "path must be a single value", NULL);
    validate_fails("dbs:\n  - path: /a\n    replicas:\n      url: s3://b/p\n", &V03, "line 4",
                   "replicas must be a list", NULL);
}

/* =========================================================================
 * ls_config_expand_env
 * ========================================================================= */

static void expands(const char *text, const char *want)
{
    static char *const envp[] = {
        (char *)"A=alpha",   (char *)"B=$A",    (char *)"C=${A}",       (char *)"EMPTY=",
        (char *)"A_1=under", (char *)"AB=both", (char *)"PW=p$ss:w#rd", NULL,
    };
    char *got = ls_config_expand_env(text, envp);
    assert_non_null(got);
    if (strcmp(got, want) != 0)
        print_error("expand('%s') = '%s', want '%s'\n", text, got, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_expand_env(void **state)
{
    (void)state;
    expands("", "");
    expands("no dollars here", "no dollars here");
    expands("$A", "alpha");
    expands("${A}", "alpha");
    expands("x $A y", "x alpha y");
    expands("${A}B", "alphaB");
    expands("$AB", "both");
    expands("$A_1", "under");
    expands("$A-1", "alpha-1");
    expands("$A.b", "alpha.b");
    expands("$UNSET", "");
    expands("${UNSET}", "");
    expands("[$EMPTY]", "[]");
    expands("bucket: ${A}\npath: $A/db\n", "bucket: alpha\npath: alpha/db\n");
    /* A $ before a non-name character is kept; at the very end too. */
    expands("cost $ 5", "cost $ 5");
    expands("5$", "5$");
    expands("$.", "$.");
    expands("$/x", "$/x");
    expands("$\"", "$\"");
    /* Go's special one-character names: $1, $$, $# ... look up that name (unset → empty). */
    expands("$1", "");
    expands("a$1b", "ab");
    expands("${1}", "");
    expands("$$", "");
    expands("a$$b", "ab");
    expands("$#x", "x");
    /* Bad syntax: Go eats "${" (unclosed) and "${}". */
    expands("${A", "A");
    expands("x${}y", "xy");
    /* No default syntax: the name is literally "A:-d". */
    expands("${A:-d}", "");
    /* No recursion: a value that holds $A stays as it is. */
    expands("$B", "$A");
    expands("${C}", "${A}");
    expands("$PW", "p$ss:w#rd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_keys),
        cmocka_unit_test(test_emit_redacts),
        cmocka_unit_test(test_validate_typical),
        cmocka_unit_test(test_validate_misspelled),
        cmocka_unit_test(test_validate_v05_keys_on_v03),
        cmocka_unit_test(test_validate_v03_keys_on_v05),
        cmocka_unit_test(test_validate_gcs_by_version),
        cmocka_unit_test(test_validate_structure),
        cmocka_unit_test(test_expand_env),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
