/* libFuzzer: a user's search query made into an FTS5 MATCH expression.
 * Whatever the query, the expression is quoted strings only: every '"'
 * outside the quoting comes doubled, and it fits its buffer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[SEARCH_MATCH_MAX], *q = malloc(size + 1);
    bool inside = false;
    int rc;

    if (q == NULL)
        return 0;
    memcpy(q, data, size);
    q[size] = '\0';
    rc = search_match(q, out);
    if (strlen(out) >= sizeof(out) || (rc != SEARCH_OK && out[0] != '\0'))
        abort();
    /* Outside the quotes: only a space between strings, or the last *. */
    for (size_t i = 0; out[i] != '\0'; i++) {
        if (out[i] == '"') {
            if (inside && out[i + 1] == '"')
                i++; /* a doubled quote inside */
            else
                inside = !inside;
        } else if (!inside && out[i] != ' ' &&
                   !(out[i] == '*' && out[i + 1] == '\0'))
            abort();
    }
    if (inside)
        abort();
    free(q);
    return 0;
}
