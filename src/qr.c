#include "chorus/qr.h"

#include <qrencode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/png.h"

#define QUIET 4

struct qr {
    QRcode *code;
    int side; /* modules, quiet zone included */
};

struct qr *qr_new(const char *text)
{
    struct qr *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    /* Byte mode: an address may hold any character; case is kept. */
    q->code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    if (q->code == NULL) {
        free(q);
        return NULL;
    }
    q->side = q->code->width + 2 * QUIET;
    return q;
}

void qr_free(struct qr *q)
{
    if (q == NULL)
        return;
    QRcode_free(q->code);
    free(q);
}

int qr_side(const struct qr *q)
{
    return q->side;
}

bool qr_dark(const struct qr *q, int x, int y)
{
    int w = q->code->width;

    x -= QUIET;
    y -= QUIET;
    if (x < 0 || y < 0 || x >= w || y >= w)
        return false;
    /* libqrencode: bit 0 of each module's byte is its colour. */
    return (q->code->data[y * w + x] & 1) != 0;
}

char *qr_svg(const struct qr *q, int size_px, size_t *len)
{
    size_t cap = 512 + (size_t)q->side * (size_t)q->side * 24, used = 0;
    char *s = malloc(cap), size[64] = "";
    int n;

    if (s == NULL)
        return NULL;
    if (size_px > 0)
        snprintf(size, sizeof(size), " width=\"%d\" height=\"%d\"", size_px,
                 size_px);
    n = snprintf(s, cap,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d "
                 "%d\"%s shape-rendering=\"crispEdges\">"
                 "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
                 "<path fill=\"#000\" d=\"",
                 q->side, q->side, size, q->side, q->side);
    used = (size_t)n;
    /* One rectangle per run of dark modules in a row. */
    for (int y = 0; y < q->side; y++) {
        for (int x = 0; x < q->side;) {
            int run = 0;
            while (x + run < q->side && qr_dark(q, x + run, y))
                run++;
            if (run == 0) {
                x++;
                continue;
            }
            n = snprintf(s + used, cap - used, "M%d %dh%dv1h-%dz", x, y, run,
                         run);
            used += (size_t)n;
            x += run;
        }
    }
    n = snprintf(s + used, cap - used, "\"/></svg>\n");
    used += (size_t)n;
    *len = used;
    return s;
}

int qr_png(const struct qr *q, int size_px, int dpi, unsigned char **out,
           size_t *len)
{
    int scale, side;
    size_t stride;
    uint8_t *rows;
    int rc;

    if (size_px < QR_PNG_MIN || size_px > QR_PNG_MAX)
        return -1;
    scale = size_px / q->side;
    if (scale < 1)
        scale = 1;
    side = q->side * scale;
    stride = ((size_t)side + 7) / 8;
    rows = malloc(stride * (size_t)side);
    if (rows == NULL)
        return -1;
    /* White is 1 in a greyscale PNG. */
    memset(rows, 0xff, stride * (size_t)side);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            if (qr_dark(q, x / scale, y / scale))
                rows[(size_t)y * stride + (size_t)x / 8] &=
                    (uint8_t) ~(0x80u >> (x % 8));
    rc = png_gray1(rows, side, side, stride, dpi, out, len);
    free(rows);
    return rc;
}
