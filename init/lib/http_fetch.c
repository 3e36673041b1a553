/* SPDX-License-Identifier: MIT */
#include "http_fetch.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "http_easy.h"

struct fetch_body {
    char *data;
    size_t len;
};

static size_t fetch_body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct fetch_body *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > HTTP_FETCH_MAX_BODY)
        return 0;
    char *grown = realloc(b->data, b->len + n + 1);
    if (grown == NULL)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

long http_fetch(const struct http_fetch *req, char **body)
{
    *body = NULL;
    struct fetch_body b = {NULL, 0};
    struct curl_slist *headers = NULL;
    const struct http_easy opts = {
        .url = req->url,
        .connect_timeout_ms = req->timeout_ms,
        .timeout_ms = req->timeout_ms,
        .protocols = "http",
        .no_proxy = true,
        .write = fetch_body_write,
        .write_data = &b,
    };
    CURL *curl = http_easy_new(&opts);
    if (curl == NULL)
        return 0;
    if (req->unix_socket != NULL)
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
    if (req->post_body != NULL) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->post_body);
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        free(b.data);
        return 0;
    }
    *body = b.data;
    return status;
}
