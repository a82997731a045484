/*
 * The tus 1.0.0 upload resource at /api/v1/uploads: core, creation,
 * creation-with-upload, termination and expiration
 * (https://tus.io/protocols/resumable-upload). Metadata is checked at
 * creation, before any byte is taken (meta.h); the bytes themselves go
 * through upload.h. Every response but OPTIONS carries Tus-Resumable.
 */
#ifndef CHORUS_TUS_H
#define CHORUS_TUS_H

#include <stddef.h>

struct request;

/* OPTIONS /api/v1/uploads: discovery (Tus-Version, -Extension, -Max-Size). */
int tus_options(struct request *req);
/* POST /api/v1/uploads: Upload-Length, Upload-Metadata, optional body.
 * 201 with Location and Chorus-Receipt; 400 naming a bad field; 413. */
int tus_create_begin(struct request *req);
int tus_create(struct request *req);
/* HEAD /api/v1/uploads/{id}: Upload-Offset and -Length; 404; 410. */
int tus_head(struct request *req);
/* PATCH /api/v1/uploads/{id}: application/offset+octet-stream at
 * Upload-Offset; 204; 409 offset mismatch; 415; 423 busy; 413. */
int tus_patch_begin(struct request *req);
int tus_patch(struct request *req);
/* The body of a creation-with-upload POST or a PATCH. */
int tus_body(struct request *req, const char *data, size_t size);
/* DELETE /api/v1/uploads/{id}: termination of an unfinished upload. */
int tus_delete(struct request *req);

#endif
