/*
 * Captions: splitting, timing, checking and writing cues (captions.h).
 * Pure: memory in and out, nothing else.
 */
#include "chorus/captions.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Characters a new cue is worth when the time is shared out. */
#define CUE_WEIGHT 4
/* A sentence's tail shorter than this is not left alone in a cue. */
#define TAIL_CHARS 25
/* A sentence's end ends a cue when the cue has at least this many. */
#define SENTENCE_MIN 12

/* A growing string; an allocation failure is sticky. */
struct buf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void buf_add(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_add(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->s != NULL ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* Appends len bytes of s. */
static void buf_addn(struct buf *b, const char *s, size_t len)
{
    buf_add(b, "%.*s", (int)len, s);
}

/* The finished string, or NULL (freed) if anything failed. */
static char *buf_done(struct buf *b)
{
    if (b->failed || b->s == NULL) {
        free(b->s);
        return b->failed ? NULL : strdup("");
    }
    return b->s;
}

size_t captions_chars(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

void captions_init(struct caption_list *l)
{
    memset(l, 0, sizeof(*l));
}

void captions_release(struct caption_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->cues[i].text);
    free(l->cues);
    captions_init(l);
}

/* Whether c (a byte) is white space. */
static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

int captions_add(struct caption_list *l, int64_t start_ms, int64_t end_ms,
                 const char *text)
{
    struct buf b = {NULL, 0, 0, false};
    bool line_has = false, gap = false;
    char *tidy;

    if (l->n >= CAPTIONS_MAX_CUES)
        return -1;
    for (const char *p = text != NULL ? text : ""; *p != '\0'; p++) {
        if (*p == '\n') {
            line_has = false;
            gap = false;
            /* A line break only after a line with words. */
            if (b.len > 0 && b.s[b.len - 1] != '\n')
                buf_add(&b, "\n");
        } else if (space(*p) || (unsigned char)*p < 0x20 || *p == 0x7f) {
            gap = line_has;
        } else {
            if (gap)
                buf_add(&b, " ");
            buf_addn(&b, p, 1);
            line_has = true;
            gap = false;
        }
    }
    if (b.len > 0 && b.s[b.len - 1] == '\n')
        b.s[--b.len] = '\0';
    if ((tidy = buf_done(&b)) == NULL)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap != 0 ? 2 * l->cap : 16;
        struct caption_cue *c = realloc(l->cues, cap * sizeof(*c));
        if (c == NULL) {
            free(tidy);
            return -1;
        }
        l->cues = c;
        l->cap = cap;
    }
    l->cues[l->n++] = (struct caption_cue){start_ms, end_ms, tidy};
    return 0;
}

/* ---- splitting --------------------------------------------------------- */

/* What may end a cue after a word. */
enum brk { BRK_NONE, BRK_CLAUSE, BRK_SENTENCE };

/* One word of the text: where it is, how long in characters, and what
 * its end is. */
struct word {
    const char *s;
    size_t len, chars;
    enum brk after;
};

/* What the word s (len bytes) ends with: a sentence (. ! ? … and any
 * closing quotes or brackets after them), a clause (, ; :) or neither. */
static enum brk word_end(const char *s, size_t len)
{
    /* Closing quotes and brackets: " ' ) ] » ” ’ (UTF-8). */
    for (;;) {
        if (len >= 1 && strchr("\"')]", s[len - 1]) != NULL && s[len - 1]) {
            len--;
        } else if (len >= 2 && (memcmp(s + len - 2, "\xc2\xbb", 2) == 0)) {
            len -= 2;
        } else if (len >= 3 && (memcmp(s + len - 3, "\xe2\x80\x9d", 3) == 0 ||
                                memcmp(s + len - 3, "\xe2\x80\x99", 3) == 0)) {
            len -= 3;
        } else {
            break;
        }
    }
    if (len == 0)
        return BRK_NONE;
    if (strchr(".!?", s[len - 1]) != NULL ||
        (len >= 3 && memcmp(s + len - 3, "\xe2\x80\xa6", 3) == 0))
        return BRK_SENTENCE;
    if (strchr(",;:", s[len - 1]) != NULL)
        return BRK_CLAUSE;
    return BRK_NONE;
}

/* Whether the word is a dash standing alone (- – —): a clause starts. */
static bool is_dash(const struct word *w)
{
    return (w->len == 1 && w->s[0] == '-') ||
           (w->len == 3 && (memcmp(w->s, "\xe2\x80\x93", 3) == 0 ||
                            memcmp(w->s, "\xe2\x80\x94", 3) == 0));
}

/* The byte length of the first `chars` characters of s (len bytes). */
static size_t prefix_bytes(const char *s, size_t len, size_t chars)
{
    size_t i = 0;

    while (i < len && chars > 0) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
            i++;
        chars--;
    }
    return i;
}

