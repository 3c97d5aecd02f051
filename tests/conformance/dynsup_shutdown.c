/* DynamicSupervisor shutdown: OTP-SEMANTICS.md items D-12 and D-13 (all
 * children are signalled at once and waited for together, so a stop
 * takes about as long as the slowest child rather than the sum; children
 * in restarting are skipped; what each kind of child sees and exits
 * with), and a DynamicSupervisor as the child of a Supervisor.
 *
 * The timing checks have wide margins: the children take STOP_MS each,
 * and a stop must take at least about STOP_MS and well under half the
 * sum. */
#include <string.h>

#include "dynsup_kid.h"

enum { N_SLOW = 8, STOP_MS = 300 };

static dk_t k1, k2, k3, k4, k5;

/* D-12: trapping children that each take STOP_MS to stop on the shutdown
 * signal: the supervisor is gone in about STOP_MS, not N_SLOW times
 * that; every child saw shutdown from it and exited with it. */
PROC_TEST(dynsup_D12_children_stop_concurrently)
{
    dk_init(&k1);
    dk_set_stop(&k1, STOP_MS, false);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p[N_SLOW];
    for (int i = 0; i < N_SLOW; i++) {
        p[i] = DS_CHILD(sup, &s);
        WATCH(p[i]);
    }
    int64_t took = DS_STOP(sup);
    int64_t sum = (int64_t)N_SLOW * STOP_MS;
    gt_note("%d children of %d ms each stopped in %lld ms", N_SLOW, STOP_MS,
            (long long)took);
    ASSERT_GE(took, STOP_MS - 20);
    ASSERT_LT(took, sum / 2);
    for (int i = 0; i < N_SLOW; i++) {
        ASSERT_FALSE(grove_is_alive(p[i]));
        ASSERT_REASON_EQ(AWAIT_EXIT(p[i]), grove_reason_shutdown(NULL));
        dk_saw_t saw = DK_EXPECT_SAW(p[i]);
        ASSERT_PID_EQ(saw.from, sup);
        ASSERT_REASON_EQ(saw.reason, grove_reason_shutdown(NULL));
    }
}

/* D-12 with gen_server children whose terminate sleeps STOP_MS, the
 * supervisor stopped with grove_gs_stop. */
PROC_TEST(dynsup_D12_gen_server_children_stop_concurrently)
{
    dk_init(&k1);
    dk_set_stop(&k1, STOP_MS, false);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_gs_spec(&k1, GROVE_TRANSIENT);
    grove_pid_t p[N_SLOW];
    for (int i = 0; i < N_SLOW; i++) {
        p[i] = DS_CHILD(sup, &s);
        WATCH(p[i]);
    }
    int64_t t0 = (int64_t)grove_now_ms();
    grove_reason_t why;
    ASSERT_OK(grove_gs_stop(grove_server_pid(sup), NULL,
                            gt_scaled_ms(20000), &why));
    int64_t took = (int64_t)grove_now_ms() - t0;
    gt_note("%d gen_servers of %d ms each stopped in %lld ms", N_SLOW,
            STOP_MS, (long long)took);
    ASSERT_GE(took, STOP_MS - 20);
    ASSERT_LT(took, (int64_t)N_SLOW * STOP_MS / 2);
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_normal());
    for (int i = 0; i < N_SLOW; i++) {
        ASSERT_REASON_EQ(AWAIT_EXIT(p[i]), grove_reason_shutdown(NULL));
        dk_saw_t saw = DK_EXPECT_SAW(p[i]);
        ASSERT_PID_EQ(saw.from, sup);
        ASSERT_REASON_EQ(saw.reason, grove_reason_shutdown(NULL));
    }
}

/* D-12, D-13: children that ignore the signal are killed when their
 * shutdown time is over; the timers run side by side. */
