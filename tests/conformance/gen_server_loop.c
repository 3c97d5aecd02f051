/* The gen_server loop: OTP-SEMANTICS.md items G-23 to G-28 (casts, one
 * queue in arrival order, other messages to handle_info, continue
 * chains, timeouts, hibernation), and the defaults for missing callbacks
 * the header lists. */
#include <stdatomic.h>
#include <pthread.h>
#include <string.h>

#include "behaviours.h"

enum {
    T_CALL = 0x4c01,
    T_CAST,
    T_INFO,
    T_SELF,          /* a message the server sent itself */
    T_CALL_TIMEOUT,  /* reply, then a timeout of data ms (int64) */
    T_CALL_TIMEOUT_QUEUED, /* send self T_SELF, reply with timeout 0 */
    T_CALL_HIB,      /* reply, hibernate */
    T_CALL_CONT,     /* send self T_SELF, reply with a continue */
    T_CAST_CONT,     /* noreply with a continue */
    T_INFO_CONT,     /* noreply with a continue */
    T_CALL_COUNT,    /* reply with the state's counter, then count up */
    T_MONITOR,       /* cast: monitor the pid in data */
    T_CAST_SLEEP,    /* cast: sleep data ms (int) inside the callback */
    T_REPLY = 0x4c80
};

/* Continue markers; the chain runs 1, 2, 3 and stops. */
static const int CONT[4] = {0, 1, 2, 3};
static const int CONT_STOP = 9;

typedef struct ls_state {
    int counter;
} ls_state_t;

typedef struct ls_cfg {
    bool init_cont;        /* init starts a continue chain */
    bool init_timeout;     /* init returns a timeout of 10 ms */
    bool init_send_self;   /* init sends the server a message */
    bool chain_stop;       /* the end of the chain stops normal */
} ls_cfg_t;

static grove_gs_ret_t ls_init(grove_gs_t *gs, void *arg)
{
    ls_cfg_t *cfg = arg;
    ls_state_t *st = grove_calloc(1, sizeof *st);
    grove_gs_set_state(gs, st);
    gt_ev("init");
    if (cfg && cfg->init_send_self)
        grove_send(grove_self(), T_SELF, NULL, 0);
    if (cfg && cfg->init_cont)
        return grove_gs_with_continue(GROVE_GS_INIT_OK(), (void *)&CONT[1]);
    if (cfg && cfg->init_timeout)
        return grove_gs_with_timeout(GROVE_GS_INIT_OK(), 10);
    return GROVE_GS_INIT_OK();
}

static int msg_int(const grove_msg_t *m)
{
    int v = -1;
    if (grove_msg_size(m) == sizeof v)
        memcpy(&v, grove_msg_data(m), sizeof v);
    return v;
}

static grove_gs_ret_t ls_call(grove_gs_t *gs, const grove_msg_t *req,
                              grove_gs_from_t from)
{
    (void)from;
    ls_state_t *st = grove_gs_state(gs);
    grove_gs_ret_t ok = GROVE_GS_REPLY(T_REPLY, NULL, 0);
    switch (grove_msg_tag(req)) {
    case T_CALL:
        gt_ev("call:%d", msg_int(req));
        return ok;
    case T_CALL_TIMEOUT: {
        int64_t ms;
        memcpy(&ms, grove_msg_data(req), sizeof ms);
        gt_ev("call:timeout");
        return grove_gs_with_timeout(ok, ms);
    }
    case T_CALL_TIMEOUT_QUEUED:
        gt_ev("call:timeout0");
        grove_send(grove_self(), T_SELF, NULL, 0);
        return grove_gs_with_timeout(ok, 0);
    case T_CALL_HIB:
        gt_ev("call:hibernate");
        return grove_gs_with_hibernate(ok);
    case T_CALL_CONT:
        gt_ev("call:cont");
        grove_send(grove_self(), T_SELF, NULL, 0);
        return grove_gs_with_continue(ok, (void *)&CONT[3]);
    case T_CALL_COUNT: {
        int v = st->counter++;
        return GROVE_GS_REPLY(T_REPLY, &v, sizeof v);
    }
    default:
        break;
    }
    return ok;
}

