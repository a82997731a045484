/*
 * The thumbnail: scoring candidate frames and writing the chosen one as a
 * JPEG. The candidates come from the transcode's own filter graph (already
 * scaled down and oriented); this module never decodes anything.
 */
#ifndef CHORUS_THUMB_H
#define CHORUS_THUMB_H

#include <stddef.h>

struct AVFrame;

/*
 * How good frame is as a thumbnail, >= 0, higher is better: the spread
 * (standard deviation) of its luma, so black, white and flat frames lose
 * to ones with something in them. frame must be 8-bit planar YUV; returns
 * -1 for any other format.
 */
double thumb_score(const struct AVFrame *frame);

/*
 * Encodes frame (8-bit 4:2:0 YUV, full range) with the mjpeg encoder and
 * writes it to path (created or truncated, mode 0644 less the umask), or
 * when fd >= 0 into that empty descriptor instead, fsync'd. Returns 0, or
 * -1 with a one-line reason in err. The file may be left behind on
 * failure: the caller removes it.
 */
int thumb_write_jpeg(const struct AVFrame *frame, const char *path, int fd,
                     char *err, size_t errlen);

#endif
