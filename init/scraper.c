/* SPDX-License-Identifier: MIT */
#include "scraper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "health_state.h"
#include "hostport.h"
#include "json_text.h"
#include "metrics_client.h"
#include "parse.h"

#define SCRAPE_TIMEOUT_MS 2000
#define SCRAPE_MAX_BODY ((size_t)2 * 1024 * 1024)

enum scrape_state { SCRAPE_IDLE, SCRAPE_CONNECTING, SCRAPE_READING };

/*
 * One scrape: GET /metrics over TCP, then on Litestream 0.5 (whose metrics
 * have no replica position) one POST /sync {"wait":false} per database over
 * its control socket, which answers the local txid and the replica's
 * (replicated_txid) and does only the local WAL step Litestream runs every
 * second anyway, then one GET /list for each database's last_sync_at (the end
 * of its replica's last successful upload). step: -1 metrics, 0..n-1 the
 * database being asked, n the list.
 */
struct scraper {
    struct sockaddr_in addr;
    struct sockaddr_un unix_addr;
    bool use_socket;
    int step;
    char host[128];
    int64_t interval_ms;
    int64_t next_at;
    int64_t deadline;
    enum scrape_state state;
    int fd;
    char *buf;
    size_t len;
    size_t cap;
    struct health_state *health;
};

struct scraper *scraper_new(const char *metrics_addr, const char *socket_path, struct health_state *health,
                            int64_t interval_ms, int64_t now)
{
    struct hostport hp;
    if (hostport_split(metrics_addr, &hp) != HOSTPORT_OK || !hp.has_port || hp.port < 1)
        return NULL;
    struct scraper *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->addr.sin_family = AF_INET;
    s->addr.sin_port = htons((uint16_t)hp.port);
    /* Litestream's addr: as a place to connect to: a wildcard or a name is this machine's loopback. */
    if (inet_pton(AF_INET, hp.host, &s->addr.sin_addr) != 1 || s->addr.sin_addr.s_addr == htonl(INADDR_ANY))
        s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    snprintf(s->host, sizeof(s->host), "%s", metrics_addr);
    if (socket_path != NULL && socket_path[0] != '\0' && strlen(socket_path) < sizeof(s->unix_addr.sun_path)) {
        s->unix_addr.sun_family = AF_UNIX;
        memcpy(s->unix_addr.sun_path, socket_path, strlen(socket_path) + 1);
        s->use_socket = true;
    }
    s->health = health;
    s->step = -1;
    s->interval_ms = interval_ms;
    s->next_at = now + 1000;
    s->fd = -1;
    return s;
}

static void scraper_close(struct scraper *s, int64_t now)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->state = SCRAPE_IDLE;
    s->len = 0;
    s->step = -1;
    s->next_at = now + s->interval_ms;
}

void scraper_free(struct scraper *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s);
}

int scraper_fd(const struct scraper *s) { return s->fd; }

nfds_t scraper_poll_fds(struct scraper *s, struct pollfd *fds, nfds_t room)
{
    if (room < 1 || s->fd < 0)
        return 0;
    fds[0] = (struct pollfd){.fd = s->fd, .events = s->state == SCRAPE_CONNECTING ? POLLOUT : POLLIN};
    return 1;
}

int64_t scraper_next_deadline(const struct scraper *s) { return s->state == SCRAPE_IDLE ? s->next_at : s->deadline; }

