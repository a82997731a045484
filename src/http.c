#include "chorus/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chorus/app.h"
#include "chorus/campaign.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/reaper.h"
#include "chorus/util.h"

/*
 * Per-connection memory of libmicrohttpd (request line, headers and the
 * read buffer); a request whose headers do not fit is refused by it.
 */
#define CONN_MEMORY_LIMIT (64 * 1024)
/* Our own, smaller bound on the request line and headers together. */
#define HEADERS_MAX (16 * 1024)

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    atomic_int in_flight;   /* requests begun and not yet completed */
    atomic_int connections; /* open connections */
    /* The header deadline. libmicrohttpd closes a socket only after its
     * CLOSED notification, which unwatches it first. */
    struct reaper *reaper;
};

/* DESIGN.md's policy, around its frame-ancestors. */
#define CSP_HEAD                                                               \
    "default-src 'none'; script-src 'self'; style-src 'self'; "                \
    "img-src 'self' blob: data:; media-src 'self' blob:; "                     \
    "connect-src 'self'; form-action 'self'; frame-ancestors"
#define CSP_TAIL "; base-uri 'none'"

static const char *const security_headers[][2] = {
    {"Content-Security-Policy", CSP_HEAD " 'none'" CSP_TAIL},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
};

int http_respond(struct request *req, int status, struct MHD_Response *resp)
{
    if (req->response != NULL)
        MHD_destroy_response(req->response);
    if (resp == NULL)
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    req->response = resp;
    req->status = status;
    return status;
}

int http_header_add(struct request *req, const char *name, const char *value)
{
    if (req->response == NULL ||
        MHD_add_response_header(req->response, name, value) != MHD_YES)
        return -1;
    return 0;
}

int http_json(struct request *req, int status, json_t *obj)
{
    char *text = NULL;
    struct MHD_Response *resp;

    if (obj != NULL)
        text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL) {
        static const char oom[] = "{\"error\":\"internal\",\"message\":"
                                  "\"out of memory\"}";
        resp = MHD_create_response_from_buffer(
            sizeof(oom) - 1, (void *)(uintptr_t)oom, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    } else {
        resp = MHD_create_response_from_buffer(strlen(text), text,
                                               MHD_RESPMEM_MUST_FREE);
    }
    if (resp == NULL) {
        free(text);
        return http_respond(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    http_respond(req, status, resp);
    http_header_add(req, "Content-Type", "application/json; charset=utf-8");
    return status;
}

int http_json_text(struct request *req, int status, char *text, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);

    if (resp == NULL) {
        free(text);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    }
    http_respond(req, status, resp);
    http_header_add(req, "Content-Type", "application/json; charset=utf-8");
    return status;
}

int http_error(struct request *req, int status, const char *code,
               const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return http_json(req, status,
                     json_pack("{s:s, s:s}", "error", code, "message", msg));
}

int http_empty(struct request *req, int status)
{
    return http_respond(req, status, NULL);
}

const char *http_header(const struct request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const struct sockaddr *http_client_addr(const struct request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    return info != NULL ? info->client_addr : NULL;
}

/* Every value of one header, joined with commas (X-Forwarded-For may
 * come in several lines; the right-most hop is in the last). */
struct joined {
    const char *name;
    char *buf;
    size_t len, cap;
    bool any;
};

static enum MHD_Result join_header(void *cls, enum MHD_ValueKind kind,
                                   const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
    struct joined *j = cls;
    size_t need;
    char *p;

    (void)kind;
    (void)key_size;
    if (strcasecmp(key, j->name) != 0)
        return MHD_YES;
    j->any = true;
    /* Both are bounded by HEADERS_MAX: no sum overflows here. */
    need = j->len + value_size + 2;
    if (need > j->cap) {
        if ((p = realloc(j->buf, need + 64)) == NULL)
            return MHD_YES; /* the hops seen so far: junk at worst */
        j->buf = p;
        j->cap = need + 64;
    }
    if (j->len > 0)
        j->buf[j->len++] = ',';
    memcpy(j->buf + j->len, value, value_size);
    j->len += value_size;
    j->buf[j->len] = '\0';
    return MHD_YES;
}

const struct client *http_client(struct request *req)
{
    struct joined xff = {"X-Forwarded-For", NULL, 0, 0, false};
    struct joined fwd = {"Forwarded", NULL, 0, 0, false};

    if (req->client_known)
        return &req->client;
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, join_header, &xff);
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, join_header, &fwd);
    client_identify(req->app->proxies, http_client_addr(req),
                    xff.any ? (xff.buf != NULL ? xff.buf : "") : NULL,
                    fwd.any ? (fwd.buf != NULL ? fwd.buf : "") : NULL,
                    &req->client);
    free(xff.buf);
    free(fwd.buf);
    req->client_known = true;
    return &req->client;
}

