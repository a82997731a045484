/*
 * The worker API (DESIGN.md "Scale"): what a remote worker (remote.c)
 * asks of the server, under /api/v1/worker/, with a bearer token made by
 * `chorus worker-token add NAME` (stored as its SHA-256 only). The route
 * table's ACCESS_WORKER column asks worker_api_authenticate(): a token
 * opens these routes and nothing else, no session opens them, and a
 * revoked token is refused (401) from the next request on.
 *
 *   GET /api/v1/worker/hello   {"worker": NAME}: the token is good
 */
#ifndef CHORUS_WORKER_API_H
#define CHORUS_WORKER_API_H

#include <stdio.h>

struct app;
struct db;
struct request;

#define WORKER_TOKEN_NAME_MAX 32
/*
 * ACCESS_WORKER: "Authorization: Bearer <token>" names a token that is
 * not revoked. Returns 0 with req->worker_token set, or answers 401 (or
 * 503) and returns its status.
 */
int worker_api_authenticate(struct request *req);

/* GET /api/v1/worker/hello: who the token says the worker is. */
int worker_api_hello(struct request *req);

/* chorus worker-token: a new token for name, printed alone on the last
 * line of stdout (only its hash is kept); 0, 1 if the name is taken or
 * not a name, -1. */
int worker_token_add(struct db *db, const char *name);
/* The tokens, one a line, with when they were made, last seen and
 * revoked. 0, or -1. */
int worker_token_list(struct db *db, FILE *out);
/* Refuses name's token from the next request on: 0, 1 if there is no
 * such live token, -1. */
int worker_token_revoke(struct db *db, const char *name);

#endif
