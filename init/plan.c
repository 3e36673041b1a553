/* SPDX-License-Identifier: MIT */
#include "plan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "exit_codes.h"
#include "hostport.h"
#include "lease.h"
#include "ls_config.h"
#include "parse.h"
#include "replica_url.h"
#include "settings.h"
#include "utf8.h"

#define PLAN_CONFIG_MAX ((off_t)1024 * 1024)

/* The first of several spellings that is set (and non-empty), with its name. */
static const char *env_first(char *const *envp, const char *const *names, const char **which)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        const char *v = env_lookup(envp, names[i]);
        if (v != NULL && v[0] != '\0') {
            if (which != NULL)
                *which = names[i];
            return v;
        }
    }
    return NULL;
}

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Cleans an absolute path in place the way Go's filepath.Clean does (and so
 * Litestream's filepath.Abs): "//" → "/", "." dropped, ".." resolved. */
static void clean_path(char *path)
{
    size_t n = 1; /* path[0] == '/' stays */
    const char *p = path;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0 || (len == 1 && start[0] == '.'))
            continue;
        if (len == 2 && start[0] == '.' && start[1] == '.') {
            while (n > 1 && path[n - 1] != '/')
                n--;
            if (n > 1)
                n--;
            continue;
        }
        if (n > 1)
            path[n++] = '/';
        memmove(path + n, start, len); /* never ahead of the read position */
        n += len;
    }
    path[n] = '\0';
}

/* Makes path absolute against cwd (and ~ against HOME) into out, cleaned. */
static int absolutize(const char *path, const char *cwd, const char *home, char *out, size_t size)
{
    int n;
    if (path[0] == '/')
        n = snprintf(out, size, "%s", path);
    else if (path[0] == '~' && path[1] == '/' && home != NULL && home[0] == '/')
        n = snprintf(out, size, "%s/%s", home, path + 2);
    else
        n = snprintf(out, size, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path);
    if (n < 0 || (size_t)n >= size)
        return -1;
    if (out[0] == '/')
        clean_path(out);
    return 0;
}

/* The environment's replica, before the per-database path is filled in. */
struct env_replica {
    bool present;
    struct replica_url url;
    char source[64]; /* the variable it came from, for messages */
    const char *endpoint;
    const char *region;
    const char *access_key;
    const char *secret_key;
    const char *sftp_key_path;
    const char *sftp_password;
    const char *sftp_host_key;
    bool force_path_style_set;
    bool force_path_style;
    const char *sync_interval; /* already validated, as written */
    const char *path_prefix;   /* bucket mode: LSINIT_PATH_PREFIX */
    bool from_url;
};

