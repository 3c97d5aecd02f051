/* gen_server termination: OTP-SEMANTICS.md items G-30 to G-36 (when
 * terminate runs and when it does not, the reason it gets, a terminate
 * that exits, error reports, and grove_gs_stop's results). */
#include <pthread.h>
#include <string.h>

#include "behaviours.h"

enum {
    X_CALL = 0x5801,
    X_STOP,      /* cast/info/call: stop with the reason in data */
    X_SLEEP,     /* cast: sleep data ms (int) */
    X_SELF_STOP, /* call: grove_gs_stop on itself; reply the code */
    X_REPLY = 0x5880
};

typedef struct ts_cfg {
    int terminate_sleep_ms;     /* terminate sleeps this long */
    bool terminate_exits;       /* terminate calls grove_exit(exit_with) */
    grove_reason_t exit_with;
    grove_reason_t seen;        /* the reason terminate got */
} ts_cfg_t;

static grove_gs_ret_t ts_init(grove_gs_t *gs, void *arg)
{
    grove_gs_set_state(gs, arg);
    return GROVE_GS_INIT_OK();
}

static grove_reason_t data_reason(const grove_msg_t *m)
{
    grove_reason_t r;
    memcpy(&r, grove_msg_data(m), sizeof r);
    return r;
}

static grove_gs_ret_t ts_call(grove_gs_t *gs, const grove_msg_t *req,
                              grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    if (grove_msg_tag(req) == X_STOP)
        return GROVE_GS_STOP_REPLY(data_reason(req), X_REPLY, NULL, 0);
    if (grove_msg_tag(req) == X_SELF_STOP) {
        int rc = grove_gs_stop(grove_server_pid(grove_self()), NULL, 1000,
                               NULL);
        return GROVE_GS_REPLY(X_REPLY, &rc, sizeof rc);
    }
    gt_ev("call");
    return GROVE_GS_REPLY(X_REPLY, NULL, 0);
}

static grove_gs_ret_t ts_msg(const char *what, const grove_msg_t *m)
{
    if (grove_msg_kind(m) == GROVE_MSG_EXIT) {
        gt_ev("%s:exit:%s", what,
              grove_exit_kind_name(grove_msg_reason(m)->kind));
        return GROVE_GS_NOREPLY();
    }
    switch (grove_msg_tag(m)) {
    case X_STOP:
        return GROVE_GS_STOP(data_reason(m));
    case X_SLEEP: {
        int ms;
        memcpy(&ms, grove_msg_data(m), sizeof ms);
        grove_sleep(ms);
        gt_ev("%s:slept", what);
        return GROVE_GS_NOREPLY();
    }
    default:
        gt_ev("%s:%d", what, (int)(grove_msg_tag(m) & 0xff));
        return GROVE_GS_NOREPLY();
    }
}

static grove_gs_ret_t ts_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    return ts_msg("cast", m);
}

static grove_gs_ret_t ts_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    return ts_msg("info", m);
}

static void ts_terminate(grove_gs_t *gs, const grove_reason_t *reason)
{
    ts_cfg_t *cfg = grove_gs_state(gs);
    gt_ev("terminate:%s", grove_exit_kind_name(reason->kind));
    if (!cfg)
        return;
    cfg->seen = *reason;
    if (cfg->terminate_sleep_ms > 0)
        grove_sleep(cfg->terminate_sleep_ms);
    if (cfg->terminate_exits)
        grove_exit(&cfg->exit_with);
}

static const grove_gs_callbacks_t ts_cb = {
    .name = "terminate_test",
    .init = ts_init,
    .handle_call = ts_call,
    .handle_cast = ts_cast,
    .handle_info = ts_info,
    .terminate = ts_terminate,
};

static grove_pid_t ts_start(ts_cfg_t *cfg, bool trap)
{
    grove_gs_opts_t o = {.trap_exit = trap};
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(&ts_cb, cfg, &o, &pid, &why));
    WATCH(pid);
    return pid;
}

static void sync_call(grove_pid_t pid)
{
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), X_CALL, NULL, 0, NULL,
                            gt_scaled_ms(GT_WAIT_MS)));
}

/* G-30/G-33: a stop result from handle_cast or handle_info runs
 * terminate with exactly that reason, then the server exits with it. */
