#include "chorus/audit.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/util.h"

#define HASH_LEN crypto_hash_sha256_BYTES

/* Feeds a field as presence byte, 8-byte big-endian length, bytes. */
static void hash_field(crypto_hash_sha256_state *h, const char *s)
{
    unsigned char hdr[9] = {0};
    size_t len = s != NULL ? strlen(s) : 0;

    hdr[0] = s != NULL;
    for (int i = 0; i < 8; i++)
        hdr[8 - i] = (unsigned char)((uint64_t)len >> (8 * i));
    crypto_hash_sha256_update(h, hdr, sizeof(hdr));
    if (len > 0)
        crypto_hash_sha256_update(h, (const unsigned char *)s, len);
}

static void row_hash(const unsigned char prev[HASH_LEN], int64_t at,
                     const char *actor, const char *action, const char *target,
                     const char *reason, unsigned char out[HASH_LEN])
{
    crypto_hash_sha256_state h;
    char when[24];

    snprintf(when, sizeof(when), "%lld", (long long)at);
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, prev, HASH_LEN);
    hash_field(&h, when);
    hash_field(&h, actor);
    hash_field(&h, action);
    hash_field(&h, target);
    hash_field(&h, reason);
    crypto_hash_sha256_final(&h, out);
}

int audit_append(struct db *db, const char *actor, const char *action,
                 const char *target, const char *reason)
{
    unsigned char prev[HASH_LEN] = {0}, hash[HASH_LEN];
    struct db_stmt *st;
    int64_t at = util_now();
    int rc;

    if ((st = db_stmt(db, STMT_AUDIT_LAST)) == NULL)
        return DB_ERROR;
    rc = db_step(st);
    if (rc == DB_ROW) {
        size_t len;
        const void *p = db_col_blob(st, 0, &len);
        if (p != NULL && len == HASH_LEN)
            memcpy(prev, p, HASH_LEN);
        db_reset(st);
    } else if (rc < 0) {
        return rc;
    }
    row_hash(prev, at, actor, action, target, reason, hash);
    if ((st = db_stmt(db, STMT_AUDIT_INSERT)) == NULL)
        return DB_ERROR;
    db_bind_int(st, 1, at);
    db_bind_text(st, 2, actor);
    db_bind_text(st, 3, action);
    db_bind_text(st, 4, target);
    db_bind_text(st, 5, reason);
    db_bind_blob(st, 6, prev, HASH_LEN);
    db_bind_blob(st, 7, hash, HASH_LEN);
    rc = db_step(st);
    return rc < 0 ? rc : 0;
}

int64_t audit_verify(struct db *db)
{
    unsigned char prev[HASH_LEN] = {0}, want[HASH_LEN];
    struct db_stmt *st = db_stmt(db, STMT_AUDIT_ALL);
    int rc;

    if (st == NULL)
        return -1;
    while ((rc = db_step(st)) == DB_ROW) {
        int64_t id = db_col_int(st, 0);
        size_t plen, hlen;
        const void *p = db_col_blob(st, 6, &plen);
        const void *h;

        row_hash(prev, db_col_int(st, 1), db_col_text(st, 2),
                 db_col_text(st, 3), db_col_text(st, 4), db_col_text(st, 5),
                 want);
        h = db_col_blob(st, 7, &hlen);
        if (p == NULL || plen != HASH_LEN ||
            util_memcmp_ct(p, prev, HASH_LEN) != 0 || h == NULL ||
            hlen != HASH_LEN || util_memcmp_ct(h, want, HASH_LEN) != 0) {
            db_reset(st);
            log_warnx("audit: the chain breaks at row %lld", (long long)id);
            return id;
        }
        memcpy(prev, want, HASH_LEN);
    }
    return rc < 0 ? -1 : 0;
}
