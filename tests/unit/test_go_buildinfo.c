/* SPDX-License-Identifier: MIT */
/*
 * Go build info read from an ELF file (init/lib/go_buildinfo.c): the real
 * Litestream binaries scripts/install-deps puts in .deps/litestream/ (found
 * from the current folder or its parents; skipped, saying so, when absent),
 * one of them with its section headers removed, crafted ELF64/ELF32 files in
 * both byte orders, and hostile ones (lengths past the end, truncated headers,
 * garbage) that must fail with a reason, never crash. Then the build-setting
 * and -ldflags -X helpers on the texts Go writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "go_buildinfo.h"

#define SENTINEL_START "0w\xaf\x0c\x92t\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6"
#define SENTINEL_END "\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2"

/* ---- files ----------------------------------------------------------------------- */

static const char *tmp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp != NULL && tmp[0] == '/' ? tmp : "/tmp";
}

/* Writes data to a new temporary file; its path into path (PATH_MAX). */
static void write_temp(const void *data, size_t len, char *path)
{
    snprintf(path, PATH_MAX, "%.3000s/lsinit-gbi-XXXXXX", tmp_dir());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
    assert_int_equal(close(fd), 0);
}

/* go_buildinfo_read of data written to a file: its return code; err gets the reason. */
static int read_bytes(const void *data, size_t len, struct go_buildinfo *bi, char *err, size_t err_size)
{
    char path[PATH_MAX];
    write_temp(data, len, path);
    err[0] = '\0';
    int rc = go_buildinfo_read(path, bi, err, err_size);
    unlink(path);
    return rc;
}

/* The real binary of a Litestream version: .deps/litestream/V/litestream here or in a parent folder. */
static bool find_real(const char *version, char *out, size_t size)
{
    const char *ups[] = {"", "../", "../../", "../../../"};
    for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
        snprintf(out, size, "%s.deps/litestream/%s/litestream", ups[i], version);
        if (access(out, R_OK) == 0)
            return true;
    }
    return false;
}

#define REQUIRE_REAL(version, path)                                                                                    \
    do {                                                                                                               \
        if (!find_real(version, path, sizeof(path))) {                                                                 \
            print_message("skipped: .deps/litestream/%s/litestream not found from the current folder (run "            \
                          "scripts/install-deps, or make unit from the repository)\n",                                 \
                          version);                                                                                    \
            skip();                                                                                                    \
        }                                                                                                              \
    } while (0)

/* ---- crafted files --------------------------------------------------------------- */

struct buf {
    unsigned char data[8192];
    size_t len;
};

static void put(struct buf *b, size_t off, const void *p, size_t n)
{
    assert_true(off + n <= sizeof(b->data));
    memcpy(b->data + off, p, n);
    if (off + n > b->len)
        b->len = off + n;
}

static void put_uint(struct buf *b, size_t off, uint64_t v, size_t n, bool be)
{
    unsigned char bytes[8];
    for (size_t i = 0; i < n; i++)
        bytes[be ? n - 1 - i : i] = (unsigned char)(v >> (8 * i));
    put(b, off, bytes, n);
}

