/* A sweep of bad input over the whole public API, one group of cases per
 * header: NULL pointers, GROVE_PID_NONE, malformed pids (a slot beyond any
 * table, generation zero), pids of processes that have exited, empty, too
 * long and unregistered names, out-of-range timeouts and sizes, malformed
 * options and specs, and process-only calls made before the runtime
 * starts or from a thread that is not a process. Each call must return
 * exactly the code its header comment gives, and a call that fails must
 * change nothing. Cases bad_input.c and the conformance tests already
 * make are not repeated. */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "behaviours.h"
#include "grove_test.h"

/* A slot far beyond any process table, and generation zero. */
#define HUGE_SLOT_PID ((grove_pid_t){((uint64_t)1 << 32) | 0xfffffff0u})
#define GEN0_PID ((grove_pid_t){5})

/* Sizes no object can have (above PTRDIFF_MAX), down to SIZE_MAX - k for
 * k < NEAR_MAX, where a block's header and the rounding to its alignment
 * would wrap around to a small request: each must fail before anything
 * is allocated (so a sanitizer's or valgrind's allocator never sees it). */
#define NEAR_MAX 257
#define NEAR_MAX_ALLOC NEAR_MAX
#define NEAR_MAX_DICT NEAR_MAX

static void nothing(void *arg) { (void)arg; }

/* A name one byte longer than GROVE_NAME_MAX allows. */
static const char *too_long_name(void)
{
    static char name[GROVE_NAME_MAX + 1];
    memset(name, 'n', GROVE_NAME_MAX);
    name[GROVE_NAME_MAX] = '\0';
    return name;
}

/* The pid of a process that has exited, seen to exit through a monitor. */
static grove_pid_t dead_pid(void)
{
    grove_pid_t p = SPAWN_MON(nothing, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    return p;
}

/* Runs fn(arg) on a new thread that is not a process, and waits for it. */
static void on_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, fn, arg), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);
}

static atomic_int dtor_runs;

static void count_free(void *p)
{
    free(p);
    atomic_fetch_add(&dtor_runs, 1);
}

/* A gen_server that answers every call with the request's bytes. */
static grove_gs_ret_t echo_call(grove_gs_t *gs, const grove_msg_t *req,
                                grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    return GROVE_GS_REPLY(grove_msg_tag(req), grove_msg_data(req),
                          grove_msg_size(req));
}

static const grove_gs_callbacks_t echo_cb = {.name = "sweep_echo",
                                             .handle_call = echo_call};

static grove_pid_t start_echo_server(void)
{
    grove_pid_t pid = GROVE_PID_NONE;
    ASSERT_OK(grove_gs_start(&echo_cb, NULL, NULL, &pid, NULL));
    return pid;
}

static void stop_server(grove_pid_t pid)
{
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
}

/* A server that ran and stopped. */
static grove_pid_t dead_server(void)
{
    grove_pid_t pid = start_echo_server();
    stop_server(pid);
    return pid;
}

/* A via name service that knows no key and refuses every registration,
 * and one whose functions are missing. */
static int via_refuse(void *reg, const void *key, size_t len, grove_pid_t pid,
                      grove_pid_t *holder)
{
    (void)reg;
    (void)key;
    (void)len;
    (void)pid;
    (void)holder;
    return GROVE_EEXIST;
}

static void via_forget(void *reg, const void *key, size_t len,
                       grove_pid_t pid)
{
    (void)reg;
    (void)key;
    (void)len;
    (void)pid;
}

static int via_unknown(void *reg, const void *key, size_t len,
                       grove_pid_t *pid)
{
    (void)reg;
    (void)key;
    (void)len;
    (void)pid;
    return GROVE_ENOTFOUND;
}

static const grove_via_t empty_via = {via_refuse, via_forget, via_unknown,
                                      NULL};
static const grove_via_t broken_via = {NULL, NULL, NULL, NULL};

static int task_nothing(void *arg, void **result, size_t *size)
{
    (void)arg;
    (void)result;
    (void)size;
    return 0;
}

static void *agent_init(void *arg)
{
    (void)arg;
    return NULL;
}

static size_t agent_get(void *state, const void *arg, void *out, size_t cap)
{
    (void)state;
    (void)arg;
    (void)out;
    (void)cap;
    return 0;
}

static void *agent_update(void *state, const void *arg)
{
    (void)arg;
    return state;
}

static void *agent_get_update(void *state, const void *arg, void *out,
                              size_t cap, size_t *len)
{
    (void)arg;
    (void)out;
    (void)cap;
    *len = 0;
    return state;
}

/* ---- runtime, before grove_start -------------------------------------- */

TEST(bad_input_sweep_calls_before_start)
{
    ASSERT_FALSE(grove_running());
    grove_pid_t fake = {((uint64_t)1 << 32) | 1};
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);

    /* runtime.h */
    grove_stats_t st;
    ASSERT_OK(grove_stats(&st));
    ASSERT_EQ(st.processes_alive, 0);
    ASSERT_ERR(grove_stats(NULL), GROVE_EINVAL);
    ASSERT_EQ(grove_now_ms(), 0);
    ASSERT_EQ(grove_scheduler_count(), 0);

    /* process.h and message.h */
    ASSERT_ERR(grove_exit_signal(fake, &kill), GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_exit_signal(fake, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_send(fake, 1, "x", 1), GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_send_ref(fake, 1, (grove_ref_t){7}, NULL, 0),
               GROVE_ENOTSTARTED);
    atomic_store(&dtor_runs, 0);
    ASSERT_ERR(grove_send_owned(fake, 1, malloc(8), 8, count_free),
               GROVE_ENOTSTARTED);
    ASSERT_EQ(atomic_load(&dtor_runs), 1);
    grove_alias_t alias = {fake, {7}};
    ASSERT_ERR(grove_send_alias(alias, 1, NULL, 0), GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_send_name("nobody", 1, NULL, 0), GROVE_ENOTFOUND);
    grove_timer_opts_t named = {.name = "nobody"};
    ASSERT_ERR(grove_send_after_opts(GROVE_PID_NONE, 10, 1, NULL, 0, &named,
                                     NULL),
               GROVE_ENOTSTARTED);
    ASSERT_FALSE(grove_is_alive(fake));
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("nobody", &found), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_unregister("nobody"), GROVE_ENOTFOUND);

    /* The behaviours. */
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_gs_start(&echo_cb, NULL, NULL, &pid, &why),
               GROVE_ENOTSTARTED);
    grove_sup_spec_t spec = {.name = "early"};
    ASSERT_ERR(grove_sup_start(&spec, NULL, &pid, &why), GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_dynsup_start(NULL, &pid, &why), GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_task_sup_start(NULL, &pid, &why), GROVE_ENOTSTARTED);
    ASSERT_ERR(grove_agent_start(agent_init, NULL, NULL, &pid, &why),
               GROVE_ENOTSTARTED);
    grove_registry_t *reg = NULL;
    ASSERT_ERR(grove_registry_new(NULL, &reg), GROVE_ENOTSTARTED);
    ASSERT_NULL(reg);
    ASSERT_ERR(grove_registry_find("nothing", &reg), GROVE_ENOTFOUND);
    ASSERT_OK(grove_gs_cast(grove_server_pid(fake), 1, NULL, 0));
    ASSERT_OK(grove_agent_cast(grove_server_pid(fake), agent_update, NULL, 0));
    ASSERT_ERR(grove_partition_whereis("nothing", 1, &found),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_partition_sup_partitions("nothing"), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_app_root("nothing", &found), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_observer_port(fake), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_stop(fake), GROVE_ENOPROC);

    /* io.h: process-only. */
    grove_io_t io;
    ASSERT_ERR(grove_io_listen_unix("@grove_sweep", 0, &io), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_blocking_owned(nothing, NULL, NULL), GROVE_ENOTPROC);
    grove_io_stats_t ios;
    ASSERT_OK(grove_io_stats(&ios));

    ASSERT_FALSE(grove_running());
}

/* ---- runtime.h, while it runs ----------------------------------------- */

static void run_from_process(void *arg)
{
    atomic_store((atomic_int *)arg, grove_run(nothing, NULL, NULL));
}

static void wait_for_message(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

TEST(bad_input_sweep_runtime_wait_and_run)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    grove_reason_t r;
    ASSERT_ERR(grove_wait(GROVE_PID_NONE, 0, &r), GROVE_EINVAL);
    ASSERT_ERR(grove_wait(HUGE_SLOT_PID, 0, &r), GROVE_ENOPROC);
    ASSERT_ERR(grove_wait(GEN0_PID, 0, &r), GROVE_ENOPROC);
    grove_pid_t p;
    ASSERT_OK(grove_spawn(wait_for_message, NULL, NULL, &p));
    ASSERT_ERR(grove_wait(p, -2, &r), GROVE_EINVAL);
    ASSERT_ERR(grove_wait(p, INT64_MIN, &r), GROVE_EINVAL);
    ASSERT_ERR(grove_wait(p, 0, NULL), GROVE_ETIMEDOUT);
    /* The message comes once the wait is in place. */
    ASSERT_OK(grove_send_after(p, gt_scaled_ms(50), 1, NULL, 0, NULL));
    ASSERT_OK(grove_wait(p, gt_scaled_ms(GT_WAIT_MS), NULL));

    /* grove_run belongs outside processes, as grove_stop does. */
    atomic_int rc = 1;
    ASSERT_OK(grove_spawn(run_from_process, &rc, NULL, &p));
    WAIT_UNTIL(!grove_is_alive(p));
    ASSERT_ERR(atomic_load(&rc), GROVE_EBUSY);
    ASSERT_ERR(grove_run(NULL, NULL, &r), GROVE_EINVAL);
    ASSERT_TRUE(grove_running());
    ASSERT_OK(grove_stop());
}

/* ---- process.h -------------------------------------------------------- */

/* Every pid-taking call of process.h, with the exact code for each kind
 * of pid that names no live process. */
PROC_TEST(bad_input_sweep_process_pids)
{
    grove_pid_t dead = dead_pid();
    grove_pid_t bad[] = {HUGE_SLOT_PID, GEN0_PID};
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_process_info_t info;
    grove_ref_t ref;
    grove_alias_t alias;

    ASSERT_ERR(grove_link(GROVE_PID_NONE), GROVE_EINVAL);
    ASSERT_ERR(grove_unlink(GROVE_PID_NONE), GROVE_EINVAL);
    ASSERT_ERR(grove_monitor(GROVE_PID_NONE, &ref), GROVE_EINVAL);
    ASSERT_ERR(grove_monitor_alias(GROVE_PID_NONE,
                                   GROVE_ALIAS_EXPLICIT_UNALIAS, &alias),
               GROVE_EINVAL);
    ASSERT_ERR(grove_exit_signal(GROVE_PID_NONE, &kill), GROVE_EINVAL);
    ASSERT_ERR(grove_register("sweep_name", GROVE_PID_NONE), GROVE_EINVAL);
    ASSERT_ERR(grove_process_info(GROVE_PID_NONE, &info), GROVE_EINVAL);
    ASSERT_FALSE(grove_is_alive(GROVE_PID_NONE));

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        grove_pid_t p = bad[i];
        ASSERT_ERR(grove_link(p), GROVE_EINVAL);
        ASSERT_ERR2(grove_unlink(p), 0, GROVE_EINVAL);
        ASSERT_ERR(grove_monitor(p, &ref), GROVE_EINVAL);
        ASSERT_ERR(grove_monitor_alias(p, GROVE_ALIAS_DEMONITOR, &alias),
                   GROVE_EINVAL);
        ASSERT_ERR(grove_exit_signal(p, &kill), GROVE_EINVAL);
        ASSERT_ERR(grove_register("sweep_name", p), GROVE_EINVAL);
        ASSERT_ERR(grove_process_info(p, &info), GROVE_EINVAL);
        ASSERT_FALSE(grove_is_alive(p));
    }

    /* A process that has exited. */
    ASSERT_ERR(grove_link(dead), GROVE_ENOPROC);
    ASSERT_OK(grove_unlink(dead));
    ASSERT_ERR(grove_exit_signal(dead, &kill), GROVE_ENOPROC);
    ASSERT_ERR(grove_register("sweep_name", dead), GROVE_ENOPROC);
    ASSERT_ERR(grove_process_info(dead, &info), GROVE_ENOPROC);
    ASSERT_FALSE(grove_is_alive(dead));
    ASSERT_OK(grove_monitor(dead, &ref));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, dead),
                     grove_reason_of(GROVE_EXIT_NOPROC));
    ASSERT_OK(grove_monitor_alias(dead, GROVE_ALIAS_DEMONITOR, &alias));
    ASSERT_REASON_EQ(EXPECT_DOWN(alias.ref, dead),
                     grove_reason_of(GROVE_EXIT_NOPROC));
    /* A trapping caller gets 0 and an EXIT noproc instead. */
    ASSERT_EQ(grove_trap_exit(true), 0);
    ASSERT_OK(grove_link(dead));
    ASSERT_REASON_EQ(EXPECT_EXIT(dead), grove_reason_of(GROVE_EXIT_NOPROC));
    ASSERT_EQ(grove_trap_exit(false), 1);

    /* Nothing named, linked or monitored was left behind. */
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("sweep_name", &found), GROVE_ENOTFOUND);
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.links, 0);
    ASSERT_EQ(info.monitors, 0);
    ASSERT_STREQ(info.name, "");
    EXPECT_NO_MSG(10);
}

