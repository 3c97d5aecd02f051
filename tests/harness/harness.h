/* The Grove test harness: a registry of tests, a runner that forks one
 * child per test with a timeout and prints TAP, and assertion macros that
 * print both operands and are never compiled out.
 *
 * A test file includes this header (or grove_test.h, which adds the
 * runtime helpers) and defines tests with TEST(name) { ... } or
 * TEST_OPTS(name, .timeout_s = 60, .death_signal = SIGABRT) { ... }.
 * Each folder's files link into one binary with harness/runner.c, which
 * provides main():
 *
 *   binary            run every test, each in its own forked child
 *   binary --list     print the test names, one a line
 *   binary NAME...    run only the named tests (still forked)
 *   binary --no-fork NAME   run one test in this process (for a debugger)
 *
 * Exit status: 0 when every test passed (or was skipped), 1 otherwise.
 *
 * A failed assertion prints "file:line: ..." with both operands to stderr
 * and ends the test's child at once with _exit(GT_STATUS_FAIL). Using
 * _exit rather than exit matters: the assertion may fire on a scheduler
 * thread while the runtime runs, and exit() would run atexit handlers
 * under its feet. A test that returns ends its child with exit(0), so
 * LeakSanitizer (ASan builds) gets to check it.
 */
#ifndef GROVE_TEST_HARNESS_H
#define GROVE_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit statuses of a test's child process. */
#define GT_STATUS_PASS 0
#define GT_STATUS_FAIL 1
#define GT_STATUS_SKIP 77

/* Per-test options; zero fields take the default shown. The dummy first
 * field lets TEST_OPTS take an empty option list without an empty
 * initializer, which C11 does not allow. */
typedef struct gt_opts {
    int gt_reserved;
    /* Seconds before the runner kills the test; default 30. Multiplied by
     * gt_timeout_mult(). */
    int timeout_s;
    /* The test passes only if its child is killed by this signal (for
     * faults that must abort the whole OS process, e.g. SIGABRT). */
    int death_signal;
    /* The test passes only if its child exits with this non-zero status. */
    int death_status;

    /* The fields below are read by PROC_TEST (grove_test.h), which runs
     * the test body as a Grove process. */
    int schedulers;         /* scheduler threads; default 2 */
    size_t stack_size;      /* the runtime's default stack; 0: its own */
    uint32_t max_processes; /* 0: the runtime's default */
    int stack_trim_ms;      /* 0: the runtime's default */
    int expect_kind;        /* the body's exit kind; default normal */
    bool any_reason;        /* do not check the body's exit reason */
    bool leave_alive;       /* processes may outlive the body: grove_stop
                               kills them, and the leak check is skipped */
    bool no_leak_check;     /* skip the live-counter check */
} gt_opts_t;

typedef struct gt_test {
    const char *name;
    const char *file;
    int line;
    void (*fn)(void);
    gt_opts_t opts;
    struct gt_test *next;
} gt_test_t;

/* Adds a test to the registry; called by the constructors TEST makes. */
void gt_register(gt_test_t *t);

