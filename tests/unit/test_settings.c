/* SPDX-License-Identifier: MIT */
/*
 * Flags and LSINIT_* variables (init/settings.c), fed through synthetic argv
 * and envp: defaults, every variable, flags winning over variables, option
 * parsing that stops at the app's name, and the exit code and one-line
 * message for every kind of bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "exit_codes.h"
#include "log.h"
#include "settings.h"

#define MAX_ARGS 16

struct loaded {
    struct settings s;
    char *argv[MAX_ARGS + 2];
    char err[SETTINGS_ERROR_SIZE];
    int rc;
};

/*
 * Runs settings_load on "lsinit" + args (NULL-terminated) and env
 * (NULL-terminated, or NULL for an empty environment).
 */
static void load(struct loaded *l, char *const *args, char *const *env)
{
    memset(l, 0, sizeof(*l));
    int argc = 0;
    l->argv[argc++] = "lsinit";
    for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
        assert_true(argc <= MAX_ARGS);
        l->argv[argc++] = args[i];
    }
    l->argv[argc] = NULL;
    l->rc = settings_load(&l->s, argc, l->argv, env, l->err, sizeof(l->err));
}

static void load_ok(struct loaded *l, char *const *args, char *const *env)
{
    load(l, args, env);
    if (l->rc != 0)
        print_error("settings_load failed with %d: %s\n", l->rc, l->err);
    assert_int_equal(l->rc, 0);
}

/* Expects exit code rc and a single-line message containing every string in want (NULL-terminated). */
static void load_fails(char *const *args, char *const *env, int rc, const char *const *want)
{
    struct loaded l;
    load(&l, args, env);
    if (l.rc != rc)
        print_error("settings_load returned %d (wanted %d): \"%s\"\n", l.rc, rc, l.err);
    assert_int_equal(l.rc, rc);
    assert_true(l.err[0] != '\0');
    assert_null(strchr(l.err, '\n'));
    for (size_t i = 0; want[i] != NULL; i++) {
        if (strstr(l.err, want[i]) == NULL)
            print_error("error \"%s\" does not mention \"%s\"\n", l.err, want[i]);
        assert_non_null(strstr(l.err, want[i]));
    }
}

#define ARGS(...) ((char *const[]){__VA_ARGS__, NULL})
#define ENV(...) ((char *const[]){__VA_ARGS__, NULL})
#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

static bool remapped(const struct settings *s, int code) { return settings_remap_exit(s, code) == 0 && code != 0; }

static void test_defaults(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("app", "arg"), NULL);
    assert_int_equal(l.s.grace_ms, SETTINGS_DEFAULT_GRACE_MS);
    assert_int_equal(l.s.grace_ms, 8000);
    assert_int_equal(l.s.straggler_ms, SETTINGS_DEFAULT_STRAGGLER_MS);
    assert_int_equal(l.s.straggler_ms, 2000);
    assert_false(l.s.kill_group);
    assert_int_equal(l.s.log_level, LOG_INFO);
    assert_false(l.s.show_help);
    assert_false(l.s.show_version);
    for (int code = 0; code <= 255; code++)
        assert_int_equal(settings_remap_exit(&l.s, code), code);
    for (int sig = 1; sig <= SIGRTMAX; sig++)
        assert_int_equal(settings_route_signal(&l.s, sig), sig);
    assert_ptr_equal(l.s.command, &l.argv[1]);
    assert_string_equal(l.s.command[0], "app");
    assert_string_equal(l.s.command[1], "arg");
    assert_null(l.s.command[2]);
}

static void test_defaults_ignore_unrelated_env(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("app"), ENV("PATH=/bin", "LSINIT_GRACEX=1x", "XLSINIT_GRACE=1x", "LSINIT_GRACE", "GRACE=3s"));
    assert_int_equal(l.s.grace_ms, 8000);
}

static void test_no_command(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, NULL, NULL);
    assert_null(l.s.command[0]);
    load_ok(&l, ARGS("-v", "--"), NULL);
    assert_null(l.s.command[0]);
}

