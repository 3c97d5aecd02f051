/* Hardware faults and failed assertions inside a process: the process
 * dies alone with reason fault (code = the signal number) or assert, its
 * links and monitors see exactly that reason, other processes keep
 * running, and the runtime keeps working afterwards. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "grove_test.h"

/* A process that keeps counting, to show that others run on. */
static atomic_long counter;
static atomic_bool counter_stop;

static void count_forever(void *arg)
{
    (void)arg;
    while (!atomic_load(&counter_stop)) {
        atomic_fetch_add(&counter, 1);
        grove_sleep(1);
    }
}

typedef void (*fault_fn)(void);

static void wait_go_then_fault(void *arg)
{
    fault_fn fault = (fault_fn)arg;
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    fault();
    grove_exit_error(1, "the fault did not happen");
}

/* Atomic: many crashing processes store it at once. */
static atomic_int assert_line;

static void failing_assert(void)
{
    volatile int one = 1;
    atomic_store(&assert_line, __LINE__ + 1);
    GROVE_ASSERT(one == 2);
}

/* The runtime still spawns, sends and receives. */
static void runtime_still_works(void)
{
    for (int i = 0; i < 10; i++) {
        grove_pid_t e = SPAWN_ECHO(GROVE_PID_NONE, NULL);
        ASSERT_TRUE(gt_ping(e));
        STOP_ECHO(e);
    }
}

static void crash_scenario(fault_fn fault, grove_reason_t *out)
{
    grove_pid_t self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);
    atomic_store(&counter, 0);
    atomic_store(&counter_stop, false);
    grove_pid_t busy = SPAWN_MON(count_forever, NULL, NULL);
    grove_pid_t bystander = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    grove_stats_t before = gt_stats();

    grove_ref_t xref;
    grove_spawn_opts_t xo = {.link = true, .monitor = true,
                             .monitor_ref = &xref, .name = "crash_victim"};
    grove_pid_t x = SPAWN(wait_go_then_fault, (void *)fault, &xo);
    /* A second watcher by monitor and a non-trapping linked process. */
    grove_ref_t wref;
    grove_spawn_opts_t wo = {.trap_exit = true};
    grove_pid_t watcher = SPAWN_ECHO(self, &wo);
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(watcher, GT_TAG_MONITOR, &x, sizeof x, &ack));
    ASSERT_OK(ack.rc);
    wref = ack.ref;
    grove_pid_t linked = SPAWN_MON(gt_echo_main, NULL, NULL);
    ASSERT_TRUE(gt_echo_call(linked, GT_TAG_LINK, &x, sizeof x, &ack));
    ASSERT_OK(ack.rc);

    ASSERT_OK(grove_send(x, 1, NULL, 0));
    grove_reason_t down = EXPECT_DOWN(xref, x);
    grove_reason_t exitr = EXPECT_EXIT(x);
    ASSERT_REASON_EQ(exitr, down);
    gt_fwd_t f = EXPECT_FWD(watcher);
    ASSERT_EQ(f.kind, GROVE_MSG_DOWN);
    ASSERT_REF_EQ(f.ref, wref);
    ASSERT_PID_EQ(f.from, x);
    ASSERT_REASON_EQ(f.reason, down);
    ASSERT_REASON_EQ(AWAIT_EXIT(linked), down);
    ASSERT_FALSE(grove_is_alive(x));
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("crash_victim", &found), GROVE_ENOTFOUND);

    /* Everyone else is fine. */
    long c0 = atomic_load(&counter);
    ASSERT_TRUE(gt_ping(bystander));
    ASSERT_TRUE(gt_ping(watcher));
    WAIT_UNTIL(atomic_load(&counter) > c0 + 5);
    grove_stats_t after = gt_stats();
    ASSERT_GE(after.processes_crashed, before.processes_crashed + 1);
    runtime_still_works();

    atomic_store(&counter_stop, true);
    ASSERT_REASON_EQ(AWAIT_EXIT(busy), grove_reason_normal());
    STOP_ECHO(bystander);
    STOP_ECHO(watcher);
    *out = down;
}

PROC_TEST(crash_null_dereference)
{
    grove_reason_t r;
    crash_scenario(gt_fault_null_write, &r);
    ASSERT_REASON_KIND(r, GROVE_EXIT_FAULT);
    ASSERT_EQ(r.code, SIGSEGV);
    ASSERT_EQ(r.addr, 0);
}

