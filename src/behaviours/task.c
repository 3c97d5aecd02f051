/* Task and Task.Supervisor: one-off work in its own process.
 *
 * Every task process starts from a descriptor (fn, arg, owner) that it
 * copies and lets go of. An async task does no work until its owner has
 * made the reference (monitor + alias) and sent it in a "go" message:
 * the task cannot know the reference before, and a task that ran first
 * could crash before the monitor existed, which would turn its reason
 * into noproc. A supervised async task also watches its owner while it
 * waits (Task.Supervised): the owner is a stranger to it, not a link.
 *
 * The reply goes to the owner's alias, so once the owner stops waiting
 * (await timed out, shutdown) a late reply is dropped before it reaches
 * the mailbox, exactly as gen_server calls do.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviours/sup_common.h"
#include "base/failpoint.h"
#include "grove/task.h"

#define TAG_GO UINT64_C(0xffffffffffff0202)
#define GO_TIMEOUT 5000
#define TASK_SHUTDOWN_DEFAULT 5000

/* What a task process starts from. Exactly one party owns a block at a
 * time: the caller until a supervisor claims it, then the task process
 * (which frees it once it has copied the fields), or, for a restartable
 * task, the supervisor, which hands each run a copy. */
typedef struct tblock {
    uint64_t id;       /* its key in the claim table; 0 if not in it */
    grove_task_fn fn;
    void *arg;
    grove_pid_t owner; /* NONE: start_child, nobody gets the result */
    grove_pid_t sup;   /* the supervisor asked to start it */
    bool watch_owner;  /* supervised async: monitor the owner meanwhile */
    bool keep;         /* restartable: the supervisor keeps it */
    bool adopted;      /* kept by the supervisor (under claim_lock) */
} tblock_t;

/* What the running task knows; also read by its crash report. */
typedef struct trun {
    grove_task_fn fn;
    void *arg;
    grove_pid_t owner;
} trun_t;

static tblock_t *block_new(grove_task_fn fn, void *arg, grove_pid_t owner)
{
    tblock_t *b = grove__calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->fn = fn;
    b->arg = arg;
    b->owner = owner;
    return b;
}

/* ---- the claim table -------------------------------------------------------
 *
 * A supervised task's block reaches the supervisor inside a start_child
 * request, which may be handled after its caller is gone (killed while it
 * waited) or never (the supervisor died first). The request therefore
 * carries the block's id, not its address, and whoever takes the id out
 * of this table under the lock owns the block: the supervisor when it
 * starts the task, the caller when the request came back unused. */

static grove__spin_t claim_lock;
static grove__map_t claims; /* id -> tblock_t * */
static uint64_t claim_ids;

static int claim_insert(tblock_t *b)
{
    grove__spin_lock(&claim_lock);
    b->id = ++claim_ids;
    int rc = grove__map_put(&claims, b->id, (uint64_t)(uintptr_t)b);
    grove__spin_unlock(&claim_lock);
    return rc < 0 ? GROVE_ENOMEM : 0;
}

/* Takes the block out if it is still unclaimed (and, when sup_dead is
 * set, only if its supervisor is dead, so the request can never be
 * handled); frees it. */
static void claim_drop(uint64_t id, bool sup_dead)
{
    uint64_t v;
    tblock_t *b = NULL;
    grove__spin_lock(&claim_lock);
    if (grove__map_get(&claims, id, &v)) {
        b = (tblock_t *)(uintptr_t)v;
        if (b->adopted || (sup_dead && grove_is_alive(b->sup)))
            b = NULL;
        else
            grove__map_del(&claims, id, NULL);
    }
    grove__spin_unlock(&claim_lock);
    free(b);
}

/* The caller's resource while it waits for the supervisor: if it is
 * killed, its request may still be handled (Elixir starts that task, and
 * it then finds its owner gone); only a dead supervisor never will. */
static void orphaned(void *arg)
{
    claim_drop((uint64_t)(uintptr_t)arg, true);
}

