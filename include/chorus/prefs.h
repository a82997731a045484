/*
 * A panel user's own settings, kept on their user row: today the
 * language the panel speaks to them (issue #14), remembered on every
 * browser they sign in from.
 */
#ifndef CHORUS_PREFS_H
#define CHORUS_PREFS_H

struct request;

/*
 * GET /api/v1/preferences (logged in): {"language": "be" or null,
 * "languages": [the panel's languages]}.
 */
int prefs_get(struct request *req);
/*
 * PUT /api/v1/preferences {"language": "be" or null}: a language the
 * panel has strings for (web/panel/i18n/<lang>.json), or null for the
 * browser's; 200 as GET, 400 otherwise.
 */
int prefs_put(struct request *req);

#endif
