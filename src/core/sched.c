/* Schedulers: one OS thread each, a run queue each, work stealing.
 *
 * A scheduler's loop takes a process from its own queue (the "runnext"
 * slot first: the process most recently woken by the one that ran, so a
 * message exchange stays on one core), then from the inject queue (wake-ups
 * from outside any scheduler), then steals half of another scheduler's
 * queue; it runs the process until it yields, blocks or exits, and acts on
 * that request on its own stack. With nothing to do it spins briefly, then
 * sleeps until woken or until its next timer is due.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "base/failpoint.h"

grove__rt_t grove__rt = {
    .inject_lock = PTHREAD_MUTEX_INITIALIZER,
    .wait_lock = PTHREAD_MUTEX_INITIALIZER,
};

#define RUNNEXT_STREAK_MAX 64
/* An idle scheduler looks for work this many rounds (tens of µs) before
 * it sleeps: waking a sleeping thread costs the waker a system call and
 * the sleeper a few µs, more than a short spin. */
#define IDLE_SPINS 1024u
/* Fewer once the poller is installed: a scheduler sleeping there is woken
 * by the kernel itself when a descriptor becomes ready, and the spinning
 * would take the core from the very threads (often in the same machine)
 * that produce that input. tcp_echo_rps: 113k rps with 1024, 142k with
 * 256. */
#define IDLE_SPINS_IO 256u
/* A scheduler woken for work it then never found (its waker's scheduler
 * ran it first) spins up to 2^SPIN_GROW_MAX times longer before its next
 * sleep, doubling with each such wake: each one costs the waker a system
 * call on its way. Without the poller only, for the reason above. */
#define SPIN_GROW_MAX 4
/* After STEAL_DENSE fruitless rounds an idle scheduler looks at the other
 * queues only every STEAL_SPARSE rounds (a few µs). A look reads a count
 * its owner writes at every push and pop; read without pause, it turns
 * each of those writes into a cache miss on the owner's core. restart (a
 * chain of processes passing work along on one scheduler) took 1.5 µs
 * with one scheduler and 2.0 µs with an idle second one looking on. */
#define STEAL_DENSE 64
#define STEAL_SPARSE 128
#define TIMER_CHECK_EVERY 64

/* ---- references ---------------------------------------------------------- */

#define REF_BLOCK 4096

uint64_t grove__ref_new(void)
{
    grove__sched_t *s = grove__tls_get_sched();
    if (s) {
        if (s->ref_next == s->ref_end) {
            s->ref_next = atomic_fetch_add(&grove__rt.ref_global, REF_BLOCK);
            s->ref_end = s->ref_next + REF_BLOCK;
        }
        return s->ref_next++;
    }
    return atomic_fetch_add(&grove__rt.ref_global, 1);
}

/* ---- run queues ----------------------------------------------------------- */

/* The queues' counts change only under rq_lock, so they are written with
 * a plain store (no locked instruction); other threads read them
 * unlocked. Returns the count before. */
static unsigned count_add_locked(atomic_uint *count, int n)
{
    unsigned old = atomic_load_explicit(count, memory_order_relaxed);
    atomic_store_explicit(count, old + (unsigned)n, memory_order_relaxed);
    return old;
}

static unsigned fifo_add_locked(grove__sched_t *s, int n)
{
    return count_add_locked(&s->rq_fifo, n);
}

/* ---- the normal queue: a ring of pointers ----------------------------------
 *
 * s->rq_buf holds rq_cap entries (a power of two, 0 before the first
 * push); the queue runs from index rq_h (its head) to rq_t (one past its
 * tail), both counted in 32 bits with wrap-around and taken modulo rq_cap.
 * Only pointers move: a pop reads no neighbour and a thief copies what it
 * takes without touching the processes, whose memory is cold on its core,
 * while it holds the victim's lock. */
#define RQ_CAP0 256

static uint32_t rq_len_locked(const grove__sched_t *s)
{
    return s->rq_t - s->rq_h;
}

static grove__proc_t **rq_at(grove__sched_t *s, uint32_t i)
{
    return &s->rq_buf[i & (s->rq_cap - 1)];
}

/* Makes room for n more entries. False when a larger ring cannot be had:
 * the caller queues on the inject queue instead (a linked list, which
 * needs no memory), so a runnable process is never lost. The ring grows
 * while the scheduler is busy; once it idles with the queue empty, a ring
 * a burst made larger than RQ_CAP0 is given back (grove__rq_trim). */
static bool rq_room_locked(grove__sched_t *s, uint32_t n)
{
    uint32_t len = rq_len_locked(s);
    if (len + n <= s->rq_cap)
        return true;
    uint32_t cap = s->rq_cap ? s->rq_cap * 2 : RQ_CAP0;
    while (cap < len + n)
        cap *= 2;
    grove__proc_t **buf = grove__malloc(cap * sizeof *buf);
    if (!buf)
        return false;
    for (uint32_t i = 0; i < len; i++)
        buf[i] = *rq_at(s, s->rq_h + i);
    free(s->rq_buf);
    s->rq_buf = buf;
    s->rq_cap = cap;
    s->rq_h = 0;
    s->rq_t = len;
    return true;
}

void grove__rq_trim(grove__sched_t *s)
{
    grove__proc_t **old = NULL;
    grove__spin_lock(&s->rq_lock);
    if (s->rq_cap > RQ_CAP0 && rq_len_locked(s) == 0) {
        old = s->rq_buf;
        s->rq_buf = NULL;
        s->rq_cap = 0;
        s->rq_h = s->rq_t = 0;
    }
    grove__spin_unlock(&s->rq_lock);
    free(old); /* outside the lock: a large ring goes back by munmap */
}

size_t grove__rq_slots(void)
{
    size_t n = 0;
    for (int i = 0; grove__rt.scheds && i < grove__rt.nsched; i++) {
        grove__sched_t *s = &grove__rt.scheds[i];
        grove__spin_lock(&s->rq_lock);
        n += s->rq_cap;
        grove__spin_unlock(&s->rq_lock);
    }
    return n;
}

/* The pushes return whether the stealable part of the queue was empty
 * before: only then may an idle scheduler need waking (see
 * maybe_wake_idle). Each needs room made first (rq_room_locked). */
static bool rq_push_tail_locked(grove__sched_t *s, grove__proc_t *p)
{
    *rq_at(s, s->rq_t++) = p;
    return fifo_add_locked(s, 1) == 0;
}

static bool rq_push_head_locked(grove__sched_t *s, grove__proc_t *p)
{
    *rq_at(s, --s->rq_h) = p;
    return fifo_add_locked(s, 1) == 0;
}

/* Which high queue p waits in: 0 for max, 1 for high, -1 for none. */
static int hq_index(const grove__proc_t *p)
{
    switch (atomic_load_explicit(&p->prio, memory_order_relaxed)) {
    case GROVE_PRIO_MAX:
        return 0;
    case GROVE_PRIO_HIGH:
        return 1;
    default:
        return -1;
    }
}

static bool hq_push_locked(grove__sched_t *s, grove__proc_t *p, int q)
{
    p->rq_next = NULL;
    if (s->hq_tail[q])
        s->hq_tail[q]->rq_next = p;
    else
        s->hq_head[q] = p;
    s->hq_tail[q] = p;
    count_add_locked(&s->rq_hi, 1);
    return fifo_add_locked(s, 1) == 0;
}

/* The oldest process of the highest non-empty high queue, or NULL. */
static grove__proc_t *hq_pop_locked(grove__sched_t *s)
{
    for (int q = 0; q < 2; q++) {
        grove__proc_t *p = s->hq_head[q];
        if (!p)
            continue;
        s->hq_head[q] = p->rq_next;
        if (!s->hq_head[q])
            s->hq_tail[q] = NULL;
        p->rq_next = NULL;
        count_add_locked(&s->rq_hi, -1);
        fifo_add_locked(s, -1);
        return p;
    }
    return NULL;
}

/* hq_pop_locked for s's own scheduler: one relaxed load when both high
 * queues are empty. */
static grove__proc_t *hq_pop(grove__sched_t *s)
{
    if (!atomic_load_explicit(&s->rq_hi, memory_order_relaxed))
        return NULL;
    grove__spin_lock(&s->rq_lock);
    grove__proc_t *p = hq_pop_locked(s);
    grove__spin_unlock(&s->rq_lock);
    return p;
}

/* Pushes p at the tail of its queue, its high queue or the normal one,
 * or at the head of the normal one when head is set. Returns 1 when the
 * stealable part was empty before, 0 when not, -1 when the normal queue
 * has no room for it (rq_room_locked). */
static int push_locked(grove__sched_t *s, grove__proc_t *p, bool head)
{
    int q = hq_index(p);
    if (q >= 0)
        return hq_push_locked(s, p, q);
    if (!rq_room_locked(s, 1))
        return -1;
    return head ? rq_push_head_locked(s, p) : rq_push_tail_locked(s, p);
}

