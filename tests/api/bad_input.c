/* Bad input: GROVE_PID_NONE, forged and stale pids, NULL arguments,
 * stack sizes out of range, sends to dead processes. A call that fails
 * must change nothing. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

static void nothing(void *arg) { (void)arg; }

/* Monitoring something that is not a process either is refused or gives
 * DOWN noproc at once. */
static void monitor_gives_noproc_or_einval(grove_pid_t p)
{
    grove_ref_t ref = GROVE_REF_NONE;
    int rc = grove_monitor(p, &ref);
    if (rc == GROVE_EINVAL)
        return;
    ASSERT_OK(rc);
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, GROVE_PID_NONE),
                     grove_reason_of(GROVE_EXIT_NOPROC));
}

/* Every pid-taking call on a pid that names no live process. */
static void calls_on_non_process(grove_pid_t p)
{
    grove_stats_t before = gt_stats();
    ASSERT_FALSE(grove_is_alive(p));
    ASSERT_ERR2(grove_send(p, 1, "x", 1), GROVE_EINVAL, GROVE_ENOPROC);
    ASSERT_ERR2(grove_send_ref(p, 1, grove_make_ref(), "x", 1),
                GROVE_EINVAL, GROVE_ENOPROC);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_ERR2(grove_exit_signal(p, &kill), GROVE_EINVAL, GROVE_ENOPROC);
    ASSERT_ERR2(grove_link(p), GROVE_EINVAL, GROVE_ENOPROC);
    grove_process_info_t info;
    ASSERT_ERR2(grove_process_info(p, &info), GROVE_EINVAL, GROVE_ENOPROC);
    ASSERT_ERR2(grove_register("bad_input_name", p), GROVE_EINVAL,
                GROVE_ENOPROC);
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("bad_input_name", &found), GROVE_ENOTFOUND);
    monitor_gives_noproc_or_einval(p);
    grove_stats_t after = gt_stats();
    ASSERT_EQ(after.messages_live, before.messages_live);
    grove_process_info_t mine;
    ASSERT_OK(grove_process_info(grove_self(), &mine));
    ASSERT_EQ(mine.links, 0);
    EXPECT_NO_MSG(10);
}

PROC_TEST(pid_none_is_rejected)
{
    calls_on_non_process(GROVE_PID_NONE);
    ASSERT_ERR(grove_send(GROVE_PID_NONE, 1, NULL, 0), GROVE_EINVAL);
}

PROC_TEST(forged_pids_are_rejected)
{
    grove_pid_t self = grove_self();
    /* A live slot with the wrong generation, in both directions. */
    calls_on_non_process((grove_pid_t){self.id + ((uint64_t)1 << 32)});
    if (grove_pid_generation(self) > 1)
        calls_on_non_process((grove_pid_t){self.id - ((uint64_t)1 << 32)});
    /* Slots far beyond the table, and generation zero. */
    calls_on_non_process((grove_pid_t){((uint64_t)1 << 32) | 0xfffffff0u});
    calls_on_non_process((grove_pid_t){0xffffffffffffffffull});
    calls_on_non_process((grove_pid_t){grove_pid_slot(self)});
}

/* A pid of a dead process whose slot was reused must not reach the new
 * process. */
