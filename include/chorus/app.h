/*
 * What the HTTP handlers share for the life of `chorus serve`: the
 * configuration, the database handles and the data directory's layout.
 * Set up once in main.c before the server starts; read-only afterwards
 * except through the structures' own locks.
 */
#ifndef CHORUS_APP_H
#define CHORUS_APP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "chorus/config.h"
#include "chorus/router.h"

struct client_nets;
struct db_pool;
struct upload_registry;
struct throttle;
struct metrics;
struct objstore;
struct worker_api;

struct app {
    const struct config *cfg;
    struct db_pool *db;
    char db_path[4096];
    char web_dir[4096];          /* realpath of --web-dir */
    struct client_nets *proxies; /* --trusted-proxy */
    struct upload_registry *uploads;
    int64_t max_upload_bytes;
    /* Failed logins (account.c): strangers' per account (case-folded
     * name) and per client; a device cookie's own. */
    struct throttle *login_by_name;
    struct throttle *login_by_client;
    struct throttle *login_by_device;
    unsigned char device_key[32]; /* data/device.key (device.h) */
    atomic_llong uploads_started; /* since start, for /metrics */
    atomic_llong uploads_finished;
    /* A withdrawal or a deletion left text in the WAL that a checkpoint
     * could not clear yet: the main loop tries again every second. */
    atomic_int checkpoint_due;
    /* --storage s3://: the bucket (objstore.h); NULL: the data dir. */
    struct objstore *store;
    /* Remote workers seen and claim latencies (worker_api.c). */
    struct worker_api *workers;
    /* Set at shutdown: waiting claims answer at once. */
    atomic_int stopping;
};

struct db;

/* The route table of Chorus (app.c). */
extern const struct route app_routes[];
extern const size_t app_routes_count;

/*
 * Makes the data directory, opens its database and brings its schema up
 * to date. Returns 0 with *db open (the caller db_close()s it) and its
 * path in db_path, or -1 (logged).
 */
int app_open_data(const struct config *cfg, struct db **db, char *db_path,
                  size_t db_path_len);

/*
 * Sets up app for serving cfg: the web directory, the data directory and
 * its database (*db: a handle of the main thread's own), the handles of
 * the HTTP threads, the upload registry and the login throttles; and
 * finishes uploads a kill left half-recorded. Returns 0, or -1 (logged;
 * app_close() still cleans up).
 */
int app_open(struct app *app, const struct config *cfg, struct db **db);
/* Releases what app_open() set up; db may be NULL. */
void app_close(struct app *app, struct db *db);

#endif
