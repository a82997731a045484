#include "chorus/panel.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "chorus/app.h"
#include "chorus/audit.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/jsonw.h"
#include "chorus/log.h"
#include "chorus/media.h"
#include "chorus/meta.h"
#include "chorus/queue.h"
#include "chorus/storage.h"

#define LIST_LIMIT_MAX 200
#define REASON_MAX 1000

static const char *const statuses[] = {"uploading", "processing", "pending",
                                       "approved",  "rejected",   "failed",
                                       "withdrawn"};

static int known_status(const char *s)
{
    for (size_t i = 0; i < ARRAY_LEN(statuses); i++)
        if (strcmp(s, statuses[i]) == 0)
            return 1;
    return 0;
}

/* Sets key to an ISO time, or null when t is 0. */
static void set_time(json_t *obj, const char *key, int64_t t)
{
    char when[21];

    if (t <= 0) {
        json_object_set_new(obj, key, json_null());
        return;
    }
    util_iso8601(t, when);
    json_object_set_new(obj, key, json_string(when));
}

/* Sets key to column i as text, integer or null. */
static void set_text(json_t *obj, const char *key, struct db_stmt *st, int i)
{
    const char *s = db_col_text(st, i);

    json_object_set_new(obj, key, s != NULL ? json_string(s) : json_null());
}

static void set_int(json_t *obj, const char *key, struct db_stmt *st, int i)
{
    json_object_set_new(
        obj, key,
        db_col_is_null(st, i) ? json_null() : json_integer(db_col_int(st, i)));
}

static int64_t col_time(struct db_stmt *st, int i)
{
    return db_col_is_null(st, i) ? 0 : db_col_int(st, i);
}

/* Parses "YYYY-MM-DD" as midnight UTC; -1 if it is not one. */
static int64_t parse_date(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    return (int64_t)timegm(&tm);
}

