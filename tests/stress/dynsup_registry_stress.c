/* DynamicSupervisor and Registry under load: a hundred thousand dynamic
 * children killed at once and all restarted; max_children against
 * concurrent start_child from every scheduler; the whole API from every
 * scheduler while children crash; registry entries of dying owners gone
 * while others register, unregister and look up from every scheduler; a
 * receive timeout next to busy schedulers (the condition under which the
 * registry test first stalled); races for one via name; a concurrent
 * supervisor stop timed against its slowest child. Sanitizer builds use
 * smaller counts (TSan counts every fiber as a thread and dies past 8128
 * of them). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

#if defined(GROVE_TSAN)
enum { MANY = 5000, CAP_TRIES = 60, OWNERS = 24, OWNER_TOTAL = 400 };
enum { RACE_ROUNDS = 100, SLOW_KIDS = 100, API_KIDS = 60, API_OPS = 80 };
#elif defined(GROVE_ASAN)
enum { MANY = 20000, CAP_TRIES = 150, OWNERS = 48, OWNER_TOTAL = 1500 };
enum { RACE_ROUNDS = 200, SLOW_KIDS = 200, API_KIDS = 150, API_OPS = 200 };
#else
enum { MANY = 100000, CAP_TRIES = 300, OWNERS = 64, OWNER_TOTAL = 4000 };
enum { RACE_ROUNDS = 500, SLOW_KIDS = 300, API_KIDS = 200, API_OPS = 400 };
#endif

/* A small per-process random generator. */
static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static grove_pid_t dynsup_start_linked(const grove_dynsup_opts_t *opts)
{
    grove_dynsup_opts_t o = *opts;
    o.link = true;
    ASSERT_GE(grove_trap_exit(true), 0);
    grove_pid_t sup = GROVE_PID_NONE;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    int rc = grove_dynsup_start(&o, &sup, &why);
    if (rc != 0)
        GT_FAIL("grove_dynsup_start: %s (%s)", grove_errname(rc),
                gt_reason_str(why));
    return sup;
}

static bool is_exit_of(const grove_msg_t *m, void *arg)
{
    return grove_msg_kind(m) == GROVE_MSG_EXIT &&
           grove_pid_equal(grove_msg_from(m), *(grove_pid_t *)arg);
}

/* Stops a supervisor as its parent; returns the milliseconds it took.
 * Other messages stay queued. */
static int64_t dynsup_stop(grove_pid_t sup)
{
    int64_t t0 = gt_now_ms();
    grove_reason_t sd = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_exit_signal(sup, &sd));
    grove_msg_t *m = NULL;
    ASSERT_OK(grove_recv_match(&m, is_exit_of, &sup, gt_scaled_ms(60000)));
    int64_t took = gt_now_ms() - t0;
    ASSERT_REASON_EQ(*grove_msg_reason(m), sd);
    grove_msg_free(m);
    return took;
}

static grove_child_counts_t counts_of(grove_pid_t sup)
{
    grove_child_counts_t c;
    memset(&c, 0xff, sizeof c);
    ASSERT_OK(grove_dynsup_count_children(grove_server_pid(sup), &c));
    return c;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const grove_pid_t *)a)->id;
    uint64_t y = ((const grove_pid_t *)b)->id;
    return x < y ? -1 : x > y;
}

/* ---- many children killed at once, all restarted --------------------- */

static atomic_long sleeper_starts;

static void sleeper_main(void *arg)
{
    (void)arg;
    grove_msg_t *m = NULL;
    grove_recv(&m, GROVE_INFINITY);
    grove_msg_free(m);
}

static int start_sleeper(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_spawn_opts_t o = {.link = true, .stack_size = 16 * 1024};
    int rc = grove_spawn(sleeper_main, NULL, &o, pid);
    if (rc != 0) {
        *why = grove_reason_error(rc, "spawn: %s", grove_errname(rc));
        return rc;
    }
    atomic_fetch_add(&sleeper_starts, 1);
    return 0;
}

