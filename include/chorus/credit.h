/*
 * The credit line of a message: what the contributor chose to say about
 * themselves, and nothing more ("Алеся · БНП · Belarus", or "Belarus"
 * alone for an anonymous contributor without an organization). A no_video
 * card shows it; the studio's lower thirds take it from here too (in the
 * captions' language, through the campaign's template), so that no
 * output ever credits someone beyond what they gave.
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

/* The languages country names are known in: en, ru, uk, be. */
#define CREDIT_LANGS 4
/* The most places ({name}...) a credit template has. */
#define CREDIT_TEMPLATE_PLACES 8

/* The index of lang (a BCP 47 tag: "be", "ru-RU") among CREDIT_LANGS,
 * English's (0) for any other or NULL. */
int credit_lang(const char *lang);

/* The name of an ISO 3166-1 alpha-2 code in lang (English for a language
 * the table lacks), or NULL for an unknown code. */
const char *credit_country_name_in(const char *code, const char *lang);

/* credit_line with the country's name in lang. */
int credit_line_in(const char *name, const char *organization,
                   const char *country, const char *lang, char *out,
                   size_t len);

/*
 * A campaign's credit template ("{name} · {organization} · {country}",
 * "Solidarity from {name}, {country}"; NULL or "": credit_line_in's)
 * filled with what the contributor gave, the country's name in lang, into
 * out (len bytes). A place the contributor left empty is left out with
 * the text before it (its connective), and the text after the last place
 * goes with that place; the text before the first place stays. Nothing
 * given: "" (no line at all, however the template reads). Returns 0, or
 * -1 if it did not fit or the template has more than
 * CREDIT_TEMPLATE_PLACES places (out then holds "").
 */
int credit_from_template(const char *tmpl, const char *name,
                         const char *organization, const char *country,
                         const char *lang, char *out, size_t len);

#endif
