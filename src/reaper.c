#include "chorus/reaper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "chorus/log.h"
#include "chorus/util.h"

struct reaper_watch {
    struct reaper_watch *prev, *next;
    int fd;
    /* When the connection began to owe a request's headers (it opened or
     * its last request ended), in ms; 0 while a request is served. */
    _Atomic int64_t owing_since;
    /* When the current window of a request body began, in ms; 0 when no
     * body is coming. The bytes that arrived in it. */
    _Atomic int64_t body_window;
    _Atomic int64_t body_bytes;
};

struct reaper {
    int64_t limit_ms;
    int64_t body_rate, body_window_ms;
    /* The watches; the lock also keeps each fd open while the reaper
     * looks at it (see reaper.h). */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct reaper_watch *watched;
    bool stopping;
    pthread_t thread;
};

/*
 * A body's window is over: drops the connection if it brought less than
 * the minimum over it, else starts the next window (unless the body has
 * ended or another began meanwhile).
 */
static void check_body(struct reaper *r, struct reaper_watch *w, int64_t window,
                       int64_t now)
{
    int64_t got = atomic_exchange(&w->body_bytes, 0);
    /* rate <= 1e9 and a window of hours: no overflow */
    int64_t need = r->body_rate * (now - window) / 1000;

    if (got < need) {
        log_info("dropping a connection whose request body came at %lld "
                 "bytes/s, under the minimum of %lld",
                 (long long)(got * 1000 / (now - window)),
                 (long long)r->body_rate);
        shutdown(w->fd, SHUT_RDWR);
        atomic_store(&w->body_window, 0);
        return;
    }
    atomic_compare_exchange_strong(&w->body_window, &window, now);
}

static void *reaper_main(void *arg)
{
    struct reaper *r = arg;

    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        struct timespec until;
        int64_t now = util_mono_ms();

        for (struct reaper_watch *w = r->watched; w != NULL; w = w->next) {
            int64_t since = atomic_load(&w->owing_since);
            int64_t window = atomic_load(&w->body_window);

            if (since != 0 && now - since > r->limit_ms) {
                log_debug("dropping a connection that sent no complete "
                          "request headers in %lld s",
                          (long long)(r->limit_ms / 1000));
                shutdown(w->fd, SHUT_RDWR);
                atomic_store(&w->owing_since, 0);
            }
            if (window != 0 && r->body_rate > 0 &&
                now - window >= r->body_window_ms)
                check_body(r, w, window, now);
        }
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&r->wake, &r->lock, &until);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int reaper_start(const struct reaper_limits *limits, struct reaper **out)
{
    struct reaper *r = calloc(1, sizeof(*r));
    pthread_condattr_t attr;
    bool lock = false, cond = false;

    *out = NULL;
    if (r == NULL)
        return -1;
    r->limit_ms = (int64_t)limits->header_timeout_s * 1000;
    r->body_rate = limits->min_body_rate;
    r->body_window_ms = (int64_t)limits->body_window_s * 1000;
    if (pthread_mutex_init(&r->lock, NULL) != 0)
        goto fail;
    lock = true;
    if (pthread_condattr_init(&attr) != 0)
        goto fail;
    cond = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
           pthread_cond_init(&r->wake, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!cond || pthread_create(&r->thread, NULL, reaper_main, r) != 0)
        goto fail;
    *out = r;
    return 0;
fail:
    log_warnx("cannot start the connection reaper");
    if (cond)
        pthread_cond_destroy(&r->wake);
    if (lock)
        pthread_mutex_destroy(&r->lock);
    free(r);
    return -1;
}

void reaper_stop(struct reaper *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

struct reaper_watch *reaper_watch(struct reaper *r, int fd)
{
    struct reaper_watch *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->fd = fd;
    atomic_store(&w->owing_since, util_mono_ms());
    pthread_mutex_lock(&r->lock);
    w->next = r->watched;
    if (w->next != NULL)
        w->next->prev = w;
    r->watched = w;
    pthread_mutex_unlock(&r->lock);
    return w;
}

void reaper_unwatch(struct reaper *r, struct reaper_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        r->watched = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&r->lock);
    free(w);
}

void reaper_owing(struct reaper_watch *w, int64_t since_ms)
{
    if (w != NULL)
        atomic_store(&w->owing_since, since_ms);
}

void reaper_body(struct reaper_watch *w, int64_t since_ms)
{
    if (w == NULL)
        return;
    atomic_store(&w->body_bytes, 0);
    atomic_store(&w->body_window, since_ms);
}

void reaper_body_bytes(struct reaper_watch *w, size_t n)
{
    if (w != NULL)
        atomic_fetch_add(&w->body_bytes, (int64_t)n);
}
