/*
 * Claims (issue #14): opening a pending clip claims it for its reviewer
 * for CLAIM_SECONDS from the last look (the panel renews it while the
 * clip stays open, and lets it go when it moves on). Others see who is
 * reviewing it, the next-clip key skips it, and message.c's table refuses
 * another moderator's decision on it (an admin's, never). A claim is
 * not a state of the message and not audited: it says who looks, for a
 * few minutes, and nothing about the contributor. Time is util_now(), so
 * tests move the test clock instead of waiting.
 */
#ifndef CHORUS_CLAIM_H
#define CHORUS_CLAIM_H

#include <stdint.h>

#include "chorus/auth.h"

struct db;
struct request;

#define CLAIM_SECONDS 300

struct claim {
    int64_t user_id;
    char username[AUTH_USERNAME_BYTES + 1];
    int64_t until;
};

/*
 * The live claim of message id at time now: 1 with *out filled, 0 if
 * none, or a DB_* code < 0. Any transaction state.
 */
int claim_holder(struct db *db, const char *id, int64_t now, struct claim *out);
/* Drops message id's claim (it was decided or withdrawn), inside the
 * caller's transaction: 0, or a DB_* code < 0. */
int claim_drop(struct db *db, const char *id);

/*
 * POST /api/v1/messages/{id}/claim (moderator, admin): claims a pending
 * message the user may see, or renews their claim; a body {"tab": T}
 * names the page that holds it (the last to look). 200 {"id", "mine",
 * "claimed_by", "until"}: mine false when someone else holds it (their
 * name and its end, nothing taken); 404 unknown or out of sight; 409 not
 * pending.
 */
int claim_post(struct request *req);
/* DELETE /api/v1/messages/{id}/claim[?tab=T]: lets one's own claim go
 * (with tab: only while page T still holds it, so a page that closes
 * never drops what another of the user's pages took since); 204. */
int claim_delete(struct request *req);

#endif
