/*
 * The message state machine (DESIGN.md "Data"):
 *
 *   uploading -> processing -> pending -> approved | rejected
 *   processing -> failed          (with a reason a moderator can read)
 *   any state  -> withdrawn       (files deleted, personal fields cleared)
 *
 * A message is born "uploading" when a tus upload is created, or born
 * "processing" when a multipart upload arrives whole. The step to
 * "processing" and the queueing of its transcode job are one
 * transaction, so a finished upload always has a job.
 */
#ifndef CHORUS_MESSAGE_H
#define CHORUS_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "chorus/util.h"

struct db;
struct message_meta;

#define MESSAGE_HASH_LEN 32

/* What the upload code needs to know of a message. */
struct message_upload {
    char status[16];
    int64_t length, offset, expires_at;
};

/* Where a contributor's message is, as their receipt shows it. */
struct message_receipt {
    char id[UTIL_ID_LEN + 1];
    char status[16];
    char job_state[16]; /* "queued", "running" or "" */
    char consent_scope[8];
    int64_t created_at, received_at, decided_at, withdrawn_at;
};

/* SHA-256 of a receipt or session token, as stored. */
void message_token_hash(const char *token, unsigned char out[MESSAGE_HASH_LEN]);

/*
 * Inserts message id with its metadata and receipt hash. If complete,
 * the whole video (length bytes) is already in incoming/ and the message
 * starts "processing" with its job queued; else it starts "uploading"
 * with offset 0, expiring at expires_at. Returns 0, or a DB_* code < 0.
 */
int message_create(struct db *db, const char *id,
                   const struct message_meta *meta,
                   const unsigned char receipt_hash[MESSAGE_HASH_LEN],
                   int64_t length, int64_t expires_at, bool complete);

/* Reads message id's upload state: 1 found, 0 no such message, -1. */
int message_upload_get(struct db *db, const char *id,
                       struct message_upload *out);
/*
 * Records that offset bytes are durably on disk and renews the expiry.
 * Returns 1, 0 if the message is no longer uploading, or -1.
 */
int message_upload_progress(struct db *db, const char *id, int64_t offset,
                            int64_t expires_at);
/*
 * uploading -> processing, and the transcode job queued, in one
 * transaction. Returns 1, 0 if it was not uploading, or -1.
 */
int message_upload_finish(struct db *db, const char *id);
/* Deletes an unfinished upload's row: 1, 0 if not uploading, or -1. */
int message_upload_delete(struct db *db, const char *id);

/* Finds the message of a receipt: 1 found, 0 none, -1. */
int message_by_receipt(struct db *db,
                       const unsigned char hash[MESSAGE_HASH_LEN],
                       struct message_receipt *out);
/*
 * Withdraws message id: status "withdrawn", personal fields cleared, its
 * live jobs cancelled, an audit row by actor. Files are the caller's to
 * delete afterwards. Returns 1, 0 if it was withdrawn already, or -1.
 */
int message_withdraw(struct db *db, const char *id, const char *actor);

/* The receipt's word for a state: "uploading", "received", "processing",
 * "in_review", "approved", "not_published", "failed" or "withdrawn". */
const char *message_public_status(const struct message_receipt *r);

#endif
