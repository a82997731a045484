#include "chorus/thumb.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>

/* mjpeg quantiser, 2 (best) to 31: 3 keeps faces sharp at ~50 KB. */
#define THUMB_QSCALE 3

double thumb_score(const AVFrame *frame)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(frame->format);
    uint64_t sum = 0, sum2 = 0, n = 0;
    double mean, var;

    if (d == NULL || frame->data[0] == NULL ||
        (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL |
                     AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)) ||
        !(d->flags & AV_PIX_FMT_FLAG_PLANAR) || d->comp[0].plane != 0 ||
        d->comp[0].step != 1 || d->comp[0].depth != 8 || d->comp[0].shift)
        return -1;
    /* Every other pixel of every other row is plenty for a statistic. */
    for (int y = 0; y < frame->height; y += 2) {
        const uint8_t *row = frame->data[0] + (ptrdiff_t)y * frame->linesize[0];
        for (int x = 0; x < frame->width; x += 2) {
            sum += row[x];
            sum2 += (uint64_t)row[x] * row[x];
            n++;
        }
    }
    if (n == 0)
        return 0;
    mean = (double)sum / (double)n;
    var = (double)sum2 / (double)n - mean * mean;
    return var > 0 ? sqrt(var) : 0;
}

/* Writes all of buf to path (or into given, when >= 0) and fsyncs it.
 * Returns 0, or -1 (errno). */
static int write_file(const char *path, int given, const uint8_t *buf,
                      size_t len)
{
    int fd =
        given >= 0
            ? given
            : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                   0644);
    int rc = -1;

    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        buf += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto out;
    rc = 0;
out:
    if (given < 0 && close(fd) != 0)
        rc = -1;
    return rc;
}

int thumb_write_jpeg(const AVFrame *frame, const char *path, int fd, char *err,
                     size_t errlen)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *enc = NULL;
    AVFrame *pic = NULL;
    AVPacket *pkt = NULL;
    int ret, rc = -1;

    if (codec == NULL) {
        snprintf(err, errlen, "thumbnail: no JPEG encoder in this libavcodec");
        goto out;
    }
    enc = avcodec_alloc_context3(codec);
    pic = av_frame_clone(frame);
    pkt = av_packet_alloc();
    if (enc == NULL || pic == NULL || pkt == NULL) {
        snprintf(err, errlen, "thumbnail: out of memory");
        goto out;
    }
    enc->width = frame->width;
    enc->height = frame->height;
    enc->pix_fmt = frame->format;
    enc->color_range = AVCOL_RANGE_JPEG;
    enc->sample_aspect_ratio = (AVRational){1, 1};
    enc->time_base = (AVRational){1, 1};
    /* A fixed quantiser; no "Lavc" comment segment in the file. */
    enc->flags |= AV_CODEC_FLAG_QSCALE | AV_CODEC_FLAG_BITEXACT;
    enc->global_quality = FF_QP2LAMBDA * THUMB_QSCALE;
    /* With a fixed quantiser the encoder reads it from each picture. */
    pic->quality = enc->global_quality;
    pic->pts = 0;
    pic->pict_type = AV_PICTURE_TYPE_NONE;
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0 ||
        (ret = avcodec_send_frame(enc, pic)) < 0 ||
        (ret = avcodec_send_frame(enc, NULL)) < 0 ||
        (ret = avcodec_receive_packet(enc, pkt)) < 0) {
        snprintf(err, errlen, "thumbnail: JPEG encoding failed: %s",
                 av_err2str(ret));
        goto out;
    }
    if (write_file(path, fd, pkt->data, (size_t)pkt->size) != 0) {
        snprintf(err, errlen, "thumbnail: cannot write it: %s",
                 strerror(errno));
        goto out;
    }
    rc = 0;
out:
    av_packet_free(&pkt);
    av_frame_free(&pic);
    avcodec_free_context(&enc);
    return rc;
}
