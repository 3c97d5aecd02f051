/* Wake-ups under races: a waiting process is woken exactly when it
 * should be, whoever gets there first: a sender, the timer of its timed
 * receive, or the service thread parking its idle stack. Clients on every
 * scheduler make requests of waiters that keep timing out in short and
 * long receives while their stacks are trimmed; a lost wake-up shows as a
 * request never answered, a double one as a process run twice at once
 * (the sanitizers' and the counts' business). */
#include <stdatomic.h>
#include <string.h>

#include "grove_test.h"

#if defined(GROVE_TSAN) || defined(GROVE_ASAN) || defined(GROVE_VALGRIND)
enum { REQUESTS = 400 };
#else
enum { REQUESTS = 4000 };
#endif
enum {
    WAITERS = 64,
    CLIENTS = 8,
    TAG_REQ = 1,
    TAG_REPLY,
    TAG_STOP,
    TAG_REPORT,
    TAG_DONE,
    TAG_FAIL,
    REPLY_WAIT_MS = 20000,
};

typedef struct report {
    uint64_t served;
    uint64_t timeouts;
} report_t;

static grove_pid_t waiters[WAITERS];
static grove_pid_t main_pid;
/* Set once the trimmer has been seen at work: clients that made their
 * REQUESTS go on until then, so a short run (sanitizers) still has it. */
static atomic_bool enough;

static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Receives with a timeout that is mostly 0 to 3 ms (timers firing as
 * requests come) and now and then long enough for the stack to be
 * trimmed; answers each request and counts its timeouts. */
static void waiter(void *arg)
{
    uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    report_t r = {0, 0};
    for (;;) {
        uint32_t v = next_rand(&x);
        grove_timeout_t t = v % 8 == 0 ? 50 + (int)(v % 50) : (int)(v % 4);
        grove_msg_t *m;
        int rc = grove_recv(&m, t);
        if (rc == GROVE_ETIMEDOUT) {
            r.timeouts++;
            continue;
        }
        if (rc != 0)
            grove_exit_error(rc, "receive failed");
        uint64_t tag = grove_msg_tag(m);
        grove_pid_t from = grove_msg_from(m);
        grove_ref_t ref = grove_msg_ref(m);
        grove_msg_free(m);
        if (tag == TAG_STOP) {
            rc = grove_send(main_pid, TAG_REPORT, &r, sizeof r);
            if (rc != 0)
                grove_exit_error(rc, "report failed");
            return;
        }
        r.served++;
        rc = grove_send_ref(from, TAG_REPLY, ref, NULL, 0);
        if (rc != 0)
            grove_exit_error(rc, "reply failed");
    }
}

/* Tells the test which request of this client failed, and ends it. */
static _Noreturn void client_fail(int rc, const char *what, uint64_t i)
{
    grove_send(main_pid, TAG_FAIL, &i, sizeof i);
    grove_exit_error(rc, "request %llu %s", (unsigned long long)i, what);
}

/* Asks random waiters, sometimes pausing first so that the waiter's
 * timeout and the request race; exits with an error if an answer never
 * comes, and reports how many it made. */
static void client(void *arg)
{
    uint32_t x = (uint32_t)(uintptr_t)arg * 40503u + 7;
    uint64_t i;
    for (i = 0; i < REQUESTS || !atomic_load(&enough); i++) {
        uint32_t v = next_rand(&x);
        if (v % 4 == 0)
            grove_sleep((int)(v >> 8) % 3);
        grove_ref_t ref = grove_make_ref();
        int rc = grove_send_ref(waiters[(v >> 4) % WAITERS], TAG_REQ, ref,
                                NULL, 0);
        if (rc != 0)
            client_fail(rc, "could not be sent", i);
        grove_msg_t *m;
        rc = grove_recv_ref(&m, ref, REPLY_WAIT_MS);
        if (rc != 0)
            client_fail(rc, "was never answered", i);
        grove_msg_free(m);
    }
    grove_send(main_pid, TAG_DONE, &i, sizeof i);
}

static bool is_report(const grove_msg_t *m, void *arg)
{
    (void)arg;
    return grove_msg_tag(m) == TAG_DONE || grove_msg_tag(m) == TAG_FAIL;
}

PROC_TEST_OPTS(wakeups_race_senders_timers_and_trimming, .schedulers = 4,
               .stack_trim_ms = 1, .timeout_s = 180)
{
    grove_pid_t clients[CLIENTS];
    uint64_t parked_max = 0, asked = 0;
    int64_t give_up = gt_now_ms() + gt_scaled_ms(60000);
    main_pid = grove_self();
    atomic_store(&enough, false);
    for (int i = 0; i < WAITERS; i++)
        waiters[i] = SPAWN_MON(waiter, (void *)(uintptr_t)(i + 1), NULL);
    for (int i = 0; i < CLIENTS; i++)
        clients[i] = SPAWN_MON(client, (void *)(uintptr_t)(i + 1), NULL);
    for (int done = 0; done < CLIENTS;) {
        grove_msg_t *m;
        if (grove_recv_match(&m, is_report, NULL, 10) == 0) {
            uint64_t n;
            ASSERT_EQ(grove_msg_size(m), sizeof n);
            memcpy(&n, grove_msg_data(m), sizeof n);
            if (grove_msg_tag(m) == TAG_FAIL)
                gt_fail(__FILE__, __LINE__, "a client's request %llu failed",
                        (unsigned long long)n);
            grove_msg_free(m);
            asked += n;
            done++;
        }
        uint64_t parked = gt_stats().stacks_parked;
        if (parked > parked_max)
            parked_max = parked;
        if (parked_max > 0 || gt_now_ms() > give_up)
            atomic_store(&enough, true);
    }
    for (int i = 0; i < CLIENTS; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(clients[i]), grove_reason_normal());
    report_t sum = {0, 0};
    for (int i = 0; i < WAITERS; i++) {
        ASSERT_OK(grove_send(waiters[i], TAG_STOP, NULL, 0));
        grove_msg_t *m = EXPECT_TAG(TAG_REPORT);
        report_t r;
        ASSERT_EQ(grove_msg_size(m), sizeof r);
        memcpy(&r, grove_msg_data(m), sizeof r);
        grove_msg_free(m);
        sum.served += r.served;
        sum.timeouts += r.timeouts;
        ASSERT_REASON_EQ(AWAIT_EXIT(waiters[i]), grove_reason_normal());
    }
    /* Every request answered once, and each race had its parties. */
    ASSERT_GE(asked, (uint64_t)CLIENTS * REQUESTS);
    ASSERT_EQ(sum.served, asked);
    ASSERT_GT(sum.timeouts, 0);
    ASSERT_GT(parked_max, 0);
}
