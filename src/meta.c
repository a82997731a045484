#include "chorus/meta.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chorus/util.h"

enum meta_key {
    K_FILENAME,
    K_FILETYPE,
    K_NAME,
    K_ORGANIZATION,
    K_COUNTRY,
    K_LANGUAGE,
    K_MESSAGE,
    K_CONSENT,
    K_CONSENT_VERSION,
    K_CONSENT_SCOPE,
    K_CAMPAIGN,
    K_CONSENT_LANGUAGE,
    K_PROTECT,
    K__COUNT
};

static const char *const key_names[K__COUNT] = {
    "filename",        "filetype",      "name",     "organization",
    "country",         "language",      "message",  "consent",
    "consent_version", "consent_scope", "campaign", "consent_language",
    "protect",
};

/* By bit: META_PROTECT_BLUR_FACES, _VOICE, _NO_VIDEO. */
static const char *const protect_names[] = {"blur_faces", "voice", "no_video"};

/* ISO 3166-1 alpha-2, plus XK (Kosovo, user-assigned but in wide use). */
static const char countries[] =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH "
    "BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL "
    "CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET "
    "FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU "
    "GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE "
    "KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC "
    "MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC "
    "NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT "
    "PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR "
    "SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA "
    "UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/* ISO 639-1, and a few ISO 639-3 codes of languages without one. */
static const char languages[] =
    "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce "
    "ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo "
    "fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik "
    "io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb "
    "lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc "
    "sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl "
    "tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu "
    "crh ckb fil yue";

/* 1 if word (len bytes) is one of the space-separated words of list. */
static int in_list(const char *list, const char *word, size_t len)
{
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n == len && memcmp(p, word, len) == 0)
            return 1;
        p += n;
        while (*p == ' ')
            p++;
    }
    return 0;
}

int meta_protect_parse(const char *list, size_t len, unsigned *bits)
{
    size_t i = 0;

    while (i < len) {
        size_t start, end;
        unsigned k;

        while (i < len && (list[i] == ' ' || list[i] == ','))
            i++;
        start = i;
        while (i < len && list[i] != ',')
            i++;
        end = i;
        while (end > start && list[end - 1] == ' ')
            end--;
        if (end == start)
            continue;
        for (k = 0; k < ARRAY_LEN(protect_names); k++)
            if (strlen(protect_names[k]) == end - start &&
                memcmp(protect_names[k], list + start, end - start) == 0)
                break;
        if (k == ARRAY_LEN(protect_names))
            return -1;
        *bits |= 1u << k;
    }
    return 0;
}

void meta_protect_names(unsigned bits, char out[META_PROTECT_LEN])
{
    size_t n = 0;

    out[0] = '\0';
    for (unsigned k = 0; k < ARRAY_LEN(protect_names); k++)
        if (bits & (1u << k))
            n += (size_t)snprintf(out + n, META_PROTECT_LEN - n, "%s%s",
                                  n > 0 ? "," : "", protect_names[k]);
}

int meta_country_known(const char *code)
{
    return strlen(code) == 2 && code[0] >= 'A' && code[0] <= 'Z' &&
           code[1] >= 'A' && code[1] <= 'Z' && in_list(countries, code, 2);
}

static int all_alpha(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

int meta_language_normalize(const char *tag, char out[36])
{
    size_t len = strlen(tag), n, o = 0;
    const char *p = tag;
    int have_script = 0, have_region = 0;

    if (len == 0 || len >= 36)
        return -1;
    n = strcspn(p, "-");
    if (n < 2 || n > 3 || !all_alpha(p, n))
        return -1;
    for (size_t i = 0; i < n; i++)
        out[o++] = lower(p[i]);
    out[o] = '\0';
    if (!in_list(languages, out, n))
        return -1;
    p += n;
    while (*p == '-') {
        p++;
        n = strcspn(p, "-");
        if (n == 4 && all_alpha(p, 4) && !have_script && !have_region) {
            out[o++] = '-';
            out[o++] = upper(p[0]);
            for (size_t i = 1; i < 4; i++)
                out[o++] = lower(p[i]);
            have_script = 1;
        } else if (n == 2 && all_alpha(p, 2) && !have_region) {
            char cc[3] = {upper(p[0]), upper(p[1]), '\0'};
            if (!meta_country_known(cc))
                return -1;
            out[o++] = '-';
            out[o++] = cc[0];
            out[o++] = cc[1];
            have_region = 1;
        } else {
            return -1;
        }
        p += n;
    }
    if (*p != '\0')
        return -1;
    out[o] = '\0';
    return 0;
}

long meta_utf8_check(const char *s, size_t len, bool multiline)
{
    const unsigned char *p = (const unsigned char *)s;
    long chars = 0;
    size_t i = 0;

    while (i < len) {
        uint32_t c = p[i];
        size_t n;

        if (c < 0x80)
            n = 1;
        else if ((c & 0xe0) == 0xc0)
            n = 2, c &= 0x1f;
        else if ((c & 0xf0) == 0xe0)
            n = 3, c &= 0x0f;
        else if ((c & 0xf8) == 0xf0)
            n = 4, c &= 0x07;
        else
            return -1;
        if (i + n > len)
            return -1;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return -1;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF. */
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
            (n == 4 && c < 0x10000) || c > 0x10ffff ||
            (c >= 0xd800 && c <= 0xdfff))
            return -1;
        /* Controls (C0, DEL, C1) and bidirectional overrides. */
        if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) ||
            (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
            (c >= 0x2066 && c <= 0x2069))
            return -1;
        i += n;
        chars++;
    }
    return chars;
}

