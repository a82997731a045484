/*
 * The studio's versions (chorus/transcode.h, transcode_versions): the
 * message's video decoded once, each frame handed to a thread a version
 * (a bounded queue each: the decoder goes at the slowest version's
 * pace), there through its filter graph (transcode_plan_version: the
 * clip fitted over a blurred fill), its text drawn by its own renderer
 * (text.h: captions, the credit's lower third, the hashtag), the logo
 * blended in, and encoded by its own x264 into its own MP4, its first
 * frame as drawn also kept as a small JPEG (the library's preview:
 * thumb.c's encoder, no other decode). The sound is the video's, already
 * at the loudness target: its packets are copied into every version, in
 * the same queue as the frames, not decoded again.
 *
 * Inside the sandbox nothing can be opened: the fonts come in
 * transcode_studio_assets (loaded before it closes), the logo as bytes,
 * the outputs as descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/cpu.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "chorus/thumb.h"
#include "chorus/transcode.h"
#include "chorus/transcode_plan.h"
#include "chorus/util.h"
#include "text.h"
#include "transcode_internal.h"

struct transcode_studio_assets {
    struct text_renderer *text[TRANSCODE_MAX_VERSIONS];
    int n;
};

int transcode_studio_assets_open(int n, struct transcode_studio_assets **out,
                                 char *err, size_t errlen)
{
    struct transcode_studio_assets *a = calloc(1, sizeof(*a));

    *out = NULL;
    if (a == NULL || n < 0 || n > TRANSCODE_MAX_VERSIONS) {
        snprintf(err, errlen, "studio: out of memory or too many versions");
        free(a);
        return -1;
    }
    for (a->n = 0; a->n < n; a->n++)
        if (text_open(&a->text[a->n], err, errlen) != 0) {
            transcode_studio_assets_close(&a);
            return -1;
        }
    *out = a;
    return 0;
}

void transcode_studio_assets_close(struct transcode_studio_assets **ap)
{
    struct transcode_studio_assets *a = ap != NULL ? *ap : NULL;

    if (a == NULL)
        return;
    for (int i = 0; i < TRANSCODE_MAX_VERSIONS; i++)
        text_close(&a->text[i]);
    free(a);
    *ap = NULL;
}

/*
 * What the decoding thread hands a version's thread, in the input's
 * order: a frame (a new reference to the decoder's), a sound packet to
 * copy, or, once, the end (flush, or abandon if abort). Bounded: the
 * decoder waits for the slowest version rather than holding the clip's
 * frames in memory.
 */
#define VERSION_QUEUE 8

struct version_item {
    AVFrame *frame;
    AVPacket *pkt;
};

struct version_queue {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct version_item item[VERSION_QUEUE];
    int head, n;
    bool end, abort, failed;
};

/* One version being made. */
struct version_out {
    const struct transcode_version_request *req;
    struct transcode_version_plan plan;
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *vst, *ast;
    AVBSFContext *bsf;
    struct text_renderer *text;
    bool has_text;
    AVFrame *logo; /* yuva420p, its place's size; NULL: none */
    int logo_x, logo_y;
    int fd;
    bool own_fd;
    char path[PATH_MAX];
    int64_t frames;
    int thumb_fd; /* -1: no first frame wanted */
    bool own_thumb;
    char thumb_path[PATH_MAX];
    /* Its own thread from the first frame on: its failure (job.res is
     * res), its scratch frame and packets, and its queue. */
    struct transcode_job job;
    struct transcode_result res;
    AVFrame *filt;
    AVPacket *opkt;
    AVRational ain_tb; /* the copied sound's time base in the input */
    pthread_t thread;
    bool started;
    struct version_queue q;
};

/* The job: the shared helpers' transcode_job first (they take it). */
struct studio_job {
    struct transcode_job job;
    struct transcode_options topts;
    struct transcode_result tres;
    const struct transcode_versions_options *o;
    struct transcode_versions_result *res;
    struct transcode_studio_assets *assets, *own_assets;
    struct version_out v[TRANSCODE_MAX_VERSIONS];
    int n;
    AVFormatContext *ic;
    AVIOContext *pb;
    AVStream *vin, *ain;
    AVCodecContext *dec;
    double duration;
    int64_t last_progress_ms;
};

static struct studio_job *studio_of(struct transcode_job *job)
{
    return (struct studio_job *)(void *)job;
}

/* ---- the logo ---------------------------------------------------------- */

