/* The logger: levels, structured events and a list of handlers. Handlers
 * run on the thread that logs (a scheduler thread for crash reports), so
 * they should be quick; the built-in ones write one line per event. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"
#include "base/failpoint.h"

struct grove_log_handler {
    grove_log_handler_t *next;
    grove_log_handler_fn fn;
    void *arg;
    int min_level;
};

static struct {
    pthread_rwlock_t lock;
    grove_log_handler_t *head;
    bool defaulted; /* the default handler was installed (or declined) */
    /* The lowest level any handler takes (GROVE_LOG_NONE: none); -1 until
     * the default handler is settled. Written under the write lock. */
    atomic_int floor;
} L = {.lock = PTHREAD_RWLOCK_INITIALIZER, .floor = -1};

/* Under the write lock, after the handler list changed. */
static void refloor_locked(void)
{
    int f = GROVE_LOG_NONE;
    for (grove_log_handler_t *h = L.head; h; h = h->next)
        if (h->min_level < f)
            f = h->min_level;
    atomic_store(&L.floor, f);
}

static const char *const level_names[] = {"debug",   "info",  "notice",
                                          "warning", "error", "none"};

GROVE_EXPORT const char *grove_log_level_name(int level)
{
    if (level < 0 || level > GROVE_LOG_NONE)
        return "unknown";
    return level_names[level];
}

static int env_level(void)
{
    const char *v = getenv("GROVE_LOG_LEVEL");
    if (v)
        for (int i = 0; i <= GROVE_LOG_NONE; i++)
            if (strcasecmp(v, level_names[i]) == 0)
                return i;
    return GROVE_LOG_WARNING;
}

static int add_locked(grove_log_handler_fn fn, void *arg, int min_level,
                      grove_log_handler_t **out)
{
    grove_log_handler_t *h = grove__calloc(1, sizeof *h);
    if (!h)
        return GROVE_ENOMEM;
    h->fn = fn;
    h->arg = arg;
    h->min_level = min_level;
    grove_log_handler_t **pp = &L.head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = h;
    if (out)
        *out = h;
    refloor_locked();
    return 0;
}

static void ensure_default(void)
{
    pthread_rwlock_rdlock(&L.lock);
    bool done = L.defaulted;
    pthread_rwlock_unlock(&L.lock);
    if (done)
        return;
    pthread_rwlock_wrlock(&L.lock);
    if (!L.defaulted) {
        L.defaulted = true;
        add_locked(grove_log_text_handler, NULL, env_level(), NULL);
        refloor_locked(); /* also when that allocation failed */
    }
    pthread_rwlock_unlock(&L.lock);
}

GROVE_EXPORT int grove_log_add_handler(grove_log_handler_fn fn, void *arg,
                                       int min_level,
                                       grove_log_handler_t **out)
{
    if (!fn || min_level < 0 || min_level > GROVE_LOG_NONE)
        return GROVE_EINVAL;
    ensure_default();
    pthread_rwlock_wrlock(&L.lock);
    int rc = add_locked(fn, arg, min_level, out);
    pthread_rwlock_unlock(&L.lock);
    return rc;
}

GROVE_EXPORT int grove_log_remove_handler(grove_log_handler_t *h)
{
    if (!h)
        return GROVE_EINVAL;
    int rc = GROVE_EINVAL;
    /* The write lock waits for every running handler call to end. */
    pthread_rwlock_wrlock(&L.lock);
    for (grove_log_handler_t **pp = &L.head; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            free(h);
            rc = 0;
            break;
        }
    if (L.defaulted)
        refloor_locked();
    pthread_rwlock_unlock(&L.lock);
    return rc;
}

GROVE_EXPORT void grove_log_clear_handlers(void)
{
    pthread_rwlock_wrlock(&L.lock);
    L.defaulted = true;
    while (L.head) {
        grove_log_handler_t *h = L.head;
        L.head = h->next;
        free(h);
    }
    refloor_locked();
    pthread_rwlock_unlock(&L.lock);
}

GROVE_EXPORT bool grove_log_enabled(int level)
{
    if (level < 0 || level >= GROVE_LOG_NONE)
        return false;
    int f = atomic_load_explicit(&L.floor, memory_order_relaxed);
    if (f < 0) {
        ensure_default();
        f = atomic_load(&L.floor);
    }
    return level >= f;
}

/* Handlers run with the in-runtime marker set: they are called under the
 * handler lock, often on a scheduler's own stack, so a fault in one is
 * treated as the runtime's own and aborts rather than leave the lock
 * held. */
void grove__log_emit(const grove_log_event_t *ev)
{
    ensure_default();
    int saved = grove__tls_get_in_rt();
    RT_ENTER();
    pthread_rwlock_rdlock(&L.lock);
    for (grove_log_handler_t *h = L.head; h; h = h->next)
        if (ev->level >= h->min_level && h->min_level < GROVE_LOG_NONE)
            h->fn(ev, h->arg);
    pthread_rwlock_unlock(&L.lock);
    grove__tls_set_in_rt(saved);
}

