#include "chorus/png.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A growing output buffer. */
struct out {
    unsigned char *p;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const void *data, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n > o->cap) {
        size_t cap = (o->len + n) * 2;
        unsigned char *p = realloc(o->p, cap);
        if (p == NULL) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, n);
    o->len += n;
}

static void be32(unsigned char b[4], uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* One chunk: length, type, data, CRC of type and data. */
static void chunk(struct out *o, const char type[4], const void *data, size_t n)
{
    unsigned char b[4];
    uLong crc = crc32(0L, (const Bytef *)type, 4);

    if (n > 0)
        crc = crc32(crc, data, (uInt)n);
    be32(b, (uint32_t)n);
    put(o, b, 4);
    put(o, type, 4);
    if (n > 0)
        put(o, data, n);
    be32(b, (uint32_t)crc);
    put(o, b, 4);
}

int png_gray1(const uint8_t *rows, int w, int h, size_t stride, int dpi,
              unsigned char **out, size_t *len)
{
    static const unsigned char signature[8] = {0x89, 'P',  'N',  'G',
                                               '\r', '\n', 0x1a, '\n'};
    size_t row_bytes = ((size_t)w + 7) / 8, raw_len;
    unsigned char ihdr[13], phys[9], *raw = NULL, *z = NULL;
    uLongf zlen;
    struct out o = {NULL, 0, 0, 0};
    int rc = -1;

    *out = NULL;
    *len = 0;
    if (w < 1 || h < 1 || w > PNG_SIDE_MAX || h > PNG_SIDE_MAX ||
        stride < row_bytes)
        return -1;
    /* Each row: filter type 0 (none), then its bytes. */
    raw_len = (row_bytes + 1) * (size_t)h;
    raw = malloc(raw_len);
    zlen = compressBound((uLong)raw_len);
    z = malloc(zlen);
    if (raw == NULL || z == NULL)
        goto out;
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * (row_bytes + 1)] = 0;
        memcpy(raw + (size_t)y * (row_bytes + 1) + 1, rows + (size_t)y * stride,
               row_bytes);
    }
    if (compress2(z, &zlen, raw, (uLong)raw_len, Z_BEST_COMPRESSION) != Z_OK)
        goto out;
    be32(ihdr, (uint32_t)w);
    be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 1;  /* bit depth */
    ihdr[9] = 0;  /* greyscale */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering, type 0 on every row */
    ihdr[12] = 0; /* not interlaced */
    put(&o, signature, sizeof(signature));
    chunk(&o, "IHDR", ihdr, sizeof(ihdr));
    if (dpi > 0) {
        /* Pixels per metre, both axes; unit 1 = the metre. */
        uint32_t ppm = (uint32_t)((double)dpi / 0.0254 + 0.5);
        be32(phys, ppm);
        be32(phys + 4, ppm);
        phys[8] = 1;
        chunk(&o, "pHYs", phys, sizeof(phys));
    }
    chunk(&o, "IDAT", z, zlen);
    chunk(&o, "IEND", NULL, 0);
    if (o.failed)
        goto out;
    *out = o.p;
    *len = o.len;
    o.p = NULL;
    rc = 0;
out:
    free(o.p);
    free(raw);
    free(z);
    return rc;
}
