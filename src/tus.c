#include "chorus/tus.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chorus/app.h"
#include "chorus/campaign.h"
#include "chorus/campaign_api.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/storage.h"
#include "chorus/upload.h"
#include "chorus/util.h"

#define TUS_VERSION "1.0.0"
#define TUS_EXTENSIONS "creation,creation-with-upload,termination,expiration"
#define OFFSET_TYPE "application/offset+octet-stream"

/* A tus request's state, from its first call to its completion. */
struct tus_ctx {
    struct request *req;
    char id[UTIL_ID_LEN + 1];
    struct upload *up; /* when a body is being taken */
    bool complete;     /* the upload is whole */
    /* A creation: what its row will hold once the request is answered. */
    bool creating, created;
    char receipt[UTIL_TOKEN_LEN + 1];
    unsigned char hash[MESSAGE_HASH_LEN];
    struct message_meta meta;
    int64_t length;
};

/*
 * A creation's row exists only once its answer is ready (tus_create),
 * and the client learns of the upload only from that answer: if it did
 * not go out whole, nothing of the upload may stay (a contributor's
 * details nobody can withdraw). An unfinished upload is deleted; one
 * already whole is withdrawn (its files and personal data go, as if its
 * receipt had been used).
 */
static void drop_unanswered(struct tus_ctx *ctx)
{
    static const struct msg_actor contributor = {WHO_CONTRIBUTOR, "contributor",
                                                 0};
    struct app *app = ctx->req->app;
    struct db *db;

    if (!ctx->created) {
        storage_delete_all(app->cfg->data_dir, ctx->id);
        upload_forget(app, ctx->id);
        return;
    }
    if ((db = db_pool_get_writer(app->db)) == NULL) {
        log_warnx("upload %s: its creation was not answered, and it stays "
                  "until it expires",
                  ctx->id);
        return;
    }
    if (ctx->complete) {
        if (message_apply(db, ctx->id, EV_WITHDRAW, &contributor, NULL, NULL) ==
            MSG_OK) {
            storage_delete_all(app->cfg->data_dir, ctx->id);
            atomic_store(&app->checkpoint_due, 1);
        }
    } else {
        upload_delete_unfinished(app, db, ctx->id, EV_UPLOAD_TERMINATED);
    }
    db_pool_put(app->db, db);
    log_info("upload %s: its creation was not answered; dropped", ctx->id);
}

static void ctx_free(void *p)
{
    struct tus_ctx *ctx = p;

    upload_close(ctx->up);
    if (ctx->creating && ctx->id[0] != '\0' &&
        !(ctx->created && ctx->req->delivered))
        drop_unanswered(ctx);
    sodium_memzero(ctx->receipt, sizeof(ctx->receipt));
    sodium_memzero(&ctx->meta, sizeof(ctx->meta));
    free(ctx);
}

static struct tus_ctx *ctx_new(struct request *req)
{
    struct tus_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx != NULL) {
        ctx->req = req;
        req->ctx = ctx;
        req->ctx_free = ctx_free;
    }
    return ctx;
}

/* Adds the headers of every tus response but OPTIONS. */
static int tus_headers(struct request *req)
{
    http_header_add(req, "Tus-Resumable", TUS_VERSION);
    return req->status;
}

static int tus_error(struct request *req, int status, const char *code,
                     const char *msg)
{
    http_error(req, status, code, "%s", msg);
    if (status == MHD_HTTP_PRECONDITION_FAILED)
        http_header_add(req, "Tus-Version", TUS_VERSION);
    return tus_headers(req);
}

/* Writes t as an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT"). */
static void http_date(int64_t t, char out[32])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
}

static void add_offset(struct request *req, int64_t offset)
{
    char num[24];

    snprintf(num, sizeof(num), "%lld", (long long)offset);
    http_header_add(req, "Upload-Offset", num);
}

static void add_expires(struct request *req, int64_t t)
{
    char date[32];

    http_date(t, date);
    http_header_add(req, "Upload-Expires", date);
}

