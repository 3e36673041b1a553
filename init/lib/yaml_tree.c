/* SPDX-License-Identifier: MIT */
#include "yaml_tree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YNODE_MAX_DEPTH 64

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        fputs("lsinit: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xrealloc(NULL, n);
    memcpy(d, s, n);
    return d;
}

struct ynode *ynode_new(enum ynode_kind kind)
{
    struct ynode *n = xrealloc(NULL, sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    return n;
}

struct ynode *ynode_new_scalar(const char *value, bool quoted)
{
    struct ynode *n = ynode_new(YNODE_SCALAR);
    n->value = xstrdup(value);
    n->quoted = quoted;
    return n;
}

void ynode_free(struct ynode *node)
{
    if (node == NULL)
        return;
    size_t total = node->kind == YNODE_MAP ? node->count * 2 : node->count;
    for (size_t i = 0; i < total; i++)
        ynode_free(node->items[i]);
    free(node->items);
    free(node->value);
    free(node);
}

void ynode_seq_append(struct ynode *seq, struct ynode *item)
{
    if (seq->count + 1 > seq->cap) {
        seq->cap = seq->count + 8;
        seq->items = xrealloc(seq->items, seq->cap * sizeof(struct ynode *));
    }
    seq->items[seq->count++] = item;
}

static void ynode_map_append(struct ynode *map, struct ynode *key, struct ynode *value)
{
    size_t slots = map->count * 2;
    if (slots + 2 > map->cap) {
        map->cap = slots + 10;
        map->items = xrealloc(map->items, map->cap * sizeof(struct ynode *));
    }
    map->items[slots] = key;
    map->items[slots + 1] = value;
    map->count++;
}

struct ynode *ynode_copy(const struct ynode *node)
{
    if (node == NULL)
        return NULL;
    struct ynode *c = ynode_new(node->kind);
    c->quoted = node->quoted;
    c->line = node->line;
    if (node->value != NULL)
        c->value = xstrdup(node->value);
    if (node->kind == YNODE_MAP) {
        for (size_t i = 0; i < node->count; i++)
            ynode_map_append(c, ynode_copy(node->items[2 * i]), ynode_copy(node->items[2 * i + 1]));
    } else if (node->kind == YNODE_SEQ) {
        for (size_t i = 0; i < node->count; i++)
            ynode_seq_append(c, ynode_copy(node->items[i]));
    }
    return c;
}

struct ynode *ynode_map_get(const struct ynode *map, const char *key)
{
    if (map == NULL || map->kind != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->count; i++) {
        const struct ynode *k = map->items[2 * i];
        if (k->kind == YNODE_SCALAR && strcmp(k->value, key) == 0)
            return map->items[2 * i + 1];
    }
    return NULL;
}

const char *ynode_map_get_str(const struct ynode *map, const char *key)
{
    const struct ynode *v = ynode_map_get(map, key);
    return (v != NULL && v->kind == YNODE_SCALAR) ? v->value : NULL;
}

void ynode_map_set(struct ynode *map, const char *key, struct ynode *value)
{
    for (size_t i = 0; i < map->count; i++) {
        struct ynode *k = map->items[2 * i];
        if (k->kind == YNODE_SCALAR && strcmp(k->value, key) == 0) {
            ynode_free(map->items[2 * i + 1]);
            map->items[2 * i + 1] = value;
            return;
        }
    }
    ynode_map_append(map, ynode_new_scalar(key, false), value);
}

void ynode_map_set_str(struct ynode *map, const char *key, const char *value, bool quoted)
{
    ynode_map_set(map, key, ynode_new_scalar(value, quoted));
}

/* ---- parsing ---------------------------------------------------------- */

struct yparse {
    yaml_parser_t parser;
    char *err;
    size_t err_size;
};

static struct ynode *yparse_node(struct yparse *p, yaml_event_t *first, int depth);

static bool yparse_next(struct yparse *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->parser, ev)) {
        snprintf(p->err, p->err_size, "line %zu: %s", p->parser.problem_mark.line + 1,
                 p->parser.problem != NULL ? p->parser.problem : "invalid YAML");
        return false;
    }
    return true;
}

static struct ynode *yparse_collection(struct yparse *p, yaml_event_t *first, int depth)
{
    bool is_map = first->type == YAML_MAPPING_START_EVENT;
    struct ynode *node = ynode_new(is_map ? YNODE_MAP : YNODE_SEQ);
    node->line = first->start_mark.line + 1;
    yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    for (;;) {
        yaml_event_t ev;
        if (!yparse_next(p, &ev)) {
            ynode_free(node);
            return NULL;
        }
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return node;
        }
        struct ynode *item = yparse_node(p, &ev, depth + 1);
        yaml_event_delete(&ev);
        if (item == NULL) {
            ynode_free(node);
            return NULL;
        }
        if (!is_map) {
            ynode_seq_append(node, item);
            continue;
        }
        if (item->kind != YNODE_SCALAR) {
            snprintf(p->err, p->err_size, "line %zu: a map key must be a plain name", item->line);
            ynode_free(item);
            ynode_free(node);
            return NULL;
        }
        if (ynode_map_get(node, item->value) != NULL) {
            snprintf(p->err, p->err_size, "line %zu: key '%s' appears twice", item->line, item->value);
            ynode_free(item);
            ynode_free(node);
            return NULL;
        }
        yaml_event_t vev;
        if (!yparse_next(p, &vev)) {
            ynode_free(item);
            ynode_free(node);
            return NULL;
        }
        struct ynode *value = yparse_node(p, &vev, depth + 1);
        yaml_event_delete(&vev);
        if (value == NULL) {
            ynode_free(item);
            ynode_free(node);
            return NULL;
        }
        ynode_map_append(node, item, value);
    }
}

