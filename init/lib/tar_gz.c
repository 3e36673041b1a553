/* SPDX-License-Identifier: MIT */
#include "tar_gz.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#define TAR_BLOCK 512
#define TAR_META_MAX ((size_t)64 << 10) /* pax header or GNU long name data */
#define INFLATE_CHUNK ((size_t)64 << 10)
#define TAR_NAME_MAX 4096

enum tar_phase { TAR_HEADER, TAR_DATA, TAR_PADDING, TAR_END };
enum tar_kind { KIND_SKIP, KIND_TARGET, KIND_PAX, KIND_LONGNAME };

struct tar_reader {
    const char *want;
    tgz_sink_fn sink;
    void *sink_ctx;
    enum tar_phase phase;
    enum tar_kind kind;
    unsigned char header[TAR_BLOCK];
    size_t header_used;
    uint64_t data_left;
    uint64_t pad_left;
    char meta[TAR_META_MAX + 1];
    size_t meta_used;
    char next_name[TAR_NAME_MAX]; /* from a pax "path" record or a GNU long name */
    bool have_next_name;
    bool found;
    uint64_t found_size;
    char *err;
    size_t err_size;
};

/* Octal digits, optionally padded with spaces or NULs; or GNU base-256 (high bit set). */
static int parse_number(const unsigned char *field, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if ((field[0] & 0x80) != 0) {
        if ((field[0] & 0x40) != 0)
            return -1; /* negative */
        v = field[0] & 0x3f;
        for (size_t i = 1; i < len; i++) {
            if (v > (UINT64_MAX >> 8))
                return -1;
            v = (v << 8) | field[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < len && field[i] == ' ')
        i++;
    bool digits = false;
    for (; i < len && field[i] >= '0' && field[i] <= '7'; i++) {
        if (v > (UINT64_MAX >> 3))
            return -1;
        v = (v << 3) | (uint64_t)(field[i] - '0');
        digits = true;
    }
    for (; i < len; i++) {
        if (field[i] != ' ' && field[i] != '\0')
            return -1;
    }
    if (!digits)
        return -1;
    *out = v;
    return 0;
}

static bool header_checksum_ok(const unsigned char *h)
{
    uint64_t want = 0;
    if (parse_number(h + 148, 8, &want) != 0)
        return false;
    uint64_t unsigned_sum = 0;
    int64_t signed_sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
        unsigned_sum += c;
        signed_sum += (signed char)c;
    }
    return want == unsigned_sum || (int64_t)want == signed_sum;
}

/* "./a/b/" → "a/b". */
static const char *normalize_name(char *name)
{
    while (name[0] == '.' && name[1] == '/') {
        name += 2;
        while (name[0] == '/')
            name++;
    }
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '/')
        name[--n] = '\0';
    return name;
}

/* The "path" record of pax extended header data ("LEN path=VALUE\n" records). */
static void pax_find_path(struct tar_reader *r)
{
    const char *p = r->meta, *end = r->meta + r->meta_used;
    while (p < end) {
        char *after = NULL;
        long len = strtol(p, &after, 10);
        if (after == p || *after != ' ' || len <= 0 || len > end - p)
            return;
        const char *kv = after + 1, *rec_end = p + len;
        if (rec_end[-1] != '\n' || kv >= rec_end)
            return;
        if ((size_t)(rec_end - kv) > 5 && memcmp(kv, "path=", 5) == 0) {
            size_t vlen = (size_t)(rec_end - 1 - (kv + 5));
            if (vlen < sizeof(r->next_name)) {
                memcpy(r->next_name, kv + 5, vlen);
                r->next_name[vlen] = '\0';
                r->have_next_name = true;
            }
        }
        p = rec_end;
    }
}

static const char *type_name(unsigned char type)
{
    switch (type) {
    case '1': return "hard link";
    case '2': return "symbolic link";
    case '3':
    case '4': return "device";
    case '5': return "directory";
    case '6': return "FIFO";
    default: return "special entry";
    }
}

