/* Messages: copying sends, selective receive (by tag, by reference, by
 * predicate), receive timeouts, ownership-transfer sends, timers and
 * sleep. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

/* A send copies: the sender may reuse its buffer at once. */
PROC_TEST(send_copies_payload)
{
    grove_pid_t self = grove_self();
    char buf[64];
    for (int i = 0; i < 10; i++) {
        memset(buf, 'a' + i, sizeof buf);
        ASSERT_OK(grove_send(self, (uint64_t)i, buf, sizeof buf));
    }
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < 10; i++) {
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, 0));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_USER);
        ASSERT_EQ(grove_msg_tag(m), i);
        ASSERT_PID_EQ(grove_msg_from(m), self);
        ASSERT_EQ(grove_msg_size(m), sizeof buf);
        const char *d = grove_msg_data(m);
        for (size_t k = 0; k < sizeof buf; k++)
            ASSERT_EQ(d[k], 'a' + i);
        ASSERT_NULL(grove_msg_reason(m));
        grove_msg_free(m);
    }
    /* Empty payloads are fine. */
    ASSERT_OK(grove_send(self, 99, NULL, 0));
    grove_msg_t *m;
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_size(m), 0);
    grove_msg_free(m);
}

/* A large payload arrives intact. */
PROC_TEST(send_large_payload)
{
    size_t n = (size_t)8 << 20;
    unsigned char *buf = malloc(n);
    ASSERT_NOT_NULL(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 31 + 7);
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_OK(grove_send(a, GT_TAG_PING, buf, n));
    grove_msg_t *m = EXPECT_TAG(GT_TAG_PONG);
    ASSERT_EQ(grove_msg_size(m), n);
    ASSERT_EQ(memcmp(grove_msg_data(m), buf, n), 0);
    grove_msg_free(m);
    free(buf);
    STOP_ECHO(a);
}

/* Selective receive by tag leaves the other messages queued, in order. */
PROC_TEST(recv_by_tag)
{
    grove_pid_t self = grove_self();
    for (uint32_t i = 0; i < 30; i++)
        ASSERT_OK(grove_send(self, i % 3, &i, sizeof i));
    grove_msg_t *m;
    for (uint32_t want = 2; want < 30; want += 3) {
        ASSERT_OK(grove_recv_tag(&m, 2, 0));
        uint32_t v;
        memcpy(&v, grove_msg_data(m), sizeof v);
        ASSERT_EQ(v, want);
        grove_msg_free(m);
    }
    ASSERT_ERR(grove_recv_tag(&m, 2, 0), GROVE_ETIMEDOUT);
    for (uint32_t i = 0; i < 30; i++) {
        if (i % 3 == 2)
            continue;
        ASSERT_OK(grove_recv(&m, 0));
        uint32_t v;
        memcpy(&v, grove_msg_data(m), sizeof v);
        ASSERT_EQ(v, i);
        grove_msg_free(m);
    }
    EXPECT_NO_MSG(0);
}

/* recv_tag matches user messages only: an EXIT never matches a tag. */
PROC_TEST(recv_tag_ignores_exit_messages)
{
    grove_pid_t self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_reason_t sd = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_exit_signal(self, &sd));
    grove_msg_t *m;
    ASSERT_ERR(grove_recv_tag(&m, 0, 20), GROVE_ETIMEDOUT);
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_EXIT);
    grove_msg_free(m);
}

/* A reply matched by reference, past a long queue of other messages,
 * which stay queued in order. */
PROC_TEST(recv_by_ref)
{
    grove_pid_t self = grove_self();
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    for (uint32_t i = 0; i < 1000; i++)
        ASSERT_OK(grove_send(self, 5, &i, sizeof i));
    grove_ref_t ref = grove_make_ref();
    ASSERT_OK(grove_send_ref(a, GT_TAG_PING, ref, "r", 1));
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, ref, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_tag(m), GT_TAG_PONG);
    ASSERT_REF_EQ(grove_msg_ref(m), ref);
    ASSERT_PID_EQ(grove_msg_from(m), a);
    grove_msg_free(m);

    /* An older message carrying a reference is still found once a newer
     * reference was made (the position mark only covers the newest). */
    grove_ref_t old = grove_make_ref();
    ASSERT_OK(grove_send_ref(self, 6, old, NULL, 0));
    grove_ref_t newer = grove_make_ref();
    (void)newer;
    ASSERT_OK(grove_recv_ref(&m, old, 0));
    ASSERT_EQ(grove_msg_tag(m), 6);
    grove_msg_free(m);
    ASSERT_ERR(grove_recv_ref(&m, newer, 0), GROVE_ETIMEDOUT);

    for (uint32_t i = 0; i < 1000; i++) {
        ASSERT_OK(grove_recv(&m, 0));
        uint32_t v;
        memcpy(&v, grove_msg_data(m), sizeof v);
        ASSERT_EQ(v, i);
        grove_msg_free(m);
    }
    STOP_ECHO(a);
}

