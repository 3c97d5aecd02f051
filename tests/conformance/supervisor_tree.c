/* Supervision trees: nested supervisors escalating (S-30: a supervisor
 * that gives up exits shutdown and its own supervisor handles that), and
 * significant children with auto_shutdown (S-38 to S-42). */
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t outer_kids[3];
static grove_child_spec_t inner_kids[3];
static grove_sup_spec_t outer_spec;
static grove_sup_spec_t inner_spec;

static void set_inner(int max_restarts, int auto_shutdown)
{
    memset(&inner_spec, 0, sizeof inner_spec);
    inner_spec.name = "inner";
    inner_spec.flags.max_restarts = max_restarts;
    inner_spec.flags.max_seconds = 30;
    inner_spec.flags.auto_shutdown = auto_shutdown;
    inner_spec.children = inner_kids;
    inner_spec.nchildren = 2;
    inner_kids[0] = gt_child("w", GT_START, GROVE_PERMANENT);
    inner_kids[1] = gt_child("v", GT_GEN_SERVER, GROVE_PERMANENT);
}

static grove_pid_t start_outer(int max_restarts, int inner_restart,
                               int auto_shutdown, bool inner_significant)
{
    memset(&outer_spec, 0, sizeof outer_spec);
    outer_spec.name = "outer";
    outer_spec.flags.max_restarts = max_restarts;
    outer_spec.flags.max_seconds = 5;
    outer_spec.flags.auto_shutdown = auto_shutdown;
    outer_spec.children = outer_kids;
    outer_spec.nchildren = 2;
    memset(&outer_kids[0], 0, sizeof outer_kids[0]);
    outer_kids[0].id = "inner";
    outer_kids[0].supervisor = &inner_spec;
    outer_kids[0].restart = inner_restart;
    outer_kids[0].significant = inner_significant;
    outer_kids[1] = gt_child("x", GT_START, GROVE_PERMANENT);
    return SUP_START(&outer_spec);
}

/* Makes the inner supervisor (max_restarts 1) give up: w fails twice.
 * Returns the inner pid it had, after its exit with shutdown. */
static grove_pid_t inner_gives_up(grove_pid_t outer)
{
    grove_pid_t inner = gt_sup_child_pid(outer, "inner");
    ASSERT_FALSE(grove_pid_is_none(inner));
    WATCH(inner);
    grove_pid_t pw = gt_child_pid("w");
    gt_child_exit("w", grove_reason_error(30, "w fails"));
    WAIT_RESTARTED(inner, "w", pw);
    gt_child_exit("w", grove_reason_error(30, "w fails again"));
    ASSERT_REASON_EQ(AWAIT_EXIT(inner), grove_reason_shutdown(NULL));
    return inner;
}

/* The inner supervisor gives up; the outer one restarts it, which
 * starts its children again; the outer's other child keeps its pid. */
PROC_TEST(supervisor_nested_inner_gives_up_outer_restarts)
{
    set_inner(1, GROVE_AUTO_SHUTDOWN_NEVER);
    grove_pid_t outer = start_outer(3, GROVE_PERMANENT,
                                    GROVE_AUTO_SHUTDOWN_NEVER, false);
    ASSERT_EVENTS("start:w", "start:v", "start:x");
    grove_pid_t px = gt_child_pid("x");
    grove_pid_t inner = inner_gives_up(outer);
    grove_pid_t inner2 = WAIT_RESTARTED(outer, "inner", inner);
    ASSERT_PID_NE(inner2, inner);
    ASSERT_PID_EQ(gt_sup_child_pid(outer, "x"), px);
    ASSERT_EVENTS("start:w", "start:v", "start:x", "start:w", "stop:v",
                  "start:w", "start:v");
    ASSERT_PID_EQ(gt_sup_child_pid(inner2, "w"), gt_child_pid("w"));
    ASSERT_COUNTS(inner2, 2, 2, 0, 2);
    ASSERT_EQ(gt_sup_stats_of(outer).restarts, 1);
    ASSERT_EQ(gt_sup_stats_of(inner2).restarts, 0);
    SUP_SHUTDOWN(outer);
    ASSERT_EVENTS("start:w", "start:v", "start:x", "start:w", "stop:v",
                  "start:w", "start:v", "stop:x", "stop:v", "stop:w");
}

/* The outer supervisor has no restarts to give: it gives up in turn,
 * stopping its other child. */
