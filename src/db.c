#include "chorus/db.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "chorus/log.h"
#include "chorus/util.h"

#define BUSY_TIMEOUT_MS 10000

struct db {
    sqlite3 *h;
    sqlite3_stmt *stmts[STMT__COUNT];
    /* db_after_commit(): one call deferred to the next commit. */
    void (*after_fn)(struct db *db, const void *data);
    unsigned char after_data[DB_AFTER_COMMIT_MAX];
    bool writer; /* lent by db_pool_get_writer(): holds the writer's turn */
};

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    struct db **free;    /* stack of idle handles */
    int nfree, size;
    int wait_ms;
    /* One writer at a time takes a handle (SQLite lets one write). */
    bool writing;
    pthread_cond_t writer_cond;
};

/*
 * The review queue and the library. Optional filters: ?1 a status (NULL:
 * every state), ?2 country, ?3 language, ?5/?6 dates, ?7 scope, ?8
 * reshared, ?12 a withdrawn clip with something left to take down: a
 * post not marked taken down, or an export never marked done; ?13
 * exported or reshared at all; ?14 its files not deleted; ?15 campaign
 * id; ?16 the user's campaigns as message_scope_has() reads them; ?17
 * now (claims that have not expired). Three shapes share them, each with
 * the plan it needs (an optional "?1 IS NULL OR" would hide the status
 * index from SQLite's planner):
 *   MSG_LIST_ASC/DESC: one status (?1), by the status index, a keyset
 *     page after or before (?9 created_at, ?10 id) of ?11 rows;
 *   MSG_LIST_ALL_ASC/DESC: ?1 NULL, by messages_created, the same keyset;
 *   MSG_SEARCH_ASC/DESC: ?4 an FTS5 MATCH expression (search.c builds it)
 *     drives the query: the index's matches in rowid order (the order the
 *     messages arrived in), each looked up by rowid and filtered, a page
 *     after or before rowid ?9, so a page costs about its own rows
 *     whatever the word's frequency (docs/benchmarks.md).
 * A transcode's progress and the posts left to take down are looked up
 * only for the states that can have them (processing, withdrawn).
 */
#define MSG_LIST_COLUMNS                                                       \
    "SELECT m.id, m.status, m.name, m.organization, m.country,"                \
    " m.language, m.message, m.consent_scope, m.consent_version,"              \
    " m.created_at, m.received_at, m.duration_ms, m.width, m.height,"          \
    " m.has_audio, m.decided_at, m.failure_reason,"                            \
    " (SELECT count(*) FROM reshares r WHERE r.message_id = m.id),"            \
    " CASE WHEN m.status = 'processing' THEN"                                  \
    " (SELECT j.progress FROM jobs j WHERE j.message_id = m.id"                \
    "  AND j.kind = 'transcode' AND j.state IN ('queued', 'running')"          \
    "  LIMIT 1) END,"                                                          \
    " m.withdrawn_at, m.exported_at, m.media_deleted_at, m.media_deleted_why," \
    " CASE WHEN m.status = 'withdrawn' THEN"                                   \
    " (SELECT count(*) FROM reshares r WHERE r.message_id = m.id"              \
    "  AND r.taken_down_at IS NULL) END, m.takedown_at, m.campaign_id,"        \
    " (SELECT c.slug FROM campaigns c WHERE c.id = m.campaign_id),"            \
    " m.protect, m.check_protection, m.rowid, cu.username, cl.until"

/* A claim that has not expired, and who holds it. */
#define MSG_LIST_CLAIM                                                         \
    " LEFT JOIN message_claims cl ON cl.message_id = m.id AND cl.until > ?17"  \
    " LEFT JOIN users cu ON cu.id = cl.user_id"

#define MSG_LIST_FILTERS                                                       \
    " AND (?2 IS NULL OR m.country = ?2)"                                      \
    " AND (?3 IS NULL OR m.language = ?3)"                                     \
    " AND (?5 IS NULL OR m.created_at >= ?5)"                                  \
    " AND (?6 IS NULL OR m.created_at < ?6)"                                   \
    " AND (?7 IS NULL OR m.consent_scope = ?7)"                                \
    " AND (?8 IS NULL OR ?8 = EXISTS (SELECT 1 FROM reshares r"                \
    "  WHERE r.message_id = m.id))"                                            \
    " AND (?12 IS NULL OR (m.takedown_at IS NULL AND (EXISTS"                  \
    "  (SELECT 1 FROM reshares r WHERE r.message_id = m.id"                    \
    "   AND r.taken_down_at IS NULL) OR (m.exported_at IS NOT NULL"            \
    "  AND NOT EXISTS (SELECT 1 FROM reshares r WHERE r.message_id = "         \
    "m.id)))))"                                                                \
    " AND (?13 IS NULL OR m.exported_at IS NOT NULL OR EXISTS"                 \
    "  (SELECT 1 FROM reshares r WHERE r.message_id = m.id))"                  \
    " AND (?14 IS NULL OR m.media_deleted_at IS NULL)"                         \
    " AND (?15 IS NULL OR m.campaign_id = ?15)"                                \
    " AND (?16 IS NULL OR instr(?16, ',' || m.campaign_id || ',') > 0)"

/* "+?1", not "?1": compared with a bare parameter, the partial index
 * messages_upload_expiry (WHERE status = 'uploading') makes SQLite plan
 * the statement again for each value bound, at every run (test_db.c). */
#define MSG_LIST                                                               \
    MSG_LIST_COLUMNS " FROM messages m" MSG_LIST_CLAIM                         \
                     " WHERE m.status = +?1" MSG_LIST_FILTERS

#define MSG_LIST_ALL                                                           \
    MSG_LIST_COLUMNS " FROM messages m" MSG_LIST_CLAIM                         \
                     " WHERE ?1 IS NULL" MSG_LIST_FILTERS

/* CROSS JOIN: SQLite keeps the index as the outer loop. */
#define MSG_SEARCH                                                             \
    MSG_LIST_COLUMNS " FROM message_search s CROSS JOIN messages m"            \
                     " ON m.rowid = s.rowid" MSG_LIST_CLAIM                    \
                     " WHERE message_search MATCH ?4"                          \
                     " AND (?1 IS NULL OR m.status = ?1)" MSG_LIST_FILTERS

/* A campaign's row, as campaign.c reads it. */
#define CAMPAIGN_COLUMNS                                                       \
    "SELECT id, slug, languages, consent_version, consent_seq, opens_at,"      \
    " closes_at, hashtag, credit_template, accent_color, logo_at, adopted,"    \
    " created_at, updated_at FROM campaigns"

