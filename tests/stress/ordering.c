/* Message order per sender under concurrent senders on every scheduler:
 * N senders each send M numbered messages to one receiver, which checks
 * that each sender's numbers arrive complete and in order, and that a
 * sender's EXIT comes after all its messages. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "grove_test.h"

#if defined(GROVE_TSAN) || defined(GROVE_ASAN)
enum { PER_SENDER = 2000 };
#else
enum { PER_SENDER = 20000 };
#endif
enum { SENDERS = 8, SEQ_TAG = 11 };

typedef struct seq_msg {
    uint32_t sender;
    uint32_t seq;
} seq_msg_t;

typedef struct sender_arg {
    grove_pid_t to;
    uint32_t idx;
    uint32_t count;
} sender_arg_t;

static void free_owned(void *p) { free(p); }

/* Uses every kind of send, so order holds across them too. */
static int send_one(grove_pid_t to, seq_msg_t v)
{
    switch (v.seq % 3) {
    case 0:
        return grove_send(to, SEQ_TAG, &v, sizeof v);
    case 1:
        return grove_send_ref(to, SEQ_TAG, grove_make_ref(), &v, sizeof v);
    default: {
        seq_msg_t *p = malloc(sizeof *p);
        if (!p)
            return GROVE_ENOMEM;
        *p = v;
        return grove_send_owned(to, SEQ_TAG, p, sizeof *p, free_owned);
    }
    }
}

static void process_sender(void *arg)
{
    const sender_arg_t *a = arg;
    for (uint32_t i = 0; i < a->count; i++) {
        seq_msg_t v = {a->idx, i};
        int rc = send_one(a->to, v);
        if (rc != 0)
            grove_exit_error(rc, "send failed");
        if (i % 64 == 0)
            grove_yield();
    }
}

/* Receives everything; exits_expected EXIT messages end the loop. */
static void receive_all(int senders, bool expect_exits,
                        const grove_pid_t *pids)
{
    uint32_t next[SENDERS] = {0};
    int exits = 0;
    long total = 0;
    while (total < (long)senders * PER_SENDER ||
           (expect_exits && exits < senders)) {
        grove_msg_t *m;
        ASSERT_OK(grove_recv(&m, gt_scaled_ms(GT_WAIT_MS * 2)));
        if (grove_msg_kind(m) == GROVE_MSG_EXIT) {
            ASSERT_TRUE(expect_exits);
            int idx = -1;
            for (int i = 0; i < senders; i++)
                if (grove_pid_equal(pids[i], grove_msg_from(m)))
                    idx = i;
            ASSERT_GE(idx, 0);
            /* The EXIT comes after every message of that sender. */
            ASSERT_EQ(next[idx], PER_SENDER);
            ASSERT_REASON_EQ(*grove_msg_reason(m), grove_reason_normal());
            exits++;
        } else {
            ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_USER);
            ASSERT_EQ(grove_msg_tag(m), SEQ_TAG);
            ASSERT_EQ(grove_msg_size(m), sizeof(seq_msg_t));
            seq_msg_t v;
            memcpy(&v, grove_msg_data(m), sizeof v);
            ASSERT_LT(v.sender, (uint32_t)senders);
            if (v.seq != next[v.sender])
                GT_FAIL("sender %u: got message %u, expected %u", v.sender,
                        v.seq, next[v.sender]);
            if (pids)
                ASSERT_PID_EQ(grove_msg_from(m), pids[v.sender]);
            next[v.sender]++;
            total++;
        }
        grove_msg_free(m);
    }
    for (int i = 0; i < senders; i++)
        ASSERT_EQ(next[i], PER_SENDER);
    EXPECT_NO_MSG(10);
}

PROC_TEST_OPTS(order_per_sender_processes, .schedulers = 4,
               .timeout_s = 120)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    static sender_arg_t args[SENDERS];
    grove_pid_t pids[SENDERS];
    grove_spawn_opts_t o = {.link = true};
    for (uint32_t i = 0; i < SENDERS; i++) {
        args[i].to = grove_self();
        args[i].idx = i;
        args[i].count = PER_SENDER;
        pids[i] = SPAWN(process_sender, &args[i], &o);
    }
    receive_all(SENDERS, true, pids);
}

/* Threads outside any process are senders too: each one's messages keep
 * their order. */
static void *thread_sender(void *arg)
{
    const sender_arg_t *a = arg;
    for (uint32_t i = 0; i < a->count; i++) {
        seq_msg_t v = {a->idx, i};
        if (send_one(a->to, v) != 0)
            GT_FAIL("thread send failed");
    }
    return NULL;
}

PROC_TEST_OPTS(order_per_sender_threads, .schedulers = 2, .timeout_s = 120)
{
    enum { THREADS = 4 };
    static sender_arg_t args[THREADS];
    pthread_t th[THREADS];
    for (uint32_t i = 0; i < THREADS; i++) {
        args[i].to = grove_self();
        args[i].idx = i;
        args[i].count = PER_SENDER;
        ASSERT_EQ(pthread_create(&th[i], NULL, thread_sender, &args[i]), 0);
    }
    receive_all(THREADS, false, NULL);
    for (int i = 0; i < THREADS; i++)
        ASSERT_EQ(pthread_join(th[i], NULL), 0);
}

/* A receiver that selects by sender (predicate) while the others keep
 * sending still sees each sender's messages in order. Fewer messages:
 * each selective receive may scan the whole queue. */
static bool from_sender(const grove_msg_t *m, void *arg)
{
    uint32_t want = *(const uint32_t *)arg;
    if (grove_msg_kind(m) != GROVE_MSG_USER ||
        grove_msg_size(m) != sizeof(seq_msg_t))
        return false;
    seq_msg_t v;
    memcpy(&v, grove_msg_data(m), sizeof v);
    return v.sender == want;
}

PROC_TEST_OPTS(order_per_sender_selective, .schedulers = 4,
               .timeout_s = 120)
{
    enum { N = 4, COUNT = PER_SENDER / 10 };
    static sender_arg_t args[N];
    for (uint32_t i = 0; i < N; i++) {
        args[i].to = grove_self();
        args[i].idx = i;
        args[i].count = COUNT;
        SPAWN(process_sender, &args[i], NULL);
    }
    /* Drain one sender at a time, newest sender first. */
    for (int s = N - 1; s >= 0; s--) {
        uint32_t want = (uint32_t)s;
        for (uint32_t i = 0; i < COUNT; i++) {
            grove_msg_t *m;
            ASSERT_OK(grove_recv_match(&m, from_sender, &want,
                                       gt_scaled_ms(GT_WAIT_MS * 2)));
            seq_msg_t v;
            memcpy(&v, grove_msg_data(m), sizeof v);
            if (v.seq != i)
                GT_FAIL("sender %d: got %u, expected %u", s, v.seq, i);
            grove_msg_free(m);
        }
    }
    EXPECT_NO_MSG(10);
}
