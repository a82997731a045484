#include "chorus/campaign_api.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chorus/app.h"
#include "chorus/audit.h"
#include "chorus/campaign.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/logo.h"
#include "chorus/message.h"
#include "chorus/page.h"
#include "chorus/qr.h"
#include "chorus/queue.h"
#include "chorus/storage.h"
#include "chorus/util.h"

int campaign_api_url(const struct config *cfg, const char *slug, char *out,
                     size_t len)
{
    size_t n = cfg->public_url != NULL ? strlen(cfg->public_url) : 0;

    out[0] = '\0';
    while (n > 0 && cfg->public_url[n - 1] == '/')
        n--;
    if (n == 0)
        return -1;
    return util_fmt(out, len, "%.*s/c/%s", (int)n, cfg->public_url, slug);
}

/* Sets key to t as an ISO time, or null when t is 0. */
static void set_time(json_t *o, const char *key, int64_t t)
{
    char when[21];

    if (t <= 0) {
        json_object_set_new(o, key, json_null());
        return;
    }
    util_iso8601(t, when);
    json_object_set_new(o, key, json_string(when));
}

static json_t *string_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *langs_json(const struct campaign *c)
{
    json_t *a = json_array();

    for (int i = 0; i < c->nlangs; i++)
        json_array_append_new(a, json_string(c->langs[i]));
    return a;
}

/* What every view of a campaign has: dates, state, branding, URLs. */
static void common_json(const struct request *req, const struct campaign *c,
                        json_t *o)
{
    enum campaign_state state = campaign_state_at(c, util_now());
    char url[1024], page[64], logo[128];

    json_object_set_new(o, "slug", json_string(c->slug));
    json_object_set_new(o, "languages", langs_json(c));
    json_object_set_new(o, "consent_version", json_string(c->consent_version));
    json_object_set_new(o, "state", json_string(campaign_state_name(state)));
    json_object_set_new(o, "open", json_boolean(state == CAMPAIGN_OPEN));
    set_time(o, "opens_at", c->opens_at);
    set_time(o, "closes_at", c->closes_at);
    json_object_set_new(o, "hashtag", string_or_null(c->hashtag));
    /* Read by the studio and the identity protection's card. */
    json_object_set_new(o, "accent_color", string_or_null(c->accent_color));
    snprintf(logo, sizeof(logo), "/api/v1/campaigns/%s/logo.png?v=%lld",
             c->slug, (long long)c->logo_at);
    json_object_set_new(o, "logo",
                        c->logo_at > 0 ? json_string(logo) : json_null());
    snprintf(page, sizeof(page), "/c/%s", c->slug);
    json_object_set_new(o, "page", json_string(page));
    json_object_set_new(
        o, "url",
        campaign_api_url(req->app->cfg, c->slug, url, sizeof(url)) == 0
            ? json_string(url)
            : json_null());
}

/* The slug of the route, or the default campaign's on a route without. */
static int route_slug(const struct request *req, char *out, size_t len)
{
    if (req->match.nparams == 0 ||
        router_param(&req->match, "slug", out, len) < 0) {
        snprintf(out, len, "%s", CAMPAIGN_DEFAULT_SLUG);
        return req->match.nparams == 0 ? 0 : -1;
    }
    return 0;
}

/* Reads the route's campaign; 1, or 0 with 404 / 500 / 503 answered. */
static int load_campaign(struct request *req, struct campaign *c)
{
    char slug[CAMPAIGN_SLUG_MAX + 2];
    struct db *db;
    int rc = 0;

    if (route_slug(req, slug, sizeof(slug)) == 0) {
        if ((db = db_pool_get(req->app->db)) == NULL) {
            rc = DB_BUSY;
        } else {
            rc = campaign_find(db, slug, c);
            db_pool_put(req->app->db, db);
        }
    }
    if (rc < 0) {
        http_db_error(req, rc);
        return 0;
    }
    if (rc == 0) {
        http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such campaign");
        return 0;
    }
    return 1;
}

