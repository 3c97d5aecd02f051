/* DynamicSupervisor: children started at run time, one_for_one.
 *
 * Children are kept in a table keyed by pid (a restarting child by the pid
 * it had), so every operation on one child is O(1) whatever their number.
 * Stopping the supervisor signals every child at once and waits for their
 * DOWNs together, each found by its sender's pid and matched by the
 * reference of its monitor, kept in the child's record: the stop takes as
 * long as the slowest child, and no mailbox is ever rescanned per child.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviours/sup_common.h"
#include "base/failpoint.h"

enum {
    REQ_START_CHILD = 1,
    REQ_TERMINATE_CHILD,
    REQ_WHICH_CHILDREN,
    REQ_COUNT_CHILDREN,
    REQ_STATS,
    MSG_RETRY
};

typedef struct dchild {
    grove_child_spec_t spec; /* id not kept: ids are ignored */
    grove_pid_t pid;         /* current, or the last one while restarting */
    bool restarting;
    uint64_t restarts;
    uint32_t delay_ms;
    uint64_t started_ms;
    /* while the supervisor stops (shutdown_all) */
    uint64_t sd_ref;      /* the monitor awaited; 0: not awaited */
    uint64_t sd_deadline; /* ms when it is killed; 0: never */
    bool sd_killed;
} dchild_t;

typedef struct dsup {
    grove_dynsup_opts_t o;
    grove__map_t kids; /* pid.id -> dchild_t* */
    size_t awaiting; /* while it stops: children signalled, not yet gone */
    size_t count, active, supervisors;
    grove__intensity_t intensity;
    uint64_t total_restarts; /* automatic restarts, as the Supervisor's */
    unsigned seed;
} dsup_t;

typedef struct start_req {
    grove_child_spec_t spec;
} start_req_t;

typedef struct result {
    int rc;
    grove_pid_t pid;
    grove_reason_t why;
} result_t;

/* As the Supervisor: every report of these kinds is an error report. */
static void report(const char *ctx, grove_pid_t child,
                   const grove_reason_t *r)
{
    grove__sup_report(GROVE_LOG_ERROR, "dynamic_supervisor", ctx, NULL, child,
                      r, NULL);
}

/* ---- the child table ------------------------------------------------------ */

static dchild_t *find(dsup_t *d, grove_pid_t pid)
{
    uint64_t v;
    return grove__map_get(&d->kids, pid.id, &v) ? (dchild_t *)(uintptr_t)v
                                                 : NULL;
}

/* Counts c into the totals (add) or out of them. */
static void tally(dsup_t *d, const dchild_t *c, bool add)
{
    size_t k = add ? 1 : (size_t)-1; /* wraps: subtracts one */
    d->count += k;
    if (c->spec.type == GROVE_SUPERVISOR)
        d->supervisors += k;
    if (!c->restarting)
        d->active += k;
}

/* Keys c under its pid. A start function may hand back a pid that is
 * already a child (one that returns an existing process): as in Elixir,
 * whose children are a map keyed by pid, the new record replaces the old
 * one, and the counts stay those of the map. */
static int put(dsup_t *d, dchild_t *c)
{
    dchild_t *old = find(d, c->pid);
    if (grove__map_put(&d->kids, c->pid.id, (uint64_t)(uintptr_t)c) < 0)
        return GROVE_ENOMEM;
    if (old) {
        tally(d, old, false);
        free(old);
    }
    return 0;
}

static int insert(dsup_t *d, dchild_t *c)
{
    if (put(d, c) < 0)
        return GROVE_ENOMEM;
    tally(d, c, true);
    return 0;
}

static void forget(dsup_t *d, dchild_t *c)
{
    grove__map_del(&d->kids, c->pid.id, NULL);
    tally(d, c, false);
    free(c);
}

/* Re-keys a child under its new pid after a restart (one key out, one
 * in: the table needs no room). */
static void rekey(dsup_t *d, dchild_t *c, grove_pid_t pid)
{
    grove__map_del(&d->kids, c->pid.id, NULL);
    c->pid = pid;
    (void)put(d, c);
}

