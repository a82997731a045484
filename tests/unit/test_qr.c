/*
 * QR codes and the PNG writer: the PNG's chunks and CRCs are what the
 * format says, its pixels (inflated again) are the code's modules at the
 * scale asked for, with the quiet zone; the SVG draws every dark module
 * once; sizes out of range are refused. That a phone reads the code is
 * tests/http/campaigns.test.mjs's (zbarimg).
 */
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "chorus/png.h"
#include "chorus/qr.h"
#include "test.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/*
 * Walks png's chunks, checking each CRC; returns the inflated pixel
 * rows (malloc'd) and the size, or NULL.
 */
static unsigned char *decode(const unsigned char *png, size_t len, int *w,
                             int *h, int *dpi_ppm)
{
    static const unsigned char sig[8] = {0x89, 'P',  'N',  'G',
                                         '\r', '\n', 0x1a, '\n'};
    unsigned char *z = NULL, *raw = NULL;
    size_t zlen = 0, p = 8;
    uLongf rawlen;
    bool end = false;

    *dpi_ppm = 0;
    CHECK(len > 8 && memcmp(png, sig, 8) == 0);
    while (p + 12 <= len && !end) {
        uint32_t n = be32(png + p);
        const unsigned char *type = png + p + 4, *data = png + p + 8;

        CHECK(p + 12 + n <= len);
        CHECK_INT(crc32(crc32(0, type, 4), data, n), be32(data + n));
        if (memcmp(type, "IHDR", 4) == 0) {
            *w = (int)be32(data);
            *h = (int)be32(data + 4);
            CHECK_INT(data[8], 1); /* 1 bit */
            CHECK_INT(data[9], 0); /* greyscale */
        } else if (memcmp(type, "pHYs", 4) == 0) {
            *dpi_ppm = (int)be32(data);
        } else if (memcmp(type, "IDAT", 4) == 0) {
            z = realloc(z, zlen + n);
            memcpy(z + zlen, data, n);
            zlen += n;
        } else if (memcmp(type, "IEND", 4) == 0) {
            end = true;
        }
        p += 12 + n;
    }
    CHECK(end);
    CHECK_INT(p, len);
    rawlen = (uLongf)(((size_t)*w + 7) / 8 + 1) * (uLongf)*h;
    raw = malloc(rawlen);
    CHECK_INT(uncompress(raw, &rawlen, z, (uLong)zlen), Z_OK);
    free(z);
    return raw;
}

static void test_png(const struct qr *q, int size, int want_scale)
{
    unsigned char *png = NULL, *raw;
    size_t len = 0, stride;
    int w = 0, h = 0, ppm = 0, side = qr_side(q) * want_scale, wrong = 0;

    CHECK_INT(qr_png(q, size, 300, &png, &len), 0);
    raw = decode(png, len, &w, &h, &ppm);
    CHECK_INT(w, side);
    CHECK_INT(h, side);
    CHECK_INT(ppm, 11811); /* 300 dpi in pixels a metre */
    stride = ((size_t)w + 7) / 8 + 1;
    for (int y = 0; y < h; y++) {
        CHECK_INT(raw[(size_t)y * stride], 0); /* filter: none */
        for (int x = 0; x < w; x++) {
            int white =
                (raw[(size_t)y * stride + 1 + (size_t)x / 8] >> (7 - x % 8)) &
                1;
            if (white == qr_dark(q, x / want_scale, y / want_scale))
                wrong++;
        }
    }
    CHECK_INT(wrong, 0);
    free(raw);
    free(png);
}

int main(void)
{
    const char *url = "https://chorus.example.org/c/may-day";
    struct qr *q = qr_new(url);
    unsigned char *png = NULL;
    uint8_t one[2] = {0x80, 0};
    size_t len, runs = 0, dark = 0, drawn = 0;
    char *svg;

    CHECK(q != NULL);
    /* Version 3 or so (29 modules) plus four on each side. */
    CHECK(qr_side(q) >= 29 + 8 && qr_side(q) <= 41 + 8);
    /* The quiet zone is white; the finder pattern's corner is dark. */
    for (int i = 0; i < qr_side(q); i++) {
        CHECK(!qr_dark(q, i, 0) && !qr_dark(q, 0, i) && !qr_dark(q, i, 3));
        CHECK(!qr_dark(q, i, qr_side(q) - 1));
    }
    CHECK(qr_dark(q, 4, 4));
    CHECK(qr_dark(q, qr_side(q) - 5, 4));

    test_png(q, QR_PNG_DEFAULT, QR_PNG_DEFAULT / qr_side(q));
    test_png(q, QR_PNG_MIN,
             QR_PNG_MIN / qr_side(q) ? QR_PNG_MIN / qr_side(q) : 1);
    CHECK_INT(qr_png(q, QR_PNG_MAX + 1, 0, &png, &len), -1);
    CHECK_INT(qr_png(q, QR_PNG_MIN - 1, 0, &png, &len), -1);

    /* The SVG: one rectangle per run of dark modules, covering them all. */
    svg = qr_svg(q, 800, &len);
    CHECK(svg != NULL);
    CHECK_INT(strlen(svg), len);
    CHECK(strstr(svg, "width=\"800\" height=\"800\"") != NULL);
    CHECK(strstr(svg, "<script") == NULL);
    for (int y = 0; y < qr_side(q); y++)
        for (int x = 0; x < qr_side(q); x++) {
            dark += qr_dark(q, x, y);
            runs += qr_dark(q, x, y) && (x == 0 || !qr_dark(q, x - 1, y));
        }
    for (const char *p = svg; (p = strchr(p, 'M')) != NULL; p++) {
        int x, y, n, n2;
        CHECK_INT(sscanf(p, "M%d %dh%dv1h-%dz", &x, &y, &n, &n2), 4);
        CHECK_INT(n, n2);
        for (int i = 0; i < n; i++)
            CHECK(qr_dark(q, x + i, y));
        drawn += (size_t)n;
        runs--;
    }
    CHECK_INT(runs, 0);
    CHECK_INT(drawn, dark);
    free(svg);
    qr_free(q);

    /* The writer alone: bounds refused, one pixel fine. */
    CHECK_INT(png_gray1(one, 0, 1, 1, 0, &png, &len), -1);
    CHECK_INT(png_gray1(one, PNG_SIDE_MAX + 1, 1, 1100, 0, &png, &len), -1);
    CHECK_INT(png_gray1(one, 9, 1, 1, 0, &png, &len), -1); /* stride short */
    CHECK_INT(png_gray1(one, 1, 1, 1, 0, &png, &len), 0);
    free(png);
    /* An address too long for any QR code. */
    {
        char *huge = malloc(8000);
        memset(huge, 'a', 7999);
        huge[7999] = '\0';
        CHECK(qr_new(huge) == NULL);
        free(huge);
    }
    return TEST_RESULT();
}
