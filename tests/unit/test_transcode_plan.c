/* The output plan, table by table: size and rotation, frame rate, the
 * encoder's GOP and bitrate ceiling, colour and tone mapping, the audio
 * gain. Pure functions: no libav, no clip, no ffmpeg program. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/transcode_plan.h"
#include "test.h"

/* Display matrices as the plan sees them: the clockwise angle and the
 * signs of the entries a, c and d. */
#define NO_MATRIX NAN, 0, 0, 0
#define CW90 90, 0, -1, 0
#define CW180 180, -1, 0, -1
#define CW270 270, 0, 1, 0

/* The end of every video graph: the encoder's branch and the thumbnail's
 * (its size, and the frame rate the thumbnail filter counts in). */
#define TAIL(tw, th, n)                                                        \
    ",setsar=1,split=2[out][t];[t]scale=w=" #tw ":h=" #th                      \
    ":flags=bicubic:out_range=full,format=yuv420p,thumbnail=n=" #n "[thumb]"
#define SWSCALE(w, h)                                                          \
    ",scale=w=" #w ":h=" #h ":flags=bicubic:out_range=tv,format=yuv420p"

/* After zscale's input description: tone mapping to BT.709 SDR, or a
 * plain conversion to BT.709. */
#define TONEMAP                                                                \
    ":t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"                       \
    "tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=limited,"          \
    "format=yuv420p"
#define TO_BT709 ":t=bt709:p=bt709:m=bt709:r=limited,format=yuv420p"

#define AUDIO_HEAD                                                             \
    "[in]aresample=48000,aformat=sample_fmts=dbl:sample_rates=48000:"          \
    "channel_layouts=stereo"
#define AUDIO_TAIL                                                             \
    ",ebur128=peak=true:metadata=1,aformat=sample_fmts=fltp:"                  \
    "sample_rates=48000:channel_layouts=stereo[out]"

/* A plain stream: w x h at 30 fps, square pixels, no matrix, no colour
 * tags. */
static struct transcode_video_facts facts(int w, int h)
{
    struct transcode_video_facts in;

    memset(&in, 0, sizeof(in));
    in.width = w;
    in.height = h;
    in.sar = (struct transcode_q){1, 1};
    in.rotation = NAN;
    in.avg_rate = in.base_rate = (struct transcode_q){30, 1};
    in.primaries = TRANSCODE_PRI_UNSPECIFIED;
    in.transfer = TRANSCODE_TRC_UNSPECIFIED;
    in.matrix = TRANSCODE_SPC_UNSPECIFIED;
    return in;
}

/* Says which case failed, when one of its checks did. */
static void name_case(int failures_before, const char *what)
{
    if (test_failures != failures_before)
        fprintf(stderr, "  in case \"%s\"\n", what);
}

