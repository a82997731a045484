/*
 * The comms team's library beside the export: reshare marks (where an
 * approved clip was posted), which are also the take-down list once a
 * contributor withdraws a clip the team had used.
 */
#ifndef CHORUS_LIBRARY_H
#define CHORUS_LIBRARY_H

#include <jansson.h>

struct db;
struct jsonw;
struct request;

/* POST /api/v1/messages/{id}/reshared {"channel","url"?}: comms, admin;
 * approved messages only (409). 201 {"id","channel","url"}. */
int library_reshared(struct request *req);
/* POST /api/v1/messages/reshared {"ids": [...], "channel", "url"?}: the
 * same mark on each of several approved clips, one event and one audit
 * row each; answers as panel_bulk() does. */
int library_bulk_reshared(struct request *req);

/*
 * POST /api/v1/messages/{id}/taken-down {"reshare": N}: comms, admin; a
 * withdrawn clip's post N is marked taken down; without "reshare", every
 * post left and the clip itself (its downloaded copies deleted): done.
 * 200; 404 (no such clip, or post, or marked already); 409 unless
 * withdrawn. Audited.
 */
int library_taken_down(struct request *req);

/* Message id's reshare marks, oldest first, as a new JSON array of
 * {"channel","url","by","at","id","taken_down_at","taken_down_by"}
 * (empty on a database error). */
json_t *library_reshares(struct db *db, const char *id);
/* The same written into w; uses its own statement, so it may run while
 * a list is being read. */
void library_write_reshares(struct jsonw *w, struct db *db, const char *id);

#endif
