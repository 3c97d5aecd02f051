/* Supervisor specs and flags: OTP-SEMANTICS.md items S-1 to S-6, S-9 and
 * S-38 (validation errors that name the field, defaults filled in, init
 * functions, ignore, the supervisor traps exits). */
#include <string.h>

#include "behaviours.h"

static grove_child_spec_t kids[4];
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

/* Starts the supervisor expecting GROVE_EINVAL with a reason naming
 * `what`, and no child started. */
static void expect_invalid(const char *what, const char *id)
{
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_sup_start(&spec, NULL, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, what);
    if (id)
        ASSERT_REASON_HAS(why, id);
    ASSERT_EVENTS(NULL);
}

/* The same check through grove_child_spec_check. */
static void expect_check_invalid(const grove_child_spec_t *c,
                                 const grove_sup_flags_t *flags,
                                 const char *what)
{
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_child_spec_check(c, flags, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, what);
}

static void two_good(void)
{
    kids[0] = gt_child("good1", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("good2", GT_GEN_SERVER, GROVE_PERMANENT);
}

/* S-3: each bad child spec is refused before any child starts, and the
 * reason names the problem (and the child where it has an id). */
PROC_TEST(supervisor_S03_child_spec_errors)
{
    set_spec(GROVE_ONE_FOR_ONE, 3);

    two_good();
    kids[2] = gt_child("bad", GT_START, GROVE_PERMANENT);
    kids[2].id = NULL;
    expect_invalid("missing_id", NULL);
    expect_check_invalid(&kids[2], &spec.flags, "missing_id");

    two_good();
    kids[2] = gt_child("bad", GT_START, GROVE_PERMANENT);
    kids[2].start = NULL;
    expect_invalid("missing_start", "bad");
    expect_check_invalid(&kids[2], &spec.flags, "missing_start");

    two_good();
    kids[2] = gt_child("bad", GT_START, GROVE_PERMANENT);
    kids[2].restart = 9;
    expect_invalid("invalid_restart_type", "bad");
    expect_check_invalid(&kids[2], &spec.flags, "invalid_restart_type");

    two_good();
    kids[2] = gt_child("bad", GT_START, GROVE_PERMANENT);
    kids[2].type = 7;
    expect_invalid("invalid_child_type", "bad");
    expect_check_invalid(&kids[2], &spec.flags, "invalid_child_type");

    two_good();
    kids[2] = gt_child("bad", GT_START, GROVE_PERMANENT);
    kids[2].shutdown = -7;
    expect_invalid("invalid_shutdown", "bad");
    expect_check_invalid(&kids[2], &spec.flags, "invalid_shutdown");

    /* S-38: significant needs a non-permanent child and auto_shutdown. */
    two_good();
    kids[2] = gt_child("bad", GT_START, GROVE_TRANSIENT);
    kids[2].significant = true;
    expect_invalid("bad_combination", "bad");
    expect_check_invalid(&kids[2], &spec.flags, "bad_combination");
    spec.flags.auto_shutdown = GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT;
    kids[2].restart = GROVE_PERMANENT;
    expect_invalid("bad_combination", "bad");
    expect_check_invalid(&kids[2], &spec.flags, "bad_combination");
    spec.flags.auto_shutdown = GROVE_AUTO_SHUTDOWN_NEVER;

    /* Two ids the same. */
    two_good();
    kids[2] = gt_child("good1", GT_START, GROVE_PERMANENT);
    expect_invalid("duplicate_child_name", "good1");
}

/* S-3: more than one way to start, and ids that are too long. */
PROC_TEST(supervisor_S03_ambiguous_start_and_long_id)
{
    set_spec(GROVE_ONE_FOR_ONE, 3);
    two_good();
    kids[2] = gt_child("bad", GT_START, GROVE_PERMANENT);
    kids[2].entry = gt_echo_main;
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_sup_start(&spec, NULL, &pid, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_child_spec_check(&kids[2], &spec.flags, &why),
               GROVE_EINVAL);

    static char long_id[80];
    memset(long_id, 'i', 64);
    long_id[64] = '\0';
    two_good();
    kids[2] = gt_child("bad", GT_START, GROVE_PERMANENT);
    kids[2].id = long_id;
    ASSERT_ERR(grove_sup_start(&spec, NULL, &pid, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_child_spec_check(&kids[2], &spec.flags, &why),
               GROVE_EINVAL);
    ASSERT_EVENTS(NULL);

    /* 63 bytes is fine. */
    long_id[63] = '\0';
    ASSERT_OK(grove_child_spec_check(&kids[2], &spec.flags, &why));
    ASSERT_OK(grove_child_spec_check(&kids[0], &spec.flags, &why));
    ASSERT_OK(grove_child_spec_check(&kids[1], NULL, &why));
}

/* S-4: each bad flag is refused and named. */
PROC_TEST(supervisor_S04_flag_errors)
{
    two_good();
    set_spec(7, 2);
    expect_invalid("invalid_strategy", NULL);
    set_spec(GROVE_ONE_FOR_ONE, 2);
    spec.flags.max_restarts = -5;
    expect_invalid("invalid_intensity", NULL);
    set_spec(GROVE_ONE_FOR_ONE, 2);
    spec.flags.max_seconds = -1;
    expect_invalid("invalid_period", NULL);
    set_spec(GROVE_ONE_FOR_ONE, 2);
    spec.flags.auto_shutdown = 9;
    expect_invalid("invalid_auto_shutdown", NULL);

    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_sup_start(NULL, NULL, &pid, &why), GROVE_EINVAL);
    set_spec(GROVE_ONE_FOR_ONE, 2);
    spec.children = NULL;
    ASSERT_ERR(grove_sup_start(&spec, NULL, &pid, &why), GROVE_EINVAL);
    ASSERT_EVENTS(NULL);
}

/* Flag defaults: max_restarts 0 is 3, max_seconds 0 is 5; an empty
 * supervisor is fine. */
PROC_TEST(supervisor_S04_flag_defaults)
{
    set_spec(GROVE_REST_FOR_ONE, 0);
    spec.flags.max_restarts = 0;
    spec.flags.max_seconds = 0;
    grove_pid_t sup = SUP_START(&spec);
    grove_sup_stats_t st = gt_sup_stats_of(sup);
    ASSERT_EQ(st.max_restarts, 3);
    ASSERT_EQ(st.max_seconds, 5);
    ASSERT_EQ(st.strategy, GROVE_REST_FOR_ONE);
    ASSERT_EQ(st.restarts, 0);
    ASSERT_COUNTS(sup, 0, 0, 0, 0);
    SUP_SHUTDOWN(sup);

    set_spec(GROVE_ONE_FOR_ONE, 0);
    spec.flags.max_restarts = GROVE_NO_RESTARTS;
    sup = SUP_START(&spec);
    st = gt_sup_stats_of(sup);
    ASSERT_EQ(st.max_restarts, 0);
    SUP_SHUTDOWN(sup);
}

/* S-1: get_childspec fills in every default: shutdown 5000 for a
 * worker, infinity for a supervisor, type from the supervisor field. */
static grove_sup_spec_t inner_spec;

PROC_TEST(supervisor_S01_childspec_defaults)
{
    memset(&inner_spec, 0, sizeof inner_spec);
    set_spec(GROVE_ONE_FOR_ONE, 3);
    kids[0] = gt_child("w", GT_START, GROVE_TRANSIENT);
    kids[1] = gt_child("g", GT_GEN_SERVER, GROVE_PERMANENT);
    kids[1].shutdown = 1234;
    memset(&kids[2], 0, sizeof kids[2]);
    kids[2].id = "s";
    kids[2].supervisor = &inner_spec;
    grove_pid_t sup = SUP_START(&spec);

    grove_child_spec_t out;
    char idbuf[64];
    ASSERT_OK(grove_sup_get_childspec(grove_server_pid(sup), "w", &out,
                                      idbuf));
    ASSERT_STREQ(out.id, "w");
    ASSERT_EQ((uintptr_t)out.id, (uintptr_t)idbuf);
    ASSERT_EQ(out.restart, GROVE_TRANSIENT);
    ASSERT_EQ(out.shutdown, 5000);
    ASSERT_EQ(out.type, GROVE_WORKER);
    ASSERT_FALSE(out.significant);
    ASSERT_EQ((uintptr_t)out.start, (uintptr_t)kids[0].start);
    ASSERT_EQ((uintptr_t)out.arg, (uintptr_t)kids[0].arg);

    ASSERT_OK(grove_sup_get_childspec(grove_server_pid(sup), "g", &out,
                                      idbuf));
    ASSERT_STREQ(out.id, "g");
    ASSERT_EQ(out.restart, GROVE_PERMANENT);
    ASSERT_EQ(out.shutdown, 1234);
    ASSERT_EQ(out.type, GROVE_WORKER);
    ASSERT_EQ((uintptr_t)out.gen_server, (uintptr_t)kids[1].gen_server);

    ASSERT_OK(grove_sup_get_childspec(grove_server_pid(sup), "s", &out,
                                      idbuf));
    ASSERT_STREQ(out.id, "s");
    ASSERT_EQ(out.type, GROVE_SUPERVISOR);
    ASSERT_EQ(out.shutdown, GROVE_SHUTDOWN_INFINITY);
    ASSERT_EQ((uintptr_t)out.supervisor, (uintptr_t)&inner_spec);

    ASSERT_ERR(grove_sup_get_childspec(grove_server_pid(sup), "nope", &out,
                                       idbuf),
               GROVE_ENOTFOUND);
    ASSERT_COUNTS(sup, 3, 3, 1, 2);
    SUP_SHUTDOWN(sup);
    ASSERT_ERR(grove_sup_get_childspec(grove_server_pid(sup), "w", &out,
                                       idbuf),
               GROVE_ENOPROC);
}

/* S-5: an init function supplies flags and children; ignore from it
 * makes start return GROVE_EIGNORE; a bad spec from it is refused. */
typedef struct init_cfg {
    int rc;
    int strategy;
    int restart;
} init_cfg_t;

static int sup_init(void *arg, grove_sup_spec_t *out)
{
    init_cfg_t *ic = arg;
    gt_ev("sup init");
    if (ic->rc != 0)
        return ic->rc;
    out->flags.strategy = ic->strategy;
    out->flags.max_restarts = 2;
    out->flags.max_seconds = 7;
    kids[0] = gt_child("i1", GT_START, ic->restart);
    kids[1] = gt_child("i2", GT_START, GROVE_PERMANENT);
    out->children = kids;
    out->nchildren = 2;
    return 0;
}

PROC_TEST(supervisor_S05_init_function)
{
    static init_cfg_t ic;
    ic = (init_cfg_t){.rc = 0, .strategy = GROVE_ONE_FOR_ALL,
                      .restart = GROVE_TRANSIENT};
    static grove_sup_spec_t s;
    memset(&s, 0, sizeof s);
    s.flags.strategy = 99; /* ignored: init decides */
    s.init = sup_init;
    s.init_arg = &ic;
    grove_pid_t sup = SUP_START(&s);
    grove_sup_stats_t st = gt_sup_stats_of(sup);
    ASSERT_EQ(st.strategy, GROVE_ONE_FOR_ALL);
    ASSERT_EQ(st.max_restarts, 2);
    ASSERT_EQ(st.max_seconds, 7);
    ASSERT_EVENTS("sup init", "start:i1", "start:i2");
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("sup init", "start:i1", "start:i2", "stop:i2", "stop:i1");

    /* ignore: GROVE_EIGNORE, the supervisor exits normal, nothing left
     * behind for a linked trapping caller. */
    ic.rc = GROVE_EIGNORE;
    grove_sup_opts_t o = {.link = true, .name = "s05"};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_sup_start(&s, &o, &pid, &why), GROVE_EIGNORE);
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("s05", &found), GROVE_ENOTFOUND);
    EXPECT_NO_MSG(50);

    /* A bad spec from init. */
    ic = (init_cfg_t){.rc = 0, .strategy = GROVE_ONE_FOR_ONE, .restart = 9};
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_sup_start(&s, &o, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "invalid_restart_type");
    EXPECT_NO_MSG(50);
}