PROC_TEST_OPTS(dynsup_registry_stress_many_children_killed_and_restarted,
               .timeout_s = 300)
{
    atomic_store(&sleeper_starts, 0);
    grove_dynsup_opts_t o = {.max_restarts = MANY + 100,
                             .max_seconds = 3600};
    grove_pid_t sup = dynsup_start_linked(&o);
    grove_server_t srv = grove_server_pid(sup);
    grove_child_spec_t spec;
    memset(&spec, 0, sizeof spec);
    spec.start = start_sleeper;
    spec.restart = GROVE_PERMANENT;
    grove_pid_t *old = malloc(sizeof *old * MANY);
    grove_pid_t *now = malloc(sizeof *now * MANY);
    grove_child_info_t *ci = malloc(sizeof *ci * MANY);
    ASSERT_NOT_NULL(old);
    ASSERT_NOT_NULL(now);
    ASSERT_NOT_NULL(ci);

    int64_t t0 = gt_now_ms();
    for (int i = 0; i < MANY; i++) {
        grove_reason_t why;
        int rc = grove_dynsup_start_child(srv, &spec, &old[i], &why);
        if (rc != 0)
            GT_FAIL("child %d: %s (%s)", i, grove_errname(rc),
                    gt_reason_str(why));
    }
    grove_child_counts_t c = counts_of(sup);
    ASSERT_EQ(c.specs, MANY);
    ASSERT_EQ(c.active, MANY);
    ASSERT_EQ(c.workers, MANY);
    ASSERT_EQ(c.supervisors, 0);
    int64_t t1 = gt_now_ms();

    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    for (int i = 0; i < MANY; i++)
        ASSERT_OK(grove_exit_signal(old[i], &kill));
    int64_t dl = gt_now_ms() + gt_scaled_ms(120000);
    while (atomic_load(&sleeper_starts) < 2L * MANY) {
        if (gt_now_ms() > dl)
            GT_FAIL("only %ld of %d children restarted",
                    atomic_load(&sleeper_starts) - MANY, MANY);
        grove_sleep(10);
    }
    int64_t t2 = gt_now_ms();
    c = counts_of(sup);
    ASSERT_EQ(atomic_load(&sleeper_starts), 2L * MANY);
    ASSERT_EQ(c.specs, MANY);
    ASSERT_EQ(c.active, MANY);
    ASSERT_EQ(c.workers, MANY);
    ASSERT_EQ(c.supervisors, 0);

    size_t n = 0;
    ASSERT_OK(grove_dynsup_which_children(srv, ci, MANY, &n));
    ASSERT_EQ(n, MANY);
    for (int i = 0; i < MANY; i++) {
        ASSERT_EQ(ci[i].state, GROVE_CHILD_RUNNING);
        now[i] = ci[i].pid;
    }
    qsort(old, MANY, sizeof *old, by_id);
    qsort(now, MANY, sizeof *now, by_id);
    for (int i = 0, j = 0; i < MANY; i++) {
        if (i > 0 && now[i].id == now[i - 1].id)
            GT_FAIL("pid %s listed twice", gt_pid_str(now[i]));
        if (!grove_is_alive(now[i]))
            GT_FAIL("listed child %s is dead", gt_pid_str(now[i]));
        while (j < MANY && old[j].id < now[i].id)
            j++;
        if (j < MANY && old[j].id == now[i].id)
            GT_FAIL("child %s was not restarted", gt_pid_str(now[i]));
    }
    int64_t took = dynsup_stop(sup);
    /* Its stop waited for every child: none outlives it. */
    for (int i = 0; i < MANY; i++)
        if (grove_is_alive(now[i]))
            GT_FAIL("child %s outlived its supervisor", gt_pid_str(now[i]));
    gt_note("%d children: started in %lld ms, killed and restarted in %lld "
            "ms, supervisor stopped in %lld ms",
            MANY, (long long)(t1 - t0), (long long)(t2 - t1),
            (long long)took);
    free(old);
    free(now);
    free(ci);
}

/* ---- max_children against concurrent starts -------------------------- */

enum { LIMIT = 40, STARTERS = 16 };

static grove_pid_t cap_sup;
static atomic_int cap_live, cap_live_max, cap_ok, cap_full, cap_other;
static atomic_int cap_stop;
static atomic_bool cap_stay;

static void live_gone(void *arg)
{
    (void)arg;
    atomic_fetch_sub(&cap_live, 1);
}

/* A child counts itself live from its first instruction to its exit
 * path: never longer than the supervisor counts it. */
static void capped_main(void *arg)
{
    (void)arg;
    if (grove_resource_attach(live_gone, NULL, NULL) != 0)
        grove_exit_error(1, "attach failed");
    int live = atomic_fetch_add(&cap_live, 1) + 1;
    int max = atomic_load(&cap_live_max);
    while (live > max &&
           !atomic_compare_exchange_weak(&cap_live_max, &max, live)) {
    }
    if (atomic_load(&cap_stay)) {
        grove_msg_t *m = NULL;
        grove_recv(&m, GROVE_INFINITY);
        grove_msg_free(m);
        return;
    }
    uint32_t s = (uint32_t)grove_self().id;
    grove_sleep(1 + next_rand(&s) % 8);
}

static int start_capped(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_spawn_opts_t o = {.link = true, .stack_size = 16 * 1024};
    int rc = grove_spawn(capped_main, NULL, &o, pid);
    if (rc != 0)
        *why = grove_reason_error(rc, "spawn failed");
    return rc;
}

static void starter_main(void *arg)
{
    (void)arg;
    grove_child_spec_t spec;
    memset(&spec, 0, sizeof spec);
    spec.start = start_capped;
    spec.restart = GROVE_TEMPORARY;
    for (int i = 0; i < CAP_TRIES; i++) {
        grove_pid_t pid;
        grove_reason_t why;
        int rc = grove_dynsup_start_child(grove_server_pid(cap_sup), &spec,
                                          &pid, &why);
        if (rc == 0)
            atomic_fetch_add(&cap_ok, 1);
        else if (rc == GROVE_EMAXCHILDREN)
            atomic_fetch_add(&cap_full, 1);
        else
            atomic_fetch_add(&cap_other, 1);
        /* With children that come and go, a refused starter waits a
         * moment for places to free. */
        if (rc == GROVE_EMAXCHILDREN && !atomic_load(&cap_stay))
            grove_sleep(1);
        else
            grove_yield();
    }
}

/* Polls count_children while the starters run. */
static void poller_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&cap_stop)) {
        grove_child_counts_t c;
        if (grove_dynsup_count_children(grove_server_pid(cap_sup), &c) != 0)
            grove_exit_error(1, "count_children failed");
        if (c.specs > LIMIT || c.active > c.specs)
            GT_FAIL("count_children: specs %zu active %zu, limit %d",
                    c.specs, c.active, LIMIT);
        grove_yield();
    }
}

