/* The Range header of /media: one range served, anything else the whole
 * file, and ranges outside the file refused (416). Plus the generated
 * download names, which must never carry client text. */
#include <stdint.h>

#include "chorus/media.h"
#include "test.h"

static const struct {
    const char *header;
    uint64_t size;
    int rc;
    uint64_t start, len;
} ranges[] = {
    {NULL, 100, RANGE_FULL, 0, 0},
    {"bytes=0-9", 100, RANGE_PARTIAL, 0, 10},
    {"bytes=10-", 100, RANGE_PARTIAL, 10, 90},
    {"bytes=90-200", 100, RANGE_PARTIAL, 90, 10}, /* cut at the end */
    {"bytes=-10", 100, RANGE_PARTIAL, 90, 10},
    {"bytes=-1000", 100, RANGE_PARTIAL, 0, 100},
    {"bytes= 5-6", 100, RANGE_PARTIAL, 5, 2},
    {"bytes=99-99", 100, RANGE_PARTIAL, 99, 1},
    {"bytes=100-", 100, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=100-200", 100, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-0", 100, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-5", 0, RANGE_UNSATISFIABLE, 0, 0},
    /* Malformed or several ranges: ignored, the whole file is sent. */
    {"bytes=9-1", 100, RANGE_FULL, 0, 0},
    {"bytes=0-1,5-6", 100, RANGE_FULL, 0, 0},
    {"items=0-9", 100, RANGE_FULL, 0, 0},
    {"bytes=", 100, RANGE_FULL, 0, 0},
    {"bytes=-", 100, RANGE_FULL, 0, 0},
    {"bytes=a-b", 100, RANGE_FULL, 0, 0},
    {"bytes=0-9x", 100, RANGE_FULL, 0, 0},
    {"bytes=18446744073709551616-", 100, RANGE_FULL, 0, 0}, /* 2^64 */
    {"bytes=0-18446744073709551616", 100, RANGE_FULL, 0, 0},
    {"bytes=0-18446744073709551615", 100, RANGE_PARTIAL, 0, 100},
    {"bytes=5-5", UINT64_MAX, RANGE_PARTIAL, 5, 1},
};

static const struct {
    const char *id, *country, *language;
    int64_t created;
    const char *want;
} names[] = {
    {"AAECAwQFBgcICQoLDA0ODw", "BY", "be", 1776600000,
     "chorus-2026-04-19-BY-be-000102030405.mp4"},
    {"AAECAwQFBgcICQoLDA0ODw", NULL, NULL, 0,
     "chorus-undated-xx-und-000102030405.mp4"},
    /* A language tag keeps its '-'; nothing else but [A-Za-z0-9.-]. */
    {"AAECAwQFBgcICQoLDA0ODw", "UA", "uk-UA", 1776600000,
     "chorus-2026-04-19-UA-uk--000102030405.mp4"},
    /* No '/' survives, whatever the database held. */
    {"AAECAwQFBgcICQoLDA0ODw", "B/", "../", 1776600000,
     "chorus-2026-04-19-Bx-..x-000102030405.mp4"},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        uint64_t start = 0, len = 0;
        int rc =
            media_parse_range(ranges[i].header, ranges[i].size, &start, &len);

        if (rc != ranges[i].rc)
            fprintf(stderr, "case %zu: %s\n", i,
                    ranges[i].header ? ranges[i].header : "(none)");
        CHECK_INT(rc, ranges[i].rc);
        if (rc == RANGE_PARTIAL) {
            CHECK_INT(start, ranges[i].start);
            CHECK_INT(len, ranges[i].len);
        }
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char out[64];

        media_file_name(names[i].id, names[i].created, names[i].country,
                        names[i].language, false, "mp4", out);
        CHECK_STR(out, names[i].want);
    }
    {
        /* A union-only clip says so in its name; every name of a clip
         * ends alike (what finds a withdrawn clip's copies). */
        char out[64], suffix[32];
        media_file_name(names[0].id, names[0].created, names[0].country,
                        names[0].language, true, "mp4", out);
        CHECK(strstr(out, "-union-only-") != NULL);
        media_file_suffix(names[0].id, "mp4", suffix);
        CHECK_STR(out + strlen(out) - strlen(suffix), suffix);
        CHECK_STR(names[0].want + strlen(names[0].want) - strlen(suffix),
                  suffix);
    }
    return TEST_RESULT();
}
