/* SPDX-License-Identifier: MIT */
#include "legacy_layout.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "errbuf.h"
#include "hostport.h"
#include "http_easy.h"
#include "replica_url.h"
#include "sha256.h"

/* Whatever a listing holds, stop reading after this much (thousands of names). */
#define LISTING_MAX_BYTES ((size_t)4 * 1024 * 1024)

static int copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* ---- base64 ---------------------------------------------------------------- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long legacy_base64_encode(const unsigned char *in, size_t len, char *out, size_t size)
{
    size_t need = (len + 2) / 3 * 4;
    if (need >= size)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return (long)o;
}

static int b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64_alphabet, c) : NULL;
    return p != NULL ? (int)(p - b64_alphabet) : -1;
}

long legacy_base64_decode(const char *in, size_t len, unsigned char *out, size_t size)
{
    /* Padding is optional; after it nothing may follow. */
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= size)
                return -1;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    return (long)o;
}

/* ---- generation names and listings ---------------------------------------- */

bool legacy_is_generation_name(const char *name, size_t len)
{
    if (len != 16)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    }
    return true;
}

static void listing_line_done(struct legacy_listing *l)
{
    size_t len = l->len;
    if (len > 0 && l->line[len - 1] == '\r')
        len--;
    if (!l->overlong && legacy_is_generation_name(l->line, len)) {
        if (l->generations == 0) {
            memcpy(l->example, l->line, 16);
            l->example[16] = '\0';
        }
        l->generations++;
    }
    l->len = 0;
    l->overlong = false;
}

void legacy_listing_feed(struct legacy_listing *l, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            listing_line_done(l);
        } else if (l->len + 1 < sizeof(l->line)) {
            l->line[l->len++] = data[i];
        } else {
            l->overlong = true;
        }
    }
}

void legacy_listing_finish(struct legacy_listing *l)
{
    if (l->len > 0 || l->overlong)
        listing_line_done(l);
}

/* ---- the replica node ------------------------------------------------------- */

static const char *field(const struct ynode *replica, const char *key)
{
    const struct ynode *v = ynode_map_get(replica, key);
    return v != NULL && v->kind == YNODE_SCALAR && v->value != NULL ? v->value : NULL;
}

static bool set(const char *s) { return s != NULL && s[0] != '\0'; }

/* Percent-decodes src into dst (Go's url.Parse does the same for user, password and path). */
static int pct_decode(const char *src, char *dst, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; src[i] != '\0'; i++) {
        char c = src[i];
        if (c == '%') {
            if (!isxdigit((unsigned char)src[i + 1]) || !isxdigit((unsigned char)src[i + 2]))
                return -1;
            char hex[3] = {src[i + 1], src[i + 2], '\0'};
            c = (char)strtol(hex, NULL, 16);
            if (c == '\0')
                return -1;
            i += 2;
        }
        if (o + 1 >= size)
            return -1;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return 0;
}

/* Characters that would change the meaning of a URL's authority, or a known_hosts line. */
static bool host_char_ok(unsigned char c) { return c > 0x20 && c < 0x7f && strchr("/@?#[]%\\,\"'", c) == NULL; }