/* Every statement Chorus runs, by enum stmt. Positional binds only. */
static const char *const sql_text[STMT__COUNT] = {
    [STMT_PING] = "SELECT 1",
    [STMT_USER_INSERT] =
        "INSERT INTO users (username, password_hash, role, created_at,"
        " updated_at, name_key) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
    /* ?1 is the name case-folded (fold.c): name_key. */
    [STMT_USER_BY_NAME] = "SELECT id, username, password_hash, role, disabled"
                          " FROM users WHERE name_key = ?1",
    [STMT_USER_LIST] = "SELECT id, username, role, disabled, created_at"
                       " FROM users ORDER BY username",
    [STMT_USER_COUNT] = "SELECT count(*) FROM users",
    [STMT_USER_SET_PASSWORD] =
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
    [STMT_AUDIT_LAST] = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
    /* The id is the chain's: the last one plus one, under BEGIN IMMEDIATE. */
    [STMT_AUDIT_INSERT] =
        "INSERT INTO audit (id, at, actor, action, target, reason, prev_hash,"
        " hash) VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [STMT_AUDIT_SCHEME_GET] = "SELECT scheme FROM audit_scheme WHERE id = 1",
    [STMT_AUDIT_SCHEME_SET] =
        "UPDATE audit_scheme SET scheme = ?1 WHERE id = 1",
    /* Re-chaining 0001's log (audit.c): the update trigger is lifted
     * inside the transaction that re-chains, and set again before it
     * commits. */
    [STMT_AUDIT_UNGUARD] = "DROP TRIGGER audit_no_update",
    [STMT_AUDIT_GUARD] = "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
                         " BEGIN SELECT RAISE(ABORT, 'the audit log is"
                         " append-only'); END",
    [STMT_AUDIT_REHASH] =
        "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
    /* A page of the log after row ?1, ?2 rows. */
    [STMT_AUDIT_ALL] = "SELECT id, at, actor, action, target, reason,"
                       " prev_hash, hash FROM audit WHERE id > ?1"
                       " ORDER BY id LIMIT ?2",
    [STMT_MESSAGE_INSERT] =
        "INSERT INTO messages (id, status, receipt_hash, name, organization,"
        " country, language, message, filetype, consent_version,"
        " consent_scope, consent_at, upload_length, upload_offset,"
        " upload_expires_at, created_at, updated_at, received_at,"
        " campaign_id, consent_language, protect)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
        " ?14, ?15, ?12, ?12, ?16, ?17, ?18, ?19)",
    [STMT_UPLOAD_GET] = "SELECT status, upload_length, upload_offset,"
                        " upload_expires_at FROM messages WHERE id = ?1",
    [STMT_UPLOAD_PROGRESS] =
        "UPDATE messages SET upload_offset = ?2, upload_expires_at = ?3,"
        " updated_at = ?4 WHERE id = ?1 AND status = 'uploading'",
    [STMT_MSG_STATE] = "SELECT status, media_deleted_at, campaign_id"
                       " FROM messages WHERE id = ?1",
    /* The state changes of message.c: ?1 id, ?2 the new state, ?3 the
     * state it was read in (the compare-and-swap), then their own. */
    [STMT_MSG_UPLOAD_FINISHED] =
        "UPDATE messages SET status = ?2, upload_offset = upload_length,"
        " upload_expires_at = NULL, received_at = ?4, updated_at = ?4"
        " WHERE id = ?1 AND status = ?3",
    [STMT_MSG_DELETE] = "DELETE FROM messages WHERE id = ?1 AND status = ?2",
    [STMT_UPLOADS_EXPIRED] =
        "SELECT id FROM messages WHERE status = 'uploading'"
        " AND upload_expires_at < ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    [STMT_UPLOADS_OPEN] =
        "SELECT id, upload_length FROM messages WHERE status = 'uploading'",
    [STMT_RECEIPT_GET] =
        "SELECT m.id, m.status, m.consent_scope, m.created_at,"
        " m.received_at, m.decided_at, m.withdrawn_at,"
        " (SELECT j.state FROM jobs j WHERE j.message_id = m.id"
        "  AND j.kind = 'transcode' AND j.state IN ('queued', 'running')"
        "  LIMIT 1), m.failure_reason, m.protect, m.decision_code"
        " FROM messages m WHERE m.receipt_hash = ?1",
    /* DESIGN.md "Retention and withdrawal": the row keeps its id, status,
     * the day (?4) and its reshare rows (and the day it was exported, for
     * the take-down list); everything the contributor gave or that
     * describes the clip goes, the receipt's hash included (a receipt
     * found on a seized phone then leads nowhere). */
    [STMT_MSG_WITHDRAW] =
        "UPDATE messages SET status = ?2, receipt_hash = NULL, name = NULL,"
        " organization = NULL, country = NULL, language = NULL,"
        " message = NULL, filetype = NULL, consent_version = NULL,"
        " consent_scope = NULL, consent_at = NULL, upload_length = NULL,"
        " upload_offset = 0, upload_expires_at = NULL, received_at = NULL,"
        " duration_ms = NULL, width = NULL, height = NULL, has_audio = NULL,"
        " video_bytes = NULL, facts = NULL, failure_reason = NULL,"
        " decided_by = NULL, decided_at = NULL, decision_reason = NULL,"
        " consent_language = NULL, protect = NULL, check_protection = 0,"
        " decision_code = NULL,"
        " withdrawn_at = ?4, created_at = ?4, updated_at = ?4,"
        " exported_at = CASE WHEN exported_at IS NULL THEN NULL ELSE ?4 END"
        " WHERE id = ?1 AND status = ?3",
    /* chorus purge: the same clearing, the state kept (so the counts
     * remain), a decision's time kept as its day only. */
    [STMT_MSG_PURGE] =
        "UPDATE messages SET receipt_hash = NULL, name = NULL,"
        " organization = NULL, country = NULL, language = NULL,"
        " message = NULL, filetype = NULL, consent_version = NULL,"
        " consent_scope = NULL, consent_at = NULL, upload_length = NULL,"
        " upload_offset = 0, upload_expires_at = NULL, received_at = NULL,"
        " duration_ms = NULL, width = NULL, height = NULL, has_audio = NULL,"
        " video_bytes = NULL, facts = NULL, failure_reason = NULL,"
        " decided_by = NULL, decision_reason = NULL,"
        " consent_language = NULL, protect = NULL, check_protection = 0,"
        " decision_code = NULL,"
        " decided_at = CASE WHEN decided_at IS NULL THEN NULL ELSE ?4 END,"
        " withdrawn_at = CASE WHEN withdrawn_at IS NULL THEN NULL ELSE ?4 END,"
        " exported_at = CASE WHEN exported_at IS NULL THEN NULL ELSE ?4 END,"
        " created_at = ?4, updated_at = ?4, media_deleted_at = ?4,"
        " media_deleted_why = 'purge' WHERE id = ?1 AND status = ?3"
        " AND ?2 = ?3",
    /* Retention or an admin deleted the files; the row says so. */
    [STMT_MSG_MEDIA_DELETED] =
        "UPDATE messages SET media_deleted_at = ?4, media_deleted_why = ?5"
        " WHERE id = ?1 AND status = ?3 AND ?2 = ?3"
        " AND media_deleted_at IS NULL",
    /* Failed (?1) and rejected (?2) messages whose files are due. */
    [STMT_RETENTION_DUE] =
        "SELECT id, status FROM messages WHERE media_deleted_at IS NULL"
        " AND ((status = 'failed' AND updated_at <= ?1)"
        " OR (status = 'rejected' AND updated_at <= ?2)) LIMIT 100",
    /* The next messages of campaign ?1 (a slug; NULL: every campaign)
     * not yet purged. */
    [STMT_PURGE_NEXT] =
        "SELECT id, status FROM messages WHERE (?1 IS NULL OR campaign_id ="
        " (SELECT id FROM campaigns WHERE slug = ?1))"
        " AND media_deleted_why IS NOT 'purge' ORDER BY id LIMIT 50",
    [STMT_PURGE_KEEP] = "SELECT 1 FROM messages WHERE id = ?1"
                        " AND media_deleted_why IS NOT 'purge'",
    /* Take-down marks of a withdrawn clip's posts: ?1 message, ?2 the
     * reshare row, ?3 when, ?4 who. */
    [STMT_TAKEDOWN_ONE] =
        "UPDATE reshares SET taken_down_at = ?3, taken_down_by = ?4"
        " WHERE id = ?2 AND message_id = ?1 AND taken_down_at IS NULL",
    [STMT_TAKEDOWN_ALL] =
        "UPDATE reshares SET taken_down_at = ?3, taken_down_by = ?4"
        " WHERE message_id = ?1 AND taken_down_at IS NULL AND ?2 IS NULL",
    [STMT_TAKEDOWN_DONE] = "UPDATE messages SET takedown_at = ?2 WHERE id = ?1",
    [STMT_JOBS_CANCEL] =
        "UPDATE jobs SET state = 'failed', error = ?3, lease_until = NULL,"
        " updated_at = ?2 WHERE message_id = ?1"
        " AND state IN ('queued', 'running')",
    [STMT_JOB_ENQUEUE] =
        "INSERT INTO jobs (kind, message_id, target, args, state, run_after,"
        " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5,"
        " ?5)",
    [STMT_JOB_NEXT] =
        "SELECT id, message_id, attempts, state, kind, target, args FROM jobs"
        " WHERE (state = 'queued' AND run_after <= ?1)"
        " OR (state = 'running' AND lease_until < ?1) ORDER BY id LIMIT 1",
    [STMT_JOB_START] =
        "UPDATE jobs SET state = 'running', lease_until = ?2, worker = ?3,"
        " attempts = attempts + 1, progress = 0, updated_at = ?4,"
        " error = CASE WHEN state = 'running'"
        " THEN 'its worker stopped answering' ELSE error END WHERE id = ?1",
    /* A running job's lease is its worker and attempt (?1 id, ?2 worker,
     * ?3 attempt): every change by its holder is a compare-and-swap. */
    [STMT_JOB_HEARTBEAT] =
        "UPDATE jobs SET lease_until = ?4, progress = ?5, updated_at = ?6"
        " WHERE id = ?1 AND worker = ?2 AND attempts = ?3"
        " AND state = 'running'",
    [STMT_JOB_DONE] =
        "UPDATE jobs SET state = 'done', lease_until = NULL, progress = 1,"
        " error = NULL, updated_at = ?4, seconds = ?5"
        " WHERE id = ?1 AND worker = ?2 AND attempts = ?3"
        " AND state = 'running'",
    [STMT_JOB_RETRY] = "UPDATE jobs SET state = 'queued', lease_until = NULL,"
                       " run_after = ?4, error = ?5, updated_at = ?6"
                       " WHERE id = ?1 AND worker = ?2 AND attempts = ?3"
                       " AND state = 'running'",
    /* Without a worker (?2 NULL): the queue fails a job whose lease
     * expired (a poison input). */
    [STMT_JOB_FAIL] =
        "UPDATE jobs SET state = 'failed', lease_until = NULL, error = ?4,"
        " updated_at = ?5 WHERE id = ?1 AND state = 'running'"
        " AND ((?2 IS NULL AND lease_until < ?5)"
        " OR (worker = ?2 AND attempts = ?3))",
    [STMT_JOB_RELEASE] =
        "UPDATE jobs SET state = 'queued', lease_until = NULL,"
        " attempts = max(attempts - 1, 0), run_after = ?4, updated_at = ?4"
        " WHERE id = ?1 AND worker = ?2 AND attempts = ?3"
        " AND state = 'running'",
    [STMT_MSG_PROCESSED] =
        "UPDATE messages SET status = ?2, duration_ms = ?4, width = ?5,"
        " height = ?6, has_audio = ?7, video_bytes = ?8, facts = ?9,"
        " failure_reason = NULL, updated_at = ?10, check_protection = ?11"
        " WHERE id = ?1 AND status = ?3",
    [STMT_MSG_FAILED] = "UPDATE messages SET status = ?2, failure_reason = ?4,"
                        " updated_at = ?5 WHERE id = ?1 AND status = ?3",
    [STMT_SESSION_INSERT] =
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at,"
        " last_seen, expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
    [STMT_SESSION_GET] =
        "SELECT s.user_id, u.username, u.role, s.csrf_token, s.last_seen,"
        " s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ?1 AND u.disabled = 0",
    [STMT_SESSION_TOUCH] =
        "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1",
    [STMT_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?1",
    [STMT_SESSIONS_EXPIRE] =
        "DELETE FROM sessions WHERE expires_at < ?1 OR last_seen < ?2",
    [STMT_SESSIONS_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1",
    [STMT_USER_SET_ROLE] = "UPDATE users SET role = ?2, updated_at = ?3"
                           " WHERE id = ?1",
    [STMT_USER_SET_DISABLED] = "UPDATE users SET disabled = ?2,"
                               " updated_at = ?3 WHERE id = ?1",
    [STMT_MSG_LIST_ASC] = MSG_LIST " AND (m.created_at, m.id) > (?9, ?10)"
                                   " ORDER BY m.created_at, m.id LIMIT ?11",
    [STMT_MSG_LIST_DESC] =
        MSG_LIST " AND (m.created_at, m.id) < (?9, ?10)"
                 " ORDER BY m.created_at DESC, m.id DESC LIMIT ?11",
    [STMT_MSG_LIST_ALL_ASC] =
        MSG_LIST_ALL " AND (m.created_at, m.id) > (?9, ?10)"
                     " ORDER BY m.created_at, m.id LIMIT ?11",
    [STMT_MSG_LIST_ALL_DESC] =
        MSG_LIST_ALL " AND (m.created_at, m.id) < (?9, ?10)"
                     " ORDER BY m.created_at DESC, m.id DESC LIMIT ?11",
    [STMT_MSG_SEARCH_ASC] =
        MSG_SEARCH " AND s.rowid > ?9 ORDER BY s.rowid LIMIT ?11",
    [STMT_MSG_SEARCH_DESC] =
        MSG_SEARCH " AND s.rowid < ?9 ORDER BY s.rowid DESC LIMIT ?11",
    /* Claims (claim.c): the live claim of message ?1 at time ?2, who
     * holds it and until when; taking or renewing one (?1 message, ?2
     * user, ?3 now, ?4 until, ?5 the page's token or NULL); dropping it
     * (decided, withdrawn), or one's own (?2 the user; ?3 the page's
     * token: only while that page still holds it, or NULL: any). */
    [STMT_CLAIM_GET] =
        "SELECT c.user_id, u.username, c.until FROM message_claims c"
        " JOIN users u ON u.id = c.user_id WHERE c.message_id = ?1"
        " AND c.until > ?2",
    [STMT_CLAIM_PUT] =
        "INSERT INTO message_claims (message_id, user_id, claimed_at, until,"
        " tab) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (message_id) DO UPDATE"
        " SET user_id = ?2, claimed_at = CASE WHEN user_id = ?2"
        " THEN claimed_at ELSE ?3 END, until = ?4, tab = ?5",
    [STMT_CLAIM_DROP] = "DELETE FROM message_claims WHERE message_id = ?1",
    [STMT_CLAIM_RELEASE] = "DELETE FROM message_claims WHERE message_id = ?1"
                           " AND user_id = ?2 AND (?3 IS NULL OR tab = ?3)",
    /* The panel's language of user ?1, and setting it to ?2. */
    [STMT_USER_LANGUAGE_GET] = "SELECT language FROM users WHERE id = ?1",
    [STMT_USER_LANGUAGE_SET] = "UPDATE users SET language = ?2 WHERE id = ?1",
    /* After a withdrawal or a purge: the index's segments merged into
     * one, so none keeps a deleted row's words (see 0007_panel.sql). */
    [STMT_SEARCH_OPTIMIZE] =
        "INSERT INTO message_search (message_search) VALUES ('optimize')",
    /* Per status, of campaign ?1 (NULL: all) within scope ?2 (NULL:
     * every campaign). */
    [STMT_MSG_COUNTS] =
        "SELECT status, sum(n) FROM message_counts"
        " WHERE (?1 IS NULL OR campaign_id = ?1)"
        " AND (?2 IS NULL OR instr(?2, ',' || campaign_id || ',') > 0)"
        " GROUP BY status",
    [STMT_MSG_GET] =
        "SELECT m.id, m.status, m.name, m.organization, m.country,"
        " m.language, m.message, m.consent_scope, m.consent_version,"
        " m.consent_at, m.created_at, m.received_at, m.duration_ms, m.width,"
        " m.height, m.has_audio, m.video_bytes, m.facts, m.failure_reason,"
        " u.username, m.decided_at, m.decision_reason, m.withdrawn_at,"
        " j.state, j.progress, j.attempts, j.error, m.upload_length,"
        " m.upload_offset, m.media_deleted_at, m.media_deleted_why,"
        " m.takedown_at, m.campaign_id, c.slug, m.consent_language,"
        " m.protect, m.check_protection, m.decision_code"
        " FROM messages m JOIN campaigns c ON c.id = m.campaign_id"
        " LEFT JOIN users u ON u.id = m.decided_by"
        " LEFT JOIN jobs j ON j.id = (SELECT max(id) FROM jobs"
        "  WHERE message_id = m.id AND kind = 'transcode') WHERE m.id = ?1",
    [STMT_MSG_STATUS] =
        "SELECT status, created_at, country, language,"
        " consent_scope, campaign_id FROM messages WHERE id = ?1",
    [STMT_MSG_HISTORY] = "SELECT at, actor, action, reason FROM audit"
                         " WHERE target = ?1 ORDER BY id",
    [STMT_MSG_DECIDE] =
        "UPDATE messages SET status = ?2, decided_by = ?4, decided_at = ?5,"
        " decision_reason = ?6, decision_code = ?7, updated_at = ?5"
        " WHERE id = ?1 AND status = ?3",
    [STMT_MSG_REOPEN] =
        "UPDATE messages SET status = ?2, decided_by = NULL,"
        " decided_at = NULL, decision_reason = NULL, decision_code = NULL,"
        " updated_at = ?4"
        " WHERE id = ?1 AND status = ?3",
    [STMT_MSG_RETRY] = "UPDATE messages SET status = ?2, failure_reason = NULL,"
                       " updated_at = ?4 WHERE id = ?1 AND status = ?3",
    /* The log newest first, before row ?4, ?5 rows; optional filters: ?1
     * action (or, ending in '.', every action it begins: "message."),
     * ?2 target, ?3 actor, ?6/?7 from and before a time. */
    [STMT_AUDIT_LIST] =
        "SELECT id, at, actor, action, target, reason FROM audit"
        " WHERE (?1 IS NULL OR action = ?1 OR (substr(?1, -1) = '.'"
        "  AND substr(action, 1, length(?1)) = ?1))"
        " AND (?2 IS NULL OR target = ?2)"
        " AND (?3 IS NULL OR actor = ?3) AND id < ?4"
        " AND (?6 IS NULL OR at >= ?6) AND (?7 IS NULL OR at < ?7)"
        " ORDER BY id DESC LIMIT ?5",
    [STMT_JOB_COUNTS] = "SELECT state, count(*) FROM jobs GROUP BY state",
    [STMT_JOB_SECONDS] =
        "SELECT count(*), total(seconds), total(seconds <= 1),"
        " total(seconds <= 5), total(seconds <= 15), total(seconds <= 30),"
        " total(seconds <= 60), total(seconds <= 120), total(seconds <= 300),"
        " total(seconds <= 600) FROM jobs WHERE state = 'done'"
        " AND kind = 'transcode' AND seconds IS NOT NULL",
    [STMT_RESHARE_INSERT] =
        "INSERT INTO reshares (message_id, channel, url, user_id, at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [STMT_RESHARES_OF] =
        "SELECT r.channel, r.url, u.username, r.at, r.id, r.taken_down_at,"
        " d.username FROM reshares r JOIN users u ON u.id = r.user_id"
        " LEFT JOIN users d ON d.id = r.taken_down_by"
        " WHERE r.message_id = ?1 ORDER BY r.id",
    [STMT_EXPORT_PAGE] =
        "SELECT m.id, m.name, m.organization, m.country, m.language,"
        " m.message, m.duration_ms, m.consent_version, m.consent_scope,"
        " m.consent_at, u.username, m.decided_at, m.created_at,"
        " m.campaign_id, c.slug, m.consent_language"
        " FROM messages m JOIN campaigns c ON c.id = m.campaign_id"
        " LEFT JOIN users u ON u.id = m.decided_by"
        " WHERE m.status = 'approved' AND m.media_deleted_at IS NULL"
        " AND (?1 IS NULL OR instr(?1, ',' || m.id || ',') > 0)"
        " AND (?2 IS NULL OR m.country = ?2) AND (?3 IS NULL OR m.language = "
        "?3)"
        " AND (?4 IS NULL OR m.rowid IN (SELECT rowid FROM message_search"
        "  WHERE message_search MATCH ?4))"
        " AND (?5 IS NULL OR m.consent_scope = ?5)"
        " AND (?6 IS NULL OR ?6 = EXISTS (SELECT 1 FROM reshares r"
        "  WHERE r.message_id = m.id))"
        " AND (?10 IS NULL OR m.campaign_id = ?10)"
        " AND (?11 IS NULL OR instr(?11, ',' || m.campaign_id || ',') > 0)"
        " AND (m.created_at, m.id) > (?7, ?8)"
        " ORDER BY m.created_at, m.id LIMIT ?9",
    [STMT_MESSAGE_EXPORTED] =
        "UPDATE messages SET exported_at = ?2 WHERE id = ?1",
    /* What a job's child needs to know of its message: the protection
     * asked for and, for a no_video card, the credit given. */
    [STMT_JOB_MESSAGE] =
        "SELECT m.protect, m.name, m.organization, m.country, c.accent_color"
        " FROM messages m JOIN campaigns c ON c.id = m.campaign_id"
        " WHERE m.id = ?1",
    [STMT_ADMINS_OTHER] = "SELECT count(*) FROM users WHERE role = 'admin'"
                          " AND disabled = 0 AND id <> ?1",
    [STMT_CAMPAIGN_BY_SLUG] = CAMPAIGN_COLUMNS " WHERE slug = ?1",
    [STMT_CAMPAIGN_BY_ID] = CAMPAIGN_COLUMNS " WHERE id = ?1",
    [STMT_CAMPAIGN_LIST] = CAMPAIGN_COLUMNS " ORDER BY id",
    [STMT_CAMPAIGN_INSERT] =
        "INSERT INTO campaigns (slug, languages, consent_version,"
        " consent_seq, opens_at, closes_at, hashtag, credit_template,"
        " accent_color, adopted, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
    [STMT_CAMPAIGN_UPDATE] =
        "UPDATE campaigns SET languages = ?2, consent_version = ?3,"
        " consent_seq = ?4, opens_at = ?5, closes_at = ?6, hashtag = ?7,"
        " credit_template = ?8, accent_color = ?9, adopted = ?10,"
        " updated_at = ?11 WHERE id = ?1",
    [STMT_CAMPAIGN_LOGO] =
        "UPDATE campaigns SET logo_at = ?2, updated_at = ?2 WHERE id = ?1",
    [STMT_CAMPAIGN_TEXTS] = "SELECT lang, title, intro, consent, cta"
                            " FROM campaign_texts WHERE campaign_id = ?1",
    [STMT_CAMPAIGN_TEXT_PUT] =
        "INSERT INTO campaign_texts (campaign_id, lang, title, intro,"
        " consent, cta) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        " ON CONFLICT (campaign_id, lang) DO UPDATE SET title = ?3,"
        " intro = ?4, consent = ?5, cta = ?6",
    [STMT_CAMPAIGN_TEXT_DELETE] =
        "DELETE FROM campaign_texts WHERE campaign_id = ?1 AND lang = ?2",
    [STMT_CAMPAIGN_COUNTS] =
        "SELECT status, n FROM message_counts WHERE campaign_id = ?1",
    [STMT_CONSENT_VERSION_INSERT] =
        "INSERT INTO consent_versions (campaign_id, version, created_at)"
        " VALUES (?1, ?2, ?3)",
    [STMT_CONSENT_VERSION_SUPERSEDE] =
        "UPDATE consent_versions SET superseded_at = ?3"
        " WHERE campaign_id = ?1 AND version = ?2 AND superseded_at IS NULL",
    [STMT_CONSENT_VERSION_GET] =
        "SELECT created_at, superseded_at FROM consent_versions"
        " WHERE campaign_id = ?1 AND version = ?2",
    [STMT_CONSENT_VERSIONS] =
        "SELECT version, created_at, superseded_at FROM consent_versions"
        " WHERE campaign_id = ?1 ORDER BY created_at, rowid",
    [STMT_CONSENT_TEXT_INSERT] =
        "INSERT INTO consent_texts (campaign_id, version, lang, text)"
        " VALUES (?1, ?2, ?3, ?4)",
    [STMT_CONSENT_TEXTS_OF] =
        "SELECT lang, text FROM consent_texts"
        " WHERE campaign_id = ?1 AND version = ?2 ORDER BY lang",
    [STMT_USER_CAMPAIGNS] =
        "SELECT c.id, c.slug FROM user_campaigns u"
        " JOIN campaigns c ON c.id = u.campaign_id WHERE u.user_id = ?1"
        " ORDER BY c.id",
    [STMT_USER_CAMPAIGNS_CLEAR] =
        "DELETE FROM user_campaigns WHERE user_id = ?1",
    [STMT_USER_CAMPAIGN_ADD] =
        "INSERT OR IGNORE INTO user_campaigns (user_id, campaign_id)"
        " VALUES (?1, ?2)",
    /* Remote workers' tokens, by the SHA-256 of the token. */
    [STMT_WTOKEN_INSERT] =
        "INSERT INTO worker_tokens (name, hash, created_at) VALUES (?1, ?2,"
        " ?3)",
    [STMT_WTOKEN_BY_HASH] = "SELECT name, last_seen_at FROM worker_tokens"
                            " WHERE hash = ?1 AND revoked_at IS NULL",
    [STMT_WTOKEN_LIST] =
        "SELECT name, created_at, last_seen_at, revoked_at FROM worker_tokens"
        " ORDER BY name",
    [STMT_WTOKEN_REVOKE] = "UPDATE worker_tokens SET revoked_at = ?2"
                           " WHERE name = ?1 AND revoked_at IS NULL",
    [STMT_WTOKEN_SEEN] =
        "UPDATE worker_tokens SET last_seen_at = ?2 WHERE name = ?1",
    /* The next due job of the kinds ?2 (",transcode,"), as STMT_JOB_NEXT. */
    [STMT_JOB_NEXT_KINDS] =
        "SELECT id, message_id, attempts, state, kind, target, args FROM jobs"
        " WHERE ((state = 'queued' AND run_after <= ?1)"
        " OR (state = 'running' AND lease_until < ?1))"
        " AND instr(?2, ',' || kind || ',') > 0 ORDER BY id LIMIT 1",
    /* Whether any is due, read without a write lock (idle claims). */
    [STMT_JOB_DUE] =
        "SELECT 1 FROM jobs WHERE ((state = 'queued' AND run_after <= ?1)"
        " OR (state = 'running' AND lease_until < ?1))"
        " AND (?2 IS NULL OR instr(?2, ',' || kind || ',') > 0) LIMIT 1",
    /* A running job as its lease holder (?2 worker, ?3 attempt) sees it. */
    [STMT_JOB_OWNED] =
        "SELECT kind, message_id, target, args FROM jobs WHERE id = ?1"
        " AND worker = ?2 AND attempts = ?3 AND state = 'running'",
    /* Jobs by the worker that last held them: remote workers by their
     * token's name (before the '/'), local ones together. */
    [STMT_JOB_BY_WORKER] =
        "SELECT CASE WHEN instr(worker, '/') > 0"
        " THEN substr(worker, 1, instr(worker, '/') - 1) ELSE 'local' END,"
        " state, count(*) FROM jobs WHERE worker IS NOT NULL"
        " GROUP BY 1, 2 ORDER BY 1, 2",
    /* What the studio needs of a message and its campaign. */
    [STMT_STUDIO_MESSAGE] =
        "SELECT m.status, m.campaign_id, m.duration_ms, m.facts, m.name,"
        " m.organization, m.country, m.language, c.hashtag,"
        " c.credit_template, c.logo_at, m.message, m.created_at,"
        " m.consent_scope FROM messages m"
        " JOIN campaigns c ON c.id = m.campaign_id WHERE m.id = ?1",
    [STMT_TRANSCRIPT_PUT] =
        "INSERT INTO transcripts (message_id, lang, cues, text, timed_by,"
        " updated_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (message_id, lang) DO UPDATE SET cues = ?3, text = ?4,"
        " timed_by = ?5, updated_by = ?6, updated_at = ?7",
    [STMT_TRANSCRIPT_GET] =
        "SELECT cues, timed_by, updated_by, updated_at FROM transcripts"
        " WHERE message_id = ?1 AND lang = ?2",
    [STMT_TRANSCRIPT_LIST] =
        "SELECT lang, timed_by, updated_by, updated_at FROM transcripts"
        " WHERE message_id = ?1 ORDER BY lang",
    [STMT_TRANSCRIPTS_DELETE] = "DELETE FROM transcripts WHERE message_id = ?1",
    /* The last job of each version of message ?1, oldest first. */
    [STMT_VERSIONS_OF] =
        "SELECT j.target, j.args, j.state, j.progress, j.error FROM jobs j"
        " WHERE j.message_id = ?1 AND j.kind = 'version' AND j.id ="
        " (SELECT max(k.id) FROM jobs k WHERE k.kind = 'version'"
        "  AND k.target = j.target) ORDER BY j.id",
    /* Other versions of message ?1 waiting (not job ?2): rendered with it
     * from one decode. */
    [STMT_VERSION_JOBS_QUEUED] =
        "SELECT id, target, args FROM jobs WHERE message_id = ?1"
        " AND kind = 'version' AND state = 'queued' AND id <> ?2"
        " ORDER BY id LIMIT 7",
    /* Claims job ?1 if it is still queued (?2 lease until, ?3 worker,
     * ?4 now): a sibling taken along with the job a worker claimed. */
    [STMT_JOB_START_QUEUED] =
        "UPDATE jobs SET state = 'running', lease_until = ?2, worker = ?3,"
        " attempts = attempts + 1, progress = 0, updated_at = ?4"
        " WHERE id = ?1 AND state = 'queued'",
    [STMT_JOB_GET] =
        "SELECT id, message_id, attempts, kind, target, args FROM jobs"
        " WHERE id = ?1",
    /* "+?1": see MSG_LIST (the partial index jobs_live_target). */
    [STMT_JOB_LAST_OF_TARGET] =
        "SELECT state, error, updated_at FROM jobs WHERE kind = +?1"
        " AND target = ?2 ORDER BY id DESC LIMIT 1",
    /* ?1 message, ?2 now: its objects must go (again, if a row is there:
     * at once). */
    [STMT_OBJDEL_ADD] =
        "INSERT INTO object_deletions (message_id, since, next_at)"
        " VALUES (?1, ?2, ?2) ON CONFLICT (message_id) DO UPDATE"
        " SET next_at = ?2, gen = gen + 1",
    /* ?1 now, ?2 how many. */
    [STMT_OBJDEL_DUE] = "SELECT message_id, tries, gen FROM object_deletions"
                        " WHERE next_at <= ?1 ORDER BY next_at LIMIT ?2",
    /* ?1 message, ?2 the gen the deletion started from. */
    [STMT_OBJDEL_DONE] = "DELETE FROM object_deletions WHERE message_id = ?1"
                         " AND gen = ?2",
    /* ?1 message, ?2 the next try, ?3 what the store said. */
    [STMT_OBJDEL_FAILED] =
        "UPDATE object_deletions SET tries = tries + 1, next_at = ?2,"
        " error = ?3 WHERE message_id = ?1",
    [STMT_OBJDEL_COUNT] = "SELECT count(*), coalesce(sum(tries > 0), 0)"
                          " FROM object_deletions",
    /* With a WHERE: a bare DELETE is SQLite's truncate optimization,
     * which rewrites the table's pages even when it is empty, so each
     * sweep put frames in the WAL just truncated after a purge. */
    [STMT_OBJDEL_CLEAR] =
        "DELETE FROM object_deletions WHERE message_id IS NOT NULL",
    /* A message whose files are gone has no row, is withdrawn, or says
     * its media were deleted (retention, purge). */
    /* A remote worker (its lease name has a '/') holds a job of ?1. */
    [STMT_JOB_REMOTE_HELD] = "SELECT 1 FROM jobs WHERE message_id = ?1"
                             " AND state = 'running' AND instr(worker, '/') > 0"
                             " LIMIT 1",
    [STMT_MSG_FILES_GONE] = "SELECT status = 'withdrawn' OR media_deleted_at"
                            " IS NOT NULL FROM messages WHERE id = ?1",
};

static sqlite3_stmt *raw(struct db_stmt *st)
{
    return (sqlite3_stmt *)(void *)st;
}

static int map_rc(sqlite3 *h, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
        return DB_DONE;
    case SQLITE_ROW:
        return DB_ROW;
    case SQLITE_CONSTRAINT:
        log_debug("db: %s: %s", what, sqlite3_errmsg(h));
        return DB_CONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        log_warnx("db: %s: database busy past the timeout", what);
        return DB_BUSY;
    default:
        log_warnx("db: %s: %s", what, sqlite3_errmsg(h));
        return DB_ERROR;
    }
}

static int exec_simple(struct db *db, const char *sql)
{
    return map_rc(db->h, sqlite3_exec(db->h, sql, NULL, NULL, NULL), sql);
}

/* Process-wide settings, before SQLite initialises. */
static void configure(void)
{
    /* Memory statistics take a global lock on every allocation. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int db_open(const char *path, struct db **out, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    struct db *db = NULL;
    int rc;

    *out = NULL;
    pthread_once(&once, configure);
    db = calloc(1, sizeof(*db));
    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* A handle is used by one thread at a time (the pool sees to it):
     * SQLite's own per-call locking would only cost. */
    rc = sqlite3_open_v2(path, &db->h,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE |
                             SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 db->h != NULL ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
    /*
     * WAL lets readers run beside the one writer; synchronous=FULL makes a
     * committed decision or upload survive power loss, not only a crash;
     * secure_delete zeroes what a withdrawal or a purge clears, in the
     * page and in freed pages (db_checkpoint() then empties the WAL).
     * trusted_schema stays ON: the search index (0007_panel.sql) is an
     * FTS5 table kept by the schema's own triggers, which SQLite refuses
     * to run otherwise. Chorus opens only its own database, whose schema
     * is the compiled-in migrations, and registers no SQL function.
     */
    if (sqlite3_exec(db->h,
                     "PRAGMA journal_mode = WAL;"
                     "PRAGMA synchronous = FULL;"
                     "PRAGMA foreign_keys = ON;"
                     "PRAGMA trusted_schema = ON;"
                     "PRAGMA secure_delete = ON;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up %s: %s", path,
                 sqlite3_errmsg(db->h));
        goto fail;
    }
    *out = db;
    return 0;
fail:
    db_close(db);
    return -1;
}

void db_close(struct db *db)
{
    if (db == NULL)
        return;
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(db->stmts[i]);
    sqlite3_close(db->h);
    free(db);
}

int db_exec_script(struct db *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;

    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg != NULL ? msg : "unknown error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int db_begin(struct db *db)
{
    /* A pool that had no handle to lend: as busy as a locked database. */
    if (db == NULL)
        return DB_BUSY;
    return exec_simple(db, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db)
{
    int rc = exec_simple(db, "COMMIT");
    void (*fn)(struct db *, const void *) = db->after_fn;

    if (rc < 0) {
        db_rollback(db);
        return rc;
    }
    db->after_fn = NULL;
    if (fn != NULL)
        fn(db, db->after_data);
    return rc;
}

void db_rollback(struct db *db)
{
    if (db == NULL)
        return;
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    db->after_fn = NULL;
}

int db_after_commit(struct db *db, void (*fn)(struct db *db, const void *data),
                    const void *data, size_t len)
{
    if (len > sizeof(db->after_data) || sqlite3_get_autocommit(db->h))
        return -1;
    memcpy(db->after_data, data, len);
    db->after_fn = fn;
    return 0;
}

const char *db_filename(struct db *db)
{
    return sqlite3_db_filename(db->h, "main");
}

int db_checkpoint(struct db *db, int wait_ms)
{
    int log = -1, done = -1, rc;

    /* A reader on an old snapshot holds the checkpoint back: wait for it
     * a little (writers wait meanwhile), then let the caller try again. */
    sqlite3_busy_timeout(db->h, wait_ms);
    rc = sqlite3_wal_checkpoint_v2(db->h, "main", SQLITE_CHECKPOINT_TRUNCATE,
                                   &log, &done);
    sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK && log == 0)
        return 0;
    if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY ||
        (rc & 0xff) == SQLITE_LOCKED)
        return DB_BUSY;
    log_warnx("db: checkpoint: %s", sqlite3_errmsg(db->h));
    return DB_ERROR;
}

int db_user_version(struct db *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) !=
        SQLITE_OK)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    *out = sqlite3_column_int(st, 0);
    rc = 0;
out:
    if (rc != 0)
        log_warnx("db: user_version: %s", sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    return rc;
}

int db_set_user_version(struct db *db, int version)
{
    char sql[64];

    /* PRAGMA takes no parameters; version is a checked integer. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
    return exec_simple(db, sql) < 0 ? -1 : 0;
}

int64_t db_changes(struct db *db)
{
    return sqlite3_changes64(db->h);
}

int64_t db_last_rowid(struct db *db)
{
    return sqlite3_last_insert_rowid(db->h);
}

int db_quick_check(struct db *db)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db->h, "PRAGMA quick_check", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        rc = t != NULL && strcmp((const char *)t, "ok") == 0 ? 0 : -1;
    }
    sqlite3_finalize(st);
    return rc;
}

int db_backup(struct db *db, const char *path, char *err, size_t errlen)
{
    sqlite3 *dst = NULL;
    sqlite3_backup *b = NULL;
    int rc = -1;

    if (sqlite3_open_v2(path, &dst,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOFOLLOW,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 dst != NULL ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    b = sqlite3_backup_init(dst, "main", db->h, "main");
    if (b == NULL) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(dst));
        goto out;
    }
    /* Small steps so writers are never locked out for long. */
    for (;;) {
        int s = sqlite3_backup_step(b, 256);
        if (s == SQLITE_DONE)
            break;
        if (s == SQLITE_OK || s == SQLITE_BUSY || s == SQLITE_LOCKED) {
            sqlite3_sleep(5);
            continue;
        }
        snprintf(err, errlen, "%s", sqlite3_errstr(s));
        goto out;
    }
    rc = 0;
out:
    if (b != NULL && sqlite3_backup_finish(b) != SQLITE_OK && rc == 0) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(dst));
        rc = -1;
    }
    sqlite3_close(dst);
    return rc;
}

