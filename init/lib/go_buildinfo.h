/* SPDX-License-Identifier: MIT */
/*
 * The build information the Go linker leaves in every Go executable (what
 * `go version -m FILE` prints), read from an ELF file without running it:
 * the Go version, and the module and build-setting lines ("path", "mod",
 * "dep", "build\t-ldflags=..."). A release build that sets its version with
 * `-ldflags "-X main.Version=..."` carries that flag in a build line (Go 1.18
 * and later), so go_buildinfo_ldflags_x finds the version in microseconds.
 *
 * Where it is: the section .go.buildinfo; without section headers, the first
 * writable PT_LOAD segment, searched for the 16-byte aligned magic
 * "\xff Go buildinf:" (as Go's debug/buildinfo does). The blob: a 32-byte
 * header (magic, pointer size, flags); since Go 1.18 (flag bit 2) two
 * uvarint-length-prefixed strings follow it inline, the Go version and the
 * module info (framed by 16-byte sentinels, which are removed). The older
 * pointer form is not read (it has no build settings anyway).
 *
 * Every read is a bounded pread checked against the file's size, the
 * section's or the segment's end; nothing reads the whole file.
 */
#ifndef LSINIT_GO_BUILDINFO_H
#define LSINIT_GO_BUILDINFO_H

#include <stdbool.h>
#include <stddef.h>

#define GO_BUILDINFO_VERSION_MAX 256   /* longest Go version string accepted, with its NUL */
#define GO_BUILDINFO_MOD_MAX (1 << 20) /* longest module info accepted */

struct go_buildinfo {
    char go_version[GO_BUILDINFO_VERSION_MAX]; /* "go1.25.14" */
    char *mod;                                 /* the module info lines, NUL-terminated (malloc'd); "" when none */
    size_t mod_len;                            /* its length (it may hold NUL bytes in a hostile file) */
    unsigned elf_machine;                      /* e_machine: 62 x86-64, 183 AArch64, ... */
    bool elf64;                                /* ELFCLASS64 (else ELFCLASS32) */
    bool big_endian;                           /* ELFDATA2MSB */
    bool from_section;                         /* found through the .go.buildinfo section (else the writable segment) */
};

/*
 * Reads the build info of the ELF executable at path (or open fd: a regular
 * file, read with pread only). Returns 0 with out filled (free it with
 * go_buildinfo_free), or -1 with one line in err saying why not (not an ELF
 * file, no build info, a Go before 1.18, a length past the section's end, a
 * read error); out then needs no freeing.
 */
int go_buildinfo_read(const char *path, struct go_buildinfo *out, char *err, size_t err_size);
int go_buildinfo_read_fd(int fd, struct go_buildinfo *out, char *err, size_t err_size);
void go_buildinfo_free(struct go_buildinfo *bi);

/*
 * The value of the build setting key ("-ldflags", "GOARCH", "vcs.revision")
 * in mod: its "build\tKEY=VALUE" line, VALUE unquoted when Go quoted it (a
 * value with a space, tab, newline, " or ` is written as a Go string).
 * Returns 0 with the value in out, 1 when mod has no such line, -1 when the
 * value is malformed or does not fit out.
 */
int go_buildinfo_setting(const char *mod, const char *key, char *out, size_t out_size);

/*
 * The value the linker gave symbol (e.g. "main.Version") with -X in the
 * -ldflags build setting: its flags split as the go command splits them
 * (whitespace, fields in '' or "" as they are), then "-X NAME=VALUE",
 * "-X=NAME=VALUE" (or --X); the last one wins, as in the linker. A
 * "PATTERN=FLAGS" setting counts only for the pattern "all". Returns 0 with
 * the value in out, 1 when nothing sets symbol (or there is no -ldflags
 * setting), -1 when the setting cannot be read (malformed quoting, another
 * pattern, out too small). A -X that is itself the value of another flag
 * (`-extldflags -X`) would be misread; no real build writes that.
 */
int go_buildinfo_ldflags_x(const char *mod, const char *symbol, char *out, size_t out_size);

#endif