static grove_gs_ret_t ls_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    (void)gs;
    switch (grove_msg_tag(msg)) {
    case T_CAST_CONT:
        gt_ev("cast:cont");
        return grove_gs_with_continue(GROVE_GS_NOREPLY(), (void *)&CONT[3]);
    case T_CAST_SLEEP:
        gt_ev("cast:sleep");
        grove_sleep(msg_int(msg));
        gt_ev("cast:woke");
        return GROVE_GS_NOREPLY();
    case T_MONITOR: {
        grove_pid_t p;
        memcpy(&p, grove_msg_data(msg), sizeof p);
        grove_ref_t ref;
        if (grove_monitor(p, &ref) != 0)
            gt_ev("monitor failed");
        return GROVE_GS_NOREPLY();
    }
    default:
        gt_ev("cast:%d", msg_int(msg));
        return GROVE_GS_NOREPLY();
    }
}

static grove_gs_ret_t ls_info(grove_gs_t *gs, const grove_msg_t *msg)
{
    (void)gs;
    if (grove_msg_kind(msg) == GROVE_MSG_DOWN) {
        gt_ev("info:down:%s",
              grove_exit_kind_name(grove_msg_reason(msg)->kind));
        return GROVE_GS_NOREPLY();
    }
    if (grove_msg_kind(msg) == GROVE_MSG_EXIT) {
        gt_ev("info:exit");
        return GROVE_GS_NOREPLY();
    }
    switch (grove_msg_tag(msg)) {
    case GROVE_GS_TIMEOUT_TAG:
        gt_ev("timeout");
        break;
    case T_SELF:
        gt_ev("info:self");
        break;
    case T_INFO_CONT:
        gt_ev("info:cont");
        return grove_gs_with_continue(GROVE_GS_NOREPLY(), (void *)&CONT[3]);
    default:
        gt_ev("info:%d", msg_int(msg));
        break;
    }
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t ls_continue(grove_gs_t *gs, void *cont)
{
    (void)gs;
    if (cont == &CONT_STOP) {
        gt_ev("cont:stop");
        return GROVE_GS_STOP(grove_reason_normal());
    }
    int n = *(const int *)cont;
    gt_ev("cont:%d", n);
    if (n == 1 || n == 2)
        return grove_gs_with_continue(GROVE_GS_NOREPLY(),
                                      (void *)&CONT[n + 1]);
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t ls_cb = {
    .name = "loop_test",
    .init = ls_init,
    .handle_call = ls_call,
    .handle_cast = ls_cast,
    .handle_info = ls_info,
    .handle_continue = ls_continue,
};

static grove_pid_t ls_start(ls_cfg_t *cfg)
{
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(&ls_cb, cfg, NULL, &pid, &why));
    return pid;
}

static void ls_stop(grove_pid_t pid)
{
    WATCH(pid);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
}

static void sync_call(grove_pid_t pid, int n)
{
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL, &n, sizeof n,
                            NULL, gt_scaled_ms(GT_WAIT_MS)));
}

static void *cast_thread(void *arg)
{
    const grove_pid_t *pid = arg;
    int n = 7;
    if (grove_gs_cast(grove_server_pid(*pid), T_CAST, &n, sizeof n) != 0)
        gt_ev("thread cast failed");
    return NULL;
}

/* G-23: cast returns 0 at once, to live, dead and unknown servers alike,
 * and from a plain thread; only malformed arguments are refused. */
PROC_TEST(gen_server_G23_cast_always_ok)
{
    static grove_pid_t pid;
    pid = ls_start(NULL);
    int n = 1;
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST, &n, sizeof n));
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, cast_thread, &pid), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    sync_call(pid, 2);
    ASSERT_EVENTS("init", "cast:1", "cast:7", "call:2");
    ls_stop(pid);

    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST, &n, sizeof n));
    ASSERT_OK(grove_gs_cast(grove_server_name("g23_nobody"), T_CAST, NULL,
                            0));
    ASSERT_ERR(grove_gs_cast(grove_server_pid(pid), T_CAST, NULL, 4),
               GROVE_EINVAL);
    grove_server_t bad = grove_server_pid(pid);
    bad.kind = 9;
    ASSERT_ERR(grove_gs_cast(bad, T_CAST, NULL, 0), GROVE_EINVAL);
    EXPECT_NO_MSG(20);
}

/* G-24: calls, casts and plain messages from one sender are handled one
 * at a time in arrival order. */
