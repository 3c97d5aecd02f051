/* PartitionSupervisor: OTP-SEMANTICS.md items P-1 to P-4 (options and
 * defaults, one child per partition with the partition number, routing
 * by key, resize), plus counts over all partitions and the routing table
 * following restarts and the supervisor's own end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "behaviours.h"

static grove_pid_t ps_start(const grove_partition_sup_opts_t *o)
{
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    int rc = grove_partition_sup_start(o, &pid, &why);
    if (rc != 0)
        GT_FAIL("grove_partition_sup_start: %s %s", grove_errname(rc),
                gt_reason_str(why));
    return pid;
}

static void ps_stop(const char *name)
{
    ASSERT_OK(grove_gs_stop(grove_server_name(name), NULL, GROVE_INFINITY,
                            NULL));
}

static grove_pid_t partition_pid(const char *name, unsigned i)
{
    grove_child_info_t ci[64];
    size_t n = 0;
    ASSERT_OK(grove_partition_sup_which_children(name, ci, 64, &n));
    ASSERT_LT(i, n);
    return ci[i].pid;
}

/* P-1: the name is required; partitions default to the number of
 * schedulers; the flags default to one_for_one, 3 restarts in 5 s;
 * auto_shutdown other than never is refused. */
PROC_TEST_OPTS(partition_P01_options, .schedulers = 3)
{
    grove_reason_t why;
    grove_pid_t pid;
    grove_partition_sup_opts_t none = {0};
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_partition_sup_start(&none, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "name");
    ASSERT_ERR(grove_partition_sup_start(NULL, &pid, &why), GROVE_EINVAL);
    grove_partition_sup_opts_t bad = {
        .name = "p1", .flags = {.auto_shutdown =
                                    GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT}};
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_partition_sup_start(&bad, &pid, &why), GROVE_EINVAL);
    ASSERT_REASON_HAS(why, "auto_shutdown");
    ASSERT_ERR(grove_partition_sup_partitions("p1"), GROVE_ENOTFOUND);

    grove_partition_sup_opts_t o = {.name = "p1"};
    grove_pid_t sup = ps_start(&o);
    ASSERT_EQ(grove_partition_sup_partitions("p1"), 3);
    grove_pid_t found;
    ASSERT_OK(grove_whereis("p1", &found));
    ASSERT_PID_EQ(found, sup);
    grove_sup_stats_t st;
    ASSERT_OK(grove_sup_stats(grove_server_name("p1"), &st));
    ASSERT_EQ(st.strategy, GROVE_ONE_FOR_ONE);
    ASSERT_EQ(st.max_restarts, 3);
    ASSERT_EQ(st.max_seconds, 5);
    ASSERT_ERR(grove_partition_sup_start(&o, &pid, NULL),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, sup);
    ps_stop("p1");
}

/* P-2: one child per partition, ids "0".."N-1", started in order; a
 * custom start gets the partition number (Elixir's with_arguments). */
static int numbered_start(void *arg, unsigned partition, grove_pid_t *pid,
                          grove_reason_t *why)
{
    (void)why;
    gt_ev("start:%s:%u", (const char *)arg, partition);
    grove_spawn_opts_t o = {.link = true};
    return grove_spawn(gt_echo_main, NULL, &o, pid);
}

PROC_TEST(partition_P02_children_in_order)
{
    grove_partition_sup_opts_t o = {.name = "p2", .partitions = 4,
                                    .start = numbered_start, .arg = "w"};
    ps_start(&o);
    ASSERT_EVENTS("start:w:0", "start:w:1", "start:w:2", "start:w:3");
    grove_child_info_t ci[8];
    size_t n = 0;
    ASSERT_OK(grove_partition_sup_which_children("p2", ci, 8, &n));
    ASSERT_EQ(n, 4);
    char id[4];
    for (unsigned i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "%u", i);
        ASSERT_STREQ(ci[i].id, id);
        ASSERT_EQ(ci[i].type, GROVE_WORKER);
        ASSERT_EQ(ci[i].state, GROVE_CHILD_RUNNING);
        ASSERT_TRUE(grove_is_alive(ci[i].pid));
    }
    grove_child_counts_t c;
    ASSERT_OK(grove_partition_sup_count_children("p2", &c));
    ASSERT_EQ(c.specs, 4);
    ASSERT_EQ(c.active, 4);
    ASSERT_EQ(c.workers, 4);
    ASSERT_ERR(grove_partition_sup_count_all("p2", &c), GROVE_ENOTSUP);
    ps_stop("p2");
}

/* P-2: default partitions are DynamicSupervisors with the given
 * options, each a supervisor child. */
