#include "chorus/migrate.h"

#include <stdio.h>

#include "chorus/db.h"
#include "chorus/log.h"

int migrate_apply(struct db *db, const struct migration *list, size_t n,
                  char *err, size_t errlen)
{
    char why[512];
    int current, applied = 0;

    for (size_t i = 0; i < n; i++) {
        if (list[i].version != (int)i + 1) {
            snprintf(err, errlen, "migration %s is numbered %d, expected %zu",
                     list[i].name, list[i].version, i + 1);
            return -1;
        }
    }
    if (db_user_version(db, &current) != 0) {
        snprintf(err, errlen, "cannot read the schema version");
        return -1;
    }
    if (current > (int)n) {
        snprintf(err, errlen,
                 "the database is at schema version %d but this chorus "
                 "knows only %zu: use a newer chorus",
                 current, n);
        return -1;
    }
    for (size_t i = (size_t)current; i < n; i++) {
        const struct migration *m = &list[i];

        if (db_begin(db) < 0) {
            snprintf(err, errlen, "migration %s: cannot begin", m->name);
            return -1;
        }
        snprintf(why, sizeof(why), "cannot record its version or commit");
        if (db_exec_script(db, m->sql, why, sizeof(why)) != 0 ||
            db_set_user_version(db, m->version) != 0 || db_commit(db) < 0) {
            db_rollback(db);
            snprintf(err, errlen, "migration %s failed and was rolled back: %s",
                     m->name, why);
            return -1;
        }
        log_info("applied migration %s", m->name);
        applied++;
    }
    return applied;
}
