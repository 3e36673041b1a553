/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for lsinit's configuration path: a base litestream.yml and
 * the environment, through ynode_parse, ls_config_validate and plan_build
 * (which expands $VARS, validates, merges LSINIT_DB and the environment's
 * replica into the config, and picks the metrics address).
 *
 * Input: byte 0 holds flags, the rest is split on NUL bytes:
 *   part 0      the base config text (LSINIT_CONFIG or LITESTREAM_CONFIG points
 *               at a memfd holding it), unless flag NO_CONFIG;
 *   parts 1..N  values of ENV_NAMES in order; an empty part leaves the variable
 *               unset, a part of exactly "\x7f" sets it to "".
 * Fixed: LSINIT_LITESTREAM=/bin/true, LSINIT_LITESTREAM_VERSION=0.3.13 (0.5.16
 * with flag V05: no litestream is ever run), PATH=/usr/bin:/bin.
 *
 * The contract checked for every input:
 *   - plan_build returns 0 (a plan) or an exit code with a non-empty, one-line
 *     error (no '\n': lsinit prints it as one log line);
 *   - a plan has 1..PLAN_MAX_DBS absolute database paths (0 only in 0.5's
 *     directory mode), and both renderings
 *     (plain, redacted) parse back with ynode_parse; the plain one still
 *     passes ls_config_validate for the same version;
 *   - the redacted rendering holds no secret value given in the environment
 *     as a value or a URL password (checked when the value is distinctive:
 *     see distinctive(), found in no other input part, and the config text
 *     expands no variables);
 *   - no sanitizer report, no leak (libFuzzer's default -detect_leaks=1).
 *
 * Build and run: make build/fuzz/fuzz_config (and _skip_known), make fuzz-config
 * FUZZ_SECONDS=30; docs/reliability.md (suite 7) has the results. Seeds in
 * tests/fuzz/corpus/config/.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ls_config.h"
#include "plan.h"
#include "yaml_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { FLAG_V05 = 1, FLAG_LITESTREAM_CONFIG = 2, FLAG_NO_CONFIG = 4 };

static const char *const ENV_NAMES[] = {
    "LSINIT_DB",
    "LSINIT_REPLICA_URL",
    "LITESTREAM_ACCESS_KEY_ID",
    "LITESTREAM_SECRET_ACCESS_KEY",
    "LITESTREAM_REPLICA_ENDPOINT",
    "LITESTREAM_REPLICA_REGION",
    "LITESTREAM_REPLICA_BUCKET",
    "LSINIT_PATH_PREFIX",
    "LSINIT_FORCE_PATH_STYLE",
    "LSINIT_SYNC_INTERVAL",
    "LSINIT_SFTP_PASSWORD",
    "LSINIT_SFTP_KEY_PATH",
    "LSINIT_SFTP_HOST_KEY",
    "LSINIT_RESTORE_TIMEOUT",
    "LSINIT_METRICS_ADDR",
    "LSINIT_SOCKET",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_BUCKET",
    "BUCKET_NAME",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "HOME",
};
#define ENV_COUNT (sizeof(ENV_NAMES) / sizeof(ENV_NAMES[0]))
static const char *const SECRET_NAMES[] = {"LITESTREAM_SECRET_ACCESS_KEY", "LSINIT_SFTP_PASSWORD",
                                           "AWS_SECRET_ACCESS_KEY"};

static int config_fd = -1;
static char config_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    config_fd = memfd_create("fuzz-litestream.yml", MFD_CLOEXEC);
    if (config_fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(config_path, sizeof(config_path), "/proc/self/fd/%d", config_fd);
    return 0;
}

/* Well-formed UTF-8 (what libyaml's emitter insists on). */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        if (*p < 0x80) {
            p++;
            continue;
        }
        /* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF */
        int more;
        unsigned char lo = 0x80, hi = 0xBF;
        if (*p >= 0xC2 && *p <= 0xDF)
            more = 1;
        else if (*p >= 0xE0 && *p <= 0xEF)
            more = 2, lo = *p == 0xE0 ? 0xA0 : 0x80, hi = *p == 0xED ? 0x9F : 0xBF;
        else if (*p >= 0xF0 && *p <= 0xF4)
            more = 3, lo = *p == 0xF0 ? 0x90 : 0x80, hi = *p == 0xF4 ? 0x8F : 0xBF;
        else
            return false;
        p++;
        if (*p < lo || *p > hi)
            return false;
        for (p++, more--; more > 0; more--, p++) {
            if ((*p & 0xC0) != 0x80)
                return false;
        }
    }
    return true;
}

