/* Helpers for the behaviour tests (gen_server, supervisor, application):
 * an event log shared by every process of a test, a configurable test
 * child that supervisors start, and short-hands for supervisor queries.
 *
 * The event log. gt_ev() appends one short event ("start:a") to a log
 * that every process of the test shares; ASSERT_EVENTS checks the exact
 * sequence. When an event fd is set (gt_ev_set_fd), each event is also
 * written to it as one line, so a forked child (the application tests)
 * can report to its parent through a pipe.
 *
 * The test child. gt_child(id, kind, restart) returns a child spec for a
 * child that records "start:ID" when it starts (synchronously, inside the
 * supervisor, for GT_START and GT_GEN_SERVER; from the new process itself
 * for GT_ENTRY), "fail:ID" or "ignore:ID" when a start attempt fails or
 * is ignored as configured, and "stop:ID" when it stops because it was
 * told to shut down (an exit signal it traps, or terminate for a
 * gen_server). A child told to exit by the test (gt_child_exit) records
 * nothing. Children are kept in a table by id for the whole test; the
 * supervisor may copy the spec, the child's state stays in the table.
 */
#ifndef GROVE_TEST_BEHAVIOURS_H
#define GROVE_TEST_BEHAVIOURS_H

#include "grove_test.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- event log ------------------------------------------------------- */

