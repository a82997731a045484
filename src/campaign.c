#include "chorus/campaign.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "chorus/audit.h"
#include "chorus/auth.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/util.h"

/* The texts of one language, in the order of campaign_texts' columns. */
static const char *const text_keys[] = {"title", "intro", "consent", "cta"};
static const long text_max[] = {CAMPAIGN_TITLE_MAX, CAMPAIGN_INTRO_MAX,
                                CAMPAIGN_CONSENT_MAX, CAMPAIGN_CTA_MAX};
static const bool text_multiline[] = {false, true, true, false};

static const char *const state_names[] = {
    [CAMPAIGN_OPEN] = "open",
    [CAMPAIGN_NOT_YET_OPEN] = "not_yet_open",
    [CAMPAIGN_CLOSED] = "closed",
};

const char *campaign_state_name(enum campaign_state s)
{
    return (size_t)s < ARRAY_LEN(state_names) ? state_names[s] : "closed";
}

enum campaign_state campaign_state_at(const struct campaign *c, int64_t now)
{
    if (c->opens_at > 0 && now < c->opens_at)
        return CAMPAIGN_NOT_YET_OPEN;
    if (c->closes_at > 0 && now >= c->closes_at)
        return CAMPAIGN_CLOSED;
    return CAMPAIGN_OPEN;
}

bool campaign_slug_valid(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > CAMPAIGN_SLUG_MAX || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return false;
    return true;
}

/* Copies a nullable text column into out. */
static void col_copy(struct db_stmt *st, int i, char *out, size_t len)
{
    const char *s = db_col_text(st, i);

    snprintf(out, len, "%s", s != NULL ? s : "");
}

static int64_t col_time(struct db_stmt *st, int i)
{
    return db_col_is_null(st, i) ? 0 : db_col_int(st, i);
}

/* Splits "be,ru,en" into c's languages. */
static void split_langs(struct campaign *c, const char *list)
{
    c->nlangs = 0;
    while (list != NULL && *list != '\0' && c->nlangs < CAMPAIGN_LANGS_MAX) {
        size_t n = strcspn(list, ",");
        if (n > 0 && n < CAMPAIGN_LANG_LEN) {
            memcpy(c->langs[c->nlangs], list, n);
            c->langs[c->nlangs++][n] = '\0';
        }
        list += n + (list[n] == ',');
    }
}

/* Steps st (bound to one campaign) and fills *out: 1, 0, DB_* < 0. */
static int read_row(struct db_stmt *st, struct campaign *out)
{
    int rc = db_step(st);

    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : rc;
    memset(out, 0, sizeof(*out));
    out->id = db_col_int(st, 0);
    col_copy(st, 1, out->slug, sizeof(out->slug));
    split_langs(out, db_col_text(st, 2));
    col_copy(st, 3, out->consent_version, sizeof(out->consent_version));
    out->consent_seq = (int)db_col_int(st, 4);
    out->opens_at = col_time(st, 5);
    out->closes_at = col_time(st, 6);
    col_copy(st, 7, out->hashtag, sizeof(out->hashtag));
    col_copy(st, 8, out->credit_template, sizeof(out->credit_template));
    col_copy(st, 9, out->accent_color, sizeof(out->accent_color));
    out->logo_at = col_time(st, 10);
    out->adopted = db_col_int(st, 11) != 0;
    out->created_at = db_col_int(st, 12);
    out->updated_at = db_col_int(st, 13);
    db_reset(st);
    return 1;
}

int campaign_find(struct db *db, const char *slug, struct campaign *out)
{
    struct db_stmt *st;

    if (!campaign_slug_valid(slug))
        return 0;
    if ((st = db_stmt(db, STMT_CAMPAIGN_BY_SLUG)) == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, slug);
    return read_row(st, out);
}

int campaign_get(struct db *db, int64_t id, struct campaign *out)
{
    struct db_stmt *st = db_stmt(db, STMT_CAMPAIGN_BY_ID);

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 1, id);
    return read_row(st, out);
}

bool campaign_has_lang(const struct campaign *c, const char *lang)
{
    for (int i = 0; lang != NULL && i < c->nlangs; i++)
        if (strcmp(c->langs[i], lang) == 0)
            return true;
    return false;
}

const char *campaign_lang_pick(const struct campaign *c, const char *lang)
{
    size_t base;

    if (c->nlangs == 0)
        return "en";
    if (lang == NULL || lang[0] == '\0')
        return c->langs[0];
    for (int i = 0; i < c->nlangs; i++)
        if (strcasecmp(c->langs[i], lang) == 0)
            return c->langs[i];
    /* "be-BY" finds "be", and "sr" finds "sr-Latn". */
    base = strcspn(lang, "-_");
    for (int i = 0; i < c->nlangs; i++)
        if (strncasecmp(c->langs[i], lang, base) == 0 &&
            (c->langs[i][base] == '\0' || c->langs[i][base] == '-'))
            return c->langs[i];
    return c->langs[0];
}

