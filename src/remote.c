#include "chorus/remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "chorus/config.h"
#include "chorus/log.h"
#include "chorus/util.h"
#include "chorus/worker.h"
#include "chorus/worker_api.h"

/* Longest answer the worker API gives (a claim is a few hundred bytes). */
#define ANSWER_MAX (64 * 1024)
/* Backoff after a failure: from this, doubling, up to BACKOFF_MAX_MS. */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 15000
/* Tries of a download, an upload or the end of a job before giving up
 * (the lease then moves the job on to another worker). */
#define TRIES 6
/* A request other than a claim answers within this (s). */
#define REQUEST_TIMEOUT 30
/* A transfer slower than 1 KiB/s for this long is broken (s). */
#define STALL_S 20

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

/* One remote worker process. */
struct remote {
    const struct config *cfg;
    char token[UTIL_TOKEN_LEN + 1];
    char auth[UTIL_TOKEN_LEN + 32]; /* "Authorization: Bearer <token>" */
    char base[512];                 /* the server's URL, no trailing '/' */
    char slot[WORKER_SLOT_MAX + 1];
    char dir[PATH_MAX]; /* this process's job directory */
    CURL *curl;
    int failures; /* in a row, for the backoff */
    /* Ending a job (done, fail, release): heard out even when stopping. */
    bool finishing;
};

/* The job being run, for the heartbeat. */
struct remote_job {
    struct remote *r;
    struct job job;
};

/* ---- the job directory ---------------------------------------------- */

static int remove_one(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level > 0 && remove(path) != 0 && errno != ENOENT)
        log_warn("cannot delete %s", path);
    return 0;
}

/* Deletes everything under dir, keeping dir itself. */
static void empty_dir(const char *dir)
{
    if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        log_warn("cannot empty %s", dir);
}

/* This host's name as a slot's first part: [A-Za-z0-9.-], short. */
static void host_part(char *out, size_t len)
{
    char host[256] = "host";

    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "host");
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            *p = '-';
    snprintf(out, len, "%.24s", host);
}

static const char *tmp_root(const struct config *cfg, char *buf, size_t len)
{
    const char *t = getenv("TMPDIR");

    if (cfg->tmp_dir[0] != '\0')
        return cfg->tmp_dir;
    snprintf(buf, len, "%s/chorus-worker", t != NULL && t[0] ? t : "/tmp");
    return buf;
}

/* The slot of the process pid and its job directory. */
static int slot_of(const struct config *cfg, pid_t pid, char *slot,
                   size_t slot_len, char *dir, size_t dir_len)
{
    char host[32], root[PATH_MAX];

    host_part(host, sizeof(host));
    if (util_fmt(slot, slot_len, "%s-%ld", host, (long)pid) != 0)
        return -1;
    return util_fmt(dir, dir_len, "%s/%s", tmp_root(cfg, root, sizeof(root)),
                    slot);
}

/* ---- HTTP ------------------------------------------------------------ */

struct answer {
    char *p;
    size_t len;
};

static size_t on_answer(char *data, size_t size, size_t n, void *opaque)
{
    struct answer *a = opaque;
    size_t add = size * n;
    char *p;

    if (a->len + add > ANSWER_MAX ||
        (p = realloc(a->p, a->len + add + 1)) == NULL)
        return 0;
    memcpy(p + a->len, data, add);
    a->p = p;
    a->len += add;
    a->p[a->len] = '\0';
    return add;
}

static int on_progress(void *opaque, curl_off_t dt, curl_off_t dn,
                       curl_off_t ut, curl_off_t un)
{
    const struct remote *r = opaque;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    /* A stopping worker waits for no claim or transfer, but still
     * gives its job back. */
    return stopping && !r->finishing ? 1 : 0;
}

/* Prepares r->curl for a request to url (a path of the server, or a full
 * URL); headers gets the token only for the server. */
