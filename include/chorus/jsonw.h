/*
 * A streaming JSON writer into one growing buffer, for the responses
 * that list many rows (the review queue): building a jansson tree there
 * costs an allocation per value, which was most of a page's time. Calls
 * after an allocation failure do nothing; jsonw_finish() reports it.
 */
#ifndef CHORUS_JSONW_H
#define CHORUS_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct jsonw {
    char *buf;
    size_t len, cap;
    bool comma; /* a value was written at this level */
    bool failed;
};

void jsonw_init(struct jsonw *w);
/* '{' or '[' and the matching close. */
void jsonw_open(struct jsonw *w, char c);
void jsonw_close(struct jsonw *w, char c);
/* An object key, written as it is (a name of ours, never input: it is not
 * escaped); the value follows with one of the calls below. */
void jsonw_keyn(struct jsonw *w, const char *key, size_t len);
/* Inline, so a literal key's length is known where it is written. */
static inline void jsonw_key(struct jsonw *w, const char *key)
{
    jsonw_keyn(w, key, strlen(key));
}
/* A string (escaped), or null for NULL. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_real(struct jsonw *w, double v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* An ISO 8601 time, or null for 0. */
void jsonw_time(struct jsonw *w, int64_t t);
/*
 * Returns the text (the caller frees it) with its length in *len, or
 * NULL if memory ran out; the writer is reset either way.
 */
char *jsonw_finish(struct jsonw *w, size_t *len);

#endif
