#include "chorus/account.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chorus/app.h"
#include "chorus/auth.h"
#include "chorus/campaign.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/throttle.h"

/* The client address as throttle key bytes (kept in memory only). */
static size_t client_key(const struct request *req, unsigned char key[16])
{
    const struct sockaddr *sa = http_client_addr(req);

    if (sa != NULL && sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
               4);
        return 4;
    }
    if (sa != NULL && sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
               16);
        return 16;
    }
    return 0;
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

static int session_answer(struct request *req, int status,
                          const struct session *s)
{
    return http_json(req, status,
                     json_pack("{s:s, s:s, s:s}", "user", s->username, "role",
                               auth_role_name(s->role), "csrf_token", s->csrf));
}

int account_login(struct request *req)
{
    struct app *app = req->app;
    json_t *body = http_body_object(req);
    const char *user, *pw;
    char token[UTIL_TOKEN_LEN + 1];
    unsigned char ckey[16];
    size_t clen = client_key(req, ckey);
    struct session s;
    struct db *db;
    int64_t now = util_now();
    int wait, rc;

    if (body == NULL)
        return req->status;
    user = json_string_value(json_object_get(body, "username"));
    pw = json_string_value(json_object_get(body, "password"));
    if (user == NULL || pw == NULL || strlen(user) > AUTH_USERNAME_MAX ||
        strlen(pw) > AUTH_PASSWORD_MAX) {
        json_decref(body);
        return http_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "send {\"username\", \"password\"}");
    }
    wait = throttle_wait(app->login_by_name, user, strlen(user), now);
    if (wait == 0)
        wait = throttle_wait(app->login_by_client, ckey, clen, now);
    if (wait > 0) {
        char retry[16];
        json_decref(body);
        snprintf(retry, sizeof(retry), "%d", wait);
        http_error(req, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_attempts",
                   "too many failed logins; try again in %d s", wait);
        http_header_add(req, "Retry-After", retry);
        return req->status;
    }
    db = db_pool_get(app->db);
    rc = auth_login(db, user, pw, app->cfg->session_max, token, &s);
    db_pool_put(app->db, db);
    if (rc == 0) {
        throttle_fail(app->login_by_name, user, strlen(user), now);
        throttle_fail(app->login_by_client, ckey, clen, now);
    } else if (rc == 1) {
        throttle_reset(app->login_by_name, user, strlen(user));
    }
    json_decref(body);
    if (rc < 0)
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "database error");
    if (rc == 0)
        return http_error(req, MHD_HTTP_UNAUTHORIZED, "bad_credentials",
                          "wrong username or password");
    log_info("login: %s", s.username);
    session_answer(req, MHD_HTTP_OK, &s);
    set_cookie(req, token, app->cfg->session_max);
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
    int rc = auth_logout(db, &req->session);

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
    struct db_stmt *st = db_stmt(db, STMT_USER_LIST);
    json_t *items = json_array();
    int rc = DB_ERROR;

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
    db = db_pool_get(req->app->db);
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
    char name[AUTH_USERNAME_MAX + 1];
    struct db *db;
    int rc;

    if (router_param(&req->match, "name", name, sizeof(name)) < 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such user");
    db = db_pool_get(req->app->db);
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