static struct curl_slist *prepare(struct remote *r, const char *url,
                                  long timeout_s, bool json)
{
    char full[2048];
    struct curl_slist *h = NULL;
    bool ours = url[0] == '/';

    curl_easy_reset(r->curl);
    if (ours)
        snprintf(full, sizeof(full), "%s%s", r->base, url);
    else
        snprintf(full, sizeof(full), "%s", url);
    curl_easy_setopt(r->curl, CURLOPT_URL, full);
    curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_TIME, (long)STALL_S);
    curl_easy_setopt(r->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(r->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(r->curl, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (ours)
        h = curl_slist_append(h, r->auth);
    if (json)
        h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
    return h;
}

/*
 * A JSON request to the server: method path with body (or NULL).
 * Returns the HTTP status with *out the answer's JSON (or NULL; the
 * caller decrefs), or -1 if the server could not be reached.
 */
static long call(struct remote *r, const char *method, const char *path,
                 json_t *body, long timeout_s, json_t **out)
{
    struct answer a = {NULL, 0};
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *h = prepare(r, path, timeout_s, body != NULL);
    long status = -1;
    CURLcode rc;

    if (out != NULL)
        *out = NULL;
    curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, method);
    if (text != NULL)
        curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &a);
    rc = curl_easy_perform(r->curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
        if (out != NULL && a.p != NULL)
            *out = json_loads(a.p, 0, NULL);
    } else if (!stopping) {
        log_warnx("%s %s: %s", method, path, curl_easy_strerror(rc));
    }
    curl_slist_free_all(h);
    free(text);
    free(a.p);
    return status;
}

/* Waits ms, or less if the worker is stopping. */
static void pause_ms(int64_t ms)
{
    int64_t end = util_mono_ms() + ms;

    while (!stopping && util_mono_ms() < end)
        usleep(50 * 1000);
}

/* After a failure: the next wait, doubling, with a random quarter off
 * so that workers do not come back all at once. */
static void backoff(struct remote *r)
{
    int64_t ms = BACKOFF_MIN_MS;

    for (int i = 0; i < r->failures && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    ms -= (int64_t)randombytes_uniform((uint32_t)(ms / 4 + 1));
    r->failures++;
    pause_ms(ms);
}

/* The body every lease-holder request carries. */
static json_t *lease_body(const struct remote_job *j)
{
    return json_pack("{s:s, s:i}", "slot", j->r->slot, "attempt",
                     j->job.attempts);
}

static void job_path(const struct remote_job *j, const char *what, char *out,
                     size_t len)
{
    snprintf(out, len, "/api/v1/worker/jobs/%lld/%s", (long long)j->job.id,
             what);
}

/* worker_run_child()'s heartbeat: 1 the lease holds, 0 lost, -1 unknown
 * (the server is unreachable: the job goes on, the lease decides). */
static int beat(void *opaque, double progress)
{
    struct remote_job *j = opaque;
    json_t *body = lease_body(j);
    char path[128];
    long st;

    json_object_set_new(body, "progress", json_real(progress));
    job_path(j, "heartbeat", path, sizeof(path));
    st = call(j->r, "POST", path, body, 10, NULL);
    json_decref(body);
    return st == 200 ? 1 : st == 409 ? 0 : -1;
}

/* In the job's child, before anything else: no token in its memory. */
static void in_child(void *opaque)
{
    struct remote_job *j = opaque;

    sodium_memzero(j->r->token, sizeof(j->r->token));
    sodium_memzero(j->r->auth, sizeof(j->r->auth));
}

/* ---- a job's files ---------------------------------------------------- */

static size_t to_fd(char *data, size_t size, size_t n, void *opaque)
{
    int fd = *(int *)opaque;
    size_t len = size * n, done = 0;

    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        done += (size_t)w;
    }
    return len;
}

/*
 * Downloads the job's input (url, bytes) into file, resuming with Range
 * after a broken transfer. 0, 1 if the lease is lost, or -1.
 */
