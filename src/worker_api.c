#include "chorus/worker_api.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/media.h"
#include "chorus/message.h"
#include "chorus/objstore.h"
#include "chorus/queue.h"
#include "chorus/storage.h"
#include "chorus/util.h"
#include "chorus/worker.h"

/* Remote workers seen (for /metrics), and for how long they count. */
#define SEEN_MAX 1024
#define SEEN_FOR_MS 60000
/* How often a waiting claim looks for a due job (a read, no lock). */
#define CLAIM_POLL_MS 100
/* Longest wait a claim may ask for; below --idle-timeout's default. */
#define CLAIM_WAIT_MAX 25
/* A token's last_seen_at is written at most this often (s). */
#define SEEN_WRITE_S 60
/* Largest output a worker may send (the job's
 * child cannot write a bigger file: RLIMIT_FSIZE). */
#define OUTPUT_MAX ((int64_t)4 * 1024 * 1024 * 1024)

/* Claim latencies' buckets, seconds. */
static const double claim_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,  0.1,    0.25,  0.5,  1};
#define CLAIM_BUCKETS (sizeof(claim_le) / sizeof(claim_le[0]))

struct worker_api {
    pthread_mutex_t lock;
    struct {
        char name[WORKER_TOKEN_NAME_MAX + WORKER_SLOT_MAX + 2];
        int64_t at_ms;
    } seen[SEEN_MAX];
    int nseen;
    atomic_llong claim_bucket[CLAIM_BUCKETS];
    atomic_llong claim_count, claim_us;
};

struct worker_api *worker_api_new(void)
{
    struct worker_api *wa = calloc(1, sizeof(*wa));

    if (wa != NULL)
        pthread_mutex_init(&wa->lock, NULL);
    return wa;
}

void worker_api_free(struct worker_api *wa)
{
    if (wa == NULL)
        return;
    pthread_mutex_destroy(&wa->lock);
    free(wa);
}

/* Notes that worker (a lease name) was heard from now. */
static void seen(struct worker_api *wa, const char *worker)
{
    int64_t now = util_mono_ms();
    int free_slot = -1, i;

    if (wa == NULL)
        return;
    pthread_mutex_lock(&wa->lock);
    for (i = 0; i < wa->nseen; i++) {
        if (strcmp(wa->seen[i].name, worker) == 0)
            break;
        if (free_slot < 0 && now - wa->seen[i].at_ms > SEEN_FOR_MS)
            free_slot = i;
    }
    if (i == wa->nseen) {
        if (wa->nseen < SEEN_MAX)
            wa->nseen++;
        else
            i = free_slot;
    }
    if (i >= 0) {
        snprintf(wa->seen[i].name, sizeof(wa->seen[i].name), "%s", worker);
        wa->seen[i].at_ms = now;
    }
    pthread_mutex_unlock(&wa->lock);
}

static void claim_took(struct worker_api *wa, int64_t us)
{
    if (wa == NULL)
        return;
    for (size_t i = 0; i < CLAIM_BUCKETS; i++)
        if ((double)us / 1e6 <= claim_le[i])
            atomic_fetch_add(&wa->claim_bucket[i], 1);
    atomic_fetch_add(&wa->claim_count, 1);
    atomic_fetch_add(&wa->claim_us, us);
}

void worker_api_metrics(struct worker_api *wa,
                        void (*fn)(void *opaque, const char *line),
                        void *opaque)
{
    char line[256];
    int64_t now = util_mono_ms();
    int n = 0;

    pthread_mutex_lock(&wa->lock);
    for (int i = 0; i < wa->nseen; i++)
        if (now - wa->seen[i].at_ms <= SEEN_FOR_MS)
            n++;
    pthread_mutex_unlock(&wa->lock);
    fn(opaque, "# HELP chorus_workers_seen Remote worker processes heard "
               "from in the last minute.\n# TYPE chorus_workers_seen gauge\n");
    snprintf(line, sizeof(line), "chorus_workers_seen %d\n", n);
    fn(opaque, line);
    fn(opaque, "# HELP chorus_worker_claim_seconds Time the server took to "
               "hand a remote worker a job.\n"
               "# TYPE chorus_worker_claim_seconds histogram\n");
    for (size_t i = 0; i < CLAIM_BUCKETS; i++) {
        snprintf(line, sizeof(line),
                 "chorus_worker_claim_seconds_bucket{le=\"%g\"} %lld\n",
                 claim_le[i], (long long)atomic_load(&wa->claim_bucket[i]));
        fn(opaque, line);
    }
    snprintf(line, sizeof(line),
             "chorus_worker_claim_seconds_bucket{le=\"+Inf\"} %lld\n"
             "chorus_worker_claim_seconds_sum %.6f\n"
             "chorus_worker_claim_seconds_count %lld\n",
             (long long)atomic_load(&wa->claim_count),
             (double)atomic_load(&wa->claim_us) / 1e6,
             (long long)atomic_load(&wa->claim_count));
    fn(opaque, line);
}

