/* cache.c: the Cache gen_server, killed and restarted empty.
 *
 * From "Supervisors: Building fault-tolerant Elixir applications":
 *
 *     defmodule Cache do
 *       use GenServer
 *       def start_link(),
 *         do: GenServer.start_link(__MODULE__, :empty, [name: :cache])
 *       def handle_call(:get, _from, state), do: {:reply, state, state}
 *       def handle_cast({:save, new}, _state), do: {:noreply, new}
 *     end
 *
 * Part 1 supervises it one_for_one, saves :hola, kills it with
 * Process.exit(pid, :kill) and finds a new :cache holding :empty again.
 * Part 2 does the same under the article's hand-written MySupervisor: a
 * gen_server that traps exits, starts its children linked and starts a
 * child again when its EXIT message arrives.
 *
 * Run:  build/release/examples/cache
 * Exits 0 when both supervisors brought the Cache back in its initial
 * state under a new pid.
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

/* ---- Cache ------------------------------------------------------------------
 * The state is an atom-like word such as ":empty" or ":hola". */

enum { CACHE_GET = 1, CACHE_SAVE };
#define WORD 16

static grove_gs_ret_t cache_init(grove_gs_t *gs, void *arg)
{
    char *state = grove_alloc(WORD);
    if (!state)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    snprintf(state, WORD, "%s", (const char *)arg); /* :empty */
    grove_gs_set_state(gs, state);
    return GROVE_GS_INIT_OK();
}

/* handle_call(:get, _from, state): {:reply, state, state} */
static grove_gs_ret_t cache_call(grove_gs_t *gs, const grove_msg_t *req,
                                 grove_gs_from_t from)
{
    (void)req;
    (void)from;
    const char *state = grove_gs_state(gs);
    return GROVE_GS_REPLY(0, state, strlen(state) + 1);
}

/* handle_cast({:save, new}, _state): {:noreply, new} */
static grove_gs_ret_t cache_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    char *state = grove_gs_state(gs);
    snprintf(state, WORD, "%.*s", (int)grove_msg_size(msg),
             (const char *)grove_msg_data(msg));
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t cache = {
    .name = "Cache",
    .init = cache_init,
    .handle_call = cache_call,
    .handle_cast = cache_cast,
};

static const grove_gs_opts_t cache_opts = {.name = "cache"};

/* Cache.start_link(): the start function a supervisor calls. */
static int cache_start_link(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_gs_opts_t o = cache_opts;
    o.link = true;
    return grove_gs_start(&cache, (void *)":empty", &o, pid, why);
}

/* GenServer.call(:cache, :get) */
static const char *cache_get(char buf[WORD])
{
    grove_msg_t *reply;
    grove_gs_call(grove_server_name("cache"), CACHE_GET, NULL, 0, &reply,
                  1000);
    snprintf(buf, WORD, "%s", (const char *)grove_msg_data(reply));
    grove_msg_free(reply);
    return buf;
}

/* GenServer.cast(:cache, {:save, word}) */
static void cache_save(const char *word)
{
    grove_gs_cast(grove_server_name("cache"), CACHE_SAVE, word,
                  strlen(word));
}

/* Waits until :cache is registered again, to a pid other than old. */
static grove_pid_t await_restart(grove_pid_t old)
{
    for (int i = 0; i < 400; i++) {
        grove_pid_t p;
        if (grove_whereis("cache", &p) == 0 && !grove_pid_equal(p, old))
            return p;
        grove_sleep(5);
    }
    return GROVE_PID_NONE;
}

/* The iex session of the article, the same under both supervisors. */
static void iex_session(void)
{
    char w[WORD], a[GROVE_PID_STR_MAX], b[GROVE_PID_STR_MAX];
    printf("  %-38s -> %s\n", "GenServer.call(:cache, :get)", cache_get(w));
    CHECK(strcmp(w, ":empty") == 0, "fresh cache holds %s", w);
    cache_save(":hola");
    printf("  %-38s -> :ok\n", "GenServer.cast(:cache, {:save, :hola})");
    printf("  %-38s -> %s\n", "GenServer.call(:cache, :get)", cache_get(w));
    CHECK(strcmp(w, ":hola") == 0, "saved :hola, got %s", w);

    grove_pid_t pid;
    grove_whereis("cache", &pid);
    printf("  %-38s -> %s\n", "pid = Process.whereis(:cache)",
           grove_pid_format(pid, a, sizeof a));
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(pid, &kill);
    printf("  %-38s -> true\n", "Process.exit(pid, :kill)");

    grove_pid_t again = await_restart(pid);
    CHECK(!grove_pid_is_none(again), "the cache was not restarted");
    printf("  %-38s -> %s\n", "GenServer.call(:cache, :get)", cache_get(w));
    CHECK(strcmp(w, ":empty") == 0, "restarted cache holds %s", w);
    printf("  %-38s -> %s (was %s)\n", "Process.whereis(:cache)",
           grove_pid_format(again, a, sizeof a),
           grove_pid_format(pid, b, sizeof b));
}

/* ---- Part 1: Supervisor.start_link([worker(Cache, [])], one_for_one) ----- */

static const grove_child_spec_t cache_worker = {
    .id = "Cache",
    .start = cache_start_link,
};

