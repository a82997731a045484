#include "chorus/worker_api.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "chorus/app.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/message.h"
#include "chorus/util.h"

/* A token's last_seen_at is written at most this often (s). */
#define SEEN_WRITE_S 60

/* ---- tokens ----------------------------------------------------------- */

static bool token_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > WORKER_TOKEN_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int worker_token_add(struct db *db, const char *name)
{
    char token[UTIL_TOKEN_LEN + 1];
    unsigned char hash[MESSAGE_HASH_LEN];
    struct db_stmt *st;
    int rc;

    if (!token_name_ok(name))
        return 1;
    util_random_token(token);
    message_token_hash(token, hash);
    if ((st = db_stmt(db, STMT_WTOKEN_INSERT)) == NULL)
        return -1;
    db_bind_text(st, 1, name);
    db_bind_blob(st, 2, hash, sizeof(hash));
    db_bind_int(st, 3, util_now());
    rc = db_step(st);
    if (rc == DB_CONSTRAINT)
        return 1;
    if (rc < 0)
        return -1;
    printf("worker token for %s (shown once: keep it in a file only its "
           "worker can read):\n%s\n",
           name, token);
    sodium_memzero(token, sizeof(token));
    return 0;
}

int worker_token_list(struct db *db, FILE *out)
{
    struct db_stmt *st = db_stmt(db, STMT_WTOKEN_LIST);
    int rc;

    if (st == NULL)
        return -1;
    while ((rc = db_step(st)) == DB_ROW) {
        char made[21], last[21] = "never", gone[21] = "";

        util_iso8601(db_col_int(st, 1), made);
        if (!db_col_is_null(st, 2))
            util_iso8601(db_col_int(st, 2), last);
        if (!db_col_is_null(st, 3))
            util_iso8601(db_col_int(st, 3), gone);
        fprintf(out, "%-32s made %s  last seen %-20s%s%s\n", db_col_text(st, 0),
                made, last, gone[0] ? "  revoked " : "", gone);
    }
    return rc < 0 ? -1 : 0;
}

int worker_token_revoke(struct db *db, const char *name)
{
    struct db_stmt *st = db_stmt(db, STMT_WTOKEN_REVOKE);

    if (st == NULL)
        return -1;
    db_bind_text(st, 1, name);
    db_bind_int(st, 2, util_now());
    if (db_step(st) < 0)
        return -1;
    return db_changes(db) > 0 ? 0 : 1;
}

/* Notes when name's token was last used, at most once a minute: a
 * record for `worker-token list`, not a condition of the request. */
static void token_seen(struct request *req, const char *name, int64_t last)
{
    struct db_stmt *st;
    struct db *db;

    if (util_now() - last < SEEN_WRITE_S ||
        (db = db_pool_get_writer(req->app->db)) == NULL)
        return;
    if ((st = db_stmt(db, STMT_WTOKEN_SEEN)) != NULL) {
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, util_now());
        db_step(st);
    }
    db_pool_put(req->app->db, db);
}

int worker_api_authenticate(struct request *req)
{
    const char *auth = http_header(req, "Authorization");
    unsigned char hash[MESSAGE_HASH_LEN];
    struct db_stmt *st;
    struct db *db;
    int64_t last = 0;
    int rc;

    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 ||
        strlen(auth + 7) != UTIL_TOKEN_LEN)
        return http_error(req, MHD_HTTP_UNAUTHORIZED, "token_required",
                          "a worker token is required");
    message_token_hash(auth + 7, hash);
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    if ((st = db_stmt(db, STMT_WTOKEN_BY_HASH)) == NULL) {
        db_pool_put(req->app->db, db);
        return http_db_error(req, DB_ERROR);
    }
    /* Looked up by its hash (a unique index), as receipts are: the token
     * itself is never stored, nor compared byte by byte. */
    db_bind_blob(st, 1, hash, sizeof(hash));
    rc = db_step(st);
    if (rc == DB_ROW) {
        snprintf(req->worker_token, sizeof(req->worker_token), "%s",
                 db_col_text(st, 0));
        last = db_col_is_null(st, 1) ? 0 : db_col_int(st, 1);
        db_reset(st);
    }
    db_pool_put(req->app->db, db);
    if (rc < 0)
        return http_db_error(req, rc);
    if (rc != DB_ROW)
        return http_error(req, MHD_HTTP_UNAUTHORIZED, "token_refused",
                          "this worker token is unknown or revoked");
    token_seen(req, req->worker_token, last);
    return 0;
}

int worker_api_hello(struct request *req)
{
    return http_json(req, MHD_HTTP_OK,
                     json_pack("{s:s}", "worker", req->worker_token));
}
