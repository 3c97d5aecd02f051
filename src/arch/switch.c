/* Fibers: the one place every context switch goes through, so that the
 * sanitizers and valgrind always know which stack is running. */
#include "arch/arch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(GROVE__FIBER_ASAN)
#define USE_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GROVE__FIBER_TSAN)
#define USE_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif
#if defined(GROVE_VALGRIND)
#include <valgrind/valgrind.h>
#endif

_Noreturn void grove__ctx_returned(void);
void grove__ctx_returned(void)
{
    grove__panic("grove: a process entry function returned into its "
                 "stack's first frame; process entries must end through "
                 "the runtime");
}

#if !defined(GROVE_ARCH_UCONTEXT)
void grove__ctx_swap(void **save_sp, void *new_sp);
void grove__ctx_trampoline(void);
#else
void grove__uc_make(grove__fiber_t *f, void *lo, size_t size,
                    void (*entry)(void *), void *arg);
void grove__uc_swap(grove__fiber_t *from, grove__fiber_t *to);
#endif

#if defined(GROVE_ARCH_X86_64)
/* Must match the frame described in x86_64/ctx_x86_64.S. */
enum {
    GROVE__X86_FRAME_CSR = 0,
    GROVE__X86_FRAME_R15 = 8,
    GROVE__X86_FRAME_R14 = 16,
    GROVE__X86_FRAME_R13 = 24,
    GROVE__X86_FRAME_R12 = 32,
    GROVE__X86_FRAME_RBX = 40,
    GROVE__X86_FRAME_RBP = 48,
    GROVE__X86_FRAME_RET = 56,
    GROVE__X86_FRAME_SIZE = 64
};
_Static_assert(GROVE__X86_FRAME_SIZE % 16 == 0, "frame keeps alignment");
#elif defined(GROVE_ARCH_AARCH64)
/* Must match the frame described in aarch64/ctx_aarch64.S. */
enum {
    GROVE__A64_FRAME_X19 = 0,
    GROVE__A64_FRAME_X20 = 8,
    GROVE__A64_FRAME_X29 = 80,
    GROVE__A64_FRAME_X30 = 88,
    GROVE__A64_FRAME_FPCR = 160,
    GROVE__A64_FRAME_SIZE = 176
};
_Static_assert(GROVE__A64_FRAME_SIZE % 16 == 0, "frame keeps alignment");
#endif

void grove__fiber_init_thread(grove__fiber_t *f)
{
    memset(f, 0, sizeof *f);
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            f->stack_lo = addr;
            f->stack_size = size;
        }
        pthread_attr_destroy(&attr);
    }
#ifdef USE_TSAN
    f->tsan = __tsan_get_current_fiber();
#endif
}

void grove__fiber_make(grove__fiber_t *f, void *lo, size_t size,
                       void (*entry)(void *), void *arg)
{
#ifdef USE_TSAN
    void *tsan = f->tsan;
#endif
    memset(f, 0, sizeof *f);
    f->stack_lo = lo;
    f->stack_size = size;
#ifdef USE_TSAN
    /* Reuse the fiber object of a recycled process slot if it has one. */
    f->tsan = tsan ? tsan : __tsan_create_fiber(0);
#endif
#if defined(GROVE_VALGRIND)
    f->vg_id = VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#endif
#if defined(GROVE_ARCH_UCONTEXT)
    grove__uc_make(f, lo, size, entry, arg);
#elif defined(GROVE_ARCH_X86_64)
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    char *sp = (char *)(top - GROVE__X86_FRAME_SIZE - 16);
    memset(sp, 0, GROVE__X86_FRAME_SIZE + 16);
    uint32_t mxcsr = 0x1f80; /* all exceptions masked, round to nearest */
    uint16_t fpucw = 0x037f; /* the x87 default */
    memcpy(sp + GROVE__X86_FRAME_CSR, &mxcsr, 4);
    memcpy(sp + GROVE__X86_FRAME_CSR + 4, &fpucw, 2);
    *(void **)(sp + GROVE__X86_FRAME_R12) = arg;
    *(void **)(sp + GROVE__X86_FRAME_R13) = (void *)entry;
    *(void **)(sp + GROVE__X86_FRAME_RET) = (void *)grove__ctx_trampoline;
    f->sp = sp;
#elif defined(GROVE_ARCH_AARCH64)
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    char *sp = (char *)(top - GROVE__A64_FRAME_SIZE);
    memset(sp, 0, GROVE__A64_FRAME_SIZE);
    *(void **)(sp + GROVE__A64_FRAME_X19) = arg;
    *(void **)(sp + GROVE__A64_FRAME_X20) = (void *)entry;
    *(void **)(sp + GROVE__A64_FRAME_X30) = (void *)grove__ctx_trampoline;
    f->sp = sp;
#else
#error "no context-switch backend selected"
#endif
}

void grove__fiber_switch(grove__fiber_t *from, grove__fiber_t *to,
                         bool from_dying)
{
#ifdef USE_ASAN
    __sanitizer_start_switch_fiber(from_dying ? NULL : &from->asan_fake,
                                   to->stack_lo, to->stack_size);
#else
    (void)from_dying;
#endif
#ifdef USE_TSAN
    __tsan_switch_to_fiber(to->tsan, 0);
#endif
#if defined(GROVE_ARCH_UCONTEXT)
    grove__uc_swap(from, to);
#else
    grove__ctx_swap(&from->sp, to->sp);
#endif
#ifdef USE_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}

void grove__fiber_started(void)
{
#ifdef USE_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

void grove__fiber_destroy(grove__fiber_t *f)
{
#if defined(GROVE_VALGRIND)
    if (f->vg_id)
        VALGRIND_STACK_DEREGISTER(f->vg_id);
    f->vg_id = 0;
#endif
#ifdef USE_ASAN
    /* A crashed fiber leaves its frames' redzones poisoned. */
    if (f->stack_lo)
        __asan_unpoison_memory_region(f->stack_lo, f->stack_size);
#endif
    (void)f; /* the TSan fiber object is kept with the slot for reuse */
}

void *grove__fiber_sp(const grove__fiber_t *f)
{
#if defined(GROVE_ARCH_UCONTEXT) && defined(__x86_64__) && defined(__linux__)
    return (void *)(uintptr_t)f->uc.uc_mcontext.gregs[REG_RSP];
#elif defined(GROVE_ARCH_UCONTEXT) && defined(__aarch64__) && defined(__linux__)
    return (void *)(uintptr_t)f->uc.uc_mcontext.sp;
#elif defined(GROVE_ARCH_UCONTEXT)
    (void)f;
    return NULL; /* unknown layout: stacks are never parked */
#else
    return f->sp;
#endif
}

void grove__fiber_release(grove__fiber_t *f)
{
#ifdef USE_TSAN
    if (f->tsan && f->tsan != __tsan_get_current_fiber())
        __tsan_destroy_fiber(f->tsan);
    f->tsan = NULL;
#else
    (void)f;
#endif
}