/* Applies one metrics text to every database's replication progress. */
static void scraper_apply(struct scraper *s, const char *text)
{
    struct health_state *h = s->health;
    int64_t wall = (int64_t)time(NULL);
    for (size_t i = 0; i < h->db_count; i++) {
        struct db_health *d = &h->dbs[i];
        double count = 0, errors = 0;
        if (metrics_find(text, "litestream_sync_count", d->path, &count) != 0)
            continue;
        (void)metrics_find(text, "litestream_sync_error_count", d->path, &errors);
        if (!d->scraped || count > d->sync_count)
            d->sync_moved_unix = wall;
        d->sync_errors_previous = d->scraped ? d->sync_errors : errors;
        d->sync_count = count;
        d->sync_errors = errors;
        double local[2], remote[2];
        if (metrics_positions(text, d->path, local, remote) == 0) {
            d->shadow_index = local[0];
            d->shadow_size = local[1];
            d->replica_index = remote[0];
            d->replica_offset = remote[1];
            d->caught_up = remote[0] > local[0] || (remote[0] == local[0] && remote[1] >= local[1]);
            /*
             * Lag is the age of the newest local position the replica has
             * reached: now if it is current, else the previous read's time if
             * it has reached that (a busy database is never exactly current).
             */
            bool reached_prev = d->prev_valid && (remote[0] > d->prev_local[0] ||
                                                  (remote[0] == d->prev_local[0] && remote[1] >= d->prev_local[1]));
            if (d->caught_up)
                d->caught_up_unix = wall;
            else if (reached_prev && d->prev_unix > d->caught_up_unix)
                d->caught_up_unix = d->prev_unix;
            d->prev_local[0] = local[0];
            d->prev_local[1] = local[1];
            d->prev_unix = wall;
            d->prev_valid = true;
        } else if (count >= 1 && !s->use_socket) {
            /* Synced, and no upload position yet: nothing new to upload since start. */
            d->caught_up = true;
            d->caught_up_unix = wall;
        }
        if (!d->scraped && d->caught_up_unix == 0)
            d->caught_up_unix = wall; /* lag counts from the first observation */
        d->scraped = true;
    }
}

static void scraper_start(struct scraper *s, int64_t now)
{
    bool unix_step = s->step >= 0;
    s->fd = socket(unix_step ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        scraper_close(s, now);
        return;
    }
    s->deadline = now + SCRAPE_TIMEOUT_MS;
    int rc = unix_step ? connect(s->fd, (struct sockaddr *)&s->unix_addr, sizeof(s->unix_addr))
                       : connect(s->fd, (struct sockaddr *)&s->addr, sizeof(s->addr));
    if (rc != 0 && errno != EINPROGRESS && errno != EAGAIN) {
        scraper_close(s, now);
        return;
    }
    s->state = SCRAPE_CONNECTING;
}

/*
 * Litestream 0.5: the replica's position against the local one, both TXIDs.
 * Lag is the age of the newest local position the replica has reached, as
 * for 0.3: now when it is current, else the previous read's time if it has
 * reached that read's position.
 */
static void scraper_apply_sync(struct db_health *d, const char *body)
{
    uint64_t txid = 0, replicated = 0;
    if (json_field_u64(body, "txid", &txid) != 0 || json_field_u64(body, "replicated_txid", &replicated) != 0)
        return;
    int64_t wall = (int64_t)time(NULL);
    d->shadow_index = (double)txid;
    d->replica_index = (double)replicated;
    d->caught_up = replicated >= txid;
    bool reached_prev = d->prev_valid && (double)replicated >= d->prev_local[0];
    if (d->caught_up)
        d->caught_up_unix = wall;
    else if (reached_prev && d->prev_unix > d->caught_up_unix)
        d->caught_up_unix = d->prev_unix;
    d->prev_local[0] = (double)txid;
    d->prev_unix = wall;
    d->prev_valid = true;
}

/* "2026-12-02T09:19:37.846550787Z" → seconds since the epoch, or -1. */
static int64_t parse_rfc3339_utc(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int used = 0;
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &used) != 6)
        return -1;
    const char *rest = t + used;
    while (*rest == '.' || (*rest >= '0' && *rest <= '9'))
        rest++;
    if (*rest != 'Z')
        return -1; /* Litestream writes UTC */
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/*
 * Litestream 0.5's GET /list: {"databases":[{"path":…,"status":…,"last_sync_at":…},…]}.
 * A database that is behind has its lag counted from its replica's last
 * successful upload, not from the previous scrape (which would make a busy,
 * healthy replica look up to two scrape intervals behind).
 */
