#include "chorus/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chorus/audit.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/router.h"
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

int auth_user_update(struct db *db, const char *actor, const char *name,
                     const struct user_change *change)
{
    char hash[AUTH_HASH_MAX] = "";
    struct db_stmt *st;
    int64_t uid, now = util_now();
    enum role old_role;
    int old_disabled, rc, result = -1;

    if (change->password != NULL &&
        auth_password_hash(change->password, hash) != 0)
        return -1;
    if (db_begin(db) < 0)
        return -1;
    if ((st = db_stmt(db, STMT_USER_BY_NAME)) == NULL)
        goto out;
    db_bind_text(st, 1, name);
    rc = db_step(st);
    if (rc != DB_ROW) {
        result = rc == DB_DONE ? 0 : -1;
        goto out;
    }
    uid = db_col_int(st, 0);
    old_role = auth_role_parse(db_col_text(st, 3));
    old_disabled = (int)db_col_int(st, 4);
    db_reset(st);

    /* The last active admin stays an active admin. */
    if (old_role == ROLE_ADMIN && !old_disabled &&
        ((change->role != ROLE_NONE && change->role != ROLE_ADMIN) ||
         change->disabled == 1)) {
        if ((st = db_stmt(db, STMT_ADMINS_OTHER)) == NULL)
            goto out;
        db_bind_int(st, 1, uid);
        if (db_step(st) != DB_ROW)
            goto out;
        rc = (int)db_col_int(st, 0);
        db_reset(st);
        if (rc == 0) {
            result = -2;
            goto out;
        }
    }
    if (change->role != ROLE_NONE && change->role != old_role) {
        if ((st = db_stmt(db, STMT_USER_SET_ROLE)) == NULL)
            goto out;
        db_bind_int(st, 1, uid);
        db_bind_text(st, 2, auth_role_name(change->role));
        db_bind_int(st, 3, now);
        if (db_step(st) < 0 || audit_append(db, actor, "user.role", name,
                                            auth_role_name(change->role)) < 0)
            goto out;
    }
    if (change->disabled >= 0 && change->disabled != old_disabled) {
        if ((st = db_stmt(db, STMT_USER_SET_DISABLED)) == NULL)
            goto out;
        db_bind_int(st, 1, uid);
        db_bind_int(st, 2, change->disabled);
        db_bind_int(st, 3, now);
        if (db_step(st) < 0 ||
            audit_append(db, actor,
                         change->disabled ? "user.disable" : "user.enable",
                         name, NULL) < 0)
            goto out;
    }
    if (change->password != NULL) {
        if ((st = db_stmt(db, STMT_USER_SET_PASSWORD)) == NULL)
            goto out;
        db_bind_int(st, 1, uid);
        db_bind_text(st, 2, hash);
        db_bind_int(st, 3, now);
        if (db_step(st) < 0 ||
            audit_append(db, actor, "user.password", name, NULL) < 0)
            goto out;
    }
    if (change->password != NULL || change->disabled == 1) {
        if ((st = db_stmt(db, STMT_SESSIONS_DELETE_USER)) == NULL)
            goto out;
        db_bind_int(st, 1, uid);
        if (db_step(st) < 0)
            goto out;
    }
    if (db_commit(db) < 0)
        goto out;
    result = 1;
out:
    db_rollback(db);
    sodium_memzero(hash, sizeof(hash));
    return result;
}

