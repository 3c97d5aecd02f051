/* gen_server calls: OTP-SEMANTICS.md items G-12 to G-22 (timeouts, late
 * replies, noproc, servers dying mid-call, calling self, clean mailboxes,
 * deferred replies, stop with and without a reply, bad returns).
 *
 * Where the CALLER must exit, a helper process makes the call and the
 * test watches how it ends; the helper records "returned" if the call
 * ever comes back to it. */
#include <pthread.h>
#include <string.h>

#include "behaviours.h"

enum {
    C_ECHO = 0x4301, /* reply with the request's data */
    C_NEVER,         /* never answer */
    C_LATE,          /* answer after data ms (int) from handle_info */
    C_HOLD,          /* keep From, answer when told to (casts below) */
    C_EXIT,          /* grove_exit with the reason in data */
    C_STOP_REPLY,    /* stop with the reason in data, replying "bye" */
    C_STOP_NOREPLY,  /* stop with the reason in data, no reply */
    C_SELF_TRY,      /* try_call itself; reply the result code */
    C_SELF_CALL,     /* call itself */
    C_BADRET,        /* return an invalid action */
    K_ANSWER_OTHER,  /* cast: another process answers the held call */
    K_ANSWER_THREAD, /* cast: a plain thread answers the held call */
    K_ANSWER_SELF,   /* cast: the server answers the held call */
    R_REPLY = 0x4380 /* the tag of every reply */
};

typedef struct cs_state {
    grove_gs_from_t held;
    bool slow_terminate;
    grove_reason_t terminate_reason;
} cs_state_t;

static cs_state_t cs_shared;

static grove_gs_ret_t cs_init(grove_gs_t *gs, void *arg)
{
    cs_state_t *st = arg ? arg : &cs_shared;
    grove_gs_set_state(gs, st);
    return GROVE_GS_INIT_OK();
}

static grove_reason_t data_reason(const grove_msg_t *m)
{
    grove_reason_t r;
    memcpy(&r, grove_msg_data(m), sizeof r);
    return r;
}

static grove_gs_ret_t cs_call(grove_gs_t *gs, const grove_msg_t *req,
                              grove_gs_from_t from)
{
    cs_state_t *st = grove_gs_state(gs);
    switch (grove_msg_tag(req)) {
    case C_ECHO:
        return GROVE_GS_REPLY(R_REPLY, grove_msg_data(req),
                              grove_msg_size(req));
    case C_NEVER:
        gt_ev("got never");
        return GROVE_GS_NOREPLY();
    case C_LATE: {
        int ms;
        memcpy(&ms, grove_msg_data(req), sizeof ms);
        st->held = from;
        return grove_gs_with_timeout(GROVE_GS_NOREPLY(), ms);
    }
    case C_HOLD:
        st->held = from;
        gt_ev("held");
        return GROVE_GS_NOREPLY();
    case C_EXIT: {
        grove_reason_t r = data_reason(req);
        grove_exit(&r);
    }
    case C_STOP_REPLY:
        return GROVE_GS_STOP_REPLY(data_reason(req), R_REPLY, "bye", 3);
    case C_STOP_NOREPLY:
        return GROVE_GS_STOP(data_reason(req));
    case C_SELF_TRY: {
        int rc = grove_gs_try_call(grove_server_pid(grove_self()), C_ECHO,
                                   NULL, 0, NULL, 1000, NULL);
        return GROVE_GS_REPLY(R_REPLY, &rc, sizeof rc);
    }
    case C_SELF_CALL:
        grove_gs_call(grove_server_pid(grove_self()), C_ECHO, NULL, 0, NULL,
                      1000);
        gt_ev("self call returned");
        return GROVE_GS_REPLY(R_REPLY, NULL, 0);
    case C_BADRET: {
        grove_gs_ret_t bad = GROVE_GS_NOREPLY();
        bad.action = 99;
        return bad;
    }
    default:
        break;
    }
    return GROVE_GS_REPLY(R_REPLY, NULL, 0);
}

static void reply_later(void *arg)
{
    const grove_gs_from_t *from = arg;
    if (grove_gs_reply(*from, R_REPLY, "other", 5) != 0)
        gt_ev("reply failed");
}

