/* DynamicSupervisor children at run time: OTP-SEMANTICS.md items D-7 to
 * D-11 (terminate_child by pid, which_children and count_children,
 * restart types where a child that is not restarted is forgotten, a
 * restart that fails is retried and counts toward the intensity, and the
 * intensity ending the supervisor). */
#include <string.h>

#include "dynsup_kid.h"

static dk_t k1, k2, k3;

/* How many children which_children shows in state st. */
static int in_state(grove_pid_t sup, int st)
{
    grove_child_info_t ci[16];
    size_t n = ds_which(sup, ci, 16);
    ASSERT_LE(n, 16);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += ci[i].state == st;
    return k;
}

/* D-7: terminate_child shuts the child down (it sees shutdown from the
 * supervisor), forgets it (a permanent child is not restarted) and
 * answers GROVE_ENOTFOUND for any pid that is not a current child: the
 * same pid again, a live stranger (left alone), no pid, the caller and
 * the supervisor itself. */
PROC_TEST(dynsup_D07_terminate_child)
{
    dk_init(&k1);
    grove_pid_t sup = DS_START(NULL);
    grove_server_t srv = grove_server_pid(sup);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    grove_pid_t q = DS_CHILD(sup, &s);
    WATCH(p);
    ASSERT_OK(grove_dynsup_terminate_child(srv, p));
    ASSERT_FALSE(grove_is_alive(p));
    dk_saw_t saw = DK_EXPECT_SAW(p);
    ASSERT_PID_EQ(saw.from, sup);
    ASSERT_REASON_EQ(saw.reason, grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_shutdown(NULL));
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    grove_child_info_t ci[4];
    ASSERT_EQ(ds_which(sup, ci, 4), 1);
    ASSERT_PID_EQ(ci[0].pid, q);
    grove_sleep(50);
    ASSERT_EQ(dk_starts(&k1), 2);

    ASSERT_ERR(grove_dynsup_terminate_child(srv, p), GROVE_ENOTFOUND);
    grove_pid_t stranger = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_ERR(grove_dynsup_terminate_child(srv, stranger), GROVE_ENOTFOUND);
    ASSERT_TRUE(gt_ping(stranger));
    STOP_ECHO(stranger);
    ASSERT_ERR(grove_dynsup_terminate_child(srv, GROVE_PID_NONE),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_dynsup_terminate_child(srv, grove_self()),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_dynsup_terminate_child(srv, sup), GROVE_ENOTFOUND);
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    ASSERT_TRUE(grove_is_alive(q));
    DS_STOP(sup);
}

/* D-7: terminate_child uses the child's shutdown setting: a child that
 * ignores the signal is killed once its shutdown time is over; a
 * brutal_kill child is killed at once and never sees a signal. */