static void set_restarting(dsup_t *d, dchild_t *c, bool on)
{
    if (c->restarting == on)
        return;
    c->restarting = on;
    if (on)
        d->active--;
    else
        d->active++;
}

/* ---- restarts ---------------------------------------------------------------- */

static void schedule_retry(dsup_t *d, dchild_t *c, uint32_t delay)
{
    set_restarting(d, c, true);
    /* A delay whose timer cannot be set becomes an immediate retry. */
    if (!delay || grove_send_after(grove_self(), delay, MSG_RETRY, &c->pid,
                                   sizeof c->pid, NULL) != 0)
        grove__send_reliable(grove_self(), MSG_RETRY, GROVE_REF_NONE, &c->pid,
                             sizeof c->pid, GROVE__MSGF_CAST);
}

static grove_gs_ret_t restart(dsup_t *d, dchild_t *c)
{
    if (!grove__intensity_add(&d->intensity)) {
        report("reached_max_restart_intensity", c->pid, NULL);
        return GROVE_GS_STOP(grove_reason_shutdown(NULL));
    }
    c->restarts++;
    d->total_restarts++;
    grove_pid_t pid;
    grove_reason_t why = grove_reason_normal();
    int rc = grove__child_start(&c->spec, d->o.extra, &pid, &why);
    if (rc == 0 && pid.id) {
        rekey(d, c, pid);
        set_restarting(d, c, false);
        c->started_ms = grove__backoff_started(&c->spec.backoff);
    } else if (rc == 0 || rc == GROVE_EIGNORE) {
        set_restarting(d, c, false);
        forget(d, c); /* ignore on restart removes the child */
    } else {
        report("start_error", c->pid, &why);
        schedule_retry(d, c,
                       grove__backoff_failed_start(&c->spec.backoff,
                                                   &c->delay_ms, &d->seed));
    }
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t child_exited(dsup_t *d, dchild_t *c,
                                   const grove_reason_t *r)
{
    int rt = c->spec.restart;
    bool again = rt == GROVE_PERMANENT ||
                 (rt == GROVE_TRANSIENT && !grove_reason_is_shutdown_class(r));
    if (rt == GROVE_PERMANENT || !grove_reason_is_shutdown_class(r))
        report("child_terminated", c->pid, r);
    if (!again) {
        forget(d, c);
        return GROVE_GS_NOREPLY();
    }
    uint32_t delay = grove__backoff_next(&c->spec.backoff, &c->delay_ms,
                                         c->started_ms, &d->seed);
    if (delay) {
        schedule_retry(d, c, delay);
        return GROVE_GS_NOREPLY();
    }
    set_restarting(d, c, true);
    return restart(d, c);
}

/* Stops one child by OTP's procedure (monitor, exit shutdown, wait up to
 * its shutdown time, then kill), reporting an end its spec does not
 * accept. */
static void stop_alone(dchild_t *c)
{
    grove_reason_t end;
    grove__child_shutdown(c->pid, c->spec.shutdown, &end);
    if (!grove__shutdown_accepted(c->spec.restart, c->spec.shutdown, &end))
        report("shutdown_error", c->pid, &end);
}

/* ---- shutdown of everything at once ------------------------------------------ */

/* Calls fn(c, arg) on every child record in the table's order, having
 * called ahead(c, pid) AHEAD children earlier: for 100,000 children the
 * records and what they lead to are cold, and loads asked for ahead of
 * time arrive together instead of one by one. The key is the pid, so a
 * process can be asked for before its record arrives. */
#define AHEAD 8 /* a power of two */

static void kids_each(dsup_t *d, void (*ahead)(dchild_t *, grove_pid_t),
                      void (*fn)(dchild_t *, void *), void *arg)
{
    dchild_t *ring[AHEAD];
    unsigned in = 0, out = 0;
    uint64_t k, v;
    for (uint32_t i = 0; grove__map_next(&d->kids, &i, &k, &v);) {
        if (in - out == AHEAD)
            fn(ring[out++ % AHEAD], arg);
        dchild_t *c = (dchild_t *)(uintptr_t)v;
        ahead(c, (grove_pid_t){k});
        ring[in++ % AHEAD] = c;
    }
    while (out < in)
        fn(ring[out++ % AHEAD], arg);
}

typedef struct signal_pass {
    dsup_t *d;
    uint64_t now, next; /* next: the first shutdown deadline */
    size_t n;           /* children signalled */
} signal_pass_t;

/* Takes one message within wait ms and, when it is the DOWN of an awaited
 * child, crosses the child off (its record is freed with the supervisor's
 * table, in order, which costs less than one by one). Returns false when
 * none came in time. Anything else a stopping supervisor receives is
 * dropped. The table does not change while it stops, so the DOWN's sender
 * finds its record. */
static bool await_one(dsup_t *d, grove_timeout_t wait)
{
    grove_msg_t *m;
    if (grove_recv(&m, wait) != 0)
        return false;
    dchild_t *c;
    if (grove_msg_kind(m) == GROVE_MSG_DOWN &&
        (c = find(d, grove_msg_from(m))) != NULL &&
        c->sd_ref == grove_msg_ref(m).id) { /* a DOWN's ref is never 0 */
        c->sd_ref = 0;
        d->awaiting--;
        const grove_reason_t *r = grove_msg_reason(m);
        /* noproc: it had ended by itself just before; its own EXIT
         * (already counted as an exit) said how. A plain shutdown is
         * what every child is asked for: its spec is not read. */
        if (!grove__reason_plain_shutdown(r) &&
            r->kind != GROVE_EXIT_NOPROC &&
            !grove__shutdown_accepted(c->spec.restart, c->spec.shutdown, r))
            report("shutdown_error", c->pid, r);
    }
    grove_msg_free(m);
    return true;
}

/* How many children are signalled between two looks at the mailbox. */
#define COLLECT_EVERY 32

/* What signalling a child reads: its record, its process slot and the
 * link to it (a restarting child's pid names a dead slot: harmless). */
static void signal_ahead(dchild_t *c, grove_pid_t pid)
{
    __builtin_prefetch(&c->pid);
    __builtin_prefetch(&c->spec.shutdown);
    __builtin_prefetch(&c->sd_ref);
    grove__prefetch_peer(pid);
}

/* Signals a running child (monitor, unlink, exit in one signal) and lists
 * it as awaited. */
static void signal_one(dchild_t *c, void *arg)
{
    signal_pass_t *sp = arg;
    grove_ref_t ref;
    if (c->restarting)
        return;
    if (!grove__child_shutdown_begin(c->pid, c->spec.shutdown, &ref))
        return; /* killed: it cannot be waited for */
    c->sd_ref = ref.id;
    c->sd_killed = false;
    c->sd_deadline = 0;
    if (c->spec.shutdown > 0)
        c->sd_deadline = sp->now + (uint64_t)c->spec.shutdown;
    else if (c->spec.shutdown == GROVE_SHUTDOWN_IMMEDIATE)
        c->sd_deadline = sp->now;
    sp->d->awaiting++;
    if (c->sd_deadline && c->sd_deadline < sp->next)
        sp->next = c->sd_deadline;
    /* The DOWNs of the children signalled so far are taken as the pass
     * goes: each frees a message the next signals reuse, where waiting
     * for the end of the pass would hold one per child at once. */
    if (++sp->n % COLLECT_EVERY == 0)
        while (await_one(sp->d, 0))
            ;
}

/* Kills every awaited child whose shutdown time is over; returns the next
 * deadline. */
static uint64_t kill_expired(dsup_t *d)
{
    uint64_t now = grove__mono_ms(), next = UINT64_MAX, k, v;
    for (uint32_t i = 0; grove__map_next(&d->kids, &i, &k, &v);) {
        dchild_t *c = (dchild_t *)(uintptr_t)v;
        if (!c->sd_ref || !c->sd_deadline || c->sd_killed)
            continue;
        if (c->sd_deadline <= now) {
            grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
            grove_exit_signal(c->pid, &kill);
            c->sd_killed = true;
        } else if (c->sd_deadline < next) {
            next = c->sd_deadline;
        }
    }
    return next;
}

static void shutdown_all(dsup_t *d)
{
    signal_pass_t sp = {d, grove__mono_ms(), UINT64_MAX, 0};
    kids_each(d, signal_ahead, signal_one, &sp);
    uint64_t next = sp.next;
    while (d->awaiting) {
        /* The clock is read only when no DOWN is at hand. */
        if (await_one(d, 0))
            continue;
        grove_timeout_t wait = GROVE_INFINITY;
        if (next != UINT64_MAX) {
            uint64_t now = grove__mono_ms();
            wait = next > now ? (grove_timeout_t)(next - now) : 0;
        }
        if (!await_one(d, wait))
            next = kill_expired(d);
    }
}

/* ---- callbacks -------------------------------------------------------------------- */

/* free reads the allocator's header just below the record. */
static void free_ahead(dchild_t *c, grove_pid_t pid)
{
    (void)pid;
    __builtin_prefetch((char *)c - 16, 1);
}

static void free_child(dchild_t *c, void *arg)
{
    (void)arg;
    free(c);
}

static void free_dsup(void *arg)
{
    dsup_t *d = arg;
    kids_each(d, free_ahead, free_child, NULL);
    grove__map_free(&d->kids);
    grove__intensity_free(&d->intensity);
    free(d);
}

static grove_gs_ret_t ds_init(grove_gs_t *gs, void *arg)
{
    dsup_t *d = arg;
    grove_trap_exit(true);
    if (grove_resource_attach(free_dsup, d, NULL) < 0) {
        free(d);
        return GROVE_GS_INIT_STOP(grove_reason_error(GROVE_ENOMEM, "oom"));
    }
    grove_gs_set_state(gs, d);
    d->seed = (unsigned)grove_self().id;
    int max = d->o.max_restarts == GROVE_NO_RESTARTS ? 0 : d->o.max_restarts;
    if (grove__intensity_init(&d->intensity, max, d->o.max_seconds) < 0)
        return GROVE_GS_INIT_STOP(grove_reason_error(GROVE_ENOMEM, "oom"));
    return GROVE_GS_INIT_OK();
}

static void ds_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)r;
    shutdown_all(grove_gs_state(gs));
}

