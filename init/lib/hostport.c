/* SPDX-License-Identifier: MIT */
#include "hostport.h"

#include <stdio.h>
#include <string.h>

/* 1 to 5 decimal digits, at most 65535: no sign, no space, no "0x". */
static int port_parse(const char *text, long *port)
{
    size_t len = strlen(text);
    if (len == 0 || len > 5)
        return -1;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        n = n * 10 + (text[i] - '0');
    }
    if (n > 65535)
        return -1;
    *port = n;
    return 0;
}

enum hostport_result hostport_split(const char *text, struct hostport *out)
{
    memset(out, 0, sizeof(*out));
    const char *name = text;
    size_t name_len;
    const char *port_text = NULL;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return HOSTPORT_BAD_BRACKETS;
        name = text + 1;
        name_len = (size_t)(close - name);
        out->bracketed = true;
        if (close[1] == ':')
            port_text = close + 2;
    } else {
        const char *colon = strchr(text, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            name_len = (size_t)(colon - text);
            port_text = colon + 1;
        } else {
            name_len = strlen(text); /* no port, or a bare IPv6 address */
        }
    }
    if (name_len >= sizeof(out->host))
        return HOSTPORT_TOO_LONG;
    if (port_text != NULL) {
        if (port_parse(port_text, &out->port) != 0)
            return HOSTPORT_BAD_PORT;
        out->has_port = true;
    }
    memcpy(out->host, name, name_len);
    out->host[name_len] = '\0';
    return HOSTPORT_OK;
}

int hostport_format(const struct hostport *hp, char *out, size_t size)
{
    bool brackets = hp->bracketed || strchr(hp->host, ':') != NULL;
    int n = hp->has_port
                ? snprintf(out, size, "%s%s%s:%ld", brackets ? "[" : "", hp->host, brackets ? "]" : "", hp->port)
                : snprintf(out, size, "%s%s%s", brackets ? "[" : "", hp->host, brackets ? "]" : "");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int hostport_local_target(const char *listen_addr, char *out, size_t size)
{
    struct hostport hp;
    if (hostport_split(listen_addr, &hp) != HOSTPORT_OK || !hp.has_port || hp.port < 1)
        return -1;
    if (hp.host[0] == '\0' || strcmp(hp.host, "0.0.0.0") == 0 || strcmp(hp.host, "::") == 0) {
        snprintf(hp.host, sizeof(hp.host), "127.0.0.1");
        hp.bracketed = false;
    }
    return hostport_format(&hp, out, size);
}
