/* Grove-specific test helpers: see grove_test.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include "grove_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t),
               "the echo passes a pid id through its void * argument");

const char *gt_reason_str(grove_reason_t r)
{
    static _Thread_local char buf[4][256];
    static _Thread_local int next;
    char *b = buf[next++ & 3];
    grove_reason_format(&r, b, sizeof buf[0]);
    return b;
}

const char *gt_pid_str(grove_pid_t p)
{
    static _Thread_local char buf[4][GROVE_PID_STR_MAX];
    static _Thread_local int next;
    char *b = buf[next++ & 3];
    return grove_pid_format(p, b, sizeof buf[0]);
}

void gt_assert_pid(const char *file, int line, const char *ea,
                   const char *eb, grove_pid_t a, grove_pid_t b, bool eq)
{
    if (grove_pid_equal(a, b) == eq)
        return;
    gt_fail(file, line, "ASSERT_PID_%s(%s, %s) failed: %s vs %s",
            eq ? "EQ" : "NE", ea, eb, gt_pid_str(a), gt_pid_str(b));
}

void gt_assert_reason(const char *file, int line, const char *expr,
                      grove_reason_t got, grove_reason_t want)
{
    if (grove_reason_equal(&got, &want))
        return;
    gt_fail(file, line, "reason of %s: got %s (kind %d code %d), want %s",
            expr, gt_reason_str(got), got.kind, got.code,
            gt_reason_str(want));
}

void gt_assert_kind(const char *file, int line, const char *expr,
                    grove_reason_t got, int kind)
{
    if (got.kind == kind)
        return;
    gt_fail(file, line, "reason kind of %s: got %s (%s), want %s", expr,
            grove_exit_kind_name(got.kind), gt_reason_str(got),
            grove_exit_kind_name(kind));
}

grove_stats_t gt_stats(void)
{
    grove_stats_t s;
    memset(&s, 0, sizeof s);
    int rc = grove_stats(&s);
    if (rc != 0)
        GT_FAIL("grove_stats: %s", grove_errname(rc));
    return s;
}

void gt_nap(int64_t ms)
{
    if (!grove_pid_is_none(grove_self()))
        grove_sleep(ms);
    else
        gt_os_sleep_ms(ms);
}

grove_pid_t gt_spawn_at(const char *file, int line, grove_entry_fn fn,
                        void *arg, const grove_spawn_opts_t *opts)
{
    grove_pid_t pid = GROVE_PID_NONE;
    int rc = grove_spawn(fn, arg, opts, &pid);
    if (rc != 0)
        gt_fail(file, line, "grove_spawn failed: %s", grove_errname(rc));
    if (grove_pid_is_none(pid))
        gt_fail(file, line, "grove_spawn returned GROVE_PID_NONE");
    return pid;
}

/* The leak counters, compared against their values before the body. */
static bool live_counters_back(const grove_stats_t *s,
                               const grove_stats_t *base)
{
    return s->messages_live <= base->messages_live &&
           s->timers_live <= base->timers_live &&
           s->resources_live <= base->resources_live &&
           s->arena_bytes_live <= base->arena_bytes_live;
}

static void wait_settled(const gt_opts_t *o, const grove_stats_t *base)
{
    int64_t dl = gt_now_ms() + gt_scaled_ms(10000);
    grove_stats_t s = gt_stats();
    while (s.processes_alive > base->processes_alive) {
        if (gt_now_ms() > dl)
            GT_FAIL("%llu processes still alive after the test body "
                    "(%llu before it)",
                    (unsigned long long)s.processes_alive,
                    (unsigned long long)base->processes_alive);
        gt_os_sleep_ms(2);
        s = gt_stats();
    }
    if (o->no_leak_check)
        return;
    dl = gt_now_ms() + gt_scaled_ms(2000);
    while (!live_counters_back(&s, base)) {
        if (gt_now_ms() > dl)
            GT_FAIL("leak: live messages %llu, timers %llu, resources "
                    "%llu, arena bytes %llu (before the body: %llu, %llu, "
                    "%llu, %llu)",
                    (unsigned long long)s.messages_live,
                    (unsigned long long)s.timers_live,
                    (unsigned long long)s.resources_live,
                    (unsigned long long)s.arena_bytes_live,
                    (unsigned long long)base->messages_live,
                    (unsigned long long)base->timers_live,
                    (unsigned long long)base->resources_live,
                    (unsigned long long)base->arena_bytes_live);
        gt_os_sleep_ms(2);
        s = gt_stats();
    }
}