/* ---- tokens ----------------------------------------------------------- */

static bool token_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > WORKER_TOKEN_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int worker_token_add(struct db *db, const char *name)
{
    char token[UTIL_TOKEN_LEN + 1];
    unsigned char hash[MESSAGE_HASH_LEN];
    struct db_stmt *st;
    int rc;

    if (!token_name_ok(name))
        return 1;
    util_random_token(token);
    message_token_hash(token, hash);
    if ((st = db_stmt(db, STMT_WTOKEN_INSERT)) == NULL)
        return -1;
    db_bind_text(st, 1, name);
    db_bind_blob(st, 2, hash, sizeof(hash));
    db_bind_int(st, 3, util_now());
    rc = db_step(st);
    if (rc == DB_CONSTRAINT)
        return 1;
    if (rc < 0)
        return -1;
    printf("worker token for %s (shown once: keep it in a file only its "
           "worker can read):\n%s\n",
           name, token);
    sodium_memzero(token, sizeof(token));
    return 0;
}

int worker_token_list(struct db *db, FILE *out)
{
    struct db_stmt *st = db_stmt(db, STMT_WTOKEN_LIST);
    int rc;

    if (st == NULL)
        return -1;
    while ((rc = db_step(st)) == DB_ROW) {
        char made[21], last[21] = "never", gone[21] = "";

        util_iso8601(db_col_int(st, 1), made);
        if (!db_col_is_null(st, 2))
            util_iso8601(db_col_int(st, 2), last);
        if (!db_col_is_null(st, 3))
            util_iso8601(db_col_int(st, 3), gone);
        fprintf(out, "%-32s made %s  last seen %-20s%s%s\n", db_col_text(st, 0),
                made, last, gone[0] ? "  revoked " : "", gone);
    }
    return rc < 0 ? -1 : 0;
}

int worker_token_revoke(struct db *db, const char *name)
{
    struct db_stmt *st = db_stmt(db, STMT_WTOKEN_REVOKE);

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, name);
    db_bind_int(st, 2, util_now());
    if (db_step(st) < 0)
        return -1;
    return db_changes(db) > 0 ? 0 : 1;
}

/* Notes when name's token was last used, at most once a minute: a
 * record for `worker-token list`, not a condition of the request. */
static void token_seen(struct request *req, const char *name, int64_t last)
{
    struct db_stmt *st;
    struct db *db;

    if (util_now() - last < SEEN_WRITE_S ||
        (db = db_pool_get_writer(req->app->db)) == NULL)
        return;
    if ((st = db_stmt(db, STMT_WTOKEN_SEEN)) != NULL) {
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, util_now());
        /* Only the panel's "last seen" of the token: a failure (logged)
         * costs nothing else. */
        if (db_step(st) < 0)
            log_warnx("worker token %s: last use not recorded", name);
    }
    db_pool_put(req->app->db, db);
}

int worker_api_authenticate(struct request *req)
{
    const char *auth = http_header(req, "Authorization");
    unsigned char hash[MESSAGE_HASH_LEN];
    struct db_stmt *st;
    struct db *db;
    int64_t last = 0;
    int rc;

    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 ||
        strlen(auth + 7) != UTIL_TOKEN_LEN)
        return http_error(req, MHD_HTTP_UNAUTHORIZED, "token_required",
                          "a worker token is required");
    message_token_hash(auth + 7, hash);
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    if ((st = db_stmt(db, STMT_WTOKEN_BY_HASH)) == NULL) {
        db_pool_put(req->app->db, db);
        return http_db_error(req, DB_ERROR);
    }
    /* Looked up by its hash (a unique index), as receipts are: the token
     * itself is never stored, nor compared byte by byte. */
    db_bind_blob(st, 1, hash, sizeof(hash));
    rc = db_step(st);
    if (rc == DB_ROW) {
        snprintf(req->worker_token, sizeof(req->worker_token), "%s",
                 db_col_text(st, 0));
        last = db_col_is_null(st, 1) ? 0 : db_col_int(st, 1);
        db_reset(st);
    }
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_db_error(req, rc);
    if (rc != DB_ROW)
        return http_error(req, MHD_HTTP_UNAUTHORIZED, "token_refused",
                          "this worker token is unknown or revoked");
    token_seen(req, req->worker_token, last);
    return 0;
}

int worker_api_hello(struct request *req)
{
    return http_json(req, MHD_HTTP_OK,
                     json_pack("{s:s}", "worker", req->worker_token));
}

/* ---- the lease a request speaks for -----------------------------------------
 */

/* What identifies a remote attempt: the job, the worker's lease name
 * and the attempt. */
struct lease {
    char worker[WORKER_TOKEN_NAME_MAX + WORKER_SLOT_MAX + 2];
    struct job job;
};

