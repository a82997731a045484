/*
 * The media pipeline's input, hostile until proven otherwise: the
 * container is chosen by probing its bytes against a whitelist, never by
 * its name; decoders come from a whitelist; the demuxer may open no other
 * file; stream count, frame size and duration are bounded before a frame
 * is decoded, and the limits that stop a file lying about its duration
 * are set here for the pipeline to enforce while it decodes. Every
 * refusal fails the job with a reason a moderator can read.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/pixdesc.h>

#include "chorus/transcode.h"
#include "chorus/util.h"
#include "transcode_internal.h"

/* Containers, by demuxer name; chosen by probing the bytes, never the
 * file name (stored inputs have none). */
#define FORMAT_WHITELIST "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,ogg,mpegts"
/* Decoders for what phones, browsers and cameras record: video, audio. */
#define CODEC_WHITELIST                                                        \
    "h264,hevc,vp8,vp9,libdav1d,libaom-av1,av1,mpeg4,h263,mjpeg,mpeg2video,"   \
    "theora,prores,"                                                           \
    "aac,opus,libopus,vorbis,libvorbis,mp3float,mp3,flac,alac,amrnb,amrwb,"    \
    "ac3,eac3,pcm_s16le,pcm_s16be,pcm_s24le,pcm_s24be,pcm_s32le,pcm_s32be,"    \
    "pcm_f32le,pcm_f32be,pcm_u8,pcm_alaw,pcm_mulaw"
#define ACCEPTED "send MP4, MOV, 3GP, WebM, MKV, AVI, Ogg or MPEG-TS"

#define PROBE_BYTES (8 * 1024 * 1024)
#define ANALYZE_US (10 * (int64_t)AV_TIME_BASE)
#define MAX_STREAMS 8
#define MAX_PIXELS_IN (36 * 1000 * 1000)
/* Bounds on work per second of allowed duration, whatever the timestamps
 * say: decoded video frames, and packets of any kind. */
#define MAX_INPUT_FPS 250
#define MAX_PACKETS_PER_S 1500
#define AUDIO_MAX_CHANNELS 8

/* The demuxer may open nothing but the file it was given: no HLS segment,
 * no concat entry, no QuickTime reference. */
static int deny_io_open(AVFormatContext *s, AVIOContext **pb, const char *url,
                        int flags, AVDictionary **options)
{
    (void)s;
    (void)url;
    (void)flags;
    (void)options;
    *pb = NULL;
    return AVERROR(EPERM);
}

/* What a refused demuxer's input is, in words, or NULL. */
static const char *format_kind(const char *name)
{
    static const char *const kinds[][2] = {
        {"hls", "an HLS playlist"},   {"concat", "an ffconcat script"},
        {"dash", "a DASH manifest"},  {"tty", "a text file"},
        {"srt", "a subtitle file"},   {"webvtt", "a subtitle file"},
        {"ass", "a subtitle file"},   {"mp3", "an audio file"},
        {"wav", "an audio file"},     {"flac", "an audio file"},
        {"aac", "an audio file"},     {"image2", "an image"},
        {"gif", "an animated image"}, {"apng", "an animated image"},
    };
    const char *pipe = strstr(name, "_pipe");

    for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
        if (strcmp(name, kinds[i][0]) == 0)
            return kinds[i][1];
    return pipe != NULL && pipe[5] == '\0' ? "an image" : NULL;
}

/* Whether id has a decoder and it is on the whitelist. */
static bool decoder_allowed(enum AVCodecID id)
{
    const AVCodec *c = avcodec_find_decoder(id);

    return c != NULL && av_match_list(c->name, CODEC_WHITELIST, ',') > 0;
}

