/*
 * The output plan: pure functions from the input's facts to the filter
 * graphs and the encoders' settings (see chorus/transcode_plan.h). Plain
 * C and libm only, so that the unit test runs it without libav.
 */
#include "chorus/transcode_plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define THUMB_SIDE 640

#define TARGET_LUFS (-16.0)
#define TARGET_TP (-1.5)
/* Below ebur128's absolute gate: nothing to normalise. */
#define SILENCE_LUFS (-69.5)
/* Bits per pixel per frame of the bitrate ceiling (3.3 Mb/s at 720p30). */
#define VIDEO_BPP 0.12

/* The stereo 48 kHz signal that is measured and then made louder or
 * softer; ebur128 and the gain take doubles. */
#define AUDIO_PREP                                                             \
    "aresample=48000,aformat=sample_fmts=dbl:sample_rates=48000:"              \
    "channel_layouts=stereo"
#define AUDIO_MEASURE "ebur128=peak=true:metadata=1"
#define AUDIO_FINAL                                                            \
    "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo"
/* The voice's two stages (see transcode_plan_voice); rubberband takes
 * float samples, and the gain wants doubles again. */
#define VOICE_STAGES                                                           \
    ",aformat=sample_fmts=fltp,rubberband=pitch=%.6f:formant=preserved:"       \
    "channels=together:pitchq=quality,rubberband=pitch=%.6f:"                  \
    "formant=shifted:channels=together:pitchq=quality,"                        \
    "aformat=sample_fmts=dbl"

/* A string being built; overflow is sticky and checked once at the end. */
struct sbuf {
    char *buf;
    size_t len, pos;
    bool overflow;
};

/* Appends to b as printf would, or marks it overflowed (keeping what
 * fitted, NUL-terminated). */
static void sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->buf + b->pos, b->len - b->pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->len - b->pos)
        b->overflow = true;
    else
        b->pos += (size_t)n;
}

/* q as a double, as libav's av_q2d computes it. */
static double q2d(struct transcode_q q)
{
    return q.num / (double)q.den;
}

/*
 * The display matrix as a filter chain (NULL: none), as the ffmpeg
 * program applies it; returns the clockwise rotation in degrees, or -1
 * for an angle that is not a multiple of 90.
 */
static int orientation(const struct transcode_video_facts *in,
                       const char **filter)
{
    double theta = in->rotation;

    *filter = NULL;
    if (isnan(theta))
        return 0;
    theta = fmod(theta, 360);
    if (theta < 0)
        theta += 360;
    if (fabs(theta - 90) < 1) {
        *filter = in->sign_c > 0 ? "transpose=cclock_flip" : "transpose=clock";
        return 90;
    }
    if (fabs(theta - 180) < 1) {
        *filter = in->sign_a < 0 && in->sign_d < 0 ? "hflip,vflip"
                  : in->sign_a < 0                 ? "hflip"
                  : in->sign_d < 0                 ? "vflip"
                                                   : NULL;
        return 180;
    }
    if (fabs(theta - 270) < 1) {
        *filter = in->sign_c < 0 ? "transpose=clock_flip" : "transpose=cclock";
        return 270;
    }
    if (theta < 1 || theta > 359) {
        *filter = in->sign_d < 0 ? "vflip" : NULL;
        return 0;
    }
    return -1;
}

/* Whether r is a frame rate worth believing: 0.5 to 1000 per second. */
static bool rate_ok(struct transcode_q r)
{
    return r.num > 0 && r.den > 0 && q2d(r) >= 0.5 && q2d(r) <= 1000;
}

/* The output frame rate: the source's nominal one (into *nominal, 0 if
 * none), at most max_fps, NTSC rates kept exact and anything else rounded
 * to a whole number. */
