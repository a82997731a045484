#include "chorus/library.h"

#include <string.h>
#include <strings.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/jsonw.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/panel.h"

/* Sets key to column i as text, or null. */
static void set_text(json_t *obj, const char *key, struct db_stmt *st, int i)
{
    const char *s = db_col_text(st, i);

    json_object_set_new(obj, key, s != NULL ? json_string(s) : json_null());
}

/* Sets key to t as an ISO time. */
static void set_time(json_t *obj, const char *key, int64_t t)
{
    char when[21];

    util_iso8601(t, when);
    json_object_set_new(obj, key, json_string(when));
}

/* Writes the reshare marks of message id as an array. Uses its own
 * statement, so it may run while a list is being read. */
void library_write_reshares(struct jsonw *w, struct db *db, const char *id)
{
    struct db_stmt *st = db_stmt(db, STMT_RESHARES_OF);

    jsonw_open(w, '[');
    if (st != NULL) {
        db_bind_text(st, 1, id);
        while (db_step(st) == DB_ROW) {
            jsonw_open(w, '{');
            jsonw_key(w, "channel");
            jsonw_str(w, db_col_text(st, 0));
            jsonw_key(w, "url");
            jsonw_str(w, db_col_text(st, 1));
            jsonw_key(w, "by");
            jsonw_str(w, db_col_text(st, 2));
            jsonw_key(w, "at");
            jsonw_time(w, db_col_int(st, 3));
            jsonw_key(w, "id");
            jsonw_int(w, db_col_int(st, 4));
            jsonw_key(w, "taken_down_at");
            if (db_col_is_null(st, 5))
                jsonw_null(w);
            else
                jsonw_time(w, db_col_int(st, 5));
            jsonw_key(w, "taken_down_by");
            jsonw_str(w, db_col_text(st, 6));
            jsonw_close(w, '}');
        }
    }
    jsonw_close(w, ']');
}

/* The reshare marks of message id, oldest first. */
json_t *library_reshares(struct db *db, const char *id)
{
    struct db_stmt *st = db_stmt(db, STMT_RESHARES_OF);
    json_t *list = json_array();

    if (st == NULL)
        return list;
    db_bind_text(st, 1, id);
    while (db_step(st) == DB_ROW) {
        json_t *r = json_object();
        set_text(r, "channel", st, 0);
        set_text(r, "url", st, 1);
        set_text(r, "by", st, 2);
        set_time(r, "at", db_col_int(st, 3));
        json_object_set_new(r, "id", json_integer(db_col_int(st, 4)));
        if (db_col_is_null(st, 5))
            json_object_set_new(r, "taken_down_at", json_null());
        else
            set_time(r, "taken_down_at", db_col_int(st, 5));
        set_text(r, "taken_down_by", st, 6);
        json_array_append_new(list, r);
    }
    return list;
}

/*
 * Reads a reshare mark's "channel" (a known one in its own spelling, or
 * a short free-text one) and optional "url" from body into args (they
 * point into body). Returns 0, or the 400 answered.
 */
static int reshare_args(struct request *req, json_t *body,
                        struct msg_args *args)
{
    static const char *const channels[] = {
        "Facebook", "Instagram", "X",    "Telegram", "YouTube",
        "TikTok",   "website",   "VK",   "WhatsApp", "Bluesky",
        "Mastodon", "press",     "other"};
    const char *channel = json_string_value(json_object_get(body, "channel"));
    const char *url = json_string_value(json_object_get(body, "url"));
    long chars =
        channel != NULL ? meta_utf8_check(channel, strlen(channel), false) : -1;

    if (chars < 1 || chars > 64)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_channel",
                          "channel: where it was posted, e.g. Telegram");
    for (size_t i = 0; i < ARRAY_LEN(channels); i++)
        if (strcasecmp(channel, channels[i]) == 0)
            channel = channels[i];
    if (url != NULL && url[0] == '\0')
        url = NULL;
    if (url != NULL &&
        ((strncmp(url, "https://", 8) != 0 &&
          strncmp(url, "http://", 7) != 0) ||
         strlen(url) > 2000 || meta_utf8_check(url, strlen(url), false) < 0 ||
         strchr(url, ' ') != NULL))
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_url",
                          "url: an http(s) address of the post");
    args->channel = channel;
    args->url = url;
    return 0;
}

int library_reshared(struct request *req)
{
    char id[UTIL_ID_LEN + 1];
    struct msg_actor who = {message_who_of_role(req->session.role),
                            req->session.username, req->session.user_id};
    struct msg_args args = {.scope = panel_scope(req)};
    enum msg_state from = MSG_GONE;
    json_t *body;
    struct db *db;
    int rc;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if ((body = http_body_object(req)) == NULL)
        return req->status;
    if (reshare_args(req, body, &args) != 0) {
        json_decref(body);
        return req->status;
    }
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        json_decref(body);
        return http_db_error(req, DB_BUSY);
    }
    rc = message_apply(db, id, EV_RESHARED, &who, &args, &from);
    db_pool_put(req->app->db, db);
    if (rc == MSG_OK)
        http_json(req, MHD_HTTP_CREATED,
                  json_pack("{s:s, s:s, s:s?}", "id", id, "channel",
                            args.channel, "url", args.url));
    else
        panel_refusal(req, rc, from, EV_RESHARED);
    json_decref(body); /* channel and url point into it */
    return req->status;
}

int library_bulk_reshared(struct request *req)
{
    struct msg_args args = {0};
    json_t *body = http_body_object(req);

    if (body == NULL)
        return req->status;
    if (reshare_args(req, body, &args) == 0)
        panel_bulk(req, body, EV_RESHARED, &args);
    json_decref(body); /* channel and url point into it */
    return req->status;
}

int library_taken_down(struct request *req)
{
    char id[UTIL_ID_LEN + 1], why[48];
    struct msg_actor who = {message_who_of_role(req->session.role),
                            req->session.username, req->session.user_id};
    struct msg_args args = {.scope = panel_scope(req)};
    enum msg_state from = MSG_GONE;
    json_t *body = NULL, *post;
    struct db *db;
    int rc;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if (req->body_len > 0 && (body = http_body_object(req)) == NULL)
        return req->status;
    post = json_object_get(body, "reshare");
    if (post != NULL &&
        (!json_is_integer(post) || json_integer_value(post) < 1)) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_reshare",
                          "reshare: the id of one of its reshare marks");
    }
    args.reshare_id = post != NULL ? json_integer_value(post) : 0;
    json_decref(body);
    if (args.reshare_id > 0)
        snprintf(why, sizeof(why), "post %lld", (long long)args.reshare_id);
    else
        snprintf(why, sizeof(why), "every post and copy");
    args.reason = why;
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = message_apply(db, id, EV_TAKEN_DOWN, &who, &args, &from);
    db_pool_put(req->app->db, db);
    if (rc == MSG_NOT_FOUND && (from == MSG_APPROVED || from == MSG_WITHDRAWN))
        return http_error(req, MHD_HTTP_NOT_FOUND, "unknown_reshare",
                          "no such post of this clip, or it is marked "
                          "already");
    if (rc != MSG_OK)
        return panel_refusal(req, rc, from, EV_TAKEN_DOWN);
    log_info("message %s: %s marked taken down by %s", id, why,
             req->session.username);
    if (args.reshare_id > 0)
        return http_json(req, MHD_HTTP_OK,
                         json_pack("{s:s, s:I}", "id", id, "reshare",
                                   (json_int_t)args.reshare_id));
    return http_json(req, MHD_HTTP_OK,
                     json_pack("{s:s, s:b}", "id", id, "done", 1));
}
