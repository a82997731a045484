#include "chorus/retention.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chorus/app.h"
#include "chorus/audit.h"
#include "chorus/campaign.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/panel.h"
#include "chorus/storage.h"
#include "chorus/util.h"

#define BATCH 100
#define PURGE_BATCH 50
/* How long chorus purge keeps trying to truncate the WAL. */
#define PURGE_CHECKPOINT_MS 30000

static const struct msg_actor sweep_actor = {WHO_SWEEP, "system", 0};
static const struct msg_actor operator_actor = {WHO_OPERATOR, "operator", 0};

/* What the files-deleted hook needs. */
struct doomed {
    const char *data_dir;
    const char *id;
};

/* Inside the event's transaction: every file of the message goes. */
static int delete_files(void *opaque)
{
    const struct doomed *d = opaque;

    return storage_delete_all(d->data_dir, d->id);
}

int retention_checkpoint(struct db *db, int wait_ms)
{
    int rc = db_checkpoint(db, wait_ms);

    return rc == 0 ? 0 : rc == DB_BUSY ? 1 : -1;
}

/* The marker another process leaves when it could not truncate the WAL
 * (chorus purge beside a busy server): the server's sweep does it. */
static int marker_path(const char *data_dir, char *out, size_t len)
{
    return util_fmt(out, len, "%s/checkpoint-wanted", data_dir);
}

