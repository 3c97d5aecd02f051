/* Deterministic mode (built with GROVE_DETERMINISTIC): every scheduler is
 * stepped by one OS thread, in an order drawn from a seed, and timers run
 * on a logical clock that advances only when nothing is runnable. Given
 * the same seed (and programs that do not read the wall clock), a run
 * makes the same decisions step for step, so a failing interleaving found
 * under one seed is replayed exactly by running again with it.
 *
 * A step runs one process until it yields, blocks or exits (C cannot be
 * preempted). Threads outside the runtime still inject work (grove_run);
 * the loop takes it at its next step.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/internal.h"

#if defined(GROVE_DETERMINISTIC)

static atomic_uint_fast64_t det_clock; /* ms */
static uint64_t rng;

uint64_t grove__det_now(void) { return atomic_load(&det_clock); }

static uint64_t next_rand(void)
{
    /* xorshift64*: small, fast and good enough to pick schedulers. */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

bool grove__det_coin(void) { return next_rand() & 1; }

static uint64_t pick_seed(void)
{
    uint64_t seed = grove__rt.cfg.seed;
    const char *env = getenv("GROVE_SEED");
    if (!seed && env && *env)
        seed = strtoull(env, NULL, 0);
    if (!seed)
        seed = grove__now_ns() | 1;
    fprintf(stderr, "grove: deterministic scheduling, seed %llu\n",
            (unsigned long long)seed);
    return seed;
}

/* Chooses a scheduler with work, by the seed; NULL if none has any. */
static grove__sched_t *pick(void)
{
    grove__sched_t *ready[256];
    int n = 0;
    for (int i = 0; i < grove__rt.nsched; i++)
        if (grove__rq_count(&grove__rt.scheds[i]) > 0)
            ready[n++] = &grove__rt.scheds[i];
    return n ? ready[next_rand() % (uint64_t)n] : NULL;
}

/* Runs every timer that is due now on every wheel. */
static void fire_timers(uint64_t *next)
{
    *next = UINT64_MAX;
    for (int i = 0; i < grove__rt.nsched; i++) {
        grove__sched_t *s = &grove__rt.scheds[i];
        grove__tls_set_sched(s);
        uint64_t t = grove__timers_run(s);
        if (t < *next)
            *next = t;
    }
}

static bool step(void)
{
    grove__proc_t *p = grove__inject_pop();
    grove__sched_t *s;
    if (p) {
        /* Outside work lands on a scheduler the seed picks. */
        s = &grove__rt.scheds[next_rand() % (uint64_t)grove__rt.nsched];
    } else {
        grove__sched_t *q = pick();
        if (!q)
            return false;
        /* Any queued process may run next, on any scheduler: the seed
         * plays the part of wake-up order and work stealing. */
        unsigned len = grove__rq_count(q);
        p = grove__rq_take_nth(q, (unsigned)(next_rand() % (len ? len : 1)));
        if (!p)
            return true;
        s = &grove__rt.scheds[next_rand() % (uint64_t)grove__rt.nsched];
    }
    grove__tls_set_sched(s);
    s->tick++; /* a round of s's loop: hand-offs count on from here */
    grove__warm_cool(s, GROVE__WARM_AGE);
    grove__run_process(s, p);
    grove__post_flush(s); /* one step delivers all it sent */
    return true;
}

/* Nothing runnable: jump the clock to the next timer, or wait for work
 * from outside. */
static void idle(void)
{
    uint64_t next;
    fire_timers(&next);
    if (pick() || atomic_load(&grove__rt.inj_len))
        return;
    for (int i = 0; i < grove__rt.nsched; i++) {
        /* as an idle scheduler does */
        grove__warm_cool(&grove__rt.scheds[i], 0);
        grove__rq_trim(&grove__rt.scheds[i]);
    }
    if (pick())
        return; /* a cooled waiter had news */
    if (next != UINT64_MAX) {
        if (next > atomic_load(&det_clock))
            atomic_store(&det_clock, next);
        atomic_store(&grove__rt.coarse_ms, next);
        grove__trim_stacks(next); /* the service thread's work, in step */
        fire_timers(&next);
        return;
    }
    grove__sched_t *s0 = &grove__rt.scheds[0];
    pthread_mutex_lock(&s0->sleep_lock);
    if (!s0->wake_pending && !atomic_load(&grove__rt.inj_len)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 2000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s0->sleep_cond, &s0->sleep_lock, &ts);
    }
    s0->wake_pending = false;
    pthread_mutex_unlock(&s0->sleep_lock);
}

void *grove__det_main(void *arg)
{
    (void)arg;
    rng = pick_seed();
    atomic_store(&det_clock, 0);
    grove__tls_set_in_rt(1);
    for (int i = 0; i < grove__rt.nsched; i++)
        grove__fiber_init_thread(&grove__rt.scheds[i].fiber);
    if (grove__fault_thread_init(&grove__rt.scheds[0]) < 0)
        grove__panic("grove: cannot set up the signal stack");
    uint64_t steps = 0;
    while (!atomic_load(&grove__rt.stopping)) {
        if (++steps % 64 == 0) {
            uint64_t next;
            fire_timers(&next);
        }
        if (!step())
            idle();
    }
    for (int i = 0; i < grove__rt.nsched; i++) {
        grove__stack_cache_drain(&grove__rt.scheds[i].stacks);
        grove__msg_cache_drain(&grove__rt.scheds[i]);
    }
    grove__fault_thread_fini(&grove__rt.scheds[0]);
    grove__tls_set_sched(NULL);
    return NULL;
}

#else
typedef int grove__det_unused; /* deterministic mode not built */
#endif
