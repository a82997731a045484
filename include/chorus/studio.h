/*
 * The studio's API (DESIGN.md "Studio"): a message's transcripts and its
 * ready-to-post versions.
 *
 * Transcripts, one per language, are stored as timed cues (captions.h):
 * plain text is split and timed by Chorus over the spans of speech the
 * transcode measured (the message's facts), cues given explicitly are
 * checked. Moderators, comms and admins edit them on the messages they
 * may see; the contributor's own written message is another column and
 * never changes. A withdrawn message's transcripts go with it
 * (message.c).
 *
 * Versions are jobs of kind JOB_KIND_VERSION for the worker (target
 * "<message id>/<name>", args the request as JSON); asking again for a
 * version that is queued, running or made returns it. Their files are
 * media/<id>/v-<name>.mp4 and the JPEG of its first frame v-<name>.jpg
 * (the item's "preview"), deleted with the message's other files.
 */
#ifndef CHORUS_STUDIO_H
#define CHORUS_STUDIO_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct db;
struct job;
struct objstore;
struct request;

#define JOB_KIND_VERSION "version"
/* A version's name: "<format>[-<captions' language>][-c][-b]". */
#define STUDIO_NAME_MAX 48

/* What a version job is asked to make, from its args. */
struct studio_version {
    int format;        /* index of studio_formats */
    char captions[36]; /* a language tag, or "" for none */
    bool credit, branding;
    char name[STUDIO_NAME_MAX + 1];
};

/* The formats' names, in transcode_plan.h's order. */
#define STUDIO_FORMATS 4
extern const char *const studio_formats[STUDIO_FORMATS];

/*
 * Reads a version job's args (JSON) into *v. Returns 0, or -1 if they
 * are not a version's.
 */
int studio_version_parse(const char *args, struct studio_version *v);

/* PUT /api/v1/messages/{id}/transcripts/{lang} {"text"} or {"cues"}. */
int studio_transcript_put(struct request *req);
/* GET /api/v1/messages/{id}/transcripts/{lang}[.vtt|.srt]: the cues as
 * JSON, WebVTT or SRT. */
int studio_transcript_get(struct request *req);
/* GET /api/v1/messages/{id}/transcripts: {"items": [{"lang", ...}]}. */
int studio_transcript_list(struct request *req);
/* POST /api/v1/messages/{id}/versions {"format", "captions", "credit",
 * "branding"}: 202 with the version queued, or 200 with it as it is. */
int studio_version_post(struct request *req);
/* GET /api/v1/messages/{id}/versions: {"items": [...]}. */
int studio_version_list(struct request *req);

/*
 * Runs a claimed version job for worker (its name and database handle),
 * together with the other versions of its message that wait in the
 * queue, in one sandboxed child from one decode (studio_job.c), and
 * records each one's end. With os (object storage), the clip's video is
 * fetched from the bucket if it is no longer on disk, and the versions
 * made go to the bucket. Returns 0.
 */
int studio_job_run(const struct config *cfg, struct db *db, struct objstore *os,
                   const char *worker, const struct job *job);

#endif