/* Open file descriptors of this process (the directory's own excepted). */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

void gt_run_process(void (*body)(void *), void *arg, const gt_opts_t *o)
{
    int fds = count_fds();
    grove_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.schedulers = o->schedulers ? o->schedulers : 2;
    cfg.stack_size = o->stack_size;
    cfg.max_processes = o->max_processes;
    cfg.stack_trim_ms = o->stack_trim_ms;
    ASSERT_OK(grove_start(&cfg));
    grove_stats_t base = gt_stats();
    grove_reason_t r;
    memset(&r, 0, sizeof r);
    ASSERT_OK(grove_run(body, arg, &r));
    if (!o->any_reason && r.kind != o->expect_kind)
        GT_FAIL("the test process exited with %s, expected kind %s",
                gt_reason_str(r), grove_exit_kind_name(o->expect_kind));
    if (!o->leave_alive)
        wait_settled(o, &base);
    ASSERT_OK(grove_stop());
    ASSERT_FALSE(grove_running());
    grove_stats_t s;
    memset(&s, 0, sizeof s);
    if (!o->no_leak_check && grove_stats(&s) == 0) {
        grove_stats_t zero;
        memset(&zero, 0, sizeof zero);
        if (!live_counters_back(&s, &zero))
            GT_FAIL("leak after grove_stop: live messages %llu, timers "
                    "%llu, resources %llu, arena bytes %llu",
                    (unsigned long long)s.messages_live,
                    (unsigned long long)s.timers_live,
                    (unsigned long long)s.resources_live,
                    (unsigned long long)s.arena_bytes_live);
    }
    /* Everything the test's processes opened as resources is closed. */
    if (!o->no_leak_check && fds >= 0 && count_fds() != fds)
        GT_FAIL("file descriptors leaked: %d open before the runtime "
                "started, %d after it stopped", fds, count_fds());
}

/* Matching for the waits below. */
typedef struct match {
    int kind;
    bool any_from;
    grove_pid_t from;
    grove_ref_t ref;
    uint64_t tag;
} match_t;

static bool match_msg(const grove_msg_t *m, void *arg)
{
    const match_t *w = arg;
    if (grove_msg_kind(m) != w->kind)
        return false;
    if (!w->any_from && !grove_pid_equal(grove_msg_from(m), w->from))
        return false;
    if (w->ref.id && grove_msg_ref(m).id != w->ref.id)
        return false;
    if (w->kind == GROVE_MSG_USER && grove_msg_tag(m) != w->tag)
        return false;
    return true;
}

static grove_msg_t *wait_match(const char *file, int line, match_t *w,
                               const char *what)
{
    grove_msg_t *m = NULL;
    int rc = grove_recv_match(&m, match_msg, w, gt_scaled_ms(GT_WAIT_MS));
    if (rc != 0)
        gt_fail(file, line, "waiting for %s: %s", what, grove_errname(rc));
    return m;
}

static grove_reason_t msg_reason(const char *file, int line,
                                 const grove_msg_t *m)
{
    const grove_reason_t *r = grove_msg_reason(m);
    if (!r)
        gt_fail(file, line, "EXIT/DOWN message without a reason");
    return *r;
}

grove_reason_t gt_expect_exit_at(const char *file, int line,
                                 grove_pid_t from)
{
    match_t w = {GROVE_MSG_EXIT, false, from, GROVE_REF_NONE, 0};
    char what[64];
    snprintf(what, sizeof what, "EXIT from %s", gt_pid_str(from));
    grove_msg_t *m = wait_match(file, line, &w, what);
    grove_reason_t r = msg_reason(file, line, m);
    grove_msg_free(m);
    return r;
}

