/* Registry: keys to processes in a striped hash table.
 *
 * Every call runs in the caller. Writers (register, unregister, an owner's
 * exit) take the spinlock of one stripe, chosen by the key's hash, so
 * registrations from different schedulers meet only when they hit the same
 * stripe. Lookups take no lock and write nothing shared: each stripe has a
 * sequence count, odd while a writer relinks its chains, and a reader walks
 * the chain of its bucket and retries when the count moved under it (after
 * a few tries it takes the lock). Inserting at a chain's head needs no
 * count change: a new entry is complete before it is published.
 *
 * A lock-free reader may hold a pointer to an entry that a writer is
 * removing, so entry memory never goes back to malloc while the registry
 * lives: a removed entry waits on its stripe's free list for the next
 * registration there, and a replaced bucket array is kept until the
 * registry is freed (it is smaller than all the later ones together). A
 * reader that sees an entry change under it only ever reads other entry
 * fields, all atomics, and its count check throws what it read away. Keys
 * of up to INLINE_KEY bytes live in the entry and are compared by the
 * lock-free path; a longer key lives in its own allocation, freed when the
 * entry is removed, and is only read under the stripe's lock.
 *
 * A process's entries are listed in an owner record that is attached to
 * the process as a resource, so they are removed by its exit path itself,
 * before its links and monitors fire: no registry process, no polling, no
 * window where a dead pid is found. Only the owner itself (or its exit,
 * after it is gone) changes its record; others read it under the lock of
 * the owner stripe that holds it (grove_registry_keys).
 *
 * Locks: a key stripe guards its buckets and free list; an owner stripe
 * guards its owner records and their entry lists. They are never held
 * together.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "behaviours/behaviours.h"
#include "base/failpoint.h"

#define INLINE_KEY 24 /* key bytes kept in the entry */
#define KEY_WORDS (INLINE_KEY / 8)
#define OWNER_INLINE 3 /* entries an owner lists without an allocation */
#define READ_TRIES 8   /* lock-free attempts before a lookup locks */
/* Entries are allocated a slab at a time (the first entry is the slab's
 * link and records its size); each slab of a stripe is twice the last, up
 * to 2 MiB, which is aligned and asked to be a huge page: lookups over
 * many entries then miss the TLB far less. */
#define SLAB_MIN 64u
#define SLAB_DOUBLINGS 9u /* SLAB_MIN << 9 entries = 2 MiB */
#define SLAB_HUGE ((size_t)2 << 20)

/* One cache line. Every field a lock-free reader reads is atomic; kw is
 * read and, while others may read it, written with __atomic builtins.
 * Longer keys: kw[0] holds the pointer to their bytes. */
typedef struct entry {
    _Atomic(struct entry *) next; /* bucket chain; the free list */
    _Atomic uint64_t hash;
    _Atomic uint64_t pid;
    _Atomic uint64_t value;
    _Atomic size_t len;
    uint64_t kw[KEY_WORDS];
} entry_t;

/* A bucket array; replaced (not freed) when its stripe grows. */
typedef struct table {
    struct table *retired; /* the arrays this one replaced */
    size_t n;              /* a power of two */
    _Atomic(entry_t *) b[];
} table_t;

typedef struct stripe {
    _Alignas(64) grove__spin_t lock;
    atomic_uint seq; /* odd while chains are being relinked */
    _Atomic(table_t *) tab;
    atomic_size_t count;
    entry_t *free;  /* removed entries, for the next insert here */
    entry_t *slabs; /* every slab of the stripe, linked by next */
    entry_t *bump;  /* the newest slab's unused entries */
    size_t left;
    size_t nslabs; /* slabs so far: the next is slab_entries(nslabs) */
} stripe_t;

typedef struct owner {
    grove_pid_t pid;
    entry_t **ents; /* the process's entries: inl or an allocation */
    size_t n, cap;
    grove_resource_t res; /* ends the record with its process */
    grove_registry_t *reg;
    atomic_int state; /* owner_state_t: who may still use reg */
    entry_t *inl[OWNER_INLINE];
} owner_t;

/* An owner's exit and grove_registry_free settle which of them deals with
 * the owner's entries with one compare-and-swap from ATTACHED: the exit
 * takes the owner out (EXITING) or finds the registry gone (DETACHED). */