/* recv_ref also matches the DOWN of a monitor's reference. */
PROC_TEST(recv_ref_matches_down)
{
    grove_pid_t self = grove_self();
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_ref_t ref;
    ASSERT_OK(grove_monitor(a, &ref));
    ASSERT_OK(grove_send(self, 1, NULL, 0));
    gt_echo_exit(a, grove_reason_error(2, "r"));
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, ref, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
    ASSERT_PID_EQ(grove_msg_from(m), a);
    grove_msg_free(m);
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_tag(m), 1);
    grove_msg_free(m);
}

/* Selective receive by predicate. */
static bool is_odd(const grove_msg_t *m, void *arg)
{
    int *calls = arg;
    (*calls)++;
    return grove_msg_kind(m) == GROVE_MSG_USER && (grove_msg_tag(m) & 1);
}

PROC_TEST(recv_by_predicate)
{
    grove_pid_t self = grove_self();
    for (uint64_t i = 0; i < 20; i++)
        ASSERT_OK(grove_send(self, i, NULL, 0));
    int calls = 0;
    grove_msg_t *m;
    for (uint64_t want = 1; want < 20; want += 2) {
        ASSERT_OK(grove_recv_match(&m, is_odd, &calls, 0));
        ASSERT_EQ(grove_msg_tag(m), want);
        grove_msg_free(m);
    }
    ASSERT_GE(calls, 10);
    ASSERT_ERR(grove_recv_match(&m, is_odd, &calls, 0), GROVE_ETIMEDOUT);
    /* flush with a predicate removes only what matches. */
    for (uint64_t i = 100; i < 110; i++)
        ASSERT_OK(grove_send(self, i, NULL, 0));
    ASSERT_EQ(grove_flush(is_odd, &calls), 5);
    for (uint64_t want = 0; want < 20; want += 2) {
        ASSERT_OK(grove_recv(&m, 0));
        ASSERT_EQ(grove_msg_tag(m), want);
        grove_msg_free(m);
    }
    for (uint64_t want = 100; want < 110; want += 2) {
        ASSERT_OK(grove_recv(&m, 0));
        ASSERT_EQ(grove_msg_tag(m), want);
        grove_msg_free(m);
    }
    ASSERT_OK(grove_send(self, 1, NULL, 0));
    ASSERT_OK(grove_send(self, 2, NULL, 0));
    ASSERT_EQ(grove_flush(NULL, NULL), 2);
    EXPECT_NO_MSG(0);
}

/* A selective receive that waits sees messages arriving meanwhile. */
static void send_later(void *arg)
{
    grove_pid_t *to = arg;
    grove_sleep(30);
    grove_send(*to, 10, NULL, 0);
    grove_sleep(30);
    grove_send(*to, 11, NULL, 0);
}

PROC_TEST(recv_selective_waits_for_match)
{
    static grove_pid_t self;
    self = grove_self();
    SPAWN(send_later, &self, NULL);
    grove_msg_t *m;
    ASSERT_OK(grove_recv_tag(&m, 11, gt_scaled_ms(GT_WAIT_MS)));
    grove_msg_free(m);
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_tag(m), 10);
    grove_msg_free(m);
}

/* Timeouts: 0 polls, a finite timeout waits about that long, infinity
 * waits until a message comes; negative values other than infinity are
 * invalid. */
