/* SPDX-License-Identifier: MIT */
#include "lease_keeper.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "exit_codes.h"
#include "json_text.h"
#include "lease.h"
#include "lease_store.h"
#include "parse.h"
#include "plan.h"

#define KEEPER_RETRY_MS 2000
#define KEEPER_ERROR_RETRY_MS 1000
#define KEEPER_REQUEST_MAX_MS 5000

/* CLOCK_BOOTTIME: unlike the monotonic clock it goes on while the machine is suspended, so a holder that
 * wakes up after its TTL knows at once that it can no longer prove it is alone. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct held {
    bool on; /* this database has a lease */
    bool held;
    struct lease_store store;
    struct lease_record rec;
    char etag[160];
    int64_t last_ok_send; /* monotonic ms: when the last successful write was sent */
};

struct keeper {
    const struct lease_keeper_params *p;
    struct held dbs[PLAN_MAX_DBS];
    size_t n;
    int64_t limit_ms;
};

#define emit(k, ...) line_write((k)->p->event_fd, __VA_ARGS__)

static void rfc3339(int64_t add_ms, char *out, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (add_ms % 1000) * 1000000;
    time_t sec = ts.tv_sec + (time_t)(add_ms / 1000) + (time_t)(ns / 1000000000);
    ns %= 1000000000;
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%09lldZ", base, (long long)ns);
}

/* Waits up to ms for a command. Returns 0 (timeout), 1 release, 2 quit (or end of file). */
static int wait_command(const struct keeper *k, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    struct pollfd pfd = {.fd = k->p->cmd_fd, .events = POLLIN};
    int rc = poll(&pfd, 1, (int)(ms > INT_MAX ? INT_MAX : ms));
    if (rc <= 0)
        return 0;
    char buf[64];
    ssize_t n = read(k->p->cmd_fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 2;
    buf[n] = '\0';
    return strncmp(buf, "release", 7) == 0 ? 1 : 2;
}

static void release_all(struct keeper *k)
{
    for (size_t i = 0; i < k->n; i++) {
        struct held *h = &k->dbs[i];
        if (!h->held)
            continue;
        char why[512];
        enum lease_put r = lease_store_delete(&h->store, h->etag, why, sizeof(why));
        if (r == LEASE_PUT_ERROR)
            emit(k, "waiting %zu cannot release the lease on %s: %s (it expires after the TTL)", i, h->store.where,
                 why);
        h->held = false;
    }
    emit(k, "released");
}

/* Bounds one request by the time left before the holder must stop. */
static void set_request_timeout(struct keeper *k, struct held *h, int64_t now)
{
    int64_t left = h->held ? h->last_ok_send + k->limit_ms - now : KEEPER_REQUEST_MAX_MS;
    int64_t t = k->p->ttl_ms / 6;
    if (t > KEEPER_REQUEST_MAX_MS)
        t = KEEPER_REQUEST_MAX_MS;
    if (left < t)
        t = left;
    h->store.timeout_ms = t < 100 ? 100 : (long)t;
}

static void new_record(const struct keeper *k, struct lease_record *r, long long generation)
{
    memset(r, 0, sizeof(*r));
    char host[96] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "unknown");
    r->generation = generation;
    snprintf(r->owner, sizeof(r->owner), "lsinit on %s", host);
    snprintf(r->host, sizeof(r->host), "%s", host);
    r->pid = k->p->parent;
    rfc3339(0, r->acquired_at, sizeof(r->acquired_at));
    rfc3339(k->p->ttl_ms, r->expires_at, sizeof(r->expires_at));
}

/* ---- acquiring ------------------------------------------------------------- */

