/*
 * What a contributor says about their video: the tus Upload-Metadata
 * header or the fields of the multipart form, checked before any byte of
 * video is accepted. Known keys only; every value valid UTF-8 of bounded
 * length without control characters; consent must be "yes"; the country
 * a known ISO 3166-1 alpha-2 code, or "none" (an explicit "I prefer not
 * to say", stored as no country); the language a BCP 47 tag whose
 * primary subtag we know; "protect" a comma list of known protections.
 * The file name is checked but never kept: it can hold a place and a
 * date ("VID_20260419_Minsk.mp4").
 */
#ifndef CHORUS_META_H
#define CHORUS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define META_NAME_MAX 100     /* characters */
#define META_ORG_MAX 200      /* characters */
#define META_MESSAGE_MAX 500  /* characters */
#define META_FILENAME_MAX 255 /* bytes */
#define META_HEADER_MAX 8192  /* bytes of Upload-Metadata */
#define META_CAMPAIGN_MAX 40  /* bytes of a campaign's slug */

/*
 * Identity protection (DESIGN.md "Identity protection"), as bits: the
 * same as transcode.h's TRANSCODE_PROTECT_*. Stored as their names,
 * comma-separated, in this order ("blur_faces,no_video").
 */
enum {
    META_PROTECT_BLUR_FACES = 1 << 0,
    META_PROTECT_VOICE = 1 << 1,
    META_PROTECT_NO_VIDEO = 1 << 2,
};
#define META_PROTECT_LEN 32 /* the longest list, with its NUL */

struct message_meta {
    char name[META_NAME_MAX * 4 + 1];
    char organization[META_ORG_MAX * 4 + 1];
    char message[META_MESSAGE_MAX * 4 + 1];
    char country[3];
    char language[36];
    char filetype[101];
    char consent_version[33];
    char consent_scope[8]; /* "public" (default) or "union" */
    /* The campaign (its slug; "": the default) and the language of the
     * consent text the page showed ("": its first language). */
    char campaign[META_CAMPAIGN_MAX + 1];
    char consent_language[36];
    int64_t campaign_id; /* set by campaign_admit(), not by the client */
    unsigned protect;    /* META_PROTECT_* bits */
    bool consent;
    bool country_withheld; /* country "none": the contributor chose not
                              to say (country stays "") */
    unsigned seen;         /* bit per key: duplicates are refused */
};

/* Which field is wrong and why, for a 400 that names it. */
struct meta_error {
    const char *field;
    char message[160];
};

void meta_init(struct message_meta *m);
/*
 * Sets key to value (len bytes, need not be NUL-terminated). Returns 0,
 * or -1 with err filled: unknown key, duplicate, or a bad value.
 */
int meta_set(struct message_meta *m, const char *key, const char *value,
             size_t len, struct meta_error *err);
/* Checks that the required fields came; 0, or -1 with err filled. */
int meta_finish(struct message_meta *m, struct meta_error *err);
/*
 * Parses a tus Upload-Metadata header ("key base64,key base64,...") into
 * m and checks it with meta_finish(). 0, or -1 with err filled.
 */
int meta_parse_tus(const char *header, struct message_meta *m,
                   struct meta_error *err);

/*
 * Parses a comma list of protections (len bytes; blanks around names
 * and empty items are ignored) and adds them to *bits. Returns 0, or -1
 * for an unknown name.
 */
int meta_protect_parse(const char *list, size_t len, unsigned *bits);

/* The names of bits, comma-separated, in their fixed order, into out
 * (META_PROTECT_LEN bytes; "" for none). */
void meta_protect_names(unsigned bits, char out[META_PROTECT_LEN]);

/* 1 if code is a known ISO 3166-1 alpha-2 country code (upper case). */
int meta_country_known(const char *code);
/*
 * Normalises a BCP 47 tag (language[-Script][-REGION]) into out (36
 * bytes): "EN-gb" -> "en-GB". Returns 0, or -1 if it is not one we take.
 */
int meta_language_normalize(const char *tag, char out[36]);
/*
 * Checks that s (len bytes) is valid UTF-8 without control characters
 * (newlines and tabs allowed if multiline) or bidirectional overrides.
 * Returns the number of characters, or -1.
 */
long meta_utf8_check(const char *s, size_t len, bool multiline);

#endif
