/* Mailboxes: delivery into a process's inbox from any thread, the
 * handling of signals in arrival order, and selective receive.
 *
 * The inbox is a Treiber stack (push is one CAS, newest first). Its owner
 * takes the whole stack with one exchange, reverses it into arrival order
 * and handles each entry: messages go to the mailbox, a doubly-linked
 * list only the owner touches; signals change links and monitors or end
 * the process. A dying process swaps in INBOX_CLOSED, after which every
 * push fails: nothing can be queued to a process that will never read it.
 * A process that waits with an empty inbox leaves INBOX_WAITING there, and
 * the push that replaces it queues the process.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "base/failpoint.h"

/* Small messages (most of them) come from a per-scheduler cache of nodes
 * with room for SMALL_PAYLOAD bytes: no allocator call, no lock, and the
 * node is likely still in this core's cache. The sanitizer and valgrind
 * builds skip it, since a pool would hide a use after free. */
#define SMALL_PAYLOAD 128
#define MSG_CACHE_MAX 512
#if defined(GROVE_ASAN) || defined(GROVE_VALGRIND) || \
    defined(__SANITIZE_ADDRESS__)
#define USE_MSG_CACHE 0
#else
#define USE_MSG_CACHE 1
#endif

/* A full cache moves to a shared depot as one chain, and an empty one
 * takes a chain back: a scheduler that sends much more than it frees
 * (a room broadcasting to members the other core runs) keeps reusing the
 * nodes others freed instead of calling the allocator for each. */
#define DEPOT_MAX 16

static struct {
    grove__spin_t lock;
    grove_msg_t *chains[DEPOT_MAX]; /* each linked through link.next */
    atomic_uint n;                  /* written under the lock */
} depot;

static grove_msg_t *depot_take(void)
{
    grove_msg_t *c = NULL;
    if (atomic_load_explicit(&depot.n, memory_order_relaxed) == 0)
        return NULL;
    grove__spin_lock(&depot.lock);
    unsigned n = atomic_load_explicit(&depot.n, memory_order_relaxed);
    if (n) {
        c = depot.chains[n - 1];
        atomic_store_explicit(&depot.n, n - 1, memory_order_relaxed);
    }
    grove__spin_unlock(&depot.lock);
    return c;
}

static void free_chain(grove_msg_t *m)
{
    while (m) {
        grove_msg_t *next = (grove_msg_t *)m->link.next;
        free(m);
        m = next;
    }
}

/* Hands a full chain to the depot, or frees it when the depot is full. */
static void depot_give(grove_msg_t *c)
{
    grove__spin_lock(&depot.lock);
    unsigned n = atomic_load_explicit(&depot.n, memory_order_relaxed);
    bool kept = n < DEPOT_MAX;
    if (kept) {
        depot.chains[n] = c;
        atomic_store_explicit(&depot.n, n + 1, memory_order_relaxed);
    }
    grove__spin_unlock(&depot.lock);
    if (!kept)
        free_chain(c);
}

void grove__msg_depot_fini(void)
{
    grove__spin_lock(&depot.lock);
    for (unsigned n = atomic_load(&depot.n); n > 0; n--)
        free_chain(depot.chains[n - 1]);
    atomic_store(&depot.n, 0);
    grove__spin_unlock(&depot.lock);
}

static grove_msg_t *cache_pop(size_t inline_size)
{
    grove__sched_t *s;
    if (!USE_MSG_CACHE || inline_size > SMALL_PAYLOAD ||
        !(s = grove__tls_get_sched()))
        return NULL;
    grove_msg_t *m = s->msg_cache;
    if (!m && (m = depot_take()) != NULL)
        s->msg_cached = MSG_CACHE_MAX;
    if (m) {
        s->msg_cache = (grove_msg_t *)m->link.next;
        s->msg_cached--;
        return m;
    }
    return grove__malloc(sizeof *m + SMALL_PAYLOAD);
}

static bool cache_push(grove_msg_t *m)
{
    grove__sched_t *s;
    if (!m->small || !(s = grove__tls_get_sched()))
        return false;
    if (s->msg_cached >= MSG_CACHE_MAX) {
        depot_give(s->msg_cache);
        s->msg_cache = NULL;
        s->msg_cached = 0;
    }
    m->link.next = (grove__dlist_t *)s->msg_cache;
    s->msg_cache = m;
    s->msg_cached++;
    return true;
}

