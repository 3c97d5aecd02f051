/* Monitors: OTP-SEMANTICS.md items L-16 to L-19. (L-20, aliases, has no
 * counterpart in the process API; it belongs to the gen_server tests.) */
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

static grove_process_info_t info_of(grove_pid_t p)
{
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(p, &info));
    return info;
}

/* L-16: each monitor gets a fresh reference and fires exactly one DOWN,
 * independently of the others. */
PROC_TEST(L16_monitors_are_independent)
{
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_ref_t refs[3];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(grove_monitor(a, &refs[i]));
        ASSERT_NE(refs[i].id, 0);
        for (int j = 0; j < i; j++)
            ASSERT_REF_NE(refs[i], refs[j]);
    }
    ASSERT_EQ(info_of(grove_self()).monitors, 3);
    WAIT_UNTIL(info_of(a).monitored_by == 3);
    /* Removing one leaves the others. */
    ASSERT_EQ(grove_demonitor(refs[1], GROVE_DEMONITOR_INFO), 1);
    gt_echo_exit(a, grove_reason_error(4, "bye"));
    ASSERT_REASON_EQ(EXPECT_DOWN(refs[0], a), grove_reason_error(4, "bye"));
    ASSERT_REASON_EQ(EXPECT_DOWN(refs[2], a), grove_reason_error(4, "bye"));
    EXPECT_NO_MSG(50);
    ASSERT_EQ(info_of(grove_self()).monitors, 0);
}

/* L-16: a monitor is one-way: the watcher's death does not affect the
 * watched process, and the monitor goes away with the watcher. */
static void monitor_then_crash(void *arg)
{
    grove_pid_t *target = arg;
    grove_ref_t ref;
    if (grove_monitor(*target, &ref) != 0)
        grove_exit_error(1, "monitor failed");
    grove_exit_error(2, "watcher exits");
}

PROC_TEST(L16_monitor_is_unidirectional)
{
    static grove_pid_t a;
    a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_pid_t w = SPAWN_MON(monitor_then_crash, &a, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(w), grove_reason_error(2, "watcher exits"));
    ASSERT_TRUE(gt_ping(a));
    WAIT_UNTIL(info_of(a).monitored_by == 0);
    STOP_ECHO(a);
}

/* L-16: references are unique, from processes and from other threads. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

enum { REFS_PER = 20000, REF_MAKERS = 4 };

typedef struct ref_batch {
    grove_pid_t parent;
    uint64_t *out;
} ref_batch_t;

static void make_refs(void *arg)
{
    ref_batch_t *b = arg;
    for (int i = 0; i < REFS_PER; i++) {
        b->out[i] = grove_make_ref().id;
        if (i % 1000 == 0)
            grove_yield();
    }
    grove_send(b->parent, 1, NULL, 0);
}

PROC_TEST(L16_references_are_unique)
{
    size_t n = (size_t)REFS_PER * (REF_MAKERS + 1);
    uint64_t *all = calloc(n, sizeof *all);
    ASSERT_NOT_NULL(all);
    ref_batch_t b[REF_MAKERS];
    for (int i = 0; i < REF_MAKERS; i++) {
        b[i].parent = grove_self();
        b[i].out = all + (size_t)i * REFS_PER;
        SPAWN(make_refs, &b[i], NULL);
    }
    uint64_t *mine = all + (size_t)REF_MAKERS * REFS_PER;
    for (int i = 0; i < REFS_PER; i++)
        mine[i] = grove_make_ref().id;
    for (int i = 0; i < REF_MAKERS; i++)
        grove_msg_free(EXPECT_TAG(1));
    qsort(all, n, sizeof *all, cmp_u64);
    ASSERT_NE(all[0], 0);
    for (size_t i = 1; i < n; i++)
        if (all[i] == all[i - 1])
            GT_FAIL("reference %llu made twice",
                    (unsigned long long)all[i]);
    free(all);
}

TEST(L16_references_unique_outside_process)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    grove_ref_t a = grove_make_ref();
    grove_ref_t b = grove_make_ref();
    ASSERT_NE(a.id, 0);
    ASSERT_NE(b.id, 0);
    ASSERT_REF_NE(a, b);
    ASSERT_OK(grove_stop());
}

/* L-17: monitoring a dead or never-existing process gives DOWN noproc. */
static void return_at_once(void *arg) { (void)arg; }