grove_reason_t gt_expect_down_at(const char *file, int line, grove_ref_t ref,
                                 grove_pid_t from)
{
    match_t w = {GROVE_MSG_DOWN, true, GROVE_PID_NONE, ref, 0};
    if (ref.id == 0)
        gt_fail(file, line, "EXPECT_DOWN with GROVE_REF_NONE");
    grove_msg_t *m = wait_match(file, line, &w, "DOWN");
    if (!grove_pid_is_none(from) && !grove_pid_equal(grove_msg_from(m), from))
        gt_fail(file, line, "DOWN names %s, expected %s",
                gt_pid_str(grove_msg_from(m)), gt_pid_str(from));
    grove_reason_t r = msg_reason(file, line, m);
    grove_msg_free(m);
    return r;
}

/* The watches: (watcher, watched, monitor ref), shared by every process
 * of the test under one mutex. */
#define WATCH_MAX 4096

static struct watch {
    uint64_t owner, pid, ref;
} watches[WATCH_MAX];
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;

static void remember(const char *file, int line, grove_pid_t pid,
                     grove_ref_t ref)
{
    uint64_t owner = grove_self().id;
    pthread_mutex_lock(&watch_mu);
    for (int i = 0; i < WATCH_MAX; i++) {
        if (watches[i].ref == 0) {
            watches[i] = (struct watch){owner, pid.id, ref.id};
            pthread_mutex_unlock(&watch_mu);
            return;
        }
    }
    pthread_mutex_unlock(&watch_mu);
    gt_fail(file, line, "more than %d watched processes", WATCH_MAX);
}

static grove_ref_t take_watch(grove_pid_t pid)
{
    uint64_t owner = grove_self().id;
    grove_ref_t ref = GROVE_REF_NONE;
    pthread_mutex_lock(&watch_mu);
    for (int i = 0; i < WATCH_MAX; i++) {
        if (watches[i].owner == owner && watches[i].pid == pid.id &&
            watches[i].ref != 0) {
            ref.id = watches[i].ref;
            watches[i] = (struct watch){0, 0, 0};
            break;
        }
    }
    pthread_mutex_unlock(&watch_mu);
    return ref;
}

grove_pid_t gt_spawn_mon_at(const char *file, int line, grove_entry_fn fn,
                            void *arg, const grove_spawn_opts_t *opts)
{
    grove_spawn_opts_t o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    grove_ref_t ref = GROVE_REF_NONE;
    o.monitor = true;
    o.monitor_ref = &ref;
    grove_pid_t pid = gt_spawn_at(file, line, fn, arg, &o);
    if (ref.id == 0)
        gt_fail(file, line, "spawn with monitor gave no reference");
    remember(file, line, pid, ref);
    return pid;
}

void gt_watch_at(const char *file, int line, grove_pid_t pid)
{
    grove_ref_t ref;
    int rc = grove_monitor(pid, &ref);
    if (rc != 0)
        gt_fail(file, line, "grove_monitor: %s", grove_errname(rc));
    remember(file, line, pid, ref);
}

grove_reason_t gt_await_exit_at(const char *file, int line, grove_pid_t pid)
{
    grove_ref_t ref = take_watch(pid);
    if (ref.id == 0)
        gt_fail(file, line, "AWAIT_EXIT(%s): not watched (SPAWN_MON or "
                "WATCH it first)", gt_pid_str(pid));
    return gt_expect_down_at(file, line, ref, pid);
}

void gt_stop_echo_at(const char *file, int line, grove_pid_t echo)
{
    gt_watch_at(file, line, echo);
    int rc = grove_send(echo, GT_TAG_STOP, NULL, 0);
    if (rc != 0)
        gt_fail(file, line, "sending stop: %s", grove_errname(rc));
    grove_reason_t r = gt_await_exit_at(file, line, echo);
    grove_reason_t normal = grove_reason_normal();
    gt_assert_reason(file, line, "the echo's exit", r, normal);
}

