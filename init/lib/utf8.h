/* SPDX-License-Identifier: MIT */
/* Is a string well-formed UTF-8? The one validator lsinit uses. */
#ifndef LSINIT_UTF8_H
#define LSINIT_UTF8_H

#include <stdbool.h>

/*
 * True when the NUL-terminated text is well-formed UTF-8 as RFC 3629 and Go's
 * decoder define it: no overlong forms, no surrogates (U+D800..U+DFFF),
 * nothing past U+10FFFF, no truncated sequence. What both of lsinit's
 * consumers accept unchanged: libyaml's emitter (litestream's config) and
 * go-shellwords (Litestream's -exec), which turns each bad byte into U+FFFD.
 */
bool utf8_valid(const char *text);

#endif
