/*
 * The message state machine against DESIGN.md's table, written out here
 * again as the specification: every event from every state by every
 * actor, on a real database, allowed or refused as the table says, and
 * what an allowed one leaves behind (state, job, audit row, cleared
 * fields). Then the guards (leases, a rejection's reason) and who sees
 * what.
 */
#include <stdlib.h>

#include <sqlite3.h>

#include "chorus/db.h"
#include "chorus/message.h"
#include "chorus/migrate.h"
#include "chorus/queue.h"
#include "chorus/util.h"
#include "test.h"

#define S(x) (1u << (x))

/* DESIGN.md "Message lifecycle", independently of message.c. */
static const struct spec {
    enum msg_event ev;
    unsigned from; /* states it may happen in */
    unsigned who;  /* actors who may ask */
    int to;        /* state after, or MSG_GONE */
    const char *audit;
} spec[] = {
    {EV_UPLOAD_FINISHED, S(MSG_UPLOADING), WHO_CONTRIBUTOR, MSG_PROCESSING,
     NULL},
    {EV_UPLOAD_EXPIRED, S(MSG_UPLOADING), WHO_SWEEP, MSG_GONE, NULL},
    {EV_UPLOAD_TERMINATED, S(MSG_UPLOADING), WHO_CONTRIBUTOR, MSG_GONE, NULL},
    {EV_JOB_DONE, S(MSG_PROCESSING), WHO_WORKER, MSG_PENDING, NULL},
    {EV_JOB_FAILED, S(MSG_PROCESSING), WHO_WORKER, MSG_FAILED, NULL},
    {EV_RETRY, S(MSG_FAILED), WHO_ADMIN, MSG_PROCESSING, "message.retry"},
    {EV_APPROVE, S(MSG_PENDING), WHO_MODERATOR | WHO_ADMIN, MSG_APPROVED,
     "message.approve"},
    {EV_REJECT, S(MSG_PENDING), WHO_MODERATOR | WHO_ADMIN, MSG_REJECTED,
     "message.reject"},
    {EV_REOPEN, S(MSG_APPROVED) | S(MSG_REJECTED), WHO_ADMIN, MSG_PENDING,
     "message.reopen"},
    {EV_WITHDRAW,
     S(MSG_UPLOADING) | S(MSG_PROCESSING) | S(MSG_PENDING) | S(MSG_APPROVED) |
         S(MSG_REJECTED) | S(MSG_FAILED),
     WHO_CONTRIBUTOR | WHO_OPERATOR, MSG_WITHDRAWN, "message.withdraw"},
    {EV_RESHARED, S(MSG_APPROVED), WHO_COMMS | WHO_ADMIN, MSG_APPROVED,
     "message.reshared"},
    {EV_TAKEN_DOWN, S(MSG_APPROVED) | S(MSG_WITHDRAWN), WHO_COMMS | WHO_ADMIN,
     MSG_STAY, "message.taken_down"},
    {EV_DELETE_FILES, S(MSG_FAILED) | S(MSG_REJECTED), WHO_SWEEP | WHO_ADMIN,
     MSG_STAY, "message.files_deleted"},
    {EV_PURGE,
     S(MSG_APPROVED) | S(MSG_REJECTED) | S(MSG_FAILED) | S(MSG_WITHDRAWN),
     WHO_OPERATOR, MSG_STAY, NULL},
};

static const enum msg_who actors[] = {WHO_CONTRIBUTOR, WHO_SWEEP, WHO_WORKER,
                                      WHO_MODERATOR,   WHO_ADMIN, WHO_COMMS,
                                      WHO_OPERATOR};

static struct db *db;
static sqlite3 *peek;
static int serial;