PROC_TEST(L17_monitor_dead_pid_gives_noproc)
{
    grove_pid_t dead = SPAWN_MON(return_at_once, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(dead), grove_reason_normal());
    grove_ref_t ref;
    ASSERT_OK(grove_monitor(dead, &ref));
    ASSERT_NE(ref.id, 0);
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, dead),
                     grove_reason_of(GROVE_EXIT_NOPROC));

    grove_pid_t self = grove_self();
    grove_pid_t forged = {self.id + ((uint64_t)77 << 32)};
    ASSERT_OK(grove_monitor(forged, &ref));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, forged),
                     grove_reason_of(GROVE_EXIT_NOPROC));
    EXPECT_NO_MSG(20);
    ASSERT_EQ(info_of(self).monitors, 0);
}

/* L-18: monitoring by name resolves the name once; the DOWN carries the
 * name. */
PROC_TEST(L18_monitor_by_name)
{
    grove_spawn_opts_t o = {.name = "l18_target"};
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, &o);
    grove_ref_t ref;
    ASSERT_OK(grove_monitor_name("l18_target", &ref));
    ASSERT_NE(ref.id, 0);

    /* The name moves to another process; the monitor stays on a. */
    ASSERT_OK(grove_unregister("l18_target"));
    grove_spawn_opts_t bo = {.name = "l18_target"};
    grove_pid_t b = SPAWN_ECHO(GROVE_PID_NONE, &bo);
    grove_ref_t bref;
    ASSERT_OK(grove_monitor(b, &bref));
    gt_echo_exit(b, grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(EXPECT_DOWN(bref, b), grove_reason_shutdown(NULL));
    grove_sleep(gt_scaled_ms(20));
    grove_msg_t *m;
    ASSERT_ERR(grove_recv_ref(&m, ref, 0), GROVE_ETIMEDOUT);

    gt_echo_exit(a, grove_reason_error(3, "named"));
    grove_msg_t *down;
    ASSERT_OK(grove_recv_ref(&down, ref, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_kind(down), GROVE_MSG_DOWN);
    ASSERT_STREQ(grove_msg_name(down), "l18_target");
    ASSERT_PID_EQ(grove_msg_from(down), a);
    ASSERT_REASON_EQ(*grove_msg_reason(down), grove_reason_error(3, "named"));
    grove_msg_free(down);

    /* An unknown name gives DOWN noproc, naming it. */
    ASSERT_OK(grove_monitor_name("l18_nobody", &ref));
    ASSERT_OK(grove_recv_ref(&down, ref, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_kind(down), GROVE_MSG_DOWN);
    ASSERT_STREQ(grove_msg_name(down), "l18_nobody");
    ASSERT_REASON_EQ(*grove_msg_reason(down),
                     grove_reason_of(GROVE_EXIT_NOPROC));
    grove_msg_free(down);

    /* A DOWN of a monitor by pid names nothing. */
    grove_pid_t c = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_OK(grove_monitor(c, &ref));
    ASSERT_OK(grove_send(c, GT_TAG_STOP, NULL, 0));
    ASSERT_OK(grove_recv_ref(&down, ref, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_NULL(grove_msg_name(down));
    grove_msg_free(down);
    EXPECT_NO_MSG(10);
}

/* L-19: after demonitor returns, no DOWN for the reference is queued. */
PROC_TEST(L19_demonitor_prevents_down)
{
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_ref_t ref, witness;
    ASSERT_OK(grove_monitor(a, &ref));
    ASSERT_OK(grove_monitor(a, &witness));
    ASSERT_OK(grove_demonitor(ref, 0));
    gt_echo_exit(a, grove_reason_error(1, "x"));
    ASSERT_REASON_EQ(EXPECT_DOWN(witness, a), grove_reason_error(1, "x"));
    grove_sleep(gt_scaled_ms(20));
    EXPECT_NO_MSG(20);
    /* Demonitoring an unknown or fired reference is fine. */
    ASSERT_OK(grove_demonitor(ref, 0));
    ASSERT_OK(grove_demonitor(witness, 0));
    ASSERT_EQ(info_of(grove_self()).monitors, 0);
}

/* L-19: without FLUSH a DOWN already queued stays; with FLUSH it goes. */
static grove_ref_t fire_monitor(grove_pid_t *out)
{
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_ref_t ref, witness;
    ASSERT_OK(grove_monitor(a, &ref));
    ASSERT_OK(grove_monitor(a, &witness));
    gt_echo_exit(a, grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(EXPECT_DOWN(witness, a), grove_reason_shutdown(NULL));
    grove_sleep(gt_scaled_ms(20));
    *out = a;
    return ref;
}

PROC_TEST(L19_demonitor_flush)
{
    grove_pid_t a;
    grove_ref_t ref = fire_monitor(&a);
    ASSERT_OK(grove_demonitor(ref, 0));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, a), grove_reason_shutdown(NULL));

    ref = fire_monitor(&a);
    ASSERT_OK(grove_demonitor(ref, GROVE_DEMONITOR_FLUSH));
    EXPECT_NO_MSG(20);

    /* FLUSH removes only that reference's DOWN. */
    grove_pid_t self = grove_self();
    ASSERT_OK(grove_send(self, 7, NULL, 0));
    ref = fire_monitor(&a);
    ASSERT_OK(grove_send(self, 8, NULL, 0));
    ASSERT_OK(grove_demonitor(ref, GROVE_DEMONITOR_FLUSH));
    grove_msg_t *m;
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_tag(m), 7);
    grove_msg_free(m);
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_tag(m), 8);
    grove_msg_free(m);
    EXPECT_NO_MSG(10);
}

/* L-19: INFO tells whether the monitor was removed before it fired. */
PROC_TEST(L19_demonitor_info)
{
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_ref_t ref;
    ASSERT_OK(grove_monitor(a, &ref));
    ASSERT_EQ(grove_demonitor(ref, GROVE_DEMONITOR_INFO), 1);
    ASSERT_EQ(grove_demonitor(ref, GROVE_DEMONITOR_INFO), 0);
    STOP_ECHO(a);

    ref = fire_monitor(&a);
    ASSERT_EQ(grove_demonitor(ref, GROVE_DEMONITOR_INFO), 0);
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, a), grove_reason_shutdown(NULL));

    ref = fire_monitor(&a);
    ASSERT_EQ(grove_demonitor(ref, GROVE_DEMONITOR_INFO |
                                       GROVE_DEMONITOR_FLUSH),
              0);
    EXPECT_NO_MSG(20);

    /* A reference that was never a monitor. */
    ASSERT_EQ(grove_demonitor(grove_make_ref(), GROVE_DEMONITOR_INFO), 0);
}

