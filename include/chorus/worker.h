/*
 * The media workers: `chorus worker` runs --workers processes on the data
 * directory, each looping claim -> transcode -> record; `chorus serve`
 * starts it as a child so one command runs everything.
 *
 * Each job runs in a forked child that never touches the worker's SQLite
 * handle (the worker records the result), with every descriptor closed
 * but a pipe to the worker, rlimits on address space, CPU time, file
 * size and core dumps, and a wall-clock timeout scaled by the video's
 * duration. The child reports progress and its result over the pipe. A
 * child that crashes, hangs or runs out of memory fails its attempt,
 * never the worker or the server.
 */
#ifndef CHORUS_WORKER_H
#define CHORUS_WORKER_H

#include <sys/types.h>

struct config;

/* `chorus worker`: supervises cfg->workers worker processes until SIGTERM
 * or SIGINT, restarting any that dies. Returns the exit status. */
int worker_main(const struct config *cfg);

/*
 * Exports cfg to the environment for worker_spawn(). Call once, before
 * any thread starts (setenv is not thread-safe). 0, or -1.
 */
int worker_prepare_spawn(const struct config *cfg);
/*
 * Starts `chorus worker` as a child of the calling process, with the
 * configuration worker_prepare_spawn() exported; it ends with its
 * parent. Safe with threads running. Returns its pid, or -1.
 */
pid_t worker_spawn(void);

#endif
