/* SPDX-License-Identifier: MIT */
/*
 * Running children (init/lib/spawn.c): spawn_capture (output kept from the
 * head or the tail, stderr captured or not, the deadline, a command that
 * cannot run), spawn_function, and the exit-code rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

static sigset_t no_signals;

static int run_sh(const char *script, bool capture_stderr, bool keep_tail, int64_t timeout_ms, char *out, size_t size,
                  struct spawn_result *res)
{
    char *const argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script, NULL};
    const struct spawn_capture c = {
        .argv = argv,
        .child_mask = &no_signals,
        .capture_stderr = capture_stderr,
        .timeout_ms = timeout_ms,
        .out = out,
        .out_size = size,
        .keep_tail = keep_tail,
    };
    return spawn_capture(&c, res);
}

static void test_capture_stdout_and_code(void **state)
{
    (void)state;
    char out[64];
    struct spawn_result res;
    assert_int_equal(run_sh("printf 'a\\nb'; printf noise >&2; exit 3", false, false, 5000, out, sizeof(out), &res), 0);
    assert_string_equal(out, "a\nb"); /* stderr went to /dev/null */
    assert_false(res.timed_out);
    assert_int_equal(res.exec_errno, 0);
    assert_int_equal(spawn_status_code(res.status), 3);
    assert_int_equal(run_sh("echo out; echo err >&2", true, false, 5000, out, sizeof(out), &res), 0);
    assert_non_null(strstr(out, "out\n"));
    assert_non_null(strstr(out, "err\n"));
    assert_int_equal(spawn_status_code(res.status), 0);
}

static void test_capture_head_and_tail_of_a_chatty_child(void **state)
{
    (void)state;
    /* Far more than a pipe holds: reading goes on after the buffer is full, so nothing blocks. */
    const char *chatty = "i=0; while [ $i -lt 20000 ]; do echo line$i; i=$((i+1)); done; echo last";
    char out[12];
    struct spawn_result res;
    assert_int_equal(run_sh(chatty, false, false, 20000, out, sizeof(out), &res), 0);
    assert_string_equal(out, "line0\nline1");
    assert_int_equal(spawn_status_code(res.status), 0);
    assert_int_equal(run_sh(chatty, false, true, 20000, out, sizeof(out), &res), 0);
    assert_string_equal(out, "19999\nlast\n");
    assert_int_equal(strlen(out), sizeof(out) - 1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_capture_deadline(void **state)
{
    (void)state;
    char out[32];
    struct spawn_result res;
    int64_t t0 = now_ms();
    assert_int_equal(run_sh("echo started; exec sleep 30", false, false, 300, out, sizeof(out), &res), 0);
    int64_t took = now_ms() - t0;
    assert_true(res.timed_out);
    assert_true(WIFSIGNALED(res.status));
    assert_int_equal(WTERMSIG(res.status), SIGKILL);
    assert_int_equal(spawn_status_code(res.status), 128 + SIGKILL);
    assert_string_equal(out, "started\n");
    assert_true(took >= 250 && took < 5000);
}

static void test_capture_cannot_run(void **state)
{
    (void)state;
    char *const argv[] = {(char *)"/nonexistent/litestream", (char *)"version", NULL};
    char out[8] = "x";
    const struct spawn_capture c = {
        .argv = argv,
        .child_mask = &no_signals,
        .timeout_ms = 1000,
        .out = out,
        .out_size = sizeof(out),
    };
    struct spawn_result res;
    assert_int_equal(spawn_capture(&c, &res), -1);
    assert_int_equal(res.exec_errno, ENOENT);
    assert_int_equal(spawn_exit_code_for_errno(res.exec_errno), 127);
    assert_string_equal(out, "");
    char *const dir[] = {(char *)"/", NULL};
    const struct spawn_capture d = {
        .argv = dir,
        .child_mask = &no_signals,
        .timeout_ms = 1000,
        .out = out,
        .out_size = sizeof(out),
    };
    assert_int_equal(spawn_capture(&d, &res), -1);
    assert_int_equal(res.exec_errno, EACCES);
    assert_int_equal(spawn_exit_code_for_errno(res.exec_errno), 126);
}

static int child_returns(const void *arg)
{
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    /* 7 with the mask it was given (SIGUSR1 blocked), 9 otherwise */
    return sigismember(&now, SIGUSR1) ? *(const int *)arg : 9;
}

static void test_spawn_function(void **state)
{
    (void)state;
    int seven = 7;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    pid_t pid = spawn_function(child_returns, &seven, &mask);
    assert_true(pid > 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(spawn_status_code(status), 7);
    pid = spawn_function(child_returns, &seven, NULL); /* keeps the caller's mask: nothing blocked here */
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(spawn_status_code(status), 9);
}

int main(void)
{
    sigemptyset(&no_signals);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_stdout_and_code), cmocka_unit_test(test_capture_head_and_tail_of_a_chatty_child),
        cmocka_unit_test(test_capture_deadline),        cmocka_unit_test(test_capture_cannot_run),
        cmocka_unit_test(test_spawn_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