PROC_TEST(recv_timeouts)
{
    static grove_pid_t self;
    self = grove_self();
    grove_msg_t *m = NULL;
    int64_t t0 = (int64_t)grove_now_ms();
    ASSERT_ERR(grove_recv(&m, 0), GROVE_ETIMEDOUT);
    ASSERT_NULL(m);
    ASSERT_LT((int64_t)grove_now_ms() - t0, gt_scaled_ms(200));

    t0 = (int64_t)grove_now_ms();
    ASSERT_ERR(grove_recv(&m, 50), GROVE_ETIMEDOUT);
    int64_t took = (int64_t)grove_now_ms() - t0;
    ASSERT_GE(took, 50);
    ASSERT_LT(took, gt_scaled_ms(1000));

    t0 = (int64_t)grove_now_ms();
    ASSERT_ERR(grove_recv_tag(&m, 3, 30), GROVE_ETIMEDOUT);
    ASSERT_GE((int64_t)grove_now_ms() - t0, 30);

    ASSERT_ERR(grove_recv(&m, -2), GROVE_EINVAL);
    ASSERT_ERR(grove_recv_tag(&m, 1, -5), GROVE_EINVAL);

    SPAWN(send_later, &self, NULL);
    t0 = (int64_t)grove_now_ms();
    ASSERT_OK(grove_recv(&m, GROVE_INFINITY));
    ASSERT_GE((int64_t)grove_now_ms() - t0, 25);
    ASSERT_EQ(grove_msg_tag(m), 10);
    grove_msg_free(m);
    ASSERT_OK(grove_recv(&m, GROVE_INFINITY));
    ASSERT_EQ(grove_msg_tag(m), 11);
    grove_msg_free(m);

    /* A message already queued is returned by a poll. */
    ASSERT_OK(grove_send(self, 4, NULL, 0));
    ASSERT_OK(grove_recv(&m, 0));
    grove_msg_free(m);
}

/* An exit signal that kills ends a process blocked in an infinite
 * receive or in a long sleep. */
static void recv_forever(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    grove_recv_tag(&m, 12345, GROVE_INFINITY);
    grove_exit_error(1, "receive returned");
}

static void sleep_long(void *arg)
{
    (void)arg;
    grove_sleep(60000);
    grove_exit_error(1, "sleep returned");
}

PROC_TEST(signals_interrupt_blocked_process)
{
    grove_entry_fn fns[2] = {recv_forever, sleep_long};
    for (int i = 0; i < 2; i++) {
        grove_pid_t p = SPAWN_MON(fns[i], NULL, NULL);
        grove_sleep(gt_scaled_ms(20));
        int64_t t0 = (int64_t)grove_now_ms();
        grove_reason_t sd = grove_reason_shutdown("wake");
        ASSERT_OK(grove_exit_signal(p, &sd));
        ASSERT_REASON_EQ(AWAIT_EXIT(p), sd);
        ASSERT_LT((int64_t)grove_now_ms() - t0, gt_scaled_ms(2000));
    }
}

/* grove_send_owned: the payload is not copied, and its destructor runs
 * exactly once: when the message is freed, when the receiver dies
 * without receiving it, or at once when it cannot be delivered. */
static atomic_int owned_freed;

static void owned_dtor(void *p)
{
    free(p);
    atomic_fetch_add(&owned_freed, 1);
}

PROC_TEST(send_owned_destructor)
{
    grove_pid_t self = grove_self();
    atomic_store(&owned_freed, 0);
    char *buf = malloc(32);
    ASSERT_NOT_NULL(buf);
    strcpy(buf, "owned");
    ASSERT_OK(grove_send_owned(self, 3, buf, 32, owned_dtor));
    grove_msg_t *m;
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_TRUE(grove_msg_data(m) == buf);
    ASSERT_EQ(grove_msg_size(m), 32);
    ASSERT_STREQ((const char *)grove_msg_data(m), "owned");
    ASSERT_EQ(atomic_load(&owned_freed), 0);
    grove_msg_free(m);
    ASSERT_EQ(atomic_load(&owned_freed), 1);

    /* The receiver dies with the message unread. */
    grove_pid_t a = SPAWN_MON(recv_forever, NULL, NULL);
    buf = malloc(16);
    ASSERT_NOT_NULL(buf);
    ASSERT_OK(grove_send_owned(a, 1, buf, 16, owned_dtor));
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(a, &kill));
    ASSERT_REASON_EQ(AWAIT_EXIT(a), grove_reason_of(GROVE_EXIT_KILLED));
    WAIT_UNTIL(atomic_load(&owned_freed) == 2);

    /* The receiver is already dead: the destructor runs before return. */
    buf = malloc(8);
    ASSERT_NOT_NULL(buf);
    ASSERT_ERR(grove_send_owned(a, 1, buf, 8, owned_dtor), GROVE_ENOPROC);
    ASSERT_EQ(atomic_load(&owned_freed), 3);

    /* A NULL destructor is allowed. */
    static char fixed[4] = "abc";
    ASSERT_OK(grove_send_owned(self, 2, fixed, sizeof fixed, NULL));
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_TRUE(grove_msg_data(m) == fixed);
    grove_msg_free(m);
    grove_sleep(10);
    ASSERT_EQ(atomic_load(&owned_freed), 3);
}

