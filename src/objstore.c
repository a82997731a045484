#include "chorus/objstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/storage.h"
#include "chorus/util.h"

/* Messages whose objects one sweep deletes at most. */
#define SWEEP_BATCH 200
/* The longest wait between two tries of a failed deletion, seconds. */
#define RETRY_MAX 300

struct objstore {
    struct s3 *s3;
};

int objstore_open(const struct config *cfg, struct objstore **out)
{
    char bucket[64], prefix[128], err[256];
    struct s3_config c;
    struct objstore *os;

    *out = NULL;
    if (cfg->storage == NULL || cfg->storage[0] == '\0' ||
        strcmp(cfg->storage, "local") == 0)
        return 0;
    if (s3_parse_url(cfg->storage, bucket, sizeof(bucket), prefix,
                     sizeof(prefix)) != 0) {
        log_error("--storage: local, or s3://BUCKET/PREFIX (a bucket name of "
                  "a-z, 0-9, '.' and '-'; a prefix of plain segments)");
        return -1;
    }
    if (cfg->s3_endpoint == NULL || cfg->s3_endpoint[0] == '\0') {
        log_error("--storage s3:// needs --s3-endpoint (https://s3.REGION."
                  "amazonaws.com, or the store's own address)");
        return -1;
    }
    memset(&c, 0, sizeof(c));
    c.endpoint = cfg->s3_endpoint;
    c.region = cfg->s3_region;
    c.bucket = bucket;
    c.prefix = prefix;
    c.virtual_host = !cfg->s3_path_style;
    c.timeout_s = cfg->s3_timeout;
    c.access_key = getenv("AWS_ACCESS_KEY_ID");
    c.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    if ((os = calloc(1, sizeof(*os))) == NULL)
        return -1;
    if (s3_open(&c, &os->s3, err, sizeof(err)) != 0) {
        log_error("--storage %s: %s", cfg->storage, err);
        free(os);
        return -1;
    }
    *out = os;
    return 0;
}

void objstore_close(struct objstore *os)
{
    if (os == NULL)
        return;
    s3_close(os->s3);
    free(os);
}

int objstore_check(struct objstore *os)
{
    char err[512];

    if (s3_check(os->s3, err, sizeof(err)) == 0)
        return 0;
    if (strstr(err, "SignatureDoesNotMatch") != NULL)
        log_error("the object store refused the request's signature: check "
                  "AWS_SECRET_ACCESS_KEY and --s3-region (%s)",
                  err);
    else if (strstr(err, "InvalidAccessKeyId") != NULL ||
             strstr(err, "HTTP 401") != NULL)
        log_error("the object store does not know the access key: check "
                  "AWS_ACCESS_KEY_ID (%s)",
                  err);
    else if (strstr(err, "NoSuchBucket") != NULL)
        log_error("the object store has no such bucket: check --storage (%s)",
                  err);
    else
        log_error("the object store cannot be used: %s", err);
    return -1;
}

bool objstore_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 64 || name[0] == '.' ||
        (n >= 4 && strcmp(name + n - 4, ".tmp") == 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '.' ||
              name[i] == '_' || name[i] == '-'))
            return false;
    return true;
}

/* media/<id>/<name>; 0, or -1 if id or name is not one. */
static int media_key(const char *id, const char *name, char *out, size_t len)
{
    if (!util_is_id(id) || !objstore_name_ok(name))
        return -1;
    return util_fmt(out, len, "media/%s/%s", id, name);
}

/* Records message id's objects for deletion (again), at once. */
static int doom(struct db *db, const char *id)
{
    struct db_stmt *st = db_stmt(db, STMT_OBJDEL_ADD);

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_int(st, 2, util_now());
    return db_step(st) < 0 ? -1 : 0;
}

/* 1 if message id's files are gone (no row, withdrawn, media deleted),
 * 0 if not, -1. */
