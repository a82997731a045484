#include "chorus/auth.h"

#include <string.h>

#include <sodium.h>

#include "chorus/audit.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/util.h"

/* OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1. */
#define PW_OPSLIMIT 2
#define PW_MEMLIMIT (19u * 1024 * 1024)

static const char *const role_names[] = {
    [ROLE_NONE] = NULL,
    [ROLE_ADMIN] = "admin",
    [ROLE_MODERATOR] = "moderator",
    [ROLE_COMMS] = "comms",
};

enum role auth_role_parse(const char *s)
{
    for (size_t i = 1; i < ARRAY_LEN(role_names); i++)
        if (s != NULL && strcmp(s, role_names[i]) == 0)
            return (enum role)i;
    return ROLE_NONE;
}

const char *auth_role_name(enum role r)
{
    return (size_t)r < ARRAY_LEN(role_names) ? role_names[r] : NULL;
}

int auth_password_hash(const char *password, char out[AUTH_HASH_MAX])
{
    return crypto_pwhash_str_alg(out, password, strlen(password), PW_OPSLIMIT,
                                 PW_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) == 0
               ? 0
               : -1;
}

int auth_password_verify(const char *hash, const char *password)
{
    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
        return 0;
    return crypto_pwhash_str_needs_rehash(hash, PW_OPSLIMIT, PW_MEMLIMIT) == 0
               ? 1
               : 2;
}

const char *auth_password_weak(const char *password)
{
    size_t len = strlen(password);

    if (len < AUTH_PASSWORD_MIN)
        return "a password needs at least 10 characters";
    if (len > AUTH_PASSWORD_MAX)
        return "a password may have at most 1024 characters";
    return NULL;
}

const char *auth_username_invalid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > AUTH_USERNAME_MAX)
        return "a username has 1 to 64 characters";
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return "a username may use only letters, digits, '.', '_' "
                   "and '-'";
    }
    return NULL;
}

int64_t auth_user_add(struct db *db, const char *actor, const char *name,
                      const char *password, enum role role)
{
    char hash[AUTH_HASH_MAX];
    struct db_stmt *st;
    int64_t id = -1;
    int rc;

    if (auth_password_hash(password, hash) != 0) {
        log_warnx("auth: cannot hash a password (out of memory?)");
        return -1;
    }
    if (db_begin(db) < 0)
        goto out;
    if ((st = db_stmt(db, STMT_USER_INSERT)) == NULL)
        goto out;
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, hash);
    db_bind_text(st, 3, auth_role_name(role));
    db_bind_int(st, 4, util_now());
    rc = db_step(st);
    if (rc == DB_CONSTRAINT) {
        id = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    id = db_last_rowid(db);
    if (audit_append(db, actor, "user.create", name, auth_role_name(role)) <
            0 ||
        db_commit(db) < 0)
        id = -1;
out:
    db_rollback(db);
    sodium_memzero(hash, sizeof(hash));
    return id;
}

int auth_user_passwd(struct db *db, const char *actor, const char *name,
                     const char *password)
{
    char hash[AUTH_HASH_MAX];
    struct db_stmt *st;
    int64_t uid;
    int rc, result = -1;

    if (auth_password_hash(password, hash) != 0)
        return -1;
    if (db_begin(db) < 0)
        goto out;
    if ((st = db_stmt(db, STMT_USER_BY_NAME)) == NULL)
        goto out;
    db_bind_text(st, 1, name);
    rc = db_step(st);
    if (rc != DB_ROW) {
        result = rc == DB_DONE ? 0 : -1;
        goto out;
    }
    uid = db_col_int(st, 0);
    db_reset(st);
    if ((st = db_stmt(db, STMT_USER_SET_PASSWORD)) == NULL)
        goto out;
    db_bind_int(st, 1, uid);
    db_bind_text(st, 2, hash);
    db_bind_int(st, 3, util_now());
    if (db_step(st) < 0 ||
        audit_append(db, actor, "user.password", name, NULL) < 0 ||
        db_commit(db) < 0)
        goto out;
    result = 1;
out:
    db_rollback(db);
    sodium_memzero(hash, sizeof(hash));
    return result;
}

int64_t auth_user_count(struct db *db)
{
    struct db_stmt *st = db_stmt(db, STMT_USER_COUNT);
    int64_t n = -1;

    if (st != NULL && db_step(st) == DB_ROW) {
        n = db_col_int(st, 0);
        db_reset(st);
    }
    return n;
}
