/* SPDX-License-Identifier: MIT */
#include "json_text.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* c as it goes inside a JSON string, into out (at least 7 bytes); returns the length. */
static size_t json_escape_char(unsigned char c, char *out)
{
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c < 0x20)
        return (size_t)snprintf(out, 7, "\\u%04x", c);
    out[0] = (char)c;
    return 1;
}

void json_escape(const char *s, char *out, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    for (; *s != '\0' && used + 7 < size; s++)
        used += json_escape_char((unsigned char)*s, out + used);
    out[used] = '\0';
}

void text_buf_printf(struct text_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->data != NULL ? b->data + b->len : NULL, b->data != NULL ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->data != NULL && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
}

void text_buf_json_string(struct text_buf *b, const char *s)
{
    char chunk[256];
    size_t used = 0;
    chunk[used++] = '"';
    for (; *s != '\0'; s++) {
        if (used + 8 > sizeof(chunk)) {
            text_buf_printf(b, "%.*s", (int)used, chunk);
            used = 0;
        }
        used += json_escape_char((unsigned char)*s, chunk + used);
    }
    chunk[used++] = '"';
    text_buf_printf(b, "%.*s", (int)used, chunk);
}

void text_buf_free(struct text_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int json_field(const char *text, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    const char *p = strstr(text, pattern);
    if (p == NULL || size == 0)
        return -1;
    p += strlen(pattern);
    while (*p == ' ')
        p++;
    size_t used = 0;
    if (*p == '"') {
        for (p++; *p != '\0' && *p != '"' && used + 1 < size; p++) {
            char c = *p;
            if (c == '\\' && p[1] != '\0') {
                c = *++p;
                if (c == 'n' || c == 'r' || c == 't') {
                    c = ' ';
                } else if (c == 'u' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
                           isxdigit((unsigned char)p[3]) && isxdigit((unsigned char)p[4])) {
                    /* json_escape writes control characters as \u00XX: one line of text here */
                    char hex[5] = {p[1], p[2], p[3], p[4], '\0'};
                    long v = strtol(hex, NULL, 16);
                    c = (v < 0x20 || v >= 0x7f) ? ' ' : (char)v;
                    p += 4;
                }
            }
            out[used++] = c;
        }
    } else {
        while (*p != '\0' && *p != ',' && *p != '}' && *p != '\n' && used + 1 < size)
            out[used++] = *p++;
    }
    out[used] = '\0';
    return 0;
}

int json_field_u64(const char *text, const char *key, uint64_t *out)
{
    char value[32];
    if (json_field(text, key, value, sizeof(value)) != 0 || !isdigit((unsigned char)value[0]))
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno != 0 || (*end != '\0' && *end != ' '))
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int line_reader_drain(struct line_reader *r, int fd, void (*on_line)(char *line, void *ctx), void *ctx)
{
    for (;;) {
        ssize_t n = read(fd, r->buf + r->len, r->size - 1 - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return 0;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        r->len += (size_t)n;
        r->buf[r->len] = '\0';
        char *start = r->buf, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            on_line(start, ctx);
            start = nl + 1;
        }
        size_t left = r->len - (size_t)(start - r->buf);
        memmove(r->buf, start, left);
        /* A full buffer without a newline: a line this long is not one of ours. */
        r->len = left >= r->size - 1 ? 0 : left;
    }
}

void line_write(int fd, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    for (int i = 0; i < n; i++) {
        if (line[i] == '\n')
            line[i] = ' ';
    }
    line[n++] = '\n';
    (void)!write(fd, line, (size_t)n);
}
