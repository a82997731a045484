/*
 * The media pipeline: one input file in, out_dir/video.mp4 and
 * out_dir/thumb.jpg out, in-process with libav (demux, decode, filter,
 * encode, mux). It knows nothing of HTTP or SQL.
 *
 * The input is hostile until proven otherwise: the container is chosen by
 * probing its bytes against a whitelist, decoders come from a whitelist,
 * the demuxer may open no other file, frame size, stream count and
 * duration are bounded (the duration also while decoding, so a file that
 * lies about it still stops). A refusal is a return of -1 with a reason a
 * moderator can read, never a crash.
 *
 * The outputs carry nothing of the input's metadata (no location, device,
 * creation time or encoder strings): H.264 High yuv420p at CRF 23 with a
 * bitrate ceiling, constant frame rate <= max_fps, display rotation
 * applied, HDR tone-mapped to BT.709; AAC-LC 48 kHz stereo normalised to
 * about -16 LUFS by one linear gain; MP4 with the index first. The input
 * is read once: the audio is measured as it comes (loudness, and the
 * spans of speech that captions are timed by) and decoded again from
 * spooled packets with the gain; the video is decoded once, and the
 * thumbnail is chosen from the frames the transcode decodes anyway.
 *
 * Identity protection (DESIGN.md "Identity protection") is applied to
 * the frames and the sound that are encoded, so no unprotected copy is
 * made: faces pixelated (blur_faces), the voice disguised (voice), or the
 * picture replaced by a card (no_video). A protected clip also gets a
 * contact sheet, out_dir/sheet.jpg, and its thumbnail is taken from the
 * protected frames. Issue #19's versions and reels are made from
 * video.mp4, so they inherit it; see transcode_protect.c for what they
 * must not add.
 *
 * Meant to run in a forked child that sets rlimits: it uses no global
 * state of its own and frees everything on every path.
 */
#ifndef CHORUS_TRANSCODE_H
#define CHORUS_TRANSCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* What a contributor asked for, as bits (meta.c's "protect" values). */
enum {
    TRANSCODE_PROTECT_BLUR_FACES = 1 << 0, /* "blur_faces" */
    TRANSCODE_PROTECT_VOICE = 1 << 1,      /* "voice" */
    TRANSCODE_PROTECT_NO_VIDEO = 1 << 2,   /* "no_video" */
    TRANSCODE_PROTECT_ALL = (1 << 3) - 1,
};

/*
 * What protection needs from files (OpenCV's cascades, the fonts),
 * loaded into memory by transcode_assets_open: a sandboxed caller does
 * that before its filter closes, since nothing can be opened after.
 */
struct transcode_assets;

struct transcode_options {
    int max_side;       /* longer side of the output, default 1920 (1080p);
                           never upscaled */
    int max_duration_s; /* longer inputs are refused, default 600 */
    int max_fps;        /* default 30; lower source rates are kept */
    /* Fraction of the input done, 0..1, about once a second; may be NULL. */
    void (*progress)(void *opaque, double fraction);
    /* The input's declared duration in seconds (0 if it declares none),
     * once, before decoding starts; may be NULL. */
    void (*duration)(void *opaque, double seconds);
    void *opaque;
    /*
     * For a sandboxed caller that may not open files: the outputs go
     * into these descriptors (opened read-write, empty: the MP4 is read
     * back through video_fd to move its index to the front), fsync'ed
     * but neither renamed nor deleted: the caller does that. -1 (the
     * default): transcode_file creates, renames and cleans up the files
     * itself.
     */
    int video_fd, thumb_fd;
    /* The input, read through this descriptor (from its start, with
     * pread) rather than opened by name; -1 (the default): in_path. */
    int input_fd;
    /* Where the encoded video and the input's audio packets wait while
     * the sound is measured (read-write, empty; the caller removes it):
     * a sandboxed caller opens one (O_TMPFILE) beside the outputs. -1
     * (the default): an unnamed file in out_dir. */
    int spool_fd;

    /* TRANSCODE_PROTECT_* bits; 0 (the default): none. */
    unsigned protect;
    /* no_video's card: the credit the contributor chose to give
     * ("name · organization · country" or less; NULL or "" for none) and
     * the campaign's accent colour, 0xRRGGBB. */
    const char *credit;
    uint32_t card_rgb;
    /* With protect: the contact sheet's descriptor (as video_fd and
     * thumb_fd: empty, given when they are), and the assets loaded
     * before the sandbox (NULL: transcode_file loads them itself). */
    int sheet_fd;
    struct transcode_assets *assets;
};

#define TRANSCODE_MAX_WARNINGS 8
#define TRANSCODE_WARNING_LEN 160
#define TRANSCODE_FILTER_LEN 768
/* Spans of speech kept in the facts (closer ones are merged beyond). */
#define TRANSCODE_MAX_SPANS 256

