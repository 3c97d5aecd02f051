/* Supervisor startup: OTP-SEMANTICS.md items S-7, S-8 and S-10 (children
 * start one at a time in list order and stop in reverse order; a child
 * that fails during init stops those already started and the start
 * fails), for every kind of child: a start function, a gen_server, a
 * plain entry function and a child supervisor. */
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t kids[6];
static grove_sup_spec_t spec;

static void set_spec(int strategy, size_t n)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = strategy;
    spec.flags.max_restarts = 3;
    spec.flags.max_seconds = 5;
    spec.children = kids;
    spec.nchildren = n;
}

/* S-7: start order is list order, each start done before the next one
 * (start:X is recorded inside the start, before it returns), and
 * start_link returns once all are up; shutdown is in reverse order. */
PROC_TEST(supervisor_S07_start_and_stop_order)
{
    set_spec(GROVE_ONE_FOR_ONE, 5);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[2] = gt_child("c", GT_START, GROVE_TRANSIENT);
    kids[3] = gt_child("d", GT_GEN_SERVER, GROVE_TEMPORARY);
    kids[4] = gt_child("e", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = SUP_START(&spec);
    ASSERT_EVENTS("start:a", "start:b", "start:c", "start:d", "start:e");
    ASSERT_COUNTS(sup, 5, 5, 0, 5);
    const char *ids[5] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        ASSERT_PID_EQ(gt_sup_child_pid(sup, ids[i]), gt_child_pid(ids[i]));
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "start:b", "start:c", "start:d", "start:e",
                  "stop:e", "stop:d", "stop:c", "stop:b", "stop:a");
    for (int i = 0; i < 5; i++)
        ASSERT_FALSE(grove_is_alive(gt_child_pid(ids[i])));
}

/* S-7: plain entry children and child supervisors start and stop too;
 * a child supervisor's own children stop before it is done. */
static grove_child_spec_t inner_kids[2];
static grove_sup_spec_t inner_spec;

PROC_TEST(supervisor_S07_entry_and_supervisor_children)
{
    memset(&inner_spec, 0, sizeof inner_spec);
    inner_kids[0] = gt_child("i1", GT_START, GROVE_PERMANENT);
    inner_kids[1] = gt_child("i2", GT_GEN_SERVER, GROVE_PERMANENT);
    inner_spec.children = inner_kids;
    inner_spec.nchildren = 2;
    set_spec(GROVE_ONE_FOR_ONE, 3);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    memset(&kids[1], 0, sizeof kids[1]);
    kids[1].id = "inner";
    kids[1].supervisor = &inner_spec;
    kids[2] = gt_child("p", GT_ENTRY, GROVE_PERMANENT);
    grove_pid_t sup = SUP_START(&spec);
    WAIT_UNTIL(gt_child_starts("p") == 1);
    ASSERT_COUNTS(sup, 3, 3, 1, 2);
    grove_child_info_t ci;
    ASSERT_TRUE(gt_sup_child(sup, "inner", &ci));
    ASSERT_EQ(ci.type, GROVE_SUPERVISOR);
    grove_pid_t inner = ci.pid;
    ASSERT_COUNTS(inner, 2, 2, 0, 2);
    ASSERT_PID_EQ(gt_sup_child_pid(inner, "i1"), gt_child_pid("i1"));
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "p"), gt_child_pid("p"));
    SUP_SHUTDOWN(sup);
    ASSERT_FALSE(grove_is_alive(inner));
    ASSERT_FALSE(grove_is_alive(gt_child_pid("p")));
    ASSERT_FALSE(grove_is_alive(gt_child_pid("i2")));
}

/* S-7 with a nested supervisor: the inner children start during the
 * outer start, and the tree stops depth first in reverse order. */
PROC_TEST(supervisor_S07_nested_order)
{
    memset(&inner_spec, 0, sizeof inner_spec);
    inner_kids[0] = gt_child("i1", GT_START, GROVE_PERMANENT);
    inner_kids[1] = gt_child("i2", GT_GEN_SERVER, GROVE_PERMANENT);
    inner_spec.children = inner_kids;
    inner_spec.nchildren = 2;
    set_spec(GROVE_ONE_FOR_ONE, 3);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    memset(&kids[1], 0, sizeof kids[1]);
    kids[1].id = "inner";
    kids[1].supervisor = &inner_spec;
    kids[2] = gt_child("c", GT_GEN_SERVER, GROVE_PERMANENT);
    grove_pid_t sup = SUP_START(&spec);
    ASSERT_EVENTS("start:a", "start:i1", "start:i2", "start:c");
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "start:i1", "start:i2", "start:c", "stop:c",
                  "stop:i2", "stop:i1", "stop:a");
}

