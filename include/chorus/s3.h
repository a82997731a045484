/*
 * A client of one S3-compatible bucket (AWS S3, Ceph RGW, MinIO, Garage,
 * OpenStack Swift's s3api), over libcurl. Every request is signed by
 * libcurl (CURLOPT_AWS_SIGV4) and carries x-amz-content-sha256: the
 * body's SHA-256 where this file read the body before sending it (small
 * objects, each part of a big one), so the store checks what it got,
 * else UNSIGNED-PAYLOAD. Bodies are sent whole (a single PUT, or a
 * multipart upload of S3_PART_SIZE parts): stores such as Swift refuse
 * aws-chunked streaming. URLs for others (remote workers) are pre-signed
 * here, query-string SigV4 as AWS publishes it, with libsodium's
 * HMAC-SHA-256: libcurl signs headers only.
 *
 * Keys are relative to the configured prefix; this file adds it. Query
 * strings are written sorted and encoded, as SigV4's canonical request
 * has them (libcurl signs the query as it is sent).
 *
 * Handles are safe to share between threads: each request makes its own
 * libcurl easy handle. The credentials are copied in and never logged;
 * error messages name the operation, the key, the HTTP status and the
 * store's error code and message, nothing else.
 */
#ifndef CHORUS_S3_H
#define CHORUS_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parts of a multipart upload (the last may be smaller; S3's minimum is
 * 5 MiB), and the size from which an upload goes in parts. */
#define S3_PART_SIZE (8 * 1024 * 1024)
#define S3_SINGLE_MAX (16 * 1024 * 1024)
#define S3_KEY_MAX 300
#define S3_URL_MAX 2048
#define S3_ETAG_MAX 80

struct s3_config {
    const char
        *endpoint; /* scheme://host[:port], e.g. https://s3.amazonaws.com */
    const char *region; /* us-east-1 */
    const char *bucket;
    const char *prefix; /* "" or a path without leading or trailing '/' */
    bool virtual_host;  /* bucket.host/key instead of host/bucket/key */
    long timeout_s;     /* a stalled request fails after this; 0: 30 */
    const char *access_key, *secret_key;
};

struct s3;

/* What S3 requests did since start (this process), for /metrics. */
enum s3_op {
    S3_OP_PUT,
    S3_OP_GET,
    S3_OP_HEAD,
    S3_OP_DELETE,
    S3_OP_LIST,
    S3_OP_MULTIPART,
    S3_OP__COUNT
};
const char *s3_op_name(enum s3_op op);
/* Requests, and those that failed (network, or an HTTP error). */
void s3_counts(enum s3_op op, int64_t *requests, int64_t *errors);

/* libcurl's global set-up: once, before any thread. 0, or -1. */
int s3_global_init(void);
void s3_global_cleanup(void);

/*
 * Splits "s3://BUCKET/PREFIX" (PREFIX optional) into bucket and prefix.
 * Returns 0, or -1 if it is not such a URL or a part is too long or has
 * characters a bucket name or key prefix may not.
 */
int s3_parse_url(const char *url, char *bucket, size_t bucket_len, char *prefix,
                 size_t prefix_len);

/* Copies c into a new handle; 0 and *out, or -1 with a reason in err. */
int s3_open(const struct s3_config *c, struct s3 **out, char *err,
            size_t errlen);
void s3_close(struct s3 *s);

/*
 * Asks the bucket for one key (ListObjectsV2): the credentials, the
 * region and the bucket in one request. 0, or -1 with what the store
 * said in err ("403 SignatureDoesNotMatch: ...").
 */
int s3_check(struct s3 *s, char *err, size_t errlen);

/*
 * Writes size bytes of fd (from offset 0) as key: one PUT up to
 * S3_SINGLE_MAX, else a multipart upload (aborted if it fails). Network
 * errors and 5xx are retried. Returns 0 with the object's ETag in etag
 * (S3_ETAG_MAX bytes, may be NULL), or -1 with a reason in err.
 */
int s3_put_fd(struct s3 *s, const char *key, int fd, int64_t size, char *etag,
              char *err, size_t errlen);
/* Deletes key; a missing key is fine. 0, or -1 with a reason in err. */
int s3_delete(struct s3 *s, const char *key, char *err, size_t errlen);
/* 1 with *size (and etag, may be NULL) if key exists, 0 if not, -1. */
int s3_head(struct s3 *s, const char *key, int64_t *size, char *etag, char *err,
            size_t errlen);
/*
 * Calls fn(key, size, opaque) for every key under prefix (relative to
 * the configured prefix, as fn receives them), page by page. fn returns
 * 0 to go on. Returns 0, or -1 with a reason in err.
 */
int s3_list(struct s3 *s, const char *prefix,
            int (*fn)(const char *key, int64_t size, void *opaque),
            void *opaque, char *err, size_t errlen);

/*
 * Writes into out a URL that lets its holder do method ("GET", "PUT")
 * on key for ttl_s seconds from now (Unix time: the store's clock, not a
 * test's), signed with SigV4's query parameters; the payload stays
 * unsigned. Returns 0, or -1 if it does not fit.
 */
int s3_presign(const struct s3 *s, const char *method, const char *key,
               int ttl_s, int64_t now, char *out, size_t outlen);

/*
 * Copies the object from (a key, as all keys here) to key to, inside
 * the store: no byte passes through this process. 0, or -1 with a
 * reason in err.
 */
int s3_copy(struct s3 *s, const char *from, const char *to, char *err,
            size_t errlen);

/*
 * A streamed read of len bytes of key from start (len -1: to the end):
 * bytes arrive while the caller takes them (a bounded buffer; the
 * transfer pauses when it is full). s3_reader_open returns 0 once the
 * store answered 200 or 206, 1 if the key does not exist, or -1 with a
 * reason in err. s3_reader_read returns bytes copied (> 0), 0 at the end,
 * or -1 (logged). s3_reader_close accepts NULL.
 */
struct s3_reader;
int s3_reader_open(struct s3 *s, const char *key, int64_t start, int64_t len,
                   struct s3_reader **out, char *err, size_t errlen);
long s3_reader_read(struct s3_reader *r, char *buf, size_t max);
void s3_reader_close(struct s3_reader *r);

/* For the unit tests: the canonical request's URI-encoding of s ('/'
 * kept if keep_slash), into out. 0, or -1 if it does not fit. */
int s3_uri_encode(const char *s, bool keep_slash, char *out, size_t outlen);

#endif
