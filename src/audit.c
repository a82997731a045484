#include "chorus/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/util.h"

#define HASH_LEN AUDIT_HASH_LEN
#define KEY_LEN crypto_auth_hmacsha256_KEYBYTES
#define PAGE 500
#define SCHEME_KEYED "hmac-sha256"

/* ---- the row's hash: fields ------------------------------------------- */

/* Feeds a field as presence byte, 8-byte big-endian length, bytes. */
static void field_header(const char *s, unsigned char hdr[9], size_t *len)
{
    *len = s != NULL ? strlen(s) : 0;
    memset(hdr, 0, 9);
    hdr[0] = s != NULL;
    for (int i = 0; i < 8; i++)
        hdr[8 - i] = (unsigned char)((uint64_t)*len >> (8 * i));
}

struct fields {
    int64_t id, at;
    const char *actor, *action, *target, *reason;
};

/* 0001's scheme: SHA-256 over prev and the fields (no id, no key). Only
 * ever used to verify a log before it is re-chained. */
static void old_hash(const unsigned char prev[HASH_LEN], const struct fields *f,
                     unsigned char out[HASH_LEN])
{
    const char *parts[5];
    crypto_hash_sha256_state h;
    char when[24];

    snprintf(when, sizeof(when), "%lld", (long long)f->at);
    parts[0] = when;
    parts[1] = f->actor;
    parts[2] = f->action;
    parts[3] = f->target;
    parts[4] = f->reason;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, prev, HASH_LEN);
    for (int i = 0; i < 5; i++) {
        unsigned char hdr[9];
        size_t len;
        field_header(parts[i], hdr, &len);
        crypto_hash_sha256_update(&h, hdr, sizeof(hdr));
        if (len > 0)
            crypto_hash_sha256_update(&h, (const unsigned char *)parts[i], len);
    }
    crypto_hash_sha256_final(&h, out);
}

/* The keyed scheme: HMAC-SHA-256 over a label, the id, prev and the
 * fields. */
static void mac(const unsigned char key[KEY_LEN],
                const unsigned char prev[HASH_LEN], const struct fields *f,
                unsigned char out[HASH_LEN])
{
    static const char label[] = "chorus audit row v2";
    const char *parts[5];
    crypto_auth_hmacsha256_state h;
    unsigned char idb[8];
    char when[24];

    snprintf(when, sizeof(when), "%lld", (long long)f->at);
    parts[0] = when;
    parts[1] = f->actor;
    parts[2] = f->action;
    parts[3] = f->target;
    parts[4] = f->reason;
    for (int i = 0; i < 8; i++)
        idb[7 - i] = (unsigned char)((uint64_t)f->id >> (8 * i));
    crypto_auth_hmacsha256_init(&h, key, KEY_LEN);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)label,
                                  sizeof(label));
    crypto_auth_hmacsha256_update(&h, idb, sizeof(idb));
    crypto_auth_hmacsha256_update(&h, prev, HASH_LEN);
    for (int i = 0; i < 5; i++) {
        unsigned char hdr[9];
        size_t len;
        field_header(parts[i], hdr, &len);
        crypto_auth_hmacsha256_update(&h, hdr, sizeof(hdr));
        if (len > 0)
            crypto_auth_hmacsha256_update(&h, (const unsigned char *)parts[i],
                                          len);
    }
    crypto_auth_hmacsha256_final(&h, out);
    sodium_memzero(&h, sizeof(h));
}

/* ---- files beside the database: the key and the head ------------------ */

/* The data directory: the database file's directory. 0, or -1. */
static int data_dir(struct db *db, char *out, size_t len)
{
    const char *path = db_filename(db);
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;

    if (slash == NULL || (size_t)(slash - path) >= len)
        return -1;
    memcpy(out, path, (size_t)(slash - path));
    out[slash - path] = '\0';
    return 0;
}

