/* The audit chain: intact rows verify; an edited, deleted or inserted
 * row is found, at the first broken link. */
#include <stdlib.h>

#include "chorus/audit.h"
#include "chorus/db.h"
#include "chorus/migrate.h"
#include "chorus/util.h"
#include "test.h"

static struct db *fresh(const char *dir, const char *name)
{
    char path[256], err[512];
    struct db *db = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (db_open(path, &db, err, sizeof(err)) != 0 ||
        migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                      sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    for (int i = 0; i < 5; i++) {
        char target[16];
        snprintf(target, sizeof(target), "m%d", i);
        if (db_begin(db) < 0 ||
            audit_append(db, "mod1", "message.approve", target,
                         i == 2 ? NULL : "fine") < 0 ||
            db_commit(db) < 0)
            exit(1);
    }
    return db;
}

int main(void)
{
    char dir[] = "/tmp/chorus-test-audit-XXXXXX", err[512];
    struct db *db;

    CHECK_INT(util_init(), 0);
    CHECK(mkdtemp(dir) != NULL);

    db = fresh(dir, "a.db");
    CHECK_INT(audit_verify(db), 0);
    /* Rows cannot be changed through SQL while the triggers stand. */
    CHECK(db_exec_script(db, "UPDATE audit SET reason = 'x' WHERE id = 3", err,
                         sizeof(err)) != 0);
    CHECK(db_exec_script(db, "DELETE FROM audit WHERE id = 3", err,
                         sizeof(err)) != 0);
    /* Someone with the file drops them and edits row 3. */
    CHECK_INT(db_exec_script(db,
                             "DROP TRIGGER audit_no_update;"
                             "UPDATE audit SET actor = 'mod2' WHERE id = 3",
                             err, sizeof(err)),
              0);
    CHECK_INT(audit_verify(db), 3);
    db_close(db);

    /* NULL and empty reasons hash differently. */
    db = fresh(dir, "b.db");
    CHECK_INT(db_exec_script(db,
                             "DROP TRIGGER audit_no_update;"
                             "UPDATE audit SET reason = '' WHERE id = 3",
                             err, sizeof(err)),
              0);
    CHECK_INT(audit_verify(db), 3);
    db_close(db);

    /* A deleted row breaks the link of the row after it. */
    db = fresh(dir, "c.db");
    CHECK_INT(db_exec_script(db,
                             "DROP TRIGGER audit_no_delete;"
                             "DELETE FROM audit WHERE id = 2",
                             err, sizeof(err)),
              0);
    CHECK_INT(audit_verify(db), 3);
    db_close(db);

    snprintf(err, sizeof(err), "rm -rf '%s'", dir);
    CHECK_INT(system(err), 0);
    return TEST_RESULT();
}