/* The cursor: base64url of "<created_at>.<id>". */
static void make_cursor(int64_t created, const char *id, char *out, size_t len)
{
    char raw[64];
    int n = snprintf(raw, sizeof(raw), "%lld.%s", (long long)created, id);

    sodium_bin2base64(out, len, (const unsigned char *)raw, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int parse_cursor(const char *s, int64_t *created,
                        char id[UTIL_ID_LEN + 1])
{
    char raw[64];
    size_t n;
    char *dot, *end;

    if (strlen(s) > 80 ||
        sodium_base642bin((unsigned char *)raw, sizeof(raw) - 1, s, strlen(s),
                          NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    raw[n] = '\0';
    dot = strchr(raw, '.');
    if (dot == NULL)
        return -1;
    *dot = '\0';
    *created = strtoll(raw, &end, 10);
    if (*end != '\0' || !util_is_id(dot + 1))
        return -1;
    memcpy(id, dot + 1, UTIL_ID_LEN + 1);
    return 0;
}

/*
 * The free-text search: q in ASCII lower case, as SQLite's lower() folds
 * the columns it is looked for in (instr() rather than LIKE: a LIKE with
 * a bound pattern makes SQLite plan the query again at every run).
 */
static int search_text(const char *q, char *out, size_t len)
{
    size_t n = strlen(q);

    if (n >= len)
        return -1;
    for (size_t i = 0; i <= n; i++)
        out[i] = (q[i] >= 'A' && q[i] <= 'Z') ? (char)(q[i] - 'A' + 'a') : q[i];
    return 0;
}

/* Writes the reshare marks of message id as an array. Uses its own
 * statement, so it may run while a list is being read. */
static void write_reshares(struct jsonw *w, struct db *db, const char *id)
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
            jsonw_close(w, '}');
        }
    }
    jsonw_close(w, ']');
}

/* Writes column i as an integer, or null. */
static void w_int_or_null(struct jsonw *w, struct db_stmt *st, int i)
{
    if (db_col_is_null(st, i))
        jsonw_null(w);
    else
        jsonw_int(w, db_col_int(st, i));
}

int panel_list(struct request *req)
{
    const char *status = http_query(req, "status");
    const char *country = http_query(req, "country");
    const char *language = http_query(req, "language");
    const char *q = http_query(req, "q"), *from = http_query(req, "from");
    const char *to = http_query(req, "to"), *scope = http_query(req, "scope");
    const char *reshared = http_query(req, "reshared");
    const char *order = http_query(req, "order");
    const char *cursor = http_query(req, "cursor");
    const char *limit_s = http_query(req, "limit");
    const char *used = http_query(req, "used");
    char pattern[512], cid[UTIL_ID_LEN + 1] = "", next[128] = "", lang[36];
    char file[64];
    int64_t cdate = 0, tfrom = 0, tto = 0, last_date = 0;
    char last_id[UTIL_ID_LEN + 1] = "";
    long limit = 50;
    bool desc;
    struct jsonw w;
    char *text;
    size_t len;
    struct db_stmt *st;
    struct db *db;
    int rc, n = 0;

    if (status == NULL)
        status = req->session.role == ROLE_COMMS ? "approved" : "pending";
    if (!known_status(status))
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_status",
                          "status: one of uploading, processing, pending, "
                          "approved, rejected, failed, withdrawn");
    if (req->session.role == ROLE_COMMS && strcmp(status, "approved") != 0 &&
        strcmp(status, "withdrawn") != 0)
        return http_error(req, MHD_HTTP_FORBIDDEN, "forbidden",
                          "the comms role sees approved messages only");
    if (country != NULL && !meta_country_known(country))
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_country",
                          "country: an ISO 3166-1 code such as BY");
    if (language != NULL) {
        if (meta_language_normalize(language, lang) != 0)
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_language",
                              "language: a language tag such as be");
        language = lang;
    }
    if (q != NULL &&
        (strlen(q) > 100 || search_text(q, pattern, sizeof(pattern)) != 0))
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_query",
                          "q: at most 100 characters");
    if ((from != NULL && (tfrom = parse_date(from)) < 0) ||
        (to != NULL && (tto = parse_date(to)) < 0))
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_date",
                          "from, to: dates as YYYY-MM-DD");
    if (scope != NULL && strcmp(scope, "public") != 0 &&
        strcmp(scope, "union") != 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_scope",
                          "scope: public or union");
    if (reshared != NULL && strcmp(reshared, "yes") != 0 &&
        strcmp(reshared, "no") != 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_reshared",
                          "reshared: yes or no");
    if (limit_s != NULL) {
        char *end;
        limit = strtol(limit_s, &end, 10);
        if (*end != '\0' || limit < 1 || limit > LIST_LIMIT_MAX)
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_limit",
                              "limit: 1 to %d", LIST_LIMIT_MAX);
    }
    /* The queue is worked oldest first; decided lists show newest first. */
    desc = order != NULL ? strcmp(order, "desc") == 0
                         : strcmp(status, "approved") == 0 ||
                               strcmp(status, "rejected") == 0 ||
                               strcmp(status, "withdrawn") == 0;
    if (cursor != NULL && parse_cursor(cursor, &cdate, cid) != 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_cursor",
                          "cursor: pass next_cursor back as it came");
    if (cursor == NULL) {
        cdate = desc ? INT64_MAX : INT64_MIN;
        strcpy(cid, desc ? "~" : "");
    }

    jsonw_init(&w);
    jsonw_open(&w, '{');
    jsonw_key(&w, "items");
    jsonw_open(&w, '[');
    db = db_pool_get(req->app->db);
    st = db_stmt(db, desc ? STMT_MSG_LIST_DESC : STMT_MSG_LIST_ASC);
    if (st == NULL) {
        rc = DB_ERROR;
        goto done;
    }
    db_bind_text(st, 1, status);
    db_bind_text(st, 2, country);
    db_bind_text(st, 3, language);
    db_bind_text(st, 4, q != NULL ? pattern : NULL);
    if (from != NULL)
        db_bind_int(st, 5, tfrom);
    if (to != NULL)
        db_bind_int(st, 6, tto + 86400); /* "to" is inclusive */
    db_bind_text(st, 7, scope);
    if (reshared != NULL)
        db_bind_int(st, 8, strcmp(reshared, "yes") == 0);
    db_bind_int(st, 9, cdate);
    db_bind_text(st, 10, cid);
    db_bind_int(st, 11, limit + 1);
    /* Withdrawn clips the comms team had used: posts to take down. */
    if ((used != NULL && strcmp(used, "yes") == 0) ||
        (req->session.role == ROLE_COMMS && strcmp(status, "withdrawn") == 0))
        db_bind_int(st, 12, 1);
    while ((rc = db_step(st)) == DB_ROW) {
        static const char *const texts[] = {
            "id",       "status",  "name",          "organization",   "country",
            "language", "message", "consent_scope", "consent_version"};

        if (n == limit) {
            db_reset(st);
            rc = DB_DONE;
            make_cursor(last_date, last_id, next, sizeof(next));
            break;
        }
        jsonw_open(&w, '{');
        for (int c = 0; c < (int)ARRAY_LEN(texts); c++) {
            jsonw_key(&w, texts[c]);
            jsonw_str(&w, db_col_text(st, c));
        }
        jsonw_key(&w, "created_at");
        jsonw_time(&w, col_time(st, 9));
        jsonw_key(&w, "received_at");
        jsonw_time(&w, col_time(st, 10));
        jsonw_key(&w, "duration_ms");
        w_int_or_null(&w, st, 11);
        jsonw_key(&w, "width");
        w_int_or_null(&w, st, 12);
        jsonw_key(&w, "height");
        w_int_or_null(&w, st, 13);
        jsonw_key(&w, "has_audio");
        if (db_col_is_null(st, 14))
            jsonw_null(&w);
        else
            jsonw_bool(&w, db_col_int(st, 14) != 0);
        jsonw_key(&w, "decided_at");
        jsonw_time(&w, col_time(st, 15));
        jsonw_key(&w, "failure_reason");
        jsonw_str(&w, db_col_text(st, 16));
        jsonw_key(&w, "reshared");
        jsonw_int(&w, db_col_int(st, 17));
        jsonw_key(&w, "progress");
        if (db_col_is_null(st, 18))
            jsonw_null(&w);
        else
            jsonw_real(&w, db_col_double(st, 18));
        jsonw_key(&w, "withdrawn_at");
        jsonw_time(&w, col_time(st, 19));
        jsonw_key(&w, "exported_at");
        jsonw_time(&w, col_time(st, 20));
        /* The name its downloads and exports carry. */
        media_file_name(db_col_text(st, 0), db_col_int(st, 9),
                        db_col_text(st, 4), db_col_text(st, 5), "mp4", file);
        jsonw_key(&w, "file");
        jsonw_str(&w, file);
        /* A withdrawn clip's marks say which posts to take down. */
        if (strcmp(status, "withdrawn") == 0) {
            jsonw_key(&w, "reshares");
            write_reshares(&w, db, db_col_text(st, 0));
        }
        jsonw_close(&w, '}');
        last_date = db_col_int(st, 9);
        snprintf(last_id, sizeof(last_id), "%s",
                 db_col_text(st, 0) != NULL ? db_col_text(st, 0) : "");
        n++;
    }