static int download(struct remote_job *j, const char *url, int64_t bytes,
                    const char *file)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = -1;

    if (fd < 0) {
        log_warn("job %lld: cannot write its input", (long long)j->job.id);
        return -1;
    }
    for (int tries = 0; tries < TRIES && !stopping; tries++) {
        struct curl_slist *h;
        struct stat sb;
        char range[64];
        long status = -1;
        CURLcode c;

        if (fstat(fd, &sb) != 0)
            break;
        if (sb.st_size == bytes) {
            rc = 0;
            break;
        }
        if (sb.st_size > bytes && ftruncate(fd, 0) != 0)
            break;
        if (lseek(fd, 0, SEEK_END) < 0)
            break;
        h = prepare(j->r, url, 3600, false);
        if (sb.st_size > 0 && sb.st_size < bytes) {
            snprintf(range, sizeof(range), "%lld-", (long long)sb.st_size);
            curl_easy_setopt(j->r->curl, CURLOPT_RANGE, range);
        }
        curl_easy_setopt(j->r->curl, CURLOPT_WRITEFUNCTION, to_fd);
        curl_easy_setopt(j->r->curl, CURLOPT_WRITEDATA, &fd);
        c = curl_easy_perform(j->r->curl);
        curl_easy_getinfo(j->r->curl, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        if (c == CURLE_OK && (status == 200 || status == 206)) {
            /* A 200 to a Range is the whole file again: start over. */
            if (status == 200 && sb.st_size > 0 &&
                (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) < 0))
                break;
            continue; /* the next turn checks its size */
        }
        if (status == 409) {
            rc = 1;
            break;
        }
        log_warnx("job %lld: the input's download broke (%s, HTTP %ld); "
                  "resuming",
                  (long long)j->job.id, curl_easy_strerror(c), status);
        pause_ms(BACKOFF_MIN_MS << tries);
        if (beat(j, 0) == 0) {
            rc = 1;
            break;
        }
    }
    if (fd >= 0 && rc == 0 && fdatasync(fd) != 0)
        rc = -1;
    close(fd);
    return rc;
}

/* SHA-256 of file as hex, and its size. 0, or -1. */
static int file_sha256(const char *file, int64_t *bytes, char hex[65])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES], buf[65536];
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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

/* PUTs file to url. The HTTP status, or -1. */
static long put_file(struct remote *r, const char *url, const char *file,
                     int64_t bytes)
{
    struct answer a = {NULL, 0};
    struct curl_slist *h;
    FILE *fp = fopen(file, "rbe");
    long status = -1;

    if (fp == NULL)
        return -1;
    h = prepare(r, url, 3600, false);
    h = curl_slist_append(h, "Content-Type: application/octet-stream");
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(r->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(r->curl, CURLOPT_READDATA, fp);
    curl_easy_setopt(r->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)bytes);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &a);
    if (curl_easy_perform(r->curl) == CURLE_OK)
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    fclose(fp);
    free(a.p);
    return status;
}

/*
 * Sends the outputs (names, n) of j: announced with their sizes and
 * SHA-256, then each that the server does not hold whole yet. 0, 1 if
 * the lease is lost, or -1.
 */