/* Size, pixel aspect and rotation: what, the input, what it becomes. */
static const struct {
    const char *what;
    struct {
        int w, h;             /* coded */
        int sar_num, sar_den; /* 0/1: unknown */
        double deg;           /* the display matrix, see CW90 */
        int a, c, d;
        int max_side;
    } in;
    struct {
        int rotation;
        bool ignored;         /* an angle the plan does not apply */
        int sar_num, sar_den; /* what the graph's source is told */
        int w, h, thumb_w, thumb_h;
        int scale_w, scale_h; /* the scaler's size: before the rotation */
        const char *turn;     /* the rotation's filters, NULL: none */
    } want;
} geometry[] = {
    {"portrait phone, 720p",
     {1920, 1080, 1, 1, CW90, 1280},
     {90, false, 1, 1, 720, 1280, 360, 640, 1280, 720, "transpose=clock"}},
    {"portrait phone, 1080p",
     {1920, 1080, 1, 1, CW90, 1920},
     {90, false, 1, 1, 1080, 1920, 360, 640, 1920, 1080, "transpose=clock"}},
    {"portrait coded upright",
     {1080, 1920, 1, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 720, 1280, 360, 640, 720, 1280, NULL}},
    {"iPhone portrait (270)",
     {1920, 1080, 1, 1, CW270, 1280},
     {270, false, 1, 1, 720, 1280, 360, 640, 1280, 720, "transpose=cclock"}},
    {"upside down",
     {1920, 1080, 1, 1, CW180, 1280},
     {180, false, 1, 1, 1280, 720, 640, 360, 1280, 720, "hflip,vflip"}},
    {"90 mirrored",
     {1920, 1080, 1, 1, 90, 0, 1, 0, 1280},
     {90, false, 1, 1, 720, 1280, 360, 640, 1280, 720,
      "transpose=cclock_flip"}},
    {"270 mirrored",
     {1920, 1080, 1, 1, 270, 0, -1, 0, 1280},
     {270, false, 1, 1, 720, 1280, 360, 640, 1280, 720,
      "transpose=clock_flip"}},
    {"180 mirrored",
     {1920, 1080, 1, 1, 180, -1, 0, 1, 1280},
     {180, false, 1, 1, 1280, 720, 640, 360, 1280, 720, "hflip"}},
    {"upright, flipped",
     {1920, 1080, 1, 1, 0, 1, 0, -1, 1280},
     {0, false, 1, 1, 1280, 720, 640, 360, 1280, 720, "vflip"}},
    {"-90 is 270",
     {1920, 1080, 1, 1, -90, 0, 1, 0, 1280},
     {270, false, 1, 1, 720, 1280, 360, 640, 1280, 720, "transpose=cclock"}},
    {"450 is 90",
     {1920, 1080, 1, 1, 450, 0, -1, 0, 1280},
     {90, false, 1, 1, 720, 1280, 360, 640, 1280, 720, "transpose=clock"}},
    {"89.5 is 90",
     {1920, 1080, 1, 1, 89.5, 0, -1, 0, 1280},
     {90, false, 1, 1, 720, 1280, 360, 640, 1280, 720, "transpose=clock"}},
    {"91.5: ignored",
     {1920, 1080, 1, 1, 91.5, 0, -1, 0, 1280},
     {0, true, 1, 1, 1280, 720, 640, 360, 1280, 720, NULL}},
    {"359.5 is upright",
     {1920, 1080, 1, 1, 359.5, 1, 0, 1, 1280},
     {0, false, 1, 1, 1280, 720, 640, 360, 1280, 720, NULL}},
    {"45 degrees: ignored",
     {1920, 1080, 1, 1, 45, 1, -1, 1, 1280},
     {0, true, 1, 1, 1280, 720, 640, 360, 1280, 720, NULL}},
    {"4K landscape, 1080p",
     {3840, 2160, 1, 1, NO_MATRIX, 1920},
     {0, false, 1, 1, 1920, 1080, 640, 360, 1920, 1080, NULL}},
    {"4K landscape, 720p",
     {3840, 2160, 1, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 1280, 720, 640, 360, 1280, 720, NULL}},
    {"small: never upscaled",
     {640, 360, 1, 1, NO_MATRIX, 1920},
     {0, false, 1, 1, 640, 360, 640, 360, 640, 360, NULL}},
    {"small thumbnail kept",
     {320, 240, 1, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 320, 240, 320, 240, 320, 240, NULL}},
    {"odd, not scaled: even",
     {641, 359, 1, 1, NO_MATRIX, 1920},
     {0, false, 1, 1, 640, 358, 640, 358, 640, 358, NULL}},
    {"odd, scaled: even",
     {1081, 1921, 1, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 720, 1280, 360, 640, 720, 1280, NULL}},
    {"odd under the limit",
     {1279, 719, 1, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 1278, 718, 640, 358, 1278, 718, NULL}},
    {"one pixel: two",
     {1, 1, 1, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 2, 2, 2, 2, 2, 2, NULL}},
    {"a line: at least two",
     {8192, 16, 1, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 1280, 2, 640, 2, 1280, 2, NULL}},
    {"PAL 16:15 pixels",
     {720, 576, 16, 15, NO_MATRIX, 1280},
     {0, false, 16, 15, 768, 576, 640, 480, 768, 576, NULL}},
    {"implausible pixels: square",
     {720, 576, 10, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 720, 576, 640, 512, 720, 576, NULL}},
    {"unknown pixels: square",
     {720, 576, 0, 1, NO_MATRIX, 1280},
     {0, false, 1, 1, 720, 576, 640, 512, 720, 576, NULL}},
    {"wide pixels, turned",
     {960, 1080, 2, 1, CW90, 1280},
     {90, false, 2, 1, 720, 1280, 360, 640, 1280, 720, "transpose=clock"}},
};

