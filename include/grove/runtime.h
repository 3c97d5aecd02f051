/* Grove runtime: start, stop and configuration. */
#ifndef GROVE_RUNTIME_H
#define GROVE_RUNTIME_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runtime configuration. Zero fields take the default shown. */
typedef struct grove_config {
    /* Scheduler threads; default: the GROVE_SCHEDULERS environment
     * variable, else the number of online cores. Max 256. */
    int schedulers;
    /* Default process stack size in bytes; default 64 KiB. Rounded up to
     * the page size; from 16 KiB to 256 MiB. */
    size_t stack_size;
    /* Maximum live processes; default 1,048,576 (GROVE_MAX_PROCESSES env).
     * At most 2^28. */
    uint32_t max_processes;
    /* A process that runs longer than this without returning to its
     * scheduler is reported as a long schedule; default 100 ms (the
     * GROVE_LONG_SCHEDULE_MS env); negative disables. */
    int long_schedule_ms;
    /* A process that has waited in receive this long gives its stack pages
     * back to the OS, keeping only the bytes in use (when a scheduler is
     * idle, or at most twice this long later); default 1000 ms; negative
     * disables. */
    int stack_trim_ms;
    /* Deterministic builds (GROVE_DETERMINISTIC) only: the seed of the
     * scheduling order; 0: the GROVE_SEED environment variable, else one
     * drawn from the clock. The seed in use is printed at start. */
    uint64_t seed;
    /* The max heap size of every process spawned without one of its own
     * (Erlang's +hmax, +hmaxk, +hmaxel); size 0: no limit. */
    grove_max_heap_t max_heap;
} grove_config_t;

/* Starts the runtime's scheduler threads. cfg may be NULL for defaults.
 * Returns 0, GROVE_ESTARTED if running, GROVE_EINVAL for a bad field,
 * GROVE_ENOMEM or GROVE_ESYSCALL. */
GROVE_EXPORT int grove_start(const grove_config_t *cfg);

/* Orderly stop: kills every remaining process (reason killed), waits for
 * their exits, joins the scheduler threads and frees the runtime. Must be
 * called from outside any process, and no other thread may call into the
 * runtime (grove_send from a thread of the program, say) while it runs:
 * stop such threads first. Returns 0, GROVE_ENOTSTARTED or GROVE_EBUSY
 * (called from a process). */
GROVE_EXPORT int grove_stop(void);

/* True while the runtime is started. */
GROVE_EXPORT bool grove_running(void);

/* Convenience for main(): starts the runtime if needed, spawns fn(arg) as a
 * process, blocks the calling OS thread until that process exits, writes
 * its exit reason to *reason (may be NULL) and, if this call started the
 * runtime, stops it. Returns 0, an error of grove_start / grove_spawn, or
 * GROVE_EBUSY (called from a process). */
GROVE_EXPORT int grove_run(void (*fn)(void *), void *arg,
                           grove_reason_t *reason);

/* Blocks the calling OS thread (not a process) until pid exits, up to
 * timeout_ms; writes its exit reason (reason may be NULL). Returns 0,
 * GROVE_ENOPROC (already dead, or never existed: reason unknown),
 * GROVE_ETIMEDOUT, GROVE_EINVAL (GROVE_PID_NONE, a bad timeout),
 * GROVE_EBUSY (called from a process: use a monitor) or
 * GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_wait(grove_pid_t pid, grove_timeout_t timeout_ms,
                            grove_reason_t *reason);

/* Milliseconds on the runtime's monotonic clock since grove_start: the
 * clock timers and timeouts use. In deterministic builds it is logical
 * and advances only when nothing is runnable, so measure durations of
 * Grove operations with it, not with the wall clock. 0 when stopped. */
GROVE_EXPORT uint64_t grove_now_ms(void);

/* The number of scheduler threads (0 when stopped). */
GROVE_EXPORT int grove_scheduler_count(void);

/* Runtime-wide counters, for tests and the observer. */
typedef struct grove_stats {
    uint64_t processes_alive;
    uint64_t processes_spawned;
    uint64_t processes_exited;
    uint64_t processes_crashed; /* exits by fault or assert */
    uint64_t messages_live;     /* allocated and not yet freed */
    uint64_t timers_live;
    uint64_t stacks_mapped;     /* stacks with address space reserved */
    uint64_t stacks_parked;     /* idle stacks whose pages were given back */
    uint64_t resources_live;
    uint64_t arena_bytes_live;
    uint64_t long_schedules;    /* long-schedule reports so far */
    uint64_t steals;
} grove_stats_t;

/* Fills *out with the runtime's counters. Returns 0 or GROVE_EINVAL. */
GROVE_EXPORT int grove_stats(grove_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
