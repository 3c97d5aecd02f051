/* DynamicSupervisor start and start_child: OTP-SEMANTICS.md items D-1 to
 * D-6, D-14 and D-15 (options and their defaults, child specs checked
 * before anything starts, every result of start_child, ids ignored, the
 * extra pointer on start and restart, max_children, a start blocking the
 * supervisor, and the results where Erlang's simple_one_for_one
 * differs). */
#include <string.h>

#include "dynsup_kid.h"

static dk_t k1, k2;

/* D-1: it starts with no children and keeps running when a stranger
 * sends it an exit signal (it traps exits, and the stranger is neither
 * its parent nor a child). */
PROC_TEST(dynsup_D01_starts_empty_and_traps_exits)
{
    grove_pid_t sup = DS_START(NULL);
    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    grove_child_info_t ci[1];
    ASSERT_EQ(ds_which(sup, ci, 1), 0);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(sup, &info));
    ASSERT_TRUE(info.trap_exit);

    grove_pid_t stranger = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    gt_signal_req_t sig = {sup, grove_reason_error(3, "go away")};
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(stranger, GT_TAG_SIGNAL, &sig, sizeof sig,
                             &ack));
    ASSERT_OK(ack.rc);
    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    ASSERT_TRUE(grove_is_alive(sup));
    STOP_ECHO(stranger);
    DS_STOP(sup);
}

/* D-1: the default intensity is 3 restarts in 5 seconds: three crashes
 * are restarted, the fourth ends the supervisor with shutdown. */
PROC_TEST(dynsup_D01_default_intensity_three)
{
    dk_init(&k1);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    for (int i = 0; i < 3; i++) {
        dk_exit(p, grove_reason_error(1, "crash %d", i));
        p = DS_WAIT_NEW(sup, p);
    }
    ASSERT_EQ(dk_starts(&k1), 4);
    dk_exit(p, grove_reason_error(1, "one too many"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    ASSERT_EQ(dk_starts(&k1), 4);
    ASSERT_FALSE(grove_is_alive(p));
}

/* D-1: invalid intensity and period are refused, naming the option, and
 * nothing is spawned. */
PROC_TEST(dynsup_D01_invalid_options)
{
    grove_stats_t before = gt_stats();
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    grove_dynsup_opts_t o = {.max_restarts = -2};
    ASSERT_ERR(grove_dynsup_start(&o, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "intensity");
    memset(&o, 0, sizeof o);
    o.max_seconds = -1;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start(&o, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "period");
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
}

/* D-1 with intensity 0 (GROVE_NO_RESTARTS): the first exit of a
 * permanent child ends the supervisor, which shuts its other children
 * down first. */
PROC_TEST(dynsup_D01_no_restarts)
{
    dk_init(&k1);
    dk_init(&k2);
    grove_dynsup_opts_t o = {.max_restarts = GROVE_NO_RESTARTS};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s1 = dk_spec(&k1, GROVE_PERMANENT);
    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s1);
    grove_pid_t sibling = DS_CHILD(sup, &s2);
    dk_exit(p, grove_reason_error(1, "crash"));
    ASSERT_REASON_EQ(EXPECT_EXIT(sup), grove_reason_shutdown(NULL));
    dk_saw_t saw = DK_EXPECT_SAW(sibling);
    ASSERT_PID_EQ(saw.from, sup);
    ASSERT_REASON_EQ(saw.reason, grove_reason_shutdown(NULL));
    ASSERT_FALSE(grove_is_alive(sibling));
    ASSERT_EQ(dk_starts(&k1), 1);
}

/* D-1: a local name; a second start under it gives the holder. */
PROC_TEST(dynsup_D01_named)
{
    dk_init(&k1);
    grove_dynsup_opts_t o = {.name = "dynsup_named"};
    grove_pid_t sup = DS_START(&o);
    grove_pid_t found = GROVE_PID_NONE;
    ASSERT_OK(grove_whereis("dynsup_named", &found));
    ASSERT_PID_EQ(found, sup);
    grove_pid_t other = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_ERR(grove_dynsup_start(&o, &other, &why), GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(other, sup);

    grove_server_t by_name = grove_server_name("dynsup_named");
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t kid = GROVE_PID_NONE;
    ASSERT_OK(grove_dynsup_start_child(by_name, &s, &kid, &why));
    grove_child_counts_t c;
    ASSERT_OK(grove_dynsup_count_children(by_name, &c));
    ASSERT_EQ(c.specs, 1);
    DS_STOP(sup);
    ASSERT_ERR(grove_whereis("dynsup_named", &found), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_dynsup_count_children(by_name, &c), GROVE_ENOPROC);
    ASSERT_ERR(grove_dynsup_start_child(by_name, &s, &kid, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_dynsup_terminate_child(by_name, kid), GROVE_ENOPROC);
    size_t n;
    ASSERT_ERR(grove_dynsup_which_children(by_name, NULL, 0, &n),
               GROVE_ENOPROC);
}

/* Starting needs a running runtime and a calling process. */
TEST(dynsup_D01_start_outside_a_process)
{
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_ERR(grove_dynsup_start(NULL, &pid, &why), GROVE_ENOTSTARTED);
    grove_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.schedulers = 1;
    ASSERT_OK(grove_start(&cfg));
    ASSERT_ERR(grove_dynsup_start(NULL, &pid, &why), GROVE_ENOTPROC);
    ASSERT_OK(grove_stop());
}

/* D-2: the spec is checked before the supervisor starts anything; the
 * error names the field. */
PROC_TEST(dynsup_D02_child_spec_checked_first)
{
    dk_init(&k1);
    grove_pid_t sup = DS_START(NULL);
    grove_server_t srv = grove_server_pid(sup);
    grove_pid_t pid;
    grove_reason_t why;

    ASSERT_ERR(grove_dynsup_start_child(srv, NULL, &pid, &why),
               GROVE_EINVAL);

    grove_child_spec_t s = dk_spec(&k1, GROVE_TRANSIENT);
    s.significant = true;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "significant");

    s = dk_spec(&k1, GROVE_PERMANENT);
    s.start = NULL;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "start");

    s = dk_spec(&k1, GROVE_PERMANENT);
    s.restart = 9;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "restart");

    s = dk_spec(&k1, GROVE_PERMANENT);
    s.type = 7;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "type");

    s = dk_spec(&k1, GROVE_PERMANENT);
    s.shutdown = -9;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "shutdown");

    ASSERT_EQ(dk_attempts(&k1), 0);
    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    DS_STOP(sup);
}

