/* Links: OTP-SEMANTICS.md items L-12 to L-15. */
#include <string.h>

#include "grove_test.h"

static size_t link_count(grove_pid_t p)
{
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(p, &info));
    return info.links;
}

/* L-12: a link works both ways. */
PROC_TEST(L12_link_is_bidirectional)
{
    grove_pid_t self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);

    /* We link; the other side dies: we hear of it. */
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_OK(grove_link(a));
    gt_echo_exit(a, grove_reason_error(1, "a"));
    ASSERT_REASON_EQ(EXPECT_EXIT(a), grove_reason_error(1, "a"));

    /* The other side links to us; it dies: we hear of it too. */
    grove_pid_t b = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(b, GT_TAG_LINK, &self, sizeof self, &ack));
    ASSERT_OK(ack.rc);
    gt_echo_exit(b, grove_reason_error(2, "b"));
    ASSERT_REASON_EQ(EXPECT_EXIT(b), grove_reason_error(2, "b"));

    /* We link; we die: the other side hears of it. */
    grove_spawn_opts_t co = {.trap_exit = true};
    grove_pid_t c = SPAWN_ECHO(self, &co);
    grove_ref_t dref;
    grove_spawn_opts_t dopt = {.monitor = true, .monitor_ref = &dref};
    grove_pid_t d = SPAWN_ECHO(GROVE_PID_NONE, &dopt);
    ASSERT_TRUE(gt_echo_call(d, GT_TAG_LINK, &c, sizeof c, &ack));
    ASSERT_OK(ack.rc);
    gt_echo_exit(d, grove_reason_shutdown("d"));
    ASSERT_REASON_EQ(EXPECT_DOWN(dref, d), grove_reason_shutdown("d"));
    gt_fwd_t f = EXPECT_FWD(c);
    ASSERT_EQ(f.kind, GROVE_MSG_EXIT);
    ASSERT_PID_EQ(f.from, d);
    ASSERT_REASON_EQ(f.reason, grove_reason_shutdown("d"));
    STOP_ECHO(c);
    EXPECT_NO_MSG(10);
}

/* L-12: at most one link between two processes; linking again and
 * linking oneself change nothing. */
PROC_TEST(L12_link_is_idempotent)
{
    grove_pid_t self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);
    ASSERT_OK(grove_link(self));
    ASSERT_EQ(link_count(self), 0);

    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_OK(grove_link(a));
    ASSERT_OK(grove_link(a));
    ASSERT_OK(grove_link(a));
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(a, GT_TAG_LINK, &self, sizeof self, &ack));
    ASSERT_OK(ack.rc);
    ASSERT_EQ(link_count(self), 1);
    ASSERT_EQ(link_count(a), 1);

    /* One unlink removes the single link, however often it was made. */
    ASSERT_OK(grove_unlink(a));
    ASSERT_EQ(link_count(self), 0);
    ASSERT_TRUE(gt_ping(a));
    ASSERT_EQ(link_count(a), 0);

    /* Linked three times, exactly one EXIT arrives. */
    ASSERT_OK(grove_link(a));
    ASSERT_OK(grove_link(a));
    ASSERT_OK(grove_link(a));
    gt_echo_exit(a, grove_reason_error(3, "once"));
    ASSERT_REASON_EQ(EXPECT_EXIT(a), grove_reason_error(3, "once"));
    EXPECT_NO_MSG(50);
    ASSERT_EQ(link_count(self), 0);
}

/* L-13: linking to a dead process. A non-trapping caller gets
 * GROVE_ENOPROC and is not harmed; a trapping one gets 0 and then
 * EXIT(Pid, noproc). */
static void return_at_once(void *arg) { (void)arg; }

PROC_TEST(L13_link_to_dead_pid)
{
    grove_pid_t dead = SPAWN_MON(return_at_once, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(dead), grove_reason_normal());

    ASSERT_ERR(grove_link(dead), GROVE_ENOPROC);
    ASSERT_EQ(link_count(grove_self()), 0);
    ASSERT_TRUE(grove_is_alive(grove_self()));
    EXPECT_NO_MSG(20);

    ASSERT_EQ(grove_trap_exit(true), 0);
    ASSERT_OK(grove_link(dead));
    grove_reason_t r = EXPECT_EXIT(dead);
    ASSERT_REASON_EQ(r, grove_reason_of(GROVE_EXIT_NOPROC));
    ASSERT_EQ(link_count(grove_self()), 0);
    EXPECT_NO_MSG(20);
}

/* L-13: the same from a process that never existed (a forged pid whose
 * slot is live but whose generation is not). */
