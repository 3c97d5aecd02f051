/* demo.c: a job-processing service that heals itself.
 *
 * The supervision tree of "Supervisors and Supervision Trees", run as an
 * application (grove_app_run) with faults injected at random:
 *
 *     MyApp.Supervisor (one_for_one)
 *     ├── MyApp.Repo            the database: every job and its state
 *     ├── MyApp.JobsSupervisor (rest_for_one)
 *     │   ├── MyApp.JobQueue    hands out pending jobs, leased to workers
 *     │   ├── MyApp.WorkerPool (one_for_one)
 *     │   │   └── {:worker, 1..4}   pull a job, process it, report it
 *     │   └── MyApp.JobMonitor  counts done jobs, finds lost ones
 *     └── MyApp.Producer        submits 200 jobs a second
 *
 * The faults, about one a second in the workers and one every 4 s in the
 * queue, all chosen at random by the Producer:
 *  - a job whose customer lookup returns NULL, which a worker then
 *    dereferences (SIGSEGV, caught by Grove);
 *  - a job that fails a GROVE_ASSERT in a worker;
 *  - a message a worker does not understand: it exits with an error;
 *  - a malformed job that fails a GROVE_ASSERT in the JobQueue itself:
 *    rest_for_one then restarts the WorkerPool and the JobMonitor too.
 * The job faults are transient, the kind supervision is for: they strike
 * a job's first attempt only, and a retry goes through.
 *
 * What the design promises, and how:
 *  - Every job the queue accepted is done at least once. The queue writes
 *    a job to the Repo before it acknowledges it, and the Repo is outside
 *    the JobsSupervisor, so a queue crash does not lose it: a new queue
 *    reloads every unfinished job from the Repo. A job held by a worker
 *    that crashed is found by the JobMonitor (its lease names a dead
 *    process) and issued again.
 *  - At least once, not exactly once: a job whose worker was stopped or
 *    whose completion died with a crashed queue is run again. The
 *    summary counts those extra attempts.
 *  - The Repo is never crashed here: it stands for a database outside
 *    the program. If it were lost, so would the jobs be.
 *
 * Every supervisor report and crash report is printed as one line as it
 * happens, the live tree is drawn every second (pids marked * changed
 * since the last drawing), and at the end the service drains its queue,
 * shuts down in reverse start order and prints a summary.
 *
 * Run:  make demo-jobs
 *       build/release/examples/demo [SECONDS [SEED]]
 * SECONDS defaults to 10; Ctrl-C stops earlier (without the drain).
 * Exits 0 when the promises held: every accepted job done (after the
 * drain), every crash one that was injected, the root never gave up, and
 * the shutdown killed nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grove.h>

#define DEMO_SECONDS 10
#define N_WORKERS 4
#define SUBMIT_EVERY_MS 5       /* 200 jobs a second */
#define WORKER_FAULTS_PER_S 1.0 /* NULL, assert, unknown message */
#define QUEUE_CRASH_EVERY_S 4.0
#define LEASE_CHECK_MS 100 /* how often the JobMonitor looks for lost jobs */
#define STUCK_MS 1000      /* a job in progress this long is reported */
#define DRAIN_MS 5000      /* at most this long to finish the backlog */
#define UNKNOWN_MESSAGE 22 /* the error code of a message not understood */
#define N_PRIORITIES 3

/* ---- the run ----------------------------------------------------------------
 * Settings, and the counters the summary reads. The counters are the
 * demo's instrumentation, like telemetry: the service does not use them. */

static struct {
    double seconds;
    uint64_t seed;
    double t0; /* CLOCK_MONOTONIC at start, in seconds */
    bool color;
} cfg;

typedef enum fault {
    F_NONE,
    F_NULL,    /* a worker dereferences NULL */
    F_ASSERT,  /* a worker fails a GROVE_ASSERT */
    F_UNKNOWN, /* a worker gets a message it does not understand */
    F_QUEUE,   /* the JobQueue fails a GROVE_ASSERT */
    F_GAVE_UP, /* not injected: a supervisor over its restart intensity */
    F_OTHER,   /* not injected: anything else would be a surprise */
    F_COUNT
} fault_t;

static const char *const fault_names[F_COUNT] = {
    "none",           "NULL dereference", "failed assertion",
    "unknown message", "JobQueue crash",  "supervisor gave up",
    "other"};

/* The supervisors, for counting their restarts. */
enum { S_ROOT, S_JOBS, S_POOL, S_COUNT };
static const char *const sup_names[S_COUNT] = {
    "MyApp.Supervisor", "MyApp.JobsSupervisor", "MyApp.WorkerPool"};

static struct {
    atomic_long accepted, refused, injected[F_COUNT];
    atomic_long lost_reissued, rerun_after_queue, stuck;
    atomic_bool stopping; /* the final shutdown has begun */
    atomic_bool drained;  /* the backlog was finished in time */
} run;

