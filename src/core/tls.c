/* Thread-local state of the runtime. Kept in a file of its own and reached
 * only through these functions: see internal.h for why. The fault handler
 * reads them too; they are plain loads and stores, async-signal-safe. */
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
TLS grove__sched_t *tls_sched;
TLS int tls_in_rt;
TLS bool tls_spawn_watched;

TLS_FN grove__sched_t *grove__tls_get_sched(void)
{
    return tls_sched;
}
TLS_FN void grove__tls_set_sched(grove__sched_t *s)
{
    tls_sched = s;
}
TLS_FN int grove__tls_get_in_rt(void) { return tls_in_rt; }
TLS_FN void grove__tls_set_in_rt(int v) { tls_in_rt = v; }
TLS_FN bool grove__tls_get_spawn_watched(void)
{
    return tls_spawn_watched;
}
TLS_FN void grove__tls_set_spawn_watched(bool v)
{
    tls_spawn_watched = v;
}
