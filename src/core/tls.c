/* Thread-local state of the runtime. Kept in a file of its own and reached
 * only through accessors: these functions, or on x86-64 for the scheduler
 * and the in-runtime marker the inline asm of internal.h (see there for
 * why). The fault handler reads them too; they are plain loads and
 * stores, async-signal-safe. */
#include "core/internal.h"

/* initial-exec: a plain %fs-relative access, no __tls_get_addr call (the
 * library is linked at start-up, not dlopen'd late). */
#define TLS static __thread __attribute__((tls_model("initial-exec")))
/* Out of line, and opaque to GCC's interprocedural analysis too: with
 * link-time optimization a call into another file is no longer a barrier
 * by itself, and an accessor found "pure" could be merged with an earlier
 * call made on another thread. */
#if defined(__GNUC__) && !defined(__clang__)
#define TLS_FN __attribute__((noinline, noipa))
#else
#define TLS_FN __attribute__((noinline))
#endif
TLS bool tls_spawn_watched;

#ifdef GROVE__TLS_ASM
/* Read and written by the inline accessors of internal.h, whose asm the
 * compiler does not see: kept, under these names, in every build. */
#if defined(__clang__)
#define TLS_ASM_VAR __thread __attribute__((tls_model("initial-exec"), used))
#else
#define TLS_ASM_VAR                                                          \
    __thread __attribute__((tls_model("initial-exec"), used,                 \
                            externally_visible))
#endif
TLS_ASM_VAR grove__sched_t *grove__tls_sched;
TLS_ASM_VAR int grove__tls_in_rt;
#else
TLS grove__sched_t *grove__tls_sched;
TLS int grove__tls_in_rt;

TLS_FN grove__sched_t *grove__tls_get_sched(void)
{
    return grove__tls_sched;
}
TLS_FN int grove__tls_get_in_rt(void) { return grove__tls_in_rt; }
TLS_FN void grove__tls_set_in_rt(int v) { grove__tls_in_rt = v; }
#endif
TLS_FN void grove__tls_set_sched(grove__sched_t *s)
{
    grove__tls_sched = s;
}
TLS_FN bool grove__tls_get_spawn_watched(void)
{
    return tls_spawn_watched;
}
TLS_FN void grove__tls_set_spawn_watched(bool v)
{
    tls_spawn_watched = v;
}