int transcode_input_open(struct transcode_job *job, AVFormatContext **icp,
                         AVIOContext **pbp)
{
    const AVInputFormat *fmt = NULL;
    AVDictionary *opts = NULL;
    AVFormatContext *ic = NULL;
    char url[PATH_MAX + 8];
    const char *kind;
    int ret, rc = -1;

    if (job->opts->input_fd >= 0) {
        ret = (*pbp = transcode_io_new(job->opts->input_fd, false)) != NULL
                  ? 0
                  : AVERROR(ENOMEM);
    } else if (util_fmt(url, sizeof(url), "file:%s", job->in_path) != 0) {
        transcode_fail(job, "the input path is too long");
        goto out;
    } else {
        av_dict_set(&opts, "protocol_whitelist", "file", 0);
        ret = avio_open2(pbp, url, AVIO_FLAG_READ, NULL, &opts);
        av_dict_free(&opts);
    }
    if (ret < 0) {
        transcode_fail(job, "cannot open the file: %s", av_err2str(ret));
        goto out;
    }
    /* An empty name: only the content decides. */
    ret = av_probe_input_buffer2(*pbp, &fmt, "", NULL, 0, PROBE_BYTES);
    if (ret < 0 || fmt == NULL) {
        transcode_fail(job,
                       "not a video: the file's format is not recognised (%s)",
                       ACCEPTED);
        goto out;
    }
    if (av_match_list(fmt->name, FORMAT_WHITELIST, ',') <= 0) {
        if ((kind = format_kind(fmt->name)) != NULL)
            transcode_fail(job, "not a video: the file is %s (%s)", kind,
                           ACCEPTED);
        else
            transcode_fail(job, "files of type \"%s\" are not accepted (%s)",
                           fmt->name, ACCEPTED);
        goto out;
    }
    if ((ic = avformat_alloc_context()) == NULL) {
        transcode_fail(job, "out of memory");
        goto out;
    }
    ic->pb = *pbp;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    ic->io_open = deny_io_open;
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    av_dict_set(&opts, "format_whitelist", FORMAT_WHITELIST, 0);
    av_dict_set(&opts, "codec_whitelist", CODEC_WHITELIST, 0);
    av_dict_set_int(&opts, "probesize", PROBE_BYTES, 0);
    av_dict_set_int(&opts, "analyzeduration", ANALYZE_US, 0);
    av_dict_set_int(&opts, "max_streams", MAX_STREAMS, 0);
    /* On failure this frees ic. */
    ret = avformat_open_input(&ic, "", fmt, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        /* What the demuxer says when max_streams is reached. */
        if (ret == AVERROR(ENOMEM))
            transcode_fail(
                job,
                "the file cannot be read: it has more than %d streams "
                "or a damaged header",
                MAX_STREAMS);
        else if (strstr(fmt->name, "mp4") != NULL)
            transcode_fail(
                job, "the MP4/MOV file is damaged or incomplete: its index "
                     "cannot be read (was the upload cut short?)");
        else
            transcode_fail(
                job, "the %s file is damaged: its header cannot be read (%s)",
                fmt->name, av_err2str(ret));
        goto out;
    }
    rc = 0;
out:
    *icp = ic;
    return rc;
}

void transcode_input_close(struct transcode_job *job, AVFormatContext **icp,
                           AVIOContext **pbp)
{
    avformat_close_input(icp);
    if (job->opts->input_fd >= 0)
        transcode_io_free(pbp);
    else
        avio_closep(pbp);
}

/* Refuses a video stream of more pixels than the limits; returns 0, or -1
 * with the job failed. */
static int check_size(struct transcode_job *job, const AVCodecParameters *par)
{
    if (par->width < 0 || par->height < 0 || par->width > MAX_SIDE_IN ||
        par->height > MAX_SIDE_IN ||
        (int64_t)par->width * par->height > MAX_PIXELS_IN)
        return transcode_fail(
            job,
            "the video is %dx%d pixels; the largest accepted is %d "
            "pixels a side and %d megapixels",
            par->width, par->height, MAX_SIDE_IN, MAX_PIXELS_IN / 1000000);
    return 0;
}

int transcode_input_probe(struct transcode_job *job, AVFormatContext *ic)
{
    AVDictionary *opts[MAX_STREAMS] = {NULL};
    unsigned n = ic->nb_streams;
    int ret;

    if (n > MAX_STREAMS)
        return transcode_fail(
            job, "the file has %u streams; at most %d are accepted", n,
            MAX_STREAMS);
    for (unsigned i = 0; i < n; i++) {
        if (ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            check_size(job, ic->streams[i]->codecpar) != 0)
            return -1;
        av_dict_set_int(&opts[i], "max_pixels", MAX_PIXELS_IN, 0);
    }
    ret = avformat_find_stream_info(ic, opts);
    for (unsigned i = 0; i < n; i++)
        av_dict_free(&opts[i]);
    if (ret < 0)
        return transcode_fail(job, "cannot read the file's streams (%s)",
                              av_err2str(ret));
    return 0;
}

/* The duration st declares in seconds, or 0 if it declares none. */
static double stream_seconds(const AVStream *st)
{
    if (st == NULL || st->duration <= 0 || st->time_base.num <= 0 ||
        st->time_base.den <= 0)
        return 0;
    return (double)st->duration * av_q2d(st->time_base);
}

/* Takes st as the audio if it can be decoded and is sane, else warns. */
static void choose_audio(struct transcode_job *job, AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    const char *name = avcodec_get_name(par->codec_id);

    if (!decoder_allowed(par->codec_id)) {
        transcode_warn(
            job, "the audio codec %s is not supported: the clip is silent",
            name);
        return;
    }
    if (par->ch_layout.nb_channels < 1 ||
        par->ch_layout.nb_channels > AUDIO_MAX_CHANNELS ||
        par->sample_rate < 1000 || par->sample_rate > 384000) {
        transcode_warn(job, "the audio (%d channels at %d Hz) was left out",
                       par->ch_layout.nb_channels, par->sample_rate);
        return;
    }
    job->ain = st;
    transcode_set_str(job->res->in_audio_codec,
                      sizeof(job->res->in_audio_codec), name);
    job->res->in_sample_rate = par->sample_rate;
    job->res->in_channels = par->ch_layout.nb_channels;
}

