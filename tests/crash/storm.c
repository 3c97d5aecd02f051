/* Many crashes of processes that hold resources and per-process memory:
 * every destructor runs exactly once and nothing stays live. Under ASan,
 * LeakSanitizer checks the rest when the test's child exits. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

#if defined(GROVE_TSAN)
enum { CRASHES = 1000 };
#elif defined(GROVE_ASAN)
enum { CRASHES = 2000 };
#else
enum { CRASHES = 10000 };
#endif
enum { BATCH = 200, RES_PER = 2 };

static atomic_uchar *dtor_runs;

static void count_dtor(void *ptr)
{
    atomic_fetch_add(&dtor_runs[(uintptr_t)ptr], 1);
}

static void owned_free(void *ptr) { free(ptr); }

static void quiet_handler(const grove_log_event_t *ev, void *arg)
{
    (void)ev;
    atomic_fetch_add((atomic_long *)arg, 1);
}

static void hold_then_crash(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    for (int k = 0; k < 4; k++) {
        char *p = grove_alloc(256 + (size_t)k * 512);
        if (!p)
            grove_exit_error(1, "grove_alloc failed");
        memset(p, 0x5a, 256);
    }
    if (!grove_calloc(4, 64))
        grove_exit_error(2, "grove_calloc failed");
    for (uintptr_t r = 0; r < RES_PER; r++)
        if (grove_resource_attach(count_dtor, (void *)(i * RES_PER + r),
                                  NULL) != 0)
            grove_exit_error(3, "attach failed");
    /* A malloc'd message left unread in its own mailbox. */
    void *owned = malloc(48);
    grove_send_owned(grove_self(), 1, owned, 48, owned_free);
    switch (i % 5) {
    case 0:
        gt_fault_null_write();
        break;
    case 1: {
        volatile int v = (int)i;
        GROVE_ASSERT(v < 0);
        break;
    }
    case 2:
        gt_fault_illegal();
        break;
    case 3:
        gt_fault_stack_overflow();
        break;
    default:
        if (gt_div_zero_traps())
            gt_fault_div_zero();
        gt_fault_null_write();
        break;
    }
    grove_exit_error(4, "no crash");
}

PROC_TEST_OPTS(crash_storm_releases_everything, .timeout_s = 120)
{
    static atomic_long logged;
    grove_log_clear_handlers();
    ASSERT_OK(grove_log_add_handler(quiet_handler, &logged, GROVE_LOG_DEBUG,
                                    NULL));
    size_t nres = (size_t)CRASHES * RES_PER;
    dtor_runs = calloc(nres, sizeof *dtor_runs);
    ASSERT_NOT_NULL(dtor_runs);
    grove_stats_t before = gt_stats();
    static grove_pid_t pids[BATCH];
    static grove_ref_t refs[BATCH];
    for (int base = 0; base < CRASHES; base += BATCH) {
        int n = CRASHES - base < BATCH ? CRASHES - base : BATCH;
        for (int k = 0; k < n; k++) {
            grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[k]};
            pids[k] = SPAWN(hold_then_crash, (void *)(uintptr_t)(base + k),
                            &o);
        }
        for (int k = 0; k < n; k++) {
            grove_reason_t r = EXPECT_DOWN(refs[k], pids[k]);
            int want = (base + k) % 5 == 1 ? GROVE_EXIT_ASSERT
                                           : GROVE_EXIT_FAULT;
            ASSERT_REASON_KIND(r, want);
        }
    }
    /* Each destructor exactly once: wait for the last ones, then check
     * that none ran twice. */
    for (size_t i = 0; i < nres; i++)
        WAIT_UNTIL(atomic_load(&dtor_runs[i]) >= 1);
    grove_sleep(gt_scaled_ms(20));
    for (size_t i = 0; i < nres; i++)
        if (atomic_load(&dtor_runs[i]) != 1)
            GT_FAIL("destructor %zu ran %d times", i,
                    (int)atomic_load(&dtor_runs[i]));
    WAIT_UNTIL(gt_stats().resources_live == before.resources_live &&
               gt_stats().arena_bytes_live == before.arena_bytes_live &&
               gt_stats().messages_live == before.messages_live);
    grove_stats_t after = gt_stats();
    ASSERT_EQ(after.processes_crashed - before.processes_crashed, CRASHES);
    ASSERT_EQ(after.processes_alive, before.processes_alive);
    free(dtor_runs);
    gt_note("%ld log events during %d crashes", atomic_load(&logged),
            CRASHES);
}
