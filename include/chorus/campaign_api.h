/*
 * The campaigns over HTTP (DESIGN.md "Campaigns"): the public view of a
 * campaign in a language, its QR codes and logo, and the admin API that
 * creates and changes campaigns, takes a logo (queued as a "logo" job
 * for the worker: see logo.h) and limits users to some campaigns.
 * Access is the route table's column; the rules are campaign.c's.
 */
#ifndef CHORUS_CAMPAIGN_API_H
#define CHORUS_CAMPAIGN_API_H

#include <stddef.h>

struct campaign;
struct config;
struct request;

/*
 * GET /api/v1/campaigns/{slug}?lang=xx (and GET /api/v1/campaign: the
 * default campaign, for pages of before campaigns): public. {"slug",
 * "lang", "languages", "title", "intro", "consent_text",
 * "consent_language", "consent_version", "cta", "state", "open",
 * "opens_at", "closes_at", "hashtag", "accent_color", "logo", "url",
 * "page", "max_upload_bytes", "max_duration_s"}: the texts in lang, each
 * falling back to the campaign's first language.
 */
int campaign_api_public(struct request *req);
/* GET /api/v1/campaigns: every campaign with all it has (admin); the
 * campaigns of the user's limits, slug, title and state only (others). */
int campaign_api_list(struct request *req);
/* POST /api/v1/campaigns {"slug", ...campaign_save()'s keys}: admin;
 * 201 with the campaign, 400 (naming the field), 409 if the slug is
 * taken. */
int campaign_api_create(struct request *req);
/* PATCH /api/v1/campaigns/{slug} {...campaign_save()'s keys}: admin;
 * 200 with the campaign, 400, 404. */
int campaign_api_update(struct request *req);
/* GET /api/v1/campaigns/{slug}/qr.svg?size=px and qr.png?size=px&dpi=:
 * the QR code of the campaign page's public address; 409 without
 * --public-url (a code of a loopback address would help nobody). */
int campaign_api_qr_svg(struct request *req);
int campaign_api_qr_png(struct request *req);
/* GET /api/v1/campaigns/{slug}/logo.png: the logo the worker made; 404
 * if it has none. */
int campaign_api_logo(struct request *req);
/*
 * PUT /api/v1/campaigns/{slug}/logo, the body the image (image/png or
 * image/jpeg, at most CAMPAIGN_LOGO_MAX bytes): admin. 202 {"state":
 * "queued"} once it is stored and queued as a logo job; 409 while one is
 * still being made; 413, 415, 404.
 */
int campaign_api_logo_begin(struct request *req);
int campaign_api_logo_body(struct request *req, const char *data, size_t size);
int campaign_api_logo_put(struct request *req);
/* PUT /api/v1/users/{name}/campaigns {"campaigns": ["slug", ...]}:
 * admin; limits a moderator or comms user to those campaigns ([]: every
 * one). 200, 400 (unknown campaign, an admin), 404. */
int campaign_api_user_limits(struct request *req);

/*
 * Answers a campaign_admit() refusal: 400 invalid_metadata naming the
 * field (campaign, consent_version as "consent_outdated",
 * consent_language), 403 campaign_closed with the campaign's state and
 * dates, or a database failure. Returns the status.
 */
int campaign_api_refusal(struct request *req, int code,
                         const struct campaign *c);

/* The public address of campaign slug's page (--public-url, then
 * /c/<slug>) into out: 0, or -1 without --public-url. */
int campaign_api_url(const struct config *cfg, const char *slug, char *out,
                     size_t len);

#endif
