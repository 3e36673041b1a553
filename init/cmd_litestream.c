/* SPDX-License-Identifier: MIT */
#include "cmd_litestream.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_lease.h"
#include "exit_codes.h"
#include "cmd_health.h"
#include "cmd_install.h"
#include "litestream.h"
#include "log.h"
#include "plan.h"
#include "settings.h"
#include "spawn.h"
#include "verify.h"
#include "version.h"

bool subcommand_is_known(const char *name)
{
    return strcmp(name, "config") == 0 || strcmp(name, "verify") == 0 || strcmp(name, "health") == 0 ||
           strcmp(name, "install-litestream") == 0 || strcmp(name, "lease") == 0 || ls_is_subcommand(name);
}

/* Runs argv in the foreground, passing INT/TERM/HUP/QUIT on; returns its exit code. */
static int run_foreground(char *const *argv, const struct signal_state *sig)
{
    int exec_errno = 0;
    struct spawn_request req = {.argv = argv, .child_mask = &sig->original_mask};
    pid_t pid = spawn_process(&req, &exec_errno);
    if (pid < 0) {
        errno = exec_errno != 0 ? exec_errno : errno;
        log_error("cannot run %s: %m", argv[0]);
        return exec_errno != 0 ? spawn_exit_code_for_errno(exec_errno) : EXIT_OSERR;
    }
    int status = 0;
    if (signals_wait_forwarding(sig, pid, &status) != 0)
        return EXIT_OSERR;
    return spawn_status_code(status);
}

static int print_version(char *const *envp, const struct signal_state *sig)
{
    printf("lsinit %s\n", LSINIT_VERSION);
    char bin[PATH_MAX], err[512];
    if (ls_find_binary(env_lookup(envp, "LSINIT_LITESTREAM"), env_lookup(envp, "PATH"), bin, sizeof(bin), err,
                       sizeof(err)) != 0) {
        fflush(stdout);
        log_error("%s", err);
        return EXIT_CONFIG;
    }
    struct ls_version v;
    if (ls_detect_version(bin, &sig->original_mask, &v, err, sizeof(err)) != 0) {
        fflush(stdout);
        log_error("%s", err);
        return EXIT_LITESTREAM;
    }
    char why[256];
    bool ok = ls_version_check_supported(&v, why, sizeof(why)) == 0;
    printf("litestream %s (%s)%s\n", v.text, bin, ok ? "" : " - not supported");
    return ok ? 0 : EXIT_CONFIG;
}

int subcommand_main(int argc, char **argv, char *const *envp, const struct signal_state *sig)
{
    const char *name = argv[0];
    if (strcmp(name, "version") == 0)
        return print_version(envp, sig);
    if (strcmp(name, "verify") == 0)
        return verify_cli_main(argc, argv, envp, sig);
    if (strcmp(name, "health") == 0)
        return health_probe_main(argc, argv, envp);
    if (strcmp(name, "install-litestream") == 0)
        return install_litestream_main(argc, argv, envp);

    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        log_error("cannot read the current directory: %m");
        return EXIT_OSERR;
    }
    struct plan plan;
    char err[1024];
    int rc = plan_build(&plan, envp, cwd, &sig->original_mask, err, sizeof(err));
    if (rc != 0) {
        log_error("%s", err);
        plan_free(&plan);
        return rc;
    }
    if (!plan.enabled) {
        log_error("no database configured: set LSINIT_DB (and LSINIT_REPLICA_URL) or LSINIT_CONFIG");
        return EXIT_CONFIG;
    }
    if (strcmp(name, "lease") == 0) {
        rc = cmd_lease_main(argc, argv, &plan);
        plan_free(&plan);
        return rc;
    }
    if (strcmp(name, "config") == 0) {
        if (argc > 1) {
            log_error("config takes no arguments");
            plan_free(&plan);
            return EXIT_USAGE;
        }
        char *text = plan_render(&plan, true);
        if (text == NULL) {
            plan_free(&plan);
            return EXIT_OSERR;
        }
        fputs(text, stdout);
        free(text);
        plan_free(&plan);
        return 0;
    }

    /* Resolve the database argument (path or file name) to its configured path. */
    char **user_args = argv + 1;
    int user_argc = argc - 1;
    int pos = ls_find_positional(&plan.version, name, user_args, user_argc);
    if (pos >= 0 && strstr(user_args[pos], "://") == NULL) {
        const char *db = plan_find_db(&plan, user_args[pos], cwd);
        if (db == NULL) {
            log_error("no database '%s' is configured (or the name is ambiguous): see lsinit databases",
                      user_args[pos]);
            plan_free(&plan);
            return EXIT_USAGE;
        }
        user_args[pos] = (char *)db;
    }
    if (plan_write_config(&plan, err, sizeof(err)) != 0) {
        log_error("%s", err);
        plan_free(&plan);
        return EXIT_OSERR;
    }
    const char *out[LS_ARGV_MAX];
    int n = ls_subcommand_argv(&plan.version, plan.litestream, plan.config_path, plan.socket_path, name, user_args,
                               user_argc, out, LS_ARGV_MAX, err, sizeof(err));
    if (n < 0) {
        log_error("%s", err);
        plan_free(&plan);
        return EXIT_USAGE;
    }
    rc = run_foreground((char *const *)out, sig);
    plan_free(&plan);
    return rc;
}