struct db_stmt *db_stmt(struct db *db, enum stmt id)
{
    sqlite3_stmt *st;

    if (db == NULL)
        return NULL;
    st = db->stmts[id];

    if (st == NULL) {
        if (sqlite3_prepare_v3(db->h, sql_text[id], -1,
                               SQLITE_PREPARE_PERSISTENT, &st,
                               NULL) != SQLITE_OK) {
            log_warnx("db: prepare statement %d: %s", (int)id,
                      sqlite3_errmsg(db->h));
            return NULL;
        }
        db->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return (struct db_stmt *)(void *)st;
}

static int bind_rc(int rc)
{
    return rc == SQLITE_OK ? 0 : -1;
}

int db_bind_text(struct db_stmt *st, int i, const char *s)
{
    if (s == NULL)
        return bind_rc(sqlite3_bind_null(raw(st), i));
    return bind_rc(sqlite3_bind_text(raw(st), i, s, -1, SQLITE_TRANSIENT));
}

int db_bind_int(struct db_stmt *st, int i, int64_t v)
{
    return bind_rc(sqlite3_bind_int64(raw(st), i, v));
}

int db_bind_double(struct db_stmt *st, int i, double v)
{
    return bind_rc(sqlite3_bind_double(raw(st), i, v));
}

int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
    if (p == NULL)
        return bind_rc(sqlite3_bind_null(raw(st), i));
    return bind_rc(sqlite3_bind_blob64(raw(st), i, p, len, SQLITE_TRANSIENT));
}

