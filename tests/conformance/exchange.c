/* Two processes that keep waking each other switch straight from one to
 * the other, past the scheduler's loop (the hand-off). The loop's own work
 * must still get its turn: timers fire, and the processes queued behind
 * the pair run. One scheduler, so nothing else could do that work. */
#include <stdatomic.h>
#include <string.h>

#include "grove_test.h"

enum { TAG_PING = 1, TAG_STOP = 2 };

static atomic_bool pair_stop;
static atomic_long pair_rounds;

/* Answers each message with one of its own, until TAG_STOP. */
static void pong(void *arg)
{
    (void)arg;
    for (;;) {
        grove_msg_t *m;
        if (grove_recv(&m, GROVE_INFINITY) != 0)
            return;
        uint64_t tag = grove_msg_tag(m);
        grove_pid_t from = grove_msg_from(m);
        grove_msg_free(m);
        if (tag == TAG_STOP)
            return;
        grove_send(from, TAG_PING, NULL, 0);
    }
}

/* Exchanges messages with its pong until pair_stop. */
static void ping(void *arg)
{
    grove_pid_t peer = *(grove_pid_t *)arg;
    while (!atomic_load(&pair_stop)) {
        if (grove_send(peer, TAG_PING, NULL, 0) != 0)
            return;
        grove_msg_t *m;
        if (grove_recv(&m, GROVE_INFINITY) != 0)
            return;
        grove_msg_free(m);
        atomic_fetch_add(&pair_rounds, 1);
    }
    grove_send(peer, TAG_STOP, NULL, 0);
}

typedef struct pair {
    grove_pid_t ping, pong;
} pair_t;

static pair_t pair_start(grove_pid_t *peer)
{
    atomic_store(&pair_stop, false);
    atomic_store(&pair_rounds, 0);
    pair_t pr;
    pr.pong = SPAWN_MON(pong, NULL, NULL);
    *peer = pr.pong;
    pr.ping = SPAWN_MON(ping, peer, NULL);
    return pr;
}

static void pair_end(pair_t pr)
{
    atomic_store(&pair_stop, true);
    ASSERT_REASON_EQ(AWAIT_EXIT(pr.ping), grove_reason_normal());
    ASSERT_REASON_EQ(AWAIT_EXIT(pr.pong), grove_reason_normal());
}

/* Only the timers wake the sleeping test process, and nothing but the
 * pair is runnable: the pair's hand-offs must leave the loop its turn to
 * run them. */
PROC_TEST_OPTS(exchange_pair_lets_timers_fire, .schedulers = 1)
{
#if defined(GROVE_DETERMINISTIC)
    /* The logical clock moves only when nothing is runnable. */
    SKIP_TEST("needs the real clock");
#endif
    static grove_pid_t peer;
    pair_t pr = pair_start(&peer);
    for (int i = 0; i < 10; i++) {
        long before = atomic_load(&pair_rounds);
        ASSERT_OK(grove_sleep(2));
        if (i > 0) /* the pair ran while the test slept */
            ASSERT_GT(atomic_load(&pair_rounds), before);
    }
    pair_end(pr);
}

static atomic_int yields_done;

static void yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        grove_yield();
        atomic_fetch_add(&yields_done, 1);
    }
}

/* A process that yields waits at the tail of the queue, behind the pair
 * that keeps handing the scheduler to itself: it must still run. */
PROC_TEST_OPTS(exchange_pair_lets_queue_run, .schedulers = 1)
{
    static grove_pid_t peer;
    atomic_store(&yields_done, 0);
    pair_t pr = pair_start(&peer);
    grove_pid_t y = SPAWN_MON(yielder, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(y), grove_reason_normal());
    ASSERT_EQ(atomic_load(&yields_done), 2000);
    ASSERT_GT(atomic_load(&pair_rounds), 0);
    pair_end(pr);
}

static grove_gs_ret_t echo_call(grove_gs_t *gs, const grove_msg_t *req,
                                grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    uint64_t n;
    memcpy(&n, grove_msg_data(req), sizeof n);
    n++;
    return GROVE_GS_REPLY(1, &n, sizeof n);
}

static const grove_gs_callbacks_t echo_cb = {.handle_call = echo_call};

/* A gen_server waits without a stack between messages; a caller that
 * hands its scheduler to it gives it one for the call and takes it back
 * after. Many calls in a row, on one scheduler, each answered right. */
PROC_TEST_OPTS(exchange_calls_to_stackless_server, .schedulers = 1)
{
    grove_pid_t srv;
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(&echo_cb, NULL, NULL, &srv, &why));
    for (uint64_t i = 0; i < 5000; i++) {
        grove_msg_t *reply;
        ASSERT_OK(grove_gs_call(grove_server_pid(srv), 1, &i, sizeof i,
                                &reply, gt_scaled_ms(5000)));
        uint64_t n;
        memcpy(&n, grove_msg_data(reply), sizeof n);
        grove_msg_free(reply);
        ASSERT_EQ(n, i + 1);
    }
    ASSERT_OK(grove_gs_stop(grove_server_pid(srv), NULL, gt_scaled_ms(5000),
                            &why));
}