PROC_TEST(partition_P02_dynamic_supervisor_partitions)
{
    grove_partition_sup_opts_t o = {.name = "p2d", .partitions = 2,
                                    .dynsup = {.max_children = 1}};
    ps_start(&o);
    grove_child_info_t ci[2];
    size_t n;
    ASSERT_OK(grove_partition_sup_which_children("p2d", ci, 2, &n));
    ASSERT_EQ(ci[0].type, GROVE_SUPERVISOR);
    grove_child_spec_t kid = gt_child("k", GT_START, GROVE_TEMPORARY);
    grove_server_t p0 = grove_server_pid(ci[0].pid);
    ASSERT_OK(grove_dynsup_start_child(p0, &kid, NULL, NULL));
    ASSERT_ERR(grove_dynsup_start_child(p0, &kid, NULL, NULL),
               GROVE_EMAXCHILDREN);
    ASSERT_OK(grove_dynsup_start_child(grove_server_pid(ci[1].pid), &kid,
                                       NULL, NULL));
    grove_child_counts_t c;
    ASSERT_OK(grove_partition_sup_count_all("p2d", &c));
    ASSERT_EQ(c.specs, 2);
    ASSERT_EQ(c.active, 2);
    ASSERT_EQ(c.workers, 2);
    ps_stop("p2d");
}

/* P-3: an integer key goes to |key| % N, the same one every time. */
PROC_TEST(partition_P03_integer_routing)
{
    grove_partition_sup_opts_t o = {.name = "p3", .partitions = 5};
    ps_start(&o);
    grove_pid_t parts[5];
    for (unsigned i = 0; i < 5; i++)
        parts[i] = partition_pid("p3", i);
    int64_t keys[] = {0, 1, 4, 5, 12, -1, -7, 1000003, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int64_t k = keys[i];
        uint64_t mag = k < 0 ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
        grove_pid_t pid;
        ASSERT_OK(grove_partition_whereis("p3", k, &pid));
        ASSERT_PID_EQ(pid, parts[mag % 5]);
        grove_server_t s = grove_partition_server("p3", k);
        ASSERT_EQ(s.kind, 0);
        ASSERT_PID_EQ(s.pid, parts[mag % 5]);
    }
    /* The server reference works with the DynamicSupervisor API. */
    grove_child_spec_t kid = gt_child("k", GT_START, GROVE_TEMPORARY);
    ASSERT_OK(grove_dynsup_start_child(grove_partition_server("p3", 7), &kid,
                                       NULL, NULL));
    grove_child_counts_t c;
    ASSERT_OK(grove_dynsup_count_children(grove_server_pid(parts[2]), &c));
    ASSERT_EQ(c.active, 1);
    ps_stop("p3");
}

/* P-3: a byte key always reaches the same partition, and keys spread
 * over several of them. */
PROC_TEST(partition_P03_byte_routing)
{
    grove_partition_sup_opts_t o = {.name = "p3b", .partitions = 4};
    ps_start(&o);
    bool hit[4] = {false};
    for (int i = 0; i < 64; i++) {
        char key[16];
        int len = snprintf(key, sizeof key, "user-%d", i);
        grove_pid_t a, b;
        ASSERT_OK(grove_partition_whereis_bytes("p3b", key, (size_t)len, &a));
        ASSERT_OK(grove_partition_whereis_bytes("p3b", key, (size_t)len, &b));
        ASSERT_PID_EQ(a, b);
        for (unsigned k = 0; k < 4; k++)
            if (grove_pid_equal(a, partition_pid("p3b", k)))
                hit[k] = true;
    }
    int used = 0;
    for (int k = 0; k < 4; k++)
        used += hit[k];
    ASSERT_GE(used, 3);
    grove_pid_t p;
    ASSERT_OK(grove_partition_whereis_bytes("p3b", NULL, 0, &p));
    ASSERT_ERR(grove_partition_whereis_bytes("p3b", NULL, 3, &p),
               GROVE_EINVAL);
    ps_stop("p3b");
}

/* P-3: unknown names, and routing follows a restarted partition. */
PROC_TEST(partition_P03_routing_follows_restarts)
{
    grove_pid_t p;
    ASSERT_ERR(grove_partition_whereis("nothing", 1, &p), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_partition_whereis(NULL, 1, &p), GROVE_EINVAL);
    ASSERT_ERR(grove_partition_whereis("nothing", 1, NULL), GROVE_EINVAL);
    grove_server_t s = grove_partition_server("nothing", 1);
    ASSERT_EQ(s.pid.id, 0);
    ASSERT_ERR(grove_dynsup_count_children(s, &(grove_child_counts_t){0}),
               GROVE_EINVAL);

    grove_partition_sup_opts_t o = {.name = "p3r", .partitions = 2};
    ps_start(&o);
    grove_pid_t old;
    ASSERT_OK(grove_partition_whereis("p3r", 1, &old));
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(old, &kill));
    grove_pid_t now = old;
    WAIT_UNTIL(grove_partition_whereis("p3r", 1, &now) == 0 &&
               !grove_pid_equal(now, old));
    ASSERT_PID_EQ(now, partition_pid("p3r", 1));
    ps_stop("p3r");
}

