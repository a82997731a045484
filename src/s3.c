#include "chorus/s3.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "chorus/log.h"
#include "chorus/util.h"

/* Tries of one request that failed on the network or with a 5xx. */
#define TRIES 3
/* An error answer's body, kept to read its code and message. */
#define ERROR_BODY_MAX 8192
/* What a list or multipart answer may be. */
#define XML_BODY_MAX (4 * 1024 * 1024)
/* A streamed read's buffer. */
#define READER_BUF (256 * 1024)
#define EMPTY_SHA256                                                           \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
    char scheme[8];      /* "http" or "https" */
    char authority[256]; /* host[:port] of the endpoint */
    char region[64];
    char bucket[64];
    char prefix[128];
    bool virtual_host;
    long timeout; /* seconds a request may stall */
    char *access_key, *secret_key;
};

static atomic_llong op_requests[S3_OP__COUNT], op_errors[S3_OP__COUNT];

static const char *const op_names[S3_OP__COUNT] = {
    [S3_OP_PUT] = "put",   [S3_OP_GET] = "get",
    [S3_OP_HEAD] = "head", [S3_OP_DELETE] = "delete",
    [S3_OP_LIST] = "list", [S3_OP_MULTIPART] = "multipart",
};

const char *s3_op_name(enum s3_op op)
{
    return (unsigned)op < S3_OP__COUNT ? op_names[op] : "?";
}

void s3_counts(enum s3_op op, int64_t *requests, int64_t *errors)
{
    *requests = atomic_load(&op_requests[op]);
    *errors = atomic_load(&op_errors[op]);
}

int s3_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void s3_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ---- names ------------------------------------------------------------ */

static bool bucket_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

static bool prefix_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '/';
}

int s3_parse_url(const char *url, char *bucket, size_t bucket_len, char *prefix,
                 size_t prefix_len)
{
    const char *b, *slash;
    size_t n, p;

    if (strncmp(url, "s3://", 5) != 0)
        return -1;
    b = url + 5;
    slash = strchr(b, '/');
    n = slash != NULL ? (size_t)(slash - b) : strlen(b);
    if (n < 3 || n > 63 || n >= bucket_len)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!bucket_char(b[i]))
            return -1;
    memcpy(bucket, b, n);
    bucket[n] = '\0';
    prefix[0] = '\0';
    if (slash == NULL)
        return 0;
    slash++;
    p = strlen(slash);
    while (p > 0 && slash[p - 1] == '/')
        p--;
    if (p >= prefix_len || slash[0] == '/')
        return -1;
    for (size_t i = 0; i < p; i++)
        if (!prefix_char(slash[i]) || (slash[i] == '/' && slash[i + 1] == '/'))
            return -1;
    memcpy(prefix, slash, p);
    prefix[p] = '\0';
    return 0;
}

int s3_uri_encode(const char *s, bool keep_slash, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                     c == '_' || c == '~' || (keep_slash && c == '/');
        if (o + (plain ? 1 : 3) >= outlen)
            return -1;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return 0;
}

