/* SPDX-License-Identifier: MIT */
/*
 * The little JSON lsinit writes and reads: escaping a string into a buffer,
 * and pulling one top-level "key": value out of a flat object (lsinit's own
 * verification lines, Litestream's control-socket answers). Not a general
 * JSON parser: nested objects and arrays are not looked into.
 */
#ifndef LSINIT_JSON_TEXT_H
#define LSINIT_JSON_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Writes s as JSON string contents (no quotes), truncated to fit size. */
void json_escape(const char *s, char *out, size_t size);

/*
 * Copies the value of "key": a string (unescaped; control characters become
 * spaces) or a bare token (number, true, false, null). Returns 0, or -1 when
 * the key is absent.
 */
int json_field(const char *text, const char *key, char *out, size_t size);

/* A non-negative integer field. Returns 0, or -1 when absent or not a number. */
int json_field_u64(const char *text, const char *key, uint64_t *out);

#endif
