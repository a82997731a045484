/* Captions: splitting plain text into cues, timing them over speech,
 * checking cues given explicitly, and WebVTT and SRT, table by table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/captions.h"
#include "test.h"

/* Every line of every cue of l within the limits, and the cues' words,
 * in order, those of text. */
static void check_shape(const struct caption_list *l, const char *text)
{
    char *joined = captions_text(l), *want = malloc(strlen(text) + 1);
    size_t o = 0, q = 0;

    CHECK(joined != NULL && want != NULL);
    /* Compared without spaces: a word longer than a line is cut. */
    for (const char *p = text; want != NULL && *p != '\0'; p++)
        if (*p != ' ' && *p != '\n')
            want[o++] = *p;
    if (want != NULL)
        want[o] = '\0';
    for (size_t p = 0; joined != NULL && joined[p] != '\0'; p++)
        if (joined[p] != ' ')
            joined[q++] = joined[p];
    if (joined != NULL)
        joined[q] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const char *t = l->cues[i].text;
        size_t lines = 0;
        for (const char *line = t; line != NULL; lines++) {
            const char *nl = strchr(line, '\n');
            size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
            if (captions_chars(line, len) > CAPTIONS_LINE_CHARS)
                fprintf(stderr, "overlong line: \"%.*s\"\n", (int)len, line);
            CHECK(captions_chars(line, len) <= CAPTIONS_LINE_CHARS);
            CHECK(len > 0);
            line = nl != NULL ? nl + 1 : NULL;
        }
        CHECK(lines <= CAPTIONS_LINES);
    }
    if (joined != NULL && want != NULL && strcmp(joined, want) != 0)
        fprintf(stderr, "joined: \"%s\"\nwant:   \"%s\"\n", joined, want);
    CHECK(joined != NULL && want != NULL && strcmp(joined, want) == 0);
    free(joined);
    free(want);
}

static void test_split(void)
{
    static const struct {
        const char *what, *text;
        int cues;
        /* The cues' texts, where the case says them exactly. */
        const char *want[6];
    } cases[] = {
        {"short sentences share a cue",
         "Free them all. Free them now.",
         1,
         {"Free them all. Free them now."}},
        {"one cue, two balanced lines",
         "Solidarity with the workers of Belarus who stand up for us all",
         1,
         {"Solidarity with the workers of\nBelarus who stand up for us all"}},
        {"a sentence's end ends a cue",
         "We stand with the strikers of Grodno Azot. Their fight for fair "
         "pay is ours too, and we will not forget them.",
         2,
         {"We stand with the strikers of Grodno Azot.",
          "Their fight for fair pay is ours too,\nand we will not forget "
          "them."}},
        {"a clause's end, when the sentence is long",
         "Every morning at the gates of the plant, before the first shift "
         "starts and long after the last one ends, they were there for one "
         "another",
         3,
         {"Every morning at the gates of the plant,",
          "before the first shift starts\nand long after the last one ends,",
          "they were there for one another"}},
        {"Cyrillic counts characters, not bytes",
         "Свабоду палітвязням! Мы памятаем кожнага з вас, і мы не "
         "спынімся, пакуль усе не будуць дома. Жыве Беларусь!",
         3,
         {"Свабоду палітвязням!",
          "Мы памятаем кожнага з вас, і мы не\nспынімся, пакуль усе не будуць "
          "дома.",
          "Жыве Беларусь!"}},
        {"line breaks and runs of spaces are spaces",
         "  Solidarity\n\nforever   ",
         1,
         {"Solidarity forever"}},
        {"a word longer than a line is cut",
         "see https://example.org/a/very/long/address/that/goes/on/and/on/"
         "and/on/forever",
         2,
         {NULL}},
        {"nothing", "   \n ", 0, {NULL}},
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct caption_list l;
        int n;

        captions_init(&l);
        n = captions_split(cases[k].text, &l);
        if (n != cases[k].cues) {
            fprintf(stderr, "split: %s: %d cues\n", cases[k].what, n);
            for (size_t i = 0; i < l.n; i++)
                fprintf(stderr, "  [%s]\n", l.cues[i].text);
        }
        CHECK_INT(n, cases[k].cues);
        CHECK_INT(l.n, cases[k].cues);
        check_shape(&l, cases[k].text);
        for (size_t i = 0; i < l.n && i < 6 && cases[k].want[i] != NULL; i++)
            CHECK_STR(l.cues[i].text, cases[k].want[i]);
        captions_release(&l);
    }
}

