/* Grove testing hooks: failure injection for the runtime's own calls.
 *
 * In a build configured with -DGROVE_FAILPOINTS=ON, every allocation and
 * every system call the runtime makes that can fail (mmap, mprotect,
 * madvise, pthread_create) passes a counter that can fail the Nth call
 * from now, or fail calls at random from a seed. A test then checks that
 * each public call returns its documented error, or that the process
 * exits with its documented reason, and that nothing leaks or hangs. In
 * other builds these functions return GROVE_ENOSYS (or 0) and cost
 * nothing.
 */
#ifndef GROVE_TESTING_H
#define GROVE_TESTING_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum grove_failpoint {
    GROVE_FP_ALLOC = 0, /* malloc, calloc, realloc, strdup, memalign */
    GROVE_FP_MMAP,
    GROVE_FP_MPROTECT,
    GROVE_FP_MADVISE,
    GROVE_FP_THREAD, /* pthread_create */
    /* Not a failure: the push of a link or monitor request into its
     * target's inbox stalls for 2 ms after the target was found alive,
     * which gives the target time to exit and a spawn time to reuse its
     * slot before the push (a race that is otherwise rare). */
    GROVE_FP_DELIVER_STALL,
    GROVE_FP_ANY = 99
} grove_failpoint_t;

/* True when the library was built with failure injection. */
GROVE_EXPORT bool grove_test_failpoints(void);
/* Makes the nth call of the point from now fail (1: the next one); 0
 * cancels. Returns 0, GROVE_EINVAL or GROVE_ENOSYS. */
GROVE_EXPORT int grove_test_fail_nth(int point, uint64_t n);
/* Fails calls of the point at random, permille in a thousand, drawn from
 * seed (0 permille stops). Returns 0, GROVE_EINVAL or GROVE_ENOSYS. */
GROVE_EXPORT int grove_test_fail_random(int point, uint64_t seed,
                                        unsigned permille);
/* Calls of the point seen so far (all points for GROVE_FP_ANY). */
GROVE_EXPORT uint64_t grove_test_fail_calls(int point);
/* Failures injected so far. */
GROVE_EXPORT uint64_t grove_test_fail_injected(int point);

#ifdef __cplusplus
}
#endif
#endif
