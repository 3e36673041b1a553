/* SPDX-License-Identifier: MIT */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper than this, a tree lsinit made is not one it made: leave the rest. */
#define FS_REMOVE_MAX_DEPTH 16

int fs_mkdir_p(const char *dir, mode_t mode, size_t *existed)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);
    if (len >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, len + 1);
    size_t kept = len;
    bool made = false;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, mode) == 0) {
            const char *last = strrchr(path, '/');
            if (!made)
                kept = last != NULL ? (size_t)(last - path) : 0;
            made = true;
        } else if (errno != EEXIST) {
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    if (existed != NULL)
        *existed = kept;
    struct stat st;
    if (stat(dir, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

void fs_rmdir_created(const char *dir, size_t existed)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return;
    while (strlen(path) > existed && rmdir(path) == 0) {
        char *slash = strrchr(path, '/');
        if (slash == NULL || slash == path)
            break;
        *slash = '\0';
    }
}

/* Empties the folder open as fd (which this closes). */
static void remove_entries(int fd, int depth)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0 || (errno != EISDIR && errno != EPERM))
            continue;
        /* A folder: empty it, then remove it. O_NOFOLLOW: a link is never followed out of the tree. */
        if (depth >= FS_REMOVE_MAX_DEPTH)
            continue;
        int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            continue;
        remove_entries(sub, depth + 1);
        (void)unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

void fs_remove_tree(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0)
        remove_entries(fd, 0);
    (void)rmdir(dir);
}
