/* Helpers for the behaviour tests: see behaviours.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "behaviours.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- event log ------------------------------------------------------- */

static gt_order_t *ev_log;
static pthread_once_t ev_once = PTHREAD_ONCE_INIT;
static atomic_int ev_fd = -1;

static void ev_make(void) { ev_log = gt_order_new(); }

gt_order_t *gt_ev_log(void)
{
    pthread_once(&ev_once, ev_make);
    return ev_log;
}

void gt_ev_set_fd(int fd) { atomic_store(&ev_fd, fd); }

void gt_ev(const char *fmt, ...)
{
    char buf[GT_ORDER_EVENT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gt_order_add(gt_ev_log(), "%s", buf);
    int fd = atomic_load(&ev_fd);
    if (fd >= 0) {
        /* One write per line: shorter than PIPE_BUF, so never torn. */
        char line[GT_ORDER_EVENT_MAX + 2];
        int n = snprintf(line, sizeof line, "%s\n", buf);
        if (write(fd, line, (size_t)n) < 0) {
        }
    }
}

int gt_ev_count(void) { return gt_order_count(gt_ev_log()); }

/* ---- the test child -------------------------------------------------- */

#define CHILD_MAX 64

typedef struct tc {
    char id[32];
    int kind;
    int fail_from, fail_count;
    int ignore_from, ignore_count;
    int fail_delay_ms;
    int crash_runs;
    int stop_delay_ms;
    bool ignore_shutdown;
    bool no_trap;
    int attempts;
    int starts;
    grove_pid_t pid;
    grove_gs_opts_t gs_opts;
} tc_t;

/* Read and written by the test and by supervisors and children, always
 * under tc_mu, never across a blocking call. */
static tc_t tcs[CHILD_MAX];
static int ntcs;
static pthread_mutex_t tc_mu = PTHREAD_MUTEX_INITIALIZER;

static tc_t *tc_find_locked(const char *id)
{
    for (int i = 0; i < ntcs; i++)
        if (strcmp(tcs[i].id, id) == 0)
            return &tcs[i];
    return NULL;
}

static tc_t *tc_get(const char *id)
{
    pthread_mutex_lock(&tc_mu);
    tc_t *c = tc_find_locked(id);
    pthread_mutex_unlock(&tc_mu);
    if (!c)
        GT_FAIL("no test child %s", id);
    return c;
}

enum { ATTEMPT_OK, ATTEMPT_FAIL, ATTEMPT_IGNORE };

static bool in_range(int n, int from, int count)
{
    return from > 0 && n >= from && (count < 0 || n < from + count);
}

static int tc_attempt(tc_t *c, int *delay)
{
    pthread_mutex_lock(&tc_mu);
    int n = ++c->attempts;
    int what = ATTEMPT_OK;
    if (in_range(n, c->fail_from, c->fail_count))
        what = ATTEMPT_FAIL;
    else if (in_range(n, c->ignore_from, c->ignore_count))
        what = ATTEMPT_IGNORE;
    *delay = c->fail_delay_ms;
    pthread_mutex_unlock(&tc_mu);
    return what;
}

static void tc_started(tc_t *c, grove_pid_t pid)
{
    pthread_mutex_lock(&tc_mu);
    c->starts++;
    c->pid = pid;
    pthread_mutex_unlock(&tc_mu);
    gt_ev("start:%s", c->id);
}

static bool tc_take_crash(tc_t *c)
{
    pthread_mutex_lock(&tc_mu);
    bool crash = c->crash_runs > 0;
    if (crash)
        c->crash_runs--;
    pthread_mutex_unlock(&tc_mu);
    return crash;
}

/* What to do on the shutdown signal: false to ignore it. */
static bool tc_on_shutdown(tc_t *c)
{
    pthread_mutex_lock(&tc_mu);
    bool ignore = c->ignore_shutdown;
    int delay = c->stop_delay_ms;
    pthread_mutex_unlock(&tc_mu);
    if (ignore)
        return false;
    if (delay > 0)
        grove_sleep(delay);
    gt_ev("stop:%s", c->id);
    return true;
}

static void tc_main(void *arg)
{
    tc_t *c = arg;
    if (c->kind == GT_ENTRY) {
        pthread_mutex_lock(&tc_mu);
        c->attempts++;
        pthread_mutex_unlock(&tc_mu);
        tc_started(c, grove_self());
    }
    if (tc_take_crash(c))
        grove_exit_error(1, "%s crashed as it started", c->id);
    for (;;) {
        grove_msg_t *m = NULL;
        if (grove_recv(&m, GROVE_INFINITY) != 0)
            grove_exit_error(2, "test child: receive failed");
        if (grove_msg_kind(m) == GROVE_MSG_EXIT) {
            grove_reason_t r = *grove_msg_reason(m);
            grove_msg_free(m);
            if (tc_on_shutdown(c))
                grove_exit(&r);
            continue;
        }
        if (grove_msg_kind(m) == GROVE_MSG_USER &&
            grove_msg_tag(m) == GT_TAG_CHILD_EXIT) {
            grove_reason_t r;
            memcpy(&r, grove_msg_data(m), sizeof r);
            grove_msg_free(m);
            grove_exit(&r);
        }
        if (grove_msg_kind(m) == GROVE_MSG_USER &&
            grove_msg_tag(m) == GT_TAG_PING)
            grove_send_ref(grove_msg_from(m), GT_TAG_PONG, grove_msg_ref(m),
                           NULL, 0);
        grove_msg_free(m);
    }
}

static int tc_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    tc_t *c = arg;
    int delay;
    int what = tc_attempt(c, &delay);
    if (what == ATTEMPT_FAIL) {
        if (delay > 0)
            grove_sleep(delay);
        gt_ev("fail:%s", c->id);
        if (why)
            *why = grove_reason_error(7, "%s would not start", c->id);
        return GROVE_ESTARTFAIL;
    }
    if (what == ATTEMPT_IGNORE) {
        gt_ev("ignore:%s", c->id);
        return GROVE_EIGNORE;
    }
    pthread_mutex_lock(&tc_mu);
    grove_spawn_opts_t o = {.link = true, .trap_exit = !c->no_trap};
    pthread_mutex_unlock(&tc_mu);
    grove_pid_t p = GROVE_PID_NONE;
    int rc = grove_spawn(tc_main, c, &o, &p);
    if (rc != 0) {
        if (why)
            *why = grove_reason_error(rc, "spawn failed");
        return rc;
    }
    tc_started(c, p);
    *pid = p;
    return 0;
}

