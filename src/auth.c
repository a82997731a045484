#include "chorus/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chorus/audit.h"
#include "chorus/db.h"
#include "chorus/fold.h"
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

/* True if code point c may be part of a name (beyond ASCII). */
static bool name_char(uint32_t c)
{
    static const uint32_t refused[][2] = {
        {0x0080, 0x00BF},    /* C1 controls, no-break space, signs */
        {0x00D7, 0x00D7},    /* multiplication sign */
        {0x00F7, 0x00F7},    /* division sign */
        {0x0300, 0x036F},    /* combining accents: type them composed */
        {0x0483, 0x0489},    /* Cyrillic combining marks */
        {0x115F, 0x1160},    /* Hangul fillers */
        {0x1680, 0x1680},    /* Ogham space */
        {0x180B, 0x180F},    /* Mongolian selectors, vowel separator */
        {0x2000, 0x206F},    /* spaces, zero-width, bidi, punctuation */
        {0x3000, 0x3000},    /* ideographic space */
        {0x3164, 0x3164},    /* Hangul filler */
        {0xD800, 0xF8FF},    /* surrogates, private use */
        {0xFDD0, 0xFDEF},    /* noncharacters */
        {0xFE00, 0xFE0F},    /* variation selectors */
        {0xFEFF, 0xFEFF},    /* byte order mark */
        {0xFFA0, 0xFFA0},    /* halfwidth Hangul filler */
        {0xFFF0, 0xFFFF},    /* specials */
        {0xE0000, 0xE0FFF},  /* tags, variation selectors supplement */
        {0xF0000, 0x10FFFF}, /* private use planes */
    };

    if (c < 0xC0)
        return false;
    if ((c & 0xFFFE) == 0xFFFE) /* noncharacters of every plane */
        return false;
    for (size_t i = 0; i < ARRAY_LEN(refused); i++)
        if (c >= refused[i][0] && c <= refused[i][1])
            return false;
    return true;
}

const char *auth_username_invalid(const char *name)
{
    size_t len = strlen(name), chars = 0;

    if (len == 0)
        return "a username has 1 to 64 characters";
    if (len > AUTH_USERNAME_BYTES)
        return "a username has at most 64 characters";
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = fold_decode(name + i, len - i, &c);

        if (n == 0)
            return "a username must be UTF-8 text";
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-') &&
            !name_char(c))
            return "a username may use letters and digits of any script, "
                   "'.', '_' and '-' (no spaces, symbols or invisible "
                   "characters; accents typed as part of their letter)";
        i += n;
        chars++;
    }
    if (chars > AUTH_USERNAME_MAX)
        return "a username has at most 64 characters";
    return NULL;
}

int auth_name_key(const char *name, char out[AUTH_USERNAME_BYTES + 1])
{
    /* Simple folding maps a code point to one of at most 4 bytes: the
     * key of a valid name fits. */
    return fold_utf8(name, out, AUTH_USERNAME_BYTES + 1) < 0 ? -1 : 0;
}

