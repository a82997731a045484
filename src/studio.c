#include "chorus/studio.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "chorus/app.h"
#include "chorus/audit.h"
#include "chorus/captions.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/objstore.h"
#include "chorus/queue.h"
#include "chorus/storage.h"
#include "chorus/util.h"

const char *const studio_formats[STUDIO_FORMATS] = {"9x16", "1x1", "4x5",
                                                    "16x9"};

/* What the studio reads of a message (STMT_STUDIO_MESSAGE). */
struct studio_msg {
    enum msg_state state;
    int64_t campaign, duration_ms;
    struct caption_span spans[256];
    size_t nspans;
};

/* The spans of speech of facts (JSON text, may be NULL) into m. */
static void read_spans(const char *facts, struct studio_msg *m)
{
    json_t *j = facts != NULL ? json_loads(facts, 0, NULL) : NULL;
    json_t *speech = json_object_get(j, "speech"), *span;
    size_t i;

    m->nspans = 0;
    json_array_foreach(speech, i, span)
    {
        if (m->nspans == ARRAY_LEN(m->spans))
            break;
        if (json_is_number(json_array_get(span, 0)) &&
            json_is_number(json_array_get(span, 1))) {
            m->spans[m->nspans].start =
                json_number_value(json_array_get(span, 0));
            m->spans[m->nspans].end =
                json_number_value(json_array_get(span, 1));
            m->nspans++;
        }
    }
    json_decref(j);
}

/*
 * Reads message id as req's user may see it into *m (sight at least
 * `need`). Returns 0, or the status answered: 404 for a message that is
 * not there or not theirs to see, 503, 500.
 */
static int load_message(struct request *req, struct db *db, const char *id,
                        enum msg_sight need, struct studio_msg *m)
{
    struct db_stmt *st = db_stmt(db, STMT_STUDIO_MESSAGE);
    int rc, s;

    memset(m, 0, sizeof(*m));
    if (st == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    db_bind_text(st, 1, id);
    if ((rc = db_step(st)) < 0)
        return http_db_error(req, rc);
    if (rc == DB_ROW && (s = message_state_parse(db_col_text(st, 0))) >= 0 &&
        message_sight_in(req->session.role, req->session.campaigns,
                         (enum msg_state)s, db_col_int(st, 1)) >= need) {
        m->state = (enum msg_state)s;
        m->campaign = db_col_int(st, 1);
        m->duration_ms = db_col_int(st, 2);
        read_spans(db_col_text(st, 3), m);
        db_reset(st);
        return 0;
    }
    if (rc == DB_ROW)
        db_reset(st);
    return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such message");
}

/* The message id and the language of the route (lang's extension, if
 * any, into ext: "", "vtt" or "srt"). Returns 0, or the status answered. */
static int route_params(struct request *req, char id[UTIL_ID_LEN + 1],
                        char lang[36], char ext[4])
{
    char raw[48];
    char *dot;

    ext[0] = '\0';
    if (router_param(&req->match, "id", id, UTIL_ID_LEN + 1) < 0 ||
        !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if (router_param(&req->match, "lang", raw, sizeof(raw)) < 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_language",
                          "lang: a BCP 47 language tag, e.g. be");
    if ((dot = strrchr(raw, '.')) != NULL) {
        if (strcmp(dot, ".vtt") != 0 && strcmp(dot, ".srt") != 0)
            return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                              "a transcript is .vtt or .srt");
        snprintf(ext, 4, "%s", dot + 1);
        *dot = '\0';
    }
    if (meta_language_normalize(raw, lang) != 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_language",
                          "lang: a BCP 47 language tag, e.g. be");
    return 0;
}

/* The cues as stored: [[start_ms, end_ms, "text"], ...]; NULL if out of
 * memory. */
static char *cues_json(const struct caption_list *l)
{
    json_t *a = json_array();
    char *text;

    for (size_t i = 0; a != NULL && i < l->n; i++)
        if (json_array_append_new(
                a, json_pack("[I,I,s]", (json_int_t)l->cues[i].start_ms,
                             (json_int_t)l->cues[i].end_ms, l->cues[i].text)) !=
            0) {
            json_decref(a);
            return NULL;
        }
    text = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

/* Reads stored cues (text) into l. Returns 0, or -1. */
static int cues_parse(const char *text, struct caption_list *l)
{
    json_t *a = text != NULL ? json_loads(text, 0, NULL) : NULL, *c;
    size_t i;
    int rc = json_is_array(a) ? 0 : -1;

    json_array_foreach(a, i, c)
    {
        if (rc != 0)
            break;
        if (!json_is_integer(json_array_get(c, 0)) ||
            !json_is_integer(json_array_get(c, 1)) ||
            !json_is_string(json_array_get(c, 2)) ||
            captions_add(l, json_integer_value(json_array_get(c, 0)),
                         json_integer_value(json_array_get(c, 1)),
                         json_string_value(json_array_get(c, 2))) != 0)
            rc = -1;
    }
    json_decref(a);
    return rc;
}

/* The cues as the API gives them: [{"start", "end", "text"}] in
 * seconds. */
static json_t *cues_api(const struct caption_list *l)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < l->n; i++)
        json_array_append_new(a,
                              json_pack("{s:f, s:f, s:s}", "start",
                                        (double)l->cues[i].start_ms / 1000,
                                        "end", (double)l->cues[i].end_ms / 1000,
                                        "text", l->cues[i].text));
    return a;
}