static void test_env_values(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("app"),
            ENV("LSINIT_GRACE=30s", "LSINIT_STRAGGLER_GRACE=500ms", "LSINIT_REMAP_EXIT=143,130",
                "LSINIT_SIGNAL_REWRITE=TERM:INT,HUP:0", "LSINIT_KILL_GROUP=on", "LSINIT_LOG_LEVEL=debug"));
    assert_int_equal(l.s.grace_ms, 30000);
    assert_int_equal(l.s.straggler_ms, 500);
    assert_true(remapped(&l.s, 143));
    assert_true(remapped(&l.s, 130));
    assert_false(remapped(&l.s, 1));
    assert_int_equal(settings_route_signal(&l.s, SIGTERM), SIGINT);
    assert_int_equal(settings_route_signal(&l.s, SIGHUP), 0);
    assert_int_equal(settings_route_signal(&l.s, SIGINT), SIGINT);
    assert_true(l.s.kill_group);
    assert_int_equal(l.s.log_level, LOG_DEBUG);
}

static void test_env_bare_number_grace_is_seconds(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("app"), ENV("LSINIT_GRACE=30", "LSINIT_STRAGGLER_GRACE=1.5"));
    assert_int_equal(l.s.grace_ms, 30000);
    assert_int_equal(l.s.straggler_ms, 1500);
}

static void test_env_kill_group_booleans(void **state)
{
    (void)state;
    static char *const on[] = {"LSINIT_KILL_GROUP=1", "LSINIT_KILL_GROUP=true", "LSINIT_KILL_GROUP=on",
                               "LSINIT_KILL_GROUP=yes", "LSINIT_KILL_GROUP=TRUE"};
    static char *const off[] = {"LSINIT_KILL_GROUP=0", "LSINIT_KILL_GROUP=false", "LSINIT_KILL_GROUP=off",
                                "LSINIT_KILL_GROUP=no", "LSINIT_KILL_GROUP=Off"};
    struct loaded l;
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        load_ok(&l, ARGS("app"), ENV(on[i]));
        assert_true(l.s.kill_group);
    }
    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
        load_ok(&l, ARGS("app"), ENV(off[i]));
        assert_false(l.s.kill_group);
    }
}

static void test_env_log_levels(void **state)
{
    (void)state;
    static const struct {
        char *env;
        enum log_level level;
    } cases[] = {{"LSINIT_LOG_LEVEL=debug", LOG_DEBUG},
                 {"LSINIT_LOG_LEVEL=info", LOG_INFO},
                 {"LSINIT_LOG_LEVEL=warn", LOG_WARN},
                 {"LSINIT_LOG_LEVEL=error", LOG_ERROR},
                 {"LSINIT_LOG_LEVEL=quiet", LOG_QUIET}};
    struct loaded l;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        load_ok(&l, ARGS("app"), ENV(cases[i].env));
        assert_int_equal(l.s.log_level, cases[i].level);
    }
}

static void test_flags_win_over_env(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("--grace", "1s", "-T", "100ms", "-g", "-q", "-r", "TERM:QUIT", "app"),
            ENV("LSINIT_GRACE=30s", "LSINIT_STRAGGLER_GRACE=5s", "LSINIT_KILL_GROUP=0", "LSINIT_LOG_LEVEL=debug",
                "LSINIT_SIGNAL_REWRITE=TERM:INT,HUP:0"));
    assert_int_equal(l.s.grace_ms, 1000);
    assert_int_equal(l.s.straggler_ms, 100);
    assert_true(l.s.kill_group);
    assert_int_equal(l.s.log_level, LOG_ERROR);
    assert_int_equal(settings_route_signal(&l.s, SIGTERM), SIGQUIT);
    assert_int_equal(settings_route_signal(&l.s, SIGHUP), 0); /* untouched by the flag */
}

static void test_later_flag_wins(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("-t", "5s", "--grace=2s", "-T", "1s", "--straggler-grace", "750ms", "app"), NULL);
    assert_int_equal(l.s.grace_ms, 2000);
    assert_int_equal(l.s.straggler_ms, 750);
}

