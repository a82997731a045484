#include "chorus/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include "chorus/log.h"
#include "chorus/util.h"

/*
 * What a job's child may call without conditions: strace -f of every
 * real job in tests/http/worker.test.mjs and sandbox.test.mjs, in the
 * normal and the ASan+UBSan build, after the filter went on (see
 * docs/security.md for how to take it again), plus the few calls the C
 * library makes on paths those runs may not have taken (read, writev,
 * lseek, fdatasync, ftruncate, sleeps, the clock without a vDSO).
 */
static const int allowed[] = {
    /* the descriptors it holds: input, outputs, report pipe, stderr */
    SCMP_SYS(read),
    SCMP_SYS(pread64),
    SCMP_SYS(write),
    SCMP_SYS(writev),
    SCMP_SYS(pwrite64),
    SCMP_SYS(lseek),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat), /* fstat(): newfstatat(fd, "", AT_EMPTY_PATH) */
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    SCMP_SYS(ftruncate),
    SCMP_SYS(close),
    /* memory */
    SCMP_SYS(brk),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(madvise),
    /* threads */
    SCMP_SYS(futex),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    /* its own signals and time */
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(nanosleep),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(getrandom),
};

/* Opening a file fails, quietly: libav tries /dev/urandom and falls
 * back (OpenSSH's sandbox answers these with EACCES for the same
 * reason). */
static const int refused_open[] = {
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(openat2),
    SCMP_SYS(creat),
};

int sandbox_enter(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    const uint32_t allow = SCMP_ACT_ALLOW;
    const scmp_datum_t self = (scmp_datum_t)getpid();
    const scmp_datum_t thread = CLONE_THREAD | CLONE_VM | CLONE_SIGHAND;
    int rc = -1;

    if (ctx == NULL) {
        log_warnx("sandbox: seccomp_init failed");
        return -1;
    }
    /* A call made through another ABI (i386, x32) is not checked by the
     * rules below: it kills too. */
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) !=
        0)
        goto out;
    for (size_t i = 0; i < ARRAY_LEN(allowed); i++)
        if (seccomp_rule_add(ctx, allow, allowed[i], 0) != 0)
            goto out;
    for (size_t i = 0; i < ARRAY_LEN(refused_open); i++)
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), refused_open[i], 0) !=
            0)
            goto out;
    if (/* threads, never a process */
        seccomp_rule_add(ctx, allow, SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, thread, thread)) != 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) !=
            0 ||
        /* memory, never code */
        seccomp_rule_add(ctx, allow, SCMP_SYS(mmap), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0 ||
        seccomp_rule_add(ctx, allow, SCMP_SYS(mprotect), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0 ||
        /* signals to itself only: abort() */
        seccomp_rule_add(ctx, allow, SCMP_SYS(tgkill), 1,
                         SCMP_A0(SCMP_CMP_EQ, self, 0)) != 0 ||
        /* isatty(), and naming its threads */
        seccomp_rule_add(ctx, allow, SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_EQ, TCGETS, 0)) != 0 ||
        seccomp_rule_add(ctx, allow, SCMP_SYS(prctl), 1,
                         SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0)) != 0)
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

/* Describes an attempt that returned: refused (1) or allowed (0). */
static int outcome(bool ok, const char *what, char *out, size_t len)
{
    if (ok)
        snprintf(out, len, "%s was ALLOWED", what);
    else
        snprintf(out, len, "%s refused (%s)", what, strerror(errno));
    return ok ? 0 : 1;
}

/* The signal probes: signal 0 to parent, which is harmless even if the
 * filter let it through (only the permission is checked). */
static int probe_signal(const char *what, pid_t parent, char *out, size_t len)
{
    siginfo_t si;
    long r = -1;

    memset(&si, 0, sizeof(si));
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    if (strcmp(what, "kill") == 0)
        r = syscall(SYS_kill, parent, 0);
    else if (strcmp(what, "tgkill") == 0)
        r = syscall(SYS_tgkill, parent, parent, 0);
    else if (strcmp(what, "rt_sigqueueinfo") == 0)
        r = syscall(SYS_rt_sigqueueinfo, parent, 0, &si);
    else if (strcmp(what, "rt_tgsigqueueinfo") == 0)
        r = syscall(SYS_rt_tgsigqueueinfo, parent, parent, 0, &si);
    else if (strcmp(what, "pidfd_open") == 0)
        r = syscall(SYS_pidfd_open, parent, 0);
    else if (strcmp(what, "pidfd_send_signal") == 0)
        /* On the report pipe: were the call allowed, EBADF. */
        r = syscall(SYS_pidfd_send_signal, 3, 0, NULL, 0);
    else
        return -1;
    return outcome(r >= 0 || errno == EBADF, what, out, len);
}