PROC_TEST(supervisor_nested_outer_gives_up_in_turn)
{
    set_inner(1, GROVE_AUTO_SHUTDOWN_NEVER);
    grove_pid_t outer = start_outer(GROVE_NO_RESTARTS, GROVE_PERMANENT,
                                    GROVE_AUTO_SHUTDOWN_NEVER, false);
    inner_gives_up(outer);
    ASSERT_REASON_EQ(EXPECT_EXIT(outer), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:w", "start:v", "start:x", "start:w", "stop:v",
                  "stop:x");
}

/* S-30: a transient inner supervisor that gave up (shutdown) is not
 * restarted; the outer one carries on. */
PROC_TEST(supervisor_nested_transient_inner_not_restarted)
{
    set_inner(1, GROVE_AUTO_SHUTDOWN_NEVER);
    grove_pid_t outer = start_outer(3, GROVE_TRANSIENT,
                                    GROVE_AUTO_SHUTDOWN_NEVER, false);
    inner_gives_up(outer);
    WAIT_NOT_RUNNING(outer, "inner");
    ASSERT_EQ(gt_sup_child_state(outer, "inner"), GROVE_CHILD_UNDEFINED);
    ASSERT_COUNTS(outer, 2, 1, 1, 1);
    ASSERT_EQ(gt_sup_stats_of(outer).restarts, 0);
    SUP_SHUTDOWN(outer);
}

/* ---- significant children and auto_shutdown ---------------------------- */

static grove_child_spec_t kids[4];
static grove_sup_spec_t spec;

static grove_pid_t start_sig(int strategy, int auto_shutdown, size_t n)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = strategy;
    spec.flags.max_restarts = 5;
    spec.flags.max_seconds = 5;
    spec.flags.auto_shutdown = auto_shutdown;
    spec.children = kids;
    spec.nchildren = n;
    return SUP_START(&spec);
}

static grove_child_spec_t significant(const char *id, int kind, int restart)
{
    grove_child_spec_t c = gt_child(id, kind, restart);
    c.significant = true;
    return c;
}

/* S-39: any_significant: a transient significant child ending with a
 * shutdown-class reason shuts the supervisor down (the others stop in
 * reverse order, exit shutdown). */
static void any_transient_ends(grove_reason_t r, int kind)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = significant("s", kind, GROVE_TRANSIENT);
    kids[2] = gt_child("c", GT_GEN_SERVER, GROVE_PERMANENT);
    grove_pid_t sup =
        start_sig(GROVE_ONE_FOR_ONE, GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT, 3);
    gt_child_exit("s", r);
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:a", "start:s", "start:c", "stop:c", "stop:a");
}

PROC_TEST(supervisor_S39_any_transient_normal)
{
    any_transient_ends(grove_reason_normal(), GT_START);
}

PROC_TEST(supervisor_S39_any_transient_shutdown)
{
    any_transient_ends(grove_reason_shutdown(NULL), GT_GEN_SERVER);
}

PROC_TEST(supervisor_S39_any_transient_shutdown_x)
{
    any_transient_ends(grove_reason_shutdown("done"), GT_START);
}

/* S-39: a transient significant child that fails is just restarted. */
PROC_TEST(supervisor_S39_any_transient_abnormal_restarted)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = significant("s", GT_START, GROVE_TRANSIENT);
    grove_pid_t sup =
        start_sig(GROVE_ONE_FOR_ONE, GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT, 2);
    grove_pid_t ps = gt_child_pid("s");
    gt_child_exit("s", grove_reason_error(39, "s fails"));
    ps = WAIT_RESTARTED(sup, "s", ps);
    gt_child_exit("s", grove_reason_of(GROVE_EXIT_KILL));
    WAIT_RESTARTED(sup, "s", ps);
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_EQ(gt_sup_stats_of(sup).restarts, 2);
    SUP_SHUTDOWN(sup);
}

/* S-39: a temporary significant child ending for any reason, killed
 * included, shuts the supervisor down. */
static void any_temporary_ends(grove_reason_t r)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = significant("s", GT_GEN_SERVER, GROVE_TEMPORARY);
    kids[2] = gt_child("c", GT_START, GROVE_PERMANENT);
    grove_pid_t sup =
        start_sig(GROVE_ONE_FOR_ONE, GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT, 3);
    gt_child_exit("s", r);
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:a", "start:s", "start:c", "stop:c", "stop:a");
}

PROC_TEST(supervisor_S39_any_temporary_error)
{
    any_temporary_ends(grove_reason_error(39, "s fails"));
}

PROC_TEST(supervisor_S39_any_temporary_killed)
{
    any_temporary_ends(grove_reason_of(GROVE_EXIT_KILL));
}

PROC_TEST(supervisor_S39_any_temporary_normal)
{
    any_temporary_ends(grove_reason_normal());
}

