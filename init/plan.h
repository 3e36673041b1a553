/* SPDX-License-Identifier: MIT */
/*
 * Environment (+ an optional base litestream.yml) → one validated plan:
 * which databases, which litestream binary and version, and the exact
 * configuration litestream will read. Data flows one way: settings → plan →
 * supervisor; nothing after this point reads the environment.
 */
#ifndef LSINIT_PLAN_H
#define LSINIT_PLAN_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "litestream.h"
#include "yaml_tree.h"

#define PLAN_MAX_DBS 32
#define PLAN_DEFAULT_RESTORE_TIMEOUT_MS 120000

struct plan_db {
    char path[PATH_MAX]; /* absolute */
};

struct plan {
    bool enabled; /* false: no database configured, plain init */
    struct plan_db dbs[PLAN_MAX_DBS];
    size_t db_count;
    char litestream[PATH_MAX];
    struct ls_version version;
    struct ynode *config;         /* what litestream reads */
    char config_source[PATH_MAX]; /* the user's base config, or "" */
    char metrics_addr[128];       /* host:port of litestream's metrics, for lsinit's own reads */
    char socket_path[PATH_MAX];   /* 0.5 control socket */
    int64_t restore_timeout_ms;
    bool lease;                           /* at least one database's replica carries a lease (lease.h) */
    bool lease_db[PLAN_MAX_DBS];          /* which ones */
    bool lease_forced;                    /* LSINIT_LEASE=on: a store that cannot hold one is refused */
    int64_t lease_ttl_ms;                 /* LSINIT_LEASE_TTL */
    int64_t lease_wait_ms;                /* LSINIT_LEASE_WAIT */
    bool takeover;                        /* LSINIT_TAKEOVER_TXID: a standby became this primary */
    uint64_t takeover_txid[PLAN_MAX_DBS]; /* ... and its copies held these transactions */
    int config_fd;                        /* memfd holding the rendered config, -1 before */
    char config_path[64];                 /* /proc/<pid>/fd/<n>: litestream's -config */
};

/*
 * Builds the plan from envp. cwd resolves relative database paths.
 * Returns 0 (check plan->enabled) or an exit code with one line in err.
 */
int plan_build(struct plan *plan, char *const *envp, const char *cwd, const sigset_t *child_mask, char *err,
               size_t err_size);

/* Renders the config into a sealed memfd readable as plan->config_path. */
int plan_write_config(struct plan *plan, char *err, size_t err_size);

/* LSINIT_ROLE=follower|standby (role names it): databases, a replica, and a Litestream with follow mode
 * (0.5.9+). 0, or EXIT_CONFIG with one line in err. */
int plan_check_follower_role(const struct plan *plan, const char *role, char *err, size_t err_size);

/* The YAML, secrets redacted (for `lsinit config`). Returns malloc'ed text. */
char *plan_render(const struct plan *plan, bool redact);

/* Resolves a database argument (path or file name) to its configured path. */
const char *plan_find_db(const struct plan *plan, const char *arg, const char *cwd);

/* The replica map (`replica:`, or the first of `replicas:`) of the database at db_path in config, or NULL. */
const struct ynode *plan_replica_of(const struct ynode *config, const char *db_path);

void plan_free(struct plan *plan);

#endif