static int files_gone(struct db *db, const char *id)
{
    struct db_stmt *st = db_stmt(db, STMT_MSG_FILES_GONE);
    int rc;

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, id);
    rc = db_step(st);
    if (rc == DB_ROW)
        rc = db_col_int(st, 0) != 0;
    else
        rc = rc == DB_DONE ? 1 : -1;
    db_reset(st);
    return rc;
}

int objstore_offload(struct objstore *os, struct db *db, const char *data_dir,
                     const char *id)
{
    char dir[PATH_MAX], key[S3_KEY_MAX], err[512];
    struct dirent *e;
    int failed = 0, moved = 0;
    DIR *d;

    if (os == NULL)
        return 0;
    if (storage_path(data_dir, STORAGE_MEDIA_DIR, id, dir, sizeof(dir)) != 0 ||
        (d = opendir(dir)) == NULL)
        return errno == ENOENT ? 0 : -1;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        int fd;

        if (media_key(id, e->d_name, key, sizeof(key)) != 0)
            continue;
        fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue; /* another copier took it, or it was deleted */
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            close(fd);
            continue;
        }
        if (s3_put_fd(os->s3, key, fd, (int64_t)sb.st_size, NULL, err,
                      sizeof(err)) != 0) {
            log_warnx("message %s: %s could not be copied to the object "
                      "store (%s); it stays on disk, the sweep tries again",
                      id, e->d_name, err);
            failed++;
        } else if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT) {
            log_warn("message %s: cannot delete the local copy of %s", id,
                     e->d_name);
        } else {
            moved++;
        }
        close(fd);
    }
    closedir(d);
    rmdir(dir); /* only if it is empty now */
    /* Withdrawn (or deleted) while this copied: its deletion may have run
     * before these objects existed, so it must run again. */
    if (moved > 0 && files_gone(db, id) != 0 && doom(db, id) != 0)
        log_warnx("message %s: its copied files could not be recorded for "
                  "deletion",
                  id);
    if (moved > 0)
        log_info("message %s: %d file(s) moved to the object store", id, moved);
    return failed;
}

void objstore_recheck(struct objstore *os, struct db *db, const char *id)
{
    if (os != NULL && files_gone(db, id) != 0 && doom(db, id) != 0)
        log_warnx("message %s: its new objects could not be recorded for "
                  "deletion",
                  id);
}

int objstore_share_original(struct objstore *os, const char *data_dir,
                            const char *id, char *url, size_t urllen)
{
    char path[PATH_MAX], key[S3_KEY_MAX], err[512];
    struct stat sb;
    int fd, rc = -1;

    if (storage_path(data_dir, STORAGE_INCOMING, id, path, sizeof(path)) != 0 ||
        util_fmt(key, sizeof(key), "private/%s/original", id) != 0)
        return -1;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        log_warn("message %s: its original", id);
        return -1;
    }
    if (fstat(fd, &sb) != 0)
        goto out;
    /* Already there whole (another attempt's): not again. */
    {
        int64_t have = -1;
        int h = s3_head(os->s3, key, &have, NULL, err, sizeof(err));
        if (h == 1 && have == (int64_t)sb.st_size)
            rc = 0;
        else if (s3_put_fd(os->s3, key, fd, (int64_t)sb.st_size, NULL, err,
                           sizeof(err)) == 0)
            rc = 0;
        else
            log_warnx("message %s: its original could not be copied to the "
                      "object store for a remote worker: %s",
                      id, err);
    }
    if (rc == 0 && s3_presign(os->s3, "GET", key, OBJSTORE_URL_TTL, util_now(),
                              url, urllen) != 0)
        rc = -1;
out:
    close(fd);
    return rc;
}

int objstore_work_url(struct objstore *os, const char *id, int64_t job_id,
                      int attempt, const char *name, char *key, size_t keylen,
                      char *url, size_t urllen)
{
    if (!util_is_id(id) || !objstore_name_ok(name) ||
        util_fmt(key, keylen, "private/%s/%lld.%d/%s", id, (long long)job_id,
                 attempt, name) != 0)
        return -1;
    return url == NULL ? 0
                       : s3_presign(os->s3, "PUT", key, OBJSTORE_URL_TTL,
                                    util_now(), url, urllen);
}

