/* SPDX-License-Identifier: MIT */
#include "health_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "health_state.h"
#include "json_text.h"
#include "version.h"

/* Prometheus label values escape \, " and newline. */
static void out_label(struct text_buf *o, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            text_buf_printf(o, "\\%c", *s);
        else if (*s == '\n')
            text_buf_printf(o, "\\n");
        else
            text_buf_printf(o, "%c", *s);
    }
}

enum check_status { CHECK_PASS = 0, CHECK_WARN = 1, CHECK_FAIL = 2 };
static const char *const check_names[] = {"pass", "warn", "fail"};

static void iso8601(int64_t unix_time, char *buf, size_t size)
{
    time_t t = (time_t)unix_time;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static enum check_status verification_check(const struct status_view *v, const struct db_health *d, int64_t now)
{
    if (!d->verified)
        return CHECK_PASS;
    if (d->last_result != VERIFY_PASS)
        return CHECK_FAIL;
    int64_t interval_s = v->health->verify_interval_ms / 1000;
    if (interval_s > 0 && now - d->last_verify_unix > 3 * interval_s + 60)
        return CHECK_WARN; /* verification stopped happening */
    return CHECK_PASS;
}

static enum check_status replication_check(const struct db_health *d, int64_t now, int64_t *lag)
{
    *lag = (d->scraped && !d->caught_up) ? now - d->caught_up_unix : 0;
    if (!d->scraped)
        return CHECK_PASS;
    if (d->sync_errors > d->sync_errors_previous)
        return CHECK_WARN;
    if (*lag > 300)
        return CHECK_FAIL;
    if (*lag > 60)
        return CHECK_WARN;
    return CHECK_PASS;
}

static enum check_status worst(enum check_status a, enum check_status b) { return a > b ? a : b; }

/* The follower copy's lag as /readyz judges it: the last measurement, or its upper bound, plus its age. */
static enum check_status follow_check(const struct status_view *v, const struct db_health *d, double *lag_s,
                                      const char **why)
{
    const struct health_state *h = v->health;
    int64_t age = v->mono_ms - d->follow_lag_at_ms;
    *lag_s = d->follow_lag_ms / 1000.0;
    if (!d->follow_published) {
        *why = "not published yet (restoring)";
        return CHECK_WARN;
    }
    if (!d->follow_lag_known) {
        *why = "published; lag not measured yet";
        return CHECK_WARN;
    }
    if (d->follow_unreachable) {
        *why = "the replica cannot be listed: lag unknown (the value is an upper bound)";
        return CHECK_FAIL;
    }
    if (age >= h->follow_max_lag_ms) {
        *why = "no lag measurement for LSINIT_FOLLOW_MAX_LAG";
        return CHECK_FAIL;
    }
    if (d->follow_lag_ms >= h->follow_max_lag_ms) {
        *why = "behind the replica by LSINIT_FOLLOW_MAX_LAG or more";
        return CHECK_FAIL;
    }
    *why = d->follow_lag_ms == 0 ? "at the replica's newest transaction" : "behind the replica, within the bound";
    return CHECK_PASS;
}

static void render_follow_checks(const struct status_view *v, struct text_buf *o, enum check_status *overall)
{
    const struct health_state *h = v->health;
    text_buf_printf(o, ",\"follow:lag\":[");
    for (size_t i = 0; i < h->db_count; i++) {
        const struct db_health *d = &h->dbs[i];
        double lag = 0;
        const char *why = "";
        enum check_status c = follow_check(v, d, &lag, &why);
        *overall = worst(*overall, c);
        text_buf_printf(o, "%s{\"componentId\":", i == 0 ? "" : ",");
        text_buf_json_string(o, d->path);
        text_buf_printf(o,
                        ",\"status\":\"%s\",\"observedValue\":%.3f,\"observedUnit\":\"s\",\"output\":\"%s\","
                        "\"appliedTxid\":\"%016llx\",\"replicaTxid\":\"%016llx\",\"publishes\":%lu,"
                        "\"maxLagSeconds\":%.3f",
                        check_names[c], lag, why, (unsigned long long)d->follow_txid,
                        (unsigned long long)d->follow_replica_txid, d->follow_publishes, h->follow_max_lag_ms / 1000.0);
        if (d->follow_note[0] != '\0') {
            text_buf_printf(o, ",\"lastEvent\":");
            text_buf_json_string(o, d->follow_note);
        }
        text_buf_printf(o, "}");
    }
    text_buf_printf(o,
                    "],\"follow:process\":[{\"status\":\"pass\",\"observedValue\":%lu,"
                    "\"observedUnit\":\"restarts\"}]",
                    h->follow_restarts);
}

static void render_follow_metrics(const struct status_view *v, struct text_buf *o)
{
    const struct health_state *h = v->health;
    text_buf_printf(o,
                    "# HELP lsinit_role This instance's LSINIT_ROLE.\n# TYPE lsinit_role gauge\n"
                    "lsinit_role{role=\"%s\"} 1\n",
                    h->role != NULL ? h->role : "follower");
    text_buf_printf(o, "# HELP lsinit_follow_lag_seconds How far the app's copy is behind the replica (the age of the "
                       "oldest replica transaction not in it; 0 when it has the newest).\n"
                       "# TYPE lsinit_follow_lag_seconds gauge\n");
    for (size_t i = 0; i < h->db_count; i++) {
        const struct db_health *d = &h->dbs[i];
        if (!d->follow_lag_known)
            continue;
        text_buf_printf(o, "lsinit_follow_lag_seconds{db=\"");
        out_label(o, d->path);
        text_buf_printf(o, "\"} %.3f\n", d->follow_lag_ms / 1000.0);
    }
    text_buf_printf(o, "# HELP lsinit_follow_applied_txid The replica transaction the app's copy holds.\n"
                       "# TYPE lsinit_follow_applied_txid gauge\n");
    for (size_t i = 0; i < h->db_count; i++) {
        text_buf_printf(o, "lsinit_follow_applied_txid{db=\"");
        out_label(o, h->dbs[i].path);
        text_buf_printf(o, "\"} %llu\n", (unsigned long long)h->dbs[i].follow_txid);
    }
    text_buf_printf(o, "# HELP lsinit_follow_replica_txid The replica's newest transaction at the last listing.\n"
                       "# TYPE lsinit_follow_replica_txid gauge\n");
    for (size_t i = 0; i < h->db_count; i++) {
        text_buf_printf(o, "lsinit_follow_replica_txid{db=\"");
        out_label(o, h->dbs[i].path);
        text_buf_printf(o, "\"} %llu\n", (unsigned long long)h->dbs[i].follow_replica_txid);
    }
    text_buf_printf(o, "# HELP lsinit_follow_publishes_total Times the app's copy was brought up to date.\n"
                       "# TYPE lsinit_follow_publishes_total counter\n");
    for (size_t i = 0; i < h->db_count; i++) {
        text_buf_printf(o, "lsinit_follow_publishes_total{db=\"");
        out_label(o, h->dbs[i].path);
        text_buf_printf(o, "\"} %lu\n", h->dbs[i].follow_publishes);
    }
    text_buf_printf(o,
                    "# HELP lsinit_follow_restarts_total Follow processes restarted (exited, or rebuilt from "
                    "scratch).\n# TYPE lsinit_follow_restarts_total counter\nlsinit_follow_restarts_total %lu\n",
                    h->follow_restarts);
}

static char *render_healthz(const struct status_view *v, int *http_status, size_t *len)
{
    struct text_buf o = {0};
    const struct health_state *h = v->health;
    int64_t now = (int64_t)time(NULL);
    enum check_status overall = CHECK_PASS;
    int live = v->live;
    bool litestream_mode = v->litestream_mode;
    bool litestream_up = litestream_mode && v->litestream_up;
    bool app_up = v->app_up;
    bool starting = v->starting;

    enum check_status app_check = (app_up || starting) ? CHECK_PASS : CHECK_FAIL;
    overall = worst(overall, app_check);
    text_buf_printf(&o, "\"app:process\":[{\"status\":\"%s\",\"output\":\"%s\"}]", check_names[app_check],
                    app_up     ? "running"
                    : starting ? "not started yet (restoring)"
                               : "not running");
    if (v->follower_role)
        render_follow_checks(v, &o, &overall);
    if (litestream_mode) {
        enum check_status ls_check = (litestream_up || starting) ? CHECK_PASS : CHECK_FAIL;
        overall = worst(overall, ls_check);
        text_buf_printf(&o,
                        ",\"litestream:process\":[{\"status\":\"%s\",\"output\":\"%s\",\"observedValue\":%lu,"
                        "\"observedUnit\":\"restarts\"}]",
                        check_names[ls_check],
                        litestream_up ? "running"
                        : starting    ? "not started yet"
                                      : "not running",
                        h->litestream_restarts);
        if (v->stopping || h->final_sync[0] != '\0') {
            /* While stopping: where the final sync stands, so a slow or failed one says why. */
            bool failed = strncmp(h->final_sync, "failed", 6) == 0;
            text_buf_printf(&o, ",\"replication:final-sync\":[{\"status\":\"%s\",\"output\":",
                            failed ? check_names[CHECK_FAIL] : check_names[CHECK_PASS]);
            text_buf_json_string(&o, h->final_sync[0] != '\0' ? h->final_sync
                                                              : "waiting for the app and litestream's final sync");
            text_buf_printf(&o, "}]");
            if (failed)
                overall = worst(overall, CHECK_FAIL);
        }
        if (v->lease != NULL && v->lease[0] != '\0') {
            /* One writer per replica: held, waiting for another instance, or lost (then lsinit stops). */
            enum check_status c = strncmp(v->lease, "lost", 4) == 0 || strncmp(v->lease, "failed", 6) == 0 ? CHECK_FAIL
                                  : strncmp(v->lease, "waiting", 7) == 0 || strncmp(v->lease, "off", 3) == 0
                                      ? CHECK_WARN
                                      : CHECK_PASS;
            text_buf_printf(&o, ",\"replication:lease\":[{\"status\":\"%s\",\"output\":", check_names[c]);
            text_buf_json_string(&o, v->lease);
            text_buf_printf(&o, "}]");
            overall = worst(overall, c);
        }
        text_buf_printf(&o, ",\"replication:lag\":[");
        for (size_t i = 0; i < h->db_count; i++) {
            const struct db_health *d = &h->dbs[i];
            int64_t lag = 0;
            enum check_status c = replication_check(d, now, &lag);
            overall = worst(overall, c);
            text_buf_printf(&o, "%s{\"componentId\":", i == 0 ? "" : ",");
            text_buf_json_string(&o, d->path);
            text_buf_printf(&o,
                            ",\"status\":\"%s\",\"observedValue\":%lld,\"observedUnit\":\"s\",\"output\":\"%s\","
                            "\"syncs\":%.0f,\"syncErrors\":%.0f}",
                            check_names[c], (long long)lag,
                            !d->scraped                                ? "no data from litestream yet"
                            : d->sync_errors > d->sync_errors_previous ? "litestream reports new sync errors"
                            : c == CHECK_PASS                          ? "replica current"
                                                                       : "replica behind",
                            d->sync_count, d->sync_errors);
        }
        text_buf_printf(&o, "],\"verification:last\":[");
        for (size_t i = 0; i < h->db_count; i++) {
            const struct db_health *d = &h->dbs[i];
            enum check_status c = verification_check(v, d, now);
            overall = worst(overall, c);
            text_buf_printf(&o, "%s{\"componentId\":", i == 0 ? "" : ",");
            text_buf_json_string(&o, d->path);
            text_buf_printf(&o, ",\"status\":\"%s\",\"result\":\"%s\",\"output\":", check_names[c],
                            d->verified ? verify_result_name(d->last_result) : "none");
            text_buf_json_string(&o, d->verified ? d->last_reason
                                                 : (h->verify_interval_ms > 0 ? "not run yet" : "verification is off"));
            if (d->verified) {
                char when[32];
                iso8601(d->last_verify_unix, when, sizeof(when));
                text_buf_printf(&o,
                                ",\"time\":\"%s\",\"observedValue\":%lld,\"observedUnit\":\"s\",\"durationMs\":%lld",
                                when, (long long)(now - d->last_verify_unix), (long long)d->last_duration_ms);
            }
            if (h->verify_mode[0] != '\0')
                text_buf_printf(&o, ",\"mode\":\"%s\"", h->verify_mode);
            if (d->follower_known)
                text_buf_printf(&o, ",\"followerLagTransactions\":%.0f",
                                d->replica_index > d->follower_txid ? d->replica_index - d->follower_txid : 0);
            if (d->last_full_success_unix > 0) {
                char full[32];
                iso8601(d->last_full_success_unix, full, sizeof(full));
                text_buf_printf(&o, ",\"lastFullRestore\":\"%s\"", full);
            }
            text_buf_printf(&o, "}");
        }
        text_buf_printf(&o, "],\"disk:free\":[");
        for (size_t i = 0; i < h->db_count; i++) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof(dir), "%s", h->dbs[i].path);
            char *slash = strrchr(dir, '/');
            if (slash != NULL && slash != dir)
                *slash = '\0';
            struct statvfs vfs;
            enum check_status c = CHECK_PASS;
            unsigned long long avail = 0, total = 0;
            if (statvfs(dir, &vfs) == 0) {
                avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
                total = (unsigned long long)vfs.f_blocks * vfs.f_frsize;
                if (avail < 16ULL * 1024 * 1024 || (total > 0 && avail * 100 < total))
                    c = CHECK_FAIL;
                else if (total > 0 && avail * 100 < total * 5)
                    c = CHECK_WARN;
            } else {
                c = CHECK_WARN;
            }
            overall = worst(overall, c);
            text_buf_printf(&o, "%s{\"componentId\":", i == 0 ? "" : ",");
            text_buf_json_string(&o, dir);
            text_buf_printf(&o, ",\"status\":\"%s\",\"observedValue\":%llu,\"observedUnit\":\"bytes\"}", check_names[c],
                            avail);
        }
        text_buf_printf(&o, "]");
    }
    if (!live && overall == CHECK_PASS)
        overall = CHECK_WARN; /* stopping */
    struct text_buf doc = {0};
    text_buf_printf(&doc, "{\"status\":\"%s\",\"version\":\"%s\",\"serviceId\":\"lsinit\",\"checks\":{%s}}\n",
                    check_names[overall], LSINIT_VERSION, o.data != NULL ? o.data : "");
    free(o.data);
    if (o.failed || doc.failed) {
        free(doc.data);
        return NULL;
    }
    *http_status = overall == CHECK_FAIL ? 503 : 200;
    *len = doc.len;
    return doc.data;
}

