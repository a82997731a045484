/*
 * The worker API (DESIGN.md "Scale"): what a remote worker (remote.c)
 * asks of the server, under /api/v1/worker/, with a bearer token made by
 * `chorus worker-token add NAME` (stored as its SHA-256 only). The route
 * table's ACCESS_WORKER column asks worker_api_authenticate(): a token
 * opens these routes and nothing else, no session opens them, and a
 * revoked token is refused (401) from the next request on.
 *
 * Every change of a job goes through queue.c, and so a transcode's end
 * through message.c: the same leases (worker name, attempt), heartbeats,
 * retries with backoff and poison-input rule as a local worker. A remote
 * worker's lease name is "<token name>/<slot>", the slot being what the
 * worker calls the process (its host and pid), so a token cannot speak
 * for another token's jobs.
 *
 *   GET  /api/v1/worker/hello  {"worker": NAME}: the token is good
 *   POST /api/v1/worker/claim             {"slot","wait","kinds"}: a job
 *        with its lease, its input's URL and options (200), or none
 *        after waiting up to wait seconds (204)
 *   POST /api/v1/worker/jobs/{id}/heartbeat {"slot","attempt","progress"}
 *        200, or 409 {"error":"lost"} when the lease moved on
 *   GET  /api/v1/worker/jobs/{id}/input?slot=&attempt=  the original, with
 *        Range (a broken download resumes)
 *   POST /api/v1/worker/jobs/{id}/outputs {"slot","attempt","files":
 *        [{"name","bytes","sha256"}]}: where to PUT each (the route
 *        below) and which are in already, whole
 *   PUT  /api/v1/worker/jobs/{id}/outputs/{name}?slot=&attempt=&sha256=
 *        one output, checked against its SHA-256; idempotent
 *   POST /api/v1/worker/jobs/{id}/done    {"slot","attempt","facts",
 *        "result"}: published by the lease's holder only, else 409
 *   POST /api/v1/worker/jobs/{id}/fail    {"slot","attempt","reason",
 *        "retryable"}: the moderator-readable reason
 *   POST /api/v1/worker/jobs/{id}/release {"slot","attempt"}: given back
 *        without counting the attempt (the worker is stopping)
 *
 * With object storage (objstore.h) a transcode's input URL and its
 * outputs' URLs are pre-signed URLs of the bucket instead of the input
 * and output routes, and done publishes the outputs inside the store:
 * no media byte passes through the server.
 */
#ifndef CHORUS_WORKER_API_H
#define CHORUS_WORKER_API_H

#include <stdint.h>
#include <stdio.h>

struct app;
struct db;
struct request;

#define WORKER_TOKEN_NAME_MAX 32
/* A slot's name: [A-Za-z0-9._-], at most this long. */
#define WORKER_SLOT_MAX 40

struct worker_api;
struct worker_api *worker_api_new(void);
void worker_api_free(struct worker_api *wa);

/*
 * ACCESS_WORKER: "Authorization: Bearer <token>" names a token that is
 * not revoked. Returns 0 with req->worker_token set, or answers 401 (or
 * 503) and returns its status.
 */
int worker_api_authenticate(struct request *req);

/* The handlers (see above). */
int worker_api_hello(struct request *req);
int worker_api_claim(struct request *req);
int worker_api_heartbeat(struct request *req);
int worker_api_input(struct request *req);
int worker_api_outputs(struct request *req);
int worker_api_output_begin(struct request *req);
int worker_api_output_body(struct request *req, const char *data, size_t size);
int worker_api_output_put(struct request *req);
int worker_api_done(struct request *req);
int worker_api_fail(struct request *req);
int worker_api_release(struct request *req);

/* /metrics: remote workers seen in the last minute, and the claim
 * latencies' histogram (Prometheus text appended by fn). */
void worker_api_metrics(struct worker_api *wa,
                        void (*fn)(void *opaque, const char *line),
                        void *opaque);

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
