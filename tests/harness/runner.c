/* The test runner: registry, fork per test, timeout, expected deaths, TAP.
 * The parent never starts the Grove runtime, so it stays single-threaded
 * and fork() is safe in it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GT_DEFAULT_TIMEOUT_S 30

/* Sanitizer runtimes install their own handlers for the fault signals;
 * the crash tests need Grove's handler to see them instead. ctest passes
 * the same options through the environment, which overrides these. */
#if defined(GROVE_ASAN)
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
           "allow_user_segv_handler=1:detect_stack_use_after_return=0";
}
#endif
#if defined(GROVE_TSAN)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
           "allow_user_segv_handler=1";
}
#endif

static gt_test_t *registry;
static int registry_len;
/* Global, so the array stays reachable in the forked children: their
 * LeakSanitizer must not blame the runner for it. */
static gt_test_t **sorted;

void gt_register(gt_test_t *t)
{
    t->next = registry;
    registry = t;
    registry_len++;
}

double gt_timeout_mult(void)
{
    const char *env = getenv("GROVE_TEST_TIMEOUT_MULT");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        if (end != env && v > 0)
            return v;
    }
#if defined(GROVE_TSAN)
    return 4.0;
#elif defined(GROVE_ASAN)
    return 2.0;
#else
    return 1.0;
#endif
}

int64_t gt_scaled_ms(int64_t ms)
{
    return (int64_t)((double)ms * gt_timeout_mult());
}

uint64_t gt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t gt_now_ms(void) { return (int64_t)(gt_now_ns() / 1000000u); }

void gt_os_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

_Noreturn void gt_fail(const char *file, int line, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* One write, so lines from two failing threads do not interleave. */
    char out[1200];
    int n = snprintf(out, sizeof out, "# FAIL %s:%d: %s\n", file, line, buf);
    if (n > (int)sizeof out - 1)
        n = (int)sizeof out - 1;
    if (write(2, out, (size_t)n) < 0) {
    }
    _exit(GT_STATUS_FAIL);
}

_Noreturn void gt_skip(const char *file, int line, const char *why)
{
    fprintf(stderr, "# SKIP %s:%d: %s\n", file, line, why);
    fflush(stderr);
    _exit(GT_STATUS_SKIP);
}

void gt_note(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "# %s\n", buf);
}

void gt_assert_streq(const char *file, int line, const char *ea,
                     const char *eb, const char *a, const char *b)
{
    if (a && b && strcmp(a, b) == 0)
        return;
    gt_fail(file, line, "ASSERT_STREQ(%s, %s) failed: \"%s\" vs \"%s\"", ea,
            eb, a ? a : "(null)", b ? b : "(null)");
}

void gt_assert_ptr(const char *file, int line, const char *expr,
                   uintptr_t p, bool want_null)
{
    if ((p == 0) == want_null)
        return;
    gt_fail(file, line, "%s(%s) failed: %#jx",
            want_null ? "ASSERT_NULL" : "ASSERT_NOT_NULL", expr,
            (uintmax_t)p);
}

/* Sorts the registry by file and line, so the order is the source order
 * whatever order the constructors ran in. */
static int cmp_test(const void *a, const void *b)
{
    const gt_test_t *x = *(const gt_test_t *const *)a;
    const gt_test_t *y = *(const gt_test_t *const *)b;
    int c = strcmp(x->file, y->file);
    return c ? c : x->line - y->line;
}

static gt_test_t **sorted_tests(void)
{
    gt_test_t **v = calloc((size_t)registry_len + 1, sizeof *v);
    if (!v) {
        perror("calloc");
        exit(2);
    }
    int i = 0;
    for (gt_test_t *t = registry; t; t = t->next)
        v[i++] = t;
    qsort(v, (size_t)registry_len, sizeof *v, cmp_test);
    for (i = 1; i < registry_len; i++) {
        if (strcmp(v[i]->name, v[i - 1]->name) == 0) {
            fprintf(stderr, "duplicate test name %s\n", v[i]->name);
            exit(2);
        }
    }
    return v;
}

/* The child's side: keep stdout (the TAP stream) clean by sending
 * anything a test prints there to stderr. */
static _Noreturn void run_child(const gt_test_t *t)
{
    dup2(2, 1);
    setvbuf(stderr, NULL, _IONBF, 0);
    t->fn();
    fflush(NULL);
    exit(GT_STATUS_PASS);
}

typedef enum { RES_PASS, RES_FAIL, RES_SKIP, RES_TIMEOUT } result_t;

static void describe_status(int st, char *buf, size_t size)
{
    if (WIFEXITED(st))
        snprintf(buf, size, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(buf, size, "wait status 0x%x", st);
}

/* Judges a finished child against what the test expects. */
static result_t judge(const gt_test_t *t, int st, char *why, size_t size)
{
    char got[128];
    describe_status(st, got, sizeof got);
    const gt_opts_t *o = &t->opts;
    if (o->death_signal) {
        if (WIFSIGNALED(st) && WTERMSIG(st) == o->death_signal)
            return RES_PASS;
        snprintf(why, size, "expected death by signal %d (%s), got %s",
                 o->death_signal, strsignal(o->death_signal), got);
        return RES_FAIL;
    }
    if (o->death_status) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == o->death_status)
            return RES_PASS;
        snprintf(why, size, "expected exit status %d, got %s",
                 o->death_status, got);
        return RES_FAIL;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == GT_STATUS_PASS)
        return RES_PASS;
    if (WIFEXITED(st) && WEXITSTATUS(st) == GT_STATUS_SKIP)
        return RES_SKIP;
    snprintf(why, size, "%s", got);
    return RES_FAIL;
}