/* The gen_server flavour. Its state is one of these, in the server's
 * own arena. */
typedef struct tc_gs_state {
    tc_t *c;
    bool crashing;
} tc_gs_state_t;

static const uint64_t TC_CRASH_CONT = 1;

static grove_gs_ret_t tc_gs_init(grove_gs_t *gs, void *arg)
{
    tc_t *c = arg;
    int delay;
    int what = tc_attempt(c, &delay);
    if (what == ATTEMPT_FAIL) {
        if (delay > 0)
            grove_sleep(delay);
        gt_ev("fail:%s", c->id);
        return GROVE_GS_INIT_ERROR(
            grove_reason_error(7, "%s would not start", c->id));
    }
    if (what == ATTEMPT_IGNORE) {
        gt_ev("ignore:%s", c->id);
        return GROVE_GS_INIT_IGNORE();
    }
    tc_gs_state_t *st = grove_alloc(sizeof *st);
    if (!st)
        return GROVE_GS_INIT_ERROR(grove_reason_error(8, "no memory"));
    st->c = c;
    st->crashing = false;
    grove_gs_set_state(gs, st);
    tc_started(c, grove_self());
    if (tc_take_crash(c))
        return grove_gs_with_continue(GROVE_GS_INIT_OK(),
                                      (void *)&TC_CRASH_CONT);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t tc_gs_continue(grove_gs_t *gs, void *cont)
{
    tc_gs_state_t *st = grove_gs_state(gs);
    if (cont == &TC_CRASH_CONT) {
        st->crashing = true;
        return GROVE_GS_STOP(
            grove_reason_error(1, "%s crashed as it started", st->c->id));
    }
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t tc_gs_msg(grove_gs_t *gs, const grove_msg_t *m)
{
    tc_gs_state_t *st = grove_gs_state(gs);
    if (grove_msg_kind(m) != GROVE_MSG_USER)
        return GROVE_GS_NOREPLY();
    if (grove_msg_tag(m) == GT_TAG_CHILD_EXIT) {
        grove_reason_t r;
        memcpy(&r, grove_msg_data(m), sizeof r);
        st->crashing = true;
        return GROVE_GS_STOP(r);
    }
    if (grove_msg_tag(m) == GT_TAG_PING)
        grove_send_ref(grove_msg_from(m), GT_TAG_PONG, grove_msg_ref(m), NULL,
                       0);
    return GROVE_GS_NOREPLY();
}

static void tc_gs_terminate(grove_gs_t *gs, const grove_reason_t *reason)
{
    (void)reason;
    tc_gs_state_t *st = grove_gs_state(gs);
    if (!st || st->crashing)
        return;
    if (!tc_on_shutdown(st->c))
        grove_sleep(60000); /* ignores the shutdown: wait to be killed */
}

static const grove_gs_callbacks_t tc_gs_cb = {
    .name = "test_child",
    .init = tc_gs_init,
    .handle_cast = tc_gs_msg,
    .handle_info = tc_gs_msg,
    .handle_continue = tc_gs_continue,
    .terminate = tc_gs_terminate,
};

grove_child_spec_t gt_child(const char *id, int kind, int restart)
{
    pthread_mutex_lock(&tc_mu);
    tc_t *c = tc_find_locked(id);
    if (!c) {
        if (ntcs == CHILD_MAX || strlen(id) >= sizeof c->id) {
            pthread_mutex_unlock(&tc_mu);
            GT_FAIL("too many test children, or id too long: %s", id);
        }
        c = &tcs[ntcs++];
    }
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->kind = kind;
    c->gs_opts.trap_exit = true;
    pthread_mutex_unlock(&tc_mu);

    grove_child_spec_t s;
    memset(&s, 0, sizeof s);
    s.id = c->id;
    s.arg = c;
    s.restart = restart;
    switch (kind) {
    case GT_GEN_SERVER:
        s.gen_server = &tc_gs_cb;
        s.gs_opts = &c->gs_opts;
        break;
    case GT_ENTRY:
        s.entry = tc_main;
        break;
    default:
        s.start = tc_start;
        break;
    }
    return s;
}

void gt_child_fail(const char *id, int from, int count)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    c->fail_from = from;
    c->fail_count = count;
    pthread_mutex_unlock(&tc_mu);
}

void gt_child_ignore(const char *id, int from, int count)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    c->ignore_from = from;
    c->ignore_count = count;
    pthread_mutex_unlock(&tc_mu);
}

