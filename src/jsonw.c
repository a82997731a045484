#include "chorus/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/util.h"

void jsonw_init(struct jsonw *w)
{
    memset(w, 0, sizeof(*w));
}

static void grow_put(struct jsonw *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = (w->cap + n + 1) * 2;
        char *p = realloc(w->buf, cap < 4096 ? 4096 : cap);
        if (p == NULL) {
            w->failed = true;
            return;
        }
        w->buf = p;
        w->cap = cap < 4096 ? 4096 : cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Inline for the common case, room left (a page of the panel's list is
 * some 2 000 of these). */
static inline void put(struct jsonw *w, const char *s, size_t n)
{
    if (__builtin_expect(w->len + n + 1 <= w->cap, 1)) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = '\0';
    } else {
        grow_put(w, s, n);
    }
}

/* Separates a value from the one before it at this level. */
static void value_start(struct jsonw *w)
{
    if (w->comma)
        put(w, ",", 1);
    w->comma = true;
}

void jsonw_open(struct jsonw *w, char c)
{
    value_start(w);
    put(w, &c, 1);
    w->comma = false;
}

void jsonw_close(struct jsonw *w, char c)
{
    put(w, &c, 1);
    w->comma = true;
}

static void put_string(struct jsonw *w, const char *s)
{
    const char *run = s;

    put(w, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"':
            put(w, "\\\"", 2);
            break;
        case '\\':
            put(w, "\\\\", 2);
            break;
        case '\n':
            put(w, "\\n", 2);
            break;
        case '\t':
            put(w, "\\t", 2);
            break;
        case '\r':
            put(w, "\\r", 2);
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(w, esc, 6);
        }
    }
    put(w, run, (size_t)(s - run));
    put(w, "\"", 1);
}

void jsonw_keyn(struct jsonw *w, const char *key, size_t len)
{
    value_start(w);
    put(w, "\"", 1);
    put(w, key, len);
    put(w, "\":", 2);
    w->comma = false;
}

void jsonw_str(struct jsonw *w, const char *s)
{
    if (s == NULL) {
        jsonw_null(w);
        return;
    }
    value_start(w);
    put_string(w, s);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    char num[24];
    char *p = num + sizeof(num);
    /* Digits from the right, in unsigned arithmetic (INT64_MIN too). */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        *--p = '-';
    value_start(w);
    put(w, p, (size_t)(num + sizeof(num) - p));
}

void jsonw_real(struct jsonw *w, double v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%.6g", v);

    value_start(w);
    put(w, num, (size_t)n);
}

void jsonw_bool(struct jsonw *w, bool v)
{
    value_start(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(struct jsonw *w)
{
    value_start(w);
    put(w, "null", 4);
}

void jsonw_time(struct jsonw *w, int64_t t)
{
    char when[21];

    if (t <= 0) {
        jsonw_null(w);
        return;
    }
    util_iso8601(t, when);
    jsonw_str(w, when);
}

char *jsonw_finish(struct jsonw *w, size_t *len)
{
    char *out = w->failed ? NULL : w->buf;

    if (out == NULL)
        free(w->buf);
    *len = out != NULL ? w->len : 0;
    jsonw_init(w);
    return out;
}