/* A kept block, released when its supervisor exits. */
static void adopted_release(void *arg)
{
    uint64_t v;
    grove__spin_lock(&claim_lock);
    bool had = grove__map_del(&claims, (uint64_t)(uintptr_t)arg, &v);
    grove__spin_unlock(&claim_lock);
    if (had)
        free((tblock_t *)(uintptr_t)v);
}

/* ---- the task process --------------------------------------------------- */

static int task_report(void *arg, char *buf, size_t size)
{
    const trun_t *t = arg;
    char owner[GROVE_PID_STR_MAX];
    grove_pid_format(t->owner, owner, sizeof owner);
    return snprintf(buf, size, "task fn=%p arg=%p owner=%s",
                    (void *)(uintptr_t)t->fn, t->arg, owner);
}

/* Logs why a task ended without doing its work. Debug level: a task
 * abandoned this way is not an error (Elixir logs nothing), but it is
 * worth seeing when looking for it. */
static _Noreturn void abandon(const grove_reason_t *r)
{
    char reason[160], pid[GROVE_PID_STR_MAX];
    grove_reason_format(r, reason, sizeof reason);
    grove_pid_format(grove_self(), pid, sizeof pid);
    grove_log_field_t f[] = {{"pid", pid}, {"reason", reason}};
    grove_log_event(GROVE_LOG_DEBUG, "task_abandoned", grove_self(),
                    "task exited before it was handed its work", f, 2);
    grove_exit(r);
}

typedef struct go_wait {
    grove_pid_t owner;
    grove_ref_t mref;
} go_wait_t;

static bool is_go(const grove_msg_t *m, void *arg)
{
    const go_wait_t *w = arg;
    if (grove_msg_kind(m) == GROVE_MSG_DOWN)
        return w->mref.id && grove_msg_ref(m).id == w->mref.id;
    return (grove__msg_flags(m) & GROVE__MSGF_SYS) &&
           grove_msg_tag(m) == TAG_GO &&
           grove_msg_from(m).id == w->owner.id;
}

/* Waits for the owner to hand over the reply reference (T-10). */
static grove_ref_t await_go(grove_pid_t owner, bool watch)
{
    go_wait_t w = {.owner = owner};
    if (watch && grove_monitor(owner, &w.mref) < 0)
        w.mref = GROVE_REF_NONE;
    grove_msg_t *m;
    if (grove_recv_match(&m, is_go, &w,
                         watch ? GO_TIMEOUT : GROVE_INFINITY) != 0) {
        grove_reason_t t = grove_reason_of(GROVE_EXIT_TIMEOUT);
        abandon(&t);
    }
    if (grove_msg_kind(m) == GROVE_MSG_DOWN) {
        char why[GROVE_REASON_TEXT_MAX];
        grove_reason_format(grove_msg_reason(m), why, sizeof why);
        grove_msg_free(m);
        grove_reason_t r = grove_reason_shutdown(why);
        abandon(&r);
    }
    grove_ref_t ref = grove_msg_ref(m);
    grove_msg_free(m);
    if (w.mref.id)
        grove_demonitor(w.mref, GROVE_DEMONITOR_FLUSH);
    return ref;
}

/* A task whose function failed: Elixir logs the crash of a task, so do
 * we, then exit with the code. */
static _Noreturn void task_failed(const trun_t *t, int rc)
{
    grove_reason_t r = grove_reason_error(rc, "task failed: %d", rc);
    char pid[GROVE_PID_STR_MAX], reason[160], extra[160], text[320];
    grove_pid_format(grove_self(), pid, sizeof pid);
    grove_reason_format(&r, reason, sizeof reason);
    task_report((void *)t, extra, sizeof extra);
    snprintf(text, sizeof text, "task %s terminating: %s", pid, reason);
    grove_log_field_t f[] = {{"pid", pid}, {"reason", reason},
                             {"task", extra}};
    grove_log_event(GROVE_LOG_ERROR, "crash_report", grove_self(), text, f,
                    3);
    grove_exit(&r);
}

