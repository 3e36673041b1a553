/* SPDX-License-Identifier: MIT */
#include "health_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostport.h"
#include "http_request.h"
#include "log.h"
#include "parse.h"
#include "health_status.h"

/* A slot's bookkeeping is kept apart from its request buffer: the loop walks every slot on each turn (poll set,
 * deadlines, timers), and 64 small structs share a few cache lines where 64 buffers of 4 KiB spread over 64 pages. */
struct health_conn {
    int fd;
    int64_t deadline;
    size_t in_len;
    char *in; /* HTTP_REQUEST_MAX bytes: the server's in[] row for this slot */
    char *out;
    size_t out_len;
    size_t out_sent;
    /* The client may still be sending (a body, a second request, a head too large): after the answer, read
     * and drop its bytes until it closes. Closing a socket with unread input makes Linux send RST, and a
     * client can then lose the answer it had not read yet. Probes (a GET head, nothing after it) skip it. */
    bool linger;
    bool draining;
    size_t drained;
};

struct health_server {
    int listen_fd;
    int port;
    health_respond_fn respond;
    void *ctx;
    unsigned long *requests, *rejected;
    struct health_conn conns[HEALTH_MAX_CONNS];
    char in[HEALTH_MAX_CONNS][HTTP_REQUEST_MAX];
};

struct health_server *health_server_listen(const char *addr, const struct health_routes *routes, char *err,
                                           size_t err_size)
{
    struct hostport hp;
    if (hostport_split(addr, &hp) != HOSTPORT_OK || !hp.has_port) {
        snprintf(err, err_size, "LSINIT_HEALTH_ADDR=%s needs HOST:PORT, e.g. 0.0.0.0:9091 or 127.0.0.1:9091", addr);
        return NULL;
    }
    long port = hp.port;
    const char *host = hp.host;
    size_t host_len = strlen(host);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t ss_len;
    int family;
    if (host_len == 0 || hp.bracketed) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        a6->sin6_addr = in6addr_any;
        if (host_len > 0 && strcmp(host, "::") != 0 && inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            snprintf(err, err_size, "LSINIT_HEALTH_ADDR=%s: '%s' is not an IPv6 address", addr, host);
            return NULL;
        }
        family = AF_INET6;
        ss_len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (strcmp(host, "localhost") == 0)
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
            snprintf(err, err_size, "LSINIT_HEALTH_ADDR=%s: '%s' is not an IPv4 address (use 0.0.0.0 for all)", addr,
                     host);
            return NULL;
        }
        family = AF_INET;
        ss_len = sizeof(*a4);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "LSINIT_HEALTH_ADDR=%s: socket: %s", addr, strerror(errno));
        return NULL;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6) {
        int zero = 0; /* [::] also takes IPv4, as Kubernetes and Fly expect */
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (bind(fd, (struct sockaddr *)&ss, ss_len) != 0 || listen(fd, 128) != 0) {
        snprintf(err, err_size, "LSINIT_HEALTH_ADDR=%s: cannot listen: %s (set another port, or off)", addr,
                 strerror(errno));
        close(fd);
        return NULL;
    }
    struct health_server *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        close(fd);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    h->listen_fd = fd;
    h->respond = routes->respond;
    h->ctx = routes->ctx;
    h->requests = routes->requests;
    h->rejected = routes->rejected;
    for (size_t i = 0; i < HEALTH_MAX_CONNS; i++) {
        h->conns[i].fd = -1;
        h->conns[i].in = h->in[i];
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0)
        h->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    return h;
}

int health_server_port(const struct health_server *h) { return h->port; }

static void conn_close(struct health_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    c->fd = -1;
    c->out = NULL;
    c->in_len = c->out_len = c->out_sent = c->drained = 0;
    c->linger = c->draining = false;
}

void health_server_free(struct health_server *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < HEALTH_MAX_CONNS; i++)
        conn_close(&h->conns[i]);
    close(h->listen_fd);
    free(h);
}

nfds_t health_server_poll_fds(struct health_server *h, struct pollfd *fds, nfds_t room)
{
    nfds_t n = 0;
    if (room == 0)
        return 0;
    fds[n++] = (struct pollfd){.fd = h->listen_fd, .events = POLLIN};
    for (size_t i = 0; i < HEALTH_MAX_CONNS && n < room; i++) {
        const struct health_conn *c = &h->conns[i];
        if (c->fd >= 0)
            fds[n++] = (struct pollfd){.fd = c->fd, .events = c->out != NULL ? POLLOUT : POLLIN};
    }
    return n;
}

int64_t health_server_next_deadline(const struct health_server *h)
{
    int64_t next = 0;
    for (size_t i = 0; i < HEALTH_MAX_CONNS; i++) {
        if (h->conns[i].fd >= 0 && (next == 0 || h->conns[i].deadline < next))
            next = h->conns[i].deadline;
    }
    return next;
}

