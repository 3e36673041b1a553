/* SPDX-License-Identifier: MIT */
#include "proc.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t proc_read(long pid, const char *name, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || size == 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return n;
}

pid_t proc_parent(pid_t pid)
{
    char buf[512];
    if (proc_read((long)pid, "stat", buf, sizeof(buf)) < 0)
        return -1;
    /* The command name may hold spaces and ')': the fields start after the last ')'. */
    char *close_paren = strrchr(buf, ')');
    if (close_paren == NULL)
        return -1;
    char state = 0;
    long ppid = -1;
    if (sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

size_t proc_children(pid_t ppid, pid_t *pids, size_t max)
{
    DIR *dir = opendir("/proc");
    if (dir == NULL)
        return 0;
    size_t count = 0;
    struct dirent *entry;
    while (count < max && (entry = readdir(dir)) != NULL) {
        if (!isdigit((unsigned char)entry->d_name[0]))
            continue;
        pid_t pid = (pid_t)strtol(entry->d_name, NULL, 10);
        if (pid > 0 && proc_parent(pid) == ppid)
            pids[count++] = pid;
    }
    closedir(dir);
    return count;
}