void grove__msg_cache_drain(grove__sched_t *s)
{
    free_chain(s->msg_cache);
    s->msg_cache = NULL;
    s->msg_cached = 0;
}

grove_msg_t *grove__msg_new(size_t inline_size)
{
    grove_msg_t *m = cache_pop(inline_size);
    uint8_t small = m != NULL; /* a cache node has SMALL_PAYLOAD room */
    if (!m)
        m = grove__malloc(sizeof *m + inline_size);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->small = small;
    grove__dlist_init(&m->link);
    m->data = inline_size ? m->inline_data : NULL;
    grove__count(CNT_MSGS, 1);
    return m;
}

void grove__msg_destroy(grove_msg_t *m)
{
    if ((m->flags & MSGF_OWNED) && m->dtor) {
        int saved = grove__tls_get_in_rt();
        RT_LEAVE();
        m->dtor(m->data);
        grove__tls_set_in_rt(saved);
    }
    free(m->name);
    grove__count(CNT_MSGS, -1);
    if (!cache_push(m))
        free(m);
}

void grove__dead_letter(grove_msg_t *m, grove_pid_t dead)
{
    grove_reason_t noproc = grove_reason_of(GROVE_EXIT_NOPROC);
    if (m->sig == SIG_LINK)
        grove__send_signal(m->from, SIG_EXIT, dead, GROVE_REF_NONE, &noproc,
                           MSGF_VIA_LINK);
    else if (grove__msg_asks_monitor(m))
        grove__send_signal(m->from, SIG_DOWN, dead, m->ref, &noproc, 0);
    grove__msg_destroy(m);
}

void grove__dead_letter_queued(grove__proc_t *p, grove_msg_t *m)
{
    grove__dead_letter(m,
                       grove__pid_make(grove_pid_slot(p->pid), m->to_gen));
}

/* Pushes the chain head..tail (linked newest first, all to incarnation
 * gen) to p's inbox in one step, or, p being gone, to the dead-letter
 * path. */
static int deliver_chain(grove__proc_t *p, uint32_t gen, grove_msg_t *head,
                         grove_msg_t *tail)
{
    grove_msg_t *h = atomic_load_explicit(&p->inbox, memory_order_relaxed);
    do {
        if (h == INBOX_CLOSED ||
            atomic_load_explicit(&p->gen, memory_order_relaxed) != gen) {
            /* The slot number, read where other threads may read it: a
             * spawn reusing the slot rewrites p->pid meanwhile. */
            grove_pid_t slot_pid = {atomic_load_explicit(
                &p->pid_atomic, memory_order_relaxed)};
            grove_pid_t dead = grove__pid_make(grove_pid_slot(slot_pid), gen);
            for (grove_msg_t *m = head, *next; m; m = next) {
                next = m == tail ? NULL : (grove_msg_t *)m->link.next;
                grove__dead_letter(m, dead);
            }
            return GROVE_ENOPROC;
        }
        tail->link.next = h == INBOX_WAITING ? NULL : (grove__dlist_t *)h;
        if ((head->sig == SIG_LINK || grove__msg_asks_monitor(head)) &&
            grove__fp_fail(GROVE__FP_DELIVER_STALL))
            nanosleep(&(struct timespec){0, 2000000}, NULL);
    } while (!atomic_compare_exchange_weak_explicit(
        &p->inbox, &h, head, memory_order_seq_cst, memory_order_relaxed));
    /* The push that replaced INBOX_WAITING wakes the process: the one
     * CAS both delivers and decides who queues it. */
    if (h == INBOX_WAITING)
        grove__wake_claimed(p);
    return 0;
}

int grove__deliver(grove__proc_t *p, uint32_t gen, grove_msg_t *m)
{
    m->to_gen = gen;
    return deliver_chain(p, gen, m, m);
}

/* Delivery by pid: GROVE_EINVAL for a malformed pid, GROVE_ENOPROC (m
 * destroyed) for a dead one. */
static int deliver_pid(grove_pid_t to, grove_msg_t *m)
{
    grove__proc_t *p;
    int rc = grove__proc_lookup(to, &p);
    if (rc < 0) {
        if (rc == GROVE_ENOPROC)
            grove__dead_letter(m, to);
        else
            grove__msg_destroy(m);
        return rc;
    }
    return grove__deliver(p, grove_pid_generation(to), m);
}

