/* SPDX-License-Identifier: MIT */
#ifndef LSINIT_CLOCK_H
#define LSINIT_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock: deadlines never jump with wall time. */
static inline int64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
