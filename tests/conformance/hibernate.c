/* grove_hibernate, erlang:hibernate/3 for a plain process: the process
 * gives its stack back and waits; a message (queued before or after)
 * starts it again at the given function on an empty stack, with the
 * message still queued; signals act while it waits; the process ends
 * normally when the function returns. */
#include <string.h>

#include "grove_test.h"

enum { TAG_GO = 1, TAG_SEEN = 2, TAG_ROUNDS = 3 };

static grove_pid_t tester;

/* Receives what woke it and sends its tag and data back. */
static void woken(void *arg)
{
    grove_msg_t *m;
    /* The message that ended the hibernation is already queued. */
    if (grove_recv(&m, 0) != 0)
        grove_exit_error(1, "woken with an empty mailbox");
    uint64_t got[2] = {(uint64_t)(uintptr_t)arg, grove_msg_tag(m)};
    grove_msg_free(m);
    if (grove_send(tester, TAG_SEEN, got, sizeof got) != 0)
        grove_exit_error(2, "cannot report");
}

static void hibernator(void *arg)
{
    int rc = grove_hibernate(woken, arg);
    grove_exit_error(3, "grove_hibernate returned %d", rc);
}

static const uint64_t *seen_data(grove_msg_t *m)
{
    return (const uint64_t *)grove_msg_data(m);
}

/* Waiting, it holds no stack; a message starts the function with its
 * argument, the message still there to receive; the process then ends
 * normally. */
PROC_TEST(hibernate_message_starts_function)
{
    tester = grove_self();
    grove_pid_t p = SPAWN_MON(hibernator, (void *)(uintptr_t)42, NULL);
    grove_process_info_t info;
    WAIT_UNTIL(grove_process_info(p, &info) == 0 &&
               info.status == GROVE_STATUS_WAITING && info.stack_size == 0);
    ASSERT_TRUE(info.stack_parked);
    EXPECT_NO_MSG(20);
    ASSERT_OK(grove_send(p, 77, NULL, 0));
    grove_msg_t *m = EXPECT_TAG(TAG_SEEN);
    ASSERT_EQ(seen_data(m)[0], 42);
    ASSERT_EQ(seen_data(m)[1], 77);
    grove_msg_free(m);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

static void self_sender(void *arg)
{
    grove_msg_t *m;
    if (grove_send(grove_self(), 55, NULL, 0) != 0)
        grove_exit_error(4, "cannot send to itself");
    /* A receive for another tag moves it from the inbox into the
     * mailbox, where it stays queued. */
    if (grove_recv_tag(&m, 56, 0) != GROVE_ETIMEDOUT)
        grove_exit_error(6, "took the wrong message");
    hibernator(arg);
}

/* A message already queued (received past, not taken) when it
 * hibernates starts the function at once. */
PROC_TEST(hibernate_with_message_queued_resumes_at_once)
{
    tester = grove_self();
    grove_pid_t p = SPAWN_MON(self_sender, (void *)(uintptr_t)7, NULL);
    grove_msg_t *m = EXPECT_TAG(TAG_SEEN);
    ASSERT_EQ(seen_data(m)[0], 7);
    ASSERT_EQ(seen_data(m)[1], 55);
    grove_msg_free(m);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

enum { ROUNDS = 2000, FRAME = 8192 };

/* Each round takes a message and hibernates again into itself, with a
 * large frame on the stack: were the old stack kept, ROUNDS frames of
 * FRAME bytes would overflow it long before the end. */
static void round_trip(void *arg)
{
    volatile unsigned char frame[FRAME];
    uintptr_t n = (uintptr_t)arg;
    grove_msg_t *m;
    frame[0] = (unsigned char)n;
    frame[FRAME - 1] = frame[0];
    if (grove_recv(&m, 0) != 0)
        grove_exit_error(5, "woken with an empty mailbox");
    grove_msg_free(m);
    if (n + 1 == ROUNDS) {
        uint64_t rounds = n + 1 + frame[FRAME - 1] - frame[0];
        grove_send(tester, TAG_ROUNDS, &rounds, sizeof rounds);
        return;
    }
    grove_hibernate(round_trip, (void *)(n + 1));
}

static void round_start(void *arg)
{
    (void)arg;
    grove_hibernate(round_trip, NULL);
}

PROC_TEST(hibernate_starts_on_an_empty_stack)
{
    tester = grove_self();
    grove_spawn_opts_t o = {.stack_size = 64 * 1024};
    grove_pid_t p = SPAWN_MON(round_start, NULL, &o);
    for (int i = 0; i < ROUNDS; i++)
        ASSERT_OK(grove_send(p, 9, NULL, 0));
    grove_msg_t *m = EXPECT_TAG(TAG_ROUNDS);
    ASSERT_EQ(seen_data(m)[0], ROUNDS);
    grove_msg_free(m);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

static void trapping_hibernator(void *arg)
{
    grove_trap_exit(true);
    hibernator(arg);
}

/* Signals act while it waits: an exit signal ends a hibernating process
 * that does not trap exits (no function runs), and comes as an EXIT
 * message, which starts the function, to one that does. */
PROC_TEST(hibernate_signals_act_while_waiting)
{
    tester = grove_self();
    grove_pid_t plain = SPAWN_MON(hibernator, NULL, NULL);
    grove_process_info_t info;
    WAIT_UNTIL(grove_process_info(plain, &info) == 0 &&
               info.status == GROVE_STATUS_WAITING && info.stack_size == 0);
    grove_reason_t why = grove_reason_error(12, "stop hibernating");
    ASSERT_OK(grove_exit_signal(plain, &why));
    ASSERT_REASON_EQ(AWAIT_EXIT(plain), why);
    EXPECT_NO_MSG(20);

    grove_pid_t trapper = SPAWN_MON(trapping_hibernator, (void *)(uintptr_t)3,
                                    NULL);
    WAIT_UNTIL(grove_process_info(trapper, &info) == 0 &&
               info.status == GROVE_STATUS_WAITING && info.stack_size == 0);
    ASSERT_OK(grove_exit_signal(trapper, &why));
    grove_msg_t *m = EXPECT_TAG(TAG_SEEN);
    ASSERT_EQ(seen_data(m)[0], 3);
    grove_msg_free(m);
    ASSERT_REASON_EQ(AWAIT_EXIT(trapper), grove_reason_normal());
}

/* A timer's message wakes it like any other. */
PROC_TEST(hibernate_woken_by_timer)
{
    tester = grove_self();
    grove_pid_t p = SPAWN_MON(hibernator, (void *)(uintptr_t)5, NULL);
    grove_timer_t t;
    ASSERT_OK(grove_send_after(p, 20, 31, NULL, 0, &t));
    grove_msg_t *m = EXPECT_TAG(TAG_SEEN);
    ASSERT_EQ(seen_data(m)[0], 5);
    ASSERT_EQ(seen_data(m)[1], 31);
    grove_msg_free(m);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

/* A NULL function is refused and the caller carries on with its stack. */
PROC_TEST(hibernate_bad_input)
{
    volatile int kept = 11;
    ASSERT_ERR(grove_hibernate(NULL, NULL), GROVE_EINVAL);
    ASSERT_EQ(kept, 11);
}

TEST(hibernate_outside_a_process)
{
    ASSERT_ERR(grove_hibernate(woken, NULL), GROVE_ENOTPROC);
}
