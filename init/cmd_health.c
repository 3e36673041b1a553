/* SPDX-License-Identifier: MIT */
#include "cmd_health.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "exit_codes.h"
#include "hostport.h"
#include "http_easy.h"
#include "log.h"
#include "parse.h"
#include "settings.h"

#define PROBE_DEFAULT_PATH "/readyz"

/* The URL lsinit's own endpoint answers on, from LSINIT_HEALTH_ADDR (0.0.0.0 → 127.0.0.1). */
static void default_base(char *const *envp, char *out, size_t size)
{
    const char *addr = env_lookup(envp, "LSINIT_HEALTH_ADDR");
    char target[HOSTPORT_HOST_MAX + 16];
    if (addr == NULL || addr[0] == '\0' || strcmp(addr, "off") == 0 ||
        hostport_local_target(addr, target, sizeof(target)) != 0)
        (void)hostport_local_target(SETTINGS_DEFAULT_HEALTH_ADDR, target, sizeof(target));
    snprintf(out, size, "http://%s", target);
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
        char base[HOSTPORT_HOST_MAX + 32];
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
    const struct http_easy opts = {
        .url = url,
        .connect_timeout_ms = (long)timeout_ms,
        .timeout_ms = (long)timeout_ms,
        .protocols = "http,https",
        .ca_bundle = env_lookup(envp, "LSINIT_CA_BUNDLE"),
        .user_agent = "lsinit-health",
    };
    CURL *curl = http_easy_new(&opts);
    if (curl == NULL)
        return 1;
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
