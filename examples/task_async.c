/* task_async.c: Task and Task.Supervisor.
 *
 * Shows: Task.async/await to run work concurrently and collect results;
 * Task.yield, which leaves a slow task running; await past its timeout,
 * which ends the caller (here a helper process) as in Elixir; a
 * Task.Supervisor running async_nolink tasks, where a crash arrives as a
 * DOWN message instead of taking the caller down; and async_stream over
 * an array with a concurrency limit, results in input order.
 *
 *     tasks = Enum.map(ranges, &Task.async(fn -> count_primes(&1) end))
 *     Enum.map(tasks, &Task.await/1)
 *
 *     Task.Supervisor.async_stream_nolink(MyApp.TaskSupervisor, urls,
 *                                         &fetch/1, max_concurrency: 2)
 *
 * Run:  build/release/examples/task_async
 * Exits 0 when every result and every failure arrived as described.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grove.h>

static int failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("  FAILED: " __VA_ARGS__);                               \
            printf("\n");                                                   \
            failures++;                                                     \
        }                                                                   \
    } while (0)

/* ---- the work ----------------------------------------------------------- */

typedef struct range {
    long from, to;
} range_t;

static bool is_prime(long n)
{
    if (n < 2)
        return false;
    for (long d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return true;
}

/* A task function: the result is a malloc'd long, handed to the awaiting
 * process inside the reply. */
static int count_primes(void *arg, void **result, size_t *size)
{
    const range_t *r = arg;
    long *n = malloc(sizeof *n);
    if (!n)
        return 1;
    *n = 0;
    for (long i = r->from; i < r->to; i++)
        *n += is_prime(i);
    *result = n;
    *size = sizeof *n;
    return 0;
}

static long reply_long(const grove_msg_t *m)
{
    long v = -1;
    if (grove_msg_size(m) == sizeof v)
        memcpy(&v, grove_msg_data(m), sizeof v);
    return v;
}

/* Sleeps arg ms, then answers with it; a negative arg is a failure. */
static int fetch(void *arg, void **result, size_t *size)
{
    long ms = (long)(intptr_t)arg;
    if (ms < 0)
        return (int)-ms; /* a non-zero return: the task fails */
    grove_sleep(ms);
    long *v = malloc(sizeof *v);
    if (!v)
        return 1;
    *v = ms;
    *result = v;
    *size = sizeof *v;
    return 0;
}

/* ---- Task.async / await ------------------------------------------------- */

static void async_await(void)
{
    static const range_t ranges[4] = {
        {0, 25000}, {25000, 50000}, {50000, 75000}, {75000, 100000}};
    grove_task_t tasks[4];
    for (int i = 0; i < 4; i++)
        CHECK(grove_task_async(count_primes, (void *)&ranges[i],
                               &tasks[i]) == 0,
              "Task.async");
    long total = 0;
    for (int i = 0; i < 4; i++) {
        grove_msg_t *reply;
        grove_task_await(&tasks[i], GROVE_TASK_DEFAULT_TIMEOUT, &reply);
        long n = reply_long(reply);
        printf("  primes in [%ld, %ld): %ld\n", ranges[i].from, ranges[i].to,
               n);
        total += n;
        grove_msg_free(reply);
    }
    printf("  Task.await on 4 tasks -> %ld primes below 100000\n", total);
    CHECK(total == 9592, "there are 9592 primes below 100000");
}

/* ---- yield and await's timeout ------------------------------------------ */

static void await_too_long(void *arg)
{
    (void)arg;
    grove_task_t t;
    grove_task_async(fetch, (void *)(intptr_t)1000, &t);
    grove_task_await(&t, 20, NULL); /* exits: timeout */
}

static void yield_and_timeout(void)
{
    grove_task_t t;
    grove_task_async(fetch, (void *)(intptr_t)100, &t);
    int rc = grove_task_yield(&t, 10, NULL, NULL);
    printf("  Task.yield(task, 10) -> %s (still running)\n",
           rc == GROVE_ETIMEDOUT ? "nil" : grove_errname(rc));
    CHECK(rc == GROVE_ETIMEDOUT, "the slow task is still running");
    grove_msg_t *reply;
    rc = grove_task_yield(&t, 5000, &reply, NULL);
    CHECK(rc == 0 && reply_long(reply) == 100, "a later yield gets it");
    if (rc == 0)
        grove_msg_free(reply);

    grove_ref_t mref;
    grove_pid_t helper;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &mref};
    grove_spawn(await_too_long, NULL, &o, &helper);
    grove_msg_t *down;
    char why[128] = "";
    if (grove_recv_ref(&down, mref, 5000) == 0) {
        grove_reason_format(grove_msg_reason(down), why, sizeof why);
        CHECK(grove_msg_reason(down)->kind == GROVE_EXIT_TIMEOUT,
              "await past its timeout ends the caller with timeout");
        grove_msg_free(down);
    }
    printf("  Task.await(task, 20) on a 1 s task -> the caller exits %s\n",
           why);
}