/* Counted by the log handler (under its lock). */
static struct {
    pthread_mutex_t lock;
    long crashed[F_COUNT];
    long restarts[S_COUNT];
    long gave_up[S_COUNT];
    long shutdown_errors_at_end;
    grove_pid_t recent[32]; /* crash reports already shown */
    unsigned nrecent;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double elapsed(void) { return now() - cfg.t0; }

static uint64_t now_ms(void) { return (uint64_t)(now() * 1000.0); }

static const char *color(const char *ansi) { return cfg.color ? ansi : ""; }
#define RED color("\033[31m")
#define GREEN color("\033[32m")
#define YELLOW color("\033[33m")
#define CYAN color("\033[36m")
#define DIM color("\033[2m")
#define BOLD color("\033[1m")
#define RESET color("\033[0m")

static grove_server_t by_name(const char *name)
{
    return grove_server_name(name);
}

static const char *pid_str(grove_pid_t pid, char buf[GROVE_PID_STR_MAX])
{
    return grove_pid_format(pid, buf, GROVE_PID_STR_MAX);
}

/* One event line: time, a coloured label, then the text. */
#define EVENT(label, colour, ...)                                           \
    do {                                                                    \
        char text_[512];                                                    \
        snprintf(text_, sizeof text_, __VA_ARGS__);                         \
        printf("%s%7.3fs%s %s%-8s%s %s\n", DIM, elapsed(), RESET, colour,   \
               label, RESET, text_);                                        \
    } while (0)

/* ---- jobs and messages --------------------------------------------------- */

typedef struct job {
    uint64_t id;       /* given by the Repo */
    uint32_t customer;
    uint32_t quantity;
    uint32_t priority; /* 0..N_PRIORITIES-1 */
    uint32_t attempt;  /* 1 for the first */
    uint32_t fault;    /* fault_t: the transient fault it carries */
} job_t;

typedef struct result {
    uint64_t id, value;
} result_t;

typedef struct repo_stats {
    uint64_t inserted, done, attempts, duplicates, unfinished;
} repo_stats_t;

typedef struct lease_info {
    uint64_t id;
    grove_pid_t holder;
    uint64_t age_ms;
} lease_info_t;

typedef struct queue_stats {
    uint64_t pending, leased;
} queue_stats_t;

typedef struct monitor_stats {
    uint64_t done, lost;
} monitor_stats_t;

enum {
    REPO_INSERT = 1, /* call job_t -> id */
    REPO_TAKEN,      /* cast id: an attempt began */
    REPO_DONE,       /* cast result_t */
    REPO_UNFINISHED, /* call -> job_t[] */
    REPO_STATS,      /* call -> repo_stats_t */
    Q_SUBMIT,        /* call job_t -> id */
    Q_TAKE,          /* call -> job_t, or nothing */
    Q_DONE,          /* cast result_t: a worker's report */
    Q_LEASES,        /* call -> lease_info_t[] */
    Q_REISSUE,       /* cast id */
    Q_STATS,         /* call -> queue_stats_t */
    MON_DONE,        /* cast */
    MON_TICK,
    MON_STATS,       /* call -> monitor_stats_t */
    PROD_TICK,
    PROD_STOP,       /* call: submit no more */
    DASH_TICK,
    TAG_RESIZE       /* a message from a newer client: workers don't know
                        it */
};

/* A call whose reply is one fixed-size value; 0 on success. */
static int call_value(const char *server, uint64_t tag, const void *req,
                      size_t size, void *out, size_t out_size,
                      grove_timeout_t timeout)
{
    grove_msg_t *reply;
    int rc = grove_gs_try_call(by_name(server), tag, req, size, &reply,
                               timeout, NULL);
    if (rc != 0)
        return rc;
    if (grove_msg_size(reply) == out_size)
        memcpy(out, grove_msg_data(reply), out_size);
    else
        rc = GROVE_ENOTFOUND;
    grove_msg_free(reply);
    return rc;
}

/* Servers print a line as they stop in the final shutdown, to show its
 * order; they trap exits so that terminate runs. */
static void say_stopped(const char *who, const grove_reason_t *r)
{
    if (!atomic_load(&run.stopping))
        return;
    char why[64], p[GROVE_PID_STR_MAX];
    grove_reason_format(r, why, sizeof why);
    EVENT("STOP", CYAN, "%s %s: %s", who, pid_str(grove_self(), p), why);
}

/* ---- MyApp.Repo: the database -----------------------------------------------
 * Every job with its attempts, whether it is done and its result. Not
 * crashed in this demo: it stands for a database outside the program. */

typedef struct record {
    job_t job;
    bool done;
    uint64_t result;
} record_t;

typedef struct repo {
    record_t *recs;
    size_t n, cap;
    size_t first_open; /* every job below this one is done */
    repo_stats_t st;
} repo_t;

static grove_gs_ret_t repo_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    grove_trap_exit(true);
    repo_t *r = grove_calloc(1, sizeof *r);
    if (!r)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, r);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t repo_insert(repo_t *r, const grove_msg_t *m)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        record_t *recs = grove_realloc(r->recs, cap * sizeof *recs);
        if (!recs)
            return GROVE_GS_REPLY(0, NULL, 0);
        r->recs = recs;
        r->cap = cap;
    }
    record_t *rec = &r->recs[r->n];
    memcpy(&rec->job, grove_msg_data(m), sizeof rec->job);
    rec->job.id = r->n++;
    rec->job.attempt = 0;
    rec->done = false;
    r->st.inserted++;
    return GROVE_GS_REPLY(0, &rec->job.id, sizeof rec->job.id);
}

static grove_gs_ret_t repo_unfinished(repo_t *r)
{
    while (r->first_open < r->n && r->recs[r->first_open].done)
        r->first_open++;
    size_t k = 0;
    job_t *todo = malloc((r->n - r->first_open + 1) * sizeof *todo);
    if (!todo)
        return GROVE_GS_STOP(grove_reason_error(1, "out of memory"));
    for (size_t i = r->first_open; i < r->n; i++)
        if (!r->recs[i].done)
            todo[k++] = r->recs[i].job;
    grove_gs_ret_t ret = GROVE_GS_REPLY(0, todo, k * sizeof *todo);
    free(todo); /* the reply was copied */
    return ret;
}

static grove_gs_ret_t repo_call(grove_gs_t *gs, const grove_msg_t *m,
                                grove_gs_from_t from)
{
    (void)from;
    repo_t *r = grove_gs_state(gs);
    switch (grove_msg_tag(m)) {
    case REPO_INSERT:
        return repo_insert(r, m);
    case REPO_UNFINISHED:
        return repo_unfinished(r);
    default: /* REPO_STATS */
        r->st.unfinished = r->st.inserted - r->st.done;
        return GROVE_GS_REPLY(0, &r->st, sizeof r->st);
    }
}

/* REPO_TAKEN (an id) and REPO_DONE (a result_t; ids come first). */
static grove_gs_ret_t repo_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    repo_t *r = grove_gs_state(gs);
    result_t res = {0, 0};
    memcpy(&res, grove_msg_data(m),
           grove_msg_size(m) < sizeof res ? grove_msg_size(m) : sizeof res);
    if (res.id >= r->n)
        return GROVE_GS_NOREPLY();
    record_t *rec = &r->recs[res.id];
    if (grove_msg_tag(m) == REPO_TAKEN) {
        rec->job.attempt++;
        r->st.attempts++;
    } else if (rec->done) {
        r->st.duplicates++;
    } else {
        rec->done = true;
        rec->result = res.value;
        r->st.done++;
    }
    return GROVE_GS_NOREPLY();
}

static void repo_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)gs;
    say_stopped("MyApp.Repo", r);
}

static const grove_gs_callbacks_t repo_server = {
    .name = "MyApp.Repo",
    .init = repo_init,
    .handle_call = repo_call,
    .handle_cast = repo_cast,
    .terminate = repo_terminate,
};

/* ---- MyApp.JobQueue ---------------------------------------------------------
 * Pending jobs in a ring; each job handed out is leased to the worker
 * that took it until that worker reports it done. Its memory dies with
 * it: a new queue starts from what the Repo says is unfinished. */

typedef struct lease {
    job_t job;
    grove_pid_t holder;
    uint64_t since_ms;
} lease_t;

typedef struct queue {
    job_t *ring;
    size_t cap, head, len;
    lease_t *leases;
    size_t nleases, lcap;
} queue_t;

