#include "chorus/sandbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "chorus/log.h"
#include "chorus/util.h"

/* System calls refused outright. */
static const int refused[] = {
    /* network */
    SCMP_SYS(socket),
    SCMP_SYS(socketpair),
    SCMP_SYS(connect),
    SCMP_SYS(bind),
    SCMP_SYS(listen),
    SCMP_SYS(accept),
    SCMP_SYS(accept4),
    /* other programs, other processes */
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(fork),
    SCMP_SYS(vfork),
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(tkill),
    /* files: a job reads and writes only the descriptors it was given */
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(openat2),
    SCMP_SYS(creat),
    SCMP_SYS(rename),
    SCMP_SYS(renameat),
    SCMP_SYS(renameat2),
    SCMP_SYS(unlink),
    SCMP_SYS(unlinkat),
    SCMP_SYS(link),
    SCMP_SYS(linkat),
    SCMP_SYS(symlink),
    SCMP_SYS(symlinkat),
    SCMP_SYS(mkdir),
    SCMP_SYS(mkdirat),
    SCMP_SYS(rmdir),
    SCMP_SYS(mknod),
    SCMP_SYS(mknodat),
    SCMP_SYS(chmod),
    SCMP_SYS(fchmodat),
    SCMP_SYS(chown),
    SCMP_SYS(fchownat),
    SCMP_SYS(lchown),
    SCMP_SYS(truncate),
    SCMP_SYS(utimensat),
    /* the system */
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(chroot),
    SCMP_SYS(pivot_root),
    SCMP_SYS(setns),
    SCMP_SYS(unshare),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    /* io_uring opens and connects without the system calls above */
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(io_uring_register),
};

int sandbox_enter(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
    int rc = -1;

    if (ctx == NULL) {
        log_warnx("sandbox: seccomp_init failed");
        return -1;
    }
    for (size_t i = 0; i < ARRAY_LEN(refused); i++)
        if (seccomp_rule_add(ctx, deny, refused[i], 0) != 0)
            goto out;
    /* Threads only: clone without CLONE_THREAD would be a new process;
     * clone3 hides its flags from the filter, so it is "not there" and
     * the C library falls back to clone. */
    /* Signals to itself only (abort() raises SIGABRT): never the worker
     * or the server, which run as the same user. */
    if (seccomp_rule_add(ctx, deny, SCMP_SYS(kill), 1,
                         SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)getpid(), 0)) !=
            0 ||
        seccomp_rule_add(ctx, deny, SCMP_SYS(tgkill), 1,
                         SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)getpid(), 0)) != 0)
        goto out;
    if (seccomp_rule_add(ctx, deny, SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)) != 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0)
        goto out;
    if (seccomp_load(ctx) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        log_warnx("sandbox: cannot install the seccomp filter");
    seccomp_release(ctx);
    return rc;
}

/* Describes the outcome of an attempt: refused (1) or allowed (0). */
static int outcome(int ok, const char *what, char *out, size_t len)
{
    if (ok)
        snprintf(out, len, "%s was ALLOWED", what);
    else
        snprintf(out, len, "%s refused (%s)", what, strerror(errno));
    return !ok;
}

int sandbox_probe(const char *what, const char *path, char *out, size_t len)
{
    if (strcmp(what, "connect") == 0) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* A refused connection (nothing listens) still proves a socket. */
        ok = fd >= 0 && (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
                         errno == ECONNREFUSED);
        if (fd >= 0)
            close(fd);
        return outcome(ok, "connect", out, len);
    }
    if (strcmp(what, "exec") == 0) {
        /* A program that does not exist: were exec allowed, ENOENT. */
        char *const argv[] = {"chorus-probe", NULL};

        execv("/nonexistent/chorus-probe", argv);
        return outcome(errno != EPERM, "exec", out, len);
    }
    if (strcmp(what, "fork") == 0) {
        pid_t pid = fork();

        if (pid == 0)
            _exit(0);
        if (pid > 0)
            waitpid(pid, NULL, 0);
        return outcome(pid >= 0, "a new process", out, len);
    }
    if (strcmp(what, "fds") == 0) {
        /* Asked of each number: /proc cannot be opened in here. */
        size_t used = (size_t)snprintf(out, len, "descriptors:");

        for (int fd = 0; fd < 1024 && used < len; fd++)
            if (fcntl(fd, F_GETFD) >= 0)
                used += (size_t)snprintf(out + used, len - used, " %d", fd);
        return 1;
    }
    if (strcmp(what, "write") == 0 || strcmp(what, "read") == 0) {
        bool write = what[0] == 'w';
        int fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);

        if (fd >= 0)
            close(fd);
        return outcome(fd >= 0,
                       write ? "opening a file for writing"
                             : "opening a file for reading",
                       out, len);
    }
    return -1;
}