PROC_TEST(gen_server_G30_terminate_on_stop_result)
{
    static ts_cfg_t cfg;
    grove_reason_t reasons[3] = {grove_reason_error(30, "stop"),
                                 grove_reason_shutdown("x"),
                                 grove_reason_normal()};
    for (int i = 0; i < 3; i++) {
        memset(&cfg, 0, sizeof cfg);
        grove_pid_t pid = ts_start(&cfg, false);
        if (i % 2)
            ASSERT_OK(grove_gs_cast(grove_server_pid(pid), X_STOP,
                                    &reasons[i], sizeof reasons[i]));
        else
            ASSERT_OK(grove_send(pid, X_STOP, &reasons[i],
                                 sizeof reasons[i]));
        ASSERT_REASON_EQ(AWAIT_EXIT(pid), reasons[i]);
        ASSERT_REASON_EQ(cfg.seen, reasons[i]);
    }
    ASSERT_EVENTS("terminate:error", "terminate:shutdown",
                  "terminate:normal");
}

/* G-30/G-36: grove_gs_stop runs terminate even when the server does not
 * trap exits, and the server exits with the reason given. */
PROC_TEST(gen_server_G30_terminate_on_gs_stop)
{
    static ts_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    grove_pid_t pid = ts_start(&cfg, false);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
    ASSERT_REASON_EQ(cfg.seen, grove_reason_normal());

    memset(&cfg, 0, sizeof cfg);
    pid = ts_start(&cfg, false);
    grove_reason_t r = grove_reason_shutdown("asked");
    grove_reason_t why;
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), &r, GROVE_INFINITY,
                            &why));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), r);
    ASSERT_REASON_EQ(cfg.seen, r);

    /* By name too. */
    grove_gs_opts_t o = {.name = "g30"};
    ASSERT_OK(grove_gs_start(&ts_cb, NULL, &o, &pid, &why));
    WATCH(pid);
    ASSERT_OK(grove_gs_stop(grove_server_name("g30"), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
    ASSERT_EVENTS("terminate:normal", "terminate:shutdown",
                  "terminate:normal");
}

/* G-30/G-32: a trapping server whose parent exits: the messages queued
 * before the exit signal are handled first, then terminate runs with the
 * parent's reason and the server exits with it. */
typedef struct parent_cfg {
    grove_pid_t test;
    bool by_signal;     /* an exit signal instead of the parent's exit */
    grove_reason_t reason;
} parent_cfg_t;

enum { TAG_SERVER = 0x58f0, TAG_GO };

static void parent_main(void *arg)
{
    parent_cfg_t *pc = arg;
    grove_gs_opts_t o = {.link = true, .trap_exit = true};
    grove_pid_t pid;
    grove_reason_t why;
    if (grove_gs_start(&ts_cb, NULL, &o, &pid, &why) != 0)
        grove_exit_error(1, "start failed");
    grove_send(pc->test, TAG_SERVER, &pid, sizeof pid);
    grove_msg_t *m;
    if (grove_recv_tag(&m, TAG_GO, GROVE_INFINITY) != 0)
        grove_exit_error(2, "no go");
    grove_msg_free(m);
    int ms = 50;
    grove_gs_cast(grove_server_pid(pid), X_SLEEP, &ms, sizeof ms);
    grove_gs_cast(grove_server_pid(pid), 0x5811, NULL, 0);
    grove_send(pid, 0x5812, NULL, 0);
    if (pc->by_signal) {
        grove_exit_signal(pid, &pc->reason);
        /* Wait here; the server's exit then comes through the link. */
        grove_ref_t ref;
        grove_monitor(pid, &ref);
        grove_recv_ref(&m, ref, GROVE_INFINITY);
        grove_msg_free(m);
        return;
    }
    grove_exit(&pc->reason);
}

static void parent_exit_case(bool by_signal, grove_reason_t r)
{
    static parent_cfg_t pc;
    pc = (parent_cfg_t){.test = grove_self(), .by_signal = by_signal,
                        .reason = r};
    grove_pid_t p = SPAWN_MON(parent_main, &pc, NULL);
    grove_msg_t *m = EXPECT_TAG(TAG_SERVER);
    grove_pid_t pid;
    memcpy(&pid, grove_msg_data(m), sizeof pid);
    grove_msg_free(m);
    WATCH(pid);
    ASSERT_OK(grove_send(p, TAG_GO, NULL, 0));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), r);
    /* The server's exit reaches its parent through the link. */
    ASSERT_REASON_EQ(AWAIT_EXIT(p), r);
    char term[GT_ORDER_EVENT_MAX];
    snprintf(term, sizeof term, "terminate:%s", grove_exit_kind_name(r.kind));
    ASSERT_EVENTS("cast:slept", "cast:17", "info:18", term);
}

