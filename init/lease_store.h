/* SPDX-License-Identifier: MIT */
/*
 * Where a lease lives and the four things done to it: read, conditional
 * write, conditional delete, and (S3) the check that the store honours
 * conditions at all; plus, for the boot check beside it (restore.c), the
 * newest transaction an S3 replica holds. Blocking I/O (libcurl, flock): the
 * lease keeper child (lease_keeper.c), `lsinit lease`, and PID 1 once at boot
 * before its loop serves anything else (like the restores it may start).
 */
#ifndef LSINIT_LEASE_STORE_H
#define LSINIT_LEASE_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "lease.h"

struct ynode;

enum lease_kind { LEASE_NONE, LEASE_S3, LEASE_FILE };

struct lease_store {
    enum lease_kind kind;
    char where[PATH_MAX + 64]; /* for messages: s3://bucket/path/lock.json, file:///dir/lock.json */
    /* S3 */
    char url[PATH_MAX + 256]; /* the object's URL */
    char base[PATH_MAX];      /* the bucket's URL, ending in '/' */
    char prefix[PATH_MAX];    /* the replica's path in the bucket, no leading or trailing '/' ("" at the root) */
    char sigv4[96];           /* "aws:amz:<region>:s3" */
    char userpwd[512];        /* key:secret (never logged) */
    char token_header[2200];  /* "x-amz-security-token: ..." or "" */
    char endpoint[256];
    long timeout_ms;
    /* file */
    char dir[PATH_MAX];
    char path[PATH_MAX + 16];
};

/* Results of a conditional write or delete. */
enum lease_put { LEASE_PUT_OK = 0, LEASE_PUT_CONFLICT = 1, LEASE_PUT_ERROR = -1 };

/*
 * The lease store of a database's replica (its config map). Returns 0; 1 when
 * the replica kind has no lease (kind_name says which); -1 with why set when
 * the replica cannot carry one (no bucket, no credentials).
 */
int lease_store_init(struct lease_store *s, const struct ynode *replica, long timeout_ms, const char **kind_name,
                     char *why, size_t why_size);

int lease_store_read(struct lease_store *s, struct lease_obs *out, char *why, size_t why_size);
/* if_match NULL: create only if absent. On success the new etag is in etag_out. */
enum lease_put lease_store_write(struct lease_store *s, const struct lease_record *r, const char *if_match,
                                 char *etag_out, size_t etag_size, char *why, size_t why_size);
/* if_match NULL: delete whatever is there (lsinit lease --break). Absent counts as done. */
enum lease_put lease_store_delete(struct lease_store *s, const char *if_match, char *why, size_t why_size);
/* S3: 0 when a conditional create of an existing key is refused, 1 when the store accepts it, -1 error. */
int lease_store_check_conditions(struct lease_store *s, char *why, size_t why_size);
/*
 * S3 (Litestream 0.5's layout): the highest TXID named by an object <path>/<level %04x>/<min>-<max>.ltx,
 * every level, every page of ListObjectsV2 under <path>/; 0 when there is none. What `litestream ltx -level all` lists,
 * without starting Litestream. 0; -1 the store could not be reached (a transport error, a 5xx); -2 it
 * answered with something else than a listing (a 4xx: a refused signature, no permission). why is set.
 */
int lease_store_s3_ltx_newest(struct lease_store *s, unsigned long long *newest, char *why, size_t why_size);

#endif
