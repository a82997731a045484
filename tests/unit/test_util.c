/* Formatting done by hand for the panel's list, against libc: ISO 8601
 * times in UTC (util.c), integers in JSON (jsonw.c), file names
 * (media.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chorus/jsonw.h"
#include "chorus/media.h"
#include "chorus/util.h"
#include "test.h"

/* What gmtime_r and strftime say t is. */
static void libc_iso8601(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void same_as_libc(int64_t t)
{
    char ours[21], theirs[32];

    util_iso8601(t, ours);
    libc_iso8601(t, theirs);
    if (strcmp(ours, theirs) != 0)
        fprintf(stderr, "%lld: %s, libc %s\n", (long long)t, ours, theirs);
    CHECK_STR(ours, theirs);
}

static void ints_as_libc(void)
{
    const int64_t v[] = {0,   1,          -1,        9,        10,
                         -10, 1700000000, INT64_MAX, INT64_MIN};
    struct jsonw w;
    char want[512] = "[", *got;
    size_t len, o = 1;

    jsonw_init(&w);
    jsonw_open(&w, '[');
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        jsonw_int(&w, v[i]);
        o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%lld",
                              i > 0 ? "," : "", (long long)v[i]);
    }
    jsonw_close(&w, ']');
    snprintf(want + o, sizeof(want) - o, "]");
    got = jsonw_finish(&w, &len);
    CHECK(got != NULL);
    CHECK_STR(got, want);
    CHECK_INT((long long)len, (long long)strlen(want));
    free(got);
}

static void file_names(void)
{
    char name[64], suffix[32];

    /* The id's first 6 bytes in hex: "AAAB" is 00 00 01. */
    media_file_name("AAABAAAAAAAAAAAAAAAAAA", 951782400, "BY", "be", false,
                    "mp4", name);
    CHECK_STR(name, "chorus-2000-02-29-BY-be-000001000000.mp4");
    media_file_name("_____________________w", 0, NULL, "x", true, "srt", name);
    CHECK_STR(name, "chorus-undated-xx-und-union-only-ffffffffffff.srt");
    media_file_name("AAABAAAAAAAAAAAAAAAAAA", 1, "B\"", "b/e", false, "mp4",
                    name);
    CHECK_STR(name, "chorus-1970-01-01-Bx-bxe-000001000000.mp4");
    media_file_suffix("AAABAAAAAAAAAAAAAAAAAA", "jpg", suffix);
    CHECK_STR(suffix, "-000001000000.jpg");
}

int main(void)
{
    char out[21];
    uint64_t x = 88172645463325252ULL;

    util_iso8601(0, out);
    CHECK_STR(out, "1970-01-01T00:00:00Z");
    util_iso8601(951782400, out); /* a leap day of a century's year */
    CHECK_STR(out, "2000-02-29T00:00:00Z");
    util_iso8601(4107542399, out);
    CHECK_STR(out, "2100-02-28T23:59:59Z");
    /* Each day's edges from 1900 to 2200, then random seconds. */
    for (int64_t day = -25567; day < 84000; day++) {
        same_as_libc(day * 86400);
        same_as_libc(day * 86400 + 86399);
    }
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        same_as_libc((int64_t)(x % 7258118400ULL)); /* to 2200 */
    }
    ints_as_libc();
    file_names();
    return TEST_RESULT();
}