PROC_TEST(dynsup_D07_terminate_uses_the_shutdown_setting)
{
    dk_init(&k1);
    dk_init(&k2);
    dk_set_stop(&k1, 0, true);
    grove_pid_t sup = DS_START(NULL);
    grove_server_t srv = grove_server_pid(sup);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    s.shutdown = 150;
    grove_pid_t p = DS_CHILD(sup, &s);
    WATCH(p);
    int64_t t0 = gt_now_ms();
    ASSERT_OK(grove_dynsup_terminate_child(srv, p));
    int64_t took = gt_now_ms() - t0;
    ASSERT_GE(took, 120);
    ASSERT_REASON_EQ(DK_EXPECT_SAW(p).reason, grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_of(GROVE_EXIT_KILLED));

    grove_child_spec_t b = dk_spec(&k2, GROVE_PERMANENT);
    b.shutdown = GROVE_SHUTDOWN_BRUTAL_KILL;
    grove_pid_t q = DS_CHILD(sup, &b);
    WATCH(q);
    ASSERT_OK(grove_dynsup_terminate_child(srv, q));
    ASSERT_REASON_EQ(AWAIT_EXIT(q), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_EQ(dk_drain_saw(), 0);
    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    ASSERT_EQ(dk_starts(&k1) + dk_starts(&k2), 2);
    DS_STOP(sup);
}

/* D-7: GROVE_SHUTDOWN_IMMEDIATE (OTP's 0): the shutdown signal, then a
 * kill without waiting. */
PROC_TEST(dynsup_D07_terminate_immediate)
{
    dk_init(&k1);
    dk_set_stop(&k1, 0, true);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    s.shutdown = GROVE_SHUTDOWN_IMMEDIATE;
    grove_pid_t p = DS_CHILD(sup, &s);
    WATCH(p);
    int64_t t0 = gt_now_ms();
    ASSERT_OK(grove_dynsup_terminate_child(grove_server_pid(sup), p));
    ASSERT_LT(gt_now_ms() - t0, gt_scaled_ms(1000));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    dk_drain_saw();
    DS_STOP(sup);
}

/* D-7 and D-8: a child whose restart failed is listed as restarting with
 * no pid, counted in specs but not active; terminate_child takes its old
 * pid, forgets it and stops the retries. */
PROC_TEST(dynsup_D07_terminate_restarting_child)
{
    dk_init(&k1);
    dk_init(&k2);
    k1.fail_sleep_ms = 20;
    grove_dynsup_opts_t o = {.max_restarts = 1000};
    grove_pid_t sup = DS_START(&o);
    grove_server_t srv = grove_server_pid(sup);
    grove_child_spec_t s1 = dk_spec(&k1, GROVE_PERMANENT);
    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s1);
    grove_pid_t q = DS_CHILD(sup, &s2);
    dk_set_failing(&k1, true);
    dk_exit(p, grove_reason_error(1, "crash"));
    WAIT_UNTIL(in_state(sup, GROVE_CHILD_RESTARTING) == 1);
    grove_child_info_t ci[4];
    ASSERT_EQ(ds_which(sup, ci, 4), 2);
    for (int i = 0; i < 2; i++) {
        if (ci[i].state == GROVE_CHILD_RESTARTING) {
            ASSERT_PID_EQ(ci[i].pid, GROVE_PID_NONE);
        } else {
            ASSERT_EQ(ci[i].state, GROVE_CHILD_RUNNING);
            ASSERT_PID_EQ(ci[i].pid, q);
        }
    }
    ASSERT_DS_COUNTS(sup, 2, 1, 0, 2);
    WAIT_UNTIL(dk_attempts(&k1) >= 3); /* it keeps trying */

    ASSERT_OK(grove_dynsup_terminate_child(srv, p));
    int n = dk_attempts(&k1);
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    ASSERT_ERR(grove_dynsup_terminate_child(srv, p), GROVE_ENOTFOUND);
    grove_sleep(80);
    ASSERT_EQ(dk_attempts(&k1), n);
    ASSERT_EQ(dk_starts(&k1), 1);
    DS_STOP(sup);
}

static grove_sup_spec_t empty_sup;

static int start_dynsup(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_dynsup_opts_t o = {.link = true};
    return grove_dynsup_start(&o, pid, why);
}

/* D-8: which_children lists every child once, with an empty id, its pid,
 * state, type and restart type; it writes at most max entries and always
 * gives the total. count_children counts by type, supervisor children
 * (a plain supervisor and a DynamicSupervisor) included. */