static void must(const char *sql)
{
    char err[512];

    if (db_exec_script(db, sql, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", sql, err);
        exit(1);
    }
}

/* The state of message id now: its name, or "(gone)". */
static const char *state_of(const char *id, char *buf, size_t len)
{
    struct db_stmt *st = db_stmt(db, STMT_MSG_STATE);

    snprintf(buf, len, "(gone)");
    db_bind_text(st, 1, id);
    if (db_step(st) == DB_ROW) {
        snprintf(buf, len, "%s", db_col_text(st, 0));
        db_reset(st);
    }
    return buf;
}

/* Makes a message in state s with a running job (worker "w1", attempt 1)
 * when it is processing; its id goes into id. */
static void make(enum msg_state s, char id[UTIL_ID_LEN + 1], int64_t *job_id)
{
    char sql[1024];
    bool decided = s == MSG_APPROVED || s == MSG_REJECTED;

    snprintf(id, UTIL_ID_LEN + 1, "msg%019d", ++serial);
    snprintf(
        sql, sizeof(sql),
        "INSERT INTO messages (id, status, name, organization, message,"
        " country, language, consent_scope, created_at, updated_at,"
        " upload_length, upload_offset, upload_expires_at, decided_at,"
        " decided_by) VALUES ('%s', '%s', %s, 'BY', 'be', 'public', 100, 100,"
        " 10, 0, %s, %s, %s)",
        id, message_state_name(s),
        s == MSG_WITHDRAWN ? "NULL, NULL, NULL" : "'Алеся', 'BKDP', 'Свабоду!'",
        s == MSG_UPLOADING ? "9999999999" : "NULL", decided ? "150" : "NULL",
        decided ? "1" : "NULL");
    must(sql);
    *job_id = 0;
    if (s == MSG_PROCESSING) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO jobs (message_id, state, attempts, run_after,"
                 " lease_until, worker, created_at, updated_at)"
                 " VALUES ('%s', 'running', 1, 0, 9999999999, 'w1', 0, 0)",
                 id);
        must(sql);
        *job_id = db_last_rowid(db);
    }
}

/* count(*) of "table WHERE ...", read through the test's own
 * connection (the code under test goes through db.c). */
static int64_t count(const char *table_where)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table_where);
    if (sqlite3_prepare_v2(peek, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(peek));
    sqlite3_finalize(st);
    return n;
}