/* L-16 and L-19 together: many monitors on one target, half removed;
 * exactly the other half fire, each once. */
PROC_TEST(L16_many_monitors_fire_once_each)
{
    enum { N = 500 };
    static grove_ref_t refs[N];
    static bool seen[N];
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    for (int i = 0; i < N; i++)
        ASSERT_OK(grove_monitor(a, &refs[i]));
    for (int i = 0; i < N; i += 2)
        ASSERT_EQ(grove_demonitor(refs[i], GROVE_DEMONITOR_INFO), 1);
    gt_echo_exit(a, grove_reason_error(8, "many"));
    for (int got = 0; got < N / 2; got++) {
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS)));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
        uint64_t id = grove_msg_ref(m).id;
        int idx = -1;
        for (int i = 1; i < N; i += 2)
            if (refs[i].id == id)
                idx = i;
        ASSERT_GE(idx, 0);
        ASSERT_FALSE(seen[idx]);
        seen[idx] = true;
        ASSERT_EQ(grove_msg_reason(m)->code, 8);
        grove_msg_free(m);
    }
    EXPECT_NO_MSG(50);
}

/* Waits for "go", tells the tester its index, and ends with a reason that
 * carries the index. */
static grove_pid_t batch_tester, batch_sink;
static void ender(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    grove_msg_t *go;
    if (i % 3 == 0)
        grove_link(batch_sink);
    if (grove_recv(&go, GROVE_INFINITY) == 0)
        grove_msg_free(go);
    grove_send(batch_tester, 1, &i, sizeof i);
    grove_reason_t why = grove_reason_error((int)i + 1, "ender %u", i);
    grove_exit(&why);
}

/* Traps exits and, once it has had an EXIT from each of the enders it
 * expects (the argument), each with that ender's reason, says so. */