static void run_starters(void)
{
    grove_ref_t refs[STARTERS];
    for (int i = 0; i < STARTERS; i++) {
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[i]};
        SPAWN(starter_main, NULL, &o);
    }
    for (int i = 0; i < STARTERS; i++)
        ASSERT_REASON_EQ(EXPECT_DOWN(refs[i], GROVE_PID_NONE),
                         grove_reason_normal());
}

PROC_TEST_OPTS(dynsup_registry_stress_max_children_concurrent_starts,
               .schedulers = 4, .timeout_s = 120)
{
    /* Children that stay: exactly LIMIT starts succeed. */
    atomic_store(&cap_live, 0);
    atomic_store(&cap_live_max, 0);
    atomic_store(&cap_ok, 0);
    atomic_store(&cap_full, 0);
    atomic_store(&cap_other, 0);
    atomic_store(&cap_stay, true);
    grove_dynsup_opts_t o = {.max_children = LIMIT};
    cap_sup = dynsup_start_linked(&o);
    run_starters();
    ASSERT_EQ(atomic_load(&cap_other), 0);
    ASSERT_EQ(atomic_load(&cap_ok), LIMIT);
    ASSERT_EQ(atomic_load(&cap_full), STARTERS * CAP_TRIES - LIMIT);
    grove_child_counts_t c = counts_of(cap_sup);
    ASSERT_EQ(c.specs, LIMIT);
    ASSERT_EQ(c.active, LIMIT);
    ASSERT_LE(atomic_load(&cap_live_max), LIMIT);
    dynsup_stop(cap_sup);
    ASSERT_EQ(atomic_load(&cap_live), 0);

    /* Children that come and go: never more than LIMIT at once. */
    atomic_store(&cap_live_max, 0);
    atomic_store(&cap_ok, 0);
    atomic_store(&cap_full, 0);
    atomic_store(&cap_stay, false);
    atomic_store(&cap_stop, 0);
    cap_sup = dynsup_start_linked(&o);
    grove_pid_t poller = SPAWN_MON(poller_main, NULL, NULL);
    run_starters();
    atomic_store(&cap_stop, 1);
    ASSERT_REASON_EQ(AWAIT_EXIT(poller), grove_reason_normal());
    ASSERT_EQ(atomic_load(&cap_other), 0);
    ASSERT_EQ(atomic_load(&cap_ok) + atomic_load(&cap_full),
              STARTERS * CAP_TRIES);
    ASSERT_GT(atomic_load(&cap_ok), LIMIT);
    ASSERT_LE(atomic_load(&cap_live_max), LIMIT);
    WAIT_UNTIL(counts_of(cap_sup).specs == 0);
    ASSERT_EQ(atomic_load(&cap_live), 0);
    gt_note("churn: %d starts, %d refused, at most %d live (limit %d)",
            atomic_load(&cap_ok), atomic_load(&cap_full),
            atomic_load(&cap_live_max), LIMIT);
    dynsup_stop(cap_sup);
}

/* ---- the API from every scheduler while children crash --------------- */

enum { API_CLIENTS = 8 };

static grove_pid_t api_sup;
static atomic_int api_crashing, api_started, api_terminated, api_spawns;

/* Crashes now and then while api_crashing is set; then stays. */
static void crashy_main(void *arg)
{
    (void)arg;
    uint32_t s = (uint32_t)grove_self().id * 2654435761u;
    while (atomic_load(&api_crashing)) {
        grove_msg_t *m = NULL;
        if (grove_recv(&m, 1 + next_rand(&s) % 20) == 0)
            grove_msg_free(m);
        else if (next_rand(&s) % 4 == 0 && atomic_load(&api_crashing))
            grove_exit_error(5, "crashy");
    }
    grove_msg_t *m = NULL;
    grove_recv(&m, GROVE_INFINITY);
    grove_msg_free(m);
}

static int start_crashy(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_spawn_opts_t o = {.link = true, .stack_size = 16 * 1024};
    int rc = grove_spawn(crashy_main, NULL, &o, pid);
    if (rc != 0)
        *why = grove_reason_error(rc, "spawn failed");
    else
        atomic_fetch_add(&api_spawns, 1);
    return rc;
}

static grove_child_spec_t crashy_spec(void)
{
    grove_child_spec_t spec;
    memset(&spec, 0, sizeof spec);
    spec.start = start_crashy;
    spec.restart = GROVE_PERMANENT;
    spec.shutdown = GROVE_SHUTDOWN_BRUTAL_KILL;
    return spec;
}

