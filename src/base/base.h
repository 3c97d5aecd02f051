/* The base toolbox: internal assertions, clocks, spinlocks, intrusive
 * lists. Usable by every layer. Internal names use the grove__ prefix. */
#ifndef GROVE_BASE_H
#define GROVE_BASE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "grove/error.h"
#include "grove/types.h"

#define GROVE__HIDDEN __attribute__((visibility("hidden")))
#define GROVE__LIKELY(x) __builtin_expect(!!(x), 1)
#define GROVE__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GROVE__CONTAINER(ptr, type, field) \
    ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

/* A broken runtime invariant: print and abort the OS process. A corrupt
 * runtime must never limp on. */
GROVE__HIDDEN _Noreturn void grove__panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
#define GROVE__CHECK(cond)                                                   \
    ((cond) ? (void)0                                                        \
            : grove__panic("grove: internal check failed: %s (%s:%d)",       \
                           #cond, __FILE__, __LINE__))

/* Monotonic nanoseconds. */
static inline uint64_t grove__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static inline uint64_t grove__realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
#define GROVE__CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define GROVE__CPU_RELAX() __asm__ __volatile__("yield")
#else
#define GROVE__CPU_RELAX() ((void)0)
#endif

/* A test-and-test-and-set spinlock for short critical sections (run
 * queues). Acquire on lock and release on unlock order the protected data
 * between threads. */
typedef struct {
    atomic_int v;
} grove__spin_t;

/* After a short spin the waiter gives its core to the OS: the holder may
 * be a thread the kernel preempted, which cannot release the lock until it
 * runs again. */
static inline void grove__spin_lock(grove__spin_t *l)
{
    for (unsigned spins = 0;;) {
        if (!atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
            return;
        while (atomic_load_explicit(&l->v, memory_order_relaxed)) {
            if (++spins < 128)
                GROVE__CPU_RELAX();
            else
                sched_yield();
        }
    }
}
static inline bool grove__spin_trylock(grove__spin_t *l)
{
    return !atomic_load_explicit(&l->v, memory_order_relaxed) &&
           !atomic_exchange_explicit(&l->v, 1, memory_order_acquire);
}
static inline void grove__spin_unlock(grove__spin_t *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* The hash of names, ids and keys: eight bytes a step (the last step
 * overlapping the one before it, the length being mixed in first), then a
 * final mix, so every bit of the result (the low ones pick buckets)
 * depends on every byte. */
static inline uint64_t grove__hash_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
    return h ^ (h >> 32);
}
static inline uint64_t grove__hash_bytes(const void *data, size_t len)
{
    const unsigned char *b = data;
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ len, w;
    uint32_t lo, hi;
    if (len >= 8) {
        for (const unsigned char *last = b + len - 8; b < last; b += 8) {
            memcpy(&w, b, 8);
            h = grove__hash_mix(h, w);
        }
        memcpy(&w, (const unsigned char *)data + len - 8, 8);
        h = grove__hash_mix(h, w);
    } else if (len >= 4) {
        memcpy(&lo, b, 4);
        memcpy(&hi, b + len - 4, 4);
        h = grove__hash_mix(h, (uint64_t)hi << 32 | lo);
    } else if (len) {
        h = grove__hash_mix(h, (uint64_t)b[0] | (uint64_t)b[len / 2] << 8 |
                                   (uint64_t)b[len - 1] << 16);
    }
    h ^= h >> 29;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    return h ^ (h >> 32);
}

/* Intrusive doubly-linked list with a sentinel head. */
typedef struct grove__dlist {
    struct grove__dlist *next, *prev;
} grove__dlist_t;

static inline void grove__dlist_init(grove__dlist_t *h) { h->next = h->prev = h; }
static inline bool grove__dlist_empty(const grove__dlist_t *h)
{
    return h->next == h;
}
static inline void grove__dlist_insert_after(grove__dlist_t *pos,
                                             grove__dlist_t *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}
static inline void grove__dlist_push_back(grove__dlist_t *h, grove__dlist_t *n)
{
    grove__dlist_insert_after(h->prev, n);
}
static inline void grove__dlist_remove(grove__dlist_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

/* An open-addressing hash map from non-zero u64 keys to u64 values, owned
 * by one thread. Used for links and monitors of a process. */
typedef struct grove__map {
    union {
        /* cap > 0: 2 * cap words, the keys then the values */
        uint64_t *slots;
        /* cap == 0: most processes have at most one link or monitor of
         * a kind, kept without touching the heap (key 0: empty) */
        uint64_t ik;
    };
    uint64_t iv;
    uint32_t cap;  /* power of two, or 0 */
    uint32_t len;
    uint32_t tomb; /* deleted slots */
} grove__map_t;

GROVE__HIDDEN bool grove__map_get(const grove__map_t *m, uint64_t key,
                                  uint64_t *val);
/* Returns 1 if inserted, 0 if the key existed (value updated), or
 * GROVE_ENOMEM. */
GROVE__HIDDEN int grove__map_put(grove__map_t *m, uint64_t key, uint64_t val);
/* Makes room for n keys in all, so that adding them rehashes nothing.
 * Returns 0 or GROVE_ENOMEM (the map is unchanged). */
GROVE__HIDDEN int grove__map_reserve(grove__map_t *m, size_t n);
/* Returns true if the key was present (value to *val if non-NULL). */
GROVE__HIDDEN bool grove__map_del(grove__map_t *m, uint64_t key,
                                  uint64_t *val);
/* Starts loading the slot where key is or would go (a hint only). */
GROVE__HIDDEN void grove__map_prefetch(const grove__map_t *m, uint64_t key);
GROVE__HIDDEN void grove__map_free_slots(grove__map_t *m);
GROVE__HIDDEN bool grove__map_next_slots(const grove__map_t *m, uint32_t *i,
                                         uint64_t *key, uint64_t *val);
/* Frees the table. Inline for the common map of one entry or none: an
 * exiting process frees several. */
static inline void grove__map_free(grove__map_t *m)
{
    if (m->cap) {
        grove__map_free_slots(m);
        return;
    }
    m->ik = 0;
    m->iv = 0;
    m->len = m->tomb = 0;
}
/* Iteration: for (uint32_t i = 0; grove__map_next(m, &i, &k, &v);) */
static inline bool grove__map_next(const grove__map_t *m, uint32_t *i,
                                   uint64_t *key, uint64_t *val)
{
    if (m->cap)
        return grove__map_next_slots(m, i, key, val);
    if (*i != 0 || m->ik == 0)
        return false;
    *key = m->ik;
    *val = m->iv;
    *i = 1;
    return true;
}


#endif