/* A spawn that fails leaves nothing: no process, no monitor, no DOWN. */
PROC_TEST(bad_input_sweep_process_spawn)
{
    grove_pid_t self = grove_self();
    ASSERT_OK(grove_register("sweep_taken", self));
    grove_stats_t before = gt_stats();
    grove_ref_t ref = {0};
    grove_pid_t out = {77};
    grove_spawn_opts_t taken = {.name = "sweep_taken", .link = true,
                                .monitor = true, .monitor_ref = &ref};
    ASSERT_ERR(grove_spawn(nothing, NULL, &taken, &out), GROVE_EEXIST);
    ASSERT_EQ(out.id, 77);
    grove_spawn_opts_t bad[] = {
        {.name = "", .monitor = true, .monitor_ref = &ref},
        {.stack_size = 1, .link = true},
        {.priority = (grove_priority_t)-1, .monitor = true},
        {.stack_size = SIZE_MAX, .name = "sweep_other"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_spawn(nothing, NULL, &bad[i], &out);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
    }
    ASSERT_EQ(out.id, 77);
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("sweep_other", &found), GROVE_ENOTFOUND);
    ASSERT_OK(grove_whereis("sweep_taken", &found));
    ASSERT_PID_EQ(found, self);
    ASSERT_OK(grove_unregister("sweep_taken"));
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(self, &info));
    ASSERT_EQ(info.links, 0);
    ASSERT_EQ(info.monitors, 0);
    EXPECT_NO_MSG(10);
}

/* Exit signals with a reason that is not one. */
PROC_TEST(bad_input_sweep_process_exit_signal_reasons)
{
    grove_pid_t self = grove_self();
    ASSERT_ERR(grove_exit_signal(self, NULL), GROVE_EINVAL);
    grove_reason_t r = grove_reason_of(GROVE_EXIT_KILL);
    r.kind = -1;
    ASSERT_ERR(grove_exit_signal(self, &r), GROVE_EINVAL);
    r.kind = GROVE_EXIT__COUNT;
    ASSERT_ERR(grove_exit_signal(self, &r), GROVE_EINVAL);
    r.kind = INT32_MAX;
    ASSERT_ERR(grove_exit_signal(GROVE_PID_NONE, &r), GROVE_EINVAL);
    ASSERT_TRUE(grove_is_alive(self));
    EXPECT_NO_MSG(10);
}

/* Names: empty, too long, unregistered, taken, and a pid that already
 * has one. */
