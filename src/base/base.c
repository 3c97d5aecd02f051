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

static inline uint32_t map_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

bool grove__map_get(const grove__map_t *m, uint64_t key, uint64_t *val)
{
    if (m->cap == 0) {
        for (int i = 0; i < 2; i++)
            if (m->ik[i] == key) {
                if (val)
                    *val = m->iv[i];
                return true;
            }
        return false;
    }
    uint32_t mask = m->cap - 1;
    for (uint32_t i = map_hash(key) & mask;; i = (i + 1) & mask) {
        uint64_t k = m->keys[i];
        if (k == key) {
            if (val)
                *val = m->vals[i];
            return true;
        }
        if (k == MAP_EMPTY)
            return false;
    }
}

static int map_grow(grove__map_t *m)
{
    uint32_t ncap = m->cap ? m->cap : 4;
    while ((m->len + 1) * 2 > ncap)
        ncap *= 2;
    uint64_t *nk = grove__calloc(ncap, sizeof *nk);
    uint64_t *nv = grove__malloc(ncap * sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return GROVE_ENOMEM;
    }
    uint32_t mask = ncap - 1;
    for (uint32_t j = 0; j < m->cap; j++) {
        uint64_t k = m->keys[j];
        if (k == MAP_EMPTY || k == MAP_TOMB)
            continue;
        uint32_t i = map_hash(k) & mask;
        while (nk[i] != MAP_EMPTY)
            i = (i + 1) & mask;
        nk[i] = k;
        nv[i] = m->vals[j];
    }
    for (int j = 0; j < 2 && m->cap == 0; j++) {
        uint64_t k = m->ik[j];
        if (k == MAP_EMPTY)
            continue;
        uint32_t i = map_hash(k) & mask;
        while (nk[i] != MAP_EMPTY)
            i = (i + 1) & mask;
        nk[i] = k;
        nv[i] = m->iv[j];
        m->ik[j] = 0;
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    m->tomb = 0;
    return 0;
}

int grove__map_put(grove__map_t *m, uint64_t key, uint64_t val)
{
    if (m->cap == 0) {
        int free_slot = -1;
        for (int i = 0; i < 2; i++) {
            if (m->ik[i] == key) {
                m->iv[i] = val;
                return 0;
            }
            if (m->ik[i] == MAP_EMPTY && free_slot < 0)
                free_slot = i;
        }
        if (free_slot >= 0) {
            m->ik[free_slot] = key;
            m->iv[free_slot] = val;
            m->len++;
            return 1;
        }
    }
    if (m->cap) {
        uint32_t mask = m->cap - 1;
        for (uint32_t i = map_hash(key) & mask;; i = (i + 1) & mask) {
            if (m->keys[i] == key) {
                m->vals[i] = val;
                return 0;
            }
            if (m->keys[i] == MAP_EMPTY)
                break;
        }
    }
    if ((m->len + m->tomb + 1) * 4 > m->cap * 3) {
        int rc = map_grow(m);
        if (rc < 0)
            return rc;
    }
    uint32_t mask = m->cap - 1;
    uint32_t i = map_hash(key) & mask;
    while (m->keys[i] != MAP_EMPTY && m->keys[i] != MAP_TOMB)
        i = (i + 1) & mask;
    if (m->keys[i] == MAP_TOMB)
        m->tomb--;
    m->keys[i] = key;
    m->vals[i] = val;
    m->len++;
    return 1;
}

bool grove__map_del(grove__map_t *m, uint64_t key, uint64_t *val)
{
    if (m->cap == 0) {
        for (int i = 0; i < 2; i++)
            if (m->ik[i] == key) {
                if (val)
                    *val = m->iv[i];
                m->ik[i] = MAP_EMPTY;
                m->len--;
                return true;
            }
        return false;
    }
    uint32_t mask = m->cap - 1;
    for (uint32_t i = map_hash(key) & mask;; i = (i + 1) & mask) {
        uint64_t k = m->keys[i];
        if (k == key) {
            if (val)
                *val = m->vals[i];
            m->keys[i] = MAP_TOMB;
            m->len--;
            m->tomb++;
            return true;
        }
        if (k == MAP_EMPTY)
            return false;
    }
}

bool grove__map_next(const grove__map_t *m, uint32_t *i, uint64_t *key,
                     uint64_t *val)
{
    if (m->cap == 0) {
        for (; *i < 2; (*i)++)
            if (m->ik[*i] != MAP_EMPTY) {
                *key = m->ik[*i];
                *val = m->iv[*i];
                (*i)++;
                return true;
            }
        return false;
    }
    for (; *i < m->cap; (*i)++) {
        uint64_t k = m->keys[*i];
        if (k != MAP_EMPTY && k != MAP_TOMB) {
            *key = k;
            *val = m->vals[*i];
            (*i)++;
            return true;
        }
    }
    return false;
}

void grove__map_free(grove__map_t *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = m->vals = NULL;
    m->cap = m->len = m->tomb = 0;
    m->ik[0] = m->ik[1] = 0;
}
