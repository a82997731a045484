#include "chorus/export.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "chorus/app.h"
#include "chorus/audit.h"
#include "chorus/captions.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/media.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/objstore.h"
#include "chorus/panel.h"
#include "chorus/search.h"
#include "chorus/storage.h"
#include "chorus/studio.h"

#define PAGE_ROWS 100
#define PIECE (64 * 1024)
#define IDS_MAX 1000

/* One approved message on its way into the archive. */
struct row {
    char id[UTIL_ID_LEN + 1];
    char name[64];   /* base of its file names */
    bool union_only; /* its files go under union-only/, never beside
                        the public ones */
    int64_t decided_at;
    int64_t campaign;
    char consent_lang[36];
    json_t *manifest; /* its manifest entry */
};

enum part {
    PART_VIDEO,
    PART_THUMB,
    PART_STUDIO, /* its versions and caption files, when asked for */
    PART_EXTRAS,
    PART_MANIFEST,
    PART_NEXT
};

/* A version or caption file of the current row, waiting to be added. */
struct extra {
    struct objstore_file f;
    char name[192];
};
#define EXTRAS_MAX 32

struct export_ctx {
    struct app *app;
    struct archive *a;
    /* Bytes libarchive wrote that libmicrohttpd has not taken yet. */
    char *out;
    size_t out_len, out_off, out_cap;
    /* The selection. */
    char *ids; /* ",id,id," or NULL */
    char country[3], language[36], match[SEARCH_MATCH_MAX], scope[8];
    int reshared;               /* -1: either */
    int64_t campaign;           /* 0: every campaign the user sees */
    char limits[MSG_SCOPE_MAX]; /* the user's campaigns; "": all */
    enum role role;
    /* Where the paging stands. */
    int64_t cur_date;
    char cur_id[UTIL_ID_LEN + 1];
    struct row rows[PAGE_ROWS];
    int nrows, row;
    enum part part;
    bool rows_done, manifests_added, closed, failed;
    /* The entry being copied (on disk or in the bucket), if copying. */
    struct objstore_file cur;
    bool copying;
    int64_t remaining;
    /* The studio's files asked for (?versions=, ?captions=): a bit per
     * format of studio_formats, and the caption file types. */
    unsigned versions;
    bool vtt, srt;
    struct extra extras[EXTRAS_MAX];
    int nextras, iextra;
    /* The manifests, built as rows pass (unlinked temp files). */
    FILE *csv, *json;
    int count;
};

static la_ssize_t on_write(struct archive *a, void *cls, const void *buf,
                           size_t len)
{
    struct export_ctx *ctx = cls;

    size_t need, cap;

    (void)a;
    if (ctx->out_off > 0 && ctx->out_off == ctx->out_len)
        ctx->out_off = ctx->out_len = 0;
    if (__builtin_add_overflow(ctx->out_len, len, &need) ||
        __builtin_add_overflow(need, (size_t)PIECE, &cap) ||
        len > (size_t)INT64_MAX)
        return -1;
    if (need > ctx->out_cap) {
        char *p = realloc(ctx->out, cap);
        if (p == NULL)
            return -1;
        ctx->out = p;
        ctx->out_cap = cap;
    }
    memcpy(ctx->out + ctx->out_len, buf, len);
    ctx->out_len += len;
    return (la_ssize_t)len;
}

/* A temp file in the data directory, unlinked at once: nothing is left
 * behind whatever happens. */
static FILE *temp_file(const char *dir)
{
    char path[PATH_MAX];
    FILE *f = NULL;
    int fd;

    if (util_fmt(path, sizeof(path), "%s/export-XXXXXX", dir) != 0 ||
        (fd = mkstemp(path)) < 0)
        return NULL;
    unlink(path);
    if ((f = fdopen(fd, "w+")) == NULL)
        close(fd);
    return f;
}

static void free_rows(struct export_ctx *ctx)
{
    for (int i = 0; i < ctx->nrows; i++)
        json_decref(ctx->rows[i].manifest);
    ctx->nrows = ctx->row = 0;
}

