/* SPDX-License-Identifier: MIT */
/*
 * The one way a module reports a failure to its caller: one line of text in
 * the caller's buffer (err, err_size) and a return value, written together:
 *
 *     if (bad)
 *         return errbuf_fail(err, err_size, EXIT_CONFIG, "LSINIT_X=%s is not ...", v);
 *
 * The caller logs the line once (log_error("%s", err)) and exits with the
 * code, or passes both up.
 */
#ifndef LSINIT_ERRBUF_H
#define LSINIT_ERRBUF_H

#include <stddef.h>

/*
 * Formats the message into err (truncated to err_size; nothing is written
 * when err_size is 0) and returns code. Control characters in the result
 * (a newline from a ConfigMap value, a tab from a YAML key) become '?', so
 * whatever a quoted value holds, the message stays one log line.
 */
int errbuf_fail(char *err, size_t err_size, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
