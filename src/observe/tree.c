/* GET /api/tree and GET /readyz, both from a scan of the tree (scan.c).
 *
 * A supervisor's children are the processes whose parent it is, in the
 * order which_children gives (reversed: start order) where the
 * supervisor answered; children it names without a process (restarting,
 * stopped) are listed too, with no pid. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "obs.h"

/* Nesting deeper than this is not drawn (a tree that deep is a bug). */
#define DEPTH_MAX 32

static const char *strategy_name(int s)
{
    return s == GROVE_ONE_FOR_ALL    ? "one_for_all"
           : s == GROVE_REST_FOR_ONE ? "rest_for_one"
                                     : "one_for_one";
}

static const char *child_state_name(int st)
{
    return st == GROVE_CHILD_RUNNING      ? "running"
           : st == GROVE_CHILD_RESTARTING ? "restarting"
                                          : "undefined";
}

static const char *restart_name(int r)
{
    return r == GROVE_TRANSIENT   ? "transient"
           : r == GROVE_TEMPORARY ? "temporary"
                                  : "permanent";
}

static const char *query_name(int q)
{
    return q == GROVE__OBS_Q_OK     ? "ok"
           : q == GROVE__OBS_Q_BUSY ? "busy"
           : q == GROVE__OBS_Q_GONE ? "gone"
                                    : "not_asked";
}

static const char *status_name(int st)
{
    switch (st) {
    case GROVE_STATUS_RUNNABLE: return "runnable";
    case GROVE_STATUS_RUNNING: return "running";
    case GROVE_STATUS_WAITING: return "waiting";
    default: return "exiting";
    }
}

/* ---- /api/tree ---------------------------------------------------------- */

typedef struct tw {
    grove__obs_conn_t *c;
    grove__obs_scan_t *s;
    grove__obs_out_t *w;
    bool *drawn; /* a supervisor is drawn once, wherever it is met */
} tw_t;

static void text_or_null(grove__obs_out_t *w, const char *s)
{
    if (s && s[0])
        grove__obs_json_str(w, s, 0);
    else
        grove__obs_puts(w, "null");
}

/* The child spec's side of an entry: what the supervisor said. */
static void spec_fields(grove__obs_out_t *w, const grove_child_info_t *ci)
{
    if (!ci) {
        grove__obs_puts(w, ",\"id\":null,\"state\":null");
        return;
    }
    grove__obs_puts(w, ",\"id\":");
    text_or_null(w, ci->id);
    grove__obs_printf(w,
                      ",\"state\":\"%s\",\"type\":\"%s\",\"restart\":\"%s\","
                      "\"restarts\":%llu,\"restart_delay_ms\":%u",
                      child_state_name(ci->state),
                      ci->type == GROVE_SUPERVISOR ? "supervisor" : "worker",
                      restart_name(ci->restart),
                      (unsigned long long)ci->restarts, ci->restart_delay_ms);
}

/* The process's side: what the process table said. */
static void proc_fields(grove__obs_out_t *w, grove_pid_t pid, const char *name,
                        const char *beh, int status, size_t mbox,
                        size_t mem, uint64_t red)
{
    grove__obs_puts(w, "{\"pid\":");
    grove__obs_json_pid(w, pid);
    grove__obs_puts(w, ",\"name\":");
    text_or_null(w, name);
    grove__obs_puts(w, ",\"behaviour\":");
    text_or_null(w, beh);
    grove__obs_printf(w,
                      ",\"status\":\"%s\",\"mailbox_len\":%zu,\"memory\":%zu,"
                      "\"reductions\":%llu",
                      status_name(status), mbox, mem, (unsigned long long)red);
}

static void write_sup(tw_t *t, size_t i, const grove_child_info_t *ci,
                      int depth);

/* Supervisor-wide fields: strategy, intensity, restarts. */
static void sup_fields(tw_t *t, size_t i)
{
    grove__obs_out_t *w = t->w;
    const grove__obs_snode_t *n = &t->s->sups[i];
    const grove__obs_answer_t *a = grove__obs_answer(t->s, i);
    grove__obs_printf(w, ",\"query\":\"%s\"", query_name(n->query));
    grove_pid_t sup = {atomic_load_explicit(&t->c->o->sup,
                                            memory_order_relaxed)};
    grove__obs_printf(w, ",\"observer\":%s",
                      grove_pid_equal(sup, n->pi.pid) ? "true" : "false");
    if (a && a->rc == 0 && a->stats_rc == 0) {
        grove__obs_printf(w,
                          ",\"strategy\":\"%s\",\"max_restarts\":%d,"
                          "\"max_seconds\":%d,\"restarts\":%llu,"
                          "\"restarts_in_window\":%llu",
                          strategy_name(a->stats.strategy),
                          a->stats.max_restarts, a->stats.max_seconds,
                          (unsigned long long)a->stats.restarts,
                          (unsigned long long)a->stats.in_window);
    } else {
        grove__obs_puts(w, ",\"strategy\":null,\"max_restarts\":null,"
                           "\"max_seconds\":null,\"restarts\":null,"
                           "\"restarts_in_window\":null");
    }
    grove__obs_printf(w, ",\"children_total\":%zu,",
                      a && a->rc == 0 && a->total > n->kids_total
                          ? a->total
                          : n->kids_total);
    grove__obs_history_json(t->c->o, n->pi.pid, w);
}

