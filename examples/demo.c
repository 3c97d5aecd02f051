/* demo.c: a small service that heals itself.
 *
 * Four worker processes serve jobs. Each is linked to a manager process
 * that traps exits and starts a fresh worker, under the same name, when
 * one dies: a hand-rolled one_for_one supervisor. A load generator sends
 * jobs to the workers by name and, now and then, a poisoned one that hits
 * a bug: a NULL dereference, a failed assertion, a runaway recursion that
 * overflows the stack, or a message the worker does not understand (it
 * exits with an error reason). Each crash and restart is printed as it
 * happens (watch the pids change), then a summary.
 *
 * Run:  make demo
 *       build/release/examples/demo [SECONDS [SEED]]
 * SECONDS defaults to DEMO_SECONDS (5). Exits 0 when the service survived
 * every fault and every worker was shut down cleanly at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grove.h>

#define DEMO_SECONDS 5
#define N_WORKERS 4
#define JOB_INTERVAL_MS 2  /* 500 jobs a second */
#define POISON_PER_MILLE 10 /* 1% of jobs hit a bug */
#define UNKNOWN_MESSAGE 22  /* the error code for a message not understood */

enum {
    TAG_JOB = 1,
    TAG_DONE,
    TAG_RESIZE, /* a message from a newer client: workers don't know it */
    TAG_READY,
    TAG_STOP,
    TAG_REPORT
};

/* The ways a job can go wrong; F_OTHER counts crashes nobody planned. */
typedef enum {
    F_NONE,
    F_NULL,
    F_ASSERT,
    F_STACK,
    F_UNKNOWN,
    F_OTHER,
    F_COUNT
} fault_t;

static const char *const fault_names[F_COUNT] = {
    "none",           "NULL dereference", "assertion failure",
    "stack overflow", "unknown message",  "other"};

/* Set once in main() before the runtime starts; read-only afterwards. */
static struct {
    double seconds;
    uint64_t seed;
    double t0; /* CLOCK_MONOTONIC at start, in seconds */
    bool color;
} cfg;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double elapsed(void) { return now() - cfg.t0; }

static const char *color(const char *ansi) { return cfg.color ? ansi : ""; }
#define RED color("\033[31m")
#define GREEN color("\033[32m")
#define DIM color("\033[2m")
#define BOLD color("\033[1m")
#define RESET color("\033[0m")

static const char *pid_str(grove_pid_t pid, char buf[GROVE_PID_STR_MAX])
{
    return grove_pid_format(pid, buf, GROVE_PID_STR_MAX);
}

/* ---- the worker ------------------------------------------------------------
 * A worker serves jobs until it is shut down, or until a job finds one of
 * its bugs. It holds no state worth saving: a fresh one is as good. */

typedef struct job {
    uint64_t id;
    uint32_t customer; /* 0 is a customer the lookup does not know */
    int32_t quantity;  /* must be positive */
    int32_t cyclic;    /* the job's category tree loops back on itself */
} job_t;

typedef struct done {
    uint64_t id;
    uint64_t checksum;
} done_t;

/* The bugs are kept out of line and out of the sanitizers' sight: the
 * point is the hardware fault, which Grove turns into an exit reason. */
#if defined(__clang__)
#define NOCLONE
#else
#define NOCLONE __attribute__((noclone))
#endif
#define BUGGY                                                               \
    NOCLONE __attribute__((noinline,                                        \
                           no_sanitize("address", "undefined", "thread")))

static const char *const customers[] = {"ada", "grace", "edsger", "barbara"};

/* Returns NULL for an unknown customer... */
static const char *lookup_customer(uint32_t id)
{
    return id == 0 ? NULL : customers[id % 4];
}