GROVE_EXPORT void grove_log_event(int level, const char *kind,
                                  grove_pid_t pid, const char *text,
                                  const grove_log_field_t *fields,
                                  size_t nfields)
{
    if (level < 0 || level >= GROVE_LOG_NONE)
        return;
    grove_log_event_t ev = {
        .level = level,
        .kind = kind ? kind : "log",
        .time_ns = grove__realtime_ns(),
        .pid = pid,
        .text = text ? text : "",
        .fields = fields,
        .nfields = fields ? nfields : 0,
    };
    grove__log_emit(&ev);
}

GROVE_EXPORT void grove_log(int level, const char *fmt, ...)
{
    if (!grove_log_enabled(level))
        return;
    char buf[1024];
    buf[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
    }
    grove_log_event(level, "log", grove_self(), buf, NULL, 0);
}

/* ---- built-in handlers ---------------------------------------------------- */

static void fmt_time(uint64_t ns, char *buf, size_t size)
{
    time_t sec = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%06luZ",
             (unsigned long)(ns % 1000000000u / 1000u));
}

GROVE_EXPORT void grove_log_text_handler(const grove_log_event_t *ev,
                                         void *arg)
{
    FILE *f = arg ? (FILE *)arg : stderr;
    char t[40], pid[GROVE_PID_STR_MAX];
    fmt_time(ev->time_ns, t, sizeof t);
    flockfile(f);
    fprintf(f, "%s [%s] %s", t, grove_log_level_name(ev->level), ev->text);
    if (ev->pid.id && ev->kind && strcmp(ev->kind, "log") == 0)
        fprintf(f, " (%s)", grove_pid_format(ev->pid, pid, sizeof pid));
    fputc('\n', f);
    for (size_t i = 0; i < ev->nfields; i++) {
        const char *v = ev->fields[i].value ? ev->fields[i].value : "";
        const char *k = ev->fields[i].key ? ev->fields[i].key : "";
        if (!strchr(v, '\n')) {
            fprintf(f, "    %s: %s\n", k, v);
            continue;
        }
        fprintf(f, "    %s:\n", k);
        for (const char *line = v; *line;) {
            const char *nl = strchr(line, '\n');
            int len = nl ? (int)(nl - line) : (int)strlen(line);
            fprintf(f, "      %.*s\n", len, line);
            line += len + (nl ? 1 : 0);
        }
    }
    funlockfile(f);
    fflush(f);
}

GROVE_EXPORT int grove_json_escape(const char *s, char *buf, size_t size)
{
    size_t n = 0;
#define PUT(c)                 \
    do {                       \
        if (n + 1 < size)      \
            buf[n] = (char)(c); \
        n++;                   \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;
         p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT(c);
        } else if (c == '\n') {
            PUT('\\');
            PUT('n');
        } else if (c == '\t') {
            PUT('\\');
            PUT('t');
        } else if (c == '\r') {
            PUT('\\');
            PUT('r');
        } else if (c < 0x20 || c == 0x7f) {
            char hex[8];
            snprintf(hex, sizeof hex, "\\u%04x", c);
            for (char *h = hex; *h; h++)
                PUT(*h);
        } else {
            PUT(c); /* UTF-8 bytes pass through */
        }
    }
    PUT('"');
#undef PUT
    if (size)
        buf[n < size ? n : size - 1] = '\0';
    return (int)n;
}

static void json_put(FILE *f, const char *s)
{
    char small[512];
    int n = grove_json_escape(s, small, sizeof small);
    if ((size_t)n < sizeof small) {
        fputs(small, f);
        return;
    }
    char *big = grove__malloc((size_t)n + 1);
    if (!big) {
        fputs("\"\"", f);
        return;
    }
    grove_json_escape(s, big, (size_t)n + 1);
    fputs(big, f);
    free(big);
}

GROVE_EXPORT void grove_log_json_handler(const grove_log_event_t *ev,
                                         void *arg)
{
    FILE *f = arg ? (FILE *)arg : stderr;
    char t[40], pid[GROVE_PID_STR_MAX];
    fmt_time(ev->time_ns, t, sizeof t);
    flockfile(f);
    fprintf(f, "{\"time\":\"%s\",\"level\":\"%s\",\"kind\":", t,
            grove_log_level_name(ev->level));
    json_put(f, ev->kind);
    if (ev->pid.id)
        fprintf(f, ",\"pid\":\"%s\"",
                grove_pid_format(ev->pid, pid, sizeof pid));
    fputs(",\"text\":", f);
    json_put(f, ev->text);
    fputs(",\"fields\":{", f);
    for (size_t i = 0; i < ev->nfields; i++) {
        if (i)
            fputc(',', f);
        json_put(f, ev->fields[i].key ? ev->fields[i].key : "");
        fputc(':', f);
        json_put(f, ev->fields[i].value ? ev->fields[i].value : "");
    }
    fputs("}}\n", f);
    funlockfile(f);
    fflush(f);
}
