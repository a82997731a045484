/*
 * Receiving the bytes of a video, for tus PATCH / creation-with-upload
 * and the multipart form alike.
 *
 * The body goes to uploads/<id>.part as it arrives, never held whole in
 * memory. What the database says is on disk (upload_offset) is only ever
 * bytes that were fdatasync'ed first: at every checkpoint (each
 * UPLOAD_CHECKPOINT bytes, at the end of a request, and when a request is
 * cut off), so a killed server loses at most the bytes since the last
 * checkpoint, and a resumed upload overwrites them.
 *
 * Limits, all in memory (a client is never stored; client.h says who a
 * client is): one request at a time may write an upload (423); one
 * client may write only --max-uploads-per-client uploads at once, hold
 * only --max-open-uploads-per-client unfinished ones, and their bytes
 * (on disk, plus what requests under way may still bring) may not pass
 * --max-parked-mb-per-client (429 each, with its own error code). All
 * unfinished uploads together leave --min-free-mb free: a request may
 * write only when the rest of its upload fits above that reserve beside
 * what every other request under way may still write (507).
 */
#ifndef CHORUS_UPLOAD_H
#define CHORUS_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chorus/client.h"
#include "chorus/message.h"
#include "chorus/util.h"

struct app;
struct db;
struct request;

#define UPLOAD_CHECKPOINT (16 * 1024 * 1024)

/* The refusals past a client's caps: upload_answer() makes each a 429
 * with its own error code. */
enum {
    UPLOAD_TOO_MANY_AT_ONCE = 429, /* --max-uploads-per-client */
    UPLOAD_TOO_MANY_OPEN = 1429,   /* --max-open-uploads-per-client */
    UPLOAD_TOO_MANY_BYTES = 2429,  /* --max-parked-mb-per-client */
};

struct upload_registry;

/* The in-memory locks and per-client counts; NULL on out of memory. */
struct upload_registry *upload_registry_new(void);
void upload_registry_free(struct upload_registry *reg);

struct upload {
    struct app *app;
    char id[UTIL_ID_LEN + 1];
    int fd;
    int64_t offset;   /* bytes in the file so far */
    int64_t length;   /* declared total */
    int64_t synced;   /* bytes recorded as durable */
    bool tracked;     /* a tus upload with a row to keep current */
    bool finished;    /* its last byte is in: no longer its client's */
    bool locked;      /* holds the id's lock */
    bool held;        /* counted as its client's */
    bool slot;        /* holds one of its client's writing slots */
    int64_t reserved; /* bytes it may still write, reserved on the disk */
    unsigned char client[CLIENT_KEY_MAX];
    size_t client_len;
};

/*
 * Counts a new unfinished upload id (a tus creation without bytes) as
 * client cl's. Returns 0, UPLOAD_TOO_MANY_OPEN, or 500.
 */
int upload_admit(struct app *app, const struct client *cl, const char *id);
/* Stops counting upload id as anyone's (finished, deleted, withdrawn). */
void upload_forget(struct app *app, const char *id);
/* True if need more bytes fit above --min-free-mb beside what requests
 * under way may still write. */
bool upload_room(struct app *app, int64_t need);

/*
 * Opens message id's part file for writing at offset (dropping anything
 * past it: bytes never made durable) with the id's lock, for client cl,
 * for a body of body_len bytes (-1: unknown, up to the rest of length).
 * tracked: the message row's offset is kept current (else the file is
 * created here). Returns 0 and sets *out, or the status to answer (409
 * the offset moved, 410 gone, 413, 423 locked, UPLOAD_TOO_MANY_* past a
 * client's cap, 503 no database handle in time, 507 no room for the
 * rest, 500).
 */
int upload_open(struct app *app, const struct client *cl, const char *id,
                int64_t offset, int64_t length, int64_t body_len, bool tracked,
                struct upload **out);
/*
 * Appends size bytes. Returns 0, or the status to answer: 413 past the
 * declared length, 507 disk full, 500 (a body that comes too slowly is
 * dropped by the reaper, not here). Whatever was written before a
 * failure is kept.
 */
int upload_write(struct upload *up, const char *data, size_t size);
/*
 * Makes everything written durable and records it (tracked uploads):
 * fdatasync, then the row's offset and a renewed expiry. Returns 0, 410
 * if the upload is gone (withdrawn, expired), 503, 507 or 500.
 */
int upload_checkpoint(struct upload *up);
/*
 * For a tracked upload whose last byte is in: checkpoint, move the file
 * to incoming/ and, in one transaction, the message to processing with
 * its job queued. Returns 0, or a status (410 gone, 503, 500).
 */
int upload_complete(struct upload *up);
/*
 * Answers req with the JSON error for a status returned above (409,
 * 410, 413, 423, the 429s with Retry-After, 503, 507; anything else is
 * 500). Returns the status answered.
 */
int upload_answer(struct request *req, int status);
/* Checkpoints if needed (a request cut off), releases and frees. */
void upload_close(struct upload *up);
/*
 * True while another request writes message id; if wait, after waiting
 * for it as long as a PATCH would (a request sent the moment the last
 * was answered finds that one still letting go of the upload).
 */
bool upload_busy(struct app *app, const char *id, bool wait);

/*
 * Deletes unfinished upload id (row and part file) unless a request is
 * writing it, as event ev: EV_UPLOAD_TERMINATED (its contributor asked,
 * or never learnt of it) or EV_UPLOAD_EXPIRED (the sweep). Returns 1, 0
 * if it is not an unfinished upload, -2 if it is busy, or -1.
 */
int upload_delete_unfinished(struct app *app, struct db *db, const char *id,
                             enum msg_event ev);
/*
 * Deletes every upload whose expiry passed (their part file and row),
 * skipping any being written, however many. Returns how many, or -1.
 */
int upload_sweep(struct app *app, struct db *db);
/*
 * At start-up: an upload whose whole file reached incoming/ but whose row
 * was not yet moved on (a kill between the two) is finished now; a part
 * file without a row (a creation cut off by a kill before it was
 * answered) is deleted.
 */
void upload_recover(struct app *app, struct db *db);

#endif
