/* SPDX-License-Identifier: MIT */
#include "ls_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

enum key_versions { K03 = 1, K05 = 2, KALL = 3 };

struct key_def {
    const char *name;
    enum key_versions versions;
};

/* Top-level keys (litestream.md §3.1). */
static const struct key_def top_keys[] = {
    {"dbs", KALL},
    {"addr", KALL},
    {"exec", KALL},
    {"access-key-id", KALL},
    {"secret-access-key", KALL},
    {"logging", KALL},
    {"mcp-addr", K05},
    {"snapshot", K05},
    {"levels", K05},
    {"l0-retention", K05},
    {"l0-retention-check-interval", K05},
    {"retention", K05},
    {"validation", K05},
    {"verify-compaction", K05},
    {"heartbeat-url", K05},
    {"heartbeat-interval", K05},
    {"shutdown-sync-timeout", K05},
    {"shutdown-sync-interval", K05},
    {"socket", K05},
    /* 0.5.3+ global replica defaults */
    {"sync-interval", K05},
    {"region", K05},
    {"bucket", K05},
    {"endpoint", K05},
    {"force-path-style", K05},
    {"skip-verify", K05},
    {NULL, 0},
};

/* Per-database keys (§3.2). */
static const struct key_def db_keys[] = {
    {"path", KALL},
    {"meta-path", KALL},
    {"monitor-interval", KALL},
    {"checkpoint-interval", KALL},
    {"min-checkpoint-page-count", KALL},
    {"max-checkpoint-page-count", K03},
    {"replicas", KALL},
    {"replica", K05},
    {"dir", K05},
    {"pattern", K05},
    {"recursive", K05},
    {"watch", K05},
    {"meta-dir", K05},
    {"truncate-page-n", K05},
    {"busy-timeout", K05},
    {"max-sync-wal-bytes", K05},
    {"restore-if-db-not-exists", K05},
    {"snapshot", K05},
    {NULL, 0},
};

/* Replica keys (§3.3). */
static const struct key_def replica_keys[] = {
    {"type", KALL},
    {"url", KALL},
    {"path", KALL},
    {"name", KALL},
    {"bucket", KALL},
    {"region", KALL},
    {"endpoint", KALL},
    {"force-path-style", KALL},
    {"skip-verify", KALL},
    {"access-key-id", KALL},
    {"secret-access-key", KALL},
    {"sync-interval", KALL},
    {"account-name", KALL},
    {"account-key", KALL},
    {"host", KALL},
    {"user", KALL},
    {"password", KALL},
    {"key-path", KALL},
    {"retention", K03},
    {"retention-check-interval", K03},
    {"snapshot-interval", K03},
    {"validation-interval", K03},
    {"age", K03},
    {"sign-payload", K05},
    {"require-content-md5", K05},
    {"storage-class", K05},
    {"part-size", K05},
    {"concurrency", K05},
    {"sse-customer-algorithm", K05},
    {"sse-customer-key", K05},
    {"sse-customer-key-path", K05},
    {"sse-kms-key-id", K05},
    {"sas-token", K05},
    {"host-key", K05},
    {"concurrent-writes", K05},
    {"webdav-url", K05},
    {"webdav-username", K05},
    {"webdav-password", K05},
    {"jwt", K05},
    {"seed", K05},
    {"creds", K05},
    {"nkey", K05},
    {"username", K05},
    {"token", K05},
    {"tls", K05},
    {"root-cas", K05},
    {"client-cert", K05},
    {"client-key", K05},
    {"max-reconnects", K05},
    {"reconnect-wait", K05},
    {"timeout", K05},
    {"auto-recover", K05},
    {"max-sync-ltx-files", K05},
    {NULL, 0},
};

static const char *const secret_keys[] = {
    "access-key-id",
    "secret-access-key",
    "password",
    "account-key",
    "sas-token",
    "sse-customer-key",
    "webdav-password",
    "jwt",
    "seed",
    "nkey",
    "token",
    NULL,
};

bool ls_config_is_secret_key(const char *key)
{
    for (size_t i = 0; secret_keys[i] != NULL; i++) {
        if (strcmp(secret_keys[i], key) == 0)
            return true;
    }
    return false;
}

