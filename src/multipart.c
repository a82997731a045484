#include "chorus/multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chorus/app.h"
#include "chorus/campaign.h"
#include "chorus/campaign_api.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/result.h"
#include "chorus/storage.h"
#include "chorus/upload.h"

#define FIELD_MAX 4096 /* bytes of one metadata field */

struct multipart_ctx {
    struct request *req;
    struct MHD_PostProcessor *pp;
    struct message_meta meta;
    struct meta_error merr;
    struct campaign campaign; /* the one it goes to, once checked */
    int admit;                /* a campaign_admit() refusal, or 0 */
    char id[UTIL_ID_LEN + 1];
    struct upload *up;
    int64_t limit;   /* bytes the video may have */
    int64_t drained; /* bytes dropped after a bad field */
    bool done;       /* the message exists: keep its file */
    int status;      /* a failure found while parsing */
    char key[40];    /* the field being collected */
    char value[FIELD_MAX];
    size_t vlen;
    bool in_field;
    char ui_lang[8]; /* the page's language, for the answer page */
};

/* The message was made but its answer (with the receipt) never went
 * out whole: nobody could withdraw it, so it is withdrawn now. */
static void withdraw_unanswered(struct app *app, const char *id)
{
    static const struct msg_actor contributor = {WHO_CONTRIBUTOR, "contributor",
                                                 0};
    struct db *db = db_pool_get_writer(app->db);

    if (db != NULL && message_apply(db, id, EV_WITHDRAW, &contributor, NULL,
                                    NULL) == MSG_OK) {
        /* As a receipt's withdrawal: no WAL frame keeps what it cleared. */
        atomic_store(&app->checkpoint_due, 1);
        log_info("upload %s: its answer did not go out; withdrawn", id);
    }
    db_pool_put(app->db, db);
}

static void ctx_free(void *p)
{
    struct multipart_ctx *ctx = p;
    struct app *app = ctx->req->app;

    if (ctx->pp != NULL)
        MHD_destroy_post_processor(ctx->pp);
    upload_close(ctx->up);
    if (ctx->done && !ctx->req->delivered)
        withdraw_unanswered(app, ctx->id);
    if ((!ctx->done || !ctx->req->delivered) && ctx->id[0] != '\0')
        storage_delete_all(app->cfg->data_dir, ctx->id);
    free(ctx);
}

/* True for a refusal answered once the body is drained: a browser
 * shows the answer, not a broken connection. */
static bool answer_after_body(int status)
{
    return status == 400 || status == 403;
}

/*
 * Before a byte of video is kept: the campaign named so far (the
 * default, if none yet: the page's form names it before the file) must
 * exist and be open. 0, or -1 with ctx->status 400 or 403.
 */
static int check_campaign(struct multipart_ctx *ctx)
{
    struct message_meta probe = ctx->meta;
    struct db *db = db_pool_get(ctx->req->app->db);
    int rc = DB_BUSY;

    /* The consent is weighed at the end, once every field is in. */
    probe.consent_version[0] = '\0';
    probe.consent_language[0] = '\0';
    if (db != NULL)
        rc = campaign_admit(db, &probe, util_now(), &ctx->campaign);
    db_pool_put(ctx->req->app->db, db);
    if (rc == CAMPAIGN_ADMIT_OK)
        return 0;
    ctx->admit = rc;
    ctx->status = rc == CAMPAIGN_ADMIT_CLOSED ? 403
                  : rc > 0                    ? 400
                  : rc == DB_BUSY             ? 503
                                              : 500;
    return -1;
}

