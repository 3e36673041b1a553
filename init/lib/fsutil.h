/* SPDX-License-Identifier: MIT */
/* Folders: mkdir -p (and undoing it), and removing a temporary folder with what is in it. */
#ifndef LSINIT_FSUTIL_H
#define LSINIT_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * mkdir -p: creates dir and any missing parents with mode. existed (may be
 * NULL) receives the length of the longest prefix of dir that already
 * existed: strlen(dir) when nothing was created, so fs_rmdir_created can undo
 * exactly this call. Returns 0 when dir is a folder afterwards, -1 with errno
 * set otherwise (a mkdir failed other than with EEXIST; ENOTDIR when dir or a
 * parent is not a folder). Paths longer than PATH_MAX fail with ENAMETOOLONG.
 */
int fs_mkdir_p(const char *dir, mode_t mode, size_t *existed);

/* Removes the (empty) folders fs_mkdir_p created, deepest first, down to the existed prefix. */
void fs_rmdir_created(const char *dir, size_t existed);

/*
 * rm -rf of a folder lsinit made itself (a verification's temporary folder):
 * every entry, folders recursively (symbolic links are removed, never
 * followed), then dir itself. Best effort: what cannot be removed is left.
 */
void fs_remove_tree(const char *dir);

#endif
