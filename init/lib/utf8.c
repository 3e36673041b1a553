/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <stddef.h>

bool utf8_valid(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s != '\0') {
        unsigned char b = *s, lo = 0x80, hi = 0xbf;
        size_t need;
        if (b < 0x80) {
            s++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            need = 1;
        } else if (b == 0xe0) {
            need = 2;
            lo = 0xa0; /* no overlong forms */
        } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
            need = 2;
        } else if (b == 0xed) {
            need = 2;
            hi = 0x9f; /* no surrogates */
        } else if (b == 0xf0) {
            need = 3;
            lo = 0x90;
        } else if (b >= 0xf1 && b <= 0xf3) {
            need = 3;
        } else if (b == 0xf4) {
            need = 3;
            hi = 0x8f; /* nothing past U+10FFFF */
        } else {
            return false; /* a continuation byte, 0xc0/0xc1 (overlong) or 0xf5.. */
        }
        /* The NUL terminator is below every range, so a truncated sequence stops here. */
        if (s[1] < lo || s[1] > hi)
            return false;
        for (size_t i = 2; i <= need; i++) {
            if (s[i] < 0x80 || s[i] > 0xbf)
                return false;
        }
        s += need + 1;
    }
    return true;
}
