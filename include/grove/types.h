/* Grove value types: pids, references, timeouts and exit reasons. */
#ifndef GROVE_TYPES_H
#define GROVE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A process identifier: a value, never a pointer. The low 32 bits are the
 * process-table slot and the high 32 bits the slot's generation, so a pid
 * of a dead process never reaches the process that later reuses its slot.
 * The all-zero pid (GROVE_PID_NONE) names no process. */
typedef struct grove_pid {
    uint64_t id;
} grove_pid_t;

#define GROVE_PID_NONE ((grove_pid_t){0})

/* A reference: unique for the life of the runtime. Zero is no reference. */
typedef struct grove_ref {
    uint64_t id;
} grove_ref_t;

#define GROVE_REF_NONE ((grove_ref_t){0})

/* Relative timeouts are milliseconds; 0 polls; GROVE_INFINITY waits forever.
 * Any other negative value is GROVE_EINVAL. */
typedef int64_t grove_timeout_t;
#define GROVE_INFINITY ((grove_timeout_t)-1)

/* The kinds of exit reason, Erlang's atoms and the C crashes. */
typedef enum grove_exit_kind {
    GROVE_EXIT_NORMAL = 0,   /* normal */
    GROVE_EXIT_SHUTDOWN,     /* shutdown; {shutdown, Detail} when text set */
    GROVE_EXIT_KILL,         /* kill: the untrappable request */
    GROVE_EXIT_KILLED,       /* killed: what links see after a kill */
    GROVE_EXIT_NOPROC,       /* noproc: the target did not exist */
    GROVE_EXIT_TIMEOUT,      /* timeout: e.g. a call got no reply in time */
    GROVE_EXIT_CALLING_SELF, /* calling_self: a server called itself */
    GROVE_EXIT_ERROR,        /* an application error: code + text */
    GROVE_EXIT_FAULT,        /* a hardware fault: code = signal number */
    GROVE_EXIT_ASSERT,       /* GROVE_ASSERT failed: text = "file:line: cond" */
    GROVE_EXIT_BADARG,       /* a runtime call given invalid input in a way
                                that must end the process (e.g. receive
                                outside of any process is an error code, but
                                an unknown request to a server is badarg) */
    GROVE_EXIT__COUNT
} grove_exit_kind_t;

#define GROVE_REASON_TEXT_MAX 112

/* An exit reason. A plain value: copy it freely. For GROVE_EXIT_SHUTDOWN a
 * non-empty text (or non-zero code) makes it {shutdown, Detail}. For
 * GROVE_EXIT_FAULT, code is the signal number and addr the faulting
 * address. */
typedef struct grove_reason {
    int32_t kind; /* grove_exit_kind_t */
    int32_t code;
    uint64_t addr;
    char text[GROVE_REASON_TEXT_MAX];
} grove_reason_t;

/* Returns the reason normal. */
GROVE_EXPORT grove_reason_t grove_reason_normal(void);
/* Returns the reason shutdown (detail NULL or "") or {shutdown, detail}. */
GROVE_EXPORT grove_reason_t grove_reason_shutdown(const char *detail);
/* Returns a reason of the given kind with no code or text. */
GROVE_EXPORT grove_reason_t grove_reason_of(grove_exit_kind_t kind);
/* Returns an application error reason with a code and printf-style text
 * (truncated to GROVE_REASON_TEXT_MAX - 1 bytes). */
GROVE_EXPORT grove_reason_t grove_reason_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True for normal, shutdown and {shutdown, _}: the reasons after which a
 * transient child is not restarted. */
GROVE_EXPORT bool grove_reason_is_shutdown_class(const grove_reason_t *r);
/* True when both reasons have the same kind, code and text. */
GROVE_EXPORT bool grove_reason_equal(const grove_reason_t *a,
                                     const grove_reason_t *b);
/* Writes a readable form ("normal", "{shutdown,detail}", "killed",
 * "{error,42,\"text\"}", "{fault,SIGSEGV,0x0,\"...\"}") into buf; returns
 * the length it would have needed, like snprintf. */
GROVE_EXPORT int grove_reason_format(const grove_reason_t *r, char *buf,
                                     size_t size);
/* Returns the kind's name ("normal", "shutdown", ...). */
GROVE_EXPORT const char *grove_exit_kind_name(int kind);

/* True when the two pids are the same. */
static inline bool grove_pid_equal(grove_pid_t a, grove_pid_t b)
{
    return a.id == b.id;
}
/* True for GROVE_PID_NONE. */
static inline bool grove_pid_is_none(grove_pid_t p) { return p.id == 0; }
/* The process-table slot of a pid. */
static inline uint32_t grove_pid_slot(grove_pid_t p)
{
    return (uint32_t)(p.id & 0xffffffffu);
}
/* The slot generation of a pid. */
static inline uint32_t grove_pid_generation(grove_pid_t p)
{
    return (uint32_t)(p.id >> 32);
}
#define GROVE_PID_STR_MAX 32
/* Writes "<0.SLOT.GEN>" into buf (at least GROVE_PID_STR_MAX bytes);
 * returns buf. GROVE_PID_NONE prints as "<none>". */
GROVE_EXPORT char *grove_pid_format(grove_pid_t pid, char *buf, size_t size);
/* Parses "<0.SLOT.GEN>"; returns 0 or GROVE_EINVAL. */
GROVE_EXPORT int grove_pid_parse(const char *text, grove_pid_t *out);

/* A process's priority: Erlang's process_flag(priority, Level). A
 * scheduler runs its max processes before its high ones, and those before
 * any normal or low one; a low process runs once for every few turns of
 * the normal ones beside it (eight, as BEAM). Priorities order each
 * scheduler's queue: a process that does not yield is not preempted, and
 * another scheduler may run a normal process while a high one waits here.
 * Zero is normal, so a zeroed option means the default. */
typedef enum grove_priority {
    GROVE_PRIO_NORMAL = 0,
    GROVE_PRIO_LOW,
    GROVE_PRIO_HIGH,
    GROVE_PRIO_MAX
} grove_priority_t;

/* Returns the level's name ("normal", "low", "high", "max"), "unknown"
 * for any other value. */
GROVE_EXPORT const char *grove_priority_name(int level);

/* A limit on a process's heap: Erlang's max_heap_size. The heap is the
 * memory the process holds that grows with what it does: its arena
 * (grove_alloc), its dictionary and its mailbox (messages with their
 * payloads, received or not). Its stack is fixed at spawn and not counted.
 * The process checks its heap each time the heap grows, as Erlang's checks
 * at each garbage collection: an allocation, a dictionary write, a message
 * taken into its mailbox. Over the limit it is killed: reason killed,
 * which trapping exits cannot stop, and an error report (kind
 * "max_heap_size") is logged. Zero fields are Erlang's defaults. */
typedef struct grove_max_heap {
    size_t size;    /* bytes; 0: no limit */
    bool no_kill;   /* only report (Erlang's kill => false) */
    bool no_report; /* do not log (Erlang's error_logger => false) */
} grove_max_heap_t;

#ifdef __cplusplus
}
#endif
#endif