int db_bind_null(struct db_stmt *st, int i)
{
    return bind_rc(sqlite3_bind_null(raw(st), i));
}

int db_step(struct db_stmt *st)
{
    sqlite3_stmt *s = raw(st);
    int rc = map_rc(sqlite3_db_handle(s), sqlite3_step(s), sqlite3_sql(s));

    if (rc != DB_ROW)
        sqlite3_reset(s);
    return rc;
}

int db_stmt_replans(struct db_stmt *st)
{
    return sqlite3_stmt_status(raw(st), SQLITE_STMTSTATUS_REPREPARE, 0);
}

void db_reset(struct db_stmt *st)
{
    if (st != NULL)
        sqlite3_reset(raw(st));
}

const char *db_col_text(struct db_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(raw(st), i);
}

int64_t db_col_int(struct db_stmt *st, int i)
{
    return sqlite3_column_int64(raw(st), i);
}

double db_col_double(struct db_stmt *st, int i)
{
    return sqlite3_column_double(raw(st), i);
}

const void *db_col_blob(struct db_stmt *st, int i, size_t *len)
{
    const void *p = sqlite3_column_blob(raw(st), i);

    *len = (size_t)sqlite3_column_bytes(raw(st), i);
    return p;
}

int db_col_is_null(struct db_stmt *st, int i)
{
    return sqlite3_column_type(raw(st), i) == SQLITE_NULL;
}

