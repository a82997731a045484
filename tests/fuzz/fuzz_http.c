/*
 * libFuzzer: whole HTTP requests against the real server in this process
 * (libmicrohttpd, the route table, cookies and sessions, JSON bodies, tus
 * headers and Upload-Metadata, multipart bodies through libmicrohttpd's
 * post processor, Range headers). Each input is sent over a fresh
 * loopback connection, the write side closed, and the answer read to
 * its end. "@SESSION@" and "@CSRF@" in an input become a live admin
 * session's cookie and CSRF token, so the panel's routes are reached too;
 * "@UPLOAD@" becomes the id of an unfinished upload made for that input
 * (100 bytes long, 5 of them in), so PATCH, HEAD and DELETE reach a live
 * upload. The server trusts 127.0.0.1 as a proxy: X-Forwarded-For and
 * Forwarded are parsed too.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "build_info.h"
#include "chorus/app.h"
#include "chorus/auth.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/storage.h"
#include "chorus/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;
static struct app app;
static struct http_server *srv;
static int port;
static char token[UTIL_TOKEN_LEN + 1], csrf[UTIL_TOKEN_LEN + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char dir[] = "/tmp/chorus-fuzz-http-XXXXXX";
    char *args[] = {"--data-dir",
                    dir,
                    "--listen",
                    "127.0.0.1:0",
                    "--workers",
                    "0",
                    "--idle-timeout",
                    "2",
                    "--max-upload-mb",
                    "4",
                    "--min-free-mb",
                    "0",
                    "--max-uploads-per-client",
                    "0",
                    "--max-open-uploads-per-client",
                    "0",
                    "--trusted-proxy",
                    "127.0.0.1/32"};
    char err[256];
    struct session s;
    struct db *db = NULL;

    (void)argc;
    (void)argv;
    if (mkdtemp(dir) == NULL || util_init() != 0 ||
        config_parse(&cfg, CMD_SERVE, (int)(sizeof(args) / sizeof(args[0])),
                     args, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_http: setup failed\n");
        exit(1);
    }
    log_init(LOG_LVL_ERROR, "fuzz");
    if (app_open(&app, &cfg, &db) != 0 ||
        auth_user_add(db, "fuzz", "admin", "fuzz-admin-password", ROLE_ADMIN) <=
            0 ||
        auth_login(db, "admin", "fuzz-admin-password", 3600, token, &s) != 1 ||
        http_start(&app, &srv) != 0) {
        fprintf(stderr, "fuzz_http: cannot start the server\n");
        exit(1);
    }
    db_close(db);
    memcpy(csrf, s.csrf, sizeof(csrf));
    port = http_port(srv);
    return 0;
}

/* Makes an unfinished upload, 5 of its 100 bytes in, as a creation and
 * a first PATCH would leave it; its id goes to id. 0, or -1. */
static int live_upload(char id[UTIL_ID_LEN + 1])
{
    struct message_meta meta;
    unsigned char hash[MESSAGE_HASH_LEN];
    char path[PATH_MAX];
    struct db *db;
    int fd, rc;

    util_random_id(id);
    randombytes_buf(hash, sizeof(hash));
    meta_init(&meta);
    snprintf(meta.country, sizeof(meta.country), "BY");
    snprintf(meta.language, sizeof(meta.language), "be");
    snprintf(meta.consent_version, sizeof(meta.consent_version), "1");
    snprintf(meta.consent_scope, sizeof(meta.consent_scope), "public");
    if (storage_path(cfg.data_dir, STORAGE_PART, id, path, sizeof(path)) != 0 ||
        (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        return -1;
    rc = write(fd, "hello", 5) == 5 ? 0 : -1;
    close(fd);
    if (rc != 0 || (db = db_pool_get(app.db)) == NULL)
        return -1;
    rc = message_create(db, id, &meta, hash, 100, 5, util_now() + 3600, false);
    db_pool_put(app.db, db);
    return rc;
}

/* Copies data into out, replacing the placeholders; returns its length. */
static size_t expand(const uint8_t *data, size_t size, char *out)
{
    char upload[UTIL_ID_LEN + 1] = "";
    size_t o = 0;

    for (size_t i = 0; i < size;) {
        if (size - i >= 8 && memcmp(data + i, "@UPLOAD@", 8) == 0) {
            if (upload[0] == '\0' && live_upload(upload) != 0) {
                fprintf(stderr, "fuzz_http: cannot make an upload\n");
                abort();
            }
            memcpy(out + o, upload, UTIL_ID_LEN);
            o += UTIL_ID_LEN;
            i += 8;
        } else if (size - i >= 9 && memcmp(data + i, "@SESSION@", 9) == 0) {
            memcpy(out + o, token, UTIL_TOKEN_LEN);
            o += UTIL_TOKEN_LEN;
            i += 9;
        } else if (size - i >= 6 && memcmp(data + i, "@CSRF@", 6) == 0) {
            memcpy(out + o, csrf, UTIL_TOKEN_LEN);
            o += UTIL_TOKEN_LEN;
            i += 6;
        } else {
            out[o++] = (char)data[i++];
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv = {5, 0};
    char *req, buf[16384];
    size_t len, sent = 0;
    int fd;

    if (size > 1 << 20)
        return 0;
    /* Each placeholder (6 bytes at least) grows by at most
     * UTIL_TOKEN_LEN. */
    req = malloc(size * (UTIL_TOKEN_LEN / 6 + 1) + 1);
    if (req == NULL)
        return 0;
    len = expand(data, size, req);
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "fuzz_http: the server does not answer\n");
        abort(); /* the server died or stopped accepting */
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    while (sent < len) {
        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* answered early and closed: fine */
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    while (recv(fd, buf, sizeof(buf), 0) > 0)
        ;
    close(fd);
    free(req);
    return 0;
}
