/*
 * The header deadline: a client that sends a request's headers a byte at
 * a time never goes silent long enough for libmicrohttpd's idle timeout,
 * and with a thread per connection it would hold that thread for ever.
 * Every open connection is watched here; a thread shuts down, once a
 * second, each one that has owed a request's headers for longer than
 * the deadline. Shutting the socket down wakes its thread, which sees
 * the end of the stream and closes the connection itself.
 *
 * A watch's socket stays open while the reaper may look at it: the
 * caller unwatches a connection (under the reaper's lock) before the
 * socket is closed.
 */
#ifndef CHORUS_REAPER_H
#define CHORUS_REAPER_H

#include <stdint.h>

struct reaper;
struct reaper_watch;

/* Starts the reaper thread with a deadline of header_timeout_s. 0 with
 * *out set, or -1. */
int reaper_start(int header_timeout_s, struct reaper **out);
/* Stops and frees it; every watch must be gone. NULL is fine. */
void reaper_stop(struct reaper *r);

/* Watches socket fd, owing headers from now. Returns the watch, or NULL
 * without memory (the connection then has only the idle timeout). */
struct reaper_watch *reaper_watch(struct reaper *r, int fd);
/* Stops watching w (before its socket closes) and frees it; NULL is
 * fine. */
void reaper_unwatch(struct reaper *r, struct reaper_watch *w);
/* The connection owes headers since since_ms (util_mono_ms), or (0) is
 * being served. NULL is fine. */
void reaper_owing(struct reaper_watch *w, int64_t since_ms);

#endif
