/* The S3 client's pure parts: --storage URLs, SigV4's URI encoding,
 * pre-signed URLs checked against the example AWS publishes for query
 * string authentication ("Authenticating Requests: Using Query
 * Parameters (AWS Signature Version 4)"), what s3_open refuses, and
 * which media files go to the bucket. Requests to a real store (and the
 * same signer's URLs used by remote workers) are
 * tests/http/s3_storage.test.mjs's. */
#include <sodium.h>

#include "chorus/objstore.h"
#include "chorus/s3.h"
#include "test.h"

static const struct {
    const char *name;
    bool ok;
} names[] = {
    {"video.mp4", true}, {"thumb.jpg", true},
    {"sheet.jpg", true}, {"v-9x16-be-credit.mp4", true},
    {".hidden", false},  {"video.mp4.3.tmp", false},
    {"a/b", false},      {"", false},
    {"..", false},       {"x y", false},
};

static const struct {
    const char *url;
    int rc;
    const char *bucket, *prefix;
} urls[] = {
    {"s3://media", 0, "media", ""},
    {"s3://media/", 0, "media", ""},
    {"s3://media/chorus", 0, "media", "chorus"},
    {"s3://media/a/b-c_d.e/", 0, "media", "a/b-c_d.e"},
    {"s3://my.bucket-1/x", 0, "my.bucket-1", "x"},
    {"http://media/x", -1, NULL, NULL},
    {"s3://", -1, NULL, NULL},
    {"s3://ab", -1, NULL, NULL},       /* too short */
    {"s3://Media/x", -1, NULL, NULL},  /* no capitals in a bucket */
    {"s3://media//x", -1, NULL, NULL}, /* no empty segment */
    {"s3://media/a//b", -1, NULL, NULL},
    {"s3://media/a b", -1, NULL, NULL},
    {"s3://media/a?b", -1, NULL, NULL},
};

static const struct {
    const char *in;
    int keep_slash;
    const char *want;
} encodings[] = {
    {"media/AbC-_9/1.2/video.mp4", 1, "media/AbC-_9/1.2/video.mp4"},
    {"a/b", 0, "a%2Fb"},
    {"test:tester/20130524/us-east-1/s3/aws4_request", 0,
     "test%3Atester%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"},
    {"a b+c~", 1, "a%20b%2Bc~"},
    {"\xd0\x91", 1, "%D0%91"},
};

int main(void)
{
    struct s3 *s = NULL;
    char bucket[64], prefix[128], out[S3_URL_MAX], err[256];

    if (sodium_init() < 0)
        return 1;
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        int rc = s3_parse_url(urls[i].url, bucket, sizeof(bucket), prefix,
                              sizeof(prefix));
        if (rc != urls[i].rc)
            fprintf(stderr, "case %s\n", urls[i].url);
        CHECK_INT(rc, urls[i].rc);
        if (rc == 0) {
            CHECK_STR(bucket, urls[i].bucket);
            CHECK_STR(prefix, urls[i].prefix);
        }
    }
    for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++) {
        CHECK_INT(s3_uri_encode(encodings[i].in, encodings[i].keep_slash != 0,
                                out, sizeof(out)),
                  0);
        CHECK_STR(out, encodings[i].want);
    }
    CHECK_INT(s3_uri_encode("abcdef", true, out, 6), -1);

    /* AWS's example: GET /test.txt of examplebucket, virtual-hosted,
     * at 2013-05-24T00:00:00Z for 86400 s. */
    {
        struct s3_config c = {
            .endpoint = "https://s3.amazonaws.com",
            .region = "us-east-1",
            .bucket = "examplebucket",
            .prefix = "",
            .virtual_host = true,
            .access_key = "AKIAIOSFODNN7EXAMPLE",
            .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        };
        CHECK_INT(s3_open(&c, &s, err, sizeof(err)), 0);
        CHECK_INT(s3_presign(s, "GET", "test.txt", 86400, 1369353600, out,
                             sizeof(out)),
                  0);
        CHECK_STR(out,
                  "https://examplebucket.s3.amazonaws.com/test.txt"
                  "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                  "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
                  "us-east-1%2Fs3%2Faws4_request"
                  "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                  "&X-Amz-SignedHeaders=host"
                  "&X-Amz-Signature="
                  "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f6"
                  "04d404");
        CHECK_INT(s3_presign(s, "GET", "test.txt", 86400, 1369353600, out, 40),
                  -1);
        s3_close(s);
    }
    /* Path style with a prefix and a port: the key is under
     * /bucket/prefix/, the host keeps its port. */
    {
        struct s3_config c = {
            .endpoint = "http://127.0.0.1:9000",
            .region = "eu-west-1",
            .bucket = "media",
            .prefix = "chorus/a",
            .access_key = "test:tester",
            .secret_key = "secret",
        };
        CHECK_INT(s3_open(&c, &s, err, sizeof(err)), 0);
        CHECK_INT(s3_presign(s, "PUT", "media/x/1.1/video.mp4", 900, 1369353600,
                             out, sizeof(out)),
                  0);
        CHECK(strncmp(out,
                      "http://127.0.0.1:9000/media/chorus/a/media/x/1.1/"
                      "video.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                      "&X-Amz-Credential=test%3Atester%2F20130524%2F"
                      "eu-west-1%2Fs3%2Faws4_request&",
                      151) == 0);
        CHECK(strstr(out, "&X-Amz-Expires=900&") != NULL);
        CHECK(strstr(out, "secret") == NULL);
        s3_close(s);
    }
    /* What s3_open refuses. */
    {
        struct s3_config c = {.endpoint = "ftp://x",
                              .region = "us-east-1",
                              .bucket = "media",
                              .prefix = "",
                              .access_key = "a",
                              .secret_key = "b"};
        CHECK_INT(s3_open(&c, &s, err, sizeof(err)), -1);
        c.endpoint = "http://host/path";
        CHECK_INT(s3_open(&c, &s, err, sizeof(err)), -1);
        c.endpoint = "http://host/";
        CHECK_INT(s3_open(&c, &s, err, sizeof(err)), 0);
        s3_close(s);
        c.secret_key = "";
        CHECK_INT(s3_open(&c, &s, err, sizeof(err)), -1);
        CHECK(strstr(err, "AWS_SECRET_ACCESS_KEY") != NULL);
        c.secret_key = "b";
        c.region = "US East";
        CHECK_INT(s3_open(&c, &s, err, sizeof(err)), -1);
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (objstore_name_ok(names[i].name) != names[i].ok)
            fprintf(stderr, "case %s\n", names[i].name);
        CHECK(objstore_name_ok(names[i].name) == names[i].ok);
    }
    return TEST_RESULT();
}