static grove_msg_t *signal_new(int sig, grove_pid_t from, grove_ref_t ref,
                               const grove_reason_t *reason, uint8_t flags)
{
    grove_msg_t *m = grove__msg_new(reason ? sizeof *reason : 0);
    /* Exit signals, DOWNs and link requests must not be lost: out of
     * memory, wait for some to come back (a process yields to others that
     * may free it; a scheduler finishing an exit backs off). */
    for (unsigned tries = 0; !m; tries++) {
        if (tries == 100000)
            grove__panic("grove: out of memory delivering a signal");
        if (grove__current())
            grove_yield();
        else
            sched_yield();
        m = grove__msg_new(reason ? sizeof *reason : 0);
    }
    m->sig = (uint8_t)sig;
    m->flags = flags;
    m->from = from;
    m->ref = ref;
    if (reason) {
        memcpy(m->data, reason, sizeof *reason);
        m->size = sizeof *reason;
    }
    return m;
}

int grove__send_signal(grove_pid_t to, int sig, grove_pid_t from,
                       grove_ref_t ref, const grove_reason_t *reason,
                       uint8_t flags)
{
    return deliver_pid(to, signal_new(sig, from, ref, reason, flags));
}

/* A batch holds at most this many signals: the first waits no longer. */
#define POST_MAX 64

void grove__post_signal(grove__sched_t *s, grove_pid_t to, int sig,
                        grove_pid_t from, grove_ref_t ref,
                        const grove_reason_t *reason, uint8_t flags)
{
    grove_msg_t *m = signal_new(sig, from, ref, reason, flags);
    grove__proc_t *p;
    if (grove__proc_lookup(to, &p) < 0) {
        deliver_pid(to, m); /* the dead-letter path */
        return;
    }
    uint32_t gen = grove_pid_generation(to);
    if (s->out_n && (s->out_to != p || s->out_gen != gen))
        grove__post_flush(s);
    m->to_gen = gen;
    m->link.next = (grove__dlist_t *)s->out_head;
    if (s->out_n++ == 0)
        s->out_tail = m;
    s->out_head = m;
    s->out_to = p;
    s->out_gen = gen;
    if (s->out_n == POST_MAX)
        grove__post_flush(s);
}

void grove__post_flush(grove__sched_t *s)
{
    if (s->out_n == 0)
        return;
    s->out_n = 0;
    deliver_chain(s->out_to, s->out_gen, s->out_head, s->out_tail);
    s->out_head = s->out_tail = NULL;
    s->out_to = NULL;
}

static int send_common(grove_pid_t to, uint64_t tag, grove_ref_t ref,
                       const void *data, size_t size, unsigned flags)
{
    if (!atomic_load(&grove__rt.started))
        return GROVE_ENOTSTARTED;
    if ((size && !data) || size > GROVE_MSG_MAX_SIZE || to.id == 0)
        return GROVE_EINVAL;
    grove__proc_t *p;
    int rc = grove__proc_lookup(to, &p);
    if (rc < 0)
        return rc;
    grove_msg_t *m = grove__msg_new(size);
    if (!m)
        return GROVE_ENOMEM;
    if (size)
        memcpy(m->data, data, size);
    m->size = size;
    m->tag = tag;
    m->ref = ref;
    m->flags = (uint8_t)flags;
    grove__sched_t *s = grove__tls_get_sched();
    if (s && s->current) {
        m->from = s->current->pid;
        s->slice_sends++;
    } else {
        m->from = GROVE_PID_NONE;
    }
    return grove__deliver(p, grove_pid_generation(to), m);
}

GROVE_EXPORT int grove_send(grove_pid_t to, uint64_t tag, const void *data,
                            size_t size)
{
    return send_common(to, tag, GROVE_REF_NONE, data, size, 0);
}

GROVE_EXPORT int grove_send_ref(grove_pid_t to, uint64_t tag, grove_ref_t ref,
                                const void *data, size_t size)
{
    return send_common(to, tag, ref, data, size, 0);
}

/* Sends a process makes in one slice before a behaviour loop lets others
 * run: C cannot be preempted, and a server broadcasting to many would
 * otherwise fill every mailbox (and the allocator) before a receiver
 * runs. BEAM charges a reduction per send for the same end. */
