/* SPDX-License-Identifier: MIT */
/*
 * Folders (init/lib/fsutil.c): mkdir -p with the length of what existed,
 * undoing exactly what it made, and removing a temporary folder with its
 * contents (never following a symbolic link out of it).
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

#include "fsutil.h"

struct scratch {
    char root[PATH_MAX];
};

static int scratch_setup(void **state)
{
    struct scratch *s = calloc(1, sizeof(*s));
    const char *tmp = getenv("TMPDIR");
    snprintf(s->root, sizeof(s->root), "%.3000s/lsinit-fsutil-XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
    if (mkdtemp(s->root) == NULL)
        return -1;
    *state = s;
    return 0;
}

static int scratch_teardown(void **state)
{
    struct scratch *s = *state;
    fs_remove_tree(s->root);
    free(s);
    return 0;
}

/* dir/name into out (PATH_MAX bytes); the scratch folder is short. */
static void join(char *out, const char *dir, const char *name)
{
    snprintf(out, PATH_MAX, "%.2000s/%.1000s", dir, name);
}

static void touch(const char *dir, const char *name)
{
    char path[PATH_MAX];
    join(path, dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_mkdir_p_and_undo(void **state)
{
    struct scratch *s = *state;
    char dir[PATH_MAX];
    join(dir, s->root, "a/b/c");
    size_t existed = 0;
    assert_int_equal(fs_mkdir_p(dir, 0755, &existed), 0);
    assert_true(is_dir(dir));
    assert_int_equal(existed, strlen(s->root)); /* a/b/c were made */
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0755 & ~mask);
    /* Again: nothing made, the whole path existed. */
    assert_int_equal(fs_mkdir_p(dir, 0755, &existed), 0);
    assert_int_equal(existed, strlen(dir));
    fs_rmdir_created(dir, strlen(s->root));
    char a[PATH_MAX];
    join(a, s->root, "a");
    assert_false(is_dir(a));
    assert_true(is_dir(s->root));
}

static void test_mkdir_p_trailing_slash_and_null_existed(void **state)
{
    struct scratch *s = *state;
    char dir[PATH_MAX];
    join(dir, s->root, "x/y/");
    assert_int_equal(fs_mkdir_p(dir, 0700, NULL), 0);
    assert_true(is_dir(dir));
    assert_int_equal(fs_mkdir_p("/", 0755, NULL), 0);
}

static void test_mkdir_p_errors(void **state)
{
    struct scratch *s = *state;
    touch(s->root, "file");
    char dir[PATH_MAX];
    join(dir, s->root, "file/sub");
    errno = 0;
    assert_int_equal(fs_mkdir_p(dir, 0755, NULL), -1);
    assert_int_equal(errno, ENOTDIR);
    join(dir, s->root, "file");
    errno = 0;
    assert_int_equal(fs_mkdir_p(dir, 0755, NULL), -1);
    assert_int_equal(errno, ENOTDIR);
    char *huge = malloc(PATH_MAX + 10);
    memset(huge, 'a', PATH_MAX + 9);
    huge[0] = '/';
    huge[PATH_MAX + 9] = '\0';
    errno = 0;
    assert_int_equal(fs_mkdir_p(huge, 0755, NULL), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    free(huge);
}

static void test_undo_keeps_what_is_not_empty(void **state)
{
    struct scratch *s = *state;
    char dir[PATH_MAX], mid[PATH_MAX];
    join(dir, s->root, "m/n");
    join(mid, s->root, "m");
    size_t existed = 0;
    assert_int_equal(fs_mkdir_p(dir, 0755, &existed), 0);
    touch(mid, "keep");
    fs_rmdir_created(dir, existed);
    assert_false(is_dir(dir));
    assert_true(is_dir(mid)); /* not empty: left */
}

static void test_remove_tree(void **state)
{
    struct scratch *s = *state;
    char dir[PATH_MAX], sub[PATH_MAX], outside[PATH_MAX], link[PATH_MAX];
    join(dir, s->root, "verify-1");
    join(sub, dir, "deeper/still");
    join(outside, s->root, "outside");
    assert_int_equal(fs_mkdir_p(sub, 0700, NULL), 0);
    assert_int_equal(fs_mkdir_p(outside, 0700, NULL), 0);
    touch(dir, "verify.db");
    touch(dir, "verify.db-wal");
    touch(sub, "x");
    touch(outside, "precious");
    join(link, dir, "to-outside");
    assert_int_equal(symlink(outside, link), 0);
    fs_remove_tree(dir);
    assert_int_equal(access(dir, F_OK), -1);
    char precious[PATH_MAX];
    join(precious, outside, "precious");
    assert_int_equal(access(precious, F_OK), 0); /* the link went, not what it pointed at */
    fs_remove_tree(dir);                         /* gone already: nothing happens */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mkdir_p_and_undo, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p_trailing_slash_and_null_existed, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p_errors, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_undo_keeps_what_is_not_empty, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_remove_tree, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
