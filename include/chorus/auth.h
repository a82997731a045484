/*
 * Users, password hashes, sessions, CSRF and login throttling.
 *
 * Passwords are hashed with argon2id (libsodium's crypto_pwhash_str) at
 * OWASP's recommended cost (19 MiB, 2 passes): a login costs the server a
 * bounded amount of memory, and stored hashes carry their parameters so
 * auth_password_verify() can tell when one should be upgraded.
 */
#ifndef CHORUS_AUTH_H
#define CHORUS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chorus/util.h"

struct db;

#define AUTH_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define AUTH_PASSWORD_MIN 10
#define AUTH_PASSWORD_MAX 1024
#define AUTH_USERNAME_MAX 64 /* characters */
/* The most bytes a name (or its folded key) takes in UTF-8. */
#define AUTH_USERNAME_BYTES (AUTH_USERNAME_MAX * 4)

enum role { ROLE_NONE = 0, ROLE_ADMIN, ROLE_MODERATOR, ROLE_COMMS };

/* "admin" etc. to enum role and back; ROLE_NONE / NULL if unknown. */
enum role auth_role_parse(const char *s);
const char *auth_role_name(enum role r);

/* Hashes password into out (AUTH_HASH_MAX bytes); 0, or -1 (no memory). */
int auth_password_hash(const char *password, char out[AUTH_HASH_MAX]);
/*
 * Checks password against hash in constant time. Returns 1 if it matches
 * and the hash is current, 2 if it matches but should be rehashed with
 * today's parameters, 0 if it does not match.
 */
int auth_password_verify(const char *hash, const char *password);
/* NULL if the password is acceptable, else why it is not. */
const char *auth_password_weak(const char *password);
/*
 * NULL if name is a valid username, else why not. A name has 1 to 64
 * characters of UTF-8 in any script: ASCII letters, digits, '.', '_' and
 * '-', and any character from U+00C0 on but spaces, invisible and
 * formatting characters (U+2000-U+206F, U+3000, U+FEFF, variation
 * selectors, tags), private use, noncharacters, U+00D7 and U+00F7, and
 * combining accents (U+0300-U+036F, U+0483-U+0489: a name is typed
 * composed, so it has one spelling).
 */
const char *auth_username_invalid(const char *name);
/*
 * The key names are compared by, everywhere (the database's name_key,
 * login throttling): the name's case folding (fold.h), into out. 0, or
 * -1 if name is not UTF-8 or is too long.
 */
int auth_name_key(const char *name, char out[AUTH_USERNAME_BYTES + 1]);

/*
 * Creates a user. Returns the new id (> 0), 0 if the name is taken, or -1.
 * Writes an audit row attributed to actor in the same transaction.
 */
int64_t auth_user_add(struct db *db, const char *actor, const char *name,
                      const char *password, enum role role);
/* Sets a new password: 1 done, 0 no such user, -1 failure. Audited. */
int auth_user_passwd(struct db *db, const char *actor, const char *name,
                     const char *password);
/* What auth_user_update() changes: NULL / -1 leave a field alone. */
struct user_change {
    enum role role;       /* ROLE_NONE: unchanged */
    int disabled;         /* -1: unchanged */
    const char *password; /* NULL: unchanged */
};

/*
 * Applies change to user name, each part audited by actor; disabling or
 * a new password ends the user's sessions. Returns 1, 0 if there is no
 * such user, -2 if it would leave no active admin, -1.
 */
int auth_user_update(struct db *db, const char *actor, const char *name,
                     const struct user_change *change);

/* Number of users, or -1. */
int64_t auth_user_count(struct db *db);

/* ---- sessions ----
 * A session token is 256 random bits, given to the browser once in the
 * chorus_session cookie and stored only as its SHA-256. Each session has
 * its own CSRF token, which every state-changing request must echo in
 * X-CSRF-Token. A session ends at logout, after idle_s without a request,
 * or max_s after login, whichever comes first. */

/* Bytes of a user's campaign limits (message.h's scope). */
#define AUTH_SCOPE_MAX 512

struct session {
    int64_t user_id;
    char username[AUTH_USERNAME_BYTES + 1];
    enum role role;
    char csrf[UTIL_TOKEN_LEN + 1];
    unsigned char token_hash[32];
    /* The campaigns the user is limited to (",1,3,"; "": every one), set
     * by http.c for each request from campaign_scope_of(). */
    char campaigns[AUTH_SCOPE_MAX];
};

/*
 * A login in three steps, so that no database handle is held while the
 * password is hashed (argon2id: 50-100 ms and 19 MiB):
 * auth_login_find() with a handle, auth_login_check() without one,
 * auth_login_record() with a handle again.
 */
struct auth_attempt {
    char typed[AUTH_USERNAME_BYTES + 1]; /* the name as typed (cut) */
    bool found, disabled;
    int64_t user_id;
    char username[AUTH_USERNAME_BYTES + 1];
    enum role role;
    char hash[AUTH_HASH_MAX];
    int ok;                      /* auth_login_check()'s verdict */
    char newhash[AUTH_HASH_MAX]; /* ok == 2: the password rehashed */
};
/* Looks up the user whose name folds as username's. 0, or -1. */
int auth_login_find(struct db *db, const char *username,
                    struct auth_attempt *a);
/*
 * Verifies password against the user found (against a dummy hash for an
 * unknown user, so that both take as long) and, if it matches with
 * outdated parameters, rehashes it. Sets a->ok: 1, 2 (rehashed) or 0
 * (wrong, unknown or disabled). Holds nothing; returns a->ok.
 */
int auth_login_check(struct auth_attempt *a, const char *password);
/*
 * Records a checked attempt: a failure in the audit log; a success as a
 * new session (token, UTIL_TOKEN_LEN + 1 bytes, receives the cookie
 * value and *s its details), the upgraded hash, and the audit row.
 * Returns 1 (logged in), 0 (bad credentials), or -1. Clears a's hashes.
 */
int auth_login_record(struct db *db, struct auth_attempt *a, int max_s,
                      char token[UTIL_TOKEN_LEN + 1], struct session *s);
/* The three steps on one handle (the command line, tests). */
int auth_login(struct db *db, const char *username, const char *password,
               int max_s, char token[UTIL_TOKEN_LEN + 1], struct session *s);
/*
 * Finds the live session of token. Returns 1 with *s filled (and its
 * last use recorded), 0 if there is none or it expired, -1.
 */
int auth_session_get(struct db *db, const char *token, int idle_s,
                     struct session *s);
/* Ends the session with this token hash; audited as a logout. */
int auth_logout(struct db *db, const struct session *s);
/* Deletes sessions past their expiry or idle time. */
int auth_sessions_sweep(struct db *db, int idle_s);
/* True if a user of role may use a route needing access. */
int auth_allows(enum role role, int access);

#endif
