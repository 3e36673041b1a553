/* SPDX-License-Identifier: MIT */
#include "metrics_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX_BODY ((size_t)4 * 1024 * 1024)

struct body {
    char *data;
    size_t len;
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > METRICS_MAX_BODY)
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

char *metrics_fetch(const char *addr, long timeout_ms)
{
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return NULL;
    char url[256];
    snprintf(url, sizeof(url), "http://%s/metrics", addr);
    struct body b = {NULL, 0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK || status != 200) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

int metrics_find(const char *text, const char *name, const char *db, double *out)
{
    size_t name_len = strlen(name);
    char label[1200];
    snprintf(label, sizeof(label), "db=\"%s\"", db);
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        if (len > name_len && strncmp(line, name, name_len) == 0 && line[name_len] == '{') {
            const char *close = memchr(line, '}', len);
            if (close != NULL) {
                size_t labels_len = (size_t)(close - line);
                char labels[2048];
                if (labels_len < sizeof(labels)) {
                    memcpy(labels, line, labels_len);
                    labels[labels_len] = '\0';
                    if (strstr(labels, label) != NULL) {
                        char *num_end = NULL;
                        double value = strtod(close + 1, &num_end);
                        if (num_end != close + 1) {
                            *out = value;
                            return 0;
                        }
                    }
                }
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return -1;
}
