#include "chorus/message.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chorus/audit.h"
#include "chorus/campaign.h"
#include "chorus/claim.h"
#include "chorus/db.h"
#include "chorus/log.h"
#include "chorus/meta.h"
#include "chorus/queue.h"

#define BIT(s) (1u << (s))
#define ANY_STATE (BIT(MSG__STATES) - 1u)

static const char *const state_names[MSG__STATES] = {
    [MSG_UPLOADING] = "uploading", [MSG_PROCESSING] = "processing",
    [MSG_PENDING] = "pending",     [MSG_APPROVED] = "approved",
    [MSG_REJECTED] = "rejected",   [MSG_FAILED] = "failed",
    [MSG_WITHDRAWN] = "withdrawn",
};

const char *message_state_name(enum msg_state s)
{
    return s >= 0 && s < MSG__STATES ? state_names[s] : NULL;
}

int message_state_parse(const char *name)
{
    for (int i = 0; name != NULL && i < MSG__STATES; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

/* ---- the effects: the statements of each event -------------------------
 * Each runs inside the event's transaction with the state just read
 * (from) as its compare-and-swap, and returns 0, or a DB_* code < 0
 * (DB_DONE never: a row that did not change is a failure here). */

struct effect_ctx {
    struct db *db;
    const char *id;
    const struct msg_actor *who;
    const struct msg_args *args;
    enum msg_state from, to;
    int64_t now;
    bool files_deleted; /* the row says its files were deleted */
};

int64_t message_day(int64_t t)
{
    return t - (t % 86400 + 86400) % 86400;
}

/* Maps a DB_* failure to a message_apply() one. */
static int db_failure(int rc)
{
    return rc == DB_BUSY ? MSG_BUSY : MSG_ERROR;
}

/* Steps st and checks that it changed exactly one row. */
static int step_one(struct effect_ctx *c, struct db_stmt *st)
{
    int rc = db_step(st);

    if (rc < 0)
        return rc;
    return db_changes(c->db) == 1 ? 0 : DB_ERROR;
}

/* The statement with the usual first binds: ?1 id, ?2 to, ?3 from. */
static struct db_stmt *cas_stmt(struct effect_ctx *c, enum stmt which)
{
    struct db_stmt *st = db_stmt(c->db, which);

    if (st == NULL)
        return NULL;
    db_bind_text(st, 1, c->id);
    db_bind_text(st, 2, message_state_name(c->to));
    db_bind_text(st, 3, message_state_name(c->from));
    return st;
}

static int effect_upload_finished(struct effect_ctx *c)
{
    struct db_stmt *st = cas_stmt(c, STMT_MSG_UPLOAD_FINISHED);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 4, c->now);
    if ((rc = step_one(c, st)) < 0)
        return rc;
    return queue_enqueue(c->db, c->id);
}

static int effect_delete(struct effect_ctx *c)
{
    struct db_stmt *st = db_stmt(c->db, STMT_MSG_DELETE);

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, c->id);
    db_bind_text(st, 2, message_state_name(c->from));
    return step_one(c, st);
}

static int effect_job_done(struct effect_ctx *c)
{
    const struct job_facts *f = c->args->facts;
    struct db_stmt *st = cas_stmt(c, STMT_MSG_PROCESSED);

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 4, f->duration_ms);
    db_bind_int(st, 5, f->width);
    db_bind_int(st, 6, f->height);
    db_bind_int(st, 7, f->has_audio);
    db_bind_int(st, 8, f->video_bytes);
    db_bind_text(st, 9, f->json);
    db_bind_int(st, 10, c->now);
    db_bind_int(st, 11, f->check_protection);
    return step_one(c, st);
}

static int effect_job_failed(struct effect_ctx *c)
{
    struct db_stmt *st = cas_stmt(c, STMT_MSG_FAILED);

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 4, c->args->reason);
    db_bind_int(st, 5, c->now);
    return step_one(c, st);
}

static int effect_retry(struct effect_ctx *c)
{
    struct db_stmt *st = cas_stmt(c, STMT_MSG_RETRY);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 4, c->now);
    if ((rc = step_one(c, st)) < 0)
        return rc;
    return queue_enqueue(c->db, c->id);
}

