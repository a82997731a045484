#include "chorus/throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 64

struct entry {
    unsigned char key[KEY_MAX];
    size_t len;
    int failures;
    int64_t window_start;
};

struct throttle {
    pthread_mutex_t lock;
    int limit, window_s;
    struct entry *entries;
    size_t n, max;
};

struct throttle *throttle_new(int limit, int window_s, size_t max_entries)
{
    struct throttle *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->entries = calloc(max_entries, sizeof(*t->entries));
    if (t->entries == NULL) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->limit = limit;
    t->window_s = window_s;
    t->max = max_entries;
    return t;
}

void throttle_free(struct throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->entries);
    free(t);
}

/* Call with the lock held. Keys longer than KEY_MAX are cut. */
static struct entry *find(struct throttle *t, const void *key, size_t len)
{
    if (len > KEY_MAX)
        len = KEY_MAX;
    for (size_t i = 0; i < t->n; i++)
        if (t->entries[i].len == len &&
            memcmp(t->entries[i].key, key, len) == 0)
            return &t->entries[i];
    return NULL;
}

int throttle_wait(struct throttle *t, const void *key, size_t len, int64_t now)
{
    struct entry *e;
    int wait = 0;

    pthread_mutex_lock(&t->lock);
    e = find(t, key, len);
    if (e != NULL && e->failures >= t->limit) {
        int64_t end = e->window_start + t->window_s;
        wait = end > now ? (int)(end - now) : 0;
    }
    pthread_mutex_unlock(&t->lock);
    return wait;
}

void throttle_fail(struct throttle *t, const void *key, size_t len, int64_t now)
{
    struct entry *e;
    bool e_locked = false;

    pthread_mutex_lock(&t->lock);
    e = find(t, key, len);
    if (e == NULL) {
        if (t->n < t->max) {
            e = &t->entries[t->n++];
        } else {
            /* Full: reuse the entry whose window started first, among
             * those not locked out if there are any, so that failing
             * with many keys cannot push a lockout out of the table. */
            e = NULL;
            for (size_t i = 0; i < t->n; i++) {
                struct entry *c = &t->entries[i];
                bool locked = c->failures >= t->limit &&
                              now - c->window_start < t->window_s;

                if (e == NULL || (!locked && e_locked) ||
                    (locked == e_locked && c->window_start < e->window_start)) {
                    e = c;
                    e_locked = locked;
                }
            }
        }
        e->len = len > KEY_MAX ? KEY_MAX : len;
        memcpy(e->key, key, e->len);
        e->failures = 0;
        e->window_start = now;
    }
    if (now - e->window_start >= t->window_s) {
        e->failures = 0;
        e->window_start = now;
    }
    e->failures++;
    pthread_mutex_unlock(&t->lock);
}

void throttle_reset(struct throttle *t, const void *key, size_t len)
{
    struct entry *e;

    pthread_mutex_lock(&t->lock);
    e = find(t, key, len);
    if (e != NULL)
        *e = t->entries[--t->n];
    pthread_mutex_unlock(&t->lock);
}
