/*
 * QR codes of a campaign's address (libqrencode), drawn as SVG or as a
 * PNG (png.h). Every code has the standard quiet zone of four modules
 * and error correction level M (15 %: a poster survives a crease).
 */
#ifndef CHORUS_QR_H
#define CHORUS_QR_H

#include <stdbool.h>
#include <stddef.h>

struct qr;

/* Sides of a PNG code, in pixels. */
#define QR_PNG_MIN 64
#define QR_PNG_MAX 4096
#define QR_PNG_DEFAULT 1024

/* Encodes text (bytes of UTF-8). Returns the code, or NULL (too long, no
 * memory); qr_free() it. */
struct qr *qr_new(const char *text);
void qr_free(struct qr *q);
/* Modules on a side, quiet zone included. */
int qr_side(const struct qr *q);
/* True if module (x, y) of the whole square, quiet zone included, is
 * dark. */
bool qr_dark(const struct qr *q, int x, int y);

/*
 * The code as an SVG document (malloc'd, *len bytes; the caller frees
 * it): one path on white, one unit a module; size_px > 0 sets its width
 * and height. NULL if out of memory.
 */
char *qr_svg(const struct qr *q, int size_px, size_t *len);
/*
 * The code as a PNG of at most size_px pixels a side (QR_PNG_MIN to
 * QR_PNG_MAX), each module a whole number of pixels, marked for printing
 * at dpi (0: unmarked). 0 with *out (malloc'd) and *len, or -1.
 */
int qr_png(const struct qr *q, int size_px, int dpi, unsigned char **out,
           size_t *len);

#endif
