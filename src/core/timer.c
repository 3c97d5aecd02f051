/* Timers: a hierarchical timing wheel (six levels of 64 slots, 1 ms
 * resolution, about 2^36 ms of range) with O(1) insertion and removal.
 *
 * Each scheduler owns a wheel for the receive timeouts of processes that
 * blocked on it; one global wheel holds send_after timers, which have
 * handles and may be cancelled from anywhere. A wheel's lock is held while
 * its due timers fire: firing only pushes a message or wakes a process,
 * never runs user code, so the lock stays short. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "base/failpoint.h"

#define LEVEL_BITS 6
#define MAX_RANGE ((uint64_t)1 << (LEVEL_BITS * WHEEL_LEVELS))

uint64_t grove__ms_now(void)
{
#if defined(GROVE_DETERMINISTIC)
    return grove__det_now(); /* logical: advances only when all is idle */
#else
    return (grove__now_ns() - grove__rt.start_ns) / 1000000u;
#endif
}

GROVE_EXPORT uint64_t grove_now_ms(void)
{
    return atomic_load(&grove__rt.started) ? grove__ms_now() : 0;
}

/* Never early: at least timeout whole milliseconds from now. */
uint64_t grove__ms_deadline(grove_timeout_t timeout)
{
    return grove__ms_now() + (uint64_t)timeout + 1;
}

void grove__wheel_init(grove__wheel_t *w, uint64_t now)
{
    memset(w, 0, sizeof *w);
    w->now = now;
    for (int l = 0; l < WHEEL_LEVELS; l++)
        for (int s = 0; s < WHEEL_SLOTS; s++)
            grove__dlist_init(&w->slots[l][s]);
    grove__dlist_init(&w->overflow);
}

static void place(grove__wheel_t *w, grove__timer_t *t)
{
    uint64_t exp = t->expiry;
    if (exp <= w->now)
        exp = w->now; /* due: level 0, current slot */
    if (exp - w->now >= MAX_RANGE)
        exp = w->now + MAX_RANGE - 1; /* re-placed when that slot comes */
    uint64_t diff = exp ^ w->now;
    int level = 0;
    if (diff >= WHEEL_SLOTS)
        level = (63 - __builtin_clzll(diff)) / LEVEL_BITS;
    if (level >= WHEEL_LEVELS) {
        /* Beyond the top level's rotation (it crosses a 2^36 ms boundary):
         * wait in the overflow list for that boundary. */
        grove__dlist_push_back(&w->overflow, &t->link);
        __atomic_store_n(&t->wheel, w, __ATOMIC_RELEASE);
        return;
    }
    unsigned slot = (unsigned)(exp >> (level * LEVEL_BITS)) & 63u;
    grove__dlist_push_back(&w->slots[level][slot], &t->link);
    w->occupied[level] |= 1ull << slot;
    __atomic_store_n(&t->wheel, w, __ATOMIC_RELEASE);
}

static void unplace(grove__wheel_t *w, grove__timer_t *t)
{
    grove__dlist_t *head = t->link.next == t->link.prev ? t->link.next : NULL;
    grove__dlist_remove(&t->link);
    __atomic_store_n(&t->wheel, NULL, __ATOMIC_RELEASE);
    /* If the list became empty, clear its occupancy bit. */
    if (head && grove__dlist_empty(head)) {
        for (int l = 0; l < WHEEL_LEVELS; l++) {
            ptrdiff_t s = head - &w->slots[l][0];
            if (s >= 0 && s < WHEEL_SLOTS) {
                w->occupied[l] &= ~(1ull << s);
                break;
            }
        }
    }
}

/* The start time of the earliest occupied slot, or UINT64_MAX. */
static uint64_t next_slot(const grove__wheel_t *w, int *level_out,
                          unsigned *slot_out)
{
    for (int l = 0; l < WHEEL_LEVELS; l++) {
        uint64_t occ = w->occupied[l];
        if (!occ)
            continue;
        unsigned shift = (unsigned)l * LEVEL_BITS;
        unsigned pos = (unsigned)(w->now >> shift) & 63u;
        /* Level 0 includes the current slot; higher levels start after it,
         * since an entry there always differs from now in that digit. */
        uint64_t ahead = l == 0 ? occ >> pos << pos
                                : (pos == 63 ? 0 : occ >> (pos + 1) << (pos + 1));
        if (!ahead)
            continue; /* cannot happen for a consistent wheel */
        unsigned slot = (unsigned)__builtin_ctzll(ahead);
        uint64_t base = w->now & ~(((uint64_t)1 << (shift + LEVEL_BITS)) - 1);
        *level_out = l;
        *slot_out = slot;
        uint64_t start = base + ((uint64_t)slot << shift);
        return start < w->now ? w->now : start;
    }
    if (!grove__dlist_empty(&w->overflow)) {
        *level_out = WHEEL_LEVELS; /* the next top-level boundary */
        *slot_out = 0;
        return ((w->now >> (LEVEL_BITS * WHEEL_LEVELS)) + 1)
               << (LEVEL_BITS * WHEEL_LEVELS);
    }
    return UINT64_MAX;
}

