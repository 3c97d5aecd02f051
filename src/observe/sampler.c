/* Scheduler utilisation, from what the runtime already shows: the core
 * keeps no per-scheduler counters, so the sampler derives them.
 *
 *  - Scheduler threads are the OS threads Grove processes run on: each
 *    observer process notes its thread, and while some are still unknown
 *    the sampler spawns one tiny probe per scheduler that reports its
 *    own. A scheduler thread's utilisation is then its CPU time per
 *    second (from /proc/self/task), which counts the short spin an idle
 *    scheduler makes before it sleeps.
 *  - Once a second it also records the runtime's counters as rates and
 *    how many processes are running or runnable at that instant.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "obs.h"

#define SAMPLE_MS 1000
/* Counting running processes reads every process: above this many, the
 * sample leaves it out rather than take a scheduler for long. */
#define COUNT_MAX 200000
#define PROBE_TICKS 30
#define TAG_PROBE UINT64_C(0x4f42530000000101)

typedef struct prev {
    uint64_t wall_ns, cpu_ns;
    grove_stats_t st;
    uint64_t reductions;
    bool have;
} prev_t;

/* ---- threads ------------------------------------------------------------ */

typedef struct tjob {
    uint32_t n;
    grove__obs_thread_t t[GROVE__OBS_THREADS];
} tjob_t;

/* One thread's name and CPU ticks from /proc/self/task/TID/stat. */
static bool read_thread(int tid, grove__obs_thread_t *t)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *open = strchr(line, '('), *close = strrchr(line, ')');
    if (!open || !close || close < open)
        return false;
    size_t k = (size_t)(close - open - 1);
    snprintf(t->name, sizeof t->name, "%.*s", (int)(k < 15 ? k : 15),
             open + 1);
    unsigned long long ut, stime;
    /* After ") ": state, then 10 fields, then utime and stime. */
    if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                          "%llu %llu", &ut, &stime) != 2)
        return false;
    t->tid = tid;
    t->ticks = ut + stime;
    return true;
}

static void read_threads(tjob_t *j)
{
    j->n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && j->n < GROVE__OBS_THREADS) {
        int tid = atoi(e->d_name);
        if (tid > 0 && read_thread(tid, &j->t[j->n]))
            j->n++;
    }
    closedir(d);
}

static bool is_sched(grove__obs_t *o, int tid)
{
    for (int i = 0; i < GROVE__OBS_THREADS; i++)
        if (atomic_load_explicit(&o->sched_tids[i], memory_order_relaxed) ==
            tid)
            return true;
    return false;
}

/* Utilisation: CPU ticks since the last sample of the same thread. */
static void update_threads(grove__obs_t *o, tjob_t *j, double secs)
{
    /* Two observers' samplers may ask at once: one local each. */
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    pthread_mutex_lock(&o->smp_lock);
    for (uint32_t i = 0; i < j->n; i++) {
        grove__obs_thread_t *t = &j->t[i];
        t->scheduler = is_sched(o, t->tid);
        t->utilisation = 0;
        for (uint32_t k = 0; k < o->nthreads; k++)
            if (o->threads[k].tid == t->tid && secs > 0)
                t->utilisation = (double)(t->ticks - o->threads[k].ticks) /
                                 (double)hz / secs;
    }
    memcpy(o->threads, j->t, j->n * sizeof j->t[0]);
    o->nthreads = j->n;
    pthread_mutex_unlock(&o->smp_lock);
}

/* Read on the scheduler, not the blocking pool: /proc files are made
 * from kernel memory and never wait on a device, and a round trip to the
 * pool costs the sampler more scheduling than the reads themselves. */
static void sample_threads(grove__obs_t *o, double secs)
{
    tjob_t *j = grove_calloc(1, sizeof *j);
    if (!j)
        return;
    read_threads(j);
    update_threads(o, j, secs);
    grove_free(j);
}

/* ---- probes ------------------------------------------------------------- */

static void probe_main(void *arg)
{
    int tid = (int)syscall(SYS_gettid);
    grove_send((grove_pid_t){(uint64_t)(uintptr_t)arg}, TAG_PROBE, &tid,
               sizeof tid);
}

static int known_schedulers(grove__obs_t *o)
{
    int n = 0;
    for (int i = 0; i < GROVE__OBS_THREADS; i++)
        n += atomic_load_explicit(&o->sched_tids[i], memory_order_relaxed) != 0;
    return n;
}

static void send_probes(grove__obs_t *o, int tick)
{
    int n = grove_scheduler_count();
    if (tick >= PROBE_TICKS || known_schedulers(o) >= n)
        return;
    void *me = (void *)(uintptr_t)grove_self().id;
    for (int i = 0; i < n; i++)
        grove_spawn(probe_main, me, NULL, NULL);
}

/* ---- counters ----------------------------------------------------------- */

typedef struct census {
    uint32_t running, runnable, n;
    uint64_t reductions;
} census_t;

static void count_one(grove_pid_t pid, void *arg)
{
    census_t *c = arg;
    grove_process_info_t pi;
    if (grove_process_info(pid, &pi) < 0)
        return;
    c->running += pi.status == GROVE_STATUS_RUNNING;
    c->runnable += pi.status == GROVE_STATUS_RUNNABLE;
    c->reductions += pi.reductions;
    c->n++;
}