int64_t auth_user_add(struct db *db, const char *actor, const char *name,
                      const char *password, enum role role)
{
    char hash[AUTH_HASH_MAX], key[AUTH_USERNAME_BYTES + 1];
    struct db_stmt *st;
    int64_t id = -1;
    int rc;

    if (auth_name_key(name, key) != 0)
        return -1;
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
    db_bind_text(st, 5, key);
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
    char hash[AUTH_HASH_MAX] = "", key[AUTH_USERNAME_BYTES + 1];
    struct db_stmt *st;
    int64_t uid, now = util_now();
    enum role old_role;
    int old_disabled, rc, result = -1;

    if (auth_name_key(name, key) != 0)
        return 0; /* no user has such a name */
    if (change->password != NULL &&
        auth_password_hash(change->password, hash) != 0)
        return -1;
    if (db_begin(db) < 0)
        return -1;
    if ((st = db_stmt(db, STMT_USER_BY_NAME)) == NULL)
        goto out;
    db_bind_text(st, 1, key);
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
    case ACCESS_WORKER:
        return 0; /* a worker's token, never a session */
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

int auth_login_find(struct db *db, const char *username, struct auth_attempt *a)
{
    char key[AUTH_USERNAME_BYTES + 1];
    struct db_stmt *st;
    int rc;

    memset(a, 0, sizeof(*a));
    snprintf(a->typed, sizeof(a->typed), "%s", username);
    /* A name that cannot be folded belongs to nobody. */
    if (auth_name_key(username, key) != 0)
        return 0;
    if ((st = db_stmt(db, STMT_USER_BY_NAME)) == NULL)
        return -1;
    db_bind_text(st, 1, key);
    rc = db_step(st);
    if (rc == DB_ROW) {
        a->found = true;
        a->user_id = db_col_int(st, 0);
        snprintf(a->username, sizeof(a->username), "%s", db_col_text(st, 1));
        snprintf(a->hash, sizeof(a->hash), "%s", db_col_text(st, 2));
        a->role = auth_role_parse(db_col_text(st, 3));
        a->disabled = db_col_int(st, 4) != 0;
        db_reset(st);
    }
    return rc < 0 ? -1 : 0;
}

int auth_login_check(struct auth_attempt *a, const char *password)
{
    pthread_once(&dummy_once, make_dummy);
    /* Always one argon2id verification, whoever asks. */
    a->ok = auth_password_verify(a->found ? a->hash : dummy, password);
    if (!a->found || a->disabled)
        a->ok = 0;
    if (a->ok == 2 && auth_password_hash(password, a->newhash) != 0)
        a->ok = 1; /* logged in all the same; upgraded another time */
    return a->ok;
}

int auth_login_record(struct db *db, struct auth_attempt *a, int max_s,
                      char token[UTIL_TOKEN_LEN + 1], struct session *s)
{
    struct db_stmt *st;
    int result = -1;

    memset(s, 0, sizeof(*s));
    if (db_begin(db) < 0)
        goto out;
    if (a->ok == 0) {
        char who[AUTH_USERNAME_BYTES + 1];
        /* Name what was tried, only if it is a plausible name. */
        snprintf(who, sizeof(who), "%s", a->typed);
        if (audit_append(db, "anonymous", "login.failed",
                         auth_username_invalid(who) == NULL ? who : "(invalid)",
                         !a->found     ? "unknown user"
                         : a->disabled ? "disabled user"
                                       : "wrong password") < 0 ||
            db_commit(db) < 0)
            goto out;
        result = 0;
        goto out;
    }
    if (a->ok == 2 && (st = db_stmt(db, STMT_USER_SET_PASSWORD)) != NULL) {
        db_bind_int(st, 1, a->user_id);
        db_bind_text(st, 2, a->newhash);
        db_bind_int(st, 3, util_now());
        if (db_step(st) < 0)
            goto out;
        log_info("auth: upgraded the password hash of %s", a->username);
    }
    s->user_id = a->user_id;
    s->role = a->role;
    snprintf(s->username, sizeof(s->username), "%s", a->username);
    if (session_create(db, a->user_id, max_s, token, s) != 0 ||
        audit_append(db, s->username, "login", s->username, NULL) < 0 ||
        db_commit(db) < 0)
        goto out;
    result = 1;
out:
    db_rollback(db);
    sodium_memzero(a->hash, sizeof(a->hash));
    sodium_memzero(a->newhash, sizeof(a->newhash));
    return result;
}

int auth_login(struct db *db, const char *username, const char *password,
               int max_s, char token[UTIL_TOKEN_LEN + 1], struct session *s)
{
    struct auth_attempt a;

    if (auth_login_find(db, username, &a) != 0) {
        memset(s, 0, sizeof(*s));
        return -1;
    }
    auth_login_check(&a, password);
    return auth_login_record(db, &a, max_s, token, s);
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
        /* A touch that fails is tried again by the next request; the
         * session stays valid meanwhile. */
        if (db_step(st) < 0)
            log_warnx("a session's last use was not recorded");
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
