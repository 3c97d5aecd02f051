/* A bounded storm of sends, links, monitors and kills across schedulers,
 * meant for ThreadSanitizer as much as for the plain build. Worker
 * processes spawn short-lived victims into a shared pool and act on
 * random pool entries, which other workers act on too. Every monitor a
 * worker makes must produce exactly one DOWN, naming the monitored pid,
 * unless the worker removed it with demonitor(FLUSH), after which none
 * may come. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

enum { WORKERS = 4, POOL = 128, TABLE_BITS = 18 };
#define TABLE_SIZE (1u << TABLE_BITS)
#define RUN_MS 2000

static _Atomic uint64_t pool[POOL];
static atomic_long total_monitors, total_downs, total_removed;

enum mon_state { M_FREE, M_ACTIVE, M_DOWNED, M_REMOVED };

typedef struct mon {
    uint64_t ref;
    uint64_t pid;
    int state;
} mon_t;

typedef struct worker {
    uint64_t rng;
    mon_t *table;
    size_t used;
    size_t active;
    uint64_t *active_refs; /* a sample of refs to demonitor */
    size_t nactive_refs;
} worker_t;

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static mon_t *lookup(worker_t *w, uint64_t ref, bool insert)
{
    size_t mask = TABLE_SIZE - 1;
    size_t i = (size_t)(ref * 0x9e3779b97f4a7c15ull >> (64 - TABLE_BITS));
    for (;; i = (i + 1) & mask) {
        mon_t *m = &w->table[i];
        if (m->state == M_FREE)
            return insert ? m : NULL;
        if (m->ref == ref)
            return m;
    }
}

/* A victim lives a little, receiving, then exits by one of several
 * reasons, unless something kills it first. */
static void victim(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg | 1;
    int life = (int)(next_rand(&rng) % 20);
    for (int i = 0; i < life; i++) {
        grove_msg_t *m;
        if (grove_recv(&m, (grove_timeout_t)(next_rand(&rng) % 3)) == 0)
            grove_msg_free(m);
    }
    grove_reason_t r;
    switch (next_rand(&rng) % 4) {
    case 0:
        return;
    case 1:
        grove_exit_error(1, "victim");
    case 2:
        r = grove_reason_shutdown("victim");
        grove_exit(&r);
    default:
        r = grove_reason_of(GROVE_EXIT_KILL);
        grove_exit(&r);
    }
}

static grove_pid_t random_pool_pid(worker_t *w)
{
    return (grove_pid_t){atomic_load(&pool[next_rand(&w->rng) % POOL])};
}

static void track(worker_t *w, grove_ref_t ref, grove_pid_t pid)
{
    mon_t *m = lookup(w, ref.id, true);
    if (m->state != M_FREE)
        GT_FAIL("monitor reference %llu made twice",
                (unsigned long long)ref.id);
    *m = (mon_t){ref.id, pid.id, M_ACTIVE};
    w->used++;
    w->active++;
    atomic_fetch_add(&total_monitors, 1);
    w->active_refs[w->nactive_refs++ % 1024] = ref.id;
}

static void handle_msg(worker_t *w, grove_msg_t *msg)
{
    if (grove_msg_kind(msg) == GROVE_MSG_DOWN) {
        mon_t *m = lookup(w, grove_msg_ref(msg).id, false);
        if (!m)
            GT_FAIL("DOWN for a reference never made");
        if (m->state != M_ACTIVE)
            GT_FAIL("DOWN for a monitor in state %d (2: second DOWN, "
                    "3: after demonitor with flush)", m->state);
        if (grove_msg_from(msg).id != m->pid)
            GT_FAIL("DOWN names %s, the monitor was on %s",
                    gt_pid_str(grove_msg_from(msg)),
                    gt_pid_str((grove_pid_t){m->pid}));
        m->state = M_DOWNED;
        w->active--;
        atomic_fetch_add(&total_downs, 1);
    }
    grove_msg_free(msg);
}

static void drain(worker_t *w, int max)
{
    grove_msg_t *msg;
    for (int i = 0; i < max && grove_recv(&msg, 0) == 0; i++)
        handle_msg(w, msg);
}

static void spawn_victim(worker_t *w)
{
    bool mon = next_rand(&w->rng) & 1;
    grove_ref_t ref = GROVE_REF_NONE;
    grove_spawn_opts_t o = {.link = (next_rand(&w->rng) & 3) == 0,
                            .monitor = mon && w->used < TABLE_SIZE / 2,
                            .monitor_ref = &ref};
    grove_pid_t p;
    int rc = grove_spawn(victim, (void *)(uintptr_t)next_rand(&w->rng),
                         &o, &p);
    if (rc == GROVE_ELIMIT)
        return;
    ASSERT_OK(rc);
    if (o.monitor)
        track(w, ref, p);
    atomic_store(&pool[next_rand(&w->rng) % POOL], p.id);
}

static void demonitor_one(worker_t *w)
{
    if (w->nactive_refs == 0)
        return;
    size_t n = w->nactive_refs < 1024 ? w->nactive_refs : 1024;
    uint64_t id = w->active_refs[next_rand(&w->rng) % n];
    mon_t *m = lookup(w, id, false);
    if (!m || m->state != M_ACTIVE)
        return;
    int rc = grove_demonitor((grove_ref_t){id},
                             GROVE_DEMONITOR_FLUSH | GROVE_DEMONITOR_INFO);
    ASSERT_TRUE(rc == 0 || rc == 1);
    m->state = M_REMOVED;
    w->active--;
    atomic_fetch_add(&total_removed, 1);
}