/* Parses a non-negative decimal header; 0, or -1 if absent or bad. */
static int header_int(const struct request *req, const char *name, int64_t *out)
{
    const char *s = http_header(req, name);
    char *end;
    long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* 412 unless the client speaks our tus version; 0 if it does. */
static int check_resumable(struct request *req)
{
    const char *v = http_header(req, "Tus-Resumable");

    if (v == NULL || strcmp(v, TUS_VERSION) != 0)
        return tus_error(req, MHD_HTTP_PRECONDITION_FAILED,
                         "unsupported_version",
                         "this server speaks tus " TUS_VERSION);
    return 0;
}

static int is_offset_type(const char *ct)
{
    return ct != NULL &&
           strncasecmp(ct, OFFSET_TYPE, strlen(OFFSET_TYPE)) == 0 &&
           (ct[strlen(OFFSET_TYPE)] == '\0' || ct[strlen(OFFSET_TYPE)] == ';');
}

/* Answers an upload.h status, with the tus headers. */
static int upload_failure(struct request *req, int status)
{
    upload_answer(req, status);
    return tus_headers(req);
}

int tus_options(struct request *req)
{
    char max[24];

    snprintf(max, sizeof(max), "%lld", (long long)req->app->max_upload_bytes);
    http_empty(req, MHD_HTTP_NO_CONTENT);
    http_header_add(req, "Tus-Resumable", TUS_VERSION);
    http_header_add(req, "Tus-Version", TUS_VERSION);
    http_header_add(req, "Tus-Extension", TUS_EXTENSIONS);
    http_header_add(req, "Tus-Max-Size", max);
    return MHD_HTTP_NO_CONTENT;
}

int tus_create_begin(struct request *req)
{
    const struct config *cfg = req->app->cfg;
    struct message_meta meta;
    struct meta_error merr = {NULL, ""};
    struct campaign campaign;
    struct db *db;
    char path[PATH_MAX];
    struct tus_ctx *ctx;
    int64_t length, body_len = -1;
    int fd, rc;
    bool with_body;

    if (check_resumable(req) != 0)
        return req->status;
    if (http_header(req, "Upload-Defer-Length") != NULL)
        return tus_error(req, MHD_HTTP_BAD_REQUEST, "bad_header",
                         "Upload-Defer-Length is not supported: send "
                         "Upload-Length");
    if (header_int(req, "Upload-Length", &length) != 0)
        return tus_error(req, MHD_HTTP_BAD_REQUEST, "bad_header",
                         "Upload-Length must be a whole number of bytes");
    if (length > req->app->max_upload_bytes)
        return tus_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                         "the video is larger than this server takes");
    if (meta_parse_tus(http_header(req, "Upload-Metadata"), &meta, &merr) !=
        0) {
        http_json(req, MHD_HTTP_BAD_REQUEST,
                  json_pack("{s:s, s:s, s:s}", "error", "invalid_metadata",
                            "field", merr.field, "message", merr.message));
        return tus_headers(req);
    }
    /* The campaign: there, open, and the consent its page showed. */
    if ((db = db_pool_get(req->app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        return tus_headers(req);
    }
    rc = campaign_admit(db, &meta, util_now(), &campaign);
    db_pool_put(req->app->db, db);
    if (rc != CAMPAIGN_ADMIT_OK) {
        campaign_api_refusal(req, rc, &campaign);
        return tus_headers(req);
    }
    if (header_int(req, "Content-Length", &body_len) == 0)
        with_body = body_len > 0;
    else
        with_body = http_header(req, "Transfer-Encoding") != NULL;
    if (with_body && !is_offset_type(http_header(req, "Content-Type")))
        return tus_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "unsupported_media",
                         "an upload's bytes are sent as " OFFSET_TYPE);
    if (body_len > length)
        return tus_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                         "more bytes than Upload-Length");
    if (!upload_room(req->app, length))
        return upload_failure(req, 507);
    if ((ctx = ctx_new(req)) == NULL)
        return tus_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "out of memory");
    ctx->creating = true;
    ctx->meta = meta;
    ctx->length = length;
    util_random_id(ctx->id);
    util_random_token(ctx->receipt);
    message_token_hash(ctx->receipt, ctx->hash);
    /* No row yet: it is made once the request is answered (tus_create),
     * and the part file goes with the request if it never is. */
    if (with_body) {
        rc = upload_open(req->app, http_client(req), ctx->id, 0, length,
                         body_len, false, &ctx->up);
        return rc != 0 ? upload_failure(req, rc) : 0;
    }
    if ((rc = upload_admit(req->app, http_client(req), ctx->id)) != 0)
        return upload_failure(req, rc);
    if (storage_path(cfg->data_dir, STORAGE_PART, ctx->id, path,
                     sizeof(path)) != 0)
        return tus_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "bad storage path");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_warn("upload %s: create", ctx->id);
        return upload_failure(req, errno == ENOSPC ? 507 : 500);
    }
    close(fd);
    return 0;
}

int tus_body(struct request *req, const char *data, size_t size)
{
    struct tus_ctx *ctx = req->ctx;
    int rc;

    if (ctx == NULL || ctx->up == NULL)
        return tus_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "unsupported_media",
                         "an upload's bytes are sent as " OFFSET_TYPE);
    rc = upload_write(ctx->up, data, size);
    return rc != 0 ? upload_failure(req, rc) : 0;
}