uint64_t grove__wheel_next(grove__wheel_t *w)
{
    int l = 0;
    unsigned s = 0;
    return next_slot(w, &l, &s);
}

/* A receive timeout's owner may re-arm the same timer the moment it sees
 * the timer off the wheel, so everything needed is read before that is
 * published (the release store of wheel = NULL). */
/* A grove_send_after timer: the message it will deliver. */
typedef struct send_timer {
    grove__timer_t t;
    grove_pid_t to;
    grove_msg_t *msg;
    uint64_t id;
} send_timer_t;

static send_timer_t *as_send(grove__timer_t *t)
{
    return GROVE__CONTAINER(t, send_timer_t, t);
}

static void handle_drop(send_timer_t *st);

static void fire(grove__timer_t *t)
{
    if (t->kind == TIMER_RECV) {
        grove__proc_t *p = t->proc;
        uint32_t seq = t->seq;
        __atomic_store_n(&t->wheel, NULL, __ATOMIC_RELEASE);
        atomic_store(&p->timeout_seq, seq);
        grove__wake(p);
        return;
    }
    t->wheel = NULL;
    /* TIMER_SEND: deliver the prepared message and free the timer. */
    grove__count(CNT_TIMERS, -1);
    send_timer_t *st = as_send(t);
    grove_msg_t *m = st->msg;
    st->msg = NULL;
    grove__proc_t *p;
    if (grove__proc_lookup(st->to, &p) == 0)
        grove__deliver(p, grove_pid_generation(st->to), m);
    else
        grove__msg_destroy(m);
    handle_drop(st);
}

unsigned grove__wheel_advance(grove__wheel_t *w, uint64_t now)
{
    unsigned fired = 0;
    for (;;) {
        int l = 0;
        unsigned s = 0;
        uint64_t at = next_slot(w, &l, &s);
        if (at > now)
            break;
        w->now = at;
        grove__dlist_t list;
        grove__dlist_init(&list);
        grove__dlist_t *h = l == WHEEL_LEVELS ? &w->overflow : &w->slots[l][s];
        /* Move the slot out, then fire or re-place each entry. */
        if (!grove__dlist_empty(h)) {
            list.next = h->next;
            list.prev = h->prev;
            list.next->prev = &list;
            list.prev->next = &list;
            grove__dlist_init(h);
        }
        if (l < WHEEL_LEVELS)
            w->occupied[l] &= ~(1ull << s);
        while (!grove__dlist_empty(&list)) {
            grove__timer_t *t = GROVE__CONTAINER(list.next, grove__timer_t,
                                                 link);
            grove__dlist_remove(&t->link);
            if (t->expiry <= w->now) {
                w->count--;
                fire(t);
                fired++;
            } else {
                place(w, t);
            }
        }
    }
    if (now > w->now)
        w->now = now;
    return fired;
}

void grove__wheel_fini(grove__wheel_t *w)
{
    for (int l = 0; l < WHEEL_LEVELS; l++)
        for (int s = 0; s < WHEEL_SLOTS; s++)
            grove__dlist_init(&w->slots[l][s]);
    grove__dlist_init(&w->overflow);
}

/* ---- receive timeouts ---------------------------------------------------- */

void grove__timer_arm_recv(grove__proc_t *p, uint64_t expiry)
{
    grove__wheel_t *w = &p->sched->wheel;
    grove__timer_t *t = &p->rtimer;
    t->kind = TIMER_RECV;
    t->proc = p;
    t->expiry = expiry;
    grove__spin_lock(&w->lock);
    place(w, t);
    w->count++;
    grove__spin_unlock(&w->lock);
}

void grove__timer_cancel_recv(grove__proc_t *p)
{
    grove__timer_t *t = &p->rtimer;
    for (;;) {
        grove__wheel_t *w = __atomic_load_n(&t->wheel, __ATOMIC_ACQUIRE);
        if (!w)
            return;
        grove__spin_lock(&w->lock);
        if (__atomic_load_n(&t->wheel, __ATOMIC_RELAXED) == w) {
            unplace(w, t);
            w->count--;
            grove__spin_unlock(&w->lock);
            return;
        }
        grove__spin_unlock(&w->lock);
    }
}

/* ---- send_after ------------------------------------------------------------ */

static struct {
    grove__wheel_t wheel;
    pthread_mutex_t lock; /* handle map; taken inside wheel.lock */
    grove__map_t handles; /* id -> timer */
    atomic_uint_fast64_t next_id;
} G = {.lock = PTHREAD_MUTEX_INITIALIZER};

void grove__timers_init(void)
{
    grove__wheel_init(&G.wheel, 0);
    atomic_store(&G.next_id, 1);
}