int campaign_api_public(struct request *req)
{
    const char *lang = http_query(req, "lang");
    struct campaign c;
    json_t *out, *texts;
    struct db *db;

    if (lang != NULL && strlen(lang) >= CAMPAIGN_LANG_LEN)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_language",
                          "lang: a language tag such as be");
    if (!load_campaign(req, &c))
        return req->status;
    db = db_pool_get(req->app->db);
    texts = campaign_texts_in(db, &c, lang);
    db_pool_put(req->app->db, db);
    if (texts == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    out = json_object();
    common_json(req, &c, out);
    json_object_set(out, "lang", json_object_get(texts, "lang"));
    json_object_set(out, "title", json_object_get(texts, "title"));
    json_object_set(out, "intro", json_object_get(texts, "intro"));
    json_object_set(out, "consent_text", json_object_get(texts, "consent"));
    json_object_set(out, "consent_language",
                    json_object_get(texts, "consent_language"));
    json_object_set(out, "cta", json_object_get(texts, "cta"));
    json_object_set_new(out, "max_upload_bytes",
                        json_integer(req->app->max_upload_bytes));
    json_object_set_new(out, "max_duration_s",
                        json_integer(req->app->cfg->max_duration));
    json_decref(texts);
    http_json(req, MHD_HTTP_OK, out);
    http_header_add(req, "Cache-Control", "no-cache");
    return req->status;
}

/* The embed snippet of c (an iframe of its page), or null without a
 * public address. */
static json_t *embed_json(const struct request *req, const struct campaign *c,
                          const char *title)
{
    char url[1024], esc_url[2048], esc_title[1024], snippet[4096];
    const char *p = req->app->cfg->cors_origin;
    json_t *from = json_array();

    while (p != NULL && *p != '\0') {
        size_t n;
        while (*p == ' ' || *p == ',')
            p++;
        n = strcspn(p, ", ");
        if (n > 0) {
            char one[256];
            snprintf(one, sizeof(one), "%.*s", (int)n, p);
            json_array_append_new(from, json_string(one));
        }
        p += n;
    }
    if (campaign_api_url(req->app->cfg, c->slug, url, sizeof(url)) != 0 ||
        page_escape(url, esc_url, sizeof(esc_url)) < 0 ||
        page_escape(title != NULL ? title : c->slug, esc_title,
                    sizeof(esc_title)) < 0) {
        return json_pack("{s:n, s:o}", "snippet", "allowed_from", from);
    }
    /* Camera and microphone: the page's own recorder works inside. */
    snprintf(snippet, sizeof(snippet),
             "<iframe src=\"%s\" title=\"%s\" width=\"100%%\" "
             "height=\"1100\" style=\"border:0;max-width:40rem\" "
             "allow=\"camera; microphone; screen-wake-lock\" "
             "referrerpolicy=\"no-referrer\" loading=\"lazy\"></iframe>",
             esc_url, esc_title);
    return json_pack("{s:s, s:o}", "snippet", snippet, "allowed_from", from);
}

/* The logo's state: {"url", "made_at", "job": {"state", "error"}}. */
static json_t *logo_json(struct db *db, const struct campaign *c)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_LAST_OF_TARGET);
    json_t *o = json_object(), *job = json_null();
    char url[128];

    snprintf(url, sizeof(url), "/api/v1/campaigns/%s/logo.png?v=%lld", c->slug,
             (long long)c->logo_at);
    json_object_set_new(o, "url",
                        c->logo_at > 0 ? json_string(url) : json_null());
    set_time(o, "made_at", c->logo_at);
    if (st != NULL) {
        db_bind_text(st, 1, JOB_KIND_LOGO);
        db_bind_text(st, 2, c->slug);
        if (db_step(st) == DB_ROW) {
            job = json_pack("{s:s, s:o}", "state", db_col_text(st, 0), "error",
                            string_or_null(db_col_text(st, 1)));
            db_reset(st);
        }
    }
    json_object_set_new(o, "job", job);
    return o;
}

