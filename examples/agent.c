/* agent.c: Agent, state behind a process.
 *
 * Shows: an Agent holding a small key/value map, read with get, changed
 * with update and cast, and popped with get_and_update; the functions
 * run inside the agent, one at a time, so many writers need no lock; an
 * agent as a supervisor's child, restarted with its initial state after
 * a crash; and stop.
 *
 *     {:ok, bucket} = Agent.start_link(fn -> %{} end)
 *     Agent.update(bucket, &Map.put(&1, "milk", 3))
 *     Agent.get(bucket, &Map.get(&1, "milk"))
 *     Agent.get_and_update(bucket, &Map.pop(&1, "milk"))
 *
 * Run:  build/release/examples/agent
 * Exits 0 when every read saw what the writes left.
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

/* ---- the bucket: a tiny map from item names to counts ------------------- */

#define ITEMS 16
#define KEY 16

typedef struct bucket {
    char key[ITEMS][KEY];
    long count[ITEMS];
    int n;
} bucket_t;

typedef struct put {
    char key[KEY];
    long count;
} put_t;

/* fn -> %{} end. grove_calloc: the state goes with the agent process. */
static void *new_bucket(void *arg)
{
    (void)arg;
    return grove_calloc(1, sizeof(bucket_t));
}

static int find(const bucket_t *b, const char *key)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->key[i], key) == 0)
            return i;
    return -1;
}

/* &Map.put(&1, key, count) */
static void *put(void *state, const void *arg)
{
    bucket_t *b = state;
    const put_t *p = arg;
    int i = find(b, p->key);
    if (i < 0 && b->n < ITEMS) {
        i = b->n++;
        snprintf(b->key[i], KEY, "%s", p->key);
    }
    if (i >= 0)
        b->count[i] = p->count;
    return b;
}

/* Adds to a count (a cast from many writers). */
static void *add(void *state, const void *arg)
{
    bucket_t *b = state;
    const put_t *p = arg;
    int i = find(b, p->key);
    if (i >= 0)
        b->count[i] += p->count;
    return b;
}

/* &Map.get(&1, key): writes the count, or nothing when absent. */
static size_t get(void *state, const void *arg, void *out, size_t cap)
{
    const bucket_t *b = state;
    int i = find(b, arg);
    if (i < 0)
        return 0;
    if (cap >= sizeof(long))
        memcpy(out, &b->count[i], sizeof(long));
    return sizeof(long);
}

/* &Map.pop(&1, key): the count goes to the caller and leaves the map. */
static void *pop(void *state, const void *arg, void *out, size_t cap,
                 size_t *len)
{
    bucket_t *b = state;
    int i = find(b, arg);
    *len = 0;
    if (i < 0)
        return b;
    if (cap >= sizeof(long))
        memcpy(out, &b->count[i], sizeof(long));
    *len = sizeof(long);
    b->n--;
    memmove(b->key[i], b->key[i + 1], (size_t)(b->n - i) * KEY);
    memmove(&b->count[i], &b->count[i + 1],
            (size_t)(b->n - i) * sizeof(long));
    return b;
}

static long count_of(grove_server_t agent, const char *key)
{
    long v = -1;
    size_t len = 0;
    grove_agent_get(agent, get, key, strlen(key) + 1, &v, sizeof v, &len,
                    5000);
    return len ? v : -1; /* -1: nil */
}

static void set(grove_server_t agent, const char *key, long count)
{
    put_t p = {.count = count};
    snprintf(p.key, sizeof p.key, "%s", key);
    grove_agent_update(agent, put, &p, sizeof p, 5000);
}

/* ---- many writers ------------------------------------------------------- */

static grove_pid_t shared;

static void shopper(void *arg)
{
    (void)arg;
    put_t one = {"eggs", 1};
    for (int i = 0; i < 250; i++)
        grove_agent_cast(grove_server_pid(shared), add, &one, sizeof one);
    /* A call after the casts: they are all applied when it returns. */
    count_of(grove_server_pid(shared), "eggs");
}

static void basics(void)
{
    grove_pid_t pid;
    if (grove_agent_start(new_bucket, NULL, NULL, &pid, NULL) != 0) {
        CHECK(0, "Agent.start_link");
        return;
    }
    grove_server_t bucket = grove_server_pid(pid);
    set(bucket, "milk", 3);
    printf("  Agent.get(bucket, &Map.get(&1, \"milk\")) -> %ld\n",
           count_of(bucket, "milk"));
    CHECK(count_of(bucket, "milk") == 3, "milk is 3");
    CHECK(count_of(bucket, "bread") == -1, "bread is nil");

    long popped = 0;
    size_t len = 0;
    grove_agent_get_and_update(bucket, pop, "milk", 5, &popped,
                               sizeof popped, &len, 5000);
    printf("  Agent.get_and_update(bucket, &Map.pop(&1, \"milk\")) -> %ld\n",
           popped);
    CHECK(len == sizeof popped && popped == 3, "popped 3");
    CHECK(count_of(bucket, "milk") == -1, "milk is gone");

    /* Eight processes cast 250 adds each: none is lost. */
    set(bucket, "eggs", 0);
    shared = pid;
    grove_ref_t refs[8];
    for (int i = 0; i < 8; i++) {
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[i]};
        grove_spawn(shopper, NULL, &o, NULL);
    }
    for (int i = 0; i < 8; i++) {
        grove_msg_t *m;
        if (grove_recv_ref(&m, refs[i], 10000) == 0)
            grove_msg_free(m);
    }
    printf("  8 processes x 250 Agent.cast(+1) -> eggs %ld\n",
           count_of(bucket, "eggs"));
    CHECK(count_of(bucket, "eggs") == 2000, "no update lost");
    CHECK(grove_agent_stop(bucket, NULL, 5000, NULL) == 0, "Agent.stop");
}

/* ---- supervised --------------------------------------------------------- */

static grove_agent_spec_t bucket_spec = {.init = new_bucket,
                                         .opts = {.name = "bucket"}};

static void supervised(void)
{
    grove_child_spec_t kid = {.id = "bucket",
                              .start = grove_agent_child_start,
                              .arg = &bucket_spec};
    grove_sup_spec_t spec = {.children = &kid, .nchildren = 1};
    grove_pid_t sup;
    if (grove_sup_start(&spec, NULL, &sup, NULL) != 0) {
        CHECK(0, "supervisor start");
        return;
    }
    grove_server_t bucket = grove_server_name("bucket");
    set(bucket, "tea", 2);
    grove_pid_t old, fresh = GROVE_PID_NONE;
    grove_whereis("bucket", &old);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(old, &kill);
    for (int i = 0; i < 400; i++) {
        if (grove_whereis("bucket", &fresh) == 0 &&
            !grove_pid_equal(fresh, old))
            break;
        grove_sleep(5);
    }
    long tea = count_of(bucket, "tea");
    printf("  the supervised bucket was killed; restarted, tea -> %s\n",
           tea < 0 ? "nil" : "still there");
    CHECK(!grove_pid_equal(fresh, old) && tea == -1,
          "the restarted agent starts from its initial state");
    grove_gs_stop(grove_server_pid(sup), NULL, 5000, NULL);
}

static void main_process(void *arg)
{
    (void)arg;
    printf("Agent\n");
    basics();
    printf("Agent under a supervisor\n");
    supervised();
}

int main(void)
{
    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
