/* SPDX-License-Identifier: MIT */
/* errbuf_fail (init/lib/errbuf.c): one line in the caller's buffer, and the code back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "errbuf.h"

static void test_formats_and_returns_code(void **state)
{
    (void)state;
    char err[64];
    assert_int_equal(errbuf_fail(err, sizeof(err), 78, "LSINIT_%s=%d is bad", "X", 5), 78);
    assert_string_equal(err, "LSINIT_X=5 is bad");
    assert_int_equal(errbuf_fail(err, sizeof(err), -1, "%s", "why"), -1);
    assert_string_equal(err, "why");
}

static void test_one_line_whatever_the_value(void **state)
{
    (void)state;
    char err[64];
    errbuf_fail(err, sizeof(err), 78, "LSINIT_DB=%s: no",
                "a\nb\tc\rd\x7f"
                "e\x01");
    assert_string_equal(err, "LSINIT_DB=a?b?c?d?e?: no");
    errbuf_fail(err, sizeof(err), 78, "caf\xc3\xa9"); /* UTF-8 stays */
    assert_string_equal(err, "caf\xc3\xa9");
}

static void test_bounded(void **state)
{
    (void)state;
    char err[8];
    memset(err, 'x', sizeof(err));
    assert_int_equal(errbuf_fail(err, sizeof(err), 64, "%s", "0123456789"), 64);
    assert_string_equal(err, "0123456");
    char untouched = 'u';
    assert_int_equal(errbuf_fail(&untouched, 0, 65, "%s", "anything"), 65);
    assert_int_equal(untouched, 'u');
    assert_int_equal(errbuf_fail(NULL, 0, 66, "%s", "anything"), 66);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_and_returns_code),
        cmocka_unit_test(test_one_line_whatever_the_value),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
