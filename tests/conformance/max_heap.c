/* Max heap size (Erlang's max_heap_size, as a spawn option, a process flag
 * and a runtime default): a process whose arena, dictionary and mailbox
 * grow past its limit is killed with reason killed, which trapping exits
 * does not stop, and an error report says so; with no_kill it only
 * reports, once each time it goes over; with no_report nothing is logged.
 * A gen_server child killed this way is restarted empty by its
 * supervisor. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "grove_test.h"

#define BLOCK 4096
#define TAG_GO 1
#define TAG_BULK 2
#define TAG_NEVER 3
#define TAG_DONE 4

/* ---- reports of kind max_heap_size, by pid -------------------------------- */

static struct {
    pthread_mutex_t mu;
    int n;
    grove_pid_t pid[16];
    char fields[16][256];
} reports = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_report(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "max_heap_size") != 0)
        return;
    pthread_mutex_lock(&reports.mu);
    if (reports.n < 16) {
        char *b = reports.fields[reports.n];
        size_t len = 0;
        b[0] = '\0';
        for (size_t i = 0; i < ev->nfields && len < 256; i++)
            len += (size_t)snprintf(b + len, 256 - len, "%s=%s ",
                                    ev->fields[i].key, ev->fields[i].value);
        reports.pid[reports.n++] = ev->pid;
    }
    pthread_mutex_unlock(&reports.mu);
}

static grove_log_handler_t *reports_start(void)
{
    grove_log_handler_t *h = NULL;
    pthread_mutex_lock(&reports.mu);
    reports.n = 0;
    pthread_mutex_unlock(&reports.mu);
    ASSERT_OK(grove_log_add_handler(on_report, NULL, GROVE_LOG_DEBUG, &h));
    return h;
}

/* How many reports name pid; the last one's fields go to out. */
static int reports_for(grove_pid_t pid, char *out, size_t size)
{
    int k = 0;
    pthread_mutex_lock(&reports.mu);
    for (int i = 0; i < reports.n; i++)
        if (grove_pid_equal(reports.pid[i], pid)) {
            k++;
            if (out)
                snprintf(out, size, "%s", reports.fields[i]);
        }
    pthread_mutex_unlock(&reports.mu);
    return k;
}

/* ---- processes ---------------------------------------------------------- */

static atomic_int allocated;

/* Traps exits, then allocates BLOCK-byte blocks until told the count, or
 * forever (the limit ends it). */
static void grower(void *arg)
{
    int stop_after = (int)(intptr_t)arg;
    grove_trap_exit(true);
    for (int i = 0; stop_after == 0 || i < stop_after; i++) {
        if (grove_alloc(BLOCK) == NULL)
            grove_exit_error(1, "out of memory");
        atomic_store(&allocated, i + 1);
    }
}

/* Waits for a message that never comes while others pile up. */
static void hoarder(void *arg)
{
    grove_pid_t parent = *(grove_pid_t *)arg;
    grove_trap_exit(true);
    grove_send(parent, TAG_GO, NULL, 0);
    grove_msg_t *m = NULL;
    grove_recv_tag(&m, TAG_NEVER, GROVE_INFINITY);
    grove_msg_free(m);
}

PROC_TEST(max_heap_arena_growth_kills_with_killed)
{
    grove_log_handler_t *h = reports_start();
    atomic_store(&allocated, 0);
    grove_spawn_opts_t o = {.max_heap = {.size = 16 * BLOCK}};
    grove_pid_t pid = SPAWN_MON(grower, NULL, &o);
    grove_reason_t r = AWAIT_EXIT(pid);
    /* killed, though it traps exits: the limit is not a signal it can
     * turn into a message. */
    ASSERT_EQ(r.kind, GROVE_EXIT_KILLED);
    /* Sixteen blocks fit exactly; the seventeenth went over and never
     * returned. */
    ASSERT_EQ(atomic_load(&allocated), 16);
    char f[256];
    ASSERT_EQ(reports_for(pid, f, sizeof f), 1);
    char want[64];
    snprintf(want, sizeof want, "heap_size=%d ", 17 * BLOCK);
    ASSERT_TRUE(strstr(f, want) != NULL);
    snprintf(want, sizeof want, "max_heap_size=%d ", 16 * BLOCK);
    ASSERT_TRUE(strstr(f, want) != NULL);
    ASSERT_TRUE(strstr(f, "kill=true") != NULL);
    ASSERT_OK(grove_log_remove_handler(h));
}

