/* SPDX-License-Identifier: MIT */
/*
 * Parsers for the value kinds that appear in flags and environment
 * variables: durations ("500ms", "10s", "5m", "1h", bare number = seconds),
 * booleans (1/0, true/false, on/off, yes/no) and signal names ("TERM",
 * "SIGTERM", "15"). Each returns 0 on success and -1 on a malformed value,
 * leaving the output untouched.
 */
#ifndef LSINIT_PARSE_H
#define LSINIT_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Parses a duration into milliseconds. Accepts ns/us/ms/s/m/h units and
 * sequences like "1m30s"; fractions like "1.5s". Negative values are errors. */
int parse_duration_ms(const char *text, int64_t *out_ms);

/* Formats milliseconds as a Go/Litestream duration ("1500ms", "10s", "5m"). */
void format_duration(int64_t ms, char *buf, unsigned long size);

int parse_bool(const char *text, bool *out);

/* Parses a signal name or number (1..SIGRTMAX); "0" is allowed when
 * allow_zero is set (meaning "drop"). */
int parse_signal(const char *text, bool allow_zero, int *out_sig);

/* "TERM" for SIGTERM; "RT3" for real-time ones; "?" when unknown. */
const char *signal_name(int sig, char *buf, unsigned long size);

/* Parses a decimal integer in [min, max]. */
int parse_int_range(const char *text, long min, long max, long *out);

/* Litestream 0.5's LTX file name "<min>-<max>.ltx" (16 hex digits each): its max TXID into *max_txid.
 * -1 (untouched) for any other name. */
int parse_ltx_name(const char *name, uint64_t *max_txid);

#endif