static struct transcode_q pick_rate(const struct transcode_video_facts *in,
                                    int max_fps, double *nominal)
{
    struct transcode_q r = rate_ok(in->avg_rate) ? in->avg_rate
                           : rate_ok(in->base_rate)
                               ? in->base_rate
                               : (struct transcode_q){0, 1};
    double f = q2d(r);
    long n;

    *nominal = f;
    if (r.num == 0 || f > max_fps + 0.01)
        return (struct transcode_q){max_fps, 1};
    if (fabs(f - 30000.0 / 1001) < 0.01)
        return (struct transcode_q){30000, 1001};
    if (fabs(f - 24000.0 / 1001) < 0.01)
        return (struct transcode_q){24000, 1001};
    n = lround(f);
    return (struct transcode_q){n < 1 ? 1 : (int)n, 1};
}

/* x scaled by num/den, rounded down to even, at least 2. */
static int scaled_even(int x, int num, int den)
{
    int64_t v = (int64_t)x * num / den;

    return v < 2 ? 2 : (int)(v & ~(int64_t)1);
}

/* zscale's name for the H.273 transfer t; BT.2020's for any other. */
static const char *zscale_transfer(int t)
{
    switch (t) {
    case TRANSCODE_TRC_PQ:
        return "smpte2084";
    case TRANSCODE_TRC_HLG:
        return "arib-std-b67";
    case TRANSCODE_TRC_BT2020_12:
        return "bt2020-12";
    case TRANSCODE_TRC_BT709:
        return "bt709";
    case TRANSCODE_TRC_SMPTE170M:
        return "smpte170m";
    default:
        return "bt2020-10";
    }
}

/* The colour tags libx264 gets: BT.709 for what was converted to it, else
 * the source's own when they are ordinary, else none. */
static void color_tags(const struct transcode_video_facts *in, bool converted,
                       struct transcode_video_plan *p)
{
    p->primaries = TRANSCODE_PRI_UNSPECIFIED;
    p->transfer = TRANSCODE_TRC_UNSPECIFIED;
    p->matrix = TRANSCODE_SPC_UNSPECIFIED;
    if (converted) {
        p->primaries = TRANSCODE_PRI_BT709;
        p->transfer = TRANSCODE_TRC_BT709;
        p->matrix = TRANSCODE_SPC_BT709;
        return;
    }
    if (in->primaries == TRANSCODE_PRI_BT709 ||
        in->primaries == TRANSCODE_PRI_BT470BG ||
        in->primaries == TRANSCODE_PRI_SMPTE170M)
        p->primaries = in->primaries;
    if (in->transfer == TRANSCODE_TRC_BT709 ||
        in->transfer == TRANSCODE_TRC_SMPTE170M ||
        in->transfer == TRANSCODE_TRC_SRGB)
        p->transfer = in->transfer;
    if (in->matrix == TRANSCODE_SPC_BT709 ||
        in->matrix == TRANSCODE_SPC_BT470BG ||
        in->matrix == TRANSCODE_SPC_SMPTE170M)
        p->matrix = in->matrix;
}

int transcode_plan_video(const struct transcode_video_facts *in,
                         const struct transcode_plan_options *o,
                         struct transcode_video_plan *p)
{
    struct sbuf b = {p->filter, sizeof(p->filter), 0, false};
    bool hdr =
        in->transfer == TRANSCODE_TRC_PQ || in->transfer == TRANSCODE_TRC_HLG;
    bool wide = in->primaries == TRANSCODE_PRI_BT2020;
    const char *turn, *range;
    int rot, dw = in->width, dh = in->height, side, sw, sh, tside;
    double fps;

