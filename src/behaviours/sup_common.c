/* Supervision pieces shared by supervisor.c and dynamic_supervisor.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "behaviours/sup_common.h"
#include "base/failpoint.h"

/* The runtime's clock: logical in deterministic builds, so restart
 * intensity and backoff replay exactly from a seed. */
uint64_t grove__mono_ms(void) { return grove_now_ms(); }

int grove__child_start(const grove_child_spec_t *sp, void *extra,
                       grove_pid_t *pid, grove_reason_t *why)
{
    *pid = GROVE_PID_NONE;
    if (sp->start)
        return sp->start(sp->arg, pid, why);
    if (sp->start_extra)
        return sp->start_extra(extra, sp->arg, pid, why);
    if (sp->gen_server) {
        grove_gs_opts_t o = {0};
        if (sp->gs_opts)
            o = *sp->gs_opts;
        o.link = true;
        o.monitor = false; /* the supervisor's link is its watch */
        o.monitor_ref = NULL;
        return grove_gs_start(sp->gen_server, sp->arg, &o, pid, why);
    }
    if (sp->supervisor) {
        grove_sup_opts_t o = {0};
        if (sp->gs_opts)
            o = *sp->gs_opts; /* e.g. its registered name */
        o.link = true;
        o.monitor = false;
        o.monitor_ref = NULL;
        return grove_sup_start(sp->supervisor, &o, pid, why);
    }
    grove_spawn_opts_t o = {.link = true};
    int rc = grove_spawn(sp->entry, sp->arg, &o, pid);
    if (rc < 0 && why)
        *why = grove_reason_error(rc, "spawn: %s", grove_errname(rc));
    return rc;
}

grove_sup_stats_t grove__intensity_stats(const grove__intensity_t *in,
                                         uint64_t restarts, int strategy)
{
    return (grove_sup_stats_t){.restarts = restarts,
                               .in_window = in->len,
                               .strategy = strategy,
                               .max_restarts = in->max,
                               .max_seconds = (int)in->period};
}

int grove__intensity_init(grove__intensity_t *in, int max, int period)
{
    memset(in, 0, sizeof *in);
    in->max = max;
    in->period = (uint64_t)period;
    in->cap = (size_t)max + 1 < 8 ? (size_t)max + 1 : 8;
    in->ring = grove__calloc(in->cap, sizeof *in->ring);
    return in->ring ? 0 : GROVE_ENOMEM;
}

/* Doubles the ring (up to max + 1), keeping its entries in order. */
static bool intensity_grow(grove__intensity_t *in)
{
    size_t limit = (size_t)in->max + 1;
    size_t ncap = in->cap * 2 < limit ? in->cap * 2 : limit;
    uint64_t *n = grove__malloc(ncap * sizeof *n);
    if (!n)
        return false;
    for (size_t i = 0; i < in->len; i++)
        n[i] = in->ring[(in->head + i) % in->cap];
    free(in->ring);
    in->ring = n;
    in->cap = ncap;
    in->head = 0;
    return true;
}

bool grove__intensity_add(grove__intensity_t *in)
{
    uint64_t now = grove__mono_ms() / 1000u;
    /* OTP keeps an entry exactly period seconds old. */
    while (in->len && in->ring[in->head] + in->period < now) {
        in->head = (in->head + 1) % in->cap;
        in->len--;
    }
    if (in->len == in->cap &&
        (in->cap == (size_t)in->max + 1 || !intensity_grow(in)))
        return false; /* over: max + 1 inside the window (or no memory) */
    in->ring[(in->head + in->len) % in->cap] = now;
    in->len++;
    return in->len <= (size_t)in->max;
}

void grove__intensity_free(grove__intensity_t *in)
{
    free(in->ring);
    in->ring = NULL;
}

static bool is_exit_from(const grove_msg_t *m, void *arg)
{
    return grove_msg_kind(m) == GROVE_MSG_EXIT &&
           grove_msg_from(m).id == *(uint64_t *)arg;
}

bool grove__child_shutdown_begin(grove_pid_t pid, grove_timeout_t t,
                                 grove_ref_t *mref)
{
    /* Built once: a stop of many children asks each the same. */
    static const grove_reason_t kill = {.kind = GROVE_EXIT_KILL};
    static const grove_reason_t shutdown = {.kind = GROVE_EXIT_SHUTDOWN};
    /* Monitor, unlink and exit signal, in OTP's order, as one signal. */
    if (grove__shutdown_signal(
            pid, t == GROVE_SHUTDOWN_BRUTAL_KILL ? &kill : &shutdown,
            mref) == 0)
        return true;
    /* Out of memory for the monitor: it cannot be waited for, so it is
     * killed (exit signals are never lost). */
    grove_unlink(pid);
    grove_exit_signal(pid, &kill);
    return false;
}

