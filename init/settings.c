/* SPDX-License-Identifier: MIT */
#include "settings.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "exit_codes.h"
#include "hostport.h"
#include "parse.h"
#include "version.h"

const char *env_lookup(char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (char *const *e = envp; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    }
    return NULL;
}

/* "143,130" → bits set in the remap field. */
static int remap_add_list(struct settings *s, const char *list)
{
    char buf[256];
    if (strlen(list) >= sizeof(buf))
        return -1;
    memcpy(buf, list, strlen(list) + 1);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        long code = 0;
        if (parse_int_range(tok, 0, 255, &code) != 0)
            return -1;
        s->remap_exit[code / 8] |= (unsigned char)(1u << (code % 8));
    }
    return 0;
}

/* "TERM:INT,HUP:0" → rewrite table entries. */
static int rewrite_add_list(struct settings *s, const char *list)
{
    char buf[512];
    if (strlen(list) >= sizeof(buf))
        return -1;
    memcpy(buf, list, strlen(list) + 1);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strchr(tok, ':');
        if (colon == NULL)
            return -1;
        *colon = '\0';
        int from = 0, to = 0;
        if (parse_signal(tok, false, &from) != 0 || parse_signal(colon + 1, true, &to) != 0)
            return -1;
        if (from >= SETTINGS_SIGNAL_SLOTS || to >= SETTINGS_SIGNAL_SLOTS)
            return -1;
        if (from == SIGKILL || from == SIGSTOP || from == SIGCHLD)
            return -1;
        s->rewrite[from] = to;
    }
    return 0;
}

static int parse_log_level(const char *text, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } levels[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR}, {"quiet", LOG_QUIET}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (strcmp(text, levels[i].name) == 0) {
            *out = levels[i].level;
            return 0;
        }
    }
    return -1;
}

static void settings_defaults(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    s->grace_ms = SETTINGS_DEFAULT_GRACE_MS;
    s->straggler_ms = SETTINGS_DEFAULT_STRAGGLER_MS;
    s->log_level = LOG_INFO;
    for (int sig = 0; sig < SETTINGS_SIGNAL_SLOTS; sig++)
        s->rewrite[sig] = sig;
}

/* A positive duration, or -1. */
static int positive_duration(const char *v, int64_t *out)
{
    int64_t ms = 0;
    if (parse_duration_ms(v, &ms) != 0 || ms <= 0)
        return -1;
    *out = ms;
    return 0;
}

