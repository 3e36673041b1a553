/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * The level is the one piece of process-wide state outside the supervisor's
 * struct: it is written once, before any child exists, and only read after.
 */
static enum log_level log_threshold = LOG_INFO;

void log_set_level(enum log_level level) { log_threshold = level; }

enum log_level log_get_level(void) { return log_threshold; }

static const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO: return "INFO";
    case LOG_WARN: return "WARN";
    case LOG_ERROR: return "ERROR";
    default: return "LOG";
    }
}

/*
 * Formats the whole line into one buffer and writes it with a single write(2)
 * so that lines from lsinit, litestream and the app never interleave mid-line.
 */
void log_write(enum log_level level, const char *fmt, ...)
{
    if (level < log_threshold)
        return;
    int saved_errno = errno;
    char line[1024];
    int n = snprintf(line, sizeof(line), "lsinit[%ld] %s: ", (long)getpid(), log_level_name(level));
    if (n < 0)
        n = 0;
    size_t used = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    va_list ap;
    va_start(ap, fmt);
    errno = saved_errno;
    int m = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
    va_end(ap);
    if (m > 0)
        used += (size_t)m < sizeof(line) - used ? (size_t)m : sizeof(line) - used - 1;
    if (used >= sizeof(line) - 1)
        used = sizeof(line) - 2;
    line[used++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, used);
    (void)ignored;
    errno = saved_errno;
}
