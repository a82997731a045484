#include "chorus/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "chorus/campaign.h"
#include "chorus/config.h"
#include "chorus/credit.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/logo.h"
#include "chorus/meta.h"
#include "chorus/objstore.h"
#include "chorus/queue.h"
#include "chorus/sandbox.h"
#include "chorus/storage.h"
#include "chorus/studio.h"
#include "chorus/transcode.h"
#include "chorus/util.h"

/* Seconds a job may spend opening and probing before its duration is
 * known, and the base added to duration x factor afterwards. */
#define JOB_BASE_TIMEOUT 60
/* How often an idle worker looks for work, in milliseconds. */
#define IDLE_POLL_MS 500
/* The outputs' names until the job has succeeded, by attempt: a worker
 * that lost its lease never writes or deletes the files of the attempt
 * that took the job over. */
#define VIDEO_TMP "video.mp4.%d.tmp"
#define THUMB_TMP "thumb.jpg.%d.tmp"
#define SHEET_TMP "sheet.jpg.%d.tmp"
#define TMP_NAME_MAX 32
/* Longest line the child may send over its pipe. */
#define PIPE_LINE_MAX (64 * 1024)

_Static_assert((int)META_PROTECT_BLUR_FACES ==
                       (int)TRANSCODE_PROTECT_BLUR_FACES &&
                   (int)META_PROTECT_VOICE == (int)TRANSCODE_PROTECT_VOICE &&
                   (int)META_PROTECT_NO_VIDEO ==
                       (int)TRANSCODE_PROTECT_NO_VIDEO,
               "the stored protections are the pipeline's");

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

/* What the worker hears from a job's child. */
struct job_report {
    double progress;
    double duration_s; /* 0 until known */
    char *result_json; /* "R" line: the facts (malloc'd) */
    char error[512];   /* "E" line: why it refused the file */
    struct job_facts facts;
    bool have_facts;
};

/* ---- the child ------------------------------------------------------- */

static int report_fd = -1;

/* Writes all of buf to the report pipe; errors end the child. */
static void report(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(report_fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(3);
        buf += n;
        len -= (size_t)n;
    }
}

static void on_progress(void *opaque, double fraction)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "P %.4f\n", fraction);

    (void)opaque;
    report(line, (size_t)n);
}

static void on_duration(void *opaque, double seconds)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "D %.3f\n", seconds);

    (void)opaque;
    report(line, (size_t)n);
}

static void set_limit(__rlimit_resource_t resource, rlim_t value)
{
    struct rlimit rl = {value, value};

    if (setrlimit(resource, &rl) != 0)
        log_warn("setrlimit %d", resource);
}

/* The first bytes of an input that asks the sandbox's self-test to run
 * instead of a transcode. */
#define PROBE_MAGIC "chorus-sandbox-probe:"

/*
 * The sandbox's self-test, for the test suite: with CHORUS_SANDBOX_PROBE
 * set, a job whose input begins with PROBE_MAGIC followed by probe names
 * (comma-separated, see sandbox_probe()) tries each in turn, inside the
 * sandbox exactly as every job runs, and fails with what happened. A
 * probe the filter kills ends the child with SIGSYS: the job's failure
 * says so, and the log says which probe was being tried. Other inputs
 * are transcoded as usual; without the variable, no job gets here.
 */
static void probe_sandbox(int input_fd, pid_t parent, const char *db)
{
    char head[256], what[24], line[1024], one[400];
    ssize_t n = pread(input_fd, head, sizeof(head) - 1, 0);
    const char *p;
    size_t used;

    if (n <= (ssize_t)strlen(PROBE_MAGIC) ||
        memcmp(head, PROBE_MAGIC, strlen(PROBE_MAGIC)) != 0)
        return;
    head[n] = '\0';
    p = head + strlen(PROBE_MAGIC);
    used = (size_t)snprintf(line, sizeof(line), "E sandbox self-test:");
    while (*p != '\0' && *p != '\n') {
        size_t k = strcspn(p, ",\n");

        snprintf(what, sizeof(what), "%.*s", (int)k, p);
        log_info("sandbox probe: trying %s", what);
        if (sandbox_probe(what, parent, db, one, sizeof(one)) >= 0 &&
            used < sizeof(line))
            used +=
                (size_t)snprintf(line + used, sizeof(line) - used, " %s;", one);
        p += k + (p[k] == ',');
    }
    if (used >= sizeof(line) - 1)
        used = sizeof(line) - 2;
    line[used++] = '\n';
    report(line, used);
    _exit(1);
}

