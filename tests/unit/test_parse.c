/* SPDX-License-Identifier: MIT */
/*
 * Value parsers (init/parse.c): durations, booleans, signal names and numbers,
 * bounded integers, and the formatting back to text. Every rejected value
 * must also leave the output untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

#define UNTOUCHED_MS ((int64_t)-424242)

static void duration_is(const char *text, int64_t want_ms)
{
    int64_t ms = UNTOUCHED_MS;
    int rc = parse_duration_ms(text, &ms);
    if (rc != 0 || ms != want_ms)
        print_error("parse_duration_ms(\"%s\"): rc %d, %lld ms; wanted %lld ms\n", text, rc, (long long)ms,
                    (long long)want_ms);
    assert_int_equal(rc, 0);
    assert_int_equal(ms, want_ms);
}

static void duration_rejected(const char *text)
{
    int64_t ms = UNTOUCHED_MS;
    int rc = parse_duration_ms(text, &ms);
    if (rc != -1)
        print_error("parse_duration_ms(\"%s\") accepted it as %lld ms\n", text ? text : "(null)", (long long)ms);
    assert_int_equal(rc, -1);
    assert_int_equal(ms, UNTOUCHED_MS);
}

static void test_duration_units(void **state)
{
    (void)state;
    duration_is("500ms", 500);
    duration_is("10s", 10000);
    duration_is("5m", 300000);
    duration_is("1h", 3600000);
    duration_is("0s", 0);
    duration_is("0", 0);
    duration_is("2000000us", 2000);
    duration_is("1500000000ns", 1500);
    duration_is("1000\xc2\xb5s", 1); /* Go's µs */
}

static void test_duration_compound_and_fractions(void **state)
{
    (void)state;
    duration_is("1m30s", 90000);
    duration_is("1h2m3s", 3723000);
    duration_is("1s500ms", 1500);
    duration_is("1.5s", 1500);
    duration_is("0.5m", 30000);
    duration_is(".25s", 250);
    duration_is("1.5h", 5400000);
    duration_is("2.5ms", 3); /* rounded to the nearest millisecond */
}

static void test_duration_bare_number_is_seconds(void **state)
{
    (void)state;
    duration_is("30", 30000);
    duration_is("1", 1000);
    duration_is("1.5", 1500);
    duration_is("0.1", 100);
}

static void test_duration_rejects(void **state)
{
    (void)state;
    duration_rejected(NULL);
    duration_rejected("");
    duration_rejected("-1s");
    duration_rejected("-1");
    duration_rejected("+1s");
    duration_rejected("10x");
    duration_rejected("s");
    duration_rejected("ms");
    duration_rejected("1h2"); /* a bare number only as the whole value */
    duration_rejected("1s 2s");
    duration_rejected(" 1s");
    duration_rejected("1s ");
    duration_rejected("1 s");
    duration_rejected("1S");
    duration_rejected("1sec");
    duration_rejected("1d");
    duration_rejected(".");
    duration_rejected("1.5.5s");
    duration_rejected("inf");
    duration_rejected("nan");
    duration_rejected("1e999s");
}

/* strtod reads more than decimal digits; none of that is a duration. */
static void test_duration_rejects_strtod_extras(void **state)
{
    (void)state;
    duration_rejected("1e3s");
    duration_rejected("1e3");
    duration_rejected("0x10s");
    duration_rejected("0x1A");
    duration_rejected("1E2ms");
    duration_rejected("0x1p3s");
}

static void test_duration_huge_values(void **state)
{
    (void)state;
    duration_is("1000000h", (int64_t)1000000 * 3600000);
    duration_rejected("99999999999999999999h");
}

static void format_is(int64_t ms, const char *want)
{
    char buf[32];
    memset(buf, 'X', sizeof(buf));
    format_duration(ms, buf, sizeof(buf));
    if (strcmp(buf, want) != 0)
        print_error("format_duration(%lld) = \"%s\"; wanted \"%s\"\n", (long long)ms, buf, want);
    assert_string_equal(buf, want);
}

static void test_format_duration(void **state)
{
    (void)state;
    format_is(0, "0s");
    format_is(1, "1ms");
    format_is(500, "500ms");
    format_is(1500, "1500ms");
    format_is(1000, "1s");
    format_is(10000, "10s");
    format_is(90000, "90s");
    format_is(60000, "1m");
    format_is(300000, "5m");
    format_is(5400000, "90m");
    format_is(3600000, "1h");
    format_is(7200000, "2h");
}

/* Whatever format_duration prints, parse_duration_ms reads back to the same value. */
static void test_format_duration_round_trips(void **state)
{
    (void)state;
    static const int64_t values[] = {0, 1, 7, 999, 1000, 1001, 59999, 60000, 61000, 3599999, 3600000, 86400000};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char buf[32];
        format_duration(values[i], buf, sizeof(buf));
        duration_is(buf, values[i]);
    }
}

