/* SPDX-License-Identifier: MIT */
/*
 * Orphan maker for bench/run (benchmark A4), compiled by bench/run with cc -O2.
 *
 *   orphans N          make N orphaned zombies for PID 1 to reap
 *   orphans N self     same, but be a subreaper and reap them itself
 *                      (reference: the cost of making them, no init involved)
 *
 * Each of N rounds forks a child that forks a grandchild and exits at once;
 * the maker reaps the child, so the grandchild is re-parented to PID 1 (the
 * init under test) and becomes a zombie there as soon as it exits. The child
 * sends the grandchild's pid through a pipe. After the last round the maker
 * polls every 1 ms with kill(pid, 0) — which succeeds for a zombie and fails
 * with ESRCH only once PID 1 has reaped it — until every grandchild is gone.
 * That is the same test as "no process in state Z left in /proc", but it
 * costs one syscall per remaining pid instead of reading /proc/PID/stat of
 * thousands of zombies every millisecond, so the poll steals little CPU from
 * the init being measured. (A fresh PID namespace and 2·N < pid_max: no pid is
 * reused during a run.)
 *
 * Prints one line: "<total_ms> <fork_ms> <init_cpu_ms> <orphans> <init_runs>":
 * total_ms from the first fork until no grandchild is left, fork_ms until the
 * last round finished, init_cpu_ms the CPU time PID 1 used meanwhile (from
 * /proc/1/schedstat, nanosecond resolution; -1 when unreadable or when the
 * maker is PID 1 itself), init_runs how many times PID 1 was scheduled in
 * meanwhile (schedstat's third field: about one per wake-up; -1 likewise).
 * init_cpu_ms / init_runs is PID 1's cost per wake-up, which does not depend
 * on how many orphans each wake-up happened to find.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of PID 1 so far, in ns, and how often it was scheduled in (/proc/1/schedstat's first and third
 * fields); -1 when unreadable. */
static double pid1_cpu_ns(double *runs)
{
    *runs = -1;
    FILE *f = fopen("/proc/1/schedstat", "r");
    if (f == NULL)
        return -1;
    double ns = -1, wait_ns = 0;
    if (fscanf(f, "%lf %lf %lf", &ns, &wait_ns, runs) != 3)
        ns = *runs = -1;
    fclose(f);
    return ns;
}

static void drain(int fd, pid_t *pids, long *count, long max)
{
    pid_t buf[1024];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (ssize_t i = 0; i < n / (ssize_t)sizeof(pid_t) && *count < max; i++)
            pids[(*count)++] = buf[i];
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: orphans N [self]\n");
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    int self = argc > 2 && strcmp(argv[2], "self") == 0;
    if (n <= 0)
        return 2;
    if (self && getpid() != 1)
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    pid_t *pids = calloc((size_t)n, sizeof(pid_t));
    int p[2];
    if (pids == NULL || pipe2(p, O_NONBLOCK) != 0) {
        perror("orphans: setup");
        return 1;
    }
    long have = 0;
    int measure_init = getpid() != 1;
    double runs0 = -1, runs1 = -1;
    double cpu0 = measure_init ? pid1_cpu_ns(&runs0) : -1;
    double t0 = now_ms();
    for (long i = 0; i < n; i++) {
        pid_t child = fork();
        if (child < 0) {
            perror("orphans: fork");
            return 1;
        }
        if (child == 0) {
            pid_t g = fork();
            if (g == 0)
                _exit(0);
            if (g > 0 && !self) {
                ssize_t w = write(p[1], &g, sizeof(g));
                (void)w;
            }
            _exit(0);
        }
        if (self) {
            /* reap the child and any orphan that already came to us */
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        } else {
            while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
                ;
            drain(p[0], pids, &have, n);
        }
    }
    double t_forks = now_ms();
    if (self) {
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
            ;
    } else {
        drain(p[0], pids, &have, n);
        long left = have;
        while (left > 0) {
            long k = 0;
            for (long i = 0; i < left; i++) {
                if (kill(pids[i], 0) == 0 || errno != ESRCH)
                    pids[k++] = pids[i];
            }
            left = k;
            if (left > 0) {
                struct timespec ts = {0, 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        if (have != n) {
            fprintf(stderr, "orphans: only %ld of %ld grandchild pids arrived\n", have, n);
            return 1;
        }
    }
    double t1 = now_ms();
    double cpu1 = measure_init ? pid1_cpu_ns(&runs1) : -1;
    double init_ms = (cpu0 >= 0 && cpu1 >= 0) ? (cpu1 - cpu0) / 1e6 : -1;
    double init_runs = (runs0 >= 0 && runs1 >= 0) ? runs1 - runs0 : -1;
    printf("%.3f %.3f %.3f %ld %.0f\n", t1 - t0, t_forks - t0, init_ms, n, init_runs);
    return 0;
}