void grove__child_shutdown(grove_pid_t pid, grove_timeout_t t,
                           grove_reason_t *end)
{
    grove_ref_t mref;
    if (!grove__child_shutdown_begin(pid, t, &mref)) {
        *end = grove_reason_of(GROVE_EXIT_KILLED);
        return;
    }
    grove_msg_t *m = NULL;
    uint64_t id = pid.id;
    /* An EXIT it sent before the unlink took effect tells how it ended by
     * itself (the exit signal then found it gone). */
    if (grove_recv_match(&m, is_exit_from, &id, 0) == 0) {
        *end = *grove_msg_reason(m);
        grove_msg_free(m);
        grove_demonitor(mref, GROVE_DEMONITOR_FLUSH);
        return;
    }
    grove_timeout_t wait = t == GROVE_SHUTDOWN_BRUTAL_KILL ||
                                   t == GROVE_SHUTDOWN_INFINITY
                               ? GROVE_INFINITY
                           : t == GROVE_SHUTDOWN_IMMEDIATE ? 0
                                                           : t;
    if (grove_recv_ref(&m, mref, wait) != 0) {
        grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
        grove_exit_signal(pid, &kill);
        grove_recv_ref(&m, mref, GROVE_INFINITY);
    }
    *end = *grove_msg_reason(m);
    grove_msg_free(m);
}

bool grove__shutdown_accepted(int restart, grove_timeout_t shutdown,
                              const grove_reason_t *r)
{
    if (r->kind == GROVE_EXIT_KILLED)
        return shutdown == GROVE_SHUTDOWN_BRUTAL_KILL;
    if (grove__reason_plain_shutdown(r))
        return true;
    return restart != GROVE_PERMANENT && grove_reason_is_shutdown_class(r);
}

uint64_t grove__backoff_started(const grove_backoff_t *b)
{
    return b->initial_ms ? grove__mono_ms() : 0;
}

uint32_t grove__backoff_next(const grove_backoff_t *b, uint32_t *delay,
                             uint64_t started_ms, unsigned *seed)
{
    if (!b->initial_ms)
        return 0;
    uint32_t max = b->max_ms ? b->max_ms : 30000;
    uint32_t reset = b->reset_after_ms ? b->reset_after_ms : 10000;
    if (started_ms && grove__mono_ms() - started_ms >= reset)
        *delay = 0; /* it ran long enough: start over */
    uint32_t d = *delay ? *delay * 2 : b->initial_ms;
    if (d > max)
        d = max;
    *delay = d;
    if (b->jitter_pct) {
        uint32_t span = d * b->jitter_pct / 100;
        *seed = *seed * 1103515245u + 12345u;
        int32_t noise = (int32_t)((*seed >> 8) % (2 * span + 1)) -
                        (int32_t)span;
        d = (uint32_t)((int32_t)d + noise);
    }
    return d;
}

uint32_t grove__backoff_failed_start(const grove_backoff_t *b,
                                     uint32_t *delay, unsigned *seed)
{
    /* No stable run to reset the delay: it keeps growing. */
    return grove__backoff_next(b, delay, 0, seed);
}

int grove__sup_call(grove_server_t sup, uint64_t req, const void *data,
                    size_t size, grove_msg_t **reply)
{
    grove_reason_t why;
    int rc = grove_gs_try_call(sup, req, data, size, reply, GROVE_INFINITY,
                               &why);
    return rc == GROVE_EEXITED ? GROVE_ENOPROC : rc;
}

int grove__sup_call_copy(grove_server_t sup, uint64_t req, const void *data,
                         size_t size, void *out, size_t out_size)
{
    grove_msg_t *m;
    int rc = grove__sup_call(sup, req, data, size, &m);
    if (rc < 0)
        return rc;
    size_t got = grove_msg_size(m);
    if (got < out_size)
        memset(out, 0, out_size); /* a short reply leaves zeros, not junk */
    if (got)
        memcpy(out, grove_msg_data(m), got < out_size ? got : out_size);
    grove_msg_free(m);
    return 0;
}

int grove__sup_call_children(grove_server_t sup, uint64_t req,
                             grove_child_info_t *out, size_t max, size_t *n)
{
    if ((!out && max) || !n)
        return GROVE_EINVAL;
    grove_msg_t *m;
    int rc = grove__sup_call(sup, req, NULL, 0, &m);
    if (rc < 0)
        return rc;
    size_t total = grove_msg_size(m) / sizeof(grove_child_info_t);
    size_t k = total < max ? total : max;
    if (k)
        memcpy(out, grove_msg_data(m), k * sizeof *out);
    *n = total;
    grove_msg_free(m);
    return 0;
}