    memset(p, 0, sizeof(*p));
    rot = orientation(in, &turn);
    if (rot < 0) {
        p->rotation_ignored = true;
        rot = 0;
    }
    p->rotation = rot;
    p->sar = in->sar;
    if (p->sar.num > 0 && p->sar.den > 0 && q2d(p->sar) >= 0.25 &&
        q2d(p->sar) <= 4)
        dw = (int)lrint(dw * q2d(p->sar));
    else
        p->sar = (struct transcode_q){1, 1};
    if (rot == 90 || rot == 270) {
        int t = dw;
        dw = dh;
        dh = t;
    }
    side = dw > dh ? dw : dh;
    if (side > o->max_side) {
        p->width = scaled_even(dw, o->max_side, side);
        p->height = scaled_even(dh, o->max_side, side);
    } else {
        p->width = scaled_even(dw, 1, 1);
        p->height = scaled_even(dh, 1, 1);
    }
    tside = p->width > p->height ? p->width : p->height;
    p->thumb_width = tside > THUMB_SIDE
                         ? scaled_even(p->width, THUMB_SIDE, tside)
                         : p->width;
    p->thumb_height = tside > THUMB_SIDE
                          ? scaled_even(p->height, THUMB_SIDE, tside)
                          : p->height;
    /* The scaler works before the rotation. */
    sw = rot == 90 || rot == 270 ? p->height : p->width;
    sh = rot == 90 || rot == 270 ? p->width : p->height;
    p->rate = pick_rate(in, o->max_fps, &p->nominal_fps);
    p->hdr = hdr;
    range = in->full_range ? "full" : "limited";

    sb_add(&b, "[in]fps=fps=%d/%d", p->rate.num, p->rate.den);
    if (hdr && o->zscale)
        sb_add(&b,
               ",zscale=w=%d:h=%d:tin=%s:pin=%s:min=%s:rin=%s:t=linear:"
               "npl=100,format=gbrpf32le,zscale=p=bt709,"
               "tonemap=tonemap=hable:desat=0,"
               "zscale=t=bt709:m=bt709:r=limited,format=yuv420p",
               sw, sh, zscale_transfer(in->transfer),
               in->primaries == TRANSCODE_PRI_BT709 ? "bt709" : "bt2020",
               in->matrix == TRANSCODE_SPC_BT2020_CL ? "2020_cl"
               : in->matrix == TRANSCODE_SPC_BT709   ? "709"
                                                     : "2020_ncl",
               range);
    else if (wide && o->zscale)
        sb_add(&b,
               ",zscale=w=%d:h=%d:tin=%s:pin=bt2020:min=%s:rin=%s:t=bt709:"
               "p=bt709:m=bt709:r=limited,format=yuv420p",
               sw, sh, zscale_transfer(in->transfer),
               in->matrix == TRANSCODE_SPC_BT2020_CL ? "2020_cl" : "2020_ncl",
               range);
    else
        sb_add(&b,
               ",scale=w=%d:h=%d:flags=bicubic:out_range=tv%s,"
               "format=yuv420p",
               sw, sh, hdr || wide ? ":out_color_matrix=bt709" : "");
    if (turn != NULL)
        sb_add(&b, ",%s", turn);
    if (o->protected_frames)
        sb_add(&b, ",setsar=1[out]");
    else
        sb_add(&b,
               ",setsar=1,split=2[out][t];[t]scale=w=%d:h=%d:flags=bicubic:"
               "out_range=full,format=yuv420p,thumbnail=n=%d[thumb]",
               p->thumb_width, p->thumb_height,
               (int)lrint(fmax(1, q2d(p->rate))));
    p->untoned = (hdr || wide) && !o->zscale;

    /* A keyframe at least every 2 s; a ceiling for busy scenes. */
    fps = q2d(p->rate);
    p->gop = (int)fmax(1, floor(2 * fps));
    p->max_rate = (int64_t)(VIDEO_BPP * p->width * p->height * fps);
    p->buffer_size = (int)(2 * p->max_rate);
    color_tags(in, hdr || wide, p);
    return b.overflow ? -1 : 0;
}

void transcode_plan_voice(double u1, double u2, struct transcode_voice *v)
{
    u1 = fmin(fmax(u1, 0), 1);
    u2 = fmin(fmax(u2, 0), 1);
    v->on = true;
    v->pitch_st = TRANSCODE_VOICE_PITCH_MIN +
                  u1 * (TRANSCODE_VOICE_PITCH_MAX - TRANSCODE_VOICE_PITCH_MIN);
    v->formant_st =
        TRANSCODE_VOICE_FORMANT_MIN +
        u2 * (TRANSCODE_VOICE_FORMANT_MAX - TRANSCODE_VOICE_FORMANT_MIN);
}

