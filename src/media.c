#include "chorus/media.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/message.h"
#include "chorus/objstore.h"
#include "chorus/storage.h"

/* Parses decimal digits at *p into *out, advancing *p; 0, or -1. */
static int parse_u64(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return 0;
}

int media_parse_range(const char *header, uint64_t size, uint64_t *start,
                      uint64_t *len)
{
    const char *p = header;
    uint64_t a, b;

    if (header == NULL || strncmp(p, "bytes=", 6) != 0)
        return RANGE_FULL;
    p += 6;
    while (*p == ' ')
        p++;
    if (*p == '-') { /* the last n bytes */
        p++;
        if (parse_u64(&p, &b) != 0)
            return RANGE_FULL;
        while (*p == ' ')
            p++;
        if (*p != '\0')
            return RANGE_FULL;
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        if (b > size)
            b = size;
        *start = size - b;
        *len = b;
        return RANGE_PARTIAL;
    }
    if (parse_u64(&p, &a) != 0 || *p++ != '-')
        return RANGE_FULL;
    if (*p >= '0' && *p <= '9') {
        if (parse_u64(&p, &b) != 0)
            return RANGE_FULL;
        if (b < a)
            return RANGE_FULL; /* syntactically invalid: ignore it */
    } else {
        b = UINT64_MAX;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0')
        return RANGE_FULL; /* several ranges: send it all */
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    if (b >= size)
        b = size - 1;
    /* b >= a here, and b < size: the length fits. */
    if (__builtin_add_overflow(b - a, 1, len))
        return RANGE_FULL;
    *start = a;
    return RANGE_PARTIAL;
}

void media_file_suffix(const char *id, const char *ext, char out[32])
{
    unsigned char bytes[16] = {0};
    size_t n;

    /* 48 bits of the id keep names apart within any export: its first 8
     * characters are those 6 bytes. */
    sodium_base642bin(bytes, sizeof(bytes), id, strnlen(id, 8), NULL, NULL,
                      NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out[0] = '-';
    sodium_bin2hex(out + 1, 13, bytes, 6);
    out[13] = '.';
    n = strnlen(ext, 8);
    memcpy(out + 14, ext, n);
    out[14 + n] = '\0';
}

void media_file_name(const char *id, int64_t created, const char *country,
                     const char *language, bool union_only, const char *ext,
                     char out[64])
{
    char date[21] = "undated", suffix[32];

    if (created > 0) {
        util_iso8601(created, date);
        date[10] = '\0';
    }
    media_file_suffix(id, ext, suffix);
    /* At most 7 + 10 + 1 + 2 + 1 + 3 + 11 + 22 characters: it fits, and
     * a name cut short would still be safe (the bare id's suffix). */
    if (util_fmt(out, 64, "chorus-%s-%.2s-%.3s%s%s", date,
                 country != NULL && strlen(country) == 2 ? country : "xx",
                 language != NULL && strlen(language) >= 2 ? language : "und",
                 union_only ? "-union-only" : "", suffix) != 0)
        snprintf(out, 64, "chorus%s", suffix);
    /* A language tag's '-' stays; nothing else but [A-Za-z0-9.-]. */
    for (char *c = out; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
            *c = 'x';
}

/* 416 for a range outside a file of size bytes. */
static int unsatisfiable(struct request *req, int64_t size)
{
    char range_hdr[96];

    http_error(req, MHD_HTTP_RANGE_NOT_SATISFIABLE, "bad_range",
               "the range is outside the file");
    snprintf(range_hdr, sizeof(range_hdr), "bytes */%lld", (long long)size);
    http_header_add(req, "Content-Range", range_hdr);
    return req->status;
}

/* Answers resp (len bytes from start of a file of size bytes): 206 with
 * its Content-Range if partial, else 200. */
static int respond_range(struct request *req, struct MHD_Response *resp,
                         bool partial, uint64_t start, uint64_t len,
                         int64_t size)
{
    char range_hdr[96];
    uint64_t last;

    http_respond(req, partial ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, resp);
    if (partial) {
        /* start + len <= size (media_parse_range): checked all the same. */
        if (__builtin_add_overflow(start, len - 1, &last))
            last = (uint64_t)size - 1;
        snprintf(range_hdr, sizeof(range_hdr), "bytes %llu-%llu/%lld",
                 (unsigned long long)start, (unsigned long long)last,
                 (long long)size);
        http_header_add(req, "Content-Range", range_hdr);
    }
    return req->status;
}

/* A clip's file streamed from the bucket (objstore.h). */
static ssize_t bucket_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    long n = objstore_file_read(cls, buf, max);

    (void)pos;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void bucket_free(void *cls)
{
    objstore_file_close(cls);
    free(cls);
}

/* The headers every answer with a file carries. */
static void file_headers(struct request *req, const char *id, int64_t created,
                         const char *country, const char *language,
                         bool union_only, const char *ext, const char *mime,
                         const char *etag)
{
    char name[64], disp[128];

    media_file_name(id, created, country, language, union_only, ext, name);
    snprintf(disp, sizeof(disp), "%s; filename=\"%s\"",
             http_query(req, "download") != NULL ? "attachment" : "inline",
             name);
    http_header_add(req, "Content-Type", mime);
    http_header_add(req, "Content-Disposition", disp);
    http_header_add(req, "Accept-Ranges", "bytes");
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Cache-Control", "private, no-cache");
}

/*
 * Serves file obj of message id from the bucket, with Range and the
 * store's ETag: streamed through this server (README, "Object storage":
 * no pre-signed redirect), from a ranged GET. A store that fails is a
 * 502 (logged), never a crash.
 */
static int from_bucket(struct request *req, const char *id, const char *obj,
                       const char *mime, const char *ext, int64_t created,
                       const char *country, const char *language,
                       bool union_only)
{
    struct objstore_file *f = calloc(1, sizeof(*f));
    const char *range, *if_range;
    uint64_t start = 0, len;
    struct MHD_Response *resp;
    int rc;

    if (f == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    rc = objstore_file_open(req->app->store, req->app->cfg->data_dir, id, obj,
                            f);
    if (rc != 0) {
        bucket_free(f);
        if (rc > 0)
            return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                              "no such file");
        return http_error(req, MHD_HTTP_BAD_GATEWAY, "storage_failed",
                          "the object store did not answer; try again");
    }
    if (http_not_modified(req, f->etag, "private, no-cache")) {
        bucket_free(f);
        return req->status;
    }
    len = (uint64_t)f->size;
    range = http_header(req, "Range");
    if_range = http_header(req, "If-Range");
    if (if_range != NULL && strcmp(if_range, f->etag) != 0)
        range = NULL;
    rc = media_parse_range(range, (uint64_t)f->size, &start, &len);
    if (rc == RANGE_UNSATISFIABLE) {
        unsatisfiable(req, f->size);
        bucket_free(f);
        return req->status;
    }
    if (len > 0 && objstore_file_stream(req->app->store, f, (int64_t)start,
                                        (int64_t)len) != 0) {
        bucket_free(f);
        return http_error(req, MHD_HTTP_BAD_GATEWAY, "storage_failed",
                          "the object store did not answer; try again");
    }
    resp = MHD_create_response_from_callback(len, 64 * 1024, bucket_read, f,
                                             bucket_free);
    if (resp == NULL) {
        bucket_free(f);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "cannot send the file");
    }
    respond_range(req, resp, rc == RANGE_PARTIAL, start, len, f->size);
    file_headers(req, id, created, country, language, union_only, ext, mime,
                 f->etag);
    return req->status;
}

int media_get(struct request *req)
{
    char id[UTIL_ID_LEN + 1], file[64], path[PATH_MAX], etag[64];
    const char *version = NULL;
    char country[3] = "", language[36] = "";
    bool union_only = false;
    const char *ext, *mime, *if_range, *range;
    enum storage_kind kind;
    struct MHD_Response *resp;
    struct db_stmt *st;
    struct db *db;
    struct stat sb;
    uint64_t start = 0, len;
    int64_t created = 0;
    int rc, fd = -1, step = DB_DONE;
    bool visible = false;

    if (router_param(&req->match, "id", id, sizeof(id)) < 0 ||
        !util_is_id(id) ||
        router_param(&req->match, "file", file, sizeof(file)) < 0)
        goto not_found;
    if (strstr(req->match.route->pattern, "/v/") != NULL) {
        /* A version, v/<name>.mp4, or its first frame, v/<name>.jpg
         * (storage_version_path checks name). */
        size_t n = strlen(file);
        if (n < 5 || (strcmp(file + n - 4, ".mp4") != 0 &&
                      strcmp(file + n - 4, ".jpg") != 0))
            goto not_found;
        ext = strcmp(file + n - 4, ".mp4") == 0 ? "mp4" : "jpg";
        mime = ext[0] == 'm' ? "video/mp4" : "image/jpeg";
        file[n - 4] = '\0';
        version = file;
        kind = STORAGE_VIDEO;
    } else if (strcmp(file, "video.mp4") == 0) {
        kind = STORAGE_VIDEO;
        ext = "mp4";
        mime = "video/mp4";
    } else if (strcmp(file, "thumb.jpg") == 0) {
        kind = STORAGE_THUMB;
        ext = "jpg";
        mime = "image/jpeg";
    } else if (strcmp(file, "sheet.jpg") == 0) {
        /* A protected clip's contact sheet: 404 for any other clip. */
        kind = STORAGE_SHEET;
        ext = "jpg";
        mime = "image/jpeg";
    } else {
        goto not_found;
    }

    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    if ((st = db_stmt(db, STMT_MSG_STATUS)) == NULL)
        step = DB_ERROR;
    if (st != NULL) {
        db_bind_text(st, 1, id);
        if ((step = db_step(st)) == DB_ROW) {
            int s = message_state_parse(db_col_text(st, 0));
            visible = s >= 0 &&
                      message_sight_in(
                          req->session.role, req->session.campaigns,
                          (enum msg_state)s, db_col_int(st, 5)) == SIGHT_MEDIA;
            created = db_col_int(st, 1);
            snprintf(country, sizeof(country), "%s",
                     db_col_text(st, 2) ? db_col_text(st, 2) : "");
            snprintf(language, sizeof(language), "%s",
                     db_col_text(st, 3) ? db_col_text(st, 3) : "");
            union_only = db_col_text(st, 4) != NULL &&
                         strcmp(db_col_text(st, 4), "union") == 0;
            db_reset(st);
        }
    }
    db_pool_put(req->app->db, db);
    if (step < 0)
        return http_db_error(req, step);
    if (!visible ||
        (version != NULL
             ? storage_version_path(req->app->cfg->data_dir, id, version, ext,
                                    0, path, sizeof(path))
             : storage_path(req->app->cfg->data_dir, kind, id, path,
                            sizeof(path))) != 0)
        goto not_found;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        /* Not on disk (any more): the bucket's, if there is one. */
        if (errno == ENOENT && req->app->store != NULL) {
            char obj[80];
            if ((version != NULL
                     ? util_fmt(obj, sizeof(obj), "v-%s.%s", version, ext)
                     : util_fmt(obj, sizeof(obj), "%s", file)) != 0)
                goto not_found;
            return from_bucket(req, id, obj, mime, ext, created, country,
                               language, union_only);
        }
        return http_file_error(req, errno);
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        goto not_found;

    snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
             (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec);
    if (http_not_modified(req, etag, "private, no-cache")) {
        close(fd);
        return req->status;
    }
    len = (uint64_t)sb.st_size;
    range = http_header(req, "Range");
    if_range = http_header(req, "If-Range");
    /* A stale If-Range: the client's partial copy is of another file. */
    if (if_range != NULL && strcmp(if_range, etag) != 0)
        range = NULL;
    rc = media_parse_range(range, (uint64_t)sb.st_size, &start, &len);
    if (rc == RANGE_UNSATISFIABLE) {
        close(fd);
        return unsatisfiable(req, (int64_t)sb.st_size);
    }
    resp = MHD_create_response_from_fd_at_offset64(len, fd, start);
    if (resp == NULL) {
        close(fd);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "cannot send the file");
    }
    respond_range(req, resp, rc == RANGE_PARTIAL, start, len,
                  (int64_t)sb.st_size);
    file_headers(req, id, created, country, language, union_only, ext, mime,
                 etag);
    return req->status;
not_found:
    if (fd >= 0)
        close(fd);
    return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such file");
}
