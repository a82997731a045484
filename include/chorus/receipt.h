/*
 * The contributor's receipt: a random token given once at upload
 * (Chorus-Receipt), stored only as its SHA-256, presented as
 * "Authorization: Bearer <token>". It shows where the message stands,
 * never who decided, and withdraws it: files deleted, personal fields
 * cleared, an audit row written.
 */
#ifndef CHORUS_RECEIPT_H
#define CHORUS_RECEIPT_H

struct request;

/* GET /api/v1/receipt: 200 {"id","status",...}; 401; 404. */
int receipt_get(struct request *req);
/* DELETE /api/v1/receipt: withdraws; 200 {"status":"withdrawn"}. */
int receipt_delete(struct request *req);

#endif