/* Hands the collected field to meta_set(); 0, or -1 (ctx->status 400). */
static int flush_field(struct multipart_ctx *ctx)
{
    if (!ctx->in_field)
        return 0;
    ctx->in_field = false;
    /* Not the contributor's metadata: the language the form was in. */
    if (strcmp(ctx->key, "ui_lang") == 0) {
        snprintf(ctx->ui_lang, sizeof(ctx->ui_lang), "%.*s",
                 (int)(ctx->vlen < 7 ? ctx->vlen : 7), ctx->value);
        return 0;
    }
    if (meta_set(&ctx->meta, ctx->key, ctx->value, ctx->vlen, &ctx->merr) !=
        0) {
        /* An unknown field is named as the form calls it. */
        if (strcmp(ctx->merr.field, "Upload-Metadata") == 0)
            ctx->merr.field = ctx->key;
        ctx->status = 400;
        return -1;
    }
    return 0;
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind,
                                const char *key, const char *filename,
                                const char *content_type,
                                const char *transfer_encoding, const char *data,
                                uint64_t off, size_t size)
{
    struct multipart_ctx *ctx = cls;
    struct app *app = ctx->req->app;
    size_t vend;
    int rc;

    (void)kind;
    (void)filename;
    (void)content_type;
    (void)transfer_encoding;
    /* libmicrohttpd hands on a part without a name as a NULL key. */
    if (key == NULL) {
        ctx->merr.field = "form";
        snprintf(ctx->merr.message, sizeof(ctx->merr.message),
                 "a part of the form has no name");
        ctx->status = 400;
        return MHD_NO;
    }
    if (strcmp(key, "video") == 0) {
        if (flush_field(ctx) != 0)
            return MHD_NO;
        /* Each part starts again at offset 0: a second file. */
        if ((ctx->up == NULL && ctx->id[0] != '\0') ||
            (off == 0 && ctx->up != NULL && ctx->up->offset > 0)) {
            ctx->merr.field = "video";
            snprintf(ctx->merr.message, sizeof(ctx->merr.message),
                     "video: send one file only");
            ctx->status = 400;
            return MHD_NO;
        }
        if (ctx->up == NULL) {
            if (check_campaign(ctx) != 0)
                return MHD_NO;
            util_random_id(ctx->id);
            rc = upload_open(app, http_client(ctx->req), ctx->id, 0, ctx->limit,
                             ctx->limit, false, &ctx->up);
            if (rc != 0) {
                ctx->status = rc;
                return MHD_NO;
            }
        }
        if (size > 0 && (rc = upload_write(ctx->up, data, size)) != 0) {
            ctx->status = rc;
            return MHD_NO;
        }
        return MHD_YES;
    }
    /* A text field, possibly in several pieces; the post processor may
     * also announce one with an empty piece first. */
    if (size == 0)
        return MHD_YES;
    if (!ctx->in_field || off == 0 || strcmp(ctx->key, key) != 0) {
        if (flush_field(ctx) != 0)
            return MHD_NO;
        if (strlen(key) >= sizeof(ctx->key)) {
            ctx->merr.field = "form";
            snprintf(ctx->merr.message, sizeof(ctx->merr.message),
                     "unknown field");
            ctx->status = 400;
            return MHD_NO;
        }
        strcpy(ctx->key, key);
        ctx->vlen = 0;
        ctx->in_field = true;
    }
    if (__builtin_add_overflow(ctx->vlen, size, &vend) ||
        vend > sizeof(ctx->value)) {
        ctx->merr.field = ctx->key;
        snprintf(ctx->merr.message, sizeof(ctx->merr.message),
                 "a form field is too long");
        ctx->status = 400;
        return MHD_NO;
    }
    memcpy(ctx->value + ctx->vlen, data, size);
    ctx->vlen += size;
    return MHD_YES;
}

/* Answers ctx->status (with the metadata error for a 400). */
static int fail(struct request *req, struct multipart_ctx *ctx)
{
    if (ctx->admit != 0)
        return campaign_api_refusal(req, ctx->admit, &ctx->campaign);
    switch (ctx->status) {
    case 400:
        return http_json(
            req, MHD_HTTP_BAD_REQUEST,
            json_pack("{s:s, s:s, s:s}", "error", "invalid_metadata", "field",
                      ctx->merr.field != NULL ? ctx->merr.field : "form",
                      "message", ctx->merr.message));
    default:
        return upload_answer(req, ctx->status);
    }
}

int multipart_begin(struct request *req)
{
    const char *ct = http_header(req, "Content-Type");
    const char *cl = http_header(req, "Content-Length");
    struct multipart_ctx *ctx;

    if (ct == NULL || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return http_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                          "unsupported_media",
                          "send the video as multipart/form-data");
    /* The form's fields are small; the video is the bulk. */
    if (cl != NULL &&
        strtoull(cl, NULL, 10) >
            (unsigned long long)req->app->max_upload_bytes + 64 * 1024)
        return http_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                          "the video is larger than this server takes");
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    ctx->req = req;
    ctx->limit = req->app->max_upload_bytes;
    if (cl != NULL && strtoll(cl, NULL, 10) > 0 &&
        strtoll(cl, NULL, 10) < ctx->limit)
        ctx->limit = strtoll(cl, NULL, 10);
    meta_init(&ctx->meta);
    req->ctx = ctx;
    req->ctx_free = ctx_free;
    ctx->pp = MHD_create_post_processor(req->conn, 64 * 1024, on_field, ctx);
    if (ctx->pp == NULL)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_form",
                          "the multipart body cannot be parsed (boundary?)");
    return 0;
}

