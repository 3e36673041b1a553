/*
 * The replicate state machine (init/replicate.c), driven by events with fake
 * ops that record what it decided: which Litestream it starts, which signal
 * goes where, lsinit's exit code, when draining starts. Each test breaks if a
 * transition it walks through is changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "exit_codes.h"
#include "replicate.h"

#define W_EXIT(code) ((code) << 8) /* a wait status: exited with code */
#define W_SIG(sig) (sig)           /* a wait status: killed by sig */

struct sent {
    pid_t pid;
    int sig;
};

struct world {
    pid_t next_pid;
    int spawn_fail; /* next spawn fails with this code (-1: transient) */
    enum replicate_mode spawned[8];
    int spawns;
    struct sent sent[16];
    int sends;
    int decided[8];
    int decisions;
    int drains;
    int app_started;
    pid_t main;
    char final_sync[200];
    int restarts;
    bool remap_143_to_0;
    int graces;
};

static pid_t w_spawn(void *ctx, enum replicate_mode mode, int *fail_code)
{
    struct world *w = ctx;
    if (w->spawn_fail != 0) {
        *fail_code = w->spawn_fail > 0 ? w->spawn_fail : 0;
        w->spawn_fail = 0;
        return -1;
    }
    w->spawned[w->spawns++] = mode;
    return w->next_pid++;
}
static void w_signal(void *ctx, pid_t pid, int sig)
{
    struct world *w = ctx;
    w->sent[w->sends++] = (struct sent){pid, sig};
}
static void w_decide(void *ctx, int code)
{
    struct world *w = ctx;
    w->decided[w->decisions++] = code;
}
static void w_drain(void *ctx) { ((struct world *)ctx)->drains++; }
static void w_app_started(void *ctx) { ((struct world *)ctx)->app_started++; }
static void w_main_child(void *ctx, pid_t pid) { ((struct world *)ctx)->main = pid; }
static void w_final_sync(void *ctx, const char *text)
{
    struct world *w = ctx;
    snprintf(w->final_sync, sizeof(w->final_sync), "%s", text);
}
static void w_restarted(void *ctx) { ((struct world *)ctx)->restarts++; }
static void w_begin_grace(void *ctx) { ((struct world *)ctx)->graces++; }
static int w_remap(void *ctx, int code) { return ((struct world *)ctx)->remap_143_to_0 && code == 143 ? 0 : code; }

static struct world W;
static struct replicate R;

static void setup(bool v05, bool retry_start)
{
    memset(&W, 0, sizeof(W));
    W.next_pid = 100;
    struct replicate_config cfg = {.confirm_by_socket = v05, .retry_start = retry_start, .start_timeout_ms = 10000};
    struct replicate_ops ops = {
        .ctx = &W,
        .spawn = w_spawn,
        .signal = w_signal,
        .decide = w_decide,
        .drain = w_drain,
        .app_started = w_app_started,
        .main_child = w_main_child,
        .final_sync = w_final_sync,
        .restarted = w_restarted,
        .remap_exit = w_remap,
        .begin_grace = w_begin_grace,
    };
    replicate_init(&R, &cfg, &ops);
}

static void ev(enum replicate_event_kind kind, int64_t now)
{
    struct replicate_event e = {.kind = kind, .now = now};
    replicate_handle(&R, &e);
}
static void ev_app_started(pid_t app, pid_t shim, int64_t now)
{
    struct replicate_event e = {.kind = REPLICATE_EV_APP_STARTED, .now = now, .pid = app, .shim_pid = shim};
    replicate_handle(&R, &e);
}
static void ev_app_exited(int status, int64_t now)
{
    struct replicate_event e = {.kind = REPLICATE_EV_APP_EXITED, .now = now, .status = status, .shim_pid = 150};
    replicate_handle(&R, &e);
}
static void ev_sync(bool confirmed)
{
    struct replicate_event e = {.kind = REPLICATE_EV_SYNC, .confirmed = confirmed};
    replicate_handle(&R, &e);
}
static void ev_litestream_exited(int status, int64_t now)
{
    struct replicate_event e = {.kind = REPLICATE_EV_LITESTREAM_EXITED, .now = now, .status = status};
    replicate_handle(&R, &e);
}
static void ev_stop(int sig, int64_t now, int64_t grace_deadline)
{
    struct replicate_event e = {
        .kind = REPLICATE_EV_STOP, .now = now, .sig = sig, .routed = sig, .deadline = grace_deadline};
    replicate_handle(&R, &e);
}
static void ev_signal(int sig, int64_t now)
{
    struct replicate_event e = {.kind = REPLICATE_EV_SIGNAL, .now = now, .sig = sig, .routed = sig};
    replicate_handle(&R, &e);
}

