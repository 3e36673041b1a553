/* SPDX-License-Identifier: MIT */
/*
 * The event loop's reaping (init/loop.c): exited children are reaped in
 * slices of LOOP_REAP_BATCH, each offered to the sources once, and an fd that
 * is ready during a burst of exits is served between two slices, not after
 * the whole burst.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define CHILDREN 100

struct probe {
    pid_t pids[CHILDREN];
    int seen[CHILDREN];
    unsigned long reaped;    /* loop->reaped calls */
    unsigned long claimed;   /* on_child_exit calls */
    int pipe_fds[2];         /* read end polled */
    long reaped_when_served; /* reaped so far when on_fd first ran, -1: never */
};

static struct probe P;

/* CHILDREN children that exit at once with their index; returns when every one is a zombie (not reaped). */
static void make_zombies(void)
{
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(i % 100);
        P.pids[i] = pid;
    }
    for (int i = 0; i < CHILDREN; i++) {
        siginfo_t info;
        memset(&info, 0, sizeof(info));
        assert_int_equal(waitid(P_PID, (id_t)P.pids[i], &info, WEXITED | WNOWAIT), 0);
    }
}

static void on_reaped(void *ctx, pid_t pid)
{
    (void)ctx;
    (void)pid;
    P.reaped++;
}

static bool on_child_exit(void *self, pid_t pid, int status, int64_t now)
{
    (void)self;
    (void)now;
    for (int i = 0; i < CHILDREN; i++) {
        if (P.pids[i] == pid) {
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), i % 100);
            P.seen[i]++;
            P.claimed++;
            return true;
        }
    }
    fail_msg("pid %ld is not one of the test's children", (long)pid);
    return false;
}

static nfds_t poll_fds(void *self, struct pollfd *fds, nfds_t room)
{
    (void)self;
    if (room < 1 || P.pipe_fds[0] < 0)
        return 0;
    fds[0] = (struct pollfd){.fd = P.pipe_fds[0], .events = POLLIN};
    return 1;
}

static void on_fd(void *self, int fd, short revents, int64_t now)
{
    (void)self;
    (void)revents;
    (void)now;
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    if (P.reaped_when_served < 0)
        P.reaped_when_served = (long)P.reaped;
    close(fd);
    P.pipe_fds[0] = -1;
}

static bool finished(void *ctx)
{
    (void)ctx;
    return P.reaped == CHILDREN && P.pipe_fds[0] < 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct loop_source_ops probe_ops = {
    .name = "probe", .poll_fds = poll_fds, .on_fd = on_fd, .on_child_exit = on_child_exit};

static int setup(void **state)
{
    (void)state;
    memset(&P, 0, sizeof(P));
    P.pipe_fds[0] = P.pipe_fds[1] = -1;
    P.reaped_when_served = -1;
    return 0;
}

static void init_loop(struct loop *l)
{
    memset(l, 0, sizeof(*l));
    l->reaped = on_reaped;
    l->finished = finished;
    static int token;
    assert_int_equal(loop_add(l, &probe_ops, &token), 0);
}

static void test_reaps_in_slices_each_child_once(void **state)
{
    (void)state;
    struct loop l;
    init_loop(&l);
    make_zombies();
    unsigned long total = 0, n;
    int slices = 0;
    while ((n = loop_reap(&l, 0, LOOP_REAP_BATCH)) > 0) {
        assert_true(n <= LOOP_REAP_BATCH);
        total += n;
        slices++;
    }
    assert_int_equal(total, CHILDREN);
    assert_int_equal(slices, (CHILDREN + LOOP_REAP_BATCH - 1) / LOOP_REAP_BATCH);
    assert_int_equal(P.reaped, CHILDREN);
    assert_int_equal(P.claimed, CHILDREN);
    for (int i = 0; i < CHILDREN; i++)
        assert_int_equal(P.seen[i], 1);
}

static void test_unbounded_reap_takes_everything(void **state)
{
    (void)state;
    struct loop l;
    init_loop(&l);
    make_zombies();
    assert_int_equal(loop_reap(&l, 0, 0), CHILDREN);
    assert_int_equal(loop_reap(&l, 0, 0), 0);
}

static void test_a_ready_fd_is_served_between_slices(void **state)
{
    (void)state;
    struct loop l;
    init_loop(&l);
    assert_int_equal(pipe(P.pipe_fds), 0);
    assert_int_equal(write(P.pipe_fds[1], "x", 1), 1);
    make_zombies();
    loop_run(&l, now_ms); /* the first pass reaps a slice (children may have exited before it started) */
    close(P.pipe_fds[1]);
    assert_int_equal(P.reaped, CHILDREN);
    assert_true(P.reaped_when_served >= 0);
    assert_true(P.reaped_when_served <= (long)LOOP_REAP_BATCH);
}

/* ---- the wait without ppoll ------------------------------------------------ */

struct waiter {
    int fd;
    int waits, fds_seen;
    bool second_fd; /* poll_fds also offers a second one (another source's, in real life) */
    int other_fd;
};

static nfds_t waiter_poll_fds(void *self, struct pollfd *fds, nfds_t room)
{
    struct waiter *w = self;
    nfds_t n = 0;
    if (room > n && w->fd >= 0)
        fds[n++] = (struct pollfd){.fd = w->fd, .events = POLLIN};
    if (room > n && w->second_fd)
        fds[n++] = (struct pollfd){.fd = w->other_fd, .events = POLLIN};
    return n;
}

static void waiter_on_fd(void *self, int fd, short revents, int64_t now)
{
    struct waiter *w = self;
    (void)revents;
    (void)now;
    char c;
    if (fd == w->fd && read(fd, &c, 1) == 1)
        w->fds_seen++;
}

static bool waiter_wait_alone(void *self, int64_t (*now)(void))
{
    struct waiter *w = self;
    (void)now;
    char c;
    assert_int_equal(read(w->fd, &c, 1), 1); /* blocking: the byte is there */
    w->waits++;
    return true;
}

static struct waiter W;

static bool waiter_finished(void *ctx)
{
    (void)ctx;
    return W.waits + W.fds_seen >= 1;
}

static const struct loop_source_ops waiter_ops = {
    .name = "waiter", .poll_fds = waiter_poll_fds, .on_fd = waiter_on_fd, .wait_alone = waiter_wait_alone};

static void run_waiter(bool second_fd)
{
    int p[2], q[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(q), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    W = (struct waiter){.fd = p[0], .second_fd = second_fd, .other_fd = q[0]};
    struct loop l;
    memset(&l, 0, sizeof(l));
    l.finished = waiter_finished;
    assert_int_equal(loop_add(&l, &waiter_ops, &W), 0);
    loop_run(&l, now_ms);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

static void test_one_fd_and_no_deadline_waits_without_ppoll(void **state)
{
    (void)state;
    run_waiter(false);
    assert_int_equal(W.waits, 1);
    assert_int_equal(W.fds_seen, 0);
}

static void test_two_fds_are_polled(void **state)
{
    (void)state;
    run_waiter(true);
    assert_int_equal(W.waits, 0);
    assert_int_equal(W.fds_seen, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reaps_in_slices_each_child_once, setup),
        cmocka_unit_test_setup(test_unbounded_reap_takes_everything, setup),
        cmocka_unit_test_setup(test_a_ready_fd_is_served_between_slices, setup),
        cmocka_unit_test(test_one_fd_and_no_deadline_waits_without_ppoll),
        cmocka_unit_test(test_two_fds_are_polled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