done:
    if (rc == DB_DONE) {
        jsonw_close(&w, ']');
        jsonw_key(&w, "counts");
        jsonw_open(&w, '{');
        if ((st = db_stmt(db, STMT_MSG_COUNTS)) != NULL)
            while (db_step(st) == DB_ROW) {
                const char *name = db_col_text(st, 0);
                /* The comms role sees what it may list, nothing more. */
                if (req->session.role == ROLE_COMMS &&
                    strcmp(name, "approved") != 0 &&
                    strcmp(name, "withdrawn") != 0)
                    continue;
                jsonw_key(&w, name);
                jsonw_int(&w, db_col_int(st, 1));
            }
        jsonw_close(&w, '}');
        jsonw_key(&w, "next_cursor");
        jsonw_str(&w, n == limit && next[0] != '\0' ? next : NULL);
        jsonw_close(&w, '}');
    }
    db_pool_put(req->app->db, db);
    text = jsonw_finish(&w, &len);
    if (rc != DB_DONE || text == NULL) {
        free(text);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    }
    return http_json_text(req, MHD_HTTP_OK, text, len);
}

/* The reshare marks of message id, oldest first. */
static json_t *reshares_of(struct db *db, const char *id)
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
        json_array_append_new(list, r);
    }
    return list;
}