static void test_grace_flag_spellings(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("-t", "1m30s", "app"), NULL);
    assert_int_equal(l.s.grace_ms, 90000);
    load_ok(&l, ARGS("-t250ms", "app"), NULL);
    assert_int_equal(l.s.grace_ms, 250);
    load_ok(&l, ARGS("--grace", "30", "app"), NULL);
    assert_int_equal(l.s.grace_ms, 30000);
    load_ok(&l, ARGS("--gr", "2s", "app"), NULL); /* getopt_long takes unique prefixes */
    assert_int_equal(l.s.grace_ms, 2000);
}

static void test_remap_exit_flag(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("-e", "143", "app"), NULL);
    assert_int_equal(settings_remap_exit(&l.s, 143), 0);
    assert_int_equal(settings_remap_exit(&l.s, 142), 142);
    assert_int_equal(settings_remap_exit(&l.s, 144), 144);
    assert_int_equal(settings_remap_exit(&l.s, 0), 0);

    load_ok(&l, ARGS("-e", "143", "-e", "130,2", "--remap-exit=255", "-e", "0", "app"), NULL);
    for (int code = 0; code <= 255; code++) {
        bool want = code == 143 || code == 130 || code == 2 || code == 255;
        assert_int_equal(settings_remap_exit(&l.s, code), want ? 0 : code);
    }
    /* Out of range codes are passed through, never looked up. */
    assert_int_equal(settings_remap_exit(&l.s, -1), -1);
    assert_int_equal(settings_remap_exit(&l.s, 256), 256);
    assert_int_equal(settings_remap_exit(&l.s, 255 + 143), 255 + 143);
}

static void test_remap_exit_every_code(void **state)
{
    (void)state;
    struct loaded l;
    for (int code = 0; code <= 255; code++) {
        char text[16];
        snprintf(text, sizeof(text), "%d", code);
        load_ok(&l, ARGS("-e", text, "app"), NULL);
        for (int other = 0; other <= 255; other++)
            assert_int_equal(settings_remap_exit(&l.s, other), other == code ? 0 : other);
    }
}

static void test_rewrite_flag(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("-r", "TERM:INT", "app"), NULL);
    for (int sig = 1; sig <= SIGRTMAX; sig++)
        assert_int_equal(settings_route_signal(&l.s, sig), sig == SIGTERM ? SIGINT : sig);

    load_ok(&l,
            ARGS("-r", "HUP:0", "--rewrite", "SIGUSR1:SIGUSR2,USR2:USR1", "-r", "1:31", "-r", "RTMIN+1:TERM", "app"),
            NULL);
    assert_int_equal(settings_route_signal(&l.s, SIGHUP), 31); /* the later rule for HUP wins */
    assert_int_equal(settings_route_signal(&l.s, SIGUSR1), SIGUSR2);
    assert_int_equal(settings_route_signal(&l.s, SIGUSR2), SIGUSR1);
    assert_int_equal(settings_route_signal(&l.s, SIGRTMIN + 1), SIGTERM);
    assert_int_equal(settings_route_signal(&l.s, SIGTERM), SIGTERM);

    load_ok(&l, ARGS("-r", "HUP:0", "-r", "QUIT:TERM", "app"), NULL);
    assert_int_equal(settings_route_signal(&l.s, SIGHUP), 0);
    assert_int_equal(settings_route_signal(&l.s, SIGQUIT), SIGTERM);
    /* Outside 1..64 the signal comes back as it is. */
    assert_int_equal(settings_route_signal(&l.s, 0), 0);
    assert_int_equal(settings_route_signal(&l.s, SETTINGS_SIGNAL_SLOTS), SETTINGS_SIGNAL_SLOTS);
    assert_int_equal(settings_route_signal(&l.s, -1), -1);
}

static void test_kill_group_flag(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("-g", "app"), NULL);
    assert_true(l.s.kill_group);
    load_ok(&l, ARGS("--kill-group", "app"), ENV("LSINIT_KILL_GROUP=off"));
    assert_true(l.s.kill_group);
}

