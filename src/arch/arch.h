/* The arch layer's interface: fibers (a saved CPU context on a stack) and
 * stacks with guard pages. Every context switch goes through
 * grove__fiber_switch, the one place that tells ASan, TSan and valgrind
 * about stack switches. */
#ifndef GROVE_ARCH_H
#define GROVE_ARCH_H

#include "base/base.h"

#if defined(GROVE_ARCH_UCONTEXT)
#include <ucontext.h>
#endif

#if defined(GROVE_ASAN) || defined(__SANITIZE_ADDRESS__)
#define GROVE__FIBER_ASAN 1
#endif
#if defined(GROVE_TSAN) || defined(__SANITIZE_THREAD__)
#define GROVE__FIBER_TSAN 1
#endif

typedef struct grove__fiber {
#if defined(GROVE_ARCH_UCONTEXT)
    ucontext_t uc;
#else
    void *sp; /* saved stack pointer; the registers are on the stack */
#endif
    void *stack_lo; /* for the sanitizers: the stack's bounds */
    size_t stack_size;
#ifdef GROVE__FIBER_TSAN
    void *tsan;      /* ThreadSanitizer fiber */
#endif
#ifdef GROVE__FIBER_ASAN
    void *asan_fake; /* ASan fake-stack save slot */
#endif
#ifdef GROVE_VALGRIND
    unsigned vg_id;  /* valgrind stack id */
#endif
} grove__fiber_t;

/* Makes f the fiber of the calling OS thread (a scheduler's own stack). */
GROVE__HIDDEN void grove__fiber_init_thread(grove__fiber_t *f);
/* Prepares f to run entry(arg) on [lo, lo+size) at its first switch-in.
 * entry must never return (the stack's first return address aborts). */
GROVE__HIDDEN void grove__fiber_make(grove__fiber_t *f, void *lo, size_t size,
                                     void (*entry)(void *), void *arg);
/* Saves the current context into from and resumes to. from_dying tells
 * the sanitizers that from will never be resumed. */
GROVE__HIDDEN void grove__fiber_switch(grove__fiber_t *from,
                                       grove__fiber_t *to, bool from_dying);
/* Called first thing on a new fiber (finishes the sanitizer switch). */
GROVE__HIDDEN void grove__fiber_started(void);
/* Releases what the sanitizers hold for a fiber that will not run again. */
GROVE__HIDDEN void grove__fiber_destroy(grove__fiber_t *f);
/* Frees the sanitizer state kept for a fiber slot (runtime stop). */
GROVE__HIDDEN void grove__fiber_release(grove__fiber_t *f);
/* The saved stack pointer of a switched-out fiber (for stack trimming and
 * process info); NULL if unknown. */
GROVE__HIDDEN void *grove__fiber_sp(const grove__fiber_t *f);

/* A process stack: usable bytes [lo, lo + size) with a PROT_NONE guard
 * page below lo. */
typedef struct grove__stack {
    char *lo;
    size_t size;
    struct grove__stack *next; /* free-list link */
    void *saved;               /* parked: the bytes that were in use */
    size_t saved_len;
    bool parked;
    bool chunked; /* carved from a shared region (default size) */
} grove__stack_t;

/* A per-thread cache of free default-size stacks. */
typedef struct grove__stack_cache {
    grove__stack_t *head;
    unsigned count;
} grove__stack_cache_t;

/* Sets the default stack size and resets the allocator. */
GROVE__HIDDEN int grove__stacks_init(size_t default_size);
/* How many stacks may be read-write at once (the kernel's mapping limit);
 * idle ones beyond it are not pooled. */
GROVE__HIDDEN void grove__stacks_set_budget(uint64_t stacks);
/* True when guard pages cost no kernel mapping (MADV_GUARD_INSTALL). */
GROVE__HIDDEN bool grove__stacks_light_guards(void);
/* Unmaps everything. All stacks must have been returned. */
GROVE__HIDDEN void grove__stacks_fini(void);
/* Returns a stack of at least size bytes (0: default), or NULL with *err
 * set (GROVE_ENOMEM). cache may be NULL. */
GROVE__HIDDEN grove__stack_t *grove__stack_get(grove__stack_cache_t *cache,
                                               size_t size, int *err);
GROVE__HIDDEN void grove__stack_put(grove__stack_cache_t *cache,
                                    grove__stack_t *st);
/* Gives back the pages of pooled stacks beyond keep. */
GROVE__HIDDEN void grove__stacks_trim_pool(unsigned keep);
/* Empties a cache into the global pool. */
GROVE__HIDDEN void grove__stack_cache_drain(grove__stack_cache_t *cache);
/* Parks an idle stack whose live bytes are [sp, top): saves them and gives
 * the pages back to the OS. Returns 0 or GROVE_ENOMEM/GROVE_ESYSCALL (then
 * the stack is left as it was). */
GROVE__HIDDEN int grove__stack_park(grove__stack_t *st, void *sp);
/* The same in two steps, so that many stacks give their pages back in
 * one system call: grove__stack_save copies the live bytes aside (0 or
 * GROVE_ENOMEM, then nothing changed); grove__stacks_drop_saved gives
 * back the pages of up to GROVE__PARK_BATCH saved stacks, each then
 * parked, or, where that failed, left as it was with its copy freed (its
 * parked flag says which). */
#define GROVE__PARK_BATCH 64
GROVE__HIDDEN int grove__stack_save(grove__stack_t *st, void *sp);
GROVE__HIDDEN void grove__stacks_drop_saved(grove__stack_t **sts, int n);
/* Makes a parked stack usable again with its bytes restored. Returns 0 or
 * GROVE_ESYSCALL (the stack stays parked). */
GROVE__HIDDEN int grove__stack_unpark(grove__stack_t *st);
/* True when addr lies in the guard page below the stack. */
GROVE__HIDDEN bool grove__stack_guard_hit(const grove__stack_t *st,
                                          const void *addr);
/* Stacks currently mapped and parked. */
GROVE__HIDDEN uint64_t grove__stacks_mapped(void);
GROVE__HIDDEN uint64_t grove__stacks_parked(void);
/* The system page size. */
GROVE__HIDDEN size_t grove__page_size(void);

#endif
