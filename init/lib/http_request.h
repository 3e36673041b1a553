/* SPDX-License-Identifier: MIT */
/*
 * A strict, bounded parser for the HTTP/1.0 and 1.1 requests the health
 * endpoint answers. It only needs the method, the path and the version;
 * headers are checked for shape and skipped. Fuzzed by tests/fuzz.
 */
#ifndef LSINIT_HTTP_REQUEST_H
#define LSINIT_HTTP_REQUEST_H

#include <stddef.h>

#define HTTP_REQUEST_MAX 4096
#define HTTP_PATH_MAX 256

enum http_parse_result {
    HTTP_INCOMPLETE = 0, /* need more bytes */
    HTTP_OK = 1,         /* a full request head was parsed */
    HTTP_BAD = -1,       /* malformed: answer 400 */
    HTTP_TOO_LARGE = -2, /* head larger than HTTP_REQUEST_MAX: answer 431 */
};

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

struct http_request {
    enum http_method method;
    char path[HTTP_PATH_MAX]; /* without the query string */
    int minor_version;        /* 0 or 1 */
    size_t head_length;       /* bytes up to and including the blank line */
};

/* Parses buf[0..len). Never reads past len; never writes past req. */
enum http_parse_result http_request_parse(const char *buf, size_t len, struct http_request *req);

#endif
