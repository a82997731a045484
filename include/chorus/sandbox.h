/*
 * The sandbox of a transcoding job's child, on top of its fork, closed
 * descriptors and rlimits (worker.c): a seccomp filter (libseccomp) that
 * refuses, with EPERM, network sockets, exec and new processes (threads
 * stay allowed), opening any file (for reading too: the database holds
 * contributors' names), io_uring, and renaming, linking or deleting
 * files. The child opens its input and its two output files before it
 * enters; afterwards it reads and writes only through the descriptors it
 * holds. The filter cannot be lifted (no_new_privs).
 */
#ifndef CHORUS_SANDBOX_H
#define CHORUS_SANDBOX_H

#include <stddef.h>

/* Enters the sandbox for good. Returns 0, or -1 (logged). */
int sandbox_enter(void);

/*
 * Tries something the sandbox must refuse: "connect" (a TCP connection
 * to 127.0.0.1), "exec" (a program that does not exist: EPERM, not
 * ENOENT), "fork", "read" or "write" (open path; the database, in the
 * worker's self-test); or lists the open
 * descriptors ("fds", always 1). Writes what happened to out.
 * Returns 1 if it was refused, 0 if it was allowed, -1 if what is
 * unknown.
 */
int sandbox_probe(const char *what, const char *path, char *out, size_t len);

#endif
