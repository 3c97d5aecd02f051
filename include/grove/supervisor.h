/* Grove supervisor: OTP's supervisor in C.
 *
 * A supervisor starts its children in list order, watches them and
 * restarts them by its strategy when they exit, within a restart intensity
 * (at most max_restarts restarts in max_seconds); past it, it shuts every
 * child down in reverse start order and exits with shutdown, handing the
 * failure to its own supervisor. Specs are plain structs where a zero field
 * means OTP's default.
 */
#ifndef GROVE_SUPERVISOR_H
#define GROVE_SUPERVISOR_H

#include "gen_server.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum grove_restart {
    GROVE_PERMANENT = 0, /* always restarted */
    GROVE_TRANSIENT,     /* restarted unless normal, shutdown, {shutdown,_} */
    GROVE_TEMPORARY      /* never restarted; its spec is dropped at exit */
} grove_restart_t;

typedef enum grove_child_type {
    GROVE_WORKER = 0,
    GROVE_SUPERVISOR
} grove_child_type_t;

/* Shutdown values (grove_child_spec_t.shutdown): a positive number of ms
 * to wait after the shutdown signal before killing; 0 for the default
 * (5000 ms for a worker, infinity for a supervisor); or: */
#define GROVE_SHUTDOWN_INFINITY ((grove_timeout_t)-1)
#define GROVE_SHUTDOWN_BRUTAL_KILL ((grove_timeout_t)-2)
#define GROVE_SHUTDOWN_IMMEDIATE ((grove_timeout_t)-3) /* OTP's 0 */

/* Restart backoff, beyond OTP: space a crashing child's restarts out
 * instead of restarting it at once. Off when initial_ms is 0 (OTP's
 * behaviour). The delay starts at initial_ms, doubles up to max_ms, gets
 * +/- jitter_pct percent of noise, and resets to initial_ms once the child
 * has run reset_after_ms without exiting. Each restart still counts toward
 * the intensity, when it happens. */
typedef struct grove_backoff {
    uint32_t initial_ms;
    uint32_t max_ms;         /* 0: 30000 */
    uint32_t jitter_pct;     /* 0..100 */
    uint32_t reset_after_ms; /* 0: 10000 */
} grove_backoff_t;

typedef struct grove_sup_spec grove_sup_spec_t;

/* How to start a child. Exactly one of start, gen_server, entry or
 * supervisor is set. The started process must be linked to the caller
 * (the supervisor): gen_server, entry and supervisor do that for you. */
typedef struct grove_child_spec {
    const char *id; /* required, unique in the supervisor, < 64 bytes */
    /* A custom start function (OTP's {M, F, A}): start and link a process,
     * write its pid, return 0; or GROVE_EIGNORE; or a negative error with
     * *why filled in. */
    int (*start)(void *arg, grove_pid_t *pid, grove_reason_t *why);
    /* A gen_server child: started with grove_gs_start(gen_server, arg,
     * gs_opts with link set). */
    const grove_gs_callbacks_t *gen_server;
    /* Start options of a gen_server or supervisor child (its name, ...);
     * link is always set. */
    const grove_gs_opts_t *gs_opts;
    /* A plain process child: spawned linked, running entry(arg). */
    void (*entry)(void *arg);
    /* A child supervisor (type is then GROVE_SUPERVISOR). */
    const grove_sup_spec_t *supervisor;
    void *arg;
    int restart;              /* grove_restart_t */
    grove_timeout_t shutdown; /* see GROVE_SHUTDOWN_* */
    int type;                 /* grove_child_type_t (set from supervisor) */
    bool significant;         /* see auto_shutdown */
    grove_backoff_t backoff;
    /* A start function that also receives a DynamicSupervisor's extra
     * pointer (its extra_arguments); in a plain supervisor extra is NULL.
     * Counts as a fifth way to start: set exactly one. */
    int (*start_extra)(void *extra, void *arg, grove_pid_t *pid,
                       grove_reason_t *why);
} grove_child_spec_t;

typedef enum grove_strategy {
    GROVE_ONE_FOR_ONE = 0,
    GROVE_ONE_FOR_ALL,
    GROVE_REST_FOR_ONE
} grove_strategy_t;

typedef enum grove_auto_shutdown {
    GROVE_AUTO_SHUTDOWN_NEVER = 0,
    GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT,
    GROVE_AUTO_SHUTDOWN_ALL_SIGNIFICANT
} grove_auto_shutdown_t;

/* max_restarts: 0 means the default, 3 (Elixir's); GROVE_NO_RESTARTS
 * means intensity 0 (the first restartable exit ends the supervisor). */
#define GROVE_NO_RESTARTS (-1)

typedef struct grove_sup_flags {
    int strategy;      /* grove_strategy_t */
    int max_restarts;  /* 0: 3 */
    int max_seconds;   /* 0: 5 */
    int auto_shutdown; /* grove_auto_shutdown_t */
} grove_sup_flags_t;

struct grove_sup_spec {
    const char *name; /* shown in reports; optional */
    grove_sup_flags_t flags;
    const grove_child_spec_t *children;
    size_t nchildren;
    /* Optional, as a module's init/1: fills *out (flags and children)
     * from arg; return 0 or GROVE_EIGNORE. It runs in the process that
     * calls grove_sup_start, and the children array is copied after it
     * returns, so it must not live on init's own stack. When set,
     * flags/children above are ignored. */
    int (*init)(void *arg, grove_sup_spec_t *out);
    void *init_arg;
};

