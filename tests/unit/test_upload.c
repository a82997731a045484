/*
 * Receiving a video's bytes (upload.c) on a real data directory: offsets
 * made durable and recorded, one writer per upload (423), a client's
 * slots (429), a moved offset (409), a withdrawn upload (410), bytes past
 * the declared length (413), completion handing the file to the worker,
 * the expiry sweep under a moved clock, and recovery after a kill between
 * the file's move and its row's.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include "chorus/app.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/storage.h"
#include "chorus/upload.h"
#include "chorus/util.h"
#include "test.h"

static struct app app;
static struct db *db;
static struct config cfg;
static int64_t now = 1800000000;

static int64_t fake_clock(void)
{
    return now;
}

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

/* Client 10.0.0.x, as http_client() would name it. */
static struct client client(int last)
{
    struct client c = {{10, 0, 0, (unsigned char)last}, 4, false, false};

    return c;
}

#define ADDR(c) (&(c))

/* A tus upload as tus_create_begin leaves it: a row and an empty part
 * file. */
static void create(char id[UTIL_ID_LEN + 1], int64_t length)
{
    struct message_meta meta;
    unsigned char hash[MESSAGE_HASH_LEN];
    char path[PATH_MAX];
    int fd;

    util_random_id(id);
    memcpy(hash, id, 22);
    memset(hash + 22, 0, sizeof(hash) - 22);
    meta_init(&meta);
    snprintf(meta.country, sizeof(meta.country), "BY");
    snprintf(meta.language, sizeof(meta.language), "be");
    snprintf(meta.consent_version, sizeof(meta.consent_version), "1");
    snprintf(meta.consent_scope, sizeof(meta.consent_scope), "public");
    CHECK_INT(storage_path(cfg.data_dir, STORAGE_PART, id, path, sizeof(path)),
              0);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_INT(message_create(db, id, &meta, hash, length, 0,
                             now + cfg.upload_expiry, false),
              0);
}

static struct message_upload row(const char *id)
{
    struct message_upload u = {MSG_GONE, -1, -1, -1};

    message_upload_get(db, id, &u);
    return u;
}

static void test_write_and_complete(void)
{
    struct client a = client(1);
    struct upload *up = NULL, *other = NULL;
    char id[UTIL_ID_LEN + 1], buf[100];

    memset(buf, 'x', sizeof(buf));
    create(id, 100);
    CHECK_INT(upload_open(&app, ADDR(a), id, 0, 100, -1, true, &up), 0);
    /* One writer at a time. */
    CHECK_INT(upload_open(&app, ADDR(a), id, 0, 100, -1, true, &other), 423);
    CHECK(other == NULL);
    CHECK(upload_busy(&app, id, false));
    CHECK_INT(upload_write(up, buf, 60), 0);
    CHECK_INT(upload_checkpoint(up), 0);
    CHECK_INT(row(id).offset, 60);
    upload_close(up);
    CHECK(!upload_busy(&app, id, true));
    /* The client resumes from what is recorded, and only from there. */
    CHECK_INT(upload_open(&app, ADDR(a), id, 50, 100, -1, true, &up), 409);
    CHECK_INT(upload_open(&app, ADDR(a), id, 60, 100, -1, true, &up), 0);
    CHECK_INT(upload_write(up, buf, 41), 413);
    CHECK_INT(upload_write(up, buf, 40), 0);
    CHECK_INT(upload_complete(up), 0);
    upload_close(up);
    CHECK_INT(row(id).state, MSG_PROCESSING);
    CHECK_INT(storage_size(cfg.data_dir, STORAGE_INCOMING, id), 100);
    CHECK_INT(storage_size(cfg.data_dir, STORAGE_PART, id), -1);
    /* Finished: no more bytes. */
    CHECK_INT(upload_open(&app, ADDR(a), id, 100, 100, -1, true, &up), 410);
}

/* A cut-off request keeps what it wrote: closing checkpoints it. */
static void test_cut_off(void)
{
    struct client a = client(2);
    struct upload *up = NULL;
    char id[UTIL_ID_LEN + 1], buf[30] = {0};

    create(id, 100);
    CHECK_INT(upload_open(&app, ADDR(a), id, 0, 100, -1, true, &up), 0);
    CHECK_INT(upload_write(up, buf, 30), 0);
    upload_close(up);
    CHECK_INT(row(id).offset, 30);
    CHECK_INT(storage_size(cfg.data_dir, STORAGE_PART, id), 30);
}

