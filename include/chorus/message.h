/*
 * A message's life (DESIGN.md "Message lifecycle"). This module owns every
 * change of messages.status: other modules ask it, with message_apply(),
 * and nothing else writes the column. The transitions are one table in
 * message.c, {event, from-states, to-state, who may, audit action, guard,
 * effect}; a new state or event is a new row there:
 *
 *   (upload created)         -> uploading        contributor
 *   uploading   finished     -> processing       contributor (job queued)
 *   uploading   expired      -> (row deleted)    sweep
 *   uploading   terminated   -> (row deleted)    contributor (tus DELETE)
 *   processing  job done     -> pending          worker holding the lease
 *   processing  job failed   -> failed           worker holding the lease,
 *                                                or the queue (poison)
 *   failed      retry        -> processing       admin, audited
 *   pending     approve      -> approved         moderator, admin, audited
 *   pending     reject       -> rejected         moderator, admin, audited
 *                                                (a moderator's waits for
 *                                                another's claim, claim.h)
 *   approved,
 *   rejected    reopen       -> pending          admin, audited
 *   any         withdraw     -> withdrawn        contributor, audited;
 *                                                the operator (a purge)
 *   approved    reshared     -> approved         comms, admin, audited
 *   withdrawn   taken down   -> withdrawn        comms, admin, audited
 *   failed,
 *   rejected    files deleted -> (stays)         sweep (retention), admin,
 *                                                audited
 *   approved, rejected,
 *   failed,
 *   withdrawn   purged       -> (stays)          the operator (chorus purge)
 *
 * A withdrawal and a purge clear what DESIGN.md "Retention and
 * withdrawal" lists (every exact time becomes its day); the files go
 * after the commit (a withdrawal, a purge) or inside the transaction
 * (files deleted: the on_owned hook). A message whose files are gone
 * cannot be retried or re-opened (MSG_NO_FILES).
 *
 * An event runs in one BEGIN IMMEDIATE transaction: the state is read,
 * checked against the table (state, then who), the row's guard is asked
 * (a job event proves its lease: worker and attempt, a compare-and-swap
 * on the job row), then the effect's statements run with the state just
 * read as their compare-and-swap, and the audit row is appended.
 *
 * What each role may see of a message is message_sight(), used by the
 * list, the detail, /media and the export alike; message_sight_in() adds
 * the user's campaign limits, and every panel route asks it (a user
 * limited to one campaign finds nothing of another, by any route).
 */
#ifndef CHORUS_MESSAGE_H
#define CHORUS_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "chorus/auth.h"
#include "chorus/util.h"

struct db;
struct job;
struct job_facts;
struct message_meta;

#define MESSAGE_HASH_LEN 32

/* A rejection's reason code: the protection asked for did not work, and
 * the receipt offers to send the clip again. */
#define MESSAGE_CODE_PROTECTION_FAILED "protection_failed"

enum msg_state {
    MSG_UPLOADING,
    MSG_PROCESSING,
    MSG_PENDING,
    MSG_APPROVED,
    MSG_REJECTED,
    MSG_FAILED,
    MSG_WITHDRAWN,
    MSG__STATES,
    MSG_GONE = -1, /* the row is deleted */
    MSG_STAY = -2, /* a table row's "to": the state does not change */
};

enum msg_event {
    EV_UPLOAD_FINISHED,
    EV_UPLOAD_EXPIRED,
    EV_UPLOAD_TERMINATED,
    EV_JOB_DONE,
    EV_JOB_FAILED,
    EV_RETRY,
    EV_APPROVE,
    EV_REJECT,
    EV_REOPEN,
    EV_WITHDRAW,
    EV_RESHARED,
    EV_TAKEN_DOWN,
    EV_DELETE_FILES,
    EV_PURGE,
    EV__COUNT
};

/* Who asks for an event (bits, so a table row can allow several). */
enum msg_who {
    WHO_NOBODY = 0,
    WHO_CONTRIBUTOR = 1 << 0,
    WHO_SWEEP = 1 << 1,
    WHO_WORKER = 1 << 2, /* a worker, or the queue failing a poison job */
    WHO_MODERATOR = 1 << 3,
    WHO_ADMIN = 1 << 4,
    WHO_COMMS = 1 << 5,
    WHO_OPERATOR = 1 << 6, /* at the command line: chorus purge */
};

struct msg_actor {
    enum msg_who who;
    const char *name; /* in the audit log: a username, "contributor" */
    int64_t user_id;  /* a panel user's id, else 0 */
};

/* What an event needs beyond the message; unused fields stay zero. */
struct msg_args {
    /* Reject (required), approve, job failed: kept on the row, never in
     * the audit log (a moderator's words may quote the contributor);
     * taken down, files deleted: the audit row's own words. */
    const char *reason;
    const char *code; /* reject: a reason code (MESSAGE_CODE_*), or NULL */
    /* Job events: the caller's lease (job id, attempt) and worker name;
     * worker NULL: the queue fails a job whose lease expired. */
    const struct job *job;
    const char *worker;
    const struct job_facts *facts; /* job done */
    /* Job done: called once the lease is proven and before the commit
     * (the outputs get their names); files deleted: called once the row
     * says so, before the commit (the files go while no one else can
     * change the message). Non-zero aborts the event. */
    int (*on_owned)(void *opaque);
    void *opaque;
    const char *channel, *url; /* reshared */
    int64_t reshare_id;        /* taken down: the post; 0: the whole clip */
    /* The panel user's campaign limits (message_scope_has()); NULL or
     * "": none. A message outside them is not found. */
    const char *scope;
};