int panel_get(struct request *req)
{
    char id[UTIL_ID_LEN + 1];
    struct db_stmt *st;
    struct db *db;
    json_t *obj = NULL, *history, *facts;
    const char *status;
    int rc;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    db = db_pool_get(req->app->db);
    st = db_stmt(db, STMT_MSG_GET);
    if (st == NULL) {
        db_pool_put(req->app->db, db);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    }
    db_bind_text(st, 1, id);
    rc = db_step(st);
    status = rc == DB_ROW ? db_col_text(st, 1) : NULL;
    if (rc == DB_ROW && req->session.role == ROLE_COMMS &&
        strcmp(status, "approved") != 0) {
        db_reset(st);
        rc = DB_DONE;
    }
    if (rc == DB_ROW) {
        obj = json_object();
        set_text(obj, "id", st, 0);
        set_text(obj, "status", st, 1);
        set_text(obj, "name", st, 2);
        set_text(obj, "organization", st, 3);
        set_text(obj, "country", st, 4);
        set_text(obj, "language", st, 5);
        set_text(obj, "message", st, 6);
        set_text(obj, "consent_scope", st, 7);
        set_text(obj, "consent_version", st, 8);
        set_time(obj, "consent_at", col_time(st, 9));
        set_time(obj, "created_at", col_time(st, 10));
        set_time(obj, "received_at", col_time(st, 11));
        set_int(obj, "duration_ms", st, 12);
        set_int(obj, "width", st, 13);
        set_int(obj, "height", st, 14);
        json_object_set_new(obj, "has_audio",
                            db_col_is_null(st, 15)
                                ? json_null()
                                : json_boolean(db_col_int(st, 15)));
        set_int(obj, "video_bytes", st, 16);
        facts = db_col_text(st, 17) != NULL
                    ? json_loads(db_col_text(st, 17), 0, NULL)
                    : NULL;
        json_object_set_new(obj, "facts", facts != NULL ? facts : json_null());
        set_text(obj, "failure_reason", st, 18);
        set_text(obj, "decided_by", st, 19);
        set_time(obj, "decided_at", col_time(st, 20));
        set_text(obj, "decision_reason", st, 21);
        set_time(obj, "withdrawn_at", col_time(st, 22));
        json_object_set_new(
            obj, "job",
            db_col_is_null(st, 23)
                ? json_null()
                : json_pack("{s:s, s:f, s:I, s:o}", "state",
                            db_col_text(st, 23), "progress",
                            db_col_double(st, 24), "attempts",
                            (json_int_t)db_col_int(st, 25), "error",
                            db_col_text(st, 26) != NULL
                                ? json_string(db_col_text(st, 26))
                                : json_null()));
        set_int(obj, "upload_length", st, 27);
        set_int(obj, "upload_offset", st, 28);
        db_reset(st);

        history = json_array();
        if ((st = db_stmt(db, STMT_MSG_HISTORY)) != NULL) {
            db_bind_text(st, 1, id);
            while (db_step(st) == DB_ROW) {
                json_t *h = json_object();
                set_time(h, "at", db_col_int(st, 0));
                set_text(h, "actor", st, 1);
                set_text(h, "action", st, 2);
                set_text(h, "reason", st, 3);
                json_array_append_new(history, h);
            }
        }
        json_object_set_new(obj, "history", history);
        json_object_set_new(obj, "reshares", reshares_of(db, id));
    }
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    if (obj == NULL)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    return http_json(req, MHD_HTTP_OK, obj);
}

/*
 * Reads the optional or required "reason" of a decision into out.
 * Returns 0, or -1 with a 400 answered.
 */
static int read_reason(struct request *req, bool required, char *out,
                       size_t len)
{
    json_t *body = NULL, *v;
    const char *r = NULL;
    long chars;

    out[0] = '\0';
    if (req->body_len > 0 || required) {
        if ((body = http_body_object(req)) == NULL)
            return -1;
        v = json_object_get(body, "reason");
        r = json_string_value(v);
    }
    if (r != NULL) {
        chars = meta_utf8_check(r, strlen(r), true);
        if (chars < 0 || chars > REASON_MAX || strlen(r) >= len) {
            json_decref(body);
            http_error(req, MHD_HTTP_BAD_REQUEST, "bad_reason",
                       "reason: text of at most %d characters", REASON_MAX);
            return -1;
        }
        snprintf(out, len, "%s", r);
    }
    json_decref(body);
    if (required && out[strspn(out, " \t\n")] == '\0') {
        http_error(req, MHD_HTTP_BAD_REQUEST, "reason_required",
                   "reason: say why");
        return -1;
    }
    return 0;
}