/* The probes of new processes and programs. */
static int probe_process(const char *what, char *out, size_t len)
{
    long pid;

    if (strcmp(what, "exec") == 0) {
        /* A program that does not exist: allowed, it would be ENOENT. */
        char *const argv[] = {"chorus-probe", NULL};

        execv("/nonexistent/chorus-probe", argv);
        return outcome(errno != EPERM, what, out, len);
    }
    if (strcmp(what, "fork") == 0)
        pid = fork();
    else if (strcmp(what, "vfork") == 0)
        pid = syscall(SYS_vfork);
    else if (strcmp(what, "clone") == 0)
        pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
    else if (strcmp(what, "clone3") == 0) {
        struct clone_args ca;

        memset(&ca, 0, sizeof(ca));
        ca.exit_signal = SIGCHLD;
        pid = syscall(SYS_clone3, &ca, sizeof(ca));
    } else
        return -1;
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    return outcome(pid > 0, what, out, len);
}

/* The probes of files: opening any (for reading too: the database holds
 * contributors' names). */
static int probe_open(const char *what, const char *path, char *out, size_t len)
{
    long fd;

    if (strcmp(what, "open") == 0)
        fd = syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
    else if (strcmp(what, "openat") == 0 || strcmp(what, "read") == 0)
        fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    else if (strcmp(what, "write") == 0)
        fd = syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
    else if (strcmp(what, "openat2") == 0) {
        struct open_how how;

        memset(&how, 0, sizeof(how));
        how.flags = O_RDONLY | O_CLOEXEC;
        fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    } else
        return -1;
    if (fd >= 0)
        close((int)fd);
    return outcome(fd >= 0, what, out, len);
}

/* Lists the open descriptors, or the environment's names, into out. */
static int probe_report(const char *what, char *out, size_t len)
{
    extern char **environ;
    size_t used;

    if (strcmp(what, "fds") == 0) {
        /* Asked of each number: /proc cannot be opened in here. */
        used = (size_t)snprintf(out, len, "descriptors:");
        for (int fd = 0; fd < 1024 && used < len; fd++) {
            struct stat st;

            if (fstat(fd, &st) == 0)
                used += (size_t)snprintf(out + used, len - used, " %d", fd);
        }
        return 2;
    }
    if (strcmp(what, "env") == 0) {
        used = (size_t)snprintf(out, len, "environment:");
        for (char **e = environ; e != NULL && *e != NULL && used < len; e++)
            used += (size_t)snprintf(out + used, len - used, " %.*s",
                                     (int)strcspn(*e, "="), *e);
        if (environ == NULL || environ[0] == NULL)
            snprintf(out + used, len - used, " (empty)");
        return 2;
    }
    return -1;
}

int sandbox_probe(const char *what, pid_t parent, const char *path, char *out,
                  size_t len)
{
    int rc;

    if ((rc = probe_signal(what, parent, out, len)) >= 0 ||
        (rc = probe_process(what, out, len)) >= 0 ||
        (rc = probe_open(what, path, out, len)) >= 0 ||
        (rc = probe_report(what, out, len)) >= 0)
        return rc;
    if (strcmp(what, "socket") == 0 || strcmp(what, "connect") == 0) {
        long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd >= 0)
            close((int)fd);
        return outcome(fd >= 0, what, out, len);
    }
    if (strcmp(what, "io_uring") == 0) {
        struct io_uring_params p;
        long fd;

        memset(&p, 0, sizeof(p));
        fd = syscall(SYS_io_uring_setup, 1, &p);
        if (fd >= 0)
            close((int)fd);
        return outcome(fd >= 0, what, out, len);
    }
    if (strcmp(what, "ptrace") == 0) {
        /* SEIZE does not stop the parent, were it allowed. */
        long r = syscall(SYS_ptrace, PTRACE_SEIZE, parent, 0L, 0L);

        if (r == 0)
            syscall(SYS_ptrace, PTRACE_DETACH, parent, 0L, 0L);
        return outcome(r == 0, what, out, len);
    }
    if (strcmp(what, "mmap_exec") == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p != MAP_FAILED)
            munmap(p, 4096);
        return outcome(p != MAP_FAILED, what, out, len);
    }
    if (strcmp(what, "mprotect_exec") == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        bool ok =
            p != MAP_FAILED && mprotect(p, 4096, PROT_READ | PROT_EXEC) == 0;

        if (p != MAP_FAILED)
            munmap(p, 4096);
        return outcome(ok, what, out, len);
    }
#if defined(__x86_64__)
    if (strcmp(what, "i386_abi") == 0) {
        /* getpid through the i386 table, which the rules above do not
         * describe: only the architecture check stops it. The kernel
         * clears r8-r11 on this entry. */
        long r = 20;

        __asm__ volatile("int $0x80"
                         : "+a"(r)
                         :
                         : "memory", "r8", "r9", "r10", "r11");
        if (r < 0)
            errno = (int)-r;
        return outcome(r >= 0, what, out, len);
    }
#endif
    return -1;
}