static void *reply_thread(void *arg)
{
    const grove_gs_from_t *from = arg;
    if (grove_gs_reply(*from, R_REPLY, "thread", 6) != 0)
        gt_ev("reply failed");
    return NULL;
}

static grove_gs_ret_t cs_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    cs_state_t *st = grove_gs_state(gs);
    switch (grove_msg_tag(msg)) {
    case K_ANSWER_OTHER:
        if (grove_spawn(reply_later, &st->held, NULL, NULL) != 0)
            gt_ev("spawn failed");
        break;
    case K_ANSWER_THREAD: {
        pthread_t t;
        if (pthread_create(&t, NULL, reply_thread, &st->held) != 0)
            gt_ev("thread failed");
        else
            pthread_join(t, NULL);
        break;
    }
    case K_ANSWER_SELF:
        if (grove_gs_reply(st->held, R_REPLY, "self", 4) != 0)
            gt_ev("reply failed");
        break;
    default:
        break;
    }
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t cs_info(grove_gs_t *gs, const grove_msg_t *msg)
{
    cs_state_t *st = grove_gs_state(gs);
    if (grove_msg_kind(msg) == GROVE_MSG_USER &&
        grove_msg_tag(msg) == GROVE_GS_TIMEOUT_TAG) {
        if (grove_gs_reply(st->held, R_REPLY, "late", 4) != 0)
            gt_ev("reply failed");
        gt_ev("late reply");
    }
    return GROVE_GS_NOREPLY();
}

static void cs_terminate(grove_gs_t *gs, const grove_reason_t *reason)
{
    cs_state_t *st = grove_gs_state(gs);
    if (!st->slow_terminate)
        return;
    st->terminate_reason = *reason;
    gt_ev("terminate begins");
    grove_sleep(50);
    gt_ev("terminate ends");
}

static const grove_gs_callbacks_t cs_cb = {
    .name = "call_test",
    .init = cs_init,
    .handle_call = cs_call,
    .handle_cast = cs_cast,
    .handle_info = cs_info,
    .terminate = cs_terminate,
};

static grove_pid_t cs_start(cs_state_t *st, bool link)
{
    grove_gs_opts_t o = {.link = link};
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(&cs_cb, st, &o, &pid, &why));
    return pid;
}

static void cs_stop(grove_pid_t pid)
{
    WATCH(pid);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
}

static int try_call(grove_pid_t pid, uint64_t tag, const void *data,
                    size_t size, grove_msg_t **reply, grove_timeout_t t,
                    grove_reason_t *why)
{
    if (why)
        memset(why, 0, sizeof *why);
    return grove_gs_try_call(grove_server_pid(pid), tag, data, size, reply,
                             t, why);
}

/* A helper that makes one call (or try_call) and reports. */
typedef struct caller {
    grove_server_t srv;
    uint64_t tag;
    grove_reason_t data;
    size_t size;
    grove_timeout_t timeout;
    bool use_try;
    grove_pid_t report_to;
} caller_t;

typedef struct call_result {
    int rc;
    grove_reason_t why;
    char reply[16];
    size_t reply_size;
    uint64_t reply_tag;
} call_result_t;

enum { TAG_RESULT = 0x43ff };

static void caller_main(void *arg)
{
    caller_t *c = arg;
    call_result_t res;
    memset(&res, 0, sizeof res);
    grove_msg_t *rep = NULL;
    if (c->use_try)
        res.rc = grove_gs_try_call(c->srv, c->tag, &c->data, c->size, &rep,
                                   c->timeout, &res.why);
    else
        res.rc = grove_gs_call(c->srv, c->tag, &c->data, c->size, &rep,
                               c->timeout);
    gt_ev("returned");
    if (rep) {
        res.reply_tag = grove_msg_tag(rep);
        res.reply_size = grove_msg_size(rep);
        if (res.reply_size <= sizeof res.reply)
            memcpy(res.reply, grove_msg_data(rep), res.reply_size);
        grove_msg_free(rep);
    }
    grove_send(c->report_to, TAG_RESULT, &res, sizeof res);
}