/* Appends the voice's stages to b when v asks for them. */
static void add_voice(struct sbuf *b, const struct transcode_voice *v)
{
    if (v == NULL || !v->on)
        return;
    /* Frequency ratios: down by (pitch - formant), then by formant. */
    sb_add(b, VOICE_STAGES, pow(2, -(v->pitch_st - v->formant_st) / 12),
           pow(2, -v->formant_st / 12));
}

int transcode_plan_audio(const struct transcode_loudness *m,
                         const struct transcode_voice *v,
                         struct transcode_audio_plan *p)
{
    struct sbuf b = {p->filter, sizeof(p->filter), 0, false};
    double tp_db, mi, mtp, gain;

    memset(p, 0, sizeof(*p));
    /* ebur128 rounds the true peak to 0.001: round up, and never below
     * the exact sample peak. */
    tp_db = 20 * log10(fmax(fmax(m->true_peak + 0.0005, m->peak), 1e-5));
    p->true_peak_db = tp_db;
    sb_add(&b, "[in]" AUDIO_PREP);
    add_voice(&b, v);
    if (isnan(m->i) || m->i < SILENCE_LUFS) {
        p->mode = "none";
        p->silent = true;
    } else {
        /* A measurement beyond any real clip's is taken at its bound. */
        mi = round(fmin(fmax(m->i, -99), -0.01) * 100) / 100;
        mtp = round(fmin(fmax(tp_db, -99), 98) * 100) / 100;
        gain = TARGET_LUFS - mi;
        /* loudnorm's linear mode is this same gain, but it resamples to
         * 192 kHz and back around it: 1.5 s of CPU for 30 s of sound. */
        p->mode = mtp + gain <= TARGET_TP - 0.5 ? "linear" : "limited";
        sb_add(&b, ",volume=volume=%.2fdB:precision=double", gain);
        if (strcmp(p->mode, "limited") == 0)
            sb_add(&b,
                   ",alimiter=limit=%.4f:attack=5:release=50:level=false:"
                   "latency=true",
                   pow(10, (TARGET_TP - 2) / 20));
    }
    sb_add(&b, "," AUDIO_MEASURE "," AUDIO_FINAL "[out]");
    return b.overflow ? -1 : 0;
}

int transcode_plan_measure(const struct transcode_voice *v, char *out,
                           size_t len)
{
    struct sbuf b = {out, len, 0, false};

    sb_add(&b, "[in]" AUDIO_PREP);
    add_voice(&b, v);
    sb_add(&b, "," AUDIO_MEASURE "[out]");
    return b.overflow ? -1 : 0;
}

/* The value at fraction q (0..1) of the levels, from a histogram of whole
 * decibels between -120 and 0 (no allocation, no sort). */
static double level_quantile(const float *db, size_t n, double q)
{
    size_t bins[121] = {0}, want, seen = 0;

    for (size_t i = 0; i < n; i++) {
        double v = isfinite(db[i]) ? db[i] : -120;
        bins[(int)lrint(fmin(fmax(v, -120), 0)) + 120]++;
    }
    want = (size_t)(q * (double)(n - 1));
    for (int b = 0; b <= 120; b++) {
        seen += bins[b];
        if (seen > want)
            return b - 120;
    }
    return 0;
}

size_t transcode_plan_speech(const float *db, size_t n, double window,
                             struct transcode_speech_span *spans, size_t max)
{
    int hang = (int)ceil(TRANSCODE_SPEECH_HANG_S / window);
    double floor_db, loud, on, off, gap = TRANSCODE_SPEECH_GAP_S;
    size_t count = 0, i = 0;