int db_pool_new(const char *path, int size, int wait_ms, struct db_pool **out,
                char *err, size_t errlen)
{
    struct db_pool *p = NULL;
    pthread_condattr_t attr;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL ||
        (p->free = calloc((size_t)size, sizeof(*p->free))) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(p);
        return -1;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &attr);
    pthread_cond_init(&p->writer_cond, &attr);
    pthread_condattr_destroy(&attr);
    p->size = size;
    p->wait_ms = wait_ms;
    for (int i = 0; i < size; i++) {
        if (db_open(path, &p->free[i], err, errlen) != 0) {
            db_pool_free(p);
            return -1;
        }
        p->nfree++;
    }
    *out = p;
    return 0;
}

void db_pool_free(struct db_pool *pool)
{
    if (pool == NULL)
        return;
    for (int i = 0; i < pool->nfree; i++)
        db_close(pool->free[i]);
    pthread_cond_destroy(&pool->cond);
    pthread_cond_destroy(&pool->writer_cond);
    pthread_mutex_destroy(&pool->lock);
    free(pool->free);
    free(pool);
}

/* Takes a free handle, waiting until deadline. Call with the lock. */
static struct db *take(struct db_pool *pool, const struct timespec *deadline)
{
    int rc = 0;

    while (pool->nfree == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&pool->cond, &pool->lock, deadline);
    return pool->nfree > 0 ? pool->free[--pool->nfree] : NULL;
}