static int send_outputs(struct remote_job *j, const char *const *names, int n)
{
    char path[PATH_MAX], url[128], tmp[64], hex[65];
    json_t *files = json_array(), *body = NULL, *ans = NULL, *f;
    int64_t sizes[WORKER_OUTPUTS_MAX];
    int rc = -1;

    for (int i = 0; i < n; i++) {
        if (worker_output_tmp(names[i], j->job.attempts, tmp, sizeof(tmp)) !=
                0 ||
            util_fmt(path, sizeof(path), "%s/%s", j->r->dir, tmp) != 0 ||
            file_sha256(path, &sizes[i], hex) != 0) {
            log_warn("job %lld: cannot read its output %s",
                     (long long)j->job.id, names[i]);
            goto out;
        }
        json_array_append_new(
            files, json_pack("{s:s, s:I, s:s}", "name", names[i], "bytes",
                             (json_int_t)sizes[i], "sha256", hex));
    }
    body = lease_body(j);
    json_object_set(body, "files", files);
    job_path(j, "outputs", url, sizeof(url));
    for (int tries = 0; tries < TRIES && !stopping; tries++) {
        size_t k;
        long st;
        bool all = true;

        json_decref(ans);
        ans = NULL;
        st = call(j->r, "POST", url, body, REQUEST_TIMEOUT, &ans);
        if (st == 409) {
            rc = 1;
            goto out;
        }
        if (st != 200 || !json_is_array(json_object_get(ans, "files"))) {
            pause_ms(BACKOFF_MIN_MS << tries);
            continue;
        }
        json_array_foreach(json_object_get(ans, "files"), k, f)
        {
            const char *name = json_string_value(json_object_get(f, "name"));
            const char *to = json_string_value(json_object_get(f, "url"));
            int i;

            if (json_is_true(json_object_get(f, "have")))
                continue; /* a retried attempt's, whole */
            for (i = 0; i < n; i++)
                if (name != NULL && strcmp(name, names[i]) == 0)
                    break;
            if (i == n || to == NULL ||
                worker_output_tmp(names[i], j->job.attempts, tmp,
                                  sizeof(tmp)) != 0 ||
                util_fmt(path, sizeof(path), "%s/%s", j->r->dir, tmp) != 0) {
                all = false;
                break;
            }
            st = put_file(j->r, to, path, sizes[i]);
            if (st == 409) {
                rc = 1;
                goto out;
            }
            if (st != 201 && st != 200) {
                log_warnx("job %lld: sending %s failed (HTTP %ld); again",
                          (long long)j->job.id, names[i], st);
                all = false;
                break;
            }
        }
        if (all) {
            rc = 0;
            goto out;
        }
        pause_ms(BACKOFF_MIN_MS << tries);
    }
out:
    json_decref(ans);
    json_decref(body);
    json_decref(files);
    return rc;
}

/* POSTs an end of the job (done, fail, release) until it is heard: the
 * HTTP status (409: the lease is lost), or -1. */
static long end_job(struct remote_job *j, const char *what, json_t *body)
{
    char url[128];
    long st = -1;

    job_path(j, what, url, sizeof(url));
    j->r->finishing = true;
    for (int tries = 0; tries < TRIES; tries++) {
        /* Stopping, one try (the supervisor's patience is short): the
         * lease gives the job back if it is not heard. */
        st =
            call(j->r, "POST", url, body, stopping ? 5 : REQUEST_TIMEOUT, NULL);
        if (st == 200 || st == 409 || st == 400 || st == 404 || stopping)
            break;
        pause_ms(BACKOFF_MIN_MS << tries);
    }
    j->r->finishing = false;
    return st;
}

/* ---- one job ---------------------------------------------------------- */

/* Reads the claim's answer into j and the child's settings. 0, or -1. */
static int read_claim(json_t *ans, struct remote_job *j, struct config *cfg,
                      struct job_message *msg, const char **url, int64_t *bytes)
{
    json_t *job = json_object_get(ans, "job");
    json_t *opt = json_object_get(job, "options");
    json_t *in = json_object_get(job, "input");
    const char *s;

