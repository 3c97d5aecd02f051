/* Base toolbox: panic and the u64 hash map. */
#include "base/base.h"
#include "base/failpoint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void grove__panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

/* Tombstones keep probe chains intact after deletion. Keys are never 0 and
 * never ~0, which mark empty and deleted slots. */
#define MAP_EMPTY 0u
#define MAP_TOMB UINT64_MAX

/* Keys are mostly counters: pids (a slot number under a generation) and
 * references. Eight keys that differ only in their low three bits hash to
 * one group of eight slots, in an order the group's hash picks: a
 * supervisor linking to children spawned one after another then fills a
 * cache line of keys, and one of values, per eight children instead of
 * touching two lines at random for each. The groups themselves are
 * scattered by a full mix, and keys whose low bits never change (aligned
 * addresses) still spread over a group through the mixed offset. */
static inline uint32_t map_hash(uint64_t k)
{
    uint64_t g = k >> 3;
    g ^= g >> 33;
    g *= 0xff51afd7ed558ccdull;
    g ^= g >> 33;
    return (uint32_t)((g & ~(uint64_t)7) | ((k + g) & 7));
}

static inline uint64_t *map_keys(const grove__map_t *m) { return m->slots; }
static inline uint64_t *map_vals(const grove__map_t *m)
{
    return m->slots + m->cap;
}

void grove__map_prefetch(const grove__map_t *m, uint64_t key)
{
    if (!m->cap)
        return;
    uint32_t i = map_hash(key) & (m->cap - 1);
    __builtin_prefetch(&map_keys(m)[i]);
    __builtin_prefetch(&map_vals(m)[i]);
}

bool grove__map_get(const grove__map_t *m, uint64_t key, uint64_t *val)
{
    if (m->cap == 0) {
        if (m->ik == key && key != MAP_EMPTY) {
            if (val)
                *val = m->iv;
            return true;
        }
        return false;
    }
    uint64_t *keys = map_keys(m);
    uint32_t mask = m->cap - 1;
    for (uint32_t i = map_hash(key) & mask;; i = (i + 1) & mask) {
        uint64_t k = keys[i];
        if (k == key) {
            if (val)
                *val = map_vals(m)[i];
            return true;
        }
        if (k == MAP_EMPTY)
            return false;
    }
}

static void map_place(uint64_t *slots, uint32_t cap, uint64_t k, uint64_t v)
{
    uint32_t mask = cap - 1;
    uint32_t i = map_hash(k) & mask;
    while (slots[i] != MAP_EMPTY)
        i = (i + 1) & mask;
    slots[i] = k;
    slots[cap + i] = v;
}

/* Whether used keys and tombstones fit in a table of cap slots. Up to
 * three quarters full, except from MAP_BIG slots on, where the limit is
 * half: a map that large holds many runs of keys that fill whole groups,
 * and linear probing past full groups grows much faster with the load
 * than past single slots (at 0.75 an insert probed about 15 slots, at
 * 0.5 about 5). Small maps, the common case, keep the denser limit. */
#define MAP_BIG 1024u
static inline bool map_fits(uint32_t cap, uint32_t used)
{
    /* In 64 bits: a table of 2^31 slots would overflow 32. */
    return cap >= MAP_BIG ? (uint64_t)used * 2 <= cap
                          : (uint64_t)used * 4 <= (uint64_t)cap * 3;
}

/* Rehashes m into a table where want keys fill at most half. */
static int map_grow(grove__map_t *m, size_t want)
{
    if (want > UINT32_C(1) << 30)
        return GROVE_ENOMEM; /* past what a 32-bit capacity can hold */
    uint32_t ncap = m->cap ? m->cap : 4;
    while ((uint64_t)want * 2 > ncap)
        ncap *= 2;
    uint64_t *ns = grove__zalloc((size_t)ncap * 2, sizeof *ns);
    if (!ns)
        return GROVE_ENOMEM;
    if (m->cap == 0) {
        if (m->ik != MAP_EMPTY)
            map_place(ns, ncap, m->ik, m->iv);
    } else {
        for (uint32_t j = 0; j < m->cap; j++) {
            uint64_t k = map_keys(m)[j];
            if (k != MAP_EMPTY && k != MAP_TOMB)
                map_place(ns, ncap, k, map_vals(m)[j]);
        }
        free(m->slots);
    }
    m->slots = ns;
    m->iv = 0;
    m->cap = ncap;
    m->tomb = 0;
    return 0;
}