PROC_TEST(L13_link_to_forged_pid)
{
    grove_pid_t self = grove_self();
    grove_pid_t forged = {self.id + ((uint64_t)1000 << 32)};
    ASSERT_ERR(grove_link(forged), GROVE_ENOPROC);
    ASSERT_EQ(grove_trap_exit(true), 0);
    ASSERT_OK(grove_link(forged));
    ASSERT_REASON_EQ(EXPECT_EXIT(forged),
                     grove_reason_of(GROVE_EXIT_NOPROC));
}

/* L-14: unlink succeeds with no link and with a dead pid; after it
 * returns the link has no effect. */
PROC_TEST(L14_unlink_removes_future_effect)
{
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_OK(grove_unlink(a));
    ASSERT_OK(grove_link(a));
    ASSERT_OK(grove_unlink(a));
    ASSERT_OK(grove_unlink(a));
    /* Not trapping: if the link were still there this would kill us and
     * the test would end with a wrong reason. */
    grove_ref_t ref;
    ASSERT_OK(grove_monitor(a, &ref));
    gt_echo_exit(a, grove_reason_error(9, "unlinked"));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, a), grove_reason_error(9, "unlinked"));
    grove_sleep(gt_scaled_ms(20));
    ASSERT_OK(grove_unlink(a));

    /* Unlinked from the other side, the same holds. */
    grove_pid_t self = grove_self();
    grove_pid_t b = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_OK(grove_link(b));
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(b, GT_TAG_UNLINK, &self, sizeof self, &ack));
    ASSERT_OK(ack.rc);
    ASSERT_OK(grove_monitor(b, &ref));
    gt_echo_exit(b, grove_reason_error(10, "unlinked too"));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, b),
                     grove_reason_error(10, "unlinked too"));
    grove_sleep(gt_scaled_ms(20));
    EXPECT_NO_MSG(0);
}

/* L-14: when trapping, an EXIT already queued stays; unlink then a
 * non-blocking receive of EXIT(P, _) is the idiom that clears it. */
PROC_TEST(L14_unlink_leaves_queued_exit)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_ref_t ref;
    ASSERT_OK(grove_link(a));
    ASSERT_OK(grove_monitor(a, &ref));
    gt_echo_exit(a, grove_reason_shutdown("q"));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, a), grove_reason_shutdown("q"));
    grove_sleep(gt_scaled_ms(20));
    ASSERT_OK(grove_unlink(a));
    grove_msg_t *m;
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_EXIT);
    ASSERT_PID_EQ(grove_msg_from(m), a);
    grove_msg_free(m);
    EXPECT_NO_MSG(10);
}

/* L-15: spawn with link is atomic: a child that dies at once still
 * reaches its parent, with its real reason (never noproc). */
static void die_at_once(void *arg)
{
    grove_exit_error((int)(uintptr_t)arg, "early");
}

PROC_TEST(L15_spawn_link_is_atomic)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    for (int i = 1; i <= 1000; i++) {
        grove_spawn_opts_t o = {.link = true};
        grove_pid_t c = SPAWN(die_at_once, (void *)(uintptr_t)i, &o);
        grove_reason_t r = EXPECT_EXIT(c);
        ASSERT_REASON_KIND(r, GROVE_EXIT_ERROR);
        ASSERT_EQ(r.code, i);
    }
    EXPECT_NO_MSG(10);
}

/* L-15: a non-trapping parent dies with its spawn_link child. */
static void spawn_linked_dier(void *arg)
{
    (void)arg;
    grove_spawn_opts_t o = {.link = true};
    if (grove_spawn(die_at_once, (void *)(uintptr_t)55, &o, NULL) != 0)
        grove_exit_error(1, "spawn failed");
    grove_msg_t *m;
    if (grove_recv(&m, 5000) == 0)
        grove_msg_free(m);
    grove_exit_error(2, "parent survived");
}

PROC_TEST(L15_spawn_link_child_death_kills_parent)
{
    for (int i = 0; i < 100; i++) {
        grove_pid_t p = SPAWN_MON(spawn_linked_dier, NULL, NULL);
        grove_reason_t r = AWAIT_EXIT(p);
        ASSERT_REASON_KIND(r, GROVE_EXIT_ERROR);
        ASSERT_EQ(r.code, 55);
    }
}

/* L-15 for monitors: spawn with monitor is atomic too. */
PROC_TEST(L15_spawn_monitor_is_atomic)
{
    for (int i = 1; i <= 1000; i++) {
        grove_ref_t ref = GROVE_REF_NONE;
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
        grove_pid_t c = SPAWN(die_at_once, (void *)(uintptr_t)i, &o);
        ASSERT_NE(ref.id, 0);
        grove_reason_t r = EXPECT_DOWN(ref, c);
        ASSERT_REASON_KIND(r, GROVE_EXIT_ERROR);
        ASSERT_EQ(r.code, i);
    }
    EXPECT_NO_MSG(10);
}
