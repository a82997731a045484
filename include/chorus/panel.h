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
/* GET /api/v1/audit?action=&target=&actor=&limit=&cursor=: admin. */
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