const char *http_query(const struct request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

json_t *http_body_object(struct request *req)
{
    const char *ct = http_header(req, "Content-Type");
    json_error_t jerr;
    json_t *obj;

    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        http_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media",
                   "send the body as application/json");
        return NULL;
    }
    obj = json_loadb(req->body != NULL ? req->body : "", req->body_len,
                     JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        http_error(req, MHD_HTTP_BAD_REQUEST, "bad_json",
                   "the body is not a JSON object");
        return NULL;
    }
    return obj;
}

bool http_etag_listed(const char *p, const char *etag)
{
    size_t elen = strlen(etag);

    for (;;) {
        const char *q;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            return false;
        if (strncmp(p, "W/", 2) == 0)
            p += 2; /* weak comparison: the prefix does not count */
        if (*p != '"')
            return false; /* malformed: treat as no match */
        q = strchr(p + 1, '"');
        if (q == NULL)
            return false;
        if ((size_t)(q + 1 - p) == elen && strncmp(p, etag, elen) == 0)
            return true;
        p = q + 1;
    }
}

bool http_not_modified(struct request *req, const char *etag,
                       const char *cache_control)
{
    const char *inm = http_header(req, "If-None-Match");

    if (inm == NULL)
        return false;
    while (*inm == ' ' || *inm == '\t')
        inm++;
    if (strcmp(inm, "*") != 0 && !http_etag_listed(inm, etag))
        return false;
    http_empty(req, MHD_HTTP_NOT_MODIFIED);
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Cache-Control", cache_control);
    return true;
}

int http_file_error(struct request *req, int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP: /* O_NOFOLLOW met a link: not something we serve */
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such file");
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        log_warnx("cannot open a file to serve: %s", strerror(err));
        http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                   "the server is busy; try again shortly");
        http_header_add(req, "Retry-After", "5");
        return req->status;
    default:
        log_warnx("cannot open a file to serve: %s", strerror(err));
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the file cannot be read");
    }
}

int http_db_error(struct request *req, int rc)
{
    if (rc == DB_BUSY) {
        http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                   "the database is busy; try again shortly");
        http_header_add(req, "Retry-After", "2");
        return req->status;
    }
    return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                      "database error");
}

int http_healthz(struct request *req)
{
    struct db *db = db_pool_get(req->app->db);
    struct db_stmt *st = db != NULL ? db_stmt(db, STMT_PING) : NULL;
    int ok = st != NULL && db_step(st) == DB_ROW;

    db_reset(st);
    db_pool_put(req->app->db, db);
    if (db == NULL)
        return http_db_error(req, DB_BUSY);
    if (!ok)
        return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "db_unavailable",
                          "the database does not answer");
    return http_json(req, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
}

/*
 * True if origin is one of --cors-origin's comma-separated origins (or
 * the list holds "*"). Only public routes ever answer cross-origin.
 */
static bool cors_allowed(const struct config *cfg, const char *origin)
{
    const char *p = cfg->cors_origin;
    size_t olen;

    if (origin == NULL || p == NULL || *p == '\0')
        return false;
    olen = strlen(origin);
    while (*p != '\0') {
        size_t n;
        while (*p == ' ' || *p == ',')
            p++;
        n = strcspn(p, ", ");
        if ((n == 1 && *p == '*') || (n == olen && strncmp(p, origin, n) == 0))
            return n > 0;
        p += n;
    }
    return false;
}

static const char cors_expose[] =
    "Location, Upload-Offset, Upload-Length, Upload-Expires, Tus-Resumable, "
    "Tus-Version, Tus-Extension, Tus-Max-Size, Chorus-Receipt";