static void test_table(void)
{
    for (size_t e = 0; e < ARRAY_LEN(spec); e++) {
        for (int s = 0; s < MSG__STATES; s++) {
            for (size_t a = 0; a < ARRAY_LEN(actors); a++) {
                const struct spec *sp = &spec[e];
                struct msg_actor who = {actors[a], "tester", 1};
                struct job job = {.kind = JOB_KIND_TRANSCODE, .attempts = 1};
                struct job_facts facts = {6000, 720, 1280, true,
                                          1000, 1.5, NULL, false};
                struct msg_args args = {.reason = "not safe",
                                        .job = &job,
                                        .worker = "w1",
                                        .facts = &facts,
                                        .channel = "Telegram"};
                char id[UTIL_ID_LEN + 1], now[32], where[600];
                enum msg_state from = MSG_GONE;
                bool state_ok = (sp->from & S(s)) != 0;
                bool who_ok = (sp->who & (unsigned)actors[a]) != 0;
                int want = !state_ok ? MSG_REFUSED
                           : !who_ok ? MSG_FORBIDDEN
                                     : MSG_OK;
                int64_t audits, got;

                make((enum msg_state)s, id, &job.id);
                memcpy(job.message_id, id, sizeof(job.message_id));
                snprintf(where, sizeof(where), "audit WHERE target = '%s'", id);
                audits = count(where);
                got = message_apply(db, id, sp->ev, &who, &args, &from);
                if (got != want)
                    fprintf(stderr, "event %d from %s by %d:\n", (int)sp->ev,
                            message_state_name((enum msg_state)s),
                            (int)actors[a]);
                CHECK_INT(got, want);
                CHECK_INT(from, s);
                CHECK(message_allows((enum msg_state)s, sp->ev, actors[a]) ==
                      (want == MSG_OK));
                state_of(id, now, sizeof(now));
                if (want != MSG_OK) {
                    /* Refused: nothing changed, nothing audited. */
                    CHECK_STR(now, message_state_name((enum msg_state)s));
                    CHECK_INT(count(where), audits);
                    continue;
                }
                CHECK_STR(now,
                          sp->to == MSG_GONE ? "(gone)"
                          : sp->to == MSG_STAY
                              ? message_state_name((enum msg_state)s)
                              : message_state_name((enum msg_state)sp->to));
                CHECK_INT(count(where), audits + (sp->audit != NULL));
                if (sp->audit != NULL) {
                    snprintf(where, sizeof(where),
                             "audit WHERE target = '%s' AND action = '%s'"
                             " AND actor = 'tester'",
                             id, sp->audit);
                    CHECK_INT(count(where), 1);
                }
                /* What else the event leaves. */
                if (sp->ev == EV_UPLOAD_FINISHED || sp->ev == EV_RETRY) {
                    snprintf(where, sizeof(where),
                             "jobs WHERE message_id = '%s'"
                             " AND state = 'queued'",
                             id);
                    CHECK_INT(count(where), 1);
                }
                if (sp->ev == EV_WITHDRAW || sp->ev == EV_PURGE) {
                    /* Nothing the contributor gave, no exact time. */
                    snprintf(where, sizeof(where),
                             "messages WHERE id = '%s' AND name IS NULL"
                             " AND organization IS NULL AND message IS NULL"
                             " AND country IS NULL AND language IS NULL"
                             " AND receipt_hash IS NULL AND consent_at IS NULL"
                             " AND decision_reason IS NULL"
                             " AND upload_length IS NULL AND facts IS NULL"
                             " AND created_at %% 86400 = 0"
                             " AND updated_at %% 86400 = 0"
                             " AND coalesce(decided_at, 0) %% 86400 = 0",
                             id);
                    CHECK_INT(count(where), 1);
                    snprintf(where, sizeof(where),
                             "jobs WHERE message_id = '%s'"
                             " AND state IN ('queued', 'running')",
                             id);
                    CHECK_INT(count(where), 0);
                }
                if (sp->ev == EV_JOB_DONE || sp->ev == EV_JOB_FAILED) {
                    snprintf(where, sizeof(where),
                             "jobs WHERE id = %lld AND state = '%s'",
                             (long long)job.id,
                             sp->ev == EV_JOB_DONE ? "done" : "failed");
                    CHECK_INT(count(where), 1);
                }
                if (sp->ev == EV_REJECT) {
                    snprintf(where, sizeof(where),
                             "messages WHERE id = '%s' AND decision_reason ="
                             " 'not safe' AND decided_by = 1",
                             id);
                    CHECK_INT(count(where), 1);
                    /* A moderator's words stay off the audit log. */
                    snprintf(where, sizeof(where),
                             "audit WHERE target = '%s' AND reason IS NULL",
                             id);
                    CHECK_INT(count(where), 1);
                }
                if (sp->ev == EV_DELETE_FILES) {
                    snprintf(where, sizeof(where),
                             "messages WHERE id = '%s' AND media_deleted_why"
                             " = '%s'",
                             id,
                             actors[a] == WHO_ADMIN ? "admin" : "retention");
                    CHECK_INT(count(where), 1);
                    /* Gone files: no retry, no re-opening, no second go. */
                    CHECK_INT(
                        message_apply(db, id,
                                      s == MSG_FAILED ? EV_RETRY : EV_REOPEN,
                                      &who, &args, NULL),
                        (actors[a] == WHO_ADMIN ? MSG_NO_FILES
                                                : MSG_FORBIDDEN));
                }
                if (sp->ev == EV_TAKEN_DOWN) {
                    /* Only a withdrawn clip's take-down is ever done. */
                    snprintf(where, sizeof(where),
                             "messages WHERE id = '%s' AND takedown_at > 0",
                             id);
                    CHECK_INT(count(where), s == MSG_WITHDRAWN);
                }
                if (sp->ev == EV_RESHARED) {
                    snprintf(where, sizeof(where),
                             "reshares WHERE message_id = '%s'", id);
                    CHECK_INT(count(where), 1);
                }
            }
        }
    }
}

