/* Grove-specific test helpers on top of harness.h: assertions on Grove
 * values, a runner that executes a test body as a Grove process and then
 * checks for leaks, an echo process that tests steer by messages, and
 * waits for EXIT and DOWN messages.
 *
 * PROC_TEST(name) { ... } runs its body as a process: it starts the
 * runtime (2 schedulers unless .schedulers says otherwise), runs the body
 * with grove_run(), checks the body's exit reason (normal unless
 * .expect_kind says otherwise), waits until every process the test
 * started has exited, checks the leak counters, and stops the runtime.
 *
 * Leak accounting. The check is made before grove_stop(), because the
 * header does not promise that grove_stats() answers once the runtime is
 * stopped. After the body returns, the helper waits (up to 10 s, scaled)
 * until processes_alive is back to its value before the body started,
 * then until messages_live, timers_live, resources_live and
 * arena_bytes_live are back to theirs (up to 2 s, scaled, as the last
 * exits may still be releasing). If grove_stats() still answers after
 * grove_stop(), those counters must then read zero too: a stop that kills
 * processes must release what they held.
 */
#ifndef GROVE_TEST_GROVE_TEST_H
#define GROVE_TEST_GROVE_TEST_H

#include <grove.h>

#include "harness.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default wait for a message that must arrive, before scaling. */
#define GT_WAIT_MS 5000

#define ASSERT_OK(expr)                                                      \
    do {                                                                     \
        int gt_r_ = (expr);                                                  \
        if (gt_r_ != 0)                                                      \
            gt_fail(__FILE__, __LINE__, "ASSERT_OK(%s) failed: %d %s (%s)",  \
                    #expr, gt_r_, grove_errname(gt_r_),                      \
                    grove_strerror(gt_r_));                                  \
    } while (0)

#define ASSERT_ERR(expr, err)                                                \
    do {                                                                     \
        int gt_r_ = (expr);                                                  \
        int gt_e_ = (err);                                                   \
        if (gt_r_ != gt_e_)                                                  \
            gt_fail(__FILE__, __LINE__,                                      \
                    "ASSERT_ERR(%s, %s) failed: got %d %s, expected %d %s",  \
                    #expr, #err, gt_r_, grove_errname(gt_r_), gt_e_,         \
                    grove_errname(gt_e_));                                   \
    } while (0)

