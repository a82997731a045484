/*
 * The sandbox of a transcoding job's child, on top of its fork, closed
 * descriptors, scrubbed environment and rlimits (worker.c): a seccomp
 * filter (libseccomp) that is an allow-list, as kcgi's and OpenSSH's
 * are. The architecture is checked first (another ABI, x32 included,
 * kills); then only the system calls a real transcode makes are
 * allowed, with their arguments checked where one call does two things:
 *
 *   - clone only for a thread (CLONE_THREAD, CLONE_VM, CLONE_SIGHAND);
 *     clone3 answers ENOSYS (its flags are out of the filter's reach),
 *     so the C library falls back to clone; fork and vfork are not there;
 *   - mmap and mprotect never with PROT_EXEC (no code is made at run
 *     time, by FFmpeg, x264 or the sanitizers);
 *   - tgkill only to this process (abort() raises SIGABRT);
 *   - ioctl only TCGETS (isatty), prctl only PR_SET_NAME;
 *   - open, openat, openat2 and creat fail with EPERM instead of killing:
 *     libav asks for /dev/urandom and falls back when it may not (as
 *     OpenSSH answers EACCES for the same reason). No file opens either
 *     way.
 *
 * Everything else (sockets, exec, new processes, signals to any other
 * process by any route, ptrace, io_uring, renaming or deleting files...)
 * kills the process with SIGSYS, which the worker records as a failure
 * that is not retried. The list was taken from strace -f of the test
 * suite's real jobs in both builds (docs/security.md). The filter cannot
 * be lifted (no_new_privs).
 *
 * RLIMIT_NPROC is not set: Linux counts a user's threads against it, so
 * 0 makes every pthread_create of libav and x264 fail with EAGAIN for a
 * user other than root, and root ignores it; the clone rule above is
 * what keeps the child from starting a process.
 */
#ifndef CHORUS_SANDBOX_H
#define CHORUS_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

/* Enters the sandbox for good. Returns 0, or -1 (logged). */
int sandbox_enter(void);

/*
 * Tries one thing the sandbox must stop, named by what:
 *   signals to parent (signal 0, harmless if it went through): "kill",
 *     "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open",
 *     "pidfd_send_signal";
 *   "socket", "exec", "fork", "vfork", "clone" (a process), "clone3",
 *   "open", "openat" (path, for reading), "write" (path, for writing),
 *   "openat2", "io_uring", "ptrace" (PTRACE_SEIZE of parent),
 *   "mmap_exec", "mprotect_exec", "i386_abi" (a 32-bit system call through
 *   int $0x80; x86_64 only);
 * or reports: "fds" (the open descriptors), "env" (the environment's
 * variable names). A call the filter kills does not return. Otherwise
 * writes what happened to out and returns 1 if it was refused, 0 if it
 * was ALLOWED (a hole), 2 for a report, -1 if what is unknown.
 */
int sandbox_probe(const char *what, pid_t parent, const char *path, char *out,
                  size_t len);

#endif
