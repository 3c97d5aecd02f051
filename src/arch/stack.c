/* Process stacks: mmap'd with a PROT_NONE guard page below, pooled.
 *
 * Default-size stacks are carved out of large regions. Where the kernel
 * has lightweight guard pages (MADV_GUARD_INSTALL, Linux 6.13), a region
 * is one read-write mapping with a guard marker below each stack: a
 * million stacks cost one kernel mapping, and parking an idle stack is
 * copying its live bytes aside and MADV_DONTNEED. Elsewhere a region is
 * reserved PROT_NONE and each stack in use is made read-write with
 * mprotect; a parked stack goes back to PROT_NONE with its pages
 * discarded, so it merges with its neighbours' guard pages, which keeps
 * idle processes from counting against vm.max_map_count (only running or
 * recently active stacks split off a guard and a read-write range).
 */
#include "arch/arch.h"
#include "base/failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(GROVE_ASAN) || defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define REGION_STACKS 512   /* stacks per reserved region */
#define CACHE_MAX 256       /* per-thread cache */
#define POOL_MAX 16384      /* global pool of ready stacks */
/* Stacks moved between a thread's cache and the pool under one lock: a
 * burst of spawns or exits (a supervisor starting or stopping thousands of
 * children, a tree of spawns) takes the pool's lock once per batch, not
 * once per stack, on every scheduler at once. */
#define CACHE_BATCH 64
_Static_assert(CACHE_BATCH <= GROVE__PARK_BATCH, "a batch fits a drop call");
#define RED_ZONE 128        /* bytes below sp the ABI lets leaf code use */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

typedef struct region {
    struct region *next;
    char *base;
    size_t len;
    unsigned carved;  /* slots handed out so far */
    unsigned guarded; /* slots whose guard the region's set-up installed */
    grove__stack_t descs[REGION_STACKS];
} region_t;

