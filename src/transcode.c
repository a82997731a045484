/*
 * One libav pipeline, after FFmpeg's doc/examples/transcode.c, with every
 * libav object of a job in one struct transcode_job:
 *
 *   file -(probe, whitelists)-> demuxer -> video decoder -> graph:
 *       fps, scale (zscale + tonemap for HDR), rotation, split
 *         |-> libx264 -> filter_units (drops x264's SEI) -> mp4 muxer
 *         '-> scale to <= 640 px, thumbnail -> best frame -> thumb.jpg
 *   audio: decoded as it is read and measured (ebur128, and the level
 *   that speech is found in), its packets kept in the spool; once the
 *   whole clip is read, they are decoded again through the gain to -16
 *   LUFS (one linear gain, and a limiter after it when the peaks forbid
 *   a plain gain), then AAC -> mp4 muxer, while x264 drains its
 *   look-ahead in a thread of its own.
 *
 * One read of the input. One linear gain needs the whole clip's loudness
 * before the first audio sample is encoded, so the encoded video waits in
 * the spool (a descriptor, not memory: a 10-minute 1080p clip is hundreds
 * of megabytes) with the input's audio packets (compressed: small), and
 * the muxer starts when the sound does, taking each AAC packet after the
 * video before it. Muxing the video as it comes would put all the sound
 * after it in the file (av_interleaved_write_frame gives up waiting after
 * max_interleave_delta), which plays badly over HTTP; holding the video
 * in memory is unbounded. Reading the spool back costs a copy of the
 * output (tens of milliseconds), decoding the audio twice about 0.3% of
 * the job; reading the input twice cost a demux of the whole file.
 *
 * The filter graphs are built on the first decoded frame, from the frame's
 * own format; a later frame of another size or format is converted to the
 * first one's before it enters the graph, so no filter ever sees a change.
 *
 * This file runs the pipeline. Opening the input (whitelists, limits) is
 * transcode_input.c's; what the graphs and encoders are told is decided by
 * the pure functions of transcode_plan.c from the input's facts, which
 * plan_video reads out of libav's structs; a sandboxed job's descriptors
 * are read and written through transcode_io.c.
 */
#include "chorus/transcode.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <sodium.h>

#include "chorus/campaign.h"
#include "chorus/log.h"
#include "chorus/thumb.h"
#include "chorus/util.h"
#include "transcode_internal.h"

#define AUDIO_BITRATE 128000

int transcode_fail(struct transcode_job *job, const char *fmt, ...)
{
    va_list ap;

    if (!job->failed) {
        va_start(ap, fmt);
        vsnprintf(job->res->error, sizeof(job->res->error), fmt, ap);
        va_end(ap);
        log_warnx("transcode: %s", job->res->error);
    }
    job->failed = true;
    return -1;
}

void transcode_warn(struct transcode_job *job, const char *fmt, ...)
{
    struct transcode_result *res = job->res;
    char buf[TRANSCODE_WARNING_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (int i = 0; i < res->nwarnings; i++)
        if (strcmp(res->warnings[i], buf) == 0)
            return;
    log_info("transcode: %s", buf);
    if (res->nwarnings < TRANSCODE_MAX_WARNINGS)
        memcpy(res->warnings[res->nwarnings++], buf, sizeof(buf));
}

void transcode_set_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src != NULL ? src : "");
}

void transcode_options_default(struct transcode_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_side = 1920;
    o->max_duration_s = 600;
    o->max_fps = 30;
    o->input_fd = o->video_fd = o->thumb_fd = o->sheet_fd = o->spool_fd = -1;
    o->card_rgb = CAMPAIGN_ACCENT_DEFAULT;
}

void transcode_result_release(struct transcode_result *res)
{
    memset(res, 0, sizeof(*res));
}

/*
 * Sends pkt (NULL: flush) to dec and hands each frame it returns to fn.
 * Undecodable data is counted as damage, not an error. Returns 0, or -1
 * if fn failed.
 */
int transcode_decode(struct transcode_job *job, AVCodecContext *dec,
                     const AVPacket *pkt, transcode_frame_fn fn)
{
    int ret = avcodec_send_packet(dec, pkt);

    if (ret == AVERROR(ENOMEM))
        return transcode_fail(job, "out of memory while decoding");
    if (ret < 0 && ret != AVERROR_EOF) {
        job->damaged++;
        return 0;
    }
    for (;;) {
        ret = avcodec_receive_frame(dec, job->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret == AVERROR(ENOMEM))
            return transcode_fail(job, "out of memory while decoding");
        if (ret < 0) {
            job->damaged++;
            return 0;
        }
        if (job->frame->decode_error_flags ||
            (job->frame->flags & AV_FRAME_FLAG_CORRUPT))
            job->damaged++;
        ret = fn(job, job->frame);
        av_frame_unref(job->frame);
        if (ret < 0)
            return -1;
    }
}

/*
 * The frame's time in seconds from the start, in its stream's time base
 * (the pts is rewritten to that); frames without a timestamp continue
 * from *next. Returns the seconds.
 */
double transcode_frame_time(struct transcode_job *job, AVFrame *f,
                            AVRational tb, int64_t *next, int64_t step)
{
    int64_t ts = f->best_effort_timestamp;

    if (ts == AV_NOPTS_VALUE)
        ts = *next;
    else
        ts -= av_rescale_q(job->start, AV_TIME_BASE_Q, tb);
    *next = ts + (step > 0 ? step : 1);
    f->pts = ts;
    return (double)ts * av_q2d(tb);
}

/* Makes graph from desc, between a source named "in" (src_name with
 * src_args) and sinks "out" and, if tsink, "thumb". */
int transcode_build_graph(struct transcode_job *job, AVFilterGraph **graph,
                          const char *src_name, const char *src_args,
                          const char *desc, AVFilterContext **src,
                          AVFilterContext **sink, AVFilterContext **tsink)
{
    bool video = strcmp(src_name, "buffer") == 0;
    const AVFilter *sink_filter =
        avfilter_get_by_name(video ? "buffersink" : "abuffersink");
    AVFilterInOut *outputs = avfilter_inout_alloc();
    AVFilterInOut *inputs = avfilter_inout_alloc();
    AVFilterInOut *thumb = tsink != NULL ? avfilter_inout_alloc() : NULL;
    int ret, rc = -1;

    if ((*graph = avfilter_graph_alloc()) == NULL || outputs == NULL ||
        inputs == NULL || (tsink != NULL && thumb == NULL)) {
        transcode_fail(job, "out of memory");
        goto out;
    }
    if ((ret = avfilter_graph_create_filter(src, avfilter_get_by_name(src_name),
                                            "in", src_args, NULL, *graph)) <
            0 ||
        (ret = avfilter_graph_create_filter(sink, sink_filter, "out", NULL,
                                            NULL, *graph)) < 0 ||
        (tsink != NULL &&
         (ret = avfilter_graph_create_filter(tsink, sink_filter, "thumb", NULL,
                                             NULL, *graph)) < 0)) {
        transcode_fail(job, "cannot set up the filters: %s", av_err2str(ret));
        goto out;
    }
    outputs->name = av_strdup("in");
    outputs->filter_ctx = *src;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = *sink;
    inputs->next = thumb;
    if (thumb != NULL) {
        thumb->name = av_strdup("thumb");
        thumb->filter_ctx = *tsink;
        thumb = NULL; /* inputs owns it */
    }
    if ((ret = avfilter_graph_parse_ptr(*graph, desc, &inputs, &outputs,
                                        NULL)) < 0 ||
        (ret = avfilter_graph_config(*graph, NULL)) < 0) {
        transcode_fail(job, "cannot set up the filters: %s", av_err2str(ret));
        goto out;
    }
    rc = 0;
out:
    avfilter_inout_free(&thumb);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    return rc;
}

/* Builds an audio graph for frames like f, in time base 1/sample_rate. */
static int build_audio_graph(struct transcode_job *job, const AVFrame *f,
                             const char *desc, AVFilterGraph **graph,
                             AVFilterContext **src, AVFilterContext **sink)
{
    char layout[128], args[256];

    if (av_channel_layout_describe(&f->ch_layout, layout, sizeof(layout)) < 0 ||
        util_fmt(args, sizeof(args),
                 "time_base=1/%d:sample_rate=%d:sample_fmt=%s:"
                 "channel_layout=%s",
                 f->sample_rate, f->sample_rate,
                 av_get_sample_fmt_name((enum AVSampleFormat)f->format),
                 layout) != 0)
        return transcode_fail(job, "the audio's channel layout cannot be read");
    return transcode_build_graph(job, graph, "abuffer", args, desc, src, sink,
                                 NULL);
}

/* Gives a frame with an unordered layout the default one for its channel
 * count, as the graph's source was told. */
static void fix_layout(AVFrame *f)
{
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        int n = f->ch_layout.nb_channels;
        av_channel_layout_uninit(&f->ch_layout);
        av_channel_layout_default(&f->ch_layout, n);
    }
}

/* Reads ebur128's running figures from f's metadata into m. */
static void read_r128(const AVFrame *f, struct transcode_loudness *m)
{
    const AVDictionaryEntry *e;

    if ((e = av_dict_get(f->metadata, "lavfi.r128.I", NULL, 0)) != NULL)
        m->i = strtod(e->value, NULL);
    if ((e = av_dict_get(f->metadata, "lavfi.r128.LRA", NULL, 0)) != NULL)
        m->lra = strtod(e->value, NULL);
    if ((e = av_dict_get(f->metadata, "lavfi.r128.true_peak", NULL, 0)) != NULL)
        m->true_peak = fmax(m->true_peak, strtod(e->value, NULL));
    m->got = true;
}

