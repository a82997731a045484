#include "chorus/router.h"

#include <stdio.h>
#include <string.h>

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