static int tar_header(struct tar_reader *r)
{
    const unsigned char *h = r->header;
    bool zero = true;
    for (size_t i = 0; i < TAR_BLOCK && zero; i++)
        zero = h[i] == 0;
    if (zero) {
        r->phase = TAR_END; /* end-of-archive marker; whatever follows is padding */
        return 0;
    }
    if (!header_checksum_ok(h)) {
        snprintf(r->err, r->err_size, "corrupt tar header (bad checksum): not a tar archive?");
        return -1;
    }
    uint64_t size = 0;
    if (parse_number(h + 124, 12, &size) != 0) {
        snprintf(r->err, r->err_size, "corrupt tar header (bad size field)");
        return -1;
    }
    unsigned char type = h[156];
    char name_buf[TAR_NAME_MAX];
    if (r->have_next_name) {
        snprintf(name_buf, sizeof(name_buf), "%s", r->next_name);
        r->have_next_name = false;
    } else if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345] != '\0') {
        snprintf(name_buf, sizeof(name_buf), "%.155s/%.100s", (const char *)h + 345, (const char *)h);
    } else {
        snprintf(name_buf, sizeof(name_buf), "%.100s", (const char *)h);
    }
    const char *name = normalize_name(name_buf);

    r->data_left = size;
    r->pad_left = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
    r->kind = KIND_SKIP;
    r->meta_used = 0;
    if (type == 'x' || type == 'L') {
        if (size > TAR_META_MAX) {
            snprintf(r->err, r->err_size, "tar %s header of %llu bytes is too large", type == 'x' ? "pax" : "long-name",
                     (unsigned long long)size);
            return -1;
        }
        r->kind = type == 'x' ? KIND_PAX : KIND_LONGNAME;
    } else if (strcmp(name, r->want) == 0 && type != 'g' && type != 'K') {
        if (type != '0' && type != '\0' && type != '7') {
            snprintf(r->err, r->err_size, "'%s' in the archive is a %s, not a regular file", r->want, type_name(type));
            return -1;
        }
        if (r->found) {
            snprintf(r->err, r->err_size, "the archive holds '%s' more than once", r->want);
            return -1;
        }
        if (size > TGZ_MAX_ENTRY_SIZE) {
            snprintf(r->err, r->err_size, "'%s' in the archive is %llu bytes, over the %llu MiB limit", r->want,
                     (unsigned long long)size, (unsigned long long)(TGZ_MAX_ENTRY_SIZE >> 20));
            return -1;
        }
        r->kind = KIND_TARGET;
        r->found = true;
        r->found_size = size;
    }
    r->phase = size > 0 ? TAR_DATA : (r->pad_left > 0 ? TAR_PADDING : TAR_HEADER);
    if (size == 0 && r->kind == KIND_PAX)
        pax_find_path(r);
    return 0;
}

static int tar_entry_done(struct tar_reader *r)
{
    if (r->kind == KIND_PAX) {
        pax_find_path(r);
    } else if (r->kind == KIND_LONGNAME) {
        size_t n = strnlen(r->meta, r->meta_used);
        if (n >= sizeof(r->next_name)) {
            snprintf(r->err, r->err_size, "tar long name of %zu bytes is too long", n);
            return -1;
        }
        memcpy(r->next_name, r->meta, n);
        r->next_name[n] = '\0';
        r->have_next_name = true;
    }
    r->phase = r->pad_left > 0 ? TAR_PADDING : TAR_HEADER;
    return 0;
}

/* Feeds inflated bytes to the tar reader. -1: corrupt (err set); -2: the sink stopped. */
static int tar_feed(struct tar_reader *r, const unsigned char *p, size_t len)
{
    while (len > 0) {
        switch (r->phase) {
        case TAR_END: return 0;
        case TAR_HEADER: {
            size_t take = TAR_BLOCK - r->header_used;
            if (take > len)
                take = len;
            memcpy(r->header + r->header_used, p, take);
            r->header_used += take;
            p += take;
            len -= take;
            if (r->header_used == TAR_BLOCK) {
                r->header_used = 0;
                if (tar_header(r) != 0)
                    return -1;
            }
            break;
        }
        case TAR_DATA: {
            size_t take = r->data_left < len ? (size_t)r->data_left : len;
            if (r->kind == KIND_TARGET) {
                if (r->sink(r->sink_ctx, p, take) != 0)
                    return -2;
            } else if (r->kind == KIND_PAX || r->kind == KIND_LONGNAME) {
                memcpy(r->meta + r->meta_used, p, take); /* size <= TAR_META_MAX was checked */
                r->meta_used += take;
                r->meta[r->meta_used] = '\0';
            }
            r->data_left -= take;
            p += take;
            len -= take;
            if (r->data_left == 0 && tar_entry_done(r) != 0)
                return -1;
            break;
        }
        case TAR_PADDING: {
            size_t take = r->pad_left < len ? (size_t)r->pad_left : len;
            r->pad_left -= take;
            p += take;
            len -= take;
            if (r->pad_left == 0)
                r->phase = TAR_HEADER;
            break;
        }
        }
    }
    return 0;
}

