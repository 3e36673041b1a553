/* SPDX-License-Identifier: MIT */
#include "go_buildinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "\xff Go buildinf:"
#define MAGIC_LEN 14
#define HEADER_SIZE 32
#define ALIGN 16
#define FLAGS_OFFSET 15
#define FLAGS_VERSION_INLINE 0x2
#define SENTINEL_LEN ((size_t)16)
#define UVARINT_MAX 10
#define SECTION_NAME ".go.buildinfo" /* compared with its NUL */
#define SEARCH_CHUNK 65536           /* a multiple of ALIGN: an aligned magic never straddles two chunks */
#define SEARCH_MAX (4u << 20)        /* how much of a segment is searched; Go puts the blob near its start */
#define STRTAB_MAX 65536             /* how much of the section-name table is read */
#define TABLE_CHUNK 64               /* section or program headers read at once */
#define ENTRY_MAX 64                 /* the largest header entry read: an ELF64 section header */

#define SHT_NOBITS 8
#define PT_LOAD 1
#define PF_X 1
#define PF_W 2

struct elf_file {
    int fd;
    uint64_t size;
    bool is64;
    bool be;
    char *err;
    size_t err_size;
};

/* A part of the file that may hold the blob: [off, end), loaded at vaddr. */
struct region {
    uint64_t off;
    uint64_t end;
    uint64_t vaddr;
};

__attribute__((format(printf, 2, 3))) static int fail(struct elf_file *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, f->err_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads exactly len bytes at off; -1 (err set) when they are not all in the file or pread fails. */
static int read_at(struct elf_file *f, void *buf, size_t len, uint64_t off, const char *what)
{
    if (off > f->size || len > f->size - off)
        return fail(f, "%s lies past the end of the file (%llu bytes)", what, (unsigned long long)f->size);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(f, "cannot read the %s: %s", what, strerror(errno));
        if (n == 0)
            return fail(f, "the file ended while reading the %s", what);
        done += (size_t)n;
    }
    return 0;
}

/* An n-byte (1, 2, 4, 8) unsigned field in the file's byte order. */
static uint64_t field(const struct elf_file *f, const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = f->be ? (v << 8) | p[i] : v | ((uint64_t)p[i] << (8 * i));
    return v;
}

/* The end of [off, off+len) clipped to the file. */
static uint64_t clip_end(const struct elf_file *f, uint64_t off, uint64_t len)
{
    if (off >= f->size)
        return off;
    return len > f->size - off ? f->size : off + len;
}

struct elf_header {
    uint64_t phoff;
    uint64_t shoff;
    unsigned phentsize;
    unsigned phnum;
    unsigned shentsize;
    unsigned shnum;
    unsigned shstrndx;
    unsigned machine;
};

static int read_elf_header(struct elf_file *f, struct elf_header *h)
{
    unsigned char b[64];
    static const unsigned char elf_magic[4] = {0x7f, 'E', 'L', 'F'};
    if (f->size < 52 || read_at(f, b, 16, 0, "ELF header") != 0 || memcmp(b, elf_magic, sizeof(elf_magic)) != 0)
        return fail(f, "not an ELF file");
    if ((b[4] != 1 && b[4] != 2) || (b[5] != 1 && b[5] != 2))
        return fail(f, "an ELF file of an unknown class (%u) or byte order (%u)", b[4], b[5]);
    f->is64 = b[4] == 2;
    f->be = b[5] == 2;
    if (read_at(f, b, f->is64 ? 64 : 52, 0, "ELF header") != 0)
        return -1;
    h->machine = (unsigned)field(f, b + 0x12, 2);
    if (f->is64) {
        h->phoff = field(f, b + 0x20, 8);
        h->shoff = field(f, b + 0x28, 8);
        h->phentsize = (unsigned)field(f, b + 0x36, 2);
        h->phnum = (unsigned)field(f, b + 0x38, 2);
        h->shentsize = (unsigned)field(f, b + 0x3a, 2);
        h->shnum = (unsigned)field(f, b + 0x3c, 2);
        h->shstrndx = (unsigned)field(f, b + 0x3e, 2);
    } else {
        h->phoff = field(f, b + 0x1c, 4);
        h->shoff = field(f, b + 0x20, 4);
        h->phentsize = (unsigned)field(f, b + 0x2a, 2);
        h->phnum = (unsigned)field(f, b + 0x2c, 2);
        h->shentsize = (unsigned)field(f, b + 0x2e, 2);
        h->shnum = (unsigned)field(f, b + 0x30, 2);
        h->shstrndx = (unsigned)field(f, b + 0x32, 2);
    }
    return 0;
}

