/* Restart types and strategies: OTP-SEMANTICS.md items S-19 to S-28.
 *
 * The matrix: a supervisor with children a, b, c (a and c permanent)
 * where b, of each restart type, exits with each kind of reason, under
 * each strategy. It checks who is restarted and in which order (the
 * event log), who keeps their pid, what which_children and
 * count_children show, and the restart counters. b is a plain process
 * for some reasons and a gen_server for the others. */
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t kids[5];
static grove_sup_spec_t spec;

static void set_spec(int strategy, size_t n, int max_restarts)
{
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = strategy;
    spec.flags.max_restarts = max_restarts;
    spec.flags.max_seconds = 30;
    spec.children = kids;
    spec.nchildren = n;
}

enum rsn { R_NORMAL, R_SHUTDOWN, R_SHUTDOWN_X, R_KILLED, R_ERROR };

static grove_reason_t make_reason(int r)
{
    switch (r) {
    case R_NORMAL:
        return grove_reason_normal();
    case R_SHUTDOWN:
        return grove_reason_shutdown(NULL);
    case R_SHUTDOWN_X:
        return grove_reason_shutdown("x");
    case R_KILLED:
        return grove_reason_of(GROVE_EXIT_KILL);
    default:
        return grove_reason_error(20, "child failed");
    }
}

/* An expected event list under construction. */
typedef struct want {
    const char *ev[32];
    int n;
} want_t;

static void want_add(want_t *w, const char *ev) { w->ev[w->n++] = ev; }

static void check_want(want_t *w, const char *file, int line)
{
    w->ev[w->n] = NULL;
    gt_order_check(gt_ev_log(), file, line, w->ev);
}

#define CHECK_WANT(w) check_want((w), __FILE__, __LINE__)

static void matrix_cell(int strategy, int restart, int rsn)
{
    int kind = rsn % 2 ? GT_GEN_SERVER : GT_START;
    set_spec(strategy, 3, 10);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", kind, restart);
    kids[2] = gt_child("c", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = SUP_START(&spec);
    want_t w = {.n = 0};
    want_add(&w, "start:a");
    want_add(&w, "start:b");
    want_add(&w, "start:c");
    CHECK_WANT(&w);
    grove_pid_t pa = gt_sup_child_pid(sup, "a");
    grove_pid_t pb = gt_sup_child_pid(sup, "b");
    grove_pid_t pc = gt_sup_child_pid(sup, "c");
    ASSERT_PID_EQ(pb, gt_child_pid("b"));

    grove_reason_t r = make_reason(rsn);
    grove_reason_t seen =
        rsn == R_KILLED ? grove_reason_of(GROVE_EXIT_KILLED) : r;
    bool restarted = restart == GROVE_PERMANENT ||
                     (restart == GROVE_TRANSIENT &&
                      !grove_reason_is_shutdown_class(&seen));
    WATCH(pb);
    gt_child_exit("b", r);
    ASSERT_REASON_EQ(AWAIT_EXIT(pb), seen);

    if (restarted) {
        grove_pid_t nb = WAIT_RESTARTED(sup, "b", pb);
        ASSERT_PID_EQ(nb, gt_child_pid("b"));
        grove_pid_t na = gt_sup_child_pid(sup, "a");
        grove_pid_t nc = gt_sup_child_pid(sup, "c");
        switch (strategy) {
        case GROVE_ONE_FOR_ONE:
            want_add(&w, "start:b");
            ASSERT_PID_EQ(na, pa);
            ASSERT_PID_EQ(nc, pc);
            break;
        case GROVE_ONE_FOR_ALL:
            want_add(&w, "stop:c");
            want_add(&w, "stop:a");
            want_add(&w, "start:a");
            want_add(&w, "start:b");
            want_add(&w, "start:c");
            ASSERT_PID_NE(na, pa);
            ASSERT_PID_NE(nc, pc);
            ASSERT_FALSE(grove_is_alive(pa));
            ASSERT_FALSE(grove_is_alive(pc));
            break;
        default:
            want_add(&w, "stop:c");
            want_add(&w, "start:b");
            want_add(&w, "start:c");
            ASSERT_PID_EQ(na, pa);
            ASSERT_PID_NE(nc, pc);
            ASSERT_FALSE(grove_is_alive(pc));
            break;
        }
        ASSERT_PID_EQ(na, gt_child_pid("a"));
        ASSERT_PID_EQ(nc, gt_child_pid("c"));
        CHECK_WANT(&w);
        ASSERT_COUNTS(sup, 3, 3, 0, 3);
        grove_child_info_t ci;
        ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
        ASSERT_EQ(ci.restarts, 1);
        grove_sup_stats_t st = gt_sup_stats_of(sup);
        ASSERT_EQ(st.restarts, 1);
        ASSERT_EQ(st.in_window, 1);
        SUP_SHUTDOWN(sup);
        want_add(&w, "stop:c");
        want_add(&w, "stop:b");
        want_add(&w, "stop:a");
        CHECK_WANT(&w);
        return;
    }

    WAIT_NOT_RUNNING(sup, "b");
    grove_child_info_t ci;
    if (restart == GROVE_TEMPORARY) {
        /* S-21: the spec is gone. */
        ASSERT_FALSE(gt_sup_child(sup, "b", &ci));
        ASSERT_COUNTS(sup, 2, 2, 0, 2);
        grove_pid_t p;
        grove_reason_t why;
        ASSERT_ERR(grove_sup_restart_child(grove_server_pid(sup), "b", &p,
                                           &why),
                   GROVE_ENOTFOUND);
    } else {
        /* S-20: kept, not running. */
        ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
        ASSERT_EQ(ci.state, GROVE_CHILD_UNDEFINED);
        ASSERT_PID_EQ(ci.pid, GROVE_PID_NONE);
        ASSERT_COUNTS(sup, 3, 2, 0, 3);
    }
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "a"), pa);
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "c"), pc);
    grove_sup_stats_t st = gt_sup_stats_of(sup);
    ASSERT_EQ(st.restarts, 0);
    ASSERT_EQ(st.in_window, 0);
    ASSERT_EQ(gt_child_attempts("b"), 1);
    CHECK_WANT(&w);
    SUP_SHUTDOWN(sup);
    want_add(&w, "stop:c");
    want_add(&w, "stop:a");
    CHECK_WANT(&w);
}