/* The log (made on first use). */
gt_order_t *gt_ev_log(void);
/* Appends one event. Thread-safe; callable from any process. */
void gt_ev(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The number of events so far. */
int gt_ev_count(void);
/* Also write each event as a line to fd (-1: stop). */
void gt_ev_set_fd(int fd);

/* Asserts the exact sequence of events; ASSERT_EVENTS(NULL): none. */
#define ASSERT_EVENTS(...)                                                   \
    gt_order_check(gt_ev_log(), __FILE__, __LINE__,                          \
                   (const char *const[]){__VA_ARGS__, NULL})
/* Waits until at least n events were recorded. */
#define WAIT_EVENTS(n) WAIT_UNTIL(gt_ev_count() >= (n))

/* ---- the test child -------------------------------------------------- */

enum gt_child_kind {
    GT_START = 0,  /* custom start function spawning a plain process */
    GT_GEN_SERVER, /* a gen_server child */
    GT_ENTRY       /* a plain process child (spec.entry) */
};

/* The message tag that makes a test child exit (data: grove_reason_t). */
#define GT_TAG_CHILD_EXIT UINT64_C(0x4743000000000001)

/* Returns a spec for the test child id (made on first use, reset if it
 * exists: counters zero, no failures configured). */
grove_child_spec_t gt_child(const char *id, int kind, int restart);

/* Start attempts number from 1 (the first start). Attempts in
 * [from, from + count) fail with an error (count < 0: every attempt from
 * `from` on); the others succeed. */
void gt_child_fail(const char *id, int from, int count);
/* Same, the attempts return ignore. */
void gt_child_ignore(const char *id, int from, int count);
/* The next n runs of the child exit at once with an error after a
 * successful start (a child that crashes as soon as it runs). */
void gt_child_crash_runs(const char *id, int n);
/* On the shutdown signal: wait ms, then record "stop:ID" and exit. */
void gt_child_stop_delay(const char *id, int ms);
/* On the shutdown signal: do nothing (keep running until killed). */
void gt_child_ignore_shutdown(const char *id, bool on);
/* Do not trap exits (a shutdown signal kills it at once, no event). */
void gt_child_no_trap(const char *id, bool on);
/* Make failing start attempts sleep ms first (slows a retry loop). */
void gt_child_fail_delay(const char *id, int ms);

/* Start attempts so far (successful or not). */
int gt_child_attempts(const char *id);
/* Successful starts so far (processes started). */
int gt_child_starts(const char *id);
/* The pid of the latest successful start (GROVE_PID_NONE if none). */
grove_pid_t gt_child_pid(const char *id);
/* Tells the child's latest process to exit with r (kill: an exit signal
 * kill instead). */
void gt_child_exit(const char *id, grove_reason_t r);

/* ---- supervisor short-hands (from inside a process) ------------------ */

/* Sets trap_exit in the caller, starts the supervisor linked to it and
 * fails the test unless that returns 0. */
grove_pid_t gt_sup_start_at(const char *file, int line,
                            const grove_sup_spec_t *spec);
#define SUP_START(spec) gt_sup_start_at(__FILE__, __LINE__, (spec))
/* As the supervisor's parent, sends it an exit signal shutdown and waits
 * for its EXIT, which must carry shutdown. */
void gt_sup_shutdown_at(const char *file, int line, grove_pid_t sup);
#define SUP_SHUTDOWN(sup) gt_sup_shutdown_at(__FILE__, __LINE__, (sup))

/* which_children; fills out (up to max) and returns the total. */
size_t gt_sup_children(grove_pid_t sup, grove_child_info_t *out, size_t max);
/* Finds child id in which_children: true and *out, or false. */
bool gt_sup_child(grove_pid_t sup, const char *id, grove_child_info_t *out);
/* count_children, asserting success. */
grove_child_counts_t gt_sup_counts(grove_pid_t sup);
/* grove_sup_stats, asserting success. */
grove_sup_stats_t gt_sup_stats_of(grove_pid_t sup);
/* The pid which_children shows for id (NONE unless running). */
grove_pid_t gt_sup_child_pid(grove_pid_t sup, const char *id);
/* The state which_children shows for id (0 if not listed). */
int gt_sup_child_state(grove_pid_t sup, const char *id);
/* Waits until id runs with a pid other than old; returns it. */
grove_pid_t gt_wait_restarted_at(const char *file, int line, grove_pid_t sup,
                                 const char *id, grove_pid_t old);
#define WAIT_RESTARTED(sup, id, old)                                         \
    gt_wait_restarted_at(__FILE__, __LINE__, (sup), (id), (old))
/* Waits until id is not running (listed as not running, or gone). */
#define WAIT_NOT_RUNNING(sup, id)                                            \
    WAIT_UNTIL(gt_sup_child_state((sup), (id)) != GROVE_CHILD_RUNNING)

/* Asserts the counts of count_children. */
#define ASSERT_COUNTS(sup, s, a, sv, w)                                      \
    do {                                                                     \
        grove_child_counts_t gt_c_ = gt_sup_counts(sup);                     \
        ASSERT_EQ(gt_c_.specs, (s));                                         \
        ASSERT_EQ(gt_c_.active, (a));                                        \
        ASSERT_EQ(gt_c_.supervisors, (sv));                                  \
        ASSERT_EQ(gt_c_.workers, (w));                                       \
    } while (0)

/* Supervisor reports (log events of kind "supervisor_report"), each kept
 * as its text followed by its fields (" key=value"). gt_reports_start
 * forgets those kept so far and adds the capturing handler, which the
 * test removes with grove_log_remove_handler. */
int gt_reports_start(grove_log_handler_t **h);
/* How many kept reports contain what (and also and, unless NULL). */
int gt_reports_naming(const char *what, const char *and);
/* How many reports are kept. */
int gt_reports_count(void);
/* Notes every kept report in the test's output. */
void gt_reports_dump(void);

/* True when the reason's text contains needle. */
bool gt_reason_has(const grove_reason_t *r, const char *needle);
#define ASSERT_REASON_HAS(r, needle)                                         \
    do {                                                                     \
        grove_reason_t gt_rh_ = (r);                                         \
        if (!gt_reason_has(&gt_rh_, (needle)))                               \
            gt_fail(__FILE__, __LINE__, "reason %s does not mention %s",     \
                    gt_reason_str(gt_rh_), (needle));                        \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
