#include "chorus/receipt.h"

#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/retention.h"
#include "chorus/storage.h"
#include "chorus/upload.h"

int receipt_lookup(struct app *app, const char *token,
                   struct message_receipt *r)
{
    unsigned char hash[MESSAGE_HASH_LEN];
    struct db *db;
    int rc;

    if (token == NULL || strlen(token) != UTIL_TOKEN_LEN)
        return 0;
    message_token_hash(token, hash);
    if ((db = db_pool_get(app->db)) == NULL)
        return DB_BUSY;
    rc = message_by_receipt(db, hash, r);
    db_pool_put(app->db, db);
    return rc;
}

int receipt_withdraw(struct app *app, struct message_receipt *r)
{
    static const struct msg_actor contributor = {WHO_CONTRIBUTOR, "contributor",
                                                 0};
    struct db *db = db_pool_get_writer(app->db);
    enum msg_state from = MSG_GONE;
    int rc;

    if (db == NULL)
        return MSG_BUSY;
    rc = message_apply(db, r->id, EV_WITHDRAW, &contributor, NULL, &from);
    /* An unfinished upload is no longer its client's to count. */
    upload_forget(app, r->id);

    /* Two withdrawals at once: the second finds it done. */
    if (rc == MSG_REFUSED && from == MSG_WITHDRAWN)
        rc = MSG_OK;
    if (rc == MSG_OK) {
        /* The files, then every WAL frame that still held the text. */
        if (storage_delete_all(app->cfg->data_dir, r->id) != 0)
            log_warnx("message %s: some files could not be deleted", r->id);
        if (retention_checkpoint(db, 200) != 0)
            atomic_store(&app->checkpoint_due, 1);
        log_info("message %s: withdrawn by the contributor", r->id);
        memset(r->consent_scope, 0, sizeof(r->consent_scope));
        memset(r->job_state, 0, sizeof(r->job_state));
        memset(r->failure, 0, sizeof(r->failure));
        memset(r->protect, 0, sizeof(r->protect));
        memset(r->decision_code, 0, sizeof(r->decision_code));
        r->state = MSG_WITHDRAWN;
        r->created_at = r->received_at = r->decided_at = 0;
        r->withdrawn_at = message_day(util_now());
    }
    db_pool_put(app->db, db);
    return rc;
}

/*
 * Looks up the receipt in the Authorization header. Returns 1 with *r
 * filled, or 0 with 401 / 404 / 500 answered.
 */
static int load(struct request *req, struct message_receipt *r)
{
    const char *auth = http_header(req, "Authorization");
    int rc;

    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 ||
        strlen(auth + 7) != UTIL_TOKEN_LEN) {
        http_error(req, MHD_HTTP_UNAUTHORIZED, "no_receipt",
                   "send the receipt as Authorization: Bearer <receipt>");
        http_header_add(req, "WWW-Authenticate", "Bearer");
        return 0;
    }
    rc = receipt_lookup(req->app, auth + 7, r);
    if (rc < 0) {
        http_db_error(req, rc);
        return 0;
    }
    if (rc == 0) {
        /* A withdrawal forgets the receipt with everything else. */
        http_error(req, MHD_HTTP_NOT_FOUND, "unknown_receipt",
                   "no message has this receipt (a withdrawn message "
                   "forgets it)");
        return 0;
    }
    return 1;
}

/* Adds "name": ISO time to obj when t is set. */
static void set_time(json_t *obj, const char *name, int64_t t)
{
    char when[21];

    if (t <= 0)
        return;
    util_iso8601(t, when);
    json_object_set_new(obj, name, json_string(when));
}

/* The stored comma list as a JSON array of names. */
static json_t *protect_list(const char *stored)
{
    json_t *a = json_array();

    for (const char *p = stored; a != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        json_array_append_new(a, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return a;
}

/*
 * The receipt's answer: {"id", "status", "consent_scope", "protect": [...],
 * "resend": bool, and the times}. "resend" is true when the message was
 * rejected because the protection asked for did not work: the page then
 * invites the contributor to send it again.
 */
static int answer(struct request *req, const struct message_receipt *r)
{
    json_t *obj = json_pack(
        "{s:s, s:s, s:o, s:b}", "id", r->id, "status", message_public_status(r),
        "protect", protect_list(r->protect), "resend",
        r->state == MSG_REJECTED &&
            strcmp(r->decision_code, MESSAGE_CODE_PROTECTION_FAILED) == 0);

    if (obj == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    if (r->consent_scope[0] != '\0')
        json_object_set_new(obj, "consent_scope",
                            json_string(r->consent_scope));
    if (r->failure[0] != '\0')
        json_object_set_new(obj, "reason", json_string(r->failure));
    set_time(obj, "submitted_at", r->created_at);
    set_time(obj, "received_at", r->received_at);
    set_time(obj, "decided_at", r->decided_at);
    set_time(obj, "withdrawn_at", r->withdrawn_at);
    return http_json(req, MHD_HTTP_OK, obj);
}

int receipt_get(struct request *req)
{
    struct message_receipt r;

    if (!load(req, &r))
        return req->status;
    return answer(req, &r);
}

int receipt_delete(struct request *req)
{
    struct message_receipt r;
    int rc;

    if (!load(req, &r))
        return req->status;
    rc = receipt_withdraw(req->app, &r);
    if (rc != MSG_OK)
        return http_error(req,
                          rc == MSG_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE
                                         : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "internal", "the message could not be withdrawn");
    return answer(req, &r);
}