static void send_result(const trun_t *t, grove_ref_t ref, void *res,
                        size_t size)
{
    /* The owner may wait without a timeout: out of memory, wait for
     * memory rather than lose the result. */
    int rc = grove__send_reliable(t->owner, GROVE_TASK_REPLY_TAG, ref, res,
                                  res ? size : 0, GROVE__MSGF_ALIAS);
    free(res);
    if (rc == GROVE_EINVAL || rc == GROVE_ENOMEM) {
        /* The owner would wait in vain: say why instead. */
        grove_reason_t r = grove_reason_error(rc, "task result not sent: %s",
                                              grove_errname(rc));
        grove_exit(&r);
    }
}

static void task_main(void *arg)
{
    tblock_t *b = arg;
    trun_t t = {.fn = b->fn, .arg = b->arg, .owner = b->owner};
    bool watch = b->watch_owner;
    free(b); /* this process's own copy */
    grove__set_report_hook(task_report, &t);
    grove_ref_t ref = GROVE_REF_NONE;
    if (t.owner.id)
        ref = await_go(t.owner, watch);
    void *res = NULL;
    size_t size = 0;
    int rc = t.fn(t.arg, &res, &size);
    if (rc != 0) {
        free(res);
        task_failed(&t, rc);
    }
    if (t.owner.id)
        send_result(&t, ref, res, size);
    else
        free(res);
}

/* ---- the owner's side --------------------------------------------------- */

static void kill_task(grove_pid_t pid, bool linked)
{
    if (linked)
        grove_unlink(pid);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(pid, &kill);
}

/* Makes the reference (alias + monitor) and hands it to the task. */
static int hand_over(grove_pid_t pid, bool linked, grove_task_t *task)
{
    grove_ref_t ref = grove_make_ref();
    int rc = grove__monitor_with_ref(pid, ref);
    if (rc < 0) {
        kill_task(pid, linked);
        return rc;
    }
    /* Lost, it would leave the task waiting: see grove__send_reliable. */
    grove__send_reliable(pid, TAG_GO, ref, NULL, 0, GROVE__MSGF_SYS);
    task->pid = pid;
    task->ref = ref;
    task->owner = grove_self();
    return 0;
}

GROVE_EXPORT int grove_task_async(grove_task_fn fn, void *arg,
                                  grove_task_t *task)
{
    if (!fn || !task)
        return GROVE_EINVAL;
    grove_pid_t self = grove_self();
    if (self.id == 0)
        return GROVE_ENOTPROC;
    tblock_t *b = block_new(fn, arg, self);
    if (!b)
        return GROVE_ENOMEM;
    grove_spawn_opts_t o = {.link = true};
    grove_pid_t pid;
    int rc = grove_spawn(task_main, b, &o, &pid);
    if (rc < 0) {
        free(b);
        return rc;
    }
    return hand_over(pid, true, task);
}

static int check_task(const grove_task_t *t)
{
    if (!t || t->ref.id == 0 || t->pid.id == 0)
        return GROVE_EINVAL;
    grove_pid_t self = grove_self();
    if (self.id == 0)
        return GROVE_ENOTPROC;
    return t->owner.id == self.id ? 0 : GROVE_EINVAL;
}

static bool same_ref(const grove_msg_t *m, void *arg)
{
    return grove_msg_ref(m).id == *(const uint64_t *)arg;
}

/* Stops listening to a task: after this nothing of it reaches the
 * mailbox, and what had arrived is gone. */
static void forget(grove_task_t *t)
{
    uint64_t id = t->ref.id;
    grove_demonitor(t->ref, GROVE_DEMONITOR_FLUSH);
    grove_flush(same_ref, &id);
    t->ref = GROVE_REF_NONE;
}

/* Takes the task's reply or DOWN; either way the task is spent. */
static int settle(grove_task_t *t, grove_msg_t *m, grove_msg_t **reply,
                  grove_reason_t *why)
{
    if (grove_msg_kind(m) == GROVE_MSG_DOWN) {
        if (why)
            *why = *grove_msg_reason(m);
        grove_msg_free(m);
        t->ref = GROVE_REF_NONE;
        return GROVE_EEXITED;
    }
    grove_demonitor(t->ref, GROVE_DEMONITOR_FLUSH);
    t->ref = GROVE_REF_NONE;
    if (reply)
        *reply = m;
    else
        grove_msg_free(m);
    return 0;
}