static void ctx_free(void *cls)
{
    struct export_ctx *ctx = cls;

    if (ctx == NULL)
        return;
    if (ctx->a != NULL)
        archive_write_free(ctx->a);
    objstore_file_close(&ctx->cur);
    for (int i = ctx->iextra; i < ctx->nextras; i++)
        objstore_file_close(&ctx->extras[i].f);
    if (ctx->csv != NULL)
        fclose(ctx->csv);
    if (ctx->json != NULL)
        fclose(ctx->json);
    free_rows(ctx);
    free(ctx->ids);
    free(ctx->out);
    free(ctx);
}

/* Sets key to column i (text or null). */
static void put_text(json_t *o, const char *key, struct db_stmt *st, int i)
{
    const char *s = db_col_text(st, i);

    json_object_set_new(o, key, s != NULL ? json_string(s) : json_null());
}

static void put_time(json_t *o, const char *key, struct db_stmt *st, int i)
{
    char when[21];

    if (db_col_is_null(st, i)) {
        json_object_set_new(o, key, json_null());
        return;
    }
    util_iso8601(db_col_int(st, i), when);
    json_object_set_new(o, key, json_string(when));
}

/*
 * Reads the next page of rows, their reshare marks, and marks them
 * exported: all in one transaction (one fsync a page, not one a clip),
 * every step checked. 0, or -1 (the download is cut short).
 */
static int fetch_page(struct export_ctx *ctx)
{
    /* It marks the rows exported: a writer's turn. */
    struct db *db = db_pool_get_writer(ctx->app->db);
    struct db_stmt *st;
    int64_t now = util_now();
    int rc = -1, step;

    free_rows(ctx);
    if (db == NULL || db_begin(db) < 0 ||
        (st = db_stmt(db, STMT_EXPORT_PAGE)) == NULL)
        goto out;
    db_bind_text(st, 1, ctx->ids);
    db_bind_text(st, 2, ctx->country[0] ? ctx->country : NULL);
    db_bind_text(st, 3, ctx->language[0] ? ctx->language : NULL);
    db_bind_text(st, 4, ctx->match[0] ? ctx->match : NULL);
    db_bind_text(st, 5, ctx->scope[0] ? ctx->scope : NULL);
    if (ctx->reshared >= 0)
        db_bind_int(st, 6, ctx->reshared);
    db_bind_int(st, 7, ctx->cur_date);
    db_bind_text(st, 8, ctx->cur_id);
    db_bind_int(st, 9, PAGE_ROWS);
    if (ctx->campaign > 0)
        db_bind_int(st, 10, ctx->campaign);
    db_bind_text(st, 11, ctx->limits[0] != '\0' ? ctx->limits : NULL);
    while ((step = db_step(st)) == DB_ROW) {
        struct row *r = &ctx->rows[ctx->nrows];
        json_t *m;
        double dur = db_col_is_null(st, 6) ? 0 : (double)db_col_int(st, 6);

        ctx->cur_date = db_col_int(st, 12);
        snprintf(ctx->cur_id, sizeof(ctx->cur_id), "%s", db_col_text(st, 0));
        /* The query kept to the user's campaigns; the rule says so too. */
        if (message_sight_in(ctx->role, ctx->limits, MSG_APPROVED,
                             db_col_int(st, 13)) != SIGHT_MEDIA)
            continue;
        m = json_object();

        snprintf(r->id, sizeof(r->id), "%s", db_col_text(st, 0));
        r->union_only = db_col_text(st, 8) != NULL &&
                        strcmp(db_col_text(st, 8), "union") == 0;
        media_file_name(r->id, db_col_int(st, 12), db_col_text(st, 3),
                        db_col_text(st, 4), r->union_only, "mp4", r->name);
        r->name[strlen(r->name) - 4] = '\0'; /* the base, without .mp4 */
        r->decided_at = db_col_int(st, 11);
        json_object_set_new(m, "id", json_string(r->id));
        put_text(m, "name", st, 1);
        put_text(m, "organization", st, 2);
        put_text(m, "country", st, 3);
        put_text(m, "language", st, 4);
        put_text(m, "message", st, 5);
        json_object_set_new(m, "duration_s", json_real(dur / 1000.0));
        put_text(m, "consent_version", st, 7);
        put_text(m, "consent_scope", st, 8);
        put_time(m, "consent_at", st, 9);
        put_text(m, "approved_by", st, 10);
        put_time(m, "approved_at", st, 11);
        put_text(m, "campaign", st, 14);
        /* Kept for the consent's exact text, looked up below. */
        r->campaign = db_col_int(st, 13);
        snprintf(r->consent_lang, sizeof(r->consent_lang), "%s",
                 db_col_text(st, 15) != NULL ? db_col_text(st, 15) : "");
        r->manifest = m;
        ctx->nrows++;
    }
    if (step < 0)
        goto out;
    /* Reshare marks, the consent's text, and the export recorded, row by
     * row, in the page's one transaction. */
    for (int i = 0; i < ctx->nrows; i++) {
        json_t *marks = json_array(), *m = ctx->rows[i].manifest;
        json_t *consent = panel_consent(
            db, ctx->rows[i].campaign,
            json_string_value(json_object_get(m, "consent_version")),
            ctx->rows[i].consent_lang,
            json_string_value(json_object_get(m, "language")));

        json_object_set(m, "consent_language",
                        json_object_get(consent, "language"));
        json_object_set(m, "consent_text", json_object_get(consent, "text"));
        json_decref(consent);
        json_object_set_new(ctx->rows[i].manifest, "reshared", marks);
        if ((st = db_stmt(db, STMT_RESHARES_OF)) == NULL)
            goto out;
        db_bind_text(st, 1, ctx->rows[i].id);
        while ((step = db_step(st)) == DB_ROW) {
            json_t *mk = json_object();
            put_text(mk, "channel", st, 0);
            put_text(mk, "url", st, 1);
            put_time(mk, "at", st, 3);
            json_array_append_new(marks, mk);
        }
        if (step < 0 || (st = db_stmt(db, STMT_MESSAGE_EXPORTED)) == NULL)
            goto out;
        db_bind_text(st, 1, ctx->rows[i].id);
        db_bind_int(st, 2, now);
        if (db_step(st) != DB_DONE)
            goto out;
    }
    if (db_commit(db) < 0)
        goto out;
    ctx->rows_done = ctx->nrows == 0;
    rc = 0;
out:
    if (rc != 0)
        log_warnx("export: cannot read or mark a page of clips");
    db_pool_put(ctx->app->db, db); /* rolls back what was not committed */
    return rc;
}