int objstore_size(struct objstore *os, const char *key, int64_t *size)
{
    char err[512];
    int rc = s3_head(os->s3, key, size, NULL, err, sizeof(err));

    if (rc < 0)
        log_warnx("the object store did not say whether %s is there: %s", key,
                  err);
    return rc;
}

int objstore_publish_work(struct objstore *os, const char *id, int64_t job_id,
                          int attempt, const char *name)
{
    char from[S3_KEY_MAX], to[S3_KEY_MAX], err[512];

    if (objstore_work_url(os, id, job_id, attempt, name, from, sizeof(from),
                          NULL, 0) != 0 ||
        media_key(id, name, to, sizeof(to)) != 0)
        return -1;
    if (s3_copy(os->s3, from, to, err, sizeof(err)) != 0) {
        log_warnx("message %s: %s could not be published in the object "
                  "store: %s",
                  id, name, err);
        return -1;
    }
    return 0;
}

void objstore_file_of_fd(struct objstore_file *f, int fd, int64_t size)
{
    memset(f, 0, sizeof(*f));
    f->fd = fd;
    f->size = size;
}

int objstore_file_open(struct objstore *os, const char *data_dir,
                       const char *id, const char *name,
                       struct objstore_file *f)
{
    char path[PATH_MAX], dir[PATH_MAX], err[512];
    struct stat sb;
    int rc;

    objstore_file_of_fd(f, -1, 0);
    if (storage_path(data_dir, STORAGE_MEDIA_DIR, id, dir, sizeof(dir)) != 0 ||
        !objstore_name_ok(name) ||
        util_fmt(path, sizeof(path), "%s/%s", dir, name) != 0)
        return 1;
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (f->fd >= 0) {
        if (fstat(f->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            objstore_file_close(f);
            return 1;
        }
        f->size = (int64_t)sb.st_size;
        f->mtime = (int64_t)sb.st_mtim.tv_sec;
        return 0;
    }
    if (errno != ENOENT || os == NULL)
        return errno == ENOENT ? 1 : -1;
    if (media_key(id, name, f->key, sizeof(f->key)) != 0)
        return 1;
    rc = s3_head(os->s3, f->key, &f->size, f->etag, err, sizeof(err));
    if (rc < 0) {
        log_warnx("message %s: the object store did not give %s: %s", id, name,
                  err);
        return -1;
    }
    if (rc == 0)
        return 1;
    f->in_bucket = true;
    return 0;
}

int objstore_file_stream(struct objstore *os, struct objstore_file *f,
                         int64_t start, int64_t len)
{
    char err[512];
    int rc;

    if (!f->in_bucket)
        return lseek(f->fd, (off_t)start, SEEK_SET) == (off_t)start ? 0 : -1;
    if (os == NULL)
        return -1;
    rc = s3_reader_open(os->s3, f->key, start, len, &f->rd, err, sizeof(err));
    if (rc != 0) {
        log_warnx("the object store did not send %s: %s", f->key,
                  rc == 1 ? "it is gone" : err);
        return -1;
    }
    return 0;
}

long objstore_file_read(struct objstore_file *f, char *buf, size_t max)
{
    ssize_t n;

    if (f->in_bucket)
        return f->rd != NULL ? s3_reader_read(f->rd, buf, max) : -1;
    n = read(f->fd, buf, max);
    if (n < 0)
        log_warn("reading a media file");
    return (long)n;
}

void objstore_file_close(struct objstore_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    s3_reader_close(f->rd);
    f->rd = NULL;
}

int objstore_fetch(struct objstore *os, const char *data_dir, const char *id,
                   const char *name, char *path, size_t pathlen, bool *fetched)
{
    struct objstore_file f;
    char buf[65536];
    int rc, out = -1;
    int64_t done = 0;

    *fetched = false;
    rc = objstore_file_open(os, data_dir, id, name, &f);
    if (rc != 0)
        return rc;
    if (!f.in_bucket) {
        char dir[PATH_MAX];
        objstore_file_close(&f);
        if (storage_path(data_dir, STORAGE_MEDIA_DIR, id, dir, sizeof(dir)) !=
                0 ||
            util_fmt(path, pathlen, "%s/%s", dir, name) != 0)
            return -1;
        return 0;
    }
    /* Beside the data directory's copies, under a name no copier takes. */
    rc = -1;
    if (util_fmt(buf, sizeof(buf), "%s/media/%s.%s.fetch.tmp", data_dir, id,
                 name) != 0 ||
        util_fmt(path, pathlen, "%s", buf) != 0)
        goto out;
    out =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0 || objstore_file_stream(os, &f, 0, -1) != 0)
        goto out;
    for (;;) {
        long n = objstore_file_read(&f, buf, sizeof(buf));
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (write(out, buf, (size_t)n) != (ssize_t)n)
            goto out;
        done += n;
    }
    if (done != f.size)
        goto out;
    *fetched = true;
    rc = 0;
out:
    if (out >= 0 && close(out) != 0)
        rc = -1;
    if (rc != 0 && out >= 0) {
        log_warn("message %s: cannot fetch %s from the object store", id, name);
        unlink(path);
    }
    objstore_file_close(&f);
    return rc;
}