struct section {
    uint32_t name;
    uint32_t type;
    uint64_t addr;
    uint64_t offset;
    uint64_t size;
};

static void parse_section(const struct elf_file *f, const unsigned char *e, struct section *s)
{
    s->name = (uint32_t)field(f, e, 4);
    s->type = (uint32_t)field(f, e + 4, 4);
    if (f->is64) {
        s->addr = field(f, e + 0x10, 8);
        s->offset = field(f, e + 0x18, 8);
        s->size = field(f, e + 0x20, 8);
    } else {
        s->addr = field(f, e + 0x0c, 4);
        s->offset = field(f, e + 0x10, 4);
        s->size = field(f, e + 0x14, 4);
    }
}

/* Whether a table of n entries of entsize bytes at off (entries at least min bytes) lies in the file. */
static bool table_fits(const struct elf_file *f, uint64_t off, unsigned n, unsigned entsize, unsigned min)
{
    return n > 0 && entsize >= min && off <= f->size && (uint64_t)n * entsize <= f->size - off;
}

/*
 * The .go.buildinfo section: 0 with r set, 1 when there is none (no section
 * headers, no name table, no such name), -1 on a read error.
 */
static int find_section(struct elf_file *f, const struct elf_header *h, struct region *r)
{
    unsigned min = f->is64 ? 64 : 40;
    if (h->shoff == 0 || h->shstrndx >= h->shnum || !table_fits(f, h->shoff, h->shnum, h->shentsize, min))
        return 1;
    unsigned char e[ENTRY_MAX];
    struct section strtab;
    if (read_at(f, e, min, h->shoff + (uint64_t)h->shstrndx * h->shentsize, "section name table's header") != 0)
        return -1;
    parse_section(f, e, &strtab);
    if (strtab.type == SHT_NOBITS || strtab.offset >= f->size)
        return 1;
    size_t names_len = (size_t)(clip_end(f, strtab.offset, strtab.size) - strtab.offset);
    if (names_len > STRTAB_MAX)
        names_len = STRTAB_MAX;
    char *names = malloc(names_len + 1);
    unsigned char *table = malloc((size_t)TABLE_CHUNK * h->shentsize);
    int rc = 1;
    if (names == NULL || table == NULL) {
        rc = fail(f, "out of memory");
        goto out;
    }
    if (read_at(f, names, names_len, strtab.offset, "section name table") != 0) {
        rc = -1;
        goto out;
    }
    for (unsigned first = 0; first < h->shnum && rc == 1; first += TABLE_CHUNK) {
        unsigned n = h->shnum - first < TABLE_CHUNK ? h->shnum - first : TABLE_CHUNK;
        if (read_at(f, table, (size_t)n * h->shentsize, h->shoff + (uint64_t)first * h->shentsize, "section headers") !=
            0) {
            rc = -1;
            break;
        }
        for (unsigned i = 0; i < n; i++) {
            struct section s;
            parse_section(f, table + (size_t)i * h->shentsize, &s);
            if (s.name > names_len || names_len - s.name < sizeof(SECTION_NAME) ||
                memcmp(names + s.name, SECTION_NAME, sizeof(SECTION_NAME)) != 0)
                continue;
            if (s.type == SHT_NOBITS || s.offset >= f->size) {
                rc = fail(f, "the %s section has no contents in the file", SECTION_NAME);
                break;
            }
            r->off = s.offset;
            r->end = clip_end(f, s.offset, s.size);
            r->vaddr = s.addr;
            rc = 0;
            break;
        }
    }
out:
    free(names);
    free(table);
    return rc;
}

