/*
 * Receiving the bytes of a video, for tus PATCH / creation-with-upload
 * and the multipart form alike.
 *
 * The body goes to uploads/<id>.part as it arrives, never held whole in
 * memory. What the database says is on disk (upload_offset) is only ever
 * bytes that were fdatasync'ed first: at every checkpoint (each
 * UPLOAD_CHECKPOINT bytes, at the end of a request, and when a request is
 * cut off), so a killed server loses at most the bytes since the last
 * checkpoint, and a resumed upload overwrites them. One request at a
 * time may write an upload (an in-memory lock per id: a second gets 423),
 * and one client address may run only so many uploads at once (429).
 */
#ifndef CHORUS_UPLOAD_H
#define CHORUS_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "chorus/message.h"
#include "chorus/util.h"

struct app;
struct db;
struct request;

#define UPLOAD_CHECKPOINT (16 * 1024 * 1024)

struct upload_registry;

/* The in-memory locks and per-client counts; NULL on out of memory. */
struct upload_registry *upload_registry_new(int per_client_max);
void upload_registry_free(struct upload_registry *reg);

struct upload {
    struct app *app;
    char id[UTIL_ID_LEN + 1];
    int fd;
    int64_t offset; /* bytes in the file so far */
    int64_t length; /* declared total */
    int64_t synced; /* bytes recorded as durable */
    bool tracked;   /* a tus upload with a row to keep current */
    bool locked;    /* holds the id's lock */
    bool slot;      /* holds one of its client's slots */
    unsigned char client[16];
    size_t client_len;
    int64_t window_start_ms, window_bytes; /* for the minimum rate */
};

/*
 * Opens message id's part file for writing at offset (dropping anything
 * past it: bytes never made durable) with the id's lock and a slot of
 * client addr. tracked: the message row's offset is kept current. Returns
 * 0 and sets *out, or the HTTP status to answer (409 the offset moved,
 * 410 gone, 423 locked, 429 too many uploads from the client, 507 no room
 * for the rest, 500).
 */
int upload_open(struct app *app, const struct sockaddr *addr, const char *id,
                int64_t offset, int64_t length, bool tracked,
                struct upload **out);
/*
 * Appends size bytes. Returns 0, or the status to answer: 413 past the
 * declared length, 408 below the minimum rate, 507 disk full, 500.
 * Whatever was written before a failure is kept.
 */
int upload_write(struct upload *up, const char *data, size_t size);
/*
 * Makes everything written durable and records it (tracked uploads):
 * fdatasync, then the row's offset and a renewed expiry. Returns 0, 410
 * if the upload is gone (withdrawn, expired), 507 or 500.
 */
int upload_checkpoint(struct upload *up);
/*
 * For a tracked upload whose last byte is in: checkpoint, move the file
 * to incoming/ and, in one transaction, the message to processing with
 * its job queued. Returns 0, or a status (410 gone, 500).
 */
int upload_complete(struct upload *up);
/*
 * Answers req with the JSON error for a status returned above (408, 409,
 * 410, 413, 423, 429 with Retry-After, 507; anything else is 500).
 * Returns the status answered.
 */
int upload_answer(struct request *req, int status);
/* Checkpoints if needed (a request cut off), releases and frees. */
void upload_close(struct upload *up);
/* True while another request writes message id. */
bool upload_busy(struct app *app, const char *id);

/*
 * Deletes unfinished upload id (row and part file) unless a request is
 * writing it, as event ev: EV_UPLOAD_TERMINATED (its contributor asked,
 * or never learnt of it) or EV_UPLOAD_EXPIRED (the sweep). Returns 1, 0
 * if it is not an unfinished upload, -2 if it is busy, or -1.
 */
int upload_delete_unfinished(struct app *app, struct db *db, const char *id,
                             enum msg_event ev);
/*
 * Deletes uploads whose expiry passed (their part file and row), skipping
 * any being written. Returns how many, or -1.
 */
int upload_sweep(struct app *app, struct db *db);
/*
 * At start-up: an upload whose whole file reached incoming/ but whose row
 * was not yet moved on (a kill between the two) is finished now.
 */
void upload_recover(struct app *app, struct db *db);

#endif
