#include "chorus/result.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "chorus/app.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/receipt.h"
#include "chorus/util.h"

/* The languages the pages speak (web/i18n/<code>.json). */
static const char *const langs[] = {"en", "ru", "uk", "be"};

/* A page being written: a growing buffer, and its language's words. */
struct page {
    char *buf;
    size_t len, cap;
    bool oom;
    const char *lang;
    json_t *words, *english;
};

static void put_raw(struct page *p, const char *s, size_t n)
{
    if (p->oom)
        return;
    if (p->len + n + 1 > p->cap) {
        size_t cap = (p->len + n + 1) * 2;
        char *b = realloc(p->buf, cap);
        if (b == NULL) {
            p->oom = true;
            return;
        }
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

static void raw(struct page *p, const char *s)
{
    put_raw(p, s, strlen(s));
}

/* Text, escaped for an element's content or a quoted attribute. */
static void text(struct page *p, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&':
            raw(p, "&amp;");
            break;
        case '<':
            raw(p, "&lt;");
            break;
        case '>':
            raw(p, "&gt;");
            break;
        case '"':
            raw(p, "&quot;");
            break;
        case '\'':
            raw(p, "&#39;");
            break;
        default:
            put_raw(p, s, 1);
        }
    }
}

/* The words of key in the page's language (else English, else the key). */
static const char *word(const struct page *p, const char *key)
{
    const char *s = json_string_value(json_object_get(p->words, key));

    if (s == NULL)
        s = json_string_value(json_object_get(p->english, key));
    return s != NULL ? s : key;
}

/* <tag attrs>words of key</tag>, the words escaped. */
static void el(struct page *p, const char *open, const char *key,
               const char *close)
{
    raw(p, open);
    text(p, word(p, key));
    raw(p, close);
}

static json_t *load_words(const struct app *app, const char *lang)
{
    char path[PATH_MAX];

    if (util_fmt(path, sizeof(path), "%s/i18n/%s.json", app->web_dir, lang) !=
        0)
        return NULL;
    return json_load_file(path, 0, NULL);
}

static const char *known_lang(const char *s, size_t n)
{
    for (size_t i = 0; i < ARRAY_LEN(langs); i++)
        if (n == 2 && strncasecmp(s, langs[i], 2) == 0)
            return langs[i];
    return NULL;
}

/* The form's language, else the first of Accept-Language we speak. */
static const char *choose_lang(struct request *req, const char *form)
{
    const char *al = http_header(req, "Accept-Language"), *l;

    if (form != NULL && (l = known_lang(form, strlen(form))) != NULL)
        return l;
    while (al != NULL && *al != '\0') {
        size_t n;
        al += strspn(al, " ,");
        n = strcspn(al, "-_;, ");
        if ((l = known_lang(al, n)) != NULL)
            return l;
        al += strcspn(al, ",");
    }
    return "en";
}

static void page_open(struct page *p, struct request *req, const char *form)
{
    memset(p, 0, sizeof(*p));
    p->lang = choose_lang(req, form);
    p->words = load_words(req->app, p->lang);
    p->english = strcmp(p->lang, "en") == 0 ? json_incref(p->words)
                                            : load_words(req->app, "en");
    if (p->words == NULL)
        log_warnx("page: cannot read the words of %s", p->lang);
}

static void page_head(struct page *p, const char *title_key)
{
    raw(p, "<!doctype html>\n<html lang=\"");
    text(p, p->lang);
    raw(p,
        "\" dir=\"ltr\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\">\n<meta name=\"referrer\" content=\"no-referrer\">\n"
        "<meta name=\"robots\" content=\"noindex\">\n");
    el(p, "<title>", title_key, "</title>\n");
    raw(p, "<link rel=\"icon\" href=\"data:,\">\n"
           "<link rel=\"stylesheet\" href=\"/static/upload/chorus.css\">\n"
           "</head>\n<body>\n<main class=\"nojs-page\">\n");
}

/* A form posting to /receipt with the receipt, the language and action. */
static void receipt_button(struct page *p, const char *receipt,
                           const char *action, const char *key, const char *cls,
                           const char *id)
{
    raw(p, "<form method=\"post\" action=\"/receipt\" class=\"inline\">"
           "<input type=\"hidden\" name=\"receipt\" value=\"");
    text(p, receipt);
    raw(p, "\"><input type=\"hidden\" name=\"ui_lang\" value=\"");
    text(p, p->lang);
    raw(p, "\"><button type=\"submit\" name=\"action\" value=\"");
    text(p, action);
    raw(p, "\" class=\"");
    text(p, cls);
    raw(p, "\" id=\"");
    text(p, id);
    raw(p, "\">");
    text(p, word(p, key));
    raw(p, "</button></form>\n");
}

/* The receipt's link, absolute: --public-url, else the Host the browser
 * used. */
