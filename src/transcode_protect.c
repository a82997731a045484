/*
 * Identity protection on the frames that are encoded (DESIGN.md
 * "Identity protection"): faces pixelated for blur_faces, the picture
 * replaced by a card for no_video. (The voice is the audio plan's:
 * transcode_plan_voice.) Everything here works on the graph's output,
 * 8-bit 4:2:0 frames of the final size, in C on the Y, U and V planes.
 *
 * blur_faces. Faces are looked for on a grey copy of the frame scaled to
 * DETECT_SIDE on its longer side (the Y plane alone: no colour needed),
 * every DETECT_EVERY frames, with the frontal cascade, and the profile one
 * (faces.h) on the picture and its mirror image in turn: on every look
 * while no face is seen from the front, on every PROFILE_EVERY-th while
 * one is (the profile cascade is the costly one, and the hold covers the
 * looks between). Each face found becomes or renews a track. Every
 * frame waits LOOKAHEAD_S (half a second of later frames) before it is
 * covered and encoded, so a track covers it from LOOKAHEAD_S before a
 * sighting (a face that appears between two looks, or that the cascades
 * miss for a moment, is covered from its first frame) to HOLD_S after
 * the last, with the box of the sighting nearest in time enlarged by
 * MARGIN of the face's size on every side and by GROWTH more per second
 * away from it (a face that moved meanwhile is still under the cover). The
 * cover is pixelation with blocks of a sixth of the face's width, on a grid
 * fixed to the frame, not to the face: each block is the mean of what it
 * covers, so at most BLOCKS_ACROSS values span a face, too few to recognise
 * anyone by, and a grid that does not move with the face gives a moving face
 * fewer different samplings to combine. A clip in which no face was ever
 * found, or whose faces came and went (lost for longer than the hold,
 * counted from the frame being covered, LOOKAHEAD_S behind the looks: so
 * a gap of over HOLD_S + LOOKAHEAD_S, and found again; missed often
 * between the first find and the last; or found on fewer than half the
 * runs), is flagged for a moderator to look
 * at the contact sheet (check_protection): a blur that misses a face is
 * worse than none, because the contributor trusted it.
 *
 * no_video. Every frame is painted over whole: the campaign's colour, a
 * waveform that moves with the sound, and the credit the contributor
 * chose (text.h). The waveform is drawn from the loudness of the sound,
 * ENVELOPE_RATE values a second measured as the clip is read (after the
 * voice's disguise when both are asked), so the frames are painted once
 * the whole clip is read (transcode_protect_deferred): bars, not the samples
 * themselves, so the picture carries nothing of the voice but how loud
 * it was.
 *
 * For issue #19 (versions, reels, lower thirds): they are made from
 * video.mp4, which is protected already. A no_video card carries the
 * credit the contributor gave and nothing more: a version of such a clip
 * must not add a lower third, a name or any credit beyond that line (see
 * credit.h), and no version may be made from the original upload.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#include "chorus/faces.h"
#include "chorus/log.h"
#include "text.h"
#include "transcode_internal.h"

/* blur_faces; see the top of this file. */
#define DETECT_SIDE 320
#define DETECT_EVERY 2
#define MIN_FACE 20 /* pixels of the grey copy: the cascades' own windows */
#define PROFILE_EVERY 4
#define HOLD_S 1.5
#define MARGIN 0.4
#define GROWTH 0.6
#define BLOCKS_ACROSS 6
#define MAX_TRACKS 32
#define MAX_FOUND 64
/* Seconds a frame waits before it is covered and encoded, so that a face
 * found now is covered in the frames just before too (one that enters
 * unnoticed, or that the cascades missed for a moment). */
#define LOOKAHEAD_S 0.5
#define QUEUE_MAX 64 /* frames: LOOKAHEAD_S at up to 120 fps */
#define LOOKS_MAX 16 /* grey copies waiting for the detector */
#define HISTORY 48   /* sightings a track keeps: > (HOLD + LOOKAHEAD) x 15 */
/* The clip is flagged when more than MISS_SHARE of the detection runs
 * between the first face and the last found nothing, or when faces were
 * found on fewer than HIT_SHARE of all runs (a face seen only now and
 * then: a false find, or a real face the cascades mostly missed). */