static call_result_t expect_result(void)
{
    grove_msg_t *m = EXPECT_TAG(TAG_RESULT);
    call_result_t res;
    memcpy(&res, grove_msg_data(m), sizeof res);
    grove_msg_free(m);
    return res;
}

/* Waits for the DOWN of monitor ref up to ms (scaled). */
static grove_reason_t down_within(grove_ref_t ref, int64_t ms)
{
    grove_msg_t *m = NULL;
    ASSERT_OK(grove_recv_ref(&m, ref, gt_scaled_ms(ms)));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
    grove_reason_t r = *grove_msg_reason(m);
    grove_msg_free(m);
    return r;
}

static size_t mailbox_len(void)
{
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    return info.mailbox_len;
}

/* G-12: negative timeouts other than infinity are refused. */
PROC_TEST(gen_server_G12_bad_timeouts)
{
    grove_pid_t pid = cs_start(NULL, false);
    ASSERT_ERR(try_call(pid, C_ECHO, NULL, 0, NULL, -5, NULL), GROVE_EINVAL);
    ASSERT_ERR(try_call(pid, C_ECHO, NULL, 4, NULL, 100, NULL),
               GROVE_EINVAL);
    grove_server_t bad = grove_server_pid(pid);
    bad.kind = 9;
    ASSERT_ERR(grove_gs_try_call(bad, C_ECHO, NULL, 0, NULL, 100, NULL),
               GROVE_EINVAL);
    cs_stop(pid);
}

/* G-12/G-13: the default timeout is finite (5000 ms): a call that is
 * never answered makes the caller exit with reason timeout. */
PROC_TEST_OPTS(gen_server_G12_default_timeout, .timeout_s = 60)
{
    grove_pid_t pid = cs_start(NULL, false);
    static caller_t c;
    c = (caller_t){.srv = grove_server_pid(pid), .tag = C_NEVER,
                   .timeout = GROVE_GS_DEFAULT_TIMEOUT,
                   .report_to = grove_self()};
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    SPAWN(caller_main, &c, &o);
    ASSERT_REASON_KIND(down_within(ref, 20000), GROVE_EXIT_TIMEOUT);
    ASSERT_EVENTS("got never");
    cs_stop(pid);
}

/* G-13: on timeout the CALLER exits with reason timeout; the server
 * still handles the request and keeps serving. */
PROC_TEST(gen_server_G13_call_timeout_exits_caller)
{
    grove_pid_t pid = cs_start(NULL, false);
    static caller_t c;
    c = (caller_t){.srv = grove_server_pid(pid), .tag = C_NEVER,
                   .timeout = 100, .report_to = grove_self()};
    grove_pid_t p = SPAWN_MON(caller_main, &c, NULL);
    ASSERT_REASON_KIND(AWAIT_EXIT(p), GROVE_EXIT_TIMEOUT);
    ASSERT_EVENTS("got never");
    ASSERT_TRUE(grove_is_alive(pid));
    grove_msg_t *rep = NULL;
    ASSERT_OK(try_call(pid, C_ECHO, "ok", 2, &rep, GROVE_INFINITY, NULL));
    ASSERT_EQ(grove_msg_size(rep), 2);
    grove_msg_free(rep);
    cs_stop(pid);
}

/* G-14: try_call gives GROVE_ETIMEDOUT, and the reply that comes later
 * never reaches the caller's mailbox; the next call gets its own reply. */
PROC_TEST(gen_server_G14_late_reply_dropped)
{
    static cs_state_t st;
    memset(&st, 0, sizeof st);
    grove_pid_t pid = cs_start(&st, false);
    int ms = (int)gt_scaled_ms(600);
    grove_reason_t why;
    ASSERT_ERR(try_call(pid, C_LATE, &ms, sizeof ms, NULL, 50, &why),
               GROVE_ETIMEDOUT);
    WAIT_EVENTS(1);
    ASSERT_EVENTS("late reply");
    /* The reply was sent; give it time to land anywhere it could. */
    ASSERT_OK(try_call(pid, C_ECHO, NULL, 0, NULL, GROVE_INFINITY, NULL));
    EXPECT_NO_MSG(50);
    ASSERT_EQ(mailbox_len(), 0);

    grove_msg_t *rep = NULL;
    ASSERT_OK(try_call(pid, C_ECHO, "mine", 4, &rep, GROVE_INFINITY, NULL));
    ASSERT_EQ(grove_msg_size(rep), 4);
    ASSERT_EQ(memcmp(grove_msg_data(rep), "mine", 4), 0);
    grove_msg_free(rep);
    cs_stop(pid);
}

