/*
 * Captions, as pure functions (no file, no database, no clock): a
 * transcript's plain text split into cues, the cues timed over the spans
 * of speech the media pipeline measured, cues given explicitly checked,
 * and any of them written as WebVTT or SRT. studio.c stores what comes
 * out; the media module burns the cues into versions.
 *
 * Splitting (captions_split). A cue is at most CAPTIONS_LINES lines of
 * about CAPTIONS_LINE_CHARS characters (counted as characters, not
 * bytes: Cyrillic takes two bytes a letter). A cue ends at a sentence's
 * end when one falls inside it (short sentences share a cue when they
 * fit), else at a clause's (a comma, semicolon, colon or dash) when that
 * leaves the cue at least CAPTIONS_CLAUSE_SHARE full, else at the last
 * word that fits, pulled back when that would leave a sentence's last
 * few words alone in the next cue. Its two lines are balanced, a clause's
 * end preferred as the break, the upper line no longer than it must be.
 *
 * Timing (captions_time). The cues share the time of speech in
 * proportion to their length (characters, and a little for each cue: a
 * new cue takes a moment to read): their text is laid along the spans of
 * speech end to end, and each cue shows from where its first character
 * falls to where its last does, so no cue starts in a pause, and the
 * first starts where the first speech does. A clip without measured
 * speech is timed over its whole length. Each cue shows at least
 * CAPTIONS_MIN_MS when the next one leaves room.
 *
 * Cues given explicitly (captions_check) must be inside the clip, each
 * ending after it starts, in order without overlapping, and each with
 * some text.
 */
#ifndef CHORUS_CAPTIONS_H
#define CHORUS_CAPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPTIONS_LINE_CHARS 42
#define CAPTIONS_LINES 2
#define CAPTIONS_CLAUSE_SHARE 0.4
#define CAPTIONS_MIN_MS 700
/* Characters of a transcript's text, of one cue given explicitly, and
 * the most cues of one transcript. */
#define CAPTIONS_TEXT_MAX 20000
#define CAPTIONS_CUE_MAX 300
#define CAPTIONS_MAX_CUES 2000

/* One cue: [start_ms, end_ms), its lines separated by '\n'. */
struct caption_cue {
    int64_t start_ms, end_ms;
    char *text; /* owned by its list */
};

/* Cues in order. captions_init makes an empty one; captions_release
 * frees what it holds (and leaves it empty). */
struct caption_list {
    struct caption_cue *cues;
    size_t n, cap;
};

/* A span of speech in seconds from the clip's start: [start, end). */
struct caption_span {
    double start, end;
};

void captions_init(struct caption_list *l);
void captions_release(struct caption_list *l);

/*
 * Appends a cue with a copy of text, tidied: each line trimmed and its
 * runs of white space made one space, control characters dropped, empty
 * lines left out. Returns 0, or -1 if out of memory or the list is full
 * (CAPTIONS_MAX_CUES).
 */
int captions_add(struct caption_list *l, int64_t start_ms, int64_t end_ms,
                 const char *text);

/*
 * Splits text (UTF-8; its line breaks count as spaces) into cues as the
 * top of this file says, appended to l with no times (0, 0). Returns the
 * number of cues, or -1 if out of memory or too many.
 */
int captions_split(const char *text, struct caption_list *l);

/*
 * Times l's cues over the n spans of speech (NULL or 0: none) within a
 * clip of duration_ms > 0, as the top of this file says. Spans outside
 * the clip are cut to it, unordered or overlapping ones are put in order
 * and joined.
 */
void captions_time(struct caption_list *l, const struct caption_span *spans,
                   size_t n, int64_t duration_ms);

/*
 * Checks cues given explicitly against a clip of duration_ms (0:
 * unknown, then only their order and text). Returns 0, or -1 with the
 * first fault in err, in words that name the cue ("cue 3 ends before it
 * starts").
 */
int captions_check(const struct caption_list *l, int64_t duration_ms, char *err,
                   size_t errlen);

/*
 * The cues as a WebVTT file (text escaped: &, < and >) or an SRT file,
 * in a new string the caller frees, or NULL if out of memory.
 */
char *captions_vtt(const struct caption_list *l);
char *captions_srt(const struct caption_list *l);

/* The cues' text joined by spaces (what search indexes), in a new string
 * the caller frees, or NULL if out of memory. */
char *captions_text(const struct caption_list *l);

/* The number of characters (not bytes) of UTF-8 s's first len bytes. */
size_t captions_chars(const char *s, size_t len);

#endif