static void test_verbosity_flags(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("-v", "app"), NULL);
    assert_int_equal(l.s.log_level, LOG_DEBUG);
    load_ok(&l, ARGS("-vv", "app"), NULL);
    assert_int_equal(l.s.log_level, LOG_DEBUG);
    load_ok(&l, ARGS("--verbose", "app"), ENV("LSINIT_LOG_LEVEL=error"));
    assert_int_equal(l.s.log_level, LOG_WARN);
    load_ok(&l, ARGS("-q", "app"), NULL);
    assert_int_equal(l.s.log_level, LOG_ERROR);
    load_ok(&l, ARGS("--quiet", "app"), ENV("LSINIT_LOG_LEVEL=debug"));
    assert_int_equal(l.s.log_level, LOG_ERROR);
    load_ok(&l, ARGS("-v", "-q", "app"), NULL);
    assert_int_equal(l.s.log_level, LOG_ERROR);
}

static void test_help_version_and_tini_s(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("--help"), NULL);
    assert_true(l.s.show_help);
    load_ok(&l, ARGS("-h"), NULL);
    assert_true(l.s.show_help);
    load_ok(&l, ARGS("--version"), NULL);
    assert_true(l.s.show_version);
    load_ok(&l, ARGS("-V"), NULL);
    assert_true(l.s.show_version);
    load_ok(&l, ARGS("-s", "app"), NULL); /* tini's -s is accepted and changes nothing */
    assert_string_equal(l.s.command[0], "app");
    assert_int_equal(l.s.grace_ms, 8000);
}

/* '+': options end at the app's name, so the app's own flags stay its own. */
static void test_options_stop_at_the_command(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("app", "-x"), NULL);
    assert_string_equal(l.s.command[0], "app");
    assert_string_equal(l.s.command[1], "-x");
    assert_null(l.s.command[2]);

    load_ok(&l, ARGS("-v", "app", "-q", "--grace", "zzz", "-h"), NULL);
    assert_int_equal(l.s.log_level, LOG_DEBUG);
    assert_int_equal(l.s.grace_ms, 8000);
    assert_false(l.s.show_help);
    assert_ptr_equal(l.s.command, &l.argv[2]);
    assert_string_equal(l.s.command[1], "-q");

    load_ok(&l, ARGS("--", "-v", "app"), NULL);
    assert_int_equal(l.s.log_level, LOG_INFO);
    assert_string_equal(l.s.command[0], "-v");

    load_ok(&l, ARGS("-g", "--", "--", "app"), NULL);
    assert_string_equal(l.s.command[0], "--");
}

static void test_unknown_options(void **state)
{
    (void)state;
    load_fails(ARGS("-x", "app"), NULL, EXIT_USAGE, WANT("-x"));
    load_fails(ARGS("--yolo", "app"), NULL, EXIT_USAGE, WANT("--yolo"));
    load_fails(ARGS("--yolo=1", "app"), NULL, EXIT_USAGE, WANT("--yolo"));
    load_fails(ARGS("-vx", "app"), NULL, EXIT_USAGE, WANT("-x"));
    struct loaded l;
    load(&l, ARGS("--kill-group=1", "app"), NULL); /* takes no value */
    assert_int_equal(l.rc, EXIT_USAGE);
    assert_true(strstr(l.err, "kill-group") != NULL || strstr(l.err, "-g") != NULL);
}

static void test_missing_arguments(void **state)
{
    (void)state;
    load_fails(ARGS("-t"), NULL, EXIT_USAGE, WANT("-t"));
    load_fails(ARGS("-T"), NULL, EXIT_USAGE, WANT("-T"));
    load_fails(ARGS("-e"), NULL, EXIT_USAGE, WANT("-e"));
    load_fails(ARGS("-r"), NULL, EXIT_USAGE, WANT("-r"));
    /* Named in either spelling. */
    struct loaded l;
    load(&l, ARGS("--grace"), NULL);
    assert_int_equal(l.rc, EXIT_USAGE);
    assert_true(strstr(l.err, "--grace") != NULL || strstr(l.err, "-t") != NULL);
}

