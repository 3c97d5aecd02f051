/* The portable ucontext backend. Slower (swapcontext saves the signal mask
 * with a system call) but works on any POSIX platform; the build option
 * GROVE_UCONTEXT forces it so that CI exercises it. */
#include "arch/arch.h"

#if defined(GROVE_ARCH_UCONTEXT)
#include <stdint.h>

GROVE__HIDDEN _Noreturn void grove__ctx_returned(void);

/* makecontext passes int arguments only: split the pointers. */
static void uc_entry(unsigned fhi, unsigned flo, unsigned ahi, unsigned alo)
{
    void (*fn)(void *) =
        (void (*)(void *))(((uintptr_t)fhi << 32) | (uintptr_t)flo);
    void *arg = (void *)(((uintptr_t)ahi << 32) | (uintptr_t)alo);
    fn(arg);
    grove__ctx_returned();
}

GROVE__HIDDEN void grove__uc_make(grove__fiber_t *f, void *lo, size_t size,
                                  void (*entry)(void *), void *arg)
{
    GROVE__CHECK(getcontext(&f->uc) == 0);
    f->uc.uc_stack.ss_sp = lo;
    f->uc.uc_stack.ss_size = size;
    f->uc.uc_link = NULL;
    uintptr_t fp = (uintptr_t)entry, ap = (uintptr_t)arg;
    makecontext(&f->uc, (void (*)(void))uc_entry, 4, (unsigned)(fp >> 32),
                (unsigned)fp, (unsigned)(ap >> 32), (unsigned)ap);
}

GROVE__HIDDEN void grove__uc_swap(grove__fiber_t *from, grove__fiber_t *to)
{
    GROVE__CHECK(swapcontext(&from->uc, &to->uc) == 0);
}
#else
typedef int grove__ctx_ucontext_unused;
#endif