static void inject(grove__proc_t *p)
{
    pthread_mutex_lock(&grove__rt.inject_lock);
    p->rq_next = NULL;
    if (grove__rt.inj_tail)
        grove__rt.inj_tail->rq_next = p;
    else
        grove__rt.inj_head = p;
    grove__rt.inj_tail = p;
    atomic_fetch_add(&grove__rt.inj_len, 1);
    pthread_mutex_unlock(&grove__rt.inject_lock);
    grove__sched_wake_one();
}

grove__proc_t *grove__inject_pop(void)
{
    if (atomic_load_explicit(&grove__rt.inj_len, memory_order_relaxed) == 0)
        return NULL;
    pthread_mutex_lock(&grove__rt.inject_lock);
    grove__proc_t *p = grove__rt.inj_head;
    if (p) {
        grove__rt.inj_head = p->rq_next;
        if (!grove__rt.inj_head)
            grove__rt.inj_tail = NULL;
        atomic_fetch_sub(&grove__rt.inj_len, 1);
    }
    pthread_mutex_unlock(&grove__rt.inject_lock);
    return p;
}

/* Called after a push that made the stealable queue non-empty. Later
 * pushes need no check: a scheduler going to sleep increments nsleeping
 * and then re-checks every queue, so while this one stays non-empty no
 * scheduler can fall asleep past it, and the check made when it became
 * non-empty covered those asleep already. */
static void maybe_wake_idle(void)
{
    /* A seq_cst read-modify-write (a full barrier): pairs with a sleeper's
     * increment of nsleeping followed by its re-check of the queues. A
     * scheduler still spinning will find the work without being woken. */
    if (atomic_fetch_add(&grove__rt.nsleeping, 0) > 0 &&
        atomic_load_explicit(&grove__rt.nspinning, memory_order_relaxed) == 0)
        grove__sched_wake_one();
}

/* Queues p on s (see push_locked) or, without room there, on the inject
 * queue, which wakes a scheduler itself. Returns push_locked's answer. */
static int push_or_inject(grove__sched_t *s, grove__proc_t *p, bool head)
{
    grove__spin_lock(&s->rq_lock);
    int first = push_locked(s, p, head);
    grove__spin_unlock(&s->rq_lock);
    if (first < 0)
        inject(p);
    return first;
}

/* push_or_inject by s's own thread, waking an idle scheduler when the
 * push made work visible. */
static void enqueue_on(grove__sched_t *s, grove__proc_t *p, bool head)
{
    /* While s hands out poll reports it decides afterwards (poll_done). */
    if (push_or_inject(s, p, head) > 0 && !s->polling)
        maybe_wake_idle();
}

void grove__enqueue_tail(grove__sched_t *s, grove__proc_t *p)
{
    enqueue_on(s, p, false);
}

/* Queues a runnable process: on this scheduler's runnext slot when a
 * process woke it (it will likely run next, on a warm cache), at the tail
 * otherwise, or on the inject queue from outside any scheduler. Only the
 * owner puts a process in its runnext, and it and the service thread
 * (unpin_runnext) take it out, each with one exchange: a message exchange
 * between two processes takes no lock. */
void grove__enqueue(grove__proc_t *p)
{
    grove__sched_t *s = grove__tls_get_sched();
    if (!s) {
        inject(p);
        return;
    }
    /* A high process goes to its queue; a low one waits its turn. */
    if (!s->current ||
        atomic_load_explicit(&p->prio, memory_order_relaxed) !=
            GROVE_PRIO_NORMAL) {
        grove__enqueue_tail(s, p);
        return;
    }
    /* Others only take from the slot: found empty, it is filled with a
     * store. */
    grove__proc_t *old = atomic_load_explicit(&s->runnext,
                                              memory_order_relaxed);
    if (!old) {
        atomic_store_explicit(&s->runnext, p, memory_order_release);
        return;
    }
    old = atomic_exchange(&s->runnext, p);
    if (old)
        grove__enqueue_tail(s, old); /* real parallel work now waits here */
}

/* A newly spawned process goes to the head of the local queue: the
 * newest work runs first, so a tree of spawns is walked depth-first and
 * only its current path is alive at once, while thieves take the oldest,
 * largest pieces from the tail (work-first, as in Cilk). */
void grove__enqueue_spawned(grove__proc_t *p)
{
    grove__sched_t *s = grove__tls_get_sched();
    if (!s) {
        inject(p);
        return;
    }
    /* The spawner keeps running: an idle scheduler can start the child
     * now (a push that made the queue non-empty wakes one). A low child
     * waits its turn at the tail. */
    enqueue_on(s, p,
               atomic_load_explicit(&p->prio, memory_order_relaxed) ==
                   GROVE_PRIO_NORMAL);
}

/* Every AGE_EVERY pops the oldest entry runs instead of the newest: spawns
 * go to the head (work-first), so one that keeps spawning would otherwise
 * starve whatever sits at the tail. */
#define AGE_EVERY 16

/* Processes queued on s, its runnext included. */
unsigned grove__rq_count(grove__sched_t *s)
{
    return atomic_load_explicit(&s->rq_fifo, memory_order_relaxed) +
           (atomic_load_explicit(&s->runnext, memory_order_relaxed) != NULL);
}

/* A low process taken from the normal queue gives its turn up this many
 * times, going to the tail, while others wait there (BEAM's
 * RESCHEDULE_LOW). */
#define LOW_SKIPS 8

/* Takes the process to run from the normal queue, which is not empty. */
static grove__proc_t *rq_take_locked(grove__sched_t *s)
{
    grove__proc_t *p = ++s->pops % AGE_EVERY == 0 ? *rq_at(s, --s->rq_t)
                                                   : *rq_at(s, s->rq_h++);
    /* Bounded: each pass gives one low process one more skip, while
     * others wait. The entry it was taken from leaves room at the tail. */
    for (int i = 0; i < LOW_SKIPS &&
                    atomic_load_explicit(&p->prio, memory_order_relaxed) ==
                        GROVE_PRIO_LOW &&
                    p->low_skips < LOW_SKIPS && rq_len_locked(s) > 0;
         i++) {
        p->low_skips++;
        *rq_at(s, s->rq_t++) = p;
        p = *rq_at(s, s->rq_h++);
    }
    p->low_skips = 0;
    fifo_add_locked(s, -1);
    if (rq_len_locked(s))
        __builtin_prefetch(*rq_at(s, s->rq_h)); /* likely the next to run */
    return p;
}

/* Whether runnext may go before the queue now: not after RUNNEXT_STREAK_MAX
 * turns in a row while the queue (fifo entries) had work, so two
 * processes that keep waking each other cannot starve it. */
static bool runnext_turn(const grove__sched_t *s, unsigned fifo)
{
    return s->runnext_streak < RUNNEXT_STREAK_MAX || fifo == 0;
}

grove__proc_t *grove__rq_pop(grove__sched_t *s)
{
    grove__proc_t *p = hq_pop(s);
    if (p)
        return p;
    unsigned fifo = atomic_load_explicit(&s->rq_fifo, memory_order_relaxed);
    if (atomic_load_explicit(&s->runnext, memory_order_relaxed) &&
        runnext_turn(s, fifo)) {
        p = atomic_exchange(&s->runnext, NULL);
        if (p) { /* else the service thread moved it to the queue */
            s->runnext_streak++;
            return p;
        }
        fifo = atomic_load_explicit(&s->rq_fifo, memory_order_relaxed);
    }
    if (fifo == 0)
        return NULL;
    grove__spin_lock(&s->rq_lock);
    p = NULL;
    if (rq_len_locked(s)) {
        p = rq_take_locked(s);
        s->runnext_streak = 0;
    }
    grove__spin_unlock(&s->rq_lock);
    return p;
}

/* Removes the k-th runnable process of s (0: its runnext, if any); for
 * deterministic mode, where the seed picks what runs next as freely as
 * stealing and wake-ups could. */
grove__proc_t *grove__rq_take_nth(grove__sched_t *s, unsigned k)
{
    /* Priorities hold here too: the seed picks among normal and low. */
    grove__proc_t *hp = hq_pop(s);
    if (hp)
        return hp;
    if (atomic_load_explicit(&s->runnext, memory_order_relaxed)) {
        if (k == 0)
            return atomic_exchange(&s->runnext, NULL);
        k--;
    }
    grove__spin_lock(&s->rq_lock);
    grove__proc_t *p = NULL;
    if (k < rq_len_locked(s)) {
        uint32_t i = s->rq_h + k;
        p = *rq_at(s, i);
        for (; i + 1 != s->rq_t; i++) /* the later entries close up */
            *rq_at(s, i) = *rq_at(s, i + 1);
        s->rq_t--;
        fifo_add_locked(s, -1);
    }
    grove__spin_unlock(&s->rq_lock);
    return p;
}

