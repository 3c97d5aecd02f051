/* The supervision tree the soak runs, and the walk that checks it.
 *
 *  root (one_for_one)                         soak.root
 *  ├── core (rest_for_one)                     soak.core
 *  │   ├── db                                  soak.db
 *  │   ├── cache                               svc/cache
 *  │   ├── migrator (temporary)
 *  │   ├── pool_a (one_for_one): workers       soak.pool_a, w/a/<i>
 *  │   ├── pool_b (one_for_one): workers       soak.pool_b, w/b/<i>
 *  │   └── auditor                             svc/auditor
 *  ├── cluster (one_for_all)                   soak.cluster
 *  │   ├── clock                               soak.clock
 *  │   └── shard_<k> (one_for_one): workers    soak.shard_<k>, w/s<k>/<i>
 *  ├── fragile (one_for_one, 3 restarts/60 s)  soak.fragile, f/<i>
 *  ├── sessions (DynamicSupervisor)            soak.sessions, s/<n>
 *  └── sessmgr                                 soak.sessmgr
 *
 * Child supervisors are started by start functions (OTP's {M, F, A}) so
 * that each gets a local name. Every limit but fragile's is generous.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "soak.h"

#define MAX_SHARDS 16
#define MAX_NODES (8 + MAX_SHARDS)

typedef struct node node_t;
struct node {
    const char *id;   /* child id in its parent; also the report name */
    uint64_t peak_window; /* most restarts seen in one intensity window */
    const char *name; /* local name */
    grove_sup_spec_t spec;
    grove_child_spec_t *kids;
    size_t nkids, cap;
    node_t **sub;           /* per child: its node, for supervisors */
    const char **kid_local; /* per child: its local name, or NULL */
    const char **kid_key;   /* per child: its registry key, or NULL */
    bool dynamic;           /* the DynamicSupervisor (no spec here) */
};

static node_t nodes[MAX_NODES];
static size_t nnodes;
static node_t *root_node, *sessions_node;
static char shard_ids[MAX_SHARDS][24], shard_names[MAX_SHARDS][32];

wdef_t *soak_workers;
size_t soak_nworkers;

static grove_gs_opts_t db_opts = {.name = N_DB};
static grove_gs_opts_t clock_opts = {.name = N_CLOCK};
static grove_gs_opts_t sessmgr_opts = {.name = N_SESSMGR};
static grove_gs_opts_t cache_opts, auditor_opts;

/* ---- building the specs ------------------------------------------------- */

static node_t *new_node(const char *id, const char *name, int strategy,
                        size_t cap)
{
    node_t *n = &nodes[nnodes++];
    memset(n, 0, sizeof *n);
    n->id = id;
    n->name = name;
    n->cap = cap;
    n->kids = calloc(cap, sizeof *n->kids);
    n->sub = calloc(cap, sizeof *n->sub);
    n->kid_local = calloc(cap, sizeof *n->kid_local);
    n->kid_key = calloc(cap, sizeof *n->kid_key);
    n->spec.name = id;
    n->spec.flags.strategy = strategy;
    n->spec.flags.max_restarts = GENEROUS_MAX_RESTARTS;
    n->spec.flags.max_seconds = GENEROUS_MAX_SECONDS;
    n->spec.children = n->kids;
    return n;
}

static grove_child_spec_t *add_kid(node_t *n, const char *id)
{
    if (n->nkids == n->cap)
        abort(); /* the capacities below are exact */
    grove_child_spec_t *c = &n->kids[n->nkids++];
    c->id = id;
    c->shutdown = 2000;
    n->spec.nchildren = n->nkids;
    return c;
}

static void add_server(node_t *n, const char *id,
                       const grove_gs_callbacks_t *cb, grove_gs_opts_t *o)
{
    grove_child_spec_t *c = add_kid(n, id);
    c->gen_server = cb;
    c->gs_opts = o;
    n->kid_local[n->nkids - 1] = o ? o->name : NULL;
    n->kid_key[n->nkids - 1] = o && o->via ? o->via_key : NULL;
}

