/*
 * The credit line of a message: what the contributor chose to say about
 * themselves, and nothing more ("Алеся · БНП · Belarus", or "Belarus"
 * alone for an anonymous contributor without an organization). A no_video
 * card shows it today; issue #19's lower thirds and reels take it from
 * here too, so that no output ever credits someone beyond what they gave.
 */
#ifndef CHORUS_CREDIT_H
#define CHORUS_CREDIT_H

#include <stddef.h>

/* The longest line: name, organization and country, with separators. */
#define CREDIT_MAX 1536

/*
 * Writes "name · organization · country" into out (len bytes), leaving out
 * each part that is NULL or empty; country is an ISO 3166-1 code, written
 * as its English name (the code itself if it has none here). Returns 0,
 * or -1 if it did not fit (out then holds "").
 */
int credit_line(const char *name, const char *organization, const char *country,
                char *out, size_t len);

/* The English name of an ISO 3166-1 alpha-2 code, or NULL. */
const char *credit_country_name(const char *code);

#endif
