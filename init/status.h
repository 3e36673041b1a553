/* SPDX-License-Identifier: MIT */
/*
 * The health endpoint's routes: /livez, /readyz, /healthz
 * (application/health+json) and /metrics (Prometheus text). Pure functions
 * of the supervisor's state; nothing here touches a socket or a secret.
 */
#ifndef LSINIT_STATUS_H
#define LSINIT_STATUS_H

#include <stddef.h>

#include "http_request.h"

struct supervisor;

struct http_response {
    int status;
    const char *content_type;
    char *body;      /* malloc'ed */
    size_t body_len;
};

/* Fills resp for req (status 400/404/405 included). Returns 0, -1 when out of memory. */
int status_respond(const struct supervisor *sup, const struct http_request *req, struct http_response *resp);

/* The liveness and readiness verdicts, also used by the tests of the logic. */
int status_live(const struct supervisor *sup);
int status_ready(const struct supervisor *sup);

#endif