    if (n == 0 || max == 0 || !(window > 0))
        return 0;
    floor_db = level_quantile(db, n, 0.10);
    loud = level_quantile(db, n, 0.95);
    on = fmax(fmax(floor_db + TRANSCODE_SPEECH_ON_DB,
                   loud - TRANSCODE_SPEECH_RANGE_DB),
              TRANSCODE_SPEECH_FLOOR_DB);
    off = on - TRANSCODE_SPEECH_HYST_DB;
    while (i + 1 < n) {
        size_t first, last;
        int below = 0;

        /* Two windows above "on" start a span... */
        if (!(db[i] >= on && db[i + 1] >= on)) {
            i++;
            continue;
        }
        first = last = i;
        /* ...which lasts while the level stays above "off", or dips
         * under it for less than the hang time. */
        for (; i < n && below <= hang; i++) {
            if (db[i] >= off) {
                last = i;
                below = 0;
            } else {
                below++;
            }
        }
        double start = (double)first * window,
               end = (double)(last + 1) * window;
        if (count > 0 && start - spans[count - 1].end < gap) {
            spans[count - 1].end = end;
        } else if (count < max) {
            spans[count++] = (struct transcode_speech_span){start, end};
        } else if (count < 2) {
            spans[0].end = end;
        } else {
            /* Full: the closest two become one, and the bar rises. */
            size_t k = 0;
            for (size_t j = 1; j + 1 < count; j++)
                if (spans[j + 1].start - spans[j].end <
                    spans[k + 1].start - spans[k].end)
                    k = j;
            gap = fmax(gap, spans[k + 1].start - spans[k].end);
            spans[k].end = spans[k + 1].end;
            memmove(&spans[k + 1], &spans[k + 2],
                    (count - k - 2) * sizeof(spans[0]));
            spans[count - 1] = (struct transcode_speech_span){start, end};
        }
    }
    /* Clicks out; the rest rounded to hundredths. */
    size_t kept = 0;
    for (size_t k = 0; k < count; k++) {
        if (spans[k].end - spans[k].start < TRANSCODE_SPEECH_MIN_S)
            continue;
        spans[kept].start = round(spans[k].start * 100) / 100;
        spans[kept].end = round(spans[k].end * 100) / 100;
        kept++;
    }
    return kept;
}

/* ---- versions ---------------------------------------------------------- */

static const struct {
    const char *name;
    int w, h;
    /* The captions' font and bottom margin, per thousand of the frame's
     * height: a 9:16 frame keeps its lowest fifth for the apps' own
     * buttons and text. */
    int caption_size, caption_bottom;
} formats[TRANSCODE_FORMATS] = {
    [TRANSCODE_FORMAT_9X16] = {"9x16", 1080, 1920, 33, 200},
    [TRANSCODE_FORMAT_1X1] = {"1x1", 1080, 1080, 50, 80},
    [TRANSCODE_FORMAT_4X5] = {"4x5", 1080, 1350, 42, 85},
    [TRANSCODE_FORMAT_16X9] = {"16x9", 1920, 1080, 50, 80},
};

int transcode_format_parse(const char *name)
{
    for (int i = 0; name != NULL && i < TRANSCODE_FORMATS; i++)
        if (strcmp(name, formats[i].name) == 0)
            return i;
    return -1;
}

const char *transcode_format_name(int format)
{
    return format >= 0 && format < TRANSCODE_FORMATS ? formats[format].name
                                                     : NULL;
}

/* x rounded down to even, at least 2. */
static int even(double x)
{
    long v = (long)floor(x);

    v &= ~1L;
    return v < 2 ? 2 : (int)v;
}

void transcode_plan_contain(int w, int h, int max_w, int max_h, int *out_w,
                            int *out_h)
{
    double k = fmin(fmin((double)max_w / w, (double)max_h / h), 1);

    *out_w = even(w * k);
    *out_h = even(h * k);
}

int transcode_plan_version(int w, int h, struct transcode_q rate, int format,
                           struct transcode_version_plan *p)
{
    struct sbuf b = {p->filter, sizeof(p->filter), 0, false};
    int W, H, S, bw, bh, cw, ch;
    double fit, cover, fps;

    memset(p, 0, sizeof(*p));
    if (format < 0 || format >= TRANSCODE_FORMATS || w <= 0 || h <= 0)
        return -1;
    W = p->width = formats[format].w;
    H = p->height = formats[format].h;
    S = W < H ? W : H;
    p->rate = rate.num > 0 && rate.den > 0 ? rate : (struct transcode_q){30, 1};
    fps = q2d(p->rate);
    fit = fmin((double)W / w, (double)H / h);
    cover = fmax((double)W / w, (double)H / h);

