/* Runtime start and stop: calls before start, starting twice, bad
 * configuration, calls that belong outside or inside processes. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

static void nothing(void *arg) { (void)arg; }

TEST(calls_before_start)
{
    ASSERT_FALSE(grove_running());
    ASSERT_EQ(grove_scheduler_count(), 0);
    grove_pid_t p;
    ASSERT_ERR(grove_spawn(nothing, NULL, NULL, &p), GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_stop(), GROVE_ENOTSTARTED);
    grove_reason_t r;
    grove_pid_t fake = {((uint64_t)1 << 32) | 1};
    ASSERT_ERR(grove_wait(fake, 0, &r), GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_send_after(fake, 10, 1, NULL, 0, NULL),
               GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_start_timer(fake, 10, 1, NULL, 0, NULL),
               GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_read_timer((grove_timer_t){1}, NULL), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_cancel_timer_left((grove_timer_t){1}, NULL),
               GROVE_ENOTFOUND);
    ASSERT_ERR2(grove_send(fake, 1, NULL, 0), GROVE_ENOTSTARTED,
                GROVE_ENOPROC);
    ASSERT_FALSE(grove_is_alive(fake));
    ASSERT_PID_EQ(grove_self(), GROVE_PID_NONE);
}

TEST(start_twice_and_restart)
{
    grove_config_t cfg = {.schedulers = 2};
    ASSERT_OK(grove_start(&cfg));
    ASSERT_TRUE(grove_running());
    ASSERT_EQ(grove_scheduler_count(), 2);
    ASSERT_ERR(grove_start(&cfg), GROVE_ESTARTED);
    ASSERT_ERR(grove_start(NULL), GROVE_ESTARTED);
    ASSERT_EQ(grove_scheduler_count(), 2);
    ASSERT_OK(grove_stop());
    ASSERT_FALSE(grove_running());
    ASSERT_EQ(grove_scheduler_count(), 0);
    ASSERT_ERR(grove_stop(), GROVE_ENOTSTARTED);

    /* Start again, with other settings, and run something. */
    cfg.schedulers = 3;
    ASSERT_OK(grove_start(&cfg));
    ASSERT_EQ(grove_scheduler_count(), 3);
    grove_reason_t r;
    ASSERT_OK(grove_run(nothing, NULL, &r));
    ASSERT_EQ(r.kind, GROVE_EXIT_NORMAL);
    ASSERT_OK(grove_stop());
}

/* grove_run starts and stops the runtime when it was not running. */
static void exit_shutdown(void *arg)
{
    (void)arg;
    grove_reason_t r = grove_reason_shutdown("run");
    grove_exit(&r);
}

TEST(run_starts_and_stops)
{
    grove_reason_t r;
    ASSERT_OK(grove_run(exit_shutdown, NULL, &r));
    ASSERT_REASON_EQ(r, grove_reason_shutdown("run"));
    ASSERT_FALSE(grove_running());
    ASSERT_OK(grove_run(nothing, NULL, NULL));
    ASSERT_FALSE(grove_running());
    ASSERT_ERR(grove_run(NULL, NULL, &r), GROVE_EINVAL);
}

TEST(start_rejects_bad_config)
{
    grove_config_t bad[] = {
        {.schedulers = -1},
        {.schedulers = 257},
        {.stack_size = 1},
        {.stack_size = 8 * 1024},
        {.stack_size = ((size_t)256 << 20) + 4096},
        {.stack_size = SIZE_MAX},
        {.max_processes = ((uint32_t)1 << 28) + 1},
    };
    int wrong = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_start(&bad[i]);
        if (rc == GROVE_EINVAL) {
            ASSERT_FALSE(grove_running());
            continue;
        }
        gt_note("bad config %zu (schedulers %d, stack_size %zu, "
                "max_processes %u): got %s", i, bad[i].schedulers,
                bad[i].stack_size, bad[i].max_processes, grove_errname(rc));
        wrong++;
        if (rc == 0)
            ASSERT_OK(grove_stop());
    }
    ASSERT_EQ(wrong, 0);
    /* The edges of each range are fine. */
    grove_config_t good[] = {
        {.schedulers = 1, .stack_size = 16 * 1024},
        {.schedulers = 256, .stack_size = (size_t)256 << 20},
        {.schedulers = 1, .stack_size = 16 * 1024 + 1},
        {.schedulers = 1, .max_processes = 1},
        /* "negative disables" for both periods, not only -1 */
        {.schedulers = 1, .long_schedule_ms = -5, .stack_trim_ms = -100},
        {.schedulers = 1, .long_schedule_ms = -1, .stack_trim_ms = -1},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int rc = grove_start(&good[i]);
        if (rc != 0)
            GT_FAIL("good config %zu: got %s", i, grove_errname(rc));
        ASSERT_OK(grove_stop());
    }
}