/* START → the app reported → RUNNING: the common start. */
static void running(bool v05)
{
    setup(v05, false);
    ev(REPLICATE_EV_START, 0);
    assert_int_equal(R.state, REPLICATE_STARTING);
    assert_int_equal(W.spawns, 1);
    assert_int_equal(W.spawned[0], REPLICATE_WITH_APP);
    assert_int_equal(W.main, 100);
    ev_app_started(200, 150, 10);
    assert_int_equal(R.state, REPLICATE_RUNNING);
    assert_int_equal(W.app_started, 1);
    assert_true(replicate_app_running(&R));
    assert_true(replicate_is_live(&R));
}

static void test_clean_stop_v05_exits_with_the_apps_code(void **state)
{
    (void)state;
    running(true);
    ev_stop(SIGTERM, 1000, 31000);
    assert_int_equal(W.sends, 1); /* exactly one TERM, to Litestream's pid (never its group) */
    assert_int_equal(W.sent[0].pid, 100);
    assert_int_equal(W.sent[0].sig, SIGTERM);
    ev_app_exited(W_EXIT(143), 1100);
    assert_int_equal(R.state, REPLICATE_FINAL_SYNC);
    ev_sync(true);
    ev_litestream_exited(W_EXIT(0), 1200);
    assert_int_equal(R.state, REPLICATE_DONE);
    assert_int_equal(W.decisions, 1);
    assert_int_equal(W.decided[0], 143);
    assert_int_equal(W.drains, 1);
    assert_int_equal(W.main, -1);
    assert_string_equal(W.final_sync, "done");
}

static void test_v05_exit_0_without_confirmation_runs_replicate_once(void **state)
{
    (void)state;
    running(true);
    ev_app_exited(W_EXIT(1), 1000);
    ev_sync(false);
    ev_litestream_exited(W_EXIT(0), 1100); /* 0.5 exits 0 even when its shutdown sync failed */
    assert_int_equal(R.state, REPLICATE_SECOND_PASS);
    assert_int_equal(W.spawns, 2);
    assert_int_equal(W.spawned[1], REPLICATE_ONE_PASS);
    assert_int_equal(W.decisions, 0);
    assert_int_equal(W.drains, 0);
    ev_litestream_exited(W_EXIT(0), 1500);
    assert_int_equal(W.decided[0], 1);
    assert_int_equal(W.drains, 1);
    assert_string_equal(W.final_sync, "done (second pass)");
}

static void test_failed_second_pass_exits_75(void **state)
{
    (void)state;
    running(true);
    ev_app_exited(W_EXIT(0), 1000);
    ev_sync(false);
    ev_litestream_exited(W_EXIT(0), 1100);
    ev_litestream_exited(W_EXIT(1), 1500);
    assert_int_equal(W.decisions, 1);
    assert_int_equal(W.decided[0], EXIT_SYNC);
    assert_int_equal(W.drains, 1);
    assert_int_equal(strncmp(W.final_sync, "failed:", 7), 0);
}

static void test_v03_failed_shutdown_gets_a_second_run_beside_then_term(void **state)
{
    (void)state;
    running(false);
    ev_stop(SIGINT, 1000, 31000);
    ev_app_exited(W_EXIT(130), 1100);
    ev_litestream_exited(W_EXIT(1), 1200); /* 0.3: its code is the shutdown's */
    assert_int_equal(R.state, REPLICATE_SECOND_PASS);
    assert_int_equal(W.spawned[1], REPLICATE_BESIDE_APP);
    int64_t t = replicate_next_deadline(&R);
    assert_int_equal(t, 1200 + 2500); /* TERM after its first monitor tick */
    ev(REPLICATE_EV_TIMER, t);
    assert_int_equal(W.sent[W.sends - 1].pid, 101);
    assert_int_equal(W.sent[W.sends - 1].sig, SIGTERM);
    ev_litestream_exited(W_EXIT(0), t + 100);
    assert_int_equal(W.decided[0], 130);
}

static void test_no_time_left_for_a_second_pass_exits_75(void **state)
{
    (void)state;
    running(true);
    ev_stop(SIGTERM, 1000, 1300); /* grace ends 300 ms later: -once needs more */
    ev_app_exited(W_EXIT(0), 1100);
    ev_sync(false);
    ev_litestream_exited(W_EXIT(0), 1200);
    assert_int_equal(W.spawns, 1);
    assert_int_equal(W.decided[0], EXIT_SYNC);
    assert_int_equal(W.drains, 1);
}

