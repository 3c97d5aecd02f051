/* Supervisor reports: OTP-SEMANTICS.md items S-19 to S-21 and S-30 (which
 * exits are reported: every exit of a permanent child, abnormal exits of
 * the others, and reaching the restart intensity; shutdown-class exits
 * of transient and temporary children are not). Reports are log events
 * of kind "supervisor_report"; a report is about a child when its text
 * or one of its fields names the child's id. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t kids[5];
static grove_sup_spec_t spec;

PROC_TEST(supervisor_S19_S21_which_exits_are_reported)
{
    grove_log_handler_t *h;
    ASSERT_OK(gt_reports_start(&h));
    memset(&spec, 0, sizeof spec);
    spec.flags.max_restarts = 10;
    spec.flags.max_seconds = 30;
    spec.children = kids;
    spec.nchildren = 5;
    kids[0] = gt_child("perm_child", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("trans_child", GT_START, GROVE_TRANSIENT);
    kids[2] = gt_child("quiet_tmp", GT_GEN_SERVER, GROVE_TEMPORARY);
    kids[3] = gt_child("loud_tmp", GT_START, GROVE_TEMPORARY);
    kids[4] = gt_child("bad_trans", GT_START, GROVE_TRANSIENT);
    grove_pid_t sup = SUP_START(&spec);

    /* S-19: a permanent child's normal exit is reported. */
    grove_pid_t p = gt_child_pid("perm_child");
    gt_child_exit("perm_child", grove_reason_normal());
    WAIT_RESTARTED(sup, "perm_child", p);
    WAIT_UNTIL(gt_reports_naming("perm_child", NULL) > 0);

    /* S-20/S-21: shutdown-class exits of transient and temporary
     * children are not; abnormal ones are. The abnormal ones come last,
     * so once they are reported the others would have been too. Reports
     * from before (the start, say) are not counted. */
    int trans_before = gt_reports_naming("trans_child", NULL);
    int quiet_before = gt_reports_naming("quiet_tmp", NULL);
    gt_child_exit("trans_child", grove_reason_normal());
    WAIT_NOT_RUNNING(sup, "trans_child");
    gt_child_exit("quiet_tmp", grove_reason_shutdown("done"));
    WAIT_NOT_RUNNING(sup, "quiet_tmp");
    gt_child_exit("loud_tmp", grove_reason_error(21, "temporary fails"));
    WAIT_NOT_RUNNING(sup, "loud_tmp");
    p = gt_child_pid("bad_trans");
    gt_child_exit("bad_trans", grove_reason_error(20, "transient fails"));
    WAIT_RESTARTED(sup, "bad_trans", p);
    WAIT_UNTIL(gt_reports_naming("loud_tmp", NULL) > 0 &&
               gt_reports_naming("bad_trans", NULL) > 0);
    if (gt_reports_naming("trans_child", NULL) != trans_before ||
        gt_reports_naming("quiet_tmp", NULL) != quiet_before) {
        gt_reports_dump();
        GT_FAIL("a shutdown-class exit of a transient or temporary child "
                "was reported");
    }
    SUP_SHUTDOWN(sup);
    ASSERT_OK(grove_log_remove_handler(h));
}

/* S-30: reaching the intensity is reported, naming the child. */
PROC_TEST(supervisor_S30_intensity_reached_is_reported)
{
    grove_log_handler_t *h;
    ASSERT_OK(gt_reports_start(&h));
    memset(&spec, 0, sizeof spec);
    spec.flags.max_restarts = GROVE_NO_RESTARTS;
    spec.flags.max_seconds = 30;
    spec.children = kids;
    spec.nchildren = 2;
    kids[0] = gt_child("bystander", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("offender", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = SUP_START(&spec);
    gt_child_exit("offender", grove_reason_error(30, "fails"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    WAIT_UNTIL(gt_reports_naming("intensity", NULL) > 0);
    ASSERT_GT(gt_reports_naming("offender", NULL), 0);
    ASSERT_OK(grove_log_remove_handler(h));
}