    sb_add(&b, "[in]fps=fps=%d/%d,", p->rate.num, p->rate.den);
    if (cover / fit <= 1 + TRANSCODE_FIT_SLACK) {
        /* Nearly the frame's shape: cover it, cropping a sliver. */
        cw = w * cover >= W ? (int)ceil(w * cover) : W;
        ch = h * cover >= H ? (int)ceil(h * cover) : H;
        cw += cw & 1;
        ch += ch & 1;
        p->fit = (struct transcode_rect){0, 0, W, H};
        sb_add(&b,
               "scale=w=%d:h=%d:flags=bicubic,crop=w=%d:h=%d:x=%d:y=%d,"
               "format=yuv420p,setsar=1[out]",
               cw, ch, W, H, (cw - W) / 2 & ~1, (ch - H) / 2 & ~1);
    } else {
        p->fill = true;
        p->fit.w = even(w * fit);
        p->fit.h = even(h * fit);
        p->fit.x = (W - p->fit.w) / 2 & ~1;
        p->fit.y = (H - p->fit.h) / 2 & ~1;
        /* The fill, at an eighth of the frame: cover, crop, blur,
         * darken (and a little less colour), then up to the frame. */
        bw = even(W / 8.0);
        bh = even(H / 8.0);
        cover = fmax((double)bw / w, (double)bh / h);
        cw = (int)ceil(w * cover);
        ch = (int)ceil(h * cover);
        cw = cw < bw ? bw : cw + (cw & 1);
        ch = ch < bh ? bh : ch + (ch & 1);
        sb_add(&b,
               "split=2[bg][fg];[bg]scale=w=%d:h=%d:flags=bilinear,"
               "crop=w=%d:h=%d:x=%d:y=%d,boxblur=luma_radius=%d:"
               "luma_power=2,lutyuv=y=(val-16)*0.55+16:"
               "u=(val-128)*0.8+128:v=(val-128)*0.8+128,"
               "scale=w=%d:h=%d:flags=bilinear[blur];"
               "[fg]scale=w=%d:h=%d:flags=bicubic[clip];"
               "[blur][clip]overlay=x=%d:y=%d,format=yuv420p,setsar=1[out]",
               cw, ch, bw, bh, (cw - bw) / 2 & ~1, (ch - bh) / 2 & ~1,
               (bw < bh ? bw : bh) / 12 > 1 ? (bw < bh ? bw : bh) / 12 : 1, W,
               H, p->fit.w, p->fit.h, p->fit.x, p->fit.y);
    }
    p->gop = (int)fmax(1, floor(2 * fps));
    p->max_rate = (int64_t)(VIDEO_BPP * W * H * fps);
    p->buffer_size = (int)(2 * p->max_rate);

    /* Captions at the bottom; the credit just above two lines of them;
     * the hashtag and the logo at the top, clear of the apps' bars. */
    p->caption_size = H * formats[format].caption_size / 1000;
    if (p->caption_size > S * 6 / 100)
        p->caption_size = S * 6 / 100;
    p->caption_margin_h = W * 8 / 100;
    p->caption_margin_v = H * formats[format].caption_bottom / 1000;
    p->credit_size = p->caption_size * 8 / 10;
    p->credit_margin_h = W * 6 / 100;
    p->credit_margin_v = p->caption_margin_v + p->caption_size * 3;
    p->tag_size = p->caption_size * 7 / 10;
    p->tag_margin_h = W * 6 / 100;
    p->tag_margin_v =
        format == TRANSCODE_FORMAT_9X16 ? H * 7 / 100 : S * 5 / 100;
    p->logo.w = W * 22 / 100;
    p->logo.h = S * 11 / 100;
    p->logo.x = W - p->tag_margin_h - p->logo.w;
    p->logo.y = p->tag_margin_v;
    return b.overflow ? -1 : 0;
}
