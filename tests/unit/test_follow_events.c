/* SPDX-License-Identifier: MIT */
/* The follow keeper's two parsers: its event lines (PID 1 reads them) and `litestream ltx`'s table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "follow_events.h"

static void test_events_round_trip(void **state)
{
    (void)state;
    struct follow_event ev;
    char a[] = "published 2 00000000000000a5 3 40 7";
    assert_int_equal(follow_event_parse(a, &ev), 0);
    assert_int_equal(ev.kind, FOLLOW_EV_PUBLISHED);
    assert_int_equal(ev.index, 2);
    assert_int_equal(ev.txid, 0xa5);
    assert_int_equal(ev.pages_written, 3);
    assert_int_equal(ev.pages, 40);
    assert_int_equal(ev.ms, 7);
    char b[] = "lag 0 1500 00000000000000a6 00000000000000a5";
    assert_int_equal(follow_event_parse(b, &ev), 0);
    assert_int_equal(ev.kind, FOLLOW_EV_LAG);
    assert_int_equal(ev.ms, 1500);
    assert_int_equal(ev.replica_txid, 0xa6);
    assert_int_equal(ev.txid, 0xa5);
    char c[] = "unreachable 1 12000 cannot list the replica: connection refused";
    assert_int_equal(follow_event_parse(c, &ev), 0);
    assert_int_equal(ev.kind, FOLLOW_EV_UNREACHABLE);
    assert_int_equal(ev.index, 1);
    assert_int_equal(ev.ms, 12000);
    assert_string_equal(ev.text, "cannot list the replica: connection refused");
    char d[] = "restarted 0 litestream restore -f exited (1)";
    assert_int_equal(follow_event_parse(d, &ev), 0);
    assert_int_equal(ev.kind, FOLLOW_EV_RESTARTED);
    assert_string_equal(ev.text, "litestream restore -f exited (1)");
}

static void test_events_refuse_junk(void **state)
{
    (void)state;
    struct follow_event ev;
    char a[] = "published";
    assert_int_equal(follow_event_parse(a, &ev), -1);
    char b[] = "published 0 xyz 1 2 3";
    assert_int_equal(follow_event_parse(b, &ev), -1);
    char c[] = "lag 99999 1 2 3"; /* no such database */
    assert_int_equal(follow_event_parse(c, &ev), -1);
    char d[] = "lag 0 5";
    assert_int_equal(follow_event_parse(d, &ev), -1);
    char e[] = "hello 0 there";
    assert_int_equal(follow_event_parse(e, &ev), -1);
}

static void test_ltx_listing(void **state)
{
    (void)state;
    const char *out = "level  min_txid          max_txid          size  created\n"
                      "0      0000000000000007  0000000000000007  4207  2026-12-02T16:00:01Z\n"
                      "0      0000000000000008  0000000000000009  4301  2026-12-02T16:00:03Z\n"
                      "0      000000000000000a  000000000000000a  4100  2026-12-02T17:00:04+01:00\n";
    uint64_t newest = 0;
    int64_t oldest = 0;
    assert_int_equal(follow_parse_ltx(out, 7, &newest, &oldest), 0);
    assert_int_equal(newest, 0xa);
    assert_int_equal(oldest, 1796227203); /* the file holding 8-9: the oldest not yet published */
    assert_int_equal(follow_parse_ltx(out, 9, &newest, &oldest), 0);
    assert_int_equal(oldest, 1796227204); /* +01:00 read as UTC 16:00:04 */
    assert_int_equal(follow_parse_ltx(out, 10, &newest, &oldest), 0);
    assert_int_equal(oldest, 0); /* at the newest */
    /* an empty level 0 is a listing too */
    assert_int_equal(follow_parse_ltx("level  min_txid  max_txid  size  created\n", 3, &newest, &oldest), 0);
    assert_int_equal(newest, 0);
}

static void test_ltx_listing_junk(void **state)
{
    (void)state;
    uint64_t newest = 0;
    int64_t oldest = 0;
    assert_int_equal(follow_parse_ltx("", 0, &newest, &oldest), -1);
    assert_int_equal(follow_parse_ltx("error: database not found in config\n", 0, &newest, &oldest), -1);
    assert_int_equal(follow_parse_ltx("level min max size created\n0 zz 0000000000000001 1 2026-12-02T16:00:01Z\n", 0,
                                      &newest, &oldest),
                     -1);
    assert_int_equal(follow_parse_ltx("level min max size created\n"
                                      "0 0000000000000001 0000000000000001 1 yesterday\n",
                                      0, &newest, &oldest),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_round_trip),
        cmocka_unit_test(test_events_refuse_junk),
        cmocka_unit_test(test_ltx_listing),
        cmocka_unit_test(test_ltx_listing_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