static int dir_file(struct db *db, const char *name, char *out, size_t len)
{
    char dir[PATH_MAX];

    if (data_dir(db, dir, sizeof(dir)) != 0)
        return -1;
    return util_fmt(out, len, "%s/%s", dir, name);
}

/* The key of one data directory, read once per process. */
static struct {
    pthread_mutex_t lock;
    char dir[PATH_MAX];
    unsigned char key[KEY_LEN];
    bool have;
} keys = {PTHREAD_MUTEX_INITIALIZER, "", {0}, false};

/* Reads path's KEY_LEN bytes: 1, 0 if there is no such file, -1. */
static int read_key(const char *path, unsigned char key[KEY_LEN])
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    n = fstat(fd, &st) == 0 && st.st_size == KEY_LEN ? read(fd, key, KEY_LEN)
                                                     : -1;
    if (n == KEY_LEN && (st.st_mode & 077) != 0)
        log_warnx("audit: %s can be read by others than its owner", path);
    close(fd);
    return n == KEY_LEN ? 1 : -1;
}

/*
 * Creates path with a new random key, atomically: a temporary file is
 * written and synced, then linked to path, which fails if another
 * process got there first (its key is then the one). 0, or -1.
 */
static int create_key(const char *dir, const char *path)
{
    unsigned char key[KEY_LEN];
    char tmp[PATH_MAX], id[UTIL_ID_LEN + 1];
    int fd, rc = -1;

    util_random_id(id);
    if (util_fmt(tmp, sizeof(tmp), "%s/audit.key.%s.tmp", dir, id) != 0)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    randombytes_buf(key, sizeof(key));
    if (write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) && fsync(fd) == 0 &&
        (link(tmp, path) == 0 || errno == EEXIST) && util_fsync_dir(dir) == 0)
        rc = 0;
    close(fd);
    unlink(tmp);
    sodium_memzero(key, sizeof(key));
    if (rc == 0)
        log_info("audit: created the audit log's key %s (keep a copy with "
                 "your backups: without it the log cannot be verified)",
                 path);
    return rc;
}

/*
 * The key of db's data directory into key; with create, a missing one
 * is made. 1, 0 if there is none (and create is false), -1.
 */
static int key_get(struct db *db, bool create, unsigned char key[KEY_LEN])
{
    char dir[PATH_MAX], path[PATH_MAX];
    int rc;

    if (data_dir(db, dir, sizeof(dir)) != 0 ||
        util_fmt(path, sizeof(path), "%s/audit.key", dir) != 0)
        return -1;
    pthread_mutex_lock(&keys.lock);
    if (keys.have && strcmp(keys.dir, dir) == 0) {
        memcpy(key, keys.key, KEY_LEN);
        rc = 1;
        goto out;
    }
    rc = read_key(path, key);
    if (rc == 0 && create && create_key(dir, path) == 0)
        rc = read_key(path, key);
    if (rc == 1) {
        snprintf(keys.dir, sizeof(keys.dir), "%s", dir);
        memcpy(keys.key, key, KEY_LEN);
        keys.have = true;
    } else if (rc < 0) {
        log_warn("audit: cannot read %s", path);
    }
out:
    pthread_mutex_unlock(&keys.lock);
    return rc;
}

void audit_head_format(const struct audit_head *h, char out[AUDIT_HEAD_TEXT])
{
    char hex[HASH_LEN * 2 + 1];

    sodium_bin2hex(hex, sizeof(hex), h->hash, HASH_LEN);
    snprintf(out, AUDIT_HEAD_TEXT, "%lld:%s", (long long)h->id, hex);
}

int audit_head_parse(const char *s, struct audit_head *out)
{
    char *end;
    long long id;
    size_t n;

    errno = 0;
    id = strtoll(s, &end, 10);
    if (errno != 0 || end == s || id < 0 || *end != ':')
        return -1;
    end++;
    n = strcspn(end, "\r\n");
    if (n != HASH_LEN * 2 || end[n + strspn(end + n, "\r\n")] != '\0' ||
        sodium_hex2bin(out->hash, HASH_LEN, end, n, NULL, NULL, NULL) != 0)
        return -1;
    out->id = id;
    return 0;
}