/* Adds CORS headers to req's response if its origin may have them. */
static void add_cors_headers(struct request *req)
{
    const char *origin = http_header(req, "Origin");

    if (req->match.route == NULL || req->match.route->access != ACCESS_PUBLIC ||
        !cors_allowed(req->app->cfg, origin))
        return;
    MHD_add_response_header(req->response, "Access-Control-Allow-Origin",
                            origin);
    MHD_add_response_header(req->response, "Vary", "Origin");
    MHD_add_response_header(req->response, "Access-Control-Expose-Headers",
                            cors_expose);
}

/*
 * Answers a CORS preflight (OPTIONS with Access-Control-Request-Method)
 * for a public route: 204 with what may be sent, or 403.
 */
static void cors_preflight(struct request *req, const char *want)
{
    struct route_match m;
    const char *origin = http_header(req, "Origin");

    if (router_match(app_routes, app_routes_count, want, req->path, &m, NULL,
                     0) != ROUTER_FOUND ||
        m.route->access != ACCESS_PUBLIC ||
        !cors_allowed(req->app->cfg, origin)) {
        http_error(req, MHD_HTTP_FORBIDDEN, "cors_refused",
                   "this origin may not call this resource");
        return;
    }
    http_empty(req, MHD_HTTP_NO_CONTENT);
    http_header_add(req, "Access-Control-Allow-Origin", origin);
    http_header_add(req, "Vary", "Origin");
    http_header_add(req, "Access-Control-Allow-Methods",
                    "GET, HEAD, POST, PATCH, DELETE, OPTIONS");
    http_header_add(req, "Access-Control-Allow-Headers",
                    "Authorization, Content-Type, Tus-Resumable, "
                    "Upload-Length, Upload-Metadata, Upload-Offset, "
                    "Upload-Defer-Length, Upload-Concat, "
                    "X-HTTP-Method-Override, X-Requested-With");
    http_header_add(req, "Access-Control-Max-Age", "86400");
}

void http_embeddable(struct request *req)
{
    req->embeddable = true;
}

/* True if origin (len bytes of --cors-origin) can stand in a CSP source
 * list as it is: "*", or scheme://host[:port] of plain characters. */
static bool csp_source_ok(const char *origin, size_t len)
{
    const char *sep;

    if (len == 1 && origin[0] == '*')
        return true;
    sep = memmem(origin, len, "://", 3);
    if (len > 200 || sep == NULL || sep == origin)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = origin[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
              c == '/' || c == '*'))
            return false;
    }
    return true;
}

/*
 * The Content-Security-Policy of an embeddable page: frame-ancestors
 * lists the --cors-origin sites. Returns false (the strict policy
 * stands) if there are none fit for it.
 */
static bool embed_csp(const struct config *cfg, char *out, size_t len)
{
    const char *p = cfg->cors_origin;
    size_t used = (size_t)snprintf(out, len, "%s", CSP_HEAD);
    int n = 0;

    while (p != NULL && *p != '\0') {
        size_t k;
        while (*p == ' ' || *p == ',')
            p++;
        k = strcspn(p, ", ");
        if (k > 0 && csp_source_ok(p, k) &&
            used + k + 2 + sizeof(CSP_TAIL) < len) {
            used +=
                (size_t)snprintf(out + used, len - used, " %.*s", (int)k, p);
            n++;
        } else if (k > 0) {
            log_warnx("--cors-origin: \"%.*s\" cannot frame the upload page",
                      k > 60 ? 60 : (int)k, p);
        }
        p += k;
    }
    snprintf(out + used, len - used, "%s", CSP_TAIL);
    return n > 0;
}

/* Adds the headers every response carries, unless the handler set them;
 * an embeddable page gets its own CSP and no X-Frame-Options. */
static void add_common_headers(struct request *req)
{
    struct MHD_Response *resp = req->response;
    char csp[2048];
    bool framed =
        req->embeddable &&
        MHD_get_response_header(resp, "Content-Security-Policy") == NULL &&
        embed_csp(req->app->cfg, csp, sizeof(csp));

    if (framed)
        MHD_add_response_header(resp, "Content-Security-Policy", csp);
    for (size_t i = 0; i < ARRAY_LEN(security_headers); i++)
        if (!(framed &&
              strcmp(security_headers[i][0], "X-Frame-Options") == 0) &&
            MHD_get_response_header(resp, security_headers[i][0]) == NULL)
            MHD_add_response_header(resp, security_headers[i][0],
                                    security_headers[i][1]);
    if (MHD_get_response_header(resp, "Cache-Control") == NULL)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
}

