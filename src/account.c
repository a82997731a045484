#include "chorus/account.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chorus/app.h"
#include "chorus/auth.h"
#include "chorus/campaign.h"
#include "chorus/db.h"
#include "chorus/device.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/throttle.h"

/* account_login()'s outcome when no database handle came free. */
#define LOGIN_BUSY (-2)

/* A throttle's key for the account name's folded key (names are longer
 * than a throttle key). */
static void name_throttle_key(const char *name_key, unsigned char out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)name_key, strlen(name_key));
}

static void set_cookie(struct request *req, const char *token, int max_age)
{
    char cookie[160];
    bool https = strncmp(req->app->cfg->public_url, "https://", 8) == 0;

    snprintf(cookie, sizeof(cookie),
             "chorus_session=%s; Path=/; HttpOnly; SameSite=Strict; "
             "Max-Age=%d%s",
             token, max_age, https ? "; Secure" : "");
    http_header_add(req, "Set-Cookie", cookie);
}

/* Gives the browser a new device cookie for the account of name_key
 * (device.h): sent back only to the login itself. */
static void set_device_cookie(struct request *req, const char *name_key)
{
    char name[DEVICE_NAME_LEN + 1], value[DEVICE_VALUE_LEN + 1], cookie[256];
    bool https = strncmp(req->app->cfg->public_url, "https://", 8) == 0;

    device_cookie_name(req->app->device_key, name_key, name);
    device_cookie_new(req->app->device_key, name_key, value);
    snprintf(cookie, sizeof(cookie),
             "%s=%s; Path=/api/v1/session; HttpOnly; SameSite=Strict; "
             "Max-Age=%d%s",
             name, value, DEVICE_COOKIE_MAX_AGE, https ? "; Secure" : "");
    http_header_add(req, "Set-Cookie", cookie);
}

static int session_answer(struct request *req, int status,
                          const struct session *s)
{
    return http_json(req, status,
                     json_pack("{s:s, s:s, s:s}", "user", s->username, "role",
                               auth_role_name(s->role), "csrf_token", s->csrf));
}

/* Answers 429 with Retry-After wait. */
static int too_many(struct request *req, int wait)
{
    char retry[16];

    snprintf(retry, sizeof(retry), "%d", wait);
    http_error(req, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_attempts",
               "too many failed logins; try again in %d s", wait);
    http_header_add(req, "Retry-After", retry);
    return req->status;
}

/*
 * POST /api/v1/session {"username", "password"}: 200 with the session
 * (cookie, CSRF token) and a fresh device cookie for the account; 401;
 * 429 with Retry-After.
 *
 * Throttling (device.h): a browser showing a valid device cookie for the
 * account typed is limited only by that cookie's own failures; anyone
 * else by the account's failures from strangers and by their client's
 * (http_client()), both keyed on what they are (the case-folded name,
 * the real client), never on the bytes typed. No database handle is held
 * while the password is hashed.
 */