#define MISS_SHARE 0.25
#define HIT_SHARE 0.5

/* no_video. */
#define ENVELOPE_RATE 25 /* loudness values a second */
#define WAVE_SECONDS 2   /* of sound shown at once */
#define WAVE_FLOOR_DB (-50.0)

/* Where a face was found, in pixels of the frame, and when (seconds). */
struct sighting {
    double x, y, w, h, t;
};

/* A face being covered: its recent sightings, oldest first. */
struct track {
    struct sighting seen[HISTORY];
    int n;
};

/* A frame waiting for what the next LOOKAHEAD_S of detection finds; look
 * is the number of looks asked for up to and including it. */
struct delayed {
    AVFrame *frame;
    double t;
    int64_t look;
};

/* A grey copy of a frame, for the detector to look at. */
struct look {
    uint8_t *grey;
    double t;
};

/*
 * blur_faces runs its cascades in a thread of its own (the detector),
 * started inside the sandbox, so that the pipeline decodes, filters and
 * encodes meanwhile: the pipeline's thread makes a grey copy of every
 * DETECT_EVERY-th frame and queues it (looks); the detector turns each
 * into sightings on the tracks. A frame is covered once the looks of the
 * next LOOKAHEAD_S are done. The lock guards the looks, the tracks, the
 * counts and the result's detection figures.
 */
struct transcode_protect {
    /* blur_faces */
    struct faces *faces;
    struct SwsContext *to_grey;
    int gw, gh, fw, fh; /* the grey copy's size, the frame's */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t detector;
    bool started, stop, broken;
    struct look looks[LOOKS_MAX]; /* a ring */
    int look_head, nlooks;
    int64_t asked, done; /* looks */
    struct track tracks[MAX_TRACKS];
    int ntracks;
    struct delayed queue[QUEUE_MAX];
    int nqueued;
    int64_t frames, profile_runs;
    int64_t run_first, run_last; /* runs, counted at the first/last hit */
    bool lost;                   /* a track expired since the last face */
    /* no_video */
    struct text_renderer *text;
    bool text_set;
    int cy, cu, cv; /* the card's colour */
};

struct transcode_assets {
    struct faces *faces;
    struct text_renderer *text;
};