void gt_child_crash_runs(const char *id, int n)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    c->crash_runs = n;
    pthread_mutex_unlock(&tc_mu);
}

void gt_child_stop_delay(const char *id, int ms)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    c->stop_delay_ms = ms;
    pthread_mutex_unlock(&tc_mu);
}

void gt_child_ignore_shutdown(const char *id, bool on)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    c->ignore_shutdown = on;
    pthread_mutex_unlock(&tc_mu);
}

/* Set before the child's supervisor starts it: the gen_server flavour's
 * options are read by the supervisor without the lock. */
void gt_child_no_trap(const char *id, bool on)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    c->no_trap = on;
    c->gs_opts.trap_exit = !on;
    pthread_mutex_unlock(&tc_mu);
}

void gt_child_fail_delay(const char *id, int ms)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    c->fail_delay_ms = ms;
    pthread_mutex_unlock(&tc_mu);
}

int gt_child_attempts(const char *id)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    int n = c->attempts;
    pthread_mutex_unlock(&tc_mu);
    return n;
}

int gt_child_starts(const char *id)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    int n = c->starts;
    pthread_mutex_unlock(&tc_mu);
    return n;
}

grove_pid_t gt_child_pid(const char *id)
{
    tc_t *c = tc_get(id);
    pthread_mutex_lock(&tc_mu);
    grove_pid_t p = c->pid;
    pthread_mutex_unlock(&tc_mu);
    return p;
}

void gt_child_exit(const char *id, grove_reason_t r)
{
    grove_pid_t p = gt_child_pid(id);
    if (grove_pid_is_none(p))
        GT_FAIL("test child %s never started", id);
    if (r.kind == GROVE_EXIT_KILL)
        ASSERT_OK(grove_exit_signal(p, &r));
    else
        ASSERT_OK(grove_send(p, GT_TAG_CHILD_EXIT, &r, sizeof r));
}

/* ---- supervisor short-hands ------------------------------------------ */

grove_pid_t gt_sup_start_at(const char *file, int line,
                            const grove_sup_spec_t *spec)
{
    if (grove_trap_exit(true) < 0)
        gt_fail(file, line, "grove_trap_exit failed");
    grove_sup_opts_t o;
    memset(&o, 0, sizeof o);
    o.link = true;
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    int rc = grove_sup_start(spec, &o, &pid, &why);
    if (rc != 0)
        gt_fail(file, line, "grove_sup_start: %s (%s)", grove_errname(rc),
                gt_reason_str(why));
    if (grove_pid_is_none(pid))
        gt_fail(file, line, "grove_sup_start gave no pid");
    return pid;
}

void gt_sup_shutdown_at(const char *file, int line, grove_pid_t sup)
{
    grove_reason_t sd = grove_reason_shutdown(NULL);
    int rc = grove_exit_signal(sup, &sd);
    if (rc != 0)
        gt_fail(file, line, "exit signal to the supervisor: %s",
                grove_errname(rc));
    grove_reason_t r = gt_expect_exit_at(file, line, sup);
    gt_assert_reason(file, line, "the supervisor's exit", r, sd);
}