/* D-3: a started child: its pid, alive, linked to the supervisor and
 * listed; the supervisor shuts it down when it stops. */
PROC_TEST(dynsup_D03_start_child_ok)
{
    dk_init(&k1);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    ASSERT_PID_EQ(p, dk_last_pid(&k1));
    ASSERT_TRUE(grove_is_alive(p));
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(p, &info));
    ASSERT_EQ(info.links, 1);
    grove_child_info_t ci[2];
    ASSERT_EQ(ds_which(sup, ci, 2), 1);
    ASSERT_PID_EQ(ci[0].pid, p);
    ASSERT_STREQ(ci[0].id, "");
    ASSERT_EQ(ci[0].state, GROVE_CHILD_RUNNING);
    ASSERT_EQ(ci[0].type, GROVE_WORKER);
    ASSERT_EQ(ci[0].restart, GROVE_PERMANENT);
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    WATCH(p);
    DS_STOP(sup);
    dk_saw_t saw = DK_EXPECT_SAW(p);
    ASSERT_PID_EQ(saw.from, sup);
    ASSERT_REASON_EQ(saw.reason, grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_shutdown(NULL));
}

/* D-3: ignore is GROVE_EIGNORE with no pid, and nothing is kept, for
 * every restart type and for a gen_server whose init ignores. */
