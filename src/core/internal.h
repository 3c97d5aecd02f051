/* Private definitions shared by the files of src/core. Not for other
 * layers: they use core/core.h. */
#ifndef GROVE_CORE_INTERNAL_H
#define GROVE_CORE_INTERNAL_H

#include <pthread.h>

#include "arch/arch.h"
#include "base/base.h"
#include "core/core.h"
#include "grove/logger.h"
#include "grove/message.h"
#include "grove/process.h"
#include "grove/resource.h"
#include "grove/runtime.h"

typedef struct grove__proc grove__proc_t;
typedef struct grove__sched grove__sched_t;

/* Runtime counters (grove_stats). Each scheduler counts in its own cache
 * line and threads outside the runtime in a global one; a reader sums
 * them. A count can go negative in one place (a message made on one
 * scheduler and freed on another); only the sum means anything. */
enum {
    CNT_MSGS,
    CNT_ALIVE,
    CNT_SPAWNED,
    CNT_EXITED,
    CNT_CRASHED,
    CNT_RES,
    CNT_ARENA,
    CNT_TIMERS,
    CNT__N
};

/* ---- messages and signals --------------------------------------------- */

/* Signal kinds travel through the same per-process inbox as messages, so
 * that Erlang's per-pair ordering between messages and signals holds by
 * construction. */
enum {
    SIG_USER = 0,  /* a message */
    SIG_EXIT,      /* an exit signal (link or exit call) */
    SIG_DOWN,      /* a monitor fired */
    SIG_LINK,      /* the sender linked to us */
    SIG_UNLINK,    /* the sender unlinked */
    SIG_MONITOR,   /* the sender monitors us under ref */
    SIG_DEMONITOR, /* the sender dropped monitor ref */
    SIG_SHUTDOWN   /* a supervisor's shutdown: SIG_MONITOR under ref, then
                    * SIG_UNLINK, then SIG_EXIT with the reason, as one */
};

#define MSGF_OWNED 1u    /* data is the sender's buffer, dtor frees it */
#define MSGF_VIA_LINK 2u /* SIG_EXIT caused by a link, not an exit call */
#define MSGF_MON 2u      /* SIG_USER: the sender monitors us under ref (a
                          * call: monitor request and message in one) */

struct grove_msg {
    grove__dlist_t link; /* inbox (next only), mailbox or received list */
    uint8_t kind;        /* grove_msg_kind_t once visible */
    uint8_t sig;
    uint8_t flags;
    uint8_t small;   /* from a scheduler's cache of small nodes */
    uint32_t to_gen; /* the incarnation it was sent to */
    uint64_t tag;
    grove_pid_t from;
    grove_ref_t ref;
    size_t size;
    void *data;
    void (*dtor)(void *);
    char *name; /* DOWN of a monitor by name */
    _Alignas(16) unsigned char inline_data[];
};

#define INBOX_CLOSED ((grove_msg_t *)(uintptr_t)1)
/* The inbox of a process waiting with nothing in it: whoever replaces
 * this (a sender pushing, its timer, the stack trimmer) with one CAS owns
 * the process's wake-up. It is there only while the process is parked. */
#define INBOX_WAITING ((grove_msg_t *)(uintptr_t)2)

/* Whether m asks its receiver to be monitored by the sender under ref:
 * if the receiver is gone, the sender gets DOWN noproc. */
static inline bool grove__msg_asks_monitor(const grove_msg_t *m)
{
    return m->sig == SIG_MONITOR || m->sig == SIG_SHUTDOWN ||
           (m->sig == SIG_USER && (m->flags & MSGF_MON));
}

grove_msg_t *grove__msg_new(size_t inline_size);
/* Frees a scheduler's cached message nodes (its thread is ending). */
void grove__msg_cache_drain(grove__sched_t *s);
/* Frees the nodes the schedulers' caches left in the shared depot. */
void grove__msg_depot_fini(void);
void grove__msg_destroy(grove_msg_t *m);
/* Pushes m to p if p is still incarnation gen. Returns 0, or
 * GROVE_ENOPROC after destroying m (or handing it to the dead-letter path
 * for link and monitor requests). */