/* The routing entry goes with the supervisor: once its DOWN arrives the
 * name routes nowhere, and a new supervisor may take the name. */
PROC_TEST(partition_table_follows_supervisor)
{
    grove_partition_sup_opts_t o = {.name = "pt", .partitions = 2};
    grove_pid_t sup = ps_start(&o);
    WATCH(sup);
    grove_reason_t bye = grove_reason_error(1, "gone");
    ASSERT_OK(grove_exit_signal(sup, &bye));
    AWAIT_EXIT(sup);
    grove_pid_t p;
    ASSERT_ERR(grove_partition_whereis("pt", 0, &p), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_partition_sup_partitions("pt"), GROVE_ENOTFOUND);
    o.partitions = 3;
    ps_start(&o);
    ASSERT_EQ(grove_partition_sup_partitions("pt"), 3);
    ASSERT_OK(grove_partition_whereis("pt", 2, &p));
    ps_stop("pt");
}

/* P-4: resize stops partitions from n up (their specs stay) and routes
 * over the rest; growing back restarts them; out of range is refused. */
PROC_TEST(partition_P04_resize)
{
    grove_partition_sup_opts_t o = {.name = "p4", .partitions = 4};
    ps_start(&o);
    grove_pid_t p3 = partition_pid("p4", 3);
    WATCH(p3);
    ASSERT_EQ(grove_partition_sup_resize("p4", 2), 4);
    ASSERT_REASON_EQ(AWAIT_EXIT(p3), grove_reason_shutdown(NULL));
    ASSERT_EQ(grove_partition_sup_partitions("p4"), 2);
    grove_child_counts_t c;
    ASSERT_OK(grove_partition_sup_count_children("p4", &c));
    ASSERT_EQ(c.specs, 4);
    ASSERT_EQ(c.active, 2);
    grove_pid_t p;
    ASSERT_OK(grove_partition_whereis("p4", 3, &p));
    ASSERT_PID_EQ(p, partition_pid("p4", 1));
    grove_child_info_t ci[4];
    size_t n;
    ASSERT_OK(grove_partition_sup_which_children("p4", ci, 4, &n));
    ASSERT_EQ(n, 4);
    ASSERT_EQ(ci[3].pid.id, 0);

    ASSERT_EQ(grove_partition_sup_resize("p4", 0), 2);
    ASSERT_ERR(grove_partition_whereis("p4", 3, &p), GROVE_ENOPROC);
    ASSERT_ERR(grove_partition_sup_resize("p4", 5), GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_resize("nope", 1), GROVE_ENOTFOUND);

    ASSERT_EQ(grove_partition_sup_resize("p4", 4), 0);
    ASSERT_OK(grove_partition_sup_count_children("p4", &c));
    ASSERT_EQ(c.active, 4);
    ASSERT_OK(grove_partition_whereis("p4", 3, &p));
    ASSERT_PID_EQ(p, partition_pid("p4", 3));
    ASSERT_TRUE(grove_is_alive(p));
    ps_stop("p4");
}

/* A partition supervisor inside a supervision tree. */
static const grove_partition_sup_opts_t tree_opts = {.name = "tree_parts",
                                                     .partitions = 2};

PROC_TEST(partition_in_tree)
{
    grove_child_spec_t kids[] = {{.id = "parts",
                                  .start = grove_partition_sup_child_start,
                                  .arg = (void *)&tree_opts,
                                  .type = GROVE_SUPERVISOR}};
    grove_sup_spec_t spec = {.children = kids, .nchildren = 1};
    grove_pid_t top = SUP_START(&spec);
    grove_pid_t p;
    ASSERT_OK(grove_partition_whereis("tree_parts", 1, &p));
    grove_pid_t old = gt_sup_child_pid(top, "parts");
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(old, &kill));
    grove_pid_t fresh = WAIT_RESTARTED(top, "parts", old);
    grove_pid_t found;
    ASSERT_OK(grove_whereis("tree_parts", &found));
    ASSERT_PID_EQ(found, fresh);
    grove_pid_t q;
    ASSERT_OK(grove_partition_whereis("tree_parts", 1, &q));
    ASSERT_PID_NE(q, p);
    ASSERT_ERR(grove_partition_sup_child_start(NULL, &q, NULL), GROVE_EINVAL);
    SUP_SHUTDOWN(top);
}

TEST(partition_outside_process)
{
    grove_partition_sup_opts_t o = {.name = "outside"};
    ASSERT_ERR(grove_partition_sup_start(&o, NULL, NULL), GROVE_ENOTSTARTED);
    ASSERT_OK(grove_start(NULL));
    ASSERT_ERR(grove_partition_sup_start(&o, NULL, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_partition_sup_resize("outside", 1), GROVE_ENOTPROC);
    ASSERT_OK(grove_stop());
}