PROC_TEST_OPTS(stale_pid_never_reaches_slot_reuser, .max_processes = 64)
{
    grove_pid_t old = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    STOP_ECHO(old);
    /* The slot goes back to the table as the exit completes. */
    WAIT_UNTIL(!grove_is_alive(old));
    grove_sleep(10);
    /* Keep every other new process alive, so that each spawn takes a
     * different slot; with at most 64 slots the old one must come back
     * before the table is full (a scheduler may keep it for its own
     * spawns until then). */
    static grove_pid_t held[64];
    int nheld = 0;
    grove_pid_t reuser = GROVE_PID_NONE;
    while (grove_pid_is_none(reuser) && nheld < 64) {
        grove_pid_t p = SPAWN_ECHO(GROVE_PID_NONE, NULL);
        if (grove_pid_slot(p) == grove_pid_slot(old))
            reuser = p;
        else
            held[nheld++] = p;
    }
    for (int i = 0; i < nheld; i++)
        STOP_ECHO(held[i]);
    if (grove_pid_is_none(reuser))
        GT_FAIL("no process reused slot %u before the table of 64 was "
                "full", grove_pid_slot(old));
    ASSERT_NE(grove_pid_generation(reuser), grove_pid_generation(old));

    ASSERT_FALSE(grove_is_alive(old));
    ASSERT_TRUE(grove_is_alive(reuser));
    ASSERT_ERR(grove_send(old, 1, "stale", 5), GROVE_ENOPROC);
    ASSERT_ERR(grove_send_ref(old, 1, grove_make_ref(), NULL, 0),
               GROVE_ENOPROC);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_ERR(grove_exit_signal(old, &kill), GROVE_ENOPROC);
    grove_reason_t sd = grove_reason_shutdown(NULL);
    ASSERT_ERR(grove_exit_signal(old, &sd), GROVE_ENOPROC);
    ASSERT_ERR(grove_link(old), GROVE_ENOPROC);
    grove_process_info_t info;
    ASSERT_ERR(grove_process_info(old, &info), GROVE_ENOPROC);
    ASSERT_ERR(grove_register("stale_name", old), GROVE_ENOPROC);
    grove_ref_t ref;
    ASSERT_OK(grove_monitor(old, &ref));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, old),
                     grove_reason_of(GROVE_EXIT_NOPROC));
    ASSERT_OK(grove_send_after(old, 0, 1, "late", 4, NULL));
    grove_sleep(gt_scaled_ms(20));

    /* The new process got none of it. */
    ASSERT_OK(grove_process_info(reuser, &info));
    ASSERT_EQ(info.mailbox_len, 0);
    ASSERT_EQ(info.links, 0);
    ASSERT_EQ(info.monitored_by, 0);
    ASSERT_STREQ(info.name, "");
    ASSERT_TRUE(gt_ping(reuser));
    STOP_ECHO(reuser);
}

/* NULL and empty arguments. */
static bool any_msg(const grove_msg_t *m, void *arg)
{
    (void)m;
    (void)arg;
    return true;
}

static void null_handler(const grove_log_event_t *ev, void *arg)
{
    (void)ev;
    (void)arg;
}