static int start_sup(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    node_t *n = arg;
    grove_sup_opts_t o = {.link = true, .name = n->name};
    return grove_sup_start(&n->spec, &o, pid, why);
}

static int start_dynsup(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_dynsup_opts_t o = {.link = true,
                             .name = N_SESSIONS,
                             .max_restarts = GENEROUS_MAX_RESTARTS,
                             .max_seconds = GENEROUS_MAX_SECONDS};
    return grove_dynsup_start(&o, pid, why);
}

static void add_sup(node_t *parent, node_t *child)
{
    grove_child_spec_t *c = add_kid(parent, child->id);
    c->start = child->dynamic ? start_dynsup : start_sup;
    c->arg = child;
    c->type = GROVE_SUPERVISOR;
    c->shutdown = GROVE_SHUTDOWN_INFINITY;
    parent->sub[parent->nkids - 1] = child;
    parent->kid_local[parent->nkids - 1] = child->name;
}

static void via_opts(grove_gs_opts_t *o, const char *key)
{
    memset(o, 0, sizeof *o);
    o->via = grove_registry_via(soak_reg);
    o->via_key = key;
    o->via_key_len = strlen(key);
}

/* Worker i of a group: a mix of the behaviours in soak.h. */
static wdef_t *def_worker(size_t *next, const char *prefix, int i, int n,
                          unsigned extra, bool chaos)
{
    wdef_t *d = &soak_workers[(*next)++];
    snprintf(d->key, sizeof d->key, "%s%d", prefix, i);
    d->flags = extra;
    if (i % 4 == 0)
        d->flags |= W_TRAP;
    if (i % 2 == 1)
        d->flags |= W_TIMEOUT;
    if (i % 8 == 2)
        d->flags |= W_HIBERNATE;
    d->restart = i % 10 == 9 ? GROVE_TRANSIENT : GROVE_PERMANENT;
    d->peer = i + 1 < n ? (int)*next : -1;
    d->chaos = chaos;
    via_opts(&d->opts, d->key);
    if (i % 8 == 6)
        d->opts.hibernate_after = 300;
    if (d->flags & W_TRAP)
        d->opts.trap_exit = true;
    return d;
}

static void add_workers(node_t *n, size_t *next, const char *prefix,
                        int count, unsigned extra, bool chaos)
{
    for (int i = 0; i < count; i++) {
        wdef_t *d = def_worker(next, prefix, i, count, extra, chaos);
        grove_child_spec_t *c = add_kid(n, d->key);
        c->gen_server = &soak_worker_cb;
        c->gs_opts = &d->opts;
        c->arg = d;
        c->restart = d->restart;
        n->kid_key[n->nkids - 1] = d->key;
    }
}

