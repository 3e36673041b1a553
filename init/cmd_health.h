/* SPDX-License-Identifier: MIT */
/* `lsinit health [URL|PATH]`: a probe client for HEALTHCHECK in images without curl. */
#ifndef LSINIT_CMD_HEALTH_H
#define LSINIT_CMD_HEALTH_H

/* Exit 0 on a 2xx answer, 1 otherwise (Docker's HEALTHCHECK contract), 64 on bad usage. */
int health_probe_main(int argc, char **argv, char *const *envp);

#endif