/* S-10: a child fails during init: the ones already started stop in
 * reverse order, later ones never start, the start fails with
 * {shutdown, failed_to_start_child ...}, and a trapping linked caller
 * finds no EXIT left. */
static void failing_init_case(int kind)
{
    set_spec(GROVE_ONE_FOR_ONE, 4);
    kids[0] = gt_child("first", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("second", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[2] = gt_child("broken", kind, GROVE_PERMANENT);
    kids[3] = gt_child("never", GT_START, GROVE_PERMANENT);
    gt_child_fail("broken", 1, -1);
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_sup_opts_t o = {.link = true, .name = "s10"};
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_sup_start(&spec, &o, &pid, &why), GROVE_ESTARTFAIL);
    ASSERT_REASON_KIND(why, GROVE_EXIT_SHUTDOWN);
    ASSERT_REASON_HAS(why, "failed_to_start_child");
    ASSERT_REASON_HAS(why, "broken");
    ASSERT_EVENTS("start:first", "start:second", "fail:broken",
                  "stop:second", "stop:first");
    ASSERT_EQ(gt_child_attempts("never"), 0);
    ASSERT_FALSE(grove_is_alive(gt_child_pid("first")));
    ASSERT_FALSE(grove_is_alive(gt_child_pid("second")));
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("s10", &found), GROVE_ENOTFOUND);
    EXPECT_NO_MSG(50);
}

PROC_TEST(supervisor_S10_child_start_fails_in_init)
{
    failing_init_case(GT_START);
}

PROC_TEST(supervisor_S10_gen_server_child_fails_in_init)
{
    failing_init_case(GT_GEN_SERVER);
}

/* S-10: the failure reason is not normal, so it kills a linked caller
 * that does not trap exits. */
static void start_without_trap(void *arg)
{
    (void)arg;
    grove_sup_opts_t o = {.link = true};
    grove_pid_t pid;
    grove_reason_t why;
    int rc = grove_sup_start(&spec, &o, &pid, &why);
    gt_ev("returned %s", grove_errname(rc));
}

PROC_TEST(supervisor_S10_failed_start_kills_linked_caller)
{
    set_spec(GROVE_ONE_FOR_ONE, 2);
    kids[0] = gt_child("first", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("broken", GT_START, GROVE_PERMANENT);
    gt_child_fail("broken", 1, -1);
    grove_pid_t p = SPAWN_MON(start_without_trap, NULL, NULL);
    grove_reason_t r = AWAIT_EXIT(p);
    ASSERT_REASON_KIND(r, GROVE_EXIT_SHUTDOWN);
    ASSERT_REASON_HAS(r, "failed_to_start_child");
    ASSERT_EVENTS("start:first", "fail:broken", "stop:first");
}

/* S-8: an error from a start function fails the child even when it
 * wrote a pid; a start that ends with ignore is not an error. */
static int bogus_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    *pid = grove_self();
    *why = grove_reason_error(8, "bogus");
    return GROVE_ENOMEM;
}

PROC_TEST(supervisor_S08_start_function_results)
{
    set_spec(GROVE_ONE_FOR_ONE, 2);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    memset(&kids[1], 0, sizeof kids[1]);
    kids[1].id = "odd";
    kids[1].start = bogus_start;
    grove_pid_t pid;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_sup_opts_t o = {.link = true};
    ASSERT_ERR(grove_sup_start(&spec, &o, &pid, &why), GROVE_ESTARTFAIL);
    ASSERT_REASON_HAS(why, "odd");
    ASSERT_REASON_HAS(why, "bogus");
    ASSERT_EVENTS("start:a", "stop:a");
    EXPECT_NO_MSG(50);
}

/* A named supervisor: the name is taken while it runs, and a second
 * start gives the holder. */
PROC_TEST(supervisor_named)
{
    set_spec(GROVE_ONE_FOR_ONE, 1);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_sup_opts_t o = {.link = true, .name = "named_sup"};
    grove_pid_t sup, other;
    grove_reason_t why;
    ASSERT_OK(grove_sup_start(&spec, &o, &sup, &why));
    grove_pid_t found;
    ASSERT_OK(grove_whereis("named_sup", &found));
    ASSERT_PID_EQ(found, sup);
    ASSERT_ERR(grove_sup_start(&spec, &o, &other, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(other, sup);
    ASSERT_EQ(gt_child_attempts("a"), 1);
    grove_child_counts_t c;
    ASSERT_OK(grove_sup_count_children(grove_server_name("named_sup"), &c));
    ASSERT_EQ(c.active, 1);
    SUP_SHUTDOWN(sup);
    ASSERT_ERR(grove_whereis("named_sup", &found), GROVE_ENOTFOUND);
}
