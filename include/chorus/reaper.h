/*
 * The deadlines of a request's headers and body, for every connection.
 *
 * Headers: a client that sends them a byte at a time never goes silent
 * long enough for libmicrohttpd's idle timeout, and with a thread per
 * connection it would hold that thread for ever; a connection that has
 * owed a request's headers for longer than the header deadline is
 * dropped (slow-loris).
 *
 * Bodies: the same client can trickle a body instead (a JSON login, an
 * upload) at a byte every few seconds. Once a body has begun, over every
 * window of the body window's length (the first one is its grace
 * period) it must bring at least the minimum rate times the window's
 * length, or the connection is dropped. A body that ends within its
 * window owes nothing more.
 *
 * A thread looks once a second. It drops a connection by shutting its
 * socket down, which wakes the connection's thread: that thread sees the
 * end of the stream and closes the connection itself (an upload keeps
 * what arrived). Everyone else is served as before.
 *
 * A watch's socket stays open while the reaper may look at it: the
 * caller unwatches a connection (under the reaper's lock) before the
 * socket is closed.
 */
#ifndef CHORUS_REAPER_H
#define CHORUS_REAPER_H

#include <stddef.h>
#include <stdint.h>

struct reaper;
struct reaper_watch;

/* The deadlines. */
struct reaper_limits {
    int header_timeout_s;
    int64_t min_body_rate; /* bytes per second; 0: bodies have no minimum */
    int body_window_s;
};

/* Starts the reaper thread. 0 with *out set, or -1. */
int reaper_start(const struct reaper_limits *limits, struct reaper **out);
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
/* A request body begins at since_ms, or (0) has ended. NULL is fine. */
void reaper_body(struct reaper_watch *w, int64_t since_ms);
/* n more bytes of the body arrived. NULL is fine. */
void reaper_body_bytes(struct reaper_watch *w, size_t n);

#endif
