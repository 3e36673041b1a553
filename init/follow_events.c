/* SPDX-License-Identifier: MIT */
#include "follow_events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan.h"

static int parse_rfc3339(const char *s, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &used) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *z = s + used;
    if (*z == '.')
        for (z++; *z >= '0' && *z <= '9'; z++) {
        }
    int64_t offset = 0;
    if (*z == '+' || *z == '-') {
        int hh = 0, mm = 0;
        if (sscanf(z + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        offset = (int64_t)(hh * 3600 + mm * 60) * (*z == '-' ? -1 : 1);
    } else if (*z != 'Z') {
        return -1;
    }
    *out = (int64_t)timegm(&tm) - offset;
    return 0;
}

int follow_parse_ltx(const char *out, uint64_t after, uint64_t *newest, int64_t *oldest_after_unix)
{
    *newest = 0;
    *oldest_after_unix = 0;
    bool header = false;
    for (const char *line = out; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        char buf[256];
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        if (len >= sizeof(buf))
            len = sizeof(buf) - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        line = end != NULL ? end + 1 : NULL;
        int level = 0;
        char min_s[32], max_s[32], created[64];
        long long size = 0;
        if (strncmp(buf, "level", 5) == 0) {
            header = true;
            continue;
        }
        if (sscanf(buf, "%d %31s %31s %lld %63s", &level, min_s, max_s, &size, created) != 5)
            continue;
        char *e1 = NULL, *e2 = NULL;
        uint64_t min = strtoull(min_s, &e1, 16), max = strtoull(max_s, &e2, 16);
        int64_t t = 0;
        if (*e1 != '\0' || *e2 != '\0' || parse_rfc3339(created, &t) != 0)
            return -1;
        (void)min;
        if (max > *newest)
            *newest = max;
        if (max > after && (*oldest_after_unix == 0 || t < *oldest_after_unix))
            *oldest_after_unix = t;
    }
    return header ? 0 : -1;
}

int follow_parse_txid(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 16);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int follow_event_parse(char *line, struct follow_event *out)
{
    memset(out, 0, sizeof(*out));
    char *save = NULL;
    char *kind = strtok_r(line, " ", &save);
    char *idx = kind != NULL ? strtok_r(NULL, " ", &save) : NULL;
    if (idx == NULL)
        return -1;
    char *end = NULL;
    unsigned long i = strtoul(idx, &end, 10);
    if (*end != '\0' || i >= PLAN_MAX_DBS)
        return -1;
    out->index = i;
    if (strcmp(kind, "published") == 0) {
        char *a = strtok_r(NULL, " ", &save), *b = strtok_r(NULL, " ", &save), *c = strtok_r(NULL, " ", &save),
             *d = strtok_r(NULL, " ", &save);
        if (d == NULL || follow_parse_txid(a, &out->txid) != 0)
            return -1;
        out->kind = FOLLOW_EV_PUBLISHED;
        out->pages_written = strtoull(b, NULL, 10);
        out->pages = strtoull(c, NULL, 10);
        out->ms = strtoll(d, NULL, 10);
        return 0;
    }
    if (strcmp(kind, "lag") == 0) {
        char *a = strtok_r(NULL, " ", &save), *b = strtok_r(NULL, " ", &save), *c = strtok_r(NULL, " ", &save);
        if (c == NULL || follow_parse_txid(b, &out->replica_txid) != 0 || follow_parse_txid(c, &out->txid) != 0)
            return -1;
        out->kind = FOLLOW_EV_LAG;
        out->ms = strtoll(a, NULL, 10);
        return 0;
    }
    if (strcmp(kind, "unreachable") == 0) {
        char *a = strtok_r(NULL, " ", &save);
        if (a == NULL)
            return -1;
        out->kind = FOLLOW_EV_UNREACHABLE;
        out->ms = strtoll(a, NULL, 10);
        out->text = save != NULL ? save : "";
        return 0;
    }
    if (strcmp(kind, "lease") == 0) {
        char *what = strtok_r(NULL, " ", &save);
        if (what == NULL || (strcmp(what, "vacant") != 0 && strcmp(what, "held") != 0))
            return -1;
        out->kind = what[0] == 'v' ? FOLLOW_EV_LEASE_VACANT : FOLLOW_EV_LEASE_HELD;
        out->text = save != NULL ? save : "";
        return 0;
    }
    if (strcmp(kind, "restarted") == 0 || strcmp(kind, "error") == 0) {
        out->kind = kind[0] == 'r' ? FOLLOW_EV_RESTARTED : FOLLOW_EV_ERROR;
        out->text = save != NULL ? save : "";
        return 0;
    }
    return -1;
}