#define SEND_SLICE 1024

bool grove__slice_spent(void)
{
    grove__sched_t *s = grove__tls_get_sched();
    return s && s->slice_sends >= SEND_SLICE;
}

bool grove__mail_waiting(void)
{
    grove__proc_t *p = grove__current();
    return p && (p->pending || !grove__dlist_empty(&p->mbox) ||
                 atomic_load_explicit(&p->inbox, memory_order_relaxed));
}

int grove__send_ex(grove_pid_t to, uint64_t tag, grove_ref_t ref,
                   const void *data, size_t size, unsigned flags)
{
    return send_common(to, tag, ref, data, size, flags & 0xfcu);
}

int grove__send_call(grove_pid_t to, uint64_t tag, grove_ref_t ref,
                     const void *data, size_t size, unsigned flags)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (ref.id == 0 || to.id == 0)
        return GROVE_EINVAL;
    RT_ENTER();
    int rc = grove__map_put(&self->mon_out, ref.id, to.id | GROVE__MON_ALIAS);
    if (rc < 0) {
        RT_LEAVE();
        return rc;
    }
    if (rc == 1)
        GROVE__OWN_ADD(self->st_mon_out, 1);
    rc = send_common(to, tag, ref, data, size, (flags & 0xfcu) | MSGF_MON);
    if (rc < 0 && grove__map_del(&self->mon_out, ref.id, NULL))
        GROVE__OWN_ADD(self->st_mon_out, -(1));
    RT_LEAVE();
    return rc;
}

int grove__send_reply(grove_pid_t to, uint64_t tag, grove_ref_t ref,
                      const void *data, size_t size, unsigned flags)
{
    int rc = grove__send_reliable(to, tag, ref, data, size, flags);
    if (rc == 0)
        grove__monitor_answered(to, ref);
    return rc;
}

void grove__monitor_answered(grove_pid_t watcher, grove_ref_t ref)
{
    grove__proc_t *self = grove__current();
    uint64_t w;
    /* The watcher drops its side when the answer comes from the process
     * it monitors; a DOWN sent between the answer and this is flushed
     * there. */
    if (self && ref.id && grove__map_get(&self->mon_in, ref.id, &w) &&
        w == watcher.id) {
        grove__map_del(&self->mon_in, ref.id, NULL);
        GROVE__OWN_ADD(self->st_mon_in, -(1));
    }
}

/* For replies and a behaviour's messages to itself, which someone waits
 * on without a timeout: out of memory, wait for memory rather than lose
 * them (an exit signal is kept the same way). */
int grove__send_reliable(grove_pid_t to, uint64_t tag, grove_ref_t ref,
                         const void *data, size_t size, unsigned flags)
{
    int rc;
    for (unsigned tries = 0;; tries++) {
        rc = send_common(to, tag, ref, data, size, flags & 0xfcu);
        if (rc != GROVE_ENOMEM || tries == 100000)
            return rc;
        if (grove__current())
            grove_yield();
        else
            sched_yield();
    }
}

unsigned grove__msg_flags(const grove_msg_t *m) { return m ? m->flags : 0; }

GROVE_EXPORT int grove_send_alias(grove_alias_t alias, uint64_t tag,
                                  const void *data, size_t size)
{
    if (alias.ref.id == 0)
        return GROVE_EINVAL;
    return send_common(alias.pid, tag, alias.ref, data, size,
                       GROVE__MSGF_ALIAS);
}

GROVE_EXPORT int grove_send_name(const char *name, uint64_t tag,
                                 const void *data, size_t size)
{
    grove_pid_t pid;
    int rc = grove_whereis(name, &pid);
    if (rc < 0)
        return rc;
    return grove_send(pid, tag, data, size);
}

GROVE_EXPORT int grove_send_owned(grove_pid_t to, uint64_t tag, void *data,
                                  size_t size, void (*dtor)(void *data))
{
    int rc = 0;
    grove__proc_t *p = NULL;
    if (!atomic_load(&grove__rt.started))
        rc = GROVE_ENOTSTARTED;
    else if (to.id == 0 || (size && !data) || size > GROVE_MSG_MAX_SIZE)
        rc = GROVE_EINVAL;
    else
        rc = grove__proc_lookup(to, &p);
    grove_msg_t *m = rc == 0 ? grove__msg_new(0) : NULL;
    if (rc == 0 && !m)
        rc = GROVE_ENOMEM;
    if (rc < 0) {
        /* Undeliverable: the destructor still runs, as documented. */
        if (dtor && data)
            dtor(data);
        return rc;
    }
    m->flags = MSGF_OWNED;
    m->data = data;
    m->size = size;
    m->dtor = dtor;
    m->tag = tag;
    m->from = grove_self();
    return grove__deliver(p, grove_pid_generation(to), m);
}