/* The first writable, non-executable PT_LOAD segment's file contents: 0 with r set, or -1. */
static int find_segment(struct elf_file *f, const struct elf_header *h, struct region *r)
{
    unsigned min = f->is64 ? 56 : 32;
    if (!table_fits(f, h->phoff, h->phnum, h->phentsize, min))
        return fail(f, "no %s section and no readable program headers", SECTION_NAME);
    unsigned char *table = malloc((size_t)TABLE_CHUNK * h->phentsize);
    if (table == NULL)
        return fail(f, "out of memory");
    int rc = 1;
    for (unsigned first = 0; first < h->phnum && rc == 1; first += TABLE_CHUNK) {
        unsigned n = h->phnum - first < TABLE_CHUNK ? h->phnum - first : TABLE_CHUNK;
        if (read_at(f, table, (size_t)n * h->phentsize, h->phoff + (uint64_t)first * h->phentsize, "program headers") !=
            0) {
            rc = -1;
            break;
        }
        for (unsigned i = 0; i < n && rc == 1; i++) {
            const unsigned char *e = table + (size_t)i * h->phentsize;
            uint32_t type = (uint32_t)field(f, e, 4);
            uint64_t flags = f->is64 ? field(f, e + 4, 4) : field(f, e + 0x18, 4);
            uint64_t off = f->is64 ? field(f, e + 8, 8) : field(f, e + 4, 4);
            uint64_t vaddr = f->is64 ? field(f, e + 0x10, 8) : field(f, e + 8, 4);
            uint64_t filesz = f->is64 ? field(f, e + 0x20, 8) : field(f, e + 0x10, 4);
            if (type != PT_LOAD || (flags & (PF_X | PF_W)) != PF_W)
                continue;
            if (off >= f->size || filesz == 0) {
                rc = fail(f, "the writable data segment has no contents in the file");
            } else {
                r->off = off;
                r->end = clip_end(f, off, filesz);
                r->vaddr = vaddr;
                rc = 0;
            }
        }
    }
    free(table);
    if (rc == 1)
        rc = fail(f, "no %s section and no writable data segment", SECTION_NAME);
    return rc;
}

/* The file offset of the first magic at a 16-byte aligned address in r (at most SEARCH_MAX searched). */
static int search_magic(struct elf_file *f, const struct region *r, uint64_t *at)
{
    uint64_t skip = (ALIGN - r->vaddr % ALIGN) % ALIGN;
    if (skip >= r->end - r->off)
        return fail(f, "no Go build info (the %s is too small)", "section or segment");
    uint64_t start = r->off + skip;
    uint64_t end = r->end - start > SEARCH_MAX ? start + SEARCH_MAX : r->end;
    unsigned char *buf = malloc(SEARCH_CHUNK);
    if (buf == NULL)
        return fail(f, "out of memory");
    int rc = fail(f, "no Go build info (no \"\\xff Go buildinf:\" at an aligned address)");
    for (uint64_t pos = start; pos < end; pos += SEARCH_CHUNK) {
        size_t n = end - pos < SEARCH_CHUNK ? (size_t)(end - pos) : SEARCH_CHUNK;
        if (read_at(f, buf, n, pos, "data searched for the build info") != 0) {
            rc = -1;
            break;
        }
        size_t i = 0;
        while (i + MAGIC_LEN <= n && memcmp(buf + i, MAGIC, MAGIC_LEN) != 0)
            i += ALIGN;
        if (i + MAGIC_LEN <= n) {
            if (r->end - (pos + i) < HEADER_SIZE) {
                rc = fail(f, "the Go build info header is cut off by the end of its section or segment");
            } else {
                *at = pos + i;
                rc = 0;
            }
            break;
        }
    }
    free(buf);
    return rc;
}

/* Go's binary.Uvarint over at most n bytes: the bytes used, or 0 (too short, or past 64 bits). */
static size_t uvarint(const unsigned char *b, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift = 0;
    for (size_t i = 0; i < n && i < UVARINT_MAX; i++) {
        if (i == UVARINT_MAX - 1 && b[i] > 1)
            return 0;
        if (b[i] < 0x80) {
            *v = x | (uint64_t)b[i] << shift;
            return i + 1;
        }
        x |= (uint64_t)(b[i] & 0x7f) << shift;
        shift += 7;
    }
    return 0;
}

