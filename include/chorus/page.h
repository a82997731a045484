/*
 * The campaigns' pages, rendered by the server from templates under web/
 * (index.html, poster.html): "{{name}}" is replaced by a value of the
 * campaign, HTML-escaped, so the title, the texts and the form's hidden
 * campaign and consent version are right before any script runs (the
 * tab title that lands in a browser's history, the page without
 * JavaScript). The scripts change them later only if the visitor picks
 * another language.
 *
 * The language: ?lang=, else the first of Accept-Language that the page
 * speaks (web/i18n/<lang>.json exists), else English; the campaign's
 * texts in it, or in the campaign's first language (campaign.h).
 */
#ifndef CHORUS_PAGE_H
#define CHORUS_PAGE_H

#include <stddef.h>

struct request;

/* GET / (the default campaign) and GET /c/{slug}: the upload page; when
 * the campaign is closed or not yet open, the page says so instead of
 * showing the form. The --cors-origin sites may embed it. */
int page_upload(struct request *req);
/* GET /c/{slug}/poster?lang=: a printable A4 page with the title, the
 * call to action, the QR code and the short address. */
int page_poster(struct request *req);
/* GET /c/{slug}/theme.css: the campaign's accent colour as CSS custom
 * properties (--accent), empty without one. */
int page_theme(struct request *req);

/*
 * Copies s into out (len bytes) with & < > " ' escaped for HTML text and
 * attribute values. Returns the length written, or -1 if it does not
 * fit (out then holds as much as fitted).
 */
long page_escape(const char *s, char *out, size_t len);

#endif