static void api_client(void *arg)
{
    uint32_t s = (uint32_t)(uintptr_t)arg * 7919u + 3;
    grove_server_t srv = grove_server_pid(api_sup);
    grove_child_spec_t spec = crashy_spec();
    grove_child_info_t ci[32];
    for (int i = 0; i < API_OPS; i++) {
        unsigned r = next_rand(&s);
        grove_pid_t pid;
        grove_reason_t why;
        size_t n = 0;
        switch (r % 4) {
        case 0:
            ASSERT_OK(grove_dynsup_start_child(srv, &spec, &pid, &why));
            atomic_fetch_add(&api_started, 1);
            break;
        case 1: {
            ASSERT_OK(grove_dynsup_which_children(srv, ci, 32, &n));
            size_t k = n < 32 ? n : 32;
            if (!k)
                break;
            const grove_child_info_t *c = &ci[(r >> 4) % k];
            if (c->state != GROVE_CHILD_RUNNING)
                break;
            int rc = grove_dynsup_terminate_child(srv, c->pid);
            if (rc == 0)
                atomic_fetch_add(&api_terminated, 1);
            else
                ASSERT_ERR(rc, GROVE_ENOTFOUND);
            break;
        }
        case 2: {
            grove_child_counts_t c;
            ASSERT_OK(grove_dynsup_count_children(srv, &c));
            ASSERT_LE(c.active, c.specs);
            ASSERT_EQ(c.workers, c.specs);
            break;
        }
        default:
            ASSERT_ERR(grove_dynsup_terminate_child(srv, grove_self()),
                       GROVE_ENOTFOUND);
        }
    }
}

/* Clients on every scheduler start, list, count and terminate children
 * while the children crash and are restarted. Every terminate_child
 * answers 0 or GROVE_ENOTFOUND, and in the end the supervisor holds
 * exactly the children started minus those terminated, each once, all
 * alive. */
PROC_TEST_OPTS(dynsup_registry_stress_api_while_children_crash,
               .schedulers = 4, .timeout_s = 120)
{
    atomic_store(&api_crashing, 1);
    atomic_store(&api_started, 0);
    atomic_store(&api_terminated, 0);
    atomic_store(&api_spawns, 0);
    grove_dynsup_opts_t o = {.max_restarts = 1000000, .max_seconds = 1};
    api_sup = dynsup_start_linked(&o);
    grove_child_spec_t spec = crashy_spec();
    for (int i = 0; i < API_KIDS; i++) {
        grove_pid_t pid;
        grove_reason_t why;
        ASSERT_OK(grove_dynsup_start_child(grove_server_pid(api_sup), &spec,
                                           &pid, &why));
    }
    grove_ref_t refs[API_CLIENTS];
    for (int i = 0; i < API_CLIENTS; i++) {
        grove_spawn_opts_t so = {.monitor = true, .monitor_ref = &refs[i]};
        SPAWN(api_client, (void *)(uintptr_t)i, &so);
    }
    for (int i = 0; i < API_CLIENTS; i++) {
        grove_msg_t *m = NULL;
        ASSERT_OK(grove_recv_ref(&m, refs[i], gt_scaled_ms(60000)));
        ASSERT_REASON_EQ(*grove_msg_reason(m), grove_reason_normal());
        grove_msg_free(m);
    }
    int want = API_KIDS + atomic_load(&api_started) -
               atomic_load(&api_terminated);
    grove_child_counts_t c = counts_of(api_sup);
    ASSERT_EQ(c.specs, want);
    /* Let the last crashes land before listing the pids. */
    atomic_store(&api_crashing, 0);
    grove_sleep(200);
    WAIT_UNTIL(counts_of(api_sup).active == (size_t)want);
    ASSERT_EQ(counts_of(api_sup).specs, want);
    grove_child_info_t *ci = malloc(sizeof *ci * (size_t)(want + 1));
    grove_pid_t *pids = malloc(sizeof *pids * (size_t)(want + 1));
    ASSERT_NOT_NULL(ci);
    ASSERT_NOT_NULL(pids);
    size_t n = 0;
    ASSERT_OK(grove_dynsup_which_children(grove_server_pid(api_sup), ci,
                                          (size_t)want + 1, &n));
    ASSERT_EQ(n, want);
    for (int i = 0; i < want; i++) {
        ASSERT_EQ(ci[i].state, GROVE_CHILD_RUNNING);
        pids[i] = ci[i].pid;
    }
    qsort(pids, (size_t)want, sizeof *pids, by_id);
    for (int i = 0; i < want; i++) {
        if (i > 0 && pids[i].id == pids[i - 1].id)
            GT_FAIL("pid %s listed twice", gt_pid_str(pids[i]));
        ASSERT_TRUE(grove_is_alive(pids[i]));
    }
    for (int i = 0; i < want; i++)
        ASSERT_OK(grove_dynsup_terminate_child(grove_server_pid(api_sup),
                                               pids[i]));
    c = counts_of(api_sup);
    ASSERT_EQ(c.specs, 0);
    ASSERT_EQ(c.active, 0);
    int restarts = atomic_load(&api_spawns) - API_KIDS -
                   atomic_load(&api_started);
    gt_note("%d started, %d terminated, %d restarts; %d left, all "
            "accounted for", atomic_load(&api_started),
            atomic_load(&api_terminated), restarts, want);
    ASSERT_GT(restarts, 0);
    free(ci);
    free(pids);
    dynsup_stop(api_sup);
}

/* ---- registry entries of dying owners -------------------------------- */

enum { HOT = 8, TOPICS = 8, LOOKERS = 4 };

static grove_registry_t *ureg, *dreg;
static atomic_int looking;
static _Atomic int64_t looking_until;

typedef struct owner_slot {
    grove_pid_t pid;
    grove_ref_t ref;
    int id;
} owner_slot_t;

static int own_key(char *buf, size_t size, int id)
{
    return snprintf(buf, size, "own-%d", id);
}