/* A uvarint-length-prefixed string at *pos, before end: its length and where its bytes start. */
static int string_at(struct elf_file *f, uint64_t *pos, uint64_t end, uint64_t max, uint64_t *len, const char *what)
{
    unsigned char b[UVARINT_MAX] = {0};
    size_t avail = end - *pos < UVARINT_MAX ? (size_t)(end - *pos) : UVARINT_MAX;
    if (read_at(f, b, avail, *pos, what) != 0)
        return -1;
    size_t used = uvarint(b, avail, len);
    if (used == 0)
        return fail(f, "the length of the %s is cut off or malformed", what);
    *pos += used;
    if (*len > end - *pos)
        return fail(f, "the %s (%llu bytes) runs past the end of its section or segment", what,
                    (unsigned long long)*len);
    if (*len > max)
        return fail(f, "the %s is too long (%llu bytes)", what, (unsigned long long)*len);
    return 0;
}

static int decode(struct elf_file *f, const struct region *r, uint64_t at, struct go_buildinfo *out)
{
    unsigned char header[HEADER_SIZE] = {0};
    if (read_at(f, header, sizeof(header), at, "Go build info header") != 0)
        return -1;
    if ((header[FLAGS_OFFSET] & FLAGS_VERSION_INLINE) == 0)
        return fail(f, "Go build info of a Go before 1.18 (pointer form, no build settings)");
    uint64_t pos = at + HEADER_SIZE, len = 0;
    if (string_at(f, &pos, r->end, GO_BUILDINFO_VERSION_MAX - 1, &len, "Go version") != 0)
        return -1;
    if (len == 0)
        return fail(f, "the Go build info has an empty Go version");
    if (read_at(f, out->go_version, (size_t)len, pos, "Go version") != 0)
        return -1;
    out->go_version[len] = '\0';
    if (strlen(out->go_version) != len)
        return fail(f, "the Go version holds a NUL byte");
    pos += len;
    if (string_at(f, &pos, r->end, GO_BUILDINFO_MOD_MAX, &len, "module info") != 0)
        return -1;
    out->mod = malloc((size_t)len + 1);
    if (out->mod == NULL)
        return fail(f, "out of memory");
    if (read_at(f, out->mod, (size_t)len, pos, "module info") != 0) {
        free(out->mod);
        out->mod = NULL;
        return -1;
    }
    /* Go's framing: 16 sentinel bytes either side, the text ending in a newline (debug/buildinfo). */
    size_t n = (size_t)len;
    if (n >= 2 * SENTINEL_LEN + 1 && out->mod[n - SENTINEL_LEN - 1] == '\n') {
        n -= 2 * SENTINEL_LEN;
        memmove(out->mod, out->mod + SENTINEL_LEN, n);
    } else {
        n = 0;
    }
    out->mod[n] = '\0';
    out->mod_len = n;
    return 0;
}

int go_buildinfo_read_fd(int fd, struct go_buildinfo *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    struct elf_file f = {.fd = fd, .err = err, .err_size = err_size};
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail(&f, "cannot stat it: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(&f, "not a regular file");
    f.size = (uint64_t)st.st_size;
    struct elf_header h = {0};
    if (read_elf_header(&f, &h) != 0)
        return -1;
    struct region r = {0};
    int found = find_section(&f, &h, &r);
    if (found < 0)
        return -1;
    if (found > 0 && find_segment(&f, &h, &r) != 0)
        return -1;
    uint64_t at = 0;
    if (search_magic(&f, &r, &at) != 0 || decode(&f, &r, at, out) != 0)
        return -1;
    out->elf_machine = h.machine;
    out->elf64 = f.is64;
    out->big_endian = f.be;
    out->from_section = found == 0;
    return 0;
}

int go_buildinfo_read(const char *path, struct go_buildinfo *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, err_size, "cannot open it: %s", strerror(errno));
        return -1;
    }
    int rc = go_buildinfo_read_fd(fd, out, err, err_size);
    close(fd);
    return rc;
}

