#include "chorus/queue.h"

#include <stdio.h>
#include <string.h>

#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/message.h"

/* Seconds before retry number n (1, 2, ...): 2, 4, 8... */
static int64_t backoff(int attempts)
{
    int shift = attempts - 1;

    if (shift < 0)
        shift = 0;
    if (shift > 10)
        shift = 10;
    return (int64_t)2 << shift;
}

/* The actor of job events, for message.c. */
static const struct msg_actor queue_actor = {WHO_WORKER, "worker", 0};

bool queue_job_is_transcode(const struct job *job)
{
    return strcmp(job->kind, JOB_KIND_TRANSCODE) == 0;
}

int queue_enqueue_kind(struct db *db, const char *kind, const char *message_id,
                       const char *target, const char *args)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_ENQUEUE);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, kind);
    db_bind_text(st, 2, message_id);
    db_bind_text(st, 3, target);
    db_bind_text(st, 4, args);
    db_bind_int(st, 5, util_now());
    rc = db_step(st);
    return rc < 0 ? rc : 0;
}

int queue_enqueue(struct db *db, const char *message_id)
{
    return queue_enqueue_kind(db, JOB_KIND_TRANSCODE, message_id, NULL, NULL);
}

/* Copies a nullable text column into out. */
static void col_copy(struct db_stmt *st, int i, char *out, size_t len)
{
    const char *s = db_col_text(st, i);

    snprintf(out, len, "%s", s != NULL ? s : "");
}

/* Binds the lease of a job statement: ?1 id, ?2 worker, ?3 attempt. */
static struct db_stmt *lease_stmt(struct db *db, enum stmt which,
                                  const struct job *job, const char *worker)
{
    struct db_stmt *st = db_stmt(db, which);

    if (st == NULL)
        return NULL;
    db_bind_int(st, 1, job->id);
    db_bind_text(st, 2, worker);
    db_bind_int(st, 3, job->attempts);
    return st;
}

/* Steps a lease statement: 1 if it changed the row, 0 if the lease was
 * not the caller's, -1. */
static int lease_step(struct db *db, struct db_stmt *st)
{
    if (st == NULL || db_step(st) < 0)
        return -1;
    return db_changes(db) > 0 ? 1 : 0;
}

int queue_job_done_tx(struct db *db, const struct job *job, const char *worker,
                      double seconds)
{
    struct db_stmt *st = lease_stmt(db, STMT_JOB_DONE, job, worker);

    if (st == NULL)
        return -1;
    db_bind_int(st, 4, util_now());
    db_bind_double(st, 5, seconds);
    return lease_step(db, st);
}

int queue_job_failed_tx(struct db *db, const struct job *job,
                        const char *worker, const char *reason)
{
    struct db_stmt *st = lease_stmt(db, STMT_JOB_FAIL, job, worker);

    if (st == NULL)
        return -1;
    db_bind_text(st, 4, reason);
    db_bind_int(st, 5, util_now());
    return lease_step(db, st);
}

int queue_cancel_tx(struct db *db, const char *message_id, const char *reason)
{
    struct db_stmt *st = db_stmt(db, STMT_JOBS_CANCEL);

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, message_id);
    db_bind_int(st, 2, util_now());
    db_bind_text(st, 3, reason);
    return db_step(st) < 0 ? -1 : 0;
}

/* Maps message_apply()'s answer to a job event to the queue's. */
static int job_outcome(int rc, int ok)
{
    if (rc == MSG_OK)
        return ok;
    if (rc == MSG_LOST || rc == MSG_REFUSED || rc == MSG_NOT_FOUND)
        return QUEUE_LOST;
    return -1;
}

int queue_has_due(struct db *db, const char *kinds)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_DUE);
    int rc;

    if (st == NULL)
        return -1;
    db_bind_int(st, 1, util_now());
    db_bind_text(st, 2, kinds);
    rc = db_step(st);
    if (rc == DB_ROW)
        db_reset(st);
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int queue_claim(struct db *db, const char *worker, int lease_s, struct job *job)
{
    return queue_claim_kinds(db, worker, lease_s, NULL, job);
}