static grove_gs_ret_t on_retry(dsup_t *d, const grove_msg_t *m)
{
    grove_pid_t pid;
    if (grove_msg_size(m) != sizeof pid)
        return GROVE_GS_NOREPLY();
    memcpy(&pid, grove_msg_data(m), sizeof pid);
    dchild_t *c = find(d, pid);
    if (!c || !c->restarting)
        return GROVE_GS_NOREPLY(); /* terminated meanwhile */
    return restart(d, c);
}

static grove_gs_ret_t ds_info(grove_gs_t *gs, const grove_msg_t *m)
{
    dsup_t *d = grove_gs_state(gs);
    if (grove_msg_kind(m) == GROVE_MSG_EXIT) {
        dchild_t *c = find(d, grove_msg_from(m));
        if (!c || c->restarting)
            return GROVE_GS_NOREPLY();
        return child_exited(d, c, grove_msg_reason(m));
    }
    if (grove_msg_kind(m) == GROVE_MSG_USER && grove_msg_tag(m) == MSG_RETRY)
        return on_retry(d, m);
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t ds_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    if (grove_msg_tag(m) == MSG_RETRY)
        return on_retry(grove_gs_state(gs), m);
    return GROVE_GS_NOREPLY();
}

static void req_start(dsup_t *d, const grove_msg_t *m, result_t *res)
{
    start_req_t rq;
    memcpy(&rq, grove_msg_data(m), sizeof rq);
    uint32_t max = d->o.max_children;
    if (max == GROVE_MAX_CHILDREN_NONE || (max && d->count >= max)) {
        res->rc = GROVE_EMAXCHILDREN;
        return;
    }
    grove_pid_t pid;
    int rc = grove__child_start(&rq.spec, d->o.extra, &pid, &res->why);
    res->pid = pid;
    if (rc == 0 && pid.id) {
        dchild_t *c = grove__calloc(1, sizeof *c);
        if (!c || (c->spec = rq.spec, c->pid = pid,
                   c->started_ms = grove__backoff_started(&c->spec.backoff),
                   insert(d, c)) < 0) {
            free(c);
            grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
            grove_exit_signal(pid, &kill);
            res->rc = GROVE_ENOMEM;
        }
        return;
    }
    if (rc == 0 || rc == GROVE_EIGNORE) {
        res->rc = GROVE_EIGNORE;
        res->pid = GROVE_PID_NONE;
        return;
    }
    res->rc = rc == GROVE_EALREADYSTARTED ? rc : GROVE_ESTARTFAIL;
}