/* ---- measuring the sound as it is read ---------------------------------- */

/* Adds the 48 kHz stereo frame f (packed doubles) to the speech level:
 * one value in dBFS per SPEECH_WINDOW_SAMPLES. Out of memory fails the
 * job. */
static void speech_level(struct transcode_job *job, const AVFrame *f)
{
    int ch = f->ch_layout.nb_channels;
    const double *s = (const double *)f->data[0];

    if (f->format != AV_SAMPLE_FMT_DBL || ch < 1 || job->failed)
        return;
    for (int i = 0; i < f->nb_samples; i++) {
        double x = 0;
        for (int c = 0; c < ch; c++)
            x += s[i * ch + c] * s[i * ch + c];
        job->speech_acc += x / ch;
        if (++job->speech_count < SPEECH_WINDOW_SAMPLES)
            continue;
        if (job->speech_len == job->speech_cap) {
            size_t cap = job->speech_cap ? 2 * job->speech_cap : 1024;
            float *e = realloc(job->speech_db, cap * sizeof(*e));
            if (e == NULL) {
                transcode_fail(job, "out of memory");
                return;
            }
            job->speech_db = e;
            job->speech_cap = cap;
        }
        job->speech_db[job->speech_len++] =
            (float)(10 * log10(fmax(job->speech_acc / SPEECH_WINDOW_SAMPLES,
                                    1e-12)));
        job->speech_acc = 0;
        job->speech_count = 0;
    }
}

/* Takes every frame the measuring graph has ready into job->before (the
 * running R128 figures and the exact sample peak), the speech level and
 * no_video's envelope. Returns 0, or -1 with the job failed. */
static int measure_drain(struct transcode_job *job)
{
    int ret;

    for (;;) {
        ret = av_buffersink_get_frame(job->m_sink, job->filt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return job->failed ? -1 : 0;
        if (ret < 0)
            return transcode_fail(job, "audio filter error: %s",
                                  av_err2str(ret));
        read_r128(job->filt, &job->before);
        transcode_protect_envelope(job, job->filt);
        speech_level(job, job->filt);
        if (job->filt->format == AV_SAMPLE_FMT_DBL) {
            const double *s = (const double *)job->filt->data[0];
            int n = job->filt->nb_samples * job->filt->ch_layout.nb_channels;
            for (int k = 0; k < n; k++)
                job->before.peak = fmax(job->before.peak, fabs(s[k]));
        }
        av_frame_unref(job->filt);
    }
}

/* Rewrites the pts of an audio frame from f's stream to 1/sample_rate,
 * counted from the start; returns the time in seconds. */
static double audio_time(struct transcode_job *job, AVFrame *f,
                         const AVStream *st, int64_t *next)
{
    AVRational tb = {1, f->sample_rate > 0 ? f->sample_rate : 1};

    if (f->best_effort_timestamp != AV_NOPTS_VALUE)
        f->best_effort_timestamp =
            av_rescale_q(f->best_effort_timestamp, st->time_base, tb);
    return transcode_frame_time(job, f, tb, next, f->nb_samples);
}

/* The reading pass's frame_fn for audio: feeds one decoded frame to the
 * measuring graph (built on the first one). Frames past the limit or
 * refused by the graph are skipped. Returns 0, or -1 with the job failed. */
static int measure_frame(struct transcode_job *job, AVFrame *f)
{
    double t = audio_time(job, f, job->ain, &job->next_apts);
    int ret;

    /* Past the limit, the gain pass refuses the clip. */
    if (t > job->limit || t < -1 || f->sample_rate <= 0)
        return 0;
    fix_layout(f);
    if (job->m_graph == NULL &&
        build_audio_graph(job, f, job->measure_filter, &job->m_graph,
                          &job->m_src, &job->m_sink) != 0)
        return -1;
    ret =
        av_buffersrc_add_frame_flags(job->m_src, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0) {
        job->damaged++;
        return 0;
    }
    return measure_drain(job);
}

/*
 * The end of the measurement, once the whole input is read: the graph's
 * last frames, and the spans of speech into the result. The audio that
 * never decoded makes the clip silent (job->ain NULL, with a warning).
 * Returns 0, or -1 with the job failed.
 */
static int measure_finish(struct transcode_job *job)
{
    struct transcode_result *res = job->res;
    struct transcode_speech_span spans[TRANSCODE_MAX_SPANS];
    size_t n;
    int ret;

    if (job->m_graph != NULL &&
        ((ret = av_buffersrc_add_frame_flags(job->m_src, NULL, 0)) < 0 ||
         measure_drain(job) != 0))
        return transcode_fail(job, "audio filter error: %s", av_err2str(ret));
    avfilter_graph_free(&job->m_graph);
    if (!job->before.got) {
        transcode_warn(job, "the audio cannot be decoded: the clip is silent");
        job->ain = NULL;
        return 0;
    }
    n = transcode_plan_speech(job->speech_db, job->speech_len,
                              (double)SPEECH_WINDOW_SAMPLES / AUDIO_RATE, spans,
                              TRANSCODE_MAX_SPANS);
    for (size_t i = 0; i < n; i++) {
        res->speech[i].start = spans[i].start;
        res->speech[i].end = spans[i].end;
    }
    res->nspeech = (int)n;
    return 0;
}

/* ---- the plan ---------------------------------------------------------- */

/* The plan speaks H.273's colour numbers, which are libavutil's. */
#define SAME_CODE(av, plan) ((int)(av) == (int)(plan))
_Static_assert(SAME_CODE(AVCOL_PRI_BT709, TRANSCODE_PRI_BT709) &&
                   SAME_CODE(AVCOL_PRI_UNSPECIFIED,
                             TRANSCODE_PRI_UNSPECIFIED) &&
                   SAME_CODE(AVCOL_PRI_BT470BG, TRANSCODE_PRI_BT470BG) &&
                   SAME_CODE(AVCOL_PRI_SMPTE170M, TRANSCODE_PRI_SMPTE170M) &&
                   SAME_CODE(AVCOL_PRI_BT2020, TRANSCODE_PRI_BT2020),
               "colour primaries");
_Static_assert(SAME_CODE(AVCOL_TRC_BT709, TRANSCODE_TRC_BT709) &&
                   SAME_CODE(AVCOL_TRC_UNSPECIFIED,
                             TRANSCODE_TRC_UNSPECIFIED) &&
                   SAME_CODE(AVCOL_TRC_SMPTE170M, TRANSCODE_TRC_SMPTE170M) &&
                   SAME_CODE(AVCOL_TRC_IEC61966_2_1, TRANSCODE_TRC_SRGB) &&
                   SAME_CODE(AVCOL_TRC_BT2020_10, TRANSCODE_TRC_BT2020_10) &&
                   SAME_CODE(AVCOL_TRC_BT2020_12, TRANSCODE_TRC_BT2020_12) &&
                   SAME_CODE(AVCOL_TRC_SMPTE2084, TRANSCODE_TRC_PQ) &&
                   SAME_CODE(AVCOL_TRC_ARIB_STD_B67, TRANSCODE_TRC_HLG),
               "colour transfers");
_Static_assert(SAME_CODE(AVCOL_SPC_BT709, TRANSCODE_SPC_BT709) &&
                   SAME_CODE(AVCOL_SPC_UNSPECIFIED,
                             TRANSCODE_SPC_UNSPECIFIED) &&
                   SAME_CODE(AVCOL_SPC_BT470BG, TRANSCODE_SPC_BT470BG) &&
                   SAME_CODE(AVCOL_SPC_SMPTE170M, TRANSCODE_SPC_SMPTE170M) &&
                   SAME_CODE(AVCOL_SPC_BT2020_NCL, TRANSCODE_SPC_BT2020_NCL) &&
                   SAME_CODE(AVCOL_SPC_BT2020_CL, TRANSCODE_SPC_BT2020_CL),
               "colour matrices");
_Static_assert(TRANSCODE_FILTER_LEN == TRANSCODE_PLAN_FILTER_LEN,
               "the result holds the planned graphs");

/* q as libav's rational. */
static AVRational to_avq(struct transcode_q q)
{
    return (AVRational){q.num, q.den};
}

/* libav's rational r as the plan's. */
static struct transcode_q from_avq(AVRational r)
{
    return (struct transcode_q){r.num, r.den};
}

/* The sign of x: -1, 0 or 1. */
static int sign(int32_t x)
{
    return (x > 0) - (x < 0);
}

/* Reads what the plan needs to know of the input's video stream into *in:
 * the adapter between libav's structs and the plan's plain ones. */
static void video_facts(const struct transcode_job *job,
                        struct transcode_video_facts *in)
{
    const AVStream *st = job->vin;
    const AVCodecParameters *par = st->codecpar;
    size_t size = 0;
    const int32_t *m = (const int32_t *)av_stream_get_side_data(
        st, AV_PKT_DATA_DISPLAYMATRIX, &size);

    memset(in, 0, sizeof(*in));
    in->width = par->width;
    in->height = par->height;
    in->sar = from_avq(av_guess_sample_aspect_ratio(job->ic, job->vin, NULL));
    in->rotation = NAN;
    if (m != NULL && size >= 9 * sizeof(*m)) {
        /* av_display_rotation_get is counterclockwise. */
        in->rotation = -av_display_rotation_get(m);
        in->sign_a = sign(m[0]);
        in->sign_c = sign(m[3]);
        in->sign_d = sign(m[4]);
    }
    in->avg_rate = from_avq(st->avg_frame_rate);
    in->base_rate = from_avq(st->r_frame_rate);
    in->primaries = par->color_primaries;
    in->transfer = par->color_trc;
    in->matrix = par->color_space;
    in->full_range = par->color_range == AVCOL_RANGE_JPEG;
}

/*
 * Plans the video (transcode_plan_video) into job->video for the input's
 * facts and the job's limits; records the graph and what the plan found
 * in the result. Returns 0, or -1 with the job failed.
 */
static int plan_video(struct transcode_job *job)
{
    struct transcode_result *res = job->res;
    struct transcode_video_plan *p = &job->video;
    struct transcode_video_facts in;
    const struct transcode_plan_options o = {
        .max_side = job->opts->max_side,
        .max_fps = job->opts->max_fps,
        .zscale = avfilter_get_by_name("zscale") != NULL &&
                  avfilter_get_by_name("tonemap") != NULL,
        .protected_frames = job->opts->protect != 0,
    };
    int rc;

    video_facts(job, &in);
    rc = transcode_plan_video(&in, &o, p);
    if (p->rotation_ignored)
        transcode_warn(job, "the video's unusual rotation was ignored");
    res->in_rotation = p->rotation;
    res->in_fps = p->nominal_fps;
    res->in_hdr = p->hdr;
    memcpy(res->video_filter, p->filter, sizeof(res->video_filter));
    if (rc != 0)
        return transcode_fail(job,
                              "internal error: the video filter is too long");
    if (p->untoned)
        transcode_warn(job,
                       "HDR/wide-gamut video converted without tone mapping "
                       "(no zscale filter): colours may look washed out");
    return 0;
}

/*
 * Plans the gain pass's audio (transcode_plan_audio) from the measured
 * figures in job->before; records the graph, the mode and the figures in
 * the result. Returns 0, or -1 with the job failed.
 */
static int plan_audio(struct transcode_job *job)
{
    struct transcode_result *res = job->res;
    struct transcode_audio_plan p;
    int rc = transcode_plan_audio(&job->before, &job->voice, &p);

    res->loudness_in = job->before.i;
    res->lra_in = job->before.lra;
    res->true_peak_in = p.true_peak_db;
    if (p.silent)
        transcode_warn(job, "the audio is silent or nearly so: its level was "
                            "left as it is");
    transcode_set_str(res->loudnorm_mode, sizeof(res->loudnorm_mode), p.mode);
    memcpy(res->audio_filter, p.filter, sizeof(res->audio_filter));
    if (rc != 0)
        return transcode_fail(job,
                              "internal error: the audio filter is too long");
    return 0;
}

/* ---- the output -------------------------------------------------------- */

/*
 * Opens libx264 as job->video plans it (size, rate, GOP, bitrate ceiling,
 * colour tags), its output stream and the filter that drops x264's SEI.
 * Returns 0, or -1 with the job failed; job_release frees what was made.
 */
static int open_video_encoder(struct transcode_job *job)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    const AVBitStreamFilter *filter = av_bsf_get_by_name("filter_units");
    const struct transcode_video_plan *p = &job->video;
    AVRational rate = to_avq(p->rate);
    AVDictionary *opts = NULL;
    AVCodecContext *enc;
    int ret;

    if (codec == NULL || filter == NULL)
        return transcode_fail(job, "libx264 or the filter_units filter is "
                                   "missing from this FFmpeg");
    if ((job->venc = enc = avcodec_alloc_context3(codec)) == NULL)
        return transcode_fail(job, "out of memory");
    enc->width = p->width;
    enc->height = p->height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->sample_aspect_ratio = (AVRational){1, 1};
    enc->framerate = rate;
    enc->time_base = av_inv_q(rate);
    enc->gop_size = p->gop;
    enc->rc_max_rate = p->max_rate;
    enc->rc_buffer_size = p->buffer_size;
    enc->thread_count = 0;
    enc->color_range = AVCOL_RANGE_MPEG;
    enc->color_primaries = (enum AVColorPrimaries)p->primaries;
    enc->color_trc = (enum AVColorTransferCharacteristic)p->transfer;
    enc->colorspace = (enum AVColorSpace)p->matrix;
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (job->oc->oformat->flags & AVFMT_GLOBALHEADER)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_dict_set(&opts, "preset", VIDEO_PRESET, 0);
    av_dict_set(&opts, "crf", VIDEO_CRF, 0);
    av_dict_set(&opts, "profile", "high", 0);
    ret = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return transcode_fail(job, "cannot open the video encoder: %s",
                              av_err2str(ret));
    if ((job->vout = avformat_new_stream(job->oc, NULL)) == NULL)
        return transcode_fail(job, "out of memory");
    if ((ret = avcodec_parameters_from_context(job->vout->codecpar, enc)) < 0)
        return transcode_fail(job, "video encoder: %s", av_err2str(ret));
    job->vout->time_base = enc->time_base;

    /* x264 writes its version and settings into an SEI of the first
     * frame; no option turns that off, so the bitstream filter drops SEI
     * NAL units (type 6; ours carry nothing else). */
    if ((ret = av_bsf_alloc(filter, &job->bsf)) < 0 ||
        (ret = avcodec_parameters_copy(job->bsf->par_in, job->vout->codecpar)) <
            0 ||
        (ret = av_opt_set(job->bsf->priv_data, "remove_types", "6", 0)) < 0) {
        return transcode_fail(job, "cannot set up the SEI filter: %s",
                              av_err2str(ret));
    }
    job->bsf->time_base_in = enc->time_base;
    if ((ret = av_bsf_init(job->bsf)) < 0 ||
        (ret = avcodec_parameters_copy(job->vout->codecpar,
                                       job->bsf->par_out)) < 0)
        return transcode_fail(job, "cannot set up the SEI filter: %s",
                              av_err2str(ret));
    return 0;
}

