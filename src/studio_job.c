/*
 * The worker's side of the studio's versions (studio.h): a claimed
 * "version" job, with the other versions of the same message waiting in
 * the queue (claimed along with it, up to TRANSCODE_MAX_VERSIONS), is
 * rendered in one sandboxed child from one decode of the message's
 * video. What each version shows is read here, outside the sandbox: the
 * transcript's cues, the credit from what the contributor gave (through
 * the campaign's template, the country named in the captions' language),
 * the campaign's hashtag and logo. The child opens the video, the
 * outputs (each version's MP4 and the JPEG of its first frame) and the
 * fonts, then closes the sandbox; each job is finished (its files
 * renamed into place) by the holder of its lease only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "chorus/config.h"
#include "chorus/credit.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/logo.h"
#include "chorus/message.h"
#include "chorus/objstore.h"
#include "chorus/queue.h"
#include "chorus/sandbox.h"
#include "chorus/storage.h"
#include "chorus/studio.h"
#include "chorus/transcode.h"
#include "chorus/util.h"

#define LOGO_BYTES_MAX (4 << 20)
#define BASE_TIMEOUT_S 60

/* One version of the batch. */
struct vjob {
    struct job job;
    struct studio_version v;
    char tmp[PATH_MAX], final[PATH_MAX];
    char thumb_tmp[PATH_MAX], thumb_final[PATH_MAX]; /* its first frame */
    json_t *cues; /* the transcript's, owning caps' strings */
    struct transcode_caption *caps;
    size_t ncaps;
    char credit[CREDIT_MAX];
    bool failed; /* already failed, left out of the child */
};

struct batch {
    const struct config *cfg;
    struct db *db;
    const char *worker;
    struct vjob v[TRANSCODE_MAX_VERSIONS];
    int n;
    char id[UTIL_ID_LEN + 1], in[PATH_MAX];
    char hashtag[512];
    unsigned char *logo;
    size_t logo_len;
    int64_t duration_ms;
};

static void set_limit(__rlimit_resource_t resource, rlim_t value)
{
    struct rlimit rl = {value, value};

    if (setrlimit(resource, &rl) != 0)
        log_warn("setrlimit %d", resource);
}

static void fail_one(struct batch *b, struct vjob *vj, const char *why,
                     bool retryable)
{
    if (vj->failed)
        return;
    vj->failed = true;
    unlink(vj->tmp);
    unlink(vj->thumb_tmp);
    if (queue_fail(b->db, &vj->job, b->worker, why, retryable) == QUEUE_LOST)
        log_info("job %lld: failed after losing its lease",
                 (long long)vj->job.id);
}

static void fail_all(struct batch *b, const char *why, bool retryable)
{
    for (int i = 0; i < b->n; i++)
        fail_one(b, &b->v[i], why, retryable);
}

/* The child's progress line. */
static void on_progress(void *opaque, double fraction)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "P %.4f\n", fraction);

    (void)opaque;
    if (write(3, line, (size_t)n) < 0)
        _exit(3);
}

/* The child: never returns, never touches the database. */
static void run_child(struct batch *b, int fd)
{
    const struct transcode_api *api;
    struct transcode_versions_options o;
    struct transcode_versions_result res;
    struct transcode_studio_assets *assets = NULL;
    extern char **environ;
    char tag[48], err[300];
    int k = 0;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "chorus-studio");
    snprintf(tag, sizeof(tag), "job %lld", (long long)b->v[0].job.id);
    log_init(LOG_LVL_INFO, tag);
    signal(SIGTERM, SIG_DFL);
    if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) != 0))
        _exit(3);
    if (close_range(4, ~0U, 0) != 0)
        for (int i = 4; i < 1024; i++)
            close(i);
#ifndef __SANITIZE_ADDRESS__
    set_limit(RLIMIT_AS, (rlim_t)b->cfg->job_memory_mb * 1024 * 1024);