PROC_TEST(gen_server_G24_arrival_order)
{
    grove_pid_t pid = ls_start(NULL);
    static char want[200][GT_ORDER_EVENT_MAX];
    int nwant = 0;
    snprintf(want[nwant++], GT_ORDER_EVENT_MAX, "init");
    unsigned x = 12345;
    for (int i = 0; i < 150; i++) {
        x = x * 1103515245u + 12345u;
        int kind = (int)((x >> 16) % 3);
        if (i % 10 == 9)
            kind = 2;
        if (kind == 0) {
            ASSERT_OK(grove_send(pid, T_INFO, &i, sizeof i));
            snprintf(want[nwant++], GT_ORDER_EVENT_MAX, "info:%d", i);
        } else if (kind == 1) {
            ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST, &i,
                                    sizeof i));
            snprintf(want[nwant++], GT_ORDER_EVENT_MAX, "cast:%d", i);
        } else {
            sync_call(pid, i);
            snprintf(want[nwant++], GT_ORDER_EVENT_MAX, "call:%d", i);
        }
    }
    sync_call(pid, 1000);
    snprintf(want[nwant++], GT_ORDER_EVENT_MAX, "call:1000");
    static const char *expect[201];
    for (int i = 0; i < nwant; i++)
        expect[i] = want[i];
    expect[nwant] = NULL;
    gt_order_check(gt_ev_log(), __FILE__, __LINE__, expect);
    ls_stop(pid);
}

/* G-25: DOWN messages of the server's own monitors go to handle_info. */
PROC_TEST(gen_server_G25_down_goes_to_handle_info)
{
    grove_pid_t pid = ls_start(NULL);
    grove_pid_t e = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_MONITOR, &e, sizeof e));
    sync_call(pid, 1);
    STOP_ECHO(e);
    WAIT_EVENTS(3);
    sync_call(pid, 2);
    ASSERT_EVENTS("init", "call:1", "info:down:normal", "call:2");
    ls_stop(pid);
}

/* G-27: continues chain from init and all run before any message, even
 * one sent in init. */
PROC_TEST(gen_server_G27_continue_chain_from_init)
{
    static ls_cfg_t cfg = {.init_cont = true, .init_send_self = true};
    grove_pid_t pid = ls_start(&cfg);
    int n = 5;
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST, &n, sizeof n));
    sync_call(pid, 6);
    ASSERT_EVENTS("init", "cont:1", "cont:2", "cont:3", "info:self",
                  "cast:5", "call:6");
    ls_stop(pid);
}

/* G-27: a continue from handle_call, handle_cast or handle_info runs
 * before the next message: one the handler itself queued, or one the
 * test sent right behind the triggering message. */
PROC_TEST(gen_server_G27_continue_from_every_callback)
{
    grove_pid_t pid = ls_start(NULL);
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_CONT, NULL, 0,
                            NULL, gt_scaled_ms(GT_WAIT_MS)));
    sync_call(pid, 1);
    int n = 2;
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST_CONT, NULL, 0));
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST, &n, sizeof n));
    sync_call(pid, 3);
    n = 4;
    ASSERT_OK(grove_send(pid, T_INFO_CONT, NULL, 0));
    ASSERT_OK(grove_send(pid, T_INFO, &n, sizeof n));
    sync_call(pid, 5);
    ASSERT_EVENTS("init", "call:cont", "cont:3", "info:self", "call:1",
                  "cast:cont", "cont:3", "cast:2", "call:3", "info:cont",
                  "cont:3", "info:4", "call:5");
    ls_stop(pid);
}

/* G-27: a continue may stop the server. */
static grove_gs_ret_t stop_cont_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    return grove_gs_with_continue(GROVE_GS_INIT_OK(), (void *)&CONT_STOP);
}

static const grove_gs_callbacks_t stop_cont_cb = {
    .init = stop_cont_init,
    .handle_continue = ls_continue,
};

PROC_TEST(gen_server_G27_continue_stops)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_gs_opts_t o = {.link = true};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(&stop_cont_cb, NULL, &o, &pid, &why));
    ASSERT_REASON_EQ(EXPECT_EXIT(pid), grove_reason_normal());
    ASSERT_EVENTS("cont:stop");
}

/* G-28: with nothing arriving, a timeout calls handle_info with
 * GROVE_GS_TIMEOUT_TAG, from init or from a callback, 0 included. */
