/* jobs_service.c: the job-processing service of "Supervisors and
 * Supervision Trees", short version.
 *
 *     MyApp.Supervisor (one_for_one)
 *     ├── MyApp.Repo (DB connection pool)
 *     ├── MyApp.JobsSupervisor (rest_for_one)
 *     │   ├── MyApp.JobQueue (GenServer holding queue state)
 *     │   ├── MyApp.WorkerPool (one_for_one)
 *     │   │   ├── MyApp.Worker (id: 1)
 *     │   │   ├── MyApp.Worker (id: 2)
 *     │   │   └── MyApp.Worker (id: 3)
 *     │   └── MyApp.JobMonitor (reports stuck jobs)
 *     └── MyAppWeb.Endpoint (Phoenix HTTP server)
 *
 * (Phoenix.PubSub is left out; the Endpoint is an idle stand-in.)
 *
 * How the jobs flow: a client submits a job to the JobQueue, which first
 * writes it to the Repo, the service's database. Workers pull jobs from
 * the queue, which leases each to the worker that took it; a worker
 * stores the result in the Repo and tells the queue it is done. The
 * JobMonitor looks at the leases: a job leased to a worker that died is
 * lost, and it has the queue issue it again.
 * The queue's memory dies with it, but the Repo does not (it is outside
 * the JobsSupervisor): a new queue reloads every unfinished job from it.
 *
 * The program processes a few jobs, then:
 *  - job 6 hits a bug in a worker (a failed GROVE_ASSERT). WorkerPool,
 *    one_for_one, restarts that worker only; the JobMonitor finds job 6
 *    lost and has it re-issued;
 *  - the JobQueue is killed with jobs pending. JobsSupervisor,
 *    rest_for_one, restarts the queue and the WorkerPool and JobMonitor
 *    started after it ("they were holding references to a dead process
 *    anyway"); the Repo and the Endpoint are untouched; the new queue
 *    reloads the pending jobs and every job still gets done.
 * demo.c runs the same service for longer, with faults at random.
 *
 * Run:  build/release/examples/jobs_service
 * Exits 0 when every job was done with the right result and each crash
 * restarted exactly the processes its supervisor's strategy names.
 */
#include <stdio.h>
#include <string.h>

#include <grove.h>

static int failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("  FAILED: " __VA_ARGS__);                               \
            printf("\n");                                                   \
            failures++;                                                     \
        }                                                                   \
    } while (0)

#define MAX_JOBS 64
#define N_WORKERS 3

typedef struct job {
    uint32_t id;      /* given by the Repo */
    uint32_t input;
    uint32_t attempt; /* 1 for the first */
    uint32_t poison;  /* hits the bug on its first attempt */
} job_t;

typedef struct result {
    uint64_t id, value;
} result_t;

enum {
    REPO_INSERT = 1, /* call job -> id */
    REPO_RESULT,     /* cast result_t */
    REPO_UNFINISHED, /* call -> job_t[] */
    REPO_DONE,       /* call -> number of jobs with a result */
    REPO_CHECK,      /* call -> number of wrong results */
    Q_SUBMIT,        /* call job -> ok */
    Q_TAKE,          /* call -> job_t, or nothing */
    Q_DONE,          /* cast id */
    Q_LEASES,        /* call -> lease_t[] */
    Q_REISSUE,       /* cast id */
    MON_TICK
};

static grove_server_t by_name(const char *name)
{
    return grove_server_name(name);
}

/* ---- MyApp.Repo: the database -------------------------------------------- */

typedef struct repo {
    job_t jobs[MAX_JOBS];
    uint64_t result[MAX_JOBS];
    bool done[MAX_JOBS];
    uint32_t n;
} repo_t;

static uint64_t expected_result(uint32_t input)
{
    return (uint64_t)input * input;
}