PROC_TEST(dynsup_D12_shutdown_timeouts_run_concurrently)
{
    dk_init(&k1);
    dk_set_stop(&k1, 0, true);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    s.shutdown = STOP_MS;
    grove_pid_t p[N_SLOW];
    for (int i = 0; i < N_SLOW; i++) {
        p[i] = DS_CHILD(sup, &s);
        WATCH(p[i]);
    }
    int64_t took = DS_STOP(sup);
    gt_note("%d children killed after %d ms each, in %lld ms", N_SLOW,
            STOP_MS, (long long)took);
    ASSERT_GE(took, STOP_MS - 20);
    ASSERT_LT(took, (int64_t)N_SLOW * STOP_MS / 2);
    for (int i = 0; i < N_SLOW; i++) {
        ASSERT_REASON_EQ(AWAIT_EXIT(p[i]),
                         grove_reason_of(GROVE_EXIT_KILLED));
        ASSERT_REASON_EQ(DK_EXPECT_SAW(p[i]).reason,
                         grove_reason_shutdown(NULL));
    }
}

/* D-12, D-13: a mix of shutdown settings stops as fast as the slowest:
 * brutal_kill children are killed without a signal to trap, children
 * that ignore the signal are killed at their time, trapping children
 * and gen_servers leave with shutdown when done, and a child that does
 * not trap exits dies of shutdown at once. */
PROC_TEST(dynsup_D12_mixed_shutdown_settings)
{
    enum { EACH = 3, SLOWEST = 250, OTHER = 200 };
    dk_init(&k1);
    dk_init(&k2);
    dk_init(&k3);
    dk_init(&k4);
    dk_init(&k5);
    dk_set_stop(&k2, 0, true);
    dk_set_stop(&k3, OTHER, false);
    dk_set_stop(&k4, OTHER, false);
    k5.trap = false;
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s[5];
    s[0] = dk_spec(&k1, GROVE_PERMANENT);
    s[0].shutdown = GROVE_SHUTDOWN_BRUTAL_KILL;
    s[1] = dk_spec(&k2, GROVE_TRANSIENT);
    s[1].shutdown = SLOWEST;
    s[2] = dk_spec(&k3, GROVE_TEMPORARY);
    s[2].shutdown = GROVE_SHUTDOWN_INFINITY;
    s[3] = dk_gs_spec(&k4, GROVE_PERMANENT);
    s[4] = dk_spec(&k5, GROVE_PERMANENT);
    grove_reason_t want[5] = {
        grove_reason_of(GROVE_EXIT_KILLED), grove_reason_of(GROVE_EXIT_KILLED),
        grove_reason_shutdown(NULL), grove_reason_shutdown(NULL),
        grove_reason_shutdown(NULL)};
    bool sees[5] = {false, true, true, true, false};
    grove_pid_t p[5][EACH];
    for (int j = 0; j < EACH; j++)
        for (int i = 0; i < 5; i++) {
            p[i][j] = DS_CHILD(sup, &s[i]);
            WATCH(p[i][j]);
        }
    ASSERT_DS_COUNTS(sup, 5 * EACH, 5 * EACH, 0, 5 * EACH);
    int64_t took = DS_STOP(sup);
    int64_t sum = EACH * (SLOWEST + 2 * OTHER);
    gt_note("mixed children stopped in %lld ms (slowest %d, sum %lld)",
            (long long)took, SLOWEST, (long long)sum);
    ASSERT_GE(took, SLOWEST - 20);
    ASSERT_LT(took, sum / 2);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < EACH; j++) {
            ASSERT_REASON_EQ(AWAIT_EXIT(p[i][j]), want[i]);
            if (sees[i])
                ASSERT_REASON_EQ(DK_EXPECT_SAW(p[i][j]).reason,
                                 grove_reason_shutdown(NULL));
        }
    ASSERT_EQ(dk_drain_saw(), 0);
}

/* D-12 with many children: 240 that die of the signal at once, every
 * eighth of them one that ignores it and is killed at STOP_MS. The
 * supervisor takes the DOWNs of the quick ones while it still signals the
 * rest; the ignoring ones are still killed on time, the stop still takes
 * about STOP_MS, and every child ends with what its setting says. */
