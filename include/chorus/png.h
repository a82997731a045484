/*
 * A minimal PNG writer (zlib's deflate and CRC, nothing else): one
 * 1-bit greyscale image, for QR codes. A PNG decoder is never needed on
 * the server: logos are decoded by the worker's sandboxed child.
 */
#ifndef CHORUS_PNG_H
#define CHORUS_PNG_H

#include <stddef.h>
#include <stdint.h>

/* The largest side png_gray1() encodes, in pixels. */
#define PNG_SIDE_MAX 8192

/*
 * Encodes a w x h image of 1-bit pixels (rows of stride bytes, most
 * significant bit first, 1 white and 0 black as PNG has it) as a PNG in
 * *out (malloc'd; the caller frees it), *len bytes long; dpi > 0 records
 * the print resolution (pHYs). Returns 0, or -1 (bad size, no memory).
 */
int png_gray1(const uint8_t *rows, int w, int h, size_t stride, int dpi,
              unsigned char **out, size_t *len);

#endif