int soak_tree_build(void)
{
    const soak_cfg_t *k = &soak_cfg;
    if (k->shards > MAX_SHARDS)
        return GROVE_EINVAL;
    soak_nworkers = (size_t)(2 * k->pool_workers +
                             k->shards * k->shard_workers) +
                    FRAGILE_WORKERS;
    soak_workers = calloc(soak_nworkers, sizeof *soak_workers);
    if (!soak_workers)
        return GROVE_ENOMEM;
    size_t next = 0;
    via_opts(&cache_opts, K_CACHE);
    via_opts(&auditor_opts, K_AUDITOR);

    root_node = new_node("root", N_ROOT, GROVE_ONE_FOR_ONE, 5);
    node_t *core = new_node("core", N_CORE, GROVE_REST_FOR_ONE, 6);
    node_t *pool_a = new_node("pool_a", "soak.pool_a", GROVE_ONE_FOR_ONE,
                              (size_t)k->pool_workers);
    node_t *pool_b = new_node("pool_b", "soak.pool_b", GROVE_ONE_FOR_ONE,
                              (size_t)k->pool_workers);
    node_t *cluster = new_node("cluster", N_CLUSTER, GROVE_ONE_FOR_ALL,
                               1 + (size_t)k->shards);
    node_t *fragile = new_node("fragile", N_FRAGILE, GROVE_ONE_FOR_ONE,
                               FRAGILE_WORKERS);
    fragile->spec.flags.max_restarts = FRAGILE_MAX_RESTARTS;
    fragile->spec.flags.max_seconds = FRAGILE_MAX_SECONDS;
    sessions_node = new_node("dynamic_supervisor", N_SESSIONS,
                             GROVE_ONE_FOR_ONE, 1);
    sessions_node->dynamic = true;

    add_server(core, "db", &soak_db_cb, &db_opts);
    add_server(core, "cache", &soak_cache_cb, &cache_opts);
    add_server(core, "migrator", &soak_migrator_cb, NULL);
    core->kids[core->nkids - 1].restart = GROVE_TEMPORARY;
    add_sup(core, pool_a);
    add_sup(core, pool_b);
    add_server(core, "auditor", &soak_auditor_cb, &auditor_opts);
    add_workers(pool_a, &next, "w/a/", k->pool_workers, W_PIPE, true);
    add_workers(pool_b, &next, "w/b/", k->pool_workers, W_BUFFER, true);

    add_server(cluster, "clock", &soak_clock_cb, &clock_opts);
    for (int s = 0; s < k->shards; s++) {
        snprintf(shard_ids[s], sizeof shard_ids[s], "shard_%d", s);
        snprintf(shard_names[s], sizeof shard_names[s], "soak.shard_%d", s);
        node_t *sh = new_node(shard_ids[s], shard_names[s],
                              GROVE_ONE_FOR_ONE, (size_t)k->shard_workers);
        add_sup(cluster, sh);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "w/s%d/", s);
        add_workers(sh, &next, prefix, k->shard_workers,
                    s % 2 ? W_BUFFER : 0, true);
    }
    add_workers(fragile, &next, "f/", FRAGILE_WORKERS, 0, false);

    add_sup(root_node, core);
    add_sup(root_node, cluster);
    add_sup(root_node, fragile);
    add_sup(root_node, sessions_node);
    add_server(root_node, "sessmgr", &soak_sessmgr_cb, &sessmgr_opts);
    return next == soak_nworkers ? 0 : GROVE_EINVAL;
}

void soak_tree_free(void)
{
    for (size_t i = 0; i < nnodes; i++) {
        free(nodes[i].kids);
        free(nodes[i].sub);
        free(nodes[i].kid_local);
        free(nodes[i].kid_key);
    }
    nnodes = 0;
    free(soak_workers);
    soak_workers = NULL;
    soak_nworkers = 0;
}

int soak_tree_start(grove_pid_t *root, grove_reason_t *why)
{
    grove_sup_opts_t o = {.name = N_ROOT};
    return grove_sup_start(&root_node->spec, &o, root, why);
}

size_t soak_sup_names(const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nnodes && n < max; i++)
        out[n++] = nodes[i].id;
    return n;
}

size_t soak_chaos_sup_names(const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nnodes && n < max; i++)
        if (&nodes[i] != root_node && strcmp(nodes[i].id, "fragile") != 0)
            out[n++] = nodes[i].name;
    return n;
}

/* ---- the walk ----------------------------------------------------------- */