static void scraper_apply_list(struct health_state *h, const char *body)
{
    for (size_t i = 0; i < h->db_count; i++) {
        struct db_health *d = &h->dbs[i];
        char db_e[PATH_MAX * 2], key[PATH_MAX * 2 + 16];
        json_escape(d->path, db_e, sizeof(db_e));
        snprintf(key, sizeof(key), "\"path\":\"%s\"", db_e);
        const char *at = strstr(body, key);
        if (at == NULL)
            continue;
        const char *end = strchr(at, '}');
        char when[64];
        if (end == NULL || json_field(at, "last_sync_at", when, sizeof(when)) != 0)
            continue;
        const char *field = strstr(at, "\"last_sync_at\"");
        if (field == NULL || field > end)
            continue;
        int64_t t = parse_rfc3339_utc(when);
        if (t > 0 && !d->caught_up && t > d->caught_up_unix && t <= (int64_t)time(NULL))
            d->caught_up_unix = t;
    }
}

/* After one answer: the next database's sync request, or the end of this scrape. */
static void scraper_advance(struct scraper *s, int64_t now)
{
    int next = s->step + 1;
    if (!s->use_socket || (size_t)next > s->health->db_count) {
        scraper_close(s, now);
        return;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->len = 0;
    s->step = next;
    scraper_start(s, now);
}

void scraper_on_timer(struct scraper *s, int64_t now)
{
    if (s->state == SCRAPE_IDLE && now >= s->next_at) {
        scraper_start(s, now);
    } else if (s->state != SCRAPE_IDLE && now >= s->deadline) {
        s->health->scrapes_failed++;
        scraper_close(s, now);
    }
}

void scraper_on_fd(struct scraper *s, short revents, int64_t now)
{
    if (s->state == SCRAPE_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if ((revents & (POLLERR | POLLHUP)) != 0 || getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
            err != 0) {
            s->health->scrapes_failed++;
            scraper_close(s, now);
            return;
        }
        char req[PATH_MAX * 2 + 256];
        int n;
        if (s->step < 0) {
            n = snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\nAccept: text/plain\r\n\r\n", s->host);
        } else if ((size_t)s->step == s->health->db_count) {
            n = snprintf(req, sizeof(req), "GET /list HTTP/1.0\r\nHost: litestream\r\n\r\n");
        } else {
            char db_e[PATH_MAX * 2 - 64], body[PATH_MAX * 2];
            json_escape(s->health->dbs[s->step].path, db_e, sizeof(db_e));
            int blen = snprintf(body, sizeof(body), "{\"path\":\"%s\",\"wait\":false}", db_e);
            n = snprintf(req, sizeof(req),
                         "POST /sync HTTP/1.0\r\nHost: litestream\r\nContent-Type: application/json\r\n"
                         "Content-Length: %d\r\n\r\n%s",
                         blen, body);
        }
        /* A request this small fits a fresh socket's buffer in one write. */
        if (n <= 0 || write(s->fd, req, (size_t)n) != (ssize_t)n) {
            s->health->scrapes_failed++;
            scraper_close(s, now);
            return;
        }
        s->state = SCRAPE_READING;
        return;
    }
    for (;;) {
        if (s->cap - s->len < 4096) {
            size_t cap = s->cap == 0 ? 65536 : s->cap * 2;
            char *grown = cap <= SCRAPE_MAX_BODY ? realloc(s->buf, cap + 1) : NULL;
            if (grown == NULL) {
                s->health->scrapes_failed++;
                scraper_close(s, now);
                return;
            }
            s->buf = grown;
            s->cap = cap;
        }
        ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len);
        if (n > 0) {
            s->len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        break; /* EOF or error: HTTP/1.0, the server closed after the body */
    }
    s->buf[s->len] = '\0';
    const char *body = strstr(s->buf, "\r\n\r\n");
    bool ok = strncmp(s->buf, "HTTP/1.", 7) == 0 && strncmp(s->buf + 8, " 200", 4) == 0 && body != NULL;
    if (ok && s->step < 0) {
        scraper_apply(s, body + 4);
        s->health->scrape_ok_ms = now;
    } else if (ok && (size_t)s->step == s->health->db_count) {
        scraper_apply_list(s->health, body + 4);
    } else if (ok) {
        scraper_apply_sync(&s->health->dbs[s->step], body + 4);
    } else if (s->step < 0) {
        s->health->scrapes_failed++;
        scraper_close(s, now);
        return;
    }
    scraper_advance(s, now);
}