/* A job event needs the lease: the right worker and attempt. */
static void test_lease_guard(void)
{
    struct msg_actor worker = {WHO_WORKER, "w2", 0};
    struct job job = {.kind = JOB_KIND_TRANSCODE, .attempts = 1};
    struct job_facts facts = {1000, 2, 2, false, 1, 0.1, NULL, false};
    struct msg_args args = {.job = &job, .worker = "w2", .facts = &facts};
    char id[UTIL_ID_LEN + 1], now[32], where[128];

    make(MSG_PROCESSING, id, &job.id);
    memcpy(job.message_id, id, sizeof(job.message_id));
    /* The job is w1's: w2 has no lease. */
    CHECK_INT(message_apply(db, id, EV_JOB_DONE, &worker, &args, NULL),
              MSG_LOST);
    args.worker = "w1";
    job.attempts = 2; /* w1, but a later attempt than the one running */
    CHECK_INT(message_apply(db, id, EV_JOB_DONE, &worker, &args, NULL),
              MSG_LOST);
    args.reason = "broken";
    CHECK_INT(message_apply(db, id, EV_JOB_FAILED, &worker, &args, NULL),
              MSG_LOST);
    CHECK_STR(state_of(id, now, sizeof(now)), "processing");
    snprintf(where, sizeof(where), "jobs WHERE id = %lld AND state = 'running'",
             (long long)job.id);
    CHECK_INT(count(where), 1);
    job.attempts = 1;
    CHECK_INT(message_apply(db, id, EV_JOB_DONE, &worker, &args, NULL), MSG_OK);
    CHECK_STR(state_of(id, now, sizeof(now)), "pending");
}

static int owned_calls;
static int owned_result;

static int on_owned(void *opaque)
{
    (void)opaque;
    owned_calls++;
    return owned_result;
}

/* The publish hook runs only for the lease's holder; if it fails, the
 * event is undone. */
static void test_on_owned(void)
{
    struct msg_actor worker = {WHO_WORKER, "w1", 0};
    struct job job = {.kind = JOB_KIND_TRANSCODE, .attempts = 1};
    struct job_facts facts = {1000, 2, 2, false, 1, 0.1, NULL, false};
    struct msg_args args = {
        .job = &job, .worker = "w9", .facts = &facts, .on_owned = on_owned};
    char id[UTIL_ID_LEN + 1], now[32];

    make(MSG_PROCESSING, id, &job.id);
    memcpy(job.message_id, id, sizeof(job.message_id));
    CHECK_INT(message_apply(db, id, EV_JOB_DONE, &worker, &args, NULL),
              MSG_LOST);
    CHECK_INT(owned_calls, 0);
    args.worker = "w1";
    owned_result = -1;
    CHECK_INT(message_apply(db, id, EV_JOB_DONE, &worker, &args, NULL),
              MSG_ERROR);
    CHECK_INT(owned_calls, 1);
    CHECK_STR(state_of(id, now, sizeof(now)), "processing");
    owned_result = 0;
    CHECK_INT(message_apply(db, id, EV_JOB_DONE, &worker, &args, NULL), MSG_OK);
    CHECK_INT(owned_calls, 2);
    CHECK_STR(state_of(id, now, sizeof(now)), "pending");
}

