/* The response helpers that need no connection: If-None-Match lists, and
 * which status a server-side failure is answered with (never 404 for a
 * fault of the server's own). */
#include <errno.h>

#include "chorus/db.h"
#include "chorus/http.h"
#include "test.h"

static const struct {
    const char *list, *etag;
    bool want;
} etags[] = {
    {"\"a1\"", "\"a1\"", true},
    {"\"zz\", \"a1\"", "\"a1\"", true},
    {"\"zz\",\"a1\"", "\"a1\"", true},
    {"W/\"a1\"", "\"a1\"", true}, /* If-None-Match compares weakly */
    {" \"zz\" , W/\"a1\" ", "\"a1\"", true},
    {"\"a1x\"", "\"a1\"", false},
    {"\"xa1\"", "\"a1\"", false},
    {"\"a\", \"1\"", "\"a1\"", false},
    {"a1", "\"a1\"", false}, /* not a quoted tag */
    {"\"a1", "\"a1\"", false},
    {"", "\"a1\"", false},
    {"\"zz\", garbage, \"a1\"", "\"a1\"", false}, /* malformed: no match */
};

static const struct {
    int err, status;
} file_errors[] = {
    {ENOENT, 404}, {ENOTDIR, 404}, {ELOOP, 404},  {EMFILE, 503},
    {ENFILE, 503}, {ENOMEM, 503},  {EACCES, 500}, {EIO, 500},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(etags) / sizeof(etags[0]); i++) {
        if (http_etag_listed(etags[i].list, etags[i].etag) != etags[i].want)
            fprintf(stderr, "If-None-Match: %s\n", etags[i].list);
        CHECK(http_etag_listed(etags[i].list, etags[i].etag) == etags[i].want);
    }
    for (size_t i = 0; i < sizeof(file_errors) / sizeof(file_errors[0]); i++) {
        struct request req;

        memset(&req, 0, sizeof(req));
        CHECK_INT(http_file_error(&req, file_errors[i].err),
                  file_errors[i].status);
        CHECK_INT(req.status, file_errors[i].status);
        CHECK(req.response != NULL);
        MHD_destroy_response(req.response);
    }
    {
        struct request req;

        memset(&req, 0, sizeof(req));
        CHECK_INT(http_db_error(&req, DB_BUSY), 503);
        CHECK(MHD_get_response_header(req.response, "Retry-After") != NULL);
        MHD_destroy_response(req.response);
        memset(&req, 0, sizeof(req));
        CHECK_INT(http_db_error(&req, DB_ERROR), 500);
        MHD_destroy_response(req.response);
    }
    return TEST_RESULT();
}
