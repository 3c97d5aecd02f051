/* Process priorities (Erlang's process_flag(priority, Level) and spawn_opt
 * priority): on a scheduler, max processes run before high ones, high
 * before normal and low, and a low process gives up its turn to the normal
 * ones beside it several times before it runs. The order is observed
 * through a log each process appends to when it gets a turn, on a runtime
 * with one scheduler (priorities order each scheduler's queue). */
#include <stdatomic.h>
#include <string.h>

#include "grove_test.h"

#define TAG_GO 1
#define TAG_DONE 2
#define TURNS 5

/* ---- the turn log ---------------------------------------------------------- */

static char turns[1024];
static atomic_int nturns;

static void log_reset(void)
{
    memset(turns, 0, sizeof turns);
    atomic_store(&nturns, 0);
}

static void log_turn(char who)
{
    int i = atomic_fetch_add(&nturns, 1);
    if (i < (int)sizeof turns - 1)
        turns[i] = who;
}

static int count_in(const char *s, int n, char who)
{
    int c = 0;
    for (int i = 0; i < n && s[i]; i++)
        c += s[i] == who;
    return c;
}

/* Takes TURNS turns, yielding between them; arg is its letter. */
static void turn_taker(void *arg)
{
    for (int i = 0; i < TURNS; i++) {
        log_turn((char)(intptr_t)arg);
        grove_yield();
    }
}

static grove_pid_t spawn_at(char who, grove_priority_t prio)
{
    grove_spawn_opts_t o = {.priority = prio};
    return SPAWN_MON(turn_taker, (void *)(intptr_t)who, &o);
}

static void run_one_scheduler(void (*body)(void *), void *arg)
{
    grove_config_t cfg = {.schedulers = 1};
    ASSERT_OK(grove_start(&cfg));
    grove_reason_t r;
    ASSERT_OK(grove_run(body, arg, &r));
    ASSERT_EQ(r.kind, GROVE_EXIT_NORMAL);
    ASSERT_OK(grove_stop());
}

/* ---- the flag ------------------------------------------------------------- */

PROC_TEST(priority_flag_sets_and_returns_the_old_level)
{
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.priority, GROVE_PRIO_NORMAL);
    ASSERT_EQ(grove_set_priority(GROVE_PRIO_HIGH), GROVE_PRIO_NORMAL);
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.priority, GROVE_PRIO_HIGH);
    ASSERT_EQ(grove_set_priority(GROVE_PRIO_LOW), GROVE_PRIO_HIGH);
    ASSERT_ERR(grove_set_priority((grove_priority_t)4), GROVE_EINVAL);
    ASSERT_ERR(grove_set_priority((grove_priority_t)-1), GROVE_EINVAL);
    ASSERT_EQ(grove_set_priority(GROVE_PRIO_MAX), GROVE_PRIO_LOW);
    ASSERT_EQ(grove_set_priority(GROVE_PRIO_NORMAL), GROVE_PRIO_MAX);
    ASSERT_STREQ(grove_priority_name(GROVE_PRIO_NORMAL), "normal");
    ASSERT_STREQ(grove_priority_name(GROVE_PRIO_LOW), "low");
    ASSERT_STREQ(grove_priority_name(GROVE_PRIO_HIGH), "high");
    ASSERT_STREQ(grove_priority_name(GROVE_PRIO_MAX), "max");
    ASSERT_STREQ(grove_priority_name(9), "unknown");
}

TEST(priority_flag_outside_a_process)
{
    ASSERT_ERR(grove_set_priority(GROVE_PRIO_HIGH), GROVE_ENOTPROC);
}

static grove_gs_ret_t idle_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    return GROVE_GS_INIT_OK();
}

static const grove_gs_callbacks_t idle_cb = {.name = "idle",
                                             .init = idle_init};

/* The spawn option, for processes and gen_servers; an unknown level is
 * refused before anything starts. */
