/* The core layer's interface for the layers above it (io, behaviours,
 * observe). Everything else in src/core is private. */
#ifndef GROVE_CORE_H
#define GROVE_CORE_H

#include "base/base.h"
#include "grove/logger.h"
#include "grove/message.h"
#include "grove/process.h"
#include "grove/resource.h"
#include "grove/runtime.h"

/* Formats a backtrace (addresses) into text lines "  #N 0xADDR sym+off". */
GROVE__HIDDEN int grove__format_backtrace(void *const *bt, int n, char *buf,
                                          size_t size);

/* The log sink: the logger's handlers are registered here. */
GROVE__HIDDEN void grove__log_emit(const grove_log_event_t *ev);

/* ---- for behaviours ------------------------------------------------------ */

/* Internal message flags, invisible to grove_msg_* accessors. */
#define GROVE__MSGF_CALL 0x04u  /* a gen_server call; ref is the reply ref */
#define GROVE__MSGF_CAST 0x08u  /* a gen_server cast */
#define GROVE__MSGF_ALIAS 0x10u /* delivered only while ref is an active
                                   alias of the receiver (late replies) */
#define GROVE__MSGF_ACK 0x20u   /* a start acknowledgement */
#define GROVE__MSGF_STOP 0x40u  /* a stop request; data is the reason */
#define GROVE__MSGF_SYS 0x80u   /* a behaviour's own request (sup API) */

/* Sends a copy of data with internal flags. Returns as grove_send. */
GROVE__HIDDEN int grove__send_ex(grove_pid_t to, uint64_t tag, grove_ref_t ref,
                                 const void *data, size_t size,
                                 unsigned flags);
/* A gen_server call: grove__send_ex(to, …, flags) whose message also
 * sets up a monitor of to under ref (a monitor request and the message
 * in one), ref being an alias of the caller while the monitor lasts: a
 * message sent with GROVE__MSGF_ALIAS and ref is dropped once the
 * monitor has ended (answered, demonitored or DOWN). Returns as
 * grove__send_ex; on an error the monitor is gone. */
GROVE__HIDDEN int grove__send_call(grove_pid_t to, uint64_t tag,
                                   grove_ref_t ref, const void *data,
                                   size_t size, unsigned flags);
/* A reply to a call's ref (grove__send_reliable). When the replier is the
 * process the caller monitors under ref, that monitor ends here and the
 * caller, seeing the reply come from it, calls grove__demonitor_replied
 * instead of grove_demonitor. */
GROVE__HIDDEN int grove__send_reply(grove_pid_t to, uint64_t tag,
                                    grove_ref_t ref, const void *data,
                                    size_t size, unsigned flags);
GROVE__HIDDEN void grove__demonitor_replied(grove_ref_t ref);
/* The replier's half of that: after answering under ref, ends the
 * calling process's side of the monitor watcher holds under ref, if it
 * does (a start acknowledgement, a reply). */
GROVE__HIDDEN void grove__monitor_answered(grove_pid_t watcher,
                                           grove_ref_t ref);
/* A process resource. grove_resource_attach allocates one; a record that
 * needs one per process (the registry's owner record) may hold it inside
 * and attach it with grove__resource_embed: one allocation, not two. */
struct grove_resource {
    grove__dlist_t link;
    void (*dtor)(void *);
    void *ptr;
    struct grove__proc *owner;
    bool embedded; /* not freed at exit: its holder owns the memory */
};
/* Attaches r, storage the caller keeps until dtor has run or r was
 * detached, to the calling process as grove_resource_attach does. 0,
 * GROVE_ENOTPROC, GROVE_EINVAL (no dtor), GROVE_ENOMEM. */
GROVE__HIDDEN int grove__resource_embed(grove_resource_t *r,
                                        void (*dtor)(void *), void *ptr);
/* Detaches r, attached with grove__resource_embed by the calling
 * process, without running its dtor; r's memory stays its holder's. */