/* G-15: a dead pid or an unknown name: noproc at once (an infinite
 * timeout would hang otherwise). */
PROC_TEST(gen_server_G15_call_noproc)
{
    grove_pid_t pid = cs_start(NULL, false);
    cs_stop(pid);
    grove_reason_t why;
    ASSERT_ERR(try_call(pid, C_ECHO, NULL, 0, NULL, GROVE_INFINITY, &why),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_try_call(grove_server_name("g15_nobody"), C_ECHO,
                                 NULL, 0, NULL, GROVE_INFINITY, NULL),
               GROVE_ENOPROC);

    static caller_t c;
    c = (caller_t){.srv = grove_server_pid(pid), .tag = C_ECHO,
                   .timeout = GROVE_INFINITY, .report_to = grove_self()};
    grove_pid_t p = SPAWN_MON(caller_main, &c, NULL);
    ASSERT_REASON_KIND(AWAIT_EXIT(p), GROVE_EXIT_NOPROC);
    static caller_t c2;
    c2 = (caller_t){.srv = grove_server_name("g15_nobody"), .tag = C_ECHO,
                    .timeout = GROVE_INFINITY, .report_to = grove_self()};
    p = SPAWN_MON(caller_main, &c2, NULL);
    ASSERT_REASON_KIND(AWAIT_EXIT(p), GROVE_EXIT_NOPROC);
    ASSERT_EVENTS(NULL);
    EXPECT_NO_MSG(20);
}

/* G-16: the server dies while the call is pending: try_call returns
 * GROVE_EEXITED with its reason; a plain call makes the caller exit with
 * the server's reason. */
PROC_TEST(gen_server_G16_server_dies_mid_call)
{
    grove_reason_t r = grove_reason_error(16, "died in handle_call");
    grove_pid_t pid = cs_start(NULL, false);
    grove_reason_t why;
    ASSERT_ERR(try_call(pid, C_EXIT, &r, sizeof r, NULL, GROVE_INFINITY,
                        &why),
               GROVE_EEXITED);
    ASSERT_REASON_EQ(why, r);
    ASSERT_FALSE(grove_is_alive(pid));

    pid = cs_start(NULL, false);
    static caller_t c;
    c = (caller_t){.srv = grove_server_pid(pid), .tag = C_EXIT, .data = r,
                   .size = sizeof r, .timeout = GROVE_INFINITY,
                   .report_to = grove_self()};
    grove_pid_t p = SPAWN_MON(caller_main, &c, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), r);
    ASSERT_EVENTS(NULL);
}

/* G-16: the server is killed by someone else while it holds a call. */
PROC_TEST(gen_server_G16_server_killed_mid_call)
{
    static cs_state_t st;
    memset(&st, 0, sizeof st);
    grove_pid_t pid = cs_start(&st, false);
    static caller_t c;
    c = (caller_t){.srv = grove_server_pid(pid), .tag = C_HOLD,
                   .timeout = GROVE_INFINITY, .use_try = true,
                   .report_to = grove_self()};
    grove_pid_t p = SPAWN_MON(caller_main, &c, NULL);
    WAIT_EVENTS(1);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(pid, &kill));
    call_result_t res = expect_result();
    ASSERT_ERR(res.rc, GROVE_EEXITED);
    ASSERT_REASON_EQ(res.why, grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    ASSERT_EVENTS("held", "returned");
}

/* G-17: calling yourself: GROVE_ECALLINGSELF from try_call, and exit
 * calling_self from call, without a deadlock. */
