/* SPDX-License-Identifier: MIT */
/*
 * Addresses (init/lib/hostport.c): "HOST:PORT", "[IPV6]:PORT", ":PORT", a
 * host alone, a bare IPv6 address; writing them back; and the local target
 * lsinit connects to for a listen address (Litestream's metrics addr:,
 * LSINIT_HEALTH_ADDR for `lsinit health`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "hostport.h"

static void split_is(const char *text, const char *host, bool bracketed, bool has_port, long port)
{
    struct hostport hp;
    enum hostport_result rc = hostport_split(text, &hp);
    if (rc != HOSTPORT_OK)
        print_error("hostport_split(%s) = %d\n", text, (int)rc);
    assert_int_equal(rc, HOSTPORT_OK);
    assert_string_equal(hp.host, host);
    assert_int_equal(hp.bracketed, bracketed);
    assert_int_equal(hp.has_port, has_port);
    assert_int_equal(hp.port, port);
}

static void split_fails(const char *text, enum hostport_result want)
{
    struct hostport hp;
    assert_int_equal(hostport_split(text, &hp), want);
}

static void test_split(void **state)
{
    (void)state;
    split_is("0.0.0.0:9091", "0.0.0.0", false, true, 9091);
    split_is("localhost:9090", "localhost", false, true, 9090);
    split_is(":9090", "", false, true, 9090);
    split_is("host", "host", false, false, 0);
    split_is("", "", false, false, 0);
    split_is("[::]:9091", "::", true, true, 9091);
    split_is("[::1]:2200", "::1", true, true, 2200);
    split_is("[fe80::1]", "fe80::1", true, false, 0);
    split_is("::1", "::1", false, false, 0); /* bare IPv6: no port */
    split_is("fe80::1:22", "fe80::1:22", false, false, 0);
    split_is("h:0", "h", false, true, 0); /* any free port: the caller decides */
    split_is("h:65535", "h", false, true, 65535);
    split_is("h:00022", "h", false, true, 22);
}

static void test_split_errors(void **state)
{
    (void)state;
    split_fails("h:", HOSTPORT_BAD_PORT);
    split_fails("h:65536", HOSTPORT_BAD_PORT);
    split_fails("h:123456", HOSTPORT_BAD_PORT);
    split_fails("h:ssh", HOSTPORT_BAD_PORT);
    split_fails("h:+80", HOSTPORT_BAD_PORT);
    split_fails("h: 80", HOSTPORT_BAD_PORT);
    split_fails("h:-1", HOSTPORT_BAD_PORT);
    split_fails("[::1]:", HOSTPORT_BAD_PORT);
    split_fails("[::1", HOSTPORT_BAD_BRACKETS);
    split_fails("[::1]x", HOSTPORT_BAD_BRACKETS);
    split_fails("[::1]]:80", HOSTPORT_BAD_BRACKETS);
    char long_host[HOSTPORT_HOST_MAX + 8];
    memset(long_host, 'a', sizeof(long_host) - 1);
    long_host[sizeof(long_host) - 1] = '\0';
    split_fails(long_host, HOSTPORT_TOO_LONG);
}

static void format_round_trips(const char *text)
{
    struct hostport hp;
    char out[300];
    assert_int_equal(hostport_split(text, &hp), HOSTPORT_OK);
    assert_int_equal(hostport_format(&hp, out, sizeof(out)), 0);
    assert_string_equal(out, text);
}

static void test_format(void **state)
{
    (void)state;
    format_round_trips("127.0.0.1:9090");
    format_round_trips("[::1]:9090");
    format_round_trips("[fe80::1]");
    format_round_trips("host");
    format_round_trips(":9090");
    struct hostport hp = {.host = "::1", .has_port = true, .port = 80};
    char out[16];
    assert_int_equal(hostport_format(&hp, out, sizeof(out)), 0);
    assert_string_equal(out, "[::1]:80"); /* an IPv6 host gets its brackets back */
    assert_int_equal(hostport_format(&hp, out, 8), -1);
}

static void target_is(const char *addr, const char *want)
{
    char out[128] = "untouched";
    int rc = hostport_local_target(addr, out, sizeof(out));
    if (rc != 0)
        print_error("hostport_local_target(%s) failed\n", addr);
    assert_int_equal(rc, 0);
    assert_string_equal(out, want);
}

static void test_local_target(void **state)
{
    (void)state;
    target_is(":9090", "127.0.0.1:9090");
    target_is("0.0.0.0:9090", "127.0.0.1:9090");
    target_is("[::]:9090", "127.0.0.1:9090");
    target_is("127.0.0.1:9090", "127.0.0.1:9090");
    target_is("localhost:9090", "localhost:9090");
    target_is("[::1]:9090", "[::1]:9090");
    target_is("metrics.internal:9090", "metrics.internal:9090");
    char out[128];
    assert_int_equal(hostport_local_target("localhost", out, sizeof(out)), -1);   /* no port */
    assert_int_equal(hostport_local_target("localhost:0", out, sizeof(out)), -1); /* nothing to connect to */
    assert_int_equal(hostport_local_target("host:x", out, sizeof(out)), -1);
    assert_int_equal(hostport_local_target("::1:9090", out, sizeof(out)), -1); /* Go refuses it too */
    assert_int_equal(hostport_local_target("[::1:9090", out, sizeof(out)), -1);
    assert_int_equal(hostport_local_target("0.0.0.0:9090", out, 8), -1); /* does not fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_local_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