static void issue(soak_walk_t *w, bool report, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void issue(soak_walk_t *w, bool report, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (w->issues++ == 0)
        snprintf(w->first_issue, sizeof w->first_issue, "%s", buf);
    if (report)
        soak_violation("%s", buf);
}

static void add_pid(soak_walk_t *w, grove_pid_t p)
{
    if (w->npids == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        uint64_t *np = realloc(w->pids, cap * sizeof *np);
        if (!np)
            abort();
        w->pids = np;
        w->cap = cap;
    }
    w->pids[w->npids++] = p.id;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool has_pid(const uint64_t *sorted, size_t n, uint64_t id)
{
    return bsearch(&id, sorted, n, sizeof id, cmp_u64) != NULL;
}

static void check_names(const node_t *n, size_t j, grove_pid_t pid,
                        bool report, soak_walk_t *w)
{
    const char *local = n->kid_local[j], *key = n->kid_key[j];
    if (local && soak_name_pid(local).id != pid.id)
        issue(w, report, "%s: child %s is %s but its name %s is not it",
              n->id, n->kids[j].id, grove_pid_format(pid, (char[32]){0}, 32),
              local);
    if (key) {
        if (soak_key_pid(key).id != pid.id)
            issue(w, report, "%s: registry key %s does not name child %s",
                  n->id, key, n->kids[j].id);
        w->registered++;
    }
}

static void walk_dynamic(grove_pid_t pid, bool report, soak_walk_t *w);
static void walk_sup(const node_t *n, grove_pid_t pid, bool report,
                     soak_walk_t *w);

/* One child as which_children reported it, against its spec j. */
static void check_child(const node_t *n, size_t j,
                        const grove_child_info_t *ci, bool report,
                        soak_walk_t *w, size_t *running)
{
    const grove_child_spec_t *sp = &n->kids[j];
    if (ci->type != sp->type || ci->restart != sp->restart)
        issue(w, report, "%s: child %s has type %d restart %d, spec says "
              "%d %d", n->id, ci->id, ci->type, ci->restart, sp->type,
              sp->restart);
    if (ci->state != GROVE_CHILD_RUNNING) {
        if (sp->restart == GROVE_PERMANENT)
            issue(w, report, "%s: permanent child %s is not running "
                  "(state %d)", n->id, ci->id, ci->state);
        else if (ci->state == GROVE_CHILD_RESTARTING)
            issue(w, report, "%s: child %s is still restarting", n->id,
                  ci->id);
        else if (sp->restart == GROVE_TEMPORARY)
            issue(w, report, "%s: temporary child %s kept after its end",
                  n->id, ci->id);
        return;
    }
    if (!grove_is_alive(ci->pid)) {
        issue(w, report, "%s: running child %s has a dead pid", n->id,
              ci->id);
        return;
    }
    (*running)++;
    check_names(n, j, ci->pid, report, w);
    if (n->sub[j] && n->sub[j]->dynamic) {
        walk_dynamic(ci->pid, report, w);
    } else if (n->sub[j]) {
        walk_sup(n->sub[j], ci->pid, report, w);
    } else {
        add_pid(w, ci->pid);
        w->workers++;
    }
}

/* Compares which_children (newest first) with the spec list in start
 * order: the same ids in the same order, where only temporary children
 * may be missing; then count_children with both. */
static void walk_sup(const node_t *n, grove_pid_t pid, bool report,
                     soak_walk_t *w)
{
    add_pid(w, pid);
    w->supervisors++;
    grove_server_t srv = grove_server_pid(pid);
    size_t cap = n->nkids + 8, total = 0, next = 0, running = 0, nsup = 0;
    grove_child_info_t *info = calloc(cap, sizeof *info);
    grove_child_counts_t cnt;
    if (!info)
        abort();
    if (grove_sup_which_children(srv, info, cap, &total) != 0 ||
        grove_sup_count_children(srv, &cnt) != 0) {
        issue(w, report, "%s: does not answer", n->id);
        free(info);
        return;
    }
    if (total > cap)
        issue(w, report, "%s: %zu children, its spec has %zu", n->id, total,
              n->nkids);
    for (size_t k = total < cap ? total : cap; k-- > 0;) {
        const grove_child_info_t *ci = &info[k];
        size_t j = next;
        while (j < n->nkids && strcmp(n->kids[j].id, ci->id) != 0)
            j++;
        if (j == n->nkids) {
            issue(w, report, "%s: unknown or misplaced child %s", n->id,
                  ci->id);
            continue;
        }
        for (; next < j; next++)
            if (n->kids[next].restart != GROVE_TEMPORARY)
                issue(w, report, "%s: child %s missing", n->id,
                      n->kids[next].id);
        next = j + 1;
        nsup += ci->type == GROVE_SUPERVISOR;
        check_child(n, j, ci, report, w, &running);
    }
    for (; next < n->nkids; next++)
        if (n->kids[next].restart != GROVE_TEMPORARY)
            issue(w, report, "%s: child %s missing", n->id,
                  n->kids[next].id);
    if (cnt.specs != total || cnt.active != running ||
        cnt.supervisors != nsup || cnt.workers != total - nsup)
        issue(w, report, "%s: count_children says specs %zu active %zu "
              "supervisors %zu workers %zu; which_children shows %zu, %zu "
              "running, %zu supervisors", n->id, cnt.specs, cnt.active,
              cnt.supervisors, cnt.workers, total, running, nsup);
    free(info);
}

typedef struct collect {
    uint64_t *pids;
    size_t n, cap;
    size_t bad; /* entries under a key that is not well formed */
} collect_t;

static void collect_push(collect_t *c, uint64_t id)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->pids = realloc(c->pids, c->cap * sizeof *c->pids);
        if (!c->pids)
            abort();
    }
    c->pids[c->n++] = id;
}