PROC_TEST(dynsup_D12_many_children_some_ignoring)
{
    enum { N = 240, EVERY = 8 };
    static grove_pid_t p[N];
    dk_init(&k1);
    dk_init(&k2);
    k1.trap = false;
    dk_set_stop(&k2, 0, true);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t quick = dk_spec(&k1, GROVE_PERMANENT);
    grove_child_spec_t deaf = dk_spec(&k2, GROVE_PERMANENT);
    deaf.shutdown = STOP_MS;
    for (int i = 0; i < N; i++) {
        p[i] = DS_CHILD(sup, i % EVERY ? &quick : &deaf);
        WATCH(p[i]);
    }
    ASSERT_DS_COUNTS(sup, N, N, 0, N);
    int64_t took = DS_STOP(sup);
    gt_note("%d children, %d killed after %d ms, stopped in %lld ms", N,
            N / EVERY, STOP_MS, (long long)took);
    ASSERT_GE(took, STOP_MS - 20);
    ASSERT_LT(took, (int64_t)(N / EVERY) * STOP_MS / 2);
    for (int i = 0; i < N; i++) {
        ASSERT_FALSE(grove_is_alive(p[i]));
        ASSERT_REASON_EQ(AWAIT_EXIT(p[i]),
                         i % EVERY ? grove_reason_shutdown(NULL)
                                   : grove_reason_of(GROVE_EXIT_KILLED));
        if (i % EVERY == 0)
            ASSERT_REASON_EQ(DK_EXPECT_SAW(p[i]).reason,
                             grove_reason_shutdown(NULL));
    }
    ASSERT_EQ(dk_drain_saw(), 0);
}

/* D-12: a supervisor killed while it waits for children that ignore the
 * shutdown signal (shutdown infinity) ends at once, killed; the children
 * it had unlinked and signalled live on, as in OTP, and what it kept to
 * wait for them is freed with it (the leak-checking builds run this). */
PROC_TEST(dynsup_D12_killed_while_stopping)
{
    enum { N = 40 };
    grove_pid_t p[N];
    dk_init(&k1);
    dk_set_stop(&k1, 0, true);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    s.shutdown = GROVE_SHUTDOWN_INFINITY;
    for (int i = 0; i < N; i++) {
        p[i] = DS_CHILD(sup, &s);
        WATCH(p[i]);
    }
    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_exit_signal(sup, &shutdown));
    for (int i = 0; i < N; i++)
        ASSERT_REASON_EQ(DK_EXPECT_SAW(GROVE_PID_NONE).reason,
                         grove_reason_shutdown(NULL));
    ASSERT_TRUE(grove_is_alive(sup));
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(sup, &kill));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_of(GROVE_EXIT_KILLED));
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(grove_is_alive(p[i]));
        ASSERT_OK(grove_exit_signal(p[i], &kill));
        ASSERT_REASON_EQ(AWAIT_EXIT(p[i]),
                         grove_reason_of(GROVE_EXIT_KILLED));
    }
}

/* D-12: a child in restarting has no process to stop: it is skipped,
 * and its retries end with the supervisor. */
PROC_TEST(dynsup_D12_restarting_children_skipped)
{
    dk_init(&k1);
    dk_init(&k2);
    k1.fail_sleep_ms = 20;
    grove_dynsup_opts_t o = {.max_restarts = 1000};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s1 = dk_spec(&k1, GROVE_PERMANENT);
    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s1);
    grove_pid_t q = DS_CHILD(sup, &s2);
    WATCH(q);
    dk_set_failing(&k1, true);
    dk_exit(p, grove_reason_error(1, "crash"));
    WAIT_UNTIL(ds_counts(sup).active == 1);
    ASSERT_DS_COUNTS(sup, 2, 1, 0, 2);
    DS_STOP(sup);
    int n = dk_attempts(&k1);
    ASSERT_REASON_EQ(AWAIT_EXIT(q), grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(DK_EXPECT_SAW(q).reason, grove_reason_shutdown(NULL));
    grove_sleep(80);
    ASSERT_EQ(dk_attempts(&k1), n);
    ASSERT_EQ(dk_starts(&k1), 1);
}

/* D-12 (S-36): an exit signal from its parent stops it the same way;
 * it exits with the parent's reason while its children are sent
 * shutdown. */
