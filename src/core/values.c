/* Value helpers of the public API: error names, exit reasons, pid text,
 * version. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "grove/error.h"
#include "grove/types.h"
#include "grove/version.h"

GROVE_EXPORT unsigned grove_version(void) { return GROVE_VERSION_HEX; }

#define STR2(x) #x
#define STR(x) STR2(x)
GROVE_EXPORT const char *grove_version_string(void)
{
    return STR(GROVE_VERSION_MAJOR) "." STR(GROVE_VERSION_MINOR) "." STR(
        GROVE_VERSION_PATCH);
}

GROVE_EXPORT const char *grove_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define GROVE__ERR_MSG(name, val, msg) \
    case val:                          \
        return msg;
        GROVE_ERRNO_MAP(GROVE__ERR_MSG)
#undef GROVE__ERR_MSG
    default:
        return "unknown error";
    }
}

GROVE_EXPORT const char *grove_errname(int err)
{
    switch (err) {
    case 0:
        return "GROVE_OK";
#define GROVE__ERR_NAME(name, val, msg) \
    case val:                           \
        return "GROVE_" #name;
        GROVE_ERRNO_MAP(GROVE__ERR_NAME)
#undef GROVE__ERR_NAME
    default:
        return "GROVE_E?";
    }
}

static const char *const kind_names[GROVE_EXIT__COUNT] = {
    [GROVE_EXIT_NORMAL] = "normal",
    [GROVE_EXIT_SHUTDOWN] = "shutdown",
    [GROVE_EXIT_KILL] = "kill",
    [GROVE_EXIT_KILLED] = "killed",
    [GROVE_EXIT_NOPROC] = "noproc",
    [GROVE_EXIT_TIMEOUT] = "timeout",
    [GROVE_EXIT_CALLING_SELF] = "calling_self",
    [GROVE_EXIT_ERROR] = "error",
    [GROVE_EXIT_FAULT] = "fault",
    [GROVE_EXIT_ASSERT] = "assert",
    [GROVE_EXIT_BADARG] = "badarg",
};

GROVE_EXPORT const char *grove_exit_kind_name(int kind)
{
    if (kind < 0 || kind >= GROVE_EXIT__COUNT)
        return "unknown";
    return kind_names[kind];
}

GROVE_EXPORT const char *grove_priority_name(int level)
{
    static const char *const names[] = {"normal", "low", "high", "max"};
    if (level < 0 || level > GROVE_PRIO_MAX)
        return "unknown";
    return names[level];
}

GROVE_EXPORT grove_reason_t grove_reason_of(grove_exit_kind_t kind)
{
    grove_reason_t r;
    memset(&r, 0, sizeof r);
    r.kind = (int32_t)kind;
    return r;
}

GROVE_EXPORT grove_reason_t grove_reason_normal(void)
{
    return grove_reason_of(GROVE_EXIT_NORMAL);
}

GROVE_EXPORT grove_reason_t grove_reason_shutdown(const char *detail)
{
    grove_reason_t r = grove_reason_of(GROVE_EXIT_SHUTDOWN);
    if (detail)
        snprintf(r.text, sizeof r.text, "%s", detail);
    return r;
}

GROVE_EXPORT grove_reason_t grove_reason_error(int code, const char *fmt, ...)
{
    grove_reason_t r = grove_reason_of(GROVE_EXIT_ERROR);
    r.code = code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r.text, sizeof r.text, fmt, ap);
        va_end(ap);
    }
    return r;
}

GROVE_EXPORT bool grove_reason_is_shutdown_class(const grove_reason_t *r)
{
    return r && (r->kind == GROVE_EXIT_NORMAL ||
                 r->kind == GROVE_EXIT_SHUTDOWN);
}

GROVE_EXPORT bool grove_reason_equal(const grove_reason_t *a,
                                     const grove_reason_t *b)
{
    if (!a || !b)
        return a == b;
    return a->kind == b->kind && a->code == b->code &&
           strncmp(a->text, b->text, sizeof a->text) == 0;
}

static const char *signame(int sig)
{
    switch (sig) {
    case 11:
        return "SIGSEGV";
    case 7:
        return "SIGBUS";
    case 8:
        return "SIGFPE";
    case 4:
        return "SIGILL";
    case 5:
        return "SIGTRAP";
    default:
        return "SIG?";
    }
}

GROVE_EXPORT int grove_reason_format(const grove_reason_t *r, char *buf,
                                     size_t size)
{
    if (!r)
        return snprintf(buf, size, "(null)");
    const char *k = grove_exit_kind_name(r->kind);
    switch (r->kind) {
    case GROVE_EXIT_SHUTDOWN:
        if (r->text[0])
            return snprintf(buf, size, "{shutdown,%.*s}",
                            (int)sizeof r->text, r->text);
        if (r->code)
            return snprintf(buf, size, "{shutdown,%d}", (int)r->code);
        return snprintf(buf, size, "shutdown");
    case GROVE_EXIT_ERROR:
        return snprintf(buf, size, "{error,%d,\"%.*s\"}", (int)r->code,
                        (int)sizeof r->text, r->text);
    case GROVE_EXIT_FAULT:
        return snprintf(buf, size, "{fault,%s,0x%" PRIx64 ",\"%.*s\"}",
                        signame(r->code), r->addr, (int)sizeof r->text,
                        r->text);
    case GROVE_EXIT_ASSERT:
        return snprintf(buf, size, "{assert,\"%.*s\"}", (int)sizeof r->text,
                        r->text);
    default:
        if (r->text[0])
            return snprintf(buf, size, "{%s,\"%.*s\"}", k,
                            (int)sizeof r->text, r->text);
        return snprintf(buf, size, "%s", k);
    }
}

GROVE_EXPORT char *grove_pid_format(grove_pid_t pid, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (pid.id == 0)
        snprintf(buf, size, "<none>");
    else
        snprintf(buf, size, "<0.%" PRIu32 ".%" PRIu32 ">",
                 grove_pid_slot(pid), grove_pid_generation(pid));
    return buf;
}

/* Reads decimal digits only (no sign, no space), up to max. */
static const char *read_u32(const char *p, uint64_t max, uint64_t *v)
{
    if (*p < '0' || *p > '9')
        return NULL;
    uint64_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > max)
            return NULL;
    }
    *v = n;
    return p;
}

GROVE_EXPORT int grove_pid_parse(const char *text, grove_pid_t *out)
{
    if (!text || !out || strncmp(text, "<0.", 3) != 0)
        return GROVE_EINVAL;
    uint64_t slot, gen;
    const char *p = read_u32(text + 3, UINT32_MAX, &slot);
    if (!p || *p != '.' || !(p = read_u32(p + 1, UINT32_MAX, &gen)) ||
        strcmp(p, ">") != 0 || gen == 0)
        return GROVE_EINVAL;
    out->id = (gen << 32) | slot;
    return 0;
}
