/* Restart backoff (beyond OTP, see supervisor.h): a crashing child's
 * restarts are spaced out by a delay that starts at initial_ms and
 * doubles up to max_ms; which_children shows the child as restarting
 * while the delay runs and the delay in restart_delay_ms; each restart
 * still counts toward the intensity when it happens, so spaced-out
 * restarts exhaust it more slowly. */
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t kids[2];
static grove_sup_spec_t spec;

static grove_pid_t start_sup(int max_restarts, int max_seconds,
                             grove_backoff_t backoff)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.max_restarts = max_restarts;
    spec.flags.max_seconds = max_seconds;
    spec.children = kids;
    spec.nchildren = 2;
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_START, GROVE_PERMANENT);
    kids[1].backoff = backoff;
    return SUP_START(&spec);
}

/* Fails b and waits until the supervisor has noticed: b is no longer
 * running under its old pid. */
static void fail_b(grove_pid_t sup)
{
    grove_pid_t pb = gt_child_pid("b");
    WATCH(pb);
    gt_child_exit("b", grove_reason_error(50, "b fails"));
    AWAIT_EXIT(pb);
    WAIT_UNTIL(!grove_pid_equal(gt_sup_child_pid(sup, "b"), pb));
}

/* The delays grow 50, 100, 200, 400 and the child is shown restarting
 * (no pid, not active) while one runs. */
PROC_TEST(supervisor_backoff_delays_grow)
{
    grove_backoff_t bo = {.initial_ms = 50, .max_ms = 10000,
                          .jitter_pct = 0, .reset_after_ms = 60000};
    grove_pid_t sup = start_sup(100, 60, bo);
    uint32_t want = 50;
    for (int i = 1; i <= 4; i++) {
        fail_b(sup);
        grove_child_info_t ci;
        ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
        if (ci.state == GROVE_CHILD_RESTARTING) {
            ASSERT_PID_EQ(ci.pid, GROVE_PID_NONE);
            ASSERT_EQ(gt_sup_counts(sup).active, 1);
        }
        grove_pid_t nb = WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
        ASSERT_PID_EQ(nb, gt_child_pid("b"));
        ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
        ASSERT_EQ(ci.restart_delay_ms, want);
        ASSERT_EQ(ci.restarts, i);
        ASSERT_EQ(gt_sup_stats_of(sup).restarts, i);
        want *= 2;
    }
    /* The last delay, 400 ms, is long beside a which_children call: the
     * restarting state must have been seen at least then. */
    fail_b(sup);
    grove_child_info_t ci;
    ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
    ASSERT_EQ(ci.state, GROVE_CHILD_RESTARTING);
    ASSERT_PID_EQ(ci.pid, GROVE_PID_NONE);
    ASSERT_EQ(ci.restart_delay_ms, 800);
    ASSERT_COUNTS(sup, 2, 1, 0, 2);
    WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
    ASSERT_EQ(gt_child_starts("b"), 6);
    SUP_SHUTDOWN(sup);
}

/* The delay stops growing at max_ms. */
PROC_TEST(supervisor_backoff_capped)
{
    grove_backoff_t bo = {.initial_ms = 20, .max_ms = 60, .jitter_pct = 0,
                          .reset_after_ms = 60000};
    grove_pid_t sup = start_sup(100, 60, bo);
    uint32_t want[5] = {20, 40, 60, 60, 60};
    for (int i = 0; i < 5; i++) {
        fail_b(sup);
        WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
        grove_child_info_t ci;
        ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
        ASSERT_EQ(ci.restart_delay_ms, want[i]);
    }
    SUP_SHUTDOWN(sup);
}

/* Jitter keeps the delay within +/- jitter_pct of the nominal one. */
PROC_TEST(supervisor_backoff_jitter_bounds)
{
    grove_backoff_t bo = {.initial_ms = 100, .max_ms = 100,
                          .jitter_pct = 20, .reset_after_ms = 60000};
    grove_pid_t sup = start_sup(100, 60, bo);
    for (int i = 0; i < 4; i++) {
        fail_b(sup);
        WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
        grove_child_info_t ci;
        ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
        ASSERT_GE(ci.restart_delay_ms, 80);
        ASSERT_LE(ci.restart_delay_ms, 120);
    }
    SUP_SHUTDOWN(sup);
}

/* A child that crashes as soon as it runs, seven times in a row: with
 * max_restarts 5 in 1 s and no backoff the supervisor gives up at the
 * sixth restart; with a backoff of 50 ms doubling to 800 ms, no two
 * seconds ever hold more than five restarts, so the supervisor rides it
 * out and the child finally stays up. */