PROC_TEST(dynsup_D12_parent_reason)
{
    dk_init(&k1);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t a = DS_CHILD(sup, &s);
    grove_pid_t b = DS_CHILD(sup, &s);
    WATCH(a);
    WATCH(b);
    grove_reason_t r = grove_reason_error(5, "parent gave up");
    ASSERT_OK(grove_exit_signal(sup, &r));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), r);
    ASSERT_REASON_EQ(AWAIT_EXIT(a), grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(b), grove_reason_shutdown(NULL));
    ASSERT_PID_EQ(DK_EXPECT_SAW(a).from, sup);
    ASSERT_PID_EQ(DK_EXPECT_SAW(b).from, sup);
}

/* D-13: a trapping child may leave with a reason of its own ({shutdown,
 * oops}, or normal from a permanent child); the supervisor still stops
 * with shutdown. */
/* k1 leaves with {shutdown, oops}, k2 with normal, when told to stop. */
static void dk_init_leavers(void)
{
    dk_init(&k1);
    dk_init(&k2);
    k1.has_leave = true;
    k1.leave = grove_reason_shutdown("oops");
    k2.has_leave = true;
    k2.leave = grove_reason_normal();
}

PROC_TEST(dynsup_D13_children_choose_their_reason)
{
    dk_init_leavers();
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s1 = dk_spec(&k1, GROVE_TRANSIENT);
    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t a = DS_CHILD(sup, &s1);
    grove_pid_t b = DS_CHILD(sup, &s2);
    WATCH(a);
    WATCH(b);
    DS_STOP(sup);
    ASSERT_REASON_EQ(AWAIT_EXIT(a), grove_reason_shutdown("oops"));
    ASSERT_REASON_EQ(AWAIT_EXIT(b), grove_reason_normal());
    ASSERT_REASON_EQ(DK_EXPECT_SAW(a).reason, grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(DK_EXPECT_SAW(b).reason, grove_reason_shutdown(NULL));
}

/* The report naming pid and what. */
static int sd_reports_naming(grove_pid_t pid, const char *what)
{
    char ps[GROVE_PID_STR_MAX];
    grove_pid_format(pid, ps, sizeof ps);
    return gt_reports_naming(ps, what);
}

/* D-13: which ends of a stop are reported as shutdown_error, as a
 * Supervisor's: a permanent child leaving with normal, and a child killed
 * when its shutdown time ran out; not {shutdown, oops} from a transient
 * child, nor killed for brutal_kill, nor plain shutdown. */
PROC_TEST(dynsup_D13_shutdown_errors_reported)
{
    grove_log_handler_t *h;
    ASSERT_OK(gt_reports_start(&h));
    dk_init_leavers();
    dk_init(&k3);
    dk_init(&k4);
    dk_init(&k5);
    dk_set_stop(&k3, 0, true);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s[5] = {
        dk_spec(&k1, GROVE_TRANSIENT), dk_spec(&k2, GROVE_PERMANENT),
        dk_spec(&k3, GROVE_PERMANENT), dk_spec(&k4, GROVE_PERMANENT),
        dk_gs_spec(&k5, GROVE_PERMANENT)};
    s[2].shutdown = 50;
    s[3].shutdown = GROVE_SHUTDOWN_BRUTAL_KILL;
    grove_pid_t p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = DS_CHILD(sup, &s[i]);
        WATCH(p[i]);
    }
    DS_STOP(sup);
    ASSERT_REASON_EQ(AWAIT_EXIT(p[0]), grove_reason_shutdown("oops"));
    ASSERT_REASON_EQ(AWAIT_EXIT(p[1]), grove_reason_normal());
    ASSERT_REASON_EQ(AWAIT_EXIT(p[2]), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_REASON_EQ(AWAIT_EXIT(p[3]), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_REASON_EQ(AWAIT_EXIT(p[4]), grove_reason_shutdown(NULL));
    ASSERT_OK(grove_log_remove_handler(h));
    gt_reports_dump();
    ASSERT_EQ(gt_reports_naming("shutdown_error", NULL), 2);
    ASSERT_EQ(sd_reports_naming(p[1], "normal"), 1);
    ASSERT_EQ(sd_reports_naming(p[2], "killed"), 1);
    (void)dk_drain_saw();
}

/* ---- under a Supervisor ------------------------------------------------ */

static grove_child_spec_t top_kids[1];
static grove_sup_spec_t top;
static grove_dynsup_opts_t inner_opts;

static int start_dyn(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    grove_dynsup_opts_t o = *(const grove_dynsup_opts_t *)arg;
    o.link = true;
    return grove_dynsup_start(&o, pid, why);
}

static void set_top(void)
{
    memset(top_kids, 0, sizeof top_kids);
    top_kids[0].id = "dyn";
    top_kids[0].start = start_dyn;
    top_kids[0].arg = &inner_opts;
    top_kids[0].type = GROVE_SUPERVISOR;
    top_kids[0].restart = GROVE_PERMANENT;
    memset(&top, 0, sizeof top);
    top.flags.max_restarts = 5;
    top.flags.max_seconds = 5;
    top.children = top_kids;
    top.nchildren = 1;
}

/* A DynamicSupervisor under a Supervisor: its children's crashes are its
 * own business; when it dies its children go with it and the supervisor
 * starts it again, empty; stopping the tree stops its children first. */
PROC_TEST(dynsup_under_a_supervisor)
{
    dk_init(&k1);
    dk_init(&k2);
    memset(&inner_opts, 0, sizeof inner_opts);
    set_top();
    grove_pid_t sup = SUP_START(&top);
    ASSERT_COUNTS(sup, 1, 1, 1, 0);
    grove_pid_t dyn = gt_sup_child_pid(sup, "dyn");
    ASSERT_FALSE(grove_pid_is_none(dyn));

    grove_child_spec_t s1 = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t a = DS_CHILD(dyn, &s1);
    grove_pid_t b = DS_CHILD(dyn, &s1);
    dk_exit(a, grove_reason_error(1, "crash"));
    WAIT_UNTIL(dk_starts(&k1) == 3);
    grove_pid_t c = dk_last_pid(&k1);
    ASSERT_PID_EQ(gt_sup_child_pid(sup, "dyn"), dyn);
    ASSERT_DS_COUNTS(dyn, 2, 2, 0, 2);

    WATCH(b);
    WATCH(c);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(dyn, &kill));
    grove_pid_t dyn2 = WAIT_RESTARTED(sup, "dyn", dyn);
    ASSERT_REASON_KIND(AWAIT_EXIT(b), GROVE_EXIT_KILLED);
    ASSERT_REASON_KIND(AWAIT_EXIT(c), GROVE_EXIT_KILLED);
    ASSERT_DS_COUNTS(dyn2, 0, 0, 0, 0);

    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t d = DS_CHILD(dyn2, &s2);
    WATCH(d);
    WATCH(dyn2);
    SUP_SHUTDOWN(sup);
    ASSERT_REASON_EQ(AWAIT_EXIT(dyn2), grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(d), grove_reason_shutdown(NULL));
    dk_saw_t saw = DK_EXPECT_SAW(d);
    ASSERT_PID_EQ(saw.from, dyn2);
    ASSERT_REASON_EQ(saw.reason, grove_reason_shutdown(NULL));
}

/* A DynamicSupervisor that reaches its intensity exits with shutdown,
 * and its own supervisor restarts it. */
PROC_TEST(dynsup_under_a_supervisor_escalates)
{
    dk_init(&k1);
    memset(&inner_opts, 0, sizeof inner_opts);
    inner_opts.max_restarts = 1;
    set_top();
    grove_pid_t sup = SUP_START(&top);
    grove_pid_t dyn = gt_sup_child_pid(sup, "dyn");
    WATCH(dyn);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t a = DS_CHILD(dyn, &s);
    dk_exit(a, grove_reason_error(1, "crash"));
    WAIT_UNTIL(dk_starts(&k1) == 2);
    dk_exit(dk_last_pid(&k1), grove_reason_error(1, "crash"));
    ASSERT_REASON_EQ(AWAIT_EXIT(dyn), grove_reason_shutdown(NULL));
    grove_pid_t dyn2 = WAIT_RESTARTED(sup, "dyn", dyn);
    ASSERT_DS_COUNTS(dyn2, 0, 0, 0, 0);
    ASSERT_EQ(gt_sup_stats_of(sup).restarts, 1);
    SUP_SHUTDOWN(sup);
    ASSERT_FALSE(grove_is_alive(dyn2));
}