static void req_terminate(dsup_t *d, const grove_msg_t *m, result_t *res)
{
    grove_pid_t pid;
    memcpy(&pid, grove_msg_data(m), sizeof pid);
    dchild_t *c = find(d, pid);
    if (!c) {
        res->rc = GROVE_ENOTFOUND;
        return;
    }
    if (!c->restarting)
        stop_alone(c);
    forget(d, c);
}

static grove_gs_ret_t req_which(dsup_t *d)
{
    size_t size = d->count * sizeof(grove_child_info_t), n = 0;
    grove_child_info_t *out = grove__calloc(d->count ? d->count : 1, sizeof *out);
    if (!out)
        return GROVE_GS_REPLY(0, NULL, 0);
    uint64_t k, v;
    for (uint32_t i = 0; grove__map_next(&d->kids, &i, &k, &v);) {
        const dchild_t *c = (dchild_t *)(uintptr_t)v;
        grove_child_info_t *o = &out[n++];
        o->pid = c->restarting ? GROVE_PID_NONE : c->pid;
        o->state = c->restarting ? GROVE_CHILD_RESTARTING : GROVE_CHILD_RUNNING;
        o->type = c->spec.type;
        o->restart = c->spec.restart;
        o->restart_delay_ms = c->delay_ms;
        o->restarts = c->restarts;
    }
    grove_gs_ret_t r = GROVE_GS_REPLY(0, out, size);
    free(out);
    return r;
}