static int effect_decide(struct effect_ctx *c)
{
    struct db_stmt *st = cas_stmt(c, STMT_MSG_DECIDE);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 4, c->who->user_id);
    db_bind_int(st, 5, c->now);
    db_bind_text(st, 6, c->args->reason);
    db_bind_text(st, 7, c->args->code);
    if ((rc = step_one(c, st)) < 0)
        return rc;
    /* Decided: nobody is reviewing it any more. */
    return claim_drop(c->db, c->id);
}

static int effect_reopen(struct effect_ctx *c)
{
    struct db_stmt *st = cas_stmt(c, STMT_MSG_REOPEN);

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 4, c->now);
    return step_one(c, st);
}

/* A withdrawn or purged message's transcripts go with its text (its
 * versions' files go with its other files). */
static int delete_transcripts(struct effect_ctx *c)
{
    struct db_stmt *st = db_stmt(c->db, STMT_TRANSCRIPTS_DELETE);

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, c->id);
    return db_step(st) < 0 ? DB_ERROR : 0;
}

/* The message's objects in the bucket must go too: recorded here, in the
 * transaction that deletes its files, and deleted by the sweep
 * (objstore.h), which tries again until the store agrees. */
static int doom_objects(struct effect_ctx *c)
{
    struct db_stmt *st = db_stmt(c->db, STMT_OBJDEL_ADD);

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, c->id);
    db_bind_int(st, 2, c->now);
    return db_step(st) < 0 ? DB_ERROR : 0;
}

static int effect_withdraw(struct effect_ctx *c)
{
    struct db_stmt *st = cas_stmt(c, STMT_MSG_WITHDRAW);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 4, message_day(c->now));
    if ((rc = step_one(c, st)) < 0 || (rc = claim_drop(c->db, c->id)) < 0 ||
        (rc = delete_transcripts(c)) < 0 || (rc = doom_objects(c)) < 0)
        return rc;
    return queue_cancel_tx(c->db, c->id, "withdrawn");
}

static int effect_purge(struct effect_ctx *c)
{
    struct db_stmt *st = cas_stmt(c, STMT_MSG_PURGE);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 4, message_day(c->now));
    if ((rc = step_one(c, st)) < 0 || (rc = delete_transcripts(c)) < 0 ||
        (rc = doom_objects(c)) < 0)
        return rc;
    return queue_cancel_tx(c->db, c->id, "purged");
}

/* The row says so, then the files go (on_owned) while the transaction
 * holds the database: nobody re-opens or retries it meanwhile. */
static int effect_files_deleted(struct effect_ctx *c)
{
    const struct msg_args *a = c->args;
    struct db_stmt *st = cas_stmt(c, STMT_MSG_MEDIA_DELETED);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_int(st, 4, c->now);
    db_bind_text(st, 5, c->who->who == WHO_ADMIN ? "admin" : "retention");
    if ((rc = step_one(c, st)) < 0 || (rc = doom_objects(c)) < 0)
        return rc;
    return a->on_owned != NULL && a->on_owned(a->opaque) != 0 ? DB_ERROR : 0;
}

/* One post (marked by the guard), or the whole clip: every post left,
 * and, once withdrawn, the clip itself (one exported but never marked
 * as reshared): its take-down is done. An approved clip stays one to
 * post: a post made after is a post to take down at its withdrawal. */
static int effect_taken_down(struct effect_ctx *c)
{
    struct db_stmt *st;
    int rc;

    if (c->args->reshare_id > 0)
        return 0;
    if ((st = db_stmt(c->db, STMT_TAKEDOWN_ALL)) == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, c->id);
    db_bind_int(st, 3, c->now);
    db_bind_int(st, 4, c->who->user_id);
    if ((rc = db_step(st)) < 0)
        return rc;
    if (c->from != MSG_WITHDRAWN)
        return 0;
    if ((st = db_stmt(c->db, STMT_TAKEDOWN_DONE)) == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, c->id);
    db_bind_int(st, 2, c->now);
    return step_one(c, st);
}

static int effect_reshared(struct effect_ctx *c)
{
    struct db_stmt *st = db_stmt(c->db, STMT_RESHARE_INSERT);

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, c->id);
    db_bind_text(st, 2, c->args->channel);
    db_bind_text(st, 3, c->args->url);
    db_bind_int(st, 4, c->who->user_id);
    db_bind_int(st, 5, c->now);
    return step_one(c, st);
}

