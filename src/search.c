#include "chorus/search.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "chorus/meta.h"
#include "chorus/util.h"

/* The last word is a prefix from this many letters on: one letter would
 * expand to most of the index (only 2- and 3-letter prefixes are
 * indexed). */
#define PREFIX_MIN 2

/*
 * What message_search_source folds beyond unicode61, as in
 * 0007_panel.sql (test_search.c checks that the two agree): Latin
 * letters with a stroke and ß, which unicode61 keeps as they are, the
 * Russian ё (as е; й, ў and ї are letters of their own), Greek
 * accents and the final sigma, Arabic alef forms; "" means the
 * character goes (Arabic harakat, superscript alef, tatweel).
 */
static const struct {
    uint32_t from;
    const char *to;
} folds[] = {
    {0x0141, "L"},        /* Ł L */
    {0x0142, "l"},        /* ł l */
    {0x00D8, "O"},        /* Ø O */
    {0x00F8, "o"},        /* ø o */
    {0x0110, "D"},        /* Đ D */
    {0x0111, "d"},        /* đ d */
    {0x0126, "H"},        /* Ħ H */
    {0x0127, "h"},        /* ħ h */
    {0x0166, "T"},        /* Ŧ T */
    {0x0167, "t"},        /* ŧ t */
    {0x00DF, "ss"},       /* ß ss */
    {0x0451, "\xD0\xB5"}, /* ё е */
    {0x0401, "\xD0\x95"}, /* Ё Е */
    {0x03AC, "\xCE\xB1"}, /* ά α */
    {0x03AD, "\xCE\xB5"}, /* έ ε */
    {0x03AE, "\xCE\xB7"}, /* ή η */
    {0x03AF, "\xCE\xB9"}, /* ί ι */
    {0x03CC, "\xCE\xBF"}, /* ό ο */
    {0x03CD, "\xCF\x85"}, /* ύ υ */
    {0x03CE, "\xCF\x89"}, /* ώ ω */
    {0x03CA, "\xCE\xB9"}, /* ϊ ι */
    {0x03CB, "\xCF\x85"}, /* ϋ υ */
    {0x0390, "\xCE\xB9"}, /* ΐ ι */
    {0x03B0, "\xCF\x85"}, /* ΰ υ */
    {0x0386, "\xCE\x91"}, /* Ά Α */
    {0x0388, "\xCE\x95"}, /* Έ Ε */
    {0x0389, "\xCE\x97"}, /* Ή Η */
    {0x038A, "\xCE\x99"}, /* Ί Ι */
    {0x038C, "\xCE\x9F"}, /* Ό Ο */
    {0x038E, "\xCE\xA5"}, /* Ύ Υ */
    {0x038F, "\xCE\xA9"}, /* Ώ Ω */
    {0x03AA, "\xCE\x99"}, /* Ϊ Ι */
    {0x03AB, "\xCE\xA5"}, /* Ϋ Υ */
    {0x03C2, "\xCF\x83"}, /* ς σ */
    {0x0622, "\xD8\xA7"}, /* آ ا */
    {0x0623, "\xD8\xA7"}, /* أ ا */
    {0x0625, "\xD8\xA7"}, /* إ ا */
    {0x0671, "\xD8\xA7"}, /* ٱ ا */
    {0x064B, ""},         {0x064C, ""}, {0x064D, ""}, {0x064E, ""},
    {0x064F, ""},         {0x0650, ""}, {0x0651, ""}, {0x0652, ""},
    {0x0670, ""},         {0x0640, ""},
};

/* Decodes the character at s (valid UTF-8) into *cp; returns its bytes. */
static size_t decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        *cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if ((s[0] & 0xF0) == 0xE0) {
        *cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 |
              (s[2] & 0x3F);
        return 3;
    }
    *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
          (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    return 4;
}

/* What cp becomes in the index's view: its folded form, or NULL if it
 * stays as it is. */
static const char *fold(uint32_t cp)
{
    for (size_t i = 0; i < ARRAY_LEN(folds); i++)
        if (folds[i].from == cp)
            return folds[i].to;
    return NULL;
}

size_t search_fold(const char *s, char *out, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;

    if (len == 0)
        return 0;
    while (*p != '\0') {
        const unsigned char *at = p;
        const char *to;
        uint32_t cp;
        size_t n;

        p += decode(p, &cp);
        to = fold(cp);
        n = to != NULL ? strlen(to) : (size_t)(p - at);
        if (o + n >= len)
            break;
        memcpy(out + o, to != NULL ? to : (const char *)at, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

/* Whitespace between chunks: ASCII's and Unicode's spaces. */
static bool is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x00A0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Roughly what unicode61 keeps in a word: letters and digits of any
 * script, not punctuation or symbols. Only used to count a prefix's
 * letters, so an error here costs speed, never safety. */
static bool is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') ||
               ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
        return false;
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
        cp >= 0x1F000)
        return false;
    return true;
}

int search_match(const char *q, char out[SEARCH_MATCH_MAX])
{
    char folded[SEARCH_CHARS_MAX * 4 + 1];
    const unsigned char *p;
    size_t o = 0, letters = 0, len = strlen(q);
    bool open = false;
    long chars;

    out[0] = '\0';
    /* Tabs and newlines are only spaces here. */
    chars = meta_utf8_check(q, len, true);
    if (chars < 0)
        return SEARCH_BAD_TEXT;
    if (chars > SEARCH_CHARS_MAX || len >= sizeof(folded))
        return SEARCH_TOO_LONG;
    search_fold(q, folded, sizeof(folded));
    for (p = (const unsigned char *)folded; *p != '\0';) {
        const unsigned char *at = p;
        uint32_t cp;
        size_t n;

        p += decode(p, &cp);
        n = (size_t)(p - at);
        /* A quote, a space, the quote doubled, and the last " and *. */
        if (o + n + 5 >= SEARCH_MATCH_MAX) {
            out[0] = '\0';
            return SEARCH_TOO_LONG;
        }
        if (is_space(cp)) {
            if (open)
                out[o++] = '"';
            open = false;
            continue;
        }
        if (!open) {
            if (o > 0)
                out[o++] = ' ';
            out[o++] = '"';
            open = true;
            letters = 0;
        }
        if (cp == '"')
            out[o++] = '"';
        memcpy(out + o, at, n);
        o += n;
        letters = is_letter(cp) ? letters + 1 : 0;
    }
    if (open) {
        out[o++] = '"';
        if (letters >= PREFIX_MIN)
            out[o++] = '*';
    }
    out[o] = '\0';
    return o > 0 ? SEARCH_OK : SEARCH_EMPTY;
}
