/* SPDX-License-Identifier: MIT */
#include "cmd_lease.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "exit_codes.h"
#include "lease.h"
#include "lease_store.h"
#include "log.h"
#include "plan.h"

int cmd_lease_main(int argc, char **argv, const struct plan *plan)
{
    bool brk = false, yes = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--break") == 0 || strcmp(argv[i], "-break") == 0)
            brk = true;
        else if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-yes") == 0)
            yes = true;
        else {
            log_error("lease: unknown argument '%s': use lsinit lease [--break --yes]", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (brk && !yes) {
        log_error("lease --break deletes the replica's lease so another instance can take it at once; if the holder "
                  "still runs, two instances will write one replica. Check that it is gone, then add --yes");
        return EXIT_USAGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 0;
    for (size_t i = 0; i < plan->db_count; i++) {
        const char *db = plan->dbs[i].path;
        const char *kind = "?";
        char why[600];
        struct lease_store s;
        int init = lease_store_init(&s, plan_replica_of(plan->config, db), 10000, &kind, why, sizeof(why));
        if (init == 1) {
            printf("%s: no lease (%s replicas have none)\n", db, kind);
            continue;
        }
        if (init < 0) {
            log_error("%s: %s", db, why);
            rc = EXIT_CONFIG;
            continue;
        }
        if (brk) {
            if (lease_store_delete(&s, NULL, why, sizeof(why)) != LEASE_PUT_OK) {
                log_error("%s: cannot delete %s: %s", db, s.where, why);
                rc = EXIT_RESTORE;
                continue;
            }
            printf("%s: %s deleted\n", db, s.where);
            continue;
        }
        struct lease_obs o;
        int r = lease_store_read(&s, &o, why, sizeof(why));
        if (r == -2) {
            printf("%s: %s is not a lease (%s)\n", db, s.where, why);
            rc = EXIT_CONFIG;
        } else if (r != 0) {
            log_error("%s: cannot read %s: %s", db, s.where, why);
            rc = EXIT_RESTORE;
        } else if (!o.exists) {
            printf("%s: free (%s)\n", db, s.where);
        } else {
            char who[400];
            lease_describe(&o.rec, who, sizeof(who));
            printf("%s: held by %s, generation %lld (%s)%s\n", db, who, o.rec.generation, s.where,
                   lease_is_stale(&o, 0, plan->lease_ttl_ms) ? "; stale: not renewed within the TTL" : "");
        }
    }
    return rc;
}
