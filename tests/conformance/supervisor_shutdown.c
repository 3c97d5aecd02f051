/* The shutdown procedure: OTP-SEMANTICS.md items S-33 to S-37 (a child's
 * shutdown time, brutal_kill, infinity, children that do not trap exits,
 * whole-supervisor shutdown one child at a time in reverse order, the
 * parent's exit signal, strangers' exit signals, stray messages). */
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t kids[4];
static grove_sup_spec_t spec;

static grove_pid_t start_sup(size_t n)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.max_restarts = 3;
    spec.flags.max_seconds = 5;
    spec.children = kids;
    spec.nchildren = n;
    return SUP_START(&spec);
}

static grove_server_t S(grove_pid_t sup) { return grove_server_pid(sup); }

/* S-33: a child that ignores the shutdown signal is killed once its
 * shutdown time has passed. */
static void ignores_shutdown(int kind, grove_timeout_t shutdown)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("stubborn", kind, GROVE_PERMANENT);
    kids[1].shutdown = shutdown;
    gt_child_ignore_shutdown("stubborn", true);
    grove_pid_t sup = start_sup(2);
    grove_pid_t p = gt_child_pid("stubborn");
    WATCH(p);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "stubborn"));
    ASSERT_FALSE(grove_is_alive(p));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_EQ(gt_sup_child_state(sup, "stubborn"), GROVE_CHILD_UNDEFINED);
    ASSERT_TRUE(grove_is_alive(sup));
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "start:stubborn", "stop:a");
}

PROC_TEST(supervisor_S33_timeout_then_kill)
{
    ignores_shutdown(GT_START, 100);
}

PROC_TEST(supervisor_S33_timeout_then_kill_gen_server)
{
    ignores_shutdown(GT_GEN_SERVER, 100);
}

PROC_TEST(supervisor_S33_immediate_kills_a_stubborn_child)
{
    ignores_shutdown(GT_START, GROVE_SHUTDOWN_IMMEDIATE);
}

/* S-33: brutal_kill kills at once: the child never sees a shutdown. */
PROC_TEST(supervisor_S33_brutal_kill)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[1].shutdown = GROVE_SHUTDOWN_BRUTAL_KILL;
    grove_pid_t sup = start_sup(2);
    grove_pid_t p = gt_child_pid("b");
    WATCH(p);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "b"));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_of(GROVE_EXIT_KILLED));
    grove_reason_t why;
    ASSERT_OK(grove_sup_restart_child(S(sup), "b", &p, &why));
    WATCH(p);
    SUP_SHUTDOWN(sup);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_EVENTS("start:a", "start:b", "start:b", "stop:a");
}

/* S-33: a child given enough time stops by itself with shutdown; with
 * infinity the supervisor waits as long as it takes. terminate_child
 * returns only after the child is gone. */
static void slow_but_fine(int kind, grove_timeout_t shutdown)
{
    kids[0] = gt_child("slow", kind, GROVE_PERMANENT);
    kids[0].shutdown = shutdown;
    gt_child_stop_delay("slow", 300);
    grove_pid_t sup = start_sup(1);
    grove_pid_t p = gt_child_pid("slow");
    WATCH(p);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "slow"));
    ASSERT_EVENTS("start:slow", "stop:slow");
    ASSERT_FALSE(grove_is_alive(p));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_shutdown(NULL));
    SUP_SHUTDOWN(sup);
}

PROC_TEST(supervisor_S33_infinity_waits)
{
    slow_but_fine(GT_START, GROVE_SHUTDOWN_INFINITY);
}

PROC_TEST(supervisor_S33_infinity_waits_gen_server)
{
    slow_but_fine(GT_GEN_SERVER, GROVE_SHUTDOWN_INFINITY);
}

PROC_TEST(supervisor_S33_time_enough)
{
    slow_but_fine(GT_START, 5000);
}

PROC_TEST(supervisor_S33_default_time_enough)
{
    slow_but_fine(GT_GEN_SERVER, 0);
}

/* S-34: a child that does not trap exits dies at once with shutdown, and
 * its terminate does not run. */
PROC_TEST(supervisor_S34_non_trapping_child)
{
    kids[0] = gt_child("plain", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("gs", GT_GEN_SERVER, GROVE_PERMANENT);
    gt_child_no_trap("plain", true);
    gt_child_no_trap("gs", true);
    grove_pid_t sup = start_sup(2);
    grove_pid_t p1 = gt_child_pid("plain"), p2 = gt_child_pid("gs");
    WATCH(p1);
    WATCH(p2);
    SUP_SHUTDOWN(sup);
    ASSERT_REASON_EQ(AWAIT_EXIT(p1), grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(p2), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:plain", "start:gs");
}

/* S-35: the whole supervisor stops its children one at a time in
 * reverse start order, each completely (its delay included) before the
 * next; a stubborn one is killed after its time and the rest go on. */
PROC_TEST(supervisor_S35_shutdown_one_at_a_time)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[2] = gt_child("c", GT_START, GROVE_PERMANENT);
    kids[3] = gt_child("d", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[3].shutdown = 100;
    gt_child_ignore_shutdown("d", true);
    gt_child_stop_delay("c", 150);
    gt_child_stop_delay("b", 50);
    grove_pid_t sup = start_sup(4);
    grove_pid_t pd = gt_child_pid("d");
    WATCH(pd);
    SUP_SHUTDOWN(sup);
    ASSERT_REASON_EQ(AWAIT_EXIT(pd), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_EVENTS("start:a", "start:b", "start:c", "start:d", "stop:c",
                  "stop:b", "stop:a");
}

/* S-36: grove_gs_stop on a supervisor shuts it down the same way. */
PROC_TEST(supervisor_S36_stop_with_gs_stop)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    grove_pid_t sup = start_sup(2);
    grove_reason_t r = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_gs_stop(S(sup), &r, GROVE_INFINITY, NULL));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), r);
    ASSERT_EVENTS("start:a", "start:b", "stop:b", "stop:a");
}