/* Decodes the PNG bytes into a new RGBA frame, or NULL. */
static AVFrame *decode_png(const unsigned char *data, size_t len)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_PNG);
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc(), *out = NULL;

    if (codec == NULL || pkt == NULL || f == NULL || len > INT_MAX ||
        (dec = avcodec_alloc_context3(codec)) == NULL ||
        avcodec_open2(dec, codec, NULL) < 0 || av_new_packet(pkt, (int)len) < 0)
        goto out;
    memcpy(pkt->data, data, len);
    if (avcodec_send_packet(dec, pkt) < 0 ||
        avcodec_send_packet(dec, NULL) < 0 ||
        avcodec_receive_frame(dec, f) < 0 || f->width < 1 || f->height < 1 ||
        f->width > 4096 || f->height > 4096)
        goto out;
    out = f;
    f = NULL;
out:
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    return out;
}

/* The logo rgba scaled into v's place for it (keeping its shape, never
 * up), as yuva420p, top right. Returns 0, or -1 with the job failed. */
static int place_logo(struct studio_job *sj, struct version_out *v,
                      const AVFrame *rgba)
{
    struct SwsContext *sws = NULL;
    int w, h, rc = -1;

    transcode_plan_contain(rgba->width, rgba->height, v->plan.logo.w,
                           v->plan.logo.h, &w, &h);
    if ((v->logo = av_frame_alloc()) == NULL)
        goto out;
    v->logo->format = AV_PIX_FMT_YUVA420P;
    v->logo->width = w;
    v->logo->height = h;
    if (av_frame_get_buffer(v->logo, 0) < 0 ||
        (sws = sws_getContext(
             rgba->width, rgba->height, (enum AVPixelFormat)rgba->format, w, h,
             AV_PIX_FMT_YUVA420P, SWS_BICUBIC, NULL, NULL, NULL)) == NULL)
        goto out;
    sws_scale(sws, (const uint8_t *const *)rgba->data, rgba->linesize, 0,
              rgba->height, v->logo->data, v->logo->linesize);
    v->logo_x = (v->plan.logo.x + v->plan.logo.w - w) & ~1;
    v->logo_y = v->plan.logo.y & ~1;
    rc = 0;
out:
    sws_freeContext(sws);
    if (rc != 0) {
        av_frame_free(&v->logo);
        transcode_fail(&sj->job, "cannot prepare the logo");
    }
    return rc;
}

/* Blends the logo onto f (yuv420p). */
static void blend_logo(const struct version_out *v, AVFrame *f)
{
    const AVFrame *l = v->logo;

    for (int p = 0; p < 3; p++) {
        int sh = p == 0 ? 0 : 1;
        int w = l->width >> sh, h = l->height >> sh;
        int x0 = v->logo_x >> sh, y0 = v->logo_y >> sh;

        for (int y = 0; y < h; y++) {
            uint8_t *d = f->data[p] + (ptrdiff_t)(y0 + y) * f->linesize[p] + x0;
            const uint8_t *s = l->data[p] + (ptrdiff_t)y * l->linesize[p];
            const uint8_t *a =
                l->data[3] + (ptrdiff_t)(y << sh) * l->linesize[3];
            for (int x = 0; x < w; x++) {
                int al = a[x << sh];
                d[x] = (uint8_t)((s[x] * al + d[x] * (255 - al) + 127) / 255);
            }
        }
    }
}

/* ---- the versions' text ---------------------------------------------- */

/* Sets what v draws: its captions, the credit and the hashtag. Returns
 * 0, or -1 with the job failed. */