static void test_bad_flag_values(void **state)
{
    (void)state;
    load_fails(ARGS("--grace", "10x", "app"), NULL, EXIT_USAGE, WANT("--grace", "10x"));
    load_fails(ARGS("-t", "-1s", "app"), NULL, EXIT_USAGE, WANT("-1s"));
    load_fails(ARGS("-t", "", "app"), NULL, EXIT_USAGE, WANT("grace"));
    load_fails(ARGS("--straggler-grace", "soon", "app"), NULL, EXIT_USAGE, WANT("--straggler-grace", "soon"));
    load_fails(ARGS("-T", "1h2", "app"), NULL, EXIT_USAGE, WANT("1h2"));
    load_fails(ARGS("-e", "256", "app"), NULL, EXIT_USAGE, WANT("-e", "256"));
    load_fails(ARGS("-e", "-1", "app"), NULL, EXIT_USAGE, WANT("-e", "-1"));
    load_fails(ARGS("-e", "143,x", "app"), NULL, EXIT_USAGE, WANT("-e", "143,x"));
    load_fails(ARGS("-r", "TERM", "app"), NULL, EXIT_USAGE, WANT("-r", "TERM"));
    load_fails(ARGS("-r", "TERM:", "app"), NULL, EXIT_USAGE, WANT("-r"));
    load_fails(ARGS("-r", ":INT", "app"), NULL, EXIT_USAGE, WANT("-r"));
    load_fails(ARGS("-r", "TERM:NOPE", "app"), NULL, EXIT_USAGE, WANT("TERM:NOPE"));
    load_fails(ARGS("-r", "0:TERM", "app"), NULL, EXIT_USAGE, WANT("0:TERM"));
    load_fails(ARGS("-r", "1:65", "app"), NULL, EXIT_USAGE, WANT("1:65"));
    load_fails(ARGS("-r", "15::12", "app"), NULL, EXIT_USAGE, WANT("15::12"));
    /* KILL, STOP and CHLD are never forwarded, so rewriting them would be a lie. */
    load_fails(ARGS("-r", "KILL:TERM", "app"), NULL, EXIT_USAGE, WANT("KILL:TERM"));
    load_fails(ARGS("-r", "STOP:TERM", "app"), NULL, EXIT_USAGE, WANT("STOP:TERM"));
    load_fails(ARGS("-r", "CHLD:TERM", "app"), NULL, EXIT_USAGE, WANT("CHLD:TERM"));
}

static void test_bad_env_values(void **state)
{
    (void)state;
    load_fails(ARGS("app"), ENV("LSINIT_GRACE=10x"), EXIT_CONFIG, WANT("LSINIT_GRACE", "10x"));
    load_fails(ARGS("app"), ENV("LSINIT_GRACE="), EXIT_CONFIG, WANT("LSINIT_GRACE"));
    load_fails(ARGS("app"), ENV("LSINIT_GRACE=-1s"), EXIT_CONFIG, WANT("LSINIT_GRACE", "-1s"));
    load_fails(ARGS("app"), ENV("LSINIT_STRAGGLER_GRACE=s"), EXIT_CONFIG, WANT("LSINIT_STRAGGLER_GRACE"));
    load_fails(ARGS("app"), ENV("LSINIT_REMAP_EXIT=300"), EXIT_CONFIG, WANT("LSINIT_REMAP_EXIT", "300"));
    load_fails(ARGS("app"), ENV("LSINIT_SIGNAL_REWRITE=TERM"), EXIT_CONFIG, WANT("LSINIT_SIGNAL_REWRITE"));
    load_fails(ARGS("app"), ENV("LSINIT_SIGNAL_REWRITE=KILL:INT"), EXIT_CONFIG, WANT("LSINIT_SIGNAL_REWRITE"));
    load_fails(ARGS("app"), ENV("LSINIT_KILL_GROUP=maybe"), EXIT_CONFIG, WANT("LSINIT_KILL_GROUP", "maybe"));
    load_fails(ARGS("app"), ENV("LSINIT_KILL_GROUP=2"), EXIT_CONFIG, WANT("LSINIT_KILL_GROUP"));
    load_fails(ARGS("app"), ENV("LSINIT_KILL_GROUP="), EXIT_CONFIG, WANT("LSINIT_KILL_GROUP"));
    load_fails(ARGS("app"), ENV("LSINIT_LOG_LEVEL=loud"), EXIT_CONFIG, WANT("LSINIT_LOG_LEVEL", "loud"));
}