/* The words of text, a word longer than a line cut into lines' lengths.
 * Returns the count, with *out a new array (NULL when none), or -1. */
static long words_of(const char *text, struct word **out)
{
    struct word *w = NULL;
    size_t n = 0, cap = 0;
    const char *p = text;

    *out = NULL;
    for (;;) {
        while (*p != '\0' && space(*p))
            p++;
        if (*p == '\0')
            break;
        const char *s = p;
        while (*p != '\0' && !space(*p))
            p++;
        size_t len = (size_t)(p - s);
        while (len > 0) {
            size_t cut = len, chars = captions_chars(s, len);
            if (chars > CAPTIONS_LINE_CHARS)
                cut = prefix_bytes(s, len, CAPTIONS_LINE_CHARS);
            if (n == cap) {
                size_t ncap = cap != 0 ? 2 * cap : 64;
                struct word *nw = realloc(w, ncap * sizeof(*nw));
                if (nw == NULL) {
                    free(w);
                    return -1;
                }
                w = nw;
                cap = ncap;
            }
            w[n].s = s;
            w[n].len = cut;
            w[n].chars = captions_chars(s, cut);
            w[n].after = cut == len ? word_end(s, cut) : BRK_NONE;
            n++;
            s += cut;
            len -= cut;
        }
    }
    /* A dash standing alone opens a clause: the word before ends one. */
    for (size_t i = 1; i < n; i++)
        if (is_dash(&w[i]) && w[i - 1].after == BRK_NONE)
            w[i - 1].after = BRK_CLAUSE;
    *out = w;
    return (long)n;
}

/* Characters of words [i, j] on one line. */
static size_t span_chars(const struct word *w, size_t i, size_t j)
{
    size_t c = 0;

    for (size_t k = i; k <= j; k++)
        c += w[k].chars + (k > i);
    return c;
}

/*
 * The best place to break words [i, j] into two lines: the index of the
 * first word of the second line, or 0 when they fit on one line; -1 when
 * they fit on no two lines.
 */
static long wrap(const struct word *w, size_t i, size_t j)
{
    size_t total = span_chars(w, i, j);
    long best = -1;
    double best_cost = 0;

    if (total <= CAPTIONS_LINE_CHARS)
        return 0;
    for (size_t b = i + 1; b <= j; b++) {
        size_t a = span_chars(w, i, b - 1), c = total - a - 1;
        double cost;
        if (a > CAPTIONS_LINE_CHARS || c > CAPTIONS_LINE_CHARS)
            continue;
        /* Even lines; a clause's end is a good break; the upper line no
         * longer than the lower. */
        cost = fabs((double)a - (double)c);
        if (w[b - 1].after != BRK_NONE)
            cost -= 12;
        if (a > c)
            cost += 2;
        if (best < 0 || cost < best_cost) {
            best = (long)b;
            best_cost = cost;
        }
    }
    return best;
}

