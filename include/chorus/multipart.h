/*
 * POST /api/v1/messages: the same upload as tus creation, as one
 * multipart/form-data request (field "video" plus the metadata fields of
 * meta.h), for clients without tus and for the page without JavaScript.
 * libmicrohttpd's post processor parses the stream; the video goes to
 * disk as it arrives. A request cut off leaves nothing behind: there is
 * no way to resume it.
 */
#ifndef CHORUS_MULTIPART_H
#define CHORUS_MULTIPART_H

#include <stddef.h>

struct request;

int multipart_begin(struct request *req);
int multipart_body(struct request *req, const char *data, size_t size);
/* 201 {"id","receipt"}, or for a browser form (Accept: text/html) 201
 * with the result page (page.c), in the language of its ui_lang field;
 * 400 naming a bad field; 413; 415. */
int multipart_finish(struct request *req);

#endif
