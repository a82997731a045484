#include "chorus/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level threshold = LOG_LVL_INFO;
static const char *log_tag = "chorus";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(enum log_level level, const char *tag)
{
    threshold = level;
    if (tag != NULL)
        log_tag = tag;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_vmsg(enum log_level level, int errnum, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int r;

    if (level > threshold)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n,
                 ".%03ldZ %s[%ld] %s: ", ts.tv_nsec / 1000000, log_tag,
                 (long)getpid(), level_names[level]);
    if (r > 0)
        n += (size_t)r;
    if (n < sizeof(line)) {
        r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        if (r > 0)
            n += (size_t)r;
    }
    if (errnum != 0 && n < sizeof(line)) {
        r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
        if (r > 0)
            n += (size_t)r;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2; /* truncated: keep the newline */
    line[n++] = '\n';
    /* Best effort: there is nowhere to report a failed log write. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

#define LOG_FN(name, level, with_errno)                                        \
    void name(const char *fmt, ...)                                            \
    {                                                                          \
        int saved = errno;                                                     \
        va_list ap;                                                            \
        va_start(ap, fmt);                                                     \
        log_vmsg(level, with_errno ? saved : 0, fmt, ap);                      \
        va_end(ap);                                                            \
        errno = saved;                                                         \
    }

LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_error, LOG_LVL_ERROR, 0)
