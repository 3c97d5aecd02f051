/* Process info says who spawned a process and which behaviour it runs:
 * what the observer needs to draw the supervision tree. */
#include "grove_test.h"

static void idle(void *a)
{
    (void)a;
    grove_msg_t *m;
    if (grove_recv(&m, 5000) == 0)
        grove_msg_free(m);
}

static const grove_gs_callbacks_t named = {.name = "named_server"};

PROC_TEST(process_info_parent_and_behaviour)
{
    grove_spawn_opts_t o = {.link = true};
    grove_pid_t child = SPAWN(idle, NULL, &o);
    grove_process_info_t i;
    ASSERT_OK(grove_process_info(child, &i));
    ASSERT_PID_EQ(i.parent, grove_self());
    ASSERT_STREQ(i.behaviour, "");

    grove_pid_t gs;
    grove_gs_opts_t go = {.link = true};
    ASSERT_OK(grove_gs_start(&named, NULL, &go, &gs, NULL));
    ASSERT_OK(grove_process_info(gs, &i));
    ASSERT_STREQ(i.behaviour, "named_server");
    ASSERT_PID_EQ(i.parent, grove_self());

    grove_child_spec_t kid = {.id = "k", .entry = idle};
    grove_sup_spec_t spec = {.children = &kid, .nchildren = 1};
    grove_pid_t sup;
    grove_sup_opts_t so = {.link = true};
    ASSERT_OK(grove_sup_start(&spec, &so, &sup, NULL));
    ASSERT_OK(grove_process_info(sup, &i));
    ASSERT_STREQ(i.behaviour, "supervisor");
    grove_child_info_t ci;
    size_t n;
    ASSERT_OK(grove_sup_which_children(grove_server_pid(sup), &ci, 1, &n));
    ASSERT_EQ(n, 1);
    ASSERT_OK(grove_process_info(ci.pid, &i));
    ASSERT_PID_EQ(i.parent, sup);

    ASSERT_OK(grove_gs_stop(grove_server_pid(sup), NULL, 5000, NULL));
    ASSERT_OK(grove_gs_stop(grove_server_pid(gs), NULL, 5000, NULL));
    grove_unlink(child);
    grove_send(child, 1, NULL, 0);
}