/* Opens the AAC-LC encoder (48 kHz stereo, 128 kb/s) and its output
 * stream. Returns 0, or -1 with the job failed. */
static int open_audio_encoder(struct transcode_job *job)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
    AVCodecContext *enc;
    int ret;

    if (codec == NULL)
        return transcode_fail(job,
                              "the AAC encoder is missing from this FFmpeg");
    if ((job->aenc = enc = avcodec_alloc_context3(codec)) == NULL)
        return transcode_fail(job, "out of memory");
    enc->sample_rate = AUDIO_RATE;
    if ((ret = av_channel_layout_copy(&enc->ch_layout, &stereo)) < 0)
        return transcode_fail(job, "out of memory");
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->bit_rate = AUDIO_BITRATE;
    enc->profile = FF_PROFILE_AAC_LOW;
    enc->time_base = (AVRational){1, AUDIO_RATE};
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (job->oc->oformat->flags & AVFMT_GLOBALHEADER)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0)
        return transcode_fail(job, "cannot open the audio encoder: %s",
                              av_err2str(ret));
    if ((job->aout = avformat_new_stream(job->oc, NULL)) == NULL)
        return transcode_fail(job, "out of memory");
    if ((ret = avcodec_parameters_from_context(job->aout->codecpar, enc)) < 0)
        return transcode_fail(job, "audio encoder: %s", av_err2str(ret));
    job->aout->time_base = enc->time_base;
    return 0;
}

/* Closes the muxer's output, custom or not. */
static int close_output_pb(struct transcode_job *job)
{
    if (job->oc == NULL || job->oc->pb == NULL)
        return 0;
    if (job->opts->video_fd < 0)
        return avio_closep(&job->oc->pb);
    return transcode_io_close_writer(job->oc);
}

/*
 * Gives the muxer its file (out_dir/video.mp4.tmp, or the caller's
 * descriptor) and writes the MP4's header, to move the index to the front
 * at the end. The streams must all be there.
 */