/* S-40: all_significant: only when no significant child is left. */
PROC_TEST(supervisor_S40_all_significant)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = significant("s1", GT_START, GROVE_TRANSIENT);
    kids[2] = significant("s2", GT_GEN_SERVER, GROVE_TEMPORARY);
    grove_pid_t sup =
        start_sig(GROVE_ONE_FOR_ONE, GROVE_AUTO_SHUTDOWN_ALL_SIGNIFICANT, 3);
    gt_child_exit("s1", grove_reason_normal());
    WAIT_NOT_RUNNING(sup, "s1");
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_COUNTS(sup, 3, 2, 0, 3);
    gt_child_exit("s2", grove_reason_error(40, "s2 fails"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:a", "start:s1", "start:s2", "stop:a");
}

/* S-41: terminate_child of a significant child does not trigger the
 * auto shutdown. */
PROC_TEST(supervisor_S41_terminate_child_does_not_trigger)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = significant("s", GT_START, GROVE_TRANSIENT);
    kids[2] = significant("t", GT_GEN_SERVER, GROVE_TEMPORARY);
    grove_pid_t sup =
        start_sig(GROVE_ONE_FOR_ONE, GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT, 3);
    ASSERT_OK(grove_sup_terminate_child(grove_server_pid(sup), "s"));
    ASSERT_OK(grove_sup_terminate_child(grove_server_pid(sup), "t"));
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_COUNTS(sup, 2, 1, 0, 2);
    EXPECT_NO_MSG(30);
    ASSERT_TRUE(grove_is_alive(sup));
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "start:s", "start:t", "stop:s", "stop:t",
                  "stop:a");
}

/* S-41: significant bystanders stopped by a group restart do not
 * trigger it either. */
PROC_TEST(supervisor_S41_bystander_does_not_trigger)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = significant("s", GT_GEN_SERVER, GROVE_TEMPORARY);
    kids[2] = significant("t", GT_START, GROVE_TRANSIENT);
    grove_pid_t sup =
        start_sig(GROVE_ONE_FOR_ALL, GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT, 3);
    grove_pid_t pa = gt_child_pid("a");
    gt_child_exit("a", grove_reason_error(41, "a fails"));
    WAIT_RESTARTED(sup, "a", pa);
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_FALSE(gt_sup_child(sup, "s", NULL));
    ASSERT_EQ(gt_sup_child_state(sup, "t"), GROVE_CHILD_RUNNING);
    ASSERT_EVENTS("start:a", "start:s", "start:t", "stop:t", "stop:s",
                  "start:a", "start:t");
    SUP_SHUTDOWN(sup);
}

/* S-41: non-significant children never trigger it. */
PROC_TEST(supervisor_S41_non_significant_does_not_trigger)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("t", GT_START, GROVE_TRANSIENT);
    kids[2] = gt_child("tmp", GT_GEN_SERVER, GROVE_TEMPORARY);
    kids[3] = significant("s", GT_START, GROVE_TRANSIENT);
    grove_pid_t sup =
        start_sig(GROVE_ONE_FOR_ONE, GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT, 4);
    gt_child_exit("t", grove_reason_normal());
    gt_child_exit("tmp", grove_reason_error(41, "tmp fails"));
    WAIT_NOT_RUNNING(sup, "t");
    WAIT_NOT_RUNNING(sup, "tmp");
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_COUNTS(sup, 3, 2, 0, 3);
    SUP_SHUTDOWN(sup);
}

/* S-42: auto shutdown escalates: a child supervisor that shut itself
 * down is a significant transient child of a parent with auto_shutdown,
 * so the parent shuts down too. */
PROC_TEST(supervisor_S42_auto_shutdown_escalates)
{
    memset(&inner_spec, 0, sizeof inner_spec);
    inner_spec.flags.auto_shutdown = GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT;
    inner_spec.children = inner_kids;
    inner_spec.nchildren = 2;
    inner_kids[0] = significant("s", GT_START, GROVE_TRANSIENT);
    inner_kids[1] = gt_child("y", GT_GEN_SERVER, GROVE_PERMANENT);
    grove_pid_t outer = start_outer(3, GROVE_TRANSIENT,
                                    GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT,
                                    true);
    grove_pid_t inner = gt_sup_child_pid(outer, "inner");
    WATCH(inner);
    gt_child_exit("s", grove_reason_normal());
    ASSERT_REASON_EQ(AWAIT_EXIT(inner), grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(EXPECT_EXIT(outer), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:s", "start:y", "start:x", "stop:y", "stop:x");
}