int account_login(struct request *req)
{
    struct app *app = req->app;
    json_t *body = http_body_object(req);
    const char *user, *pw, *cookie;
    char token[UTIL_TOKEN_LEN + 1], key[AUTH_USERNAME_BYTES + 1];
    char cname[DEVICE_NAME_LEN + 1];
    unsigned char nkey[32], nonce[DEVICE_NONCE_LEN];
    const struct client *cl = http_client(req);
    struct auth_attempt a;
    struct session s;
    struct db *db;
    int64_t now = util_now();
    bool device;
    int wait, rc = -1;

    if (body == NULL)
        return req->status;
    user = json_string_value(json_object_get(body, "username"));
    pw = json_string_value(json_object_get(body, "password"));
    if (user == NULL || pw == NULL || strlen(user) > AUTH_USERNAME_BYTES ||
        strlen(pw) > AUTH_PASSWORD_MAX) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "send {\"username\", \"password\"}");
    }
    /* A name that does not fold (not UTF-8) throttles as its bytes. */
    if (auth_name_key(user, key) != 0)
        snprintf(key, sizeof(key), "%s", user);
    name_throttle_key(key, nkey);
    device_cookie_name(app->device_key, key, cname);
    cookie = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, cname);
    device = device_cookie_check(app->device_key, key, cookie, nonce);
    if (device)
        wait = throttle_wait(app->login_by_device, nonce, sizeof(nonce), now);
    else if ((wait = throttle_wait(app->login_by_name, nkey, sizeof(nkey),
                                   now)) == 0)
        wait = throttle_wait(app->login_by_client, cl->key, cl->len, now);
    if (wait > 0) {
        json_decref(body);
        return too_many(req, wait);
    }

    rc = LOGIN_BUSY;
    if ((db = db_pool_get(app->db)) == NULL)
        goto out;
    rc = auth_login_find(db, user, &a);
    db_pool_put(app->db, db);
    if (rc != 0)
        goto out;
    auth_login_check(&a, pw); /* argon2id, holding no handle */
    rc = LOGIN_BUSY;
    if ((db = db_pool_get_writer(app->db)) == NULL)
        goto out;
    rc = auth_login_record(db, &a, app->cfg->session_max, token, &s);
    db_pool_put(app->db, db);
    if (rc == 0 && device) {
        throttle_fail(app->login_by_device, nonce, sizeof(nonce), now);
    } else if (rc == 0) {
        throttle_fail(app->login_by_name, nkey, sizeof(nkey), now);
        throttle_fail(app->login_by_client, cl->key, cl->len, now);
    } else if (rc == 1 && device) {
        throttle_reset(app->login_by_device, nonce, sizeof(nonce));
    } else if (rc == 1) {
        throttle_reset(app->login_by_name, nkey, sizeof(nkey));
    }
out:
    json_decref(body);
    sodium_memzero(&a, sizeof(a));
    if (rc == LOGIN_BUSY)
        return http_db_error(req, DB_BUSY);
    if (rc < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    if (rc == 0)
        return http_error(req, MHD_HTTP_UNAUTHORIZED, "bad_credentials",
                          "wrong username or password");
    log_info("login: %s", s.username);
    session_answer(req, MHD_HTTP_OK, &s);
    set_cookie(req, token, app->cfg->session_max);
    set_device_cookie(req, key);
    sodium_memzero(token, sizeof(token));
    return req->status;
}

int account_whoami(struct request *req)
{
    return session_answer(req, MHD_HTTP_OK, &req->session);
}

