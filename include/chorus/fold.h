/*
 * Case folding of UTF-8 text, for comparing login names whatever case
 * they were typed in (SQLite's NOCASE folds ASCII only, and has no
 * Unicode folding built in).
 *
 * The folding is Unicode's simple case folding (CaseFolding.txt, status
 * C and S: one code point to one code point) for the scripts whose
 * letters have case and that a campaign's users write in: Latin (Basic,
 * Latin-1, Extended-A, the regular pairs of Extended-B, Extended
 * Additional with Vietnamese), Greek (modern, final sigma and the symbol
 * variants included), Cyrillic (with its Supplement), Armenian and the
 * fullwidth Latin letters. Other scripts have no case, or are left as
 * typed. Simple folding keeps "ß" apart from "ss" (full folding would
 * not): two names differing only so are two names.
 *
 * Folding does not normalise: "é" typed as one code point and as "e"
 * plus a combining accent fold differently. The panel sends names in
 * composed form (NFC) and auth_username_invalid() refuses combining
 * accents, so a name has only one spelling.
 */
#ifndef CHORUS_FOLD_H
#define CHORUS_FOLD_H

#include <stddef.h>
#include <stdint.h>

/* The simple case folding of code point c (c itself if it has none). */
uint32_t fold_char(uint32_t c);

/*
 * Decodes the code point at s (len bytes left) into *c; returns its
 * length in bytes (1 to 4), or 0 if s does not start with well-formed
 * UTF-8 (overlong forms, surrogates and values past U+10FFFF are not).
 */
size_t fold_decode(const char *s, size_t len, uint32_t *c);

/*
 * Writes the case folding of the UTF-8 string s into out (outlen bytes,
 * NUL-terminated). Returns its length, or -1 if s is not well-formed
 * UTF-8 or the result does not fit.
 */
long fold_utf8(const char *s, char *out, size_t outlen);

#endif
