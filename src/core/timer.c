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
    char *name; /* to the process of this name when it fires, or NULL */
} send_timer_t;

static send_timer_t *as_send(grove__timer_t *t)
{
    return GROVE__CONTAINER(t, send_timer_t, t);
}

static void handle_drop(send_timer_t *st);

/* Frees a timer and the message it still holds (none once fired). */
static void send_timer_free(send_timer_t *st)
{
    if (st->msg)
        grove__msg_destroy(st->msg);
    free(st->name);
    free(st);
}

static void fire(grove__timer_t *t)
{
    if (t->kind == TIMER_RECV) {
        grove__proc_t *p = t->proc;
        /* timeout_seq before the timer leaves the wheel: until then the
         * owner's cancel waits on this wheel's lock, so it cannot arm a
         * later receive (maybe on another scheduler's wheel, fired
         * there) whose timeout this store would overwrite. */
        atomic_store(&p->timeout_seq, t->seq);
        __atomic_store_n(&t->wheel, NULL, __ATOMIC_RELEASE);
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
    /* A name is looked up now; no process by that name drops it. */
    if (st->name && grove_whereis(st->name, &st->to) != 0)
        st->to = GROVE_PID_NONE;
    if (st->to.id && grove__proc_lookup(st->to, &p) == 0)
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

/* ---- send_after, start_timer ------------------------------------------------ */

static struct {
    grove__wheel_t wheel;
    pthread_mutex_t lock; /* handle map; taken inside wheel.lock */
    grove__map_t handles; /* id -> timer */
} G = {.lock = PTHREAD_MUTEX_INITIALIZER};

void grove__timers_init(void)
{
    grove__wheel_init(&G.wheel, 0);
}

static void handle_drop(send_timer_t *st)
{
    pthread_mutex_lock(&G.lock);
    grove__map_del(&G.handles, st->id, NULL);
    pthread_mutex_unlock(&G.lock);
    send_timer_free(st);
}

static void free_send_timers(grove__dlist_t *h)
{
    while (!grove__dlist_empty(h)) {
        grove__timer_t *t = GROVE__CONTAINER(h->next, grove__timer_t, link);
        grove__dlist_remove(&t->link);
        grove__count(CNT_TIMERS, -1);
        send_timer_free(as_send(t));
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

/* The expiry of a timer set at ms (a delay, or with abs a time on the
 * runtime's clock). Never early: a delay of ms fires after at least ms
 * whole milliseconds, an absolute time once the clock has passed it. */
static uint64_t expiry_of(grove_timeout_t ms, bool abs)
{
    if (!abs)
        return grove__ms_deadline(ms);
    uint64_t now = grove__ms_now();
    return (uint64_t)ms + 1 > now ? (uint64_t)ms + 1 : now;
}

/* Milliseconds a timer has left: its expiry less one (the margin that
 * keeps it from firing early), so a timer just set for ms reads ms. */
static grove_timeout_t left_of(const send_timer_t *st)
{
    uint64_t now = grove__ms_now();
    uint64_t at = st->t.expiry;
    uint64_t left = at > now + 1 ? at - now - 1 : 0;
    return left > (uint64_t)INT64_MAX ? INT64_MAX : (grove_timeout_t)left;
}

GROVE_EXPORT int grove_send_after_opts(grove_pid_t to, grove_timeout_t ms,
                                       uint64_t tag, const void *data,
                                       size_t size,
                                       const grove_timer_opts_t *opts,
                                       grove_timer_t *out)
{
    static const grove_timer_opts_t none;
    const grove_timer_opts_t *o = opts ? opts : &none;
    if (!atomic_load(&grove__rt.started))
        return GROVE_ENOTSTARTED;
    if (ms < 0 || (size && !data) || size > GROVE_MSG_MAX_SIZE)
        return GROVE_EINVAL;
    if (o->name ? !grove__name_valid(o->name) || to.id != 0 : to.id == 0)
        return GROVE_EINVAL;
    size_t nlen = o->name ? strlen(o->name) : 0;
    send_timer_t *st = grove__calloc(1, sizeof *st);
    grove_msg_t *m = st ? grove__msg_new(size) : NULL;
    if (!m || (o->name && !(st->name = grove__malloc(nlen + 1)))) {
        if (m)
            grove__msg_destroy(m);
        free(st);
        return GROVE_ENOMEM;
    }
    if (o->name)
        memcpy(st->name, o->name, nlen + 1);
    grove__timer_t *t = &st->t;
    if (size)
        memcpy(m->data, data, size);
    m->size = size;
    m->tag = tag;
    m->from = grove_self();
    t->kind = TIMER_SEND;
    st->to = to;
    st->msg = m;
    /* A reference's number: unique among references, so the handle can
     * be the reference a start_timer message carries. */
    uint64_t id = grove__ref_new();
    st->id = id;
    if (o->with_ref)
        m->ref = (grove_ref_t){id};
    t->expiry = expiry_of(ms, o->abs);
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
        send_timer_free(st);
        return GROVE_ENOMEM;
    }
    /* From here the timer may have fired and been freed (a time already
     * past fires at the next tick): only the copy of its id is read. */
    if (out)
        out->id = id;
    /* A sleeping scheduler must recompute its deadline. */
    grove__sched_wake_one();
    return 0;
}

GROVE_EXPORT int grove_send_after(grove_pid_t to, grove_timeout_t ms,
                                  uint64_t tag, const void *data, size_t size,
                                  grove_timer_t *out)
{
    return grove_send_after_opts(to, ms, tag, data, size, NULL, out);
}

GROVE_EXPORT int grove_start_timer(grove_pid_t to, grove_timeout_t ms,
                                   uint64_t tag, const void *data,
                                   size_t size, grove_timer_t *out)
{
    grove_timer_opts_t o = {.with_ref = true};
    return grove_send_after_opts(to, ms, tag, data, size, &o, out);
}

GROVE_EXPORT grove_ref_t grove_timer_ref(grove_timer_t timer)
{
    return (grove_ref_t){timer.id};
}

/* Finds a pending timer; with the wheel's lock held, it cannot fire. */
static send_timer_t *pending_locked(grove_timer_t timer, bool remove)
{
    uint64_t v;
    pthread_mutex_lock(&G.lock);
    bool found = remove ? grove__map_del(&G.handles, timer.id, &v)
                        : grove__map_get(&G.handles, timer.id, &v);
    pthread_mutex_unlock(&G.lock);
    return found ? (send_timer_t *)(uintptr_t)v : NULL;
}

GROVE_EXPORT int grove_read_timer(grove_timer_t timer, grove_timeout_t *left)
{
    if (!atomic_load(&grove__rt.started) || timer.id == 0)
        return GROVE_ENOTFOUND;
    grove__spin_lock(&G.wheel.lock);
    send_timer_t *st = pending_locked(timer, false);
    grove_timeout_t l = st ? left_of(st) : 0;
    grove__spin_unlock(&G.wheel.lock);
    if (!st)
        return GROVE_ENOTFOUND;
    if (left)
        *left = l;
    return 0;
}

GROVE_EXPORT int grove_cancel_timer_left(grove_timer_t timer,
                                         grove_timeout_t *left)
{
    if (!atomic_load(&grove__rt.started) || timer.id == 0)
        return GROVE_ENOTFOUND;
    grove__spin_lock(&G.wheel.lock);
    send_timer_t *st = pending_locked(timer, true);
    grove_timeout_t l = 0;
    if (st) {
        l = left_of(st);
        unplace(&G.wheel, &st->t);
        G.wheel.count--;
        grove__count(CNT_TIMERS, -1);
    }
    grove__spin_unlock(&G.wheel.lock);
    if (!st)
        return GROVE_ENOTFOUND;
    send_timer_free(st);
    if (left)
        *left = l;
    return 0;
}

GROVE_EXPORT int grove_cancel_timer(grove_timer_t timer)
{
    return grove_cancel_timer_left(timer, NULL);
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
