#include "chorus/page.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chorus/app.h"
#include "chorus/campaign.h"
#include "chorus/campaign_api.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/util.h"

#define TEMPLATE_MAX (256 * 1024)
#define VAR_MAX 24

/* One "{{key}}" of a template and what replaces it. */
struct var {
    const char *key;
    const char *value; /* NULL: "" */
};

/* A page being rendered: its template's values, and the strings of the
 * visitor's language (and English, for what that lacks). */
struct page {
    struct var vars[VAR_MAX];
    int nvars;
    char lang[CAMPAIGN_LANG_LEN]; /* the visitor's, for the page's words */
    json_t *strings, *english;
    char *owned[VAR_MAX]; /* values to free */
    int nowned;
};

long page_escape(const char *s, char *out, size_t len)
{
    size_t o = 0;

    if (len == 0)
        return -1;
    for (; s != NULL && *s != '\0'; s++) {
        const char *rep = NULL;
        char one[2] = {*s, '\0'};
        size_t n;

        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            rep = one;
        }
        n = strlen(rep);
        if (o + n >= len) {
            out[o] = '\0';
            return -1;
        }
        memcpy(out + o, rep, n);
        o += n;
    }
    out[o] = '\0';
    return (long)o;
}

static void set(struct page *p, const char *key, const char *value)
{
    for (int i = 0; i < p->nvars; i++)
        if (strcmp(p->vars[i].key, key) == 0) {
            p->vars[i].value = value;
            return;
        }
    if (p->nvars < VAR_MAX) {
        p->vars[p->nvars].key = key;
        p->vars[p->nvars++].value = value;
    }
}

/* Sets key to a copy of value, freed with the page. */
static void set_copy(struct page *p, const char *key, const char *value)
{
    char *copy = value != NULL ? strdup(value) : NULL;

    if (copy != NULL && p->nowned < VAR_MAX)
        p->owned[p->nowned++] = copy;
    else {
        free(copy);
        copy = NULL;
    }
    set(p, key, copy);
}