/* ...which this code forgets to check. */
BUGGY static uint64_t name_hash(const char *name)
{
    uint64_t h = 1469598103934665603u;
    for (const volatile char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    return h;
}

typedef struct category {
    const struct category *parent;
} category_t;

static const category_t root = {NULL};
static const category_t leaf = {&root};
static const category_t loop = {&loop}; /* a bad tree: its own parent */

/* Counts a category's depth; on a cyclic tree it never stops. */
BUGGY static int depth(const category_t *c)
{
    volatile char frame[256];
    frame[0] = 1;
    if (!c)
        return 0;
    return depth(c->parent) + frame[0];
}

static uint64_t do_job(const job_t *job)
{
    GROVE_ASSERT(job->quantity > 0);
    uint64_t sum = name_hash(lookup_customer(job->customer));
    sum += (uint64_t)depth(job->cyclic ? &loop : &leaf);
    sum *= (uint64_t)job->quantity;
    grove_sleep(1); /* a stand-in for I/O */
    return sum;
}

static void worker(void *arg)
{
    (void)arg;
    for (;;) {
        grove_msg_t *m;
        grove_recv(&m, GROVE_INFINITY);
        if (grove_msg_tag(m) != TAG_JOB) {
            /* Let it crash: an unknown message is a bug in the sender or
             * in us, and a fresh worker is the safe answer. */
            grove_exit_error(UNKNOWN_MESSAGE, "unknown message tag %llu",
                             (unsigned long long)grove_msg_tag(m));
        }
        const job_t *job = grove_msg_data(m);
        done_t d = {job->id, do_job(job)};
        grove_send(grove_msg_from(m), TAG_DONE, &d, sizeof d);
        grove_msg_free(m);
    }
}

/* ---- the manager -----------------------------------------------------------
 * Traps exits, so a linked worker's death arrives as an EXIT message
 * instead of killing it, and restarts that one worker. On TAG_STOP it
 * shuts every worker down and reports. */

typedef struct report {
    int crashes[F_COUNT];
    int restarts;
    int restart_failures;
    int stopped;          /* workers that exited with shutdown at the end */
    int died_at_shutdown; /* workers that crashed while being stopped */
} report_t;

static fault_t classify(const grove_reason_t *r)
{
    switch (r->kind) {
    case GROVE_EXIT_FAULT:
        if (strncmp(r->text, "stack overflow", 14) == 0)
            return F_STACK;
        return r->addr == 0 ? F_NULL : F_OTHER;
    case GROVE_EXIT_ASSERT:
        return F_ASSERT;
    case GROVE_EXIT_ERROR:
        return r->code == UNKNOWN_MESSAGE ? F_UNKNOWN : F_OTHER;
    default:
        return F_OTHER;
    }
}

static int start_worker(int i, grove_pid_t *out)
{
    char name[16];
    snprintf(name, sizeof name, "worker.%d", i);
    grove_spawn_opts_t o = {.link = true, .name = name};
    return grove_spawn(worker, NULL, &o, out);
}

static void print_crash(int i, grove_pid_t old, fault_t kind,
                        const grove_reason_t *r)
{
    char p[GROVE_PID_STR_MAX], why[GROVE_REASON_TEXT_MAX + 64];
    grove_reason_format(r, why, sizeof why);
    printf("%6.3fs %sCRASH%s   worker.%d %s: %s\n", elapsed(), RED, RESET, i,
           pid_str(old, p), fault_names[kind]);
    printf("         %s%s%s\n", DIM, why, RESET);
}

/* A worker died while the service runs: count it and start another. */
static void restart(report_t *rep, grove_pid_t *workers, int i,
                    const grove_reason_t *r)
{
    fault_t kind = classify(r);
    rep->crashes[kind]++;
    print_crash(i, workers[i], kind, r);
    grove_pid_t old = workers[i];
    int rc = start_worker(i, &workers[i]);
    char a[GROVE_PID_STR_MAX], b[GROVE_PID_STR_MAX];
    if (rc != 0) {
        printf("%6.3fs cannot restart worker.%d: %s\n", elapsed(), i,
               grove_strerror(rc));
        rep->restart_failures++;
        workers[i] = GROVE_PID_NONE;
        return;
    }
    rep->restarts++;
    printf("%6.3fs %sRESTART%s worker.%d %s -> %s\n", elapsed(), GREEN, RESET,
           i, pid_str(old, a), pid_str(workers[i], b));
}

static int find_worker(const grove_pid_t *workers, grove_pid_t pid)
{
    for (int i = 0; i < N_WORKERS; i++)
        if (grove_pid_equal(workers[i], pid))
            return i;
    return -1;
}

static void manager(void *arg)
{
    grove_pid_t owner = *(const grove_pid_t *)arg;
    grove_pid_t workers[N_WORKERS];
    report_t rep = {{0}, 0, 0, 0, 0};
    int live = 0;
    for (int i = 0; i < N_WORKERS; i++)
        if (start_worker(i, &workers[i]) == 0)
            live++;
    grove_send(owner, TAG_READY, workers, sizeof workers);

    bool stopping = false;
    while (!stopping || live > 0) {
        grove_msg_t *m;
        grove_recv(&m, GROVE_INFINITY);
        int i = find_worker(workers, grove_msg_from(m));
        if (grove_msg_kind(m) == GROVE_MSG_EXIT && i >= 0) {
            const grove_reason_t *r = grove_msg_reason(m);
            if (!stopping) {
                restart(&rep, workers, i, r);
                if (grove_pid_is_none(workers[i]))
                    live--;
            } else {
                if (r->kind == GROVE_EXIT_SHUTDOWN)
                    rep.stopped++;
                else
                    rep.died_at_shutdown++;
                workers[i] = GROVE_PID_NONE;
                live--;
            }
        } else if (grove_msg_tag(m) == TAG_STOP && !stopping) {
            /* Shut the workers down; their EXITs arrive as messages. */
            stopping = true;
            grove_reason_t shutdown = grove_reason_shutdown(NULL);
            for (int k = 0; k < N_WORKERS; k++)
                if (!grove_pid_is_none(workers[k]))
                    grove_exit_signal(workers[k], &shutdown);
        }
        grove_msg_free(m);
    }
    grove_send(owner, TAG_REPORT, &rep, sizeof rep);
}

/* ---- the load generator ----------------------------------------------------
 * Runs as the first process: starts the manager, sends jobs for the set
 * time, then stops the service and prints the summary. */

typedef struct tally {
    long sent, done, refused; /* sent and done count healthy jobs */
    uint64_t next_id;
    int injected[F_COUNT];
    uint64_t rng;
} tally_t;

static uint64_t next_random(uint64_t *s)
{
    /* xorshift64*: plenty for picking workers and faults. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717u;
}

static void send_one(tally_t *t)
{
    char name[16];
    snprintf(name, sizeof name, "worker.%d",
             (int)(next_random(&t->rng) % N_WORKERS));
    fault_t f = F_NONE;
    if (next_random(&t->rng) % 1000 < POISON_PER_MILLE)
        f = (fault_t)(F_NULL + next_random(&t->rng) % 4);

    job_t job = {.id = ++t->next_id};
    int rc;
    if (f == F_UNKNOWN) {
        uint32_t size = 4096;
        rc = grove_send_name(name, TAG_RESIZE, &size, sizeof size);
    } else {
        job.customer = f == F_NULL ? 0 : 1 + (uint32_t)(job.id % 7);
        job.quantity = f == F_ASSERT ? 0 : 1 + (int32_t)(job.id % 5);
        job.cyclic = f == F_STACK;
        rc = grove_send_name(name, TAG_JOB, &job, sizeof job);
    }
    if (rc == GROVE_ENOTFOUND) {
        t->refused++; /* between a crash and its restart */
        return;
    }
    if (f == F_NONE)
        t->sent++;
    else
        t->injected[f]++;
}