PROC_TEST(dynsup_D08_which_and_count_children)
{
    dk_init(&k1);
    dk_init(&k2);
    dk_init(&k3);
    memset(&empty_sup, 0, sizeof empty_sup);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s[5];
    s[0] = dk_spec(&k1, GROVE_PERMANENT);
    s[1] = dk_gs_spec(&k2, GROVE_TRANSIENT);
    s[2] = dk_entry_spec(&k3, GROVE_TEMPORARY);
    memset(&s[3], 0, sizeof s[3]);
    s[3].supervisor = &empty_sup;
    s[3].restart = GROVE_TRANSIENT;
    memset(&s[4], 0, sizeof s[4]);
    s[4].start = start_dynsup;
    s[4].type = GROVE_SUPERVISOR;
    int types[5] = {GROVE_WORKER, GROVE_WORKER, GROVE_WORKER,
                    GROVE_SUPERVISOR, GROVE_SUPERVISOR};
    grove_pid_t p[5];
    for (int i = 0; i < 5; i++)
        p[i] = DS_CHILD(sup, &s[i]);

    grove_child_info_t ci[8];
    ASSERT_EQ(ds_which(sup, ci, 8), 5);
    for (int i = 0; i < 5; i++) {
        int hits = 0;
        for (int j = 0; j < 5; j++) {
            if (!grove_pid_equal(ci[j].pid, p[i]))
                continue;
            hits++;
            ASSERT_STREQ(ci[j].id, "");
            ASSERT_EQ(ci[j].state, GROVE_CHILD_RUNNING);
            ASSERT_EQ(ci[j].type, types[i]);
            ASSERT_EQ(ci[j].restart, s[i].restart);
            ASSERT_EQ(ci[j].restarts, 0);
        }
        ASSERT_EQ(hits, 1);
    }
    memset(ci, 0xab, sizeof ci);
    ASSERT_EQ(ds_which(sup, ci, 2), 5);
    unsigned char untouched[sizeof ci[2]];
    memset(untouched, 0xab, sizeof untouched);
    ASSERT_EQ(memcmp(&ci[2], untouched, sizeof untouched), 0);
    ASSERT_EQ(ds_which(sup, NULL, 0), 5);
    ASSERT_DS_COUNTS(sup, 5, 5, 2, 3);
    size_t n = 0;
    ASSERT_ERR(grove_dynsup_which_children(grove_server_pid(sup), NULL, 1,
                                           &n),
               GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_count_children(grove_server_pid(sup), NULL),
               GROVE_EINVAL);

    for (int i = 0; i < 5; i++)
        WATCH(p[i]);
    DS_STOP(sup);
    for (int i = 0; i < 5; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(p[i]), grove_reason_shutdown(NULL));
}

/* ---- D-9: restart types ---------------------------------------------- */

enum { R_NORMAL, R_SHUTDOWN, R_SHUTDOWN_DETAIL, R_ERROR, R_KILL, R_COUNT };
enum { F_START, F_GEN_SERVER, F_ENTRY, F_COUNT };

static grove_reason_t reason_of(int r)
{
    switch (r) {
    case R_NORMAL:
        return grove_reason_normal();
    case R_SHUTDOWN:
        return grove_reason_shutdown(NULL);
    case R_SHUTDOWN_DETAIL:
        return grove_reason_shutdown("moved");
    case R_ERROR:
        return grove_reason_error(9, "broke");
    default:
        return grove_reason_of(GROVE_EXIT_KILL);
    }
}

static grove_child_spec_t flavour(int f, int restart)
{
    if (f == F_GEN_SERVER)
        return dk_gs_spec(&k1, restart);
    if (f == F_ENTRY)
        return dk_entry_spec(&k1, restart);
    return dk_spec(&k1, restart);
}

/* One child of the given restart type exits with reason r: it is either
 * restarted (a new pid, restarts 1) or forgotten altogether. */
static void restart_case(int restart, int r, int f, bool restarted)
{
    dk_init(&k1);
    grove_dynsup_opts_t o = {.max_restarts = 100};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s = flavour(f, restart);
    grove_pid_t p = DS_CHILD(sup, &s);
    WAIT_UNTIL(dk_starts(&k1) == 1);
    WATCH(p);
    grove_reason_t why = reason_of(r);
    dk_exit(p, why);
    grove_reason_t got = AWAIT_EXIT(p);
    if (r == R_KILL)
        ASSERT_REASON_EQ(got, grove_reason_of(GROVE_EXIT_KILLED));
    else
        ASSERT_REASON_EQ(got, why);
    if (restarted) {
        grove_pid_t q = DS_WAIT_NEW(sup, p);
        WAIT_UNTIL(dk_starts(&k1) == 2);
        ASSERT_PID_EQ(q, dk_last_pid(&k1));
        grove_child_info_t ci[2];
        ASSERT_EQ(ds_which(sup, ci, 2), 1);
        ASSERT_EQ(ci[0].restarts, 1);
        ASSERT_EQ(ci[0].restart, restart);
        ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    } else {
        DS_WAIT_SPECS(sup, 0);
        ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
        ASSERT_EQ(ds_which(sup, NULL, 0), 0);
        ASSERT_EQ(dk_starts(&k1), 1);
    }
    DS_STOP(sup);
    ASSERT_EQ(dk_starts(&k1), restarted ? 2 : 1);
    dk_drain_saw();
}

/* D-9 (S-19): permanent children come back after any exit. */
PROC_TEST(dynsup_D09_permanent_restarted_after_any_exit)
{
    for (int f = 0; f < F_COUNT; f++)
        for (int r = 0; r < R_COUNT; r++)
            restart_case(GROVE_PERMANENT, r, f, true);
}