/* At most this many processes move per steal: half of a queue of
 * 100,000 (a supervisor that has just signalled all its children) would
 * hold the victim's lock, which it needs for every push, for a long copy,
 * and would leave the thief with more than it can run before the victim
 * runs dry. */
#define STEAL_MAX 256

/* Takes the older half of a victim's queue, up to STEAL_MAX, from its
 * tail: the work that was spawned first, the largest pieces of a tree of
 * spawns (never its runnext, which its owner is about to run). Runs the
 * first it took; the rest join this scheduler's queue in their order. */
static grove__proc_t *steal_from(grove__sched_t *s, grove__sched_t *v)
{
    /* The caller looked at v's stealable count first (steal). */
    if (!grove__spin_trylock(&v->rq_lock))
        return NULL;
    /* A high process waiting behind v's running one goes first, alone. */
    grove__proc_t *hp = hq_pop_locked(v);
    if (hp) {
        grove__spin_unlock(&v->rq_lock);
        atomic_fetch_add_explicit(&s->steals, 1, memory_order_relaxed);
        return hp;
    }
    grove__proc_t *took[STEAL_MAX];
    uint32_t n = (rq_len_locked(v) + 1) / 2;
    if (n > STEAL_MAX)
        n = STEAL_MAX;
    v->rq_t -= n;
    for (uint32_t i = 0; i < n; i++)
        took[i] = *rq_at(v, v->rq_t + i);
    if (n)
        fifo_add_locked(v, -(int)n);
    grove__spin_unlock(&v->rq_lock);
    if (n == 0)
        return NULL;
    atomic_fetch_add_explicit(&s->steals, 1, memory_order_relaxed);
    if (n > 1) {
        grove__spin_lock(&s->rq_lock);
        bool room = rq_room_locked(s, n - 1);
        if (room)
            for (uint32_t i = 1; i < n; i++)
                rq_push_tail_locked(s, took[i]);
        grove__spin_unlock(&s->rq_lock);
        if (!room)
            for (uint32_t i = 1; i < n; i++)
                inject(took[i]);
    }
    return took[0];
}

/* A victim whose queue holds a single process most often has just put it
 * there in passing (a wake-up displaced its runnext) and takes it next
 * itself: a thief leaves such a lone entry alone for STEAL_PATIENCE looks
 * (a microsecond or two; longer once the looks are sparse, STEAL_SPARSE)
 * before it takes the victim's lock. Taking it at once would move the
 * process off its warm core, and each attempt pulls the victim's queue
 * lock off the core that is using it. */
#define STEAL_PATIENCE 16

static grove__proc_t *steal(grove__sched_t *s)
{
    int n = grove__rt.nsched;
    int start = (int)(s->tick % (unsigned)n);
    bool lone = false;
    for (int i = 0; i < n; i++) {
        grove__sched_t *v = &grove__rt.scheds[(start + i) % n];
        if (v == s)
            continue;
        /* Read-only check first: a victim with only a runnext has nothing
         * to give, and touching its lock would pull the line off its
         * core. */
        unsigned f = atomic_load_explicit(&v->rq_fifo, memory_order_relaxed);
        if (f == 0)
            continue;
        if (f == 1 && s->steal_patience < STEAL_PATIENCE) {
            lone = true;
            continue;
        }
        grove__proc_t *p = steal_from(s, v);
        if (p) {
            s->steal_patience = 0;
            return p;
        }
    }
    s->steal_patience = lone ? s->steal_patience + 1 : 0;
    return NULL;
}

/* The inject queue goes first: processes woken from outside any scheduler
 * (timeouts fired for a busy scheduler, stack trimming, other threads)
 * would otherwise wait for as long as the local queue stays non-empty,
 * which yielding processes can make forever. Empty, it costs one relaxed
 * load. */
static grove__proc_t *find_work(grove__sched_t *s, bool look_away)
{
    /* Except that this scheduler's high processes go before it. */
    grove__proc_t *p = hq_pop(s);
    if (!p)
        p = grove__inject_pop();
    if (!p)
        p = grove__rq_pop(s);
    if (!p && s->out_n) {
        /* Nothing of its own left: the batched signals go before it looks
         * elsewhere (a woken receiver may come to run here). */
        grove__post_flush(s);
        p = grove__rq_pop(s);
    }
    if (!p && look_away)
        p = steal(s);
    return p;
}

/* ---- sleeping and waking ---------------------------------------------------- */

/* Every use of the poller goes between these two: np_active counts the
 * caller until it leaves, so grove__netpoll_clear cannot close the poller
 * under it. Returns the poller, or NULL when there is none. */
static const grove__netpoll_t *netpoll_enter(void)
{
    atomic_fetch_add(&grove__rt.np_active, 1);
    return atomic_load(&grove__rt.netpoll);
}

static void netpoll_leave(void)
{
    atomic_fetch_sub(&grove__rt.np_active, 1);
}

/* Makes the poller's wait return. */
static void netpoll_wake(void)
{
    const grove__netpoll_t *np = netpoll_enter();
    if (np)
        np->wake();
    netpoll_leave();
}

/* Under the sleeper's lock: either it has not yet decided to wait (it
 * will see wake_pending) or it waits on its condition variable or in the
 * poller, as in_poll says. */
static void wake_locked_signal(grove__sched_t *v)
{
    pthread_mutex_lock(&v->sleep_lock);
    v->wake_pending = true;
    bool in_poll = v->in_poll;
    if (!in_poll)
        pthread_cond_signal(&v->sleep_cond);
    pthread_mutex_unlock(&v->sleep_lock);
    if (in_poll)
        netpoll_wake();
}

static bool wake(grove__sched_t *v)
{
    bool expected = true;
    if (!atomic_compare_exchange_strong(&v->sleeping, &expected, false))
        return false;
    atomic_fetch_sub(&grove__rt.nsleeping, 1);
    wake_locked_signal(v);
    return true;
}

void grove__sched_wake_one(void)
{
    if (atomic_load(&grove__rt.nsleeping) == 0)
        return;
    for (int i = 0; i < grove__rt.nsched; i++)
        if (wake(&grove__rt.scheds[i]))
            return;
}

static bool work_visible(grove__sched_t *s)
{
    if (atomic_load(&grove__rt.inj_len) > 0)
        return true;
    for (int i = 0; i < grove__rt.nsched; i++) {
        grove__sched_t *v = &grove__rt.scheds[i];
        /* Another scheduler's runnext is not stealable. */
        if (v == s ? grove__rq_count(v) > 0 : atomic_load(&v->rq_fifo) > 0)
            return true;
    }
    return false;
}

/* ---- the poller ------------------------------------------------------------ */

void grove__netpoll_set(const grove__netpoll_t *np)
{
    atomic_store(&grove__rt.netpoll, np);
}

void grove__netpoll_clear(void)
{
    const grove__netpoll_t *np = atomic_exchange(&grove__rt.netpoll, NULL);
    /* seq_cst: a thread that entered after this exchange sees NULL; one
     * that entered before is counted in np_active and is woken out. */
    while (np && atomic_load(&grove__rt.np_active) > 0) {
        np->wake();
        sched_yield();
    }
}

/* After a poll. A scheduler handed the reports out to its own queue: it
 * runs the first itself; more than that is work for an idle scheduler
 * (s is NULL for the service thread, whose reports went through the
 * inject queue). */
static void poll_done(grove__sched_t *s)
{
    atomic_store_explicit(&grove__rt.np_last_ms,
                          atomic_load_explicit(&grove__rt.coarse_ms,
                                               memory_order_relaxed),
                          memory_order_relaxed);
    if (!s)
        return;
    s->polling = false;
    if (atomic_load_explicit(&s->rq_fifo, memory_order_relaxed) > 1)
        maybe_wake_idle();
}

/* A look at the poller without waiting, unless a scheduler sleeps in it
 * (that one gets the reports). s is NULL for the service thread. */
static void poll_look(grove__sched_t *s)
{
    grove__rt_t *rt = &grove__rt;
    if (!atomic_load_explicit(&rt->netpoll, memory_order_relaxed) ||
        atomic_load_explicit(&rt->np_blocked, memory_order_relaxed))
        return;
    const grove__netpoll_t *np = netpoll_enter();
    if (np) {
        if (s)
            s->polling = true;
        np->poll(0);
        poll_done(s);
    }
    netpoll_leave();
}

/* Sleeps in the poller instead of on the condition variable, when there
 * is one and no other scheduler sleeps in it, until a report, a wake or
 * the next timer (ms). s is counted asleep. Returns false if it did not
 * sleep there. */
