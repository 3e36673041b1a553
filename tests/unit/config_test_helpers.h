/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the configuration tests (test_yaml_tree.c,
 * test_ls_config.c, test_plan.c): parse or emit YAML, follow a path in a
 * tree, compare trees, and a typical litestream.yml. Included after
 * <cmocka.h>. A file that emits with redaction defines CONFIG_TEST_IS_SECRET
 * (e.g. ls_config_is_secret_key) before including this.
 */
#ifndef LSINIT_TEST_CONFIG_HELPERS_H
#define LSINIT_TEST_CONFIG_HELPERS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_tree.h"

#ifndef CONFIG_TEST_IS_SECRET
#define CONFIG_TEST_IS_SECRET NULL
#endif

static inline struct ynode *parse_ok(const char *text)
{
    char err[512] = "";
    struct ynode *root = ynode_parse(text, strlen(text), err, sizeof(err));
    if (root == NULL)
        print_error("ynode_parse failed: %s\n---\n%s\n---\n", err, text);
    assert_non_null(root);
    return root;
}

static inline char *emit(const struct ynode *root, bool redact)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ynode_emit(root, redact, CONFIG_TEST_IS_SECRET, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Follows a path of map keys and sequence indexes ("dbs", "#0", "replicas", "#0", "path"). */
static inline const struct ynode *at(const struct ynode *n, const char *const *path)
{
    for (size_t i = 0; path[i] != NULL && n != NULL; i++) {
        if (path[i][0] == '#') {
            size_t idx = (size_t)strtoul(path[i] + 1, NULL, 10);
            n = (n->kind == YNODE_SEQ && idx < n->count) ? n->items[idx] : NULL;
        } else {
            n = ynode_map_get(n, path[i]);
        }
    }
    return n;
}

#define P(...) ((const char *const[]){__VA_ARGS__, NULL})

static inline const char *str_at(const struct ynode *n, const char *const *path)
{
    const struct ynode *v = at(n, path);
    return (v != NULL && v->kind == YNODE_SCALAR) ? v->value : NULL;
}

static inline void assert_str_at(const struct ynode *n, const char *const *path, const char *want)
{
    const char *got = str_at(n, path);
    if (got == NULL || strcmp(got, want) != 0) {
        char where[256] = "";
        for (size_t i = 0; path[i] != NULL; i++) {
            strncat(where, "/", sizeof(where) - strlen(where) - 1);
            strncat(where, path[i], sizeof(where) - strlen(where) - 1);
        }
        print_error("%s = '%s', want '%s'\n", where, got != NULL ? got : "(missing)", want);
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* Recursively compares two trees: same shape, same scalar text; a scalar that
 * was emitted quoted must come back quoted (so it stays a string in Go). */
static inline void assert_same_tree(const struct ynode *want, const struct ynode *got)
{
    assert_non_null(got);
    assert_int_equal(want->kind, got->kind);
    if (want->kind == YNODE_SCALAR) {
        if (strcmp(want->value, got->value) != 0)
            print_error("scalar '%s' came back as '%s'\n", want->value, got->value);
        assert_string_equal(want->value, got->value);
        if (want->quoted)
            assert_true(got->quoted);
        return;
    }
    assert_int_equal(want->count, got->count);
    size_t total = want->kind == YNODE_MAP ? want->count * 2 : want->count;
    for (size_t i = 0; i < total; i++)
        assert_same_tree(want->items[i], got->items[i]);
}

/* The first database's first (0.3) replica. */
#define R03(...) P("dbs", "#0", "replicas", "#0", __VA_ARGS__)
#define R05(...) P("dbs", "#0", "replica", __VA_ARGS__)

__attribute__((unused)) static const char typical_yml[] = "# litestream.yml for the app\n"
                                                          "addr: \":9090\"\n"
                                                          "\n"
                                                          "dbs:\n"
                                                          "  - path: /data/app.db   # the main database\n"
                                                          "    replicas:\n"
                                                          "      - type: s3\n"
                                                          "        bucket: 'my-bucket'\n"
                                                          "        path: \"app.db\"\n"
                                                          "        sync-interval: 1s\n"
                                                          "        retention: 72h\n"
                                                          "  - path: /data/other.db\n"
                                                          "    replicas:\n"
                                                          "      - url: file:///backup/other\n"
                                                          "exec: |\n"
                                                          "  myapp --serve\n"
                                                          "  --port 8080\n"
                                                          "logging:\n"
                                                          "  level: info\n"
                                                          "  note: >\n"
                                                          "    folded\n"
                                                          "    text\n";

#endif
