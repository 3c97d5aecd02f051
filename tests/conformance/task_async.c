/* Task (unsupervised): async, await, yield and shutdown, their exits
 * (T-6 and T-7 for plain tasks), and bad input.
 *
 * Where the CALLER must exit, a helper process makes the call and the
 * test watches how it ends. */
#include <stdint.h>
#include <string.h>

#include "task_util.h"

/* async + await: the result's bytes arrive in the reply and the task
 * ends normally. */
PROC_TEST(task_async_await_result)
{
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_double, (void *)(intptr_t)21, &t));
    ASSERT_PID_EQ(t.owner, grove_self());
    ASSERT_NE(t.ref.id, 0);
    grove_msg_t *reply = NULL;
    ASSERT_OK(grove_task_await(&t, GROVE_TASK_DEFAULT_TIMEOUT, &reply));
    ASSERT_EQ(grove_msg_tag(reply), GROVE_TASK_REPLY_TAG);
    ASSERT_EQ(tu_reply_int(reply), 42);
    grove_msg_free(reply);
    ASSERT_EQ(t.ref.id, 0); /* spent */
    WAIT_UNTIL(!grove_is_alive(t.pid));
    ASSERT_TRUE(tu_mailbox_empty(50));
}

/* No result: an empty reply. A NULL reply pointer drops it. */
PROC_TEST(task_async_no_result)
{
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_nothing, NULL, &t));
    grove_msg_t *reply = NULL;
    ASSERT_OK(grove_task_await(&t, 5000, &reply));
    ASSERT_EQ(grove_msg_size(reply), 0);
    grove_msg_free(reply);
    ASSERT_OK(grove_task_async(tu_double, (void *)(intptr_t)1, &t));
    ASSERT_OK(grove_task_await(&t, 5000, NULL));
    ASSERT_TRUE(tu_mailbox_empty(50));
}

/* A large result arrives whole. */
PROC_TEST(task_async_large_result)
{
    size_t n = 1u << 20;
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_big, (void *)(intptr_t)n, &t));
    grove_msg_t *reply;
    ASSERT_OK(grove_task_await(&t, GROVE_INFINITY, &reply));
    ASSERT_EQ(grove_msg_size(reply), n);
    const unsigned char *b = grove_msg_data(reply);
    for (size_t i = 0; i < n; i += 4093)
        ASSERT_EQ(b[i], i % 251);
    grove_msg_free(reply);
}

/* The raw protocol, as in Elixir: the reply carries the task's
 * reference, then DOWN normal arrives on the same reference. */
PROC_TEST(task_async_reply_then_down)
{
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_double, (void *)(intptr_t)4, &t));
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, t.ref, gt_scaled_ms(5000)));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_USER);
    ASSERT_EQ(tu_reply_int(m), 8);
    grove_msg_free(m);
    ASSERT_OK(grove_recv_ref(&m, t.ref, gt_scaled_ms(5000)));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
    ASSERT_PID_EQ(grove_msg_from(m), t.pid);
    ASSERT_REASON_EQ(*grove_msg_reason(m), grove_reason_normal());
    grove_msg_free(m);
}

/* async links the task to its caller: the caller's death takes it down. */
static void linked_owner(void *arg)
{
    grove_pid_t test = {(uint64_t)(uintptr_t)arg};
    grove_task_t t;
    if (grove_task_async(tu_block, NULL, &t) != 0)
        grove_exit_error(1, "async failed");
    tu_send_pid(test, t.pid);
    grove_msg_t *m;
    grove_recv_tag(&m, TU_TAG_FINISH, GROVE_INFINITY);
}

PROC_TEST(task_async_is_linked)
{
    grove_pid_t owner = SPAWN_MON(linked_owner,
                                  (void *)(uintptr_t)grove_self().id, NULL);
    grove_pid_t task = tu_expect_pid();
    grove_process_info_t info;
    /* The monitor is a signal the task takes in when it next runs. */
    WAIT_UNTIL(grove_process_info(task, &info) == 0 &&
               info.monitored_by == 1);
    ASSERT_EQ(info.links, 1);
    WATCH(task);
    grove_reason_t bye = grove_reason_error(5, "owner crash");
    ASSERT_OK(grove_exit_signal(owner, &bye));
    ASSERT_REASON_EQ(AWAIT_EXIT(owner), bye);
    ASSERT_REASON_EQ(AWAIT_EXIT(task), bye);
}

/* T-6: await past its timeout makes the caller exit with timeout, and
 * the linked task goes down with it. */
static void await_too_short(void *arg)
{
    grove_pid_t test = {(uint64_t)(uintptr_t)arg};
    grove_task_t t;
    grove_task_async(tu_block, NULL, &t);
    tu_send_pid(test, t.pid);
    grove_msg_t *m;
    grove_recv_tag(&m, TU_TAG_RELEASE, GROVE_INFINITY);
    grove_msg_free(m);
    grove_task_await(&t, 30, NULL);
    gt_ev("await returned");
}

