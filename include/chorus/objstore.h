/*
 * A message's media in an S3-compatible bucket (--storage
 * s3://BUCKET/PREFIX). Without --storage none of this is used:
 * objstore_open() gives NULL and every function here that takes a NULL
 * handle reads and writes the data directory only.
 *
 * Keys are built from ids only: PREFIX/media/<id>/<name>, name as in
 * the data directory's media/<id>/ (video.mp4, thumb.jpg, sheet.jpg,
 * v-<version>.mp4; storage.h).
 *
 * The data directory stays the staging area. A job writes and publishes
 * its outputs there as without a bucket; once its owner has published
 * them (queue_succeed), objstore_offload() copies each to the bucket
 * and deletes the local copy. A file is read from the data directory
 * while it is there and from the bucket once it is not, so a failed
 * copy loses nothing: the file stays, serves, and the sweep copies it
 * again.
 *
 * Deletion: every event that deletes a message's files records it in
 * object_deletions in its own transaction (message.c); objstore_sweep()
 * lists media/<id>/ and deletes what is there, and tries again later,
 * each time a little later, until the store agrees.
 *
 * Remote workers never send media through the server: while one holds
 * a transcode, the original is copied to the private prefix
 * (PREFIX/private/<id>/original) and the worker reads it through a
 * pre-signed GET; it writes each output through a pre-signed PUT to
 * PREFIX/private/<id>/<job>.<attempt>/<name>, and the lease's holder's
 * "done" copies them inside the store to media/<id>/. The server keeps
 * its own copy of the original as without a bucket (its workers, a
 * retry). The sweep deletes every private object of a message no remote
 * worker holds a job of any more.
 */
#ifndef CHORUS_OBJSTORE_H
#define CHORUS_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chorus/s3.h"

struct config;
struct db;

struct objstore;

/*
 * With --storage s3://..., a handle on the bucket from cfg and the
 * credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (copied, never
 * logged): 0 and *out. Without --storage: 0 and *out NULL. -1 (logged)
 * if a setting is wrong.
 */
int objstore_open(const struct config *cfg, struct objstore **out);
void objstore_close(struct objstore *os);

/*
 * Asks the store whether the credentials, the region and the bucket
 * work, and logs what is wrong if not ("the object store refused the
 * request's signature: check AWS_SECRET_ACCESS_KEY ..."). 0, or -1.
 */
int objstore_check(struct objstore *os);

/* True for a file name of a message's media directory that goes to the
 * bucket: [A-Za-z0-9._-], not starting with '.', not a ".tmp" file. */
bool objstore_name_ok(const char *name);

/*
 * Copies every published file of message id's media directory to the
 * bucket and deletes each local copy once the store has it. If the
 * message's files were deleted meanwhile (a withdrawal while copying),
 * its objects are recorded for deletion again. Returns how many files
 * could not be copied (logged; they stay on disk for the sweep), or -1
 * if the directory cannot be read. os NULL: 0, nothing done.
 */
int objstore_offload(struct objstore *os, struct db *db, const char *data_dir,
                     const char *id);

/* A message's file opened for reading: on disk (fd >= 0) or in the
 * bucket. */
struct objstore_file {
    int fd;
    bool in_bucket;
    int64_t size;
    int64_t mtime;          /* on disk only; 0 in the bucket */
    char etag[S3_ETAG_MAX]; /* the store's ETag, in the bucket */
    char key[S3_KEY_MAX];   /* relative to the prefix */
    struct s3_reader *rd;   /* once streaming */
};

/*
 * Opens file name of message id: the data directory's copy if there is
 * one (fd open, nothing asked of the store), else the bucket's (its size
 * and ETag from a HEAD; nothing read yet). Returns 0, 1 if neither
 * exists, or -1 if the store failed (logged). f is initialised in every
 * case; objstore_file_close() it.
 */
int objstore_file_open(struct objstore *os, const char *data_dir,
                       const char *id, const char *name,
                       struct objstore_file *f);
/* Wraps an open descriptor (a temporary file) as a file; takes fd. */
void objstore_file_of_fd(struct objstore_file *f, int fd, int64_t size);
/*
 * Starts reading len bytes from start: a ranged GET in the bucket, a
 * seek on disk. 0, or -1 (logged).
 */
int objstore_file_stream(struct objstore *os, struct objstore_file *f,
                         int64_t start, int64_t len);
/* Reads up to max bytes: > 0, 0 at the end, -1 on failure (logged). */
long objstore_file_read(struct objstore_file *f, char *buf, size_t max);
void objstore_file_close(struct objstore_file *f);

/*
 * Makes sure file name of message id is on disk at path: 0 if it is the
 * data directory's copy (path is that copy's) or was downloaded there
 * from the bucket (a new 0600 file the caller deletes: *fetched true),
 * 1 if neither has it, -1 on failure (logged).
 */
int objstore_fetch(struct objstore *os, const char *data_dir, const char *id,
                   const char *name, char *path, size_t pathlen, bool *fetched);

/*
 * The sweep: deletes the objects of the messages recorded for deletion
 * that are due (at most a few hundred a call), a failed one tried again
 * later with a growing wait; then copies to the bucket what a crash or
 * a failed copy left on disk. os NULL: the records are cleared (no
 * bucket to clean). Returns how many messages' objects were deleted (os
 * NULL: records cleared), or -1 if the database failed. More than 0
 * means new WAL frames: after a withdrawal or a purge the caller
 * truncates the WAL again (retention_checkpoint).
 */
int objstore_sweep(struct objstore *os, struct db *db, const char *data_dir);

/* Seconds a pre-signed URL for a remote worker lives. */
#define OBJSTORE_URL_TTL 3600

/*
 * For a remote worker claiming message id's transcode: the original
 * (incoming/<id>) copied to the private prefix, and a pre-signed GET of
 * it into url. 0, or -1 (logged).
 */
int objstore_share_original(struct objstore *os, const char *data_dir,
                            const char *id, char *url, size_t urllen);
/*
 * The key of output name of job_id's attempt (private), and a pre-signed
 * PUT of it into url (may be NULL). 0, or -1.
 */
int objstore_work_url(struct objstore *os, const char *id, int64_t job_id,
                      int attempt, const char *name, char *key, size_t keylen,
                      char *url, size_t urllen);
/* The size of key in the bucket: 1 with *size, 0 if none, -1 (logged). */
int objstore_size(struct objstore *os, const char *key, int64_t *size);
/*
 * Copies output name of job_id's attempt, in the store, to message id's
 * media/<id>/<name>. 0, or -1 (logged).
 */
int objstore_publish_work(struct objstore *os, const char *id, int64_t job_id,
                          int attempt, const char *name);
/* After publishing: if id's files were deleted meanwhile, its objects
 * are recorded for deletion again. */
void objstore_recheck(struct objstore *os, struct db *db, const char *id);

/* The deletions still to make and those that failed at least once (for
 * /metrics). 0, or -1. */
int objstore_pending(struct db *db, int64_t *pending, int64_t *failing);

#endif