int grove__deliver(grove__proc_t *p, uint32_t gen, grove_msg_t *m);
/* Answers a message that reached no live incarnation of its target and
 * destroys it: a link request with an exit signal noproc, a monitor
 * request (a call's too) with DOWN noproc, both naming dead; anything
 * else is dropped, as a send to a dead pid is. */
void grove__dead_letter(grove_msg_t *m, grove_pid_t dead);
/* grove__dead_letter for a message queued at p's slot, naming the
 * incarnation it was sent to (which may be an earlier one than p's). */
void grove__dead_letter_queued(grove__proc_t *p, grove_msg_t *m);

/* The pid of incarnation gen of a slot (grove_pid_slot and
 * grove_pid_generation take it apart). */
static inline grove_pid_t grove__pid_make(uint32_t slot, uint32_t gen)
{
    return (grove_pid_t){((uint64_t)gen << 32) | slot};
}

/* Sends an internal signal with an optional reason to pid. */
int grove__send_signal(grove_pid_t to, int sig, grove_pid_t from,
                       grove_ref_t ref, const grove_reason_t *reason,
                       uint8_t flags);
/* As grove__send_signal, for a signal an ending process sends from
 * scheduler s (EXIT to a link, DOWN to a watcher): it joins s's batch for
 * that process, if any, and reaches it with the batch. Nothing else comes
 * from the sender after, so holding it back reorders nothing the sender
 * sent. */
void grove__post_signal(grove__sched_t *s, grove_pid_t to, int sig,
                        grove_pid_t from, grove_ref_t ref,
                        const grove_reason_t *reason, uint8_t flags);
/* Delivers s's batch of signals: before s runs a process's code, when it
 * has nothing of its own left to run, and once a batch is POST_MAX long. */
void grove__post_flush(grove__sched_t *s);

/* ---- timers ------------------------------------------------------------ */

#define WHEEL_LEVELS 6
#define WHEEL_SLOTS 64

typedef struct grove__timer {
    grove__dlist_t link;
    uint64_t expiry; /* ms since runtime start */
    struct grove__wheel *wheel; /* set while queued */
    int kind;        /* TIMER_RECV, TIMER_SEND */
    uint32_t seq;    /* RECV: the wait it belongs to */
    grove__proc_t *proc; /* RECV: the waiting process */
} grove__timer_t;   /* TIMER_SEND timers extend it (timer.c) */

enum { TIMER_RECV = 1, TIMER_SEND = 2 };

typedef struct grove__wheel {
    grove__spin_t lock;
    uint64_t now; /* ms: everything before it has fired */
    uint64_t count;
    uint64_t occupied[WHEEL_LEVELS];
    grove__dlist_t slots[WHEEL_LEVELS][WHEEL_SLOTS];
    /* Timers whose expiry differs from now above the top level (past the
     * next 2^36 ms boundary): re-placed when the clock crosses it. */
    grove__dlist_t overflow;
} grove__wheel_t;

void grove__wheel_init(grove__wheel_t *w, uint64_t now);
/* Fires every timer due at now; returns how many. */
unsigned grove__wheel_advance(grove__wheel_t *w, uint64_t now);
/* The earliest ms at which a timer may be due, UINT64_MAX if none. */
uint64_t grove__wheel_next(grove__wheel_t *w);
void grove__wheel_fini(grove__wheel_t *w);
void grove__timer_arm_recv(grove__proc_t *p, uint64_t expiry_ms);
void grove__timer_cancel_recv(grove__proc_t *p);
uint64_t grove__ms_now(void);
void grove__timers_init(void);
void grove__timers_fini(void);
/* Runs due timers of the calling scheduler and the global wheel; returns
 * the ms of the next possible expiry. */
uint64_t grove__timers_run(grove__sched_t *s);

