/*
 * GET /api/v1/export.zip: the approved clips matching the filters (or the
 * given ids) as a ZIP streamed while it is written: libarchive writes
 * into a small buffer that libmicrohttpd drains, one 64 KiB piece of a
 * clip at a time, so memory stays bounded whatever the size; entries are
 * stored (no recompression of video) and ZIP64 is used once the archive
 * passes 4 GiB. It holds clips/, thumbs/, manifest.csv and
 * manifest.json. Only approved clips ever leave, whatever the
 * parameters say: ids of others are ignored.
 */
#ifndef CHORUS_EXPORT_H
#define CHORUS_EXPORT_H

struct request;

/* ?ids=a,b,c | ?country=&language=&q=&scope=&reshared= : comms, admin. */
int export_zip(struct request *req);

#endif
