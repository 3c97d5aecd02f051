/* custom_child_spec.c: a child spec written by hand.
 *
 * From "OTP Supervision", the custom child spec:
 *
 *     defmodule MyApp.Worker do
 *       use GenServer, restart: :transient
 *       def child_spec(opts) do
 *         %{id: {__MODULE__, opts[:id]},
 *           start: {__MODULE__, :start_link, [opts]},
 *           restart: :transient,
 *           shutdown: 10_000}
 *       end
 *       def start_link(opts), do: GenServer.start_link(__MODULE__, opts)
 *       def init(opts), do: {:ok, opts}
 *     end
 *
 * and, from "Supervisors", a temporary worker whose spec leaves the rest
 * to the defaults:
 *
 *     def child_spec(arg) do
 *       %{id: __MODULE__, start: {__MODULE__, :start_link, [arg]},
 *         restart: :temporary}
 *     end
 *
 * The program shows the specs as the supervisor holds them, defaults
 * filled in (get_childspec); that a transient child is restarted after a
 * crash but not after a normal exit; that a temporary child's spec goes
 * away when it ends; and that the 10 s shutdown lets MyApp.Worker finish
 * its cleanup in terminate instead of being killed.
 *
 * Run:  build/release/examples/custom_child_spec
 * Exits 0 when every child behaved as its spec says.
 */
#include <stdatomic.h>
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

/* ---- MyApp.Worker -------------------------------------------------------- */

enum { W_FINISH = 1, W_CRASH };

typedef struct worker_opts {
    int id;
    char child_id[32]; /* "{MyApp.Worker, 1}" */
} worker_opts_t;

#define CLEANUP_MS 300 /* what terminate needs to flush its buffer */

/* What the last terminate saw, for the check at the end. */
static atomic_int terminated_with = -1; /* a grove_exit_kind_t */

static grove_gs_ret_t worker_init(grove_gs_t *gs, void *arg)
{
    /* Trapping exits lets terminate run when the supervisor shuts the
     * worker down: that is what the long shutdown time is for. */
    grove_trap_exit(true);
    grove_gs_set_state(gs, arg); /* {:ok, opts} */
    return GROVE_GS_INIT_OK();
}

/* :finish -> {:stop, :normal, :ok, state}: the work is done. */
static grove_gs_ret_t worker_call(grove_gs_t *gs, const grove_msg_t *req,
                                  grove_gs_from_t from)
{
    (void)gs;
    (void)req;
    (void)from;
    static const char ok[] = ":ok";
    return GROVE_GS_STOP_REPLY(grove_reason_normal(), 0, ok, sizeof ok);
}

/* :crash -> raise: an abnormal exit. */
static grove_gs_ret_t worker_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    (void)gs;
    (void)msg;
    return GROVE_GS_STOP(grove_reason_error(1, "something went wrong"));
}

static void worker_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    const worker_opts_t *o = grove_gs_state(gs);
    if (r->kind != GROVE_EXIT_SHUTDOWN)
        return;
    printf("    %s terminate: flushing its buffer (%d ms)...\n",
           o->child_id, CLEANUP_MS);
    grove_sleep(CLEANUP_MS);
    printf("    %s terminate: done\n", o->child_id);
    atomic_store(&terminated_with, r->kind);
}

static const grove_gs_callbacks_t my_app_worker = {
    .name = "MyApp.Worker",
    .init = worker_init,
    .handle_call = worker_call,
    .handle_cast = worker_cast,
    .terminate = worker_terminate,
};

/* MyApp.Worker.start_link(opts): {M, F, A} in the spec. */
static int worker_start_link(void *opts, grove_pid_t *pid,
                             grove_reason_t *why)
{
    grove_gs_opts_t o = {.link = true};
    return grove_gs_start(&my_app_worker, opts, &o, pid, why);
}