/* What deleting one message's objects needs. */
struct deleting {
    struct objstore *os;
    int failed;
    char err[512];
};

static int delete_one(const char *key, int64_t size, void *opaque)
{
    struct deleting *dl = opaque;
    char err[512];

    (void)size;
    if (s3_delete(dl->os->s3, key, err, sizeof(err)) != 0) {
        if (dl->failed++ == 0)
            snprintf(dl->err, sizeof(dl->err), "%s", err);
    }
    return 0;
}

/* Deletes every object of message id; 0, or -1 with why in dl->err. */
static int delete_objects(struct objstore *os, const char *id,
                          struct deleting *dl)
{
    char prefix[S3_KEY_MAX];

    dl->os = os;
    dl->failed = 0;
    dl->err[0] = '\0';
    if (util_fmt(prefix, sizeof(prefix), "media/%s/", id) != 0)
        return -1;
    if (s3_list(os->s3, prefix, delete_one, dl, dl->err, sizeof(dl->err)) != 0)
        return -1;
    return dl->failed > 0 ? -1 : 0;
}

/* What the sweep of the private prefix needs. */
struct unheld {
    struct objstore *os;
    struct db *db;
    char last[UTIL_ID_LEN + 1];
    bool held;
};

/* Deletes a private object unless a remote worker holds a job of its
 * message (asked once per message: keys come sorted). */
static int delete_unheld(const char *key, int64_t size, void *opaque)
{
    struct unheld *u = opaque;
    char id[UTIL_ID_LEN + 1], err[512];

    (void)size;
    if (strncmp(key, "private/", 8) != 0)
        return 0;
    snprintf(id, sizeof(id), "%.*s", UTIL_ID_LEN, key + 8);
    if (!util_is_id(id))
        return 0;
    if (strcmp(id, u->last) != 0) {
        struct db_stmt *st = db_stmt(u->db, STMT_JOB_REMOTE_HELD);
        snprintf(u->last, sizeof(u->last), "%s", id);
        u->held = true; /* when in doubt, kept */
        if (st != NULL) {
            db_bind_text(st, 1, id);
            u->held = db_step(st) != DB_DONE;
            db_reset(st);
        }
    }
    if (!u->held && s3_delete(u->os->s3, key, err, sizeof(err)) != 0)
        log_warnx("the object store did not delete %s: %s; again at the next "
                  "sweep",
                  key, err);
    return 0;
}

