/*
 * Text onto frames with libass and fonts held in memory (see text.h).
 * The cues become one ASS script, built here from checked numbers and
 * neutralised text, parsed by libass from memory; each frame gets the
 * glyph bitmaps libass renders for its time, blended onto the Y, U and V
 * planes.
 */
#include "text.h"

#include <ass/ass.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

/* The fonts, in the order they are tried; the first must be there. */
static const struct {
    const char *path, *family;
} fonts[] = {
    {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVu Sans"},
    {"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "DejaVu Sans"},
    {"/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "Noto Sans"},
    {"/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf", "Noto Sans"},
};
#define FONT_FAMILY "DejaVu Sans"
/* A font file larger than this is not one of ours. */
#define FONT_MAX (16 * 1024 * 1024)
#define CUES_MAX 4096
#define CUE_TEXT_MAX 4096

struct text_renderer {
    ASS_Library *lib;
    ASS_Renderer *ren;
    ASS_Track *track;
    int w, h;
};

/* A growing string; an allocation failure is sticky. */
struct buf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void buf_add(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_add(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->s != NULL ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/*
 * Appends text to b so that libass draws it as it is: "{" would open an
 * override block and "\" start an escape (\N, \h...), so braces become
 * parentheses and a backslash is followed by a word joiner (U+2060, no
 * width), which no escape begins with. A newline becomes \N.
 */
static void buf_add_text(struct buf *b, const char *text)
{
    size_t n = strnlen(text, CUE_TEXT_MAX);

    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (c == '{')
            buf_add(b, "(");
        else if (c == '}')
            buf_add(b, ")");
        else if (c == '\\')
            buf_add(b, "\\\xe2\x81\xa0");
        else if (c == '\n')
            buf_add(b, "\\N");
        else if ((unsigned char)c < 0x20)
            buf_add(b, " ");
        else
            buf_add(b, "%c", c);
    }
}

/* An ASS time, H:MM:SS.cc. */
static void buf_add_time(struct buf *b, int64_t ms)
{
    int64_t cs = ms < 0 ? 0 : ms / 10;

    if (cs > 9LL * 360000 + 359999)
        cs = 9LL * 360000 + 359999;
    buf_add(b, "%d:%02d:%02d.%02d", (int)(cs / 360000), (int)(cs / 6000 % 60),
            (int)(cs / 100 % 60), (int)(cs % 100));
}

/* 0xRRGGBB as ASS's &HAABBGGRR, opaque. */
static unsigned ass_colour(uint32_t rgb)
{
    return ((rgb & 0xff) << 16) | (rgb & 0xff00) | ((rgb >> 16) & 0xff);
}

/* Reads all of path into a new buffer; 0, or -1 (errno). */
static int read_file(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    size_t got = 0;
    char *p = NULL;
    int rc = -1;

    *data = NULL;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > FONT_MAX) {
        errno = EINVAL;
        goto out;
    }
    if ((p = malloc((size_t)st.st_size)) == NULL)
        goto out;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errno = n == 0 ? EIO : errno;
            goto out;
        }
        got += (size_t)n;
    }
    *data = p;
    *len = got;
    p = NULL;
    rc = 0;
out:
    free(p);
    close(fd);
    return rc;
}

/* libass speaks only of its own troubles: nothing of the text itself. */
static void quiet(int level, const char *fmt, va_list args, void *data)
{
    (void)level;
    (void)fmt;
    (void)args;
    (void)data;
}

int text_open(struct text_renderer **out, char *err, size_t errlen)
{
    struct text_renderer *tr = calloc(1, sizeof(*tr));
    int loaded = 0;

    *out = NULL;
    if (tr == NULL || (tr->lib = ass_library_init()) == NULL) {
        snprintf(err, errlen, "text: out of memory");
        goto fail;
    }
    ass_set_message_cb(tr->lib, quiet, NULL);
    ass_set_extract_fonts(tr->lib, 0);
    for (size_t i = 0; i < sizeof(fonts) / sizeof(fonts[0]); i++) {
        char *data;
        size_t len;
        if (read_file(fonts[i].path, &data, &len) != 0) {
            if (i == 0) {
                snprintf(err, errlen, "text: cannot read %s: %s", fonts[i].path,
                         strerror(errno));
                goto fail;
            }
            continue;
        }
        /* libass keeps its own copy. */
        ass_add_font(tr->lib, fonts[i].family, data, (int)len);
        free(data);
        loaded++;
    }
    if ((tr->ren = ass_renderer_init(tr->lib)) == NULL) {
        snprintf(err, errlen, "text: cannot start libass");
        goto fail;
    }
    /* The memory fonts alone: no fontconfig, no font file by path. */
    ass_set_fonts(tr->ren, NULL, FONT_FAMILY, ASS_FONTPROVIDER_NONE, NULL, 0);
    ass_set_hinting(tr->ren, ASS_HINTING_NONE);
    ass_set_shaper(tr->ren, ASS_SHAPING_COMPLEX);
    *out = tr;
    return loaded > 0 ? 0 : -1;
fail:
    text_close(&tr);
    return -1;
}

void text_close(struct text_renderer **trp)
{
    struct text_renderer *tr = trp != NULL ? *trp : NULL;

    if (tr == NULL)
        return;
    if (tr->track != NULL)
        ass_free_track(tr->track);
    if (tr->ren != NULL)
        ass_renderer_done(tr->ren);
    if (tr->lib != NULL)
        ass_library_done(tr->lib);
    free(tr);
    *trp = NULL;
}

/* Whether a style's numbers are ones a frame can take. */
static bool style_ok(const struct text_style *s, int w, int h)
{
    return s->size >= 4 && s->size <= h && s->outline >= 0 &&
           s->outline <= 64 && s->align >= 1 && s->align <= 9 &&
           s->margin_h >= 0 && s->margin_h < w / 2 && s->margin_v >= 0 &&
           s->margin_v < h && s->rgb <= 0xffffff &&
           s->outline_rgb <= 0xffffff && s->box_rgb <= 0xffffff &&
           s->box_alpha >= 0 && s->box_alpha <= 255;
}

int text_set(struct text_renderer *tr, int w, int h,
             const struct text_cue *cues, size_t n)
{
    struct buf b = {NULL, 0, 0, false};
    int rc = -1;

    if (tr->track != NULL) {
        ass_free_track(tr->track);
        tr->track = NULL;
    }
    if (w < 16 || h < 16 || w > 8192 || h > 8192 || n > CUES_MAX)
        return -1;
    buf_add(&b,
            "[Script Info]\nScriptType: v4.00+\nPlayResX: %d\nPlayResY: "
            "%d\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n"
            "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, "
            "SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
            "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
            "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, "
            "MarginV, Encoding\n",
            w, h);
    /* One style per cue: a cue's look is its own. */
    for (size_t i = 0; i < n; i++) {
        const struct text_style *s = &cues[i].style;
        if (!style_ok(s, w, h))
            goto out;
        /* A box is ASS's "opaque box" border style (3), drawn in the
         * outline's colour with its transparency. */
        bool box = s->box_alpha > 0;
        buf_add(&b,
                "Style: c%zu," FONT_FAMILY ",%d,&H00%06X,&H00%06X,&H%02X%06X,"
                "&H80000000,%d,0,0,0,100,100,0,0,%d,%d,0,%d,%d,%d,%d,1\n",
                i, s->size, ass_colour(s->rgb), ass_colour(s->rgb),
                box ? 255 - s->box_alpha : 0,
                ass_colour(box ? s->box_rgb : s->outline_rgb), s->bold ? -1 : 0,
                box ? 3 : 1, s->outline, (int)s->align, s->margin_h,
                s->margin_h, s->margin_v);
    }
    buf_add(&b, "\n[Events]\nFormat: Layer, Start, End, Style, Name, "
                "MarginL, MarginR, MarginV, Effect, Text\n");
    for (size_t i = 0; i < n; i++) {
        if (cues[i].text == NULL || cues[i].end_ms <= cues[i].start_ms)
            continue;
        buf_add(&b, "Dialogue: 0,");
        buf_add_time(&b, cues[i].start_ms);
        buf_add(&b, ",");
        buf_add_time(&b, cues[i].end_ms);
        buf_add(&b, ",c%zu,,0,0,0,,", i);
        buf_add_text(&b, cues[i].text);
        buf_add(&b, "\n");
    }
    if (b.failed)
        goto out;
    /* No codepage: the text is UTF-8 already, and iconv opens files. */
    tr->track = ass_read_memory(tr->lib, b.s, b.len, NULL);
    if (tr->track == NULL)
        goto out;
    ass_set_frame_size(tr->ren, w, h);
    ass_set_storage_size(tr->ren, w, h);
    tr->w = w;
    tr->h = h;
    rc = 0;
out:
    free(b.s);
    return rc;
}

/* The BT.709 limited-range Y, Cb and Cr of 0xRRGGBB. */
static void to_yuv(uint32_t rgb, int *y, int *u, int *v)
{
    double r = (rgb >> 16 & 0xff) / 255.0, g = (rgb >> 8 & 0xff) / 255.0,
           bl = (rgb & 0xff) / 255.0;
    double luma = 0.2126 * r + 0.7152 * g + 0.0722 * bl;

    *y = (int)(16 + 219 * luma + 0.5);
    *u = (int)(128 + 224 * (bl - luma) / 1.8556 + 0.5);
    *v = (int)(128 + 224 * (r - luma) / 1.5748 + 0.5);
}

/* Blends one libass bitmap onto the planes of f. */
static void blend(const ASS_Image *img, AVFrame *f)
{
    int opacity = 255 - (int)(img->color & 0xff);
    int y, u, v, x0 = img->dst_x, y0 = img->dst_y;
    int cx0, cy0, cx1, cy1;

    to_yuv(img->color >> 8, &y, &u, &v);
    for (int r = 0; r < img->h; r++) {
        int fy = y0 + r;
        if (fy < 0 || fy >= f->height)
            continue;
        uint8_t *row = f->data[0] + (ptrdiff_t)fy * f->linesize[0];
        const uint8_t *a = img->bitmap + (ptrdiff_t)r * img->stride;
        for (int c = 0; c < img->w; c++) {
            int fx = x0 + c, k = a[c] * opacity;
            if (fx < 0 || fx >= f->width || k == 0)
                continue;
            row[fx] = (uint8_t)((row[fx] * (65025 - k) + y * k) / 65025);
        }
    }
    /* Chroma: the mean coverage of each 2x2 block. */
    cx0 = (x0 < 0 ? 0 : x0) / 2;
    cy0 = (y0 < 0 ? 0 : y0) / 2;
    cx1 = (x0 + img->w + 1) / 2;
    cy1 = (y0 + img->h + 1) / 2;
    if (cx1 > (f->width + 1) / 2)
        cx1 = (f->width + 1) / 2;
    if (cy1 > (f->height + 1) / 2)
        cy1 = (f->height + 1) / 2;
    for (int cy = cy0; cy < cy1; cy++) {
        uint8_t *ur = f->data[1] + (ptrdiff_t)cy * f->linesize[1];
        uint8_t *vr = f->data[2] + (ptrdiff_t)cy * f->linesize[2];
        for (int cx = cx0; cx < cx1; cx++) {
            int sum = 0, k;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int r = 2 * cy + dy - y0, c = 2 * cx + dx - x0;
                    if (r >= 0 && r < img->h && c >= 0 && c < img->w)
                        sum += img->bitmap[(ptrdiff_t)r * img->stride + c];
                }
            k = sum / 4 * opacity;
            if (k == 0)
                continue;
            ur[cx] = (uint8_t)((ur[cx] * (65025 - k) + u * k) / 65025);
            vr[cx] = (uint8_t)((vr[cx] * (65025 - k) + v * k) / 65025);
        }
    }
}

int text_draw(struct text_renderer *tr, int64_t t_ms, AVFrame *frame)
{
    int changed = 0;

    if (tr->track == NULL || frame->format != AV_PIX_FMT_YUV420P ||
        frame->width != tr->w || frame->height != tr->h)
        return -1;
    for (ASS_Image *img =
             ass_render_frame(tr->ren, tr->track, (long long)t_ms, &changed);
         img != NULL; img = img->next)
        blend(img, frame);
    return 0;
}
