/* SPDX-License-Identifier: MIT */
#include "json_text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_escape(const char *s, char *out, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    for (; *s != '\0' && used + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[used++] = '\\';
            out[used++] = (char)c;
        } else if (c < 0x20) {
            used += (size_t)snprintf(out + used, size - used, "\\u%04x", c);
        } else {
            out[used++] = (char)c;
        }
    }
    out[used] = '\0';
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