int audit_head_file(struct db *db, struct audit_head *out)
{
    char path[PATH_MAX], buf[AUDIT_HEAD_TEXT + 8];
    ssize_t n;
    int fd;

    if (dir_file(db, "audit.head", path, sizeof(path)) != 0)
        return -1;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return audit_head_parse(buf, out) == 0 ? 1 : -1;
}

/*
 * After the commit of an append: writes the head to audit.head unless
 * the file already holds a later one (another process committed after
 * us and wrote first), under an flock so that two writers never
 * interleave, through a temporary file renamed over it; then logs it.
 */
static void head_write(struct db *db, const void *data)
{
    const struct audit_head *h = data;
    struct audit_head cur;
    char dir[PATH_MAX], lock[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX];
    char text[AUDIT_HEAD_TEXT + 1];
    int lfd = -1, fd = -1, have;
    size_t len;

    if (data_dir(db, dir, sizeof(dir)) != 0 ||
        util_fmt(lock, sizeof(lock), "%s/audit.head.lock", dir) != 0 ||
        util_fmt(path, sizeof(path), "%s/audit.head", dir) != 0 ||
        util_fmt(tmp, sizeof(tmp), "%s/audit.head.%ld.tmp", dir,
                 (long)getpid()) != 0)
        goto fail;
    lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0)
        goto fail;
    have = audit_head_file(db, &cur);
    if (have == 1 && cur.id >= h->id)
        goto out; /* a later head is there already */
    audit_head_format(h, text);
    len = strlen(text);
    text[len++] = '\n';
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 ||
        close(fd) != 0) {
        fd = -1;
        unlink(tmp);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        goto fail;
    }
    util_fsync_dir(dir);
    text[len - 1] = '\0';
    log_info("audit: head %s", text);
    goto out;
fail:
    log_warn("audit: cannot write the head of the audit log (row %lld)",
             (long long)h->id);
out:
    if (fd >= 0)
        close(fd);
    if (lfd >= 0)
        close(lfd); /* releases the lock */
}

/* ---- appending -------------------------------------------------------- */

/* The scheme the log is in: 1 keyed, 0 the old one, -1. */
static int scheme_keyed(struct db *db)
{
    struct db_stmt *st = db_stmt(db, STMT_AUDIT_SCHEME_GET);
    int rc;

    if (st == NULL || db_step(st) != DB_ROW)
        return -1;
    rc = strcmp(db_col_text(st, 0), SCHEME_KEYED) == 0;
    db_reset(st);
    return rc;
}