/* ---- processes --------------------------------------------------------- */

enum {
    PS_FREE = 0,
    PS_RUNNABLE,
    PS_RUNNING,
    PS_WAITING,
    PS_TRIMMING, /* the service thread is parking its idle stack */
    PS_EXITING
};

/* What a process asks of its scheduler when it switches out. */
/* REQ_BLOCK_SL: block and give the stack back; the process restarts at
 * fn(arg) on a fresh stack when woken (grove__recv_stackless).
 * REQ_BLOCK_WARM: block keeping the stack for now, which the scheduler may
 * take back while the process waits; it then restarts at fn(arg) as after
 * REQ_BLOCK_SL (grove__recv_stackless, warm). */
enum {
    REQ_NONE = 0,
    REQ_YIELD,
    REQ_BLOCK,
    REQ_BLOCK_SL,
    REQ_BLOCK_WARM,
    REQ_EXIT
};

typedef struct grove__block {
    grove__dlist_t link;
    size_t size;
    _Alignas(16) unsigned char data[];
} grove__block_t;

/* The parts of a process most never use: made on first use and kept with
 * the slot for its later incarnations (each exit leaves them empty), so
 * an idle process pays a pointer for them. */
typedef struct grove__proc_ext {
    grove__map_t mon_names;    /* ref -> malloc'd name (monitor by name) */
    grove__map_t dict;         /* key hash -> its chain of entries */
    grove__dlist_t dict_order; /* dictionary entries, oldest first */
    grove__dlist_t arena;      /* grove_alloc blocks */
    grove__dlist_t resources;  /* attached resources, oldest first */
} grove__proc_ext_t;

struct grove__proc {
    /* -- written by any thread, or once at spawn and read by any -- */
    _Atomic(grove_msg_t *) inbox; /* Treiber stack, newest first */
    atomic_int state;
    atomic_uint gen;          /* generation of the current incarnation */
    atomic_uint timeout_seq;  /* RECV timer fired for this wait */
    atomic_bool pinned; /* the stack must not be parked while it waits */
    atomic_bool ext_wait; /* a grove_wait caller watches it */
    atomic_uint_fast64_t pid_atomic; /* pid, for readers on other threads */
    atomic_uint_fast64_t parent_atomic; /* who spawned it */
    _Atomic(const char *) behaviour;    /* static text set by a behaviour */
    /* -- run-queue link: owned by whoever holds the process queued -- */
    grove__proc_t *rq_next; /* the high and inject queues are lists */
    /* -- owner only (the process itself, or its scheduler) -- */
    grove__fiber_t fiber;
    grove__stack_t *stack; /* NULL while waiting stackless */
    grove_pid_t pid;
    grove_entry_fn fn;
    void *arg;
    grove_msg_t *pending;    /* drained from the inbox, not yet handled */
    grove__dlist_t mbox;     /* the mailbox, oldest first */
    grove__dlist_t received; /* handed to user code, not yet freed */
    grove__dlist_t *mark;    /* mbox position at the last make_ref */
    uint64_t mark_ref;
    grove__map_t links;   /* pid.id -> 1 */
    grove__map_t mon_out; /* ref -> monitored pid.id */
    grove__map_t mon_in;  /* ref -> watcher pid.id */
    grove__map_t aliases;   /* active alias refs -> 1 */
    grove__exit_hook_fn exit_hook;
    void *exit_hook_arg;
    grove__report_fn report_hook;
    void *report_hook_arg;
    /* Room for a behaviour's state (grove__owned_inline): a gen_server's
     * lives here, so starting one allocates nothing for it and its end,
     * often on another core, frees nothing. Until the process first
     * runs, it holds what its spawner handed over (grove__spawn's
     * arg_copy). */
    _Alignas(8) unsigned char owned_inline[GROVE__OWNED_INLINE];
    grove__proc_ext_t *ext; /* NULL until first used (grove__proc_ext) */
    grove__timer_t rtimer;
    const char *name; /* its name-table entry's text, under the names lock */
    grove__sched_t *sched;
    uint32_t stack_req; /* KiB asked for at spawn, 0: the default */
    uint32_t wait_seq;
    int request;
    bool trap_exit;
    bool has_name;
    bool crashed;
    bool hibernate_next;
    bool sl_cont;  /* restarted from a stackless wait: it continues */
    bool sl_armed; /* that wait's receive timer is armed */
    _Atomic uint8_t heap_flags; /* HEAP_NO_KILL, _NO_REPORT, _OVER */
    _Atomic uint8_t prio; /* grove_priority_t: set by the owner, read by
                             whoever queues it */
    uint8_t low_skips;    /* a low process's turns given up (run queue) */
    /* -- statistics read by other threads (relaxed) -- */
    atomic_bool st_parked;
    atomic_bool st_trap;
    atomic_size_t max_heap; /* bytes; 0: no limit (grove_max_heap) */
    atomic_uint_least32_t st_mbox;
    atomic_uint_least32_t st_links;
    atomic_uint_least32_t st_mon_out;
    atomic_uint_least32_t st_mon_in;
    atomic_uint_least32_t st_stack_used;
    atomic_uint_least32_t st_stack_size;
    atomic_uint_least32_t st_dict;
    atomic_size_t st_arena;
    atomic_size_t st_dict_bytes;
    atomic_size_t st_mbox_bytes; /* queued messages with their payloads */
    atomic_uint_fast64_t st_reductions;
    atomic_uint_fast64_t wait_since_atomic; /* ms when it last blocked */
};


