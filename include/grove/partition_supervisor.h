/* Grove PartitionSupervisor: Elixir's PartitionSupervisor, N copies of a
 * child under one supervisor, with work routed to one of them by key.
 *
 * A single DynamicSupervisor serializes every start_child through one
 * process; with N partitions, each a DynamicSupervisor, starts spread
 * over N processes. A key picks the partition: an integer key k goes to
 * partition |k| % N, a byte key to hash(key) % N (the hash may change
 * between versions: do not rely on the exact mapping, only on a key
 * always reaching the same partition while the count stays the same).
 *
 * The supervisor is found by its name, which is required: it is the
 * supervisor's registered local name, so grove_server_name(name) reaches
 * the top supervisor, and the routing functions take it. The partitions
 * are its children with ids "0" .. "N-1", started in that order. Routing
 * reads a shared table, not the supervisor: it costs no message.
 *
 * Elixir's {:via, PartitionSupervisor, {name, key}} becomes
 * grove_partition_server(name, key), a grove_server_t for the partition's
 * current pid; like the via form it cannot name a new process.
 */
#ifndef GROVE_PARTITION_SUPERVISOR_H
#define GROVE_PARTITION_SUPERVISOR_H

#include "dynamic_supervisor.h"
#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A partition started by a custom function: start and link a process
 * for partition number `partition`, write its pid, return 0 or an error
 * with *why (Elixir's :with_arguments receives the partition the same
 * way). */
typedef int (*grove_partition_start_fn)(void *arg, unsigned partition,
                                        grove_pid_t *pid,
                                        grove_reason_t *why);

typedef struct grove_partition_sup_opts {
    const char *name;    /* required: 1..63 bytes */
    unsigned partitions; /* 0: grove_scheduler_count() */
    bool link;           /* start_link (default: no link) */
    /* The top supervisor's flags: strategy (default one_for_one),
     * max_restarts (3), max_seconds (5); auto_shutdown must be never. */
    grove_sup_flags_t flags;
    /* Default partitions: DynamicSupervisors with these options (link,
     * name and via are ignored: each is linked to the top supervisor and
     * reached through routing). */
    grove_dynsup_opts_t dynsup;
    /* Or custom partitions, when start is set: */
    grove_partition_start_fn start;
    void *arg;                /* must outlive the supervisor */
    int type;                 /* grove_child_type_t; default worker */
    int restart;              /* grove_restart_t; default permanent */
    grove_timeout_t shutdown; /* 0: the default for type */
} grove_partition_sup_opts_t;

/* Starts the supervisor and its partitions, in order; returns once all
 * have started. Returns 0; GROVE_EINVAL (no name, a bad field: *why says
 * which); GROVE_EALREADYSTARTED (name taken: *pid is the holder);
 * GROVE_ESTARTFAIL (a partition failed: *why); GROVE_ENOMEM;
 * GROVE_ENOTPROC; GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_partition_sup_start(
    const grove_partition_sup_opts_t *opts, grove_pid_t *pid,
    grove_reason_t *why);

/* A child-spec start function for a partition supervisor inside a
 * supervision tree: .start = grove_partition_sup_child_start, .arg = a
 * grove_partition_sup_opts_t that outlives it, .type = GROVE_SUPERVISOR.
 * Starts it linked to the caller. */
GROVE_EXPORT int grove_partition_sup_child_start(void *opts, grove_pid_t *pid,
                                                 grove_reason_t *why);

/* The partition for an integer key (|key| % partitions): 0 and *pid;
 * GROVE_ENOTFOUND (no partition supervisor has that name); GROVE_ENOPROC
 * (no partitions after a resize to 0, or that partition is restarting);
 * GROVE_EINVAL. From any thread. */
GROVE_EXPORT int grove_partition_whereis(const char *name, int64_t key,
                                         grove_pid_t *pid);

/* The partition for a byte key (hash(key) % partitions). Returns as
 * grove_partition_whereis. */
GROVE_EXPORT int grove_partition_whereis_bytes(const char *name,
                                               const void *key, size_t len,
                                               grove_pid_t *pid);

/* A server reference to the partition for key, resolved now, to pass to
 * grove_dynsup_start_child, grove_gs_call and the like. When no partition
 * is found it holds GROVE_PID_NONE, which those calls refuse with
 * GROVE_EINVAL; use grove_partition_whereis to learn why. */
GROVE_EXPORT grove_server_t grove_partition_server(const char *name,
                                                   int64_t key);
GROVE_EXPORT grove_server_t grove_partition_server_bytes(const char *name,
                                                         const void *key,
                                                         size_t len);

/* The number of partitions keys are routed over now (it changes with
 * resize), or GROVE_ENOTFOUND / GROVE_EINVAL. */
GROVE_EXPORT int grove_partition_sup_partitions(const char *name);

/* The partitions themselves, as Elixir's which_children: entry i is
 * partition i (id "i"; pid NONE while it is stopped or restarting).
 * Writes up to max and the total to *n. Returns 0, GROVE_EINVAL,
 * GROVE_ENOPROC or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_partition_sup_which_children(const char *name,
                                                    grove_child_info_t *out,
                                                    size_t max, size_t *n);

/* count_children of the top supervisor: specs is the initial number of
 * partitions, active those running. Returns 0, GROVE_EINVAL,
 * GROVE_ENOPROC or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_partition_sup_count_children(const char *name,
                                                    grove_child_counts_t *out);

/* The sum of every running partition's own count_children: all the
 * children of all the DynamicSupervisor partitions. Returns 0,
 * GROVE_ENOTFOUND, GROVE_ENOTSUP (custom partitions), GROVE_EINVAL,
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_partition_sup_count_all(const char *name,
                                               grove_child_counts_t *out);

/* Routes keys over the first n partitions only, as resize!: partitions
 * from n up are stopped (their specs stay: count_children still shows the
 * initial number), and stopped ones below n are restarted. n may be 0 to
 * the initial number. Returns the previous number; GROVE_EINVAL (n too
 * big); GROVE_ENOTFOUND; GROVE_ENOTPROC. Calls must not overlap for one
 * supervisor. */
GROVE_EXPORT int grove_partition_sup_resize(const char *name, unsigned n);

#ifdef __cplusplus
}
#endif
#endif