GROVE__HIDDEN void grove__resource_unembed(grove_resource_t *r);
/* As grove__send_ex, but out of memory it waits for memory instead of
 * failing: for replies and self-messages that someone waits on. */
GROVE__HIDDEN int grove__send_reliable(grove_pid_t to, uint64_t tag,
                                       grove_ref_t ref, const void *data,
                                       size_t size, unsigned flags);
GROVE__HIDDEN unsigned grove__msg_flags(const grove_msg_t *m);
/* grove_spawn, with the monitor (opts->monitor) under mref, a reference
 * the caller made with grove_make_ref (0: a new one), so a
 * grove_recv_ref for it skips what was queued before. flags:
 * GROVE__SPAWN_AWAITED when the caller waits for the child right away (a
 * synchronous start): the child runs next on the caller's core, where no
 * idle scheduler takes it (as every spawn in Go), instead of where a
 * thief would; a start then never crosses cores. A non-zero arg_copy
 * (at most GROVE__OWNED_INLINE) copies that many bytes of arg into the
 * child's inline room, and fn gets the copy: what the starter hands over
 * needs no allocation and outlives the starter. */
#define GROVE__SPAWN_AWAITED 1u
GROVE__HIDDEN int grove__spawn(grove_entry_fn fn, void *arg, size_t arg_copy,
                               const grove_spawn_opts_t *opts,
                               grove_pid_t *out, uint64_t mref,
                               unsigned flags);
/* A supervisor's shutdown of pid in one signal: monitors it (*mref),
 * unlinks from it and sends it an exit signal with reason, with exactly
 * the effect of grove_monitor, grove_unlink and grove_exit_signal in that
 * order, but one delivery and one wake-up. Returns 0, GROVE_EINVAL,
 * GROVE_ENOTPROC or GROVE_ENOMEM (nothing was sent). */
GROVE__HIDDEN int grove__shutdown_signal(grove_pid_t pid,
                                         const grove_reason_t *reason,
                                         grove_ref_t *mref);
/* Starts loading what a signal to pid will touch: its process slot and
 * the caller's link to it. A hint for loops over many processes (a
 * supervisor stopping its children), issued a few iterations ahead. */
GROVE__HIDDEN void grove__prefetch_peer(grove_pid_t pid);
/* Makes room in the caller's link table for n more links, so that a
 * supervisor starting a list of children does not rehash it child by
 * child. A hint: returns 0, GROVE_ENOTPROC or GROVE_ENOMEM, and linking
 * works the same either way. */
GROVE__HIDDEN int grove__links_reserve(size_t n);
/* Monitors pid under a reference the caller made (grove_make_ref), an
 * alias of the caller while the monitor lasts (as grove__send_call's). */
GROVE__HIDDEN int grove__monitor_with_ref(grove_pid_t pid, grove_ref_t ref);
/* A hook run on the process's own stack when it ends itself through
 * grove_exit, grove_exit_error or a failed GROVE_ASSERT (not on faults,
 * kills or exit signals): gen_server's terminate. Cleared before it runs. */
typedef void (*grove__exit_hook_fn)(void *arg, const grove_reason_t *reason);
GROVE__HIDDEN void grove__set_exit_hook(grove__exit_hook_fn fn, void *arg);
/* Extra text for the calling process's crash reports (last message,
 * state summary). fn runs on the scheduler while the report is made. */
typedef int (*grove__report_fn)(void *arg, char *buf, size_t size);
GROVE__HIDDEN void grove__set_report_hook(grove__report_fn fn, void *arg);
/* Registers fn to run during grove_stop, after every process has exited
 * and before the schedulers stop, in reverse order of registration: an
 * upper layer's teardown (the io layer closes its poller). Each fn is
 * registered once; registering it again does nothing. Returns 0 or
 * GROVE_ENOMEM. */
GROVE__HIDDEN int grove__at_stop(void (*fn)(void));

