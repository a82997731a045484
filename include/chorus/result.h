/*
 * Pages the server renders for browsers without JavaScript (Tor Browser
 * on "Safest"): the answer to the upload form, and the receipt's status
 * with a withdraw button. Their words are web/i18n/<lang>.json's, in the
 * language of the form that was sent (its ui_lang field), else the
 * browser's Accept-Language, else English; every text, translations
 * included, is HTML-escaped; no script, so the page's CSP holds.
 *
 * The receipt travels in a form's body (POST /receipt), never in a URL:
 * not in history, not in a proxy's log. Those forms are CSRF-safe
 * without a token of their own: the receipt is itself the secret that
 * authorises the request (there is no cookie, so SameSite has nothing
 * to protect, and a site that could forge the request would have to
 * know the receipt already, which lets it withdraw through the API
 * anyway); a forged lookup with someone else's receipt only shows the
 * forger's own message. Browsers that say a POST is cross-site are
 * refused anyway (http.c), and the pages cannot be framed
 * (frame-ancestors 'none'), so the withdraw button cannot be clicked
 * through someone else's page.
 */
#ifndef CHORUS_RESULT_H
#define CHORUS_RESULT_H

struct request;

/*
 * Answers the upload form with the result page: 201, the status, the
 * receipt's link and the buttons to check it and withdraw. lang is the
 * form's ui_lang field ("" if none).
 */
int result_upload(struct request *req, const char *id, const char *receipt,
                  const char *lang);

/*
 * POST /receipt (application/x-www-form-urlencoded): receipt (the code or
 * the whole link), action ("status", "withdraw": asks to confirm,
 * "withdraw-confirmed"), ui_lang. 200 with the status page; 404 with the
 * form to try again when no message has the receipt; 400 if the body is
 * not a form.
 */
int result_receipt(struct request *req);

#endif