/* Returns 0 held, 1 stop (a command came), or an exit code with its fail line emitted. */
static int acquire(struct keeper *k, size_t i, int64_t deadline)
{
    struct held *h = &k->dbs[i];
    char seen_etag[160] = "", last_said[1200] = "", last_holder[400] = "";
    int64_t seen_since = 0;
    char limit[32];
    format_duration(k->p->wait_ms, limit, sizeof(limit));
    for (;;) {
        int64_t now = now_ms();
        set_request_timeout(k, h, now);
        struct lease_obs o;
        char why[600] = "";
        int rc = lease_store_read(&h->store, &o, why, sizeof(why));
        if (rc == -2) {
            emit(k,
                 "fail %d LSINIT_LEASE: %s; another tool wrote it, or it is damaged: remove it with `lsinit lease "
                 "--break --yes` once no instance runs, or set LSINIT_LEASE=off",
                 EXIT_CONFIG, why);
            return EXIT_CONFIG;
        }
        if (rc == 0) {
            bool take = !o.exists;
            if (o.exists) {
                if (strcmp(o.etag, seen_etag) != 0) {
                    snprintf(seen_etag, sizeof(seen_etag), "%s", o.etag);
                    seen_since = now;
                }
                take = lease_is_stale(&o, now - seen_since, k->p->ttl_ms);
            }
            if (take) {
                struct lease_record r;
                new_record(k, &r, o.exists ? o.rec.generation + 1 : 1);
                int64_t sent = now_ms();
                enum lease_put put = lease_store_write(&h->store, &r, o.exists ? o.etag : NULL, h->etag,
                                                       sizeof(h->etag), why, sizeof(why));
                if (put == LEASE_PUT_OK) {
                    h->rec = r;
                    h->held = true;
                    h->last_ok_send = sent;
                    emit(k, "held %zu %lld", i, r.generation);
                    return 0;
                }
                if (put == LEASE_PUT_CONFLICT)
                    continue; /* someone else was faster: read again */
            } else {
                /* One line per holder (its renewals change only expires_at). */
                char who[400], line[1200], holder[400];
                snprintf(holder, sizeof(holder), "%.150s|%.90s|%ld|%.47s", o.rec.owner, o.rec.host, o.rec.pid,
                         o.rec.acquired_at);
                lease_describe(&o.rec, who, sizeof(who));
                snprintf(line, sizeof(line), "the lease %.300s is held by %.200s: waiting (LSINIT_LEASE_WAIT=%s)",
                         h->store.where, who, limit);
                if (strcmp(holder, last_holder) != 0) {
                    emit(k, "waiting %zu %s", i, line);
                    snprintf(last_holder, sizeof(last_holder), "%s", holder);
                }
                snprintf(last_said, sizeof(last_said), "%s", line);
            }
        }
        if (why[0] != '\0') {
            char line[1200];
            snprintf(line, sizeof(line), "cannot take the lease %.250s yet: %.250s; retrying", h->store.where, why);
            if (strcmp(line, last_said) != 0) {
                emit(k, "waiting %zu %s", i, line);
                snprintf(last_said, sizeof(last_said), "%s", line);
                last_holder[0] = '\0';
            }
        }
        if (now_ms() >= deadline) {
            emit(k,
                 "fail %d the lease %s is still not ours after LSINIT_LEASE_WAIT=%s (%s); not starting, so two "
                 "instances never write one replica: stop the other instance, or raise LSINIT_LEASE_WAIT",
                 EXIT_LEASE, h->store.where, limit, last_said);
            return EXIT_LEASE;
        }
        int64_t pause = k->p->ttl_ms / 3 < KEEPER_RETRY_MS ? k->p->ttl_ms / 3 : KEEPER_RETRY_MS;
        if (wait_command(k, pause) != 0)
            return 1;
    }
}

/* ---- holding ---------------------------------------------------------------- */

/* Renews one lease. Returns 0, or 1 lost (the lost line emitted). */
static int renew(struct keeper *k, size_t i, int64_t now)
{
    struct held *h = &k->dbs[i];
    if (now - h->last_ok_send >= k->limit_ms) {
        emit(k, "lost %zu could not renew the lease %s for %lldms (TTL %lldms): another instance may take it now", i,
             h->store.where, (long long)(now - h->last_ok_send), (long long)k->p->ttl_ms);
        return 1;
    }
    set_request_timeout(k, h, now);
    struct lease_record r = h->rec;
    rfc3339(k->p->ttl_ms, r.expires_at, sizeof(r.expires_at));
    char why[600] = "", etag[160];
    int64_t sent = now_ms();
    enum lease_put put = lease_store_write(&h->store, &r, h->etag, etag, sizeof(etag), why, sizeof(why));
    if (put == LEASE_PUT_OK) {
        snprintf(h->etag, sizeof(h->etag), "%s", etag);
        h->rec = r;
        h->last_ok_send = sent;
        return 0;
    }
    if (put == LEASE_PUT_CONFLICT) {
        struct lease_obs o;
        char who[400] = "someone else";
        if (lease_store_read(&h->store, &o, why, sizeof(why)) == 0 && o.exists)
            lease_describe(&o.rec, who, sizeof(who));
        emit(k, "lost %zu the lease %s changed under us: now held by %s", i, h->store.where, who);
        return 1;
    }
    return 0; /* an error: retried; lost once the limit passes */
}

static int hold(struct keeper *k)
{
    int64_t interval = lease_renew_interval_ms(k->p->ttl_ms);
    bool any = false;
    for (size_t i = 0; i < k->n; i++)
        any = any || k->dbs[i].held;
    if (!any)
        return 0;
    for (;;) {
        int64_t now = now_ms();
        int64_t next = INT64_MAX;
        bool failed = false;
        for (size_t i = 0; i < k->n; i++) {
            struct held *h = &k->dbs[i];
            if (!h->held)
                continue;
            if (now - h->last_ok_send >= interval) {
                int64_t before = h->last_ok_send;
                if (renew(k, i, now) != 0)
                    return 0; /* lost: lsinit stops; the other leases expire */
                failed = failed || h->last_ok_send == before;
            }
            int64_t due = h->last_ok_send + interval;
            int64_t stop = h->last_ok_send + k->limit_ms;
            if (due < next)
                next = due;
            if (stop < next)
                next = stop;
        }
        if (!failed)
            emit(k, "renewed");
        int64_t wait = next - now_ms();
        if (failed && wait > KEEPER_ERROR_RETRY_MS)
            wait = KEEPER_ERROR_RETRY_MS;
        int cmd = wait_command(k, wait);
        if (cmd == 1) {
            release_all(k);
            return 0;
        }
        if (cmd == 2)
            return 0;
    }
}