static void owner_main(void *arg)
{
    int id = (int)(uintptr_t)arg;
    uint32_t s = (uint32_t)id * 2654435761u + 1;
    char key[24];
    grove_pid_t self = grove_self(), h;
    int n = own_key(key, sizeof key, id);
    if (grove_registry_register(ureg, key, (size_t)n, (uint64_t)id, &h) != 0)
        GT_FAIL("owner %d could not take its own key", id);
    unsigned held = 0; /* hot keys this owner holds */
    int life = (int)(next_rand(&s) % 200);
    grove_reg_entry_t e[64];
    size_t k;
    for (int it = 0; it < life; it++) {
        unsigned r = next_rand(&s);
        unsigned hot = r % HOT;
        n = snprintf(key, sizeof key, "%s-%u", r & 8 ? "topic" : "hot",
                     (r >> 4) % TOPICS);
        switch ((r >> 8) % 6) {
        case 0:
            n = snprintf(key, sizeof key, "topic-%u", (r >> 4) % TOPICS);
            if (grove_registry_register(dreg, key, (size_t)n, (uint64_t)id,
                                        &h) != 0)
                GT_FAIL("duplicate register failed");
            break;
        case 1:
            n = snprintf(key, sizeof key, "topic-%u", (r >> 4) % TOPICS);
            ASSERT_OK(grove_registry_unregister(dreg, key, (size_t)n));
            break;
        case 2: {
            n = snprintf(key, sizeof key, "hot-%u", hot);
            h = GROVE_PID_NONE;
            int rc = grove_registry_register(ureg, key, (size_t)n, 1, &h);
            if (rc == 0) {
                if (held & (1u << hot))
                    GT_FAIL("registered a hot key it already held");
                held |= 1u << hot;
                grove_pid_t w = GROVE_PID_NONE;
                ASSERT_OK(grove_registry_whereis(ureg, key, (size_t)n, &w));
                ASSERT_PID_EQ(w, self);
            } else {
                ASSERT_ERR(rc, GROVE_EEXIST);
                if (held & (1u << hot))
                    ASSERT_PID_EQ(h, self);
                else
                    ASSERT_PID_NE(h, self);
            }
            break;
        }
        case 3:
            n = snprintf(key, sizeof key, "hot-%u", hot);
            ASSERT_OK(grove_registry_unregister(ureg, key, (size_t)n));
            held &= ~(1u << hot);
            break;
        case 4:
            ASSERT_OK(grove_registry_lookup(ureg, key, (size_t)n, e, 64, &k));
            if (key[0] == 'h')
                ASSERT_LE(k, 1);
            ASSERT_OK(grove_registry_lookup(dreg, key, (size_t)n, e, 64, &k));
            break;
        default:
            grove_yield();
        }
    }
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    switch (next_rand(&s) % 4) {
    case 0:
        return;
    case 1:
        grove_exit_error(3, "owner %d gives up", id);
    case 2:
        grove_exit_signal(self, &kill);
        grove_yield();
        GT_FAIL("survived its own kill");
    default: {
        grove_msg_t *m = NULL; /* wait to be killed */
        grove_recv(&m, GROVE_INFINITY);
        grove_msg_free(m);
    }
    }
}

static void count_entry(const void *key, size_t len, grove_pid_t pid,
                        uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)pid;
    (void)value;
    (*(int *)arg)++;
}

static void count_key(const void *key, size_t len, void *arg)
{
    (void)key;
    (void)len;
    (*(int *)arg)++;
}

static bool any_value(uint64_t value, void *arg)
{
    (void)value;
    (void)arg;
    return true;
}

/* Looks things up from every scheduler while owners come and go. */
static void looker_main(void *arg)
{
    uint32_t s = (uint32_t)(uintptr_t)arg + 7;
    grove_reg_entry_t e[64];
    char key[24];
    size_t k;
    while (atomic_load(&looking) &&
           gt_now_ms() < atomic_load(&looking_until)) {
        unsigned r = next_rand(&s);
        int n = snprintf(key, sizeof key, "hot-%u", r % HOT);
        ASSERT_OK(grove_registry_lookup(ureg, key, (size_t)n, e, 64, &k));
        ASSERT_LE(k, 1);
        n = snprintf(key, sizeof key, "topic-%u", r % TOPICS);
        ASSERT_OK(grove_registry_lookup(dreg, key, (size_t)n, e, 64, &k));
        ASSERT_GE(grove_registry_match(dreg, key, (size_t)n, any_value, NULL,
                                       e, 64),
                  0);
        if (r % 64 == 0) {
            int seen = 0;
            ASSERT_GE(grove_registry_select(ureg, NULL, count_entry, &seen),
                      0);
        }
        grove_yield();
    }
}

static void spawn_owner(owner_slot_t *slot, int id)
{
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &slot->ref,
                            .stack_size = 32 * 1024};
    slot->id = id;
    slot->pid = SPAWN(owner_main, (void *)(uintptr_t)id, &o);
}

