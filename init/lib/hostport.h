/* SPDX-License-Identifier: MIT */
/*
 * Network addresses as Litestream and lsinit write them: "HOST:PORT",
 * "[IPV6]:PORT", ":PORT", "HOST", "[IPV6]" or a bare IPv6 address. The one
 * parser behind LSINIT_HEALTH_ADDR, litestream's addr: (LSINIT_METRICS_ADDR),
 * `lsinit health`'s default URL, and an SFTP replica's host.
 */
#ifndef LSINIT_HOSTPORT_H
#define LSINIT_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

#define HOSTPORT_HOST_MAX 256

struct hostport {
    char host[HOSTPORT_HOST_MAX]; /* without brackets; "" for ":PORT" */
    bool bracketed;               /* written as [HOST]: an IPv6 address */
    bool has_port;
    long port; /* 0..65535 when has_port, else 0 */
};

enum hostport_result {
    HOSTPORT_OK = 0,
    HOSTPORT_BAD_BRACKETS, /* "[..." without "]", or something other than ":PORT" after it */
    HOSTPORT_BAD_PORT,     /* PORT is not 1 to 5 decimal digits of at most 65535 (also "HOST:") */
    HOSTPORT_TOO_LONG,     /* the host does not fit HOSTPORT_HOST_MAX */
};

/*
 * Splits text into out. Without brackets, one colon separates HOST and PORT;
 * two or more mean a bare IPv6 address without a port (Go's net.SplitHostPort
 * refuses it, and Litestream then appends its default port, as lsinit does).
 * PORT 0 is accepted here (a listener may ask for any free port): callers
 * that need 1..65535 check out->port. The host itself is not checked.
 */
enum hostport_result hostport_split(const char *text, struct hostport *out);

/*
 * Writes hp back as text: "HOST:PORT", "[IPV6]:PORT", or without ":PORT"
 * when it has none. Returns 0, or -1 when out is too small.
 */
int hostport_format(const struct hostport *hp, char *out, size_t size);

/*
 * Where to connect, on this machine, to something listening on listen_addr
 * (":9090", "0.0.0.0:9090", "[::]:9090", "127.0.0.1:9090", "host:9090"): a
 * wildcard host ("", 0.0.0.0, ::) becomes 127.0.0.1, any other is kept.
 * Needs a port of 1..65535. Returns 0, or -1 (no or a bad port, bad
 * brackets, out too small).
 */
int hostport_local_target(const char *listen_addr, char *out, size_t size);

#endif
