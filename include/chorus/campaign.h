/*
 * Campaigns (DESIGN.md "Campaigns"): one Chorus serves many, and every
 * message belongs to one. This module is the campaigns' rules and rows;
 * campaign_api.c answers for them over HTTP, page.c renders their pages.
 *
 * A campaign has a slug (its address, /c/<slug>, fixed once made), its
 * languages (the first is the fallback of any text missing in another),
 * per language a title, an introduction, a consent text and the poster's
 * call to action, open and close dates, a hashtag, a credit template, an
 * accent colour and a logo (made by the worker, see logo.h).
 *
 * Consent: a campaign's consent version changes whenever a consent text
 * changes in any language ("v1", "v2"...), and every version's exact
 * texts are kept for good (consent_texts, append-only). An upload names
 * the version its page showed. The current version is taken, and so is
 * one that stopped being current less than CAMPAIGN_CONSENT_GRACE_S ago:
 * whoever loaded the page before an edit agreed to the text they read,
 * and the message keeps that version, never the newer one. An older or
 * unknown version is refused: that page is stale.
 *
 * The default campaign (slug "default", id 1) is what Chorus was before
 * campaigns: "/" is its page, an upload that names no campaign is its,
 * and at the first start after the migration it adopts the old settings
 * (campaign_adopt_settings()).
 */
#ifndef CHORUS_CAMPAIGN_H
#define CHORUS_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct config;
struct db;
struct message_meta;

#define CAMPAIGN_DEFAULT_ID 1
#define CAMPAIGN_DEFAULT_SLUG "default"
#define CAMPAIGN_SLUG_MAX 40
#define CAMPAIGN_LANGS_MAX 16
#define CAMPAIGN_LANG_LEN 36
/* Characters of each text. */
#define CAMPAIGN_TITLE_MAX 200
#define CAMPAIGN_INTRO_MAX 2000
#define CAMPAIGN_CONSENT_MAX 4000
#define CAMPAIGN_CTA_MAX 200
#define CAMPAIGN_HASHTAG_MAX 100
#define CAMPAIGN_CREDIT_MAX 200
#define CAMPAIGN_CONSENT_GRACE_S 86400
/* The largest logo a campaign takes (PUT .../logo), in bytes. */
#define CAMPAIGN_LOGO_MAX (1024 * 1024)
/*
 * The accent colour, 0xRRGGBB, of a campaign that sets none (the ground
 * of a no_video card, and the studio's accent).
 */
#define CAMPAIGN_ACCENT_DEFAULT 0xB3261Eu

struct campaign {
    int64_t id;
    char slug[CAMPAIGN_SLUG_MAX + 1];
    char langs[CAMPAIGN_LANGS_MAX][CAMPAIGN_LANG_LEN];
    int nlangs;
    char consent_version[33];
    int consent_seq;             /* the last "vN" made */
    int64_t opens_at, closes_at; /* 0: none */
    char hashtag[CAMPAIGN_HASHTAG_MAX * 4 + 1];
    char credit_template[CAMPAIGN_CREDIT_MAX * 4 + 1];
    char accent_color[8]; /* "#rrggbb", or "" for none */
    int64_t logo_at;      /* when its logo.png was made; 0: none */
    bool adopted;         /* false: the old settings are still to come */
    int64_t created_at, updated_at;
};

enum campaign_state {
    CAMPAIGN_OPEN,
    CAMPAIGN_NOT_YET_OPEN,
    CAMPAIGN_CLOSED,
};

/* "open", "not_yet_open", "closed". */
const char *campaign_state_name(enum campaign_state s);
/* Where c stands at time now: before opens_at, from closes_at on, or
 * open in between (a missing date does not limit). */
enum campaign_state campaign_state_at(const struct campaign *c, int64_t now);

/* True if s is a slug: 1-40 of [a-z0-9-], not starting with '-'. */
bool campaign_slug_valid(const char *s);

/* Reads the campaign with slug, or with id: 1 found, 0 none, DB_* < 0. */
int campaign_find(struct db *db, const char *slug, struct campaign *out);
int campaign_get(struct db *db, int64_t id, struct campaign *out);

/*
 * The language of c's texts for a visitor who asks for lang (may be NULL):
 * lang if c has it, else one of c's languages with the same primary
 * subtag, else c's first language. Points into c.
 */
const char *campaign_lang_pick(const struct campaign *c, const char *lang);
/* True if lang is one of c's languages. */
bool campaign_has_lang(const struct campaign *c, const char *lang);

/*
 * Every text of c: {"<lang>": {"title", "intro", "consent", "cta"}} (a
 * missing text is absent), for c's languages only. NULL on a database
 * failure; the caller owns the reference.
 */
json_t *campaign_texts(struct db *db, const struct campaign *c);
/*
 * c's texts for a visitor who asks for lang: {"lang", "title", "intro",
 * "consent", "consent_language", "cta"}, each text in the picked
 * language (campaign_lang_pick) or else in the first; "lang" is the
 * picked one and "consent_language" the consent text's. A text missing
 * in both is null. NULL on a database failure.
 */