/* ---- the guards: what the state alone cannot tell ----------------------
 * Each returns MSG_OK to go on, or a message_apply() failure. */

/* A job event: the caller still holds the job's lease (or, for the
 * queue's own failure of a poison job, its lease expired). */
static int guard_job_done(struct effect_ctx *c)
{
    const struct msg_args *a = c->args;
    int rc;

    if (a->job == NULL || a->facts == NULL || a->worker == NULL)
        return MSG_ERROR;
    rc = queue_job_done_tx(c->db, a->job, a->worker, a->facts->seconds);
    if (rc <= 0)
        return rc == 0 ? MSG_LOST : MSG_ERROR;
    /* Ours: the outputs get their names while the lease is held. */
    if (a->on_owned != NULL && a->on_owned(a->opaque) != 0)
        return MSG_ERROR;
    return MSG_OK;
}

static int guard_job_failed(struct effect_ctx *c)
{
    const struct msg_args *a = c->args;
    int rc;

    if (a->job == NULL || a->reason == NULL)
        return MSG_ERROR;
    rc = queue_job_failed_tx(c->db, a->job, a->worker, a->reason);
    return rc == 1 ? MSG_OK : rc == 0 ? MSG_LOST : MSG_ERROR;
}

/* A rejection says why, and its code is one we know (or none). */
static int guard_reason(struct effect_ctx *c)
{
    const char *r = c->args->reason, *code = c->args->code;

    if (code != NULL && strcmp(code, MESSAGE_CODE_PROTECTION_FAILED) != 0)
        return MSG_ERROR;
    return r != NULL && r[strspn(r, " \t\r\n")] != '\0' ? MSG_OK : MSG_ERROR;
}

/* A moderator decides only what nobody else is reviewing; an admin's
 * decision never waits for a claim (claim.h). */
static int guard_claim(struct effect_ctx *c)
{
    struct claim held;
    int rc;

    if (c->who->who == WHO_ADMIN)
        return MSG_OK;
    rc = claim_holder(c->db, c->id, c->now, &held);
    if (rc < 0)
        return db_failure(rc);
    return rc == 1 && held.user_id != c->who->user_id ? MSG_CLAIMED : MSG_OK;
}

/* A rejection: its reason, and the claim as for an approval. */
static int guard_reject(struct effect_ctx *c)
{
    int rc = guard_reason(c);

    return rc == MSG_OK ? guard_claim(c) : rc;
}

static int guard_channel(struct effect_ctx *c)
{
    return c->args->channel != NULL ? MSG_OK : MSG_ERROR;
}

/* Retrying, re-opening or deleting again needs the files. */
static int guard_files(struct effect_ctx *c)
{
    return c->files_deleted ? MSG_NO_FILES : MSG_OK;
}

/* A post of this clip not yet marked: marked now (the compare-and-swap
 * is the row's taken_down_at). */
static int guard_post(struct effect_ctx *c)
{
    struct db_stmt *st;

    if (c->args->reshare_id <= 0)
        return MSG_OK;
    if ((st = db_stmt(c->db, STMT_TAKEDOWN_ONE)) == NULL)
        return MSG_ERROR;
    db_bind_text(st, 1, c->id);
    db_bind_int(st, 2, c->args->reshare_id);
    db_bind_int(st, 3, c->now);
    db_bind_int(st, 4, c->who->user_id);
    if (db_step(st) < 0)
        return MSG_ERROR;
    return db_changes(c->db) == 1 ? MSG_OK : MSG_NOT_FOUND;
}

/* ---- the table --------------------------------------------------------- */

#define PANEL_DECIDERS (WHO_MODERATOR | WHO_ADMIN)

/* Whether args->reason goes into the audit row: only words the server
 * chose, never a moderator's (they may quote the contributor, and the
 * log outlives a withdrawal). */
enum { WORDS_KEPT_OFF, WORDS_AUDITED };

