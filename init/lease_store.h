/* SPDX-License-Identifier: MIT */
/*
 * Where a lease lives and the four things done to it: read, conditional
 * write, conditional delete, and (S3) the check that the store honours
 * conditions at all. Blocking I/O (libcurl, flock): only the lease keeper
 * child (lease_keeper.c) and `lsinit lease` call it, never PID 1's loop.
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

#endif
