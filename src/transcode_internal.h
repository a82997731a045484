/*
 * What the files of the media module (chorus-media.so) share, and nothing
 * outside it sees. The module's API is chorus/transcode.h.
 *
 *   transcode.c        the pipeline: demux, decode, filter, encode, mux
 *   transcode_io.c     libav I/O over descriptors (a sandboxed job's files)
 */
#ifndef CHORUS_TRANSCODE_INTERNAL_H
#define CHORUS_TRANSCODE_INTERNAL_H

#include <stdbool.h>

#include <libavformat/avformat.h>

/* ---- transcode_io.c ---------------------------------------------------- */

/*
 * An AVIOContext over fd from its start, reading or writing (with pread or
 * pwrite at a position of its own), or NULL if out of memory. The caller
 * frees it with transcode_io_free; fd stays open.
 */
AVIOContext *transcode_io_new(int fd, bool write);

/* Frees what transcode_io_new made (after an avio_flush, for a writer) and
 * clears *pb; NULL is accepted. */
void transcode_io_free(AVIOContext **pb);

/*
 * Gives the muxer oc an output over fd (custom I/O), and lets it read that
 * output back through fd, under its own name only, which faststart does to
 * move the index to the front. Returns 0, or AVERROR(ENOMEM) with oc->pb
 * NULL. Undone by transcode_io_close_writer.
 */
int transcode_io_open_writer(AVFormatContext *oc, int fd);

/* Flushes and frees what transcode_io_open_writer gave oc (oc->pb must be
 * set). Returns 0, or the writer's negative AVERROR. */
int transcode_io_close_writer(AVFormatContext *oc);

#endif