PROC_TEST(dynsup_D03_ignore_keeps_nothing)
{
    dk_init(&k1);
    dk_init(&k2);
    k1.ignore_from = 1;
    k1.ignore_count = -1;
    k2.ignore_from = 1;
    k2.ignore_count = -1;
    grove_pid_t sup = DS_START(NULL);
    grove_server_t srv = grove_server_pid(sup);
    int types[3] = {GROVE_PERMANENT, GROVE_TRANSIENT, GROVE_TEMPORARY};
    for (int i = 0; i < 3; i++) {
        grove_child_spec_t s = dk_spec(&k1, types[i]);
        grove_pid_t pid = grove_self();
        grove_reason_t why;
        ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why),
                   GROVE_EIGNORE);
        ASSERT_PID_EQ(pid, GROVE_PID_NONE);
        s = dk_gs_spec(&k2, types[i]);
        pid = grove_self();
        ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why),
                   GROVE_EIGNORE);
        ASSERT_PID_EQ(pid, GROVE_PID_NONE);
    }
    ASSERT_EQ(dk_attempts(&k1), 3);
    ASSERT_EQ(dk_attempts(&k2), 3);
    ASSERT_EQ(dk_starts(&k1) + dk_starts(&k2), 0);
    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    grove_child_info_t ci[1];
    ASSERT_EQ(ds_which(sup, ci, 1), 0);
    DS_STOP(sup);
}

/* D-3: a failed start comes back as GROVE_ESTARTFAIL with the reason the
 * start function (or the gen_server's init) gave, unwrapped, whatever
 * error code the start function returned; nothing is kept and the
 * supervisor carries on. */
PROC_TEST(dynsup_D03_start_error_passed_through)
{
    dk_init(&k1);
    dk_init(&k2);
    k1.fail_from = 1;
    k1.fail_count = -1;
    k2.fail_from = 1;
    k2.fail_count = -1;
    k2.fail_reason = grove_reason_error(77, "init said no");
    grove_pid_t sup = DS_START(NULL);
    grove_server_t srv = grove_server_pid(sup);
    grove_pid_t pid;
    grove_reason_t why;

    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_REASON_EQ(why, grove_reason_error(42, "dk refused to start"));

    pthread_mutex_lock(&k1.mu);
    k1.fail_code = GROVE_ENOMEM;
    k1.fail_reason = grove_reason_error(5, "no room");
    pthread_mutex_unlock(&k1.mu);
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_REASON_EQ(why, grove_reason_error(5, "no room"));

    s = dk_gs_spec(&k2, GROVE_TRANSIENT);
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_REASON_EQ(why, grove_reason_error(77, "init said no"));

    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    EXPECT_NO_MSG(20);
    DS_STOP(sup);
}

/* A start function that hands back its process while that one lives (a
 * start-or-get), and starts a new one otherwise. */
static grove_pid_t shared_kid;

