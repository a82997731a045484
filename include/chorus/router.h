/*
 * A generic matcher for route tables {method, pattern, handler, access,
 * body} (Chorus's own is app_routes in app.c), matched in order. A pattern is a
 * path whose segments are literals, "{name}" (one non-empty segment, captured)
 * or a final "*" (the rest, captured as
 * "*"). Access is checked once, by http.c, from the table's column.
 */
#ifndef CHORUS_ROUTER_H
#define CHORUS_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct request;

enum access {
    ACCESS_PUBLIC,    /* anyone */
    ACCESS_USER,      /* any logged-in role */
    ACCESS_MODERATOR, /* moderator or admin */
    ACCESS_COMMS,     /* comms or admin */
    ACCESS_ADMIN,
    /* A remote worker's bearer token (worker_api.h), and nothing else:
     * no session opens these routes, no token opens any other. */
    ACCESS_WORKER,
};

enum body_mode {
    BODY_NONE,   /* a body is refused with 413 */
    BODY_JSON,   /* collected (bounded) into req->body */
    BODY_STREAM, /* handed chunk by chunk to route->body */
};

/* Returns the HTTP status it queued with http_respond() and friends. */
typedef int (*route_handler)(struct request *req);
/*
 * For BODY_STREAM routes: called once before any body byte (begin: may
 * answer at once, e.g. 409, by returning a status; 0 to go on), then for
 * each chunk (body: 0 to go on, or a status to stop reading and answer).
 */
typedef int (*route_begin)(struct request *req);
typedef int (*route_body)(struct request *req, const char *data, size_t size);

struct route {
    const char *method;
    const char *pattern;
    route_handler handler;
    enum access access;
    enum body_mode body_mode;
    route_begin begin; /* optional */
    route_body body;   /* BODY_STREAM only */
};

#define ROUTE_MAX_PARAMS 4

struct route_match {
    const struct route *route;
    int nparams;
    struct {
        const char *name; /* points into the pattern, up to '}' */
        size_t name_len;
        const char *value; /* points into the path */
        size_t len;
    } params[ROUTE_MAX_PARAMS];
};

enum {
    ROUTER_FOUND = 0,
    ROUTER_NOT_FOUND = -1,
    ROUTER_BAD_METHOD = -2, /* the path exists for other methods */
};

/*
 * Finds the first route in table matching method and path. HEAD matches
 * a GET route unless a HEAD route comes first. Returns ROUTER_FOUND and
 * fills m, ROUTER_NOT_FOUND, or ROUTER_BAD_METHOD; for the latter, if
 * allow is not NULL, it receives the allowed methods ("GET, HEAD").
 */
int router_match(const struct route *table, size_t n, const char *method,
                 const char *path, struct route_match *m, char *allow,
                 size_t allowlen);

/*
 * Copies parameter name of m into out (NUL-terminated). Returns its
 * length, or -1 if there is no such parameter or it does not fit.
 */
int router_param(const struct route_match *m, const char *name, char *out,
                 size_t outlen);

#endif
