/* SPDX-License-Identifier: MIT */
#include "lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"

size_t lease_record_format(const struct lease_record *r, char *out, size_t size)
{
    char owner[sizeof(r->owner) * 6 + 8], host[sizeof(r->host) * 6 + 8];
    json_escape(r->owner, owner, sizeof(owner));
    json_escape(r->host, host, sizeof(host));
    int n = snprintf(out, size,
                     "{\"generation\":%lld,\"expires_at\":\"%s\",\"owner\":\"%s\",\"host\":\"%s\",\"pid\":%ld,"
                     "\"acquired_at\":\"%s\"}",
                     r->generation, r->expires_at, owner, host, r->pid, r->acquired_at);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int lease_record_parse(const char *text, struct lease_record *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    const char *p = text;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (*p != '{') {
        snprintf(why, why_size, "not a JSON object");
        return -1;
    }
    char gen[32];
    if (json_field(text, "generation", gen, sizeof(gen)) != 0) {
        snprintf(why, why_size, "no \"generation\"");
        return -1;
    }
    char *end = NULL;
    out->generation = strtoll(gen, &end, 10);
    if (end == gen || *end != '\0' || out->generation < 0) {
        snprintf(why, why_size, "\"generation\" is not a number");
        return -1;
    }
    if (json_field(text, "expires_at", out->expires_at, sizeof(out->expires_at)) != 0 || strlen(out->expires_at) < 20 ||
        out->expires_at[4] != '-' || out->expires_at[10] != 'T') {
        snprintf(why, why_size, "no RFC 3339 \"expires_at\"");
        return -1;
    }
    if (json_field(text, "owner", out->owner, sizeof(out->owner)) != 0)
        out->owner[0] = '\0';
    if (json_field(text, "host", out->host, sizeof(out->host)) != 0)
        out->host[0] = '\0';
    char pid[32];
    out->pid = json_field(text, "pid", pid, sizeof(pid)) == 0 ? strtol(pid, NULL, 10) : 0;
    if (json_field(text, "acquired_at", out->acquired_at, sizeof(out->acquired_at)) != 0)
        out->acquired_at[0] = '\0';
    return 0;
}

void lease_describe(const struct lease_record *r, char *out, size_t size)
{
    if (r->host[0] != '\0')
        snprintf(out, size, "%s (host %s, pid %ld, since %s, until %s)", r->owner[0] != '\0' ? r->owner : "lsinit",
                 r->host, r->pid, r->acquired_at[0] != '\0' ? r->acquired_at : "?", r->expires_at);
    else
        snprintf(out, size, "%s (until %s)", r->owner[0] != '\0' ? r->owner : "an unnamed holder", r->expires_at);
}

bool lease_is_stale(const struct lease_obs *o, int64_t unchanged_ms, int64_t ttl_ms)
{
    if (!o->exists)
        return true;
    /* + 1 s: HTTP dates (Date, Last-Modified) have whole seconds. */
    if (o->age_ms >= 0)
        return o->age_ms > ttl_ms + 1000;
    return unchanged_ms > ttl_ms;
}

/* A renewal request may itself take up to a sixth of the TTL: the holder stops with that much to spare. */
int64_t lease_holder_limit_ms(int64_t ttl_ms) { return ttl_ms - ttl_ms / 6; }

int64_t lease_renew_interval_ms(int64_t ttl_ms) { return ttl_ms / 3; }
