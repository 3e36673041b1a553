/* SPDX-License-Identifier: MIT */
#include "replica_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"

const char *replica_type_name(enum replica_type type)
{
    switch (type) {
    case REPLICA_FILE: return "file";
    case REPLICA_S3: return "s3";
    case REPLICA_GCS: return "gs";
    case REPLICA_ABS: return "abs";
    case REPLICA_SFTP: return "sftp";
    }
    return "?";
}

void replica_url_redact(const char *url, char *buf, size_t size)
{
    if (size == 0)
        return;
    /* Work on the whole URL, never on a truncated copy. The user info ends at
     * the LAST '@' (a password may hold '@' or '/', as url.Parse allows);
     * a ':' before the first '/' or '@' starts the password. */
    const char *scheme_end = strstr(url, "://");
    const char *auth = scheme_end != NULL ? scheme_end + 3 : NULL;
    const char *colon = NULL;
    for (const char *p = auth; p != NULL && *p != '\0' && *p != '/' && *p != '@'; p++) {
        if (*p == ':') {
            colon = p;
            break;
        }
    }
    const char *at = colon != NULL ? strrchr(colon, '@') : NULL;
    if (at == NULL) {
        snprintf(buf, size, "%s", url);
        return;
    }
    snprintf(buf, size, "%.*s:<redacted>%s", (int)(colon - url), url, at);
}

/* Copies [start, end) into dst (bounded); returns -1 when it does not fit. */
static int copy_span(char *dst, size_t size, const char *start, const char *end)
{
    size_t n = (size_t)(end - start);
    if (n >= size)
        return -1;
    memcpy(dst, start, n);
    dst[n] = '\0';
    return 0;
}

static int bad(char *err, size_t size, const char *what)
{
    snprintf(err, size, "%s", what);
    return -1;
}