static void test_other_guards(void)
{
    struct msg_actor mod = {WHO_MODERATOR, "mod", 1};
    struct msg_args blank = {.reason = "  \n"};
    char id[UTIL_ID_LEN + 1], now[32];
    int64_t job;

    make(MSG_PENDING, id, &job);
    /* A rejection must say why. */
    CHECK_INT(message_apply(db, id, EV_REJECT, &mod, NULL, NULL), MSG_ERROR);
    CHECK_INT(message_apply(db, id, EV_REJECT, &mod, &blank, NULL), MSG_ERROR);
    CHECK_STR(state_of(id, now, sizeof(now)), "pending");
    /* An approval need not. */
    CHECK_INT(message_apply(db, id, EV_APPROVE, &mod, NULL, NULL), MSG_OK);
    /* Twice: the second finds it decided. */
    CHECK_INT(message_apply(db, id, EV_APPROVE, &mod, NULL, NULL), MSG_REFUSED);
    CHECK_INT(message_apply(db, "nosuchmessage000000000", EV_APPROVE, &mod,
                            NULL, NULL),
              MSG_NOT_FOUND);
}

static void test_sight(void)
{
    static const struct {
        enum role role;
        enum msg_state s;
        enum msg_sight want;
    } rows[] = {
        {ROLE_MODERATOR, MSG_PENDING, SIGHT_MEDIA},
        {ROLE_MODERATOR, MSG_APPROVED, SIGHT_MEDIA},
        {ROLE_MODERATOR, MSG_REJECTED, SIGHT_MEDIA},
        {ROLE_MODERATOR, MSG_PROCESSING, SIGHT_ROW},
        {ROLE_MODERATOR, MSG_FAILED, SIGHT_ROW},
        {ROLE_MODERATOR, MSG_WITHDRAWN, SIGHT_ROW},
        {ROLE_ADMIN, MSG_UPLOADING, SIGHT_ROW},
        {ROLE_ADMIN, MSG_PENDING, SIGHT_MEDIA},
        {ROLE_COMMS, MSG_APPROVED, SIGHT_MEDIA},
        {ROLE_COMMS, MSG_WITHDRAWN, SIGHT_ROW},
        {ROLE_COMMS, MSG_PENDING, SIGHT_NONE},
        {ROLE_COMMS, MSG_REJECTED, SIGHT_NONE},
        {ROLE_COMMS, MSG_FAILED, SIGHT_NONE},
        {ROLE_COMMS, MSG_UPLOADING, SIGHT_NONE},
        {ROLE_COMMS, MSG_PROCESSING, SIGHT_NONE},
        {ROLE_NONE, MSG_APPROVED, SIGHT_NONE},
    };

    for (size_t i = 0; i < ARRAY_LEN(rows); i++)
        CHECK_INT(message_sight(rows[i].role, rows[i].s), rows[i].want);
    CHECK_INT(message_default_list(ROLE_COMMS), MSG_APPROVED);
    CHECK_INT(message_default_list(ROLE_MODERATOR), MSG_PENDING);
}

static void test_names(void)
{
    for (int s = 0; s < MSG__STATES; s++)
        CHECK_INT(message_state_parse(message_state_name((enum msg_state)s)),
                  s);
    CHECK_INT(message_state_parse("all"), -1);
    CHECK_INT(message_state_parse("Pending"), -1);
    CHECK(message_state_name(MSG_GONE) == NULL);
}

int main(void)
{
    char dir[] = "/tmp/chorus-test-message-XXXXXX", path[256], err[512];

    CHECK_INT(util_init(), 0);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/chorus.db", dir);
    if (db_open(path, &db, err, sizeof(err)) != 0 ||
        migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                      sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (sqlite3_open_v2(path, &peek, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 1;
    must("INSERT INTO users (id, username, password_hash, role, created_at,"
         " updated_at) VALUES (1, 'tester', '$argon2id$x', 'admin', 0, 0)");
    test_names();
    test_table();
    test_lease_guard();
    test_on_owned();
    test_other_guards();
    test_sight();
    sqlite3_close(peek);
    db_close(db);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    if (system(path) != 0)
        return 1;
    return TEST_RESULT();
}