static bool slot_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > WORKER_SLOT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The lease name of req's token and slot; false (400 answered) if the
 * slot is not a name. */
static bool worker_name(struct request *req, const char *slot, char *out,
                        size_t len)
{
    if (!slot_ok(slot) ||
        util_fmt(out, len, "%s/%s", req->worker_token, slot) != 0) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "bad_slot",
                   "slot: 1 to %d of A-Z a-z 0-9 . _ -", WORKER_SLOT_MAX);
        return false;
    }
    seen(req->app->workers, out);
    return true;
}

/* Reads the lease of req from its path ({id}) and slot and attempt (in
 * body, or NULL: the query). false with the answer given if malformed. */
static bool lease_of(struct request *req, json_t *body, struct lease *l)
{
    char id[24], *end;
    const char *slot, *attempt;
    long long job_id, n = 0;

    memset(l, 0, sizeof(*l));
    if (router_param(&req->match, "id", id, sizeof(id)) < 0 ||
        (job_id = strtoll(id, &end, 10)) <= 0 || *end != '\0') {
        http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such job");
        return false;
    }
    if (body != NULL) {
        slot = json_string_value(json_object_get(body, "slot"));
        n = json_integer_value(json_object_get(body, "attempt"));
    } else {
        slot = http_query(req, "slot");
        attempt = http_query(req, "attempt");
        n = attempt != NULL ? strtoll(attempt, &end, 10) : 0;
        if (attempt == NULL || *end != '\0')
            n = 0;
    }
    if (n <= 0 || n > 1000) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "bad_attempt",
                   "attempt: the attempt the claim gave");
        return false;
    }
    if (!worker_name(req, slot, l->worker, sizeof(l->worker)))
        return false;
    l->job.id = job_id;
    l->job.attempts = (int)n;
    return true;
}

/*
 * Whether l holds its job's lease now: 1 with l->job's kind, message
 * and args filled, 0 (409 answered), or -1 (answered).
 */
static int owned(struct request *req, struct db *db, struct lease *l)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_OWNED);
    const char *s;
    int rc;

    if (st == NULL) {
        http_db_error(req, DB_ERROR);
        return -1;
    }
    db_bind_int(st, 1, l->job.id);
    db_bind_text(st, 2, l->worker);
    db_bind_int(st, 3, l->job.attempts);
    rc = db_step(st);
    if (rc == DB_ROW) {
        snprintf(l->job.kind, sizeof(l->job.kind), "%s", db_col_text(st, 0));
        s = db_col_text(st, 1);
        snprintf(l->job.message_id, sizeof(l->job.message_id), "%s",
                 s != NULL ? s : "");
        s = db_col_text(st, 2);
        snprintf(l->job.target, sizeof(l->job.target), "%s", s ? s : "");
        s = db_col_text(st, 3);
        snprintf(l->job.args, sizeof(l->job.args), "%s", s ? s : "");
        db_reset(st);
        return 1;
    }
    if (rc < 0) {
        http_db_error(req, rc);
        return -1;
    }
    http_error(req, MHD_HTTP_CONFLICT, "lost",
               "this attempt no longer holds the job's lease (it expired "
               "and moved on, or the job was withdrawn)");
    return 0;
}

/* 409 lost, the answer every lease-holder-only request gives. */
static int lost(struct request *req)
{
    return http_error(req, MHD_HTTP_CONFLICT, "lost",
                      "this attempt no longer holds the job's lease (it "
                      "expired and moved on, or the job was withdrawn)");
}

/* ---- claim ----------------------------------------------------------------
 */

/* Kinds a remote worker may ask for: the ones whose inputs and outputs
 * are a message's files. */
static bool kind_remote(const char *k)
{
    return strcmp(k, JOB_KIND_TRANSCODE) == 0;
}

/*
 * The answer to a claim of job by l: what it is, its lease, where its
 * input is and what its child needs. Returns the JSON (a new reference)
 * or NULL, with the job failed (no input) or released (a passing fault)
 * in *gone.
 */
