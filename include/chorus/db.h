/*
 * The SQLite database: one handle per thread (struct db), every statement
 * in one table indexed by enum stmt (see db.c), positional binds only.
 *
 * Statements are prepared on first use and cached in the handle.
 * db_stmt() hands one out reset and with its bindings cleared. db_step()
 * resets it again when it returns anything but DB_ROW; a caller that
 * stops reading rows early calls db_reset(), so no read transaction is
 * left open. Write transactions that claim or change state use
 * db_begin() (BEGIN IMMEDIATE).
 *
 * This is the only file that includes sqlite3.h.
 */
#ifndef CHORUS_DB_H
#define CHORUS_DB_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;
struct db_pool;

enum stmt {
    STMT_PING,
    STMT_USER_INSERT,
    STMT_USER_BY_NAME,
    STMT_USER_LIST,
    STMT_USER_COUNT,
    STMT_USER_SET_PASSWORD,
    STMT_AUDIT_LAST,
    STMT_AUDIT_INSERT,
    STMT_AUDIT_ALL,
    STMT_AUDIT_SCHEME_GET,
    STMT_AUDIT_SCHEME_SET,
    STMT_AUDIT_UNGUARD,
    STMT_AUDIT_GUARD,
    STMT_AUDIT_REHASH,
    STMT_MESSAGE_INSERT,
    STMT_UPLOAD_GET,
    STMT_UPLOAD_PROGRESS,
    STMT_MSG_STATE,
    STMT_MSG_UPLOAD_FINISHED,
    STMT_MSG_DELETE,
    STMT_UPLOADS_EXPIRED,
    STMT_UPLOADS_OPEN,
    STMT_RECEIPT_GET,
    STMT_MSG_WITHDRAW,
    STMT_MSG_PURGE,
    STMT_MSG_MEDIA_DELETED,
    STMT_RETENTION_DUE,
    STMT_PURGE_NEXT,
    STMT_PURGE_KEEP,
    STMT_TAKEDOWN_ONE,
    STMT_TAKEDOWN_ALL,
    STMT_TAKEDOWN_DONE,
    STMT_JOBS_CANCEL,
    STMT_JOB_ENQUEUE,
    STMT_JOB_NEXT,
    STMT_JOB_START,
    STMT_JOB_HEARTBEAT,
    STMT_JOB_DONE,
    STMT_JOB_RETRY,
    STMT_JOB_FAIL,
    STMT_JOB_RELEASE,
    STMT_MSG_PROCESSED,
    STMT_MSG_FAILED,
    STMT_SESSION_INSERT,
    STMT_SESSION_GET,
    STMT_SESSION_TOUCH,
    STMT_SESSION_DELETE,
    STMT_SESSIONS_EXPIRE,
    STMT_SESSIONS_DELETE_USER,
    STMT_USER_SET_ROLE,
    STMT_USER_SET_DISABLED,
    STMT_MSG_LIST_ASC,
    STMT_MSG_LIST_DESC,
    STMT_MSG_LIST_ALL_ASC,
    STMT_MSG_LIST_ALL_DESC,
    STMT_MSG_SEARCH_ASC,
    STMT_MSG_SEARCH_DESC,
    STMT_SEARCH_OPTIMIZE,
    STMT_CLAIM_GET,
    STMT_CLAIM_PUT,
    STMT_CLAIM_DROP,
    STMT_CLAIM_RELEASE,
    STMT_USER_LANGUAGE_GET,
    STMT_USER_LANGUAGE_SET,
    STMT_MSG_COUNTS,
    STMT_MSG_GET,
    STMT_MSG_STATUS,
    STMT_MSG_HISTORY,
    STMT_MSG_DECIDE,
    STMT_MSG_REOPEN,
    STMT_MSG_RETRY,
    STMT_AUDIT_LIST,
    STMT_JOB_COUNTS,
    STMT_JOB_SECONDS,
    STMT_ADMINS_OTHER,
    STMT_RESHARE_INSERT,
    STMT_RESHARES_OF,
    STMT_EXPORT_PAGE,
    STMT_MESSAGE_EXPORTED,
    /* Campaigns (campaign.c). */
    STMT_CAMPAIGN_BY_SLUG,
    STMT_CAMPAIGN_BY_ID,
    STMT_CAMPAIGN_LIST,
    STMT_CAMPAIGN_INSERT,
    STMT_CAMPAIGN_UPDATE,
    STMT_CAMPAIGN_LOGO,
    STMT_CAMPAIGN_TEXTS,
    STMT_CAMPAIGN_TEXT_PUT,
    STMT_CAMPAIGN_TEXT_DELETE,
    STMT_CAMPAIGN_COUNTS,
    STMT_CONSENT_VERSION_INSERT,
    STMT_CONSENT_VERSION_SUPERSEDE,
    STMT_CONSENT_VERSION_GET,
    STMT_CONSENT_VERSIONS,
    STMT_CONSENT_TEXT_INSERT,
    STMT_CONSENT_TEXTS_OF,
    STMT_USER_CAMPAIGNS,
    STMT_USER_CAMPAIGNS_CLEAR,
    STMT_USER_CAMPAIGN_ADD,
    STMT_JOB_LAST_OF_TARGET,
    STMT_JOB_MESSAGE,
    /* Scale: remote workers' tokens and claims (worker_api.c, queue.c). */
    STMT_WTOKEN_INSERT,
    STMT_WTOKEN_BY_HASH,
    STMT_WTOKEN_LIST,
    STMT_WTOKEN_REVOKE,
    STMT_WTOKEN_SEEN,
    STMT_JOB_NEXT_KINDS,
    STMT_JOB_DUE,
    STMT_JOB_OWNED,
    STMT_JOB_BY_WORKER,
    /* The studio (studio.c). */
    STMT_STUDIO_MESSAGE,
    STMT_TRANSCRIPT_PUT,
    STMT_TRANSCRIPT_GET,
    STMT_TRANSCRIPT_LIST,
    STMT_TRANSCRIPTS_DELETE,
    STMT_VERSIONS_OF,
    STMT_VERSION_JOBS_QUEUED,
    STMT_JOB_START_QUEUED,
    STMT_JOB_GET,
    /* Object storage: deletions to make in the bucket (objstore.c). */
    STMT_OBJDEL_ADD,
    STMT_OBJDEL_DUE,
    STMT_OBJDEL_DONE,
    STMT_OBJDEL_FAILED,
    STMT_OBJDEL_COUNT,
    STMT_OBJDEL_CLEAR,
    STMT_MSG_FILES_GONE,
    STMT_JOB_REMOTE_HELD,
    STMT__COUNT
};

