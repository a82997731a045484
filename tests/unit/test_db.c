/* The statement table: every statement prepares against the migrated
 * schema, and none is planned again each time it runs (which a partial
 * index compared with a bound parameter causes, and which cost the
 * panel's list more than its own run). */
#include <stdio.h>
#include <stdlib.h>

#include "chorus/db.h"
#include "chorus/migrate.h"
#include "test.h"

int main(void)
{
    char dir[] = "/tmp/chorus-test-db-XXXXXX";
    char path[256], err[512];
    struct db *db = NULL;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/chorus.db", dir);
    CHECK_INT(db_open(path, &db, err, sizeof(err)), 0);
    CHECK(migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                        sizeof(err)) > 0);
    for (int id = 0; id < STMT__COUNT; id++) {
        struct db_stmt *st;

        /* Run twice with every parameter NULL (db_stmt clears the
         * bindings, which is itself a new binding): a statement whose
         * plan depends on a parameter's value is planned again on its
         * second run. Failures (a NULL in a NOT NULL column) are fine:
         * the planning happens before them. */
        for (int run = 0; run < 2; run++) {
            st = db_stmt(db, (enum stmt)id);
            CHECK(st != NULL);
            if (st == NULL)
                break;
            while (db_step(st) == DB_ROW)
                ;
        }
        if (st != NULL && db_stmt_replans(st) != 0)
            fprintf(stderr, "statement %d is planned again at every run\n", id);
        CHECK(st == NULL || db_stmt_replans(st) == 0);
    }
    db_close(db);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    CHECK(system(path) == 0);
    return TEST_RESULT();
}
