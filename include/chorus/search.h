/*
 * Full-text search (DESIGN.md "HTTP API", the list's q): a query typed
 * by a user made into an SQLite FTS5 MATCH expression for the index of
 * migrations/0007_panel.sql (unicode61 remove_diacritics 2, over a view
 * that folds what unicode61 leaves: Greek accents and final sigma,
 * Arabic harakat, tatweel and alef forms).
 *
 * The query is user input and never FTS5 syntax: each whitespace-
 * separated chunk becomes one quoted string (a `"` in it doubled), so
 * `*`, `:`, `^`, `+`, `-`, parentheses, NEAR, AND, OR and NOT are only
 * text there (the tokenizer drops them); the chunks are all required.
 * While one types, the last chunk's last word is a prefix (`"свабо"*`)
 * once it has PREFIX_MIN letters; a query ending in a space asks for
 * whole words only. Limits count characters, not bytes.
 */
#ifndef CHORUS_SEARCH_H
#define CHORUS_SEARCH_H

#include <stddef.h>

/* The longest query, in characters. */
#define SEARCH_CHARS_MAX 100
/* Room for the MATCH expression of any query within the limit: each
 * character at most 4 bytes, doubled if a quote, plus the quoting. */
#define SEARCH_MATCH_MAX (SEARCH_CHARS_MAX * 8 + 16)

enum {
    SEARCH_OK = 0,
    SEARCH_EMPTY = 1,     /* only spaces: no search at all */
    SEARCH_TOO_LONG = -1, /* over SEARCH_CHARS_MAX characters */
    SEARCH_BAD_TEXT = -2, /* not UTF-8, or control characters */
};

/*
 * Builds the MATCH expression of query q into out. Returns SEARCH_OK,
 * SEARCH_EMPTY (out is "") or a failure above (out is "").
 */
int search_match(const char *q, char out[SEARCH_MATCH_MAX]);

/*
 * Folds s into out (len bytes, NUL-terminated, truncated at a character
 * boundary) as the index's view folds what it indexes; returns the bytes
 * written. s must be valid UTF-8.
 */
size_t search_fold(const char *s, char *out, size_t len);

#endif
