#include "chorus/claim.h"

#include <stdio.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/message.h"
#include "chorus/util.h"

int claim_holder(struct db *db, const char *id, int64_t now, struct claim *out)
{
    struct db_stmt *st = db_stmt(db, STMT_CLAIM_GET);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, id);
    db_bind_int(st, 2, now);
    if ((rc = db_step(st)) != DB_ROW)
        return rc == DB_DONE ? 0 : rc;
    out->user_id = db_col_int(st, 0);
    snprintf(out->username, sizeof(out->username), "%s",
             db_col_text(st, 1) != NULL ? db_col_text(st, 1) : "");
    out->until = db_col_int(st, 2);
    db_reset(st);
    return 1;
}

int claim_drop(struct db *db, const char *id)
{
    struct db_stmt *st = db_stmt(db, STMT_CLAIM_DROP);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, id);
    rc = db_step(st);
    return rc < 0 ? rc : 0;
}

/* take()'s outcomes beside 1, 0 and the DB_* codes. */
enum { NOT_SEEN = -100, NOT_PENDING = -101 };

/*
 * In one transaction: the message's state and campaign, the claim there
 * is, and ours taken or renewed unless another's is live. Returns 1
 * (ours, *out is it), 0 (theirs, *out), NOT_SEEN (unknown, or out of the
 * user's sight), NOT_PENDING (*state says what it is), or a DB_* code.
 */
static int take(struct db *db, const char *id, const struct session *s,
                struct claim *out, enum msg_state *state_out)
{
    struct db_stmt *st;
    int64_t now = util_now(), campaign;
    int rc, state;

    if ((rc = db_begin(db)) < 0)
        return rc;
    if ((st = db_stmt(db, STMT_MSG_STATE)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    db_bind_text(st, 1, id);
    if ((rc = db_step(st)) != DB_ROW) {
        rc = rc == DB_DONE ? NOT_SEEN : rc;
        goto out;
    }
    state = message_state_parse(db_col_text(st, 0));
    campaign = db_col_int(st, 2);
    db_reset(st);
    if (state < 0 ||
        message_sight_in(s->role, s->campaigns, (enum msg_state)state,
                         campaign) == SIGHT_NONE) {
        rc = NOT_SEEN;
        goto out;
    }
    *state_out = (enum msg_state)state;
    if (state != MSG_PENDING) {
        rc = NOT_PENDING;
        goto out;
    }
    if ((rc = claim_holder(db, id, now, out)) < 0)
        goto out;
    if (rc == 1 && out->user_id != s->user_id) {
        rc = 0;
        goto out;
    }
    if ((st = db_stmt(db, STMT_CLAIM_PUT)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    db_bind_text(st, 1, id);
    db_bind_int(st, 2, s->user_id);
    db_bind_int(st, 3, now);
    db_bind_int(st, 4, now + CLAIM_SECONDS);
    if ((rc = db_step(st)) < 0 || (rc = db_commit(db)) < 0)
        goto out;
    out->user_id = s->user_id;
    snprintf(out->username, sizeof(out->username), "%s", s->username);
    out->until = now + CLAIM_SECONDS;
    rc = 1;
out:
    db_rollback(db);
    return rc;
}

int claim_post(struct request *req)
{
    char id[UTIL_ID_LEN + 1], until[21];
    struct claim c = {0};
    enum msg_state state = MSG_GONE;
    struct db *db;
    int rc;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    /* Taking a claim writes it: a writer's turn. */
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = take(db, id, &req->session, &c, &state);
    db_pool_put(req->app->db, db);
    if (rc == NOT_SEEN)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if (rc == NOT_PENDING)
        return http_error(req, MHD_HTTP_CONFLICT, "conflict",
                          "the message is %s: only pending messages are "
                          "claimed",
                          message_state_name(state));
    if (rc < 0)
        return http_db_error(req, rc);
    util_iso8601(c.until, until);
    return http_json(req, MHD_HTTP_OK,
                     json_pack("{s:s, s:b, s:s, s:s}", "id", id, "mine",
                               rc == 1, "claimed_by", c.username, "until",
                               until));
}

int claim_delete(struct request *req)
{
    char id[UTIL_ID_LEN + 1];
    struct db_stmt *st;
    struct db *db;
    int rc = DB_ERROR;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    if ((st = db_stmt(db, STMT_CLAIM_RELEASE)) != NULL) {
        db_bind_text(st, 1, id);
        db_bind_int(st, 2, req->session.user_id);
        rc = db_step(st);
    }
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_db_error(req, rc);
    return http_empty(req, MHD_HTTP_NO_CONTENT);
}