PROC_TEST(task_T06_await_timeout_exits_caller)
{
    grove_pid_t owner = SPAWN_MON(await_too_short,
                                  (void *)(uintptr_t)grove_self().id, NULL);
    grove_pid_t task = tu_expect_pid();
    WATCH(task);
    grove_send(owner, TU_TAG_RELEASE, NULL, 0);
    grove_reason_t r = AWAIT_EXIT(owner);
    ASSERT_REASON_KIND(r, GROVE_EXIT_TIMEOUT);
    ASSERT_REASON_HAS(r, "await");
    ASSERT_REASON_KIND(AWAIT_EXIT(task), GROVE_EXIT_TIMEOUT);
    ASSERT_EVENTS(NULL);
}

/* T-7: await on a task that failed makes the caller exit with the task's
 * reason; the helper traps exits so the link does not end it first. */
static void await_failing(void *arg)
{
    grove_trap_exit(true);
    grove_task_t t;
    grove_task_async((grove_task_fn)(uintptr_t)arg, (void *)(intptr_t)7, &t);
    grove_task_await(&t, GROVE_INFINITY, NULL);
    gt_ev("await returned");
}

PROC_TEST(task_T07_await_failed_task_exits_with_its_reason)
{
    grove_pid_t owner = SPAWN_MON(await_failing,
                                  (void *)(uintptr_t)tu_fail, NULL);
    grove_reason_t r = AWAIT_EXIT(owner);
    ASSERT_REASON_KIND(r, GROVE_EXIT_ERROR);
    ASSERT_EQ(r.code, 7);
    ASSERT_EVENTS(NULL);
}

PROC_TEST(task_T07_await_faulted_task)
{
    grove_pid_t owner = SPAWN_MON(await_failing,
                                  (void *)(uintptr_t)tu_fault, NULL);
    ASSERT_REASON_KIND(AWAIT_EXIT(owner), GROVE_EXIT_FAULT);
    ASSERT_EVENTS(NULL);
}

/* Without trapping, the link ends the caller with the same reason. */
static void async_failing_no_trap(void *arg)
{
    (void)arg;
    grove_task_t t;
    grove_task_async(tu_fail, (void *)(intptr_t)9, &t);
    grove_task_await(&t, GROVE_INFINITY, NULL);
}

PROC_TEST(task_async_failure_kills_linked_caller)
{
    grove_pid_t owner = SPAWN_MON(async_failing_no_trap, NULL, NULL);
    grove_reason_t r = AWAIT_EXIT(owner);
    ASSERT_REASON_KIND(r, GROVE_EXIT_ERROR);
    ASSERT_EQ(r.code, 9);
}

/* A task that exits by itself with a reason: await exits with it. */
static grove_reason_t custom_reason;

static void await_exiting(void *arg)
{
    (void)arg;
    grove_trap_exit(true);
    grove_task_t t;
    grove_task_async(tu_exit_with, &custom_reason, &t);
    grove_task_await(&t, GROVE_INFINITY, NULL);
}

PROC_TEST(task_T07_await_task_exit_reason)
{
    custom_reason = grove_reason_shutdown("done early");
    grove_pid_t owner = SPAWN_MON(await_exiting, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(owner), custom_reason);
}

/* yield: GROVE_ETIMEDOUT leaves the task running and valid; a later
 * yield gets the result. */
PROC_TEST(task_yield_timeout_keeps_task)
{
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_block, NULL, &t));
    grove_msg_t *reply = NULL;
    ASSERT_ERR(grove_task_yield(&t, 20, &reply, NULL), GROVE_ETIMEDOUT);
    ASSERT_NULL(reply);
    ASSERT_TRUE(grove_is_alive(t.pid));
    ASSERT_NE(t.ref.id, 0);
    ASSERT_ERR(grove_task_yield(&t, 0, &reply, NULL), GROVE_ETIMEDOUT);
    int v = 77;
    ASSERT_OK(grove_send(t.pid, TU_TAG_FINISH, &v, sizeof v));
    ASSERT_OK(grove_task_yield(&t, gt_scaled_ms(5000), &reply, NULL));
    ASSERT_EQ(tu_reply_int(reply), 77);
    grove_msg_free(reply);
    ASSERT_TRUE(tu_mailbox_empty(50));
}

/* yield on a task that failed: GROVE_EEXITED with its reason, and the
 * caller (trapping, as the link would end it) keeps running. */
PROC_TEST(task_yield_exited)
{
    grove_trap_exit(true);
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_fail, (void *)(intptr_t)3, &t));
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_task_yield(&t, gt_scaled_ms(5000), NULL, &why),
               GROVE_EEXITED);
    ASSERT_REASON_KIND(why, GROVE_EXIT_ERROR);
    ASSERT_EQ(why.code, 3);
    ASSERT_EQ(t.ref.id, 0);
    grove_reason_t r = EXPECT_EXIT(t.pid);
    ASSERT_EQ(r.code, 3);
    ASSERT_ERR(grove_task_yield(&t, 0, NULL, NULL), GROVE_EINVAL);
}

/* shutdown of a running task: it is stopped with shutdown, the caller is
 * not taken down with it (unlinked first), and nothing is left. */
