/*
 * The durable job queue (DESIGN.md "Data"):
 *
 *   queued -> running (lease_until, worker, attempt) -> done | failed
 *
 * A worker claims the oldest due job in one BEGIN IMMEDIATE transaction
 * and holds it with a lease that it renews while it works (heartbeat).
 * A running job whose lease expired - its worker died or stopped - is
 * claimed again. Every claim counts an attempt, and the lease is the
 * pair (worker name, attempt): heartbeats, retries and the end of a job
 * are compare-and-swaps on it, so a worker whose lease moved on is told
 * it lost the job (and deletes only its own attempt's files) instead of
 * finishing it. An attempt that crashed, timed out or lost its worker is
 * retried after a backoff; after QUEUE_MAX_ATTEMPTS of them the job and
 * its message fail for good, so a poison input never loops. A clean
 * refusal (the file is not a video we take) fails at once: trying again
 * would not change the answer.
 *
 * Jobs have kinds. The end of a "transcode" job is also the end of its
 * message's processing: success and failure for good go through
 * message.c (EV_JOB_DONE, EV_JOB_FAILED), whose guards call the *_tx
 * functions below inside their transaction. Other kinds (JOB_KIND_*)
 * make something else - named by their target, described by their args
 * - and never change a message's state; their success and failure are
 * the job row's alone (and on_owned's, see queue_succeed).
 */
#ifndef CHORUS_QUEUE_H
#define CHORUS_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "chorus/util.h"

struct db;

#define QUEUE_MAX_ATTEMPTS 3

/* The caller's lost its lease (queue_* results). */
#define QUEUE_LOST (-2)

#define JOB_KIND_TRANSCODE "transcode"
#define JOB_KIND_MAX 16
#define JOB_TARGET_MAX 200
#define JOB_ARGS_MAX 4000

struct job {
    int64_t id;
    char kind[JOB_KIND_MAX + 1];
    char message_id[UTIL_ID_LEN + 1]; /* "" if the job has none */
    char target[JOB_TARGET_MAX + 1];  /* what it makes; "" for transcode */
    char args[JOB_ARGS_MAX + 1];      /* JSON; "" if none */
    int attempts; /* including this one: with the worker, the lease */
};

/* True for a job that moves its message on (a transcode). */
bool queue_job_is_transcode(const struct job *job);

/* What a successful job learnt of its output, stored on the message. */
struct job_facts {
    int64_t duration_ms;
    int width, height;
    bool has_audio;
    int64_t video_bytes;
    double seconds;   /* wall time of the job */
    const char *json; /* the full facts, or NULL */
    /* Protection asked for blur_faces and found no face, or faces that
     * came and went: a moderator should check the contact sheet. */
    bool check_protection;
};

/* Queues a transcode job for message id, due now. Call inside the
 * caller's transaction. Returns 0, or a DB_* code < 0. */
int queue_enqueue(struct db *db, const char *message_id);
/*
 * Queues a job of another kind, due now: for message_id (may be NULL),
 * making target (unique among live jobs of its kind: DB_CONSTRAINT if one
 * is queued or running already), with args (JSON, may be NULL). Call
 * inside the caller's transaction. Returns 0, or a DB_* code < 0.
 */
int queue_enqueue_kind(struct db *db, const char *kind, const char *message_id,
                       const char *target, const char *args);

/*
 * Claims the next due job (queued, or running with an expired lease) for
 * worker with a lease of lease_s seconds. Jobs that used up their
 * attempts on the way are failed for good. Returns 1 with *job filled, 0
 * if none is due, -1 on error.
 */
int queue_claim(struct db *db, const char *worker, int lease_s,
                struct job *job);
/* The same for a worker that makes only the kinds listed in kinds
 * (",transcode,logo,"; NULL: any), a remote one. */
int queue_claim_kinds(struct db *db, const char *worker, int lease_s,
                      const char *kinds, struct job *job);
/* Whether a job of kinds (as above) is due, read without taking the
 * write lock, for waiting claims: 1, 0, or -1. */
int queue_has_due(struct db *db, const char *kinds);
/*
 * Claims job id for worker if it is still queued (a sibling of a job the
 * worker claimed, made with it). Returns 1 with *job filled, 0 if it is
 * not queued any more, -1 on error.
 */
int queue_claim_queued(struct db *db, const char *worker, int lease_s,
                       int64_t id, struct job *job);

/* Renews the lease and records progress (0..1). 1, 0 if the lease is no
 * longer ours (it expired and moved on, or the job was cancelled), -1. */
int queue_heartbeat(struct db *db, const struct job *job, const char *worker,
                    int lease_s, double progress);
/*
 * The job succeeded: done, and (a transcode) its message "pending" with
 * facts (NULL for other kinds), in one transaction; on_owned(opaque) (may
 * be NULL) runs inside it once the lease is proven, to give the outputs
 * their names and record what they are. Returns 1, QUEUE_LOST if the
 * lease is not ours or the message is no longer processing (withdrawn),
 * or -1.
 */
int queue_succeed(struct db *db, const struct job *job, const char *worker,
                  const struct job_facts *facts, int (*on_owned)(void *),
                  void *opaque);
/*
 * The attempt failed with reason. If retryable and attempts remain, the
 * job is queued again after a backoff; else it and its message fail with
 * reason. Returns 1 if it will be retried, 0 if it failed for good,
 * QUEUE_LOST if the lease was not ours, -1.
 */
int queue_fail(struct db *db, const struct job *job, const char *worker,
               const char *reason, bool retryable);
/* Gives the job back without counting the attempt (orderly shutdown):
 * 1, 0 if the lease was not ours, -1. */
int queue_release(struct db *db, const struct job *job, const char *worker);

/* Inside a transaction (message.c's guards): marks the job done, or
 * failed with reason, if worker still holds its lease (worker NULL: if
 * its lease expired, for a poison job). 1, 0 if not, or -1. */
int queue_job_done_tx(struct db *db, const struct job *job, const char *worker,
                      double seconds);
int queue_job_failed_tx(struct db *db, const struct job *job,
                        const char *worker, const char *reason);
/* Inside a transaction: cancels message id's live jobs. 0, or -1. */
int queue_cancel_tx(struct db *db, const char *message_id, const char *reason);

#endif
