#include "chorus/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/storage.h"

/*
 * The registry: in memory only (a client is never stored), under one
 * lock. It holds the ids being written (one request at a time each),
 * the clients that hold unfinished uploads or are writing one, which
 * unfinished upload each client holds and what it weighs (its bytes on
 * disk, plus while a request writes it the bytes that request may
 * still bring), and the bytes all requests under way may still write
 * (reserved against the disk's free space).
 *
 * What a restart forgets: every client. Unfinished uploads in the
 * database then belong to nobody until a client writes one again (it
 * becomes that client's, if its caps allow), and the expiry sweep
 * deletes those nobody resumes. The disk's reserve does not depend on
 * the registry: it is asked of the file system at every open.
 */
struct client_use {
    unsigned char key[CLIENT_KEY_MAX];
    size_t len;
    int writing;    /* requests writing one of its uploads now */
    int open;       /* unfinished uploads it holds */
    int64_t parked; /* the sum of their weights */
};

struct held {
    char id[UTIL_ID_LEN + 1];
    unsigned char key[CLIENT_KEY_MAX];
    size_t len;
    int64_t weight;
};

/* How long a PATCH waits for the upload's previous request to finish. */
#define UPLOAD_LOCK_WAIT_MS 2000

struct upload_registry {
    pthread_mutex_t lock;
    pthread_cond_t unlocked; /* an upload's lock was let go */
    char (*busy)[UTIL_ID_LEN + 1];
    size_t nbusy, capbusy;
    struct client_use *clients;
    size_t nclients, capclients;
    struct held *held;
    size_t nheld, capheld;
    /* Bytes that requests under way may still write (decreases as they
     * do, without the lock). */
    _Atomic int64_t reserved;
};

struct upload_registry *upload_registry_new(void)
{
    struct upload_registry *reg = calloc(1, sizeof(*reg));

    if (reg == NULL)
        return NULL;
    pthread_condattr_t attr;

    pthread_mutex_init(&reg->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&reg->unlocked, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&reg->reserved, 0);
    return reg;
}

void upload_registry_free(struct upload_registry *reg)
{
    if (reg == NULL)
        return;
    pthread_cond_destroy(&reg->unlocked);
    pthread_mutex_destroy(&reg->lock);
    free(reg->busy);
    free(reg->clients);
    free(reg->held);
    free(reg);
}

/* Grows *arr (of *cap elements of size sz) to hold one more; 0 or -1. */
static int grow(void *arr, size_t *cap, size_t n, size_t sz)
{
    void **p = arr;
    void *q;
    size_t ncap;

    if (n < *cap)
        return 0;
    if (__builtin_mul_overflow(*cap == 0 ? 16 : *cap, 2, &ncap) ||
        ncap > SIZE_MAX / sz)
        return -1;
    q = realloc(*p, ncap * sz);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = ncap;
    return 0;
}

/* Call with reg->lock held. */
static ssize_t busy_find(struct upload_registry *reg, const char *id)
{
    for (size_t i = 0; i < reg->nbusy; i++)
        if (strcmp(reg->busy[i], id) == 0)
            return (ssize_t)i;
    return -1;
}

/*
 * Takes id's lock, waiting up to wait_ms for it to come free; 0, or -1 if
 * it is still taken (or no memory).
 */
