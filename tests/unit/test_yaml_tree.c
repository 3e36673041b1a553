/* SPDX-License-Identifier: MIT */
/*
 * yaml_tree (init/lib/yaml_tree.c): parsing a litestream.yml into a tree
 * (line numbers, quoting, refusals), emitting it back (round trips of tricky
 * and random scalars), and map edits.
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

#include "config_test_helpers.h"
#include "yaml_tree.h"

/* ---- helpers ------------------------------------------------------------ */

static void parse_fails(const char *text, const char *want1, const char *want2)
{
    char err[512] = "";
    struct ynode *root = ynode_parse(text, strlen(text), err, sizeof(err));
    if (root != NULL)
        print_error("ynode_parse accepted:\n%s\n", text);
    assert_null(root);
    if (strstr(err, want1) == NULL || (want2 != NULL && strstr(err, want2) == NULL))
        print_error("error '%s' lacks '%s' / '%s'\n", err, want1, want2 != NULL ? want2 : "");
    assert_non_null(strstr(err, want1));
    if (want2 != NULL)
        assert_non_null(strstr(err, want2));
}

/* =========================================================================
 * yaml_tree: parse
 * ========================================================================= */

static void test_parse_typical(void **state)
{
    (void)state;
    struct ynode *root = parse_ok(typical_yml);
    assert_int_equal(root->kind, YNODE_MAP);
    assert_int_equal(root->count, 4);
    assert_str_at(root, P("addr"), ":9090");
    assert_true(at(root, P("addr"))->quoted);
    const struct ynode *dbs = at(root, P("dbs"));
    assert_non_null(dbs);
    assert_int_equal(dbs->kind, YNODE_SEQ);
    assert_int_equal(dbs->count, 2);
    assert_str_at(root, P("dbs", "#0", "path"), "/data/app.db");
    assert_false(at(root, P("dbs", "#0", "path"))->quoted);
    assert_str_at(root, R03("type"), "s3");
    assert_str_at(root, R03("bucket"), "my-bucket");
    assert_true(at(root, R03("bucket"))->quoted);
    assert_str_at(root, R03("path"), "app.db");
    assert_str_at(root, R03("sync-interval"), "1s");
    assert_str_at(root, P("dbs", "#1", "replicas", "#0", "url"), "file:///backup/other");
    assert_str_at(root, P("exec"), "myapp --serve\n--port 8080\n");
    assert_true(at(root, P("exec"))->quoted); /* block scalars stay strings */
    assert_str_at(root, P("logging", "note"), "folded text\n");
    /* Line numbers (1-based) for messages. */
    assert_int_equal(at(root, P("addr"))->line, 2);
    assert_int_equal(at(root, P("dbs", "#0"))->line, 5);
    assert_int_equal(at(root, P("dbs", "#1", "path"))->line, 12);
    assert_int_equal(at(root, R03("bucket"))->line, 8);
    assert_null(ynode_map_get(root, "missing"));
    assert_null(ynode_map_get_str(root, "dbs")); /* not a scalar */
    ynode_free(root);
}

static void test_parse_empty(void **state)
{
    (void)state;
    static const char *const empties[] = {"", "\n", "# only a comment\n", "---\n", "---\n...\n", "~\n"};
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        char err[256] = "";
        struct ynode *root = ynode_parse(empties[i], strlen(empties[i]), err, sizeof(err));
        /* "~" is a null scalar, not empty text: either an empty map or a clear error. */
        if (strcmp(empties[i], "~\n") == 0) {
            if (root == NULL)
                assert_non_null(strstr(err, "top level"));
            ynode_free(root);
            continue;
        }
        if (root == NULL)
            print_error("'%s' → %s\n", empties[i], err);
        assert_non_null(root);
        assert_int_equal(root->kind, YNODE_MAP);
        assert_int_equal(root->count, 0);
        ynode_free(root);
    }
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_fails("a: &anchor 1\nb: *anchor\n", "line 2", "aliases");
    parse_fails("base: &b {x: 1}\ndbs:\n  - <<: *b\n", "line 3", "aliases");
    parse_fails("addr: 1\naddr: 2\n", "line 2", "'addr' appears twice");
    parse_fails("dbs:\n  - path: /a\n    path: /b\n", "line 3", "'path' appears twice");
    parse_fails("- a\n- b\n", "line 1", "top level must be a map");
    parse_fails("just a string\n", "line 1", "top level must be a map");
    parse_fails("\n\n[1, 2]\n", "line 3", "top level must be a map");
    parse_fails("a: b: c\n", "line 1", NULL);
    parse_fails("dbs:\n  - path: /a\n bad: indent\n", "line 3", NULL);
    parse_fails("a: 1\nb: \"unterminated\n", "line ", NULL);
    parse_fails("a: 1\nb: [1, 2\nc: 3\n", "line 3", NULL);
    parse_fails("? [a, b]\n: value\n", "line 1", "map key");
    parse_fails("a: \"x\\0y\"\n", "NUL", NULL);
    /* Deep nesting is refused, not a stack overflow. */
    char deep[1024];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "a: ");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n++] = '\n';
    deep[n] = '\0';
    parse_fails(deep, "nesting", NULL);
}