static struct {
    pthread_mutex_t lock;
    size_t page;
    size_t default_size; /* usable bytes of a default stack */
    size_t slot;         /* guard + default_size */
    region_t *regions;
    grove__stack_t *pool; /* ready (read-write) default stacks */
    unsigned pool_len;
    grove__stack_t *fresh; /* carved slots never made read-write, or
                              parked slots returned: need mprotect */
    uint64_t budget;       /* read-write stacks the mapping limit allows */
    bool light;            /* lightweight guard pages are available */
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_uint_fast64_t n_mapped, n_parked;

size_t grove__page_size(void)
{
    if (!S.page)
        S.page = (size_t)sysconf(_SC_PAGESIZE);
    return S.page;
}

void grove__stacks_set_budget(uint64_t stacks) { S.budget = stacks; }

/* Whether the kernel installs guard markers inside a mapping. */
static int pidfd_get(void);
static void pidfd_close(void);

static bool probe_light_guards(void)
{
    size_t pg = grove__page_size();
    char *m = grove__mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return false;
    bool ok = grove__madvise(m, pg, MADV_GUARD_INSTALL) == 0;
    munmap(m, 2 * pg);
    return ok;
}

int grove__stacks_init(size_t default_size)
{
    size_t pg = grove__page_size();
    S.default_size = (default_size + pg - 1) & ~(pg - 1);
    S.slot = S.default_size + pg;
    const char *force = getenv("GROVE_STACK_GUARDS");
    S.light = !(force && strcmp(force, "mprotect") == 0) &&
              probe_light_guards();
    /* Opened now, with the runtime, not in the middle of a run. */
    if (S.light)
        pidfd_get();
    return 0;
}

bool grove__stacks_light_guards(void) { return S.light; }

void grove__stacks_fini(void)
{
    pidfd_close();
    pthread_mutex_lock(&S.lock);
    region_t *r = S.regions;
    while (r) {
        region_t *next = r->next;
        for (unsigned i = 0; i < r->carved; i++)
            free(r->descs[i].saved);
        munmap(r->base, r->len);
        free(r);
        r = next;
    }
    S.regions = NULL;
    S.pool = S.fresh = NULL;
    S.pool_len = 0;
    pthread_mutex_unlock(&S.lock);
    atomic_store(&n_mapped, 0);
    atomic_store(&n_parked, 0);
}

static long self_madvise(const struct iovec *iov, size_t n, int advice);

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* A new region (lightweight guards): every slot's guard marker in one
 * call instead of one per stack, and the top page of every stack, where
 * a new process's first frames go, populated at once rather than by a
 * page fault per spawn. Best effort: slots it did not guard get their
 * guard as they are carved. Called with the lock held. */
static void region_prepare(region_t *r)
{
    static struct iovec iov[REGION_STACKS]; /* under S.lock */
    for (unsigned i = 0; i < REGION_STACKS; i++) {
        iov[i].iov_base = r->base + (size_t)i * S.slot;
        iov[i].iov_len = S.page;
    }
    long done = self_madvise(iov, REGION_STACKS, MADV_GUARD_INSTALL);
    if (done <= 0)
        return;
    r->guarded = (unsigned)((size_t)done / S.page);
    if (r->guarded > REGION_STACKS)
        r->guarded = REGION_STACKS;
    for (unsigned i = 0; i < r->guarded; i++)
        iov[i].iov_base = r->base + (size_t)(i + 1) * S.slot - S.page;
    (void)self_madvise(iov, r->guarded, MADV_POPULATE_WRITE);
}

/* Carves one more default slot; called with the lock held. */
static grove__stack_t *carve_locked(int *err)
{
    region_t *r = S.regions;
    if (!r || r->carved == REGION_STACKS) {
        r = grove__calloc(1, sizeof *r);
        if (!r) {
            *err = GROVE_ENOMEM;
            return NULL;
        }
        r->len = S.slot * REGION_STACKS;
        r->base = grove__mmap(NULL, r->len,
                       S.light ? PROT_READ | PROT_WRITE : PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (r->base == MAP_FAILED) {
            free(r);
            *err = GROVE_ENOMEM;
            return NULL;
        }
        r->next = S.regions;
        S.regions = r;
        if (S.light)
            region_prepare(r);
    }
    grove__stack_t *st = &r->descs[r->carved];
    st->lo = r->base + (size_t)r->carved * S.slot + S.page;
    st->size = S.default_size;
    st->chunked = true;
    if (S.light && r->carved >= r->guarded &&
        grove__madvise(st->lo - S.page, S.page, MADV_GUARD_INSTALL)) {
        *err = GROVE_ENOMEM;
        return NULL;
    }
    r->carved++;
    return st;
}

static grove__stack_t *get_default(grove__stack_cache_t *c, int *err)
{
    grove__stack_t *st = NULL;
    if (c && c->head) {
        st = c->head;
        c->head = st->next;
        c->count--;
        st->next = NULL;
        return st;
    }
    bool need_rw = false;
    pthread_mutex_lock(&S.lock);
    if (S.pool) {
        st = S.pool;
        S.pool = st->next;
        S.pool_len--;
        /* The next spawns on this thread find theirs in its cache. */
        for (int i = 1; c && i < CACHE_BATCH && S.pool; i++) {
            grove__stack_t *x = S.pool;
            S.pool = x->next;
            S.pool_len--;
            x->next = c->head;
            c->head = x;
            c->count++;
        }
    } else if (S.fresh) {
        st = S.fresh;
        S.fresh = st->next;
        need_rw = true;
    } else {
        st = carve_locked(err);
        need_rw = st != NULL;
    }
    pthread_mutex_unlock(&S.lock);
    if (!st)
        return NULL;
    st->next = NULL;
    if (need_rw && S.light) {
        atomic_fetch_add_explicit(&n_mapped, 1, memory_order_relaxed);
    } else if (need_rw) {
        if (grove__mprotect(st->lo, st->size, PROT_READ | PROT_WRITE) != 0) {
            /* Out of mappings or memory: give the slot back untouched. */
            pthread_mutex_lock(&S.lock);
            st->next = S.fresh;
            S.fresh = st;
            pthread_mutex_unlock(&S.lock);
            *err = GROVE_ENOMEM;
            return NULL;
        }
        atomic_fetch_add_explicit(&n_mapped, 1, memory_order_relaxed);
    }
    return st;
}

static grove__stack_t *get_custom(size_t size, int *err)
{
    size_t pg = grove__page_size();
    size = (size + pg - 1) & ~(pg - 1);
    grove__stack_t *st = grove__calloc(1, sizeof *st);
    if (!st) {
        *err = GROVE_ENOMEM;
        return NULL;
    }
    char *m = grove__mmap(NULL, size + pg,
                   S.light ? PROT_READ | PROT_WRITE : PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED ||
        (S.light ? grove__madvise(m, pg, MADV_GUARD_INSTALL)
                 : grove__mprotect(m + pg, size, PROT_READ | PROT_WRITE)) != 0) {
        if (m != MAP_FAILED)
            munmap(m, size + pg);
        free(st);
        *err = GROVE_ENOMEM;
        return NULL;
    }
    st->lo = m + pg;
    st->size = size;
    atomic_fetch_add_explicit(&n_mapped, 1, memory_order_relaxed);
    return st;
}

static int drop_batch(grove__stack_t **sts, int n);
static int drop_pages(grove__stack_t *st);
static void drop_to_fresh(grove__stack_t **sts, int n);

grove__stack_t *grove__stack_get(grove__stack_cache_t *c, size_t size,
                                 int *err)
{
    if (size == 0 || size == S.default_size)
        return get_default(c, err);
    return get_custom(size, err);
}

void grove__stack_put(grove__stack_cache_t *c, grove__stack_t *st)
{
    UNPOISON(st->lo, st->size);
    if (!st->chunked) {
        if (st->parked)
            atomic_fetch_sub_explicit(&n_parked, 1, memory_order_relaxed);
        else
            atomic_fetch_sub_explicit(&n_mapped, 1, memory_order_relaxed);
        free(st->saved);
        munmap(st->lo - grove__page_size(), st->size + grove__page_size());
        free(st);
        return;
    }
    if (st->parked && S.light) {
        /* No pages, still read-write: ready for reuse as it is. */
        free(st->saved);
        st->saved = NULL;
        st->saved_len = 0;
        st->parked = false;
        atomic_fetch_sub_explicit(&n_parked, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&n_mapped, 1, memory_order_relaxed);
    } else if (st->parked) {
        /* Already PROT_NONE with no pages: reuse it as a fresh slot. */
        free(st->saved);
        st->saved = NULL;
        st->saved_len = 0;
        st->parked = false;
        atomic_fetch_sub_explicit(&n_parked, 1, memory_order_relaxed);
        pthread_mutex_lock(&S.lock);
        st->next = S.fresh;
        S.fresh = st;
        pthread_mutex_unlock(&S.lock);
        return;
    }
    if (c && c->count < CACHE_MAX) {
        st->next = c->head;
        c->head = st;
        c->count++;
        return;
    }
    /* A full cache sends this stack and CACHE_BATCH - 1 of its own to the
     * pool together. */
    grove__stack_t *batch[CACHE_BATCH];
    int n = 0;
    batch[n++] = st;
    while (c && n < CACHE_BATCH && c->head) {
        batch[n++] = c->head;
        c->head = c->head->next;
        c->count--;
    }
    grove__stack_t *drop[CACHE_BATCH];
    int ndrop = 0;
    pthread_mutex_lock(&S.lock);
    for (int i = 0; i < n; i++) {
        /* Past the mapping budget an idle stack is worth less than the
         * mapping it holds. */
        bool keep = S.pool_len < POOL_MAX &&
                    (S.light ||
                     atomic_load_explicit(&n_mapped, memory_order_relaxed) <=
                         S.budget);
        if (keep) {
            batch[i]->next = S.pool;
            S.pool = batch[i];
            S.pool_len++;
        } else {
            drop[ndrop++] = batch[i];
        }
    }
    pthread_mutex_unlock(&S.lock);
    if (ndrop)
        drop_to_fresh(drop, ndrop);
}

/* Gives back the pages (and, without lightweight guards, the mapping) of
 * idle stacks, in as few system calls as the kernel allows, and makes them
 * fresh slots. */
static void drop_to_fresh(grove__stack_t **sts, int n)
{
    int done = drop_batch(sts, n);
    for (int i = done; i < n; i++)
        (void)drop_pages(sts[i]);
    /* Either way each becomes a fresh slot, counted again when reused. */
    atomic_fetch_sub_explicit(&n_mapped, (unsigned)n, memory_order_relaxed);
    pthread_mutex_lock(&S.lock);
    for (int i = 0; i < n; i++) {
        sts[i]->next = S.fresh;
        S.fresh = sts[i];
    }
    pthread_mutex_unlock(&S.lock);
}

/* Gives back the pages of pooled stacks beyond keep: a burst of exits
 * must not leave its stacks resident for good. With lightweight guards a
 * stack keeps its mapping and only loses its pages; otherwise it turns
 * back into PROT_NONE. Either way it becomes a fresh slot. */
void grove__stacks_trim_pool(unsigned keep)
{
    grove__stack_t *batch[GROVE__PARK_BATCH];
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&S.lock);
        while (n < GROVE__PARK_BATCH && S.pool_len > keep) {
            batch[n++] = S.pool;
            S.pool = S.pool->next;
            S.pool_len--;
        }
        pthread_mutex_unlock(&S.lock);
        if (!n)
            return;
        /* A batch at a time, as trimming: one TLB flush, not one per
         * stack, where the kernel takes the batch in one call. */
        drop_to_fresh(batch, n);
    }
}