static void exit_sink(void *arg)
{
    unsigned want = (unsigned)(uintptr_t)arg, got = 0, bad = 0;
    grove_trap_exit(true);
    grove_send(batch_tester, 2, NULL, 0);
    while (got < want) {
        grove_msg_t *m;
        if (grove_recv(&m, 30000) != 0)
            break;
        if (grove_msg_kind(m) == GROVE_MSG_EXIT &&
            grove_msg_reason(m)->kind == GROVE_EXIT_ERROR &&
            (grove_msg_reason(m)->code - 1) % 3 == 0)
            got++;
        else
            bad++;
        grove_msg_free(m);
    }
    grove_send(batch_tester, 3, &bad, sizeof bad);
}

/* Many processes ending at once, on every scheduler, tell one watcher:
 * a DOWN for each monitor and an EXIT for each link, each exactly once,
 * with its own reason, and each after the message its process sent
 * before it ended (their exits' signals travel in batches: none may be
 * lost, duplicated or put ahead of what came before it). */
PROC_TEST(down_and_exit_of_many_ending_together_each_once_in_order)
{
    enum { N = 600 };
    static grove_pid_t pid[N];
    static int seen_msg[N], seen_down[N], seen_exit[N];
    batch_tester = grove_self();
    ASSERT_OK(grove_trap_exit(true));
    /* A third of them also tell another process, so the signals of
     * consecutive exits go to different processes. */
    grove_pid_t sink = SPAWN_MON(exit_sink, (void *)(uintptr_t)(N / 3), NULL);
    batch_sink = sink;
    grove_msg_free(EXPECT_TAG(2));
    for (unsigned i = 0; i < N; i++) {
        ASSERT_OK(grove_spawn(ender, (void *)(uintptr_t)i, NULL, &pid[i]));
        grove_ref_t ref;
        ASSERT_OK(grove_monitor(pid[i], &ref));
        if (i % 2)
            ASSERT_OK(grove_link(pid[i]));
        seen_msg[i] = seen_down[i] = seen_exit[i] = 0;
    }
    for (unsigned i = 0; i < N; i++)
        ASSERT_OK(grove_send(pid[i], 0, NULL, 0));
    unsigned left = N + N + N / 2, bad = 0;
    bool sink_done = false, sink_down = false;
    while (left) {
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, 30000));
        int kind = grove_msg_kind(m);
        unsigned i = N;
        if (grove_pid_equal(grove_msg_from(m), sink)) {
            /* The sink may finish before the rest is here. */
            if (kind == GROVE_MSG_USER) {
                ASSERT_EQ(grove_msg_tag(m), 3);
                memcpy(&bad, grove_msg_data(m), sizeof bad);
                sink_done = true;
            } else {
                ASSERT_EQ(kind, GROVE_MSG_DOWN);
                ASSERT_TRUE(sink_done);
                ASSERT_REASON_EQ(*grove_msg_reason(m), grove_reason_normal());
                sink_down = true;
            }
            grove_msg_free(m);
            continue;
        }
        left--;
        if (kind == GROVE_MSG_USER) {
            memcpy(&i, grove_msg_data(m), sizeof i);
            ASSERT_LT(i, N);
            ASSERT_PID_EQ(grove_msg_from(m), pid[i]);
            ASSERT_EQ(seen_down[i] + seen_exit[i], 0);
            seen_msg[i]++;
        } else {
            for (unsigned j = 0; j < N && i == N; j++)
                if (grove_pid_equal(grove_msg_from(m), pid[j]))
                    i = j;
            ASSERT_LT(i, N);
            ASSERT_EQ(seen_msg[i], 1);
            const grove_reason_t *r = grove_msg_reason(m);
            ASSERT_EQ(r->kind, GROVE_EXIT_ERROR);
            ASSERT_EQ(r->code, (int)i + 1);
            if (kind == GROVE_MSG_DOWN)
                seen_down[i]++;
            else
                seen_exit[i]++;
        }
        grove_msg_free(m);
    }
    for (unsigned i = 0; i < N; i++) {
        ASSERT_EQ(seen_msg[i], 1);
        ASSERT_EQ(seen_down[i], 1);
        ASSERT_EQ(seen_exit[i], (int)(i % 2));
    }
    if (!sink_done) {
        grove_msg_t *m = EXPECT_TAG(3);
        memcpy(&bad, grove_msg_data(m), sizeof bad);
        grove_msg_free(m);
    }
    ASSERT_EQ(bad, 0);
    if (!sink_down)
        ASSERT_REASON_EQ(AWAIT_EXIT(sink), grove_reason_normal());
    EXPECT_NO_MSG(100);
    ASSERT_EQ(grove_trap_exit(false), 1);
}