struct db *db_pool_get(struct db_pool *pool)
{
    struct timespec deadline = util_mono_after(pool->wait_ms);
    struct db *db;

    pthread_mutex_lock(&pool->lock);
    db = take(pool, &deadline);
    pthread_mutex_unlock(&pool->lock);
    if (db == NULL)
        log_warnx("db: no database handle came free in %d ms", pool->wait_ms);
    return db;
}

struct db *db_pool_get_writer(struct db_pool *pool)
{
    /* A turn takes as long as SQLite would have let it wait for the
     * lock; then a handle, as any request. */
    struct timespec turn = util_mono_after(BUSY_TIMEOUT_MS), deadline;
    struct db *db = NULL;
    int rc = 0;

    pthread_mutex_lock(&pool->lock);
    while (pool->writing && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&pool->writer_cond, &pool->lock, &turn);
    if (!pool->writing) {
        deadline = util_mono_after(pool->wait_ms);
        if ((db = take(pool, &deadline)) != NULL) {
            db->writer = true;
            pool->writing = true;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    if (db == NULL)
        log_warnx("db: no turn to write came in %d ms", BUSY_TIMEOUT_MS);
    return db;
}

void db_pool_put(struct db_pool *pool, struct db *db)
{
    if (db == NULL)
        return;
    db_rollback(db); /* never hand on an open transaction */
    pthread_mutex_lock(&pool->lock);
    if (db->writer) {
        db->writer = false;
        pool->writing = false;
        pthread_cond_signal(&pool->writer_cond);
    }
    pool->free[pool->nfree++] = db;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
}
