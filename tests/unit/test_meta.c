/* Upload metadata: the tus header format, each field's rules, and the
 * field named in every refusal. */
#include <sodium.h>

#include "chorus/meta.h"
#include "test.h"

/* Builds "key b64(value),..." from pairs; a NULL value gives "key". */
static void header(char *out, size_t len, const char *const *pairs)
{
    size_t o = 0;

    out[0] = '\0';
    for (; pairs[0] != NULL; pairs += 2) {
        o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "," : "", pairs[0]);
        if (pairs[1] != NULL) {
            char b64[2048];
            sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)pairs[1],
                              strlen(pairs[1]), sodium_base64_VARIANT_ORIGINAL);
            o += (size_t)snprintf(out + o, len - o, " %s", b64);
        }
    }
}

#define BASE                                                                   \
    "consent", "yes", "consent_version", "2026-04", "country", "BY",           \
        "language", "be"

static const struct {
    const char *pairs[24];
    const char *field; /* NULL: accepted */
} cases[] = {
    {{BASE, NULL}, NULL},
    {{BASE, "name", "Алеся", "organization", "БНП", "message",
      "Свабоду палітвязням!\nFree them.", "filename", "VID_1.mp4", "filetype",
      "video/mp4", "consent_scope", "union", NULL},
     NULL},
    {{BASE, "name", "", NULL}, NULL}, /* empty name: anonymous */
    {{"consent_version", "1", "country", "BY", "language", "be", NULL},
     "consent"},
    {{"consent", "no", "consent_version", "1", "country", "BY", "language",
      "be", NULL},
     "consent"},
    {{"consent", "YES", "consent_version", "1", "country", "BY", "language",
      "be", NULL},
     "consent"},
    {{"consent", "yes", "country", "BY", "language", "be", NULL},
     "consent_version"},
    {{"consent", "yes", "consent_version", "1", "language", "be", NULL},
     "country"},
    {{"consent", "yes", "consent_version", "1", "country", "BY", NULL},
     "language"},
    {{BASE, "country", "BY", NULL}, "country"}, /* twice */
    /* "I prefer not to say" is a choice; nothing at all is not. */
    {{"consent", "yes", "consent_version", "1", "country", "none", "language",
      "be", NULL},
     NULL},
    {{"consent", "yes", "consent_version", "1", "country", "NONE", "language",
      "be", NULL},
     "country"},
    {{"consent", "yes", "consent_version", "1", "country", "ZZ", "language",
      "be", NULL},
     "country"},
    {{"consent", "yes", "consent_version", "1", "country", "Belarus",
      "language", "be", NULL},
     "country"},
    {{"consent", "yes", "consent_version", "1", "country", "BY", "language",
      "klingon", NULL},
     "language"},
    {{"consent", "yes", "consent_version", "1", "country", "BY", "language",
      "xx", NULL},
     "language"},
    {{"consent", "yes", "consent_version", "1", "country", "BY", "language",
      "en-ZZ", NULL},
     "language"},
    {{BASE, "consent_scope", "everywhere", NULL}, "consent_scope"},
    {{BASE, "consent_version", NULL, NULL}, "consent_version"},
    {{BASE, "name", "a\x01b", NULL}, "name"},
    {{BASE, "name", "line\nbreak", NULL}, "name"},
    {{BASE, "name", "\xc0\xae", NULL}, "name"},       /* overlong */
    {{BASE, "name", "\xed\xa0\x80", NULL}, "name"},   /* surrogate */
    {{BASE, "name", "x\xe2\x80\xaey", NULL}, "name"}, /* RLO override */
    {{BASE, "organization", "\xff", NULL}, "organization"},
    {{BASE, "filetype", "text/html", NULL}, "filetype"},
    {{BASE, "unknown_key", "1", NULL}, "Upload-Metadata"},
    {{BASE, "protect", "blur_faces", NULL}, NULL},
    {{BASE, "protect", "no_video, voice,blur_faces", NULL}, NULL},
    {{BASE, "protect", "", NULL}, NULL},
    {{BASE, "protect", "blur", NULL}, "protect"},
    {{BASE, "protect", "voice,everything", NULL}, "protect"},
    {{BASE, "protect", "Voice", NULL}, "protect"},
    {{BASE, "protect", "voice\x01", NULL}, "protect"},
    {{NULL}, "consent"},
};

