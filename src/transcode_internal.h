/*
 * What the files of the media module (chorus-media.so) share, and nothing
 * outside it sees. The module's API is chorus/transcode.h.
 *
 *   transcode.c        the pipeline: demux, decode, filter, encode, mux
 *   transcode_io.c     libav I/O over descriptors (a sandboxed job's files)
 *   transcode_input.c  opening the hostile input: whitelists and limits
 *   transcode_plan.c   the output plan, pure (chorus/transcode_plan.h)
 *   transcode_protect.c  identity protection on the frames: faces
 *                      pixelated, or the picture replaced by a card
 *   transcode_sheet.c  a protected clip's contact sheet and thumbnail
 *   transcode_studio.c the studio's versions, from the message's video
 *   faces.cpp, text.c  face detection (chorus/faces.h), text (text.h)
 */
#ifndef CHORUS_TRANSCODE_INTERNAL_H
#define CHORUS_TRANSCODE_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "chorus/transcode.h"
#include "chorus/transcode_plan.h"

/* The encoders' settings, the master's and the versions'. */
#define AUDIO_RATE 48000
#define VIDEO_CRF "23"
#define VIDEO_PRESET "veryfast"

/* The largest side of an input frame, in pixels. */
#define MAX_SIDE_IN 8192
/* Samples at 48 kHz per value of the sound's loudness envelope (the
 * card's waveform): 25 a second. */
#define AUDIO_ENVELOPE_SAMPLES 1920
/* Samples at 48 kHz per value of the level that speech is found in:
 * 20 ms. */
#define SPEECH_WINDOW_SAMPLES 960
/* The spool's tracks. */
#define SPOOL_VIDEO 0
#define SPOOL_AUDIO 1
#define TRANSCODE_SPOOL_TRACKS 2

struct transcode_assets;
struct transcode_protect;
struct transcode_spool;
struct transcode_flush;
struct transcode_sheet;

/*
 * Every libav object of one transcode, and its counters: created by
 * transcode_file, which frees all of it on every path.
 */
struct transcode_job {
    const char *in_path, *out_dir;
    const struct transcode_options *opts;
    struct transcode_result *res;
    bool failed;

    /* The input, main pass. */
    AVIOContext *in_pb;
    AVFormatContext *ic;
    AVStream *vin, *ain; /* ain NULL: no usable audio */
    AVCodecContext *vdec, *adec;
    int64_t start;   /* AV_TIME_BASE; taken off every timestamp */
    double declared; /* seconds, 0 if unknown */
    bool reliable;   /* declared is the file's word, not a guess */
    double limit;    /* seconds: a later timestamp means too long */
    int64_t max_frames_in, max_frames_out, max_packets;

    /* The sound as it is read: measured (loudness, speech), its packets
     * spooled to be decoded again with the gain once the whole clip is
     * measured. */
    AVFilterGraph *m_graph;
    AVFilterContext *m_src, *m_sink;
    struct transcode_loudness before, after;
    float *speech_db; /* level of each SPEECH_WINDOW_SAMPLES, in dBFS */
    size_t speech_len, speech_cap;
    double speech_acc;
    int speech_count;

    /* The video's packets wait in the spool while the sound is measured
     * (a clip with sound only): the muxer interleaves both at the end. */
    struct transcode_spool *spool;
    bool header_written;
    /* At the end, the video encoder drained by a thread of its own while
     * the gain pass makes the sound (flushing: until the thread's packets
     * are spooled); the sound's packets made meanwhile wait in held, in
     * order. */
    struct transcode_flush *flush;
    bool flushing;
    AVPacket **held;
    size_t nheld, held_cap;
    /* no_video: the times of the frames to paint once the sound's
     * envelope is whole, in the encoder's time base. */
    int64_t *card_pts;
    size_t ncards, cards_cap;

    /* The plan. */
    struct transcode_video_plan video;
    struct transcode_voice voice; /* drawn once, for both passes */
    char measure_filter[TRANSCODE_PLAN_FILTER_LEN];
    int src_w, src_h, src_fmt; /* the first frame, what the graph takes */

    /* Filters. */
    AVFilterGraph *vgraph, *agraph;
    AVFilterContext *vsrc, *vsink, *tsink, *asrc, *asink;
    struct SwsContext *resize;

    /* The output. */
    AVFormatContext *oc;
    AVCodecContext *venc, *aenc;
    AVStream *vout, *aout;
    AVBSFContext *bsf;
    char tmp_video[PATH_MAX], tmp_thumb[PATH_MAX], tmp_sheet[PATH_MAX];
    bool have_tmp_video, have_tmp_thumb, have_tmp_sheet;

