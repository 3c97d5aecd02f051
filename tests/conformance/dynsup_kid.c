/* The DynamicSupervisor tests' child and short-hands: see dynsup_kid.h. */
#include "dynsup_kid.h"

#include <string.h>

enum { DK_OK, DK_FAIL, DK_IGNORE };

void dk_init(dk_t *k)
{
    memset(k, 0, sizeof *k);
    pthread_mutex_init(&k->mu, NULL);
    k->trap = true;
    k->fail_reason = grove_reason_error(42, "dk refused to start");
    k->fail_code = GROVE_ESTARTFAIL;
    k->observer = grove_self();
    k->gs_opts.trap_exit = true;
}

static bool in_range(int n, int from, int count)
{
    return from > 0 && n >= from && (count < 0 || n < from + count);
}

/* Numbers an attempt and says how it goes; *sleep_ms is how long a
 * failing one waits first. */
static int attempt(dk_t *k, int *sleep_ms, grove_reason_t *why, int *code)
{
    pthread_mutex_lock(&k->mu);
    int n = ++k->attempts;
    int what = DK_OK;
    if (k->failing || in_range(n, k->fail_from, k->fail_count))
        what = DK_FAIL;
    else if (in_range(n, k->ignore_from, k->ignore_count))
        what = DK_IGNORE;
    *sleep_ms = what == DK_FAIL ? k->fail_sleep_ms : k->start_sleep_ms;
    *why = k->fail_reason;
    *code = k->fail_code;
    pthread_mutex_unlock(&k->mu);
    return what;
}

static void started(dk_t *k, grove_pid_t pid)
{
    pthread_mutex_lock(&k->mu);
    k->starts++;
    k->last_pid = pid;
    pthread_mutex_unlock(&k->mu);
}

/* A trapped exit signal: report it, then leave (or not). */
static void on_signal(dk_t *k, const dk_saw_t *s)
{
    pthread_mutex_lock(&k->mu);
    grove_pid_t observer = k->observer;
    bool ignore = k->ignore_shutdown;
    int stop_ms = k->stop_ms;
    grove_reason_t out = k->has_leave ? k->leave : s->reason;
    pthread_mutex_unlock(&k->mu);
    if (!grove_pid_is_none(observer))
        grove_send(observer, DK_TAG_SAW, s, sizeof *s);
    if (ignore)
        return;
    if (stop_ms > 0)
        grove_sleep(stop_ms);
    grove_exit(&out);
}

static void kid_loop(dk_t *k)
{
    for (;;) {
        grove_msg_t *m = NULL;
        if (grove_recv(&m, GROVE_INFINITY) != 0)
            grove_exit_error(2, "dk: receive failed");
        int kind = grove_msg_kind(m);
        if (kind == GROVE_MSG_EXIT) {
            dk_saw_t s = {grove_self(), grove_msg_from(m),
                          *grove_msg_reason(m)};
            grove_msg_free(m);
            on_signal(k, &s);
            continue;
        }
        if (kind == GROVE_MSG_USER && grove_msg_tag(m) == DK_TAG_EXIT) {
            grove_reason_t r;
            memcpy(&r, grove_msg_data(m), sizeof r);
            grove_msg_free(m);
            grove_exit(&r);
        }
        if (kind == GROVE_MSG_USER && grove_msg_tag(m) == GT_TAG_PING)
            grove_send_ref(grove_msg_from(m), GT_TAG_PONG, grove_msg_ref(m),
                           NULL, 0);
        grove_msg_free(m);
    }
}

static void kid_main(void *arg) { kid_loop(arg); }

static int dk_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    dk_t *k = arg;
    int sleep_ms, code;
    grove_reason_t fail;
    int what = attempt(k, &sleep_ms, &fail, &code);
    if (what == DK_FAIL) {
        if (sleep_ms > 0)
            grove_sleep(sleep_ms);
        if (why)
            *why = fail;
        return code;
    }
    if (what == DK_IGNORE)
        return GROVE_EIGNORE;
    pthread_mutex_lock(&k->mu);
    k->in_start++;
    grove_spawn_opts_t o = {.link = true, .trap_exit = k->trap,
                            .stack_size = k->stack_size};
    pthread_mutex_unlock(&k->mu);
    if (sleep_ms > 0)
        grove_sleep(sleep_ms);
    grove_pid_t p = GROVE_PID_NONE;
    int rc = grove_spawn(kid_main, k, &o, &p);
    if (rc != 0) {
        if (why)
            *why = grove_reason_error(rc, "dk: spawn failed");
        return rc;
    }
    started(k, p);
    *pid = p;
    return 0;
}

static int dk_start_extra(void *extra, void *arg, grove_pid_t *pid,
                          grove_reason_t *why)
{
    dk_t *k = arg;
    pthread_mutex_lock(&k->mu);
    k->extra_starts++;
    k->last_extra = extra;
    k->last_arg = arg;
    pthread_mutex_unlock(&k->mu);
    return dk_start(arg, pid, why);
}