static const struct transition {
    enum msg_event event;
    const char *verb; /* "it cannot be <verb>" */
    unsigned from;    /* bits of enum msg_state */
    enum msg_state to;
    unsigned who; /* bits of enum msg_who */
    const char *audit;
    int (*guard)(struct effect_ctx *c);
    int (*effect)(struct effect_ctx *c);
    int words;
} transitions[] = {
    {EV_UPLOAD_FINISHED, "finished", BIT(MSG_UPLOADING), MSG_PROCESSING,
     WHO_CONTRIBUTOR, NULL, NULL, effect_upload_finished, WORDS_KEPT_OFF},
    {EV_UPLOAD_EXPIRED, "expired", BIT(MSG_UPLOADING), MSG_GONE, WHO_SWEEP,
     NULL, NULL, effect_delete, WORDS_KEPT_OFF},
    {EV_UPLOAD_TERMINATED, "terminated", BIT(MSG_UPLOADING), MSG_GONE,
     WHO_CONTRIBUTOR, NULL, NULL, effect_delete, WORDS_KEPT_OFF},
    {EV_JOB_DONE, "processed", BIT(MSG_PROCESSING), MSG_PENDING, WHO_WORKER,
     NULL, guard_job_done, effect_job_done, WORDS_KEPT_OFF},
    {EV_JOB_FAILED, "failed", BIT(MSG_PROCESSING), MSG_FAILED, WHO_WORKER, NULL,
     guard_job_failed, effect_job_failed, WORDS_KEPT_OFF},
    {EV_RETRY, "retried", BIT(MSG_FAILED), MSG_PROCESSING, WHO_ADMIN,
     "message.retry", guard_files, effect_retry, WORDS_KEPT_OFF},
    {EV_APPROVE, "approved", BIT(MSG_PENDING), MSG_APPROVED, PANEL_DECIDERS,
     "message.approve", guard_claim, effect_decide, WORDS_KEPT_OFF},
    {EV_REJECT, "rejected", BIT(MSG_PENDING), MSG_REJECTED, PANEL_DECIDERS,
     "message.reject", guard_reject, effect_decide, WORDS_KEPT_OFF},
    {EV_REOPEN, "re-opened", BIT(MSG_APPROVED) | BIT(MSG_REJECTED), MSG_PENDING,
     WHO_ADMIN, "message.reopen", guard_files, effect_reopen, WORDS_KEPT_OFF},
    {EV_WITHDRAW, "withdrawn", ANY_STATE & ~BIT(MSG_WITHDRAWN), MSG_WITHDRAWN,
     WHO_CONTRIBUTOR | WHO_OPERATOR, "message.withdraw", NULL, effect_withdraw,
     WORDS_KEPT_OFF},
    {EV_RESHARED, "marked reshared", BIT(MSG_APPROVED), MSG_APPROVED,
     WHO_COMMS | WHO_ADMIN, "message.reshared", guard_channel, effect_reshared,
     WORDS_AUDITED},
    {EV_TAKEN_DOWN, "marked taken down", BIT(MSG_APPROVED) | BIT(MSG_WITHDRAWN),
     MSG_STAY, WHO_COMMS | WHO_ADMIN, "message.taken_down", guard_post,
     effect_taken_down, WORDS_AUDITED},
    {EV_DELETE_FILES, "deleted", BIT(MSG_FAILED) | BIT(MSG_REJECTED), MSG_STAY,
     WHO_SWEEP | WHO_ADMIN, "message.files_deleted", guard_files,
     effect_files_deleted, WORDS_AUDITED},
    {EV_PURGE, "purged",
     BIT(MSG_APPROVED) | BIT(MSG_REJECTED) | BIT(MSG_FAILED) |
         BIT(MSG_WITHDRAWN),
     MSG_STAY, WHO_OPERATOR, NULL, NULL, effect_purge, WORDS_KEPT_OFF},
};

static const struct transition *transition_of(enum msg_event ev)
{
    for (size_t i = 0; i < ARRAY_LEN(transitions); i++)
        if (transitions[i].event == ev)
            return &transitions[i];
    return NULL;
}

const char *message_event_verb(enum msg_event ev)
{
    const struct transition *t = transition_of(ev);

    return t != NULL ? t->verb : "changed";
}

enum msg_state message_event_to(enum msg_event ev)
{
    const struct transition *t = transition_of(ev);

    return t != NULL ? t->to : MSG_GONE;
}

