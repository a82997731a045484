#include "chorus/claim.h"

#include <stdbool.h>
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

/* The longest page token ("tab") a claim keeps (the schema's CHECK). */
#define TAB_MAX 64

/* A page token is 1..TAB_MAX of [A-Za-z0-9_-]. */
static bool tab_ok(const char *tab)
{
    size_t n = 0;

    for (; tab[n] != '\0'; n++) {
        char c = tab[n];
        if (n >= TAB_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

/*
 * In one transaction: the message's state and campaign, the claim there
 * is, and ours taken or renewed unless another's is live. Returns 1
 * (ours, *out is it), 0 (theirs, *out), NOT_SEEN (unknown, or out of the
 * user's sight), NOT_PENDING (*state says what it is), or a DB_* code.
 */
static int take(struct db *db, const char *id, const char *tab,
                const struct session *s, struct claim *out,
                enum msg_state *state_out)
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
    if (tab != NULL)
        db_bind_text(st, 5, tab);
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
    char id[UTIL_ID_LEN + 1], until[21], tab[TAB_MAX + 1] = "";
    struct claim c = {0};
    enum msg_state state = MSG_GONE;
    json_t *body = NULL;
    const char *t;
    bool bad;
    struct db *db;
    int rc;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    /* The page's token, if it sends one: {"tab": "..."}. */
    if (req->body_len > 0) {
        if ((body = http_body_object(req)) == NULL)
            return req->status;
        t = json_string_value(json_object_get(body, "tab"));
        bad = t != NULL && !tab_ok(t);
        if (t != NULL && !bad)
            snprintf(tab, sizeof(tab), "%s", t);
        json_decref(body);
        if (bad)
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                              "tab is 1 to %d letters, digits, _ or -",
                              TAB_MAX);
    }
    /* Taking a claim writes it: a writer's turn. */
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = take(db, id, tab[0] != '\0' ? tab : NULL, &req->session, &c, &state);
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
    const char *tab = http_query(req, "tab");
    struct db_stmt *st;
    struct db *db;
    int rc = DB_ERROR;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if (tab != NULL && !tab_ok(tab))
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "tab is 1 to %d letters, digits, _ or -", TAB_MAX);
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    if ((st = db_stmt(db, STMT_CLAIM_RELEASE)) != NULL) {
        db_bind_text(st, 1, id);
        db_bind_int(st, 2, req->session.user_id);
        if (tab != NULL)
            db_bind_text(st, 3, tab);
        rc = db_step(st);
    }
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_db_error(req, rc);
    return http_empty(req, MHD_HTTP_NO_CONTENT);
}