/* ---- the owner's side -------------------------------------------------- */

static size_t msg_bytes(const grove_msg_t *m)
{
    return sizeof *m + m->size;
}

void grove__end_process(grove__proc_t *p, const grove_reason_t *r)
{
    if (!p->stack) { /* only grove__drain_waiting runs a stackless one */
        p->sched->exit_reason = *r;
        p->request = REQ_EXIT;
        return;
    }
    grove__exit_self(p, r);
}

static void die(grove__proc_t *p, grove_msg_t *m, const grove_reason_t *r)
{
    grove_reason_t copy = *r;
    grove__msg_destroy(m);
    grove__end_process(p, &copy);
}

static void to_mailbox(grove__proc_t *p, grove_msg_t *m, int kind)
{
    m->kind = (uint8_t)kind;
    grove__dlist_push_back(&p->mbox, &m->link);
    GROVE__OWN_ADD(p->st_mbox, 1);
    GROVE__OWN_ADD(p->st_mbox_bytes, msg_bytes(m));
    grove__heap_check(p);
}

void grove__mbox_remove(grove__proc_t *p, grove_msg_t *m)
{
    if (p->mark == &m->link)
        p->mark = m->link.prev;
    grove__dlist_remove(&m->link);
    GROVE__OWN_ADD(p->st_mbox, -(1));
    GROVE__OWN_ADD(p->st_mbox_bytes, -msg_bytes(m));
}

/* Erlang's rules for receiving an exit signal (OTP-SEMANTICS L-3..L-9). */
static void on_exit_signal(grove__proc_t *p, grove_msg_t *m)
{
    const grove_reason_t *r = m->data;
    if (m->flags & MSGF_VIA_LINK) {
        if (!grove__map_del(&p->links, m->from.id, NULL)) {
            grove__msg_destroy(m); /* unlinked meanwhile */
            return;
        }
        GROVE__OWN_ADD(p->st_links, -(1));
        if (p->trap_exit)
            to_mailbox(p, m, GROVE_MSG_EXIT);
        else if (r->kind == GROVE_EXIT_NORMAL)
            grove__msg_destroy(m);
        else
            die(p, m, r); /* kill through a link is an ordinary reason */
        return;
    }
    if (r->kind == GROVE_EXIT_KILL) {
        grove_reason_t killed = grove_reason_of(GROVE_EXIT_KILLED);
        die(p, m, &killed);
        return;
    }
    if (p->trap_exit)
        to_mailbox(p, m, GROVE_MSG_EXIT);
    else if (r->kind != GROVE_EXIT_NORMAL)
        die(p, m, r);
    else if (m->from.id == p->pid.id)
        die(p, m, r); /* exit(self(), normal) */
    else
        grove__msg_destroy(m);
}

static void on_down(grove__proc_t *p, grove_msg_t *m)
{
    if (!grove__map_del(&p->mon_out, m->ref.id, NULL)) {
        grove__msg_destroy(m); /* demonitored */
        return;
    }
    GROVE__OWN_ADD(p->st_mon_out, -(1));
    grove__alias_monitor_gone(p, m->ref.id);
    uint64_t name;
    if (p->ext && grove__map_del(&p->ext->mon_names, m->ref.id, &name))
        m->name = (char *)(uintptr_t)name;
    to_mailbox(p, m, GROVE_MSG_DOWN);
}

/* The target's side of a monitor from watcher under ref. */
static void watched_by(grove__proc_t *p, uint64_t ref, grove_pid_t watcher)
{
    if (grove__map_put(&p->mon_in, ref, watcher.id) == 1)
        GROVE__OWN_ADD(p->st_mon_in, 1);
}

/* The target's side of an unlink by from. */
static void unlinked_by(grove__proc_t *p, grove_pid_t from)
{
    if (grove__map_del(&p->links, from.id, NULL))
        GROVE__OWN_ADD(p->st_links, -(1));
}