grove_msg_t *gt_expect_tag_at(const char *file, int line, uint64_t tag)
{
    match_t w = {GROVE_MSG_USER, true, GROVE_PID_NONE, GROVE_REF_NONE, tag};
    char what[64];
    snprintf(what, sizeof what, "a message with tag 0x%llx",
             (unsigned long long)tag);
    return wait_match(file, line, &w, what);
}

void gt_expect_no_msg_at(const char *file, int line, int64_t ms)
{
    grove_msg_t *m = NULL;
    int rc = grove_recv(&m, ms);
    if (rc == GROVE_ETIMEDOUT)
        return;
    if (rc != 0)
        gt_fail(file, line, "grove_recv: %s", grove_errname(rc));
    const grove_reason_t *r = grove_msg_reason(m);
    gt_fail(file, line,
            "expected no message, got kind %d tag 0x%llx from %s%s%s",
            grove_msg_kind(m), (unsigned long long)grove_msg_tag(m),
            gt_pid_str(grove_msg_from(m)), r ? " reason " : "",
            r ? gt_reason_str(*r) : "");
}

/* The echo process. */

static void echo_ack(const grove_msg_t *m, int rc, grove_ref_t ref)
{
    gt_ack_t ack = {rc, ref};
    grove_send_ref(grove_msg_from(m), GT_TAG_ACK, grove_msg_ref(m), &ack,
                   sizeof ack);
}

static void echo_forward(grove_pid_t report, const grove_msg_t *m)
{
    if (grove_pid_is_none(report))
        return;
    gt_fwd_t f;
    memset(&f, 0, sizeof f);
    f.kind = grove_msg_kind(m);
    f.from = grove_msg_from(m);
    f.ref = grove_msg_ref(m);
    f.tag = grove_msg_tag(m);
    if (grove_msg_reason(m))
        f.reason = *grove_msg_reason(m);
    grove_send(report, GT_TAG_FWD, &f, sizeof f);
}

static void echo_request(grove_pid_t report, grove_msg_t *m)
{
    const void *d = grove_msg_data(m);
    grove_pid_t p;
    grove_ref_t ref = GROVE_REF_NONE;
    switch (grove_msg_tag(m)) {
    case GT_TAG_PING:
        grove_send_ref(grove_msg_from(m), GT_TAG_PONG, grove_msg_ref(m), d,
                       grove_msg_size(m));
        break;
    case GT_TAG_TRAP: {
        bool on;
        memcpy(&on, d, sizeof on);
        echo_ack(m, grove_trap_exit(on), ref);
        break;
    }
    case GT_TAG_LINK:
        memcpy(&p, d, sizeof p);
        echo_ack(m, grove_link(p), ref);
        break;
    case GT_TAG_UNLINK:
        memcpy(&p, d, sizeof p);
        echo_ack(m, grove_unlink(p), ref);
        break;
    case GT_TAG_MONITOR: {
        memcpy(&p, d, sizeof p);
        int rc = grove_monitor(p, &ref);
        echo_ack(m, rc, ref);
        break;
    }
    case GT_TAG_SIGNAL: {
        gt_signal_req_t req;
        memcpy(&req, d, sizeof req);
        echo_ack(m, grove_exit_signal(req.to, &req.reason), ref);
        break;
    }
    default:
        echo_forward(report, m);
        break;
    }
}

void gt_echo_main(void *arg)
{
    grove_pid_t report = {(uint64_t)(uintptr_t)arg};
    for (;;) {
        grove_msg_t *m = NULL;
        int rc = grove_recv(&m, GROVE_INFINITY);
        if (rc != 0)
            grove_exit_error(rc, "echo: grove_recv failed");
        if (grove_msg_kind(m) != GROVE_MSG_USER) {
            echo_forward(report, m);
        } else if (grove_msg_tag(m) == GT_TAG_STOP) {
            grove_msg_free(m);
            return;
        } else if (grove_msg_tag(m) == GT_TAG_EXIT_WITH) {
            grove_reason_t r;
            memcpy(&r, grove_msg_data(m), sizeof r);
            grove_msg_free(m);
            grove_exit(&r);
        } else {
            echo_request(report, m);
        }
        grove_msg_free(m);
    }
}