/* Ends the body of a PATCH: completes or checkpoints it. Returns 0, or
 * a failure already answered. */
static int finish_body(struct request *req, struct tus_ctx *ctx)
{
    int rc;

    if (ctx->up == NULL)
        return 0;
    if (ctx->up->offset == ctx->up->length)
        rc = upload_complete(ctx->up);
    else
        rc = upload_checkpoint(ctx->up);
    if (rc != 0)
        return upload_failure(req, rc);
    ctx->complete = ctx->up->offset == ctx->up->length;
    return 0;
}

/*
 * Makes a creation's row now that its bytes (if any) are in and durable:
 * born uploading at the offset they reached, or, whole, processing with
 * its job queued (the file moved to incoming/ first). Returns 0, or a
 * failure already answered (the part file goes with the request).
 */
static int create_row(struct request *req, struct tus_ctx *ctx)
{
    const struct config *cfg = req->app->cfg;
    struct upload *up = ctx->up;
    int64_t offset = up != NULL ? up->offset : 0;
    struct db *db;
    int rc;

    if (up != NULL && (rc = upload_checkpoint(up)) != 0)
        return upload_failure(req, rc);
    ctx->complete = offset == ctx->length;
    /* An empty upload is complete at once; the worker will refuse it. */
    if (ctx->complete && storage_commit_upload(cfg->data_dir, ctx->id) != 0)
        return upload_failure(req, 500);
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return upload_failure(req, 503);
    rc = message_create(db, ctx->id, &ctx->meta, ctx->hash, ctx->length, offset,
                        util_now() + cfg->upload_expiry, ctx->complete);
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return upload_failure(req, rc == DB_BUSY ? 503 : 500);
    ctx->created = true;
    if (up != NULL) {
        /* From now on the row is kept current, and counts as its
         * client's until it is whole. */
        up->tracked = true;
        up->finished = ctx->complete;
    } else if (ctx->complete) {
        upload_forget(req->app, ctx->id);
    }
    log_info("upload %s: created, %lld bytes announced, %lld received", ctx->id,
             (long long)ctx->length, (long long)offset);
    atomic_fetch_add(&req->app->uploads_started, 1);
    if (ctx->complete)
        atomic_fetch_add(&req->app->uploads_finished, 1);
    return 0;
}

int tus_create(struct request *req)
{
    const struct config *cfg = req->app->cfg;
    struct tus_ctx *ctx = req->ctx;
    char location[1024];
    size_t plen = strlen(cfg->public_url);

    if (create_row(req, ctx) != 0)
        return req->status;
    while (plen > 0 && cfg->public_url[plen - 1] == '/')
        plen--;
    snprintf(location, sizeof(location), "%.*s/api/v1/uploads/%s", (int)plen,
             cfg->public_url, ctx->id);
    http_json(req, MHD_HTTP_CREATED,
              json_pack("{s:s, s:s}", "id", ctx->id, "receipt", ctx->receipt));
    http_header_add(req, "Location", location);
    http_header_add(req, "Chorus-Receipt", ctx->receipt);
    if (ctx->up != NULL)
        add_offset(req, ctx->up->offset);
    if (!ctx->complete)
        add_expires(req, util_now() + cfg->upload_expiry);
    return tus_headers(req);
}

/* Reads {id} and its upload row. Returns 1 with *u filled, or 0 with
 * the 404 / 410 / 500 already answered. */
static int load_upload(struct request *req, char id[UTIL_ID_LEN + 1],
                       struct message_upload *u)
{
    struct db *db;
    int rc;

    if (router_param(&req->match, "id", id, UTIL_ID_LEN + 1) < 0 ||
        !util_is_id(id)) {
        tus_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such upload");
        return 0;
    }
    if ((db = db_pool_get(req->app->db)) == NULL) {
        upload_failure(req, 503);
        return 0;
    }
    rc = message_upload_get(db, id, u);
    db_pool_put(req->app->db, db);
    if (rc < 0) {
        tus_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                  "database error");
        return 0;
    }
    if (rc == 0) {
        tus_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such upload");
        return 0;
    }
    if (u->state == MSG_WITHDRAWN ||
        (u->state == MSG_UPLOADING && u->expires_at < util_now())) {
        tus_error(req, MHD_HTTP_GONE, "gone",
                  "this upload expired or was withdrawn");
        return 0;
    }
    return 1;
}