static size_t put_uvarint(struct buf *b, size_t off, uint64_t v)
{
    unsigned char bytes[10];
    size_t n = 0;
    while (v >= 0x80) {
        bytes[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    bytes[n++] = (unsigned char)v;
    put(b, off, bytes, n);
    return n;
}

/* A Go 1.18+ blob at off: header, the version, the module text framed by Go's sentinels. Returns its end. */
static size_t put_blob(struct buf *b, size_t off, const char *go_version, const char *mod_text)
{
    unsigned char header[32] = "\xff Go buildinf:";
    header[14] = 8;
    header[15] = 2; /* inline strings, little-endian */
    put(b, off, header, sizeof(header));
    size_t pos = off + sizeof(header);
    size_t vlen = strlen(go_version);
    pos += put_uvarint(b, pos, vlen);
    put(b, pos, go_version, vlen);
    pos += vlen;
    size_t tlen = strlen(mod_text);
    pos += put_uvarint(b, pos, tlen + 32);
    put(b, pos, SENTINEL_START, 16);
    put(b, pos + 16, mod_text, tlen);
    put(b, pos + 16 + tlen, SENTINEL_END, 16);
    return pos + 32 + tlen;
}

struct elf_spec {
    bool is64;
    bool be;
    bool sections;    /* a .go.buildinfo section (else only a writable PT_LOAD) */
    size_t data_off;  /* file offset of the section or segment */
    size_t data_len;  /* its size */
    uint64_t vaddr;   /* its address */
    unsigned machine; /* e_machine */
};

#define DATA_OFF 0x200
#define MOD_TEXT                                                                                                       \
    "path\texample.com/cmd/app\nmod\texample.com\tv1.0.0\t\nbuild\t-ldflags=\"-s -w -X main.Version=1.2.3\"\nbuild\t"  \
    "GOARCH=amd64\n"

/* In good_elf's blob: where the version's and the module info's lengths are. */
#define VER_LEN_AT (DATA_OFF + 32)
#define MOD_LEN_AT (DATA_OFF + 32 + 1 + 9)
#define MOD_LEN_SIZE (strlen(MOD_TEXT) + 32 >= 128 ? 2 : 1)

/* The headers around a blob already at spec->data_off: ELF header, one program header, and, with sections, a
 * null section, .go.buildinfo and .shstrtab. */
static void put_elf(struct buf *b, const struct elf_spec *s)
{
    bool be = s->be;
    unsigned char ident[16] = {0x7f, 'E', 'L', 'F', s->is64 ? 2 : 1, be ? 2 : 1, 1};
    put(b, 0, ident, sizeof(ident));
    put_uint(b, 0x10, 2, 2, be); /* ET_EXEC */
    put_uint(b, 0x12, s->machine, 2, be);
    put_uint(b, 0x14, 1, 4, be);
    size_t phoff = s->is64 ? 64 : 52, phentsize = s->is64 ? 56 : 32;
    size_t shentsize = s->is64 ? 64 : 40;
    size_t strtab_off = s->data_off + s->data_len;
    static const char names[] = "\0.go.buildinfo\0.shstrtab";
    size_t shoff = (strtab_off + sizeof(names) + 15) & ~(size_t)15;
    if (s->is64) {
        put_uint(b, 0x20, phoff, 8, be);
        put_uint(b, 0x28, s->sections ? shoff : 0, 8, be);
        put_uint(b, 0x34, 64, 2, be);
        put_uint(b, 0x36, phentsize, 2, be);
        put_uint(b, 0x38, 1, 2, be);
        put_uint(b, 0x3a, shentsize, 2, be);
        put_uint(b, 0x3c, s->sections ? 3 : 0, 2, be);
        put_uint(b, 0x3e, s->sections ? 2 : 0, 2, be);
        /* PT_LOAD, RW */
        put_uint(b, phoff, 1, 4, be);
        put_uint(b, phoff + 4, 6, 4, be);
        put_uint(b, phoff + 8, s->data_off, 8, be);
        put_uint(b, phoff + 0x10, s->vaddr, 8, be);
        put_uint(b, phoff + 0x20, s->data_len, 8, be);
        put_uint(b, phoff + 0x28, s->data_len, 8, be);
    } else {
        put_uint(b, 0x1c, phoff, 4, be);
        put_uint(b, 0x20, s->sections ? shoff : 0, 4, be);
        put_uint(b, 0x28, 52, 2, be);
        put_uint(b, 0x2a, phentsize, 2, be);
        put_uint(b, 0x2c, 1, 2, be);
        put_uint(b, 0x2e, shentsize, 2, be);
        put_uint(b, 0x30, s->sections ? 3 : 0, 2, be);
        put_uint(b, 0x32, s->sections ? 2 : 0, 2, be);
        put_uint(b, phoff, 1, 4, be);
        put_uint(b, phoff + 4, s->data_off, 4, be);
        put_uint(b, phoff + 8, s->vaddr, 4, be);
        put_uint(b, phoff + 0x10, s->data_len, 4, be);
        put_uint(b, phoff + 0x14, s->data_len, 4, be);
        put_uint(b, phoff + 0x18, 6, 4, be);
    }
    if (!s->sections) {
        if (b->len < strtab_off)
            b->len = strtab_off;
        return;
    }
    put(b, strtab_off, names, sizeof(names));
    static const unsigned char zero_table[3 * 64];
    put(b, shoff, zero_table, 3 * shentsize);
    /* section 1: .go.buildinfo (name 1), section 2: .shstrtab (name 15); section 0 stays zero */
    struct {
        uint32_t name, type;
        uint64_t addr, off, size;
    } sh[2] = {{1, 1, s->vaddr, s->data_off, s->data_len}, {15, 3, 0, strtab_off, sizeof(names)}};
    for (size_t i = 0; i < 2; i++) {
        size_t e = shoff + (i + 1) * shentsize;
        put_uint(b, e, sh[i].name, 4, be);
        put_uint(b, e + 4, sh[i].type, 4, be);
        if (s->is64) {
            put_uint(b, e + 0x10, sh[i].addr, 8, be);
            put_uint(b, e + 0x18, sh[i].off, 8, be);
            put_uint(b, e + 0x20, sh[i].size, 8, be);
        } else {
            put_uint(b, e + 0x0c, sh[i].addr, 4, be);
            put_uint(b, e + 0x10, sh[i].off, 4, be);
            put_uint(b, e + 0x14, sh[i].size, 4, be);
        }
    }
}

/* A well-formed ELF64 little-endian file with sections: the blob at DATA_OFF, its section sized to fit. */
static void good_elf(struct buf *b, struct elf_spec *s)
{
    memset(b, 0, sizeof(*b));
    size_t end = put_blob(b, DATA_OFF, "go1.25.14", MOD_TEXT);
    *s = (struct elf_spec){.is64 = true,
                           .sections = true,
                           .data_off = DATA_OFF,
                           .data_len = end - DATA_OFF,
                           .vaddr = 0x400000 + DATA_OFF,
                           .machine = 62};
    put_elf(b, s);
}

/* Where good_elf's .go.buildinfo section header is. */
static size_t section_entry(const struct buf *b)
{
    size_t shoff = 0;
    for (size_t i = 0; i < 8; i++)
        shoff |= (size_t)b->data[0x28 + i] << (8 * i);
    return shoff + 64;
}

static void fails_with(const struct buf *b, const char *reason)
{
    struct go_buildinfo bi;
    char err[256];
    int rc = read_bytes(b->data, b->len, &bi, err, sizeof(err));
    if (rc != -1 || strstr(err, reason) == NULL)
        print_error("wanted a failure with \"%s\"; rc %d, err \"%s\"\n", reason, rc, err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, reason));
    assert_null(bi.mod);
}

/* ---- the real binaries ----------------------------------------------------------- */

static void real_binary_is(const char *path, const char *go_prefix, const char *ldflags, const char *version)
{
    struct go_buildinfo bi;
    char err[256], value[512];
    int rc = go_buildinfo_read(path, &bi, err, sizeof(err));
    if (rc != 0)
        print_error("%s: %s\n", path, err);
    assert_int_equal(rc, 0);
    assert_true(bi.from_section);
    assert_true(bi.elf64);
    assert_false(bi.big_endian);
    assert_int_equal(bi.elf_machine, 62);
    assert_int_equal(strncmp(bi.go_version, go_prefix, strlen(go_prefix)), 0);
    assert_int_equal(strlen(bi.mod), bi.mod_len);
    assert_int_equal(strncmp(bi.mod, "path\tgithub.com/benbjohnson/litestream/cmd/litestream\n", 54), 0);
    assert_int_equal(go_buildinfo_setting(bi.mod, "-ldflags", value, sizeof(value)), 0);
    assert_string_equal(value, ldflags);
    assert_int_equal(go_buildinfo_setting(bi.mod, "GOOS", value, sizeof(value)), 0);
    assert_string_equal(value, "linux");
    assert_int_equal(go_buildinfo_ldflags_x(bi.mod, "main.Version", value, sizeof(value)), 0);
    assert_string_equal(value, version);
    go_buildinfo_free(&bi);
    assert_null(bi.mod);
}

static void test_real_litestream_0_3_13(void **state)
{
    (void)state;
    char path[PATH_MAX];
    REQUIRE_REAL("0.3.13", path);
    /* 0.3.13's Makefile: -ldflags "-s -w -extldflags -static -X 'main.Version=...'"; Go quotes the setting. */
    real_binary_is(path, "go1.21.", "-s -w -extldflags -static -X 'main.Version=v0.3.13'", "v0.3.13");
}

static void test_real_litestream_0_5_17(void **state)
{
    (void)state;
    char path[PATH_MAX];
    REQUIRE_REAL("0.5.17", path);
    real_binary_is(path, "go1.25.", "-s -w -X main.Version=0.5.17", "0.5.17");
}

/* A copy of the real 0.5.17 without section headers: found by searching the writable segment. */
static void test_real_litestream_without_section_headers(void **state)
{
    (void)state;
    char path[PATH_MAX], copy[PATH_MAX];
    REQUIRE_REAL("0.5.17", path);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    snprintf(copy, sizeof(copy), "%.3000s/lsinit-gbi-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmp_dir());
    int out = mkstemp(copy);
    assert_true(out >= 0);
    char *chunk = malloc(1 << 20);
    assert_non_null(chunk);
    ssize_t n;
    while ((n = read(in, chunk, 1 << 20)) > 0)
        assert_int_equal(write(out, chunk, (size_t)n), n);
    assert_int_equal(n, 0);
    free(chunk);
    close(in);
    static const unsigned char zeros[8] = {0};
    assert_int_equal(pwrite(out, zeros, 8, 0x28), 8); /* e_shoff */
    assert_int_equal(pwrite(out, zeros, 4, 0x3c), 4); /* e_shnum, e_shstrndx */
    close(out);
    struct go_buildinfo bi;
    char err[256], value[64];
    int rc = go_buildinfo_read(copy, &bi, err, sizeof(err));
    unlink(copy);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_false(bi.from_section);
    assert_int_equal(go_buildinfo_ldflags_x(bi.mod, "main.Version", value, sizeof(value)), 0);
    assert_string_equal(value, "0.5.17");
    go_buildinfo_free(&bi);
}

/* ---- crafted files --------------------------------------------------------------- */

static void crafted_reads(const struct buf *b, bool from_section, bool is64, bool be, unsigned machine)
{
    struct go_buildinfo bi;
    char err[256], value[64];
    int rc = read_bytes(b->data, b->len, &bi, err, sizeof(err));
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(bi.go_version, "go1.25.14");
    assert_string_equal(bi.mod, MOD_TEXT);
    assert_int_equal(bi.mod_len, strlen(MOD_TEXT));
    assert_int_equal(bi.from_section, from_section);
    assert_int_equal(bi.elf64, is64);
    assert_int_equal(bi.big_endian, be);
    assert_int_equal(bi.elf_machine, machine);
    assert_int_equal(go_buildinfo_ldflags_x(bi.mod, "main.Version", value, sizeof(value)), 0);
    assert_string_equal(value, "1.2.3");
    go_buildinfo_free(&bi);
}

static void test_crafted_elf64_section(void **state)
{
    (void)state;
    struct buf b;
    struct elf_spec s;
    good_elf(&b, &s);
    crafted_reads(&b, true, true, false, 62);
}

/* ELF32, big-endian, no section headers: the segment is searched; a misaligned magic before the real one is
 * passed over, as Go does. */
static void test_crafted_elf32_big_endian_segment(void **state)
{
    (void)state;
    struct buf b;
    memset(&b, 0, sizeof(b));
    put(&b, DATA_OFF + 8, "\xff Go buildinf:", 14);
    size_t end = put_blob(&b, DATA_OFF + 48, "go1.25.14", MOD_TEXT);
    struct elf_spec s = {.is64 = false,
                         .be = true,
                         .data_off = DATA_OFF,
                         .data_len = end - DATA_OFF,
                         .vaddr = 0x10000 + DATA_OFF,
                         .machine = 8};
    put_elf(&b, &s);
    crafted_reads(&b, false, false, true, 8);
}

/* Alignment is the address's: a segment at an address 8 past a 16-byte boundary. */
static void test_crafted_alignment_follows_the_address(void **state)
{
    (void)state;
    struct buf b;
    memset(&b, 0, sizeof(b));
    size_t end = put_blob(&b, DATA_OFF + 8, "go1.25.14", MOD_TEXT);
    struct elf_spec s = {
        .is64 = true, .data_off = DATA_OFF, .data_len = end - DATA_OFF, .vaddr = 0x400008, .machine = 62};
    put_elf(&b, &s);
    crafted_reads(&b, false, true, false, 62);
    s.vaddr = 0x400000; /* now the same bytes sit at a misaligned address */
    put_elf(&b, &s);
    fails_with(&b, "no Go build info");
}

static void test_mod_without_sentinels_is_empty(void **state)
{
    (void)state;
    struct buf b;
    struct elf_spec s;
    good_elf(&b, &s);
    /* break Go's framing: the newline before the end sentinel */
    size_t nl = MOD_LEN_AT + MOD_LEN_SIZE + 16 + strlen(MOD_TEXT) - 1;
    assert_int_equal(b.data[nl], '\n');
    b.data[nl] = 'x';
    struct go_buildinfo bi;
    char err[256], value[64];
    assert_int_equal(read_bytes(b.data, b.len, &bi, err, sizeof(err)), 0);
    assert_string_equal(bi.mod, "");
    assert_int_equal(bi.mod_len, 0);
    assert_int_equal(go_buildinfo_ldflags_x(bi.mod, "main.Version", value, sizeof(value)), 1);
    go_buildinfo_free(&bi);
}

/* ---- hostile files ----------------------------------------------------------------- */

static void test_not_elf_empty_and_truncated(void **state)
{
    (void)state;
    struct buf b;
    memset(&b, 0, sizeof(b));
    fails_with(&b, "not an ELF file"); /* empty */
    put(&b, 0, "#!/bin/sh\necho v0.3.13\n", 23);
    fails_with(&b, "not an ELF file");
    struct elf_spec s;
    good_elf(&b, &s);
    b.len = 40; /* cut inside the ELF header */
    fails_with(&b, "not an ELF file");
    good_elf(&b, &s);
    b.data[4] = 3; /* an unknown class */
    fails_with(&b, "unknown class");
    /* The magic alone, in a text file */
    memset(&b, 0, sizeof(b));
    put_blob(&b, 0, "go1.25.14", MOD_TEXT);
    fails_with(&b, "not an ELF file");

    struct go_buildinfo bi;
    char err[256];
    assert_int_equal(go_buildinfo_read("/nonexistent/litestream", &bi, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(go_buildinfo_read(tmp_dir(), &bi, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

static void test_file_cut_inside_the_blob(void **state)
{
    (void)state;
    struct buf b;
    struct elf_spec s;
    good_elf(&b, &s);
    /* section headers lost with the cut: the segment (clipped to the file) is searched */
    for (size_t cut = DATA_OFF; cut < s.data_off + s.data_len; cut += 7) {
        b.len = cut;
        struct go_buildinfo bi;
        char err[256];
        assert_int_equal(read_bytes(b.data, b.len, &bi, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        good_elf(&b, &s);
    }
}

static void test_lengths_past_the_section(void **state)
{
    (void)state;
    struct buf b;
    struct elf_spec s;
    size_t ver_len_at = VER_LEN_AT, mod_len_at = MOD_LEN_AT;

    good_elf(&b, &s);
    b.data[ver_len_at] = 0x7f; /* version longer than the section */
    fails_with(&b, "past the end of its section");

    good_elf(&b, &s);
    put(&b, mod_len_at, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", 10); /* a uvarint past 64 bits */
    fails_with(&b, "cut off or malformed");

    good_elf(&b, &s);
    put(&b, mod_len_at, "\x80\x80\x80\x80\x80\x20", 6); /* 2^40 bytes of module info */
    fails_with(&b, "past the end of its section");

    good_elf(&b, &s);
    b.data[ver_len_at] = 0; /* an empty Go version */
    fails_with(&b, "empty Go version");

    good_elf(&b, &s);
    b.data[DATA_OFF + 15] = 0; /* the pointer form of Go before 1.18 */
    fails_with(&b, "before 1.18");

    good_elf(&b, &s);
    s.data_len = 20; /* the section ends inside the header */
    put_elf(&b, &s);
    fails_with(&b, "header is cut off");

    good_elf(&b, &s);
    s.data_len = 32 + 1 + 9; /* ends right before the module info's length */
    put_elf(&b, &s);
    fails_with(&b, "cut off or malformed");

    good_elf(&b, &s);
    put_uint(&b, section_entry(&b) + 0x18, 1u << 30, 8, false); /* the section starts past the end of the file */
    fails_with(&b, "no contents");

    good_elf(&b, &s);
    put_uint(&b, section_entry(&b) + 4, 8, 4, false); /* SHT_NOBITS */
    fails_with(&b, "no contents");
}

static void test_broken_headers(void **state)
{
    (void)state;
    struct buf b;
    struct elf_spec s;

    good_elf(&b, &s);
    put_uint(&b, 0x28, 1ull << 40, 8, false); /* section headers past the end: the segment is used */
    crafted_reads(&b, false, true, false, 62);

    good_elf(&b, &s);
    put_uint(&b, 0x3c, 0xffff, 2, false); /* 65535 sections that are not there */
    crafted_reads(&b, false, true, false, 62);

    good_elf(&b, &s);
    put_uint(&b, 0x28, 0, 8, false);
    put_uint(&b, 0x20, 1ull << 40, 8, false); /* and no program headers either */
    fails_with(&b, "no readable program headers");

    good_elf(&b, &s);
    put_uint(&b, 0x28, 0, 8, false);
    put_uint(&b, 64 + 4, 5, 4, false); /* the only segment is executable */
    fails_with(&b, "no writable data segment");

    good_elf(&b, &s);
    put_uint(&b, 0x3e, 7, 2, false); /* the name table's index past the table: the segment is used */
    crafted_reads(&b, false, true, false, 62);

    good_elf(&b, &s);
    put(&b, DATA_OFF, "\xff Go buildinX", 14); /* no magic anywhere */
    fails_with(&b, "no Go build info");
}

/* ---- build settings and -ldflags -X ------------------------------------------------ */

static int x_value(const char *ldflags_line, char *out, size_t size)
{
    char mod[1024];
    snprintf(mod, sizeof(mod), "path\tx\nmod\tx\t(devel)\t\nbuild\t-buildmode=exe\n%s\nbuild\tGOOS=linux\n",
             ldflags_line);
    return go_buildinfo_ldflags_x(mod, "main.Version", out, size);
}

static void x_is(const char *ldflags_line, const char *want)
{
    char value[128] = "";
    int rc = x_value(ldflags_line, value, sizeof(value));
    if (rc != 0 || strcmp(value, want) != 0)
        print_error("%s: rc %d, '%s'; wanted '%s'\n", ldflags_line, rc, value, want);
    assert_int_equal(rc, 0);
    assert_string_equal(value, want);
}

static void x_rc(const char *ldflags_line, int want)
{
    char value[128] = "";
    int rc = x_value(ldflags_line, value, sizeof(value));
    if (rc != want)
        print_error("%s: rc %d ('%s'); wanted rc %d\n", ldflags_line, rc, value, want);
    assert_int_equal(rc, want);
}

static void test_ldflags_x_forms(void **state)
{
    (void)state;
    x_is("build\t-ldflags=\"-s -w -extldflags -static -X 'main.Version=v0.3.13'\"", "v0.3.13");
    x_is("build\t-ldflags=\"-s -w -X main.Version=0.5.17\"", "0.5.17");
    x_is("build\t-ldflags=-X=main.Version=1.0.0", "1.0.0");
    x_is("build\t-ldflags=\"--X main.Version=1.0.1 --X=other.V=2\"", "1.0.1");
    x_is("build\t-ldflags=\"-X \\\"main.Version=1.0.2\\\" -s\"", "1.0.2");
    x_is("build\t-ldflags=\"-X main.Version=1 -X main.Version=0.3.13\"", "0.3.13"); /* the last one wins */
    x_is("build\t-ldflags=\"-extld gcc -X main.Version=0.4.1\"", "0.4.1");
    x_is("build\t-ldflags=\"all=-X main.Version=0.5.9\"", "0.5.9");
    x_is("build\t-ldflags=\"  all = -X main.Version=0.5.10\"", "0.5.10");
    x_is("build\t-ldflags=\"-X main.Version=a=b\"", "a=b");
    x_is("build\t-ldflags=\"-X main.Version=\"", "");
    /* a quote inside a field is part of it, as in the linker */
    x_is("build\t-ldflags=\"-X main.Version=\\\"0.3.13\\\"\"", "\"0.3.13\"");
    x_is("build\t-ldflags=\"-X 'main.Version=3.1.4 beta'\"", "3.1.4 beta");
    x_is("build\t-ldflags=\"-X \\\"main.Version=q\\ttab\\\"\"", "q\ttab");
    x_is("build\t-ldflags=`-X main.Version=raw`", "raw");
    x_is("build\t\"-ldflags\"=\"-X main.Version=quoted-key\"", "quoted-key");

    x_rc("build\t-gcflags=\"-X main.Version=1\"", 1);                     /* no -ldflags */
    x_rc("build\t-ldflags=\"-s -w\"", 1);                                 /* no -X */
    x_rc("build\t-ldflags=\"-X main.VersionX=1 -X other.Version=2\"", 1); /* other symbols */
    x_rc("build\t-ldflags=\"-extldflags '-X main.Version=1'\"", 1);       /* inside another flag's value */
    x_rc("build\t-ldflags=\"-X\"", 1);                                    /* a dangling -X */
    x_rc("build\t-ldflags=", 1);
    x_rc("build\t-ldflags=\"main=-X main.Version=7.7.7\"", -1); /* a pattern other than all */
    x_rc("build\t-ldflags=\"-X 'main.Version=1\"", -1);         /* unterminated quote */
    x_rc("build\t-ldflags=\"-X main.Version=1", -1);            /* unterminated Go string */
    x_rc("build\t-ldflags=\"-X main.Version=\\q\"", -1);        /* unknown escape */
    x_rc("build\t-ldflags=\"-X main.Version=\\x00\"", -1);      /* a NUL */

    char small[4];
    assert_int_equal(x_value("build\t-ldflags=\"-X main.Version=0.5.17\"", small, sizeof(small)), -1);
    assert_int_equal(go_buildinfo_ldflags_x("", "main.Version", small, sizeof(small)), 1);
}

static void test_setting_values(void **state)
{
    (void)state;
    static const char mod[] = "path\tgithub.com/x/y\n"
                              "mod\tgithub.com/x\tv0.5.17\t\n"
                              "dep\tgolang.org/x/sys\tv0.45.0\th1:abc=\n"
                              "build\t-buildmode=exe\n"
                              "build\tCGO_CFLAGS=\n"
                              "build\tvcs.modified=false\n"
                              "build\tesc=\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\101\\x42\\u00e9\\U0001F600\"\n"
                              "build\tbad-utf=\"\\ud800\"\n"
                              "build\tlast=no-newline";
    char value[128];
    assert_int_equal(go_buildinfo_setting(mod, "-buildmode", value, sizeof(value)), 0);
    assert_string_equal(value, "exe");
    assert_int_equal(go_buildinfo_setting(mod, "CGO_CFLAGS", value, sizeof(value)), 0);
    assert_string_equal(value, "");
    assert_int_equal(go_buildinfo_setting(mod, "vcs.modified", value, sizeof(value)), 0);
    assert_string_equal(value, "false");
    assert_int_equal(go_buildinfo_setting(mod, "esc", value, sizeof(value)), 0);
    assert_string_equal(value, "\a\b\f\n\r\t\v\\\"AB\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(go_buildinfo_setting(mod, "bad-utf", value, sizeof(value)), -1);
    assert_int_equal(go_buildinfo_setting(mod, "last", value, sizeof(value)), 0);
    assert_string_equal(value, "no-newline");
    assert_int_equal(go_buildinfo_setting(mod, "vcs", value, sizeof(value)), 1);
    assert_int_equal(go_buildinfo_setting(mod, "github.com/x", value, sizeof(value)), 1);
    assert_int_equal(go_buildinfo_setting(mod, "-buildmode", value, 3), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_litestream_0_3_13),
        cmocka_unit_test(test_real_litestream_0_5_17),
        cmocka_unit_test(test_real_litestream_without_section_headers),
        cmocka_unit_test(test_crafted_elf64_section),
        cmocka_unit_test(test_crafted_elf32_big_endian_segment),
        cmocka_unit_test(test_crafted_alignment_follows_the_address),
        cmocka_unit_test(test_mod_without_sentinels_is_empty),
        cmocka_unit_test(test_not_elf_empty_and_truncated),
        cmocka_unit_test(test_file_cut_inside_the_blob),
        cmocka_unit_test(test_lengths_past_the_section),
        cmocka_unit_test(test_broken_headers),
        cmocka_unit_test(test_ldflags_x_forms),
        cmocka_unit_test(test_setting_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
