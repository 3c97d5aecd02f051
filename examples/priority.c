/* priority.c: a watchdog that stays on time, a compactor that stays out
 * of the way.
 *
 * Shows: grove_spawn_opts_t.priority (Erlang's spawn_opt priority),
 * grove_set_priority (process_flag(priority, ...)) and the priority field
 * of grove_process_info. On one scheduler, four normal workers crunch
 * through their jobs, yielding between chunks. A high-priority watchdog
 * wakes every 2 ms and measures how late it woke; at high priority it
 * runs at the next yield, ahead of every queued worker. A low-priority
 * compactor with as much work as any worker gives its turn up eight times
 * each time it comes up while the workers are busy, so it does a few
 * dozen of its chunks before they finish and the rest after.
 *
 * Run:  build/release/examples/priority
 * Exits 0 when the compactor yielded to the workers and the watchdog
 * ran while they were busy.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#include <grove.h>

enum { TAG_DONE = 1 };

#define WORKERS 4
#define CHUNKS 400

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* Chunks taken by the workers together when the compactor took each of
 * its own (one scheduler: these are only written by the one running). */
static int worker_chunks;
static int compactor_chunks_while_busy;

static volatile unsigned long sink;

static void crunch(void)
{
    for (unsigned long i = 0; i < 20000; i++)
        sink += i * i;
}

static void worker(void *arg)
{
    grove_pid_t parent = *(grove_pid_t *)arg;
    for (int i = 0; i < CHUNKS; i++) {
        crunch();
        worker_chunks++;
        grove_yield();
    }
    grove_send(parent, TAG_DONE, NULL, 0);
}

static void compactor(void *arg)
{
    grove_pid_t parent = *(grove_pid_t *)arg;
    for (int i = 0; i < CHUNKS; i++) {
        crunch();
        if (worker_chunks < WORKERS * CHUNKS)
            compactor_chunks_while_busy++;
        grove_yield();
    }
    grove_send(parent, TAG_DONE, NULL, 0);
}

/* Wakes every 2 ms until told to stop; reports beats and worst lateness. */
typedef struct {
    grove_pid_t parent;
    int beats;
    uint64_t worst_ns;
} watchdog_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void watchdog(void *arg)
{
    watchdog_t *w = arg;
    grove_msg_t *m;
    /* Started normal, it raises itself: process_flag(priority, high). */
    int old = grove_set_priority(GROVE_PRIO_HIGH);
    printf("watchdog: priority %s -> high\n", grove_priority_name(old));
    for (;;) {
        uint64_t due = now_ns() + 2000000;
        if (grove_recv(&m, 2) == 0) { /* told to stop */
            grove_msg_free(m);
            break;
        }
        uint64_t now = now_ns();
        if (now > due && now - due > w->worst_ns)
            w->worst_ns = now - due;
        w->beats++;
    }
    grove_send(w->parent, TAG_DONE, NULL, 0);
}

static void run(void *arg)
{
    (void)arg;
    static grove_pid_t self;
    static watchdog_t wd;
    self = grove_self();
    wd.parent = self;
    grove_pid_t dog;
    grove_spawn(watchdog, &wd, NULL, &dog);
    grove_spawn_opts_t low = {.priority = GROVE_PRIO_LOW};
    grove_pid_t comp;
    grove_spawn(compactor, &self, &low, &comp);
    grove_process_info_t info;
    if (grove_process_info(comp, &info) == 0)
        printf("compactor: priority %s\n",
               grove_priority_name(info.priority));
    for (int i = 0; i < WORKERS; i++)
        grove_spawn(worker, &self, NULL, NULL);
    grove_msg_t *m;
    /* The workers and the compactor, then the watchdog once stopped. */
    for (int i = 0; i < WORKERS + 2; i++) {
        if (i == WORKERS + 1)
            grove_send(dog, 0, NULL, 0);
        if (grove_recv_tag(&m, TAG_DONE, 60000) == 0)
            grove_msg_free(m);
    }

    printf("workers: %d chunks; compactor: %d of its %d chunks while they "
           "ran\n",
           worker_chunks, compactor_chunks_while_busy, CHUNKS);
    printf("watchdog: %d beats, worst lateness %.2f ms\n", wd.beats,
           (double)wd.worst_ns / 1e6);
    check(worker_chunks == WORKERS * CHUNKS, "every worker finished");
    check(compactor_chunks_while_busy <= WORKERS * CHUNKS / 8,
          "the low compactor gave its turns to the workers");
    check(wd.beats > 0, "the high watchdog beat while the workers ran");
}

int main(void)
{
    grove_config_t cfg = {.schedulers = 1};
    grove_reason_t r;
    if (grove_start(&cfg) != 0 || grove_run(run, NULL, &r) != 0 ||
        grove_stop() != 0)
        return 1;
    printf(failures ? "FAILED\n" : "all checks passed\n");
    return failures != 0;
}
