/* SPDX-License-Identifier: MIT */
/*
 * One writer per replica: a lease object next to each database's replica,
 * `<replica path>/lock.json`, in the name and JSON of Litestream's own S3
 * leaser (leaser.go, s3/leaser.go: {"generation","expires_at","owner"}; it is
 * not used by Litestream's CLI yet), so a future Litestream that honours
 * leases and lsinit exclude each other. lsinit adds "host", "pid" and
 * "acquired_at", which Go's decoder ignores.
 *
 *   S3:   create with If-None-Match: *, renew and release with If-Match: <etag>
 *         (signed by libcurl's CURLOPT_AWS_SIGV4). A store that ignores the
 *         conditions is refused at start (lease_store_check_conditions).
 *   file: create with link(2) (fails if it exists), renew and release under
 *         flock(2) on lock.json.lock, comparing the current "etag" (inode,
 *         size, mtime) before rename(2).
 *   sftp, gs, abs: no lease (no compare-and-swap lsinit can do there).
 *
 * Expiry is judged from the store's clock, never the holder's: a lease is
 * stale when the store's "now" (S3: the response's Date; file: the mtime of
 * a probe file written just before) is more than the TTL past the object's
 * last modification (S3 Last-Modified; file mtime). The holder renews every
 * TTL/3 and stops uploading when it has not renewed for TTL - margin on its
 * own monotonic clock, so it stops before anyone can see its lease as stale.
 */
#ifndef LSINIT_LEASE_H
#define LSINIT_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_OBJECT "lock.json"
#define LEASE_DEFAULT_TTL_MS 30000
#define LEASE_MIN_TTL_MS 5000
#define LEASE_MAX_TTL_MS 600000
#define LEASE_DEFAULT_WAIT_MS 600000

struct lease_record {
    long long generation;
    char expires_at[48]; /* RFC 3339 (UTC), as written */
    char owner[160];     /* "lsinit <host> pid <pid>", or whatever another writer put */
    char host[96];       /* lsinit's fields; "" in a lease another tool wrote */
    long pid;
    char acquired_at[48];
};

/* What one read of the store saw. */
struct lease_obs {
    bool exists;
    char etag[160];
    struct lease_record rec;
    int64_t age_ms; /* the store's now minus the object's last modification; -1: unknown */
};

/* JSON text of r (one line, no newline). Returns the length, or 0 when out is too small. */
size_t lease_record_format(const struct lease_record *r, char *out, size_t size);
/* Parses a lock.json body. Returns 0, or -1 with why set when it is not a lease. */
int lease_record_parse(const char *text, struct lease_record *out, char *why, size_t why_size);
/* "owner (host H, pid P, since S, until E)" for log lines. */
void lease_describe(const struct lease_record *r, char *out, size_t size);

/*
 * Is the lease another holder left stale? age_ms from the store's clock when
 * known; otherwise unchanged_ms, how long this waiter has seen the same etag
 * on its own monotonic clock. Both must exceed the TTL.
 */
bool lease_is_stale(const struct lease_obs *o, int64_t unchanged_ms, int64_t ttl_ms);

/* The holder: how long it may go without a successful renewal before it must stop uploading. */
int64_t lease_holder_limit_ms(int64_t ttl_ms);
/* The holder renews this often. */
int64_t lease_renew_interval_ms(int64_t ttl_ms);

#endif
