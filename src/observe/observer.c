/* Starting and stopping observers, and the life of their state (see
 * obs.h): references, the list of observers, and the observer's tree. */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "obs.h"

#define DEFAULT_CONNS 32
#define DEFAULT_REQUEST_MS 5000
#define DEFAULT_CALL_MS 1000
#define STOP_MS 10000

/* Every live observer. The log handler walks it; a state leaves it, under
 * the lock, before it is freed, so the handler never sees a freed one. */
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static grove__obs_t *list_head;

/* ---- references --------------------------------------------------------- */

static void obs_free(grove__obs_t *o)
{
    pthread_mutex_lock(&list_lock);
    for (grove__obs_t **pp = &list_head; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    pthread_mutex_unlock(&list_lock);
    grove__obs_events_free(o);
    pthread_mutex_destroy(&o->smp_lock);
    free(o);
}

void grove__obs_hold(grove__obs_t *o)
{
    /* Relaxed: a holder already has a reference, which keeps o alive. */
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void grove__obs_release(grove__obs_t *o)
{
    /* Acq_rel: every holder's writes happen before the free. */
    if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
        obs_free(o);
}

void grove__obs_release_dtor(void *o) { grove__obs_release(o); }

int grove__obs_attach(grove__obs_t *o)
{
    grove__obs_hold(o);
    int rc = grove_resource_attach(grove__obs_release_dtor, o, NULL);
    if (rc < 0)
        grove__obs_release(o);
    return rc;
}

int grove__obs_give(grove__obs_t *o, grove_pid_t pid)
{
    grove__obs_hold(o);
    /* An undelivered message runs the destructor at once. */
    return grove_send_owned(pid, GROVE__OBS_TAG_STATE, o, 1,
                            grove__obs_release_dtor);
}

grove__obs_t *grove__obs_take(void)
{
    grove_msg_t *m;
    if (grove_recv_tag(&m, GROVE__OBS_TAG_STATE, 5000) < 0)
        return NULL;
    return (grove__obs_t *)(uintptr_t)grove_msg_data(m);
}

void grove__obs_note_thread(grove__obs_t *o)
{
    grove__obs_note_tid(o, (int)syscall(SYS_gettid));
}

void grove__obs_note_tid(grove__obs_t *o, int tid)
{
    for (int i = 0; i < GROVE__OBS_THREADS; i++) {
        /* Relaxed: a set of ids read by the sampler; order is no matter. */
        int seen = atomic_load_explicit(&o->sched_tids[i],
                                        memory_order_relaxed);
        if (seen == tid)
            return;
        if (seen == 0) {
            int z = 0;
            if (atomic_compare_exchange_strong_explicit(
                    &o->sched_tids[i], &z, tid, memory_order_relaxed,
                    memory_order_relaxed) ||
                z == tid)
                return;
        }
    }
}

void grove__obs_each(void (*fn)(grove__obs_t *o, void *arg), void *arg)
{
    pthread_mutex_lock(&list_lock);
    for (grove__obs_t *o = list_head; o; o = o->next)
        fn(o, arg);
    pthread_mutex_unlock(&list_lock);
}

bool grove__obs_is_sup(const grove_process_info_t *pi)
{
    return strcmp(pi->behaviour, "supervisor") == 0 ||
           strcmp(pi->behaviour, "dynamic_supervisor") == 0;
}

/* ---- the state ---------------------------------------------------------- */

static int copy_opts(grove__obs_t *o, const grove_observer_opts_t *op)
{
    if (op->port < 0 || op->port > 65535 ||
        op->nroots > GROVE_OBSERVER_MAX_ROOTS ||
        op->napps > GROVE_OBSERVER_MAX_ROOTS ||
        (op->nroots && !op->roots) || (op->napps && !op->apps) ||
        op->kill < 0 || op->kill > GROVE_OBSERVER_KILL_OFF ||
        op->request_timeout < 0 || op->call_timeout < 0)
        return GROVE_EINVAL;
    const char *bind = op->bind && op->bind[0] ? op->bind : "127.0.0.1";
    if (strlen(bind) >= sizeof o->bind)
        return GROVE_EINVAL;
    strcpy(o->bind, bind);
    for (size_t i = 0; i < op->napps; i++)
        if (!op->apps[i] ||
            (size_t)snprintf(o->apps[i], sizeof o->apps[i], "%s",
                             op->apps[i]) >= sizeof o->apps[i])
            return GROVE_EINVAL;
    o->napps = op->napps;
    for (size_t i = 0; i < op->nroots; i++)
        o->roots[i] = op->roots[i];
    o->nroots = op->nroots;
    o->want_port = op->port;
    o->kill_mode = op->kill;
    o->max_conns = op->max_connections ? op->max_connections : DEFAULT_CONNS;
    o->req_timeout = op->request_timeout ? op->request_timeout
                                         : DEFAULT_REQUEST_MS;
    o->call_timeout = op->call_timeout ? op->call_timeout : DEFAULT_CALL_MS;
    return 0;
}

/* The topmost supervisor of the first run of supervisors met walking up
 * from the caller: the root of the tree the observer is started in. */
static grove_pid_t find_above(void)
{
    grove_pid_t cur = grove_self(), top = GROVE_PID_NONE;
    for (int depth = 0; !grove_pid_is_none(cur) && depth < 64; depth++) {
        grove_process_info_t pi;
        if (grove_process_info(cur, &pi) < 0)
            break;
        if (grove__obs_is_sup(&pi))
            top = cur;
        else if (!grove_pid_is_none(top))
            break;
        cur = pi.parent;
    }
    return top;
}

static grove__obs_t *obs_new(const grove_observer_opts_t *op, int *rc)
{
    grove__obs_t *o = grove__calloc(1, sizeof *o);
    if (!o) {
        *rc = GROVE_ENOMEM;
        return NULL;
    }
    atomic_init(&o->refs, 1);
    if ((*rc = copy_opts(o, op)) < 0 || (*rc = grove__obs_events_init(o)) < 0) {
        free(o);
        return NULL;
    }
    pthread_mutex_init(&o->smp_lock, NULL);
    o->above = find_above();
    pthread_mutex_lock(&list_lock);
    o->next = list_head;
    list_head = o;
    pthread_mutex_unlock(&list_lock);
    return o;
}

/* ---- the tree ----------------------------------------------------------- */

/* Runs in the observer's supervisor (every child start function does):
 * the first one attaches the supervisor's reference to it, so the state
 * lives exactly as long as the supervisor process, however it ends. */
static int hold_for_sup(grove__obs_t *o, grove_reason_t *why)
{
    if (o->sup_ref)
        return 0;
    int rc = grove__obs_attach(o);
    if (rc < 0) {
        *why = grove_reason_error(rc, "observer: out of memory");
        return rc;
    }
    o->sup_ref = true;
    atomic_store_explicit(&o->sup, grove_self().id, memory_order_relaxed);
    return 0;
}

static int sampler_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    grove__obs_t *o = arg;
    int rc = hold_for_sup(o, why);
    grove_spawn_opts_t so = {.link = true};
    if (rc == 0 && (rc = grove_spawn(grove__obs_sampler_main, NULL, &so,
                                     pid)) < 0)
        *why = grove_reason_error(rc, "observer: cannot spawn the sampler");
    if (rc == 0)
        grove__obs_give(o, *pid);
    return rc;
}

static int conns_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    grove__obs_t *o = arg;
    int rc = hold_for_sup(o, why);
    grove_dynsup_opts_t d = {.link = true, .max_children = o->max_conns};
    if (rc == 0 && (rc = grove_dynsup_start(&d, pid, why)) == 0)
        atomic_store_explicit(&o->conns, pid->id, memory_order_relaxed);
    return rc;
}

