#include "chorus/message.h"

#include <string.h>

#include <sodium.h>

#include "chorus/audit.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/meta.h"
#include "chorus/queue.h"

void message_token_hash(const char *token, unsigned char out[MESSAGE_HASH_LEN])
{
    crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

/* NULL for an empty optional field, so "not given" stays NULL. */
static const char *opt(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

int message_create(struct db *db, const char *id,
                   const struct message_meta *meta,
                   const unsigned char receipt_hash[MESSAGE_HASH_LEN],
                   int64_t length, int64_t expires_at, bool complete)
{
    struct db_stmt *st;
    int64_t now = util_now();
    int rc;

    if ((rc = db_begin(db)) < 0)
        return rc;
    if ((st = db_stmt(db, STMT_MESSAGE_INSERT)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, complete ? "processing" : "uploading");
    db_bind_blob(st, 3, receipt_hash, MESSAGE_HASH_LEN);
    db_bind_text(st, 4, opt(meta->name));
    db_bind_text(st, 5, opt(meta->organization));
    db_bind_text(st, 6, meta->country);
    db_bind_text(st, 7, meta->language);
    db_bind_text(st, 8, opt(meta->message));
    db_bind_text(st, 9, opt(meta->filetype));
    db_bind_text(st, 10, meta->consent_version);
    db_bind_text(st, 11, meta->consent_scope);
    db_bind_int(st, 12, now);
    db_bind_int(st, 13, length);
    db_bind_int(st, 14, complete ? length : 0);
    if (complete) {
        db_bind_null(st, 15);
        db_bind_int(st, 16, now);
    } else {
        db_bind_int(st, 15, expires_at);
        db_bind_null(st, 16);
    }
    if ((rc = db_step(st)) < 0)
        goto out;
    if (complete && (rc = queue_enqueue(db, id)) < 0)
        goto out;
    rc = db_commit(db);
out:
    db_rollback(db);
    return rc < 0 ? rc : 0;
}

int message_upload_get(struct db *db, const char *id,
                       struct message_upload *out)
{
    struct db_stmt *st = db_stmt(db, STMT_UPLOAD_GET);
    int rc;

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, id);
    rc = db_step(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : -1;
    snprintf(out->status, sizeof(out->status), "%s", db_col_text(st, 0));
    out->length = db_col_int(st, 1);
    out->offset = db_col_int(st, 2);
    out->expires_at = db_col_is_null(st, 3) ? 0 : db_col_int(st, 3);
    db_reset(st);
    return 1;
}

int message_upload_progress(struct db *db, const char *id, int64_t offset,
                            int64_t expires_at)
{
    struct db_stmt *st = db_stmt(db, STMT_UPLOAD_PROGRESS);

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_int(st, 2, offset);
    db_bind_int(st, 3, expires_at);
    db_bind_int(st, 4, util_now());
    if (db_step(st) < 0)
        return -1;
    return db_changes(db) > 0 ? 1 : 0;
}

int message_upload_finish(struct db *db, const char *id)
{
    struct db_stmt *st;
    int result = -1;

    if (db_begin(db) < 0)
        return -1;
    if ((st = db_stmt(db, STMT_UPLOAD_FINISH)) == NULL)
        goto out;
    db_bind_text(st, 1, id);
    db_bind_int(st, 2, util_now());
    if (db_step(st) < 0)
        goto out;
    if (db_changes(db) == 0) {
        result = 0;
        goto out;
    }
    if (queue_enqueue(db, id) < 0 || db_commit(db) < 0)
        goto out;
    result = 1;
out:
    db_rollback(db);
    return result;
}

int message_upload_delete(struct db *db, const char *id)
{
    struct db_stmt *st = db_stmt(db, STMT_UPLOAD_DELETE);

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, id);
    if (db_step(st) < 0)
        return -1;
    return db_changes(db) > 0 ? 1 : 0;
}

/* Copies a nullable text column into out. */
static void col_copy(struct db_stmt *st, int i, char *out, size_t len)
{
    const char *s = db_col_text(st, i);

    snprintf(out, len, "%s", s != NULL ? s : "");
}

static int64_t col_time(struct db_stmt *st, int i)
{
    return db_col_is_null(st, i) ? 0 : db_col_int(st, i);
}

int message_by_receipt(struct db *db,
                       const unsigned char hash[MESSAGE_HASH_LEN],
                       struct message_receipt *out)
{
    struct db_stmt *st = db_stmt(db, STMT_RECEIPT_GET);
    int rc;

    if (st == NULL)
        return -1;
    db_bind_blob(st, 1, hash, MESSAGE_HASH_LEN);
    rc = db_step(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : -1;
    col_copy(st, 0, out->id, sizeof(out->id));
    col_copy(st, 1, out->status, sizeof(out->status));
    col_copy(st, 2, out->consent_scope, sizeof(out->consent_scope));
    out->created_at = col_time(st, 3);
    out->received_at = col_time(st, 4);
    out->decided_at = col_time(st, 5);
    out->withdrawn_at = col_time(st, 6);
    col_copy(st, 7, out->job_state, sizeof(out->job_state));
    db_reset(st);
    return 1;
}

int message_withdraw(struct db *db, const char *id, const char *actor)
{
    struct db_stmt *st;
    int64_t now = util_now();
    int result = -1;

    if (db_begin(db) < 0)
        return -1;
    if ((st = db_stmt(db, STMT_MESSAGE_WITHDRAW)) == NULL)
        goto out;
    db_bind_text(st, 1, id);
    db_bind_int(st, 2, now);
    if (db_step(st) < 0)
        goto out;
    if (db_changes(db) == 0) {
        result = 0;
        goto out;
    }
    if ((st = db_stmt(db, STMT_JOBS_CANCEL)) == NULL)
        goto out;
    db_bind_text(st, 1, id);
    db_bind_int(st, 2, now);
    db_bind_text(st, 3, "withdrawn by the contributor");
    if (db_step(st) < 0 ||
        audit_append(db, actor, "message.withdraw", id, NULL) < 0 ||
        db_commit(db) < 0)
        goto out;
    result = 1;
out:
    db_rollback(db);
    return result;
}

const char *message_public_status(const struct message_receipt *r)
{
    static const char *const map[][2] = {
        {"uploading", "uploading"}, {"pending", "in_review"},
        {"approved", "approved"},   {"rejected", "not_published"},
        {"failed", "failed"},       {"withdrawn", "withdrawn"},
    };

    if (strcmp(r->status, "processing") == 0)
        return strcmp(r->job_state, "running") == 0 ? "processing" : "received";
    for (size_t i = 0; i < ARRAY_LEN(map); i++)
        if (strcmp(r->status, map[i][0]) == 0)
            return map[i][1];
    return "received";
}
