/* Registered names: a string-keyed table under a spinlock (every holder
 * of it runs a few dozen instructions and never blocks, so readers gain
 * nothing from a read-write lock, whose bookkeeping costs more than the
 * lookup). A
 * process's name is released by its exit path before its links and
 * monitors are told, so a watcher that hears of the death finds the name
 * free. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "base/failpoint.h"

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    grove_pid_t pid;
    grove__proc_t *proc;
    char name[]; /* sized to the name */
} entry_t;

static struct {
    grove__spin_t lock;
    entry_t **buckets;
    size_t nbuckets;
    size_t count;
} N;

/* The length of a valid name (1 to GROVE_NAME_MAX - 1 bytes), else 0. */
static size_t name_len(const char *name)
{
    size_t len = name ? strnlen(name, GROVE_NAME_MAX) : 0;
    return len < GROVE_NAME_MAX ? len : 0;
}

int grove__names_init(void)
{
    grove__spin_lock(&N.lock);
    N.nbuckets = 256;
    N.buckets = grove__calloc(N.nbuckets, sizeof *N.buckets);
    N.count = 0;
    if (!N.buckets)
        N.nbuckets = 0;
    grove__spin_unlock(&N.lock);
    return N.buckets ? 0 : GROVE_ENOMEM;
}

void grove__names_fini(void)
{
    grove__spin_lock(&N.lock);
    for (size_t i = 0; i < N.nbuckets; i++) {
        entry_t *e = N.buckets[i];
        while (e) {
            entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    free(N.buckets);
    N.buckets = NULL;
    N.nbuckets = N.count = 0;
    grove__spin_unlock(&N.lock);
}

static entry_t **find(const char *name, uint64_t h)
{
    entry_t **pp = &N.buckets[h & (N.nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && strcmp((*pp)->name, name) == 0)
            return pp;
    return pp;
}

static void grow(void)
{
    size_t nb = N.nbuckets * 2;
    entry_t **b = grove__zalloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < N.nbuckets; i++) {
        entry_t *e = N.buckets[i];
        while (e) {
            entry_t *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(N.buckets);
    N.buckets = b;
    N.nbuckets = nb;
}

bool grove__name_valid(const char *name)
{
    return name_len(name) != 0;
}

/* Claims name for p, which is being created or is alive. */
int grove__name_claim(grove__proc_t *p, const char *name)
{
    size_t len = strlen(name);
    uint64_t h = grove__hash_bytes(name, len);
    int rc = 0;
    grove__spin_lock(&N.lock);
    entry_t **pp = find(name, h);
    int st = atomic_load(&p->state);
    if (*pp)
        rc = GROVE_EEXIST;
    else if (p->has_name)
        rc = GROVE_EALREADY;
    else if (st == PS_EXITING || st == PS_FREE)
        rc = GROVE_ENOPROC;
    else {
        entry_t *e = grove__malloc(offsetof(entry_t, name) + len + 1);
        if (!e) {
            rc = GROVE_ENOMEM;
        } else {
            e->next = NULL;
            e->hash = h;
            e->pid = p->pid;
            e->proc = p;
            memcpy(e->name, name, len + 1);
            *pp = e;
            p->has_name = true;
            p->name = e->name;
            if (++N.count > N.nbuckets)
                grow();
        }
    }
    grove__spin_unlock(&N.lock);
    return rc;
}

/* Takes the entry at *pp out of the table and its process's name away;
 * called with the lock held. */
static void drop(entry_t **pp)
{
    entry_t *e = *pp;
    *pp = e->next;
    e->proc->has_name = false;
    e->proc->name = NULL;
    free(e);
    N.count--;
}

void grove__name_release(grove__proc_t *p)
{
    grove__spin_lock(&N.lock);
    if (p->has_name) {
        /* p->name is its entry's: found by address, not compared. */
        entry_t *e = (entry_t *)(void *)(p->name - offsetof(entry_t, name));
        entry_t **pp = &N.buckets[e->hash & (N.nbuckets - 1)];
        while (*pp != e) /* there: has_name holds only while it is */
            pp = &(*pp)->next;
        drop(pp);
    }
    grove__spin_unlock(&N.lock);
}

void grove__unregister_self(void)
{
    grove__proc_t *p = grove__current();
    if (p)
        grove__name_release(p);
}

void grove__names_info(grove__proc_t *p, char *buf, size_t size)
{
    grove__spin_lock(&N.lock);
    snprintf(buf, size, "%s", p->has_name && p->name ? p->name : "");
    grove__spin_unlock(&N.lock);
}

GROVE_EXPORT int grove_register(const char *name, grove_pid_t pid)
{
    if (!grove__name_valid(name))
        return GROVE_EINVAL;
    grove__proc_t *p;
    int rc = grove__proc_lookup(pid, &p);
    if (rc < 0)
        return rc;
    rc = grove__name_claim(p, name);
    /* The slot may have been reused between lookup and claim. */
    if (rc == 0 && atomic_load(&p->gen) != grove_pid_generation(pid)) {
        grove__name_release(p);
        return GROVE_ENOPROC;
    }
    return rc;
}

GROVE_EXPORT int grove_unregister(const char *name)
{
    size_t len = name_len(name);
    if (!len)
        return GROVE_EINVAL;
    if (!atomic_load(&grove__rt.started))
        return GROVE_ENOTFOUND;
    int rc = GROVE_ENOTFOUND;
    grove__spin_lock(&N.lock);
    entry_t **pp = find(name, grove__hash_bytes(name, len));
    if (*pp) {
        drop(pp);
        rc = 0;
    }
    grove__spin_unlock(&N.lock);
    return rc;
}

GROVE_EXPORT int grove_whereis(const char *name, grove_pid_t *pid)
{
    size_t len = name_len(name);
    if (!len || !pid)
        return GROVE_EINVAL;
    if (!atomic_load(&grove__rt.started))
        return GROVE_ENOTFOUND;
    int rc = GROVE_ENOTFOUND;
    grove__spin_lock(&N.lock);
    entry_t **pp = find(name, grove__hash_bytes(name, len));
    if (*pp) {
        *pid = (*pp)->pid;
        rc = 0;
    }
    grove__spin_unlock(&N.lock);
    return rc;
}
