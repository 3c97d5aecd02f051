/* Grove processes: spawn, exit, links, monitors, names, process info. */
#ifndef GROVE_PROCESS_H
#define GROVE_PROCESS_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A process's entry function. Returning from it exits with reason normal. */
typedef void (*grove_entry_fn)(void *arg);

/* Spawn options; zero fields mean the default. */
typedef struct grove_spawn_opts {
    size_t stack_size;        /* bytes; 0: the runtime's default */
    bool link;                /* link to the caller (spawn_link), atomically */
    bool monitor;             /* monitor from the caller (spawn_monitor) */
    grove_ref_t *monitor_ref; /* out: the monitor's reference */
    const char *name;         /* register this name before it runs */
    bool trap_exit;           /* start with trap_exit set */
    /* Erlang's spawn_opt max_heap_size; size 0: the runtime's default
     * (grove_config_t.max_heap). */
    grove_max_heap_t max_heap;
    /* Erlang's spawn_opt priority (grove_priority_t); 0: normal. */
    grove_priority_t priority;
} grove_spawn_opts_t;

/* Spawns fn(arg) as a new process. arg is passed as is: the caller keeps
 * it valid for as long as the new process uses it. opts may be NULL.
 * Callable from processes and from any other thread (link and monitor need
 * a calling process). Writes the pid to *out (may be NULL).
 * Returns 0, GROVE_EINVAL (NULL fn, bad stack size, link/monitor outside a
 * process), GROVE_EEXIST (name taken), GROVE_ELIMIT (process table full),
 * GROVE_ENOMEM or GROVE_ENOTSTARTED (also once grove_stop has begun). */
GROVE_EXPORT int grove_spawn(grove_entry_fn fn, void *arg,
                             const grove_spawn_opts_t *opts, grove_pid_t *out);

/* The calling process's pid; GROVE_PID_NONE outside a process. */
GROVE_EXPORT grove_pid_t grove_self(void);

/* Terminates the calling process with *reason (NULL: normal). Outside a
 * process it aborts the OS process, as that is a programming error. */
GROVE_NORETURN GROVE_EXPORT void grove_exit(const grove_reason_t *reason);

/* Terminates the calling process with an application error. */
GROVE_NORETURN GROVE_EXPORT void grove_exit_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends an exit signal with *reason to pid, as Erlang's exit(Pid, Reason):
 * kill is untrappable and the target dies with killed; normal is ignored
 * unless pid is the caller; a trapping target gets an EXIT message.
 * Callable from any thread. Returns 0, GROVE_EINVAL, GROVE_ENOPROC or
 * GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_exit_signal(grove_pid_t pid,
                                   const grove_reason_t *reason);

/* Sets the calling process's trap_exit flag; returns the previous value
 * (0 or 1) or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_trap_exit(bool on);

/* Sets the calling process's max heap size (process_flag(max_heap_size,
 * ...)): set->size 0 removes the limit. The new limit applies from the
 * heap's next growth. Writes the previous setting to *old (may be NULL);
 * set may be NULL to only read it. Returns 0 or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_max_heap(const grove_max_heap_t *set,
                                grove_max_heap_t *old);

/* Sets the calling process's priority (process_flag(priority, Level)),
 * from its next turn on. Returns the previous level (a grove_priority_t,
 * never negative), GROVE_EINVAL for an unknown level or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_set_priority(grove_priority_t level);

/* Links the caller and pid (idempotent; linking self does nothing).
 * Returns 0; GROVE_ENOPROC when pid is dead and the caller does not trap
 * exits (a trapping caller gets 0 and an EXIT message with noproc);
 * GROVE_EINVAL; GROVE_ENOTPROC. */
GROVE_EXPORT int grove_link(grove_pid_t pid);

/* Removes the link between the caller and pid, if any. Returns 0,
 * GROVE_EINVAL or GROVE_ENOTPROC. An EXIT message caused by the link may
 * already be queued; no new one will be. */
GROVE_EXPORT int grove_unlink(grove_pid_t pid);

/* Monitors pid: exactly one DOWN message with the pid's exit reason (noproc
 * if it is already dead) will arrive unless demonitored. Writes the
 * reference to *ref. Returns 0, GROVE_EINVAL or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_monitor(grove_pid_t pid, grove_ref_t *ref);

/* Monitors the process registered as name, resolving it once; the DOWN
 * message names it (grove_msg_name) and has reason noproc if nothing is
 * registered. Returns 0, GROVE_EINVAL or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_monitor_name(const char *name, grove_ref_t *ref);

/* demonitor flags */
#define GROVE_DEMONITOR_FLUSH 1u /* also remove a queued DOWN for ref */
#define GROVE_DEMONITOR_INFO 2u  /* return 1 if removed before it fired */