static bool poll_sleep(grove__sched_t *s, uint64_t next)
{
    grove__rt_t *rt = &grove__rt;
    int none = 0;
    if (!atomic_load_explicit(&rt->netpoll, memory_order_relaxed) ||
        !atomic_compare_exchange_strong(&rt->np_blocked, &none, 1))
        return false;
    const grove__netpoll_t *np = netpoll_enter();
    if (np) {
        pthread_mutex_lock(&s->sleep_lock);
        bool woken = s->wake_pending || atomic_load(&rt->stopping);
        s->in_poll = !woken;
        pthread_mutex_unlock(&s->sleep_lock);
        if (!woken) {
            int timeout = -1;
            if (next != UINT64_MAX) {
                uint64_t now = grove__ms_now();
                timeout = next <= now ? 0
                          : next - now > INT32_MAX ? INT32_MAX
                                                   : (int)(next - now);
            }
            /* Reports queue processes here, where s runs them. */
            s->polling = true;
            np->poll(timeout);
        }
        pthread_mutex_lock(&s->sleep_lock);
        s->in_poll = false;
        s->wake_pending = false;
        pthread_mutex_unlock(&s->sleep_lock);
        if (atomic_exchange(&s->sleeping, false))
            atomic_fetch_sub(&rt->nsleeping, 1);
        if (!woken)
            poll_done(s); /* awake now: not the one it would wake */
    }
    netpoll_leave();
    atomic_store(&rt->np_blocked, 0);
    return np != NULL;
}

static void sched_sleep(grove__sched_t *s)
{
    grove__warm_cool(s, 0); /* may queue one that had news meanwhile */
    atomic_store(&s->sleeping, true);
    atomic_fetch_add(&grove__rt.nsleeping, 1);
    uint64_t next = grove__timers_run(s);
    if (work_visible(s) || atomic_load(&grove__rt.stopping) ||
        next <= grove__ms_now()) {
        if (atomic_exchange(&s->sleeping, false))
            atomic_fetch_sub(&grove__rt.nsleeping, 1);
        pthread_mutex_lock(&s->sleep_lock);
        s->wake_pending = false;
        pthread_mutex_unlock(&s->sleep_lock);
        return;
    }
    grove__rq_trim(s);
    if (poll_sleep(s, next))
        return;
    pthread_mutex_lock(&s->sleep_lock);
    while (!s->wake_pending && !atomic_load(&grove__rt.stopping)) {
        if (next == UINT64_MAX) {
            pthread_cond_wait(&s->sleep_cond, &s->sleep_lock);
        } else {
            uint64_t ns = grove__rt.start_ns + next * 1000000u;
            struct timespec ts = {(time_t)(ns / 1000000000u),
                                  (long)(ns % 1000000000u)};
            if (pthread_cond_timedwait(&s->sleep_cond, &s->sleep_lock,
                                       &ts) != 0)
                break;
        }
    }
    s->wake_pending = false;
    pthread_mutex_unlock(&s->sleep_lock);
    if (atomic_exchange(&s->sleeping, false))
        atomic_fetch_sub(&grove__rt.nsleeping, 1);
}

/* ---- running a process ------------------------------------------------------ */

void grove__wake_claimed(grove__proc_t *p)
{
    atomic_store_explicit(&p->state, PS_RUNNABLE, memory_order_relaxed);
    grove__enqueue(p);
}

void grove__wake(grove__proc_t *p)
{
    /* Running, runnable, being trimmed, or with messages queued: whoever
     * has it will look at its timeout itself. */
    grove_msg_t *e = INBOX_WAITING;
    if (atomic_compare_exchange_strong(&p->inbox, &e, NULL))
        grove__wake_claimed(p);
}

/* Hand-off: a process that begins to wait while its scheduler's runnext
 * is ready switches straight to it, instead of to the scheduler's loop and
 * from there to it: one switch per message exchanged instead of two. The
 * waiter's switch-out (publishing it as waiting, giving its stack back) is
 * finished by the process it switched to, first thing on its own stack
 * (grove__handoff_finish). Declined when the loop has work of its own due:
 * the timers and the poller (every TIMER_CHECK_EVERY rounds, hand-offs
 * counted), a high process, a queue kept waiting by runnext (the same
 * bound as grove__rq_pop's), or a stop. */
static void run_begin(grove__sched_t *s, grove__proc_t *p);
static void run_end(grove__sched_t *s, grove__proc_t *p);

/* Whether p, waiting stackless, must run (on a stack): a message is in
 * its mailbox, or its wait's timeout has come. */
static bool stackless_due(grove__proc_t *p)
{
    return !grove__dlist_empty(&p->mbox) ||
           (p->sl_armed && atomic_load(&p->timeout_seq) == p->wait_seq);
}

/* Whether n, waiting stackless and now ours to run, has a message to
 * take a stack for: stackless_due, or a message among the first entries
 * of its inbox. Nothing else reads that inbox while n does not run, and
 * senders only push onto its head. */
static bool stackless_has_mail(grove__proc_t *n)
{
    if (!n->sl_cont)
        return false;
    if (stackless_due(n))
        return true;
    grove_msg_t *m = atomic_load_explicit(&n->inbox, memory_order_acquire);
    for (int i = 0; i < 8 && m && m != INBOX_CLOSED; i++) {
        if (m->sig == SIG_USER)
            return true;
        m = (grove_msg_t *)m->link.next;
    }
    return false;
}

/* The hand-off's target: runnext, taken and made ready to run (given a
 * stack if it waited stackless), or NULL when the hand-off is declined. */
static grove__proc_t *handoff_take(grove__sched_t *s)
{
    grove__proc_t *n = atomic_load_explicit(&s->runnext, memory_order_relaxed);
    if (!n || (s->tick + 1) % TIMER_CHECK_EVERY == 0 ||
        atomic_load_explicit(&s->rq_hi, memory_order_relaxed) ||
        !runnext_turn(s, atomic_load_explicit(&s->rq_fifo,
                                              memory_order_relaxed)) ||
        atomic_load_explicit(&grove__rt.stopping, memory_order_relaxed))
        return NULL;
#if defined(GROVE_DETERMINISTIC)
    /* The seed decides, so seeded runs explore both ways. */
    if (!grove__det_coin())
        return NULL;
#endif
    /* Only the service thread can take it meanwhile (unpin_runnext), and
     * then another scheduler may run it: its fields are read once it is
     * ours. */
    if (!(n = atomic_exchange(&s->runnext, NULL)))
        return NULL;
    /* A parked stack, none outside a stackless wait, or a stackless
     * waiter woken by signals alone (which it handles without a stack,
     * wake_stackless): the loop's way. Only this scheduler fills its
     * runnext, so the slot is still empty. */
    if (n->stack ? n->stack->parked : !stackless_has_mail(n)) {
        atomic_store_explicit(&s->runnext, n, memory_order_release);
        return NULL;
    }
    /* A stackless waiter gets its stack here; the signals that woke it
     * are handled by its own receive, on that stack. */
    if (!n->stack && grove__proc_restack(s, n) != 0) {
        grove__enqueue_tail(s, n); /* run_process reports the failure */
        return NULL;
    }
    s->tick++;
    s->runnext_streak++;
    return n;
}

/* p, about to wait (its request set), switches to n (handoff_take). */
static void handoff(grove__sched_t *s, grove__proc_t *p, grove__proc_t *n,
                    bool abandon)
{
    s->handoff_prev = p;
    run_begin(s, n);
    grove__fiber_switch(&p->fiber, &n->fiber, abandon);
}

void grove__handoff_finish(void)
{
    grove__sched_t *s = grove__tls_get_sched();
    grove__proc_t *q = s->handoff_prev;
    if (q) {
        s->handoff_prev = NULL;
        run_end(s, q);
    }
}

/* p switches out to wait as request (REQ_BLOCK or REQ_BLOCK_WARM) asks,
 * and returns when it runs again on its stack. */
__attribute__((always_inline)) static inline void block_as(grove__proc_t *p,
                                                          int request)
{
    grove__sched_t *s = p->sched;
    p->request = request;
    grove__proc_t *n = handoff_take(s);
    if (n)
        handoff(s, p, n, false);
    else
        grove__fiber_switch(&p->fiber, &s->fiber, false);
    grove__handoff_finish();
}

void grove__block(grove__proc_t *p)
{
    block_as(p, REQ_BLOCK);
}

void grove__block_warm(grove__proc_t *p)
{
    block_as(p, REQ_BLOCK_WARM);
}

void grove__block_stackless(grove__proc_t *p)
{
    grove__sched_t *s = p->sched;
    p->request = REQ_BLOCK_SL;
    /* The frames on this stack are abandoned: the switch tells the
     * sanitizers. */
    grove__proc_t *n = handoff_take(s);
    if (n)
        handoff(s, p, n, true);
    else
        grove__fiber_switch(&p->fiber, &s->fiber, true);
    grove__panic("grove: a process resumed a stack it gave back");
}