PROC_TEST(priority_spawn_option)
{
    grove_spawn_opts_t o = {.priority = GROVE_PRIO_LOW};
    grove_pid_t p = SPAWN_MON(turn_taker, (void *)(intptr_t)'x', &o);
    grove_process_info_t info;
    int rc = grove_process_info(p, &info);
    if (rc == 0)
        ASSERT_EQ(info.priority, GROVE_PRIO_LOW);
    ASSERT_EQ(AWAIT_EXIT(p).kind, GROVE_EXIT_NORMAL);

    o.priority = (grove_priority_t)7;
    ASSERT_ERR(grove_spawn(turn_taker, NULL, &o, NULL), GROVE_EINVAL);

    grove_gs_opts_t gso = {.priority = GROVE_PRIO_HIGH};
    grove_pid_t srv;
    ASSERT_OK(grove_gs_start(&idle_cb, NULL, &gso, &srv, NULL));
    ASSERT_OK(grove_process_info(srv, &info));
    ASSERT_EQ(info.priority, GROVE_PRIO_HIGH);
    ASSERT_OK(grove_gs_stop(grove_server_pid(srv), NULL, 5000, NULL));
    gso.priority = (grove_priority_t)7;
    ASSERT_ERR(grove_gs_start(&idle_cb, NULL, &gso, &srv, NULL),
               GROVE_EINVAL);
}

/* ---- the order of turns --------------------------------------------------- */

/* Three turn takers spawned in the order given; blocks: the letter
 * expected to take each run of TURNS turns, from the first. */
typedef struct {
    char who[3];
    grove_priority_t prio[3];
    const char *blocks;
} order_t;

static void order_body(void *arg)
{
    const order_t *o = arg;
    grove_pid_t p[3];
    log_reset();
    for (int i = 0; i < 3; i++)
        p[i] = spawn_at(o->who[i], o->prio[i]);
    for (int i = 0; i < 3; i++)
        AWAIT_EXIT(p[i]);
    ASSERT_EQ(atomic_load(&nturns), 3 * TURNS);
    for (int k = 0; o->blocks[k]; k++)
        ASSERT_EQ(count_in(turns + k * TURNS, TURNS, o->blocks[k]), TURNS);
}

/* Spawned first, the high process still takes all its turns before the
 * normal ones take any (spawns otherwise run newest first). */
TEST(priority_high_runs_before_normal)
{
    static const order_t o = {
        {'h', 'a', 'b'},
        {GROVE_PRIO_HIGH, GROVE_PRIO_NORMAL, GROVE_PRIO_NORMAL},
        "h"};
    run_one_scheduler(order_body, (void *)&o);
}

TEST(priority_max_runs_before_high)
{
    static const order_t o = {
        {'h', 'n', 'm'},
        {GROVE_PRIO_HIGH, GROVE_PRIO_NORMAL, GROVE_PRIO_MAX},
        "mhn"};
    run_one_scheduler(order_body, (void *)&o);
}

/* A woken high process runs before a normal one woken after it (which
 * would otherwise take the scheduler's next turn). */
static void waiter(void *arg)
{
    grove_msg_t *m;
    ASSERT_OK(grove_recv_tag(&m, TAG_GO, GT_WAIT_MS));
    grove_msg_free(m);
    log_turn((char)(intptr_t)arg);
}

static void woken_body(void *arg)
{
    (void)arg;
    log_reset();
    grove_spawn_opts_t hi = {.priority = GROVE_PRIO_HIGH};
    grove_pid_t h = SPAWN_MON(waiter, (void *)(intptr_t)'h', &hi);
    grove_pid_t x = SPAWN_MON(waiter, (void *)(intptr_t)'x', NULL);
    /* Both wait: a turn each after this one's sleep. */
    ASSERT_OK(grove_sleep(20));
    ASSERT_OK(grove_send(h, TAG_GO, NULL, 0));
    ASSERT_OK(grove_send(x, TAG_GO, NULL, 0));
    AWAIT_EXIT(h);
    AWAIT_EXIT(x);
    ASSERT_EQ(atomic_load(&nturns), 2);
    ASSERT_EQ(turns[0], 'h');
    ASSERT_EQ(turns[1], 'x');
}