/* S-36: the supervisor stops when its parent sends an exit signal or
 * exits, and exits with the parent's reason. */
enum { TAG_SUP = 0x5360, TAG_GO };

typedef struct parent_cfg {
    grove_pid_t test;
    grove_reason_t reason;
} parent_cfg_t;

static void parent_main(void *arg)
{
    parent_cfg_t *pc = arg;
    grove_sup_opts_t o = {.link = true};
    grove_pid_t sup;
    grove_reason_t why;
    if (grove_sup_start(&spec, &o, &sup, &why) != 0)
        grove_exit_error(1, "supervisor start failed");
    grove_send(pc->test, TAG_SUP, &sup, sizeof sup);
    grove_msg_t *m;
    if (grove_recv_tag(&m, TAG_GO, GROVE_INFINITY) != 0)
        grove_exit_error(2, "no go");
    grove_msg_free(m);
    grove_exit(&pc->reason);
}

PROC_TEST(supervisor_S36_parent_exit)
{
    grove_reason_t reasons[2] = {grove_reason_shutdown(NULL),
                                 grove_reason_error(36, "parent failed")};
    for (int i = 0; i < 2; i++) {
        memset(&spec, 0, sizeof spec);
        kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
        kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
        spec.children = kids;
        spec.nchildren = 2;
        static parent_cfg_t pc;
        pc = (parent_cfg_t){grove_self(), reasons[i]};
        grove_pid_t p = SPAWN_MON(parent_main, &pc, NULL);
        grove_msg_t *m = EXPECT_TAG(TAG_SUP);
        grove_pid_t sup;
        memcpy(&sup, grove_msg_data(m), sizeof sup);
        grove_msg_free(m);
        WATCH(sup);
        ASSERT_OK(grove_send(p, TAG_GO, NULL, 0));
        ASSERT_REASON_EQ(AWAIT_EXIT(p), reasons[i]);
        ASSERT_REASON_EQ(AWAIT_EXIT(sup), reasons[i]);
    }
    ASSERT_EVENTS("start:a", "start:b", "stop:b", "stop:a", "start:a",
                  "start:b", "stop:b", "stop:a");
}

/* S-36/S-37: exit signals from processes that are neither its parent
 * nor its children, and plain messages, are ignored: the supervisor and
 * its children carry on. */
PROC_TEST(supervisor_S36_strangers_ignored)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    grove_pid_t sup = start_sup(2);
    grove_pid_t pa = gt_child_pid("a"), pb = gt_child_pid("b");

    grove_pid_t s = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_reason_t rs[3] = {grove_reason_shutdown(NULL),
                            grove_reason_error(36, "stranger"),
                            grove_reason_normal()};
    for (int i = 0; i < 3; i++) {
        gt_signal_req_t req = {sup, rs[i]};
        gt_ack_t ack;
        ASSERT_TRUE(gt_echo_call(s, GT_TAG_SIGNAL, &req, sizeof req, &ack));
        ASSERT_OK(ack.rc);
    }
    /* A linked stranger that dies. */
    grove_pid_t l = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(l, GT_TAG_LINK, &sup, sizeof sup, &ack));
    ASSERT_OK(ack.rc);
    WATCH(l);
    gt_echo_exit(l, grove_reason_error(36, "linked stranger"));
    AWAIT_EXIT(l);
    /* Stray messages. */
    ASSERT_OK(grove_send(sup, 12345, "junk", 4));

    ASSERT_COUNTS(sup, 2, 2, 0, 2);
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "a"), pa);
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "b"), pb);
    ASSERT_EQ(gt_sup_stats_of(sup).restarts, 0);
    STOP_ECHO(s);
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "start:b", "stop:b", "stop:a");
}

/* S-33: a child that unlinked itself cannot hang the shutdown (the wait
 * uses a monitor). */
static int unlinking_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    (void)why;
    grove_spawn_opts_t o = {.link = true};
    return grove_spawn(gt_echo_main, NULL, &o, pid);
}

PROC_TEST(supervisor_S33_unlinked_child)
{
    memset(&kids[0], 0, sizeof kids[0]);
    kids[0].id = "echo";
    kids[0].start = unlinking_start;
    grove_pid_t sup = start_sup(1);
    grove_pid_t e = gt_sup_child_pid(sup, "echo");
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(e, GT_TAG_UNLINK, &sup, sizeof sup, &ack));
    ASSERT_OK(ack.rc);
    WATCH(e);
    SUP_SHUTDOWN(sup);
    ASSERT_REASON_EQ(AWAIT_EXIT(e), grove_reason_shutdown(NULL));
}
