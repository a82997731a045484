/*
 * What a contributor gave is kept only while it serves the campaign
 * (DESIGN.md "Retention and withdrawal"): the retention sweep deletes
 * the files of failed messages after --failed-retention-days and of
 * rejected ones after --rejected-retention-days (the rows say so); an
 * admin may delete them at once; `chorus purge` deletes a campaign's
 * media and personal data, keeping the rows and so the counts; and after
 * each of these, and after a withdrawal, the WAL is checkpointed and
 * truncated so that no frame of it still holds what was cleared.
 */
#ifndef CHORUS_RETENTION_H
#define CHORUS_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

struct config;
struct db;
struct request;

/*
 * Deletes the files of the failed and rejected messages whose time is
 * up, each in its own transaction (the row marked, the files deleted,
 * an audit row). Returns how many, or -1 on a database error.
 */
int retention_sweep(const struct config *cfg, struct db *db);

/*
 * Merges the search index into one segment (so none keeps the words of
 * what was cleared), then checkpoints the WAL into the database and
 * truncates it, waiting at most wait_ms for readers of older snapshots. Returns
 * 0 when the WAL is empty, 1 if it is still in use (try again later), -1.
 */
int retention_checkpoint(struct db *db, int wait_ms);
/*
 * Leaves (wanted) or clears the marker data_dir/checkpoint-wanted: a
 * process that could not truncate the WAL hands it to the server's sweep.
 * The WAL is truncated only when something was cleared: on a nearly full
 * disk the space it gives back may not come back.
 */
void retention_checkpoint_later(const char *data_dir, bool wanted);
bool retention_checkpoint_wanted(const char *data_dir);

struct purge_report {
    int64_t messages; /* rows purged (their state kept) */
    int64_t files;    /* files or directories that could not be deleted */
    bool wal_clear;   /* the WAL was truncated afterwards */
};

/*
 * chorus purge: every message of campaign (NULL: of every campaign)
 * loses its files and personal data; a message not yet decided is
 * withdrawn first (its job cancelled), a decided one keeps its state, so
 * the counts remain. Safe while `chorus serve` runs on the same data
 * directory: each batch is one BEGIN IMMEDIATE transaction and files go
 * after its commit. Then leftover files of purged or unknown messages
 * are deleted, one audit row records the purge, and the WAL is
 * truncated. Returns 0, or -1 (logged).
 */
int retention_purge(const struct config *cfg, struct db *db,
                    const char *campaign, struct purge_report *out);

/*
 * POST /api/v1/messages/{id}/delete-files (admin): a failed or rejected
 * message's files deleted now. 200 {"id","status","media_deleted_at",
 * "media_deleted_why"}; 404; 409 in another state or when they are gone
 * already.
 */
int retention_delete_files(struct request *req);

#endif
