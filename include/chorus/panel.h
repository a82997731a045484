/*
 * The moderation and comms API of the panel. Access is the route
 * table's column; handlers only add what depends on the data (the comms
 * role sees approved messages only). Decisions succeed only from
 * "pending" (409 otherwise), so two moderators never both decide one
 * message, and each is an audit row in the same transaction.
 */
#ifndef CHORUS_PANEL_H
#define CHORUS_PANEL_H

struct request;

/*
 * GET /api/v1/messages?status=&country=&language=&q=&from=&to=&scope=
 *   &reshared=&order=&limit=&cursor=
 * {"items":[...],"next_cursor":..,"counts":{status: n}}; keyset pages.
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
/* POST /api/v1/messages/{id}/reshared {"channel","url"?}: comms, admin;
 * approved messages only (409). */
int panel_reshared(struct request *req);
/* GET /api/v1/audit?action=&target=&actor=&limit=&cursor=: admin. */
int panel_audit(struct request *req);
/* GET /metrics: Prometheus text; loopback or --metrics-token only. */
int panel_metrics(struct request *req);

#endif