PROC_TEST(gen_server_G28_timeout_fires)
{
    static ls_cfg_t cfg = {.init_timeout = true};
    grove_pid_t pid = ls_start(&cfg);
    WAIT_EVENTS(2);
    ASSERT_EVENTS("init", "timeout");
    int64_t ms = 20;
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_TIMEOUT, &ms,
                            sizeof ms, NULL, gt_scaled_ms(GT_WAIT_MS)));
    WAIT_EVENTS(4);
    ms = 0;
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_TIMEOUT, &ms,
                            sizeof ms, NULL, gt_scaled_ms(GT_WAIT_MS)));
    WAIT_EVENTS(6);
    sync_call(pid, 1);
    ASSERT_EVENTS("init", "timeout", "call:timeout", "timeout",
                  "call:timeout", "timeout", "call:1");
    ls_stop(pid);
}

/* G-28: a message already queued wins over a timeout, even 0, and
 * cancels it. */
PROC_TEST(gen_server_G28_queued_message_cancels_timeout)
{
    grove_pid_t pid = ls_start(NULL);
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_TIMEOUT_QUEUED,
                            NULL, 0, NULL, gt_scaled_ms(GT_WAIT_MS)));
    sync_call(pid, 1);
    grove_sleep(30);
    sync_call(pid, 2);
    ASSERT_EVENTS("init", "call:timeout0", "info:self", "call:1", "call:2");
    ls_stop(pid);
}

/* G-28: a message arriving later cancels a pending timeout. The timeout
 * is long beside the time a cast takes; the test then waits past it. */
PROC_TEST(gen_server_G28_later_message_cancels_timeout)
{
    grove_pid_t pid = ls_start(NULL);
    int64_t ms = gt_scaled_ms(400);
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_TIMEOUT, &ms,
                            sizeof ms, NULL, gt_scaled_ms(GT_WAIT_MS)));
    int n = 1;
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST, &n, sizeof n));
    grove_sleep(2 * ms);
    sync_call(pid, 2);
    ASSERT_EVENTS("init", "call:timeout", "cast:1", "call:2");
    ls_stop(pid);
}

/* Hibernation: the server keeps its state and answers afterwards, also
 * after hibernating on its own (hibernate_after). */
PROC_TEST(gen_server_G_hibernate)
{
    grove_pid_t pid = ls_start(NULL);
    for (int i = 0; i < 5; i++) {
        grove_msg_t *rep = NULL;
        ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_COUNT, NULL, 0,
                                &rep, gt_scaled_ms(GT_WAIT_MS)));
        int v;
        memcpy(&v, grove_msg_data(rep), sizeof v);
        grove_msg_free(rep);
        ASSERT_EQ(v, i);
        ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_HIB, NULL, 0,
                                NULL, gt_scaled_ms(GT_WAIT_MS)));
        grove_sleep(5);
        int n = i;
        ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST, &n, sizeof n));
        ASSERT_OK(grove_send(pid, T_INFO, &n, sizeof n));
    }
    sync_call(pid, 99);
    ASSERT_EQ(gt_ev_count(), 1 + 5 * 3 + 1);
    ls_stop(pid);

    grove_gs_opts_t o = {.hibernate_after = 10};
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(&ls_cb, NULL, &o, &pid, &why));
    for (int i = 0; i < 3; i++) {
        grove_sleep(40);
        grove_msg_t *rep = NULL;
        ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_COUNT, NULL, 0,
                                &rep, gt_scaled_ms(GT_WAIT_MS)));
        int v;
        memcpy(&v, grove_msg_data(rep), sizeof v);
        grove_msg_free(rep);
        ASSERT_EQ(v, i);
    }
    ls_stop(pid);
}

static bool waits_stackless(grove_pid_t pid)
{
    grove_process_info_t info;
    return grove_process_info(pid, &info) == 0 &&
           info.status == GROVE_STATUS_WAITING && info.stack_size == 0 &&
           info.stack_used == 0 && info.stack_parked;
}

static int call_count(grove_pid_t pid)
{
    grove_msg_t *rep = NULL;
    int v = -1;
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_COUNT, NULL, 0,
                            &rep, gt_scaled_ms(GT_WAIT_MS)));
    memcpy(&v, grove_msg_data(rep), sizeof v);
    grove_msg_free(rep);
    return v;
}

/* Between messages a server holds no stack: it waits stackless, starts
 * again on a fresh stack for each message and keeps its state and a
 * pending timeout across; inside a callback that blocks, it keeps its
 * stack. */
