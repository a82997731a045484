/*
 * Descriptor-backed I/O for the media pipeline. A sandboxed job may open
 * no file at all: its input is read, and its MP4 written and read back (to
 * move the index to the front), through descriptors it was given.
 * pread/pwrite keep each context's position its own, so the input's two
 * passes, or the MP4's writer and its reader, share one file without
 * moving each other.
 *
 * The spool keeps packets on a descriptor of its own until the muxer
 * takes them: the encoded video while the sound's loudness is still being
 * measured, and the input's audio packets to decode again with the gain
 * (see transcode.c). Only the index of what it holds is in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- the spool --------------------------------------------------------- */

/* Where one spooled packet is, and what it was. */
struct spool_entry {
    int64_t pos; /* of its data in the file */
    int64_t pts, dts, duration;
    int32_t size, side_bytes; /* its data; its side data after it */
    int32_t flags;
    int track;
};

struct transcode_spool {
    int fd;
    bool own_fd;
    int64_t end; /* bytes written */
    struct spool_entry *e;
    size_t n, cap;
    size_t next[TRANSCODE_SPOOL_TRACKS]; /* each track's reading cursor */
};

int transcode_spool_open(struct transcode_spool **out, int fd, const char *dir)
{
    struct transcode_spool *s = calloc(1, sizeof(*s));
    char path[PATH_MAX];

    *out = NULL;
    if (s == NULL)
        return AVERROR(ENOMEM);
    s->fd = fd;
    if (fd < 0) {
        /* Unnamed: nothing is left behind, whatever happens. */
        s->fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
        if (s->fd < 0 &&
            (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
            if (snprintf(path, sizeof(path), "%s/spool.XXXXXX", dir) >=
                (int)sizeof(path)) {
                free(s);
                return AVERROR(ENAMETOOLONG);
            }
            if ((s->fd = mkostemp(path, O_CLOEXEC)) >= 0)
                unlink(path);
        }
        if (s->fd < 0) {
            int err = errno;
            free(s);
            return AVERROR(err);
        }
        s->own_fd = true;
    }
    *out = s;
    return 0;
}

void transcode_spool_free(struct transcode_spool **sp)
{
    struct transcode_spool *s = *sp;

    if (s == NULL)
        return;
    if (s->own_fd)
        close(s->fd);
    free(s->e);
    free(s);
    *sp = NULL;
}

/* Writes all of len bytes of buf at pos; 0, or a negative AVERROR. */
static int write_at(int fd, const void *buf, size_t len, int64_t pos)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return AVERROR(n < 0 ? errno : EIO);
        p += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

/* Reads all of len bytes at pos into buf; 0, or a negative AVERROR. */
static int read_at(int fd, void *buf, size_t len, int64_t pos)
{
    uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? AVERROR(errno) : AVERROR(EIO);
        p += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

int transcode_spool_put(struct transcode_spool *s, int track,
                        const AVPacket *pkt)
{
    struct spool_entry *e;
    int64_t pos = s->end;
    int32_t side = 0;
    int ret;

    if (track < 0 || track >= TRANSCODE_SPOOL_TRACKS || pkt->size < 0)
        return AVERROR(EINVAL);
    if (s->n == s->cap) {
        size_t cap = s->cap != 0 ? 2 * s->cap : 1024;
        struct spool_entry *ne = realloc(s->e, cap * sizeof(*ne));
        if (ne == NULL)
            return AVERROR(ENOMEM);
        s->e = ne;
        s->cap = cap;
    }
    if (pkt->size > 0 &&
        (ret = write_at(s->fd, pkt->data, (size_t)pkt->size, pos)) < 0)
        return ret;
    pos += pkt->size;
    /* Side data (an audio packet's samples to skip, say) after the data:
     * type and size as two 32-bit numbers, then the bytes. */
    for (int i = 0; i < pkt->side_data_elems; i++) {
        const AVPacketSideData *sd = &pkt->side_data[i];
        uint32_t head[2] = {(uint32_t)sd->type, (uint32_t)sd->size};
        if (sd->size > INT32_MAX / 2 || side > INT32_MAX / 2)
            return AVERROR(EINVAL);
        if ((ret = write_at(s->fd, head, sizeof(head), pos)) < 0 ||
            (ret = write_at(s->fd, sd->data, sd->size, pos + 8)) < 0)
            return ret;
        pos += 8 + (int64_t)sd->size;
        side += 8 + (int32_t)sd->size;
    }
    e = &s->e[s->n++];
    e->pos = s->end;
    e->pts = pkt->pts;
    e->dts = pkt->dts;
    e->duration = pkt->duration;
    e->size = pkt->size;
    e->side_bytes = side;
    e->flags = pkt->flags;
    e->track = track;
    s->end = pos;
    return 0;
}

/* The index of track's next entry at or after its cursor, or s->n. */
static size_t next_of(struct transcode_spool *s, int track)
{
    size_t i = s->next[track];

    while (i < s->n && s->e[i].track != track)
        i++;
    s->next[track] = i;
    return i;
}

int transcode_spool_peek(struct transcode_spool *s, int track, int64_t *dts)
{
    size_t i;

    if (track < 0 || track >= TRANSCODE_SPOOL_TRACKS)
        return AVERROR(EINVAL);
    if ((i = next_of(s, track)) == s->n)
        return 0;
    *dts = s->e[i].dts != AV_NOPTS_VALUE ? s->e[i].dts : s->e[i].pts;
    return 1;
}

int transcode_spool_get(struct transcode_spool *s, int track, AVPacket *pkt)
{
    const struct spool_entry *e;
    uint8_t *side = NULL;
    size_t i;
    int ret;

    if (track < 0 || track >= TRANSCODE_SPOOL_TRACKS)
        return AVERROR(EINVAL);
    if ((i = next_of(s, track)) == s->n)
        return 0;
    e = &s->e[i];
    s->next[track] = i + 1;
    av_packet_unref(pkt);
    if ((ret = av_new_packet(pkt, e->size)) < 0 ||
        (ret = read_at(s->fd, pkt->data, (size_t)e->size, e->pos)) < 0)
        goto out;
    if (e->side_bytes > 0) {
        if ((side = malloc((size_t)e->side_bytes)) == NULL) {
            ret = AVERROR(ENOMEM);
            goto out;
        }
        if ((ret = read_at(s->fd, side, (size_t)e->side_bytes,
                           e->pos + e->size)) < 0)
            goto out;
        for (int32_t off = 0; off + 8 <= e->side_bytes;) {
            uint32_t head[2];
            uint8_t *dst;
            memcpy(head, side + off, sizeof(head));
            if (head[1] > (uint32_t)(e->side_bytes - off - 8)) {
                ret = AVERROR(EIO);
                goto out;
            }
            dst = av_packet_new_side_data(
                pkt, (enum AVPacketSideDataType)head[0], head[1]);
            if (dst == NULL) {
                ret = AVERROR(ENOMEM);
                goto out;
            }
            memcpy(dst, side + off + 8, head[1]);
            off += 8 + (int32_t)head[1];
        }
    }
    pkt->pts = e->pts;
    pkt->dts = e->dts;
    pkt->duration = e->duration;
    pkt->flags = e->flags;
    ret = 1;
out:
    free(side);
    if (ret < 0)
        av_packet_unref(pkt);
    return ret;
}
