/* SPDX-License-Identifier: MIT */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct duration_unit {
    const char *suffix;
    double ms;
};

/* Longest suffixes first so that "ms" is not read as "m". */
static const struct duration_unit duration_units[] = {
    {"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ms", 1.0}, {"s", 1000.0}, {"m", 60000.0}, {"h", 3600000.0},
};

int parse_duration_ms(const char *text, int64_t *out_ms)
{
    if (text == NULL || *text == '\0')
        return -1;
    const char *p = text;
    double total = 0.0;
    bool any = false;
    while (*p != '\0') {
        /*
         * Digits and at most one dot only: strtod alone would also read
         * "1e3", "0x1A" and "0x1p3" as numbers.
         */
        size_t digits = strspn(p, "0123456789.");
        const char *dot = memchr(p, '.', digits);
        char number[32];
        if (digits == 0 || digits >= sizeof(number) ||
            (dot != NULL && memchr(dot + 1, '.', digits - (size_t)(dot + 1 - p)) != NULL))
            return -1;
        memcpy(number, p, digits);
        number[digits] = '\0';
        char *end = NULL;
        errno = 0;
        double value = strtod(number, &end);
        if (end != number + digits || errno != 0)
            return -1;
        p += digits;
        if (*p == '\0') {
            /* A bare number means seconds, but only as the whole value. */
            if (any)
                return -1;
            total = value * 1000.0;
            any = true;
            break;
        }
        bool matched = false;
        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
            size_t len = strlen(duration_units[i].suffix);
            if (strncmp(p, duration_units[i].suffix, len) == 0) {
                /* "m" must not swallow the "m" of "ms". */
                if (len == 1 && p[0] == 'm' && p[1] == 's')
                    continue;
                total += value * duration_units[i].ms;
                p += len;
                matched = true;
                break;
            }
        }
        if (!matched)
            return -1;
        any = true;
    }
    if (!any || total > (double)INT64_MAX / 2)
        return -1;
    *out_ms = (int64_t)(total + 0.5);
    return 0;
}

void format_duration(int64_t ms, char *buf, unsigned long size)
{
    if (ms % 3600000 == 0 && ms != 0)
        snprintf(buf, size, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0 && ms != 0)
        snprintf(buf, size, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, size, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, size, "%lldms", (long long)ms);
}

int parse_bool(const char *text, bool *out)
{
    static const char *const truthy[] = {"1", "true", "on", "yes", "y"};
    static const char *const falsy[] = {"0", "false", "off", "no", "n"};
    if (text == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        if (strcasecmp(text, truthy[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, falsy[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

struct signal_entry {
    const char *name;
    int sig;
};

static const struct signal_entry signal_table[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},   {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

int parse_int_range(const char *text, long min, long max, long *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

int parse_signal(const char *text, bool allow_zero, int *out_sig)
{
    if (text == NULL || *text == '\0')
        return -1;
    long number = 0;
    if (isdigit((unsigned char)text[0])) {
        if (parse_int_range(text, allow_zero ? 0 : 1, SIGRTMAX, &number) != 0)
            return -1;
        *out_sig = (int)number;
        return 0;
    }
    const char *name = text;
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++) {
        if (strcasecmp(name, signal_table[i].name) == 0) {
            *out_sig = signal_table[i].sig;
            return 0;
        }
    }
    if (strncasecmp(name, "RTMIN+", 6) == 0 && parse_int_range(name + 6, 0, SIGRTMAX - SIGRTMIN, &number) == 0) {
        *out_sig = SIGRTMIN + (int)number;
        return 0;
    }
    if (strncasecmp(name, "RT", 2) == 0 && parse_int_range(name + 2, 0, SIGRTMAX - SIGRTMIN, &number) == 0) {
        *out_sig = SIGRTMIN + (int)number;
        return 0;
    }
    return -1;
}

const char *signal_name(int sig, char *buf, unsigned long size)
{
    for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++) {
        if (signal_table[i].sig == sig) {
            snprintf(buf, size, "%s", signal_table[i].name);
            return buf;
        }
    }
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(buf, size, "RT%d", sig - SIGRTMIN);
    else
        snprintf(buf, size, "%d", sig);
    return buf;
}

int parse_ltx_name(const char *name, uint64_t *max_txid)
{
    unsigned long long lo = 0, hi = 0;
    char tail[8] = "";
    if (sscanf(name, "%16llx-%16llx%7s", &lo, &hi, tail) != 3 || strcmp(tail, ".ltx") != 0)
        return -1;
    *max_txid = hi;
    return 0;
}