static bool grow_ring(queue_t *q)
{
    size_t cap = q->cap ? q->cap * 2 : 256;
    job_t *ring = grove_alloc(cap * sizeof *ring);
    if (!ring)
        return false;
    for (size_t i = 0; i < q->len; i++)
        ring[i] = q->ring[(q->head + i) % q->cap];
    grove_free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return true;
}

static bool push(queue_t *q, job_t j, bool front)
{
    if (q->len == q->cap && !grow_ring(q))
        return false;
    if (front) {
        q->head = (q->head + q->cap - 1) % q->cap;
        q->ring[q->head] = j;
    } else {
        q->ring[(q->head + q->len) % q->cap] = j;
    }
    q->len++;
    return true;
}

static grove_gs_ret_t queue_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    grove_trap_exit(true);
    queue_t *q = grove_calloc(1, sizeof *q);
    if (!q)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, q);
    grove_msg_t *reply;
    if (grove_gs_try_call(by_name("MyApp.Repo"), REPO_UNFINISHED, NULL, 0,
                          &reply, 5000, NULL) != 0)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "no Repo"));
    size_t n = grove_msg_size(reply) / sizeof(job_t), again = 0;
    const unsigned char *data = grove_msg_data(reply);
    for (size_t i = 0; i < n; i++) {
        job_t j;
        memcpy(&j, data + i * sizeof j, sizeof j);
        again += j.attempt > 0; /* handed out before: it runs again */
        if (!push(q, j, false))
            return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    }
    grove_msg_free(reply);
    atomic_fetch_add(&run.rerun_after_queue, (long)again);
    if (n) {
        char p[GROVE_PID_STR_MAX];
        EVENT("RELOAD", CYAN,
              "MyApp.JobQueue %s: %zu unfinished job%s from MyApp.Repo "
              "(%zu had been handed out: they run again)",
              pid_str(grove_self(), p), n, n == 1 ? "" : "s", again);
    }
    return GROVE_GS_INIT_OK();
}

/* The bug: it trusts the priority it is given. */
static grove_gs_ret_t queue_submit(queue_t *q, const grove_msg_t *m)
{
    job_t j;
    memcpy(&j, grove_msg_data(m), sizeof j);
    GROVE_ASSERT(j.priority < N_PRIORITIES);
    /* In the Repo first: once acknowledged, the job survives us. */
    if (call_value("MyApp.Repo", REPO_INSERT, &j, sizeof j, &j.id,
                   sizeof j.id, 5000) != 0 ||
        !push(q, j, false))
        return GROVE_GS_REPLY(0, NULL, 0);
    return GROVE_GS_REPLY(0, &j.id, sizeof j.id);
}

static grove_gs_ret_t queue_take(queue_t *q, grove_gs_from_t from)
{
    if (q->len == 0)
        return GROVE_GS_REPLY(0, NULL, 0);
    if (q->nleases == q->lcap) {
        size_t cap = q->lcap ? q->lcap * 2 : 16;
        lease_t *l = grove_realloc(q->leases, cap * sizeof *l);
        if (!l)
            return GROVE_GS_REPLY(0, NULL, 0);
        q->leases = l;
        q->lcap = cap;
    }
    job_t j = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    j.attempt++;
    grove_gs_cast(by_name("MyApp.Repo"), REPO_TAKEN, &j.id, sizeof j.id);
    q->leases[q->nleases++] = (lease_t){j, from.pid, now_ms()};
    return GROVE_GS_REPLY(0, &j, sizeof j);
}

static grove_gs_ret_t queue_leases(queue_t *q)
{
    lease_info_t *out = malloc((q->nleases + 1) * sizeof *out);
    if (!out)
        return GROVE_GS_REPLY(0, NULL, 0);
    uint64_t t = now_ms();
    for (size_t i = 0; i < q->nleases; i++)
        out[i] = (lease_info_t){q->leases[i].job.id, q->leases[i].holder,
                                t - q->leases[i].since_ms};
    grove_gs_ret_t r = GROVE_GS_REPLY(0, out, q->nleases * sizeof *out);
    free(out);
    return r;
}

static grove_gs_ret_t queue_call(grove_gs_t *gs, const grove_msg_t *m,
                                 grove_gs_from_t from)
{
    queue_t *q = grove_gs_state(gs);
    switch (grove_msg_tag(m)) {
    case Q_SUBMIT:
        return queue_submit(q, m);
    case Q_TAKE:
        return queue_take(q, from);
    case Q_LEASES:
        return queue_leases(q);
    default: { /* Q_STATS */
        queue_stats_t st = {q->len, q->nleases};
        return GROVE_GS_REPLY(0, &st, sizeof st);
    }
    }
}

/* Q_DONE (a result_t) from a worker, Q_REISSUE (an id) from the
 * JobMonitor. */
static grove_gs_ret_t queue_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    queue_t *q = grove_gs_state(gs);
    result_t res = {0, 0};
    memcpy(&res, grove_msg_data(m),
           grove_msg_size(m) < sizeof res ? grove_msg_size(m) : sizeof res);
    for (size_t i = 0; i < q->nleases; i++) {
        if (q->leases[i].job.id != res.id)
            continue;
        job_t j = q->leases[i].job;
        q->leases[i] = q->leases[--q->nleases];
        if (grove_msg_tag(m) == Q_REISSUE) {
            push(q, j, true); /* lost once: it goes first */
        } else {
            grove_gs_cast(by_name("MyApp.Repo"), REPO_DONE, &res,
                          sizeof res);
            grove_gs_cast(by_name("MyApp.JobMonitor"), MON_DONE, NULL, 0);
        }
        break;
    }
    return GROVE_GS_NOREPLY();
}

static void queue_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)gs;
    say_stopped("MyApp.JobQueue", r);
}

static int queue_status(grove_gs_t *gs, char *buf, size_t size)
{
    const queue_t *q = grove_gs_state(gs);
    return snprintf(buf, size, "%zu pending, %zu leased", q->len,
                    q->nleases);
}

static const grove_gs_callbacks_t job_queue = {
    .name = "MyApp.JobQueue",
    .init = queue_init,
    .handle_call = queue_call,
    .handle_cast = queue_cast,
    .terminate = queue_terminate,
    .format_status = queue_status,
};

/* ---- MyApp.Worker -----------------------------------------------------------
 * Pulls a job from the queue, processes it (5 to 24 ms: the 4 workers
 * are about 75% busy) and reports its result; polls every 5 ms while
 * there is nothing to do. */

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

/* Returns NULL when the customer directory glitches (on a poisoned job's
 * first attempt)... */
static const char *lookup_customer(const job_t *j)
{
    if (j->fault == F_NULL && j->attempt == 1)
        return NULL;
    return customers[j->customer % 4];
}

