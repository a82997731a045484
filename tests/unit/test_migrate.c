/* Migrations: a fresh database gets every table; a second run changes
 * nothing; a failing migration leaves the database exactly as it was. */
#include <stdlib.h>
#include <unistd.h>

#include "chorus/db.h"
#include "chorus/migrate.h"
#include "test.h"

static int has_table(struct db *db, const char *table)
{
    char sql[128], err[256];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    return db_exec_script(db, sql, err, sizeof(err)) == 0;
}

int main(void)
{
    char dir[] = "/tmp/chorus-test-migrate-XXXXXX";
    char path[256], err[512];
    struct db *db = NULL;
    int version = -1;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/chorus.db", dir);
    CHECK_INT(db_open(path, &db, err, sizeof(err)), 0);

    /* Fresh: everything applied, every table of the design there. */
    CHECK_INT(migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                            sizeof(err)),
              (long long)chorus_migrations_count);
    CHECK_INT(db_user_version(db, &version), 0);
    CHECK_INT(version, (long long)chorus_migrations_count);
    CHECK(has_table(db, "messages"));
    CHECK(has_table(db, "jobs"));
    CHECK(has_table(db, "users"));
    CHECK(has_table(db, "sessions"));
    CHECK(has_table(db, "audit"));
    /* Constraints hold: an unknown message status is refused. */
    CHECK(db_exec_script(db,
                         "INSERT INTO messages (id, status, created_at,"
                         " updated_at) VALUES ('aaaaaaaaaaaaaaaaaaaaaa',"
                         " 'bogus', 0, 0)",
                         err, sizeof(err)) != 0);

    /* Second run: a no-op. */
    CHECK_INT(migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                            sizeof(err)),
              0);

    /* A broken migration: its first statement succeeds, its second
     * fails; both must be rolled back and the version kept. */
    {
        struct migration list[16];
        size_t n = chorus_migrations_count;

        CHECK(n + 1 < 16);
        for (size_t i = 0; i < n; i++)
            list[i] = chorus_migrations[i];
        list[n].version = (int)n + 1;
        list[n].name = "9999_broken";
        list[n].sql = "CREATE TABLE half_done (x INTEGER);\n"
                      "INSERT INTO half_done VALUES (1);\n"
                      "ALTER TABLE no_such_table ADD COLUMN y TEXT;\n";
        err[0] = '\0';
        CHECK_INT(migrate_apply(db, list, n + 1, err, sizeof(err)), -1);
        CHECK(strstr(err, "9999_broken") != NULL);
        CHECK(strstr(err, "no_such_table") != NULL);
        CHECK(!has_table(db, "half_done"));
        CHECK_INT(db_user_version(db, &version), 0);
        CHECK_INT(version, (long long)n);

        /* A gap in the numbering is refused before anything runs. */
        list[n].version = (int)n + 2;
        CHECK_INT(migrate_apply(db, list, n + 1, err, sizeof(err)), -1);
    }

    /* Data of the first schema survives every later migration: a
     * database at version 1 with a message and its jobs. */
    {
        char old[256];
        struct db *odb = NULL;
        struct db_stmt *st;

        snprintf(old, sizeof(old), "%s/old.db", dir);
        CHECK_INT(db_open(old, &odb, err, sizeof(err)), 0);
        CHECK_INT(migrate_apply(odb, chorus_migrations, 1, err, sizeof(err)),
                  1);
        CHECK_INT(db_exec_script(
                      odb,
                      "INSERT INTO messages (id, status, created_at,"
                      " updated_at) VALUES ('bbbbbbbbbbbbbbbbbbbbbb',"
                      " 'processing', 0, 0);"
                      "INSERT INTO jobs (id, message_id, state, attempts,"
                      " run_after, lease_until, worker, created_at,"
                      " updated_at) VALUES (7, 'bbbbbbbbbbbbbbbbbbbbbb',"
                      " 'running', 2, 0, 99, 'w1', 0, 0),"
                      " (8, 'bbbbbbbbbbbbbbbbbbbbbb', 'failed', 3, 0, NULL,"
                      " NULL, 0, 0);",
                      err, sizeof(err)),
                  0);
        CHECK_INT(migrate_apply(odb, chorus_migrations, chorus_migrations_count,
                                err, sizeof(err)),
                  (long long)chorus_migrations_count - 1);
        /* The running job is still the same claimable job. */
        st = db_stmt(odb, STMT_JOB_NEXT);
        CHECK(st != NULL);
        db_bind_int(st, 1, 100);
        CHECK_INT(db_step(st), DB_ROW);
        CHECK_INT(db_col_int(st, 0), 7);
        CHECK_STR(db_col_text(st, 1), "bbbbbbbbbbbbbbbbbbbbbb");
        CHECK_INT(db_col_int(st, 2), 2);
        CHECK_STR(db_col_text(st, 4), "transcode");
        db_reset(st);
        /* The index that keeps one live transcode per message holds. */
        CHECK(db_exec_script(odb,
                             "INSERT INTO jobs (message_id, state, run_after,"
                             " created_at, updated_at) VALUES"
                             " ('bbbbbbbbbbbbbbbbbbbbbb', 'queued', 0, 0, 0)",
                             err, sizeof(err)) != 0);
        db_close(odb);
    }

    /* A database newer than the binary is refused. */
    CHECK_INT(db_set_user_version(db, (int)chorus_migrations_count + 5), 0);
    CHECK_INT(migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                            sizeof(err)),
              -1);
    CHECK(strstr(err, "newer") != NULL);

    db_close(db);
    snprintf(err, sizeof(err), "rm -rf '%s'", dir);
    CHECK_INT(system(err), 0);
    return TEST_RESULT();
}
