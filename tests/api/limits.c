/* The process table limit: spawning past max_processes gives
 * GROVE_ELIMIT and changes nothing, and the runtime works normally once
 * processes exit. */
#include <string.h>
#include <time.h>

#include "grove_test.h"

enum { MAX_PROCS = 64 };

static void wait_stop(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

/* Spawns until the table is full; returns how many were spawned. */
static int fill_table(grove_pid_t *pids, grove_ref_t *refs, int cap)
{
    int n = 0;
    for (;;) {
        ASSERT_LT(n, cap);
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[n]};
        grove_pid_t p = GROVE_PID_NONE;
        int rc = grove_spawn(wait_stop, NULL, &o, &p);
        if (rc == GROVE_ELIMIT)
            return n;
        ASSERT_OK(rc);
        pids[n++] = p;
    }
}

static void release_all(grove_pid_t *pids, grove_ref_t *refs, int n)
{
    for (int i = 0; i < n; i++)
        ASSERT_OK(grove_send(pids[i], 1, NULL, 0));
    for (int i = 0; i < n; i++)
        ASSERT_REASON_EQ(EXPECT_DOWN(refs[i], pids[i]),
                         grove_reason_normal());
}

PROC_TEST_OPTS(process_table_limit, .max_processes = MAX_PROCS)
{
    static grove_pid_t pids[MAX_PROCS * 2];
    static grove_ref_t refs[MAX_PROCS * 2];
    grove_stats_t base = gt_stats();
    int n = fill_table(pids, refs, MAX_PROCS * 2);
    /* Exactly the table's room: the live ones before plus ours. */
    ASSERT_EQ((uint64_t)n + base.processes_alive, MAX_PROCS);

    /* A failed spawn changed nothing: no process, no monitor, no name. */
    grove_stats_t full = gt_stats();
    grove_ref_t ref = GROVE_REF_NONE;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref,
                            .name = "over_limit", .link = true};
    grove_pid_t p = GROVE_PID_NONE;
    ASSERT_ERR(grove_spawn(wait_stop, NULL, &o, &p), GROVE_ELIMIT);
    ASSERT_ERR(grove_spawn(wait_stop, NULL, NULL, NULL), GROVE_ELIMIT);
    grove_stats_t after = gt_stats();
    ASSERT_EQ(after.processes_spawned, full.processes_spawned);
    ASSERT_EQ(after.processes_alive, full.processes_alive);
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("over_limit", &found), GROVE_ENOTFOUND);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.links, 0);
    ASSERT_EQ(info.monitors, (size_t)n);

    /* The full runtime still delivers messages. */
    ASSERT_OK(grove_send(grove_self(), 5, "full", 4));
    grove_msg_free(EXPECT_TAG(5));

    release_all(pids, refs, n);
    /* Their slots return to the table as their exits complete, a moment
     * after the DOWN and after processes_alive drops. */
    WAIT_UNTIL(gt_stats().processes_alive == base.processes_alive);
    grove_sleep(gt_scaled_ms(20));

    /* Room again: the whole table can be filled a second time. */
    int n2 = fill_table(pids, refs, MAX_PROCS * 2);
    ASSERT_EQ(n2, n);
    release_all(pids, refs, n2);
    grove_pid_t e = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_TRUE(gt_ping(e));
    STOP_ECHO(e);
}

/* A table full of processes that exit at once keeps recycling slots. */
static void return_at_once(void *arg) { (void)arg; }

PROC_TEST_OPTS(process_table_recycles_slots, .max_processes = 16)
{
    for (int i = 0; i < 5000; i++) {
        grove_pid_t p = SPAWN_MON(return_at_once, NULL, NULL);
        ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    }
}

/* Slots freed on other schedulers stay usable at the limit: processes
 * spread over four schedulers exit there, each scheduler keeps some of
 * their slots for itself, and one process must still fill the whole
 * table again. */
static void spread_exit(void *arg)
{
    (void)arg;
    /* Wait to be spread by stealing, then exit wherever this runs. */
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    grove_yield();
}