/* ...which this code forgets to check. */
BUGGY static uint64_t name_hash(const char *name)
{
    uint64_t h = 1469598103934665603u;
    for (const volatile char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    return h;
}

/* A first read of a poisoned job's record finds it half written. */
static uint32_t read_quantity(const job_t *j)
{
    return j->fault == F_ASSERT && j->attempt == 1 ? 0 : j->quantity;
}

static uint64_t process(const job_t *j)
{
    uint32_t quantity = read_quantity(j);
    GROVE_ASSERT(quantity > 0);
    uint64_t sum = name_hash(lookup_customer(j)) * quantity;
    grove_sleep(5 + j->customer % 20); /* a stand-in for I/O */
    return sum;
}

static grove_gs_ret_t worker_init(grove_gs_t *gs, void *arg)
{
    grove_trap_exit(true);
    grove_gs_set_state(gs, arg); /* the registered name */
    return grove_gs_with_timeout(GROVE_GS_INIT_OK(), 0);
}

static grove_gs_ret_t pull(void)
{
    job_t j;
    /* The queue may be away (restarting): try again a little later. */
    if (call_value("MyApp.JobQueue", Q_TAKE, NULL, 0, &j, sizeof j, 2000))
        return grove_gs_with_timeout(GROVE_GS_NOREPLY(), 5);
    result_t res = {j.id, process(&j)};
    grove_gs_cast(by_name("MyApp.JobQueue"), Q_DONE, &res, sizeof res);
    return grove_gs_with_timeout(GROVE_GS_NOREPLY(), 0);
}

static grove_gs_ret_t worker_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    if (grove_msg_tag(m) == GROVE_GS_TIMEOUT_TAG)
        return pull();
    /* Let it crash: a message nobody expects is a bug in the sender or
     * in us, and a fresh worker is the safe answer. */
    return GROVE_GS_STOP(grove_reason_error(
        UNKNOWN_MESSAGE, "unknown message (tag %llu)",
        (unsigned long long)grove_msg_tag(m)));
}

static void worker_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    say_stopped(grove_gs_state(gs), r);
}

static const grove_gs_callbacks_t worker = {
    .name = "MyApp.Worker",
    .init = worker_init,
    .handle_info = worker_info,
    .terminate = worker_terminate,
};

/* ---- MyApp.JobMonitor -------------------------------------------------------
 * Counts finished jobs (the queue tells it), and every LEASE_CHECK_MS
 * looks at the queue's leases: a job leased to a dead process is lost,
 * and the queue issues it again; one in progress for STUCK_MS is
 * reported as stuck. */

typedef struct monitor {
    monitor_stats_t st;
    uint64_t last_stuck; /* the last job reported stuck, plus one */
} monitor_t;

static grove_gs_ret_t monitor_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    grove_trap_exit(true);
    monitor_t *mon = grove_calloc(1, sizeof *mon);
    if (!mon)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, mon);
    /* A new monitor picks the count up from the Repo. */
    repo_stats_t rs;
    if (call_value("MyApp.Repo", REPO_STATS, NULL, 0, &rs, sizeof rs,
                   5000) == 0)
        mon->st.done = rs.done;
    grove_send_after(grove_self(), LEASE_CHECK_MS, MON_TICK, NULL, 0, NULL);
    return GROVE_GS_INIT_OK();
}

static void check_leases(monitor_t *mon)
{
    grove_msg_t *reply;
    if (grove_gs_try_call(by_name("MyApp.JobQueue"), Q_LEASES, NULL, 0,
                          &reply, 1000, NULL) != 0)
        return; /* the queue is restarting: its leases died with it */
    size_t n = grove_msg_size(reply) / sizeof(lease_info_t);
    const unsigned char *data = grove_msg_data(reply);
    for (size_t i = 0; i < n; i++) {
        lease_info_t l;
        char p[GROVE_PID_STR_MAX];
        memcpy(&l, data + i * sizeof l, sizeof l);
        if (!grove_is_alive(l.holder)) {
            mon->st.lost++;
            atomic_fetch_add(&run.lost_reissued, 1);
            EVENT("LOST", YELLOW,
                  "MyApp.JobMonitor: job %llu was lost with %s; re-issued",
                  (unsigned long long)l.id, pid_str(l.holder, p));
            grove_gs_cast(by_name("MyApp.JobQueue"), Q_REISSUE, &l.id,
                          sizeof l.id);
        } else if (l.age_ms >= STUCK_MS && l.id + 1 != mon->last_stuck) {
            mon->last_stuck = l.id + 1;
            atomic_fetch_add(&run.stuck, 1);
            EVENT("STUCK", YELLOW,
                  "MyApp.JobMonitor: job %llu in progress on %s for %llu "
                  "ms",
                  (unsigned long long)l.id, pid_str(l.holder, p),
                  (unsigned long long)l.age_ms);
        }
    }
    grove_msg_free(reply);
}

static grove_gs_ret_t monitor_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)m; /* MON_TICK */
    check_leases(grove_gs_state(gs));
    grove_send_after(grove_self(), LEASE_CHECK_MS, MON_TICK, NULL, 0, NULL);
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t monitor_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)m; /* MON_DONE */
    monitor_t *mon = grove_gs_state(gs);
    mon->st.done++;
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t monitor_call(grove_gs_t *gs, const grove_msg_t *m,
                                   grove_gs_from_t from)
{
    (void)m; /* MON_STATS */
    (void)from;
    monitor_t *mon = grove_gs_state(gs);
    return GROVE_GS_REPLY(0, &mon->st, sizeof mon->st);
}

static void monitor_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)gs;
    say_stopped("MyApp.JobMonitor", r);
}

static const grove_gs_callbacks_t job_monitor = {
    .name = "MyApp.JobMonitor",
    .init = monitor_init,
    .handle_call = monitor_call,
    .handle_cast = monitor_cast,
    .handle_info = monitor_info,
    .terminate = monitor_terminate,
};

/* ---- MyApp.Producer ---------------------------------------------------------
 * Submits a job every SUBMIT_EVERY_MS, and injects the faults. A job the
 * queue did not acknowledge (it was away) is submitted again. */

typedef struct producer {
    uint64_t rng;
    bool stopped;
    bool retry; /* job holds one not yet accepted */
    job_t job;
    double next; /* when the next job is due (elapsed seconds) */
} producer_t;