bool message_allows(enum msg_state s, enum msg_event ev, enum msg_who who)
{
    const struct transition *t = transition_of(ev);

    return t != NULL && s >= 0 && s < MSG__STATES && (t->from & BIT(s)) &&
           (t->who & (unsigned)who) != 0;
}

/* The audit row's reason: where a clip was reshared, or the server's own
 * words; never the contributor's, nor a moderator's free text. */
static const char *audit_reason(const struct transition *t,
                                const struct effect_ctx *c, char *buf,
                                size_t len)
{
    const struct msg_args *a = c->args;

    if (t->words != WORDS_AUDITED)
        return NULL;
    if (a->channel != NULL) {
        snprintf(buf, len, "%s%s%s", a->channel, a->url != NULL ? " " : "",
                 a->url != NULL ? a->url : "");
        return buf;
    }
    return a->reason != NULL && a->reason[0] != '\0' ? a->reason : NULL;
}

int message_apply_tx(struct db *db, const char *id, enum msg_event ev,
                     const struct msg_actor *who, const struct msg_args *args,
                     enum msg_state *from)
{
    static const struct msg_args none;
    const struct transition *t = transition_of(ev);
    struct effect_ctx c = {
        db,       id,       who,        args != NULL ? args : &none,
        MSG_GONE, MSG_GONE, util_now(), false};
    struct db_stmt *st;
    char why[2200];
    int64_t campaign;
    int rc, state;

    if (t == NULL || who == NULL)
        return MSG_ERROR;
    if ((st = db_stmt(db, STMT_MSG_STATE)) == NULL)
        return MSG_ERROR;
    db_bind_text(st, 1, id);
    rc = db_step(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? MSG_NOT_FOUND : db_failure(rc);
    state = message_state_parse(db_col_text(st, 0));
    c.files_deleted = !db_col_is_null(st, 1);
    campaign = db_col_int(st, 2);
    db_reset(st);
    if (state < 0) {
        log_warnx("message %s: unknown state in the database", id);
        return MSG_ERROR;
    }
    /* Outside the actor's campaigns it does not exist for them. */
    if (!message_scope_has(c.args->scope, campaign))
        return MSG_NOT_FOUND;
    c.from = (enum msg_state)state;
    c.to = t->to == MSG_STAY ? c.from : t->to;
    if (from != NULL)
        *from = c.from;
    if (!(t->from & BIT(c.from)))
        return MSG_REFUSED;
    if (!(t->who & (unsigned)who->who))
        return MSG_FORBIDDEN;
    if (t->guard != NULL && (rc = t->guard(&c)) != MSG_OK)
        return rc;
    if ((rc = t->effect(&c)) < 0)
        return db_failure(rc);
    if (t->audit != NULL &&
        (rc = audit_append(db, who->name, t->audit, id,
                           audit_reason(t, &c, why, sizeof(why)))) < 0)
        return db_failure(rc);
    return MSG_OK;
}

int message_apply(struct db *db, const char *id, enum msg_event ev,
                  const struct msg_actor *who, const struct msg_args *args,
                  enum msg_state *from)
{
    int rc;