static int start_muxer(struct transcode_job *job)
{
    AVDictionary *opts = NULL;
    char url[PATH_MAX + 8];
    int ret;

    if (util_fmt(url, sizeof(url), "file:%s", job->tmp_video) != 0)
        return transcode_fail(job, "the output path is too long");
    if (job->opts->video_fd >= 0) {
        if (transcode_io_open_writer(job->oc, job->opts->video_fd) != 0)
            return transcode_fail(job, "out of memory for the output");
    } else {
        av_dict_set(&opts, "protocol_whitelist", "file", 0);
        ret = avio_open2(&job->oc->pb, url, AVIO_FLAG_WRITE, NULL, &opts);
        av_dict_free(&opts);
        if (ret < 0)
            return transcode_fail(job, "cannot create %s: %s", job->tmp_video,
                                  av_err2str(ret));
        job->have_tmp_video = true;
    }
    av_dict_set(&opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(job->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return transcode_fail(job, "cannot write the MP4 header: %s",
                              av_err2str(ret));
    job->header_written = true;
    return 0;
}

/*
 * Sets up an MP4 with no metadata (bitexact: not even an encoder tag)
 * whose index will be moved to the front, and the video encoder. A clip
 * with sound gets its spool, and its muxer starts once the sound is
 * measured (the audio encoder is opened then); a silent one's starts now.
 */
static int open_output(struct transcode_job *job)
{
    char url[PATH_MAX + 8];
    int ret;

    if (util_fmt(job->tmp_video, sizeof(job->tmp_video), "%s/video.mp4.tmp",
                 job->out_dir) != 0 ||
        util_fmt(job->tmp_thumb, sizeof(job->tmp_thumb), "%s/thumb.jpg.tmp",
                 job->out_dir) != 0 ||
        util_fmt(job->tmp_sheet, sizeof(job->tmp_sheet), "%s/sheet.jpg.tmp",
                 job->out_dir) != 0 ||
        util_fmt(url, sizeof(url), "file:%s", job->tmp_video) != 0)
        return transcode_fail(job, "the output path is too long");
    ret = avformat_alloc_output_context2(&job->oc, NULL, "mp4", url);
    if (ret < 0)
        return transcode_fail(job, "cannot set up the MP4 muxer: %s",
                              av_err2str(ret));
    job->oc->flags |= AVFMT_FLAG_BITEXACT;
    if (open_video_encoder(job) != 0)
        return -1;
    /* faststart reopens the file by name: the file protocol only. */
    if ((ret = av_opt_set(job->oc, "protocol_whitelist", "file", 0)) < 0)
        return transcode_fail(job, "cannot set up the MP4 muxer: %s",
                              av_err2str(ret));
    if (job->ain == NULL)
        return start_muxer(job);
    if ((ret = transcode_spool_open(&job->spool, job->opts->spool_fd,
                                    job->out_dir)) < 0)
        return transcode_fail(job, "cannot make room for the video: %s",
                              av_err2str(ret));
    return 0;
}

static int write_packet(struct transcode_job *job, AVCodecContext *enc,
                        AVStream *st, AVPacket *pkt);

/*
 * Muxes the spooled video up to the time of the audio packet until (in
 * the audio encoder's time base), or all of it when until is NULL, so
 * that video and sound alternate in the file as they play. Returns 0, or
 * -1 with the job failed.
 */
static int mux_spooled_video(struct transcode_job *job, const AVPacket *until)
{
    int64_t dts;
    int ret;

    while ((ret = transcode_spool_peek(job->spool, SPOOL_VIDEO, &dts)) == 1) {
        if (until != NULL &&
            av_compare_ts(dts, job->venc->time_base,
                          until->dts != AV_NOPTS_VALUE ? until->dts
                                                       : until->pts,
                          job->aenc->time_base) > 0)
            return 0;
        if ((ret = transcode_spool_get(job->spool, SPOOL_VIDEO, job->spkt)) < 0)
            break;
        if (write_packet(job, job->venc, job->vout, job->spkt) != 0)
            return -1;
    }
    if (ret < 0)
        return transcode_fail(job, "cannot read the video back: %s",
                              av_err2str(ret));
    return 0;
}

/* Keeps the sound's packet pkt (its reference) until the video
 * encoder's thread is done. Returns 0, or -1 with the job failed. */
static int hold_packet(struct transcode_job *job, AVPacket *pkt)
{
    AVPacket *p;

    if (job->nheld == job->held_cap) {
        size_t cap = job->held_cap ? 2 * job->held_cap : 256;
        AVPacket **h = realloc(job->held, cap * sizeof(*h));
        if (h == NULL) {
            av_packet_unref(pkt);
            return transcode_fail(job, "out of memory");
        }
        job->held = h;
        job->held_cap = cap;
    }
    if ((p = av_packet_alloc()) == NULL) {
        av_packet_unref(pkt);
        return transcode_fail(job, "out of memory");
    }
    av_packet_move_ref(p, pkt);
    job->held[job->nheld++] = p;
    return 0;
}

/* Muxes pkt from enc as st's, its timestamps rescaled (a video packet
 * before the muxer started goes to the spool as it is; an audio packet
 * lets the video before it out of the spool first, or waits in held
 * while the video encoder's thread is busy); takes the packet's
 * reference. Returns 0, or -1 with the job failed. */
static int write_packet(struct transcode_job *job, AVCodecContext *enc,
                        AVStream *st, AVPacket *pkt)
{
    int ret;

    if (st == job->aout && job->flushing)
        return hold_packet(job, pkt);
    if (!job->header_written) {
        ret = transcode_spool_put(job->spool, SPOOL_VIDEO, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            return transcode_fail(job, "cannot keep the video: %s",
                                  av_err2str(ret));
        return 0;
    }
    if (st == job->aout && job->spool != NULL &&
        mux_spooled_video(job, pkt) != 0) {
        av_packet_unref(pkt);
        return -1;
    }
    pkt->stream_index = st->index;
    av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
    if (st == job->aout)
        job->audio_packets++;
    /* Takes the packet's reference, success or not. */
    ret = av_interleaved_write_frame(job->oc, pkt);
    if (ret < 0)
        return transcode_fail(job, "cannot write the video: %s",
                              av_err2str(ret));
    return 0;
}

/* Moves every packet the filter has to the muxer. */
static int drain_bsf(struct transcode_job *job)
{
    int ret;

    for (;;) {
        ret = av_bsf_receive_packet(job->bsf, job->opkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return transcode_fail(job, "SEI filter: %s", av_err2str(ret));
        if (write_packet(job, job->venc, job->vout, job->opkt) != 0)
            return -1;
    }
}

/* Sends the video packet pkt (NULL: the end) through the SEI filter to
 * the muxer, taking its reference. Returns 0, or -1 with the job failed. */
static int filter_video(struct transcode_job *job, AVPacket *pkt)
{
    int ret = av_bsf_send_packet(job->bsf, pkt);

    if (ret < 0) {
        if (pkt != NULL)
            av_packet_unref(pkt);
        return transcode_fail(job, "SEI filter: %s", av_err2str(ret));
    }
    return drain_bsf(job);
}

/*
 * Sends frame (NULL: flush) to enc and muxes the packets it returns, the
 * video's through the SEI filter.
 */
static int encode(struct transcode_job *job, AVCodecContext *enc,
                  const AVFrame *frame)
{
    bool video = enc == job->venc;
    AVStream *st = video ? job->vout : job->aout;
    int ret = avcodec_send_frame(enc, frame);

    if (ret < 0)
        return transcode_fail(job, "%s encoder: %s", video ? "video" : "audio",
                              av_err2str(ret));
    for (;;) {
        ret = avcodec_receive_packet(enc, job->opkt);
        if (ret == AVERROR(EAGAIN))
            return 0;
        if (ret == AVERROR_EOF)
            return video ? filter_video(job, NULL) : 0;
        if (ret < 0)
            return transcode_fail(job, "%s encoder: %s",
                                  video ? "video" : "audio", av_err2str(ret));
        if (!video) {
            if (write_packet(job, enc, st, job->opkt) != 0)
                return -1;
            continue;
        }
        if (filter_video(job, job->opkt) != 0)
            return -1;
    }
}

/* ---- the main pass ----------------------------------------------------- */

/* Tells the caller how far t seconds is into the declared duration, at
 * most once a second (not at all without a declared duration). */
static void report_progress(struct transcode_job *job, double t)
{
    const struct transcode_options *o = job->opts;
    int64_t now;

    if (o->progress == NULL || job->declared <= 0)
        return;
    now = util_mono_ms();
    if (now - job->last_progress_ms < 1000)
        return;
    job->last_progress_ms = now;
    o->progress(o->opaque, fmin(fmax(t / job->declared, 0), 1));
}

/* Takes the thumbnail filter's choice if it beats the best so far. */
static void consider_thumb(struct transcode_job *job, AVFrame *f)
{
    double score = thumb_score(f);

    if (job->thumb->data[0] == NULL || score > job->thumb_score) {
        av_frame_unref(job->thumb);
        av_frame_move_ref(job->thumb, f);
        job->thumb_score = score;
    }
}

/*
 * Encodes the protected frames that are ready (all of them when flush),
 * each offered first to the contact sheet and as the thumbnail, which so
 * show only what is encoded. Returns 0, or -1 with the job failed.
 */
static int encode_protected(struct transcode_job *job, bool flush)
{
    AVFrame *f;
    int ret = 0;

    while (ret == 0 && (f = transcode_protect_ready(job, flush)) != NULL) {
        double t = (double)f->pts * av_q2d(job->venc->time_base);
        ret = transcode_sheet_add(job, f, t) != 0 ? -1
                                                  : encode(job, job->venc, f);
        av_frame_free(&f);
    }
    /* No frame also when the protection failed. */
    return ret != 0 || job->failed ? -1 : 0;
}

/*
 * A protected clip's frame f, before it is encoded: made writable (the
 * decoder may still hold its buffers) and handed to the protection, which
 * takes its reference; what is ready is encoded. Returns 0, or -1 with
 * the job failed.
 */
static int protect_frame(struct transcode_job *job, AVFrame *f)
{
    double t = (double)f->pts * av_q2d(job->venc->time_base);

    if (av_frame_make_writable(f) < 0)
        return transcode_fail(job, "out of memory");
    if (transcode_protect_take(job, f, t) != 0)
        return -1;
    return encode_protected(job, false);
}

/* no_video: keeps the time of a frame to paint at the end. Returns 0, or
 * -1 with the job failed. */
static int defer_card(struct transcode_job *job, int64_t pts)
{
    if (job->ncards == job->cards_cap) {
        size_t cap = job->cards_cap ? 2 * job->cards_cap : 1024;
        int64_t *p = realloc(job->card_pts, cap * sizeof(*p));
        if (p == NULL)
            return transcode_fail(job, "out of memory");
        job->card_pts = p;
        job->cards_cap = cap;
    }
    job->card_pts[job->ncards++] = pts;
    return 0;
}

/* no_video: paints and encodes the frames whose times defer_card kept,
 * now that the sound's envelope is whole. Returns 0, or -1 with the job
 * failed. */
static int paint_cards(struct transcode_job *job)
{
    AVFrame *f = NULL;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < job->ncards; i++) {
        if ((f = av_frame_alloc()) == NULL)
            return transcode_fail(job, "out of memory");
        f->width = job->video.width;
        f->height = job->video.height;
        f->format = AV_PIX_FMT_YUV420P;
        f->color_range = AVCOL_RANGE_MPEG;
        f->pts = job->card_pts[i];
        if (av_frame_get_buffer(f, 0) < 0)
            rc = transcode_fail(job, "out of memory");
        else
            rc = protect_frame(job, f);
        av_frame_free(&f);
    }
    return rc;
}

/* Encodes what the video graph has ready and keeps the best thumbnail. */
static int drain_video(struct transcode_job *job)
{
    AVRational tb = av_buffersink_get_time_base(job->vsink);
    int ret;

    for (;;) {
        ret = av_buffersink_get_frame(job->vsink, job->filt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return transcode_fail(job, "video filter error: %s",
                                  av_err2str(ret));
        if (++job->frames_out > job->max_frames_out)
            return transcode_fail(job,
                                  "the clip is longer than the limit of %d s",
                                  job->opts->max_duration_s);
        job->filt->pts = av_rescale_q(job->filt->pts, tb, job->venc->time_base);
        job->filt->pict_type = AV_PICTURE_TYPE_NONE;
        job->video_end = fmax(job->video_end, (double)(job->filt->pts + 1) *
                                                  av_q2d(job->venc->time_base));
        ret = transcode_protect_deferred(job) ? defer_card(job, job->filt->pts)
              : job->sheet != NULL            ? protect_frame(job, job->filt)
                                   : encode(job, job->venc, job->filt);
        av_frame_unref(job->filt);
        if (ret != 0)
            return -1;
    }
    while (job->tsink != NULL) {
        ret = av_buffersink_get_frame(job->tsink, job->filt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return transcode_fail(job, "thumbnail filter error: %s",
                                  av_err2str(ret));
        consider_thumb(job, job->filt);
        av_frame_unref(job->filt);
    }
    return 0;
}

/* Builds the video graph for frames like f (the first one). */
static int start_video_graph(struct transcode_job *job, const AVFrame *f)
{
    AVRational tb = job->vin->time_base;
    char args[256];

    if (util_fmt(args, sizeof(args),
                 "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:"
                 "pixel_aspect=%d/%d",
                 f->width, f->height, f->format, tb.num, tb.den,
                 job->video.sar.num, job->video.sar.den) != 0)
        return transcode_fail(job, "internal error: video source arguments");
    job->src_w = f->width;
    job->src_h = f->height;
    job->src_fmt = f->format;
    /* A protected clip's thumbnail is made from the protected frames. */
    return transcode_build_graph(
        job, &job->vgraph, "buffer", args, job->res->video_filter, &job->vsrc,
        &job->vsink, job->sheet != NULL ? NULL : &job->tsink);
}

/* Converts f to the first frame's size and format into job->fixed. */
static int conform(struct transcode_job *job, const AVFrame *f)
{
    int ret;

    transcode_warn(job,
                   "the video changes size or format mid-way: later frames "
                   "were scaled to the first size");
    job->resize = sws_getCachedContext(
        job->resize, f->width, f->height, (enum AVPixelFormat)f->format,
        job->src_w, job->src_h, (enum AVPixelFormat)job->src_fmt, SWS_BICUBIC,
        NULL, NULL, NULL);
    if (job->resize == NULL)
        return AVERROR(EINVAL);
    av_frame_unref(job->fixed);
    job->fixed->width = job->src_w;
    job->fixed->height = job->src_h;
    job->fixed->format = job->src_fmt;
    if ((ret = av_frame_get_buffer(job->fixed, 0)) < 0 ||
        (ret = av_frame_copy_props(job->fixed, f)) < 0 ||
        (ret = sws_scale_frame(job->resize, job->fixed, f)) < 0)
        return ret;
    return 0;
}

/*
 * The main pass's frame_fn for video: times the frame, enforces the
 * length and frame limits, builds the graph on the first frame, conforms
 * later frames to its size and format, and encodes what comes out.
 * Returns 0 (damaged frames are counted and skipped), or -1 with the job
 * failed.
 */
static int push_video(struct transcode_job *job, AVFrame *f)
{
    AVRational tb = job->vin->time_base;
    /* The frame's duration, within reason: it decides where the last
     * frame ends. */
    int64_t step = f->pkt_duration > 0
                       ? f->pkt_duration
                       : av_rescale_q(1, av_inv_q(to_avq(job->video.rate)), tb);
    double t = transcode_frame_time(
        job, f, tb, &job->next_vpts,
        FFMIN(step, av_rescale_q(1, (AVRational){1, 1}, tb)));
    int ret;

    if (t > job->limit)
        return transcode_fail(job, "the clip is longer than the limit of %d s",
                              job->opts->max_duration_s);
    if (++job->frames_in > job->max_frames_in)
        return transcode_fail(job,
                              "the clip has too many frames for its length");
    if (t < -1 || f->width <= 0 || f->height <= 0) {
        job->damaged++;
        return 0;
    }
    job->last_ts = fmax(job->last_ts, t);
    if (job->vsrc_end < job->next_vpts)
        job->vsrc_end = job->next_vpts;
    report_progress(job, t);
    if (job->vgraph == NULL && start_video_graph(job, f) != 0)
        return -1;
    if (f->width != job->src_w || f->height != job->src_h ||
        f->format != job->src_fmt) {
        if (conform(job, f) != 0) {
            job->damaged++;
            return 0;
        }
        f = job->fixed;
    }
    ret =
        av_buffersrc_add_frame_flags(job->vsrc, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    av_frame_unref(job->fixed);
    if (ret < 0)
        return transcode_fail(job, "video filter error: %s", av_err2str(ret));
    return drain_video(job);
}

/* Encodes every frame the audio graph has ready, measuring the result
 * into job->after. Returns 0, or -1 with the job failed. */
static int drain_audio(struct transcode_job *job)
{
    int ret;

    for (;;) {
        ret = av_buffersink_get_frame(job->asink, job->filt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return transcode_fail(job, "audio filter error: %s",
                                  av_err2str(ret));
        read_r128(job->filt, &job->after);
        job->audio_end =
            fmax(job->audio_end,
                 (double)(job->filt->pts + job->filt->nb_samples) / AUDIO_RATE);
        ret = encode(job, job->aenc, job->filt);
        av_frame_unref(job->filt);
        if (ret != 0)
            return -1;
    }
}

/* The gain pass's frame_fn for audio: times the frame, enforces the
 * length limit, builds the graph on the first frame and encodes what comes
 * out. Returns 0 (damaged frames are counted and skipped), or -1 with the
 * job failed. */
static int push_audio(struct transcode_job *job, AVFrame *f)
{
    double t = audio_time(job, f, job->ain, &job->next_apts);
    int ret;

    if (t > job->limit)
        return transcode_fail(job, "the clip is longer than the limit of %d s",
                              job->opts->max_duration_s);
    if (t < -1 || f->sample_rate <= 0) {
        job->damaged++;
        return 0;
    }
    if (job->asrc_end < job->next_apts)
        job->asrc_end = job->next_apts;
    fix_layout(f);
    if (job->agraph == NULL) {
        if (build_audio_graph(job, f, job->res->audio_filter, &job->agraph,
                              &job->asrc, &job->asink) != 0)
            return -1;
        av_buffersink_set_frame_size(job->asink,
                                     (unsigned)job->aenc->frame_size);
    }
    /* A change of rate or layout is refused by the source: damage. */
    ret =
        av_buffersrc_add_frame_flags(job->asrc, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0) {
        job->damaged++;
        return 0;
    }
    return drain_audio(job);
}

/* ---- the video encoder's last frames, beside the sound ------------------ */

/*
 * Once the input is read, x264 still holds its look-ahead: encoding it
 * takes a quarter of a second of a 30 s 1080p clip, on both cores less
 * its last frames, and the gain pass after it half a second on one core
 * with the other idle (the `ffmpeg` program, given the gain, makes its
 * sound as it reads, behind the video). So the encoder is drained by a
 * thread of its own while the gain pass runs: the thread touches the
 * encoder only and keeps its packets (a few dozen frames) in memory; the
 * sound's packets wait in job->held meanwhile, since the muxer may take
 * none before the video before it. When the thread is done, collect_flush
 * sends its packets through the SEI filter into the spool, starts the
 * muxer and lets the held sound out, as if the video had been drained
 * first.
 */
struct transcode_flush {
    pthread_t thread;
    bool threaded, joined;
    AVCodecContext *enc;
    AVPacket **pkts;
    size_t n, cap;
    int ret; /* 0, or the encoder's AVERROR */
    atomic_bool done;
};

/* Drains f->enc (already told to flush) into f->pkts. */
static void *flush_thread(void *arg)
{
    struct transcode_flush *f = arg;
    AVPacket *pkt = NULL;
    int ret;

    for (;;) {
        if (f->n == f->cap) {
            size_t cap = f->cap ? 2 * f->cap : 64;
            AVPacket **p = realloc(f->pkts, cap * sizeof(*p));
            if (p == NULL) {
                ret = AVERROR(ENOMEM);
                break;
            }
            f->pkts = p;
            f->cap = cap;
        }
        if ((pkt = av_packet_alloc()) == NULL) {
            ret = AVERROR(ENOMEM);
            break;
        }
        if ((ret = avcodec_receive_packet(f->enc, pkt)) < 0)
            break;
        f->pkts[f->n++] = pkt;
        pkt = NULL;
    }
    av_packet_free(&pkt);
    f->ret = ret == AVERROR_EOF ? 0 : ret;
    atomic_store(&f->done, true);
    return NULL;
}

/* Tells the video encoder to flush and drains it in a thread (here, if no
 * thread can be had). Returns 0, or -1 with the job failed. */
static int start_flush(struct transcode_job *job)
{
    struct transcode_flush *f = calloc(1, sizeof(*f));
    int ret;

    if (f == NULL)
        return transcode_fail(job, "out of memory");
    job->flush = f;
    f->enc = job->venc;
    atomic_init(&f->done, false);
    if ((ret = avcodec_send_frame(job->venc, NULL)) < 0)
        return transcode_fail(job, "video encoder: %s", av_err2str(ret));
    job->flushing = true;
    f->threaded = pthread_create(&f->thread, NULL, flush_thread, f) == 0;
    if (!f->threaded)
        flush_thread(f);
    return 0;
}

/* Waits for the encoder's thread, if it runs; idempotent. */
static void join_flush(struct transcode_job *job)
{
    struct transcode_flush *f = job->flush;

    if (f != NULL && f->threaded && !f->joined) {
        pthread_join(f->thread, NULL);
        f->joined = true;
    }
}

/* Frees what the flush and the held sound kept (after join_flush). */
static void free_flush(struct transcode_job *job)
{
    struct transcode_flush *f = job->flush;

    join_flush(job);
    if (f != NULL) {
        for (size_t i = 0; i < f->n; i++)
            av_packet_free(&f->pkts[i]);
        free(f->pkts);
        free(f);
        job->flush = NULL;
    }
    for (size_t i = 0; i < job->nheld; i++)
        av_packet_free(&job->held[i]);
    free(job->held);
    job->held = NULL;
    job->nheld = job->held_cap = 0;
}

/* Once the encoder's thread is done (waiting for it if need be): its
 * packets through the SEI filter into the spool, the muxer started, the
 * held sound let out. Returns 0, or -1 with the job failed. */
static int collect_flush(struct transcode_job *job)
{
    struct transcode_flush *f = job->flush;

    join_flush(job);
    job->flushing = false;
    if (f->ret < 0)
        return transcode_fail(job, "video encoder: %s", av_err2str(f->ret));
    for (size_t i = 0; i < f->n; i++)
        if (filter_video(job, f->pkts[i]) != 0)
            return -1;
    if (filter_video(job, NULL) != 0 || start_muxer(job) != 0)
        return -1;
    for (size_t i = 0; i < job->nheld; i++)
        if (write_packet(job, job->aenc, job->aout, job->held[i]) != 0)
            return -1;
    return 0;
}

/*
 * The sound, once the whole clip is read and measured: its gain planned,
 * the audio encoder opened and the muxer started, the spooled audio
 * packets decoded again through the gain and encoded, each AAC packet
 * muxed after the spooled video before it, and the rest of the video
 * last. Returns 0, or -1 with the job failed.
 */
static int gain_pass(struct transcode_job *job)
{
    int64_t damaged = job->damaged;
    int ret = 0;

    if (job->ain != NULL && (plan_audio(job) != 0 || open_audio_encoder(job)))
        return -1;
    if (!job->header_written && !job->flushing && start_muxer(job) != 0)
        return -1;
    if (job->ain != NULL) {
        /* The same packets again: the decoder starts afresh. */
        avcodec_flush_buffers(job->adec);
        job->next_apts = 0;
        while ((ret = transcode_spool_get(job->spool, SPOOL_AUDIO, job->pkt)) ==
               1) {
            ret = transcode_decode(job, job->adec, job->pkt, push_audio);
            av_packet_unref(job->pkt);
            if (ret != 0 || (job->flushing && atomic_load(&job->flush->done) &&
                             collect_flush(job) != 0))
                return -1;
        }
        if (ret < 0)
            return transcode_fail(job, "cannot read the sound back: %s",
                                  av_err2str(ret));
        if (transcode_decode(job, job->adec, NULL, push_audio) != 0)
            return -1;
        if (job->agraph != NULL &&
            ((ret = av_buffersrc_close(job->asrc, job->asrc_end, 0)) < 0 ||
             drain_audio(job) != 0))
            return transcode_fail(job, "audio filter error: %s",
                                  av_err2str(ret));
        if (encode(job, job->aenc, NULL) != 0)
            return -1;
    }
    /* Its damage was counted as it was read. */
    job->damaged = damaged;
    if (job->flushing && collect_flush(job) != 0)
        return -1;
    return job->spool != NULL ? mux_spooled_video(job, NULL) : 0;
}

/*
 * Reads the input once: the video decoded, filtered and encoded as it
 * comes (into the spool while the sound is measured), the sound decoded
 * and measured, its packets spooled. Then flushes the decoders, the
 * graph and the video encoder, and (gain_pass) makes the sound.
 */
static int run(struct transcode_job *job)
{
    int ret;

    for (;;) {
        ret = av_read_frame(job->ic, job->pkt);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            transcode_warn(
                job,
                "the file is damaged after %.1f s: the rest was left "
                "out",
                job->last_ts);
            break;
        }
        if (++job->packets > job->max_packets) {
            av_packet_unref(job->pkt);
            return transcode_fail(
                job, "the clip has too many packets for its length");
        }
        if (job->pkt->stream_index == job->vin->index) {
            ret = transcode_decode(job, job->vdec, job->pkt, push_video);
        } else if (job->ain != NULL &&
                   job->pkt->stream_index == job->ain->index) {
            ret = transcode_spool_put(job->spool, SPOOL_AUDIO, job->pkt);
            ret = ret < 0 ? transcode_fail(job, "cannot keep the sound: %s",
                                           av_err2str(ret))
                          : transcode_decode(job, job->adec, job->pkt,
                                             measure_frame);
        } else {
            ret = 0;
        }
        av_packet_unref(job->pkt);
        if (ret != 0)
            return -1;
    }
    if (transcode_decode(job, job->vdec, NULL, push_video) != 0 ||
        (job->ain != NULL &&
         transcode_decode(job, job->adec, NULL, measure_frame) != 0))
        return -1;
    if (job->vgraph == NULL)
        return transcode_fail(job, "no video frame could be decoded");
    /* Closed at the end of the last frame, not its start, so that the fps
     * filter keeps it. */
    if ((ret = av_buffersrc_close(job->vsrc, job->vsrc_end, 0)) < 0)
        return transcode_fail(job, "video filter error: %s", av_err2str(ret));
    if (drain_video(job) != 0)
        return -1;
    if (job->frames_out == 0)
        return transcode_fail(job, "no video frame could be decoded");
    if (job->ain != NULL && measure_finish(job) != 0)
        return -1;
    if ((transcode_protect_deferred(job) && paint_cards(job) != 0) ||
        (job->sheet != NULL && encode_protected(job, true) != 0))
        return -1;
    /* Without sound there is no gain pass to overlap. */
    if (job->ain == NULL)
        return encode(job, job->venc, NULL) != 0 ? -1 : gain_pass(job);
    if (start_flush(job) != 0)
        return -1;
    ret = gain_pass(job);
    join_flush(job);
    return ret;
}

/* ---- finishing --------------------------------------------------------- */

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* Completes the files under their temporary names, fsyncs them and
 * renames them into place: the thumbnail first, then a protected clip's
 * sheet, the video last. */
static int finish(struct transcode_job *job)
{
    const struct transcode_options *o = job->opts;
    struct transcode_result *res = job->res;
    char path[PATH_MAX], err[256];
    struct stat st;
    int ret;

    if ((ret = av_write_trailer(job->oc)) < 0)
        return transcode_fail(job, "cannot finish the video: %s",
                              av_err2str(ret));
    if ((ret = close_output_pb(job)) < 0)
        return transcode_fail(job, "cannot finish the video: %s",
                              av_err2str(ret));
    if ((o->video_fd >= 0
             ? fsync(o->video_fd) != 0 || fstat(o->video_fd, &st) != 0
             : fsync_path(job->tmp_video) != 0 ||
                   stat(job->tmp_video, &st) != 0))
        return transcode_fail(job, "cannot finish the video: %s",
                              strerror(errno));
    res->out_bytes = (int64_t)st.st_size;

    if (job->thumb->data[0] == NULL)
        return transcode_fail(job,
                              "no frame could be chosen for the thumbnail");
    job->have_tmp_thumb = o->thumb_fd < 0;
    if (thumb_write_jpeg(job->thumb, job->tmp_thumb, o->thumb_fd, err,
                         sizeof(err)) != 0)
        return transcode_fail(job, "%s", err);
    if ((o->thumb_fd >= 0 ? fstat(o->thumb_fd, &st)
                          : stat(job->tmp_thumb, &st)) != 0)
        return transcode_fail(job, "cannot finish the thumbnail: %s",
                              strerror(errno));
    res->thumb_bytes = (int64_t)st.st_size;
    res->thumb_width = job->thumb->width;
    res->thumb_height = job->thumb->height;
    if (job->sheet != NULL) {
        job->have_tmp_sheet = o->sheet_fd < 0;
        if (transcode_sheet_write(job, job->tmp_sheet, o->sheet_fd) != 0)
            return -1;
        if ((o->sheet_fd >= 0 ? fstat(o->sheet_fd, &st)
                              : stat(job->tmp_sheet, &st)) != 0)
            return transcode_fail(job, "cannot finish the sheet: %s",
                                  strerror(errno));
        res->sheet_bytes = (int64_t)st.st_size;
    }
    /* Given descriptors: naming the files is the caller's part. */
    if (o->video_fd >= 0)
        return 0;

    if (util_fmt(path, sizeof(path), "%s/thumb.jpg", job->out_dir) != 0 ||
        rename(job->tmp_thumb, path) != 0)
        return transcode_fail(job, "cannot rename the thumbnail: %s",
                              strerror(errno));
    job->have_tmp_thumb = false;
    if (job->sheet != NULL &&
        (util_fmt(path, sizeof(path), "%s/sheet.jpg", job->out_dir) != 0 ||
         rename(job->tmp_sheet, path) != 0))
        return transcode_fail(job, "cannot rename the sheet: %s",
                              strerror(errno));
    job->have_tmp_sheet = false;
    if (util_fmt(path, sizeof(path), "%s/video.mp4", job->out_dir) != 0 ||
        rename(job->tmp_video, path) != 0)
        return transcode_fail(job, "cannot rename the video: %s",
                              strerror(errno));
    job->have_tmp_video = false;
    if (util_fsync_dir(job->out_dir) != 0)
        return transcode_fail(job, "cannot sync %s: %s", job->out_dir,
                              strerror(errno));
    return 0;
}

/* Fills the output facts and the warnings about damage. */
static void sum_up(struct transcode_job *job)
{
    struct transcode_result *res = job->res;

    res->out_width = job->video.width;
    res->out_height = job->video.height;
    res->out_fps_num = job->video.rate.num;
    res->out_fps_den = job->video.rate.den;
    res->out_frames = job->frames_out;
    res->out_duration_ms = llround(fmax(job->video_end, job->audio_end) * 1000);
    res->has_audio = job->audio_packets > 0;
    if (res->has_audio) {
        res->loudness_out = job->after.i;
        res->true_peak_out = 20 * log10(fmax(job->after.true_peak, 1e-5));
    }
    transcode_protect_finish(job);
    if (job->damaged > 0)
        transcode_warn(job,
                       "%lld damaged packets or frames were skipped or patched",
                       (long long)job->damaged);
    if (job->reliable && job->declared > 0 &&
        job->video_end < job->declared - fmax(1, 0.1 * job->declared))
        transcode_warn(
            job,
            "the video stops at %.1f s of %.1f s: the file is damaged "
            "or incomplete",
            job->video_end, job->declared);
}

/* Sets up *job for one transcode of in_path into out_dir: checks the
 * options and allocates the scratch packets and frames. Returns 0, or -1
 * with the job failed; job_release frees it either way. */
static int job_init(struct transcode_job *job, const char *in_path,
                    const char *out_dir, const struct transcode_options *o,
                    struct transcode_result *res)
{
    memset(job, 0, sizeof(*job));
    job->in_path = in_path;
    job->out_dir = out_dir;
    job->opts = o;
    job->res = res;
    job->after = (struct transcode_loudness){.i = NAN, .lra = NAN};
    job->last_progress_ms = util_mono_ms();
    if (o->max_side < 16 || o->max_side > MAX_SIDE_IN ||
        o->max_duration_s < 1 || o->max_duration_s > 86400 || o->max_fps < 1 ||
        o->max_fps > 120 || (o->video_fd >= 0) != (o->thumb_fd >= 0) ||
        (o->protect & ~(unsigned)TRANSCODE_PROTECT_ALL) != 0 ||
        (o->protect != 0 && (o->video_fd >= 0) != (o->sheet_fd >= 0)))
        return transcode_fail(job,
                              "internal error: transcode options out of range");
    job->max_frames_out = (int64_t)(o->max_duration_s + 2) * o->max_fps;
    job->pkt = av_packet_alloc();
    job->opkt = av_packet_alloc();
    job->spkt = av_packet_alloc();
    job->frame = av_frame_alloc();
    job->filt = av_frame_alloc();
    job->fixed = av_frame_alloc();
    job->thumb = av_frame_alloc();
    if (job->pkt == NULL || job->opkt == NULL || job->spkt == NULL ||
        job->frame == NULL || job->filt == NULL || job->fixed == NULL ||
        job->thumb == NULL)
        return transcode_fail(job, "out of memory");
    return 0;
}

/*
 * Sets up what the options' protection needs: the assets (loaded here if
 * the caller gave none), the voice's amounts (drawn now, used by both
 * passes, kept nowhere), the frames' protection and the contact sheet.
 * Returns 0, or -1 with the job failed.
 */
static int prepare_protection(struct transcode_job *job)
{
    const struct transcode_options *o = job->opts;
    char err[256];

    if (o->protect == 0)
        return 0;
    job->assets = o->assets;
    if (job->assets == NULL) {
        if (transcode_assets_open(o->protect, &job->own_assets, err,
                                  sizeof(err)) != 0)
            return transcode_fail(job, "%s", err);
        job->assets = job->own_assets;
    }
    if (o->protect & TRANSCODE_PROTECT_VOICE)
        transcode_plan_voice(randombytes_uniform(1000000) / 1e6,
                             randombytes_uniform(1000000) / 1e6, &job->voice);
    if (transcode_protect_new(job) != 0 || transcode_sheet_new(job) != 0)
        return -1;
    return 0;
}

/* Frees everything job holds and removes the temporary files it still
 * owns; fields already freed or never made are skipped. */
static void job_release(struct transcode_job *job)
{
    /* The encoder's thread is done before the encoder goes. */
    free_flush(job);
    avfilter_graph_free(&job->m_graph);
    free(job->speech_db);
    job->speech_db = NULL;
    free(job->card_pts);
    job->card_pts = NULL;
    av_bsf_free(&job->bsf);
    avcodec_free_context(&job->venc);
    avcodec_free_context(&job->aenc);
    if (job->oc != NULL) {
        close_output_pb(job);
        avformat_free_context(job->oc);
        job->oc = NULL;
    }
    if (job->have_tmp_video)
        unlink(job->tmp_video);
    if (job->have_tmp_thumb)
        unlink(job->tmp_thumb);
    if (job->have_tmp_sheet)
        unlink(job->tmp_sheet);
    transcode_protect_free(&job->protect);
    av_frame_free(&job->ready);
    transcode_sheet_free(&job->sheet);
    transcode_assets_close(&job->own_assets);
    free(job->envelope);
    job->envelope = NULL;
    avfilter_graph_free(&job->vgraph);
    avfilter_graph_free(&job->agraph);
    sws_freeContext(job->resize);
    job->resize = NULL;
    avcodec_free_context(&job->vdec);
    avcodec_free_context(&job->adec);
    transcode_input_close(job, &job->ic, &job->in_pb);
    transcode_spool_free(&job->spool);
    av_packet_free(&job->pkt);
    av_packet_free(&job->opkt);
    av_packet_free(&job->spkt);
    av_frame_free(&job->frame);
    av_frame_free(&job->filt);
    av_frame_free(&job->fixed);
    av_frame_free(&job->thumb);
}

void transcode_tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

int transcode_file(const char *in_path, const char *out_dir,
                   const struct transcode_options *o,
                   struct transcode_result *res)
{
    struct transcode_options defaults;
    struct transcode_job job;
    int64_t t0 = util_mono_ms();
    int ret, rc = -1;

    memset(res, 0, sizeof(*res));
    transcode_tune_malloc();
    if (o == NULL) {
        transcode_options_default(&defaults);
        o = &defaults;
    }
    if (job_init(&job, in_path, out_dir, o, res) != 0 ||
        prepare_protection(&job) != 0 || transcode_input_open_main(&job) != 0)
        goto out;
    if (plan_video(&job) != 0)
        goto out;
    if ((ret = transcode_input_open_decoder(job.vin, &job.vdec)) < 0) {
        log_warnx("transcode: video decoder: %s", av_err2str(ret));
        transcode_fail(
            &job, "the video (%s) cannot be decoded: %s", res->in_video_codec,
            ret == AVERROR(ENOMEM) ? "out of memory"
                                   : "its stream is damaged or unusual");
        goto out;
    }
    if (job.ain != NULL &&
        (ret = transcode_input_open_decoder(job.ain, &job.adec)) < 0) {
        if (ret == AVERROR(ENOMEM)) {
            transcode_fail(&job, "out of memory for the audio decoder");
            goto out;
        }
        transcode_warn(&job,
                       "the audio cannot be decoded (%s): the clip is silent",
                       av_err2str(ret));
        job.ain = NULL;
    }
    job.before = (struct transcode_loudness){.i = NAN, .lra = NAN};
    if (job.ain != NULL &&
        transcode_plan_measure(&job.voice, job.measure_filter,
                               sizeof(job.measure_filter)) != 0) {
        transcode_fail(&job, "internal error: the audio filter is too long");
        goto out;
    }
    if (open_output(&job) != 0 || run(&job) != 0)
        goto out;
    sum_up(&job);
    if (finish(&job) != 0)
        goto out;
    if (o->progress != NULL)
        o->progress(o->opaque, 1.0);
    rc = 0;
out:
    if (rc != 0 && res->error[0] == '\0')
        transcode_fail(&job, "internal error");
    job_release(&job);
    res->seconds = (double)(util_mono_ms() - t0) / 1000.0;
    return rc;
}

/* ---- the facts as JSON ------------------------------------------------- */

/* x rounded to `places` decimals, or JSON null if it is not a number. */
static json_t *num(double x, int places)
{
    double k = pow(10, places);

    return isfinite(x) ? json_real(round(x * k) / k) : json_null();
}

/* s as a new JSON string, or JSON null if it is empty. */
static json_t *str_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

/*
 * Adds a protected clip's facts: "protection" {"asked", "check",
 * "blur_faces" {...}, "voice" {ranges}} to j, and the sheet to out. Returns 0,
 * or -1 if out of memory.
 */
static int protection_json(const struct transcode_result *r, json_t *j,
                           json_t *out)
{
    static const char *const names[] = {"blur_faces", "voice", "no_video"};
    json_t *asked = json_array(), *sheet = NULL, *p = NULL;

    if (asked == NULL)
        return -1;
    for (unsigned i = 0; i < 3; i++)
        if (r->protect & (1u << i))
            json_array_append_new(asked, json_string(names[i]));
    p = json_pack("{s:o, s:b, s:{s:o, s:o, s:o}}", "asked", asked, "check",
                  r->check_protection, "seconds", "detect",
                  num(r->detect_seconds, 3), "cover", num(r->cover_seconds, 3),
                  "sheet", num(r->sheet_seconds, 3));
    sheet = json_pack("{s:i, s:i, s:i, s:I}", "width", r->sheet_width, "height",
                      r->sheet_height, "frames", r->sheet_frames, "bytes",
                      (json_int_t)r->sheet_bytes);
    if (p == NULL || sheet == NULL) {
        json_decref(p);
        json_decref(sheet);
        return -1;
    }
    if ((r->protect & TRANSCODE_PROTECT_BLUR_FACES) &&
        !(r->protect & TRANSCODE_PROTECT_NO_VIDEO))
        json_object_set_new(
            p, "blur_faces",
            json_pack("{s:I, s:I, s:I, s:i}", "detection_runs",
                      (json_int_t)r->face_runs, "runs_with_faces",
                      (json_int_t)r->face_hits, "came_and_went",
                      (json_int_t)r->face_gaps, "faces_max", r->faces_max));
    if (r->protect & TRANSCODE_PROTECT_VOICE)
        json_object_set_new(
            p, "voice",
            json_pack("{s:[f,f], s:[f,f]}", "pitch_down_semitones",
                      TRANSCODE_VOICE_PITCH_MIN, TRANSCODE_VOICE_PITCH_MAX,
                      "formants_down_semitones", TRANSCODE_VOICE_FORMANT_MIN,
                      TRANSCODE_VOICE_FORMANT_MAX));
    json_object_set_new(out, "sheet", sheet);
    json_object_set_new(j, "protection", p);
    return 0;
}

json_t *transcode_result_json(const struct transcode_result *r)
{
    json_t *j = json_object(), *in = json_object(), *out = json_object();
    json_t *thumb = json_object(), *filters = json_object();
    json_t *warnings = json_array(), *loud = NULL, *speech = json_array();
    double fps =
        r->out_fps_den > 0 ? (double)r->out_fps_num / r->out_fps_den : 0;

    if (r->has_audio && (loud = json_object()) != NULL) {
        json_object_set_new(loud, "before_lufs", num(r->loudness_in, 1));
        json_object_set_new(loud, "before_lra", num(r->lra_in, 1));
        json_object_set_new(loud, "before_true_peak_dbtp",
                            num(r->true_peak_in, 1));
        json_object_set_new(loud, "after_lufs", num(r->loudness_out, 1));
        json_object_set_new(loud, "after_true_peak_dbtp",
                            num(r->true_peak_out, 1));
        json_object_set_new(loud, "mode", json_string(r->loudnorm_mode));
    }
    for (int i = 0; speech != NULL && r->has_audio && i < r->nspeech; i++)
        json_array_append_new(speech,
                              json_pack("[o,o]", num(r->speech[i].start, 2),
                                        num(r->speech[i].end, 2)));
    if (j == NULL || in == NULL || out == NULL || thumb == NULL ||
        filters == NULL || warnings == NULL || speech == NULL ||
        (r->has_audio && !loud)) {
        json_decref(speech);
        json_decref(j);
        json_decref(in);
        json_decref(out);
        json_decref(thumb);
        json_decref(filters);
        json_decref(warnings);
        json_decref(loud);
        return NULL;
    }
    json_object_set_new(in, "format", json_string(r->in_format));
    json_object_set_new(in, "video_codec", json_string(r->in_video_codec));
    json_object_set_new(in, "pix_fmt", str_or_null(r->in_pix_fmt));
    json_object_set_new(in, "color_transfer",
                        str_or_null(r->in_color_transfer));
    json_object_set_new(in, "hdr", json_boolean(r->in_hdr));
    json_object_set_new(in, "width", json_integer(r->in_width));
    json_object_set_new(in, "height", json_integer(r->in_height));
    json_object_set_new(in, "rotation", json_integer(r->in_rotation));
    json_object_set_new(in, "fps", num(r->in_fps, 3));
    json_object_set_new(in, "duration_s",
                        num((double)r->in_duration_ms / 1000, 3));
    json_object_set_new(in, "bytes", json_integer(r->in_bytes));
    json_object_set_new(in, "audio_codec", str_or_null(r->in_audio_codec));
    json_object_set_new(in, "sample_rate", json_integer(r->in_sample_rate));
    json_object_set_new(in, "channels", json_integer(r->in_channels));

    json_object_set_new(out, "video_codec", json_string("h264"));
    json_object_set_new(out, "profile", json_string("High"));
    json_object_set_new(out, "pix_fmt", json_string("yuv420p"));
    json_object_set_new(out, "width", json_integer(r->out_width));
    json_object_set_new(out, "height", json_integer(r->out_height));
    json_object_set_new(out, "fps", num(fps, 3));
    json_object_set_new(out, "frames", json_integer(r->out_frames));
    json_object_set_new(out, "duration_s",
                        num((double)r->out_duration_ms / 1000, 3));
    json_object_set_new(out, "bytes", json_integer(r->out_bytes));
    json_object_set_new(out, "audio_codec",
                        r->has_audio ? json_string("aac") : json_null());
    json_object_set_new(out, "sample_rate",
                        r->has_audio ? json_integer(AUDIO_RATE) : json_null());
    json_object_set_new(out, "channels",
                        r->has_audio ? json_integer(2) : json_null());
    json_object_set_new(thumb, "width", json_integer(r->thumb_width));
    json_object_set_new(thumb, "height", json_integer(r->thumb_height));
    json_object_set_new(thumb, "bytes", json_integer(r->thumb_bytes));
    json_object_set_new(out, "thumb", thumb);

    if (r->protect != 0 && protection_json(r, j, out) != 0) {
        json_decref(speech);
        json_decref(j);
        json_decref(in);
        json_decref(out);
        json_decref(filters);
        json_decref(warnings);
        return NULL;
    }
    json_object_set_new(filters, "video", json_string(r->video_filter));
    /* The voice's amounts stay out of the facts: knowing them would help
     * to undo the disguise. */
    json_object_set_new(filters, "audio",
                        json_string((r->protect & TRANSCODE_PROTECT_VOICE)
                                        ? "(disguised voice: not shown)"
                                        : r->audio_filter));
    for (int i = 0; i < r->nwarnings; i++)
        json_array_append_new(warnings, json_string(r->warnings[i]));

    json_object_set_new(j, "input", in);
    json_object_set_new(j, "output", out);
    json_object_set_new(j, "has_audio", json_boolean(r->has_audio));
    json_object_set_new(j, "loudness", loud != NULL ? loud : json_null());
    json_object_set_new(j, "speech", speech);
    json_object_set_new(j, "seconds", num(r->seconds, 3));
    json_object_set_new(j, "filters", filters);
    json_object_set_new(j, "warnings", warnings);
    return j;
}

void transcode_log_level(bool verbose)
{
    av_log_set_level(verbose ? AV_LOG_INFO : AV_LOG_ERROR);
}

/* What the module exports: see transcode_load(). */
extern const struct transcode_api chorus_transcode_api;
const struct transcode_api chorus_transcode_api = {
    transcode_options_default,    transcode_file,
    transcode_result_release,     transcode_result_json,
    transcode_log_level,          transcode_assets_open,
    transcode_assets_close,       transcode_versions,
    transcode_studio_assets_open, transcode_studio_assets_close,
};
