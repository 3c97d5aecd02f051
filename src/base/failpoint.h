/* Failure injection. In builds with GROVE_FAILPOINTS, every allocation and
 * every system call the runtime makes that can fail goes through a
 * counter that can make the Nth call fail, or calls fail at random from a
 * seed (see include/grove/testing.h). In other builds the wrappers are the
 * plain calls. */
#ifndef GROVE_FAILPOINT_H
#define GROVE_FAILPOINT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum {
    GROVE__FP_ALLOC = 0, /* malloc, calloc, realloc, strdup, memalign */
    GROVE__FP_MMAP,
    GROVE__FP_MPROTECT,
    GROVE__FP_MADVISE,
    GROVE__FP_THREAD, /* pthread_create */
    GROVE__FP_DELIVER_STALL, /* a stall, not a failure: see testing.h */
    GROVE__FP_COUNT
};

#if defined(GROVE_FAILPOINTS)
bool grove__fp_fail(int point);
#else
#define grove__fp_fail(point) ((void)(point), false)
#endif

static inline void *grove__malloc(size_t n)
{
    return grove__fp_fail(GROVE__FP_ALLOC) ? NULL : malloc(n);
}
/* Small blocks come from malloc and are zeroed here: glibc's calloc skips
 * its per-thread cache, so on the runtime's hot paths (a server's start,
 * a spawn's records) it costs several times a malloc and leaves the cache
 * to fill with the blocks freed later, whose frees then take the slow way
 * too. The empty asm keeps a compiler from folding the pair back into
 * calloc. Larger blocks keep calloc, which can skip zeroing fresh pages. */
#define GROVE__CALLOC_SMALL 1024
static inline void *grove__calloc(size_t n, size_t size)
{
    if (grove__fp_fail(GROVE__FP_ALLOC))
        return NULL;
    if (size && n && n <= GROVE__CALLOC_SMALL / size) {
        void *p = malloc(n * size);
        if (p) {
            __asm__ volatile("" : : "r"(p) : "memory");
            memset(p, 0, n * size);
        }
        return p;
    }
    return calloc(n, size);
}
/* calloc for a table that is probed (read) before it is filled: calloc
 * may hand back fresh pages (a new mapping, or the heap's newly grown top)
 * without writing them, and the first read of such a page maps the shared
 * zero page, so the first write then faults again and flushes the TLB of
 * every core the program runs on. A write to each page first faults once.
 * (The writes are volatile: a compiler may turn malloc plus memset back
 * into calloc.) */
static inline void *grove__zalloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t len = n * size;
    volatile char *p = grove__calloc(n, size);
    if (p && len > GROVE__CALLOC_SMALL) { /* smaller ones were memset */
        for (size_t i = 0; i < len; i += 4096)
            p[i] = 0;
        p[len - 1] = 0;
    }
    return (void *)p;
}
static inline void *grove__realloc(void *p, size_t n)
{
    return grove__fp_fail(GROVE__FP_ALLOC) ? NULL : realloc(p, n);
}
static inline char *grove__strdup(const char *s)
{
    return grove__fp_fail(GROVE__FP_ALLOC) ? NULL : strdup(s);
}
/* The bytes of a 16-aligned block holding head bytes and then size: their
 * sum rounded up to 16, or 0 when no object can be that large (above
 * PTRDIFF_MAX), before the sum could wrap around. */
static inline size_t grove__block16(size_t head, size_t size)
{
    if (size > (size_t)PTRDIFF_MAX - head - 15)
        return 0;
    return (head + size + 15) & ~(size_t)15;
}
static inline void *grove__aligned_alloc(size_t align, size_t n)
{
    return grove__fp_fail(GROVE__FP_ALLOC) ? NULL : aligned_alloc(align, n);
}
static inline int grove__posix_memalign(void **p, size_t align, size_t n)
{
    return grove__fp_fail(GROVE__FP_ALLOC) ? ENOMEM
                                           : posix_memalign(p, align, n);
}
static inline void *grove__mmap(void *addr, size_t len, int prot, int flags,
                                int fd, off_t off)
{
    if (grove__fp_fail(GROVE__FP_MMAP)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return mmap(addr, len, prot, flags, fd, off);
}
static inline int grove__mprotect(void *addr, size_t len, int prot)
{
    if (grove__fp_fail(GROVE__FP_MPROTECT)) {
        errno = ENOMEM;
        return -1;
    }
    return mprotect(addr, len, prot);
}
static inline int grove__madvise(void *addr, size_t len, int advice)
{
    if (grove__fp_fail(GROVE__FP_MADVISE)) {
        errno = ENOMEM;
        return -1;
    }
    return madvise(addr, len, advice);
}
static inline int grove__pthread_create(pthread_t *t, const pthread_attr_t *a,
                                        void *(*fn)(void *), void *arg)
{
    return grove__fp_fail(GROVE__FP_THREAD) ? EAGAIN
                                            : pthread_create(t, a, fn, arg);
}

#endif