/* =========================================================================
 * yaml_tree: emit → parse
 * ========================================================================= */

static const char *const tricky[] = {
    "true",
    "false",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "null",
    "~",
    "Null",
    "123",
    "-1",
    "0x1F",
    "0o17",
    "1e3",
    ".inf",
    "1_000",
    "12:30",
    "2024-01-01",
    "a: b",
    "a:b",
    "#x",
    "x #y",
    "x#y",
    "'",
    "''",
    "\"",
    "it's",
    "say \"hi\"",
    "back\\slash",
    "",
    " ",
    " lead",
    "trail ",
    "multi\nline",
    "trailing newline\n",
    "\ttab",
    "- dash",
    "-",
    "--- doc",
    "...",
    "[x]",
    "{x: 1}",
    "*star",
    "&amp",
    "!tag",
    "%pct",
    "@at",
    "`bt",
    "|",
    ">",
    "?",
    ":",
    ",",
    "=",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    "\xe2\x80\xa8line-sep",
    "\xc2\x85nel",
    "\xef\xbb\xbf"
    "bom",
    "ctrl\x01\x7f",
    "s3://bucket/path?x=1&y=2",
    "${VAR}",
    "$HOME",
    "<redacted>",
};

static void test_emit_round_trip_tricky(void **state)
{
    (void)state;
    for (int quoted = 0; quoted <= 1; quoted++) {
        struct ynode *root = ynode_new(YNODE_MAP);
        struct ynode *seq = ynode_new(YNODE_SEQ);
        struct ynode *keys = ynode_new(YNODE_MAP);
        for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
            char key[32];
            snprintf(key, sizeof(key), "k%zu", i);
            ynode_map_set_str(root, key, tricky[i], quoted != 0);
            ynode_seq_append(seq, ynode_new_scalar(tricky[i], quoted != 0));
            if (tricky[i][0] != '\0')
                ynode_map_set_str(keys, tricky[i], "v", false); /* tricky strings as keys */
        }
        ynode_map_set(root, "list", seq);
        ynode_map_set(root, "keys", keys);
        ynode_map_set(root, "empty-map", ynode_new(YNODE_MAP));
        ynode_map_set(root, "empty-list", ynode_new(YNODE_SEQ));
        char *text = emit(root, false);
        struct ynode *back = parse_ok(text);
        assert_same_tree(root, back);
        /* ...and a second generation still holds the same values. */
        char *again = emit(back, false);
        struct ynode *back2 = parse_ok(again);
        assert_same_tree(root, back2);
        ynode_free(back2);
        free(again);
        free(text);
        ynode_free(back);
        ynode_free(root);
    }
}

static void test_emit_round_trip_parsed(void **state)
{
    (void)state;
    struct ynode *root = parse_ok(typical_yml);
    char *text = emit(root, false);
    struct ynode *back = parse_ok(text);
    assert_same_tree(root, back);
    /* A copy is the same tree and independent. */
    struct ynode *copy = ynode_copy(root);
    assert_same_tree(root, copy);
    ynode_map_set_str(copy, "addr", "changed", true);
    assert_str_at(root, P("addr"), ":9090");
    ynode_free(copy);
    ynode_free(back);
    free(text);
    ynode_free(root);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_emit_round_trip_random(void **state)
{
    (void)state;
    static const char alphabet[] = " \t\n:#'\"-?[]{},&*!|>%@`abcxyz019.~\\/=$";
    for (int iter = 0; iter < 3000; iter++) {
        char value[24];
        size_t len = rng() % 16;
        for (size_t i = 0; i < len; i++)
            value[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
        value[len] = '\0';
        struct ynode *root = ynode_new(YNODE_MAP);
        ynode_map_set_str(root, "v", value, rng() % 2 == 0);
        if (len > 0)
            ynode_map_set_str(root, value, "k", false);
        char *text = emit(root, false);
        struct ynode *back = parse_ok(text);
        assert_same_tree(root, back);
        ynode_free(back);
        free(text);
        ynode_free(root);
    }
}

static void test_map_set_replaces(void **state)
{
    (void)state;
    struct ynode *m = ynode_new(YNODE_MAP);
    ynode_map_set_str(m, "a", "1", false);
    ynode_map_set_str(m, "b", "2", false);
    ynode_map_set_str(m, "a", "3", true);
    assert_int_equal(m->count, 2);
    assert_string_equal(ynode_map_get_str(m, "a"), "3");
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%d", i);
        ynode_map_set_str(m, k, k, false);
    }
    assert_int_equal(m->count, 52);
    assert_string_equal(ynode_map_get_str(m, "key49"), "key49");
    ynode_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_typical),          cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_errors),           cmocka_unit_test(test_emit_round_trip_tricky),
        cmocka_unit_test(test_emit_round_trip_parsed), cmocka_unit_test(test_emit_round_trip_random),
        cmocka_unit_test(test_map_set_replaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
