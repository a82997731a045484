/*
 * The durable job queue (DESIGN.md "Data"):
 *
 *   queued -> running (lease_until, worker) -> done | failed
 *
 * A worker claims the oldest due job in one BEGIN IMMEDIATE transaction
 * and holds it with a lease that it renews while it works (heartbeat).
 * A running job whose lease expired - its worker died - is claimed again.
 * Every claim counts an attempt; a job whose attempts crashed or timed
 * out QUEUE_MAX_ATTEMPTS times fails for good and fails its message,
 * so a poison input never loops.
 */
#ifndef CHORUS_QUEUE_H
#define CHORUS_QUEUE_H

#include <stdint.h>

struct db;

#define QUEUE_MAX_ATTEMPTS 3

/* Queues a transcode job for message id, due now. Call inside the
 * caller's transaction. Returns 0, or a DB_* code < 0. */
int queue_enqueue(struct db *db, const char *message_id);

#endif
