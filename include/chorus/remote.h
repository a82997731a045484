/*
 * A remote worker (DESIGN.md "Scale"): `chorus worker --server URL
 * --token-file F [--workers N]` on a host without the data directory.
 * N supervised processes each long-poll the server's worker API
 * (worker_api.h) for a job, download its input (resuming a broken
 * download with Range), run the same sandboxed child as a local worker
 * (worker_run_child), upload the outputs (idempotent: by name and
 * SHA-256) and report done or fail with the reason. The lease decides
 * who wins: a heartbeat answered "lost" stops the child and drops its
 * files. Network faults and a restarting server are retried with
 * backoff.
 *
 * Every job's files live in --tmp-dir/<slot>/, emptied after every job
 * and, when a process crashes, by its supervisor; the whole directory is
 * emptied at start and held with a lock, so two workers never share it.
 */
#ifndef CHORUS_REMOTE_H
#define CHORUS_REMOTE_H

struct config;

/* Runs the remote worker until SIGTERM or SIGINT; the exit status. */
int remote_main(const struct config *cfg);

#endif