static void test_exec_failure_of_the_app_is_127(void **state)
{
    (void)state;
    setup(true, false);
    ev(REPLICATE_EV_START, 0);
    struct replicate_event e = {.kind = REPLICATE_EV_EXEC_FAILED, .err = ENOENT, .shim_pid = 150};
    replicate_handle(&R, &e);
    ev_litestream_exited(W_EXIT(1), 50);
    assert_int_equal(W.decided[0], EXIT_NOTFOUND);
    assert_int_equal(W.drains, 1);
}

static void test_exit_before_the_app_is_70_before_0_5_16(void **state)
{
    (void)state;
    setup(true, false);
    ev(REPLICATE_EV_START, 0);
    ev_litestream_exited(W_EXIT(1), 50);
    assert_int_equal(W.decided[0], EXIT_LITESTREAM);
    assert_int_equal(R.state, REPLICATE_DONE);
}

static void test_exit_before_the_app_is_retried_on_0_5_16_then_69(void **state)
{
    (void)state;
    setup(true, true);
    ev(REPLICATE_EV_START, 0);
    ev_litestream_exited(W_EXIT(1), 100);
    assert_int_equal(R.state, REPLICATE_START_BACKOFF);
    assert_int_equal(W.decisions, 0);
    assert_true(replicate_is_live(&R)); /* /livez stays up while it retries; /readyz does not */
    assert_false(replicate_app_running(&R));
    int64_t t = replicate_next_deadline(&R);
    assert_int_equal(t, 100 + 500);
    ev(REPLICATE_EV_TIMER, t);
    assert_int_equal(R.state, REPLICATE_STARTING);
    assert_int_equal(W.spawns, 2);
    /* Fail until the 10 s start timeout: backoff doubles, then 69. */
    int64_t now = t;
    while (W.decisions == 0) {
        ev_litestream_exited(W_EXIT(1), now + 10);
        if (W.decisions != 0)
            break;
        now = replicate_next_deadline(&R);
        ev(REPLICATE_EV_TIMER, now);
    }
    assert_int_equal(W.decided[0], EXIT_RESTORE);
    assert_true(now <= 10000);
    assert_int_equal(W.drains, 1);
}

static void test_stop_while_waiting_to_retry_the_start_decides_and_drains(void **state)
{
    (void)state;
    setup(true, true);
    ev(REPLICATE_EV_START, 0);
    ev_litestream_exited(W_EXIT(1), 100);
    ev_stop(SIGTERM, 200, 30200);
    assert_int_equal(W.decided[0], 128 + SIGTERM);
    assert_int_equal(W.drains, 1);
    assert_int_equal(R.state, REPLICATE_DONE);
    ev(REPLICATE_EV_TIMER, 10000);
    assert_int_equal(W.spawns, 1); /* nothing restarts after the stop */
}

static void test_litestream_death_under_the_app_restarts_beside_it_with_backoff(void **state)
{
    (void)state;
    running(true);
    ev_litestream_exited(W_SIG(SIGKILL), 5000);
    assert_int_equal(R.state, REPLICATE_DOWN);
    assert_int_equal(W.restarts, 1);
    assert_int_equal(W.decisions, 0);
    assert_false(replicate_is_live(&R)); /* the app runs unprotected: /livez says so */
    assert_int_equal(replicate_next_deadline(&R), 6000);
    ev(REPLICATE_EV_TIMER, 6000);
    assert_int_equal(R.state, REPLICATE_SIBLING);
    assert_int_equal(W.spawned[1], REPLICATE_BESIDE_APP);
    /* A quick second death: the backoff doubles. */
    ev_litestream_exited(W_SIG(SIGKILL), 6500);
    assert_int_equal(replicate_next_deadline(&R), 6500 + 2000);
    ev(REPLICATE_EV_TIMER, 8500);
    assert_int_equal(R.state, REPLICATE_SIBLING);
    /* The stop goes to the shim (Litestream no longer owns the app); the shim's exit TERMs Litestream. */
    ev_stop(SIGTERM, 9000, 39000);
    assert_int_equal(W.sent[W.sends - 1].pid, 150);
    ev_app_exited(W_EXIT(0), 9100);
    ev(REPLICATE_EV_SHIM_EXITED, 9100);
    assert_int_equal(W.sent[W.sends - 1].pid, 102);
    assert_int_equal(W.sent[W.sends - 1].sig, SIGTERM);
    ev_sync(true);
    ev_litestream_exited(W_EXIT(0), 9300);
    assert_int_equal(W.decided[0], 0);
}

