/* SPDX-License-Identifier: MIT */
/*
 * The UTF-8 validator (init/lib/utf8.c) that guards litestream's YAML config
 * and the -exec string: checked case by case, and against a decoder written
 * the other way round (decode the code point, then ask whether its encoding
 * was the shortest and the value allowed) for every sequence of up to three
 * bytes and many random four-byte ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static void test_valid_text(void **state)
{
    (void)state;
    assert_true(utf8_valid(""));
    assert_true(utf8_valid("plain ascii /data/app.db"));
    assert_true(utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80"));
    assert_true(utf8_valid("\xe2\x82\xac"));     /* U+20AC */
    assert_true(utf8_valid("\xed\x9f\xbf"));     /* U+D7FF, just below the surrogates */
    assert_true(utf8_valid("\xee\x80\x80"));     /* U+E000, just above them */
    assert_true(utf8_valid("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
    assert_true(utf8_valid("\xc2\x80"));         /* U+0080, the first two-byte one */
}

static void test_invalid_text(void **state)
{
    (void)state;
    assert_false(utf8_valid("caf\xe9"));          /* Latin-1 */
    assert_false(utf8_valid("\xc0\xaf"));         /* overlong '/' */
    assert_false(utf8_valid("\xc1\xbf"));         /* overlong */
    assert_false(utf8_valid("\xe0\x80\xaf"));     /* overlong, three bytes */
    assert_false(utf8_valid("\xf0\x80\x80\xaf")); /* overlong, four bytes */
    assert_false(utf8_valid("\xed\xa0\x80"));     /* surrogate U+D800 */
    assert_false(utf8_valid("\xed\xbf\xbf"));     /* surrogate U+DFFF */
    assert_false(utf8_valid("\xf4\x90\x80\x80")); /* > U+10FFFF */
    assert_false(utf8_valid("\xf5\x80\x80\x80"));
    assert_false(utf8_valid("\xff"));
    assert_false(utf8_valid("\x80"));         /* a lone continuation byte */
    assert_false(utf8_valid("\xe2\x82"));     /* truncated */
    assert_false(utf8_valid("\xf0\x9f\x98")); /* truncated */
    assert_false(utf8_valid("\xe2\x82x"));    /* continuation missing */
}

/* The reference: decode first, judge the code point after. 1 valid, 0 invalid. */
static bool reference_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        size_t len;
        uint32_t cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            len = 2;
            cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            len = 3;
            cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            len = 4;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static void agree(const unsigned char *bytes, size_t n)
{
    char text[8];
    memcpy(text, bytes, n);
    text[n] = '\0';
    bool want = reference_valid(bytes, n), got = utf8_valid(text);
    if (want != got)
        print_error("%zu bytes %02x %02x %02x %02x: utf8_valid %d, reference %d\n", n, bytes[0], n > 1 ? bytes[1] : 0,
                    n > 2 ? bytes[2] : 0, n > 3 ? bytes[3] : 0, got, want);
    assert_int_equal(got, want);
}

static void test_agrees_with_reference(void **state)
{
    (void)state;
    unsigned char b[4];
    for (unsigned v = 1; v < 0x100; v++) {
        b[0] = (unsigned char)v;
        agree(b, 1);
    }
    for (unsigned v = 0; v < 0x10000; v++) {
        b[0] = (unsigned char)(v >> 8);
        b[1] = (unsigned char)v;
        if (b[0] != 0 && b[1] != 0)
            agree(b, 2);
    }
    /* Three bytes: every lead byte from 0xc0, every second and third byte. */
    for (unsigned v = 0xc00000; v < 0x1000000; v++) {
        b[0] = (unsigned char)(v >> 16);
        b[1] = (unsigned char)(v >> 8);
        b[2] = (unsigned char)v;
        if (b[1] != 0 && b[2] != 0)
            agree(b, 3);
    }
    /* Four bytes: lead 0xf0..0xf7 with continuation-ish bytes, sampled. */
    unsigned seed = 4242;
    for (int i = 0; i < 2000000; i++) {
        b[0] = (unsigned char)(0xf0 + rand_r(&seed) % 8);
        for (int k = 1; k < 4; k++)
            b[k] = (unsigned char)(0x70 + rand_r(&seed) % 0x60);
        agree(b, 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_text),
        cmocka_unit_test(test_invalid_text),
        cmocka_unit_test(test_agrees_with_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