/* The entries of an owner whose DOWN just came: none, anywhere. */
static void check_owner_gone(const owner_slot_t *slot)
{
    grove_pid_t p = slot->pid;
    int seen = 0;
    /* select hands the same arg to the predicate and the function. */
    ASSERT_EQ(grove_registry_select(ureg, gt_reg_pid_is, gt_reg_ignore_entry, &p), 0);
    ASSERT_EQ(grove_registry_select(dreg, gt_reg_pid_is, gt_reg_ignore_entry, &p), 0);
    ASSERT_EQ(grove_registry_keys(ureg, p, count_key, &seen), 0);
    ASSERT_EQ(grove_registry_keys(dreg, p, count_key, &seen), 0);
    char key[24];
    int n = own_key(key, sizeof key, slot->id);
    grove_pid_t w;
    ASSERT_ERR(grove_registry_whereis(ureg, key, (size_t)n, &w),
               GROVE_ENOTFOUND);
}

/* The owners are driven by their DOWNs alone (each DOWN makes the test
 * kill another live owner, so some owner is always on its way out) and
 * nothing waits with a timeout: the test does not depend on a timer
 * firing while every scheduler is busy (see
 * dynsup_registry_stress_timeout_fires_under_busy_schedulers). Stack
 * trimming is off for the same reason. The lookers stop by a deadline
 * too, so a stall ends in a failure rather than a hang. */
PROC_TEST_OPTS(dynsup_registry_stress_dying_owners, .schedulers = 4,
               .stack_trim_ms = -1, .timeout_s = 180)
{
    grove_registry_opts_t ro;
    memset(&ro, 0, sizeof ro);
    ro.keys = GROVE_REG_UNIQUE;
    ASSERT_OK(grove_registry_new(&ro, &ureg));
    ro.keys = GROVE_REG_DUPLICATE;
    ASSERT_OK(grove_registry_new(&ro, &dreg));
    int64_t t0 = gt_now_ms();
    atomic_store(&looking_until, t0 + gt_scaled_ms(60000));
    atomic_store(&looking, 1);
    grove_pid_t lookers[LOOKERS];
    for (int i = 0; i < LOOKERS; i++)
        lookers[i] = SPAWN_MON(looker_main, (void *)(uintptr_t)i, NULL);

    owner_slot_t slots[OWNERS];
    int spawned = 0, downs = 0, live = 0;
    uint32_t s = 12345;
    for (int i = 0; i < OWNERS; i++, spawned++, live++)
        spawn_owner(&slots[i], spawned);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    while (live > 0) {
        /* Some live owner is always being killed: its DOWN will come. */
        int victim = (int)(next_rand(&s) % OWNERS);
        while (grove_pid_is_none(slots[victim].pid))
            victim = (victim + 1) % OWNERS;
        grove_exit_signal(slots[victim].pid, &kill);
        grove_msg_t *m = NULL;
        ASSERT_OK(grove_recv(&m, GROVE_INFINITY));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
        int i = 0;
        while (i < OWNERS && slots[i].ref.id != grove_msg_ref(m).id)
            i++;
        ASSERT_LT(i, OWNERS);
        grove_msg_free(m);
        check_owner_gone(&slots[i]);
        downs++;
        live--;
        slots[i].pid = GROVE_PID_NONE;
        slots[i].ref = GROVE_REF_NONE;
        if (spawned < OWNER_TOTAL) {
            spawn_owner(&slots[i], spawned++);
            live++;
        }
    }
    int64_t took = gt_now_ms() - t0;
    bool late = gt_now_ms() > atomic_load(&looking_until);
    atomic_store(&looking, 0);
    for (int i = 0; i < LOOKERS; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(lookers[i]), grove_reason_normal());
    if (late)
        GT_FAIL("the owners only finished after the lookers gave up "
                "(%lld ms): something runnable was not run while they "
                "yielded", (long long)took);
    ASSERT_EQ(downs, OWNER_TOTAL);
    ASSERT_EQ(grove_registry_count(ureg), 0);
    ASSERT_EQ(grove_registry_count(dreg), 0);
    int seen = 0;
    ASSERT_EQ(grove_registry_select(ureg, NULL, count_entry, &seen), 0);
    ASSERT_EQ(grove_registry_select(dreg, NULL, count_entry, &seen), 0);
    gt_note("%d owners came and went in %lld ms", OWNER_TOTAL,
            (long long)took);
    ASSERT_OK(grove_registry_free(ureg));
    ASSERT_OK(grove_registry_free(dreg));
}

/* ---- a timeout that fires while every scheduler is busy -------------- */

/* Found by the test above in its first form: processes that compute for
 * a while between grove_yield calls, one on every scheduler, and one
 * process waiting in receive with a timeout. When its timeout falls due
 * while its scheduler is held, the timer is fired from outside the
 * schedulers, and the process must still get to run: grove_yield "gives
 * the scheduler to other runnable processes". The spinners stop by a
 * deadline, so a starved waiter shows as a failure, not a hang. */
enum { SPIN_SLICE_MS = 15, WAITS = 20, WAIT_MS = 20 };

static atomic_int spinning;
static _Atomic int64_t spin_until;

static void spinner_main(void *arg)
{
    (void)arg;
    while (atomic_load(&spinning) && gt_now_ms() < atomic_load(&spin_until)) {
        int64_t end = gt_now_ms() + SPIN_SLICE_MS;
        while (gt_now_ms() < end) {
        }
        grove_yield();
    }
}

static void waiter_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < WAITS; i++) {
        grove_msg_t *m = NULL;
        int rc = grove_recv(&m, WAIT_MS);
        if (rc != GROVE_ETIMEDOUT)
            grove_exit_error(1, "receive: %s", grove_errname(rc));
    }
}