static const grove_sup_spec_t cache_sup = {
    .flags = {.strategy = GROVE_ONE_FOR_ONE},
    .children = &cache_worker,
    .nchildren = 1,
};

static void with_supervisor(void)
{
    grove_pid_t sup;
    char a[GROVE_PID_STR_MAX];
    int rc = grove_sup_start(&cache_sup, NULL, &sup, NULL);
    CHECK(rc == 0, "supervisor start: %s", grove_errname(rc));
    if (rc != 0)
        return;
    printf("Part 1: Supervisor.start_link([worker(Cache, [])], "
           "strategy: :one_for_one) -> {:ok, %s}\n",
           grove_pid_format(sup, a, sizeof a));
    iex_session();
    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    rc = grove_gs_stop(grove_server_pid(sup), &shutdown, 5000, NULL);
    CHECK(rc == 0, "supervisor stop: %s", grove_errname(rc));
}

/* ---- Part 2: MySupervisor, written by hand ----------------------------------
 *
 *     def init([children: children]) do
 *       Process.flag(:trap_exit, true)
 *       state = Enum.map(children, fn child ->
 *                 {:ok, pid} = child.start_link(); {pid, child} end)
 *               |> Enum.into(%{})
 *       {:ok, state}
 *     end
 *     def handle_info({:EXIT, from, reason}, state) do
 *       IO.puts "Exit pid: #{inspect from} reason: #{inspect reason}"
 *       child = state[from]
 *       {:ok, pid} = child.start_link()
 *       {:noreply, Map.put(state, pid, child)}
 *     end
 */

typedef int (*start_link_fn)(void *, grove_pid_t *, grove_reason_t *);

#define MAX_KIDS 4

typedef struct my_sup {
    grove_pid_t pids[MAX_KIDS]; /* the map %{pid => child} */
    start_link_fn kids[MAX_KIDS];
    int n;
} my_sup_t;

typedef struct my_sup_args {
    const start_link_fn *children;
    int n;
} my_sup_args_t;

static grove_gs_ret_t my_sup_init(grove_gs_t *gs, void *arg)
{
    const my_sup_args_t *args = arg;
    grove_trap_exit(true); /* EXITs of children become messages */
    my_sup_t *s = grove_calloc(1, sizeof *s);
    if (!s)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, s);
    for (int i = 0; i < args->n && i < MAX_KIDS; i++) {
        grove_reason_t why;
        if (args->children[i](NULL, &s->pids[i], &why) != 0)
            return GROVE_GS_INIT_STOP(why); /* {:ok, pid} = ... failed */
        s->kids[s->n++] = args->children[i];
    }
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t my_sup_info(grove_gs_t *gs, const grove_msg_t *m)
{
    my_sup_t *s = grove_gs_state(gs);
    if (grove_msg_kind(m) != GROVE_MSG_EXIT)
        return GROVE_GS_NOREPLY();
    char a[GROVE_PID_STR_MAX], why[96];
    grove_reason_format(grove_msg_reason(m), why, sizeof why);
    printf("    Exit pid: %s reason: %s\n",
           grove_pid_format(grove_msg_from(m), a, sizeof a), why);
    for (int i = 0; i < s->n; i++) {
        if (!grove_pid_equal(s->pids[i], grove_msg_from(m)))
            continue;
        grove_reason_t r;
        if (s->kids[i](NULL, &s->pids[i], &r) != 0)
            return GROVE_GS_STOP(r); /* the match {:ok, pid} fails */
    }
    return GROVE_GS_NOREPLY();
}

/* Not in the article: stop the children when stopped, so the next part of
 * a program finds the name :cache free. */
static void my_sup_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    my_sup_t *s = grove_gs_state(gs);
    for (int i = s->n; i-- > 0;) {
        grove_ref_t ref;
        grove_msg_t *down;
        grove_monitor(s->pids[i], &ref);
        grove_exit_signal(s->pids[i], r);
        if (grove_recv_ref(&down, ref, 5000) == 0)
            grove_msg_free(down);
    }
}

static const grove_gs_callbacks_t my_supervisor = {
    .name = "MySupervisor",
    .init = my_sup_init,
    .handle_info = my_sup_info,
    .terminate = my_sup_terminate,
};

static void with_my_supervisor(void)
{
    static const start_link_fn children[] = {cache_start_link};
    static const my_sup_args_t args = {children, 1};
    grove_pid_t sup;
    char a[GROVE_PID_STR_MAX];
    /* MySupervisor.start_link([children: [Cache]], []) */
    int rc = grove_gs_start(&my_supervisor, (void *)&args, NULL, &sup, NULL);
    CHECK(rc == 0, "MySupervisor start: %s", grove_errname(rc));
    if (rc != 0)
        return;
    printf("Part 2: MySupervisor.start_link([children: [Cache]], []) "
           "-> {:ok, %s}\n",
           grove_pid_format(sup, a, sizeof a));
    iex_session();
    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    rc = grove_gs_stop(grove_server_pid(sup), &shutdown, 5000, NULL);
    CHECK(rc == 0, "MySupervisor stop: %s", grove_errname(rc));
}

static void session(void *arg)
{
    (void)arg;
    with_supervisor();
    with_my_supervisor();
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