static int env_replica_load(struct env_replica *r, char *const *envp, char *err, size_t size)
{
    static const char *const bucket_names[] = {"LITESTREAM_REPLICA_BUCKET", "AWS_BUCKET", "BUCKET_NAME", NULL};
    static const char *const key_names[] = {"LITESTREAM_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID", NULL};
    static const char *const secret_names[] = {"LITESTREAM_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", NULL};
    static const char *const endpoint_names[] = {"LITESTREAM_REPLICA_ENDPOINT", "AWS_ENDPOINT_URL_S3",
                                                 "AWS_ENDPOINT_URL", NULL};
    static const char *const region_names[] = {"LITESTREAM_REPLICA_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", NULL};
    memset(r, 0, sizeof(*r));
    const char *url = env_lookup(envp, "LSINIT_REPLICA_URL");
    const char *bucket_var = NULL;
    const char *bucket = env_first(envp, bucket_names, &bucket_var);
    if (url != NULL && url[0] != '\0') {
        char why[256];
        if (replica_url_parse(url, &r->url, why, sizeof(why)) != 0) {
            char shown[512];
            replica_url_redact(url, shown, sizeof(shown));
            return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_REPLICA_URL=%s %s", shown, why);
        }
        r->present = true;
        r->from_url = true;
        snprintf(r->source, sizeof(r->source), "LSINIT_REPLICA_URL");
    } else if (bucket != NULL) {
        if (strpbrk(bucket, "/: ") != NULL)
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "%s=%s is not a bucket name: give the name only (no s3://, slashes or spaces)",
                               bucket_var, bucket);
        r->present = true;
        r->url.type = REPLICA_S3;
        snprintf(r->url.bucket, sizeof(r->url.bucket), "%s", bucket);
        snprintf(r->source, sizeof(r->source), "%s", bucket_var);
        r->path_prefix = env_lookup(envp, "LSINIT_PATH_PREFIX");
    }
    /* Credentials come as a pair: LITESTREAM_* if either of them is set, else AWS_*. */
    const char *key_var = key_names[1], *secret_var = secret_names[1];
    bool litestream_pair = (env_lookup(envp, key_names[0]) != NULL && env_lookup(envp, key_names[0])[0] != '\0') ||
                           (env_lookup(envp, secret_names[0]) != NULL && env_lookup(envp, secret_names[0])[0] != '\0');
    if (litestream_pair) {
        key_var = key_names[0];
        secret_var = secret_names[0];
    }
    r->access_key = env_lookup(envp, key_var);
    r->secret_key = env_lookup(envp, secret_var);
    if (r->access_key != NULL && r->access_key[0] == '\0')
        r->access_key = NULL;
    if (r->secret_key != NULL && r->secret_key[0] == '\0')
        r->secret_key = NULL;
    if (r->present && r->url.type == REPLICA_S3) {
        if (r->access_key != NULL && r->secret_key == NULL)
            return errbuf_fail(
                err, size, EXIT_CONFIG,
                "%s is set but %s is not: set both (the access key id and the secret key are taken as a pair)", key_var,
                secret_var);
        if (r->secret_key != NULL && r->access_key == NULL)
            return errbuf_fail(
                err, size, EXIT_CONFIG,
                "%s is set but %s is not: set both (the access key id and the secret key are taken as a pair)",
                secret_var, key_var);
    }
    const char *endpoint_var = NULL;
    r->endpoint = env_first(envp, endpoint_names, &endpoint_var);
    if (r->endpoint != NULL && strncmp(r->endpoint, "http://", 7) != 0 && strncmp(r->endpoint, "https://", 8) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "%s=%s must start with http:// or https://", endpoint_var,
                           r->endpoint);
    r->region = env_first(envp, region_names, NULL);
    const char *v = env_lookup(envp, "LSINIT_FORCE_PATH_STYLE");
    if (v != NULL) {
        if (parse_bool(v, &r->force_path_style) != 0)
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "LSINIT_FORCE_PATH_STYLE=%s is not a boolean: use 1/0, true/false or on/off", v);
        r->force_path_style_set = true;
    }
    int64_t ms = 0;
    r->sync_interval = env_lookup(envp, "LSINIT_SYNC_INTERVAL");
    if (r->sync_interval != NULL && (parse_duration_ms(r->sync_interval, &ms) != 0 || ms <= 0))
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_SYNC_INTERVAL=%s is not a positive duration: use e.g. 1s, 500ms, 10s",
                           r->sync_interval);
    r->sftp_key_path = env_lookup(envp, "LSINIT_SFTP_KEY_PATH");
    r->sftp_password = env_lookup(envp, "LSINIT_SFTP_PASSWORD");
    r->sftp_host_key = env_lookup(envp, "LSINIT_SFTP_HOST_KEY");
    if (r->present && r->url.type == REPLICA_SFTP && r->sftp_key_path == NULL && r->sftp_password == NULL &&
        r->url.password[0] == '\0')
        return errbuf_fail(
            err, size, EXIT_CONFIG,
            "LSINIT_REPLICA_URL is an sftp:// URL but no credentials: set LSINIT_SFTP_KEY_PATH (a private key file) or LSINIT_SFTP_PASSWORD");
    if (r->sftp_key_path != NULL && access(r->sftp_key_path, R_OK) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_SFTP_KEY_PATH=%s: cannot read the key file: %s",
                           r->sftp_key_path, strerror(errno));
    return 0;
}