/* ---- Task.Supervisor ---------------------------------------------------- */

/* async_nolink: a failure is a DOWN, the caller lives on. */
static void nolink_failure(grove_server_t s)
{
    grove_task_t t;
    grove_task_sup_async_nolink(s, fetch, (void *)(intptr_t)-42, NULL, &t);
    grove_msg_t *down;
    if (grove_recv_ref(&down, t.ref, 5000) == 0) {
        char why[128];
        grove_reason_format(grove_msg_reason(down), why, sizeof why);
        printf("  async_nolink of a failing task -> DOWN %s\n", why);
        CHECK(grove_msg_kind(down) == GROVE_MSG_DOWN &&
                  grove_msg_reason(down)->code == 42,
              "the failure arrives as a DOWN with the task's code");
        grove_msg_free(down);
    }
}

/* async_stream_nolink: at most 2 at once, results in input order. */
static void stream(grove_server_t s)
{
    void *inputs[5] = {(void *)(intptr_t)50, (void *)(intptr_t)10,
                       (void *)(intptr_t)-7, (void *)(intptr_t)30,
                       (void *)(intptr_t)1};
    grove_task_result_t res[5];
    grove_task_stream_opts_t o = {.max_concurrency = 2, .nolink = true};
    int rc = grove_task_sup_async_stream(s, fetch, inputs, 5, &o, res);
    CHECK(rc == 0, "async_stream: %s", grove_errname(rc));
    printf("  async_stream_nolink(max_concurrency: 2) ->");
    for (int i = 0; rc == 0 && i < 5; i++) {
        if (res[i].status == 0)
            printf(" {:ok, %ld}", reply_long(res[i].reply));
        else
            printf(" {:exit, %d}", res[i].reason.code);
        long want = (long)(intptr_t)inputs[i];
        CHECK(want < 0 ? res[i].status == GROVE_EEXITED
                       : reply_long(res[i].reply) == want,
              "entry %d in input order", i);
        grove_msg_free(res[i].reply);
    }
    printf("\n");
}

static void supervised(void)
{
    grove_task_sup_opts_t so = {.name = "MyApp.TaskSupervisor"};
    grove_pid_t sup;
    if (grove_task_sup_start(&so, &sup, NULL) != 0) {
        CHECK(0, "Task.Supervisor.start_link");
        return;
    }
    grove_server_t s = grove_server_name("MyApp.TaskSupervisor");
    nolink_failure(s);
    stream(s);
    grove_gs_stop(grove_server_pid(sup), NULL, 5000, NULL);
}

static void main_process(void *arg)
{
    (void)arg;
    printf("Task.async / Task.await\n");
    async_await();
    printf("Task.yield and await's timeout\n");
    yield_and_timeout();
    printf("Task.Supervisor\n");
    supervised();
}

int main(void)
{
    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
