#include "chorus/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/objstore.h"
#include "chorus/util.h"
#include "chorus/worker_api.h"

/*
 * Open without the token only to this host itself: a loopback peer that
 * forwarded nothing. A request with X-Forwarded-For or Forwarded came
 * through a proxy (on loopback, too, behind nginx), from anyone.
 */
static bool from_this_host(struct request *req)
{
    const struct client *c = http_client(req);

    return c->loopback && !c->forwarded;
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

static void text_line(void *opaque, const char *line)
{
    text_add(opaque, "%s", line);
}

/* Object storage: this process's requests to the store by operation, and
 * the deletions still to make (every process's, from the database). */
static void storage_metrics(struct db *db, struct text *t)
{
    int64_t pending, failing;

    text_add(t, "# HELP chorus_s3_requests_total Requests this server made "
                "to the object store, by operation.\n"
                "# TYPE chorus_s3_requests_total counter\n");
    for (int op = 0; op < S3_OP__COUNT; op++) {
        int64_t n, errors;
        s3_counts((enum s3_op)op, &n, &errors);
        text_add(t, "chorus_s3_requests_total{op=\"%s\"} %lld\n",
                 s3_op_name((enum s3_op)op), (long long)n);
    }
    text_add(t, "# HELP chorus_s3_request_errors_total Requests to the "
                "object store that failed (network, or an error answer).\n"
                "# TYPE chorus_s3_request_errors_total counter\n");
    for (int op = 0; op < S3_OP__COUNT; op++) {
        int64_t n, errors;
        s3_counts((enum s3_op)op, &n, &errors);
        text_add(t, "chorus_s3_request_errors_total{op=\"%s\"} %lld\n",
                 s3_op_name((enum s3_op)op), (long long)errors);
    }
    if (objstore_pending(db, &pending, &failing) == 0)
        text_add(t,
                 "# HELP chorus_s3_deletions_pending Messages whose objects "
                 "are still to be deleted from the bucket.\n"
                 "# TYPE chorus_s3_deletions_pending gauge\n"
                 "chorus_s3_deletions_pending %lld\n"
                 "# HELP chorus_s3_deletions_failing Of those, the ones a "
                 "try failed for (retried by the sweep).\n"
                 "# TYPE chorus_s3_deletions_failing gauge\n"
                 "chorus_s3_deletions_failing %lld\n",
                 (long long)pending, (long long)failing);
}

/* Remote workers (DESIGN.md "Scale"). */
static void scale_metrics(struct request *req, struct db *db, struct text *t)
{
    struct db_stmt *st;

    text_add(t, "# HELP chorus_worker_jobs Jobs by the worker that last held "
                "them (a remote worker's token, or local) and state.\n"
                "# TYPE chorus_worker_jobs gauge\n");
    if ((st = db_stmt(db, STMT_JOB_BY_WORKER)) != NULL)
        while (db_step(st) == DB_ROW)
            text_add(t, "chorus_worker_jobs{worker=\"%s\",state=\"%s\"} %lld\n",
                     db_col_text(st, 0), db_col_text(st, 1),
                     (long long)db_col_int(st, 2));
    worker_api_metrics(req->app->workers, text_line, t);
    storage_metrics(db, t);
}

int metrics_get(struct request *req)
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

    if (!from_this_host(req) &&
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
    if ((db = db_pool_get(req->app->db)) == NULL) {
        free(t.p);
        return http_db_error(req, DB_BUSY);
    }
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
    scale_metrics(req, db, &t);
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