/* Answers 404 or 409 for a transition that changed no row. */
static int not_applicable(struct request *req, struct db *db, const char *id,
                          const char *what)
{
    struct db_stmt *st = db_stmt(db, STMT_MSG_STATUS);
    char status[16] = "";

    if (st != NULL) {
        db_bind_text(st, 1, id);
        if (db_step(st) == DB_ROW) {
            snprintf(status, sizeof(status), "%s", db_col_text(st, 0));
            db_reset(st);
        }
    }
    if (status[0] == '\0')
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    return http_error(req, MHD_HTTP_CONFLICT, "conflict",
                      "the message is %s: it cannot be %s", status, what);
}

/*
 * Runs the state change stmt (binds: id, and per statement) and its
 * audit row in one transaction. Returns the answered status.
 */
static int transition(struct request *req, enum stmt which, const char *to,
                      const char *action, const char *what, bool need_reason)
{
    char id[UTIL_ID_LEN + 1], reason[REASON_MAX * 4 + 1];
    struct db_stmt *st;
    struct db *db;
    int64_t now = util_now();
    int changed = -1;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if (read_reason(req, need_reason, reason, sizeof(reason)) != 0)
        return req->status;
    db = db_pool_get(req->app->db);
    if (db_begin(db) < 0 || (st = db_stmt(db, which)) == NULL)
        goto out;
    db_bind_text(st, 1, id);
    if (which == STMT_MSG_DECIDE) {
        db_bind_text(st, 2, to);
        db_bind_int(st, 3, req->session.user_id);
        db_bind_int(st, 4, now);
        db_bind_text(st, 5, reason[0] != '\0' ? reason : NULL);
    } else {
        db_bind_int(st, 2, now);
    }
    if (db_step(st) < 0)
        goto out;
    changed = db_changes(db) > 0;
    if (changed && which == STMT_MSG_RETRY && queue_enqueue(db, id) < 0)
        changed = -1;
    if (changed == 1 && (audit_append(db, req->session.username, action, id,
                                      reason[0] != '\0' ? reason : NULL) < 0 ||
                         db_commit(db) < 0))
        changed = -1;
out:
    db_rollback(db);
    if (changed == 0)
        not_applicable(req, db, id, what);
    db_pool_put(req->app->db, db);
    if (changed < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    if (changed == 1) {
        log_info("message %s: %s by %s", id, action, req->session.username);
        http_json(req, MHD_HTTP_OK,
                  json_pack("{s:s, s:s}", "id", id, "status", to));
    }
    return req->status;
}

int panel_approve(struct request *req)
{
    return transition(req, STMT_MSG_DECIDE, "approved", "message.approve",
                      "approved", false);
}

int panel_reject(struct request *req)
{
    return transition(req, STMT_MSG_DECIDE, "rejected", "message.reject",
                      "rejected", true);
}

int panel_reopen(struct request *req)
{
    return transition(req, STMT_MSG_REOPEN, "pending", "message.reopen",
                      "re-opened", false);
}

int panel_retry(struct request *req)
{
    char id[UTIL_ID_LEN + 1];

    /* Without its original there is nothing to process again. */
    if (router_param(&req->match, "id", id, sizeof(id)) >= 0 &&
        util_is_id(id) &&
        storage_size(req->app->cfg->data_dir, STORAGE_INCOMING, id) < 0 &&
        storage_size(req->app->cfg->data_dir, STORAGE_ORIGINAL, id) < 0)
        return http_error(req, MHD_HTTP_CONFLICT, "no_original",
                          "the uploaded file is gone; it cannot be retried");
    return transition(req, STMT_MSG_RETRY, "processing", "message.retry",
                      "retried", false);
}

int panel_reshared(struct request *req)
{
    static const char *const channels[] = {
        "Facebook", "Instagram", "X",    "Telegram", "YouTube",
        "TikTok",   "website",   "VK",   "WhatsApp", "Bluesky",
        "Mastodon", "press",     "other"};
    char id[UTIL_ID_LEN + 1], reason[2100];
    json_t *body;
    const char *channel, *url;
    struct db_stmt *st;
    struct db *db;
    long chars;
    int changed = -1;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if ((body = http_body_object(req)) == NULL)
        return req->status;
    channel = json_string_value(json_object_get(body, "channel"));
    url = json_string_value(json_object_get(body, "url"));
    /* A known channel, or a short free-text one. */
    chars =
        channel != NULL ? meta_utf8_check(channel, strlen(channel), false) : -1;
    if (chars < 1 || chars > 64) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_channel",
                          "channel: where it was posted, e.g. Telegram");
    }
    for (size_t i = 0; i < ARRAY_LEN(channels); i++)
        if (strcasecmp(channel, channels[i]) == 0)
            channel = channels[i];
    if (url != NULL && url[0] == '\0')
        url = NULL;
    if (url != NULL &&
        ((strncmp(url, "https://", 8) != 0 &&
          strncmp(url, "http://", 7) != 0) ||
         strlen(url) > 2000 || meta_utf8_check(url, strlen(url), false) < 0 ||
         strchr(url, ' ') != NULL)) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_url",
                          "url: an http(s) address of the post");
    }
    snprintf(reason, sizeof(reason), "%s%s%s", channel, url ? " " : "",
             url ? url : "");
    db = db_pool_get(req->app->db);
    if (db_begin(db) < 0 || (st = db_stmt(db, STMT_RESHARE_INSERT)) == NULL)
        goto out;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, channel);
    db_bind_text(st, 3, url);
    db_bind_int(st, 4, req->session.user_id);
    db_bind_int(st, 5, util_now());
    if (db_step(st) < 0)
        goto out;
    changed = db_changes(db) > 0;
    if (changed == 1 && (audit_append(db, req->session.username,
                                      "message.reshared", id, reason) < 0 ||
                         db_commit(db) < 0))
        changed = -1;