static void shared_kid_loop(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

static int start_or_get(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    (void)why;
    if (grove_is_alive(shared_kid)) {
        *pid = shared_kid;
        return grove_link(shared_kid);
    }
    grove_spawn_opts_t o = {.link = true};
    int rc = grove_spawn(shared_kid_loop, NULL, &o, pid);
    if (rc == 0)
        shared_kid = *pid;
    return rc;
}

/* D-3: Elixir keys the children by pid, so a start that returns a process
 * which is already a child replaces that child's record: one child, the
 * later spec, counted once, and restarted once when it dies. */
PROC_TEST(dynsup_D03_start_returning_a_child_replaces_it)
{
    shared_kid = GROVE_PID_NONE;
    grove_dynsup_opts_t o = {.max_children = 2};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s = {.start = start_or_get,
                            .restart = GROVE_TEMPORARY};
    grove_pid_t a = DS_CHILD(sup, &s);
    s.restart = GROVE_PERMANENT;
    ASSERT_PID_EQ(DS_CHILD(sup, &s), a);
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    grove_child_info_t ci[3];
    ASSERT_EQ(ds_which(sup, ci, 3), 1);
    ASSERT_PID_EQ(ci[0].pid, a);
    ASSERT_EQ(ci[0].restart, GROVE_PERMANENT);
    ASSERT_OK(grove_exit_signal(a, &(grove_reason_t){.kind = GROVE_EXIT_KILL}));
    grove_pid_t b = DS_WAIT_NEW(sup, a);
    ASSERT_PID_EQ(b, shared_kid);
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    /* max_children counts it once: a second child still fits. */
    shared_kid = GROVE_PID_NONE;
    grove_pid_t c = DS_CHILD(sup, &s);
    ASSERT_TRUE(c.id != b.id);
    ASSERT_DS_COUNTS(sup, 2, 2, 0, 2);
    DS_STOP(sup);
}

/* D-4: ids play no part: the same id (or none) starts as many children
 * as asked, and which_children shows them all with an empty id. */
PROC_TEST(dynsup_D04_ids_are_ignored)
{
    dk_init(&k1);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p[4];
    s.id = "same";
    p[0] = DS_CHILD(sup, &s);
    p[1] = DS_CHILD(sup, &s);
    s.id = NULL;
    p[2] = DS_CHILD(sup, &s);
    s.id = "";
    p[3] = DS_CHILD(sup, &s);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            ASSERT_PID_NE(p[i], p[j]);
    grove_child_info_t ci[8];
    ASSERT_EQ(ds_which(sup, ci, 8), 4);
    for (int i = 0; i < 4; i++) {
        ASSERT_STREQ(ci[i].id, "");
        int found = 0;
        for (int j = 0; j < 4; j++)
            found += grove_pid_equal(ci[i].pid, p[j]);
        ASSERT_EQ(found, 1);
    }
    ASSERT_DS_COUNTS(sup, 4, 4, 0, 4);
    DS_STOP(sup);
}

/* D-4: GROVE_EALREADYSTARTED comes only from the child's own name
 * clash, with the holder's pid; the second init never runs. */
PROC_TEST(dynsup_D04_child_name_clash)
{
    dk_init(&k1);
    k1.gs_opts.name = "dynsup_kid_named";
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_gs_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    grove_pid_t found = GROVE_PID_NONE;
    ASSERT_OK(grove_whereis("dynsup_kid_named", &found));
    ASSERT_PID_EQ(found, p);
    grove_pid_t holder = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_ERR(grove_dynsup_start_child(grove_server_pid(sup), &s, &holder,
                                        &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(holder, p);
    ASSERT_EQ(dk_attempts(&k1), 1);
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    DS_STOP(sup);
}

static void extra_seen(dk_t *k, int *n, void **extra, void **arg)
{
    pthread_mutex_lock(&k->mu);
    *n = k->extra_starts;
    *extra = k->last_extra;
    *arg = k->last_arg;
    pthread_mutex_unlock(&k->mu);
}

static int token;

/* D-5: the supervisor's extra pointer goes to start_extra on the start
 * and on every restart, beside the spec's own arg. */
PROC_TEST(dynsup_D05_extra_on_start_and_restart)
{
    dk_init(&k1);
    dk_init(&k2);
    grove_dynsup_opts_t o = {.extra = &token};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s = dk_extra_spec(&k1, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    int n;
    void *extra, *arg;
    extra_seen(&k1, &n, &extra, &arg);
    ASSERT_EQ(n, 1);
    ASSERT_TRUE(extra == &token);
    ASSERT_TRUE(arg == &k1);
    for (int i = 0; i < 2; i++) {
        dk_exit(p, i ? grove_reason_of(GROVE_EXIT_KILL)
                     : grove_reason_error(1, "crash"));
        p = DS_WAIT_NEW(sup, p);
        extra_seen(&k1, &n, &extra, &arg);
        ASSERT_EQ(n, 2 + i);
        ASSERT_TRUE(extra == &token);
        ASSERT_TRUE(arg == &k1);
    }
    /* A plain start function takes no extra and still works. */
    grove_child_spec_t plain = dk_spec(&k2, GROVE_PERMANENT);
    DS_CHILD(sup, &plain);
    extra_seen(&k2, &n, &extra, &arg);
    ASSERT_EQ(n, 0);
    DS_STOP(sup);
}

/* D-5 with no extra set: start_extra gets NULL, again on restart. */
PROC_TEST(dynsup_D05_no_extra_is_null)
{
    dk_init(&k1);
    grove_pid_t sup = DS_START(NULL);
    grove_child_spec_t s = dk_extra_spec(&k1, GROVE_TRANSIENT);
    grove_pid_t p = DS_CHILD(sup, &s);
    int n;
    void *extra, *arg;
    extra_seen(&k1, &n, &extra, &arg);
    ASSERT_EQ(n, 1);
    ASSERT_NULL(extra);
    dk_exit(p, grove_reason_error(1, "crash"));
    DS_WAIT_NEW(sup, p);
    extra_seen(&k1, &n, &extra, &arg);
    ASSERT_EQ(n, 2);
    ASSERT_NULL(extra);
    ASSERT_TRUE(arg == &k1);
    DS_STOP(sup);
}

/* D-6: past max_children a start is refused without calling the start
 * function; a terminated child or an exited temporary one frees its
 * place. */
PROC_TEST(dynsup_D06_max_children)
{
    dk_init(&k1);
    grove_dynsup_opts_t o = {.max_children = 2};
    grove_pid_t sup = DS_START(&o);
    grove_server_t srv = grove_server_pid(sup);
    grove_child_spec_t perm = dk_spec(&k1, GROVE_PERMANENT);
    grove_child_spec_t temp = dk_spec(&k1, GROVE_TEMPORARY);
    grove_pid_t a = DS_CHILD(sup, &perm);
    grove_pid_t b = DS_CHILD(sup, &temp);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_dynsup_start_child(srv, &perm, &pid, &why),
               GROVE_EMAXCHILDREN);
    ASSERT_EQ(dk_attempts(&k1), 2);

    ASSERT_OK(grove_dynsup_terminate_child(srv, a));
    grove_pid_t c = DS_CHILD(sup, &perm);
    ASSERT_ERR(grove_dynsup_start_child(srv, &temp, &pid, &why),
               GROVE_EMAXCHILDREN);

    dk_exit(b, grove_reason_normal());
    DS_WAIT_SPECS(sup, 1);
    grove_pid_t d = DS_CHILD(sup, &temp);
    ASSERT_ERR(grove_dynsup_start_child(srv, &perm, &pid, &why),
               GROVE_EMAXCHILDREN);
    ASSERT_DS_COUNTS(sup, 2, 2, 0, 2);
    ASSERT_TRUE(grove_is_alive(c));
    ASSERT_TRUE(grove_is_alive(d));
    ASSERT_EQ(dk_attempts(&k1), 4);
    DS_STOP(sup);
}

/* D-6: an ignored start takes no place. */
PROC_TEST(dynsup_D06_ignored_start_takes_no_place)
{
    dk_init(&k1);
    k1.ignore_from = 1;
    k1.ignore_count = 2;
    grove_dynsup_opts_t o = {.max_children = 1};
    grove_pid_t sup = DS_START(&o);
    grove_server_t srv = grove_server_pid(sup);
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why), GROVE_EIGNORE);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why), GROVE_EIGNORE);
    DS_CHILD(sup, &s);
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why),
               GROVE_EMAXCHILDREN);
    ASSERT_EQ(dk_attempts(&k1), 3);
    DS_STOP(sup);
}

