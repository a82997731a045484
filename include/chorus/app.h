/*
 * What the HTTP handlers share for the life of `chorus serve`: the
 * configuration, the database handles and the data directory's layout.
 * Set up once in main.c before the server starts; read-only afterwards
 * except through the structures' own locks.
 */
#ifndef CHORUS_APP_H
#define CHORUS_APP_H

#include <stdatomic.h>
#include <stdint.h>

#include "chorus/config.h"

struct db_pool;
struct upload_registry;
struct throttle;
struct metrics;

struct app {
    const struct config *cfg;
    struct db_pool *db;
    char db_path[4096];
    char web_dir[4096]; /* realpath of --web-dir */
    struct upload_registry *uploads;
    int64_t max_upload_bytes;
    struct throttle *login_by_name;   /* failed logins per username */
    struct throttle *login_by_client; /* failed logins per address */
    atomic_llong uploads_started;     /* since start, for /metrics */
    atomic_llong uploads_finished;
};

#endif
