/* PartitionSupervisor: N partitions under one supervisor, and routing.
 *
 * The top supervisor is an ordinary supervisor whose children are the
 * partitions. Routing must not cost a message per lookup, so each
 * partition supervisor has a descriptor in a shared table, found by name
 * under a spinlock: the number of partitions keys are spread over, and
 * each partition's current pid, written by the start function every time
 * the supervisor (re)starts that partition.
 *
 * Ownership of a descriptor changes hands once, under the lock: the
 * starter owns it while it is PENDING; the supervisor adopts it when its
 * first partition starts (it becomes LIVE, routable, and a resource of
 * the supervisor, freed when it exits). A starter that gets its start
 * back, or is killed while it waits, frees a descriptor still PENDING; a
 * start function that then runs finds it gone by its address alone and
 * fails the start, never touching freed memory.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviours/behaviours.h"
#include "base/failpoint.h"
#include "grove/partition_supervisor.h"

#define MAX_PARTITIONS (1u << 20)

typedef struct psup psup_t;

typedef struct slot {
    unsigned index;
    char id[12];
    /* Written by the supervisor, read by any router. Relaxed: a pid is
     * a self-contained value and a stale one is checked for life. */
    _Atomic uint64_t pid;
} slot_t;

enum { PENDING = 0, LIVE, RETIRED /* a later namesake took the name */ };

struct psup {
    psup_t *next;  /* every descriptor; under table_lock */
    int state;     /* under table_lock */
    char name[GROVE_NAME_MAX];
    uint64_t serial; /* tells this supervisor from a later namesake */
    unsigned initial;
    unsigned count;  /* partitions routed over; under table_lock */
    grove_partition_sup_opts_t o;
    slot_t slots[];
};

static grove__spin_t table_lock;
static psup_t *table;
static uint64_t serials;

/* ---- the table ---------------------------------------------------------- */