/* Takes one message if it comes within ms; counts a finished job. */
static void take_replies(tally_t *t, grove_timeout_t ms)
{
    grove_msg_t *m;
    if (grove_recv_tag(&m, TAG_DONE, ms) == 0) {
        t->done++;
        grove_msg_free(m);
    }
}

static void generate_load(tally_t *t)
{
    double next = elapsed(), last_progress = 0;
    while (elapsed() < cfg.seconds) {
        double e = elapsed();
        if (e >= next) {
            send_one(t);
            next += JOB_INTERVAL_MS / 1000.0;
            if (next < e - 0.1) /* fell far behind: do not burst */
                next = e;
        } else {
            take_replies(t, (grove_timeout_t)((next - e) * 1000) + 1);
        }
        if (e - last_progress >= 1.0) {
            last_progress = e;
            printf("%6.3fs %s... %ld jobs sent, %ld done%s\n", e, DIM,
                   t->sent, t->done, RESET);
        }
    }
    /* Wait for the replies still on their way. */
    long before;
    do {
        before = t->done;
        take_replies(t, 300);
    } while (t->done != before && t->done < t->sent);
}

static int summary(const tally_t *t, const report_t *rep,
                   const grove_reason_t *mgr_reason)
{
    int crashes = 0, injected = 0, problems = 0;
    for (int f = F_NULL; f < F_COUNT; f++) {
        crashes += rep->crashes[f];
        injected += t->injected[f];
    }
    printf("\n%sSummary%s after %.1f s (seed %llu)\n", BOLD, RESET,
           cfg.seconds, (unsigned long long)cfg.seed);
    printf("  healthy jobs sent %ld, done %ld, lost with a crashed worker "
           "%ld\n",
           t->sent, t->done, t->sent - t->done);
    printf("  messages refused while a worker restarted: %ld\n", t->refused);
    printf("  faults injected %d, crashes %d, restarts %d\n", injected,
           crashes, rep->restarts);
    printf("    %-18s %9s %8s\n", "kind", "injected", "crashed");
    for (int f = F_NULL; f < F_COUNT; f++) {
        printf("    %-18s %9d %8d\n", fault_names[f], t->injected[f],
               rep->crashes[f]);
        /* A poisoned job queued behind another is lost unread, so a kind
         * can crash less often than it was injected, never more. */
        if (rep->crashes[f] > t->injected[f])
            problems++;
    }
    char why[GROVE_REASON_TEXT_MAX + 64];
    grove_reason_format(mgr_reason, why, sizeof why);
    printf("  shutdown: %d of %d workers stopped with reason shutdown",
           rep->stopped, N_WORKERS);
    if (rep->died_at_shutdown)
        printf(", %d crashed first", rep->died_at_shutdown);
    printf("; manager exited %s\n", why);

    if (rep->restarts != crashes || rep->restart_failures)
        problems++;
    if (rep->stopped + rep->died_at_shutdown != N_WORKERS)
        problems++;
    if (mgr_reason->kind != GROVE_EXIT_NORMAL || t->done == 0)
        problems++;
    return problems;
}

