/* libFuzzer: request paths through the route table and the static file
 * normaliser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/app.h"
#include "chorus/router.h"
#include "chorus/static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET",   "HEAD",   "POST",
                                          "PATCH", "DELETE", "OPTIONS"};
    struct route_match m;
    char *path, allow[128], param[600];

    if (size == 0)
        return 0;
    path = malloc(size);
    if (path == NULL)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    if (router_match(app_routes, app_routes_count, methods[data[0] % 6], path,
                     &m, allow, sizeof(allow)) == ROUTER_FOUND) {
        for (int i = 0; i < m.nparams; i++)
            if (m.params[i].value < path ||
                m.params[i].value + m.params[i].len > path + strlen(path))
                abort(); /* a parameter outside the path */
        if (router_param(&m, "*", param, sizeof(param)) >= 0 &&
            static_path_ok(param) &&
            (strstr(param, "..") == param || strstr(param, "/..") != NULL ||
             param[0] == '/'))
            abort(); /* a path that could climb out of web/ */
    }
    static_path_ok(path);
    free(path);
    return 0;
}
