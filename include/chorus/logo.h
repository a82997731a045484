/*
 * A campaign's logo, made by the worker: PUT /api/v1/campaigns/{slug}/
 * logo stores the bytes as campaigns/<id>/logo-<upload id>.in and queues
 * a "logo" job (target: the slug; args {"campaign": id, "input": name}).
 * The worker runs it as it runs a transcode: in a forked child with
 * rlimits, that opens its input and output, enters the sandbox and only
 * then reads a byte, decoding and encoding through the media module
 * (image.h). The child's PNG becomes campaigns/<id>/logo.png and the
 * campaign's logo_at is set in the transaction that proves the job's
 * lease; the input is deleted once the job ends for good.
 */
#ifndef CHORUS_LOGO_H
#define CHORUS_LOGO_H

struct config;
struct db;
struct job;

#define JOB_KIND_LOGO "logo"
/* The made logo, in the campaign's directory. */
#define LOGO_FILE "logo.png"
/* Its longer side at most, in pixels. */
#define LOGO_SIDE_MAX 1024

/*
 * Runs one claimed logo job for worker (its name, and its database
 * handle db) and records its end: done with the logo published, retried
 * after a crash or timeout, or failed with the reason an admin reads
 * (not a PNG or JPEG, too large, damaged). Returns 0.
 */
int logo_job_run(const struct config *cfg, struct db *db, const char *worker,
                 const struct job *job);

#endif