PROC_TEST(gen_server_G32_parent_exit_runs_terminate)
{
    parent_exit_case(false, grove_reason_shutdown(NULL));
}

PROC_TEST(gen_server_G32_parent_exit_error_reason)
{
    parent_exit_case(false, grove_reason_error(32, "parent died"));
}

PROC_TEST(gen_server_G32_parent_exit_signal_runs_terminate)
{
    parent_exit_case(true, grove_reason_shutdown("from parent"));
}

/* G-31: no terminate when the server is killed. */
PROC_TEST(gen_server_G31_no_terminate_on_kill)
{
    static ts_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    grove_pid_t pid = ts_start(&cfg, true);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(pid, &kill));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_EVENTS(NULL);
}

/* G-31: a server that does not trap exits dies at once on an exit signal,
 * without terminate. */
PROC_TEST(gen_server_G31_no_terminate_without_trap)
{
    static ts_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    grove_pid_t pid = ts_start(&cfg, false);
    grove_reason_t r = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_exit_signal(pid, &r));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), r);

    /* Through a link from another process as well. */
    pid = ts_start(&cfg, false);
    grove_pid_t e = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(e, GT_TAG_LINK, &pid, sizeof pid, &ack));
    ASSERT_OK(ack.rc);
    grove_reason_t err = grove_reason_error(31, "linked peer");
    gt_echo_exit(e, err);
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), err);
    ASSERT_EVENTS(NULL);
}

/* G-25/G-31: a trapping server hears of a linked process that is not its
 * parent through handle_info; terminate does not run and it keeps
 * serving. The same for an exit signal from a stranger. */
PROC_TEST(gen_server_G31_non_parent_exit_goes_to_handle_info)
{
    static ts_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    grove_pid_t pid = ts_start(&cfg, true);
    grove_pid_t e = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(e, GT_TAG_LINK, &pid, sizeof pid, &ack));
    ASSERT_OK(ack.rc);
    WATCH(e);
    gt_echo_exit(e, grove_reason_error(31, "peer"));
    ASSERT_REASON_KIND(AWAIT_EXIT(e), GROVE_EXIT_ERROR);
    WAIT_EVENTS(1);
    sync_call(pid);

    grove_pid_t s = SPAWN_ECHO(GROVE_PID_NONE, NULL);
    gt_signal_req_t req = {pid, grove_reason_shutdown(NULL)};
    ASSERT_TRUE(gt_echo_call(s, GT_TAG_SIGNAL, &req, sizeof req, &ack));
    ASSERT_OK(ack.rc);
    WAIT_EVENTS(3);
    sync_call(pid);
    ASSERT_TRUE(grove_is_alive(pid));
    ASSERT_EVENTS("info:exit:error", "call", "info:exit:shutdown", "call");
    STOP_ECHO(s);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
}

/* G-34: a terminate that exits replaces the reason: grove_gs_stop
 * returns GROVE_EEXITED with the new one. */
PROC_TEST(gen_server_G34_terminate_exit_replaces_reason)
{
    static ts_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.terminate_exits = true;
    cfg.exit_with = grove_reason_error(34, "terminate failed");
    grove_pid_t pid = ts_start(&cfg, false);
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                             &why),
               GROVE_EEXITED);
    ASSERT_REASON_EQ(why, cfg.exit_with);
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), cfg.exit_with);

    /* The same after a stop result. */
    memset(&cfg, 0, sizeof cfg);
    cfg.terminate_exits = true;
    cfg.exit_with = grove_reason_error(35, "terminate failed");
    pid = ts_start(&cfg, false);
    grove_reason_t r = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), X_STOP, &r, sizeof r));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), cfg.exit_with);
    ASSERT_EVENTS("terminate:normal", "terminate:shutdown");
}

/* G-36: grove_gs_stop's codes. */
PROC_TEST(gen_server_G36_stop_codes)
{
    static ts_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    grove_pid_t pid = ts_start(&cfg, false);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
    /* Dead pid, unknown name. */
    ASSERT_ERR(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                             NULL),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_stop(grove_server_name("g36_nobody"), NULL, 100,
                             NULL),
               GROVE_ENOPROC);
    /* Self, from a callback. */
    pid = ts_start(&cfg, false);
    grove_msg_t *rep = NULL;
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), X_SELF_STOP, NULL, 0,
                            &rep, gt_scaled_ms(GT_WAIT_MS)));
    int rc;
    memcpy(&rc, grove_msg_data(rep), sizeof rc);
    grove_msg_free(rep);
    ASSERT_ERR(rc, GROVE_ECALLINGSELF);
    ASSERT_TRUE(grove_is_alive(pid));
    /* Self, from a plain process. */
    ASSERT_ERR(grove_gs_stop(grove_server_pid(grove_self()), NULL, 100,
                             NULL),
               GROVE_ECALLINGSELF);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
    ASSERT_EVENTS("terminate:normal", "terminate:normal");
}