    memset(&j->job, 0, sizeof(j->job));
    memset(msg, 0, sizeof(*msg));
    j->job.id = json_integer_value(json_object_get(job, "id"));
    j->job.attempts = (int)json_integer_value(json_object_get(job, "attempt"));
    if ((s = json_string_value(json_object_get(job, "kind"))) == NULL ||
        util_fmt(j->job.kind, sizeof(j->job.kind), "%s", s) != 0 ||
        (s = json_string_value(json_object_get(job, "message_id"))) == NULL ||
        !util_is_id(s) ||
        util_fmt(j->job.message_id, sizeof(j->job.message_id), "%s", s) != 0 ||
        (*url = json_string_value(json_object_get(in, "url"))) == NULL ||
        !json_is_object(opt) || j->job.id <= 0 || j->job.attempts <= 0)
        return -1;
    *bytes = json_integer_value(json_object_get(in, "bytes"));
    /* The server's media settings, not this host's. */
    cfg->max_side = (int)json_integer_value(json_object_get(opt, "max_side"));
    cfg->max_duration =
        (int)json_integer_value(json_object_get(opt, "max_duration"));
    cfg->job_timeout_factor =
        (int)json_integer_value(json_object_get(opt, "timeout_factor"));
    cfg->job_memory_mb =
        (int)json_integer_value(json_object_get(opt, "memory_mb"));
    cfg->job_lease = (int)json_integer_value(json_object_get(job, "lease_s"));
    if (cfg->job_lease < 2)
        cfg->job_lease = 2;
    msg->protect =
        (unsigned)json_integer_value(json_object_get(opt, "protect"));
    msg->accent = (uint32_t)json_integer_value(json_object_get(opt, "accent"));
    s = json_string_value(json_object_get(opt, "credit"));
    snprintf(msg->credit, sizeof(msg->credit), "%s", s != NULL ? s : "");
    return 0;
}

/* The facts the server stores on the message, from the child's run. */
static json_t *done_body(const struct remote_job *j, const struct job_run *run)
{
    json_t *body = lease_body(j);
    json_t *result =
        run->result_json != NULL ? json_loads(run->result_json, 0, NULL) : NULL;

    json_object_set_new(
        body, "facts",
        json_pack("{s:I, s:i, s:i, s:b, s:I, s:b, s:f}", "duration_ms",
                  (json_int_t)run->facts.duration_ms, "width", run->facts.width,
                  "height", run->facts.height, "has_audio",
                  run->facts.has_audio, "video_bytes",
                  (json_int_t)run->facts.video_bytes, "check_protection",
                  run->facts.check_protection, "seconds", run->facts.seconds));
    json_object_set_new(body, "result",
                        json_is_object(result) ? result : json_object());
    if (result != NULL && !json_is_object(result))
        json_decref(result);
    return body;
}

