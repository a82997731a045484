/*
 * Still images in the media module (chorus-media.so, FFmpeg's libraries):
 * a campaign's logo, decoded and made again by a sandboxed job's child
 * (logo.c), so that no byte the admin sent is ever served or drawn as it
 * came. The module exports its functions in this table.
 */
#ifndef CHORUS_IMAGE_H
#define CHORUS_IMAGE_H

#include <stddef.h>

/* The largest picture a logo may be before it is made smaller. */
#define IMAGE_IN_SIDE_MAX 4096
#define IMAGE_IN_PIXELS_MAX (4096 * 4096)

struct image_api {
    /*
     * Reads at most max_bytes from in_fd (from where it stands) and
     * checks that they are one PNG or JPEG picture (by their bytes, not a
     * name or a type) of at most IMAGE_IN_SIDE_MAX pixels a side; writes
     * it to out_fd (empty, opened for writing) as a PNG with an alpha
     * channel, its longer side at most max_side pixels (never enlarged),
     * and nothing of the input beyond its pixels: no text, colour
     * profile, EXIF or other chunks. Opens no file; one thread. Returns
     * 0, or -1 with the reason (for an admin) in err.
     */
    int (*logo)(int in_fd, int out_fd, size_t max_bytes, int max_side,
                char *err, size_t errlen);
};

/* The table's symbol in the module. */
#define IMAGE_API_SYMBOL "chorus_image_api"

#endif
