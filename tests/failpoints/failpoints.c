/* Failure injection: every public call runs with each of its internal
 * failure points failing once (an allocation, mmap, mprotect, madvise or
 * thread creation). The call must return a documented error, or the
 * process must end with a documented reason; nothing may crash, hang or
 * leak. Needs a -DGROVE_FAILPOINTS=ON build; skipped elsewhere.
 *
 * Each scenario runs in a scope process that reports its result as its
 * exit reason (error code = the call's return value) and takes everything
 * it started down with it through links, as an OTP tree would. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

typedef int (*scenario_fn)(void);

static char current[96]; /* what is running, for failure reports */

#define MAX_N 48 /* failures tried per point and scenario */

static void quiet(void *a) { (void)a; }

static void waiter(void *a)
{
    (void)a;
    grove_msg_t *m = NULL;
    if (grove_recv(&m, 300) == 0) {
        grove_send(grove_msg_from(m), 2, grove_msg_data(m),
                   grove_msg_size(m));
        grove_msg_free(m);
    }
}

static int sc_spawn(void)
{
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    int rc = grove_spawn(quiet, NULL, &o, NULL);
    if (rc)
        return rc;
    grove_msg_t *m = NULL;
    rc = grove_recv_ref(&m, ref, 300);
    grove_msg_free(m);
    return rc;
}

static int sc_send(void)
{
    grove_pid_t p;
    grove_spawn_opts_t o = {.link = true};
    int rc = grove_spawn(waiter, NULL, &o, &p);
    if (rc)
        return rc;
    if ((rc = grove_send(p, 1, "ping", 5)))
        return rc;
    grove_msg_t *m = NULL;
    rc = grove_recv_tag(&m, 2, 300);
    grove_msg_free(m);
    return rc;
}

static int sc_timers(void)
{
    grove_timer_t t;
    int rc = grove_send_after(grove_self(), 1, 7, "x", 1, NULL);
    if (rc == 0)
        rc = grove_send_after(grove_self(), 60000, 8, "y", 1, &t);
    if (rc)
        return rc;
    grove_cancel_timer(t);
    grove_msg_t *m = NULL;
    rc = grove_recv_tag(&m, 7, 300);
    grove_msg_free(m);
    return rc ? rc : grove_sleep(1);
}

static int sc_links(void)
{
    grove_pid_t p;
    grove_spawn_opts_t o = {.link = true};
    int rc = grove_spawn(waiter, NULL, &o, &p);
    grove_ref_t r;
    if (rc || (rc = grove_monitor(p, &r)) || (rc = grove_unlink(p)) ||
        (rc = grove_link(p)))
        return rc;
    return grove_demonitor(r, GROVE_DEMONITOR_FLUSH);
}

static int sc_names(void)
{
    grove_pid_t p;
    int rc = grove_register("fp.name", grove_self());
    if (rc == 0)
        rc = grove_whereis("fp.name", &p);
    grove_unregister("fp.name");
    return rc;
}

static grove_gs_ret_t echo_call(grove_gs_t *gs, const grove_msg_t *m,
                                grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    return GROVE_GS_REPLY(1, grove_msg_data(m), grove_msg_size(m));
}

static const grove_gs_callbacks_t echo = {.name = "echo",
                                          .handle_call = echo_call};

static int sc_gen_server(void)
{
    grove_pid_t p;
    grove_gs_opts_t o = {.link = true, .name = "fp.echo"};
    int rc = grove_gs_start(&echo, NULL, &o, &p, NULL);
    if (rc)
        return rc;
    grove_msg_t *m = NULL;
    rc = grove_gs_try_call(grove_server_name("fp.echo"), 1, "hi", 3, &m,
                           300, NULL);
    grove_msg_free(m);
    if (rc)
        return rc;
    return grove_gs_stop(grove_server_pid(p), NULL, 300, NULL);
}

static grove_child_spec_t kids[] = {
    {.id = "a", .entry = waiter},
    {.id = "b", .gen_server = &echo},
};