int queue_claim_kinds(struct db *db, const char *worker, int lease_s,
                      const char *kinds, struct job *job)
{
    for (;;) {
        struct db_stmt *st;
        int64_t now = util_now();
        char state[16];
        int rc, result = -1;

        if (db_begin(db) < 0)
            return -1;
        if ((st = db_stmt(db, kinds != NULL ? STMT_JOB_NEXT_KINDS
                                            : STMT_JOB_NEXT)) == NULL)
            goto out;
        db_bind_int(st, 1, now);
        if (kinds != NULL)
            db_bind_text(st, 2, kinds);
        rc = db_step(st);
        if (rc != DB_ROW) {
            result = rc == DB_DONE ? 0 : -1;
            goto out;
        }
        job->id = db_col_int(st, 0);
        col_copy(st, 1, job->message_id, sizeof(job->message_id));
        job->attempts = (int)db_col_int(st, 2);
        col_copy(st, 3, state, sizeof(state));
        col_copy(st, 4, job->kind, sizeof(job->kind));
        col_copy(st, 5, job->target, sizeof(job->target));
        col_copy(st, 6, job->args, sizeof(job->args));
        db_reset(st);

        if (strcmp(state, "running") == 0 &&
            job->attempts >= QUEUE_MAX_ATTEMPTS) {
            char reason[300];
            struct msg_args a = {.reason = reason, .job = job};

            snprintf(reason, sizeof(reason),
                     "processing stopped %d times without finishing (its "
                     "worker died or was killed); the file may be harmful",
                     job->attempts);
            /* Its lease expired: nobody holds it but the queue. A job
             * whose message moved on (it cannot today), or of a kind that
             * has no say in its message's state, ends alone, so it never
             * blocks the queue. */
            rc = queue_job_is_transcode(job)
                     ? message_apply_tx(db, job->message_id, EV_JOB_FAILED,
                                        &queue_actor, &a, NULL)
                     : MSG_NOT_FOUND;
            if ((rc == MSG_REFUSED || rc == MSG_NOT_FOUND) &&
                queue_job_failed_tx(db, job, NULL, reason) == 1)
                rc = MSG_OK;
            if (rc != MSG_OK || db_commit(db) < 0)
                goto out;
            log_warnx("job %lld: failed for good: %s", (long long)job->id,
                      reason);
            continue;
        }
        if (strcmp(state, "running") == 0)
            log_warnx("job %lld: its lease expired; claiming it again",
                      (long long)job->id);
        if ((st = db_stmt(db, STMT_JOB_START)) == NULL)
            goto out;
        db_bind_int(st, 1, job->id);
        db_bind_int(st, 2, now + lease_s);
        db_bind_text(st, 3, worker);
        db_bind_int(st, 4, now);
        if (db_step(st) < 0 || db_commit(db) < 0)
            goto out;
        job->attempts++;
        return 1;
    out:
        db_rollback(db);
        return result;
    }
}

int queue_heartbeat(struct db *db, const struct job *job, const char *worker,
                    int lease_s, double progress)
{
    struct db_stmt *st = lease_stmt(db, STMT_JOB_HEARTBEAT, job, worker);
    int64_t now = util_now();

    if (st == NULL)
        return -1;
    db_bind_int(st, 4, now + lease_s);
    db_bind_double(st, 5, progress < 0 ? 0 : progress > 1 ? 1 : progress);
    db_bind_int(st, 6, now);
    return lease_step(db, st);
}

/* The end of a job of a kind that does not move its message: the job
 * row alone, under the lease, with on_owned inside. 1, QUEUE_LOST, -1. */
