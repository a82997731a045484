/*
 * The retention sweep on a real database and data directory, with the
 * clock moved instead of waited for: a failed message's original goes
 * after exactly --failed-retention-days, a rejected one's media after
 * --rejected-retention-days, the rows say so, and nothing else is
 * touched (a pending clip, a rejected one still in its time).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/migrate.h"
#include "chorus/retention.h"
#include "chorus/storage.h"
#include "chorus/util.h"
#include "test.h"

static int64_t now_is;

static int64_t fake_now(void)
{
    return now_is;
}

static struct db *db;
static char dir[] = "/tmp/chorus-test-retention-XXXXXX";

static void must(const char *sql)
{
    char err[512];

    if (db_exec_script(db, sql, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", sql, err);
        exit(1);
    }
}

/* A message in state status changed at `at`, with a file of kind. */
static void make(const char *id, const char *status, int64_t at,
                 enum storage_kind kind)
{
    char sql[512], path[512], media[512];
    FILE *f;

    snprintf(sql, sizeof(sql),
             "INSERT INTO messages (id, status, name, created_at, updated_at,"
             " decided_at) VALUES ('%s', '%s', 'Алеся', %lld, %lld, %s)",
             id, status, (long long)at, (long long)at,
             strcmp(status, "rejected") == 0 ? "1" : "NULL");
    must(sql);
    storage_path(dir, STORAGE_MEDIA_DIR, id, media, sizeof(media));
    mkdir(media, 0700);
    storage_path(dir, kind, id, path, sizeof(path));
    f = fopen(path, "w");
    if (f == NULL)
        exit(1);
    fputs("bytes", f);
    fclose(f);
}

static bool exists(enum storage_kind kind, const char *id)
{
    char path[512];

    storage_path(dir, kind, id, path, sizeof(path));
    return access(path, F_OK) == 0;
}

int main(void)
{
    char path[512], err[512];
    struct config cfg;
    const int64_t day = 86400, t0 = 1800000000;

    CHECK_INT(util_init(), 0);
    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(storage_init(dir), 0);
    snprintf(path, sizeof(path), "%s/chorus.db", dir);
    if (db_open(path, &db, err, sizeof(err)) != 0 ||
        migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                      sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.data_dir = dir;
    cfg.failed_retention_days = 7;
    cfg.rejected_retention_days = 30;
    util_clock_set(fake_now);

    make("failedAAAAAAAAAAAAAAAA", "failed", t0, STORAGE_INCOMING);
    make("rejectedAAAAAAAAAAAAAA", "rejected", t0, STORAGE_VIDEO);
    make("pendingAAAAAAAAAAAAAAA", "pending", t0, STORAGE_VIDEO);

    /* A second short of seven days: nothing. */
    now_is = t0 + 7 * day - 1;
    CHECK_INT(retention_sweep(&cfg, db), 0);
    CHECK(exists(STORAGE_INCOMING, "failedAAAAAAAAAAAAAAAA"));
    /* Seven days: the failed original goes, the rejected video stays. */
    now_is = t0 + 7 * day;
    CHECK_INT(retention_sweep(&cfg, db), 1);
    CHECK(!exists(STORAGE_INCOMING, "failedAAAAAAAAAAAAAAAA"));
    CHECK(exists(STORAGE_VIDEO, "rejectedAAAAAAAAAAAAAA"));
    /* Once is enough. */
    CHECK_INT(retention_sweep(&cfg, db), 0);
    /* Thirty days: the rejected one's media dir goes whole; a pending
     * clip is never retention's business. */
    now_is = t0 + 30 * day;
    CHECK_INT(retention_sweep(&cfg, db), 1);
    CHECK(!exists(STORAGE_VIDEO, "rejectedAAAAAAAAAAAAAA"));
    CHECK(!exists(STORAGE_MEDIA_DIR, "rejectedAAAAAAAAAAAAAA"));
    CHECK(exists(STORAGE_VIDEO, "pendingAAAAAAAAAAAAAAA"));
    {
        struct db_stmt *st = db_stmt(db, STMT_MSG_GET);
        db_bind_text(st, 1, "rejectedAAAAAAAAAAAAAA");
        CHECK_INT(db_step(st), DB_ROW);
        CHECK_INT(db_col_int(st, 29), t0 + 30 * day);
        CHECK_STR(db_col_text(st, 30), "retention");
        /* The row stays, with what the moderation record needs. */
        CHECK_STR(db_col_text(st, 2), "Алеся");
        db_reset(st);
    }
    /* 0 days: at the next sweep. */
    cfg.failed_retention_days = 0;
    make("failedBBBBBBBBBBBBBBBB", "failed", now_is, STORAGE_INCOMING);
    CHECK_INT(retention_sweep(&cfg, db), 1);
    CHECK(!exists(STORAGE_INCOMING, "failedBBBBBBBBBBBBBBBB"));
    /* The WAL empties when nobody reads an old snapshot. */
    CHECK_INT(retention_checkpoint(db, 100), 0);

    util_clock_set(NULL);
    db_close(db);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    CHECK_INT(system(path), 0);
    return TEST_RESULT();
}
