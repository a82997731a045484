/*
 * The job queue with a clock the test moves: claims, leases held by
 * (worker, attempt), a stale worker that loses its job to another and
 * cannot finish it, retries with backoff, poison inputs that stop after
 * QUEUE_MAX_ATTEMPTS, refusals that fail at once, orderly release and
 * withdrawal while a job runs. Nothing sleeps.
 */
#include <stdlib.h>

#include <sqlite3.h>

#include "chorus/db.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/migrate.h"
#include "chorus/queue.h"
#include "chorus/util.h"
#include "test.h"

#define LEASE 30

static struct db *db;
static sqlite3 *peek;
static int64_t now = 1800000000;

static int64_t fake_clock(void)
{
    return now;
}

/* One text column of the first row of sql, into out ("" if none). */
static const char *peek_text(const char *sql, char *out, size_t len)
{
    sqlite3_stmt *st = NULL;

    out[0] = '\0';
    if (sqlite3_prepare_v2(peek, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static const char *state_of(const char *id)
{
    static char buf[64];
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT status FROM messages WHERE id = '%s'",
             id);
    return peek_text(sql, buf, sizeof(buf));
}

static const char *job_field(int64_t job, const char *field)
{
    static char buf[400];
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT %s FROM jobs WHERE id = %lld", field,
             (long long)job);
    return peek_text(sql, buf, sizeof(buf));
}

/* A finished upload: a processing message with its job queued. */
static void upload(char id[UTIL_ID_LEN + 1])
{
    struct message_meta meta;
    unsigned char hash[MESSAGE_HASH_LEN] = {0};

    util_random_id(id);
    meta_init(&meta);
    snprintf(meta.country, sizeof(meta.country), "BY");
    snprintf(meta.language, sizeof(meta.language), "be");
    snprintf(meta.consent_version, sizeof(meta.consent_version), "1");
    snprintf(meta.consent_scope, sizeof(meta.consent_scope), "public");
    memcpy(hash, id, 16);
    CHECK_INT(message_create(db, id, &meta, hash, 100, 100, 0, true), 0);
}

static const struct job_facts facts = {6000, 720, 1280, true,
                                       5000, 2.0, NULL, false};

static int published;

static int publish(void *opaque)
{
    (void)opaque;
    published++;
    return 0;
}

/* Nothing due twice; a lease is the worker's until it expires. */
static void test_claim_and_lease(void)
{
    char id[UTIL_ID_LEN + 1];
    struct job a, b;

    upload(id);
    CHECK_INT(queue_claim(db, "w1", LEASE, &a), 1);
    CHECK_STR(a.message_id, id);
    CHECK_INT(a.attempts, 1);
    CHECK_STR(job_field(a.id, "worker"), "w1");
    CHECK_INT(queue_claim(db, "w2", LEASE, &b), 0);
    /* The holder renews it; nobody else can. */
    CHECK_INT(queue_heartbeat(db, &a, "w1", LEASE, 0.5), 1);
    CHECK_INT(queue_heartbeat(db, &a, "w2", LEASE, 0.5), 0);
    now += LEASE - 1;
    CHECK_INT(queue_claim(db, "w2", LEASE, &b), 0);
    CHECK_INT(queue_succeed(db, &a, "w1", &facts, publish, NULL), 1);
    CHECK_STR(state_of(id), "pending");
    CHECK_STR(job_field(a.id, "state"), "done");
    CHECK_INT(published, 1);
}

/*
 * The race of issue #18: w1 stops past its lease, w2 takes the job over
 * and finishes; w1 wakes and must neither finish nor fail the job, and
 * its publish hook must never run.
 */
static void test_stale_worker(void)
{
    char id[UTIL_ID_LEN + 1];
    struct job stale, fresh;

    published = 0;
    upload(id);
    CHECK_INT(queue_claim(db, "w1", LEASE, &stale), 1);
    now += LEASE + 1; /* w1 is stopped: no heartbeat */
    CHECK_INT(queue_claim(db, "w2", LEASE, &fresh), 1);
    CHECK_INT(fresh.id, stale.id);
    CHECK_INT(fresh.attempts, 2);
    /* The same worker name with the old attempt is not the lease either. */
    CHECK_INT(queue_heartbeat(db, &stale, "w1", LEASE, 0.9), 0);
    CHECK_INT(queue_succeed(db, &stale, "w1", &facts, publish, NULL),
              QUEUE_LOST);
    CHECK_INT(published, 0);
    CHECK_STR(state_of(id), "processing");
    CHECK_STR(job_field(fresh.id, "state"), "running");
    CHECK_INT(queue_fail(db, &stale, "w1", "crashed", true), QUEUE_LOST);
    CHECK_INT(queue_fail(db, &stale, "w1", "not a video", false), QUEUE_LOST);
    CHECK_INT(queue_release(db, &stale, "w1"), 0);
    CHECK_STR(state_of(id), "processing");
    /* The owner finishes. */
    CHECK_INT(queue_succeed(db, &fresh, "w2", &facts, publish, NULL), 1);
    CHECK_INT(published, 1);
    CHECK_STR(state_of(id), "pending");
    CHECK_STR(job_field(fresh.id, "worker"), "w2");
}

/* A crash is retried after a backoff; a refusal fails at once. */
static void test_retry_and_refusal(void)
{
    char id[UTIL_ID_LEN + 1], sql[200], reason[400];
    struct job j, k;

    upload(id);
    CHECK_INT(queue_claim(db, "w1", LEASE, &j), 1);
    CHECK_INT(queue_fail(db, &j, "w1", "processing crashed", true), 1);
    CHECK_STR(job_field(j.id, "state"), "queued");
    CHECK_INT(queue_claim(db, "w1", LEASE, &k), 0); /* backing off */
    now += 2;
    CHECK_INT(queue_claim(db, "w1", LEASE, &k), 1);
    CHECK_INT(k.attempts, 2);
    CHECK_INT(queue_fail(db, &k, "w1", "not a video we take", false), 0);
    CHECK_STR(state_of(id), "failed");
    snprintf(sql, sizeof(sql),
             "SELECT failure_reason FROM messages WHERE id = '%s'", id);
    CHECK_STR(peek_text(sql, reason, sizeof(reason)), "not a video we take");
}

/* A file that kills every worker that tries it stops after three. */
static void test_poison(void)
{
    char id[UTIL_ID_LEN + 1], sql[200], reason[400];
    struct job j;

    upload(id);
    for (int i = 1; i <= QUEUE_MAX_ATTEMPTS; i++) {
        CHECK_INT(queue_claim(db, "w1", LEASE, &j), 1);
        CHECK_INT(j.attempts, i);
        now += LEASE + 1; /* the worker died with it */
    }
    CHECK_INT(queue_claim(db, "w1", LEASE, &j), 0);
    CHECK_STR(state_of(id), "failed");
    snprintf(sql, sizeof(sql),
             "SELECT failure_reason FROM messages WHERE id = '%s'", id);
    CHECK(strstr(peek_text(sql, reason, sizeof(reason)), "3 times") != NULL);
}

/* A crash on the last attempt fails for good, with the count. */
static void test_retries_run_out(void)
{
    char id[UTIL_ID_LEN + 1], sql[200], reason[400];
    struct job j;

    upload(id);
    for (int i = 1; i <= QUEUE_MAX_ATTEMPTS; i++) {
        CHECK_INT(queue_claim(db, "w1", LEASE, &j), 1);
        CHECK_INT(queue_fail(db, &j, "w1", "processing crashed", true),
                  i < QUEUE_MAX_ATTEMPTS ? 1 : 0);
        now += 100;
    }
    CHECK_STR(state_of(id), "failed");
    snprintf(sql, sizeof(sql),
             "SELECT failure_reason FROM messages WHERE id = '%s'", id);
    CHECK_STR(peek_text(sql, reason, sizeof(reason)),
              "processing crashed (after 3 attempts)");
}

/* An orderly stop gives the job back without counting the attempt. */
static void test_release(void)
{
    char id[UTIL_ID_LEN + 1];
    struct job j, k;

    upload(id);
    CHECK_INT(queue_claim(db, "w1", LEASE, &j), 1);
    CHECK_INT(queue_release(db, &j, "w1"), 1);
    CHECK_INT(queue_claim(db, "w2", LEASE, &k), 1);
    CHECK_INT(k.id, j.id);
    CHECK_INT(k.attempts, 1);
    CHECK_INT(queue_succeed(db, &k, "w2", &facts, NULL, NULL), 1);
}

/* Withdrawn while it runs: the job is cancelled, its worker has lost. */
static void test_withdrawn_meanwhile(void)
{
    struct msg_actor contributor = {WHO_CONTRIBUTOR, "contributor", 0};
    char id[UTIL_ID_LEN + 1];
    struct job j;

    published = 0;
    upload(id);
    CHECK_INT(queue_claim(db, "w1", LEASE, &j), 1);
    CHECK_INT(message_apply(db, id, EV_WITHDRAW, &contributor, NULL, NULL),
              MSG_OK);
    CHECK_INT(queue_heartbeat(db, &j, "w1", LEASE, 0.5), 0);
    CHECK_INT(queue_succeed(db, &j, "w1", &facts, publish, NULL), QUEUE_LOST);
    CHECK_INT(published, 0);
    CHECK_STR(state_of(id), "withdrawn");
}

/* A job of another kind makes its target and leaves messages alone,
 * whether it succeeds, fails or is poison. */
static void test_other_kinds(void)
{
    char id[UTIL_ID_LEN + 1], sql[200], count[16];
    struct job j, t;
    int64_t before;

    published = 0;
    upload(id); /* a processing message beside them */
    CHECK_INT(queue_claim(db, "w0", LEASE, &t), 1);
    CHECK(queue_job_is_transcode(&t));
    CHECK_INT(db_begin(db), 0);
    CHECK_INT(queue_enqueue_kind(db, "logo", NULL, "default", "{\"w\":1}"), 0);
    /* One live job per thing made. */
    CHECK_INT(queue_enqueue_kind(db, "logo", NULL, "default", NULL),
              DB_CONSTRAINT);
    CHECK_INT(queue_enqueue_kind(db, "version", id, "9x16", NULL), 0);
    CHECK_INT(db_commit(db), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit");
    before = atoll(peek_text(sql, count, sizeof(count)));

    CHECK_INT(queue_claim(db, "w1", LEASE, &j), 1);
    CHECK_STR(j.kind, "logo");
    CHECK_STR(j.target, "default");
    CHECK_STR(j.args, "{\"w\":1}");
    CHECK_STR(j.message_id, "");
    CHECK(!queue_job_is_transcode(&j));
    CHECK_INT(queue_succeed(db, &j, "w2", NULL, publish, NULL), QUEUE_LOST);
    CHECK_INT(published, 0);
    CHECK_INT(queue_succeed(db, &j, "w1", NULL, publish, NULL), 1);
    CHECK_INT(published, 1);
    CHECK_STR(job_field(j.id, "state"), "done");

    CHECK_INT(queue_claim(db, "w1", LEASE, &j), 1);
    CHECK_STR(j.kind, "version");
    CHECK_STR(j.message_id, id);
    CHECK_INT(queue_fail(db, &j, "w1", "no such format", false), 0);
    CHECK_STR(job_field(j.id, "state"), "failed");
    CHECK_STR(job_field(j.id, "error"), "no such format");
    /* The message's own processing is untouched by either. */
    CHECK_STR(state_of(id), "processing");
    CHECK_INT(atoll(peek_text(sql, count, sizeof(count))), before);

    /* The transcode ends; poison of another kind fails that job only. */
    CHECK_INT(queue_succeed(db, &t, "w0", &facts, NULL, NULL), 1);
    CHECK_INT(db_begin(db), 0);
    CHECK_INT(queue_enqueue_kind(db, "version", id, "1x1", NULL), 0);
    CHECK_INT(db_commit(db), 0);
    for (int i = 1; i <= QUEUE_MAX_ATTEMPTS; i++) {
        CHECK_INT(queue_claim(db, "w1", LEASE, &j), 1);
        CHECK_STR(j.target, "1x1");
        now += LEASE + 1;
    }
    CHECK_INT(queue_claim(db, "w1", LEASE, &t), 0);
    CHECK_STR(job_field(j.id, "state"), "failed");
    CHECK_STR(state_of(id), "pending");
}

int main(void)
{
    char dir[] = "/tmp/chorus-test-queue-XXXXXX", path[256], err[512];

    CHECK_INT(util_init(), 0);
    util_clock_set(fake_clock);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/chorus.db", dir);
    if (db_open(path, &db, err, sizeof(err)) != 0 ||
        migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                      sizeof(err)) < 0 ||
        sqlite3_open_v2(path, &peek, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    test_claim_and_lease();
    test_stale_worker();
    test_retry_and_refusal();
    test_poison();
    test_retries_run_out();
    test_release();
    test_withdrawn_meanwhile();
    test_other_kinds();
    sqlite3_close(peek);
    db_close(db);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    CHECK_INT(system(path), 0);
    return TEST_RESULT();
}