PROC_TEST(max_heap_no_report_kills_silently)
{
    grove_log_handler_t *h = reports_start();
    grove_spawn_opts_t o = {.max_heap = {.size = 8 * BLOCK,
                                         .no_report = true}};
    grove_pid_t pid = SPAWN_MON(grower, NULL, &o);
    ASSERT_EQ(AWAIT_EXIT(pid).kind, GROVE_EXIT_KILLED);
    ASSERT_EQ(reports_for(pid, NULL, 0), 0);
    ASSERT_OK(grove_log_remove_handler(h));
}

/* no_kill: the process lives on and is reported once each time it goes
 * over, not at every allocation while it stays over. */
static void over_twice(void *arg)
{
    grove_pid_t parent = *(grove_pid_t *)arg;
    void *b[12];
    for (int i = 0; i < 12; i++) /* 12 blocks: over 8 from the 9th on */
        b[i] = grove_alloc(BLOCK);
    for (int i = 0; i < 12; i++)
        grove_free(b[i]); /* back under */
    for (int i = 0; i < 10; i++) /* over again */
        b[i] = grove_alloc(BLOCK);
    grove_send(parent, TAG_DONE, NULL, 0);
}

PROC_TEST(max_heap_no_kill_reports_each_crossing)
{
    grove_log_handler_t *h = reports_start();
    grove_pid_t self = grove_self();
    grove_spawn_opts_t o = {.max_heap = {.size = 8 * BLOCK,
                                         .no_kill = true}};
    grove_pid_t pid = SPAWN_MON(over_twice, &self, &o);
    grove_msg_free(EXPECT_TAG(TAG_DONE));
    ASSERT_EQ(AWAIT_EXIT(pid).kind, GROVE_EXIT_NORMAL);
    char f[256];
    ASSERT_EQ(reports_for(pid, f, sizeof f), 2);
    ASSERT_TRUE(strstr(f, "kill=false") != NULL);
    ASSERT_OK(grove_log_remove_handler(h));
}

/* Messages count: a process flooded while it waits for something else
 * dies of it; the sender is untouched and its sends keep succeeding. */
PROC_TEST(max_heap_mailbox_flood_kills_the_receiver)
{
    static char bulk[1024];
    grove_pid_t self = grove_self();
    grove_spawn_opts_t o = {.max_heap = {.size = 32 * 1024,
                                         .no_report = true}};
    grove_pid_t pid = SPAWN_MON(hoarder, &self, &o);
    grove_msg_free(EXPECT_TAG(TAG_GO));
    for (int i = 0; i < 200; i++)
        ASSERT_OK(grove_send(pid, TAG_BULK, bulk, sizeof bulk));
    ASSERT_EQ(AWAIT_EXIT(pid).kind, GROVE_EXIT_KILLED);
    ASSERT_TRUE(grove_is_alive(grove_self()));
}

/* The flag: read, set, read back; size 0 lifts the limit. Process info
 * shows both the limit and the heap it counts. */
static void flag_user(void *arg)
{
    grove_pid_t parent = *(grove_pid_t *)arg;
    grove_max_heap_t old, set = {.size = 4 * BLOCK, .no_report = true};
    ASSERT_OK(grove_max_heap(NULL, &old));
    ASSERT_EQ(old.size, 0);
    ASSERT_OK(grove_max_heap(&set, &old));
    ASSERT_EQ(old.size, 0);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.max_heap.size, 4 * BLOCK);
    ASSERT_TRUE(info.max_heap.no_report);
    ASSERT_FALSE(info.max_heap.no_kill);
    size_t before = info.heap_size;
    ASSERT_TRUE(grove_alloc(BLOCK) != NULL);
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.heap_size, before + BLOCK);
    ASSERT_TRUE(info.memory >= info.heap_size);
    /* Lifted: far over the old limit, still alive. */
    grove_max_heap_t none = {0};
    ASSERT_OK(grove_max_heap(&none, &old));
    ASSERT_EQ(old.size, 4 * BLOCK);
    for (int i = 0; i < 16; i++)
        ASSERT_TRUE(grove_alloc(BLOCK) != NULL);
    /* Set below what it holds: the next growth ends it. */
    ASSERT_OK(grove_max_heap(&set, NULL));
    grove_send(parent, TAG_GO, NULL, 0);
    (void)grove_dict_put("one more", "x", 1);
    grove_send(parent, TAG_DONE, NULL, 0); /* never reached */
}

PROC_TEST(max_heap_process_flag)
{
    grove_max_heap_t mh;
    grove_pid_t self = grove_self();
    grove_pid_t pid = SPAWN_MON(flag_user, &self, NULL);
    grove_msg_free(EXPECT_TAG(TAG_GO));
    ASSERT_EQ(AWAIT_EXIT(pid).kind, GROVE_EXIT_KILLED);
    EXPECT_NO_MSG(50); /* no DONE */
    ASSERT_OK(grove_max_heap(NULL, &mh)); /* the test's own: untouched */
    ASSERT_EQ(mh.size, 0);
}

