#include "chorus/fold.h"

#include <stdbool.h>
#include <string.h>

/*
 * A run of code points that fold alike: [first, last] map by delta, or,
 * with pairs, every other one does (the upper case letter of each pair,
 * first included, maps to the next code point).
 */
struct run {
    uint32_t first, last;
    int32_t delta;
    bool pairs;
};

/* From CaseFolding.txt (Unicode 15), status C and S, sorted. */
static const struct run runs[] = {
    {0x0041, 0x005A, 32, false},  /* A-Z */
    {0x00B5, 0x00B5, 775, false}, /* micro sign -> mu */
    {0x00C0, 0x00D6, 32, false},  /* A-grave .. O-diaeresis */
    {0x00D8, 0x00DE, 32, false},  /* O-stroke .. Thorn */
    {0x0100, 0x012F, 1, true},    /* Latin Extended-A */
    {0x0132, 0x0137, 1, true},
    {0x0139, 0x0148, 1, true},
    {0x014A, 0x0177, 1, true},
    {0x0178, 0x0178, -121, false}, /* Y-diaeresis -> y-diaeresis */
    {0x0179, 0x017E, 1, true},
    {0x017F, 0x017F, -268, false}, /* long s -> s */
    {0x0181, 0x0181, 210, false},  /* Latin Extended-B, irregular ones */
    {0x0182, 0x0185, 1, true},
    {0x0186, 0x0186, 206, false},
    {0x0187, 0x0187, 1, false},
    {0x0189, 0x018A, 205, false},
    {0x018B, 0x018B, 1, false},
    {0x018E, 0x018E, 79, false},
    {0x018F, 0x018F, 202, false},
    {0x0190, 0x0190, 203, false},
    {0x0191, 0x0191, 1, false},
    {0x0193, 0x0193, 205, false},
    {0x0194, 0x0194, 207, false},
    {0x0196, 0x0196, 211, false},
    {0x0197, 0x0197, 209, false},
    {0x0198, 0x0198, 1, false},
    {0x019C, 0x019C, 211, false},
    {0x019D, 0x019D, 213, false},
    {0x019F, 0x019F, 214, false},
    {0x01A0, 0x01A5, 1, true},
    {0x01A6, 0x01A6, 218, false},
    {0x01A7, 0x01A7, 1, false},
    {0x01A9, 0x01A9, 218, false},
    {0x01AC, 0x01AC, 1, false},
    {0x01AE, 0x01AE, 218, false},
    {0x01AF, 0x01AF, 1, false},
    {0x01B1, 0x01B2, 217, false},
    {0x01B3, 0x01B5, 1, true},
    {0x01B7, 0x01B7, 219, false},
    {0x01B8, 0x01B8, 1, false},
    {0x01BC, 0x01BC, 1, false},
    {0x01C4, 0x01C4, 2, false}, /* DZ-caron digraphs */
    {0x01C5, 0x01C5, 1, false},
    {0x01C7, 0x01C7, 2, false}, /* LJ */
    {0x01C8, 0x01C8, 1, false},
    {0x01CA, 0x01CA, 2, false}, /* NJ */
    {0x01CB, 0x01DC, 1, true},  /* odd ones: Pinyin vowels */
    {0x01DE, 0x01EF, 1, true},
    {0x01F1, 0x01F1, 2, false}, /* DZ */
    {0x01F2, 0x01F4, 1, true},
    {0x01F6, 0x01F6, -97, false},
    {0x01F7, 0x01F7, -56, false},
    {0x01F8, 0x021F, 1, true}, /* Romanian s-comma, t-comma */
    {0x0220, 0x0220, -130, false},
    {0x0222, 0x0233, 1, true},
    {0x023A, 0x023A, 10795, false},
    {0x023B, 0x023B, 1, false},
    {0x023D, 0x023D, -163, false},
    {0x023E, 0x023E, 10792, false},
    {0x0241, 0x0241, 1, false},
    {0x0243, 0x0243, -195, false},
    {0x0244, 0x0244, 69, false},
    {0x0245, 0x0245, 71, false},
    {0x0246, 0x024F, 1, true},
    {0x0370, 0x0373, 1, true}, /* archaic Greek */
    {0x0376, 0x0376, 1, false},
    {0x037F, 0x037F, 116, false},
    {0x0386, 0x0386, 38, false}, /* Greek, tonos */
    {0x0388, 0x038A, 37, false},
    {0x038C, 0x038C, 64, false},
    {0x038E, 0x038F, 63, false},
    {0x0391, 0x03A1, 32, false}, /* Alpha .. Rho */
    {0x03A3, 0x03AB, 32, false}, /* Sigma .. Upsilon-dialytika */
    {0x03C2, 0x03C2, 1, false},  /* final sigma -> sigma */
    {0x03CF, 0x03CF, 8, false},
    {0x03D0, 0x03D0, -30, false}, /* beta symbol */
    {0x03D1, 0x03D1, -25, false}, /* theta symbol */
    {0x03D5, 0x03D5, -15, false}, /* phi symbol */
    {0x03D6, 0x03D6, -22, false}, /* pi symbol */
    {0x03D8, 0x03EF, 1, true},
    {0x03F0, 0x03F0, -54, false}, /* kappa symbol */
    {0x03F1, 0x03F1, -48, false}, /* rho symbol */
    {0x03F4, 0x03F4, -60, false}, /* capital theta symbol */
    {0x03F5, 0x03F5, -64, false}, /* lunate epsilon */
    {0x03F7, 0x03F7, 1, false},
    {0x03F9, 0x03F9, -7, false},
    {0x03FA, 0x03FA, 1, false},
    {0x03FD, 0x03FF, -130, false},
    {0x0400, 0x040F, 80, false}, /* Cyrillic: Ie-grave .. Dzhe */
    {0x0410, 0x042F, 32, false}, /* A .. Ya */
    {0x0460, 0x0481, 1, true},
    {0x048A, 0x04BF, 1, true},
    {0x04C0, 0x04C0, 15, false}, /* palochka */
    {0x04C1, 0x04CE, 1, true},
    {0x04D0, 0x052F, 1, true},
    {0x0531, 0x0556, 48, false},    /* Armenian */
    {0x1E00, 0x1E95, 1, true},      /* Latin Extended Additional */
    {0x1E9B, 0x1E9B, -58, false},   /* long s with dot */
    {0x1E9E, 0x1E9E, -7615, false}, /* capital sharp s -> sharp s */
    {0x1EA0, 0x1EFF, 1, true},      /* Vietnamese */
    {0xFF21, 0xFF3A, 32, false},    /* fullwidth A-Z */
};