/* Does any value of the tree equal secret, or carry it as a URL password (":SECRET@")? */
static bool holds_secret(const struct ynode *n, const char *secret)
{
    if (n == NULL)
        return false;
    if (n->kind == YNODE_SCALAR) {
        if (strcmp(n->value, secret) == 0)
            return true;
        const char *at = strstr(n->value, secret);
        return at != NULL && at > n->value && at[-1] == ':' && at[strlen(secret)] == '@';
    }
    for (size_t i = 0; i < n->count; i++) { /* values only: a secret may well spell a key name */
        if (holds_secret(n->items[n->kind == YNODE_MAP ? 2 * i + 1 : i], secret))
            return true;
    }
    return false;
}

/*
 * Known (docs/reliability.md): error messages quote the user's text (a value,
 * a YAML key) verbatim, line breaks included. With FUZZ_CONFIG_SKIP_KNOWN the
 * harness applies the proposed fix (control characters shown as '?') before
 * checking, to fuzz past it.
 */
static void known_sanitize(char *s)
{
#ifdef FUZZ_CONFIG_SKIP_KNOWN
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
    }
#else
    (void)s;
#endif
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s\n%s\n", what, detail != NULL ? detail : "");
    abort();
}

/*
 * A secret the plan cannot have derived from other input: 8+ characters of
 * letters, digits and -_+=!#%^*~ (no '/', '.', or anything YAML escapes, so no
 * path, file name or escaped config text can spell it).
 */
static bool distinctive(const char *secret)
{
    if (secret == NULL || strlen(secret) < 8)
        return false;
    for (const char *c = secret; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("-_+=!#%^*~", *c) != NULL))
            return false;
    }
    return true;
}

