#include "chorus/static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chorus/app.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/util.h"

#define STATIC_PATH_MAX 512

static const char *const mime_map[][2] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".map", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".ico", "image/x-icon"},
    {".webmanifest", "application/manifest+json"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *static_mime(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot != NULL)
        for (size_t i = 0; i < ARRAY_LEN(mime_map); i++)
            if (strcasecmp(dot, mime_map[i][0]) == 0)
                return mime_map[i][1];
    return "application/octet-stream";
}

int static_path_ok(const char *rel)
{
    size_t len = strlen(rel);
    const char *seg = rel;

    if (len == 0 || len >= STATIC_PATH_MAX)
        return 0;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t slen = slash != NULL ? (size_t)(slash - seg) : strlen(seg);

        /* Empty, ".", "..", hidden files and node_modules are out. */
        if (slen == 0 || seg[0] == '.' ||
            (slen == 12 && strncmp(seg, "node_modules", 12) == 0))
            return 0;
        for (size_t i = 0; i < slen; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (c < 0x20 || c == 0x7f || c == '\\' || c == ':' || c == '%')
                return 0;
        }
        if (slash == NULL)
            return 1;
        seg = slash + 1;
    }
}

/* Serves web/<rel>; rel must already satisfy static_path_ok(). */
static int serve(struct request *req, const char *rel)
{
    const char *web = req->app->web_dir;
    char full[PATH_MAX], real[PATH_MAX], etag[64];
    struct MHD_Response *resp;
    struct stat st;
    size_t wlen = strlen(web);
    int fd = -1;

    if (util_fmt(full, sizeof(full), "%s/%s", web, rel) != 0)
        goto not_found;
    fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return http_file_error(req, errno);
    /* A link inside web/ must not lead out of it. */
    if (realpath(full, real) == NULL || strncmp(real, web, wlen) != 0 ||
        real[wlen] != '/')
        goto not_found;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto not_found;
    snprintf(etag, sizeof(etag), "\"%llx-%llx%09lx\"",
             (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec,
             (unsigned long)st.st_mtim.tv_nsec);
    if (http_not_modified(req, etag, "no-cache")) {
        close(fd);
        return MHD_HTTP_NOT_MODIFIED;
    }
    resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (resp == NULL) {
        close(fd);
        return http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "cannot send the file");
    }
    /* The response owns fd from here. */
    http_respond(req, MHD_HTTP_OK, resp);
    http_header_add(req, "Content-Type", static_mime(rel));
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Cache-Control", "no-cache");
    return MHD_HTTP_OK;
not_found:
    if (fd >= 0)
        close(fd);
    return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such file");
}

int static_panel(struct request *req)
{
    return serve(req, "panel.html");
}

int static_receipt(struct request *req)
{
    return serve(req, "receipt.html");
}

/* Runtime libraries installed by npm, served under vendor/ names. */
static const char *const vendor_map[][2] = {
    {"vendor/tus.min.js", "node_modules/tus-js-client/dist/tus.min.js"},
    {"vendor/tus.min.js.map", "node_modules/tus-js-client/dist/tus.min.js.map"},
};

int static_file(struct request *req)
{
    char rel[STATIC_PATH_MAX];

    if (router_param(&req->match, "*", rel, sizeof(rel)) < 0)
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such file");
    for (size_t i = 0; i < ARRAY_LEN(vendor_map); i++)
        if (strcmp(rel, vendor_map[i][0]) == 0)
            return serve(req, vendor_map[i][1]);
    if (!static_path_ok(rel))
        return http_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such file");
    return serve(req, rel);
}