static bool session_key(const void *key, size_t len, grove_pid_t pid,
                        uint64_t value, void *arg)
{
    (void)pid;
    (void)value;
    (void)arg;
    return len > 2 && memcmp(key, "s/", 2) == 0;
}

static void collect_entry(const void *key, size_t len, grove_pid_t pid,
                          uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)value;
    collect_push(arg, pid.id);
}

/* The DynamicSupervisor: counts against which_children, every child
 * alive, and its children exactly the processes under "s/" keys. */
static void walk_dynamic(grove_pid_t pid, bool report, soak_walk_t *w)
{
    add_pid(w, pid);
    w->supervisors++;
    grove_server_t srv = grove_server_pid(pid);
    grove_child_counts_t cnt;
    if (grove_dynsup_count_children(srv, &cnt) != 0) {
        issue(w, report, "sessions: does not answer");
        return;
    }
    size_t cap = cnt.specs + 256, total = 0, running = 0;
    grove_child_info_t *info = calloc(cap, sizeof *info);
    uint64_t *kids = calloc(cap, sizeof *kids);
    if (!info || !kids)
        abort();
    if (grove_dynsup_which_children(srv, info, cap, &total) != 0 ||
        total > cap)
        issue(w, report, "sessions: which_children failed (%zu)", total);
    total = total < cap ? total : cap;
    for (size_t i = 0; i < total; i++) {
        if (info[i].state != GROVE_CHILD_RUNNING) {
            issue(w, report, "sessions: a child is restarting");
            continue;
        }
        if (!grove_is_alive(info[i].pid)) {
            issue(w, report, "sessions: a running child is dead");
            continue;
        }
        kids[running++] = info[i].pid.id;
        add_pid(w, info[i].pid);
        w->sessions++;
    }
    if (cnt.specs != total || cnt.active != running ||
        cnt.supervisors != 0 || cnt.workers != total)
        issue(w, report, "sessions: count_children says specs %zu active "
              "%zu supervisors %zu workers %zu; which_children shows %zu, "
              "%zu running", cnt.specs, cnt.active, cnt.supervisors,
              cnt.workers, total, running);
    collect_t reg = {0};
    grove_registry_select(soak_reg, session_key, collect_entry, &reg);
    qsort(kids, running, sizeof *kids, cmp_u64);
    size_t strangers = 0;
    for (size_t i = 0; i < reg.n; i++)
        strangers += !has_pid(kids, running, reg.pids[i]);
    if (reg.n != running || strangers)
        issue(w, report, "sessions: %zu running children but %zu session "
              "names, %zu of them not children", running, reg.n,
              strangers);
    w->registered += reg.n;
    free(reg.pids);
    free(info);
    free(kids);
}

static void collect_proc(grove_pid_t pid, void *arg)
{
    collect_push(arg, pid.id);
}

