/* The processes that attack the tree, outside it:
 *
 *  - chaos processes (one per scheduler): at the configured rates, kill a
 *    random worker, session, service or supervisor, or ask a worker or
 *    session to fault; one of them now and then asks a worker to
 *    allocate until allocation fails.
 *  - the prober: kills a random worker and measures the time until a
 *    replacement is registered under its name and answers a call.
 *  - the fragile driver: drives the fragile subtree exactly to its
 *    restart limit, checks it holds, then one kill past it, and checks
 *    that it escalated (exit shutdown) and that the root restarted it.
 *
 * The fragile subtree is left to its driver: the chaos never touches it,
 * so every escalation there is one the driver asked for.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "soak.h"

static grove_reason_t kill_reason(void)
{
    return grove_reason_of(GROVE_EXIT_KILL);
}

/* A helper stops when TAG_STOP arrives; otherwise waits up to ms. */
static bool stop_requested(grove_timeout_t ms)
{
    grove_msg_t *m;
    if (grove_recv_tag(&m, TAG_STOP, ms) != 0)
        return false;
    grove_msg_free(m);
    return true;
}

static const wdef_t *random_def(uint64_t *rng)
{
    for (int tries = 0; tries < 16; tries++) {
        const wdef_t *d = &soak_workers[soak_rand(rng) % soak_nworkers];
        if (d->chaos)
            return d;
    }
    return NULL;
}

static grove_pid_t random_worker(uint64_t *rng)
{
    const wdef_t *d = random_def(rng);
    return d ? soak_key_pid(d->key) : GROVE_PID_NONE;
}

static grove_pid_t random_service(uint64_t *rng)
{
    static const char *const local[] = {N_DB, N_CLOCK, N_SESSMGR};
    static const char *const keys[] = {K_CACHE, K_AUDITOR};
    uint64_t r = soak_rand(rng) % 5;
    return r < 3 ? soak_name_pid(local[r]) : soak_key_pid(keys[r - 3]);
}

static grove_pid_t random_supervisor(uint64_t *rng)
{
    const char *names[32];
    size_t n = soak_chaos_sup_names(names, 32);
    return n ? soak_name_pid(names[soak_rand(rng) % n]) : GROVE_PID_NONE;
}

/* ---- chaos -------------------------------------------------------------- */

static void chaos_kill(uint64_t *rng)
{
    uint64_t r = soak_rand(rng) % (soak_cfg.sup_kills ? 100 : 93);
    kill_class_t cls = r < 80   ? K_WORKER
                       : r < 88 ? K_SESSION
                       : r < 93 ? K_SERVICE
                                : K_SUPERVISOR;
    grove_pid_t pid = cls == K_WORKER    ? random_worker(rng)
                      : cls == K_SESSION ? soak_random_session(rng, NULL)
                      : cls == K_SERVICE ? random_service(rng)
                                         : random_supervisor(rng);
    /* Mostly kill; now and then an error exit signal, which a trapping
     * worker receives as an EXIT message (supervisors ignore those from
     * strangers, so they only get kill). */
    grove_reason_t why = cls != K_SUPERVISOR && soak_rand(rng) % 10 == 0
                             ? grove_reason_error(99, "chaos")
                             : kill_reason();
    if (pid.id && grove_exit_signal(pid, &why) == 0)
        soak_inc(&soak_ctr.kills[cls]);
    else
        soak_inc(&soak_ctr.kill_misses);
}

static void chaos_fault(uint64_t *rng)
{
    grove_pid_t pid = soak_rand(rng) % 100 < 85
                          ? random_worker(rng)
                          : soak_random_session(rng, NULL);
    uint64_t r = soak_rand(rng) % 100;
    int kind = r < 24   ? F_NULL
               : r < 44 ? F_STACK
               : r < 68 ? F_ASSERT
               : r < 93 ? F_UNEXPECTED
                        : F_QUIT;
    int rc = GROVE_ENOPROC;
    if (pid.id && kind == F_UNEXPECTED)
        rc = grove_send(pid, TAG_ROGUE, "?", 1);
    else if (pid.id)
        rc = grove_gs_cast(grove_server_pid(pid), TAG_FAULT, &kind,
                           sizeof kind);
    if (rc == 0)
        soak_inc(&soak_ctr.faults_sent[kind]);
    else
        soak_inc(&soak_ctr.kill_misses);
}