int audit_head_db(struct db *db, struct audit_head *out)
{
    struct db_stmt *st = db_stmt(db, STMT_AUDIT_LAST);
    const void *p;
    size_t len;
    int rc;

    memset(out, 0, sizeof(*out));
    if (st == NULL)
        return -1;
    rc = db_step(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : -1;
    out->id = db_col_int(st, 0);
    p = db_col_blob(st, 1, &len);
    if (p != NULL && len == HASH_LEN)
        memcpy(out->hash, p, HASH_LEN);
    db_reset(st);
    return 1;
}

int audit_append(struct db *db, const char *actor, const char *action,
                 const char *target, const char *reason)
{
    unsigned char key[KEY_LEN];
    struct audit_head last, next;
    struct fields f = {0, util_now(), actor, action, target, reason};
    struct db_stmt *st;
    int rc, have;

    if ((have = audit_head_db(db, &last)) < 0)
        return DB_ERROR;
    if ((rc = scheme_keyed(db)) != 1) {
        log_error("audit: the log is not keyed yet (run any chorus command "
                  "on the data directory to migrate it)");
        return DB_ERROR;
    }
    /* A new log gets its key; one with rows must have it already. */
    if ((rc = key_get(db, have == 0, key)) != 1) {
        if (rc == 0)
            log_error("audit: the audit log's key (audit.key beside the "
                      "database) is missing: restore it from a backup");
        return DB_ERROR;
    }
    f.id = last.id + 1;
    mac(key, last.hash, &f, next.hash);
    sodium_memzero(key, sizeof(key));
    next.id = f.id;
    if ((st = db_stmt(db, STMT_AUDIT_INSERT)) == NULL)
        return DB_ERROR;
    db_bind_int(st, 1, f.at);
    db_bind_text(st, 2, actor);
    db_bind_text(st, 3, action);
    db_bind_text(st, 4, target);
    db_bind_text(st, 5, reason);
    db_bind_blob(st, 6, last.hash, HASH_LEN);
    db_bind_blob(st, 7, next.hash, HASH_LEN);
    db_bind_int(st, 8, next.id);
    if ((rc = db_step(st)) < 0)
        return rc;
    /* Outside a transaction the row is committed already. */
    if (db_after_commit(db, head_write, &next, sizeof(next)) != 0)
        head_write(db, &next);
    return 0;
}

/* ---- reading the log in pages ----------------------------------------- */

struct row {
    struct fields f;
    unsigned char prev[HASH_LEN], hash[HASH_LEN];
    bool blobs_ok;
    char *texts[4]; /* copies of actor, action, target, reason */
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void rows_free(struct row *rows, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            free(rows[i].texts[k]);
}

/* Reads up to PAGE rows after id `after`; returns how many, or -1. */
static int read_page(struct db *db, int64_t after, struct row *rows)
{
    struct db_stmt *st = db_stmt(db, STMT_AUDIT_ALL);
    int n = 0, rc;

    if (st == NULL)
        return -1;
    db_bind_int(st, 1, after);
    db_bind_int(st, 2, PAGE);
    while ((rc = db_step(st)) == DB_ROW) {
        struct row *r = &rows[n];
        const void *p, *h;
        size_t plen, hlen;

        memset(r, 0, sizeof(*r));
        r->f.id = db_col_int(st, 0);
        r->f.at = db_col_int(st, 1);
        for (int k = 0; k < 4; k++)
            r->texts[k] = dup_or_null(db_col_text(st, 2 + k));
        r->f.actor = r->texts[0];
        r->f.action = r->texts[1];
        r->f.target = r->texts[2];
        r->f.reason = r->texts[3];
        p = db_col_blob(st, 6, &plen);
        h = db_col_blob(st, 7, &hlen);
        r->blobs_ok =
            p != NULL && plen == HASH_LEN && h != NULL && hlen == HASH_LEN;
        if (r->blobs_ok) {
            memcpy(r->prev, p, HASH_LEN);
            memcpy(r->hash, h, HASH_LEN);
        }
        n++;
    }
    if (rc < 0) {
        rows_free(rows, n);
        return -1;
    }
    return n;
}

/* ---- migrating the old scheme ------------------------------------------ */

/* Re-chains every row under key (inside the caller's transaction, the
 * update trigger lifted); *broken receives the first row whose old link
 * did not hold (0 if none), *count the rows. 0, or -1. */
static int rechain(struct db *db, const unsigned char key[KEY_LEN],
                   int64_t *broken, int64_t *count)
{
    unsigned char old_prev[HASH_LEN] = {0}, new_prev[HASH_LEN] = {0};
    unsigned char want[HASH_LEN];
    struct row *rows = calloc(PAGE, sizeof(*rows));
    int64_t after = 0;
    int n = 0, rc = -1;

    *broken = *count = 0;
    if (rows == NULL)
        return -1;
    while ((n = read_page(db, after, rows)) > 0) {
        for (int i = 0; i < n; i++) {
            struct row *r = &rows[i];
            struct db_stmt *st;

            old_hash(old_prev, &r->f, want);
            if (*broken == 0 &&
                (!r->blobs_ok || r->f.id != *count + 1 ||
                 util_memcmp_ct(r->prev, old_prev, HASH_LEN) != 0 ||
                 util_memcmp_ct(r->hash, want, HASH_LEN) != 0))
                *broken = r->f.id != *count + 1 ? *count + 1 : r->f.id;
            memcpy(old_prev, r->blobs_ok ? r->hash : want, HASH_LEN);
            mac(key, new_prev, &r->f, want);
            if ((st = db_stmt(db, STMT_AUDIT_REHASH)) == NULL)
                goto out;
            db_bind_int(st, 1, r->f.id);
            db_bind_blob(st, 2, new_prev, HASH_LEN);
            db_bind_blob(st, 3, want, HASH_LEN);
            if (db_step(st) < 0)
                goto out;
            memcpy(new_prev, want, HASH_LEN);
            after = r->f.id;
            (*count)++;
        }
        rows_free(rows, n);
        n = 0;
    }
    rc = n < 0 ? -1 : 0;
out:
    rows_free(rows, n > 0 ? n : 0);
    free(rows);
    return rc;
}

static int step_ddl(struct db *db, enum stmt which)
{
    struct db_stmt *st = db_stmt(db, which);

    return st != NULL && db_step(st) >= 0 ? 0 : -1;
}

int audit_open(struct db *db)
{
    unsigned char key[KEY_LEN];
    struct audit_head last;
    char why[160];
    int64_t broken = 0, count = 0;
    int rc = -1, keyed;

    if (db_begin(db) < 0)
        return -1;
    if ((keyed = scheme_keyed(db)) < 0 || audit_head_db(db, &last) < 0)
        goto out;
    /* A keyed log needs nothing; an empty one gets its key now, so that
     * the first append (maybe from a worker) finds it. */
    if (keyed) {
        db_rollback(db);
        if (last.id == 0 && key_get(db, true, key) != 1)
            return -1;
        sodium_memzero(key, sizeof(key));
        return 0;
    }
    if (key_get(db, true, key) != 1)
        goto out;
    if (step_ddl(db, STMT_AUDIT_UNGUARD) != 0 ||
        rechain(db, key, &broken, &count) != 0 ||
        step_ddl(db, STMT_AUDIT_GUARD) != 0)
        goto out;
    {
        struct db_stmt *st = db_stmt(db, STMT_AUDIT_SCHEME_SET);
        if (st == NULL)
            goto out;
        db_bind_text(st, 1, SCHEME_KEYED);
        if (db_step(st) < 0)
            goto out;
    }
    if (broken > 0)
        snprintf(why, sizeof(why),
                 "sha256 chain of %lld rows: broken at row %lld; re-chained "
                 "as found",
                 (long long)count, (long long)broken);
    else
        snprintf(why, sizeof(why), "sha256 chain of %lld rows: intact",
                 (long long)count);
    if (audit_append(db, "system", "audit.rechain", NULL, why) < 0 ||
        db_commit(db) < 0)
        goto out;
    if (broken > 0)
        log_error("audit: the old audit log was already broken at row %lld "
                  "when it was re-chained with a key; `chorus audit verify` "
                  "will keep saying so",
                  (long long)broken);
    log_info("audit: re-chained %lld rows with HMAC-SHA-256", (long long)count);
    rc = 0;
out:
    sodium_memzero(key, sizeof(key));
    db_rollback(db);
    if (rc != 0)
        log_error("audit: cannot prepare the audit log");
    return rc;
}

/* ---- verifying --------------------------------------------------------- */

static int broken(struct audit_report *out, int64_t row, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int broken(struct audit_report *out, int64_t row, const char *fmt, ...)
{
    va_list ap;

    out->bad = row;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof(out->why), fmt, ap);
    va_end(ap);
    return 1;
}

int audit_verify(struct db *db, const struct audit_head *head,
                 struct audit_report *out)
{
    unsigned char key[KEY_LEN], prev[HASH_LEN] = {0}, want[HASH_LEN];
    unsigned char head_seen[HASH_LEN];
    struct audit_head file;
    struct row *rows = NULL;
    int64_t after = 0, rechain_broken = 0, rechain_row = 0;
    bool saw_head = false;
    int n = 0, rc = -1, have;

    memset(out, 0, sizeof(*out));
    if (head == NULL) {
        if ((have = audit_head_file(db, &file)) < 0) {
            rc = broken(out, 0, "audit.head cannot be read or parsed");
            goto out;
        }
        head = have == 1 ? &file : NULL;
    }
    if ((have = scheme_keyed(db)) != 1) {
        if (have == 0)
            rc = broken(out, 0, "the log is not keyed yet");
        goto out;
    }
    if ((have = key_get(db, false, key)) != 1) {
        if (have == 0)
            rc = broken(out, 0,
                        "the key (audit.key) is missing: nothing can be "
                        "verified without it");
        goto out;
    }
    if ((rows = calloc(PAGE, sizeof(*rows))) == NULL)
        goto out;
    while ((n = read_page(db, after, rows)) > 0) {
        for (int i = 0; i < n; i++) {
            struct row *r = &rows[i];
            int64_t expect = out->rows + 1;
            long long b;

            if (r->f.id != expect) {
                rc = broken(out, expect,
                            "row %lld is missing: deleted (the next row is "
                            "%lld)",
                            (long long)expect, (long long)r->f.id);
                goto out;
            }
            mac(key, prev, &r->f, want);
            if (!r->blobs_ok || util_memcmp_ct(r->prev, prev, HASH_LEN) != 0) {
                rc = broken(out, r->f.id,
                            "row %lld does not link to the row before it "
                            "(rows moved, or its chain recomputed)",
                            (long long)r->f.id);
                goto out;
            }
            if (util_memcmp_ct(r->hash, want, HASH_LEN) != 0) {
                rc = broken(out, r->f.id,
                            "row %lld does not match its MAC: it was "
                            "edited, or written without the key",
                            (long long)r->f.id);
                goto out;
            }
            if (r->f.action != NULL &&
                strcmp(r->f.action, "audit.rechain") == 0 &&
                r->f.reason != NULL && rechain_broken == 0 &&
                sscanf(r->f.reason,
                       "sha256 chain of %*d rows: broken at row "
                       "%lld",
                       &b) == 1) {
                rechain_broken = b;
                rechain_row = r->f.id;
            }
            if (head != NULL && r->f.id == head->id) {
                memcpy(head_seen, want, HASH_LEN);
                saw_head = true;
            }
            memcpy(prev, want, HASH_LEN);
            after = r->f.id;
            out->rows++;
        }
        rows_free(rows, n);
        n = 0;
    }
    if (n < 0) {
        n = 0;
        goto out;
    }
    if (head == NULL && out->rows > 0) {
        rc = broken(out, 0,
                    "no head is recorded (audit.head is missing): deleted "
                    "last rows cannot be ruled out; pass --head ID:HASH");
        goto out;
    }
    if (head != NULL && out->rows < head->id) {
        rc = broken(out, out->rows + 1,
                    "rows %lld to %lld are missing: the log ends at row %lld "
                    "but its head is row %lld (the last rows were deleted)",
                    (long long)out->rows + 1, (long long)head->id,
                    (long long)out->rows, (long long)head->id);
        goto out;
    }
    if (head != NULL && head->id > 0 &&
        (!saw_head || util_memcmp_ct(head_seen, head->hash, HASH_LEN) != 0)) {
        rc = broken(out, head->id,
                    "row %lld is not the row its head records: it was "
                    "rewritten",
                    (long long)head->id);
        goto out;
    }
    if (rechain_broken > 0) {
        rc = broken(out, rechain_broken,
                    "row %lld records that the old, keyless log was already "
                    "broken at row %lld when it was re-chained",
                    (long long)rechain_row, (long long)rechain_broken);
        goto out;
    }
    out->past = head != NULL ? out->rows - head->id : 0;
    rc = 0;
out:
    if (rows != NULL)
        rows_free(rows, n);
    free(rows);
    sodium_memzero(key, sizeof(key));
    return rc;
}