/* Builds the replica map for one database. */
static struct ynode *env_replica_node(const struct env_replica *r, const struct ls_version *v, const char *db_path,
                                      bool several)
{
    char path[PATH_MAX + REPLICA_PATH];
    const char *name = basename_of(db_path);
    if (r->from_url) {
        if (r->url.path[0] == '\0')
            snprintf(path, sizeof(path), "%s", name);
        else if (several)
            snprintf(path, sizeof(path), "%s/%s", strcmp(r->url.path, "/") == 0 ? "" : r->url.path, name);
        else
            snprintf(path, sizeof(path), "%s", r->url.path);
    } else if (r->path_prefix != NULL && r->path_prefix[0] != '\0') {
        const char *prefix = r->path_prefix;
        while (*prefix == '/')
            prefix++;
        size_t len = strlen(prefix);
        while (len > 0 && prefix[len - 1] == '/')
            len--;
        snprintf(path, sizeof(path), "%.*s/%s", (int)len, prefix, name);
    } else {
        snprintf(path, sizeof(path), "%s", name);
    }

    struct ynode *rep = ynode_new(YNODE_MAP);
    const struct replica_url *u = &r->url;
    switch (u->type) {
    case REPLICA_FILE:
        ynode_map_set_str(rep, "type", "file", false);
        ynode_map_set_str(rep, "path", path, true);
        break;
    case REPLICA_S3:
        ynode_map_set_str(rep, "type", "s3", false);
        ynode_map_set_str(rep, "bucket", u->bucket, true);
        ynode_map_set_str(rep, "path", path, true);
        if (r->endpoint != NULL)
            ynode_map_set_str(rep, "endpoint", r->endpoint, true);
        if (r->region != NULL)
            ynode_map_set_str(rep, "region", r->region, true);
        else if (r->endpoint != NULL)
            ynode_map_set_str(rep, "region", "us-east-1", true);
        if (r->force_path_style_set || r->endpoint != NULL)
            ynode_map_set_str(rep, "force-path-style",
                              (!r->force_path_style_set || r->force_path_style) ? "true" : "false", false);
        if (r->access_key != NULL) {
            ynode_map_set_str(rep, "access-key-id", r->access_key, true);
            ynode_map_set_str(rep, "secret-access-key", r->secret_key, true);
        }
        break;
    case REPLICA_GCS:
        ynode_map_set_str(rep, "type", ls_version_is_v05(v) ? "gs" : "gcs", false);
        ynode_map_set_str(rep, "bucket", u->bucket, true);
        ynode_map_set_str(rep, "path", path, true);
        break;
    case REPLICA_ABS:
        ynode_map_set_str(rep, "type", "abs", false);
        ynode_map_set_str(rep, "account-name", u->account, true);
        ynode_map_set_str(rep, "bucket", u->bucket, true);
        ynode_map_set_str(rep, "path", path, true);
        break;
    case REPLICA_SFTP:
        ynode_map_set_str(rep, "type", "sftp", false);
        ynode_map_set_str(rep, "host", u->host, true);
        ynode_map_set_str(rep, "user", u->user, true);
        ynode_map_set_str(rep, "path", path, true);
        if (u->password[0] != '\0')
            ynode_map_set_str(rep, "password", u->password, true);
        else if (r->sftp_password != NULL)
            ynode_map_set_str(rep, "password", r->sftp_password, true);
        if (r->sftp_key_path != NULL)
            ynode_map_set_str(rep, "key-path", r->sftp_key_path, true);
        if (r->sftp_host_key != NULL && ls_version_is_v05(v))
            ynode_map_set_str(rep, "host-key", r->sftp_host_key, true);
        break;
    }
    if (r->sync_interval != NULL) {
        int64_t ms = 0;
        char text[32];
        (void)parse_duration_ms(r->sync_interval, &ms);
        format_duration(ms, text, sizeof(text));
        ynode_map_set_str(rep, "sync-interval", text, false);
    }
    return rep;
}

static void attach_replica(struct ynode *db, struct ynode *rep, const struct ls_version *v)
{
    if (ls_version_is_v05(v)) {
        ynode_map_set(db, "replica", rep);
    } else {
        struct ynode *list = ynode_new(YNODE_SEQ);
        ynode_seq_append(list, rep);
        ynode_map_set(db, "replicas", list);
    }
}

static bool db_has_replica(const struct ynode *db)
{
    const struct ynode *list = ynode_map_get(db, "replicas");
    return ynode_map_get(db, "replica") != NULL || (list != NULL && list->kind == YNODE_SEQ && list->count > 0);
}

static int read_file_limited(const char *path, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    if (st.st_size > PLAN_CONFIG_MAX) {
        close(fd);
        errno = EFBIG;
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return -1;
    }
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        if (used == (size_t)st.st_size)
            break;
    }
    close(fd);
    buf[used] = '\0';
    *out = buf;
    *out_len = used;
    return 0;
}

static int pick_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 && getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

static int plan_litestream(struct plan *plan, char *const *envp, const sigset_t *mask, char *err, size_t size)
{
    char why[512];
    if (ls_find_binary(env_lookup(envp, "LSINIT_LITESTREAM"), env_lookup(envp, "PATH"), plan->litestream,
                       sizeof(plan->litestream), why, sizeof(why)) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "%s", why);
    const char *forced = env_lookup(envp, "LSINIT_LITESTREAM_VERSION");
    if (forced != NULL && forced[0] != '\0') {
        if (ls_version_parse(forced, &plan->version) != 0)
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "LSINIT_LITESTREAM_VERSION=%s is not a version like 0.3.13 or 0.5.16", forced);
    } else if (ls_detect_version(plan->litestream, mask, &plan->version, why, sizeof(why)) != 0) {
        return errbuf_fail(err, size, EXIT_LITESTREAM, "%s", why);
    }
    if (ls_version_check_supported(&plan->version, why, sizeof(why)) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "%s", why);
    return 0;
}