static int wait_task(grove_task_t *t, grove_timeout_t timeout,
                     grove_msg_t **reply, grove_reason_t *why)
{
    grove_msg_t *m;
    int rc = grove_recv_ref(&m, t->ref, timeout);
    if (rc < 0)
        return rc;
    return settle(t, m, reply, why);
}

GROVE_EXPORT int grove_task_yield(grove_task_t *task, grove_timeout_t timeout,
                                  grove_msg_t **reply, grove_reason_t *why)
{
    int rc = check_task(task);
    if (rc < 0)
        return rc;
    if (timeout < GROVE_INFINITY)
        return GROVE_EINVAL;
    return wait_task(task, timeout, reply, why);
}

GROVE_EXPORT int grove_task_await(grove_task_t *task, grove_timeout_t timeout,
                                  grove_msg_t **reply)
{
    int rc = check_task(task);
    if (rc < 0)
        return rc;
    if (timeout < GROVE_INFINITY)
        return GROVE_EINVAL;
    grove_reason_t why;
    rc = wait_task(task, timeout, reply, &why);
    if (rc == 0)
        return 0;
    if (rc == GROVE_ETIMEDOUT) {
        forget(task);
        why = grove_reason_of(GROVE_EXIT_TIMEOUT);
        snprintf(why.text, sizeof why.text, "task await (%lld ms)",
                 (long long)timeout);
    } else if (rc == GROVE_EEXITED && why.kind == GROVE_EXIT_NOPROC) {
        snprintf(why.text, sizeof why.text, "task await");
    } else if (rc != GROVE_EEXITED) {
        why = grove_reason_error(rc, "task await: %s", grove_errname(rc));
    }
    /* As Task.await: the caller exits. */
    grove_exit(&why);
}

/* How long shutdown waits after the shutdown signal; false when the
 * value is not one of the accepted ones. */
static bool shutdown_wait(grove_timeout_t shutdown, grove_timeout_t *wait)
{
    if (shutdown == 0)
        *wait = TASK_SHUTDOWN_DEFAULT;
    else if (shutdown == GROVE_SHUTDOWN_BRUTAL_KILL ||
             shutdown == GROVE_SHUTDOWN_INFINITY)
        *wait = GROVE_INFINITY;
    else if (shutdown > 0)
        *wait = shutdown;
    else
        return false;
    return true;
}

GROVE_EXPORT int grove_task_shutdown(grove_task_t *task,
                                     grove_timeout_t shutdown,
                                     grove_msg_t **reply,
                                     grove_reason_t *why)
{
    int rc = check_task(task);
    if (rc < 0)
        return rc;
    grove_timeout_t wait;
    if (!shutdown_wait(shutdown, &wait))
        return GROVE_EINVAL;
    grove_unlink(task->pid);
    grove_reason_t sig = shutdown == GROVE_SHUTDOWN_BRUTAL_KILL
                             ? grove_reason_of(GROVE_EXIT_KILL)
                             : grove_reason_shutdown(NULL);
    grove_exit_signal(task->pid, &sig);
    rc = wait_task(task, wait, reply, why);
    if (rc == GROVE_ETIMEDOUT) {
        grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
        grove_exit_signal(task->pid, &kill);
        rc = wait_task(task, GROVE_INFINITY, reply, why);
    }
    return rc;
}

/* ---- Task.Supervisor ---------------------------------------------------- */

GROVE_EXPORT int grove_task_sup_start(const grove_task_sup_opts_t *opts,
                                      grove_pid_t *pid, grove_reason_t *why)
{
    grove_dynsup_opts_t d = {0};
    if (opts) {
        d.link = opts->link;
        d.name = opts->name;
        d.via = opts->via;
        d.via_key = opts->via_key;
        d.via_key_len = opts->via_key_len;
        d.max_restarts = opts->max_restarts;
        d.max_seconds = opts->max_seconds;
        d.max_children = opts->max_children;
    }
    return grove_dynsup_start(&d, pid, why);
}

