/*
 * The media pipeline's output plan, as pure functions: the facts of the
 * input and the limits go in, the filter graphs and the encoders' settings
 * come out, as strings and numbers. Nothing here reads a file, allocates or
 * knows libav's structs; the pipeline (transcode.c) reads the facts from
 * the demuxer and runs what the plan says. Part of chorus-media.so, and
 * not of its API (transcode.h): only the module and its unit test use it.
 *
 * Video, in graph order: fps first (frames to be dropped cost nothing
 * more), then the scaler (zscale with tone mapping for PQ/HLG, a gamut
 * conversion for other BT.2020, swscale otherwise) straight to 8-bit 4:2:0
 * limited range, then the display rotation on the small frame, then a
 * split: one branch to the encoder, the other scaled to <= 640 px before
 * the thumbnail filter picks one frame a second. The output is never
 * upscaled, its sides are even, its longer side at most max_side, its rate
 * constant and at most max_fps.
 *
 * A protected clip's frames are changed after the graph (faces
 * pixelated, or the picture replaced by a card), so its graph has no
 * thumbnail branch: the pipeline takes the thumbnail from the changed
 * frames.
 *
 * Audio: one linear gain to -16 LUFS from the measurement of the whole
 * clip (see transcode_plan_audio), then ebur128 measures the result. A
 * disguised voice (transcode_plan_voice) is shifted as it is measured and
 * again with the gain, so
 * the gain is measured on the sound that is encoded.
 */
#ifndef CHORUS_TRANSCODE_PLAN_H
#define CHORUS_TRANSCODE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The size of a planned filter graph, with its NUL. */
#define TRANSCODE_PLAN_FILTER_LEN 768

/* A rational number, as libav's AVRational; {0, 1} when unknown. */
struct transcode_q {
    int num, den;
};

/*
 * Colour code points of ITU-T H.273, the numbers libavutil's AVCOL_PRI_*,
 * AVCOL_TRC_* and AVCOL_SPC_* use; only those the plan tells apart (any
 * other number is just "other").
 */
enum {
    TRANSCODE_PRI_BT709 = 1,
    TRANSCODE_PRI_UNSPECIFIED = 2,
    TRANSCODE_PRI_BT470BG = 5,
    TRANSCODE_PRI_SMPTE170M = 6,
    TRANSCODE_PRI_BT2020 = 9,
};
enum {
    TRANSCODE_TRC_BT709 = 1,
    TRANSCODE_TRC_UNSPECIFIED = 2,
    TRANSCODE_TRC_SMPTE170M = 6,
    TRANSCODE_TRC_SRGB = 13, /* IEC 61966-2-1 */
    TRANSCODE_TRC_BT2020_10 = 14,
    TRANSCODE_TRC_BT2020_12 = 15,
    TRANSCODE_TRC_PQ = 16,  /* SMPTE ST 2084 */
    TRANSCODE_TRC_HLG = 18, /* ARIB STD-B67 */
};
enum {
    TRANSCODE_SPC_BT709 = 1,
    TRANSCODE_SPC_UNSPECIFIED = 2,
    TRANSCODE_SPC_BT470BG = 5,
    TRANSCODE_SPC_SMPTE170M = 6,
    TRANSCODE_SPC_BT2020_NCL = 9,
    TRANSCODE_SPC_BT2020_CL = 10,
};

/* What the plan needs to know of the input's video stream. */
struct transcode_video_facts {
    int width, height;      /* coded size, > 0 */
    struct transcode_q sar; /* sample aspect ratio; {0, 1} unknown */
    /*
     * The display matrix (FFmpeg's, row-major a b u / c d v / x y w): the
     * angle it turns the picture clockwise, in degrees, any value (NAN: no
     * matrix, or a degenerate one), and the signs (-1, 0, 1) of a, c and d,
     * which tell a mirrored picture. Plain clockwise turns have a = d = 0
     * and c < 0 for 90, a < 0 and d < 0 for 180, a = d = 0 and c > 0 for
     * 270.
     */
    double rotation;
    int sign_a, sign_c, sign_d;
    /* The stream's average and base frame rates; {0, 1} unknown. */
    struct transcode_q avg_rate, base_rate;
    /* TRANSCODE_PRI_*, TRANSCODE_TRC_*, TRANSCODE_SPC_* (H.273). */
    int primaries, transfer, matrix;
    bool full_range; /* JPEG range: 0-255 */
};

/* The limits and the filters at hand. */
struct transcode_plan_options {
    int max_side; /* longer side of the output, >= 2 */
    int max_fps;  /* >= 1 */
    bool zscale;  /* the zscale and tonemap filters exist */
    /* The frames are changed after the graph: no thumbnail branch, the
     * graph's only sink is "out". */
    bool protected_frames;
};

