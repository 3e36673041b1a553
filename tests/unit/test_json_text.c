/* SPDX-License-Identifier: MIT */
/*
 * Text helpers (init/lib/json_text.c): the growing text buffer, JSON string
 * escaping (bounded and onto a buffer, the same escapes), a value read back
 * with json_field, and the line reader for pipes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_text.h"

static void test_text_buf_grows(void **state)
{
    (void)state;
    struct text_buf b = {0};
    text_buf_printf(&b, "%s", "");
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    for (int i = 0; i < 1000; i++)
        text_buf_printf(&b, "%d,", i);
    assert_false(b.failed);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    assert_non_null(strstr(b.data, ",999,"));
    text_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_json_string_escapes(void **state)
{
    (void)state;
    struct text_buf b = {0};
    text_buf_json_string(&b, "a\"b\\c\n\x01/caf\xc3\xa9");
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000a\\u0001/caf\xc3\xa9\"");
    text_buf_free(&b);
    text_buf_json_string(&b, "");
    assert_string_equal(b.data, "\"\"");
    text_buf_free(&b);
}

/* Long strings cross the internal chunk; every escape is kept whole. */
static void test_json_string_long_matches_json_escape(void **state)
{
    (void)state;
    char s[3000];
    for (size_t i = 0; i < sizeof(s) - 1; i++)
        s[i] = "ab\"\\\n\tz"[i % 7];
    s[sizeof(s) - 1] = '\0';
    struct text_buf b = {0};
    text_buf_json_string(&b, s);
    char *escaped = malloc(sizeof(s) * 6 + 8);
    json_escape(s, escaped, sizeof(s) * 6 + 8);
    assert_int_equal(b.len, strlen(escaped) + 2);
    assert_int_equal(b.data[0], '"');
    assert_memory_equal(b.data + 1, escaped, strlen(escaped));
    assert_int_equal(b.data[b.len - 1], '"');
    free(escaped);
    text_buf_free(&b);
}

static void test_json_escape_round_trips_through_json_field(void **state)
{
    (void)state;
    char esc[128], line[256], back[128];
    json_escape("/data/it's \"x\".db", esc, sizeof(esc));
    snprintf(line, sizeof(line), "{\"db\":\"%s\",\"n\":3}", esc);
    assert_int_equal(json_field(line, "db", back, sizeof(back)), 0);
    assert_string_equal(back, "/data/it's \"x\".db");
    json_escape("one\ntwo", esc, sizeof(esc));
    snprintf(line, sizeof(line), "{\"reason\":\"%s\"}", esc);
    assert_int_equal(json_field(line, "reason", back, sizeof(back)), 0);
    assert_string_equal(back, "one two"); /* one line of text */
    json_escape("\n\n\n", esc, 8);        /* bounded: never half an escape */
    assert_string_equal(esc, "\\u000a");
}

struct lines {
    char seen[8][64];
    int count;
};

static void collect(char *line, void *ctx)
{
    struct lines *l = ctx;
    if (l->count < 8)
        snprintf(l->seen[l->count++], sizeof(l->seen[0]), "%s", line);
}

static void put(int fd, const char *text) { assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text)); }

static void test_line_reader(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    char buf[16];
    struct line_reader r = {.buf = buf, .size = sizeof(buf)};
    struct lines l = {0};
    put(p[1], "one\ntw");
    assert_int_equal(line_reader_drain(&r, p[0], collect, &l), 1); /* nothing more for now */
    assert_int_equal(l.count, 1);
    assert_string_equal(l.seen[0], "one");
    put(p[1], "o\n\nthree\n");
    assert_int_equal(line_reader_drain(&r, p[0], collect, &l), 1);
    assert_int_equal(l.count, 4);
    assert_string_equal(l.seen[1], "two");
    assert_string_equal(l.seen[2], "");
    assert_string_equal(l.seen[3], "three");
    /* A line longer than the buffer is not one of ours: dropped, the next one is read. */
    put(p[1], "0123456789abcdefghijklmnop\nfour\n");
    assert_int_equal(line_reader_drain(&r, p[0], collect, &l), 1);
    assert_string_equal(l.seen[l.count - 1], "four");
    for (int i = 4; i < l.count - 1; i++)
        assert_true(strlen(l.seen[i]) < sizeof(buf));
    put(p[1], "five\nhalf");
    close(p[1]);
    assert_int_equal(line_reader_drain(&r, p[0], collect, &l), 0); /* end of file */
    assert_string_equal(l.seen[l.count - 1], "five");
    close(p[0]);
    assert_int_equal(line_reader_drain(&r, p[0], collect, &l), -1);
}

static void test_json_fields_of_litestream_answers(void **state)
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_fields_of_litestream_answers),
        cmocka_unit_test(test_text_buf_grows),
        cmocka_unit_test(test_json_string_escapes),
        cmocka_unit_test(test_json_string_long_matches_json_escape),
        cmocka_unit_test(test_json_escape_round_trips_through_json_field),
        cmocka_unit_test(test_line_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