/* Registry and process-table checks over the whole walk. */
static void walk_globals(bool report, soak_walk_t *w)
{
    qsort(w->pids, w->npids, sizeof *w->pids, cmp_u64);
    for (size_t i = 1; i < w->npids; i++)
        if (w->pids[i] == w->pids[i - 1])
            issue(w, report, "a process appears twice in the tree");
    size_t count = grove_registry_count(soak_reg);
    collect_t reg = {0};
    grove_registry_select(soak_reg, NULL, collect_entry, &reg);
    size_t dead = 0, outside = 0;
    for (size_t i = 0; i < reg.n; i++) {
        dead += !grove_is_alive((grove_pid_t){reg.pids[i]});
        outside += !has_pid(w->pids, w->npids, reg.pids[i]);
    }
    if (count != w->registered || reg.n != count || dead || outside)
        issue(w, report, "registry: %zu entries (%zu listed), the tree "
              "names %zu; %zu point to dead processes, %zu outside the "
              "tree", count, reg.n, w->registered, dead, outside);
    collect_t live = {0};
    grove_processes(collect_proc, &live);
    size_t strangers = 0;
    uint64_t self = grove_self().id;
    grove_process_info_t first;
    memset(&first, 0, sizeof first);
    for (size_t i = 0; i < live.n; i++) {
        if (live.pids[i] == self || has_pid(w->pids, w->npids, live.pids[i]))
            continue;
        if (strangers++ == 0 &&
            grove_process_info((grove_pid_t){live.pids[i]}, &first) != 0)
            first.pid = (grove_pid_t){live.pids[i]};
    }
    if (strangers || live.n != w->npids + 1) {
        char who[GROVE_PID_STR_MAX], parent[GROVE_PID_STR_MAX];
        grove_pid_format(first.pid, who, sizeof who);
        grove_pid_format(first.parent, parent, sizeof parent);
        issue(w, report, "processes: %zu live, the tree has %zu (+1 "
              "checker); %zu live processes are outside the tree (the "
              "first: %s, status %d, behaviour '%s', name '%s', parent %s)",
              live.n, w->npids, strangers, who, (int)first.status,
              first.behaviour, first.name, parent);
    }
    free(reg.pids);
    free(live.pids);
}

void soak_tree_walk(grove_pid_t root, bool report, soak_walk_t *w)
{
    memset(w, 0, sizeof *w);
    if (soak_name_pid(N_ROOT).id != root.id)
        issue(w, report, "root: its name does not point to it");
    walk_sup(root_node, root, report, w);
    walk_globals(report, w);
}

void soak_walk_free(soak_walk_t *w)
{
    free(w->pids);
    memset(w, 0, sizeof *w);
}

/* A supervisor has failed to start a child many times in a row; each
 * failure is retried at once and counted toward its intensity, as in OTP.
 * The usual cause is a name clash: the child's previous instance, whose
 * own supervisor was killed, still holds the name while it dies. Says
 * who holds it. A holder that is alive and runnable only needs a turn on
 * a scheduler to finish its exit: a long run then means it gets none. */
void soak_tree_retry_storm(const char *sup, const char *child,
                           unsigned long run)
{
    for (size_t i = 0; i < nnodes; i++) {
        const node_t *n = &nodes[i];
        if (strcmp(n->id, sup) != 0)
            continue;
        for (size_t j = 0; j < n->nkids; j++) {
            if (strcmp(n->kids[j].id, child) != 0)
                continue;
            const char *nm = n->kid_local[j] ? n->kid_local[j]
                                             : n->kid_key[j];
            grove_pid_t h = n->kid_local[j] ? soak_name_pid(nm)
                                             : soak_key_pid(nm ? nm : "");
            static const char *const status[] = {
                "?", "runnable", "running", "waiting", "exiting"};
            grove_process_info_t in;
            memset(&in, 0, sizeof in);
            int rc = grove_process_info(h, &in);
            if (rc != 0)
                return; /* not a name clash: a child of it fails */
            char p[GROVE_PID_STR_MAX];
            soak_say("retry run: %s failed to start %s %lu times in a row; "
                     "its name %s is held by %s, alive and %s: links %zu, "
                     "monitors %zu, monitored by %zu, trap_exit %d, "
                     "mailbox %zu, scheduled %llu times",
                     sup, child, run, nm ? nm : "-",
                     grove_pid_format(h, p, sizeof p),
                     status[in.status >= 1 && in.status <= 4 ? in.status
                                                             : 0],
                     in.links, in.monitors, in.monitored_by, in.trap_exit,
                     in.mailbox_len, (unsigned long long)in.reductions);
        }
    }
}

