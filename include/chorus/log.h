/*
 * Leveled, format-checked logging to stderr, one line per call, in the
 * manner of OpenBSD's log.c: the *_warn variants append strerror(errno),
 * the *_warnx variants do not. Lines are written with one write(2), so
 * threads and worker processes never interleave within a line.
 *
 * Never pass a password, token, receipt or client address to these.
 */
#ifndef CHORUS_LOG_H
#define CHORUS_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Sets the threshold and a tag written on each line ("serve", "worker"). */
void log_init(enum log_level level, const char *tag);
/* Parses "error", "warn", "info" or "debug"; returns 0, or -1. */
int log_level_parse(const char *s, enum log_level *out);

void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_vmsg(enum log_level level, int errnum, const char *fmt, va_list ap)
    LOG_PRINTF(3, 0);

#endif