PROC_TEST(gen_server_G17_calling_self)
{
    /* A plain process. */
    ASSERT_ERR(grove_gs_try_call(grove_server_pid(grove_self()), C_ECHO,
                                 NULL, 0, NULL, GROVE_INFINITY, NULL),
               GROVE_ECALLINGSELF);

    /* A server, with try_call. */
    grove_pid_t pid = cs_start(NULL, false);
    grove_msg_t *rep = NULL;
    ASSERT_OK(try_call(pid, C_SELF_TRY, NULL, 0, &rep, GROVE_INFINITY,
                       NULL));
    int rc;
    ASSERT_EQ(grove_msg_size(rep), sizeof rc);
    memcpy(&rc, grove_msg_data(rep), sizeof rc);
    grove_msg_free(rep);
    ASSERT_ERR(rc, GROVE_ECALLINGSELF);

    /* A server, with call: it exits calling_self, and its caller learns
     * that reason. */
    grove_reason_t why;
    ASSERT_ERR(try_call(pid, C_SELF_CALL, NULL, 0, NULL, GROVE_INFINITY,
                        &why),
               GROVE_EEXITED);
    ASSERT_REASON_KIND(why, GROVE_EXIT_CALLING_SELF);
    ASSERT_EVENTS(NULL);
}

/* G-17: a plain process using call on itself exits calling_self. */
static void self_caller(void *arg)
{
    (void)arg;
    grove_gs_call(grove_server_pid(grove_self()), C_ECHO, NULL, 0, NULL,
                  GROVE_INFINITY);
    gt_ev("returned");
}

PROC_TEST(gen_server_G17_call_self_exits)
{
    grove_pid_t p = SPAWN_MON(self_caller, NULL, NULL);
    ASSERT_REASON_KIND(AWAIT_EXIT(p), GROVE_EXIT_CALLING_SELF);
    ASSERT_EVENTS(NULL);
}

/* G-18: completed calls leave nothing behind: no reply copies, no DOWN
 * of the call's monitor. */
PROC_TEST(gen_server_G18_completed_call_leaves_nothing)
{
    grove_pid_t pid = cs_start(NULL, false);
    for (int i = 0; i < 300; i++) {
        grove_msg_t *rep = NULL;
        grove_msg_t **out = (i % 2) ? &rep : NULL;
        ASSERT_OK(grove_gs_call(grove_server_pid(pid), C_ECHO, &i, sizeof i,
                                out, gt_scaled_ms(GT_WAIT_MS)));
        if (rep) {
            int got;
            ASSERT_EQ(grove_msg_tag(rep), R_REPLY);
            ASSERT_EQ(grove_msg_size(rep), sizeof got);
            memcpy(&got, grove_msg_data(rep), sizeof got);
            ASSERT_EQ(got, i);
            grove_msg_free(rep);
        }
    }
    ASSERT_EQ(mailbox_len(), 0);
    /* Every call's monitor is gone on both sides. */
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.monitors, 0);
    ASSERT_OK(grove_process_info(pid, &info));
    ASSERT_EQ(info.monitored_by, 0);
    /* The server stopping now must not leave a DOWN from an old call. */
    cs_stop(pid);
    EXPECT_NO_MSG(30);
    ASSERT_EQ(mailbox_len(), 0);
}

/* G-19: noreply, then an answer from another process, from a plain
 * thread, or from the server later; the caller's call returns it. */
static void held_answered_by(uint64_t how, const char *want)
{
    static cs_state_t st;
    memset(&st, 0, sizeof st);
    grove_pid_t pid = cs_start(&st, false);
    static caller_t c;
    c = (caller_t){.srv = grove_server_pid(pid), .tag = C_HOLD,
                   .timeout = GROVE_INFINITY, .report_to = grove_self()};
    grove_pid_t p = SPAWN_MON(caller_main, &c, NULL);
    WAIT_UNTIL(gt_ev_count() >= 1);
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), how, NULL, 0));
    call_result_t res = expect_result();
    ASSERT_OK(res.rc);
    ASSERT_EQ(res.reply_tag, R_REPLY);
    ASSERT_EQ(res.reply_size, strlen(want));
    ASSERT_EQ(memcmp(res.reply, want, strlen(want)), 0);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    ASSERT_EVENTS("held", "returned");
    cs_stop(pid);
}

