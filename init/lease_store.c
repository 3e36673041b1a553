/* SPDX-License-Identifier: MIT */
#include "lease_store.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "http_easy.h"
#include "parse.h"
#include "yaml_tree.h"

#define LEASE_BODY_MAX 8192

static const char *field(const struct ynode *m, const char *key)
{
    const struct ynode *v = ynode_map_get(m, key);
    return v != NULL && v->kind == YNODE_SCALAR && v->value != NULL && v->value[0] != '\0' ? v->value : NULL;
}

static const char *env_or(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (v == NULL || v[0] == '\0')
        v = getenv(b);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Appends key to base, percent-encoding each path segment (the '/' between them kept). */
static int append_key(char *out, size_t size, const char *key)
{
    size_t len = strlen(out);
    for (const char *p = key; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '_' || c == '.' || c == '~' || c == '/';
        int n = plain ? snprintf(out + len, size - len, "%c", c) : snprintf(out + len, size - len, "%%%02X", c);
        if (n < 0 || (size_t)n >= size - len)
            return -1;
        len += (size_t)n;
    }
    return 0;
}

static int init_s3(struct lease_store *s, const struct ynode *rep, char *why, size_t why_size)
{
    const char *bucket = field(rep, "bucket"), *path = field(rep, "path"), *endpoint = field(rep, "endpoint");
    const char *region = field(rep, "region"), *fps = field(rep, "force-path-style");
    const char *key_id = field(rep, "access-key-id"), *secret = field(rep, "secret-access-key");
    if (bucket == NULL) {
        snprintf(why, why_size, "the S3 replica has no bucket");
        return -1;
    }
    if (key_id == NULL || secret == NULL) {
        key_id = env_or("LITESTREAM_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID");
        secret = env_or("LITESTREAM_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY");
    }
    if (key_id == NULL || secret == NULL) {
        snprintf(why, why_size,
                 "the lease on s3://%s needs S3 credentials (access-key-id and secret-access-key, or "
                 "LITESTREAM_ACCESS_KEY_ID/AWS_ACCESS_KEY_ID and the secret); instance roles and web identities cannot "
                 "sign the lease",
                 bucket);
        return -1;
    }
    if (region == NULL)
        region = "us-east-1";
    char key[PATH_MAX];
    snprintf(key, sizeof(key), "%s%s%s", path != NULL ? path : "", path != NULL ? "/" : "", LEASE_OBJECT);
    while (key[0] == '/')
        memmove(key, key + 1, strlen(key));
    bool path_style = fps == NULL ? endpoint != NULL : strcmp(fps, "true") == 0;
    char base[PATH_MAX];
    if (endpoint != NULL) {
        char ep[256];
        snprintf(ep, sizeof(ep), "%s%s", strstr(endpoint, "://") != NULL ? "" : "https://", endpoint);
        size_t n = strlen(ep);
        while (n > 0 && ep[n - 1] == '/')
            ep[--n] = '\0';
        snprintf(s->endpoint, sizeof(s->endpoint), "%s", ep);
        if (path_style) {
            snprintf(base, sizeof(base), "%s/%s/", ep, bucket);
        } else {
            const char *host = strstr(ep, "://") + 3;
            snprintf(base, sizeof(base), "%.*s%s.%s/", (int)(host - ep), ep, bucket, host);
        }
    } else {
        snprintf(s->endpoint, sizeof(s->endpoint), "https://s3.%s.amazonaws.com", region);
        snprintf(base, sizeof(base), "https://%s.s3.%s.amazonaws.com/", bucket, region);
    }
    snprintf(s->url, sizeof(s->url), "%s", base);
    snprintf(s->base, sizeof(s->base), "%s", base);
    snprintf(s->prefix, sizeof(s->prefix), "%s", path != NULL ? path : "");
    while (s->prefix[0] == '/')
        memmove(s->prefix, s->prefix + 1, strlen(s->prefix));
    for (size_t n = strlen(s->prefix); n > 0 && s->prefix[n - 1] == '/'; n--)
        s->prefix[n - 1] = '\0';
    if (append_key(s->url, sizeof(s->url), key) != 0) {
        snprintf(why, why_size, "the S3 replica's path is too long for a lease");
        return -1;
    }
    snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", region);
    snprintf(s->userpwd, sizeof(s->userpwd), "%s:%s", key_id, secret);
    const char *token = getenv("AWS_SESSION_TOKEN");
    s->token_header[0] = '\0';
    if (token != NULL && token[0] != '\0')
        snprintf(s->token_header, sizeof(s->token_header), "x-amz-security-token: %s", token);
    snprintf(s->where, sizeof(s->where), "s3://%s/%s", bucket, key);
    return 0;
}

int lease_store_init(struct lease_store *s, const struct ynode *replica, long timeout_ms, const char **kind_name,
                     char *why, size_t why_size)
{
    memset(s, 0, sizeof(*s));
    s->timeout_ms = timeout_ms;
    const char *type = replica != NULL ? field(replica, "type") : NULL;
    *kind_name = type != NULL ? type : "?";
    if (type != NULL && strcmp(type, "s3") == 0) {
        s->kind = LEASE_S3;
        return init_s3(s, replica, why, why_size);
    }
    if (type != NULL && strcmp(type, "file") == 0) {
        const char *path = field(replica, "path");
        if (path == NULL) {
            snprintf(why, why_size, "the file replica has no path");
            return -1;
        }
        s->kind = LEASE_FILE;
        snprintf(s->dir, sizeof(s->dir), "%s", path);
        snprintf(s->path, sizeof(s->path), "%s/%s", path, LEASE_OBJECT);
        snprintf(s->where, sizeof(s->where), "file://%s", s->path);
        return 0;
    }
    s->kind = LEASE_NONE;
    return 1;
}

/* ---- S3 ---------------------------------------------------------------- */

struct s3_reply {
    long status;
    char etag[160];
    time_t date, last_modified;
    char body[LEASE_BODY_MAX];
    size_t body_len;
};

static size_t s3_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct s3_reply *r = userdata;
    size_t n = size * nmemb;
    size_t room = sizeof(r->body) - 1 - r->body_len;
    size_t take = n < room ? n : room;
    memcpy(r->body + r->body_len, ptr, take);
    r->body_len += take;
    r->body[r->body_len] = '\0';
    return n;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    snprintf(out, size, "%.*s", (int)(end - v), v);
}

