/* The audit chain: intact rows verify against their head; every
 * tampering of the issue (an edited, deleted, inserted or reordered row,
 * the last row, the last three or all deleted, a row rewritten with the chain
 * recomputed, a forged row appended) is found at its first bad row; an
 * old keyless log is verified and re-chained at start-up. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chorus/audit.h"
#include "chorus/db.h"
#include "chorus/migrate.h"
#include "chorus/util.h"
#include "test.h"

static char root[] = "/tmp/chorus-test-audit-XXXXXX";
static int serial;

static void must(struct db *db, const char *sql)
{
    char err[512];

    if (db_exec_script(db, sql, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", sql, err);
        exit(1);
    }
}

/* A new data directory with a migrated database; its path in dir. */
static struct db *open_dir(char dir[256])
{
    char path[300], err[512];
    struct db *db = NULL;

    snprintf(dir, 256, "%s/d%d", root, ++serial);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/chorus.db", dir);
    if (db_open(path, &db, err, sizeof(err)) != 0 ||
        migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                      sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return db;
}

static void append(struct db *db, int n)
{
    for (int i = 0; i < n; i++) {
        char target[16];
        snprintf(target, sizeof(target), "m%d", i);
        if (db_begin(db) < 0 ||
            audit_append(db, "mod1", "message.approve", target,
                         i == 2 ? NULL : "fine") < 0 ||
            db_commit(db) < 0)
            exit(1);
    }
}

/* A keyed log of five rows, its head written beside it. */
static struct db *fresh(char dir[256])
{
    struct db *db = open_dir(dir);

    CHECK_INT(audit_open(db), 0);
    append(db, 5);
    return db;
}

/* Verifies against the head file (or head); returns the first bad row,
 * 0 if intact, -1 on an error; prints why. */
static int64_t bad_row(struct db *db, const struct audit_head *head)
{
    struct audit_report rep;
    int rc = audit_verify(db, head, &rep);

    if (rc > 0)
        fprintf(stderr, "  (verify: row %lld: %s)\n", (long long)rep.bad,
                rep.why);
    return rc < 0 ? -1 : rc == 0 ? 0 : rep.bad;
}

/* What someone with the file but not the key can do: recompute the chain
 * from row `from` on with 0001's SHA-256 formula. */
static void old_scheme_hash(const unsigned char prev[32], int64_t at,
                            const char *f[4], unsigned char out[32])
{
    crypto_hash_sha256_state h;
    char when[24];
    const char *parts[5];

    snprintf(when, sizeof(when), "%lld", (long long)at);
    parts[0] = when;
    for (int i = 0; i < 4; i++)
        parts[i + 1] = f[i];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, prev, 32);
    for (int i = 0; i < 5; i++) {
        unsigned char hdr[9] = {0};
        size_t len = parts[i] != NULL ? strlen(parts[i]) : 0;
        hdr[0] = parts[i] != NULL;
        for (int k = 0; k < 8; k++)
            hdr[8 - k] = (unsigned char)((uint64_t)len >> (8 * k));
        crypto_hash_sha256_update(&h, hdr, sizeof(hdr));
        if (len > 0)
            crypto_hash_sha256_update(&h, (const unsigned char *)parts[i], len);
    }
    crypto_hash_sha256_final(&h, out);
}

/* Writes an old-scheme log of n rows (no key, SHA-256), as 0001 did. */
static void write_old_log(struct db *db, int n, int break_at)
{
    unsigned char prev[32] = {0}, hash[32];
    char sql[1024], ph[65], hh[65];

    for (int i = 1; i <= n; i++) {
        char target[16];
        const char *f[4] = {"mod1", "message.approve", target, "ok"};
        snprintf(target, sizeof(target), "m%d", i);
        old_scheme_hash(prev, 1000 + i, f, hash);
        sodium_bin2hex(ph, sizeof(ph), prev, 32);
        sodium_bin2hex(hh, sizeof(hh), hash, 32);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO audit (id, at, actor, action, target, reason,"
                 " prev_hash, hash) VALUES (%d, %d, 'mod1', 'message.approve',"
                 " '%s', '%s', x'%s', x'%s')",
                 i, 1000 + i, target, i == break_at ? "edited" : "ok", ph, hh);
        must(db, sql);
        memcpy(prev, hash, 32);
    }
}

