#include "chorus/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/storage.h"

struct client_count {
    unsigned char addr[16];
    size_t len;
    int count;
};

struct upload_registry {
    pthread_mutex_t lock;
    int per_client_max; /* 0: no limit */
    char (*busy)[UTIL_ID_LEN + 1];
    size_t nbusy, capbusy;
    struct client_count *clients;
    size_t nclients, capclients;
};

struct upload_registry *upload_registry_new(int per_client_max)
{
    struct upload_registry *reg = calloc(1, sizeof(*reg));

    if (reg == NULL)
        return NULL;
    pthread_mutex_init(&reg->lock, NULL);
    reg->per_client_max = per_client_max;
    return reg;
}

void upload_registry_free(struct upload_registry *reg)
{
    if (reg == NULL)
        return;
    pthread_mutex_destroy(&reg->lock);
    free(reg->busy);
    free(reg->clients);
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
    ncap = *cap == 0 ? 16 : *cap * 2;
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

/* Takes id's lock; 0, or -1 if it is taken (or no memory). */
static int lock_id(struct upload_registry *reg, const char *id)
{
    int rc = -1;

    pthread_mutex_lock(&reg->lock);
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
    pthread_mutex_unlock(&reg->lock);
}

bool upload_busy(struct app *app, const char *id)
{
    struct upload_registry *reg = app->uploads;
    bool busy;

    pthread_mutex_lock(&reg->lock);
    busy = busy_find(reg, id) >= 0;
    pthread_mutex_unlock(&reg->lock);
    return busy;
}

/* Adds delta to the client's count; with delta 1, fails (-1) at the
 * limit. Addresses live only here, in memory, while they upload. */
static int client_add(struct upload_registry *reg, const unsigned char *addr,
                      size_t len, int delta)
{
    struct client_count *c = NULL;
    int rc = 0;

    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->nclients; i++)
        if (reg->clients[i].len == len &&
            memcmp(reg->clients[i].addr, addr, len) == 0)
            c = &reg->clients[i];
    if (delta > 0) {
        if (c == NULL) {
            if (grow(&reg->clients, &reg->capclients, reg->nclients,
                     sizeof(*reg->clients)) != 0) {
                rc = -1;
                goto out;
            }
            c = &reg->clients[reg->nclients++];
            memcpy(c->addr, addr, len);
            c->len = len;
            c->count = 0;
        }
        if (reg->per_client_max > 0 && c->count >= reg->per_client_max) {
            rc = -1;
            goto out;
        }
        c->count++;
    } else if (c != NULL && --c->count <= 0) {
        *c = reg->clients[--reg->nclients];
    }
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int upload_open(struct app *app, const struct sockaddr *addr, const char *id,
                int64_t offset, int64_t length, bool tracked,
                struct upload **out)
{
    struct upload *up = NULL;
    char path[PATH_MAX];
    struct stat st;
    int status = 500;

    *out = NULL;
    up = calloc(1, sizeof(*up));
    if (up == NULL)
        return 500;
    up->app = app;
    up->fd = -1;
    memcpy(up->id, id, UTIL_ID_LEN + 1);
    up->offset = up->synced = offset;
    up->length = length;
    up->tracked = tracked;
    up->window_start_ms = util_mono_ms();
    if (addr != NULL && addr->sa_family == AF_INET) {
        memcpy(up->client,
               &((const struct sockaddr_in *)(const void *)addr)->sin_addr, 4);
        up->client_len = 4;
    } else if (addr != NULL && addr->sa_family == AF_INET6) {
        memcpy(up->client,
               &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr,
               16);
        up->client_len = 16;
    }
    if (lock_id(app->uploads, id) != 0) {
        status = 423;
        goto fail;
    }
    up->locked = true;
    /* The offset the caller read may have moved before the lock was
     * ours (a PATCH that just finished): look again under the lock. */
    if (tracked) {
        struct message_upload u;
        struct db *db = db_pool_get(app->db);
        int rc = message_upload_get(db, id, &u);

        db_pool_put(app->db, db);
        if (rc != 1 || u.state != MSG_UPLOADING) {
            status = rc < 0 ? 500 : 410;
            goto fail;
        }
        if (u.offset != offset) {
            status = 409;
            goto fail;
        }
    }
    if (client_add(app->uploads, up->client, up->client_len, 1) != 0) {
        status = 429;
        goto fail;
    }
    up->slot = true;
    if (!storage_has_room(app->cfg->data_dir, length - offset,
                          (int64_t)app->cfg->min_free_mb * 1024 * 1024)) {
        log_warnx("upload %s: not enough free disk space", id);
        status = 507;
        goto fail;
    }
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
    const struct config *cfg = up->app->cfg;
    int64_t now = util_mono_ms();

    if ((uint64_t)up->offset + size > (uint64_t)up->length)
        return 413;
    /* Over each window, the client must have sent a minimum. */
    up->window_bytes += (int64_t)size;
    if (cfg->min_upload_rate > 0 &&
        now - up->window_start_ms >= (int64_t)cfg->upload_rate_window * 1000) {
        int64_t need =
            (int64_t)cfg->min_upload_rate * (now - up->window_start_ms) / 1000;
        if (up->window_bytes < need) {
            log_info("upload %s: slower than the minimum rate; cut off",
                     up->id);
            return 408;
        }
        up->window_start_ms = now;
        up->window_bytes = 0;
    }
    while (size > 0) {
        ssize_t n = write(up->fd, data, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_warn("upload %s: write", up->id);
            return errno == ENOSPC || errno == EDQUOT ? 507 : 500;
        }
        data += n;
        size -= (size_t)n;
        up->offset += n;
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
    db = db_pool_get(up->app->db);
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
    if (storage_commit_upload(dir, up->id) != 0) {
        log_warn("upload %s: cannot move the finished file", up->id);
        return 500;
    }
    db = db_pool_get(up->app->db);
    rc = apply_upload(db, up->id, EV_UPLOAD_FINISHED);
    db_pool_put(up->app->db, db);
    if (rc < 0)
        return 500;
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
    case 408:
        return http_error(req, MHD_HTTP_REQUEST_TIMEOUT, "too_slow",
                          "the upload is slower than the minimum rate");
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
    case 429:
        http_error(req, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_uploads",
                   "too many uploads at once from this address");
        http_header_add(req, "Retry-After", "10");
        return req->status;
    case 507:
        return http_error(req, MHD_HTTP_INSUFFICIENT_STORAGE, "disk_full",
                          "the server has no room; try again later");
    default:
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the upload could not be stored");
    }
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
    if (up->slot)
        client_add(up->app->uploads, up->client, up->client_len, -1);
    if (up->locked)
        unlock_id(up->app->uploads, up->id);
    free(up);
}

int upload_delete_unfinished(struct app *app, struct db *db, const char *id,
                             enum msg_event ev)
{
    int rc;

    /* Holding the lock keeps a late PATCH from racing the delete. */
    if (lock_id(app->uploads, id) != 0)
        return -2;
    rc = apply_upload(db, id, ev);
    if (rc == 1)
        storage_delete_all(app->cfg->data_dir, id);
    unlock_id(app->uploads, id);
    return rc;
}

int upload_sweep(struct app *app, struct db *db)
{
    char ids[200][UTIL_ID_LEN + 1];
    struct db_stmt *st = db_stmt(db, STMT_UPLOADS_EXPIRED);
    int n = 0, swept = 0, rc;

    if (st == NULL)
        return -1;
    db_bind_int(st, 1, util_now());
    while (n < 200 && (rc = db_step(st)) == DB_ROW) {
        const char *id = db_col_text(st, 0);
        if (id != NULL && util_is_id(id))
            memcpy(ids[n++], id, UTIL_ID_LEN + 1);
    }
    db_reset(st);
    for (int i = 0; i < n; i++)
        if (upload_delete_unfinished(app, db, ids[i], EV_UPLOAD_EXPIRED) == 1)
            swept++;
    if (swept > 0)
        log_info("deleted %d expired unfinished uploads", swept);
    return swept;
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

    while (st != NULL && db_step(st) == DB_ROW) {
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
}