void retention_checkpoint_later(const char *data_dir, bool wanted)
{
    char path[PATH_MAX];
    int fd;

    if (marker_path(data_dir, path, sizeof(path)) != 0)
        return;
    if (!wanted) {
        unlink(path);
        return;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
}

bool retention_checkpoint_wanted(const char *data_dir)
{
    char path[PATH_MAX];

    return marker_path(data_dir, path, sizeof(path)) == 0 &&
           access(path, F_OK) == 0;
}

int retention_sweep(const struct config *cfg, struct db *db)
{
    int64_t now = util_now(), done = 0;
    char ids[BATCH][UTIL_ID_LEN + 1];
    bool failed[BATCH];
    int n;

    do {
        struct db_stmt *st = db_stmt(db, STMT_RETENTION_DUE);
        int rc = DB_DONE;

        if (st == NULL)
            return -1;
        db_bind_int(st, 1, now - (int64_t)cfg->failed_retention_days * 86400);
        db_bind_int(st, 2, now - (int64_t)cfg->rejected_retention_days * 86400);
        n = 0;
        while (n < BATCH && (rc = db_step(st)) == DB_ROW) {
            snprintf(ids[n], sizeof(ids[0]), "%s", db_col_text(st, 0));
            failed[n++] = message_state_parse(db_col_text(st, 1)) == MSG_FAILED;
        }
        db_reset(st);
        if (rc < 0)
            return -1;
        for (int i = 0; i < n; i++) {
            struct doomed d = {cfg->data_dir, ids[i]};
            char why[64];
            struct msg_args a = {
                .reason = why, .on_owned = delete_files, .opaque = &d};

            snprintf(why, sizeof(why), "retention: %s %d days",
                     failed[i] ? "failed" : "rejected",
                     failed[i] ? cfg->failed_retention_days
                               : cfg->rejected_retention_days);
            /* The state is read again inside the event. */
            rc = message_apply(db, ids[i], EV_DELETE_FILES, &sweep_actor, &a,
                               NULL);
            if (rc == MSG_OK) {
                log_info("message %s: its files were deleted (%s)", ids[i],
                         why);
                done++;
            } else if (rc == MSG_ERROR || rc == MSG_BUSY) {
                log_warnx("message %s: its files could not be deleted yet",
                          ids[i]);
                return done > 0 ? (int)done : -1;
            }
        }
    } while (n == BATCH);
    return (int)done;
}

int retention_delete_files(struct request *req)
{
    char id[UTIL_ID_LEN + 1];
    struct msg_actor who = {message_who_of_role(req->session.role),
                            req->session.username, req->session.user_id};
    struct doomed d = {req->app->cfg->data_dir, id};
    struct msg_args a = {
        .reason = "now, by an admin", .on_owned = delete_files, .opaque = &d};
    enum msg_state from = MSG_GONE;
    struct db *db;
    int rc;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = message_apply(db, id, EV_DELETE_FILES, &who, &a, &from);
    db_pool_put(req->app->db, db);
    if (rc != MSG_OK)
        return panel_refusal(req, rc, from, EV_DELETE_FILES);
    log_info("message %s: its files were deleted by %s", id,
             req->session.username);
    {
        char when[21];
        util_iso8601(util_now(), when);
        return http_json(req, MHD_HTTP_OK,
                         json_pack("{s:s, s:s, s:s, s:s}", "id", id, "status",
                                   message_state_name(from), "media_deleted_at",
                                   when, "media_deleted_why", "admin"));
    }
}

/* Deletes what is in data_dir/sub/ and belongs to no message that is
 * kept (a purged one, or none at all: a crash's leftovers). Returns how
 * many could not be deleted. */
static int64_t sweep_dir(const char *data_dir, const char *sub, struct db *db)
{
    char dir[PATH_MAX];
    struct dirent *e;
    int64_t stuck = 0;
    DIR *d;

    if (util_fmt(dir, sizeof(dir), "%s/%s", data_dir, sub) != 0 ||
        (d = opendir(dir)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char id[UTIL_ID_LEN + 1];
        struct db_stmt *st;
        bool keep = false;

        if (e->d_name[0] == '.')
            continue;
        snprintf(id, sizeof(id), "%.*s", UTIL_ID_LEN, e->d_name);
        if (util_is_id(id) && (st = db_stmt(db, STMT_PURGE_KEEP)) != NULL) {
            db_bind_text(st, 1, id);
            keep = db_step(st) == DB_ROW;
            db_reset(st);
        }
        if (keep)
            continue;
        if (util_is_id(id)) {
            if (storage_delete_all(data_dir, id) != 0)
                stuck++;
        } else if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT) {
            log_warn("purge: cannot delete %s/%s", dir, e->d_name);
            stuck++;
        }
    }
    closedir(d);
    return stuck;
}

/* One batch: up to PURGE_BATCH messages purged in one transaction, their
 * ids in ids. Returns how many, or -1. */
static int purge_batch(struct db *db, const char *campaign,
                       char ids[][UTIL_ID_LEN + 1])
{
    struct db_stmt *st;
    int states[PURGE_BATCH];
    int n = 0, rc = -1, step;

    if (db_begin(db) < 0)
        return -1;
    if ((st = db_stmt(db, STMT_PURGE_NEXT)) == NULL)
        goto out;
    db_bind_text(st, 1, campaign);
    while (n < PURGE_BATCH && (step = db_step(st)) == DB_ROW) {
        snprintf(ids[n], UTIL_ID_LEN + 1, "%s", db_col_text(st, 0));
        states[n++] = message_state_parse(db_col_text(st, 1));
    }
    db_reset(st);
    for (int i = 0; i < n; i++) {
        /* Not decided yet: withdrawn (its job cancelled), then purged. */
        if ((states[i] == MSG_UPLOADING || states[i] == MSG_PROCESSING ||
             states[i] == MSG_PENDING) &&
            message_apply_tx(db, ids[i], EV_WITHDRAW, &operator_actor, NULL,
                             NULL) != MSG_OK)
            goto out;
        if (message_apply_tx(db, ids[i], EV_PURGE, &operator_actor, NULL,
                             NULL) != MSG_OK)
            goto out;
    }
    if (n > 0 && db_commit(db) < 0)
        goto out;
    rc = n;
out:
    db_rollback(db);
    return rc;
}

int retention_purge(const struct config *cfg, struct db *db,
                    const char *campaign, struct purge_report *out)
{
    static const char *const subdirs[] = {"uploads", "incoming", "originals",
                                          "media"};
    char ids[PURGE_BATCH][UTIL_ID_LEN + 1], why[128];
    int64_t end;
    int n;

    memset(out, 0, sizeof(*out));
    while ((n = purge_batch(db, campaign, ids)) > 0) {
        for (int i = 0; i < n; i++)
            if (storage_delete_all(cfg->data_dir, ids[i]) != 0)
                out->files++;
        out->messages += n;
    }
    if (n < 0) {
        log_error("purge: a database error stopped it after %lld messages; "
                  "run it again",
                  (long long)out->messages);
        return -1;
    }
    /* Files no unpurged message owns (a crash's leftovers) go too; other
     * campaigns' messages keep theirs. */
    for (size_t i = 0; i < ARRAY_LEN(subdirs); i++)
        out->files += sweep_dir(cfg->data_dir, subdirs[i], db);
    snprintf(why, sizeof(why), "%s: %lld messages",
             campaign != NULL ? "campaign" : "every campaign",
             (long long)out->messages);
    if (db_begin(db) < 0 ||
        audit_append(db, "operator", "purge", campaign, why) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        log_error("purge: cannot record it in the audit log");
        return -1;
    }
    for (end = util_mono_ms() + PURGE_CHECKPOINT_MS;;) {
        int rc = retention_checkpoint(db, 500);
        if (rc <= 0) {
            out->wal_clear = rc == 0;
            break;
        }
        if (util_mono_ms() >= end)
            break;
        usleep(100 * 1000);
    }
    /* A running server's sweep takes it over. */
    retention_checkpoint_later(cfg->data_dir, !out->wal_clear);
    log_info("purge: %s: %lld messages purged%s", campaign ? campaign : "all",
             (long long)out->messages, out->wal_clear ? "; WAL truncated" : "");
    return 0;
}