/* G-36: a stop that times out returns GROVE_ETIMEDOUT and does not kill
 * the server: it finishes terminate and exits with the asked reason. */
PROC_TEST(gen_server_G36_stop_timeout_does_not_kill)
{
    static ts_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.terminate_sleep_ms = 300;
    grove_pid_t pid = ts_start(&cfg, false);
    grove_reason_t r = grove_reason_shutdown("slow");
    ASSERT_ERR(grove_gs_stop(grove_server_pid(pid), &r, 20, NULL),
               GROVE_ETIMEDOUT);
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), r);
    ASSERT_EVENTS("terminate:shutdown");
    EXPECT_NO_MSG(20);
}

/* G-36: outside any process, stop and calls refuse with
 * GROVE_ENOTPROC. */
static void start_named(void *arg)
{
    (void)arg;
    grove_gs_opts_t o = {.name = "g36_outside"};
    grove_pid_t pid;
    grove_reason_t why;
    if (grove_gs_start(&ts_cb, NULL, &o, &pid, &why) != 0)
        grove_exit_error(1, "start failed");
}

TEST(gen_server_G36_outside_a_process)
{
    grove_config_t cfg = {.schedulers = 2};
    ASSERT_OK(grove_start(&cfg));
    grove_reason_t r;
    ASSERT_OK(grove_run(start_named, NULL, &r));
    ASSERT_REASON_EQ(r, grove_reason_normal());
    grove_server_t srv = grove_server_name("g36_outside");
    grove_pid_t pid;
    ASSERT_OK(grove_server_whereis(srv, &pid));
    ASSERT_ERR(grove_gs_stop(srv, NULL, 100, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_try_call(srv, X_CALL, NULL, 0, NULL, 100, NULL),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_call(srv, X_CALL, NULL, 0, NULL, 100),
               GROVE_ENOTPROC);
    /* A cast works from any thread. */
    ASSERT_OK(grove_gs_cast(srv, X_CALL, NULL, 0));
    WAIT_EVENTS(1);
    ASSERT_EVENTS("cast:1");
    ASSERT_TRUE(grove_is_alive(pid));
    ASSERT_OK(grove_stop());
}

/* G-35: an abnormal end produces an error report about the server; a
 * normal or shutdown end produces none. */
typedef struct report_log {
    pthread_mutex_t mu;
    grove_pid_t watch[3];
    int errors[3];
} report_log_t;

static report_log_t reports = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void report_handler(const grove_log_event_t *ev, void *arg)
{
    report_log_t *rl = arg;
    pthread_mutex_lock(&rl->mu);
    for (int i = 0; i < 3; i++)
        if (ev->level >= GROVE_LOG_ERROR &&
            grove_pid_equal(ev->pid, rl->watch[i]))
            rl->errors[i]++;
    pthread_mutex_unlock(&rl->mu);
}

static int errors_for(int i)
{
    pthread_mutex_lock(&reports.mu);
    int n = reports.errors[i];
    pthread_mutex_unlock(&reports.mu);
    return n;
}

PROC_TEST(gen_server_G35_error_report_only_for_abnormal_ends)
{
    grove_log_handler_t *h;
    ASSERT_OK(grove_log_add_handler(report_handler, &reports,
                                    GROVE_LOG_DEBUG, &h));
    grove_pid_t p[3];
    grove_reason_t rs[3] = {grove_reason_normal(),
                            grove_reason_shutdown("quiet"),
                            grove_reason_error(35, "loud")};
    for (int i = 0; i < 3; i++) {
        p[i] = ts_start(NULL, false);
        pthread_mutex_lock(&reports.mu);
        reports.watch[i] = p[i];
        pthread_mutex_unlock(&reports.mu);
    }
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(grove_gs_cast(grove_server_pid(p[i]), X_STOP, &rs[i],
                                sizeof rs[i]));
        ASSERT_REASON_EQ(AWAIT_EXIT(p[i]), rs[i]);
    }
    WAIT_UNTIL(errors_for(2) > 0);
    ASSERT_EQ(errors_for(0), 0);
    ASSERT_EQ(errors_for(1), 0);
    ASSERT_OK(grove_log_remove_handler(h));
}
