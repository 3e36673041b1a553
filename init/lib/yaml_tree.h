/* SPDX-License-Identifier: MIT */
/*
 * A small in-memory YAML tree on top of libyaml: parse a user's
 * litestream.yml into maps, sequences and scalars (keeping line numbers for
 * error messages), change it, and emit it again with correct quoting.
 */
#ifndef LSINIT_YAML_TREE_H
#define LSINIT_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode {
    enum ynode_kind kind;
    char *value;  /* scalars only */
    bool quoted;  /* emit as a double-quoted string */
    size_t line;  /* 1-based source line, 0 when generated */
    size_t count; /* seq: items; map: pairs */
    size_t cap;
    struct ynode **items; /* seq: items[i]; map: key items[2i], value items[2i+1] */
};

/* Parses the first document of text. On error returns NULL and writes
 * "line N: what" into err. An empty document gives an empty map. */
struct ynode *ynode_parse(const char *text, size_t len, char *err, size_t err_size);

struct ynode *ynode_new(enum ynode_kind kind);
struct ynode *ynode_new_scalar(const char *value, bool quoted);
struct ynode *ynode_copy(const struct ynode *node);
void ynode_free(struct ynode *node);

/* Map access by key (scalar keys only). */
struct ynode *ynode_map_get(const struct ynode *map, const char *key);
const char *ynode_map_get_str(const struct ynode *map, const char *key);
/* Takes ownership of value; replaces an existing key's value. */
void ynode_map_set(struct ynode *map, const char *key, struct ynode *value);
void ynode_map_set_str(struct ynode *map, const char *key, const char *value, bool quoted);
void ynode_seq_append(struct ynode *seq, struct ynode *item);

/*
 * Emits the tree as a YAML document into a malloc'ed buffer. Values of map
 * keys for which is_secret(key) returns true are replaced by "<redacted>"
 * when redact is set. Returns 0, or -1 on failure.
 */
int ynode_emit(const struct ynode *root, bool redact, bool (*is_secret)(const char *key), char **out, size_t *out_len);

#endif
