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

#include <stddef.h>
#include <stdint.h>

struct db;

#define AUTH_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define AUTH_PASSWORD_MIN 10
#define AUTH_PASSWORD_MAX 1024
#define AUTH_USERNAME_MAX 64

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
/* NULL if name is a valid username (1-64 of [A-Za-z0-9._-]), else why. */
const char *auth_username_invalid(const char *name);

/*
 * Creates a user. Returns the new id (> 0), 0 if the name is taken, or -1.
 * Writes an audit row attributed to actor in the same transaction.
 */
int64_t auth_user_add(struct db *db, const char *actor, const char *name,
                      const char *password, enum role role);
/* Sets a new password: 1 done, 0 no such user, -1 failure. Audited. */
int auth_user_passwd(struct db *db, const char *actor, const char *name,
                     const char *password);
/* Number of users, or -1. */
int64_t auth_user_count(struct db *db);

#endif
