/* Task functions and helpers for the Task tests: see task_util.h. */
#include "task_util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_int tu_runs;
atomic_int tu_now;
atomic_int tu_peak;

void tu_reset(void)
{
    atomic_store(&tu_runs, 0);
    atomic_store(&tu_now, 0);
    atomic_store(&tu_peak, 0);
}

static void enter(void)
{
    atomic_fetch_add(&tu_runs, 1);
    int now = atomic_fetch_add(&tu_now, 1) + 1;
    int peak = atomic_load(&tu_peak);
    while (now > peak && !atomic_compare_exchange_weak(&tu_peak, &peak, now))
        ;
}

static void leave(void) { atomic_fetch_sub(&tu_now, 1); }

static int give_int(int v, void **result, size_t *size)
{
    int *p = malloc(sizeof *p);
    if (!p)
        return 99;
    *p = v;
    *result = p;
    *size = sizeof *p;
    return 0;
}

int tu_double(void *arg, void **result, size_t *size)
{
    enter();
    leave();
    return give_int(2 * (int)(intptr_t)arg, result, size);
}

int tu_nothing(void *arg, void **result, size_t *size)
{
    (void)arg;
    (void)result;
    (void)size;
    enter();
    leave();
    return 0;
}

int tu_fail(void *arg, void **result, size_t *size)
{
    (void)result;
    (void)size;
    enter();
    leave();
    return (int)(intptr_t)arg;
}

int tu_block(void *arg, void **result, size_t *size)
{
    (void)arg;
    enter();
    grove_msg_t *m;
    if (grove_recv_tag(&m, TU_TAG_FINISH, GROVE_INFINITY) != 0)
        return 98;
    int v = 0;
    if (grove_msg_size(m) == sizeof v)
        memcpy(&v, grove_msg_data(m), sizeof v);
    grove_msg_free(m);
    leave();
    return give_int(v, result, size);
}

int tu_sleep(void *arg, void **result, size_t *size)
{
    enter();
    grove_sleep((grove_timeout_t)(intptr_t)arg);
    leave();
    return give_int((int)(intptr_t)arg, result, size);
}

int tu_stubborn(void *arg, void **result, size_t *size)
{
    (void)arg;
    (void)result;
    (void)size;
    grove_trap_exit(true);
    enter();
    for (;;) {
        grove_msg_t *m;
        if (grove_recv(&m, GROVE_INFINITY) == 0)
            grove_msg_free(m);
    }
}

int tu_exit_with(void *arg, void **result, size_t *size)
{
    (void)result;
    (void)size;
    enter();
    leave();
    grove_exit((const grove_reason_t *)arg);
}

int tu_fault(void *arg, void **result, size_t *size)
{
    (void)arg;
    (void)result;
    (void)size;
    enter();
    gt_fault_null_write();
    return 0;
}

int tu_big(void *arg, void **result, size_t *size)
{
    size_t n = (size_t)(intptr_t)arg;
    unsigned char *p = malloc(n);
    if (!p)
        return 97;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i % 251);
    *result = p;
    *size = n;
    return 0;
}

int tu_reply_int(const grove_msg_t *reply)
{
    int v = -1;
    if (grove_msg_size(reply) == sizeof v)
        memcpy(&v, grove_msg_data(reply), sizeof v);
    return v;
}

void tu_send_pid(grove_pid_t to, grove_pid_t pid)
{
    grove_send(to, TU_TAG_PID, &pid, sizeof pid);
}

void tu_send_task(grove_pid_t to, const grove_task_t *t)
{
    grove_send(to, TU_TAG_TASK, t, sizeof *t);
}

grove_pid_t tu_expect_pid(void)
{
    grove_msg_t *m = EXPECT_TAG(TU_TAG_PID);
    grove_pid_t pid;
    memcpy(&pid, grove_msg_data(m), sizeof pid);
    grove_msg_free(m);
    return pid;
}

grove_task_t tu_expect_task(void)
{
    grove_msg_t *m = EXPECT_TAG(TU_TAG_TASK);
    grove_task_t t;
    memcpy(&t, grove_msg_data(m), sizeof t);
    grove_msg_free(m);
    return t;
}

grove_ref_t tu_monitor(grove_pid_t pid)
{
    grove_ref_t ref;
    ASSERT_OK(grove_monitor(pid, &ref));
    return ref;
}

int tu_stall_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    (void)why;
    *pid = GROVE_PID_NONE;
    gt_ev("stalled");
    grove_msg_t *m;
    if (grove_recv_tag(&m, TU_TAG_RELEASE, gt_scaled_ms(10000)) == 0)
        grove_msg_free(m);
    return GROVE_EIGNORE;
}

bool tu_mailbox_empty(int64_t ms)
{
    grove_msg_t *m;
    if (grove_recv(&m, ms) != 0)
        return true;
    grove_msg_free(m);
    return false;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_kind[40];
static char log_reason[160];
static int log_count;
static grove_log_handler_t *log_handler;

static void log_capture(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&log_mu);
    if (strcmp(ev->kind, log_kind) == 0) {
        log_count++;
        for (size_t i = 0; i < ev->nfields; i++)
            if (strcmp(ev->fields[i].key, "reason") == 0)
                snprintf(log_reason, sizeof log_reason, "%s",
                         ev->fields[i].value);
    }
    pthread_mutex_unlock(&log_mu);
}

void tu_log_start(const char *kind)
{
    pthread_mutex_lock(&log_mu);
    snprintf(log_kind, sizeof log_kind, "%s", kind);
    log_reason[0] = '\0';
    log_count = 0;
    pthread_mutex_unlock(&log_mu);
    ASSERT_OK(grove_log_add_handler(log_capture, NULL, GROVE_LOG_DEBUG,
                                    &log_handler));
}

int tu_log_count(void)
{
    pthread_mutex_lock(&log_mu);
    int n = log_count;
    pthread_mutex_unlock(&log_mu);
    return n;
}

void tu_log_reason(char *buf, size_t size)
{
    pthread_mutex_lock(&log_mu);
    snprintf(buf, size, "%s", log_reason);
    pthread_mutex_unlock(&log_mu);
}

void tu_log_stop(void)
{
    if (log_handler)
        grove_log_remove_handler(log_handler);
    log_handler = NULL;
}
