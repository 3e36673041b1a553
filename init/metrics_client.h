/* SPDX-License-Identifier: MIT */
/*
 * Reads Litestream's Prometheus endpoint (bound to loopback by lsinit) with
 * libcurl, and picks single samples out of the text format.
 */
#ifndef LSINIT_METRICS_CLIENT_H
#define LSINIT_METRICS_CLIENT_H

/* GETs http://ADDR/metrics within timeout_ms. Returns a malloc'ed body or NULL. */
char *metrics_fetch(const char *addr, long timeout_ms);

/*
 * Finds the sample NAME{db="DB",...} (any other labels) and stores its value.
 * Returns 0 when found, -1 otherwise.
 */
int metrics_find(const char *text, const char *name, const char *db, double *out);

/*
 * Litestream 0.3 has caught up when the replica's uploaded position (index,
 * offset) reaches the local shadow WAL's end. litestream_shadow_wal_size is
 * the size of all shadow WAL files, not of the current index, so the local
 * offset is the size of <db dir>/.<name>-litestream/generations/<gen>/wal/
 * <index>.wal. Returns 1 caught up, 0 behind, -1 when the metrics lack the
 * numbers (not initialised yet).
 */
int metrics_replica_caught_up(const char *text, const char *db);

/* The local (shadow WAL index, offset) and the replica's uploaded one. Returns 0, or -1 when unknown. */
int metrics_positions(const char *text, const char *db, double local[2], double replica[2]);

#endif
