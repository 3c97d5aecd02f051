/* Grove logger: levels, structured events, pluggable handlers. Crash
 * reports, long-schedule reports and supervisor reports go through it. */
#ifndef GROVE_LOGGER_H
#define GROVE_LOGGER_H

#include <stdio.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum grove_log_level {
    GROVE_LOG_DEBUG = 0,
    GROVE_LOG_INFO,
    GROVE_LOG_NOTICE,
    GROVE_LOG_WARNING,
    GROVE_LOG_ERROR,
    GROVE_LOG_NONE /* as a minimum level: nothing passes */
} grove_log_level_t;

/* One key/value pair of an event; value is text. */
typedef struct grove_log_field {
    const char *key;
    const char *value;
} grove_log_field_t;

/* A log event. Valid only during the handler call. */
typedef struct grove_log_event {
    int level;           /* grove_log_level_t */
    const char *kind;    /* "log", "crash_report", "long_schedule",
                            "supervisor_report", "progress" ... */
    uint64_t time_ns;    /* CLOCK_REALTIME */
    grove_pid_t pid;     /* the process it is about (or NONE) */
    const char *text;    /* human summary, never NULL */
    const grove_log_field_t *fields;
    size_t nfields;
} grove_log_event_t;

typedef void (*grove_log_handler_fn)(const grove_log_event_t *ev, void *arg);

typedef struct grove_log_handler grove_log_handler_t;

/* Adds a handler that gets every event at or above min_level. Returns 0,
 * GROVE_EINVAL or GROVE_ENOMEM; writes the handle (may be NULL out). */
GROVE_EXPORT int grove_log_add_handler(grove_log_handler_fn fn, void *arg,
                                       int min_level,
                                       grove_log_handler_t **out);
/* Removes a handler; after it returns the handler is not running and will
 * not be called. Returns 0 or GROVE_EINVAL. */
GROVE_EXPORT int grove_log_remove_handler(grove_log_handler_t *h);
/* Removes every handler, the default one included. */
GROVE_EXPORT void grove_log_clear_handlers(void);
/* Whether an event of this level would reach any handler: lets a caller
 * skip formatting what nobody takes. Returns false for an invalid level. */
GROVE_EXPORT bool grove_log_enabled(int level);

/* Built-in handler: readable text to the FILE* given as arg (NULL:
 * stderr). */
GROVE_EXPORT void grove_log_text_handler(const grove_log_event_t *ev,
                                         void *arg);
/* Built-in handler: one JSON object per line to the FILE* arg (NULL:
 * stderr). */
GROVE_EXPORT void grove_log_json_handler(const grove_log_event_t *ev,
                                         void *arg);

/* A default handler, grove_log_text_handler on stderr, is installed on
 * first use and stays beside handlers added later; grove_log_clear_handlers
 * removes it. Its level is WARNING, or the GROVE_LOG_LEVEL environment
 * variable (debug, info, notice, warning, error, none). Handlers run on the
 * logging thread, under the handler lock: they must not fault (a fault in
 * a handler aborts the OS process), block for long, or add and remove
 * handlers. */

/* Emits a plain "log" event from the calling process (or thread). */
GROVE_EXPORT void grove_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Emits a structured event (kind NULL: "log"). */
GROVE_EXPORT void grove_log_event(int level, const char *kind,
                                  grove_pid_t pid, const char *text,
                                  const grove_log_field_t *fields,
                                  size_t nfields);

/* Writes a JSON string literal (quotes and escapes included) for s into
 * buf; returns the length it needed, like snprintf. */
GROVE_EXPORT int grove_json_escape(const char *s, char *buf, size_t size);

/* Returns "debug", "info", ... for a level. */
GROVE_EXPORT const char *grove_log_level_name(int level);

#ifdef __cplusplus
}
#endif
#endif