PROC_TEST(supervisor_backoff_intensity_without)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.max_restarts = 5;
    spec.flags.max_seconds = 1;
    spec.children = kids;
    spec.nchildren = 2;
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_START, GROVE_PERMANENT);
    gt_child_crash_runs("b", 7);
    grove_pid_t sup = SUP_START(&spec);
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EQ(gt_child_starts("b"), 6);
}

PROC_TEST_OPTS(supervisor_backoff_intensity_with, .timeout_s = 60)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.max_restarts = 5;
    spec.flags.max_seconds = 1;
    spec.children = kids;
    spec.nchildren = 2;
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_START, GROVE_PERMANENT);
    kids[1].backoff = (grove_backoff_t){.initial_ms = 50, .max_ms = 800,
                                        .jitter_pct = 0,
                                        .reset_after_ms = 60000};
    gt_child_crash_runs("b", 7);
    grove_pid_t sup = SUP_START(&spec);
    WAIT_UNTIL_MS(gt_child_starts("b") == 8, 20000);
    grove_pid_t pb = WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
    ASSERT_PID_EQ(pb, gt_child_pid("b"));
    ASSERT_TRUE(grove_is_alive(sup));
    grove_sup_stats_t st = gt_sup_stats_of(sup);
    ASSERT_EQ(st.restarts, 7);
    grove_child_info_t ci;
    ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
    ASSERT_EQ(ci.restart_delay_ms, 800);
    SUP_SHUTDOWN(sup);
}

/* The delay resets to initial_ms once the child has run reset_after_ms
 * without exiting. */
PROC_TEST(supervisor_backoff_resets)
{
    grove_backoff_t bo = {.initial_ms = 30, .max_ms = 1000,
                          .jitter_pct = 0, .reset_after_ms = 300};
    grove_pid_t sup = start_sup(100, 60, bo);
    fail_b(sup);
    WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
    fail_b(sup);
    WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
    grove_child_info_t ci;
    ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
    ASSERT_EQ(ci.restart_delay_ms, 60);
    grove_sleep(600);
    fail_b(sup);
    WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
    ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
    ASSERT_EQ(ci.restart_delay_ms, 30);
    SUP_SHUTDOWN(sup);
}

/* A manual restart_child of a child waiting out its delay: the child is
 * restarting, so GROVE_ERESTARTING; terminate_child cancels the wait. */
PROC_TEST(supervisor_backoff_terminate_while_waiting)
{
    grove_backoff_t bo = {.initial_ms = 2000, .max_ms = 2000,
                          .jitter_pct = 0, .reset_after_ms = 60000};
    grove_pid_t sup = start_sup(100, 60, bo);
    fail_b(sup);
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_RESTARTING);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_sup_restart_child(grove_server_pid(sup), "b", &pid,
                                       &why),
               GROVE_ERESTARTING);
    ASSERT_OK(grove_sup_terminate_child(grove_server_pid(sup), "b"));
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_UNDEFINED);
    grove_sleep(2500);
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_UNDEFINED);
    ASSERT_EQ(gt_child_starts("b"), 1);
    SUP_SHUTDOWN(sup);
}

static bool waits_delay(grove_pid_t sup, uint32_t ms)
{
    grove_child_info_t ci;
    return gt_sup_child(sup, "b", &ci) &&
           ci.state == GROVE_CHILD_RESTARTING && ci.restart_delay_ms == ms;
}

/* A restart whose start fails is retried after the next delay too, so a
 * child that cannot start is not retried in a hot loop: attempts 2, 3
 * and 4 fail, and the successful fifth comes after 40 + 80 + 160 + 320
 * ms at the least (without backoff on failures it would come after 40). */
PROC_TEST_OPTS(supervisor_backoff_spaces_failed_starts, .timeout_s = 60)
{
    grove_backoff_t bo = {.initial_ms = 40, .max_ms = 10000,
                          .jitter_pct = 0, .reset_after_ms = 60000};
    grove_pid_t sup = start_sup(100, 60, bo);
    gt_child_fail("b", 2, 3);
    /* The runtime's clock: the logical one in deterministic builds. */
    int64_t t0 = (int64_t)grove_now_ms();
    fail_b(sup);
    WAIT_UNTIL(gt_child_attempts("b") >= 4 && waits_delay(sup, 320));
    ASSERT_EQ(gt_child_attempts("b"), 4);
    WAIT_RESTARTED(sup, "b", GROVE_PID_NONE);
    ASSERT_GE((int64_t)grove_now_ms() - t0, 600);
    ASSERT_EQ(gt_child_attempts("b"), 5);
    ASSERT_EQ(gt_child_starts("b"), 2);
    SUP_SHUTDOWN(sup);
}