int s3_open(const struct s3_config *c, struct s3 **out, char *err,
            size_t errlen)
{
    struct s3 *s = calloc(1, sizeof(*s));
    const char *sep = strstr(c->endpoint, "://");
    size_t slen;

    *out = NULL;
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (sep == NULL || (size_t)(sep - c->endpoint) >= sizeof(s->scheme) ||
        (strncmp(c->endpoint, "http://", 7) != 0 &&
         strncmp(c->endpoint, "https://", 8) != 0)) {
        snprintf(err, errlen,
                 "--s3-endpoint wants http:// or https:// and a host");
        goto fail;
    }
    memcpy(s->scheme, c->endpoint, (size_t)(sep - c->endpoint));
    slen = strcspn(sep + 3, "/?#");
    if (slen == 0 || slen >= sizeof(s->authority) || sep[3 + slen] == '?' ||
        sep[3 + slen] == '#' ||
        (sep[3 + slen] == '/' && sep[4 + slen] != '\0')) {
        snprintf(err, errlen, "--s3-endpoint: a scheme and host[:port] only");
        goto fail;
    }
    memcpy(s->authority, sep + 3, slen);
    if (snprintf(s->region, sizeof(s->region), "%s", c->region) >=
            (int)sizeof(s->region) ||
        c->region[0] == '\0' ||
        snprintf(s->bucket, sizeof(s->bucket), "%s", c->bucket) >=
            (int)sizeof(s->bucket) ||
        snprintf(s->prefix, sizeof(s->prefix), "%s", c->prefix) >=
            (int)sizeof(s->prefix)) {
        snprintf(err, errlen, "the S3 region, bucket or prefix is too long");
        goto fail;
    }
    for (const char *r = s->region; *r != '\0'; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') ||
              *r == '-')) {
            snprintf(err, errlen, "--s3-region: a name such as eu-west-1");
            goto fail;
        }
    s->virtual_host = c->virtual_host;
    s->timeout = c->timeout_s > 0 ? c->timeout_s : 30;
    if (c->access_key == NULL || c->access_key[0] == '\0' ||
        c->secret_key == NULL || c->secret_key[0] == '\0') {
        snprintf(err, errlen,
                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");
        goto fail;
    }
    if ((s->access_key = strdup(c->access_key)) == NULL ||
        (s->secret_key = strdup(c->secret_key)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    s3_close(s);
    return -1;
}

void s3_close(struct s3 *s)
{
    if (s == NULL)
        return;
    if (s->access_key != NULL)
        sodium_memzero(s->access_key, strlen(s->access_key));
    if (s->secret_key != NULL)
        sodium_memzero(s->secret_key, strlen(s->secret_key));
    free(s->access_key);
    free(s->secret_key);
    free(s);
}

/*
 * The URL of key (relative to the prefix; NULL or "": the bucket itself)
 * with query (sorted and encoded, or NULL), and the canonical URI and
 * host SigV4 signs. 0, or -1 if it does not fit.
 */
static int object_url(const struct s3 *s, const char *key, const char *query,
                      char *url, size_t url_len, char *uri, size_t uri_len,
                      char *host, size_t host_len)
{
    char path[S3_KEY_MAX + 160], enc[3 * (S3_KEY_MAX + 160) + 1];
    bool has_key = key != NULL && key[0] != '\0';

    if (util_fmt(path, sizeof(path), "%s%s%s", has_key ? s->prefix : "",
                 has_key && s->prefix[0] != '\0' ? "/" : "",
                 has_key ? key : "") != 0 ||
        s3_uri_encode(path, true, enc, sizeof(enc)) != 0)
        return -1;
    if (s->virtual_host) {
        if (util_fmt(host, host_len, "%s.%s", s->bucket, s->authority) != 0 ||
            util_fmt(uri, uri_len, "/%s", enc) != 0)
            return -1;
    } else if (util_fmt(host, host_len, "%s", s->authority) != 0 ||
               util_fmt(uri, uri_len, "/%s%s%s", s->bucket, has_key ? "/" : "",
                        enc) != 0) {
        return -1;
    }
    return util_fmt(url, url_len, "%s://%s%s%s%s", s->scheme, host, uri,
                    query != NULL ? "?" : "", query != NULL ? query : "");
}

/* ---- pre-signed URLs (SigV4 query parameters) ------------------------- */

static void hex_of(const unsigned char *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void hmac(const unsigned char *key, size_t key_len, const char *msg,
                 unsigned char out[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

int s3_presign(const struct s3 *s, const char *method, const char *key,
               int ttl_s, int64_t now, char *out, size_t outlen)
{
    char uri[1200], host[400], cred[600], query[1400], canon[3000];
    char date[16], stamp[20], to_sign[300], hash_hex[65], sig_hex[65];
    char *secret = NULL;
    unsigned char h[crypto_hash_sha256_BYTES], k[32], k2[32];
    time_t t = (time_t)now;
    struct tm tm;
    int rc = -1;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(date, sizeof(date), "%Y%m%d", &tm) == 0 ||
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
        return -1;
    /* The credential scope, encoded as a query value. */
    if (util_fmt(to_sign, sizeof(to_sign), "%s/%s/%s/s3/aws4_request",
                 s->access_key, date, s->region) != 0 ||
        s3_uri_encode(to_sign, false, cred, sizeof(cred)) != 0)
        return -1;
    if (util_fmt(query, sizeof(query),
                 "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s"
                 "&X-Amz-Date=%s&X-Amz-Expires=%d&X-Amz-SignedHeaders=host",
                 cred, stamp, ttl_s) != 0 ||
        object_url(s, key, NULL, out, outlen, uri, sizeof(uri), host,
                   sizeof(host)) != 0)
        return -1;
    /* The canonical request: method, URI, query, headers, their names,
     * and the payload's hash (unsigned: the holder sends the body). */
    if (util_fmt(canon, sizeof(canon), "%s\n%s\n%s\nhost:%s\n\nhost\n%s",
                 method, uri, query, host, "UNSIGNED-PAYLOAD") != 0)
        return -1;
    crypto_hash_sha256(h, (const unsigned char *)canon, strlen(canon));
    hex_of(h, sizeof(h), hash_hex);
    if (util_fmt(to_sign, sizeof(to_sign),
                 "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", stamp, date,
                 s->region, hash_hex) != 0)
        return -1;
    /* The signing key: HMAC("AWS4" secret, date), then region, service
     * and "aws4_request" in turn. */
    if ((secret = malloc(strlen(s->secret_key) + 5)) == NULL)
        return -1;
    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, s->secret_key, strlen(s->secret_key) + 1);
    hmac((const unsigned char *)secret, strlen(secret), date, k);
    hmac(k, sizeof(k), s->region, k2);
    hmac(k2, sizeof(k2), "s3", k);
    hmac(k, sizeof(k), "aws4_request", k2);
    hmac(k2, sizeof(k2), to_sign, h);
    hex_of(h, sizeof(h), sig_hex);
    if (util_fmt(out, outlen, "%s://%s%s?%s&X-Amz-Signature=%s", s->scheme,
                 host, uri, query, sig_hex) != 0)
        goto out;
    rc = 0;
out:
    sodium_memzero(secret, strlen(secret));
    free(secret);
    sodium_memzero(k, sizeof(k));
    sodium_memzero(k2, sizeof(k2));
    return rc;
}

/* ---- requests ---------------------------------------------------------- */

/* Where a request's body comes from, and where its answer goes. */
struct xfer {
    /* Upload: from fd at offset for len bytes, or from mem. */
    int fd;
    int64_t offset, len, sent;
    const char *mem;
    /* The answer's body: up to max bytes kept in body (NUL-ended). */
    char *body;
    size_t body_len, body_max;
    /* Its ETag and Content-Length headers. */
    char etag[S3_ETAG_MAX];
    int64_t content_length;
};

static size_t on_read(char *buf, size_t size, size_t n, void *opaque)
{
    struct xfer *x = opaque;
    size_t want = size * n;
    int64_t left = x->len - x->sent;

    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    if (x->mem != NULL) {
        memcpy(buf, x->mem + x->sent, want);
    } else {
        ssize_t got = pread(x->fd, buf, want, (off_t)(x->offset + x->sent));
        if (got <= 0)
            return CURL_READFUNC_ABORT;
        want = (size_t)got;
    }
    x->sent += (int64_t)want;
    return want;
}

static size_t on_write(char *p, size_t size, size_t n, void *opaque)
{
    struct xfer *x = opaque;
    size_t len = size * n, room;

    if (x->body_max == 0)
        return len;
    room = x->body_max - x->body_len;
    if (len > room)
        len = room; /* the rest is dropped: only the start matters */
    if (x->body == NULL && (x->body = malloc(x->body_max + 1)) == NULL)
        return 0;
    memcpy(x->body + x->body_len, p, len);
    x->body_len += len;
    x->body[x->body_len] = '\0';
    return size * n;
}

/* Copies header line p (without its CRLF) into out if it is name's. */
static bool header_value(const char *p, size_t len, const char *name, char *out,
                         size_t outlen)
{
    size_t nl = strlen(name), v;

    if (len <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
        return false;
    p += nl + 1;
    len -= nl + 1;
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len > 0 &&
           (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
        len--;
    v = len < outlen - 1 ? len : outlen - 1;
    memcpy(out, p, v);
    out[v] = '\0';
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque)
{
    struct xfer *x = opaque;
    char num[32];

    if (!header_value(p, size * n, "ETag", x->etag, sizeof(x->etag)) &&
        header_value(p, size * n, "Content-Length", num, sizeof(num)))
        x->content_length = strtoll(num, NULL, 10);
    return size * n;
}

/* Finds <tag>value</tag> in xml after *from; copies value (entities
 * decoded). Returns a pointer past it, or NULL. */
static const char *xml_value(const char *xml, const char *tag, char *out,
                             size_t outlen)
{
    char open[64], close[64];
    const char *a, *b;
    size_t o = 0;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    if (xml == NULL || (a = strstr(xml, open)) == NULL)
        return NULL;
    a += strlen(open);
    if ((b = strstr(a, close)) == NULL)
        return NULL;
    while (a < b && o + 1 < outlen) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'},
                    {"&lt;", '<'},
                    {"&gt;", '>'},
                    {"&quot;", '"'},
                    {"&apos;", '\''}};
        bool done = false;
        for (size_t i = 0; i < ARRAY_LEN(ents) && *a == '&'; i++) {
            size_t el = strlen(ents[i].ent);
            if ((size_t)(b - a) >= el && strncmp(a, ents[i].ent, el) == 0) {
                out[o++] = ents[i].c;
                a += el;
                done = true;
                break;
            }
        }
        if (!done)
            out[o++] = *a++;
    }
    out[o] = '\0';
    return b + strlen(close);
}

/* "403 SignatureDoesNotMatch: The request signature ..." into err. */
static void describe(const char *what, const char *key, long status,
                     const struct xfer *x, const char *curl_err, char *err,
                     size_t errlen)
{
    char code[64] = "", msg[200] = "";

    if (status == 0) {
        snprintf(err, errlen, "%s %s: %s", what, key, curl_err);
        return;
    }
    xml_value(x->body, "Code", code, sizeof(code));
    xml_value(x->body, "Message", msg, sizeof(msg));
    snprintf(err, errlen, "%s %s: HTTP %ld%s%s%s%s", what, key, status,
             code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
}

/*
 * One signed request: method on key with query; a body of len bytes from
 * x (fd or mem) if len >= 0, its SHA-256 hex as payload_hash (NULL:
 * unsigned), extra (a header line, or NULL). Retries network errors and
 * 5xx. Returns the HTTP status (x->body holds the answer's start), or -1
 * with err set.
 */
static long request(struct s3 *s, enum s3_op op, const char *method,
                    const char *key, const char *query, struct xfer *x,
                    const char *payload_hash, const char *extra, char *err,
                    size_t errlen)
{
    char url[S3_URL_MAX], uri[1200], host[400], sigv4[96], hash_hdr[120];
    char curl_err[CURL_ERROR_SIZE] = "";
    long status = -1;

    if (object_url(s, key, query, url, sizeof(url), uri, sizeof(uri), host,
                   sizeof(host)) != 0) {
        snprintf(err, errlen, "%s: the key is too long", key);
        return -1;
    }
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s->region);
    snprintf(hash_hdr, sizeof(hash_hdr), "x-amz-content-sha256: %s",
             payload_hash != NULL ? payload_hash
             : x->len < 0         ? EMPTY_SHA256
                                  : "UNSIGNED-PAYLOAD");
    for (int attempt = 1; attempt <= TRIES; attempt++) {
        struct curl_slist *hdrs = NULL, *h;
        CURL *c = curl_easy_init();
        CURLcode rc;

        atomic_fetch_add(&op_requests[op], 1);
        x->sent = 0;
        x->body_len = 0;
        x->etag[0] = '\0';
        x->content_length = -1;
        if (x->body != NULL)
            x->body[0] = '\0';
        if (c == NULL || (h = curl_slist_append(NULL, hash_hdr)) == NULL) {
            curl_easy_cleanup(c);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        hdrs = h;
        /* Every header in the list is signed, a removal ("Expect:") too,
         * which the store then misses: so none of those. */
        if (extra != NULL && (h = curl_slist_append(hdrs, extra)) != NULL)
            hdrs = h;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
        /* Apart, not "user:password": an access key may hold a colon
         * (Swift's tempauth names are account:user). */
        curl_easy_setopt(c, CURLOPT_USERNAME, s->access_key);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret_key);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->timeout);
        /* A stalled store is given up on (--s3-timeout). */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->timeout);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
        if (strcmp(method, "HEAD") == 0) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (x->len >= 0 && strcmp(method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->len);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, x);
        } else if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(x->len > 0 ? x->len : 0));
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, x);
        } else if (strcmp(method, "GET") != 0) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
        rc = curl_easy_perform(c);
        status = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        if (rc == CURLE_OK && status < 500)
            break;
        if (attempt < TRIES)
            usleep((useconds_t)(200000 * attempt));
    }
    if (status == 0 || status >= 300) {
        atomic_fetch_add(&op_errors[op], 1);
        if (!(status == 404 &&
              (op == S3_OP_DELETE || op == S3_OP_HEAD || op == S3_OP_GET)))
            describe(method, key != NULL ? key : "(bucket)", status, x,
                     curl_err[0] ? curl_err : "no answer", err, errlen);
        if (status == 0)
            return -1;
    }
    return status;
}

