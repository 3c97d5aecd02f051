/* gen_server:enter_loop: a process that set itself up turns into a
 * gen_server without a start or an init. Its state, first action
 * (continue, timeout), name, parent and terminate behave as if it had
 * been started; bad arguments return an error and leave the process as
 * it was. */
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "behaviours.h"

enum { E_GET = 0x6101, E_STOP, E_CONT_SEEN };

typedef struct el_state {
    int value;
    bool continued;
} el_state_t;

static grove_gs_ret_t el_call(grove_gs_t *gs, const grove_msg_t *req,
                              grove_gs_from_t from)
{
    (void)from;
    el_state_t *st = grove_gs_state(gs);
    if (grove_msg_tag(req) == E_STOP)
        return GROVE_GS_STOP_REPLY(grove_reason_shutdown("asked"), E_STOP,
                                   NULL, 0);
    if (grove_msg_tag(req) == E_CONT_SEEN) {
        int seen = st->continued;
        return GROVE_GS_REPLY(E_CONT_SEEN, &seen, sizeof seen);
    }
    st->value++;
    return GROVE_GS_REPLY(E_GET, &st->value, sizeof st->value);
}

static grove_gs_ret_t el_continue(grove_gs_t *gs, void *cont)
{
    el_state_t *st = grove_gs_state(gs);
    gt_ev("continue:%d", *(int *)cont);
    st->continued = true;
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t el_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    if (grove_msg_tag(m) == GROVE_GS_TIMEOUT_TAG)
        gt_ev("timeout");
    else
        gt_ev("info:%" PRIu64, grove_msg_tag(m));
    return GROVE_GS_NOREPLY();
}

static void el_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)gs;
    char text[96];
    grove_reason_format(r, text, sizeof text);
    gt_ev("terminate:%s", text);
}

static const grove_gs_callbacks_t el_cb = {
    .name = "entered",
    .handle_call = el_call,
    .handle_continue = el_continue,
    .handle_info = el_info,
    .terminate = el_terminate,
};

/* The process: sets up its state and name itself, tells the test it is
 * about to enter, then enters with a continue. */
static void entering(void *arg)
{
    static int cont = 7;
    grove_pid_t test = *(grove_pid_t *)arg;
    el_state_t *st = grove_calloc(1, sizeof *st);
    st->value = 100;
    st->continued = false;
    if (grove_register("entered", grove_self()) != 0)
        grove_exit_error(1, "register");
    grove_send(test, 1, NULL, 0);
    grove_gs_opts_t o = {.name = "entered"};
    int rc = grove_gs_enter_loop(
        &el_cb, st, &o, grove_gs_with_continue(GROVE_GS_INIT_OK(), &cont));
    grove_exit_error(rc, "enter_loop returned");
}

static int call_int(grove_server_t srv, uint64_t tag)
{
    grove_msg_t *r;
    int v = -1;
    ASSERT_OK(grove_gs_call(srv, tag, NULL, 0, &r, GT_WAIT_MS));
    memcpy(&v, grove_msg_data(r), sizeof v);
    grove_msg_free(r);
    return v;
}

PROC_TEST(gen_server_enter_loop_runs_a_server)
{
    static grove_pid_t self;
    self = grove_self();
    grove_pid_t p = SPAWN_MON(entering, &self, NULL);
    grove_msg_free(EXPECT_TAG(1));
    grove_server_t srv = grove_server_name("entered");
    /* The continue ran before any message. */
    ASSERT_EQ(call_int(srv, E_CONT_SEEN), 1);
    ASSERT_EQ(call_int(srv, E_GET), 101);
    ASSERT_EQ(call_int(grove_server_pid(p), E_GET), 102);
    ASSERT_OK(grove_send(p, 42, NULL, 0));
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(p, &info));
    ASSERT_STREQ(info.behaviour, "entered");
    ASSERT_PID_EQ(info.parent, self);
    /* A stop result ends it, terminate first. */
    grove_msg_t *r;
    ASSERT_OK(grove_gs_call(srv, E_STOP, NULL, 0, &r, GT_WAIT_MS));
    grove_msg_free(r);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_shutdown("asked"));
    ASSERT_EVENTS("continue:7", "info:42",
                  "terminate:{shutdown,asked}");
    grove_pid_t none;
    ASSERT_ERR(grove_whereis("entered", &none), GROVE_ENOTFOUND);
}

/* A timeout as the first action: a timeout message if nothing comes. */
static void entering_timeout(void *arg)
{
    el_state_t *st = arg;
    grove_gs_enter_loop(&el_cb, st, NULL,
                        grove_gs_with_timeout(GROVE_GS_INIT_OK(), 20));
    grove_exit_error(1, "enter_loop returned");
}

