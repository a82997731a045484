/*
 * The audit log: every decision, login and user change, append-only and
 * tamper-evident (DESIGN.md "Retention and withdrawal").
 *
 * Row n's hash is HMAC-SHA-256, under the 32-byte key in
 * <data>/audit.key (0600, never in the database), over n, the previous
 * row's hash and this row's fields (each length-prefixed, so no two
 * different rows hash alike); the first row chains from 32 zero bytes.
 * Ids run 1, 2, 3... without gaps: an append takes the last id plus one
 * inside the caller's BEGIN IMMEDIATE, which also orders the appends of
 * several processes. Without the key nobody can write a row, or rewrite
 * one and recompute the chain, that verifies.
 *
 * What the chain cannot show is its own end: deleting the last rows
 * leaves a shorter chain that holds. So after every commit that appended
 * a row, its head "ID:HASH" is written to <data>/audit.head (a temporary
 * file renamed over it, under a lock, never moving backwards) and
 * logged; audit_verify() checks the log against that head, or against
 * one the operator kept elsewhere.
 *
 * A log of migration 0001's keyless SHA-256 scheme is verified under
 * that scheme and re-chained under the key in one transaction at
 * start-up (audit_open()), and the migration, with what the old
 * verification found, becomes a row.
 */
#ifndef CHORUS_AUDIT_H
#define CHORUS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

#define AUDIT_HASH_LEN 32
/* "ID:" and 64 hex digits, NUL-terminated. */
#define AUDIT_HEAD_TEXT 96

struct audit_head {
    int64_t id; /* 0: the log is empty */
    unsigned char hash[AUDIT_HASH_LEN];
};

/*
 * Appends a row (actor: a username, "contributor" or "system"; target
 * and reason may be NULL). Call inside the caller's BEGIN IMMEDIATE
 * transaction so the row and the change it records commit together;
 * the head file follows the commit. Returns 0, or a DB_* code < 0 (also
 * when the key is missing from a log that has rows: logged).
 */
int audit_append(struct db *db, const char *actor, const char *action,
                 const char *target, const char *reason);

/*
 * Start-up, for every command that opens the data directory: creates
 * the key of a new log, and re-chains a log of the old scheme (see
 * above). Returns 0, or -1 (logged).
 */
int audit_open(struct db *db);

/* The last row's id and hash: 1, 0 if the log is empty, or -1. */
int audit_head_db(struct db *db, struct audit_head *out);
/* The head in <data>/audit.head: 1, 0 if there is none, -1 if it
 * cannot be read or parsed. */
int audit_head_file(struct db *db, struct audit_head *out);
/* "ID:HASH" (64 lower-case hex digits) and back; parse returns 0 or -1. */
void audit_head_format(const struct audit_head *h, char out[AUDIT_HEAD_TEXT]);
int audit_head_parse(const char *s, struct audit_head *out);

/* What audit_verify() found. */
struct audit_report {
    int64_t rows; /* rows read */
    int64_t bad;  /* the first bad row (or missing row id), 0 if none */
    int64_t past; /* rows after the head (they verified; a crash between a
                     commit and its head, or a head kept long ago) */
    char why[320];
};

/*
 * Walks the chain and checks it against head (NULL: the head file).
 * Returns 0 if every row and the head hold; 1 if not, with out->bad the
 * first bad row (the first missing one when rows were deleted; 0 when
 * the log has rows but there is no head to check its end against) and
 * out->why saying what is wrong; -1 if the log cannot be read.
 */
int audit_verify(struct db *db, const struct audit_head *head,
                 struct audit_report *out);

#endif
