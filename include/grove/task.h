/* Grove Task and Task.Supervisor: Elixir's one-off computations run in
 * their own process, whose result the starter awaits.
 *
 * A task runs a C function in a new process:
 *
 *     int fn(void *arg, void **result, size_t *size);
 *
 * It returns 0 and may set *result to a malloc'd buffer of *size bytes;
 * the task hands those bytes to the process awaiting it (they arrive in
 * the reply message, freed with it) and frees the buffer. A non-zero
 * return ends the task with an error reason carrying that code, as an
 * exception ends an Elixir task.
 *
 * Async tasks (grove_task_async, grove_task_sup_async) are linked to the
 * caller and monitored through a reference that is also an alias of the
 * caller: once the caller stops waiting (await timed out, shutdown) a late
 * reply or DOWN never reaches it. grove_task_sup_async_nolink runs the
 * task without the link: its failure reaches the caller only as a DOWN.
 *
 * A task supervisor is a DynamicSupervisor (grove_dynsup_* works on it)
 * whose children default to temporary with a 5000 ms shutdown. A task
 * started by it does no work until its owner has set up the monitor and
 * handed it over: if the owner dies first, the task exits {shutdown,
 * owner's reason}; if nothing arrives within 5000 ms it exits timeout.
 */
#ifndef GROVE_TASK_H
#define GROVE_TASK_H

#include "dynamic_supervisor.h"
#include "message.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The work a task runs (see above). */
typedef int (*grove_task_fn)(void *arg, void **result, size_t *size);

/* An async task, as Elixir's %Task{}: a plain value. Only its owner (the
 * process that started it) may await, yield or shut it down. A task that
 * has answered or exited is spent: ref becomes GROVE_REF_NONE. */
typedef struct grove_task {
    grove_pid_t pid;
    grove_ref_t ref; /* monitor reference and alias of the owner */
    grove_pid_t owner;
} grove_task_t;

#define GROVE_TASK_DEFAULT_TIMEOUT 5000

/* The tag of a task's reply message (its data is the result's bytes). */
#define GROVE_TASK_REPLY_TAG UINT64_C(0xffffffffffff0201)

/* Starts fn(arg) in a new process linked to the caller, as Task.async.
 * arg is passed as is: keep it valid while the task runs. Writes *task.
 * Returns 0, GROVE_EINVAL (NULL fn or task), GROVE_ENOTPROC (not called
 * from a process), GROVE_ELIMIT or GROVE_ENOMEM. */
GROVE_EXPORT int grove_task_async(grove_task_fn fn, void *arg,
                                  grove_task_t *task);

/* Waits for the task's result, as Task.await (timeout GROVE_INFINITY, or
 * ms; GROVE_TASK_DEFAULT_TIMEOUT is Elixir's default). On success returns
 * 0 and *reply, the message holding the result bytes (grove_msg_data,
 * grove_msg_size; free it with grove_msg_free; reply may be NULL to drop
 * it). Otherwise the CALLER EXITS, as in Elixir: with reason timeout when
 * no result came in time (the monitor and alias are removed first, so
 * nothing of the task is left in its mailbox; a linked task then dies
 * with the caller), or with the task's own exit reason when it exited
 * before answering (noproc if it never existed). Returns GROVE_EINVAL
 * (NULL, spent or not the caller's task, bad timeout) or GROVE_ENOTPROC
 * without exiting. */
GROVE_EXPORT int grove_task_await(grove_task_t *task, grove_timeout_t timeout,
                                  grove_msg_t **reply);