static void handle_drop(send_timer_t *st)
{
    pthread_mutex_lock(&G.lock);
    grove__map_del(&G.handles, st->id, NULL);
    pthread_mutex_unlock(&G.lock);
    free(st);
}

static void free_send_timers(grove__dlist_t *h)
{
    while (!grove__dlist_empty(h)) {
        grove__timer_t *t = GROVE__CONTAINER(h->next, grove__timer_t, link);
        grove__dlist_remove(&t->link);
        grove__msg_destroy(as_send(t)->msg);
        grove__count(CNT_TIMERS, -1);
        free(as_send(t));
    }
}

void grove__timers_fini(void)
{
    grove__spin_lock(&G.wheel.lock);
    for (int l = 0; l < WHEEL_LEVELS; l++)
        for (int s = 0; s < WHEEL_SLOTS; s++)
            free_send_timers(&G.wheel.slots[l][s]);
    free_send_timers(&G.wheel.overflow);
    memset(G.wheel.occupied, 0, sizeof G.wheel.occupied);
    grove__spin_unlock(&G.wheel.lock);
    pthread_mutex_lock(&G.lock);
    grove__map_free(&G.handles);
    pthread_mutex_unlock(&G.lock);
}

GROVE_EXPORT int grove_send_after(grove_pid_t to, grove_timeout_t ms,
                                  uint64_t tag, const void *data, size_t size,
                                  grove_timer_t *out)
{
    if (!atomic_load(&grove__rt.started))
        return GROVE_ENOTSTARTED;
    if (ms < 0 || to.id == 0 || (size && !data) || size > GROVE_MSG_MAX_SIZE)
        return GROVE_EINVAL;
    send_timer_t *st = grove__calloc(1, sizeof *st);
    grove_msg_t *m = st ? grove__msg_new(size) : NULL;
    if (!m) {
        free(st);
        return GROVE_ENOMEM;
    }
    grove__timer_t *t = &st->t;
    if (size)
        memcpy(m->data, data, size);
    m->size = size;
    m->tag = tag;
    m->from = grove_self();
    t->kind = TIMER_SEND;
    st->to = to;
    st->msg = m;
    st->id = atomic_fetch_add(&G.next_id, 1);
    t->expiry = grove__ms_deadline(ms);
    grove__dlist_init(&t->link);
    grove__spin_lock(&G.wheel.lock);
    pthread_mutex_lock(&G.lock);
    int rc = grove__map_put(&G.handles, st->id, (uint64_t)(uintptr_t)st);
    pthread_mutex_unlock(&G.lock);
    if (rc >= 0) {
        place(&G.wheel, t);
        G.wheel.count++;
        grove__count(CNT_TIMERS, 1);
    }
    grove__spin_unlock(&G.wheel.lock);
    if (rc < 0) {
        grove__msg_destroy(m);
        free(st);
        return GROVE_ENOMEM;
    }
    if (out)
        out->id = st->id;
    /* A sleeping scheduler must recompute its deadline. */
    grove__sched_wake_one();
    return 0;
}

GROVE_EXPORT int grove_cancel_timer(grove_timer_t timer)
{
    if (!atomic_load(&grove__rt.started) || timer.id == 0)
        return GROVE_ENOTFOUND;
    grove__spin_lock(&G.wheel.lock);
    pthread_mutex_lock(&G.lock);
    uint64_t v;
    bool found = grove__map_del(&G.handles, timer.id, &v);
    pthread_mutex_unlock(&G.lock);
    send_timer_t *st = found ? (send_timer_t *)(uintptr_t)v : NULL;
    if (st) {
        unplace(&G.wheel, &st->t);
        G.wheel.count--;
        grove__count(CNT_TIMERS, -1);
    }
    grove__spin_unlock(&G.wheel.lock);
    if (!st)
        return GROVE_ENOTFOUND;
    grove__msg_destroy(st->msg);
    free(st);
    return 0;
}

uint64_t grove__timers_run(grove__sched_t *s)
{
    uint64_t now = grove__ms_now();
    uint64_t next = UINT64_MAX;
    grove__spin_lock(&s->wheel.lock);
    if (s->wheel.count)
        grove__wheel_advance(&s->wheel, now);
    else
        s->wheel.now = now;
    next = grove__wheel_next(&s->wheel);
    grove__spin_unlock(&s->wheel.lock);
    if (grove__spin_trylock(&G.wheel.lock)) {
        if (G.wheel.count)
            grove__wheel_advance(&G.wheel, now);
        else
            G.wheel.now = now;
        uint64_t g = grove__wheel_next(&G.wheel);
        grove__spin_unlock(&G.wheel.lock);
        if (g < next)
            next = g;
    } else if (now + 1 < next) {
        next = now + 1; /* someone else is firing it: look again soon */
    }
    return next;
}
