/* The supervision tree as the process table shows it: every supervisor
 * (its behaviour says so), and the children of each (the processes whose
 * parent it is). Then, for the supervisors asked about, what only they
 * know (child ids, states, restart counts), each asked by a short-lived
 * helper process, so a supervisor that is busy, stuck or slow costs the
 * request no more than its deadline.
 *
 * The scan reads process info twice at most per process: once for all
 * (to find supervisors and remember each parent), once more for the
 * children it lists. */
#include <string.h>

#include "obs.h"

#define YIELD_EVERY 1024

/* ---- the supervisors' index --------------------------------------------- */

static size_t hash(uint64_t k, size_t cap)
{
    k ^= k >> 31;
    k *= UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(k >> 17) & (cap - 1);
}

int grove__obs_scan_find(const grove__obs_scan_t *s, grove_pid_t pid)
{
    if (!s->hcap || !pid.id)
        return -1;
    for (size_t i = hash(pid.id, s->hcap);; i = (i + 1) & (s->hcap - 1)) {
        if (s->hkey[i] == 0)
            return -1;
        if (s->hkey[i] == pid.id)
            return (int)s->hval[i];
    }
}

static int build_index(grove__obs_scan_t *s)
{
    size_t cap = 16;
    while (cap < s->nsups * 2)
        cap *= 2;
    s->hkey = grove_calloc(cap, sizeof *s->hkey);
    s->hval = grove_calloc(cap, sizeof *s->hval);
    if (!s->hkey || !s->hval)
        return GROVE_ENOMEM;
    s->hcap = cap;
    for (size_t j = 0; j < s->nsups; j++) {
        size_t i = hash(s->sups[j].pi.pid.id, cap);
        while (s->hkey[i])
            i = (i + 1) & (cap - 1);
        s->hkey[i] = s->sups[j].pi.pid.id;
        s->hval[i] = (uint32_t)j;
    }
    return 0;
}

/* ---- pass one: every process -------------------------------------------- */

typedef struct all {
    grove_pid_t *pid;
    grove_pid_t *parent;
    size_t n, cap;
    bool short_of_memory;
} all_t;

static void collect(grove_pid_t pid, void *arg)
{
    all_t *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        grove_pid_t *v = grove_realloc(a->pid, cap * sizeof *v);
        if (!v) {
            a->short_of_memory = true;
            return;
        }
        a->pid = v;
        a->cap = cap;
    }
    a->pid[a->n++] = pid;
}

static int add_sup(grove__obs_scan_t *s, const grove_process_info_t *pi)
{
    if (s->nsups == GROVE__OBS_MAX_SUPS) {
        s->truncated = true;
        return 0;
    }
    if (s->nsups == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        grove__obs_snode_t *v = grove_realloc(s->sups, cap * sizeof *v);
        if (!v)
            return GROVE_ENOMEM;
        s->sups = v;
        s->cap = cap;
    }
    grove__obs_snode_t *n = &s->sups[s->nsups++];
    memset(n, 0, sizeof *n);
    n->pi = *pi;
    n->dyn = strcmp(pi->behaviour, "dynamic_supervisor") == 0;
    n->parent = -1;
    return 0;
}

/* Reads every process's info once: supervisors are kept whole, every
 * other process only by its parent. */
static int pass_one(grove__obs_scan_t *s, all_t *a)
{
    grove_processes(collect, a);
    if (a->short_of_memory)
        return GROVE_ENOMEM;
    a->parent = grove_calloc(a->n ? a->n : 1, sizeof *a->parent);
    if (!a->parent)
        return GROVE_ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        grove_process_info_t pi;
        if ((i + 1) % YIELD_EVERY == 0)
            grove_yield();
        if (grove_process_info(a->pid[i], &pi) < 0) {
            a->pid[i] = GROVE_PID_NONE; /* exited meanwhile */
            continue;
        }
        s->nprocs++;
        a->parent[i] = pi.parent;
        if (grove__obs_is_sup(&pi) && add_sup(s, &pi) < 0)
            return GROVE_ENOMEM;
    }
    return build_index(s);
}

/* ---- pass two: the children --------------------------------------------- */

static int add_kid(grove__obs_scan_t *s, grove__obs_snode_t *n,
                   const grove_process_info_t *pi)
{
    if (n->nkids == n->kids_cap) {
        size_t cap = n->kids_cap ? n->kids_cap * 2 : 8;
        grove__obs_kid_t *v = grove_realloc(n->kids, cap * sizeof *v);
        if (!v)
            return GROVE_ENOMEM;
        n->kids = v;
        n->kids_cap = cap;
    }
    grove__obs_kid_t *k = &n->kids[n->nkids++];
    k->pid = pi->pid;
    k->status = pi->status;
    k->mailbox_len = pi->mailbox_len;
    k->memory = pi->memory;
    k->reductions = pi->reductions;
    memcpy(k->name, pi->name, sizeof k->name);
    memcpy(k->behaviour, pi->behaviour, sizeof k->behaviour);
    k->sup = grove__obs_scan_find(s, pi->pid);
    return 0;
}

/* Lists each supervisor's children: every child supervisor, and the
 * first GROVE__OBS_KIDS_SHOW workers (all are counted). */
static int pass_two(grove__obs_scan_t *s, const all_t *a, bool kids)
{
    for (size_t i = 0; i < a->n; i++) {
        int p = grove__obs_scan_find(s, a->parent[i]);
        if (p < 0 || grove_pid_is_none(a->pid[i]))
            continue;
        grove__obs_snode_t *n = &s->sups[p];
        n->kids_total++;
        int self = grove__obs_scan_find(s, a->pid[i]);
        if (self >= 0)
            s->sups[self].parent = p;
        if (!kids || (self < 0 && n->workers_shown >= GROVE__OBS_KIDS_SHOW))
            continue;
        grove_process_info_t pi;
        if ((i + 1) % YIELD_EVERY == 0)
            grove_yield();
        if (grove_process_info(a->pid[i], &pi) < 0)
            continue;
        if (add_kid(s, n, &pi) < 0)
            return GROVE_ENOMEM;
        if (self < 0)
            n->workers_shown++;
    }
    return 0;
}

