#include "chorus/router.h"

#include <stdio.h>
#include <string.h>

#include "chorus/account.h"
#include "chorus/campaign.h"
#include "chorus/export.h"
#include "chorus/http.h"
#include "chorus/media.h"
#include "chorus/multipart.h"
#include "chorus/panel.h"
#include "chorus/receipt.h"
#include "chorus/static.h"
#include "chorus/tus.h"

/* The routes of Chorus, matched in order. */
const struct route chorus_routes[] = {
    {"GET", "/healthz", http_healthz, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/", static_index, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/panel", static_panel, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/receipt", static_receipt, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/campaign", campaign_get, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"GET", "/static/*", static_file, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},

    /* Contributors: tus uploads, the plain form, receipts. */
    {"OPTIONS", "/api/v1/uploads", tus_options, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"POST", "/api/v1/uploads", tus_create, ACCESS_PUBLIC, BODY_STREAM,
     tus_create_begin, tus_body},
    {"HEAD", "/api/v1/uploads/{id}", tus_head, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"PATCH", "/api/v1/uploads/{id}", tus_patch, ACCESS_PUBLIC, BODY_STREAM,
     tus_patch_begin, tus_body},
    {"DELETE", "/api/v1/uploads/{id}", tus_delete, ACCESS_PUBLIC, BODY_NONE,
     NULL, NULL},
    {"POST", "/api/v1/messages", multipart_finish, ACCESS_PUBLIC, BODY_STREAM,
     multipart_begin, multipart_body},
    {"GET", "/api/v1/receipt", receipt_get, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"DELETE", "/api/v1/receipt", receipt_delete, ACCESS_PUBLIC, BODY_NONE,
     NULL, NULL},

    /* The panel: sessions, review, media, users, audit, metrics. */
    {"POST", "/api/v1/session", account_login, ACCESS_PUBLIC, BODY_JSON, NULL,
     NULL},
    {"GET", "/api/v1/session", account_whoami, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"DELETE", "/api/v1/session", account_logout, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"GET", "/api/v1/messages", panel_list, ACCESS_USER, BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/messages/{id}", panel_get, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"POST", "/api/v1/messages/{id}/approve", panel_approve, ACCESS_MODERATOR,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/reject", panel_reject, ACCESS_MODERATOR,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/reopen", panel_reopen, ACCESS_ADMIN,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/retry", panel_retry, ACCESS_ADMIN,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/reshared", panel_reshared, ACCESS_COMMS,
     BODY_JSON, NULL, NULL},
    {"GET", "/api/v1/export.zip", export_zip, ACCESS_COMMS, BODY_NONE, NULL,
     NULL},
    {"GET", "/media/{id}/{file}", media_get, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"GET", "/api/v1/users", account_users_list, ACCESS_ADMIN, BODY_NONE, NULL,
     NULL},
    {"POST", "/api/v1/users", account_users_create, ACCESS_ADMIN, BODY_JSON,
     NULL, NULL},
    {"PATCH", "/api/v1/users/{name}", account_users_update, ACCESS_ADMIN,
     BODY_JSON, NULL, NULL},
    {"DELETE", "/api/v1/users/{name}", account_users_disable, ACCESS_ADMIN,
     BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/audit", panel_audit, ACCESS_ADMIN, BODY_NONE, NULL, NULL},
    {"GET", "/metrics", panel_metrics, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
};
const size_t chorus_routes_count =
    sizeof(chorus_routes) / sizeof(chorus_routes[0]);

/* Length of the segment starting at s (up to '/' or the end). */
static size_t seglen(const char *s)
{
    const char *slash = strchr(s, '/');

    return slash != NULL ? (size_t)(slash - s) : strlen(s);
}

/* Matches path against pattern, filling m's params; 1 if it matches. */
static int match_pattern(const char *pattern, const char *path,
                         struct route_match *m)
{
    const char *p = pattern, *s = path;

    m->nparams = 0;
    if (*p != '/' || *s != '/')
        return 0;
    for (;;) {
        size_t plen, slen;

        p++; /* skip the '/' of both */
        s++;
        if (strcmp(p, "*") == 0) {
            if (m->nparams == ROUTE_MAX_PARAMS)
                return 0;
            m->params[m->nparams].name = p;
            m->params[m->nparams].name_len = 1;
            m->params[m->nparams].value = s;
            m->params[m->nparams].len = strlen(s);
            m->nparams++;
            return 1;
        }
        plen = seglen(p);
        slen = seglen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || m->nparams == ROUTE_MAX_PARAMS)
                return 0;
            m->params[m->nparams].name = p + 1;
            m->params[m->nparams].name_len = plen - 2;
            m->params[m->nparams].value = s;
            m->params[m->nparams].len = slen;
            m->nparams++;
        } else if (plen != slen || strncmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
        if (*p == '\0' || *s == '\0')
            return *p == '\0' && *s == '\0';
    }
}

int router_match(const struct route *table, size_t n, const char *method,
                 const char *path, struct route_match *m, char *allow,
                 size_t allowlen)
{
    const struct route *get_route = NULL;
    struct route_match get_match;
    size_t used = 0;
    int path_seen = 0;

    memset(m, 0, sizeof(*m));
    if (allow != NULL && allowlen > 0)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        struct route_match cur;

        if (!match_pattern(table[i].pattern, path, &cur))
            continue;
        cur.route = &table[i];
        if (strcmp(table[i].method, method) == 0) {
            *m = cur;
            return ROUTER_FOUND;
        }
        if (get_route == NULL && strcmp(method, "HEAD") == 0 &&
            strcmp(table[i].method, "GET") == 0) {
            get_route = &table[i];
            get_match = cur;
        }
        if (allow != NULL && used < allowlen) {
            int r = snprintf(allow + used, allowlen - used, "%s%s",
                             path_seen ? ", " : "", table[i].method);
            if (r > 0)
                used += (size_t)r;
            if (strcmp(table[i].method, "GET") == 0 && used < allowlen) {
                r = snprintf(allow + used, allowlen - used, ", HEAD");
                if (r > 0)
                    used += (size_t)r;
            }
        }
        path_seen = 1;
    }
    if (get_route != NULL) {
        *m = get_match;
        return ROUTER_FOUND;
    }
    return path_seen ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}

int router_param(const struct route_match *m, const char *name, char *out,
                 size_t outlen)
{
    size_t nlen = strlen(name);

    for (int i = 0; i < m->nparams; i++) {
        if (m->params[i].name_len != nlen ||
            strncmp(m->params[i].name, name, nlen) != 0)
            continue;
        if (m->params[i].len >= outlen)
            return -1;
        memcpy(out, m->params[i].value, m->params[i].len);
        out[m->params[i].len] = '\0';
        return (int)m->params[i].len;
    }
    return -1;
}