/* The routable descriptor for a name. */
static psup_t *find_locked(const char *name)
{
    for (psup_t *p = table; p; p = p->next)
        if (p->state == LIVE && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static bool listed_locked(const psup_t *p)
{
    for (psup_t *q = table; q; q = q->next)
        if (q == p)
            return true;
    return false;
}

/* The descriptor a slot belongs to, found by address only. */
static psup_t *owner_of_locked(const slot_t *s)
{
    uintptr_t a = (uintptr_t)s;
    for (psup_t *p = table; p; p = p->next)
        if (a >= (uintptr_t)p->slots &&
            a < (uintptr_t)(p->slots + p->initial))
            return p;
    return NULL;
}

static void unlink_locked(psup_t *p)
{
    for (psup_t **pp = &table; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static void list_add(psup_t *p)
{
    grove__spin_lock(&table_lock);
    p->next = table;
    table = p;
    grove__spin_unlock(&table_lock);
}

/* The supervisor's resource: runs when it exits, however it ends. */
static void release(void *arg)
{
    psup_t *p = arg;
    grove__spin_lock(&table_lock);
    unlink_locked(p);
    grove__spin_unlock(&table_lock);
    free(p);
}

/* The starter's: frees the descriptor if no supervisor adopted it. */
static void reclaim(void *arg)
{
    psup_t *p = arg;
    grove__spin_lock(&table_lock);
    bool mine = listed_locked(p) && p->state == PENDING;
    if (mine)
        unlink_locked(p);
    grove__spin_unlock(&table_lock);
    if (mine)
        free(p);
}

/* ---- starting partitions ------------------------------------------------ */

/* A supervisor whose name was just released may still be listed (names
 * go before resources at exit): the new one takes over the routing. */
static void go_live_locked(psup_t *p)
{
    psup_t *old = find_locked(p->name);
    if (old)
        old->state = RETIRED;
    p->state = LIVE;
    p->serial = ++serials;
}

/* Runs in the supervisor, before a partition starts: the descriptor
 * that slot s belongs to, adopted at the first start; NULL when the
 * starter took it back. */
static psup_t *adopt(const slot_t *s)
{
    grove__spin_lock(&table_lock);
    psup_t *p = owner_of_locked(s);
    bool live = p && p->state != PENDING;
    grove__spin_unlock(&table_lock);
    if (!p || live)
        return p; /* a restart: this supervisor owns it already */
    /* Attached first, by address: if the starter wins the race below,
     * the resource is detached unused. */
    grove_resource_t *res;
    if (grove_resource_attach(release, p, &res) < 0)
        return NULL;
    grove__spin_lock(&table_lock);
    bool ours = listed_locked(p) && p->state == PENDING;
    if (ours)
        go_live_locked(p);
    grove__spin_unlock(&table_lock);
    if (!ours)
        grove_resource_detach(res);
    return ours ? p : NULL;
}

static int part_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    slot_t *s = arg;
    psup_t *p = adopt(s);
    if (!p) {
        *why = grove_reason_error(GROVE_ENOMEM,
                                  "partition: withdrawn or out of memory");
        return GROVE_ENOMEM;
    }
    int rc;
    if (p->o.start) {
        rc = p->o.start(p->o.arg, s->index, pid, why);
    } else {
        grove_dynsup_opts_t d = p->o.dynsup;
        d.link = true;
        d.name = NULL;
        d.via = NULL;
        d.via_key = NULL;
        d.via_key_len = 0;
        rc = grove_dynsup_start(&d, pid, why);
    }
    atomic_store_explicit(&s->pid, rc == 0 ? pid->id : 0,
                          memory_order_relaxed);
    return rc;
}

static int bad(grove_reason_t *why, const char *what)
{
    if (why) {
        *why = grove_reason_error(GROVE_EINVAL, "%s", what);
        why->kind = GROVE_EXIT_BADARG;
    }
    return GROVE_EINVAL;
}

static int check_opts(const grove_partition_sup_opts_t *o,
                      grove_reason_t *why)
{
    if (!o || !grove__name_valid(o->name))
        return bad(why, "invalid_name");
    if (o->partitions > MAX_PARTITIONS)
        return bad(why, "invalid_partitions");
    if (o->flags.auto_shutdown != GROVE_AUTO_SHUTDOWN_NEVER)
        return bad(why, "invalid_auto_shutdown");
    /* Default partitions: what grove_dynsup_start would refuse in each. */
    if (!o->start && o->dynsup.max_restarts < GROVE_NO_RESTARTS)
        return bad(why, "invalid_dynsup_intensity");
    if (!o->start && o->dynsup.max_seconds < 0)
        return bad(why, "invalid_dynsup_period");
    return 0;
}

static psup_t *make_psup(const grove_partition_sup_opts_t *o, unsigned n)
{
    psup_t *p = grove__calloc(1, sizeof *p + n * sizeof(slot_t));
    if (!p)
        return NULL;
    p->o = *o;
    snprintf(p->name, sizeof p->name, "%s", o->name);
    p->o.name = p->name;
    p->initial = p->count = n;
    for (unsigned i = 0; i < n; i++) {
        p->slots[i].index = i;
        snprintf(p->slots[i].id, sizeof p->slots[i].id, "%u", i);
        atomic_init(&p->slots[i].pid, 0);
    }
    return p;
}

static grove_child_spec_t *make_specs(psup_t *p)
{
    /* The starter's memory: gone with it if it is killed meanwhile. */
    grove_child_spec_t *k = grove_calloc(p->initial, sizeof *k);
    if (!k)
        return NULL;
    bool custom = p->o.start != NULL;
    for (unsigned i = 0; i < p->initial; i++) {
        k[i].id = p->slots[i].id;
        k[i].start = part_start;
        k[i].arg = &p->slots[i];
        k[i].type = custom ? p->o.type : GROVE_SUPERVISOR;
        k[i].restart = custom ? p->o.restart : GROVE_PERMANENT;
        k[i].shutdown = custom ? p->o.shutdown : 0;
    }
    return k;
}

GROVE_EXPORT int grove_partition_sup_start(
    const grove_partition_sup_opts_t *opts, grove_pid_t *pid,
    grove_reason_t *why)
{
    int rc = check_opts(opts, why);
    if (rc < 0)
        return rc;
    if (!grove_running())
        return GROVE_ENOTSTARTED;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    unsigned n = opts->partitions ? opts->partitions
                                  : (unsigned)grove_scheduler_count();
    psup_t *p = make_psup(opts, n);
    grove_child_spec_t *kids = p ? make_specs(p) : NULL;
    if (!kids) {
        free(p);
        return GROVE_ENOMEM;
    }
    list_add(p);
    /* The starter's claim, released also if it is killed meanwhile. */
    grove_resource_t *hold = NULL;
    if (grove_resource_attach(reclaim, p, &hold) < 0) {
        grove_free(kids);
        reclaim(p);
        return GROVE_ENOMEM;
    }
    grove_sup_spec_t spec = {.name = p->name, .flags = opts->flags,
                             .children = kids, .nchildren = n};
    grove_sup_opts_t so = {.link = opts->link, .name = p->name};
    rc = grove_sup_start(&spec, &so, pid, why);
    grove_free(kids);
    grove_resource_release(hold);
    return rc;
}

GROVE_EXPORT int grove_partition_sup_child_start(void *opts, grove_pid_t *pid,
                                                 grove_reason_t *why)
{
    if (!opts)
        return bad(why, "invalid_name");
    grove_partition_sup_opts_t o = *(const grove_partition_sup_opts_t *)opts;
    o.link = true;
    return grove_partition_sup_start(&o, pid, why);
}

/* ---- routing ------------------------------------------------------------ */

static int route(const char *name, uint64_t h, grove_pid_t *pid)
{
    if (!name || !pid)
        return GROVE_EINVAL;
    uint64_t id = 0;
    int rc = GROVE_ENOTFOUND;
    grove__spin_lock(&table_lock);
    psup_t *p = find_locked(name);
    if (p) {
        rc = GROVE_ENOPROC;
        if (p->count)
            id = atomic_load_explicit(&p->slots[h % p->count].pid,
                                      memory_order_relaxed);
    }
    grove__spin_unlock(&table_lock);
    if (!id)
        return rc;
    pid->id = id;
    return grove_is_alive(*pid) ? 0 : GROVE_ENOPROC;
}

/* FNV-1a: cheap and spreads short keys well enough for a modulus. */
static uint64_t abs_key(int64_t key)
{
    /* Negated as unsigned: |INT64_MIN| does not fit an int64_t. */
    return key < 0 ? (uint64_t)0 - (uint64_t)key : (uint64_t)key;
}

GROVE_EXPORT int grove_partition_whereis(const char *name, int64_t key,
                                         grove_pid_t *pid)
{
    return route(name, abs_key(key), pid);
}

GROVE_EXPORT int grove_partition_whereis_bytes(const char *name,
                                               const void *key, size_t len,
                                               grove_pid_t *pid)
{
    if (!key && len)
        return GROVE_EINVAL;
    return route(name, grove__hash_bytes(key, len), pid);
}

GROVE_EXPORT grove_server_t grove_partition_server(const char *name,
                                                   int64_t key)
{
    grove_pid_t pid = GROVE_PID_NONE;
    if (grove_partition_whereis(name, key, &pid) < 0)
        pid = GROVE_PID_NONE;
    return grove_server_pid(pid);
}

GROVE_EXPORT grove_server_t grove_partition_server_bytes(const char *name,
                                                         const void *key,
                                                         size_t len)
{
    grove_pid_t pid = GROVE_PID_NONE;
    if (grove_partition_whereis_bytes(name, key, len, &pid) < 0)
        pid = GROVE_PID_NONE;
    return grove_server_pid(pid);
}

GROVE_EXPORT int grove_partition_sup_partitions(const char *name)
{
    if (!name)
        return GROVE_EINVAL;
    grove__spin_lock(&table_lock);
    psup_t *p = find_locked(name);
    int n = p ? (int)p->count : GROVE_ENOTFOUND;
    grove__spin_unlock(&table_lock);
    return n;
}

/* ---- children ----------------------------------------------------------- */

GROVE_EXPORT int grove_partition_sup_which_children(const char *name,
                                                    grove_child_info_t *out,
                                                    size_t max, size_t *n)
{
    if (!name || (!out && max) || !n)
        return GROVE_EINVAL;
    grove_server_t sup = grove_server_name(name);
    grove_child_counts_t c;
    int rc = grove_sup_count_children(sup, &c);
    /* The caller's memory: gone with it if it is killed meanwhile. */
    grove_child_info_t *all =
        rc == 0 ? grove_calloc(c.specs + 1, sizeof *all) : NULL;
    if (rc == 0 && !all)
        rc = GROVE_ENOMEM;
    size_t total = 0;
    if (rc == 0)
        rc = grove_sup_which_children(sup, all, c.specs, &total);
    if (rc == 0) {
        if (total > c.specs)
            total = c.specs; /* grew meanwhile: cannot happen, ids fixed */
        /* which_children lists newest first; ours go by partition. */
        for (size_t i = 0; i < total; i++) {
            size_t k = (size_t)strtoul(all[i].id, NULL, 10);
            if (k < max)
                out[k] = all[i];
        }
        *n = total;
    }
    grove_free(all);
    return rc;
}

GROVE_EXPORT int grove_partition_sup_count_children(const char *name,
                                                    grove_child_counts_t *out)
{
    if (!name || !out)
        return GROVE_EINVAL;
    return grove_sup_count_children(grove_server_name(name), out);
}

/* Copies the pids keys are routed to now; returns how many, or an
 * error. */
static int current_pids(const char *name, uint64_t **out)
{
    grove__spin_lock(&table_lock);
    psup_t *p = find_locked(name);
    int rc = !p ? GROVE_ENOTFOUND : p->o.start ? GROVE_ENOTSUP : 0;
    unsigned n = p ? p->initial : 0;
    grove__spin_unlock(&table_lock);
    if (rc < 0)
        return rc;
    /* Sized for the initial number outside the lock: the count only
     * ever shrinks below it. */
    uint64_t *pids = grove_calloc(n + 1, sizeof *pids);
    if (!pids)
        return GROVE_ENOMEM;
    grove__spin_lock(&table_lock);
    p = find_locked(name);
    unsigned k = p && p->count <= n ? p->count : 0;
    for (unsigned i = 0; i < k; i++)
        pids[i] = atomic_load_explicit(&p->slots[i].pid,
                                       memory_order_relaxed);
    grove__spin_unlock(&table_lock);
    *out = pids;
    return (int)k;
}

GROVE_EXPORT int grove_partition_sup_count_all(const char *name,
                                               grove_child_counts_t *out)
{
    if (!name || !out)
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    uint64_t *pids;
    int n = current_pids(name, &pids);
    if (n < 0)
        return n;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++) {
        grove_child_counts_t c;
        grove_pid_t pid = {pids[i]};
        if (!pid.id || grove_dynsup_count_children(grove_server_pid(pid),
                                                   &c) < 0)
            continue; /* restarting: it has no children to count */
        out->specs += c.specs;
        out->active += c.active;
        out->supervisors += c.supervisors;
        out->workers += c.workers;
    }
    grove_free(pids);
    return 0;
}

/* ---- resize ------------------------------------------------------------- */

static void set_count(const char *name, uint64_t serial, unsigned n)
{
    grove__spin_lock(&table_lock);
    psup_t *p = find_locked(name);
    if (p && p->serial == serial)
        p->count = n;
    grove__spin_unlock(&table_lock);
}

GROVE_EXPORT int grove_partition_sup_resize(const char *name, unsigned n)
{
    if (!name)
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    grove__spin_lock(&table_lock);
    psup_t *p = find_locked(name);
    unsigned initial = p ? p->initial : 0, cur = p ? p->count : 0;
    uint64_t serial = p ? p->serial : 0;
    grove__spin_unlock(&table_lock);
    if (!p)
        return GROVE_ENOTFOUND;
    if (n > initial)
        return GROVE_EINVAL;
    grove_server_t sup = grove_server_name(name);
    char id[12];
    /* Shrinking: stop routing to them before stopping them. Growing:
     * start them before routing to them. */
    if (n < cur)
        set_count(name, serial, n);
    for (unsigned i = n; i < cur; i++) {
        snprintf(id, sizeof id, "%u", i);
        grove_sup_terminate_child(sup, id);
    }
    for (unsigned i = cur; i < n; i++) {
        grove_pid_t pid;
        grove_reason_t why;
        snprintf(id, sizeof id, "%u", i);
        grove_sup_restart_child(sup, id, &pid, &why);
    }
    if (n > cur)
        set_count(name, serial, n);
    return (int)cur;
}