/* D-6: a child whose restart failed (restarting) still counts toward
 * max_children until it is terminated by its old pid. */
PROC_TEST(dynsup_D06_restarting_child_counts)
{
    dk_init(&k1);
    dk_init(&k2);
    k1.fail_sleep_ms = 20;
    grove_dynsup_opts_t o = {.max_children = 1, .max_restarts = 1000};
    grove_pid_t sup = DS_START(&o);
    grove_server_t srv = grove_server_pid(sup);
    grove_child_spec_t s1 = dk_spec(&k1, GROVE_PERMANENT);
    grove_child_spec_t s2 = dk_spec(&k2, GROVE_PERMANENT);
    grove_pid_t p = DS_CHILD(sup, &s1);
    dk_set_failing(&k1, true);
    dk_exit(p, grove_reason_error(1, "crash"));
    WAIT_UNTIL(ds_only_state(sup, NULL) == GROVE_CHILD_RESTARTING);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_dynsup_start_child(srv, &s2, &pid, &why),
               GROVE_EMAXCHILDREN);
    ASSERT_EQ(dk_attempts(&k2), 0);
    ASSERT_DS_COUNTS(sup, 1, 0, 0, 1);

    ASSERT_OK(grove_dynsup_terminate_child(srv, p));
    int n = dk_attempts(&k1);
    ASSERT_DS_COUNTS(sup, 0, 0, 0, 0);
    DS_CHILD(sup, &s2);
    grove_sleep(80);
    ASSERT_EQ(dk_attempts(&k1), n); /* no retry after it was forgotten */
    ASSERT_DS_COUNTS(sup, 1, 1, 0, 1);
    DS_STOP(sup);
}

/* D-6: GROVE_MAX_CHILDREN_NONE refuses every start; the default
 * (GROVE_MAX_CHILDREN_INFINITY) sets no limit. */
