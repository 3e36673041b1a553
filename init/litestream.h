/* SPDX-License-Identifier: MIT */
/*
 * The litestream binary: where it is, which version it is, and how each
 * command and flag is spelled on Litestream 0.3.x and 0.5.x. The 0.5 forms
 * follow Litestream's documentation and source (no 0.5 binary is available
 * to our tests); tests/unit/test_litestream.c pins the mapping.
 */
#ifndef LSINIT_LITESTREAM_H
#define LSINIT_LITESTREAM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct ls_version {
    int major;
    int minor;
    int patch;
    char text[40]; /* as litestream printed it, e.g. "v0.3.13" */
};

#define LS_ARGV_MAX 64

int ls_version_parse(const char *text, struct ls_version *out);
/* 0.5 and later use `replica:`, `gs://`, LTX commands and the control socket. */
bool ls_version_is_v05(const struct ls_version *v);
bool ls_version_at_least(const struct ls_version *v, int major, int minor, int patch);
/* Refuses versions lsinit cannot run safely (0.5.0, unknown majors). */
/* Refuses versions lsinit cannot supervise (replicate + final-sync check): 0.5 before 0.5.9. */
int ls_version_check_supervised(const struct ls_version *v, char *err, size_t err_size);
int ls_version_check_supported(const struct ls_version *v, char *err, size_t err_size);

/*
 * Finds the binary: the configured path if given (LSINIT_LITESTREAM), else
 * "litestream" on PATH, else /usr/local/bin/litestream. Returns 0, or -1
 * with one line in err.
 */
int ls_find_binary(const char *configured, const char *path_env, char *out, size_t size, char *err, size_t err_size);

/* Reads the version from the binary's Go build info (-X main.Version), or else runs `litestream version`. */
int ls_detect_version(const char *binary, const sigset_t *child_mask, struct ls_version *out, char *err,
                      size_t err_size);

/*
 * Quotes argv for Litestream's -exec (go-shellwords): every argument in
 * single quotes, an embedded ' written as '\''. Returns the length, or 0
 * when out is too small or an argument is not valid UTF-8 (Go would turn
 * each invalid byte into U+FFFD).
 */
size_t ls_shell_quote(char *const *argv, char *out, size_t size);

/*
 * Builds the argv of a user-facing subcommand (databases, restore,
 * generations, snapshots, wal, ltx, status, sync, reset) for the detected
 * version. user_args are the user's flags and at most one positional
 * argument, already resolved to a database path. Returns the argc, or -1
 * with one line in err naming the command or flag and the version.
 */
int ls_subcommand_argv(const struct ls_version *v, const char *binary, const char *config_path, const char *socket_path,
                       const char *command, char **user_args, int user_argc, const char **out, size_t out_max,
                       char *err, size_t err_size);

/* True when the command exists in lsinit's mirror of Litestream's set. */
bool ls_is_subcommand(const char *name);

/* Index of the positional argument in user_args (after flags and their values), or -1. */
int ls_find_positional(const struct ls_version *v, const char *command, char **user_args, int user_argc);

/*
 * The argv of the commands lsinit runs itself (restore on boot, replicate,
 * verification's restore), in one place. Each fills out (room for
 * LS_ARGV_MAX) and returns the argc.
 */
/*
 * restore -config C -no-expand-env [-o OUTPUT | -if-replica-exists] [-integrity-check CHECK (0.5.10+)] DB.
 * output NULL: in place, only if the replica has a backup (restore on boot).
 */
size_t ls_restore_argv(const struct ls_version *v, const char *binary, const char *config_path, const char *db,
                       const char *output, const char *check, const char **out);
/* restore -config C -no-expand-env -f [-follow-interval INTERVAL] -o OUTPUT DB (follow mode, 0.5.9+);
 * INTERVAL is a Go duration ("10000ms"), NULL for Litestream's default (1s). */
size_t ls_follow_argv(const char *binary, const char *config_path, const char *db, const char *output,
                      const char *interval, const char **out);
/* sync -socket S -wait -timeout SECONDS DB (0.5.9+) */
size_t ls_sync_wait_argv(const char *binary, const char *socket_path, const char *timeout_s, const char *db,
                         const char **out);
/* replicate -config C -no-expand-env [-once] [-exec EXEC] */
size_t ls_replicate_argv(const char *binary, const char *config_path, bool once, const char *exec, const char **out);

#endif