int replica_url_parse(const char *url, struct replica_url *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return bad(err, err_size,
                   "is not a URL: use s3://BUCKET/PATH, gs://, abs://, sftp://USER@HOST/PATH or file:///PATH");
    size_t scheme_len = (size_t)(sep - url);
    char scheme[16];
    if (scheme_len == 0 || scheme_len >= sizeof(scheme))
        return bad(err, err_size, "has no scheme: use s3://, gs://, abs://, sftp:// or file://");
    memcpy(scheme, url, scheme_len);
    scheme[scheme_len] = '\0';
    const char *rest = sep + 3;
    if (strpbrk(rest, "?#") != NULL)
        return bad(err, err_size,
                   "has a query or fragment: set the endpoint and region with "
                   "LITESTREAM_REPLICA_ENDPOINT and LITESTREAM_REPLICA_REGION instead");
    if (strpbrk(rest, " \t\r\n") != NULL)
        return bad(err, err_size, "contains white space");

    if (strcmp(scheme, "file") == 0) {
        out->type = REPLICA_FILE;
        if (rest[0] != '/')
            return bad(err, err_size, "needs an absolute path: file:///data/replica (three slashes)");
        if (copy_span(out->path, sizeof(out->path), rest, rest + strlen(rest)) != 0)
            return bad(err, err_size, "has a path that is too long");
        size_t len = strlen(out->path);
        while (len > 1 && out->path[len - 1] == '/')
            out->path[--len] = '\0';
        return 0;
    }

    enum replica_type type;
    if (strcmp(scheme, "s3") == 0)
        type = REPLICA_S3;
    else if (strcmp(scheme, "gs") == 0 || strcmp(scheme, "gcs") == 0)
        type = REPLICA_GCS;
    else if (strcmp(scheme, "abs") == 0)
        type = REPLICA_ABS;
    else if (strcmp(scheme, "sftp") == 0)
        type = REPLICA_SFTP;
    else {
        snprintf(err, err_size, "has unknown scheme '%s': use s3://, gs://, abs://, sftp:// or file://", scheme);
        return -1;
    }
    out->type = type;

    const char *slash = strchr(rest, '/');
    const char *authority_end = slash != NULL ? slash : rest + strlen(rest);
    const char *path = slash != NULL ? slash + 1 : "";
    while (*path == '/')
        path++;
    if (copy_span(out->path, sizeof(out->path), path, path + strlen(path)) != 0)
        return bad(err, err_size, "has a path that is too long");
    size_t len = strlen(out->path);
    while (len > 0 && out->path[len - 1] == '/')
        out->path[--len] = '\0';

    if (type == REPLICA_SFTP) {
        /* The user info ends at the last '@' (Go's url.Parse): a password may hold '@'. */
        const char *at = memrchr(rest, '@', (size_t)(authority_end - rest));
        if (at == NULL)
            return bad(err, err_size, "needs a user: sftp://USER@HOST:PORT/PATH");
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        const char *user_end = colon != NULL ? colon : at;
        if (user_end == rest || copy_span(out->user, sizeof(out->user), rest, user_end) != 0)
            return bad(err, err_size, "needs a user: sftp://USER@HOST:PORT/PATH");
        if (colon != NULL && copy_span(out->password, sizeof(out->password), colon + 1, at) != 0)
            return bad(err, err_size, "has a password that is too long");
        const char *host = at + 1;
        if (host == authority_end || copy_span(out->host, sizeof(out->host), host, authority_end) != 0)
            return bad(err, err_size, "needs a host: sftp://USER@HOST:PORT/PATH");
        struct hostport hp;
        enum hostport_result hr = hostport_split(out->host, &hp);
        if (hr == HOSTPORT_BAD_BRACKETS)
            return bad(err, err_size, "has a host that is not HOST:PORT or [IPV6]:PORT");
        if (hr == HOSTPORT_TOO_LONG)
            return bad(err, err_size, "has a host name that is too long");
        if (hr == HOSTPORT_BAD_PORT || (hp.has_port && hp.port < 1))
            return bad(err, err_size, "has an invalid port: use a number from 1 to 65535");
        /* Litestream's default port, written out; a bare IPv6 address is left as it is (Litestream adds :22). */
        if (!hp.has_port && (hp.bracketed || strchr(hp.host, ':') == NULL)) {
            size_t hl = strlen(out->host);
            if (hl + 3 >= sizeof(out->host))
                return bad(err, err_size, "has a host name that is too long");
            memcpy(out->host + hl, ":22", 4);
        }
        if (out->path[0] == '\0')
            return bad(err, err_size, "needs a path on the server: sftp://USER@HOST:PORT/PATH");
        /* SFTP paths are absolute on the server. */
        size_t plen = strlen(out->path);
        if (plen + 2 > sizeof(out->path))
            return bad(err, err_size, "has a path that is too long");
        memmove(out->path + 1, out->path, plen + 1);
        out->path[0] = '/';
        return 0;
    }

    if (memchr(rest, '@', (size_t)(authority_end - rest)) != NULL && type != REPLICA_ABS)
        return bad(err, err_size,
                   "must not carry credentials: set LITESTREAM_ACCESS_KEY_ID and "
                   "LITESTREAM_SECRET_ACCESS_KEY instead");
    if (type == REPLICA_ABS) {
        const char *at = memchr(rest, '@', (size_t)(authority_end - rest));
        if (at == NULL || at == rest)
            return bad(err, err_size, "needs an account: abs://ACCOUNT@CONTAINER/PATH");
        if (copy_span(out->account, sizeof(out->account), rest, at) != 0)
            return bad(err, err_size, "has an account name that is too long");
        rest = at + 1;
    }
    if (rest == authority_end)
        return bad(err, err_size,
                   type == REPLICA_ABS ? "needs a container: abs://ACCOUNT@CONTAINER/PATH"
                                       : "needs a bucket: s3://BUCKET/PATH");
    if (copy_span(out->bucket, sizeof(out->bucket), rest, authority_end) != 0)
        return bad(err, err_size, "has a bucket name that is too long");
    if (strchr(out->bucket, ':') != NULL)
        return bad(err, err_size,
                   "has a port in the bucket name: set LITESTREAM_REPLICA_ENDPOINT for a custom endpoint");
    return 0;
}