void grove__stack_cache_drain(grove__stack_cache_t *c)
{
    while (c->head) {
        grove__stack_t *st = c->head;
        c->head = st->next;
        c->count--;
        grove__stack_put(NULL, st);
    }
}

/* Copies a process's stack bytes. Its frames carry AddressSanitizer's
 * redzones, which are not errors to read here: the copy is exact, and
 * moves them along with the data they guard. */
#if defined(GROVE_ASAN) || defined(__SANITIZE_ADDRESS__)
__attribute__((no_sanitize("address")))
#endif
static void stack_copy(void *dst, const void *src, size_t len)
{
    volatile uint64_t *d = dst;
    const volatile uint64_t *s = src;
    for (size_t i = 0; i < len / 8; i++)
        d[i] = s[i];
}

int grove__stack_save(grove__stack_t *st, void *sp)
{
    char *top = st->lo + st->size;
    char *from = (char *)(((uintptr_t)sp - RED_ZONE) & ~(uintptr_t)7);
    if (from < st->lo)
        from = st->lo;
    size_t len = (size_t)(top - from);
    void *buf = grove__malloc(len);
    if (!buf)
        return GROVE_ENOMEM;
    stack_copy(buf, from, len);
    st->saved = buf;
    st->saved_len = len;
    return 0;
}

