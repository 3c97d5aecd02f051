/* The supervisor's runtime API: OTP-SEMANTICS.md items S-11 to S-17
 * (start_child, terminate_child, restart_child, delete_child,
 * which_children, count_children, get_childspec, and every documented
 * error code). */
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t kids[3];
static grove_child_spec_t extra[6];
static grove_sup_spec_t spec;
static grove_sup_spec_t inner_spec;

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

/* S-11: start_child appends a child and starts it; the same id again is
 * already started (with its pid) or already present; a child that
 * shuts down last-started-first. */
PROC_TEST(supervisor_S11_start_child)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = start_sup(1);
    extra[0] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    grove_pid_t pid = GROVE_PID_NONE, p2;
    grove_reason_t why;
    ASSERT_OK(grove_sup_start_child(S(sup), &extra[0], &pid, &why));
    ASSERT_PID_EQ(pid, gt_child_pid("b"));
    ASSERT_TRUE(grove_is_alive(pid));
    grove_child_info_t v[4];
    ASSERT_EQ(gt_sup_children(sup, v, 4), 2);
    ASSERT_STREQ(v[0].id, "b");
    ASSERT_STREQ(v[1].id, "a");
    ASSERT_PID_EQ(v[0].pid, pid);

    ASSERT_ERR(grove_sup_start_child(S(sup), &extra[0], &p2, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(p2, pid);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "b"));
    ASSERT_ERR(grove_sup_start_child(S(sup), &extra[0], &p2, &why),
               GROVE_EPRESENT);
    ASSERT_OK(grove_sup_restart_child(S(sup), "b", &p2, &why));
    ASSERT_PID_NE(p2, pid);

    /* An id taken by a static child. */
    extra[1] = gt_child("c", GT_START, GROVE_PERMANENT);
    extra[1].id = "a";
    ASSERT_ERR(grove_sup_start_child(S(sup), &extra[1], &p2, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(p2, gt_child_pid("a"));
    ASSERT_EQ(gt_child_attempts("c"), 0);

    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "start:b", "stop:b", "start:b", "stop:b",
                  "stop:a");
}

/* S-11: a bad spec, a failing start, an ignoring start (kept unless
 * temporary), a temporary child. */
