/*
 * What the upload page needs to know of this campaign: its title and
 * introduction (--campaign-title / --campaign-intro, else
 * data/campaign.json {"title","intro"}, else a default), the consent
 * version, and the limits to check before a byte is sent.
 */
#ifndef CHORUS_CAMPAIGN_H
#define CHORUS_CAMPAIGN_H

#include <stdbool.h>

struct request;

/* The slug of the one campaign until campaigns exist (issue #15). */
#define CAMPAIGN_DEFAULT "default"

/* True if slug names a campaign (today only CAMPAIGN_DEFAULT does). */
bool campaign_exists(const char *slug);

/* GET /api/v1/campaign: {"title","intro","consent_version",
 * "max_upload_bytes","max_duration_s"}. */
int campaign_get(struct request *req);

#endif