PROC_TEST(null_arguments)
{
    grove_pid_t self = grove_self();
    grove_stats_t before = gt_stats();
    ASSERT_ERR(grove_spawn(NULL, NULL, NULL, NULL), GROVE_EINVAL);
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
    /* out may be NULL for a good spawn. */
    ASSERT_OK(grove_spawn(nothing, NULL, NULL, NULL));

    ASSERT_ERR(grove_send(self, 1, NULL, 5), GROVE_EINVAL);
    ASSERT_ERR(grove_send_ref(self, 1, grove_make_ref(), NULL, 5),
               GROVE_EINVAL);
    char small[4] = "abc";
    ASSERT_ERR(grove_send(self, 1, small, GROVE_MSG_MAX_SIZE + 1),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_after(self, 10, 1, NULL, 5, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_send_after(self, -5, 1, NULL, 0, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_send_name(NULL, 1, NULL, 0), GROVE_EINVAL);

    grove_msg_t *m;
    ASSERT_ERR(grove_recv(NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_recv_tag(NULL, 1, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_recv_ref(NULL, grove_make_ref(), 0), GROVE_EINVAL);
    ASSERT_ERR(grove_recv_match(NULL, any_msg, NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_recv_match(&m, NULL, NULL, 0), GROVE_EINVAL);

    ASSERT_ERR(grove_stats(NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_process_info(self, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_processes(NULL, NULL), GROVE_EINVAL);

    char longname[GROVE_NAME_MAX + 8];
    memset(longname, 'n', sizeof longname);
    longname[GROVE_NAME_MAX] = '\0'; /* 64 bytes: one too many */
    grove_pid_t found;
    ASSERT_ERR(grove_register(NULL, self), GROVE_EINVAL);
    ASSERT_ERR(grove_register("", self), GROVE_EINVAL);
    ASSERT_ERR(grove_register(longname, self), GROVE_EINVAL);
    ASSERT_ERR(grove_whereis(NULL, &found), GROVE_EINVAL);
    ASSERT_ERR(grove_whereis("x", NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_whereis("", &found), GROVE_EINVAL);
    ASSERT_ERR(grove_unregister(NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_unregister(""), GROVE_EINVAL);
    grove_ref_t ref;
    ASSERT_ERR(grove_monitor_name(NULL, &ref), GROVE_EINVAL);
    ASSERT_ERR(grove_monitor_name("", &ref), GROVE_EINVAL);
    grove_spawn_opts_t eo = {.name = ""};
    ASSERT_ERR(grove_spawn(nothing, NULL, &eo, NULL), GROVE_EINVAL);
    grove_spawn_opts_t lo = {.name = longname};
    ASSERT_ERR(grove_spawn(nothing, NULL, &lo, NULL), GROVE_EINVAL);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(self, &info));
    ASSERT_STREQ(info.name, "");

    ASSERT_ERR(grove_log_add_handler(NULL, NULL, GROVE_LOG_ERROR, NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_log_remove_handler(NULL), GROVE_EINVAL);
    grove_log_handler_t *h;
    ASSERT_OK(grove_log_add_handler(null_handler, NULL, GROVE_LOG_ERROR, &h));
    ASSERT_OK(grove_log_remove_handler(h));

    /* Message accessors accept NULL. */
    ASSERT_EQ(grove_msg_kind(NULL), 0);
    ASSERT_EQ(grove_msg_tag(NULL), 0);
    ASSERT_PID_EQ(grove_msg_from(NULL), GROVE_PID_NONE);
    ASSERT_EQ(grove_msg_ref(NULL).id, 0);
    ASSERT_NULL(grove_msg_data(NULL));
    ASSERT_EQ(grove_msg_size(NULL), 0);
    ASSERT_NULL(grove_msg_reason(NULL));
    ASSERT_NULL(grove_msg_name(NULL));
    grove_msg_free(NULL);

    /* Nothing above left a message behind. */
    EXPECT_NO_MSG(0);
    ASSERT_EQ(gt_stats().timers_live, before.timers_live);
}

/* Spawn stack sizes: 0 is the default; in-range sizes work and the
 * process can use that much; out-of-range sizes are GROVE_EINVAL and
 * spawn nothing. */
static volatile size_t touch_bytes;

__attribute__((noinline)) static size_t use_stack(size_t n)
{
    volatile char chunk[4096];
    chunk[0] = (char)n;
    chunk[4095] = (char)n;
    if (n <= sizeof chunk)
        return (size_t)chunk[0];
    return use_stack(n - sizeof chunk) + (size_t)chunk[4095];
}

static void stack_user(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    touch_bytes = use_stack(n);
}

PROC_TEST(spawn_stack_sizes)
{
    struct {
        size_t size;
        size_t use;
    } good[] = {
        {0, 16 * 1024},
        {16 * 1024, 4 * 1024},
        {16 * 1024 + 1, 4 * 1024},
        {1024 * 1024, 512 * 1024},
        {(size_t)256 << 20, (size_t)8 << 20},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        grove_spawn_opts_t o = {.stack_size = good[i].size};
        grove_pid_t p = SPAWN_MON(stack_user, (void *)(uintptr_t)good[i].use,
                                  &o);
        ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    }
    size_t bad[] = {1, 4096, 8 * 1024, ((size_t)256 << 20) + 1, SIZE_MAX};
    grove_stats_t before = gt_stats();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        grove_spawn_opts_t o = {.stack_size = bad[i]};
        grove_pid_t p = GROVE_PID_NONE;
        int rc = grove_spawn(nothing, NULL, &o, &p);
        if (rc != GROVE_EINVAL)
            GT_FAIL("stack size %zu: got %s", bad[i], grove_errname(rc));
    }
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
}

/* process_info reports each process's own usable stack size. */
PROC_TEST(process_info_reports_stack_size)
{
    size_t sizes[3] = {16 * 1024, 1024 * 1024, (size_t)8 << 20};
    for (int i = 0; i < 3; i++) {
        grove_spawn_opts_t o = {.stack_size = sizes[i]};
        grove_pid_t p = SPAWN_ECHO(GROVE_PID_NONE, &o);
        grove_process_info_t info;
        ASSERT_OK(grove_process_info(p, &info));
        ASSERT_GE(info.stack_size, sizes[i]);
        ASSERT_LT(info.stack_size, sizes[i] + 64 * 1024);
        STOP_ECHO(p);
    }
}

/* Sends to a dead process: nothing is queued anywhere, owned payloads
 * are destroyed at once. */
static atomic_int dtor_calls;

static void count_free(void *p)
{
    free(p);
    atomic_fetch_add(&dtor_calls, 1);
}

PROC_TEST(sends_to_dead_process)
{
    grove_spawn_opts_t o = {.name = "soon_dead"};
    grove_pid_t a = SPAWN_ECHO(GROVE_PID_NONE, &o);
    STOP_ECHO(a);
    grove_stats_t before = gt_stats();
    for (int i = 0; i < 100; i++) {
        ASSERT_ERR(grove_send(a, 1, "dead", 4), GROVE_ENOPROC);
        ASSERT_ERR(grove_send_ref(a, 1, grove_make_ref(), "d", 1),
                   GROVE_ENOPROC);
    }
    ASSERT_ERR(grove_send_name("soon_dead", 1, NULL, 0), GROVE_ENOTFOUND);
    atomic_store(&dtor_calls, 0);
    for (int i = 0; i < 10; i++)
        ASSERT_ERR(grove_send_owned(a, 1, malloc(10), 10, count_free),
                   GROVE_ENOPROC);
    ASSERT_EQ(atomic_load(&dtor_calls), 10);
    grove_reason_t sd = grove_reason_shutdown(NULL);
    ASSERT_ERR(grove_exit_signal(a, &sd), GROVE_ENOPROC);
    ASSERT_EQ(gt_stats().messages_live, before.messages_live);
    /* A timer to the dead pid is accepted and dropped when it fires. */
    ASSERT_OK(grove_send_after(a, 5, 1, "t", 1, NULL));
    WAIT_UNTIL(gt_stats().timers_live == before.timers_live);
    WAIT_UNTIL(gt_stats().messages_live == before.messages_live);
}

/* grove_processes visits every live process once. */
static void count_visit(grove_pid_t pid, void *arg)
{
    (void)pid;
    (*(int *)arg)++;
}

PROC_TEST(processes_visits_live_ones)
{
    grove_pid_t e[5];
    for (int i = 0; i < 5; i++)
        e[i] = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    int visited = 0;
    int rc = grove_processes(count_visit, &visited);
    ASSERT_EQ(rc, visited);
    ASSERT_EQ(visited, gt_stats().processes_alive);
    ASSERT_GE(visited, 6);
    for (int i = 0; i < 5; i++)
        STOP_ECHO(e[i]);
}

/* grove_log_enabled follows the handlers' levels: what no handler takes
 * is not formatted at all. */
PROC_TEST(log_enabled_follows_handlers)
{
    ASSERT_FALSE(grove_log_enabled(-1));
    ASSERT_FALSE(grove_log_enabled(GROVE_LOG_NONE));
    grove_log_clear_handlers();
    ASSERT_FALSE(grove_log_enabled(GROVE_LOG_ERROR));
    grove_log_handler_t *warn, *debug;
    ASSERT_OK(grove_log_add_handler(null_handler, NULL, GROVE_LOG_WARNING,
                                    &warn));
    ASSERT_TRUE(grove_log_enabled(GROVE_LOG_ERROR));
    ASSERT_TRUE(grove_log_enabled(GROVE_LOG_WARNING));
    ASSERT_FALSE(grove_log_enabled(GROVE_LOG_INFO));
    ASSERT_OK(grove_log_add_handler(null_handler, NULL, GROVE_LOG_DEBUG,
                                    &debug));
    ASSERT_TRUE(grove_log_enabled(GROVE_LOG_DEBUG));
    ASSERT_OK(grove_log_remove_handler(debug));
    ASSERT_FALSE(grove_log_enabled(GROVE_LOG_DEBUG));
    ASSERT_OK(grove_log_remove_handler(warn));
    ASSERT_FALSE(grove_log_enabled(GROVE_LOG_ERROR));
    ASSERT_OK(grove_log_add_handler(grove_log_text_handler, NULL,
                                    GROVE_LOG_WARNING, NULL));
}