int legacy_split_host_port(const char *text, char *host, size_t host_size, long *port, char *why, size_t why_size)
{
    struct hostport hp;
    switch (hostport_split(text, &hp)) {
    case HOSTPORT_OK: break;
    case HOSTPORT_BAD_BRACKETS:
        return errbuf_fail(why, why_size, -1, "host '%.200s' is not HOST:PORT or [IPV6]:PORT", text);
    case HOSTPORT_TOO_LONG: return errbuf_fail(why, why_size, -1, "host name is too long");
    case HOSTPORT_BAD_PORT:
    default:
        return errbuf_fail(why, why_size, -1, "host '%.200s' has an invalid port: use a number from 1 to 65535", text);
    }
    if (hp.host[0] == '\0')
        return errbuf_fail(why, why_size, -1, "host '%.200s' has no host name", text);
    if (strlen(hp.host) >= host_size)
        return errbuf_fail(why, why_size, -1, "host name is too long");
    for (const char *c = hp.host; *c != '\0'; c++) {
        if (!host_char_ok((unsigned char)*c))
            return errbuf_fail(why, why_size, -1, "host '%.200s' holds a character that is not allowed in a host name",
                               text);
    }
    if (hp.has_port && hp.port < 1)
        return errbuf_fail(why, why_size, -1, "host '%.200s' has an invalid port: use a number from 1 to 65535", text);
    /* No port, or a bare IPv6 address: 22, as Litestream appends. */
    *port = hp.has_port ? hp.port : 22;
    memcpy(host, hp.host, strlen(hp.host) + 1);
    return 0;
}

/* Checks and copies the merged settings into out. */
static int fill_target(struct legacy_sftp_target *out, const char *host, const char *user, const char *password,
                       const char *path, const char *key_path, const char *host_key, char *why, size_t why_size)
{
    if (!set(host))
        return errbuf_fail(why, why_size, -1, "the sftp replica has no host");
    if (!set(user))
        return errbuf_fail(why, why_size, -1, "the sftp replica has no user");
    if (legacy_split_host_port(host, out->host, sizeof(out->host), &out->port, why, why_size) != 0)
        return -1;
    if (copy_str(out->user, sizeof(out->user), user) != 0)
        return errbuf_fail(why, why_size, -1, "the sftp replica's user name is too long");
    if (strpbrk(out->user, "\r\n") != NULL)
        return errbuf_fail(why, why_size, -1, "the sftp replica's user name holds a line break");
    if (set(password) && copy_str(out->password, sizeof(out->password), password) != 0)
        return errbuf_fail(why, why_size, -1, "the sftp replica's password is too long");
    if (set(key_path) && copy_str(out->key_path, sizeof(out->key_path), key_path) != 0)
        return errbuf_fail(why, why_size, -1, "the sftp replica's key-path is too long");
    if (set(path) && copy_str(out->path, sizeof(out->path), path) != 0)
        return errbuf_fail(why, why_size, -1, "the sftp replica's path is too long");
    if (set(host_key) && copy_str(out->host_key, sizeof(out->host_key), host_key) != 0)
        return errbuf_fail(why, why_size, -1, "the sftp replica's host-key is too long");
    if (out->password[0] == '\0' && out->key_path[0] == '\0')
        return errbuf_fail(why, why_size, -1, "the sftp replica has neither password nor key-path");
    return 0;
}

/* The settings a replica's url: gives, for the fields the replica leaves unset (Litestream's merge). */
struct url_parts {
    struct replica_url u;
    char user[REPLICA_FIELD];
    char password[REPLICA_FIELD];
    char path[REPLICA_PATH];
};

static int url_fill(const char *url, struct url_parts *p, const char **host, const char **user, const char **password,
                    const char **path, char *why, size_t why_size)
{
    char err[256];
    if (replica_url_parse(url, &p->u, err, sizeof(err)) != 0) {
        char shown[512];
        replica_url_redact(url, shown, sizeof(shown));
        return errbuf_fail(why, why_size, -1, "the replica's url %.300s %.200s", shown, err);
    }
    if (p->u.type != REPLICA_SFTP)
        return errbuf_fail(why, why_size, -1, "the replica's url is not an sftp:// URL");
    if (!set(*host))
        *host = p->u.host; /* replica_url_parse appended :22 when the URL has no port: the same default */
    if (!set(*user)) {
        if (pct_decode(p->u.user, p->user, sizeof(p->user)) != 0)
            return errbuf_fail(why, why_size, -1, "the replica's url has a badly escaped user name");
        *user = p->user;
    }
    if (!set(*password) && p->u.password[0] != '\0') {
        if (pct_decode(p->u.password, p->password, sizeof(p->password)) != 0)
            return errbuf_fail(why, why_size, -1, "the replica's url has a badly escaped password");
        *password = p->password;
    }
    if (!set(*path)) {
        if (pct_decode(p->u.path, p->path, sizeof(p->path)) != 0)
            return errbuf_fail(why, why_size, -1, "the replica's url has a badly escaped path");
        *path = p->path;
    }
    return 0;
}