PROC_TEST_OPTS(dynsup_registry_stress_timeout_fires_under_busy_schedulers,
               .schedulers = 4, .timeout_s = 60)
{
    int64_t t0 = gt_now_ms();
    int64_t budget = gt_scaled_ms(3000);
    atomic_store(&spin_until, t0 + budget);
    atomic_store(&spinning, 1);
    grove_pid_t spinners[4];
    for (int i = 0; i < 4; i++)
        spinners[i] = SPAWN_MON(spinner_main, NULL, NULL);
    grove_ref_t ref = GROVE_REF_NONE;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    SPAWN(waiter_main, NULL, &o);
    /* Its DOWN comes from its own exit, on a scheduler; no timeout here,
     * which would itself be a timer firing on a busy scheduler. */
    grove_msg_t *m = NULL;
    ASSERT_OK(grove_recv_ref(&m, ref, GROVE_INFINITY));
    ASSERT_REASON_EQ(*grove_msg_reason(m), grove_reason_normal());
    grove_msg_free(m);
    int64_t took = gt_now_ms() - t0;
    bool starved = gt_now_ms() >= atomic_load(&spin_until);
    atomic_store(&spinning, 0);
    for (int i = 0; i < 4; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(spinners[i]), grove_reason_normal());
    gt_note("%d receive timeouts of %d ms took %lld ms next to busy "
            "schedulers", WAITS, WAIT_MS, (long long)took);
    if (starved)
        GT_FAIL("the waiting process only ran once the busy ones stopped "
                "(%lld ms for %d ms of timeouts)", (long long)took,
                WAITS * WAIT_MS);
}

/* ---- races for one via name ------------------------------------------ */

enum { TAG_RACED = 0x5253000000000001ull };

typedef struct raced {
    int rc;
    grove_pid_t pid;
} raced_t;

static grove_registry_t *race_reg;
static grove_pid_t race_test;
static atomic_int race_ready, race_go, race_inits;

static grove_gs_ret_t race_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    atomic_fetch_add(&race_inits, 1);
    return GROVE_GS_INIT_OK();
}

static const grove_gs_callbacks_t race_cb = {.name = "racer",
                                             .init = race_init};

/* The registry's via interface with a count of registrations it refused:
 * rounds decided inside the registry rather than by start's check. */
static const grove_via_t *race_real;
static grove_via_t race_via;
static atomic_int race_refused;

static int race_register(void *reg, const void *key, size_t len,
                         grove_pid_t pid, grove_pid_t *holder)
{
    int rc = race_real->register_name(reg, key, len, pid, holder);
    if (rc != 0)
        atomic_fetch_add(&race_refused, 1);
    return rc;
}

/* On alternate rounds a racer that finds the name free pauses before
 * going on, as a slow name service or an untimely preemption would:
 * both racers then get past start's check and meet in the registry. */
static atomic_int race_widen;
static _Atomic uint64_t race_a, race_b;

static int race_whereis(void *reg, const void *key, size_t len,
                        grove_pid_t *pid)
{
    int rc = race_real->whereis_name(reg, key, len, pid);
    uint64_t self = grove_self().id;
    if (rc != 0 && atomic_load(&race_widen) &&
        (self == atomic_load(&race_a) || self == atomic_load(&race_b)))
        grove_sleep(3);
    return rc;
}

static void racer_main(void *arg)
{
    (void)arg;
    atomic_fetch_add(&race_ready, 1);
    while (!atomic_load(&race_go))
        grove_yield();
    grove_gs_opts_t o;
    memset(&o, 0, sizeof o);
    o.via = &race_via;
    o.via_key = "contested";
    o.via_key_len = 9;
    raced_t r = {0, GROVE_PID_NONE};
    grove_reason_t why;
    r.rc = grove_gs_start(&race_cb, NULL, &o, &r.pid, &why);
    grove_send(race_test, TAG_RACED, &r, sizeof r);
}

