/* A minimal table-friendly test harness: checks count failures, main
 * returns non-zero if any failed. */
#ifndef CHORUS_TEST_H
#define CHORUS_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

#define CHECK_INT(got, want)                                                   \
    do {                                                                       \
        long long g_ = (long long)(got), w_ = (long long)(want);               \
        if (g_ != w_) {                                                        \
            fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__,        \
                    __LINE__, #got, g_, w_);                                   \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *g_ = (got), *w_ = (want);                                  \
        if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) {       \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__,    \
                    __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");   \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

#define TEST_RESULT()                                                          \
    (test_failures == 0                                                        \
         ? (printf("ok\n"), 0)                                                 \
         : (fprintf(stderr, "%d check(s) failed\n", test_failures), 1))

#endif