/* MyApp.Worker.child_spec(opts). opts must outlive the supervisor. */
static grove_child_spec_t worker_child_spec(worker_opts_t *opts)
{
    snprintf(opts->child_id, sizeof opts->child_id, "{MyApp.Worker, %d}",
             opts->id);
    return (grove_child_spec_t){
        .id = opts->child_id,
        .start = worker_start_link,
        .arg = opts,
        .restart = GROVE_TRANSIENT,
        .shutdown = 10000,
    };
}

/* ---- MyTemporaryWorker ---------------------------------------------------
 * Does its one job and stops normally. */

static grove_gs_ret_t temp_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    return grove_gs_with_timeout(GROVE_GS_INIT_OK(), 100);
}

static grove_gs_ret_t temp_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    (void)m; /* the timeout: the job is done */
    return GROVE_GS_STOP(grove_reason_normal());
}

static const grove_gs_callbacks_t my_temporary_worker = {
    .name = "MyTemporaryWorker",
    .init = temp_init,
    .handle_info = temp_info,
};

static grove_child_spec_t temp_child_spec(void)
{
    return (grove_child_spec_t){
        .id = "MyTemporaryWorker",
        .gen_server = &my_temporary_worker,
        .restart = GROVE_TEMPORARY,
    };
}

/* ---- helpers ------------------------------------------------------------- */

static const char *const restart_names[] = {":permanent", ":transient",
                                            ":temporary"};

static void show_spec(grove_server_t sup, const char *id)
{
    grove_child_spec_t s;
    char idbuf[64], sd[24];
    int rc = grove_sup_get_childspec(sup, id, &s, idbuf);
    if (rc != 0) {
        printf("  get_childspec(%s) -> %s\n", id, grove_errname(rc));
        return;
    }
    if (s.shutdown == GROVE_SHUTDOWN_INFINITY)
        snprintf(sd, sizeof sd, ":infinity");
    else if (s.shutdown == GROVE_SHUTDOWN_BRUTAL_KILL)
        snprintf(sd, sizeof sd, ":brutal_kill");
    else
        snprintf(sd, sizeof sd, "%lld", (long long)s.shutdown);
    printf("  %%{id: %s, restart: %s, shutdown: %s, type: %s}\n", s.id,
           restart_names[s.restart], sd,
           s.type == GROVE_SUPERVISOR ? ":supervisor" : ":worker");
}

/* Looks a child up in which_children; false when it has no entry. */
static bool find_child(grove_server_t sup, const char *id,
                       grove_child_info_t *out)
{
    grove_child_info_t kids[8];
    size_t n = 0;
    if (grove_sup_which_children(sup, kids, 8, &n) != 0)
        return false;
    for (size_t i = 0; i < n && i < 8; i++)
        if (strcmp(kids[i].id, id) == 0) {
            *out = kids[i];
            return true;
        }
    return false;
}

/* Waits until the child's pid is other than old (NONE: not running). */
static grove_child_info_t await_pid_change(grove_server_t sup, const char *id,
                                           grove_pid_t old)
{
    grove_child_info_t c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 400; i++) {
        if (find_child(sup, id, &c) && !grove_pid_equal(c.pid, old))
            break;
        grove_sleep(5);
    }
    return c;
}

static const char *pid_str(grove_pid_t p, char buf[GROVE_PID_STR_MAX])
{
    return grove_pid_format(p, buf, GROVE_PID_STR_MAX);
}

/* ---- the session --------------------------------------------------------- */

static worker_opts_t worker1 = {.id = 1};