int multipart_body(struct request *req, const char *data, size_t size)
{
    struct multipart_ctx *ctx = req->ctx;

    /*
     * A bad field is answered (naming it) by multipart_finish once the
     * rest of the body, up to the size allowed, has been read and
     * dropped: libmicrohttpd can only cut a connection in the middle of
     * a body, and a browser would show a network error instead.
     */
    if (answer_after_body(ctx->status)) {
        int64_t cap = ctx->limit + 64 * 1024; /* limit <= 1 TiB */

        if (size > (size_t)INT64_MAX ||
            __builtin_add_overflow(ctx->drained, (int64_t)size,
                                   &ctx->drained) ||
            ctx->drained > cap)
            return fail(req, ctx);
        return 0;
    }
    if (MHD_post_process(ctx->pp, data, size) != MHD_YES) {
        if (ctx->status == 0) {
            ctx->status = 400;
            ctx->merr.field = "form";
            snprintf(ctx->merr.message, sizeof(ctx->merr.message),
                     "the multipart body is malformed");
        }
        return answer_after_body(ctx->status) ? 0 : fail(req, ctx);
    }
    return 0;
}

/* True if the client is a browser form that wants a page, not JSON. */
static bool wants_html(const struct request *req)
{
    const char *accept = http_header(req, "Accept");

    return accept != NULL && strstr(accept, "text/html") != NULL;
}

int multipart_finish(struct request *req)
{
    struct multipart_ctx *ctx = req->ctx;
    const char *dir = req->app->cfg->data_dir;
    char receipt[UTIL_TOKEN_LEN + 1];
    unsigned char hash[MESSAGE_HASH_LEN];
    struct db *db;
    int rc;

    if (flush_field(ctx) != 0 || ctx->status != 0)
        return fail(req, ctx);
    if (ctx->up == NULL || ctx->up->offset == 0) {
        ctx->status = 400;
        ctx->merr.field = "video";
        snprintf(ctx->merr.message, sizeof(ctx->merr.message),
                 "video: choose a video file to send");
        return fail(req, ctx);
    }
    /* The campaign again, now with the consent its page showed (a
     * client that names none gets the current one). */
    rc = DB_BUSY;
    if ((db = db_pool_get(req->app->db)) != NULL)
        rc = campaign_admit(db, &ctx->meta, util_now(), &ctx->campaign);
    db_pool_put(req->app->db, db);
    if (rc != CAMPAIGN_ADMIT_OK) {
        ctx->admit = rc;
        return fail(req, ctx);
    }
    if (meta_finish(&ctx->meta, &ctx->merr) != 0) {
        ctx->status = 400;
        return fail(req, ctx);
    }
    if ((rc = upload_checkpoint(ctx->up)) != 0) {
        ctx->status = rc;
        return fail(req, ctx);
    }
    if (storage_commit_upload(dir, ctx->id) != 0)
        return fail(req, ctx);
    util_random_token(receipt);
    message_token_hash(receipt, hash);
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        ctx->status = 503;
        return fail(req, ctx);
    }
    rc = message_create(db, ctx->id, &ctx->meta, hash, ctx->up->offset,
                        ctx->up->offset, 0, true);
    db_pool_put(req->app->db, db);
    if (rc < 0) {
        ctx->status = rc == DB_BUSY ? 503 : 500;
        return fail(req, ctx);
    }
    ctx->up->finished = true;
    ctx->done = true;
    atomic_fetch_add(&req->app->uploads_started, 1);
    atomic_fetch_add(&req->app->uploads_finished, 1);
    /* No exact size in the log: it would match a file found elsewhere. */
    log_info("upload %s: received whole (multipart)", ctx->id);
    if (wants_html(req)) {
        /* The page without JavaScript: the result, rendered here, with
         * the receipt in the page only (never in a URL). */
        result_upload(req, ctx->id, receipt, ctx->ui_lang);
    } else {
        http_json(req, MHD_HTTP_CREATED,
                  json_pack("{s:s, s:s}", "id", ctx->id, "receipt", receipt));
        http_header_add(req, "Chorus-Receipt", receipt);
    }
    sodium_memzero(receipt, sizeof(receipt));
    return req->status;
}