/* message_apply() results. */
enum {
    MSG_OK = 1,
    MSG_NOT_FOUND = 0,
    MSG_ERROR = -1,
    MSG_REFUSED = -2,   /* not allowed from the message's state */
    MSG_FORBIDDEN = -3, /* not allowed to this actor */
    MSG_LOST = -4,      /* a job event whose lease moved on */
    MSG_BUSY = -5,      /* the database stayed locked past its timeout */
    MSG_NO_FILES = -6,  /* its files were deleted (retention, purge) */
    MSG_CLAIMED = -7,   /* another moderator is reviewing it (claim.h) */
};

/* The states' names as stored ("pending") and back; NULL / -1 if none. */
const char *message_state_name(enum msg_state s);
int message_state_parse(const char *name);
/* The event's verb for error messages ("approved", "retried"), and the
 * state it leads to (MSG_STAY: the one it was in). */
const char *message_event_verb(enum msg_event ev);
enum msg_state message_event_to(enum msg_event ev);

/*
 * Applies ev to message id for who in its own transaction. Returns
 * MSG_OK, MSG_NOT_FOUND or one of the failures above; *from (may be
 * NULL) receives the state it was in (when found).
 */
int message_apply(struct db *db, const char *id, enum msg_event ev,
                  const struct msg_actor *who, const struct msg_args *args,
                  enum msg_state *from);
/* The same inside the caller's transaction (which it commits or rolls
 * back; after a failure it must roll back). */
int message_apply_tx(struct db *db, const char *id, enum msg_event ev,
                     const struct msg_actor *who, const struct msg_args *args,
                     enum msg_state *from);
/* True if the table lets who apply ev to a message in state s. */
bool message_allows(enum msg_state s, enum msg_event ev, enum msg_who who);

/* The actor bit of a panel role. */
enum msg_who message_who_of_role(enum role role);

/* What a role may see of a message in a state. */
enum msg_sight {
    SIGHT_NONE,  /* nothing: it does not exist for them */
    SIGHT_ROW,   /* the row (list, detail), not its media */
    SIGHT_MEDIA, /* the row and its video and thumbnail */
};
enum msg_sight message_sight(enum role role, enum msg_state s);
/* True if role sees messages in every state: it may list them all at
 * once (status=all); the comms team may not. */
bool message_sight_all(enum role role);

/*
 * A user's campaign limits, as every route applies them: the ids of the
 * campaigns they may see between commas (",1,3,"), or "" (or NULL) for
 * every campaign. The lists bind the same string in SQL (instr()).
 */
#define MSG_SCOPE_MAX AUTH_SCOPE_MAX
/* True if scope lets its user see campaign campaign_id. */
bool message_scope_has(const char *scope, int64_t campaign_id);
/*
 * What a user of role limited to scope may see of a message of campaign
 * campaign_id in state s: message_sight(), or nothing at all outside the
 * scope (admins are never limited). The one rule of every panel route:
 * list, detail, media, export, decisions, reshares, counts.
 */
enum msg_sight message_sight_in(enum role role, const char *scope,
                                enum msg_state s, int64_t campaign_id);
/* The state a role's list shows when it asks for none. */
enum msg_state message_default_list(enum role role);

/* ---- uploads ---- */

/* What the upload code needs to know of a message. */
struct message_upload {
    enum msg_state state;
    int64_t length, offset, expires_at;
};

/* Where a contributor's message is, as their receipt shows it. */
struct message_receipt {
    char id[UTIL_ID_LEN + 1];
    enum msg_state state;
    char job_state[16]; /* "queued", "running" or "" */
    char consent_scope[8];
    char protect[32];       /* as stored: "blur_faces,voice", or "" */
    char decision_code[24]; /* "protection_failed", or "" */
    int64_t created_at, received_at, decided_at, withdrawn_at;
    char failure[40]; /* failed: message_failure_code() of its reason */
};

/* SHA-256 of a receipt or session token, as stored. */
void message_token_hash(const char *token, unsigned char out[MESSAGE_HASH_LEN]);

/*
 * Inserts message id with its metadata and receipt hash, "uploading"
 * (the table's "upload created") with offset bytes already durable in
 * its part file, expiring at expires_at. If complete, the whole video
 * (length bytes) is already in incoming/, and the same transaction
 * applies its last byte (EV_UPLOAD_FINISHED: "processing", its job
 * queued). Returns 0, or a DB_* code < 0.
 */
int message_create(struct db *db, const char *id,
                   const struct message_meta *meta,
                   const unsigned char receipt_hash[MESSAGE_HASH_LEN],
                   int64_t length, int64_t offset, int64_t expires_at,
                   bool complete);

/* Reads message id's upload state: 1 found, 0 no such message, -1. */
int message_upload_get(struct db *db, const char *id,
                       struct message_upload *out);
/*
 * Records that offset bytes are durably on disk and renews the expiry.
 * Returns 1, 0 if the message is no longer uploading, or -1.
 */
int message_upload_progress(struct db *db, const char *id, int64_t offset,
                            int64_t expires_at);

/* Finds the message of a receipt: 1 found, 0 none, -1. */
int message_by_receipt(struct db *db,
                       const unsigned char hash[MESSAGE_HASH_LEN],
                       struct message_receipt *out);

/*
 * A failure reason (the worker's words) as a code the upload page
 * translates: "not_video", "too_long", "damaged", "unsupported",
 * "too_large", "harmful" or "other".
 */
const char *message_failure_code(const char *reason);

/* The day (midnight UTC) of Unix time t: what a cleared row keeps. */
int64_t message_day(int64_t t);

/* The receipt's word for a state: "uploading", "received", "processing",
 * "in_review", "approved", "not_published", "failed" or "withdrawn". */
const char *message_public_status(const struct message_receipt *r);

#endif