static void page_release(struct page *p)
{
    for (int i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    json_decref(p->strings);
    json_decref(p->english);
}

/* Reads web/<name> into a NUL-terminated buffer (malloc'd). */
static char *read_web(const struct app *app, const char *name, size_t *len)
{
    char path[PATH_MAX];
    struct stat st;
    char *buf = NULL;
    ssize_t n;
    int fd;

    if (util_fmt(path, sizeof(path), "%s/%s", app->web_dir, name) != 0 ||
        (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size < TEMPLATE_MAX &&
        (buf = malloc((size_t)st.st_size + 1)) != NULL) {
        n = read(fd, buf, (size_t)st.st_size);
        if (n != st.st_size) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    close(fd);
    return buf;
}

/* True if the pages speak lang (a language file is there for it). */
static bool page_speaks(const struct app *app, const char *lang)
{
    char path[PATH_MAX];
    size_t n = strlen(lang);

    if (n < 2 || n > 3)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lang[i] < 'a' || lang[i] > 'z')
            return false;
    return util_fmt(path, sizeof(path), "%s/i18n/%s.json", app->web_dir,
                    lang) == 0 &&
           access(path, R_OK) == 0;
}

/*
 * The visitor's language: ?lang=, else the first of Accept-Language the
 * pages speak (quality values aside: browsers list by preference), else
 * "en".
 */
static void pick_lang(struct request *req, char out[CAMPAIGN_LANG_LEN])
{
    const char *q = http_query(req, "lang");
    const char *al = http_header(req, "Accept-Language");
    char tag[8];

    if (q != NULL && strlen(q) < sizeof(tag)) {
        size_t n = strcspn(q, "-_");
        snprintf(tag, sizeof(tag), "%.*s", (int)n, q);
        for (char *c = tag; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        if (page_speaks(req->app, tag)) {
            snprintf(out, CAMPAIGN_LANG_LEN, "%s", tag);
            return;
        }
    }
    for (const char *p = al; p != NULL && *p != '\0';) {
        size_t n, k;

        while (*p == ' ' || *p == ',')
            p++;
        n = strcspn(p, ",");
        k = strcspn(p, "-_;, ");
        if (k > 0 && k < sizeof(tag) && strncmp(p + k, ";q=0", 4) != 0) {
            snprintf(tag, sizeof(tag), "%.*s", (int)k, p);
            for (char *c = tag; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            if (page_speaks(req->app, tag)) {
                snprintf(out, CAMPAIGN_LANG_LEN, "%s", tag);
                return;
            }
        }
        p += n;
    }
    snprintf(out, CAMPAIGN_LANG_LEN, "en");
}

/* Loads the page strings of p->lang (and English). */
static void load_strings(struct page *p, const struct app *app)
{
    char path[PATH_MAX];

    if (util_fmt(path, sizeof(path), "%s/i18n/%s.json", app->web_dir,
                 p->lang) == 0)
        p->strings = json_load_file(path, 0, NULL);
    if (util_fmt(path, sizeof(path), "%s/i18n/en.json", app->web_dir) == 0)
        p->english = json_load_file(path, 0, NULL);
}

/* A page string in the visitor's language, else English, else key. */
static const char *word(const struct page *p, const char *key)
{
    const char *s = json_string_value(json_object_get(p->strings, key));

    if (s == NULL)
        s = json_string_value(json_object_get(p->english, key));
    return s != NULL ? s : key;
}

/* Renders tmpl with p's values into a new buffer (*len bytes). */
static char *render(const struct page *p, const char *tmpl, size_t *len)
{
    size_t cap = strlen(tmpl) + 4096, used = 0;
    char *out = malloc(cap);
    const char *s = tmpl;

    if (out == NULL)
        return NULL;
    for (;;) {
        const char *open = strstr(s, "{{"), *close, *value = NULL;
        size_t lit = open != NULL ? (size_t)(open - s) : strlen(s), need;
        char key[40];

        /* The literal part, then the value, escaped. */
        need = lit + 1;
        close = open != NULL ? strstr(open + 2, "}}") : NULL;
        if (close != NULL && (size_t)(close - open - 2) < sizeof(key)) {
            snprintf(key, sizeof(key), "%.*s", (int)(close - open - 2),
                     open + 2);
            for (int i = 0; i < p->nvars; i++)
                if (strcmp(p->vars[i].key, key) == 0)
                    value = p->vars[i].value;
            need += value != NULL ? strlen(value) * 6 : 0;
        }
        if (used + need > cap) {
            char *bigger;
            cap = (used + need) * 2;
            if ((bigger = realloc(out, cap)) == NULL) {
                free(out);
                return NULL;
            }
            out = bigger;
        }
        memcpy(out + used, s, lit);
        used += lit;
        if (open == NULL)
            break;
        if (close == NULL || (size_t)(close - open - 2) >= sizeof(key)) {
            /* Not a marker: the braces stay as they are. */
            memcpy(out + used, "{{", 2);
            used += 2;
            s = open + 2;
            continue;
        }
        if (value != NULL)
            used += (size_t)page_escape(value, out + used, cap - used);
        s = close + 2;
    }
    out[used] = '\0';
    *len = used;
    return out;
}

/* Answers the rendered page as HTML, with an ETag of its bytes. */
static int answer(struct request *req, char *html, size_t len, const char *type)
{
    unsigned char h[16];
    char etag[40];
    struct MHD_Response *resp;

    crypto_generichash(h, sizeof(h), (const unsigned char *)html, len, NULL, 0);
    snprintf(etag, sizeof(etag), "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", h[0],
             h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
    if (http_not_modified(req, etag, "no-cache")) {
        free(html);
        return req->status;
    }
    resp = MHD_create_response_from_buffer(len, html, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(html);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    }
    http_respond(req, MHD_HTTP_OK, resp);
    http_header_add(req, "Content-Type", type);
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Cache-Control", "no-cache");
    http_header_add(req, "Vary", "Accept-Language");
    return req->status;
}

/*
 * Finds the campaign of the request ({slug}, or the default on "/") and
 * its texts in the visitor's language. Returns 1, or 0 with the answer
 * (404, 500) given.
 */
static int load(struct request *req, struct campaign *c, json_t **texts,
                struct page *p)
{
    char slug[CAMPAIGN_SLUG_MAX + 2] = CAMPAIGN_DEFAULT_SLUG;
    struct db *db;
    int rc;

    *texts = NULL;
    if (req->match.nparams > 0 &&
        router_param(&req->match, "slug", slug, sizeof(slug)) < 0) {
        http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such campaign");
        return 0;
    }
    if ((db = db_pool_get(req->app->db)) == NULL) {
        http_db_error(req, DB_BUSY);
        return 0;
    }
    rc = campaign_find(db, slug, c);
    pick_lang(req, p->lang);
    if (rc == 1 && (*texts = campaign_texts_in(db, c, p->lang)) == NULL)
        rc = DB_ERROR;
    db_pool_put(req->app->db, db);
    if (rc < 0) {
        http_db_error(req, rc);
        return 0;
    }
    if (rc == 0) {
        http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such campaign");
        return 0;
    }
    load_strings(p, req->app);
    return 1;
}

/* A text of texts, or NULL. */
static const char *text(const json_t *texts, const char *key)
{
    return json_string_value(json_object_get(texts, key));
}

/* The values every campaign page has: language, titles, theme, logo. */
static void common_vars(struct page *p, const struct campaign *c,
                        const json_t *texts, char *buf, size_t len)
{
    set(p, "lang", p->lang);
    set(p, "slug", c->slug);
    set(p, "text_lang", text(texts, "lang"));
    set(p, "title", text(texts, "title"));
    set(p, "theme", NULL);
    if (util_fmt(buf, len, "/c/%s/theme.css", c->slug) == 0)
        set(p, "theme", buf);
    set(p, "logo_hidden", c->logo_at > 0 ? "" : "hidden");
    set(p, "logo_src", "data:,");
    if (c->logo_at > 0) {
        char src[128];
        /* The time it was made busts caches when it changes. */
        snprintf(src, sizeof(src), "/api/v1/campaigns/%s/logo.png?v=%lld",
                 c->slug, (long long)c->logo_at);
        set_copy(p, "logo_src", src);
    }
}

int page_upload(struct request *req)
{
    struct page p;
    struct campaign c;
    json_t *texts = NULL;
    char *tmpl = NULL, *html, theme[96], home[64], when[21], date[32];
    char closed[512];
    enum campaign_state state;
    size_t len;

    memset(&p, 0, sizeof(p));
    if (!load(req, &c, &texts, &p))
        goto out;
    if ((tmpl = read_web(req->app, "index.html", &len)) == NULL) {
        http_file_error(req, errno != 0 ? errno : ENOENT);
        goto out;
    }
    state = campaign_state_at(&c, util_now());
    common_vars(&p, &c, texts, theme, sizeof(theme));
    set(&p, "intro", text(texts, "intro"));
    set(&p, "intro_hidden", text(texts, "intro") != NULL ? "" : "hidden");
    set(&p, "consent_text", text(texts, "consent"));
    set(&p, "consent_language", text(texts, "consent_language"));
    set(&p, "consent_version", c.consent_version);
    set(&p, "state", campaign_state_name(state));
    snprintf(home, sizeof(home), "%s%s",
             c.id == CAMPAIGN_DEFAULT_ID ? "/" : "/c/",
             c.id == CAMPAIGN_DEFAULT_ID ? "" : c.slug);
    set(&p, "home", home);
    set(&p, "form_hidden", state == CAMPAIGN_OPEN ? "" : "hidden");
    set(&p, "closed_hidden", state == CAMPAIGN_OPEN ? "hidden" : "");
    set(&p, "closed_heading", NULL);
    set(&p, "closed_text", NULL);
    if (state == CAMPAIGN_CLOSED) {
        set(&p, "closed_heading", word(&p, "closed_heading"));
        set(&p, "closed_text", word(&p, "closed_text"));
    } else if (state == CAMPAIGN_NOT_YET_OPEN) {
        /* "{date}" in the sentence: the day and time, in UTC. */
        const char *s = word(&p, "soon_text"), *at = strstr(s, "{date}");
        util_iso8601(c.opens_at, when);
        snprintf(date, sizeof(date), "%.10s %.5s UTC", when, when + 11);
        if (at != NULL)
            snprintf(closed, sizeof(closed), "%.*s%s%s", (int)(at - s), s, date,
                     at + 6);
        else
            snprintf(closed, sizeof(closed), "%s", s);
        set(&p, "closed_heading", word(&p, "soon_heading"));
        set(&p, "closed_text", closed);
    }
    if ((html = render(&p, tmpl, &len)) == NULL) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "out of memory");
        goto out;
    }
    answer(req, html, len, "text/html; charset=utf-8");
    http_embeddable(req);
out:
    free(tmpl);
    json_decref(texts);
    page_release(&p);
    return req->status;
}

int page_poster(struct request *req)
{
    struct page p;
    struct campaign c;
    json_t *texts = NULL;
    char *tmpl = NULL, *html, theme[96], url[1024], qr[128];
    const char *shown;
    size_t len;
    bool have_url;

    memset(&p, 0, sizeof(p));
    if (!load(req, &c, &texts, &p))
        goto out;
    if ((tmpl = read_web(req->app, "poster.html", &len)) == NULL) {
        http_file_error(req, errno != 0 ? errno : ENOENT);
        goto out;
    }
    common_vars(&p, &c, texts, theme, sizeof(theme));
    set(&p, "cta",
        text(texts, "cta") != NULL ? text(texts, "cta") : text(texts, "title"));
    have_url = campaign_api_url(req->app->cfg, c.slug, url, sizeof(url)) == 0;
    /* The address as people type it: no scheme. */
    shown = strstr(url, "://") != NULL ? strstr(url, "://") + 3 : url;
    set(&p, "url", have_url ? url : NULL);
    set(&p, "short_url", have_url ? shown : NULL);
    snprintf(qr, sizeof(qr), "/api/v1/campaigns/%s/qr.svg", c.slug);
    set(&p, "qr_src", have_url ? qr : "data:,");
    set(&p, "qr_hidden", have_url ? "" : "hidden");
    set(&p, "no_url_hidden", have_url ? "hidden" : "");
    set(&p, "scan_text", word(&p, "poster_scan"));
    set(&p, "or_text", word(&p, "poster_or"));
    set(&p, "no_url_text", word(&p, "poster_no_url"));
    if ((html = render(&p, tmpl, &len)) == NULL) {
        http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                   "out of memory");
        goto out;
    }
    answer(req, html, len, "text/html; charset=utf-8");
out:
    free(tmpl);
    json_decref(texts);
    page_release(&p);
    return req->status;
}

int page_theme(struct request *req)
{
    char slug[CAMPAIGN_SLUG_MAX + 2], *css;
    struct campaign c;
    struct db *db;
    int rc;

    if (router_param(&req->match, "slug", slug, sizeof(slug)) < 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such campaign");
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = campaign_find(db, slug, &c);
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_db_error(req, rc);
    if (rc == 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such campaign");
    /* The colour is checked to be #rrggbb when saved: nothing else can
     * reach the style sheet. */
    css = malloc(128);
    if (css == NULL)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    if (c.accent_color[0] != '\0')
        snprintf(css, 128, ":root { --accent: %s; }\n", c.accent_color);
    else
        snprintf(css, 128, "/* no accent colour */\n");
    return answer(req, css, strlen(css), "text/css; charset=utf-8");
}
