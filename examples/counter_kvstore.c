/* counter_kvstore.c: "Your First Supervisor".
 *
 * The Elixir lesson's MyApp.Supervisor, in C:
 *
 *     children = [{Counter, 0}, {KVStore, []}]
 *     Supervisor.init(children, strategy: :one_for_one)
 *
 * Counter and KVStore are gen_servers registered under their module names.
 * The program replays the lesson's iex session: read the count, add 10,
 * store a key, then kill the Counter. The supervisor restarts it with a
 * fresh state of 0, while the KVStore, untouched by one_for_one, still
 * holds its data.
 *
 * Run:  build/release/examples/counter_kvstore
 * Exits 0 when every step showed what the lesson shows.
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

/* ---- Counter ----------------------------------------------------------------
 * defmodule Counter: get_count/0 is a call, increment/1 a cast. Its state
 * is one number, kept in memory owned by the process (grove_alloc), so it
 * goes away with the process, however it ends. */

enum { COUNTER_GET = 1, COUNTER_INCREMENT };

static grove_gs_ret_t counter_init(grove_gs_t *gs, void *arg)
{
    long *count = grove_alloc(sizeof *count);
    if (!count)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    *count = *(const long *)arg; /* {Counter, 0}: the initial value */
    grove_gs_set_state(gs, count);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t counter_call(grove_gs_t *gs, const grove_msg_t *req,
                                   grove_gs_from_t from)
{
    (void)req;
    (void)from;
    long *count = grove_gs_state(gs);
    return GROVE_GS_REPLY(0, count, sizeof *count);
}

static grove_gs_ret_t counter_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    long *count = grove_gs_state(gs), by;
    memcpy(&by, grove_msg_data(msg), sizeof by);
    *count += by;
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t counter = {
    .name = "Counter",
    .init = counter_init,
    .handle_call = counter_call,
    .handle_cast = counter_cast,
};

/* Counter.get_count() and Counter.increment(n), addressed by name. */
static long counter_get_count(void)
{
    grove_msg_t *reply;
    long n = -1;
    /* As GenServer.call: if the Counter is not there, the caller exits. */
    grove_gs_call(grove_server_name("Counter"), COUNTER_GET, NULL, 0, &reply,
                  1000);
    memcpy(&n, grove_msg_data(reply), sizeof n);
    grove_msg_free(reply);
    return n;
}

static void counter_increment(long by)
{
    grove_gs_cast(grove_server_name("Counter"), COUNTER_INCREMENT, &by,
                  sizeof by);
}

/* ---- KVStore ----------------------------------------------------------------
 * defmodule KVStore: put/2 is a cast, get/1 a call. A small fixed table of
 * string keys and values is enough here. */

enum { KV_PUT = 1, KV_GET };
#define KV_SLOTS 8
#define KV_TEXT 32

typedef struct kv_pair {
    char key[KV_TEXT], value[KV_TEXT];
} kv_pair_t;

typedef struct kv_store {
    kv_pair_t pairs[KV_SLOTS];
    int n;
} kv_store_t;

static grove_gs_ret_t kv_init(grove_gs_t *gs, void *arg)
{
    (void)arg; /* {KVStore, []} */
    kv_store_t *kv = grove_calloc(1, sizeof *kv);
    if (!kv)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, kv);
    return GROVE_GS_INIT_OK();
}

static kv_pair_t *kv_find(kv_store_t *kv, const char *key)
{
    for (int i = 0; i < kv->n; i++)
        if (strcmp(kv->pairs[i].key, key) == 0)
            return &kv->pairs[i];
    return NULL;
}

static grove_gs_ret_t kv_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    kv_store_t *kv = grove_gs_state(gs);
    kv_pair_t p;
    memcpy(&p, grove_msg_data(msg), sizeof p);
    kv_pair_t *slot = kv_find(kv, p.key);
    if (!slot && kv->n < KV_SLOTS)
        slot = &kv->pairs[kv->n++];
    if (slot)
        *slot = p;
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t kv_call(grove_gs_t *gs, const grove_msg_t *req,
                              grove_gs_from_t from)
{
    (void)from;
    kv_store_t *kv = grove_gs_state(gs);
    const kv_pair_t *p = kv_find(kv, grove_msg_data(req));
    if (!p)
        return GROVE_GS_REPLY(0, NULL, 0); /* nil */
    return GROVE_GS_REPLY(0, p->value, strlen(p->value) + 1);
}

static const grove_gs_callbacks_t kv_store = {
    .name = "KVStore",
    .init = kv_init,
    .handle_call = kv_call,
    .handle_cast = kv_cast,
};

static void kv_put(const char *key, const char *value)
{
    kv_pair_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.key, sizeof p.key, "%s", key);
    snprintf(p.value, sizeof p.value, "%s", value);
    grove_gs_cast(grove_server_name("KVStore"), KV_PUT, &p, sizeof p);
}