static void handle(grove__proc_t *p, grove_msg_t *m)
{
    if (m->to_gen != grove_pid_generation(p->pid)) {
        /* Sent to an earlier incarnation of this slot: deliver_chain
         * checks the generation, then swaps the inbox, and between the
         * two the target can exit and a spawn reuse its slot (the inbox
         * is empty again, so the swap succeeds). */
        grove__dead_letter_queued(p, m);
        return;
    }
    switch (m->sig) {
    case SIG_USER:
        if (m->flags & MSGF_MON)
            watched_by(p, m->ref.id, m->from);
        if (m->flags & GROVE__MSGF_ALIAS) {
            /* A reply to an alias its owner gave up on never shows. A
             * call's alias is its monitor (GROVE__MON_ALIAS). */
            uint64_t v;
            if (!grove__map_get(&p->mon_out, m->ref.id, &v) ||
                !(v & GROVE__MON_ALIAS)) {
                if (!grove__map_get(&p->aliases, m->ref.id, &v)) {
                    grove__msg_destroy(m);
                    return;
                }
                if (v != GROVE__ALIAS_EXPLICIT)
                    grove__alias_used(p, m->ref.id, v);
            }
        }
        to_mailbox(p, m, GROVE_MSG_USER);
        return;
    case SIG_EXIT:
        on_exit_signal(p, m);
        return;
    case SIG_SHUTDOWN:
        watched_by(p, m->ref.id, m->from);
        unlinked_by(p, m->from);
        m->ref = GROVE_REF_NONE; /* as an EXIT message it carries none */
        on_exit_signal(p, m);
        return;
    case SIG_DOWN:
        on_down(p, m);
        return;
    case SIG_LINK:
        if (grove__map_put(&p->links, m->from.id, 1) == 1)
            GROVE__OWN_ADD(p->st_links, 1);
        break;
    case SIG_UNLINK:
        unlinked_by(p, m->from);
        break;
    case SIG_MONITOR:
        watched_by(p, m->ref.id, m->from);
        break;
    case SIG_DEMONITOR:
        if (grove__map_del(&p->mon_in, m->ref.id, NULL))
            GROVE__OWN_ADD(p->st_mon_in, -(1));
        break;
    default:
        break;
    }
    grove__msg_destroy(m);
}

void grove__drain_slow(grove__proc_t *p)
{
    if (!p->pending) {
        grove_msg_t *h = atomic_exchange_explicit(&p->inbox, NULL,
                                                  memory_order_acquire);
        grove_msg_t *r = NULL;
        while (h) {
            grove_msg_t *next = (grove_msg_t *)h->link.next;
            h->link.next = (grove__dlist_t *)r;
            r = h;
            h = next;
        }
        p->pending = r;
    }
    /* pending stays valid if a signal ends the process mid-way: the exit
     * path answers what is left. */
    while (p->pending) {
        grove_msg_t *m = p->pending;
        p->pending = (grove_msg_t *)m->link.next;
        grove__dlist_init(&m->link);
        handle(p, m);
        if (p->request == REQ_EXIT)
            return; /* only on the scheduler's stack (die) */
    }
}

bool grove__drain_waiting(grove__sched_t *s, grove__proc_t *p)
{
    p->sched = s;
    p->request = REQ_NONE;
    grove__drain(p);
    return p->request == REQ_EXIT;
}

/* ---- receive ------------------------------------------------------------ */

enum { MATCH_ANY, MATCH_TAG, MATCH_REF, MATCH_FN, MATCH_NONE };

typedef struct matcher {
    int how;
    uint64_t tag;
    uint64_t ref;
    grove_match_fn fn;
    void *arg;
    bool warm; /* a stackless wait keeps the stack if it can (wait_warm) */
} matcher_t;

static bool matches(const matcher_t *mt, const grove_msg_t *m)
{
    switch (mt->how) {
    case MATCH_ANY:
        return true;
    case MATCH_TAG:
        return m->kind == GROVE_MSG_USER && m->tag == mt->tag;
    case MATCH_REF:
        return m->ref.id == mt->ref;
    case MATCH_FN: {
        RT_LEAVE();
        bool ok = mt->fn(m, mt->arg);
        RT_ENTER();
        return ok;
    }
    default:
        return false;
    }
}