GROVE_EXPORT void grove_yield(void)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return;
    RT_ENTER();
    p->request = REQ_YIELD;
    grove__fiber_switch(&p->fiber, &p->sched->fiber, false);
    grove__handoff_finish();
    grove__drain(p);
    RT_LEAVE();
}

/* seq is the process's wait_seq, read before it was published as
 * WAITING: afterwards another scheduler may already be running it. */
static bool has_news(grove__proc_t *p, uint32_t seq)
{
    return atomic_load(&p->inbox) != NULL ||
           atomic_load(&p->timeout_seq) == seq;
}

static void park_stack_if_needed(grove__sched_t *s, grove__proc_t *p)
{
    bool hibernate = p->hibernate_next;
    p->hibernate_next = false;
    if (!p->stack || p->stack->parked ||
        atomic_load_explicit(&p->pinned, memory_order_relaxed) ||
        (!hibernate && (grove__rt.stack_soft_limit == 0 ||
                        grove__stacks_mapped() <= grove__rt.stack_soft_limit)))
        return;
    /* Over the mapping budget: give this idle stack back right away. */
    void *sp = grove__fiber_sp(&p->fiber);
    if (sp && grove__stack_park(p->stack, sp) == 0)
        atomic_store_explicit(&p->st_parked, true, memory_order_relaxed);
    (void)s;
}

/* Publishes p, which is ours and whose wait is seq, as waiting: from
 * then on the first to replace INBOX_WAITING in its inbox queues it.
 * Returns false when it must run instead, news having come first. */
static bool publish_waiting(grove__proc_t *p, uint32_t seq)
{
    grove_msg_t *e = NULL;
    atomic_store_explicit(&p->state, PS_WAITING, memory_order_relaxed);
    if (!atomic_compare_exchange_strong(&p->inbox, &e, INBOX_WAITING))
        return false;
    /* seq_cst CAS then load: pairs with a timer's store of timeout_seq
     * followed by its CAS (grove__wake), so one of the two sees the
     * other. A timeout that fired before is taken back here, unless a
     * waker got in first and queues the process itself. */
    if (atomic_load(&p->timeout_seq) != seq)
        return true;
    e = INBOX_WAITING;
    return !atomic_compare_exchange_strong(&p->inbox, &e, NULL);
}

/* Publishes p, which switched out to wait, as waiting, unless news came
 * meanwhile; since_ms: when its wait began, 0 to keep the recorded time
 * (a wait that goes on). */
static void wait_on(grove__sched_t *s, grove__proc_t *p, uint64_t since_ms)
{
    uint32_t seq = p->wait_seq;
    /* A stackless waiter runs again for any message in its mailbox
     * (wake_stackless): one already there is news too (a hibernation
     * entered with messages queued). Only the owner touches the mailbox,
     * so it is read before the process is published as waiting. */
    if (has_news(p, seq) ||
        (p->sl_cont && !p->stack && !grove__dlist_empty(&p->mbox)))
        goto again;
    park_stack_if_needed(s, p);
    if (since_ms)
        atomic_store_explicit(&p->wait_since_atomic, since_ms,
                              memory_order_relaxed);
    if (publish_waiting(p, seq))
        return;
again:
    atomic_store_explicit(&p->state, PS_RUNNABLE, memory_order_release);
    grove__enqueue_tail(s, p);
}

static void on_block(grove__sched_t *s, grove__proc_t *p)
{
    wait_on(s, p, atomic_load_explicit(&grove__rt.coarse_ms,
                                       memory_order_relaxed));
}

/* The process waited stackless: its stack goes back to this scheduler's
 * cache before the process can be seen waiting (and be woken elsewhere). */
static void drop_stack(grove__sched_t *s, grove__proc_t *p)
{
    grove__fiber_destroy(&p->fiber);
    grove__fiber_release(&p->fiber); /* a fresh start gets a fresh one */
    p->fiber.stack_lo = NULL;
    grove__stack_put(&s->stacks, p->stack);
    p->stack = NULL;
    atomic_store_explicit(&p->st_stack_used, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_stack_size, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_parked, true, memory_order_relaxed);
}

/* ---- warm waits ----------------------------------------------------------
 * A process that waits where it could give its stack back (a gen_server
 * between messages) keeps it while it is among the last GROVE__WARM_MAX to
 * begin such a wait on its scheduler: a server answering call after call
 * then resumes where it waited instead of starting again on a fresh
 * stack. The stack is taken back (the wait cooled) when the entry is
 * pushed out by a newer one, when the scheduler has gone GROVE__WARM_AGE
 * rounds of its loop without the process waking, or when the scheduler
 * has nothing left to run, so idle processes still hold no stack (also
 * on a scheduler that never sleeps, woken again and again by timers). */

/* Takes a waiting process's wake-up, which makes it the caller's to
 * work on (cooling, trimming): a message arriving meanwhile is queued
 * without waking it, and the caller publishes it waiting again or queues
 * it when done. False when p is not waiting. */
static bool claim_waiter(grove__proc_t *p)
{
    grove_msg_t *e = INBOX_WAITING;
    if (!atomic_compare_exchange_strong(&p->inbox, &e, NULL))
        return false;
    atomic_store_explicit(&p->state, PS_TRIMMING, memory_order_relaxed);
    return true;
}

/* Cools entry i of s's warm waiters, if it still names a process waiting
 * warm: claimed as a waker claims it, given no stack, and published as
 * waiting again (or queued, news having come meanwhile), to start again
 * at its fn(arg) when woken. Entries go stale when their process woke;
 * process records are never freed while the runtime runs, and the claim
 * fails on any process that is not waiting. */
static void warm_cool(grove__sched_t *s, unsigned i)
{
    grove__proc_t *p = s->warm[i].p;
    s->warm[i].p = NULL;
    if (!p || atomic_load_explicit(&p->pid_atomic, memory_order_relaxed) !=
                  s->warm[i].id)
        return;
    if (!claim_waiter(p))
        return; /* it runs or will: its next warm wait is recorded anew */
    /* Read after the claim: the process wrote them before it waited. */
    if (p->sl_cont && p->stack &&
        !atomic_load_explicit(&p->pinned, memory_order_relaxed))
        drop_stack(s, p);
    wait_on(s, p, 0);
}

/* Records p, ours and about to be published waiting warm. */
static void warm_add(grove__sched_t *s, grove__proc_t *p)
{
    unsigned i = 0;
    while (i < GROVE__WARM_MAX && s->warm[i].p != p)
        i++;
    if (i == GROVE__WARM_MAX) { /* new: the slot next in turn is cooled */
        i = s->warm_next++ % GROVE__WARM_MAX;
        warm_cool(s, i);
        s->warm[i].p = p;
    }
    s->warm[i].id = p->pid.id;
    s->warm[i].tick = s->tick;
}

void grove__warm_cool(grove__sched_t *s, unsigned age)
{
    for (unsigned i = 0; i < GROVE__WARM_MAX; i++)
        if (s->warm[i].p && s->tick - s->warm[i].tick >= age)
            warm_cool(s, i);
}

/* p waits stackless and was woken: its signals are handled here, on the
 * scheduler's stack. Returns true when it must run: a message or its
 * wait's timeout is there. Otherwise it has ended or waits again, and no
 * stack was taken for it. */
static bool wake_stackless(grove__sched_t *s, grove__proc_t *p)
{
    if (grove__drain_waiting(s, p)) {
        grove__proc_finish(s, p);
        return false;
    }
    if (stackless_due(p))
        return true;
    wait_on(s, p, 0);
    return false;
}

void grove__run_process(grove__sched_t *s, grove__proc_t *p)
{
    if (!p->stack && p->sl_cont && !wake_stackless(s, p))
        return;
    if (!p->stack && grove__proc_restack(s, p) != 0) {
        s->exit_reason = grove_reason_error(GROVE_ENOMEM,
                                            "no stack to resume on");
        grove__proc_finish(s, p);
        return;
    }
    if (p->stack->parked) {
        if (grove__stack_unpark(p->stack) == 0)
            atomic_store_explicit(&p->st_parked, false, memory_order_relaxed);
    }
    if (p->stack->parked) {
        /* Without its stack the process cannot continue. */
        s->exit_reason = grove_reason_error(GROVE_ENOMEM,
                                            "stack could not be restored");
        grove__proc_finish(s, p);
        return;
    }
    run_begin(s, p);
    grove__fiber_switch(&s->fiber, &p->fiber, false);
    /* Back on the loop: from p, or from the last process of the hand-offs
     * that began with p. */
    p = s->current;
    s->current = NULL;
    atomic_store_explicit(&s->running, NULL, memory_order_relaxed);
    run_end(s, p);
}