/* Bytes in the file past the recorded offset were never durable: a
 * resumed upload drops them. */
static void test_unrecorded_tail(void)
{
    struct client a = client(3);
    struct upload *up = NULL;
    char id[UTIL_ID_LEN + 1], path[PATH_MAX];
    int fd;

    create(id, 100);
    storage_path(cfg.data_dir, STORAGE_PART, id, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0 && write(fd, "garbage", 7) == 7);
    close(fd);
    CHECK_INT(upload_open(&app, ADDR(a), id, 0, 100, -1, true, &up), 0);
    CHECK_INT(storage_size(cfg.data_dir, STORAGE_PART, id), 0);
    upload_close(up);
}

/* cfg.max_uploads_per_client is 2: a third at once is refused, another
 * client is not. */
static void test_client_slots(void)
{
    struct client a = client(4), b = client(5);
    struct upload *up[3] = {NULL, NULL, NULL}, *other = NULL;
    char id[3][UTIL_ID_LEN + 1], extra[UTIL_ID_LEN + 1];

    for (int i = 0; i < 3; i++)
        create(id[i], 10);
    create(extra, 10);
    CHECK_INT(upload_open(&app, ADDR(a), id[0], 0, 10, -1, true, &up[0]), 0);
    CHECK_INT(upload_open(&app, ADDR(a), id[1], 0, 10, -1, true, &up[1]), 0);
    CHECK_INT(upload_open(&app, ADDR(a), id[2], 0, 10, -1, true, &up[2]), 429);
    CHECK_INT(upload_open(&app, ADDR(b), extra, 0, 10, -1, true, &other), 0);
    upload_close(up[0]);
    CHECK_INT(upload_open(&app, ADDR(a), id[2], 0, 10, -1, true, &up[2]), 0);
    upload_close(up[1]);
    upload_close(up[2]);
    upload_close(other);
}

/*
 * The caps on unfinished uploads, in memory: four per client (the
 * default), counted at creation; bytes that a request may bring count
 * against --max-parked-mb-per-client before it writes; an upload
 * resumed by another client moves to it.
 */
static void test_caps(void)
{
    struct client a = client(7), b = client(8), c = client(9);
    char id[5][UTIL_ID_LEN + 1], big[UTIL_ID_LEN + 1];
    struct upload *up = NULL;

    for (int i = 0; i < 5; i++)
        util_random_id(id[i]);
    for (int i = 0; i < 4; i++)
        CHECK_INT(upload_admit(&app, ADDR(a), id[i]), 0);
    CHECK_INT(upload_admit(&app, ADDR(a), id[4]), UPLOAD_TOO_MANY_OPEN);
    CHECK_INT(upload_admit(&app, ADDR(b), id[4]), 0);
    upload_forget(&app, id[0]);
    CHECK_INT(upload_admit(&app, ADDR(a), id[0]), 0);
    for (int i = 0; i < 5; i++)
        upload_forget(&app, id[i]);

    /* A cap of 1 MiB: a PATCH that may bring more is refused unwritten. */
    cfg.max_parked_mb_per_client = 1;
    create(big, 2 * 1024 * 1024);
    CHECK_INT(upload_open(&app, ADDR(c), big, 0, 2 * 1024 * 1024,
                          2 * 1024 * 1024, true, &up),
              UPLOAD_TOO_MANY_BYTES);
    CHECK_INT(upload_open(&app, ADDR(c), big, 0, 2 * 1024 * 1024, 1024 * 1024,
                          true, &up),
              0);
    upload_close(up);
    /* Moved to another client, it no longer counts for the first. */
    CHECK_INT(upload_open(&app, ADDR(b), big, 0, 2 * 1024 * 1024, 1024 * 1024,
                          true, &up),
              0);
    upload_close(up);
    for (int i = 0; i < 4; i++)
        CHECK_INT(upload_admit(&app, ADDR(c), id[i]), 0);
    for (int i = 0; i < 4; i++)
        upload_forget(&app, id[i]);
    upload_forget(&app, big);
    cfg.max_parked_mb_per_client = cfg.max_upload_mb;
}

/* Withdrawn with its receipt meanwhile: gone (410), at open or at the
 * next checkpoint. */
