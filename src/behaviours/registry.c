/* Registry: keys to processes in a striped hash table.
 *
 * Every call runs in the caller under the spinlock of one stripe, chosen
 * by the key's hash: lookups and registrations from different schedulers
 * meet only when they hit the same stripe. A process's entries hang off an
 * owner record that is attached to the process as a resource, so they are
 * removed by its exit path itself, before its links and monitors fire:
 * no registry process, no polling, no window where a dead pid is found.
 *
 * Locks: a key stripe guards its buckets; an owner stripe guards owner
 * records and their entry lists. They are never held together.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "behaviours/behaviours.h"
#include "base/failpoint.h"

typedef struct entry {
    struct entry *next;  /* bucket chain */
    struct entry *onext; /* the owner's list */
    uint64_t hash;
    grove_pid_t pid;
    uint64_t value;
    size_t len;
    unsigned char key[];
} entry_t;

typedef struct stripe {
    grove__spin_t lock;
    entry_t **buckets;
    size_t nbuckets, count;
    char pad[64 - sizeof(grove__spin_t) - 3 * sizeof(size_t)];
} stripe_t;

typedef struct owner {
    struct owner *next; /* owner stripe chain */
    grove_pid_t pid;
    entry_t *entries;
    grove_resource_t *res;
    grove_registry_t *reg;
} owner_t;

typedef struct ostripe {
    grove__spin_t lock;
    owner_t **buckets;
    size_t nbuckets, count;
} ostripe_t;

typedef struct meta {
    struct meta *next;
    char *key;
    size_t len;
    unsigned char val[];
} meta_t;

struct grove_registry {
    int keys;
    unsigned mask; /* stripes - 1 */
    stripe_t *stripes;
    ostripe_t *owners;
    atomic_size_t count;
    char **listeners;
    size_t nlisteners;
    pthread_mutex_t meta_lock;
    meta_t *meta;
    grove_via_t via;
    char *name;
    grove_registry_t *next_named;
};

static pthread_mutex_t named_lock = PTHREAD_MUTEX_INITIALIZER;
static grove_registry_t *named;

static uint64_t hash_bytes(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a mix */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static stripe_t *stripe_of(grove_registry_t *r, uint64_t h)
{
    return &r->stripes[h & r->mask];
}

static size_t bucket_of(const stripe_t *s, uint64_t h)
{
    return (size_t)(h >> 16) & (s->nbuckets - 1);
}

/* ---- creation --------------------------------------------------------------- */

static int via_register(void *reg, const void *key, size_t len,
                        grove_pid_t pid, grove_pid_t *holder);
static void via_unregister(void *reg, const void *key, size_t len,
                           grove_pid_t pid);
static int via_whereis(void *reg, const void *key, size_t len,
                       grove_pid_t *pid);

static unsigned stripes_for(unsigned partitions)
{
    if (!partitions)
        partitions = (unsigned)(grove_scheduler_count() > 0
                                    ? grove_scheduler_count()
                                    : 1);
    unsigned n = 16;
    while (n < partitions * 16 && n < (1u << 16))
        n <<= 1;
    return n;
}

static int alloc_tables(grove_registry_t *r, unsigned n)
{
    r->mask = n - 1;
    r->stripes = grove__calloc(n, sizeof *r->stripes);
    r->owners = grove__calloc(n, sizeof *r->owners);
    if (!r->stripes || !r->owners)
        return GROVE_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        r->stripes[i].nbuckets = 16;
        r->stripes[i].buckets = grove__calloc(16, sizeof(entry_t *));
        r->owners[i].nbuckets = 16;
        r->owners[i].buckets = grove__calloc(16, sizeof(owner_t *));
        if (!r->stripes[i].buckets || !r->owners[i].buckets)
            return GROVE_ENOMEM;
    }
    return 0;
}

static int copy_listeners(grove_registry_t *r, const grove_registry_opts_t *o)
{
    if (!o->nlisteners)
        return 0;
    r->listeners = grove__calloc(o->nlisteners, sizeof *r->listeners);
    if (!r->listeners)
        return GROVE_ENOMEM;
    r->nlisteners = o->nlisteners;
    for (size_t i = 0; i < o->nlisteners; i++)
        if (!o->listeners[i] || !(r->listeners[i] = grove__strdup(o->listeners[i])))
            return o->listeners[i] ? GROVE_ENOMEM : GROVE_EINVAL;
    return 0;
}

