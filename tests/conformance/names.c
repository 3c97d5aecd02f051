/* Registered names (L-21), names released before links and monitors
 * fire (L-2), and the spawn options link, monitor, name and trap_exit. */
#include <stdio.h>
#include <string.h>

#include "grove_test.h"

/* L-21: register, whereis, unregister, and the errors of each. */
PROC_TEST(L21_register_whereis_unregister)
{
    grove_pid_t self = grove_self();
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("l21", &found), GROVE_ENOTFOUND);
    ASSERT_OK(grove_register("l21", self));
    ASSERT_OK(grove_whereis("l21", &found));
    ASSERT_PID_EQ(found, self);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(self, &info));
    ASSERT_STREQ(info.name, "l21");

    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_ERR(grove_register("l21", a), GROVE_EEXIST);
    ASSERT_ERR(grove_register("l21_other", self), GROVE_EALREADY);
    ASSERT_ERR(grove_whereis("l21_other", &found), GROVE_ENOTFOUND);

    ASSERT_OK(grove_unregister("l21"));
    ASSERT_ERR(grove_unregister("l21"), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_whereis("l21", &found), GROVE_ENOTFOUND);
    ASSERT_OK(grove_process_info(self, &info));
    ASSERT_STREQ(info.name, "");

    /* Once unnamed, either process may take the name. */
    ASSERT_OK(grove_register("l21", a));
    ASSERT_OK(grove_whereis("l21", &found));
    ASSERT_PID_EQ(found, a);
    ASSERT_OK(grove_register("l21_self", self));

    /* Messages by name reach the named process. */
    ASSERT_OK(grove_send_name("l21", GT_TAG_PING, "n", 1));
    grove_msg_t *m = EXPECT_TAG(GT_TAG_PONG);
    ASSERT_PID_EQ(grove_msg_from(m), a);
    ASSERT_EQ(grove_msg_size(m), 1);
    grove_msg_free(m);
    ASSERT_ERR(grove_send_name("l21_nobody", 1, NULL, 0), GROVE_ENOTFOUND);

    /* The longest name is 63 bytes. */
    char name[GROVE_NAME_MAX + 1];
    memset(name, 'n', sizeof name);
    name[GROVE_NAME_MAX - 1] = '\0';
    ASSERT_OK(grove_unregister("l21_self"));
    ASSERT_OK(grove_register(name, self));
    ASSERT_OK(grove_whereis(name, &found));
    ASSERT_PID_EQ(found, self);
    ASSERT_OK(grove_unregister(name));

    STOP_ECHO(a);
    ASSERT_ERR(grove_whereis("l21", &found), GROVE_ENOTFOUND);
}

/* L-2 and L-21: when the EXIT or DOWN of a named process arrives, its
 * name is already free: whereis finds nothing and registering works. */
static void named_exit(grove_reason_t r, bool by_signal, int round)
{
    char name[32];
    snprintf(name, sizeof name, "l02_%d", round % 7);
    grove_ref_t ref;
    grove_spawn_opts_t o = {.name = name, .link = true, .monitor = true,
                            .monitor_ref = &ref};
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, &o);
    if (by_signal)
        ASSERT_OK(grove_exit_signal(a, &r));
    else
        gt_echo_exit(a, r);
    grove_reason_t want = r;
    if (by_signal && r.kind == GROVE_EXIT_KILL)
        want = grove_reason_of(GROVE_EXIT_KILLED);
    grove_pid_t found;
    /* Whichever of EXIT and DOWN comes first, the name is free then. */
    grove_msg_t *m;
    ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_PID_EQ(grove_msg_from(m), a);
    ASSERT_TRUE(grove_msg_kind(m) == GROVE_MSG_EXIT ||
                grove_msg_kind(m) == GROVE_MSG_DOWN);
    ASSERT_ERR(grove_whereis(name, &found), GROVE_ENOTFOUND);
    ASSERT_OK(grove_register(name, grove_self()));
    ASSERT_OK(grove_unregister(name));
    ASSERT_REASON_EQ(*grove_msg_reason(m), want);
    int first = grove_msg_kind(m);
    grove_msg_free(m);
    if (first == GROVE_MSG_EXIT)
        ASSERT_REASON_EQ(EXPECT_DOWN(ref, a), want);
    else
        ASSERT_REASON_EQ(EXPECT_EXIT(a), want);
}

