#include "chorus/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

static int64_t (*clock_fn)(void);
/* CHORUS_TEST_CLOCK, read once by util_init() before any thread. */
static const char *clock_file;
/* Its offset once util_clock_freeze() read it for the last time. */
static bool clock_frozen;
static int64_t frozen_offset;

int util_init(void)
{
    clock_file = getenv("CHORUS_TEST_CLOCK");
    if (clock_file != NULL && clock_file[0] == '\0')
        clock_file = NULL;
    return sodium_init() < 0 ? -1 : 0;
}

static void random_b64(char *out, size_t outlen, size_t nbytes)
{
    unsigned char buf[32];

    randombytes_buf(buf, nbytes);
    sodium_bin2base64(out, outlen, buf, nbytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(buf, sizeof(buf));
}

void util_random_id(char out[UTIL_ID_LEN + 1])
{
    random_b64(out, UTIL_ID_LEN + 1, 16);
}

void util_random_token(char out[UTIL_TOKEN_LEN + 1])
{
    random_b64(out, UTIL_TOKEN_LEN + 1, 32);
}

int util_is_id(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (i >= UTIL_ID_LEN ||
            !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return i == UTIL_ID_LEN;
}

/* The offset in CHORUS_TEST_CLOCK's file (0 if it cannot be read). */
static int64_t test_offset(void)
{
    char buf[32];
    int64_t offset = 0;
    ssize_t n;
    int fd;

    if (clock_frozen)
        return frozen_offset;
    if ((fd = open(clock_file, O_RDONLY | O_CLOEXEC)) >= 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            offset = strtoll(buf, NULL, 10);
        }
    }
    return offset;
}

void util_clock_freeze(void)
{
    if (clock_file != NULL)
        frozen_offset = test_offset();
    clock_frozen = true;
}

int64_t util_now(void)
{
    if (clock_fn != NULL)
        return clock_fn();
    if (clock_file != NULL)
        return (int64_t)time(NULL) + test_offset();
    return (int64_t)time(NULL);
}

void util_clock_set(int64_t (*fn)(void))
{
    clock_fn = fn;
}

int64_t util_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec util_mono_after(int ms)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* n as width digits, zero-padded, at out. */
static void put_digits(char *out, int64_t n, int width)
{
    for (int i = width - 1; i >= 0; i--, n /= 10)
        out[i] = (char)('0' + n % 10);
}

/*
 * By arithmetic rather than gmtime_r, which takes glibc's time zone lock
 * even for UTC: the panel's list writes five times a row, from every
 * HTTP thread at once. Days since 1970 become a proleptic Gregorian
 * date counted in 400-year eras from 0000-03-01 (the leap day then ends
 * a year).
 */
void util_iso8601(int64_t t, char out[21])
{
    int64_t days = t / 86400, secs = t % 86400;
    int64_t z, era, doe, yoe, doy, mp, y, m, d;

    if (secs < 0) {
        secs += 86400;
        days--;
    }
    z = days + 719468; /* days from 0000-03-01 */
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = yoe + era * 400 + (m <= 2);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, secs / 3600, 2);
    out[13] = ':';
    put_digits(out + 14, secs / 60 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, secs % 60, 2);
    out[19] = 'Z';
    out[20] = '\0';
}

int util_mkdirs(const char *path, mode_t mode)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        if (i < len)
            buf[i] = '/';
    }
    return 0;
}

int util_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int util_fmt(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int util_memcmp_ct(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len);
}
