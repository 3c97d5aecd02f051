/* Exit signals: OTP-SEMANTICS.md items L-1 and L-3 to L-11, including the
 * full matrix of reason x trapping x delivery path.
 *
 * In the matrix, the test process T traps exits and is linked to and
 * monitors the receiver R (an echo process). R either hears from X, a
 * process linked to R that exits with the reason, or from T through
 * grove_exit_signal(). When R must die, T checks both its DOWN and the
 * EXIT that R's death sends on through its own links (L-4: it "in turn
 * signals its own links"). When R must survive, T pings it and finally
 * stops it, so an R that died late still shows up as a wrong reason. */
#include <pthread.h>
#include <string.h>

#include "grove_test.h"

enum via { VIA_LINK, VIA_SIGNAL };
enum rsn { R_NORMAL, R_SHUTDOWN, R_SHUTDOWN_X, R_KILL, R_ERROR };

static grove_reason_t make_reason(enum rsn r)
{
    switch (r) {
    case R_NORMAL:
        return grove_reason_normal();
    case R_SHUTDOWN:
        return grove_reason_shutdown(NULL);
    case R_SHUTDOWN_X:
        return grove_reason_shutdown("x");
    case R_KILL:
        return grove_reason_of(GROVE_EXIT_KILL);
    case R_ERROR:
        break;
    }
    return grove_reason_error(42, "custom failure");
}

/* Makes R hear reason from X through a link; returns X. */
static grove_pid_t deliver_via_link(grove_pid_t r, grove_reason_t reason)
{
    grove_ref_t xref;
    grove_spawn_opts_t xo = {.monitor = true, .monitor_ref = &xref};
    grove_pid_t x = SPAWN_ECHO(GROVE_PID_NONE, &xo);
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(r, GT_TAG_LINK, &x, sizeof x, &ack));
    ASSERT_OK(ack.rc);
    gt_echo_exit(x, reason);
    /* L-1: X exits with exactly the reason it gave. */
    ASSERT_REASON_EQ(EXPECT_DOWN(xref, x), reason);
    return x;
}

static void matrix_cell(enum via via, bool trap, enum rsn rid)
{
    grove_pid_t self = grove_self();
    grove_reason_t reason = make_reason(rid);
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_ref_t rref;
    grove_spawn_opts_t ro = {.link = true, .monitor = true,
                             .monitor_ref = &rref, .trap_exit = trap};
    grove_pid_t r = SPAWN_ECHO(self, &ro);
    grove_pid_t sender = self;
    if (via == VIA_LINK) {
        sender = deliver_via_link(r, reason);
    } else {
        ASSERT_OK(grove_exit_signal(r, &reason));
    }
    bool untrappable = via == VIA_SIGNAL && rid == R_KILL;
    bool dies = trap ? untrappable : rid != R_NORMAL;
    if (dies) {
        grove_reason_t want =
            untrappable ? grove_reason_of(GROVE_EXIT_KILLED) : reason;
        ASSERT_REASON_EQ(EXPECT_DOWN(rref, r), want);
        ASSERT_REASON_EQ(EXPECT_EXIT(r), want);
    } else {
        if (trap) {
            gt_fwd_t f = EXPECT_FWD(r);
            ASSERT_EQ(f.kind, GROVE_MSG_EXIT);
            ASSERT_PID_EQ(f.from, sender);
            ASSERT_REASON_EQ(f.reason, reason);
        } else if (via == VIA_LINK) {
            /* X's DOWN reached us; give its link signal to R time to
             * land too, as they go to different receivers. */
            grove_sleep(gt_scaled_ms(20));
        }
        ASSERT_TRUE(gt_ping(r));
        ASSERT_OK(grove_send(r, GT_TAG_STOP, NULL, 0));
        ASSERT_REASON_EQ(EXPECT_DOWN(rref, r), grove_reason_normal());
        ASSERT_REASON_EQ(EXPECT_EXIT(r), grove_reason_normal());
    }
    /* Exactly one notification of each kind, nothing more. */
    EXPECT_NO_MSG(20);
}