/* Copies to the bucket what is left in the data directory's media/. */
static void offload_leftovers(struct objstore *os, struct db *db,
                              const char *data_dir)
{
    char dir[PATH_MAX];
    struct dirent *e;
    DIR *d;

    if (util_fmt(dir, sizeof(dir), "%s/media", data_dir) != 0 ||
        (d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (util_is_id(e->d_name))
            objstore_offload(os, db, data_dir, e->d_name);
    closedir(d);
}

int objstore_sweep(struct objstore *os, struct db *db, const char *data_dir)
{
    char ids[SWEEP_BATCH][UTIL_ID_LEN + 1];
    int64_t tries[SWEEP_BATCH], gens[SWEEP_BATCH], now = util_now();
    struct db_stmt *st;
    int n = 0, done = 0, rc;

    if (os == NULL) {
        st = db_stmt(db, STMT_OBJDEL_CLEAR);
        return st != NULL && db_step(st) >= 0 ? (int)db_changes(db) : -1;
    }
    if ((st = db_stmt(db, STMT_OBJDEL_DUE)) == NULL)
        return -1;
    db_bind_int(st, 1, now);
    db_bind_int(st, 2, SWEEP_BATCH);
    while (n < SWEEP_BATCH && (rc = db_step(st)) == DB_ROW) {
        snprintf(ids[n], sizeof(ids[0]), "%s", db_col_text(st, 0));
        tries[n] = db_col_int(st, 1);
        gens[n++] = db_col_int(st, 2);
    }
    db_reset(st);
    for (int i = 0; i < n; i++) {
        struct deleting *dl = calloc(1, sizeof(*dl));
        int64_t wait;

        if (dl == NULL)
            break;
        if (util_is_id(ids[i]) && delete_objects(os, ids[i], dl) != 0) {
            /* 2, 4, 8 ... seconds, at most RETRY_MAX. */
            wait = tries[i] >= 8 ? RETRY_MAX : (int64_t)2 << tries[i];
            if (wait > RETRY_MAX)
                wait = RETRY_MAX;
            log_warnx("message %s: its objects could not be deleted (%s); "
                      "trying again in %lld s",
                      ids[i], dl->err, (long long)wait);
            if ((st = db_stmt(db, STMT_OBJDEL_FAILED)) != NULL) {
                db_bind_text(st, 1, ids[i]);
                db_bind_int(st, 2, now + wait);
                db_bind_text(st, 3, dl->err);
                /* Unrecorded (logged), the deletion is simply due
                 * again at the next sweep. */
                if (db_step(st) < 0)
                    log_warnx("message %s: the retry was not recorded", ids[i]);
            }
        } else if ((st = db_stmt(db, STMT_OBJDEL_DONE)) != NULL) {
            db_bind_text(st, 1, ids[i]);
            db_bind_int(st, 2, gens[i]);
            /* Unrecorded, the next sweep deletes them again (deleting
             * an object that is gone succeeds). */
            if (db_step(st) >= 0) {
                log_info("message %s: its objects were deleted", ids[i]);
                done++;
            }
        }
        free(dl);
    }
    offload_leftovers(os, db, data_dir);
    /* Originals and outputs no remote worker needs any more. */
    {
        struct unheld u = {os, db, "", true};
        char err[512];
        if (s3_list(os->s3, "private/", delete_unheld, &u, err, sizeof(err)) !=
            0)
            log_warnx("the object store's private objects could not be "
                      "listed: %s",
                      err);
    }
    return done;
}

int objstore_pending(struct db *db, int64_t *pending, int64_t *failing)
{
    struct db_stmt *st = db_stmt(db, STMT_OBJDEL_COUNT);
    int rc;

    *pending = *failing = 0;
    if (st == NULL)
        return -1;
    if ((rc = db_step(st)) == DB_ROW) {
        *pending = db_col_int(st, 0);
        *failing = db_col_int(st, 1);
    }
    db_reset(st);
    return rc == DB_ROW ? 0 : -1;
}
