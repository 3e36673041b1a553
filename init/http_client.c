/* SPDX-License-Identifier: MIT */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "exit_codes.h"
#include "log.h"
#include "parse.h"
#include "settings.h"

#define PROBE_DEFAULT_PATH "/readyz"

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* The URL lsinit's own endpoint answers on, from LSINIT_HEALTH_ADDR (0.0.0.0 → 127.0.0.1). */
static void default_base(char *const *envp, char *out, size_t size)
{
    const char *addr = env_lookup(envp, "LSINIT_HEALTH_ADDR");
    if (addr == NULL || addr[0] == '\0' || strcmp(addr, "off") == 0)
        addr = SETTINGS_DEFAULT_HEALTH_ADDR;
    const char *colon = strrchr(addr, ':');
    const char *port = colon != NULL ? colon + 1 : "9091";
    size_t host_len = colon != NULL ? (size_t)(colon - addr) : 0;
    if (host_len == 0 || strncmp(addr, "0.0.0.0", host_len) == 0 || strncmp(addr, "[::]", host_len) == 0)
        snprintf(out, size, "http://127.0.0.1:%s", port);
    else
        snprintf(out, size, "http://%.*s:%s", (int)host_len, addr, port);
}

int health_probe_main(int argc, char **argv, char *const *envp)
{
    if (argc > 2) {
        log_error("usage: lsinit health [URL or /path] (default %s on LSINIT_HEALTH_ADDR)", PROBE_DEFAULT_PATH);
        return EXIT_USAGE;
    }
    const char *target = argc == 2 ? argv[1] : PROBE_DEFAULT_PATH;
    char url[1024];
    if (target[0] == '/') {
        char base[256];
        default_base(envp, base, sizeof(base));
        snprintf(url, sizeof(url), "%s%s", base, target);
    } else if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0) {
        snprintf(url, sizeof(url), "%s", target);
    } else {
        log_error("lsinit health %s: give a URL (http://HOST:PORT/path) or a path (/readyz)", target);
        return EXIT_USAGE;
    }
    int64_t timeout_ms = 5000;
    const char *v = env_lookup(envp, "LSINIT_HEALTH_TIMEOUT");
    if (v != NULL && parse_duration_ms(v, &timeout_ms) != 0) {
        log_error("LSINIT_HEALTH_TIMEOUT=%s is not a duration (e.g. 3s)", v);
        return EXIT_CONFIG;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return 1;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "lsinit-health");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    const char *ca = env_lookup(envp, "LSINIT_CA_BUNDLE");
    if (ca != NULL && ca[0] != '\0')
        curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        printf("unhealthy: %s: %s\n", url, curl_easy_strerror(rc));
        return 1;
    }
    printf("%s: %s: HTTP %ld\n", status >= 200 && status < 300 ? "healthy" : "unhealthy", url, status);
    return status >= 200 && status < 300 ? 0 : 1;
}