/* A message left in the mailbox of a process that returns is freed. */
static void leave_messages(void *arg)
{
    grove_pid_t *parent = arg;
    grove_pid_t self = grove_self();
    for (int i = 0; i < 100; i++)
        grove_send(self, 1, "leftover", 8);
    char *buf = malloc(4);
    grove_send_owned(self, 2, buf, 4, owned_dtor);
    grove_send(*parent, 1, NULL, 0);
}

PROC_TEST(unreceived_messages_freed_at_exit)
{
    static grove_pid_t self;
    self = grove_self();
    atomic_store(&owned_freed, 0);
    grove_pid_t p = SPAWN_MON(leave_messages, &self, NULL);
    grove_msg_free(EXPECT_TAG(1));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    WAIT_UNTIL(atomic_load(&owned_freed) == 1);
    /* The harness then checks that messages_live is back to zero. */
}

/* send_after delivers after the delay; cancel before firing stops it. */
PROC_TEST(send_after_and_cancel)
{
    grove_pid_t self = grove_self();
    grove_timer_t t;
    int64_t t0 = (int64_t)grove_now_ms();
    ASSERT_OK(grove_send_after(self, 40, 21, "tick", 4, &t));
    ASSERT_NE(t.id, 0);
    grove_msg_t *m;
    ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_GE((int64_t)grove_now_ms() - t0, 40);
    ASSERT_EQ(grove_msg_tag(m), 21);
    ASSERT_EQ(grove_msg_size(m), 4);
    ASSERT_EQ(memcmp(grove_msg_data(m), "tick", 4), 0);
    grove_msg_free(m);
    /* It fired: cancelling now finds nothing. */
    ASSERT_ERR(grove_cancel_timer(t), GROVE_ENOTFOUND);

    ASSERT_OK(grove_send_after(self, 50, 22, NULL, 0, &t));
    ASSERT_EQ(gt_stats().timers_live, 1);
    ASSERT_OK(grove_cancel_timer(t));
    ASSERT_ERR(grove_cancel_timer(t), GROVE_ENOTFOUND);
    ASSERT_EQ(gt_stats().timers_live, 0);
    EXPECT_NO_MSG(100);

    /* Several timers fire in deadline order. */
    ASSERT_OK(grove_send_after(self, 60, 3, NULL, 0, NULL));
    ASSERT_OK(grove_send_after(self, 20, 1, NULL, 0, NULL));
    ASSERT_OK(grove_send_after(self, 40, 2, NULL, 0, NULL));
    for (uint64_t want = 1; want <= 3; want++) {
        ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS)));
        ASSERT_EQ(grove_msg_tag(m), want);
        grove_msg_free(m);
    }
    /* Zero delay sends at once. */
    ASSERT_OK(grove_send_after(self, 0, 4, NULL, 0, NULL));
    ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_tag(m), 4);
    grove_msg_free(m);
    ASSERT_ERR(grove_cancel_timer((grove_timer_t){0}), GROVE_ENOTFOUND);
}

/* A timer to a process that dies before it fires is dropped then, and
 * leaves nothing live. */
PROC_TEST(send_after_to_dead_process)
{
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_timer_t t;
    ASSERT_OK(grove_send_after(a, 30, 1, "x", 1, &t));
    STOP_ECHO(a);
    WAIT_UNTIL(gt_stats().timers_live == 0);
    ASSERT_ERR(grove_cancel_timer(t), GROVE_ENOTFOUND);
}

/* grove_sleep waits at least as long as asked. */
PROC_TEST(sleep_durations)
{
    int64_t t0 = (int64_t)grove_now_ms();
    ASSERT_OK(grove_sleep(50));
    int64_t took = (int64_t)grove_now_ms() - t0;
    ASSERT_GE(took, 50);
    ASSERT_LT(took, gt_scaled_ms(1000));
    ASSERT_OK(grove_sleep(0));
    ASSERT_ERR(grove_sleep(-3), GROVE_EINVAL);
    /* Sleeping leaves the mailbox alone. */
    grove_pid_t self = grove_self();
    ASSERT_OK(grove_send(self, 8, NULL, 0));
    ASSERT_OK(grove_sleep(5));
    grove_msg_t *m;
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_tag(m), 8);
    grove_msg_free(m);
}

/* While one process sleeps, others run on its scheduler. */
static atomic_int ticks;

static void ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        atomic_fetch_add(&ticks, 1);
        grove_sleep(1);
    }
}

PROC_TEST_OPTS(sleep_lets_others_run, .schedulers = 1)
{
    atomic_store(&ticks, 0);
    grove_pid_t p = SPAWN_MON(ticker, NULL, NULL);
    grove_sleep(gt_scaled_ms(200));
    ASSERT_EQ(atomic_load(&ticks), 20);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}