static json_t *describe_job(struct request *req, struct db *db,
                            const struct lease *l, bool *gone)
{
    struct app *app = req->app;
    const struct job *job = &l->job;
    const char *names[WORKER_OUTPUTS_MAX];
    struct job_message msg;
    char url[160];
    json_t *outputs, *input, *out;
    int64_t bytes;
    int n;

    *gone = true;
    if (worker_job_message(db, job, &msg) != 0) {
        queue_fail(db, job, l->worker, "the server could not read the message",
                   true);
        return NULL;
    }
    {
        bytes =
            storage_size(app->cfg->data_dir, STORAGE_INCOMING, job->message_id);
        if (bytes < 0) {
            queue_fail(db, job, l->worker,
                       "the uploaded file is missing on the server", false);
            return NULL;
        }
        snprintf(url, sizeof(url),
                 "/api/v1/worker/jobs/%lld/input?slot=%s&attempt=%d",
                 (long long)job->id, strchr(l->worker, '/') + 1, job->attempts);
    }
    input = json_pack("{s:s, s:I}", "url", url, "bytes", (json_int_t)bytes);
    outputs = json_array();
    n = worker_outputs(msg.protect != 0, names);
    for (int i = 0; i < n; i++)
        json_array_append_new(outputs, json_string(names[i]));
    out = json_pack(
        "{s:{s:I, s:s, s:s, s:i, s:i, s:o, s:o, s:{s:i, s:i, s:i, s:i, s:i, "
        "s:s, s:i}}}",
        "job", "id", (json_int_t)job->id, "kind", job->kind, "message_id",
        job->message_id, "attempt", job->attempts, "lease_s",
        app->cfg->job_lease, "input", input, "outputs", outputs, "options",
        "max_side", app->cfg->max_side, "max_duration", app->cfg->max_duration,
        "timeout_factor", app->cfg->job_timeout_factor, "memory_mb",
        app->cfg->job_memory_mb, "protect", (int)msg.protect, "credit",
        msg.credit, "accent", (int)msg.accent);
    sodium_memzero(&msg, sizeof(msg));
    if (out == NULL) {
        queue_release(db, job, l->worker);
        return NULL;
    }
    *gone = false;
    return out;
}

/*
 * With object storage, a transcode's input is read from the bucket: the
 * original copied to its private prefix and a pre-signed GET in place of
 * the server's input route (which stays the way if the store fails).
 */
static void share_input(struct request *req, const struct lease *l,
                        json_t *answer)
{
    char url[S3_URL_MAX];
    json_t *input = json_object_get(json_object_get(answer, "job"), "input");

    if (req->app->store == NULL || !queue_job_is_transcode(&l->job) ||
        input == NULL)
        return;
    if (objstore_share_original(req->app->store, req->app->cfg->data_dir,
                                l->job.message_id, url, sizeof(url)) != 0) {
        log_warnx("job %lld: its input goes through the server instead",
                  (long long)l->job.id);
        return;
    }
    json_object_set_new(input, "url", json_string(url));
}

int worker_api_claim(struct request *req)
{
    struct app *app = req->app;
    json_t *body = http_body_object(req), *kinds_in, *k, *answer = NULL;
    char kinds[128] = ",";
    struct lease l;
    int64_t deadline;
    size_t i;
    int wait;

    if (body == NULL)
        return req->status;
    memset(&l, 0, sizeof(l));
    if (!worker_name(req, json_string_value(json_object_get(body, "slot")),
                     l.worker, sizeof(l.worker))) {
        json_decref(body);
        return req->status;
    }
    wait = (int)json_integer_value(json_object_get(body, "wait"));
    if (wait < 0 || wait > CLAIM_WAIT_MAX)
        wait = wait < 0 ? 0 : CLAIM_WAIT_MAX;
    /* The kinds it can make and this server lets remote workers have. */
    kinds_in = json_object_get(body, "kinds");
    json_array_foreach(kinds_in, i, k)
    {
        const char *s = json_string_value(k);
        if (s != NULL && kind_remote(s) &&
            strlen(kinds) + strlen(s) + 2 < sizeof(kinds))
            snprintf(kinds + strlen(kinds), sizeof(kinds) - strlen(kinds),
                     "%s,", s);
    }
    json_decref(body);
    if (kinds_in == NULL)
        snprintf(kinds, sizeof(kinds), ",%s,", JOB_KIND_TRANSCODE);
    if (strlen(kinds) < 2)
        return http_empty(req, MHD_HTTP_NO_CONTENT);

    deadline = util_mono_ms() + (int64_t)wait * 1000;
    for (;;) {
        int64_t t0 = util_mono_ms();
        struct db *db;
        bool gone = false;
        int rc;

        if (atomic_load(&app->stopping))
            break;
        /* A read first: idle claims never queue for the write lock. */
        if ((db = db_pool_get(app->db)) == NULL)
            return http_db_error(req, DB_BUSY);
        rc = queue_has_due(db, kinds);
        db_pool_put(app->db, db);
        if (rc > 0) {
            if ((db = db_pool_get_writer(app->db)) == NULL)
                return http_db_error(req, DB_BUSY);
            t0 = util_mono_ms();
            rc = queue_claim_kinds(db, l.worker, app->cfg->job_lease, kinds,
                                   &l.job);
            if (rc == 1)
                answer = describe_job(req, db, &l, &gone);
            db_pool_put(app->db, db);
            if (answer != NULL)
                share_input(req, &l, answer);
        }
        if (rc < 0)
            return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                              "the queue cannot be read now; try again");
        if (answer != NULL) {
            claim_took(app->workers, (util_mono_ms() - t0) * 1000);
            log_info("job %lld: claimed by %s, attempt %d", (long long)l.job.id,
                     l.worker, l.job.attempts);
            return http_json(req, MHD_HTTP_OK, answer);
        }
        if (gone) /* that one could not be handed out: the next */
            continue;
        if (util_mono_ms() >= deadline)
            break;
        usleep(CLAIM_POLL_MS * 1000);
    }
    return http_empty(req, MHD_HTTP_NO_CONTENT);
}