void meta_init(struct message_meta *m)
{
    memset(m, 0, sizeof(*m));
    strcpy(m->consent_scope, "public");
}

__attribute__((format(printf, 3, 4))) static int
fail(struct meta_error *err, const char *field, const char *fmt, ...)
{
    va_list ap;

    err->field = field;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * Copies a checked text value (at most max characters) into out. The
 * line breaks of a multiline value may come as CRLF (browsers send a
 * textarea so): they are kept as LF.
 */
static int set_text(char *out, size_t outlen, const char *value, size_t len,
                    long max, bool multiline, const char *field,
                    struct meta_error *err)
{
    size_t n = 0;
    long chars;

    if (len >= outlen)
        return fail(err, field, "%s: at most %ld characters", field, max);
    for (size_t i = 0; i < len; i++)
        if (!(multiline && value[i] == '\r' && i + 1 < len &&
              value[i + 1] == '\n'))
            out[n++] = value[i];
    out[n] = '\0';
    chars = meta_utf8_check(out, n, multiline);
    if (chars < 0)
        return fail(err, field,
                    "%s: not valid UTF-8 text, or has control characters",
                    field);
    if (chars > max)
        return fail(err, field, "%s: at most %ld characters", field, max);
    return 0;
}

int meta_set(struct message_meta *m, const char *key, const char *value,
             size_t len, struct meta_error *err)
{
    char buf[40];
    int k;

    for (k = 0; k < K__COUNT; k++)
        if (strcmp(key, key_names[k]) == 0)
            break;
    if (k == K__COUNT) {
        err->field = "Upload-Metadata";
        snprintf(err->message, sizeof(err->message),
                 "unknown metadata key \"%.40s\"", key);
        return -1;
    }
    /* The form's checkboxes send "protect" once per box. */
    if ((m->seen & (1u << k)) && k != K_PROTECT)
        return fail(err, key_names[k], "%s is given twice", key_names[k]);
    m->seen |= 1u << k;

    switch ((enum meta_key)k) {
    case K_FILENAME:
        if (len > META_FILENAME_MAX || meta_utf8_check(value, len, false) < 0)
            return fail(err, "filename", "%s: at most 255 bytes of UTF-8 text",
                        "filename");
        return 0; /* checked, never stored */
    case K_FILETYPE:
        if (set_text(m->filetype, sizeof(m->filetype), value, len, 100, false,
                     "filetype", err) != 0)
            return -1;
        if (m->filetype[0] != '\0' && strncmp(m->filetype, "video/", 6) != 0 &&
            strcmp(m->filetype, "application/octet-stream") != 0)
            return fail(err, "filetype", "%s: not a video type", "filetype");
        return 0;
    case K_NAME:
        return set_text(m->name, sizeof(m->name), value, len, META_NAME_MAX,
                        false, "name", err);
    case K_ORGANIZATION:
        return set_text(m->organization, sizeof(m->organization), value, len,
                        META_ORG_MAX, false, "organization", err);
    case K_MESSAGE:
        return set_text(m->message, sizeof(m->message), value, len,
                        META_MESSAGE_MAX, true, "message", err);
    case K_COUNTRY:
        /* An explicit choice not to say: stored as no country at all. */
        if (len == 4 && memcmp(value, "none", 4) == 0) {
            m->country_withheld = true;
            return 0;
        }
        if (len != 2)
            return fail(err, "country",
                        "%s: a two-letter ISO 3166-1 code such as BY",
                        "country");
        buf[0] = upper(value[0]);
        buf[1] = upper(value[1]);
        buf[2] = '\0';
        if (!meta_country_known(buf))
            return fail(err, "country", "%s: not a known ISO 3166-1 code",
                        "country");
        memcpy(m->country, buf, 3);
        return 0;
    case K_LANGUAGE:
        if (len >= sizeof(buf))
            return fail(err, "language", "%s: not a language tag we take",
                        "language");
        memcpy(buf, value, len);
        buf[len] = '\0';
        if (meta_language_normalize(buf, m->language) != 0)
            return fail(err, "language", "%s: not a language tag we take",
                        "language");
        return 0;
    case K_CONSENT:
        if (len != 3 || memcmp(value, "yes", 3) != 0)
            return fail(err, "consent",
                        "%s: must be \"yes\": the video cannot be taken "
                        "without consent",
                        "consent");
        m->consent = true;
        return 0;
    case K_CONSENT_VERSION:
        if (len == 0 || len >= sizeof(m->consent_version))
            return fail(err, "consent_version", "%s: 1 to 32 characters",
                        "consent_version");
        for (size_t i = 0; i < len; i++) {
            char c = value[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
                return fail(err, "consent_version",
                            "%s: letters, digits, '.', '-' and '_' only",
                            "consent_version");
        }
        memcpy(m->consent_version, value, len);
        m->consent_version[len] = '\0';
        return 0;
    case K_CONSENT_SCOPE:
        if (len == 6 && memcmp(value, "public", 6) == 0)
            strcpy(m->consent_scope, "public");
        else if (len == 5 && memcmp(value, "union", 5) == 0)
            strcpy(m->consent_scope, "union");
        else
            return fail(err, "consent_scope", "%s: \"public\" or \"union\"",
                        "consent_scope");
        return 0;
    case K_CAMPAIGN:
        /* A slug's syntax only: campaign_admit() looks it up. */
        if (len == 0 || len > META_CAMPAIGN_MAX)
            return fail(err, "campaign", "%s: 1 to %d characters", "campaign",
                        META_CAMPAIGN_MAX);
        for (size_t i = 0; i < len; i++) {
            char c = value[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (c == '-' && i > 0)))
                return fail(err, "campaign",
                            "%s: lower-case letters, digits and '-' only",
                            "campaign");
        }
        memcpy(m->campaign, value, len);
        m->campaign[len] = '\0';
        return 0;
    case K_CONSENT_LANGUAGE:
        if (len >= sizeof(buf))
            return fail(err, "consent_language",
                        "%s: not a language tag we take", "consent_language");
        memcpy(buf, value, len);
        buf[len] = '\0';
        if (meta_language_normalize(buf, m->consent_language) != 0)
            return fail(err, "consent_language",
                        "%s: not a language tag we take", "consent_language");
        return 0;
    case K_PROTECT:
        if (len > 100 || meta_protect_parse(value, len, &m->protect) != 0)
            return fail(err, "protect",
                        "%s: a comma list of blur_faces, voice, no_video",
                        "protect");
        return 0;
    case K__COUNT:
        break;
    }
    return -1;
}

int meta_finish(struct message_meta *m, struct meta_error *err)
{
    if (!m->consent)
        return fail(err, "consent",
                    "%s: required (\"yes\"): the video cannot be taken "
                    "without consent",
                    "consent");
    if (m->consent_version[0] == '\0')
        return fail(err, "consent_version",
                    "%s: required: which consent text was shown",
                    "consent_version");
    if (m->country[0] == '\0' && !m->country_withheld)
        return fail(err, "country", "%s: required (a code, or \"none\")",
                    "country");
    if (m->language[0] == '\0')
        return fail(err, "language", "%s: required", "language");
    return 0;
}

int meta_parse_tus(const char *header, struct message_meta *m,
                   struct meta_error *err)
{
    /* Decoded values are never longer than their base64. */
    static const size_t value_max = META_HEADER_MAX;
    unsigned char value[META_HEADER_MAX];
    const char *p = header;

    meta_init(m);
    if (header == NULL)
        return meta_finish(m, err);
    if (strlen(header) > META_HEADER_MAX)
        return fail(err, "Upload-Metadata", "%s: too long", "Upload-Metadata");
    while (*p != '\0') {
        char key[40];
        size_t klen, vlen, binlen = 0;
        const char *v;

        while (*p == ' ')
            p++;
        klen = strcspn(p, " ,");
        if (klen == 0 || klen >= sizeof(key))
            return fail(err, "Upload-Metadata", "%s: malformed",
                        "Upload-Metadata");
        memcpy(key, p, klen);
        key[klen] = '\0';
        p += klen;
        v = p;
        vlen = 0;
        if (*p == ' ') {
            v = ++p;
            vlen = strcspn(p, ",");
            p += vlen;
        }
        if (vlen > 0 &&
            sodium_base642bin(value, value_max, v, vlen, NULL, &binlen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 &&
            sodium_base642bin(value, value_max, v, vlen, NULL, &binlen, NULL,
                              sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
            for (int k = 0; k < K__COUNT; k++)
                if (strcmp(key, key_names[k]) == 0)
                    return fail(err, key_names[k], "%s: not valid base64",
                                key_names[k]);
            return fail(err, "Upload-Metadata", "%s: a value is not base64",
                        "Upload-Metadata");
        }
        if (meta_set(m, key, (const char *)value, binlen, err) != 0)
            return -1;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return fail(err, "Upload-Metadata", "%s: malformed",
                        "Upload-Metadata");
    }
    return meta_finish(m, err);
}