/* Everything of c, for admins. NULL on a database failure. */
static json_t *admin_json(struct request *req, struct db *db,
                          const struct campaign *c)
{
    json_t *o = json_object(), *texts = campaign_texts(db, c);
    json_t *history = campaign_consent_history(db, c), *counts;
    struct db_stmt *st;
    char path[128];

    if (texts == NULL || history == NULL) {
        json_decref(o);
        json_decref(texts);
        json_decref(history);
        return NULL;
    }
    common_json(req, c, o);
    json_object_set_new(o, "default",
                        json_boolean(c->id == CAMPAIGN_DEFAULT_ID));
    json_object_set_new(
        o, "embed",
        embed_json(req, c,
                   json_string_value(json_object_get(
                       json_object_get(texts, c->nlangs ? c->langs[0] : ""),
                       "title"))));
    json_object_set_new(o, "texts", texts);
    json_object_set_new(o, "consent_history", history);
    json_object_set_new(o, "credit_template",
                        string_or_null(c->credit_template));
    json_object_set_new(o, "logo_state", logo_json(db, c));
    snprintf(path, sizeof(path), "/c/%s/poster", c->slug);
    json_object_set_new(o, "poster", json_string(path));
    snprintf(path, sizeof(path), "/api/v1/campaigns/%s/qr", c->slug);
    json_object_set_new(o, "qr", json_string(path));
    set_time(o, "created_at", c->created_at);
    set_time(o, "updated_at", c->updated_at);
    counts = json_object();
    if ((st = db_stmt(db, STMT_CAMPAIGN_COUNTS)) != NULL) {
        db_bind_int(st, 1, c->id);
        while (db_step(st) == DB_ROW)
            json_object_set_new(counts, db_col_text(st, 0),
                                json_integer(db_col_int(st, 1)));
    }
    json_object_set_new(o, "counts", counts);
    return o;
}

int campaign_api_list(struct request *req)
{
    bool admin = req->session.role == ROLE_ADMIN;
    struct campaign *all = NULL;
    struct db_stmt *st;
    struct db *db;
    json_t *items = json_array();
    int rc = DB_ERROR, n = 0, cap = 0;

    db = db_pool_get(req->app->db);
    if ((st = db_stmt(db, STMT_CAMPAIGN_LIST)) == NULL)
        goto out;
    /* The rows first: the views below run statements of their own. */
    for (;;) {
        struct campaign c;
        if ((rc = db_step(st)) != DB_ROW)
            break;
        memset(&c, 0, sizeof(c));
        c.id = db_col_int(st, 0);
        if (n == cap) {
            struct campaign *more;
            cap = cap ? cap * 2 : 16;
            if ((more = realloc(all, (size_t)cap * sizeof(*all))) == NULL) {
                db_reset(st);
                rc = DB_ERROR;
                goto out;
            }
            all = more;
        }
        all[n++] = c;
    }
    if (rc != DB_DONE)
        goto out;
    for (int i = 0; i < n; i++) {
        struct campaign c;
        json_t *o, *texts;

        if ((rc = campaign_get(db, all[i].id, &c)) != 1) {
            rc = DB_ERROR;
            goto out;
        }
        if (!admin && !message_scope_has(req->session.campaigns, c.id))
            continue;
        if (admin) {
            o = admin_json(req, db, &c);
        } else {
            texts = campaign_texts_in(db, &c, NULL);
            o = texts == NULL ? NULL : json_object();
            if (o != NULL) {
                common_json(req, &c, o);
                json_object_set(o, "title", json_object_get(texts, "title"));
            }
            json_decref(texts);
        }
        if (o == NULL) {
            rc = DB_ERROR;
            goto out;
        }
        json_array_append_new(items, o);
    }
    rc = DB_DONE;
out:
    db_pool_put(req->app->db, db);
    free(all);
    if (rc != DB_DONE) {
        json_decref(items);
        return http_db_error(req, rc);
    }
    return http_json(req, MHD_HTTP_OK, json_pack("{s:o}", "items", items));
}