    if ((rc = db_begin(db)) < 0)
        return db_failure(rc);
    rc = message_apply_tx(db, id, ev, who, args, from);
    if (rc == MSG_OK) {
        int commit = db_commit(db);
        if (commit < 0)
            rc = db_failure(commit);
    }
    db_rollback(db);
    return rc;
}

enum msg_who message_who_of_role(enum role role)
{
    switch (role) {
    case ROLE_ADMIN:
        return WHO_ADMIN;
    case ROLE_MODERATOR:
        return WHO_MODERATOR;
    case ROLE_COMMS:
        return WHO_COMMS;
    case ROLE_NONE:
        break;
    }
    return WHO_NOBODY;
}

/*
 * Moderators and admins see every message, and the media of those that
 * have any to review or to have reviewed; the comms team sees approved
 * clips with their media, and withdrawn rows (posts to take down, their
 * personal fields already cleared), nothing else.
 */
enum msg_sight message_sight(enum role role, enum msg_state s)
{
    if (s < 0 || s >= MSG__STATES)
        return SIGHT_NONE;
    switch (role) {
    case ROLE_ADMIN:
    case ROLE_MODERATOR:
        return s == MSG_PENDING || s == MSG_APPROVED || s == MSG_REJECTED
                   ? SIGHT_MEDIA
                   : SIGHT_ROW;
    case ROLE_COMMS:
        return s == MSG_APPROVED    ? SIGHT_MEDIA
               : s == MSG_WITHDRAWN ? SIGHT_ROW
                                    : SIGHT_NONE;
    case ROLE_NONE:
        break;
    }
    return SIGHT_NONE;
}

bool message_sight_all(enum role role)
{
    for (int s = 0; s < MSG__STATES; s++)
        if (message_sight(role, (enum msg_state)s) == SIGHT_NONE)
            return false;
    return true;
}

bool message_scope_has(const char *scope, int64_t campaign_id)
{
    char needle[24];

    if (scope == NULL || scope[0] == '\0')
        return true;
    snprintf(needle, sizeof(needle), ",%lld,", (long long)campaign_id);
    return strstr(scope, needle) != NULL;
}

enum msg_sight message_sight_in(enum role role, const char *scope,
                                enum msg_state s, int64_t campaign_id)
{
    if (role != ROLE_ADMIN && !message_scope_has(scope, campaign_id))
        return SIGHT_NONE;
    return message_sight(role, s);
}

enum msg_state message_default_list(enum role role)
{
    return role == ROLE_COMMS ? MSG_APPROVED : MSG_PENDING;
}

/* ---- uploads ----------------------------------------------------------- */

void message_token_hash(const char *token, unsigned char out[MESSAGE_HASH_LEN])
{
    crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

/* NULL for an empty optional field, so "not given" stays NULL. */
static const char *opt(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

int message_create(struct db *db, const char *id,
                   const struct message_meta *meta,
                   const unsigned char receipt_hash[MESSAGE_HASH_LEN],
                   int64_t length, int64_t offset, int64_t expires_at,
                   bool complete)
{
    static const struct msg_actor contributor = {WHO_CONTRIBUTOR, "contributor",
                                                 0};
    struct db_stmt *st;
    int64_t now = util_now();
    char protect[META_PROTECT_LEN];
    int rc;

    meta_protect_names(meta->protect, protect);
    if ((rc = db_begin(db)) < 0)
        return rc;
    if ((st = db_stmt(db, STMT_MESSAGE_INSERT)) == NULL) {
        rc = DB_ERROR;
        goto out;
    }
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, message_state_name(MSG_UPLOADING));
    db_bind_blob(st, 3, receipt_hash, MESSAGE_HASH_LEN);
    db_bind_text(st, 4, opt(meta->name));
    db_bind_text(st, 5, opt(meta->organization));
    db_bind_text(st, 6, opt(meta->country));
    db_bind_text(st, 7, meta->language);
    db_bind_text(st, 8, opt(meta->message));
    db_bind_text(st, 9, opt(meta->filetype));
    db_bind_text(st, 10, meta->consent_version);
    db_bind_text(st, 11, meta->consent_scope);
    db_bind_int(st, 12, now);
    db_bind_int(st, 13, length);
    db_bind_int(st, 14, offset);
    db_bind_int(st, 15, expires_at);
    db_bind_null(st, 16);
    db_bind_int(st, 17,
                meta->campaign_id > 0 ? meta->campaign_id
                                      : CAMPAIGN_DEFAULT_ID);
    db_bind_text(st, 18, opt(meta->consent_language));
    db_bind_text(st, 19, opt(protect));
    if ((rc = db_step(st)) < 0)
        goto out;
    /* Whole at once: its last byte in the same transaction, through the
     * table like any other. */
    if (complete) {
        rc = message_apply_tx(db, id, EV_UPLOAD_FINISHED, &contributor, NULL,
                              NULL);
        if (rc != MSG_OK) {
            rc = rc == MSG_BUSY ? DB_BUSY : DB_ERROR;
            goto out;
        }
    }
    rc = db_commit(db);
out:
    db_rollback(db);
    return rc < 0 ? rc : 0;
}

int message_upload_get(struct db *db, const char *id,
                       struct message_upload *out)
{
    struct db_stmt *st = db_stmt(db, STMT_UPLOAD_GET);
    int rc, state;

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, id);
    rc = db_step(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : -1;
    state = message_state_parse(db_col_text(st, 0));
    out->state = state >= 0 ? (enum msg_state)state : MSG_GONE;
    out->length = db_col_int(st, 1);
    out->offset = db_col_int(st, 2);
    out->expires_at = db_col_is_null(st, 3) ? 0 : db_col_int(st, 3);
    db_reset(st);
    return state >= 0 ? 1 : -1;
}

int message_upload_progress(struct db *db, const char *id, int64_t offset,
                            int64_t expires_at)
{
    struct db_stmt *st = db_stmt(db, STMT_UPLOAD_PROGRESS);

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_int(st, 2, offset);
    db_bind_int(st, 3, expires_at);
    db_bind_int(st, 4, util_now());
    if (db_step(st) < 0)
        return -1;
    return db_changes(db) > 0 ? 1 : 0;
}

/* Copies a nullable text column into out. */
static void col_copy(struct db_stmt *st, int i, char *out, size_t len)
{
    const char *s = db_col_text(st, i);

    snprintf(out, len, "%s", s != NULL ? s : "");
}

static int64_t col_time(struct db_stmt *st, int i)
{
    return db_col_is_null(st, i) ? 0 : db_col_int(st, i);
}

int message_by_receipt(struct db *db,
                       const unsigned char hash[MESSAGE_HASH_LEN],
                       struct message_receipt *out)
{
    struct db_stmt *st = db_stmt(db, STMT_RECEIPT_GET);
    int rc, state;

    if (st == NULL)
        return -1;
    db_bind_blob(st, 1, hash, MESSAGE_HASH_LEN);
    rc = db_step(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : -1;
    col_copy(st, 0, out->id, sizeof(out->id));
    state = message_state_parse(db_col_text(st, 1));
    out->state = state >= 0 ? (enum msg_state)state : MSG_GONE;
    col_copy(st, 2, out->consent_scope, sizeof(out->consent_scope));
    out->created_at = col_time(st, 3);
    out->received_at = col_time(st, 4);
    out->decided_at = col_time(st, 5);
    out->withdrawn_at = col_time(st, 6);
    col_copy(st, 7, out->job_state, sizeof(out->job_state));
    snprintf(out->failure, sizeof(out->failure), "%s",
             state == MSG_FAILED ? message_failure_code(db_col_text(st, 8))
                                 : "");
    col_copy(st, 9, out->protect, sizeof(out->protect));
    col_copy(st, 10, out->decision_code, sizeof(out->decision_code));
    db_reset(st);
    return state >= 0 ? 1 : -1;
}

/*
 * The worker's reasons (transcode.c, worker.c, queue.c) by their words;
 * a reason none of these match is "other", which the page words in
 * general terms.
 */
const char *message_failure_code(const char *reason)
{
    static const struct {
        const char *words, *code;
    } codes[] = {
        {"not a video", "not_video"},
        {"are not accepted", "not_video"},
        {"has no video", "not_video"},
        {"only a still picture", "not_video"},
        {"the file is empty", "not_video"},
        {"s long; the limit", "too_long"},
        {"longer than the limit", "too_long"},
        {"too many frames", "damaged"},
        {"too many packets", "damaged"},
        {"damaged", "damaged"},
        {"cannot read the file", "damaged"},
        {"no video frame", "damaged"},
        {"reads differently", "damaged"},
        {"frame size is unknown", "damaged"},
        {"video codec", "unsupported"},
        {"streams; at most", "unsupported"},
        {"pixels; the largest", "too_large"},
        {"may be harmful", "harmful"},
        {"harmful file", "harmful"},
    };

    for (size_t i = 0; reason != NULL && i < ARRAY_LEN(codes); i++)
        if (strstr(reason, codes[i].words) != NULL)
            return codes[i].code;
    return "other";
}

const char *message_public_status(const struct message_receipt *r)
{
    static const char *const words[MSG__STATES] = {
        [MSG_UPLOADING] = "uploading",    [MSG_PROCESSING] = "received",
        [MSG_PENDING] = "in_review",      [MSG_APPROVED] = "approved",
        [MSG_REJECTED] = "not_published", [MSG_FAILED] = "failed",
        [MSG_WITHDRAWN] = "withdrawn",
    };

    if (r->state == MSG_PROCESSING && strcmp(r->job_state, "running") == 0)
        return "processing";
    return r->state >= 0 && r->state < MSG__STATES ? words[r->state]
                                                   : "received";
}