static enum MHD_Result queue(struct request *req)
{
    enum MHD_Result r;

    if (req->response == NULL)
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "the request was not answered");
    add_common_headers(req);
    add_cors_headers(req);
    r = MHD_queue_response(req->conn, (unsigned int)req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    req->queued = true;
    return r;
}

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind,
                                  const char *key, size_t key_size,
                                  const char *value, size_t value_size)
{
    size_t *total = cls;

    (void)kind;
    (void)key;
    (void)value;
    *total += key_size + value_size + 4;
    return MHD_YES;
}

static bool is_safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
           strcmp(m, "OPTIONS") == 0;
}

/*
 * The access column of the route table, checked here and nowhere else:
 * 401 without a live session, 403 with the wrong role, and for anything
 * that changes state 403 without the session's X-CSRF-Token or from
 * another site. Returns 0 if the request may go on.
 */
static int check_access(struct request *req)
{
    const struct route *route = req->match.route;
    const char *site = http_header(req, "Sec-Fetch-Site");
    const char *cookie, *csrf;
    struct db *db;
    int rc;

    /* Browsers say where a request comes from; no other site may change
     * anything here, logged in or not, but the pages of --cors-origin
     * may call the public API (uploads and receipts). */
    if (!is_safe_method(req->method) && site != NULL &&
        strcmp(site, "cross-site") == 0 &&
        !(route->access == ACCESS_PUBLIC &&
          cors_allowed(req->app->cfg, http_header(req, "Origin"))))
        return http_error(req, MHD_HTTP_FORBIDDEN, "cross_site",
                          "requests from other sites may not change "
                          "anything");
    if (route->access == ACCESS_PUBLIC)
        return 0;
    cookie = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND,
                                         "chorus_session");
    if (cookie == NULL || strlen(cookie) != UTIL_TOKEN_LEN)
        return http_error(req, MHD_HTTP_UNAUTHORIZED, "login_required",
                          "log in first");
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = auth_session_get(db, cookie, req->app->cfg->session_idle,
                          &req->session);
    /* The user's campaigns, which every panel route applies. */
    if (rc == 1 && req->session.role != ROLE_ADMIN &&
        campaign_scope_of(db, req->session.user_id, req->session.campaigns,
                          sizeof(req->session.campaigns)) < 0)
        rc = -1;
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    if (rc == 0)
        return http_error(req, MHD_HTTP_UNAUTHORIZED, "login_required",
                          "the session ended; log in again");
    req->has_session = true;
    if (!auth_allows(req->session.role, (int)route->access))
        return http_error(req, MHD_HTTP_FORBIDDEN, "forbidden",
                          "your role may not do this");
    if (!is_safe_method(req->method)) {
        csrf = http_header(req, "X-CSRF-Token");
        if (csrf == NULL || strlen(csrf) != UTIL_TOKEN_LEN ||
            util_memcmp_ct(csrf, req->session.csrf, UTIL_TOKEN_LEN) != 0)
            return http_error(req, MHD_HTTP_FORBIDDEN, "csrf",
                              "the X-CSRF-Token header is missing or wrong");
    }
    return 0;
}

/*
 * The first call for a request: headers are in. Routes it, checks the
 * bounds and the route's access, and lets a streaming route look at its
 * headers. Leaves req->status 0 if the body (if any) should be read.
 */
