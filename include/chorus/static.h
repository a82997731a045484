/*
 * Files under web/ (--web-dir) with a MIME map and ETags. A path is
 * served only if every segment is a plain name (no "..", no hidden
 * files, no backslashes or control bytes) and the file it resolves to,
 * after symbolic links, is a regular file inside web/.
 */
#ifndef CHORUS_STATIC_H
#define CHORUS_STATIC_H

#include <stddef.h>

struct request;

/* GET /panel: web/panel.html. */
int static_panel(struct request *req);
/* GET /receipt: web/receipt.html (the receipt is in the fragment). */
int static_receipt(struct request *req);
/* GET /static/{path}: web/{path}; 404 for anything not plainly inside.
 * vendor/tus.min.js is tus-js-client as npm installed it. */
int static_file(struct request *req);

/* 1 if rel (relative to web/) is a path static_file may serve, else 0. */
int static_path_ok(const char *rel);
/* The Content-Type for a file name, by its extension. */
const char *static_mime(const char *name);

#endif