PROC_TEST(L02_name_free_when_exit_and_down_arrive)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_reason_t reasons[5] = {
        grove_reason_normal(), grove_reason_shutdown(NULL),
        grove_reason_shutdown("x"), grove_reason_of(GROVE_EXIT_KILL),
        grove_reason_error(3, "e")};
    for (int round = 0; round < 200; round++) {
        grove_reason_t r = reasons[round % 5];
        /* A normal exit signal would not stop it: use a real exit. */
        bool by_signal = (round / 5) % 2 == 1 && r.kind != GROVE_EXIT_NORMAL;
        named_exit(r, by_signal, round);
    }
    EXPECT_NO_MSG(10);
}

/* L-21: the name of a dead process can be taken at once by a new one. */
PROC_TEST(L21_name_released_at_death)
{
    for (int i = 0; i < 100; i++) {
        grove_spawn_opts_t o = {.name = "l21_reuse"};
        grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, &o);
        WATCH(a);
        grove_pid_t found;
        ASSERT_OK(grove_whereis("l21_reuse", &found));
        ASSERT_PID_EQ(found, a);
        grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
        ASSERT_OK(grove_exit_signal(a, &kill));
        ASSERT_REASON_EQ(AWAIT_EXIT(a), grove_reason_of(GROVE_EXIT_KILLED));
        ASSERT_ERR(grove_whereis("l21_reuse", &found), GROVE_ENOTFOUND);
    }
}

/* Spawn option name: registered before the process runs; a taken name
 * fails the spawn and changes nothing. */
typedef struct name_check {
    grove_pid_t parent;
    const char *name;
} name_check_t;

static void check_own_name(void *arg)
{
    name_check_t *nc = arg;
    grove_pid_t found = GROVE_PID_NONE;
    int rc = grove_whereis(nc->name, &found);
    int ok = rc == 0 && grove_pid_equal(found, grove_self());
    grove_send(nc->parent, 1, &ok, sizeof ok);
}

PROC_TEST(spawn_option_name)
{
    static name_check_t nc;
    nc.parent = grove_self();
    nc.name = "spawn_named";
    grove_spawn_opts_t o = {.name = "spawn_named"};
    grove_pid_t p = SPAWN_MON(check_own_name, &nc, &o);
    grove_msg_t *m = EXPECT_TAG(1);
    int ok;
    memcpy(&ok, grove_msg_data(m), sizeof ok);
    grove_msg_free(m);
    ASSERT_EQ(ok, 1);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());

    ASSERT_OK(grove_register("spawn_taken", grove_self()));
    grove_stats_t before = gt_stats();
    grove_pid_t q = GROVE_PID_NONE;
    grove_spawn_opts_t t = {.name = "spawn_taken", .link = true};
    ASSERT_ERR(grove_spawn(gt_echo_main, NULL, &t, &q), GROVE_EEXIST);
    grove_stats_t after = gt_stats();
    ASSERT_EQ(after.processes_spawned, before.processes_spawned);
    ASSERT_EQ(after.processes_alive, before.processes_alive);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.links, 0);
}

/* Spawn options link, monitor and trap_exit together. */
PROC_TEST(spawn_options_link_monitor_trap)
{
    grove_pid_t self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_ref_t ref = GROVE_REF_NONE;
    grove_spawn_opts_t o = {.link = true, .monitor = true,
                            .monitor_ref = &ref, .trap_exit = true};
    grove_pid_t p = SPAWN_ECHO(self, &o);
    ASSERT_NE(ref.id, 0);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(p, &info));
    ASSERT_TRUE(info.trap_exit);
    ASSERT_EQ(info.links, 1);
    ASSERT_EQ(info.monitored_by, 1);
    ASSERT_OK(grove_process_info(self, &info));
    ASSERT_EQ(info.links, 1);
    ASSERT_EQ(info.monitors, 1);
    /* It traps: a shutdown from us becomes a message. */
    grove_reason_t sd = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_exit_signal(p, &sd));
    gt_fwd_t f = EXPECT_FWD(p);
    ASSERT_EQ(f.kind, GROVE_MSG_EXIT);
    ASSERT_PID_EQ(f.from, self);
    gt_echo_exit(p, grove_reason_error(6, "done"));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, p), grove_reason_error(6, "done"));
    ASSERT_REASON_EQ(EXPECT_EXIT(p), grove_reason_error(6, "done"));

    /* A monitor without monitor_ref still fires. */
    grove_spawn_opts_t m = {.monitor = true};
    grove_pid_t q = SPAWN_ECHO(GROVE_PID_NONE, &m);
    ASSERT_OK(grove_send(q, GT_TAG_STOP, NULL, 0));
    grove_msg_t *down;
    ASSERT_OK(grove_recv(&down, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_kind(down), GROVE_MSG_DOWN);
    ASSERT_PID_EQ(grove_msg_from(down), q);
    grove_msg_free(down);
    EXPECT_NO_MSG(10);
}