/* One allocation-failure fault at a time: soak_oom_busy is set here and
 * cleared when the worker that ran it exits. If the worker dies before
 * it gets the request, the flag is cleared after 20 s.
 *
 * The target never traps exits. A trapping worker busy allocating would
 * read its supervisor's shutdown only after the whole attempt, hundreds
 * of milliseconds under load, keeping its name all that time; when the
 * chaos has killed that supervisor's parent, the restarted parent finds
 * the name taken and its own parent retries at once, counting every try
 * toward its intensity, as OTP does. A non-trapping one dies at its next
 * grove_yield. */
static grove_pid_t oom_target(uint64_t *rng)
{
    for (int tries = 0; tries < 16; tries++) {
        const wdef_t *d = random_def(rng);
        if (d && !(d->flags & W_TRAP))
            return soak_key_pid(d->key);
    }
    return GROVE_PID_NONE;
}

static void chaos_oom(uint64_t *rng, uint64_t *started)
{
    uint64_t now = grove_now_ms();
    if (atomic_exchange(&soak_oom_busy, true)) {
        if (now - *started > 20000)
            atomic_store(&soak_oom_busy, false);
        return;
    }
    grove_pid_t pid = oom_target(rng);
    int kind = F_OOM;
    if (pid.id && grove_gs_cast(grove_server_pid(pid), TAG_FAULT, &kind,
                                sizeof kind) == 0) {
        soak_inc(&soak_ctr.faults_sent[F_OOM]);
        *started = now;
    } else {
        atomic_store(&soak_oom_busy, false);
    }
}

void soak_chaos_main(void *arg)
{
    int idx = (int)(intptr_t)arg;
    int nchaos = grove_scheduler_count();
    uint64_t rng = soak_seed_for(0xc4a05 + (uint64_t)idx);
    double total = soak_cfg.kill_rate + soak_cfg.fault_rate;
    if (total <= 0 || nchaos <= 0) {
        while (!stop_requested(GROVE_INFINITY))
            ;
        return;
    }
    double step = 1000.0 * nchaos / total;
    unsigned kill_share = (unsigned)(10000 * soak_cfg.kill_rate / total);
    double due = (double)grove_now_ms() + step * idx / nchaos;
    uint64_t oom_every = (uint64_t)soak_cfg.oom_every_s * 1000;
    uint64_t next_oom = grove_now_ms() + oom_every, oom_started = 0;
    for (;;) {
        double now = (double)grove_now_ms();
        grove_timeout_t wait = due > now ? (grove_timeout_t)(due - now) : 0;
        if (stop_requested(wait))
            return;
        due += step;
        if (due < now - 1000)
            due = now; /* after a stall, do not catch up in a burst */
        if (soak_rand(&rng) % 10000 < kill_share)
            chaos_kill(&rng);
        else
            chaos_fault(&rng);
        if (idx == 0 && oom_every && grove_now_ms() >= next_oom) {
            chaos_oom(&rng, &oom_started);
            next_oom += oom_every;
        }
    }
}

/* ---- restart latency ---------------------------------------------------- */

#define MAX_SAMPLES 65536

static pthread_mutex_t lat_mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t lat[MAX_SAMPLES];
static uint64_t lat_n, lat_max, lat_sum;