int auth_user_passwd(struct db *db, const char *actor, const char *name,
                     const char *password)
{
    struct user_change change = {ROLE_NONE, -1, password};
    int rc = auth_user_update(db, actor, name, &change);

    return rc == -2 ? -1 : rc;
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

int auth_allows(enum role role, int access)
{
    switch ((enum access)access) {
    case ACCESS_PUBLIC:
        return 1;
    case ACCESS_USER:
        return role != ROLE_NONE;
    case ACCESS_MODERATOR:
        return role == ROLE_MODERATOR || role == ROLE_ADMIN;
    case ACCESS_COMMS:
        return role == ROLE_COMMS || role == ROLE_ADMIN;
    case ACCESS_ADMIN:
        return role == ROLE_ADMIN;
    }
    return 0;
}

/*
 * A hash to check the passwords of unknown users against, so that a
 * login with an unknown name costs as much as one with a wrong password.
 * Made once; read-only afterwards.
 */
static char dummy[AUTH_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    char pw[UTIL_TOKEN_LEN + 1];

    util_random_token(pw);
    if (auth_password_hash(pw, dummy) != 0)
        dummy[0] = '\0';
}

/* Creates the session row for user id; fills token and s. */
static int session_create(struct db *db, int64_t uid, int max_s,
                          char token[UTIL_TOKEN_LEN + 1], struct session *s)
{
    struct db_stmt *st = db_stmt(db, STMT_SESSION_INSERT);
    int64_t now = util_now();

    if (st == NULL)
        return -1;
    util_random_token(token);
    util_random_token(s->csrf);
    crypto_hash_sha256(s->token_hash, (const unsigned char *)token,
                       strlen(token));
    db_bind_blob(st, 1, s->token_hash, sizeof(s->token_hash));
    db_bind_int(st, 2, uid);
    db_bind_text(st, 3, s->csrf);
    db_bind_int(st, 4, now);
    db_bind_int(st, 5, now + max_s);
    return db_step(st) < 0 ? -1 : 0;
}

int auth_login(struct db *db, const char *username, const char *password,
               int max_s, char token[UTIL_TOKEN_LEN + 1], struct session *s)
{
    char hash[AUTH_HASH_MAX] = "", newhash[AUTH_HASH_MAX];
    struct db_stmt *st;
    int64_t uid = 0;
    int disabled = 1, ok, rc, result = -1;

    memset(s, 0, sizeof(*s));
    if ((st = db_stmt(db, STMT_USER_BY_NAME)) == NULL)
        return -1;
    db_bind_text(st, 1, username);
    rc = db_step(st);
    if (rc == DB_ROW) {
        uid = db_col_int(st, 0);
        snprintf(s->username, sizeof(s->username), "%s", db_col_text(st, 1));
        snprintf(hash, sizeof(hash), "%s", db_col_text(st, 2));
        s->role = auth_role_parse(db_col_text(st, 3));
        disabled = (int)db_col_int(st, 4);
        db_reset(st);
    } else if (rc < 0) {
        return -1;
    }
    pthread_once(&dummy_once, make_dummy);
    /* Always one argon2id verification, whoever asks. */
    ok = auth_password_verify(uid > 0 ? hash : dummy, password);
    if (uid == 0 || disabled)
        ok = 0;

    if (db_begin(db) < 0)
        return -1;
    if (ok == 0) {
        char who[AUTH_USERNAME_MAX + 1];
        /* Name what was tried, cut and only if it is a plausible name. */
        snprintf(who, sizeof(who), "%s", username);
        if (audit_append(db, "anonymous", "login.failed",
                         auth_username_invalid(who) == NULL ? who : "(invalid)",
                         uid == 0   ? "unknown user"
                         : disabled ? "disabled user"
                                    : "wrong password") < 0 ||
            db_commit(db) < 0)
            goto out;
        result = 0;
        goto out;
    }
    if (ok == 2 && auth_password_hash(password, newhash) == 0 &&
        (st = db_stmt(db, STMT_USER_SET_PASSWORD)) != NULL) {
        db_bind_int(st, 1, uid);
        db_bind_text(st, 2, newhash);
        db_bind_int(st, 3, util_now());
        if (db_step(st) < 0)
            goto out;
        log_info("auth: upgraded the password hash of %s", s->username);
    }
    s->user_id = uid;
    if (session_create(db, uid, max_s, token, s) != 0 ||
        audit_append(db, s->username, "login", s->username, NULL) < 0 ||
        db_commit(db) < 0)
        goto out;
    result = 1;
out:
    db_rollback(db);
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(newhash, sizeof(newhash));
    return result;
}

int auth_session_get(struct db *db, const char *token, int idle_s,
                     struct session *s)
{
    struct db_stmt *st = db_stmt(db, STMT_SESSION_GET);
    int64_t now = util_now(), last_seen, expires;
    /* Recording every request would make every read a write: the last
     * use is written at most every 30 s, and often enough that a session
     * in use never looks idle however short --session-idle is. */
    int64_t touch_s = idle_s / 4 < 30 ? idle_s / 4 : 30;
    int rc;

    memset(s, 0, sizeof(*s));
    if (st == NULL)
        return -1;
    crypto_hash_sha256(s->token_hash, (const unsigned char *)token,
                       strlen(token));
    db_bind_blob(st, 1, s->token_hash, sizeof(s->token_hash));
    rc = db_step(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : -1;
    s->user_id = db_col_int(st, 0);
    snprintf(s->username, sizeof(s->username), "%s", db_col_text(st, 1));
    s->role = auth_role_parse(db_col_text(st, 2));
    snprintf(s->csrf, sizeof(s->csrf), "%s", db_col_text(st, 3));
    last_seen = db_col_int(st, 4);
    expires = db_col_int(st, 5);
    db_reset(st);
    if (now >= expires || now - last_seen >= idle_s)
        return 0;
    if (now - last_seen >= touch_s && (st = db_stmt(db, STMT_SESSION_TOUCH))) {
        db_bind_blob(st, 1, s->token_hash, sizeof(s->token_hash));
        db_bind_int(st, 2, now);
        db_step(st);
    }
    return 1;
}

int auth_logout(struct db *db, const struct session *s)
{
    struct db_stmt *st;
    int rc = -1;

    if (db_begin(db) < 0)
        return -1;
    if ((st = db_stmt(db, STMT_SESSION_DELETE)) == NULL)
        goto out;
    db_bind_blob(st, 1, s->token_hash, sizeof(s->token_hash));
    if (db_step(st) < 0 ||
        audit_append(db, s->username, "logout", s->username, NULL) < 0 ||
        db_commit(db) < 0)
        goto out;
    rc = 0;
out:
    db_rollback(db);
    return rc;
}

int auth_sessions_sweep(struct db *db, int idle_s)
{
    struct db_stmt *st = db_stmt(db, STMT_SESSIONS_EXPIRE);
    int64_t now = util_now();

    if (st == NULL)
        return -1;
    db_bind_int(st, 1, now);
    db_bind_int(st, 2, now - idle_s);
    return db_step(st) < 0 ? -1 : (int)db_changes(db);
}