static int plan_base_config(struct plan *plan, char *const *envp, const char **cfg_var, char *err, size_t size)
{
    const char *cfg = env_lookup(envp, "LSINIT_CONFIG");
    *cfg_var = "LSINIT_CONFIG";
    if (cfg == NULL || cfg[0] == '\0') {
        cfg = env_lookup(envp, "LITESTREAM_CONFIG");
        *cfg_var = "LITESTREAM_CONFIG";
    }
    if (cfg == NULL || cfg[0] == '\0') {
        plan->config = ynode_new(YNODE_MAP);
        return 0;
    }
    snprintf(plan->config_source, sizeof(plan->config_source), "%s", cfg);
    char *text = NULL;
    size_t len = 0;
    if (read_file_limited(cfg, &text, &len) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "%s=%s: cannot read the config file: %s", *cfg_var, cfg,
                           strerror(errno));
    if (memchr(text, '\0', len) != NULL) {
        free(text);
        return errbuf_fail(err, size, EXIT_CONFIG, "%s=%s is not a text file", *cfg_var, cfg);
    }
    char *expanded = ls_config_expand_env(text, envp);
    free(text);
    char why[512];
    plan->config = ynode_parse(expanded, strlen(expanded), why, sizeof(why));
    free(expanded);
    if (plan->config == NULL)
        return errbuf_fail(err, size, EXIT_CONFIG, "%s %s", cfg, why);
    if (ls_config_validate(plan->config, &plan->version, cfg, why, sizeof(why)) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "%s", why);
    return 0;
}

/* A folder where this process may create its control socket. */
static bool socket_dir_usable(const char *dir)
{
    struct stat st;
    return dir != NULL && dir[0] == '/' && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
}

/*
 * Litestream 0.5's control socket, which lsinit needs to confirm the final
 * sync (POST /sync with wait) and to read the replica's position: always
 * enabled. Its path is the base config's socket.path, else LSINIT_SOCKET,
 * else one of this lsinit's own (two lsinit instances on one host never
 * share one): $TMPDIR or /tmp when writable, else the first database's
 * folder (a read-only root file system).
 */
static int plan_control_socket(struct plan *plan, char *const *envp, char *err, size_t size)
{
    struct sockaddr_un un;
    struct ynode *sock = ynode_map_get(plan->config, "socket");
    const char *sp = sock != NULL ? ynode_map_get_str(sock, "path") : NULL;
    const char *var = plan->config_source;
    if (sp == NULL || sp[0] == '\0') {
        sp = env_lookup(envp, "LSINIT_SOCKET");
        var = "LSINIT_SOCKET";
    }
    char path[PATH_MAX];
    if (sp != NULL && sp[0] != '\0') {
        snprintf(path, sizeof(path), "%s", sp);
    } else {
        const char *tmp = env_lookup(envp, "TMPDIR");
        char dbdir[PATH_MAX];
        snprintf(dbdir, sizeof(dbdir), "%s", plan->db_count > 0 ? plan->dbs[0].path : "/");
        char *slash = strrchr(dbdir, '/');
        if (slash != NULL)
            slash[slash == dbdir ? 1 : 0] = '\0';
        const char *dir = socket_dir_usable(tmp) ? tmp : socket_dir_usable("/tmp") ? "/tmp" : dbdir;
        /*
         * Named after the databases, not the pid: `lsinit verify`, `lsinit
         * sync` (run beside PID 1 with the same environment) find the same
         * socket; two lsinit instances on one host never share databases.
         */
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (size_t i = 0; i < plan->db_count; i++)
            for (const char *c = plan->dbs[i].path; *c != '\0'; c++)
                h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        int n = snprintf(path, sizeof(path), "%.3900s%s.lsinit-%016llx.sock", dir,
                         dir[strlen(dir) - 1] == '/' ? "" : "/", (unsigned long long)h);
        if (n < 0 || (size_t)n >= sizeof(path))
            path[0] = '\0';
        var = "LSINIT_SOCKET";
    }
    if (strlen(path) >= sizeof(un.sun_path))
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "%s: the control socket path %s is over %zu bytes (a unix socket limit); set LSINIT_SOCKET "
                           "to a shorter path",
                           var, path, sizeof(un.sun_path) - 1);
    if (sock == NULL) {
        sock = ynode_new(YNODE_MAP);
        ynode_map_set(plan->config, "socket", sock);
    }
    /* lsinit confirms the final sync through it: on, whatever the base config said. */
    ynode_map_set_str(sock, "enabled", "true", false);
    ynode_map_set_str(sock, "path", path, true);
    snprintf(plan->socket_path, sizeof(plan->socket_path), "%s", path);
    return 0;
}