/* D-9 (S-20): transient children come back after an abnormal exit only
 * (killed included) and are forgotten after normal, shutdown and
 * {shutdown, _}. */
PROC_TEST(dynsup_D09_transient_restarted_after_abnormal_exit)
{
    for (int f = 0; f < F_COUNT; f++)
        for (int r = 0; r < R_COUNT; r++)
            restart_case(GROVE_TRANSIENT, r, f, r >= R_ERROR);
}

/* D-9 (S-21): temporary children are never restarted and always
 * forgotten. */
PROC_TEST(dynsup_D09_temporary_never_restarted)
{
    for (int f = 0; f < F_COUNT; f++)
        for (int r = 0; r < R_COUNT; r++)
            restart_case(GROVE_TEMPORARY, r, f, false);
}

/* D-9: siblings keep running while one child is restarted (one_for_one
 * is the only strategy). */
PROC_TEST(dynsup_D09_siblings_untouched)
{
    dk_init(&k1);
    dk_init(&k2);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s1 = dk_spec(&k1, GROVE_PERMANENT);
    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t a = DS_CHILD(sup, &s2);
    grove_pid_t p = DS_CHILD(sup, &s1);
    grove_pid_t b = DS_CHILD(sup, &s2);
    dk_exit(p, grove_reason_error(1, "crash"));
    WAIT_UNTIL(dk_starts(&k1) == 2);
    ASSERT_DS_COUNTS(sup, 3, 3, 0, 3);
    ASSERT_TRUE(grove_is_alive(a));
    ASSERT_TRUE(grove_is_alive(b));
    ASSERT_EQ(dk_drain_saw(), 0);
    DS_STOP(sup);
}

/* ---- D-10, D-11: failing restarts and the intensity ------------------ */

/* D-10: a restart whose start returns ignore forgets the child. */
PROC_TEST(dynsup_D10_restart_ignored_forgets_child)
{
    dk_init(&k1);
    k1.ignore_from = 2;
    k1.ignore_count = 1;
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    dk_exit(p, grove_reason_error(1, "crash"));
    DS_WAIT_SPECS(sup, 0);
    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    grove_sleep(30);
    ASSERT_EQ(dk_attempts(&k1), 2);
    ASSERT_EQ(dk_starts(&k1), 1);
    DS_STOP(sup);
}

/* D-10: a restart that fails leaves the child restarting (no pid, not
 * active, still counted by its type: here a supervisor) and is tried
 * again until it succeeds. */
PROC_TEST(dynsup_D10_failed_restart_is_retried)
{
    dk_init(&k1);
    k1.fail_sleep_ms = 10;
    grove_dynsup_opts_t o = {.max_restarts = 1000};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    s.type = GROVE_SUPERVISOR;
    grove_pid_t p = DS_CHILD(sup, &s);
    ASSERT_DS_COUNTS(sup, 1, 1, 1, 0);
    dk_set_failing(&k1, true);
    dk_exit(p, grove_reason_error(1, "crash"));
    grove_pid_t shown = grove_self();
    WAIT_UNTIL(ds_only_state(sup, &shown) == GROVE_CHILD_RESTARTING);
    ASSERT_PID_EQ(shown, GROVE_PID_NONE);
    ASSERT_DS_COUNTS(sup, 1, 0, 1, 0);
    WAIT_UNTIL(dk_attempts(&k1) >= 4);
    dk_set_failing(&k1, false);
    grove_pid_t q = DS_WAIT_NEW(sup, p);
    ASSERT_PID_EQ(q, dk_last_pid(&k1));
    ASSERT_TRUE(grove_is_alive(q));
    ASSERT_EQ(dk_starts(&k1), 2);
    ASSERT_DS_COUNTS(sup, 1, 1, 1, 0);
    DS_STOP(sup);
}

/* Crashes k1's process n times, each time waiting for its restart;
 * returns the latest pid. k1 has started once so far. */
static grove_pid_t crash_k1_times(grove_pid_t p, int n)
{
    for (int i = 0; i < n; i++) {
        dk_exit(p, grove_reason_error(1, "crash"));
        WAIT_UNTIL(dk_starts(&k1) == i + 2);
        p = dk_last_pid(&k1);
    }
    return p;
}