    /* Protection (NULL when none is asked): the assets (the caller's, or
     * own_assets when it gave none), the frames' protection and the
     * contact sheet, and the sound's loudness envelope from the first
     * pass (no_video's waveform). */
    struct transcode_assets *assets, *own_assets;
    struct transcode_protect *protect;
    struct transcode_sheet *sheet;
    AVFrame *ready; /* a frame protected without waiting */
    float *envelope;
    size_t env_len, env_cap;
    double env_acc;
    int env_count;

    /* Scratch, counters. */
    AVPacket *pkt, *opkt; /* read from the input; made by the encoders */
    AVPacket *spkt;       /* read back from the spool */
    AVFrame *frame, *filt, *fixed, *thumb;
    double thumb_score;
    int64_t next_vpts, next_apts; /* for frames without a timestamp */
    int64_t vsrc_end, asrc_end;   /* where the sources' streams end */
    int64_t packets, frames_in, frames_out, audio_packets, damaged;
    double last_ts, video_end, audio_end; /* seconds */
    int64_t last_progress_ms;
};

/* ---- transcode.c ------------------------------------------------------- */

/* Records the first reason for failing in job->res->error (and logs it);
 * later reasons are dropped. Returns -1. */
int transcode_fail(struct transcode_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Keeps the frames' buffers (a few MiB each) in the heap once freed rather
 * than giving them back to the kernel: above glibc's default threshold
 * each is a fresh mmap that the kernel zeroes page by page (a 10 s 1080p
 * clip's system time: 0.5 to 2.7 s before, 0.35 s after; its user time
 * the same). For the processes that transcode (a job's child, `chorus
 * transcode`); idempotent.
 */
void transcode_tune_malloc(void);

/* Records a warning for the result (and logs it), once per text, at most
 * TRANSCODE_MAX_WARNINGS of them. */
void transcode_warn(struct transcode_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copies src (NULL: "") into dst of len bytes, truncated if need be. */
void transcode_set_str(char *dst, size_t len, const char *src);

/* What a decoded frame is handed to; 0, or -1 with the job failed. */
typedef int (*transcode_frame_fn)(struct transcode_job *job, AVFrame *frame);

/*
 * Sends pkt (NULL: flush) to dec and hands each frame it returns to fn
 * (the frame is unreferenced after). Undecodable data is counted as
 * damage, not an error. Returns 0, or -1 if fn failed or memory ran out.
 */
int transcode_decode(struct transcode_job *job, AVCodecContext *dec,
                     const AVPacket *pkt, transcode_frame_fn fn);

/* The frame's time in seconds from the start, in its stream's time base
 * tb (its pts is rewritten to that); frames without a timestamp continue
 * from *next, which advances by step. */
double transcode_frame_time(struct transcode_job *job, AVFrame *f,
                            AVRational tb, int64_t *next, int64_t step);

/* Makes *graph from desc, between a source "in" (src_name "buffer" or
 * "abuffer" with src_args) and sinks "out" and, if tsink, "thumb".
 * Returns 0, or -1 with the job failed. */
int transcode_build_graph(struct transcode_job *job, AVFilterGraph **graph,
                          const char *src_name, const char *src_args,
                          const char *desc, AVFilterContext **src,
                          AVFilterContext **sink, AVFilterContext **tsink);

/* ---- transcode_io.c ---------------------------------------------------- */

/*
 * An AVIOContext over fd from its start, reading or writing (with pread or
 * pwrite at a position of its own), or NULL if out of memory. The caller
 * frees it with transcode_io_free; fd stays open.
 */
AVIOContext *transcode_io_new(int fd, bool write);

/* Frees what transcode_io_new made (after an avio_flush, for a writer) and
 * clears *pb; NULL is accepted. */
void transcode_io_free(AVIOContext **pb);

/*
 * Gives the muxer oc an output over fd (custom I/O), and lets it read that
 * output back through fd, under its own name only, which faststart does to
 * move the index to the front. Returns 0, or AVERROR(ENOMEM) with oc->pb
 * NULL. Undone by transcode_io_close_writer.
 */
int transcode_io_open_writer(AVFormatContext *oc, int fd);

/* Flushes and frees what transcode_io_open_writer gave oc (oc->pb must be
 * set). Returns 0, or the writer's negative AVERROR. */
int transcode_io_close_writer(AVFormatContext *oc);

/*
 * A spool of packets on a descriptor: fd (read-write, empty), or, when
 * fd < 0, an unnamed file of its own in dir (closed with the spool).
 * Packets are appended to one of TRANSCODE_SPOOL_TRACKS tracks and read
 * back in order per track. Returns 0 with *out set, or a negative
 * AVERROR; transcode_spool_free frees it and clears *sp (NULL accepted).
 */
int transcode_spool_open(struct transcode_spool **out, int fd, const char *dir);
void transcode_spool_free(struct transcode_spool **sp);

/* Appends a copy of pkt (data, side data, times, flags) to track.
 * Returns 0, or a negative AVERROR. */
int transcode_spool_put(struct transcode_spool *s, int track,
                        const AVPacket *pkt);

/* The dts (else pts) of track's next packet into *dts: 1, or 0 when the
 * track has no more. */
int transcode_spool_peek(struct transcode_spool *s, int track, int64_t *dts);

/* Reads track's next packet into pkt (unreferenced first): 1, 0 when the
 * track has no more, or a negative AVERROR. */
int transcode_spool_get(struct transcode_spool *s, int track, AVPacket *pkt);

/* ---- transcode_input.c ------------------------------------------------- */

/*
 * Opens job->in_path (or job->opts->input_fd) for demuxing: file protocol
 * only, the container probed from the bytes and checked against the
 * whitelist, the demuxer barred from opening anything else. *icp and *pbp
 * must be NULL. Returns 0, or -1 with the job failed; either way they hold
 * what was opened (or NULL), which the caller closes with
 * transcode_input_close.
 */
int transcode_input_open(struct transcode_job *job, AVFormatContext **icp,
                         AVIOContext **pbp);

/* Closes what transcode_input_open opened (the demuxer, then its I/O,
 * descriptor or file) and clears both; NULLs are accepted. */
void transcode_input_close(struct transcode_job *job, AVFormatContext **icp,
                           AVIOContext **pbp);

/* Reads the start of ic's streams (bounded by probesize and
 * analyzeduration) with the pixel limit on the decoders it tries. Returns
 * 0, or -1 with the job failed. */
int transcode_input_probe(struct transcode_job *job, AVFormatContext *ic);

/*
 * Opens the main pass's input into job->ic, picks one video stream
 * (job->vin) and at most one usable audio stream (job->ain, else NULL with
 * a warning), discards the others, fills the result's input facts and sets
 * the limits that stop a clip lying about its length. Returns 0, or -1
 * with the job failed for whatever breaks the rules.
 */
int transcode_input_open_main(struct transcode_job *job);

/*
 * Opens a decoder for st (whitelisted, pixel-limited, auto threads) into
 * *decp, which the caller frees even on failure. Returns 0 or a negative
 * AVERROR.
 */
int transcode_input_open_decoder(AVStream *st, AVCodecContext **decp);

/* ---- transcode_protect.c ---------------------------------------------- */

/* Sets up job->protect for the options' blur_faces or no_video (nothing
 * for neither) with job->assets. Returns 0, or -1 with the job failed. */
int transcode_protect_new(struct transcode_job *job);

/* Frees what transcode_protect_new made and clears *p; NULL accepted. */
void transcode_protect_free(struct transcode_protect **p);

/* Adds the measured frame f (48 kHz, packed doubles) to the loudness
 * envelope, when no_video needs it; out of memory fails the job. */
void transcode_protect_envelope(struct transcode_job *job, const AVFrame *f);

/*
 * Takes f's reference (f is writable, yuv420p, the output's size, shown
 * at t seconds) to protect it: a card is painted on it at once; for
 * blur_faces it is looked at for faces and waits until the next half
 * second of frames has been, so that a face found a little later is
 * covered on it too. Returns 0, or -1 with the job failed.
 */
int transcode_protect_take(struct transcode_job *job, AVFrame *f, double t);

/* The next protected frame to encode, in order (the caller frees it), or
 * NULL while none is ready (or with the job failed, if face detection
 * failed); flush, at the end, lets every frame out. It may wait for the
 * face detector's thread to catch up. */
AVFrame *transcode_protect_ready(struct transcode_job *job, bool flush);

/* Whether the frames wait for the whole sound to be measured before they
 * are protected (no_video: the card's waveform shows the sound up to each
 * frame's time, and the sound is measured as the clip is read; its frames
 * are painted afresh at the end, so only their times wait). */
bool transcode_protect_deferred(const struct transcode_job *job);

/* Records in the result what protection did, and whether a moderator
 * should check it. */
void transcode_protect_finish(struct transcode_job *job);

/* ---- transcode_sheet.c ------------------------------------------------- */

/* Sets up job->sheet when any protection is asked (else nothing).
 * Returns 0, or -1 with the job failed. */
int transcode_sheet_new(struct transcode_job *job);

/* Frees what transcode_sheet_new made and clears *s; NULL accepted. */
void transcode_sheet_free(struct transcode_sheet **s);

/* Offers the protected frame f, shown at t seconds, to the sheet and as
 * the thumbnail (job->thumb). Returns 0, or -1 with the job failed. */
int transcode_sheet_add(struct transcode_job *job, const AVFrame *f, double t);

/* Writes the sheet as a JPEG to path, or into fd when fd >= 0, and
 * records its size in the result. Returns 0, or -1 with the job failed
 * (the file may be left: the caller removes it). */
int transcode_sheet_write(struct transcode_job *job, const char *path, int fd);

#endif
