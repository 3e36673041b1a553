/* SPDX-License-Identifier: MIT */
/*
 * Pulls one regular file out of a .tar.gz held in memory: gzip through zlib's
 * inflate (concatenated members allowed, every member's CRC checked), then a
 * minimal tar reader (POSIX ustar, GNU and v7 headers; pax "path" records and
 * GNU long names; octal and base-256 sizes). The file's bytes go to a sink as
 * they are inflated, so nothing larger than a 64 KiB buffer is held.
 */
#ifndef LSINIT_TAR_GZ_H
#define LSINIT_TAR_GZ_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits against decompression bombs. */
#define TGZ_MAX_ENTRY_SIZE ((uint64_t)512 << 20) /* the file we extract */
#define TGZ_MAX_TOTAL_SIZE ((uint64_t)2 << 30)   /* everything inflated */

enum tgz_result {
    TGZ_OK = 0,
    TGZ_CORRUPT = 1,     /* not gzip, bad gzip data/CRC, truncated, bad tar header, over a limit */
    TGZ_NOT_FOUND = 2,   /* a valid archive without a regular file of that name */
    TGZ_SINK_FAILED = 3, /* the sink returned non-zero; its context says why */
};

/* Receives the file's bytes in order; returns 0 to go on, non-zero to stop. */
typedef int (*tgz_sink_fn)(void *ctx, const unsigned char *data, size_t len);

/*
 * Extracts the regular file called name ("./name" matches too) from the
 * gzip-compressed tar in gz[0..gz_len). On TGZ_OK *entry_size is its size.
 * Otherwise err holds one sentence (without the archive's name).
 */
enum tgz_result tgz_extract(const unsigned char *gz, size_t gz_len, const char *name, tgz_sink_fn sink, void *sink_ctx,
                            uint64_t *entry_size, char *err, size_t err_size);

#endif