#define CELL(via_name, via, trap_name, trap, rsn_name, rsn)                  \
    PROC_TEST(exit_matrix_##via_name##_##trap_name##_##rsn_name)             \
    {                                                                        \
        matrix_cell(via, trap, rsn);                                         \
    }

CELL(link, VIA_LINK, notrap, false, normal, R_NORMAL)
CELL(link, VIA_LINK, notrap, false, shutdown, R_SHUTDOWN)
CELL(link, VIA_LINK, notrap, false, shutdown_x, R_SHUTDOWN_X)
CELL(link, VIA_LINK, notrap, false, kill, R_KILL)
CELL(link, VIA_LINK, notrap, false, error, R_ERROR)
CELL(link, VIA_LINK, trap, true, normal, R_NORMAL)
CELL(link, VIA_LINK, trap, true, shutdown, R_SHUTDOWN)
CELL(link, VIA_LINK, trap, true, shutdown_x, R_SHUTDOWN_X)
CELL(link, VIA_LINK, trap, true, kill, R_KILL)
CELL(link, VIA_LINK, trap, true, error, R_ERROR)
CELL(signal, VIA_SIGNAL, notrap, false, normal, R_NORMAL)
CELL(signal, VIA_SIGNAL, notrap, false, shutdown, R_SHUTDOWN)
CELL(signal, VIA_SIGNAL, notrap, false, shutdown_x, R_SHUTDOWN_X)
CELL(signal, VIA_SIGNAL, notrap, false, kill, R_KILL)
CELL(signal, VIA_SIGNAL, notrap, false, error, R_ERROR)
CELL(signal, VIA_SIGNAL, trap, true, normal, R_NORMAL)
CELL(signal, VIA_SIGNAL, trap, true, shutdown, R_SHUTDOWN)
CELL(signal, VIA_SIGNAL, trap, true, shutdown_x, R_SHUTDOWN_X)
CELL(signal, VIA_SIGNAL, trap, true, kill, R_KILL)
CELL(signal, VIA_SIGNAL, trap, true, error, R_ERROR)

/* L-1: returning from the entry function is reason normal. */
static void just_return(void *arg) { (void)arg; }

PROC_TEST(L01_return_is_normal)
{
    grove_pid_t p = SPAWN_MON(just_return, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

/* When the DOWN or the EXIT of a process arrives, it is dead: not alive,
 * sends to it fail with GROVE_ENOPROC, process_info finds nothing. */
static void check_gone(grove_pid_t p)
{
    ASSERT_FALSE(grove_is_alive(p));
    ASSERT_ERR(grove_send(p, 1, NULL, 0), GROVE_ENOPROC);
    grove_process_info_t info;
    ASSERT_ERR(grove_process_info(p, &info), GROVE_ENOPROC);
}

PROC_TEST(exit_complete_when_down_arrives)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    for (int i = 0; i < 2000; i++) {
        grove_pid_t p = SPAWN_MON(just_return, NULL, NULL);
        ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
        check_gone(p);
        grove_spawn_opts_t o = {.link = true};
        p = SPAWN(just_return, NULL, &o);
        ASSERT_REASON_EQ(EXPECT_EXIT(p), grove_reason_normal());
        check_gone(p);
    }
}

/* L-1: grove_exit(R) terminates with exactly R. */
static void exit_with(void *arg)
{
    const grove_reason_t *r = arg;
    grove_exit(r);
}

static void exit_null(void *arg)
{
    (void)arg;
    grove_exit(NULL);
}

static void exit_error_fmt(void *arg)
{
    (void)arg;
    grove_exit_error(7, "bad %d of %s", 3, "x");
}

PROC_TEST(L01_exit_reason_is_exact)
{
    static grove_reason_t reasons[6];
    reasons[0] = grove_reason_error(42, "text");
    reasons[1] = grove_reason_shutdown("detail");
    reasons[2] = grove_reason_shutdown(NULL);
    reasons[3] = grove_reason_of(GROVE_EXIT_TIMEOUT);
    reasons[4] = grove_reason_of(GROVE_EXIT_KILL);
    reasons[5] = grove_reason_error(-1, "%s", "");
    for (int i = 0; i < 6; i++) {
        grove_pid_t p = SPAWN_MON(exit_with, &reasons[i], NULL);
        ASSERT_REASON_EQ(AWAIT_EXIT(p), reasons[i]);
    }
    grove_pid_t p = SPAWN_MON(exit_null, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    p = SPAWN_MON(exit_error_fmt, NULL, NULL);
    grove_reason_t r = AWAIT_EXIT(p);
    ASSERT_REASON_KIND(r, GROVE_EXIT_ERROR);
    ASSERT_EQ(r.code, 7);
    ASSERT_STREQ(r.text, "bad 3 of x");
}

/* L-3: a normal exit through a link does not stop a non-trapping
 * process, even when it is the only link it has; in turn it exits
 * normally only when told to. */
static void link_then_return(void *arg)
{
    grove_pid_t *peer = arg;
    if (grove_link(*peer) != 0)
        grove_exit_error(1, "link failed");
}

PROC_TEST(L03_normal_link_exit_is_dropped)
{
    grove_ref_t rref;
    grove_spawn_opts_t ro = {.monitor = true, .monitor_ref = &rref};
    static grove_pid_t r;
    r = SPAWN_ECHO(GROVE_PID_NONE, &ro);
    for (int i = 0; i < 20; i++) {
        grove_pid_t x = SPAWN_MON(link_then_return, &r, NULL);
        ASSERT_REASON_EQ(AWAIT_EXIT(x), grove_reason_normal());
    }
    grove_sleep(gt_scaled_ms(20));
    ASSERT_TRUE(gt_ping(r));
    ASSERT_OK(grove_send(r, GT_TAG_STOP, NULL, 0));
    ASSERT_REASON_EQ(EXPECT_DOWN(rref, r), grove_reason_normal());
}

/* L-5: the EXIT message goes to the end of the mailbox, behind messages
 * that were already there. */
static void wait_go_then_return(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

PROC_TEST(L05_exit_message_appended_at_end)
{
    grove_pid_t self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);
    ASSERT_OK(grove_send(self, 1, "a", 1));
    grove_ref_t xref;
    grove_spawn_opts_t xo = {.link = true, .monitor = true,
                             .monitor_ref = &xref};
    grove_pid_t x = SPAWN(wait_go_then_return, NULL, &xo);
    ASSERT_OK(grove_send(self, 2, "b", 1));
    ASSERT_OK(grove_send(x, 9, NULL, 0));
    ASSERT_REASON_EQ(EXPECT_DOWN(xref, x), grove_reason_normal());
    grove_sleep(gt_scaled_ms(20));
    ASSERT_OK(grove_send(self, 3, "c", 1));
    grove_msg_t *m;
    for (uint64_t tag = 1; tag <= 2; tag++) {
        ASSERT_OK(grove_recv(&m, 0));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_USER);
        ASSERT_EQ(grove_msg_tag(m), tag);
        grove_msg_free(m);
    }
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_EXIT);
    ASSERT_PID_EQ(grove_msg_from(m), x);
    ASSERT_REASON_EQ(*grove_msg_reason(m), grove_reason_normal());
    grove_msg_free(m);
    ASSERT_OK(grove_recv(&m, 0));
    ASSERT_EQ(grove_msg_tag(m), 3);
    grove_msg_free(m);
    EXPECT_NO_MSG(0);
}

/* L-6: after an untrappable kill, links and monitors see killed, and a
 * non-trapping process linked to the victim dies with killed in turn. */
PROC_TEST(L06_kill_reaches_links_as_killed)
{
    grove_pid_t self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_ref_t rref, qref;
    grove_spawn_opts_t ro = {.link = true, .monitor = true,
                             .monitor_ref = &rref, .trap_exit = true};
    grove_pid_t r = SPAWN_ECHO(self, &ro);
    grove_spawn_opts_t qo = {.monitor = true, .monitor_ref = &qref};
    grove_pid_t q = SPAWN_ECHO(GROVE_PID_NONE, &qo);
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(r, GT_TAG_LINK, &q, sizeof q, &ack));
    ASSERT_OK(ack.rc);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(r, &kill));
    grove_reason_t killed = grove_reason_of(GROVE_EXIT_KILLED);
    ASSERT_REASON_EQ(EXPECT_DOWN(rref, r), killed);
    ASSERT_REASON_EQ(EXPECT_EXIT(r), killed);
    ASSERT_REASON_EQ(EXPECT_DOWN(qref, q), killed);
}

