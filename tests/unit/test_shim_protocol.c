/* SPDX-License-Identifier: MIT */
/*
 * The shim's report protocol (shim.h: both ends use one definition).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_roundtrip),
        cmocka_unit_test(test_report_rejects_what_is_not_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