static uint64_t next_random(uint64_t *s)
{
    /* xorshift64*: plenty for picking jobs and faults. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717u;
}

static double uniform(uint64_t *s)
{
    return (double)(next_random(s) >> 11) / 9007199254740992.0;
}

static grove_gs_ret_t producer_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    grove_trap_exit(true);
    producer_t *p = grove_calloc(1, sizeof *p);
    if (!p)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    /* splitmix64 of the seed: neighbouring seeds give unrelated runs */
    uint64_t z = cfg.seed + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    p->rng = (z ^ (z >> 31)) | 1;
    p->next = elapsed();
    grove_gs_set_state(gs, p);
    grove_send_after(grove_self(), SUBMIT_EVERY_MS, PROD_TICK, NULL, 0, NULL);
    return GROVE_GS_INIT_OK();
}

/* Sends a malformed job: the queue's assertion fails and it crashes. */
static void crash_queue(void)
{
    job_t bad = {.customer = 1, .quantity = 1, .priority = 7};
    grove_reason_t why;
    int rc = grove_gs_try_call(by_name("MyApp.JobQueue"), Q_SUBMIT, &bad,
                               sizeof bad, NULL, 2000, &why);
    if (rc == GROVE_EEXITED)
        atomic_fetch_add(&run.injected[F_QUEUE], 1);
}

/* Sends a worker a message it does not understand. */
static void confuse_worker(producer_t *p)
{
    char name[32];
    uint32_t size = 4096;
    snprintf(name, sizeof name, "MyApp.Worker.%d",
             1 + (int)(next_random(&p->rng) % N_WORKERS));
    if (grove_send_name(name, TAG_RESIZE, &size, sizeof size) == 0)
        atomic_fetch_add(&run.injected[F_UNKNOWN], 1);
}

static void submit(producer_t *p)
{
    if (!p->retry) {
        p->job = (job_t){
            .customer = 1 + (uint32_t)(next_random(&p->rng) % 1000),
            .quantity = 1 + (uint32_t)(next_random(&p->rng) % 5),
            .priority = (uint32_t)(next_random(&p->rng) % N_PRIORITIES)};
        /* Now and then, a job with a transient fault for its worker. */
        double r = uniform(&p->rng);
        double per_tick = WORKER_FAULTS_PER_S * SUBMIT_EVERY_MS / 1000.0;
        if (r < per_tick / 3)
            p->job.fault = F_NULL;
        else if (r < 2 * per_tick / 3)
            p->job.fault = F_ASSERT;
        else if (r < per_tick)
            confuse_worker(p);
    }
    uint64_t id;
    p->retry = call_value("MyApp.JobQueue", Q_SUBMIT, &p->job,
                          sizeof p->job, &id, sizeof id, 2000) != 0;
    if (p->retry) {
        atomic_fetch_add(&run.refused, 1);
        return;
    }
    atomic_fetch_add(&run.accepted, 1);
    if (p->job.fault != F_NONE)
        atomic_fetch_add(&run.injected[p->job.fault], 1);
}

static grove_gs_ret_t producer_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)m; /* PROD_TICK */
    producer_t *p = grove_gs_state(gs);
    if (p->stopped)
        return GROVE_GS_NOREPLY();
    /* Timers fire late under load: catch up with the jobs now due. */
    double t = elapsed();
    for (int n = 0; p->next <= t && n < 20; n++) {
        if (uniform(&p->rng) <
            SUBMIT_EVERY_MS / 1000.0 / QUEUE_CRASH_EVERY_S)
            crash_queue();
        submit(p);
        p->next += SUBMIT_EVERY_MS / 1000.0;
    }
    if (p->next < t - 0.1) /* far behind: skip, do not burst */
        p->next = t;
    grove_send_after(grove_self(), SUBMIT_EVERY_MS, PROD_TICK, NULL, 0, NULL);
    return GROVE_GS_NOREPLY();
}

/* PROD_STOP: once it has answered, nothing more is on its way. */
static grove_gs_ret_t producer_call(grove_gs_t *gs, const grove_msg_t *m,
                                    grove_gs_from_t from)
{
    (void)m;
    (void)from;
    producer_t *p = grove_gs_state(gs);
    p->stopped = true;
    return GROVE_GS_REPLY(0, NULL, 0);
}

static void producer_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)gs;
    say_stopped("MyApp.Producer", r);
}

static const grove_gs_callbacks_t producer = {
    .name = "MyApp.Producer",
    .init = producer_init,
    .handle_call = producer_call,
    .handle_info = producer_info,
    .terminate = producer_terminate,
};

/* ---- the tree ------------------------------------------------------------ */

static const grove_gs_opts_t repo_opts = {.name = "MyApp.Repo"};
static const grove_gs_opts_t queue_opts = {.name = "MyApp.JobQueue"};
static const grove_gs_opts_t monitor_opts = {.name = "MyApp.JobMonitor"};
static const grove_gs_opts_t producer_opts = {.name = "MyApp.Producer"};

static const grove_gs_opts_t worker_opts[N_WORKERS] = {
    {.name = "MyApp.Worker.1"},
    {.name = "MyApp.Worker.2"},
    {.name = "MyApp.Worker.3"},
    {.name = "MyApp.Worker.4"},
};

/* for id <- 1..4: Supervisor.child_spec({MyApp.Worker, [id: id]},
 *                                       id: {:worker, id}) */
#define WORKER(n)                                                           \
    {                                                                       \
        .id = "{:worker, " #n "}", .gen_server = &worker,                   \
        .gs_opts = &worker_opts[n - 1], .arg = (void *)"MyApp.Worker." #n   \
    }

static const grove_child_spec_t pool_children[N_WORKERS] = {
    WORKER(1), WORKER(2), WORKER(3), WORKER(4)};

/* About one worker crash a second is expected: the default intensity (3
 * restarts in 5 s) would make the pool give up all the time. "Set
 * realistic max_restarts and max_seconds values." */
static const grove_sup_spec_t worker_pool = {
    .name = "MyApp.WorkerPool",
    .flags = {.strategy = GROVE_ONE_FOR_ONE,
              .max_restarts = 10,
              .max_seconds = 5},
    .children = pool_children,
    .nchildren = N_WORKERS,
};

/* Child supervisors are registered under their names, as Elixir's
 * Supervisor.start_link(__MODULE__, opts, name: __MODULE__): a start
 * function does it. */
static int start_named_sup(const grove_sup_spec_t *spec, grove_pid_t *pid,
                           grove_reason_t *why)
{
    grove_sup_opts_t o = {.link = true, .name = spec->name};
    return grove_sup_start(spec, &o, pid, why);
}

static int worker_pool_start_link(void *arg, grove_pid_t *pid,
                                  grove_reason_t *why)
{
    (void)arg;
    return start_named_sup(&worker_pool, pid, why);
}