int legacy_sftp_target_from_replica(const struct ynode *replica, struct legacy_sftp_target *out, char *why,
                                    size_t why_size)
{
    memset(out, 0, sizeof(*out));
    if (replica == NULL || replica->kind != YNODE_MAP)
        return errbuf_fail(why, why_size, -1, "the replica is not a map of settings");
    const char *host = field(replica, "host");
    const char *user = field(replica, "user");
    const char *password = field(replica, "password");
    const char *path = field(replica, "path");
    const char *url = field(replica, "url");
    struct url_parts *parts = calloc(1, sizeof(*parts));
    if (parts == NULL)
        return errbuf_fail(why, why_size, -1, "out of memory");
    int rc = set(url) ? url_fill(url, parts, &host, &user, &password, &path, why, why_size) : 0;
    if (rc == 0)
        rc = fill_target(out, host, user, password, path, field(replica, "key-path"), field(replica, "host-key"), why,
                         why_size);
    explicit_bzero(parts, sizeof(*parts));
    free(parts);
    if (rc != 0)
        explicit_bzero(out->password, sizeof(out->password));
    return rc;
}

/* ---- URLs and keys ---------------------------------------------------------- */

/* Appends src to out[*o], percent-encoding everything but unreserved characters and '/'. */
static int append_path(char *out, size_t size, size_t *o, const char *src)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
        bool plain = isalnum(*p) || strchr("-._~/", *p) != NULL;
        if (*o + (plain ? 1 : 3) >= size)
            return -1;
        if (plain) {
            out[(*o)++] = (char)*p;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[*p >> 4];
            out[(*o)++] = hex[*p & 15];
        }
    }
    out[*o] = '\0';
    return 0;
}

int legacy_sftp_listing_url(const struct legacy_sftp_target *t, char *out, size_t size)
{
    bool v6 = strchr(t->host, ':') != NULL;
    int n = snprintf(out, size, "sftp://%s%s%s:%ld", v6 ? "[" : "", t->host, v6 ? "]" : "", t->port);
    if (n < 0 || (size_t)n >= size)
        return -1;
    size_t o = (size_t)n;
    /* Litestream joins relative paths to the SFTP session's folder (the login folder): curl's /~/. */
    char path[LEGACY_PATH + 8];
    if (t->path[0] == '/')
        snprintf(path, sizeof(path), "%s", t->path);
    else
        snprintf(path, sizeof(path), "/~/%s", t->path);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    if (append_path(out, size, &o, path) != 0)
        return -1;
    const char *tail = len > 0 && path[len - 1] == '/' ? "generations/" : "/generations/";
    if (o + strlen(tail) >= size)
        return -1;
    memcpy(out + o, tail, strlen(tail) + 1);
    return 0;
}

static bool known_key_type(const char *s, size_t len)
{
    static const char *const types[] = {"ssh-ed25519",
                                        "ssh-rsa",
                                        "ecdsa-sha2-nistp256",
                                        "ecdsa-sha2-nistp384",
                                        "ecdsa-sha2-nistp521",
                                        "ssh-dss",
                                        "sk-ssh-ed25519@openssh.com",
                                        "sk-ecdsa-sha2-nistp256@openssh.com",
                                        NULL};
    for (size_t i = 0; types[i] != NULL; i++) {
        if (strlen(types[i]) == len && memcmp(types[i], s, len) == 0)
            return true;
    }
    return false;
}

