/* The blocking pool: fn runs on another thread while the caller is
 * parked and its scheduler keeps running others; a caller that dies
 * meanwhile leaves no leak (the owned variant's destructor runs). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "io_util.h"

static atomic_int gate;
static atomic_int dtor_runs;

typedef struct job {
    pthread_t caller_thread;
    pthread_t ran_on;
} job_t;

/* Waits until the gate opens: only another process can open it, so if
 * the caller's scheduler thread were blocked here the test would hang. */
static void wait_gate(void *arg)
{
    job_t *j = arg;
    j->ran_on = pthread_self();
    while (!atomic_load(&gate))
        gt_os_sleep_ms(1);
}

static void opener_proc(void *arg)
{
    (void)arg;
    atomic_store(&gate, 1);
}

PROC_TEST_OPTS(io_blocking_parks_only_the_process, .schedulers = 1)
{
    atomic_store(&gate, 0);
    job_t *j = malloc(sizeof *j);
    j->caller_thread = pthread_self();
    grove_pid_t p = SPAWN_MON(opener_proc, NULL, NULL);
    ASSERT_OK(grove_io_blocking(wait_gate, j));
    ASSERT_FALSE(pthread_equal(j->ran_on, j->caller_thread));
    AWAIT_EXIT(p);
    free(j);
}

typedef struct many_arg {
    grove_pid_t parent;
    int i;
} many_arg_t;

static void square(void *arg)
{
    int *v = arg;
    *v = *v * *v;
}

static void pool_user(void *arg)
{
    many_arg_t *a = arg;
    int *v = malloc(sizeof *v);
    *v = a->i;
    if (grove_io_blocking(square, v) != 0 || *v != a->i * a->i)
        grove_exit_error(1, "wrong result");
    free(v);
}

PROC_TEST(io_blocking_many_callers)
{
    enum { N = 64 };
    static many_arg_t args[N];
    grove_pid_t p[N];
    for (int i = 0; i < N; i++) {
        args[i] = (many_arg_t){grove_self(), i};
        p[i] = SPAWN_MON(pool_user, &args[i], NULL);
    }
    for (int i = 0; i < N; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(p[i]), grove_reason_normal());
    grove_io_stats_t st;
    ASSERT_OK(grove_io_stats(&st));
    ASSERT_GE(st.pool_jobs, N);
    ASSERT_GE(st.pool_threads, 1);
    ASSERT_LE(st.pool_threads, 16);
}

static void count_dtor(void *arg)
{
    free(arg);
    atomic_fetch_add(&dtor_runs, 1);
}

static void gated_caller(void *arg)
{
    (void)arg;
    job_t *j = malloc(sizeof *j);
    grove_io_blocking_owned(wait_gate, j, count_dtor);
    grove_exit_error(1, "should have been killed");
}

PROC_TEST(io_blocking_caller_killed_meanwhile)
{
    atomic_store(&gate, 0);
    atomic_store(&dtor_runs, 0);
    grove_pid_t p = SPAWN_MON(gated_caller, NULL, NULL);
    gt_nap(20);
    grove_reason_t k = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(p, &k));
    ASSERT_REASON_KIND(AWAIT_EXIT(p), GROVE_EXIT_KILLED);
    ASSERT_EQ(atomic_load(&dtor_runs), 0); /* fn still runs */
    atomic_store(&gate, 1);
    WAIT_UNTIL(atomic_load(&dtor_runs) == 1);
}

static void quick(void *arg) { (void)arg; }

static void quick_caller(void *arg)
{
    (void)arg;
    int *v = malloc(sizeof *v);
    if (grove_io_blocking_owned(quick, v, count_dtor) != 0)
        grove_exit_error(1, "blocking failed");
    free(v); /* the caller got the result: it owns the argument */
}

PROC_TEST(io_blocking_owned_result_returns_ownership)
{
    atomic_store(&dtor_runs, 0);
    grove_pid_t p = SPAWN_MON(quick_caller, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    ASSERT_EQ(atomic_load(&dtor_runs), 0);
    ASSERT_ERR(grove_io_blocking(NULL, NULL), GROVE_EINVAL);
}
