/* SPDX-License-Identifier: MIT */
/*
 * Reference HTTP server for bench/run (benchmark C10), compiled by bench/run
 * with cc -O2: the least a server can do per request on this machine, to
 * tell the machine's floor (loopback TCP, wrk, the scheduler) from lsinit's
 * own cost. bench/run keeps it running beside lsinit, Litestream and the app
 * and measures it interleaved with lsinit's endpoint (same neighbours, same
 * pacing, same client).
 *
 *   httpfloor PORT            serve on 127.0.0.1:PORT until killed
 *
 * Single-threaded poll() loop like lsinit's health endpoint: accept, read the
 * request head, answer a fixed "200 ok" with Connection: close, close. No
 * parsing, no routing, no connection cap, no deadlines: it does less than
 * lsinit, never more.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 256

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: httpfloor PORT\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 128) != 0) {
        perror("httpfloor: bind/listen");
        return 1;
    }
    struct pollfd fds[MAX_CONNS + 1];
    int conns[MAX_CONNS];
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i] = -1;
    for (;;) {
        nfds_t n = 0;
        fds[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < MAX_CONNS; i++) {
            if (conns[i] >= 0)
                fds[n++] = (struct pollfd){.fd = conns[i], .events = POLLIN};
        }
        if (poll(fds, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (nfds_t k = 1; k < n; k++) {
            if (fds[k].revents == 0)
                continue;
            char buf[4096];
            ssize_t got = recv(fds[k].fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (got > 0)
                (void)send(fds[k].fd, RESPONSE, sizeof(RESPONSE) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (got >= 0 || (errno != EAGAIN && errno != EINTR)) {
                for (int i = 0; i < MAX_CONNS; i++) {
                    if (conns[i] == fds[k].fd)
                        conns[i] = -1;
                }
                close(fds[k].fd);
            }
        }
        if (fds[0].revents != 0) {
            for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    break;
                int slot = -1;
                for (int i = 0; i < MAX_CONNS && slot < 0; i++) {
                    if (conns[i] < 0)
                        slot = i;
                }
                if (slot < 0) {
                    close(fd);
                    continue;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                conns[slot] = fd;
            }
        }
    }
}