/*
 * The cues of body into l: "text" split and timed over m's speech, or
 * "cues" checked. Returns 0 with *timed_by set, or the status answered
 * (400).
 */
static int body_cues(struct request *req, json_t *body,
                     const struct studio_msg *m, struct caption_list *l,
                     const char **timed_by)
{
    json_t *text = json_object_get(body, "text");
    json_t *cues = json_object_get(body, "cues"), *c;
    char err[160];
    size_t i;

    if ((text != NULL) == (cues != NULL))
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_transcript",
                          "give either text or cues");
    if (text != NULL) {
        const char *s = json_string_value(text);
        long chars = s != NULL ? meta_utf8_check(s, strlen(s), true) : -1;

        if (chars < 1 || chars > CAPTIONS_TEXT_MAX)
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_text",
                              "text: the words said, 1 to %d characters",
                              CAPTIONS_TEXT_MAX);
        if (captions_split(s, l) <= 0)
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_text",
                              "text: nothing to caption, or too long");
        captions_time(l, m->spans, m->nspans,
                      m->duration_ms > 0 ? m->duration_ms : 1);
        *timed_by = "chorus";
        return 0;
    }
    if (!json_is_array(cues) || json_array_size(cues) == 0 ||
        json_array_size(cues) > CAPTIONS_MAX_CUES)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_cues",
                          "cues: a list of 1 to %d {start, end, text}",
                          CAPTIONS_MAX_CUES);
    json_array_foreach(cues, i, c)
    {
        json_t *a = json_object_get(c, "start"), *b = json_object_get(c, "end");
        const char *t = json_string_value(json_object_get(c, "text"));
        long chars = t != NULL ? meta_utf8_check(t, strlen(t), true) : -1;
        double sa = json_number_value(a), sb = json_number_value(b);

        if (!json_is_number(a) || !json_is_number(b) || !isfinite(sa) ||
            !isfinite(sb) || sa < 0 || sb < 0 || sa > 1e6 || sb > 1e6)
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_cues",
                              "cue %zu: start and end are seconds", i + 1);
        if (chars < 0 || chars > CAPTIONS_CUE_MAX)
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_cues",
                              "cue %zu: text of at most %d characters", i + 1,
                              CAPTIONS_CUE_MAX);
        if (captions_add(l, (int64_t)llround(sa * 1000),
                         (int64_t)llround(sb * 1000), t) != 0)
            return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                              "out of memory");
    }
    if (captions_check(l, m->duration_ms, err, sizeof(err)) != 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_cues", "%s", err);
    *timed_by = "editor";
    return 0;
}