static int sc_supervisor(void)
{
    grove_sup_spec_t spec = {.flags = {.strategy = GROVE_ONE_FOR_ALL},
                             .children = kids,
                             .nchildren = 2};
    grove_pid_t sup, c;
    grove_sup_opts_t o = {.link = true};
    int rc = grove_sup_start(&spec, &o, &sup, NULL);
    if (rc)
        return rc;
    grove_child_spec_t more = {.id = "c", .entry = waiter};
    rc = grove_sup_start_child(grove_server_pid(sup), &more, &c, NULL);
    if (rc == 0)
        rc = grove_sup_terminate_child(grove_server_pid(sup), "c");
    return rc;
}

static int sc_dynsup(void)
{
    grove_pid_t sup, c;
    grove_dynsup_opts_t o = {.link = true};
    int rc = grove_dynsup_start(&o, &sup, NULL);
    grove_child_spec_t spec = {.entry = waiter};
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = grove_dynsup_start_child(grove_server_pid(sup), &spec, &c, NULL);
    return rc;
}

static int sc_registry(void)
{
    grove_registry_t *r;
    int rc = grove_registry_new(NULL, &r);
    if (rc)
        return rc;
    grove_pid_t h;
    size_t n;
    rc = grove_registry_register(r, "k", 1, 5, &h);
    if (rc == 0)
        rc = grove_registry_lookup(r, "k", 1, NULL, 0, &n);
    if (rc == 0)
        rc = grove_registry_unregister(r, "k", 1);
    grove_registry_free(r);
    return rc;
}

static void drop(void *p) { (void)p; }

static int sc_memory(void)
{
    void *b = grove_alloc(100);
    grove_resource_t *res;
    int rc = grove_resource_attach(drop, NULL, &res);
    if (rc == 0)
        rc = grove_resource_release(res);
    grove_free(b);
    return b ? rc : GROVE_ENOMEM;
}

static const struct {
    const char *name;
    scenario_fn fn;
} scenarios[] = {
    {"spawn", sc_spawn},       {"send", sc_send},
    {"timers", sc_timers},     {"links", sc_links},
    {"names", sc_names},       {"gen_server", sc_gen_server},
    {"supervisor", sc_supervisor}, {"dynsup", sc_dynsup},
    {"registry", sc_registry}, {"memory", sc_memory},
};

static void scope(void *arg)
{
    scenario_fn fn = (scenario_fn)arg;
    int rc = fn();
    grove_exit_error(rc, "scenario result");
}

static void dump(grove_pid_t pid, void *arg)
{
    (void)arg;
    grove_process_info_t i;
    if (grove_process_info(pid, &i) == 0)
        fprintf(stderr, "# live %s status %d mailbox %zu links %zu mon %zu "
                "by %zu trap %d name '%s'\n",
                gt_pid_str(pid), i.status, i.mailbox_len, i.links,
                i.monitors, i.monitored_by, i.trap_exit, i.name);
}

/* Runs a scenario in a scope; returns its reason. */
static grove_reason_t run_scope(scenario_fn fn)
{
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    while (grove_spawn(scope, (void *)fn, &o, NULL) != 0)
        grove_sleep(1); /* the spawn itself met the injected failure */
    grove_msg_t *m = NULL;
    if (grove_recv_ref(&m, ref, gt_scaled_ms(20000)) != 0) {
        grove_processes(dump, NULL);
        gt_fail(__FILE__, __LINE__, "scenario hung: %s", current);
    }
    grove_reason_t r = *grove_msg_reason(m);
    grove_msg_free(m);
    return r;
}

static bool documented(const grove_reason_t *r)
{
    if (r->kind == GROVE_EXIT_FAULT || r->kind == GROVE_EXIT_ASSERT)
        return false; /* a crash is never a documented outcome */
    if (r->kind != GROVE_EXIT_ERROR)
        return true; /* e.g. a linked start that failed took it down */
    switch (r->code) {
    case 0:
    case GROVE_ENOMEM:
    case GROVE_ESTARTFAIL:
    case GROVE_ESYSCALL:
    case GROVE_ELIMIT:
    case GROVE_EEXITED:
    case GROVE_ENOPROC:
    case GROVE_ETIMEDOUT: /* a message that could not be sent never came */
        return true;
    default:
        return false;
    }
}

