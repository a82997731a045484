/* libFuzzer: the tus Upload-Metadata header, as a client sends it (and
 * the same bytes as a campaign's RFC 3339 date). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chorus/campaign.h"
#include "chorus/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct message_meta m;
    struct meta_error err;
    char *header = malloc(size + 1);
    char lang[36];
    int64_t when;

    if (header == NULL || sodium_init() < 0) {
        free(header);
        return 0;
    }
    memcpy(header, data, size);
    header[size] = '\0';
    if (meta_parse_tus(header, &m, &err) == 0) {
        /* What was accepted is what the database will hold. */
        if (meta_utf8_check(m.name, strlen(m.name), false) < 0 ||
            meta_utf8_check(m.message, strlen(m.message), true) < 0 ||
            !meta_country_known(m.country) || !m.consent ||
            (m.campaign[0] != '\0' && !campaign_slug_valid(m.campaign)))
            abort();
        /* Only known protections, and a list the schema's CHECK takes. */
        if (m.protect & ~(unsigned)(META_PROTECT_BLUR_FACES |
                                    META_PROTECT_VOICE | META_PROTECT_NO_VIDEO))
            abort();
    } else if (err.field == NULL || err.message[0] == '\0') {
        abort(); /* every refusal names its field */
    }
    meta_language_normalize(header, lang);
    /* A campaign's dates, as an admin types them. */
    campaign_parse_time(header, &when);
    free(header);
    return 0;
}
