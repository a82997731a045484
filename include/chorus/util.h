/* Small helpers shared by the modules: random ids, time, files. */
#ifndef CHORUS_UTIL_H
#define CHORUS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* A message or upload id: 128 random bits, base64url without padding. */
#define UTIL_ID_LEN 22
/* A session or receipt token: 256 random bits, base64url. */
#define UTIL_TOKEN_LEN 43

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Initialises libsodium and the clock (CHORUS_TEST_CLOCK); returns 0, or
 * -1. Call once before threads. */
int util_init(void);

/* Fills out (UTIL_ID_LEN + 1 bytes) with a fresh random id. */
void util_random_id(char out[UTIL_ID_LEN + 1]);
/* Fills out (UTIL_TOKEN_LEN + 1 bytes) with a fresh random token. */
void util_random_token(char out[UTIL_TOKEN_LEN + 1]);
/* True if s is exactly an id as util_random_id makes them. */
int util_is_id(const char *s);

/*
 * The one clock of "what time is it" (seconds since the epoch): every
 * expiry, lease and session asks it, so tests can move time instead of
 * sleeping. A unit test replaces it with util_clock_set(). A black-box
 * test sets CHORUS_TEST_CLOCK=FILE for a whole process tree (server,
 * workers): FILE holds a number of seconds added to the real time, read
 * at every call, so the test moves every process's clock at once by
 * rewriting it. Without either, it is time(2).
 */
int64_t util_now(void);
/* Replaces the clock (NULL: back to the real one). Not thread-safe: call
 * before threads start. */
void util_clock_set(int64_t (*fn)(void));
/* Reads CHORUS_TEST_CLOCK's file one last time: from now on util_now()
 * opens no file (a sandboxed job's child may open none). Call before
 * threads start. */
void util_clock_freeze(void);
/* A monotonic clock in milliseconds, for durations (never faked). */
int64_t util_mono_ms(void);
/* CLOCK_MONOTONIC ms milliseconds from now, for pthread_cond_timedwait on
 * a condition set to that clock. */
struct timespec util_mono_after(int ms);
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