/* Waits up to timeout for the task's result without ever exiting, as
 * Task.yield. Returns 0 and *reply (the task is spent); GROVE_EEXITED
 * when it exited before answering (*why gets its reason, may be NULL; the
 * task is spent); GROVE_ETIMEDOUT when it is still running (the task
 * stays valid: yield, await or shut it down later); GROVE_EINVAL or
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_task_yield(grove_task_t *task, grove_timeout_t timeout,
                                  grove_msg_t **reply, grove_reason_t *why);

/* Unlinks and stops the task, as Task.shutdown: it is sent an exit signal
 * shutdown and killed if it has not exited after shutdown ms (0: 5000;
 * GROVE_SHUTDOWN_INFINITY; GROVE_SHUTDOWN_BRUTAL_KILL kills at once).
 * Returns 0 and *reply when its result arrived before it stopped (it had
 * completed); GROVE_EEXITED when it stopped without a result: *why is
 * shutdown or killed when this call stopped it, or the reason it exited
 * with before. The task is spent either way. GROVE_EINVAL,
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_task_shutdown(grove_task_t *task,
                                     grove_timeout_t shutdown,
                                     grove_msg_t **reply,
                                     grove_reason_t *why);

/* ---- Task.Supervisor ---------------------------------------------------- */

typedef struct grove_task_sup_opts {
    bool link;              /* start_link (default: no link) */
    const char *name;       /* local name */
    const grove_via_t *via; /* or a via name */
    const void *via_key;
    size_t via_key_len;
    int max_restarts;       /* 0: 3; GROVE_NO_RESTARTS: none allowed */
    int max_seconds;        /* 0: 5 */
    uint32_t max_children;  /* 0: unlimited; GROVE_MAX_CHILDREN_NONE */
} grove_task_sup_opts_t;

/* Starts a task supervisor: a DynamicSupervisor, started through
 * grove_dynsup_start. opts may be NULL. Returns as grove_dynsup_start. */
GROVE_EXPORT int grove_task_sup_start(const grove_task_sup_opts_t *opts,
                                      grove_pid_t *pid, grove_reason_t *why);

/* A child-spec start function for a task supervisor inside a supervision
 * tree: .start = grove_task_sup_child_start, .arg = a pointer to a
 * grove_task_sup_opts_t (or NULL) that outlives the supervisor, .type =
 * GROVE_SUPERVISOR. Starts it linked to the caller. */
GROVE_EXPORT int grove_task_sup_child_start(void *opts, grove_pid_t *pid,
                                            grove_reason_t *why);

/* Restart types for supervised tasks; zero is the task default. */
typedef enum grove_task_restart {
    GROVE_TASK_TEMPORARY = 0, /* never restarted */
    GROVE_TASK_TRANSIENT,     /* restarted unless it exits normal/shutdown */
    GROVE_TASK_PERMANENT      /* always restarted, even after shutdown */
} grove_task_restart_t;

/* Options of one supervised task; zero fields mean the defaults. */
typedef struct grove_task_opts {
    int restart;              /* grove_task_restart_t; start_child only */
    grove_timeout_t shutdown; /* 0: 5000; or GROVE_SHUTDOWN_* */
} grove_task_opts_t;

/* Starts fn(arg) under the supervisor, linked only to it, as
 * Task.Supervisor.start_child; its result is dropped. A restarted task
 * runs fn(arg) again: arg must outlive every run. opts may be NULL.
 * Writes the pid (may be NULL). Returns 0, GROVE_EMAXCHILDREN,
 * GROVE_EINVAL (NULL fn, bad restart or shutdown, a malformed reference),
 * GROVE_ESTARTFAIL, GROVE_ENOPROC (no such supervisor), GROVE_ENOMEM or
 * GROVE_ENOTPROC.
 * A transient or permanent task keeps a small descriptor in the
 * supervisor until the supervisor exits. */
GROVE_EXPORT int grove_task_sup_start_child(grove_server_t sup,
                                            grove_task_fn fn, void *arg,
                                            const grove_task_opts_t *opts,
                                            grove_pid_t *pid);

/* Starts fn(arg) under the supervisor, linked to the caller and monitored
 * through an alias, as Task.Supervisor.async; await it like any task.
 * Only opts->shutdown is used (a restart other than temporary is
 * GROVE_EINVAL). Where Elixir raises when max_children is reached, this
 * returns GROVE_EMAXCHILDREN and nothing was started. Returns 0, that,
 * GROVE_EINVAL, GROVE_ENOPROC, GROVE_ESTARTFAIL, GROVE_ENOMEM or
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_task_sup_async(grove_server_t sup, grove_task_fn fn,
                                      void *arg,
                                      const grove_task_opts_t *opts,
                                      grove_task_t *task);

/* As grove_task_sup_async without the link, as async_nolink: a failing
 * task does not take the caller down; the caller gets a DOWN message
 * (reference task->ref) with its reason, which await and yield read. */