/* L-8: an exit signal with reason normal sent to oneself kills a
 * non-trapping process with reason normal. */
static void signal_self_then_survive(void *arg)
{
    const grove_reason_t *r = arg;
    grove_pid_t self = grove_self();
    if (grove_exit_signal(self, r) != 0)
        grove_exit_error(2, "grove_exit_signal failed");
    /* The signal takes effect no later than the next point where signals
     * are acted on. */
    grove_yield();
    grove_msg_t *m;
    if (grove_recv(&m, 50) == 0)
        grove_msg_free(m);
    grove_exit_error(99, "survived its own exit signal");
}

PROC_TEST(L08_signal_self_normal_kills_non_trapping)
{
    static grove_reason_t normal;
    normal = grove_reason_normal();
    grove_pid_t p = SPAWN_MON(signal_self_then_survive, &normal, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

PROC_TEST(L08_signal_self_shutdown_kills_non_trapping)
{
    static grove_reason_t sd;
    sd = grove_reason_shutdown("self");
    grove_pid_t p = SPAWN_MON(signal_self_then_survive, &sd, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), sd);
}

PROC_TEST(L08_signal_self_kill_is_untrappable)
{
    static grove_reason_t kill;
    kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_spawn_opts_t o = {.trap_exit = true};
    grove_pid_t p = SPAWN_MON(signal_self_then_survive, &kill, &o);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_of(GROVE_EXIT_KILLED));
}