out:
    db_rollback(db);
    if (changed == 0)
        not_applicable(req, db, id, "marked reshared");
    db_pool_put(req->app->db, db);
    if (changed < 0)
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "database error");
    else if (changed == 1)
        http_json(req, MHD_HTTP_CREATED,
                  json_pack("{s:s, s:s, s:s?}", "id", id, "channel", channel,
                            "url", url));
    json_decref(body); /* channel and url point into it */
    return req->status;
}

int panel_audit(struct request *req)
{
    const char *cursor = http_query(req, "cursor");
    const char *limit_s = http_query(req, "limit");
    long limit = 100;
    int64_t before = INT64_MAX, last = 0;
    struct db_stmt *st;
    struct db *db;
    json_t *items = json_array();
    int rc = DB_ERROR, n = 0;

    if (limit_s != NULL &&
        ((limit = strtol(limit_s, NULL, 10)) < 1 || limit > 500))
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_limit",
                          "limit: 1 to 500");
    if (cursor != NULL && (before = strtoll(cursor, NULL, 10)) <= 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_cursor",
                          "cursor: pass next_cursor back as it came");
    db = db_pool_get(req->app->db);
    if ((st = db_stmt(db, STMT_AUDIT_LIST)) != NULL) {
        db_bind_text(st, 1, http_query(req, "action"));
        db_bind_text(st, 2, http_query(req, "target"));
        db_bind_text(st, 3, http_query(req, "actor"));
        db_bind_int(st, 4, before);
        db_bind_int(st, 5, limit);
        while ((rc = db_step(st)) == DB_ROW) {
            json_t *it = json_object();
            last = db_col_int(st, 0);
            json_object_set_new(it, "id", json_integer(last));
            set_time(it, "at", db_col_int(st, 1));
            set_text(it, "actor", st, 2);
            set_text(it, "action", st, 3);
            set_text(it, "target", st, 4);
            set_text(it, "reason", st, 5);
            json_array_append_new(items, it);
            n++;
        }
    }
    db_pool_put(req->app->db, db);
    if (rc != DB_DONE) {
        json_decref(items);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    }
    if (n == limit) {
        char next[24];
        snprintf(next, sizeof(next), "%lld", (long long)last);
        return http_json(
            req, MHD_HTTP_OK,
            json_pack("{s:o, s:s}", "items", items, "next_cursor", next));
    }
    return http_json(req, MHD_HTTP_OK,
                     json_pack("{s:o, s:n}", "items", items, "next_cursor"));
}