PROC_TEST(gen_server_G19_reply_from_other_process)
{
    held_answered_by(K_ANSWER_OTHER, "other");
}

PROC_TEST(gen_server_G19_reply_from_thread)
{
    held_answered_by(K_ANSWER_THREAD, "thread");
}

PROC_TEST(gen_server_G19_reply_from_server_later)
{
    held_answered_by(K_ANSWER_SELF, "self");
}

static void cast_answer_other(void *arg)
{
    grove_sleep(20);
    grove_gs_cast(grove_server_pid(*(grove_pid_t *)arg), K_ANSWER_OTHER,
                  NULL, 0);
}

static bool monitored_by_none(grove_pid_t pid)
{
    grove_process_info_t info;
    return grove_process_info(pid, &info) == 0 && info.monitored_by == 0;
}

static bool match_none(const grove_msg_t *m, void *arg)
{
    (void)m;
    (void)arg;
    return false;
}

/* The mailbox's length once everything that has arrived is handled. */
static size_t drained_len(void)
{
    grove_msg_t *m = NULL;
    ASSERT_ERR(grove_recv_match(&m, match_none, NULL, 0), GROVE_ETIMEDOUT);
    return mailbox_len();
}

static void reply_and_report(void *arg)
{
    const grove_gs_from_t *from = arg;
    grove_pid_t to = from->pid;
    if (grove_gs_reply(*from, R_REPLY, "late", 4) != 0)
        gt_ev("reply failed");
    grove_send(to, TAG_RESULT, NULL, 0);
}

/* G-19: a request's reference is an alias only while its monitor lasts
 * (OTP's {alias, demonitor}): once the server's DOWN has been handled,
 * an answer another process sends through the held From is dropped,
 * even before the caller takes the DOWN. */
PROC_TEST(gen_server_G19_no_answer_after_the_down)
{
    static cs_state_t st;
    memset(&st, 0, sizeof st);
    grove_pid_t pid = cs_start(&st, false);
    grove_ref_t mon;
    ASSERT_OK(grove_monitor(pid, &mon));
    grove_gs_request_t rq;
    ASSERT_OK(grove_gs_send_request(grove_server_pid(pid), C_HOLD, NULL, 0,
                                    &rq));
    /* Calls are handled in order: after this one, the first is held. */
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), C_ECHO, NULL, 0, NULL,
                            gt_scaled_ms(GT_WAIT_MS)));
    static grove_gs_from_t from;
    from = st.held;
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(pid, &kill));
    ASSERT_EQ(down_within(mon, GT_WAIT_MS).kind, GROVE_EXIT_KILLED);
    /* The request's DOWN is handled (queued, not taken). */
    WAIT_UNTIL(drained_len() == 1);
    grove_pid_t helper = SPAWN_MON(reply_and_report, &from, NULL);
    grove_msg_free(EXPECT_TAG(TAG_RESULT));
    ASSERT_REASON_EQ(AWAIT_EXIT(helper), grove_reason_normal());
    grove_reason_t why;
    ASSERT_ERR(grove_gs_receive_response(&rq, 0, NULL, &why), GROVE_EEXITED);
    ASSERT_EQ(why.kind, GROVE_EXIT_KILLED);
    ASSERT_EQ(mailbox_len(), 0);
}

/* G-19: answered by another process, the caller's monitor of the server
 * still ends (the caller drops it), and the server's end leaves the
 * caller no DOWN. */
PROC_TEST(gen_server_G19_other_replier_ends_the_monitor)
{
    static cs_state_t st;
    memset(&st, 0, sizeof st);
    static grove_pid_t pid;
    pid = cs_start(&st, false);
    grove_pid_t helper = SPAWN_MON(cast_answer_other, &pid, NULL);
    grove_msg_t *rep = NULL;
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), C_HOLD, NULL, 0, &rep,
                            gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_size(rep), 5);
    ASSERT_EQ(memcmp(grove_msg_data(rep), "other", 5), 0);
    grove_msg_free(rep);
    ASSERT_REASON_EQ(AWAIT_EXIT(helper), grove_reason_normal());
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.monitors, 0);
    WAIT_UNTIL(monitored_by_none(pid));
    cs_stop(pid);
    EXPECT_NO_MSG(30);
    ASSERT_EQ(mailbox_len(), 0);
}

