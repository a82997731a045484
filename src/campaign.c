#include "chorus/campaign.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "chorus/app.h"
#include "chorus/http.h"
#include "chorus/util.h"

#define DEFAULT_TITLE "Send a message of solidarity"

int campaign_get(struct request *req)
{
    const struct config *cfg = req->app->cfg;
    char path[PATH_MAX];
    const char *title = cfg->campaign_title, *intro = cfg->campaign_intro;
    json_t *file = NULL, *out;

    /* The operator's file, read at each request so edits show at once. */
    if ((title[0] == '\0' || intro[0] == '\0') &&
        util_fmt(path, sizeof(path), "%s/campaign.json", cfg->data_dir) == 0)
        file = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    if (title[0] == '\0')
        title = json_string_value(json_object_get(file, "title"));
    if (intro[0] == '\0')
        intro = json_string_value(json_object_get(file, "intro"));
    out = json_pack("{s:s, s:s?, s:s, s:I, s:i}", "title",
                    title != NULL && title[0] != '\0' ? title : DEFAULT_TITLE,
                    "intro", intro != NULL && intro[0] != '\0' ? intro : NULL,
                    "consent_version", cfg->consent_version, "max_upload_bytes",
                    (json_int_t)req->app->max_upload_bytes, "max_duration_s",
                    cfg->max_duration);
    json_decref(file);
    http_json(req, MHD_HTTP_OK, out);
    http_header_add(req, "Cache-Control", "no-cache");
    return req->status;
}

bool campaign_exists(const char *slug)
{
    return slug != NULL && strcmp(slug, CAMPAIGN_DEFAULT) == 0;
}