PROC_TEST(crash_divide_by_zero)
{
    if (!gt_div_zero_traps())
        SKIP_TEST("integer division by zero does not trap on this CPU");
    grove_reason_t r;
    crash_scenario(gt_fault_div_zero, &r);
    ASSERT_REASON_KIND(r, GROVE_EXIT_FAULT);
    ASSERT_EQ(r.code, SIGFPE);
}

PROC_TEST(crash_stack_overflow)
{
    grove_reason_t r;
    crash_scenario(gt_fault_stack_overflow, &r);
    ASSERT_REASON_KIND(r, GROVE_EXIT_FAULT);
    ASSERT_EQ(r.code, SIGSEGV);
}

PROC_TEST(crash_illegal_instruction)
{
    grove_reason_t r;
    crash_scenario(gt_fault_illegal, &r);
    ASSERT_REASON_KIND(r, GROVE_EXIT_FAULT);
    ASSERT_EQ(r.code, gt_trap_signal());
}

PROC_TEST(crash_bus_error)
{
    grove_reason_t r;
    crash_scenario(gt_fault_bus, &r);
    ASSERT_REASON_KIND(r, GROVE_EXIT_FAULT);
    ASSERT_EQ(r.code, SIGBUS);
}

PROC_TEST(crash_assert)
{
    grove_reason_t r;
    crash_scenario(failing_assert, &r);
    ASSERT_REASON_KIND(r, GROVE_EXIT_ASSERT);
    char want[512];
    snprintf(want, sizeof want, "%s:%d: one == 2", __FILE__,
             atomic_load(&assert_line));
    if (strlen(want) < GROVE_REASON_TEXT_MAX) {
        ASSERT_STREQ(r.text, want);
    } else {
        want[GROVE_REASON_TEXT_MAX - 1] = '\0';
        ASSERT_EQ(strncmp(r.text, want, 60), 0);
    }
}

/* A stack overflow in a process with the smallest stack, and in one with
 * a large stack, is caught the same way. */
PROC_TEST(crash_stack_overflow_stack_sizes)
{
    size_t sizes[2] = {16 * 1024, 1024 * 1024};
    for (int i = 0; i < 2; i++) {
        grove_spawn_opts_t o = {.stack_size = sizes[i]};
        grove_pid_t p = SPAWN_MON(wait_go_then_fault,
                                  (void *)gt_fault_stack_overflow, &o);
        ASSERT_OK(grove_send(p, 1, NULL, 0));
        grove_reason_t r = AWAIT_EXIT(p);
        ASSERT_REASON_KIND(r, GROVE_EXIT_FAULT);
        ASSERT_EQ(r.code, SIGSEGV);
    }
    runtime_still_works();
}

/* Crashes on every scheduler at the same time do not disturb each other
 * or the runtime. */
PROC_TEST_OPTS(crash_concurrent_on_all_schedulers, .schedulers = 4)
{
    enum { N = 64 };
    static fault_fn faults[4] = {gt_fault_null_write, gt_fault_illegal,
                                 gt_fault_stack_overflow, failing_assert};
    grove_pid_t pids[N];
    for (int i = 0; i < N; i++)
        pids[i] = SPAWN_MON(wait_go_then_fault, (void *)faults[i % 4], NULL);
    for (int i = 0; i < N; i++)
        ASSERT_OK(grove_send(pids[i], 1, NULL, 0));
    for (int i = 0; i < N; i++) {
        grove_reason_t r = AWAIT_EXIT(pids[i]);
        if (i % 4 == 3)
            ASSERT_REASON_KIND(r, GROVE_EXIT_ASSERT);
        else
            ASSERT_REASON_KIND(r, GROVE_EXIT_FAULT);
    }
    runtime_still_works();
}

/* Faults that are programming errors outside any process abort the
 * whole OS process. */
TEST_OPTS(exit_outside_process_aborts, .death_signal = SIGABRT)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 1}));
    grove_exit(NULL);
}

static void *volatile foreign_block;

static void alloc_and_wait(void *arg)
{
    grove_pid_t *parent = arg;
    foreign_block = grove_alloc(64);
    grove_send(*parent, 1, NULL, 0);
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

static void free_foreign(void *arg)
{
    (void)arg;
    static grove_pid_t self;
    self = grove_self();
    SPAWN(alloc_and_wait, &self, NULL);
    grove_msg_free(EXPECT_TAG(1));
    ASSERT_NOT_NULL(foreign_block);
    grove_free(foreign_block);
    GT_FAIL("grove_free of another process's block returned");
}

TEST_OPTS(free_of_foreign_block_aborts, .death_signal = SIGABRT)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    grove_reason_t r;
    grove_run(free_foreign, NULL, &r);
    GT_FAIL("grove_run returned with %s", gt_reason_str(r));
}