static void begin_request(struct request *req)
{
    char allow[64];
    size_t headers = strlen(req->path);
    const char *cl, *override, *preflight;
    int rc;

    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, sum_header,
                                &headers);
    if (headers > HEADERS_MAX) {
        http_error(req, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                   "headers_too_large", "the request headers are too large");
        return;
    }
    /* tus lets clients that cannot send PATCH or DELETE tunnel them. */
    override = http_header(req, "X-HTTP-Method-Override");
    if (override != NULL && strcmp(req->method, "POST") == 0 &&
        (strcmp(override, "PATCH") == 0 || strcmp(override, "DELETE") == 0))
        req->method = override;
    preflight = http_header(req, "Access-Control-Request-Method");
    if (preflight != NULL && strcmp(req->method, "OPTIONS") == 0) {
        cors_preflight(req, preflight);
        return;
    }
    rc = router_match(app_routes, app_routes_count, req->method, req->path,
                      &req->match, allow, sizeof(allow));
    if (rc == ROUTER_NOT_FOUND) {
        http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such resource");
        return;
    }
    if (rc == ROUTER_BAD_METHOD) {
        http_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                   "%s is not allowed here", req->method);
        http_header_add(req, "Allow", allow);
        return;
    }
    if (check_access(req) != 0)
        return;
    cl = http_header(req, "Content-Length");
    if (req->match.route->body_mode == BODY_JSON && cl != NULL &&
        strtoull(cl, NULL, 10) > HTTP_JSON_BODY_MAX) {
        http_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                   "the request body is over %d bytes", HTTP_JSON_BODY_MAX);
        return;
    }
    if (req->match.route->begin != NULL &&
        (rc = req->match.route->begin(req)) != 0 && req->status == 0)
        http_empty(req, rc);
}

/* A chunk of the request body; returns a status to stop, else 0. */
static int take_body(struct request *req, const char *data, size_t size)
{
    const struct route *route = req->match.route;

    switch (route->body_mode) {
    case BODY_NONE:
        return http_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "unexpected_body",
                          "this request takes no body");
    case BODY_JSON: {
        size_t end;
        char *p;

        if (__builtin_add_overflow(req->body_len, size, &end) ||
            end > HTTP_JSON_BODY_MAX)
            return http_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                              "the request body is over %d "
                              "bytes",
                              HTTP_JSON_BODY_MAX);
        p = realloc(req->body, end + 1);
        if (p == NULL)
            return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                              "out of memory");
        memcpy(p + req->body_len, data, size);
        req->body = p;
        req->body_len += size;
        p[req->body_len] = '\0';
        return 0;
    }
    case BODY_STREAM: {
        int rc = route->body(req, data, size);

        if (rc != 0 && req->status == 0)
            http_empty(req, rc);
        return rc;
    }
    }
    return 0;
}

/* True if the request announced a body. */
static bool has_body(const struct request *req)
{
    const char *cl = http_header(req, "Content-Length");

    return (cl != NULL && strcmp(cl, "0") != 0) ||
           http_header(req, "Transfer-Encoding") != NULL;
}

/* The reaper's watch of conn, or NULL. */
static struct reaper_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

/* Marks conn as owing headers since now_ms, or (0) as being served. */
static void watch_set(struct MHD_Connection *conn, int64_t now_ms)
{
    reaper_owing(watch_of(conn), now_ms);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct request *req = *con_cls;

    (void)version;
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->conn = conn;
        req->app = srv->app;
        req->method = method;
        req->path = url;
        req->start_ms = util_mono_ms();
        *con_cls = req;
        atomic_fetch_add(&srv->in_flight, 1);
        watch_set(conn, 0);
        /* Past the limit a client hears why, rather than being cut. */
        if (atomic_load(&srv->connections) > srv->app->cfg->max_connections) {
            http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                       "the server is busy; try again shortly");
            http_header_add(req, "Retry-After", "5");
            http_header_add(req, "Connection", "close");
            return queue(req);
        }
        begin_request(req);
        /*
         * An early answer to a request with a body goes out now, and the
         * connection is closed rather than the body read; one without a
         * body waits for the final call so the connection stays open.
         */
        if (req->status != 0 && has_body(req))
            return queue(req);
        /* From now on the body must keep up its minimum rate. */
        if (has_body(req))
            reaper_body(watch_of(conn), util_mono_ms());
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* After an early answer the rest of the body is dropped. */
        int rc;

        reaper_body_bytes(watch_of(conn), *upload_data_size);
        rc = req->status == 0 ? take_body(req, upload_data, *upload_data_size)
                              : 0;
        *upload_data_size = 0;
        /*
         * libmicrohttpd cannot answer in the middle of a body. A full disk
         * is answered once the body is drained (the client should learn
         * why); anything else (too long, too slow) cuts the connection.
         */
        if (rc != 0 && rc != MHD_HTTP_INSUFFICIENT_STORAGE)
            return MHD_NO;
        return MHD_YES;
    }
    if (req->queued)
        return MHD_YES;
    reaper_body(watch_of(conn), 0); /* the body is in */
    if (req->status == 0)
        req->match.route->handler(req);
    return queue(req);
}