/*
 * Empties the environment, the strings too: the worker's holds the
 * configuration (the metrics token among it) and, from chorus serve,
 * the server's pid; a decoder exploit could write either into a video
 * that gets published. cfg's strings may point into it: read what the
 * child needs first.
 */
static void scrub_environment(void)
{
    extern char **environ;

    for (char **e = environ; e != NULL && *e != NULL; e++)
        explicit_bzero(*e, strlen(*e));
    clearenv();
}

/*
 * The child: limits itself, transcodes, reports and exits. Never returns;
 * never touches the database.
 */
static void run_child(const struct config *cfg, const struct job *job,
                      const struct job_message *msg, const char *in,
                      const char *out_dir, int fd)
{
    const struct transcode_api *api;
    struct transcode_options opts;
    struct transcode_result res;
    struct transcode_assets *assets = NULL;
    char tag[48], line[512], video_tmp[TMP_NAME_MAX], thumb_tmp[TMP_NAME_MAX];
    char sheet_tmp[TMP_NAME_MAX], db[PATH_MAX];
    bool probe = getenv("CHORUS_SANDBOX_PROBE") != NULL;
    pid_t parent = getppid();
    int dir_fd;
    json_t *facts;
    char *text;
    int n;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "chorus-job");
    snprintf(tag, sizeof(tag), "job %lld", (long long)job->id);
    log_init(LOG_LVL_INFO, tag);
    signal(SIGTERM, SIG_DFL);
    /* Nothing inherited but stdio and the report pipe (as fd 3). */
    if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) != 0))
        _exit(3);
    report_fd = 3;
    if (close_range(4, ~0U, 0) != 0)
        for (int i = 4; i < 1024; i++)
            close(i);

#ifndef __SANITIZE_ADDRESS__
    /* AddressSanitizer reserves terabytes of address space. */
    set_limit(RLIMIT_AS, (rlim_t)cfg->job_memory_mb * 1024 * 1024);
