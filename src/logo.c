#include "chorus/logo.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "chorus/campaign.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/image.h"
#include "chorus/log.h"
#include "chorus/queue.h"
#include "chorus/sandbox.h"
#include "chorus/storage.h"
#include "chorus/util.h"

/* A logo is small: seconds at most, whatever the machine. */
#define LOGO_TIMEOUT_MS 30000
#define LOGO_TMP "logo.png.%d.tmp"

static const struct image_api *image_api;
static pthread_once_t image_once = PTHREAD_ONCE_INIT;

/* Finds the media module beside the running binary, as transcode_load()
 * does, and its image table. */
static void image_load_once(void)
{
    char exe[PATH_MAX], path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    void *h;

    if (n <= 0)
        return;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL || util_fmt(path, sizeof(path), "%.*s/chorus-media.so",
                                  (int)(slash - exe), exe) != 0)
        return;
    if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        log_warnx("logo: cannot load the media module: %s", dlerror());
        return;
    }
    /* Never closed: it stays until the process ends. */
    image_api = dlsym(h, IMAGE_API_SYMBOL);
}

static const struct image_api *image_load(void)
{
    pthread_once(&image_once, image_load_once);
    return image_api;
}

static void set_limit(__rlimit_resource_t resource, rlim_t value)
{
    struct rlimit rl = {value, value};

    if (setrlimit(resource, &rl) != 0)
        log_warn("setrlimit %d", resource);
}

/*
 * The child: limits itself, opens its two files, enters the sandbox and
 * makes the logo, reporting a refusal as one "E reason" line on fd.
 * Never returns; never touches the database.
 */
static void run_child(const struct job *job, const char *in, const char *tmp,
                      int fd)
{
    const struct image_api *api;
    char tag[48], err[256];
    int in_fd, out_fd;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "chorus-logo");
    snprintf(tag, sizeof(tag), "job %lld", (long long)job->id);
    log_init(LOG_LVL_INFO, tag);
    signal(SIGTERM, SIG_DFL);
    if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) != 0))
        _exit(3);
    if (close_range(4, ~0U, 0) != 0)
        for (int i = 4; i < 1024; i++)
            close(i);
#ifndef __SANITIZE_ADDRESS__
    set_limit(RLIMIT_AS, (rlim_t)1024 * 1024 * 1024);
#endif
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_FSIZE, (rlim_t)64 * 1024 * 1024);
    set_limit(RLIMIT_NOFILE, 64);
    set_limit(RLIMIT_CPU, 60);
    if ((api = image_load()) == NULL || api->logo == NULL)
        _exit(3);
    if ((in_fd = open(in, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
        (out_fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                       0600)) < 0)
        _exit(3);
    if (sandbox_enter() != 0)
        _exit(3);
    if (api->logo(in_fd, out_fd, CAMPAIGN_LOGO_MAX, LOGO_SIDE_MAX, err,
                  sizeof(err)) != 0) {
        char line[300];
        int n = snprintf(line, sizeof(line), "E %s\n", err);
        if (write(3, line, (size_t)n) < 0)
            _exit(3);
        _exit(1);
    }
    _exit(0);
}

/* The job's outputs and where they go. */
struct logo_job {
    struct db *db;
    int64_t campaign;
    char in[PATH_MAX], tmp[PATH_MAX], out[PATH_MAX], dir[PATH_MAX];
};

/* Inside the transaction that proved the lease: the made logo gets its
 * name and the campaign learns it has one. 0, or -1. */
static int publish(void *opaque)
{
    struct logo_job *lj = opaque;

    if (rename(lj->tmp, lj->out) != 0 || util_fsync_dir(lj->dir) != 0) {
        log_warn("logo: cannot publish %s", lj->out);
        return -1;
    }
    return campaign_logo_made(lj->db, lj->campaign, util_now()) == 0 ? 0 : -1;
}

/* Reads the job's args into lj; 0, or -1 if they are not ours. */
static int parse_args(const struct config *cfg, const struct job *job,
                      struct logo_job *lj)
{
    json_t *args = json_loads(job->args, 0, NULL);
    const char *input = json_string_value(json_object_get(args, "input"));
    char tmp[32];
    int rc = -1;