PROC_TEST(supervisor_S11_start_child_results)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = start_sup(1);
    grove_pid_t pid;
    grove_reason_t why;

    extra[0] = gt_child("bad", GT_START, GROVE_PERMANENT);
    extra[0].restart = 11;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_sup_start_child(S(sup), &extra[0], &pid, &why),
               GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "invalid_restart_type");
    extra[0] = gt_child("bad", GT_START, GROVE_PERMANENT);
    extra[0].shutdown = -9;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_sup_start_child(S(sup), &extra[0], &pid, &why),
               GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "invalid_shutdown");
    ASSERT_ERR(grove_sup_start_child(S(sup), NULL, &pid, &why),
               GROVE_EINVAL);

    extra[1] = gt_child("fails", GT_START, GROVE_PERMANENT);
    gt_child_fail("fails", 1, -1);
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_sup_start_child(S(sup), &extra[1], &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_REASON_HAS(why, "would not start");
    ASSERT_FALSE(gt_sup_child(sup, "fails", NULL));

    extra[2] = gt_child("fails_gs", GT_GEN_SERVER, GROVE_PERMANENT);
    gt_child_fail("fails_gs", 1, -1);
    ASSERT_ERR(grove_sup_start_child(S(sup), &extra[2], &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_FALSE(gt_sup_child(sup, "fails_gs", NULL));

    extra[3] = gt_child("ign", GT_START, GROVE_TRANSIENT);
    gt_child_ignore("ign", 1, 1);
    pid = grove_self();
    ASSERT_OK(grove_sup_start_child(S(sup), &extra[3], &pid, &why));
    ASSERT_PID_EQ(pid, GROVE_PID_NONE);
    grove_child_info_t ci;
    ASSERT_TRUE(gt_sup_child(sup, "ign", &ci));
    ASSERT_EQ(ci.state, GROVE_CHILD_UNDEFINED);

    extra[4] = gt_child("ign_tmp", GT_START, GROVE_TEMPORARY);
    gt_child_ignore("ign_tmp", 1, 1);
    pid = grove_self();
    ASSERT_OK(grove_sup_start_child(S(sup), &extra[4], &pid, &why));
    ASSERT_PID_EQ(pid, GROVE_PID_NONE);
    ASSERT_FALSE(gt_sup_child(sup, "ign_tmp", NULL));

    /* S-21: a temporary child's spec goes when it exits; the same spec
     * may then be started again. */
    extra[5] = gt_child("tmp", GT_START, GROVE_TEMPORARY);
    ASSERT_OK(grove_sup_start_child(S(sup), &extra[5], &pid, &why));
    ASSERT_COUNTS(sup, 3, 2, 0, 3);
    WATCH(pid);
    gt_child_exit("tmp", grove_reason_error(11, "gone"));
    AWAIT_EXIT(pid);
    WAIT_UNTIL(!gt_sup_child(sup, "tmp", NULL));
    ASSERT_COUNTS(sup, 2, 1, 0, 2);
    ASSERT_OK(grove_sup_start_child(S(sup), &extra[5], &pid, &why));
    ASSERT_PID_EQ(pid, gt_child_pid("tmp"));
    ASSERT_EQ(gt_sup_stats_of(sup).restarts, 0);
    SUP_SHUTDOWN(sup);
}

/* S-12: terminate_child stops a child by its shutdown procedure, keeps
 * the spec (not for a temporary child), is idempotent; unknown ids are
 * not found. */
PROC_TEST(supervisor_S12_terminate_child)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[2] = gt_child("t", GT_START, GROVE_TEMPORARY);
    grove_pid_t sup = start_sup(3);
    grove_pid_t pb = gt_child_pid("b");
    WATCH(pb);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "b"));
    ASSERT_REASON_EQ(AWAIT_EXIT(pb), grove_reason_shutdown(NULL));
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_UNDEFINED);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "b"));
    ASSERT_COUNTS(sup, 3, 2, 0, 3);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "t"));
    ASSERT_FALSE(gt_sup_child(sup, "t", NULL));
    ASSERT_ERR(grove_sup_terminate_child(S(sup), "t"), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_sup_terminate_child(S(sup), "nope"), GROVE_ENOTFOUND);
    ASSERT_COUNTS(sup, 2, 1, 0, 2);
    /* Not a restart: nothing counted, not restarted. */
    ASSERT_EQ(gt_sup_stats_of(sup).restarts, 0);
    ASSERT_EQ(gt_child_starts("b"), 1);
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "start:b", "start:t", "stop:b", "stop:t",
                  "stop:a");
}

/* S-13: restart_child and its codes; a manual restart is not counted
 * toward the intensity. */
