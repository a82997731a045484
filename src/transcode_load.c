#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chorus/log.h"
#include "chorus/transcode.h"
#include "chorus/util.h"

static const struct transcode_api *loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
    char exe[PATH_MAX], path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    void *h;

    if (n <= 0) {
        log_warn("transcode: cannot find the running binary");
        return;
    }
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL || util_fmt(path, sizeof(path), "%.*s/chorus-media.so",
                                  (int)(slash - exe), exe) != 0)
        return;
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        log_warnx("transcode: cannot load the media module: %s", dlerror());
        return;
    }
    /* Never closed: it stays until the process ends. */
    loaded = dlsym(h, TRANSCODE_API_SYMBOL);
    if (loaded == NULL)
        log_warnx("transcode: %s has no %s", path, TRANSCODE_API_SYMBOL);
}

const struct transcode_api *transcode_load(void)
{
    pthread_once(&load_once, load);
    return loaded;
}