int transcode_assets_open(unsigned protect, struct transcode_assets **out,
                          char *err, size_t errlen)
{
    struct transcode_assets *a = NULL;

    *out = NULL;
    if (!(protect &
          (TRANSCODE_PROTECT_BLUR_FACES | TRANSCODE_PROTECT_NO_VIDEO)))
        return 0;
    if ((a = calloc(1, sizeof(*a))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* A card replaces the picture: no face to find. */
    if ((protect & TRANSCODE_PROTECT_NO_VIDEO) &&
        text_open(&a->text, err, errlen) != 0)
        goto fail;
    if ((protect & TRANSCODE_PROTECT_BLUR_FACES) &&
        !(protect & TRANSCODE_PROTECT_NO_VIDEO) &&
        faces_open(&a->faces, NULL, NULL, err, errlen) != 0)
        goto fail;
    *out = a;
    return 0;
fail:
    transcode_assets_close(&a);
    return -1;
}

void transcode_assets_close(struct transcode_assets **ap)
{
    struct transcode_assets *a = ap != NULL ? *ap : NULL;

    if (a == NULL)
        return;
    faces_close(&a->faces);
    text_close(&a->text);
    free(a);
    *ap = NULL;
}

/* The BT.709 limited-range Y, Cb and Cr of 0xRRGGBB. */
static void rgb_to_yuv(uint32_t rgb, int *y, int *u, int *v)
{
    double r = (rgb >> 16 & 0xff) / 255.0, g = (rgb >> 8 & 0xff) / 255.0,
           b = (rgb & 0xff) / 255.0;
    double luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;

    *y = (int)lrint(16 + 219 * luma);
    *u = (int)lrint(128 + 224 * (b - luma) / 1.8556);
    *v = (int)lrint(128 + 224 * (r - luma) / 1.5748);
}

int transcode_protect_new(struct transcode_job *job)
{
    unsigned protect = job->opts->protect;
    struct transcode_protect *p;

    if (!(protect &
          (TRANSCODE_PROTECT_BLUR_FACES | TRANSCODE_PROTECT_NO_VIDEO)))
        return 0;
    if (job->assets == NULL)
        return transcode_fail(job, "internal error: protection without its "
                                   "assets");
    if ((p = job->protect = calloc(1, sizeof(*p))) == NULL)
        return transcode_fail(job, "out of memory");
    if (protect & TRANSCODE_PROTECT_NO_VIDEO) {
        if ((p->text = job->assets->text) == NULL)
            return transcode_fail(job, "internal error: no fonts");
        rgb_to_yuv(job->opts->card_rgb & 0xffffff, &p->cy, &p->cu, &p->cv);
    } else if ((p->faces = job->assets->faces) == NULL) {
        return transcode_fail(job, "internal error: no face cascades");
    }
    p->run_first = -1;
    if (pthread_mutex_init(&p->lock, NULL) != 0 ||
        pthread_cond_init(&p->changed, NULL) != 0)
        return transcode_fail(job, "cannot set up face detection");
    return 0;
}

/* Tells the detector to stop once it has looked at what it was given,
 * and waits for it; nothing if it never started. */
static void stop_detector(struct transcode_protect *p)
{
    if (!p->started)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->detector, NULL);
    p->started = false;
}

void transcode_protect_free(struct transcode_protect **pp)
{
    struct transcode_protect *p = *pp;

    if (p == NULL)
        return;
    stop_detector(p);
    if (p->faces != NULL) {
        pthread_cond_destroy(&p->changed);
        pthread_mutex_destroy(&p->lock);
    }
    for (int i = 0; i < p->nlooks; i++)
        free(p->looks[(p->look_head + i) % LOOKS_MAX].grey);
    sws_freeContext(p->to_grey);
    for (int i = 0; i < p->nqueued; i++)
        av_frame_free(&p->queue[i].frame);
    free(p);
    *pp = NULL;
}

/* Seconds on the monotonic clock, for the stages' timings. */
static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- blur_faces -------------------------------------------------------- */

/* How much of the smaller of a and b their intersection covers, 0..1. */
static double overlap(const struct sighting *a, const struct sighting *b)
{
    double w = fmin(a->x + a->w, b->x + b->w) - fmax(a->x, b->x);
    double h = fmin(a->y + a->h, b->y + b->h) - fmax(a->y, b->y);
    double small = fmin(a->w * a->h, b->w * b->h);

    return w <= 0 || h <= 0 || small <= 0 ? 0 : w * h / small;
}

/* A track's latest sighting. */
static const struct sighting *latest(const struct track *k)
{
    return &k->seen[k->n - 1];
}

/* Adds a sighting to k, dropping its oldest when it is full. */
static void sighted(struct track *k, const struct sighting *face)
{
    if (k->n == HISTORY) {
        memmove(k->seen, k->seen + 1, (HISTORY - 1) * sizeof(k->seen[0]));
        k->n--;
    }
    k->seen[k->n++] = *face;
}

/* Takes a face found: it renews the track whose latest sighting it
 * overlaps, or starts one (in the slot of the longest unseen when all
 * are taken). */
static void take_face(struct transcode_job *job, const struct sighting *face)
{
    struct transcode_protect *p = job->protect;
    int oldest = 0;

    for (int i = 0; i < p->ntracks; i++) {
        if (overlap(latest(&p->tracks[i]), face) > 0.3) {
            sighted(&p->tracks[i], face);
            return;
        }
        if (latest(&p->tracks[i])->t < latest(&p->tracks[oldest])->t)
            oldest = i;
    }
    if (p->lost) {
        /* A track expired (no sighting for HOLD_S before the frame being
         * covered, LOOKAHEAD_S behind this look), and a face again. */
        job->res->face_gaps++;
        p->lost = false;
    }
    if (p->ntracks < MAX_TRACKS)
        oldest = p->ntracks++;
    p->tracks[oldest].n = 0;
    sighted(&p->tracks[oldest], face);
}

/*
 * The detector's work on one look (a grey copy shown at t): the frontal
 * cascade, and the profile one (see the top of this file), without the
 * lock; then, with it, the faces found renew or start tracks. Returns 0,
 * or -1 (a failed detection).
 */
static int detect(struct transcode_job *job, const uint8_t *grey, double t,
                  int64_t look)
{
    struct transcode_protect *p = job->protect;
    struct transcode_result *res = job->res;
    struct faces_box found[MAX_FOUND];
    double t0 = seconds_now();
    int n;

    n = faces_detect(p->faces, grey, p->gw, p->gh, p->gw, MIN_FACE,
                     FACES_RUN_FRONTAL, found, MAX_FOUND);
    /* The profile cascade costs one and a half times the frontal one, a
     * side: one side a look while no face is seen from the front, and
     * one side every PROFILE_EVERY looks while one is. */
    if (n >= 0 && (n == 0 || look % PROFILE_EVERY == 0)) {
        int m = faces_detect(p->faces, grey, p->gw, p->gh, p->gw, MIN_FACE,
                             p->profile_runs++ % 2 ? FACES_RUN_MIRRORED
                                                   : FACES_RUN_PROFILE,
                             found + (n < MAX_FOUND ? n : MAX_FOUND),
                             n < MAX_FOUND ? MAX_FOUND - n : 0);
        n = m < 0 ? -1 : n + m;
    }
    if (n < 0)
        return -1;
    if (n > MAX_FOUND)
        n = MAX_FOUND;
    pthread_mutex_lock(&p->lock);
    res->detect_seconds += seconds_now() - t0;
    res->face_runs++;
    if (n > 0) {
        res->face_hits++;
        if (p->run_first < 0)
            p->run_first = res->face_runs;
        p->run_last = res->face_runs;
    }
    if (n > res->faces_max)
        res->faces_max = n;
    for (int i = 0; i < n; i++) {
        struct sighting face = {found[i].x * (double)p->fw / p->gw,
                                found[i].y * (double)p->fh / p->gh,
                                found[i].w * (double)p->fw / p->gw,
                                found[i].h * (double)p->fh / p->gh, t};
        take_face(job, &face);
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* The detector thread: looks at every queued grey copy, in order, until
 * told to stop; a failure stops it and is reported as broken. */
static void *detector(void *opaque)
{
    struct transcode_job *job = opaque;
    struct transcode_protect *p = job->protect;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct look l;
        int64_t look;
        int rc;

        while (!p->stop && p->nlooks == 0)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->nlooks == 0)
            break;
        l = p->looks[p->look_head];
        look = p->done;
        pthread_mutex_unlock(&p->lock);
        rc = detect(job, l.grey, l.t, look);
        free(l.grey);
        pthread_mutex_lock(&p->lock);
        p->look_head = (p->look_head + 1) % LOOKS_MAX;
        p->nlooks--;
        p->done++;
        if (rc != 0)
            p->broken = true;
        pthread_cond_broadcast(&p->changed);
        if (p->broken)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Queues a grey copy of f (shown at t) for the detector, starting it the
 * first time; waits while the detector is LOOKS_MAX looks behind. Returns
 * 0, or -1 with the job failed. */
static int ask_look(struct transcode_job *job, const AVFrame *f, double t)
{
    struct transcode_protect *p = job->protect;
    int side = f->width > f->height ? f->width : f->height;
    double scale = side > DETECT_SIDE ? (double)DETECT_SIDE / side : 1;
    const uint8_t *src[1] = {f->data[0]};
    int src_stride[1] = {f->linesize[0]};
    uint8_t *grey;
    bool broken;

    if (p->gw == 0) {
        p->gw = (int)lrint(f->width * scale);
        p->gh = (int)lrint(f->height * scale);
        p->fw = f->width;
        p->fh = f->height;
        if (p->gw < 1 || p->gh < 1)
            return transcode_fail(job, "the frame is too small to look at");
    }
    /* The Y plane is the picture in grey already. */
    p->to_grey = sws_getCachedContext(
        p->to_grey, f->width, f->height, AV_PIX_FMT_GRAY8, p->gw, p->gh,
        AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
    if (p->to_grey == NULL ||
        (grey = malloc((size_t)p->gw * (size_t)p->gh)) == NULL)
        return transcode_fail(job, "out of memory for face detection");
    sws_scale(p->to_grey, src, src_stride, 0, f->height,
              (uint8_t *const[]){grey}, (const int[]){p->gw});
    if (!p->started) {
        /* A thread of the sandboxed process: started after the filter,
         * so under it. */
        if (pthread_create(&p->detector, NULL, detector, job) != 0) {
            free(grey);
            return transcode_fail(job, "cannot start face detection");
        }
        p->started = true;
    }
    pthread_mutex_lock(&p->lock);
    while (p->nlooks == LOOKS_MAX && !p->broken)
        pthread_cond_wait(&p->changed, &p->lock);
    broken = p->broken;
    if (!broken) {
        p->looks[(p->look_head + p->nlooks++) % LOOKS_MAX] =
            (struct look){grey, t};
        p->asked++;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    if (broken) {
        free(grey);
        return transcode_fail(job, "face detection failed");
    }
    return 0;
}

/*
 * Replaces the rectangle [x0, x1) x [y0, y1) of plane (w x h) by the
 * means of the blocks of a grid of side b aligned to the plane's origin.
 */
static void pixelate(uint8_t *plane, ptrdiff_t stride, int w, int h, int x0,
                     int y0, int x1, int y1, int b)
{
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > w ? w : x1;
    y1 = y1 > h ? h : y1;
    for (int by = y0 / b * b; by < y1; by += b) {
        int ya = by < y0 ? y0 : by, yb = by + b > y1 ? y1 : by + b;
        for (int bx = x0 / b * b; bx < x1; bx += b) {
            int xa = bx < x0 ? x0 : bx, xb = bx + b > x1 ? x1 : bx + b;
            unsigned sum = 0, n = (unsigned)((xb - xa) * (yb - ya));
            uint8_t mean;

            if (n == 0)
                continue;
            for (int y = ya; y < yb; y++)
                for (int x = xa; x < xb; x++)
                    sum += plane[(ptrdiff_t)y * stride + x];
            mean = (uint8_t)((sum + n / 2) / n);
            for (int y = ya; y < yb; y++)
                memset(plane + (ptrdiff_t)y * stride + xa, mean,
                       (size_t)(xb - xa));
        }
    }
}

/*
 * Covers track on f, shown at t: with the box of its sighting nearest in
 * time, from up to HOLD_S before t to LOOKAHEAD_S after, enlarged the
 * more the further that sighting is from t. Nothing if none is.
 */
static void cover(AVFrame *f, const struct track *track, double t)
{
    const struct sighting *k = NULL;
    double age = 0, m, side;
    int x0, x1, y0, y1, b;

    for (int i = 0; i < track->n; i++) {
        const struct sighting *s = &track->seen[i];
        double d = fabs(s->t - t);
        if (s->t < t - HOLD_S || s->t > t + LOOKAHEAD_S + 1e-6)
            continue;
        if (k == NULL || d < age) {
            k = s;
            age = d;
        }
    }
    if (k == NULL)
        return;
    m = MARGIN + GROWTH * age;
    side = fmax(k->w, k->h);
    x0 = (int)floor(k->x - m * side);
    x1 = (int)ceil(k->x + k->w + m * side);
    y0 = (int)floor(k->y - m * side);
    y1 = (int)ceil(k->y + k->h + m * side);
    /* Even, so that the chroma grid is the luma one halved. */
    b = 2 * (int)ceil(k->w / BLOCKS_ACROSS / 2);

    if (b < 8)
        b = 8;
    x0 &= ~1;
    y0 &= ~1;
    pixelate(f->data[0], f->linesize[0], f->width, f->height, x0, y0, x1, y1,
             b);
    for (int c = 1; c <= 2; c++)
        pixelate(f->data[c], f->linesize[c], (f->width + 1) / 2,
                 (f->height + 1) / 2, x0 / 2, y0 / 2, (x1 + 1) / 2,
                 (y1 + 1) / 2, b / 2);
}

/* Looks for faces in f (shown at t) when it is its turn, then queues f
 * (taking its reference) until LOOKAHEAD_S of later frames have been
 * looked at. */
static int blur_take(struct transcode_job *job, AVFrame *f, double t)
{
    struct transcode_protect *p = job->protect;

    if (p->nqueued == QUEUE_MAX)
        return transcode_fail(job, "internal error: the blur's queue is full");
    if (p->frames++ % DETECT_EVERY == 0 && ask_look(job, f, t) != 0)
        return -1;
    if ((p->queue[p->nqueued].frame = av_frame_alloc()) == NULL)
        return transcode_fail(job, "out of memory");
    av_frame_move_ref(p->queue[p->nqueued].frame, f);
    p->queue[p->nqueued].t = t;
    p->queue[p->nqueued++].look = p->asked;
    return 0;
}

/*
 * The oldest queued frame, covered, once LOOKAHEAD_S of frames came after
 * it (or at the end, flush, or when the queue is full) and the detector
 * has looked at them (waiting for it if need be), else NULL; *failed is
 * set when the detector broke. Tracks that can cover no frame any more
 * go.
 */
static AVFrame *blur_ready(struct transcode_job *job, bool flush, bool *failed)
{
    struct transcode_protect *p = job->protect;
    double t0, t;
    int64_t need = 0;
    AVFrame *f;

    if (p->nqueued == 0 ||
        (!flush && p->queue[p->nqueued - 1].t - p->queue[0].t < LOOKAHEAD_S &&
         p->nqueued < QUEUE_MAX))
        return NULL;
    f = p->queue[0].frame;
    t = p->queue[0].t;
    /* The looks up to LOOKAHEAD_S after it must be done. */
    for (int i = 0; i < p->nqueued && p->queue[i].t <= t + LOOKAHEAD_S; i++)
        need = p->queue[i].look;
    pthread_mutex_lock(&p->lock);
    while (p->done < need && !p->broken)
        pthread_cond_wait(&p->changed, &p->lock);
    if (p->broken) {
        pthread_mutex_unlock(&p->lock);
        *failed = true;
        return NULL;
    }
    t0 = seconds_now();
    p->nqueued--;
    memmove(p->queue, p->queue + 1, (size_t)p->nqueued * sizeof(p->queue[0]));
    for (int i = 0; i < p->ntracks;) {
        if (latest(&p->tracks[i])->t < t - HOLD_S) {
            p->tracks[i] = p->tracks[--p->ntracks];
            p->lost = true;
            continue;
        }
        cover(f, &p->tracks[i], t);
        i++;
    }
    job->res->cover_seconds += seconds_now() - t0;
    pthread_mutex_unlock(&p->lock);
    return f;
}

/* ---- no_video ---------------------------------------------------------- */

void transcode_protect_envelope(struct transcode_job *job, const AVFrame *f)
{
    const int per = AUDIO_ENVELOPE_SAMPLES;
    int ch = f->ch_layout.nb_channels;
    const double *s = (const double *)f->data[0];

    if (!(job->opts->protect & TRANSCODE_PROTECT_NO_VIDEO) ||
        f->format != AV_SAMPLE_FMT_DBL || ch < 1 || job->failed)
        return;
    for (int i = 0; i < f->nb_samples; i++) {
        double x = 0;
        for (int c = 0; c < ch; c++)
            x += s[i * ch + c] * s[i * ch + c];
        job->env_acc += x / ch;
        if (++job->env_count < per)
            continue;
        if (job->env_len == job->env_cap) {
            size_t cap = job->env_cap ? 2 * job->env_cap : 1024;
            float *e = realloc(job->envelope, cap * sizeof(*e));
            if (e == NULL) {
                transcode_fail(job, "out of memory");
                return;
            }
            job->envelope = e;
            job->env_cap = cap;
        }
        job->envelope[job->env_len++] = (float)sqrt(job->env_acc / per);
        job->env_acc = 0;
        job->env_count = 0;
    }
}

_Static_assert(AUDIO_ENVELOPE_SAMPLES *ENVELOPE_RATE == 48000,
               "the envelope is measured at 48 kHz");

/* Fills [x0, x1) x [y0, y1) of f with the colour (y, u, v). */
static void fill(AVFrame *f, int x0, int y0, int x1, int y1, int y, int u,
                 int v)
{
    x0 = x0 < 0 ? 0 : x0 & ~1;
    y0 = y0 < 0 ? 0 : y0 & ~1;
    x1 = x1 > f->width ? f->width : x1;
    y1 = y1 > f->height ? f->height : y1;
    if (x1 <= x0 || y1 <= y0)
        return;
    for (int r = y0; r < y1; r++)
        memset(f->data[0] + (ptrdiff_t)r * f->linesize[0] + x0, y,
               (size_t)(x1 - x0));
    for (int r = y0 / 2; r < (y1 + 1) / 2; r++) {
        memset(f->data[1] + (ptrdiff_t)r * f->linesize[1] + x0 / 2, u,
               (size_t)((x1 + 1) / 2 - x0 / 2));
        memset(f->data[2] + (ptrdiff_t)r * f->linesize[2] + x0 / 2, v,
               (size_t)((x1 + 1) / 2 - x0 / 2));
    }
}

/* The loudness at envelope index i, 0..1 on a dB scale. */
static double level(const struct transcode_job *job, long i)
{
    double rms, db;

    if (i < 0 || (size_t)i >= job->env_len)
        return 0;
    rms = job->envelope[i];
    db = rms > 0 ? 20 * log10(rms) : WAVE_FLOOR_DB;
    return fmin(fmax((db - WAVE_FLOOR_DB) / -WAVE_FLOOR_DB, 0), 1);
}

/* Sets the card's credit for frames like f, once. */
static int card_text(struct transcode_job *job, const AVFrame *f)
{
    struct transcode_protect *p = job->protect;
    const char *credit = job->opts->credit;
    int size = f->height / 24 > 12 ? f->height / 24 : 12;
    struct text_cue cue = {credit,
                           0,
                           INT64_MAX / 2,
                           {size, true, 0xffffff, size / 16 > 1 ? size / 16 : 1,
                            0x000000, TEXT_BOTTOM, f->width / 12, f->height / 8,
                            0, 0}};

    p->text_set = true;
    if (credit == NULL || credit[0] == '\0')
        return text_set(p->text, f->width, f->height, NULL, 0);
    if (size > f->width / 8)
        cue.style.size = f->width / 8 > 4 ? f->width / 8 : 4;
    return text_set(p->text, f->width, f->height, &cue, 1);
}

static int paint_card(struct transcode_job *job, AVFrame *f, double t)
{
    struct transcode_protect *p = job->protect;
    const int bars = ENVELOPE_RATE * WAVE_SECONDS;
    long now = (long)floor(t * ENVELOPE_RATE);
    int span = f->width * 4 / 5, left = (f->width - span) / 2;
    int mid = f->height * 2 / 5, tall = f->height / 4, wy, wu, wv;
    double pitch = (double)span / bars;

    if (!p->text_set && card_text(job, f) != 0)
        return transcode_fail(job, "cannot set up the card's text");
    fill(f, 0, 0, f->width, f->height, p->cy, p->cu, p->cv);
    /* Light bars: most of the way from the card's colour to white. */
    wy = p->cy + (235 - p->cy) * 17 / 20;
    wu = p->cu + (128 - p->cu) * 17 / 20;
    wv = p->cv + (128 - p->cv) * 17 / 20;
    for (int i = 0; i < bars; i++) {
        /* The newest sound at the right. */
        double l = level(job, now - (bars - 1 - i));
        int half = (int)fmax(2, l * tall / 2);
        int x0 = left + (int)lrint(i * pitch);
        int x1 = x0 + (int)fmax(2, pitch * 0.6);
        fill(f, x0, mid - half, x1, mid + half, wy, wu, wv);
    }
    if (text_draw(p->text, llrint(t * 1000), f) != 0)
        return transcode_fail(job, "cannot draw the card's text");
    return 0;
}

/* ---- both -------------------------------------------------------------- */

int transcode_protect_take(struct transcode_job *job, AVFrame *f, double t)
{
    struct transcode_protect *p = job->protect;
    double t0;
    int rc;

    if (f->format != AV_PIX_FMT_YUV420P)
        return transcode_fail(job, "internal error: protection needs "
                                   "yuv420p frames");
    if (p != NULL && p->faces != NULL)
        return blur_take(job, f, t);
    /* Nothing to wait for: painted (or left as it is), and ready. */
    if (p != NULL) {
        t0 = seconds_now();
        rc = paint_card(job, f, t);
        job->res->cover_seconds += seconds_now() - t0;
        if (rc != 0)
            return -1;
    }
    if (job->ready == NULL && (job->ready = av_frame_alloc()) == NULL)
        return transcode_fail(job, "out of memory");
    av_frame_unref(job->ready);
    av_frame_move_ref(job->ready, f);
    return 0;
}

bool transcode_protect_deferred(const struct transcode_job *job)
{
    return job->protect != NULL && job->protect->faces == NULL;
}

AVFrame *transcode_protect_ready(struct transcode_job *job, bool flush)
{
    AVFrame *f;
    bool failed = false;

    if (job->protect != NULL && job->protect->faces != NULL) {
        f = blur_ready(job, flush, &failed);
        if (failed)
            transcode_fail(job, "face detection failed");
        return f;
    }
    if (job->ready == NULL || job->ready->data[0] == NULL)
        return NULL;
    f = job->ready;
    job->ready = NULL;
    return f;
}

void transcode_protect_finish(struct transcode_job *job)
{
    struct transcode_protect *p = job->protect;
    struct transcode_result *res = job->res;
    int64_t span, misses;

    res->protect = job->opts->protect;
    if (p == NULL || p->faces == NULL)
        return;
    /* Every look was done before the last frame went; the figures are
     * the detector's until it has ended. */
    stop_detector(p);
    span = p->run_first < 0 ? 0 : p->run_last - p->run_first + 1;
    misses = span - res->face_hits;
    res->check_protection = res->face_hits == 0 || res->face_gaps > 0 ||
                            (span > 0 && misses > MISS_SHARE * (double)span) ||
                            res->face_hits < HIT_SHARE * (double)res->face_runs;
    if (res->face_hits == 0)
        transcode_warn(job, "blur_faces: no face was found: check the "
                            "contact sheet");
    else if (res->check_protection &&
             res->face_hits < HIT_SHARE * (double)res->face_runs)
        transcode_warn(job,
                       "blur_faces: faces were found on only %lld of "
                       "%lld looks: check the contact sheet",
                       (long long)res->face_hits, (long long)res->face_runs);
    else if (res->check_protection)
        transcode_warn(job, "blur_faces: faces came and went: check the "
                            "contact sheet");
}
