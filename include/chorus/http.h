/*
 * The libmicrohttpd daemon, per-request state and response helpers.
 *
 * One thread per connection: handlers may block on the disk or the
 * database without stalling other clients, and a slow or silent client
 * is dropped by the idle timeout. A struct request is allocated on the
 * first call for a request and freed only in the completion callback
 * (libmicrohttpd's own pattern), whatever happened in between.
 *
 * Handlers answer through http_respond() and its wrappers, which hold the
 * response until the dispatcher queues it with the security headers of
 * DESIGN.md; they return the status they answered.
 */
#ifndef CHORUS_HTTP_H
#define CHORUS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "chorus/auth.h"
#include "chorus/client.h"
#include "chorus/router.h"

struct app;
struct http_server;

/* Largest JSON request body accepted (413 beyond). */
#define HTTP_JSON_BODY_MAX (64 * 1024)

struct request {
    struct MHD_Connection *conn;
    struct app *app;
    const char *method;
    const char *path; /* decoded by libmicrohttpd, without the query */
    struct route_match match;
    int64_t start_ms;

    /* Who sent it (http_client()), worked out on first use. */
    struct client client;
    bool client_known;

    /* The logged-in user, for routes that need one. */
    struct session session;
    bool has_session;

    /* BODY_JSON: the collected body, NUL-terminated. */
    char *body;
    size_t body_len;

    /* The response being built, and its status (0 until answered). */
    struct MHD_Response *response;
    int status;
    uint64_t body_bytes; /* for the access log, when known */
    bool queued;
    /* The answer went out whole (set before ctx_free runs). */
    bool delivered;

    /* A campaign's upload page: the --cors-origin sites may frame it. */
    bool embeddable;

    /* A handler's own state, freed with ctx_free when the request ends. */
    void *ctx;
    void (*ctx_free)(void *ctx);
};

/*
 * Starts serving app on the configured address. Returns 0 and sets *out,
 * or -1 (logged). The bound port is in http_port() (for --listen :0).
 */
int http_start(struct app *app, struct http_server **out);
int http_port(const struct http_server *srv);
/*
 * Stops accepting, lets requests in flight finish for up to grace_ms,
 * then cuts the rest and frees srv. NULL is fine.
 */
void http_stop(struct http_server *srv, int grace_ms);

/*
 * Sets the response of req (taking ownership of resp, which may be NULL
 * for an empty body) and returns status. A second answer replaces the
 * first.
 */
int http_respond(struct request *req, int status, struct MHD_Response *resp);
/* Answers status with obj as JSON (a reference is stolen). */
int http_json(struct request *req, int status, json_t *obj);
/* Answers status with text (len bytes of JSON, malloc'd: taken over). */
int http_json_text(struct request *req, int status, char *text, size_t len);
/* Answers {"error": code, "message": ...}. */
int http_error(struct request *req, int status, const char *code,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Answers status with no body. */
int http_empty(struct request *req, int status);
/*
 * Marks req's page as one the --cors-origin sites may embed (DESIGN.md
 * "Security and privacy rules": a campaign's upload page, never the
 * panel): its Content-Security-Policy lists them in frame-ancestors and
 * it sends no X-Frame-Options. Without --cors-origin nothing changes.
 */
void http_embeddable(struct request *req);
/* Adds a header to the pending response; 0, or -1. */
int http_header_add(struct request *req, const char *name, const char *value);

/* The socket's peer: the client, or a proxy (never stored). */
const struct sockaddr *http_client_addr(const struct request *req);
/*
 * The client as every per-client limit sees it: the peer, or behind a
 * --trusted-proxy the address it forwarded (client.h). In memory only.
 */
const struct client *http_client(struct request *req);
/* A request header, or NULL. */
const char *http_header(const struct request *req, const char *name);
/* A query argument, or NULL. */
const char *http_query(const struct request *req, const char *name);
/*
 * The BODY_JSON body parsed as a JSON object; on failure answers 400 and
 * returns NULL. The caller json_decref()s the result.
 */
json_t *http_body_object(struct request *req);

/*
 * Conditional GET: true if If-None-Match lists etag (weak comparison, as
 * RFC 9110 wants for it; "*" matches anything), and then 304 is answered
 * with the ETag and cache_control. False if the body should be sent.
 */
bool http_not_modified(struct request *req, const char *etag,
                       const char *cache_control);
/* True if the If-None-Match list p ("a", W/"b") holds etag (quoted). */
bool http_etag_listed(const char *p, const char *etag);
/*
 * Answers the failure to open a file the request names, by errno: 404
 * when it is not there, 503 with Retry-After when the server is out of
 * descriptors or memory, 500 for anything else (a permission problem is
 * the server's, not the client's). Returns the status.
 */
int http_file_error(struct request *req, int err);
/*
 * Answers a database failure (a DB_* code < 0): 503 with Retry-After when
 * the database stayed locked (DB_BUSY), else 500. Returns the status.
 */
int http_db_error(struct request *req, int rc);

/* GET /healthz: 200 {"status":"ok"} when the database answers, else 503. */
int http_healthz(struct request *req);

#endif