/* Removes a monitor made by the caller. Afterwards no DOWN for ref will be
 * queued. Returns 0 (with INFO: 1 if removed before firing, 0 if it had
 * fired or was unknown), GROVE_EINVAL or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_demonitor(grove_ref_t ref, unsigned flags);

/* ---- aliases (EEP 53) ------------------------------------------------------ */

/* An alias: a reference that names the process that made it. A message
 * sent to it (grove_send_alias) reaches that process only while the alias
 * is active; one sent after it was deactivated is dropped before it
 * reaches the mailbox, and one already queued stays. The message carries
 * the alias's reference, so grove_recv_ref(&m, alias.ref, ...) waits for
 * it. */
typedef struct grove_alias {
    grove_pid_t pid; /* the process the alias belongs to */
    grove_ref_t ref; /* the reference it is known by */
} grove_alias_t;

/* When an alias is deactivated by itself (grove_unalias always does). */
typedef enum grove_alias_mode {
    GROVE_ALIAS_EXPLICIT_UNALIAS = 0, /* only by grove_unalias */
    GROVE_ALIAS_REPLY = 1,            /* also once a message through it is
                                         received */
    GROVE_ALIAS_DEMONITOR = 2,        /* monitor alias: also when the monitor
                                         goes (DOWN or grove_demonitor) */
    GROVE_ALIAS_REPLY_DEMONITOR = 3,  /* as DEMONITOR, and a message through
                                         it also removes the monitor */
} grove_alias_mode_t;

/* Makes a new alias of the caller (erlang:alias/1). mode is
 * GROVE_ALIAS_EXPLICIT_UNALIAS or GROVE_ALIAS_REPLY. Returns 0,
 * GROVE_EINVAL (NULL alias, other mode), GROVE_ENOTPROC or GROVE_ENOMEM. */
GROVE_EXPORT int grove_alias(grove_alias_mode_t mode, grove_alias_t *alias);

/* Deactivates an alias of the caller (erlang:unalias/1). Messages sent
 * to it before the call stay (the caller acts on what has arrived, as
 * grove_demonitor does); later ones are dropped. Returns 1 if it was
 * active, 0 if not (already deactivated, or another process's),
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_unalias(grove_alias_t alias);

/* Sends a copy of data to alias, carrying alias.ref. Callable from any
 * thread. Returns 0 (also when the alias is no longer active: the
 * receiver drops it, as Erlang does), GROVE_ENOPROC (its process is dead),
 * GROVE_EINVAL (no reference, NULL data with size > 0, size too big, a
 * malformed pid), GROVE_ENOMEM or GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_send_alias(grove_alias_t alias, uint64_t tag,
                                  const void *data, size_t size);

/* Monitors pid as grove_monitor does, with the monitor's reference also an
 * alias of the caller (erlang:monitor/3 with {alias, Mode}). mode is
 * GROVE_ALIAS_EXPLICIT_UNALIAS, GROVE_ALIAS_DEMONITOR or
 * GROVE_ALIAS_REPLY_DEMONITOR. Writes the alias (its ref is the monitor's)
 * to *alias. Returns 0, GROVE_EINVAL, GROVE_ENOTPROC or GROVE_ENOMEM. */
GROVE_EXPORT int grove_monitor_alias(grove_pid_t pid, grove_alias_mode_t mode,
                                     grove_alias_t *alias);

/* True when pid names a live process. Callable from any thread. */
GROVE_EXPORT bool grove_is_alive(grove_pid_t pid);

/* Gives the scheduler to other runnable processes, and acts on signals
 * that arrived (a pending kill ends the caller here). No-op outside a
 * process. */
GROVE_EXPORT void grove_yield(void);

/* erlang:hibernate/3: the caller gives its stack back and waits for a
 * message; when one is queued (at once, if one already is), the process
 * starts again at fn(arg) on a fresh stack, with nothing of the old one
 * left, and ends normally when fn returns. The message stays queued for
 * fn to receive. Signals are acted on while it waits. Does not return on
 * success. Returns GROVE_ENOTPROC outside a process, GROVE_EINVAL for a
 * NULL fn. */
GROVE_EXPORT int grove_hibernate(void (*fn)(void *arg), void *arg);