int studio_transcript_put(struct request *req)
{
    char id[UTIL_ID_LEN + 1], lang[36], ext[4];
    struct caption_list l;
    struct studio_msg m;
    struct db_stmt *st;
    struct db *db = NULL;
    const char *timed_by = NULL;
    char *stored = NULL, *joined = NULL;
    json_t *body = NULL;
    bool began = false;
    int rc;

    captions_init(&l);
    if (route_params(req, id, lang, ext) != 0)
        goto out;
    if (ext[0] != '\0') {
        http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such route");
        goto out;
    }
    if ((body = http_body_object(req)) == NULL)
        goto out;
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        goto out;
    }
    /* The clip's state, the transcript and its audit row: one write. */
    if ((rc = db_begin(db)) != 0) {
        http_db_error(req, rc);
        goto out;
    }
    began = true;
    if (load_message(req, db, id, SIGHT_ROW, &m) != 0)
        goto out;
    /* Only a clip that was made has a time to caption. */
    if (m.state != MSG_PENDING && m.state != MSG_APPROVED &&
        m.state != MSG_REJECTED) {
        http_error(req, MHD_HTTP_CONFLICT, "not_processed",
                   "only a processed clip has a transcript");
        goto out;
    }
    if (body_cues(req, body, &m, &l, &timed_by) != 0)
        goto out;
    if ((stored = cues_json(&l)) == NULL ||
        (joined = captions_text(&l)) == NULL) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "out of memory");
        goto out;
    }
    if ((st = db_stmt(db, STMT_TRANSCRIPT_PUT)) == NULL) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "database error");
        goto out;
    }
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, lang);
    db_bind_text(st, 3, stored);
    db_bind_text(st, 4, joined);
    db_bind_text(st, 5, timed_by);
    db_bind_text(st, 6, req->session.username);
    db_bind_int(st, 7, util_now());
    /* Who edited which language, never the words (DESIGN.md: the audit
     * log records actions, not contributors' text). */
    if ((rc = db_step(st)) < 0 ||
        (rc = audit_append(db, req->session.username, "message.transcript", id,
                           lang)) < 0 ||
        (rc = db_commit(db)) != 0) {
        http_db_error(req, rc);
        goto out;
    }
    began = false;
    log_info("message %s: transcript %s set by %s (%zu cues)", id, lang,
             req->session.username, l.n);
    http_json(req, MHD_HTTP_OK,
              json_pack("{s:s, s:s, s:s, s:o}", "id", id, "lang", lang,
                        "timed_by", timed_by, "cues", cues_api(&l)));
out:
    if (began)
        db_rollback(db);
    if (db != NULL)
        db_pool_put(req->app->db, db);
    json_decref(body);
    free(stored);
    free(joined);
    captions_release(&l);
    return req->status;
}

