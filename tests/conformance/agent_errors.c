/* Agent failures: timeouts, functions that crash the agent, dead
 * agents, calling oneself, bad input. The exiting calls are made from
 * helper processes whose end the test watches; the try_ calls return
 * the same cases as codes. */
#include <stdint.h>
#include <string.h>

#include "behaviours.h"

static void *zero_init(void *arg)
{
    (void)arg;
    return NULL;
}

static void *slow_update(void *state, const void *arg)
{
    int ms;
    memcpy(&ms, arg, sizeof ms);
    grove_sleep(ms);
    return state;
}

static size_t nothing(void *state, const void *arg, void *out, size_t cap)
{
    (void)state;
    (void)arg;
    (void)out;
    (void)cap;
    return 0;
}

static void *crash_update(void *state, const void *arg)
{
    (void)state;
    grove_exit_error(*(const int *)arg, "update crashed");
}

static grove_pid_t start_agent(void)
{
    grove_pid_t pid;
    ASSERT_OK(grove_agent_start(zero_init, NULL, NULL, &pid, NULL));
    return pid;
}

/* try_: a slow update times out and leaves the agent running. */
PROC_TEST(agent_try_timeout)
{
    grove_pid_t pid = start_agent();
    grove_server_t a = grove_server_pid(pid);
    int ms = 200;
    ASSERT_ERR(grove_agent_try_update(a, slow_update, &ms, sizeof ms, 20,
                                      NULL),
               GROVE_ETIMEDOUT);
    size_t len = 1;
    ASSERT_OK(grove_agent_try_get(a, nothing, NULL, 0, NULL, 0, &len,
                                  GROVE_INFINITY, NULL));
    ASSERT_EQ(len, 0);
    /* The late reply never shows up. */
    grove_msg_t *m;
    ASSERT_ERR(grove_recv(&m, 50), GROVE_ETIMEDOUT);
    ASSERT_OK(grove_agent_stop(a, NULL, GROVE_INFINITY, NULL));
}

/* The exiting form: the caller exits with timeout. */
static void update_too_slow(void *arg)
{
    grove_pid_t agent = {(uint64_t)(uintptr_t)arg};
    int ms = 300;
    grove_agent_update(grove_server_pid(agent), slow_update, &ms, sizeof ms,
                       20);
    gt_ev("update returned");
}

PROC_TEST(agent_timeout_exits_caller)
{
    grove_pid_t pid = start_agent();
    grove_pid_t c = SPAWN_MON(update_too_slow, (void *)(uintptr_t)pid.id,
                              NULL);
    ASSERT_REASON_KIND(AWAIT_EXIT(c), GROVE_EXIT_TIMEOUT);
    ASSERT_EVENTS(NULL);
    ASSERT_TRUE(grove_is_alive(pid));
    ASSERT_OK(grove_agent_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                               NULL));
}

/* A function that makes the agent exit: the caller gets its reason. */
PROC_TEST(agent_function_crash)
{
    grove_pid_t pid = start_agent();
    WATCH(pid);
    int code = 12;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_agent_try_update(grove_server_pid(pid), crash_update,
                                      &code, sizeof code, 5000, &why),
               GROVE_EEXITED);
    ASSERT_REASON_KIND(why, GROVE_EXIT_ERROR);
    ASSERT_EQ(why.code, 12);
    ASSERT_EQ(AWAIT_EXIT(pid).code, 12);
}

static void get_from_dead(void *arg)
{
    grove_pid_t agent = {(uint64_t)(uintptr_t)arg};
    grove_agent_get(grove_server_pid(agent), nothing, NULL, 0, NULL, 0, NULL,
                    1000);
    gt_ev("get returned");
}

/* A dead agent: try_ calls say GROVE_ENOPROC, the exiting ones exit
 * noproc, a cast is silently dropped, stop says GROVE_ENOPROC. */