/* Returns the value in buf, or "nil". */
static const char *kv_get(const char *key, char buf[KV_TEXT])
{
    grove_msg_t *reply;
    grove_gs_call(grove_server_name("KVStore"), KV_GET, key, strlen(key) + 1,
                  &reply, 1000);
    snprintf(buf, KV_TEXT, "%s",
             grove_msg_size(reply) ? (const char *)grove_msg_data(reply)
                                   : "nil");
    grove_msg_free(reply);
    return buf;
}

/* ---- MyApp.Supervisor ---------------------------------------------------- */

static const long counter_initial = 0; /* outlives every restart */
static const grove_gs_opts_t counter_opts = {.name = "Counter"};
static const grove_gs_opts_t kv_opts = {.name = "KVStore"};

static const grove_child_spec_t children[] = {
    {.id = "Counter", .gen_server = &counter, .gs_opts = &counter_opts,
     .arg = (void *)&counter_initial},
    {.id = "KVStore", .gen_server = &kv_store, .gs_opts = &kv_opts},
};

static const grove_sup_spec_t my_app_supervisor = {
    .name = "MyApp.Supervisor",
    .flags = {.strategy = GROVE_ONE_FOR_ONE},
    .children = children,
    .nchildren = 2,
};

/* Waits until name is registered again, to a pid other than old. */
static grove_pid_t await_restart(const char *name, grove_pid_t old)
{
    for (int i = 0; i < 400; i++) {
        grove_pid_t p;
        if (grove_whereis(name, &p) == 0 && !grove_pid_equal(p, old))
            return p;
        grove_sleep(5);
    }
    return GROVE_PID_NONE;
}

static void session(void *arg)
{
    (void)arg;
    char a[GROVE_PID_STR_MAX], b[GROVE_PID_STR_MAX], v[KV_TEXT];
    grove_pid_t sup;
    grove_reason_t why;
    grove_sup_opts_t o = {.name = "MyApp.Supervisor"};
    /* MyApp.Supervisor.start_link(:ok) */
    int rc = grove_sup_start(&my_app_supervisor, &o, &sup, &why);
    if (rc != 0) {
        grove_reason_format(&why, v, sizeof v);
        CHECK(0, "supervisor did not start: %s (%s)", grove_errname(rc), v);
        return;
    }
    printf("%-34s-> {:ok, %s}\n", "MyApp.Supervisor.start_link(:ok)",
           grove_pid_format(sup, a, sizeof a));

    long n = counter_get_count();
    printf("%-34s-> %ld\n", "Counter.get_count()", n);
    CHECK(n == 0, "count %ld, want 0", n);
    counter_increment(10);
    printf("%-34s-> :ok\n", "Counter.increment(10)");
    n = counter_get_count();
    printf("%-34s-> %ld\n", "Counter.get_count()", n);
    CHECK(n == 10, "count %ld, want 10", n);
    kv_put("language", "C");
    printf("%-34s-> :ok\n", "KVStore.put(\"language\", \"C\")");

    grove_pid_t old_counter, old_kv;
    grove_whereis("Counter", &old_counter);
    grove_whereis("KVStore", &old_kv);
    /* Process.exit(Process.whereis(Counter), :kill) */
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(old_counter, &kill);
    char expr[64];
    snprintf(expr, sizeof expr, "Process.exit(%s, :kill)",
             grove_pid_format(old_counter, a, sizeof a));
    printf("%-34s-> true\n", expr);

    /* The restart takes a moment: wait for the new Counter to register. */
    grove_pid_t new_counter = await_restart("Counter", old_counter);
    CHECK(!grove_pid_is_none(new_counter), "the Counter was not restarted");
    n = counter_get_count();
    printf("%-34s-> %ld   (Counter %s -> %s)\n", "Counter.get_count()", n,
           grove_pid_format(old_counter, a, sizeof a),
           grove_pid_format(new_counter, b, sizeof b));
    CHECK(n == 0, "count after the restart %ld, want a fresh 0", n);

    /* one_for_one: the KVStore was left alone and kept its data. */
    grove_pid_t kv_now;
    grove_whereis("KVStore", &kv_now);
    printf("%-34s-> \"%s\"  (KVStore still %s)\n",
           "KVStore.get(\"language\")", kv_get("language", v),
           grove_pid_format(kv_now, a, sizeof a));
    CHECK(strcmp(v, "C") == 0, "KVStore lost its data: %s", v);
    CHECK(grove_pid_equal(kv_now, old_kv), "the KVStore was restarted too");

    grove_sup_stats_t st;
    grove_sup_stats(grove_server_pid(sup), &st);
    printf("supervisor restarts: %llu (at most %d in %d s)\n",
           (unsigned long long)st.restarts, st.max_restarts, st.max_seconds);
    CHECK(st.restarts == 1, "%llu restarts, want 1",
          (unsigned long long)st.restarts);

    /* Stop the tree: children go down in reverse start order. */
    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    rc = grove_gs_stop(grove_server_pid(sup), &shutdown, 5000, NULL);
    CHECK(rc == 0, "supervisor stop: %s", grove_errname(rc));
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