static int finish_alone(struct db *db, const struct job *job,
                        const char *worker, const char *reason, double seconds,
                        int (*on_owned)(void *), void *opaque)
{
    int rc, result = -1;

    if (db_begin(db) < 0)
        return -1;
    rc = reason != NULL ? queue_job_failed_tx(db, job, worker, reason)
                        : queue_job_done_tx(db, job, worker, seconds);
    if (rc == 0) {
        result = QUEUE_LOST;
        goto out;
    }
    if (rc < 0 || (on_owned != NULL && on_owned(opaque) != 0) ||
        db_commit(db) < 0)
        goto out;
    result = 1;
out:
    db_rollback(db);
    return result;
}

int queue_succeed(struct db *db, const struct job *job, const char *worker,
                  const struct job_facts *facts, int (*on_owned)(void *),
                  void *opaque)
{
    struct msg_actor who = {WHO_WORKER, worker, 0};
    struct msg_args a = {.job = job,
                         .worker = worker,
                         .facts = facts,
                         .on_owned = on_owned,
                         .opaque = opaque};

    if (!queue_job_is_transcode(job))
        return finish_alone(db, job, worker, NULL,
                            facts != NULL ? facts->seconds : 0, on_owned,
                            opaque);
    return job_outcome(
        message_apply(db, job->message_id, EV_JOB_DONE, &who, &a, NULL), 1);
}

int queue_fail(struct db *db, const struct job *job, const char *worker,
               const char *reason, bool retryable)
{
    struct msg_actor who = {WHO_WORKER, worker, 0};
    struct msg_args a = {.job = job, .worker = worker};
    struct db_stmt *st;
    char why[400];
    int rc;

    if (retryable && job->attempts < QUEUE_MAX_ATTEMPTS) {
        if ((st = lease_stmt(db, STMT_JOB_RETRY, job, worker)) == NULL)
            return -1;
        db_bind_int(st, 4, util_now() + backoff(job->attempts));
        db_bind_text(st, 5, reason);
        db_bind_int(st, 6, util_now());
        rc = lease_step(db, st);
        return rc == 1 ? 1 : rc == 0 ? QUEUE_LOST : -1;
    }
    if (retryable)
        snprintf(why, sizeof(why), "%s (after %d attempts)", reason,
                 job->attempts);
    else
        snprintf(why, sizeof(why), "%s", reason);
    a.reason = why;
    if (!queue_job_is_transcode(job)) {
        rc = finish_alone(db, job, worker, why, 0, NULL, NULL);
        return rc == 1 ? 0 : rc;
    }
    return job_outcome(
        message_apply(db, job->message_id, EV_JOB_FAILED, &who, &a, NULL), 0);
}

int queue_release(struct db *db, const struct job *job, const char *worker)
{
    struct db_stmt *st = lease_stmt(db, STMT_JOB_RELEASE, job, worker);

    if (st == NULL)
        return -1;
    db_bind_int(st, 4, util_now());
    return lease_step(db, st);
}

int queue_claim_queued(struct db *db, const char *worker, int lease_s,
                       int64_t id, struct job *job)
{
    struct db_stmt *st;
    int64_t now = util_now();
    int rc = -1;

    if (db_begin(db) < 0)
        return -1;
    if ((st = db_stmt(db, STMT_JOB_START_QUEUED)) == NULL)
        goto out;
    db_bind_int(st, 1, id);
    db_bind_int(st, 2, now + lease_s);
    db_bind_text(st, 3, worker);
    db_bind_int(st, 4, now);
    if (db_step(st) < 0)
        goto out;
    if (db_changes(db) == 0) {
        rc = 0;
        goto out;
    }
    if ((st = db_stmt(db, STMT_JOB_GET)) == NULL)
        goto out;
    db_bind_int(st, 1, id);
    if (db_step(st) != DB_ROW)
        goto out;
    job->id = db_col_int(st, 0);
    col_copy(st, 1, job->message_id, sizeof(job->message_id));
    job->attempts = (int)db_col_int(st, 2);
    col_copy(st, 3, job->kind, sizeof(job->kind));
    col_copy(st, 4, job->target, sizeof(job->target));
    col_copy(st, 5, job->args, sizeof(job->args));
    db_reset(st);
    if (db_commit(db) < 0)
        goto out;
    return 1;
out:
    db_rollback(db);
    return rc;
}