static void test_format_duration_truncates_safely(void **state)
{
    (void)state;
    char buf[4];
    memset(buf, 'X', sizeof(buf));
    format_duration(123456, buf, sizeof(buf)); /* "123456ms" does not fit */
    assert_int_equal(buf[3], '\0');
    assert_string_equal(buf, "123");
}

static void bool_is(const char *text, bool want)
{
    bool value = !want;
    int rc = parse_bool(text, &value);
    if (rc != 0)
        print_error("parse_bool(\"%s\") rejected it\n", text);
    assert_int_equal(rc, 0);
    assert_int_equal(value, want);
}

static void bool_rejected(const char *text)
{
    for (int start = 0; start < 2; start++) {
        bool value = start != 0;
        if (parse_bool(text, &value) != -1)
            print_error("parse_bool(\"%s\") accepted it\n", text ? text : "(null)");
        assert_int_equal(parse_bool(text, &value), -1);
        assert_int_equal(value, start != 0);
    }
}

static void test_bool_values(void **state)
{
    (void)state;
    static const char *const truthy[] = {"1", "true", "on", "yes", "TRUE", "True", "On", "YES", "yEs"};
    static const char *const falsy[] = {"0", "false", "off", "no", "FALSE", "False", "OFF", "No", "nO"};
    for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++)
        bool_is(truthy[i], true);
    for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++)
        bool_is(falsy[i], false);
}

static void test_bool_rejects(void **state)
{
    (void)state;
    bool_rejected(NULL);
    bool_rejected("");
    bool_rejected("2");
    bool_rejected("-1");
    bool_rejected("01");
    bool_rejected("maybe");
    bool_rejected("enabled");
    bool_rejected(" true");
    bool_rejected("true ");
    bool_rejected("tru");
    bool_rejected("offf");
}

static void signal_is(const char *text, bool allow_zero, int want)
{
    int sig = -7;
    int rc = parse_signal(text, allow_zero, &sig);
    if (rc != 0 || sig != want)
        print_error("parse_signal(\"%s\", %d): rc %d, %d; wanted %d\n", text, allow_zero, rc, sig, want);
    assert_int_equal(rc, 0);
    assert_int_equal(sig, want);
}

static void signal_rejected(const char *text, bool allow_zero)
{
    int sig = -7;
    int rc = parse_signal(text, allow_zero, &sig);
    if (rc != -1)
        print_error("parse_signal(\"%s\", %d) accepted it as %d\n", text ? text : "(null)", allow_zero, sig);
    assert_int_equal(rc, -1);
    assert_int_equal(sig, -7);
}

static void test_signal_names(void **state)
{
    (void)state;
    signal_is("TERM", false, SIGTERM);
    signal_is("SIGTERM", false, SIGTERM);
    signal_is("term", false, SIGTERM);
    signal_is("SigTerm", false, SIGTERM);
    signal_is("INT", false, SIGINT);
    signal_is("HUP", false, SIGHUP);
    signal_is("QUIT", false, SIGQUIT);
    signal_is("USR1", false, SIGUSR1);
    signal_is("SIGUSR2", false, SIGUSR2);
    signal_is("WINCH", false, SIGWINCH);
    signal_is("KILL", false, SIGKILL);
    signal_is("CHLD", false, SIGCHLD);
    signal_is("PWR", false, SIGPWR);
    signal_is("SYS", false, SIGSYS);
    signal_is("IO", false, SIGIO);
}

static void test_signal_numbers(void **state)
{
    (void)state;
    signal_is("15", false, 15);
    signal_is("1", false, 1);
    signal_is("9", true, 9);
    signal_is("31", false, 31);
    char max[32];
    snprintf(max, sizeof(max), "%d", SIGRTMAX);
    signal_is(max, false, SIGRTMAX);
    signal_is("0", true, 0);
    signal_rejected("0", false);
    char too_big[32];
    snprintf(too_big, sizeof(too_big), "%d", SIGRTMAX + 1);
    signal_rejected(too_big, false);
    signal_rejected(too_big, true);
    signal_rejected("-1", true);
    signal_rejected("+15", false);
    signal_rejected("15x", false);
    signal_rejected("1 5", false);
    signal_rejected(" 15", false);
    signal_rejected("99999999999999999999", false);
}