uint64_t grove__ms_deadline(grove_timeout_t timeout);

/* Records where p starts again if it waits without its stack: at
 * resume(arg), on a fresh stack (wake_stackless). armed: the wait's
 * receive timer is set. */
static void wait_begin(grove__proc_t *p, void (*resume)(void *), void *arg,
                       bool armed)
{
    p->fn = resume;
    p->arg = arg;
    p->sl_cont = true;
    p->sl_armed = armed;
}

/* Gives p's stack back and waits: the wait's news restarts p. */
GROVE_NORETURN static void wait_stackless(grove__proc_t *p,
                                          void (*resume)(void *), void *arg,
                                          bool armed)
{
    wait_begin(p, resume, arg, armed);
    grove__block_stackless(p);
}

/* wait_stackless, except that p keeps its stack unless its scheduler
 * takes it back while p waits (grove__block_warm): returns when p runs
 * again on it. */
static void wait_warm(grove__proc_t *p, void (*resume)(void *), void *arg,
                      bool armed)
{
    wait_begin(p, resume, arg, armed);
    grove__block_warm(p);
    p->sl_cont = false;
}

/* resume, when set, lets the wait give the stack back
 * (grove__recv_stackless); with mt->warm, only if the scheduler takes it
 * back (wait_warm). */
static int receive_ex(grove_msg_t **out, const matcher_t *mt,
                      grove_timeout_t timeout, void (*resume)(void *),
                      void *resume_arg)
{
    grove__proc_t *p = grove__current();
    if (out)
        *out = NULL; /* on any failure the caller finds no message */
    if (!p)
        return GROVE_ENOTPROC;
    if ((!out && mt->how != MATCH_NONE) || timeout < GROVE_INFINITY ||
        (mt->how == MATCH_REF && mt->ref == 0) ||
        (mt->how == MATCH_FN && !mt->fn))
        return GROVE_EINVAL;
    RT_ENTER();
    grove__dlist_t *pos = &p->mbox;
    if (mt->how == MATCH_REF && mt->ref == p->mark_ref)
        pos = p->mark;
    uint32_t seq;
    bool armed = false;
    if (resume && p->sl_cont) {
        /* Restarted from a stackless wait: the same wait goes on. */
        seq = p->wait_seq;
        armed = p->sl_armed;
    } else {
        seq = ++p->wait_seq;
    }
    p->sl_cont = false;
    int rc;
    for (;;) {
        grove__drain(p);
        for (grove__dlist_t *n = pos->next; n != &p->mbox; n = n->next) {
            grove_msg_t *m = GROVE__CONTAINER(n, grove_msg_t, link);
            if (matches(mt, m)) {
                grove__mbox_remove(p, m);
                grove__dlist_push_back(&p->received, &m->link);
                *out = m;
                rc = 0;
                goto done;
            }
            pos = n;
        }
        if (timeout == 0 ||
            (armed && atomic_load(&p->timeout_seq) == seq)) {
            rc = GROVE_ETIMEDOUT;
            goto done;
        }
        if (timeout > 0 && !armed) {
            p->rtimer.seq = seq;
            grove__timer_arm_recv(p, grove__ms_deadline(timeout));
            armed = true;
        }
        if (!resume ||
            atomic_load_explicit(&p->pinned, memory_order_relaxed))
            grove__block(p);
        else if (mt->warm)
            wait_warm(p, resume, resume_arg, armed);
        else
            wait_stackless(p, resume, resume_arg, armed);
    }
done:
    if (armed)
        grove__timer_cancel_recv(p);
    RT_LEAVE();
    return rc;
}

static int receive(grove_msg_t **out, const matcher_t *mt,
                   grove_timeout_t timeout)
{
    return receive_ex(out, mt, timeout, NULL, NULL);
}

int grove__recv_stackless(grove_msg_t **out, grove_timeout_t timeout,
                          void (*resume)(void *), void *arg, bool warm)
{
    matcher_t mt = {.how = MATCH_ANY, .warm = warm};
    if (!resume)
        return receive(out, &mt, timeout);
    return receive_ex(out, &mt, timeout, resume, arg);
}