const struct ynode *plan_replica_of(const struct ynode *config, const char *db_path)
{
    const struct ynode *dbs = config != NULL ? ynode_map_get(config, "dbs") : NULL;
    if (dbs == NULL || dbs->kind != YNODE_SEQ)
        return NULL;
    for (size_t i = 0; i < dbs->count; i++) {
        const char *p = ynode_map_get_str(dbs->items[i], "path");
        if (p == NULL || strcmp(p, db_path) != 0)
            continue;
        const struct ynode *one = ynode_map_get(dbs->items[i], "replica");
        if (one != NULL && one->kind == YNODE_MAP)
            return one;
        const struct ynode *list = ynode_map_get(dbs->items[i], "replicas");
        if (list != NULL && list->kind == YNODE_SEQ && list->count > 0 && list->items[0]->kind == YNODE_MAP)
            return list->items[0];
        return NULL;
    }
    return NULL;
}

/*
 * LSINIT_LEASE=auto|on|off (auto: s3 and file replicas carry a lease, the
 * others cannot), LSINIT_LEASE_TTL (5s..10m), LSINIT_LEASE_WAIT.
 */
static int plan_lease(struct plan *plan, char *const *envp, char *err, size_t size)
{
    plan->lease_ttl_ms = LEASE_DEFAULT_TTL_MS;
    plan->lease_wait_ms = LEASE_DEFAULT_WAIT_MS;
    const char *mode = env_lookup(envp, "LSINIT_LEASE");
    bool on = false, forced = false, off = false;
    if (mode != NULL && mode[0] != '\0' && strcmp(mode, "auto") != 0) {
        if (parse_bool(mode, &on) != 0)
            return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_LEASE=%s is not auto, on or off", mode);
        forced = on;
        off = !on;
        plan->lease_forced = forced;
    }
    const char *v = env_lookup(envp, "LSINIT_LEASE_TTL");
    if (v != NULL && (parse_duration_ms(v, &plan->lease_ttl_ms) != 0 || plan->lease_ttl_ms < LEASE_MIN_TTL_MS ||
                      plan->lease_ttl_ms > LEASE_MAX_TTL_MS))
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_LEASE_TTL=%s must be a duration from 5s to 10m (default 30s): shorter cannot be "
                           "renewed reliably, longer keeps a crashed holder's replica locked too long",
                           v);
    v = env_lookup(envp, "LSINIT_TAKEOVER_TXID"); /* set by a standby for itself (docs/scaling.md) */
    if (v != NULL && v[0] != '\0') {
        char buf[PLAN_MAX_DBS * 17 + 1];
        snprintf(buf, sizeof(buf), "%s", v);
        size_t n = 0;
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
            char *end = NULL;
            unsigned long long x = strtoull(t, &end, 16);
            if (*end != '\0' || n >= plan->db_count)
                return errbuf_fail(err, size, EXIT_CONFIG,
                                   "LSINIT_TAKEOVER_TXID=%s is not one hex transaction id per database (lsinit sets it "
                                   "for itself when a standby takes over; do not set it)",
                                   v);
            plan->takeover_txid[n++] = x;
        }
        if (n != plan->db_count)
            return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_TAKEOVER_TXID=%s names %zu databases, not %zu", v, n,
                               plan->db_count);
        plan->takeover = true;
    }
    v = env_lookup(envp, "LSINIT_LEASE_WAIT");
    if (v != NULL && parse_duration_ms(v, &plan->lease_wait_ms) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_LEASE_WAIT=%s is not a duration: use e.g. 2m, 10m, 1h", v);
    if (off)
        return 0;
    for (size_t i = 0; i < plan->db_count; i++) {
        const struct ynode *rep = plan_replica_of(plan->config, plan->dbs[i].path);
        const char *type = rep != NULL ? ynode_map_get_str(rep, "type") : NULL;
        bool leasable = type != NULL && (strcmp(type, "s3") == 0 || strcmp(type, "file") == 0);
        if (!leasable && forced)
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "LSINIT_LEASE=on, but the replica of %s is %s, which has no lease (only s3 and file "
                               "replicas do): set LSINIT_LEASE=auto or off",
                               plan->dbs[i].path, type != NULL ? type : "of no known type");
        plan->lease_db[i] = leasable;
        plan->lease = plan->lease || leasable;
    }
    return 0;
}