PROC_TEST(supervisor_S13_restart_child)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_START, GROVE_PERMANENT);
    memset(&spec, 0, sizeof spec);
    spec.flags.max_restarts = GROVE_NO_RESTARTS;
    spec.flags.max_seconds = 5;
    spec.children = kids;
    spec.nchildren = 2;
    grove_pid_t sup = SUP_START(&spec);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_sup_restart_child(S(sup), "b", &pid, &why),
               GROVE_ERUNNING);
    ASSERT_ERR(grove_sup_restart_child(S(sup), "nope", &pid, &why),
               GROVE_ENOTFOUND);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(grove_sup_terminate_child(S(sup), "b"));
        ASSERT_OK(grove_sup_restart_child(S(sup), "b", &pid, &why));
        ASSERT_PID_EQ(pid, gt_child_pid("b"));
        ASSERT_PID_EQ(gt_sup_child_pid(sup, "b"), pid);
    }
    /* Intensity 0, yet three manual restarts: none counted. */
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_EQ(gt_sup_stats_of(sup).restarts, 0);
    ASSERT_EQ(gt_sup_stats_of(sup).in_window, 0);

    /* A failing start: GROVE_ESTARTFAIL with its reason; the child stays
     * undefined. Ignore: 0 with no pid. */
    ASSERT_OK(grove_sup_terminate_child(S(sup), "b"));
    gt_child_fail("b", gt_child_attempts("b") + 1, 1);
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_sup_restart_child(S(sup), "b", &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_REASON_HAS(why, "would not start");
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_UNDEFINED);
    gt_child_ignore("b", gt_child_attempts("b") + 1, 1);
    pid = grove_self();
    ASSERT_OK(grove_sup_restart_child(S(sup), "b", &pid, &why));
    ASSERT_PID_EQ(pid, GROVE_PID_NONE);
    ASSERT_EQ(gt_sup_child_state(sup, "b"), GROVE_CHILD_UNDEFINED);
    ASSERT_OK(grove_sup_restart_child(S(sup), "b", &pid, &why));
    ASSERT_TRUE(grove_is_alive(pid));
    SUP_SHUTDOWN(sup);
}

/* S-14: delete_child only for a child that does not run. */
PROC_TEST(supervisor_S14_delete_child)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = start_sup(2);
    ASSERT_ERR(grove_sup_delete_child(S(sup), "b"), GROVE_ERUNNING);
    ASSERT_ERR(grove_sup_delete_child(S(sup), "nope"), GROVE_ENOTFOUND);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "b"));
    ASSERT_OK(grove_sup_delete_child(S(sup), "b"));
    ASSERT_FALSE(gt_sup_child(sup, "b", NULL));
    ASSERT_ERR(grove_sup_delete_child(S(sup), "b"), GROVE_ENOTFOUND);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_sup_restart_child(S(sup), "b", &pid, &why),
               GROVE_ENOTFOUND);
    ASSERT_COUNTS(sup, 1, 1, 0, 1);
    /* The id is free again. */
    ASSERT_OK(grove_sup_start_child(S(sup), &kids[1], &pid, &why));
    ASSERT_PID_EQ(pid, gt_child_pid("b"));
    SUP_SHUTDOWN(sup);
}

/* S-15: which_children lists newest position first, with each child's
 * fields; a short buffer gets the first entries and the total. */
PROC_TEST(supervisor_S15_which_children)
{
    memset(&inner_spec, 0, sizeof inner_spec);
    kids[0] = gt_child("w1", GT_START, GROVE_TRANSIENT);
    memset(&kids[1], 0, sizeof kids[1]);
    kids[1].id = "sup1";
    kids[1].supervisor = &inner_spec;
    kids[2] = gt_child("w2", GT_GEN_SERVER, GROVE_TEMPORARY);
    grove_pid_t sup = start_sup(3);
    grove_child_info_t v[8];
    memset(v, 0, sizeof v);
    ASSERT_EQ(gt_sup_children(sup, v, 8), 3);
    ASSERT_STREQ(v[0].id, "w2");
    ASSERT_STREQ(v[1].id, "sup1");
    ASSERT_STREQ(v[2].id, "w1");
    ASSERT_EQ(v[0].type, GROVE_WORKER);
    ASSERT_EQ(v[1].type, GROVE_SUPERVISOR);
    ASSERT_EQ(v[2].type, GROVE_WORKER);
    ASSERT_EQ(v[0].restart, GROVE_TEMPORARY);
    ASSERT_EQ(v[1].restart, GROVE_PERMANENT);
    ASSERT_EQ(v[2].restart, GROVE_TRANSIENT);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(v[i].state, GROVE_CHILD_RUNNING);
        ASSERT_TRUE(grove_is_alive(v[i].pid));
        ASSERT_EQ(v[i].restarts, 0);
    }
    ASSERT_PID_EQ(v[0].pid, gt_child_pid("w2"));
    ASSERT_PID_EQ(v[2].pid, gt_child_pid("w1"));

    /* A short buffer. */
    memset(v, 0, sizeof v);
    size_t n = 0;
    ASSERT_OK(grove_sup_which_children(S(sup), v, 2, &n));
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(v[0].id, "w2");
    ASSERT_STREQ(v[1].id, "sup1");
    ASSERT_STREQ(v[2].id, "");
    ASSERT_OK(grove_sup_which_children(S(sup), NULL, 0, &n));
    ASSERT_EQ(n, 3);

    /* start_child appends: the newest is listed first. */
    extra[0] = gt_child("w3", GT_START, GROVE_PERMANENT);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_OK(grove_sup_start_child(S(sup), &extra[0], &pid, &why));
    ASSERT_EQ(gt_sup_children(sup, v, 8), 4);
    ASSERT_STREQ(v[0].id, "w3");
    ASSERT_STREQ(v[3].id, "w1");
    SUP_SHUTDOWN(sup);
}

