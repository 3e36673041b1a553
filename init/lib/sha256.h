/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4), for checking downloaded release archives. */
#ifndef LSINIT_SHA256_H
#define LSINIT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE ((size_t)32)
#define SHA256_HEX_SIZE 65 /* 64 lowercase hex digits and a NUL */

struct sha256_ctx {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes waiting in block */
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, unsigned char digest[SHA256_DIGEST_SIZE]);

/* One call: hex digest of data (lowercase). */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_SIZE]);
void sha256_to_hex(const unsigned char digest[SHA256_DIGEST_SIZE], char hex[SHA256_HEX_SIZE]);

#endif