static double rate(uint64_t now, uint64_t before, double secs)
{
    return secs > 0 && now >= before ? (double)(now - before) / secs : 0;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sample(grove__obs_t *o, prev_t *p)
{
    grove__obs_sample_t s = {.t_ms = grove_now_ms()};
    uint64_t wall = grove__now_ns(), cpu = cpu_ns();
    grove_stats_t st;
    grove_stats(&st);
    census_t c = {0};
    if (st.processes_alive <= COUNT_MAX)
        grove_processes(count_one, &c);
    double secs = p->have ? (double)(wall - p->wall_ns) / 1e9 : 0;
    s.cpu = secs > 0 ? (double)(cpu - p->cpu_ns) / 1e9 / secs : 0;
    s.running = c.running;
    s.runnable = c.runnable;
    s.processes = (uint32_t)st.processes_alive;
    s.messages = st.messages_live;
    /* Live processes only: a process that exited takes its count with
     * it, so this rate is a floor. */
    s.reductions_per_s = rate(c.reductions, p->reductions, secs);
    s.spawned_per_s = rate(st.processes_spawned, p->st.processes_spawned,
                           secs);
    s.exited_per_s = rate(st.processes_exited, p->st.processes_exited, secs);
    s.steals_per_s = rate(st.steals, p->st.steals, secs);
    sample_threads(o, secs);
    pthread_mutex_lock(&o->smp_lock);
    o->samples[o->next_sample] = s;
    o->next_sample = (o->next_sample + 1) % GROVE__OBS_SAMPLES;
    if (o->nsamples < GROVE__OBS_SAMPLES)
        o->nsamples++;
    pthread_mutex_unlock(&o->smp_lock);
    *p = (prev_t){wall, cpu, st, c.reductions, true};
}

/* Probe answers and anything else that arrives until the next tick. */
static void wait_tick(grove__obs_t *o, int64_t until)
{
    for (;;) {
        int64_t left = until - (int64_t)grove_now_ms();
        grove_msg_t *m;
        if (left <= 0 || grove_recv(&m, left) < 0)
            return;
        if (grove_msg_tag(m) == TAG_PROBE && grove_msg_size(m) == sizeof(int))
            grove__obs_note_tid(o, *(const int *)grove_msg_data(m));
        grove_msg_free(m);
    }
}

void grove__obs_sampler_main(void *arg)
{
    (void)arg;
    grove__set_behaviour("observer_sampler");
    grove__obs_t *o = grove__obs_take();
    if (!o)
        return;
    prev_t p = {0};
    for (int tick = 0;; tick++) {
        int64_t next = (int64_t)grove_now_ms() + SAMPLE_MS;
        grove__obs_note_thread(o);
        send_probes(o, tick);
        sample(o, &p);
        wait_tick(o, next);
    }
}

/* ---- GET /api/schedulers ------------------------------------------------ */

typedef struct snap {
    grove__obs_sample_t samples[GROVE__OBS_SAMPLES];
    uint32_t nsamples, first;
    grove__obs_thread_t threads[GROVE__OBS_THREADS];
    uint32_t nthreads;
} snap_t;

static void write_threads(grove__obs_out_t *w, const snap_t *s, bool sched)
{
    size_t out = 0;
    for (uint32_t i = 0; i < s->nthreads; i++) {
        const grove__obs_thread_t *t = &s->threads[i];
        if (sched && !t->scheduler)
            continue;
        grove__obs_printf(w, "%s{\"tid\":%d,", out++ ? "," : "", t->tid);
        if (!sched) {
            grove__obs_puts(w, "\"name\":");
            grove__obs_json_str(w, t->name, 0);
            grove__obs_printf(w, ",\"scheduler\":%s,",
                              t->scheduler ? "true" : "false");
        }
        grove__obs_printf(w, "\"utilisation\":%.3f}", t->utilisation);
    }
}

static void write_samples(grove__obs_out_t *w, const snap_t *s)
{
    for (uint32_t k = 0; k < s->nsamples; k++) {
        const grove__obs_sample_t *x =
            &s->samples[(s->first + k) % GROVE__OBS_SAMPLES];
        grove__obs_printf(w,
                          "%s{\"t_ms\":%llu,\"cpu\":%.3f,\"running\":%u,"
                          "\"runnable\":%u,\"processes\":%u,",
                          k ? "," : "", (unsigned long long)x->t_ms, x->cpu,
                          x->running, x->runnable, x->processes);
        grove__obs_printf(w,
                          "\"reductions_per_s\":%.1f,\"spawned_per_s\":%.1f,"
                          "\"exited_per_s\":%.1f,\"steals_per_s\":%.1f,"
                          "\"messages\":%llu}",
                          x->reductions_per_s, x->spawned_per_s,
                          x->exited_per_s, x->steals_per_s,
                          (unsigned long long)x->messages);
    }
}

void grove__obs_serve_schedulers(grove__obs_conn_t *c)
{
    grove__obs_t *o = c->o;
    snap_t *s = grove_alloc(sizeof *s);
    if (!s) {
        grove__obs_error(c, 503, "out of memory");
        return;
    }
    pthread_mutex_lock(&o->smp_lock);
    memcpy(s->samples, o->samples, sizeof s->samples);
    s->nsamples = o->nsamples;
    s->first = (o->next_sample + GROVE__OBS_SAMPLES - o->nsamples) %
               GROVE__OBS_SAMPLES;
    memcpy(s->threads, o->threads, sizeof s->threads);
    s->nthreads = o->nthreads;
    pthread_mutex_unlock(&o->smp_lock);
    grove__obs_out_t *w = &c->out;
    grove__obs_begin(c, 200, "application/json");
    grove__obs_printf(w, "{\"schedulers\":%d,\"identified\":%d,"
                         "\"interval_ms\":%d,\"utilisation\":[",
                      grove_scheduler_count(), known_schedulers(o), SAMPLE_MS);
    write_threads(w, s, true);
    grove__obs_puts(w, "],\"threads\":[");
    write_threads(w, s, false);
    grove__obs_puts(w, "],\"samples\":[");
    write_samples(w, s);
    grove__obs_puts(w, "]}\n");
    grove_free(s);
}