/* db_step() results; the negative ones are failures (already logged). */
enum {
    DB_DONE = 0,
    DB_ROW = 1,
    DB_ERROR = -1,
    DB_CONSTRAINT = -2, /* a UNIQUE, CHECK or foreign key was violated */
    DB_BUSY = -3,       /* the busy timeout passed */
};

/*
 * Opens (creating if missing) the database at path in WAL mode with
 * foreign keys on and a busy timeout. Returns 0 and sets *out (the caller
 * db_close()s it), or -1 with a reason in err.
 */
int db_open(const char *path, struct db **out, char *err, size_t errlen);
/* Finalises cached statements and closes; NULL is fine. */
void db_close(struct db *db);

/* Runs a script of several statements (a migration). 0, or -1 + err. */
int db_exec_script(struct db *db, const char *sql, char *err, size_t errlen);
int db_begin(struct db *db); /* BEGIN IMMEDIATE: 0 or DB_* < 0 */
/* COMMIT; then the call deferred with db_after_commit(), if any. */
int db_commit(struct db *db);
/* Harmless outside a transaction; drops a deferred call. */
void db_rollback(struct db *db);

#define DB_AFTER_COMMIT_MAX 64
/*
 * Inside a transaction: calls fn(db, copy of data) once the transaction
 * has committed through db_commit(), never if it rolls back (the audit
 * log's head is written so). One call per transaction: a second replaces
 * the first. Returns 0, or -1 (outside a transaction, len too long).
 */
