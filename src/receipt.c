#include "chorus/receipt.h"

#include <string.h>
#include <strings.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/storage.h"
#include "chorus/upload.h"

/*
 * Looks up the receipt in the Authorization header. Returns 1 with *r
 * filled, or 0 with 401 / 404 / 500 answered.
 */
static int load(struct request *req, struct message_receipt *r)
{
    const char *auth = http_header(req, "Authorization");
    unsigned char hash[MESSAGE_HASH_LEN];
    struct db *db;
    int rc;

    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 ||
        strlen(auth + 7) != UTIL_TOKEN_LEN) {
        http_error(req, MHD_HTTP_UNAUTHORIZED, "no_receipt",
                   "send the receipt as Authorization: Bearer <receipt>");
        http_header_add(req, "WWW-Authenticate", "Bearer");
        return 0;
    }
    message_token_hash(auth + 7, hash);
    if ((db = db_pool_get(req->app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        return 0;
    }
    rc = message_by_receipt(db, hash, r);
    db_pool_put(req->app->db, db);
    if (rc < 0) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "database error");
        return 0;
    }
    if (rc == 0) {
        http_error(req, MHD_HTTP_NOT_FOUND, "unknown_receipt",
                   "no message has this receipt");
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

static int answer(struct request *req, const struct message_receipt *r)
{
    json_t *obj =
        json_pack("{s:s, s:s, s:s}", "id", r->id, "status",
                  message_public_status(r), "consent_scope", r->consent_scope);

    if (obj == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
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
    static const struct msg_actor contributor = {WHO_CONTRIBUTOR, "contributor",
                                                 0};
    struct message_receipt r;
    struct db *db;
    int rc;

    if (!load(req, &r))
        return req->status;
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = message_apply(db, r.id, EV_WITHDRAW, &contributor, NULL, NULL);
    db_pool_put(req->app->db, db);
    /* An unfinished upload is no longer its client's to count. */
    upload_forget(req->app, r.id);
    /* Withdrawn already: a repeat is answered the same. */
    if (rc != MSG_OK && rc != MSG_REFUSED)
        return http_error(req,
                          rc == MSG_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE
                                         : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "internal", "the message could not be withdrawn");
    /* Also after a repeat: files a crash left behind go now. */
    if (storage_delete_all(req->app->cfg->data_dir, r.id) != 0)
        log_warnx("message %s: some files could not be deleted", r.id);
    if (rc == MSG_OK)
        log_info("message %s: withdrawn by the contributor", r.id);
    r.state = MSG_WITHDRAWN;
    r.withdrawn_at = r.withdrawn_at > 0 ? r.withdrawn_at : util_now();
    return answer(req, &r);
}