/* ---- a running job ----------------------------------------------------------
 */

int worker_api_heartbeat(struct request *req)
{
    json_t *body = http_body_object(req);
    struct lease l;
    struct db *db;
    double progress;
    int rc;

    if (body == NULL)
        return req->status;
    if (!lease_of(req, body, &l)) {
        json_decref(body);
        return req->status;
    }
    progress = json_number_value(json_object_get(body, "progress"));
    json_decref(body);
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = queue_heartbeat(db, &l.job, l.worker, req->app->cfg->job_lease,
                         progress);
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_db_error(req, DB_ERROR);
    if (rc == 0)
        return lost(req);
    return http_json(req, MHD_HTTP_OK,
                     json_pack("{s:s, s:i}", "state", "running", "lease_s",
                               req->app->cfg->job_lease));
}

int worker_api_input(struct request *req)
{
    char path[PATH_MAX], range_hdr[96];
    struct MHD_Response *resp;
    struct lease l;
    struct stat sb;
    struct db *db;
    uint64_t start = 0, len;
    int fd, rc;

    if (!lease_of(req, NULL, &l))
        return req->status;
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = owned(req, db, &l);
    db_pool_put(req->app->db, db);
    if (rc != 1)
        return req->status;
    if (storage_path(req->app->cfg->data_dir, STORAGE_INCOMING,
                     l.job.message_id, path, sizeof(path)) != 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no input");
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return http_file_error(req, errno);
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return http_file_error(req, errno);
    }
    len = (uint64_t)sb.st_size;
    /* Resumable: a worker whose download broke asks for the rest. */
    rc = media_parse_range(http_header(req, "Range"), (uint64_t)sb.st_size,
                           &start, &len);
    if (rc == RANGE_UNSATISFIABLE) {
        close(fd);
        http_error(req, MHD_HTTP_RANGE_NOT_SATISFIABLE, "bad_range",
                   "the range is outside the file");
        snprintf(range_hdr, sizeof(range_hdr), "bytes */%lld",
                 (long long)sb.st_size);
        http_header_add(req, "Content-Range", range_hdr);
        return req->status;
    }
    if ((resp = MHD_create_response_from_fd_at_offset64(len, fd, start)) ==
        NULL) {
        close(fd);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "cannot send the file");
    }
    http_respond(req,
                 rc == RANGE_PARTIAL ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK,
                 resp);
    if (rc == RANGE_PARTIAL) {
        snprintf(range_hdr, sizeof(range_hdr), "bytes %llu-%llu/%lld",
                 (unsigned long long)start,
                 (unsigned long long)(start + len - 1), (long long)sb.st_size);
        http_header_add(req, "Content-Range", range_hdr);
    }
    http_header_add(req, "Content-Type", "application/octet-stream");
    http_header_add(req, "Accept-Ranges", "bytes");
    return req->status;
}

/* True if name is one of job's outputs (for a transcode: what the
 * message's protection makes). */
static bool output_expected(struct db *db, const struct job *job,
                            const char *name, bool *sheet)
{
    const char *names[WORKER_OUTPUTS_MAX];
    struct job_message msg;
    int n;

    if (worker_job_message(db, job, &msg) != 0)
        return false;
    *sheet = msg.protect != 0;
    n = worker_outputs(*sheet, names);
    sodium_memzero(&msg, sizeof(msg));
    for (int i = 0; i < n; i++)
        if (name != NULL && strcmp(names[i], name) == 0)
            return true;
    return name == NULL;
}

/* SHA-256 of the file at path as hex; 0, or -1. */
static int file_sha256(const char *path, int64_t *bytes, char hex[65])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES], buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n;

    if (fd < 0)
        return -1;
    *bytes = 0;
    crypto_hash_sha256_init(&st);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
        *bytes += n;
    }
    close(fd);
    if (n < 0)
        return -1;
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof(h));
    return 0;
}

/* The path an output of l's attempt is written to: its attempt's name in
 * the message's media directory. */
static int output_path(struct request *req, const struct lease *l,
                       const char *name, char *out, size_t len)
{
    char dir[PATH_MAX], tmp[64];

    if (storage_path(req->app->cfg->data_dir, STORAGE_MEDIA_DIR,
                     l->job.message_id, dir, sizeof(dir)) != 0 ||
        worker_output_tmp(name, l->job.attempts, tmp, sizeof(tmp)) != 0)
        return -1;
    return util_fmt(out, len, "%s/%s", dir, tmp);
}