static int lock_id(struct upload_registry *reg, const char *id, int wait_ms)
{
    struct timespec deadline;
    int rc = -1, w = 0;

    deadline = util_mono_after(wait_ms);
    pthread_mutex_lock(&reg->lock);
    while (busy_find(reg, id) >= 0 && wait_ms > 0 && w != ETIMEDOUT)
        w = pthread_cond_timedwait(&reg->unlocked, &reg->lock, &deadline);
    if (busy_find(reg, id) < 0 &&
        grow(&reg->busy, &reg->capbusy, reg->nbusy, sizeof(*reg->busy)) == 0) {
        memcpy(reg->busy[reg->nbusy++], id, UTIL_ID_LEN + 1);
        rc = 0;
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

static void unlock_id(struct upload_registry *reg, const char *id)
{
    ssize_t i;

    pthread_mutex_lock(&reg->lock);
    if ((i = busy_find(reg, id)) >= 0)
        memcpy(reg->busy[i], reg->busy[--reg->nbusy], UTIL_ID_LEN + 1);
    pthread_cond_broadcast(&reg->unlocked);
    pthread_mutex_unlock(&reg->lock);
}

bool upload_busy(struct app *app, const char *id, bool wait)
{
    struct upload_registry *reg = app->uploads;
    struct timespec deadline;
    bool busy;
    int w = 0;

    deadline = util_mono_after(UPLOAD_LOCK_WAIT_MS);
    pthread_mutex_lock(&reg->lock);
    while (wait && busy_find(reg, id) >= 0 && w != ETIMEDOUT)
        w = pthread_cond_timedwait(&reg->unlocked, &reg->lock, &deadline);
    busy = busy_find(reg, id) >= 0;
    pthread_mutex_unlock(&reg->lock);
    return busy;
}

/* The client of key, added (all counts 0) if add; NULL if it is not
 * there or there is no memory. Call with reg->lock held. */
static struct client_use *client_find(struct upload_registry *reg,
                                      const unsigned char *key, size_t len,
                                      bool add)
{
    struct client_use *c;

    for (size_t i = 0; i < reg->nclients; i++)
        if (reg->clients[i].len == len &&
            memcmp(reg->clients[i].key, key, len) == 0)
            return &reg->clients[i];
    if (!add || grow(&reg->clients, &reg->capclients, reg->nclients,
                     sizeof(*reg->clients)) != 0)
        return NULL;
    c = &reg->clients[reg->nclients++];
    memset(c, 0, sizeof(*c));
    memcpy(c->key, key, len);
    c->len = len;
    return c;
}

/* Forgets c once it holds and writes nothing. Call with the lock. */
static void client_drop_idle(struct upload_registry *reg, struct client_use *c)
{
    if (c != NULL && c->writing <= 0 && c->open <= 0)
        *c = reg->clients[--reg->nclients];
}

/* Call with reg->lock held. */
static struct held *held_find(struct upload_registry *reg, const char *id)
{
    for (size_t i = 0; i < reg->nheld; i++)
        if (strcmp(reg->held[i].id, id) == 0)
            return &reg->held[i];
    return NULL;
}

/* Removes h, taking it off its client's counts. Call with the lock. */
static void held_remove(struct upload_registry *reg, struct held *h)
{
    struct client_use *c = client_find(reg, h->key, h->len, false);

    if (c != NULL) {
        c->open--;
        c->parked -= h->weight;
    }
    *h = reg->held[--reg->nheld];
    client_drop_idle(reg, c);
}

/*
 * Makes client cl the holder of upload id (weighing weight bytes until
 * told otherwise): a new one, one that nobody holds since a restart, or
 * one another client held (a phone that changed networks). Returns 0,
 * or 429 past the client's cap of unfinished uploads, 500 without
 * memory. Call with the lock; *h and *c receive the entries.
 */
static int hold(struct app *app, const struct client *cl, const char *id,
                int64_t weight, struct held **h, struct client_use **c)
{
    struct upload_registry *reg = app->uploads;
    int max = app->cfg->max_open_uploads_per_client;

    *c = client_find(reg, cl->key, cl->len, true);
    if (*c == NULL)
        return 500;
    *h = held_find(reg, id);
    if (*h != NULL && (*h)->len == cl->len &&
        memcmp((*h)->key, cl->key, cl->len) == 0)
        return 0;
    if (max > 0 && (*c)->open >= max) {
        client_drop_idle(reg, *c);
        return UPLOAD_TOO_MANY_OPEN;
    }
    if (*h != NULL) {
        held_remove(reg, *h);
        /* Removing may have moved the client's entry. */
        *c = client_find(reg, cl->key, cl->len, true);
        if (*c == NULL)
            return 500;
    } else if (grow(&reg->held, &reg->capheld, reg->nheld,
                    sizeof(*reg->held)) != 0) {
        client_drop_idle(reg, *c);
        return 500;
    }
    *h = &reg->held[reg->nheld++];
    memcpy((*h)->id, id, UTIL_ID_LEN + 1);
    memcpy((*h)->key, cl->key, cl->len);
    (*h)->len = cl->len;
    (*h)->weight = weight;
    (*c)->open++;
    (*c)->parked += weight;
    return 0;
}

int upload_admit(struct app *app, const struct client *cl, const char *id)
{
    struct upload_registry *reg = app->uploads;
    struct client_use *c;
    struct held *h;
    int rc;

    pthread_mutex_lock(&reg->lock);
    rc = hold(app, cl, id, 0, &h, &c);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

void upload_forget(struct app *app, const char *id)
{
    struct upload_registry *reg = app->uploads;
    struct held *h;

    pthread_mutex_lock(&reg->lock);
    if ((h = held_find(reg, id)) != NULL)
        held_remove(reg, h);
    pthread_mutex_unlock(&reg->lock);
}

bool upload_room(struct app *app, int64_t need)
{
    int64_t reserve = (int64_t)app->cfg->min_free_mb * 1024 * 1024, total;

    if (__builtin_add_overflow(need, atomic_load(&app->uploads->reserved),
                               &total))
        return false;
    return storage_has_room(app->cfg->data_dir, total, reserve) != 0;
}

/*
 * Admits a request that may write up to bring more bytes of upload id,
 * now at offset of length: the client's slots, its unfinished uploads
 * and their bytes, and the disk (the rest of the upload must fit above
 * --min-free-mb beside what every other request may still write).
 * Returns 0 with the bytes reserved, UPLOAD_TOO_MANY_* past a cap, 413,
 * 507 or 500.
 */
static int admit_write(struct upload *up, const struct client *cl,
                       int64_t bring)
{
    struct app *app = up->app;
    struct upload_registry *reg = app->uploads;
    const struct config *cfg = app->cfg;
    int64_t parked_max = (int64_t)cfg->max_parked_mb_per_client * 1024 * 1024;
    int64_t weight, rest, parked;
    struct client_use *c;
    struct held *h;
    int rc;

    if (__builtin_add_overflow(up->offset, bring, &weight) ||
        __builtin_sub_overflow(up->length, up->offset, &rest))
        return 413;
    pthread_mutex_lock(&reg->lock);
    if ((rc = hold(app, cl, up->id, up->offset, &h, &c)) != 0)
        goto out;
    up->held = true;
    memcpy(up->client, cl->key, cl->len);
    up->client_len = cl->len;
    rc = UPLOAD_TOO_MANY_AT_ONCE;
    if (cfg->max_uploads_per_client > 0 &&
        c->writing >= cfg->max_uploads_per_client)
        goto out;
    rc = UPLOAD_TOO_MANY_BYTES;
    if (__builtin_add_overflow(c->parked - h->weight, weight, &parked) ||
        (parked_max > 0 && parked > parked_max))
        goto out;
    rc = 507;
    if (!upload_room(app, rest))
        goto out;
    c->parked = parked;
    h->weight = weight;
    c->writing++;
    up->slot = true;
    up->reserved = bring;
    atomic_fetch_add(&reg->reserved, bring);
    rc = 0;
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int upload_open(struct app *app, const struct client *cl, const char *id,
                int64_t offset, int64_t length, int64_t body_len, bool tracked,
                struct upload **out)
{
    struct upload *up = NULL;
    char path[PATH_MAX];
    struct stat st;
    int64_t bring;
    int status = 500;

    *out = NULL;
    if (offset < 0 || length < offset)
        return 413;
    up = calloc(1, sizeof(*up));
    if (up == NULL)
        return 500;
    up->app = app;
    up->fd = -1;
    memcpy(up->id, id, UTIL_ID_LEN + 1);
    up->offset = up->synced = offset;
    up->length = length;
    up->tracked = tracked;
    /* A PATCH sent the moment the previous one was answered may find that
     * one still finishing (its checkpoint, its lock let go after the
     * answer): it waits for it a moment rather than hear 423. */
    if (lock_id(app->uploads, id, UPLOAD_LOCK_WAIT_MS) != 0) {
        status = 423;
        goto fail;
    }
    up->locked = true;
    /* The offset the caller read may have moved before the lock was
     * ours (a PATCH that just finished): look again under the lock. */
    if (tracked) {
        struct message_upload u;
        struct db *db = db_pool_get(app->db);
        int rc = db != NULL ? message_upload_get(db, id, &u) : -2;

        db_pool_put(app->db, db);
        if (rc != 1 || u.state != MSG_UPLOADING) {
            status = rc == -2 ? 503 : rc < 0 ? 500 : 410;
            goto fail;
        }
        if (u.offset != offset) {
            status = 409;
            goto fail;
        }
    }
    /* What this request may bring: its body, or all the rest. */
    bring = length - offset;
    if (body_len >= 0 && body_len < bring)
        bring = body_len;
    if ((status = admit_write(up, cl, bring)) != 0) {
        if (status == 507)
            log_warnx("upload %s: not enough free disk space", id);
        goto fail;
    }
    status = 500;
    if (storage_path(app->cfg->data_dir, STORAGE_PART, id, path,
                     sizeof(path)) != 0)
        goto fail;
    up->fd = open(path,
                  O_WRONLY | O_CLOEXEC | O_NOFOLLOW |
                      (tracked ? 0 : O_CREAT | O_EXCL),
                  0600);
    if (up->fd < 0) {
        if (errno == ENOENT)
            status = 410;
        log_warn("upload %s: open", id);
        goto fail;
    }
    if (fstat(up->fd, &st) != 0 || st.st_size < offset) {
        log_warnx("upload %s: the file is shorter than its recorded offset",
                  id);
        goto fail;
    }
    /* Bytes past the recorded offset were never made durable: drop them. */
    if (ftruncate(up->fd, offset) != 0 ||
        lseek(up->fd, offset, SEEK_SET) != offset) {
        log_warn("upload %s: truncate", id);
        goto fail;
    }
    *out = up;
    return 0;
fail:
    upload_close(up);
    return status;
}

int upload_write(struct upload *up, const char *data, size_t size)
{
    int64_t end;

    if (size > (size_t)INT64_MAX ||
        __builtin_add_overflow(up->offset, (int64_t)size, &end) ||
        end > up->length)
        return 413;
    while (size > 0) {
        ssize_t n = write(up->fd, data, size);
        int64_t took;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_warn("upload %s: write", up->id);
            return errno == ENOSPC || errno == EDQUOT ? 507 : 500;
        }
        data += n;
        size -= (size_t)n;
        up->offset += n;
        /* On disk now: no longer merely reserved. */
        took = n < up->reserved ? n : up->reserved;
        up->reserved -= took;
        atomic_fetch_sub(&up->app->uploads->reserved, took);
    }
    if (up->offset - up->synced >= UPLOAD_CHECKPOINT)
        return upload_checkpoint(up);
    return 0;
}

int upload_checkpoint(struct upload *up)
{
    const struct config *cfg = up->app->cfg;
    struct db *db;
    int rc;

    if (fdatasync(up->fd) != 0) {
        log_warn("upload %s: fdatasync", up->id);
        return errno == ENOSPC || errno == EDQUOT ? 507 : 500;
    }
    if (!up->tracked) {
        up->synced = up->offset;
        return 0;
    }
    if ((db = db_pool_get_writer(up->app->db)) == NULL)
        return 503;
    rc = message_upload_progress(db, up->id, up->offset,
                                 util_now() + cfg->upload_expiry);
    db_pool_put(up->app->db, db);
    if (rc < 0)
        return 500;
    if (rc == 0)
        return 410;
    up->synced = up->offset;
    return 0;
}

/*
 * Applies an upload event to message id (its contributor's or the
 * sweep's). Returns 1, 0 if it is not an unfinished upload (any more),
 * or -1.
 */
static int apply_upload(struct db *db, const char *id, enum msg_event ev)
{
    static const struct msg_actor contributor = {WHO_CONTRIBUTOR, "contributor",
                                                 0};
    static const struct msg_actor sweep = {WHO_SWEEP, "sweep", 0};
    int rc = message_apply(db, id, ev,
                           ev == EV_UPLOAD_EXPIRED ? &sweep : &contributor,
                           NULL, NULL);

    if (rc == MSG_OK)
        return 1;
    return rc == MSG_REFUSED || rc == MSG_NOT_FOUND ? 0 : -1;
}

int upload_complete(struct upload *up)
{
    const char *dir = up->app->cfg->data_dir;
    struct db *db;
    int rc;

    if ((rc = upload_checkpoint(up)) != 0)
        return rc;
    if ((db = db_pool_get_writer(up->app->db)) == NULL)
        return 503;
    if (storage_commit_upload(dir, up->id) != 0) {
        db_pool_put(up->app->db, db);
        log_warn("upload %s: cannot move the finished file", up->id);
        return 500;
    }
    rc = apply_upload(db, up->id, EV_UPLOAD_FINISHED);
    db_pool_put(up->app->db, db);
    if (rc < 0)
        return 500;
    up->finished = true;
    if (rc == 0) {
        /* Withdrawn or expired while its last bytes came in. */
        storage_delete_all(dir, up->id);
        return 410;
    }
    log_info("upload %s: complete", up->id);
    return 0;
}

int upload_answer(struct request *req, int status)
{
    switch (status) {
    case 409:
        return http_error(req, MHD_HTTP_CONFLICT, "offset_mismatch",
                          "Upload-Offset is not where the upload stands: "
                          "ask with HEAD");
    case 410:
        return http_error(req, MHD_HTTP_GONE, "gone",
                          "this upload expired or was withdrawn");
    case 413:
        return http_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                          "more bytes than the upload announced or this "
                          "server takes");
    case 423:
        return http_error(req, MHD_HTTP_LOCKED, "busy",
                          "another request is writing this upload");
    case UPLOAD_TOO_MANY_AT_ONCE:
        http_error(req, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_uploads",
                   "too many uploads at once from this client");
        http_header_add(req, "Retry-After", "10");
        return req->status;
    case UPLOAD_TOO_MANY_OPEN:
        http_error(req, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_unfinished",
                   "this client has too many unfinished uploads: finish, "
                   "delete or let one expire first");
        http_header_add(req, "Retry-After", "60");
        return req->status;
    case UPLOAD_TOO_MANY_BYTES:
        http_error(req, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_bytes",
                   "this client's unfinished uploads hold too many bytes: "
                   "finish, delete or let one expire first");
        http_header_add(req, "Retry-After", "60");
        return req->status;
    case 503:
        http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                   "the server is busy; try again shortly");
        http_header_add(req, "Retry-After", "2");
        return req->status;
    case 507:
        return http_error(req, MHD_HTTP_INSUFFICIENT_STORAGE, "disk_full",
                          "the server has no room; try again later");
    default:
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the upload could not be stored");
    }
}

/* Gives back what admit_write() took; the upload, if still unfinished
 * and tracked, stays its client's with its bytes on disk. */
static void release(struct upload *up)
{
    struct upload_registry *reg = up->app->uploads;
    struct client_use *c;
    struct held *h;

    atomic_fetch_sub(&reg->reserved, up->reserved);
    up->reserved = 0;
    if (!up->held)
        return;
    pthread_mutex_lock(&reg->lock);
    c = client_find(reg, up->client, up->client_len, false);
    if (c != NULL && up->slot)
        c->writing--;
    if ((h = held_find(reg, up->id)) != NULL && h->len == up->client_len &&
        memcmp(h->key, up->client, up->client_len) == 0) {
        if (!up->tracked || up->finished) {
            held_remove(reg, h);
            c = NULL; /* held_remove dropped it if idle */
        } else if (c != NULL) {
            c->parked += up->offset - h->weight;
            h->weight = up->offset;
        }
    }
    client_drop_idle(reg, c);
    pthread_mutex_unlock(&reg->lock);
}

void upload_close(struct upload *up)
{
    if (up == NULL)
        return;
    if (up->fd >= 0) {
        if (up->offset > up->synced)
            upload_checkpoint(up);
        close(up->fd);
    }
    release(up);
    if (up->locked)
        unlock_id(up->app->uploads, up->id);
    free(up);
}

int upload_delete_unfinished(struct app *app, struct db *db, const char *id,
                             enum msg_event ev)
{
    int rc;

    /* Holding the lock keeps a late PATCH from racing the delete. */
    if (lock_id(app->uploads, id, 0) != 0)
        return -2;
    rc = apply_upload(db, id, ev);
    if (rc == 1) {
        storage_delete_all(app->cfg->data_dir, id);
        upload_forget(app, id);
        /* The row held a contributor's details: no WAL frame keeps them. */
        atomic_store(&app->checkpoint_due, 1);
    }
    unlock_id(app->uploads, id);
    return rc;
}

/* Expired uploads are read a page at a time, in id order. */
#define SWEEP_PAGE 200

int upload_sweep(struct app *app, struct db *db)
{
    char ids[SWEEP_PAGE][UTIL_ID_LEN + 1], after[UTIL_ID_LEN + 1] = "";
    int64_t now = util_now();
    int n, swept = 0, rc;

    /* However many there are, all go in this run: one page after
     * another, past any that is being written. */
    do {
        struct db_stmt *st = db_stmt(db, STMT_UPLOADS_EXPIRED);

        if (st == NULL)
            return -1;
        db_bind_int(st, 1, now);
        db_bind_text(st, 2, after);
        db_bind_int(st, 3, SWEEP_PAGE);
        n = 0;
        while (n < SWEEP_PAGE && (rc = db_step(st)) == DB_ROW) {
            const char *id = db_col_text(st, 0);
            if (id != NULL && util_is_id(id))
                memcpy(ids[n++], id, UTIL_ID_LEN + 1);
        }
        db_reset(st);
        if (rc < 0)
            return -1;
        for (int i = 0; i < n; i++)
            if (upload_delete_unfinished(app, db, ids[i], EV_UPLOAD_EXPIRED) ==
                1)
                swept++;
        if (n > 0)
            memcpy(after, ids[n - 1], sizeof(after));
    } while (n == SWEEP_PAGE);
    if (swept > 0)
        log_info("deleted %d expired unfinished uploads", swept);
    return swept;
}

struct recovery {
    struct app *app;
    struct db *db;
};

/* At start-up no request is under way: a part file without a row is
 * what a request cut off by a kill left (its row is made only when it
 * is answered). */
static void drop_orphan(const char *id, void *opaque)
{
    struct recovery *r = opaque;
    struct db_stmt *st = db_stmt(r->db, STMT_MSG_STATE);
    int rc;

    if (st == NULL)
        return;
    db_bind_text(st, 1, id);
    rc = db_step(st);
    db_reset(st);
    if (rc == DB_DONE) {
        log_info("upload %s: a part file no answered request made; deleted",
                 id);
        storage_delete_all(r->app->cfg->data_dir, id);
    }
}

void upload_recover(struct app *app, struct db *db)
{
    struct open_upload {
        char id[UTIL_ID_LEN + 1];
        int64_t length;
    } *list = NULL;
    size_t n = 0, cap = 0;
    struct db_stmt *st = db_stmt(db, STMT_UPLOADS_OPEN);
    const char *dir = app->cfg->data_dir;
    struct recovery r = {app, db};
    int rc = DB_DONE;

    while (st != NULL && (rc = db_step(st)) == DB_ROW) {
        const char *id = db_col_text(st, 0);
        if (id == NULL || !util_is_id(id))
            continue;
        if (grow(&list, &cap, n, sizeof(*list)) != 0) {
            db_reset(st);
            break;
        }
        memcpy(list[n].id, id, UTIL_ID_LEN + 1);
        list[n++].length = db_col_int(st, 1);
    }
    if (rc < 0)
        log_warnx("cannot list the unfinished uploads to recover");
    for (size_t i = 0; i < n; i++) {
        const char *id = list[i].id;
        int64_t len = list[i].length;

        /* Whole in incoming/, or whole in uploads/ but not yet moved. */
        if (storage_size(dir, STORAGE_INCOMING, id) != len &&
            !(len > 0 && storage_size(dir, STORAGE_PART, id) == len &&
              storage_commit_upload(dir, id) == 0))
            continue;
        if (apply_upload(db, id, EV_UPLOAD_FINISHED) == 1)
            log_info("upload %s: finished on recovery", id);
    }
    free(list);
    storage_parts(dir, drop_orphan, &r);
}