int legacy_host_key_parse(const char *line, struct legacy_host_key *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    /* Tokens: [options] TYPE BASE64 [comment]. Options are skipped by looking for the first key type. */
    const char *p = line;
    const char *type = NULL, *b64 = NULL;
    size_t type_len = 0, b64_len = 0;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *tok = p;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        size_t len = (size_t)(p - tok);
        if (len == 0)
            break;
        if (type != NULL) {
            b64 = tok;
            b64_len = len;
            break;
        }
        if (known_key_type(tok, len)) {
            type = tok;
            type_len = len;
        }
    }
    if (type == NULL || b64 == NULL)
        return errbuf_fail(why, why_size, -1,
                           "host-key is not an authorized_keys line (\"ssh-ed25519 AAAA... [comment]\")");
    if (type_len >= sizeof(out->type))
        return errbuf_fail(why, why_size, -1, "host-key has a key type that is too long");
    memcpy(out->type, type, type_len);
    out->type[type_len] = '\0';
    long n = legacy_base64_decode(b64, b64_len, out->blob, sizeof(out->blob));
    if (n < 0)
        return errbuf_fail(why, why_size, -1, "host-key: the %s key is not valid base64 (or is too long)", out->type);
    out->blob_len = (size_t)n;
    /* The blob starts with its own type name (RFC 4253 6.6), as Go's ParseAuthorizedKey checks. */
    if (out->blob_len < 4)
        return errbuf_fail(why, why_size, -1, "host-key: the %s key is truncated", out->type);
    uint32_t inner =
        (uint32_t)out->blob[0] << 24 | (uint32_t)out->blob[1] << 16 | (uint32_t)out->blob[2] << 8 | out->blob[3];
    if (inner != type_len || out->blob_len < 4 + (size_t)inner || memcmp(out->blob + 4, out->type, type_len) != 0)
        return errbuf_fail(why, why_size, -1, "host-key: the key data is not a %s key", out->type);
    if (legacy_base64_encode(out->blob, out->blob_len, out->blob_b64, sizeof(out->blob_b64)) < 0)
        return errbuf_fail(why, why_size, -1, "host-key is too long");
    unsigned char digest[SHA256_DIGEST_SIZE];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, out->blob, out->blob_len);
    sha256_final(&ctx, digest);
    if (legacy_base64_encode(digest, sizeof(digest), out->sha256_b64, sizeof(out->sha256_b64)) < 0)
        return errbuf_fail(why, why_size, -1, "host-key: cannot encode its fingerprint");
    return 0;
}

int legacy_known_hosts_line(const struct legacy_sftp_target *t, const struct legacy_host_key *k, char *out, size_t size)
{
    int n = t->port == 22 ? snprintf(out, size, "%s %s %s\n", t->host, k->type, k->blob_b64)
                          : snprintf(out, size, "[%s]:%ld %s %s\n", t->host, t->port, k->type, k->blob_b64);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- probes ------------------------------------------------------------------ */

static void generations_found(char *why, size_t why_size, const char *where, const struct legacy_listing *l)
{
    snprintf(why, why_size, "%.300s holds %zu Litestream 0.3 generation%s (e.g. %s)", where, l->generations,
             l->generations == 1 ? "" : "s", l->example);
}

static int probe_file(const struct ynode *replica, char *why, size_t why_size)
{
    const char *path = field(replica, "path");
    char url_path[REPLICA_PATH];
    const char *url = field(replica, "url");
    if (!set(path) && set(url)) {
        struct replica_url u;
        char err[256];
        if (replica_url_parse(url, &u, err, sizeof(err)) != 0 || u.type != REPLICA_FILE)
            return errbuf_fail(why, why_size, -1, "the file replica's url is not a file:// URL");
        if (pct_decode(u.path, url_path, sizeof(url_path)) != 0)
            return errbuf_fail(why, why_size, -1, "the file replica's url has a badly escaped path");
        path = url_path;
    }
    if (!set(path))
        return errbuf_fail(why, why_size, -1, "the file replica has no path");
    char dir[PATH_MAX + 16];
    int n = snprintf(dir, sizeof(dir), "%s/generations", path);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return errbuf_fail(why, why_size, -1, "the file replica's path is too long");
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT || errno == ENOTDIR) {
            snprintf(why, why_size, "%.300s does not exist", dir);
            return 0;
        }
        return errbuf_fail(why, why_size, -1, "cannot list %.300s: %s", dir, strerror(errno));
    }
    struct legacy_listing l;
    memset(&l, 0, sizeof(l));
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        legacy_listing_feed(&l, e->d_name, strlen(e->d_name));
        legacy_listing_feed(&l, "\n", 1);
    }
    closedir(d);
    if (l.generations > 0) {
        generations_found(why, why_size, dir, &l);
        return 1;
    }
    snprintf(why, why_size, "%.300s holds no generation", dir);
    return 0;
}