/* Answers campaign_save()'s result; returns the status. */
static int save_answer(struct request *req, int rc, const struct campaign *c,
                       const struct campaign_error *err, int ok_status)
{
    struct db *db;
    json_t *o;

    switch (rc) {
    case 1:
        db = db_pool_get(req->app->db);
        o = admin_json(req, db, c);
        db_pool_put(req->app->db, db);
        if (o == NULL)
            return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                              "database error");
        return http_json(req, ok_status, o);
    case CAMPAIGN_NOT_FOUND:
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such campaign");
    case CAMPAIGN_TAKEN:
        return http_error(req, MHD_HTTP_CONFLICT, "taken",
                          "a campaign with this slug exists");
    case CAMPAIGN_INVALID:
        return http_json(req, MHD_HTTP_BAD_REQUEST,
                         json_pack("{s:s, s:s, s:s}", "error", "invalid",
                                   "field", err->field, "message",
                                   err->message));
    default:
        return http_db_error(req, rc);
    }
}

int campaign_api_create(struct request *req)
{
    struct campaign_error err = {"", ""};
    struct campaign c;
    json_t *body = http_body_object(req);
    const char *slug;
    struct db *db;
    int rc;

    if (body == NULL)
        return req->status;
    slug = json_string_value(json_object_get(body, "slug"));
    if (slug == NULL) {
        json_decref(body);
        return http_json(req, MHD_HTTP_BAD_REQUEST,
                         json_pack("{s:s, s:s, s:s}", "error", "invalid",
                                   "field", "slug", "message",
                                   "slug: the campaign's address, required"));
    }
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        json_decref(body);
        return http_db_error(req, DB_BUSY);
    }
    rc = campaign_save(db, req->session.username, slug, body, true, &c, &err);
    db_pool_put(req->app->db, db);
    json_decref(body);
    return save_answer(req, rc, &c, &err, MHD_HTTP_CREATED);
}

int campaign_api_update(struct request *req)
{
    struct campaign_error err = {"", ""};
    char slug[CAMPAIGN_SLUG_MAX + 2];
    struct campaign c;
    json_t *body;
    struct db *db;
    int rc;

    if (router_param(&req->match, "slug", slug, sizeof(slug)) < 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such campaign");
    if ((body = http_body_object(req)) == NULL)
        return req->status;
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        json_decref(body);
        return http_db_error(req, DB_BUSY);
    }
    rc = campaign_save(db, req->session.username, slug, body, false, &c, &err);
    db_pool_put(req->app->db, db);
    json_decref(body);
    return save_answer(req, rc, &c, &err, MHD_HTTP_OK);
}

/* Answers bytes (malloc'd, taken over) as type with an ETag of them. */
static int send_bytes(struct request *req, void *bytes, size_t len,
                      const char *type, const char *name)
{
    unsigned char h[16];
    char etag[40], disp[128];
    struct MHD_Response *resp;

    crypto_generichash(h, sizeof(h), bytes, len, NULL, 0);
    snprintf(etag, sizeof(etag), "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", h[0],
             h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
    if (http_not_modified(req, etag, "no-cache")) {
        free(bytes);
        return req->status;
    }
    resp = MHD_create_response_from_buffer(len, bytes, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(bytes);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    }
    http_respond(req, MHD_HTTP_OK, resp);
    snprintf(disp, sizeof(disp), "inline; filename=\"%s\"", name);
    http_header_add(req, "Content-Type", type);
    http_header_add(req, "Content-Disposition", disp);
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Cache-Control", "no-cache");
    return req->status;
}

/* A whole-number query parameter within [min, max], else def; -1 if it
 * is given and bad. */
static long query_int(struct request *req, const char *name, long def, long min,
                      long max)
{
    const char *s = http_query(req, name);
    char *end;
    long v;

    if (s == NULL)
        return def;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    return v;
}

/* The QR code of the route's campaign, or NULL with the answer given. */
static struct qr *load_qr(struct request *req, struct campaign *c)
{
    char url[1024];
    struct qr *q;

    if (!load_campaign(req, c))
        return NULL;
    if (campaign_api_url(req->app->cfg, c->slug, url, sizeof(url)) != 0) {
        http_error(req, MHD_HTTP_CONFLICT, "no_public_url",
                   "this server does not know the address people reach it "
                   "at: start it with --public-url https://your.domain to "
                   "print QR codes");
        return NULL;
    }
    if ((q = qr_new(url)) == NULL)
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "the address cannot be encoded as a QR code");
    return q;
}