#endif
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_FSIZE, (rlim_t)4 * 1024 * 1024 * 1024);
    set_limit(RLIMIT_NOFILE, 64);
    /* CPU seconds across all threads; the wall-clock timeout is the
     * parent's. */
    set_limit(RLIMIT_CPU,
              (rlim_t)(JOB_BASE_TIMEOUT +
                       (int64_t)cfg->max_duration * cfg->job_timeout_factor) *
                  8);

    /* FFmpeg's libraries come into this process only, and only now. */
    if ((api = transcode_load()) == NULL)
        _exit(3);
    /* libav's messages may quote the input: errors only. */
    api->log_level(false);
    api->options_default(&opts);
    opts.max_side = cfg->max_side;
    opts.max_duration_s = cfg->max_duration;
    opts.progress = on_progress;
    opts.duration = on_duration;
    opts.opaque = NULL;
    opts.protect = msg->protect;
    opts.credit = msg->credit;
    opts.card_rgb = msg->accent;
    /* The input and outputs are opened now: inside the sandbox nothing
     * can be. */
    snprintf(video_tmp, sizeof(video_tmp), VIDEO_TMP, job->attempts);
    snprintf(thumb_tmp, sizeof(thumb_tmp), THUMB_TMP, job->attempts);
    snprintf(sheet_tmp, sizeof(sheet_tmp), SHEET_TMP, job->attempts);
    if ((opts.input_fd = open(in, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
        (dir_fd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (opts.video_fd = openat(
             dir_fd, video_tmp,
             O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
        (opts.thumb_fd = openat(
             dir_fd, thumb_tmp,
             O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
        (opts.protect != 0 &&
         (opts.sheet_fd = openat(
              dir_fd, sheet_tmp,
              O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0))
        _exit(3);
    /* The spool where the encoded video and the sound's packets wait
     * while the sound is measured: unnamed, beside the outputs, gone
     * with the child. */
    if ((opts.spool_fd =
             openat(dir_fd, ".", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600)) < 0)
        _exit(3);
    close(dir_fd);
    /* So are the cascades and fonts protection needs, read into memory. */
    if (api->assets_open(opts.protect, &assets, line, sizeof(line)) != 0) {
        log_warnx("%s", line);
        _exit(3);
    }
    opts.assets = assets;
    if (util_fmt(db, sizeof(db), "%s/chorus.db", cfg->data_dir) != 0)
        _exit(3);
    scrub_environment();
    /* The test clock's file cannot be opened in there. */
    util_clock_freeze();
    if (sandbox_enter() != 0)
        _exit(3);
    if (probe)
        probe_sandbox(opts.input_fd, parent, db);
    if (api->file(in, out_dir, &opts, &res) != 0) {
        n = snprintf(line, sizeof(line), "E ");
        report(line, (size_t)n);
        report(res.error, strlen(res.error));
        report("\n", 1);
        api->result_release(&res);
        _exit(1);
    }
    n = snprintf(line, sizeof(line), "F %lld %d %d %d %lld %d\n",
                 (long long)res.out_duration_ms, res.out_width, res.out_height,
                 res.has_audio ? 1 : 0, (long long)res.out_bytes,
                 res.check_protection ? 1 : 0);
    report(line, (size_t)n);
    facts = api->result_json(&res);
    text = facts != NULL ? json_dumps(facts, JSON_COMPACT) : NULL;
    if (text != NULL) {
        report("R ", 2);
        report(text, strlen(text));
        report("\n", 1);
    }
    free(text);
    json_decref(facts);
    api->result_release(&res);
    _exit(0);
}

/* ---- the worker ------------------------------------------------------ */

/* Handles one line from the child. */
static void parse_line(char *line, struct job_report *r)
{
    switch (line[0]) {
    case 'P':
        r->progress = strtod(line + 1, NULL);
        break;
    case 'D':
        r->duration_s = strtod(line + 1, NULL);
        break;
    case 'F': {
        long long dur, bytes;
        int w, h, audio, check = 0;
        if (sscanf(line + 1, "%lld %d %d %d %lld %d", &dur, &w, &h, &audio,
                   &bytes, &check) >= 5) {
            r->facts.duration_ms = dur;
            r->facts.width = w;
            r->facts.height = h;
            r->facts.has_audio = audio != 0;
            r->facts.video_bytes = bytes;
            r->facts.check_protection = check != 0;
            r->have_facts = true;
        }
        break;
    }
    case 'R':
        free(r->result_json);
        r->result_json = strdup(line + 2);
        break;
    case 'E': {
        /* A reason longer than the field is cut, by design. */
        size_t n = strnlen(line + 2, sizeof(r->error) - 1);
        memcpy(r->error, line + 2, n);
        r->error[n] = '\0';
        break;
    }
    default:
        break;
    }
}

int worker_outputs(bool sheet, const char *names[WORKER_OUTPUTS_MAX])
{
    int n = 0;

    names[n++] = "thumb.jpg";
    if (sheet)
        names[n++] = "sheet.jpg";
    names[n++] = "video.mp4";
    return n;
}

int worker_output_tmp(const char *name, int attempt, char *out, size_t len)
{
    return util_fmt(out, len, "%s.%d.tmp", name, attempt);
}

int64_t worker_beat_ms(int lease_s)
{
    int64_t third = (int64_t)lease_s * 1000 / 3;

    /* Well within the lease, and often enough for the panel's progress
     * bar. */
    return third < 2000 ? third : 2000;
}

void worker_run_release(struct job_run *run)
{
    free(run->result_json);
    run->result_json = NULL;
}

/* Reads what the child sent so far; false at its end of file. */
static bool read_report(int fd, char *buf, size_t *used, struct job_report *r,
                        struct job_run *run)
{
    for (;;) {
        ssize_t n = read(fd, buf + *used, PIPE_LINE_MAX - *used);
        char *nl;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        *used += (size_t)n;
        buf[*used] = '\0';
        while ((nl = memchr(buf, '\n', *used)) != NULL) {
            *nl = '\0';
            parse_line(buf, r);
            if (buf[0] == 'P' && run->first_frame_ms == 0)
                run->first_frame_ms = util_mono_ms();
            *used -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, *used);
        }
        if (*used == PIPE_LINE_MAX)
            *used = 0; /* an overlong line: drop it */
        return true;
    }
}

int worker_run_child(const struct config *cfg, const struct job *job,
                     const struct job_message *msg, const char *in,
                     const char *out_dir, int (*beat)(void *, double),
                     void (*in_child)(void *), void *opaque,
                     const volatile sig_atomic_t *stop, struct job_run *run)
{
    struct job_report r;
    char *buf = NULL;
    size_t used = 0;
    int64_t deadline, next_beat;
    int fds[2] = {-1, -1}, status = 0, rc = -1;
    bool killed_timeout = false, lost = false, eof = false;
    pid_t pid;

    memset(&r, 0, sizeof(r));
    memset(run, 0, sizeof(*run));
    run->retryable = true;
    if ((buf = malloc(PIPE_LINE_MAX + 1)) == NULL || pipe2(fds, O_CLOEXEC)) {
        log_warn("job %lld: cannot prepare", (long long)job->id);
        snprintf(run->reason, sizeof(run->reason),
                 "the server could not prepare the job (disk full?)");
        goto out;
    }
    run->started_ms = util_mono_ms();
    pid = fork();
    if (pid < 0) {
        log_warn("job %lld: fork", (long long)job->id);
        snprintf(run->reason, sizeof(run->reason),
                 "the server could not start the job");
        goto out;
    }
    if (pid == 0) {
        close(fds[0]);
        if (in_child != NULL)
            in_child(opaque);
        run_child(cfg, job, msg, in, out_dir, fds[1]);
    }
    close(fds[1]);
    fds[1] = -1;
    rc = 0;

    deadline = run->started_ms + JOB_BASE_TIMEOUT * 1000;
    next_beat = run->started_ms + worker_beat_ms(cfg->job_lease);
    while (!eof) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int64_t now = util_mono_ms();

        if (*stop || now >= deadline || lost) {
            killed_timeout = !*stop && !lost && now >= deadline;
            kill(pid, SIGKILL);
            break;
        }
        if (now >= next_beat) {
            if (beat(opaque, r.progress) == 0) {
                log_info("job %lld: attempt %d lost its lease (expired and "
                         "taken over, or withdrawn); stopping",
                         (long long)job->id, job->attempts);
                lost = true;
                continue;
            }
            next_beat = now + worker_beat_ms(cfg->job_lease);
        }
        if (poll(&p, 1, 250) <= 0)
            continue;
        eof = !read_report(fds[0], buf, &used, &r, run);
        if (r.duration_s > 0)
            deadline = run->started_ms +
                       (int64_t)((JOB_BASE_TIMEOUT +
                                  r.duration_s * cfg->job_timeout_factor) *
                                 1000);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    run->ended_ms = util_mono_ms();

    if (*stop) {
        run->end = JOB_END_STOPPING;
    } else if (lost) {
        run->end = JOB_END_LOST;
    } else if (killed_timeout) {
        log_warnx("job %lld: timed out after %lld s", (long long)job->id,
                  (long long)((run->ended_ms - run->started_ms) / 1000));
        run->end = JOB_END_FAILED;
        snprintf(run->reason, sizeof(run->reason),
                 "processing took too long and was stopped");
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
        /* Not a passing fault: the file made the decoder do something
         * no transcode does. Trying again would only do it again. */
        log_warnx("job %lld: the sandbox stopped it (a forbidden system "
                  "call)",
                  (long long)job->id);
        run->end = JOB_END_FAILED;
        run->retryable = false;
        snprintf(run->reason, sizeof(run->reason),
                 "the sandbox stopped processing: a forbidden system "
                 "call (Bad system call); a harmful file?");
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        run->end = JOB_END_FAILED;
        snprintf(run->reason, sizeof(run->reason), "processing crashed (%s)%s",
                 strsignal(sig),
                 sig == SIGKILL || sig == SIGSEGV ? "; out of memory or a "
                                                    "harmful file?"
                                                  : "");
        log_warnx("job %lld: %s", (long long)job->id, run->reason);
    } else if (WEXITSTATUS(status) == 0 && r.have_facts) {
        run->end = JOB_END_DONE;
        run->facts = r.facts;
        run->result_json = r.result_json;
        r.result_json = NULL;
        run->facts.json = run->result_json;
        run->facts.seconds = (double)(run->ended_ms - run->started_ms) / 1000.0;
    } else if (WEXITSTATUS(status) == 1 && r.error[0] != '\0') {
        log_info("job %lld: refused: %s", (long long)job->id, r.error);
        run->end = JOB_END_FAILED;
        run->retryable = false;
        snprintf(run->reason, sizeof(run->reason), "%s", r.error);
    } else {
        run->end = JOB_END_FAILED;
        snprintf(run->reason, sizeof(run->reason),
                 "processing ended abnormally (status %d)",
                 WEXITSTATUS(status));
    }
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    free(r.result_json);
    free(buf);
    return rc;
}

struct worker {
    const struct config *cfg;
    struct db *db;
    struct objstore *os; /* NULL: media stay in the data directory */
    char name[32];
};

void worker_discard_local(const char *data_dir, const struct job *job)
{
    const char *names[WORKER_OUTPUTS_MAX];
    char dir[PATH_MAX], tmp[TMP_NAME_MAX], path[PATH_MAX];
    int n = worker_outputs(true, names);

    if (storage_path(data_dir, STORAGE_MEDIA_DIR, job->message_id, dir,
                     sizeof(dir)) != 0)
        return;
    for (int i = 0; i < n; i++)
        if (worker_output_tmp(names[i], job->attempts, tmp, sizeof(tmp)) == 0 &&
            util_fmt(path, sizeof(path), "%s/%s", dir, tmp) == 0)
            unlink(path);
    rmdir(dir); /* only if it is empty now */
}

int worker_publish_local(const char *data_dir, const struct job *job,
                         bool sheet)
{
    const char *names[WORKER_OUTPUTS_MAX];
    char dir[PATH_MAX], tmp[TMP_NAME_MAX], from[PATH_MAX], to[PATH_MAX];
    int n = worker_outputs(sheet, names);

    if (storage_path(data_dir, STORAGE_MEDIA_DIR, job->message_id, dir,
                     sizeof(dir)) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (worker_output_tmp(names[i], job->attempts, tmp, sizeof(tmp)) != 0 ||
            util_fmt(from, sizeof(from), "%s/%s", dir, tmp) != 0 ||
            util_fmt(to, sizeof(to), "%s/%s", dir, names[i]) != 0 ||
            rename(from, to) != 0)
            goto fail;
    if (util_fsync_dir(dir) != 0)
        goto fail;
    return 0;
fail:
    log_warn("job %lld: cannot publish the outputs of %s", (long long)job->id,
             job->message_id);
    return -1;
}

/* A job's attempt, for publishing its outputs. */
struct attempt {
    const struct worker *w;
    const struct job *job;
    bool sheet; /* a protected clip: it has a contact sheet */
};

/*
 * The child wrote and fsync'ed the outputs under this attempt's names;
 * give them their names. Runs inside the transaction that proved the
 * lease (see queue_succeed), so only the job's owner ever publishes.
 */
static int publish_outputs(void *opaque)
{
    const struct attempt *at = opaque;

    return worker_publish_local(at->w->cfg->data_dir, at->job, at->sheet);
}

/* Records a failed attempt; a lost lease is only logged (the job is
 * another attempt's now). */
static void record_failure(const struct worker *w, const struct job *job,
                           const char *reason, bool retryable)
{
    if (queue_fail(w->db, job, w->name, reason, retryable) == QUEUE_LOST)
        log_info("job %lld: attempt %d failed after losing its lease",
                 (long long)job->id, job->attempts);
}

void worker_dispose_original(const char *data_dir, const char *id, bool keep)
{
    char in[PATH_MAX], kept[PATH_MAX];

    if (storage_path(data_dir, STORAGE_INCOMING, id, in, sizeof(in)) != 0)
        return;
    if (keep &&
        storage_path(data_dir, STORAGE_ORIGINAL, id, kept, sizeof(kept)) == 0) {
        if (rename(in, kept) != 0 && errno != ENOENT)
            log_warn("job: keep original of %s", id);
        return;
    }
    if (unlink(in) != 0 && errno != ENOENT)
        log_warn("job: delete original of %s", id);
}

int worker_job_message(struct db *db, const struct job *job,
                       struct job_message *m)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_MESSAGE);
    const char *protect;
    int rc;

    /* Issue #19's versions and reels start from the protected
     * video.mp4, and must take a no_video clip's credit from this same
     * line, never more. */
    memset(m, 0, sizeof(*m));
    if (st == NULL)
        return -1;
    db_bind_text(st, 1, job->message_id);
    if ((rc = db_step(st)) != DB_ROW)
        return -1;
    protect = db_col_text(st, 0);
    rc = protect != NULL
             ? meta_protect_parse(protect, strlen(protect), &m->protect)
             : 0;
    if (rc == 0 && (m->protect & TRANSCODE_PROTECT_NO_VIDEO))
        rc = credit_line(db_col_text(st, 1), db_col_text(st, 2),
                         db_col_text(st, 3), m->credit, sizeof(m->credit));
    /* The card's ground: the campaign's accent ("#rrggbb"), else ours. */
    m->accent = CAMPAIGN_ACCENT_DEFAULT;
    if (db_col_text(st, 4) != NULL) {
        const char *hex = db_col_text(st, 4);
        char *end;
        unsigned long v = strtoul(hex + (hex[0] == '#'), &end, 16);
        if (hex[0] == '#' && strlen(hex) == 7 && *end == '\0')
            m->accent = (uint32_t)v;
    }
    db_reset(st);
    if (rc != 0)
        log_warnx("job %lld: its message's protection cannot be read",
                  (long long)job->id);
    return rc;
}

/* The lease's heartbeat for worker_run_child(). */
struct local_beat {
    struct worker *w;
    const struct job *job;
};

static int local_beat(void *opaque, double progress)
{
    struct local_beat *b = opaque;

    return queue_heartbeat(b->w->db, b->job, b->w->name, b->w->cfg->job_lease,
                           progress);
}

/*
 * Runs one claimed job to its end and records the outcome. Returns 0, or
 * -1 if the worker is stopping (the job was given back).
 */
static int run_job(struct worker *w, const struct job *job)
{
    const struct config *cfg = w->cfg;
    struct job_message msg;
    struct job_run run;
    struct local_beat lb = {w, job};
    char in[PATH_MAX], out_dir[PATH_MAX];
    int rc = 0;

    /* The kinds of job this worker makes; another is a newer server's. */
    if (strcmp(job->kind, JOB_KIND_LOGO) == 0)
        return logo_job_run(cfg, w->db, w->name, job);
    if (strcmp(job->kind, JOB_KIND_VERSION) == 0)
        return studio_job_run(cfg, w->db, w->os, w->name, job);
    if (!queue_job_is_transcode(job)) {
        char why[64];
        snprintf(why, sizeof(why), "this worker cannot make %s jobs",
                 job->kind);
        log_warnx("job %lld: %s", (long long)job->id, why);
        record_failure(w, job, why, false);
        return 0;
    }
    log_info("job %lld: message %s, attempt %d", (long long)job->id,
             job->message_id, job->attempts);
    if (storage_path(cfg->data_dir, STORAGE_INCOMING, job->message_id, in,
                     sizeof(in)) != 0 ||
        storage_path(cfg->data_dir, STORAGE_MEDIA_DIR, job->message_id, out_dir,
                     sizeof(out_dir)) != 0) {
        record_failure(w, job, "bad message id", false);
        return 0;
    }
    if (access(in, R_OK) != 0) {
        record_failure(w, job, "the uploaded file is missing on the server",
                       false);
        return 0;
    }
    /* Never processed without the protection it asked for. */
    if (worker_job_message(w->db, job, &msg) != 0) {
        record_failure(w, job, "the server could not read the message", true);
        return 0;
    }
    if (mkdir(out_dir, 0700) != 0 && errno != EEXIST) {
        log_warn("job %lld: cannot prepare", (long long)job->id);
        record_failure(
            w, job, "the server could not prepare the job (disk full?)", true);
        return 0;
    }
    if (worker_run_child(cfg, job, &msg, in, out_dir, local_beat, NULL, &lb,
                         &stopping, &run) != 0) {
        record_failure(w, job, run.reason, true);
        return 0;
    }
    if (run.end == JOB_END_STOPPING) {
        log_info("job %lld: stopping; the job goes back to the queue",
                 (long long)job->id);
        worker_discard_local(cfg->data_dir, job);
        queue_release(w->db, job, w->name);
        rc = -1;
    } else if (run.end == JOB_END_LOST) {
        worker_discard_local(cfg->data_dir, job);
    } else if (run.end == JOB_END_FAILED) {
        worker_discard_local(cfg->data_dir, job);
        record_failure(w, job, run.reason, run.retryable);
    } else {
        struct attempt at = {w, job, msg.protect != 0};

        rc = queue_succeed(w->db, job, w->name, &run.facts, publish_outputs,
                           &at);
        if (rc == 1) {
            worker_dispose_original(cfg->data_dir, job->message_id,
                                    cfg->keep_originals);
            log_info("job %lld: done in %.1f s", (long long)job->id,
                     run.facts.seconds);
            /* Published: now the bucket's (a failure leaves them on disk
             * for the sweep). */
            objstore_offload(w->os, w->db, cfg->data_dir, job->message_id);
        } else if (rc == QUEUE_LOST) {
            log_info("job %lld: attempt %d finished but lost its lease "
                     "(taken over, or withdrawn); its outputs are dropped",
                     (long long)job->id, job->attempts);
            worker_discard_local(cfg->data_dir, job);
        } else {
            worker_discard_local(cfg->data_dir, job);
            record_failure(w, job,
                           "the server could not store the result "
                           "(disk full?)",
                           true);
        }
        rc = 0;
    }
    worker_run_release(&run);
    return rc;
}

/* One worker process: claims and runs jobs until asked to stop. */
static int worker_loop(const struct config *cfg)
{
    struct worker w;
    struct sigaction sa;
    char path[PATH_MAX], err[512];

    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    snprintf(w.name, sizeof(w.name), "w%ld", (long)getpid());
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_NAME, "chorus-worker");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (util_fmt(path, sizeof(path), "%s/chorus.db", cfg->data_dir) != 0 ||
        db_open(path, &w.db, err, sizeof(err)) != 0) {
        log_error("worker: %s", err);
        return 1;
    }
    if (s3_global_init() != 0 || objstore_open(cfg, &w.os) != 0) {
        db_close(w.db);
        return 1;
    }
    while (!stopping) {
        struct job job;
        int rc = queue_claim(w.db, w.name, cfg->job_lease, &job);

        if (rc == 1) {
            if (run_job(&w, &job) != 0)
                break;
            continue;
        }
        if (rc < 0)
            log_warnx("worker: cannot claim a job; retrying");
        usleep(IDLE_POLL_MS * 1000);
    }
    objstore_close(w.os);
    s3_global_cleanup();
    db_close(w.db);
    return 0;
}

/* ---- the supervisor --------------------------------------------------- */

static pid_t start_loop(const struct config *cfg,
                        int (*loop)(const struct config *),
                        const sigset_t *oldmask)
{
    pid_t pid = fork();

    if (pid == 0) {
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        _exit(loop(cfg));
    }
    if (pid < 0)
        log_warn("worker: fork");
    return pid;
}

int worker_main(const struct config *cfg)
{
    return worker_supervise(cfg, worker_loop, NULL);
}

int worker_supervise(const struct config *cfg,
                     int (*loop)(const struct config *), void (*ended)(pid_t))
{
    pid_t *pids = NULL;
    int64_t *started = NULL;
    sigset_t sigs, old;
    int n = cfg->workers, rc = 1;
    const char *parent = getenv("CHORUS_PARENT_PID");

    if (n <= 0) {
        log_info("no workers configured");
        return 0;
    }
    /* Started by chorus serve: end with it. Its pid goes no further:
     * jobs' children are forked from here. */
    if (parent != NULL) {
        long ppid = strtol(parent, NULL, 10);

        unsetenv("CHORUS_PARENT_PID");
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if ((long)getppid() != ppid)
            return 0;
    }
    pids = calloc((size_t)n, sizeof(*pids));
    started = calloc((size_t)n, sizeof(*started));
    if (pids == NULL || started == NULL)
        goto out;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &sigs, &old);
    for (int i = 0; i < n; i++) {
        pids[i] = start_loop(cfg, loop, &old);
        started[i] = util_mono_ms();
    }
    log_info("%d workers started", n);
    for (;;) {
        const struct timespec tick = {1, 0};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        pid_t dead;
        int status;

        if (sig == SIGTERM || sig == SIGINT)
            break;
        while ((dead = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++) {
                if (pids[i] != dead)
                    continue;
                log_warnx("worker %ld ended (%s %d); starting another",
                          (long)dead, WIFSIGNALED(status) ? "signal" : "status",
                          WIFSIGNALED(status) ? WTERMSIG(status)
                                              : WEXITSTATUS(status));
                pids[i] = 0;
                if (ended != NULL)
                    ended(dead);
            }
        }
        for (int i = 0; i < n; i++) {
            /* At most one restart a second per slot: no hot loop. */
            if (pids[i] <= 0 && util_mono_ms() - started[i] >= 1000) {
                pids[i] = start_loop(cfg, loop, &old);
                started[i] = util_mono_ms();
            }
        }
    }
    /* Orderly stop: running jobs go back to the queue. */
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    for (int64_t end = util_mono_ms() + 10000; util_mono_ms() < end;) {
        pid_t dead = waitpid(-1, NULL, WNOHANG);
        if (dead < 0 && errno == ECHILD)
            break;
        if (dead <= 0)
            usleep(20 * 1000);
    }
    for (int i = 0; i < n; i++)
        if (pids[i] > 0 && kill(pids[i], SIGKILL) == 0)
            waitpid(pids[i], NULL, 0);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0 && ended != NULL)
            ended(pids[i]);
    rc = 0;
out:
    free(pids);
    free(started);
    return rc;
}

int worker_prepare_spawn(const struct config *cfg)
{
    char parent[24];

    snprintf(parent, sizeof(parent), "%ld", (long)getpid());
    if (config_export(cfg) != 0 || setenv("CHORUS_PARENT_PID", parent, 1) != 0)
        return -1;
    return 0;
}

pid_t worker_spawn(void)
{
    posix_spawnattr_t attr;
    sigset_t none, all;
    char *argv[] = {"chorus", "worker", NULL};
    extern char **environ;
    pid_t pid = -1;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (posix_spawn(&pid, "/proc/self/exe", NULL, &attr, argv, environ) != 0) {
        log_warn("cannot start the workers");
        pid = -1;
    }
    posix_spawnattr_destroy(&attr);
    return pid;
}