/* A span of the clip, in seconds from its start: [start, end). */
struct transcode_span {
    double start, end;
};

/* What transcode_file found and made. Strings are "" when unknown. */
struct transcode_result {
    /* The input, as probed. */
    char in_format[48];         /* demuxer, "mov,mp4,m4a,3gp,3g2,mj2" */
    char in_video_codec[32];    /* "h264", "hevc", "vp8"... */
    char in_audio_codec[32];    /* "" if it has no (usable) audio */
    char in_pix_fmt[32];        /* "yuv420p10le"... */
    char in_color_transfer[32]; /* "smpte2084", "arib-std-b67"... */
    int in_width, in_height;    /* coded size, before rotation */
    int in_rotation;            /* degrees clockwise applied: 0/90/180/270 */
    double in_fps;              /* nominal rate */
    int64_t in_duration_ms;     /* declared; 0 if none */
    int64_t in_bytes;
    int in_sample_rate, in_channels;
    bool in_hdr; /* PQ or HLG: tone-mapped */

    /* The outputs. */
    int out_width, out_height;
    int out_fps_num, out_fps_den;
    int64_t out_frames;
    int64_t out_duration_ms;
    int64_t out_bytes; /* video.mp4 */
    int thumb_width, thumb_height;
    int64_t thumb_bytes;
    bool has_audio; /* video.mp4 has an audio stream */

    /* Protection, as applied (protect 0: none of this). */
    unsigned protect;
    int sheet_width, sheet_height, sheet_frames; /* sheet.jpg */
    int64_t sheet_bytes;
    /* blur_faces: detection runs, those that found a face, faces at most
     * in one run, and the times a face was lost for longer than the hold
     * and one found again ("came and went"). */
    int64_t face_runs, face_hits, face_gaps;
    int faces_max;
    /* A moderator should look: no face was ever found, or they came and
     * went (blur_faces only). */
    bool check_protection;
    /* Wall time in seconds spent looking for faces, covering them (or
     * painting the card) and making the sheet and thumbnail. */
    double detect_seconds, cover_seconds, sheet_seconds;

    /* Loudness of the audio (has_audio only), EBU R128: integrated LUFS,
     * loudness range LU, true peak dBTP. */
    double loudness_in, lra_in, true_peak_in;
    double loudness_out, true_peak_out;
    /* "linear" (one linear gain), "limited" (the same gain and a
     * peak limiter) or "none" (silence, left alone). */
    char loudnorm_mode[16];
    /* Where someone speaks (has_audio only; transcode_plan_speech), in
     * order: what the studio times captions by. */
    struct transcode_span speech[TRANSCODE_MAX_SPANS];
    int nspeech;

    double seconds; /* wall-clock time taken */
    /* The filter graphs as run (numbers only; for debugging, benchmarks). */
    char video_filter[TRANSCODE_FILTER_LEN];
    char audio_filter[TRANSCODE_FILTER_LEN];

    /* Things a moderator should know about an output that was made. */
    int nwarnings;
    char warnings[TRANSCODE_MAX_WARNINGS][TRANSCODE_WARNING_LEN];
    /* Why there is no output, when transcode_file returned -1. */
    char error[256];
};

/* Fills o with the defaults: 1920 px, 600 s, 30 fps, no callbacks, no
 * protection, the default card colour. */
void transcode_options_default(struct transcode_options *o);

/*
 * Transcodes in_path (a regular file; its name plays no part) into
 * out_dir/video.mp4 and out_dir/thumb.jpg, each written under a temporary
 * name (video.mp4.tmp, thumb.jpg.tmp), fsync'd and renamed into place
 * (unless o gives descriptors, see above); out_dir must exist. o may be NULL
 * for the defaults. Returns 0 with res filled, or -1 with res->error set
 * and no output left behind (res's other fields say how far it got).
 * Call transcode_result_release on res either way.
 */
int transcode_file(const char *in_path, const char *out_dir,
                   const struct transcode_options *o,
                   struct transcode_result *res);

/* Releases what res holds (nothing on the heap today) and clears it. */
void transcode_result_release(struct transcode_result *res);

/*
 * The facts of a successful transcode as a new JSON object: "input",
 * "output", "has_audio", "loudness", "seconds", "filters", "warnings".
 * Returns NULL if out of memory; the caller owns the reference.
 */
json_t *transcode_result_json(const struct transcode_result *res);

/* Sets how much libav itself logs: errors only, or more when verbose. */
void transcode_log_level(bool verbose);

/*
 * Loads what the protect bits need (OpenCV's cascades for blur_faces, the
 * fonts for no_video) into a new *out (NULL when they need nothing), to
 * give transcode_file in its options. Returns 0, or -1 with a one-line
 * reason in err. transcode_assets_close frees it and clears *a (NULL is
 * accepted).
 */
int transcode_assets_open(unsigned protect, struct transcode_assets **out,
                          char *err, size_t errlen);