static void test_geometry(void)
{
    const struct transcode_plan_options o0 = {1280, 30, true, false};
    struct transcode_video_plan p;

    for (size_t i = 0; i < sizeof(geometry) / sizeof(geometry[0]); i++) {
        struct transcode_video_facts in =
            facts(geometry[i].in.w, geometry[i].in.h);
        struct transcode_plan_options o = o0;
        int before = test_failures;
        char want[96];
        bool turned;

        in.sar = (struct transcode_q){geometry[i].in.sar_num,
                                      geometry[i].in.sar_den};
        in.rotation = geometry[i].in.deg;
        in.sign_a = geometry[i].in.a;
        in.sign_c = geometry[i].in.c;
        in.sign_d = geometry[i].in.d;
        o.max_side = geometry[i].in.max_side;
        CHECK_INT(transcode_plan_video(&in, &o, &p), 0);
        CHECK_INT(p.rotation, geometry[i].want.rotation);
        CHECK_INT(p.rotation_ignored, geometry[i].want.ignored);
        CHECK_INT(p.width, geometry[i].want.w);
        CHECK_INT(p.height, geometry[i].want.h);
        CHECK_INT(p.thumb_width, geometry[i].want.thumb_w);
        CHECK_INT(p.thumb_height, geometry[i].want.thumb_h);
        /* Even, within the limit, never below 2. */
        CHECK(p.width % 2 == 0 && p.height % 2 == 0);
        CHECK(p.width >= 2 && p.height >= 2);
        CHECK(p.width <= o.max_side && p.height <= o.max_side);
        CHECK(p.thumb_width <= 640 && p.thumb_height <= 640);
        snprintf(want, sizeof(want),
                 ",scale=w=%d:h=%d:", geometry[i].want.scale_w,
                 geometry[i].want.scale_h);
        CHECK(strstr(p.filter, want) != NULL);
        turned = strstr(p.filter, "transpose") != NULL ||
                 strstr(p.filter, "flip") != NULL;
        if (geometry[i].want.turn == NULL) {
            CHECK(!turned);
        } else {
            /* Right after the scaler, on the small frame. */
            snprintf(want, sizeof(want), "format=yuv420p,%s,setsar=1",
                     geometry[i].want.turn);
            CHECK(strstr(p.filter, want) != NULL);
        }
        CHECK_INT(p.sar.num, geometry[i].want.sar_num);
        CHECK_INT(p.sar.den, geometry[i].want.sar_den);
        name_case(before, geometry[i].what);
    }

    /* Two graphs in full, as chorus transcode reports them. */
    {
        struct transcode_video_facts in = facts(1920, 1080);

        in.rotation = 90;
        in.sign_c = -1;
        CHECK_INT(transcode_plan_video(&in, &o0, &p), 0);
        CHECK_STR(p.filter,
                  "[in]fps=fps=30/1" SWSCALE(1280, 720) ",transpose=clock" TAIL(
                      360, 640, 30));
        in = facts(3840, 2160);
        in.avg_rate = (struct transcode_q){24, 1};
        CHECK_INT(transcode_plan_video(&in, &o0, &p), 0);
        CHECK_STR(p.filter,
                  "[in]fps=fps=24/1" SWSCALE(1280, 720) TAIL(640, 360, 24));
    }
}

/* The output frame rate. */
static const struct {
    const char *what;
    int avg_num, avg_den, base_num, base_den; /* the stream's rates */
    int max_fps;
    int num, den; /* the output's */
    double nominal;
    int thumb_n; /* the thumbnail filter's batch: one second of frames */
} rates[] = {
    {"60 fps: 30", 60, 1, 60, 1, 30, 30, 1, 60, 30},
    {"59.94 fps: 30", 60000, 1001, 60000, 1001, 30, 30, 1, 59.94, 30},
    {"60 fps where 60 are allowed", 60, 1, 60, 1, 60, 60, 1, 60, 60},
    {"29.97 kept exact", 30000, 1001, 30000, 1001, 30, 30000, 1001, 29.97, 30},
    {"29.98: NTSC's within 0.01", 2998, 100, 30, 1, 30, 30000, 1001, 29.98, 30},
    {"23.97: NTSC film's within 0.01", 2397, 100, 24, 1, 30, 24000, 1001, 23.97,
     24},
    {"29.95: not NTSC's, 30", 599, 20, 599, 20, 30, 30, 1, 29.95, 30},
    {"24 kept", 24, 1, 24, 1, 30, 24, 1, 24, 24},
    {"23.976 kept exact", 24000, 1001, 24000, 1001, 30, 24000, 1001, 23.976,
     24},
    {"25 kept", 25, 1, 25, 1, 30, 25, 1, 25, 25},
    {"15 never raised", 15, 1, 15, 1, 30, 15, 1, 15, 15},
    {"12.5 rounded", 25, 2, 25, 2, 30, 13, 1, 12.5, 13},
    {"30.005 rounded", 30005, 1000, 30005, 1000, 30, 30, 1, 30.005, 30},
    {"0.6 fps: 1", 3, 5, 3, 5, 30, 1, 1, 0.6, 1},
    {"bogus average, believable base", 1, 10, 25, 1, 30, 25, 1, 25, 25},
    {"bogus rates: the limit", 0, 0, 90000, 1, 30, 30, 1, 0, 30},
    {"unknown rates: the limit", 0, 1, 0, 1, 30, 30, 1, 0, 30},
    {"negative rates: the limit", -30, 1, 30, -1, 30, 30, 1, 0, 30},
};

static void test_rates(void)
{
    struct transcode_video_plan p;

    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        struct transcode_video_facts in = facts(1280, 720);
        struct transcode_plan_options o = {1280, rates[i].max_fps, true, false};
        int before = test_failures;
        char want[64];

        in.avg_rate = (struct transcode_q){rates[i].avg_num, rates[i].avg_den};
        in.base_rate =
            (struct transcode_q){rates[i].base_num, rates[i].base_den};
        CHECK_INT(transcode_plan_video(&in, &o, &p), 0);
        CHECK_INT(p.rate.num, rates[i].num);
        CHECK_INT(p.rate.den, rates[i].den);
        CHECK(fabs(p.nominal_fps - rates[i].nominal) < 0.001);
        snprintf(want, sizeof(want), "[in]fps=fps=%d/%d,", rates[i].num,
                 rates[i].den);
        CHECK(strncmp(p.filter, want, strlen(want)) == 0);
        snprintf(want, sizeof(want), "thumbnail=n=%d[thumb]", rates[i].thumb_n);
        CHECK(strstr(p.filter, want) != NULL);
        name_case(before, rates[i].what);
    }
}

