/* Grove DynamicSupervisor: Elixir's supervisor for children started at
 * run time (sessions, game rooms, connections, job workers).
 *
 * It starts with no children; start_child adds one. Strategy is always
 * one_for_one. Children are found by pid in a table, so starting,
 * restarting and stopping any child is O(1) whatever their number; when
 * the supervisor stops, all children are shut down at once and it waits
 * for them together: a stop takes as long as the slowest child.
 */
#ifndef GROVE_DYNAMIC_SUPERVISOR_H
#define GROVE_DYNAMIC_SUPERVISOR_H

#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GROVE_MAX_CHILDREN_INFINITY 0u

typedef struct grove_dynsup_opts {
    bool link;
    const char *name;       /* local name */
    const grove_via_t *via; /* or a via name */
    const void *via_key;
    size_t via_key_len;
    int max_restarts;       /* 0: 3; GROVE_NO_RESTARTS: none allowed */
    int max_seconds;        /* 0: 5 */
    /* Children allowed at once, restarting ones included; 0: unlimited.
     * To refuse every start, use GROVE_MAX_CHILDREN_NONE. */
    uint32_t max_children;
    /* Elixir's extra_arguments. C has no argument lists: when set, it is
     * handed to children whose spec has start_extra, on every start and
     * restart, before their own arg. */
    void *extra;
} grove_dynsup_opts_t;

#define GROVE_MAX_CHILDREN_NONE UINT32_MAX

/* A child start function that also gets the supervisor's extra pointer
 * (extra_arguments). Set it in a child spec through
 * grove_child_spec_t.start_extra. */
typedef int (*grove_start_extra_fn)(void *extra, void *arg, grove_pid_t *pid,
                                    grove_reason_t *why);

/* Starts a DynamicSupervisor. Returns 0, GROVE_EINVAL (a bad option;
 * why names a bad max_restarts or max_seconds), GROVE_EALREADYSTARTED
 * (*pid holder), GROVE_ENOMEM, GROVE_ELIMIT, GROVE_ENOTPROC or
 * GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_dynsup_start(const grove_dynsup_opts_t *opts,
                                    grove_pid_t *pid, grove_reason_t *why);

/* Starts a child from spec (its id is ignored; significant is refused).
 * Returns 0 with *pid; GROVE_EIGNORE (nothing stored); GROVE_EMAXCHILDREN;
 * GROVE_EINVAL (*why names the field); GROVE_EALREADYSTARTED (the child's
 * own name clash; *pid holder); GROVE_ESTARTFAIL (*why as the start
 * function gave it); GROVE_ENOPROC (no supervisor); GROVE_ECALLINGSELF
 * (from the supervisor itself); GROVE_ENOTPROC (not from a process). */
GROVE_EXPORT int grove_dynsup_start_child(grove_server_t sup,
                                          const grove_child_spec_t *spec,
                                          grove_pid_t *pid,
                                          grove_reason_t *why);

/* Shuts a child down by pid and forgets it (never restarted). Works on a
 * restarting child by its old pid. Returns 0, GROVE_ENOTFOUND (not a
 * current child), GROVE_ENOPROC, GROVE_EINVAL (a malformed reference) or
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_dynsup_terminate_child(grove_server_t sup,
                                              grove_pid_t child);

/* Lists children (no defined order); entries have id "" and state
 * running or restarting. Writes up to max and the total to *n. Returns
 * 0, GROVE_EINVAL, GROVE_ENOPROC or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_dynsup_which_children(grove_server_t sup,
                                             grove_child_info_t *out,
                                             size_t max, size_t *n);

/* specs: children (restarting included); active: running; workers and
 * supervisors by type (restarting included). Returns 0, GROVE_EINVAL,
 * GROVE_ENOPROC or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_dynsup_count_children(grove_server_t sup,
                                             grove_child_counts_t *out);

/* Restart statistics, as grove_sup_stats gives a Supervisor's: automatic
 * restarts so far, those in the intensity window as of the last restart,
 * strategy (always one_for_one), max_restarts and max_seconds. Returns 0,
 * GROVE_EINVAL, GROVE_ENOPROC or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_dynsup_stats(grove_server_t sup,
                                    grove_sup_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