#define CELL(sname, strat, tname, type, rname, rsn)                          \
    PROC_TEST(supervisor_matrix_##sname##_##tname##_##rname)                 \
    {                                                                        \
        matrix_cell(strat, type, rsn);                                       \
    }

#define CELLS_FOR_TYPE(sname, strat, tname, type)                            \
    CELL(sname, strat, tname, type, normal, R_NORMAL)                        \
    CELL(sname, strat, tname, type, shutdown, R_SHUTDOWN)                    \
    CELL(sname, strat, tname, type, shutdown_x, R_SHUTDOWN_X)                \
    CELL(sname, strat, tname, type, killed, R_KILLED)                        \
    CELL(sname, strat, tname, type, error, R_ERROR)

#define CELLS_FOR_STRATEGY(sname, strat)                                     \
    CELLS_FOR_TYPE(sname, strat, permanent, GROVE_PERMANENT)                 \
    CELLS_FOR_TYPE(sname, strat, transient, GROVE_TRANSIENT)                 \
    CELLS_FOR_TYPE(sname, strat, temporary, GROVE_TEMPORARY)

CELLS_FOR_STRATEGY(one_for_one, GROVE_ONE_FOR_ONE)
CELLS_FOR_STRATEGY(one_for_all, GROVE_ONE_FOR_ALL)
CELLS_FOR_STRATEGY(rest_for_one, GROVE_REST_FOR_ONE)

/* S-24/S-25: a temporary bystander of a group restart is stopped and
 * dropped, not restarted. */
static void temporary_bystander(int strategy)
{
    set_spec(strategy, 3, 10);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("t", GT_GEN_SERVER, GROVE_TEMPORARY);
    kids[2] = gt_child("c", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = SUP_START(&spec);
    grove_pid_t pa = gt_child_pid("a");
    gt_child_exit("a", grove_reason_error(24, "a fails"));
    WAIT_RESTARTED(sup, "a", pa);
    ASSERT_EVENTS("start:a", "start:t", "start:c", "stop:c", "stop:t",
                  "start:a", "start:c");
    ASSERT_FALSE(gt_sup_child(sup, "t", NULL));
    ASSERT_COUNTS(sup, 2, 2, 0, 2);
    ASSERT_EQ(gt_child_starts("t"), 1);
    SUP_SHUTDOWN(sup);
}

PROC_TEST(supervisor_S24_one_for_all_temporary_bystander)
{
    temporary_bystander(GROVE_ONE_FOR_ALL);
}

PROC_TEST(supervisor_S25_rest_for_one_temporary_bystander)
{
    temporary_bystander(GROVE_REST_FOR_ONE);
}

/* S-25: rest_for_one with five children: the ones after the failed
 * child stop last-started first and restart in start order; the ones
 * before keep their pids. */
PROC_TEST(supervisor_S25_rest_for_one_order)
{
    set_spec(GROVE_REST_FOR_ONE, 5, 10);
    kids[0] = gt_child("c7", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("c3", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[2] = gt_child("c10", GT_START, GROVE_PERMANENT);
    kids[3] = gt_child("c2", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[4] = gt_child("c5", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = SUP_START(&spec);
    grove_pid_t p7 = gt_child_pid("c7"), p3 = gt_child_pid("c3");
    grove_pid_t p10 = gt_child_pid("c10");
    WATCH(p10);
    gt_child_exit("c10", grove_reason_of(GROVE_EXIT_KILL));
    ASSERT_REASON_EQ(AWAIT_EXIT(p10), grove_reason_of(GROVE_EXIT_KILLED));
    WAIT_RESTARTED(sup, "c10", p10);
    ASSERT_EVENTS("start:c7", "start:c3", "start:c10", "start:c2",
                  "start:c5", "stop:c5", "stop:c2", "start:c10", "start:c2",
                  "start:c5");
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "c7"), p7);
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "c3"), p3);
    /* S-15: restarts do not move children in which_children. */
    grove_child_info_t v[5];
    ASSERT_EQ(gt_sup_children(sup, v, 5), 5);
    const char *order[5] = {"c5", "c2", "c10", "c3", "c7"};
    for (int i = 0; i < 5; i++)
        ASSERT_STREQ(v[i].id, order[i]);
    SUP_SHUTDOWN(sup);
}

/* S-24/S-26: a group restart counts once toward the intensity, and the
 * exits of the siblings the supervisor stops itself are not new
 * failures: with max_restarts 1, one group restart leaves the supervisor
 * running; the next failure ends it. */
static void group_counts_once(int strategy)
{
    set_spec(strategy, 3, 1);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[2] = gt_child("c", GT_START, GROVE_PERMANENT);
    grove_pid_t sup = SUP_START(&spec);
    grove_pid_t pa = gt_child_pid("a");
    gt_child_exit("a", grove_reason_error(24, "a fails"));
    WAIT_RESTARTED(sup, "a", pa);
    grove_sup_stats_t st = gt_sup_stats_of(sup);
    ASSERT_EQ(st.restarts, 1);
    ASSERT_EQ(st.in_window, 1);
    ASSERT_COUNTS(sup, 3, 3, 0, 3);
    ASSERT_EVENTS("start:a", "start:b", "start:c", "stop:c", "stop:b",
                  "start:a", "start:b", "start:c");
    /* The second failure is past the intensity. */
    gt_child_exit("b", grove_reason_error(24, "b fails"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("start:a", "start:b", "start:c", "stop:c", "stop:b",
                  "start:a", "start:b", "start:c", "stop:c", "stop:a");
}

PROC_TEST(supervisor_S24_group_restart_counts_once)
{
    group_counts_once(GROVE_ONE_FOR_ALL);
}

PROC_TEST(supervisor_S25_group_restart_counts_once)
{
    group_counts_once(GROVE_REST_FOR_ONE);
}

/* S-27: a restart whose start returns ignore leaves the child with no
 * pid and no further attempts. */
PROC_TEST(supervisor_S27_restart_ignored)
{
    set_spec(GROVE_ONE_FOR_ONE, 2, 10);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_START, GROVE_PERMANENT);
    gt_child_ignore("b", 2, -1);
    grove_pid_t sup = SUP_START(&spec);
    gt_child_exit("b", grove_reason_error(27, "b fails"));
    WAIT_EVENTS(3);
    WAIT_NOT_RUNNING(sup, "b");
    grove_child_info_t ci;
    ASSERT_TRUE(gt_sup_child(sup, "b", &ci));
    ASSERT_EQ(ci.state, GROVE_CHILD_UNDEFINED);
    ASSERT_PID_EQ(ci.pid, GROVE_PID_NONE);
    ASSERT_COUNTS(sup, 2, 1, 0, 2);
    grove_sleep(30);
    ASSERT_EQ(gt_child_attempts("b"), 2);
    ASSERT_EVENTS("start:a", "start:b", "ignore:b");
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "start:b", "ignore:b", "stop:a");
}

/* S-28: one_for_all, where a different child fails to start during the
 * group restart: the children already restarted are stopped again and
 * the whole group is retried. */
PROC_TEST(supervisor_S28_one_for_all_other_child_fails)
{
    set_spec(GROVE_ONE_FOR_ALL, 3, 10);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[2] = gt_child("c", GT_START, GROVE_PERMANENT);
    gt_child_fail("c", 2, 1);
    grove_pid_t sup = SUP_START(&spec);
    grove_pid_t pa = gt_child_pid("a");
    gt_child_exit("a", grove_reason_error(28, "a fails"));
    WAIT_UNTIL(gt_child_starts("c") == 2);
    WAIT_RESTARTED(sup, "c", GROVE_PID_NONE);
    ASSERT_PID_NE(gt_sup_child_pid(sup, "a"), pa);
    ASSERT_EVENTS("start:a", "start:b", "start:c", "stop:c", "stop:b",
                  "start:a", "start:b", "fail:c", "stop:b", "stop:a",
                  "start:a", "start:b", "start:c");
    ASSERT_COUNTS(sup, 3, 3, 0, 3);
    SUP_SHUTDOWN(sup);
}

/* S-28: rest_for_one retries from the child that failed to start on,
 * and leaves the ones before it alone. */
PROC_TEST(supervisor_S28_rest_for_one_other_child_fails)
{
    set_spec(GROVE_REST_FOR_ONE, 3, 10);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[2] = gt_child("c", GT_START, GROVE_PERMANENT);
    gt_child_fail("c", 2, 1);
    grove_pid_t sup = SUP_START(&spec);
    grove_pid_t pa = gt_child_pid("a");
    grove_pid_t pb = gt_child_pid("b");
    gt_child_exit("b", grove_reason_error(28, "b fails"));
    WAIT_UNTIL(gt_child_starts("c") == 2);
    WAIT_RESTARTED(sup, "c", GROVE_PID_NONE);
    grove_pid_t nb = gt_sup_child_pid(sup, "b");
    ASSERT_PID_NE(nb, pb);
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "a"), pa);
    ASSERT_PID_EQ(nb, gt_child_pid("b"));
    ASSERT_EVENTS("start:a", "start:b", "start:c", "stop:c", "start:b",
                  "fail:c", "start:c");
    SUP_SHUTDOWN(sup);
}