/* The encoder's keyframe interval and bitrate ceiling. */
static const struct {
    const char *what;
    int w, h, max_side;
    int num, den; /* the frame rate */
    int gop;
    double bits; /* 0.12 bit per pixel per frame of the output */
} encoders[] = {
    {"720x1280 at 30: about 3.3 Mb/s", 720, 1280, 1280, 30, 1, 60, 3317760},
    {"1080x1920 at 30", 1080, 1920, 1920, 30, 1, 60, 7464960},
    {"720p at 29.97", 1280, 720, 1280, 30000, 1001, 59, 3314445.6},
    {"1080p at 24", 1920, 1080, 1920, 24, 1, 48, 5971968},
    {"720p at 23.976", 1280, 720, 1280, 24000, 1001, 47, 2651556.4},
    {"4K at 60: 1080p at 30", 3840, 2160, 1920, 60, 1, 60, 7464960},
    {"640x360 at 1", 640, 360, 1280, 1, 1, 2, 27648},
};

static void test_encoders(void)
{
    struct transcode_video_plan p;

    for (size_t i = 0; i < sizeof(encoders) / sizeof(encoders[0]); i++) {
        struct transcode_video_facts in = facts(encoders[i].w, encoders[i].h);
        struct transcode_plan_options o = {encoders[i].max_side, 30, true,
                                           false};
        int before = test_failures;
        double fps = (double)encoders[i].num / encoders[i].den;

        in.avg_rate = in.base_rate =
            (struct transcode_q){encoders[i].num, encoders[i].den};
        CHECK_INT(transcode_plan_video(&in, &o, &p), 0);
        CHECK_INT(p.gop, encoders[i].gop);
        /* A keyframe at least every 2 s, and not much more often. */
        CHECK(p.gop >= 1 && p.gop <= 2 * fmin(fps, 30) + 1e-9);
        CHECK(p.gop > 2 * fmin(fps, 30) - 1);
        CHECK(llabs(p.max_rate - llround(encoders[i].bits)) <= 1);
        CHECK_INT(p.buffer_size, 2 * p.max_rate);
        name_case(before, encoders[i].what);
    }
    /* DESIGN.md's figure. */
    {
        struct transcode_video_facts in = facts(720, 1280);
        struct transcode_plan_options o = {1280, 30, true, false};

        CHECK_INT(transcode_plan_video(&in, &o, &p), 0);
        CHECK(p.max_rate > 3250000 && p.max_rate < 3350000);
    }
}

/* Colour: tone mapping for PQ and HLG, gamut conversion for other
 * BT.2020, the tags the encoder writes; 1920x1080 at 25 fps. In H.273's
 * numbers: primaries 1 BT.709, 5 BT.470BG, 6 SMPTE 170M, 9 BT.2020;
 * transfers 1 BT.709, 6 SMPTE 170M, 13 sRGB, 14/15 BT.2020 10/12-bit,
 * 16 PQ, 18 HLG; matrices 1 BT.709, 5 BT.470BG, 6 SMPTE 170M, 9/10
 * BT.2020 non-constant/constant luminance; 2 is unspecified. */
static const struct {
    const char *what;
    int pri, trc, spc;
    bool full, zscale;
    bool hdr, untoned;
    const char *chain; /* the scaler's part of the graph */
    int tag_pri, tag_trc, tag_spc;
} colours[] = {
    {"HDR10 (PQ)", 9, 16, 9, false, true, true, false,
     ",zscale=w=1920:h=1080:tin=smpte2084:pin=bt2020:min=2020_ncl:"
     "rin=limited" TONEMAP,
     1, 1, 1},
    {"HLG", 9, 18, 9, false, true, true, false,
     ",zscale=w=1920:h=1080:tin=arib-std-b67:pin=bt2020:min=2020_ncl:"
     "rin=limited" TONEMAP,
     1, 1, 1},
    {"PQ, constant luminance, full range", 9, 16, 10, true, true, true, false,
     ",zscale=w=1920:h=1080:tin=smpte2084:pin=bt2020:min=2020_cl:"
     "rin=full" TONEMAP,
     1, 1, 1},
    {"PQ in BT.709 colours", 1, 16, 1, false, true, true, false,
     ",zscale=w=1920:h=1080:tin=smpte2084:pin=bt709:min=709:"
     "rin=limited" TONEMAP,
     1, 1, 1},
    {"PQ without zscale", 9, 16, 9, false, false, true, true,
     ",scale=w=1920:h=1080:flags=bicubic:out_range=tv:"
     "out_color_matrix=bt709,format=yuv420p",
     1, 1, 1},
    {"BT.2020 SDR", 9, 14, 9, false, true, false, false,
     ",zscale=w=1920:h=1080:tin=bt2020-10:pin=bt2020:min=2020_ncl:"
     "rin=limited" TO_BT709,
     1, 1, 1},
    {"BT.2020 12-bit SDR", 9, 15, 10, false, true, false, false,
     ",zscale=w=1920:h=1080:tin=bt2020-12:pin=bt2020:min=2020_cl:"
     "rin=limited" TO_BT709,
     1, 1, 1},
    {"BT.2020, transfer untagged", 9, 2, 2, false, true, false, false,
     ",zscale=w=1920:h=1080:tin=bt2020-10:pin=bt2020:min=2020_ncl:"
     "rin=limited" TO_BT709,
     1, 1, 1},
    {"BT.2020 without zscale", 9, 14, 9, false, false, false, true,
     ",scale=w=1920:h=1080:flags=bicubic:out_range=tv:"
     "out_color_matrix=bt709,format=yuv420p",
     1, 1, 1},
    {"BT.709", 1, 1, 1, false, true, false, false, SWSCALE(1920, 1080), 1, 1,
     1},
    {"BT.709, full range", 1, 1, 1, true, true, false, false,
     SWSCALE(1920, 1080), 1, 1, 1},
    {"PAL", 5, 6, 5, false, true, false, false, SWSCALE(1920, 1080), 5, 6, 5},
    {"NTSC", 6, 6, 6, false, true, false, false, SWSCALE(1920, 1080), 6, 6, 6},
    {"sRGB transfer", 1, 13, 1, false, true, false, false, SWSCALE(1920, 1080),
     1, 13, 1},
    {"untagged", 2, 2, 2, false, true, false, false, SWSCALE(1920, 1080), 2, 2,
     2},
    {"unusual tags: none", 4, 4, 7, false, true, false, false,
     SWSCALE(1920, 1080), 2, 2, 2},
};