int studio_transcript_get(struct request *req)
{
    char id[UTIL_ID_LEN + 1], lang[36], ext[4], disp[80];
    struct caption_list l;
    struct studio_msg m;
    struct db_stmt *st;
    struct db *db = NULL;
    char *text = NULL, *timed_by = NULL;
    int rc;

    captions_init(&l);
    if (route_params(req, id, lang, ext) != 0)
        goto out;
    if ((db = db_pool_get(req->app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        goto out;
    }
    if (load_message(req, db, id, SIGHT_ROW, &m) != 0)
        goto out;
    if ((st = db_stmt(db, STMT_TRANSCRIPT_GET)) == NULL) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "database error");
        goto out;
    }
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, lang);
    if ((rc = db_step(st)) == DB_ROW) {
        rc = cues_parse(db_col_text(st, 0), &l);
        timed_by = strdup(db_col_text(st, 1) ? db_col_text(st, 1) : "");
        db_reset(st);
        if (rc != 0 || timed_by == NULL) {
            http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                       "the transcript cannot be read");
            goto out;
        }
    } else if (rc < 0) {
        http_db_error(req, rc);
        goto out;
    } else {
        http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no transcript in %s",
                   lang);
        goto out;
    }
    db_pool_put(req->app->db, db);
    db = NULL;
    if (ext[0] == '\0') {
        http_json(req, MHD_HTTP_OK,
                  json_pack("{s:s, s:s, s:s, s:o}", "id", id, "lang", lang,
                            "timed_by", timed_by, "cues", cues_api(&l)));
        goto out;
    }
    text = strcmp(ext, "vtt") == 0 ? captions_vtt(&l) : captions_srt(&l);
    if (text == NULL) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "out of memory");
        goto out;
    }
    {
        size_t len = strlen(text);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);

        if (resp == NULL) {
            http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                       "out of memory");
            goto out;
        }
        text = NULL; /* the response's now */
        http_respond(req, MHD_HTTP_OK, resp);
    }
    /* lang is normalised: letters, digits and '-' only. */
    snprintf(disp, sizeof(disp), "inline; filename=\"%s.%s\"", lang, ext);
    http_header_add(req, "Content-Type",
                    strcmp(ext, "vtt") == 0 ? "text/vtt; charset=utf-8"
                                            : "application/x-subrip; "
                                              "charset=utf-8");
    http_header_add(req, "Content-Disposition", disp);
    http_header_add(req, "Cache-Control", "private, no-cache");
out:
    if (db != NULL)
        db_pool_put(req->app->db, db);
    free(text);
    free(timed_by);
    captions_release(&l);
    return req->status;
}

int studio_transcript_list(struct request *req)
{
    char id[UTIL_ID_LEN + 1];
    struct studio_msg m;
    struct db_stmt *st;
    struct db *db;
    json_t *items = json_array();
    int rc = DB_DONE;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 ||
        !util_is_id(id)) {
        json_decref(items);
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    }
    if ((db = db_pool_get(req->app->db)) == NULL) {
        json_decref(items);
        return http_db_error(req, DB_BUSY);
    }
    if (load_message(req, db, id, SIGHT_ROW, &m) == 0) {
        if ((st = db_stmt(db, STMT_TRANSCRIPT_LIST)) == NULL)
            rc = DB_ERROR;
        else
            db_bind_text(st, 1, id);
        while (st != NULL && (rc = db_step(st)) == DB_ROW) {
            char when[21];
            util_iso8601(db_col_int(st, 3), when);
            json_array_append_new(
                items,
                json_pack("{s:s, s:s, s:s?, s:s}", "lang", db_col_text(st, 0),
                          "timed_by", db_col_text(st, 1), "updated_by",
                          db_col_text(st, 2), "updated_at", when));
        }
        if (rc < 0)
            http_db_error(req, rc);
        else
            http_json(req, MHD_HTTP_OK, json_pack("{s:O}", "items", items));
    }
    db_pool_put(req->app->db, db);
    json_decref(items);
    return req->status;
}

/* ---- versions -------------------------------------------------------- */

/* The name of a version v (its format, captions and what it shows). */
static void version_name(struct studio_version *v)
{
    char lang[36];
    size_t i;

    snprintf(lang, sizeof(lang), "%s", v->captions);
    for (i = 0; lang[i] != '\0'; i++)
        if (lang[i] >= 'A' && lang[i] <= 'Z')
            lang[i] = (char)(lang[i] - 'A' + 'a');
    snprintf(v->name, sizeof(v->name), "%s%s%s%s%s", studio_formats[v->format],
             lang[0] != '\0' ? "-" : "", lang, v->credit ? "-c" : "",
             v->branding ? "-b" : "");
}