PROC_TEST(gen_server_G_idle_holds_no_stack)
{
    grove_pid_t pid = ls_start(NULL);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(call_count(pid), i);
        WAIT_UNTIL(waits_stackless(pid));
    }
    /* A timeout pending while stackless still fires, once. */
    int64_t ms = 30;
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL_TIMEOUT, &ms,
                            sizeof ms, NULL, gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(gt_ev_count(), 2);
    WAIT_EVENTS(3);
    WAIT_UNTIL(waits_stackless(pid));
    ASSERT_EQ(call_count(pid), 3);
    /* A callback blocked in a receive keeps its stack meanwhile. */
    int sleep_ms = 300;
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST_SLEEP, &sleep_ms,
                            sizeof sleep_ms));
    WAIT_EVENTS(4);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(pid, &info));
    ASSERT_TRUE(info.stack_size > 0);
    WAIT_EVENTS(5);
    ASSERT_EQ(call_count(pid), 4);
    WAIT_UNTIL(waits_stackless(pid));
    ASSERT_EVENTS("init", "call:timeout", "timeout", "cast:sleep", "cast:woke");
    ls_stop(pid);
}

/* A server answering while its scheduler stays busy keeps the stack it
 * waited on (a warm wait), but only the last few to wait there do: an
 * older one gives its stack back as newer ones begin to wait, and all of
 * them do once the scheduler has nothing to run. Each keeps its state
 * through both. One scheduler, so the caller's calls keep that scheduler
 * busy until it sleeps. */
#define WARM_SERVERS 12
PROC_TEST_OPTS(gen_server_G_warm_waits_cool, .schedulers = 1)
{
    grove_pid_t pid[WARM_SERVERS];
    grove_process_info_t info;
    for (int i = 0; i < WARM_SERVERS; i++)
        pid[i] = ls_start(NULL);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < WARM_SERVERS; i++)
            ASSERT_EQ(call_count(pid[i]), round);
        /* No sleep since the calls: the last server called waits warm,
         * the first was pushed out by the ones after it. */
        ASSERT_OK(grove_process_info(pid[WARM_SERVERS - 1], &info));
        ASSERT_TRUE(info.status == GROVE_STATUS_WAITING &&
                    info.stack_size > 0);
        ASSERT_TRUE(waits_stackless(pid[0]));
        /* Idle, the scheduler takes the rest back. */
        for (int i = 0; i < WARM_SERVERS; i++)
            WAIT_UNTIL(waits_stackless(pid[i]));
    }
    for (int i = 0; i < WARM_SERVERS; i++)
        ls_stop(pid[i]);
}

/* A scheduler that never runs out of work (here a process yielding in a
 * loop) never sleeps, yet its warm waiters still give their stacks back:
 * a wait that has not woken for a while is cooled. */
static atomic_bool busy_stop;

static void busy_yielder(void *arg)
{
    (void)arg;
    while (!atomic_load(&busy_stop))
        grove_yield();
}

PROC_TEST_OPTS(gen_server_G_warm_wait_cools_on_busy_scheduler,
               .schedulers = 1)
{
#if defined(GROVE_DETERMINISTIC)
    /* The logical clock moves only when nothing is runnable. */
    SKIP_TEST("needs the real clock");
#endif
    atomic_store(&busy_stop, false);
    grove_pid_t pid = ls_start(NULL), busy;
    ASSERT_OK(grove_spawn(busy_yielder, NULL, NULL, &busy));
    ASSERT_EQ(call_count(pid), 0);
    WAIT_UNTIL(waits_stackless(pid));
    ASSERT_TRUE(grove_is_alive(busy)); /* the scheduler stayed busy */
    ASSERT_EQ(call_count(pid), 1); /* its state survived */
    WATCH(busy);
    atomic_store(&busy_stop, true);
    ASSERT_REASON_EQ(AWAIT_EXIT(busy), grove_reason_of(GROVE_EXIT_NORMAL));
    ls_stop(pid);
}

static uint64_t reductions_of(grove_pid_t pid)
{
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(pid, &info));
    return info.reductions;
}

static size_t monitored_by(grove_pid_t pid)
{
    grove_process_info_t info;
    return grove_process_info(pid, &info) == 0 ? info.monitored_by : 99;
}

static size_t links_of_server(grove_pid_t pid)
{
    grove_process_info_t info;
    return grove_process_info(pid, &info) == 0 ? info.links : 99;
}

/* Signals that leave an idle server waiting (link, unlink, monitor,
 * demonitor) are handled without running it: it takes no stack and is
 * not scheduled for them. An exit signal it does not trap ends it the
 * same way, with the signal's reason. */