/* Makes p the process running on s, before the switch to it. */
static void run_begin(grove__sched_t *s, grove__proc_t *p)
{
    atomic_store_explicit(&p->state, PS_RUNNING, memory_order_relaxed);
    p->sched = s;
    p->request = REQ_NONE;
    s->current = p;
    s->slice_sends = 0;
    /* Release: the service thread reads p's fields (report_long). */
    atomic_store_explicit(&s->running, p, memory_order_release);
    GROVE__OWN_ADD(s->switches, 1);
    GROVE__OWN_ADD(p->st_reductions, 1);
    grove__post_flush(s); /* what ended before it may concern it */
}

/* Carries out what p asked for as it switched out; runs on another
 * stack than p's. */
static void run_end(grove__sched_t *s, grove__proc_t *p)
{
    void *sp = grove__fiber_sp(&p->fiber);
    if (sp && p->request != REQ_EXIT && p->request != REQ_BLOCK_SL)
        atomic_store_explicit(&p->st_stack_used,
                              (size_t)(p->stack->lo + p->stack->size -
                                       (char *)sp),
                              memory_order_relaxed);
    switch (p->request) {
    case REQ_YIELD:
        atomic_store_explicit(&p->state, PS_RUNNABLE, memory_order_release);
        grove__enqueue_tail(s, p);
        break;
    case REQ_BLOCK:
        on_block(s, p);
        break;
    case REQ_BLOCK_SL:
        drop_stack(s, p);
        on_block(s, p);
        break;
    case REQ_BLOCK_WARM:
        warm_add(s, p);
        on_block(s, p);
        break;
    case REQ_EXIT:
        grove__proc_finish(s, p);
        break;
    default:
        grove__panic("grove: process switched out without a request");
    }
}

__attribute__((unused)) static void *sched_main(void *arg)
{
    grove__sched_t *s = arg;
    grove__tls_set_sched(s);
    grove__tls_set_in_rt(1);
    grove__fiber_init_thread(&s->fiber);
    if (grove__fault_thread_init(s) < 0)
        grove__panic("grove: cannot set up the signal stack");
    unsigned idle = 0, spin_shift = 0;
    bool found = true; /* work found since the last sleep */
    while (!atomic_load(&grove__rt.stopping)) {
        if (++s->tick % TIMER_CHECK_EVERY == 0) {
            grove__timers_run(s);
            poll_look(s);
            grove__warm_cool(s, GROVE__WARM_AGE);
        }
        grove__proc_t *p =
            find_work(s, idle < STEAL_DENSE || idle % STEAL_SPARSE == 0);
        if (p) {
            if (idle)
                atomic_fetch_sub(&grove__rt.nspinning, 1);
            idle = 0;
            found = true;
            grove__run_process(s, p);
            continue;
        }
        if (idle == 0)
            atomic_fetch_add(&grove__rt.nspinning, 1);
        bool io = atomic_load_explicit(&grove__rt.netpoll,
                                       memory_order_relaxed) != NULL;
        /* Timers and the poller are looked at by the tick check above,
         * which counts idle rounds too. */
        if (++idle < (io ? IDLE_SPINS_IO : IDLE_SPINS << spin_shift)) {
            GROVE__CPU_RELAX();
            continue;
        }
        atomic_fetch_sub(&grove__rt.nspinning, 1);
        if (found || io)
            spin_shift = 0;
        else if (spin_shift < SPIN_GROW_MAX)
            spin_shift++;
        found = false;
        sched_sleep(s);
        idle = 0;
    }
    grove__post_flush(s);
    grove__stack_cache_drain(&s->stacks);
    grove__msg_cache_drain(s);
    grove__fault_thread_fini(s);
    grove__tls_set_sched(NULL);
    return NULL;
}

/* ---- the service thread ---------------------------------------------------- */

typedef struct watch {
    uint64_t switches;
    uint64_t since_ms;
    bool reported;
} watch_t;

static void report_long(grove__sched_t *s, grove__proc_t *p, uint64_t ms)
{
    atomic_fetch_add(&grove__rt.n_long, 1);
    char pid[GROVE_PID_STR_MAX], name[GROVE_NAME_MAX], t[32], text[160];
    grove_pid_t id = {atomic_load_explicit(&p->pid_atomic,
                                           memory_order_relaxed)};
    grove_pid_format(id, pid, sizeof pid);
    grove__names_info(p, name, sizeof name);
    snprintf(t, sizeof t, "%llu", (unsigned long long)ms);
    snprintf(text, sizeof text,
             "long schedule: %s%s%s has held scheduler %d for %llu ms", pid,
             name[0] ? " " : "", name, s->id, (unsigned long long)ms);
    char sid[16];
    snprintf(sid, sizeof sid, "%d", s->id);
    grove_log_field_t f[] = {
        {"pid", pid}, {"name", name}, {"time_ms", t}, {"scheduler", sid}};
    grove_log_event(GROVE_LOG_WARNING, "long_schedule", id, text, f, 4);
}

/* A scheduler stuck in one process still has a runnext nobody else may
 * take; move it where stealers can reach it. */
static void unpin_runnext(grove__sched_t *s)
{
    grove__proc_t *p = atomic_exchange(&s->runnext, NULL);
    if (!p)
        return;
    if (push_or_inject(s, p, false) >= 0)
        grove__sched_wake_one();
}

static void watch_schedulers(watch_t *w, uint64_t now)
{
    int limit = grove__rt.cfg.long_schedule_ms;
    for (int i = 0; i < grove__rt.nsched; i++) {
        grove__sched_t *s = &grove__rt.scheds[i];
        uint64_t sw = atomic_load_explicit(&s->switches, memory_order_relaxed);
        grove__proc_t *p = atomic_load_explicit(&s->running,
                                                memory_order_acquire);
        if (sw != w[i].switches || !p) {
            w[i].switches = sw;
            w[i].since_ms = now;
            w[i].reported = false;
            continue;
        }
        uint64_t held = now - w[i].since_ms;
        if (held >= 10) {
            unpin_runnext(s);
            /* Its owner is busy: fire its due receive timeouts here, so a
             * long-running process does not delay others' timeouts. */
            if (grove__spin_trylock(&s->wheel.lock)) {
                if (s->wheel.count)
                    grove__wheel_advance(&s->wheel, grove__ms_now());
                grove__spin_unlock(&s->wheel.lock);
            }
        }
        if (limit > 0 && held >= (uint64_t)limit && !w[i].reported) {
            w[i].reported = true;
            report_long(s, p, held);
        }
    }
}

/* Ends the trimming of a batch: the stacks give their pages back in one
 * call, then each process is WAITING again, or queued if a message came
 * meanwhile. */
static void trim_finish(grove__proc_t **ps, grove__stack_t **sts, int nsts,
                        int n)
{
    grove__stacks_drop_saved(sts, nsts);
    for (int i = 0; i < n; i++) {
        grove__proc_t *p = ps[i];
        if (p->stack && p->stack->parked)
            atomic_store_explicit(&p->st_parked, true, memory_order_relaxed);
        /* News came meanwhile: it is ours to queue (from the service
         * thread, which is no scheduler, on the inject queue). */
        if (!publish_waiting(p, p->wait_seq))
            grove__wake_claimed(p);
    }
}

/* Gives back the stack pages of processes idle in receive for a while,
 * a batch at a time. */
void grove__trim_stacks(uint64_t now)
{
    int ms = grove__rt.cfg.stack_trim_ms;
    if (ms < 0)
        return;
    grove__proc_t *ps[GROVE__PARK_BATCH];
    grove__stack_t *sts[GROVE__PARK_BATCH];
    int n = 0, nsts = 0;
    uint32_t slots = grove__proc_slots_used();
    for (uint32_t i = 0;
         i < slots && !atomic_load(&grove__rt.service_stop); i++) {
        grove__proc_t *p = grove__proc_slot(i);
        if (!p || atomic_load_explicit(&p->inbox, memory_order_relaxed) !=
                      INBOX_WAITING)
            continue;
        if (now - atomic_load_explicit(&p->wait_since_atomic,
                                       memory_order_relaxed) < (uint64_t)ms)
            continue;
        /* Ours now: trim_finish looks for news that came meanwhile. */
        if (!claim_waiter(p))
            continue;
        /* Read after the claim, which orders it after the owner's pin. A
         * pinned stack is in use by another thread meanwhile. */
        bool pinned = atomic_load_explicit(&p->pinned, memory_order_relaxed);
        if (!pinned && p->stack && !p->stack->parked) {
            void *sp = grove__fiber_sp(&p->fiber);
            if (sp && grove__stack_save(p->stack, sp) == 0)
                sts[nsts++] = p->stack;
        }
        ps[n++] = p;
        if (n == GROVE__PARK_BATCH) {
            trim_finish(ps, sts, nsts, n);
            n = nsts = 0;
        }
    }
    if (n)
        trim_finish(ps, sts, nsts, n);
}

__attribute__((unused)) /* How many pooled stacks to keep: all while processes are being spawned,
 * 1024 once a tick went by without a spawn. */
