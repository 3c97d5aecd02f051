/* gen_server's asynchronous requests (send_request, wait_response,
 * receive_response, wait_response over a collection, check_response):
 * answers in any order, timeouts that keep or abandon a request, servers
 * that are not there or die first, and the monitor and alias of each
 * request gone once it is answered. */
#include <string.h>

#include "behaviours.h"

enum {
    Q_ECHO = 0x5101, /* reply with the request's data */
    Q_HOLD,          /* keep From; Q_RELEASE (a cast) answers "late" */
    Q_EXIT,          /* grove_exit with the reason in data */
    Q_RELEASE,
    Q_REPLY = 0x5180 /* the tag of every reply */
};

typedef struct rq_state {
    grove_gs_from_t held;
} rq_state_t;

static grove_gs_ret_t rq_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    rq_state_t *st = grove_alloc(sizeof *st);
    if (!st)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "no memory"));
    memset(st, 0, sizeof *st);
    grove_gs_set_state(gs, st);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t rq_call(grove_gs_t *gs, const grove_msg_t *req,
                              grove_gs_from_t from)
{
    rq_state_t *st = grove_gs_state(gs);
    switch (grove_msg_tag(req)) {
    case Q_ECHO:
        return GROVE_GS_REPLY(Q_REPLY, grove_msg_data(req),
                              grove_msg_size(req));
    case Q_HOLD:
        st->held = from;
        return GROVE_GS_NOREPLY();
    case Q_EXIT: {
        grove_reason_t r;
        memcpy(&r, grove_msg_data(req), sizeof r);
        grove_exit(&r);
    }
    default:
        return GROVE_GS_REPLY(Q_REPLY, NULL, 0);
    }
}

static grove_gs_ret_t rq_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    rq_state_t *st = grove_gs_state(gs);
    if (grove_msg_tag(msg) == Q_RELEASE)
        grove_gs_reply(st->held, Q_REPLY, "late", 4);
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t rq_cb = {
    .name = "request_test",
    .init = rq_init,
    .handle_call = rq_call,
    .handle_cast = rq_cast,
};

static grove_pid_t rq_start(void)
{
    grove_pid_t pid = GROVE_PID_NONE;
    ASSERT_OK(grove_gs_start(&rq_cb, NULL, NULL, &pid, NULL));
    return pid;
}

static grove_server_t srv(grove_pid_t pid) { return grove_server_pid(pid); }

static size_t my_monitors(void)
{
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    return info.monitors;
}

/* The reply's payload must be the size-byte string want. */
static void expect_reply(grove_msg_t *m, const char *want)
{
    ASSERT_TRUE(m != NULL);
    ASSERT_EQ(grove_msg_tag(m), Q_REPLY);
    ASSERT_EQ(grove_msg_size(m), strlen(want));
    ASSERT_EQ(memcmp(grove_msg_data(m), want, strlen(want)), 0);
    grove_msg_free(m);
}

static void stop_server(grove_pid_t pid)
{
    ASSERT_OK(grove_gs_stop(srv(pid), NULL, GROVE_INFINITY, NULL));
}

/* Two requests outstanding at once; the one sent second answers first,
 * and waiting on the collection returns each as it comes. */
PROC_TEST(request_answers_in_any_order)
{
    grove_pid_t a = rq_start(), b = rq_start();
    grove_gs_request_t rqs[2];
    grove_msg_t *m = NULL;
    size_t which = 99;
    ASSERT_OK(grove_gs_send_request(srv(a), Q_HOLD, NULL, 0, &rqs[0]));
    ASSERT_OK(grove_gs_send_request(srv(b), Q_ECHO, "b", 1, &rqs[1]));
    ASSERT_PID_EQ(rqs[0].server, a);
    ASSERT_PID_EQ(rqs[1].server, b);
    ASSERT_REF_NE(rqs[0].ref, rqs[1].ref);
    ASSERT_EQ(my_monitors(), 2);
    ASSERT_OK(grove_gs_wait_any(rqs, 2, GT_WAIT_MS, &which, &m, NULL));
    ASSERT_EQ(which, 1);
    expect_reply(m, "b");
    ASSERT_EQ(rqs[1].ref.id, 0);
    ASSERT_OK(grove_gs_cast(srv(a), Q_RELEASE, NULL, 0));
    ASSERT_OK(grove_gs_wait_any(rqs, 2, GT_WAIT_MS, &which, &m, NULL));
    ASSERT_EQ(which, 0);
    expect_reply(m, "late");
    ASSERT_ERR(grove_gs_wait_any(rqs, 2, 0, &which, &m, NULL), GROVE_ENOTFOUND);
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_NO_MSG(50);
    stop_server(a);
    stop_server(b);
}