int plan_build(struct plan *plan, char *const *envp, const char *cwd, const sigset_t *child_mask, char *err,
               size_t size)
{
    memset(plan, 0, sizeof(*plan));
    plan->config_fd = -1;
    plan->restore_timeout_ms = PLAN_DEFAULT_RESTORE_TIMEOUT_MS;
    const char *db_list = env_lookup(envp, "LSINIT_DB");
    const char *cfg = env_lookup(envp, "LSINIT_CONFIG");
    const char *ls_cfg = env_lookup(envp, "LITESTREAM_CONFIG");
    bool have_db = db_list != NULL && db_list[0] != '\0';
    if (!have_db && (cfg == NULL || cfg[0] == '\0') && (ls_cfg == NULL || ls_cfg[0] == '\0'))
        return 0; /* plain init */
    plan->enabled = true;

    /* Every value that ends up in litestream's YAML config must be text. */
    static const char *const copied[] = {"LSINIT_DB",
                                         "LSINIT_REPLICA_URL",
                                         "LITESTREAM_REPLICA_BUCKET",
                                         "AWS_BUCKET",
                                         "BUCKET_NAME",
                                         "LSINIT_PATH_PREFIX",
                                         "LITESTREAM_ACCESS_KEY_ID",
                                         "AWS_ACCESS_KEY_ID",
                                         "LITESTREAM_SECRET_ACCESS_KEY",
                                         "AWS_SECRET_ACCESS_KEY",
                                         "LITESTREAM_REPLICA_ENDPOINT",
                                         "AWS_ENDPOINT_URL_S3",
                                         "AWS_ENDPOINT_URL",
                                         "LITESTREAM_REPLICA_REGION",
                                         "AWS_REGION",
                                         "AWS_DEFAULT_REGION",
                                         "LSINIT_SFTP_KEY_PATH",
                                         "LSINIT_SFTP_PASSWORD",
                                         "LSINIT_SFTP_HOST_KEY",
                                         "LSINIT_METRICS_ADDR",
                                         "LSINIT_SOCKET",
                                         "HOME",
                                         NULL};
    for (size_t i = 0; copied[i] != NULL; i++) {
        const char *value = env_lookup(envp, copied[i]);
        if (value != NULL && !utf8_valid(value))
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "%s is not valid UTF-8 text: Litestream's YAML config cannot hold "
                               "it; fix the value (its encoding)",
                               copied[i]);
    }

    const char *v = env_lookup(envp, "LSINIT_RESTORE_TIMEOUT");
    if (v != NULL && parse_duration_ms(v, &plan->restore_timeout_ms) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_RESTORE_TIMEOUT=%s is not a duration: use e.g. 30s, 2m, 10m",
                           v);

    struct env_replica rep;
    int rc = env_replica_load(&rep, envp, err, size);
    if (rc != 0)
        return rc;
    rc = plan_litestream(plan, envp, child_mask, err, size);
    if (rc != 0)
        return rc;
    const char *cfg_var = NULL;
    rc = plan_base_config(plan, envp, &cfg_var, err, size);
    if (rc != 0)
        return rc;

    struct ynode *dbs = ynode_map_get(plan->config, "dbs");
    if (dbs == NULL) {
        ynode_map_set(plan->config, "dbs", ynode_new(YNODE_SEQ));
        dbs = ynode_map_get(plan->config, "dbs");
    }
    const char *home = env_lookup(envp, "HOME");

    /* Resolve the base config's paths first, so LSINIT_DB can match them. */
    for (size_t i = 0; i < dbs->count; i++) {
        struct ynode *db = dbs->items[i];
        const char *p = ynode_map_get_str(db, "path");
        if (p == NULL) {
            /* Litestream 0.3 takes a missing path as "" = its working directory, and replicates nothing. */
            if (!ls_version_is_v05(&plan->version) || ynode_map_get(db, "dir") == NULL)
                return errbuf_fail(err, size, EXIT_CONFIG, "%s line %zu: a database without path:%s",
                                   plan->config_source, db->line,
                                   ls_version_is_v05(&plan->version) ? " (or dir: and pattern:)" : "");
            continue; /* 0.5 directory mode: dir + pattern */
        }
        const char *bare = strncmp(p, "sqlite3://", 10) == 0 ? p + 10 : strncmp(p, "sqlite://", 9) == 0 ? p + 9 : p;
        char abs_path[PATH_MAX];
        if (bare[0] == '\0' || absolutize(bare, cwd, home, abs_path, sizeof(abs_path)) != 0)
            return errbuf_fail(err, size, EXIT_CONFIG, "%s line %zu: database path '%s' is empty or too long",
                               plan->config_source, db->line, p);
        ynode_map_set_str(db, "path", abs_path, true);
    }

    if (have_db) {
        char list[8192];
        if (strlen(db_list) >= sizeof(list))
            return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_DB is too long");
        memcpy(list, db_list, strlen(db_list) + 1);
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            size_t len = strlen(tok);
            while (len > 0 && tok[len - 1] == ' ')
                tok[--len] = '\0';
            if (len == 0)
                continue;
            char abs_path[PATH_MAX];
            if (absolutize(tok, cwd, home, abs_path, sizeof(abs_path)) != 0)
                return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_DB: path '%s' is too long", tok);
            if (tok[len - 1] == '/')
                return errbuf_fail(err, size, EXIT_CONFIG,
                                   "LSINIT_DB: '%s' is a folder; name the database file, e.g. %sapp.db", tok, tok);
            bool known = false;
            for (size_t i = 0; i < dbs->count; i++) {
                const char *p = ynode_map_get_str(dbs->items[i], "path");
                if (p != NULL && strcmp(p, abs_path) == 0)
                    known = true;
            }
            if (known)
                continue;
            struct ynode *db = ynode_new(YNODE_MAP);
            ynode_map_set_str(db, "path", abs_path, true);
            ynode_seq_append(dbs, db);
        }
    }

    size_t needing = 0;
    for (size_t i = 0; i < dbs->count; i++) {
        if (!db_has_replica(dbs->items[i]))
            needing++;
    }
    for (size_t i = 0; i < dbs->count; i++) {
        struct ynode *db = dbs->items[i];
        const char *p = ynode_map_get_str(db, "path");
        if (!db_has_replica(db)) {
            if (!rep.present)
                return errbuf_fail(err, size, EXIT_CONFIG,
                                   "database %s has no replica: set LSINIT_REPLICA_URL (e.g. file:///data/replica or "
                                   "s3://bucket/path) or LITESTREAM_REPLICA_BUCKET, or add replicas: to %s",
                                   p != NULL ? p : "(dir)",
                                   plan->config_source[0] != '\0' ? plan->config_source : "the config");
            attach_replica(db, env_replica_node(&rep, &plan->version, p != NULL ? p : "db", needing > 1),
                           &plan->version);
        }
        if (p == NULL)
            continue;
        if (plan->db_count >= PLAN_MAX_DBS)
            return errbuf_fail(err, size, EXIT_CONFIG, "too many databases: lsinit supervises at most %d",
                               PLAN_MAX_DBS);
        for (size_t j = 0; j < plan->db_count; j++) {
            if (strcmp(plan->dbs[j].path, p) == 0)
                return errbuf_fail(err, size, EXIT_CONFIG, "database %s is configured twice", p);
        }
        snprintf(plan->dbs[plan->db_count++].path, sizeof(plan->dbs[0].path), "%s", p);
    }
    if (dbs->count == 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "%s=%s lists no databases (dbs:) and LSINIT_DB is not set", cfg_var,
                           plan->config_source);

    const char *addr = ynode_map_get_str(plan->config, "addr");
    if (addr != NULL) {
        if (hostport_local_target(addr, plan->metrics_addr, sizeof(plan->metrics_addr)) != 0)
            return errbuf_fail(err, size, EXIT_CONFIG, "%s: addr '%s' needs a port, e.g. 127.0.0.1:9090",
                               plan->config_source, addr);
    } else if ((addr = env_lookup(envp, "LSINIT_METRICS_ADDR")) != NULL && addr[0] != '\0') {
        if (hostport_local_target(addr, plan->metrics_addr, sizeof(plan->metrics_addr)) != 0)
            return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_METRICS_ADDR=%s needs a port, e.g. 127.0.0.1:9090",
                               addr);
        ynode_map_set_str(plan->config, "addr", addr, true);
    } else {
        int port = pick_free_port();
        if (port < 0)
            return errbuf_fail(err, size, EXIT_OSERR, "cannot find a free loopback port for litestream's metrics: %s",
                               strerror(errno));
        snprintf(plan->metrics_addr, sizeof(plan->metrics_addr), "127.0.0.1:%d", port);
        ynode_map_set_str(plan->config, "addr", plan->metrics_addr, true);
    }
    if (ls_version_is_v05(&plan->version)) {
        rc = plan_control_socket(plan, envp, err, size);
        if (rc != 0)
            return rc;
    }
    return plan_lease(plan, envp, err, size);
}