static int acceptor_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    grove__obs_t *o = arg;
    int rc = hold_for_sup(o, why);
    grove_gs_opts_t go = {.link = true};
    if (rc == 0)
        rc = grove_gs_start(&grove__obs_acceptor_cb, o, &go, pid, why);
    return rc;
}

static int start_tree(grove__obs_t *o, const grove_observer_opts_t *op,
                      grove_pid_t *pid, grove_reason_t *why)
{
    const grove_child_spec_t kids[] = {
        {.id = "sampler", .start = sampler_start, .arg = o,
         .shutdown = GROVE_SHUTDOWN_BRUTAL_KILL},
        {.id = "connections", .start = conns_start, .arg = o,
         .type = GROVE_SUPERVISOR},
        {.id = "acceptor", .start = acceptor_start, .arg = o,
         .shutdown = 1000},
    };
    const grove_sup_spec_t spec = {
        .name = "Grove.Observer",
        .flags = {.strategy = GROVE_REST_FOR_ONE},
        .children = kids,
        .nchildren = 3,
    };
    grove_sup_opts_t so = {.link = op->link, .name = op->name};
    return grove_sup_start(&spec, &so, pid, why);
}

/* The error a failed start returns: the listener's own, when that was
 * the failure. */
static int start_error(grove__obs_t *o, int rc)
{
    int le = atomic_load_explicit(&o->listen_error, memory_order_relaxed);
    if (rc == GROVE_ESTARTFAIL && le < 0)
        return le == GROVE_EEXIST || le == GROVE_ENOTFOUND ||
                       le == GROVE_EINVAL || le == GROVE_ENOMEM
                   ? le
                   : GROVE_ESTARTFAIL;
    return rc;
}