static void test_colours(void)
{
    struct transcode_video_plan p;
    char want[TRANSCODE_PLAN_FILTER_LEN];

    for (size_t i = 0; i < sizeof(colours) / sizeof(colours[0]); i++) {
        struct transcode_video_facts in = facts(1920, 1080);
        struct transcode_plan_options o = {1920, 30, colours[i].zscale, false};
        int before = test_failures;

        in.avg_rate = in.base_rate = (struct transcode_q){25, 1};
        in.primaries = colours[i].pri;
        in.transfer = colours[i].trc;
        in.matrix = colours[i].spc;
        in.full_range = colours[i].full;
        CHECK_INT(transcode_plan_video(&in, &o, &p), 0);
        CHECK_INT(p.hdr, colours[i].hdr);
        CHECK_INT(p.untoned, colours[i].untoned);
        snprintf(want, sizeof(want), "[in]fps=fps=25/1%s" TAIL(640, 360, 25),
                 colours[i].chain);
        CHECK_STR(p.filter, want);
        CHECK_INT(p.primaries, colours[i].tag_pri);
        CHECK_INT(p.transfer, colours[i].tag_trc);
        CHECK_INT(p.matrix, colours[i].tag_spc);
        name_case(before, colours[i].what);
    }
}

/* The audio gain, from the first pass's measurement. */
static const struct {
    const char *what;
    double i, lra, true_peak, peak; /* LUFS, LU, linear, linear */
    const char *mode;
    const char *gain; /* the graph between the resampler and ebur128 */
    double tp_db;
} audio[] = {
    {"speech at -23 LUFS: linear", -23, 5, 0.1, 0.09, "linear",
     ",volume=volume=7.00dB:precision=double", -19.96},
    {"a wide loudness range", -21.77, 20, 0.1, 0.09, "linear",
     ",volume=volume=5.77dB:precision=double", -19.96},
    {"no loudness range", -23, NAN, 0.1, 0.09, "linear",
     ",volume=volume=7.00dB:precision=double", -19.96},
    {"loud: turned down", -8, 6, 0.9, 0.9, "linear",
     ",volume=volume=-8.00dB:precision=double", -0.91},
    {"beyond any real clip's loudness", 3, 6, 1.5, 1.5, "linear",
     ",volume=volume=-15.99dB:precision=double", 3.52},
    {"quiet: a large gain", -60, 5, 0.001, 0.001, "linear",
     ",volume=volume=44.00dB:precision=double", -56.48},
    {"exactly 0.5 dB of headroom: linear", -20, 5, 0, 0.501187, "linear",
     ",volume=volume=4.00dB:precision=double", -6.00},
    {"0.01 dB less: limited", -20, 5, 0, 0.501766, "limited",
     ",volume=volume=4.00dB:precision=double,alimiter=limit=0.6683:attack=5:"
     "release=50:level=false:latency=true",
     -5.99},
    {"peaky: gain and limiter", -25.2, 20, 0.95, 0.9, "limited",
     ",volume=volume=9.20dB:precision=double,alimiter=limit=0.6683:attack=5:"
     "release=50:level=false:latency=true",
     -0.44},
    {"a sample peak over the true peak", -23, 5, 0.1, 0.5, "limited",
     ",volume=volume=7.00dB:precision=double,alimiter=limit=0.6683:attack=5:"
     "release=50:level=false:latency=true",
     -6.02},
    {"just over the gate", -69.4, 1, 0.0003, 0.0003, "linear",
     ",volume=volume=53.40dB:precision=double", -61.94},
    {"under the gate: left alone", -70, 0, 0.0001, 0.0001, "none", "", -64.44},
    {"silent: left alone", NAN, NAN, 0, 0, "none", "", -66.02},
};