static void xfer_init(struct xfer *x, size_t body_max)
{
    memset(x, 0, sizeof(*x));
    x->fd = -1;
    x->len = -1;
    x->body_max = body_max;
}

static void xfer_release(struct xfer *x)
{
    free(x->body);
    x->body = NULL;
}

int s3_check(struct s3 *s, char *err, size_t errlen)
{
    struct xfer x;
    long st;

    xfer_init(&x, ERROR_BODY_MAX);
    st = request(s, S3_OP_LIST, "GET", NULL, "list-type=2&max-keys=1", &x, NULL,
                 NULL, err, errlen);
    xfer_release(&x);
    return st == 200 ? 0 : -1;
}

/* SHA-256 of len bytes of fd from offset, or of mem, as hex. 0, -1. */
static int sha256_of(int fd, const char *mem, int64_t offset, int64_t len,
                     char hex[65])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    char buf[65536];

    crypto_hash_sha256_init(&st);
    if (mem != NULL) {
        crypto_hash_sha256_update(&st, (const unsigned char *)mem,
                                  (unsigned long long)len);
    } else {
        for (int64_t done = 0; done < len;) {
            size_t want = len - done < (int64_t)sizeof(buf)
                              ? (size_t)(len - done)
                              : sizeof(buf);
            ssize_t n = pread(fd, buf, want, (off_t)(offset + done));
            if (n <= 0)
                return -1;
            crypto_hash_sha256_update(&st, (unsigned char *)buf, (size_t)n);
            done += n;
        }
    }
    crypto_hash_sha256_final(&st, h);
    hex_of(h, sizeof(h), hex);
    return 0;
}