/* Is needle (len >= 1) anywhere in the other parts of the input? */
static bool appears_elsewhere(char **parts, size_t count, size_t self, const char *needle)
{
    for (size_t i = 0; i < count; i++) {
        if (i != self && parts[i] != NULL && strstr(parts[i], needle) != NULL)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    unsigned flags = data[0];
    char *buf = malloc(size); /* the parts, NUL-terminated in place */
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *parts[1 + ENV_COUNT];
    memset(parts, 0, sizeof(parts));
    size_t nparts = 0;
    for (char *p = buf; nparts < 1 + ENV_COUNT;) {
        parts[nparts++] = p;
        char *end = memchr(p, '\0', (size_t)(buf + size - 1 - p) + 1);
        if (end == NULL || end >= buf + size - 1)
            break;
        p = end + 1;
    }

    /* (a) the config text alone through the reader and the validator */
    const char *config_text = parts[0];
    size_t config_len = strlen(config_text);
    char err[1024];
    struct ls_version v03 = {0, 3, 13, "v0.3.13"}, v05 = {0, 5, 16, "v0.5.16"};
    const struct ls_version *ver = (flags & FLAG_V05) ? &v05 : &v03;
    struct ynode *direct = ynode_parse(config_text, config_len, err, sizeof(err));
    if (direct != NULL) {
        char why[1024] = "";
        /* (one line is checked where lsinit prints it: plan_build's error below) */
        if (ls_config_validate(direct, ver, "litestream.yml", why, sizeof(why)) != 0 && why[0] == '\0')
            fail("ls_config_validate failed without a reason", NULL);
        ynode_free(direct);
    } else if (err[0] == '\0') {
        fail("ynode_parse failed without a reason", NULL);
    }

    /* (b) the environment (and the config as the base) through plan_build */
    if (ftruncate(config_fd, 0) != 0 || pwrite(config_fd, config_text, config_len, 0) != (ssize_t)config_len)
        abort();
    char *envp[ENV_COUNT + 8];
    char *owned[ENV_COUNT + 8];
    size_t n = 0, owned_n = 0;
    envp[n++] = (char *)"PATH=/usr/bin:/bin";
    envp[n++] = (char *)"LSINIT_LITESTREAM=/bin/true";
    envp[n++] =
        (flags & FLAG_V05) ? (char *)"LSINIT_LITESTREAM_VERSION=0.5.16" : (char *)"LSINIT_LITESTREAM_VERSION=0.3.13";
    if (!(flags & FLAG_NO_CONFIG)) {
        char *e = NULL;
        if (asprintf(&e, "%s=%s", (flags & FLAG_LITESTREAM_CONFIG) ? "LITESTREAM_CONFIG" : "LSINIT_CONFIG",
                     config_path) < 0)
            abort();
        envp[n++] = owned[owned_n++] = e;
    }
    const char *values[ENV_COUNT];
    for (size_t i = 0; i < ENV_COUNT; i++) {
        const char *value = i + 1 < nparts ? parts[i + 1] : NULL;
        if (value != NULL && value[0] == '\0')
            value = NULL;
        if (value != NULL && strcmp(value, "\x7f") == 0)
            value = "";
        values[i] = value;
        if (value == NULL)
            continue;
        char *e = NULL;
        if (asprintf(&e, "%s=%s", ENV_NAMES[i], value) < 0)
            abort();
        envp[n++] = owned[owned_n++] = e;
    }
    envp[n] = NULL;

    sigset_t mask;
    sigemptyset(&mask);
    struct plan plan;
    err[0] = '\0';
    int rc = plan_build(&plan, envp, "/srv/app", &mask, err, sizeof(err));
    if (rc != 0) {
        if (err[0] == '\0')
            fail("plan_build failed with an empty error", NULL);
        known_sanitize(err);
        if (strchr(err, '\n') != NULL) {
            bool value_has_newline = false;
            for (size_t i = 0; i < ENV_COUNT; i++)
                value_has_newline = value_has_newline || (values[i] != NULL && strchr(values[i], '\n') != NULL);
            fail(value_has_newline ? "plan_build's error is more than one line: it echoes a variable's value "
                                     "with its newline"
                                   : "plan_build's error is more than one line",
                 err);
        }
    } else if (plan.enabled) {
        /* 0.5's directory mode (dir: + pattern:) names no database file */
        if (plan.db_count > PLAN_MAX_DBS)
            fail("a plan with too many databases", NULL);
#ifndef FUZZ_CONFIG_SKIP_KNOWN /* known (docs/reliability.md): a 0.3 database without path: is accepted */
        if (plan.db_count == 0 && !(flags & FLAG_V05))
            fail("a plan without databases: a 0.3 config database without path: was accepted (litestream 0.3 "
                 "replicates its working directory instead)",
                 NULL);
#endif
        const char *home = values[ENV_COUNT - 1];
        bool home_relative = home != NULL && home[0] != '/';
        for (size_t i = 0; i < plan.db_count; i++) {
#ifdef FUZZ_CONFIG_SKIP_KNOWN
            /* Known (docs/reliability.md): ~/ expands against a HOME that is not absolute. */
            if (home_relative)
                continue;
#endif
            if (plan.dbs[i].path[0] != '/')
                fail(home_relative ? "a relative database path in the plan (~/ expanded against a relative HOME)"
                                   : "a relative database path in the plan",
                     plan.dbs[i].path);
        }
        for (int redact = 0; redact <= 1; redact++) {
            char *text = plan_render(&plan, redact != 0);
            bool env_utf8 = true;
            for (size_t i = 0; i < ENV_COUNT; i++)
                env_utf8 = env_utf8 && (values[i] == NULL || utf8_ok(values[i]));
            if (text == NULL) {
#ifdef FUZZ_CONFIG_SKIP_KNOWN
                /* Known (docs/reliability.md): plan_build accepts values that are not UTF-8, which
                 * the YAML emitter then refuses; build with this to fuzz past it. */
                if (!env_utf8)
                    break;
#endif
                fail(
                    env_utf8
                        ? "plan_render returned NULL"
                        : "plan_build accepted an environment value that is not UTF-8, and the plan cannot be rendered "
                          "(lsinit would exit 71 'cannot render the litestream config' instead of 78 naming the variable)",
                    NULL);
            }
            char why[1024];
            struct ynode *back = ynode_parse(text, strlen(text), why, sizeof(why));
            if (back == NULL) {
#ifdef FUZZ_CONFIG_SKIP_KNOWN
                if (!env_utf8) {
                    free(text);
                    break;
                }
#endif
                fprintf(stderr, "%s\n", why);
                fail(env_utf8 ? "the rendered config does not parse back"
                              : "the rendered config does not parse back: plan_build accepted an environment value "
                                "that is not UTF-8 (litestream would reject the config: exit 70)",
                     text);
            }
            if (!redact && ls_config_validate(back, &plan.version, "rendered", why, sizeof(why)) != 0) {
                fprintf(stderr, "%s\n", why);
                fail("the rendered config fails lsinit's own validation", text);
            }
            if (redact && strchr(config_text, '$') == NULL) {
                for (size_t s = 0; s < sizeof(SECRET_NAMES) / sizeof(SECRET_NAMES[0]); s++) {
                    for (size_t i = 0; i < ENV_COUNT; i++) {
                        const char *secret = values[i];
                        if (strcmp(ENV_NAMES[i], SECRET_NAMES[s]) != 0 || !distinctive(secret) ||
                            appears_elsewhere(parts, nparts, i + 1, secret))
                            continue;
                        if (holds_secret(back, secret))
                            fail("a secret survives redaction", text);
                    }
                }
            }
            ynode_free(back);
            free(text);
        }
    }
    plan_free(&plan);
    for (size_t i = 0; i < owned_n; i++)
        free(owned[i]);
    free(buf);
    return 0;
}