/* A long text: every cue within the limits, whatever the text. */
static void test_split_long(void)
{
    static const char *const words[] = {
        "solidarity", "з",    "працоўнымі,", "Беларусі.", "We",
        "stand",      "with", "you;",        "ўсе",       "разам!",
        "Ґанок",      "Їжак", "Єдність",     "–",         "free",
        "them",       "now?", "the",         "union",     "is",
    };
    char text[8192];
    size_t o = 0;
    struct caption_list l;
    unsigned seed = 7;

    for (int i = 0; i < 600 && o < sizeof(text) - 32; i++) {
        seed = seed * 1103515245u + 12345u;
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s ",
                              words[(seed >> 16) % 20]);
    }
    captions_init(&l);
    CHECK(captions_split(text, &l) > 10);
    check_shape(&l, text);
    captions_release(&l);
}

static void test_time(void)
{
    static const struct {
        const char *what;
        struct caption_span spans[3];
        size_t nspans;
        int64_t duration_ms;
        /* ms, within 1 ms; the last cue may show longer (up to
         * CAPTIONS_MIN_MS), not past the clip */
        int64_t first_start, last_end;
    } cases[] = {
        {"silence then speech", {{2.0, 5.0}}, 1, 6000, 2000, 5000},
        {"no speech: the whole clip", {{0, 0}}, 0, 4000, 0, 4000},
        {"spans beyond the clip are cut", {{1.0, 9.0}}, 1, 5000, 1000, 5000},
        {"unordered, overlapping",
         {{3.0, 4.0}, {0.5, 1.5}, {1.0, 2.0}},
         3,
         5000,
         500,
         4000},
    };
    const char *text = "We stand with the strikers. Their fight is ours too, "
                       "and we will not forget them. Free them all.";

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct caption_list l;
        char err[128];

        captions_init(&l);
        CHECK_INT(captions_split(text, &l), 3);
        captions_time(&l, cases[k].spans, cases[k].nspans,
                      cases[k].duration_ms);
        const struct caption_cue *last = &l.cues[l.n - 1];
        bool end_ok = last->end_ms >= cases[k].last_end - 1 &&
                      last->end_ms <= cases[k].duration_ms &&
                      (llabs(last->end_ms - cases[k].last_end) <= 1 ||
                       last->end_ms - last->start_ms <= CAPTIONS_MIN_MS);
        if (llabs(l.cues[0].start_ms - cases[k].first_start) > 1 || !end_ok)
            fprintf(stderr, "time: %s: %lld..%lld\n", cases[k].what,
                    (long long)l.cues[0].start_ms,
                    (long long)l.cues[l.n - 1].end_ms);
        CHECK(llabs(l.cues[0].start_ms - cases[k].first_start) <= 1);
        CHECK(end_ok);
        CHECK_INT(captions_check(&l, cases[k].duration_ms, err, sizeof(err)),
                  0);
        captions_release(&l);
    }

    /* Two phrases with a pause between: no cue starts in the pause, and
     * longer cues show longer. */
    {
        const struct caption_span spans[] = {{1.0, 3.0}, {5.0, 7.0}};
        struct caption_list l;

        captions_init(&l);
        captions_split("A short one. This second cue is a good deal longer "
                       "than the first. And the third.",
                       &l);
        CHECK_INT(l.n, 3);
        captions_time(&l, spans, 2, 8000);
        for (size_t i = 0; i < l.n; i++)
            CHECK(!(l.cues[i].start_ms > 3000 && l.cues[i].start_ms < 5000));
        CHECK(l.cues[1].end_ms - l.cues[1].start_ms >
              l.cues[0].end_ms - l.cues[0].start_ms);
        CHECK_INT(l.cues[0].start_ms, 1000);
        CHECK_INT(l.cues[2].end_ms, 7000);
        captions_release(&l);
    }
}