int worker_api_outputs(struct request *req)
{
    struct app *app = req->app;
    json_t *body = http_body_object(req), *files, *f, *answer = NULL;
    struct lease l;
    struct db *db = NULL;
    size_t i;
    int rc;

    if (body == NULL)
        return req->status;
    if (!lease_of(req, body, &l))
        goto out;
    files = json_object_get(body, "files");
    if (!json_is_array(files) || json_array_size(files) == 0 ||
        json_array_size(files) > WORKER_OUTPUTS_MAX) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "bad_files",
                   "files: [{\"name\",\"bytes\",\"sha256\"}]");
        goto out;
    }
    if ((db = db_pool_get_writer(app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        goto out;
    }
    if ((rc = owned(req, db, &l)) != 1)
        goto out;
    answer = json_array();
    json_array_foreach(files, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        json_int_t bytes = json_integer_value(json_object_get(f, "bytes"));
        char url[S3_URL_MAX], path[PATH_MAX], have[65], key[S3_KEY_MAX];
        int64_t size = -1;
        bool sheet;

        if (name == NULL || !output_expected(db, &l.job, name, &sheet) ||
            sha == NULL || strlen(sha) != 64 || bytes < 0 ||
            bytes > OUTPUT_MAX) {
            http_error(req, MHD_HTTP_BAD_REQUEST, "bad_file",
                       "not an output of this job, or without its bytes and "
                       "sha256");
            goto out;
        }
        /* With object storage, straight into the bucket's private
         * prefix: a PUT there is whole or absent, so its size says it is
         * in (the lease's holder only sends this attempt's files). */
        if (app->store != NULL &&
            objstore_work_url(app->store, l.job.message_id, l.job.id,
                              l.job.attempts, name, key, sizeof(key), url,
                              sizeof(url)) == 0) {
            bool in =
                objstore_size(app->store, key, &size) == 1 && size == bytes;
            json_array_append_new(answer,
                                  json_pack("{s:s, s:s, s:b}", "name", name,
                                            "url", url, "have", in));
            continue;
        }
        snprintf(url, sizeof(url),
                 "/api/v1/worker/jobs/%lld/outputs/%s?slot=%s&attempt=%d"
                 "&sha256=%s",
                 (long long)l.job.id, name, strchr(l.worker, '/') + 1,
                 l.job.attempts, sha);
        /* Sent before, whole (a retried request): not again. */
        have[0] = '\0';
        if (output_path(req, &l, name, path, sizeof(path)) == 0)
            file_sha256(path, &size, have);
        json_array_append_new(
            answer, json_pack("{s:s, s:s, s:b}", "name", name, "url", url,
                              "have", size == bytes && strcmp(have, sha) == 0));
    }
    http_json(req, MHD_HTTP_OK, json_pack("{s:o}", "files", answer));
    answer = NULL;
out:
    json_decref(answer);
    json_decref(body);
    db_pool_put(app->db, db);
    return req->status;
}

/* An output arriving. */
struct output_ctx {
    int fd;
    char path[PATH_MAX];
    char want[65];
    int64_t bytes;
    crypto_hash_sha256_state sha;
};

static void output_ctx_free(void *opaque)
{
    struct output_ctx *ctx = opaque;

    if (ctx->fd >= 0) {
        close(ctx->fd);
        unlink(ctx->path); /* not finished: not kept */
    }
    free(ctx);
}

int worker_api_output_begin(struct request *req)
{
    struct output_ctx *ctx = calloc(1, sizeof(*ctx));
    const char *sha = http_query(req, "sha256");
    char name[72], dir[PATH_MAX];
    struct lease l;
    struct db *db;
    bool sheet;
    int rc;

    if (ctx == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    ctx->fd = -1;
    req->ctx = ctx;
    req->ctx_free = output_ctx_free;
    if (!lease_of(req, NULL, &l))
        return req->status;
    if (router_param(&req->match, "name", name, sizeof(name)) < 0 ||
        sha == NULL || strlen(sha) != 64)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_file",
                          "an output's name and its sha256 are needed");
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = owned(req, db, &l);
    if (rc == 1 && !output_expected(db, &l.job, name, &sheet)) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "bad_file",
                   "not an output of this job");
        rc = -1;
    }
    db_pool_put(req->app->db, db);
    if (rc != 1)
        return req->status;
    if (!storage_has_room(req->app->cfg->data_dir, 0,
                          (int64_t)req->app->cfg->min_free_mb * 1024 * 1024))
        return http_error(req, MHD_HTTP_INSUFFICIENT_STORAGE, "disk_full",
                          "the server's disk is full");
    snprintf(ctx->want, sizeof(ctx->want), "%s", sha);
    if (storage_path(req->app->cfg->data_dir, STORAGE_MEDIA_DIR,
                     l.job.message_id, dir, sizeof(dir)) != 0 ||
        output_path(req, &l, name, ctx->path, sizeof(ctx->path)) != 0 ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST) ||
        (ctx->fd = open(ctx->path,
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                        0600)) < 0) {
        log_warn("job %lld: cannot store an output", (long long)l.job.id);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the output cannot be stored");
    }
    crypto_hash_sha256_init(&ctx->sha);
    return 0;
}