json_t *campaign_texts_in(struct db *db, const struct campaign *c,
                          const char *lang);
/*
 * The exact consent texts of version of campaign campaign_id:
 * {"<lang>": text}, possibly empty; NULL on a database failure.
 */
json_t *campaign_consent_texts(struct db *db, int64_t campaign_id,
                               const char *version);
/*
 * Every consent version of c, oldest first: [{"version", "at",
 * "superseded_at", "texts": {...}}]. NULL on a database failure.
 */
json_t *campaign_consent_history(struct db *db, const struct campaign *c);

/* campaign_admit() results. */
enum {
    CAMPAIGN_ADMIT_OK = 0,
    CAMPAIGN_ADMIT_UNKNOWN = 1,  /* no such campaign: 400, field campaign */
    CAMPAIGN_ADMIT_CLOSED = 2,   /* closed or not yet open: 403 */
    CAMPAIGN_ADMIT_CONSENT = 3,  /* a stale or unknown consent version */
    CAMPAIGN_ADMIT_LANGUAGE = 4, /* consent_language not the campaign's */
};

/*
 * Whether an upload described by meta may come in at time now, and into
 * which campaign: meta's campaign (the default if it names none) must
 * exist and be open, its consent_version be the campaign's current one
 * or one superseded within the grace (empty: the current one, for the
 * page without JavaScript), its consent_language one of the campaign's
 * languages (empty: the language the page showed, the first). Fills the
 * empty fields and meta->campaign_id, and *c. Returns CAMPAIGN_ADMIT_*,
 * or a DB_* code < 0.
 */
int campaign_admit(struct db *db, struct message_meta *meta, int64_t now,
                   struct campaign *c);

/* Why campaign_save() refused: the key at fault and a sentence. */
struct campaign_error {
    char field[64];
    char message[200];
};

/* campaign_save() results beyond 1 (done) and DB_* < 0. */
enum {
    CAMPAIGN_NOT_FOUND = 0,
    CAMPAIGN_TAKEN = -10,   /* create: the slug exists */
    CAMPAIGN_INVALID = -11, /* err says why */
};

/*
 * Creates campaign slug (create) or changes it from spec, the admin API's
 * JSON object: "languages" (array of tags; the first is the fallback),
 * "texts" ({"<lang>": {"title", "intro", "consent", "cta"}}, merged into
 * what is there: null or "" clears a text), "opens_at", "closes_at" (RFC
 * 3339 or null), "hashtag", "credit_template", "accent_color" ("#rrggbb"
 * or null). Keys that are absent stay as they were; unknown keys are
 * refused. The first language must end up with a title. A change of any
 * consent text makes a new consent version holding every language's
 * text. One transaction, audited as actor. Returns 1 (with *out the
 * campaign as it now is, if out is not NULL), CAMPAIGN_NOT_FOUND,
 * CAMPAIGN_TAKEN, CAMPAIGN_INVALID with err filled, or DB_* < 0.
 */
int campaign_save(struct db *db, const char *actor, const char *slug,
                  const json_t *spec, bool create, struct campaign *out,
                  struct campaign_error *err);

/* Records that c's logo.png was made now (inside the caller's
 * transaction). 0, or DB_* < 0. */
int campaign_logo_made(struct db *db, int64_t campaign_id, int64_t now);

/*
 * Parses an RFC 3339 date-time ("2026-05-01T09:00:00Z", "...+03:00",
 * fractions of a second ignored) into Unix seconds. 0, or -1.
 */
int campaign_parse_time(const char *s, int64_t *out);

/* ---- who sees which campaigns ---- */

/*
 * The campaign limits of user_id as message_scope_has() reads them
 * (",1,3,", or "" for none) into out (MSG_SCOPE_MAX bytes). 0, or DB_* <
 * 0.
 */
int campaign_scope_of(struct db *db, int64_t user_id, char *out, size_t len);
/* The slugs user_id is limited to, as a JSON array (empty: none). */
json_t *campaign_user_slugs(struct db *db, int64_t user_id);
/*
 * Limits user name to the n campaigns slugs (n == 0: none, every
 * campaign), audited as actor. Returns 1, 0 if there is no such user, -2
 * if a slug names no campaign (*bad points at it), -3 if the user is an
 * admin (admins see every campaign), or DB_* < 0.
 */
int campaign_limit_user(struct db *db, const char *actor, const char *name,
                        const char *const *slugs, int n, const char **bad);

/*
 * Brings the old settings into the default campaign, once: a title and
 * introduction from --campaign-title / --campaign-intro (else
 * data/campaign.json {"title", "intro"}) replace its texts in every one
 * of its languages (each string was shown to every visitor, whatever
 * their language: that stays so until an admin writes each language's),
 * and --consent-version becomes its current consent version, with the
 * texts the page showed. Later starts only warn that the flags are now
 * ignored. Returns 0, or -1 (logged).
 */
int campaign_adopt_settings(struct db *db, const struct config *cfg);

#endif