static void test_withdrawn(void)
{
    struct msg_actor contributor = {WHO_CONTRIBUTOR, "contributor", 0};
    struct client a = client(6);
    struct upload *up = NULL;
    char id[UTIL_ID_LEN + 1], buf[10] = {0};

    create(id, 100);
    CHECK_INT(upload_open(&app, ADDR(a), id, 0, 100, -1, true, &up), 0);
    CHECK_INT(upload_write(up, buf, 10), 0);
    CHECK_INT(message_apply(db, id, EV_WITHDRAW, &contributor, NULL, NULL),
              MSG_OK);
    CHECK_INT(upload_checkpoint(up), 410);
    upload_close(up);
    CHECK_INT(upload_open(&app, ADDR(a), id, 0, 100, -1, true, &up), 410);
}

/* The sweep deletes what expired (row and file), not what is being
 * written or has not expired; the clock moves, nothing sleeps. */
static void test_sweep(void)
{
    struct client a = client(7);
    struct upload *up = NULL;
    char old[UTIL_ID_LEN + 1], busy[UTIL_ID_LEN + 1], young[UTIL_ID_LEN + 1];

    create(old, 10);
    create(busy, 10);
    now += 3600;
    create(young, 10);
    now += cfg.upload_expiry - 1800; /* past old's and busy's expiry */
    CHECK_INT(upload_open(&app, ADDR(a), busy, 0, 10, -1, true, &up), 0);
    CHECK_INT(upload_sweep(&app, db), 1);
    CHECK_INT(row(old).state, MSG_GONE);
    CHECK_INT(storage_size(cfg.data_dir, STORAGE_PART, old), -1);
    CHECK_INT(row(busy).state, MSG_UPLOADING);
    CHECK_INT(row(young).state, MSG_UPLOADING);
    CHECK_INT(upload_delete_unfinished(&app, db, busy, EV_UPLOAD_TERMINATED),
              -2);
    upload_close(up);
    CHECK_INT(upload_delete_unfinished(&app, db, busy, EV_UPLOAD_TERMINATED),
              1);
    CHECK_INT(storage_size(cfg.data_dir, STORAGE_PART, busy), -1);
}

/* Killed after the last byte was written but before the row moved on:
 * recovery finishes it, wherever the whole file is. */
static void test_recover(void)
{
    char in_part[UTIL_ID_LEN + 1], in_incoming[UTIL_ID_LEN + 1];
    char half[UTIL_ID_LEN + 1], path[PATH_MAX];
    int fd;

    create(in_part, 4);
    create(in_incoming, 4);
    create(half, 4);
    storage_path(cfg.data_dir, STORAGE_PART, in_part, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0 && write(fd, "abcd", 4) == 4);
    close(fd);
    storage_path(cfg.data_dir, STORAGE_PART, in_incoming, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0 && write(fd, "abcd", 4) == 4);
    close(fd);
    CHECK_INT(storage_commit_upload(cfg.data_dir, in_incoming), 0);
    storage_path(cfg.data_dir, STORAGE_PART, half, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0 && write(fd, "ab", 2) == 2);
    close(fd);
    upload_recover(&app, db);
    CHECK_INT(row(in_part).state, MSG_PROCESSING);
    CHECK_INT(row(in_incoming).state, MSG_PROCESSING);
    CHECK_INT(storage_size(cfg.data_dir, STORAGE_INCOMING, in_part), 4);
    CHECK_INT(row(half).state, MSG_UPLOADING);
}

int main(void)
{
    char dir[] = "/tmp/chorus-test-upload-XXXXXX", err[512], cmd[300];
    char *argv[] = {"--data-dir",    dir, "--max-uploads-per-client", "2",
                    "--min-free-mb", "0"};
    int rc;

    CHECK_INT(util_init(), 0);
    util_clock_set(fake_clock);
    CHECK(mkdtemp(dir) != NULL);
    if (config_parse(&cfg, CMD_SERVE, (int)ARRAY_LEN(argv), argv, no_env, err,
                     sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (app_open(&app, &cfg, &db) != 0)
        return 1;
    test_sweep(); /* first: it counts every expired upload */
    test_write_and_complete();
    test_cut_off();
    test_unrecorded_tail();
    test_client_slots();
    test_caps();
    test_withdrawn();
    test_recover();
    app_close(&app, db);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    rc = system(cmd);
    CHECK_INT(rc, 0);
    return TEST_RESULT();
}