int worker_api_output_body(struct request *req, const char *data, size_t size)
{
    struct output_ctx *ctx = req->ctx;

    if (ctx->bytes + (int64_t)size > OUTPUT_MAX)
        return http_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                          "an output is at most 4 GiB");
    crypto_hash_sha256_update(&ctx->sha, (const unsigned char *)data, size);
    while (size > 0) {
        ssize_t n = write(ctx->fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("write an output");
            return http_error(req,
                              errno == ENOSPC ? MHD_HTTP_INSUFFICIENT_STORAGE
                                              : MHD_HTTP_INTERNAL_SERVER_ERROR,
                              "internal", "the output cannot be stored");
        }
        ctx->bytes += n;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

int worker_api_output_put(struct request *req)
{
    struct output_ctx *ctx = req->ctx;
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[65];

    if (ctx == NULL || ctx->fd < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the output cannot be stored");
    crypto_hash_sha256_final(&ctx->sha, h);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    if (strcmp(hex, ctx->want) != 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "checksum_mismatch",
                          "the output's SHA-256 is not the one announced; "
                          "send it again");
    if (fdatasync(ctx->fd) != 0) {
        log_warn("fdatasync an output");
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the output cannot be stored");
    }
    close(ctx->fd);
    ctx->fd = -1; /* kept */
    return http_json(req, MHD_HTTP_CREATED,
                     json_pack("{s:I}", "bytes", (json_int_t)ctx->bytes));
}

/* ---- the end of a job
 * ---------------------------------------------------------- */

/* What the publishing hooks inside queue_succeed need. */
struct done_ctx {
    struct app *app;
    struct db *db;
    const struct job *job;
    bool sheet;
    bool in_bucket; /* sent through pre-signed URLs (objstore.h) */
};

static int publish_done(void *opaque)
{
    const struct done_ctx *d = opaque;

    /* In the bucket: published already (publish_bucket). */
    if (d->in_bucket)
        return 0;
    return worker_publish_local(d->app->cfg->data_dir, d->job, d->sheet);
}

/*
 * The outputs of l's attempt in the bucket's private prefix: 1 if every
 * one is there, each then copied (in the store) to the message's media,
 * 0 if one is missing (400 answered), -1 if the store failed.
 */
static int publish_bucket(struct request *req, const struct lease *l,
                          bool sheet)
{
    const char *names[WORKER_OUTPUTS_MAX];
    char key[S3_KEY_MAX];
    int n = worker_outputs(sheet, names);
    int64_t size;

    for (int i = 0; i < n; i++) {
        int rc = objstore_work_url(req->app->store, l->job.message_id,
                                   l->job.id, l->job.attempts, names[i], key,
                                   sizeof(key), NULL, 0) != 0
                     ? -1
                     : objstore_size(req->app->store, key, &size);
        if (rc < 0)
            return -1;
        if (rc == 0 || size <= 0) {
            http_error(req, MHD_HTTP_BAD_REQUEST, "outputs_missing",
                       "%s has not been sent", names[i]);
            return 0;
        }
    }
    for (int i = 0; i < n; i++)
        if (objstore_publish_work(req->app->store, l->job.message_id, l->job.id,
                                  l->job.attempts, names[i]) != 0)
            return -1;
    return 1;
}

/* Whether every output of l's attempt is in: 1, or 0 (400 answered if
 * answer). */
static int outputs_in(struct request *req, const struct lease *l, bool sheet,
                      bool answer)
{
    const char *names[WORKER_OUTPUTS_MAX];
    char path[PATH_MAX];
    int n = worker_outputs(sheet, names);

    for (int i = 0; i < n; i++)
        if (output_path(req, l, names[i], path, sizeof(path)) != 0 ||
            access(path, R_OK) != 0) {
            if (answer)
                http_error(req, MHD_HTTP_BAD_REQUEST, "outputs_missing",
                           "%s has not been sent", names[i]);
            return 0;
        }
    return 1;
}

int worker_api_done(struct request *req)
{
    struct app *app = req->app;
    json_t *body = http_body_object(req), *facts, *result;
    struct job_facts f;
    struct done_ctx d;
    struct lease l;
    struct db *db = NULL;
    char *json = NULL;
    bool sheet = false, in_bucket = false;
    int rc;

    if (body == NULL)
        return req->status;
    if (!lease_of(req, body, &l))
        goto out;
    facts = json_object_get(body, "facts");
    result = json_object_get(body, "result");
    if (!json_is_object(facts) || !json_is_object(result)) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "bad_facts",
                   "facts and result: what the job's child reported");
        goto out;
    }
    memset(&f, 0, sizeof(f));
    f.duration_ms = json_integer_value(json_object_get(facts, "duration_ms"));
    f.width = (int)json_integer_value(json_object_get(facts, "width"));
    f.height = (int)json_integer_value(json_object_get(facts, "height"));
    f.has_audio = json_is_true(json_object_get(facts, "has_audio"));
    f.video_bytes = json_integer_value(json_object_get(facts, "video_bytes"));
    f.check_protection =
        json_is_true(json_object_get(facts, "check_protection"));
    f.seconds = json_number_value(json_object_get(facts, "seconds"));
    f.json = json = json_dumps(result, JSON_COMPACT);
    if ((db = db_pool_get_writer(app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        goto out;
    }
    if (owned(req, db, &l) != 1)
        goto out;
    if (!output_expected(db, &l.job, NULL, &sheet)) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "cannot check the outputs");
        goto out;
    }
    /* Sent to this server, or (object storage) to the bucket. */
    if (outputs_in(req, &l, sheet, app->store == NULL) != 1) {
        if (app->store == NULL)
            goto out;
        in_bucket = true;
        if ((rc = publish_bucket(req, &l, sheet)) <= 0) {
            if (rc < 0)
                http_error(req, MHD_HTTP_BAD_GATEWAY, "storage_failed",
                           "the object store did not answer; try again");
            goto out;
        }
    }
    d = (struct done_ctx){app, db, &l.job, sheet, in_bucket};
    rc = queue_succeed(db, &l.job, l.worker, &f, publish_done, &d);
    if (rc == 1) {
        worker_dispose_original(app->cfg->data_dir, l.job.message_id,
                                app->cfg->keep_originals);
        log_info("job %lld: done by %s in %.1f s", (long long)l.job.id,
                 l.worker, f.seconds);
        /* Outputs that came through this server: now to the bucket; a
         * withdrawal meanwhile must delete what was published there. */
        if (in_bucket)
            objstore_recheck(app->store, db, l.job.message_id);
        else
            objstore_offload(app->store, db, app->cfg->data_dir,
                             l.job.message_id);
        http_json(req, MHD_HTTP_OK, json_pack("{s:s}", "state", "done"));
    } else if (rc == QUEUE_LOST) {
        worker_discard_local(app->cfg->data_dir, &l.job);
        /* Published in the bucket already: a withdrawal that took the
         * lease away must still delete them. */
        if (in_bucket)
            objstore_recheck(app->store, db, l.job.message_id);
        log_info("job %lld: %s finished attempt %d but lost its lease; its "
                 "outputs are dropped",
                 (long long)l.job.id, l.worker, l.job.attempts);
        lost(req);
    } else {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "the result could not be stored");
    }