/* Whether words [i, j] fit in one cue. */
static bool fits(const struct word *w, size_t i, size_t j)
{
    return wrap(w, i, j) >= 0;
}

/* The end of the sentence word i is in (its last word's index). */
static size_t sentence_end(const struct word *w, size_t n, size_t i)
{
    while (i + 1 < n && w[i].after != BRK_SENTENCE)
        i++;
    return i;
}

/* Appends words [i, j] to l as one cue of one or two lines. */
static int add_cue(struct caption_list *l, const struct word *w, size_t i,
                   size_t j)
{
    struct buf b = {NULL, 0, 0, false};
    long brk = wrap(w, i, j);
    char *text;
    int rc;

    for (size_t k = i; k <= j; k++) {
        if (k > i)
            buf_add(&b, (long)k == brk ? "\n" : " ");
        buf_addn(&b, w[k].s, w[k].len);
    }
    if ((text = buf_done(&b)) == NULL)
        return -1;
    rc = captions_add(l, 0, 0, text);
    free(text);
    return rc;
}

int captions_split(const char *text, struct caption_list *l)
{
    struct word *w;
    long nw = words_of(text != NULL ? text : "", &w);
    size_t n, i = 0, cues = 0;
    /* A cue full enough to end at a clause: 40% of its room. */
    const size_t enough =
        (size_t)(CAPTIONS_CLAUSE_SHARE * CAPTIONS_LINE_CHARS * CAPTIONS_LINES);
    int rc = -1;

    if (nw < 0)
        return -1;
    n = (size_t)nw;
    while (i < n) {
        size_t j = i, k, sentence = n;

        /* The most words that fit. */
        while (j + 1 < n && fits(w, i, j + 1))
            j++;
        /* The first sentence's end within that leaves the cue neither
         * tiny nor one line that the next sentence would share. */
        for (k = i; k <= j; k++) {
            size_t k2;
            if (w[k].after != BRK_SENTENCE ||
                span_chars(w, i, k) < SENTENCE_MIN)
                continue;
            for (k2 = k + 1; k2 <= j && w[k2].after != BRK_SENTENCE; k2++)
                ;
            if (k2 <= j && span_chars(w, i, k2) <= CAPTIONS_LINE_CHARS)
                continue;
            sentence = k;
            break;
        }
        if (sentence < n) {
            j = sentence;
        } else if (j + 1 < n) {
            /* Else the last clause's end, if the cue is full enough. */
            for (k = j + 1; k-- > i;)
                if (w[k].after != BRK_NONE)
                    break;
            if (k + 1 > i && k <= j && w[k].after != BRK_NONE &&
                span_chars(w, i, k) >= enough) {
                j = k;
            } else {
                /* Else the last word that fits, unless the sentence's
                 * tail would be left alone: then the two share. */
                size_t end = sentence_end(w, n, j + 1);
                while (j > i && span_chars(w, j + 1, end) < TAIL_CHARS &&
                       span_chars(w, i, j - 1) >= enough && fits(w, j, end))
                    j--;
            }
        }
        if (add_cue(l, w, i, j) != 0)
            goto out;
        cues++;
        i = j + 1;
    }
    rc = (int)cues;
out:
    free(w);
    return rc;
}

/* ---- timing ------------------------------------------------------------ */

static int by_start(const void *a, const void *b)
{
    const struct caption_span *x = a, *y = b;

    return (x->start > y->start) - (x->start < y->start);
}

/*
 * The real time (ms) at position x along the spans laid end to end (x in
 * seconds of speech). A start at a span's very end moves to the next
 * span's start (no cue starts in a pause); an end stays.
 */
static int64_t along(const struct caption_span *s, size_t n, double x,
                     bool start)
{
    double at = 0;

    for (size_t i = 0; i < n; i++) {
        double len = s[i].end - s[i].start;
        /* A microsecond's slack: shares are summed in floating point. */
        if (start ? x < at + len - 1e-6 : x <= at + len + 1e-6)
            return llround((s[i].start + (x - at)) * 1000);
        at += len;
    }
    return llround(s[n - 1].end * 1000);
}