/* Runs the claimed job (ans) to its end and reports it. */
static void run_job(struct remote *r, json_t *ans)
{
    struct config cfg = *r->cfg;
    struct remote_job j = {r, {0}};
    struct job_message msg;
    struct job_run run;
    const char *url = NULL, *names[WORKER_OUTPUTS_MAX];
    char in[PATH_MAX];
    int64_t bytes = 0, t_claimed = util_mono_ms();
    json_t *body = NULL;
    long st;
    int rc;

    memset(&run, 0, sizeof(run));
    if (read_claim(ans, &j, &cfg, &msg, &url, &bytes) != 0) {
        log_warnx("worker: a claim's answer could not be read");
        return;
    }
    log_info("job %lld: claimed (attempt %d)", (long long)j.job.id,
             j.job.attempts);
    if (util_fmt(in, sizeof(in), "%s/input", r->dir) != 0 ||
        (mkdir(r->dir, 0700) != 0 && errno != EEXIST)) {
        log_warn("job %lld: cannot prepare", (long long)j.job.id);
        goto release;
    }
    rc = download(&j, url, bytes, in);
    if (rc == 1) {
        log_info("job %lld: attempt %d lost its lease while downloading",
                 (long long)j.job.id, j.job.attempts);
        goto out;
    }
    if (rc != 0)
        goto release;
    if (worker_run_child(&cfg, &j.job, &msg, in, r->dir, beat, in_child, &j,
                         &stopping, &run) != 0) {
        body = lease_body(&j);
        json_object_set_new(body, "reason", json_string(run.reason));
        json_object_set_new(body, "retryable", json_true());
        end_job(&j, "fail", body);
        goto out;
    }
    switch (run.end) {
    case JOB_END_STOPPING:
        goto release;
    case JOB_END_LOST:
        goto out; /* worker_run_child logged it */
    case JOB_END_FAILED:
        body = lease_body(&j);
        json_object_set_new(body, "reason", json_string(run.reason));
        json_object_set_new(body, "retryable", json_boolean(run.retryable));
        st = end_job(&j, "fail", body);
        log_info("job %lld: attempt %d failed (%s)%s", (long long)j.job.id,
                 j.job.attempts, run.reason,
                 st == 409 ? "; its lease was lost already" : "");
        goto out;
    case JOB_END_DONE:
        break;
    }
    rc = send_outputs(&j, names, worker_outputs(msg.protect != 0, names));
    if (rc != 0) {
        if (rc == 1)
            log_info("job %lld: attempt %d finished but lost its lease; its "
                     "outputs are dropped",
                     (long long)j.job.id, j.job.attempts);
        else if (stopping)
            goto release;
        goto out; /* not sent: the lease moves the job on */
    }
    body = done_body(&j, &run);
    st = end_job(&j, "done", body);
    if (st == 200)
        log_info("job %lld: done in %.1f s (claim to first frame %lld ms, "
                 "last frame to done %lld ms)",
                 (long long)j.job.id, run.facts.seconds,
                 (long long)(run.first_frame_ms > 0
                                 ? run.first_frame_ms - t_claimed
                                 : -1),
                 (long long)(util_mono_ms() - run.ended_ms));
    else if (st == 409)
        log_info("job %lld: attempt %d finished but lost its lease; its "
                 "outputs are dropped",
                 (long long)j.job.id, j.job.attempts);
    else
        log_warnx("job %lld: the server did not take the result (HTTP %ld)",
                  (long long)j.job.id, st);
    goto out;
release:
    /* Given back without counting the attempt: this worker is stopping
     * or could not start it. */
    json_decref(body);
    body = lease_body(&j);
    if (end_job(&j, "release", body) == 200)
        log_info("job %lld: given back", (long long)j.job.id);
out:
    json_decref(body);
    worker_run_release(&run);
    sodium_memzero(&msg, sizeof(msg));
    empty_dir(r->dir); /* nothing of a job stays here */
}

/* Reads the worker token alone in file into token. 0, or -1 (logged). */
static int read_token(const char *file, char token[UTIL_TOKEN_LEN + 1])
{
    FILE *fp = fopen(file, "re");
    char line[128] = "";
    size_t n;
    int rc = -1;

    if (fp == NULL || fgets(line, sizeof(line), fp) == NULL) {
        log_error("worker: cannot read %s: %s", file,
                  fp == NULL ? strerror(errno) : "it is empty");
        goto out;
    }
    n = strcspn(line, "\r\n \t");
    if (n != UTIL_TOKEN_LEN) {
        log_error("worker: %s does not hold a worker token (chorus "
                  "worker-token add prints one)",
                  file);
        goto out;
    }
    memcpy(token, line, n);
    token[n] = '\0';
    rc = 0;
out:
    if (fp != NULL)
        fclose(fp);
    sodium_memzero(line, sizeof(line));
    return rc;
}

/* ---- the loop ---------------------------------------------------------- */

