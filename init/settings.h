/* SPDX-License-Identifier: MIT */
/*
 * Command line flags and LSINIT_* environment variables, folded into one
 * validated struct before the supervisor starts. Flags win over variables.
 * Nothing here reads the process environment directly: the caller passes
 * envp, so tests can feed any environment they like.
 */
#ifndef LSINIT_SETTINGS_H
#define LSINIT_SETTINGS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"

#define SETTINGS_SIGNAL_SLOTS 65 /* 1..64 (SIGRTMAX on Linux); slot 0 unused */
#define SETTINGS_DEFAULT_GRACE_MS 8000
#define SETTINGS_DEFAULT_STRAGGLER_MS 2000
#define SETTINGS_ERROR_SIZE 512
#define SETTINGS_DEFAULT_VERIFY_INTERVAL_MS 3600000
#define SETTINGS_DEFAULT_VERIFY_CATCHUP_TIMEOUT_MS 60000
#define SETTINGS_DEFAULT_VERIFY_TIMEOUT_MS ((int64_t)30 * 60000)
#define SETTINGS_DEFAULT_HEALTH_ADDR "0.0.0.0:9091"
#define SETTINGS_DEFAULT_VERIFY_FULL_INTERVAL_MS ((int64_t)24 * 3600000)
#define SETTINGS_DEFAULT_VERIFY_CHECK_INTERVAL_MS ((int64_t)6 * 3600000)
/* Follow mode: the follower's poll of the replica. Litestream's 1s lists the replica 86,400-780,000 times
 * a day per database (LIST requests on an object store); 10s is a tenth of that and adds at most 10s to
 * a cycle, which waits for the follower's next poll. */
#define SETTINGS_DEFAULT_VERIFY_FOLLOW_INTERVAL_MS 10000

/* LSINIT_VERIFY_MODE: follow (a follower copy, Litestream 0.5.9+), full (a whole restore each cycle). */
enum verify_mode { VERIFY_MODE_AUTO, VERIFY_MODE_FOLLOW, VERIFY_MODE_FULL };
/* primary: restore, replicate, the app writes (the default); follower: a read-only copy that follows the
 * replica (restore -f), the app reads it; standby: a follower that becomes the primary when the lease
 * expires. */
enum lsinit_role { ROLE_PRIMARY, ROLE_FOLLOWER, ROLE_STANDBY };
#define SETTINGS_DEFAULT_FOLLOW_MAX_LAG_MS 10000
#define SETTINGS_DEFAULT_FOLLOW_INTERVAL_MS 1000

struct settings {
    char **command;                     /* the app's argv (NULL-terminated) */
    int64_t grace_ms;                   /* TERM/INT → SIGKILL deadline */
    int64_t straggler_ms;               /* after the main child exits: TERM → KILL */
    unsigned char remap_exit[32];       /* bit N set: exit code N becomes 0 */
    int rewrite[SETTINGS_SIGNAL_SLOTS]; /* signal → signal to send (0 = drop) */
    bool kill_group;                    /* forward to the child's process group */
    enum log_level log_level;
    char health_addr[128];             /* "" = default for the mode; "off" = none */
    int64_t verify_interval_ms;        /* 0 = off */
    int64_t verify_catchup_timeout_ms; /* LSINIT_VERIFY_CATCHUP_TIMEOUT: wait for the replica */
    int64_t verify_timeout_ms;         /* LSINIT_VERIFY_TIMEOUT: one verification restore */
    char verify_dir[256];              /* temporary copies (LSINIT_VERIFY_DIR, TMPDIR, /tmp) */
    enum verify_mode verify_mode;      /* LSINIT_VERIFY_MODE (auto: follow where the version has it) */
    int64_t verify_full_interval_ms;   /* follow mode: a from-scratch restore this often */
    int64_t verify_check_interval_ms;  /* follow mode: quick_check of the follower copy this often */
    int64_t verify_follow_interval_ms; /* follow mode: the follower polls the replica this often */
    enum lsinit_role role;             /* LSINIT_ROLE */
    int64_t follow_max_lag_ms;         /* LSINIT_FOLLOW_MAX_LAG: /readyz is 503 at this lag or more */
    int64_t follow_interval_ms;        /* LSINIT_FOLLOW_INTERVAL: the follow process polls the replica */
    bool show_help;
    bool show_version;
};

/*
 * Fills *out from argv (after argv[0]) and envp. Returns 0 on success.
 * On failure returns the exit code to use (EXIT_USAGE for flags,
 * EXIT_CONFIG for variables) and writes one line into err naming the flag or
 * variable and what to do.
 */
int settings_load(struct settings *out, int argc, char **argv, char *const *envp, char *err, unsigned long err_size);

/*
 * Only the verification settings (verify_*): every LSINIT_VERIFY_* variable
 * and TMPDIR, with their defaults. settings_load calls it; `lsinit verify`
 * and the verification child call it alone, so each variable is parsed in
 * this one place with one strictness. Returns 0, or EXIT_CONFIG with one
 * line in err naming the variable.
 */
int settings_load_verify(struct settings *out, char *const *envp, char *err, unsigned long err_size);

/* Returns the value of NAME in envp, or NULL. An empty value counts as set. */
const char *env_lookup(char *const *envp, const char *name);

/* Applies -e remapping to an exit code. */
int settings_remap_exit(const struct settings *s, int code);

/* The signal to actually send for a received one (0 = drop it). */
int settings_route_signal(const struct settings *s, int sig);

void settings_print_help(void);

#endif