out:
    free(json);
    json_decref(body);
    db_pool_put(app->db, db);
    return req->status;
}

int worker_api_fail(struct request *req)
{
    struct app *app = req->app;
    json_t *body = http_body_object(req);
    const char *reason;
    struct lease l;
    struct db *db = NULL;
    bool retryable;
    int rc;

    if (body == NULL)
        return req->status;
    if (!lease_of(req, body, &l))
        goto out;
    reason = json_string_value(json_object_get(body, "reason"));
    retryable = json_is_true(json_object_get(body, "retryable"));
    if (reason == NULL || reason[0] == '\0' || strlen(reason) > 500) {
        http_error(req, MHD_HTTP_BAD_REQUEST, "bad_reason",
                   "reason: why, in words a moderator can read (at most "
                   "500 bytes)");
        goto out;
    }
    if ((db = db_pool_get_writer(app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        goto out;
    }
    if (owned(req, db, &l) != 1)
        goto out;
    rc = queue_fail(db, &l.job, l.worker, reason, retryable);
    worker_discard_local(app->cfg->data_dir, &l.job);
    if (rc == QUEUE_LOST) {
        lost(req);
    } else if (rc < 0) {
        http_db_error(req, DB_ERROR);
    } else {
        log_info("job %lld: attempt %d by %s failed%s: %s", (long long)l.job.id,
                 l.job.attempts, l.worker,
                 rc == 1 ? " (it will be retried)" : " for good", reason);
        http_json(req, MHD_HTTP_OK,
                  json_pack("{s:s, s:b}", "state",
                            rc == 1 ? "queued" : "failed", "retry", rc == 1));
    }
out:
    json_decref(body);
    db_pool_put(app->db, db);
    return req->status;
}

int worker_api_release(struct request *req)
{
    json_t *body = http_body_object(req);
    struct lease l;
    struct db *db;
    int rc;

    if (body == NULL)
        return req->status;
    if (!lease_of(req, body, &l)) {
        json_decref(body);
        return req->status;
    }
    json_decref(body);
    if ((db = db_pool_get_writer(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = queue_release(db, &l.job, l.worker);
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_db_error(req, DB_ERROR);
    if (rc == 0)
        return lost(req);
    log_info("job %lld: given back by %s", (long long)l.job.id, l.worker);
    return http_json(req, MHD_HTTP_OK, json_pack("{s:s}", "state", "queued"));
}