static const grove_child_spec_t jobs_children[] = {
    {.id = "MyApp.JobQueue", .gen_server = &job_queue,
     .gs_opts = &queue_opts},
    {.id = "MyApp.WorkerPool", .start = worker_pool_start_link,
     .type = GROVE_SUPERVISOR},
    {.id = "MyApp.JobMonitor", .gen_server = &job_monitor,
     .gs_opts = &monitor_opts},
};

/* A queue crash every 4 s, and a pool that gives up now and then. */
static const grove_sup_spec_t jobs_supervisor = {
    .name = "MyApp.JobsSupervisor",
    .flags = {.strategy = GROVE_REST_FOR_ONE,
              .max_restarts = 5,
              .max_seconds = 10},
    .children = jobs_children,
    .nchildren = 3,
};

static int jobs_supervisor_start_link(void *arg, grove_pid_t *pid,
                                      grove_reason_t *why)
{
    (void)arg;
    return start_named_sup(&jobs_supervisor, pid, why);
}

static const grove_child_spec_t root_children[] = {
    {.id = "MyApp.Repo", .gen_server = &repo_server, .gs_opts = &repo_opts},
    {.id = "MyApp.JobsSupervisor", .start = jobs_supervisor_start_link,
     .type = GROVE_SUPERVISOR},
    {.id = "MyApp.Producer", .gen_server = &producer,
     .gs_opts = &producer_opts},
};

static const grove_sup_spec_t root_spec = {
    .name = "MyApp.Supervisor",
    .flags = {.strategy = GROVE_ONE_FOR_ONE},
    .children = root_children,
    .nchildren = 3,
};

/* ---- the dashboard ----------------------------------------------------------
 * Not part of the service: an observer, started beside the tree. Every
 * second it draws the tree; when the time is up it stops the Producer,
 * waits for the backlog to drain and asks the application to stop. */

#define MAX_DRAWN 32

typedef struct drawn {
    char path[96];
    grove_pid_t pid;
} drawn_t;

typedef struct dash {
    drawn_t prev[MAX_DRAWN], cur[MAX_DRAWN];
    size_t nprev, ncur;
    int phase; /* 0 running, 1 draining, 2 stop asked */
    double next_draw, drain_since;
} dash_t;

typedef struct buf {
    char text[8192];
    size_t len;
} buf_t;

static void put(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (b->len < sizeof b->text) {
        int n = vsnprintf(b->text + b->len, sizeof b->text - b->len, fmt,
                          ap);
        if (n > 0)
            b->len += (size_t)n;
    }
    va_end(ap);
}

static const char *const strategy_names[] = {"one_for_one", "one_for_all",
                                             "rest_for_one"};

/* True when path had another pid in the previous drawing. */
static bool changed(const dash_t *d, const char *path, grove_pid_t pid)
{
    for (size_t i = 0; i < d->nprev; i++)
        if (strcmp(d->prev[i].path, path) == 0)
            return !grove_pid_equal(d->prev[i].pid, pid);
    return d->nprev > 0;
}

static void draw_node(dash_t *d, buf_t *b, const char *indent,
                      const char *branch, const char *path, const char *id,
                      grove_pid_t pid, bool is_sup)
{
    char p[GROVE_PID_STR_MAX];
    bool moved = changed(d, path, pid);
    if (d->ncur < MAX_DRAWN) {
        snprintf(d->cur[d->ncur].path, sizeof d->cur[d->ncur].path, "%s",
                 path);
        d->cur[d->ncur++].pid = pid;
    }
    put(b, "  %s%s%s%s %s%s%s%s", indent, branch, is_sup ? BOLD : "", id,
        is_sup ? RESET : "", moved ? YELLOW : "", pid_str(pid, p),
        moved ? " *" : "");
    put(b, "%s", RESET);
    if (is_sup) {
        grove_sup_stats_t st;
        if (grove_sup_stats(grove_server_pid(pid), &st) == 0)
            put(b, "  %s%s, restarts %llu (max %d in %d s)%s", DIM,
                strategy_names[st.strategy],
                (unsigned long long)st.restarts, st.max_restarts,
                st.max_seconds, RESET);
    }
    put(b, "\n");
}

static void draw_children(dash_t *d, buf_t *b, grove_pid_t sup,
                          const char *indent, const char *path)
{
    grove_child_info_t kids[16];
    size_t n = 0;
    if (grove_sup_which_children(grove_server_pid(sup), kids, 16, &n) != 0) {
        put(b, "  %s(gone)\n", indent);
        return;
    }
    if (n > 16)
        n = 16;
    for (size_t k = n; k-- > 0;) { /* which_children lists newest first */
        const grove_child_info_t *c = &kids[k];
        char sub[96], deeper[128];
        snprintf(sub, sizeof sub, "%s/%s", path, c->id);
        bool is_sup = c->type == GROVE_SUPERVISOR && c->pid.id;
        draw_node(d, b, indent, k ? "├── " : "└── ", sub, c->id, c->pid,
                  is_sup);
        if (c->state == GROVE_CHILD_RESTARTING)
            put(b, "  %s    (restarting)\n", indent);
        if (is_sup) {
            snprintf(deeper, sizeof deeper, "%s%s", indent,
                     k ? "│   " : "    ");
            draw_children(d, b, c->pid, deeper, sub);
        }
    }
}

static void draw_tree(dash_t *d)
{
    static buf_t b; /* only the dashboard draws */
    b.len = 0;
    grove_pid_t root;
    monitor_stats_t ms = {0, 0};
    queue_stats_t qs;
    bool q_ok = call_value("MyApp.JobQueue", Q_STATS, NULL, 0, &qs,
                           sizeof qs, 500) == 0;
    call_value("MyApp.JobMonitor", MON_STATS, NULL, 0, &ms, sizeof ms, 500);
    put(&b, "%s── %4.1fs ── accepted %ld, done %llu (JobMonitor)", BOLD,
        elapsed(), atomic_load(&run.accepted),
        (unsigned long long)ms.done);
    if (q_ok)
        put(&b, ", queued %llu, in progress %llu",
            (unsigned long long)qs.pending, (unsigned long long)qs.leased);
    else
        put(&b, ", JobQueue restarting");
    put(&b, ", lost & re-issued %ld ──%s\n", atomic_load(&run.lost_reissued),
        RESET);
    d->ncur = 0;
    if (grove_whereis("MyApp.Supervisor", &root) == 0) {
        draw_node(d, &b, "", "", "", "MyApp.Supervisor", root, true);
        draw_children(d, &b, root, "", "");
    }
    memcpy(d->prev, d->cur, d->ncur * sizeof *d->cur);
    d->nprev = d->ncur;
    printf("%.*s", (int)b.len, b.text); /* in one piece */
}