static void record_latency(uint64_t ms)
{
    pthread_mutex_lock(&lat_mu);
    if (lat_n < MAX_SAMPLES)
        lat[lat_n] = (uint32_t)ms;
    lat_n++;
    lat_sum += ms;
    if (ms > lat_max)
        lat_max = ms;
    pthread_mutex_unlock(&lat_mu);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void soak_latency_summary(uint64_t *n, uint64_t *max, double *mean,
                          uint64_t *p99)
{
    pthread_mutex_lock(&lat_mu);
    size_t k = lat_n < MAX_SAMPLES ? lat_n : MAX_SAMPLES;
    qsort(lat, k, sizeof *lat, cmp_u32);
    *n = lat_n;
    *max = lat_max;
    *mean = lat_n ? (double)lat_sum / (double)lat_n : 0;
    *p99 = k ? lat[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1] : 0;
    pthread_mutex_unlock(&lat_mu);
}

/* Waits until key names a live process other than old that answers a
 * call. A replacement that dies before answering (the chaos goes on) is
 * waited past. */
static void await_replacement(const wdef_t *d, grove_pid_t old, uint64_t t0)
{
    int64_t limit = soak_ms(30000);
    for (;;) {
        grove_pid_t p = soak_key_pid(d->key);
        if (p.id && p.id != old.id) {
            grove_msg_t *r = NULL;
            int rc = grove_gs_try_call(grove_server_pid(p), TAG_PING, NULL,
                                       0, &r, 1000, NULL);
            grove_msg_free(r);
            if (rc == 0) {
                record_latency(grove_now_ms() - t0);
                return;
            }
            if (!grove_is_alive(p))
                old = p;
        }
        if ((int64_t)(grove_now_ms() - t0) > limit) {
            soak_inc(&soak_ctr.probe_failures);
            soak_violation("worker %s killed, no replacement answered "
                           "within %lld ms", d->key, (long long)limit);
            return;
        }
        grove_sleep(1);
    }
}

void soak_prober_main(void *arg)
{
    (void)arg;
    uint64_t rng = soak_seed_for(0x970be);
    while (!stop_requested(200)) {
        const wdef_t *d = random_def(&rng);
        grove_pid_t old = d ? soak_key_pid(d->key) : GROVE_PID_NONE;
        grove_reason_t kill = kill_reason();
        if (!old.id || grove_exit_signal(old, &kill) != 0)
            continue;
        uint64_t t0 = grove_now_ms();
        soak_inc(&soak_ctr.kills[K_PROBE]);
        soak_inc(&soak_ctr.probes);
        await_replacement(d, old, t0);
    }
}

/* ---- the fragile subtree ------------------------------------------------ */

/* The pid of child id under sup: NONE if it is not running. */
static int fragile_child(grove_pid_t sup, const char *id, grove_pid_t *out)
{
    grove_child_info_t info[FRAGILE_WORKERS + 2];
    size_t n = 0;
    int rc = grove_sup_which_children(grove_server_pid(sup), info,
                                      FRAGILE_WORKERS + 2, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n && i < FRAGILE_WORKERS + 2; i++)
        if (strcmp(info[i].id, id) == 0) {
            *out = info[i].state == GROVE_CHILD_RUNNING ? info[i].pid
                                                        : GROVE_PID_NONE;
            return 0;
        }
    return GROVE_ENOTFOUND;
}

/* Waits until the fragile supervisor (a new one, if old is given) runs
 * with every child up. */
static bool fragile_up(grove_pid_t old, grove_pid_t *sup)
{
    uint64_t t0 = grove_now_ms();
    while ((int64_t)(grove_now_ms() - t0) < soak_ms(10000)) {
        grove_pid_t s = soak_name_pid(N_FRAGILE), p;
        size_t up = 0;
        if (s.id && s.id != old.id) {
            char id[8];
            for (int i = 0; i < FRAGILE_WORKERS; i++) {
                snprintf(id, sizeof id, "f/%d", i);
                up += fragile_child(s, id, &p) == 0 && p.id;
            }
        }
        if (up == FRAGILE_WORKERS) {
            *sup = s;
            return true;
        }
        grove_sleep(2);
    }
    return false;
}

/* Kills child k and waits for its replacement. */
static bool fragile_kill(grove_pid_t sup, int k, bool wait)
{
    char id[8];
    grove_pid_t old = GROVE_PID_NONE, p = GROVE_PID_NONE;
    snprintf(id, sizeof id, "f/%d", k);
    grove_reason_t kill = kill_reason();
    if (fragile_child(sup, id, &old) != 0 || !old.id ||
        grove_exit_signal(old, &kill) != 0) {
        soak_violation("fragile: child %s not there to kill", id);
        return false;
    }
    soak_inc(&soak_ctr.kills[K_FRAGILE]);
    uint64_t t0 = grove_now_ms();
    while (wait && (int64_t)(grove_now_ms() - t0) < soak_ms(10000)) {
        if (fragile_child(sup, id, &p) == 0 && p.id && p.id != old.id)
            return true;
        grove_sleep(1);
    }
    if (wait)
        soak_violation("fragile: child %s not restarted", id);
    return !wait;
}

/* Up to the limit: no escalation, and grove_sup_stats counts them. */
static bool fragile_to_limit(grove_pid_t sup, uint64_t t0)
{
    for (int k = 0; k < FRAGILE_MAX_RESTARTS; k++)
        if (!fragile_kill(sup, k, true))
            return false;
    grove_sup_stats_t st;
    if (!grove_is_alive(sup) ||
        grove_sup_stats(grove_server_pid(sup), &st) != 0) {
        soak_violation("fragile escalated after %d restarts; its limit is "
                       "%d in %d s", FRAGILE_MAX_RESTARTS,
                       FRAGILE_MAX_RESTARTS, FRAGILE_MAX_SECONDS);
        return false;
    }
    /* The window holds them all unless this cycle took longer than the
     * period (it takes milliseconds). */
    bool in_period = grove_now_ms() - t0 < FRAGILE_MAX_SECONDS * 1000u / 2;
    if (st.restarts != FRAGILE_MAX_RESTARTS ||
        (in_period && st.in_window != FRAGILE_MAX_RESTARTS))
        soak_violation("fragile: grove_sup_stats says %llu restarts, %llu "
                       "in window; %d were made",
                       (unsigned long long)st.restarts,
                       (unsigned long long)st.in_window,
                       FRAGILE_MAX_RESTARTS);
    return true;
}

/* One kill past the limit: the supervisor must exit with shutdown, and
 * the root must start a new one. */
static void fragile_past_limit(grove_pid_t sup, grove_ref_t mref)
{
    if (!fragile_kill(sup, FRAGILE_MAX_RESTARTS, false))
        return;
    grove_msg_t *m;
    if (grove_recv_ref(&m, mref, soak_ms(10000)) != 0) {
        soak_violation("fragile did not escalate after %d restarts in "
                       "%d s", FRAGILE_MAX_RESTARTS + 1,
                       FRAGILE_MAX_SECONDS);
        return;
    }
    grove_reason_t r = *grove_msg_reason(m), shutdown =
                                                 grove_reason_shutdown(NULL);
    grove_msg_free(m);
    if (!grove_reason_equal(&r, &shutdown)) {
        char buf[160];
        grove_reason_format(&r, buf, sizeof buf);
        soak_violation("fragile ended with %s, expected shutdown", buf);
        return;
    }
    soak_inc(&soak_ctr.fragile_escalations);
    grove_pid_t fresh;
    if (!fragile_up(sup, &fresh))
        soak_violation("the root did not restart fragile after it "
                       "escalated");
}

static void fragile_cycle(void)
{
    grove_pid_t sup;
    if (!fragile_up(GROVE_PID_NONE, &sup)) {
        soak_violation("fragile subtree is not up");
        return;
    }
    grove_sup_stats_t st;
    if (grove_sup_stats(grove_server_pid(sup), &st) != 0 ||
        st.restarts != 0 || st.in_window != 0)
        soak_violation("fragile: a new instance has restarts %llu, %llu "
                       "in window", (unsigned long long)st.restarts,
                       (unsigned long long)st.in_window);
    grove_ref_t mref;
    grove_monitor(sup, &mref);
    uint64_t t0 = grove_now_ms();
    if (fragile_to_limit(sup, t0))
        fragile_past_limit(sup, mref);
    else
        grove_demonitor(mref, GROVE_DEMONITOR_FLUSH);
    soak_inc(&soak_ctr.fragile_cycles);
}

void soak_fragile_main(void *arg)
{
    (void)arg;
    do
        fragile_cycle();
    while (!stop_requested(soak_ms(1500)));
}
