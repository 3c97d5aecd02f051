/* Process stacks: an idle process gives its stack pages back (parks)
 * and gets its stack back intact when it wakes; deep use of a large
 * stack works. */
#include <stdio.h>
#include <string.h>

#include "grove_test.h"

enum { PATTERN_BYTES = 8192, PARKERS = 50 };

/* Fills a stack array, sleeps in receive long enough to be parked, and
 * checks the array when it wakes. Exits with error 1 if a byte changed. */
__attribute__((noinline)) static int hold_pattern(unsigned seed)
{
    volatile unsigned char buf[PATTERN_BYTES];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + seed);
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) != 0)
        return -1;
    grove_msg_free(m);
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i] != (unsigned char)(i * 7 + seed))
            return (int)i + 1;
    return 0;
}

static void parker(void *arg)
{
    int bad = hold_pattern((unsigned)(uintptr_t)arg);
    if (bad)
        grove_exit_error(1, "stack byte %d changed while parked", bad - 1);
}

static bool parked(grove_pid_t p)
{
    grove_process_info_t info;
    return grove_process_info(p, &info) == 0 && info.stack_parked;
}

static uint64_t stacks_parked(void) { return gt_stats().stacks_parked; }

PROC_TEST_OPTS(idle_stack_parked_and_restored, .stack_trim_ms = 20)
{
    static grove_pid_t pids[PARKERS];
    uint64_t base = stacks_parked();
    for (int i = 0; i < PARKERS; i++)
        pids[i] = SPAWN_MON(parker, (void *)(uintptr_t)i, NULL);
    WAIT_UNTIL(stacks_parked() >= base + PARKERS);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(pids[0], &info));
    ASSERT_EQ(info.status, GROVE_STATUS_WAITING);
    ASSERT_GE(info.stack_used, PATTERN_BYTES);
    for (int i = 0; i < PARKERS; i++)
        ASSERT_OK(grove_send(pids[i], 1, NULL, 0));
    for (int i = 0; i < PARKERS; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(pids[i]), grove_reason_normal());
    WAIT_UNTIL(stacks_parked() == base);
}

/* process_info says when a process's stack is parked. The test waits on
 * p itself: the count of parked stacks can also rise when the test
 * process's own nap runs late (slow hosts, valgrind) and its stack is
 * parked meanwhile. */
PROC_TEST_OPTS(process_info_reports_parked_stack, .stack_trim_ms = 20)
{
    uint64_t base = stacks_parked();
    grove_pid_t p = SPAWN_MON(parker, (void *)(uintptr_t)1, NULL);
    WAIT_UNTIL(parked(p));
    ASSERT_GT(stacks_parked(), base);
    ASSERT_OK(grove_send(p, 1, NULL, 0));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

/* Parked, woken, parked again: the stack survives every round. */
static void park_many_times(void *arg)
{
    (void)arg;
    for (unsigned round = 0; round < 5; round++) {
        int bad = hold_pattern(round);
        if (bad)
            grove_exit_error(1, "round %u: byte %d changed", round, bad - 1);
    }
}

PROC_TEST_OPTS(stack_parks_repeatedly, .stack_trim_ms = 10)
{
    uint64_t base = stacks_parked();
    grove_pid_t p = SPAWN_MON(park_many_times, NULL, NULL);
    for (int round = 0; round < 5; round++) {
        WAIT_UNTIL(parked(p));
        ASSERT_OK(grove_send(p, 1, NULL, 0));
        WAIT_UNTIL(stacks_parked() == base);
    }
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

/* With trimming disabled nothing is parked. */
PROC_TEST_OPTS(stack_trim_disabled, .stack_trim_ms = -1)
{
    uint64_t base = stacks_parked();
    grove_pid_t p = SPAWN_MON(parker, (void *)(uintptr_t)3, NULL);
    grove_sleep(gt_scaled_ms(300));
    ASSERT_EQ(stacks_parked(), base);
    ASSERT_OK(grove_send(p, 1, NULL, 0));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

/* A process waiting in receive keeps only the frames under the receive:
 * the runtime's frames there stay small (they are what a parked stack
 * saves for every idle process). Optimized builds without sanitizers
 * only: the sanitizers and -O0 make every frame larger. */
static __attribute__((noinline)) void plain_receiver(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

PROC_TEST(waiting_process_keeps_few_stack_bytes)
{
    grove_pid_t p = SPAWN_MON(plain_receiver, NULL, NULL);
    grove_process_info_t info;
    WAIT_UNTIL(grove_process_info(p, &info) == 0 &&
               info.status == GROVE_STATUS_WAITING);
    ASSERT_OK(grove_process_info(p, &info));
    printf("# stack bytes in use while waiting: %zu\n", (size_t)info.stack_used);
    ASSERT_GT(info.stack_used, 0);
#if defined(__OPTIMIZE__) && !defined(GROVE_ASAN) &&                         \
    !defined(__SANITIZE_ADDRESS__) && !defined(GROVE_TSAN) &&               \
    !defined(__SANITIZE_THREAD__)
    ASSERT_LT(info.stack_used, 400);
#endif
    ASSERT_OK(grove_send(p, 1, NULL, 0));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}