/* Gives back the pages of one saved stack. */
static int drop_pages(grove__stack_t *st)
{
    if (S.light)
        /* The pages go; the mapping and the guard marker stay. */
        return grove__madvise(st->lo, st->size, MADV_DONTNEED) == 0
                   ? 0
                   : GROVE_ESYSCALL;
    /* Replacing the range discards its pages and makes it PROT_NONE, so
     * it merges with its neighbours' guard pages. */
    void *m = grove__mmap(st->lo, st->size, PROT_NONE,
                          MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS |
                              MAP_NORESERVE,
                          -1, 0);
    return m == MAP_FAILED ? GROVE_ESYSCALL : 0;
}

static void mark_parked(grove__stack_t *st)
{
    st->parked = true;
    atomic_fetch_sub_explicit(&n_mapped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_parked, 1, memory_order_relaxed);
}

static void unsave(grove__stack_t *st)
{
    free(st->saved);
    st->saved = NULL;
    st->saved_len = 0;
}

/* Not under valgrind, which knows neither call. */
#if defined(__linux__) && defined(SYS_process_madvise) && \
    defined(SYS_pidfd_open) && !defined(GROVE_VALGRIND)
/* One process_madvise call for the whole batch (Linux 6.13 accepts any
 * advice for the caller itself): the kernel flushes the TLBs of every
 * core running the program once, not once per stack, and each flush
 * interrupts those cores. Returns the number of stacks fully dropped
 * from the front of the batch (0 where the call is not supported). */