static char *render_metrics(const struct status_view *v, size_t *len)
{
    struct text_buf o = {0};
    const struct health_state *h = v->health;
    text_buf_printf(&o, "# HELP lsinit_up 1 while lsinit serves this endpoint.\n# TYPE lsinit_up gauge\nlsinit_up 1\n");
    text_buf_printf(&o, "# HELP lsinit_live 1 when /livez answers 200.\n# TYPE lsinit_live gauge\nlsinit_live %d\n",
                    v->live);
    text_buf_printf(&o, "# HELP lsinit_ready 1 when /readyz answers 200.\n# TYPE lsinit_ready gauge\nlsinit_ready %d\n",
                    v->ready);
    text_buf_printf(
        &o,
        "# HELP lsinit_start_time_seconds When lsinit started (unix time).\n# TYPE lsinit_start_time_seconds gauge\n"
        "lsinit_start_time_seconds %lld\n",
        (long long)h->started_unix);
    text_buf_printf(
        &o,
        "# HELP lsinit_zombies_reaped_total Processes reaped by lsinit.\n# TYPE lsinit_zombies_reaped_total counter\n"
        "lsinit_zombies_reaped_total %lu\n",
        v->zombies_reaped);
    if (v->follower_role)
        render_follow_metrics(v, &o);
    if (v->litestream_mode) {
        text_buf_printf(&o,
                        "# HELP lsinit_restores_total Databases restored from their replica on boot.\n"
                        "# TYPE lsinit_restores_total counter\nlsinit_restores_total %lu\n",
                        h->restores);
        if (strcmp(h->verify_mode, "follow") == 0) {
            text_buf_printf(&o, "# HELP lsinit_verify_follower_lag_transactions Transactions the follower copy is "
                                "behind the replica.\n# TYPE lsinit_verify_follower_lag_transactions gauge\n");
            for (size_t i = 0; i < h->db_count; i++) {
                const struct db_health *d = &h->dbs[i];
                if (!d->follower_known)
                    continue;
                double lag = d->replica_index > d->follower_txid ? d->replica_index - d->follower_txid : 0;
                text_buf_printf(&o, "lsinit_verify_follower_lag_transactions{db=\"");
                out_label(&o, d->path);
                text_buf_printf(&o, "\"} %.0f\n", lag);
            }
        }
        text_buf_printf(&o, "# HELP lsinit_verify_last_full_success_timestamp_seconds Unix time of the last passing "
                            "whole restore.\n# TYPE lsinit_verify_last_full_success_timestamp_seconds gauge\n");
        for (size_t i = 0; i < h->db_count; i++) {
            if (h->dbs[i].last_full_success_unix <= 0)
                continue;
            text_buf_printf(&o, "lsinit_verify_last_full_success_timestamp_seconds{db=\"");
            out_label(&o, h->dbs[i].path);
            text_buf_printf(&o, "\"} %lld\n", (long long)h->dbs[i].last_full_success_unix);
        }
        if (h->verify_mode[0] != '\0')
            text_buf_printf(&o,
                            "# HELP lsinit_verify_mode How backups are verified (follow: a follower copy; full: a "
                            "whole restore).\n# TYPE lsinit_verify_mode gauge\nlsinit_verify_mode{mode=\"%s\"} 1\n"
                            "# HELP lsinit_verify_follower_restarts_total Follower processes restarted.\n"
                            "# TYPE lsinit_verify_follower_restarts_total counter\n"
                            "lsinit_verify_follower_restarts_total %lu\n"
                            "# HELP lsinit_verify_follower_rebuilds_total Follower copies rebuilt from scratch.\n"
                            "# TYPE lsinit_verify_follower_rebuilds_total counter\n"
                            "lsinit_verify_follower_rebuilds_total %lu\n",
                            h->verify_mode, h->follower_restarts, h->follower_rebuilds);
        if (v->lease != NULL && v->lease[0] != '\0')
            text_buf_printf(&o,
                            "# HELP lsinit_lease_held 1 while this instance holds the replica's lease.\n"
                            "# TYPE lsinit_lease_held gauge\nlsinit_lease_held %d\n",
                            strncmp(v->lease, "held", 4) == 0);
        text_buf_printf(&o,
                        "# HELP lsinit_litestream_restarts_total Times litestream was restarted after dying.\n"
                        "# TYPE lsinit_litestream_restarts_total counter\nlsinit_litestream_restarts_total %lu\n",
                        h->litestream_restarts);
        text_buf_printf(&o,
                        "# HELP lsinit_litestream_hangs_total Times litestream stopped answering and was killed.\n"
                        "# TYPE lsinit_litestream_hangs_total counter\nlsinit_litestream_hangs_total %lu\n",
                        h->litestream_hangs);
        text_buf_printf(
            &o,
            "# HELP lsinit_verifications_total Verification cycles by result.\n# TYPE lsinit_verifications_total counter\n");
        for (int r = 0; r < VERIFY_RESULT_COUNT; r++)
            text_buf_printf(&o, "lsinit_verifications_total{result=\"%s\"} %lu\n",
                            verify_result_name((enum verify_result)r), h->verifications[r]);
        text_buf_printf(&o,
                        "# HELP lsinit_verification_seconds_total Time spent in verification cycles.\n"
                        "# TYPE lsinit_verification_seconds_total counter\nlsinit_verification_seconds_total %.3f\n",
                        h->verification_seconds_sum);
        text_buf_printf(
            &o,
            "# HELP lsinit_verification_last_success_timestamp_seconds Unix time of the last passing verification.\n"
            "# TYPE lsinit_verification_last_success_timestamp_seconds gauge\n");
        for (size_t i = 0; i < h->db_count; i++) {
            text_buf_printf(&o, "lsinit_verification_last_success_timestamp_seconds{db=\"");
            out_label(&o, h->dbs[i].path);
            text_buf_printf(&o, "\"} %lld\n", (long long)h->dbs[i].last_success_unix);
        }
        text_buf_printf(&o, "# HELP lsinit_verification_last_duration_seconds Duration of the last verification.\n"
                            "# TYPE lsinit_verification_last_duration_seconds gauge\n");
        for (size_t i = 0; i < h->db_count; i++) {
            text_buf_printf(&o, "lsinit_verification_last_duration_seconds{db=\"");
            out_label(&o, h->dbs[i].path);
            text_buf_printf(&o, "\"} %.3f\n", (double)h->dbs[i].last_duration_ms / 1000.0);
        }
        text_buf_printf(
            &o,
            "# HELP lsinit_verification_last_pass 1 when the last verification passed, 0 when it failed, -1 before the first.\n"
            "# TYPE lsinit_verification_last_pass gauge\n");
        for (size_t i = 0; i < h->db_count; i++) {
            text_buf_printf(&o, "lsinit_verification_last_pass{db=\"");
            out_label(&o, h->dbs[i].path);
            text_buf_printf(&o, "\"} %d\n", !h->dbs[i].verified ? -1 : h->dbs[i].last_result == VERIFY_PASS ? 1 : 0);
        }
        int64_t now = (int64_t)time(NULL);
        text_buf_printf(
            &o, "# HELP lsinit_replication_lag_seconds Time since the replica last matched the local database.\n"
                "# TYPE lsinit_replication_lag_seconds gauge\n");
        for (size_t i = 0; i < h->db_count; i++) {
            text_buf_printf(&o, "lsinit_replication_lag_seconds{db=\"");
            out_label(&o, h->dbs[i].path);
            text_buf_printf(
                &o, "\"} %lld\n",
                (long long)(h->dbs[i].scraped && !h->dbs[i].caught_up ? now - h->dbs[i].caught_up_unix : 0));
        }
        text_buf_printf(&o, "# HELP lsinit_litestream_sync_errors Litestream's sync error count per database.\n"
                            "# TYPE lsinit_litestream_sync_errors gauge\n");
        for (size_t i = 0; i < h->db_count; i++) {
            text_buf_printf(&o, "lsinit_litestream_sync_errors{db=\"");
            out_label(&o, h->dbs[i].path);
            text_buf_printf(&o, "\"} %.0f\n", h->dbs[i].sync_errors);
        }
        text_buf_printf(
            &o,
            "# HELP lsinit_metrics_scrape_failures_total Failed reads of litestream's metrics.\n"
            "# TYPE lsinit_metrics_scrape_failures_total counter\nlsinit_metrics_scrape_failures_total %lu\n",
            h->scrapes_failed);
    }
    text_buf_printf(
        &o,
        "# HELP lsinit_http_requests_total Health endpoint requests answered.\n# TYPE lsinit_http_requests_total counter\n"
        "lsinit_http_requests_total %lu\n",
        h->http_requests);
    text_buf_printf(&o,
                    "# HELP lsinit_http_rejected_total Health connections refused (cap) or timed out.\n"
                    "# TYPE lsinit_http_rejected_total counter\nlsinit_http_rejected_total %lu\n",
                    h->http_rejected);
    if (o.failed) {
        free(o.data);
        return NULL;
    }
    *len = o.len;
    return o.data;
}