int grove__obs_scan(grove__obs_scan_t *s, bool kids)
{
    memset(s, 0, sizeof *s);
    all_t a = {0};
    int rc = pass_one(s, &a);
    if (rc == 0)
        rc = pass_two(s, &a, kids);
    grove_free(a.pid);
    grove_free(a.parent);
    return rc;
}

void grove__obs_scan_free(grove__obs_scan_t *s)
{
    for (size_t i = 0; i < s->nsups; i++) {
        grove_free(s->sups[i].kids);
        grove_msg_free(s->sups[i].answer);
    }
    grove_free(s->sups);
    grove_free(s->hkey);
    grove_free(s->hval);
    memset(s, 0, sizeof *s);
}

/* ---- asking the supervisors --------------------------------------------- */

typedef struct job {
    grove_pid_t sup;
    bool dyn;
    grove_pid_t reply_to;
    grove_ref_t ref;
} job_t;

/* A helper: one supervisor's answers, sent back with the job's ref. Its
 * calls have no deadline of their own; the requester's deadline is the
 * one that counts, and it kills the helper when it passes. */
static void helper_main(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv_tag(&m, GROVE__OBS_TAG_JOB, 5000) < 0)
        return;
    job_t j;
    memcpy(&j, grove_msg_data(m), sizeof j);
    grove_msg_free(m);
    size_t size = sizeof(grove__obs_answer_t) +
                  GROVE__OBS_KIDS_INFO * sizeof(grove_child_info_t);
    grove__obs_answer_t *a = grove_calloc(1, size);
    if (!a)
        return;
    a->sup = j.sup.id;
    grove_server_t srv = grove_server_pid(j.sup);
    a->rc = j.dyn ? grove_dynsup_which_children(srv, a->kids,
                                                GROVE__OBS_KIDS_INFO,
                                                &a->total)
                  : grove_sup_which_children(srv, a->kids,
                                             GROVE__OBS_KIDS_INFO, &a->total);
    a->n = a->total < GROVE__OBS_KIDS_INFO ? a->total : GROVE__OBS_KIDS_INFO;
    a->stats_rc = a->rc < 0   ? 1
                  : j.dyn     ? grove_dynsup_stats(srv, &a->stats)
                              : grove_sup_stats(srv, &a->stats);
    grove_send_ref(j.reply_to, GROVE__OBS_TAG_ANSWER, j.ref, a,
                   sizeof *a + a->n * sizeof a->kids[0]);
    grove_free(a);
}

static void send_helpers(grove__obs_scan_t *s, grove_ref_t ref)
{
    grove_spawn_opts_t so = {.link = true};
    for (size_t i = 0; i < s->nsups; i++) {
        grove__obs_snode_t *n = &s->sups[i];
        if (!n->want)
            continue;
        job_t j = {n->pi.pid, n->dyn, grove_self(), ref};
        /* Linked: if the requester dies, its helpers die with it. */
        if (grove_spawn(helper_main, NULL, &so, &n->helper) < 0 ||
            grove_send(n->helper, GROVE__OBS_TAG_JOB, &j, sizeof j) < 0)
            n->query = GROVE__OBS_Q_BUSY;
    }
}

static size_t take_answer(grove__obs_scan_t *s, grove_msg_t *m)
{
    const grove__obs_answer_t *a = grove_msg_data(m);
    int i = grove_msg_size(m) >= sizeof *a
                ? grove__obs_scan_find(s, (grove_pid_t){a->sup})
                : -1;
    grove__obs_snode_t *n = i >= 0 ? &s->sups[i] : NULL;
    if (!n || n->answer || n->query) {
        grove_msg_free(m);
        return 0;
    }
    n->answer = m;
    n->query = a->rc == 0 ? GROVE__OBS_Q_OK : GROVE__OBS_Q_GONE;
    return 1;
}

/* The helpers still running are stuck on a busy supervisor: unlinked
 * first, so their kill does not come back to the requester. */
static void give_up(grove__obs_scan_t *s)
{
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    for (size_t i = 0; i < s->nsups; i++) {
        grove__obs_snode_t *n = &s->sups[i];
        if (!n->want || n->query)
            continue;
        n->query = GROVE__OBS_Q_BUSY;
        grove_unlink(n->helper);
        grove_exit_signal(n->helper, &kill);
    }
}

void grove__obs_query(grove__obs_scan_t *s, grove_timeout_t timeout)
{
    grove_ref_t ref = grove_make_ref();
    int64_t deadline = (int64_t)grove_now_ms() + timeout;
    size_t waiting = 0;
    send_helpers(s, ref);
    for (size_t i = 0; i < s->nsups; i++)
        waiting += s->sups[i].want && !s->sups[i].query;
    while (waiting > 0) {
        int64_t left = deadline - (int64_t)grove_now_ms();
        grove_msg_t *m;
        if (left <= 0 || grove_recv_ref(&m, ref, left) < 0)
            break;
        waiting -= take_answer(s, m);
    }
    give_up(s);
}

const grove__obs_answer_t *grove__obs_answer(const grove__obs_scan_t *s,
                                             size_t i)
{
    const grove_msg_t *m = s->sups[i].answer;
    return m ? grove_msg_data(m) : NULL;
}
