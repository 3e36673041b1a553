/* SPDX-License-Identifier: MIT */
#include "metrics_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http_fetch.h"

char *metrics_fetch(const char *addr, long timeout_ms)
{
    char url[256];
    snprintf(url, sizeof(url), "http://%s/metrics", addr);
    struct http_fetch req = {.url = url, .timeout_ms = timeout_ms};
    char *body = NULL;
    if (http_fetch(&req, &body) != 200) {
        free(body);
        return NULL;
    }
    return body;
}

/* Size of the current shadow WAL file of db at index, or -1. */
static double shadow_wal_file_size(const char *db, double index)
{
    const char *slash = strrchr(db, '/');
    if (slash == NULL || index < 0)
        return -1;
    char meta[4200], path[4400], generation[64];
    snprintf(meta, sizeof(meta), "%.*s/.%s-litestream", (int)(slash - db), db, slash + 1);
    snprintf(path, sizeof(path), "%s/generation", meta);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(generation, 1, sizeof(generation) - 1, f);
    fclose(f);
    generation[n] = '\0';
    while (n > 0 && (generation[n - 1] == '\n' || generation[n - 1] == ' '))
        generation[--n] = '\0';
    if (n == 0 || strchr(generation, '/') != NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/generations/%s/wal/%08lx.wal", meta, generation, (unsigned long)index);
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size : -1;
}

int metrics_positions(const char *text, const char *db, double local[2], double replica[2])
{
    if (metrics_find(text, "litestream_shadow_wal_index", db, &local[0]) != 0 ||
        metrics_find(text, "litestream_replica_wal_index", db, &replica[0]) != 0 ||
        metrics_find(text, "litestream_replica_wal_offset", db, &replica[1]) != 0)
        return -1;
    local[1] = shadow_wal_file_size(db, local[0]);
    return local[1] < 0 ? -1 : 0;
}

int metrics_replica_caught_up(const char *text, const char *db)
{
    double count = 0, shadow_index = 0, replica_index = 0, replica_offset = 0;
    if (metrics_find(text, "litestream_sync_count", db, &count) != 0 || count < 1 ||
        metrics_find(text, "litestream_shadow_wal_index", db, &shadow_index) != 0 ||
        metrics_find(text, "litestream_replica_wal_index", db, &replica_index) != 0 ||
        metrics_find(text, "litestream_replica_wal_offset", db, &replica_offset) != 0)
        return -1;
    if (replica_index != shadow_index)
        return replica_index > shadow_index ? 1 : 0;
    double local = shadow_wal_file_size(db, shadow_index);
    if (local < 0) {
        /* No readable shadow WAL (custom meta-path): the byte counters of this run. */
        double uploaded = 0, written = 0;
        if (metrics_find(text, "litestream_replica_wal_bytes", db, &uploaded) != 0 ||
            metrics_find(text, "litestream_total_wal_bytes", db, &written) != 0)
            return -1;
        return uploaded >= written ? 1 : 0;
    }
    return replica_offset >= local ? 1 : 0;
}

int metrics_find(const char *text, const char *name, const char *db, double *out)
{
    size_t name_len = strlen(name);
    char label[1200];
    snprintf(label, sizeof(label), "db=\"%s\"", db);
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        if (len > name_len && strncmp(line, name, name_len) == 0 && line[name_len] == '{') {
            const char *close = memchr(line, '}', len);
            if (close != NULL) {
                size_t labels_len = (size_t)(close - line);
                char labels[2048];
                if (labels_len < sizeof(labels)) {
                    memcpy(labels, line, labels_len);
                    labels[labels_len] = '\0';
                    if (strstr(labels, label) != NULL) {
                        char *num_end = NULL;
                        double value = strtod(close + 1, &num_end);
                        if (num_end != close + 1) {
                            *out = value;
                            return 0;
                        }
                    }
                }
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return -1;
}
