/* Task.async_stream and Task.Supervisor.async_stream: results in input
 * order whatever the order of completion, the max_concurrency limit,
 * per-task timeouts (exit or kill), failures with and without links,
 * and a clean mailbox afterwards. */
#include <stdint.h>
#include <string.h>

#include "task_util.h"

#define N 8

static void *sleeps[N];

/* Later inputs finish first: input i sleeps (N - i) * 5 ms. */
static void fill_sleeps(void)
{
    for (int i = 0; i < N; i++)
        sleeps[i] = (void *)(intptr_t)((N - i) * 5);
}

static void free_all(grove_task_result_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        grove_msg_free(r[i].reply);
}

PROC_TEST(task_stream_results_in_input_order)
{
    fill_sleeps();
    grove_task_result_t res[N];
    grove_task_stream_opts_t o = {.max_concurrency = 3};
    ASSERT_OK(grove_task_async_stream(tu_sleep, sleeps, N, &o, res));
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(res[i].status, 0);
        ASSERT_EQ(tu_reply_int(res[i].reply), (N - i) * 5);
    }
    free_all(res, N);
    ASSERT_EQ(atomic_load(&tu_runs), N);
    ASSERT_EQ(atomic_load(&tu_peak), 3);
    ASSERT_TRUE(tu_mailbox_empty(30));
}

/* The default concurrency is the number of schedulers. */
PROC_TEST_OPTS(task_stream_default_concurrency, .schedulers = 3)
{
    fill_sleeps();
    grove_task_result_t res[N];
    ASSERT_OK(grove_task_async_stream(tu_sleep, sleeps, N, NULL, res));
    ASSERT_EQ(atomic_load(&tu_peak), 3);
    free_all(res, N);
}

/* One at a time runs them in order. */
PROC_TEST(task_stream_concurrency_one)
{
    fill_sleeps();
    grove_task_result_t res[N];
    grove_task_stream_opts_t o = {.max_concurrency = 1};
    ASSERT_OK(grove_task_async_stream(tu_sleep, sleeps, N, &o, res));
    ASSERT_EQ(atomic_load(&tu_peak), 1);
    for (int i = 0; i < N; i++)
        ASSERT_EQ(tu_reply_int(res[i].reply), (N - i) * 5);
    free_all(res, N);
}

/* on_timeout KILL: the slow task is killed and reported, the others
 * complete. */
PROC_TEST(task_stream_timeout_kill)
{
    void *args[3] = {(void *)(intptr_t)1, (void *)(intptr_t)5000,
                     (void *)(intptr_t)2};
    grove_task_result_t res[3];
    grove_task_stream_opts_t o = {.max_concurrency = 3, .timeout = 100,
                                  .on_timeout = GROVE_TASK_ON_TIMEOUT_KILL};
    int64_t t0 = (int64_t)grove_now_ms();
    ASSERT_OK(grove_task_async_stream(tu_sleep, args, 3, &o, res));
    ASSERT_LT((int64_t)grove_now_ms() - t0, gt_scaled_ms(3000));
    ASSERT_EQ(res[0].status, 0);
    ASSERT_EQ(res[1].status, GROVE_ETIMEDOUT);
    ASSERT_NULL(res[1].reply);
    ASSERT_EQ(res[2].status, 0);
    ASSERT_EQ(tu_reply_int(res[2].reply), 2);
    free_all(res, 3);
    ASSERT_TRUE(tu_mailbox_empty(30));
}

/* on_timeout EXIT (the default): the caller exits with timeout and the
 * running tasks are stopped first. */
static void stream_times_out(void *arg)
{
    (void)arg;
    void *args[2] = {(void *)(intptr_t)1, (void *)(intptr_t)5000};
    grove_task_result_t res[2];
    grove_task_stream_opts_t o = {.timeout = 50};
    grove_task_async_stream(tu_sleep, args, 2, &o, res);
    gt_ev("stream returned");
}

PROC_TEST(task_stream_timeout_exits_caller)
{
    grove_pid_t p = SPAWN_MON(stream_times_out, NULL, NULL);
    grove_reason_t r = AWAIT_EXIT(p);
    ASSERT_REASON_KIND(r, GROVE_EXIT_TIMEOUT);
    ASSERT_REASON_HAS(r, "stream");
    ASSERT_EVENTS(NULL);
}

/* A failing linked task ends a caller that does not trap exits... */
static void stream_with_failure(void *arg)
{
    (void)arg;
    void *args[3] = {(void *)(intptr_t)0, (void *)(intptr_t)4,
                     (void *)(intptr_t)0};
    grove_task_result_t res[3];
    grove_task_async_stream(tu_fail, args, 3, NULL, res);
    gt_ev("stream returned");
}

PROC_TEST(task_stream_failure_kills_caller)
{
    grove_pid_t p = SPAWN_MON(stream_with_failure, NULL, NULL);
    grove_reason_t r = AWAIT_EXIT(p);
    ASSERT_REASON_KIND(r, GROVE_EXIT_ERROR);
    ASSERT_EQ(r.code, 4);
    ASSERT_EVENTS(NULL);
}

/* ...and is an entry GROVE_EEXITED for one that does; no EXIT message
 * of any task is left behind. */