void health_server_on_timer(struct health_server *h, int64_t now)
{
    for (size_t i = 0; i < HEALTH_MAX_CONNS; i++) {
        if (h->conns[i].fd >= 0 && now >= h->conns[i].deadline) {
            if (!h->conns[i].draining) /* answered already: a client slow to close is not a rejection */
                (*h->rejected)++;
            conn_close(&h->conns[i]);
        }
    }
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* Builds the whole response (head + body) in one buffer for non-blocking writes. */
static void conn_prepare(struct health_conn *c, int status, const char *type, const char *body, size_t body_len,
                         int minor, int head_only)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.%d %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n%s\r\n",
                     minor, status, reason_phrase(status), type, body_len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
    size_t total = (size_t)n + (head_only ? 0 : body_len);
    c->out = malloc(total);
    if (c->out == NULL) {
        conn_close(c);
        return;
    }
    memcpy(c->out, head, (size_t)n);
    if (!head_only && body_len > 0)
        memcpy(c->out + n, body, body_len);
    c->out_len = total;
    c->out_sent = 0;
}

static void conn_write(struct health_conn *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_close(c);
        return;
    }
    free(c->out);
    c->out = NULL;
    if (c->linger && shutdown(c->fd, SHUT_WR) == 0) {
        c->draining = true; /* the answer ends with our FIN; the client's bytes are read until its own */
        return;
    }
    conn_close(c);
}

/* Reads and drops what a client sends after its answer, until it closes, HEALTH_DRAIN_MAX bytes, or the deadline. */
static void conn_drain(struct health_conn *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n > 0) {
            c->drained += (size_t)n;
            if (c->drained <= HEALTH_DRAIN_MAX)
                continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        conn_close(c);
        return;
    }
}

static void conn_read(struct health_server *h, struct health_conn *c)
{
    bool eof = false;
    struct http_request req;
    enum http_parse_result r = HTTP_INCOMPLETE;
    for (;;) {
        if (c->in_len == HTTP_REQUEST_MAX)
            break;
        ssize_t n = recv(c->fd, c->in + c->in_len, HTTP_REQUEST_MAX - c->in_len, MSG_DONTWAIT);
        if (n > 0) {
            c->in_len += (size_t)n;
            /* A whole head is there (the usual case: one segment): no second recv just to hear EAGAIN. */
            r = http_request_parse(c->in, c->in_len, &req);
            if (r != HTTP_INCOMPLETE)
                break;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        /* EOF (a client may half-close after its request) or an error. */
        eof = true;
        break;
    }
    if (r == HTTP_INCOMPLETE)
        r = http_request_parse(c->in, c->in_len, &req);
    if (r == HTTP_INCOMPLETE) {
        if (eof)
            conn_close(c);
        return;
    }
    (*h->requests)++;
    /* Anything but a GET/HEAD head that is all we were sent may be followed by more bytes (see linger). */
    c->linger = !eof && (r != HTTP_OK || req.method == HTTP_OTHER || c->in_len > req.head_length);
    if (r == HTTP_BAD) {
        const char *msg = "bad request\n";
        conn_prepare(c, 400, "text/plain; charset=utf-8", msg, strlen(msg), 0, 0);
    } else if (r == HTTP_TOO_LARGE) {
        const char *msg = "request head too large\n";
        conn_prepare(c, 431, "text/plain; charset=utf-8", msg, strlen(msg), 0, 0);
    } else {
        struct http_response resp;
        if (h->respond(h->ctx, &req, &resp) != 0) {
            const char *msg = "out of memory\n";
            conn_prepare(c, 500, "text/plain; charset=utf-8", msg, strlen(msg), req.minor_version, 0);
        } else {
            conn_prepare(c, resp.status, resp.content_type, resp.body, resp.body_len, req.minor_version,
                         req.method == HTTP_HEAD);
        }
        free(resp.body);
    }
    if (c->fd >= 0 && c->out != NULL)
        conn_write(c);
}

static void server_accept(struct health_server *h, int64_t now)
{
    for (;;) {
        int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error: poll will tell us again */
        struct health_conn *slot = NULL;
        for (size_t i = 0; i < HEALTH_MAX_CONNS && slot == NULL; i++) {
            if (h->conns[i].fd < 0)
                slot = &h->conns[i];
        }
        if (slot == NULL) {
            /* At the cap: refuse rather than queue, so the loop stays bounded. */
            (*h->rejected)++;
            close(fd);
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        slot->fd = fd;
        slot->deadline = now + HEALTH_CONN_TIMEOUT_MS;
        slot->in_len = slot->drained = 0;
        slot->out = NULL;
        slot->linger = slot->draining = false;
    }
}

void health_server_on_fd(struct health_server *h, int fd, short revents, int64_t now)
{
    if (fd == h->listen_fd) {
        server_accept(h, now);
        return;
    }
    for (size_t i = 0; i < HEALTH_MAX_CONNS; i++) {
        struct health_conn *c = &h->conns[i];
        if (c->fd != fd)
            continue;
        if (c->out != NULL)
            conn_write(c);
        else if (c->draining)
            conn_drain(c);
        else if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0)
            conn_read(h, c);
        return;
    }
}