int settings_load_verify(struct settings *s, char *const *envp, char *err, unsigned long size)
{
    const char *v;
    s->verify_interval_ms = SETTINGS_DEFAULT_VERIFY_INTERVAL_MS;
    s->verify_catchup_timeout_ms = SETTINGS_DEFAULT_VERIFY_CATCHUP_TIMEOUT_MS;
    s->verify_timeout_ms = SETTINGS_DEFAULT_VERIFY_TIMEOUT_MS;
    snprintf(s->verify_dir, sizeof(s->verify_dir), "/tmp");
    s->verify_mode = VERIFY_MODE_AUTO;
    s->verify_full_interval_ms = SETTINGS_DEFAULT_VERIFY_FULL_INTERVAL_MS;
    s->verify_check_interval_ms = SETTINGS_DEFAULT_VERIFY_CHECK_INTERVAL_MS;
    s->verify_follow_interval_ms = SETTINGS_DEFAULT_VERIFY_FOLLOW_INTERVAL_MS;
    if ((v = env_lookup(envp, "LSINIT_VERIFY_MODE")) != NULL && v[0] != '\0') {
        if (strcmp(v, "follow") == 0)
            s->verify_mode = VERIFY_MODE_FOLLOW;
        else if (strcmp(v, "full") == 0)
            s->verify_mode = VERIFY_MODE_FULL;
        else if (strcmp(v, "auto") != 0)
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "LSINIT_VERIFY_MODE=%s is not follow, full or auto (follow keeps a follower copy and "
                               "needs Litestream 0.5.9+; full restores the whole database every cycle)",
                               v);
    }
    if ((v = env_lookup(envp, "LSINIT_VERIFY_FULL_INTERVAL")) != NULL &&
        positive_duration(v, &s->verify_full_interval_ms) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_VERIFY_FULL_INTERVAL=%s is not a positive duration: use e.g. 24h, 12h", v);
    if ((v = env_lookup(envp, "LSINIT_VERIFY_CHECK_INTERVAL")) != NULL &&
        positive_duration(v, &s->verify_check_interval_ms) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_VERIFY_CHECK_INTERVAL=%s is not a positive duration: use e.g. 6h, 1h", v);
    if ((v = env_lookup(envp, "LSINIT_VERIFY_FOLLOW_INTERVAL")) != NULL &&
        (parse_duration_ms(v, &s->verify_follow_interval_ms) != 0 || s->verify_follow_interval_ms < 100 ||
         s->verify_follow_interval_ms > 3600000))
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_VERIFY_FOLLOW_INTERVAL=%s is not a duration from 100ms to 1h: use e.g. 10s, 1m", v);
    if ((v = env_lookup(envp, "LSINIT_VERIFY_INTERVAL")) != NULL) {
        bool on = true;
        if (parse_bool(v, &on) == 0 && !on)
            s->verify_interval_ms = 0;
        else if (parse_duration_ms(v, &s->verify_interval_ms) != 0 || s->verify_interval_ms < 1000)
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "LSINIT_VERIFY_INTERVAL=%s is not a duration of at least 1s (e.g. 1h, 30m) or off", v);
    }
    if ((v = env_lookup(envp, "LSINIT_VERIFY_CATCHUP_TIMEOUT")) != NULL &&
        positive_duration(v, &s->verify_catchup_timeout_ms) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_VERIFY_CATCHUP_TIMEOUT=%s is not a positive duration: use e.g. 30s, 1m, 5m", v);
    if ((v = env_lookup(envp, "LSINIT_VERIFY_TIMEOUT")) != NULL && positive_duration(v, &s->verify_timeout_ms) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_VERIFY_TIMEOUT=%s is not a positive duration: use e.g. 10m, 30m, 1h", v);
    const char *dir_var = "LSINIT_VERIFY_DIR";
    v = env_lookup(envp, dir_var);
    if (v == NULL || v[0] == '\0') {
        dir_var = "TMPDIR";
        v = env_lookup(envp, dir_var);
    }
    if (v != NULL && v[0] != '\0') {
        if (strlen(v) >= sizeof(s->verify_dir) || v[0] != '/')
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "%s=%s must be an absolute folder path (verification restores its copies there)",
                               dir_var, v);
        snprintf(s->verify_dir, sizeof(s->verify_dir), "%s", v);
    }
    return 0;
}

static int settings_from_env(struct settings *s, char *const *envp, char *err, unsigned long size)
{
    const char *v;
    if ((v = env_lookup(envp, "LSINIT_GRACE")) != NULL && parse_duration_ms(v, &s->grace_ms) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_GRACE=%s is not a duration: use e.g. 500ms, 10s, 1m (a bare number means seconds)",
                           v);
    if ((v = env_lookup(envp, "LSINIT_STRAGGLER_GRACE")) != NULL && parse_duration_ms(v, &s->straggler_ms) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_STRAGGLER_GRACE=%s is not a duration: use e.g. 500ms, 2s",
                           v);
    if ((v = env_lookup(envp, "LSINIT_REMAP_EXIT")) != NULL && remap_add_list(s, v) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_REMAP_EXIT=%s is not a list of exit codes 0-255, e.g. 143,130", v);
    if ((v = env_lookup(envp, "LSINIT_SIGNAL_REWRITE")) != NULL && rewrite_add_list(s, v) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_SIGNAL_REWRITE=%s is not a list of FROM:TO signals, e.g. TERM:INT,HUP:0 (0 drops)",
                           v);
    if ((v = env_lookup(envp, "LSINIT_KILL_GROUP")) != NULL && parse_bool(v, &s->kill_group) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_KILL_GROUP=%s is not a boolean: use 1/0, true/false or on/off", v);
    if ((v = env_lookup(envp, "LSINIT_HEALTH_ADDR")) != NULL) {
        struct hostport hp;
        bool off = strcmp(v, "off") == 0;
        if (strlen(v) >= sizeof(s->health_addr) || (!off && (hostport_split(v, &hp) != HOSTPORT_OK || !hp.has_port)))
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "LSINIT_HEALTH_ADDR=%s is not HOST:PORT (e.g. 0.0.0.0:9091) or off", v);
        snprintf(s->health_addr, sizeof(s->health_addr), "%s", v);
    }
    int rc = settings_load_verify(s, envp, err, size);
    if (rc != 0)
        return rc;
    s->follow_max_lag_ms = SETTINGS_DEFAULT_FOLLOW_MAX_LAG_MS;
    s->follow_interval_ms = SETTINGS_DEFAULT_FOLLOW_INTERVAL_MS;
    if ((v = env_lookup(envp, "LSINIT_ROLE")) != NULL && v[0] != '\0') {
        if (strcmp(v, "follower") == 0)
            s->role = ROLE_FOLLOWER;
        else if (strcmp(v, "standby") == 0)
            s->role = ROLE_STANDBY;
        else if (strcmp(v, "primary") != 0)
            return errbuf_fail(err, size, EXIT_CONFIG,
                               "LSINIT_ROLE=%s is not primary, follower or standby (primary replicates the app's "
                               "writes; follower serves a read-only copy; standby also takes over when the primary's "
                               "lease expires)",
                               v);
    }
    if ((v = env_lookup(envp, "LSINIT_FOLLOW_MAX_LAG")) != NULL &&
        (parse_duration_ms(v, &s->follow_max_lag_ms) != 0 || s->follow_max_lag_ms < 1000))
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_FOLLOW_MAX_LAG=%s is not a duration of at least 1s: use e.g. 10s, 1m", v);
    if ((v = env_lookup(envp, "LSINIT_FOLLOW_INTERVAL")) != NULL &&
        (parse_duration_ms(v, &s->follow_interval_ms) != 0 || s->follow_interval_ms < 100 ||
         s->follow_interval_ms > 60000))
        return errbuf_fail(err, size, EXIT_CONFIG,
                           "LSINIT_FOLLOW_INTERVAL=%s is not a duration from 100ms to 1m: use e.g. 1s, 500ms", v);
    if ((v = env_lookup(envp, "LSINIT_LOG_LEVEL")) != NULL && parse_log_level(v, &s->log_level) != 0)
        return errbuf_fail(err, size, EXIT_CONFIG, "LSINIT_LOG_LEVEL=%s is not one of debug, info, warn, error, quiet",
                           v);
    return 0;
}

int settings_load(struct settings *s, int argc, char **argv, char *const *envp, char *err, unsigned long size)
{
    settings_defaults(s);
    int rc = settings_from_env(s, envp, err, size);
    if (rc != 0)
        return rc;

    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"grace", required_argument, NULL, 't'},
        {"straggler-grace", required_argument, NULL, 'T'},
        {"remap-exit", required_argument, NULL, 'e'},
        {"rewrite", required_argument, NULL, 'r'},
        {"kill-group", no_argument, NULL, 'g'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"role", required_argument, NULL, 'R'},
        {NULL, 0, NULL, 0},
    };
    /* 0, not 1: a full restart; after "-xv" failed at x, optind = 1 would go on at its "v". */
    optind = 0;
    opterr = 0;
    int opt;
    char flag[8];
    /* '+' stops at the first non-option so the app's own flags stay its own. */
    while ((opt = getopt_long(argc, argv, "+hVt:T:e:r:gvqs", long_options, NULL)) != -1) {
        switch (opt) {
        case 'h': s->show_help = true; break;
        case 'V': s->show_version = true; break;
        case 't':
            if (parse_duration_ms(optarg, &s->grace_ms) != 0)
                return errbuf_fail(err, size, EXIT_USAGE, "--grace %s is not a duration: use e.g. 500ms, 10s, 1m",
                                   optarg);
            break;
        case 'T':
            if (parse_duration_ms(optarg, &s->straggler_ms) != 0)
                return errbuf_fail(err, size, EXIT_USAGE, "--straggler-grace %s is not a duration: use e.g. 500ms, 2s",
                                   optarg);
            break;
        case 'e':
            if (remap_add_list(s, optarg) != 0)
                return errbuf_fail(err, size, EXIT_USAGE, "-e %s is not an exit code 0-255", optarg);
            break;
        case 'r':
            if (rewrite_add_list(s, optarg) != 0)
                return errbuf_fail(err, size, EXIT_USAGE,
                                   "-r %s is not FROM:TO, e.g. -r TERM:INT or -r HUP:0 to drop HUP", optarg);
            break;
        case 'g': s->kill_group = true; break;
        case 'v': s->log_level = s->log_level > LOG_DEBUG ? s->log_level - 1 : LOG_DEBUG; break;
        case 'q': s->log_level = LOG_ERROR; break;
        case 's': break; /* tini's -s: lsinit is always a subreaper when it is not PID 1 */
        case 'R':
            /* The command line's role (a Fly.io process group's command, where [env] is the whole app's): the
             * same as LSINIT_ROLE, and the app sees it there. A standby that took over is the primary. */
            if (strcmp(optarg, "primary") != 0 && strcmp(optarg, "follower") != 0 && strcmp(optarg, "standby") != 0)
                return errbuf_fail(err, size, EXIT_USAGE, "--role %s is not primary, follower or standby", optarg);
            if (env_lookup(envp, "LSINIT_TAKEOVER_TXID") == NULL) {
                s->role = optarg[0] == 'p' ? ROLE_PRIMARY : optarg[0] == 'f' ? ROLE_FOLLOWER : ROLE_STANDBY;
                (void)setenv("LSINIT_ROLE", optarg, 1);
            }
            break;
        default:
            if (optopt != 0) {
                snprintf(flag, sizeof(flag), "-%c", optopt);
                return errbuf_fail(err, size, EXIT_USAGE, "unknown or incomplete option %s: see lsinit --help", flag);
            }
            return errbuf_fail(err, size, EXIT_USAGE, "unknown option %s: see lsinit --help", argv[optind - 1]);
        }
    }
    s->command = argv + optind;
    return 0;
}