size_t gt_sup_children(grove_pid_t sup, grove_child_info_t *out, size_t max)
{
    size_t n = 0;
    ASSERT_OK(grove_sup_which_children(grove_server_pid(sup), out, max, &n));
    return n;
}

bool gt_sup_child(grove_pid_t sup, const char *id, grove_child_info_t *out)
{
    grove_child_info_t v[CHILD_MAX];
    size_t n = gt_sup_children(sup, v, CHILD_MAX);
    if (n > CHILD_MAX)
        n = CHILD_MAX;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].id, id) == 0) {
            if (out)
                *out = v[i];
            return true;
        }
    }
    return false;
}

grove_child_counts_t gt_sup_counts(grove_pid_t sup)
{
    grove_child_counts_t c;
    memset(&c, 0, sizeof c);
    ASSERT_OK(grove_sup_count_children(grove_server_pid(sup), &c));
    return c;
}

grove_sup_stats_t gt_sup_stats_of(grove_pid_t sup)
{
    grove_sup_stats_t s;
    memset(&s, 0, sizeof s);
    ASSERT_OK(grove_sup_stats(grove_server_pid(sup), &s));
    return s;
}

grove_pid_t gt_sup_child_pid(grove_pid_t sup, const char *id)
{
    grove_child_info_t ci;
    if (!gt_sup_child(sup, id, &ci) || ci.state != GROVE_CHILD_RUNNING)
        return GROVE_PID_NONE;
    return ci.pid;
}

int gt_sup_child_state(grove_pid_t sup, const char *id)
{
    grove_child_info_t ci;
    if (!gt_sup_child(sup, id, &ci))
        return 0;
    return ci.state;
}

grove_pid_t gt_wait_restarted_at(const char *file, int line, grove_pid_t sup,
                                 const char *id, grove_pid_t old)
{
    int64_t dl = gt_now_ms() + gt_scaled_ms(GT_WAIT_MS);
    for (;;) {
        grove_pid_t p = gt_sup_child_pid(sup, id);
        if (!grove_pid_is_none(p) && !grove_pid_equal(p, old))
            return p;
        if (gt_now_ms() > dl)
            gt_fail(file, line, "child %s was not restarted (pid %s)", id,
                    gt_pid_str(p));
        grove_sleep(1);
    }
}

bool gt_reason_has(const grove_reason_t *r, const char *needle)
{
    char buf[256];
    grove_reason_format(r, buf, sizeof buf);
    return strstr(r->text, needle) != NULL || strstr(buf, needle) != NULL;
}

/* ---- supervisor reports ---------------------------------------------------- */

#define GT_REPORTS_MAX 128

static struct {
    pthread_mutex_t mu;
    int n;
    char text[GT_REPORTS_MAX][512];
} gt_reports = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void gt_on_report(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (!ev->kind || strcmp(ev->kind, "supervisor_report") != 0)
        return;
    char buf[512];
    size_t len = (size_t)snprintf(buf, sizeof buf, "%s", ev->text);
    for (size_t i = 0; i < ev->nfields && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, " %s=%s",
                                ev->fields[i].key, ev->fields[i].value);
    pthread_mutex_lock(&gt_reports.mu);
    if (gt_reports.n < GT_REPORTS_MAX)
        snprintf(gt_reports.text[gt_reports.n++], sizeof gt_reports.text[0],
                 "%s", buf);
    pthread_mutex_unlock(&gt_reports.mu);
}

int gt_reports_start(grove_log_handler_t **h)
{
    pthread_mutex_lock(&gt_reports.mu);
    gt_reports.n = 0;
    pthread_mutex_unlock(&gt_reports.mu);
    return grove_log_add_handler(gt_on_report, NULL, GROVE_LOG_DEBUG, h);
}

int gt_reports_naming(const char *what, const char *and)
{
    int k = 0;
    pthread_mutex_lock(&gt_reports.mu);
    for (int i = 0; i < gt_reports.n; i++)
        if (strstr(gt_reports.text[i], what) &&
            (!and || strstr(gt_reports.text[i], and)))
            k++;
    pthread_mutex_unlock(&gt_reports.mu);
    return k;
}

int gt_reports_count(void)
{
    pthread_mutex_lock(&gt_reports.mu);
    int n = gt_reports.n;
    pthread_mutex_unlock(&gt_reports.mu);
    return n;
}

void gt_reports_dump(void)
{
    pthread_mutex_lock(&gt_reports.mu);
    for (int i = 0; i < gt_reports.n; i++)
        gt_note("report %d: %s", i, gt_reports.text[i]);
    pthread_mutex_unlock(&gt_reports.mu);
}