PROC_TEST(task_stream_failure_trapped)
{
    grove_trap_exit(true);
    void *args[3] = {(void *)(intptr_t)0, (void *)(intptr_t)4,
                     (void *)(intptr_t)0};
    grove_task_result_t res[3];
    ASSERT_OK(grove_task_async_stream(tu_fail, args, 3, NULL, res));
    ASSERT_EQ(res[0].status, 0);
    ASSERT_EQ(res[1].status, GROVE_EEXITED);
    ASSERT_EQ(res[1].reason.code, 4);
    ASSERT_EQ(res[2].status, 0);
    free_all(res, 3);
    ASSERT_TRUE(tu_mailbox_empty(50));
}

/* Supervised, nolink: a failure is an entry and the caller, not
 * trapping, lives on; the tasks were the supervisor's children. */
PROC_TEST(task_stream_supervised_nolink)
{
    grove_pid_t sup;
    ASSERT_OK(grove_task_sup_start(NULL, &sup, NULL));
    void *args[4] = {(void *)(intptr_t)0, (void *)(intptr_t)6,
                     (void *)(intptr_t)0, (void *)(intptr_t)0};
    grove_task_result_t res[4];
    grove_task_stream_opts_t o = {.nolink = true, .max_concurrency = 2};
    ASSERT_OK(grove_task_sup_async_stream(grove_server_pid(sup), tu_fail,
                                          args, 4, &o, res));
    ASSERT_EQ(res[1].status, GROVE_EEXITED);
    ASSERT_EQ(res[1].reason.code, 6);
    ASSERT_EQ(res[0].status, 0);
    ASSERT_EQ(res[3].status, 0);
    free_all(res, 4);
    ASSERT_TRUE(tu_mailbox_empty(30));
    ASSERT_OK(grove_gs_stop(grove_server_pid(sup), NULL, GROVE_INFINITY,
                            NULL));
}

/* Supervised and linked: results as plain streams give them. */
PROC_TEST(task_stream_supervised_linked)
{
    fill_sleeps();
    grove_pid_t sup;
    ASSERT_OK(grove_task_sup_start(NULL, &sup, NULL));
    grove_task_result_t res[N];
    grove_task_stream_opts_t o = {.max_concurrency = 4};
    ASSERT_OK(grove_task_sup_async_stream(grove_server_pid(sup), tu_sleep,
                                          sleeps, N, &o, res));
    for (int i = 0; i < N; i++)
        ASSERT_EQ(tu_reply_int(res[i].reply), (N - i) * 5);
    ASSERT_EQ(atomic_load(&tu_peak), 4);
    free_all(res, N);
    ASSERT_OK(grove_gs_stop(grove_server_pid(sup), NULL, GROVE_INFINITY,
                            NULL));
}

/* A start refused mid-way (max_children) stops the stream: the running
 * tasks are killed, the error returned and results hold nothing. */
PROC_TEST(task_stream_start_error)
{
    grove_task_sup_opts_t so = {.max_children = 1};
    grove_pid_t sup;
    ASSERT_OK(grove_task_sup_start(&so, &sup, NULL));
    void *args[3] = {NULL, NULL, NULL};
    grove_task_result_t res[3];
    grove_task_stream_opts_t o = {.max_concurrency = 3};
    ASSERT_ERR(grove_task_sup_async_stream(grove_server_pid(sup), tu_block,
                                           args, 3, &o, res),
               GROVE_EMAXCHILDREN);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(res[i].status, 0);
        ASSERT_NULL(res[i].reply);
    }
    ASSERT_TRUE(tu_mailbox_empty(30));
    grove_child_counts_t c;
    WAIT_UNTIL(grove_dynsup_count_children(grove_server_pid(sup), &c) == 0 &&
               c.specs == 0);
    ASSERT_OK(grove_gs_stop(grove_server_pid(sup), NULL, GROVE_INFINITY,
                            NULL));
}

/* Empty input and bad input. */
PROC_TEST(task_stream_bad_input)
{
    ASSERT_OK(grove_task_async_stream(tu_nothing, NULL, 0, NULL, NULL));
    grove_task_result_t res[1];
    void *args[1] = {NULL};
    ASSERT_ERR(grove_task_async_stream(NULL, args, 1, NULL, res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_async_stream(tu_nothing, NULL, 1, NULL, res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_async_stream(tu_nothing, args, 1, NULL, NULL),
               GROVE_EINVAL);
    grove_task_stream_opts_t o = {.timeout = -4};
    ASSERT_ERR(grove_task_async_stream(tu_nothing, args, 1, &o, res),
               GROVE_EINVAL);
    grove_task_stream_opts_t o2 = {.on_timeout = 7};
    ASSERT_ERR(grove_task_async_stream(tu_nothing, args, 1, &o2, res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_stream(grove_server_name("nobody"),
                                           tu_nothing, args, 1, NULL, res),
               GROVE_ENOPROC);
    ASSERT_EQ(atomic_load(&tu_runs), 0);
}

/* Many inputs, few at a time: every one accounted for. */
PROC_TEST(task_stream_many)
{
#ifdef GROVE_TSAN
    enum { MANY = 200 };
#else
    enum { MANY = 2000 };
#endif
    static void *args[MANY];
    static grove_task_result_t res[MANY];
    for (int i = 0; i < MANY; i++)
        args[i] = (void *)(intptr_t)i;
    grove_task_stream_opts_t o = {.max_concurrency = 16};
    ASSERT_OK(grove_task_async_stream(tu_double, args, MANY, &o, res));
    for (int i = 0; i < MANY; i++) {
        ASSERT_EQ(res[i].status, 0);
        ASSERT_EQ(tu_reply_int(res[i].reply), 2 * i);
    }
    free_all(res, MANY);
    ASSERT_LE(atomic_load(&tu_peak), 16);
    ASSERT_TRUE(tu_mailbox_empty(30));
}
