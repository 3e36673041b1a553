/* SPDX-License-Identifier: MIT */
/*
 * One logging function for all of lsinit. Every line goes to stderr as
 * "lsinit[pid] LEVEL: message" so it greps well next to the app's own logs.
 * The function saves and restores errno, so callers can use %m.
 */
#ifndef LSINIT_LOG_H
#define LSINIT_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_QUIET = 4 };

/* The threshold below which messages are dropped. Set once during start-up. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                                                 \
    do {                                                                                                               \
        log_write(LOG_DEBUG, __VA_ARGS__);                                                                             \
    } while (0)
#define log_info(...)                                                                                                  \
    do {                                                                                                               \
        log_write(LOG_INFO, __VA_ARGS__);                                                                              \
    } while (0)
#define log_warn(...)                                                                                                  \
    do {                                                                                                               \
        log_write(LOG_WARN, __VA_ARGS__);                                                                              \
    } while (0)
#define log_error(...)                                                                                                 \
    do {                                                                                                               \
        log_write(LOG_ERROR, __VA_ARGS__);                                                                             \
    } while (0)

#endif
