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
#include "chorus/campaign.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/jsonw.h"
#include "chorus/library.h"
#include "chorus/log.h"
#include "chorus/media.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/storage.h"

#define LIST_LIMIT_MAX 200
#define REASON_MAX 1000

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

const char *panel_scope(const struct request *req)
{
    return req->session.role != ROLE_ADMIN && req->session.campaigns[0] != '\0'
               ? req->session.campaigns
               : NULL;
}

int panel_campaign(struct request *req, const char *slug, int64_t *id)
{
    struct campaign c;
    struct db *db = db_pool_get(req->app->db);
    int rc = db != NULL ? campaign_find(db, slug, &c) : DB_BUSY;

    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_db_error(req, rc);
    /* One outside the user's campaigns is as unknown as one not there. */
    if (rc == 0 || message_sight_in(req->session.role, panel_scope(req),
                                    MSG_APPROVED, c.id) == SIGHT_NONE)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_campaign",
                          "campaign: no such campaign");
    *id = c.id;
    return 0;
}

json_t *panel_consent(struct db *db, int64_t campaign, const char *version,
                      const char *lang, const char *fallback)
{
    json_t *texts = campaign_consent_texts(db, campaign, version);
    const char *shown = lang;
    json_t *text;

    if (texts == NULL)
        texts = json_object();
    text = json_object_get(texts, shown);
    /* Before campaigns the page did not say: the message's language,
     * else the first there is. */
    if (text == NULL && (text = json_object_get(texts, fallback)) != NULL)
        shown = fallback;
    if (text == NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(texts, k, v)
        {
            shown = k;
            text = v;
            break;
        }
    }
    return json_pack("{s:s, s:s?, s:O?, s:o}", "version", version, "language",
                     text != NULL ? shown : NULL, "text", text, "texts", texts);
}

/* Writes the stored protect list (column i) as an array of names. */
static void w_protect(struct jsonw *w, struct db_stmt *st, int i)
{
    const char *s = db_col_text(st, i);
    char name[META_PROTECT_LEN];

    jsonw_open(w, '[');
    for (const char *p = s != NULL ? s : ""; *p != '\0';) {
        size_t n = strcspn(p, ",");
        snprintf(name, sizeof(name), "%.*s", (int)n, p);
        jsonw_str(w, name);
        p += n + (p[n] == ',');
    }
    jsonw_close(w, ']');
}