PROC_TEST(bad_input_sweep_process_names)
{
    const char *lname = too_long_name();
    grove_pid_t self = grove_self(), found;
    grove_ref_t ref;
    ASSERT_ERR(grove_unregister(lname), GROVE_EINVAL);
    ASSERT_ERR(grove_whereis(lname, &found), GROVE_EINVAL);
    ASSERT_ERR(grove_monitor_name(lname, &ref), GROVE_EINVAL);
    ASSERT_ERR(grove_monitor_name("sweep_self", NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_send_name(lname, 1, NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_send_name("", 1, NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_unregister("sweep_unknown"), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_whereis("sweep_unknown", &found), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_send_name("sweep_unknown", 1, "x", 1), GROVE_ENOTFOUND);

    /* 63 bytes is the longest name. */
    char longest[GROVE_NAME_MAX];
    memset(longest, 'm', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    ASSERT_OK(grove_register(longest, self));
    ASSERT_OK(grove_whereis(longest, &found));
    ASSERT_PID_EQ(found, self);
    ASSERT_ERR(grove_register("sweep_second", self), GROVE_EALREADY);
    grove_pid_t other = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_ERR(grove_register(longest, other), GROVE_EEXIST);
    ASSERT_ERR(grove_send_name(longest, 1, NULL, 4), GROVE_EINVAL);
    ASSERT_OK(grove_unregister(longest));
    ASSERT_ERR(grove_unregister(longest), GROVE_ENOTFOUND);
    STOP_ECHO(other);

    /* A monitor by a name nobody holds fires at once, naming it. */
    ASSERT_OK(grove_monitor_name("sweep_unknown", &ref));
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, ref, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
    ASSERT_REASON_EQ(*grove_msg_reason(m),
                     grove_reason_of(GROVE_EXIT_NOPROC));
    ASSERT_STREQ(grove_msg_name(m), "sweep_unknown");
    grove_msg_free(m);
    EXPECT_NO_MSG(10);
}

/* Demonitor, aliases and the per-process settings. */
PROC_TEST(bad_input_sweep_process_monitors_and_aliases)
{
    ASSERT_ERR(grove_demonitor(GROVE_REF_NONE, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_demonitor(GROVE_REF_NONE, GROVE_DEMONITOR_INFO),
               GROVE_EINVAL);
    grove_ref_t unknown = grove_make_ref();
    ASSERT_ERR(grove_demonitor(unknown, 4), GROVE_EINVAL);
    ASSERT_ERR(grove_demonitor(unknown, ~0u), GROVE_EINVAL);
    ASSERT_OK(grove_demonitor(unknown, 0));
    ASSERT_EQ(grove_demonitor(unknown,
                              GROVE_DEMONITOR_INFO | GROVE_DEMONITOR_FLUSH),
              0);

    grove_alias_t a;
    ASSERT_ERR(grove_monitor_alias(grove_self(),
                                   GROVE_ALIAS_EXPLICIT_UNALIAS, NULL),
               GROVE_EINVAL);
    ASSERT_OK(grove_alias(GROVE_ALIAS_EXPLICIT_UNALIAS, &a));
    /* Aliases that are not the caller's, or no alias at all. */
    ASSERT_EQ(grove_unalias((grove_alias_t){GROVE_PID_NONE, GROVE_REF_NONE}),
              0);
    ASSERT_EQ(grove_unalias((grove_alias_t){grove_self(), GROVE_REF_NONE}),
              0);
    ASSERT_EQ(grove_unalias((grove_alias_t){HUGE_SLOT_PID, a.ref}), 0);
    ASSERT_EQ(grove_unalias(a), 1);
    ASSERT_EQ(grove_unalias(a), 0);

    /* Sends through aliases that name nothing. */
    grove_pid_t dead = dead_pid();
    grove_ref_t r = grove_make_ref();
    char small[4] = "abc";
    ASSERT_ERR(grove_send_alias((grove_alias_t){grove_self(), GROVE_REF_NONE},
                                1, NULL, 0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_alias((grove_alias_t){GROVE_PID_NONE, r}, 1, NULL,
                                0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_alias((grove_alias_t){HUGE_SLOT_PID, r}, 1, NULL,
                                0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_alias((grove_alias_t){GEN0_PID, r}, 1, NULL, 0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_alias((grove_alias_t){dead, r}, 1, "x", 1),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_send_alias((grove_alias_t){grove_self(), r}, 1, small,
                                GROVE_MSG_MAX_SIZE + 1),
               GROVE_EINVAL);

    /* Settings that take no pointer still check what they take. */
    grove_max_heap_t old;
    ASSERT_OK(grove_max_heap(NULL, NULL));
    ASSERT_OK(grove_max_heap(NULL, &old));
    ASSERT_EQ(old.size, 0);
    ASSERT_EQ(grove_trap_exit(false), 0);
    ASSERT_ERR(grove_set_priority((grove_priority_t)INT_MIN), GROVE_EINVAL);
    ASSERT_EQ(grove_set_priority(GROVE_PRIO_NORMAL), GROVE_PRIO_NORMAL);
    EXPECT_NO_MSG(10);
}

/* The process dictionary: missing keys, and sizes that cannot be
 * allocated, which leave the earlier value in place. */
PROC_TEST(bad_input_sweep_process_dictionary)
{
    char v = 'v';
    size_t size = 99;
    ASSERT_NULL(grove_dict_get("sweep_absent", &size));
    ASSERT_EQ(size, 0);
    ASSERT_ERR(grove_dict_erase("sweep_absent"), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_dict_erase(""), GROVE_ENOTFOUND);
    ASSERT_OK(grove_dict_put("k", &v, 1));
    char small[16] = "not that long";
    for (size_t k = 0; k < NEAR_MAX_DICT; k++)
        ASSERT_ERR(grove_dict_put("k", small, SIZE_MAX - k), GROVE_ENOMEM);
    const char *got = grove_dict_get("k", &size);
    ASSERT_NOT_NULL(got);
    ASSERT_EQ(size, 1);
    ASSERT_EQ(*got, 'v');
    ASSERT_EQ(grove_dict_keys(NULL, NULL), 1);
    ASSERT_EQ(grove_dict_clear(), 1);
    ASSERT_EQ(grove_dict_clear(), 0);
}

/* Process-only calls of process.h, message.h and resource.h from a thread
 * that is not a process. */
static void *process_calls_from_thread(void *arg)
{
    grove_resource_t *res = arg;
    grove_msg_t *m = (grove_msg_t *)&m;
    size_t size = 7;
    ASSERT_PID_EQ(grove_self(), GROVE_PID_NONE);
    ASSERT_ERR(grove_hibernate(nothing, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_dict_put("k", "v", 1), GROVE_ENOTPROC);
    ASSERT_NULL(grove_dict_get("k", &size));
    ASSERT_EQ(size, 0);
    ASSERT_ERR(grove_dict_erase("k"), GROVE_ENOTPROC);
    ASSERT_ERR(grove_dict_keys(NULL, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_dict_clear(), GROVE_ENOTPROC);
    grove_alias_t a;
    ASSERT_ERR(grove_monitor_alias(grove_self(), GROVE_ALIAS_DEMONITOR, &a),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_recv_match(&m, NULL, NULL, 0), GROVE_ENOTPROC);
    ASSERT_NULL(m);
    m = (grove_msg_t *)&m;
    ASSERT_ERR(grove_recv_ref(&m, GROVE_REF_NONE, 0), GROVE_ENOTPROC);
    ASSERT_NULL(m);
    ASSERT_ERR(grove_resource_release(res), GROVE_ENOTPROC);
    ASSERT_ERR(grove_resource_detach(res), GROVE_ENOTPROC);
    ASSERT_ERR(grove_resource_fd(-1, NULL), GROVE_ENOTPROC);
    ASSERT_NULL(grove_realloc(NULL, 16));
    ASSERT_NULL(grove_calloc(4, 4));
    grove_yield();
    return NULL;
}

static void release_nothing(void *ptr) { (void)ptr; }

PROC_TEST(bad_input_sweep_process_only_calls_from_thread)
{
    grove_resource_t *res;
    ASSERT_OK(grove_resource_attach(release_nothing, NULL, &res));
    on_thread(process_calls_from_thread, res);
    /* The resource is still the process's. */
    ASSERT_OK(grove_resource_release(res));
}

/* ---- resource.h ------------------------------------------------------- */

PROC_TEST(bad_input_sweep_resource_sizes)
{
    grove_stats_t before = gt_stats();
    ASSERT_NULL(grove_alloc(0));
    for (size_t k = 0; k < NEAR_MAX_ALLOC; k++) {
        ASSERT_NULL(grove_alloc(SIZE_MAX - k));
        ASSERT_NULL(grove_calloc(1, SIZE_MAX - k));
    }
    ASSERT_NULL(grove_alloc((size_t)PTRDIFF_MAX + 1));
    ASSERT_NULL(grove_calloc(SIZE_MAX, 2));
    ASSERT_NULL(grove_calloc(2, SIZE_MAX / 2 + 1));
    ASSERT_NULL(grove_calloc(0, 0));
    char *p = grove_alloc(8);
    ASSERT_NOT_NULL(p);
    memcpy(p, "kept", 5);
    /* A failed resize leaves the block as it was. */
    for (size_t k = 0; k < NEAR_MAX_ALLOC; k++)
        ASSERT_NULL(grove_realloc(p, SIZE_MAX - k));
    ASSERT_STREQ(p, "kept");
    grove_free(p);
    grove_free(NULL);
    ASSERT_EQ(gt_stats().arena_bytes_live, before.arena_bytes_live);

    ASSERT_ERR(grove_resource_fd(-1, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_resource_fd(INT_MIN, NULL), GROVE_EINVAL);
    ASSERT_EQ(gt_stats().resources_live, before.resources_live);
}

/* ---- message.h: sends and receives ------------------------------------ */

PROC_TEST(bad_input_sweep_message_sends)
{
    grove_pid_t self = grove_self();
    grove_pid_t bad[] = {GROVE_PID_NONE, HUGE_SLOT_PID, GEN0_PID};
    grove_stats_t before = gt_stats();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_ERR(grove_send(bad[i], 1, "x", 1), GROVE_EINVAL);
        ASSERT_ERR(grove_send_ref(bad[i], 1, grove_make_ref(), NULL, 0),
                   GROVE_EINVAL);
        atomic_store(&dtor_runs, 0);
        ASSERT_ERR(grove_send_owned(bad[i], 1, malloc(4), 4, count_free),
                   GROVE_EINVAL);
        ASSERT_EQ(atomic_load(&dtor_runs), 1);
    }
    char small[4] = "abc";
    ASSERT_ERR(grove_send_ref(self, 1, grove_make_ref(), small,
                              GROVE_MSG_MAX_SIZE + 1),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send(self, 1, small, SIZE_MAX), GROVE_EINVAL);
    /* An owned payload that cannot go is destroyed at once; no payload,
     * no destructor. */
    atomic_store(&dtor_runs, 0);
    ASSERT_ERR(grove_send_owned(self, 1, malloc(4), GROVE_MSG_MAX_SIZE + 1,
                                count_free),
               GROVE_EINVAL);
    ASSERT_EQ(atomic_load(&dtor_runs), 1);
    ASSERT_ERR(grove_send_owned(self, 1, NULL, 4, count_free), GROVE_EINVAL);
    ASSERT_EQ(atomic_load(&dtor_runs), 1);
    ASSERT_EQ(gt_stats().messages_live, before.messages_live);
    EXPECT_NO_MSG(10);
}

static bool match_any(const grove_msg_t *m, void *arg)
{
    (void)m;
    (void)arg;
    return true;
}

PROC_TEST(bad_input_sweep_message_receives)
{
    /* A failed receive leaves *out NULL, whatever was wrong. */
    grove_msg_t *m = (grove_msg_t *)&m;
    ASSERT_ERR(grove_recv(&m, INT64_MIN), GROVE_EINVAL);
    ASSERT_NULL(m);
    m = (grove_msg_t *)&m;
    ASSERT_ERR(grove_recv_tag(&m, 1, -2), GROVE_EINVAL);
    ASSERT_NULL(m);
    m = (grove_msg_t *)&m;
    ASSERT_ERR(grove_recv_ref(&m, GROVE_REF_NONE, 0), GROVE_EINVAL);
    ASSERT_NULL(m);
    m = (grove_msg_t *)&m;
    ASSERT_ERR(grove_recv_ref(&m, grove_make_ref(), -7), GROVE_EINVAL);
    ASSERT_NULL(m);
    m = (grove_msg_t *)&m;
    ASSERT_ERR(grove_recv_match(&m, NULL, NULL, 0), GROVE_EINVAL);
    ASSERT_NULL(m);
    m = (grove_msg_t *)&m;
    ASSERT_ERR(grove_recv_match(&m, match_any, NULL, -3), GROVE_EINVAL);
    ASSERT_NULL(m);
    ASSERT_ERR(grove_recv_match(NULL, match_any, NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_sleep(INT64_MIN), GROVE_EINVAL);
    /* A bad call took nothing from the mailbox. */
    ASSERT_OK(grove_send(grove_self(), 5, "x", 1));
    ASSERT_ERR(grove_recv(&m, -2), GROVE_EINVAL);
    ASSERT_EQ(grove_flush(NULL, NULL), 1);
    ASSERT_EQ(grove_flush(match_any, NULL), 0);
}

/* ---- message.h: timers ------------------------------------------------ */

PROC_TEST(bad_input_sweep_message_timers)
{
    grove_pid_t self = grove_self();
    grove_timer_t t = {0};
    char small[4] = "abc";
    ASSERT_ERR(grove_send_after(self, GROVE_INFINITY, 1, NULL, 0, &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_after(self, INT64_MIN, 1, NULL, 0, &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_after(self, 10, 1, small, GROVE_MSG_MAX_SIZE + 1,
                                &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_after(GROVE_PID_NONE, 10, 1, NULL, 0, &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_start_timer(self, GROVE_INFINITY, 1, NULL, 0, &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_start_timer(self, 10, 1, small, SIZE_MAX, &t),
               GROVE_EINVAL);
    grove_timer_opts_t named = {.name = "sweep_timer", .with_ref = true};
    ASSERT_ERR(grove_send_after_opts(GROVE_PID_NONE, 10, 1, NULL, 4, &named,
                                     &t),
               GROVE_EINVAL);
    ASSERT_EQ(t.id, 0);
    ASSERT_EQ(gt_stats().timers_live, 0);

    /* Handles that name no pending timer. */
    grove_timeout_t left = 123;
    grove_timer_t none = {0}, forged = {UINT64_MAX};
    ASSERT_ERR(grove_cancel_timer(none), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_cancel_timer(forged), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_cancel_timer_left(forged, &left), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_read_timer(none, &left), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_read_timer(forged, &left), GROVE_ENOTFOUND);
    ASSERT_EQ(left, 123);
    ASSERT_EQ(grove_timer_ref(none).id, 0);

    /* left may be NULL; a cancelled timer is gone for good. */
    ASSERT_OK(grove_send_after(self, 60000, 1, NULL, 0, &t));
    ASSERT_OK(grove_read_timer(t, NULL));
    ASSERT_OK(grove_cancel_timer_left(t, NULL));
    ASSERT_ERR(grove_cancel_timer(t), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_read_timer(t, &left), GROVE_ENOTFOUND);
    ASSERT_EQ(gt_stats().timers_live, 0);
    EXPECT_NO_MSG(10);
}

/* ---- gen_server.h ----------------------------------------------------- */

PROC_TEST(bad_input_sweep_gen_server_start_options)
{
    const char *lname = too_long_name();
    grove_ref_t mref = {12345};
    grove_gs_opts_t bad[] = {
        {.hibernate_after = -1},
        {.timeout = INT64_MIN},
        {.name = ""},
        {.name = lname},
        {.via = &broken_via, .via_key = "k", .via_key_len = 1},
        {.via = &empty_via, .via_key = NULL, .via_key_len = 4},
        {.via = &empty_via, .via_key = "k", .via_key_len = 1,
         .name = "sweep_both"},
        {.via_key = "k", .via_key_len = 1},
        {.monitor = true},
        {.monitor = true, .monitor_ref = &mref, .name = ""},
        {.monitor = true, .monitor_ref = &mref, .stack_size = 1},
        {.stack_size = 4096},
        {.stack_size = SIZE_MAX},
        {.priority = (grove_priority_t)7},
    };
    grove_stats_t before = gt_stats();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        grove_pid_t pid = GROVE_PID_NONE;
        mref.id = 12345;
        int rc = grove_gs_start(&echo_cb, NULL, &bad[i], &pid, NULL);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
        ASSERT_PID_EQ(pid, GROVE_PID_NONE);
        /* A failed start with a monitor asked for writes no reference. */
        if (bad[i].monitor_ref)
            ASSERT_EQ(mref.id, 0);
    }
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);

    /* A name that is taken: init never runs, *pid is the holder. */
    grove_pid_t self = grove_self(), pid = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_OK(grove_register("sweep_taken", self));
    grove_gs_opts_t taken = {.name = "sweep_taken"};
    ASSERT_ERR(grove_gs_start(&echo_cb, NULL, &taken, &pid, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, self);
    ASSERT_OK(grove_unregister("sweep_taken"));
    EXPECT_NO_MSG(10);
}

PROC_TEST(bad_input_sweep_gen_server_references)
{
    grove_pid_t live = start_echo_server();
    grove_pid_t dead = dead_server();
    grove_pid_t pid;
    const char *lname = too_long_name();

    /* grove_server_whereis */
    ASSERT_ERR(grove_server_whereis(grove_server_pid(live), NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_server_whereis(grove_server_pid(GROVE_PID_NONE), &pid),
               GROVE_EINVAL);
    ASSERT_ERR(grove_server_whereis(grove_server_name(NULL), &pid),
               GROVE_EINVAL);
    ASSERT_ERR(grove_server_whereis(grove_server_via(NULL, "k", 1), &pid),
               GROVE_EINVAL);
    ASSERT_ERR(grove_server_whereis(grove_server_via(&broken_via, "k", 1),
                                    &pid),
               GROVE_EINVAL);
    ASSERT_ERR(grove_server_whereis(grove_server_via(&empty_via, NULL, 3),
                                    &pid),
               GROVE_EINVAL);
    grove_server_t odd = grove_server_pid(live);
    odd.kind = 7;
    ASSERT_ERR(grove_server_whereis(odd, &pid), GROVE_EINVAL);
    odd.kind = -1;
    ASSERT_ERR(grove_server_whereis(odd, &pid), GROVE_EINVAL);
    ASSERT_ERR(grove_server_whereis(grove_server_pid(dead), &pid),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_server_whereis(grove_server_pid(HUGE_SLOT_PID), &pid),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_server_whereis(grove_server_pid(GEN0_PID), &pid),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_server_whereis(grove_server_name("sweep_none"), &pid),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_server_whereis(grove_server_name(""), &pid),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_server_whereis(grove_server_name(lname), &pid),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_server_whereis(grove_server_via(&empty_via, "k", 1),
                                    &pid),
               GROVE_ENOPROC);

    /* grove_gs_try_call and grove_gs_call: a malformed reference is
     * returned, not exited on. */
    grove_reason_t why;
    grove_msg_t *reply = NULL;
    char small[4] = "abc";
    grove_server_t none = grove_server_pid(GROVE_PID_NONE);
    ASSERT_ERR(grove_gs_try_call(none, 1, NULL, 0, &reply, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_try_call(odd, 1, NULL, 0, &reply, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_try_call(grove_server_pid(live), 1, small,
                                 GROVE_MSG_MAX_SIZE + 1, &reply, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_try_call(grove_server_pid(live), 1, NULL, 0, &reply,
                                 INT64_MIN, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_call(none, 1, NULL, 0, &reply, 100), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_call(grove_server_name(NULL), 1, NULL, 0, &reply,
                             100),
               GROVE_EINVAL);
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_gs_try_call(grove_server_pid(dead), 1, NULL, 0, &reply,
                                 100, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_try_call(grove_server_pid(GEN0_PID), 1, NULL, 0,
                                 &reply, 100, NULL),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_try_call(grove_server_name("sweep_none"), 1, NULL, 0,
                                 &reply, 100, NULL),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_try_call(grove_server_pid(grove_self()), 1, NULL, 0,
                                 &reply, 100, NULL),
               GROVE_ECALLINGSELF);
    ASSERT_NULL(reply);

    /* grove_gs_cast: valid arguments are 0 whatever is there. */
    ASSERT_ERR(grove_gs_cast(none, 1, NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_cast(grove_server_name(NULL), 1, NULL, 0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_cast(grove_server_via(NULL, "k", 1), 1, NULL, 0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_cast(odd, 1, NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_cast(grove_server_pid(live), 1, NULL, 3),
               GROVE_EINVAL);
    ASSERT_OK(grove_gs_cast(grove_server_pid(dead), 1, "x", 1));
    ASSERT_OK(grove_gs_cast(grove_server_pid(HUGE_SLOT_PID), 1, NULL, 0));
    ASSERT_OK(grove_gs_cast(grove_server_name("sweep_none"), 1, NULL, 0));
    ASSERT_OK(grove_gs_cast(grove_server_via(&empty_via, "k", 1), 1, NULL,
                            0));

    /* grove_gs_reply */
    grove_gs_from_t from = {grove_self(), grove_make_ref()};
    ASSERT_ERR(grove_gs_reply((grove_gs_from_t){GROVE_PID_NONE, from.ref}, 1,
                              NULL, 0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_reply((grove_gs_from_t){from.pid, GROVE_REF_NONE}, 1,
                              NULL, 0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_reply(from, 1, NULL, 2), GROVE_EINVAL);
    ASSERT_OK(grove_gs_reply((grove_gs_from_t){dead, from.ref}, 1, "x", 1));

    /* grove_gs_stop */
    ASSERT_ERR(grove_gs_stop(none, NULL, 100, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_stop(grove_server_pid(live), NULL, -2, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_stop(grove_server_pid(dead), NULL, 100, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_stop(grove_server_pid(HUGE_SLOT_PID), NULL, 100,
                             &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_stop(grove_server_name("sweep_none"), NULL, 100,
                             &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_stop(grove_server_pid(grove_self()), NULL, 100,
                             &why),
               GROVE_ECALLINGSELF);
    ASSERT_TRUE(grove_is_alive(live));
    stop_server(live);
    EXPECT_NO_MSG(10);
}

PROC_TEST(bad_input_sweep_gen_server_requests)
{
    grove_pid_t dead = dead_server();
    grove_gs_request_t rq;
    grove_msg_t *reply = NULL;
    grove_reason_t why;
    size_t which = 99;
    char small[4] = "abc";

    ASSERT_ERR(grove_gs_send_request(grove_server_pid(GROVE_PID_NONE), 1,
                                     NULL, 0, &rq),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_send_request(grove_server_name(NULL), 1, NULL, 0,
                                     &rq),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_send_request(grove_server_pid(dead), 1, small,
                                     GROVE_MSG_MAX_SIZE + 1, &rq),
               GROVE_EINVAL);

    /* No server there: the response is GROVE_ENOPROC. */
    ASSERT_OK(grove_gs_send_request(grove_server_pid(dead), 1, "x", 1, &rq));
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_gs_wait_response(&rq, gt_scaled_ms(GT_WAIT_MS), &reply,
                                      &why),
               GROVE_ENOPROC);
    ASSERT_REASON_KIND(why, GROVE_EXIT_NOPROC);
    ASSERT_EQ(rq.ref.id, 0);
    ASSERT_ERR(grove_gs_wait_response(&rq, 0, &reply, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_receive_response(&rq, 0, &reply, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_check_response(NULL, &rq, &why), GROVE_EINVAL);

    ASSERT_OK(grove_gs_send_request(grove_server_name("sweep_none"), 1, NULL,
                                    0, &rq));
    ASSERT_PID_EQ(rq.server, GROVE_PID_NONE);
    ASSERT_ERR(grove_gs_receive_response(&rq, INT64_MIN, &reply, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_wait_any(&rq, 1, -2, &which, &reply, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_check_response(NULL, &rq, &why), GROVE_EINVAL);
    /* A message that is not about the request. */
    ASSERT_OK(grove_send(grove_self(), 42, "x", 1));
    grove_msg_t *other;
    ASSERT_OK(grove_recv_tag(&other, 42, 0));
    ASSERT_ERR(grove_gs_check_response(other, NULL, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_check_response(other, &rq, &why), GROVE_ENOTFOUND);
    grove_msg_free(other);
    ASSERT_NE(rq.ref.id, 0);
    ASSERT_ERR(grove_gs_receive_response(&rq, gt_scaled_ms(GT_WAIT_MS),
                                         &reply, NULL),
               GROVE_ENOPROC);

    /* wait_any over nothing outstanding. */
    ASSERT_ERR(grove_gs_wait_any(NULL, 0, 0, &which, &reply, &why),
               GROVE_ENOTFOUND);
    grove_gs_request_t spent[2] = {{dead, GROVE_REF_NONE},
                                   {GROVE_PID_NONE, GROVE_REF_NONE}};
    ASSERT_ERR(grove_gs_wait_any(spent, 2, 0, &which, &reply, &why),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_gs_wait_any(spent, 2, 0, NULL, &reply, &why),
               GROVE_EINVAL);
    ASSERT_EQ(which, 99);
    ASSERT_NULL(reply);
    EXPECT_NO_MSG(10);
}

/* enter_loop refuses what only a start can do, before anything changes:
 * the caller stays an ordinary process. */
static grove_gs_ret_t reply_nothing(void)
{
    return GROVE_GS_REPLY(0, NULL, 0);
}

PROC_TEST(bad_input_sweep_gen_server_enter_loop)
{
    grove_ref_t ref;
    grove_gs_opts_t bad[] = {
        {.stack_size = 64 * 1024},
        {.trap_exit = true},
        {.monitor = true, .monitor_ref = &ref},
        {.name = ""},
        {.name = too_long_name()},
        {.hibernate_after = -1},
        {.via = &broken_via, .via_key = "k", .via_key_len = 1},
        {.via_key = "k", .via_key_len = 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_gs_enter_loop(&echo_cb, NULL, &bad[i],
                                     GROVE_GS_INIT_OK());
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
    }
    ASSERT_ERR(grove_gs_enter_loop(&echo_cb, NULL, NULL, GROVE_GS_NOREPLY()),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_enter_loop(&echo_cb, NULL, NULL, reply_nothing()),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_enter_loop(
                   &echo_cb, NULL, NULL,
                   GROVE_GS_INIT_ERROR(grove_reason_normal())),
               GROVE_EINVAL);
    /* Names that are not the caller's. */
    grove_gs_opts_t unnamed = {.name = "sweep_none"};
    ASSERT_ERR(grove_gs_enter_loop(&echo_cb, NULL, &unnamed,
                                   GROVE_GS_INIT_OK()),
               GROVE_ENOTFOUND);
    grove_gs_opts_t via = {.via = &empty_via, .via_key = "k",
                           .via_key_len = 1};
    ASSERT_ERR(grove_gs_enter_loop(&echo_cb, NULL, &via, GROVE_GS_INIT_OK()),
               GROVE_ENOTFOUND);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_STREQ(info.behaviour, "");
    EXPECT_NO_MSG(10);
}

/* Process-only calls of gen_server.h from a thread that is not a process;
 * arg is a live server. */
static void *gen_server_calls_from_thread(void *arg)
{
    grove_pid_t live = *(grove_pid_t *)arg;
    grove_server_t s = grove_server_pid(live);
    grove_pid_t pid;
    grove_reason_t why;
    grove_msg_t *reply = NULL;
    grove_gs_request_t rq = {live, {7}};
    size_t which;
    ASSERT_ERR(grove_gs_start(&echo_cb, NULL, NULL, &pid, &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_call(s, 1, NULL, 0, &reply, 100), GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_try_call(s, 1, NULL, 0, &reply, 100, &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_stop(s, NULL, 100, &why), GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_receive_response(&rq, 0, &reply, &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_wait_any(&rq, 1, 0, &which, &reply, &why),
               GROVE_ENOTPROC);
    ASSERT_NULL(reply);
    /* Casts and replies work from any thread. */
    ASSERT_OK(grove_gs_cast(grove_server_pid(HUGE_SLOT_PID), 1, NULL, 0));
    ASSERT_ERR(grove_gs_cast(grove_server_pid(GROVE_PID_NONE), 1, NULL, 0),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_reply((grove_gs_from_t){GROVE_PID_NONE, {1}}, 1,
                              NULL, 0),
               GROVE_EINVAL);
    return NULL;
}

/* check_response from a thread needs a real message: the process lends
 * one it received. */
typedef struct lent_msg {
    const grove_msg_t *m;
    grove_gs_request_t rq;
} lent_msg_t;

static void *check_response_from_thread(void *arg)
{
    lent_msg_t *l = arg;
    ASSERT_ERR(grove_gs_check_response(l->m, &l->rq, NULL), GROVE_ENOTPROC);
    return NULL;
}

PROC_TEST(bad_input_sweep_gen_server_from_thread)
{
    grove_pid_t live = start_echo_server();
    on_thread(gen_server_calls_from_thread, &live);
    ASSERT_OK(grove_send(grove_self(), 42, "x", 1));
    lent_msg_t l = {NULL, {live, {7}}};
    grove_msg_t *m;
    ASSERT_OK(grove_recv_tag(&m, 42, 0));
    l.m = m;
    on_thread(check_response_from_thread, &l);
    grove_msg_free(m);
    ASSERT_TRUE(grove_is_alive(live));
    stop_server(live);
}

/* ---- supervisor.h ----------------------------------------------------- */

PROC_TEST(bad_input_sweep_supervisor_child_spec_check)
{
    grove_reason_t why;
    grove_sup_flags_t flags = {0};
    ASSERT_ERR(grove_child_spec_check(NULL, NULL, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_child_spec_check(NULL, &flags, NULL), GROVE_EINVAL);
    grove_child_spec_t bad[] = {
        {.id = "", .entry = nothing},
        {.id = "two", .start_extra = NULL, .entry = nothing,
         .gen_server = &echo_cb},
        {.id = "restart", .entry = nothing, .restart = -1},
        {.id = "type", .entry = nothing, .type = -1},
        {.id = "shutdown", .entry = nothing, .shutdown = INT64_MIN},
        {.id = "jitter", .entry = nothing,
         .backoff = {.initial_ms = 10, .jitter_pct = 101}},
        {.id = "backoff", .entry = nothing,
         .backoff = {.initial_ms = 100, .max_ms = 10}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_child_spec_check(&bad[i], &flags, &why);
        if (rc != GROVE_EINVAL)
            GT_FAIL("spec %zu: got %s", i, grove_errname(rc));
        ASSERT_ERR(grove_child_spec_check(&bad[i], NULL, NULL),
                   GROVE_EINVAL);
    }
    /* The edges that are fine. */
    grove_child_spec_t good = {.id = "ok", .entry = nothing,
                               .shutdown = GROVE_SHUTDOWN_IMMEDIATE,
                               .backoff = {.initial_ms = 10,
                                           .jitter_pct = 100}};
    ASSERT_OK(grove_child_spec_check(&good, NULL, NULL));
}

/* A child whose start function calls its own supervisor, as a start
 * function may not: it runs in the supervisor. */
static atomic_int self_start_rc, self_count_rc;

static int start_calling_own_sup(void *arg, grove_pid_t *pid,
                                 grove_reason_t *why)
{
    (void)arg;
    (void)why;
    grove_server_t me = grove_server_pid(grove_self());
    grove_child_spec_t c = {.id = "other", .entry = gt_echo_main};
    grove_reason_t r;
    grove_child_counts_t counts;
    atomic_store(&self_start_rc, grove_sup_start_child(me, &c, NULL, &r));
    atomic_store(&self_count_rc, grove_sup_count_children(me, &counts));
    grove_spawn_opts_t o = {.link = true};
    return grove_spawn(gt_echo_main, NULL, &o, pid);
}

static const grove_child_spec_t one_child[] = {
    {.id = "a", .start = start_calling_own_sup},
};

static const grove_sup_spec_t one_child_spec = {
    .name = "sweep_sup", .children = one_child, .nchildren = 1};

PROC_TEST(bad_input_sweep_supervisor_api)
{
    const char *lname = too_long_name();
    grove_pid_t sup = SUP_START(&one_child_spec);
    ASSERT_ERR(atomic_load(&self_start_rc), GROVE_ECALLINGSELF);
    ASSERT_ERR(atomic_load(&self_count_rc), GROVE_ECALLINGSELF);
    grove_server_t s = grove_server_pid(sup);
    grove_server_t none = grove_server_pid(GROVE_PID_NONE);
    grove_server_t nameless = grove_server_name(NULL);
    grove_server_t unknown = grove_server_name("sweep_none");
    grove_pid_t dead = dead_server();
    grove_server_t gone = grove_server_pid(dead);
    grove_pid_t pid;
    grove_reason_t why;

    /* start_child */
    grove_child_spec_t good = {.id = "b", .entry = gt_echo_main};
    grove_child_spec_t c = good;
    ASSERT_ERR(grove_sup_start_child(s, NULL, &pid, &why), GROVE_EINVAL);
    c.id = NULL;
    ASSERT_ERR(grove_sup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    c.id = "";
    ASSERT_ERR(grove_sup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    c.id = lname;
    ASSERT_ERR(grove_sup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    c = good;
    c.entry = NULL;
    ASSERT_ERR(grove_sup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    c = good;
    c.restart = 17;
    ASSERT_ERR(grove_sup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    c = good;
    c.id = "a";
    ASSERT_ERR(grove_sup_start_child(s, &c, &pid, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_ERR(grove_sup_start_child(none, &good, &pid, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_start_child(nameless, &good, &pid, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_sup_start_child(gone, &good, &pid, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_sup_start_child(unknown, &good, &pid, &why),
               GROVE_ENOPROC);

    /* The calls by id. */
    const char *bad_ids[] = {NULL, "", lname};
    for (size_t i = 0; i < 3; i++) {
        ASSERT_ERR(grove_sup_terminate_child(s, bad_ids[i]), GROVE_EINVAL);
        ASSERT_ERR(grove_sup_restart_child(s, bad_ids[i], &pid, &why),
                   GROVE_EINVAL);
        ASSERT_ERR(grove_sup_delete_child(s, bad_ids[i]), GROVE_EINVAL);
    }
    ASSERT_ERR(grove_sup_terminate_child(s, "zz"), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_sup_restart_child(s, "zz", &pid, &why),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_sup_delete_child(s, "zz"), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_sup_terminate_child(none, "a"), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_restart_child(none, "a", &pid, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_delete_child(none, "a"), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_terminate_child(gone, "a"), GROVE_ENOPROC);
    ASSERT_ERR(grove_sup_restart_child(gone, "a", &pid, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_sup_delete_child(unknown, "a"), GROVE_ENOPROC);

    /* The queries. */
    grove_child_info_t info[2];
    grove_child_counts_t counts;
    grove_child_spec_t spec;
    char idbuf[64];
    size_t n = 99;
    ASSERT_ERR(grove_sup_which_children(s, NULL, 2, &n), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_which_children(s, info, 2, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_which_children(none, info, 2, &n), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_which_children(gone, info, 2, &n), GROVE_ENOPROC);
    ASSERT_EQ(n, 99);
    ASSERT_OK(grove_sup_which_children(s, NULL, 0, &n));
    ASSERT_EQ(n, 1);
    ASSERT_ERR(grove_sup_count_children(s, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_count_children(none, &counts), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_count_children(gone, &counts), GROVE_ENOPROC);
    ASSERT_ERR(grove_sup_get_childspec(s, "a", NULL, idbuf), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_get_childspec(s, "a", &spec, NULL), GROVE_EINVAL);
    for (size_t i = 0; i < 3; i++)
        ASSERT_ERR(grove_sup_get_childspec(s, bad_ids[i], &spec, idbuf),
                   GROVE_EINVAL);
    ASSERT_ERR(grove_sup_get_childspec(s, "zz", &spec, idbuf),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_sup_get_childspec(gone, "a", &spec, idbuf),
               GROVE_ENOPROC);
    grove_sup_stats_t st;
    ASSERT_ERR(grove_sup_stats(s, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_stats(none, &st), GROVE_EINVAL);
    ASSERT_ERR(grove_sup_stats(gone, &st), GROVE_ENOPROC);
    ASSERT_ERR(grove_sup_stats(unknown, &st), GROVE_ENOPROC);

    /* A server that is not a supervisor answers with what it likes (this
     * one with the empty request): the caller survives it. */
    grove_pid_t echo = start_echo_server();
    memset(&st, 0xff, sizeof st);
    ASSERT_OK(grove_sup_stats(grove_server_pid(echo), &st));
    stop_server(echo);

    /* Nothing changed. */
    ASSERT_COUNTS(sup, 1, 1, 0, 1);
    SUP_SHUTDOWN(sup);
    EXPECT_NO_MSG(10);
}

PROC_TEST(bad_input_sweep_supervisor_start_options)
{
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    grove_sup_spec_t spec = {.name = "sweep"};
    grove_sup_opts_t bad[] = {
        {.name = ""},
        {.name = too_long_name()},
        {.via = &broken_via, .via_key = "k", .via_key_len = 1},
        {.timeout = -5},
        {.monitor = true},
        {.priority = (grove_priority_t)9},
    };
    grove_stats_t before = gt_stats();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_sup_start(&spec, &bad[i], &pid, &why);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
    }
    /* A start with a monitor asked for that fails writes no reference,
     * whatever failed. */
    grove_ref_t mref = {12345};
    grove_sup_opts_t mon = {.monitor = true, .monitor_ref = &mref};
    ASSERT_ERR(grove_sup_start(NULL, &mon, &pid, &why), GROVE_EINVAL);
    ASSERT_EQ(mref.id, 0);
    grove_sup_spec_t bad_flags = {.flags = {.strategy = -1}};
    mref.id = 12345;
    ASSERT_ERR(grove_sup_start(&bad_flags, &mon, &pid, &why), GROVE_EINVAL);
    ASSERT_EQ(mref.id, 0);
    grove_child_spec_t nameless = {.entry = gt_echo_main};
    grove_sup_spec_t bad_child = {.children = &nameless, .nchildren = 1};
    mref.id = 12345;
    ASSERT_ERR(grove_sup_start(&bad_child, &mon, &pid, &why), GROVE_EINVAL);
    ASSERT_EQ(mref.id, 0);
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
    ASSERT_OK(grove_register("sweep_taken", grove_self()));
    grove_sup_opts_t taken = {.name = "sweep_taken"};
    ASSERT_ERR(grove_sup_start(&spec, &taken, &pid, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, grove_self());
    ASSERT_OK(grove_unregister("sweep_taken"));
    EXPECT_NO_MSG(10);
}

/* The supervisor API from a thread that is not a process; arg is a live
 * supervisor. */
static void *supervisor_calls_from_thread(void *arg)
{
    grove_server_t s = grove_server_pid(*(grove_pid_t *)arg);
    grove_child_spec_t good = {.id = "b", .entry = gt_echo_main};
    grove_pid_t pid;
    grove_reason_t why;
    grove_child_info_t info[2];
    grove_child_counts_t counts;
    grove_child_spec_t spec;
    char idbuf[64];
    size_t n;
    grove_sup_stats_t st;
    grove_sup_spec_t sspec = {.name = "sweep"};
    ASSERT_ERR(grove_sup_start(&sspec, NULL, &pid, &why), GROVE_ENOTPROC);
    ASSERT_ERR(grove_sup_start_child(s, &good, &pid, &why), GROVE_ENOTPROC);
    ASSERT_ERR(grove_sup_terminate_child(s, "a"), GROVE_ENOTPROC);
    ASSERT_ERR(grove_sup_restart_child(s, "a", &pid, &why), GROVE_ENOTPROC);
    ASSERT_ERR(grove_sup_delete_child(s, "a"), GROVE_ENOTPROC);
    ASSERT_ERR(grove_sup_which_children(s, info, 2, &n), GROVE_ENOTPROC);
    ASSERT_ERR(grove_sup_count_children(s, &counts), GROVE_ENOTPROC);
    ASSERT_ERR(grove_sup_get_childspec(s, "a", &spec, idbuf),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_sup_stats(s, &st), GROVE_ENOTPROC);
    /* A pure check works anywhere. */
    ASSERT_OK(grove_child_spec_check(&good, NULL, &why));
    return NULL;
}

PROC_TEST(bad_input_sweep_supervisor_from_thread)
{
    grove_pid_t sup = SUP_START(&one_child_spec);
    on_thread(supervisor_calls_from_thread, &sup);
    ASSERT_COUNTS(sup, 1, 1, 0, 1);
    SUP_SHUTDOWN(sup);
}

/* ---- dynamic_supervisor.h --------------------------------------------- */

PROC_TEST(bad_input_sweep_dynamic_supervisor)
{
    grove_pid_t pid = GROVE_PID_NONE, self = grove_self();
    grove_reason_t why;
    grove_dynsup_opts_t bad[] = {
        {.name = ""},
        {.name = too_long_name()},
        {.via = &broken_via, .via_key = "k", .via_key_len = 1},
        {.via_key = "k", .via_key_len = 1},
        {.max_restarts = INT_MIN},
        {.max_seconds = INT_MIN},
    };
    grove_stats_t before = gt_stats();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_dynsup_start(&bad[i], &pid, &why);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
    }
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
    ASSERT_OK(grove_register("sweep_taken", self));
    grove_dynsup_opts_t taken = {.name = "sweep_taken"};
    ASSERT_ERR(grove_dynsup_start(&taken, &pid, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, self);
    ASSERT_OK(grove_unregister("sweep_taken"));

    grove_pid_t dsup;
    ASSERT_OK(grove_dynsup_start(NULL, &dsup, &why));
    grove_server_t s = grove_server_pid(dsup);
    grove_server_t none = grove_server_pid(GROVE_PID_NONE);
    grove_server_t gone = grove_server_pid(dead_server());
    grove_child_spec_t good = {.entry = gt_echo_main,
                               .restart = GROVE_TEMPORARY};
    grove_child_spec_t c;
    ASSERT_ERR(grove_dynsup_start_child(s, NULL, &pid, &why), GROVE_EINVAL);
    c = good;
    c.significant = true;
    ASSERT_ERR(grove_dynsup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    c = good;
    c.entry = NULL;
    ASSERT_ERR(grove_dynsup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    c = good;
    c.restart = 5;
    ASSERT_ERR(grove_dynsup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    c = good;
    c.shutdown = -9;
    ASSERT_ERR(grove_dynsup_start_child(s, &c, &pid, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_start_child(none, &good, &pid, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_start_child(gone, &good, &pid, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_dynsup_start_child(grove_server_name("sweep_none"),
                                        &good, &pid, &why),
               GROVE_ENOPROC);
    ASSERT_OK(grove_dynsup_start_child(s, &good, &pid, &why));

    ASSERT_ERR(grove_dynsup_terminate_child(s, GROVE_PID_NONE),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_dynsup_terminate_child(s, self), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_dynsup_terminate_child(s, HUGE_SLOT_PID),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_dynsup_terminate_child(none, pid), GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_terminate_child(gone, pid), GROVE_ENOPROC);

    grove_child_info_t info[2];
    grove_child_counts_t counts;
    grove_sup_stats_t st;
    size_t n = 99;
    ASSERT_ERR(grove_dynsup_which_children(s, NULL, 2, &n), GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_which_children(s, info, 2, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_which_children(none, info, 2, &n),
               GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_which_children(gone, info, 2, &n),
               GROVE_ENOPROC);
    ASSERT_EQ(n, 99);
    ASSERT_ERR(grove_dynsup_count_children(s, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_count_children(gone, &counts), GROVE_ENOPROC);
    ASSERT_ERR(grove_dynsup_stats(none, &st), GROVE_EINVAL);
    ASSERT_ERR(grove_dynsup_stats(gone, &st), GROVE_ENOPROC);

    /* Nothing changed but the one good child. */
    ASSERT_OK(grove_dynsup_count_children(s, &counts));
    ASSERT_EQ(counts.specs, 1);
    ASSERT_OK(grove_dynsup_terminate_child(s, pid));
    ASSERT_ERR(grove_dynsup_terminate_child(s, pid), GROVE_ENOTFOUND);
    stop_server(dsup);

    /* A supervisor that takes no child. */
    grove_dynsup_opts_t closed = {.max_children = GROVE_MAX_CHILDREN_NONE};
    ASSERT_OK(grove_dynsup_start(&closed, &dsup, &why));
    ASSERT_ERR(grove_dynsup_start_child(grove_server_pid(dsup), &good, &pid,
                                        &why),
               GROVE_EMAXCHILDREN);
    stop_server(dsup);
    EXPECT_NO_MSG(10);
}

static void *dynsup_calls_from_thread(void *arg)
{
    grove_server_t s = grove_server_pid(*(grove_pid_t *)arg);
    grove_child_spec_t good = {.entry = gt_echo_main};
    grove_pid_t pid;
    grove_reason_t why;
    grove_child_info_t info[2];
    grove_child_counts_t counts;
    grove_sup_stats_t st;
    size_t n;
    ASSERT_ERR(grove_dynsup_start(NULL, &pid, &why), GROVE_ENOTPROC);
    ASSERT_ERR(grove_dynsup_start_child(s, &good, &pid, &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_dynsup_terminate_child(s, HUGE_SLOT_PID),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_dynsup_which_children(s, info, 2, &n), GROVE_ENOTPROC);
    ASSERT_ERR(grove_dynsup_count_children(s, &counts), GROVE_ENOTPROC);
    ASSERT_ERR(grove_dynsup_stats(s, &st), GROVE_ENOTPROC);
    return NULL;
}

PROC_TEST(bad_input_sweep_dynamic_supervisor_from_thread)
{
    grove_pid_t dsup;
    ASSERT_OK(grove_dynsup_start(NULL, &dsup, NULL));
    on_thread(dynsup_calls_from_thread, &dsup);
    grove_child_counts_t counts;
    ASSERT_OK(grove_dynsup_count_children(grove_server_pid(dsup), &counts));
    ASSERT_EQ(counts.specs, 0);
    stop_server(dsup);
}

/* ---- registry.h ------------------------------------------------------- */

static void never_key(const void *key, size_t len, void *arg)
{
    (void)key;
    (void)len;
    (*(int *)arg)++;
}

static void never_dispatch(const grove_reg_entry_t *e, size_t n, void *arg)
{
    (void)e;
    (void)n;
    (*(int *)arg)++;
}

PROC_TEST(bad_input_sweep_registry_options)
{
    grove_registry_t *r = NULL;
    const char *const null_listener[] = {NULL};
    grove_registry_opts_t bad[] = {
        {.keys = -1},
        {.keys = 2},
        {.nlisteners = 1},
        {.listeners = null_listener, .nlisteners = 1},
        {.partitions = 4097},
        {.partitions = UINT_MAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_registry_new(&bad[i], &r);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
        ASSERT_NULL(r);
    }
    ASSERT_ERR(grove_registry_new(NULL, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_free(NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_find(NULL, &r), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_find("sweep_reg", NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_find("sweep_reg", &r), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_registry_find("", &r), GROVE_ENOTFOUND);

    grove_registry_opts_t named = {.name = "sweep_reg"};
    grove_registry_t *first, *second = NULL;
    ASSERT_OK(grove_registry_new(&named, &first));
    ASSERT_ERR(grove_registry_new(&named, &second), GROVE_EEXIST);
    ASSERT_NULL(second);
    ASSERT_OK(grove_registry_find("sweep_reg", &r));
    ASSERT_TRUE(r == first);
    ASSERT_OK(grove_registry_free(first));
    ASSERT_ERR(grove_registry_find("sweep_reg", &r), GROVE_ENOTFOUND);
}

/* A process that holds a key until told to exit. */
enum { TAG_HELD = 0x5357000000000001ull, TAG_RELEASE };

typedef struct key_holder {
    grove_registry_t *reg;
    grove_pid_t parent;
} key_holder_t;

static void hold_key(void *arg)
{
    key_holder_t *kh = arg;
    GROVE_ASSERT(grove_registry_register(kh->reg, "held", 4, 9, NULL) == 0);
    GROVE_ASSERT(grove_send(kh->parent, TAG_HELD, NULL, 0) == 0);
    grove_msg_t *m;
    if (grove_recv_tag(&m, TAG_RELEASE, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

PROC_TEST(bad_input_sweep_registry_calls)
{
    grove_registry_opts_t uo = {.keys = GROVE_REG_UNIQUE};
    grove_registry_opts_t dupo = {.keys = GROVE_REG_DUPLICATE};
    grove_registry_t *u, *dup;
    ASSERT_OK(grove_registry_new(&uo, &u));
    ASSERT_OK(grove_registry_new(&dupo, &dup));
    grove_pid_t self = grove_self(), holder = GROVE_PID_NONE, pid;
    uint64_t old = 77;
    int calls = 0;

    ASSERT_OK(grove_registry_register(u, "k", 1, 1, NULL));
    ASSERT_ERR(grove_registry_register(u, "k", 1, 2, &holder), GROVE_EEXIST);
    ASSERT_PID_EQ(holder, self);
    ASSERT_ERR(grove_registry_update_value(u, "absent", 6, 3, &old),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_registry_update_value(dup, "k", 1, 3, &old),
               GROVE_ENOTSUP);
    ASSERT_EQ(old, 77);
    ASSERT_ERR(grove_registry_whereis(u, "absent", 6, &pid),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_registry_whereis(dup, "k", 1, &pid), GROVE_ENOTFOUND);
    ASSERT_EQ(grove_registry_keys(u, GROVE_PID_NONE, never_key, &calls), 0);
    ASSERT_EQ(grove_registry_keys(u, HUGE_SLOT_PID, never_key, &calls), 0);
    ASSERT_OK(grove_registry_dispatch(u, "absent", 6, never_dispatch,
                                      &calls));
    ASSERT_EQ(calls, 0);
    ASSERT_EQ(grove_registry_match(u, "absent", 6, NULL, NULL, NULL, 0), 0);
    ASSERT_OK(grove_registry_unregister(u, "absent", 6));
    ASSERT_NULL(grove_registry_via(dup));

    /* Metadata */
    char buf[4] = "xyz";
    ASSERT_ERR(grove_registry_meta(u, "absent", buf, sizeof buf),
               GROVE_ENOTFOUND);
    ASSERT_STREQ(buf, "xyz");
    ASSERT_OK(grove_registry_delete_meta(u, "absent"));
    ASSERT_OK(grove_registry_put_meta(u, "m", NULL, 0));
    ASSERT_EQ(grove_registry_meta(u, "m", NULL, 0), 0);

    /* A key another process holds. */
    key_holder_t kh = {u, self};
    grove_pid_t other = SPAWN_MON(hold_key, &kh, NULL);
    grove_msg_free(EXPECT_TAG(TAG_HELD));
    holder = GROVE_PID_NONE;
    ASSERT_ERR(grove_registry_register(u, "held", 4, 2, &holder),
               GROVE_EEXIST);
    ASSERT_PID_EQ(holder, other);
    ASSERT_ERR(grove_registry_update_value(u, "held", 4, 3, &old),
               GROVE_ENOTFOUND);
    ASSERT_EQ(old, 77);
    ASSERT_OK(grove_registry_unregister(u, "held", 4));
    ASSERT_OK(grove_registry_whereis(u, "held", 4, &pid));
    ASSERT_PID_EQ(pid, other);
    ASSERT_EQ(grove_registry_count(u), 2);
    ASSERT_OK(grove_send(other, TAG_RELEASE, NULL, 0));
    ASSERT_REASON_EQ(AWAIT_EXIT(other), grove_reason_normal());
    ASSERT_OK(grove_registry_unregister(u, "k", 1));
    ASSERT_EQ(grove_registry_count(u), 0);
    ASSERT_OK(grove_registry_free(u));
    ASSERT_OK(grove_registry_free(dup));
}

static void *registry_calls_from_thread(void *arg)
{
    grove_registry_t *r = arg;
    grove_pid_t holder, pid;
    uint64_t old;
    grove_reg_entry_t e;
    size_t n = 99;
    ASSERT_ERR(grove_registry_register(r, "t", 1, 0, &holder),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_registry_unregister(r, "k", 1), GROVE_ENOTPROC);
    ASSERT_ERR(grove_registry_update_value(r, "k", 1, 5, &old),
               GROVE_ENOTPROC);
    /* Lookups work from any thread. */
    ASSERT_OK(grove_registry_lookup(r, "k", 1, &e, 1, &n));
    ASSERT_EQ(n, 1);
    ASSERT_OK(grove_registry_whereis(r, "k", 1, &pid));
    ASSERT_ERR(grove_registry_whereis(r, "t", 1, &pid), GROVE_ENOTFOUND);
    return NULL;
}

PROC_TEST(bad_input_sweep_registry_from_thread)
{
    grove_registry_t *r;
    ASSERT_OK(grove_registry_new(NULL, &r));
    ASSERT_OK(grove_registry_register(r, "k", 1, 1, NULL));
    on_thread(registry_calls_from_thread, r);
    grove_reg_entry_t e;
    size_t n;
    ASSERT_OK(grove_registry_lookup(r, "k", 1, &e, 1, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(e.value, 1);
    ASSERT_OK(grove_registry_free(r));
}

/* ---- task.h ----------------------------------------------------------- */

PROC_TEST(bad_input_sweep_task)
{
    grove_pid_t pid = GROVE_PID_NONE, self = grove_self();
    grove_reason_t why;
    grove_msg_t *reply = NULL;

    /* Tasks that are not the caller's. */
    grove_task_t foreign = {self, {7}, HUGE_SLOT_PID};
    ASSERT_ERR(grove_task_await(&foreign, 100, &reply), GROVE_EINVAL);
    ASSERT_ERR(grove_task_yield(&foreign, 100, &reply, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_task_shutdown(&foreign, 100, &reply, &why),
               GROVE_EINVAL);
    grove_task_t pidless = {GROVE_PID_NONE, {7}, self};
    ASSERT_ERR(grove_task_await(&pidless, 100, &reply), GROVE_EINVAL);
    ASSERT_ERR(grove_task_yield(NULL, 100, &reply, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_task_shutdown(NULL, 0, &reply, &why), GROVE_EINVAL);

    /* Shutdown values, and a spent task. */
    grove_task_t t;
    ASSERT_OK(grove_task_async(task_nothing, NULL, &t));
    ASSERT_ERR(grove_task_shutdown(&t, GROVE_SHUTDOWN_IMMEDIATE, &reply,
                                   &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_shutdown(&t, INT64_MIN, &reply, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_yield(&t, INT64_MIN, &reply, &why), GROVE_EINVAL);
    ASSERT_OK(grove_task_await(&t, gt_scaled_ms(GT_WAIT_MS), NULL));
    ASSERT_ERR(grove_task_await(&t, 100, &reply), GROVE_EINVAL);
    ASSERT_ERR(grove_task_yield(&t, 0, &reply, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_task_shutdown(&t, 0, &reply, &why), GROVE_EINVAL);
    ASSERT_NULL(reply);

    /* Task supervisor options. */
    grove_task_sup_opts_t bad[] = {
        {.max_restarts = -2},
        {.max_seconds = -1},
        {.name = ""},
        {.name = too_long_name()},
        {.via = &broken_via, .via_key = "k", .via_key_len = 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_task_sup_start(&bad[i], &pid, &why);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
    }

    ASSERT_ERR(grove_task_sup_child_start(&bad[0], &pid, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_child_start(&bad[2], &pid, &why),
               GROVE_EINVAL);

    grove_pid_t tsup;
    ASSERT_OK(grove_task_sup_start(NULL, &tsup, &why));
    grove_server_t s = grove_server_pid(tsup);
    grove_server_t none = grove_server_pid(GROVE_PID_NONE);
    grove_server_t gone = grove_server_pid(dead_server());
    grove_task_opts_t perm = {.restart = GROVE_TASK_PERMANENT};
    grove_task_opts_t neg_restart = {.restart = -1};
    ASSERT_ERR(grove_task_sup_start_child(s, task_nothing, NULL,
                                          &neg_restart, &pid),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_start_child(none, task_nothing, NULL, NULL,
                                          &pid),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_start_child(gone, task_nothing, NULL, NULL,
                                          &pid),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_task_sup_async_nolink(s, NULL, NULL, NULL, &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_nolink(s, task_nothing, NULL, NULL,
                                           NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_nolink(s, task_nothing, NULL, &perm, &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async(none, task_nothing, NULL, NULL, &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_nolink(gone, task_nothing, NULL, NULL,
                                           &t),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_task_sup_terminate_child(s, GROVE_PID_NONE),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_task_sup_terminate_child(s, self), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_task_sup_terminate_child(none, self), GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_terminate_child(gone, self), GROVE_ENOPROC);
    grove_pid_t kids[2];
    size_t n = 99;
    ASSERT_ERR(grove_task_sup_children(s, NULL, 2, &n), GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_children(none, kids, 2, &n), GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_children(gone, kids, 2, &n), GROVE_ENOPROC);
    ASSERT_EQ(n, 99);
    ASSERT_OK(grove_task_sup_children(s, NULL, 0, &n));
    ASSERT_EQ(n, 0);

    /* Streams */
    void *args[2] = {NULL, NULL};
    grove_task_result_t res[2];
    grove_task_stream_opts_t neg_timeout = {.timeout = INT64_MIN};
    grove_task_stream_opts_t neg_on_timeout = {.on_timeout = -1};
    grove_task_stream_opts_t bad_shutdown = {.shutdown = -9};
    ASSERT_ERR(grove_task_sup_async_stream(s, NULL, args, 2, NULL, res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_stream(s, task_nothing, NULL, 2, NULL,
                                           res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_stream(s, task_nothing, args, 2, NULL,
                                           NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_stream(s, task_nothing, args, 2,
                                           &neg_timeout, res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_async_stream(task_nothing, args, 2,
                                       &neg_on_timeout, res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_stream(s, task_nothing, args, 2,
                                           &bad_shutdown, res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_stream(none, task_nothing, args, 2, NULL,
                                           res),
               GROVE_EINVAL);
    ASSERT_ERR(grove_task_sup_async_stream(gone, task_nothing, args, 2, NULL,
                                           res),
               GROVE_ENOPROC);
    ASSERT_OK(grove_task_sup_async_stream(s, task_nothing, NULL, 0, NULL,
                                          NULL));

    ASSERT_OK(grove_task_sup_children(s, kids, 2, &n));
    ASSERT_EQ(n, 0);
    stop_server(tsup);
    EXPECT_NO_MSG(10);
}

static void *task_calls_from_thread(void *arg)
{
    grove_server_t s = grove_server_pid(*(grove_pid_t *)arg);
    grove_task_t t = {*(grove_pid_t *)arg, {7}, *(grove_pid_t *)arg};
    grove_msg_t *reply = NULL;
    grove_reason_t why;
    grove_pid_t pid, kids[2];
    size_t n;
    void *args[1] = {NULL};
    grove_task_result_t res[1];
    ASSERT_ERR(grove_task_async(task_nothing, NULL, &t), GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_await(&t, 100, &reply), GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_yield(&t, 100, &reply, &why), GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_shutdown(&t, 100, &reply, &why), GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_sup_start_child(s, task_nothing, NULL, NULL, &pid),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_sup_async(s, task_nothing, NULL, NULL, &t),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_sup_async_nolink(s, task_nothing, NULL, NULL, &t),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_sup_terminate_child(s, HUGE_SLOT_PID),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_sup_children(s, kids, 2, &n), GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_async_stream(task_nothing, args, 1, NULL, res),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_task_sup_async_stream(s, task_nothing, args, 1, NULL,
                                           res),
               GROVE_ENOTPROC);
    ASSERT_NULL(reply);
    return NULL;
}

PROC_TEST(bad_input_sweep_task_from_thread)
{
    grove_pid_t tsup;
    ASSERT_OK(grove_task_sup_start(NULL, &tsup, NULL));
    on_thread(task_calls_from_thread, &tsup);
    grove_pid_t kids[1];
    size_t n;
    ASSERT_OK(grove_task_sup_children(grove_server_pid(tsup), kids, 1, &n));
    ASSERT_EQ(n, 0);
    stop_server(tsup);
}

/* ---- agent.h ---------------------------------------------------------- */

/* Runs in the agent: a call to itself. */
static size_t agent_calls_itself(void *state, const void *arg, void *out,
                                 size_t cap)
{
    (void)state;
    (void)arg;
    grove_reason_t why;
    int rc = grove_agent_try_update(grove_server_pid(grove_self()),
                                    agent_update, NULL, 0, 100, &why);
    if (cap >= sizeof rc)
        memcpy(out, &rc, sizeof rc);
    return sizeof rc;
}

PROC_TEST(bad_input_sweep_agent)
{
    grove_pid_t pid = GROVE_PID_NONE, self = grove_self();
    grove_reason_t why;
    grove_agent_opts_t bad[] = {
        {.name = ""},
        {.name = too_long_name()},
        {.timeout = -5},
        {.via = &broken_via, .via_key = "k", .via_key_len = 1},
        {.via_key = "k", .via_key_len = 1},
    };
    grove_stats_t before = gt_stats();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_agent_start(agent_init, NULL, &bad[i], &pid, &why);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
    }
    ASSERT_EQ(gt_stats().processes_spawned, before.processes_spawned);
    ASSERT_OK(grove_register("sweep_taken", self));
    grove_agent_opts_t taken = {.name = "sweep_taken"};
    ASSERT_ERR(grove_agent_start(agent_init, NULL, &taken, &pid, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, self);
    ASSERT_OK(grove_unregister("sweep_taken"));

    grove_pid_t agent;
    ASSERT_OK(grove_agent_start(agent_init, NULL, NULL, &agent, &why));
    grove_server_t a = grove_server_pid(agent);
    grove_server_t none = grove_server_pid(GROVE_PID_NONE);
    grove_pid_t dead;
    ASSERT_OK(grove_agent_start(agent_init, NULL, NULL, &dead, &why));
    ASSERT_OK(grove_agent_stop(grove_server_pid(dead), NULL, GROVE_INFINITY,
                               NULL));
    grove_server_t gone = grove_server_pid(dead);
    char out[8];
    char small[4] = "abc";
    size_t len = 99;

    /* Sizes and timeouts, on every request. */
    ASSERT_ERR(grove_agent_try_get(a, agent_get, NULL, 0, out, SIZE_MAX,
                                   &len, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_get(a, agent_get, small, SIZE_MAX, out,
                                   sizeof out, &len, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_get(a, agent_get, NULL, 0, out, sizeof out,
                                   &len, INT64_MIN, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_get(a, NULL, NULL, 0, out, sizeof out, &len,
                                   100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_update(a, NULL, NULL, 0, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_update(a, agent_update, NULL, 2, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_update(a, agent_update, NULL, 0, -2, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_update(a, agent_update, NULL, 0, -2),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_get_and_update(a, NULL, NULL, 0, out,
                                              sizeof out, &len, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_get_and_update(a, agent_get_update, NULL, 0,
                                              NULL, 4, &len, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_get_and_update(a, agent_get_update, NULL, 0, out,
                                          sizeof out, &len, INT64_MIN),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_cast(a, agent_update, small, SIZE_MAX),
               GROVE_EINVAL);
    ASSERT_EQ(len, 99);

    /* Agents that are not there: the try_ calls return, a malformed
     * reference is refused without exiting. */
    ASSERT_ERR(grove_agent_get(none, agent_get, NULL, 0, out, sizeof out,
                               &len, 100),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_get(none, agent_get, NULL, 0, out, sizeof out,
                                   &len, 100, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_try_get(gone, agent_get, NULL, 0, out, sizeof out,
                                   &len, 100, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_agent_try_update(grove_server_name("sweep_none"),
                                      agent_update, NULL, 0, 100, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_agent_try_get_and_update(gone, agent_get_update, NULL,
                                              0, out, sizeof out, &len, 100,
                                              &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_agent_try_update(grove_server_pid(self), agent_update,
                                      NULL, 0, 100, &why),
               GROVE_ECALLINGSELF);
    ASSERT_ERR(grove_agent_cast(none, agent_update, NULL, 0), GROVE_EINVAL);
    ASSERT_OK(grove_agent_cast(gone, agent_update, NULL, 0));
    ASSERT_OK(grove_agent_cast(grove_server_name("sweep_none"), agent_update,
                               NULL, 0));
    ASSERT_EQ(len, 99);

    /* A call to itself from inside the agent. */
    int inner = 0;
    ASSERT_OK(grove_agent_get(a, agent_calls_itself, NULL, 0, &inner,
                              sizeof inner, &len, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_ERR(inner, GROVE_ECALLINGSELF);

    /* Stops */
    ASSERT_ERR(grove_agent_stop(none, NULL, 100, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_agent_stop(a, NULL, INT64_MIN, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_agent_stop(gone, NULL, 100, &why), GROVE_ENOPROC);
    grove_agent_spec_t no_init = {.init = NULL};
    grove_agent_spec_t bad_name = {.init = agent_init, .opts = {.name = ""}};
    ASSERT_ERR(grove_agent_child_start(&no_init, &pid, &why), GROVE_EINVAL);
    ASSERT_ERR(grove_agent_child_start(&bad_name, &pid, &why),
               GROVE_EINVAL);
    ASSERT_ERR(grove_agent_stop(grove_server_pid(self), NULL, 100, &why),
               GROVE_ECALLINGSELF);
    ASSERT_TRUE(grove_is_alive(agent));
    ASSERT_OK(grove_agent_stop(a, NULL, GROVE_INFINITY, NULL));
    EXPECT_NO_MSG(10);
}

static void *agent_calls_from_thread(void *arg)
{
    grove_server_t a = grove_server_pid(*(grove_pid_t *)arg);
    grove_pid_t pid;
    grove_reason_t why;
    char out[8];
    size_t len = 99;
    /* An argument too large to travel inline, and one that is not. */
    static char big[4096];
    ASSERT_ERR(grove_agent_start(agent_init, NULL, NULL, &pid, &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_agent_get(a, agent_get, NULL, 0, out, sizeof out, &len,
                               100),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_agent_try_get(a, agent_get, "x", 1, out, sizeof out,
                                   &len, 100, &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_agent_try_get(a, agent_get, big, sizeof big, out,
                                   sizeof out, &len, 100, &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_agent_try_update(a, agent_update, big, sizeof big, 100,
                                      &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_agent_update(a, agent_update, big, sizeof big, 100),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_agent_try_get_and_update(a, agent_get_update, big,
                                              sizeof big, out, sizeof out,
                                              &len, 100, &why),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_agent_stop(a, NULL, 100, &why), GROVE_ENOTPROC);
    ASSERT_EQ(len, 99);
    /* A cast works from any thread. */
    ASSERT_OK(grove_agent_cast(a, agent_update, big, sizeof big));
    return NULL;
}

PROC_TEST(bad_input_sweep_agent_from_thread)
{
    grove_pid_t agent;
    ASSERT_OK(grove_agent_start(agent_init, NULL, NULL, &agent, NULL));
    on_thread(agent_calls_from_thread, &agent);
    ASSERT_OK(grove_agent_update(grove_server_pid(agent), agent_update, NULL,
                                 0, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_OK(grove_agent_stop(grove_server_pid(agent), NULL, GROVE_INFINITY,
                               NULL));
}

/* ---- partition_supervisor.h ------------------------------------------- */

static int custom_partition(void *arg, unsigned partition, grove_pid_t *pid,
                            grove_reason_t *why)
{
    (void)arg;
    (void)partition;
    (void)why;
    grove_spawn_opts_t o = {.link = true};
    return grove_spawn(gt_echo_main, NULL, &o, pid);
}

PROC_TEST(bad_input_sweep_partition_supervisor)
{
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    grove_partition_sup_opts_t bad[] = {
        {.name = ""},
        {.name = too_long_name()},
        {.name = "sweep_p", .partitions = (1u << 20) + 1},
        {.name = "sweep_p", .flags = {.strategy = 9}},
        {.name = "sweep_p", .flags = {.max_restarts = -5}},
        {.name = "sweep_p", .flags = {.max_seconds = -1}},
        {.name = "sweep_p", .dynsup = {.max_restarts = -5}},
        {.name = "sweep_p", .dynsup = {.max_seconds = -1}},
        {.name = "sweep_p", .start = custom_partition, .restart = 9},
        {.name = "sweep_p", .start = custom_partition, .type = -1},
        {.name = "sweep_p", .start = custom_partition, .shutdown = -9},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&why, 0, sizeof why);
        int rc = grove_partition_sup_start(&bad[i], &pid, &why);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s (%s)", i, grove_errname(rc),
                    gt_reason_str(why));
        ASSERT_ERR(grove_partition_sup_partitions("sweep_p"),
                   GROVE_ENOTFOUND);
    }
    ASSERT_ERR(grove_partition_sup_child_start(NULL, &pid, NULL),
               GROVE_EINVAL);
    ASSERT_OK(grove_register("sweep_taken", grove_self()));
    grove_partition_sup_opts_t taken = {.name = "sweep_taken",
                                        .partitions = 1};
    ASSERT_ERR(grove_partition_sup_start(&taken, &pid, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, grove_self());
    ASSERT_OK(grove_unregister("sweep_taken"));
    ASSERT_ERR(grove_partition_sup_partitions("sweep_taken"),
               GROVE_ENOTFOUND);

    /* Routing and queries on names that are not there. */
    grove_child_info_t info[2];
    grove_child_counts_t counts;
    size_t n = 99;
    char key[4] = "key";
    ASSERT_ERR(grove_partition_whereis_bytes(NULL, key, 3, &pid),
               GROVE_EINVAL);
    ASSERT_ERR(grove_partition_whereis_bytes("sweep_none", key, 3, NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_partition_whereis_bytes("sweep_none", key, 3, &pid),
               GROVE_ENOTFOUND);
    ASSERT_EQ(grove_partition_server_bytes("sweep_none", key, 3).pid.id, 0);
    ASSERT_EQ(grove_partition_server(NULL, 3).pid.id, 0);
    ASSERT_ERR(grove_partition_sup_partitions(NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_partitions(""), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_partition_sup_which_children(NULL, info, 2, &n),
               GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_which_children("sweep_none", NULL, 2, &n),
               GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_which_children("sweep_none", info, 2,
                                                  NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_which_children("sweep_none", info, 2, &n),
               GROVE_ENOPROC);
    ASSERT_EQ(n, 99);
    ASSERT_ERR(grove_partition_sup_count_children(NULL, &counts),
               GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_count_children("sweep_none", NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_count_children("sweep_none", &counts),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_partition_sup_count_all(NULL, &counts), GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_count_all("sweep_none", NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_count_all("sweep_none", &counts),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_partition_sup_resize(NULL, 1), GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_resize("sweep_none", 1), GROVE_ENOTFOUND);

    /* Custom partitions have no DynamicSupervisor children to count. */
    grove_partition_sup_opts_t custom = {.name = "sweep_custom",
                                         .partitions = 2,
                                         .start = custom_partition};
    grove_pid_t psup;
    ASSERT_OK(grove_partition_sup_start(&custom, &psup, &why));
    ASSERT_ERR(grove_partition_sup_count_all("sweep_custom", &counts),
               GROVE_ENOTSUP);
    ASSERT_ERR(grove_partition_sup_resize("sweep_custom", 3), GROVE_EINVAL);
    ASSERT_ERR(grove_partition_sup_resize("sweep_custom", UINT_MAX),
               GROVE_EINVAL);
    ASSERT_EQ(grove_partition_sup_partitions("sweep_custom"), 2);
    stop_server(psup);
    EXPECT_NO_MSG(10);
}

static void *partition_calls_from_thread(void *arg)
{
    const char *name = arg;
    grove_child_info_t info[2];
    grove_child_counts_t counts;
    grove_pid_t pid;
    size_t n;
    grove_reason_t why;
    grove_partition_sup_opts_t o = {.name = "sweep_other"};
    ASSERT_ERR(grove_partition_sup_start(&o, &pid, &why), GROVE_ENOTPROC);
    ASSERT_ERR(grove_partition_sup_which_children(name, info, 2, &n),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_partition_sup_count_children(name, &counts),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_partition_sup_count_all(name, &counts),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_partition_sup_resize(name, 1), GROVE_ENOTPROC);
    /* Routing works from any thread. */
    ASSERT_OK(grove_partition_whereis(name, 1, &pid));
    ASSERT_EQ(grove_partition_sup_partitions(name), 2);
    return NULL;
}

PROC_TEST(bad_input_sweep_partition_supervisor_from_thread)
{
    grove_partition_sup_opts_t o = {.name = "sweep_parts", .partitions = 2};
    grove_pid_t psup;
    ASSERT_OK(grove_partition_sup_start(&o, &psup, NULL));
    on_thread(partition_calls_from_thread, (void *)"sweep_parts");
    grove_child_counts_t counts;
    ASSERT_OK(grove_partition_sup_count_all("sweep_parts", &counts));
    ASSERT_EQ(counts.specs, 0);
    stop_server(psup);
}

/* ---- application.h ---------------------------------------------------- */

static const grove_sup_spec_t empty_root = {.name = "sweep_root"};

static int start_nothing(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    (void)why;
    return grove_spawn(gt_echo_main, NULL, NULL, pid);
}

TEST(bad_input_sweep_application_invalid_runs)
{
    grove_app_t bad[][2] = {
        {{.name = NULL, .root = &empty_root}},
        {{.name = "", .root = &empty_root}},
        {{.name = "neither"}},
        {{.name = "both", .root = &empty_root, .start = start_nothing}},
        {{.name = "type", .root = &empty_root, .type = 3}},
        {{.name = "type", .root = &empty_root, .type = -1}},
        {{.name = "twice", .root = &empty_root},
         {.name = "twice", .root = &empty_root}},
    };
    size_t count[] = {1, 1, 1, 1, 1, 1, 2};
    grove_app_opts_t quiet = {.no_signals = true, .no_notify = true};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = grove_app_run(bad[i], count[i], &quiet);
        if (rc != 1)
            GT_FAIL("applications %zu: got %d", i, rc);
        ASSERT_FALSE(grove_running());
    }
    ASSERT_EQ(grove_app_run(NULL, 1, &quiet), 1);
    ASSERT_FALSE(grove_running());
    /* A runtime configuration grove_start refuses. */
    grove_config_t bad_cfg = {.schedulers = -1};
    grove_app_opts_t bad_runtime = {.runtime = &bad_cfg, .no_signals = true,
                                    .no_notify = true};
    grove_app_t fine = {.name = "sweep", .root = &empty_root};
    ASSERT_EQ(grove_app_run(&fine, 1, &bad_runtime), 1);
    ASSERT_FALSE(grove_running());

    grove_pid_t pid = GROVE_PID_NONE;
    ASSERT_ERR(grove_app_root(NULL, &pid), GROVE_EINVAL);
    ASSERT_ERR(grove_app_root("sweep", NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_app_root("sweep", &pid), GROVE_ENOTFOUND);
    ASSERT_PID_EQ(pid, GROVE_PID_NONE);
    /* A stop with nothing running does nothing. */
    grove_app_stop();
    ASSERT_FALSE(grove_running());
}

PROC_TEST(bad_input_sweep_application_from_process)
{
    grove_app_t app = {.name = "sweep", .root = &empty_root};
    grove_app_opts_t quiet = {.no_signals = true, .no_notify = true};
    ASSERT_EQ(grove_app_run(&app, 1, &quiet), 1);
    ASSERT_TRUE(grove_running());
}

/* A second grove_app_run while one runs is refused. */
static void *app_runner(void *arg)
{
    static const grove_app_t app = {.name = "sweep_running",
                                    .root = &empty_root};
    grove_app_opts_t quiet = {.no_signals = true, .no_notify = true};
    *(int *)arg = grove_app_run(&app, 1, &quiet);
    return NULL;
}

TEST(bad_input_sweep_application_during_another_run)
{
    int rc = -1;
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, app_runner, &rc), 0);
    grove_pid_t root = GROVE_PID_NONE;
    WAIT_UNTIL(grove_app_root("sweep_running", &root) == 0);
    ASSERT_TRUE(grove_is_alive(root));
    grove_app_t app = {.name = "sweep_second", .root = &empty_root};
    grove_app_opts_t quiet = {.no_signals = true, .no_notify = true};
    ASSERT_EQ(grove_app_run(&app, 1, &quiet), 1);
    ASSERT_ERR(grove_app_root("sweep_second", &root), GROVE_ENOTFOUND);
    grove_app_stop();
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT_EQ(rc, 0);
    ASSERT_FALSE(grove_running());
}

TEST(bad_input_sweep_application_sd_notify)
{
    ASSERT_ERR(grove_sd_notify(NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_sd_notify(""), GROVE_EINVAL);
    ASSERT_EQ(unsetenv("NOTIFY_SOCKET"), 0);
    ASSERT_ERR(grove_sd_notify("READY=1"), GROVE_ENOTFOUND);
    ASSERT_EQ(setenv("NOTIFY_SOCKET", "", 1), 0);
    ASSERT_ERR(grove_sd_notify("READY=1"), GROVE_ENOTFOUND);
    ASSERT_EQ(setenv("NOTIFY_SOCKET", "vsock:2:1234", 1), 0);
    ASSERT_ERR(grove_sd_notify("READY=1"), GROVE_EINVAL);
    ASSERT_EQ(setenv("NOTIFY_SOCKET", "/", 1), 0);
    ASSERT_ERR(grove_sd_notify("READY=1"), GROVE_EINVAL);
    ASSERT_ERR(grove_sd_notify(""), GROVE_EINVAL);
    ASSERT_EQ(unsetenv("NOTIFY_SOCKET"), 0);
}

/* ---- io.h ------------------------------------------------------------- */

typedef struct io_pair {
    grove_io_t listener, client, server;
} io_pair_t;

static io_pair_t io_pair(void)
{
    io_pair_t p;
    ASSERT_OK(grove_io_listen_tcp("127.0.0.1", 0, 0, &p.listener));
    int port = grove_io_port(p.listener);
    ASSERT_GT(port, 0);
    ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &p.client,
                                   gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_OK(grove_io_accept(p.listener, &p.server,
                              gt_scaled_ms(GT_WAIT_MS)));
    return p;
}

static void io_pair_close(io_pair_t *p)
{
    ASSERT_OK(grove_io_close(p->listener));
    ASSERT_OK(grove_io_close(p->client));
    ASSERT_OK(grove_io_close(p->server));
}

/* The socket still works: one byte goes through it. */
static void io_still_works(io_pair_t *p)
{
    char b = 0;
    ASSERT_OK(grove_io_write(p->client, "z", 1, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_io_read(p->server, &b, 1, gt_scaled_ms(GT_WAIT_MS)), 1);
    ASSERT_EQ(b, 'z');
}

/* Every call on socket h returns code. */
static void io_every_call_refuses(grove_io_t h, int code)
{
    grove_io_t x;
    const char *line;
    char buf[16];
    ASSERT_ERR(grove_io_port(h), code);
    ASSERT_ERR(grove_io_accept(h, &x, 0), code);
    ASSERT_ERR(grove_io_read(h, buf, sizeof buf, 0), code);
    ASSERT_ERR(grove_io_read_until(h, '\n', &line, 0), code);
    ASSERT_ERR(grove_io_set_max_line(h, 100), code);
    ASSERT_ERR(grove_io_buffered(h), code);
    ASSERT_ERR(grove_io_write(h, "x", 1, 0), code);
    ASSERT_ERR(grove_io_shutdown(h), code);
    ASSERT_ERR(grove_io_close(h), code);
    ASSERT_ERR(grove_io_arm(h, GROVE_IO_READABLE, 1), code);
    ASSERT_ERR(grove_io_handoff(h, grove_self(), 1), code);
    ASSERT_ERR(grove_io_fd(h), code);
    ASSERT_ERR(grove_io_peer(h, buf, sizeof buf), code);
}

PROC_TEST(bad_input_sweep_io_arguments)
{
    io_pair_t p = io_pair();
    grove_io_t x = GROVE_IO_NONE, none = GROVE_IO_NONE;
    grove_io_t forged = {((uint64_t)1 << 32) | 0x7ffffff0u};
    const char *line = NULL;
    char buf[64];
    int port = grove_io_port(p.listener);

    /* Opening */
    ASSERT_ERR(grove_io_connect_tcp("127.0.0.1", port, NULL, 100),
               GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_tcp("127.0.0.1", port, &x, -2),
               GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_tcp("127.0.0.1", -1, &x, 100), GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_tcp("127.0.0.1", 65536, &x, 100),
               GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_unix(NULL, &x, 100), GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_unix("", &x, 100), GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_unix("@grove_sweep_none", NULL, 100),
               GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_unix("@grove_sweep_none", &x, INT64_MIN),
               GROVE_EINVAL);
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    ASSERT_ERR(grove_io_connect_unix(longpath, &x, 100), GROVE_EINVAL);
    ASSERT_ERR(grove_io_listen_unix("@grove_sweep", 0, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_io_listen_tcp("127.0.0.1", 65536, 0, &x), GROVE_EINVAL);
    char longhost[300];
    memset(longhost, 'h', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    ASSERT_ERR(grove_io_listen_tcp(longhost, 0, 0, &x), GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_tcp(longhost, port, &x, 100), GROVE_EINVAL);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_ERR(grove_io_wrap(fds[0], NULL), GROVE_EINVAL);
    close(fds[0]);
    close(fds[1]);
    ASSERT_ERR(grove_io_wrap(INT_MAX, &x), GROVE_EINVAL);
    ASSERT_ERR(grove_io_wrap(INT_MIN, &x), GROVE_EINVAL);
    ASSERT_EQ(x.id, 0);

    /* Handles that name no socket. */
    grove_io_t bad[] = {none, forged};
    for (size_t i = 0; i < 2; i++)
        io_every_call_refuses(bad[i], GROVE_EINVAL);

    /* Arguments on a live socket, and calls the kind does not support. */
    ASSERT_ERR(grove_io_accept(p.listener, NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_accept(p.listener, &x, -2), GROVE_EINVAL);
    ASSERT_ERR(grove_io_accept(p.client, &x, 0), GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_read(p.server, buf, sizeof buf, INT64_MIN),
               GROVE_EINVAL);
    ASSERT_ERR(grove_io_read(p.listener, buf, sizeof buf, 0), GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_read_until(p.server, -1, &line, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_read_until(p.server, '\n', &line, -2), GROVE_EINVAL);
    ASSERT_ERR(grove_io_read_until(p.listener, '\n', &line, 0),
               GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_set_max_line(p.server, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_set_max_line(p.server,
                                     (size_t)GROVE_IO_MAX_LINE_LIMIT + 1),
               GROVE_EINVAL);
    ASSERT_ERR(grove_io_set_max_line(p.server, SIZE_MAX), GROVE_EINVAL);
    ASSERT_ERR(grove_io_write(p.client, "x", 1, INT64_MIN), GROVE_EINVAL);
    ASSERT_ERR(grove_io_write(p.listener, "x", 1, 0), GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_shutdown(p.listener), GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_arm(p.client, ~0u, 1), GROVE_EINVAL);
    ASSERT_ERR(grove_io_peer(p.client, buf, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_peer(p.client, buf, 2), GROVE_EINVAL);
    ASSERT_ERR(grove_io_blocking(NULL, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_io_blocking_owned(NULL, buf, free), GROVE_EINVAL);
    ASSERT_EQ(grove_io_buffered(p.server), 0);
    io_still_works(&p);

    /* grove_io_port on a socket that is not TCP (an abstract name of this
     * OS process's own). */
    grove_io_t ul;
    char uname[64];
    snprintf(uname, sizeof uname, "@grove_sweep_port_%d", (int)getpid());
    ASSERT_OK(grove_io_listen_unix(uname, 0, &ul));
    ASSERT_ERR(grove_io_port(ul), GROVE_ENOTSUP);
    ASSERT_OK(grove_io_close(ul));
    io_pair_close(&p);
    EXPECT_NO_MSG(10);
}

/* Handoffs to pids that name no process, and adopting what is not a
 * handoff. */
PROC_TEST(bad_input_sweep_io_handoff)
{
    io_pair_t p = io_pair();
    grove_io_t x = GROVE_IO_NONE;
    /* A malformed destination changes nothing: the socket stays. */
    grove_pid_t bad[] = {GROVE_PID_NONE, HUGE_SLOT_PID, GEN0_PID};
    for (size_t i = 0; i < 3; i++) {
        ASSERT_ERR(grove_io_handoff(p.client, bad[i], 1), GROVE_EINVAL);
        io_still_works(&p);
    }
    /* A dead one: the socket could not travel and was closed. */
    grove_pid_t dead = dead_pid();
    ASSERT_ERR(grove_io_handoff(p.client, dead, 1), GROVE_ENOPROC);
    char b;
    ASSERT_ERR(grove_io_read(p.client, &b, 1, 0), GROVE_ECLOSED);
    ASSERT_ERR(grove_io_close(p.client), GROVE_ECLOSED);
    ASSERT_ERR(grove_io_read(p.server, &b, 1, gt_scaled_ms(GT_WAIT_MS)),
               GROVE_ECLOSED);

    /* adopt: not a handoff, no out, taken twice. */
    ASSERT_OK(grove_send(grove_self(), 9, &p.server, sizeof p.server));
    grove_msg_t *m;
    ASSERT_OK(grove_recv_tag(&m, 9, 0));
    ASSERT_ERR(grove_io_adopt(m, &x), GROVE_EINVAL);
    grove_msg_free(m);
    ASSERT_OK(grove_io_handoff(p.server, grove_self(), 10));
    ASSERT_OK(grove_recv_tag(&m, 10, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_ERR(grove_io_adopt(m, NULL), GROVE_EINVAL);
    ASSERT_OK(grove_io_adopt(m, &x));
    ASSERT_ERR(grove_io_adopt(m, &x), GROVE_EINVAL);
    grove_msg_free(m);
    ASSERT_OK(grove_io_close(x));
    ASSERT_OK(grove_io_close(p.listener));
    EXPECT_NO_MSG(10);
}

/* Every call on a closed handle is GROVE_ECLOSED. */
PROC_TEST(bad_input_sweep_io_stale_handles)
{
    io_pair_t p = io_pair();
    ASSERT_OK(grove_io_close(p.server));
    ASSERT_OK(grove_io_close(p.listener));
    grove_io_t stale[] = {p.server, p.listener};
    for (size_t i = 0; i < 2; i++)
        io_every_call_refuses(stale[i], GROVE_ECLOSED);
    ASSERT_OK(grove_io_close(p.client));
    EXPECT_NO_MSG(10);
}

static void *io_calls_from_thread(void *arg)
{
    io_pair_t *p = arg;
    grove_io_t x;
    const char *line;
    char buf[16];
    grove_msg_t *m = NULL;
    ASSERT_ERR(grove_io_listen_tcp("127.0.0.1", 0, 0, &x), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_connect_unix("@grove_sweep", &x, 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_port(p->listener), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_accept(p->listener, &x, 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_read(p->server, buf, sizeof buf, 0),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_read_until(p->server, '\n', &line, 0),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_set_max_line(p->server, 100), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_buffered(p->server), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_write(p->client, "x", 1, 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_shutdown(p->client), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_close(p->client), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_arm(p->client, GROVE_IO_READABLE, 1),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_handoff(p->client, grove_self(), 1),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_adopt(m, &x), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_fd(p->client), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_peer(p->client, buf, sizeof buf), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_blocking(nothing, NULL), GROVE_ENOTPROC);
    grove_io_stats_t st;
    ASSERT_OK(grove_io_stats(&st));
    return NULL;
}

PROC_TEST(bad_input_sweep_io_from_thread)
{
    io_pair_t p = io_pair();
    on_thread(io_calls_from_thread, &p);
    io_still_works(&p);
    io_pair_close(&p);
}

/* ---- observer.h ------------------------------------------------------- */

PROC_TEST_OPTS(bad_input_sweep_observer, .timeout_s = 60)
{
    grove_pid_t roots[GROVE_OBSERVER_MAX_ROOTS + 1] = {{0}};
    const char *apps[GROVE_OBSERVER_MAX_ROOTS + 1] = {0};
    const char *null_app[1] = {NULL};
    char longbind[300];
    memset(longbind, 'b', sizeof longbind - 1);
    longbind[sizeof longbind - 1] = '\0';
    grove_observer_opts_t bad[] = {
        {.port = -1},
        {.port = 65536},
        {.roots = roots, .nroots = GROVE_OBSERVER_MAX_ROOTS + 1},
        {.apps = apps, .napps = GROVE_OBSERVER_MAX_ROOTS + 1},
        {.nroots = 1},
        {.napps = 1},
        {.apps = null_app, .napps = 1},
        {.kill = -1},
        {.kill = GROVE_OBSERVER_KILL_OFF + 1},
        {.request_timeout = -1},
        {.call_timeout = INT64_MIN},
        {.bind = longbind},
        {.name = ""},
        {.name = too_long_name()},
    };
    grove_stats_t before = gt_stats();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        grove_pid_t pid = GROVE_PID_NONE;
        int rc = grove_observer_start(&bad[i], &pid);
        if (rc != GROVE_EINVAL)
            GT_FAIL("options %zu: got %s", i, grove_errname(rc));
        ASSERT_PID_EQ(pid, GROVE_PID_NONE);
        grove_reason_t why;
        memset(&why, 0, sizeof why);
        ASSERT_ERR(grove_observer_child_start(&bad[i], &pid, &why),
                   GROVE_EINVAL);
    }
    ASSERT_EQ(gt_stats().processes_alive, before.processes_alive);

    grove_pid_t dead = dead_pid();
    ASSERT_ERR(grove_observer_port(dead), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_port(HUGE_SLOT_PID), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_port(grove_self()), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_stop(GROVE_PID_NONE), GROVE_EINVAL);
    ASSERT_ERR(grove_observer_stop(dead), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_stop(GEN0_PID), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_stop(grove_self()), GROVE_ENOPROC);
    ASSERT_TRUE(grove_is_alive(grove_self()));
    EXPECT_NO_MSG(10);
}

/* From a thread outside the runtime: a call runs in a short-lived process
 * the thread waits for. */
TEST(bad_input_sweep_observer_from_thread)
{
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    grove_pid_t pid = GROVE_PID_NONE;
    grove_observer_opts_t linked = {.link = true};
    ASSERT_ERR(grove_observer_start(&linked, &pid), GROVE_EINVAL);
    grove_observer_opts_t bad = {.port = -1};
    ASSERT_ERR(grove_observer_start(&bad, &pid), GROVE_EINVAL);
    ASSERT_PID_EQ(pid, GROVE_PID_NONE);
    ASSERT_ERR(grove_observer_stop(GROVE_PID_NONE), GROVE_EINVAL);
    ASSERT_ERR(grove_observer_stop(HUGE_SLOT_PID), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_port(GROVE_PID_NONE), GROVE_EINVAL);
    ASSERT_ERR(grove_observer_port(HUGE_SLOT_PID), GROVE_ENOPROC);
    ASSERT_EQ(gt_stats().processes_alive, 0);
    ASSERT_OK(grove_stop());
}

/* ---- logger.h, types.h, testing.h ------------------------------------- */

static void ignore_event(const grove_log_event_t *ev, void *arg)
{
    (void)ev;
    (*(int *)arg)++;
}

TEST(bad_input_sweep_logger_and_values)
{
    int calls = 0;
    grove_log_handler_t *h = NULL;
    ASSERT_ERR(grove_log_add_handler(ignore_event, &calls, -1, &h),
               GROVE_EINVAL);
    ASSERT_ERR(grove_log_add_handler(ignore_event, &calls,
                                     GROVE_LOG_NONE + 1, &h),
               GROVE_EINVAL);
    ASSERT_ERR(grove_log_add_handler(ignore_event, &calls, INT_MIN, NULL),
               GROVE_EINVAL);
    ASSERT_NULL(h);
    ASSERT_OK(grove_log_add_handler(ignore_event, &calls, GROVE_LOG_DEBUG,
                                    &h));
    /* Levels that are not levels reach no handler. */
    grove_log_event(-1, NULL, GROVE_PID_NONE, "x", NULL, 0);
    grove_log_event(GROVE_LOG_NONE, "x", GROVE_PID_NONE, "x", NULL, 0);
    grove_log(GROVE_LOG_NONE + 7, "%s", "x");
    ASSERT_FALSE(grove_log_enabled(INT_MAX));
    ASSERT_EQ(calls, 0);
    /* A NULL kind is "log". */
    grove_log_event(GROVE_LOG_DEBUG, NULL, GROVE_PID_NONE, "x", NULL, 0);
    ASSERT_EQ(calls, 1);
    ASSERT_OK(grove_log_remove_handler(h));
    ASSERT_ERR(grove_log_remove_handler(h), GROVE_EINVAL);

    /* As snprintf: no buffer, or one too small. */
    char buf[8];
    ASSERT_EQ(grove_json_escape("ab", NULL, 0), 4);
    ASSERT_EQ(grove_json_escape("abcdefghij", buf, sizeof buf), 12);
    ASSERT_EQ(strlen(buf), sizeof buf - 1);
    ASSERT_STREQ(grove_log_level_name(-1), "unknown");
    ASSERT_STREQ(grove_log_level_name(GROVE_LOG_NONE + 1), "unknown");
    ASSERT_STREQ(grove_priority_name(-1), "unknown");
    ASSERT_STREQ(grove_priority_name(GROVE_PRIO_MAX + 1), "unknown");
    ASSERT_STREQ(grove_exit_kind_name(INT_MIN), "unknown");

    grove_pid_t pid = {42};
    ASSERT_ERR(grove_pid_parse("", &pid), GROVE_EINVAL);
    ASSERT_ERR(grove_pid_parse("<0.1.0>", &pid), GROVE_EINVAL);
    ASSERT_ERR(grove_pid_parse("<0.4294967296.1>", &pid), GROVE_EINVAL);
    ASSERT_ERR(grove_pid_parse("<0.1.1> ", &pid), GROVE_EINVAL);
    ASSERT_EQ(pid.id, 42);
}

TEST(bad_input_sweep_testing_hooks)
{
    int want = grove_test_failpoints() ? GROVE_EINVAL : GROVE_ENOSYS;
    ASSERT_ERR(grove_test_fail_nth(-1, 1), want);
    ASSERT_ERR(grove_test_fail_nth(GROVE_FP_DELIVER_STALL + 1, 1), want);
    ASSERT_ERR(grove_test_fail_nth(INT_MIN, 0), want);
    ASSERT_ERR(grove_test_fail_random(-1, 1, 10), want);
    ASSERT_ERR(grove_test_fail_random(GROVE_FP_ALLOC, 1, 1001), want);
    ASSERT_ERR(grove_test_fail_random(GROVE_FP_ANY, 1, UINT_MAX), want);
    ASSERT_EQ(grove_test_fail_calls(-1), 0);
    ASSERT_EQ(grove_test_fail_injected(INT_MAX), 0);
}
