/* SPDX-License-Identifier: MIT */
#include "http_request.h"

#include <string.h>

/* Finds the end of the head: "\r\n\r\n" (or a bare "\n\n", which curl never sends but old tools do). */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n')
            return i + 2;
        if (i + 3 < len && buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return i + 4;
    }
    return 0;
}

static int is_token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* One header line "Name: value" (without its line ending). */
static int header_line_ok(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] != ':') {
        if (!is_token_char(line[i]))
            return 0;
        i++;
    }
    if (i == 0 || i == len)
        return 0;
    for (i++; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

enum http_parse_result http_request_parse(const char *buf, size_t len, struct http_request *req)
{
    size_t scan = len < HTTP_REQUEST_MAX ? len : HTTP_REQUEST_MAX;
    size_t end = head_end(buf, scan);
    if (end == 0)
        return len >= HTTP_REQUEST_MAX ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
    memset(req, 0, sizeof(*req));
    req->head_length = end;

    /* Request line: METHOD SP TARGET SP HTTP/1.x */
    const char *line_end = memchr(buf, '\n', end);
    if (line_end == NULL)
        return HTTP_BAD;
    size_t line_len = (size_t)(line_end - buf);
    if (line_len > 0 && buf[line_len - 1] == '\r')
        line_len--;
    const char *sp1 = memchr(buf, ' ', line_len);
    if (sp1 == NULL || sp1 == buf)
        return HTTP_BAD;
    size_t method_len = (size_t)(sp1 - buf);
    for (size_t i = 0; i < method_len; i++) {
        if (!is_token_char(buf[i]))
            return HTTP_BAD;
    }
    if (method_len == 3 && memcmp(buf, "GET", 3) == 0)
        req->method = HTTP_GET;
    else if (method_len == 4 && memcmp(buf, "HEAD", 4) == 0)
        req->method = HTTP_HEAD;
    else
        req->method = HTTP_OTHER;
    const char *target = sp1 + 1;
    size_t rest = line_len - method_len - 1;
    const char *sp2 = memchr(target, ' ', rest);
    if (sp2 == NULL || sp2 == target)
        return HTTP_BAD;
    size_t target_len = (size_t)(sp2 - target);
    const char *version = sp2 + 1;
    size_t version_len = rest - target_len - 1;
    if (version_len != 8 || memcmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1'))
        return HTTP_BAD;
    req->minor_version = version[7] - '0';
    if (target[0] != '/')
        return HTTP_BAD;
    size_t path_len = 0;
    while (path_len < target_len && target[path_len] != '?')
        path_len++;
    if (path_len >= HTTP_PATH_MAX)
        return HTTP_BAD;
    for (size_t i = 0; i < target_len; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= 0x20 || c >= 0x7f)
            return HTTP_BAD;
    }
    memcpy(req->path, target, path_len);
    req->path[path_len] = '\0';

    /* Headers: each must look like a header; the blank line ends them. */
    const char *p = line_end + 1;
    const char *head_stop = buf + end;
    while (p < head_stop) {
        const char *nl = memchr(p, '\n', (size_t)(head_stop - p));
        if (nl == NULL)
            return HTTP_BAD;
        size_t l = (size_t)(nl - p);
        if (l > 0 && p[l - 1] == '\r')
            l--;
        if (l == 0)
            break;
        if (!header_line_ok(p, l))
            return HTTP_BAD;
        p = nl + 1;
    }
    return HTTP_OK;
}
