/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int spawn_exit_code_for_errno(int err)
{
    bool not_found = err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG;
    return not_found ? SPAWN_EXIT_NOTFOUND : SPAWN_EXIT_NOEXEC;
}

/* What the child and the parent share (CLONE_VM): the request in, the exec's errno out. */
struct spawn_child_args {
    const struct spawn_request *req;
    int err;
    int *err_out; /* where the child writes its exec errno (&err, or a shared page) */
};

/*
 * The child's stack until it execs: a few frames and execvpe's path buffer
 * (PATH_MAX + NAME_MAX); glibc's execvpe also copies argv there to run a
 * script through /bin/sh, so a long argv gets a bigger, mapped stack.
 */
#define SPAWN_CHILD_STACK ((size_t)64 * 1024)

/* Root without the capabilities that bypass file modes and ownership: drops them from the bounding set
 * (kept across exec, where root's permitted set is recomputed from it) and from this thread's sets. */
static int drop_file_capabilities(void)
{
    if (geteuid() != 0)
        return 0;
    static const int caps[] = {CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        if (prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) != 0 && prctl(PR_CAPBSET_READ, caps[i], 0, 0, 0) != 0)
            return errno != 0 ? errno : EPERM;
        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, caps[i], 0, 0);
    }
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0)
        return errno;
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        uint32_t bit = (uint32_t)1 << (caps[i] % 32);
        data[caps[i] / 32].effective &= ~bit;
        data[caps[i] / 32].permitted &= ~bit;
        data[caps[i] / 32].inheritable &= ~bit;
    }
    return syscall(SYS_capset, &hdr, data) != 0 ? errno : 0;
}

/*
 * Runs in the child between clone and exec, on its own stack but in the
 * parent's memory while the parent sleeps (CLONE_VM | CLONE_VFORK, the way
 * posix_spawn does it): only async-signal-safe calls, nothing allocated.
 */
#if defined(__SANITIZE_ADDRESS__)
__attribute__((no_sanitize_address))
#endif
static int
spawn_child(void *p)
{
    struct spawn_child_args *a = p;
    const struct spawn_request *req = a->req;
    if (req->new_pgrp) {
        (void)setpgid(0, 0);
        /*
         * SIGTTOU is still blocked here, so tcsetpgrp from a background group
         * succeeds instead of stopping us. ENOTTY/ENXIO just mean "no tty".
         */
        if (req->foreground)
            (void)tcsetpgrp(STDIN_FILENO, getpgrp());
    }
    if (req->nice_increment != 0 && nice(req->nice_increment) == -1) {
        /* Lower priority is a courtesy; running at normal priority is fine. */
    }
    if (req->idle_io) {
        /* ioprio_set(IOPRIO_WHO_PROCESS, self, IOPRIO_CLASS_IDLE << 13) */
        (void)syscall(SYS_ioprio_set, 1, 0, 3 << 13);
    }
    if (req->stdout_to > 0)
        (void)dup2(req->stdout_to, STDOUT_FILENO);
    if (req->stderr_to > 0)
        (void)dup2(req->stderr_to, STDERR_FILENO);
    int err = 0;
    if (req->read_only_files)
        err = drop_file_capabilities();
    if (err == 0 && req->cwd != NULL && chdir(req->cwd) != 0)
        err = errno;
    if (err == 0) {
        (void)sigprocmask(SIG_SETMASK, req->child_mask, NULL);
        execvpe(req->argv[0], req->argv, req->envp != NULL ? req->envp : environ);
        err = errno;
    }
    *a->err_out = err; /* read by the parent once it wakes: the child has exited by then */
    _exit(spawn_exit_code_for_errno(err));
}