/* Writes s as one CSV field: quoted, quotes doubled, and a leading
 * character a spreadsheet would run as a formula defused with a '. */
static void csv_field(FILE *f, const char *s, bool last)
{
    fputc('"', f);
    if (s != NULL && (s[0] == '=' || s[0] == '+' || s[0] == '-' ||
                      s[0] == '@' || s[0] == '\t' || s[0] == '\r'))
        fputc('\'', f);
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
    fputc(last ? '\n' : ',', f);
}

static void manifest_add(struct export_ctx *ctx, const struct row *r,
                         const char *video_path, const char *video,
                         const char *thumb)
{
    static const char *const cols[] = {"id",
                                       "name",
                                       "organization",
                                       "country",
                                       "language",
                                       "message",
                                       NULL, /* duration */
                                       "consent_version",
                                       "consent_scope",
                                       "consent_at",
                                       "approved_by",
                                       "approved_at",
                                       "campaign",
                                       "consent_language",
                                       "consent_text"};
    json_t *m = r->manifest, *marks = json_object_get(m, "reshared"), *mk;
    char dur[32], *text, reshared[4096] = "";
    size_t i, used = 0;

    json_object_set_new(m, "file", json_string(video));
    json_object_set_new(m, "path", json_string(video_path));
    json_object_set_new(m, "thumbnail",
                        thumb != NULL ? json_string(thumb) : json_null());
    text = json_dumps(m, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (text != NULL) {
        fprintf(ctx->json, "%s\n  %s", ctx->count > 0 ? "," : "", text);
        free(text);
    }
    for (i = 0; i < ARRAY_LEN(cols); i++) {
        if (cols[i] == NULL) {
            snprintf(dur, sizeof(dur), "%.3f",
                     json_real_value(json_object_get(m, "duration_s")));
            csv_field(ctx->csv, dur, false);
        } else {
            csv_field(ctx->csv, json_string_value(json_object_get(m, cols[i])),
                      false);
        }
        if (i == 0)
            csv_field(ctx->csv, video, false);
    }
    json_array_foreach(marks, i, mk)
    {
        int n = snprintf(reshared + used, sizeof(reshared) - used, "%s%s %s",
                         used > 0 ? "; " : "",
                         json_string_value(json_object_get(mk, "channel")),
                         json_string_value(json_object_get(mk, "url"))
                             ? json_string_value(json_object_get(mk, "url"))
                             : "");
        if (n > 0 && (size_t)n < sizeof(reshared) - used)
            used += (size_t)n;
    }
    csv_field(ctx->csv, reshared, true);
    ctx->count++;
}

/* Starts an entry for the open file *f under name, which it takes (and
 * closes, even on failure); 0, or -1. */
static int begin_entry(struct export_ctx *ctx, const char *name,
                       struct objstore_file *f, int64_t mtime)
{
    struct archive_entry *e;
    int rc;

    if (objstore_file_stream(ctx->app->store, f, 0, -1) != 0 ||
        (e = archive_entry_new()) == NULL) {
        objstore_file_close(f);
        return -1;
    }
    archive_entry_set_pathname_utf8(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, f->size);
    archive_entry_set_mtime(e, mtime > 0 ? mtime : util_now(), 0);
    rc = archive_write_header(ctx->a, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) {
        log_warnx("export: %s", archive_error_string(ctx->a));
        objstore_file_close(f);
        return -1;
    }
    ctx->cur = *f;
    ctx->copying = f->size > 0;
    ctx->remaining = f->size;
    if (!ctx->copying)
        objstore_file_close(&ctx->cur);
    return 0;
}

/* Opens file name of id, on disk or in the bucket; 0, 1 if it is gone
 * (withdrawn meanwhile), -1 if the store failed. */
static int open_media(struct export_ctx *ctx, const char *name, const char *id,
                      struct objstore_file *f)
{
    return objstore_file_open(ctx->app->store, ctx->app->cfg->data_dir, id,
                              name, f);
}

/* Wraps a temporary file's descriptor; -1 if it cannot be measured. */
static int temp_entry(int fd, struct objstore_file *f)
{
    struct stat sb;

    objstore_file_of_fd(f, fd, 0);
    if (fstat(fd, &sb) != 0) {
        objstore_file_close(f);
        return -1;
    }
    f->size = (int64_t)sb.st_size;
    return 0;
}

/* Adds a manifest temp file as an entry. */
static int add_manifest(struct export_ctx *ctx, FILE *f, const char *name)
{
    struct objstore_file of;
    int fd;

    if (fflush(f) != 0 || (fd = dup(fileno(f))) < 0)
        return -1;
    if (temp_entry(fd, &of) != 0)
        return -1;
    return begin_entry(ctx, name, &of, util_now());
}

/* Queues *f as entry name of the current row (closed if full). */
static void extra_add(struct export_ctx *ctx, struct objstore_file *f,
                      const char *name)
{
    if (ctx->nextras == EXTRAS_MAX) {
        objstore_file_close(f);
        return;
    }
    ctx->extras[ctx->nextras].f = *f;
    snprintf(ctx->extras[ctx->nextras].name,
             sizeof(ctx->extras[ctx->nextras].name), "%s", name);
    ctx->nextras++;
}

/* A caption file of cues text (as stored) into a new temp file's
 * descriptor, or -1. */
static int caption_file(struct export_ctx *ctx, const char *stored, bool vtt)
{
    struct caption_list l;
    json_t *a = json_loads(stored, 0, NULL), *c;
    char *text = NULL;
    FILE *f = NULL;
    size_t i;
    int fd = -1;

    captions_init(&l);
    json_array_foreach(a, i, c)
        captions_add(&l, json_integer_value(json_array_get(c, 0)),
                     json_integer_value(json_array_get(c, 1)),
                     json_string_value(json_array_get(c, 2)));
    text = vtt ? captions_vtt(&l) : captions_srt(&l);
    if (text != NULL && (f = temp_file(ctx->app->cfg->data_dir)) != NULL &&
        fputs(text, f) >= 0 && fflush(f) == 0 && (fd = dup(fileno(f))) >= 0 &&
        lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        fd = -1;
    }
    if (f != NULL)
        fclose(f);
    free(text);
    json_decref(a);
    captions_release(&l);
    return fd;
}

/*
 * Finds the current row's transcripts and made versions that were asked
 * for, queues their files and names them in its manifest entry. 0, or
 * -1 (the download is cut short).
 */
static int prepare_studio(struct export_ctx *ctx, struct row *r,
                          const char *folder)
{
    struct db *db = db_pool_get(ctx->app->db);
    struct db_stmt *st, *one;
    json_t *caps = json_object(), *vers = json_object();
    char name[192], path[PATH_MAX];
    unsigned made = 0;
    int rc = -1, step_rc;

    if (db == NULL || caps == NULL || vers == NULL)
        goto out;
    if ((ctx->vtt || ctx->srt) &&
        (st = db_stmt(db, STMT_TRANSCRIPT_LIST)) != NULL) {
        db_bind_text(st, 1, r->id);
        while ((step_rc = db_step(st)) == DB_ROW) {
            const char *lang = db_col_text(st, 0);
            json_t *files = json_object();
            if ((one = db_stmt(db, STMT_TRANSCRIPT_GET)) == NULL) {
                json_decref(files);
                db_reset(st);
                goto out;
            }
            db_bind_text(one, 1, r->id);
            db_bind_text(one, 2, lang);
            if (db_step(one) == DB_ROW) {
                for (int k = 0; k < 2; k++) {
                    bool vtt = k == 0;
                    struct objstore_file cf;
                    int fd;
                    if (!(vtt ? ctx->vtt : ctx->srt) ||
                        (fd = caption_file(ctx, db_col_text(one, 0), vtt)) <
                            0 ||
                        temp_entry(fd, &cf) != 0)
                        continue;
                    snprintf(name, sizeof(name), "%scaptions/%s.%s.%s", folder,
                             r->name, lang, vtt ? "vtt" : "srt");
                    extra_add(ctx, &cf, name);
                    json_object_set_new(files, vtt ? "vtt" : "srt",
                                        json_string(strrchr(name, '/') + 1));
                }
                db_reset(one);
            }
            json_object_set_new(caps, lang, files);
        }
        if (step_rc < 0)
            goto out;
    }
    if (ctx->versions != 0 && (st = db_stmt(db, STMT_VERSIONS_OF)) != NULL) {
        db_bind_text(st, 1, r->id);
        while ((step_rc = db_step(st)) == DB_ROW) {
            struct studio_version v;
            struct objstore_file vf;
            if (studio_version_parse(db_col_text(st, 1), &v) != 0 ||
                strcmp(db_col_text(st, 2), "done") != 0 ||
                !(ctx->versions & (1U << v.format)) ||
                (made & (1U << v.format)) ||
                util_fmt(path, sizeof(path), "v-%s.mp4", v.name) != 0 ||
                open_media(ctx, path, r->id, &vf) != 0)
                continue;
            made |= 1U << v.format;
            snprintf(name, sizeof(name), "%sversions/%s-%s.mp4", folder,
                     r->name, v.name);
            extra_add(ctx, &vf, name);
            json_object_set_new(vers, studio_formats[v.format],
                                json_string(strrchr(name, '/') + 1));
        }
        if (step_rc < 0)
            goto out;
    }
    rc = 0;
out:
    if (db != NULL)
        db_pool_put(ctx->app->db, db);
    if (rc == 0) {
        json_object_set_new(r->manifest, "captions", caps);
        json_object_set_new(r->manifest, "versions", vers);
    } else {
        json_decref(caps);
        json_decref(vers);
    }
    return rc;
}

/* Does one bounded piece of work; 0, or -1 on failure. */
static int step(struct export_ctx *ctx)
{
    char buf[PIECE], video[112], thumb[112];
    const char *folder;
    struct objstore_file f;
    struct row *r;
    int rc;

    if (ctx->copying) {
        long n = objstore_file_read(
            &ctx->cur, buf,
            ctx->remaining < PIECE ? (size_t)ctx->remaining : PIECE);
        if (n <= 0) {
            log_warnx("export: a file ended early");
            return -1;
        }
        if (archive_write_data(ctx->a, buf, (size_t)n) != n)
            return -1;
        ctx->remaining -= n;
        if (ctx->remaining == 0) {
            objstore_file_close(&ctx->cur);
            ctx->copying = false;
        }
        return 0;
    }
    if (ctx->row < ctx->nrows) {
        r = &ctx->rows[ctx->row];
        folder = r->union_only ? "union-only/" : "";
        snprintf(video, sizeof(video), "%sclips/%s.mp4", folder, r->name);
        snprintf(thumb, sizeof(thumb), "%sthumbs/%s.jpg", folder, r->name);
        switch (ctx->part) {
        case PART_VIDEO:
            rc = open_media(ctx, "video.mp4", r->id, &f);
            if (rc < 0)
                return -1; /* the store failed: cut short, not wrong */
            if (rc > 0) {
                ctx->part = PART_NEXT; /* gone: leave it out */
                return 0;
            }
            ctx->part = PART_THUMB;
            return begin_entry(ctx, video, &f, r->decided_at);
        case PART_THUMB:
            ctx->part = PART_STUDIO;
            rc = open_media(ctx, "thumb.jpg", r->id, &f);
            if (rc < 0)
                return -1;
            if (rc == 0)
                return begin_entry(ctx, thumb, &f, r->decided_at);
            thumb[0] = '\0';
            return 0;
        case PART_STUDIO:
            ctx->part = PART_EXTRAS;
            ctx->nextras = ctx->iextra = 0;
            if (ctx->versions == 0 && !ctx->vtt && !ctx->srt)
                return 0;
            return prepare_studio(ctx, r, folder);
        case PART_EXTRAS:
            if (ctx->iextra == ctx->nextras) {
                ctx->part = PART_MANIFEST;
                return 0;
            }
            f = ctx->extras[ctx->iextra++].f;
            return begin_entry(ctx, ctx->extras[ctx->iextra - 1].name, &f,
                               r->decided_at);
        case PART_MANIFEST:
            manifest_add(ctx, r, video, strrchr(video, '/') + 1,
                         thumb[0] ? strrchr(thumb, '/') + 1 : NULL);
            ctx->part = PART_NEXT;
            return 0;
        case PART_NEXT:
            ctx->row++;
            ctx->part = PART_VIDEO;
            return 0;
        }
    }
    if (!ctx->rows_done)
        return fetch_page(ctx);
    if (!ctx->manifests_added) {
        ctx->manifests_added = true;
        fprintf(ctx->json, "\n]\n");
        if (add_manifest(ctx, ctx->csv, "manifest.csv") != 0)
            return -1;
        /* The JSON manifest goes next, after the CSV's bytes. */
        return 0;
    }
    if (ctx->json != NULL) {
        FILE *mf = ctx->json;
        ctx->json = NULL;
        if (add_manifest(ctx, mf, "manifest.json") != 0) {
            fclose(mf);
            return -1;
        }
        fclose(mf);
        return 0;
    }
    if (archive_write_close(ctx->a) != ARCHIVE_OK)
        return -1;
    ctx->closed = true;
    log_info("export: %d clips sent", ctx->count);
    return 0;
}

static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct export_ctx *ctx = cls;
    size_t avail;

    (void)pos;
    while (ctx->out_len == ctx->out_off && !ctx->closed && !ctx->failed)
        if (step(ctx) != 0)
            ctx->failed = true;
    avail = ctx->out_len - ctx->out_off;
    if (avail == 0) {
        if (ctx->failed) {
            log_warnx("export: failed; the download is cut short");
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (avail > max)
        avail = max;
    memcpy(buf, ctx->out + ctx->out_off, avail);
    ctx->out_off += avail;
    return (ssize_t)avail;
}

/* Reads ?ids= into ",a,b,"; 0, or -1 if malformed. */
static int parse_ids(const char *s, char **out)
{
    size_t n = 0, len = strlen(s);
    char *p;

    *out = NULL;
    if (len > (size_t)IDS_MAX * (UTIL_ID_LEN + 1))
        return -1;
    p = malloc(len + 3);
    if (p == NULL)
        return -1;
    p[n++] = ',';
    while (*s != '\0') {
        char id[UTIL_ID_LEN + 1];
        size_t k = strcspn(s, ",");
        if (k != UTIL_ID_LEN) {
            free(p);
            return -1;
        }
        memcpy(id, s, k);
        id[k] = '\0';
        if (!util_is_id(id)) {
            free(p);
            return -1;
        }
        memcpy(p + n, id, k);
        n += k;
        p[n++] = ',';
        s += k;
        if (*s == ',')
            s++;
    }
    p[n] = '\0';
    *out = p;
    return 0;
}

/* ?versions=9x16,1x1 and ?captions=srt,vtt into ctx; 0, or -1. */
static int parse_studio(struct export_ctx *ctx, const char *versions,
                        const char *captions)
{
    for (const char *p = versions; p != NULL && *p != '\0';) {
        size_t k = strcspn(p, ",");
        int f = -1;
        for (int i = 0; i < STUDIO_FORMATS; i++)
            if (strlen(studio_formats[i]) == k &&
                strncmp(p, studio_formats[i], k) == 0)
                f = i;
        if (f < 0)
            return -1;
        ctx->versions |= 1U << f;
        p += k + (p[k] == ',');
    }
    for (const char *p = captions; p != NULL && *p != '\0';) {
        size_t k = strcspn(p, ",");
        if (k == 3 && strncmp(p, "vtt", 3) == 0)
            ctx->vtt = true;
        else if (k == 3 && strncmp(p, "srt", 3) == 0)
            ctx->srt = true;
        else
            return -1;
        p += k + (p[k] == ',');
    }
    return 0;
}

int export_zip(struct request *req)
{
    const char *ids = http_query(req, "ids");
    const char *country = http_query(req, "country");
    const char *language = http_query(req, "language");
    const char *q = http_query(req, "q"), *scope = http_query(req, "scope");
    const char *reshared = http_query(req, "reshared");
    const char *status = http_query(req, "status");
    const char *campaign = http_query(req, "campaign");
    const char *versions = http_query(req, "versions");
    const char *captions = http_query(req, "captions");
    struct export_ctx *ctx;
    struct MHD_Response *resp;
    struct db *db;
    char name[24], disp[128], why[600];

    /* Only approved clips ever leave, and only to whom may see them. */
    if (status != NULL && message_state_parse(status) != MSG_APPROVED)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_status",
                          "only approved clips can be exported");
    if (message_sight(req->session.role, MSG_APPROVED) != SIGHT_MEDIA)
        return http_error(req, MHD_HTTP_FORBIDDEN, "forbidden",
                          "your role may not export clips");
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    ctx->app = req->app;
    objstore_file_of_fd(&ctx->cur, -1, 0);
    ctx->reshared = -1;
    ctx->cur_date = INT64_MIN;
    ctx->role = req->session.role;
    snprintf(ctx->limits, sizeof(ctx->limits), "%s",
             panel_scope(req) != NULL ? panel_scope(req) : "");
    if (campaign != NULL && panel_campaign(req, campaign, &ctx->campaign)) {
        ctx_free(ctx);
        return req->status;
    }
    if (ids != NULL && parse_ids(ids, &ctx->ids) != 0) {
        ctx_free(ctx);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_ids",
                          "ids: message ids separated by commas");
    }
    if ((country != NULL && !meta_country_known(country)) ||
        (language != NULL &&
         meta_language_normalize(language, ctx->language) != 0) ||
        (scope != NULL && strcmp(scope, "public") != 0 &&
         strcmp(scope, "union") != 0) ||
        (reshared != NULL && strcmp(reshared, "yes") != 0 &&
         strcmp(reshared, "no") != 0) ||
        (q != NULL && search_match(q, ctx->match) < 0)) {
        ctx_free(ctx);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_filter",
                          "a filter is malformed (see GET /api/v1/messages)");
    }
    if (parse_studio(ctx, versions, captions) != 0) {
        ctx_free(ctx);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_filter",
                          "versions: formats (9x16,1x1,4x5,16x9); captions: "
                          "srt,vtt");
    }
    if (country != NULL)
        snprintf(ctx->country, sizeof(ctx->country), "%s", country);
    if (scope != NULL)
        snprintf(ctx->scope, sizeof(ctx->scope), "%s", scope);
    if (reshared != NULL)
        ctx->reshared = strcmp(reshared, "yes") == 0;
    ctx->csv = temp_file(req->app->cfg->data_dir);
    ctx->json = temp_file(req->app->cfg->data_dir);
    ctx->a = archive_write_new();
    if (ctx->csv == NULL || ctx->json == NULL || ctx->a == NULL ||
        archive_write_set_format_zip(ctx->a) != ARCHIVE_OK ||
        archive_write_set_options(ctx->a, "zip:compression=store") !=
            ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(ctx->a, 1) != ARCHIVE_OK ||
        archive_write_open2(ctx->a, ctx, NULL, on_write, NULL, NULL) !=
            ARCHIVE_OK) {
        log_warnx("export: cannot start: %s",
                  ctx->a != NULL ? archive_error_string(ctx->a) : "no memory");
        ctx_free(ctx);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "cannot start the export");
    }
    /* UTF-8 with its byte-order mark: Excel then reads Cyrillic right. */
    fputs("\xEF\xBB\xBF", ctx->csv);
    fputs("id,file,name,organization,country,language,message,duration_s,"
          "consent_version,consent_scope,consent_at,approved_by,approved_at,"
          "campaign,consent_language,consent_text,reshared\n",
          ctx->csv);
    fputs("[", ctx->json);

    /* Who took what, on the record; whether a search narrowed it, never
     * what was searched for (a name typed in would stay in the log). */
    snprintf(why, sizeof(why),
             "ids=%.300s campaign=%.40s country=%s language=%s scope=%s "
             "reshared=%s search=%s",
             ids != NULL ? ids : "*", campaign ? campaign : "*",
             country ? country : "*", language ? language : "*",
             scope ? scope : "*", reshared ? reshared : "*",
             ctx->match[0] != '\0' ? "yes" : "no");
    /* The audit row is a write: a writer's turn. */
    if ((db = db_pool_get_writer(req->app->db)) == NULL) {
        ctx_free(ctx);
        return http_db_error(req, DB_BUSY);
    }
    if (db_begin(db) < 0 ||
        audit_append(db, req->session.username, "export", NULL, why) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        db_pool_put(req->app->db, db);
        ctx_free(ctx);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    }
    db_pool_put(req->app->db, db);

    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, PIECE, on_read,
                                             ctx, ctx_free);
    if (resp == NULL) {
        ctx_free(ctx);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    }
    http_respond(req, MHD_HTTP_OK, resp);
    util_iso8601(util_now(), name);
    snprintf(disp, sizeof(disp),
             "attachment; filename=\"chorus-export-%.10s.zip\"", name);
    http_header_add(req, "Content-Type", "application/zip");
    http_header_add(req, "Content-Disposition", disp);
    http_header_add(req, "Cache-Control", "private, no-store");
    return req->status;
}