GROVE_EXPORT int grove_task_sup_child_start(void *opts, grove_pid_t *pid,
                                            grove_reason_t *why)
{
    grove_task_sup_opts_t o = {0};
    if (opts)
        o = *(const grove_task_sup_opts_t *)opts;
    o.link = true;
    return grove_task_sup_start(&o, pid, why);
}

/* Takes the block for one run: a temporary task's block itself (it
 * leaves the table), a kept one's copy (adopting the original at the
 * first start). NULL when the caller took it back first. */
static tblock_t *claim_for_run(uint64_t id, bool *adopt)
{
    uint64_t v;
    tblock_t *run = NULL;
    *adopt = false;
    grove__spin_lock(&claim_lock);
    if (grove__map_get(&claims, id, &v)) {
        tblock_t *b = (tblock_t *)(uintptr_t)v;
        if (!b->keep) {
            grove__map_del(&claims, id, NULL);
            run = b;
        } else if ((run = grove__malloc(sizeof *run)) != NULL) {
            *run = *b;
            *adopt = !b->adopted;
            b->adopted = true;
        }
    }
    grove__spin_unlock(&claim_lock);
    return run;
}

/* Gives a block back to its caller when it could not be kept. */
static void unadopt(uint64_t id)
{
    uint64_t v;
    grove__spin_lock(&claim_lock);
    if (grove__map_get(&claims, id, &v))
        ((tblock_t *)(uintptr_t)v)->adopted = false;
    grove__spin_unlock(&claim_lock);
}

/* The child start function: runs in the supervisor, at the first start
 * and at every restart. */
static int child_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    bool adopt;
    tblock_t *run = claim_for_run(id, &adopt);
    if (!run) {
        *why = grove_reason_error(GROVE_ENOTFOUND, "task: withdrawn");
        return GROVE_ENOTFOUND;
    }
    /* A kept block lives as long as the supervisor may start it again. */
    if (adopt && grove_resource_attach(adopted_release, arg, NULL) < 0) {
        unadopt(id);
        free(run);
        *why = grove_reason_error(GROVE_ENOMEM, "task: out of memory");
        return GROVE_ENOMEM;
    }
    grove_spawn_opts_t o = {.link = true};
    int rc = grove_spawn(task_main, run, &o, pid);
    if (rc < 0) {
        free(run);
        *why = grove_reason_error(rc, "task spawn: %s", grove_errname(rc));
    }
    return rc;
}

static int restart_of(int task_restart)
{
    switch (task_restart) {
    case GROVE_TASK_TEMPORARY:
        return GROVE_TEMPORARY;
    case GROVE_TASK_TRANSIENT:
        return GROVE_TRANSIENT;
    case GROVE_TASK_PERMANENT:
        return GROVE_PERMANENT;
    default:
        return -1;
    }
}

/* Starts a task process under sup from b, which the call takes over. */
static int sup_spawn(grove_server_t sup, tblock_t *b,
                     const grove_task_opts_t *o, grove_pid_t *pid)
{
    static const grove_task_opts_t none;
    if (!o)
        o = &none;
    int restart = restart_of(o->restart);
    int rc = restart < 0 ? GROVE_EINVAL : grove_server_whereis(sup, &b->sup);
    if (rc == 0)
        rc = claim_insert(b);
    if (rc < 0) {
        if (b->id)
            claim_drop(b->id, false);
        else
            free(b);
        return rc;
    }
    uint64_t id = b->id;
    b->keep = restart != GROVE_TEMPORARY;
    grove_resource_t *hold = NULL;
    if (grove_resource_attach(orphaned, (void *)(uintptr_t)id, &hold) < 0) {
        claim_drop(id, false);
        return GROVE_ENOMEM;
    }
    grove_child_spec_t spec = {
        .id = "task",
        .start = child_start,
        .arg = (void *)(uintptr_t)id,
        .restart = restart,
        .shutdown = o->shutdown ? o->shutdown : TASK_SHUTDOWN_DEFAULT};
    grove_reason_t why;
    rc = grove_dynsup_start_child(sup, &spec, pid, &why);
    /* Answered or refused: an unclaimed block is the caller's again. */
    grove_resource_detach(hold);
    claim_drop(id, false);
    return rc;
}