PROC_TEST(agent_dead)
{
    grove_pid_t pid = start_agent();
    WATCH(pid);
    ASSERT_OK(grove_agent_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                               NULL));
    AWAIT_EXIT(pid);
    grove_server_t a = grove_server_pid(pid);
    ASSERT_ERR(grove_agent_try_get(a, nothing, NULL, 0, NULL, 0, NULL, 100,
                                   NULL),
               GROVE_ENOPROC);
    int ms = 1;
    ASSERT_ERR(grove_agent_try_update(a, slow_update, &ms, sizeof ms, 100,
                                      NULL),
               GROVE_ENOPROC);
    ASSERT_OK(grove_agent_cast(a, slow_update, &ms, sizeof ms));
    ASSERT_ERR(grove_agent_stop(a, NULL, 100, NULL), GROVE_ENOPROC);
    ASSERT_ERR(grove_agent_try_get(grove_server_name("no_agent"), nothing,
                                   NULL, 0, NULL, 0, NULL, 100, NULL),
               GROVE_ENOPROC);
    grove_pid_t c = SPAWN_MON(get_from_dead, (void *)(uintptr_t)pid.id,
                              NULL);
    ASSERT_REASON_KIND(AWAIT_EXIT(c), GROVE_EXIT_NOPROC);
    ASSERT_EVENTS(NULL);
}

/* A function that calls its own agent. */
static int self_rc = 1;

static void *call_self(void *state, const void *arg)
{
    (void)arg;
    self_rc = grove_agent_try_get(grove_server_pid(grove_self()), nothing,
                                  NULL, 0, NULL, 0, NULL, 100, NULL);
    return state;
}

PROC_TEST(agent_calling_self)
{
    grove_pid_t pid = start_agent();
    ASSERT_OK(grove_agent_update(grove_server_pid(pid), call_self, NULL, 0,
                                 5000));
    ASSERT_EQ(self_rc, GROVE_ECALLINGSELF);
    ASSERT_OK(grove_agent_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                               NULL));
}

/* An init that exits fails the start with its reason. */
static void *bad_init(void *arg)
{
    (void)arg;
    grove_exit_error(3, "no state today");
}

PROC_TEST(agent_bad_input)
{
    grove_stats_t before = gt_stats();
    grove_pid_t pid;
    ASSERT_ERR(grove_agent_start(NULL, NULL, NULL, &pid, NULL),
               GROVE_EINVAL);
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_agent_start(bad_init, NULL, NULL, &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_EQ(why.code, 3);
    ASSERT_ERR(grove_agent_child_start(NULL, &pid, NULL), GROVE_EINVAL);

    pid = start_agent();
    grove_server_t a = grove_server_pid(pid);
    char buf[4];
    ASSERT_ERR(grove_agent_get(a, NULL, NULL, 0, buf, 4, NULL, 100),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_update(a, NULL, NULL, 0, 100), GROVE_EINVAL);
    ASSERT_ERR(grove_agent_get_and_update(a, NULL, NULL, 0, buf, 4, NULL,
                                          100),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_cast(a, NULL, NULL, 0), GROVE_EINVAL);
    /* A size without bytes, a capacity without a buffer. */
    ASSERT_ERR(grove_agent_get(a, nothing, NULL, 8, buf, 4, NULL, 100),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_get(a, nothing, NULL, 0, NULL, 4, NULL, 100),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_cast(a, slow_update, NULL, 4), GROVE_EINVAL);
    ASSERT_ERR(grove_agent_get(a, nothing, NULL, 0, buf, 4, NULL, -3),
               GROVE_EINVAL);
    ASSERT_OK(grove_agent_try_get(a, nothing, NULL, 0, buf, 4, NULL, 100,
                                  NULL));
    ASSERT_TRUE(grove_is_alive(pid));
    ASSERT_OK(grove_agent_stop(a, NULL, GROVE_INFINITY, NULL));
}

/* Not an agent: a gen_server without handle_call ends with badarg on an
 * agent request, as on any unexpected call. */
static const grove_gs_callbacks_t plain_cb = {.name = "plain"};

PROC_TEST(agent_request_to_other_server)
{
    grove_pid_t gs;
    ASSERT_OK(grove_gs_start(&plain_cb, NULL, NULL, &gs, NULL));
    WATCH(gs);
    grove_reason_t why;
    ASSERT_ERR(grove_agent_try_get(grove_server_pid(gs), nothing, NULL, 0,
                                   NULL, 0, NULL, 1000, &why),
               GROVE_EEXITED);
    ASSERT_REASON_KIND(why, GROVE_EXIT_BADARG);
    ASSERT_REASON_KIND(AWAIT_EXIT(gs), GROVE_EXIT_BADARG);
}

TEST(agent_outside_process)
{
    ASSERT_OK(grove_start(NULL));
    grove_pid_t pid;
    ASSERT_ERR(grove_agent_start(zero_init, NULL, NULL, &pid, NULL),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_agent_try_get(grove_server_name("x"), nothing, NULL, 0,
                                   NULL, 0, NULL, 10, NULL),
               GROVE_ENOTPROC);
    ASSERT_OK(grove_stop());
}