/* S-6: the supervisor traps exits. */
PROC_TEST(supervisor_S06_traps_exits)
{
    set_spec(GROVE_ONE_FOR_ONE, 0);
    grove_pid_t sup = SUP_START(&spec);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(sup, &info));
    ASSERT_TRUE(info.trap_exit);
    SUP_SHUTDOWN(sup);
}

/* S-9: a child whose start returns ignore during init: kept with no pid
 * unless temporary, in which case its spec is dropped. */
PROC_TEST(supervisor_S09_ignored_children)
{
    set_spec(GROVE_ONE_FOR_ONE, 4);
    kids[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids[1] = gt_child("b", GT_START, GROVE_TRANSIENT);
    kids[2] = gt_child("c", GT_GEN_SERVER, GROVE_TEMPORARY);
    kids[3] = gt_child("d", GT_GEN_SERVER, GROVE_PERMANENT);
    gt_child_ignore("b", 1, 1);
    gt_child_ignore("c", 1, 1);
    gt_child_ignore("d", 1, 1);
    grove_pid_t sup = SUP_START(&spec);
    ASSERT_EVENTS("start:a", "ignore:b", "ignore:c", "ignore:d");
    grove_child_info_t v[8];
    size_t n = gt_sup_children(sup, v, 8);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(v[0].id, "d");
    ASSERT_STREQ(v[1].id, "b");
    ASSERT_STREQ(v[2].id, "a");
    ASSERT_EQ(v[0].state, GROVE_CHILD_UNDEFINED);
    ASSERT_PID_EQ(v[0].pid, GROVE_PID_NONE);
    ASSERT_EQ(v[1].state, GROVE_CHILD_UNDEFINED);
    ASSERT_EQ(v[2].state, GROVE_CHILD_RUNNING);
    ASSERT_PID_EQ(v[2].pid, gt_child_pid("a"));
    ASSERT_COUNTS(sup, 3, 1, 0, 3);

    /* An ignored child can be started again later. */
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_OK(grove_sup_restart_child(grove_server_pid(sup), "b", &pid,
                                      &why));
    ASSERT_PID_EQ(pid, gt_child_pid("b"));
    ASSERT_COUNTS(sup, 3, 2, 0, 3);
    SUP_SHUTDOWN(sup);
    ASSERT_EVENTS("start:a", "ignore:b", "ignore:c", "ignore:d", "start:b",
                  "stop:b", "stop:a");
}
