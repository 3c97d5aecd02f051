/* Timeouts past the timer wheel's range (2^36 ms) and deadlines that
 * cross a 2^36 ms boundary are kept and fire at the right time, never
 * early, never lost, and never corrupt the wheel. */
#include "grove_test.h"

#define HUGE ((grove_timeout_t)1 << 40)

static void sender(void *arg)
{
    grove_sleep(5);
    grove_send(*(grove_pid_t *)arg, 1, "x", 1);
}

PROC_TEST(timers_huge_timeouts_placed_and_cancelled)
{
    /* A receive with a huge timeout that a message ends. */
    grove_pid_t self = grove_self();
    SPAWN(sender, &self, NULL);
    grove_msg_t *m = NULL;
    ASSERT_OK(grove_recv(&m, HUGE));
    grove_msg_free(m);
    /* send_after far in the future, then cancelled. */
    grove_timer_t t, u;
    ASSERT_OK(grove_send_after(self, HUGE, 2, "y", 1, &t));
    ASSERT_OK(grove_send_after(self, HUGE * 3, 3, "z", 1, &u));
    ASSERT_OK(grove_cancel_timer(t));
    ASSERT_OK(grove_cancel_timer(u));
    ASSERT_ERR(grove_recv_tag(&m, 2, 20), GROVE_ETIMEDOUT);
}

/* With the logical clock of a deterministic build, time jumps to the next
 * deadline: timers really cross 2^36 ms boundaries and must fire. */
PROC_TEST(timers_cross_wheel_boundaries)
{
#if !defined(GROVE_DETERMINISTIC)
    SKIP_TEST("needs the logical clock of a GROVE_DETERMINISTIC build");
#else
    grove_pid_t self = grove_self();
    uint64_t t0 = grove_now_ms();
    ASSERT_OK(grove_send_after(self, HUGE, 1, "a", 1, NULL));
    ASSERT_OK(grove_send_after(self, HUGE + 7, 2, "b", 1, NULL));
    ASSERT_OK(grove_send_after(self, (grove_timeout_t)1 << 37, 3, "c", 1,
                               NULL));
    grove_msg_t *m = NULL;
    uint64_t tags[3];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(grove_recv(&m, GROVE_INFINITY));
        tags[i] = grove_msg_tag(m);
        grove_msg_free(m);
    }
    ASSERT_EQ(tags[0], 3);
    ASSERT_EQ(tags[1], 1);
    ASSERT_EQ(tags[2], 2);
    ASSERT_GE(grove_now_ms() - t0, (uint64_t)HUGE + 7);
    /* A receive timeout across a boundary. */
    uint64_t t1 = grove_now_ms();
    ASSERT_ERR(grove_recv(&m, HUGE), GROVE_ETIMEDOUT);
    ASSERT_GE(grove_now_ms() - t1, (uint64_t)HUGE);
#endif
}