static void dk_entry_main(void *arg)
{
    dk_t *k = arg;
    pthread_mutex_lock(&k->mu);
    bool trap = k->trap;
    k->attempts++;
    pthread_mutex_unlock(&k->mu);
    if (trap)
        grove_trap_exit(true);
    started(k, grove_self());
    kid_loop(k);
}

/* ---- the gen_server flavour ------------------------------------------ */

static grove_gs_ret_t dk_gs_init(grove_gs_t *gs, void *arg)
{
    dk_t *k = arg;
    int sleep_ms, code;
    grove_reason_t fail;
    int what = attempt(k, &sleep_ms, &fail, &code);
    if (what == DK_FAIL) {
        if (sleep_ms > 0)
            grove_sleep(sleep_ms);
        return GROVE_GS_INIT_ERROR(fail);
    }
    if (what == DK_IGNORE)
        return GROVE_GS_INIT_IGNORE();
    if (sleep_ms > 0)
        grove_sleep(sleep_ms);
    grove_gs_set_state(gs, k);
    started(k, grove_self());
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t dk_gs_info(grove_gs_t *gs, const grove_msg_t *m)
{
    if (grove_msg_kind(m) == GROVE_MSG_USER &&
        grove_msg_tag(m) == DK_TAG_EXIT) {
        grove_reason_t r;
        memcpy(&r, grove_msg_data(m), sizeof r);
        grove_gs_set_state(gs, NULL); /* asked to exit: nothing to report */
        return GROVE_GS_STOP(r);
    }
    if (grove_msg_kind(m) == GROVE_MSG_USER &&
        grove_msg_tag(m) == GT_TAG_PING)
        grove_send_ref(grove_msg_from(m), GT_TAG_PONG, grove_msg_ref(m),
                       NULL, 0);
    return GROVE_GS_NOREPLY();
}

static void dk_gs_terminate(grove_gs_t *gs, const grove_reason_t *reason)
{
    dk_t *k = grove_gs_state(gs);
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    grove_pid_t observer = k->observer;
    bool ignore = k->ignore_shutdown;
    int stop_ms = k->stop_ms;
    pthread_mutex_unlock(&k->mu);
    dk_saw_t s = {grove_self(), grove_gs_parent(gs), *reason};
    if (!grove_pid_is_none(observer))
        grove_send(observer, DK_TAG_SAW, &s, sizeof s);
    if (ignore)
        grove_sleep(60000); /* wait to be killed */
    if (stop_ms > 0)
        grove_sleep(stop_ms);
}

static const grove_gs_callbacks_t dk_gs_cb = {
    .name = "dynsup_kid",
    .init = dk_gs_init,
    .handle_cast = dk_gs_info,
    .handle_info = dk_gs_info,
    .terminate = dk_gs_terminate,
};

/* ---- specs ------------------------------------------------------------- */

static grove_child_spec_t base_spec(dk_t *k, int restart)
{
    grove_child_spec_t s;
    memset(&s, 0, sizeof s);
    s.id = "kid";
    s.arg = k;
    s.restart = restart;
    return s;
}

grove_child_spec_t dk_spec(dk_t *k, int restart)
{
    grove_child_spec_t s = base_spec(k, restart);
    s.start = dk_start;
    return s;
}

grove_child_spec_t dk_extra_spec(dk_t *k, int restart)
{
    grove_child_spec_t s = base_spec(k, restart);
    s.start_extra = dk_start_extra;
    return s;
}

grove_child_spec_t dk_gs_spec(dk_t *k, int restart)
{
    grove_child_spec_t s = base_spec(k, restart);
    k->gs_opts.trap_exit = k->trap;
    s.gen_server = &dk_gs_cb;
    s.gs_opts = &k->gs_opts;
    return s;
}

grove_child_spec_t dk_entry_spec(dk_t *k, int restart)
{
    grove_child_spec_t s = base_spec(k, restart);
    s.entry = dk_entry_main;
    return s;
}

int dk_attempts(dk_t *k)
{
    pthread_mutex_lock(&k->mu);
    int n = k->attempts;
    pthread_mutex_unlock(&k->mu);
    return n;
}

int dk_starts(dk_t *k)
{
    pthread_mutex_lock(&k->mu);
    int n = k->starts;
    pthread_mutex_unlock(&k->mu);
    return n;
}

grove_pid_t dk_last_pid(dk_t *k)
{
    pthread_mutex_lock(&k->mu);
    grove_pid_t p = k->last_pid;
    pthread_mutex_unlock(&k->mu);
    return p;
}

void dk_set_failing(dk_t *k, bool on)
{
    pthread_mutex_lock(&k->mu);
    k->failing = on;
    pthread_mutex_unlock(&k->mu);
}

void dk_set_stop(dk_t *k, int stop_ms, bool ignore_shutdown)
{
    pthread_mutex_lock(&k->mu);
    k->stop_ms = stop_ms;
    k->ignore_shutdown = ignore_shutdown;
    pthread_mutex_unlock(&k->mu);
}

void dk_exit(grove_pid_t kid, grove_reason_t r)
{
    if (r.kind == GROVE_EXIT_KILL)
        ASSERT_OK(grove_exit_signal(kid, &r));
    else
        ASSERT_OK(grove_send(kid, DK_TAG_EXIT, &r, sizeof r));
}

static bool is_saw(const grove_msg_t *m, void *arg)
{
    const grove_pid_t *kid = arg;
    if (grove_msg_kind(m) != GROVE_MSG_USER ||
        grove_msg_tag(m) != DK_TAG_SAW)
        return false;
    if (!kid || grove_pid_is_none(*kid))
        return true;
    dk_saw_t s;
    memcpy(&s, grove_msg_data(m), sizeof s);
    return grove_pid_equal(s.kid, *kid);
}

dk_saw_t dk_expect_saw_at(const char *file, int line, grove_pid_t kid)
{
    grove_msg_t *m = NULL;
    int rc = grove_recv_match(&m, is_saw, &kid, gt_scaled_ms(GT_WAIT_MS));
    if (rc != 0)
        gt_fail(file, line, "no exit signal reported by %s: %s",
                gt_pid_str(kid), grove_errname(rc));
    dk_saw_t s;
    memcpy(&s, grove_msg_data(m), sizeof s);
    grove_msg_free(m);
    return s;
}

int dk_drain_saw(void) { return grove_flush(is_saw, NULL); }

/* ---- the supervisor -------------------------------------------------- */

grove_pid_t ds_start_at(const char *file, int line,
                        const grove_dynsup_opts_t *opts)
{
    grove_dynsup_opts_t o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.link = true;
    if (grove_trap_exit(true) < 0)
        gt_fail(file, line, "grove_trap_exit failed");
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    int rc = grove_dynsup_start(&o, &pid, &why);
    if (rc != 0)
        gt_fail(file, line, "grove_dynsup_start: %s (%s)", grove_errname(rc),
                gt_reason_str(why));
    if (grove_pid_is_none(pid) || !grove_is_alive(pid))
        gt_fail(file, line, "grove_dynsup_start gave no live pid");
    return pid;
}

int64_t ds_stop_at(const char *file, int line, grove_pid_t sup)
{
    int64_t t0 = gt_now_ms();
    grove_reason_t sd = grove_reason_shutdown(NULL);
    int rc = grove_exit_signal(sup, &sd);
    if (rc != 0)
        gt_fail(file, line, "exit signal to the supervisor: %s",
                grove_errname(rc));
    grove_reason_t r = gt_expect_exit_at(file, line, sup);
    int64_t took = gt_now_ms() - t0;
    gt_assert_reason(file, line, "the supervisor's exit", r, sd);
    return took;
}

grove_pid_t ds_child_at(const char *file, int line, grove_pid_t sup,
                        const grove_child_spec_t *spec)
{
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    int rc = grove_dynsup_start_child(grove_server_pid(sup), spec, &pid,
                                      &why);
    if (rc != 0)
        gt_fail(file, line, "grove_dynsup_start_child: %s (%s)",
                grove_errname(rc), gt_reason_str(why));
    if (grove_pid_is_none(pid))
        gt_fail(file, line, "grove_dynsup_start_child gave no pid");
    return pid;
}

size_t ds_which(grove_pid_t sup, grove_child_info_t *out, size_t max)
{
    size_t n = 0;
    ASSERT_OK(grove_dynsup_which_children(grove_server_pid(sup), out, max,
                                          &n));
    return n;
}

grove_child_counts_t ds_counts(grove_pid_t sup)
{
    grove_child_counts_t c;
    memset(&c, 0xff, sizeof c);
    ASSERT_OK(grove_dynsup_count_children(grove_server_pid(sup), &c));
    return c;
}

int ds_only_state(grove_pid_t sup, grove_pid_t *pid)
{
    grove_child_info_t ci[2];
    size_t n = ds_which(sup, ci, 2);
    if (n > 1)
        GT_FAIL("expected at most one child, found %zu", n);
    if (n == 0)
        return 0;
    if (pid)
        *pid = ci[0].pid;
    return ci[0].state;
}

grove_pid_t ds_wait_new_at(const char *file, int line, grove_pid_t sup,
                           grove_pid_t old)
{
    int64_t dl = gt_now_ms() + gt_scaled_ms(GT_WAIT_MS);
    for (;;) {
        grove_pid_t p = GROVE_PID_NONE;
        int st = ds_only_state(sup, &p);
        if (st == GROVE_CHILD_RUNNING && !grove_pid_equal(p, old))
            return p;
        if (gt_now_ms() > dl)
            gt_fail(file, line, "the child was not restarted (state %d)",
                    st);
        grove_sleep(1);
    }
}
