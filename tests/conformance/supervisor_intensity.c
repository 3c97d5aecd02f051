/* Restart intensity: OTP-SEMANTICS.md items S-29 to S-32 (the boundary
 * at max_restarts, what counts, the window, giving up in reverse order,
 * restarts that fail and are retried, children shown as restarting). */
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t kids[4];
static grove_sup_spec_t spec;

static void set_spec(int strategy, int max_restarts, int max_seconds)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = strategy;
    spec.flags.max_restarts = max_restarts;
    spec.flags.max_seconds = max_seconds;
    spec.children = kids;
    spec.nchildren = 3;
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_START, GROVE_PERMANENT);
    kids[2] = gt_child("c", GT_GEN_SERVER, GROVE_PERMANENT);
}

static grove_pid_t crash_b(grove_pid_t sup)
{
    grove_pid_t pb = gt_child_pid("b");
    gt_child_exit("b", grove_reason_error(29, "b fails"));
    return WAIT_RESTARTED(sup, "b", pb);
}

/* S-29/S-30: with max_restarts N, N restarts inside the window are fine;
 * the (N+1)-th ends the supervisor with shutdown after it stops the
 * other children in reverse start order, without restarting the child. */
static void boundary(int n)
{
    set_spec(GROVE_ONE_FOR_ONE, n, 30);
    grove_pid_t sup = SUP_START(&spec);
    grove_pid_t pa = gt_child_pid("a"), pc = gt_child_pid("c");
    for (int i = 1; i <= n; i++) {
        crash_b(sup);
        grove_sup_stats_t st = gt_sup_stats_of(sup);
        ASSERT_EQ(st.restarts, i);
        ASSERT_EQ(st.in_window, i);
    }
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "a"), pa);
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "c"), pc);
    WATCH(pa);
    WATCH(pc);
    gt_child_exit("b", grove_reason_error(29, "one too many"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pa), grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pc), grove_reason_shutdown(NULL));
    ASSERT_EQ(gt_child_starts("b"), n + 1);
    /* start:a start:b start:c, n restarts of b, then c and a stop. */
    ASSERT_EQ(gt_ev_count(), 3 + n + 2);
    static const char *want[40];
    int k = 0;
    want[k++] = "start:a";
    want[k++] = "start:b";
    want[k++] = "start:c";
    for (int i = 0; i < n; i++)
        want[k++] = "start:b";
    want[k++] = "stop:c";
    want[k++] = "stop:a";
    want[k] = NULL;
    gt_order_check(gt_ev_log(), __FILE__, __LINE__, want);
}

PROC_TEST(supervisor_S29_intensity_boundary_1)
{
    boundary(1);
}

PROC_TEST(supervisor_S29_intensity_boundary_2)
{
    boundary(2);
}

PROC_TEST(supervisor_S29_intensity_boundary_5)
{
    boundary(5);
}

