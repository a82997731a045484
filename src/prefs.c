#include "chorus/prefs.h"

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chorus/app.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/util.h"

#define LANG_MAX 8

/* A language tag as the panel's files are named: 2 to 8 lower-case
 * letters (nothing that could leave the directory). */
static bool tag_ok(const char *s, size_t n)
{
    if (n < 2 || n > LANG_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return false;
    return true;
}

/* True if the panel has strings for lang: web/panel/i18n/<lang>.json. */
static bool panel_has(const struct app *app, const char *lang)
{
    char path[PATH_MAX];
    struct stat sb;

    return tag_ok(lang, strlen(lang)) &&
           util_fmt(path, sizeof(path), "%s/panel/i18n/%s.json",
                    app->cfg->web_dir, lang) == 0 &&
           stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The panel's languages, by their files, sorted. */
static json_t *languages(const struct app *app)
{
    char dirpath[PATH_MAX], *names[64];
    json_t *list = json_array();
    struct dirent *e;
    size_t n = 0;
    DIR *d = NULL;

    if (util_fmt(dirpath, sizeof(dirpath), "%s/panel/i18n",
                 app->cfg->web_dir) != 0 ||
        (d = opendir(dirpath)) == NULL)
        goto out;
    while (n < ARRAY_LEN(names) && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0 &&
            tag_ok(e->d_name, len - 5) &&
            (names[n] = strndup(e->d_name, len - 5)) != NULL)
            n++;
    }
    qsort(names, n, sizeof(names[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, json_string(names[i]));
        free(names[i]);
    }
out:
    if (d != NULL)
        closedir(d);
    return list;
}

/* Answers the user's settings. */
static int answer(struct request *req, struct db *db)
{
    struct db_stmt *st = db_stmt(db, STMT_USER_LANGUAGE_GET);
    char lang[LANG_MAX + 1] = "";
    int rc = DB_ERROR;

    if (st != NULL) {
        db_bind_int(st, 1, req->session.user_id);
        if ((rc = db_step(st)) == DB_ROW) {
            snprintf(lang, sizeof(lang), "%s",
                     db_col_text(st, 0) != NULL ? db_col_text(st, 0) : "");
            db_reset(st);
            rc = DB_DONE;
        }
    }
    if (rc < 0)
        return http_db_error(req, rc);
    return http_json(req, MHD_HTTP_OK,
                     json_pack("{s:s?, s:o}", "language",
                               lang[0] != '\0' ? lang : NULL, "languages",
                               languages(req->app)));
}

int prefs_get(struct request *req)
{
    struct db *db = db_pool_get(req->app->db);
    int rc;

    if (db == NULL)
        return http_db_error(req, DB_BUSY);
    rc = answer(req, db);

    db_pool_put(req->app->db, db);
    return rc;
}

int prefs_put(struct request *req)
{
    json_t *body = http_body_object(req), *v;
    const char *lang = NULL;
    struct db_stmt *st;
    struct db *db;
    int rc = DB_ERROR;

    if (body == NULL)
        return req->status;
    v = json_object_get(body, "language");
    if (v == NULL ||
        (!json_is_null(v) && ((lang = json_string_value(v)) == NULL ||
                              !panel_has(req->app, lang)))) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_language",
                          "language: one the panel speaks, or null");
    }
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        json_decref(body);
        return http_db_error(req, DB_BUSY);
    }
    if ((st = db_stmt(db, STMT_USER_LANGUAGE_SET)) != NULL) {
        db_bind_int(st, 1, req->session.user_id);
        db_bind_text(st, 2, lang);
        rc = db_step(st);
    }
    json_decref(body);
    rc = rc < 0 ? http_db_error(req, rc) : answer(req, db);
    db_pool_put(req->app->db, db);
    return rc;
}