static void receipt_link(struct page *p, struct request *req,
                         const char *receipt)
{
    const char *base = req->app->cfg->public_url;
    const char *host = http_header(req, "Host");

    raw(p, "<input id=\"receipt-link\" readonly dir=\"ltr\" value=\"");
    if (base != NULL && base[0] != '\0') {
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
            n--;
        for (size_t i = 0; i < n; i++) {
            char c[2] = {base[i], '\0'};
            text(p, c);
        }
    } else {
        raw(p, "http://");
        text(p, host != NULL ? host : "localhost");
    }
    raw(p, "/receipt#");
    text(p, receipt);
    raw(p, "\">\n");
}

/* The status block: the word, its explanation, the reason of a failure. */
static void status_block(struct page *p, const struct message_receipt *r)
{
    char key[64];
    const char *status = message_public_status(r);

    el(p, "<p id=\"rc-status-label\">", "rc_status_label", "</p>\n");
    snprintf(key, sizeof(key), "status_%s", status);
    raw(p, "<p id=\"status\" class=\"status\" role=\"status\">");
    text(p, word(p, key));
    raw(p, "</p>\n");
    snprintf(key, sizeof(key), "status_%s_x", status);
    raw(p, "<p id=\"status-text\">");
    text(p, word(p, key));
    raw(p, "</p>\n");
    if (r->state == MSG_FAILED && r->failure[0] != '\0') {
        snprintf(key, sizeof(key), "reason_%s", r->failure);
        raw(p, "<p id=\"status-reason\" class=\"err\">");
        text(p, word(p, key));
        raw(p, "</p>\n");
    }
}

static void page_close(struct page *p)
{
    el(p, "<p><a href=\"/\">", "rc_back", "</a></p>\n");
    raw(p, "</main>\n</body>\n</html>\n");
}

static int page_send(struct page *p, struct request *req, int status)
{
    struct MHD_Response *resp = NULL;

    json_decref(p->words);
    json_decref(p->english);
    if (!p->oom && p->buf != NULL)
        resp = MHD_create_response_from_buffer(p->len, p->buf,
                                               MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(p->buf);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory");
    }
    http_respond(req, status, resp);
    http_header_add(req, "Content-Type", "text/html; charset=utf-8");
    return status;
}

int result_upload(struct request *req, const char *id, const char *receipt,
                  const char *lang)
{
    struct message_receipt r;
    struct page p;

    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", id);
    r.state = MSG_PROCESSING;
    page_open(&p, req, lang);
    page_head(&p, "done_heading");
    el(&p, "<h1 id=\"done-h\">", "done_heading", "</h1>\n");
    raw(&p, "<section id=\"card\" class=\"card\">\n");
    status_block(&p, &r);
    el(&p, "<p>", "done_receipt", "</p>\n");
    el(&p, "<label for=\"receipt-link\">", "receipt_label", "</label>\n");
    receipt_link(&p, req, receipt);
    el(&p, "<p class=\"hint\" id=\"nojs-receipt-hint\">", "nojs_receipt_hint",
       "</p>\n");
    raw(&p, "<div class=\"row\">\n");
    receipt_button(&p, receipt, "status", "btn_refresh", "btn", "refresh");
    receipt_button(&p, receipt, "withdraw", "btn_withdraw", "btn danger",
                   "withdraw");
    raw(&p, "</div>\n</section>\n");
    el(&p, "<p><a id=\"again\" href=\"/\">", "btn_another", "</a></p>\n");
    raw(&p, "</main>\n</body>\n</html>\n");
    return page_send(&p, req, MHD_HTTP_CREATED);
}

/* ---- POST /receipt ------------------------------------------------------ */

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
 * Finds field name in the urlencoded body and decodes it into out.
 * Returns 1, 0 if absent, -1 if it is malformed or does not fit.
 */
static int form_field(const char *body, const char *name, char *out, size_t len)
{
    size_t nlen = strlen(name);
    const char *p = body;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t plen = end != NULL ? (size_t)(end - p) : strlen(p);

        if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t o = 0;
            for (size_t i = nlen + 1; i < plen; i++) {
                char c = p[i];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi = i + 2 < plen ? hexval(p[i + 1]) : -1;
                    int lo = i + 2 < plen ? hexval(p[i + 2]) : -1;
                    if (hi < 0 || lo < 0)
                        return -1;
                    c = (char)(hi * 16 + lo);
                    i += 2;
                }
                if (o + 1 >= len || c == '\0')
                    return -1;
                out[o++] = c;
            }
            out[o] = '\0';
            return 1;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

/* The receipt in what was pasted: the code, or the whole link. */
static const char *receipt_of(char *s)
{
    char *hash = strrchr(s, '#');
    size_t n;

    s = hash != NULL ? hash + 1 : s;
    s += strspn(s, " \t\r\n");
    n = strcspn(s, " \t\r\n");
    s[n] = '\0';
    return s;
}