static bool settled(const grove_stats_t *b)
{
    grove_stats_t s = gt_stats();
    return s.processes_alive == b->processes_alive &&
           s.messages_live == b->messages_live &&
           s.timers_live == b->timers_live &&
           s.resources_live == b->resources_live &&
           s.arena_bytes_live == b->arena_bytes_live;
}

/* Waits for everything a scenario made to be gone; names what is not. */
static void await_settled(const grove_stats_t *b)
{
    int64_t dl = gt_now_ms() + gt_scaled_ms(5000);
    while (!settled(b)) {
        if (gt_now_ms() > dl) {
            grove_stats_t s = gt_stats();
            gt_fail(__FILE__, __LINE__,
                    "%s left: processes %llu/%llu messages %llu/%llu "
                    "timers %llu/%llu resources %llu/%llu arena %llu/%llu",
                    current, (unsigned long long)s.processes_alive,
                    (unsigned long long)b->processes_alive,
                    (unsigned long long)s.messages_live,
                    (unsigned long long)b->messages_live,
                    (unsigned long long)s.timers_live,
                    (unsigned long long)b->timers_live,
                    (unsigned long long)s.resources_live,
                    (unsigned long long)b->resources_live,
                    (unsigned long long)s.arena_bytes_live,
                    (unsigned long long)b->arena_bytes_live);
        }
        grove_sleep(1);
    }
}

static void sweep(const char *name, scenario_fn fn, int point)
{
    grove_stats_t base = gt_stats();
    uint64_t c0 = grove_test_fail_calls(point);
    grove_reason_t r = run_scope(fn);
    if (r.kind != GROVE_EXIT_ERROR || r.code != 0)
        gt_fail(__FILE__, __LINE__, "%s: fails without injection: %s", name,
                gt_reason_str(r));
    uint64_t k = grove_test_fail_calls(point) - c0;
    await_settled(&base);
    for (uint64_t n = 1; n <= k && n <= MAX_N; n++) {
        snprintf(current, sizeof current, "%s, point %d, call %llu", name,
                 point, (unsigned long long)n);
        ASSERT_OK(grove_test_fail_nth(point, n));
        r = run_scope(fn);
        ASSERT_OK(grove_test_fail_nth(point, 0));
        if (!documented(&r))
            gt_fail(__FILE__, __LINE__, "%s, point %d, call %llu: %s", name,
                    point, (unsigned long long)n, gt_reason_str(r));
        await_settled(&base);
    }
}

PROC_TEST_OPTS(failpoints_every_call_fails_cleanly, .schedulers = 1,
               .timeout_s = 600)
{
    if (!grove_test_failpoints())
        SKIP_TEST("needs a GROVE_FAILPOINTS build");
    grove_trap_exit(true);
    uint64_t before = grove_test_fail_injected(GROVE_FP_ANY);
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        for (int point = GROVE_FP_ALLOC; point <= GROVE_FP_THREAD; point++)
            sweep(scenarios[i].name, scenarios[i].fn, point);
    /* The sweep really ran: failures were injected. How many depends on
     * the build (a release build's warm pools allocate less often than a
     * Debug build's: 68 against over a hundred), so no figure is asked. */
    ASSERT_GT(grove_test_fail_injected(GROVE_FP_ANY) - before, 0);
    grove_flush(NULL, NULL);
}

PROC_TEST_OPTS(failpoints_random_storm, .schedulers = 2, .timeout_s = 300)
{
    if (!grove_test_failpoints())
        SKIP_TEST("needs a GROVE_FAILPOINTS build");
    grove_trap_exit(true);
    grove_stats_t base = gt_stats();
    /* Random allocation failures everywhere, 2%, across all scenarios. */
    ASSERT_OK(grove_test_fail_random(GROVE_FP_ALLOC, 12345, 20));
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
            snprintf(current, sizeof current, "%s, round %d",
                     scenarios[i].name, round);
            grove_reason_t r = run_scope(scenarios[i].fn);
            if (!documented(&r))
                gt_fail(__FILE__, __LINE__, "%s under random failures: %s",
                        scenarios[i].name, gt_reason_str(r));
        }
    ASSERT_OK(grove_test_fail_random(GROVE_FP_ALLOC, 0, 0));
    ASSERT_GT(grove_test_fail_injected(GROVE_FP_ALLOC), 0);
    await_settled(&base);
    grove_flush(NULL, NULL);
}