static unsigned keep_pool(uint64_t *seen)
{
    uint64_t spawned = (uint64_t)grove__count_sum(CNT_SPAWNED);
    bool busy = spawned != *seen;
    *seen = spawned;
    return busy ? UINT32_MAX : 1024;
}

/* Whether the idle stacks may be trimmed now. Trimming gives memory back
 * in idle time: copying stacks out and the page releases' interrupts
 * would take time from processes that have work, and the processes
 * trimmed meanwhile would pay again to resume. So it waits while every
 * scheduler is busy, but not longer than twice stack_trim_ms (at least
 * 1 s) since the last pass, so a runtime that is never idle still gives
 * memory back. */
static bool trim_allowed(uint64_t now, uint64_t last_trim)
{
    if (atomic_load_explicit(&grove__rt.nsleeping, memory_order_relaxed) +
            atomic_load_explicit(&grove__rt.nspinning, memory_order_relaxed) >
        0)
        return true;
    uint64_t most = 2 * (uint64_t)grove__rt.cfg.stack_trim_ms;
    return now - last_trim >= (most > 1000 ? most : 1000);
}

__attribute__((unused)) static void *service_main(void *arg)
{
    (void)arg;
    grove__tls_set_in_rt(1);
    static watch_t w[256]; /* one service thread; at most 256 schedulers */
    memset(w, 0, sizeof w);
    uint64_t last_trim = 0, pool_seen = 0;
    while (!atomic_load(&grove__rt.service_stop)) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
        uint64_t now = grove__ms_now();
        atomic_store_explicit(&grove__rt.coarse_ms, now, memory_order_relaxed);
        watch_schedulers(w, now);
        /* Every scheduler busy for a while: the poller's reports must
         * not wait for one of them to finish. */
        if (now - atomic_load_explicit(&grove__rt.np_last_ms,
                                       memory_order_relaxed) >= 5)
            poll_look(NULL);
        if (now - last_trim >= 100 && trim_allowed(now, last_trim)) {
            grove__trim_stacks(now);
            /* Keep a modest pool warm; what a burst left behind goes
             * back once spawning pauses, so steady churn keeps its
             * stacks. */
            grove__stacks_trim_pool(keep_pool(&pool_seen));
            last_trim = now;
        }
    }
    return NULL;
}

int64_t grove__count_sum(int k)
{
    int64_t n = atomic_load_explicit(&grove__rt.cnt[k], memory_order_relaxed);
    grove__sched_t *scheds = grove__rt.scheds;
    for (int i = 0; scheds && i < grove__rt.nsched; i++)
        n += atomic_load_explicit(&scheds[i].cnt[k], memory_order_relaxed);
    return n;
}

/* Stopped schedulers hand their counts to the global ones, so totals
 * (and leaks) still show after grove_stop. */
static void fold_counters(void)
{
    for (int i = 0; i < grove__rt.nsched; i++)
        for (int k = 0; k < CNT__N; k++)
            atomic_fetch_add(&grove__rt.cnt[k],
                             atomic_load(&grove__rt.scheds[i].cnt[k]));
}

/* ---- start and stop ---------------------------------------------------------- */

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    return *end ? dflt : (int)x;
}

static int config_resolve(const grove_config_t *in, grove_config_t *c)
{
    memset(c, 0, sizeof *c);
    if (in)
        *c = *in;
    if (c->schedulers < 0)
        return GROVE_EINVAL;
    if (c->schedulers == 0)
        c->schedulers = env_int("GROVE_SCHEDULERS", 0);
    if (c->schedulers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->schedulers = n > 0 ? (int)n : 1;
    }
    if (c->schedulers > 256)
        return GROVE_EINVAL;
    if (c->stack_size == 0)
        c->stack_size = 64 * 1024;
    if (c->stack_size < 16 * 1024 || c->stack_size > ((size_t)256 << 20))
        return GROVE_EINVAL;
    if (c->max_processes == 0) {
        int m = env_int("GROVE_MAX_PROCESSES", 1 << 20);
        c->max_processes = m > 0 ? (uint32_t)m : 1u << 20;
    }
    if (c->max_processes > (1u << 28))
        return GROVE_EINVAL;
    if (c->long_schedule_ms == 0)
        c->long_schedule_ms = env_int("GROVE_LONG_SCHEDULE_MS", 100);
    if (c->long_schedule_ms < 0)
        c->long_schedule_ms = -1;
    if (c->stack_trim_ms == 0)
        c->stack_trim_ms = 1000;
    if (c->stack_trim_ms < 0)
        c->stack_trim_ms = -1;
    return 0;
}

/* Stacks that may stay read-write before idle ones are parked eagerly:
 * each costs two kernel mappings, and the kernel allows max_map_count. */
static size_t stack_budget(void)
{
    long maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &maps) != 1)
            maps = 65530;
        fclose(f);
    }
    long budget = (maps - 8192) / 3;
    return budget > 256 ? (size_t)budget : 256;
}

/* Stops and joins the first n scheduler threads (and the service thread
 * when it runs), then frees what grove_start set up: the common tail of
 * grove_stop and of a grove_start that failed part-way. */
static void teardown(int nthreads, bool service)
{
    grove__rt_t *rt = &grove__rt;
    if (service) {
        atomic_store(&rt->service_stop, 1);
        pthread_join(rt->service, NULL);
    }
    atomic_store(&rt->stopping, 1);
    for (int i = 0; i < nthreads; i++)
        wake_locked_signal(&rt->scheds[i]);
    for (int i = 0; i < nthreads; i++)
        pthread_join(rt->scheds[i].thread, NULL);
    atomic_store(&rt->started, 0);
    grove__timers_fini();
    fold_counters();
    for (int i = 0; i < rt->nsched; i++) {
        grove__sched_t *s = &rt->scheds[i];
        grove__wheel_fini(&s->wheel);
        free(s->rq_buf);
        pthread_mutex_destroy(&s->sleep_lock);
        pthread_cond_destroy(&s->sleep_cond);
    }
    grove__fault_fini();
    grove__names_fini();
    grove__proc_table_fini();
    grove__stacks_fini();
    grove__msg_depot_fini();
    free(rt->scheds);
    rt->scheds = NULL;
    rt->nsched = 0;
}

GROVE_EXPORT int grove_start(const grove_config_t *cfg)
{
    if (atomic_load(&grove__rt.started))
        return GROVE_ESTARTED;
    grove_config_t c;
    int rc = config_resolve(cfg, &c);
    if (rc < 0)
        return rc;
    grove__rt_t *rt = &grove__rt;
    rt->cfg = c;
    rt->start_ns = grove__now_ns();
    rt->stack_soft_limit = stack_budget();
    atomic_store(&rt->closing, 0);
    atomic_store(&rt->stopping, 0);
    atomic_store(&rt->service_stop, 0);
    atomic_store(&rt->ref_global, 1);
    atomic_store(&rt->coarse_ms, 0);
    rt->inj_head = rt->inj_tail = NULL;
    atomic_store(&rt->inj_len, 0);
    atomic_store(&rt->nsleeping, 0);
    atomic_store(&rt->nspinning, 0);
    void *mem = NULL;
    if (grove__posix_memalign(&mem, 64,
                       sizeof(grove__sched_t) * (size_t)c.schedulers))
        return GROVE_ENOMEM;
    rt->scheds = mem;
    memset(rt->scheds, 0, sizeof(grove__sched_t) * (size_t)c.schedulers);
    rt->nsched = c.schedulers;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (int i = 0; i < c.schedulers; i++) {
        grove__sched_t *s = &rt->scheds[i];
        s->id = i;
        pthread_mutex_init(&s->sleep_lock, NULL);
        pthread_cond_init(&s->sleep_cond, &ca);
        grove__wheel_init(&s->wheel, 0);
    }
    pthread_condattr_destroy(&ca);
    grove__stacks_init(c.stack_size);
    if (grove__stacks_light_guards())
        rt->stack_soft_limit = 0; /* stacks cost no kernel mappings */
    grove__stacks_set_budget(rt->stack_soft_limit);
    grove__timers_init();
    if ((rc = grove__proc_table_init(c.max_processes)) < 0 ||
        (rc = grove__names_init()) < 0 || (rc = grove__fault_init()) < 0) {
        teardown(0, false);
        return rc;
    }
    atomic_store(&rt->started, 1);
#if defined(GROVE_DETERMINISTIC)
    /* One OS thread steps every scheduler in a seeded order; no service
     * thread: nothing may run that the seed does not decide. */
    if (grove__pthread_create(&rt->scheds[0].thread, NULL, grove__det_main,
                       NULL) != 0) {
        teardown(0, false);
        return GROVE_ESYSCALL;
    }
    return 0;
#else
    for (int i = 0; i < c.schedulers; i++)
        if (grove__pthread_create(&rt->scheds[i].thread, NULL, sched_main,
                           &rt->scheds[i]) != 0) {
            teardown(i, false);
            return GROVE_ESYSCALL;
        }
    if (grove__pthread_create(&rt->service, NULL, service_main, NULL) != 0) {
        teardown(c.schedulers, false);
        return GROVE_ESYSCALL;
    }
    return 0;
#endif
}