GROVE_EXPORT int grove_hibernate(void (*fn)(void *arg), void *arg)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    if (!fn)
        return GROVE_EINVAL;
    RT_ENTER();
    /* As a stackless receive that matches nothing: any message queued
     * (already, or later) starts fn, and nothing is taken from the
     * mailbox (wait_on, wake_stackless). */
    ++p->wait_seq;
    wait_stackless(p, fn, arg, false);
}

GROVE_EXPORT int grove_recv(grove_msg_t **out, grove_timeout_t timeout_ms)
{
    matcher_t mt = {.how = MATCH_ANY};
    return receive(out, &mt, timeout_ms);
}

GROVE_EXPORT int grove_recv_tag(grove_msg_t **out, uint64_t tag,
                                grove_timeout_t timeout_ms)
{
    matcher_t mt = {.how = MATCH_TAG, .tag = tag};
    return receive(out, &mt, timeout_ms);
}

GROVE_EXPORT int grove_recv_ref(grove_msg_t **out, grove_ref_t ref,
                                grove_timeout_t timeout_ms)
{
    matcher_t mt = {.how = MATCH_REF, .ref = ref.id};
    return receive(out, &mt, timeout_ms);
}

GROVE_EXPORT int grove_recv_match(grove_msg_t **out, grove_match_fn match,
                                  void *arg, grove_timeout_t timeout_ms)
{
    matcher_t mt = {.how = MATCH_FN, .fn = match, .arg = arg};
    return receive(out, &mt, timeout_ms);
}

GROVE_EXPORT int grove_sleep(grove_timeout_t ms)
{
    matcher_t mt = {.how = MATCH_NONE};
    int rc = receive(NULL, &mt, ms);
    return rc == GROVE_ETIMEDOUT ? 0 : rc;
}

GROVE_EXPORT int grove_flush(grove_match_fn match, void *arg)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    RT_ENTER();
    grove__drain(p);
    int n = 0;
    grove__dlist_t *it = p->mbox.next;
    while (it != &p->mbox) {
        grove_msg_t *m = GROVE__CONTAINER(it, grove_msg_t, link);
        it = it->next;
        bool hit = true;
        if (match) {
            RT_LEAVE();
            hit = match(m, arg);
            RT_ENTER();
        }
        if (hit) {
            grove__mbox_remove(p, m);
            grove__msg_destroy(m);
            n++;
        }
    }
    RT_LEAVE();
    return n;
}

GROVE_EXPORT grove_ref_t grove_make_ref(void)
{
    grove_ref_t r = {grove__ref_new()};
    grove__proc_t *p = grove__current();
    if (p) {
        /* Everything already in the mailbox predates r: a reply to r can
         * only be found after this point. */
        p->mark = p->mbox.prev;
        p->mark_ref = r.id;
    }
    return r;
}

/* ---- accessors ---------------------------------------------------------- */

GROVE_EXPORT int grove_msg_kind(const grove_msg_t *m) { return m ? m->kind : 0; }
GROVE_EXPORT uint64_t grove_msg_tag(const grove_msg_t *m)
{
    return m ? m->tag : 0;
}
GROVE_EXPORT grove_pid_t grove_msg_from(const grove_msg_t *m)
{
    return m ? m->from : GROVE_PID_NONE;
}
GROVE_EXPORT grove_ref_t grove_msg_ref(const grove_msg_t *m)
{
    return m ? m->ref : GROVE_REF_NONE;
}
GROVE_EXPORT const void *grove_msg_data(const grove_msg_t *m)
{
    return m && m->kind == GROVE_MSG_USER ? m->data : NULL;
}
GROVE_EXPORT size_t grove_msg_size(const grove_msg_t *m)
{
    return m && m->kind == GROVE_MSG_USER ? m->size : 0;
}
GROVE_EXPORT const grove_reason_t *grove_msg_reason(const grove_msg_t *m)
{
    return m && m->kind != GROVE_MSG_USER ? (const grove_reason_t *)m->data
                                          : NULL;
}
GROVE_EXPORT const char *grove_msg_name(const grove_msg_t *m)
{
    return m ? m->name : NULL;
}

GROVE_EXPORT void grove_msg_free(grove_msg_t *m)
{
    if (!m)
        return;
    int saved = grove__tls_get_in_rt();
    RT_ENTER();
    grove__dlist_remove(&m->link);
    grove__msg_destroy(m);
    grove__tls_set_in_rt(saved);
}