PROC_TEST_OPTS(process_table_limit_counts_slots_kept_elsewhere,
               .max_processes = MAX_PROCS, .schedulers = 4)
{
    static grove_pid_t pids[MAX_PROCS * 2];
    static grove_ref_t refs[MAX_PROCS * 2];
    grove_stats_t base = gt_stats();
    for (int round = 0; round < 3; round++) {
        int n = 0;
        for (;;) {
            ASSERT_LT(n, MAX_PROCS * 2);
            grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[n]};
            int rc = grove_spawn(spread_exit, NULL, &o, &pids[n]);
            if (rc == GROVE_ELIMIT)
                break;
            ASSERT_OK(rc);
            n++;
        }
        ASSERT_EQ((uint64_t)n + base.processes_alive, MAX_PROCS);
        release_all(pids, refs, n);
        WAIT_UNTIL(gt_stats().processes_alive == base.processes_alive);
        grove_sleep(gt_scaled_ms(20));
    }
    grove_stats_t end = gt_stats();
    gt_note("%llu steals", (unsigned long long)end.steals);
}

/* The run queues' room in entries, over all schedulers (core/sched.c). */
size_t grove__rq_slots(void);

enum { BURST = 3000, RQ_FIRST = 256 };

/* A burst of runnable processes grows the scheduler's run queue; once the
 * scheduler idles with nothing queued, the room goes back, burst after
 * burst, and every process of both bursts ran. */
PROC_TEST_OPTS(limits_run_queue_room_given_back_after_a_burst,
               .schedulers = 1, .timeout_s = 120)
{
    static grove_pid_t kids[BURST];
    static grove_ref_t refs[BURST];
    /* Spawned in one go: none runs before this process waits. */
    for (int i = 0; i < BURST; i++) {
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[i]};
        ASSERT_OK(grove_spawn(wait_stop, NULL, &o, &kids[i]));
    }
    ASSERT_GE(grove__rq_slots(), (size_t)BURST);
    WAIT_UNTIL(grove__rq_slots() <= RQ_FIRST);
    /* Woken in one go: the second burst. */
    for (int i = 0; i < BURST; i++)
        ASSERT_OK(grove_send(kids[i], 1, NULL, 0));
    ASSERT_GE(grove__rq_slots(), (size_t)BURST);
    for (int i = 0; i < BURST; i++)
        ASSERT_REASON_KIND(EXPECT_DOWN(refs[i], kids[i]), GROVE_EXIT_NORMAL);
    WAIT_UNTIL(grove__rq_slots() <= RQ_FIRST);
    EXPECT_NO_MSG(0);
}

static void exit_at_once(void *arg)
{
    (void)arg;
}

static int64_t cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Idle schedulers spin for a while before they sleep, and longer after
 * wake-ups that found nothing to do (core/sched.c, SPIN_GROW_MAX), but
 * the spinning stays short. Each spawn here wakes the other scheduler,
 * asleep since the last one, and this scheduler runs the child itself as
 * soon as its spawner waits: a wake-up for nothing, which makes the
 * other's spin grow. Between spawns this process computes without
 * yielding, so it keeps its own scheduler: the other one, if it spun
 * through those gaps, would use as much CPU time again. */
PROC_TEST_OPTS(limits_idle_schedulers_stop_spinning, .schedulers = 2,
               .timeout_s = 120)
{
    enum { ROUNDS = 40 };
    int64_t gap = 25; /* ms, unscaled: the work is this process's own */
    int64_t cpu0 = cpu_ms(), wall0 = gt_now_ms();
    for (int i = 0; i < ROUNDS; i++) {
        grove_ref_t ref;
        grove_pid_t kid;
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
        ASSERT_OK(grove_spawn(exit_at_once, NULL, &o, &kid));
        ASSERT_REASON_KIND(EXPECT_DOWN(ref, kid), GROVE_EXIT_NORMAL);
        for (int64_t end = gt_now_ms() + gap; gt_now_ms() < end;)
            ;
    }
    int64_t used = cpu_ms() - cpu0, wall = gt_now_ms() - wall0;
    ASSERT_GE(wall, ROUNDS * gap);
    /* This process's core all along, and at most half of the other. */
    ASSERT_LT(used, wall + wall / 2);
}