void captions_time(struct caption_list *l, const struct caption_span *spans,
                   size_t n, int64_t duration_ms)
{
    struct caption_span *s = NULL;
    double dur = (double)duration_ms / 1000, speech = 0, weight = 0, pos = 0;
    size_t m = 0;

    if (l->n == 0 || duration_ms <= 0)
        return;
    if (n > 0 && spans != NULL && (s = malloc(n * sizeof(*s))) != NULL) {
        for (size_t i = 0; i < n; i++) {
            double a = fmax(spans[i].start, 0), b = fmin(spans[i].end, dur);
            if (b > a)
                s[m++] = (struct caption_span){a, b};
        }
        qsort(s, m, sizeof(*s), by_start);
        size_t k = 0;
        for (size_t i = 0; i < m; i++) {
            if (k > 0 && s[i].start <= s[k - 1].end)
                s[k - 1].end = fmax(s[k - 1].end, s[i].end);
            else
                s[k++] = s[i];
        }
        m = k;
    }
    /* Nothing measured (or too little to read anything in): the whole
     * clip. */
    for (size_t i = 0; i < m; i++)
        speech += s[i].end - s[i].start;
    if (m == 0 || speech < 0.5) {
        free(s);
        s = malloc(sizeof(*s));
        if (s == NULL)
            return;
        s[0] = (struct caption_span){0, dur};
        m = 1;
        speech = dur;
    }
    for (size_t i = 0; i < l->n; i++)
        weight +=
            (double)(captions_chars(l->cues[i].text, strlen(l->cues[i].text)) +
                     CUE_WEIGHT);
    for (size_t i = 0; i < l->n; i++) {
        struct caption_cue *c = &l->cues[i];
        double share =
            (double)(captions_chars(c->text, strlen(c->text)) + CUE_WEIGHT) /
            weight * speech;
        c->start_ms = along(s, m, pos, true);
        pos += share;
        c->end_ms = along(s, m, fmin(pos, speech), false);
        if (c->end_ms <= c->start_ms)
            c->end_ms = c->start_ms + 1;
    }
    /* Long enough to read, where the next cue leaves room. */
    for (size_t i = 0; i < l->n; i++) {
        struct caption_cue *c = &l->cues[i];
        int64_t limit = i + 1 < l->n ? l->cues[i + 1].start_ms : duration_ms;
        if (c->end_ms - c->start_ms < CAPTIONS_MIN_MS)
            c->end_ms = c->start_ms + CAPTIONS_MIN_MS < limit
                            ? c->start_ms + CAPTIONS_MIN_MS
                            : (limit > c->end_ms ? limit : c->end_ms);
        if (c->end_ms > duration_ms)
            c->end_ms = duration_ms;
        if (c->start_ms >= c->end_ms && c->start_ms > 0)
            c->start_ms = c->end_ms - 1;
    }
    free(s);
}

/* ---- checking ---------------------------------------------------------- */

/* Formats ms as seconds with two decimals into out. */
static const char *secs(int64_t ms, char out[32])
{
    snprintf(out, 32, "%.2f s", (double)ms / 1000);
    return out;
}