static void test_app_exit_while_litestream_is_down_restarts_it_once_for_the_final_sync(void **state)
{
    (void)state;
    running(false);
    ev_litestream_exited(W_EXIT(2), 5000);
    ev_app_exited(W_EXIT(0), 5100);
    assert_int_equal(R.state, REPLICATE_DOWN);
    ev(REPLICATE_EV_SHIM_EXITED, 5100);
    assert_int_equal(replicate_next_deadline(&R), 5100); /* now, not after the backoff */
    ev(REPLICATE_EV_TIMER, 5100);
    assert_int_equal(R.state, REPLICATE_FINAL_SYNC);
    assert_int_equal(replicate_next_deadline(&R), 5100 + 2500);
    ev(REPLICATE_EV_TIMER, 7600);
    assert_int_equal(W.sent[W.sends - 1].sig, SIGTERM);
    ev_litestream_exited(W_EXIT(0), 7700);
    assert_int_equal(W.decided[0], 0);
    assert_int_equal(W.drains, 1);
}

static void test_grace_expiry_kills_the_app_and_decides_137(void **state)
{
    (void)state;
    running(true);
    ev_stop(SIGTERM, 1000, 31000);
    ev(REPLICATE_EV_GRACE_EXPIRED, 31000);
    assert_int_equal(W.decided[0], 128 + SIGKILL);
    assert_int_equal(W.sent[1].pid, -200); /* the app's group */
    assert_int_equal(W.sent[1].sig, SIGKILL);
    ev_litestream_exited(W_SIG(SIGKILL), 31010);
    assert_int_equal(W.drains, 1);
}

static void test_grace_expiry_during_the_final_sync_is_75(void **state)
{
    (void)state;
    running(true);
    ev_stop(SIGTERM, 1000, 31000);
    ev_app_exited(W_EXIT(0), 1100);
    ev(REPLICATE_EV_GRACE_EXPIRED, 31000);
    assert_int_equal(W.decided[0], EXIT_SYNC);
    ev_litestream_exited(W_SIG(SIGKILL), 31010);
    assert_int_equal(W.drains, 1);
    assert_int_equal(W.decisions, 1); /* the later "not confirmed" does not log a second failure */
}

static void test_other_signals_go_to_the_app_never_to_litestream(void **state)
{
    (void)state;
    running(true);
    ev_signal(SIGHUP, 500);
    assert_int_equal(W.sends, 1);
    assert_int_equal(W.sent[0].pid, 200);
    assert_int_equal(W.sent[0].sig, SIGHUP);
    ev_app_exited(W_EXIT(0), 600);
    ev_signal(SIGUSR1, 700);
    assert_int_equal(W.sends, 1); /* the app is gone: dropped */
}

static void test_a_second_stop_signal_is_not_forwarded(void **state)
{
    (void)state;
    running(true);
    ev_stop(SIGTERM, 1000, 31000);
    ev_stop(SIGINT, 1100, 31000);
    assert_int_equal(W.sends, 1);
}

static void test_exit_rules_apply_to_the_apps_code(void **state)
{
    (void)state;
    running(true);
    W.remap_143_to_0 = true;
    ev_app_exited(W_EXIT(143), 1000);
    ev_sync(true);
    ev_litestream_exited(W_EXIT(0), 1100);
    assert_int_equal(W.decided[0], 0);
}

static void test_hung_litestream_is_killed(void **state)
{
    (void)state;
    running(true);
    ev(REPLICATE_EV_HUNG, 40000);
    assert_int_equal(W.sent[0].pid, 100);
    assert_int_equal(W.sent[0].sig, SIGKILL);
    ev_litestream_exited(W_SIG(SIGKILL), 40010);
    assert_int_equal(R.state, REPLICATE_DOWN);
}

static void test_spawn_failure_at_start_decides_its_code(void **state)
{
    (void)state;
    setup(true, false);
    W.spawn_fail = EXIT_USAGE; /* the command cannot be quoted for -exec */
    ev(REPLICATE_EV_START, 0);
    assert_int_equal(W.decided[0], EXIT_USAGE);
    assert_int_equal(W.drains, 1);
}