static struct ynode *yparse_node(struct yparse *p, yaml_event_t *ev, int depth)
{
    if (depth > YNODE_MAX_DEPTH) {
        snprintf(p->err, p->err_size, "line %zu: nesting deeper than %d levels", ev->start_mark.line + 1,
                 YNODE_MAX_DEPTH);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        struct ynode *n = ynode_new(YNODE_SCALAR);
        n->value = xrealloc(NULL, ev->data.scalar.length + 1);
        memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
        n->value[ev->data.scalar.length] = '\0';
        if (strlen(n->value) != ev->data.scalar.length) {
            snprintf(p->err, p->err_size, "line %zu: a value contains a NUL byte", ev->start_mark.line + 1);
            ynode_free(n);
            return NULL;
        }
        n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
        n->line = ev->start_mark.line + 1;
        return n;
    }
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: return yparse_collection(p, ev, depth);
    case YAML_ALIAS_EVENT:
        snprintf(p->err, p->err_size, "line %zu: YAML aliases (*name) are not supported; write the value out",
                 ev->start_mark.line + 1);
        return NULL;
    default: snprintf(p->err, p->err_size, "line %zu: unexpected YAML structure", ev->start_mark.line + 1); return NULL;
    }
}

struct ynode *ynode_parse(const char *text, size_t len, char *err, size_t err_size)
{
    struct yparse p;
    p.err = err;
    p.err_size = err_size;
    if (!yaml_parser_initialize(&p.parser)) {
        snprintf(err, err_size, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&p.parser, (const unsigned char *)text, len);
    struct ynode *root = NULL;
    yaml_event_t ev;
    bool failed = false;
    /* Skip STREAM-START and DOCUMENT-START; stop at the first document's end. */
    while (!failed && root == NULL) {
        if (!yparse_next(&p, &ev)) {
            failed = true;
            break;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT || type == YAML_SCALAR_EVENT ||
            type == YAML_ALIAS_EVENT) {
            root = yparse_node(&p, &ev, 0);
            if (root == NULL)
                failed = true;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p.parser);
    if (failed) {
        ynode_free(root);
        return NULL;
    }
    if (root == NULL)
        return ynode_new(YNODE_MAP);
    if (root->kind == YNODE_SCALAR && root->value[0] == '\0') {
        ynode_free(root);
        return ynode_new(YNODE_MAP);
    }
    if (root->kind != YNODE_MAP) {
        snprintf(err, err_size, "line %zu: the top level must be a map of keys (dbs:, addr:, ...)", root->line);
        ynode_free(root);
        return NULL;
    }
    return root;
}

/* ---- emitting --------------------------------------------------------- */

struct ybuf {
    char *data;
    size_t len;
    size_t cap;
};

static int ybuf_write(void *ctx, unsigned char *buffer, size_t size)
{
    struct ybuf *b = ctx;
    if (b->data == NULL || b->len + size + 1 > b->cap) {
        b->cap = (b->len + size + 1) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
    if (size > 0)
        memcpy(b->data + b->len, buffer, size);
    b->len += size;
    b->data[b->len] = '\0';
    return 1;
}

static bool emit_scalar(yaml_emitter_t *em, const char *value, bool quoted)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)value, (int)strlen(value), 1, 1, style))
        return false;
    return yaml_emitter_emit(em, &ev) != 0;
}

static bool emit_node(yaml_emitter_t *em, const struct ynode *n, bool redact, bool (*is_secret)(const char *))
{
    yaml_event_t ev;
    switch (n->kind) {
    case YNODE_SCALAR: return emit_scalar(em, n->value, n->quoted);
    case YNODE_SEQ:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return false;
        for (size_t i = 0; i < n->count; i++) {
            if (!emit_node(em, n->items[i], redact, is_secret))
                return false;
        }
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    case YNODE_MAP:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return false;
        for (size_t i = 0; i < n->count; i++) {
            const struct ynode *k = n->items[2 * i];
            const struct ynode *v = n->items[2 * i + 1];
            if (!emit_node(em, k, false, NULL))
                return false;
            if (redact && is_secret != NULL && k->kind == YNODE_SCALAR && is_secret(k->value) &&
                v->kind == YNODE_SCALAR) {
                if (!emit_scalar(em, v->value[0] != '\0' ? "<redacted>" : "", true))
                    return false;
            } else if (!emit_node(em, v, redact, is_secret)) {
                return false;
            }
        }
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    return false;
}

int ynode_emit(const struct ynode *root, bool redact, bool (*is_secret)(const char *key), char **out, size_t *out_len)
{
    yaml_emitter_t em;
    struct ybuf buf = {NULL, 0, 0};
    if (!yaml_emitter_initialize(&em))
        return -1;
    yaml_emitter_set_output(&em, ybuf_write, &buf);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_event_t ev;
    bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev) &&
              yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&em, &ev) &&
              emit_node(&em, root, redact, is_secret) && yaml_document_end_event_initialize(&ev, 1) &&
              yaml_emitter_emit(&em, &ev) && yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev);
    yaml_emitter_delete(&em);
    if (!ok) {
        free(buf.data);
        return -1;
    }
    if (buf.data == NULL)
        ybuf_write(&buf, (unsigned char *)"", 0);
    *out = buf.data;
    *out_len = buf.len;
    return 0;
}
