/* SPDX-License-Identifier: MIT */
/*
 * `lsinit install-litestream [--version V] [--arch A] [--dir D] [--url URL]
 * [--sha256 HEX] [--force]`: downloads Litestream's release archive for this
 * machine, checks it against what is pinned here (or given), extracts
 * `litestream` in-process and installs it as D/litestream (mode 0755) with a
 * rename, so a failure never leaves a partial binary. Meant for `RUN
 * ["/lsinit", "install-litestream"]` in images without a shell or curl.
 *
 * Two kinds of pin: the SHA-256 of the release archive (0.3.13), and the
 * SHA-256 of the `litestream` file inside it (0.5.17), checked after
 * extraction and before the rename. A binary pin holds for any archive that
 * carries the official binary, so a mirror needs no --sha256 then; it is
 * enforced even when --sha256 is given.
 */
#ifndef LSINIT_CMD_INSTALL_H
#define LSINIT_CMD_INSTALL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "sha256.h"

#define INSTALL_DEFAULT_VERSION "0.5.17"
#define INSTALL_DEFAULT_DIR "/usr/local/bin"
#define INSTALL_MAX_DOWNLOAD ((size_t)200 << 20)

/* Exit codes (sysexits.h values); 64 and 78 are exit_codes.h's EXIT_USAGE/EXIT_CONFIG. */
enum install_exit {
    INSTALL_EXIT_DATAERR = 65,     /* checksum mismatch (archive or binary), corrupt or unexpected archive */
    INSTALL_EXIT_UNAVAILABLE = 69, /* download failed: HTTP error, unreachable, cut short, TLS */
    INSTALL_EXIT_CANTCREAT = 73,   /* cannot create or write D/litestream (permissions, disk full) */
};

struct install_options {
    char version[32];        /* without the leading v: "0.3.13" */
    char dir[PATH_MAX - 64]; /* no trailing slash (except "/") */
    char url[2048];
    char sha256[SHA256_HEX_SIZE];        /* the archive's, lowercase hex; "" when only the binary is pinned */
    const char *sha256_source;           /* "pinned", "--sha256" or "LSINIT_LITESTREAM_SHA256"; NULL with sha256 "" */
    char binary_sha256[SHA256_HEX_SIZE]; /* pinned SHA-256 of the extracted litestream, or "" */
    char arch[16];                       /* amd64, arm64, arm7, arm6; "" for another machine (then --url is required) */
    bool custom_url;
    bool force;
    bool help;
};

/* Release architecture for uname's machine: x86_64 → amd64, aarch64 → arm64, armv7l → arm7,
 * armv6l → arm6 (0.3.x names; install_release_url maps them for 0.5.x); NULL otherwise. */
const char *install_arch_for_machine(const char *machine);

/* --arch: any of uname's, 0.3.x's or 0.5.x's names (x86_64/amd64, aarch64/arm64,
 * armv7l/arm7/armv7, armv6l/arm6/armv6) → the 0.3.x name; NULL otherwise. */
const char *install_arch_from_name(const char *name);

/* The official archive's URL for version ("0.3.13") and a release arch. 0 or -1 (unknown arch, too long). */
int install_release_url(const char *version, const char *arch, char *out, size_t size);

/* SHA-256 pinned in lsinit for the official archive of version ("0.3.13") on arch, or NULL. */
const char *install_pinned_sha256(const char *version, const char *arch);

/* SHA-256 pinned in lsinit for the `litestream` binary inside the official archive of version
 * ("0.5.17") on arch (0.3.x name), or NULL. */
const char *install_pinned_binary_sha256(const char *version, const char *arch);

/*
 * Flags (argv[0] is the subcommand's name), then LSINIT_LITESTREAM_URL,
 * LSINIT_LITESTREAM_SHA256 and LSINIT_INSTALL_DIR; machine is uname's.
 * Returns 0, or an exit code (64 usage, 78 bad value) with err set.
 */
int install_options_parse(int argc, char **argv, char *const *envp, const char *machine, struct install_options *o,
                          char *err, size_t err_size);

/* The subcommand. Returns the exit code. */
int install_litestream_main(int argc, char **argv, char *const *envp);

#endif