/* The stored protect list (column i) as a new JSON array. */
static json_t *protect_array(struct db_stmt *st, int i)
{
    const char *s = db_col_text(st, i);
    json_t *a = json_array();

    for (const char *p = s != NULL ? s : ""; a != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        json_array_append_new(a, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return a;
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
    const char *campaign_s = http_query(req, "campaign");
    const char *limits = panel_scope(req);
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
    enum role role = req->session.role;
    int64_t campaign = 0;
    int rc, n = 0, state;

    state = status != NULL ? message_state_parse(status)
                           : (int)message_default_list(role);
    if (state < 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_status",
                          "status: one of uploading, processing, pending, "
                          "approved, rejected, failed, withdrawn");
    status = message_state_name((enum msg_state)state);
    if (message_sight(role, (enum msg_state)state) == SIGHT_NONE)
        return http_error(req, MHD_HTTP_FORBIDDEN, "forbidden",
                          "your role does not see %s messages", status);
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
                         : state == MSG_APPROVED || state == MSG_REJECTED ||
                               state == MSG_WITHDRAWN;
    if (cursor != NULL && parse_cursor(cursor, &cdate, cid) != 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_cursor",
                          "cursor: pass next_cursor back as it came");
    if (campaign_s != NULL &&
        (rc = panel_campaign(req, campaign_s, &campaign)) != 0)
        return rc;
    if (cursor == NULL) {
        cdate = desc ? INT64_MAX : INT64_MIN;
        strcpy(cid, desc ? "~" : "");
    }

    jsonw_init(&w);
    jsonw_open(&w, '{');
    jsonw_key(&w, "items");
    jsonw_open(&w, '[');
    if ((db = db_pool_get(req->app->db)) == NULL) {
        rc = DB_BUSY;
        goto done;
    }
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
    /* Withdrawn clips the comms team had used: what is left to take
     * down (used=all: also what is done). */
    if (used != NULL && strcmp(used, "all") == 0)
        db_bind_int(st, 13, 1);
    else if ((used != NULL && strcmp(used, "yes") == 0) ||
             (role == ROLE_COMMS && state == MSG_WITHDRAWN))
        db_bind_int(st, 12, 1);
    /* Approved clips purged with their campaign have nothing to show. */
    if (state == MSG_APPROVED)
        db_bind_int(st, 14, 1);
    if (campaign > 0)
        db_bind_int(st, 15, campaign);
    db_bind_text(st, 16, limits);
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
        /* The query kept to the user's campaigns; the rule says so too. */
        if (message_sight_in(role, limits, (enum msg_state)state,
                             db_col_int(st, 25)) == SIGHT_NONE)
            continue;
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
        jsonw_key(&w, "media_deleted_at");
        jsonw_time(&w, col_time(st, 21));
        jsonw_key(&w, "campaign");
        jsonw_str(&w, db_col_text(st, 26));
        jsonw_key(&w, "media_deleted_why");
        jsonw_str(&w, db_col_text(st, 22));
        /* What the contributor asked to be protected, and whether it
         * needs a moderator's look (DESIGN.md "Identity protection"). */
        jsonw_key(&w, "protect");
        w_protect(&w, st, 27);
        jsonw_key(&w, "check_protection");
        jsonw_bool(&w, db_col_int(st, 28) != 0);
        /* The name its downloads and exports carry. */
        media_file_name(db_col_text(st, 0), db_col_int(st, 9),
                        db_col_text(st, 4), db_col_text(st, 5),
                        db_col_text(st, 7) != NULL &&
                            strcmp(db_col_text(st, 7), "union") == 0,
                        "mp4", file);
        /* A withdrawn clip's copies are found by the end of their names:
         * the date, country and language in them went with the row. */
        if (state == MSG_WITHDRAWN) {
            char suffix[32];
            media_file_suffix(db_col_text(st, 0), "mp4", suffix);
            snprintf(file, sizeof(file), "chorus-*%s", suffix);
        }
        jsonw_key(&w, "file");
        jsonw_str(&w, file);
        /* And its marks say which posts to take down. */
        if (state == MSG_WITHDRAWN) {
            jsonw_key(&w, "reshares_left");
            jsonw_int(&w, db_col_int(st, 23));
            jsonw_key(&w, "takedown_at");
            jsonw_time(&w, col_time(st, 24));
            jsonw_key(&w, "reshares");
            library_write_reshares(&w, db, db_col_text(st, 0));
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
        if ((st = db_stmt(db, STMT_MSG_COUNTS)) != NULL) {
            if (campaign > 0)
                db_bind_int(st, 1, campaign);
            db_bind_text(st, 2, limits);
        }
        if (st != NULL)
            while (db_step(st) == DB_ROW) {
                const char *name = db_col_text(st, 0);
                int s = message_state_parse(name);
                /* Each role counts what it may list, nothing more. */
                if (s < 0 ||
                    message_sight(role, (enum msg_state)s) == SIGHT_NONE)
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
        if (rc < 0)
            return http_db_error(req, rc);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    }
    return http_json_text(req, MHD_HTTP_OK, text, len);
}

int panel_get(struct request *req)
{
    char id[UTIL_ID_LEN + 1];
    struct db_stmt *st;
    struct db *db;
    json_t *obj = NULL, *history, *facts;
    char version[33] = "", lang[36] = "", msg_lang[36] = "";
    int64_t campaign = 0;
    int rc, state;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    st = db_stmt(db, STMT_MSG_GET);
    if (st == NULL) {
        db_pool_put(req->app->db, db);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    }
    db_bind_text(st, 1, id);
    rc = db_step(st);
    state = rc == DB_ROW ? message_state_parse(db_col_text(st, 1)) : -1;
    if (rc == DB_ROW &&
        (state < 0 ||
         message_sight_in(req->session.role, req->session.campaigns,
                          (enum msg_state)state,
                          db_col_int(st, 32)) == SIGHT_NONE)) {
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
        set_time(obj, "media_deleted_at", col_time(st, 29));
        set_text(obj, "media_deleted_why", st, 30);
        set_time(obj, "takedown_at", col_time(st, 31));
        set_text(obj, "campaign", st, 33);
        campaign = db_col_int(st, 32);
        snprintf(version, sizeof(version), "%s",
                 db_col_text(st, 8) != NULL ? db_col_text(st, 8) : "");
        snprintf(lang, sizeof(lang), "%s",
                 db_col_text(st, 34) != NULL ? db_col_text(st, 34) : "");
        snprintf(msg_lang, sizeof(msg_lang), "%s",
                 db_col_text(st, 5) != NULL ? db_col_text(st, 5) : "");
        json_object_set_new(obj, "protect", protect_array(st, 35));
        json_object_set_new(obj, "check_protection",
                            json_boolean(db_col_int(st, 36) != 0));
        set_text(obj, "decision_code", st, 37);
        db_reset(st);
        /* The exact consent text the contributor agreed to. */
        json_object_set_new(
            obj, "consent",
            panel_consent(db, campaign, version, lang, msg_lang));

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
        json_object_set_new(obj, "reshares", library_reshares(db, id));
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
 * Reads the optional or required "reason" of a decision into out, and a
 * rejection's optional "code" into *code (a static string, or NULL).
 * Returns 0, or -1 with a 400 answered.
 */
static int read_reason(struct request *req, bool required, char *out,
                       size_t len, const char **code)
{
    json_t *body = NULL, *v;
    const char *r = NULL, *c;
    long chars;

    out[0] = '\0';
    *code = NULL;
    if (req->body_len > 0 || required) {
        if ((body = http_body_object(req)) == NULL)
            return -1;
        v = json_object_get(body, "reason");
        r = json_string_value(v);
        /* A rejection's code, from the few the receipt acts on. */
        if ((v = json_object_get(body, "code")) != NULL && !json_is_null(v)) {
            c = json_string_value(v);
            if (!required || c == NULL ||
                strcmp(c, MESSAGE_CODE_PROTECTION_FAILED) != 0) {
                json_decref(body);
                http_error(req, MHD_HTTP_BAD_REQUEST, "bad_code",
                           "code: \"%s\" or none, and only to reject",
                           MESSAGE_CODE_PROTECTION_FAILED);
                return -1;
            }
            *code = MESSAGE_CODE_PROTECTION_FAILED;
        }
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

/*
 * Applies ev to message {id} for the logged-in user, with an optional or
 * required reason from the body. Answers 200 {"id", "status"}, 400, 404
 * (unknown, or not visible to the role), 409 (not from its state), 503
 * or 500; returns the status.
 */
static int decide(struct request *req, enum msg_event ev, bool need_reason)
{
    char id[UTIL_ID_LEN + 1], reason[REASON_MAX * 4 + 1];
    struct msg_actor who = {message_who_of_role(req->session.role),
                            req->session.username, req->session.user_id};
    struct msg_args args = {.scope = panel_scope(req)};
    enum msg_state from = MSG_GONE;
    struct db *db;
    int rc;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if (read_reason(req, need_reason, reason, sizeof(reason), &args.code) != 0)
        return req->status;
    args.reason = reason[0] != '\0' ? reason : NULL;
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = message_apply(db, id, ev, &who, &args, &from);
    db_pool_put(req->app->db, db);
    if (rc == MSG_OK) {
        log_info("message %s: %s by %s", id, message_event_verb(ev),
                 req->session.username);
        return http_json(req, MHD_HTTP_OK,
                         json_pack("{s:s, s:s}", "id", id, "status",
                                   message_state_name(message_event_to(ev))));
    }
    return panel_refusal(req, rc, from, ev);
}

int panel_refusal(struct request *req, int rc, enum msg_state from,
                  enum msg_event ev)
{
    switch (rc) {
    case MSG_NOT_FOUND:
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    case MSG_REFUSED:
        /* A message the role may not see does not exist for it. */
        if (message_sight(req->session.role, from) == SIGHT_NONE)
            return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                              "no such message");
        return http_error(req, MHD_HTTP_CONFLICT, "conflict",
                          "the message is %s: it cannot be %s",
                          message_state_name(from), message_event_verb(ev));
    case MSG_FORBIDDEN:
        return http_error(req, MHD_HTTP_FORBIDDEN, "forbidden",
                          "your role may not do this");
    case MSG_NO_FILES:
        return http_error(req, MHD_HTTP_CONFLICT, "no_files",
                          "the message's files were deleted: it cannot be %s",
                          message_event_verb(ev));
    case MSG_BUSY:
        http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                   "the database is busy; try again shortly");
        http_header_add(req, "Retry-After", "2");
        return req->status;
    default:
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    }
}

int panel_approve(struct request *req)
{
    return decide(req, EV_APPROVE, false);
}

int panel_reject(struct request *req)
{
    return decide(req, EV_REJECT, true);
}

int panel_reopen(struct request *req)
{
    return decide(req, EV_REOPEN, false);
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
    return decide(req, EV_RETRY, false);
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
    if ((db = db_pool_get(req->app->db)) == NULL) {
        json_decref(items);
        return http_db_error(req, DB_BUSY);
    }
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