static int set_text(struct studio_job *sj, struct version_out *v)
{
    const struct transcode_version_request *r = v->req;
    const struct transcode_version_plan *p = &v->plan;
    size_t n = 0, max = r->ncaptions + 2;
    struct text_cue *cues = calloc(max, sizeof(*cues));
    int rc;

    if (cues == NULL)
        return transcode_fail(&sj->job, "out of memory");
    for (size_t i = 0; i < r->ncaptions; i++) {
        if (r->captions[i].text == NULL || r->captions[i].text[0] == '\0')
            continue;
        cues[n++] = (struct text_cue){r->captions[i].text,
                                      r->captions[i].start_ms,
                                      r->captions[i].end_ms,
                                      {p->caption_size, true, 0xffffff,
                                       p->caption_size / 5, 0x000000,
                                       TEXT_BOTTOM, p->caption_margin_h,
                                       p->caption_margin_v, 0x000000, 170}};
    }
    if (r->credit != NULL && r->credit[0] != '\0')
        cues[n++] = (struct text_cue){r->credit,
                                      0,
                                      INT64_MAX / 2,
                                      {p->credit_size, true, 0xffffff,
                                       p->credit_size / 4, 0x000000,
                                       TEXT_BOTTOM_LEFT, p->credit_margin_h,
                                       p->credit_margin_v, 0x202020, 190}};
    if (r->hashtag != NULL && r->hashtag[0] != '\0')
        cues[n++] = (struct text_cue){
            r->hashtag,
            0,
            INT64_MAX / 2,
            {p->tag_size, true, 0xffffff,
             p->tag_size / 12 > 1 ? p->tag_size / 12 : 1, 0x000000,
             TEXT_TOP_LEFT, p->tag_margin_h, p->tag_margin_v, 0, 0}};
    v->has_text = n > 0;
    rc = n > 0 ? text_set(v->text, p->width, p->height, cues, n) : 0;
    free(cues);
    if (rc != 0)
        return transcode_fail(&sj->job, "cannot set up the versions' text");
    return 0;
}

/* ---- output ---------------------------------------------------------- */