static int put_single(struct s3 *s, const char *key, int fd, int64_t size,
                      char *etag, char *err, size_t errlen)
{
    struct xfer x;
    char hash[65];
    long st;

    if (sha256_of(fd, NULL, 0, size, hash) != 0) {
        snprintf(err, errlen, "PUT %s: cannot read the file: %s", key,
                 strerror(errno));
        return -1;
    }
    xfer_init(&x, ERROR_BODY_MAX);
    x.fd = fd;
    x.len = size;
    st = request(s, S3_OP_PUT, "PUT", key, NULL, &x, hash, NULL, err, errlen);
    if (st == 200 && etag != NULL)
        snprintf(etag, S3_ETAG_MAX, "%s", x.etag);
    else if (st != 200 && st > 0 && err[0] == '\0')
        snprintf(err, errlen, "PUT %s: HTTP %ld", key, st);
    xfer_release(&x);
    return st == 200 ? 0 : -1;
}

/* A multipart upload: parts read into memory so each is hashed and sent
 * whole; the store gets the list of their ETags at the end. */
static int put_parts(struct s3 *s, const char *key, int fd, int64_t size,
                     char *etag, char *err, size_t errlen)
{
    struct xfer x;
    char upload_id[512], enc_id[1600], query[1800], hash[65];
    char *part = NULL, *list = NULL;
    size_t list_len = 0, list_cap = 0;
    int64_t nparts = (size + S3_PART_SIZE - 1) / S3_PART_SIZE;
    int rc = -1;
    long st;

    xfer_init(&x, XML_BODY_MAX);
    st = request(s, S3_OP_MULTIPART, "POST", key, "uploads=", &x, NULL, NULL,
                 err, errlen);
    if (st != 200 ||
        xml_value(x.body, "UploadId", upload_id, sizeof(upload_id)) == NULL ||
        s3_uri_encode(upload_id, false, enc_id, sizeof(enc_id)) != 0) {
        if (st == 200)
            snprintf(err, errlen, "POST %s?uploads: no UploadId", key);
        xfer_release(&x);
        return -1;
    }
    xfer_release(&x);
    if ((part = malloc(S3_PART_SIZE)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto abort;
    }
    list_cap = (size_t)nparts * 128 + 128;
    if ((list = malloc(list_cap)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto abort;
    }
    list_len = (size_t)snprintf(list, list_cap, "<CompleteMultipartUpload>");
    for (int64_t i = 0; i < nparts; i++) {
        int64_t off = i * S3_PART_SIZE;
        size_t len =
            (size_t)(size - off < S3_PART_SIZE ? size - off : S3_PART_SIZE);
        size_t got = 0;

        while (got < len) {
            ssize_t n =
                pread(fd, part + got, len - got, (off_t)off + (off_t)got);
            if (n <= 0) {
                snprintf(err, errlen, "PUT %s: cannot read the file", key);
                goto abort;
            }
            got += (size_t)n;
        }
        sha256_of(-1, part, 0, (int64_t)len, hash);
        snprintf(query, sizeof(query), "partNumber=%lld&uploadId=%s",
                 (long long)(i + 1), enc_id);
        xfer_init(&x, ERROR_BODY_MAX);
        x.mem = part;
        x.len = (int64_t)len;
        st = request(s, S3_OP_MULTIPART, "PUT", key, query, &x, hash, NULL, err,
                     errlen);
        if (st != 200 || x.etag[0] == '\0') {
            xfer_release(&x);
            goto abort;
        }
        list_len += (size_t)snprintf(
            list + list_len, list_cap - list_len,
            "<Part><PartNumber>%lld</PartNumber><ETag>%s</ETag></Part>",
            (long long)(i + 1), x.etag);
        xfer_release(&x);
    }
    list_len += (size_t)snprintf(list + list_len, list_cap - list_len,
                                 "</CompleteMultipartUpload>");
    sha256_of(-1, list, 0, (int64_t)list_len, hash);
    snprintf(query, sizeof(query), "uploadId=%s", enc_id);
    xfer_init(&x, XML_BODY_MAX);
    x.mem = list;
    x.len = (int64_t)list_len;
    st = request(s, S3_OP_MULTIPART, "POST", key, query, &x, hash,
                 "Content-Type: application/xml", err, errlen);
    /* S3 may answer 200 and still fail, in the body. */
    if (st == 200 && x.body != NULL && strstr(x.body, "<Error>") != NULL) {
        describe("POST", key, st, &x, "", err, errlen);
        st = 500;
    }
    if (st == 200 && etag != NULL)
        xml_value(x.body, "ETag", etag, S3_ETAG_MAX);
    xfer_release(&x);
    if (st != 200)
        goto abort;
    rc = 0;
    goto out;
abort:
    snprintf(query, sizeof(query), "uploadId=%s", enc_id);
    {
        char ignored[256];
        xfer_init(&x, ERROR_BODY_MAX);
        request(s, S3_OP_MULTIPART, "DELETE", key, query, &x, NULL, NULL,
                ignored, sizeof(ignored));
        xfer_release(&x);
    }
out:
    free(part);
    free(list);
    return rc;
}

int s3_put_fd(struct s3 *s, const char *key, int fd, int64_t size, char *etag,
              char *err, size_t errlen)
{
    err[0] = '\0';
    if (etag != NULL)
        etag[0] = '\0';
    if (size <= S3_SINGLE_MAX)
        return put_single(s, key, fd, size, etag, err, errlen);
    return put_parts(s, key, fd, size, etag, err, errlen);
}

int s3_copy(struct s3 *s, const char *from, const char *to, char *err,
            size_t errlen)
{
    char path[S3_KEY_MAX + 160], enc[3 * sizeof(path)], hdr[sizeof(enc) + 64];
    struct xfer x;
    long st;

    err[0] = '\0';
    if (util_fmt(path, sizeof(path), "%s/%s%s%s", s->bucket, s->prefix,
                 s->prefix[0] != '\0' ? "/" : "", from) != 0 ||
        s3_uri_encode(path, true, enc, sizeof(enc)) != 0 ||
        util_fmt(hdr, sizeof(hdr), "x-amz-copy-source: /%s", enc) != 0) {
        snprintf(err, errlen, "copy %s: the key is too long", from);
        return -1;
    }
    xfer_init(&x, ERROR_BODY_MAX);
    x.mem = "";
    x.len = 0;
    st = request(s, S3_OP_PUT, "PUT", to, NULL, &x, EMPTY_SHA256, hdr, err,
                 errlen);
    /* S3 may answer 200 and still fail, in the body. */
    if (st == 200 && x.body != NULL && strstr(x.body, "<Error>") != NULL) {
        describe("PUT", to, st, &x, "", err, errlen);
        st = 500;
    } else if (st != 200 && st > 0 && err[0] == '\0') {
        snprintf(err, errlen, "copy %s: HTTP %ld", to, st);
    }
    xfer_release(&x);
    return st == 200 ? 0 : -1;
}

int s3_delete(struct s3 *s, const char *key, char *err, size_t errlen)
{
    struct xfer x;
    long st;

    xfer_init(&x, ERROR_BODY_MAX);
    st = request(s, S3_OP_DELETE, "DELETE", key, NULL, &x, NULL, NULL, err,
                 errlen);
    xfer_release(&x);
    return st == 204 || st == 200 || st == 404 ? 0 : -1;
}

int s3_head(struct s3 *s, const char *key, int64_t *size, char *etag, char *err,
            size_t errlen)
{
    struct xfer x;
    long st;

    xfer_init(&x, 0);
    st = request(s, S3_OP_HEAD, "HEAD", key, NULL, &x, NULL, NULL, err, errlen);
    if (st == 200) {
        *size = x.content_length;
        if (etag != NULL)
            snprintf(etag, S3_ETAG_MAX, "%s", x.etag);
    } else if (st > 0 && st != 404) {
        snprintf(err, errlen, "HEAD %s: HTTP %ld", key, st);
    }
    xfer_release(&x);
    return st == 200 ? 1 : st == 404 ? 0 : -1;
}

int s3_list(struct s3 *s, const char *prefix,
            int (*fn)(const char *key, int64_t size, void *opaque),
            void *opaque, char *err, size_t errlen)
{
    char full[S3_KEY_MAX + 160], enc_prefix[3 * sizeof(full)];
    char token[1024] = "", enc_token[3 * sizeof(token)], query[5000];
    size_t skip = s->prefix[0] != '\0' ? strlen(s->prefix) + 1 : 0;
    int rc = -1;

    if (util_fmt(full, sizeof(full), "%s%s%s", s->prefix,
                 s->prefix[0] != '\0' ? "/" : "", prefix) != 0 ||
        s3_uri_encode(full, false, enc_prefix, sizeof(enc_prefix)) != 0) {
        snprintf(err, errlen, "list: the prefix is too long");
        return -1;
    }
    for (;;) {
        struct xfer x;
        const char *p;
        char truncated[8] = "";
        long st;

        if (s3_uri_encode(token, false, enc_token, sizeof(enc_token)) != 0)
            return -1;
        /* Sorted by name, as the canonical request has them. */
        snprintf(query, sizeof(query), "%s%s%slist-type=2&prefix=%s",
                 token[0] ? "continuation-token=" : "", enc_token,
                 token[0] ? "&" : "", enc_prefix);
        xfer_init(&x, XML_BODY_MAX);
        st = request(s, S3_OP_LIST, "GET", NULL, query, &x, NULL, NULL, err,
                     errlen);
        if (st != 200) {
            xfer_release(&x);
            return -1;
        }
        p = x.body;
        while (p != NULL && (p = strstr(p, "<Contents>")) != NULL) {
            char key[S3_KEY_MAX + 160], size[32] = "0";
            const char *end = strstr(p, "</Contents>");

            if (end == NULL)
                break;
            if (xml_value(p, "Key", key, sizeof(key)) != NULL &&
                strlen(key) >= skip) {
                xml_value(p, "Size", size, sizeof(size));
                if (fn(key + skip, strtoll(size, NULL, 10), opaque) != 0) {
                    xfer_release(&x);
                    return 0;
                }
            }
            p = end;
        }
        xml_value(x.body, "IsTruncated", truncated, sizeof(truncated));
        if (strcmp(truncated, "true") != 0 ||
            xml_value(x.body, "NextContinuationToken", token, sizeof(token)) ==
                NULL) {
            xfer_release(&x);
            rc = 0;
            break;
        }
        xfer_release(&x);
    }
    return rc;
}

/* ---- streamed reads --------------------------------------------------- */

struct s3_reader {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    char *buf;
    size_t off, len; /* unread bytes: buf[off, len) */
    bool paused, done, headers;
    long status;
    CURLcode result;
    char curl_err[CURL_ERROR_SIZE];
    char key[S3_KEY_MAX];
};

static size_t reader_write(char *p, size_t size, size_t n, void *opaque)
{
    struct s3_reader *r = opaque;
    size_t len = size * n;

    if (r->status >= 300) /* an error's body: not for the caller */
        return len;
    if (r->off > 0 && r->off == r->len)
        r->off = r->len = 0;
    if (READER_BUF - r->len < len && r->off > 0) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (READER_BUF - r->len < len) {
        r->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    memcpy(r->buf + r->len, p, len);
    r->len += len;
    return len;
}

static size_t reader_header(char *p, size_t size, size_t n, void *opaque)
{
    struct s3_reader *r = opaque;

    /* A status line starts a response (a 100 Continue's comes first). */
    if (size * n > 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', size * n);
        r->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
    } else if (size * n <= 2 && r->status >= 200) {
        r->headers = true;
    }
    return size * n;
}

/* Moves the transfer on for up to ms; false once it is over. */
static bool reader_pump(struct s3_reader *r, int ms)
{
    int running = 0;
    CURLMsg *m;
    int left;

    if (r->done)
        return false;
    if (r->paused && r->len - r->off < READER_BUF / 2) {
        r->paused = false;
        curl_easy_pause(r->easy, CURLPAUSE_CONT);
    }
    curl_multi_perform(r->multi, &running);
    while ((m = curl_multi_info_read(r->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE) {
            r->done = true;
            r->result = m->data.result;
        }
    if (!r->done && running > 0 && !r->paused)
        curl_multi_poll(r->multi, NULL, 0, ms, NULL);
    return !r->done;
}

int s3_reader_open(struct s3 *s, const char *key, int64_t start, int64_t len,
                   struct s3_reader **out, char *err, size_t errlen)
{
    char url[S3_URL_MAX], uri[1200], host[400], sigv4[96], range[80];
    struct s3_reader *r = calloc(1, sizeof(*r));
    struct curl_slist *h;

    *out = NULL;
    if (r == NULL || (r->buf = malloc(READER_BUF)) == NULL ||
        (r->multi = curl_multi_init()) == NULL ||
        (r->easy = curl_easy_init()) == NULL ||
        object_url(s, key, NULL, url, sizeof(url), uri, sizeof(uri), host,
                   sizeof(host)) != 0) {
        snprintf(err, errlen, "GET %s: cannot start", key);
        s3_reader_close(r);
        return -1;
    }
    snprintf(r->key, sizeof(r->key), "%s", key);
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s->region);
    r->hdrs = curl_slist_append(NULL, "x-amz-content-sha256: " EMPTY_SHA256);
    if (start > 0 || len >= 0) {
        if (len >= 0)
            snprintf(range, sizeof(range), "Range: bytes=%lld-%lld",
                     (long long)start, (long long)(start + len - 1));
        else
            snprintf(range, sizeof(range), "Range: bytes=%lld-",
                     (long long)start);
        if (r->hdrs != NULL && (h = curl_slist_append(r->hdrs, range)) != NULL)
            r->hdrs = h;
    }
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(r->easy, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(r->easy, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(r->easy, CURLOPT_PASSWORD, s->secret_key);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, s->timeout);
    curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, s->timeout);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, reader_write);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, reader_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    curl_multi_add_handle(r->multi, r->easy);
    atomic_fetch_add(&op_requests[S3_OP_GET], 1);
    /* Until the store answered: its status says whether to go on. */
    for (int64_t end = util_mono_ms() + s->timeout * 1000;
         !r->headers && util_mono_ms() < end;)
        if (!reader_pump(r, 200))
            break;
    if (r->headers && (r->status == 200 || r->status == 206)) {
        *out = r;
        return 0;
    }
    if (r->status == 404) {
        s3_reader_close(r);
        return 1;
    }
    atomic_fetch_add(&op_errors[S3_OP_GET], 1);
    if (r->status > 0)
        snprintf(err, errlen, "GET %s: HTTP %ld", key, r->status);
    else
        snprintf(err, errlen, "GET %s: %s", key,
                 r->curl_err[0] ? r->curl_err : "no answer");
    s3_reader_close(r);
    return -1;
}

long s3_reader_read(struct s3_reader *r, char *buf, size_t max)
{
    for (;;) {
        if (r->len > r->off) {
            size_t n = r->len - r->off < max ? r->len - r->off : max;
            memcpy(buf, r->buf + r->off, n);
            r->off += n;
            return (long)n;
        }
        if (r->done) {
            if (r->result == CURLE_OK)
                return 0;
            atomic_fetch_add(&op_errors[S3_OP_GET], 1);
            log_warnx("s3: GET %s broke off: %s", r->key,
                      r->curl_err[0] ? r->curl_err
                                     : curl_easy_strerror(r->result));
            return -1;
        }
        reader_pump(r, 1000);
    }
}

void s3_reader_close(struct s3_reader *r)
{
    if (r == NULL)
        return;
    if (r->multi != NULL && r->easy != NULL)
        curl_multi_remove_handle(r->multi, r->easy);
    if (r->easy != NULL)
        curl_easy_cleanup(r->easy);
    if (r->multi != NULL)
        curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->hdrs);
    free(r->buf);
    free(r);
}