#define GT_TEST_DEFINE(name, ...)                                            \
    static void gt_body_##name(void);                                        \
    static gt_test_t gt_entry_##name = {                                     \
        #name, __FILE__, __LINE__, gt_body_##name,                           \
        {.gt_reserved = 0, __VA_ARGS__}, NULL};                              \
    __attribute__((constructor)) static void gt_reg_##name(void)             \
    {                                                                        \
        gt_register(&gt_entry_##name);                                       \
    }                                                                        \
    static void gt_body_##name(void)

/* Defines a test: TEST(name) { body }. */
#define TEST(name) GT_TEST_DEFINE(name, )
/* Defines a test with options: TEST_OPTS(name, .timeout_s = 90) { ... }. */
#define TEST_OPTS(name, ...) GT_TEST_DEFINE(name, __VA_ARGS__)

/* The timeout multiplier: the GROVE_TEST_TIMEOUT_MULT environment variable
 * (a positive number, fractions allowed); when unset, 4 in TSan builds, 2
 * in ASan builds and 1 otherwise, because sanitizers slow everything. */
double gt_timeout_mult(void);
/* ms scaled by gt_timeout_mult(), for waits inside tests. */
int64_t gt_scaled_ms(int64_t ms);
/* Monotonic clock in milliseconds and nanoseconds. */
int64_t gt_now_ms(void);
uint64_t gt_now_ns(void);
/* Sleeps the calling OS thread (not for use inside a Grove process, which
 * should call grove_sleep so its scheduler keeps running others). */
void gt_os_sleep_ms(int64_t ms);

/* Reports a failure at file:line and ends the test's child. */
_Noreturn void gt_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends the test's child as skipped, printing why. */
_Noreturn void gt_skip(const char *file, int line, const char *why);
/* Prints a TAP diagnostic line ("# ...") to stderr. */
void gt_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define GT_FAIL(...) gt_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP_TEST(why) gt_skip(__FILE__, __LINE__, (why))

#define ASSERT_TRUE(cond)                                                    \
    do {                                                                     \
        if (!(cond))                                                         \
            gt_fail(__FILE__, __LINE__, "ASSERT_TRUE(%s) failed", #cond);    \
    } while (0)

#define ASSERT_FALSE(cond)                                                   \
    do {                                                                     \
        if ((cond))                                                          \
            gt_fail(__FILE__, __LINE__, "ASSERT_FALSE(%s) failed", #cond);   \
    } while (0)

/* Integer comparisons. Both operands are converted to intmax_t, which
 * holds every value the tests compare (counters far below 2^63). */
#define GT_ASSERT_CMP(a, op, b, opname)                                      \
    do {                                                                     \
        intmax_t gt_a_ = (intmax_t)(a);                                      \
        intmax_t gt_b_ = (intmax_t)(b);                                      \
        if (!(gt_a_ op gt_b_))                                               \
            gt_fail(__FILE__, __LINE__,                                      \
                    "ASSERT_%s(%s, %s) failed: %jd vs %jd", opname, #a, #b,  \
                    gt_a_, gt_b_);                                           \
    } while (0)

#define ASSERT_EQ(a, b) GT_ASSERT_CMP(a, ==, b, "EQ")
#define ASSERT_NE(a, b) GT_ASSERT_CMP(a, !=, b, "NE")
#define ASSERT_LT(a, b) GT_ASSERT_CMP(a, <, b, "LT")
#define ASSERT_LE(a, b) GT_ASSERT_CMP(a, <=, b, "LE")
#define ASSERT_GT(a, b) GT_ASSERT_CMP(a, >, b, "GT")
#define ASSERT_GE(a, b) GT_ASSERT_CMP(a, >=, b, "GE")

void gt_assert_streq(const char *file, int line, const char *ea,
                     const char *eb, const char *a, const char *b);
#define ASSERT_STREQ(a, b) gt_assert_streq(__FILE__, __LINE__, #a, #b, (a), (b))

/* The pointer travels as an integer: passing fresh malloc memory as a
 * const pointer makes GCC think it is read uninitialized. */
void gt_assert_ptr(const char *file, int line, const char *expr,
                   uintptr_t p, bool want_null);
#define ASSERT_NULL(p)                                                       \
    gt_assert_ptr(__FILE__, __LINE__, #p, (uintptr_t)(p), true)
#define ASSERT_NOT_NULL(p)                                                   \
    gt_assert_ptr(__FILE__, __LINE__, #p, (uintptr_t)(p), false)

/* Event-order checks. Several processes or threads record events under a
 * mutex; the test then asserts the exact sequence. Use it only where the
 * order is guaranteed (per sender, or causally). */
#define GT_ORDER_MAX 512
#define GT_ORDER_EVENT_MAX 40

typedef struct gt_order gt_order_t;

/* Makes a recorder (free with gt_order_free). */
gt_order_t *gt_order_new(void);
void gt_order_free(gt_order_t *o);
/* Records one event, formatted like printf. Thread-safe. */
void gt_order_add(gt_order_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The number of events recorded so far. */
int gt_order_count(gt_order_t *o);
/* Asserts the recorded events are exactly expect[0..] (NULL-ended). */
void gt_order_check(gt_order_t *o, const char *file, int line,
                    const char *const *expect);
#define ASSERT_ORDER(o, ...)                                                 \
    gt_order_check((o), __FILE__, __LINE__,                                  \
                   (const char *const[]){__VA_ARGS__, NULL})

#ifdef __cplusplus
}
#endif
#endif
