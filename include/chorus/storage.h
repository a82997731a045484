/*
 * The data directory's files. Every path is built here, from a message id
 * checked with util_is_id() and nothing else: no client text ever
 * becomes part of a path.
 *
 *   uploads/<id>.part   an upload in progress (tus or multipart)
 *   incoming/<id>       a finished upload waiting for the worker
 *   originals/<id>      kept after processing with --keep-originals
 *   media/<id>/         video.mp4 and thumb.jpg, the processed outputs,
 *                       sheet.jpg, a protected clip's contact sheet, and
 *                       v-<name>.mp4, the studio's versions (studio.h),
 *                       and v-<name>.jpg, each version's first frame
 *   campaigns/<n>/      a campaign's files (its logo), by campaign id
 *
 * Files are created 0600 and directories 0700.
 */
#ifndef CHORUS_STORAGE_H
#define CHORUS_STORAGE_H

#include <stddef.h>
#include <stdint.h>

enum storage_kind {
    STORAGE_PART,
    STORAGE_INCOMING,
    STORAGE_ORIGINAL,
    STORAGE_MEDIA_DIR,
    STORAGE_VIDEO,
    STORAGE_THUMB,
    STORAGE_SHEET,
};

/* Creates the subdirectories of data_dir; 0, or -1 with errno set. */
int storage_init(const char *data_dir);

/*
 * Writes the path of kind for message id under data_dir into out.
 * Returns 0, or -1 (errno EINVAL) if id is not an id or out is too small.
 */
int storage_path(const char *data_dir, enum storage_kind kind, const char *id,
                 char *out, size_t outlen);

/*
 * Makes a finished upload durable and hands it to the worker: fdatasync
 * of uploads/<id>.part, rename to incoming/<id>, fsync of both
 * directories. Returns 0, or -1 with errno set.
 */
int storage_commit_upload(const char *data_dir, const char *id);

/*
 * True if the data directory's file system has room for need more bytes
 * and still keeps reserve free.
 */
int storage_has_room(const char *data_dir, int64_t need, int64_t reserve);

/* Size of the file of kind for id, or -1 (errno set; ENOENT if none). */
int64_t storage_size(const char *data_dir, enum storage_kind kind,
                     const char *id);

/*
 * Deletes every file of message id (partial upload, incoming, original,
 * outputs). Missing files are fine. Returns 0, or -1 if something that
 * exists could not be removed.
 */
int storage_delete_all(const char *data_dir, const char *id);

/*
 * Writes the path of version name of message id (media/<id>/v-<name>.<ext>,
 * ext "mp4" for the video or "jpg" for its first frame; with tmp, the
 * attempt's temporary name v-<name>.<ext>.<tmp>.tmp) into out. name is
 * [a-z0-9-], 1 to 48 characters (studio.c builds it). Returns 0, or -1
 * (errno EINVAL).
 */
int storage_version_path(const char *data_dir, const char *id, const char *name,
                         const char *ext, int tmp, char *out, size_t outlen);

/*
 * Writes the path of file name of campaign campaign_id (campaigns/<n>/
 * <name>) into out. name is one the code built from fixed names and ids
 * ("logo.png"), never client text: a plain file name of [A-Za-z0-9._-]
 * not starting with '.'. With name NULL, the campaign's directory.
 * Returns 0, or -1 (errno EINVAL).
 */
int storage_campaign_path(const char *data_dir, int64_t campaign_id,
                          const char *name, char *out, size_t outlen);

/*
 * Calls fn(id, opaque) for each part file in uploads/ (fn may delete
 * it). Returns 0, or -1 if the directory cannot be read.
 */
int storage_parts(const char *data_dir, void (*fn)(const char *id, void *),
                  void *opaque);

#endif