void go_buildinfo_free(struct go_buildinfo *bi)
{
    free(bi->mod);
    bi->mod = NULL;
    bi->mod_len = 0;
}

/* ---- build settings -------------------------------------------------------------- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* UTF-8 of code point cp into out (room for 4): its length, or 0 for a surrogate or past U+10FFFF. */
static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One escape after a backslash at s (s < end): the bytes it stands for in b, how many input bytes it used. */
static size_t unescape(const char *s, const char *end, char b[4], size_t *blen)
{
    static const char simple_in[] = "abfnrtv\\\"";
    static const char simple_out[] = "\a\b\f\n\r\t\v\\\"";
    const char *hit = strchr(simple_in, *s);
    if (hit != NULL && *s != '\0') {
        b[0] = simple_out[hit - simple_in];
        *blen = 1;
        return 1;
    }
    if (*s >= '0' && *s <= '7') {
        if (end - s < 3 || s[1] < '0' || s[1] > '7' || s[2] < '0' || s[2] > '7')
            return 0;
        unsigned v = (unsigned)(s[0] - '0') * 64 + (unsigned)(s[1] - '0') * 8 + (unsigned)(s[2] - '0');
        if (v > 255)
            return 0;
        b[0] = (char)v;
        *blen = 1;
        return 3;
    }
    size_t digits = *s == 'x' ? 2 : *s == 'u' ? 4 : *s == 'U' ? 8 : 0;
    if (digits == 0 || (size_t)(end - s) < digits + 1)
        return 0;
    uint32_t v = 0;
    for (size_t i = 1; i <= digits; i++) {
        int d = hex_digit(s[i]);
        if (d < 0)
            return 0;
        v = v << 4 | (uint32_t)d;
    }
    if (*s == 'x') {
        b[0] = (char)v;
        *blen = 1;
    } else if ((*blen = utf8_encode(v, b)) == 0) {
        return 0;
    }
    return digits + 1;
}

/* Go's strconv.Unquote of s[0..n) ("..." or `...`) into out: 0, or -1 (malformed, a NUL, or out too small). */
static int unquote(const char *s, size_t n, char *out, size_t out_size)
{
    if (n < 2 || s[n - 1] != s[0] || (s[0] != '"' && s[0] != '`'))
        return -1;
    const char *p = s + 1, *end = s + n - 1;
    size_t used = 0;
    while (p < end) {
        char b[4];
        size_t blen = 1;
        if (s[0] == '`') {
            if (*p == '`')
                return -1;
            b[0] = *p++;
            if (b[0] == '\r')
                continue; /* a raw string drops carriage returns */
        } else if (*p == '"' || *p == '\n') {
            return -1;
        } else if (*p == '\\') {
            if (p + 1 >= end)
                return -1;
            size_t took = unescape(p + 1, end, b, &blen);
            if (took == 0)
                return -1;
            p += 1 + took;
        } else {
            b[0] = *p++;
        }
        if (memchr(b, '\0', blen) != NULL || used + blen >= out_size)
            return -1;
        memcpy(out + used, b, blen);
        used += blen;
    }
    if (used >= out_size)
        return -1;
    out[used] = '\0';
    return 0;
}

/* The length of the Go string literal at the start of s[0..n) (strconv.QuotedPrefix), or 0. */
static size_t quoted_prefix(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '"' && s[0] != '`'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == s[0])
            return i + 1;
        if (s[0] == '"' && s[i] == '\n')
            return 0;
        if (s[0] == '"' && s[i] == '\\')
            i++;
    }
    return 0;
}