/* What the video becomes. */
struct transcode_video_plan {
    int rotation;           /* clockwise degrees applied: 0/90/180/270 */
    bool rotation_ignored;  /* the matrix turns by another angle: none */
    struct transcode_q sar; /* the input's as the graph takes it, or 1:1 */
    int width, height;      /* the output: even, at least 2 */
    int thumb_width, thumb_height; /* the thumbnail branch: <= 640 */
    double nominal_fps;            /* the input's, 0 unknown */
    struct transcode_q rate;       /* the output's constant frame rate */
    bool hdr;                      /* PQ or HLG: tone-mapped */
    /* HDR or wide gamut converted without zscale: colours may look
     * washed out. */
    bool untoned;
    /* The H.264 encoder's: frames between keyframes (2 s); the bitrate
     * ceiling in bit/s (0.12 bit per pixel per frame) and its buffer in
     * bits (twice that); colour tags, H.273, UNSPECIFIED for none. */
    int gop;
    int64_t max_rate;
    int buffer_size;
    int primaries, transfer, matrix;
    /* The graph, between a source "in" and sinks "out" and "thumb" (only
     * "out" with protected_frames). */
    char filter[TRANSCODE_PLAN_FILTER_LEN];
};

/*
 * Plans the video for the input in and the limits o into *p. Returns 0, or
 * -1 if the graph did not fit in p->filter (which then holds as much as
 * fitted; the other fields are set either way).
 */
int transcode_plan_video(const struct transcode_video_facts *in,
                         const struct transcode_plan_options *o,
                         struct transcode_video_plan *p);

/* A loudness measurement, from ebur128's frame metadata. */
struct transcode_loudness {
    double i, lra;    /* LUFS, LU; NAN until measured */
    double true_peak; /* linear, from ebur128 (rounded to 0.001) */
    double peak;      /* linear sample peak, exact */
    bool got;         /* any audio came through */
};

/* What the audio becomes. */
struct transcode_audio_plan {
    /* "linear" (one linear gain), "limited" (the same gain and a
     * peak limiter) or "none" (silence, left alone); a static string. */
    const char *mode;
    bool silent;         /* mode "none" */
    double true_peak_db; /* the input's true peak in dBTP, as planned on */
    /* The graph, between a source "in" and a sink "out". */
    char filter[TRANSCODE_PLAN_FILTER_LEN];
};

/*
 * The disguised voice ("voice"): the pitch is lowered by pitch_st
 * semitones and the formants (the resonances of the throat and mouth
 * that make a voice recognisable as much as its pitch does) by
 * formant_st, with libavfilter's rubberband filter in two stages: the
 * first moves the pitch alone by pitch_st - formant_st (formants
 * preserved), the second moves both by formant_st (formants shifted).
 * Because pitch and formants move by different amounts, no single pitch
 * shift undoes it: shifting the pitch back leaves the formants off (or
 * the other way round), and the amounts are drawn for each clip within
 * the ranges below and kept nowhere. DESIGN.md asks for at least three
 * semitones.
 */
#define TRANSCODE_VOICE_PITCH_MIN 4.5 /* semitones down */
#define TRANSCODE_VOICE_PITCH_MAX 6.0
#define TRANSCODE_VOICE_FORMANT_MIN 2.0 /* semitones down */
#define TRANSCODE_VOICE_FORMANT_MAX 3.0

struct transcode_voice {
    bool on;
    double pitch_st, formant_st; /* > 0: semitones down */
};

/* The amounts for two uniform numbers u1, u2 in [0, 1) (a caller's
 * random draw) into *v, in the ranges above. */
void transcode_plan_voice(double u1, double u2, struct transcode_voice *v);

/*
 * Plans the gain pass's audio from the measurement m of the whole clip
 * into *p, with the voice disguised as v says (NULL, or v->on false: not).
 * The gain to -16 LUFS is a plain linear one (volume; what loudnorm's
 * linear mode does, without its resampling to 192 kHz and back): alone
 * when the true peak stays 0.5 dB under the -1.5 dBTP target after it
 * (room for the AAC encoder's overshoot), otherwise followed by a
 * lookahead limiter at -3.5 dBFS. (loudnorm's own fallback, its dynamic mode,
 * needs 3 s to settle: on a 2 s clip it left the level at +0 LUFS with +16 dBTP
 * peaks.) Silence is left alone. Returns 0, or -1 if the graph did not fit in
 * p->filter.
 */
int transcode_plan_audio(const struct transcode_loudness *m,
                         const struct transcode_voice *v,
                         struct transcode_audio_plan *p);

/* The measuring graph, "in" to "out", into out (len bytes): the stereo
 * 48 kHz signal that is measured (disguised as v says, as with the gain),
 * into ebur128. Returns 0, or -1 if it did not fit. */