/* D-10, D-11: each retry counts toward the intensity. With max_restarts
 * 1, a crash whose restart fails and whose retry would be the second
 * restart ends the supervisor with shutdown after two start attempts. */
PROC_TEST(dynsup_D11_failed_retries_count_toward_intensity)
{
    dk_init(&k1);
    k1.fail_from = 2;
    k1.fail_count = -1;
    grove_dynsup_opts_t o = {.max_restarts = 1, .max_seconds = 5};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    dk_exit(p, grove_reason_error(1, "crash"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EQ(dk_attempts(&k1), 2);
    ASSERT_EQ(dk_starts(&k1), 1);
}

/* D-11: more restarts than max_restarts within max_seconds end the
 * supervisor with shutdown; it shuts its other children down first. */
PROC_TEST(dynsup_D11_intensity_ends_the_supervisor)
{
    dk_init(&k1);
    dk_init(&k2);
    grove_dynsup_opts_t o = {.max_restarts = 2, .max_seconds = 5};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s1 = dk_spec(&k1, GROVE_TRANSIENT);
    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t sibling = DS_CHILD(sup, &s2);
    grove_pid_t p = DS_CHILD(sup, &s1);
    p = crash_k1_times(p, 2);
    ASSERT_TRUE(grove_is_alive(sup));
    dk_exit(p, grove_reason_error(1, "crash"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    dk_saw_t saw = DK_EXPECT_SAW(sibling);
    ASSERT_PID_EQ(saw.from, sup);
    ASSERT_REASON_EQ(saw.reason, grove_reason_shutdown(NULL));
    ASSERT_FALSE(grove_is_alive(sibling));
    ASSERT_EQ(dk_starts(&k1), 3);
}

/* D-11: the window slides: restarts older than max_seconds no longer
 * count. */
PROC_TEST(dynsup_D11_old_restarts_forgotten)
{
    dk_init(&k1);
    grove_dynsup_opts_t o = {.max_restarts = 1, .max_seconds = 1};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    dk_exit(p, grove_reason_error(1, "crash"));
    p = DS_WAIT_NEW(sup, p);
    grove_sleep(2100);
    dk_exit(p, grove_reason_error(1, "crash"));
    p = DS_WAIT_NEW(sup, p);
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    dk_exit(p, grove_reason_error(1, "crash"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EQ(dk_starts(&k1), 3);
}

/* Restart statistics, as a Supervisor's: every automatic restart counts;
 * the window count and the limits are reported; a child terminated
 * through the supervisor is no restart. Bad input: NULL out, a dead
 * supervisor. */
PROC_TEST(dynsup_D11_stats)
{
    dk_init(&k1);
    dk_init(&k2);
    grove_dynsup_opts_t o = {.max_restarts = 10, .max_seconds = 7};
    grove_pid_t sup = DS_START(&o);
    grove_sup_stats_t st;
    ASSERT_OK(grove_dynsup_stats(grove_server_pid(sup), &st));
    ASSERT_EQ(st.restarts, 0);
    ASSERT_EQ(st.in_window, 0);
    ASSERT_EQ(st.strategy, GROVE_ONE_FOR_ONE);
    ASSERT_EQ(st.max_restarts, 10);
    ASSERT_EQ(st.max_seconds, 7);

    grove_child_spec_t s1 = dk_spec(&k1, GROVE_PERMANENT);
    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s1);
    grove_pid_t other = DS_CHILD(sup, &s2);
    p = crash_k1_times(p, 3);
    ASSERT_OK(grove_dynsup_stats(grove_server_pid(sup), &st));
    ASSERT_EQ(st.restarts, 3);
    ASSERT_EQ(st.in_window, 3);
    /* A child stopped through the supervisor is not restarted. */
    ASSERT_OK(grove_dynsup_terminate_child(grove_server_pid(sup), other));
    ASSERT_OK(grove_dynsup_stats(grove_server_pid(sup), &st));
    ASSERT_EQ(st.restarts, 3);

    ASSERT_ERR(grove_dynsup_stats(grove_server_pid(sup), NULL), GROVE_EINVAL);
    DS_STOP(sup);
    ASSERT_ERR(grove_dynsup_stats(grove_server_pid(sup), &st), GROVE_ENOPROC);
    dk_drain_saw();
}