grove_pid_t gt_spawn_echo_at(const char *file, int line,
                             grove_pid_t report_to,
                             const grove_spawn_opts_t *opts)
{
    return gt_spawn_at(file, line, gt_echo_main,
                       (void *)(uintptr_t)report_to.id, opts);
}

/* Waits for the reply carrying ref, or the DOWN of mref. */
typedef struct reply_match {
    grove_ref_t ref;
    grove_ref_t mref;
} reply_match_t;

static bool match_reply(const grove_msg_t *m, void *arg)
{
    const reply_match_t *w = arg;
    uint64_t id = grove_msg_ref(m).id;
    if (grove_msg_kind(m) == GROVE_MSG_DOWN)
        return id == w->mref.id;
    return grove_msg_kind(m) == GROVE_MSG_USER && id == w->ref.id;
}

static grove_msg_t *request(grove_pid_t to, uint64_t tag, const void *data,
                            size_t size)
{
    reply_match_t w;
    if (grove_monitor(to, &w.mref) != 0)
        GT_FAIL("grove_monitor failed in a request");
    w.ref = grove_make_ref();
    int rc = grove_send_ref(to, tag, w.ref, data, size);
    if (rc != 0 && rc != GROVE_ENOPROC)
        GT_FAIL("grove_send_ref: %s", grove_errname(rc));
    grove_msg_t *m = NULL;
    rc = grove_recv_match(&m, match_reply, &w, gt_scaled_ms(GT_WAIT_MS));
    if (rc != 0)
        GT_FAIL("no reply from %s: %s", gt_pid_str(to), grove_errname(rc));
    if (grove_msg_kind(m) == GROVE_MSG_DOWN) {
        grove_msg_free(m);
        return NULL;
    }
    grove_demonitor(w.mref, GROVE_DEMONITOR_FLUSH);
    return m;
}

bool gt_echo_call(grove_pid_t echo, uint64_t tag, const void *data,
                  size_t size, gt_ack_t *ack)
{
    grove_msg_t *m = request(echo, tag, data, size);
    if (!m)
        return false;
    if (grove_msg_tag(m) != GT_TAG_ACK || grove_msg_size(m) != sizeof *ack)
        GT_FAIL("malformed reply from the echo");
    memcpy(ack, grove_msg_data(m), sizeof *ack);
    grove_msg_free(m);
    return true;
}

bool gt_ping(grove_pid_t pid)
{
    grove_msg_t *m = request(pid, GT_TAG_PING, NULL, 0);
    if (!m)
        return false;
    if (grove_msg_tag(m) != GT_TAG_PONG)
        GT_FAIL("ping answered with tag 0x%llx",
                (unsigned long long)grove_msg_tag(m));
    grove_msg_free(m);
    return true;
}

void gt_echo_exit(grove_pid_t echo, grove_reason_t r)
{
    ASSERT_OK(grove_send(echo, GT_TAG_EXIT_WITH, &r, sizeof r));
}

gt_fwd_t gt_expect_fwd_at(const char *file, int line, grove_pid_t echo)
{
    match_t w = {GROVE_MSG_USER, false, echo, GROVE_REF_NONE, GT_TAG_FWD};
    grove_msg_t *m = wait_match(file, line, &w, "a forwarded message");
    gt_fwd_t f;
    if (grove_msg_size(m) != sizeof f)
        gt_fail(file, line, "malformed forward");
    memcpy(&f, grove_msg_data(m), sizeof f);
    grove_msg_free(m);
    return f;
}

/* ---- registry callbacks ---------------------------------------------- */

bool gt_reg_pid_is(const void *key, size_t len, grove_pid_t pid,
                   uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)value;
    return grove_pid_equal(pid, *(grove_pid_t *)arg);
}

void gt_reg_ignore_entry(const void *key, size_t len, grove_pid_t pid,
                         uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)pid;
    (void)value;
    (void)arg;
}