/* ---- the restart table -------------------------------------------------- */

void soak_tree_sample_windows(void)
{
    for (size_t i = 0; i < nnodes; i++) {
        node_t *n = &nodes[i];
        grove_pid_t pid = soak_name_pid(n->name);
        grove_sup_stats_t st;
        if (n->dynamic || !pid.id ||
            grove_sup_stats(grove_server_pid(pid), &st) != 0)
            continue;
        if (st.in_window > n->peak_window)
            n->peak_window = st.in_window;
    }
}

static const char *strategy_name(int s)
{
    return s == GROVE_ONE_FOR_ONE   ? "one_for_one"
           : s == GROVE_ONE_FOR_ALL ? "one_for_all"
                                    : "rest_for_one";
}

static void print_dynamic(const node_t *n, grove_pid_t pid)
{
    size_t cap = 8192, total = 0;
    grove_child_info_t *info = calloc(cap, sizeof *info);
    uint64_t restarts = 0;
    if (info &&
        grove_dynsup_which_children(grove_server_pid(pid), info, cap,
                                    &total) == 0)
        for (size_t i = 0; i < total && i < cap; i++)
            restarts += info[i].restarts;
    free(info);
    soak_sup_counts_t c;
    soak_sup_counts_by_name(n->id, &c);
    soak_say("  %-8s %-12s %5d/%-2ds %4zu  restarts %6s (%llu)  failed "
             "%lu  escalations %lu", "sessions", "dynamic",
             GENEROUS_MAX_RESTARTS, GENEROUS_MAX_SECONDS, total, "-",
             (unsigned long long)restarts, c.start_errors, c.escalations);
}

void soak_tree_print(grove_pid_t root)
{
    soak_say("supervisors: limit, children, restarts (all instances' "
             "reports; this instance's grove_sup_stats, its window now, "
             "the most seen in a window), failed starts (the longest run "
             "of them in a row), escalations:");
    for (size_t i = 0; i < nnodes; i++) {
        const node_t *n = &nodes[i];
        grove_pid_t pid = n == root_node ? root : soak_name_pid(n->name);
        if (n->dynamic) {
            print_dynamic(n, pid);
            continue;
        }
        grove_sup_stats_t st;
        memset(&st, 0, sizeof st);
        if (grove_sup_stats(grove_server_pid(pid), &st) != 0) {
            soak_violation("%s: grove_sup_stats failed", n->id);
            continue;
        }
        long reports = soak_restart_reports_of(pid);
        if (reports >= 0 && (uint64_t)reports != st.restarts)
            soak_violation("%s: grove_sup_stats says %llu restarts, it "
                           "reported %ld", n->id,
                           (unsigned long long)st.restarts, reports);
        if (st.strategy != n->spec.flags.strategy ||
            st.max_restarts != n->spec.flags.max_restarts ||
            st.max_seconds != n->spec.flags.max_seconds)
            soak_violation("%s: grove_sup_stats flags differ from its spec",
                           n->id);
        soak_sup_counts_t c;
        soak_sup_counts_by_name(n->id, &c);
        char all[24];
        snprintf(all, sizeof all, "%lu", c.restarts);
        if (st.in_window > n->peak_window)
            ((node_t *)n)->peak_window = st.in_window;
        soak_say("  %-8s %-12s %5d/%-2ds %4zu  restarts %6s (%llu; %llu, "
                 "peak %llu)  failed %lu (run %lu, %lu ms)  escalations "
                 "%lu", n->id, strategy_name(st.strategy), st.max_restarts,
                 st.max_seconds, n->nkids, all,
                 (unsigned long long)st.restarts,
                 (unsigned long long)st.in_window,
                 (unsigned long long)n->peak_window, c.start_errors,
                 c.retry_run, c.retry_run_ms, c.escalations);
    }
}
