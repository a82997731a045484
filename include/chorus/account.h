/*
 * The account API: logging in and out of the panel, and user management
 * for admins. Login failures are throttled per username and per client
 * address (in memory); unknown users and wrong passwords get the same
 * answer in the same time.
 */
#ifndef CHORUS_ACCOUNT_H
#define CHORUS_ACCOUNT_H

struct request;

/* POST /api/v1/session {"username","password"}: 200 {"user","role",
 * "csrf_token"} and the chorus_session cookie; 401; 429 + Retry-After. */
int account_login(struct request *req);
/* GET /api/v1/session: who is logged in, with the CSRF token. */
int account_whoami(struct request *req);
/* DELETE /api/v1/session: ends the session and clears the cookie. */
int account_logout(struct request *req);
/* GET /api/v1/users: every user (no hashes). */
int account_users_list(struct request *req);
/* POST /api/v1/users {"username","role","password"?}: 201; a generated
 * password (when none is given) is in the answer, once. 409 if taken. */
int account_users_create(struct request *req);
/* PATCH /api/v1/users/{name} {"role"?, "disabled"?, "password"?}:
 * disabling or a new password ends the user's sessions. */
int account_users_update(struct request *req);
/* DELETE /api/v1/users/{name}: disables (rows stay for the audit log). */
int account_users_disable(struct request *req);

#endif