typedef enum {
    OWNER_ATTACHED,
    OWNER_EXITING,
    OWNER_DETACHED
} owner_state_t;

/* An owner table slot: the pid beside the record, so a probe reads no
 * record but the one it finds. id 0: empty. */
typedef struct oslot {
    uint64_t id;
    owner_t *ow;
} oslot_t;

typedef struct ostripe {
    _Alignas(64) grove__spin_t lock;
    oslot_t *slots; /* open addressing, linear probing, half full at most */
    size_t cap, count;
    size_t exiting; /* exits out of slots, still unlinking their entries */
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

/* A lock-free reader re-reads its stripe's count after reading entries;
 * the writer's release fence after bumping the count and the reader's
 * acquire fence before re-reading it order the two. ThreadSanitizer does
 * not model fences, so under it every store is a release and every load
 * an acquire instead, which orders the same accesses. */
#if defined(GROVE_TSAN) || defined(__SANITIZE_THREAD__)
#define LOAD(x) atomic_load_explicit(&(x), memory_order_acquire)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_release)
#define READ_FENCE() ((void)0)
#define WRITE_FENCE() ((void)0)
#else
#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define READ_FENCE() atomic_thread_fence(memory_order_acquire)
#define WRITE_FENCE() atomic_thread_fence(memory_order_release)
#endif

static stripe_t *stripe_of(grove_registry_t *r, uint64_t h)
{
    return &r->stripes[h & r->mask];
}

static size_t bucket_of(const table_t *t, uint64_t h)
{
    return (size_t)(h >> 16) & (t->n - 1);
}

static const unsigned char *key_of(const entry_t *e)
{
    return LOAD(e->len) > INLINE_KEY
               ? (const unsigned char *)(uintptr_t)e->kw[0]
               : (const unsigned char *)e->kw;
}

/* Chains are relinked between write_begin and write_end, under the
 * stripe's lock. A reader that read anything stored after write_begin
 * sees the count changed (the fences pair with the reader's). */
static void write_begin(stripe_t *s)
{
    STORE(s->seq, LOAD(s->seq) + 1);
    WRITE_FENCE();
}

static void write_end(stripe_t *s)
{
    atomic_store_explicit(&s->seq, LOAD(s->seq) + 1, memory_order_release);
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

static table_t *table_new(size_t n)
{
    table_t *t = grove__zalloc(1, sizeof *t + n * sizeof(t->b[0]));
    if (t)
        t->n = n;
    return t;
}

static int alloc_tables(grove_registry_t *r, unsigned n)
{
    r->mask = n - 1;
    r->stripes = grove__aligned_alloc(64, n * sizeof *r->stripes);
    r->owners = grove__aligned_alloc(64, n * sizeof *r->owners);
    if (r->stripes)
        memset(r->stripes, 0, n * sizeof *r->stripes);
    if (r->owners)
        memset(r->owners, 0, n * sizeof *r->owners);
    if (!r->stripes || !r->owners)
        return GROVE_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        table_t *t = table_new(16);
        atomic_init(&r->stripes[i].tab, t);
        r->owners[i].cap = 16;
        r->owners[i].slots = grove__zalloc(16, sizeof(oslot_t));
        if (!t || !r->owners[i].slots)
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

static void stripe_free(stripe_t *s)
{
    table_t *t = LOAD(s->tab);
    if (t)
        for (size_t b = 0; b < t->n; b++)
            for (entry_t *e = LOAD(t->b[b]); e; e = LOAD(e->next))
                if (LOAD(e->len) > INLINE_KEY)
                    free((void *)(uintptr_t)e->kw[0]);
    while (t) {
        table_t *old = t->retired;
        free(t);
        t = old;
    }
    for (entry_t *slab = s->slabs; slab;) {
        entry_t *n = LOAD(slab->next);
        free(slab);
        slab = n;
    }
}

/* Detaches os's owners from the registry, whose exits then free only
 * their records; false while an exit is still using the registry. A
 * detached owner's slot keeps its pid, so that probes for the others
 * still run past it, and loses the record, which its exit frees. */
static bool ostripe_detach(ostripe_t *os)
{
    grove__spin_lock(&os->lock);
    bool busy = os->exiting > 0;
    for (size_t k = 0; os->slots && k < os->cap; k++) {
        owner_t *ow = os->slots[k].ow;
        int st = OWNER_ATTACHED;
        if (!ow)
            continue;
        if (atomic_compare_exchange_strong(&ow->state, &st, OWNER_DETACHED))
            os->slots[k].ow = NULL;
        else
            busy = true; /* exiting: about to take itself out */
    }
    grove__spin_unlock(&os->lock);
    return !busy;
}

GROVE_EXPORT int grove_registry_free(grove_registry_t *r)
{
    if (!r)
        return GROVE_EINVAL;
    if (r->name)
        unpublish(r);
    /* Owners may be exiting on other schedulers meanwhile: each stripe is
     * let go only once none of its exits is using the registry. */
    for (unsigned i = 0; r->owners && i <= r->mask; i++) {
        while (!ostripe_detach(&r->owners[i])) {
            if (grove_self().id)
                grove_yield();
            else
                sched_yield();
        }
        free(r->owners[i].slots);
    }
    for (unsigned i = 0; r->stripes && i <= r->mask; i++)
        stripe_free(&r->stripes[i]);
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

static uint64_t mix_pid(grove_pid_t pid)
{
    uint64_t h = pid.id * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 31);
}

static ostripe_t *ostripe_of(grove_registry_t *r, grove_pid_t pid)
{
    return &r->owners[mix_pid(pid) & r->mask];
}

static size_t oslot_home(const ostripe_t *os, uint64_t id)
{
    return (size_t)(mix_pid((grove_pid_t){id}) >> 24) & (os->cap - 1);
}

/* The slot of pid's owner in os, or the empty slot where it would go.
 * Under os->lock. */
static oslot_t *oslot_find(ostripe_t *os, grove_pid_t pid)
{
    size_t i = oslot_home(os, pid.id);
    while (os->slots[i].id && os->slots[i].id != pid.id)
        i = (i + 1) & (os->cap - 1);
    return &os->slots[i];
}

static owner_t *owner_find(ostripe_t *os, grove_pid_t pid)
{
    return oslot_find(os, pid)->ow;
}

static void ostripe_grow(ostripe_t *os)
{
    size_t cap = os->cap * 2;
    oslot_t *slots = grove__zalloc(cap, sizeof *slots);
    if (!slots)
        return; /* stays fuller */
    oslot_t *old = os->slots;
    size_t oldcap = os->cap;
    os->slots = slots;
    os->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id)
            *oslot_find(os, (grove_pid_t){old[i].id}) = old[i];
    free(old);
}

/* Adds ow, whose pid has no slot yet; false when out of memory. Under
 * os->lock. */
static bool owner_link(ostripe_t *os, owner_t *ow)
{
    if ((os->count + 1) * 2 > os->cap)
        ostripe_grow(os);
    if (os->count + 2 > os->cap)
        return false; /* a probe needs an empty slot to stop at */
    *oslot_find(os, ow->pid) = (oslot_t){ow->pid.id, ow};
    os->count++;
    return true;
}

/* Drops ow from its stripe's table (linear probing: the entries after it
 * in its run move back). Under os->lock. */
static void owner_unlink(ostripe_t *os, owner_t *ow)
{
    oslot_t *slot = oslot_find(os, ow->pid);
    if (slot->ow != ow)
        return;
    size_t mask = os->cap - 1, i = (size_t)(slot - os->slots);
    for (size_t j = (i + 1) & mask; os->slots[j].id; j = (j + 1) & mask) {
        size_t home = oslot_home(os, os->slots[j].id);
        /* j's entry may fill the hole at i unless its home lies in
         * (i, j], cyclically. */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        os->slots[i] = os->slots[j];
        i = j;
    }
    os->slots[i] = (oslot_t){0, NULL};
    os->count--;
}

static void owner_free(owner_t *ow)
{
    if (ow->ents != ow->inl)
        free(ow->ents);
    free(ow);
}

/* Takes e out of its stripe and onto the stripe's free list. */
static void unlink_entry(grove_registry_t *r, entry_t *e)
{
    uint64_t h = LOAD(e->hash);
    stripe_t *s = stripe_of(r, h);
    void *long_key = NULL;
    grove__spin_lock(&s->lock);
    table_t *t = LOAD(s->tab);
    for (_Atomic(entry_t *) *pp = &t->b[bucket_of(t, h)];;) {
        entry_t *it = LOAD(*pp);
        if (!it)
            break;
        if (it == e) {
            write_begin(s);
            STORE(*pp, LOAD(e->next));
            write_end(s);
            STORE(s->count, LOAD(s->count) - 1);
            if (LOAD(e->len) > INLINE_KEY)
                long_key = (void *)(uintptr_t)e->kw[0];
            STORE(e->next, s->free);
            s->free = e;
            break;
        }
        pp = &it->next;
    }
    grove__spin_unlock(&s->lock);
    free(long_key);
}

/* The owner's exit: runs on its scheduler after it is gone, before its
 * links and monitors fire. */
static void owner_exit(void *arg)
{
    owner_t *ow = arg;
    int st = OWNER_ATTACHED;
    if (atomic_compare_exchange_strong(&ow->state, &st, OWNER_EXITING)) {
        /* grove_registry_free waits for this until the stripe's count of
         * exits is back to zero. */
        grove_registry_t *r = ow->reg;
        ostripe_t *os = ostripe_of(r, ow->pid);
        grove__spin_lock(&os->lock);
        owner_unlink(os, ow);
        os->exiting++;
        grove__spin_unlock(&os->lock);
        for (size_t i = 0; i < ow->n; i++)
            unlink_entry(r, ow->ents[i]);
        grove__spin_lock(&os->lock);
        os->exiting--;
        grove__spin_unlock(&os->lock);
    }
    owner_free(ow);
}

/* Lists e under the caller's owner record, made on first use. 0,
 * GROVE_ENOMEM; *created when the record is new (its resource is still to
 * be attached). */
static int owner_add(grove_registry_t *r, grove_pid_t self, entry_t *e,
                     owner_t **out, bool *created)
{
    ostripe_t *os = ostripe_of(r, self);
    int rc = 0;
    *created = false;
    grove__spin_lock(&os->lock);
    owner_t *ow = owner_find(os, self);
    if (!ow) {
        ow = grove__malloc(sizeof *ow);
        if (!ow) {
            rc = GROVE_ENOMEM;
            goto out;
        }
        *ow = (owner_t){.pid = self, .reg = r, .cap = OWNER_INLINE};
        atomic_init(&ow->state, OWNER_ATTACHED);
        ow->ents = ow->inl;
        if (!owner_link(os, ow)) {
            free(ow);
            rc = GROVE_ENOMEM;
            goto out;
        }
        *created = true;
    }
    if (ow->n == ow->cap) {
        size_t cap = ow->cap * 2;
        entry_t **v = grove__malloc(cap * sizeof *v);
        if (!v) {
            rc = GROVE_ENOMEM;
            goto out;
        }
        memcpy(v, ow->ents, ow->n * sizeof *v);
        if (ow->ents != ow->inl)
            free(ow->ents);
        ow->ents = v;
        ow->cap = cap;
    }
    ow->ents[ow->n++] = e;
    *out = ow;
out:
    grove__spin_unlock(&os->lock);
    return rc;
}

/* ---- register and unregister -------------------------------------------------- */

/* Under the stripe's lock (or on an entry no reader can reach). */
static bool key_eq(const entry_t *e, uint64_t h, const void *key, size_t len)
{
    return LOAD(e->hash) == h && LOAD(e->len) == len &&
           (len == 0 || memcmp(key_of(e), key, len) == 0);
}

static void stripe_grow(stripe_t *s)
{
    table_t *old = LOAD(s->tab);
    table_t *t = table_new(old->n * 2);
    if (!t)
        return;
    write_begin(s);
    for (size_t i = 0; i < old->n; i++)
        for (entry_t *e = LOAD(old->b[i]); e;) {
            entry_t *n = LOAD(e->next);
            size_t k = bucket_of(t, LOAD(e->hash));
            STORE(e->next, LOAD(t->b[k]));
            STORE(t->b[k], e);
            e = n;
        }
    t->retired = old; /* a reader may still be in it */
    atomic_store_explicit(&s->tab, t, memory_order_release);
    write_end(s);
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

/* Entries in a stripe's next slab when it has nslabs. */
static size_t slab_entries(size_t nslabs)
{
    return (size_t)SLAB_MIN
           << (nslabs < SLAB_DOUBLINGS ? nslabs : SLAB_DOUBLINGS);
}

static entry_t *slab_alloc(size_t n)
{
    _Static_assert(sizeof(entry_t) == 64, "an entry is one cache line");
    size_t bytes = n * sizeof(entry_t);
    entry_t *slab = grove__aligned_alloc(bytes >= SLAB_HUGE ? SLAB_HUGE : 64,
                                         bytes);
    if (!slab)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= SLAB_HUGE)
        (void)madvise(slab, bytes, MADV_HUGEPAGE); /* a hint only */
#endif
    atomic_init(&slab->len, n);
    atomic_init(&slab->next, NULL);
    return slab;
}

/* Fills a free entry. Stale readers may still be reading it: every store
 * is atomic. */
static void entry_fill(entry_t *e, uint64_t h, grove_pid_t pid,
                       uint64_t value, const void *key, size_t len,
                       unsigned char *long_key)
{
    uint64_t kw[KEY_WORDS] = {0};
    if (long_key)
        kw[0] = (uint64_t)(uintptr_t)long_key;
    else if (len)
        memcpy(kw, key, len);
    STORE(e->hash, h);
    STORE(e->pid, pid.id);
    STORE(e->value, value);
    STORE(e->len, len);
    for (int i = 0; i < KEY_WORDS; i++)
        __atomic_store_n(&e->kw[i], kw[i], __ATOMIC_RELAXED);
}

/* Inserts the caller's entry unless a live holder has the key (unique).
 * 0 with *out; GROVE_EEXIST with *holder; GROVE_EAGAIN when a dead holder
 * is still being removed; GROVE_ENOMEM. *spare is a slab allocated
 * outside the lock when the stripe had no entry left; the caller frees it
 * if it is left. */
static int insert(grove_registry_t *r, uint64_t h, const void *key,
                  size_t len, unsigned char *long_key, grove_pid_t self,
                  uint64_t value, grove_pid_t *holder, entry_t **spare,
                  entry_t **out)
{
    stripe_t *s = stripe_of(r, h);
    grove__spin_lock(&s->lock);
    table_t *t = LOAD(s->tab);
    if (r->keys == GROVE_REG_UNIQUE) {
        for (entry_t *it = LOAD(t->b[bucket_of(t, h)]); it;
             it = LOAD(it->next)) {
            if (!key_eq(it, h, key, len))
                continue;
            grove_pid_t hp = {LOAD(it->pid)};
            grove__spin_unlock(&s->lock);
            if (holder)
                *holder = hp;
            return grove_is_alive(hp) ? GROVE_EEXIST : GROVE_EAGAIN;
        }
    }
    entry_t *e = s->free;
    if (e) {
        s->free = LOAD(e->next);
    } else {
        if (!s->left && *spare) {
            atomic_store_explicit(&(*spare)->next, s->slabs,
                                  memory_order_relaxed);
            s->slabs = *spare;
            s->bump = *spare + 1;
            s->left = LOAD((*spare)->len) - 1;
            s->nslabs++;
            *spare = NULL;
        }
        if (!s->left) {
            size_t want = slab_entries(s->nslabs);
            grove__spin_unlock(&s->lock);
            *spare = slab_alloc(want);
            return *spare ? GROVE_EAGAIN : GROVE_ENOMEM;
        }
        e = s->bump++;
        s->left--;
        atomic_init(&e->next, NULL); /* never seen by a reader yet */
    }
    entry_fill(e, h, self, value, key, len, long_key);
    size_t count = LOAD(s->count) + 1;
    STORE(s->count, count);
    if (count > t->n) {
        stripe_grow(s);
        t = LOAD(s->tab);
    }
    _Atomic(entry_t *) *head = &t->b[bucket_of(t, h)];
    STORE(e->next, LOAD(*head));
    atomic_store_explicit(head, e, memory_order_release);
    grove__spin_unlock(&s->lock);
    *out = e;
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
    unsigned char *long_key = NULL;
    if (len > INLINE_KEY) {
        if (!(long_key = grove__malloc(len)))
            return GROVE_ENOMEM;
        memcpy(long_key, key, len);
    }
    uint64_t h = grove__hash_bytes(key, len);
    entry_t *spare = NULL, *e = NULL;
    int rc;
    for (;;) {
        bool had_spare = spare != NULL;
        rc = insert(r, h, key, len, long_key, self, value, holder, &spare,
                    &e);
        if (rc != GROVE_EAGAIN)
            break;
        /* A dead holder's entry goes within its exit path: wait it out.
         * (Or an entry was just allocated: try again at once.) */
        if (had_spare || !spare)
            grove_yield();
    }
    free(spare);
    if (rc < 0) {
        free(long_key);
        return rc;
    }
    owner_t *ow = NULL;
    bool created = false;
    rc = owner_add(r, self, e, &ow, &created);
    if (rc == 0 && created &&
        grove__resource_embed(&ow->res, owner_exit, ow) < 0) {
        ostripe_t *os = ostripe_of(r, self);
        grove__spin_lock(&os->lock);
        owner_unlink(os, ow);
        grove__spin_unlock(&os->lock);
        owner_free(ow);
        rc = GROVE_ENOMEM;
    }
    if (rc < 0) {
        unlink_entry(r, e); /* frees long_key */
        return rc;
    }
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
    uint64_t h = grove__hash_bytes(key, len);
    ostripe_t *os = ostripe_of(r, self);
    grove__spin_lock(&os->lock);
    owner_t *ow = owner_find(os, self);
    if (!ow) {
        grove__spin_unlock(&os->lock);
        return 0;
    }
    /* The matching entries move to the end of the list, past ow->n: only
     * this process changes its record, so they stay there for it. */
    size_t keep = 0, n = ow->n;
    for (size_t i = 0; i < n; i++) {
        entry_t *e = ow->ents[i];
        if (key_eq(e, h, key, len))
            continue;
        ow->ents[i] = ow->ents[keep];
        ow->ents[keep++] = e;
    }
    ow->n = keep;
    bool disown = keep == 0;
    if (disown)
        owner_unlink(os, ow); /* Elixir unlinks it */
    grove__spin_unlock(&os->lock);
    for (size_t i = keep; i < n; i++)
        unlink_entry(r, ow->ents[i]);
    if (disown) {
        grove__resource_unembed(&ow->res);
        owner_free(ow);
    }
    if (keep < n)
        notify(r, GROVE_REG_LISTEN_UNREGISTER, self, 0, key, len);
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
    uint64_t h = grove__hash_bytes(key, len);
    stripe_t *s = stripe_of(r, h);
    int rc = GROVE_ENOTFOUND;
    grove__spin_lock(&s->lock);
    table_t *t = LOAD(s->tab);
    for (entry_t *e = LOAD(t->b[bucket_of(t, h)]); e; e = LOAD(e->next))
        if (key_eq(e, h, key, len) && LOAD(e->pid) == self.id) {
            if (old)
                *old = LOAD(e->value);
            STORE(e->value, value); /* readers see the old or the new */
            rc = 0;
            break;
        }
    grove__spin_unlock(&s->lock);
    return rc;
}

/* ---- reading -------------------------------------------------------------------- */

/* The lock-free lookup of a key of up to INLINE_KEY bytes, packed in kw;
 * a unique key ends the walk at its entry, sparing the loads of the rest
 * of the chain. false when writers kept moving the chain: the caller
 * locks. */
static bool lookup_fast(stripe_t *s, uint64_t h, const uint64_t *kw,
                        size_t len, bool unique, grove_reg_entry_t *out,
                        size_t max, size_t *n)
{
    size_t nw = (len + 7) / 8;
    for (int tries = 0; tries < READ_TRIES; tries++) {
        unsigned seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (seq & 1) {
            GROVE__CPU_RELAX();
            continue;
        }
        table_t *t = atomic_load_explicit(&s->tab, memory_order_acquire);
        entry_t *e = atomic_load_explicit(&t->b[bucket_of(t, h)],
                                          memory_order_acquire);
        size_t k = 0;
        unsigned steps = 0;
        bool stale = false;
        while (e) {
            if (LOAD(e->hash) == h && LOAD(e->len) == len) {
                bool eq = true;
                for (size_t i = 0; i < nw && eq; i++)
                    eq = __atomic_load_n(&e->kw[i], __ATOMIC_RELAXED) == kw[i];
                if (eq) {
                    if (k < max)
                        out[k] = (grove_reg_entry_t){{LOAD(e->pid)},
                                                     LOAD(e->value)};
                    k++;
                    if (unique)
                        break;
                }
            }
            e = atomic_load_explicit(&e->next, memory_order_acquire);
            /* A stale walk may run through entries being reused. */
            if ((++steps & 63) == 0 &&
                atomic_load_explicit(&s->seq, memory_order_acquire) != seq) {
                stale = true;
                break;
            }
        }
        READ_FENCE();
        if (!stale && LOAD(s->seq) == seq) {
            *n = k;
            return true;
        }
    }
    return false;
}

GROVE_EXPORT int grove_registry_lookup(grove_registry_t *r, const void *key,
                                       size_t len, grove_reg_entry_t *out,
                                       size_t max, size_t *n)
{
    if (!r || (!key && len) || (!out && max) || !n)
        return GROVE_EINVAL;
    uint64_t h = grove__hash_bytes(key, len);
    stripe_t *s = stripe_of(r, h);
    bool unique = r->keys == GROVE_REG_UNIQUE;
    if (len <= INLINE_KEY) {
        uint64_t kw[KEY_WORDS] = {0};
        if (len)
            memcpy(kw, key, len);
        if (lookup_fast(s, h, kw, len, unique, out, max, n))
            return 0;
    }
    size_t k = 0;
    grove__spin_lock(&s->lock);
    table_t *t = LOAD(s->tab);
    for (entry_t *e = LOAD(t->b[bucket_of(t, h)]); e; e = LOAD(e->next))
        if (key_eq(e, h, key, len)) {
            if (k < max)
                out[k] = (grove_reg_entry_t){{LOAD(e->pid)}, LOAD(e->value)};
            k++;
            if (unique)
                break;
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

/* Entries copied under a lock for callbacks run after it: a callback may
 * block, or call into the registry, neither of which it could do while a
 * spin lock is held. Records of a snap_rec_t and the key's bytes, padded
 * to 8. */
typedef struct snap {
    unsigned char *p;
    size_t len, cap;
    bool failed; /* out of memory: the copy is short */
} snap_t;

typedef struct snap_rec {
    uint64_t pid, value;
    size_t len;
} snap_rec_t;

static size_t snap_rec_size(size_t len)
{
    return sizeof(snap_rec_t) + ((len + 7) & ~(size_t)7);
}

static void snap_add(snap_t *sn, const void *key, size_t len, uint64_t pid,
                     uint64_t value)
{
    size_t need = snap_rec_size(len);
    if (sn->failed)
        return;
    if (sn->len + need > sn->cap) {
        size_t cap = sn->cap ? sn->cap * 2 : 1024;
        while (cap < sn->len + need)
            cap *= 2;
        unsigned char *p = grove__realloc(sn->p, cap);
        if (!p) {
            sn->failed = true;
            return;
        }
        sn->p = p;
        sn->cap = cap;
    }
    snap_rec_t *rec = (snap_rec_t *)(void *)(sn->p + sn->len);
    *rec = (snap_rec_t){pid, value, len};
    if (len)
        memcpy(rec + 1, key, len);
    sn->len += need;
}

/* The record at *off, moving *off past it; NULL at the end. */
static const snap_rec_t *snap_next(const snap_t *sn, size_t *off)
{
    if (*off >= sn->len)
        return NULL;
    const snap_rec_t *rec = (const snap_rec_t *)(const void *)(sn->p + *off);
    *off += snap_rec_size(rec->len);
    return rec;
}

GROVE_EXPORT int grove_registry_keys(grove_registry_t *r, grove_pid_t pid,
                                     void (*fn)(const void *key, size_t len,
                                                void *arg),
                                     void *arg)
{
    if (!r || !fn)
        return GROVE_EINVAL;
    ostripe_t *os = ostripe_of(r, pid);
    snap_t sn = {0};
    grove__spin_lock(&os->lock);
    owner_t *ow = owner_find(os, pid);
    for (size_t i = 0; ow && i < ow->n; i++)
        snap_add(&sn, key_of(ow->ents[i]), LOAD(ow->ents[i]->len), pid.id, 0);
    grove__spin_unlock(&os->lock);
    int n = 0;
    const snap_rec_t *rec;
    for (size_t off = 0; !sn.failed && (rec = snap_next(&sn, &off)); n++)
        fn(rec + 1, rec->len, arg);
    free(sn.p);
    return sn.failed ? GROVE_ENOMEM : n;
}

GROVE_EXPORT size_t grove_registry_count(grove_registry_t *r)
{
    size_t n = 0;
    for (unsigned i = 0; r && i <= r->mask; i++)
        n += LOAD(r->stripes[i].count);
    return n;
}

/* Every entry under key, into small (of n_small) or, when they are more,
 * into an allocation at *buf that the caller frees. Returns 0 with *n,
 * GROVE_ENOMEM or GROVE_EINVAL. */
static int lookup_all(grove_registry_t *r, const void *key, size_t len,
                      grove_reg_entry_t *small, size_t n_small,
                      grove_reg_entry_t **buf, size_t *n)
{
    size_t cap = n_small;
    *buf = small;
    for (;;) {
        int rc = grove_registry_lookup(r, key, len, *buf, cap, n);
        if (rc < 0 || *n <= cap)
            return rc;
        if (*buf != small)
            free(*buf);
        cap = *n + 16;
        *buf = grove__malloc(cap * sizeof **buf);
        if (!*buf)
            return GROVE_ENOMEM;
    }
}

GROVE_EXPORT int grove_registry_match(grove_registry_t *r, const void *key,
                                      size_t len,
                                      bool (*pred)(uint64_t value, void *arg),
                                      void *arg, grove_reg_entry_t *out,
                                      size_t max)
{
    if (!r || (!key && len) || (!out && max))
        return GROVE_EINVAL;
    grove_reg_entry_t small[16], *buf;
    size_t n = 0;
    int rc = lookup_all(r, key, len, small, 16, &buf, &n);
    if (rc < 0)
        return rc;
    int k = 0;
    for (size_t i = 0; i < n; i++) /* pred runs outside every lock */
        if (!pred || pred(buf[i].value, arg)) {
            if ((size_t)k < max)
                out[k] = buf[i];
            k++;
        }
    if (buf != small)
        free(buf);
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
    snap_t sn = {0};
    for (unsigned i = 0; i <= r->mask && !sn.failed; i++) {
        stripe_t *s = &r->stripes[i];
        sn.len = 0;
        grove__spin_lock(&s->lock);
        table_t *t = LOAD(s->tab);
        for (size_t b = 0; b < t->n; b++)
            for (entry_t *e = LOAD(t->b[b]); e; e = LOAD(e->next))
                snap_add(&sn, key_of(e), LOAD(e->len), LOAD(e->pid),
                         LOAD(e->value));
        grove__spin_unlock(&s->lock);
        const snap_rec_t *rec;
        for (size_t off = 0; !sn.failed && (rec = snap_next(&sn, &off));) {
            grove_pid_t pid = {rec->pid};
            if (!pred || pred(rec + 1, rec->len, pid, rec->value, arg)) {
                fn(rec + 1, rec->len, pid, rec->value, arg);
                n++;
            }
        }
    }
    free(sn.p);
    return sn.failed ? GROVE_ENOMEM : n;
}

GROVE_EXPORT int grove_registry_dispatch(grove_registry_t *r,
                                         const void *key, size_t len,
                                         void (*fn)(const grove_reg_entry_t *e,
                                                    size_t n, void *arg),
                                         void *arg)
{
    if (!r || !fn || (!key && len))
        return GROVE_EINVAL;
    grove_reg_entry_t small[16], *buf;
    size_t n = 0;
    int rc = lookup_all(r, key, len, small, 16, &buf, &n);
    if (rc < 0)
        return rc;
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
