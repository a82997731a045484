/*
 * Schema migrations: migrations/NNNN_name.sql, compiled into the binary
 * (cmake/embed_migrations.cmake), applied in order at start-up, each in
 * one transaction together with its PRAGMA user_version, so a failing
 * migration leaves the database exactly as it was.
 */
#ifndef CHORUS_MIGRATE_H
#define CHORUS_MIGRATE_H

#include <stddef.h>

struct db;

struct migration {
    int version; /* NNNN: 1, 2, ... without gaps */
    const char *name;
    const char *sql;
};

/* The migrations built into this binary. */
extern const struct migration chorus_migrations[];
extern const size_t chorus_migrations_count;

/*
 * Brings db up to the last of the n migrations in list. Returns how many
 * were applied (0 when already current), or -1 with a reason in err: a
 * migration failed (rolled back), the list has a gap, or the database is
 * newer than this binary.
 */
int migrate_apply(struct db *db, const struct migration *list, size_t n,
                  char *err, size_t errlen);

#endif