int campaign_api_qr_svg(struct request *req)
{
    long size = query_int(req, "size", 0, 16, QR_PNG_MAX);
    struct campaign c;
    struct qr *q;
    char *svg, name[80];
    size_t len;

    if (size < 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_size",
                          "size: pixels, 16 to %d", QR_PNG_MAX);
    if ((q = load_qr(req, &c)) == NULL)
        return req->status;
    svg = qr_svg(q, (int)size, &len);
    qr_free(q);
    if (svg == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    snprintf(name, sizeof(name), "chorus-%s-qr.svg", c.slug);
    return send_bytes(req, svg, len, "image/svg+xml", name);
}

int campaign_api_qr_png(struct request *req)
{
    long size = query_int(req, "size", QR_PNG_DEFAULT, QR_PNG_MIN, QR_PNG_MAX);
    long dpi = query_int(req, "dpi", 300, 72, 2400);
    struct campaign c;
    unsigned char *png;
    struct qr *q;
    char name[80];
    size_t len;
    int rc;

    if (size < 0 || dpi < 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_size",
                          "size: pixels, %d to %d; dpi: 72 to 2400", QR_PNG_MIN,
                          QR_PNG_MAX);
    if ((q = load_qr(req, &c)) == NULL)
        return req->status;
    rc = qr_png(q, (int)size, (int)dpi, &png, &len);
    qr_free(q);
    if (rc != 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    snprintf(name, sizeof(name), "chorus-%s-qr.png", c.slug);
    return send_bytes(req, png, len, "image/png", name);
}

int campaign_api_logo(struct request *req)
{
    char path[PATH_MAX], etag[64];
    struct MHD_Response *resp;
    struct campaign c;
    struct stat sb;
    int fd;

    if (!load_campaign(req, &c))
        return req->status;
    if (c.logo_at <= 0 ||
        storage_campaign_path(req->app->cfg->data_dir, c.id, LOGO_FILE, path,
                              sizeof(path)) != 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "this campaign has no logo");
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return http_file_error(req, errno);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "this campaign has no logo");
    }
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
             (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec);
    if (http_not_modified(req, etag, "no-cache")) {
        close(fd);
        return req->status;
    }
    if ((resp = MHD_create_response_from_fd64((uint64_t)sb.st_size, fd)) ==
        NULL) {
        close(fd);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "cannot send the file");
    }
    http_respond(req, MHD_HTTP_OK, resp);
    http_header_add(req, "Content-Type", "image/png");
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Cache-Control", "no-cache");
    return req->status;
}

/* ---- PUT .../logo ----------------------------------------------------- */

struct logo_ctx {
    struct campaign c;
    char part[PATH_MAX]; /* the bytes as they come */
    char name[64];       /* logo-<id>.in, the job's input */
    int fd;
    int64_t bytes;
    bool kept; /* handed to the job: not to be deleted */
};

static void logo_ctx_free(void *p)
{
    struct logo_ctx *ctx = p;

    if (ctx->fd >= 0)
        close(ctx->fd);
    if (!ctx->kept && ctx->part[0] != '\0')
        unlink(ctx->part);
    free(ctx);
}