PROC_TEST(dynsup_D06_none_and_unlimited)
{
    dk_init(&k1);
    grove_dynsup_opts_t o = {.max_children = GROVE_MAX_CHILDREN_NONE};
    grove_pid_t sup = DS_START(&o);
    grove_child_spec_t s = dk_spec(&k1, GROVE_TEMPORARY);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_dynsup_start_child(grove_server_pid(sup), &s, &pid,
                                        &why),
               GROVE_EMAXCHILDREN);
    ASSERT_EQ(dk_attempts(&k1), 0);
    DS_STOP(sup);

    o.max_children = GROVE_MAX_CHILDREN_INFINITY;
    sup = DS_START(&o);
    for (int i = 0; i < 64; i++)
        DS_CHILD(sup, &s);
    ASSERT_DS_COUNTS(sup, 64, 64, 0, 64);
    DS_STOP(sup);
    ASSERT_EQ(dk_drain_saw(), 64);
}

/* D-14: start_child runs the start function inside the supervisor, so a
 * request that comes in meanwhile is answered only after it returned. */
enum { TAG_STARTED = 0x5344000000000001ull };

typedef struct started_msg {
    int rc;
    grove_pid_t pid;
} started_msg_t;

static grove_pid_t d14_sup, d14_test;

static void slow_starter(void *arg)
{
    (void)arg;
    grove_child_spec_t s = dk_spec(&k1, GROVE_PERMANENT);
    started_msg_t r = {0, GROVE_PID_NONE};
    grove_reason_t why;
    r.rc = grove_dynsup_start_child(grove_server_pid(d14_sup), &s, &r.pid,
                                    &why);
    grove_send(d14_test, TAG_STARTED, &r, sizeof r);
}

static int begun(dk_t *k)
{
    pthread_mutex_lock(&k->mu);
    int n = k->in_start;
    pthread_mutex_unlock(&k->mu);
    return n;
}

PROC_TEST(dynsup_D14_start_child_blocks_the_supervisor)
{
    dk_init(&k1);
    k1.start_sleep_ms = 300;
    d14_test = grove_self();
    d14_sup = DS_START(NULL);
    grove_pid_t starter = SPAWN_MON(slow_starter, NULL, NULL);
    WAIT_UNTIL(begun(&k1) == 1);
    ASSERT_EQ(dk_starts(&k1), 0);
    grove_child_counts_t c = ds_counts(d14_sup);
    ASSERT_EQ(dk_starts(&k1), 1); /* it finished before the answer */
    ASSERT_EQ(c.specs, 1);
    grove_msg_t *m = EXPECT_TAG(TAG_STARTED);
    started_msg_t r;
    memcpy(&r, grove_msg_data(m), sizeof r);
    grove_msg_free(m);
    ASSERT_OK(r.rc);
    ASSERT_PID_EQ(r.pid, dk_last_pid(&k1));
    ASSERT_REASON_EQ(AWAIT_EXIT(starter), grove_reason_normal());
    DS_STOP(d14_sup);
}

/* D-15: the C API follows DynamicSupervisor, not simple_one_for_one:
 * ignore is an error code rather than success with no pid, and
 * terminating a pid that is no current child, dead or alive, is
 * GROVE_ENOTFOUND and leaves a live one alone. */
PROC_TEST(dynsup_D15_dynamic_supervisor_results)
{
    dk_init(&k1);
    k1.ignore_from = 1;
    k1.ignore_count = 1;
    grove_pid_t sup = DS_START(NULL);
    grove_server_t srv = grove_server_pid(sup);
    grove_child_spec_t s = dk_spec(&k1, GROVE_TEMPORARY);
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_dynsup_start_child(srv, &s, &pid, &why), GROVE_EIGNORE);

    grove_pid_t p = DS_CHILD(sup, &s);
    WATCH(p);
    dk_exit(p, grove_reason_normal());
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    DS_WAIT_SPECS(sup, 0);
    ASSERT_ERR(grove_dynsup_terminate_child(srv, p), GROVE_ENOTFOUND);

    grove_pid_t stranger = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_ERR(grove_dynsup_terminate_child(srv, stranger), GROVE_ENOTFOUND);
    ASSERT_TRUE(gt_ping(stranger));
    STOP_ECHO(stranger);
    DS_STOP(sup);
}