static void test_audio(void)
{
    struct transcode_audio_plan p;
    char want[TRANSCODE_PLAN_FILTER_LEN];

    for (size_t i = 0; i < sizeof(audio) / sizeof(audio[0]); i++) {
        struct transcode_loudness m = {audio[i].i, audio[i].lra,
                                       audio[i].true_peak, audio[i].peak, true};
        int before = test_failures;

        CHECK_INT(transcode_plan_audio(&m, NULL, &p), 0);
        CHECK_STR(p.mode, audio[i].mode);
        CHECK_INT(p.silent, strcmp(audio[i].mode, "none") == 0);
        snprintf(want, sizeof(want), AUDIO_HEAD "%s" AUDIO_TAIL, audio[i].gain);
        CHECK_STR(p.filter, want);
        CHECK(fabs(p.true_peak_db - audio[i].tp_db) < 0.01);
        name_case(before, audio[i].what);
    }
    CHECK_INT(transcode_plan_measure(NULL, want, sizeof(want)), 0);
    CHECK_STR(want, AUDIO_HEAD ",ebur128=peak=true:metadata=1[out]");
}

/* The disguised voice: the amounts within the documented ranges, two
 * rubberband stages whose ratios multiply to the pitch shift and the
 * second of which is the formant shift, in both passes. */
static void test_voice(void)
{
    static const struct {
        double u1, u2, pitch, formant;
    } draws[] = {
        {0, 0, TRANSCODE_VOICE_PITCH_MIN, TRANSCODE_VOICE_FORMANT_MIN},
        {0.5, 0.5, 5.25, 2.5},
        {0.999999, 0.999999, TRANSCODE_VOICE_PITCH_MAX,
         TRANSCODE_VOICE_FORMANT_MAX},
        {-3, 7, TRANSCODE_VOICE_PITCH_MIN, TRANSCODE_VOICE_FORMANT_MAX},
    };
    struct transcode_loudness m = {-23, 5, 0.1, 0.1, true};
    struct transcode_audio_plan p;
    char want[TRANSCODE_PLAN_FILTER_LEN], buf[TRANSCODE_PLAN_FILTER_LEN];
    struct transcode_voice v;
    const char *r1, *r2;

    CHECK(TRANSCODE_VOICE_PITCH_MIN >= 3);
    CHECK(TRANSCODE_VOICE_FORMANT_MAX < TRANSCODE_VOICE_PITCH_MIN);
    for (size_t i = 0; i < sizeof(draws) / sizeof(draws[0]); i++) {
        transcode_plan_voice(draws[i].u1, draws[i].u2, &v);
        CHECK(v.on);
        CHECK(fabs(v.pitch_st - draws[i].pitch) < 1e-4);
        CHECK(fabs(v.formant_st - draws[i].formant) < 1e-4);
    }
    transcode_plan_voice(0.5, 0.5, &v);
    CHECK_INT(transcode_plan_audio(&m, &v, &p), 0);
    CHECK_STR(p.mode, "linear");
    r1 = strstr(p.filter, "rubberband=pitch=");
    CHECK(r1 != NULL);
    if (r1 != NULL) {
        r2 = strstr(r1 + 1, "rubberband=pitch=");
        CHECK(r2 != NULL);
        CHECK(strstr(r1, "formant=preserved") < r2);
        CHECK(r2 != NULL && strstr(r2, "formant=shifted") != NULL);
        /* Stage one: 5.25 - 2.5 semitones down; stage two: 2.5. */
        CHECK(fabs(strtod(r1 + 17, NULL) - pow(2, -2.75 / 12)) < 1e-5);
        CHECK(r2 != NULL &&
              fabs(strtod(r2 + 17, NULL) - pow(2, -2.5 / 12)) < 1e-5);
        /* Before the gain, which is measured on the disguised sound. */
        CHECK(strstr(p.filter, ",volume=") > r2);
    }
    CHECK_INT(transcode_plan_measure(&v, buf, sizeof(buf)), 0);
    snprintf(want, sizeof(want), "%.*s",
             (int)(strstr(p.filter, ",volume=") - p.filter), p.filter);
    CHECK(strncmp(buf, want, strlen(want)) == 0);
    CHECK(strstr(buf, "ebur128") != NULL);
    v.on = false;
    CHECK_INT(transcode_plan_audio(&m, &v, &p), 0);
    CHECK(strstr(p.filter, "rubberband") == NULL);
}