#endif
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_FSIZE, (rlim_t)4 * 1024 * 1024 * 1024);
    set_limit(RLIMIT_NOFILE, 64);
    if ((api = transcode_load()) == NULL || api->versions == NULL)
        _exit(3);
    api->log_level(false);
    memset(&o, 0, sizeof(o));
    /* Everything is opened now: inside the sandbox nothing can be. */
    if ((o.input_fd = open(b->in, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        _exit(3);
    for (int i = 0; i < b->n; i++) {
        struct vjob *vj = &b->v[i];
        if (vj->failed)
            continue;
        o.v[k] = (struct transcode_version_request){
            vj->v.format,
            open(vj->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                 0600),
            vj->v.name,
            vj->caps,
            vj->ncaps,
            vj->credit,
            vj->v.branding ? b->hashtag : NULL,
            vj->v.branding && b->logo != NULL,
            open(vj->thumb_tmp,
                 O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)};
        if (o.v[k].out_fd < 0 || o.v[k].thumb_fd < 0)
            _exit(3);
        k++;
    }
    o.n = k;
    o.logo_png = b->logo;
    o.logo_len = b->logo_len;
    o.progress = on_progress;
    if (api->studio_assets_open(k, &assets, err, sizeof(err)) != 0) {
        log_warnx("%s", err);
        _exit(3);
    }
    o.assets = assets;
    /* The environment holds the configuration (tokens among it). */
    for (char **e = environ; e != NULL && *e != NULL; e++)
        explicit_bzero(*e, strlen(*e));
    clearenv();
    util_clock_freeze();
    if (sandbox_enter() != 0)
        _exit(3);
    if (api->versions(NULL, NULL, &o, &res) != 0) {
        char line[320];
        int n = snprintf(line, sizeof(line), "E %s\n", res.error);
        if (write(3, line, (size_t)n) < 0)
            _exit(3);
        _exit(1);
    }
    _exit(0);
}

/* Gives a made version and its first frame their names (the video
 * last: its file is what says the version is made); inside the
 * transaction that proves the lease (queue_succeed). */
static int publish(void *opaque)
{
    const struct vjob *vj = opaque;
    char dir[PATH_MAX];
    char *slash;

    if (rename(vj->thumb_tmp, vj->thumb_final) != 0 ||
        rename(vj->tmp, vj->final) != 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s", vj->final);
    if ((slash = strrchr(dir, '/')) != NULL)
        *slash = '\0';
    return util_fsync_dir(dir);
}

/* Reads what the versions show of the message; 0, or -1 (all failed). */
static int read_message(struct batch *b)
{
    struct db_stmt *st = db_stmt(b->db, STMT_STUDIO_MESSAGE);
    char name[512] = "", org[512] = "", country[8] = "", lang[36] = "";
    char tmpl[1024] = "", path[PATH_MAX];
    int64_t campaign = 0, logo_at = 0;
    int state;
    bool ok = false;

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, b->id);
    if (db_step(st) == DB_ROW) {
        state = message_state_parse(db_col_text(st, 0));
        ok = state == MSG_APPROVED || state == MSG_PENDING;
        campaign = db_col_int(st, 1);
        b->duration_ms = db_col_int(st, 2);
#define COPY(dst, i)                                                           \
    snprintf(dst, sizeof(dst), "%s",                                           \
             db_col_text(st, i) != NULL ? db_col_text(st, i) : "")
        COPY(name, 4);
        COPY(org, 5);
        COPY(country, 6);
        COPY(lang, 7);
        COPY(b->hashtag, 8);
        COPY(tmpl, 9);
#undef COPY
        logo_at = db_col_int(st, 10);
        db_reset(st);
    }
    if (!ok) {
        fail_all(b, "the clip is not approved or pending any more", false);
        return -1;
    }
    for (int i = 0; i < b->n; i++) {
        struct vjob *vj = &b->v[i];
        const char *in = vj->v.captions[0] != '\0' ? vj->v.captions : lang;

        if (vj->v.credit &&
            credit_from_template(tmpl, name, org, country, in, vj->credit,
                                 sizeof(vj->credit)) != 0)
            vj->credit[0] = '\0';
        if (vj->v.captions[0] == '\0' || vj->failed)
            continue;
        if ((st = db_stmt(b->db, STMT_TRANSCRIPT_GET)) == NULL)
            return -1;
        db_bind_text(st, 1, b->id);
        db_bind_text(st, 2, vj->v.captions);
        if (db_step(st) == DB_ROW) {
            vj->cues = json_loads(db_col_text(st, 0), 0, NULL);
            db_reset(st);
        }
        if (!json_is_array(vj->cues)) {
            fail_one(b, vj, "its transcript is gone", false);
            continue;
        }
        vj->ncaps = json_array_size(vj->cues);
        vj->caps = calloc(vj->ncaps + 1, sizeof(*vj->caps));
        if (vj->caps == NULL) {
            fail_one(b, vj, "out of memory", true);
            continue;
        }
        for (size_t j = 0; j < vj->ncaps; j++) {
            json_t *c = json_array_get(vj->cues, j);
            vj->caps[j].start_ms = json_integer_value(json_array_get(c, 0));
            vj->caps[j].end_ms = json_integer_value(json_array_get(c, 1));
            vj->caps[j].text = json_string_value(json_array_get(c, 2));
        }
    }
    /* The logo, when a version is branded and the campaign has one. */
    for (int i = 0; i < b->n && b->logo == NULL; i++) {
        FILE *f;
        if (!b->v[i].v.branding || logo_at <= 0 ||
            storage_campaign_path(b->cfg->data_dir, campaign, LOGO_FILE, path,
                                  sizeof(path)) != 0 ||
            (f = fopen(path, "rbe")) == NULL)
            break;
        if ((b->logo = malloc(LOGO_BYTES_MAX)) != NULL)
            b->logo_len = fread(b->logo, 1, LOGO_BYTES_MAX, f);
        fclose(f);
    }
    return 0;
}

/* Waits for the child, renewing every lease; returns its status, or -1
 * if it was killed (*lost: a lease moved on; else it took too long). */
static int watch(struct batch *b, pid_t pid, int fd, bool *lost, char *err,
                 size_t errlen)
{
    int64_t deadline =
        util_mono_ms() +
        (BASE_TIMEOUT_S +
         (b->duration_ms / 1000 + 1) * b->cfg->job_timeout_factor * b->n) *
            1000;
    int64_t next_beat = util_mono_ms() + 1000;
    char buf[1024];
    size_t used = 0;
    double progress = 0;
    int status = 0;
    bool killed = false;

    err[0] = '\0';
    *lost = false;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;
        char *nl;

        if (util_mono_ms() >= deadline || *lost) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        if (util_mono_ms() >= next_beat) {
            for (int i = 0; i < b->n; i++)
                if (!b->v[i].failed &&
                    queue_heartbeat(b->db, &b->v[i].job, b->worker,
                                    b->cfg->job_lease, progress) == 0)
                    *lost = true;
            next_beat = util_mono_ms() + 1000;
        }
        if (poll(&p, 1, 250) <= 0)
            continue;
        n = read(fd, buf + used, sizeof(buf) - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        while ((nl = memchr(buf, '\n', used)) != NULL) {
            *nl = '\0';
            if (buf[0] == 'P')
                progress = strtod(buf + 1, NULL);
            else if (buf[0] == 'E') {
                /* A reason longer than err is cut, by design. */
                size_t k = strnlen(buf + 2, errlen - 1);
                memcpy(err, buf + 2, k);
                err[k] = '\0';
            }
            used -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, used);
        }
        if (used == sizeof(buf) - 1)
            used = 0;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return killed ? -1 : status;
}

int studio_job_run(const struct config *cfg, struct db *db, struct objstore *os,
                   const char *worker, const struct job *job)
{
    struct batch *b = calloc(1, sizeof(*b));
    int64_t ids[TRANSCODE_MAX_VERSIONS - 1];
    int nids = 0, fds[2] = {-1, -1}, status, made = 0, got;
    struct db_stmt *st;
    char err[300], dir[PATH_MAX];
    bool lost, fetched = false;
    pid_t pid;

    if (b == NULL)
        return 0;
    b->cfg = cfg;
    b->db = db;
    b->worker = worker;
    b->v[0].job = *job;
    b->n = 1;
    snprintf(b->id, sizeof(b->id), "%s", job->message_id);
    /* The other versions of this clip waiting: made from the same
     * decode. */
    if ((st = db_stmt(db, STMT_VERSION_JOBS_QUEUED)) != NULL) {
        db_bind_text(st, 1, job->message_id);
        db_bind_int(st, 2, job->id);
        while (nids < TRANSCODE_MAX_VERSIONS - 1 && db_step(st) == DB_ROW)
            ids[nids++] = db_col_int(st, 0);
        db_reset(st);
    }
    for (int i = 0; i < nids; i++)
        if (queue_claim_queued(db, worker, cfg->job_lease, ids[i],
                               &b->v[b->n].job) == 1)
            b->n++;
    for (int i = 0; i < b->n; i++) {
        struct vjob *vj = &b->v[i];
        if (studio_version_parse(vj->job.args, &vj->v) != 0 ||
            storage_version_path(cfg->data_dir, b->id, vj->v.name, "mp4",
                                 vj->job.attempts, vj->tmp,
                                 sizeof(vj->tmp)) != 0 ||
            storage_version_path(cfg->data_dir, b->id, vj->v.name, "mp4", 0,
                                 vj->final, sizeof(vj->final)) != 0 ||
            storage_version_path(cfg->data_dir, b->id, vj->v.name, "jpg",
                                 vj->job.attempts, vj->thumb_tmp,
                                 sizeof(vj->thumb_tmp)) != 0 ||
            storage_version_path(cfg->data_dir, b->id, vj->v.name, "jpg", 0,
                                 vj->thumb_final, sizeof(vj->thumb_final)) != 0)
            fail_one(b, vj, "not a version's job", false);
    }
    log_info("job %lld: %d version(s) of message %s", (long long)job->id, b->n,
             b->id);
    /* The video on disk, or fetched from the bucket for this job. */
    got = objstore_fetch(os, cfg->data_dir, b->id, "video.mp4", b->in,
                         sizeof(b->in), &fetched);
    if (got != 0) {
        fail_all(b,
                 got > 0 ? "the clip's video is missing"
                         : "the clip's video could not be read from the "
                           "object store",
                 got < 0);
        goto out;
    }
    if (storage_path(cfg->data_dir, STORAGE_MEDIA_DIR, b->id, dir,
                     sizeof(dir)) != 0 ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
        fail_all(b, "the server could not prepare the job (disk full?)", true);
        goto out;
    }
    if (read_message(b) != 0)
        goto out;
    if (pipe2(fds, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
        fail_all(b, "the server could not start the job", true);
        goto out;
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(b, fds[1]);
    }
    close(fds[1]);
    fds[1] = -1;
    status = watch(b, pid, fds[0], &lost, err, sizeof(err));
    if (status == -1 && lost) {
        for (int i = 0; i < b->n; i++) {
            unlink(b->v[i].tmp);
            unlink(b->v[i].thumb_tmp);
        }
        log_info("job %lld: a version lost its lease; the batch is dropped",
                 (long long)job->id);
        /* The others are retried later, as after a crash. */
        fail_all(b, "its batch lost a lease", true);
    } else if (status == -1) {
        fail_all(b, "making the versions took too long", true);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        for (int i = 0; i < b->n; i++) {
            struct vjob *vj = &b->v[i];
            int rc;
            if (vj->failed)
                continue;
            rc = queue_succeed(db, &vj->job, worker, NULL, publish, vj);
            if (rc != 1) {
                unlink(vj->tmp);
                unlink(vj->thumb_tmp);
            }
            if (rc == 1) {
                log_info("job %lld: version %s of %s made",
                         (long long)vj->job.id, vj->v.name, b->id);
                made++;
            } else if (rc != QUEUE_LOST)
                fail_one(b, vj, "the server could not store the version", true);
        }
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && err[0]) {
        fail_all(b, err, false);
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
        fail_all(b,
                 "the sandbox stopped making the versions (a forbidden "
                 "system call)",
                 false);
    } else {
        fail_all(b, "making the versions ended abnormally", true);
    }
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (fetched)
        unlink(b->in);
    /* What was made goes to the bucket with its clip's other files. */
    if (made > 0)
        objstore_offload(os, db, cfg->data_dir, b->id);
    for (int i = 0; i < TRANSCODE_MAX_VERSIONS; i++) {
        json_decref(b->v[i].cues);
        free(b->v[i].caps);
    }
    free(b->logo);
    free(b);
    return 0;
}
