/* Static paths: only plain names inside web/ are served. */
#include "chorus/static.h"
#include "test.h"

static const struct {
    const char *path;
    int ok;
} cases[] = {
    {"app.js", 1},
    {"i18n/ru.json", 1},
    {"css/site.css", 1},
    {"", 0},
    {"../etc/passwd", 0},
    {"i18n/../../etc/passwd", 0},
    {"..", 0},
    {".", 0},
    {"./app.js", 0},
    {"i18n//ru.json", 0},
    {"i18n/", 0},
    {"/etc/passwd", 0},
    {".git/config", 0},
    {".env", 0},
    {"i18n/.hidden", 0},
    {"..\\..\\etc\\passwd", 0},
    {"a\\b", 0},
    {"%2e%2e/etc/passwd", 0}, /* a second decoding never happens */
    {"%252e%252e%252f", 0},
    {"node_modules/x/y.js", 0},
    {"a\nb", 0},
    {"c:/x", 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (static_path_ok(cases[i].path) != cases[i].ok) {
            fprintf(stderr, "path \"%s\": got %d, want %d\n", cases[i].path,
                    !cases[i].ok, cases[i].ok);
            test_failures++;
        }
    }
    CHECK_STR(static_mime("index.html"), "text/html; charset=utf-8");
    CHECK_STR(static_mime("a/b.JS"), "text/javascript; charset=utf-8");
    CHECK_STR(static_mime("x.unknown"), "application/octet-stream");
    CHECK_STR(static_mime("noext"), "application/octet-stream");
    return TEST_RESULT();
}
