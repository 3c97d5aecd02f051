/* Task functions and helpers shared by the Task tests (task_*.c).
 *
 * Each tu_* function is a grove_task_fn whose behaviour its argument
 * picks; tests steer a blocked task by sending it TU_TAG_FINISH. Counters
 * are process-wide atomics so tests can see what ran where. */
#ifndef GROVE_TEST_TASK_UTIL_H
#define GROVE_TEST_TASK_UTIL_H

#include <stdatomic.h>

#include "behaviours.h"

enum {
    TU_TAG_FINISH = 0x5455000000000001ull, /* data: int, the result */
    TU_TAG_PID,                            /* data: grove_pid_t */
    TU_TAG_TASK,                           /* data: grove_task_t */
    TU_TAG_RELEASE                         /* lets a stalled start go */
};

/* Times any tu_* function body began, and how many run at once now and
 * at most so far. */
extern atomic_int tu_runs;
extern atomic_int tu_now;
extern atomic_int tu_peak;
void tu_reset(void);

/* Result: a malloc'd int, twice (intptr_t)arg. */
int tu_double(void *arg, void **result, size_t *size);
/* Returns 0 and no result. */
int tu_nothing(void *arg, void **result, size_t *size);
/* Returns (intptr_t)arg, a failure when non-zero. */
int tu_fail(void *arg, void **result, size_t *size);
/* Waits for TU_TAG_FINISH and returns its int as the result. */
int tu_block(void *arg, void **result, size_t *size);
/* Sleeps (intptr_t)arg ms, then returns that number as the result. */
int tu_sleep(void *arg, void **result, size_t *size);
/* Traps exits and ignores every exit signal; never returns. */
int tu_stubborn(void *arg, void **result, size_t *size);
/* Exits with the reason arg points to. */
int tu_exit_with(void *arg, void **result, size_t *size);
/* Faults (a write through NULL). */
int tu_fault(void *arg, void **result, size_t *size);
/* Result: (intptr_t)arg bytes, byte i = i % 251. */
int tu_big(void *arg, void **result, size_t *size);

/* The int a reply carries (tu_double, tu_block, tu_sleep). */
int tu_reply_int(const grove_msg_t *reply);

/* Sends a task's pid (or the whole task) to `to`. */
void tu_send_pid(grove_pid_t to, grove_pid_t pid);
void tu_send_task(grove_pid_t to, const grove_task_t *t);
/* Waits for TU_TAG_PID / TU_TAG_TASK. */
grove_pid_t tu_expect_pid(void);
grove_task_t tu_expect_task(void);

/* Monitors pid and returns the reference (fails the test if it cannot). */
grove_ref_t tu_monitor(grove_pid_t pid);

/* A start function for a DynamicSupervisor child that stalls the
 * supervisor: it records "stalled", waits for TU_TAG_RELEASE sent to the
 * supervisor, and returns ignore. */
int tu_stall_start(void *arg, grove_pid_t *pid, grove_reason_t *why);

/* Captures log events of one kind (at every level) until tu_log_stop:
 * how many came, and the "reason" field of the last one. */
void tu_log_start(const char *kind);
int tu_log_count(void);
void tu_log_reason(char *buf, size_t size);
void tu_log_stop(void);

/* True when the calling process's mailbox is empty after ms. */
bool tu_mailbox_empty(int64_t ms);

#endif