int captions_check(const struct caption_list *l, int64_t duration_ms, char *err,
                   size_t errlen)
{
    char a[32], b[32];

    for (size_t i = 0; i < l->n; i++) {
        const struct caption_cue *c = &l->cues[i];
        size_t chars = captions_chars(c->text, strlen(c->text)), lines = 1;

        for (const char *p = c->text; *p != '\0'; p++)
            lines += *p == '\n';
        if (c->text[0] == '\0') {
            snprintf(err, errlen, "cue %zu has no text", i + 1);
            return -1;
        }
        if (chars > CAPTIONS_CUE_MAX || lines > CAPTIONS_LINES + 1) {
            snprintf(err, errlen,
                     "cue %zu is too long (at most %d characters on %d "
                     "lines)",
                     i + 1, CAPTIONS_CUE_MAX, CAPTIONS_LINES + 1);
            return -1;
        }
        if (c->start_ms < 0) {
            snprintf(err, errlen, "cue %zu starts before the clip", i + 1);
            return -1;
        }
        if (c->end_ms <= c->start_ms) {
            snprintf(err, errlen, "cue %zu ends before it starts", i + 1);
            return -1;
        }
        if (duration_ms > 0 && c->end_ms > duration_ms) {
            snprintf(err, errlen, "cue %zu ends at %s, after the clip (%s)",
                     i + 1, secs(c->end_ms, a), secs(duration_ms, b));
            return -1;
        }
        if (i > 0 && c->start_ms < l->cues[i - 1].end_ms) {
            snprintf(err, errlen,
                     "cue %zu starts at %s, before cue %zu ends (%s): cues "
                     "must be in order and not overlap",
                     i + 1, secs(c->start_ms, a), i,
                     secs(l->cues[i - 1].end_ms, b));
            return -1;
        }
    }
    return 0;
}

/* ---- writing ----------------------------------------------------------- */

/* Appends ms as HH:MM:SS followed by sep and the milliseconds. */
static void add_time(struct buf *b, int64_t ms, char sep)
{
    if (ms < 0)
        ms = 0;
    buf_add(b, "%02lld:%02lld:%02lld%c%03lld", (long long)(ms / 3600000),
            (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), sep,
            (long long)(ms % 1000));
}

char *captions_vtt(const struct caption_list *l)
{
    struct buf b = {NULL, 0, 0, false};

    buf_add(&b, "WEBVTT\n");
    for (size_t i = 0; i < l->n; i++) {
        const struct caption_cue *c = &l->cues[i];
        buf_add(&b, "\n%zu\n", i + 1);
        add_time(&b, c->start_ms, '.');
        buf_add(&b, " --> ");
        add_time(&b, c->end_ms, '.');
        buf_add(&b, "\n");
        for (const char *p = c->text; *p != '\0'; p++) {
            if (*p == '&')
                buf_add(&b, "&amp;");
            else if (*p == '<')
                buf_add(&b, "&lt;");
            else if (*p == '>')
                buf_add(&b, "&gt;");
            else
                buf_addn(&b, p, 1);
        }
        buf_add(&b, "\n");
    }
    return buf_done(&b);
}

char *captions_srt(const struct caption_list *l)
{
    struct buf b = {NULL, 0, 0, false};

    for (size_t i = 0; i < l->n; i++) {
        const struct caption_cue *c = &l->cues[i];
        buf_add(&b, "%s%zu\n", i > 0 ? "\n" : "", i + 1);
        add_time(&b, c->start_ms, ',');
        buf_add(&b, " --> ");
        add_time(&b, c->end_ms, ',');
        buf_add(&b, "\n");
        /* No escapes in SRT: an arrow in the text is drawn as one. */
        for (const char *p = c->text; *p != '\0'; p++) {
            if (strncmp(p, "-->", 3) == 0) {
                buf_add(&b, "\xe2\x86\x92");
                p += 2;
            } else {
                buf_addn(&b, p, 1);
            }
        }
        buf_add(&b, "\n");
    }
    return buf_done(&b);
}

char *captions_text(const struct caption_list *l)
{
    struct buf b = {NULL, 0, 0, false};

    for (size_t i = 0; i < l->n; i++) {
        buf_add(&b, "%s", i > 0 ? " " : "");
        for (const char *p = l->cues[i].text; *p != '\0'; p++)
            buf_addn(&b, *p == '\n' ? " " : p, 1);
    }
    return buf_done(&b);
}