/* A protected clip's graph ends at "out": no thumbnail branch. */
static void test_protected_frames(void)
{
    const struct transcode_video_facts in = {.width = 1920,
                                             .height = 1080,
                                             .rotation = NAN,
                                             .avg_rate = {30, 1},
                                             .base_rate = {30, 1}};
    struct transcode_plan_options o = {1280, 30, true, false};
    struct transcode_video_plan p;

    CHECK_INT(transcode_plan_video(&in, &o, &p), 0);
    CHECK(strstr(p.filter, "[thumb]") != NULL);
    o.protected_frames = true;
    CHECK_INT(transcode_plan_video(&in, &o, &p), 0);
    CHECK(strstr(p.filter, "[thumb]") == NULL);
    CHECK(strstr(p.filter, "split") == NULL);
    CHECK(strcmp(p.filter + strlen(p.filter) - 14, ",setsar=1[out]") == 0);
    CHECK_INT(p.width, 1280);
    CHECK_INT(p.height, 720);
}

/* Fills db[from, to) (in 20 ms windows) with level. */
static void level_run(float *db, double from, double to, float level)
{
    for (long i = lround(from / 0.02); i < lround(to / 0.02); i++)
        db[i] = level;
}

static void test_speech(void)
{
    /* Levels drawn as runs of (start s, end s, dBFS) over a floor. */
    static const struct {
        const char *what;
        double seconds;
        float floor_db;
        struct {
            double from, to;
            float db;
        } runs[6];
        size_t max, want;
        struct transcode_speech_span spans[4];
    } cases[] = {
        {"silence then speech", 6, -120, {{2.0, 5.0, -20}}, 8, 1, {{2.0, 5.0}}},
        {"two phrases a second apart",
         8,
         -70,
         {{1, 3, -18}, {4, 6.5, -22}},
         8,
         2,
         {{1, 3}, {4, 6.5}}},
        {"a short dip is no pause",
         6,
         -70,
         {{1, 2, -20}, {2.2, 4, -20}},
         8,
         1,
         {{1, 4}}},
        {"hysteresis: a fall to just under 'on' keeps going",
         6,
         -60,
         {{1, 2, -20}, {2, 3, -52}, {3, 4, -20}},
         8,
         1,
         {{1, 4}}},
        {"under 'off' for long is a pause",
         6,
         -60,
         {{1, 2, -20}, {2, 3, -57}, {3, 4, -20}},
         8,
         2,
         {{1, 2}, {3, 4}}},
        {"a click is no speech", 4, -90, {{1, 1.06, -10}}, 8, 0, {{0, 0}}},
        {"noise alone is no speech", 4, -30, {{0, 0, 0}}, 8, 0, {{0, 0}}},
        {"speech over noise", 6, -45, {{1, 4, -15}}, 8, 1, {{1, 4}}},
        {"too many: the closest merge",
         10,
         -80,
         {{1, 2, -20}, {2.5, 3, -20}, {5, 6, -20}, {8, 9, -20}},
         3,
         3,
         {{1, 3}, {5, 6}, {8, 9}}},
    };
    static float db[1000];

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct transcode_speech_span out[8];
        size_t n = (size_t)lround(cases[k].seconds / 0.02), got;

        for (size_t i = 0; i < n; i++)
            db[i] = cases[k].floor_db;
        for (int r = 0; r < 6 && cases[k].runs[r].to > 0; r++)
            level_run(db, cases[k].runs[r].from, cases[k].runs[r].to,
                      cases[k].runs[r].db);
        got = transcode_plan_speech(db, n, 0.02, out, cases[k].max);
        if (got != cases[k].want)
            fprintf(stderr, "speech: %s\n", cases[k].what);
        CHECK_INT(got, cases[k].want);
        for (size_t i = 0; i < got && i < cases[k].want; i++) {
            if (fabs(out[i].start - cases[k].spans[i].start) > 0.021 ||
                fabs(out[i].end - cases[k].spans[i].end) > 0.021)
                fprintf(stderr, "speech: %s: span %zu is %.2f-%.2f\n",
                        cases[k].what, i, out[i].start, out[i].end);
            CHECK(fabs(out[i].start - cases[k].spans[i].start) <= 0.021);
            CHECK(fabs(out[i].end - cases[k].spans[i].end) <= 0.021);
        }
    }
    CHECK_INT(transcode_plan_speech(db, 0, 0.02, NULL, 8), 0);
}

/* Versions: the frame's size, whether the fill shows, where the clip
 * goes, the encoder's ceiling, and a layout inside the frame. */
