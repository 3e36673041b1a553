/* SPDX-License-Identifier: MIT */
#include "litestream.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "go_buildinfo.h"
#include "log.h"
#include "spawn.h"
#include "utf8.h"

#define LS_VERSION_TIMEOUT_MS 10000

int ls_version_parse(const char *text, struct ls_version *out)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == 'v')
        p++;
    int major = 0, minor = 0, patch = 0, used = 0;
    if (sscanf(p, "%d.%d.%d%n", &major, &minor, &patch, &used) != 3 || major < 0 || minor < 0 || patch < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->major = major;
    out->minor = minor;
    out->patch = patch;
    snprintf(out->text, sizeof(out->text), "v%d.%d.%d", major, minor, patch);
    return 0;
}

bool ls_version_at_least(const struct ls_version *v, int major, int minor, int patch)
{
    if (v->major != major)
        return v->major > major;
    if (v->minor != minor)
        return v->minor > minor;
    return v->patch >= patch;
}

bool ls_version_is_v05(const struct ls_version *v) { return ls_version_at_least(v, 0, 5, 0); }

int ls_version_check_supervised(const struct ls_version *v, char *err, size_t err_size)
{
    if (ls_version_is_v05(v) && !ls_version_at_least(v, 0, 5, 9)) {
        snprintf(err, err_size,
                 "litestream %s cannot be supervised safely: lsinit confirms the final sync with `litestream sync "
                 "-wait`, which Litestream has from 0.5.9 (0.5's replicate exits 0 even when its shutdown sync "
                 "failed); use 0.5.9 or later (0.5.17 is tested), or 0.3.13",
                 v->text);
        return -1;
    }
    return 0;
}

int ls_version_check_supported(const struct ls_version *v, char *err, size_t err_size)
{
    if (v->major == 0 && v->minor == 5 && v->patch == 0) {
        snprintf(err, err_size,
                 "litestream v0.5.0 is not supported: its restore drops -if-replica-exists and loses the TXID "
                 "(litestream #774, #781); use v0.5.1 or later, or v0.3.13");
        return -1;
    }
    if (v->major != 0 || v->minor < 3 || v->minor > 5) {
        snprintf(err, err_size, "litestream %s is not supported: lsinit runs Litestream 0.3.x and 0.5.x", v->text);
        return -1;
    }
    return 0;
}

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int ls_find_binary(const char *configured, const char *path_env, char *out, size_t size, char *err, size_t err_size)
{
    if (configured != NULL && configured[0] != '\0') {
        struct stat st;
        if (stat(configured, &st) != 0) {
            snprintf(err, err_size, "LSINIT_LITESTREAM=%s: no such file; point it at the litestream binary",
                     configured);
            return -1;
        }
        if (!S_ISREG(st.st_mode) || access(configured, X_OK) != 0) {
            snprintf(err, err_size, "LSINIT_LITESTREAM=%s is not an executable file; chmod +x it or fix the path",
                     configured);
            return -1;
        }
        snprintf(out, size, "%s", configured);
        return 0;
    }
    if (path_env != NULL) {
        const char *p = path_env;
        while (*p != '\0') {
            const char *colon = strchr(p, ':');
            size_t len = colon != NULL ? (size_t)(colon - p) : strlen(p);
            if (len > 0 && len + sizeof("/litestream") < size) {
                snprintf(out, size, "%.*s/litestream", (int)len, p);
                if (is_executable_file(out))
                    return 0;
            }
            if (colon == NULL)
                break;
            p = colon + 1;
        }
    }
    if (is_executable_file("/usr/local/bin/litestream")) {
        snprintf(out, size, "/usr/local/bin/litestream");
        return 0;
    }
    snprintf(err, err_size,
             "litestream not found on PATH or at /usr/local/bin/litestream: install it (lsinit install-litestream) or "
             "set LSINIT_LITESTREAM");
    return -1;
}