int transcode_plan_measure(const struct transcode_voice *v, char *out,
                           size_t len);

/*
 * The studio's versions (DESIGN.md "Studio"): the message's video made
 * ready to post at one of TRANSCODE_FORMATS sizes. The clip is fitted
 * whole into the frame, over a blurred, darkened fill of itself (no black
 * bars): the fill is the clip scaled to cover the frame at an eighth of
 * its size, blurred, darkened and scaled up again, which costs a tenth of
 * blurring at full size and looks the same. A clip whose shape is within
 * TRANSCODE_FIT_SLACK of the frame's is scaled to cover it instead (a
 * sliver cropped, no fill). The plan also places what is drawn on the
 * frames afterwards (transcode_studio.c, with text.h): the captions
 * (bottom, above what the apps' own buttons cover on a 9:16 frame), the
 * credit's lower third just above them, the hashtag top left and the
 * logo top right. Every size is in pixels of the version.
 */
enum transcode_format {
    TRANSCODE_FORMAT_9X16,
    TRANSCODE_FORMAT_1X1,
    TRANSCODE_FORMAT_4X5,
    TRANSCODE_FORMAT_16X9,
    TRANSCODE_FORMATS
};
#define TRANSCODE_FIT_SLACK 0.02

/* "9x16", "1x1", "4x5", "16x9" as the format, or -1. */
int transcode_format_parse(const char *name);
/* The format's name ("9x16"...), or NULL out of range. */
const char *transcode_format_name(int format);

/* A rectangle of the frame. */
struct transcode_rect {
    int x, y, w, h;
};

struct transcode_version_plan {
    int width, height;         /* 1080x1920, 1080x1080, 1080x1350, 1920x1080 */
    struct transcode_rect fit; /* where the clip is, whole */
    bool fill;                 /* the blurred fill shows around it */
    struct transcode_q rate;
    /* The encoder's, as transcode_plan_video's. */
    int gop;
    int64_t max_rate;
    int buffer_size;
    /* Text: sizes of the font, margins from the frame's edges (text.h's
     * style); the captions' lines are centred, the credit's and the
     * hashtag's start at the left margin. */
    int caption_size, caption_margin_h, caption_margin_v;
    int credit_size, credit_margin_h, credit_margin_v;
    int tag_size, tag_margin_h, tag_margin_v;
    /* The logo: scaled to fit logo (its top right corner is the frame's
     * less the margins), never up. */
    struct transcode_rect logo;
    /* The graph, between a source "in" and a sink "out". */
    char filter[TRANSCODE_PLAN_FILTER_LEN];
};

/*
 * Plans a version in format of a w x h clip (the message's video, > 0)
 * at frame rate rate ({0, 1}: 30) into *p. Returns 0, or -1 for a format
 * out of range or a graph that did not fit in p->filter.
 */
int transcode_plan_version(int w, int h, struct transcode_q rate, int format,
                           struct transcode_version_plan *p);

/* The size, at most max_w x max_h and never larger than w x h itself, of
 * a w x h image scaled keeping its shape; even numbers, at least 2. */
void transcode_plan_contain(int w, int h, int max_w, int max_h, int *out_w,
                            int *out_h);

/* A span of speech, in seconds from the start: [start, end). */
struct transcode_speech_span {
    double start, end;
};

/*
 * Finds the spans of speech in the sound's level, n values in dBFS of
 * window seconds each (transcode.c measures 20 ms windows while it reads
 * the clip), into spans (at most max of them, in order; closer spans are
 * merged until they fit). Energy with hysteresis: a span starts where the
 * level rises TRANSCODE_SPEECH_ON_DB above the clip's noise floor (its
 * 10th percentile, but at least the quiet end of speech's range below its
 * loud 95th percentile) for two windows, and ends once it stayed
 * TRANSCODE_SPEECH_HYST_DB under that for TRANSCODE_SPEECH_HANG_S; spans
 * closer than TRANSCODE_SPEECH_GAP_S are one, and shorter than
 * TRANSCODE_SPEECH_MIN_S are none (a click). Returns how many spans;
 * none for silence or a level that never stands out (constant noise or
 * music).
 */
#define TRANSCODE_SPEECH_ON_DB 10.0
#define TRANSCODE_SPEECH_HYST_DB 4.0
#define TRANSCODE_SPEECH_RANGE_DB 35.0
#define TRANSCODE_SPEECH_FLOOR_DB (-55.0)
#define TRANSCODE_SPEECH_HANG_S 0.25
#define TRANSCODE_SPEECH_GAP_S 0.3
#define TRANSCODE_SPEECH_MIN_S 0.12
size_t transcode_plan_speech(const float *db, size_t n, double window,
                             struct transcode_speech_span *spans, size_t max);

#endif