/* S-16: count_children: specs, active, and supervisors/workers by
 * declared type whether running or not. */
PROC_TEST(supervisor_S16_count_children)
{
    memset(&inner_spec, 0, sizeof inner_spec);
    kids[0] = gt_child("w1", GT_START, GROVE_PERMANENT);
    memset(&kids[1], 0, sizeof kids[1]);
    kids[1].id = "sup1";
    kids[1].supervisor = &inner_spec;
    kids[2] = gt_child("w2", GT_GEN_SERVER, GROVE_PERMANENT);
    grove_pid_t sup = start_sup(3);
    ASSERT_COUNTS(sup, 3, 3, 1, 2);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "sup1"));
    ASSERT_COUNTS(sup, 3, 2, 1, 2);
    ASSERT_OK(grove_sup_terminate_child(S(sup), "w2"));
    ASSERT_COUNTS(sup, 3, 1, 1, 2);
    ASSERT_OK(grove_sup_delete_child(S(sup), "sup1"));
    ASSERT_COUNTS(sup, 2, 1, 0, 2);
    SUP_SHUTDOWN(sup);
}

/* S-17: every call to a supervisor that is gone gives GROVE_ENOPROC, by
 * pid or by name. */
PROC_TEST(supervisor_S17_noproc)
{
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = start_sup(1);
    SUP_SHUTDOWN(sup);
    grove_server_t srvs[2] = {S(sup), grove_server_name("s17_nobody")};
    for (int i = 0; i < 2; i++) {
        grove_server_t s = srvs[i];
        grove_pid_t pid;
        grove_reason_t why;
        grove_child_info_t v[2];
        size_t n;
        grove_child_counts_t c;
        grove_child_spec_t out;
        char idbuf[64];
        grove_sup_stats_t st;
        extra[0] = gt_child("x", GT_START, GROVE_PERMANENT);
        ASSERT_ERR(grove_sup_start_child(s, &extra[0], &pid, &why),
                   GROVE_ENOPROC);
        ASSERT_ERR(grove_sup_terminate_child(s, "a"), GROVE_ENOPROC);
        ASSERT_ERR(grove_sup_restart_child(s, "a", &pid, &why),
                   GROVE_ENOPROC);
        ASSERT_ERR(grove_sup_delete_child(s, "a"), GROVE_ENOPROC);
        ASSERT_ERR(grove_sup_which_children(s, v, 2, &n), GROVE_ENOPROC);
        ASSERT_ERR(grove_sup_count_children(s, &c), GROVE_ENOPROC);
        ASSERT_ERR(grove_sup_get_childspec(s, "a", &out, idbuf),
                   GROVE_ENOPROC);
        ASSERT_ERR(grove_sup_stats(s, &st), GROVE_ENOPROC);
    }
    ASSERT_EQ(gt_child_attempts("x"), 0);
    EXPECT_NO_MSG(20);
}