int tus_head(struct request *req)
{
    struct message_upload u;
    char id[UTIL_ID_LEN + 1], num[24];
    bool open;

    if (check_resumable(req) != 0 || !load_upload(req, id, &u))
        return req->status;
    open = u.state == MSG_UPLOADING;
    http_empty(req, MHD_HTTP_OK);
    add_offset(req, open ? u.offset : u.length);
    snprintf(num, sizeof(num), "%lld", (long long)u.length);
    http_header_add(req, "Upload-Length", num);
    if (open)
        add_expires(req, u.expires_at);
    return tus_headers(req);
}

int tus_patch_begin(struct request *req)
{
    struct message_upload u;
    struct tus_ctx *ctx;
    char id[UTIL_ID_LEN + 1];
    int64_t offset, body_len = -1, end;
    int rc;

    if (check_resumable(req) != 0)
        return req->status;
    if (!is_offset_type(http_header(req, "Content-Type")))
        return tus_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "unsupported_media",
                         "PATCH bodies are sent as " OFFSET_TYPE);
    if (header_int(req, "Upload-Offset", &offset) != 0)
        return tus_error(req, MHD_HTTP_BAD_REQUEST, "bad_header",
                         "Upload-Offset must be a whole number of bytes");
    if (!load_upload(req, id, &u))
        return req->status;
    if (u.state != MSG_UPLOADING)
        u.offset = u.length; /* finished: nothing more to take */
    if (offset != u.offset) {
        tus_error(req, MHD_HTTP_CONFLICT, "offset_mismatch",
                  "Upload-Offset is not where the upload stands: ask with "
                  "HEAD");
        add_offset(req, u.offset);
        return req->status;
    }
    /* Both are any non-negative int64_t a client chose: their sum may
     * not fit. */
    if (header_int(req, "Content-Length", &body_len) == 0 &&
        (__builtin_add_overflow(offset, body_len, &end) || end > u.length))
        return tus_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                         "more bytes than Upload-Length");
    if ((ctx = ctx_new(req)) == NULL)
        return tus_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "out of memory");
    memcpy(ctx->id, id, sizeof(ctx->id));
    if (u.state != MSG_UPLOADING) {
        ctx->complete = true;
        return 0;
    }
    rc = upload_open(req->app, http_client(req), id, offset, u.length, body_len,
                     true, &ctx->up);
    return rc != 0 ? upload_failure(req, rc) : 0;
}

int tus_patch(struct request *req)
{
    struct tus_ctx *ctx = req->ctx;
    int64_t offset;

    if (finish_body(req, ctx) != 0)
        return req->status;
    offset = ctx->up != NULL ? ctx->up->offset : 0;
    http_empty(req, MHD_HTTP_NO_CONTENT);
    if (ctx->up == NULL) {
        /* A PATCH to a finished upload: it stands at its end. */
        struct message_upload u;
        struct db *db = db_pool_get(req->app->db);

        if (db == NULL)
            return upload_failure(req, 503);
        if (message_upload_get(db, ctx->id, &u) == 1)
            offset = u.length;
        db_pool_put(req->app->db, db);
    }
    add_offset(req, offset);
    if (!ctx->complete)
        add_expires(req, util_now() + req->app->cfg->upload_expiry);
    return tus_headers(req);
}

int tus_delete(struct request *req)
{
    struct message_upload u;
    char id[UTIL_ID_LEN + 1];
    struct db *db;
    int rc;

    if (check_resumable(req) != 0 || !load_upload(req, id, &u))
        return req->status;
    if (u.state != MSG_UPLOADING)
        return tus_error(req, MHD_HTTP_CONFLICT, "finished",
                         "this upload is complete; withdraw the message "
                         "with its receipt instead");
    /* Waited for before the writer is ours: a PATCH letting go of the
     * upload needs it for its last checkpoint. */
    if (upload_busy(req->app, id, true))
        return tus_error(req, MHD_HTTP_LOCKED, "busy",
                         "another request is writing this upload");
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return upload_failure(req, 503);
    rc = upload_delete_unfinished(req->app, db, id, EV_UPLOAD_TERMINATED);
    db_pool_put(req->app->db, db);
    if (rc == -2)
        return tus_error(req, MHD_HTTP_LOCKED, "busy",
                         "another request is writing this upload");
    if (rc < 0)
        return tus_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "database error");
    if (rc == 0)
        return tus_error(req, MHD_HTTP_CONFLICT, "finished",
                         "this upload is complete; withdraw the message "
                         "with its receipt instead");
    log_info("upload %s: terminated by the client", id);
    http_empty(req, MHD_HTTP_NO_CONTENT);
    return tus_headers(req);
}
