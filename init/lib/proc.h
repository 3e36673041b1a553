/* SPDX-License-Identifier: MIT */
/* Small /proc readers: who are a process's children. */
#ifndef LSINIT_PROC_H
#define LSINIT_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Writes up to max pids whose parent is ppid into pids; returns how many. */
size_t proc_children(pid_t ppid, pid_t *pids, size_t max);

/* Reads up to size-1 bytes of /proc/<pid>/<name> into buf, NUL-terminated. Returns the length, or -1. */
ssize_t proc_read(long pid, const char *name, char *buf, size_t size);

/* The parent pid of pid, or -1 when it is gone. */
pid_t proc_parent(pid_t pid);

#endif