static grove_gs_ret_t dash_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    dash_t *d = grove_calloc(1, sizeof *d);
    if (!d)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, d);
    d->next_draw = 1.0;
    grove_send_after(grove_self(), 50, DASH_TICK, NULL, 0, NULL);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t dash_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)m; /* DASH_TICK */
    dash_t *d = grove_gs_state(gs);
    double t = elapsed();
    if (d->phase == 0 && t >= cfg.seconds) {
        draw_tree(d);
        EVENT("TIME", BOLD, "%.1f s are up: the Producer stops; draining "
              "the queue", cfg.seconds);
        grove_gs_try_call(by_name("MyApp.Producer"), PROD_STOP, NULL, 0,
                          NULL, 5000, NULL);
        d->phase = 1;
        d->drain_since = t;
    } else if (d->phase == 0 && t >= d->next_draw) {
        draw_tree(d);
        d->next_draw += 1.0;
    } else if (d->phase == 1) {
        repo_stats_t rs;
        bool empty = call_value("MyApp.Repo", REPO_STATS, NULL, 0, &rs,
                                sizeof rs, 1000) == 0 &&
                     rs.unfinished == 0;
        if (empty || (t - d->drain_since) * 1000 >= DRAIN_MS) {
            atomic_store(&run.drained, empty);
            EVENT("DRAINED", BOLD, "%s (%.2f s); stopping the application",
                  empty ? "every accepted job is done" : "drain timed out",
                  t - d->drain_since);
            draw_tree(d);
            grove_app_stop();
            d->phase = 2;
        }
    }
    if (d->phase < 2)
        grove_send_after(grove_self(), 50, DASH_TICK, NULL, 0, NULL);
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t dashboard = {
    .name = "Dashboard", .init = dash_init, .handle_info = dash_info};

/* ---- reports ----------------------------------------------------------------
 * Supervisor and crash reports, one readable line each. Handlers run on
 * scheduler threads, possibly several at once: shared counts are taken
 * under a lock. */

static const char *field(const grove_log_event_t *ev, const char *key)
{
    for (size_t i = 0; i < ev->nfields; i++)
        if (strcmp(ev->fields[i].key, key) == 0)
            return ev->fields[i].value ? ev->fields[i].value : "";
    return "";
}

static int sup_index(const char *name)
{
    for (int i = 0; i < S_COUNT; i++)
        if (strcmp(name, sup_names[i]) == 0)
            return i;
    return -1;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strstr(s, prefix) == s;
}

/* Which fault a child's exit reason shows. */
static fault_t classify(const char *sup, const char *child,
                        const char *reason)
{
    if (strcmp(child, "MyApp.JobQueue") == 0 &&
        starts_with(reason, "{assert,"))
        return F_QUEUE;
    if (strcmp(reason, "shutdown") == 0)
        return F_GAVE_UP; /* a child supervisor that gave up */
    if (strcmp(sup, "MyApp.WorkerPool") == 0) {
        if (starts_with(reason, "{fault,SIGSEGV,0x0,"))
            return F_NULL;
        if (starts_with(reason, "{assert,"))
            return F_ASSERT;
        if (starts_with(reason, "{error,22,"))
            return F_UNKNOWN;
    }
    return F_OTHER;
}

/* "{assert,"/long/path/demo.c:123: x"}" reads better without the path. */
static const char *short_reason(const char *r, char *buf, size_t size)
{
    const char *slash = strrchr(r, '/');
    if (!starts_with(r, "{assert,\"") || !slash)
        return r;
    snprintf(buf, size, "{assert,\"%s", slash + 1);
    return buf;
}

static void sup_event(const grove_log_event_t *ev)
{
    const char *sup = field(ev, "supervisor_name");
    const char *ctx = field(ev, "context");
    const char *child = field(ev, "child_id");
    const char *cpid = field(ev, "child_pid");
    char rbuf[256];
    const char *why = short_reason(field(ev, "reason"), rbuf, sizeof rbuf);
    int s = sup_index(sup);
    pthread_mutex_lock(&seen.lock);
    if (strcmp(ctx, "child_started") == 0) {
        EVENT("START", GREEN, "%s: %s %s", sup, child, cpid);
    } else if (strcmp(ctx, "child_terminated") == 0) {
        seen.crashed[classify(sup, child, field(ev, "reason"))]++;
        EVENT("EXIT", YELLOW, "%s: %s %s %s", sup, child, cpid, why);
    } else if (strcmp(ctx, "restart") == 0) {
        if (s >= 0)
            seen.restarts[s]++;
        EVENT("RESTART", GREEN, "%s restarts %s (was %s)", sup, child,
              cpid);
    } else if (strcmp(ctx, "reached_max_restart_intensity") == 0) {
        if (s >= 0)
            seen.gave_up[s]++;
        EVENT("GIVE UP", RED, "%s: too many restarts; it shuts down and "
              "exits shutdown", sup);
    } else if (strcmp(ctx, "shutdown_error") == 0) {
        /* A child that did not end as asked: it crashed while being
         * stopped, or had to be killed. */
        if (atomic_load(&run.stopping))
            seen.shutdown_errors_at_end++;
        seen.crashed[classify(sup, child, field(ev, "reason"))]++;
        EVENT("SHUTDOWN", RED, "%s: %s %s did not stop cleanly: %s", sup,
              child, cpid, why);
    } else {
        EVENT(ctx, YELLOW, "%s: %s %s %s", sup, child, cpid, why);
    }
    pthread_mutex_unlock(&seen.lock);
}

/* A gen_server's crash brings two reports (the server's and the
 * process's): show the first. */
static void crash_event(const grove_log_event_t *ev)
{
    pthread_mutex_lock(&seen.lock);
    for (unsigned i = 0; i < 32; i++)
        if (grove_pid_equal(seen.recent[i], ev->pid)) {
            pthread_mutex_unlock(&seen.lock);
            return;
        }
    seen.recent[seen.nrecent++ % 32] = ev->pid;
    /* Name it by its registered name if it has one, else its module. */
    char rbuf[256], who[GROVE_NAME_MAX], p[GROVE_PID_STR_MAX];
    grove_process_info_t info;
    const char *server = field(ev, "server");
    size_t n = strcspn(server, ";");
    if (field(ev, "name")[0])
        snprintf(who, sizeof who, "%s", field(ev, "name"));
    else if (grove_process_info(ev->pid, &info) == 0 && info.name[0])
        snprintf(who, sizeof who, "%s", info.name);
    else
        snprintf(who, sizeof who, "%.*s", (int)n, n ? server : "process");
    EVENT("CRASH", RED, "%s %s: %s", who, pid_str(ev->pid, p),
          short_reason(field(ev, "reason"), rbuf, sizeof rbuf));
    pthread_mutex_unlock(&seen.lock);
}