int campaign_api_logo_begin(struct request *req)
{
    const char *type = http_header(req, "Content-Type");
    const char *cl = http_header(req, "Content-Length");
    char dir[PATH_MAX], id[UTIL_ID_LEN + 1], part[96];
    struct logo_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    ctx->fd = -1;
    req->ctx = ctx;
    req->ctx_free = logo_ctx_free;
    if (!load_campaign(req, &ctx->c))
        return req->status;
    if (type == NULL || (strncasecmp(type, "image/png", 9) != 0 &&
                         strncasecmp(type, "image/jpeg", 10) != 0))
        return http_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                          "unsupported_media",
                          "a logo is sent as image/png or image/jpeg");
    if (cl != NULL && strtoull(cl, NULL, 10) > CAMPAIGN_LOGO_MAX)
        return http_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                          "a logo is at most %d bytes", CAMPAIGN_LOGO_MAX);
    util_random_id(id);
    snprintf(ctx->name, sizeof(ctx->name), "logo-%s.in", id);
    snprintf(part, sizeof(part), "logo-%s.part", id);
    if (storage_campaign_path(req->app->cfg->data_dir, ctx->c.id, NULL, dir,
                              sizeof(dir)) != 0 ||
        util_mkdirs(dir, 0700) != 0 ||
        storage_campaign_path(req->app->cfg->data_dir, ctx->c.id, part,
                              ctx->part, sizeof(ctx->part)) != 0 ||
        (ctx->fd = open(ctx->part,
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                        0600)) < 0) {
        log_warn("campaign %s: cannot store a logo", ctx->c.slug);
        ctx->part[0] = '\0'; /* nothing of ours to delete */
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the logo cannot be stored");
    }
    return 0;
}

int campaign_api_logo_body(struct request *req, const char *data, size_t size)
{
    struct logo_ctx *ctx = req->ctx;

    if (ctx->bytes + (int64_t)size > CAMPAIGN_LOGO_MAX)
        return http_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                          "a logo is at most %d bytes", CAMPAIGN_LOGO_MAX);
    while (size > 0) {
        ssize_t n = write(ctx->fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("campaign %s: write a logo", ctx->c.slug);
            return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                              "the logo cannot be stored");
        }
        ctx->bytes += n;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