static size_t s3_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct s3_reply *r = userdata;
    size_t len = size * nitems;
    char v[200] = "";
    header_value(buf, len, "ETag", r->etag, sizeof(r->etag));
    header_value(buf, len, "Date", v, sizeof(v));
    if (v[0] != '\0')
        r->date = curl_getdate(v, NULL);
    v[0] = '\0';
    header_value(buf, len, "Last-Modified", v, sizeof(v));
    if (v[0] != '\0')
        r->last_modified = curl_getdate(v, NULL);
    return len;
}

/*
 * A signed request's handle: url, the store's timeouts and CA bundle, SigV4 with the store's keys, the
 * extra headers plus the session token (*list, freed by the caller with curl_slist_free_all). NULL when
 * libcurl refused.
 */
static CURL *s3_handle(const struct lease_store *s, const char *url, char *errbuf,
                       size_t (*write)(char *, size_t, size_t, void *), void *write_data, const char *const *headers,
                       struct curl_slist **list)
{
    struct http_easy o = {
        .url = url,
        .connect_timeout_ms = s->timeout_ms,
        .timeout_ms = s->timeout_ms,
        .protocols = "http,https",
        .ca_bundle = getenv("LSINIT_CA_BUNDLE"),
        .error_buffer = errbuf,
        .write = write,
        .write_data = write_data,
    };
    *list = NULL;
    CURL *c = http_easy_new(&o);
    if (c == NULL)
        return NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        *list = curl_slist_append(*list, headers[i]);
    if (s->token_header[0] != '\0')
        *list = curl_slist_append(*list, s->token_header);
    if (curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_USERPWD, s->userpwd) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *list) != CURLE_OK) {
        curl_easy_cleanup(c);
        curl_slist_free_all(*list);
        *list = NULL;
        return NULL;
    }
    return c;
}