/* Bytes a process keeps for grove__owned_inline. */
#define GROVE__OWNED_INLINE 96
/* Returns the calling process's inline room for a behaviour's state, size
 * bytes zeroed (nothing to free; it lasts as long as the process); NULL
 * outside a process or when size is over GROVE__OWNED_INLINE. */
GROVE__HIDDEN void *grove__owned_inline(size_t size);

/* Whether the calling process has sent so much since it was last
 * scheduled that a behaviour's loop should yield before its next
 * message. */
GROVE__HIDDEN bool grove__slice_spent(void);

/* A poller the schedulers drive (the io layer's), as Go's netpoller: an
 * idle scheduler sleeps in it instead of on its condition variable, so a
 * descriptor that becomes ready wakes the scheduler that then runs the
 * woken process, with no thread in between; busy schedulers look at it
 * every few dozen scheduling rounds, and the service thread whenever
 * nobody did for a few ms. */
typedef struct grove__netpoll {
    /* Turns what is ready into wake-ups, waiting up to timeout_ms for it
     * (0: only a look; -1: until woken). Only a caller with a timeout
     * other than 0 consumes wake requests. Returns how many reports it
     * handled. */
    int (*poll)(int timeout_ms);
    /* Makes a poll in progress return; any thread. */
    void (*wake)(void);
} grove__netpoll_t;

/* Installs np (static storage) for the schedulers to drive. */
GROVE__HIDDEN void grove__netpoll_set(const grove__netpoll_t *np);
/* Uninstalls the poller and returns once no thread is inside it. */
GROVE__HIDDEN void grove__netpoll_clear(void);

/* Whether a message or signal already waits for the calling process, so
 * that its next receive would not block. A loop that yields for fairness
 * only needs to when this holds: otherwise its wait gives the scheduler
 * back anyway, and a yield would only make it stealable. */
GROVE__HIDDEN bool grove__mail_waiting(void);

/* Whether name is a valid process name: 1 to GROVE_NAME_MAX - 1 bytes. */
GROVE__HIDDEN bool grove__name_valid(const char *name);

/* Releases the calling process's registered name, if it has one. */
GROVE__HIDDEN void grove__unregister_self(void);

/* Whether pid is well formed for the running runtime, alive or not (what
 * can be monitored or sent to; GROVE_PID_NONE is not). */
GROVE__HIDDEN bool grove__pid_valid(grove_pid_t pid);

/* Labels the calling process with the behaviour it runs (static text),
 * shown in process info and by the observer. */
GROVE__HIDDEN void grove__set_behaviour(const char *name);

/* Pins the calling process's stack while it waits (on) or unpins it:
 * a pinned stack is never parked, so another thread may read and write
 * the waiting process's stack variables (the blocking-call pool does).
 * Returns the previous setting. */
GROVE__HIDDEN bool grove__pin_stack(bool on);

/* The next time the calling process waits, its stack pages are given
 * back at once (hibernate). */
GROVE__HIDDEN void grove__hibernate_next(void);

/* grove_recv(out, timeout) for a loop that keeps nothing on its stack
 * between messages (a behaviour's top-level wait). When a message is
 * already queued, or the timeout is 0, it returns as grove_recv does.
 * Otherwise the process gives its stack back and this call never
 * returns: when a message, a signal or the timeout arrives, the process
 * starts again at resume(arg) on a fresh stack, and the first
 * grove__recv_stackless there continues the same wait (same deadline).
 * A pinned process keeps its stack and blocks as grove_recv does.
 * warm: the process keeps its stack while it is among the last few to
 * begin such a wait on its scheduler and that scheduler has work, and
 * returns here when woken meanwhile; once its scheduler takes the stack
 * back it starts again at resume(arg) as above.
 * Returns 0, GROVE_ETIMEDOUT, or grove_recv's errors. */
GROVE__HIDDEN int grove__recv_stackless(grove_msg_t **out,
                                        grove_timeout_t timeout,
                                        void (*resume)(void *), void *arg,
                                        bool warm);

#endif