static void test_health_addr(void **state)
{
    (void)state;
    struct loaded l;
    const char *good[] = {"0.0.0.0:9091", "127.0.0.1:0", ":9091", "[::]:9091", "[::1]:8080", "localhost:1", "off"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char var[64];
        snprintf(var, sizeof(var), "LSINIT_HEALTH_ADDR=%s", good[i]);
        load_ok(&l, ARGS("app"), ENV(var));
        assert_string_equal(l.s.health_addr, good[i]);
    }
    load_fails(ARGS("app"), ENV("LSINIT_HEALTH_ADDR=9091"), EXIT_CONFIG, WANT("LSINIT_HEALTH_ADDR=9091", "HOST:PORT"));
    load_fails(ARGS("app"), ENV("LSINIT_HEALTH_ADDR=0.0.0.0:http"), EXIT_CONFIG, WANT("LSINIT_HEALTH_ADDR"));
    load_fails(ARGS("app"), ENV("LSINIT_HEALTH_ADDR=0.0.0.0:65536"), EXIT_CONFIG, WANT("LSINIT_HEALTH_ADDR"));
    load_fails(ARGS("app"), ENV("LSINIT_HEALTH_ADDR=[::1:9091"), EXIT_CONFIG, WANT("LSINIT_HEALTH_ADDR"));
    load_fails(ARGS("app"), ENV("LSINIT_HEALTH_ADDR=::1"), EXIT_CONFIG, WANT("LSINIT_HEALTH_ADDR"));
}

static void test_verify_defaults_and_values(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("app"), NULL);
    assert_int_equal(l.s.verify_interval_ms, SETTINGS_DEFAULT_VERIFY_INTERVAL_MS);
    assert_int_equal(l.s.verify_catchup_timeout_ms, 60000);
    assert_int_equal(l.s.verify_timeout_ms, 30 * 60000);
    assert_string_equal(l.s.verify_dir, "/tmp");
    load_ok(&l, ARGS("app"),
            ENV("LSINIT_VERIFY_INTERVAL=30m", "LSINIT_VERIFY_CATCHUP_TIMEOUT=5s", "LSINIT_VERIFY_TIMEOUT=10m",
                "LSINIT_VERIFY_DIR=/scratch", "TMPDIR=/other"));
    assert_int_equal(l.s.verify_interval_ms, 30 * 60000);
    assert_int_equal(l.s.verify_catchup_timeout_ms, 5000);
    assert_int_equal(l.s.verify_timeout_ms, 10 * 60000);
    assert_string_equal(l.s.verify_dir, "/scratch");
    load_ok(&l, ARGS("app"), ENV("LSINIT_VERIFY_INTERVAL=off", "LSINIT_VERIFY_DIR=", "TMPDIR=/other"));
    assert_int_equal(l.s.verify_interval_ms, 0);
    assert_string_equal(l.s.verify_dir, "/other");
}

static void test_role_defaults_and_values(void **state)
{
    (void)state;
    struct loaded l;
    load_ok(&l, ARGS("app"), NULL);
    assert_int_equal(l.s.role, ROLE_PRIMARY);
    assert_int_equal(l.s.follow_max_lag_ms, 10000);
    assert_int_equal(l.s.follow_interval_ms, 1000);
    assert_int_equal(l.s.verify_follow_interval_ms, 10000);
    load_ok(&l, ARGS("app"), ENV("LSINIT_ROLE=follower", "LSINIT_FOLLOW_MAX_LAG=30s", "LSINIT_FOLLOW_INTERVAL=250ms"));
    assert_int_equal(l.s.role, ROLE_FOLLOWER);
    assert_int_equal(l.s.follow_max_lag_ms, 30000);
    assert_int_equal(l.s.follow_interval_ms, 250);
    load_ok(&l, ARGS("--role", "standby", "--", "app"), ENV("LSINIT_ROLE=follower"));
    assert_int_equal(l.s.role, ROLE_STANDBY); /* the command line wins */
    load_ok(&l, ARGS("--role=follower", "--", "app"), ENV("LSINIT_TAKEOVER_TXID=0a", "LSINIT_ROLE=primary"));
    assert_int_equal(l.s.role, ROLE_PRIMARY); /* a standby that took over is the primary */
    load_fails(ARGS("--role", "reader", "--", "app"), NULL, EXIT_USAGE, WANT("--role reader"));
    load_ok(&l, ARGS("app"), ENV("LSINIT_ROLE=primary", "LSINIT_VERIFY_FOLLOW_INTERVAL=1m"));
    assert_int_equal(l.s.role, ROLE_PRIMARY);
    assert_int_equal(l.s.verify_follow_interval_ms, 60000);
}

