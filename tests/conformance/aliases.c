/* Aliases: OTP-SEMANTICS.md item L-20 through the public API (alias,
 * unalias, monitor with an alias, sends to an alias). The gen_server
 * tests cover the aliases behind calls (G-14). */
#include <pthread.h>
#include <string.h>

#include "grove_test.h"

static grove_process_info_t info_of(grove_pid_t p)
{
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(p, &info));
    return info;
}

/* Receives the next message through alias a and checks its tag. */
static void expect_via(grove_alias_t a, uint64_t tag)
{
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, a.ref, GT_WAIT_MS));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_USER);
    ASSERT_EQ(grove_msg_tag(m), tag);
    ASSERT_REF_EQ(grove_msg_ref(m), a.ref);
    grove_msg_free(m);
}

/* L-20: a message through an active alias reaches its process, carrying
 * the alias's reference; an explicit alias stays active until unalias. */
PROC_TEST(L20_alias_delivers_with_its_ref)
{
    grove_alias_t a;
    grove_msg_t *m;
    ASSERT_OK(grove_alias(GROVE_ALIAS_EXPLICIT_UNALIAS, &a));
    ASSERT_PID_EQ(a.pid, grove_self());
    ASSERT_NE(a.ref.id, 0);
    ASSERT_OK(grove_send_alias(a, 7, "hi", 2));
    ASSERT_OK(grove_recv_ref(&m, a.ref, GT_WAIT_MS));
    ASSERT_EQ(grove_msg_tag(m), 7);
    ASSERT_EQ(grove_msg_size(m), 2);
    ASSERT_EQ(memcmp(grove_msg_data(m), "hi", 2), 0);
    ASSERT_PID_EQ(grove_msg_from(m), grove_self());
    grove_msg_free(m);
    ASSERT_OK(grove_send_alias(a, 8, NULL, 0));
    ASSERT_OK(grove_send_alias(a, 9, NULL, 0));
    expect_via(a, 8);
    expect_via(a, 9);
    ASSERT_EQ(grove_unalias(a), 1);
    ASSERT_EQ(grove_unalias(a), 0);
}

typedef struct alias_send {
    grove_alias_t to;
    uint64_t tag;
} alias_send_t;

static void send_once(void *arg)
{
    const alias_send_t *s = arg;
    if (grove_send_alias(s->to, s->tag, NULL, 0) != 0)
        grove_exit_error(1, "send failed");
}

/* Sends tag through a from another process and waits until that process
 * has ended (so the message is on its way first). */