static result_t run_forked(const gt_test_t *t, char *why, size_t size)
{
    int timeout_s = t->opts.timeout_s ? t->opts.timeout_s
                                      : GT_DEFAULT_TIMEOUT_S;
    int64_t limit_ms = gt_scaled_ms((int64_t)timeout_s * 1000);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, size, "fork: %s", strerror(errno));
        return RES_FAIL;
    }
    if (pid == 0)
        run_child(t);
    int64_t start = gt_now_ms();
    int64_t nap = 1;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return judge(t, st, why, size);
        if (r < 0 && errno != EINTR) {
            snprintf(why, size, "waitpid: %s", strerror(errno));
            return RES_FAIL;
        }
        if (gt_now_ms() - start > limit_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            snprintf(why, size, "timeout after %lld ms",
                     (long long)limit_ms);
            return RES_TIMEOUT;
        }
        gt_os_sleep_ms(nap);
        if (nap < 20)
            nap++;
    }
}

static bool selected(const gt_test_t *t, int argc, char **argv, int first)
{
    if (first >= argc)
        return true;
    for (int i = first; i < argc; i++)
        if (fnmatch(argv[i], t->name, 0) == 0)
            return true;
    return false;
}

static int run_all(gt_test_t **v, int argc, char **argv, int first)
{
    int n = 0;
    for (int i = 0; i < registry_len; i++)
        n += selected(v[i], argc, argv, first);
    if (n == 0) {
        fprintf(stderr, "no test matches\n");
        return 2;
    }
    printf("1..%d\n", n);
    fflush(stdout);
    int num = 0, failed = 0;
    for (int i = 0; i < registry_len; i++) {
        const gt_test_t *t = v[i];
        if (!selected(t, argc, argv, first))
            continue;
        num++;
        char why[256] = "";
        int64_t t0 = gt_now_ms();
        result_t r = run_forked(t, why, sizeof why);
        int64_t ms = gt_now_ms() - t0;
        switch (r) {
        case RES_PASS:
            printf("ok %d - %s\n", num, t->name);
            break;
        case RES_SKIP:
            printf("ok %d - %s # SKIP\n", num, t->name);
            break;
        case RES_TIMEOUT:
            printf("not ok %d - %s # timeout\n# %s: %s\n", num, t->name,
                   t->name, why);
            failed++;
            break;
        case RES_FAIL:
            printf("not ok %d - %s\n# %s: %s\n", num, t->name, t->name,
                   why);
            failed++;
            break;
        }
        printf("# %s took %lld ms\n", t->name, (long long)ms);
        fflush(stdout);
    }
    if (failed)
        printf("# %d of %d failed\n", failed, n);
    return failed ? 1 : 0;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--list] [--no-fork NAME] [--seeds N] [NAME-or-pattern...]\n",
            prog);
}

/* --seeds N [NAME...]: runs the tests once per seed 1..N (GROVE_SEED,
 * read by deterministic builds) and stops at the first failing seed,
 * which then replays the failure step for step. */
static int run_seeds(gt_test_t **v, int argc, char **argv)
{
    long n = strtol(argv[2], NULL, 10);
    for (long seed = 1; seed <= n; seed++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", seed);
        setenv("GROVE_SEED", buf, 1);
        printf("# seed %ld\n", seed);
        fflush(stdout);
        int rc = run_all(v, argc, argv, 3);
        if (rc != 0) {
            printf("# FAILED under GROVE_SEED=%ld; replay with: "
                   "GROVE_SEED=%ld %s NAME\n",
                   seed, seed, argv[0]);
            return rc;
        }
    }
    return 0;
}

static int dispatch(gt_test_t **v, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < registry_len; i++)
            printf("%s\n", v[i]->name);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--no-fork") == 0) {
        if (argc != 3) {
            usage(argv[0]);
            return 2;
        }
        for (int i = 0; i < registry_len; i++)
            if (strcmp(v[i]->name, argv[2]) == 0) {
                v[i]->fn();
                printf("ok 1 - %s\n", v[i]->name);
                return 0;
            }
        fprintf(stderr, "no test named %s\n", argv[2]);
        return 2;
    }
    if (argc > 2 && strcmp(argv[1], "--seeds") == 0)
        return run_seeds(v, argc, argv);
    if (argc > 1 && argv[1][0] == '-') {
        usage(argv[0]);
        return 2;
    }
    return run_all(v, argc, argv, 1);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sorted = sorted_tests();
    int rc = dispatch(sorted, argc, argv);
    free(sorted);
    sorted = NULL;
    return rc;
}