int settings_remap_exit(const struct settings *s, int code)
{
    if (code >= 0 && code <= 255 && (s->remap_exit[code / 8] & (1u << (code % 8))) != 0)
        return 0;
    return code;
}

int settings_route_signal(const struct settings *s, int sig)
{
    if (sig > 0 && sig < SETTINGS_SIGNAL_SLOTS)
        return s->rewrite[sig];
    return sig;
}

void settings_print_help(void)
{
    fputs(
        "lsinit " LSINIT_VERSION " - a PID 1 for SQLite apps replicated with Litestream\n"
        "\n"
        "Usage:\n"
        "  lsinit [OPTIONS] [--] COMMAND [ARGS...]  supervise COMMAND; under litestream when a database is configured\n"
        "  lsinit SUBCOMMAND [ARGS...]              Litestream's commands on lsinit's configuration:\n"
        "      config                 the generated litestream.yml (secrets redacted)\n"
        "      databases              the configured databases\n"
        "      restore [FLAGS] DB     restore DB (its path or file name), e.g. restore -o /tmp/copy.db app.db\n"
        "      generations|snapshots|wal DB          (Litestream 0.3.x)\n"
        "      ltx|status|sync|reset DB              (Litestream 0.5.x)\n"
        "      version                lsinit's and litestream's versions\n"
        "      verify [--json] [DB]   one verification cycle now; exit 0 only if every database passes\n"
        "      health [URL|/PATH]     probe lsinit's health endpoint (default /readyz); exit 0 on 2xx\n"
        "      install-litestream [--version V] [--dir D] [--url URL --sha256 HEX] [--force]\n"
        "                             download litestream (default v0.3.13, checksum pinned) to D/litestream\n"
        "                             (default /usr/local/bin); for RUN [\"/lsinit\",\"install-litestream\"]\n"
        "  (an app whose name is a subcommand runs with: lsinit -- NAME ...)\n"
        "\n"
        "Options (each also has an environment variable; flags win):\n"
        "  -t, --grace D            LSINIT_GRACE            TERM/INT to SIGKILL; covers the app's drain and the final\n"
        "                                                   sync (default 8s: under Docker's 10s; raise kill_timeout\n"
        "                                                   on Fly.io, whose default is 5s)\n"
        "  -T, --straggler-grace D  LSINIT_STRAGGLER_GRACE  after the app exits: TERM leftovers, KILL after D (default 2s)\n"
        "  -e, --remap-exit CODE    LSINIT_REMAP_EXIT       exit code CODE becomes 0; repeatable or a list (e.g. 143,130)\n"
        "  -r, --rewrite FROM:TO    LSINIT_SIGNAL_REWRITE   send TO when FROM arrives; TO=0 drops it (e.g. TERM:INT,HUP:0)\n"
        "  -g, --kill-group         LSINIT_KILL_GROUP       plain mode: signal the child's whole process group (default off)\n"
        "  -v, --verbose            LSINIT_LOG_LEVEL        debug|info|warn|error|quiet (default info); -v once = debug\n"
        "  -q, --quiet                                      errors only\n"
        "  -s                                               accepted for tini compatibility: lsinit is always a\n"
        "                                                   subreaper when it is not PID 1\n"
        "  --role primary|follower|standby                  the same as LSINIT_ROLE (wins over it)\n"
        "  -h, --help                                       this text\n"
        "  -V, --version                                    one line: lsinit's version\n"
        "\n"
        "Litestream mode (environment only):\n"
        "  LSINIT_DB                 database path(s), comma-separated; unset (and no config) = plain init\n"
        "  LSINIT_REPLICA_URL        s3://BUCKET/PATH, gs://, abs://ACCOUNT@CONTAINER/PATH,\n"
        "                            sftp://USER@HOST:PORT/PATH, file:///PATH; several databases: PATH/<file name>\n"
        "  LITESTREAM_REPLICA_BUCKET, AWS_BUCKET, BUCKET_NAME   S3 bucket when there is no URL (first set wins)\n"
        "  LSINIT_PATH_PREFIX        with a bucket: replica path = PREFIX/<file name> (default: the file name)\n"
        "  LITESTREAM_ACCESS_KEY_ID, AWS_ACCESS_KEY_ID           S3 access key id (first set wins)\n"
        "  LITESTREAM_SECRET_ACCESS_KEY, AWS_SECRET_ACCESS_KEY   S3 secret key (never logged or printed)\n"
        "  LITESTREAM_REPLICA_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL   S3-compatible endpoint\n"
        "  LITESTREAM_REPLICA_REGION, AWS_REGION, AWS_DEFAULT_REGION           region (us-east-1 with an endpoint)\n"
        "  LSINIT_FORCE_PATH_STYLE   path-style S3 addressing (default: on when an endpoint is set)\n"
        "  LSINIT_SFTP_KEY_PATH, LSINIT_SFTP_PASSWORD, LSINIT_SFTP_HOST_KEY (0.5)  SFTP credentials\n"
        "  LSINIT_CONFIG, LITESTREAM_CONFIG   a litestream.yml to start from (keys are checked)\n"
        "  LSINIT_LITESTREAM         the litestream binary (default: PATH, then /usr/local/bin/litestream)\n"
        "  LSINIT_LITESTREAM_VERSION skip `litestream version` (e.g. 0.3.13)\n"
        "  LSINIT_SYNC_INTERVAL      replica sync-interval (Litestream's default: 1s)\n"
        "  LSINIT_RESTORE_TIMEOUT    keep retrying a failing restore this long, then exit 69 (default 2m)\n"
        "  LSINIT_SOCKET             Litestream 0.5 control socket (default /tmp/lsinit-litestream.sock)\n"
        "  LSINIT_METRICS_ADDR       litestream's metrics address (default 127.0.0.1:<free port>)\n"
        "  LSINIT_LEASE              one writer per replica: auto (s3, file), on, off (default auto)\n"
        "  LSINIT_LEASE_TTL          the lease lasts this long without renewal, 5s..10m (default 30s)\n"
        "  LSINIT_LEASE_WAIT         wait this long for another instance's lease, then exit 76 (default 10m)\n"
        "\n"
        "Read-only followers (Litestream 0.5.9+, docs/scaling.md):\n"
        "  LSINIT_ROLE               primary (default), follower (the app reads a copy kept current with\n"
        "                            restore -f; it cannot write it), standby (a follower that takes over\n"
        "                            when the primary's lease expires)\n"
        "  LSINIT_FOLLOW_MAX_LAG     /readyz is 503 while the copy is this far behind the replica (default 10s)\n"
        "  LSINIT_FOLLOW_INTERVAL    the follow process polls the replica this often (default 1s)\n"
        "  (LSINIT_TAKEOVER_TXID and LSINIT_HANDOVER_SIGMASK: set by a standby for itself when it takes over)\n"
        "\n"
        "Health and verification:\n"
        "  LSINIT_HEALTH_ADDR        health endpoint HOST:PORT or off (Litestream mode: 0.0.0.0:9091; plain: off)\n"
        "  LSINIT_VERIFY_INTERVAL    verify backups this often, or off (default 1h, +-10% jitter; first after 30s)\n"
        "  LSINIT_VERIFY_DIR         where restored copies go (default TMPDIR, else /tmp)\n"
        "  LSINIT_VERIFY_CATCHUP_TIMEOUT  wait this long for the replica to catch up (default 1m)\n"
        "  LSINIT_VERIFY_TIMEOUT     give up a verification restore after (default 30m)\n"
        "  LSINIT_VERIFY_MODE        follow (a follower copy, Litestream 0.5.9+), full, or auto (default auto)\n"
        "  LSINIT_VERIFY_FULL_INTERVAL   follow mode: a whole restore this often (default 24h)\n"
        "  LSINIT_VERIFY_CHECK_INTERVAL  follow mode: quick_check of the follower copy this often (default 6h)\n"
        "  LSINIT_VERIFY_FOLLOW_INTERVAL follow mode: the follower polls the replica this often (default 10s)\n"
        "  LSINIT_PING_URL           dead man's switch: GET URL on pass, URL/fail on failure\n"
        "  LSINIT_PING_START         also GET URL/start before each cycle (default off)\n"
        "  LSINIT_CA_BUNDLE          CA certificates for HTTPS pings and probes\n"
        "  LSINIT_HEALTH_TIMEOUT     timeout of lsinit health (default 5s)\n"
        "  LSINIT_LITESTREAM_URL, LSINIT_LITESTREAM_SHA256, LSINIT_INSTALL_DIR  install-litestream's --url, --sha256, --dir\n"
        "\n"
        "Durations read like Litestream's: 500ms, 10s, 5m, 1h; a bare number means seconds.\n"
        "Booleans accept 1/0, true/false, on/off.\n"
        "Exit codes: the app's own (or 128+signal); 64 usage, 65 install-litestream: bad checksum or archive,\n"
        "69 restore failed (app not started) or download failed, 70 litestream failed before the app started,\n"
        "71 system error, 73 install-litestream cannot write its directory, 75 final sync failed,\n"
        "78 configuration, 126/127 command not executable/not found.\n",
        stdout);
}