/* For the few inputs where the header allows either of two codes. */
#define ASSERT_ERR2(expr, err1, err2)                                        \
    do {                                                                     \
        int gt_r_ = (expr);                                                  \
        if (gt_r_ != (err1) && gt_r_ != (err2))                              \
            gt_fail(__FILE__, __LINE__,                                      \
                    "ASSERT_ERR2(%s) failed: got %d %s, expected %s or %s",  \
                    #expr, gt_r_, grove_errname(gt_r_), #err1, #err2);       \
    } while (0)

void gt_assert_pid(const char *file, int line, const char *ea,
                   const char *eb, grove_pid_t a, grove_pid_t b, bool eq);
#define ASSERT_PID_EQ(a, b)                                                  \
    gt_assert_pid(__FILE__, __LINE__, #a, #b, (a), (b), true)
#define ASSERT_PID_NE(a, b)                                                  \
    gt_assert_pid(__FILE__, __LINE__, #a, #b, (a), (b), false)

#define ASSERT_REF_EQ(a, b) ASSERT_EQ((a).id, (b).id)
#define ASSERT_REF_NE(a, b) ASSERT_NE((a).id, (b).id)

/* Reasons are compared by value: kind, code and text. */
void gt_assert_reason(const char *file, int line, const char *expr,
                      grove_reason_t got, grove_reason_t want);
#define ASSERT_REASON_EQ(got, want)                                          \
    gt_assert_reason(__FILE__, __LINE__, #got, (got), (want))
void gt_assert_kind(const char *file, int line, const char *expr,
                    grove_reason_t got, int kind);
#define ASSERT_REASON_KIND(got, kind)                                        \
    gt_assert_kind(__FILE__, __LINE__, #got, (got), (kind))

/* Formats a reason into a static per-thread buffer, for messages. */
const char *gt_reason_str(grove_reason_t r);
const char *gt_pid_str(grove_pid_t p);

/* Runs body(arg) as a Grove process, as described at the top. */
void gt_run_process(void (*body)(void *), void *arg, const gt_opts_t *o);

#define PROC_TEST_OPTS(name, ...)                                            \
    static void gt_proc_##name(void *gt_arg);                                \
    GT_TEST_DEFINE(name, __VA_ARGS__)                                        \
    {                                                                        \
        gt_run_process(gt_proc_##name, NULL, &gt_entry_##name.opts);         \
    }                                                                        \
    static void gt_proc_##name(void *gt_arg)
#define PROC_TEST(name) PROC_TEST_OPTS(name, )

/* Spawns and fails the test if that fails. opts may be NULL. */
grove_pid_t gt_spawn_at(const char *file, int line, grove_entry_fn fn,
                        void *arg, const grove_spawn_opts_t *opts);
#define SPAWN(fn, arg, opts)                                                 \
    gt_spawn_at(__FILE__, __LINE__, (fn), (arg), (opts))

/* grove_stats(), asserting success. */
grove_stats_t gt_stats(void);

/* Sleeps briefly: grove_sleep inside a process, nanosleep outside. */
void gt_nap(int64_t ms);

/* Polls cond every millisecond until it holds; fails after ms (scaled). */
#define WAIT_UNTIL_MS(cond, ms)                                              \
    do {                                                                     \
        int64_t gt_dl_ = gt_now_ms() + gt_scaled_ms(ms);                     \
        while (!(cond)) {                                                    \
            if (gt_now_ms() > gt_dl_)                                        \
                gt_fail(__FILE__, __LINE__, "WAIT_UNTIL(%s) timed out",      \
                        #cond);                                              \
            gt_nap(1);                                                       \
        }                                                                    \
    } while (0)
#define WAIT_UNTIL(cond) WAIT_UNTIL_MS(cond, GT_WAIT_MS)

/* Waiting for messages (from inside a process). Each fails the test when
 * nothing matching arrives within GT_WAIT_MS (scaled). */

/* Waits for EXIT from `from`; returns its reason. */
grove_reason_t gt_expect_exit_at(const char *file, int line,
                                 grove_pid_t from);
#define EXPECT_EXIT(from) gt_expect_exit_at(__FILE__, __LINE__, (from))

/* Waits for the DOWN of monitor ref; checks it names `from` unless from is
 * GROVE_PID_NONE; returns its reason. */
grove_reason_t gt_expect_down_at(const char *file, int line, grove_ref_t ref,
                                 grove_pid_t from);
#define EXPECT_DOWN(ref, from)                                               \
    gt_expect_down_at(__FILE__, __LINE__, (ref), (from))

/* Watching a process's exit. A monitor made after a process may have
 * exited gives DOWN noproc, so a test watches first and waits later:
 * SPAWN_MON spawns with a monitor (opts may be NULL), WATCH monitors a
 * process known to be alive, and AWAIT_EXIT waits for the DOWN of that
 * watch and returns the exit reason. AWAIT_EXIT of a pid the calling
 * process does not watch fails the test. */
grove_pid_t gt_spawn_mon_at(const char *file, int line, grove_entry_fn fn,
                            void *arg, const grove_spawn_opts_t *opts);
#define SPAWN_MON(fn, arg, opts)                                             \
    gt_spawn_mon_at(__FILE__, __LINE__, (fn), (arg), (opts))
void gt_watch_at(const char *file, int line, grove_pid_t pid);
#define WATCH(pid) gt_watch_at(__FILE__, __LINE__, (pid))
grove_reason_t gt_await_exit_at(const char *file, int line, grove_pid_t pid);
#define AWAIT_EXIT(pid) gt_await_exit_at(__FILE__, __LINE__, (pid))
/* Watches an echo, tells it to stop and waits for its normal exit. */
void gt_stop_echo_at(const char *file, int line, grove_pid_t echo);
#define STOP_ECHO(echo) gt_stop_echo_at(__FILE__, __LINE__, (echo))

/* Waits for a user message with this tag; the caller frees it. */
grove_msg_t *gt_expect_tag_at(const char *file, int line, uint64_t tag);
#define EXPECT_TAG(tag) gt_expect_tag_at(__FILE__, __LINE__, (tag))

/* Asserts that no message at all arrives within ms. */
void gt_expect_no_msg_at(const char *file, int line, int64_t ms);
#define EXPECT_NO_MSG(ms) gt_expect_no_msg_at(__FILE__, __LINE__, (ms))

/* The echo process. Tests steer it with these tags; it answers requests
 * to the requester with grove_send_ref() and the request's ref, and
 * forwards every EXIT or DOWN it receives (and any user message with an
 * unknown tag) to its report_to process as GT_TAG_FWD with a gt_fwd_t. */
enum {
    GT_TAG_PING = 0x4754000000000001ull, /* reply GT_TAG_PONG, same data */
    GT_TAG_PONG,
    GT_TAG_STOP,      /* return from the entry function (reason normal) */
    GT_TAG_EXIT_WITH, /* data: grove_reason_t; grove_exit() with it */
    GT_TAG_TRAP,      /* data: bool; reply ACK rc = previous flag */
    GT_TAG_LINK,      /* data: grove_pid_t; reply ACK rc = grove_link */
    GT_TAG_UNLINK,    /* data: grove_pid_t; reply ACK rc = grove_unlink */
    GT_TAG_MONITOR,   /* data: grove_pid_t; reply ACK rc, ref */
    GT_TAG_SIGNAL,    /* data: gt_signal_req_t; reply ACK rc */
    GT_TAG_ACK,
    GT_TAG_FWD
};

typedef struct gt_ack {
    int rc;
    grove_ref_t ref;
} gt_ack_t;

typedef struct gt_signal_req {
    grove_pid_t to;
    grove_reason_t reason;
} gt_signal_req_t;

typedef struct gt_fwd {
    int kind; /* grove_msg_kind_t of the forwarded message */
    grove_pid_t from;
    grove_ref_t ref;
    uint64_t tag;
    grove_reason_t reason; /* EXIT and DOWN only */
} gt_fwd_t;

/* The echo entry function; arg carries the report_to pid's id. */
void gt_echo_main(void *arg);
/* Spawns an echo process reporting to report_to (GROVE_PID_NONE: drop
 * what it would forward). opts may be NULL. */
grove_pid_t gt_spawn_echo_at(const char *file, int line,
                             grove_pid_t report_to,
                             const grove_spawn_opts_t *opts);
#define SPAWN_ECHO(report_to, opts)                                          \
    gt_spawn_echo_at(__FILE__, __LINE__, (report_to), (opts))

/* Sends a request to an echo and waits for its ACK. Returns true with
 * *ack filled, or false if the echo died first. */
bool gt_echo_call(grove_pid_t echo, uint64_t tag, const void *data,
                  size_t size, gt_ack_t *ack);
/* True if pid answered a ping; false if it is dead (or dies meanwhile).
 * Fails the test if neither happens in time. */
bool gt_ping(grove_pid_t pid);
/* Tells an echo to exit with reason r (does not wait). */
void gt_echo_exit(grove_pid_t echo, grove_reason_t r);
/* Waits for the next GT_TAG_FWD from echo and returns it. */
gt_fwd_t gt_expect_fwd_at(const char *file, int line, grove_pid_t echo);
#define EXPECT_FWD(echo) gt_expect_fwd_at(__FILE__, __LINE__, (echo))

/* Hardware faults for the crash tests, each raised by the calling
 * process's own code (never inlined, and not instrumented by the
 * sanitizers, which would otherwise report the bug themselves instead of
 * letting the fault reach Grove). Each one does not return. */
void gt_fault_null_write(void);   /* SIGSEGV at address 0 */
void gt_fault_div_zero(void);     /* SIGFPE (x86; other CPUs do not trap) */
void gt_fault_illegal(void);      /* SIGILL on x86 (SIGTRAP on arm64) */
void gt_fault_stack_overflow(void); /* SIGSEGV in the guard page */
void gt_fault_bus(void);          /* SIGBUS: a page past the end of a file */
/* True where an integer division by zero traps. */
bool gt_div_zero_traps(void);
/* The signal __builtin_trap raises on this CPU. */
int gt_trap_signal(void);

/* ---- registry callbacks ---------------------------------------------- */

/* A match predicate: the entry's pid is *(grove_pid_t *)arg. */
bool gt_reg_pid_is(const void *key, size_t len, grove_pid_t pid,
                   uint64_t value, void *arg);
/* A dispatch function that does nothing. */
void gt_reg_ignore_entry(const void *key, size_t len, grove_pid_t pid,
                         uint64_t value, void *arg);

#ifdef __cplusplus
}
#endif
#endif