/* One signed request. Returns 0 with reply->status set, or -1 (transport error, why set). */
static int s3_request(struct lease_store *s, const char *url, const char *method, const char *body,
                      const char *const *headers, struct s3_reply *reply, char *why, size_t why_size)
{
    memset(reply, 0, sizeof(*reply));
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *list = NULL;
    CURL *c = s3_handle(s, url, errbuf, s3_body, reply, headers, &list);
    if (c == NULL) {
        snprintf(why, why_size, "libcurl refused the request");
        return -1;
    }
    bool ok = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s3_header) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERDATA, reply) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    if (ok && body != NULL)
        ok = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) == CURLE_OK;
    if (ok && strcmp(method, "HEAD") == 0)
        ok = curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK;
    CURLcode rc = ok ? curl_easy_perform(c) : CURLE_FAILED_INIT;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
    else
        snprintf(why, why_size, "%s %s: %s", method, s->endpoint, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

/* ---- S3 listing (the boot check) ------------------------------------------ */

#define S3_LIST_BODY_MAX ((size_t)8 << 20) /* one ListObjectsV2 page is 1,000 keys: far below */

struct s3_list_body {
    char *data;
    size_t len, cap;
    bool too_big;
};

static size_t s3_list_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct s3_list_body *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n + 1 > S3_LIST_BODY_MAX) {
        b->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 65536;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* The text of the first <tag>…</tag> at or after p (into out), and a pointer past it; NULL when absent. */
static const char *xml_text(const char *p, const char *tag, char *out, size_t size)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = strstr(p, open);
    if (a == NULL)
        return NULL;
    a += strlen(open);
    const char *e = strstr(a, close);
    if (e == NULL)
        return NULL;
    snprintf(out, size, "%.*s", (int)(e - a < (long)size ? e - a : (long)size - 1), a);
    return e + strlen(close);
}

/*
 * One page: the highest TXID of its LTX keys into *newest; the continuation token ("" on the last page).
 * Litestream 0.5's S3 client names them <path>/<level as %04x>/<min>-<max>.ltx (its file client uses
 * ltx/<level>/ instead); prefix is "<path>/".
 */
static void s3_list_page(const char *body, const char *prefix, unsigned long long *newest, char *token,
                         size_t token_size)
{
    char key[1200];
    size_t plen = strlen(prefix);
    for (const char *p = body; (p = xml_text(p, "Key", key, sizeof(key))) != NULL;) {
        const char *rest = strncmp(key, prefix, plen) == 0 ? key + plen : NULL;
        if (rest == NULL || strlen(rest) < 6 || rest[4] != '/' || strspn(rest, "0123456789abcdef") != 4 ||
            strchr(rest + 5, '/') != NULL)
            continue;
        uint64_t txid = 0;
        if (parse_ltx_name(rest + 5, &txid) == 0 && txid > *newest)
            *newest = txid;
    }
    char truncated[16] = "";
    token[0] = '\0';
    if (xml_text(body, "IsTruncated", truncated, sizeof(truncated)) != NULL && strcmp(truncated, "true") == 0 &&
        xml_text(body, "NextContinuationToken", token, token_size) == NULL)
        token[0] = '\0';
}

