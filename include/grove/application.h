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

typedef enum grove_app_type {
    GROVE_APP_TEMPORARY = 0, /* its end is reported; others keep running */
    GROVE_APP_TRANSIENT,     /* an abnormal end stops everything */
    GROVE_APP_PERMANENT      /* any end stops everything */
} grove_app_type_t;

typedef struct grove_app {
    const char *name;
    int type; /* grove_app_type_t */
    /* The root supervisor: either a spec ... */
    const grove_sup_spec_t *root;
    /* ... or a start function that starts and links it (OTP's start/2):
     * returns 0 with *pid, or an error with *why. */
    int (*start)(void *arg, grove_pid_t *pid, grove_reason_t *why);
    void *arg;
    /* Optional: before the tree is stopped, and after. */
    void (*prep_stop)(void *arg);
    void (*stop)(void *arg);
} grove_app_t;

typedef struct grove_app_opts {
    const grove_config_t *runtime; /* NULL: defaults */
    bool no_signals;  /* do not install SIGTERM/SIGINT handling */
    bool no_notify;   /* ignore NOTIFY_SOCKET */
    /* Bound on the whole shutdown; 0: none (each child's own shutdown
     * time applies). */
    grove_timeout_t shutdown_timeout;
} grove_app_opts_t;

/* Starts the applications in order (each one's root supervisor), runs
 * until a stop is asked for or a permanent (or abnormally ended transient)
 * application ends, then stops the running ones in reverse order. Must be
 * called from outside any process (main). Returns the exit status for
 * main: 0 after a clean stop, 1 when an application ended the program or
 * failed to start. */
GROVE_EXPORT int grove_app_run(const grove_app_t *apps, size_t napps,
                               const grove_app_opts_t *opts);

/* Asks a running grove_app_run to stop, as SIGTERM does. From any thread
 * or process; async-signal-safe. */
GROVE_EXPORT void grove_app_stop(void);

/* The root supervisor of a running application by name. Returns 0,
 * GROVE_ENOTFOUND. */
GROVE_EXPORT int grove_app_root(const char *name, grove_pid_t *pid);

/* Sends one sd_notify message (e.g. "READY=1") to $NOTIFY_SOCKET. Returns
 * 0, GROVE_ENOTFOUND (no NOTIFY_SOCKET) or GROVE_ESYSCALL. */
GROVE_EXPORT int grove_sd_notify(const char *state);

#ifdef __cplusplus
}
#endif
#endif
