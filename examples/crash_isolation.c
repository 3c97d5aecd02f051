/* crash_isolation.c: a crash ends one process, never the program.
 *
 * Shows: processes that dereference NULL, divide by zero, overflow their
 * stack and fail a GROVE_ASSERT. Each dies alone with a reason that says
 * what happened (printed with grove_reason_format), its monitor hears of
 * it, and a crash report goes through the logger. Meanwhile a counter
 * process keeps serving a client's requests, and afterwards the runtime
 * spawns and runs processes as before.
 *
 * Run:  build/release/examples/crash_isolation
 * Exits 0 when each crash had the expected reason and nothing else broke.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <grove.h>

enum { TAG_ADD = 1, TAG_TOTAL, TAG_STOP, TAG_SERVED };

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* ---- the faults ---------------------------------------------------------- */

/* Kept out of line, and out of the sanitizers' sight: the point is the
 * hardware fault itself, which Grove turns into the process's reason. */
#if defined(__clang__)
#define NOCLONE
#else
#define NOCLONE __attribute__((noclone))
#endif
#define FAULTY                                                              \
    NOCLONE __attribute__((noinline,                                        \
                           no_sanitize("address", "undefined", "thread")))

/* volatile: the compiler must not see through these values. */
static int *volatile null_ptr;
static volatile int zero;
static volatile int dividend = 1;
static volatile int sink;
static volatile int never = 0x7fffffff;

FAULTY static void null_dereference(void)
{
    *null_ptr = 1;
}

FAULTY static void divide_by_zero(void)
{
    sink = dividend / zero;
}

/* Large frames, and work after the call so it stays a real recursion. */
FAULTY static int recurse(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth == never)
        return 0;
    return recurse(depth + 1) + frame[0];
}

FAULTY static void stack_overflow(void)
{
    sink = recurse(0);
}

static void failed_assert(void)
{
    int answer = 41;
    GROVE_ASSERT(answer == 42);
}

/* x86 traps on integer division by zero; other CPUs return a value. */
#if defined(__x86_64__) || defined(__i386__)
#define DIV_TRAPS 1
#else
#define DIV_TRAPS 0
#endif

typedef struct fault_case {
    const char *what;
    void (*fault)(void);
    int kind; /* expected grove_exit_kind_t */
    int sig;  /* expected signal, for faults */
} fault_case_t;

static const fault_case_t cases[] = {
    {"NULL dereference", null_dereference, GROVE_EXIT_FAULT, SIGSEGV},
    {"division by zero", divide_by_zero, GROVE_EXIT_FAULT, SIGFPE},
    {"stack overflow", stack_overflow, GROVE_EXIT_FAULT, SIGSEGV},
    {"failed GROVE_ASSERT", failed_assert, GROVE_EXIT_ASSERT, 0},
};

static void run_fault(void *arg)
{
    const fault_case_t *c = arg;
    c->fault();
    grove_exit_error(1, "%s did not crash", c->what);
}

/* ---- the bystanders ------------------------------------------------------ */

/* Adds what it is sent to a running total and replies with the total. */
static void counter(void *arg)
{
    (void)arg;
    long total = 0;
    for (;;) {
        grove_msg_t *m;
        grove_recv(&m, GROVE_INFINITY);
        if (grove_msg_tag(m) == TAG_STOP) {
            grove_msg_free(m);
            return;
        }
        total += *(const long *)grove_msg_data(m);
        grove_send(grove_msg_from(m), TAG_TOTAL, &total, sizeof total);
        grove_msg_free(m);
    }
}

/* Adds 1 to the counter over and over until told to stop, then reports
 * how many requests were answered. */
static void client(void *arg)
{
    grove_pid_t ctr = *(const grove_pid_t *)arg;
    long served = 0, one = 1;
    grove_msg_t *m;
    while (grove_recv_tag(&m, TAG_STOP, 0) != 0) {
        grove_send(ctr, TAG_ADD, &one, sizeof one);
        if (grove_recv_tag(&m, TAG_TOTAL, 1000) != 0)
            grove_exit_error(1, "the counter stopped answering");
        grove_msg_free(m);
        served++;
        grove_sleep(1);
    }
    grove_pid_t boss = grove_msg_from(m);
    grove_msg_free(m);
    grove_send(boss, TAG_SERVED, &served, sizeof served);
}