/* The e_machine of the binaries this machine runs (0: unknown here, never trusted). */
#if defined(__x86_64__)
#define HOST_ELF_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_ELF_MACHINE EM_AARCH64
#elif defined(__i386__)
#define HOST_ELF_MACHINE EM_386
#elif defined(__arm__)
#define HOST_ELF_MACHINE EM_ARM
#elif defined(__riscv)
#define HOST_ELF_MACHINE EM_RISCV
#elif defined(__s390x__)
#define HOST_ELF_MACHINE EM_S390
#elif defined(__powerpc64__)
#define HOST_ELF_MACHINE EM_PPC64
#else
#define HOST_ELF_MACHINE 0
#endif

/*
 * Release builds of Litestream set their version with -ldflags "-X
 * main.Version=...", which Go (1.18+) records in the binary's build info:
 * reading it takes microseconds where `litestream version` starts a whole Go
 * process. 0 with out set, or -1 when the build info cannot tell (no build
 * info, a development build, another machine's binary): the caller runs it.
 */
static int version_from_buildinfo(const char *binary, struct ls_version *out)
{
    struct go_buildinfo bi;
    char why[256], value[64];
    if (go_buildinfo_read(binary, &bi, why, sizeof(why)) != 0) {
        log_debug("%s: no version from its Go build info (%s); running `%s version`", binary, why, binary);
        return -1;
    }
    unsigned machine = bi.elf_machine;
    bool here = HOST_ELF_MACHINE != 0 && machine == HOST_ELF_MACHINE &&
                bi.big_endian == (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
    int rc = go_buildinfo_ldflags_x(bi.mod, "main.Version", value, sizeof(value));
    go_buildinfo_free(&bi);
    if (!here) {
        /* `litestream version` then fails with the message that names the problem. */
        log_debug("%s is not an ELF file for this machine (e_machine %u); running `%s version`", binary, machine,
                  binary);
        return -1;
    }
    if (rc != 0) {
        log_debug("%s: its Go build info %s main.Version; running `%s version`", binary,
                  rc > 0 ? "sets no" : "has an -ldflags setting lsinit cannot read for", binary);
        return -1;
    }
    if (ls_version_parse(value, out) != 0) {
        log_debug("%s: its Go build info sets main.Version=%s, not a release version; running `%s version`", binary,
                  value, binary);
        return -1;
    }
    log_debug("%s: litestream %s, read from its Go build info (-X main.Version=%s) without running it", binary,
              out->text, value);
    return 0;
}

int ls_detect_version(const char *binary, const sigset_t *child_mask, struct ls_version *out, char *err,
                      size_t err_size)
{
    if (version_from_buildinfo(binary, out) == 0)
        return 0;
    char buf[256] = "";
    char *const argv[] = {(char *)binary, (char *)"version", NULL};
    /* A litestream that hangs must not hang PID 1 before its loop. */
    const struct spawn_capture run = {
        .argv = argv,
        .child_mask = child_mask,
        .timeout_ms = LS_VERSION_TIMEOUT_MS,
        .out = buf,
        .out_size = sizeof(buf),
    };
    struct spawn_result res;
    if (spawn_capture(&run, &res) != 0 && res.exec_errno == 0) {
        snprintf(err, err_size, "cannot run %s: %s", binary, strerror(errno));
        return -1;
    }
    if (res.timed_out) {
        snprintf(err, err_size, "%s version did not answer within %d s; set LSINIT_LITESTREAM_VERSION to skip it",
                 binary, LS_VERSION_TIMEOUT_MS / 1000);
        return -1;
    }
    int code = res.exec_errno != 0 ? spawn_exit_code_for_errno(res.exec_errno) : spawn_status_code(res.status);
    if (code != 0) {
        snprintf(err, err_size, "%s version failed (exit %d): is it a litestream binary for this machine?", binary,
                 code);
        return -1;
    }
    char *nl = strchr(buf, '\n');
    if (nl != NULL)
        *nl = '\0';
    if (strstr(buf, "development build") != NULL) {
        snprintf(err, err_size,
                 "%s is a development build of Litestream ('%.60s'), which does not say which release it is; set "
                 "LSINIT_LITESTREAM_VERSION to the release it was built from (e.g. 0.5.17)",
                 binary, buf);
        return -1;
    }
    if (ls_version_parse(buf, out) != 0) {
        snprintf(err, err_size,
                 "%s version printed '%.40s', not a version number; set LSINIT_LITESTREAM_VERSION (e.g. 0.3.13)",
                 binary, buf);
        return -1;
    }
    return 0;
}

size_t ls_shell_quote(char *const *argv, char *out, size_t size)
{
    size_t used = 0;
    /* go-shellwords walks the string by rune: invalid UTF-8 would reach the
     * app as U+FFFD. Refuse rather than change the app's argv. */
    for (size_t i = 0; argv[i] != NULL; i++) {
        if (!utf8_valid(argv[i]))
            return 0;
    }
    for (size_t i = 0; argv[i] != NULL; i++) {
        const char *parts[3];
        if (i > 0) {
            if (used + 1 >= size)
                return 0;
            out[used++] = ' ';
        }
        if (used + 1 >= size)
            return 0;
        out[used++] = '\'';
        for (const char *c = argv[i]; *c != '\0'; c++) {
            if (*c == '\'') {
                /* close the quote, an escaped quote, reopen: '\'' */
                parts[0] = "'\\''";
                size_t n = strlen(parts[0]);
                if (used + n >= size)
                    return 0;
                memcpy(out + used, parts[0], n);
                used += n;
            } else {
                if (used + 1 >= size)
                    return 0;
                out[used++] = *c;
            }
        }
        if (used + 1 >= size)
            return 0;
        out[used++] = '\'';
    }
    if (used >= size)
        return 0;
    out[used] = '\0';
    return used;
}

/* ---- command and flag tables ---------------------------------------- */

enum ls_since { V03 = 1, V05 = 2, BOTH = 3 };

struct ls_flag {
    const char *name;
    bool takes_value;
    enum ls_since versions;
    int since05; /* on 0.5: the first 0.5.N that has it (0: every 0.5) */
};

struct ls_command_def {
    const char *name;
    enum ls_since versions;
    bool uses_config; /* takes -config/-no-expand-env */
    bool uses_socket; /* takes -socket (0.5 control socket) */
    int positional_min;
    int positional_max;
    const struct ls_flag *flags;
    const char *instead; /* what to use on the other version */
    int since05;         /* on 0.5: the first 0.5.N that has it (0: every 0.5) */
};

static const struct ls_flag restore_flags[] = {
    {"o", true, BOTH, 0},
    {"replica", true, V03, 0},
    {"generation", true, V03, 0},
    {"index", true, V03, 0},
    {"txid", true, V05, 0},
    {"timestamp", true, BOTH, 0},
    {"parallelism", true, BOTH, 0},
    {"if-db-not-exists", false, BOTH, 0},
    {"if-replica-exists", false, BOTH, 0},
    {"f", false, V05, 9},
    {"follow-interval", true, V05, 9},
    {"dry-run", false, V05, 12},
    {"force", false, V05, 12},
    {"integrity-check", true, V05, 10},
    {"json", false, V05, 12},
    {NULL, false, 0, 0},
};
static const struct ls_flag databases_flags[] = {{"json", false, V05, 12}, {NULL, false, 0, 0}};
static const struct ls_flag generations_flags[] = {{"replica", true, V03, 0}, {NULL, false, 0, 0}};
static const struct ls_flag wal_flags[] = {
    {"replica", true, V03, 0}, {"generation", true, V03, 0}, {NULL, false, 0, 0}};
static const struct ls_flag ltx_flags[] = {{"level", true, V05, 8}, {"json", false, V05, 12}, {NULL, false, 0, 0}};
static const struct ls_flag status_flags[] = {{"json", false, V05, 12}, {NULL, false, 0, 0}};
static const struct ls_flag sync_flags[] = {
    {"timeout", true, V05, 0}, {"wait", false, V05, 0}, {"json", false, V05, 12}, {NULL, false, 0, 0}};
static const struct ls_flag reset_flags[] = {{"dry-run", false, V05, 12}, {NULL, false, 0, 0}};
static const struct ls_flag no_flags[] = {{NULL, false, 0, 0}};

static const struct ls_command_def ls_commands[] = {
    {"databases", BOTH, true, false, 0, 0, databases_flags, NULL, 0},
    {"restore", BOTH, true, false, 1, 1, restore_flags, NULL, 0},
    {"generations", V03, true, false, 1, 1, generations_flags, "lsinit ltx", 0},
    {"snapshots", V03, true, false, 1, 1, generations_flags, "lsinit ltx -level 9", 0},
    {"wal", V03, true, false, 1, 1, wal_flags, "lsinit ltx", 0},
    {"ltx", V05, true, false, 1, 1, ltx_flags, "lsinit generations, snapshots or wal", 0},
    {"status", V05, true, false, 0, 1, status_flags, "lsinit generations", 6},
    {"sync", V05, false, true, 1, 1, sync_flags,
     "nothing: 0.3 syncs continuously; stop the container to force a final sync", 9},
    {"reset", V05, true, false, 1, 1, reset_flags, "nothing: 0.3 has no reset command", 7},
    {"version", BOTH, false, false, 0, 0, no_flags, NULL, 0},
};

static const struct ls_command_def *ls_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof(ls_commands) / sizeof(ls_commands[0]); i++) {
        if (strcmp(ls_commands[i].name, name) == 0)
            return &ls_commands[i];
    }
    return NULL;
}