PROC_TEST(gen_server_G_idle_signals_need_no_stack)
{
    grove_pid_t pid = ls_start(NULL);
    ASSERT_EQ(call_count(pid), 0);
    WAIT_UNTIL(waits_stackless(pid));
    uint64_t runs = reductions_of(pid);
    for (int i = 0; i < 50; i++) {
        grove_ref_t ref;
        ASSERT_OK(grove_link(pid));
        ASSERT_OK(grove_monitor(pid, &ref));
        WAIT_UNTIL(monitored_by(pid) == 1 && links_of_server(pid) == 1);
        ASSERT_TRUE(waits_stackless(pid));
        ASSERT_OK(grove_unlink(pid));
        ASSERT_OK(grove_demonitor(ref, 0));
        WAIT_UNTIL(monitored_by(pid) == 0 && links_of_server(pid) == 0);
    }
    ASSERT_TRUE(waits_stackless(pid));
    ASSERT_EQ(reductions_of(pid), runs);
    ASSERT_EQ(call_count(pid), 1); /* its state survived */
    WAIT_UNTIL(waits_stackless(pid));
    grove_reason_t why = grove_reason_error(7, "stop here");
    WATCH(pid);
    ASSERT_OK(grove_exit_signal(pid, &why));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), why);
    ASSERT_FALSE(grove_is_alive(pid));
    ASSERT_EVENTS("init"); /* no terminate: it does not trap exits */
}

/* Missing callbacks (the header's defaults): init starts with a NULL
 * state; an unexpected call or cast ends the server with badarg; a
 * plain message is dropped; a continue without handle_continue ends it
 * with badarg; no terminate is fine. */
static const grove_gs_callbacks_t empty_cb = {.name = "empty"};

static grove_gs_ret_t null_state_call(grove_gs_t *gs, const grove_msg_t *req,
                                      grove_gs_from_t from)
{
    (void)req;
    (void)from;
    bool null_state = grove_gs_state(gs) == NULL;
    return GROVE_GS_REPLY(T_REPLY, &null_state, sizeof null_state);
}

static const grove_gs_callbacks_t only_call_cb = {
    .handle_call = null_state_call,
};

static grove_gs_ret_t cont_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    return grove_gs_with_continue(GROVE_GS_INIT_OK(), NULL);
}

static const grove_gs_callbacks_t cont_no_handler_cb = {.init = cont_init};

static grove_pid_t start_linked(const grove_gs_callbacks_t *cb)
{
    grove_gs_opts_t o = {.link = true};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(cb, NULL, &o, &pid, &why));
    return pid;
}

PROC_TEST(gen_server_G_default_callbacks)
{
    ASSERT_EQ(grove_trap_exit(true), 0);

    /* Default init: a NULL state. */
    grove_pid_t pid = start_linked(&only_call_cb);
    grove_msg_t *rep = NULL;
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL, NULL, 0, &rep,
                            gt_scaled_ms(GT_WAIT_MS)));
    bool null_state = false;
    memcpy(&null_state, grove_msg_data(rep), sizeof null_state);
    grove_msg_free(rep);
    ASSERT_TRUE(null_state);
    /* A plain message without handle_info: dropped, still serving. */
    ASSERT_OK(grove_send(pid, T_INFO, NULL, 0));
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), T_CALL, NULL, 0, NULL,
                            gt_scaled_ms(GT_WAIT_MS)));
    /* A cast without handle_cast: badarg. */
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), T_CAST, NULL, 0));
    ASSERT_REASON_KIND(EXPECT_EXIT(pid), GROVE_EXIT_BADARG);

    /* A call without handle_call: badarg, and the caller hears it. */
    pid = start_linked(&empty_cb);
    ASSERT_OK(grove_send(pid, T_INFO, NULL, 0));
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_gs_try_call(grove_server_pid(pid), T_CALL, NULL, 0,
                                 NULL, GROVE_INFINITY, &why),
               GROVE_EEXITED);
    ASSERT_REASON_KIND(why, GROVE_EXIT_BADARG);
    ASSERT_REASON_KIND(EXPECT_EXIT(pid), GROVE_EXIT_BADARG);

    /* Stopping a server without terminate works. */
    pid = start_linked(&empty_cb);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(EXPECT_EXIT(pid), grove_reason_normal());

    /* A continue without handle_continue: badarg. */
    pid = start_linked(&cont_no_handler_cb);
    ASSERT_REASON_KIND(EXPECT_EXIT(pid), GROVE_EXIT_BADARG);
    EXPECT_NO_MSG(20);
}