pid_t spawn_process(const struct spawn_request *req, int *exec_errno)
{
    *exec_errno = 0;
    struct spawn_child_args args = {.req = req, .err = 0};
    size_t argc = 0;
    while (req->argv[argc] != NULL)
        argc++;
    /*
     * The child borrows our memory and we sleep until it has exec'd or exited:
     * no page tables copied for it, and its exec error comes back in args
     * instead of through a pipe.
     */
    _Alignas(16) char stack[SPAWN_CHILD_STACK];
    char *base = stack;
    size_t size = sizeof(stack);
    size_t need = SPAWN_CHILD_STACK + (argc + 2) * sizeof(char *);
    if (need > size) {
        size = (need + 4095) & ~(size_t)4095;
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            return -1;
    }
    args.err_out = &args.err;
#if defined(__SANITIZE_ADDRESS__)
    /*
     * Under AddressSanitizer a child sharing our memory (CLONE_VM) corrupts
     * the runtime's state (measured: it execs with SIGINT and SIGQUIT
     * ignored). The sanitizer build forks instead, still sleeping until the
     * child has exec'd (CLONE_VFORK); the errno comes back in a shared page.
     */
    (void)base;
    int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return -1;
    *shared = 0;
    args.err_out = shared;
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_VFORK | SIGCHLD, 0, NULL, NULL, 0);
    if (pid == 0)
        (void)spawn_child(&args);
    int saved = errno;
    args.err = *shared;
    (void)munmap(shared, 4096);
#else
    pid_t pid = clone(spawn_child, base + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    int saved = errno;
#endif
    if (base != stack)
        (void)munmap(base, size);
    if (pid < 0) {
        errno = saved;
        return -1;
    }
    if (args.err != 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        *exec_errno = args.err;
        return -1;
    }
    return pid;
}

int spawn_status_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

pid_t spawn_function(int (*fn)(const void *arg), const void *arg, const sigset_t *child_mask)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (child_mask != NULL)
            (void)sigprocmask(SIG_SETMASK, child_mask, NULL);
        _exit(fn(arg) & 0xff);
    }
    return pid;
}

static int64_t spawn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fd moved to 3 or above (close-on-exec), so dup2 onto stdout or stderr never meets itself. */
static int spawn_high_fd(int fd)
{
    if (fd > STDERR_FILENO)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    close(fd);
    return high;
}

/* Appends n bytes to out, keeping the first or the last out_size-1 bytes. */
static void capture_append(const struct spawn_capture *c, size_t *used, const char *data, size_t n)
{
    size_t room = c->out_size - 1;
    if (!c->keep_tail) {
        size_t take = n < room - *used ? n : room - *used;
        memcpy(c->out + *used, data, take);
        *used += take;
        return;
    }
    if (n >= room) {
        memcpy(c->out, data + n - room, room);
        *used = room;
        return;
    }
    if (*used + n > room) {
        size_t drop = *used + n - room;
        memmove(c->out, c->out + drop, *used - drop);
        *used -= drop;
    }
    memcpy(c->out + *used, data, n);
    *used += n;
}

int spawn_capture(const struct spawn_capture *c, struct spawn_result *res)
{
    memset(res, 0, sizeof(*res));
    c->out[0] = '\0';
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return -1;
    pipefd[1] = spawn_high_fd(pipefd[1]);
    int devnull = c->capture_stderr ? -1 : spawn_high_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
    struct spawn_request req = {
        .argv = c->argv,
        .child_mask = c->child_mask,
        .stdout_to = pipefd[1],
        .stderr_to = c->capture_stderr ? pipefd[1] : devnull,
    };
    pid_t pid = pipefd[1] >= 0 ? spawn_process(&req, &res->exec_errno) : -1;
    int saved = errno;
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        close(pipefd[0]);
        errno = saved;
        return -1;
    }
    size_t used = 0;
    int64_t deadline = spawn_now_ms() + c->timeout_ms;
    for (;;) {
        int64_t left = deadline - spawn_now_ms();
        if (left <= 0) {
            res->timed_out = true;
            (void)kill(pid, SIGKILL);
            break;
        }
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        int ready = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (ready < 0 && errno != EINTR)
            break;
        if (ready <= 0)
            continue;
        char chunk[4096];
        ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        capture_append(c, &used, chunk, (size_t)n);
    }
    close(pipefd[0]);
    c->out[used] = '\0';
    while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR) {
    }
    return 0;
}