/* G-19: a reply to a caller that is gone is dropped, returning 0. */
PROC_TEST(gen_server_G19_reply_to_gone_caller)
{
    static cs_state_t st;
    memset(&st, 0, sizeof st);
    grove_pid_t pid = cs_start(&st, false);
    static caller_t c;
    c = (caller_t){.srv = grove_server_pid(pid), .tag = C_HOLD,
                   .timeout = GROVE_INFINITY, .report_to = grove_self()};
    grove_pid_t p = SPAWN_MON(caller_main, &c, NULL);
    WAIT_UNTIL(gt_ev_count() >= 1);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(p, &kill));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_of(GROVE_EXIT_KILLED));
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), K_ANSWER_SELF, NULL, 0));
    ASSERT_OK(try_call(pid, C_ECHO, NULL, 0, NULL, GROVE_INFINITY, NULL));
    ASSERT_EVENTS("held");
    ASSERT_OK(grove_gs_reply(st.held, R_REPLY, "x", 1));
    cs_stop(pid);
    EXPECT_NO_MSG(20);
}

/* G-20: stop with a reply: terminate runs first, then the caller gets the
 * reply, and a linked trapping caller then sees EXIT with the reason. */
PROC_TEST(gen_server_G20_stop_with_reply)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    static cs_state_t st;
    memset(&st, 0, sizeof st);
    st.slow_terminate = true;
    grove_pid_t pid = cs_start(&st, true);
    grove_reason_t r = grove_reason_shutdown("bye");
    grove_msg_t *rep = NULL;
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), C_STOP_REPLY, &r,
                            sizeof r, &rep, GROVE_INFINITY));
    gt_ev("reply");
    ASSERT_EQ(grove_msg_size(rep), 3);
    ASSERT_EQ(memcmp(grove_msg_data(rep), "bye", 3), 0);
    grove_msg_free(rep);
    ASSERT_REASON_EQ(EXPECT_EXIT(pid), r);
    ASSERT_EVENTS("terminate begins", "terminate ends", "reply");
    ASSERT_REASON_EQ(st.terminate_reason, r);
    EXPECT_NO_MSG(20);
}

/* G-21: stop without a reply: the caller exits with the server's reason,
 * even normal (try_call: GROVE_EEXITED with it). */
PROC_TEST(gen_server_G21_stop_without_reply)
{
    grove_reason_t reasons[3] = {grove_reason_normal(),
                                 grove_reason_shutdown("x"),
                                 grove_reason_error(21, "stop")};
    for (int i = 0; i < 3; i++) {
        grove_pid_t pid = cs_start(NULL, false);
        grove_reason_t why;
        ASSERT_ERR(try_call(pid, C_STOP_NOREPLY, &reasons[i],
                            sizeof reasons[i], NULL, GROVE_INFINITY, &why),
                   GROVE_EEXITED);
        ASSERT_REASON_EQ(why, reasons[i]);

        static caller_t c;
        pid = cs_start(NULL, false);
        c = (caller_t){.srv = grove_server_pid(pid), .tag = C_STOP_NOREPLY,
                       .data = reasons[i], .size = sizeof reasons[i],
                       .timeout = GROVE_INFINITY, .report_to = grove_self()};
        grove_pid_t p = SPAWN_MON(caller_main, &c, NULL);
        ASSERT_REASON_EQ(AWAIT_EXIT(p), reasons[i]);
    }
    ASSERT_EVENTS(NULL);
}

/* G-22: an invalid return value ends the server with an abnormal reason,
 * and its caller hears of it. */
PROC_TEST(gen_server_G22_bad_return)
{
    grove_pid_t pid = cs_start(NULL, false);
    WATCH(pid);
    grove_reason_t why;
    ASSERT_ERR(try_call(pid, C_BADRET, NULL, 0, NULL, GROVE_INFINITY, &why),
               GROVE_EEXITED);
    ASSERT_FALSE(grove_reason_is_shutdown_class(&why));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), why);
}