/* p's rarely used parts, made on first use; NULL when out of memory.
 * Owner only. */
grove__proc_ext_t *grove__proc_ext(grove__proc_t *p);

/* Looks up a live process by pid; NULL if the pid is malformed or dead.
 * The struct stays valid memory (slots are never freed while running),
 * but its incarnation may end at any moment: callers re-check gen. */
grove__proc_t *grove__proc_get(grove_pid_t pid);
/* Returns GROVE_EINVAL for a malformed pid, GROVE_ENOPROC for a dead one,
 * 0 and *out otherwise. */
int grove__proc_lookup(grove_pid_t pid, grove__proc_t **out);
grove__proc_t *grove__proc_slot(uint32_t slot);
uint32_t grove__proc_slots_used(void);
int grove__proc_table_init(uint32_t max);
void grove__proc_table_fini(void);
/* Makes p runnable if it waits with nothing in its inbox (a timeout);
 * safe from any thread. */
void grove__wake(grove__proc_t *p);
/* Queues p, whose wake-up the caller took by replacing INBOX_WAITING. */
void grove__wake_claimed(grove__proc_t *p);
/* Gives p a fresh stack (from s's cache, or the pool when s is NULL) that
 * starts at its entry (p->fn, p->arg): at spawn, and when a process that
 * waited stackless wakes. Returns 0 or GROVE_ENOMEM. */
int grove__proc_restack(grove__sched_t *s, grove__proc_t *p);
/* Runs p's exit on the scheduler stack. */
void grove__proc_finish(grove__sched_t *s, grove__proc_t *p);
_Noreturn void grove__exit_self(grove__proc_t *p, const grove_reason_t *r);
/* Ends p for reason r. On the process's own stack this does not return;
 * for a process without one, drained on the scheduler's stack
 * (grove__drain_waiting), it records the reason and the exit request,
 * and the drain stops there. */
void grove__end_process(grove__proc_t *p, const grove_reason_t *r);

/* Max heap size (Erlang's max_heap_size): the owner's arena, dictionary
 * and mailbox bytes. */