static void write_kid(tw_t *t, const grove__obs_kid_t *k,
                      const grove_child_info_t *ci, int depth)
{
    if (k->sup >= 0 && !t->drawn[k->sup]) {
        write_sup(t, (size_t)k->sup, ci, depth + 1);
        return;
    }
    proc_fields(t->w, k->pid, k->name, k->behaviour, k->status,
                k->mailbox_len, k->memory, k->reductions);
    spec_fields(t->w, ci);
    grove__obs_puts(t->w, "}");
}

/* A child the supervisor knows but no process stands for. */
static void write_absent(grove__obs_out_t *w, const grove_child_info_t *ci)
{
    grove__obs_puts(w, "{\"pid\":null,\"name\":null,\"behaviour\":null,"
                       "\"status\":null,\"mailbox_len\":null,"
                       "\"memory\":null,\"reductions\":null");
    spec_fields(w, ci);
    grove__obs_puts(w, "}");
}

static void write_children(tw_t *t, size_t i, int depth)
{
    grove__obs_snode_t *n = &t->s->sups[i];
    const grove__obs_answer_t *a = grove__obs_answer(t->s, i);
    bool *used = grove_calloc(n->nkids ? n->nkids : 1, sizeof *used);
    size_t out = 0;
    if (!used) {
        t->w->err = GROVE_ENOMEM;
        return;
    }
    grove__obs_puts(t->w, ",\"children\":[");
    /* which_children lists newest first; the tree shows start order. */
    for (size_t e = a && a->rc == 0 ? a->n : 0; e-- > 0;) {
        const grove_child_info_t *ci = &a->kids[e];
        size_t k = 0;
        while (k < n->nkids && (grove_pid_is_none(ci->pid) ||
                                !grove_pid_equal(n->kids[k].pid, ci->pid)))
            k++;
        grove__obs_puts(t->w, out++ ? "," : "");
        if (k < n->nkids) {
            used[k] = true;
            write_kid(t, &n->kids[k], ci, depth);
        } else {
            write_absent(t->w, ci);
        }
    }
    for (size_t k = 0; k < n->nkids; k++) {
        if (used[k])
            continue;
        grove__obs_puts(t->w, out++ ? "," : "");
        write_kid(t, &n->kids[k], NULL, depth);
    }
    grove__obs_puts(t->w, "]");
    grove_free(used);
}

static void write_sup(tw_t *t, size_t i, const grove_child_info_t *ci,
                      int depth)
{
    grove__obs_snode_t *n = &t->s->sups[i];
    const grove_process_info_t *pi = &n->pi;
    t->drawn[i] = true;
    proc_fields(t->w, pi->pid, pi->name, pi->behaviour, pi->status,
                pi->mailbox_len, pi->memory, pi->reductions);
    spec_fields(t->w, ci);
    sup_fields(t, i);
    if (depth < DEPTH_MAX)
        write_children(t, i, depth);
    else
        grove__obs_puts(t->w, ",\"children\":[]");
    grove__obs_puts(t->w, "}");
}

static bool kill_on(const grove__obs_t *o)
{
    if (o->kill_mode == GROVE_OBSERVER_KILL_AUTO)
        return atomic_load_explicit(&o->loopback, memory_order_relaxed);
    return o->kill_mode == GROVE_OBSERVER_KILL_ON;
}

static void write_tree(tw_t *t)
{
    grove__obs_out_t *w = t->w;
    grove_pid_t self = {atomic_load_explicit(&t->c->o->sup,
                                             memory_order_relaxed)};
    grove__obs_printf(w, "{\"time_ms\":%llu,\"observer\":",
                      (unsigned long long)(grove__realtime_ns() / 1000000u));
    grove__obs_json_pid(w, self);
    grove__obs_printf(w,
                      ",\"kill\":%s,\"processes\":%zu,\"supervisors\":%zu,"
                      "\"truncated\":%s,\"roots\":[",
                      kill_on(t->c->o) ? "true" : "false", t->s->nprocs,
                      t->s->nsups, t->s->truncated ? "true" : "false");
    size_t out = 0;
    for (size_t i = 0; i < t->s->nsups; i++) {
        if (t->s->sups[i].parent >= 0 || t->drawn[i])
            continue;
        grove__obs_puts(w, out++ ? ",\n" : "\n");
        write_sup(t, i, NULL, 0);
    }
    grove__obs_puts(w, "\n]}\n");
}