json_t *campaign_texts(struct db *db, const struct campaign *c)
{
    struct db_stmt *st = db_stmt(db, STMT_CAMPAIGN_TEXTS);
    json_t *all;
    int rc;

    if (st == NULL)
        return NULL;
    all = json_object();
    db_bind_int(st, 1, c->id);
    while ((rc = db_step(st)) == DB_ROW) {
        const char *lang = db_col_text(st, 0);
        json_t *one = json_object();

        for (int k = 0; k < (int)ARRAY_LEN(text_keys); k++)
            if (db_col_text(st, k + 1) != NULL)
                json_object_set_new(one, text_keys[k],
                                    json_string(db_col_text(st, k + 1)));
        if (lang != NULL && campaign_has_lang(c, lang))
            json_object_set_new(all, lang, one);
        else
            json_decref(one);
    }
    if (rc != DB_DONE) {
        json_decref(all);
        return NULL;
    }
    return all;
}

json_t *campaign_texts_in(struct db *db, const struct campaign *c,
                          const char *lang)
{
    json_t *all = campaign_texts(db, c), *out, *mine, *first;
    const char *pick = campaign_lang_pick(c, lang);
    const char *consent_lang = pick;

    if (all == NULL)
        return NULL;
    mine = json_object_get(all, pick);
    first = json_object_get(all, c->nlangs > 0 ? c->langs[0] : "");
    out = json_pack("{s:s}", "lang", pick);
    for (size_t k = 0; k < ARRAY_LEN(text_keys); k++) {
        json_t *v = json_object_get(mine, text_keys[k]);

        if (v == NULL) {
            v = json_object_get(first, text_keys[k]);
            if (v != NULL && strcmp(text_keys[k], "consent") == 0)
                consent_lang = c->langs[0];
        }
        json_object_set(out, text_keys[k], v != NULL ? v : json_null());
    }
    json_object_set_new(out, "consent_language", json_string(consent_lang));
    json_decref(all);
    return out;
}

json_t *campaign_consent_texts(struct db *db, int64_t campaign_id,
                               const char *version)
{
    struct db_stmt *st = db_stmt(db, STMT_CONSENT_TEXTS_OF);
    json_t *texts;
    int rc;

    if (st == NULL)
        return NULL;
    texts = json_object();
    db_bind_int(st, 1, campaign_id);
    db_bind_text(st, 2, version);
    while ((rc = db_step(st)) == DB_ROW)
        json_object_set_new(texts, db_col_text(st, 0),
                            json_string(db_col_text(st, 1)));
    if (rc != DB_DONE) {
        json_decref(texts);
        return NULL;
    }
    return texts;
}

json_t *campaign_consent_history(struct db *db, const struct campaign *c)
{
    struct db_stmt *st = db_stmt(db, STMT_CONSENT_VERSIONS);
    json_t *list, *it;
    size_t i;
    int rc;

    if (st == NULL)
        return NULL;
    list = json_array();
    db_bind_int(st, 1, c->id);
    while ((rc = db_step(st)) == DB_ROW) {
        char at[21], gone[21];

        util_iso8601(db_col_int(st, 1), at);
        if (!db_col_is_null(st, 2))
            util_iso8601(db_col_int(st, 2), gone);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s?}", "version", db_col_text(st, 0),
                            "at", at, "superseded_at",
                            db_col_is_null(st, 2) ? NULL : gone));
    }
    if (rc != DB_DONE) {
        json_decref(list);
        return NULL;
    }
    /* Each version's texts, once the list's statement is done. */
    json_array_foreach(list, i, it)
    {
        json_t *texts = campaign_consent_texts(
            db, c->id, json_string_value(json_object_get(it, "version")));
        if (texts == NULL) {
            json_decref(list);
            return NULL;
        }
        json_object_set_new(it, "texts", texts);
    }
    return list;
}

/* ---- admission ------------------------------------------------------- */

/*
 * Whether version of campaign c may be named by an upload at now: its
 * current one, or one superseded within the grace. 1, 0, DB_* < 0.
 */
