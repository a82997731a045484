/*
 * The review API of the panel: the message list and detail, decisions.
 * Access is the route table's column; what a role sees of a message is
 * message_sight(), and every decision is an event of message.c, which
 * refuses it from the wrong state (409), so two moderators never both
 * decide one message, and audits it in the same transaction.
 */
#ifndef CHORUS_PANEL_H
#define CHORUS_PANEL_H

#include <stdint.h>

#include <jansson.h>

#include "chorus/message.h"

struct db;
struct request;

/*
 * GET /api/v1/messages?status=&campaign=&country=&language=&q=&from=&to=
 *   &scope=&reshared=&order=&limit=&cursor=
 * {"items":[...],"next_cursor":..,"counts":{status: n}}; keyset pages,
 * within the user's campaigns (counts too).
 */
int panel_list(struct request *req);
/* GET /api/v1/messages/{id}: facts, progress or failure, history. */
int panel_get(struct request *req);
/* POST /api/v1/messages/{id}/approve {"reason"?}. */
int panel_approve(struct request *req);
/* POST /api/v1/messages/{id}/reject {"reason"} (required). */
int panel_reject(struct request *req);
/* POST /api/v1/messages/{id}/reopen {"reason"?}: admin; back to pending. */
int panel_reopen(struct request *req);
/* POST /api/v1/messages/{id}/retry: admin; a failed one is queued again. */
int panel_retry(struct request *req);
/*
 * POST /api/v1/messages/approve {"ids": [...]}: moderator, admin; each
 * pending message approved as POST .../{id}/approve would (one event and
 * one audit row each). 200 {"results": [{"id", "ok": true, "status"} or
 * {"id", "ok": false, "error", "message"}], "done": n}.
 */
int panel_bulk_approve(struct request *req);
/* The most ids one bulk request takes. */
#define PANEL_BULK_MAX 200
/*
 * The bulk routes' work: ev with args (the user's scope added) applied to
 * each id of body's "ids", in its own transaction; answers as
 * panel_bulk_approve() does (400 for a bad list). Returns the status.
 */
int panel_bulk(struct request *req, json_t *body, enum msg_event ev,
               const struct msg_args *args);
/*
 * GET /api/v1/audit?action=&target=&actor=&from=&to=&limit=&cursor=:
 * admin. action ending in '.' takes every action it begins; from and to
 * are days (YYYY-MM-DD, to inclusive). Each item says what its target is
 * ("target_kind": message, user, campaign, or null).
 */
int panel_audit(struct request *req);
/*
 * Answers a message_apply() failure rc of event ev on a message found in
 * state from: 404 (also for a message the role may not see), 409, 403,
 * 503 with Retry-After, or 500. Returns the status.
 */
int panel_refusal(struct request *req, int rc, enum msg_state from,
                  enum msg_event ev);

/* The request's user's campaign limits for message_sight_in() and the
 * lists' binds: NULL for none (admins, users without limits). */
const char *panel_scope(const struct request *req);
/*
 * The id of campaign slug of a ?campaign= filter into *id: 0, or the
 * status answered (400 for a campaign that is not there or not the
 * user's, which look the same; 500, 503).
 */
int panel_campaign(struct request *req, const char *slug, int64_t *id);
/*
 * The consent a message was given under, for its detail and the export:
 * {"version", "language", "text", "texts": {lang: text}}: the exact text
 * in lang (the language the page showed), else in fallback, else in any
 * language of the version; null text if the version has none.
 */
json_t *panel_consent(struct db *db, int64_t campaign, const char *version,
                      const char *lang, const char *fallback);

#endif
