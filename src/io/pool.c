/* The blocking pool: threads for calls that can only block (files,
 * getaddrinfo), so that no scheduler thread ever does. The caller parks
 * in receive until its job's message arrives.
 *
 * A caller may die while its job runs. A resource in the caller notices:
 * the job's state says who finishes second, and that side frees the job
 * (and runs the argument's destructor when the caller never got the
 * result). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/io.h"

#define POOL_TAG UINT64_C(0xffffffffffff0302)
#define POOL_MAX_DEFAULT 16
#define POOL_MAX_LIMIT 256

/* RUNNING -> DONE (fn returned) -> SENT (the pool thread is out of the
 * runtime: the caller may return, and even stop the runtime); ORPHANED
 * when the caller died first. */
enum { JOB_RUNNING = 0, JOB_DONE, JOB_SENT, JOB_ORPHANED };

typedef struct job {
    struct job *next;
    void (*fn)(void *);
    void *arg;
    void (*dtor)(void *);
    grove_pid_t pid;
    atomic_int state;
} job_t;

/* Pool threads outlive a run of the runtime (they hold no descriptor,
 * and one may be stuck in a slow call). A send must then never race
 * grove_stop: sends take send_lock, and the stop hook marks the run over
 * under it, so none is in progress when the runtime goes away. */
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;
static bool run_over = true; /* under send_lock */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static job_t *head, *tail; /* under lock */
static int nthreads, nidle, max_threads; /* under lock */

static void job_finish(job_t *j)
{
    if (j->dtor)
        j->dtor(j->arg);
    free(j);
}

/* The caller's resource: it runs only if the caller exits without its
 * result. acq_rel: whichever side comes second sees the other's writes. */
static void job_orphan(void *p)
{
    job_t *j = p;
    if (atomic_exchange_explicit(&j->state, JOB_ORPHANED,
                                 memory_order_acq_rel) == JOB_SENT)
        job_finish(j);
}

static void job_run(job_t *j)
{
    grove_pid_t pid = j->pid;
    j->fn(j->arg);
    atomic_fetch_add_explicit(&grove__io_count.jobs, 1, memory_order_relaxed);
    if (atomic_exchange_explicit(&j->state, JOB_DONE, memory_order_acq_rel) ==
        JOB_ORPHANED) {
        job_finish(j);
        return;
    }
    pthread_mutex_lock(&send_lock);
    if (!run_over)
        grove__send_reliable(pid, POOL_TAG, GROVE_REF_NONE, &j, sizeof j, 0);
    pthread_mutex_unlock(&send_lock);
    /* After this exchange the caller may free the job. */
    if (atomic_exchange_explicit(&j->state, JOB_SENT, memory_order_acq_rel) ==
        JOB_ORPHANED)
        job_finish(j);
}

static void *pool_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!head) {
            nidle++;
            pthread_cond_wait(&cond, &lock);
            nidle--;
        }
        job_t *j = head;
        head = j->next;
        if (!head)
            tail = NULL;
        pthread_mutex_unlock(&lock);
        job_run(j);
    }
    return NULL;
}

static int pool_max(void)
{
    const char *e = getenv("GROVE_IO_THREADS");
    int n = e ? atoi(e) : 0;
    if (n <= 0)
        return POOL_MAX_DEFAULT;
    return n > POOL_MAX_LIMIT ? POOL_MAX_LIMIT : n;
}

/* A new thread when none is idle and the pool may grow; the jobs wait
 * for a free thread otherwise. Under lock. */
static int grow_locked(void)
{
    if (!max_threads)
        max_threads = pool_max();
    if (nidle > 0 || nthreads >= max_threads)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int e = grove__pthread_create(&t, NULL, pool_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e)
        return nthreads ? 0 : GROVE_ESYSCALL;
    pthread_detach(t);
    nthreads++;
    atomic_fetch_add_explicit(&grove__io_count.threads, 1,
                              memory_order_relaxed);
    return 0;
}

static void pool_stop(void)
{
    pthread_mutex_lock(&send_lock);
    run_over = true;
    pthread_mutex_unlock(&send_lock);
}

/* Each run of the runtime gets the stop hook once (grove_stop clears the
 * list). */
static int hook_run(void)
{
    int rc = 0;
    pthread_mutex_lock(&send_lock);
    if (run_over && (rc = grove__at_stop(pool_stop)) == 0)
        run_over = false;
    pthread_mutex_unlock(&send_lock);
    return rc;
}

static int submit(job_t *j)
{
    int rc0 = hook_run();
    if (rc0 < 0)
        return rc0;
    pthread_mutex_lock(&lock);
    int rc = grow_locked();
    if (rc == 0) {
        j->next = NULL;
        if (tail)
            tail->next = j;
        else
            head = j;
        tail = j;
        pthread_cond_signal(&cond);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static bool is_done(const grove_msg_t *m, void *job)
{
    const job_t *const *p = grove_msg_data(m);
    return grove_msg_kind(m) == GROVE_MSG_USER &&
           grove_msg_tag(m) == POOL_TAG && grove_msg_size(m) == sizeof job &&
           *p == job;
}

GROVE_EXPORT int grove_io_blocking_owned(void (*fn)(void *arg), void *arg,
                                         void (*dtor)(void *arg))
{
    if (grove_pid_is_none(grove_self()))
        return GROVE_ENOTPROC;
    if (!fn)
        return GROVE_EINVAL;
    job_t *j = grove__calloc(1, sizeof *j);
    if (!j)
        return GROVE_ENOMEM;
    j->fn = fn;
    j->arg = arg;
    j->dtor = dtor;
    j->pid = grove_self();
    atomic_init(&j->state, JOB_RUNNING);
    grove_resource_t *res;
    int rc = grove_resource_attach(job_orphan, j, &res);
    if (rc == 0 && (rc = submit(j)) < 0)
        grove_resource_detach(res);
    if (rc < 0) {
        free(j);
        return rc;
    }
    grove_msg_t *m;
    /* The pool thread may use the caller's stack variables (arg) while
     * it waits: keep that stack from being parked meanwhile. */
    bool pinned = grove__pin_stack(true);
    /* Only an exit can end this wait: the message always comes. */
    while (grove_recv_match(&m, is_done, j, GROVE_INFINITY) != 0)
        ;
    grove__pin_stack(pinned);
    grove_msg_free(m);
    /* The message can arrive before its sender has left grove_send; wait
     * for that (a few instructions), so that returning here means no pool
     * thread is inside the runtime on this caller's behalf. */
    while (atomic_load_explicit(&j->state, memory_order_acquire) != JOB_SENT)
        grove_yield();
    grove_resource_detach(res);
    free(j);
    return 0;
}

GROVE_EXPORT int grove_io_blocking(void (*fn)(void *arg), void *arg)
{
    return grove_io_blocking_owned(fn, arg, NULL);
}
