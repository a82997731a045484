/*
 * In-memory failure throttling (login attempts), never written to disk:
 * rate limits are the one place a client's address is used, and they
 * live only here. Each key (an account, a client, a device cookie)
 * counts its failures in a window; past the limit it is refused until
 * the window ends. The table is bounded: when full, the oldest entry
 * that is not locked out goes (the oldest of all if every one is).
 */
#ifndef CHORUS_THROTTLE_H
#define CHORUS_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct throttle;

/* limit failures per window_s seconds; NULL on out of memory. */
struct throttle *throttle_new(int limit, int window_s, size_t max_entries);
void throttle_free(struct throttle *t);
/* Seconds until key may try again (0: now). key is len bytes. */
int throttle_wait(struct throttle *t, const void *key, size_t len, int64_t now);
/* Counts a failure of key. */
void throttle_fail(struct throttle *t, const void *key, size_t len,
                   int64_t now);
/* Forgets key (after a success). */
void throttle_reset(struct throttle *t, const void *key, size_t len);

#endif