static int start_here(const grove_observer_opts_t *op, grove_pid_t *pid,
                      grove_reason_t *why)
{
    static const grove_observer_opts_t defaults;
    if (!op)
        op = &defaults;
    if (op->link && grove_pid_is_none(grove_self()))
        return GROVE_EINVAL;
    int rc = grove__obs_events_install();
    grove__obs_t *o = rc == 0 ? obs_new(op, &rc) : NULL;
    if (!o)
        return rc;
    grove_pid_t sup = GROVE_PID_NONE;
    rc = start_tree(o, op, &sup, why);
    if (rc < 0) {
        char text[GROVE_REASON_TEXT_MAX + 64];
        grove_reason_format(why, text, sizeof text);
        grove_log(GROVE_LOG_ERROR, "observer: cannot start: %s", text);
        rc = start_error(o, rc);
    } else if (pid) {
        *pid = sup;
    }
    grove__obs_release(o); /* the supervisor holds its own now */
    return rc;
}

/* ---- from a thread outside the runtime ---------------------------------- */

/* A call made from a thread runs in a short-lived process; the thread
 * waits for it, so the job can live on the thread's stack. */
typedef struct job {
    const grove_observer_opts_t *opts;
    grove_pid_t target;
    grove_pid_t pid;
    grove_reason_t why;
    int rc;
    bool stop;
} job_t;

static int stop_here(grove_pid_t observer);

static void job_main(void *arg)
{
    job_t *j = arg;
    j->rc = j->stop ? stop_here(j->target)
                    : start_here(j->opts, &j->pid, &j->why);
}

static int run_job(job_t *j)
{
    grove_pid_t p;
    int rc = grove_spawn(job_main, j, NULL, &p);
    if (rc < 0)
        return rc;
    rc = grove_wait(p, GROVE_INFINITY, NULL);
    return rc < 0 && rc != GROVE_ENOPROC ? rc : j->rc;
}

/* ---- the API ------------------------------------------------------------ */

GROVE_EXPORT int grove_observer_start(const grove_observer_opts_t *opts,
                                      grove_pid_t *pid)
{
    if (!grove_running())
        return GROVE_ENOTSTARTED;
    grove_reason_t why = grove_reason_normal();
    if (!grove_pid_is_none(grove_self()))
        return start_here(opts, pid, &why);
    if (opts && opts->link)
        return GROVE_EINVAL;
    job_t j = {.opts = opts};
    int rc = run_job(&j);
    if (rc == 0 && pid)
        *pid = j.pid;
    return rc;
}

GROVE_EXPORT int grove_observer_child_start(void *opts, grove_pid_t *pid,
                                            grove_reason_t *why)
{
    grove_observer_opts_t o = {0};
    if (opts)
        o = *(const grove_observer_opts_t *)opts;
    o.link = true;
    grove_reason_t r = grove_reason_normal();
    int rc = start_here(&o, pid, &r);
    if (rc < 0 && why)
        *why = r.kind == GROVE_EXIT_NORMAL
                   ? grove_reason_error(rc, "observer: %s",
                                        grove_strerror(rc))
                   : r;
    return rc;
}

typedef struct find {
    uint64_t sup;
    int port;
} find_t;

static void find_one(grove__obs_t *o, void *arg)
{
    find_t *f = arg;
    if (atomic_load_explicit(&o->sup, memory_order_relaxed) == f->sup)
        f->port = atomic_load_explicit(&o->port, memory_order_relaxed);
}

GROVE_EXPORT int grove_observer_port(grove_pid_t observer)
{
    if (grove_pid_is_none(observer))
        return GROVE_EINVAL;
    find_t f = {observer.id, 0};
    grove__obs_each(find_one, &f);
    if (f.port <= 0 || !grove_is_alive(observer))
        return GROVE_ENOPROC;
    return f.port;
}

static int stop_here(grove_pid_t observer)
{
    find_t f = {observer.id, 0};
    grove__obs_each(find_one, &f);
    if (f.port <= 0)
        return GROVE_ENOPROC;
    grove_reason_t why;
    int rc = grove_gs_stop(grove_server_pid(observer), NULL, STOP_MS, &why);
    return rc == GROVE_EEXITED ? 0 : rc;
}

GROVE_EXPORT int grove_observer_stop(grove_pid_t observer)
{
    if (grove_pid_is_none(observer))
        return GROVE_EINVAL;
    if (!grove_running())
        return GROVE_ENOPROC;
    if (!grove_pid_is_none(grove_self()))
        return stop_here(observer);
    job_t j = {.target = observer, .stop = true};
    return run_job(&j);
}