/* A named gen_server child comes back under the same name after every
 * crash: the name is free by the time the supervisor restarts it. */
PROC_TEST(supervisor_restart_named_gen_server_child)
{
    static grove_gs_opts_t named = {.name = "sup_named_child",
                                    .trap_exit = true};
    set_spec(GROVE_ONE_FOR_ONE, 1, 100);
    kids[0] = gt_child("n", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[0].gs_opts = &named;
    grove_pid_t sup = SUP_START(&spec);
    for (int i = 0; i < 20; i++) {
        grove_pid_t p;
        ASSERT_OK(grove_whereis("sup_named_child", &p));
        ASSERT_PID_EQ(p, gt_sup_child_pid(sup, "n"));
        grove_reason_t r = i % 2 ? grove_reason_of(GROVE_EXIT_KILL)
                                 : grove_reason_error(20, "n fails");
        gt_child_exit("n", r);
        WAIT_RESTARTED(sup, "n", p);
    }
    ASSERT_EQ(gt_sup_stats_of(sup).restarts, 20);
    ASSERT_EQ(gt_child_starts("n"), 21);
    SUP_SHUTDOWN(sup);
    grove_pid_t p;
    ASSERT_ERR(grove_whereis("sup_named_child", &p), GROVE_ENOTFOUND);
}