TEST(max_heap_outside_a_process)
{
    grove_max_heap_t mh = {.size = 1};
    ASSERT_ERR(grove_max_heap(&mh, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_max_heap(NULL, &mh), GROVE_ENOTPROC);
}

/* The runtime default applies to every process spawned without a limit
 * of its own; one given at spawn wins. */
static void default_body(void *arg)
{
    (void)arg;
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.max_heap.size, 8 * BLOCK);
    grove_spawn_opts_t ob = {.max_heap = {.size = 64 * BLOCK}};
    grove_pid_t a = SPAWN_MON(grower, (void *)(intptr_t)32, NULL);
    grove_pid_t b = SPAWN_MON(grower, (void *)(intptr_t)32, &ob);
    grove_reason_t r = AWAIT_EXIT(a);
    ASSERT_EQ(r.kind, GROVE_EXIT_KILLED);
    r = AWAIT_EXIT(b);
    ASSERT_EQ(r.kind, GROVE_EXIT_NORMAL); /* 32 blocks fit under 64 */
}

TEST(max_heap_runtime_default)
{
    grove_config_t cfg = {.schedulers = 2,
                          .max_heap = {.size = 8 * BLOCK,
                                       .no_report = true}};
    ASSERT_OK(grove_start(&cfg));
    grove_reason_t r;
    ASSERT_OK(grove_run(default_body, NULL, &r));
    ASSERT_EQ(r.kind, GROVE_EXIT_NORMAL);
    ASSERT_OK(grove_stop());
}

/* ---- a gen_server child ----------------------------------------------- */

enum { CALL_PUT = 10, CALL_SIZE };

typedef struct cache {
    size_t entries;
} cache_t;

static grove_gs_ret_t cache_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    cache_t *c = grove_calloc(1, sizeof *c);
    grove_gs_set_state(gs, c);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t cache_call(grove_gs_t *gs, const grove_msg_t *req,
                                 grove_gs_from_t from)
{
    (void)from;
    cache_t *c = grove_gs_state(gs);
    if (grove_msg_tag(req) == CALL_PUT) {
        ASSERT_TRUE(grove_alloc(BLOCK) != NULL); /* kept: the cache grows */
        c->entries++;
    }
    uint64_t n = c->entries;
    return GROVE_GS_REPLY(CALL_SIZE, &n, sizeof n);
}

static const grove_gs_callbacks_t cache_cb = {
    .name = "heap_cache",
    .init = cache_init,
    .handle_call = cache_call,
};

PROC_TEST(max_heap_gen_server_child_restarts_empty)
{
    grove_gs_opts_t gso = {.name = "heap_cache",
                           .max_heap = {.size = 32 * BLOCK,
                                        .no_report = true}};
    grove_child_spec_t child = {.id = "cache", .gen_server = &cache_cb,
                                .gs_opts = &gso};
    grove_sup_spec_t spec = {.flags = {.strategy = GROVE_ONE_FOR_ONE},
                             .children = &child, .nchildren = 1};
    grove_pid_t sup, first, now;
    grove_reason_t why;
    ASSERT_OK(grove_sup_start(&spec, NULL, &sup, &why));
    ASSERT_OK(grove_whereis("heap_cache", &first));
    grove_server_t srv = grove_server_name("heap_cache");
    int ok = 0, failed = 0;
    for (int i = 0; i < 100 && !failed; i++) {
        grove_msg_t *reply = NULL;
        int rc = grove_gs_try_call(srv, CALL_PUT, NULL, 0, &reply,
                                   GT_WAIT_MS, NULL);
        if (rc == 0)
            ok++;
        else
            failed++;
        grove_msg_free(reply);
    }
    ASSERT_EQ(failed, 1);
    ASSERT_TRUE(ok >= 28 && ok <= 32); /* its state and blocks under 32 */
    grove_sup_stats_t st;
    WAIT_UNTIL(grove_whereis("heap_cache", &now) == 0 &&
               !grove_pid_equal(now, first));
    ASSERT_OK(grove_sup_stats(grove_server_pid(sup), &st));
    ASSERT_EQ(st.restarts, 1);
    grove_msg_t *reply = NULL;
    ASSERT_OK(grove_gs_try_call(srv, CALL_SIZE, NULL, 0, &reply, GT_WAIT_MS,
                                NULL));
    uint64_t n;
    memcpy(&n, grove_msg_data(reply), sizeof n);
    ASSERT_EQ(n, 0); /* restarted clean */
    grove_msg_free(reply);
    grove_reason_t sd = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_gs_stop(grove_server_pid(sup), &sd, GROVE_INFINITY, NULL));
}