#define HEAP_NO_KILL 1u
#define HEAP_NO_REPORT 2u
#define HEAP_OVER 4u /* reported since it last went over */
static inline size_t grove__heap_size(const grove__proc_t *p)
{
    return atomic_load_explicit(&p->st_arena, memory_order_relaxed) +
           atomic_load_explicit(&p->st_dict_bytes, memory_order_relaxed) +
           atomic_load_explicit(&p->st_mbox_bytes, memory_order_relaxed);
}
/* Called by p itself after its heap grew: when over its limit, reports
 * and (unless told not to) ends p with killed. On p's own stack that does
 * not return; a stackless p draining on the scheduler's stack gets
 * REQ_EXIT, as a signal that kills it would. Returns whether p is to end. */
bool grove__heap_check_slow(grove__proc_t *p);
/* Sets or reads p's limit; the setter is p itself, or its spawner before
 * it runs. */
void grove__max_heap_set(grove__proc_t *p, const grove_max_heap_t *mh);
void grove__max_heap_get(const grove__proc_t *p, grove_max_heap_t *out);
static inline bool grove__heap_check(grove__proc_t *p)
{
    return atomic_load_explicit(&p->max_heap, memory_order_relaxed) &&
           grove__heap_check_slow(p);
}
/* Blocks the current process until woken. */
void grove__block(grove__proc_t *p);
/* Blocks the current process and gives its stack back: when woken it
 * starts again at p->fn(p->arg) on a fresh stack. */
_Noreturn void grove__block_stackless(grove__proc_t *p);
/* Blocks the current process, which may be made to give its stack back
 * while it waits (REQ_BLOCK_WARM): returns if it kept it; otherwise it
 * starts again at p->fn(p->arg) on a fresh stack when woken. */
void grove__block_warm(grove__proc_t *p);
/* Handles every signal that has arrived; may end the process. The check
 * for none is inline: most calls find none. */
void grove__drain_slow(grove__proc_t *p);
static inline void grove__drain(grove__proc_t *p)
{
    if (p->pending || atomic_load_explicit(&p->inbox, memory_order_relaxed))
        grove__drain_slow(p);
}
/* Handles every signal that has arrived for p, which waits stackless, on
 * scheduler s's stack, so that signals which leave it waiting (a link, a
 * monitor, a demonitor) or end it (an exit signal it does not trap) need
 * no stack. Returns true when a signal ended it: s->exit_reason holds
 * the reason and grove__proc_finish must follow. */
bool grove__drain_waiting(grove__sched_t *s, grove__proc_t *p);
/* A monitor in p->mon_out whose reference is also an alias of p while
 * the monitor lasts (OTP's monitor option {alias, demonitor}): the
 * behaviours' calls and tasks wait on one reference for the answer or
 * the DOWN. The bit sits above any pid's slot (at most 2^28). */
#define GROVE__MON_ALIAS (UINT64_C(1) << 31)
/* The monitored process of a p->mon_out value. */
static inline grove_pid_t grove__mon_target(uint64_t v)
{
    return (grove_pid_t){v & ~GROVE__MON_ALIAS};
}
/* p->aliases maps each active alias to GROVE__ALIAS_VAL(its mode). */
#define GROVE__ALIAS_VAL(mode) ((uint64_t)(mode) + 1)
#define GROVE__ALIAS_EXPLICIT GROVE__ALIAS_VAL(GROVE_ALIAS_EXPLICIT_UNALIAS)
/* A message through p's active alias ref, of mode value v, is being
 * delivered: deactivates the alias (and with REPLY_DEMONITOR ends its
 * monitor) when the mode says so. */
void grove__alias_used(grove__proc_t *p, uint64_t ref, uint64_t v);
/* p's monitor ref is gone: deactivates an alias tied to it. */
void grove__alias_monitor_gone(grove__proc_t *p, uint64_t ref);
void grove__mbox_remove(grove__proc_t *p, grove_msg_t *m);
void grove__run_exit_hook(grove__proc_t *p, const grove_reason_t *r);
/* Crash report for a process that faulted or failed an assertion. */
void grove__crash_report(grove__sched_t *s, grove__proc_t *p);

/* ---- schedulers -------------------------------------------------------- */

