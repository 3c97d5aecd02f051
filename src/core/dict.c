/* The process dictionary: values private to one process under string
 * keys, freed when it exits. Only the owner touches its entries; other
 * threads read only the counts process info reports. Lookup is a hash
 * map from the key's hash to a chain of the entries with that hash. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "base/failpoint.h"

/* One allocation: the entry, then the key with its NUL, then the value
 * at the next 16-byte boundary. */
struct grove__dict_ent {
    grove__dlist_t link;               /* insertion order */
    struct grove__dict_ent *chain;     /* next entry with the same hash */
    uint64_t hash;
    size_t size;                       /* the value's */
    size_t bytes;                      /* the allocation's */
    unsigned char *value;
    char key[];
};
typedef struct grove__dict_ent ent_t;

static uint64_t key_hash(const char *key)
{
    uint64_t h = grove__hash_bytes(key, strlen(key));
    return h == 0 || h == UINT64_MAX ? 1 : h; /* the map's reserved keys */
}

static ent_t *chain_head(const grove__proc_t *p, uint64_t h)
{
    uint64_t v;
    return p->ext && grove__map_get(&p->ext->dict, h, &v)
               ? (ent_t *)(uintptr_t)v
               : NULL;
}

static ent_t *find(const grove__proc_t *p, const char *key, uint64_t h)
{
    for (ent_t *e = chain_head(p, h); e; e = e->chain)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void account(grove__proc_t *p, int n, int64_t bytes)
{
    GROVE__OWN_ADD(p->st_dict, n);
    GROVE__OWN_ADD(p->st_dict_bytes, bytes);
}

/* Unlinks e from its hash chain and the order list, and frees it. */
static void drop(grove__proc_t *p, ent_t *e)
{
    ent_t *head = chain_head(p, e->hash);
    if (head == e) {
        if (e->chain)
            (void)grove__map_put(&p->ext->dict, e->hash,
                                 (uintptr_t)e->chain);
        else
            grove__map_del(&p->ext->dict, e->hash, NULL);
    } else {
        ent_t *prev = head;
        while (prev->chain != e)
            prev = prev->chain;
        prev->chain = e->chain;
    }
    grove__dlist_remove(&e->link);
    account(p, -1, -(int64_t)e->bytes);
    free(e);
}

GROVE_EXPORT int grove_dict_put(const char *key, const void *value,
                                size_t size)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    if (!key || !*key || (size && !value))
        return GROVE_EINVAL;
    grove__proc_ext_t *ext = grove__proc_ext(p);
    if (!ext)
        return GROVE_ENOMEM;
    size_t klen = strlen(key);
    size_t voff = (sizeof(ent_t) + klen + 1 + 15) & ~(size_t)15;
    size_t bytes = grove__block16(voff, size);
    if (bytes == 0)
        return GROVE_ENOMEM;
    ent_t *n = grove__aligned_alloc(16, bytes);
    if (!n)
        return GROVE_ENOMEM;
    n->hash = key_hash(key);
    n->size = size;
    n->bytes = voff + size;
    n->value = (unsigned char *)n + voff;
    memcpy(n->key, key, klen + 1);
    if (size)
        memcpy(n->value, value, size);
    ent_t *old = find(p, key, n->hash);
    /* The new entry heads its chain; the old one, if any, goes after it
     * is out, so a failed put leaves the old value in place. */
    n->chain = chain_head(p, n->hash);
    if (grove__map_put(&ext->dict, n->hash, (uintptr_t)n) < 0) {
        free(n);
        return GROVE_ENOMEM;
    }
    if (old) {
        grove__dlist_insert_after(&old->link, &n->link); /* keeps its place */
        drop(p, old);
    } else {
        grove__dlist_push_back(&ext->dict_order, &n->link);
    }
    account(p, 1, (int64_t)n->bytes);
    grove__heap_check(p); /* over its limit, it ends here */
    return 0;
}

GROVE_EXPORT const void *grove_dict_get(const char *key, size_t *size)
{
    grove__proc_t *p = grove__current();
    ent_t *e = p && key ? find(p, key, key_hash(key)) : NULL;
    if (size)
        *size = e ? e->size : 0;
    return e ? e->value : NULL;
}

GROVE_EXPORT int grove_dict_erase(const char *key)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    if (!key)
        return GROVE_EINVAL;
    ent_t *e = find(p, key, key_hash(key));
    if (!e)
        return GROVE_ENOTFOUND;
    drop(p, e);
    return 0;
}

GROVE_EXPORT int grove_dict_keys(void (*fn)(const char *key, const void *value,
                                            size_t size, void *arg),
                                 void *arg)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    int n = 0;
    if (!p->ext)
        return 0;
    grove__dlist_t *order = &p->ext->dict_order;
    for (grove__dlist_t *l = order->next; l != order; l = l->next, n++)
        if (fn) {
            ent_t *e = GROVE__CONTAINER(l, ent_t, link);
            fn(e->key, e->value, e->size, arg);
        }
    return n;
}

static int clear(grove__proc_t *p)
{
    int n = 0;
    grove__proc_ext_t *ext = p->ext;
    if (!ext)
        return 0;
    for (; !grove__dlist_empty(&ext->dict_order); n++)
        drop(p, GROVE__CONTAINER(ext->dict_order.next, ent_t, link));
    grove__map_free(&ext->dict);
    return n;
}

GROVE_EXPORT int grove_dict_clear(void)
{
    grove__proc_t *p = grove__current();
    return p ? clear(p) : GROVE_ENOTPROC;
}

void grove__dict_release(grove__proc_t *p)
{
    (void)clear(p);
}