static grove_gs_ret_t ds_call(grove_gs_t *gs, const grove_msg_t *m,
                              grove_gs_from_t from)
{
    dsup_t *d = grove_gs_state(gs);
    result_t res;
    memset(&res, 0, sizeof res);
    switch (grove_msg_tag(m)) {
    case REQ_START_CHILD:
        if (grove_msg_size(m) == sizeof(start_req_t))
            req_start(d, m, &res);
        else
            res.rc = GROVE_EINVAL;
        break;
    case REQ_TERMINATE_CHILD:
        if (grove_msg_size(m) == sizeof(grove_pid_t))
            req_terminate(d, m, &res);
        else
            res.rc = GROVE_EINVAL;
        break;
    case REQ_WHICH_CHILDREN:
        return req_which(d);
    case REQ_COUNT_CHILDREN: {
        grove_child_counts_t k = {.specs = d->count,
                                  .active = d->active,
                                  .supervisors = d->supervisors,
                                  .workers = d->count - d->supervisors};
        return GROVE_GS_REPLY(0, &k, sizeof k);
    }
    case REQ_STATS: {
        grove_sup_stats_t st = grove__intensity_stats(
            &d->intensity, d->total_restarts, GROVE_ONE_FOR_ONE);
        return GROVE_GS_REPLY(0, &st, sizeof st);
    }
    default:
        res.rc = GROVE_EINVAL;
    }
    /* Sent from here: a result is larger than a reply kept inline, which
     * would be copied to the heap and then into the message. The reason
     * goes only with a failure: without it the reply fits a small
     * message node, and the caller reads a short reply as zeros. */
    bool failed = res.rc < 0 && res.rc != GROVE_EIGNORE;
    grove_gs_reply(from, 0, &res,
                   failed ? sizeof res : offsetof(result_t, why));
    return GROVE_GS_NOREPLY();
}

static int ds_status(grove_gs_t *gs, char *buf, size_t size)
{
    const dsup_t *d = grove_gs_state(gs);
    return snprintf(buf, size, "%zu children (%zu active)", d ? d->count : 0,
                    d ? d->active : 0);
}

static const grove_gs_callbacks_t ds_callbacks = {
    .name = "dynamic_supervisor",
    .init = ds_init,
    .handle_call = ds_call,
    .handle_cast = ds_cast,
    .handle_info = ds_info,
    .terminate = ds_terminate,
    .format_status = ds_status,
};