PROC_TEST(gen_server_enter_loop_first_timeout)
{
    static el_state_t st;
    grove_pid_t p = SPAWN_MON(entering_timeout, &st, NULL);
    WAIT_UNTIL(gt_ev_count() == 1);
    ASSERT_OK(grove_gs_stop(grove_server_pid(p), NULL, GT_WAIT_MS, NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    ASSERT_EVENTS("timeout", "terminate:normal");
}

/* Under a supervisor: a plain child that traps exits and enters the loop
 * has the supervisor as its parent, so the supervisor's shutdown runs
 * terminate with reason shutdown, as for a started server. */
static void trapping_entry(void *arg)
{
    grove_trap_exit(true);
    grove_gs_enter_loop(&el_cb, arg, NULL, GROVE_GS_INIT_OK());
    grove_exit_error(1, "enter_loop returned");
}

static int trapping_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)why;
    grove_spawn_opts_t o = {.link = true};
    return grove_spawn(trapping_entry, arg, &o, pid);
}

PROC_TEST(gen_server_enter_loop_under_a_supervisor)
{
    static el_state_t st;
    grove_child_spec_t child = {.id = "entered", .start = trapping_start,
                                .arg = &st};
    grove_sup_spec_t spec = {.flags = {.strategy = GROVE_ONE_FOR_ONE},
                             .children = &child, .nchildren = 1};
    grove_pid_t sup = SUP_START(&spec);
    grove_pid_t c = gt_sup_child_pid(sup, "entered");
    WATCH(c);
    ASSERT_EQ(call_int(grove_server_pid(c), E_GET), 1);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(c, &info));
    ASSERT_PID_EQ(info.parent, sup);
    SUP_SHUTDOWN(sup);
    ASSERT_REASON_EQ(AWAIT_EXIT(c), grove_reason_shutdown(NULL));
    ASSERT_EVENTS("terminate:shutdown");
}

/* Bad arguments: an error code, and the caller is still a plain process
 * that can go on (here it reports each code, then exits normal). */
static grove_gs_ret_t nop_call(grove_gs_t *gs, const grove_msg_t *req,
                               grove_gs_from_t from)
{
    (void)gs;
    (void)req;
    (void)from;
    /* From inside a server: it already runs a behaviour. */
    int rc = grove_gs_enter_loop(&el_cb, NULL, NULL, GROVE_GS_INIT_OK());
    return GROVE_GS_REPLY(0, &rc, sizeof rc);
}

static const grove_gs_callbacks_t nop_cb = {.handle_call = nop_call};

static void bad_entry(void *arg)
{
    (void)arg;
    grove_gs_opts_t named = {.name = "not_mine"};
    grove_gs_opts_t linked = {.link = true};
    grove_gs_opts_t timed = {.timeout = 10};
    gt_ev("null_cb:%d", grove_gs_enter_loop(NULL, NULL, NULL,
                                            GROVE_GS_INIT_OK()));
    gt_ev("ignore:%d", grove_gs_enter_loop(&el_cb, NULL, NULL,
                                           GROVE_GS_INIT_IGNORE()));
    gt_ev("name:%d",
          grove_gs_enter_loop(&el_cb, NULL, &named, GROVE_GS_INIT_OK()));
    gt_ev("link:%d",
          grove_gs_enter_loop(&el_cb, NULL, &linked, GROVE_GS_INIT_OK()));
    gt_ev("timeout:%d",
          grove_gs_enter_loop(&el_cb, NULL, &timed, GROVE_GS_INIT_OK()));
}

static void *thread_enter(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)grove_gs_enter_loop(&el_cb, NULL, NULL,
                                                 GROVE_GS_INIT_OK());
}

PROC_TEST(gen_server_enter_loop_bad_arguments)
{
    grove_pid_t p = SPAWN_MON(bad_entry, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    char want[5][32];
    snprintf(want[0], 32, "null_cb:%d", GROVE_EINVAL);
    snprintf(want[1], 32, "ignore:%d", GROVE_EINVAL);
    snprintf(want[2], 32, "name:%d", GROVE_ENOTFOUND);
    snprintf(want[3], 32, "link:%d", GROVE_EINVAL);
    snprintf(want[4], 32, "timeout:%d", GROVE_EINVAL);
    ASSERT_EVENTS(want[0], want[1], want[2], want[3], want[4]);

    /* From a server's callback. */
    grove_pid_t srv;
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(&nop_cb, NULL, NULL, &srv, &why));
    ASSERT_EQ(call_int(grove_server_pid(srv), 0), GROVE_EBUSY);
    ASSERT_OK(grove_gs_stop(grove_server_pid(srv), NULL, GT_WAIT_MS, NULL));

    /* From a thread that is not a process. */
    pthread_t t;
    void *rc;
    ASSERT_EQ(pthread_create(&t, NULL, thread_enter, NULL), 0);
    ASSERT_EQ(pthread_join(t, &rc), 0);
    ASSERT_EQ((intptr_t)rc, GROVE_ENOTPROC);
}
