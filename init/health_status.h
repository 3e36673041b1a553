/* SPDX-License-Identifier: MIT */
/*
 * The health endpoint's routes: /livez, /readyz, /healthz
 * (application/health+json) and /metrics (Prometheus text). Pure functions
 * of a status_view, a snapshot the supervisor takes for each request;
 * nothing here touches a socket or a secret.
 */
#ifndef LSINIT_HEALTH_STATUS_H
#define LSINIT_HEALTH_STATUS_H

#include <stddef.h>

#include "http_request.h"

#include <stdbool.h>
#include <stdint.h>

struct health_state;

/* What the routes report, as the supervisor sees it at one request. */
struct status_view {
    const struct health_state *health;
    bool litestream_mode;
    bool starting;    /* restoring: the app has not started yet */
    bool stopping;    /* a stop signal arrived */
    bool live, ready; /* the /livez and /readyz verdicts */
    bool app_up, litestream_up;
    unsigned long zombies_reaped;
    const char *lease;  /* the replica's lease: "" none, "held …", "waiting: …", "lost: …", "released" */
    bool lease_waiting; /* not started yet: another instance holds the lease */
    bool follower_role; /* LSINIT_ROLE=follower: the app reads a copy (health->dbs[].follow_*) */
    int64_t mono_ms;    /* the monotonic clock at this request (for the age of a lag measurement) */
};

struct http_response {
    int status;
    const char *content_type;
    char *body; /* malloc'ed */
    size_t body_len;
};

/* Fills resp for req (status 400/404/405 included). Returns 0, -1 when out of memory. */
int status_respond(const struct status_view *v, const struct http_request *req, struct http_response *resp);

#endif
