/* Deliberate faults a worker runs on request. Kept out of line and out of
 * the sanitizers' reach, so the fault is the hardware's, caught by
 * Grove's own handler, and no sanitizer reports it first. */
#include <stdlib.h>

#include "soak.h"

#if defined(__clang__)
#define SOAK_NOCLONE
#else
#define SOAK_NOCLONE __attribute__((noclone))
#endif
#define SOAK_FAULT_FN                                                       \
    SOAK_NOCLONE __attribute__((noinline,                                   \
                                no_sanitize("address", "undefined",         \
                                            "thread")))

static int *volatile null_ptr;
static volatile int depth_limit = 0x7fffffff;
static volatile int sink;

SOAK_FAULT_FN void soak_fault_null(void)
{
    *null_ptr = 1;
    abort(); /* not reached */
}

/* Large frames, and work after the call so the recursion stays a
 * recursion; depth_limit only keeps the compiler from proving it
 * infinite. */
SOAK_FAULT_FN static int recurse(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = (char)depth;
    if (depth >= depth_limit)
        return frame[0];
    return recurse(depth + 1) + frame[511];
}

SOAK_FAULT_FN void soak_fault_stack(void)
{
    sink = recurse(0);
    abort(); /* not reached */
}