/* ---- the API ------------------------------------------------------------------------- */

static int bad(grove_reason_t *why, const char *what)
{
    if (why) {
        *why = grove_reason_error(GROVE_EINVAL, "%s", what);
        why->kind = GROVE_EXIT_BADARG;
    }
    return GROVE_EINVAL;
}

GROVE_EXPORT int grove_dynsup_start(const grove_dynsup_opts_t *opts,
                                    grove_pid_t *pid, grove_reason_t *why)
{
    static const grove_dynsup_opts_t none;
    const grove_dynsup_opts_t *o = opts ? opts : &none;
    if (o->max_restarts < GROVE_NO_RESTARTS)
        return bad(why, "invalid_intensity");
    if (o->max_seconds < 0)
        return bad(why, "invalid_period");
    dsup_t *d = grove__calloc(1, sizeof *d);
    if (!d)
        return GROVE_ENOMEM;
    d->o = *o;
    if (!d->o.max_restarts)
        d->o.max_restarts = 3;
    if (!d->o.max_seconds)
        d->o.max_seconds = 5;
    grove_gs_opts_t g = {.link = o->link, .name = o->name, .via = o->via,
                         .via_key = o->via_key, .via_key_len = o->via_key_len,
                         .trap_exit = true};
    grove_reason_t r = grove_reason_normal();
    int rc = grove_gs_start(&ds_callbacks, d, &g, pid, &r);
    if (rc != 0 && rc != GROVE_ESTARTFAIL)
        free(d); /* init never ran */
    if (rc != 0 && why)
        *why = r;
    return rc;
}

GROVE_EXPORT int grove_dynsup_start_child(grove_server_t sup,
                                          const grove_child_spec_t *spec,
                                          grove_pid_t *pid,
                                          grove_reason_t *why)
{
    if (!spec)
        return bad(why, "invalid_child_spec");
    start_req_t rq = {.spec = *spec};
    rq.spec.id = "dynamic";
    if (spec->significant)
        return bad(why, "invalid_significant");
    int rc = grove_child_spec_check(&rq.spec, NULL, why);
    if (rc < 0)
        return rc;
    rq.spec.id = NULL;
    if (rq.spec.supervisor)
        rq.spec.type = GROVE_SUPERVISOR;
    if (rq.spec.shutdown == 0)
        rq.spec.shutdown = rq.spec.type == GROVE_SUPERVISOR
                               ? GROVE_SHUTDOWN_INFINITY
                               : 5000;
    result_t res;
    rc = grove__sup_call_copy(sup, REQ_START_CHILD, &rq, sizeof rq, &res,
                              sizeof res);
    if (rc < 0)
        return rc;
    if (pid)
        *pid = res.pid;
    if (why && res.rc < 0 && res.rc != GROVE_EIGNORE)
        *why = res.why;
    return res.rc;
}

GROVE_EXPORT int grove_dynsup_terminate_child(grove_server_t sup,
                                              grove_pid_t child)
{
    if (child.id == 0)
        return GROVE_ENOTFOUND;
    result_t res;
    int rc = grove__sup_call_copy(sup, REQ_TERMINATE_CHILD, &child,
                                  sizeof child, &res, sizeof res);
    return rc < 0 ? rc : res.rc;
}

GROVE_EXPORT int grove_dynsup_which_children(grove_server_t sup,
                                             grove_child_info_t *out,
                                             size_t max, size_t *n)
{
    return grove__sup_call_children(sup, REQ_WHICH_CHILDREN, out, max, n);
}

GROVE_EXPORT int grove_dynsup_count_children(grove_server_t sup,
                                             grove_child_counts_t *out)
{
    if (!out)
        return GROVE_EINVAL;
    return grove__sup_call_copy(sup, REQ_COUNT_CHILDREN, NULL, 0, out,
                                sizeof *out);
}

GROVE_EXPORT int grove_dynsup_stats(grove_server_t sup, grove_sup_stats_t *out)
{
    if (!out)
        return GROVE_EINVAL;
    return grove__sup_call_copy(sup, REQ_STATS, NULL, 0, out, sizeof *out);
}