static grove_gs_ret_t repo_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    repo_t *r = grove_calloc(1, sizeof *r);
    if (!r)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, r);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t repo_call(grove_gs_t *gs, const grove_msg_t *m,
                                grove_gs_from_t from)
{
    (void)from;
    repo_t *r = grove_gs_state(gs);
    uint32_t k = 0;
    switch (grove_msg_tag(m)) {
    case REPO_INSERT:
        if (r->n == MAX_JOBS)
            return GROVE_GS_REPLY(0, NULL, 0);
        memcpy(&r->jobs[r->n], grove_msg_data(m), sizeof(job_t));
        r->jobs[r->n].id = r->n;
        k = r->n++;
        return GROVE_GS_REPLY(0, &k, sizeof k);
    case REPO_UNFINISHED: {
        job_t todo[MAX_JOBS];
        for (uint32_t i = 0; i < r->n; i++)
            if (!r->done[i])
                todo[k++] = r->jobs[i];
        return GROVE_GS_REPLY(0, todo, k * sizeof(job_t));
    }
    case REPO_DONE:
        for (uint32_t i = 0; i < r->n; i++)
            k += r->done[i];
        return GROVE_GS_REPLY(0, &k, sizeof k);
    default: /* REPO_CHECK */
        for (uint32_t i = 0; i < r->n; i++)
            k += !r->done[i] ||
                 r->result[i] != expected_result(r->jobs[i].input);
        return GROVE_GS_REPLY(0, &k, sizeof k);
    }
}

static grove_gs_ret_t repo_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    repo_t *r = grove_gs_state(gs);
    result_t res;
    memcpy(&res, grove_msg_data(m), sizeof res);
    if (res.id < r->n) {
        r->done[res.id] = true;
        r->result[res.id] = res.value;
    }
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t repo = {.name = "MyApp.Repo",
                                          .init = repo_init,
                                          .handle_call = repo_call,
                                          .handle_cast = repo_cast};

/* Calls a server, returning one uint32_t reply (or `fail`). */
static uint32_t call_u32(const char *server, uint64_t tag, const void *req,
                         size_t size, uint32_t fail)
{
    grove_msg_t *reply;
    uint32_t v = fail;
    if (grove_gs_try_call(by_name(server), tag, req, size, &reply, 2000,
                          NULL) != 0)
        return fail;
    if (grove_msg_size(reply) == sizeof v)
        memcpy(&v, grove_msg_data(reply), sizeof v);
    grove_msg_free(reply);
    return v;
}

/* ---- MyApp.JobQueue ---------------------------------------------------------
 * Pending jobs in a ring, and the jobs leased to workers. */

typedef struct lease {
    job_t job;
    grove_pid_t holder;
} lease_t;

typedef struct queue {
    job_t pending[MAX_JOBS];
    uint32_t head, len;
    lease_t leases[MAX_JOBS];
    uint32_t nleases;
} queue_t;

static void push(queue_t *q, job_t j, bool front)
{
    if (q->len == MAX_JOBS)
        return;
    if (front) {
        q->head = (q->head + MAX_JOBS - 1) % MAX_JOBS;
        q->pending[q->head] = j;
    } else {
        q->pending[(q->head + q->len) % MAX_JOBS] = j;
    }
    q->len++;
}

/* Takes lease i out, returning its job. */
static job_t unlease(queue_t *q, uint32_t i)
{
    job_t j = q->leases[i].job;
    q->leases[i] = q->leases[--q->nleases];
    return j;
}

static int find_lease(const queue_t *q, uint32_t id)
{
    for (uint32_t i = 0; i < q->nleases; i++)
        if (q->leases[i].job.id == id)
            return (int)i;
    return -1;
}

static grove_gs_ret_t queue_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    queue_t *q = grove_calloc(1, sizeof *q);
    if (!q)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, q);
    /* The queue's own memory died with its predecessor: start from what
     * the Repo says is not done yet. */
    grove_msg_t *reply;
    int rc = grove_gs_try_call(by_name("MyApp.Repo"), REPO_UNFINISHED, NULL,
                               0, &reply, 2000, NULL);
    if (rc != 0)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "no Repo"));
    size_t n = grove_msg_size(reply) / sizeof(job_t);
    for (size_t i = 0; i < n; i++) {
        job_t j;
        memcpy(&j, (const job_t *)grove_msg_data(reply) + i, sizeof j);
        push(q, j, false);
    }
    grove_msg_free(reply);
    if (n)
        printf("    MyApp.JobQueue: reloaded %zu unfinished jobs from "
               "MyApp.Repo\n",
               n);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t queue_call(grove_gs_t *gs, const grove_msg_t *m,
                                 grove_gs_from_t from)
{
    queue_t *q = grove_gs_state(gs);
    job_t j;
    switch (grove_msg_tag(m)) {
    case Q_SUBMIT: /* written to the Repo before it is acknowledged */
        memcpy(&j, grove_msg_data(m), sizeof j);
        j.id = call_u32("MyApp.Repo", REPO_INSERT, &j, sizeof j, UINT32_MAX);
        if (j.id == UINT32_MAX)
            return GROVE_GS_REPLY(0, NULL, 0);
        push(q, j, false);
        return GROVE_GS_REPLY(0, &j.id, sizeof j.id);
    case Q_TAKE:
        if (q->len == 0 || q->nleases == MAX_JOBS)
            return GROVE_GS_REPLY(0, NULL, 0);
        j = q->pending[q->head];
        q->head = (q->head + 1) % MAX_JOBS;
        q->len--;
        j.attempt++;
        q->leases[q->nleases++] = (lease_t){j, from.pid};
        return GROVE_GS_REPLY(0, &j, sizeof j);
    default: /* Q_LEASES */
        return GROVE_GS_REPLY(0, q->leases, q->nleases * sizeof(lease_t));
    }
}