/* Levenshtein distance, capped: enough to suggest "replicas" for "replcas". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t prev[41], cur[41];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best)
                best = prev[j - 1] + cost;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof(prev));
    }
    return prev[lb];
}

static const struct key_def *key_find(const struct key_def *table, const char *name)
{
    for (const struct key_def *k = table; k->name != NULL; k++) {
        if (strcmp(k->name, name) == 0)
            return k;
    }
    return NULL;
}

static const char *key_suggest(const struct key_def *table, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (const struct key_def *k = table; k->name != NULL; k++) {
        size_t d = edit_distance(name, k->name);
        if (d < best_d) {
            best_d = d;
            best = k->name;
        }
    }
    return best;
}

struct vctx {
    const struct ls_version *v;
    const char *source;
    char *err;
    size_t err_size;
};

static int check_keys(struct vctx *c, const struct ynode *map, const struct key_def *table, const char *where)
{
    enum key_versions mine = ls_version_is_v05(c->v) ? K05 : K03;
    for (size_t i = 0; i < map->count; i++) {
        const struct ynode *key = map->items[2 * i];
        const struct key_def *def = key_find(table, key->value);
        if (def == NULL) {
            const char *hint = key_suggest(table, key->value);
            if (hint != NULL)
                snprintf(c->err, c->err_size, "%s line %zu: unknown key '%s' in %s: did you mean '%s'?", c->source,
                         key->line, key->value, where, hint);
            else
                snprintf(c->err, c->err_size,
                         "%s line %zu: unknown key '%s' in %s (Litestream would silently ignore it): remove or fix it",
                         c->source, key->line, key->value, where);
            return -1;
        }
        if ((def->versions & mine) == 0) {
            if (strcmp(key->value, "replica") == 0)
                snprintf(c->err, c->err_size,
                         "%s line %zu: 'replica:' needs Litestream 0.5 (this is %s, which would ignore it and "
                         "replicate nowhere): use 'replicas:' with a list",
                         c->source, key->line, c->v->text);
            else
                snprintf(c->err, c->err_size, "%s line %zu: key '%s' in %s needs Litestream %s; this litestream is %s",
                         c->source, key->line, key->value, where, def->versions == K05 ? "0.5" : "0.3", c->v->text);
            return -1;
        }
    }
    return 0;
}

static int expect_kind(struct vctx *c, const struct ynode *n, enum ynode_kind kind, const char *what)
{
    if (n->kind == kind)
        return 0;
    snprintf(c->err, c->err_size, "%s line %zu: %s must be a %s", c->source, n->line, what,
             kind == YNODE_MAP   ? "map of keys"
             : kind == YNODE_SEQ ? "list"
                                 : "single value");
    return -1;
}

static int check_replica(struct vctx *c, const struct ynode *r)
{
    if (expect_kind(c, r, YNODE_MAP, "a replica") != 0 || check_keys(c, r, replica_keys, "a replica") != 0)
        return -1;
    const char *type = ynode_map_get_str(r, "type");
    const char *url = ynode_map_get_str(r, "url");
    bool v05 = ls_version_is_v05(c->v);
    const char *bad = NULL;
    if (type != NULL && v05 && strcmp(type, "gcs") == 0)
        bad = "type 'gcs' was renamed 'gs' in Litestream 0.5";
    else if (type != NULL && !v05 && strcmp(type, "gs") == 0)
        bad = "type 'gs' needs Litestream 0.5: write 'gcs' for 0.3";
    else if (url != NULL && v05 && strncmp(url, "gcs://", 6) == 0)
        bad = "gcs:// was renamed gs:// in Litestream 0.5";
    else if (url != NULL && !v05 && strncmp(url, "gs://", 5) == 0)
        bad = "gs:// needs Litestream 0.5: write gcs:// for 0.3";
    else if (url != NULL && (ynode_map_get(r, "bucket") != NULL || ynode_map_get(r, "path") != NULL))
        bad = "a replica takes either url or path/bucket, not both";
    if (bad != NULL) {
        snprintf(c->err, c->err_size, "%s line %zu: %s", c->source, r->line, bad);
        return -1;
    }
    return 0;
}

int ls_config_validate(const struct ynode *root, const struct ls_version *v, const char *source, char *err,
                       size_t err_size)
{
    struct vctx c = {v, source, err, err_size};
    if (check_keys(&c, root, top_keys, "the top level") != 0)
        return -1;
    const struct ynode *dbs = ynode_map_get(root, "dbs");
    if (dbs == NULL)
        return 0;
    if (expect_kind(&c, dbs, YNODE_SEQ, "dbs") != 0)
        return -1;
    for (size_t i = 0; i < dbs->count; i++) {
        const struct ynode *db = dbs->items[i];
        if (expect_kind(&c, db, YNODE_MAP, "each entry of dbs") != 0 || check_keys(&c, db, db_keys, "a database") != 0)
            return -1;
        const struct ynode *replicas = ynode_map_get(db, "replicas");
        const struct ynode *replica = ynode_map_get(db, "replica");
        if (replicas != NULL && replica != NULL) {
            snprintf(err, err_size, "%s line %zu: a database takes 'replica' or 'replicas', not both", source,
                     db->line);
            return -1;
        }
        if (replicas != NULL) {
            if (expect_kind(&c, replicas, YNODE_SEQ, "replicas") != 0)
                return -1;
            if (ls_version_is_v05(v) && replicas->count > 1) {
                snprintf(err, err_size,
                         "%s line %zu: Litestream 0.5 supports one replica per database; this list has %zu", source,
                         replicas->line, replicas->count);
                return -1;
            }
            for (size_t j = 0; j < replicas->count; j++) {
                if (check_replica(&c, replicas->items[j]) != 0)
                    return -1;
            }
        }
        if (replica != NULL && check_replica(&c, replica) != 0)
            return -1;
        const struct ynode *path = ynode_map_get(db, "path");
        if (path != NULL && expect_kind(&c, path, YNODE_SCALAR, "path") != 0)
            return -1;
    }
    return 0;
}

static bool is_name_char(char ch) { return isalnum((unsigned char)ch) || ch == '_'; }

static void buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        char *grown = realloc(*buf, *cap);
        if (grown == NULL) {
            fputs("lsinit: out of memory\n", stderr);
            abort();
        }
        *buf = grown;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void append_env(char **buf, size_t *len, size_t *cap, char *const *envp, const char *name, size_t name_len)
{
    char key[256];
    if (name_len == 0 || name_len >= sizeof(key))
        return;
    memcpy(key, name, name_len);
    key[name_len] = '\0';
    const char *value = env_lookup(envp, key);
    if (value != NULL)
        buf_append(buf, len, cap, value, strlen(value));
}

char *ls_config_expand_env(const char *text, char *const *envp)
{
    size_t len = 0, cap = strlen(text) + 64;
    char *out = malloc(cap);
    if (out == NULL)
        abort();
    out[0] = '\0';
    const char *p = text;
    while (*p != '\0') {
        const char *dollar = strchr(p, '$');
        if (dollar == NULL) {
            buf_append(&out, &len, &cap, p, strlen(p));
            break;
        }
        buf_append(&out, &len, &cap, p, (size_t)(dollar - p));
        const char *s = dollar + 1;
        if (*s == '{') {
            const char *close = strchr(s, '}');
            if (close == NULL) {
                /* Go: bad syntax, the "${" is eaten. */
                p = s + 1;
                continue;
            }
            append_env(&out, &len, &cap, envp, s + 1, (size_t)(close - s - 1));
            p = close + 1;
        } else if (*s != '\0' && strchr("*#$@!?-0123456789", *s) != NULL) {
            append_env(&out, &len, &cap, envp, s, 1);
            p = s + 1;
        } else if (is_name_char(*s)) {
            const char *e = s;
            while (is_name_char(*e))
                e++;
            append_env(&out, &len, &cap, envp, s, (size_t)(e - s));
            p = e;
        } else {
            buf_append(&out, &len, &cap, "$", 1);
            p = s;
        }
    }
    return out;
}