int lease_keeper_main(const void *params)
{
    const struct lease_keeper_params *p = params;
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if ((long)getppid() != p->parent)
        return 0;
    static struct keeper k;
    memset(&k, 0, sizeof(k));
    k.p = p;
    k.n = p->plan->db_count;
    k.limit_ms = lease_holder_limit_ms(p->ttl_ms);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (size_t i = 0; i < k.n; i++) {
        const struct ynode *rep = plan_replica_of(p->plan->config, p->plan->dbs[i].path);
        const char *kind = "?";
        char why[600];
        int rc = lease_store_init(&k.dbs[i].store, rep, KEEPER_REQUEST_MAX_MS, &kind, why, sizeof(why));
        if (rc < 0 && !p->plan->lease_forced) {
            emit(&k, "unleased %zu %s: replicating %s WITHOUT a lease (nothing stops a second instance)", i, why,
                 p->plan->dbs[i].path);
            continue;
        }
        if (rc < 0) {
            emit(&k, "fail %d LSINIT_LEASE=on: %s", EXIT_CONFIG, why);
            return EXIT_CONFIG;
        }
        k.dbs[i].on = rc == 0;
    }
    int64_t deadline = now_ms() + p->wait_ms;
    /* A store that accepts a conditional create of an existing key would make every lease succeed. */
    for (size_t i = 0; i < k.n; i++) {
        struct held *h = &k.dbs[i];
        if (!h->on || h->store.kind != LEASE_S3)
            continue;
        for (;;) {
            char why[600] = "";
            int rc = lease_store_check_conditions(&h->store, why, sizeof(why));
            if (rc == 1 && !p->plan->lease_forced) {
                emit(&k,
                     "unleased %zu the S3 store at %s ignores conditional writes (If-None-Match: *), so it cannot "
                     "hold a lease: replicating %s WITHOUT one (nothing stops a second instance); use a store with "
                     "conditional writes (AWS S3, MinIO, R2), or set LSINIT_LEASE=on to refuse such a store",
                     i, h->store.endpoint, p->plan->dbs[i].path);
                h->on = false;
                break;
            }
            if (rc == 1) {
                emit(&k,
                     "fail %d LSINIT_LEASE=on: the S3 store at %s accepts a conditional create of an existing "
                     "object (If-None-Match: *), so a lease there would always succeed: use a store with conditional "
                     "writes (AWS S3, MinIO, R2, moto) or set LSINIT_LEASE=auto or off",
                     EXIT_CONFIG, h->store.endpoint);
                return EXIT_CONFIG;
            }
            if (rc == 0)
                break;
            emit(&k, "waiting %zu cannot check conditional writes at %s: %s; retrying", i, h->store.endpoint, why);
            if (now_ms() >= deadline) {
                emit(&k, "fail %d cannot reach %s for the lease within LSINIT_LEASE_WAIT: %s", EXIT_LEASE,
                     h->store.endpoint, why);
                return EXIT_LEASE;
            }
            if (wait_command(&k, KEEPER_RETRY_MS) != 0)
                return 0;
        }
    }
    for (size_t i = 0; i < k.n; i++) {
        if (!k.dbs[i].on)
            continue;
        int rc = acquire(&k, i, deadline);
        if (rc == 1) {
            release_all(&k);
            return 0;
        }
        if (rc != 0) {
            release_all(&k);
            return rc;
        }
    }
    return hold(&k);
}

int lease_event_parse(char *line, struct lease_event *out)
{
    memset(out, 0, sizeof(*out));
    static const struct {
        const char *word;
        enum lease_event_kind kind;
        bool number;
    } kinds[] = {
        {"waiting", LEASE_EV_WAITING, true},   {"held", LEASE_EV_HELD, true}, {"renewed", LEASE_EV_RENEWED, false},
        {"unleased", LEASE_EV_UNLEASED, true}, {"lost", LEASE_EV_LOST, true}, {"released", LEASE_EV_RELEASED, false},
        {"fail", LEASE_EV_FAIL, true},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t len = strlen(kinds[i].word);
        if (strncmp(line, kinds[i].word, len) != 0 || (line[len] != ' ' && line[len] != '\0'))
            continue;
        out->kind = kinds[i].kind;
        char *p = line + len;
        if (kinds[i].number) {
            char *end = NULL;
            out->index = strtol(p, &end, 10);
            if (end == p)
                return -1;
            p = end;
        }
        while (*p == ' ')
            p++;
        out->text = p;
        return 0;
    }
    return -1;
}