struct sftp_probe {
    struct legacy_listing listing;
    size_t bytes;
    bool have_key;
    bool key_rejected;
    const struct legacy_host_key *key;
};

static size_t listing_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sftp_probe *p = userdata;
    size_t n = size * nmemb;
    if (p->bytes + n > LISTING_MAX_BYTES)
        return 0;
    p->bytes += n;
    legacy_listing_feed(&p->listing, ptr, n);
    return n;
}

/*
 * curl's known-host decision. Without a host-key, any key is accepted: that is
 * what Litestream does (ssh.InsecureIgnoreHostKey when host-key is unset), and
 * this probe connects exactly where Litestream has just connected. With one, the
 * key must match it: curl compared it with the known_hosts entry we gave it
 * (libssh2 hands over the raw key, libssh its base64: both are compared too).
 */
static int host_key_check(CURL *easy, const struct curl_khkey *knownkey, const struct curl_khkey *foundkey,
                          enum curl_khmatch match, void *clientp)
{
    (void)easy;
    (void)knownkey;
    struct sftp_probe *p = clientp;
    if (!p->have_key)
        return CURLKHSTAT_FINE;
    bool same = match == CURLKHMATCH_OK;
    if (!same && foundkey != NULL && foundkey->key != NULL) {
        size_t len = foundkey->len != 0 ? foundkey->len : strlen(foundkey->key);
        same = (len == p->key->blob_len && memcmp(foundkey->key, p->key->blob, len) == 0) ||
               (len == strlen(p->key->blob_b64) && memcmp(foundkey->key, p->key->blob_b64, len) == 0);
    }
    if (!same)
        p->key_rejected = true;
    return same ? CURLKHSTAT_FINE : CURLKHSTAT_REJECT;
}

static bool curl_has_sftp(void)
{
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    for (const char *const *proto = info != NULL ? info->protocols : NULL; proto != NULL && *proto != NULL; proto++) {
        if (strcmp(*proto, "sftp") == 0)
            return true;
    }
    return false;
}