int db_after_commit(struct db *db, void (*fn)(struct db *db, const void *data),
                    const void *data, size_t len);
/* The database file's path (owned by the handle). */
const char *db_filename(struct db *db);
/*
 * Checkpoints the WAL into the database and truncates it to nothing,
 * waiting at most wait_ms for readers of older snapshots. Returns 0 when
 * the WAL is empty, DB_BUSY if a reader or writer held it back (try
 * again later), or DB_ERROR.
 */
int db_checkpoint(struct db *db, int wait_ms);
/* PRAGMA user_version; 0 or -1. */
int db_user_version(struct db *db, int *out);
int db_set_user_version(struct db *db, int version);
/* Rows changed by the last statement; rowid of the last insert. */
int64_t db_changes(struct db *db);
int64_t db_last_rowid(struct db *db);
/* "ok" when PRAGMA quick_check finds nothing wrong: 0, or -1. */
int db_quick_check(struct db *db);
/* Copies the live database to path with the online backup API. */
int db_backup(struct db *db, const char *path, char *err, size_t errlen);

/* The statement, reset with bindings cleared; NULL if it failed to
 * prepare (logged) or db is NULL (a pool with no handle to lend, as is
 * db_begin's DB_BUSY and db_rollback's no-op). Owned by the handle. */
struct db_stmt *db_stmt(struct db *db, enum stmt id);
/* Binds parameter i (1-based). A NULL text or blob binds SQL NULL.
 * Text and blobs are copied. 0, or -1. */
int db_bind_text(struct db_stmt *st, int i, const char *s);
int db_bind_int(struct db_stmt *st, int i, int64_t v);
int db_bind_double(struct db_stmt *st, int i, double v);
int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len);
int db_bind_null(struct db_stmt *st, int i);
/* Every result is looked at: the compiler refuses a call that drops it. */
int db_step(struct db_stmt *st) __attribute__((warn_unused_result));
void db_reset(struct db_stmt *st);
/* How many times st was planned again since it was prepared: SQLite
 * does so at every run when a bound value could change the plan (a
 * partial index's WHERE compared with a parameter), which costs more
 * than the run itself. For the test that none does. */
int db_stmt_replans(struct db_stmt *st);
/* Columns of the current row (0-based). Text stays valid until the next
 * step or reset; NULL for SQL NULL. */
const char *db_col_text(struct db_stmt *st, int i);
int64_t db_col_int(struct db_stmt *st, int i);
double db_col_double(struct db_stmt *st, int i);
const void *db_col_blob(struct db_stmt *st, int i, size_t *len);
int db_col_is_null(struct db_stmt *st, int i);

/*
 * A fixed set of size handles shared by the HTTP threads. Each handle is
 * used by one thread at a time, and only briefly (never across a
 * password hash or a client's bytes).
 */
int db_pool_new(const char *path, int size, int wait_ms, struct db_pool **out,
                char *err, size_t errlen);
void db_pool_free(struct db_pool *pool);
/*
 * Waits up to the pool's wait_ms for a free handle. Returns it, or NULL
 * (logged) if none came free: the caller answers 503 with Retry-After
 * (http_db_error(req, DB_BUSY)).
 */
struct db *db_pool_get(struct db_pool *pool);
/*
 * The same for a request that will write: writers take a handle one at
 * a time (SQLite lets one write anyway), so that writers queueing for
 * the lock (failed logins' audit rows, upload creations and checkpoints,
 * decisions: each with its fsync) wait without a handle and never starve
 * the readers. Waits up to the busy timeout
 * for its turn, then as db_pool_get(). NULL (logged) as there.
 */
struct db *db_pool_get_writer(struct db_pool *pool);
/* Gives db back (rolling back any transaction left open), with its
 * writer's turn if it had one; NULL is fine. */
void db_pool_put(struct db_pool *pool, struct db *db);

#endif