static int demo_result = 1;

static void load_generator(void *arg)
{
    (void)arg;
    tally_t t = {.rng = cfg.seed | 1};
    grove_pid_t self = grove_self(), mgr;
    grove_ref_t mref;
    grove_spawn_opts_t o = {.trap_exit = true, .monitor = true,
                            .monitor_ref = &mref};
    grove_spawn(manager, &self, &o, &mgr);

    grove_msg_t *m;
    if (grove_recv_tag(&m, TAG_READY, 5000) != 0)
        return;
    const grove_pid_t *w = grove_msg_data(m);
    char a[GROVE_PID_STR_MAX];
    printf("%sGrove demo%s: %d workers, a manager that restarts them, "
           "%.1f s of load\n",
           BOLD, RESET, N_WORKERS, cfg.seconds);
    printf("  manager %s, workers", pid_str(mgr, a));
    for (int i = 0; i < N_WORKERS; i++)
        printf(" %s", pid_str(w[i], a));
    printf("\n\n");
    grove_msg_free(m);

    generate_load(&t);

    printf("%6.3fs stopping the service\n", elapsed());
    report_t rep;
    memset(&rep, 0, sizeof rep);
    grove_send(mgr, TAG_STOP, NULL, 0);
    if (grove_recv_tag(&m, TAG_REPORT, 5000) == 0) {
        memcpy(&rep, grove_msg_data(m), sizeof rep);
        grove_msg_free(m);
    }
    grove_reason_t mgr_reason = grove_reason_of(GROVE_EXIT_TIMEOUT);
    if (grove_recv_ref(&m, mref, 5000) == 0) {
        mgr_reason = *grove_msg_reason(m);
        grove_msg_free(m);
    }
    int problems = summary(&t, &rep, &mgr_reason);
    printf("%s\n", problems ? "FAILED: see above"
                            : "OK: every fault stayed inside its worker");
    demo_result = problems ? 1 : 0;
}

/* Crash reports would print a backtrace per crash on stderr; the manager
 * already reports each crash, so other events only, one line each. */
static void quiet_log(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "crash_report") != 0)
        fprintf(stderr, "[%s] %s\n", grove_log_level_name(ev->level),
                ev->text);
}

int main(int argc, char **argv)
{
    cfg.seconds = DEMO_SECONDS;
    if (argc > 1) {
        char *end;
        cfg.seconds = strtod(argv[1], &end);
        if (*end || !(cfg.seconds > 0 && cfg.seconds < 86400)) {
            fprintf(stderr, "usage: %s [SECONDS [SEED]]\n", argv[0]);
            return 2;
        }
    }
    cfg.t0 = now();
    cfg.seed = argc > 2 ? strtoull(argv[2], NULL, 10)
                        : (uint64_t)(cfg.t0 * 1e9) ^ (uint64_t)getpid();
    cfg.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");

    grove_log_clear_handlers();
    grove_log_add_handler(quiet_log, NULL, GROVE_LOG_WARNING, NULL);

    grove_reason_t reason;
    int rc = grove_run(load_generator, NULL, &reason);
    if (rc != 0) {
        fprintf(stderr, "grove_run: %s\n", grove_strerror(rc));
        return 1;
    }
    return reason.kind == GROVE_EXIT_NORMAL ? demo_result : 1;
}