/* Reads a version request from JSON object o. 0, or -1 with why. */
static int version_from(json_t *o, struct studio_version *v, const char **why)
{
    const char *format = json_string_value(json_object_get(o, "format"));
    json_t *captions = json_object_get(o, "captions");
    json_t *credit = json_object_get(o, "credit");
    json_t *branding = json_object_get(o, "branding");

    memset(v, 0, sizeof(*v));
    v->format = -1;
    for (int i = 0; format != NULL && i < STUDIO_FORMATS; i++)
        if (strcmp(format, studio_formats[i]) == 0)
            v->format = i;
    if (v->format < 0) {
        *why = "format: 9x16, 1x1, 4x5 or 16x9";
        return -1;
    }
    if (captions != NULL && !json_is_null(captions) &&
        (!json_is_string(captions) ||
         meta_language_normalize(json_string_value(captions), v->captions) !=
             0)) {
        *why = "captions: the language of a transcript, or null";
        return -1;
    }
    if ((credit != NULL && !json_is_boolean(credit)) ||
        (branding != NULL && !json_is_boolean(branding))) {
        *why = "credit and branding: true or false";
        return -1;
    }
    v->credit = credit == NULL || json_is_true(credit);
    v->branding = branding == NULL || json_is_true(branding);
    version_name(v);
    return 0;
}

int studio_version_parse(const char *args, struct studio_version *v)
{
    json_t *o = args != NULL ? json_loads(args, 0, NULL) : NULL;
    const char *why;
    int rc = o != NULL ? version_from(o, v, &why) : -1;

    json_decref(o);
    return rc;
}

/* A version as the API gives it. */
static json_t *version_item(const char *id, const struct studio_version *v,
                            const char *state, double progress,
                            const char *error)
{
    char url[128], preview[128];
    bool done = strcmp(state, "done") == 0;

    snprintf(url, sizeof(url), "/media/%s/v/%s.mp4", id, v->name);
    snprintf(preview, sizeof(preview), "/media/%s/v/%s.jpg", id, v->name);
    return json_pack("{s:s, s:s, s:s?, s:b, s:b, s:s, s:f, s:s?, s:s?, s:s?}",
                     "name", v->name, "format", studio_formats[v->format],
                     "captions", v->captions[0] ? v->captions : NULL, "credit",
                     v->credit, "branding", v->branding, "state", state,
                     "progress", done ? 1.0 : progress, "error", error, "url",
                     done ? url : NULL, "preview", done ? preview : NULL);
}

/* True if version v of message id is still on disk or in the bucket. */
static bool version_kept(struct request *req, const char *id,
                         const struct studio_version *v)
{
    struct objstore_file f;
    char name[64];
    int rc;

    if (util_fmt(name, sizeof(name), "v-%s.mp4", v->name) != 0)
        return false;
    rc = objstore_file_open(req->app->store, req->app->cfg->data_dir, id, name,
                            &f);
    objstore_file_close(&f);
    return rc == 0;
}

/* True if the transcript of id in lang exists. */
static int has_transcript(struct db *db, const char *id, const char *lang)
{
    struct db_stmt *st = db_stmt(db, STMT_TRANSCRIPT_GET);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, lang);
    if ((rc = db_step(st)) == DB_ROW)
        db_reset(st);
    return rc;
}

