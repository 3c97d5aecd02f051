/* Grove application: run a supervision tree as a program.
 *
 * grove_app_run starts the runtime and the application's root supervisor,
 * then waits. SIGTERM or SIGINT (or grove_app_stop) shuts the tree down in
 * reverse start order, honouring every shutdown time, and the call returns
 * 0. If the root supervisor gives up (its restart intensity was reached),
 * it returns 1, so a service manager such as systemd or Kubernetes
 * restarts the program: the escalation path OTP describes, one level up.
 * When NOTIFY_SOCKET is set it speaks the sd_notify protocol: READY=1 once
 * the tree is up, STOPPING=1 when shutting down, and WATCHDOG=1 every
 * half WATCHDOG_USEC while the root tree is healthy.
 */
#ifndef GROVE_APPLICATION_H
#define GROVE_APPLICATION_H

#include "runtime.h"
#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the end of an application's root (not by a stop) does, as OTP's
 * start types. A supervisor that gives up exits with shutdown, which is
 * abnormal here as in OTP: a transient application then ends the program
 * just like a permanent one. */
typedef enum grove_app_type {
    GROVE_APP_TEMPORARY = 0, /* its end is reported; others keep running */
    GROVE_APP_TRANSIENT,     /* an abnormal end stops everything */
    GROVE_APP_PERMANENT      /* any end stops everything */
} grove_app_type_t;

/* An application. Each one gets a master process that traps exits and
 * starts the root linked to itself; start, prep_stop and stop all run in
 * that process, so they may call anything a process may (gen_server
 * calls included). The struct and what it points to must outlive
 * grove_app_run. */
typedef struct grove_app {
    const char *name; /* required, unique among the applications */
    int type;         /* grove_app_type_t */
    /* The root supervisor: either a spec ... */
    const grove_sup_spec_t *root;
    /* ... or a start function that starts and links it (OTP's start/2):
     * returns 0 with *pid, or an error with *why. The root may be any
     * process; it is linked again in case the function did not. */
    int (*start)(void *arg, grove_pid_t *pid, grove_reason_t *why);
    void *arg; /* handed to start, prep_stop and stop */
    /* Optional: before the tree is stopped, and after it has ended. Both
     * run on a stop and also when the root ended by itself. */
    void (*prep_stop)(void *arg);
    void (*stop)(void *arg);
} grove_app_t;

typedef struct grove_app_opts {
    const grove_config_t *runtime; /* NULL: defaults */
    /* Do not touch SIGTERM/SIGINT: their default action then ends the
     * program, and only grove_app_stop stops it cleanly. */
    bool no_signals;
    bool no_notify; /* ignore NOTIFY_SOCKET and WATCHDOG_USEC */
    /* Bound on the whole shutdown, in ms; 0: none (each child's own
     * shutdown time applies). Past it, the root still running is killed;
     * stop callbacks still running half a second later are killed with
     * their master. */
    grove_timeout_t shutdown_timeout;
} grove_app_opts_t;

/* Starts the applications in order (each one's root supervisor), runs
 * until a stop is asked for or a permanent (or abnormally ended transient)
 * application ends, then stops the running ones in reverse order: for
 * each, prep_stop, the root is sent shutdown and waited for, then stop.
 * Must be called from outside any process (main), one call at a time;
 * it starts the runtime (with opts->runtime) if it is not running, and
 * then stops it before returning. opts may be NULL.
 *
 * Signals: unless opts->no_signals, SIGTERM and SIGINT are blocked on the
 * calling thread before the runtime's threads exist (they inherit the
 * mask) and caught only while it waits; the previous mask and handlers
 * come back before it returns. A thread made earlier does not block
 * them, but the handler does only async-signal-safe work wherever it
 * runs.
 *
 * Reports (logger events): "progress" when an application has started;
 * "application_exited" with fields application, reason and type when
 * one ended by itself (ERROR if that ends the program), failed to start,
 * or was stopped (INFO, reason "stopped", as OTP). A stop asked for while
 * an application is starting takes effect once that start returns.
 *
 * Returns the exit status for main: 0 after a stop was asked for
 * (whatever ended during the stop itself); 1 when an application ended
 * the program or failed to start, and for an invalid call (a missing or
 * duplicate name, neither or both of root and start, a bad type, called
 * from a process or during another grove_app_run), with an error event
 * saying why. */
GROVE_EXPORT int grove_app_run(const grove_app_t *apps, size_t napps,
                               const grove_app_opts_t *opts);

/* Asks a running grove_app_run to stop, as SIGTERM does. From any thread
 * or process; async-signal-safe. Does nothing when no grove_app_run is
 * running. */
GROVE_EXPORT void grove_app_stop(void);

/* The root supervisor of a running application by name. From any thread.
 * Returns 0, GROVE_ENOTFOUND (no such application, or it is not running)
 * or GROVE_EINVAL (NULL argument). */
GROVE_EXPORT int grove_app_root(const char *name, grove_pid_t *pid);

/* Sends one sd_notify message (e.g. "READY=1") to $NOTIFY_SOCKET: an
 * AF_UNIX datagram socket path, or with a leading '@' a name in the
 * abstract namespace. Never blocks. Returns 0, GROVE_ENOTFOUND (no
 * NOTIFY_SOCKET), GROVE_EINVAL (empty state, or an address of another
 * kind) or GROVE_ESYSCALL. */
GROVE_EXPORT int grove_sd_notify(const char *state);

#ifdef __cplusplus
}
#endif
#endif