GROVE_EXPORT bool grove_running(void)
{
    return atomic_load(&grove__rt.started) != 0;
}

GROVE_EXPORT int grove_scheduler_count(void)
{
    return atomic_load(&grove__rt.started) ? grove__rt.nsched : 0;
}

/* Teardown hooks of upper layers (grove__at_stop). */
static struct {
    pthread_mutex_t lock;
    void (*fns[16])(void);
    int n;
} stop_hooks = {.lock = PTHREAD_MUTEX_INITIALIZER};

int grove__at_stop(void (*fn)(void))
{
    int rc = 0;
    pthread_mutex_lock(&stop_hooks.lock);
    bool known = false;
    for (int i = 0; i < stop_hooks.n; i++)
        known |= stop_hooks.fns[i] == fn;
    if (!known) {
        if (stop_hooks.n < 16)
            stop_hooks.fns[stop_hooks.n++] = fn;
        else
            rc = GROVE_ENOMEM;
    }
    pthread_mutex_unlock(&stop_hooks.lock);
    return rc;
}

static void run_stop_hooks(void)
{
    pthread_mutex_lock(&stop_hooks.lock);
    int n = stop_hooks.n;
    void (*fns[16])(void);
    memcpy(fns, stop_hooks.fns, sizeof fns);
    stop_hooks.n = 0;
    pthread_mutex_unlock(&stop_hooks.lock);
    while (n > 0)
        fns[--n]();
}

static void kill_one(grove_pid_t pid, void *arg)
{
    (void)arg;
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(pid, &kill);
}

GROVE_EXPORT int grove_stop(void)
{
    if (!atomic_load(&grove__rt.started))
        return GROVE_ENOTSTARTED;
    if (grove__tls_get_sched())
        return GROVE_EBUSY;
    /* Kill what is left and wait for every exit to finish. From here on
     * spawns are refused, or processes that spawn others could outrun the
     * kills for ever. Another pass is made only when the count stopped
     * falling (a spawn that was under way is left): while the killed are
     * still ending, a pass would send each of them one more signal, and
     * 100,000 processes take tens of passes to end. */
    atomic_store(&grove__rt.closing, 1);
    for (int64_t left = grove__count_sum(CNT_ALIVE); left > 0;) {
        grove_processes(kill_one, NULL);
        int64_t before;
        do {
            before = left;
            struct timespec ts = {0, 2 * 1000000};
            nanosleep(&ts, NULL);
            left = grove__count_sum(CNT_ALIVE);
        } while (left > 0 && left < before);
    }
    run_stop_hooks();
#if defined(GROVE_DETERMINISTIC)
    teardown(1, false);
#else
    teardown(grove__rt.nsched, true);
#endif
    return 0;
}

GROVE_EXPORT int grove_stats(grove_stats_t *out)
{
    if (!out)
        return GROVE_EINVAL;
    grove__rt_t *rt = &grove__rt;
    memset(out, 0, sizeof *out);
    out->processes_alive = (uint64_t)grove__count_sum(CNT_ALIVE);
    out->processes_spawned = (uint64_t)grove__count_sum(CNT_SPAWNED);
    out->processes_exited = (uint64_t)grove__count_sum(CNT_EXITED);
    out->processes_crashed = (uint64_t)grove__count_sum(CNT_CRASHED);
    out->messages_live = (uint64_t)grove__count_sum(CNT_MSGS);
    out->timers_live = (uint64_t)grove__count_sum(CNT_TIMERS);
    out->stacks_mapped = grove__stacks_mapped();
    out->stacks_parked = grove__stacks_parked();
    out->resources_live = (uint64_t)grove__count_sum(CNT_RES);
    out->arena_bytes_live = (uint64_t)grove__count_sum(CNT_ARENA);
    out->long_schedules = atomic_load(&rt->n_long);
    for (int i = 0; i < rt->nsched && rt->scheds; i++)
        out->steals += atomic_load(&rt->scheds[i].steals);
    return 0;
}

/* ---- waiting from outside the runtime ---------------------------------------- */

typedef struct waiter {
    struct waiter *next;
    grove_pid_t pid;
    bool done;
    grove_reason_t reason;
} waiter_t;

static waiter_t *waiters;
static atomic_int n_waiters;

void grove__notify_waiters(grove__proc_t *p, const grove_reason_t *why)
{
    /* seq_cst: the exit path stores the new generation before this load;
     * grove_wait stores the flag before it checks the generation. */
    if (!atomic_load(&p->ext_wait))
        return;
    pthread_mutex_lock(&grove__rt.wait_lock);
    for (waiter_t *w = waiters; w; w = w->next)
        if (w->pid.id == p->pid.id) {
            w->done = true;
            w->reason = *why;
        }
    pthread_cond_broadcast(&grove__rt.wait_cond);
    pthread_mutex_unlock(&grove__rt.wait_lock);
}

static void waiter_unlink(waiter_t *w)
{
    for (waiter_t **pp = &waiters; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    atomic_fetch_sub(&n_waiters, 1);
}

static int wait_locked(waiter_t *w, grove_timeout_t timeout,
                       grove_reason_t *reason)
{
    uint64_t deadline = timeout > 0 ? grove__now_ns() +
                                          (uint64_t)timeout * 1000000u
                                    : 0;
    int rc = 0;
    while (!w->done) {
        if (timeout == 0) {
            rc = GROVE_ETIMEDOUT;
            break;
        }
        if (timeout < 0) {
            pthread_cond_wait(&grove__rt.wait_cond, &grove__rt.wait_lock);
            continue;
        }
        struct timespec ts = {(time_t)(deadline / 1000000000u),
                              (long)(deadline % 1000000000u)};
        if (pthread_cond_timedwait(&grove__rt.wait_cond, &grove__rt.wait_lock,
                                   &ts) != 0 &&
            !w->done) {
            rc = GROVE_ETIMEDOUT;
            break;
        }
    }
    if (rc == 0 && reason)
        *reason = w->reason;
    waiter_unlink(w);
    return rc;
}

static pthread_once_t wait_once = PTHREAD_ONCE_INIT;
static void wait_cond_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&grove__rt.wait_cond, &ca);
    pthread_condattr_destroy(&ca);
}

GROVE_EXPORT int grove_wait(grove_pid_t pid, grove_timeout_t timeout_ms,
                            grove_reason_t *reason)
{
    if (!atomic_load(&grove__rt.started))
        return GROVE_ENOTSTARTED;
    if (grove__tls_get_sched())
        return GROVE_EBUSY;
    if (timeout_ms < GROVE_INFINITY || pid.id == 0)
        return GROVE_EINVAL;
    pthread_once(&wait_once, wait_cond_init);
    waiter_t w = {.pid = pid};
    pthread_mutex_lock(&grove__rt.wait_lock);
    atomic_fetch_add(&n_waiters, 1);
    w.next = waiters;
    waiters = &w;
    grove__proc_t *p = NULL;
    if (grove__proc_lookup(pid, &p) == 0)
        atomic_store(&p->ext_wait, true);
    if (!grove_is_alive(pid)) {
        waiter_unlink(&w);
        pthread_mutex_unlock(&grove__rt.wait_lock);
        return GROVE_ENOPROC;
    }
    int rc = wait_locked(&w, timeout_ms, reason);
    pthread_mutex_unlock(&grove__rt.wait_lock);
    return rc;
}

GROVE_EXPORT int grove_run(void (*fn)(void *), void *arg,
                           grove_reason_t *reason)
{
    if (grove__tls_get_sched())
        return GROVE_EBUSY;
    bool started_here = false;
    if (!atomic_load(&grove__rt.started)) {
        int rc = grove_start(NULL);
        if (rc < 0)
            return rc;
        started_here = true;
    }
    pthread_once(&wait_once, wait_cond_init);
    waiter_t w = {0};
    /* Hold the lock across spawn and registration so an instant exit
     * cannot slip past the waiter. */
    pthread_mutex_lock(&grove__rt.wait_lock);
    atomic_fetch_add(&n_waiters, 1);
    grove__tls_set_spawn_watched(true);
    int rc = grove_spawn(fn, arg, NULL, &w.pid);
    grove__tls_set_spawn_watched(false);
    if (rc < 0) {
        atomic_fetch_sub(&n_waiters, 1);
        pthread_mutex_unlock(&grove__rt.wait_lock);
        if (started_here)
            grove_stop();
        return rc;
    }
    w.next = waiters;
    waiters = &w;
    rc = wait_locked(&w, GROVE_INFINITY, reason);
    pthread_mutex_unlock(&grove__rt.wait_lock);
    if (started_here)
        grove_stop();
    return rc;
}
