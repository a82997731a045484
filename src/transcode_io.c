/*
 * Descriptor-backed I/O for the media pipeline. A sandboxed job may open
 * no file at all: its input is read, and its MP4 written and read back (to
 * move the index to the front), through descriptors it was given.
 * pread/pwrite keep each context's position its own, so the input's two
 * passes, or the MP4's writer and its reader, share one file without
 * moving each other.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "transcode_internal.h"

#define FD_IO_BUF (64 * 1024)

/* One context's descriptor and its own position in it. */
struct fd_io {
    int fd;
    int64_t pos;
};

/* AVIO's read callback: up to size bytes at the position. Returns the
 * count, AVERROR_EOF at the end, or a negative AVERROR. */
static int fd_io_read(void *opaque, uint8_t *buf, int size)
{
    struct fd_io *io = opaque;
    ssize_t n;

    do
        n = pread(io->fd, buf, (size_t)size, (off_t)io->pos);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return AVERROR(errno);
    if (n == 0)
        return AVERROR_EOF;
    io->pos += n;
    return (int)n;
}

/* AVIO's write callback: all size bytes at the position. Returns size, or
 * a negative AVERROR (EIO if the disk takes nothing). */
static int fd_io_write(void *opaque, uint8_t *buf, int size)
{
    struct fd_io *io = opaque;
    int left = size;

    while (left > 0) {
        ssize_t n = pwrite(io->fd, buf, (size_t)left, (off_t)io->pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return AVERROR(n < 0 ? errno : EIO);
        buf += n;
        left -= (int)n;
        io->pos += n;
    }
    return size;
}

/* AVIO's seek callback: SEEK_SET, SEEK_CUR, SEEK_END or AVSEEK_SIZE (the
 * file's size, position unchanged). Returns the new position or the size,
 * or a negative AVERROR. */
static int64_t fd_io_seek(void *opaque, int64_t offset, int whence)
{
    struct fd_io *io = opaque;
    struct stat st;

    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE || whence == SEEK_END) {
        if (fstat(io->fd, &st) != 0)
            return AVERROR(errno);
        if (whence == AVSEEK_SIZE)
            return (int64_t)st.st_size;
        offset += (int64_t)st.st_size;
    } else if (whence == SEEK_CUR) {
        offset += io->pos;
    } else if (whence != SEEK_SET) {
        return AVERROR(EINVAL);
    }
    if (offset < 0)
        return AVERROR(EINVAL);
    io->pos = offset;
    return offset;
}

AVIOContext *transcode_io_new(int fd, bool write)
{
    struct fd_io *io = av_mallocz(sizeof(*io));
    unsigned char *buf = av_malloc(FD_IO_BUF);
    AVIOContext *pb = NULL;

    if (io != NULL && buf != NULL) {
        io->fd = fd;
        pb = avio_alloc_context(buf, FD_IO_BUF, write, io,
                                write ? NULL : fd_io_read,
                                write ? fd_io_write : NULL, fd_io_seek);
    }
    if (pb == NULL) {
        av_free(io);
        av_free(buf);
    }
    return pb;
}

void transcode_io_free(AVIOContext **pb)
{
    if (*pb == NULL)
        return;
    av_freep(&(*pb)->opaque);
    av_freep(&(*pb)->buffer);
    avio_context_free(pb);
}

/*
 * The muxer's io_open: faststart reads the finished MP4 back to move its
 * index to the front; that is a reader over the writer's descriptor (the
 * struct fd_io in s->opaque), for the output's own name and nothing else.
 * Returns 0, or a negative AVERROR with *pb NULL.
 */
static int reread_open(AVFormatContext *s, AVIOContext **pb, const char *url,
                       int flags, AVDictionary **options)
{
    const struct fd_io *writer = s->opaque;

    (void)options;
    *pb = NULL;
    if ((flags & AVIO_FLAG_WRITE) != 0 || strcmp(url, s->url) != 0)
        return AVERROR(EPERM);
    *pb = transcode_io_new(writer->fd, false);
    return *pb != NULL ? 0 : AVERROR(ENOMEM);
}

/* The muxer's io_close2 for what reread_open opened; returns 0. */
static int reread_close(AVFormatContext *s, AVIOContext *pb)
{
    (void)s;
    transcode_io_free(&pb);
    return 0;
}

int transcode_io_open_writer(AVFormatContext *oc, int fd)
{
    if ((oc->pb = transcode_io_new(fd, true)) == NULL)
        return AVERROR(ENOMEM);
    oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    oc->opaque = oc->pb->opaque;
    oc->io_open = reread_open;
    oc->io_close2 = reread_close;
    return 0;
}

int transcode_io_close_writer(AVFormatContext *oc)
{
    int ret;

    avio_flush(oc->pb);
    ret = oc->pb->error;
    transcode_io_free(&oc->pb);
    oc->opaque = NULL;
    return ret;
}
