/*
 * Face detection for identity protection ("blur_faces"), with OpenCV's
 * Haar cascades from Debian's opencv-data: the frontal one, and the
 * profile one run on the picture and on its mirror image (the cascade
 * knows one side only). OpenCV has no C interface: this header is C, its
 * implementation (src/faces.cpp) is the one C++ file of the project, and
 * nothing of C++ (no exception, no object) crosses it.
 *
 * The cascades are read from their files by faces_open, so a sandboxed
 * job calls it before its filter closes; faces_detect, from any one
 * thread at a time, opens nothing and starts neither a process nor a
 * thread (OpenCV's thread pool and OpenCL are off). Part of
 * chorus-media.so.
 */
#ifndef CHORUS_FACES_H
#define CHORUS_FACES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Debian's opencv-data. */
#define FACES_FRONTAL                                                          \
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
#define FACES_PROFILE                                                          \
    "/usr/share/opencv4/haarcascades/haarcascade_profileface.xml"

/* Which cascades to run (bits): the frontal one, the profile one on the
 * image (faces turned to their left, as the cascade was trained), and on
 * its mirror image (turned to their right). */
enum {
    FACES_RUN_FRONTAL = 1 << 0,
    FACES_RUN_PROFILE = 1 << 1,
    FACES_RUN_MIRRORED = 1 << 2,
};

/* A detected face, in the pixels of the image it was found in. */
struct faces_box {
    int x, y, w, h;
};

struct faces;

/*
 * Loads the frontal and profile cascades from their files (NULL: the
 * defaults above) and readies OpenCV for use without files: OpenCL off,
 * its thread pool and CPU count set up now. Returns 0 with *out set (the
 * caller frees it with faces_close), or -1 with a one-line reason in err.
 */
int faces_open(struct faces **out, const char *frontal, const char *profile,
               char *err, size_t errlen);

/* Frees what faces_open made and clears *f; NULL is accepted. */
void faces_close(struct faces **f);

/*
 * Finds faces of at least min_side pixels in the 8-bit grey image (w x h,
 * stride bytes a row; the image is not changed) with the cascades which
 * names (FACES_RUN_* bits). Writes at most max boxes (overlapping finds of
 * several cascades are all kept: covering a face twice costs nothing) and
 * returns how many were found, which may exceed max; -1 on failure (out
 * of memory, a bad argument).
 */
int faces_detect(struct faces *f, const uint8_t *grey, int w, int h,
                 ptrdiff_t stride, int min_side, unsigned which,
                 struct faces_box *boxes, int max);

#ifdef __cplusplus
}
#endif

#endif