TEST(priority_woken_high_runs_before_woken_normal)
{
    run_one_scheduler(woken_body, NULL);
}

/* A low process runs about once for every eight turns of a normal one
 * beside it; with no one else runnable it runs at once. */
#define LOW_TURNS 64

static void many_turns(void *arg)
{
    for (int i = 0; i < LOW_TURNS; i++) {
        log_turn((char)(intptr_t)arg);
        grove_yield();
    }
}

static void low_body(void *arg)
{
    (void)arg;
    log_reset();
    grove_spawn_opts_t lo = {.priority = GROVE_PRIO_LOW};
    grove_pid_t l = SPAWN_MON(many_turns, (void *)(intptr_t)'l', &lo);
    grove_pid_t n = SPAWN_MON(many_turns, (void *)(intptr_t)'n', NULL);
    AWAIT_EXIT(l);
    AWAIT_EXIT(n);
    ASSERT_EQ(atomic_load(&nturns), 2 * LOW_TURNS);
    /* Where the normal one took its last turn, the low one had taken at
     * most one in eight (plus the turn the aging pick may give it). */
    const char *last_n = strrchr(turns, 'n');
    ASSERT_TRUE(last_n != NULL);
    int low_before = count_in(turns, (int)(last_n - turns), 'l');
    ASSERT_TRUE(low_before <= LOW_TURNS / 8 + 4);
    ASSERT_TRUE(low_before >= 1); /* never starved */
    /* Alone, it takes its turns back to back. */
    log_reset();
    l = SPAWN_MON(turn_taker, (void *)(intptr_t)'l', &lo);
    ASSERT_EQ(AWAIT_EXIT(l).kind, GROVE_EXIT_NORMAL);
    ASSERT_EQ(atomic_load(&nturns), TURNS);
}

TEST(priority_low_gives_normal_its_turns)
{
#if defined(GROVE_DETERMINISTIC)
    /* The seed picks among normal and low processes freely there. */
    (void)low_body;
    SKIP_TEST("turn ratios are the real scheduler's");
#else
    run_one_scheduler(low_body, NULL);
#endif
}

/* ---- every level on both schedulers --------------------------------------- */

#define MIXED_PER_LEVEL 40
#define MIXED_MSGS 200

static void pinger(void *arg)
{
    grove_pid_t to = *(grove_pid_t *)arg;
    for (int i = 0; i < MIXED_MSGS; i++) {
        ASSERT_OK(grove_send(to, TAG_GO, NULL, 0));
        if (i % 16 == 0)
            grove_yield();
    }
    ASSERT_OK(grove_send(to, TAG_DONE, NULL, 0));
}

/* Processes of every level sending from both schedulers (high ones are
 * stolen from behind a busy one, low ones skipped): every message
 * arrives and every process finishes. */
PROC_TEST(priority_mixed_levels_lose_nothing)
{
    static grove_pid_t self;
    self = grove_self();
    grove_priority_t levels[] = {GROVE_PRIO_LOW, GROVE_PRIO_NORMAL,
                                 GROVE_PRIO_HIGH, GROVE_PRIO_MAX};
    int procs = 0;
    for (int i = 0; i < MIXED_PER_LEVEL; i++)
        for (int k = 0; k < 4; k++) {
            grove_spawn_opts_t o = {.priority = levels[k]};
            ASSERT_OK(grove_spawn(pinger, &self, &o, NULL));
            procs++;
        }
    int go = 0, done = 0;
    while (done < procs) {
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, GT_WAIT_MS));
        if (grove_msg_tag(m) == TAG_GO)
            go++;
        else if (grove_msg_tag(m) == TAG_DONE)
            done++;
        grove_msg_free(m);
    }
    ASSERT_EQ(go, procs * MIXED_MSGS);
}