/* A memfd holding text, readable as /proc/self/fd/N; -1 on failure. */
static int text_file(const char *text, char *path, size_t path_size)
{
    int fd = memfd_create("lsinit-known-hosts", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

static int sftp_list(const struct legacy_sftp_target *t, const struct legacy_host_key *key, const char *url, char *why,
                     size_t why_size)
{
    struct sftp_probe p;
    memset(&p, 0, sizeof(p));
    p.have_key = key != NULL;
    p.key = key;
    char known_hosts[LEGACY_HOST_KEY_LINE + 300];
    char known_path[64] = "/dev/null";
    int known_fd = -1;
    if (key != NULL) {
        if (legacy_known_hosts_line(t, key, known_hosts, sizeof(known_hosts)) != 0)
            return errbuf_fail(why, why_size, -1, "host-key is too long");
        known_fd = text_file(known_hosts, known_path, sizeof(known_path));
        if (known_fd < 0)
            return errbuf_fail(why, why_size, -1, "cannot create the in-memory known_hosts file: %s", strerror(errno));
    }
    char err[CURL_ERROR_SIZE] = "";
    const struct http_easy opts = {
        .url = url,
        .connect_timeout_ms = LEGACY_CONNECT_TIMEOUT_MS,
        .timeout_ms = LEGACY_PROBE_TIMEOUT_MS,
        .protocols = "sftp",
        .no_proxy = true,
        .error_buffer = err,
        .write = listing_write,
        .write_data = &p,
    };
    CURL *c = http_easy_new(&opts);
    if (c == NULL) {
        if (known_fd >= 0)
            close(known_fd);
        return errbuf_fail(why, why_size, -1, "cannot set up the SFTP request (libcurl refused an option)");
    }
    bool ok = curl_easy_setopt(c, CURLOPT_DIRLISTONLY, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USERNAME, t->user) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, known_path) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSH_KEYFUNCTION, host_key_check) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSH_KEYDATA, &p) == CURLE_OK;
    long auth = 0;
    if (ok && t->password[0] != '\0') {
        auth |= CURLSSH_AUTH_PASSWORD;
        ok = curl_easy_setopt(c, CURLOPT_PASSWORD, t->password) == CURLE_OK;
    }
    if (ok && t->key_path[0] != '\0') {
        auth |= CURLSSH_AUTH_PUBLICKEY;
        ok = curl_easy_setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, t->key_path) == CURLE_OK;
    }
    if (ok)
        ok = curl_easy_setopt(c, CURLOPT_SSH_AUTH_TYPES, auth) == CURLE_OK;
    /* libssh2 also checks the SHA-256 of the key; curl's libssh backend has no such
     * option (CURLE_UNKNOWN_OPTION) and relies on the known_hosts entry alone. */
    if (ok && key != NULL) {
        CURLcode rc = curl_easy_setopt(c, CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, key->sha256_b64);
        ok = rc == CURLE_OK || rc == CURLE_UNKNOWN_OPTION || rc == CURLE_NOT_BUILT_IN;
    }
    int result = -1;
    if (!ok) {
        errbuf_fail(why, why_size, -1, "cannot set up the SFTP request (libcurl refused an option)");
    } else {
        CURLcode rc = curl_easy_perform(c);
        legacy_listing_finish(&p.listing);
        if (rc == CURLE_OK && p.listing.generations > 0) {
            generations_found(why, why_size, url, &p.listing);
            result = 1;
        } else if (rc == CURLE_OK) {
            snprintf(why, why_size, "%.300s holds no generation", url);
            result = 0;
        } else if (rc == CURLE_REMOTE_FILE_NOT_FOUND) {
            snprintf(why, why_size, "%.300s does not exist", url);
            result = 0;
        } else if (p.key_rejected || rc == CURLE_PEER_FAILED_VERIFICATION) {
            errbuf_fail(why, why_size, -1,
                        "cannot list %.300s: the server's host key is not the replica's host-key (%s SHA256:%.43s)",
                        url, key != NULL ? key->type : "?", key != NULL ? key->sha256_b64 : "");
        } else {
            errbuf_fail(why, why_size, -1, "cannot list %.300s as %.100s: %s%s%.300s", url, t->user,
                        curl_easy_strerror(rc), err[0] != '\0' ? ": " : "", err);
        }
    }
    curl_easy_cleanup(c);
    if (known_fd >= 0)
        close(known_fd);
    return result;
}

static int probe_sftp_with(const struct ynode *replica, struct legacy_sftp_target *t, struct legacy_host_key *key,
                           char *url, char *why, size_t why_size)
{
    if (legacy_sftp_target_from_replica(replica, t, why, why_size) != 0)
        return -1;
    bool have_key = t->host_key[0] != '\0';
    if (have_key && legacy_host_key_parse(t->host_key, key, why, why_size) != 0)
        return -1;
    if (legacy_sftp_listing_url(t, url, LEGACY_URL_MAX) != 0)
        return errbuf_fail(why, why_size, -1, "the sftp replica's path is too long for a URL");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return errbuf_fail(why, why_size, -1, "curl_global_init failed");
    int rc =
        curl_has_sftp()
            ? sftp_list(t, have_key ? key : NULL, url, why, why_size)
            : errbuf_fail(why, why_size, -1,
                          "this lsinit's libcurl has no SFTP support, so it cannot look for Litestream 0.3 backups");
    curl_global_cleanup();
    return rc;
}