/* Every LSINIT_VERIFY_* is held to the same rule: a bad value is exit 78 and one line naming it. */
static void test_verify_bad_values(void **state)
{
    (void)state;
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_INTERVAL=banana"), EXIT_CONFIG, WANT("LSINIT_VERIFY_INTERVAL=banana"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_INTERVAL=500ms"), EXIT_CONFIG, WANT("LSINIT_VERIFY_INTERVAL", "1s"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_TIMEOUT=banana"), EXIT_CONFIG, WANT("LSINIT_VERIFY_TIMEOUT=banana"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_TIMEOUT=0s"), EXIT_CONFIG, WANT("LSINIT_VERIFY_TIMEOUT", "positive"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_TIMEOUT="), EXIT_CONFIG, WANT("LSINIT_VERIFY_TIMEOUT"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_CATCHUP_TIMEOUT=-5s"), EXIT_CONFIG,
               WANT("LSINIT_VERIFY_CATCHUP_TIMEOUT=-5s"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_CATCHUP_TIMEOUT=soon"), EXIT_CONFIG,
               WANT("LSINIT_VERIFY_CATCHUP_TIMEOUT"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_DIR=tmp"), EXIT_CONFIG, WANT("LSINIT_VERIFY_DIR=tmp", "absolute"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_FOLLOW_INTERVAL=50ms"), EXIT_CONFIG,
               WANT("LSINIT_VERIFY_FOLLOW_INTERVAL=50ms", "100ms"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_FOLLOW_INTERVAL=2h"), EXIT_CONFIG,
               WANT("LSINIT_VERIFY_FOLLOW_INTERVAL=2h", "1h"));
    load_fails(ARGS("app"), ENV("LSINIT_VERIFY_FOLLOW_INTERVAL=often"), EXIT_CONFIG,
               WANT("LSINIT_VERIFY_FOLLOW_INTERVAL=often"));
    load_fails(ARGS("app"), ENV("LSINIT_ROLE=reader"), EXIT_CONFIG, WANT("LSINIT_ROLE=reader", "follower"));
    load_fails(ARGS("app"), ENV("LSINIT_FOLLOW_MAX_LAG=500ms"), EXIT_CONFIG, WANT("LSINIT_FOLLOW_MAX_LAG=500ms", "1s"));
    load_fails(ARGS("app"), ENV("LSINIT_FOLLOW_INTERVAL=2m"), EXIT_CONFIG, WANT("LSINIT_FOLLOW_INTERVAL=2m", "1m"));
    load_fails(ARGS("app"), ENV("LSINIT_FOLLOW_INTERVAL=soon"), EXIT_CONFIG, WANT("LSINIT_FOLLOW_INTERVAL=soon"));
    load_fails(ARGS("app"), ENV("TMPDIR=relative"), EXIT_CONFIG, WANT("TMPDIR=relative", "absolute"));
}

/* `lsinit verify` and the verification child read the same variables through settings_load_verify alone. */
static void test_verify_alone(void **state)
{
    (void)state;
    struct settings s;
    char err[SETTINGS_ERROR_SIZE] = "";
    memset(&s, 0, sizeof(s));
    assert_int_equal(settings_load_verify(&s, ENV("LSINIT_VERIFY_TIMEOUT=90s", "LSINIT_GRACE=bad"), err, sizeof(err)),
                     0);
    assert_int_equal(s.verify_timeout_ms, 90000);
    assert_int_equal(s.verify_catchup_timeout_ms, SETTINGS_DEFAULT_VERIFY_CATCHUP_TIMEOUT_MS);
    assert_int_equal(settings_load_verify(&s, ENV("LSINIT_VERIFY_TIMEOUT=banana"), err, sizeof(err)), EXIT_CONFIG);
    assert_non_null(strstr(err, "LSINIT_VERIFY_TIMEOUT=banana"));
}