/* URL values (url:, webdav-url:, heartbeat-url:) may carry user:password@. */
static void redact_url_values(struct ynode *n)
{
    if (n == NULL)
        return;
    if (n->kind == YNODE_SCALAR) {
        if (strstr(n->value, "://") == NULL)
            return;
        size_t size = strlen(n->value) + sizeof("<redacted>");
        char *shown = malloc(size);
        if (shown == NULL)
            abort();
        replica_url_redact(n->value, shown, size);
        free(n->value);
        n->value = shown;
        return;
    }
    size_t total = n->kind == YNODE_MAP ? n->count * 2 : n->count;
    for (size_t i = 0; i < total; i++)
        redact_url_values(n->items[i]);
}

char *plan_render(const struct plan *plan, bool redact)
{
    char *text = NULL;
    size_t len = 0;
    struct ynode *copy = NULL;
    if (redact) {
        copy = ynode_copy(plan->config);
        redact_url_values(copy);
    }
    int rc = ynode_emit(copy != NULL ? copy : plan->config, redact, ls_config_is_secret_key, &text, &len);
    ynode_free(copy);
    if (rc != 0)
        return NULL;
    return text;
}

int plan_write_config(struct plan *plan, char *err, size_t size)
{
    char *text = plan_render(plan, false);
    if (text == NULL)
        return errbuf_fail(err, size, EXIT_OSERR, "cannot render the litestream config");
    /* In memory only: the config may hold credentials, which never touch disk. */
    int fd = memfd_create("lsinit-litestream.yml", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        free(text);
        return errbuf_fail(err, size, EXIT_OSERR, "memfd_create failed: %s", strerror(errno));
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(text);
            close(fd);
            return errbuf_fail(err, size, EXIT_OSERR, "cannot write the config: %s", strerror(errno));
        }
        done += (size_t)n;
    }
    explicit_bzero(text, len);
    free(text);
    (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    plan->config_fd = fd;
    snprintf(plan->config_path, sizeof(plan->config_path), "/proc/%ld/fd/%d", (long)getpid(), fd);
    return 0;
}