void transcode_assets_close(struct transcode_assets **a);

/*
 * The studio's versions (DESIGN.md "Studio", transcode_studio.c): the
 * message's video.mp4 made ready to post, at up to TRANSCODE_MAX_VERSIONS
 * formats from one decode. Each is the clip fitted over a blurred,
 * darkened fill of itself (transcode_plan_version), with burned-in
 * captions, a credit lower third, the campaign's hashtag and logo, as
 * asked; H.264 High yuv420p, the video's own AAC sound (already at the
 * loudness target) copied, MP4 with the index first, no metadata.
 */
#define TRANSCODE_MAX_VERSIONS 4

/* One caption: [start_ms, end_ms), its lines separated by '\n'. */
struct transcode_caption {
    int64_t start_ms, end_ms;
    const char *text;
};

struct transcode_version_request {
    int format; /* 0 9x16, 1 1x1, 2 4x5, 3 16x9 (transcode_plan.h) */
    /* The MP4 goes into this descriptor (read-write, empty), fsync'ed;
     * -1: out_dir/v-<name>.mp4, created. */
    int out_fd;
    const char *name; /* [a-z0-9-], for the file when out_fd < 0 */
    const struct transcode_caption *captions;
    size_t ncaptions;
    const char *credit;  /* the lower third; NULL or "": none */
    const char *hashtag; /* NULL or "": none */
    bool logo;           /* draw the options' logo */
    /* The version's first frame as it is posted (text and logo drawn),
     * a JPEG of at most TRANSCODE_VERSION_THUMB px on its longer side,
     * goes into this descriptor (empty), fsync'ed; -1: into
     * out_dir/v-<name>.jpg when out_fd is -1 too, else none. */
    int thumb_fd;
};
#define TRANSCODE_VERSION_THUMB 640

/* Fonts, one text renderer a version, loaded before the sandbox closes. */
struct transcode_studio_assets;

struct transcode_versions_options {
    /* The message's video: this descriptor (read from its start), or
     * in_path when -1. */
    int input_fd;
    struct transcode_version_request v[TRANSCODE_MAX_VERSIONS];
    int n;
    /* The campaign's logo as PNG bytes (read before the sandbox), or
     * NULL. */
    const unsigned char *logo_png;
    size_t logo_len;
    struct transcode_studio_assets *assets;          /* NULL: loaded here */
    void (*progress)(void *opaque, double fraction); /* may be NULL */
    void *opaque;
};

struct transcode_versions_result {
    int n;
    struct {
        int width, height;
        int64_t frames, bytes;
        char filter[TRANSCODE_FILTER_LEN]; /* its graph (benchmarks) */
    } v[TRANSCODE_MAX_VERSIONS];
    double seconds;
    char error[256];
};

/*
 * Renders o's versions of in_path (or o->input_fd) into their descriptors
 * or into out_dir. Returns 0 with res filled, or -1 with res->error set
 * (outputs it created itself are removed; descriptors are left to the
 * caller).
 */
int transcode_versions(const char *in_path, const char *out_dir,
                       const struct transcode_versions_options *o,
                       struct transcode_versions_result *res);

/* Loads fonts for n versions into *out (free with
 * transcode_studio_assets_close, NULL accepted). Returns 0, or -1 with a
 * reason in err. */
int transcode_studio_assets_open(int n, struct transcode_studio_assets **out,
                                 char *err, size_t errlen);
void transcode_studio_assets_close(struct transcode_studio_assets **a);

/*
 * The pipeline is built as a module, chorus-media.so beside the chorus
 * binary, and loaded only by the processes that transcode (a job's child,
 * `chorus transcode`): the HTTP server never maps FFmpeg's libraries and
 * their hundred dependencies (smaller, and far less code within reach of
 * a request). The module exports its functions in this table.
 */
struct transcode_api {
    void (*options_default)(struct transcode_options *o);
    int (*file)(const char *in_path, const char *out_dir,
                const struct transcode_options *o,
                struct transcode_result *res);
    void (*result_release)(struct transcode_result *res);
    json_t *(*result_json)(const struct transcode_result *res);
    void (*log_level)(bool verbose);
    int (*assets_open)(unsigned protect, struct transcode_assets **out,
                       char *err, size_t errlen);
    void (*assets_close)(struct transcode_assets **a);
    int (*versions)(const char *in_path, const char *out_dir,
                    const struct transcode_versions_options *o,
                    struct transcode_versions_result *res);
    int (*studio_assets_open)(int n, struct transcode_studio_assets **out,
                              char *err, size_t errlen);
    void (*studio_assets_close)(struct transcode_studio_assets **a);
};

/* The table's symbol in the module. */
#define TRANSCODE_API_SYMBOL "chorus_transcode_api"

/*
 * Loads the module from beside the running binary (once per process).
 * Returns its table, or NULL with the reason logged.
 */
const struct transcode_api *transcode_load(void);

#endif