static void on_event(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "supervisor_report") == 0)
        sup_event(ev);
    else if (strcmp(ev->kind, "crash_report") == 0)
        crash_event(ev);
    else if (ev->level >= GROVE_LOG_NOTICE ||
             strcmp(ev->kind, "progress") == 0)
        EVENT("APP", CYAN, "%s", ev->text);
}

/* ---- the application ----------------------------------------------------- */

static grove_pid_t dashboard_pid;

/* What the summary reads, collected in prep_stop while the tree runs. */
static struct {
    bool repo_ok, sup_ok[S_COUNT];
    repo_stats_t repo;
    grove_sup_stats_t sup[S_COUNT];
} final;

/* OTP's start/2: start the root, linked to the caller; and the
 * dashboard beside it. */
static int app_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_sup_opts_t o = {.link = true, .name = "MyApp.Supervisor"};
    int rc = grove_sup_start(&root_spec, &o, pid, why);
    if (rc == 0)
        grove_gs_start(&dashboard, NULL, NULL, &dashboard_pid, NULL);
    return rc;
}

/* Before the tree stops: stop the dashboard, take the statistics. */
static void app_prep_stop(void *arg)
{
    (void)arg;
    if (!grove_pid_is_none(dashboard_pid))
        grove_gs_stop(grove_server_pid(dashboard_pid), NULL, 5000, NULL);
    final.repo_ok = call_value("MyApp.Repo", REPO_STATS, NULL, 0,
                               &final.repo, sizeof final.repo, 5000) == 0;
    for (int s = 0; s < S_COUNT; s++)
        final.sup_ok[s] =
            grove_sup_stats(by_name(sup_names[s]), &final.sup[s]) == 0;
    atomic_store(&run.stopping, true);
    EVENT("STOPPING", BOLD, "the tree shuts down in reverse start order");
}

static const grove_app_t my_app = {
    .name = "my_app",
    .type = GROVE_APP_PERMANENT,
    .start = app_start,
    .prep_stop = app_prep_stop,
};

/* ---- the summary --------------------------------------------------------- */

static int problems;

static void promise(bool held, const char *what)
{
    printf("  %s%-4s%s %s\n", held ? GREEN : RED, held ? "ok" : "FAIL",
           RESET, what);
    if (!held)
        problems++;
}

static void summary(int app_rc)
{
    const repo_stats_t *r = &final.repo;
    long accepted = atomic_load(&run.accepted);
    bool drained = atomic_load(&run.drained);
    printf("\n%sSummary%s after %.1f s (seed %llu)\n", BOLD, RESET,
           elapsed(), (unsigned long long)cfg.seed);
    printf("  jobs submitted (accepted)  %8ld  (refused while the queue "
           "was away: %ld)\n",
           accepted, atomic_load(&run.refused));
    if (final.repo_ok) {
        printf("  recorded in MyApp.Repo     %8llu\n",
               (unsigned long long)r->inserted);
        printf("  done                       %8llu\n",
               (unsigned long long)r->done);
        printf("  not done as the stop began %8llu%s\n",
               (unsigned long long)r->unfinished,
               drained ? "" : "  (stopped before the drain)");
        printf("  lost with a crashed worker %8ld  (found by the JobMonitor, "
               "re-issued)\n",
               atomic_load(&run.lost_reissued));
        printf("  re-issued by a new queue   %8ld  (handed out when the "
               "JobQueue crashed)\n",
               atomic_load(&run.rerun_after_queue));
        printf("  attempts                   %8llu  (%llu more than jobs "
               "done: work redone)\n",
               (unsigned long long)r->attempts,
               (unsigned long long)(r->attempts - r->done));
        printf("  completions recorded twice %8llu\n",
               (unsigned long long)r->duplicates);
    }
    printf("  stuck jobs reported        %8ld\n", atomic_load(&run.stuck));

    printf("\n  %-20s %9s %8s\n", "crashes by kind", "injected", "seen");
    bool crashes_ok = true;
    for (int f = F_NULL; f < F_COUNT; f++) {
        bool injectable = f <= F_QUEUE;
        long inj = atomic_load(&run.injected[f]);
        if (injectable)
            printf("  %-20s %9ld %8ld\n", fault_names[f], inj,
                   seen.crashed[f]);
        else
            printf("  %-20s %9s %8ld\n", fault_names[f], "-",
                   seen.crashed[f]);
        /* A fault sent to a worker that was being replaced, or a job
         * whose worker was stopped before it could crash, is lost
         * unfelt: a kind may crash less often than it was injected,
         * never more. */
        if (injectable && seen.crashed[f] > inj)
            crashes_ok = false;
    }
    if (seen.crashed[F_OTHER])
        crashes_ok = false;

    printf("\n  %-21s %8s  %s\n", "restarts", "reported",
           "grove_sup_stats, last incarnation");
    for (int s = 0; s < S_COUNT; s++) {
        printf("  %-21s %8ld", sup_names[s], seen.restarts[s]);
        if (final.sup_ok[s])
            printf("  %llu, %llu in window, max %d in %d s",
                   (unsigned long long)final.sup[s].restarts,
                   (unsigned long long)final.sup[s].in_window,
                   final.sup[s].max_restarts, final.sup[s].max_seconds);
        if (seen.gave_up[s])
            printf("; gave up %ld times", seen.gave_up[s]);
        printf("\n");
    }

    printf("\nPromises:\n");
    promise(app_rc == 0, "the root supervisor never gave up");
    promise(final.repo_ok && r->inserted >= (uint64_t)accepted,
            "every job acknowledged to the Producer is in the Repo");
    if (drained)
        promise(final.repo_ok && r->unfinished == 0 && r->done > 0,
                "every accepted job was done at least once");
    else
        printf("  %-4s every accepted job done: not checked, the run was "
               "stopped before its drain\n",
               "--");
    promise(crashes_ok, "every crash was an injected fault");
    promise(seen.shutdown_errors_at_end == 0,
            "the final shutdown stopped every child cleanly");
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
    setvbuf(stdout, NULL, _IOLBF, 0);

    printf("%sGrove demo%s: the job-processing service, %.1f s, seed "
           "%llu; Ctrl-C stops it\n\n",
           BOLD, RESET, cfg.seconds, (unsigned long long)cfg.seed);
    grove_log_clear_handlers();
    grove_log_add_handler(on_event, NULL, GROVE_LOG_INFO, NULL);

    grove_app_opts_t opts = {.no_notify = true};
    int rc = grove_app_run(&my_app, 1, &opts);
    summary(rc);
    printf("%s\n", problems ? "FAILED: see above"
                            : "OK: every fault stayed inside its subtree");
    return problems ? 1 : 0;
}