    lj->campaign = json_integer_value(json_object_get(args, "campaign"));
    snprintf(tmp, sizeof(tmp), LOGO_TMP, job->attempts);
    /* The input's name is made by campaign_api.c: logo-<id>.in. */
    if (input != NULL && strncmp(input, "logo-", 5) == 0 && strlen(input) > 8 &&
        strcmp(input + strlen(input) - 3, ".in") == 0 &&
        storage_campaign_path(cfg->data_dir, lj->campaign, input, lj->in,
                              sizeof(lj->in)) == 0 &&
        storage_campaign_path(cfg->data_dir, lj->campaign, tmp, lj->tmp,
                              sizeof(lj->tmp)) == 0 &&
        storage_campaign_path(cfg->data_dir, lj->campaign, LOGO_FILE, lj->out,
                              sizeof(lj->out)) == 0 &&
        storage_campaign_path(cfg->data_dir, lj->campaign, NULL, lj->dir,
                              sizeof(lj->dir)) == 0)
        rc = 0;
    json_decref(args);
    return rc;
}

/* Records a failed attempt; the input goes once the job failed for
 * good. */
static void failed(struct db *db, const char *worker, const struct job *job,
                   const struct logo_job *lj, const char *why, bool retry)
{
    unlink(lj->tmp);
    log_info("job %lld: logo of %s: %s", (long long)job->id, job->target, why);
    if (queue_fail(db, job, worker, why, retry) == 0)
        unlink(lj->in);
}

int logo_job_run(const struct config *cfg, struct db *db, const char *worker,
                 const struct job *job)
{
    struct logo_job lj;
    char buf[512] = "";
    size_t used = 0;
    int64_t deadline = util_mono_ms() + LOGO_TIMEOUT_MS, next_beat;
    int fds[2] = {-1, -1}, status = 0, rc;
    bool lost = false, timeout = false;
    pid_t pid;

    memset(&lj, 0, sizeof(lj));
    lj.db = db;
    if (parse_args(cfg, job, &lj) != 0) {
        queue_fail(db, job, worker, "a logo job without its input", false);
        return 0;
    }
    log_info("job %lld: the logo of %s, attempt %d", (long long)job->id,
             job->target, job->attempts);
    if (access(lj.in, R_OK) != 0) {
        failed(db, worker, job, &lj, "the uploaded logo is missing", false);
        return 0;
    }
    if (pipe2(fds, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
        failed(db, worker, job, &lj, "the server could not start the job",
               true);
        goto out;
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(job, lj.in, lj.tmp, fds[1]);
    }
    close(fds[1]);
    fds[1] = -1;
    next_beat = util_mono_ms() + 1000;
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        ssize_t n;

        if (util_mono_ms() >= deadline || lost) {
            timeout = !lost;
            kill(pid, SIGKILL);
            break;
        }
        if (util_mono_ms() >= next_beat) {
            if (queue_heartbeat(db, job, worker, cfg->job_lease, 0) == 0)
                lost = true;
            next_beat = util_mono_ms() + 1000;
        }
        if (poll(&p, 1, 250) <= 0)
            continue;
        n = read(fds[0], buf + used, sizeof(buf) - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        if (used == sizeof(buf) - 1)
            break;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (lost) {
        unlink(lj.tmp);
        log_info("job %lld: lost its lease; the logo is dropped",
                 (long long)job->id);
    } else if (timeout) {
        failed(db, worker, job, &lj, "making the logo took too long", true);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = queue_succeed(db, job, worker, NULL, publish, &lj);
        if (rc == 1) {
            unlink(lj.in);
            log_info("job %lld: the logo of %s is made", (long long)job->id,
                     job->target);
        } else {
            unlink(lj.tmp);
            if (rc != QUEUE_LOST)
                failed(db, worker, job, &lj,
                       "the server could not store the logo", true);
        }
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
               strncmp(buf, "E ", 2) == 0) {
        buf[strcspn(buf, "\n")] = '\0';
        failed(db, worker, job, &lj, buf + 2, false);
    } else {
        failed(db, worker, job, &lj,
               WIFSIGNALED(status) ? "making the logo crashed"
                                   : "making the logo ended abnormally",
               true);
    }
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return 0;
}