TEST(start_with_defaults)
{
    ASSERT_OK(grove_start(NULL));
    ASSERT_GE(grove_scheduler_count(), 1);
    ASSERT_LE(grove_scheduler_count(), 256);
    ASSERT_OK(grove_run(nothing, NULL, NULL));
    ASSERT_OK(grove_stop());
}

/* Stop and wait belong outside processes. */
PROC_TEST(stop_and_wait_from_process_are_ebusy)
{
    ASSERT_ERR(grove_stop(), GROVE_EBUSY);
    grove_reason_t r;
    ASSERT_ERR(grove_wait(grove_self(), 0, &r), GROVE_EBUSY);
    ASSERT_TRUE(grove_running());
}

/* grove_wait from a thread: a live process, a timeout, a dead pid. */
static void wait_msg(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    grove_exit_error(3, "waited");
}

TEST(wait_from_thread)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    grove_pid_t p;
    ASSERT_OK(grove_spawn(wait_msg, NULL, NULL, &p));
    grove_reason_t r;
    int64_t t0 = gt_now_ms();
    ASSERT_ERR(grove_wait(p, 30, &r), GROVE_ETIMEDOUT);
    ASSERT_GE(gt_now_ms() - t0, 30);
    ASSERT_TRUE(grove_is_alive(p));
    /* Delayed, so that grove_wait starts before p exits: a wait that
     * starts later finds it dead and reports GROVE_ENOPROC. */
    ASSERT_OK(grove_send_after(p, gt_scaled_ms(50), 1, NULL, 0, NULL));
    ASSERT_OK(grove_wait(p, gt_scaled_ms(GT_WAIT_MS), &r));
    ASSERT_REASON_EQ(r, grove_reason_error(3, "waited"));
    ASSERT_FALSE(grove_is_alive(p));
    ASSERT_ERR(grove_wait(p, 0, &r), GROVE_ENOPROC);
    ASSERT_ERR2(grove_wait(GROVE_PID_NONE, 0, &r), GROVE_EINVAL,
                GROVE_ENOPROC);
    ASSERT_OK(grove_stop());
}

static void wait_forever(void)
{
    grove_msg_t *m;
    grove_recv_tag(&m, 424242, GROVE_INFINITY);
}

static void block_forever(void *arg)
{
    (void)arg;
    grove_alloc(4096);
    wait_forever();
}

/* After a grove_stop: the runtime starts again with nothing left over. */
static void assert_restarts_clean(void)
{
    ASSERT_FALSE(grove_running());
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    ASSERT_EQ(gt_stats().processes_alive, 0);
    ASSERT_EQ(gt_stats().messages_live, 0);
    ASSERT_EQ(gt_stats().arena_bytes_live, 0);
    ASSERT_OK(grove_stop());
}

/* grove_stop kills what is left, and they release what they held. */
TEST(stop_kills_remaining_processes)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    for (int i = 0; i < 100; i++)
        ASSERT_OK(grove_spawn(block_forever, NULL, NULL, NULL));
    grove_pid_t p;
    ASSERT_OK(grove_spawn(block_forever, NULL, NULL, &p));
    ASSERT_OK(grove_send(p, 1, "unread", 6));
    WAIT_UNTIL(gt_stats().processes_alive >= 101);
    ASSERT_OK(grove_stop());
    ASSERT_FALSE(grove_is_alive(p));
    assert_restarts_clean();
}

/* A chain that outlives a single kill pass: each link spawns the next
 * and then waits, so processes keep being spawned while grove_stop kills
 * the ones it found. The chains share a budget: under valgrind, which runs
 * one thread at a time, they can starve the test's thread, and unbounded
 * they grew to hundreds of thousands of processes before the stop. */
static atomic_int relay_budget = 20000;

static void relay(void *arg)
{
    (void)arg;
    if (atomic_fetch_sub(&relay_budget, 1) > 0)
        grove_spawn(relay, NULL, NULL, NULL); /* may fail once stopping */
    wait_forever();
}

TEST(stop_kills_processes_spawned_while_stopping)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    for (int i = 0; i < 4; i++)
        ASSERT_OK(grove_spawn(relay, NULL, NULL, NULL));
    for (int i = 0; i < 2000; i++)
        ASSERT_OK(grove_spawn(block_forever, NULL, NULL, NULL));
    WAIT_UNTIL(gt_stats().processes_spawned >= 4000);
    ASSERT_OK(grove_stop());
    assert_restarts_clean();
}

