/*
 * A protected clip's contact sheet (sheet.jpg) and thumbnail, from the
 * frames as they are encoded, protected already: nothing is decoded a
 * second time, and neither image ever shows what the protection covers.
 *
 * The sheet is SHEET_COLS x SHEET_ROWS frames sampled evenly across the
 * clip, each scaled to TILE_SIDE on its longer side: larger than the
 * thumbnail, small enough to take in at a glance. The clip's length is
 * not known for sure until its end (a file may lie about it), so frames
 * are kept at a stride that doubles whenever the slots fill (every
 * frame, then every other one, and so on): between SHEET_TILES and twice
 * that many evenly spaced frames are held at any time, and the sheet
 * takes SHEET_TILES of them, spread evenly.
 *
 * The thumbnail is the best frame (thumb.c's score) among one a second,
 * scaled to the plan's thumbnail size.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#include "chorus/thumb.h"
#include "transcode_internal.h"

#define SHEET_COLS 3
#define SHEET_ROWS 3
#define SHEET_TILES (SHEET_COLS * SHEET_ROWS)
#define SLOTS (2 * SHEET_TILES)
#define TILE_SIDE 400
#define GAP 8 /* pixels between tiles, and around them */

struct transcode_sheet {
    AVFrame *slot[SLOTS];
    int nslots;
    int64_t seen, stride; /* frames offered; keep one in stride */
    int tile_w, tile_h;
    struct SwsContext *to_tile, *to_thumb;
    double next_thumb; /* seconds */
};

/* x scaled by num/den, rounded down to even, at least 2. */
static int even_scaled(int x, int num, int den)
{
    int64_t v = (int64_t)x * num / den;

    return v < 2 ? 2 : (int)(v & ~(int64_t)1);
}

int transcode_sheet_new(struct transcode_job *job)
{
    struct transcode_sheet *s;

    if (job->opts->protect == 0)
        return 0;
    if ((s = job->sheet = calloc(1, sizeof(*s))) == NULL)
        return transcode_fail(job, "out of memory");
    s->stride = 1;
    return 0;
}

void transcode_sheet_free(struct transcode_sheet **sp)
{
    struct transcode_sheet *s = *sp;

    if (s == NULL)
        return;
    for (int i = 0; i < s->nslots; i++)
        av_frame_free(&s->slot[i]);
    sws_freeContext(s->to_tile);
    sws_freeContext(s->to_thumb);
    free(s);
    *sp = NULL;
}

/* A new full-range yuv420p frame of w x h scaled from f with *ctx, or
 * NULL if out of memory. */
static AVFrame *scaled(struct SwsContext **ctx, const AVFrame *f, int w, int h)
{
    AVFrame *out = av_frame_alloc();
    const int *coefs = sws_getCoefficients(SWS_CS_ITU709);

    if (out == NULL)
        return NULL;
    *ctx =
        sws_getCachedContext(*ctx, f->width, f->height, AV_PIX_FMT_YUV420P, w,
                             h, AV_PIX_FMT_YUV420P, SWS_AREA, NULL, NULL, NULL);
    out->width = w;
    out->height = h;
    out->format = AV_PIX_FMT_YUV420P;
    out->color_range = AVCOL_RANGE_JPEG;
    /* Limited range in, full range out: JPEG's. */
    if (*ctx == NULL || av_frame_get_buffer(out, 0) < 0 ||
        sws_setColorspaceDetails(*ctx, coefs, 0, coefs, 1, 0, 1 << 16,
                                 1 << 16) < 0 ||
        sws_scale(*ctx, (const uint8_t *const *)f->data, f->linesize, 0,
                  f->height, out->data, out->linesize) < 0) {
        av_frame_free(&out);
        return NULL;
    }
    return out;
}

/* Keeps every other slot, and takes half as many frames from now on. */
static void thin(struct transcode_sheet *s)
{
    int n = 0;

    for (int i = 0; i < s->nslots; i++) {
        if (i % 2 == 0)
            s->slot[n++] = s->slot[i];
        else
            av_frame_free(&s->slot[i]);
    }
    s->nslots = n;
    s->stride *= 2;
}

/* Takes f (shown at t) as a slot of the sheet when it is on the stride,
 * and as the thumbnail when it beats the best of one a second. */