enum tgz_result tgz_extract(const unsigned char *gz, size_t gz_len, const char *name, tgz_sink_fn sink, void *sink_ctx,
                            uint64_t *entry_size, char *err, size_t err_size)
{
    if (gz_len < 18 || gz[0] != 0x1f || gz[1] != 0x8b) {
        snprintf(err, err_size, "not a gzip file (%zu bytes%s)", gz_len,
                 gz_len > 0 && (gz[0] == '<' || gz[0] == '{') ? ", looks like an HTML or JSON page" : "");
        return TGZ_CORRUPT;
    }
    struct tar_reader *r = calloc(1, sizeof(*r));
    unsigned char *out = malloc(INFLATE_CHUNK);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (r == NULL || out == NULL || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        snprintf(err, err_size, "out of memory");
        free(r);
        free(out);
        return TGZ_CORRUPT;
    }
    r->want = name;
    r->sink = sink;
    r->sink_ctx = sink_ctx;
    r->err = err;
    r->err_size = err_size;
    r->phase = TAR_HEADER;

    enum tgz_result result = TGZ_OK;
    size_t offset = 0;
    uint64_t total = 0;
    bool stream_end = false;
    while (result == TGZ_OK) {
        if (zs.avail_in == 0 && offset < gz_len) {
            size_t chunk = gz_len - offset < (size_t)1 << 20 ? gz_len - offset : (size_t)1 << 20;
            zs.next_in = gz + offset;
            zs.avail_in = (uInt)chunk;
            offset += chunk;
        }
        if (stream_end) {
            if (zs.avail_in == 0)
                break; /* all members inflated */
            if (zs.next_in[0] != 0x1f || (zs.avail_in > 1 && zs.next_in[1] != 0x8b)) {
                snprintf(err, err_size, "corrupt gzip data: trailing bytes after the compressed stream");
                result = TGZ_CORRUPT;
                break;
            }
            inflateReset(&zs); /* another gzip member follows */
            stream_end = false;
        }
        zs.next_out = out;
        zs.avail_out = (uInt)INFLATE_CHUNK;
        uInt in_before = zs.avail_in;
        int zrc = inflate(&zs, Z_NO_FLUSH);
        size_t produced = INFLATE_CHUNK - zs.avail_out;
        total += produced;
        if (total > TGZ_MAX_TOTAL_SIZE) {
            snprintf(err, err_size, "the archive inflates to more than %llu MiB",
                     (unsigned long long)(TGZ_MAX_TOTAL_SIZE >> 20));
            result = TGZ_CORRUPT;
            break;
        }
        if (produced > 0) {
            int trc = tar_feed(r, out, produced);
            if (trc != 0) {
                result = trc == -2 ? TGZ_SINK_FAILED : TGZ_CORRUPT;
                break;
            }
        }
        if (zrc == Z_STREAM_END) {
            stream_end = true;
        } else if (zrc == Z_OK || zrc == Z_BUF_ERROR) {
            if (produced == 0 && zs.avail_in == 0 && offset >= gz_len) {
                snprintf(err, err_size, "truncated gzip data: the download is incomplete");
                result = TGZ_CORRUPT;
            } else if (produced == 0 && zs.avail_in > 0 && zs.avail_in == in_before) {
                snprintf(err, err_size, "corrupt gzip data (inflate made no progress)");
                result = TGZ_CORRUPT;
            }
        } else {
            snprintf(err, err_size, "corrupt gzip data (%s)",
                     zs.msg != NULL ? zs.msg : (zrc == Z_NEED_DICT ? "needs a dictionary" : "inflate failed"));
            result = TGZ_CORRUPT;
        }
    }
    inflateEnd(&zs);
    free(out);
    if (result == TGZ_OK) {
        if (r->phase == TAR_DATA || r->phase == TAR_PADDING || r->header_used != 0) {
            snprintf(err, err_size, "truncated tar archive: it ends inside an entry");
            result = TGZ_CORRUPT;
        } else if (!r->found) {
            snprintf(err, err_size, "the archive has no file named '%s'", name);
            result = TGZ_NOT_FOUND;
        } else {
            *entry_size = r->found_size;
        }
    }
    free(r);
    return result;
}