GROVE_EXPORT int grove_task_sup_start_child(grove_server_t sup,
                                            grove_task_fn fn, void *arg,
                                            const grove_task_opts_t *opts,
                                            grove_pid_t *pid)
{
    if (!fn)
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    tblock_t *b = block_new(fn, arg, GROVE_PID_NONE);
    if (!b)
        return GROVE_ENOMEM;
    grove_pid_t p = GROVE_PID_NONE;
    int rc = sup_spawn(sup, b, opts, &p);
    if (pid)
        *pid = rc == 0 ? p : GROVE_PID_NONE;
    return rc;
}

static int sup_async(grove_server_t sup, grove_task_fn fn, void *arg,
                     const grove_task_opts_t *opts, bool link,
                     grove_task_t *task)
{
    if (!fn || !task || (opts && opts->restart != GROVE_TASK_TEMPORARY))
        return GROVE_EINVAL;
    grove_pid_t self = grove_self();
    if (self.id == 0)
        return GROVE_ENOTPROC;
    tblock_t *b = block_new(fn, arg, self);
    if (!b)
        return GROVE_ENOMEM;
    b->watch_owner = true;
    grove_pid_t pid;
    int rc = sup_spawn(sup, b, opts, &pid);
    if (rc < 0)
        return rc;
    /* A task that died meanwhile gives DOWN noproc to await. */
    if (link)
        grove_link(pid);
    return hand_over(pid, link, task);
}

GROVE_EXPORT int grove_task_sup_async(grove_server_t sup, grove_task_fn fn,
                                      void *arg,
                                      const grove_task_opts_t *opts,
                                      grove_task_t *task)
{
    return sup_async(sup, fn, arg, opts, true, task);
}

GROVE_EXPORT int grove_task_sup_async_nolink(grove_server_t sup,
                                             grove_task_fn fn, void *arg,
                                             const grove_task_opts_t *opts,
                                             grove_task_t *task)
{
    return sup_async(sup, fn, arg, opts, false, task);
}

GROVE_EXPORT int grove_task_sup_terminate_child(grove_server_t sup,
                                                grove_pid_t pid)
{
    return grove_dynsup_terminate_child(sup, pid);
}

/* which_children until the buffer holds them all. */
static int list_children(grove_server_t sup, grove_child_info_t **out,
                         size_t *n)
{
    size_t cap = 16;
    for (;;) {
        /* The caller's own memory: gone with it if it is killed while
         * it waits for the supervisor. */
        grove_child_info_t *buf = grove_alloc(cap * sizeof *buf);
        if (!buf)
            return GROVE_ENOMEM;
        int rc = grove_dynsup_which_children(sup, buf, cap, n);
        if (rc < 0 || *n <= cap) {
            if (rc < 0)
                grove_free(buf);
            else
                *out = buf;
            return rc;
        }
        grove_free(buf);
        cap = *n + 16;
    }
}

GROVE_EXPORT int grove_task_sup_children(grove_server_t sup,
                                         grove_pid_t *out, size_t max,
                                         size_t *n)
{
    if ((!out && max) || !n)
        return GROVE_EINVAL;
    /* The list is taken into the caller's own memory. */
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    grove_child_info_t *all;
    size_t total, running = 0;
    int rc = list_children(sup, &all, &total);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < total; i++) {
        if (all[i].state != GROVE_CHILD_RUNNING)
            continue;
        if (running < max)
            out[running] = all[i].pid;
        running++;
    }
    grove_free(all);
    *n = running;
    return 0;
}

/* ---- streams ------------------------------------------------------------ */

typedef struct running {
    size_t index;
    grove_task_t task;
    uint64_t deadline; /* ms; UINT64_MAX: none */
} running_t;

/* What a stream allocates: the caller's resource, so a caller that a
 * failing task or a timeout ends mid-stream leaks nothing. */
typedef struct stream_mem {
    grove__map_t refs; /* task ref id -> slot index + 1 */
    running_t run[];   /* o.max_concurrency slots */
} stream_mem_t;