PROC_TEST_OPTS(dynsup_registry_stress_via_name_races, .schedulers = 4,
               .timeout_s = 120)
{
    ASSERT_OK(grove_registry_new(NULL, &race_reg));
    race_test = grove_self();
    atomic_store(&race_inits, 0);
    atomic_store(&race_refused, 0);
    race_real = grove_registry_via(race_reg);
    ASSERT_NOT_NULL(race_real);
    race_via = *race_real;
    race_via.register_name = race_register;
    race_via.whereis_name = race_whereis;
    const grove_via_t *via = &race_via;
    grove_server_t srv = grove_server_via(via, "contested", 9);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        atomic_store(&race_ready, 0);
        atomic_store(&race_go, 0);
        atomic_store(&race_widen, round % 2);
        grove_pid_t a = SPAWN_MON(racer_main, NULL, NULL);
        grove_pid_t b = SPAWN_MON(racer_main, NULL, NULL);
        atomic_store(&race_a, a.id);
        atomic_store(&race_b, b.id);
        while (atomic_load(&race_ready) < 2)
            grove_yield();
        atomic_store(&race_go, 1);
        raced_t r[2];
        for (int i = 0; i < 2; i++) {
            grove_msg_t *m = EXPECT_TAG(TAG_RACED);
            memcpy(&r[i], grove_msg_data(m), sizeof r[i]);
            grove_msg_free(m);
        }
        int w = r[0].rc == 0 ? 0 : 1;
        if (r[w].rc != 0 || r[1 - w].rc != GROVE_EALREADYSTARTED)
            GT_FAIL("round %d: results %s and %s", round,
                    grove_errname(r[0].rc), grove_errname(r[1].rc));
        if (!grove_pid_equal(r[1 - w].pid, r[w].pid))
            GT_FAIL("round %d: the loser got %s, the winner is %s", round,
                    gt_pid_str(r[1 - w].pid), gt_pid_str(r[w].pid));
        ASSERT_EQ(atomic_load(&race_inits), round + 1);
        grove_pid_t found = GROVE_PID_NONE;
        ASSERT_OK(grove_server_whereis(srv, &found));
        ASSERT_PID_EQ(found, r[w].pid);
        grove_reason_t why;
        ASSERT_OK(grove_gs_stop(grove_server_pid(r[w].pid), NULL,
                                gt_scaled_ms(5000), &why));
        ASSERT_ERR(grove_server_whereis(srv, &found), GROVE_ENOPROC);
        ASSERT_REASON_EQ(AWAIT_EXIT(a), grove_reason_normal());
        ASSERT_REASON_EQ(AWAIT_EXIT(b), grove_reason_normal());
    }
    ASSERT_EQ(atomic_load(&race_inits), RACE_ROUNDS);
    ASSERT_GT(atomic_load(&race_refused), 0);
    ASSERT_EQ(grove_registry_count(race_reg), 0);
    gt_note("%d rounds, each with one winner; %d decided inside the "
            "registry", RACE_ROUNDS, atomic_load(&race_refused));
    ASSERT_OK(grove_registry_free(race_reg));
}

/* ---- a concurrent stop against the slowest child --------------------- */

enum { SLOWEST = 600, KILL_AFTER = 500 };

typedef struct slow_cfg {
    int delay_ms;
    bool ignore;
    bool brutal;
} slow_cfg_t;

static slow_cfg_t slow_cfgs[SLOW_KIDS];

static void slow_main(void *arg)
{
    const slow_cfg_t *c = arg;
    for (;;) {
        grove_msg_t *m = NULL;
        grove_recv(&m, GROVE_INFINITY);
        if (grove_msg_kind(m) != GROVE_MSG_EXIT || c->ignore) {
            grove_msg_free(m);
            continue;
        }
        grove_reason_t r = *grove_msg_reason(m);
        grove_msg_free(m);
        grove_sleep(c->delay_ms);
        grove_exit(&r);
    }
}

static int start_slow(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    grove_spawn_opts_t o = {.link = true, .trap_exit = true,
                            .stack_size = 16 * 1024};
    int rc = grove_spawn(slow_main, arg, &o, pid);
    if (rc != 0)
        *why = grove_reason_error(rc, "spawn failed");
    return rc;
}

PROC_TEST_OPTS(dynsup_registry_stress_stop_takes_the_slowest_child,
               .schedulers = 4, .timeout_s = 120)
{
    grove_dynsup_opts_t o = {.max_restarts = 10};
    grove_pid_t sup = dynsup_start_linked(&o);
    grove_pid_t pids[SLOW_KIDS];
    grove_ref_t refs[SLOW_KIDS];
    int64_t sum = 0;
    for (int i = 0; i < SLOW_KIDS; i++) {
        slow_cfg_t *c = &slow_cfgs[i];
        memset(c, 0, sizeof *c);
        bool slowest = i == SLOW_KIDS / 2;
        c->delay_ms = slowest ? SLOWEST : (i * 7919) % 400;
        c->brutal = !slowest && i % 5 == 1;
        c->ignore = !slowest && i % 7 == 3;
        grove_child_spec_t spec;
        memset(&spec, 0, sizeof spec);
        spec.start = start_slow;
        spec.arg = c;
        spec.restart = GROVE_PERMANENT;
        spec.shutdown = c->brutal   ? GROVE_SHUTDOWN_BRUTAL_KILL
                        : c->ignore ? KILL_AFTER
                                    : GROVE_SHUTDOWN_INFINITY;
        grove_reason_t why;
        ASSERT_OK(grove_dynsup_start_child(grove_server_pid(sup), &spec,
                                           &pids[i], &why));
        ASSERT_OK(grove_monitor(pids[i], &refs[i]));
        sum += c->brutal ? 0 : c->ignore ? KILL_AFTER : c->delay_ms;
    }
    int64_t took = dynsup_stop(sup);
    gt_note("%d children stopped in %lld ms: slowest %d ms, sum %lld ms",
            SLOW_KIDS, (long long)took, SLOWEST, (long long)sum);
    ASSERT_GE(took, SLOWEST - 20);
    ASSERT_LT(took, SLOWEST + gt_scaled_ms(1500));
    ASSERT_LT(took, sum / 2);
    for (int i = 0; i < SLOW_KIDS; i++) {
        ASSERT_FALSE(grove_is_alive(pids[i]));
        grove_reason_t r = EXPECT_DOWN(refs[i], pids[i]);
        const slow_cfg_t *c = &slow_cfgs[i];
        if (c->brutal || c->ignore)
            ASSERT_REASON_EQ(r, grove_reason_of(GROVE_EXIT_KILLED));
        else
            ASSERT_REASON_EQ(r, grove_reason_shutdown(NULL));
    }
}
