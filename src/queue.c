#include "chorus/queue.h"

#include <stdio.h>
#include <string.h>

#include "chorus/db.h"
#include "chorus/log.h"

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

int queue_enqueue(struct db *db, const char *message_id)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_ENQUEUE);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, message_id);
    db_bind_int(st, 2, util_now());
    rc = db_step(st);
    return rc < 0 ? rc : 0;
}

/* Fails job id and its message with reason; inside a transaction. */
static int fail_for_good(struct db *db, int64_t id, const char *message_id,
                         const char *worker, const char *reason)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_FAIL);
    int64_t now = util_now();

    if (st == NULL)
        return -1;
    db_bind_int(st, 1, id);
    db_bind_text(st, 2, worker);
    db_bind_text(st, 3, reason);
    db_bind_int(st, 4, now);
    if (db_step(st) < 0 || (st = db_stmt(db, STMT_MESSAGE_FAILED)) == NULL)
        return -1;
    db_bind_text(st, 1, message_id);
    db_bind_text(st, 2, reason);
    db_bind_int(st, 3, now);
    return db_step(st) < 0 ? -1 : 0;
}

int queue_claim(struct db *db, const char *worker, int lease_s, struct job *job)
{
    for (;;) {
        struct db_stmt *st;
        int64_t now = util_now();
        char state[16], last_error[200];
        int rc, result = -1;

        if (db_begin(db) < 0)
            return -1;
        if ((st = db_stmt(db, STMT_JOB_NEXT)) == NULL)
            goto out;
        db_bind_int(st, 1, now);
        rc = db_step(st);
        if (rc != DB_ROW) {
            result = rc == DB_DONE ? 0 : -1;
            goto out;
        }
        job->id = db_col_int(st, 0);
        snprintf(job->message_id, sizeof(job->message_id), "%s",
                 db_col_text(st, 1));
        job->attempts = (int)db_col_int(st, 2);
        snprintf(state, sizeof(state), "%s", db_col_text(st, 3));
        snprintf(last_error, sizeof(last_error), "%s",
                 db_col_text(st, 4) != NULL ? db_col_text(st, 4) : "");
        db_reset(st);

        if (strcmp(state, "running") == 0 &&
            job->attempts >= QUEUE_MAX_ATTEMPTS) {
            char reason[300];
            snprintf(reason, sizeof(reason),
                     "processing stopped %d times without finishing (its "
                     "worker died or was killed); the file may be harmful",
                     job->attempts);
            if (fail_for_good(db, job->id, job->message_id, NULL, reason) !=
                    0 ||
                db_commit(db) < 0)
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
    struct db_stmt *st = db_stmt(db, STMT_JOB_HEARTBEAT);
    int64_t now = util_now();

    if (st == NULL)
        return -1;
    db_bind_int(st, 1, job->id);
    db_bind_text(st, 2, worker);
    db_bind_int(st, 3, now + lease_s);
    db_bind_double(st, 4, progress < 0 ? 0 : progress > 1 ? 1 : progress);
    db_bind_int(st, 5, now);
    if (db_step(st) < 0)
        return -1;
    return db_changes(db) > 0 ? 1 : 0;
}

int queue_succeed(struct db *db, const struct job *job, const char *worker,
                  const struct job_facts *facts)
{
    struct db_stmt *st;
    int64_t now = util_now();
    int result = -1;

    if (db_begin(db) < 0)
        return -1;
    if ((st = db_stmt(db, STMT_JOB_DONE)) == NULL)
        goto out;
    db_bind_int(st, 1, job->id);
    db_bind_text(st, 2, worker);
    db_bind_int(st, 3, now);
    db_bind_double(st, 4, facts->seconds);
    if (db_step(st) < 0)
        goto out;
    if ((st = db_stmt(db, STMT_MESSAGE_PROCESSED)) == NULL)
        goto out;
    db_bind_text(st, 1, job->message_id);
    db_bind_int(st, 2, facts->duration_ms);
    db_bind_int(st, 3, facts->width);
    db_bind_int(st, 4, facts->height);
    db_bind_int(st, 5, facts->has_audio);
    db_bind_int(st, 6, facts->video_bytes);
    db_bind_text(st, 7, facts->json);
    db_bind_int(st, 8, now);
    if (db_step(st) < 0)
        goto out;
    result = db_changes(db) > 0 ? 1 : 0;
    if (db_commit(db) < 0)
        result = -1;
out:
    db_rollback(db);
    return result;
}

int queue_fail(struct db *db, const struct job *job, const char *worker,
               const char *reason, bool retryable)
{
    struct db_stmt *st;
    int64_t now = util_now();
    int result = -1;

    if (db_begin(db) < 0)
        return -1;
    if (retryable && job->attempts < QUEUE_MAX_ATTEMPTS) {
        if ((st = db_stmt(db, STMT_JOB_RETRY)) == NULL)
            goto out;
        db_bind_int(st, 1, job->id);
        db_bind_text(st, 2, worker);
        db_bind_int(st, 3, now + backoff(job->attempts));
        db_bind_text(st, 4, reason);
        db_bind_int(st, 5, now);
        if (db_step(st) < 0)
            goto out;
        result = 1;
    } else {
        char why[400];

        if (retryable)
            snprintf(why, sizeof(why), "%s (after %d attempts)", reason,
                     job->attempts);
        else
            snprintf(why, sizeof(why), "%s", reason);
        if (fail_for_good(db, job->id, job->message_id, worker, why) != 0)
            goto out;
        result = 0;
    }
    if (db_commit(db) < 0)
        result = -1;
out:
    db_rollback(db);
    return result;
}

int queue_release(struct db *db, const struct job *job, const char *worker)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_RELEASE);

    if (st == NULL)
        return -1;
    db_bind_int(st, 1, job->id);
    db_bind_text(st, 2, worker);
    db_bind_int(st, 3, util_now());
    return db_step(st) < 0 ? -1 : 0;
}