bool ls_is_subcommand(const char *name) { return ls_command_find(name) != NULL; }

static enum ls_since version_bit(const struct ls_version *v) { return ls_version_is_v05(v) ? V05 : V03; }

/* "-o", "--o", "-o=x" → "o" (into buf), and whether a value was attached. */
static const char *flag_name(const char *arg, char *buf, size_t size, bool *has_value)
{
    const char *p = arg + 1;
    if (*p == '-')
        p++;
    const char *eq = strchr(p, '=');
    size_t len = eq != NULL ? (size_t)(eq - p) : strlen(p);
    if (len >= size)
        len = size - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    *has_value = eq != NULL;
    return buf;
}

static const struct ls_flag *flag_find(const struct ls_flag *flags, const char *name)
{
    for (const struct ls_flag *f = flags; f->name != NULL; f++) {
        if (strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

int ls_find_positional(const struct ls_version *v, const char *command, char **user_args, int user_argc)
{
    const struct ls_command_def *def = ls_command_find(command);
    (void)v;
    for (int i = 0; i < user_argc; i++) {
        const char *arg = user_args[i];
        if (arg[0] == '-' && arg[1] != '\0') {
            char name[64];
            bool has_value = false;
            flag_name(arg, name, sizeof(name), &has_value);
            const struct ls_flag *f = def != NULL ? flag_find(def->flags, name) : NULL;
            if (f != NULL && f->takes_value && !has_value)
                i++;
            continue;
        }
        return i;
    }
    return -1;
}

int ls_subcommand_argv(const struct ls_version *v, const char *binary, const char *config_path, const char *socket_path,
                       const char *command, char **user_args, int user_argc, const char **out, size_t out_max,
                       char *err, size_t err_size)
{
    const struct ls_command_def *def = ls_command_find(command);
    if (def == NULL) {
        snprintf(err, err_size, "unknown command '%s': see lsinit --help", command);
        return -1;
    }
    enum ls_since mine = version_bit(v);
    if ((def->versions & mine) == 0) {
        snprintf(err, err_size, "'%s' needs Litestream %s; this litestream is %s: use %s", command,
                 def->versions == V03 ? "0.3.x" : "0.5.x", v->text,
                 def->instead != NULL ? def->instead : "another command");
        return -1;
    }
    if (mine == V05 && !ls_version_at_least(v, 0, 5, def->since05)) {
        snprintf(err, err_size, "'%s' needs Litestream 0.5.%d or later; this litestream is %s", command, def->since05,
                 v->text);
        return -1;
    }
    size_t n = 0;
    if ((size_t)user_argc + 8 > out_max) {
        snprintf(err, err_size, "too many arguments for '%s'", command);
        return -1;
    }
    out[n++] = binary;
    out[n++] = command;
    if (def->uses_config && config_path != NULL) {
        out[n++] = "-config";
        out[n++] = config_path;
        out[n++] = "-no-expand-env";
    }
    if (def->uses_socket && socket_path != NULL) {
        out[n++] = "-socket";
        out[n++] = socket_path;
    }
    int positional = 0;
    const char *positional_args[2] = {NULL, NULL};
    for (int i = 0; i < user_argc; i++) {
        const char *arg = user_args[i];
        if (arg[0] == '-' && arg[1] != '\0') {
            char name[64];
            bool has_value = false;
            flag_name(arg, name, sizeof(name), &has_value);
            if (strcmp(name, "config") == 0 || strcmp(name, "no-expand-env") == 0 || strcmp(name, "socket") == 0) {
                snprintf(err, err_size, "%s: lsinit supplies the configuration itself; set LSINIT_CONFIG instead", arg);
                return -1;
            }
            const struct ls_flag *f = flag_find(def->flags, name);
            if (f == NULL) {
                snprintf(err, err_size, "'%s' has no flag %s", command, arg);
                return -1;
            }
            if ((f->versions & mine) == 0) {
                snprintf(err, err_size, "%s %s needs Litestream %s; this litestream is %s", command, arg,
                         f->versions == V03 ? "0.3.x" : "0.5.x", v->text);
                return -1;
            }
            if (mine == V05 && !ls_version_at_least(v, 0, 5, f->since05)) {
                snprintf(err, err_size, "%s %s needs Litestream 0.5.%d or later; this litestream is %s", command, arg,
                         f->since05, v->text);
                return -1;
            }
            out[n++] = arg;
            if (f->takes_value && !has_value) {
                if (i + 1 >= user_argc) {
                    snprintf(err, err_size, "%s %s needs a value", command, arg);
                    return -1;
                }
                out[n++] = user_args[++i];
            }
            continue;
        }
        positional++;
        if (positional > def->positional_max) {
            snprintf(err, err_size, "'%s' takes at most %d database argument%s; got '%s' too", command,
                     def->positional_max, def->positional_max == 1 ? "" : "s", arg);
            return -1;
        }
        positional_args[positional - 1] = arg;
    }
    if (positional < def->positional_min) {
        snprintf(err, err_size, "'%s' needs a database: its path or file name (see lsinit databases)", command);
        return -1;
    }
    /* Go's flag package stops at the first positional: flags go first. */
    for (int i = 0; i < positional; i++)
        out[n++] = positional_args[i];
    out[n] = NULL;
    return (int)n;
}

/* BINARY COMMAND -config C -no-expand-env: how every command lsinit runs itself begins. */
static size_t argv_head(const char **out, const char *binary, const char *command, const char *config_path)
{
    out[0] = binary;
    out[1] = command;
    out[2] = "-config";
    out[3] = config_path;
    out[4] = "-no-expand-env";
    return 5;
}

size_t ls_restore_argv(const struct ls_version *v, const char *binary, const char *config_path, const char *db,
                       const char *output, const char *check, const char **out)
{
    size_t n = argv_head(out, binary, "restore", config_path);
    if (output != NULL) {
        out[n++] = "-o";
        out[n++] = output;
    } else {
        out[n++] = "-if-replica-exists";
    }
    if (check != NULL && ls_version_at_least(v, 0, 5, 10)) {
        out[n++] = "-integrity-check";
        out[n++] = check;
    }
    out[n++] = db;
    out[n] = NULL;
    return n;
}

size_t ls_follow_argv(const char *binary, const char *config_path, const char *db, const char *output,
                      const char *interval, const char **out)
{
    size_t n = argv_head(out, binary, "restore", config_path);
    out[n++] = "-f";
    if (interval != NULL) {
        out[n++] = "-follow-interval";
        out[n++] = interval;
    }
    out[n++] = "-o";
    out[n++] = output;
    out[n++] = db;
    out[n] = NULL;
    return n;
}

size_t ls_sync_wait_argv(const char *binary, const char *socket_path, const char *timeout_s, const char *db,
                         const char **out)
{
    size_t n = 0;
    out[n++] = binary;
    out[n++] = "sync";
    out[n++] = "-socket";
    out[n++] = socket_path;
    out[n++] = "-wait";
    out[n++] = "-timeout";
    out[n++] = timeout_s;
    out[n++] = db;
    out[n] = NULL;
    return n;
}

size_t ls_replicate_argv(const char *binary, const char *config_path, bool once, const char *exec, const char **out)
{
    size_t n = argv_head(out, binary, "replicate", config_path);
    if (once)
        out[n++] = "-once";
    if (exec != NULL) {
        out[n++] = "-exec";
        out[n++] = exec;
    }
    out[n] = NULL;
    return n;
}