static void test_lease_lost_kills_litestream_stops_the_app_and_exits_76(void **state)
{
    (void)state;
    running(true);
    ev(REPLICATE_EV_LEASE_LOST, 5000);
    assert_int_equal(R.state, REPLICATE_FENCED);
    assert_int_equal(W.decided[0], EXIT_LEASE);
    assert_int_equal(W.sent[0].pid, 100); /* Litestream first: no byte more is uploaded */
    assert_int_equal(W.sent[0].sig, SIGKILL);
    assert_int_equal(W.sent[2].pid, 150); /* then the app, through the shim */
    assert_int_equal(W.sent[2].sig, SIGTERM);
    assert_int_equal(W.graces, 1);
    ev_litestream_exited(W_SIG(SIGKILL), 5010);
    assert_int_equal(W.restarts, 0); /* never restarted */
    assert_int_equal(W.spawns, 1);
    assert_int_equal(W.drains, 0); /* the app still runs */
    ev_app_exited(W_EXIT(143), 5100);
    assert_int_equal(W.drains, 1);
    assert_false(replicate_may_release(&R));
}

static void test_lease_lost_during_the_final_sync_is_76_and_keeps_the_lease(void **state)
{
    (void)state;
    running(true);
    ev_stop(SIGTERM, 1000, 31000);
    ev_app_exited(W_EXIT(0), 1100);
    ev(REPLICATE_EV_LEASE_LOST, 1200);
    ev_litestream_exited(W_SIG(SIGKILL), 1210);
    assert_int_equal(W.decided[0], EXIT_LEASE);
    assert_int_equal(W.drains, 1);
    assert_false(replicate_may_release(&R));
}

static void test_release_only_after_a_confirmed_final_sync(void **state)
{
    (void)state;
    running(true);
    assert_false(replicate_may_release(&R));
    ev_app_exited(W_EXIT(0), 1000);
    ev_sync(true);
    ev_litestream_exited(W_EXIT(0), 1100);
    assert_true(replicate_may_release(&R));
    setup(true, false);
    assert_true(replicate_may_release(&R)); /* the app never ran: nothing of ours is missing */
}

/* Every (state, event) pair has an action: none crashes, DONE starts nothing. */
static void test_every_event_in_every_state_is_handled(void **state)
{
    (void)state;
    for (int s = 0; s < REPLICATE_STATE_COUNT; s++) {
        for (int k = 0; k < REPLICATE_EVENT_COUNT; k++) {
            setup(true, true);
            R.state = (enum replicate_state)s;
            struct replicate_event e = {
                .kind = (enum replicate_event_kind)k, .now = 1, .sig = SIGTERM, .routed = SIGTERM};
            replicate_handle(&R, &e);
            if (s == REPLICATE_DONE)
                assert_int_equal(W.spawns, 0);
        }
        assert_non_null(replicate_state_name((enum replicate_state)s));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_stop_v05_exits_with_the_apps_code),
        cmocka_unit_test(test_v05_exit_0_without_confirmation_runs_replicate_once),
        cmocka_unit_test(test_failed_second_pass_exits_75),
        cmocka_unit_test(test_v03_failed_shutdown_gets_a_second_run_beside_then_term),
        cmocka_unit_test(test_no_time_left_for_a_second_pass_exits_75),
        cmocka_unit_test(test_exec_failure_of_the_app_is_127),
        cmocka_unit_test(test_exit_before_the_app_is_70_before_0_5_16),
        cmocka_unit_test(test_exit_before_the_app_is_retried_on_0_5_16_then_69),
        cmocka_unit_test(test_stop_while_waiting_to_retry_the_start_decides_and_drains),
        cmocka_unit_test(test_litestream_death_under_the_app_restarts_beside_it_with_backoff),
        cmocka_unit_test(test_app_exit_while_litestream_is_down_restarts_it_once_for_the_final_sync),
        cmocka_unit_test(test_grace_expiry_kills_the_app_and_decides_137),
        cmocka_unit_test(test_grace_expiry_during_the_final_sync_is_75),
        cmocka_unit_test(test_other_signals_go_to_the_app_never_to_litestream),
        cmocka_unit_test(test_a_second_stop_signal_is_not_forwarded),
        cmocka_unit_test(test_exit_rules_apply_to_the_apps_code),
        cmocka_unit_test(test_hung_litestream_is_killed),
        cmocka_unit_test(test_spawn_failure_at_start_decides_its_code),
        cmocka_unit_test(test_lease_lost_kills_litestream_stops_the_app_and_exits_76),
        cmocka_unit_test(test_lease_lost_during_the_final_sync_is_76_and_keeps_the_lease),
        cmocka_unit_test(test_release_only_after_a_confirmed_final_sync),
        cmocka_unit_test(test_every_event_in_every_state_is_handled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