static int consent_current_enough(struct db *db, const struct campaign *c,
                                  const char *version, int64_t now)
{
    struct db_stmt *st;
    int rc, ok;

    if (strcmp(version, c->consent_version) == 0)
        return 1;
    if ((st = db_stmt(db, STMT_CONSENT_VERSION_GET)) == NULL)
        return DB_ERROR;
    db_bind_int(st, 1, c->id);
    db_bind_text(st, 2, version);
    rc = db_step(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : rc;
    ok = !db_col_is_null(st, 1) &&
         now - db_col_int(st, 1) < CAMPAIGN_CONSENT_GRACE_S;
    db_reset(st);
    return ok;
}

int campaign_admit(struct db *db, struct message_meta *meta, int64_t now,
                   struct campaign *c)
{
    const char *slug =
        meta->campaign[0] != '\0' ? meta->campaign : CAMPAIGN_DEFAULT_SLUG;
    int rc = campaign_find(db, slug, c);

    if (rc <= 0)
        return rc == 0 ? CAMPAIGN_ADMIT_UNKNOWN : rc;
    if (campaign_state_at(c, now) != CAMPAIGN_OPEN)
        return CAMPAIGN_ADMIT_CLOSED;
    if (meta->consent_version[0] == '\0')
        snprintf(meta->consent_version, sizeof(meta->consent_version), "%s",
                 c->consent_version);
    if ((rc = consent_current_enough(db, c, meta->consent_version, now)) <= 0)
        return rc == 0 ? CAMPAIGN_ADMIT_CONSENT : rc;
    if (meta->consent_language[0] == '\0')
        snprintf(meta->consent_language, sizeof(meta->consent_language), "%s",
                 campaign_lang_pick(c, NULL));
    else if (!campaign_has_lang(c, meta->consent_language))
        return CAMPAIGN_ADMIT_LANGUAGE;
    snprintf(meta->campaign, sizeof(meta->campaign), "%s", c->slug);
    meta->campaign_id = c->id;
    return CAMPAIGN_ADMIT_OK;
}

/* ---- dates ------------------------------------------------------------ */

/* Reads n digits at *p as a number; -1 if they are not digits. */
static int digits(const char **p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    return v;
}

int campaign_parse_time(const char *s, int64_t *out)
{
    const char *p = s;
    struct tm tm;
    int y, mo, d, h, mi, sec, off = 0;
    time_t t;

    if (s == NULL || strlen(s) > 40)
        return -1;
    memset(&tm, 0, sizeof(tm));
    if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 ||
        *p++ != '-' || (d = digits(&p, 2)) < 0 ||
        (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if ((h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0 ||
        *p++ != ':' || (sec = digits(&p, 2)) < 0)
        return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if ((oh = digits(&p, 2)) < 0 || *p++ != ':' ||
            (om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec > 59 ? 59 : sec;
    t = timegm(&tm);
    /* timegm normalises the 31st of February: that is not a date. */
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        return -1;
    *out = (int64_t)t - off;
    return 0;
}

/* ---- saving ----------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int
invalid(struct campaign_error *err, const char *field, const char *fmt, ...)
{
    va_list ap;

    snprintf(err->field, sizeof(err->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return CAMPAIGN_INVALID;
}

/* A text value of the API: a string within max characters (NULL for
 * null or ""), else -1. */
static int text_value(const json_t *v, long max, bool multiline,
                      const char **out)
{
    const char *s;
    long chars;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    if (s[0] == '\0')
        return 0;
    chars = meta_utf8_check(s, strlen(s), multiline);
    if (chars < 0 || chars > max)
        return -1;
    *out = s;
    return 0;
}

/* Sets c's languages from the API's array; 0, or CAMPAIGN_INVALID. */
static int apply_langs(struct campaign *c, const json_t *v,
                       struct campaign_error *err)
{
    struct campaign next = *c;
    size_t i;
    json_t *it;

    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > CAMPAIGN_LANGS_MAX)
        return invalid(err, "languages",
                       "languages: an array of 1 to %d language tags, the "
                       "first the fallback",
                       CAMPAIGN_LANGS_MAX);
    next.nlangs = 0;
    json_array_foreach(v, i, it)
    {
        char tag[CAMPAIGN_LANG_LEN];

        if (!json_is_string(it) ||
            meta_language_normalize(json_string_value(it), tag) != 0)
            return invalid(err, "languages",
                           "languages: \"%.40s\" is not a language tag we "
                           "take",
                           json_is_string(it) ? json_string_value(it) : "?");
        if (campaign_has_lang(&next, tag))
            return invalid(err, "languages", "languages: %s is there twice",
                           tag);
        snprintf(next.langs[next.nlangs++], CAMPAIGN_LANG_LEN, "%s", tag);
    }
    memcpy(c->langs, next.langs, sizeof(c->langs));
    c->nlangs = next.nlangs;
    return 0;
}

/* Merges the API's "texts" into texts (the campaign's, owned). */
static int apply_texts(const struct campaign *c, json_t *texts, const json_t *v,
                       struct campaign_error *err)
{
    const char *lang;
    json_t *fields;

    if (!json_is_object(v))
        return invalid(err, "texts",
                       "texts: {\"<language>\": {\"title\", \"intro\", "
                       "\"consent\", \"cta\"}}");
    json_object_foreach((json_t *)v, lang, fields)
    {
        char tag[CAMPAIGN_LANG_LEN], field[64];
        const char *key;
        json_t *val, *mine;

        if (meta_language_normalize(lang, tag) != 0 ||
            !campaign_has_lang(c, tag))
            return invalid(err, "texts",
                           "texts.%.36s: not one of the campaign's "
                           "languages",
                           lang);
        if (!json_is_object(fields))
            return invalid(err, "texts", "texts.%s: an object", tag);
        if ((mine = json_object_get(texts, tag)) == NULL) {
            mine = json_object();
            json_object_set_new(texts, tag, mine);
        }
        json_object_foreach(fields, key, val)
        {
            size_t k;
            const char *s;

            for (k = 0; k < ARRAY_LEN(text_keys); k++)
                if (strcmp(key, text_keys[k]) == 0)
                    break;
            snprintf(field, sizeof(field), "texts.%s.%.12s", tag, key);
            if (k == ARRAY_LEN(text_keys))
                return invalid(err, field,
                               "%s: not a text (title, intro, consent, cta)",
                               field);
            if (text_value(val, text_max[k], text_multiline[k], &s) != 0)
                return invalid(
                    err, field, "%s: text of at most %ld characters%s", field,
                    text_max[k], text_multiline[k] ? "" : " on one line");
            if (s == NULL)
                json_object_del(mine, key);
            else
                json_object_set_new(mine, key, json_string(s));
        }
    }
    return 0;
}

/* A date key: RFC 3339 or null. */
static int apply_time(const json_t *v, const char *key, int64_t *out,
                      struct campaign_error *err)
{
    int64_t t;

    if (json_is_null(v) || (json_is_string(v) && !json_string_length(v))) {
        *out = 0;
        return 0;
    }
    if (!json_is_string(v) || campaign_parse_time(json_string_value(v), &t) ||
        t <= 0)
        return invalid(err, key,
                       "%s: an RFC 3339 time such as "
                       "2026-05-01T09:00:00+03:00, or null",
                       key);
    *out = t;
    return 0;
}

/* A one-line text key into out (empty for null). */
static int apply_line(const json_t *v, const char *key, long max, char *out,
                      size_t len, struct campaign_error *err)
{
    const char *s;

    if (text_value(v, max, false, &s) != 0 || (s && strlen(s) >= len))
        return invalid(err, key,
                       "%s: text of at most %ld characters on one "
                       "line, or null",
                       key, max);
    snprintf(out, len, "%s", s != NULL ? s : "");
    return 0;
}

static int apply_color(const json_t *v, char out[8], struct campaign_error *err)
{
    const char *s = json_string_value(v);

    if (json_is_null(v) || (s != NULL && s[0] == '\0')) {
        out[0] = '\0';
        return 0;
    }
    if (s == NULL || strlen(s) != 7 || s[0] != '#')
        goto bad;
    for (int i = 1; i < 7; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            goto bad;
        out[i] = ch;
    }
    out[0] = '#';
    out[7] = '\0';
    return 0;
bad:
    return invalid(err, "accent_color",
                   "accent_color: \"#rrggbb\" (six hexadecimal digits), or "
                   "null");
}

/* The consent text of lang in texts, or "". */
static const char *consent_of(const json_t *texts, const char *lang)
{
    const char *s = json_string_value(
        json_object_get(json_object_get(texts, lang), "consent"));

    return s != NULL ? s : "";
}

/* True if a consent text differs between two sets of texts, over c's
 * languages and those before. */
static bool consent_changed(const struct campaign *before,
                            const struct campaign *c, const json_t *old,
                            const json_t *texts)
{
    for (int i = 0; i < c->nlangs; i++)
        if (strcmp(consent_of(old, c->langs[i]),
                   consent_of(texts, c->langs[i])) != 0)
            return true;
    for (int i = 0; i < before->nlangs; i++)
        if (!campaign_has_lang(c, before->langs[i]) &&
            consent_of(old, before->langs[i])[0] != '\0')
            return true;
    return false;
}

/* Makes a new version ("vN") the current consent of c, with the consent
 * texts of texts, superseding the one before unless c is new. 0, or
 * DB_* < 0. */
static int consent_record(struct db *db, struct campaign *c,
                          const json_t *texts, bool supersede, int64_t now)
{
    struct db_stmt *st;
    int rc;

    if (supersede) {
        if ((st = db_stmt(db, STMT_CONSENT_VERSION_SUPERSEDE)) == NULL)
            return DB_ERROR;
        db_bind_int(st, 1, c->id);
        db_bind_text(st, 2, c->consent_version);
        db_bind_int(st, 3, now);
        if ((rc = db_step(st)) < 0)
            return rc;
    }
    /* "vN", past any version of that name made before (an adopted one). */
    for (;;) {
        snprintf(c->consent_version, sizeof(c->consent_version), "v%d",
                 ++c->consent_seq);
        if ((st = db_stmt(db, STMT_CONSENT_VERSION_INSERT)) == NULL)
            return DB_ERROR;
        db_bind_int(st, 1, c->id);
        db_bind_text(st, 2, c->consent_version);
        db_bind_int(st, 3, now);
        rc = db_step(st);
        if (rc != DB_CONSTRAINT)
            break;
    }
    if (rc < 0)
        return rc;
    for (int i = 0; i < c->nlangs; i++) {
        const char *text = consent_of(texts, c->langs[i]);

        if (text[0] == '\0')
            continue;
        if ((st = db_stmt(db, STMT_CONSENT_TEXT_INSERT)) == NULL)
            return DB_ERROR;
        db_bind_int(st, 1, c->id);
        db_bind_text(st, 2, c->consent_version);
        db_bind_text(st, 3, c->langs[i]);
        db_bind_text(st, 4, text);
        if ((rc = db_step(st)) < 0)
            return rc;
    }
    return 0;
}

/* Writes c's row (insert: sets c->id). 0, or DB_* < 0. */
static int write_row(struct db *db, struct campaign *c, bool insert,
                     int64_t now)
{
    char langs[CAMPAIGN_LANGS_MAX * CAMPAIGN_LANG_LEN] = "";
    size_t used = 0;
    struct db_stmt *st;
    int rc, i = 1;

    for (int k = 0; k < c->nlangs; k++)
        used += (size_t)snprintf(langs + used, sizeof(langs) - used, "%s%s",
                                 k > 0 ? "," : "", c->langs[k]);
    st = db_stmt(db, insert ? STMT_CAMPAIGN_INSERT : STMT_CAMPAIGN_UPDATE);
    if (st == NULL)
        return DB_ERROR;
    if (insert)
        db_bind_text(st, i++, c->slug);
    else
        db_bind_int(st, i++, c->id);
    db_bind_text(st, i++, langs);
    db_bind_text(st, i++, c->consent_version);
    db_bind_int(st, i++, c->consent_seq);
    if (c->opens_at > 0)
        db_bind_int(st, i, c->opens_at);
    i++;
    if (c->closes_at > 0)
        db_bind_int(st, i, c->closes_at);
    i++;
    db_bind_text(st, i++, c->hashtag[0] ? c->hashtag : NULL);
    db_bind_text(st, i++, c->credit_template[0] ? c->credit_template : NULL);
    db_bind_text(st, i++, c->accent_color[0] ? c->accent_color : NULL);
    db_bind_int(st, i++, c->adopted);
    db_bind_int(st, i++, now);
    if ((rc = db_step(st)) < 0)
        return rc;
    if (insert)
        c->id = db_last_rowid(db);
    return 0;
}

/* Writes texts (for c's languages) and drops the rows of languages c no
 * longer has (before's). 0, or DB_* < 0. */
static int write_texts(struct db *db, const struct campaign *before,
                       const struct campaign *c, const json_t *texts)
{
    struct db_stmt *st;
    int rc;

    for (int i = 0; i < c->nlangs; i++) {
        json_t *one = json_object_get(texts, c->langs[i]);

        if ((st = db_stmt(db, STMT_CAMPAIGN_TEXT_PUT)) == NULL)
            return DB_ERROR;
        db_bind_int(st, 1, c->id);
        db_bind_text(st, 2, c->langs[i]);
        for (int k = 0; k < (int)ARRAY_LEN(text_keys); k++)
            db_bind_text(st, k + 3,
                         json_string_value(json_object_get(one, text_keys[k])));
        if ((rc = db_step(st)) < 0)
            return rc;
    }
    for (int i = 0; before != NULL && i < before->nlangs; i++) {
        if (campaign_has_lang(c, before->langs[i]))
            continue;
        if ((st = db_stmt(db, STMT_CAMPAIGN_TEXT_DELETE)) == NULL)
            return DB_ERROR;
        db_bind_int(st, 1, c->id);
        db_bind_text(st, 2, before->langs[i]);
        if ((rc = db_step(st)) < 0)
            return rc;
    }
    return 0;
}

/* The keys of spec apply_spec knows. */
static const char *const spec_keys[] = {
    "slug",      "languages", "texts",           "opens_at",
    "closes_at", "hashtag",   "credit_template", "accent_color",
};

/* Applies spec's keys to c and texts; 0, or CAMPAIGN_INVALID. */
static int apply_spec(struct campaign *c, json_t *texts, const json_t *spec,
                      struct campaign_error *err)
{
    const char *key;
    json_t *v;
    int rc;

    if (!json_is_object(spec))
        return invalid(err, "body", "send the campaign as a JSON object");
    json_object_foreach((json_t *)spec, key, v)
    {
        size_t k;

        for (k = 0; k < ARRAY_LEN(spec_keys); k++)
            if (strcmp(key, spec_keys[k]) == 0)
                break;
        if (k == ARRAY_LEN(spec_keys))
            return invalid(err, "body", "unknown key \"%.40s\"", key);
    }
    v = json_object_get(spec, "slug");
    if (v != NULL &&
        (!json_is_string(v) || strcmp(json_string_value(v), c->slug) != 0))
        return invalid(err, "slug",
                       "slug: a campaign's address never changes (posters "
                       "carry it)");
    if ((v = json_object_get(spec, "languages")) != NULL &&
        (rc = apply_langs(c, v, err)) != 0)
        return rc;
    if ((v = json_object_get(spec, "texts")) != NULL &&
        (rc = apply_texts(c, texts, v, err)) != 0)
        return rc;
    if ((v = json_object_get(spec, "opens_at")) != NULL &&
        (rc = apply_time(v, "opens_at", &c->opens_at, err)) != 0)
        return rc;
    if ((v = json_object_get(spec, "closes_at")) != NULL &&
        (rc = apply_time(v, "closes_at", &c->closes_at, err)) != 0)
        return rc;
    if ((v = json_object_get(spec, "hashtag")) != NULL &&
        (rc = apply_line(v, "hashtag", CAMPAIGN_HASHTAG_MAX, c->hashtag,
                         sizeof(c->hashtag), err)) != 0)
        return rc;
    if ((v = json_object_get(spec, "credit_template")) != NULL &&
        (rc = apply_line(v, "credit_template", CAMPAIGN_CREDIT_MAX,
                         c->credit_template, sizeof(c->credit_template),
                         err)) != 0)
        return rc;
    if ((v = json_object_get(spec, "accent_color")) != NULL &&
        (rc = apply_color(v, c->accent_color, err)) != 0)
        return rc;
    if (c->opens_at > 0 && c->closes_at > 0 && c->opens_at >= c->closes_at)
        return invalid(err, "closes_at", "closes_at: after opens_at");
    if (c->nlangs == 0)
        return invalid(err, "languages", "languages: at least one");
    if (json_object_get(json_object_get(texts, c->langs[0]), "title") == NULL)
        return invalid(err, "texts",
                       "texts.%s.title: the first language needs a title",
                       c->langs[0]);
    return 0;
}

int campaign_save(struct db *db, const char *actor, const char *slug,
                  const json_t *spec, bool create, struct campaign *out,
                  struct campaign_error *err)
{
    struct campaign before, c;
    json_t *old = NULL, *texts = NULL;
    int64_t now = util_now();
    char why[64] = "";
    int rc;

    memset(&before, 0, sizeof(before));
    memset(&c, 0, sizeof(c));
    if (!campaign_slug_valid(slug))
        return create ? invalid(err, "slug",
                                "slug: 1 to %d of a-z, 0-9 and '-', not "
                                "starting with '-'",
                                CAMPAIGN_SLUG_MAX)
                      : CAMPAIGN_NOT_FOUND;
    if ((rc = db_begin(db)) < 0)
        return rc;
    rc = campaign_find(db, slug, &before);
    if (rc < 0)
        goto out;
    if (create ? rc == 1 : rc == 0) {
        rc = create ? CAMPAIGN_TAKEN : CAMPAIGN_NOT_FOUND;
        goto out;
    }
    if (create) {
        snprintf(before.slug, sizeof(before.slug), "%s", slug);
        before.adopted = true;
        old = json_object();
    } else if ((old = campaign_texts(db, &before)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    c = before;
    texts = json_deep_copy(old);
    if ((rc = apply_spec(&c, texts, spec, err)) != 0)
        goto out;
    /* A new row needs a version to be valid; it gets its own below. */
    if (create &&
        (snprintf(c.consent_version, sizeof(c.consent_version), "v1") < 0 ||
         (rc = write_row(db, &c, true, now)) < 0))
        goto out;
    if (create || consent_changed(&before, &c, old, texts)) {
        if ((rc = consent_record(db, &c, texts, !create, now)) < 0)
            goto out;
        snprintf(why, sizeof(why), "consent version %s", c.consent_version);
    }
    if ((rc = write_row(db, &c, false, now)) < 0 ||
        (rc = write_texts(db, create ? NULL : &before, &c, texts)) < 0 ||
        (rc = audit_append(db, actor,
                           create ? "campaign.create" : "campaign.update", slug,
                           why[0] != '\0' ? why : NULL)) < 0 ||
        (rc = db_commit(db)) < 0)
        goto out;
    if (out != NULL)
        rc = campaign_get(db, c.id, out) == 1 ? 1 : DB_ERROR;
    else
        rc = 1;
    log_info("campaign %s: %s by %s%s%s", slug, create ? "created" : "changed",
             actor, why[0] ? ", " : "", why);
out:
    db_rollback(db);
    json_decref(old);
    json_decref(texts);
    return rc;
}

int campaign_logo_made(struct db *db, int64_t campaign_id, int64_t now)
{
    struct db_stmt *st = db_stmt(db, STMT_CAMPAIGN_LOGO);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 1, campaign_id);
    db_bind_int(st, 2, now);
    rc = db_step(st);
    if (rc < 0)
        return rc;
    return db_changes(db) == 1 ? 0 : DB_ERROR;
}

/* ---- who sees which campaigns ----------------------------------------- */

int campaign_scope_of(struct db *db, int64_t user_id, char *out, size_t len)
{
    struct db_stmt *st = db_stmt(db, STMT_USER_CAMPAIGNS);
    size_t used = 0;
    int rc;

    out[0] = '\0';
    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 1, user_id);
    while ((rc = db_step(st)) == DB_ROW) {
        int n = snprintf(out + used, len - used, "%s%lld,", used ? "" : ",",
                         (long long)db_col_int(st, 0));
        if (n < 0 || (size_t)n >= len - used) {
            /* Too many to bind: refuse rather than widen. */
            db_reset(st);
            snprintf(out, len, ",0,");
            log_warnx("user %lld: too many campaign limits; seeing none",
                      (long long)user_id);
            return 0;
        }
        used += (size_t)n;
    }
    return rc == DB_DONE ? 0 : rc;
}

json_t *campaign_user_slugs(struct db *db, int64_t user_id)
{
    struct db_stmt *st = db_stmt(db, STMT_USER_CAMPAIGNS);
    json_t *list = json_array();

    if (st == NULL)
        return list;
    db_bind_int(st, 1, user_id);
    while (db_step(st) == DB_ROW)
        json_array_append_new(list, json_string(db_col_text(st, 1)));
    return list;
}

int campaign_limit_user(struct db *db, const char *actor, const char *name,
                        const char *const *slugs, int n, const char **bad)
{
    char why[600] = "", key[AUTH_USERNAME_BYTES + 1];
    size_t used = 0;
    struct db_stmt *st;
    int64_t user_id;
    int rc;

    *bad = NULL;
    /* Names are found by their case-folded key, as at login. */
    if (auth_name_key(name, key) != 0)
        return 0;
    if ((rc = db_begin(db)) < 0)
        return rc;
    if ((st = db_stmt(db, STMT_USER_BY_NAME)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    db_bind_text(st, 1, key);
    if ((rc = db_step(st)) != DB_ROW) {
        rc = rc == DB_DONE ? 0 : rc;
        goto out;
    }
    user_id = db_col_int(st, 0);
    if (auth_role_parse(db_col_text(st, 3)) == ROLE_ADMIN) {
        db_reset(st);
        rc = n > 0 ? -3 : 1;
        goto out;
    }
    db_reset(st);
    if ((st = db_stmt(db, STMT_USER_CAMPAIGNS_CLEAR)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    db_bind_int(st, 1, user_id);
    if ((rc = db_step(st)) < 0)
        goto out;
    for (int i = 0; i < n; i++) {
        struct campaign c;

        if ((rc = campaign_find(db, slugs[i], &c)) <= 0) {
            *bad = slugs[i];
            rc = rc == 0 ? -2 : rc;
            goto out;
        }
        if ((st = db_stmt(db, STMT_USER_CAMPAIGN_ADD)) == NULL) {
            rc = DB_ERROR;
            goto out;
        }
        db_bind_int(st, 1, user_id);
        db_bind_int(st, 2, c.id);
        if ((rc = db_step(st)) < 0)
            goto out;
        if (used < sizeof(why))
            used += (size_t)snprintf(why + used, sizeof(why) - used, "%s%s",
                                     used ? "," : "", c.slug);
    }
    if ((rc = audit_append(db, actor, "user.campaigns", name,
                           n > 0 ? why : "all")) < 0 ||
        (rc = db_commit(db)) < 0)
        goto out;
    rc = 1;
out:
    db_rollback(db);
    return rc;
}

/* ---- the settings of before campaigns --------------------------------- */

/* The old data/campaign.json's key, or NULL. */
static char *legacy_file_text(const struct config *cfg, const char *key)
{
    char path[PATH_MAX];
    json_t *file = NULL;
    const char *s;
    char *out = NULL;

    if (util_fmt(path, sizeof(path), "%s/campaign.json", cfg->data_dir) != 0)
        return NULL;
    file = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    s = json_string_value(json_object_get(file, key));
    if (s != NULL && s[0] != '\0')
        out = strdup(s);
    json_decref(file);
    return out;
}

/* Sets texts' key in every language of c to s (NULL: unchanged), cut to
 * the column's bound. */
static void legacy_set(const struct campaign *c, json_t *texts, const char *key,
                       const char *s, long max, bool multiline)
{
    if (s == NULL || s[0] == '\0' ||
        meta_utf8_check(s, strlen(s), multiline) < 0 ||
        meta_utf8_check(s, strlen(s), multiline) > max) {
        if (s != NULL && s[0] != '\0')
            log_warnx("the old campaign %s is not text of at most %ld "
                      "characters; it is left out",
                      key, max);
        return;
    }
    for (int i = 0; i < c->nlangs; i++) {
        json_t *one = json_object_get(texts, c->langs[i]);
        if (one == NULL) {
            one = json_object();
            json_object_set_new(texts, c->langs[i], one);
        }
        json_object_set_new(one, key, json_string(s));
    }
}

/* Makes version (an old --consent-version) the current one of c, with
 * the texts of the version it replaces. 0, or DB_* < 0. */
static int legacy_consent(struct db *db, struct campaign *c,
                          const char *version, int64_t now)
{
    struct db_stmt *st;
    json_t *texts;
    const char *lang;
    json_t *v;
    int rc, found;

    if (strcmp(version, c->consent_version) == 0)
        return 0;
    if ((st = db_stmt(db, STMT_CONSENT_VERSION_GET)) == NULL)
        return DB_ERROR;
    db_bind_int(st, 1, c->id);
    db_bind_text(st, 2, version);
    if ((found = db_step(st)) < 0)
        return found;
    db_reset(st);
    if (found == DB_ROW) {
        /* Named by older messages: its texts are there, and a version's
         * row never changes back; the current one's texts are the same
         * built-in wording, so the current one keeps its name. */
        log_info("campaign default: consent version %s is already known; "
                 "%s stays the current one",
                 version, c->consent_version);
        return 0;
    }
    if ((texts = campaign_consent_texts(db, c->id, c->consent_version)) == NULL)
        return DB_ERROR;
    rc = DB_ERROR;
    if ((st = db_stmt(db, STMT_CONSENT_VERSION_SUPERSEDE)) == NULL)
        goto out;
    db_bind_int(st, 1, c->id);
    db_bind_text(st, 2, c->consent_version);
    db_bind_int(st, 3, now);
    if ((rc = db_step(st)) < 0)
        goto out;
    if ((st = db_stmt(db, STMT_CONSENT_VERSION_INSERT)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    db_bind_int(st, 1, c->id);
    db_bind_text(st, 2, version);
    db_bind_int(st, 3, now);
    if ((rc = db_step(st)) < 0)
        goto out;
    json_object_foreach(texts, lang, v)
    {
        if ((st = db_stmt(db, STMT_CONSENT_TEXT_INSERT)) == NULL) {
            rc = DB_ERROR;
            goto out;
        }
        db_bind_int(st, 1, c->id);
        db_bind_text(st, 2, version);
        db_bind_text(st, 3, lang);
        db_bind_text(st, 4, json_string_value(v));
        if ((rc = db_step(st)) < 0)
            goto out;
    }
    snprintf(c->consent_version, sizeof(c->consent_version), "%s", version);
    rc = 0;
out:
    json_decref(texts);
    return rc;
}

int campaign_adopt_settings(struct db *db, const struct config *cfg)
{
    const char *title = cfg->campaign_title, *intro = cfg->campaign_intro;
    const char *version = cfg->consent_version;
    char *ftitle = NULL, *fintro = NULL;
    struct campaign c;
    json_t *texts = NULL;
    int64_t now = util_now();
    int rc;

    if ((rc = db_begin(db)) < 0 ||
        (rc = campaign_get(db, CAMPAIGN_DEFAULT_ID, &c)) <= 0)
        goto out;
    if (c.adopted) {
        if ((title != NULL && title[0] != '\0') ||
            (intro != NULL && intro[0] != '\0'))
            log_warnx("--campaign-title and --campaign-intro are ignored now: "
                      "the default campaign's texts are set in the panel or "
                      "with chorus campaign set default");
        rc = 0;
        goto out;
    }
    if (title == NULL || title[0] == '\0')
        title = ftitle = legacy_file_text(cfg, "title");
    if (intro == NULL || intro[0] == '\0')
        intro = fintro = legacy_file_text(cfg, "intro");
    if ((texts = campaign_texts(db, &c)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    legacy_set(&c, texts, "title", title, CAMPAIGN_TITLE_MAX, false);
    legacy_set(&c, texts, "intro", intro, CAMPAIGN_INTRO_MAX, true);
    if (version != NULL && version[0] != '\0' && strlen(version) <= 32 &&
        (rc = legacy_consent(db, &c, version, now)) < 0)
        goto out;
    c.adopted = true;
    if ((rc = write_row(db, &c, false, now)) < 0 ||
        (rc = write_texts(db, NULL, &c, texts)) < 0 ||
        (rc = audit_append(db, "system", "campaign.adopt", c.slug,
                           c.consent_version)) < 0 ||
        (rc = db_commit(db)) < 0)
        goto out;
    log_info("campaign default: the old settings are adopted (title %s, "
             "consent version %s)",
             title != NULL ? "set" : "built in", c.consent_version);
    rc = 1;
out:
    db_rollback(db);
    json_decref(texts);
    free(ftitle);
    free(fintro);
    if (rc < 0)
        log_warnx("cannot adopt the old settings into the default campaign");
    return rc < 0 ? -1 : 0;
}