int lease_store_s3_ltx_newest(struct lease_store *s, unsigned long long *newest, char *why, size_t why_size)
{
    *newest = 0;
    if (s->kind != LEASE_S3) {
        snprintf(why, why_size, "not an S3 replica");
        return -1;
    }
    CURL *esc = curl_easy_init();
    if (esc == NULL) {
        snprintf(why, why_size, "libcurl refused the request");
        return -1;
    }
    char prefix[PATH_MAX + 8];
    snprintf(prefix, sizeof(prefix), "%s%s", s->prefix, s->prefix[0] != '\0' ? "/" : "");
    char *prefix_q = curl_easy_escape(esc, prefix, 0);
    char token[1200] = "";
    int rc = prefix_q != NULL ? 0 : -1;
    for (int page = 0; rc == 0 && page < 10000; page++) {
        char *token_q = token[0] != '\0' ? curl_easy_escape(esc, token, 0) : NULL;
        size_t url_size = strlen(s->base) + strlen(prefix_q) + (token_q != NULL ? strlen(token_q) : 0) + 96;
        char *url = malloc(url_size);
        if (url == NULL || (token[0] != '\0' && token_q == NULL)) {
            free(url);
            curl_free(token_q);
            rc = -1;
            snprintf(why, why_size, "out of memory");
            break;
        }
        /* Parameters in sorted order: the canonical query SigV4 signs. */
        snprintf(url, url_size, "%s?%s%s%slist-type=2&prefix=%s", s->base, token_q != NULL ? "continuation-token=" : "",
                 token_q != NULL ? token_q : "", token_q != NULL ? "&" : "", prefix_q);
        curl_free(token_q);
        struct s3_list_body body = {0};
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *list = NULL;
        CURL *c = s3_handle(s, url, errbuf, s3_list_write, &body, NULL, &list);
        long status = 0;
        CURLcode cc = c != NULL ? curl_easy_perform(c) : CURLE_FAILED_INIT;
        if (cc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK) {
            snprintf(why, why_size, "LIST %s: %s", s->endpoint,
                     body.too_big        ? "the answer is too large"
                     : errbuf[0] != '\0' ? errbuf
                                         : curl_easy_strerror(cc));
            rc = -1;
        } else if (status != 200) {
            snprintf(why, why_size, "LIST %s answered %ld", s->endpoint, status);
            rc = status >= 500 ? -1 : -2;
        } else {
            s3_list_page(body.data != NULL ? body.data : "", prefix, newest, token, sizeof(token));
        }
        curl_slist_free_all(list);
        if (c != NULL)
            curl_easy_cleanup(c);
        free(body.data);
        free(url);
        if (rc != 0 || token[0] == '\0')
            break;
    }
    curl_free(prefix_q);
    curl_easy_cleanup(esc);
    return rc;
}

static void s3_error(const struct lease_store *s, const char *method, const struct s3_reply *r, char *why,
                     size_t why_size)
{
    const char *code = strstr(r->body, "<Code>");
    int n = 0;
    if (code != NULL) {
        code += 6;
        const char *end = strstr(code, "</Code>");
        n = end != NULL && end - code < 64 ? (int)(end - code) : 0;
    }
    snprintf(why, why_size, "%s %s answered %ld%s%.*s", method, s->where, r->status, n > 0 ? " " : "", n,
             code != NULL ? code : "");
}

/* ---- file ---------------------------------------------------------------- */