/* Opens v's graph, encoder and muxer for frames of the decoder's. */
static int open_version(struct studio_job *sj, struct version_out *v)
{
    struct transcode_job *job = &sj->job;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    const AVBitStreamFilter *filter = av_bsf_get_by_name("filter_units");
    AVRational tb = sj->vin->time_base, rate;
    AVDictionary *opts = NULL;
    AVCodecContext *enc;
    char args[256], url[PATH_MAX + 8];
    int ret;

    if (codec == NULL || filter == NULL)
        return transcode_fail(job, "libx264 or filter_units is missing");
    if (transcode_plan_version(
            sj->dec->width, sj->dec->height,
            (struct transcode_q){sj->vin->avg_frame_rate.num,
                                 sj->vin->avg_frame_rate.den},
            v->req->format, &v->plan) != 0)
        return transcode_fail(job, "a version's format is not known");
    rate = (AVRational){v->plan.rate.num, v->plan.rate.den};
    if (util_fmt(args, sizeof(args),
                 "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:"
                 "pixel_aspect=1/1",
                 sj->dec->width, sj->dec->height, sj->dec->pix_fmt, tb.num,
                 tb.den) != 0 ||
        transcode_build_graph(job, &v->graph, "buffer", args, v->plan.filter,
                              &v->src, &v->sink, NULL) != 0)
        return transcode_fail(job, "cannot build a version's filters");

    if ((ret = avformat_alloc_output_context2(&v->oc, NULL, "mp4", v->path)) <
        0)
        return transcode_fail(job, "cannot set up the MP4 muxer: %s",
                              av_err2str(ret));
    v->oc->flags |= AVFMT_FLAG_BITEXACT;
    if ((v->enc = enc = avcodec_alloc_context3(codec)) == NULL)
        return transcode_fail(job, "out of memory");
    enc->width = v->plan.width;
    enc->height = v->plan.height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->sample_aspect_ratio = (AVRational){1, 1};
    enc->framerate = rate;
    enc->time_base = av_inv_q(rate);
    enc->gop_size = v->plan.gop;
    enc->rc_max_rate = v->plan.max_rate;
    enc->rc_buffer_size = v->plan.buffer_size;
    /* Alone, x264 picks its threads; beside the others, each version's
     * thread is already one of several: frame threads would cost their
     * overhead for no more parallelism (measured: 5% of the CPU of four
     * versions on 2 cores, docs/benchmarks.md). */
    enc->thread_count = sj->n == 1 ? 0 : (av_cpu_count() + sj->n - 1) / sj->n;
    enc->color_range = AVCOL_RANGE_MPEG;
    enc->color_primaries = AVCOL_PRI_BT709;
    enc->color_trc = AVCOL_TRC_BT709;
    enc->colorspace = AVCOL_SPC_BT709;
    enc->flags |= AV_CODEC_FLAG_BITEXACT | AV_CODEC_FLAG_GLOBAL_HEADER;
    av_dict_set(&opts, "preset", VIDEO_PRESET, 0);
    av_dict_set(&opts, "crf", VIDEO_CRF, 0);
    av_dict_set(&opts, "profile", "high", 0);
    ret = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return transcode_fail(job, "cannot open the video encoder: %s",
                              av_err2str(ret));
    if ((v->vst = avformat_new_stream(v->oc, NULL)) == NULL ||
        avcodec_parameters_from_context(v->vst->codecpar, enc) < 0)
        return transcode_fail(job, "out of memory");
    v->vst->time_base = enc->time_base;
    /* x264's SEI names it and its settings: dropped, as in the master. */
    if ((ret = av_bsf_alloc(filter, &v->bsf)) < 0 ||
        (ret = avcodec_parameters_copy(v->bsf->par_in, v->vst->codecpar)) < 0 ||
        (ret = av_opt_set(v->bsf->priv_data, "remove_types", "6", 0)) < 0)
        return transcode_fail(job, "cannot set up the SEI filter: %s",
                              av_err2str(ret));
    v->bsf->time_base_in = enc->time_base;
    if ((ret = av_bsf_init(v->bsf)) < 0 ||
        (ret = avcodec_parameters_copy(v->vst->codecpar, v->bsf->par_out)) < 0)
        return transcode_fail(job, "cannot set up the SEI filter: %s",
                              av_err2str(ret));
    if (sj->ain != NULL) {
        if ((v->ast = avformat_new_stream(v->oc, NULL)) == NULL ||
            avcodec_parameters_copy(v->ast->codecpar, sj->ain->codecpar) < 0)
            return transcode_fail(job, "out of memory");
        v->ast->codecpar->codec_tag = 0;
        v->ast->time_base = sj->ain->time_base;
    }
    if (transcode_io_open_writer(v->oc, v->fd) != 0)
        return transcode_fail(job, "out of memory for the output");
    (void)url;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(v->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return transcode_fail(job, "cannot write a version's header: %s",
                              av_err2str(ret));
    return set_text(sj, v);
}

/* Sends frame (NULL: flush) to v's encoder and muxes what comes out. */
static int encode(struct version_out *v, AVFrame *frame)
{
    int ret = avcodec_send_frame(v->enc, frame);

    if (ret < 0 && ret != AVERROR_EOF)
        return transcode_fail(&v->job, "video encoder: %s", av_err2str(ret));
    for (;;) {
        ret = avcodec_receive_packet(v->enc, v->opkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return transcode_fail(&v->job, "video encoder: %s",
                                  av_err2str(ret));
        if ((ret = av_bsf_send_packet(v->bsf, v->opkt)) < 0)
            return transcode_fail(&v->job, "SEI filter: %s", av_err2str(ret));
        while (av_bsf_receive_packet(v->bsf, v->opkt) == 0) {
            av_packet_rescale_ts(v->opkt, v->enc->time_base, v->vst->time_base);
            v->opkt->stream_index = v->vst->index;
            if ((ret = av_interleaved_write_frame(v->oc, v->opkt)) < 0)
                return transcode_fail(&v->job, "cannot write a version: %s",
                                      av_err2str(ret));
        }
    }
    if (frame == NULL && (ret = av_bsf_send_packet(v->bsf, NULL)) >= 0)
        while (av_bsf_receive_packet(v->bsf, v->opkt) == 0) {
            av_packet_rescale_ts(v->opkt, v->enc->time_base, v->vst->time_base);
            v->opkt->stream_index = v->vst->index;
            if (av_interleaved_write_frame(v->oc, v->opkt) < 0)
                return transcode_fail(&v->job, "cannot write a version");
        }
    return 0;
}

/* Writes f, v's first frame as drawn, scaled down to at most
 * TRANSCODE_VERSION_THUMB px on its longer side (full range, as JPEG
 * has it), into v's thumbnail. Returns 0, or -1 with the job failed. */
static int write_first(struct version_out *v, const AVFrame *f)
{
    const int *coefs = sws_getCoefficients(SWS_CS_ITU709);
    int longer = f->width > f->height ? f->width : f->height;
    int w = f->width, h = f->height, rc = -1;
    struct SwsContext *sws = NULL;
    AVFrame *pic = av_frame_alloc();
    char err[256];

    if (longer > TRANSCODE_VERSION_THUMB) {
        w = (int)((int64_t)f->width * TRANSCODE_VERSION_THUMB / longer) & ~1;
        h = (int)((int64_t)f->height * TRANSCODE_VERSION_THUMB / longer) & ~1;
    }
    if (pic == NULL)
        goto out;
    pic->width = w > 1 ? w : 2;
    pic->height = h > 1 ? h : 2;
    pic->format = AV_PIX_FMT_YUV420P;
    pic->color_range = AVCOL_RANGE_JPEG;
    /* Limited range in, full range out. */
    if ((sws =
             sws_getContext(f->width, f->height, (enum AVPixelFormat)f->format,
                            pic->width, pic->height, AV_PIX_FMT_YUV420P,
                            SWS_AREA, NULL, NULL, NULL)) == NULL ||
        av_frame_get_buffer(pic, 0) < 0 ||
        sws_setColorspaceDetails(sws, coefs, 0, coefs, 1, 0, 1 << 16, 1 << 16) <
            0 ||
        sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0,
                  f->height, pic->data, pic->linesize) < 0) {
        transcode_fail(&v->job, "out of memory for a version's first frame");
        goto out;
    }
    if (thumb_write_jpeg(pic, v->thumb_path, v->thumb_fd, err, sizeof(err)) !=
        0) {
        transcode_fail(&v->job, "%s", err);
        goto out;
    }
    rc = 0;
out:
    sws_freeContext(sws);
    av_frame_free(&pic);
    return rc;
}

/* Pulls v's filtered frames, draws on them and encodes them. */
static int drain(struct version_out *v)
{
    AVRational stb = av_buffersink_get_time_base(v->sink);
    int ret;

    for (;;) {
        ret = av_buffersink_get_frame(v->sink, v->filt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return transcode_fail(&v->job, "version filter: %s",
                                  av_err2str(ret));
        if (av_frame_make_writable(v->filt) < 0) {
            av_frame_unref(v->filt);
            return transcode_fail(&v->job, "out of memory");
        }
        if (v->has_text &&
            text_draw(v->text,
                      av_rescale_q(v->filt->pts, stb, (AVRational){1, 1000}),
                      v->filt) != 0) {
            av_frame_unref(v->filt);
            return transcode_fail(&v->job, "cannot draw a version's text");
        }
        if (v->logo != NULL)
            blend_logo(v, v->filt);
        if (v->frames == 0 && v->thumb_fd >= 0 &&
            write_first(v, v->filt) != 0) {
            av_frame_unref(v->filt);
            return -1;
        }
        v->filt->pts = av_rescale_q(v->filt->pts, stb, v->enc->time_base);
        v->filt->pict_type = AV_PICTURE_TYPE_NONE;
        v->frames++;
        ret = encode(v, v->filt);
        av_frame_unref(v->filt);
        if (ret != 0)
            return -1;
    }
}

/* ---- a thread a version ------------------------------------------------ */

static void item_free(struct version_item *it)
{
    av_frame_free(&it->frame);
    av_packet_free(&it->pkt);
}

/* Copies a sound packet of the input into v. */
static int write_audio(struct version_out *v, AVPacket *pkt)
{
    int ret;

    av_packet_rescale_ts(pkt, v->ain_tb, v->ast->time_base);
    pkt->stream_index = v->ast->index;
    pkt->pos = -1;
    if ((ret = av_interleaved_write_frame(v->oc, pkt)) < 0)
        return transcode_fail(&v->job, "cannot write a version: %s",
                              av_err2str(ret));
    return 0;
}

/* The last frames through v's filters and encoder, and its file closed. */
static int finish(struct version_out *v)
{
    int ret;

    if ((ret = av_buffersrc_add_frame_flags(v->src, NULL, 0)) < 0)
        return transcode_fail(&v->job, "version filter: %s", av_err2str(ret));
    if (drain(v) != 0 || encode(v, NULL) != 0)
        return -1;
    if ((ret = av_write_trailer(v->oc)) < 0)
        return transcode_fail(&v->job, "cannot finish a version: %s",
                              av_err2str(ret));
    if ((ret = transcode_io_close_writer(v->oc)) < 0 || fsync(v->fd) != 0)
        return transcode_fail(&v->job, "cannot write a version: %s",
                              ret < 0 ? av_err2str(ret) : strerror(errno));
    return 0;
}

/* Tells the decoding thread that q's version failed; returns true. */
static bool mark_failed(struct version_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->failed = true;
    pthread_cond_signal(&q->changed);
    pthread_mutex_unlock(&q->lock);
    return true;
}

/*
 * A version's thread: its filters, text, logo, encoder and muxer, fed
 * from its queue. After a failure it keeps taking (and dropping) what
 * comes, so the decoder never waits on it, and says so in q.failed.
 */
static void *version_main(void *arg)
{
    struct version_out *v = arg;
    struct version_queue *q = &v->q;
    bool failed = false;

    for (;;) {
        struct version_item it;
        bool end, abort;
        int ret = 0;

        pthread_mutex_lock(&q->lock);
        while (q->n == 0 && !q->end)
            pthread_cond_wait(&q->changed, &q->lock);
        end = q->n == 0;
        abort = q->abort;
        if (!end) {
            it = q->item[q->head];
            q->head = (q->head + 1) % VERSION_QUEUE;
            q->n--;
            pthread_cond_signal(&q->changed);
        }
        pthread_mutex_unlock(&q->lock);
        if (end) {
            failed = failed || (!abort && finish(v) != 0);
            break;
        }
        if (abort) {
            /* The job is over: what is left is dropped below. */
        } else if (!failed && it.frame != NULL) {
            ret = av_buffersrc_add_frame_flags(v->src, it.frame, 0);
            if (ret < 0)
                ret = transcode_fail(&v->job, "version filter: %s",
                                     av_err2str(ret));
            else
                ret = drain(v);
        } else if (!failed && it.pkt != NULL) {
            ret = write_audio(v, it.pkt);
        }
        item_free(&it);
        if (ret != 0 && !failed)
            failed = mark_failed(q);
    }
    if (failed)
        mark_failed(q);
    return NULL;
}

/*
 * Hands it (owned) to v's thread, waiting while its queue is full.
 * Returns 0, or -1 if the version failed (it is dropped).
 */
static int version_push(struct version_out *v, struct version_item it)
{
    struct version_queue *q = &v->q;
    bool failed;

    pthread_mutex_lock(&q->lock);
    while (q->n == VERSION_QUEUE && !q->failed)
        pthread_cond_wait(&q->changed, &q->lock);
    failed = q->failed;
    if (!failed) {
        q->item[(q->head + q->n) % VERSION_QUEUE] = it;
        q->n++;
        pthread_cond_signal(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    if (failed)
        item_free(&it);
    return failed ? -1 : 0;
}

/* Tells v's thread there is no more (abort: drop what is left rather
 * than finish the file) and waits for it. */
static void version_end(struct version_out *v, bool abort)
{
    if (!v->started)
        return;
    pthread_mutex_lock(&v->q.lock);
    v->q.end = true;
    v->q.abort = abort;
    pthread_cond_signal(&v->q.changed);
    pthread_mutex_unlock(&v->q.lock);
    pthread_join(v->thread, NULL);
    v->started = false;
}

/* The decoder's frame_fn: one frame to every version. */
static int take_frame(struct transcode_job *job, AVFrame *f)
{
    struct studio_job *sj = studio_of(job);

    if (f->format != sj->dec->pix_fmt || f->width != sj->dec->width ||
        f->height != sj->dec->height)
        return 0; /* our own video never changes size mid-way */
    if (f->best_effort_timestamp != AV_NOPTS_VALUE)
        f->pts = f->best_effort_timestamp;
    for (int i = 0; i < sj->n; i++) {
        struct version_item it = {av_frame_clone(f), NULL};
        if (it.frame == NULL)
            return transcode_fail(job, "out of memory");
        if (version_push(&sj->v[i], it) != 0)
            return -1;
    }
    if (sj->o->progress != NULL && sj->duration > 0 &&
        f->pts != AV_NOPTS_VALUE) {
        int64_t now = util_mono_ms();
        if (now - sj->last_progress_ms >= 1000) {
            double t = (double)f->pts * av_q2d(sj->vin->time_base);
            sj->last_progress_ms = now;
            sj->o->progress(sj->o->opaque,
                            t / sj->duration > 1 ? 1 : t / sj->duration);
        }
    }
    return 0;
}

/* Hands an audio packet to every version. */
static int copy_audio(struct studio_job *sj, const AVPacket *pkt)
{
    for (int i = 0; i < sj->n; i++) {
        struct version_item it = {NULL, av_packet_clone(pkt)};
        if (it.pkt == NULL)
            return transcode_fail(&sj->job, "out of memory");
        if (version_push(&sj->v[i], it) != 0)
            return -1;
    }
    return 0;
}

/* With create, creates out_dir/v-<name>.<ext> into *fd and *own (path
 * its name); else names version i's given descriptor for messages.
 * Returns 0, or -1 (errno). */
static int own_file(const char *out_dir, const char *name, const char *ext,
                    int i, bool create, int *fd, char *path, size_t pathlen,
                    bool *own)
{
    if (!create)
        return util_fmt(path, pathlen, "version-%d.%s", i, ext) != 0 ? -1 : 0;
    if (util_fmt(path, pathlen, "%s/v-%s.%s", out_dir,
                 name != NULL ? name : "x", ext) != 0 ||
        (*fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600)) < 0)
        return -1;
    *own = true;
    return 0;
}

/* Opens the input, its decoder, and every version. */
static int open_all(struct studio_job *sj, const char *out_dir)
{
    struct transcode_job *job = &sj->job;
    const struct transcode_versions_options *o = sj->o;
    char err[256];
    AVFrame *logo = NULL;
    int idx, ret;

    if (transcode_input_open(job, &sj->ic, &sj->pb) != 0 ||
        transcode_input_probe(job, sj->ic) != 0)
        return -1;
    if ((idx = av_find_best_stream(sj->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL,
                                   0)) < 0)
        return transcode_fail(job, "the video has no picture");
    sj->vin = sj->ic->streams[idx];
    job->vin = sj->vin;
    idx = av_find_best_stream(sj->ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    sj->ain =
        idx >= 0 && sj->ic->streams[idx]->codecpar->codec_id == AV_CODEC_ID_AAC
            ? sj->ic->streams[idx]
            : NULL;
    for (unsigned i = 0; i < sj->ic->nb_streams; i++)
        if (sj->ic->streams[i] != sj->vin && sj->ic->streams[i] != sj->ain)
            sj->ic->streams[i]->discard = AVDISCARD_ALL;
    if ((ret = transcode_input_open_decoder(sj->vin, &sj->dec)) < 0)
        return transcode_fail(job, "cannot decode the video: %s",
                              av_err2str(ret));
    sj->duration =
        sj->ic->duration > 0 ? (double)sj->ic->duration / AV_TIME_BASE : 0;
    if (sj->dec->width < 16 || sj->dec->height < 16)
        return transcode_fail(job, "the video's size is not known");

    sj->assets = o->assets;
    if (sj->assets == NULL) {
        if (transcode_studio_assets_open(sj->n, &sj->own_assets, err,
                                         sizeof(err)) != 0)
            return transcode_fail(job, "%s", err);
        sj->assets = sj->own_assets;
    }
    if (sj->assets->n < sj->n)
        return transcode_fail(job, "fonts for fewer versions than asked");
    if (o->logo_png != NULL && o->logo_len > 0 &&
        (logo = decode_png(o->logo_png, o->logo_len)) == NULL)
        transcode_warn(job, "the campaign's logo cannot be read: left out");
    for (int i = 0; i < sj->n; i++) {
        struct version_out *v = &sj->v[i];
        v->req = &o->v[i];
        v->text = sj->assets->text[i];
        if ((v->filt = av_frame_alloc()) == NULL ||
            (v->opkt = av_packet_alloc()) == NULL) {
            av_frame_free(&logo);
            return transcode_fail(job, "out of memory");
        }
        if (sj->ain != NULL)
            v->ain_tb = sj->ain->time_base;
        v->fd = v->req->out_fd;
        v->thumb_fd = v->req->thumb_fd;
        /* Files of its own only without the caller's descriptors (the
         * first frame only beside a video of its own). */
        if (own_file(out_dir, v->req->name, "mp4", i, v->fd < 0, &v->fd,
                     v->path, sizeof(v->path), &v->own_fd) != 0 ||
            own_file(out_dir, v->req->name, "jpg", i,
                     v->thumb_fd < 0 && v->own_fd, &v->thumb_fd, v->thumb_path,
                     sizeof(v->thumb_path), &v->own_thumb) != 0) {
            av_frame_free(&logo);
            return transcode_fail(job, "cannot create a version's file");
        }
        if (open_version(sj, v) != 0 ||
            (v->req->logo && logo != NULL && place_logo(sj, v, logo) != 0)) {
            av_frame_free(&logo);
            return -1;
        }
    }
    av_frame_free(&logo);
    return 0;
}

/* Starts a thread a version, reads the whole video into them, and waits
 * for them to finish their files. */
static int run(struct studio_job *sj)
{
    struct transcode_job *job = &sj->job;
    int ret = 0, rc = -1;

    for (int i = 0; i < sj->n; i++) {
        struct version_out *v = &sj->v[i];
        if (pthread_create(&v->thread, NULL, version_main, v) != 0) {
            transcode_fail(job, "cannot start a version's thread");
            goto out;
        }
        v->started = true;
    }
    while ((ret = av_read_frame(sj->ic, job->pkt)) >= 0) {
        if (job->pkt->stream_index == sj->vin->index)
            ret = transcode_decode(job, sj->dec, job->pkt, take_frame);
        else if (sj->ain != NULL && job->pkt->stream_index == sj->ain->index)
            ret = copy_audio(sj, job->pkt);
        else
            ret = 0;
        av_packet_unref(job->pkt);
        if (ret != 0)
            goto out;
    }
    if (ret != AVERROR_EOF) {
        transcode_fail(job, "cannot read the video: %s", av_err2str(ret));
        goto out;
    }
    if (transcode_decode(job, sj->dec, NULL, take_frame) != 0)
        goto out;
    rc = 0;
out:
    for (int i = 0; i < sj->n; i++)
        version_end(&sj->v[i], rc != 0);
    /* A version's own failure is the job's (the first one's words). */
    for (int i = 0; i < sj->n; i++)
        if (sj->v[i].job.failed) {
            transcode_fail(job, "%s", sj->v[i].res.error);
            rc = -1;
        }
    return rc;
}

static void release(struct studio_job *sj, bool failed)
{
    for (int i = 0; i < TRANSCODE_MAX_VERSIONS; i++) {
        struct version_out *v = &sj->v[i];
        if (v->oc != NULL && v->oc->pb != NULL)
            transcode_io_close_writer(v->oc);
        avformat_free_context(v->oc);
        avcodec_free_context(&v->enc);
        av_bsf_free(&v->bsf);
        avfilter_graph_free(&v->graph);
        av_frame_free(&v->logo);
        av_frame_free(&v->filt);
        av_packet_free(&v->opkt);
        for (; v->q.n > 0; v->q.n--) {
            item_free(&v->q.item[v->q.head]);
            v->q.head = (v->q.head + 1) % VERSION_QUEUE;
        }
        pthread_mutex_destroy(&v->q.lock);
        pthread_cond_destroy(&v->q.changed);
        if (v->own_fd) {
            close(v->fd);
            if (failed)
                unlink(v->path);
        }
        if (v->own_thumb) {
            close(v->thumb_fd);
            if (failed)
                unlink(v->thumb_path);
        }
    }
    avcodec_free_context(&sj->dec);
    transcode_input_close(&sj->job, &sj->ic, &sj->pb);
    transcode_studio_assets_close(&sj->own_assets);
    av_packet_free(&sj->job.pkt);
    av_frame_free(&sj->job.frame);
}

int transcode_versions(const char *in_path, const char *out_dir,
                       const struct transcode_versions_options *o,
                       struct transcode_versions_result *res)
{
    struct studio_job *sj = calloc(1, sizeof(*sj));
    struct timespec t0, t1;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    transcode_tune_malloc();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (sj == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -1;
    }
    transcode_options_default(&sj->topts);
    sj->topts.input_fd = o->input_fd;
    sj->job.in_path = in_path;
    sj->job.out_dir = out_dir;
    sj->job.opts = &sj->topts;
    sj->job.res = &sj->tres;
    sj->o = o;
    sj->res = res;
    sj->n = o->n;
    for (int i = 0; i < TRANSCODE_MAX_VERSIONS; i++) {
        struct version_out *v = &sj->v[i];
        v->job.res = &v->res;
        pthread_mutex_init(&v->q.lock, NULL);
        pthread_cond_init(&v->q.changed, NULL);
    }
    if (o->n < 1 || o->n > TRANSCODE_MAX_VERSIONS) {
        transcode_fail(&sj->job, "one to %d versions at a time",
                       TRANSCODE_MAX_VERSIONS);
        goto out;
    }
    if ((sj->job.pkt = av_packet_alloc()) == NULL ||
        (sj->job.frame = av_frame_alloc()) == NULL) {
        transcode_fail(&sj->job, "out of memory");
        goto out;
    }
    if (open_all(sj, out_dir) != 0 || run(sj) != 0)
        goto out;
    res->n = sj->n;
    for (int i = 0; i < sj->n; i++) {
        struct stat sb;
        res->v[i].width = sj->v[i].plan.width;
        res->v[i].height = sj->v[i].plan.height;
        res->v[i].frames = sj->v[i].frames;
        snprintf(res->v[i].filter, sizeof(res->v[i].filter), "%s",
                 sj->v[i].plan.filter);
        res->v[i].bytes = fstat(sj->v[i].fd, &sb) == 0 ? sb.st_size : 0;
    }
    rc = 0;
out:
    if (rc != 0)
        snprintf(res->error, sizeof(res->error), "%s",
                 sj->tres.error[0] != '\0' ? sj->tres.error
                                           : "the versions failed");
    release(sj, rc != 0);
    free(sj);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) +
                   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}