/* ---- a run queue that cannot grow ----------------------------------------- */

#define RQ_KIDS 3000
#define RQ_BATCH 100
#define TAG_READY 1
#define TAG_GO 2

static void rq_kid(void *a)
{
    grove_pid_t parent = *(grove_pid_t *)a;
    grove_msg_t *m = NULL;
    if (grove_send(parent, TAG_READY, NULL, 0) != 0 ||
        grove_recv_tag(&m, TAG_GO, GROVE_INFINITY) != 0)
        grove_exit(&(grove_reason_t){.kind = GROVE_EXIT_ERROR, .code = 1});
    grove_msg_free(m);
}

/* A scheduler's queue of runnable processes grows as it fills; when the
 * memory for that cannot be had, the process is queued elsewhere and still
 * runs. Thousands of waiting processes are woken at once on one scheduler
 * while half of all allocations fail; every one must then run to its end. */
PROC_TEST_OPTS(failpoints_woken_processes_all_run_when_the_queue_cannot_grow,
               .schedulers = 1, .timeout_s = 120)
{
    if (!grove_test_failpoints())
        SKIP_TEST("needs a GROVE_FAILPOINTS build");
    static grove_pid_t waiters[RQ_KIDS];
    static grove_ref_t refs[RQ_KIDS];
    grove_pid_t self = grove_self();
    /* Started in small batches, each waiting before the next: the queue
     * never holds many of them yet. */
    for (int i = 0; i < RQ_KIDS; i += RQ_BATCH) {
        for (int j = i; j < i + RQ_BATCH; j++) {
            grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[j]};
            ASSERT_OK(grove_spawn(rq_kid, &self, &o, &waiters[j]));
        }
        for (int j = i; j < i + RQ_BATCH; j++)
            grove_msg_free(EXPECT_TAG(TAG_READY));
    }
    uint64_t injected = grove_test_fail_injected(GROVE_FP_ALLOC);
    ASSERT_OK(grove_test_fail_random(GROVE_FP_ALLOC, 777, 500));
    /* Every wake-up queues one more: none of them runs until this
     * process waits. */
    for (int i = 0; i < RQ_KIDS; i++) {
        int rc;
        while ((rc = grove_send(waiters[i], TAG_GO, NULL, 0)) == GROVE_ENOMEM)
            ;
        ASSERT_OK(rc);
    }
    ASSERT_OK(grove_test_fail_random(GROVE_FP_ALLOC, 0, 0));
    ASSERT_GT(grove_test_fail_injected(GROVE_FP_ALLOC) - injected, 0);
    for (int i = 0; i < RQ_KIDS; i++) {
        grove_msg_t *m = NULL;
        ASSERT_OK(grove_recv_ref(&m, refs[i], 30000));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
        ASSERT_REASON_KIND(*grove_msg_reason(m), GROVE_EXIT_NORMAL);
        grove_msg_free(m);
    }
    EXPECT_NO_MSG(0);
}

/* ---- a monitor request racing its target's exit and the slot's reuse ---- */

#define REUSE_RING 64
#define REUSE_MONITORS 1500 /* per watcher */
#define REUSE_WATCHERS 2

static _Atomic uint64_t reuse_ring[REUSE_RING]; /* pids lately spawned */
static atomic_uint reuse_spawned;
static atomic_bool reuse_stop;

/* Lives about 1 ms, waiting in receive, as the processes that take its
 * slot after it do. */
static void reuse_victim(void *a)
{
    (void)a;
    grove_msg_t *m = NULL;
    if (grove_recv(&m, 1) == 0)
        grove_msg_free(m);
}