static void test_check(void)
{
    static const struct {
        const char *what;
        struct {
            int64_t a, b;
            const char *text;
        } cues[3];
        size_t n;
        int64_t duration_ms;
        const char *err; /* NULL: valid; else a part of the reason */
    } cases[] = {
        {"fine", {{0, 1000, "a"}, {1000, 2000, "b"}}, 2, 3000, NULL},
        {"empty",
         {{0, 1000, "a"}, {1000, 2000, "  \n "}},
         2,
         3000,
         "cue 2 has no text"},
        {"backwards",
         {{500, 400, "a"}},
         1,
         3000,
         "cue 1 ends before it starts"},
        {"zero length", {{500, 500, "a"}}, 1, 3000, "ends before it starts"},
        {"before the clip", {{-10, 400, "a"}}, 1, 3000, "starts before"},
        {"after the clip", {{0, 3500, "a"}}, 1, 3000, "after the clip"},
        {"overlap",
         {{0, 1500, "a"}, {1000, 2000, "b"}},
         2,
         3000,
         "not overlap"},
        {"out of order",
         {{2000, 2500, "a"}, {0, 1000, "b"}},
         2,
         3000,
         "in order"},
        {"unknown length: only order", {{0, 99000, "a"}}, 1, 0, NULL},
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct caption_list l;
        char err[256] = "";
        int rc;

        captions_init(&l);
        for (size_t i = 0; i < cases[k].n; i++)
            CHECK_INT(captions_add(&l, cases[k].cues[i].a, cases[k].cues[i].b,
                                   cases[k].cues[i].text),
                      0);
        rc = captions_check(&l, cases[k].duration_ms, err, sizeof(err));
        CHECK_INT(rc, cases[k].err != NULL ? -1 : 0);
        if (cases[k].err != NULL && strstr(err, cases[k].err) == NULL)
            fprintf(stderr, "check: %s: \"%s\"\n", cases[k].what, err);
        CHECK(cases[k].err == NULL || strstr(err, cases[k].err) != NULL);
        captions_release(&l);
    }
}

static void test_write(void)
{
    struct caption_list l;
    char *vtt, *srt, *text;

    captions_init(&l);
    CHECK_INT(captions_add(&l, 1500, 4000, "  Свабоду  <всім> & \n\n усім  "),
              0);
    CHECK_INT(captions_add(&l, 3723004, 3725000, "a --> b"), 0);
    CHECK_STR(l.cues[0].text, "Свабоду <всім> &\nусім");
    vtt = captions_vtt(&l);
    srt = captions_srt(&l);
    text = captions_text(&l);
    CHECK_STR(vtt, "WEBVTT\n\n1\n00:00:01.500 --> 00:00:04.000\n"
                   "Свабоду &lt;всім&gt; &amp;\nусім\n\n"
                   "2\n01:02:03.004 --> 01:02:05.000\na --&gt; b\n");
    CHECK_STR(srt, "1\n00:00:01,500 --> 00:00:04,000\nСвабоду <всім> &\nусім\n"
                   "\n2\n01:02:03,004 --> 01:02:05,000\na \xe2\x86\x92 b\n");
    CHECK_STR(text, "Свабоду <всім> & усім a --> b");
    free(vtt);
    free(srt);
    free(text);
    captions_release(&l);
    /* Nothing: a valid, empty WebVTT file. */
    vtt = captions_vtt(&l);
    CHECK_STR(vtt, "WEBVTT\n");
    free(vtt);
}

int main(void)
{
    test_split();
    test_split_long();
    test_time();
    test_check();
    test_write();
    return TEST_RESULT();
}