typedef struct stream {
    const grove_server_t *sup; /* NULL: plain linked tasks */
    grove_task_fn fn;
    void *const *args;
    grove_task_stream_opts_t o;
    grove_task_result_t *results;
    running_t *run;
    size_t nrun;
    grove__map_t *refs;
    bool linked, trapping;
} stream_t;

static void stream_mem_free(void *arg)
{
    stream_mem_t *m = arg;
    grove__map_free(&m->refs);
    free(m);
}

static int stream_start(stream_t *s, size_t index)
{
    running_t *r = &s->run[s->nrun];
    grove_task_opts_t to = {.shutdown = s->o.shutdown};
    int rc = s->sup ? sup_async(*s->sup, s->fn, s->args[index], &to,
                                s->linked, &r->task)
                    : grove_task_async(s->fn, s->args[index], &r->task);
    if (rc < 0)
        return rc;
    if (grove__map_put(s->refs, r->task.ref.id, s->nrun + 1) < 0) {
        kill_task(r->task.pid, s->linked);
        forget(&r->task);
        return GROVE_ENOMEM;
    }
    r->index = index;
    r->deadline = s->o.timeout == GROVE_INFINITY
                      ? UINT64_MAX
                      : grove__mono_ms() + (uint64_t)s->o.timeout;
    s->nrun++;
    return 0;
}

static bool is_exit_from(const grove_msg_t *m, void *arg)
{
    return grove_msg_kind(m) == GROVE_MSG_EXIT &&
           grove_msg_from(m).id == *(const uint64_t *)arg;
}

/* Removes slot k (its task is settled), leaving no link or EXIT. */
static void stream_drop(stream_t *s, size_t k, grove_pid_t pid,
                        uint64_t ref)
{
    grove__map_del(s->refs, ref, NULL);
    if (s->linked) {
        uint64_t id = pid.id;
        grove_unlink(pid);
        if (s->trapping)
            grove_flush(is_exit_from, &id);
    }
    s->nrun--;
    if (k != s->nrun) {
        s->run[k] = s->run[s->nrun];
        grove__map_put(s->refs, s->run[k].task.ref.id, k + 1);
    }
}

static void stream_settle(stream_t *s, size_t k, grove_msg_t *m)
{
    running_t *r = &s->run[k];
    grove_task_result_t *res = &s->results[r->index];
    uint64_t ref = r->task.ref.id;
    grove_pid_t pid = r->task.pid;
    res->status = settle(&r->task, m, &res->reply, &res->reason);
    if (res->status != 0)
        res->reply = NULL;
    stream_drop(s, k, pid, ref);
}

/* Kills every running task and forgets it. */
static void stream_kill_all(stream_t *s)
{
    while (s->nrun) {
        running_t *r = &s->run[s->nrun - 1];
        uint64_t ref = r->task.ref.id;
        grove_pid_t pid = r->task.pid;
        kill_task(pid, s->linked);
        forget(&r->task);
        stream_drop(s, s->nrun - 1, pid, ref);
    }
}

static void stream_timed_out(stream_t *s, size_t k)
{
    if (s->o.on_timeout != GROVE_TASK_ON_TIMEOUT_KILL) {
        stream_kill_all(s);
        grove_reason_t r = grove_reason_of(GROVE_EXIT_TIMEOUT);
        snprintf(r.text, sizeof r.text, "task stream (%lld ms)",
                 (long long)s->o.timeout);
        grove_exit(&r);
    }
    running_t *r = &s->run[k];
    grove_task_result_t *res = &s->results[r->index];
    uint64_t ref = r->task.ref.id;
    grove_pid_t pid = r->task.pid;
    /* A result that raced the timer still counts. */
    if (grove_task_shutdown(&r->task, GROVE_SHUTDOWN_BRUTAL_KILL,
                            &res->reply, &res->reason) == 0) {
        res->status = 0;
    } else {
        res->status = GROVE_ETIMEDOUT;
        res->reply = NULL;
        res->reason = grove_reason_of(GROVE_EXIT_TIMEOUT);
    }
    stream_drop(s, k, pid, ref);
}