int campaign_api_logo_put(struct request *req)
{
    struct logo_ctx *ctx = req->ctx;
    char input[PATH_MAX], args[128];
    struct db *db;
    int rc;

    if (ctx == NULL || ctx->fd < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the logo cannot be stored");
    if (ctx->bytes == 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "empty",
                          "send the image as the body");
    if (fdatasync(ctx->fd) != 0 ||
        storage_campaign_path(req->app->cfg->data_dir, ctx->c.id, ctx->name,
                              input, sizeof(input)) != 0 ||
        rename(ctx->part, input) != 0) {
        log_warn("campaign %s: keep a logo", ctx->c.slug);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the logo cannot be stored");
    }
    snprintf(ctx->part, sizeof(ctx->part), "%s", input);
    snprintf(args, sizeof(args), "{\"campaign\":%lld,\"input\":\"%s\"}",
             (long long)ctx->c.id, ctx->name);
    db = db_pool_get(req->app->db);
    if ((rc = db_begin(db)) == 0 &&
        (rc = queue_enqueue_kind(db, JOB_KIND_LOGO, NULL, ctx->c.slug, args)) ==
            0 &&
        (rc = audit_append(db, req->session.username, "campaign.logo",
                           ctx->c.slug, NULL)) == 0)
        rc = db_commit(db);
    db_rollback(db);
    db_pool_put(req->app->db, db);
    if (rc == DB_CONSTRAINT)
        return http_error(req, MHD_HTTP_CONFLICT, "busy",
                          "a logo of this campaign is being made; send this "
                          "one when it is done");
    if (rc < 0)
        return http_db_error(req, rc);
    ctx->kept = true;
    log_info("campaign %s: a logo of %lld bytes queued", ctx->c.slug,
             (long long)ctx->bytes);
    return http_json(
        req, MHD_HTTP_ACCEPTED,
        json_pack("{s:s, s:s}", "slug", ctx->c.slug, "state", "queued"));
}

int campaign_api_user_limits(struct request *req)
{
    char name[AUTH_USERNAME_MAX + 2];
    const char *slugs[64], *bad = NULL;
    json_t *body, *list, *it;
    struct db *db;
    size_t i, n;
    int rc;

    if (router_param(&req->match, "name", name, sizeof(name)) < 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such user");
    if ((body = http_body_object(req)) == NULL)
        return req->status;
    list = json_object_get(body, "campaigns");
    n = json_array_size(list);
    if (!json_is_array(list) || n > ARRAY_LEN(slugs)) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "send {\"campaigns\": [\"slug\", ...]} ([]: every "
                          "campaign)");
    }
    json_array_foreach(list, i, it)
    {
        if ((slugs[i] = json_string_value(it)) == NULL) {
            json_decref(body);
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                              "campaigns: slugs");
        }
    }
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        json_decref(body);
        return http_db_error(req, DB_BUSY);
    }
    rc = campaign_limit_user(db, req->session.username, name, slugs, (int)n,
                             &bad);
    db_pool_put(req->app->db, db);
    if (rc == -2) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "unknown_campaign",
                   "no campaign %.40s", bad);
    } else if (rc == -3) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "admin",
                   "admins see every campaign: change the role first");
    } else if (rc == 0) {
        http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such user");
    } else if (rc < 0) {
        http_db_error(req, rc);
    } else {
        http_json(req, MHD_HTTP_OK,
                  json_pack("{s:s, s:O}", "username", name, "campaigns", list));
    }
    json_decref(body);
    return req->status;
}

int campaign_api_refusal(struct request *req, int code,
                         const struct campaign *c)
{
    enum campaign_state state;
    json_t *o;

    switch (code) {
    case CAMPAIGN_ADMIT_UNKNOWN:
        return http_json(req, MHD_HTTP_BAD_REQUEST,
                         json_pack("{s:s, s:s, s:s}", "error",
                                   "invalid_metadata", "field", "campaign",
                                   "message", "campaign: no such campaign"));
    case CAMPAIGN_ADMIT_CONSENT:
        return http_json(
            req, MHD_HTTP_BAD_REQUEST,
            json_pack("{s:s, s:s, s:s, s:s}", "error", "consent_outdated",
                      "field", "consent_version", "message",
                      "consent_version: the consent text has changed since "
                      "this page was opened; reload it and read it again",
                      "consent_version_now", c->consent_version));
    case CAMPAIGN_ADMIT_LANGUAGE:
        return http_json(req, MHD_HTTP_BAD_REQUEST,
                         json_pack("{s:s, s:s, s:s}", "error",
                                   "invalid_metadata", "field",
                                   "consent_language", "message",
                                   "consent_language: not a language of "
                                   "this campaign"));
    case CAMPAIGN_ADMIT_CLOSED:
        state = campaign_state_at(c, util_now());
        o = json_pack("{s:s, s:s, s:s, s:s}", "error", "campaign_closed",
                      "message",
                      state == CAMPAIGN_NOT_YET_OPEN
                          ? "this campaign has not opened yet: it takes no "
                            "uploads"
                          : "this campaign is closed: it takes no more "
                            "uploads",
                      "campaign", c->slug, "state", campaign_state_name(state));
        set_time(o, "opens_at", c->opens_at);
        set_time(o, "closes_at", c->closes_at);
        return http_json(req, MHD_HTTP_FORBIDDEN, o);
    default:
        return http_db_error(req, code);
    }
}