/* The process dictionary (Erlang's put, get, erase): values private to
 * the calling process under string keys, freed when it exits, whatever
 * the reason. Where a thread-local would be wrong (a process may run on
 * any scheduler thread), it keeps per-process context.
 *
 * grove_dict_put stores a copy of size bytes under key (1 or more
 * characters), replacing an earlier value. Returns 0, GROVE_EINVAL (NULL
 * or empty key; NULL value with size > 0), GROVE_ENOTPROC or GROVE_ENOMEM
 * (the earlier value stays). */
GROVE_EXPORT int grove_dict_put(const char *key, const void *value,
                                size_t size);
/* The value under key, 16-byte aligned, valid until key is put again or
 * erased or the process exits; its size goes to *size (if not NULL).
 * NULL (and size 0) when key is absent or NULL, or outside a process. */
GROVE_EXPORT const void *grove_dict_get(const char *key, size_t *size);
/* Removes key. Returns 0, GROVE_ENOTFOUND, GROVE_EINVAL (NULL key) or
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_dict_erase(const char *key);
/* Calls fn (if not NULL) for every entry, oldest first; fn must not
 * change the dictionary. Returns the number of entries or
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_dict_keys(void (*fn)(const char *key,
                                            const void *value, size_t size,
                                            void *arg),
                                 void *arg);
/* Removes every entry (Erlang's erase/0). Returns how many there were,
 * or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_dict_clear(void);

/* Suspends the caller for ms milliseconds; signals are still acted on.
 * Returns 0, GROVE_EINVAL or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_sleep(grove_timeout_t ms);

/* Registers name (1..63 bytes) for pid. Returns 0, GROVE_EINVAL,
 * GROVE_EEXIST (name taken), GROVE_EALREADY (pid already has a name) or
 * GROVE_ENOPROC. The name is released when the process exits, before its
 * links and monitors hear of it. */
GROVE_EXPORT int grove_register(const char *name, grove_pid_t pid);
/* Removes a registered name. Returns 0, GROVE_EINVAL or GROVE_ENOTFOUND. */
GROVE_EXPORT int grove_unregister(const char *name);
/* Looks a name up. Returns 0 and writes *pid, GROVE_EINVAL or
 * GROVE_ENOTFOUND. */
GROVE_EXPORT int grove_whereis(const char *name, grove_pid_t *pid);

#define GROVE_NAME_MAX 64

typedef enum grove_proc_status {
    GROVE_STATUS_RUNNABLE = 1,
    GROVE_STATUS_RUNNING,
    GROVE_STATUS_WAITING,
    GROVE_STATUS_EXITING
} grove_proc_status_t;

/* A snapshot of one process. */
typedef struct grove_process_info {
    grove_pid_t pid;
    int status;               /* grove_proc_status_t */
    size_t mailbox_len;       /* messages queued, received or not */
    size_t memory;            /* bytes: process, stack in use, mailbox,
                                 arena, dictionary */
    size_t links;
    size_t monitors;          /* monitors this process holds */
    size_t monitored_by;      /* monitors on this process */
    bool trap_exit;
    char name[GROVE_NAME_MAX]; /* "" if none */
    size_t stack_size;        /* usable bytes */
    size_t stack_used;        /* bytes in use when last switched out */
    bool stack_parked;        /* pages given back while idle */
    uint64_t reductions;      /* times it was scheduled */
    grove_pid_t parent;       /* the process that spawned it (NONE if a
                                 thread outside the runtime did) */
    char behaviour[32];       /* "supervisor", "dynamic_supervisor",
                                 a gen_server's callbacks name, or "" */
    size_t dictionary;        /* entries in its process dictionary */
    size_t heap_size;         /* bytes its max heap size counts */
    grove_max_heap_t max_heap; /* its limit (size 0: none) */
    grove_priority_t priority;
} grove_process_info_t;

/* Fills *out for pid. Callable from any thread; fields another thread
 * changes are a recent value. Returns 0, GROVE_EINVAL or GROVE_ENOPROC. */
GROVE_EXPORT int grove_process_info(grove_pid_t pid, grove_process_info_t *out);

/* Calls fn for every live process, with its pid, from the calling thread.
 * Returns the number visited or GROVE_EINVAL. */
GROVE_EXPORT int grove_processes(void (*fn)(grove_pid_t pid, void *arg),
                                 void *arg);

/* Crashes the calling process with reason assert ("file:line: expr")
 * when cond is false. Never compiled out. */
#define GROVE_ASSERT(cond)                                                  \
    ((cond) ? (void)0 : grove_assert_fail(#cond, __FILE__, __LINE__))

GROVE_NORETURN GROVE_EXPORT void grove_assert_fail(const char *expr,
                                              const char *file, int line);

#ifdef __cplusplus
}
#endif
#endif