static void test_intact_and_edits(void)
{
    char dir[256], err[512];
    struct db *db = fresh(dir);
    struct audit_head h, file;

    CHECK_INT(bad_row(db, NULL), 0);
    /* The head file holds the last row, as audit head prints it. */
    CHECK_INT(audit_head_db(db, &h), 1);
    CHECK_INT(h.id, 5);
    CHECK_INT(audit_head_file(db, &file), 1);
    CHECK_INT(file.id, 5);
    CHECK(memcmp(file.hash, h.hash, 32) == 0);
    {
        char text[AUDIT_HEAD_TEXT];
        struct audit_head back;
        audit_head_format(&h, text);
        CHECK_INT(audit_head_parse(text, &back), 0);
        CHECK_INT(back.id, 5);
        CHECK(memcmp(back.hash, h.hash, 32) == 0);
        CHECK_INT(audit_head_parse("5:abc", &back), -1);
        CHECK_INT(audit_head_parse("x:00", &back), -1);
    }
    /* Rows cannot be changed through SQL while the triggers stand. */
    CHECK(db_exec_script(db, "UPDATE audit SET reason = 'x' WHERE id = 3", err,
                         sizeof(err)) != 0);
    CHECK(db_exec_script(db, "DELETE FROM audit WHERE id = 3", err,
                         sizeof(err)) != 0);
    /* Someone with the file drops them and edits row 3. */
    must(db, "DROP TRIGGER audit_no_update;"
             "UPDATE audit SET actor = 'mod2' WHERE id = 3");
    CHECK_INT(bad_row(db, NULL), 3);
    db_close(db);

    /* NULL and empty reasons hash differently. */
    db = fresh(dir);
    must(db, "DROP TRIGGER audit_no_update;"
             "UPDATE audit SET reason = '' WHERE id = 3");
    CHECK_INT(bad_row(db, NULL), 3);
    db_close(db);

    /* A deleted row in the middle: found where it is missing. */
    db = fresh(dir);
    must(db, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 2");
    CHECK_INT(bad_row(db, NULL), 2);
    db_close(db);

    /* A row inserted in the middle, the later ones moved up to make
     * room, chained to the row before it: found where it was put. */
    db = fresh(dir);
    must(db, "DROP TRIGGER audit_no_update;"
             "UPDATE audit SET id = id + 10 WHERE id >= 3;"
             "UPDATE audit SET id = id - 9 WHERE id >= 13;"
             "INSERT INTO audit (id, at, actor, action, target, reason,"
             " prev_hash, hash) SELECT 3, at, 'admin', 'message.reject', 'm9',"
             " NULL, hash, randomblob(32) FROM audit WHERE id = 2");
    CHECK_INT(bad_row(db, NULL), 3);
    db_close(db);

    /* Two rows swapped, each whole with its own hashes. */
    db = fresh(dir);
    must(db, "DROP TRIGGER audit_no_update;"
             "UPDATE audit SET id = 100 WHERE id = 2;"
             "UPDATE audit SET id = 2 WHERE id = 3;"
             "UPDATE audit SET id = 3 WHERE id = 100");
    CHECK_INT(bad_row(db, NULL), 2);
    db_close(db);
}

static void test_truncation(void)
{
    static const struct {
        const char *sql;
        int64_t want;
    } cases[] = {
        {"DELETE FROM audit WHERE id = 5", 5},  /* the last row */
        {"DELETE FROM audit WHERE id >= 3", 3}, /* the last three */
        {"DELETE FROM audit", 1},               /* all of them */
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char dir[256], sql[256];
        struct db *db = fresh(dir);
        struct audit_head h;

        snprintf(sql, sizeof(sql), "DROP TRIGGER audit_no_delete; %s",
                 cases[i].sql);
        audit_head_db(db, &h);
        must(db, sql);
        CHECK_INT(bad_row(db, NULL), cases[i].want);
        /* The same against a head kept elsewhere (--head). */
        CHECK_INT(bad_row(db, &h), cases[i].want);
        db_close(db);
    }
}

static void test_rechained_and_forged(void)
{
    char dir[256], sql[1024];
    struct db *db = fresh(dir);
    struct audit_head h3, h5;

    /* Row 3 rewritten and every hash from it on recomputed, the way the
     * old keyless chain allowed, from row 2's real hash on. */
    {
        unsigned char prev[32], hash[32];
        char ph[65], hh[65];
        struct db_stmt *st = db_stmt(db, STMT_AUDIT_ALL);
        size_t len;
        const void *p;

        db_bind_int(st, 1, 1);
        db_bind_int(st, 2, 1);
        CHECK_INT(db_step(st), DB_ROW);
        p = db_col_blob(st, 7, &len);
        memcpy(prev, p, 32);
        db_reset(st);
        must(db, "DROP TRIGGER audit_no_update;"
                 "UPDATE audit SET actor = 'someone else' WHERE id = 3");
        for (int id = 3; id <= 5; id++) {
            char target[16];
            const char *f[4] = {id == 3 ? "someone else" : "mod1",
                                "message.approve", target,
                                id == 3 ? NULL : "fine"};
            snprintf(target, sizeof(target), "m%d", id - 1);
            old_scheme_hash(prev, util_now(), f, hash);
            sodium_bin2hex(ph, sizeof(ph), prev, 32);
            sodium_bin2hex(hh, sizeof(hh), hash, 32);
            snprintf(sql, sizeof(sql),
                     "UPDATE audit SET prev_hash = x'%s', hash = x'%s'"
                     " WHERE id = %d",
                     ph, hh, id);
            must(db, sql);
            memcpy(prev, hash, 32);
        }
    }
    CHECK_INT(bad_row(db, NULL), 3);
    db_close(db);

    /* A forged row appended after the head, chained to it. */
    db = fresh(dir);
    audit_head_db(db, &h5);
    {
        char ph[65];
        sodium_bin2hex(ph, sizeof(ph), h5.hash, 32);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO audit (id, at, actor, action, target, reason,"
                 " prev_hash, hash) VALUES (6, 1, 'admin', 'message.approve',"
                 " 'x', NULL, x'%s', randomblob(32))",
                 ph);
        must(db, sql);
    }
    CHECK_INT(bad_row(db, NULL), 6);
    db_close(db);

    /* A head kept long ago still checks the log up to it; a wrong one
     * is refused. */
    db = fresh(dir);
    {
        struct audit_report rep;
        struct db_stmt *st = db_stmt(db, STMT_AUDIT_ALL);
        size_t len;
        const void *p;
        db_bind_int(st, 1, 2);
        db_bind_int(st, 2, 1);
        CHECK_INT(db_step(st), DB_ROW);
        h3.id = db_col_int(st, 0);
        p = db_col_blob(st, 7, &len);
        memcpy(h3.hash, p, 32);
        db_reset(st);
        CHECK_INT(audit_verify(db, &h3, &rep), 0);
        CHECK_INT(rep.past, 2);
        h3.hash[0] ^= 1;
        CHECK_INT(bad_row(db, &h3), 3);
    }
    db_close(db);
}

/* Without the key a log with rows can neither grow nor be verified. */
static void test_missing_key(void)
{
    char dir[256], path[300];
    struct db *db = fresh(dir);
    struct audit_report rep;

    db_close(db);
    snprintf(path, sizeof(path), "%s/audit.key", dir);
    CHECK_INT(unlink(path), 0);
    /* A new process would not have it cached: a copy of the directory. */
    {
        char cmd[700], dir2[300], p2[320], err[512];
        snprintf(dir2, sizeof(dir2), "%s-copy", dir);
        snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", dir, dir2);
        CHECK_INT(system(cmd), 0);
        snprintf(p2, sizeof(p2), "%s/chorus.db", dir2);
        CHECK_INT(db_open(p2, &db, err, sizeof(err)), 0);
        CHECK(db_begin(db) == 0);
        CHECK(audit_append(db, "x", "login", NULL, NULL) < 0);
        db_rollback(db);
        CHECK_INT(audit_verify(db, NULL, &rep), 1);
        db_close(db);
    }
}

/* 0001's keyless log: verified, re-chained, the migration recorded. */
static void test_migration(void)
{
    for (int broken = 0; broken <= 1; broken++) {
        char dir[256];
        struct db *db = open_dir(dir);
        struct audit_report rep;
        struct audit_head h;

        must(db, "UPDATE audit_scheme SET scheme = 'sha256'");
        write_old_log(db, 4, broken ? 2 : 0);
        CHECK_INT(audit_open(db), 0);
        CHECK_INT(audit_head_db(db, &h), 1);
        CHECK_INT(h.id, 5);
        if (!broken) {
            CHECK_INT(bad_row(db, NULL), 0);
        } else {
            /* The old break stays on the record. */
            CHECK_INT(audit_verify(db, NULL, &rep), 1);
            CHECK_INT(rep.bad, 2);
        }
        /* Twice is once. */
        CHECK_INT(audit_open(db), 0);
        CHECK_INT(audit_head_db(db, &h), 1);
        CHECK_INT(h.id, 5);
        /* And the log goes on, keyed. */
        append(db, 1);
        if (!broken)
            CHECK_INT(bad_row(db, NULL), 0);
        db_close(db);
    }
}

int main(void)
{
    CHECK_INT(util_init(), 0);
    CHECK(mkdtemp(root) != NULL);
    test_intact_and_edits();
    test_truncation();
    test_rechained_and_forged();
    test_missing_key();
    test_migration();
    {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        CHECK_INT(system(cmd), 0);
    }
    return TEST_RESULT();
}