#define GROVE__SLOT_CACHE 64
/* Warm waiters a scheduler lets keep their stacks (struct grove__sched). */
#define GROVE__WARM_MAX 4
/* Rounds of a scheduler's loop (each runs a process or spins once) after
 * which a warm waiter that has not woken is cooled: as long as a spin
 * phase before sleeping (IDLE_SPINS), far longer than a call's round
 * trip. */
#define GROVE__WARM_AGE 1024u

struct grove__sched {
    /* -- owner thread only -- */
    int id;
    grove__fiber_t fiber;
    grove__proc_t *current;
    /* A process that switched straight to current as it began to wait:
     * current finishes its switch-out (grove__handoff_finish). */
    grove__proc_t *handoff_prev;
    /* The last few processes that began a warm wait here (REQ_BLOCK_WARM)
     * and may still hold their stacks; the pid tells whether an entry
     * still names the same process, the tick when it began to wait. */
    struct {
        grove__proc_t *p;
        uint64_t id;
        unsigned tick;
    } warm[GROVE__WARM_MAX];
    unsigned warm_next;
    grove__stack_cache_t stacks;
    grove_msg_t *msg_cache; /* free small message nodes */
    unsigned msg_cached;
    void *altstack;
    uint64_t ref_next, ref_end;
    unsigned tick;
    unsigned slice_sends; /* sends by the running process this slice */
    unsigned runnext_streak;
    unsigned pops;
    unsigned steal_patience; /* polls that saw only lone queued entries */
    pthread_t thread;
    grove__wheel_t wheel; /* receive timeouts; locked: others cancel */
    /* The process that is ending on this scheduler: its reason and, for a
     * crash, the backtrace. A process's exit is finished on the scheduler
     * it ran on, right after it switched out, so one slot each suffices
     * and no process carries these bytes while it lives. */
    grove_reason_t exit_reason;
    void *crash_bt[32];
    int crash_bt_len;
    /* Signals of ending processes not yet delivered, all to out_to's
     * incarnation out_gen, newest first (grove__post_signal). */
    grove__proc_t *out_to;
    uint32_t out_gen;
    unsigned out_n;
    grove_msg_t *out_head, *out_tail;
    char pad0[64];
    /* -- run queue: any thread, under rq_lock -- */
    grove__spin_t rq_lock;
    _Atomic(grove__proc_t *) runnext; /* see grove__enqueue */
    /* The normal queue, a ring of pointers (see sched.c). */
    grove__proc_t **rq_buf;
    uint32_t rq_cap, rq_h, rq_t;
    /* Max (0) and high (1) priority processes, singly linked: taken
     * before runnext and the queue above. rq_hi counts them. */
    grove__proc_t *hq_head[2], *hq_tail[2];
    atomic_uint rq_hi;
    char pad1[64];
    /* Entries thieves may take (not runnext; the high queues' included),
     * on a line of its own: idle
     * schedulers poll it, and a handoff through runnext, which writes
     * the lines above, must not bounce it between cores. */
    _Alignas(64) atomic_uint rq_fifo;
    char pad2[60];
    /* -- sleeping -- */
    atomic_bool sleeping;
    pthread_mutex_t sleep_lock;
    pthread_cond_t sleep_cond;
    bool wake_pending;
    bool in_poll; /* asleep in the poller, not on sleep_cond (sleep_lock) */
    bool polling; /* handing out poll reports: wake-ups wait (owner) */
    /* -- free process slots kept here (proc.c): the owner's, except
     * that a spawn finding the table at its limit takes one anyway -- */
    _Alignas(64) grove__spin_t slot_lock;
    unsigned nslots;
    uint32_t slots[GROVE__SLOT_CACHE];
    /* -- counters: written by the owner only, read by anyone -- */
    _Alignas(64) atomic_int_fast64_t cnt[CNT__N];
    /* -- read by the service thread -- */
    atomic_uint_fast64_t switches;
    _Atomic(grove__proc_t *) running;
    atomic_uint_fast64_t steals;
};