void grove__obs_serve_tree(grove__obs_conn_t *c)
{
    grove__obs_scan_t s;
    if (grove__obs_scan(&s, true) < 0) {
        grove__obs_scan_free(&s);
        grove__obs_error(c, 503, "out of memory");
        return;
    }
    for (size_t i = 0; i < s.nsups; i++)
        s.sups[i].want = true;
    grove__obs_query(&s, c->o->call_timeout);
    tw_t t = {c, &s, &c->out, grove_calloc(s.nsups + 1, sizeof(bool))};
    if (!t.drawn) {
        grove__obs_scan_free(&s);
        grove__obs_error(c, 503, "out of memory");
        return;
    }
    grove__obs_begin(c, 200, "application/json");
    write_tree(&t);
    grove_free(t.drawn);
    grove__obs_scan_free(&s);
}

/* ---- /readyz ------------------------------------------------------------ */

typedef struct verdict {
    bool ready;
    char why[160];
} verdict_t;

static void not_ready(verdict_t *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void not_ready(verdict_t *v, const char *fmt, ...)
{
    if (!v->ready)
        return; /* the first reason is the one reported */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof v->why, fmt, ap);
    va_end(ap);
    v->ready = false;
}

static const char *pid_text(grove_pid_t p, char buf[GROVE_PID_STR_MAX])
{
    return grove_pid_format(p, buf, GROVE_PID_STR_MAX);
}

/* Marks supervisor i and every supervisor below it. */
static void mark_subtree(grove__obs_scan_t *s, size_t root)
{
    for (size_t i = 0; i < s->nsups; i++) {
        int p = (int)i;
        for (int d = 0; p >= 0 && d < DEPTH_MAX; d++) {
            if ((size_t)p == root) {
                s->sups[i].want = true;
                break;
            }
            p = s->sups[p].parent;
        }
    }
}

/* The roots to watch, each found alive and marked, or a reason why not. */
static void mark_roots(grove__obs_t *o, grove__obs_scan_t *s, verdict_t *v)
{
    grove_pid_t roots[GROVE_OBSERVER_MAX_ROOTS * 2];
    size_t n = 0;
    for (size_t i = 0; i < o->nroots; i++)
        roots[n++] = o->roots[i];
    for (size_t i = 0; i < o->napps; i++) {
        grove_pid_t r;
        if (grove_app_root(o->apps[i], &r) == 0)
            roots[n++] = r;
        else
            not_ready(v, "application %s is not running", o->apps[i]);
    }
    if (n == 0 && !o->nroots && !o->napps && !grove_pid_is_none(o->above))
        roots[n++] = o->above;
    for (size_t i = 0; i < n; i++) {
        char p[GROVE_PID_STR_MAX];
        int k = grove__obs_scan_find(s, roots[i]);
        if (k < 0)
            not_ready(v, "root %s is gone", pid_text(roots[i], p));
        else
            mark_subtree(s, (size_t)k);
    }
    if (o->nroots || o->napps || !grove_pid_is_none(o->above))
        return;
    /* Nothing named: every root but the observer's own. */
    uint64_t self = atomic_load_explicit(&o->sup, memory_order_relaxed);
    for (size_t i = 0; i < s->nsups; i++)
        if (s->sups[i].parent < 0 && s->sups[i].pi.pid.id != self)
            mark_subtree(s, i);
}

static void judge(grove__obs_scan_t *s, verdict_t *v)
{
    for (size_t i = 0; i < s->nsups; i++) {
        const grove__obs_snode_t *n = &s->sups[i];
        char p[GROVE_PID_STR_MAX];
        if (!n->want)
            continue;
        if (n->query == GROVE__OBS_Q_BUSY)
            not_ready(v, "supervisor %s is busy", pid_text(n->pi.pid, p));
        const grove__obs_answer_t *a = grove__obs_answer(s, i);
        if (n->query == GROVE__OBS_Q_GONE || !a)
            continue; /* gone since the scan: its parent reacts */
        for (size_t k = 0; k < a->n; k++)
            if (a->kids[k].state == GROVE_CHILD_RESTARTING)
                not_ready(v, "child %s of %s is restarting",
                          a->kids[k].id[0] ? a->kids[k].id : "(dynamic)",
                          pid_text(n->pi.pid, p));
    }
}

void grove__obs_serve_readyz(grove__obs_conn_t *c)
{
    grove__obs_scan_t s;
    verdict_t v = {.ready = true};
    if (grove__obs_scan(&s, false) < 0) {
        v.ready = false;
        snprintf(v.why, sizeof v.why, "observer out of memory");
    } else {
        mark_roots(c->o, &s, &v);
        grove__obs_query(&s, c->o->call_timeout);
        judge(&s, &v);
    }
    size_t watched = 0;
    for (size_t i = 0; i < s.nsups; i++)
        watched += s.sups[i].want;
    grove__obs_scan_free(&s);
    grove__obs_begin(c, v.ready ? 200 : 503, "application/json");
    grove__obs_printf(&c->out, "{\"ready\":%s,\"supervisors\":%zu,\"reason\":",
                      v.ready ? "true" : "false", watched);
    text_or_null(&c->out, v.ready ? NULL : v.why);
    grove__obs_puts(&c->out, "}\n");
}