static void test_signal_realtime(void **state)
{
    (void)state;
    signal_is("RT0", false, SIGRTMIN);
    signal_is("RT1", false, SIGRTMIN + 1);
    signal_is("rt1", false, SIGRTMIN + 1);
    signal_is("SIGRT1", false, SIGRTMIN + 1);
    signal_is("RTMIN+2", false, SIGRTMIN + 2);
    signal_is("SIGRTMIN+2", false, SIGRTMIN + 2);
    signal_is("rtmin+0", false, SIGRTMIN);
    char last[32];
    snprintf(last, sizeof(last), "RT%d", SIGRTMAX - SIGRTMIN);
    signal_is(last, false, SIGRTMAX);
    snprintf(last, sizeof(last), "RT%d", SIGRTMAX - SIGRTMIN + 1);
    signal_rejected(last, false);
    snprintf(last, sizeof(last), "RTMIN+%d", SIGRTMAX - SIGRTMIN + 1);
    signal_rejected(last, false);
    signal_rejected("RT", false);
    signal_rejected("RT-1", false);
    signal_rejected("RTMIN+", false);
    signal_rejected("RTMIN+x", false);
    signal_rejected("RT1x", false);
}

static void test_signal_rejects(void **state)
{
    (void)state;
    signal_rejected(NULL, true);
    signal_rejected("", true);
    signal_rejected("SIG", false);
    signal_rejected("NOPE", false);
    signal_rejected("SIGNOPE", false);
    signal_rejected("TERMX", false);
    signal_rejected("SIGSIGTERM", false);
    signal_rejected(" TERM", false);
    signal_rejected("TERM ", false);
    signal_rejected("TERM:INT", false);
}

static void test_signal_name(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(signal_name(SIGTERM, buf, sizeof(buf)), "TERM");
    assert_string_equal(signal_name(SIGHUP, buf, sizeof(buf)), "HUP");
    assert_string_equal(signal_name(SIGWINCH, buf, sizeof(buf)), "WINCH");
    assert_string_equal(signal_name(SIGRTMIN, buf, sizeof(buf)), "RT0");
    assert_string_equal(signal_name(SIGRTMIN + 3, buf, sizeof(buf)), "RT3");
    assert_ptr_equal(signal_name(SIGINT, buf, sizeof(buf)), buf);
}

/* Every name signal_name prints is one that parse_signal reads back. */
static void test_signal_name_round_trips(void **state)
{
    (void)state;
    for (int sig = 1; sig <= SIGRTMAX; sig++) {
        char buf[16];
        int back = -1;
        const char *name = signal_name(sig, buf, sizeof(buf));
        if (parse_signal(name, false, &back) != 0 || back != sig)
            print_error("signal %d: name \"%s\" reads back as %d\n", sig, name, back);
        assert_int_equal(parse_signal(name, false, &back), 0);
        assert_int_equal(back, sig);
    }
}

static void test_int_range(void **state)
{
    (void)state;
    long v = -5;
    assert_int_equal(parse_int_range("0", 0, 255, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_int_range("255", 0, 255, &v), 0);
    assert_int_equal(v, 255);
    assert_int_equal(parse_int_range("-3", -5, 5, &v), 0);
    assert_int_equal(v, -3);
    v = 77;
    assert_int_equal(parse_int_range("256", 0, 255, &v), -1);
    assert_int_equal(parse_int_range("-1", 0, 255, &v), -1);
    assert_int_equal(parse_int_range("", 0, 255, &v), -1);
    assert_int_equal(parse_int_range(NULL, 0, 255, &v), -1);
    assert_int_equal(parse_int_range("12a", 0, 255, &v), -1);
    assert_int_equal(parse_int_range("a12", 0, 255, &v), -1);
    assert_int_equal(parse_int_range("99999999999999999999999", 0, 255, &v), -1);
    assert_int_equal(v, 77);
}

static void test_ltx_name(void **state)
{
    (void)state;
    uint64_t t = 7;
    assert_int_equal(parse_ltx_name("0000000000000001-00000000000003e8.ltx", &t), 0);
    assert_int_equal(t, 1000);
    t = 7;
    const char *bad[] = {"lock.json",
                         "0000000000000001-0000000000000002.ltx.tmp",
                         "0000000000000001.ltx",
                         "0000000000000001-0000000000000002",
                         "x-y.ltx",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse_ltx_name(bad[i], &t), -1);
        assert_int_equal(t, 7);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_units),
        cmocka_unit_test(test_duration_compound_and_fractions),
        cmocka_unit_test(test_duration_bare_number_is_seconds),
        cmocka_unit_test(test_duration_rejects),
        cmocka_unit_test(test_duration_rejects_strtod_extras),
        cmocka_unit_test(test_duration_huge_values),
        cmocka_unit_test(test_format_duration),
        cmocka_unit_test(test_format_duration_round_trips),
        cmocka_unit_test(test_format_duration_truncates_safely),
        cmocka_unit_test(test_bool_values),
        cmocka_unit_test(test_bool_rejects),
        cmocka_unit_test(test_signal_names),
        cmocka_unit_test(test_signal_numbers),
        cmocka_unit_test(test_signal_realtime),
        cmocka_unit_test(test_signal_rejects),
        cmocka_unit_test(test_signal_name),
        cmocka_unit_test(test_signal_name_round_trips),
        cmocka_unit_test(test_int_range),
        cmocka_unit_test(test_ltx_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