/* L-8: a trapping process that signals itself normal gets EXIT(Self,
 * normal) as a message and keeps running. */
PROC_TEST(L08_signal_self_normal_trapping_gets_message)
{
    grove_pid_t self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_reason_t normal = grove_reason_normal();
    ASSERT_OK(grove_exit_signal(self, &normal));
    grove_yield();
    ASSERT_REASON_EQ(EXPECT_EXIT(self), normal);
    EXPECT_NO_MSG(10);
}

/* L-9: the signalling process is not affected, whatever the reason. */
PROC_TEST(L09_signal_sender_is_unaffected)
{
    grove_reason_t reasons[3] = {grove_reason_shutdown(NULL),
                                 grove_reason_error(5, "e"),
                                 grove_reason_of(GROVE_EXIT_KILL)};
    grove_reason_t want[3] = {reasons[0], reasons[1],
                              grove_reason_of(GROVE_EXIT_KILLED)};
    for (int i = 0; i < 3; i++) {
        grove_ref_t ref;
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
        grove_pid_t r = SPAWN_ECHO(GROVE_PID_NONE, &o);
        ASSERT_OK(grove_exit_signal(r, &reasons[i]));
        ASSERT_REASON_EQ(EXPECT_DOWN(ref, r), want[i]);
        ASSERT_TRUE(grove_is_alive(grove_self()));
    }
    EXPECT_NO_MSG(10);
}

/* L-9: a signal from a thread outside any process names no sender. */
typedef struct thread_signal {
    grove_pid_t to;
    grove_reason_t reason;
    int rc;
} thread_signal_t;

static void *signal_from_thread(void *arg)
{
    thread_signal_t *ts = arg;
    ts->rc = grove_exit_signal(ts->to, &ts->reason);
    return NULL;
}

PROC_TEST(L09_signal_from_thread_has_no_sender)
{
    grove_spawn_opts_t o = {.trap_exit = true};
    grove_pid_t r = SPAWN_ECHO(grove_self(), &o);
    thread_signal_t ts = {r, grove_reason_shutdown("thread"), -100};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, signal_from_thread, &ts), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_OK(ts.rc);
    gt_fwd_t f = EXPECT_FWD(r);
    ASSERT_EQ(f.kind, GROVE_MSG_EXIT);
    ASSERT_PID_EQ(f.from, GROVE_PID_NONE);
    ASSERT_REASON_EQ(f.reason, ts.reason);
    STOP_ECHO(r);
}

/* L-10: the messages a process sends before it exits arrive before the
 * EXIT and the DOWN its exit causes. */
enum { SEQ_TAG = 100, SEQ_COUNT = 50 };

static void send_seq_then_exit(void *arg)
{
    grove_pid_t *to = arg;
    for (uint32_t i = 0; i < SEQ_COUNT; i++)
        if (grove_send(*to, SEQ_TAG, &i, sizeof i) != 0)
            grove_exit_error(1, "send failed");
    grove_exit_error(77, "done");
}

static void expect_seq(grove_pid_t from)
{
    for (uint32_t i = 0; i < SEQ_COUNT; i++) {
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS)));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_USER);
        ASSERT_PID_EQ(grove_msg_from(m), from);
        uint32_t v;
        memcpy(&v, grove_msg_data(m), sizeof v);
        ASSERT_EQ(v, i);
        grove_msg_free(m);
    }
}