/* Process-only functions called from a thread that is not a process. */
static void *non_process_calls(void *arg)
{
    (void)arg;
    grove_msg_t *m = NULL;
    ASSERT_PID_EQ(grove_self(), GROVE_PID_NONE);
    ASSERT_ERR(grove_recv(&m, 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_recv_tag(&m, 1, 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_recv_ref(&m, grove_make_ref(), 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_flush(NULL, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_trap_exit(true), GROVE_ENOTPROC);
    grove_pid_t some = {((uint64_t)1 << 32) | 1};
    ASSERT_ERR(grove_link(some), GROVE_ENOTPROC);
    ASSERT_ERR(grove_unlink(some), GROVE_ENOTPROC);
    grove_ref_t ref;
    ASSERT_ERR(grove_monitor(some, &ref), GROVE_ENOTPROC);
    ASSERT_ERR(grove_monitor_name("x", &ref), GROVE_ENOTPROC);
    ASSERT_ERR(grove_demonitor(grove_make_ref(), 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_sleep(1), GROVE_ENOTPROC);
    ASSERT_ERR(grove_resource_attach(free, NULL, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_resource_fd(0, NULL), GROVE_ENOTPROC);
    ASSERT_NULL(grove_alloc(16));
    ASSERT_NULL(grove_calloc(1, 16));
    grove_free(NULL);
    grove_yield();
    grove_ref_t a = grove_make_ref(), b = grove_make_ref();
    ASSERT_NE(a.id, 0);
    ASSERT_REF_NE(a, b);
    /* Link and monitor at spawn need a calling process. */
    grove_spawn_opts_t lo = {.link = true};
    ASSERT_ERR(grove_spawn(nothing, NULL, &lo, NULL), GROVE_EINVAL);
    grove_spawn_opts_t mo = {.monitor = true, .monitor_ref = &ref};
    ASSERT_ERR(grove_spawn(nothing, NULL, &mo, NULL), GROVE_EINVAL);
    /* Plain spawn, send and exit signals work from any thread. */
    grove_pid_t p;
    ASSERT_OK(grove_spawn(wait_msg, NULL, NULL, &p));
    ASSERT_OK(grove_send_after(p, gt_scaled_ms(50), 1, NULL, 0, NULL));
    grove_reason_t r;
    ASSERT_OK(grove_wait(p, gt_scaled_ms(GT_WAIT_MS), &r));
    ASSERT_EQ(r.code, 3);
    ASSERT_ERR(grove_send(p, 1, NULL, 0), GROVE_ENOPROC);
    return NULL;
}

TEST(process_only_calls_from_threads)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    non_process_calls(NULL);
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, non_process_calls, NULL), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_OK(grove_stop());
}

/* Sends an exit signal a little later, from another thread. */
typedef struct late_signal {
    grove_pid_t to;
    grove_reason_t reason;
    int rc;
} late_signal_t;

static void *signal_later(void *arg)
{
    late_signal_t *ls = arg;
    gt_os_sleep_ms(gt_scaled_ms(200)); /* after grove_wait began */
    ls->rc = grove_exit_signal(ls->to, &ls->reason);
    return NULL;
}

/* Timers and exit signals from a thread outside any process. */
TEST(timer_and_signal_from_thread)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    grove_pid_t p;
    ASSERT_OK(grove_spawn(wait_msg, NULL, NULL, &p));
    grove_timer_t t;
    /* Long enough that p is still waiting when grove_wait begins, even
     * under valgrind: grove_wait of a process already gone is ENOPROC. */
    ASSERT_OK(grove_send_after(p, gt_scaled_ms(200), 1, NULL, 0, &t));
    ASSERT_NE(t.id, 0);
    grove_reason_t r;
    ASSERT_OK(grove_wait(p, gt_scaled_ms(GT_WAIT_MS), &r));
    ASSERT_EQ(r.code, 3);

    ASSERT_OK(grove_spawn(wait_msg, NULL, NULL, &p));
    late_signal_t ls = {p, grove_reason_shutdown("from thread"), -100};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, signal_later, &ls), 0);
    ASSERT_OK(grove_wait(p, gt_scaled_ms(GT_WAIT_MS), &r));
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_OK(ls.rc);
    ASSERT_REASON_EQ(r, ls.reason);
    ASSERT_OK(grove_stop());
}