int grove__map_put(grove__map_t *m, uint64_t key, uint64_t val)
{
    if (m->cap == 0) {
        if (m->ik == key) {
            m->iv = val;
            return 0;
        }
        if (m->ik == MAP_EMPTY) {
            m->ik = key;
            m->iv = val;
            m->len = 1;
            return 1;
        }
    } else {
        /* One probe finds the key or where it goes: the first tombstone
         * on the way, else the empty slot that ends the probe. */
        uint32_t mask = m->cap - 1, at = UINT32_MAX, i;
        uint64_t *keys = map_keys(m);
        for (i = map_hash(key) & mask;; i = (i + 1) & mask) {
            if (keys[i] == key) {
                map_vals(m)[i] = val;
                return 0;
            }
            if (keys[i] == MAP_EMPTY)
                break;
            if (keys[i] == MAP_TOMB && at == UINT32_MAX)
                at = i;
        }
        if (map_fits(m->cap, m->len + m->tomb + 1)) {
            if (at != UINT32_MAX) {
                i = at;
                m->tomb--;
            }
            keys[i] = key;
            map_vals(m)[i] = val;
            m->len++;
            return 1;
        }
    }
    int rc = map_grow(m, m->len + 1);
    if (rc < 0)
        return rc;
    map_place(m->slots, m->cap, key, val);
    m->len++;
    return 1;
}

int grove__map_reserve(grove__map_t *m, size_t n)
{
    if (n <= 1 || n <= m->cap / 2)
        return 0;
    return map_grow(m, n);
}

bool grove__map_del(grove__map_t *m, uint64_t key, uint64_t *val)
{
    if (m->cap == 0) {
        if (m->ik != key || key == MAP_EMPTY)
            return false;
        if (val)
            *val = m->iv;
        m->ik = MAP_EMPTY;
        m->len = 0;
        return true;
    }
    uint64_t *keys = map_keys(m);
    uint32_t mask = m->cap - 1;
    for (uint32_t i = map_hash(key) & mask;; i = (i + 1) & mask) {
        uint64_t k = keys[i];
        if (k == key) {
            if (val)
                *val = map_vals(m)[i];
            m->len--;
            if (keys[(i + 1) & mask] != MAP_EMPTY) {
                keys[i] = MAP_TOMB;
                m->tomb++;
                return true;
            }
            /* No probe passes an empty slot, so none needs this one or
             * the tombstones just before it: emptied, they never fill
             * the table towards a rehash. Live keys stay where they are,
             * so iterating while deleting still sees each key once. */
            keys[i] = MAP_EMPTY;
            for (i = (i - 1) & mask; keys[i] == MAP_TOMB; i = (i - 1) & mask) {
                keys[i] = MAP_EMPTY;
                m->tomb--;
            }
            return true;
        }
        if (k == MAP_EMPTY)
            return false;
    }
}

bool grove__map_next_slots(const grove__map_t *m, uint32_t *i, uint64_t *key,
                           uint64_t *val)
{
    uint64_t *keys = map_keys(m);
    for (; *i < m->cap; (*i)++) {
        uint64_t k = keys[*i];
        if (k != MAP_EMPTY && k != MAP_TOMB) {
            *key = k;
            *val = map_vals(m)[*i];
            (*i)++;
            return true;
        }
    }
    return false;
}
void grove__map_free_slots(grove__map_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->iv = 0;
    m->cap = m->len = m->tomb = 0;
}