uint32_t fold_char(uint32_t c)
{
    size_t lo = 0, hi = sizeof(runs) / sizeof(runs[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct run *r = &runs[mid];

        if (c < r->first) {
            hi = mid;
        } else if (c > r->last) {
            lo = mid + 1;
        } else {
            if (r->pairs && (c - r->first) % 2 != 0)
                return c; /* already the lower case of its pair */
            return (uint32_t)((int32_t)c + r->delta);
        }
    }
    return c;
}

size_t fold_decode(const char *s, size_t len, uint32_t *c)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t v;
    size_t n;

    if (len == 0)
        return 0;
    if (u[0] < 0x80) {
        *c = u[0];
        return 1;
    }
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        n = 2;
        v = u[0] & 0x1Fu;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        n = 3;
        v = u[0] & 0x0Fu;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        n = 4;
        v = u[0] & 0x07u;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (u[i] & 0x3Fu);
    }
    /* Overlong, surrogate or past the last code point. */
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *c = v;
    return n;
}

/* Writes c as UTF-8 at out; returns its length (1 to 4). */
static size_t encode(uint32_t c, char *out)
{
    unsigned char *u = (unsigned char *)out;

    if (c < 0x80) {
        u[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        u[0] = (unsigned char)(0xC0 | (c >> 6));
        u[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (c >> 12));
        u[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    u[0] = (unsigned char)(0xF0 | (c >> 18));
    u[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    u[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    u[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

long fold_utf8(const char *s, char *out, size_t outlen)
{
    size_t len = strlen(s), o = 0;

    while (len > 0) {
        char buf[4];
        uint32_t c;
        size_t n = fold_decode(s, len, &c), m;

        if (n == 0)
            return -1;
        m = encode(fold_char(c), buf);
        if (outlen - o <= m) /* room for it and the NUL */
            return -1;
        memcpy(out + o, buf, m);
        o += m;
        s += n;
        len -= n;
    }
    if (outlen == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}