int account_logout(struct request *req)
{
    struct db *db = db_pool_get(req->app->db);
    int rc;

    if (db == NULL)
        return http_db_error(req, DB_BUSY);
    rc = auth_logout(db, &req->session);
    db_pool_put(req->app->db, db);
    if (rc != 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    http_empty(req, MHD_HTTP_NO_CONTENT);
    set_cookie(req, "", 0);
    return req->status;
}

int account_users_list(struct request *req)
{
    struct db *db = db_pool_get(req->app->db);
    struct db_stmt *st;
    json_t *items;
    int rc = DB_ERROR;

    if (db == NULL)
        return http_db_error(req, DB_BUSY);
    st = db_stmt(db, STMT_USER_LIST);
    items = json_array();
    while (st != NULL && (rc = db_step(st)) == DB_ROW) {
        char when[21];
        util_iso8601(db_col_int(st, 4), when);
        /* With the campaigns the user is limited to ([]: every one). */
        json_array_append_new(
            items,
            json_pack("{s:s, s:s, s:b, s:s, s:o}", "username",
                      db_col_text(st, 1), "role", db_col_text(st, 2),
                      "disabled", (int)db_col_int(st, 3), "created_at", when,
                      "campaigns", campaign_user_slugs(db, db_col_int(st, 0))));
    }
    db_pool_put(req->app->db, db);
    if (rc != DB_DONE) {
        json_decref(items);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    }
    return http_json(req, MHD_HTTP_OK, json_pack("{s:o}", "items", items));
}

int account_users_create(struct request *req)
{
    json_t *body = http_body_object(req);
    const char *name, *role_s, *pw, *why = NULL;
    char generated[UTIL_TOKEN_LEN + 1] = "";
    enum role role;
    struct db *db;
    int64_t id;

    if (body == NULL)
        return req->status;
    name = json_string_value(json_object_get(body, "username"));
    role_s = json_string_value(json_object_get(body, "role"));
    pw = json_string_value(json_object_get(body, "password"));
    role = auth_role_parse(role_s);
    if (name == NULL || (why = auth_username_invalid(name)) != NULL) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_username", "%s",
                          name == NULL ? "username is required" : why);
    }
    if (role == ROLE_NONE) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_role",
                          "role must be admin, moderator or comms");
    }
    if (pw != NULL && (why = auth_password_weak(pw)) != NULL) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "weak_password", "%s",
                          why);
    }
    if (pw == NULL) {
        util_random_token(generated);
        generated[24] = '\0';
        pw = generated;
    }
    if ((db = db_pool_get(req->app->db)) == NULL) {
        json_decref(body);
        return http_db_error(req, DB_BUSY);
    }
    id = auth_user_add(db, req->session.username, name, pw, role);
    db_pool_put(req->app->db, db);
    if (id == 0) {
        json_decref(body);
        return http_error(req, MHD_HTTP_CONFLICT, "taken",
                          "a user with this name exists");
    }
    if (id < 0) {
        json_decref(body);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    }
    http_json(req, MHD_HTTP_CREATED,
              generated[0] != '\0'
                  ? json_pack("{s:s, s:s, s:s}", "username", name, "role",
                              auth_role_name(role), "password", generated)
                  : json_pack("{s:s, s:s}", "username", name, "role",
                              auth_role_name(role)));
    sodium_memzero(generated, sizeof(generated));
    json_decref(body);
    return req->status;
}

/* Applies change to {name}; answers 200 / 404 / 409. */
static int update_user(struct request *req, const struct user_change *change)
{
    char name[AUTH_USERNAME_BYTES + 1];
    struct db *db;
    int rc;

    if (router_param(&req->match, "name", name, sizeof(name)) < 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such user");
    if ((db = db_pool_get(req->app->db)) == NULL)
        return http_db_error(req, DB_BUSY);
    rc = auth_user_update(db, req->session.username, name, change);
    db_pool_put(req->app->db, db);
    if (rc == 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such user");
    if (rc == -2)
        return http_error(req, MHD_HTTP_CONFLICT, "last_admin",
                          "this would leave no active admin");
    if (rc < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    return http_json(req, MHD_HTTP_OK, json_pack("{s:s}", "username", name));
}

int account_users_update(struct request *req)
{
    json_t *body = http_body_object(req), *v;
    struct user_change change = {ROLE_NONE, -1, NULL};
    const char *why = NULL;
    int rc;

    if (body == NULL)
        return req->status;
    if ((v = json_object_get(body, "role")) != NULL &&
        (change.role = auth_role_parse(json_string_value(v))) == ROLE_NONE) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_role",
                          "role must be admin, moderator or comms");
    }
    if ((v = json_object_get(body, "disabled")) != NULL) {
        if (!json_is_boolean(v)) {
            json_decref(body);
            return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                              "disabled is true or false");
        }
        change.disabled = json_is_true(v);
    }
    if ((v = json_object_get(body, "password")) != NULL) {
        change.password = json_string_value(v);
        if (change.password == NULL ||
            (why = auth_password_weak(change.password)) != NULL) {
            json_decref(body);
            return http_error(req, MHD_HTTP_BAD_REQUEST, "weak_password", "%s",
                              change.password == NULL ? "a string, please"
                                                      : why);
        }
    }
    rc = update_user(req, &change);
    json_decref(body);
    return rc;
}

int account_users_disable(struct request *req)
{
    struct user_change change = {ROLE_NONE, 1, NULL};

    return update_user(req, &change);
}
