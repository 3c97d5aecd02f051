/* Deliberate hardware faults for the crash tests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "grove_test.h"

/* Neither inlined into instrumented callers nor instrumented themselves:
 * the sanitizers must not turn these faults into their own reports. */
#if defined(__clang__)
#define GT_NOCLONE
#else
#define GT_NOCLONE __attribute__((noclone))
#endif
#define GT_FAULT_FN                                                          \
    GT_NOCLONE __attribute__((noinline, no_sanitize("address", "undefined",  \
                                                    "thread")))

volatile int gt_fault_sink;
static volatile int zero;
static volatile int dividend = 1;
static int *volatile null_ptr;
static volatile int depth_limit = 0x7fffffff;

GT_FAULT_FN void gt_fault_null_write(void)
{
    *null_ptr = 1;
    abort();
}

GT_FAULT_FN void gt_fault_div_zero(void)
{
    /* Both operands volatile: with a constant dividend GCC replaces the
     * division by a compare, and nothing traps. */
    gt_fault_sink = dividend / zero;
    abort();
}

GT_FAULT_FN void gt_fault_illegal(void)
{
    __builtin_trap();
}

/* The local array keeps each frame large and the add after the call keeps
 * the recursion from becoming a loop; depth_limit is only there so the
 * compiler cannot prove the recursion infinite. */
GT_FAULT_FN static int recurse(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = (char)depth;
    if (depth >= depth_limit)
        return frame[0];
    return recurse(depth + 1) + frame[511];
}

GT_FAULT_FN void gt_fault_stack_overflow(void)
{
    gt_fault_sink = recurse(0);
    abort();
}

/* Touching a mapped page that lies wholly past the end of a file raises
 * SIGBUS. The file is unlinked at once, so nothing is left behind. */
GT_FAULT_FN void gt_fault_bus(void)
{
    char path[] = "/tmp/grove-test-bus-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    unlink(path);
    long page = sysconf(_SC_PAGESIZE);
    volatile char *p =
        mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        abort();
    p[0] = 1;
    abort();
}

bool gt_div_zero_traps(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return true;
#else
    return false;
#endif
}

int gt_trap_signal(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return SIGILL;
#else
    return SIGTRAP;
#endif
}