static bool from_loopback(const struct request *req)
{
    const struct sockaddr *sa = http_client_addr(req);

    if (sa != NULL && sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)
                          ->sin_addr.s_addr) >>
                24) == 127;
    if (sa != NULL && sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(
            &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
    return false;
}

/* Appends printf output to the growing buffer b (a jansson-free text). */
struct text {
    char *p;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t,
                                                           const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        char *np = realloc(t->p, t->cap * 2 + (size_t)n);
        if (np == NULL)
            return;
        t->p = np;
        t->cap = t->cap * 2 + (size_t)n;
    }
}

int panel_metrics(struct request *req)
{
    static const char *const bucket[] = {"1",  "5",   "15",  "30",
                                         "60", "120", "300", "600"};
    const char *token = req->app->cfg->metrics_token;
    const char *auth = http_header(req, "Authorization");
    struct text t = {malloc(4096), 0, 4096};
    struct MHD_Response *resp;
    struct db_stmt *st;
    struct db *db;
    int64_t queued = 0;

    if (!from_loopback(req) &&
        (token[0] == '\0' || auth == NULL || strncmp(auth, "Bearer ", 7) != 0 ||
         strlen(auth + 7) != strlen(token) ||
         util_memcmp_ct(auth + 7, token, strlen(token)) != 0)) {
        free(t.p);
        return http_error(req, MHD_HTTP_FORBIDDEN, "forbidden",
                          "metrics are for loopback or --metrics-token");
    }
    if (t.p == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    db = db_pool_get(req->app->db);
    text_add(&t, "# HELP chorus_messages Messages by status.\n"
                 "# TYPE chorus_messages gauge\n");
    if ((st = db_stmt(db, STMT_MSG_COUNTS)) != NULL)
        while (db_step(st) == DB_ROW)
            text_add(&t, "chorus_messages{status=\"%s\"} %lld\n",
                     db_col_text(st, 0), (long long)db_col_int(st, 1));
    text_add(&t, "# HELP chorus_jobs Jobs by state.\n"
                 "# TYPE chorus_jobs gauge\n");
    if ((st = db_stmt(db, STMT_JOB_COUNTS)) != NULL)
        while (db_step(st) == DB_ROW) {
            if (strcmp(db_col_text(st, 0), "queued") == 0)
                queued = db_col_int(st, 1);
            text_add(&t, "chorus_jobs{state=\"%s\"} %lld\n", db_col_text(st, 0),
                     (long long)db_col_int(st, 1));
        }
    text_add(&t,
             "# HELP chorus_queue_depth Jobs waiting for a worker.\n"
             "# TYPE chorus_queue_depth gauge\nchorus_queue_depth %lld\n",
             (long long)queued);
    text_add(&t,
             "# HELP chorus_uploads_started_total Uploads begun since "
             "start.\n# TYPE chorus_uploads_started_total counter\n"
             "chorus_uploads_started_total %lld\n"
             "# HELP chorus_uploads_finished_total Uploads received "
             "whole since start.\n"
             "# TYPE chorus_uploads_finished_total counter\n"
             "chorus_uploads_finished_total %lld\n",
             (long long)atomic_load(&req->app->uploads_started),
             (long long)atomic_load(&req->app->uploads_finished));
    if ((st = db_stmt(db, STMT_JOB_SECONDS)) != NULL && db_step(st) == DB_ROW) {
        text_add(&t, "# HELP chorus_transcode_seconds Wall time of "
                     "successful transcodes.\n"
                     "# TYPE chorus_transcode_seconds histogram\n");
        for (size_t i = 0; i < ARRAY_LEN(bucket); i++)
            text_add(&t, "chorus_transcode_seconds_bucket{le=\"%s\"} %lld\n",
                     bucket[i], (long long)db_col_double(st, 2 + (int)i));
        text_add(&t,
                 "chorus_transcode_seconds_bucket{le=\"+Inf\"} %lld\n"
                 "chorus_transcode_seconds_sum %.3f\n"
                 "chorus_transcode_seconds_count %lld\n",
                 (long long)db_col_int(st, 0), db_col_double(st, 1),
                 (long long)db_col_int(st, 0));
        db_reset(st);
    }
    db_pool_put(req->app->db, db);
    resp = MHD_create_response_from_buffer(t.len, t.p, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(t.p);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    }
    http_respond(req, MHD_HTTP_OK, resp);
    http_header_add(req, "Content-Type", "text/plain; version=0.0.4");
    return req->status;
}