int go_buildinfo_setting(const char *mod, const char *key, char *out, size_t out_size)
{
    static const char prefix[] = "build\t";
    size_t key_len = strlen(key);
    for (const char *line = mod; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        const char *next = nl != NULL ? nl + 1 : NULL;
        if (len < sizeof(prefix) - 1 || memcmp(line, prefix, sizeof(prefix) - 1) != 0) {
            line = next;
            continue;
        }
        const char *kv = line + sizeof(prefix) - 1;
        size_t kv_len = len - (sizeof(prefix) - 1);
        const char *value;
        bool match;
        size_t q = quoted_prefix(kv, kv_len);
        if (q > 0) {
            /* A quoted key (one with '=', a space, a quote...): rare, compared unquoted. */
            char buf[256];
            if (q >= kv_len || kv[q] != '=') {
                line = next;
                continue;
            }
            match = unquote(kv, q, buf, sizeof(buf)) == 0 && strcmp(buf, key) == 0;
            value = kv + q + 1;
        } else {
            match = kv_len > key_len && memcmp(kv, key, key_len) == 0 && kv[key_len] == '=';
            value = kv + key_len + 1;
        }
        if (!match) {
            line = next;
            continue;
        }
        size_t value_len = len - (size_t)(value - line);
        if (value_len > 0 && (value[0] == '"' || value[0] == '`'))
            return unquote(value, value_len, out, out_size);
        if (value_len >= out_size || memchr(value, '\0', value_len) != NULL)
            return -1;
        memcpy(out, value, value_len);
        out[value_len] = '\0';
        return 0;
    }
    return 1;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The next field of s as cmd/internal/quoted.Split cuts it: 1 with it in *f and *len, 0 at the end, -1 unterminated. */
static int next_field(const char **s, const char **f, size_t *len)
{
    const char *p = *s;
    while (is_space(*p))
        p++;
    if (*p == '\0')
        return 0;
    if (*p == '"' || *p == '\'') {
        const char *close = strchr(p + 1, *p);
        if (close == NULL)
            return -1;
        *f = p + 1;
        *len = (size_t)(close - p - 1);
        *s = close + 1;
        return 1;
    }
    const char *q = p;
    while (*q != '\0' && !is_space(*q))
        q++;
    *f = p;
    *len = (size_t)(q - p);
    *s = q;
    return 1;
}

static bool field_is(const char *f, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(f, word, len) == 0;
}

int go_buildinfo_ldflags_x(const char *mod, const char *symbol, char *out, size_t out_size)
{
    size_t cap = strlen(mod) + 1;
    char *flags = malloc(cap);
    if (flags == NULL)
        return -1;
    int rc = go_buildinfo_setting(mod, "-ldflags", flags, cap);
    if (rc != 0) {
        free(flags);
        return rc;
    }
    const char *p = flags;
    while (is_space(*p) || *p == '\v' || *p == '\f')
        p++;
    if (*p != '-' && *p != '\0') {
        /* -ldflags=PATTERN=FLAGS: only "all" surely reaches package main. */
        const char *eq = strchr(p, '=');
        const char *pat_end = eq;
        while (pat_end != NULL && pat_end > p && is_space(pat_end[-1]))
            pat_end--;
        if (eq == NULL || !field_is(p, (size_t)(pat_end - p), "all")) {
            free(flags);
            return -1;
        }
        p = eq + 1;
    }
    size_t symbol_len = strlen(symbol);
    const char *value = NULL;
    size_t value_len = 0;
    bool want_value = false;
    const char *f;
    size_t len;
    while ((rc = next_field(&p, &f, &len)) == 1) {
        const char *nv = NULL;
        size_t nv_len = 0;
        if (want_value) {
            nv = f;
            nv_len = len;
            want_value = false;
        } else if (field_is(f, len, "-X") || field_is(f, len, "--X")) {
            want_value = true;
        } else if (len > 3 && memcmp(f, "-X=", 3) == 0) {
            nv = f + 3;
            nv_len = len - 3;
        } else if (len > 4 && memcmp(f, "--X=", 4) == 0) {
            nv = f + 4;
            nv_len = len - 4;
        }
        /* NAME=VALUE: the name ends at the first '=' (the linker's addstrdata1). */
        if (nv != NULL && nv_len > symbol_len && memcmp(nv, symbol, symbol_len) == 0 && nv[symbol_len] == '=') {
            value = nv + symbol_len + 1;
            value_len = nv_len - symbol_len - 1;
        }
    }
    if (rc < 0 || (value != NULL && value_len >= out_size)) {
        rc = -1; /* unterminated quote, or out too small */
    } else if (value == NULL) {
        rc = 1;
    } else {
        memcpy(out, value, value_len);
        out[value_len] = '\0';
        rc = 0;
    }
    free(flags);
    return rc;
}