static int publish_name(grove_registry_t *r, const char *name)
{
    if (!name)
        return 0;
    pthread_mutex_lock(&named_lock);
    for (grove_registry_t *it = named; it; it = it->next_named)
        if (strcmp(it->name, name) == 0) {
            pthread_mutex_unlock(&named_lock);
            return GROVE_EEXIST;
        }
    r->name = grove__strdup(name);
    if (r->name) {
        r->next_named = named;
        named = r;
    }
    pthread_mutex_unlock(&named_lock);
    return r->name ? 0 : GROVE_ENOMEM;
}

GROVE_EXPORT int grove_registry_new(const grove_registry_opts_t *opts,
                                    grove_registry_t **out)
{
    static const grove_registry_opts_t none;
    const grove_registry_opts_t *o = opts ? opts : &none;
    if (!out || o->keys < GROVE_REG_UNIQUE || o->keys > GROVE_REG_DUPLICATE ||
        (o->nlisteners && !o->listeners) || o->partitions > 4096)
        return GROVE_EINVAL;
    if (!grove_running())
        return GROVE_ENOTSTARTED;
    grove_registry_t *r = grove__calloc(1, sizeof *r);
    if (!r)
        return GROVE_ENOMEM;
    r->keys = o->keys;
    pthread_mutex_init(&r->meta_lock, NULL);
    r->via = (grove_via_t){via_register, via_unregister, via_whereis, r};
    int rc = alloc_tables(r, stripes_for(o->partitions));
    if (rc == 0)
        rc = copy_listeners(r, o);
    if (rc == 0)
        rc = publish_name(r, o->name);
    if (rc < 0) {
        grove_registry_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

GROVE_EXPORT int grove_registry_find(const char *name, grove_registry_t **out)
{
    if (!name || !out)
        return GROVE_EINVAL;
    pthread_mutex_lock(&named_lock);
    grove_registry_t *it = named;
    while (it && strcmp(it->name, name) != 0)
        it = it->next_named;
    pthread_mutex_unlock(&named_lock);
    if (!it)
        return GROVE_ENOTFOUND;
    *out = it;
    return 0;
}

static void unpublish(grove_registry_t *r)
{
    pthread_mutex_lock(&named_lock);
    for (grove_registry_t **pp = &named; *pp; pp = &(*pp)->next_named)
        if (*pp == r) {
            *pp = r->next_named;
            break;
        }
    pthread_mutex_unlock(&named_lock);
}

GROVE_EXPORT int grove_registry_free(grove_registry_t *r)
{
    if (!r)
        return GROVE_EINVAL;
    if (r->name)
        unpublish(r);
    for (unsigned i = 0; r->owners && i <= r->mask; i++) {
        ostripe_t *os = &r->owners[i];
        for (size_t b = 0; os->buckets && b < os->nbuckets; b++)
            for (owner_t *ow = os->buckets[b]; ow; ow = ow->next)
                ow->reg = NULL; /* the owner's exit will only free it */
        free(os->buckets);
    }
    for (unsigned i = 0; r->stripes && i <= r->mask; i++) {
        stripe_t *s = &r->stripes[i];
        free(s->buckets);
    }
    free(r->stripes);
    free(r->owners);
    for (size_t i = 0; i < r->nlisteners; i++)
        free(r->listeners[i]);
    free(r->listeners);
    for (meta_t *m = r->meta; m;) {
        meta_t *n = m->next;
        free(m->key);
        free(m);
        m = n;
    }
    pthread_mutex_destroy(&r->meta_lock);
    free(r->name);
    free(r);
    return 0;
}

/* ---- owners ------------------------------------------------------------------ */

static ostripe_t *ostripe_of(grove_registry_t *r, grove_pid_t pid)
{
    return &r->owners[hash_bytes(&pid.id, sizeof pid.id) & r->mask];
}

static owner_t **owner_slot(ostripe_t *os, grove_pid_t pid)
{
    size_t b = (size_t)(pid.id * 0x9e3779b97f4a7c15ull >> 40) &
               (os->nbuckets - 1);
    owner_t **pp = &os->buckets[b];
    while (*pp && (*pp)->pid.id != pid.id)
        pp = &(*pp)->next;
    return pp;
}

static void ostripe_grow(ostripe_t *os)
{
    size_t nb = os->nbuckets * 2;
    owner_t **b = grove__calloc(nb, sizeof *b);
    if (!b)
        return;
    owner_t **old = os->buckets;
    size_t oldn = os->nbuckets;
    os->buckets = b;
    os->nbuckets = nb;
    for (size_t i = 0; i < oldn; i++)
        for (owner_t *o = old[i]; o;) {
            owner_t *n = o->next;
            owner_t **pp = owner_slot(os, o->pid);
            o->next = NULL;
            *pp = o;
            o = n;
        }
    free(old);
}

static void unlink_entry(grove_registry_t *r, entry_t *e)
{
    stripe_t *s = stripe_of(r, e->hash);
    grove__spin_lock(&s->lock);
    for (entry_t **pp = &s->buckets[bucket_of(s, e->hash)]; *pp;
         pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            s->count--;
            break;
        }
    grove__spin_unlock(&s->lock);
    atomic_fetch_sub_explicit(&r->count, 1, memory_order_relaxed);
}

/* The owner's exit: runs on its scheduler after it is gone, before its
 * links and monitors fire. */
static void owner_exit(void *arg)
{
    owner_t *ow = arg;
    grove_registry_t *r = ow->reg;
    if (r) {
        ostripe_t *os = ostripe_of(r, ow->pid);
        grove__spin_lock(&os->lock);
        owner_t **pp = owner_slot(os, ow->pid);
        if (*pp == ow) {
            *pp = ow->next;
            os->count--;
        }
        grove__spin_unlock(&os->lock);
    }
    for (entry_t *e = ow->entries; e;) {
        entry_t *n = e->onext;
        if (r)
            unlink_entry(r, e);
        free(e);
        e = n;
    }
    free(ow);
}

/* The caller's owner record in r, created on first use. */
static owner_t *own(grove_registry_t *r, grove_pid_t self, bool create)
{
    ostripe_t *os = ostripe_of(r, self);
    grove__spin_lock(&os->lock);
    owner_t *ow = *owner_slot(os, self);
    grove__spin_unlock(&os->lock);
    if (ow || !create)
        return ow;
    ow = grove__calloc(1, sizeof *ow);
    if (!ow)
        return NULL;
    ow->pid = self;
    ow->reg = r;
    if (grove_resource_attach(owner_exit, ow, &ow->res) < 0) {
        free(ow);
        return NULL;
    }
    grove__spin_lock(&os->lock);
    if (++os->count > os->nbuckets * 2)
        ostripe_grow(os);
    *owner_slot(os, self) = ow;
    grove__spin_unlock(&os->lock);
    return ow;
}

/* An owner with no entries left is dropped (Elixir unlinks it). */
static void maybe_disown(grove_registry_t *r, owner_t *ow)
{
    if (ow->entries)
        return;
    ostripe_t *os = ostripe_of(r, ow->pid);
    grove__spin_lock(&os->lock);
    owner_t **pp = owner_slot(os, ow->pid);
    if (*pp == ow) {
        *pp = ow->next;
        os->count--;
    }
    grove__spin_unlock(&os->lock);
    grove_resource_detach(ow->res);
    free(ow);
}

static void owner_push(grove_registry_t *r, owner_t *ow, entry_t *e)
{
    ostripe_t *os = ostripe_of(r, ow->pid);
    grove__spin_lock(&os->lock);
    e->onext = ow->entries;
    ow->entries = e;
    grove__spin_unlock(&os->lock);
}

static void owner_remove(grove_registry_t *r, owner_t *ow, entry_t *e)
{
    ostripe_t *os = ostripe_of(r, ow->pid);
    grove__spin_lock(&os->lock);
    for (entry_t **pp = &ow->entries; *pp; pp = &(*pp)->onext)
        if (*pp == e) {
            *pp = e->onext;
            break;
        }
    grove__spin_unlock(&os->lock);
}

/* ---- register and unregister -------------------------------------------------- */

static bool key_eq(const entry_t *e, uint64_t h, const void *key, size_t len)
{
    return e->hash == h && e->len == len &&
           (len == 0 || memcmp(e->key, key, len) == 0);
}

static void stripe_grow(stripe_t *s)
{
    size_t nb = s->nbuckets * 2;
    entry_t **b = grove__calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (entry_t *e = s->buckets[i]; e;) {
            entry_t *n = e->next;
            size_t k = (size_t)(e->hash >> 16) & (nb - 1);
            e->next = b[k];
            b[k] = e;
            e = n;
        }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static void notify(grove_registry_t *r, uint64_t tag, grove_pid_t pid,
                   uint64_t value, const void *key, size_t len)
{
    if (!r->nlisteners)
        return;
    size_t size = sizeof(grove_reg_event_t) + len;
    unsigned char *buf = grove__malloc(size);
    if (!buf)
        return;
    grove_reg_event_t ev = {.pid = pid, .value = value, .key_len = len};
    memcpy(buf, &ev, sizeof ev);
    if (len)
        memcpy(buf + sizeof ev, key, len);
    for (size_t i = 0; i < r->nlisteners; i++)
        grove_send_name(r->listeners[i], tag, buf, size);
    free(buf);
}

/* Inserts e unless a live holder has the key (unique). 0, or GROVE_EEXIST
 * with *holder; GROVE_EAGAIN when a dead holder is still being removed. */
static int insert(grove_registry_t *r, entry_t *e, grove_pid_t *holder)
{
    stripe_t *s = stripe_of(r, e->hash);
    grove__spin_lock(&s->lock);
    if (r->keys == GROVE_REG_UNIQUE) {
        for (entry_t *it = s->buckets[bucket_of(s, e->hash)]; it;
             it = it->next) {
            if (!key_eq(it, e->hash, e->key, e->len))
                continue;
            grove_pid_t h = it->pid;
            grove__spin_unlock(&s->lock);
            if (holder)
                *holder = h;
            return grove_is_alive(h) ? GROVE_EEXIST : GROVE_EAGAIN;
        }
    }
    if (++s->count > s->nbuckets * 2)
        stripe_grow(s);
    size_t b = bucket_of(s, e->hash);
    e->next = s->buckets[b];
    s->buckets[b] = e;
    grove__spin_unlock(&s->lock);
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
    return 0;
}

GROVE_EXPORT int grove_registry_register(grove_registry_t *r, const void *key,
                                         size_t len, uint64_t value,
                                         grove_pid_t *holder)
{
    if (!r || (!key && len))
        return GROVE_EINVAL;
    grove_pid_t self = grove_self();
    if (!self.id)
        return GROVE_ENOTPROC;
    entry_t *e = grove__malloc(sizeof *e + (len ? len : 1));
    if (!e)
        return GROVE_ENOMEM;
    e->hash = hash_bytes(key, len);
    e->pid = self;
    e->value = value;
    e->len = len;
    if (len)
        memcpy(e->key, key, len);
    owner_t *ow = own(r, self, true);
    if (!ow) {
        free(e);
        return GROVE_ENOMEM;
    }
    int rc;
    /* A dead holder's entry goes within its exit path: wait it out. */
    while ((rc = insert(r, e, holder)) == GROVE_EAGAIN)
        grove_yield();
    if (rc < 0) {
        free(e);
        maybe_disown(r, ow);
        return rc;
    }
    owner_push(r, ow, e);
    notify(r, GROVE_REG_LISTEN_REGISTER, self, value, key, len);
    return 0;
}

GROVE_EXPORT int grove_registry_unregister(grove_registry_t *r,
                                           const void *key, size_t len)
{
    if (!r || (!key && len))
        return GROVE_EINVAL;
    grove_pid_t self = grove_self();
    if (!self.id)
        return GROVE_ENOTPROC;
    owner_t *ow = own(r, self, false);
    if (!ow)
        return 0;
    uint64_t h = hash_bytes(key, len);
    bool any = false;
    for (;;) {
        entry_t *found = NULL;
        ostripe_t *os = ostripe_of(r, self);
        grove__spin_lock(&os->lock);
        for (entry_t *e = ow->entries; e; e = e->onext)
            if (key_eq(e, h, key, len)) {
                found = e;
                break;
            }
        grove__spin_unlock(&os->lock);
        if (!found)
            break;
        owner_remove(r, ow, found);
        unlink_entry(r, found);
        free(found);
        any = true;
    }
    if (any)
        notify(r, GROVE_REG_LISTEN_UNREGISTER, self, 0, key, len);
    maybe_disown(r, ow);
    return 0;
}

GROVE_EXPORT int grove_registry_update_value(grove_registry_t *r,
                                             const void *key, size_t len,
                                             uint64_t value, uint64_t *old)
{
    if (!r || (!key && len))
        return GROVE_EINVAL;
    if (r->keys != GROVE_REG_UNIQUE)
        return GROVE_ENOTSUP;
    grove_pid_t self = grove_self();
    if (!self.id)
        return GROVE_ENOTPROC;
    uint64_t h = hash_bytes(key, len);
    stripe_t *s = stripe_of(r, h);
    int rc = GROVE_ENOTFOUND;
    grove__spin_lock(&s->lock);
    for (entry_t *e = s->buckets[bucket_of(s, h)]; e; e = e->next)
        if (key_eq(e, h, key, len) && e->pid.id == self.id) {
            if (old)
                *old = e->value;
            e->value = value;
            rc = 0;
            break;
        }
    grove__spin_unlock(&s->lock);
    return rc;
}

/* ---- reading -------------------------------------------------------------------- */

GROVE_EXPORT int grove_registry_lookup(grove_registry_t *r, const void *key,
                                       size_t len, grove_reg_entry_t *out,
                                       size_t max, size_t *n)
{
    if (!r || (!key && len) || (!out && max) || !n)
        return GROVE_EINVAL;
    uint64_t h = hash_bytes(key, len);
    stripe_t *s = stripe_of(r, h);
    size_t k = 0;
    grove__spin_lock(&s->lock);
    for (entry_t *e = s->buckets[bucket_of(s, h)]; e; e = e->next)
        if (key_eq(e, h, key, len)) {
            if (k < max)
                out[k] = (grove_reg_entry_t){e->pid, e->value};
            k++;
        }
    grove__spin_unlock(&s->lock);
    *n = k;
    return 0;
}

GROVE_EXPORT int grove_registry_whereis(grove_registry_t *r, const void *key,
                                        size_t len, grove_pid_t *pid)
{
    grove_reg_entry_t e;
    size_t n = 0;
    if (!pid)
        return GROVE_EINVAL;
    int rc = grove_registry_lookup(r, key, len, &e, 1, &n);
    if (rc < 0)
        return rc;
    if (!n)
        return GROVE_ENOTFOUND;
    *pid = e.pid;
    return 0;
}

GROVE_EXPORT int grove_registry_keys(grove_registry_t *r, grove_pid_t pid,
                                     void (*fn)(const void *key, size_t len,
                                                void *arg),
                                     void *arg)
{
    if (!r || !fn)
        return GROVE_EINVAL;
    ostripe_t *os = ostripe_of(r, pid);
    int n = 0;
    grove__spin_lock(&os->lock);
    owner_t *ow = *owner_slot(os, pid);
    for (entry_t *e = ow ? ow->entries : NULL; e; e = e->onext) {
        fn(e->key, e->len, arg); /* must not call back into r */
        n++;
    }
    grove__spin_unlock(&os->lock);
    return n;
}

GROVE_EXPORT size_t grove_registry_count(grove_registry_t *r)
{
    return r ? atomic_load_explicit(&r->count, memory_order_relaxed) : 0;
}

GROVE_EXPORT int grove_registry_match(grove_registry_t *r, const void *key,
                                      size_t len,
                                      bool (*pred)(uint64_t value, void *arg),
                                      void *arg, grove_reg_entry_t *out,
                                      size_t max)
{
    if (!r || (!key && len) || (!out && max))
        return GROVE_EINVAL;
    uint64_t h = hash_bytes(key, len);
    stripe_t *s = stripe_of(r, h);
    int k = 0;
    grove__spin_lock(&s->lock);
    for (entry_t *e = s->buckets[bucket_of(s, h)]; e; e = e->next)
        if (key_eq(e, h, key, len) && (!pred || pred(e->value, arg))) {
            if ((size_t)k < max)
                out[k] = (grove_reg_entry_t){e->pid, e->value};
            k++;
        }
    grove__spin_unlock(&s->lock);
    return k;
}

GROVE_EXPORT int grove_registry_select(
    grove_registry_t *r,
    bool (*pred)(const void *key, size_t len, grove_pid_t pid,
                 uint64_t value, void *arg),
    void (*fn)(const void *key, size_t len, grove_pid_t pid, uint64_t value,
               void *arg),
    void *arg)
{
    if (!r || !fn)
        return GROVE_EINVAL;
    int n = 0;
    for (unsigned i = 0; i <= r->mask; i++) {
        stripe_t *s = &r->stripes[i];
        grove__spin_lock(&s->lock);
        for (size_t b = 0; b < s->nbuckets; b++)
            for (entry_t *e = s->buckets[b]; e; e = e->next)
                if (!pred || pred(e->key, e->len, e->pid, e->value, arg)) {
                    fn(e->key, e->len, e->pid, e->value, arg);
                    n++;
                }
        grove__spin_unlock(&s->lock);
    }
    return n;
}

GROVE_EXPORT int grove_registry_dispatch(grove_registry_t *r,
                                         const void *key, size_t len,
                                         void (*fn)(const grove_reg_entry_t *e,
                                                    size_t n, void *arg),
                                         void *arg)
{
    if (!r || !fn || (!key && len))
        return GROVE_EINVAL;
    grove_reg_entry_t small[16], *buf = small;
    size_t cap = 16, n = 0;
    for (;;) {
        int rc = grove_registry_lookup(r, key, len, buf, cap, &n);
        if (rc < 0 || n <= cap)
            break;
        if (buf != small)
            free(buf);
        cap = n + 16;
        buf = grove__malloc(cap * sizeof *buf);
        if (!buf)
            return GROVE_ENOMEM;
    }
    if (n)
        fn(buf, n, arg); /* outside every lock: fn may do anything */
    if (buf != small)
        free(buf);
    return 0;
}

/* ---- meta -------------------------------------------------------------------------- */

static meta_t **meta_find(grove_registry_t *r, const char *key)
{
    meta_t **pp = &r->meta;
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

GROVE_EXPORT int grove_registry_put_meta(grove_registry_t *r, const char *key,
                                         const void *val, size_t len)
{
    if (!r || !key || (!val && len))
        return GROVE_EINVAL;
    meta_t *m = grove__malloc(sizeof *m + (len ? len : 1));
    if (!m || !(m->key = grove__strdup(key))) {
        free(m);
        return GROVE_ENOMEM;
    }
    m->len = len;
    if (len)
        memcpy(m->val, val, len);
    pthread_mutex_lock(&r->meta_lock);
    meta_t **pp = meta_find(r, key);
    if (*pp) {
        meta_t *old = *pp;
        m->next = old->next;
        *pp = m;
        free(old->key);
        free(old);
    } else {
        m->next = NULL;
        *pp = m;
    }
    pthread_mutex_unlock(&r->meta_lock);
    return 0;
}

GROVE_EXPORT int grove_registry_meta(grove_registry_t *r, const char *key,
                                     void *val, size_t cap)
{
    if (!r || !key || (!val && cap))
        return GROVE_EINVAL;
    pthread_mutex_lock(&r->meta_lock);
    meta_t *m = *meta_find(r, key);
    int rc = GROVE_ENOTFOUND;
    if (m) {
        if (cap && m->len)
            memcpy(val, m->val, m->len < cap ? m->len : cap);
        rc = (int)m->len;
    }
    pthread_mutex_unlock(&r->meta_lock);
    return rc;
}

GROVE_EXPORT int grove_registry_delete_meta(grove_registry_t *r,
                                            const char *key)
{
    if (!r || !key)
        return GROVE_EINVAL;
    pthread_mutex_lock(&r->meta_lock);
    meta_t **pp = meta_find(r, key);
    if (*pp) {
        meta_t *m = *pp;
        *pp = m->next;
        free(m->key);
        free(m);
    }
    pthread_mutex_unlock(&r->meta_lock);
    return 0;
}

/* ---- via names ----------------------------------------------------------------------- */

static int via_register(void *reg, const void *key, size_t len,
                        grove_pid_t pid, grove_pid_t *holder)
{
    if (pid.id != grove_self().id)
        return GROVE_EINVAL; /* a registry registers its caller only */
    int rc = grove_registry_register(reg, key, len, 0, holder);
    return rc == GROVE_EEXIST ? GROVE_EEXIST : rc;
}

static void via_unregister(void *reg, const void *key, size_t len,
                           grove_pid_t pid)
{
    if (pid.id == grove_self().id)
        grove_registry_unregister(reg, key, len);
}

static int via_whereis(void *reg, const void *key, size_t len,
                       grove_pid_t *pid)
{
    int rc = grove_registry_whereis(reg, key, len, pid);
    if (rc == 0 && !grove_is_alive(*pid))
        return GROVE_ENOTFOUND;
    return rc;
}

GROVE_EXPORT const grove_via_t *grove_registry_via(grove_registry_t *r)
{
    return r && r->keys == GROVE_REG_UNIQUE ? &r->via : NULL;
}
