/* SPDX-License-Identifier: MIT */
/*
 * The one place that creates a libcurl easy handle, configured the lsinit
 * way: no signals (lsinit keeps its signals blocked and reads them from a
 * signalfd, so libcurl must not install handlers or use alarm()), explicit
 * timeouts, the protocols each caller allows, its CA bundle, libcurl's error
 * text, and a redirect policy. A response body never reaches stdout (the
 * verification child's stdout carries its JSON lines): it goes to the
 * caller's write callback or nowhere.
 *
 * Callers: http_fetch (loopback metrics and control socket), `lsinit health`,
 * install-litestream's download, the verification ping, the SFTP listing of
 * a Litestream 0.3 replica. curl_global_init stays with the caller.
 */
#ifndef LSINIT_HTTP_EASY_H
#define LSINIT_HTTP_EASY_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

struct http_easy {
    const char *url;
    long connect_timeout_ms; /* 0: libcurl's default (300 s) */
    long timeout_ms;         /* the whole transfer; 0: no limit */
    const char *protocols;   /* e.g. "http,https" or "sftp"; NULL: whatever libcurl has */
    long max_redirects;      /* > 0: follow up to this many, only to `protocols`; 0: never follow */
    bool no_proxy;           /* ignore http_proxy, https_proxy and all_proxy (loopback, SFTP) */
    const char *ca_bundle;   /* a PEM bundle (LSINIT_CA_BUNDLE); NULL or "": libcurl's own */
    const char *user_agent;  /* NULL: none sent */
    char *error_buffer;      /* CURL_ERROR_SIZE bytes for libcurl's detail, or NULL */
    size_t (*write)(char *ptr, size_t size, size_t nmemb, void *userdata); /* NULL: the body is discarded */
    void *write_data;
};

/*
 * curl_easy_init plus the options above. Returns the handle, to which the
 * caller adds its own options before curl_easy_perform and
 * curl_easy_cleanup; or NULL when libcurl refused (out of memory, or an
 * option this libcurl lacks).
 */
CURL *http_easy_new(const struct http_easy *o);

#endif