typedef struct grove__rt {
    atomic_int started;
    atomic_int closing; /* grove_stop has begun: spawns are refused */
    atomic_int stopping;
    int nsched;
    grove__sched_t *scheds;
    grove_config_t cfg;
    uint64_t start_ns;
    /* inject queue for wake-ups from outside any scheduler */
    pthread_mutex_t inject_lock;
    grove__proc_t *inj_head, *inj_tail;
    /* Idle schedulers poll inj_len at every spin: it has a line of its
     * own, written only when the inject queue changes, not each time a
     * busy scheduler checks nsleeping (an atomic read-modify-write). */
    _Alignas(64) atomic_uint inj_len;
    _Alignas(64) atomic_int nsleeping;
    atomic_int nspinning; /* idle schedulers looking for work, awake */
    /* grove_wait / grove_stop */
    _Alignas(64) pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    pthread_t service;
    atomic_int service_stop;
    /* counters: threads outside the runtime, and the sum of stopped
     * schedulers (see CNT_*) */
    atomic_int_fast64_t cnt[CNT__N];
    atomic_uint_fast64_t n_long;
    atomic_uint_fast64_t ref_global;
    size_t stack_soft_limit; /* active stacks before eager parking */
    /* ms since start, refreshed by the service thread every few ms: for
     * bookkeeping that must not read the clock on the hot path. */
    atomic_uint_fast64_t coarse_ms;
    /* the poller the schedulers drive (grove__netpoll_set); idle
     * schedulers read the pointer at every spin, so the counters every
     * look at the poller writes are on another line */
    _Alignas(64) _Atomic(const grove__netpoll_t *) netpoll;
    _Alignas(64) atomic_int np_active; /* threads inside netpoll's functions */
    atomic_int np_blocked; /* 1 while a scheduler sleeps in the poller */
    atomic_uint_fast64_t np_last_ms; /* coarse_ms of the last poll */
} grove__rt_t;

extern grove__rt_t grove__rt;
/* Thread-local state. A process can resume on another scheduler thread
 * after any switch, and a compiler may keep the address of a __thread
 * variable in a register across calls within one function, so every
 * access must read the thread pointer anew. On x86-64 an access is one
 * volatile asm that does (the variable's offset through the GOT, then a
 * %fs-relative load or store), with a memory clobber so that it is never
 * moved across a switch. Elsewhere it is a call to a function kept out of
 * line and out of interprocedural analysis (core/tls.c), which cannot be
 * folded either. */
#if defined(__x86_64__) && defined(__GNUC__)
#define GROVE__TLS_ASM 1
extern __thread grove__sched_t *grove__tls_sched
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
extern __thread int grove__tls_in_rt
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
static inline grove__sched_t *grove__tls_get_sched(void)
{
    grove__sched_t *s;
    __asm__ volatile("movq grove__tls_sched@gottpoff(%%rip), %0\n\t"
                     "movq %%fs:(%0), %0"
                     : "=r"(s)
                     :
                     : "memory");
    return s;
}
static inline int grove__tls_get_in_rt(void)
{
    long off;
    int v;
    __asm__ volatile("movq grove__tls_in_rt@gottpoff(%%rip), %1\n\t"
                     "movl %%fs:(%1), %0"
                     : "=r"(v), "=&r"(off)
                     :
                     : "memory");
    return v;
}
static inline void grove__tls_set_in_rt(int v)
{
    long off;
    __asm__ volatile("movq grove__tls_in_rt@gottpoff(%%rip), %0\n\t"
                     "movl %1, %%fs:(%0)"
                     : "=&r"(off)
                     : "r"(v)
                     : "memory");
}
#else
grove__sched_t *grove__tls_get_sched(void);
int grove__tls_get_in_rt(void);
void grove__tls_set_in_rt(int v);
#endif
void grove__tls_set_sched(grove__sched_t *s);
/* Set by grove_run around its spawn: the new process is watched. */
bool grove__tls_get_spawn_watched(void);
void grove__tls_set_spawn_watched(bool v);

