/*
 * Case folding of login names (fold.c): a table of names in the scripts
 * it covers, malformed UTF-8 refused, and, where Debian's unicode-data
 * is installed (scripts/deps test), every code point of the blocks it
 * claims checked against Unicode's own CaseFolding.txt (status C and S).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/fold.h"
#include "chorus/util.h"
#include "test.h"

#define CASE_FOLDING "/usr/share/unicode/CaseFolding.txt"

static void test_names(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Moderator", "moderator"},
        {"MODERATOR", "moderator"},
        {"MoDeRaToR", "moderator"},
        {"Модератор", "модератор"},
        {"МОДЕРАТОР", "модератор"},
        {"ЁЖ Ў І Ї Є Ґ", "ёж ў і ї є ґ"}, /* Belarusian, Ukrainian */
        {"ΣΟΦΙΑ", "σοφια"},
        {"Σοφίας", "σοφίασ"}, /* final sigma folds as sigma */
        {"ΆΈΉΊΌΎΏ", "άέήίόύώ"},
        {"ÀÉÎÕÜÇÑØÅÆÞ", "àéîõüçñøåæþ"},
        {"ŁĄĘŻŹĆŃŚÓ", "łąężźćńśó"},
        {"ȘȚ", "șț"},                 /* Romanian, Latin Extended-B */
        {"NGUYỄN ĐỨC", "nguyễn đức"}, /* Vietnamese */
        {"Straße", "straße"},         /* simple folding: ß stays */
        {"STRAẞE", "straße"},         /* capital sharp s */
        {"ՀԱՅԿ", "հայկ"},             /* Armenian */
        {"ＡＢＣ", "ａｂｃ"},         /* fullwidth */
        {"李雷 علی", "李雷 علی"},     /* no case: unchanged */
        {"", ""},
    };
    char out[256];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        CHECK(fold_utf8(cases[i].in, out, sizeof(out)) >= 0);
        CHECK_STR(out, cases[i].want);
    }
    /* Malformed: cut, overlong, surrogate, past U+10FFFF, stray byte. */
    CHECK_INT(fold_utf8("ab\xc3", out, sizeof(out)), -1);
    CHECK_INT(fold_utf8("\xc0\xaf", out, sizeof(out)), -1);
    CHECK_INT(fold_utf8("\xed\xa0\x80", out, sizeof(out)), -1);
    CHECK_INT(fold_utf8("\xf4\x90\x80\x80", out, sizeof(out)), -1);
    CHECK_INT(fold_utf8("a\x80", out, sizeof(out)), -1);
    /* Too small for the result and its NUL. */
    CHECK_INT(fold_utf8("abc", out, 3), -1);
    CHECK_INT(fold_utf8("abc", out, 4), 3);
    /* Folding may grow a name: U+023A (2 bytes) folds to U+2C65 (3). */
    CHECK_INT(fold_utf8("\xc8\xba", out, sizeof(out)), 3);
    CHECK_STR(out, "\xe2\xb1\xa5");
}

/* The blocks fold.h claims, against CaseFolding.txt. */
static void test_against_unicode(void)
{
    static const uint32_t blocks[][2] = {
        {0x0000, 0x024F}, {0x0370, 0x03FF}, {0x0400, 0x052F},
        {0x0530, 0x058F}, {0x1E00, 0x1EFF}, {0xFF00, 0xFFEF},
    };
    static uint32_t want[0x10000];
    FILE *f = fopen(CASE_FOLDING, "r");
    char line[512];
    int checked = 0;

    if (f == NULL) {
        fprintf(stderr,
                "test_fold: no %s (Debian's unicode-data); the "
                "table is checked by its examples only\n",
                CASE_FOLDING);
        return;
    }
    for (uint32_t c = 0; c < 0x10000; c++)
        want[c] = c;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long code, to;
        char status;

        if (sscanf(line, "%lx; %c; %lx;", &code, &status, &to) == 3 &&
            (status == 'C' || status == 'S') && code < 0x10000)
            want[code] = (uint32_t)to;
    }
    fclose(f);
    for (size_t b = 0; b < ARRAY_LEN(blocks); b++)
        for (uint32_t c = blocks[b][0]; c <= blocks[b][1]; c++) {
            if (fold_char(c) != want[c]) {
                fprintf(stderr, "U+%04X folds to U+%04X, Unicode says U+%04X\n",
                        (unsigned)c, (unsigned)fold_char(c), (unsigned)want[c]);
                test_failures++;
            }
            checked++;
        }
    CHECK_INT(checked, 1632);
}

int main(void)
{
    test_names();
    test_against_unicode();
    return TEST_RESULT();
}