static grove_gs_ret_t queue_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    queue_t *q = grove_gs_state(gs);
    uint32_t id;
    memcpy(&id, grove_msg_data(m), sizeof id);
    int i = find_lease(q, id);
    if (i < 0)
        return GROVE_GS_NOREPLY();
    job_t j = unlease(q, (uint32_t)i);
    if (grove_msg_tag(m) == Q_REISSUE)
        push(q, j, true); /* lost: it goes first */
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t job_queue = {.name = "MyApp.JobQueue",
                                               .init = queue_init,
                                               .handle_call = queue_call,
                                               .handle_cast = queue_cast};

/* ---- MyApp.Worker -----------------------------------------------------------
 * Pulls a job, works, stores the result, pulls again; polls every 5 ms
 * while the queue is empty or away. */

static grove_gs_ret_t worker_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    return grove_gs_with_timeout(GROVE_GS_INIT_OK(), 0);
}

static grove_gs_ret_t worker_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    (void)m; /* the timeout: time to pull */
    grove_msg_t *reply;
    if (grove_gs_try_call(by_name("MyApp.JobQueue"), Q_TAKE, NULL, 0,
                          &reply, 2000, NULL) != 0)
        return grove_gs_with_timeout(GROVE_GS_NOREPLY(), 5);
    job_t j;
    bool got = grove_msg_size(reply) == sizeof j;
    if (got)
        memcpy(&j, grove_msg_data(reply), sizeof j);
    grove_msg_free(reply);
    if (!got)
        return grove_gs_with_timeout(GROVE_GS_NOREPLY(), 5);

    /* The bug: a poisoned job trips it on its first attempt (a transient
     * fault: its second attempt goes through). */
    GROVE_ASSERT(!j.poison || j.attempt > 1);
    grove_sleep(5); /* the work */
    result_t res = {j.id, expected_result(j.input)};
    grove_gs_cast(by_name("MyApp.Repo"), REPO_RESULT, &res, sizeof res);
    grove_gs_cast(by_name("MyApp.JobQueue"), Q_DONE, &j.id, sizeof j.id);
    return grove_gs_with_timeout(GROVE_GS_NOREPLY(), 0);
}

static const grove_gs_callbacks_t worker = {.name = "MyApp.Worker",
                                            .init = worker_init,
                                            .handle_info = worker_info};

/* ---- MyApp.JobMonitor -------------------------------------------------------
 * Every 20 ms, finds the jobs leased to dead workers and has them
 * re-issued. */

static grove_gs_ret_t monitor_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    grove_send_after(grove_self(), 20, MON_TICK, NULL, 0, NULL);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t monitor_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    (void)m; /* MON_TICK */
    grove_msg_t *reply;
    if (grove_gs_try_call(by_name("MyApp.JobQueue"), Q_LEASES, NULL, 0,
                          &reply, 1000, NULL) == 0) {
        size_t n = grove_msg_size(reply) / sizeof(lease_t);
        for (size_t i = 0; i < n; i++) {
            lease_t l;
            memcpy(&l, (const lease_t *)grove_msg_data(reply) + i, sizeof l);
            if (grove_is_alive(l.holder))
                continue;
            char p[GROVE_PID_STR_MAX];
            printf("    MyApp.JobMonitor: job %u was lost with %s; "
                   "re-issued\n",
                   l.job.id, grove_pid_format(l.holder, p, sizeof p));
            grove_gs_cast(by_name("MyApp.JobQueue"), Q_REISSUE, &l.job.id,
                          sizeof l.job.id);
        }
        grove_msg_free(reply);
    }
    grove_send_after(grove_self(), 20, MON_TICK, NULL, 0, NULL);
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t job_monitor = {.name = "MyApp.JobMonitor",
                                                 .init = monitor_init,
                                                 .handle_info = monitor_info};