/* Refuses a clip that says it is too long; sets the limits that stop one
 * that lied. */
static int check_duration(struct transcode_job *job)
{
    const AVFormatContext *ic = job->ic;
    const struct transcode_options *o = job->opts;
    double d = 0;

    /* A duration guessed from the bitrate is only good for progress. */
    job->reliable =
        ic->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE;
    if (ic->duration > 0)
        d = (double)ic->duration / AV_TIME_BASE;
    d = fmax(d, fmax(stream_seconds(job->vin), stream_seconds(job->ain)));
    job->declared = d;
    job->res->in_duration_ms = llround(d * 1000);
    if (job->reliable && d > o->max_duration_s + 0.5)
        return transcode_fail(job, "the clip is %.0f s long; the limit is %d s",
                              ceil(d), o->max_duration_s);
    job->start = ic->start_time != AV_NOPTS_VALUE ? ic->start_time : 0;
    job->limit = o->max_duration_s + 1.0;
    job->max_frames_in = (int64_t)(o->max_duration_s + 2) * MAX_INPUT_FPS;
    job->max_packets = (int64_t)(o->max_duration_s + 2) * MAX_PACKETS_PER_S;
    if (o->duration != NULL)
        o->duration(o->opaque, job->reliable ? d : 0);
    return 0;
}

int transcode_input_open_main(struct transcode_job *job)
{
    struct transcode_result *res = job->res;
    const AVCodecParameters *par;
    struct stat st;
    int idx;

    if ((job->opts->input_fd >= 0 ? fstat(job->opts->input_fd, &st)
                                  : stat(job->in_path, &st)) != 0)
        return transcode_fail(job, "cannot read the file: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return transcode_fail(job, "not a regular file");
    if (st.st_size == 0)
        return transcode_fail(job, "the file is empty");
    res->in_bytes = (int64_t)st.st_size;
    if (transcode_input_open(job, &job->ic, &job->in_pb) != 0)
        return -1;
    transcode_set_str(res->in_format, sizeof(res->in_format),
                      job->ic->iformat->name);
    if (transcode_input_probe(job, job->ic) != 0)
        return -1;

    idx = av_find_best_stream(job->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (idx < 0)
        return transcode_fail(job, "the file has no video stream");
    job->vin = job->ic->streams[idx];
    par = job->vin->codecpar;
    if (job->vin->disposition & AV_DISPOSITION_ATTACHED_PIC)
        return transcode_fail(job,
                              "the file has no video, only a still picture");
    transcode_set_str(res->in_video_codec, sizeof(res->in_video_codec),
                      avcodec_get_name(par->codec_id));
    if (par->codec_id == AV_CODEC_ID_NONE)
        return transcode_fail(job, "the video codec is not recognised");
    if (!decoder_allowed(par->codec_id))
        return transcode_fail(job, "the video codec %s is not supported",
                              res->in_video_codec);
    if (check_size(job, par) != 0)
        return -1;
    if (par->width <= 0 || par->height <= 0)
        return transcode_fail(job,
                              "the video's frame size is unknown (a damaged "
                              "file?)");
    res->in_width = par->width;
    res->in_height = par->height;
    transcode_set_str(res->in_pix_fmt, sizeof(res->in_pix_fmt),
                      av_get_pix_fmt_name((enum AVPixelFormat)par->format));
    if (par->color_trc != AVCOL_TRC_UNSPECIFIED)
        transcode_set_str(res->in_color_transfer,
                          sizeof(res->in_color_transfer),
                          av_color_transfer_name(par->color_trc));

    idx = av_find_best_stream(job->ic, AVMEDIA_TYPE_AUDIO, -1, job->vin->index,
                              NULL, 0);
    if (idx >= 0)
        choose_audio(job, job->ic->streams[idx]);
    /* Data, subtitle, attachment and extra streams are never read. */
    for (unsigned i = 0; i < job->ic->nb_streams; i++) {
        AVStream *s = job->ic->streams[i];
        s->discard =
            s == job->vin || s == job->ain ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    }
    return check_duration(job);
}

int transcode_input_open_decoder(AVStream *st, AVCodecContext **decp)
{
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    AVDictionary *opts = NULL;
    int ret;

    if (codec == NULL || av_match_list(codec->name, CODEC_WHITELIST, ',') <= 0)
        return AVERROR_DECODER_NOT_FOUND;
    if ((*decp = avcodec_alloc_context3(codec)) == NULL)
        return AVERROR(ENOMEM);
    if ((ret = avcodec_parameters_to_context(*decp, st->codecpar)) < 0)
        return ret;
    (*decp)->pkt_timebase = st->time_base;
    (*decp)->thread_count = 0;
    av_dict_set(&opts, "codec_whitelist", CODEC_WHITELIST, 0);
    av_dict_set_int(&opts, "max_pixels", MAX_PIXELS_IN, 0);
    ret = avcodec_open2(*decp, codec, &opts);
    av_dict_free(&opts);
    return ret;
}
