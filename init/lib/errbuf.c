/* SPDX-License-Identifier: MIT */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

int errbuf_fail(char *err, size_t err_size, int code, const char *fmt, ...)
{
    if (err == NULL || err_size == 0)
        return code;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    for (char *c = err; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    }
    return code;
}