/* S-29: the default max_restarts is 3. */
PROC_TEST(supervisor_S29_default_intensity)
{
    set_spec(GROVE_ONE_FOR_ONE, 0, 0);
    grove_pid_t sup = SUP_START(&spec);
    for (int i = 0; i < 3; i++)
        crash_b(sup);
    gt_child_exit("b", grove_reason_error(29, "fourth"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EQ(gt_child_starts("b"), 4);
}

/* S-29: intensity 0: the first restartable exit ends the supervisor. */
PROC_TEST(supervisor_S29_no_restarts)
{
    set_spec(GROVE_ONE_FOR_ONE, GROVE_NO_RESTARTS, 5);
    grove_pid_t sup = SUP_START(&spec);
    gt_child_exit("b", grove_reason_normal());
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:a", "start:b", "start:c", "stop:c", "stop:a");
}

/* S-29: exits that cause no restart do not count. */
PROC_TEST(supervisor_S29_non_restarts_not_counted)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.max_restarts = 1;
    spec.flags.max_seconds = 5;
    spec.children = kids;
    spec.nchildren = 4;
    kids[0] = gt_child("p", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("t1", GT_START, GROVE_TRANSIENT);
    kids[2] = gt_child("t2", GT_GEN_SERVER, GROVE_TRANSIENT);
    kids[3] = gt_child("tmp", GT_START, GROVE_TEMPORARY);
    grove_pid_t sup = SUP_START(&spec);
    gt_child_exit("t1", grove_reason_normal());
    gt_child_exit("t2", grove_reason_shutdown("done"));
    gt_child_exit("tmp", grove_reason_error(29, "temporary fails"));
    WAIT_NOT_RUNNING(sup, "t1");
    WAIT_NOT_RUNNING(sup, "t2");
    WAIT_NOT_RUNNING(sup, "tmp");
    grove_sup_stats_t st = gt_sup_stats_of(sup);
    ASSERT_EQ(st.restarts, 0);
    ASSERT_EQ(st.in_window, 0);
    ASSERT_COUNTS(sup, 3, 1, 0, 3);
    /* One real restart is still allowed. */
    grove_pid_t pp = gt_child_pid("p");
    gt_child_exit("p", grove_reason_error(29, "p fails"));
    WAIT_RESTARTED(sup, "p", pp);
    ASSERT_EQ(gt_sup_stats_of(sup).in_window, 1);
    SUP_SHUTDOWN(sup);
}

/* S-29: restarts spread out wider than max_seconds never accumulate:
 * with max_restarts 1 and max_seconds 1, failures more than two seconds
 * apart are each fine. */
PROC_TEST_OPTS(supervisor_S29_window_slides, .timeout_s = 60)
{
    set_spec(GROVE_ONE_FOR_ONE, 1, 1);
    grove_pid_t sup = SUP_START(&spec);
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            grove_sleep(2200);
        crash_b(sup);
    }
    ASSERT_TRUE(grove_is_alive(sup));
    grove_sup_stats_t st = gt_sup_stats_of(sup);
    ASSERT_EQ(st.restarts, 3);
    ASSERT_EQ(st.in_window, 1);
    ASSERT_EQ(gt_child_starts("b"), 4);
    SUP_SHUTDOWN(sup);
}

/* S-29 with one_for_all: the intensity is reached by group restarts. */
PROC_TEST(supervisor_S29_one_for_all_boundary)
{
    set_spec(GROVE_ONE_FOR_ALL, 2, 30);
    grove_pid_t sup = SUP_START(&spec);
    crash_b(sup);
    crash_b(sup);
    ASSERT_EQ(gt_sup_stats_of(sup).in_window, 2);
    gt_child_exit("a", grove_reason_error(29, "third"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EQ(gt_child_starts("a"), 3);
    ASSERT_EQ(gt_child_starts("b"), 3);
    ASSERT_EQ(gt_child_starts("c"), 3);
}

/* S-31: a restart whose start fails: the child shows as restarting (no
 * pid, not active), the supervisor keeps answering between retries, each
 * retry counts as a restart, and once the start works again the child
 * runs. */
PROC_TEST(supervisor_S31_failed_restart_is_retried)
{
    set_spec(GROVE_ONE_FOR_ONE, 1000, 60);
    grove_pid_t sup = SUP_START(&spec);
    gt_child_fail("b", 2, -1);
    gt_child_fail_delay("b", 20);
    gt_child_exit("b", grove_reason_error(31, "b fails"));
    WAIT_UNTIL(gt_sup_child_state(sup, "b") == GROVE_CHILD_RESTARTING);
    grove_child_info_t ci;
    ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
    ASSERT_PID_EQ(ci.pid, GROVE_PID_NONE);
    grove_child_counts_t c = gt_sup_counts(sup);
    ASSERT_EQ(c.specs, 3);
    ASSERT_EQ(c.active, 2);

    /* S-32: the API while it is restarting. */
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_sup_start_child(grove_server_pid(sup), &kids[1], &pid,
                                     &why),
               GROVE_EPRESENT);
    ASSERT_ERR(grove_sup_restart_child(grove_server_pid(sup), "b", &pid,
                                       &why),
               GROVE_ERESTARTING);
    ASSERT_ERR(grove_sup_delete_child(grove_server_pid(sup), "b"),
               GROVE_ERESTARTING);

    WAIT_UNTIL(gt_child_attempts("b") >= 4);
    gt_child_fail("b", 0, 0);
    grove_pid_t nb = WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
    ASSERT_PID_EQ(nb, gt_child_pid("b"));
    int attempts = gt_child_attempts("b");
    grove_sup_stats_t st = gt_sup_stats_of(sup);
    /* Every attempt after the first start counted toward the
     * intensity. */
    ASSERT_EQ(st.in_window, attempts - 1);
    ASSERT_GE(st.restarts, 1);
    ASSERT_LE(st.restarts, attempts - 1);
    ASSERT_COUNTS(sup, 3, 3, 0, 3);
    ASSERT_TRUE(grove_is_alive(gt_child_pid("a")));
    SUP_SHUTDOWN(sup);
}

/* S-31/S-30: a child that can never start again eventually exceeds the
 * intensity: exactly max_restarts attempts, then the supervisor stops
 * the others in reverse order and exits shutdown. */
PROC_TEST(supervisor_S31_failed_restarts_escalate)
{
    set_spec(GROVE_ONE_FOR_ONE, 3, 30);
    grove_pid_t sup = SUP_START(&spec);
    gt_child_fail("b", 2, -1);
    gt_child_exit("b", grove_reason_error(31, "b fails"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:a", "start:b", "start:c", "fail:b", "fail:b",
                  "fail:b", "stop:c", "stop:a");
}

/* S-32: terminate_child of a restarting child: ok, the child becomes
 * undefined and the pending retry is dropped. */
PROC_TEST(supervisor_S32_terminate_restarting_child)
{
    set_spec(GROVE_ONE_FOR_ONE, 1000, 60);
    grove_pid_t sup = SUP_START(&spec);
    gt_child_fail("b", 2, -1);
    gt_child_fail_delay("b", 20);
    gt_child_exit("b", grove_reason_error(32, "b fails"));
    WAIT_UNTIL(gt_sup_child_state(sup, "b") == GROVE_CHILD_RESTARTING);
    ASSERT_OK(grove_sup_terminate_child(grove_server_pid(sup), "b"));
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_UNDEFINED);
    int attempts = gt_child_attempts("b");
    grove_sleep(100);
    ASSERT_EQ(gt_child_attempts("b"), attempts);
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_UNDEFINED);
    /* A manual restart that fails leaves it undefined. */
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_sup_restart_child(grove_server_pid(sup), "b", &pid,
                                       &why),
               GROVE_ESTARTFAIL);
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_UNDEFINED);
    gt_child_fail("b", 0, 0);
    ASSERT_OK(grove_sup_restart_child(grove_server_pid(sup), "b", &pid,
                                      &why));
    ASSERT_PID_EQ(pid, gt_child_pid("b"));
    SUP_SHUTDOWN(sup);
}

/* S-32: shutting the supervisor down while a child is restarting does
 * not hang. */
PROC_TEST(supervisor_S32_shutdown_while_restarting)
{
    set_spec(GROVE_ONE_FOR_ONE, 1000, 60);
    grove_pid_t sup = SUP_START(&spec);
    gt_child_fail("b", 2, -1);
    gt_child_fail_delay("b", 20);
    gt_child_exit("b", grove_reason_error(32, "b fails"));
    WAIT_UNTIL(gt_sup_child_state(sup, "b") == GROVE_CHILD_RESTARTING);
    SUP_SHUTDOWN(sup);
    ASSERT_FALSE(grove_is_alive(gt_child_pid("a")));
    ASSERT_FALSE(grove_is_alive(gt_child_pid("c")));
}