static void send_from_other(grove_alias_t a, uint64_t tag)
{
    static alias_send_t req;
    req = (alias_send_t){a, tag};
    grove_pid_t p = SPAWN_MON(send_once, &req, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

/* L-20: after unalias, messages through the alias are dropped before the
 * mailbox, though the send succeeds; one sent before it stays queued, and
 * plain messages are not affected. */
PROC_TEST(L20_unalias_drops_later_messages)
{
    grove_alias_t a;
    ASSERT_OK(grove_alias(GROVE_ALIAS_EXPLICIT_UNALIAS, &a));
    send_from_other(a, 1);
    ASSERT_EQ(grove_unalias(a), 1);
    send_from_other(a, 2);
    ASSERT_OK(grove_send_alias(a, 3, NULL, 0));
    ASSERT_OK(grove_send(grove_self(), 4, NULL, 0));
    expect_via(a, 1);
    grove_msg_free(EXPECT_TAG(4));
    EXPECT_NO_MSG(50);
}

static void *thread_send(void *arg)
{
    const alias_send_t *s = arg;
    return (void *)(intptr_t)grove_send_alias(s->to, s->tag, "t", 1);
}

/* L-20: a plain thread can send to an alias; the sender is no process.
 * A message that arrived before the unalias is kept. */
PROC_TEST(L20_alias_send_from_thread)
{
    alias_send_t req;
    pthread_t t;
    void *rc;
    grove_msg_t *m;
    ASSERT_OK(grove_alias(GROVE_ALIAS_EXPLICIT_UNALIAS, &req.to));
    req.tag = 5;
    ASSERT_EQ(pthread_create(&t, NULL, thread_send, &req), 0);
    ASSERT_EQ(pthread_join(t, &rc), 0);
    ASSERT_EQ((intptr_t)rc, 0);
    /* Sent before the unalias, not yet looked at: it stays. */
    ASSERT_EQ(grove_unalias(req.to), 1);
    ASSERT_OK(grove_recv_ref(&m, req.to.ref, GT_WAIT_MS));
    ASSERT_EQ(grove_msg_tag(m), 5);
    ASSERT_PID_EQ(grove_msg_from(m), GROVE_PID_NONE);
    grove_msg_free(m);
}

/* L-20: an alias made with the reply option takes one message and is then
 * deactivated by itself. */
PROC_TEST(L20_reply_alias_takes_one_message)
{
    grove_alias_t a;
    ASSERT_OK(grove_alias(GROVE_ALIAS_REPLY, &a));
    send_from_other(a, 1);
    send_from_other(a, 2);
    ASSERT_OK(grove_send(grove_self(), 3, NULL, 0));
    expect_via(a, 1);
    grove_msg_free(EXPECT_TAG(3));
    EXPECT_NO_MSG(50);
    ASSERT_EQ(grove_unalias(a), 0);
}

/* L-20: a monitor made with {alias, demonitor} deactivates its alias when
 * the monitor is removed, by grove_demonitor or by the DOWN. */
PROC_TEST(L20_monitor_alias_demonitor)
{
    grove_pid_t t = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_alias_t a, b;
    ASSERT_OK(grove_monitor_alias(t, GROVE_ALIAS_DEMONITOR, &a));
    ASSERT_PID_EQ(a.pid, grove_self());
    ASSERT_EQ(info_of(grove_self()).monitors, 1);
    ASSERT_OK(grove_send_alias(a, 1, NULL, 0));
    expect_via(a, 1);
    ASSERT_EQ(grove_demonitor(a.ref, GROVE_DEMONITOR_INFO), 1);
    ASSERT_OK(grove_send_alias(a, 2, NULL, 0));
    EXPECT_NO_MSG(50);
    ASSERT_EQ(grove_unalias(a), 0);

    ASSERT_OK(grove_monitor_alias(t, GROVE_ALIAS_DEMONITOR, &b));
    ASSERT_REF_NE(a.ref, b.ref);
    send_from_other(b, 3);
    gt_echo_exit(t, grove_reason_error(6, "gone"));
    /* The message sent before the DOWN stays; after it, the alias is gone. */
    ASSERT_REASON_EQ(EXPECT_DOWN(b.ref, t), grove_reason_error(6, "gone"));
    ASSERT_OK(grove_send_alias(b, 4, NULL, 0));
    expect_via(b, 3);
    EXPECT_NO_MSG(50);
    ASSERT_EQ(grove_unalias(b), 0);
    ASSERT_EQ(info_of(grove_self()).monitors, 0);
}

/* L-20: unalias on a monitor alias ends the alias and keeps the monitor. */
PROC_TEST(L20_unalias_keeps_the_monitor)
{
    grove_pid_t t = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_alias_t a;
    ASSERT_OK(grove_monitor_alias(t, GROVE_ALIAS_DEMONITOR, &a));
    ASSERT_EQ(grove_unalias(a), 1);
    ASSERT_EQ(grove_unalias(a), 0);
    ASSERT_OK(grove_send_alias(a, 1, NULL, 0));
    EXPECT_NO_MSG(50);
    ASSERT_EQ(info_of(grove_self()).monitors, 1);
    gt_echo_exit(t, grove_reason_error(7, "gone"));
    ASSERT_REASON_EQ(EXPECT_DOWN(a.ref, t), grove_reason_error(7, "gone"));
    ASSERT_EQ(info_of(grove_self()).monitors, 0);
}

/* L-20: with {alias, reply_demonitor}, the first message through the alias
 * also removes the monitor: no DOWN follows when the target dies. */
PROC_TEST(L20_monitor_alias_reply_demonitor)
{
    grove_pid_t t = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_alias_t a;
    grove_ref_t watch;
    ASSERT_OK(grove_monitor_alias(t, GROVE_ALIAS_REPLY_DEMONITOR, &a));
    WAIT_UNTIL(info_of(t).monitored_by == 1);
    send_from_other(a, 1);
    send_from_other(a, 2);
    expect_via(a, 1);
    EXPECT_NO_MSG(50);
    ASSERT_EQ(info_of(grove_self()).monitors, 0);
    WAIT_UNTIL(info_of(t).monitored_by == 0);
    ASSERT_OK(grove_monitor(t, &watch));
    gt_echo_exit(t, grove_reason_error(7, "late"));
    ASSERT_REASON_EQ(EXPECT_DOWN(watch, t), grove_reason_error(7, "late"));
    EXPECT_NO_MSG(50);
    ASSERT_EQ(grove_unalias(a), 0);
}

/* L-20: with {alias, explicit_unalias} the alias outlives its monitor. */
PROC_TEST(L20_monitor_alias_explicit_outlives_monitor)
{
    grove_pid_t t = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_alias_t a;
    ASSERT_OK(grove_monitor_alias(t, GROVE_ALIAS_EXPLICIT_UNALIAS, &a));
    ASSERT_EQ(grove_demonitor(a.ref, GROVE_DEMONITOR_INFO), 1);
    ASSERT_OK(grove_send_alias(a, 1, NULL, 0));
    expect_via(a, 1);
    STOP_ECHO(t);
    ASSERT_OK(grove_send_alias(a, 2, NULL, 0));
    expect_via(a, 2);
    ASSERT_EQ(grove_unalias(a), 1);
}

/* L-17 with an alias: monitoring a dead process gives DOWN noproc, and a
 * demonitor-mode alias goes with that monitor. */
static void return_at_once(void *arg) { (void)arg; }

PROC_TEST(L20_monitor_alias_dead_target)
{
    grove_pid_t dead = SPAWN_MON(return_at_once, NULL, NULL);
    grove_alias_t a;
    ASSERT_REASON_EQ(AWAIT_EXIT(dead), grove_reason_normal());
    ASSERT_OK(grove_monitor_alias(dead, GROVE_ALIAS_DEMONITOR, &a));
    ASSERT_REASON_KIND(EXPECT_DOWN(a.ref, dead), GROVE_EXIT_NOPROC);
    ASSERT_OK(grove_send_alias(a, 1, NULL, 0));
    EXPECT_NO_MSG(50);
    ASSERT_EQ(grove_unalias(a), 0);
}

static grove_pid_t alias_owner_parent;

static void hand_out_alias(void *arg)
{
    grove_alias_t a;
    (void)arg;
    if (grove_alias(GROVE_ALIAS_EXPLICIT_UNALIAS, &a) != 0 ||
        grove_send(alias_owner_parent, 1, &a, sizeof a) != 0)
        grove_exit_error(1, "alias failed");
}

/* Bad arguments get an error code, an alias of another process cannot be
 * deactivated by the caller, and a dead owner's alias reports noproc. */
PROC_TEST(L20_alias_errors)
{
    grove_pid_t t = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_alias_t a, other;
    ASSERT_ERR(grove_alias(GROVE_ALIAS_EXPLICIT_UNALIAS, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_alias(GROVE_ALIAS_DEMONITOR, &a), GROVE_EINVAL);
    ASSERT_ERR(grove_alias((grove_alias_mode_t)9, &a), GROVE_EINVAL);
    ASSERT_ERR(grove_monitor_alias(t, GROVE_ALIAS_REPLY, &a), GROVE_EINVAL);
    ASSERT_ERR(grove_monitor_alias(t, GROVE_ALIAS_DEMONITOR, NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_monitor_alias(GROVE_PID_NONE, GROVE_ALIAS_DEMONITOR, &a),
               GROVE_EINVAL);
    ASSERT_EQ(info_of(grove_self()).monitors, 0);
    ASSERT_OK(grove_alias(GROVE_ALIAS_EXPLICIT_UNALIAS, &a));
    ASSERT_ERR(grove_send_alias((grove_alias_t){grove_self(), GROVE_REF_NONE},
                                1, NULL, 0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_alias(a, 1, NULL, 5), GROVE_EINVAL);
    ASSERT_EQ(grove_unalias((grove_alias_t){grove_self(), GROVE_REF_NONE}), 0);

    alias_owner_parent = grove_self();
    grove_pid_t owner = SPAWN_MON(hand_out_alias, NULL, NULL);
    grove_msg_t *m = EXPECT_TAG(1);
    memcpy(&other, grove_msg_data(m), sizeof other);
    grove_msg_free(m);
    ASSERT_PID_EQ(other.pid, owner);
    ASSERT_EQ(grove_unalias(other), 0);
    ASSERT_REASON_EQ(AWAIT_EXIT(owner), grove_reason_normal());
    ASSERT_ERR(grove_send_alias(other, 1, NULL, 0), GROVE_ENOPROC);
    ASSERT_EQ(grove_unalias(a), 1);
    STOP_ECHO(t);
}

TEST(L20_alias_outside_a_process)
{
    grove_alias_t a = {GROVE_PID_NONE, GROVE_REF_NONE};
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    grove_pid_t t = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_ERR(grove_alias(GROVE_ALIAS_EXPLICIT_UNALIAS, &a), GROVE_ENOTPROC);
    ASSERT_ERR(grove_unalias(a), GROVE_ENOTPROC);
    ASSERT_ERR(grove_monitor_alias(t, GROVE_ALIAS_DEMONITOR, &a),
               GROVE_ENOTPROC);
    ASSERT_OK(grove_exit_signal(t, &(grove_reason_t){.kind = GROVE_EXIT_KILL}));
    ASSERT_OK(grove_stop());
}