static void session(void *arg)
{
    (void)arg;
    char a[GROVE_PID_STR_MAX], b[GROVE_PID_STR_MAX];
    grove_child_spec_t children[2] = {worker_child_spec(&worker1),
                                      temp_child_spec()};
    const char *wid = worker1.child_id;
    grove_sup_spec_t spec = {.name = "MyApp.Supervisor",
                             .flags = {.strategy = GROVE_ONE_FOR_ONE},
                             .children = children,
                             .nchildren = 2};
    grove_pid_t sup_pid;
    int rc = grove_sup_start(&spec, NULL, &sup_pid, NULL);
    CHECK(rc == 0, "supervisor start: %s", grove_errname(rc));
    if (rc != 0)
        return;
    grove_server_t sup = grove_server_pid(sup_pid);

    printf("The specs as the supervisor holds them (get_childspec):\n");
    show_spec(sup, wid);
    show_spec(sup, "MyTemporaryWorker");
    grove_child_spec_t s;
    char idbuf[64];
    grove_sup_get_childspec(sup, wid, &s, idbuf);
    CHECK(s.restart == GROVE_TRANSIENT && s.shutdown == 10000 &&
              s.type == GROVE_WORKER,
          "MyApp.Worker's spec is not as written");
    grove_sup_get_childspec(sup, "MyTemporaryWorker", &s, idbuf);
    CHECK(s.restart == GROVE_TEMPORARY && s.shutdown == 5000 &&
              s.type == GROVE_WORKER,
          "MyTemporaryWorker's defaults are not filled in (5000, worker)");

    /* A crash: transient children are restarted after abnormal exits. */
    grove_child_info_t c;
    find_child(sup, wid, &c);
    grove_pid_t first = c.pid;
    printf("\n%s %s crashes:\n", wid, pid_str(first, a));
    grove_gs_cast(grove_server_pid(first), W_CRASH, NULL, 0);
    c = await_pid_change(sup, wid, first);
    printf("  restarted: %s -> %s\n", pid_str(first, a), pid_str(c.pid, b));
    CHECK(c.state == GROVE_CHILD_RUNNING && c.restarts == 1,
          "a crashed transient child was not restarted");

    /* A normal exit: the child is done and stays down; its spec stays. */
    grove_pid_t second = c.pid;
    printf("\n%s %s finishes normally:\n", wid, pid_str(second, a));
    grove_gs_call(grove_server_pid(second), W_FINISH, NULL, 0, NULL, 1000);
    c = await_pid_change(sup, wid, second);
    grove_sleep(100); /* long enough for a restart, if one were coming */
    find_child(sup, wid, &c);
    printf("  pid now %s, restarts still %llu: not restarted\n",
           pid_str(c.pid, a), (unsigned long long)c.restarts);
    CHECK(grove_pid_is_none(c.pid) && c.restarts == 1,
          "a transient child that exited normally was restarted");

    /* Supervisor.restart_child starts a stopped child again by hand. */
    rc = grove_sup_restart_child(sup, wid, &c.pid, NULL);
    printf("  Supervisor.restart_child(sup, %s) -> %s %s\n", wid,
           rc == 0 ? ":ok" : grove_errname(rc), pid_str(c.pid, a));
    CHECK(rc == 0, "restart_child: %s", grove_errname(rc));

    /* The temporary worker has ended by now: its spec is gone. */
    printf("\nMyTemporaryWorker did its job and stopped normally:\n");
    for (int i = 0; i < 100 && find_child(sup, "MyTemporaryWorker", &c); i++)
        grove_sleep(10);
    rc = grove_sup_get_childspec(sup, "MyTemporaryWorker", &s, idbuf);
    printf("  get_childspec(MyTemporaryWorker) -> %s\n",
           rc == GROVE_ENOTFOUND ? "not found: a temporary spec is dropped"
                                 : grove_errname(rc));
    CHECK(rc == GROVE_ENOTFOUND, "the temporary spec is still there");

    /* Shutdown: 10 s leave terminate all the time its cleanup needs. */
    printf("\nStopping the supervisor:\n");
    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    rc = grove_gs_stop(sup, &shutdown, 15000, NULL);
    CHECK(rc == 0, "supervisor stop: %s", grove_errname(rc));
    CHECK(atomic_load(&terminated_with) == GROVE_EXIT_SHUTDOWN,
          "MyApp.Worker's terminate did not finish");
}

/* One line per supervisor report, to follow what the supervisor does. */
static void on_report(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "supervisor_report") == 0)
        printf("    [report] %s\n", ev->text);
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
