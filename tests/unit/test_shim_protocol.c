/* SPDX-License-Identifier: MIT */
/*
 * The shim's report protocol (shim.h: both ends use one definition), the
 * JSON helpers that read Litestream's control-socket answers, and the
 * version gate for supervision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "json_text.h"
#include "litestream.h"
#include "shim.h"

static void test_report_roundtrip(void **state)
{
    (void)state;
    const struct shim_report cases[] = {
        {SHIM_REPORT_APP, 41, 42},
        {SHIM_REPORT_EXIT, 41, 143 << 8},
        {SHIM_REPORT_EXECFAIL, 41, 2},
        {SHIM_REPORT_SYNC, 41, SHIM_SYNC_FAILED},
        {SHIM_REPORT_SYNC, 41, SHIM_SYNC_CONFIRMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[SHIM_REPORT_MAX];
        size_t n = shim_report_format(&cases[i], line, sizeof(line));
        assert_true(n > 0 && line[n - 1] == '\n');
        line[n - 1] = '\0';
        struct shim_report back;
        assert_int_equal(shim_report_parse(line, &back), 0);
        assert_int_equal(back.kind, cases[i].kind);
        assert_int_equal(back.shim_pid, cases[i].shim_pid);
        assert_int_equal(back.value, cases[i].value);
    }
}

static void test_report_rejects_what_is_not_ours(void **state)
{
    (void)state;
    struct shim_report r;
    const char *bad[] = {
        "", "app", "app 1", "app 1 2 3", "bogus 1 2", "app x 2", "exit 1 2trailing", "verylongkindname 1 2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(shim_report_parse(bad[i], &r), -1);
    struct shim_report unknown = {(enum shim_report_kind)99, 1, 2};
    char line[SHIM_REPORT_MAX];
    assert_int_equal(shim_report_format(&unknown, line, sizeof(line)), 0);
}

static void test_json_fields(void **state)
{
    (void)state;
    /* Litestream 0.5.17's POST /sync answer, and an error answer. */
    const char *ok = "{\"status\":\"synced\",\"path\":\"/data/a \\\"b\\\".db\",\"txid\":12,\"replicated_txid\":11}";
    uint64_t v = 0;
    assert_int_equal(json_field_u64(ok, "txid", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(json_field_u64(ok, "replicated_txid", &v), 0);
    assert_int_equal(v, 11);
    assert_int_equal(json_field_u64(ok, "missing", &v), -1);
    assert_int_equal(json_field_u64(ok, "status", &v), -1); /* a string is not a number */
    char text[64];
    assert_int_equal(json_field(ok, "path", text, sizeof(text)), 0);
    assert_string_equal(text, "/data/a \"b\".db");
    const char *err = "{\"error\":\"sync database: replica sync: no position, waiting for data\"}\n";
    assert_int_equal(json_field(err, "error", text, sizeof(text)), 0);
    assert_string_equal(text, "sync database: replica sync: no position, waiting for data");
    char esc[32];
    json_escape("a\"b\\c\n", esc, sizeof(esc));
    assert_string_equal(esc, "a\\\"b\\\\c\\u000a");
    json_escape("0123456789abcdef", esc, 10); /* bounded */
    assert_true(strlen(esc) < 10);
}

static void test_version_gates(void **state)
{
    (void)state;
    struct ls_version v;
    char err[512];
    const struct {
        const char *text;
        int supervised;
    } cases[] = {{"v0.3.13", 0}, {"0.5.17", 0}, {"0.5.9", 0}, {"0.5.8", -1}, {"0.5.1", -1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ls_version_parse(cases[i].text, &v), 0);
        err[0] = '\0';
        assert_int_equal(ls_version_check_supervised(&v, err, sizeof(err)), cases[i].supervised);
        if (cases[i].supervised != 0)
            assert_non_null(strstr(err, "0.5.9"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_roundtrip),
        cmocka_unit_test(test_report_rejects_what_is_not_ours),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_version_gates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
