/* Spawn storms: a million processes spawned and reaped in batches, and a
 * hundred thousand alive at once. Sanitizer builds use smaller counts. */
#include <stdatomic.h>
#include <stdlib.h>

#include "grove_test.h"

#if defined(GROVE_TSAN)
/* TSan counts every fiber as a thread and dies past 8128 of them. */
enum { TOTAL_SPAWNS = 50000, ALIVE_AT_ONCE = 5000 };
#elif defined(GROVE_ASAN)
enum { TOTAL_SPAWNS = 100000, ALIVE_AT_ONCE = 20000 };
#else
enum { TOTAL_SPAWNS = 1000000, ALIVE_AT_ONCE = 100000 };
#endif
enum { BATCH = 1000, GO_TAG = 7 };

static atomic_long ran;

static void bump(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

/* Receives DOWN messages until n have come, each with reason normal. */
static void reap(int n)
{
    for (int got = 0; got < n; got++) {
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS * 2)));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
        const grove_reason_t *r = grove_msg_reason(m);
        ASSERT_NOT_NULL(r);
        ASSERT_REASON_EQ(*r, grove_reason_normal());
        grove_msg_free(m);
    }
}

PROC_TEST_OPTS(spawn_million_in_batches, .timeout_s = 120)
{
    atomic_store(&ran, 0);
    grove_stats_t before = gt_stats();
    int64_t t0 = gt_now_ms();
    grove_spawn_opts_t o = {.monitor = true};
    for (int done = 0; done < TOTAL_SPAWNS; done += BATCH) {
        for (int k = 0; k < BATCH; k++)
            SPAWN(bump, NULL, &o);
        reap(BATCH);
    }
    grove_stats_t after = gt_stats();
    ASSERT_EQ(atomic_load(&ran), TOTAL_SPAWNS);
    ASSERT_EQ(after.processes_spawned - before.processes_spawned,
              TOTAL_SPAWNS);
    /* The count drops a moment after the DOWN is sent. */
    WAIT_UNTIL(gt_stats().processes_alive == before.processes_alive);
    EXPECT_NO_MSG(0);
    gt_note("%d spawns and exits in %lld ms", TOTAL_SPAWNS,
            (long long)(gt_now_ms() - t0));
}

/* The same, with many processes spawning at once on every scheduler. */
static void spawner(void *arg)
{
    int n = (int)(uintptr_t)arg;
    grove_spawn_opts_t o = {.monitor = true};
    for (int done = 0; done < n; done += 100) {
        for (int k = 0; k < 100; k++)
            SPAWN(bump, NULL, &o);
        reap(100);
    }
}

PROC_TEST_OPTS(spawn_from_many_spawners, .timeout_s = 120, .schedulers = 4)
{
    enum { SPAWNERS = 16 };
    int per = TOTAL_SPAWNS / 10 / SPAWNERS / 100 * 100;
    atomic_store(&ran, 0);
    for (int i = 0; i < SPAWNERS; i++)
        SPAWN_MON(spawner, (void *)(uintptr_t)per, NULL);
    reap(SPAWNERS);
    ASSERT_EQ(atomic_load(&ran), (long)per * SPAWNERS);
}

/* Many processes alive at once, all blocked in receive, then all told to
 * exit. They use the smallest stack. */
static atomic_long ready, finished;

static void wait_for_go(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ready, 1);
    grove_msg_t *m;
    int rc = grove_recv(&m, GROVE_INFINITY);
    if (rc != 0)
        grove_exit_error(1, "recv: %s", grove_errname(rc));
    if (grove_msg_tag(m) != GO_TAG)
        grove_exit_error(2, "unexpected tag");
    grove_msg_free(m);
    atomic_fetch_add(&finished, 1);
}

PROC_TEST_OPTS(hundred_thousand_alive, .timeout_s = 180)
{
    atomic_store(&ready, 0);
    atomic_store(&finished, 0);
    grove_pid_t *pids = malloc(sizeof *pids * ALIVE_AT_ONCE);
    ASSERT_NOT_NULL(pids);
    grove_stats_t before = gt_stats();
    int64_t t0 = gt_now_ms();
    grove_spawn_opts_t o = {.monitor = true, .stack_size = 16 * 1024};
    for (int i = 0; i < ALIVE_AT_ONCE; i++) {
        pids[i] = SPAWN(wait_for_go, NULL, &o);
        if (i % 1000 == 999)
            grove_yield();
    }
    WAIT_UNTIL_MS(atomic_load(&ready) == ALIVE_AT_ONCE, 60000);
    grove_stats_t live = gt_stats();
    ASSERT_EQ(live.processes_alive, before.processes_alive + ALIVE_AT_ONCE);
    /* Every one of them is waiting, none has finished. */
    ASSERT_EQ(atomic_load(&finished), 0);
    for (int i = 0; i < ALIVE_AT_ONCE; i += ALIVE_AT_ONCE / 10) {
        grove_process_info_t info;
        WAIT_UNTIL(grove_process_info(pids[i], &info) == 0 &&
                   info.status == GROVE_STATUS_WAITING);
    }
    int64_t t1 = gt_now_ms();
    for (int i = 0; i < ALIVE_AT_ONCE; i++)
        ASSERT_OK(grove_send(pids[i], GO_TAG, NULL, 0));
    reap(ALIVE_AT_ONCE);
    ASSERT_EQ(atomic_load(&finished), ALIVE_AT_ONCE);
    WAIT_UNTIL(gt_stats().processes_alive == before.processes_alive);
    gt_note("%d alive: spawned in %lld ms, released in %lld ms, %llu "
            "stacks mapped at peak", ALIVE_AT_ONCE, (long long)(t1 - t0),
            (long long)(gt_now_ms() - t1),
            (unsigned long long)live.stacks_mapped);
    free(pids);
}
