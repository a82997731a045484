#include "chorus/app.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/account.h"
#include "chorus/audit.h"
#include "chorus/campaign.h"
#include "chorus/campaign_api.h"
#include "chorus/claim.h"
#include "chorus/client.h"
#include "chorus/db.h"
#include "chorus/device.h"
#include "chorus/export.h"
#include "chorus/http.h"
#include "chorus/library.h"
#include "chorus/log.h"
#include "chorus/media.h"
#include "chorus/metrics.h"
#include "chorus/migrate.h"
#include "chorus/multipart.h"
#include "chorus/objstore.h"
#include "chorus/page.h"
#include "chorus/panel.h"
#include "chorus/prefs.h"
#include "chorus/receipt.h"
#include "chorus/result.h"
#include "chorus/retention.h"
#include "chorus/static.h"
#include "chorus/storage.h"
#include "chorus/studio.h"
#include "chorus/throttle.h"
#include "chorus/tus.h"
#include "chorus/upload.h"
#include "chorus/util.h"
#include "chorus/worker_api.h"

/* How long a request waits for one before it hears 503: far above a
 * request's normal hold (milliseconds), well below a client's patience. */
#define DB_POOL_WAIT_MS 3000

/*
 * The routes of Chorus, matched in order: {method, pattern, handler,
 * access, body}. Access is checked by http.c from this column alone.
 */
