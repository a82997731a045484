/*
 * What the upload page needs to know of this campaign: its title and
 * introduction (--campaign-title / --campaign-intro, else
 * data/campaign.json {"title","intro"}, else a default), the consent
 * version, and the limits to check before a byte is sent.
 */
#ifndef CHORUS_CAMPAIGN_H
#define CHORUS_CAMPAIGN_H

#include <stdint.h>

struct request;

/*
 * The accent colour, 0xRRGGBB, of a campaign that sets none (a no_video
 * card's ground). Campaigns of their own come with issue #15, which
 * gives each one its colour and passes it where this is used today.
 */
#define CAMPAIGN_ACCENT_DEFAULT 0xB3261Eu

/* GET /api/v1/campaign: {"title","intro","consent_version",
 * "max_upload_bytes","max_duration_s"}. */
int campaign_get(struct request *req);

#endif