/* wait_response's timeout leaves the request outstanding: the reply that
 * comes later is still collected, once. */
PROC_TEST(request_wait_timeout_keeps_request)
{
    grove_pid_t a = rq_start();
    grove_gs_request_t rq;
    grove_msg_t *m = NULL;
    ASSERT_OK(grove_gs_send_request(srv(a), Q_HOLD, NULL, 0, &rq));
    ASSERT_ERR(grove_gs_wait_response(&rq, 20, &m, NULL), GROVE_ETIMEDOUT);
    ASSERT_NE(rq.ref.id, 0);
    ASSERT_EQ(my_monitors(), 1);
    ASSERT_OK(grove_gs_cast(srv(a), Q_RELEASE, NULL, 0));
    ASSERT_OK(grove_gs_wait_response(&rq, GT_WAIT_MS, &m, NULL));
    expect_reply(m, "late");
    ASSERT_EQ(rq.ref.id, 0);
    ASSERT_ERR(grove_gs_wait_response(&rq, 0, &m, NULL), GROVE_EINVAL);
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_NO_MSG(50);
    stop_server(a);
}

/* receive_response's timeout abandons the request: the reply sent after
 * it never reaches the caller, and its monitor is gone. */
PROC_TEST(request_receive_timeout_abandons)
{
    grove_pid_t a = rq_start();
    grove_gs_request_t rq;
    grove_msg_t *m = NULL;
    ASSERT_OK(grove_gs_send_request(srv(a), Q_HOLD, NULL, 0, &rq));
    ASSERT_ERR(grove_gs_receive_response(&rq, 20, &m, NULL),
               GROVE_ETIMEDOUT);
    ASSERT_EQ(rq.ref.id, 0);
    ASSERT_EQ(my_monitors(), 0);
    ASSERT_OK(grove_gs_cast(srv(a), Q_RELEASE, NULL, 0));
    /* The server answered (a call after the cast is served after it). */
    ASSERT_OK(grove_gs_try_call(srv(a), Q_ECHO, "x", 1, &m, GT_WAIT_MS,
                                NULL));
    expect_reply(m, "x");
    EXPECT_NO_MSG(100);
    stop_server(a);
}

static void return_at_once(void *arg) { (void)arg; }

/* A request to a name nobody holds, or to a dead pid, is sent; its
 * response is noproc. */
PROC_TEST(request_to_missing_server)
{
    grove_gs_request_t rq;
    grove_reason_t why;
    grove_msg_t *m = NULL;
    ASSERT_OK(grove_gs_send_request(grove_server_name("rq_nobody"), Q_ECHO,
                                    NULL, 0, &rq));
    ASSERT_PID_EQ(rq.server, GROVE_PID_NONE);
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_gs_wait_response(&rq, GT_WAIT_MS, &m, &why),
               GROVE_ENOPROC);
    ASSERT_REASON_KIND(why, GROVE_EXIT_NOPROC);
    ASSERT_EQ(rq.ref.id, 0);

    grove_pid_t dead = SPAWN_MON(return_at_once, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(dead), grove_reason_normal());
    ASSERT_OK(grove_gs_send_request(srv(dead), Q_ECHO, NULL, 0, &rq));
    ASSERT_ERR(grove_gs_receive_response(&rq, GT_WAIT_MS, &m, &why),
               GROVE_ENOPROC);
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_NO_MSG(50);
}

/* A server that exits before answering: the response is its reason. */
PROC_TEST(request_server_exits_first)
{
    grove_pid_t a = rq_start();
    grove_reason_t boom = grove_reason_error(3, "boom"), why;
    grove_gs_request_t rq;
    grove_msg_t *m = NULL;
    ASSERT_OK(grove_gs_send_request(srv(a), Q_EXIT, &boom, sizeof boom, &rq));
    ASSERT_ERR(grove_gs_wait_response(&rq, GT_WAIT_MS, &m, &why),
               GROVE_EEXITED);
    ASSERT_REASON_EQ(why, boom);
    ASSERT_EQ(rq.ref.id, 0);
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_NO_MSG(50);
}

/* check_response sorts messages received by other means: the reply to
 * its request, the server's DOWN, or nothing to do with it. */
