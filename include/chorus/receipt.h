/*
 * The contributor's receipt: a random token given once at upload
 * (Chorus-Receipt), stored only as its SHA-256, presented as
 * "Authorization: Bearer <token>" (or, from the page without JavaScript,
 * in a form's body: page.c). It shows where the message stands, never
 * who decided, and why processing failed as a code the page translates;
 * and withdraws it: files deleted, the row cleared (its receipt too, so
 * a receipt found later leads nowhere), the WAL truncated, an audit row
 * written.
 */
#ifndef CHORUS_RECEIPT_H
#define CHORUS_RECEIPT_H

struct app;
struct message_receipt;
struct request;

/* The message of receipt token: 1 with *r filled, 0 if none (or token is
 * not one), -1. */
int receipt_lookup(struct app *app, const char *token,
                   struct message_receipt *r);
/* Withdraws r's message and updates *r to what the receipt then shows.
 * Returns MSG_OK, or a message_apply() failure. */
int receipt_withdraw(struct app *app, struct message_receipt *r);

/* GET /api/v1/receipt: 200 {"id","status","consent_scope",...,
 * "reason" when failed}; 401; 404. */
int receipt_get(struct request *req);
/* DELETE /api/v1/receipt: withdraws; 200 {"status":"withdrawn"}. */
int receipt_delete(struct request *req);

#endif