static void test_versions(void)
{
    static const struct {
        const char *what;
        int w, h;
        const char *format;
        int W, H;
        bool fill;
        struct transcode_rect fit;
    } cases[] = {
        {"portrait to 9:16: itself",
         1080,
         1920,
         "9x16",
         1080,
         1920,
         false,
         {0, 0, 1080, 1920}},
        {"720p portrait to 9:16: scaled up",
         720,
         1280,
         "9x16",
         1080,
         1920,
         false,
         {0, 0, 1080, 1920}},
        {"portrait to 1:1",
         1080,
         1920,
         "1x1",
         1080,
         1080,
         true,
         {236, 0, 606, 1080}},
        {"portrait to 16:9",
         1080,
         1920,
         "16x9",
         1920,
         1080,
         true,
         {656, 0, 606, 1080}},
        {"landscape to 9:16",
         1920,
         1080,
         "9x16",
         1080,
         1920,
         true,
         {0, 656, 1080, 606}},
        {"square to 4:5",
         1080,
         1080,
         "4x5",
         1080,
         1350,
         true,
         {0, 134, 1080, 1080}},
        {"4:5 to 4:5",
         1080,
         1350,
         "4x5",
         1080,
         1350,
         false,
         {0, 0, 1080, 1350}},
        {"nearly 9:16: a sliver cropped",
         1080,
         1912,
         "9x16",
         1080,
         1920,
         false,
         {0, 0, 1080, 1920}},
        {"small landscape to 1:1",
         320,
         240,
         "1x1",
         1080,
         1080,
         true,
         {0, 134, 1080, 810}},
    };
    struct transcode_version_plan p;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int before = test_failures;
        int f = transcode_format_parse(cases[i].format);

        CHECK(f >= 0);
        CHECK_STR(transcode_format_name(f), cases[i].format);
        CHECK_INT(transcode_plan_version(cases[i].w, cases[i].h,
                                         (struct transcode_q){30, 1}, f, &p),
                  0);
        CHECK_INT(p.width, cases[i].W);
        CHECK_INT(p.height, cases[i].H);
        CHECK_INT(p.fill, cases[i].fill);
        CHECK_INT(p.fit.x, cases[i].fit.x);
        CHECK_INT(p.fit.y, cases[i].fit.y);
        CHECK_INT(p.fit.w, cases[i].fit.w);
        CHECK_INT(p.fit.h, cases[i].fit.h);
        CHECK(strncmp(p.filter, "[in]fps=fps=30/1,", 17) == 0);
        CHECK(strstr(p.filter, "[out]") != NULL);
        CHECK((strstr(p.filter, "boxblur") != NULL) == cases[i].fill);
        CHECK_INT(p.max_rate, (int64_t)(0.12 * p.width * p.height * 30));
        CHECK_INT(p.buffer_size, 2 * p.max_rate);
        CHECK_INT(p.gop, 60);
        /* Everything drawn is inside the frame, the credit above the
         * captions, the logo beside the hashtag. */
        CHECK(p.caption_size >= 40 && p.caption_size <= 70);
        CHECK(p.caption_margin_v > 0 && p.caption_margin_v < p.height / 4);
        CHECK(p.credit_margin_v >= p.caption_margin_v + 2 * p.caption_size);
        CHECK(p.credit_margin_v + p.credit_size < p.height / 2);
        CHECK(p.logo.x > p.width / 2 && p.logo.x + p.logo.w < p.width);
        CHECK(p.logo.y == p.tag_margin_v && p.logo.y + p.logo.h < p.height / 4);
        name_case(before, cases[i].what);
    }
    /* A 9:16 frame keeps its lowest fifth clear for the apps' buttons. */
    CHECK_INT(transcode_plan_version(1080, 1920, (struct transcode_q){30, 1},
                                     TRANSCODE_FORMAT_9X16, &p),
              0);
    CHECK(p.caption_margin_v >= 1920 / 5);
    CHECK_STR(p.filter, "[in]fps=fps=30/1,scale=w=1080:h=1920:flags=bicubic,"
                        "crop=w=1080:h=1920:x=0:y=0,format=yuv420p,"
                        "setsar=1[out]");
    CHECK_INT(transcode_plan_version(1080, 1920, (struct transcode_q){0, 1},
                                     TRANSCODE_FORMAT_1X1, &p),
              0);
    CHECK_INT(p.rate.num, 30);
    CHECK_STR(p.filter,
              "[in]fps=fps=30/1,split=2[bg][fg];[bg]scale=w=134:h=240:"
              "flags=bilinear,crop=w=134:h=134:x=0:y=52,boxblur=luma_radius="
              "11:luma_power=2,lutyuv=y=(val-16)*0.55+16:u=(val-128)*0.8+128:"
              "v=(val-128)*0.8+128,scale=w=1080:h=1080:flags=bilinear[blur];"
              "[fg]scale=w=606:h=1080:flags=bicubic[clip];[blur][clip]"
              "overlay=x=236:y=0,format=yuv420p,setsar=1[out]");
    CHECK_INT(transcode_plan_version(1080, 1920, (struct transcode_q){30, 1},
                                     TRANSCODE_FORMATS, &p),
              -1);
    CHECK_INT(transcode_format_parse("3x2"), -1);
    CHECK(transcode_format_name(-1) == NULL);
    /* A logo is scaled into its box keeping its shape, never up. */
    {
        int w, h;
        transcode_plan_contain(1000, 500, 237, 118, &w, &h);
        CHECK_INT(w, 236);
        CHECK_INT(h, 118);
        transcode_plan_contain(100, 40, 237, 118, &w, &h);
        CHECK_INT(w, 100);
        CHECK_INT(h, 40);
    }
}

int main(void)
{
    test_speech();
    test_versions();
    test_geometry();
    test_rates();
    test_encoders();
    test_colours();
    test_audio();
    test_voice();
    test_protected_frames();
    return TEST_RESULT();
}
