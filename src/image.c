/* The media module's still images: see image.h. */
#include "chorus/image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>

/* Reads up to max + 1 bytes of fd into a padded buffer; -1 on failure,
 * else the bytes read (max + 1: too many). */
static long read_all(int fd, uint8_t *buf, size_t max)
{
    size_t used = 0;

    while (used <= max) {
        ssize_t n = read(fd, buf + used, max + 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        used += (size_t)n;
    }
    return (long)used;
}

/* The decoder the bytes call for: PNG or JPEG by their signature. */
static enum AVCodecID sniff(const uint8_t *b, long n)
{
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    if (n >= 8 && memcmp(b, png, 8) == 0)
        return AV_CODEC_ID_PNG;
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return AV_CODEC_ID_MJPEG;
    return AV_CODEC_ID_NONE;
}

/* Writes all of p to fd; 0, or -1. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int image_logo(int in_fd, int out_fd, size_t max_bytes, int max_side,
                      char *err, size_t errlen)
{
    const AVCodec *dec, *enc;
    AVCodecContext *dctx = NULL, *ectx = NULL;
    AVPacket *pkt = NULL;
    AVFrame *in = NULL, *out = NULL;
    struct SwsContext *sws = NULL;
    uint8_t *buf = NULL;
    enum AVCodecID id;
    long n;
    int w, h, rc = -1;

    av_log_set_level(AV_LOG_QUIET);
    snprintf(err, errlen, "out of memory");
    buf = av_malloc(max_bytes + 1 + AV_INPUT_BUFFER_PADDING_SIZE);
    if (buf == NULL)
        goto out;
    if ((n = read_all(in_fd, buf, max_bytes)) < 0) {
        snprintf(err, errlen, "the logo cannot be read");
        goto out;
    }
    if ((size_t)n > max_bytes) {
        snprintf(err, errlen, "the logo is larger than %zu bytes", max_bytes);
        goto out;
    }
    memset(buf + n, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    if ((id = sniff(buf, n)) == AV_CODEC_ID_NONE) {
        snprintf(err, errlen, "the logo is not a PNG or JPEG image");
        goto out;
    }
    if ((dec = avcodec_find_decoder(id)) == NULL ||
        (dctx = avcodec_alloc_context3(dec)) == NULL)
        goto out;
    dctx->thread_count = 1;
    /* Refused before the decoder allocates a giant frame. */
    dctx->max_pixels = IMAGE_IN_PIXELS_MAX;
    if (avcodec_open2(dctx, dec, NULL) < 0 ||
        (pkt = av_packet_alloc()) == NULL || (in = av_frame_alloc()) == NULL ||
        (out = av_frame_alloc()) == NULL)
        goto out;
    pkt->data = buf;
    pkt->size = (int)n;
    if (avcodec_send_packet(dctx, pkt) < 0 ||
        (avcodec_send_packet(dctx, NULL), avcodec_receive_frame(dctx, in)) <
            0) {
        snprintf(err, errlen,
                 "the logo is not an image that can be read "
                 "(damaged, or too large)");
        goto out;
    }
    if (in->width < 1 || in->height < 1 || in->width > IMAGE_IN_SIDE_MAX ||
        in->height > IMAGE_IN_SIDE_MAX) {
        snprintf(err, errlen, "the logo is %dx%d: at most %d pixels a side",
                 in->width, in->height, IMAGE_IN_SIDE_MAX);
        goto out;
    }
    /* Made smaller to fit max_side, never larger; at least 1 px. */
    w = in->width;
    h = in->height;
    if (w > max_side || h > max_side) {
        if (w >= h) {
            h = (int)((int64_t)h * max_side / w);
            w = max_side;
        } else {
            w = (int)((int64_t)w * max_side / h);
            h = max_side;
        }
        w = w < 1 ? 1 : w;
        h = h < 1 ? 1 : h;
    }
    out->format = AV_PIX_FMT_RGBA;
    out->width = w;
    out->height = h;
    if (av_frame_get_buffer(out, 0) < 0 ||
        (sws = sws_getContext(in->width, in->height, in->format, w, h,
                              AV_PIX_FMT_RGBA, SWS_BICUBIC, NULL, NULL,
                              NULL)) == NULL) {
        snprintf(err, errlen, "the logo's pixel format cannot be converted");
        goto out;
    }
    sws_scale(sws, (const uint8_t *const *)in->data, in->linesize, 0,
              in->height, out->data, out->linesize);
    if ((enc = avcodec_find_encoder(AV_CODEC_ID_PNG)) == NULL ||
        (ectx = avcodec_alloc_context3(enc)) == NULL)
        goto out;
    ectx->width = w;
    ectx->height = h;
    ectx->pix_fmt = AV_PIX_FMT_RGBA;
    ectx->time_base = (AVRational){1, 1};
    ectx->thread_count = 1;
    if (avcodec_open2(ectx, enc, NULL) < 0) {
        snprintf(err, errlen, "the PNG encoder cannot be opened");
        goto out;
    }
    av_packet_unref(pkt);
    if (avcodec_send_frame(ectx, out) < 0 || avcodec_send_frame(ectx, NULL) ||
        avcodec_receive_packet(ectx, pkt) < 0) {
        snprintf(err, errlen, "the logo cannot be encoded");
        goto out;
    }
    if (write_all(out_fd, pkt->data, (size_t)pkt->size) != 0 ||
        fsync(out_fd) != 0) {
        snprintf(err, errlen, "the logo cannot be written");
        goto out;
    }
    err[0] = '\0';
    rc = 0;
out:
    sws_freeContext(sws);
    av_frame_free(&in);
    av_frame_free(&out);
    av_packet_free(&pkt);
    avcodec_free_context(&dctx);
    avcodec_free_context(&ectx);
    av_free(buf);
    return rc;
}

extern const struct image_api chorus_image_api;
const struct image_api chorus_image_api = {
    image_logo,
};