/* MyAppWeb.Endpoint: a stand-in that serves nothing. */
static const grove_gs_callbacks_t endpoint = {.name = "MyAppWeb.Endpoint"};

/* ---- the tree ------------------------------------------------------------ */

static const grove_gs_opts_t repo_opts = {.name = "MyApp.Repo"};
static const grove_gs_opts_t queue_opts = {.name = "MyApp.JobQueue"};
static const grove_gs_opts_t monitor_opts = {.name = "MyApp.JobMonitor"};

/* for id <- 1..3: Supervisor.child_spec({MyApp.Worker, [id: id]},
 *                                       id: {:worker, id}) */
static const grove_child_spec_t pool_children[N_WORKERS] = {
    {.id = "{:worker, 1}", .gen_server = &worker},
    {.id = "{:worker, 2}", .gen_server = &worker},
    {.id = "{:worker, 3}", .gen_server = &worker},
};

static const grove_sup_spec_t worker_pool = {
    .name = "MyApp.WorkerPool",
    .flags = {.strategy = GROVE_ONE_FOR_ONE},
    .children = pool_children,
    .nchildren = N_WORKERS,
};

static const grove_child_spec_t jobs_children[] = {
    {.id = "MyApp.JobQueue", .gen_server = &job_queue,
     .gs_opts = &queue_opts},
    {.id = "MyApp.WorkerPool", .supervisor = &worker_pool},
    {.id = "MyApp.JobMonitor", .gen_server = &job_monitor,
     .gs_opts = &monitor_opts},
};

static const grove_sup_spec_t jobs_supervisor = {
    .name = "MyApp.JobsSupervisor",
    .flags = {.strategy = GROVE_REST_FOR_ONE},
    .children = jobs_children,
    .nchildren = 3,
};

static const grove_child_spec_t root_children[] = {
    {.id = "MyApp.Repo", .gen_server = &repo, .gs_opts = &repo_opts},
    {.id = "MyApp.JobsSupervisor", .supervisor = &jobs_supervisor},
    {.id = "MyAppWeb.Endpoint", .gen_server = &endpoint},
};

static const grove_sup_spec_t my_app_supervisor = {
    .name = "MyApp.Supervisor",
    .flags = {.strategy = GROVE_ONE_FOR_ONE},
    .children = root_children,
    .nchildren = 3,
};

/* ---- drawing the tree -------------------------------------------------------
 * which_children, recursively; the pids in start order go to pids[] so
 * that two drawings can be compared. */

static const char *const strategy_names[] = {"one_for_one", "one_for_all",
                                             "rest_for_one"};

static void draw(grove_pid_t sup, const char *indent, grove_pid_t *pids,
                 size_t *npids)
{
    grove_child_info_t kids[8];
    size_t n = 0;
    if (grove_sup_which_children(grove_server_pid(sup), kids, 8, &n) != 0)
        return;
    for (size_t k = n; k-- > 0;) { /* newest first: walk backwards */
        const grove_child_info_t *c = &kids[k];
        grove_sup_stats_t st;
        char p[GROVE_PID_STR_MAX], deeper[64];
        bool is_sup = c->type == GROVE_SUPERVISOR &&
                      grove_sup_stats(grove_server_pid(c->pid), &st) == 0;
        printf("  %s%s %s %s%s%s\n", indent, k ? "├──" : "└──", c->id,
               grove_pid_format(c->pid, p, sizeof p), is_sup ? " " : "",
               is_sup ? strategy_names[st.strategy] : "");
        pids[(*npids)++] = c->pid;
        if (is_sup) {
            snprintf(deeper, sizeof deeper, "%s%s", indent,
                     k ? "│   " : "    ");
            draw(c->pid, deeper, pids, npids);
        }
    }
}

#define N_PROCS 10 /* everything below the root */

static void draw_tree(grove_pid_t root, grove_pid_t pids[N_PROCS])
{
    char p[GROVE_PID_STR_MAX];
    size_t n = 0;
    printf("  MyApp.Supervisor %s one_for_one\n",
           grove_pid_format(root, p, sizeof p));
    draw(root, "", pids, &n);
}

/* ---- the session --------------------------------------------------------- */

/* Positions in draw order. */
enum { REPO, JOBS_SUP, QUEUE, POOL, W1, W2, W3, MONITOR, ENDPOINT };

static uint32_t submitted;

