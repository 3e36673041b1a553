/* SPDX-License-Identifier: MIT */
/*
 * libcurl the lsinit way (init/lib/http_easy.c) through the bounded fetch
 * (init/lib/http_fetch.c), against a one-shot HTTP server on 127.0.0.1: the
 * body arrives, a proxy in the environment is ignored (loopback reads), a
 * silent server times out, an option libcurl refuses gives NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_easy.h"
#include "http_fetch.h"

struct server {
    pid_t pid;
    int port;
};

/* Answers one request with answer (NULL: read it and say nothing for a while). */
static struct server server_start(const char *answer)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    struct server s = {.pid = fork(), .port = ntohs(a.sin_port)};
    assert_true(s.pid >= 0);
    if (s.pid == 0) {
        int c = accept(fd, NULL, NULL);
        char req[4096];
        size_t used = 0;
        while (c >= 0 && used < sizeof(req) - 1) {
            ssize_t n = read(c, req + used, sizeof(req) - 1 - used);
            if (n <= 0)
                break;
            used += (size_t)n;
            req[used] = '\0';
            if (strstr(req, "\r\n\r\n") != NULL)
                break;
        }
        if (answer != NULL)
            (void)!write(c, answer, strlen(answer));
        else
            sleep(5);
        _exit(0);
    }
    close(fd);
    return s;
}

static void server_stop(struct server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

static void test_fetch_body_ignoring_proxy(void **state)
{
    (void)state;
    struct server s = server_start("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    /* A proxy that does not exist: lsinit's loopback reads must not go through it. */
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", s.port);
    struct http_fetch req = {.url = url, .timeout_ms = 5000};
    char *body = NULL;
    assert_int_equal(http_fetch(&req, &body), 200);
    assert_non_null(body);
    assert_string_equal(body, "hello");
    free(body);
    unsetenv("http_proxy");
    unsetenv("ALL_PROXY");
    server_stop(&s);
}

static void test_fetch_status_and_timeout(void **state)
{
    (void)state;
    struct server s =
        server_start("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/sync", s.port);
    struct http_fetch req = {.url = url, .post_body = "{}", .timeout_ms = 5000};
    char *body = NULL;
    assert_int_equal(http_fetch(&req, &body), 503);
    assert_string_equal(body, "busy");
    free(body);
    server_stop(&s);

    s = server_start(NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", s.port);
    struct http_fetch slow = {.url = url, .timeout_ms = 200};
    body = (char *)"untouched";
    assert_int_equal(http_fetch(&slow, &body), 0); /* no answer in time */
    assert_null(body);
    server_stop(&s);
}

static void test_fetch_refuses_other_protocols(void **state)
{
    (void)state;
    struct http_fetch req = {.url = "file:///etc/hostname", .timeout_ms = 1000};
    char *body = NULL;
    assert_int_equal(http_fetch(&req, &body), 0);
    assert_null(body);
}

static void test_easy_new(void **state)
{
    (void)state;
    char err[CURL_ERROR_SIZE];
    err[0] = 'x';
    const struct http_easy ok = {
        .url = "https://example.invalid/",
        .connect_timeout_ms = 1000,
        .timeout_ms = 2000,
        .protocols = "http,https",
        .max_redirects = 10,
        .no_proxy = true,
        .ca_bundle = "/nonexistent/ca.pem", /* checked when a request is made, not here */
        .user_agent = "lsinit-test",
        .error_buffer = err,
    };
    CURL *c = http_easy_new(&ok);
    assert_non_null(c);
    assert_int_equal(err[0], '\0');
    curl_easy_cleanup(c);
    const struct http_easy bad = {.url = "http://127.0.0.1/", .protocols = "no-such-protocol"};
    assert_null(http_easy_new(&bad));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_body_ignoring_proxy),
        cmocka_unit_test(test_fetch_status_and_timeout),
        cmocka_unit_test(test_fetch_refuses_other_protocols),
        cmocka_unit_test(test_easy_new),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