int main(void)
{
    struct message_meta m;
    struct meta_error err;
    char h[8192], big[1200];

    if (sodium_init() < 0)
        return 1;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;

        header(h, sizeof(h), cases[i].pairs);
        err.field = NULL;
        rc = meta_parse_tus(h, &m, &err);
        if (cases[i].field == NULL) {
            if (rc != 0)
                fprintf(stderr, "case %zu: refused: %s\n", i, err.message);
            CHECK_INT(rc, 0);
        } else {
            CHECK_INT(rc, -1);
            if (rc == -1 &&
                (err.field == NULL || strcmp(err.field, cases[i].field) != 0)) {
                fprintf(stderr, "case %zu: names %s, want %s (%s)\n", i,
                        err.field ? err.field : "(none)", cases[i].field,
                        err.message);
                test_failures++;
            }
        }
    }

    /* What was given is kept, the language normalised. */
    {
        const char *pairs[] = {"consent",  "yes",     "consent_version",
                               "v2",       "country", "ua",
                               "language", "UK-ua",   "name",
                               "Олена",    NULL};
        header(h, sizeof(h), pairs);
        CHECK_INT(meta_parse_tus(h, &m, &err), 0);
        CHECK_STR(m.country, "UA");
        CHECK_STR(m.language, "uk-UA");
        CHECK_STR(m.name, "Олена");
        CHECK_STR(m.consent_scope, "public");
        CHECK_STR(m.consent_version, "v2");
    }

    /* Protections: known names in any order, stored in one; the form
     * sends the key once per checkbox. */
    {
        char names[META_PROTECT_LEN];
        unsigned bits = 0;
        const char *pairs[] = {BASE, "protect", "no_video,blur_faces", NULL};

        header(h, sizeof(h), pairs);
        CHECK_INT(meta_parse_tus(h, &m, &err), 0);
        CHECK_INT((int)m.protect,
                  META_PROTECT_BLUR_FACES | META_PROTECT_NO_VIDEO);
        meta_protect_names(m.protect, names);
        CHECK_STR(names, "blur_faces,no_video");
        meta_protect_names(7, names);
        CHECK_STR(names, "blur_faces,voice,no_video");
        meta_protect_names(0, names);
        CHECK_STR(names, "");
        meta_init(&m);
        CHECK_INT(meta_set(&m, "protect", "voice", 5, &err), 0);
        CHECK_INT(meta_set(&m, "protect", "blur_faces", 10, &err), 0);
        CHECK_INT((int)m.protect, META_PROTECT_VOICE | META_PROTECT_BLUR_FACES);
        CHECK_INT(meta_protect_parse(" , voice ,, ", 12, &bits), 0);
        CHECK_INT((int)bits, META_PROTECT_VOICE);
    }

    /* Lengths count characters, not bytes: 100 Cyrillic letters pass,
     * 101 do not. */
    {
        char name[1024] = "";
        for (int i = 0; i < 100; i++)
            strcat(name, "ж");
        const char *ok[] = {BASE, "name", name, NULL};
        header(h, sizeof(h), ok);
        CHECK_INT(meta_parse_tus(h, &m, &err), 0);
        strcat(name, "ж");
        const char *bad[] = {BASE, "name", name, NULL};
        header(h, sizeof(h), bad);
        CHECK_INT(meta_parse_tus(h, &m, &err), -1);
        CHECK_STR(err.field, "name");
    }
    memset(big, 'a', 501);
    big[501] = '\0';
    {
        const char *bad[] = {BASE, "message", big, NULL};
        header(h, sizeof(h), bad);
        CHECK_INT(meta_parse_tus(h, &m, &err), -1);
        CHECK_STR(err.field, "message");
    }

    /* Malformed headers. */
    static const char *const malformed[] = {
        "consent eWVz,,country Qlk",
        "consent !!!!",
        " ,",
        "consent eWVz x",
        "consent_version MQ==,consent eWVz,country QlkK", /* "BY\n" */
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        CHECK_INT(meta_parse_tus(malformed[i], &m, &err), -1);
    /* Base64 without padding is taken too. */
    CHECK_INT(meta_parse_tus("consent eWVz,consent_version MQ,country Qlk,"
                             "language YmU",
                             &m, &err),
              0);

    /* Language tags. */
    {
        char out[36];
        CHECK_INT(meta_language_normalize("sr-latn-rs", out), 0);
        CHECK_STR(out, "sr-Latn-RS");
        CHECK_INT(meta_language_normalize("crh", out), 0);
        CHECK_INT(meta_language_normalize("en-", out), -1);
        CHECK_INT(meta_language_normalize("en-GB-GB", out), -1);
        CHECK_INT(meta_language_normalize("", out), -1);
    }
    return TEST_RESULT();
}