static void submit(uint32_t input, bool poison)
{
    job_t j = {.input = input, .poison = poison};
    if (call_u32("MyApp.JobQueue", Q_SUBMIT, &j, sizeof j, UINT32_MAX) ==
        UINT32_MAX)
        CHECK(0, "job %u not accepted", input);
    else
        submitted++;
}

static void await_done(void)
{
    uint32_t done = 0;
    for (int i = 0; i < 500 && done < submitted; i++) {
        grove_sleep(10);
        done = call_u32("MyApp.Repo", REPO_DONE, NULL, 0, 0);
    }
    printf("  %u of %u jobs done\n", done, submitted);
    CHECK(done == submitted, "jobs left undone");
}

/* Compares two drawings: which positions got new pids. */
static void check_changed(const grove_pid_t a[N_PROCS],
                          const grove_pid_t b[N_PROCS], const char *want)
{
    static const char *const names[] = {
        "MyApp.Repo",       "MyApp.JobsSupervisor", "MyApp.JobQueue",
        "MyApp.WorkerPool", "{:worker, 1}",         "{:worker, 2}",
        "{:worker, 3}",     "MyApp.JobMonitor",     "MyAppWeb.Endpoint"};
    printf("  restarted:");
    for (int i = 0; i <= ENDPOINT; i++)
        if (!grove_pid_equal(a[i], b[i]))
            printf(" %s", names[i]);
    printf("\n");
    for (int i = 0; i <= ENDPOINT; i++)
        CHECK(grove_pid_equal(a[i], b[i]) == (want[i] == '.'),
              "%s was%s restarted", names[i],
              want[i] == '.' ? "" : " not");
}

static void session(void *arg)
{
    (void)arg;
    grove_pid_t root, t0[N_PROCS], t1[N_PROCS], t2[N_PROCS];
    grove_sup_opts_t o = {.name = "MyApp.Supervisor"};
    int rc = grove_sup_start(&my_app_supervisor, &o, &root, NULL);
    CHECK(rc == 0, "start: %s", grove_errname(rc));
    if (rc != 0)
        return;
    draw_tree(root, t0);

    printf("\nJobs 0-4, then job 5, which hits a bug in its worker:\n");
    for (uint32_t i = 0; i < 5; i++)
        submit(i + 10, false);
    submit(15, true);
    await_done();
    grove_sleep(20);
    draw_tree(root, t1);
    /* One worker crashed: only it is restarted (one_for_one). Which one
     * took job 5 is up to timing: accept any single worker. */
    int crashed = 0;
    for (int w = W1; w <= W3; w++)
        crashed += !grove_pid_equal(t0[w], t1[w]);
    CHECK(crashed == 1, "%d workers restarted, want 1", crashed);
    for (int i = 0; i <= ENDPOINT; i++)
        if (i < W1 || i > W3)
            CHECK(grove_pid_equal(t0[i], t1[i]), "position %d restarted",
                  i);

    printf("\nJobs 6-17, and the JobQueue is killed with them pending:\n");
    for (uint32_t i = 0; i < 12; i++)
        submit(i + 20, false);
    grove_pid_t q;
    grove_whereis("MyApp.JobQueue", &q);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(q, &kill);
    await_done();
    draw_tree(root, t2);
    /* rest_for_one: the queue and everything started after it. */
    check_changed(t1, t2, "..xxxxxx.");
    CHECK(call_u32("MyApp.Repo", REPO_CHECK, NULL, 0, 1) == 0,
          "wrong results in the Repo");

    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    rc = grove_gs_stop(grove_server_pid(root), &shutdown, 5000, NULL);
    CHECK(rc == 0, "stop: %s", grove_errname(rc));
}

/* One line per supervisor action, and per crash. */
static void on_report(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "supervisor_report") == 0 &&
        !strstr(ev->text, "child_started"))
        printf("    [report] %s\n", ev->text);
    else if (strcmp(ev->kind, "crash_report") == 0 &&
             strncmp(ev->text, "process", 7) == 0)
        printf("    [crash] %s\n", ev->text);
}

int main(void)
{
    grove_log_clear_handlers();
    grove_log_add_handler(on_report, NULL, GROVE_LOG_INFO, NULL);
    grove_reason_t reason;
    int rc = grove_run(session, NULL, &reason);
    if (rc != 0 || reason.kind != GROVE_EXIT_NORMAL) {
        char why[160];
        grove_reason_format(&reason, why, sizeof why);
        printf("session ended badly: %s %s\n", grove_errname(rc), why);
        failures++;
    }
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