static int probe_sftp(const struct ynode *replica, char *why, size_t why_size)
{
    struct legacy_sftp_target *t = calloc(1, sizeof(*t));
    struct legacy_host_key *key = calloc(1, sizeof(*key));
    char *url = malloc(LEGACY_URL_MAX);
    int rc = t == NULL || key == NULL || url == NULL ? errbuf_fail(why, why_size, -1, "out of memory")
                                                     : probe_sftp_with(replica, t, key, url, why, why_size);
    if (t != NULL)
        explicit_bzero(t->password, sizeof(t->password));
    free(t);
    free(key);
    free(url);
    return rc;
}

int legacy_layout_probe(const struct ynode *replica, char *why, size_t why_size)
{
    if (why_size > 0)
        why[0] = '\0';
    if (replica == NULL || replica->kind != YNODE_MAP)
        return errbuf_fail(why, why_size, -1, "the replica is not a map of settings");
    const char *type = field(replica, "type");
    char scheme[16] = "";
    const char *url = field(replica, "url");
    if (!set(type) && set(url)) {
        const char *sep = strstr(url, "://");
        if (sep != NULL && (size_t)(sep - url) < sizeof(scheme)) {
            memcpy(scheme, url, (size_t)(sep - url));
            scheme[sep - url] = '\0';
        }
        type = scheme;
    }
    if (!set(type))
        return errbuf_fail(why, why_size, -1, "the replica has no type");
    if (strcmp(type, "sftp") == 0)
        return probe_sftp(replica, why, why_size);
    if (strcmp(type, "file") == 0)
        return probe_file(replica, why, why_size);
    if (strcmp(type, "s3") == 0)
        return errbuf_fail(why, why_size, -1,
                           "s3 replicas are not probed (Litestream 0.5.11+ reads 0.3 backups on S3 itself)");
    if (strcmp(type, "gs") == 0 || strcmp(type, "gcs") == 0)
        return errbuf_fail(why, why_size, -1,
                           "cannot look for Litestream 0.3 backups on a gs replica: listing GCS needs an OAuth2 token, "
                           "which lsinit does not fetch");
    if (strcmp(type, "abs") == 0)
        return errbuf_fail(why, why_size, -1,
                           "cannot look for Litestream 0.3 backups on an abs replica: listing Azure Blob Storage "
                           "needs SharedKey request signing, which lsinit does not do");
    return errbuf_fail(why, why_size, -1, "cannot look for Litestream 0.3 backups on a %.40s replica", type);
}

bool legacy_layout_is_sftp(const struct ynode *replica)
{
    if (replica == NULL || replica->kind != YNODE_MAP)
        return false;
    const char *type = field(replica, "type");
    if (set(type))
        return strcmp(type, "sftp") == 0;
    const char *url = field(replica, "url");
    return url != NULL && strncmp(url, "sftp://", 7) == 0;
}

void legacy_layout_refusal(const char *db_path, const char *found, char *out, size_t size)
{
    snprintf(
        out, size,
        "cannot restore %.200s: its replica holds only Litestream 0.3 backups (%.260s), which Litestream 0.5 "
        "does not read from this replica type; starting would put an empty database over them. To migrate, start once with "
        "Litestream 0.3.13 (LSINIT_LITESTREAM=<a 0.3 binary>, or lsinit install-litestream --version 0.3.13) to "
        "restore the database, then with 0.5, which uploads a fresh 0.5 snapshot; or point the replica at a new "
        "path. Not starting the app",
        db_path, found);
}