PROC_TEST(request_check_response)
{
    grove_pid_t a = rq_start(), b = rq_start();
    grove_gs_request_t ra, rb;
    grove_reason_t why;
    grove_msg_t *m;
    ASSERT_OK(grove_gs_send_request(srv(a), Q_ECHO, "x", 1, &ra));
    ASSERT_OK(grove_gs_send_request(srv(b), Q_HOLD, NULL, 0, &rb));
    ASSERT_OK(grove_recv(&m, GT_WAIT_MS));
    ASSERT_ERR(grove_gs_check_response(m, &rb, &why), GROVE_ENOTFOUND);
    ASSERT_NE(rb.ref.id, 0);
    ASSERT_OK(grove_gs_check_response(m, &ra, &why));
    ASSERT_EQ(ra.ref.id, 0);
    expect_reply(m, "x");

    ASSERT_OK(grove_exit_signal(b, &(grove_reason_t){.kind = GROVE_EXIT_KILL}));
    ASSERT_OK(grove_recv(&m, GT_WAIT_MS));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
    ASSERT_ERR(grove_gs_check_response(m, &rb, &why), GROVE_EEXITED);
    ASSERT_REASON_KIND(why, GROVE_EXIT_KILLED);
    ASSERT_EQ(rb.ref.id, 0);
    grove_msg_free(m);
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_NO_MSG(50);
    stop_server(a);
}

/* Many requests to one server, collected in whatever order they come:
 * each answered exactly once, with its own reply. */
PROC_TEST(request_many_outstanding)
{
    enum { N = 200 };
    static grove_gs_request_t rqs[N];
    static bool seen[N];
    grove_pid_t a = rq_start();
    for (uint32_t i = 0; i < N; i++)
        ASSERT_OK(grove_gs_send_request(srv(a), Q_ECHO, &i, sizeof i,
                                        &rqs[i]));
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < N; k++) {
        grove_msg_t *m = NULL;
        size_t which = N;
        uint32_t got;
        ASSERT_OK(grove_gs_wait_any(rqs, N, GT_WAIT_MS, &which, &m, NULL));
        ASSERT_LT(which, N);
        ASSERT_TRUE(!seen[which]);
        seen[which] = true;
        ASSERT_EQ(grove_msg_size(m), sizeof got);
        memcpy(&got, grove_msg_data(m), sizeof got);
        ASSERT_EQ(got, which);
        grove_msg_free(m);
    }
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_NO_MSG(50);
    stop_server(a);
}

/* Bad arguments get an error code and leave nothing behind. */
PROC_TEST(request_errors)
{
    grove_pid_t a = rq_start();
    grove_gs_request_t rq = {GROVE_PID_NONE, GROVE_REF_NONE};
    grove_msg_t *m = NULL;
    size_t which;
    ASSERT_ERR(grove_gs_send_request(srv(a), Q_ECHO, NULL, 0, NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_send_request(srv(a), Q_ECHO, NULL, 3, &rq),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_send_request(grove_server_pid(GROVE_PID_NONE),
                                     Q_ECHO, NULL, 0, &rq),
               GROVE_EINVAL);
    ASSERT_ERR(grove_gs_wait_response(NULL, 0, &m, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_wait_response(&rq, 0, &m, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_receive_response(&rq, 0, &m, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_wait_any(NULL, 1, 0, &which, &m, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_wait_any(&rq, 1, 0, NULL, &m, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_gs_wait_any(&rq, 1, 0, &which, &m, NULL),
               GROVE_ENOTFOUND);
    ASSERT_ERR(grove_gs_check_response(NULL, &rq, NULL), GROVE_EINVAL);
    ASSERT_OK(grove_gs_send_request(srv(a), Q_ECHO, NULL, 0, &rq));
    ASSERT_ERR(grove_gs_wait_response(&rq, -5, &m, NULL), GROVE_EINVAL);
    ASSERT_OK(grove_gs_receive_response(&rq, GT_WAIT_MS, NULL, NULL));
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_NO_MSG(50);
    stop_server(a);
}

TEST(request_outside_a_process)
{
    grove_gs_request_t rq = {GROVE_PID_NONE, {1}};
    grove_msg_t *m = NULL;
    size_t which;
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    ASSERT_ERR(grove_gs_send_request(grove_server_name("x"), 1, NULL, 0, &rq),
               GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_wait_response(&rq, 0, &m, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_gs_wait_any(&rq, 1, 0, &which, &m, NULL),
               GROVE_ENOTPROC);
    ASSERT_OK(grove_stop());
}