static void one_op(worker_t *w)
{
    grove_pid_t p;
    switch (next_rand(&w->rng) % 10) {
    case 0:
    case 1:
    case 2:
        spawn_victim(w);
        break;
    case 3:
    case 4: {
        p = random_pool_pid(w);
        if (grove_pid_is_none(p) || w->used >= TABLE_SIZE / 2)
            break;
        grove_ref_t ref;
        ASSERT_OK(grove_monitor(p, &ref));
        track(w, ref, p);
        break;
    }
    case 5:
        p = random_pool_pid(w);
        if (!grove_pid_is_none(p)) {
            int rc = grove_link(p);
            ASSERT_TRUE(rc == 0 || rc == GROVE_ENOPROC);
            ASSERT_OK(grove_unlink(p));
        }
        break;
    case 6:
        p = random_pool_pid(w);
        if (!grove_pid_is_none(p)) {
            int rc = grove_send(p, 1, "hi", 2);
            ASSERT_TRUE(rc == 0 || rc == GROVE_ENOPROC);
        }
        break;
    case 7: {
        p = random_pool_pid(w);
        grove_reason_t r = (next_rand(&w->rng) & 1)
                               ? grove_reason_of(GROVE_EXIT_KILL)
                               : grove_reason_shutdown("chaos");
        if (!grove_pid_is_none(p)) {
            int rc = grove_exit_signal(p, &r);
            ASSERT_TRUE(rc == 0 || rc == GROVE_ENOPROC);
        }
        break;
    }
    case 8:
        demonitor_one(w);
        break;
    default:
        drain(w, 64);
        break;
    }
}

/* Notes a few monitors still waiting for their DOWN, and the state of the
 * processes they watch. */
static void report_unfired(const worker_t *w)
{
    int shown = 0;
    for (size_t i = 0; i < TABLE_SIZE && shown < 8; i++) {
        const mon_t *m = &w->table[i];
        if (m->state != M_ACTIVE)
            continue;
        grove_pid_t pid = {m->pid};
        grove_process_info_t pi;
        int rc = grove_process_info(pid, &pi);
        gt_note("no DOWN for monitor %llu on %s: %s, status %d, mailbox %zu, "
                "scheduled %llu times",
                (unsigned long long)m->ref, gt_pid_str(pid),
                rc == 0 ? "alive" : grove_errname(rc), rc == 0 ? pi.status : 0,
                rc == 0 ? pi.mailbox_len : 0,
                rc == 0 ? (unsigned long long)pi.reductions : 0ull);
        shown++;
    }
}

static void chaos_worker(void *arg)
{
    worker_t w;
    memset(&w, 0, sizeof w);
    w.rng = 0x9e3779b97f4a7c15ull * ((uint64_t)(uintptr_t)arg + 1);
    w.table = calloc(TABLE_SIZE, sizeof *w.table);
    w.active_refs = calloc(1024, sizeof *w.active_refs);
    ASSERT_NOT_NULL(w.table);
    ASSERT_NOT_NULL(w.active_refs);
    ASSERT_EQ(grove_trap_exit(true), 0);
    int64_t end = gt_now_ms() + RUN_MS;
    long ops = 0;
    while (gt_now_ms() < end) {
        one_op(&w);
        if (++ops % 32 == 0)
            grove_yield();
    }
    /* Victims all end by themselves soon; wait for every DOWN, giving up
     * before the test's own wait for this worker does, so that a missing
     * DOWN is reported with what is known of its process. */
    int64_t dl = gt_now_ms() + gt_scaled_ms(GT_WAIT_MS) / 2;
    while (w.active > 0) {
        grove_msg_t *msg;
        int rc = grove_recv(&msg, 100);
        if (rc == 0)
            handle_msg(&w, msg);
        else if (gt_now_ms() > dl) {
            report_unfired(&w);
            GT_FAIL("%zu monitors never fired", w.active);
        }
    }
    /* And nothing more comes. */
    grove_msg_t *msg;
    while (grove_recv(&msg, 50) == 0)
        handle_msg(&w, msg);
    free(w.table);
    free(w.active_refs);
}

PROC_TEST_OPTS(chaos_links_monitors_kills, .schedulers = 4,
               .timeout_s = 90)
{
    for (int i = 0; i < POOL; i++)
        atomic_store(&pool[i], 0);
    atomic_store(&total_monitors, 0);
    atomic_store(&total_downs, 0);
    atomic_store(&total_removed, 0);
    grove_pid_t w[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        w[i] = SPAWN_MON(chaos_worker, (void *)(uintptr_t)i, NULL);
    for (int i = 0; i < WORKERS; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(w[i]), grove_reason_normal());
    long mons = atomic_load(&total_monitors);
    long downs = atomic_load(&total_downs);
    long removed = atomic_load(&total_removed);
    ASSERT_EQ(downs + removed, mons);
    ASSERT_GT(mons, 100);
    gt_note("%ld monitors: %ld DOWN, %ld removed; %llu processes spawned",
            mons, downs, removed,
            (unsigned long long)gt_stats().processes_spawned);
}