GROVE_EXPORT int grove_task_sup_async_nolink(grove_server_t sup,
                                             grove_task_fn fn, void *arg,
                                             const grove_task_opts_t *opts,
                                             grove_task_t *task);

/* Stops a task of the supervisor by pid. Returns 0, GROVE_ENOTFOUND (not
 * one of its tasks), GROVE_ENOPROC, GROVE_EINVAL (a malformed reference)
 * or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_task_sup_terminate_child(grove_server_t sup,
                                                grove_pid_t pid);

/* The pids of the supervisor's running tasks (restarting ones are left
 * out), in no defined order: writes up to max and the total to *n.
 * Returns 0, GROVE_EINVAL, GROVE_ENOPROC or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_task_sup_children(grove_server_t sup,
                                         grove_pid_t *out, size_t max,
                                         size_t *n);

/* ---- streams ------------------------------------------------------------ */

/* What became of one input of a stream. */
typedef struct grove_task_result {
    int status;          /* 0, GROVE_EEXITED or GROVE_ETIMEDOUT */
    grove_msg_t *reply;  /* status 0: the result (free it) */
    grove_reason_t reason; /* GROVE_EEXITED: the task's exit reason */
} grove_task_result_t;

/* What a stream does when a task overruns its timeout. */
typedef enum grove_task_on_timeout {
    GROVE_TASK_ON_TIMEOUT_EXIT = 0, /* stop the stream; the caller exits */
    GROVE_TASK_ON_TIMEOUT_KILL      /* kill that task: GROVE_ETIMEDOUT */
} grove_task_on_timeout_t;

typedef struct grove_task_stream_opts {
    size_t max_concurrency;  /* tasks at once; 0: grove_scheduler_count() */
    grove_timeout_t timeout; /* per task, from its start; 0: 5000 */
    int on_timeout;          /* grove_task_on_timeout_t */
    bool nolink;             /* supervised streams: async_stream_nolink */
    grove_timeout_t shutdown; /* supervised tasks: 0: 5000 */
} grove_task_stream_opts_t;

/* Runs fn(args[i]) for every i < n, at most max_concurrency at once,
 * each in its own task linked to the caller, as Task.async_stream, and
 * writes what became of input i to results[i] (input order, whatever the
 * order of completion). A task that crashes takes the caller down through
 * its link, as in Elixir, unless the caller traps exits: then its entry
 * is GROVE_EEXITED. A task over its timeout makes the caller exit with
 * timeout (the running tasks are killed first), or with on_timeout KILL
 * is killed and reported as GROVE_ETIMEDOUT. Nothing is left in the
 * caller's mailbox. opts may be NULL. Returns 0, GROVE_EINVAL,
 * GROVE_ENOTPROC, or a start error (GROVE_ELIMIT, GROVE_ENOMEM): the
 * running tasks were then killed and results holds nothing. */
GROVE_EXPORT int grove_task_async_stream(grove_task_fn fn, void *const *args,
                                         size_t n,
                                         const grove_task_stream_opts_t *opts,
                                         grove_task_result_t *results);

/* The same under a task supervisor, as Task.Supervisor.async_stream
 * (linked) or async_stream_nolink (opts->nolink: a crash is only an
 * entry GROVE_EEXITED). A start error (GROVE_EMAXCHILDREN, GROVE_ENOPROC,
 * ...) is returned as above. */
GROVE_EXPORT int grove_task_sup_async_stream(
    grove_server_t sup, grove_task_fn fn, void *const *args, size_t n,
    const grove_task_stream_opts_t *opts, grove_task_result_t *results);

#ifdef __cplusplus
}
#endif
#endif
