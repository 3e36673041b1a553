/* SPDX-License-Identifier: MIT */
#include "http_easy.h"

static size_t http_easy_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

CURL *http_easy_new(const struct http_easy *o)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    if (o->error_buffer != NULL)
        o->error_buffer[0] = '\0';
    bool ok = curl_easy_setopt(c, CURLOPT_URL, o->url) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, o->write != NULL ? o->write : http_easy_discard) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, o->write_data) == CURLE_OK;
    if (ok && o->error_buffer != NULL)
        ok = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, o->error_buffer) == CURLE_OK;
    if (ok && o->connect_timeout_ms > 0)
        ok = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms) == CURLE_OK;
    if (ok && o->timeout_ms > 0)
        ok = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms) == CURLE_OK;
    if (ok && o->protocols != NULL)
        ok = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, o->protocols) == CURLE_OK;
    if (ok && o->max_redirects > 0) {
        ok = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_MAXREDIRS, o->max_redirects) == CURLE_OK &&
             (o->protocols == NULL || curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, o->protocols) == CURLE_OK);
    }
    if (ok && o->no_proxy)
        ok =
            curl_easy_setopt(c, CURLOPT_NOPROXY, "*") == CURLE_OK && curl_easy_setopt(c, CURLOPT_PROXY, "") == CURLE_OK;
    if (ok && o->ca_bundle != NULL && o->ca_bundle[0] != '\0')
        ok = curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_bundle) == CURLE_OK;
    if (ok && o->user_agent != NULL)
        ok = curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent) == CURLE_OK;
    if (!ok) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}
