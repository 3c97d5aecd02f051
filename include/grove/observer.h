/* Grove observer: a running program's processes and supervision tree, on
 * a web page, as JSON, in a terminal (tools/grove-top) and as Kubernetes
 * probes.
 *
 * The observer is a small supervision tree of its own: a supervisor with
 * a sampler, a DynamicSupervisor of connection processes (one per HTTP
 * connection) and an acceptor, all built on the io layer. It serves:
 *
 *   GET  /                 a self-contained page drawing the live tree
 *   GET  /api/processes    every process, as a JSON array
 *   GET  /api/tree         the supervision tree, with restart history
 *   GET  /api/schedulers   scheduler threads' utilisation over time
 *   GET  /api/events       supervisor and crash reports, as server-sent
 *                          events
 *   POST /api/kill?pid=    sends exit signal kill to a process
 *   GET  /healthz          200 while the observer answers (liveness)
 *   GET  /readyz           200 when the watched tree is up and no child
 *                          is restarting, 503 otherwise (readiness)
 *
 * docs/reference/observer.md gives every JSON shape.
 *
 * Security. It listens on 127.0.0.1 unless told otherwise: anyone who can
 * reach it sees every process and, with kill on, can kill any of them.
 * Bind another address only deliberately (a pod's port behind a network
 * policy, say), and then leave kill off. On loopback it also refuses
 * requests whose Host header is not a loopback name (DNS rebinding), and
 * on any address a POST whose Origin is another site.
 */
#ifndef GROVE_OBSERVER_H
#define GROVE_OBSERVER_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* grove_observer_opts_t.kill */
#define GROVE_OBSERVER_KILL_AUTO 0 /* on when listening on loopback only */
#define GROVE_OBSERVER_KILL_ON 1
#define GROVE_OBSERVER_KILL_OFF 2

/* The most roots and applications /readyz can be told to watch. */
#define GROVE_OBSERVER_MAX_ROOTS 8

/* Options; zero fields take the default shown. */
typedef struct grove_observer_opts {
    /* The address to listen on, numeric or a name: NULL or "" is
     * 127.0.0.1. Anything else exposes the observer (see Security). */
    const char *bind;
    int port;  /* TCP port; 0 picks a free one (see grove_observer_port) */
    int kill;  /* GROVE_OBSERVER_KILL_*: whether POST /api/kill works */
    /* What /readyz watches: these supervisors, or the root supervisors of
     * these applications (grove_app_root, looked up on each probe). With
     * neither: the topmost supervisor above the process that started the
     * observer, if there is one; else every root supervisor found on
     * each probe, the observer's own excepted. */
    const grove_pid_t *roots;
    size_t nroots;
    const char *const *apps;
    size_t napps;
    const char *name; /* register the observer's supervisor under this */
    bool link;        /* link it to the caller (from a process only) */
    uint32_t max_connections;        /* at once; 0: 32 */
    grove_timeout_t request_timeout; /* to send a whole request; 0: 5000 */
    /* How long the observer waits for one supervisor's answer (which
     * children, restart statistics) before it shows it as busy; 0: 1000.
     * A busy supervisor never holds a request up longer than this. */
    grove_timeout_t call_timeout;
} grove_observer_opts_t;

/* Starts an observer and writes its supervisor's pid to *pid (may be
 * NULL). From a process or from any other thread once the runtime runs
 * (then link must be false). opts may be NULL for the defaults. Returns
 * 0; GROVE_EINVAL (a bad option, such as a port outside 0..65535, too
 * many roots or applications, link outside a process); GROVE_EEXIST (the
 * port is in use); GROVE_ENOTFOUND (bind names no address);
 * GROVE_EALREADYSTARTED (name taken); GROVE_ESTARTFAIL (another failure
 * to start: the error event logged says why); GROVE_ENOMEM;
 * GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_observer_start(const grove_observer_opts_t *opts,
                                      grove_pid_t *pid);

/* The same as a child spec's start function, to run the observer inside
 * an application's tree: {.id = "observer", .start =
 * grove_observer_child_start, .arg = &opts, .type = GROVE_SUPERVISOR}
 * (opts: a grove_observer_opts_t that outlives the tree; link is implied).
 * Returns as grove_observer_start, with *why saying what failed. */
GROVE_EXPORT int grove_observer_child_start(void *opts, grove_pid_t *pid,
                                            grove_reason_t *why);

/* The TCP port an observer listens on. Returns the port (> 0),
 * GROVE_ENOPROC (no such observer) or GROVE_EINVAL. From any thread. */
GROVE_EXPORT int grove_observer_port(grove_pid_t observer);

/* Stops an observer: its connections are closed and its tree shut down.
 * From a process or any other thread. Returns 0, GROVE_ENOPROC (no such
 * observer), GROVE_ETIMEDOUT (still stopping after 10 s) or GROVE_EINVAL
 * (GROVE_PID_NONE). */
GROVE_EXPORT int grove_observer_stop(grove_pid_t observer);

#ifdef __cplusplus
}
#endif
#endif