/* Adds d to an atomic that only one thread writes (a process's own
 * statistics, a scheduler's): a plain load and store, no locked
 * instruction; readers elsewhere see a recent value. */
#define GROVE__OWN_ADD(field, d)                                             \
    atomic_store_explicit(                                                   \
        &(field), atomic_load_explicit(&(field), memory_order_relaxed) + (d), \
        memory_order_relaxed)

/* Adds d to counter k (CNT_*). */
static inline void grove__count(int k, int64_t d)
{
    grove__sched_t *s = grove__tls_get_sched();
    if (s) {
        /* One writer per scheduler: a plain add, no locked instruction. */
        atomic_store_explicit(&s->cnt[k],
                              atomic_load_explicit(&s->cnt[k],
                                                   memory_order_relaxed) +
                                  d,
                              memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&grove__rt.cnt[k], d, memory_order_relaxed);
    }
}
/* The sum of counter k. */
int64_t grove__count_sum(int k);

static inline grove__proc_t *grove__current(void)
{
    grove__sched_t *s = grove__tls_get_sched();
    return s ? s->current : NULL;
}

void grove__enqueue(grove__proc_t *p);
unsigned grove__rq_count(grove__sched_t *s);
/* Frees s's run-queue ring if a burst made it larger than its first size
 * and it is empty now; the next push starts a small one. Called by an
 * idle scheduler. */
void grove__rq_trim(grove__sched_t *s);
/* Takes the stacks back from s's warm waiters (REQ_BLOCK_WARM) that have
 * not woken for age rounds of s's loop (s->tick): all of them (age 0)
 * when it has nothing to run, the stale ones (GROVE__WARM_AGE) as it
 * runs. s's own thread. */
void grove__warm_cool(grove__sched_t *s, unsigned age);
/* The run-queue entries all schedulers have room for (for tests). */
size_t grove__rq_slots(void);
grove__proc_t *grove__rq_pop(grove__sched_t *s);
grove__proc_t *grove__rq_take_nth(grove__sched_t *s, unsigned k);
grove__proc_t *grove__inject_pop(void);
void grove__run_process(grove__sched_t *s, grove__proc_t *p);
/* Called by a process as it resumes from a switch, and first thing by a
 * fresh one: finishes the switch-out of a process that handed its
 * scheduler over to it directly. */
void grove__handoff_finish(void);
/* Deterministic mode (GROVE_DETERMINISTIC builds): the loop that steps
 * every scheduler on one thread, and its logical clock. */
void *grove__det_main(void *arg);
void grove__trim_stacks(uint64_t now_ms);
uint64_t grove__det_now(void);
/* Deterministic mode: a choice drawn from the seed. */
bool grove__det_coin(void);
void grove__enqueue_tail(grove__sched_t *s, grove__proc_t *p);
void grove__enqueue_spawned(grove__proc_t *p);
void grove__sched_wake_one(void);
uint64_t grove__ref_new(void);

/* fault handling */
int grove__fault_init(void);
void grove__fault_fini(void);
int grove__fault_thread_init(grove__sched_t *s);
void grove__fault_thread_fini(grove__sched_t *s);

/* names */
int grove__names_init(void);
void grove__names_fini(void);
void grove__name_release(grove__proc_t *p);
/* Registers p under name; 0 or GROVE_EEXIST/GROVE_ENOMEM. */
int grove__name_claim(grove__proc_t *p, const char *name);
/* Writes p's registered name ("" if none) into buf. */
void grove__names_info(grove__proc_t *p, char *buf, size_t size);

/* memory and resources */
void grove__mem_release_all(grove__proc_t *p);
/* Frees the dictionary of p, which has exited (dict.c). */
void grove__dict_release(grove__proc_t *p);

/* the in-runtime marker: a fault while it is set is the runtime's own */
#define RT_ENTER() grove__tls_set_in_rt(1)
#define RT_LEAVE() grove__tls_set_in_rt(0)

#endif
