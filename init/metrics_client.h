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

#endif