/* Start options (name and link, as for a gen_server). */
typedef grove_gs_opts_t grove_sup_opts_t;

/* Starts a supervisor and its children, in order; returns once all have
 * started. Returns 0; GROVE_EIGNORE (init ignored); GROVE_EINVAL (a bad
 * flag or child spec: *why says which field, e.g. "invalid_restart_type
 * worker1"; or a bad option); GROVE_ESTARTFAIL (a child failed: the ones
 * already started were shut down in reverse order, *why is {shutdown,
 * failed_to_start_child ID: reason}); GROVE_EALREADYSTARTED (name taken,
 * *pid is the holder); GROVE_ENOMEM; GROVE_ENOTSTARTED; GROVE_ENOTPROC
 * (not called from a process). */
GROVE_EXPORT int grove_sup_start(const grove_sup_spec_t *spec,
                                 const grove_sup_opts_t *opts,
                                 grove_pid_t *pid, grove_reason_t *why);

/* The calls below on a running supervisor also return GROVE_EINVAL for
 * a malformed reference or argument (GROVE_PID_NONE, a NULL name, a NULL,
 * empty or too long id, a NULL out), GROVE_ECALLINGSELF from the
 * supervisor itself (a child's start function runs there) and
 * GROVE_ENOTPROC when not called from a process. */

/* Adds a child and starts it; it goes last in start order. Returns 0 (*pid
 * is NONE if its start returned ignore), GROVE_EALREADYSTARTED (id runs;
 * *pid is its pid), GROVE_EPRESENT (id known, not running), GROVE_EINVAL
 * (*why names the field), GROVE_ESTARTFAIL (*why), GROVE_ENOPROC (no such
 * supervisor), GROVE_ENOMEM, GROVE_ECALLINGSELF (from the supervisor
 * itself) or GROVE_ENOTPROC (not from a process). */
GROVE_EXPORT int grove_sup_start_child(grove_server_t sup,
                                       const grove_child_spec_t *spec,
                                       grove_pid_t *pid, grove_reason_t *why);
/* Stops a child by id with its shutdown procedure; keeps its spec
 * (deleted for a temporary child). Returns 0 (also if not running),
 * GROVE_ENOTFOUND or GROVE_ENOPROC. */
GROVE_EXPORT int grove_sup_terminate_child(grove_server_t sup,
                                           const char *id);
/* Starts a stopped child again (not counted toward intensity). Returns 0
 * (*pid, NONE if ignored), GROVE_ERUNNING, GROVE_ERESTARTING,
 * GROVE_ENOTFOUND, GROVE_ESTARTFAIL (*why) or GROVE_ENOPROC. */
GROVE_EXPORT int grove_sup_restart_child(grove_server_t sup, const char *id,
                                         grove_pid_t *pid,
                                         grove_reason_t *why);
/* Removes a stopped child's spec. Returns 0, GROVE_ERUNNING,
 * GROVE_ERESTARTING, GROVE_ENOTFOUND or GROVE_ENOPROC. */
GROVE_EXPORT int grove_sup_delete_child(grove_server_t sup, const char *id);

typedef enum grove_child_state {
    GROVE_CHILD_RUNNING = 1,
    GROVE_CHILD_RESTARTING, /* a restart failed or is delayed (backoff) */
    GROVE_CHILD_UNDEFINED   /* not running (ignored, terminated) */
} grove_child_state_t;

typedef struct grove_child_info {
    char id[64];
    grove_pid_t pid; /* NONE unless running */
    int state;       /* grove_child_state_t */
    int type;        /* grove_child_type_t */
    int restart;     /* grove_restart_t */
    uint32_t restart_delay_ms; /* backoff delay pending or last used */
    uint64_t restarts;         /* times this child was restarted */
} grove_child_info_t;

/* Lists children, newest position first (reverse start order), as OTP's
 * which_children. Writes up to max entries to out and the total to *n.
 * Returns 0 or GROVE_ENOPROC. */
GROVE_EXPORT int grove_sup_which_children(grove_server_t sup,
                                          grove_child_info_t *out, size_t max,
                                          size_t *n);

typedef struct grove_child_counts {
    size_t specs, active, supervisors, workers;
} grove_child_counts_t;

/* OTP's count_children. Returns 0 or GROVE_ENOPROC. */
GROVE_EXPORT int grove_sup_count_children(grove_server_t sup,
                                          grove_child_counts_t *out);

/* Copies a child's spec with every default filled in; out->id points to
 * idbuf (64 bytes). Returns 0, GROVE_ENOTFOUND or GROVE_ENOPROC. */
GROVE_EXPORT int grove_sup_get_childspec(grove_server_t sup, const char *id,
                                         grove_child_spec_t *out,
                                         char idbuf[64]);

/* Checks a child spec as start_child would. Returns 0 or GROVE_EINVAL
 * with *why naming the field. */
GROVE_EXPORT int grove_child_spec_check(const grove_child_spec_t *spec,
                                        const grove_sup_flags_t *flags,
                                        grove_reason_t *why);

/* Restart statistics of a supervisor, for tests and the observer. */
typedef struct grove_sup_stats {
    uint64_t restarts;   /* automatic restarts so far */
    uint64_t in_window;  /* restarts in the intensity window as of the
                            last restart (old ones leave at the next) */
    int strategy;
    int max_restarts, max_seconds;
} grove_sup_stats_t;
/* Fills *out. Returns 0 or GROVE_ENOPROC. */
GROVE_EXPORT int grove_sup_stats(grove_server_t sup, grove_sup_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