/* A bad variable is reported even when a flag would override it: a typo must not hide. */
static void test_bad_env_reported_before_flags(void **state)
{
    (void)state;
    load_fails(ARGS("--grace", "1s", "app"), ENV("LSINIT_GRACE=10x"), EXIT_CONFIG, WANT("LSINIT_GRACE"));
    load_fails(ARGS("-x", "app"), ENV("LSINIT_GRACE=10x"), EXIT_CONFIG, WANT("LSINIT_GRACE"));
}

static void test_error_text_fits_small_buffers(void **state)
{
    (void)state;
    struct settings s;
    char err[16];
    memset(err, 'X', sizeof(err));
    char *argv[] = {"lsinit", "--grace", "not-a-duration-at-all", "app", NULL};
    assert_int_equal(settings_load(&s, 4, argv, NULL, err, sizeof(err)), EXIT_USAGE);
    assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* settings_load can be called again (tests, subcommands): no getopt state leaks between calls. */
static void test_load_twice_after_an_error(void **state)
{
    (void)state;
    load_fails(ARGS("-xv", "app"), NULL, EXIT_USAGE, WANT("-x"));
    struct loaded l;
    load_ok(&l, ARGS("app"), NULL);
    assert_int_equal(l.s.log_level, LOG_INFO);
    assert_string_equal(l.s.command[0], "app");

    load_fails(ARGS("-gx", "-q", "app"), NULL, EXIT_USAGE, WANT("-x"));
    load_ok(&l, ARGS("-t", "3s", "app"), NULL);
    assert_false(l.s.kill_group);
    assert_int_equal(l.s.grace_ms, 3000);
}

static void test_env_lookup(void **state)
{
    (void)state;
    char *const env[] = {"A=1", "LSINIT_GRACEX=9s", "LSINIT_GRACE=2s", "EMPTY=", "EQ=a=b", "NOEQUALS", NULL};
    assert_string_equal(env_lookup(env, "A"), "1");
    assert_string_equal(env_lookup(env, "LSINIT_GRACE"), "2s");
    assert_string_equal(env_lookup(env, "LSINIT_GRACEX"), "9s");
    assert_string_equal(env_lookup(env, "EMPTY"), "");
    assert_string_equal(env_lookup(env, "EQ"), "a=b");
    assert_null(env_lookup(env, "NOEQUALS"));
    assert_null(env_lookup(env, "LSINIT"));
    assert_null(env_lookup(env, "B"));
    assert_null(env_lookup(NULL, "A"));
    char *const first_wins[] = {"X=first", "X=second", NULL};
    assert_string_equal(env_lookup(first_wins, "X"), "first");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_defaults_ignore_unrelated_env),
        cmocka_unit_test(test_no_command),
        cmocka_unit_test(test_env_values),
        cmocka_unit_test(test_env_bare_number_grace_is_seconds),
        cmocka_unit_test(test_env_kill_group_booleans),
        cmocka_unit_test(test_env_log_levels),
        cmocka_unit_test(test_flags_win_over_env),
        cmocka_unit_test(test_later_flag_wins),
        cmocka_unit_test(test_grace_flag_spellings),
        cmocka_unit_test(test_remap_exit_flag),
        cmocka_unit_test(test_remap_exit_every_code),
        cmocka_unit_test(test_rewrite_flag),
        cmocka_unit_test(test_kill_group_flag),
        cmocka_unit_test(test_verbosity_flags),
        cmocka_unit_test(test_help_version_and_tini_s),
        cmocka_unit_test(test_options_stop_at_the_command),
        cmocka_unit_test(test_unknown_options),
        cmocka_unit_test(test_missing_arguments),
        cmocka_unit_test(test_bad_flag_values),
        cmocka_unit_test(test_bad_env_values),
        cmocka_unit_test(test_health_addr),
        cmocka_unit_test(test_verify_defaults_and_values),
        cmocka_unit_test(test_role_defaults_and_values),
        cmocka_unit_test(test_verify_bad_values),
        cmocka_unit_test(test_verify_alone),
        cmocka_unit_test(test_bad_env_reported_before_flags),
        cmocka_unit_test(test_error_text_fits_small_buffers),
        cmocka_unit_test(test_load_twice_after_an_error),
        cmocka_unit_test(test_env_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
