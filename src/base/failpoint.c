/* Failure-injection counters (GROVE_FAILPOINTS builds). */
#include <stdatomic.h>
#include <stdint.h>

#include "base/failpoint.h"
#include "grove/error.h"
#include "grove/testing.h"

#if defined(GROVE_FAILPOINTS)
static struct {
    atomic_uint_fast64_t calls;   /* calls seen */
    atomic_uint_fast64_t fail_at; /* the call number that fails; 0: none */
    atomic_uint permille;         /* random failures per thousand */
    atomic_uint_fast64_t state;   /* random generator */
    atomic_uint_fast64_t failed;  /* failures injected */
} fp[GROVE__FP_COUNT];

static uint64_t next_rand(int point)
{
    uint64_t x = atomic_load(&fp[point].state), y;
    do {
        y = x ^ (x >> 12);
        y ^= y << 25;
        y ^= y >> 27;
    } while (!atomic_compare_exchange_weak(&fp[point].state, &x, y));
    return y * 0x2545f4914f6cdd1dull;
}

bool grove__fp_fail(int point)
{
    uint64_t n = atomic_fetch_add(&fp[point].calls, 1) + 1;
    uint64_t at = atomic_load(&fp[point].fail_at);
    bool fail = at && n == at;
    unsigned pm = atomic_load(&fp[point].permille);
    if (!fail && pm && next_rand(point) % 1000 < pm)
        fail = true;
    if (fail)
        atomic_fetch_add(&fp[point].failed, 1);
    return fail;
}

static int points(int which, int *lo, int *hi)
{
    if (which == GROVE_FP_ANY) {
        *lo = 0;
        *hi = GROVE__FP_COUNT;
        return 0;
    }
    if (which < 0 || which >= GROVE__FP_COUNT)
        return GROVE_EINVAL;
    *lo = which;
    *hi = which + 1;
    return 0;
}

GROVE_EXPORT int grove_test_fail_nth(int which, uint64_t n)
{
    int lo, hi;
    if (points(which, &lo, &hi) < 0)
        return GROVE_EINVAL;
    for (int i = lo; i < hi; i++)
        atomic_store(&fp[i].fail_at,
                     n ? atomic_load(&fp[i].calls) + n : 0);
    return 0;
}

GROVE_EXPORT int grove_test_fail_random(int which, uint64_t seed,
                                        unsigned permille)
{
    int lo, hi;
    if (points(which, &lo, &hi) < 0 || permille > 1000)
        return GROVE_EINVAL;
    for (int i = lo; i < hi; i++) {
        atomic_store(&fp[i].state, (seed ? seed : 1) + (uint64_t)i);
        atomic_store(&fp[i].permille, permille);
    }
    return 0;
}

GROVE_EXPORT uint64_t grove_test_fail_calls(int which)
{
    int lo, hi;
    uint64_t n = 0;
    if (points(which, &lo, &hi) < 0)
        return 0;
    for (int i = lo; i < hi; i++)
        n += atomic_load(&fp[i].calls);
    return n;
}

GROVE_EXPORT uint64_t grove_test_fail_injected(int which)
{
    int lo, hi;
    uint64_t n = 0;
    if (points(which, &lo, &hi) < 0)
        return 0;
    for (int i = lo; i < hi; i++)
        n += atomic_load(&fp[i].failed);
    return n;
}

GROVE_EXPORT bool grove_test_failpoints(void) { return true; }
#else
GROVE_EXPORT int grove_test_fail_nth(int which, uint64_t n)
{
    (void)which;
    (void)n;
    return GROVE_ENOSYS;
}
GROVE_EXPORT int grove_test_fail_random(int which, uint64_t seed,
                                        unsigned permille)
{
    (void)which;
    (void)seed;
    (void)permille;
    return GROVE_ENOSYS;
}
GROVE_EXPORT uint64_t grove_test_fail_calls(int which)
{
    (void)which;
    return 0;
}
GROVE_EXPORT uint64_t grove_test_fail_injected(int which)
{
    (void)which;
    return 0;
}
GROVE_EXPORT bool grove_test_failpoints(void) { return false; }
#endif