const struct route app_routes[] = {
    {"GET", "/healthz", http_healthz, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/", page_upload, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/panel", static_panel, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/receipt", static_receipt, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"POST", "/receipt", result_receipt, ACCESS_PUBLIC, BODY_JSON, NULL, NULL},
    {"GET", "/static/*", static_file, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},

    /* Campaigns: their pages, public views, QR codes and logos; the
     * admin API. */
    {"GET", "/c/{slug}", page_upload, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/c/{slug}/poster", page_poster, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"GET", "/c/{slug}/theme.css", page_theme, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"GET", "/api/v1/campaign", campaign_api_public, ACCESS_PUBLIC, BODY_NONE,
     NULL, NULL},
    {"GET", "/api/v1/campaigns", campaign_api_list, ACCESS_USER, BODY_NONE,
     NULL, NULL},
    {"POST", "/api/v1/campaigns", campaign_api_create, ACCESS_ADMIN, BODY_JSON,
     NULL, NULL},
    {"GET", "/api/v1/campaigns/{slug}", campaign_api_public, ACCESS_PUBLIC,
     BODY_NONE, NULL, NULL},
    {"PATCH", "/api/v1/campaigns/{slug}", campaign_api_update, ACCESS_ADMIN,
     BODY_JSON, NULL, NULL},
    {"GET", "/api/v1/campaigns/{slug}/qr.svg", campaign_api_qr_svg,
     ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/campaigns/{slug}/qr.png", campaign_api_qr_png,
     ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/campaigns/{slug}/logo.png", campaign_api_logo,
     ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"PUT", "/api/v1/campaigns/{slug}/logo", campaign_api_logo_put,
     ACCESS_ADMIN, BODY_STREAM, campaign_api_logo_begin,
     campaign_api_logo_body},

    /* Contributors: tus uploads, the plain form, receipts. */
    {"OPTIONS", "/api/v1/uploads", tus_options, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"POST", "/api/v1/uploads", tus_create, ACCESS_PUBLIC, BODY_STREAM,
     tus_create_begin, tus_body},
    {"HEAD", "/api/v1/uploads/{id}", tus_head, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"PATCH", "/api/v1/uploads/{id}", tus_patch, ACCESS_PUBLIC, BODY_STREAM,
     tus_patch_begin, tus_body},
    {"DELETE", "/api/v1/uploads/{id}", tus_delete, ACCESS_PUBLIC, BODY_NONE,
     NULL, NULL},
    {"POST", "/api/v1/messages", multipart_finish, ACCESS_PUBLIC, BODY_STREAM,
     multipart_begin, multipart_body},
    {"GET", "/api/v1/receipt", receipt_get, ACCESS_PUBLIC, BODY_NONE, NULL,
     NULL},
    {"DELETE", "/api/v1/receipt", receipt_delete, ACCESS_PUBLIC, BODY_NONE,
     NULL, NULL},

    /* The panel: sessions, review, media, users, audit, metrics. */
    {"POST", "/api/v1/session", account_login, ACCESS_PUBLIC, BODY_JSON, NULL,
     NULL},
    {"GET", "/api/v1/session", account_whoami, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"DELETE", "/api/v1/session", account_logout, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"GET", "/api/v1/messages", panel_list, ACCESS_USER, BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/messages/{id}", panel_get, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"POST", "/api/v1/messages/approve", panel_bulk_approve, ACCESS_MODERATOR,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/reshared", library_bulk_reshared, ACCESS_COMMS,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/approve", panel_approve, ACCESS_MODERATOR,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/claim", claim_post, ACCESS_MODERATOR,
     BODY_JSON, NULL, NULL},
    {"DELETE", "/api/v1/messages/{id}/claim", claim_delete, ACCESS_MODERATOR,
     BODY_NONE, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/reject", panel_reject, ACCESS_MODERATOR,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/reopen", panel_reopen, ACCESS_ADMIN,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/retry", panel_retry, ACCESS_ADMIN,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/reshared", library_reshared, ACCESS_COMMS,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/taken-down", library_taken_down,
     ACCESS_COMMS, BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/delete-files", retention_delete_files,
     ACCESS_ADMIN, BODY_JSON, NULL, NULL},
    {"GET", "/api/v1/messages/{id}/transcripts", studio_transcript_list,
     ACCESS_USER, BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/messages/{id}/transcripts/{lang}", studio_transcript_get,
     ACCESS_USER, BODY_NONE, NULL, NULL},
    {"PUT", "/api/v1/messages/{id}/transcripts/{lang}", studio_transcript_put,
     ACCESS_USER, BODY_JSON, NULL, NULL},
    {"GET", "/api/v1/messages/{id}/versions", studio_version_list, ACCESS_USER,
     BODY_NONE, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/versions", studio_version_post,
     ACCESS_COMMS, BODY_JSON, NULL, NULL},
    {"GET", "/media/{id}/v/{file}", media_get, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"GET", "/api/v1/export.zip", export_zip, ACCESS_COMMS, BODY_NONE, NULL,
     NULL},
    {"GET", "/media/{id}/{file}", media_get, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"GET", "/api/v1/users", account_users_list, ACCESS_ADMIN, BODY_NONE, NULL,
     NULL},
    {"POST", "/api/v1/users", account_users_create, ACCESS_ADMIN, BODY_JSON,
     NULL, NULL},
    {"PATCH", "/api/v1/users/{name}", account_users_update, ACCESS_ADMIN,
     BODY_JSON, NULL, NULL},
    {"DELETE", "/api/v1/users/{name}", account_users_disable, ACCESS_ADMIN,
     BODY_NONE, NULL, NULL},
    {"PUT", "/api/v1/users/{name}/campaigns", campaign_api_user_limits,
     ACCESS_ADMIN, BODY_JSON, NULL, NULL},
    {"GET", "/api/v1/audit", panel_audit, ACCESS_ADMIN, BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/preferences", prefs_get, ACCESS_USER, BODY_NONE, NULL,
     NULL},
    {"PUT", "/api/v1/preferences", prefs_put, ACCESS_USER, BODY_JSON, NULL,
     NULL},
    {"GET", "/metrics", metrics_get, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},

    /* Remote workers (worker_api.h): a worker token opens these, and
     * nothing else. */
    {"GET", "/api/v1/worker/hello", worker_api_hello, ACCESS_WORKER, BODY_NONE,
     NULL, NULL},
    {"POST", "/api/v1/worker/claim", worker_api_claim, ACCESS_WORKER, BODY_JSON,
     NULL, NULL},
    {"POST", "/api/v1/worker/jobs/{id}/heartbeat", worker_api_heartbeat,
     ACCESS_WORKER, BODY_JSON, NULL, NULL},
    {"GET", "/api/v1/worker/jobs/{id}/input", worker_api_input, ACCESS_WORKER,
     BODY_NONE, NULL, NULL},
    {"POST", "/api/v1/worker/jobs/{id}/outputs", worker_api_outputs,
     ACCESS_WORKER, BODY_JSON, NULL, NULL},
    {"PUT", "/api/v1/worker/jobs/{id}/outputs/{name}", worker_api_output_put,
     ACCESS_WORKER, BODY_STREAM, worker_api_output_begin,
     worker_api_output_body},
    {"POST", "/api/v1/worker/jobs/{id}/done", worker_api_done, ACCESS_WORKER,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/worker/jobs/{id}/fail", worker_api_fail, ACCESS_WORKER,
     BODY_JSON, NULL, NULL},
    {"POST", "/api/v1/worker/jobs/{id}/release", worker_api_release,
     ACCESS_WORKER, BODY_JSON, NULL, NULL},
};
const size_t app_routes_count = sizeof(app_routes) / sizeof(app_routes[0]);

int app_open_data(const struct config *cfg, struct db **db, char *db_path,
                  size_t db_path_len)
{
    char err[512];

    *db = NULL;
    if (util_mkdirs(cfg->data_dir, 0700) != 0) {
        log_warn("cannot create the data directory %s", cfg->data_dir);
        return -1;
    }
    if (util_fmt(db_path, db_path_len, "%s/chorus.db", cfg->data_dir) != 0) {
        log_warnx("the data directory path is too long");
        return -1;
    }
    if (db_open(db_path, db, err, sizeof(err)) != 0) {
        log_error("%s", err);
        return -1;
    }
    if (migrate_apply(*db, chorus_migrations, chorus_migrations_count, err,
                      sizeof(err)) < 0) {
        log_error("%s", err);
        db_close(*db);
        *db = NULL;
        return -1;
    }
    /* The audit log's key, and 0001's log re-chained under it; then,
     * where the old settings mean something, the default campaign takes
     * them (once). */
    if (audit_open(*db) != 0 ||
        ((cfg->cmd == CMD_SERVE || cfg->cmd == CMD_MIGRATE ||
          cfg->cmd == CMD_CAMPAIGN) &&
         campaign_adopt_settings(*db, cfg) != 0)) {
        db_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

int app_open(struct app *app, const struct config *cfg, struct db **db)
{
    char err[512];

    memset(app, 0, sizeof(*app));
    *db = NULL;
    app->cfg = cfg;
    if (realpath(cfg->web_dir, app->web_dir) == NULL) {
        log_warn("--web-dir %s", cfg->web_dir);
        return -1;
    }
    if (app_open_data(cfg, db, app->db_path, sizeof(app->db_path)) != 0)
        return -1;
    if (storage_init(cfg->data_dir) != 0) {
        log_warn("cannot create the directories of %s", cfg->data_dir);
        return -1;
    }
    /* A store that refuses us is said at start, not at the first clip. */
    if (s3_global_init() != 0 || objstore_open(cfg, &app->store) != 0 ||
        (app->store != NULL && objstore_check(app->store) != 0))
        return -1;
    if (client_nets_parse(cfg->trusted_proxy, &app->proxies, err,
                          sizeof(err)) != 0) {
        log_error("%s", err);
        return -1;
    }
    if (db_pool_new(app->db_path, cfg->db_handles, DB_POOL_WAIT_MS, &app->db,
                    err, sizeof(err)) != 0) {
        log_error("%s", err);
        return -1;
    }
    app->max_upload_bytes = (int64_t)cfg->max_upload_mb * 1024 * 1024;
    if (cfg->max_parked_mb_per_client > 0 &&
        cfg->max_parked_mb_per_client < cfg->max_upload_mb)
        log_warnx("--max-parked-mb-per-client %d is below --max-upload-mb %d: "
                  "a larger upload can never finish",
                  cfg->max_parked_mb_per_client, cfg->max_upload_mb);
    app->uploads = upload_registry_new();
    /* In 15 minutes: five wrong passwords per account from strangers,
     * twenty per client; ten from a browser the account logged in from
     * before (its owner mistyping, or a stolen cookie). */
    app->login_by_name = throttle_new(5, 900, 4096);
    app->login_by_client = throttle_new(20, 900, 4096);
    app->login_by_device = throttle_new(10, 900, 4096);
    if (device_key_load(cfg->data_dir, app->device_key) != 0)
        return -1;
    if ((app->workers = worker_api_new()) == NULL) {
        log_warnx("out of memory");
        return -1;
    }
    if (app->uploads == NULL || app->login_by_name == NULL ||
        app->login_by_client == NULL || app->login_by_device == NULL) {
        log_warnx("out of memory");
        return -1;
    }
    upload_recover(app, *db);
    return 0;
}

void app_close(struct app *app, struct db *db)
{
    upload_registry_free(app->uploads);
    client_nets_free(app->proxies);
    throttle_free(app->login_by_name);
    throttle_free(app->login_by_client);
    throttle_free(app->login_by_device);
    worker_api_free(app->workers);
    objstore_close(app->store);
    if (app->cfg != NULL)
        s3_global_cleanup();
    db_pool_free(app->db);
    db_close(db);
    memset(app, 0, sizeof(*app));
}