static bool is_stream_msg(const grove_msg_t *m, void *arg)
{
    const grove__map_t *refs = arg;
    uint64_t v;
    return grove_msg_ref(m).id && grove__map_get(refs, grove_msg_ref(m).id,
                                                 &v);
}

/* The slot whose deadline comes first, and how long until it. */
static size_t next_deadline(const stream_t *s, grove_timeout_t *wait)
{
    size_t first = 0;
    for (size_t k = 1; k < s->nrun; k++)
        if (s->run[k].deadline < s->run[first].deadline)
            first = k;
    uint64_t dl = s->run[first].deadline, now = grove__mono_ms();
    *wait = dl == UINT64_MAX ? GROVE_INFINITY
            : dl > now       ? (grove_timeout_t)(dl - now)
                             : 0;
    return first;
}

/* Waits for one task to answer, exit or overrun. */
static void stream_step(stream_t *s)
{
    grove_timeout_t wait;
    size_t first = next_deadline(s, &wait);
    grove_msg_t *m;
    if (grove_recv_match(&m, is_stream_msg, s->refs, wait) != 0) {
        stream_timed_out(s, first);
        return;
    }
    uint64_t v = 0;
    grove__map_get(s->refs, grove_msg_ref(m).id, &v);
    stream_settle(s, (size_t)v - 1, m);
}

static void free_results(grove_task_result_t *results, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        grove_msg_free(results[i].reply);
        memset(&results[i], 0, sizeof results[i]);
    }
}

static int stream_run(stream_t *s, size_t n)
{
    size_t next = 0;
    int rc = 0;
    while (rc == 0 && (next < n || s->nrun)) {
        while (next < n && s->nrun < s->o.max_concurrency &&
               (rc = stream_start(s, next)) == 0)
            next++;
        if (rc == 0 && s->nrun)
            stream_step(s);
    }
    if (rc < 0) {
        stream_kill_all(s);
        free_results(s->results, n);
    }
    return rc;
}

static int stream(const grove_server_t *sup, grove_task_fn fn,
                  void *const *args, size_t n,
                  const grove_task_stream_opts_t *opts,
                  grove_task_result_t *results)
{
    static const grove_task_stream_opts_t none;
    stream_t s = {.sup = sup, .fn = fn, .args = args, .results = results,
                  .o = opts ? *opts : none};
    if (!fn || (n && (!args || !results)) || s.o.timeout < GROVE_INFINITY ||
        s.o.on_timeout < 0 || s.o.on_timeout > GROVE_TASK_ON_TIMEOUT_KILL)
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    if (!s.o.timeout)
        s.o.timeout = GROVE_TASK_DEFAULT_TIMEOUT;
    if (!s.o.max_concurrency)
        s.o.max_concurrency = (size_t)grove_scheduler_count();
    if (s.o.max_concurrency > n)
        s.o.max_concurrency = n ? n : 1;
    s.linked = !(sup && s.o.nolink);
    int trap = grove_trap_exit(true);
    grove_trap_exit(trap > 0);
    s.trapping = trap > 0;
    if (n)
        memset(results, 0, n * sizeof *results);
    stream_mem_t *mem = grove__calloc(1, sizeof *mem + s.o.max_concurrency *
                                                    sizeof(running_t));
    grove_resource_t *res = NULL;
    if (!mem || grove_resource_attach(stream_mem_free, mem, &res) < 0) {
        free(mem);
        return GROVE_ENOMEM;
    }
    s.run = mem->run;
    s.refs = &mem->refs;
    int rc = stream_run(&s, n);
    grove_resource_release(res);
    return rc;
}

GROVE_EXPORT int grove_task_async_stream(grove_task_fn fn, void *const *args,
                                         size_t n,
                                         const grove_task_stream_opts_t *opts,
                                         grove_task_result_t *results)
{
    return stream(NULL, fn, args, n, opts, results);
}

GROVE_EXPORT int grove_task_sup_async_stream(
    grove_server_t sup, grove_task_fn fn, void *const *args, size_t n,
    const grove_task_stream_opts_t *opts, grove_task_result_t *results)
{
    return stream(&sup, fn, args, n, opts, results);
}
