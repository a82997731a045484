/*
 * Serving processed clips and thumbnails to logged-in users: single
 * byte ranges (206; 416 for ranges that cannot be met), ETag and
 * If-None-Match / If-Range, Cache-Control: private, and a generated file
 * name ("chorus-2026-04-19-BY-en-3f9a2c.mp4"). Files are sent from their
 * descriptor (sendfile), never read into memory, so size is no limit.
 * Which role may see which clip is message_sight().
 */
#ifndef CHORUS_MEDIA_H
#define CHORUS_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct request;

enum { RANGE_PARTIAL = 0, RANGE_FULL = 1, RANGE_UNSATISFIABLE = -1 };

/*
 * Parses a Range header for a file of size bytes. Returns RANGE_PARTIAL
 * with *start and *len set, RANGE_FULL if the header is absent, malformed
 * or asks for several ranges (the whole file is sent), or
 * RANGE_UNSATISFIABLE (416).
 */
int media_parse_range(const char *header, uint64_t size, uint64_t *start,
                      uint64_t *len);

/*
 * The download name of message id's file: "chorus-DATE-CC-ll-XXXXXX.ext"
 * with date (YYYY-MM-DD of created), country and language (each may be
 * NULL), and "union-only" for a clip its contributor allowed on the
 * union's own channels only. out holds at least 64 bytes.
 */
void media_file_name(const char *id, int64_t created, const char *country,
                     const char *language, bool union_only, const char *ext,
                     char out[64]);
/* The end every name of message id has, whatever its other parts became
 * ("-0a1b2c3d4e5f.mp4"): what finds a withdrawn clip's copies. */
void media_file_suffix(const char *id, const char *ext, char out[32]);

/* GET /media/{id}/{file}: video.mp4 or thumb.jpg. */
int media_get(struct request *req);

#endif
