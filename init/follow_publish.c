/* SPDX-License-Identifier: MIT */
#include "follow_publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* SQLite's lock bytes (os_unix.c): the same offsets every SQLite process locks. */
#define PENDING_BYTE 0x40000000L
#define RESERVED_BYTE (PENDING_BYTE + 1)
#define SHARED_FIRST (PENDING_BYTE + 2)
#define SHARED_SIZE 510L
/* A rollback journal's header (the file format's section 4.1), one 512-byte sector. */
#define JOURNAL_SECTOR 512
#define CHUNK_BYTES ((size_t)1024 * 1024)

static const unsigned char journal_magic[8] = {0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7};

static enum publish_result fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static enum publish_result fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return PUBLISH_ERROR;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

uint32_t follow_page_size(const unsigned char *header, size_t len)
{
    if (len < 100 || memcmp(header, "SQLite format 3", 16) != 0)
        return 0;
    uint32_t size = (uint32_t)header[16] << 8 | header[17];
    if (size == 1)
        size = 65536;
    if (size < 512 || size > 65536 || (size & (size - 1)) != 0)
        return 0;
    return size;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int full_pread(int fd, unsigned char *buf, size_t len, off_t off, size_t *got)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = pread(fd, buf + n, len - n, off + (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *got = n;
    return 0;
}

static int full_pwrite(int fd, const unsigned char *buf, size_t len, off_t off)
{
    size_t n = 0;
    while (n < len) {
        ssize_t w = pwrite(fd, buf + n, len - n, off + (off_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        n += (size_t)w;
    }
    return 0;
}

/* A's page 1 as B must hold it: rollback-journal mode (a WAL reader would never look at the change
 * counter), the page count, and the change counter counter (valid-for the same). */
static void edit_page1(unsigned char *page, uint32_t pages, uint32_t counter)
{
    page[18] = 1;
    page[19] = 1;
    put32(page + 24, counter);
    put32(page + 28, pages);
    put32(page + 92, counter);
}

static int lock_range(int fd, short type, off_t start, off_t len)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, F_SETLK, &fl);
}

static void unlock_all(int fd)
{
    (void)lock_range(fd, F_UNLCK, PENDING_BYTE, SHARED_FIRST + SHARED_SIZE - PENDING_BYTE);
}

/* RESERVED, PENDING, then EXCLUSIVE once the readers already inside a transaction are done. */
static enum publish_result lock_exclusive(int fd, int64_t timeout_ms, int64_t *waited, char *err, size_t size)
{
    int64_t t0 = now_ms();
    struct timespec nap = {0, 1000000};
    for (int step = 0; step < 3;) {
        int rc = step == 0   ? lock_range(fd, F_WRLCK, RESERVED_BYTE, 1)
                 : step == 1 ? lock_range(fd, F_WRLCK, PENDING_BYTE, 1)
                             : lock_range(fd, F_WRLCK, SHARED_FIRST, SHARED_SIZE);
        if (rc == 0) {
            step++;
            continue;
        }
        if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
            int e = errno;
            unlock_all(fd);
            return fail(err, size, "cannot lock the database: %s", strerror(e));
        }
        if (now_ms() - t0 >= timeout_ms) {
            unlock_all(fd);
            *waited = now_ms() - t0;
            return PUBLISH_BUSY;
        }
        nanosleep(&nap, NULL);
    }
    *waited = now_ms() - t0;
    return PUBLISH_OK;
}

struct page_list {
    uint32_t *pgno;
    size_t count, cap;
};

static int page_list_add(struct page_list *l, uint32_t pgno)
{
    if (l->count == l->cap) {
        size_t cap = l->cap != 0 ? l->cap * 2 : 256;
        uint32_t *p = realloc(l->pgno, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        l->pgno = p;
        l->cap = cap;
    }
    l->pgno[l->count++] = pgno;
    return 0;
}

static uint32_t journal_checksum(uint32_t nonce, const unsigned char *page, uint32_t page_size)
{
    uint32_t sum = nonce;
    for (int i = (int)page_size - 200; i > 0; i -= 200)
        sum += page[i];
    return sum;
}

/* The journal: the header, then for every changed page that B has, its number, original and checksum. */
static int write_journal(const char *path, int b_fd, const struct page_list *changed, uint32_t b_pages,
                         uint32_t page_size, unsigned char *buf, char *err, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, size, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    uint32_t records = 0;
    for (size_t i = 0; i < changed->count; i++)
        records += changed->pgno[i] <= b_pages;
    unsigned char hdr[JOURNAL_SECTOR] = {0};
    memcpy(hdr, journal_magic, sizeof(journal_magic));
    uint32_t nonce = (uint32_t)now_ms() ^ (uint32_t)getpid();
    put32(hdr + 8, records);
    put32(hdr + 12, nonce);
    put32(hdr + 16, b_pages);
    put32(hdr + 20, JOURNAL_SECTOR);
    put32(hdr + 24, page_size);
    int rc = full_pwrite(fd, hdr, sizeof(hdr), 0);
    off_t off = JOURNAL_SECTOR;
    for (size_t i = 0; rc == 0 && i < changed->count; i++) {
        uint32_t pgno = changed->pgno[i];
        if (pgno > b_pages)
            continue;
        size_t got = 0;
        unsigned char num[4], sum[4];
        put32(num, pgno);
        if (full_pread(b_fd, buf, page_size, (off_t)(pgno - 1) * page_size, &got) != 0)
            rc = -1;
        if (got < page_size)
            memset(buf + got, 0, page_size - got);
        put32(sum, journal_checksum(nonce, buf, page_size));
        if (rc == 0 && (full_pwrite(fd, num, 4, off) != 0 || full_pwrite(fd, buf, page_size, off + 4) != 0 ||
                        full_pwrite(fd, sum, 4, off + 4 + (off_t)page_size) != 0))
            rc = -1;
        off += 8 + (off_t)page_size;
    }
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(err, size, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

enum publish_result follow_publish(int a_fd, int b_fd, const char *b_path, const struct publish_options *opt,
                                   struct publish_stats *st, char *err, size_t err_size)
{
    memset(st, 0, sizeof(*st));
    unsigned char head[100];
    size_t got = 0;
    if (full_pread(a_fd, head, sizeof(head), 0, &got) != 0)
        return fail(err, err_size, "cannot read the follower copy: %s", strerror(errno));
    uint32_t page_size = follow_page_size(head, got);
    struct stat sa, sb;
    if (page_size == 0 || fstat(a_fd, &sa) != 0 || sa.st_size % page_size != 0)
        return fail(err, err_size, "the follower copy is not a whole SQLite database (%zu header bytes)", got);
    if (fstat(b_fd, &sb) != 0)
        return fail(err, err_size, "cannot stat %s: %s", b_path, strerror(errno));
    uint64_t a_pages = (uint64_t)sa.st_size / page_size;
    if (a_pages > UINT32_MAX)
        return fail(err, err_size, "the follower copy has more pages than SQLite allows");
    uint32_t b_pages = (uint32_t)((uint64_t)sb.st_size / page_size);
    unsigned char bhead[100] = {0};
    size_t bgot = 0;
    (void)full_pread(b_fd, bhead, sizeof(bhead), 0, &bgot);
    bool b_is_db = follow_page_size(bhead, bgot) == page_size;
    uint32_t counter = b_is_db ? get32(bhead + 24) : 0;
    st->pages = a_pages;

    unsigned char *abuf = malloc(CHUNK_BYTES), *bbuf = malloc(CHUNK_BYTES);
    struct page_list changed = {0};
    enum publish_result r = PUBLISH_OK;
    if (abuf == NULL || bbuf == NULL) {
        r = fail(err, err_size, "out of memory");
        goto out;
    }
    /* 1. What differs (B is only written here; A's follower is stopped). */
    for (uint64_t off = 0; off < (uint64_t)sa.st_size; off += CHUNK_BYTES) {
        size_t want = (uint64_t)sa.st_size - off < CHUNK_BYTES ? (size_t)((uint64_t)sa.st_size - off) : CHUNK_BYTES;
        size_t ga = 0, gb = 0;
        if (full_pread(a_fd, abuf, want, (off_t)off, &ga) != 0 || ga != want) {
            r = fail(err, err_size, "cannot read the follower copy: %s", ga != want ? "short read" : strerror(errno));
            goto out;
        }
        if (full_pread(b_fd, bbuf, want, (off_t)off, &gb) != 0) {
            r = fail(err, err_size, "cannot read %s: %s", b_path, strerror(errno));
            goto out;
        }
        for (size_t p = 0; p < want; p += page_size) {
            uint32_t pgno = (uint32_t)((off + p) / page_size) + 1;
            if (pgno == 1)
                edit_page1(abuf, (uint32_t)a_pages, counter);
            if (p + page_size > gb || memcmp(abuf + p, bbuf + p, page_size) != 0) {
                if (page_list_add(&changed, pgno) != 0) {
                    r = fail(err, err_size, "out of memory");
                    goto out;
                }
            }
        }
    }
    if (changed.count == 0 && b_pages == a_pages && (uint64_t)sb.st_size == (uint64_t)sa.st_size)
        goto out; /* the same database: nothing to do, readers keep their caches */
    if (changed.count == 0 || changed.pgno[0] != 1) {
        /* Page 1 carries the change counter: always written when anything is. */
        if (page_list_add(&changed, 1) != 0) {
            r = fail(err, err_size, "out of memory");
            goto out;
        }
        memmove(changed.pgno + 1, changed.pgno, (changed.count - 1) * sizeof(uint32_t));
        changed.pgno[0] = 1;
    }

    /* 2. SQLite's locks. */
    r = lock_exclusive(b_fd, opt->lock_timeout_ms, &st->lock_wait_ms, err, err_size);
    if (r != PUBLISH_OK)
        goto out;
    /* 3. The journal, the pages, the journal gone. */
    char journal[PATH_MAX];
    snprintf(journal, sizeof(journal), "%s-journal", b_path);
    if (write_journal(journal, b_fd, &changed, b_is_db ? b_pages : 0, page_size, bbuf, err, err_size) != 0) {
        unlock_all(b_fd);
        r = PUBLISH_ERROR;
        goto out;
    }
    for (size_t i = 0; i < changed.count; i++) {
        uint32_t pgno = changed.pgno[i];
        off_t off = (off_t)(pgno - 1) * page_size;
        if (full_pread(a_fd, abuf, page_size, off, &got) != 0 || got != page_size) {
            r = fail(err, err_size, "cannot read page %u of the follower copy", pgno);
            break;
        }
        if (pgno == 1)
            edit_page1(abuf, (uint32_t)a_pages, counter + 1);
        if (full_pwrite(b_fd, abuf, page_size, off) != 0) {
            r = fail(err, err_size, "cannot write %s: %s", b_path, strerror(errno));
            break;
        }
    }
    if (r == PUBLISH_OK && (uint64_t)sb.st_size != (uint64_t)sa.st_size && ftruncate(b_fd, sa.st_size) != 0)
        r = fail(err, err_size, "cannot resize %s: %s", b_path, strerror(errno));
    if (r == PUBLISH_OK && fdatasync(b_fd) != 0)
        r = fail(err, err_size, "cannot sync %s: %s", b_path, strerror(errno));
    if (r == PUBLISH_OK && opt->crash_before_commit) {
        unlock_all(b_fd);
        goto out;
    }
    /* On an error the journal stays: hot, it makes readers fail loudly until a publish succeeds. */
    if (r == PUBLISH_OK && unlink(journal) != 0)
        r = fail(err, err_size, "cannot remove %s: %s", journal, strerror(errno));
    unlock_all(b_fd);
    if (r == PUBLISH_OK) {
        st->changed = true;
        st->pages_written = changed.count;
    }
out:
    free(changed.pgno);
    free(abuf);
    free(bbuf);
    return r;
}
