/* Route matching: literals, {params}, the * tail, HEAD, 405 and Allow. */
#include "chorus/router.h"
#include "test.h"

static int h_a(struct request *r)
{
    (void)r;
    return 1;
}

static const struct route table[] = {
    {"GET", "/", h_a, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"GET", "/healthz", h_a, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"POST", "/api/v1/messages", h_a, ACCESS_PUBLIC, BODY_JSON, NULL, NULL},
    {"GET", "/api/v1/messages", h_a, ACCESS_USER, BODY_NONE, NULL, NULL},
    {"GET", "/api/v1/messages/{id}", h_a, ACCESS_USER, BODY_NONE, NULL, NULL},
    {"POST", "/api/v1/messages/{id}/approve", h_a, ACCESS_MODERATOR, BODY_JSON,
     NULL, NULL},
    {"HEAD", "/api/v1/uploads/{id}", h_a, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
    {"PATCH", "/api/v1/uploads/{id}", h_a, ACCESS_PUBLIC, BODY_STREAM, NULL,
     NULL},
    {"GET", "/media/{id}/{file}", h_a, ACCESS_USER, BODY_NONE, NULL, NULL},
    {"GET", "/static/*", h_a, ACCESS_PUBLIC, BODY_NONE, NULL, NULL},
};

static const struct {
    const char *method, *path;
    int rc;
    int route; /* index in table, when found */
    const char *param, *value;
    const char *allow;
} cases[] = {
    {"GET", "/", ROUTER_FOUND, 0, NULL, NULL, NULL},
    {"HEAD", "/", ROUTER_FOUND, 0, NULL, NULL, NULL},
    {"GET", "/healthz", ROUTER_FOUND, 1, NULL, NULL, NULL},
    {"GET", "/healthz/", ROUTER_NOT_FOUND, 0, NULL, NULL, NULL},
    {"GET", "/healthzz", ROUTER_NOT_FOUND, 0, NULL, NULL, NULL},
    {"GET", "", ROUTER_NOT_FOUND, 0, NULL, NULL, NULL},
    {"GET", "healthz", ROUTER_NOT_FOUND, 0, NULL, NULL, NULL},
    {"POST", "/api/v1/messages", ROUTER_FOUND, 2, NULL, NULL, NULL},
    {"GET", "/api/v1/messages", ROUTER_FOUND, 3, NULL, NULL, NULL},
    {"DELETE", "/api/v1/messages", ROUTER_BAD_METHOD, 0, NULL, NULL,
     "POST, GET, HEAD"},
    {"GET", "/api/v1/messages/abc", ROUTER_FOUND, 4, "id", "abc", NULL},
    {"GET", "/api/v1/messages/", ROUTER_NOT_FOUND, 0, NULL, NULL, NULL},
    {"POST", "/api/v1/messages/x1/approve", ROUTER_FOUND, 5, "id", "x1", NULL},
    {"GET", "/api/v1/messages/x1/approve", ROUTER_BAD_METHOD, 0, NULL, NULL,
     "POST"},
    {"POST", "/api/v1/messages/x1/approve/", ROUTER_NOT_FOUND, 0, NULL, NULL,
     NULL},
    {"HEAD", "/api/v1/uploads/u7", ROUTER_FOUND, 6, "id", "u7", NULL},
    {"PATCH", "/api/v1/uploads/u7", ROUTER_FOUND, 7, "id", "u7", NULL},
    {"GET", "/media/m1/video.mp4", ROUTER_FOUND, 8, "file", "video.mp4", NULL},
    {"GET", "/media/m1//video.mp4", ROUTER_NOT_FOUND, 0, NULL, NULL, NULL},
    {"GET", "/static/app.js", ROUTER_FOUND, 9, "*", "app.js", NULL},
    {"GET", "/static/i18n/ru.json", ROUTER_FOUND, 9, "*", "i18n/ru.json", NULL},
    {"GET", "/static/../../etc/passwd", ROUTER_FOUND, 9, "*",
     "../../etc/passwd", NULL},
    {"GET", "/static", ROUTER_NOT_FOUND, 0, NULL, NULL, NULL},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct route_match m;
        char allow[64], value[64];
        int rc = router_match(table, sizeof(table) / sizeof(table[0]),
                              cases[i].method, cases[i].path, &m, allow,
                              sizeof(allow));

        if (rc != cases[i].rc)
            fprintf(stderr, "case %zu: %s %s\n", i, cases[i].method,
                    cases[i].path);
        CHECK_INT(rc, cases[i].rc);
        if (rc == ROUTER_FOUND && cases[i].rc == ROUTER_FOUND)
            CHECK(m.route == &table[cases[i].route]);
        if (cases[i].param != NULL && rc == ROUTER_FOUND) {
            CHECK(router_param(&m, cases[i].param, value, sizeof(value)) >= 0);
            CHECK_STR(value, cases[i].value);
        }
        if (cases[i].allow != NULL)
            CHECK_STR(allow, cases[i].allow);
    }

    /* Parameters that do not exist or do not fit are refused. */
    {
        struct route_match m;
        char small[3];

        CHECK_INT(router_match(table, 10, "GET", "/api/v1/messages/abcdef", &m,
                               NULL, 0),
                  ROUTER_FOUND);
        CHECK_INT(router_param(&m, "nope", small, sizeof(small)), -1);
        CHECK_INT(router_param(&m, "id", small, sizeof(small)), -1);
    }
    return TEST_RESULT();
}