static pthread_mutex_t pidfd_lock = PTHREAD_MUTEX_INITIALIZER;
static int self_pidfd = -1; /* -2: not available here */

static int pidfd_get(void)
{
    pthread_mutex_lock(&pidfd_lock);
    if (self_pidfd == -1) {
        self_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (self_pidfd < 0)
            self_pidfd = -2;
    }
    int fd = self_pidfd;
    pthread_mutex_unlock(&pidfd_lock);
    return fd;
}

/* The descriptor is the runtime's only while it runs. */
static void pidfd_close(void)
{
    pthread_mutex_lock(&pidfd_lock);
    if (self_pidfd >= 0)
        close(self_pidfd);
    self_pidfd = -1;
    pthread_mutex_unlock(&pidfd_lock);
}

/* One madvise over many ranges of the program's own memory; returns the
 * bytes advised from the front, or -1 where the call is not supported. */
static long self_madvise(const struct iovec *iov, size_t n, int advice)
{
    if (grove__fp_fail(GROVE__FP_MADVISE))
        return -1;
    int pidfd = pidfd_get();
    if (pidfd < 0)
        return -1;
    return syscall(SYS_process_madvise, pidfd, iov, n, advice, 0u);
}

static int drop_batch(grove__stack_t **sts, int n)
{
    if (!S.light || n < 2)
        return 0;
    struct iovec iov[GROVE__PARK_BATCH];
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = sts[i]->lo;
        iov[i].iov_len = sts[i]->size;
        total += sts[i]->size;
    }
    long done = self_madvise(iov, (size_t)n, MADV_DONTNEED);
    if (done < 0)
        return 0;
    if ((size_t)done == total)
        return n;
    /* Partly done: count the stacks wholly covered. */
    int k = 0;
    while (k < n && (size_t)done >= sts[k]->size) {
        done -= (long)sts[k]->size;
        k++;
    }
    return k;
}
#else
static long self_madvise(const struct iovec *iov, size_t n, int advice)
{
    (void)iov;
    (void)n;
    (void)advice;
    return -1;
}
static int drop_batch(grove__stack_t **sts, int n)
{
    (void)sts;
    (void)n;
    return 0;
}
static int pidfd_get(void) { return -1; }
static void pidfd_close(void) {}
#endif

void grove__stacks_drop_saved(grove__stack_t **sts, int n)
{
    int k = drop_batch(sts, n);
    for (int i = 0; i < n; i++) {
        if (i >= k && drop_pages(sts[i]) != 0) {
            unsave(sts[i]); /* left as it was, in use */
            continue;
        }
        mark_parked(sts[i]);
    }
}

int grove__stack_park(grove__stack_t *st, void *sp)
{
    int rc = grove__stack_save(st, sp);
    if (rc < 0)
        return rc;
    if ((rc = drop_pages(st)) < 0) {
        unsave(st);
        return rc;
    }
    mark_parked(st);
    return 0;
}

int grove__stack_unpark(grove__stack_t *st)
{
    if (!S.light && grove__mprotect(st->lo, st->size, PROT_READ | PROT_WRITE) != 0)
        return GROVE_ESYSCALL;
    stack_copy(st->lo + st->size - st->saved_len, st->saved, st->saved_len);
    free(st->saved);
    st->saved = NULL;
    st->saved_len = 0;
    st->parked = false;
    atomic_fetch_add_explicit(&n_mapped, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&n_parked, 1, memory_order_relaxed);
    return 0;
}

bool grove__stack_guard_hit(const grove__stack_t *st, const void *addr)
{
    const char *a = addr;
    return a < st->lo && a >= st->lo - grove__page_size();
}

uint64_t grove__stacks_mapped(void) { return atomic_load(&n_mapped); }
uint64_t grove__stacks_parked(void) { return atomic_load(&n_parked); }
