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

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "chorus/credit.h"
#include "chorus/queue.h"

struct config;
struct db;

/* `chorus worker`: supervises cfg->workers worker processes until SIGTERM
 * or SIGINT, restarting any that dies. Returns the exit status. */
int worker_main(const struct config *cfg);

/*
 * Runs cfg->workers processes of loop(cfg) (the local worker loop, or a
 * remote one: remote.c) until SIGTERM or SIGINT, restarting any that
 * dies at most once a second; ended(pid), if not NULL, is called for
 * each one that ended (crashed or stopped), to clean up after it.
 * Returns the exit status.
 */
int worker_supervise(const struct config *cfg,
                     int (*loop)(const struct config *), void (*ended)(pid_t));

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

/* ---- what a remote worker (remote.c) and its server (worker_api.c)
 * share with the local one ---------------------------------------------- */

/* What a job's child needs to know of its message. */
struct job_message {
    unsigned protect;        /* TRANSCODE_PROTECT_* */
    char credit[CREDIT_MAX]; /* no_video's card: what the contributor gave */
    uint32_t accent;         /* the card's ground, 0xRRGGBB: the campaign's */
};

/*
 * Reads what the child needs of job's message into *m: the protection
 * asked for and, for a no_video card, the credit line of what the
 * contributor gave (credit.h). Returns 0, or -1 (logged): a message is
 * never processed without the protection it asked for.
 */
int worker_job_message(struct db *db, const struct job *job,
                       struct job_message *m);

/* The outputs of a transcode, in the order they are published (the
 * video last): thumb.jpg, sheet.jpg (a protected clip's only), video.mp4. */
#define WORKER_OUTPUTS_MAX 3
int worker_outputs(bool sheet, const char *names[WORKER_OUTPUTS_MAX]);
/* An output's name while its attempt runs ("video.mp4.2.tmp"): a worker
 * that lost its lease never writes or deletes another attempt's. */
int worker_output_tmp(const char *name, int attempt, char *out, size_t len);

/* How an attempt's child ended (worker_run_child). */
enum job_end {
    JOB_END_DONE,     /* outputs written, facts known */
    JOB_END_FAILED,   /* reason; retryable or not (a refusal, the sandbox) */
    JOB_END_LOST,     /* the lease moved on: the child was stopped */
    JOB_END_STOPPING, /* *stop was set: the child was stopped */
};

struct job_run {
    enum job_end end;
    bool retryable;
    char reason[512];
    struct job_facts facts; /* JOB_END_DONE: facts.json is result_json */
    char *result_json;      /* malloc'd; worker_run_release() frees it */
    int64_t started_ms;     /* util_mono_ms() at the fork */
    int64_t first_frame_ms; /* when the child first reported progress, or 0 */
    int64_t ended_ms;       /* when it exited */
};

/*
 * Runs job's child (rlimited, sandboxed, timed out) on the file in,
 * writing its outputs under their attempt's names (worker_output_tmp)
 * into out_dir, and waits for it. Every beat_ms it calls beat(opaque,
 * progress): 1 the lease holds, 0 it is lost (the child is killed), -1
 * unknown (it goes on). in_child(opaque), if not NULL, runs in the child
 * before anything else (a remote worker wipes its token there). Fills
 * *run; returns 0, or -1 if the child could not be started (run->reason
 * says why, retryable).
 */
int worker_run_child(const struct config *cfg, const struct job *job,
                     const struct job_message *msg, const char *in,
                     const char *out_dir, int (*beat)(void *, double),
                     void (*in_child)(void *), void *opaque,
                     const volatile sig_atomic_t *stop, struct job_run *run);
void worker_run_release(struct job_run *run);
/* How often a running job renews its lease (ms), for a lease of lease_s. */
int64_t worker_beat_ms(int lease_s);

/*
 * Inside the transaction that proved job's lease: gives the attempt's
 * temporary outputs under data_dir/media/<id>/ their names (thumbnail,
 * sheet, video last) and makes that durable. 0, or -1 (logged).
 */
int worker_publish_local(const char *data_dir, const struct job *job,
                         bool sheet);
/* Deletes the attempt's temporary outputs under data_dir/media/<id>/
 * (never the published ones, nor another attempt's). */
void worker_discard_local(const char *data_dir, const struct job *job);
/* The original after success: deleted, or kept in originals/ with keep. */
void worker_dispose_original(const char *data_dir, const char *id, bool keep);

#endif
