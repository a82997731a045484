/* Small helpers shared by the modules: random ids, time, files. */
#ifndef CHORUS_UTIL_H
#define CHORUS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A message or upload id: 128 random bits, base64url without padding. */
#define UTIL_ID_LEN 22
/* A session or receipt token: 256 random bits, base64url. */
#define UTIL_TOKEN_LEN 43

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Initialises libsodium; returns 0, or -1. Call once before threads. */
int util_init(void);

/* Fills out (UTIL_ID_LEN + 1 bytes) with a fresh random id. */
void util_random_id(char out[UTIL_ID_LEN + 1]);
/* Fills out (UTIL_TOKEN_LEN + 1 bytes) with a fresh random token. */
void util_random_token(char out[UTIL_TOKEN_LEN + 1]);
/* True if s is exactly an id as util_random_id makes them. */
int util_is_id(const char *s);

/* Seconds since the epoch, and a monotonic clock in milliseconds. */
int64_t util_now(void);
int64_t util_mono_ms(void);
/* Writes t as "2026-04-19T12:00:00Z" into out (at least 21 bytes). */
void util_iso8601(int64_t t, char out[21]);

/*
 * Creates path and its missing parents with mode; an existing directory is
 * fine. Returns 0, or -1 with errno set.
 */
int util_mkdirs(const char *path, mode_t mode);
/* fsync(2)s the directory path, making a rename in it durable. */
int util_fsync_dir(const char *path);

/*
 * snprintf that treats truncation as failure: returns 0, or -1 (with
 * errno ENAMETOOLONG) if the result did not fit.
 */
int util_fmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Constant-time comparison of two equal-length buffers: 0 if equal. */
int util_memcmp_ct(const void *a, const void *b, size_t len);

#endif