int studio_version_post(struct request *req)
{
    char id[UTIL_ID_LEN + 1], target[UTIL_ID_LEN + STUDIO_NAME_MAX + 2];
    char *args = NULL, *state = NULL;
    struct studio_version v;
    struct studio_msg m;
    struct db_stmt *st;
    struct db *db = NULL;
    const char *why = NULL;
    json_t *body = NULL;
    bool began = false;
    int rc;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 || !util_is_id(id))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    if ((body = http_body_object(req)) == NULL)
        return req->status;
    if (version_from(body, &v, &why) != 0) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "bad_version", "%s", why);
        goto out;
    }
    {
        json_t *a = json_pack("{s:s, s:s?, s:b, s:b}", "format",
                              studio_formats[v.format], "captions",
                              v.captions[0] ? v.captions : NULL, "credit",
                              v.credit, "branding", v.branding);
        args = a != NULL ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(a);
    }
    snprintf(target, sizeof(target), "%s/%s", id, v.name);
    if (args == NULL) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "out of memory");
        goto out;
    }
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        goto out;
    }
    if ((rc = db_begin(db)) != 0) {
        http_db_error(req, rc);
        goto out;
    }
    began = true;
    if (load_message(req, db, id, SIGHT_MEDIA, &m) != 0)
        goto out;
    if (m.state != MSG_APPROVED && m.state != MSG_PENDING) {
        http_error(req, MHD_HTTP_CONFLICT, "not_approved",
                   "versions are made of approved (or pending) clips");
        goto out;
    }
    if (v.captions[0] != '\0' &&
        (rc = has_transcript(db, id, v.captions)) != DB_ROW) {
        if (rc < 0)
            http_db_error(req, rc);
        else
            http_error(req, MHD_HTTP_CONFLICT, "no_transcript",
                       "no transcript in %s to caption it with", v.captions);
        goto out;
    }
    if ((st = db_stmt(db, STMT_JOB_LAST_OF_TARGET)) == NULL) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "database error");
        goto out;
    }
    db_bind_text(st, 1, JOB_KIND_VERSION);
    db_bind_text(st, 2, target);
    if ((rc = db_step(st)) == DB_ROW) {
        state = strdup(db_col_text(st, 0) ? db_col_text(st, 0) : "failed");
        db_reset(st);
    } else if (rc < 0) {
        http_db_error(req, rc);
        goto out;
    }
    /* Made already (and still there), or on its way: as it is. */
    if (state != NULL &&
        (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0 ||
         (strcmp(state, "done") == 0 && version_kept(req, id, &v)))) {
        db_rollback(db);
        began = false;
        http_json(req, MHD_HTTP_OK, version_item(id, &v, state, 0, NULL));
        goto out;
    }
    if ((rc = queue_enqueue_kind(db, JOB_KIND_VERSION, id, target, args)) !=
            0 ||
        (rc = db_commit(db)) != 0) {
        http_db_error(req, rc);
        goto out;
    }
    began = false;
    log_info("message %s: version %s asked for by %s", id, v.name,
             req->session.username);
    http_json(req, MHD_HTTP_ACCEPTED, version_item(id, &v, "queued", 0, NULL));
out:
    if (began)
        db_rollback(db);
    if (db != NULL)
        db_pool_put(req->app->db, db);
    json_decref(body);
    free(args);
    free(state);
    return req->status;
}

int studio_version_list(struct request *req)
{
    char id[UTIL_ID_LEN + 1];
    struct studio_msg m;
    struct db_stmt *st;
    struct db *db;
    json_t *items = json_array();
    int rc = DB_DONE;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 ||
        !util_is_id(id)) {
        json_decref(items);
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such message");
    }
    if ((db = db_pool_get(req->app->db)) == NULL) {
        json_decref(items);
        return http_db_error(req, DB_BUSY);
    }
    if (load_message(req, db, id, SIGHT_MEDIA, &m) == 0) {
        if ((st = db_stmt(db, STMT_VERSIONS_OF)) == NULL)
            rc = DB_ERROR;
        else
            db_bind_text(st, 1, id);
        while (st != NULL && (rc = db_step(st)) == DB_ROW) {
            struct studio_version v;
            if (studio_version_parse(db_col_text(st, 1), &v) != 0)
                continue;
            json_array_append_new(
                items, version_item(id, &v, db_col_text(st, 2),
                                    db_col_double(st, 3), db_col_text(st, 4)));
        }
        if (rc < 0)
            http_db_error(req, rc);
        else
            http_json(req, MHD_HTTP_OK, json_pack("{s:O}", "items", items));
    }
    db_pool_put(req->app->db, db);
    json_decref(items);
    return req->status;
}