static int sheet_take(struct transcode_job *job, const AVFrame *f, double t)
{
    struct transcode_sheet *s = job->sheet;
    const struct transcode_video_plan *p = &job->video;
    AVFrame *tile;
    double score;

    if (s->tile_w == 0) {
        int side = f->width > f->height ? f->width : f->height;
        s->tile_w = side > TILE_SIDE ? even_scaled(f->width, TILE_SIDE, side)
                                     : f->width & ~1;
        s->tile_h = side > TILE_SIDE ? even_scaled(f->height, TILE_SIDE, side)
                                     : f->height & ~1;
    }
    if (s->seen++ % s->stride == 0) {
        if (s->nslots == SLOTS)
            thin(s);
        /* After thinning, this frame may be off the new stride. */
        if ((s->seen - 1) % s->stride == 0) {
            if ((tile = scaled(&s->to_tile, f, s->tile_w, s->tile_h)) == NULL)
                return transcode_fail(job, "out of memory for the sheet");
            s->slot[s->nslots++] = tile;
        }
    }
    if (t >= s->next_thumb) {
        s->next_thumb = t + 1;
        if ((tile = scaled(&s->to_thumb, f, p->thumb_width, p->thumb_height)) ==
            NULL)
            return transcode_fail(job, "out of memory for the thumbnail");
        score = thumb_score(tile);
        if (job->thumb->data[0] == NULL || score > job->thumb_score) {
            av_frame_unref(job->thumb);
            av_frame_move_ref(job->thumb, tile);
            job->thumb_score = score;
        }
        av_frame_free(&tile);
    }
    return 0;
}

/* Seconds on the monotonic clock, for the result's timing. */
static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int transcode_sheet_add(struct transcode_job *job, const AVFrame *f, double t)
{
    struct transcode_sheet *s = job->sheet;
    double t0 = seconds_now();
    int rc;

    if (s == NULL)
        return 0;
    rc = sheet_take(job, f, t);
    job->res->sheet_seconds += seconds_now() - t0;
    return rc;
}

/* Copies plane rows of src into dst at (x, y). */
static void blit(AVFrame *dst, const AVFrame *src, int x, int y)
{
    for (int c = 0; c < 3; c++) {
        int sh = c == 0 ? 0 : 1;
        int w = (src->width + sh) >> sh, h = (src->height + sh) >> sh;
        for (int r = 0; r < h; r++)
            memcpy(dst->data[c] +
                       (ptrdiff_t)((y >> sh) + r) * dst->linesize[c] +
                       (x >> sh),
                   src->data[c] + (ptrdiff_t)r * src->linesize[c], (size_t)w);
    }
}

int transcode_sheet_write(struct transcode_job *job, const char *path, int fd)
{
    struct transcode_sheet *s = job->sheet;
    struct transcode_result *res = job->res;
    AVFrame *sheet = NULL;
    char err[256];
    int rc = -1;

    if (s == NULL || s->nslots == 0)
        return transcode_fail(job, "no frame for the contact sheet");
    if ((sheet = av_frame_alloc()) == NULL)
        return transcode_fail(job, "out of memory for the sheet");
    sheet->width = GAP + SHEET_COLS * (s->tile_w + GAP);
    sheet->height = GAP + SHEET_ROWS * (s->tile_h + GAP);
    sheet->format = AV_PIX_FMT_YUV420P;
    sheet->color_range = AVCOL_RANGE_JPEG;
    if (av_frame_get_buffer(sheet, 0) < 0) {
        transcode_fail(job, "out of memory for the sheet");
        goto out;
    }
    /* A dark grey ground. */
    for (int c = 0; c < 3; c++) {
        int h = c == 0 ? sheet->height : (sheet->height + 1) / 2;
        for (int r = 0; r < h; r++)
            memset(sheet->data[c] + (ptrdiff_t)r * sheet->linesize[c],
                   c == 0 ? 40 : 128, (size_t)sheet->linesize[c]);
    }
    for (int i = 0; i < SHEET_TILES; i++) {
        /* Spread evenly over what is held (a short clip may repeat). */
        int k = (int)((2 * i + 1) * (int64_t)s->nslots / (2 * SHEET_TILES));
        blit(sheet, s->slot[k], GAP + i % SHEET_COLS * (s->tile_w + GAP),
             GAP + i / SHEET_COLS * (s->tile_h + GAP));
    }
    if (thumb_write_jpeg(sheet, path, fd, err, sizeof(err)) != 0) {
        transcode_fail(job, "contact sheet: %s", err);
        goto out;
    }
    res->sheet_width = sheet->width;
    res->sheet_height = sheet->height;
    res->sheet_frames = SHEET_TILES < s->nslots ? SHEET_TILES : s->nslots;
    rc = 0;
out:
    av_frame_free(&sheet);
    return rc;
}
