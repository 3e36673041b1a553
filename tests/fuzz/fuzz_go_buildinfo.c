/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Go build info reader (init/lib/go_buildinfo.c):
 * the input is the whole file (a memfd, read with pread as a real binary is),
 * then the setting and -ldflags -X helpers run on the module info it found
 * and on the input itself as text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "go_buildinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void helpers(const char *mod)
{
    char value[64];
    int rc = go_buildinfo_ldflags_x(mod, "main.Version", value, sizeof(value));
    if (rc == 0 && strlen(value) >= sizeof(value))
        __builtin_trap();
    if (rc < -1 || rc > 1)
        __builtin_trap();
    rc = go_buildinfo_setting(mod, "-ldflags", value, sizeof(value));
    if (rc < -1 || rc > 1 || (rc == 0 && strlen(value) >= sizeof(value)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_go_buildinfo", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return 0;
        }
        done += (size_t)n;
    }
    struct go_buildinfo bi;
    char err[256];
    if (go_buildinfo_read_fd(fd, &bi, err, sizeof(err)) == 0) {
        /* The contract lsinit relies on. */
        if (bi.mod == NULL || bi.mod_len > GO_BUILDINFO_MOD_MAX || bi.mod[bi.mod_len] != '\0')
            __builtin_trap();
        if (bi.go_version[0] == '\0' || strnlen(bi.go_version, sizeof(bi.go_version)) >= sizeof(bi.go_version))
            __builtin_trap();
        helpers(bi.mod);
        go_buildinfo_free(&bi);
    } else if (bi.mod != NULL || err[0] == '\0') {
        __builtin_trap();
    }
    close(fd);

    char *text = malloc(size + 1);
    if (text != NULL) {
        memcpy(text, data, size);
        text[size] = '\0';
        helpers(text);
        free(text);
    }
    return 0;
}