PROC_TEST(task_shutdown_running)
{
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_block, NULL, &t));
    grove_pid_t pid = t.pid;
    WATCH(pid);
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_task_shutdown(&t, 0, NULL, &why), GROVE_EEXITED);
    ASSERT_REASON_EQ(why, grove_reason_shutdown(NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_shutdown(NULL));
    ASSERT_EQ(t.ref.id, 0);
    ASSERT_TRUE(tu_mailbox_empty(50));
}

/* shutdown of a task that already completed returns its result. */
PROC_TEST(task_shutdown_completed_returns_result)
{
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_double, (void *)(intptr_t)5, &t));
    WAIT_UNTIL(!grove_is_alive(t.pid));
    grove_msg_t *reply = NULL;
    ASSERT_OK(grove_task_shutdown(&t, 1000, &reply, NULL));
    ASSERT_EQ(tu_reply_int(reply), 10);
    grove_msg_free(reply);
    ASSERT_TRUE(tu_mailbox_empty(50));
}

/* A task that ignores the shutdown signal is killed after the timeout;
 * brutal_kill kills at once. */
PROC_TEST(task_shutdown_kills_stubborn)
{
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_stubborn, NULL, &t));
    WAIT_UNTIL(atomic_load(&tu_runs) >= 1);
    grove_reason_t why;
    int64_t t0 = (int64_t)grove_now_ms();
    ASSERT_ERR(grove_task_shutdown(&t, 50, NULL, &why), GROVE_EEXITED);
    ASSERT_GE((int64_t)grove_now_ms() - t0, 45);
    ASSERT_REASON_KIND(why, GROVE_EXIT_KILLED);

    ASSERT_OK(grove_task_async(tu_stubborn, NULL, &t));
    ASSERT_ERR(grove_task_shutdown(&t, GROVE_SHUTDOWN_BRUTAL_KILL, NULL,
                                   &why),
               GROVE_EEXITED);
    ASSERT_REASON_KIND(why, GROVE_EXIT_KILLED);
    ASSERT_TRUE(tu_mailbox_empty(50));
}

/* Only the owner may await; a spent task cannot be awaited again. */
static void stranger_awaits(void *arg)
{
    grove_pid_t test = {(uint64_t)(uintptr_t)arg};
    grove_task_t t = tu_expect_task();
    int rc = grove_task_await(&t, 100, NULL);
    int rc2 = grove_task_yield(&t, 0, NULL, NULL);
    int rc3 = grove_task_shutdown(&t, 0, NULL, NULL);
    int rcs[3] = {rc, rc2, rc3};
    grove_send(test, TU_TAG_FINISH, rcs, sizeof rcs);
}

PROC_TEST(task_await_only_by_owner)
{
    grove_task_t t;
    ASSERT_OK(grove_task_async(tu_block, NULL, &t));
    grove_pid_t s = SPAWN_MON(stranger_awaits,
                              (void *)(uintptr_t)grove_self().id, NULL);
    tu_send_task(s, &t);
    grove_msg_t *m = EXPECT_TAG(TU_TAG_FINISH);
    const int *rcs = grove_msg_data(m);
    ASSERT_EQ(rcs[0], GROVE_EINVAL);
    ASSERT_EQ(rcs[1], GROVE_EINVAL);
    ASSERT_EQ(rcs[2], GROVE_EINVAL);
    grove_msg_free(m);
    AWAIT_EXIT(s);
    int v = 1;
    grove_send(t.pid, TU_TAG_FINISH, &v, sizeof v);
    ASSERT_OK(grove_task_await(&t, gt_scaled_ms(5000), NULL));
    ASSERT_ERR(grove_task_await(&t, 10, NULL), GROVE_EINVAL);
}

/* Bad input is refused without starting anything. */
PROC_TEST(task_bad_input)
{
    grove_stats_t before = gt_stats();
    grove_task_t t;
    memset(&t, 0, sizeof t);
    ASSERT_ERR(grove_task_async(NULL, NULL, &t), GROVE_EINVAL);
    ASSERT_ERR(grove_task_async(tu_nothing, NULL, NULL), GROVE_EINVAL);
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
    ASSERT_ERR(grove_task_await(NULL, 10, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_task_await(&t, 10, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_task_yield(&t, 10, NULL, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_task_shutdown(&t, 10, NULL, NULL), GROVE_EINVAL);
    ASSERT_OK(grove_task_async(tu_double, (void *)(intptr_t)1, &t));
    ASSERT_ERR(grove_task_await(&t, -5, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_task_yield(&t, -5, NULL, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_task_shutdown(&t, -9, NULL, NULL), GROVE_EINVAL);
    ASSERT_OK(grove_task_await(&t, 5000, NULL));
}

/* Outside a process there is no owner. */
TEST(task_outside_process)
{
    ASSERT_OK(grove_start(NULL));
    grove_task_t t;
    ASSERT_ERR(grove_task_async(tu_nothing, NULL, &t), GROVE_ENOTPROC);
    memset(&t, 0, sizeof t);
    t.ref.id = 1;
    t.pid.id = 1;
    ASSERT_ERR(grove_task_await(&t, 10, NULL), GROVE_ENOTPROC);
    ASSERT_OK(grove_stop());
}