PROC_TEST(L10_messages_arrive_before_exit)
{
    static grove_pid_t self;
    self = grove_self();
    ASSERT_EQ(grove_trap_exit(true), 0);
    for (int round = 0; round < 200; round++) {
        grove_spawn_opts_t o = {.link = true};
        grove_pid_t x = SPAWN(send_seq_then_exit, &self, &o);
        expect_seq(x);
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS)));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_EXIT);
        ASSERT_PID_EQ(grove_msg_from(m), x);
        ASSERT_EQ(grove_msg_reason(m)->code, 77);
        grove_msg_free(m);
    }
}

PROC_TEST(L10_messages_arrive_before_down)
{
    static grove_pid_t self;
    self = grove_self();
    for (int round = 0; round < 200; round++) {
        grove_ref_t ref;
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
        grove_pid_t x = SPAWN(send_seq_then_exit, &self, &o);
        expect_seq(x);
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS)));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
        ASSERT_REF_EQ(grove_msg_ref(m), ref);
        ASSERT_EQ(grove_msg_reason(m)->code, 77);
        grove_msg_free(m);
    }
}

/* L-10: messages and exit signals from one sender keep their order. */
PROC_TEST(L10_signals_and_messages_keep_sender_order)
{
    grove_spawn_opts_t o = {.trap_exit = true};
    grove_pid_t r = SPAWN_ECHO(grove_self(), &o);
    grove_reason_t sd = grove_reason_shutdown("mid");
    for (int round = 0; round < 50; round++) {
        ASSERT_OK(grove_send(r, 501, NULL, 0));
        ASSERT_OK(grove_exit_signal(r, &sd));
        ASSERT_OK(grove_send(r, 502, NULL, 0));
        gt_fwd_t f = EXPECT_FWD(r);
        ASSERT_EQ(f.kind, GROVE_MSG_USER);
        ASSERT_EQ(f.tag, 501);
        f = EXPECT_FWD(r);
        ASSERT_EQ(f.kind, GROVE_MSG_EXIT);
        ASSERT_REASON_EQ(f.reason, sd);
        f = EXPECT_FWD(r);
        ASSERT_EQ(f.kind, GROVE_MSG_USER);
        ASSERT_EQ(f.tag, 502);
    }
    STOP_ECHO(r);
}

/* L-11: trap_exit defaults to off and reports the previous value. */
static void report_trap_flag(void *arg)
{
    grove_pid_t *to = arg;
    int first = grove_trap_exit(true);
    int second = grove_trap_exit(false);
    int third = grove_trap_exit(false);
    int v[3] = {first, second, third};
    grove_send(*to, 1, v, sizeof v);
}

PROC_TEST(L11_trap_exit_defaults_off)
{
    static grove_pid_t self;
    self = grove_self();
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(self, &info));
    ASSERT_FALSE(info.trap_exit);
    ASSERT_EQ(grove_trap_exit(true), 0);
    ASSERT_OK(grove_process_info(self, &info));
    ASSERT_TRUE(info.trap_exit);
    ASSERT_EQ(grove_trap_exit(true), 1);
    ASSERT_EQ(grove_trap_exit(false), 1);
    ASSERT_EQ(grove_trap_exit(false), 0);

    for (int opt = 0; opt < 2; opt++) {
        grove_spawn_opts_t o = {.trap_exit = opt == 1};
        grove_pid_t p = SPAWN_MON(report_trap_flag, &self, &o);
        grove_msg_t *m = EXPECT_TAG(1);
        int v[3];
        memcpy(v, grove_msg_data(m), sizeof v);
        grove_msg_free(m);
        ASSERT_EQ(v[0], opt);
        ASSERT_EQ(v[1], 1);
        ASSERT_EQ(v[2], 0);
        ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    }
}

/* L-11: the flag governs the signals that arrive after it changes. */
PROC_TEST(L11_trap_flag_governs_later_signals)
{
    grove_ref_t ref;
    grove_spawn_opts_t o = {.trap_exit = true, .monitor = true,
                            .monitor_ref = &ref};
    grove_pid_t r = SPAWN_ECHO(grove_self(), &o);
    grove_reason_t sd = grove_reason_shutdown(NULL);
    ASSERT_OK(grove_exit_signal(r, &sd));
    gt_fwd_t f = EXPECT_FWD(r);
    ASSERT_EQ(f.kind, GROVE_MSG_EXIT);
    bool off = false;
    gt_ack_t ack;
    ASSERT_TRUE(gt_echo_call(r, GT_TAG_TRAP, &off, sizeof off, &ack));
    ASSERT_EQ(ack.rc, 1);
    ASSERT_OK(grove_exit_signal(r, &sd));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, r), sd);
}