static int simple(struct http_response *resp, int status, const char *text)
{
    size_t n = strlen(text);
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = malloc(n + 1);
    if (resp->body == NULL)
        return -1;
    memcpy(resp->body, text, n + 1);
    resp->body_len = n;
    return 0;
}

int status_respond(const struct status_view *v, const struct http_request *req, struct http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (req->method == HTTP_OTHER)
        return simple(resp, 405, "method not allowed: use GET or HEAD\n");
    if (strcmp(req->path, "/livez") == 0)
        return v->live ? simple(resp, 200, "ok\n") : simple(resp, 503, "not live\n");
    if (strcmp(req->path, "/readyz") == 0) {
        if (v->ready)
            return simple(resp, 200, "ok\n");
        return simple(resp, 503,
                      v->stopping                        ? "stopping\n"
                      : v->lease_waiting                 ? "waiting for the replica's lease\n"
                      : v->follower_role && !v->starting ? "the read-only copy is not within LSINIT_FOLLOW_MAX_LAG "
                                                           "of the replica (see /healthz)\n"
                      : v->starting                      ? "restoring\n"
                                                         : "not ready\n");
    }
    if (strcmp(req->path, "/healthz") == 0) {
        int status = 200;
        size_t len = 0;
        resp->body = render_healthz(v, &status, &len);
        if (resp->body == NULL)
            return -1;
        resp->status = status;
        resp->content_type = "application/health+json";
        resp->body_len = len;
        return 0;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        size_t len = 0;
        resp->body = render_metrics(v, &len);
        if (resp->body == NULL)
            return -1;
        resp->status = 200;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        resp->body_len = len;
        return 0;
    }
    return simple(resp, 404, "not found: /livez, /readyz, /healthz, /metrics\n");
}
