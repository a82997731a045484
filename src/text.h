/*
 * Text burned into video frames, inside the sandbox: libass shapes and
 * rasterises it (Cyrillic included: the fonts are DejaVu Sans and, when
 * installed, Noto Sans), and the bitmaps are blended onto 8-bit 4:2:0
 * frames here. libavfilter's drawtext and subtitles filters cannot be
 * used there: they open font files when the graph is built, which the
 * sandbox refuses (they fail, or quietly draw nothing).
 *
 * text_open reads the font files into memory and sets libass up with
 * them alone (no fontconfig, no system font provider, no iconv): call it
 * before the sandbox closes. Afterwards nothing opens a file. A renderer
 * holds one set of cues for one frame size at a time (text_set), and
 * draws those showing at a given time onto a frame (text_draw): a card's
 * credit is one cue for the whole clip; captions (issue #19) are a cue
 * each, with their times; a lower third is a cue with its own style.
 *
 * The text of a cue is the contributor's or a moderator's: it is drawn as
 * it is, never read as ASS markup (override blocks and escapes are
 * neutralised). Part of chorus-media.so; not thread-safe (one renderer
 * per job).
 */
#ifndef CHORUS_TEXT_H
#define CHORUS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct AVFrame;
struct text_renderer;

/* Where a cue sits, as a numeric keypad: 1 bottom left, 2 bottom centre,
 * 5 centre, 8 top centre... */
enum text_align {
    TEXT_BOTTOM_LEFT = 1,
    TEXT_BOTTOM = 2,
    TEXT_BOTTOM_RIGHT = 3,
    TEXT_LEFT = 4,
    TEXT_CENTER = 5,
    TEXT_RIGHT = 6,
    TEXT_TOP_LEFT = 7,
    TEXT_TOP = 8,
    TEXT_TOP_RIGHT = 9,
};

/* How a cue looks. Sizes and margins are in pixels of the frame. */
struct text_style {
    int size; /* the font's size (line height about 1.2x) */
    bool bold;
    uint32_t rgb;         /* 0xRRGGBB */
    int outline;          /* 0: none */
    uint32_t outline_rgb; /* 0xRRGGBB */
    enum text_align align;
    int margin_h, margin_v; /* from the frame's edges; lines wrap within */
    /* A box behind each line (captions, a lower third): its colour and
     * opacity, 0 (the default: no box, the outline as above) to 255; the
     * outline is then the box's padding. */
    uint32_t box_rgb;
    int box_alpha;
};

/* One piece of text and when it shows: [start_ms, end_ms). */
struct text_cue {
    const char *text; /* UTF-8; '\n' breaks a line */
    int64_t start_ms, end_ms;
    struct text_style style;
};

/*
 * Reads the fonts into memory and starts libass with them. Returns 0
 * with *out set (free it with text_close), or -1 with a one-line reason
 * in err (no font could be read, out of memory).
 */
int text_open(struct text_renderer **out, char *err, size_t errlen);

/* Frees what text_open made and clears *tr; NULL is accepted. */
void text_close(struct text_renderer **tr);

/*
 * Replaces what tr draws with the n cues (copied: the caller keeps its
 * own), for frames of w x h pixels. Returns 0, or -1 if out of memory or
 * an argument is out of range (what was set before is gone either way).
 */
int text_set(struct text_renderer *tr, int w, int h,
             const struct text_cue *cues, size_t n);

/*
 * Draws the cues that show at t_ms onto frame, which must be writable,
 * 8-bit 4:2:0 (yuv420p, BT.709 limited range), of the size given to
 * text_set. Returns 0, or -1 (wrong format or size, nothing set).
 */
int text_draw(struct text_renderer *tr, int64_t t_ms, struct AVFrame *frame);

#endif