static void file_etag(const struct stat *st, char *out, size_t size)
{
    snprintf(out, size, "%llx-%llx-%lld.%09ld", (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
             (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

/* The store's clock: the mtime of a file written now in the replica folder. */
static int file_now(const struct lease_store *s, struct timespec *now)
{
    char probe[PATH_MAX + 64];
    snprintf(probe, sizeof(probe), "%s/.lsinit-lease-clock-%ld", s->dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    struct stat st;
    int rc = write(fd, "t", 1) == 1 && fstat(fd, &st) == 0 ? 0 : -1;
    close(fd);
    (void)unlink(probe);
    if (rc == 0)
        *now = st.st_mtim;
    return rc;
}

static int file_lock(const struct lease_store *s)
{
    char lock[PATH_MAX + 32];
    snprintf(lock, sizeof(lock), "%s.lock", s->path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int file_read(struct lease_store *s, struct lease_obs *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    out->age_ms = -1;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, why_size, "cannot read %s: %s", s->path, strerror(errno));
        return -1;
    }
    char body[LEASE_BODY_MAX];
    ssize_t n = read(fd, body, sizeof(body) - 1);
    struct stat st;
    int st_rc = fstat(fd, &st);
    close(fd);
    if (n < 0 || st_rc != 0) {
        snprintf(why, why_size, "cannot read %s: %s", s->path, strerror(errno));
        return -1;
    }
    body[n] = '\0';
    out->exists = true;
    file_etag(&st, out->etag, sizeof(out->etag));
    char bad[128];
    if (lease_record_parse(body, &out->rec, bad, sizeof(bad)) != 0) {
        snprintf(why, why_size, "%s is not a lease (%s)", s->where, bad);
        return -2;
    }
    struct timespec now;
    if (file_now(s, &now) == 0) {
        out->age_ms = ((int64_t)now.tv_sec - (int64_t)st.st_mtim.tv_sec) * 1000 +
                      ((int64_t)now.tv_nsec - (int64_t)st.st_mtim.tv_nsec) / 1000000;
        if (out->age_ms < 0)
            out->age_ms = 0;
    }
    return 0;
}

static enum lease_put file_write(struct lease_store *s, const struct lease_record *r, const char *if_match,
                                 char *etag_out, size_t etag_size, char *why, size_t why_size)
{
    if (fs_mkdir_p(s->dir, 0755, NULL) != 0) {
        snprintf(why, why_size, "cannot create %s: %s", s->dir, strerror(errno));
        return LEASE_PUT_ERROR;
    }
    char body[1024];
    size_t len = lease_record_format(r, body, sizeof(body));
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", s->dir, LEASE_OBJECT, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, body, len) != (ssize_t)len || fsync(fd) != 0) {
        snprintf(why, why_size, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        (void)unlink(tmp);
        return LEASE_PUT_ERROR;
    }
    close(fd);
    int lock = file_lock(s);
    if (lock < 0) {
        snprintf(why, why_size, "cannot lock %s.lock: %s", s->path, strerror(errno));
        (void)unlink(tmp);
        return LEASE_PUT_ERROR;
    }
    enum lease_put res = LEASE_PUT_OK;
    struct stat st;
    if (if_match == NULL) {
        if (link(tmp, s->path) != 0)
            res = errno == EEXIST ? LEASE_PUT_CONFLICT : LEASE_PUT_ERROR;
        (void)unlink(tmp);
    } else {
        char cur[160] = "";
        if (stat(s->path, &st) == 0)
            file_etag(&st, cur, sizeof(cur));
        if (strcmp(cur, if_match) != 0)
            res = LEASE_PUT_CONFLICT;
        else if (rename(tmp, s->path) != 0)
            res = LEASE_PUT_ERROR;
        if (res != LEASE_PUT_OK)
            (void)unlink(tmp);
    }
    if (res == LEASE_PUT_ERROR)
        snprintf(why, why_size, "cannot write %s: %s", s->path, strerror(errno));
    if (res == LEASE_PUT_OK) {
        int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        if (stat(s->path, &st) == 0)
            file_etag(&st, etag_out, etag_size);
    }
    close(lock);
    return res;
}

static enum lease_put file_delete(struct lease_store *s, const char *if_match, char *why, size_t why_size)
{
    int lock = file_lock(s);
    if (lock < 0) {
        if (errno == ENOENT)
            return LEASE_PUT_OK; /* no folder: no lease */
        snprintf(why, why_size, "cannot lock %s.lock: %s", s->path, strerror(errno));
        return LEASE_PUT_ERROR;
    }
    enum lease_put res = LEASE_PUT_OK;
    struct stat st;
    if (stat(s->path, &st) == 0) {
        char cur[160];
        file_etag(&st, cur, sizeof(cur));
        if (if_match != NULL && strcmp(cur, if_match) != 0)
            res = LEASE_PUT_CONFLICT;
        else if (unlink(s->path) != 0 && errno != ENOENT)
            res = LEASE_PUT_ERROR;
    }
    if (res == LEASE_PUT_ERROR)
        snprintf(why, why_size, "cannot remove %s: %s", s->path, strerror(errno));
    close(lock);
    return res;
}

/* ---- the interface ------------------------------------------------------- */

int lease_store_read(struct lease_store *s, struct lease_obs *out, char *why, size_t why_size)
{
    if (s->kind == LEASE_FILE)
        return file_read(s, out, why, why_size);
    memset(out, 0, sizeof(*out));
    out->age_ms = -1;
    struct s3_reply r;
    if (s3_request(s, s->url, "GET", NULL, NULL, &r, why, why_size) != 0)
        return -1;
    if (r.status == 404)
        return 0;
    if (r.status != 200) {
        s3_error(s, "GET", &r, why, why_size);
        return -1;
    }
    out->exists = true;
    snprintf(out->etag, sizeof(out->etag), "%s", r.etag);
    if (r.date > 0 && r.last_modified > 0)
        out->age_ms = ((int64_t)r.date - (int64_t)r.last_modified) * 1000;
    char bad[128];
    if (lease_record_parse(r.body, &out->rec, bad, sizeof(bad)) != 0) {
        snprintf(why, why_size, "%s is not a lease (%s)", s->where, bad);
        return -2;
    }
    return 0;
}

enum lease_put lease_store_write(struct lease_store *s, const struct lease_record *rec, const char *if_match,
                                 char *etag_out, size_t etag_size, char *why, size_t why_size)
{
    if (s->kind == LEASE_FILE)
        return file_write(s, rec, if_match, etag_out, etag_size, why, why_size);
    char body[1024];
    if (lease_record_format(rec, body, sizeof(body)) == 0) {
        snprintf(why, why_size, "the lease record does not fit");
        return LEASE_PUT_ERROR;
    }
    char cond[200];
    if (if_match == NULL)
        snprintf(cond, sizeof(cond), "If-None-Match: *");
    else
        snprintf(cond, sizeof(cond), "If-Match: %s", if_match);
    const char *headers[] = {"Content-Type: application/json", cond, NULL};
    struct s3_reply r;
    if (s3_request(s, s->url, "PUT", body, headers, &r, why, why_size) != 0)
        return LEASE_PUT_ERROR;
    if (r.status == 200) {
        snprintf(etag_out, etag_size, "%s", r.etag);
        return LEASE_PUT_OK;
    }
    /* 409: a concurrent conditional write won (ConditionalRequestConflict); 404 on If-Match: the lease was deleted. */
    if (r.status == 412 || r.status == 409 || (r.status == 404 && if_match != NULL))
        return LEASE_PUT_CONFLICT;
    s3_error(s, "PUT", &r, why, why_size);
    return LEASE_PUT_ERROR;
}

enum lease_put lease_store_delete(struct lease_store *s, const char *if_match, char *why, size_t why_size)
{
    if (s->kind == LEASE_FILE)
        return file_delete(s, if_match, why, why_size);
    char cond[200];
    snprintf(cond, sizeof(cond), "If-Match: %s", if_match != NULL ? if_match : "*");
    const char *headers[] = {if_match != NULL ? cond : NULL, NULL};
    struct s3_reply r;
    if (s3_request(s, s->url, "DELETE", NULL, headers, &r, why, why_size) != 0)
        return LEASE_PUT_ERROR;
    if (r.status == 200 || r.status == 204 || r.status == 404)
        return LEASE_PUT_OK;
    if (r.status == 412 || r.status == 409)
        return LEASE_PUT_CONFLICT;
    s3_error(s, "DELETE", &r, why, why_size);
    return LEASE_PUT_ERROR;
}

int lease_store_check_conditions(struct lease_store *s, char *why, size_t why_size)
{
    if (s->kind != LEASE_S3)
        return 0;
    char url[sizeof(s->url) + 64];
    snprintf(url, sizeof(url), "%s.probe-%ld", s->url, (long)getpid());
    const char *plain[] = {"Content-Type: application/json", NULL};
    const char *cond[] = {"Content-Type: application/json", "If-None-Match: *", NULL};
    struct s3_reply r;
    if (s3_request(s, url, "PUT", "{}", plain, &r, why, why_size) != 0)
        return -1;
    if (r.status != 200) {
        s3_error(s, "PUT", &r, why, why_size);
        return -1;
    }
    int result;
    if (s3_request(s, url, "PUT", "{}", cond, &r, why, why_size) != 0)
        result = -1;
    else if (r.status == 412 || r.status == 409)
        result = 0;
    else if (r.status == 200)
        result = 1;
    else {
        s3_error(s, "PUT", &r, why, why_size);
        result = -1;
    }
    struct s3_reply d;
    char ignored[256];
    (void)s3_request(s, url, "DELETE", NULL, NULL, &d, ignored, sizeof(ignored));
    return result;
}
