/*
 * The audit log: every decision, login and user change, append-only and
 * tamper-evident. Each row's hash is SHA-256 over the previous row's hash
 * and this row's fields (each length-prefixed, so no two different rows
 * hash alike), the first row chaining from 32 zero bytes. Editing,
 * deleting or inserting a row in the middle breaks every later link, and
 * audit_verify() names the first broken one.
 */
#ifndef CHORUS_AUDIT_H
#define CHORUS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct db;

/*
 * Appends a row (actor: a username, "contributor" or "system"; target
 * and reason may be NULL). Call inside the caller's BEGIN IMMEDIATE
 * transaction so the row and the change it records commit together.
 * Returns 0, or a DB_* code < 0.
 */
int audit_append(struct db *db, const char *actor, const char *action,
                 const char *target, const char *reason);

/*
 * Walks the chain. Returns 0 if every link holds, the id (> 0) of the
 * first row whose link is broken, or -1 if the log cannot be read.
 */
int64_t audit_verify(struct db *db);

#endif
