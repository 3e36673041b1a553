/* SPDX-License-Identifier: MIT */
/*
 * The little text handling lsinit's answers and pipes need:
 *   - a growing text buffer (text_buf) for answers built piece by piece
 *     (the health endpoint's JSON and /metrics);
 *   - JSON strings: escaping into a fixed buffer or onto a text_buf, and
 *     pulling one top-level "key": value out of a flat object (lsinit's own
 *     verification lines, Litestream's control-socket answers). Not a
 *     general JSON parser: nested objects and arrays are not looked into;
 *   - a line reader for pipes that carry one message a line (the
 *     verification child's JSON lines, the shim's reports).
 */
#ifndef LSINIT_JSON_TEXT_H
#define LSINIT_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- text_buf ---------------------------------------------------------- */

/* Zero-initialise (struct text_buf b = {0}), append, use data and len, text_buf_free. */
struct text_buf {
    char *data; /* NUL-terminated once anything was appended; NULL before */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed: the text is incomplete; later appends do nothing */
};

void text_buf_printf(struct text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string, quotes included: " and \ escaped, control characters as \u00XX. */
void text_buf_json_string(struct text_buf *b, const char *s);

void text_buf_free(struct text_buf *b);

/* ---- JSON strings --------------------------------------------------------- */

/* Writes s as JSON string contents (no quotes), truncated to fit size; the same escapes as text_buf_json_string. */
void json_escape(const char *s, char *out, size_t size);

/*
 * Copies the value of "key": a string (unescaped; control characters become
 * spaces) or a bare token (number, true, false, null). Returns 0, or -1 when
 * the key is absent.
 */
int json_field(const char *text, const char *key, char *out, size_t size);

/* A non-negative integer field. Returns 0, or -1 when absent or not a number. */
int json_field_u64(const char *text, const char *key, uint64_t *out);

/* ---- lines from a pipe ------------------------------------------------------ */

struct line_reader {
    char *buf; /* the caller's buffer: a line longer than size - 1 bytes is dropped */
    size_t size;
    size_t len; /* bytes of an unfinished line held in buf */
};

/*
 * Reads what fd has and calls on_line(line, ctx) for each complete line, its
 * '\n' replaced by NUL; keeps an unfinished line for the next call. Retries
 * EINTR. Returns 0 at end of file, 1 when fd has nothing more for now
 * (EAGAIN on a non-blocking fd), -1 on another read error (errno set).
 */
int line_reader_drain(struct line_reader *r, int fd, void (*on_line)(char *line, void *ctx), void *ctx);

/* The other end: one line (newlines inside become spaces, cut at 1 KiB) in one write, so lines from a
 * child never interleave on a pipe (under PIPE_BUF). */
void line_write(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
