/* SPDX-License-Identifier: MIT */
/*
 * argv → run mode or subcommand. Signals are blocked before anything else
 * happens, so a TERM that arrives during start-up is queued, not lost.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exit_codes.h"
#include "litestream.h"
#include "log.h"
#include "parse.h"
#include "plan.h"
#include "restore.h"
#include "settings.h"
#include "shim.h"
#include "signals.h"
#include "cmd_litestream.h"
#include "supervisor.h"
#include "verify.h"
#include "version.h"

extern char **environ;

int main(int argc, char **argv)
{
    struct signal_state sig;
    if (signals_setup(&sig) != 0) {
        log_error("cannot set up signal handling: %m");
        return EXIT_OSERR;
    }

    /* The internal children and the subcommands log at debug level when lsinit does (LSINIT_LOG_LEVEL=debug). */
    const char *level = getenv("LSINIT_LOG_LEVEL");
    if (argc >= 2 && level != NULL && strcmp(level, "debug") == 0)
        log_set_level(LOG_DEBUG);
    if (argc >= 2 && strcmp(argv[1], SHIM_ARGV0) == 0)
        return shim_main(argc, argv, &sig);
    if (argc >= 2 && strcmp(argv[1], VERIFY_CHILD_ARGV0) == 0)
        return verify_child_main(argc, argv, &sig);
    if (argc >= 2 && subcommand_is_known(argv[1]))
        return subcommand_main(argc - 1, argv + 1, environ, &sig);

    struct settings settings;
    char err[1024];
    int rc = settings_load(&settings, argc, argv, environ, err, sizeof(err));
    if (rc != 0) {
        log_error("%s", err);
        return rc;
    }
    log_set_level(settings.log_level);
    if (settings.show_help) {
        settings_print_help();
        return 0;
    }
    if (settings.show_version) {
        printf("lsinit version %s\n", LSINIT_VERSION);
        return 0;
    }
    if (settings.command[0] == NULL) {
        log_error(
            "no command given: use lsinit [OPTIONS] -- COMMAND [ARGS...] (CMD in a Dockerfile); see lsinit --help");
        return EXIT_USAGE;
    }

    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        log_error("cannot read the current directory: %m");
        return EXIT_OSERR;
    }
    bool keep_fds = false;
    const char *keep = getenv("LSINIT_KEEP_FDS");
    if (getenv("LISTEN_FDS") == NULL && !(keep != NULL && parse_bool(keep, &keep_fds) == 0 && keep_fds))
        fds_close_inherited_on_exec(sig.fd);

    struct plan plan;
    rc = plan_build(&plan, environ, cwd, &sig.original_mask, err, sizeof(err));
    if (rc == 0 && plan.enabled && ls_version_check_supervised(&plan.version, err, sizeof(err)) != 0)
        rc = EXIT_CONFIG;
    if (rc == 0 && settings.role != ROLE_PRIMARY)
        rc = plan_check_follower_role(&plan, settings.role == ROLE_STANDBY ? "standby" : "follower", err, sizeof(err));
    if (rc == 0 && plan.enabled)
        rc = plan_write_config(&plan, err, sizeof(err));
    if (rc != 0) {
        log_error("%s", err);
        plan_free(&plan);
        return rc;
    }
    struct supervisor sup;
    supervisor_init(&sup, &settings, &sig, cwd);
    /* Database folders first, then the health port: bad input fails before any child exists. */
    if (plan.enabled)
        rc = restore_prepare_folders(&plan);
    if (rc == 0)
        rc = supervisor_start_services(&sup, plan.enabled ? &plan : NULL);
    sup.self_argv = argv;
    if (rc == 0 && plan.enabled && settings.role != ROLE_PRIMARY)
        rc = supervisor_start_follower(&sup, &plan);
    else if (rc == 0)
        rc = plan.enabled ? supervisor_start_replication(&sup, &plan) : supervisor_start_command(&sup);
    if (rc == 0)
        rc = supervisor_run(&sup);
    supervisor_free(&sup);
    plan_free(&plan);
    return rc;
}