static long counter_total(grove_pid_t ctr)
{
    long none = 0, total = -1;
    grove_msg_t *m;
    grove_send(ctr, TAG_ADD, &none, sizeof none);
    if (grove_recv_tag(&m, TAG_TOTAL, 1000) == 0) {
        total = *(const long *)grove_msg_data(m);
        grove_msg_free(m);
    }
    return total;
}

/* Crash reports arrive through the logger; print each on one line. */
static void on_log(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "crash_report") == 0)
        printf("  [crash report] %s\n", ev->text);
}

/* ---- the scenario -------------------------------------------------------- */

static void crash_one(const fault_case_t *c, grove_pid_t ctr)
{
    printf("%s:\n", c->what);
    if (c->fault == divide_by_zero && !DIV_TRAPS) {
        printf("  skipped: integer division does not trap on this CPU\n");
        return;
    }
    long before = counter_total(ctr);
    grove_pid_t pid;
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    grove_spawn(run_fault, (void *)c, &o, &pid);
    grove_msg_t *m;
    if (grove_recv_ref(&m, ref, 5000) != 0) {
        check(false, "a DOWN message");
        return;
    }
    grove_reason_t r = *grove_msg_reason(m);
    grove_msg_free(m);

    char why[GROVE_REASON_TEXT_MAX + 64], line[GROVE_REASON_TEXT_MAX + 96];
    grove_reason_format(&r, why, sizeof why);
    snprintf(line, sizeof line, "died with %s", why);
    bool ok = r.kind == c->kind;
    if (c->kind == GROVE_EXIT_FAULT)
        ok = ok && r.code == c->sig;
    if (c->fault == null_dereference)
        ok = ok && r.addr == 0;
    if (c->fault == stack_overflow)
        ok = ok && strncmp(r.text, "stack overflow", 14) == 0;
    if (c->kind == GROVE_EXIT_ASSERT)
        ok = ok && strstr(r.text, "answer == 42") != NULL;
    check(ok, line);

    /* The client's requests go on being answered. */
    long total = counter_total(ctr);
    for (int i = 0; i < 1000 && total < before + 5; i++) {
        grove_sleep(2);
        total = counter_total(ctr);
    }
    snprintf(line, sizeof line,
             "the counter kept serving the client (total %ld -> %ld)",
             before, total);
    check(total >= before + 5, line);
}

static void main_process(void *arg)
{
    (void)arg;
    grove_stats_t before, after;
    grove_stats(&before);

    grove_pid_t ctr, cli;
    grove_ref_t cli_ref;
    grove_spawn(counter, NULL, NULL, &ctr);
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &cli_ref};
    grove_spawn(client, &ctr, &o, &cli);
    grove_sleep(20); /* let the client get going */

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        crash_one(&cases[i], ctr);

    printf("afterwards:\n");
    grove_send(cli, TAG_STOP, NULL, 0);
    grove_msg_t *m = NULL;
    long served = 0;
    if (grove_recv_tag(&m, TAG_SERVED, 2000) == 0) {
        served = *(const long *)grove_msg_data(m);
        grove_msg_free(m);
    }
    char line[128];
    snprintf(line, sizeof line,
             "the client's %ld requests were all answered", served);
    check(served > 0 && counter_total(ctr) == served, line);

    grove_stats(&after);
    uint64_t crashed = after.processes_crashed - before.processes_crashed;
    snprintf(line, sizeof line, "grove_stats counts %llu crashes",
             (unsigned long long)crashed);
    check(crashed == (DIV_TRAPS ? 4u : 3u), line);

    /* The runtime still spawns, sends and receives. */
    grove_pid_t again;
    grove_ref_t ref;
    grove_spawn_opts_t mo = {.monitor = true, .monitor_ref = &ref};
    grove_spawn(counter, NULL, &mo, &again);
    bool works = counter_total(again) == 0;
    grove_send(again, TAG_STOP, NULL, 0);
    m = NULL;
    works = works && grove_recv_ref(&m, ref, 2000) == 0 &&
            grove_msg_reason(m)->kind == GROVE_EXIT_NORMAL;
    grove_msg_free(m); /* NULL is ignored */
    check(works, "a new process spawns, answers and exits normally");
    grove_send(ctr, TAG_STOP, NULL, 0);
}

int main(void)
{
    /* Only our one-line handler: the default one would also print each
     * crash report's backtrace to stderr. */
    grove_log_clear_handlers();
    grove_log_add_handler(on_log, NULL, GROVE_LOG_WARNING, NULL);

    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