static void reuse_spawner(void *a)
{
    (void)a;
    while (!atomic_load(&reuse_stop)) {
        grove_pid_t p;
        if (grove_spawn(reuse_victim, NULL, NULL, &p) == 0)
            atomic_store(&reuse_ring[atomic_fetch_add(&reuse_spawned, 1) %
                                     REUSE_RING],
                         p.id);
        grove_yield();
    }
}

/* Monitors processes just spawned, then waits for every DOWN; exits with
 * the number missing or wrong as its error code. */
static void reuse_watcher(void *a)
{
    uint64_t x = (uintptr_t)a * 0x9e3779b97f4a7c15ull + 1;
    grove_ref_t *refs = malloc(REUSE_MONITORS * sizeof *refs);
    grove_pid_t *pids = malloc(REUSE_MONITORS * sizeof *pids);
    unsigned n = 0, bad = 0;
    if (!refs || !pids)
        grove_exit(&(grove_reason_t){.kind = GROVE_EXIT_ERROR, .code = -1});
    while (n < REUSE_MONITORS) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        grove_pid_t p = {atomic_load(&reuse_ring[x % REUSE_RING])};
        if (p.id && grove_monitor(p, &refs[n]) == 0)
            pids[n++] = p;
    }
    for (unsigned i = 0; i < n; i++) {
        grove_msg_t *m = NULL;
        /* After the first one missing, the rest are only counted. */
        if (grove_recv_ref(&m, refs[i],
                           bad ? 0 : gt_scaled_ms(GT_WAIT_MS)) != 0) {
            bad++;
            continue;
        }
        grove_exit_kind_t k = grove_msg_reason(m)->kind;
        if (grove_msg_kind(m) != GROVE_MSG_DOWN ||
            grove_msg_from(m).id != pids[i].id ||
            (k != GROVE_EXIT_NORMAL && k != GROVE_EXIT_NOPROC))
            bad++;
        grove_msg_free(m);
    }
    free(refs);
    free(pids);
    if (bad)
        grove_exit(&(grove_reason_t){.kind = GROVE_EXIT_ERROR,
                                     .code = (int)bad});
}

/* A monitor request found its target alive, and before it reached the
 * inbox the target exited and a new process took its slot. The request
 * must still be answered with DOWN naming the pid monitored, never be
 * dropped by the new process (seen once as a watcher waiting forever).
 * The stall point holds such pushes back 2 ms, 6% of them, while
 * processes of 1 ms lives are spawned and monitored from both
 * schedulers. */
PROC_TEST_OPTS(failpoints_monitor_racing_the_reuse_of_its_targets_slot,
               .schedulers = 2, .timeout_s = 120)
{
    if (!grove_test_failpoints())
        SKIP_TEST("needs a GROVE_FAILPOINTS build");
    atomic_store(&reuse_spawned, 0);
    atomic_store(&reuse_stop, false);
    uint64_t before = grove_test_fail_injected(GROVE_FP_DELIVER_STALL);
    grove_pid_t spawners[2], watchers[REUSE_WATCHERS];
    for (int i = 0; i < 2; i++)
        spawners[i] = SPAWN_MON(reuse_spawner, NULL, NULL);
    WAIT_UNTIL(atomic_load(&reuse_spawned) >= 4 * REUSE_RING);
    ASSERT_OK(grove_test_fail_random(GROVE_FP_DELIVER_STALL, 4242, 60));
    for (int i = 0; i < REUSE_WATCHERS; i++)
        watchers[i] = SPAWN_MON(reuse_watcher, (void *)(uintptr_t)(i + 1),
                                NULL);
    for (int i = 0; i < REUSE_WATCHERS; i++)
        ASSERT_REASON_KIND(AWAIT_EXIT(watchers[i]), GROVE_EXIT_NORMAL);
    ASSERT_OK(grove_test_fail_random(GROVE_FP_DELIVER_STALL, 0, 0));
    atomic_store(&reuse_stop, true);
    for (int i = 0; i < 2; i++)
        ASSERT_REASON_KIND(AWAIT_EXIT(spawners[i]), GROVE_EXIT_NORMAL);
    ASSERT_GT(grove_test_fail_injected(GROVE_FP_DELIVER_STALL) - before, 0);
}