/* Copies s into out with control and non-ASCII bytes escaped. */
static void log_safe(const char *s, char *out, size_t outlen)
{
    size_t o = 0;

    for (; *s != '\0' && o + 5 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '\\')
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct request *req = *con_cls;
    char path[256];

    if (req == NULL)
        return;
    /* The access log: no client address, no query string. */
    log_safe(req->path, path, sizeof(path));
    log_info("%s %s %d %lldms%s", req->method, path, req->status,
             (long long)(util_mono_ms() - req->start_ms),
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK      ? ""
             : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timed out)"
                                                             : " (cut off)");
    req->delivered = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (req->ctx_free != NULL)
        req->ctx_free(req->ctx);
    if (req->response != NULL)
        MHD_destroy_response(req->response);
    free(req->body);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
    /* Kept alive, the connection owes the next request's headers. */
    reaper_body(watch_of(conn), 0);
    watch_set(conn, util_mono_ms());
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes %XX in the path and query in place, once, as libmicrohttpd
 * would, except that %00 stays as it is: a NUL would silently cut the
 * path short ("/static/a.html%00.png").
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *r = s, *w = s;

    (void)cls;
    (void)conn;
    while (*r != '\0') {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 &&
            (lo = hexval(r[2])) >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        atomic_fetch_add(&srv->connections, 1);
        /* Without memory it goes unwatched: the idle timeout still holds. */
        if (info != NULL)
            *socket_context = reaper_watch(srv->reaper, info->connect_fd);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&srv->connections, 1);
        reaper_unwatch(srv->reaper, *socket_context);
        *socket_context = NULL;
    }
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* libmicrohttpd's messages may name a client: debug level only. */
    log_vmsg(LOG_LVL_DEBUG, 0, fmt, ap);
}

int http_start(struct app *app, struct http_server **out)
{
    const struct config *cfg = app->cfg;
    struct http_server *srv = NULL;
    struct reaper_limits limits;
    struct sockaddr_storage ss;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG;

    *out = NULL;
    memset(&ss, 0, sizeof(ss));
    if (strchr(cfg->listen_host, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)cfg->listen_port);
        inet_pton(AF_INET6, cfg->listen_host, &s6->sin6_addr);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)cfg->listen_port);
        inet_pton(AF_INET, cfg->listen_host, &s4->sin_addr);
    }
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return -1;
    srv->app = app;
    limits.header_timeout_s = cfg->header_timeout;
    limits.min_body_rate = cfg->min_body_rate;
    limits.body_window_s = cfg->body_rate_window;
    if (reaper_start(&limits, &srv->reaper) != 0) {
        free(srv);
        return -1;
    }
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        /* A margin above --max-connections to answer 503 with; beyond
         * it libmicrohttpd closes new connections at once. */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections + 64,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 256u, MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        log_warnx("cannot listen on %s", cfg->listen);
        reaper_stop(srv->reaper);
        free(srv);
        return -1;
    }
    *out = srv;
    return 0;
}

int http_port(const struct http_server *srv)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);

    return info != NULL ? info->port : -1;
}

void http_stop(struct http_server *srv, int grace_ms)
{
    MHD_socket fd;
    int64_t deadline;

    if (srv == NULL)
        return;
    fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    deadline = util_mono_ms() + grace_ms;
    while (atomic_load(&srv->in_flight) > 0 && util_mono_ms() < deadline)
        usleep(20 * 1000);
    if (atomic_load(&srv->in_flight) > 0)
        log_info("cutting %d requests still in flight",
                 atomic_load(&srv->in_flight));
    /* Every connection is closed, and unwatched, once the daemon stops. */
    MHD_stop_daemon(srv->daemon);
    reaper_stop(srv->reaper);
    free(srv);
}