/* One remote worker process: claims and runs jobs until asked to stop. */
static int remote_loop(const struct config *cfg)
{
    struct remote r;
    struct sigaction sa;
    char path[64];
    int rc = 1;

    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_NAME, "chorus-worker");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (slot_of(cfg, getpid(), r.slot, sizeof(r.slot), r.dir, sizeof(r.dir)) !=
            0 ||
        (mkdir(r.dir, 0700) != 0 && errno != EEXIST)) {
        log_warn("worker: cannot make its directory");
        return 1;
    }
    /* Read again in each process: the supervisor keeps no copy. */
    if (read_token(cfg->token_file, r.token) != 0)
        return 1;
    snprintf(r.auth, sizeof(r.auth), "Authorization: Bearer %s", r.token);
    snprintf(r.base, sizeof(r.base), "%s", cfg->server);
    while (strlen(r.base) > 0 && r.base[strlen(r.base) - 1] == '/')
        r.base[strlen(r.base) - 1] = '\0';
    if ((r.curl = curl_easy_init()) == NULL)
        goto out;
    snprintf(path, sizeof(path), "/api/v1/worker/claim");
    log_info("worker %s: asking %s for jobs", r.slot, r.base);
    while (!stopping) {
        json_t *body = json_pack("{s:s, s:i, s:[s]}", "slot", r.slot, "wait",
                                 cfg->claim_wait, "kinds", "transcode");
        json_t *ans = NULL;
        long st = call(&r, "POST", path, body,
                       (long)cfg->claim_wait + REQUEST_TIMEOUT, &ans);

        json_decref(body);
        if (st == 200 && ans != NULL) {
            r.failures = 0;
            run_job(&r, ans);
        } else if (st == 204) {
            r.failures = 0;
        } else if (!stopping) {
            if (st == 401)
                log_warnx("worker %s: the server refuses this worker's token "
                          "(revoked or unknown); asking again later",
                          r.slot);
            else if (st > 0)
                log_warnx("worker %s: the server answered a claim with HTTP "
                          "%ld; asking again",
                          r.slot, st);
            backoff(&r);
        }
        json_decref(ans);
    }
    rc = 0;
out:
    if (r.curl != NULL)
        curl_easy_cleanup(r.curl);
    sodium_memzero(&r, sizeof(r));
    return rc;
}

/* The supervisor, after a process ended: its job directory is emptied
 * (a crash left its files) and removed. */
static const struct config *supervised;

static void loop_ended(pid_t pid)
{
    char slot[WORKER_SLOT_MAX + 1], dir[PATH_MAX];

    if (supervised == NULL ||
        slot_of(supervised, pid, slot, sizeof(slot), dir, sizeof(dir)) != 0)
        return;
    empty_dir(dir);
    rmdir(dir);
}

int remote_main(const struct config *cfg)
{
    char root_buf[PATH_MAX], lock[PATH_MAX], token[UTIL_TOKEN_LEN + 1];
    const char *root = tmp_root(cfg, root_buf, sizeof(root_buf));
    struct stat sb;
    int fd = -1, rc = 1;

    if (cfg->token_file[0] == '\0') {
        log_error("worker: --server needs --token-file (chorus worker-token "
                  "add NAME makes one)");
        return 2;
    }
    if (read_token(cfg->token_file, token) != 0 ||
        stat(cfg->token_file, &sb) != 0) {
        log_error("worker: cannot start without its token");
        return 2;
    }
    sodium_memzero(token, sizeof(token));
    if ((sb.st_mode & 077) != 0)
        log_warnx("worker: %s can be read by others than its owner",
                  cfg->token_file);
    if (strncmp(cfg->server, "http://", 7) != 0 &&
        strncmp(cfg->server, "https://", 8) != 0) {
        log_error("worker: --server is http(s)://host[:port]");
        return 2;
    }
    /* The directory is this worker's alone: locked, and emptied of what
     * an earlier run left. */
    if (util_mkdirs(root, 0700) != 0 ||
        util_fmt(lock, sizeof(lock), "%s/.lock", root) != 0 ||
        (fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        log_error("worker: cannot use %s: %s", root, strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        log_error("worker: %s is another worker's (--tmp-dir)", root);
        goto out;
    }
    {
        DIR *d = opendir(root);
        struct dirent *e;
        char path[PATH_MAX];

        while (d != NULL && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' ||
                util_fmt(path, sizeof(path), "%s/%s", root, e->d_name) != 0)
                continue;
            empty_dir(path);
            remove(path);
        }
        if (d != NULL)
            closedir(d);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("worker: libcurl cannot start");
        goto out;
    }
    supervised = cfg;
    rc = worker_supervise(cfg, remote_loop, loop_ended);
    curl_global_cleanup();
out:
    if (fd >= 0)
        close(fd);
    return rc;
}