/* The page to paste a receipt into (also when one was not found). */
static void lookup_form(struct page *p)
{
    raw(p, "<form method=\"post\" action=\"/receipt\" class=\"card\" "
           "id=\"lookup\">\n");
    el(p, "<label for=\"code\">", "rc_paste_label", "</label>\n");
    raw(p, "<input id=\"code\" name=\"receipt\" autocomplete=\"off\" "
           "dir=\"ltr\" spellcheck=\"false\">\n"
           "<input type=\"hidden\" name=\"ui_lang\" value=\"");
    text(p, p->lang);
    raw(p, "\">\n<div class=\"row\"><button type=\"submit\" name=\"action\" "
           "value=\"status\" class=\"btn primary\">");
    text(p, word(p, "btn_open"));
    raw(p, "</button></div>\n</form>\n");
}

static void facts(struct page *p, const struct message_receipt *r)
{
    static const struct {
        const char *key;
        size_t off;
    } rows[] = {
        {"rc_submitted", offsetof(struct message_receipt, created_at)},
        {"rc_received", offsetof(struct message_receipt, received_at)},
        {"rc_decided", offsetof(struct message_receipt, decided_at)},
        {"rc_withdrawn", offsetof(struct message_receipt, withdrawn_at)},
    };

    raw(p, "<dl id=\"facts\">\n");
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        int64_t t =
            *(const int64_t *)(const void *)((const char *)r + rows[i].off);
        char when[21];
        if (t <= 0)
            continue;
        util_iso8601(t, when);
        el(p, "<dt>", rows[i].key, "</dt>");
        raw(p, "<dd><time datetime=\"");
        text(p, when);
        raw(p, "\">");
        /* The time in UTC, as the machine wrote it: no script to
         * translate it to the reader's zone. */
        when[10] = ' ';
        when[16] = '\0';
        text(p, when);
        raw(p, " UTC</time></dd>\n");
    }
    if (r->state != MSG_WITHDRAWN && r->consent_scope[0] != '\0') {
        el(p, "<dt>", "rc_scope", "</dt>");
        el(p, "<dd>",
           strcmp(r->consent_scope, "union") == 0 ? "scope_union"
                                                  : "scope_public",
           "</dd>\n");
    }
    raw(p, "</dl>\n");
}

int result_receipt(struct request *req)
{
    char receipt[256] = "", action[32] = "status", lang[8] = "";
    const char *body = req->body != NULL ? req->body : "";
    const char *code;
    struct message_receipt r;
    struct page p;
    int found, status = MHD_HTTP_OK;
    bool withdrawn = false;

    if (form_field(body, "receipt", receipt, sizeof(receipt)) < 0 ||
        form_field(body, "action", action, sizeof(action)) < 0 ||
        form_field(body, "ui_lang", lang, sizeof(lang)) < 0)
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_form",
                          "send receipt=<code>&action=status|withdraw");
    code = receipt_of(receipt);
    found = receipt_lookup(req->app, code, &r);
    if (found < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    if (found == 1 && strcmp(action, "withdraw-confirmed") == 0 &&
        r.state != MSG_WITHDRAWN) {
        if (receipt_withdraw(req->app, &r) != MSG_OK)
            return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                              "the message could not be withdrawn; try "
                              "again");
        withdrawn = true;
    }
    page_open(&p, req, lang);
    page_head(&p, "rc_title");
    el(&p, "<h1 id=\"rc-title\">", "rc_title", "</h1>\n");
    if (found == 0) {
        el(&p, "<p id=\"msg\" class=\"err\" role=\"alert\">",
           code[0] != '\0' ? "rc_unknown" : "rc_bad_code", "</p>\n");
        lookup_form(&p);
        page_close(&p);
        return page_send(&p, req, MHD_HTTP_NOT_FOUND);
    }
    if (withdrawn)
        el(&p, "<p id=\"msg\" class=\"ok\" role=\"alert\">", "rc_withdrawn_ok",
           "</p>\n");
    raw(&p, "<section id=\"card\" class=\"card\">\n");
    status_block(&p, &r);
    facts(&p, &r);
    if (strcmp(action, "withdraw") == 0 && r.state != MSG_WITHDRAWN) {
        /* One more press, so that a stray click deletes nothing. */
        raw(&p, "<div id=\"confirm\" class=\"notice card\">\n");
        el(&p, "<p id=\"confirm-text\">", "withdraw_confirm", "</p>\n");
        raw(&p, "<div class=\"row\">\n");
        receipt_button(&p, code, "withdraw-confirmed", "btn_withdraw_yes",
                       "btn danger", "withdraw-yes");
        receipt_button(&p, code, "status", "btn_withdraw_no", "btn",
                       "withdraw-no");
        raw(&p, "</div>\n</div>\n");
    } else if (r.state != MSG_WITHDRAWN) {
        raw(&p, "<div class=\"row\">\n");
        receipt_button(&p, code, "status", "btn_refresh", "btn", "refresh");
        receipt_button(&p, code, "withdraw", "btn_withdraw", "btn danger",
                       "withdraw");
        raw(&p, "</div>\n");
        el(&p, "<p class=\"hint\" id=\"rc-private\">", "rc_private", "</p>\n");
    }
    raw(&p, "</section>\n");
    page_close(&p);
    sodium_memzero(receipt, sizeof(receipt));
    return page_send(&p, req, status);
}