const char *plan_find_db(const struct plan *plan, const char *arg, const char *cwd)
{
    char abs_path[PATH_MAX];
    if (absolutize(arg, cwd, NULL, abs_path, sizeof(abs_path)) == 0) {
        for (size_t i = 0; i < plan->db_count; i++) {
            if (strcmp(plan->dbs[i].path, abs_path) == 0 || strcmp(plan->dbs[i].path, arg) == 0)
                return plan->dbs[i].path;
        }
    }
    const char *found = NULL;
    for (size_t i = 0; i < plan->db_count; i++) {
        if (strcmp(basename_of(plan->dbs[i].path), arg) == 0) {
            if (found != NULL)
                return NULL; /* ambiguous */
            found = plan->dbs[i].path;
        }
    }
    return found;
}

void plan_free(struct plan *plan)
{
    ynode_free(plan->config);
    plan->config = NULL;
    if (plan->config_fd >= 0)
        close(plan->config_fd);
    plan->config_fd = -1;
}

int plan_check_follower_role(const struct plan *plan, const char *role, char *err, size_t size)
{
    if (!plan->enabled)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_ROLE=%s needs databases and a replica to follow: set LSINIT_DB and "
                           "LSINIT_REPLICA_URL (or a bucket), as on the primary",
                           role);
    if (!ls_version_at_least(&plan->version, 0, 5, 9))
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_ROLE=%s needs Litestream 0.5.9 or later (restore -f, follow mode); this litestream "
                           "is %s",
                           role, plan->version.text);
    for (size_t i = 0; strcmp(role, "standby") == 0 && i < plan->db_count; i++)
        if (!plan->lease_db[i])
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "LSINIT_ROLE=standby takes over when the primary's lease expires, and the replica of %s "
                               "has none (LSINIT_LEASE=off, or not an s3 or file replica): use LSINIT_ROLE=follower",
                               plan->dbs[i].path);
    return 0;
}
