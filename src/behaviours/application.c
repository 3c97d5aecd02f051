/* Grove applications: supervision trees run as a program. OTP's
 * application controller and application masters, for one OS process.
 *
 * Who does what:
 *  - The thread that called grove_app_run (the controller, usually main)
 *    starts the applications one at a time, sleeps on a self-pipe that
 *    signals, grove_app_stop and the masters write to, feeds the systemd
 *    watchdog and finally stops the applications in reverse order. It is
 *    no process, so it sends plain messages and waits with grove_wait.
 *  - Each application has a master process that traps exits and starts
 *    the root linked to itself, so the root's exit reaches it as a
 *    message. The application's callbacks run in it, where they may call
 *    anything a process may. It reports to the controller through its
 *    slot: fields written first, then the phase with release order.
 *  - A probe process, spawned afresh every half watchdog period, asks
 *    every root for its child counts and sends WATCHDOG=1 only when all
 *    answered in time. A stuck or dead tree thus starves the watchdog and
 *    the service manager restarts the program.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "base/failpoint.h"
#include "grove/application.h"

/* grove_app_stop runs in signal handlers: its atomics must not lock. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "signal-safe atomics");

/* Controller to master: stop the application. The payload is the
 * monotonic deadline in ns for the whole stop (0: none). */
#define TAG_STOP UINT64_C(0x67726f7665617001)

/* The controller also looks at its masters this often when nothing woke
 * it: a master killed from outside cannot say so itself. */
#define POLL_MS 250
/* Past the shutdown bound, how long the controller still waits for a
 * master that is running its stop callbacks before killing it. */
#define GRACE_MS 500

enum phase {
    PH_IDLE = 0, /* no master yet */
    PH_STARTING, /* the master is starting the root */
    PH_RUNNING,  /* the root runs; the master waits */
    PH_FAILED,   /* the start failed: reason says why */
    PH_ENDED,    /* the root ended by itself */
    PH_STOPPED   /* stopped on request */
};

typedef struct slot {
    const grove_app_t *app;
    grove_pid_t master;    /* controller only */
    grove_pid_t root;      /* set by the master before PH_RUNNING */
    grove_reason_t reason; /* set before PH_FAILED, PH_ENDED, PH_STOPPED */
    atomic_int phase;      /* enum phase */
    bool reported;         /* controller only: its end was logged */
} slot_t;

typedef struct run {
    const grove_app_opts_t *opts;
    slot_t *slots;
    size_t n;
    bool fatal; /* an application ended the program or failed to start */
    bool signals;
    sigset_t old_mask, wait_mask;
    struct sigaction old_term, old_int;
    /* The watchdog: period 0 while it is not fed. */
    uint64_t wd_period_ns, wd_next_ns;
    /* The current probe and what it reads, written by the controller
     * only while no probe runs. */
    grove_pid_t probe;
    grove_pid_t *probe_roots;
    size_t probe_n;
    uint64_t probe_deadline_ns;
} run_t;

/* One grove_app_run at a time. */
static pthread_mutex_t g_run_lock = PTHREAD_MUTEX_INITIALIZER;
/* Guards g_run against grove_app_root from other threads. */
static pthread_mutex_t g_state_lock = PTHREAD_MUTEX_INITIALIZER;
static run_t *g_run;

/* The wake pipe. Made once per OS process and never closed: a signal
 * handler may be in grove_app_stop at any moment, and must never write to
 * a descriptor that was closed and handed out again. */
static int g_wake_r = -1;
static atomic_int g_wake_w = -1;
static pid_t g_wake_pid;
/* Set by grove_app_stop; g_signal is the signal that asked, if any. */
static atomic_int g_stop;
static atomic_int g_signal;

/* ---- waking the controller ---------------------------------------------- */

/* Async-signal-safe: one write to a non-blocking pipe. */
static void wake(void)
{
    /* Acquire pairs with the release in wake_open: a descriptor we see is
     * a valid one. */
    int fd = atomic_load_explicit(&g_wake_w, memory_order_acquire);
    if (fd < 0)
        return;
    int saved = errno;
    /* A full pipe already holds a wake-up: EAGAIN loses nothing. */
    ssize_t n = write(fd, "w", 1);
    (void)n;
    errno = saved;
}

static void wake_drain(void)
{
    char buf[64];
    while (read(g_wake_r, buf, sizeof buf) > 0) {
    }
}

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* A child made by fork shares its parent's pipe: it makes its own, so a
 * stop in one never wakes the other. The inherited ends stay open (see
 * above). */
static int wake_open(void)
{
    if (g_wake_r >= 0 && g_wake_pid == getpid())
        return 0;
    int fd[2];
    if (pipe(fd) != 0)
        return GROVE_ESYSCALL;
    if (set_flags(fd[0]) != 0 || set_flags(fd[1]) != 0) {
        close(fd[0]);
        close(fd[1]);
        return GROVE_ESYSCALL;
    }
    g_wake_r = fd[0];
    g_wake_pid = getpid();
    atomic_store_explicit(&g_wake_w, fd[1], memory_order_release);
    return 0;
}

/* Sleeps until a wake-up or ns have passed. SIGTERM and SIGINT, blocked
 * everywhere else, are let through only here: their handler then runs
 * on this thread, at this point, and only sets a flag. */
static void wake_wait(run_t *r, uint64_t ns)
{
    struct pollfd p = {.fd = g_wake_r, .events = POLLIN};
    struct timespec ts = {(time_t)(ns / 1000000000u),
                          (long)(ns % 1000000000u)};
    ppoll(&p, 1, &ts, r->signals ? &r->wait_mask : NULL);
    wake_drain();
}

static bool stop_asked(void)
{
    return atomic_load_explicit(&g_stop, memory_order_acquire) != 0;
}

GROVE_EXPORT void grove_app_stop(void)
{
    /* Release: pairs with stop_asked. */
    atomic_store_explicit(&g_stop, 1, memory_order_release);
    wake();
}

/* ---- signals -------------------------------------------------------------- */

static void on_signal(int sig)
{
    atomic_store_explicit(&g_signal, sig, memory_order_relaxed);
    grove_app_stop();
}

/* Blocks SIGTERM and SIGINT on this thread before the runtime makes its
 * threads, so they inherit the mask and the signals come here only. The
 * handler is still needed: a runtime started earlier has threads that
 * do not block them, and there it must do only safe work. */
static void signals_take(run_t *r)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &r->old_mask);
    r->wait_mask = r->old_mask;
    sigdelset(&r->wait_mask, SIGTERM);
    sigdelset(&r->wait_mask, SIGINT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_mask = set;
    sigaction(SIGTERM, &sa, &r->old_term);
    sigaction(SIGINT, &sa, &r->old_int);
    r->signals = true;
}

/* Unblocks first, while our handler is still in place: a signal that
 * came during the shutdown is consumed by it instead of ending the
 * program by default action after a clean stop. */
static void signals_give_back(run_t *r)
{
    if (!r->signals)
        return;
    pthread_sigmask(SIG_SETMASK, &r->old_mask, NULL);
    sigaction(SIGTERM, &r->old_term, NULL);
    sigaction(SIGINT, &r->old_int, NULL);
    r->signals = false;
}

/* ---- reports ---------------------------------------------------------------- */

static const char *type_name(int type)
{
    switch (type) {
    case GROVE_APP_PERMANENT:
        return "permanent";
    case GROVE_APP_TRANSIENT:
        return "transient";
    default:
        return "temporary";
    }
}

/* OTP's "application exited" report; reason is text so that an explicit
 * stop can say "stopped", as OTP does. */
static void report(const slot_t *s, int level, const char *what,
                   const char *reason)
{
    const grove_app_t *a = s->app;
    char text[320];
    snprintf(text, sizeof text, "application %s %s: %s, type: %s", a->name,
             what, reason, type_name(a->type));
    grove_log_field_t f[] = {{"application", a->name},
                             {"reason", reason},
                             {"type", type_name(a->type)}};
    grove_pid_t pid = grove_pid_is_none(s->root) ? s->master : s->root;
    grove_log_event(level, "application_exited", pid, text, f, 3);
}

static void report_reason(const slot_t *s, int level, const char *what)
{
    char why[256];
    grove_reason_format(&s->reason, why, sizeof why);
    report(s, level, what, why);
}

static void report_started(const slot_t *s)
{
    char pid[GROVE_PID_STR_MAX], text[160];
    grove_pid_format(s->root, pid, sizeof pid);
    snprintf(text, sizeof text, "application %s started", s->app->name);
    grove_log_field_t f[] = {{"application", s->app->name},
                             {"root", pid},
                             {"type", type_name(s->app->type)}};
    grove_log_event(GROVE_LOG_INFO, "progress", s->root, text, f, 3);
}

/* which ends take the whole program down. A supervisor that gives up
 * exits with shutdown, which is abnormal here as in OTP: a transient
 * application then ends the program just like a permanent one. */
static bool ends_program(const slot_t *s)
{
    if (s->app->type == GROVE_APP_PERMANENT)
        return true;
    return s->app->type == GROVE_APP_TRANSIENT &&
           s->reason.kind != GROVE_EXIT_NORMAL;
}

/* Reports an application whose root ended by itself. Once a stop was
 * asked for, such an end no longer decides the exit status. */
static void report_end(run_t *r, slot_t *s, bool stopping)
{
    bool fatal = !stopping && ends_program(s);
    int level = fatal ? GROVE_LOG_ERROR
                : s->reason.kind == GROVE_EXIT_NORMAL ? GROVE_LOG_NOTICE
                                                      : GROVE_LOG_WARNING;
    report_reason(s, level, "exited");
    s->reported = true;
    if (fatal)
        r->fatal = true;
}

static void notify(const run_t *r, const char *state)
{
    if (!r->opts->no_notify)
        (void)grove_sd_notify(state);
}

/* ---- the application master ------------------------------------------------ */

static int phase_of(slot_t *s)
{
    /* Acquire pairs with publish: the slot's fields are then visible. */
    return atomic_load_explicit(&s->phase, memory_order_acquire);
}

/* The master's last word on the slot: it writes nothing to it after. */
static void publish(slot_t *s, int phase)
{
    atomic_store_explicit(&s->phase, phase, memory_order_release);
    wake();
}

/* Starts the root from the spec or with the start callback. The
 * extra link covers a start callback that did not link its root: without
 * it the master would never hear of the root's end. */
static int start_root(const grove_app_t *a, grove_pid_t *root,
                      grove_reason_t *why)
{
    int rc;
    *root = GROVE_PID_NONE;
    *why = grove_reason_normal();
    if (a->root) {
        grove_sup_opts_t o = {.link = true};
        rc = grove_sup_start(a->root, &o, root, why);
    } else {
        rc = a->start(a->arg, root, why);
    }
    if (rc == 0 && grove_pid_is_none(*root))
        rc = GROVE_ESTARTFAIL;
    if (rc == 0)
        return grove_link(*root);
    if (why->kind == GROVE_EXIT_NORMAL) /* nothing said why: say how */
        *why = grove_reason_error(rc, "%s", rc == GROVE_EIGNORE
                                                ? "ignore"
                                                : grove_errname(rc));
    return rc;
}

static bool is_root_exit(const grove_msg_t *m, void *arg)
{
    const slot_t *s = arg;
    return grove_msg_kind(m) == GROVE_MSG_EXIT &&
           grove_pid_equal(grove_msg_from(m), s->root);
}

/* Milliseconds to a monotonic deadline (0: none), rounded up so a wait
 * never ends before it; GROVE_INFINITY without a deadline. */
static grove_timeout_t ms_until(uint64_t deadline_ns)
{
    if (deadline_ns == 0)
        return GROVE_INFINITY;
    uint64_t now = grove__now_ns();
    if (now >= deadline_ns)
        return 0;
    return (grove_timeout_t)((deadline_ns - now + 999999u) / 1000000u);
}

static bool await_root(slot_t *s, grove_timeout_t ms, grove_reason_t *out)
{
    grove_msg_t *m;
    if (grove_recv_match(&m, is_root_exit, s, ms) != 0)
        return false;
    *out = *grove_msg_reason(m);
    grove_msg_free(m);
    return true;
}

/* prep_stop, then the tree goes down with shutdown (its own child
 * shutdown times apply) and, past the deadline, is killed; then stop. */
static void master_stop(slot_t *s, uint64_t deadline_ns)
{
    const grove_app_t *a = s->app;
    if (a->prep_stop)
        a->prep_stop(a->arg);
    grove_reason_t how = grove_reason_shutdown(NULL), got;
    grove_exit_signal(s->root, &how);
    if (!await_root(s, ms_until(deadline_ns), &got)) {
        how = grove_reason_of(GROVE_EXIT_KILL);
        grove_exit_signal(s->root, &how);
        await_root(s, GROVE_INFINITY, &got);
    }
    if (a->stop)
        a->stop(a->arg);
    s->reason = got;
    publish(s, PH_STOPPED);
}

/* the root ended by itself. The callbacks still run, and the master
 * ends with the same reason, which takes down whatever else the start
 * callback linked to it. */
_Noreturn static void master_ended(slot_t *s, grove_reason_t why)
{
    const grove_app_t *a = s->app;
    if (a->prep_stop)
        a->prep_stop(a->arg);
    if (a->stop)
        a->stop(a->arg);
    s->reason = why;
    publish(s, PH_ENDED);
    grove_exit(&why);
}

static bool is_stop(const grove_msg_t *m, uint64_t *deadline_ns)
{
    if (grove_msg_kind(m) != GROVE_MSG_USER || grove_msg_tag(m) != TAG_STOP ||
        grove_msg_size(m) != sizeof *deadline_ns)
        return false;
    memcpy(deadline_ns, grove_msg_data(m), sizeof *deadline_ns);
    return true;
}

static void master_loop(slot_t *s)
{
    for (;;) {
        grove_msg_t *m;
        if (grove_recv(&m, GROVE_INFINITY) != 0)
            continue;
        uint64_t deadline_ns;
        if (is_root_exit(m, s)) {
            grove_reason_t why = *grove_msg_reason(m);
            grove_msg_free(m);
            master_ended(s, why);
        }
        bool stop = is_stop(m, &deadline_ns);
        grove_msg_free(m); /* anything else: other links' exits, strays */
        if (stop) {
            master_stop(s, deadline_ns);
            return;
        }
    }
}

/* Spawned with trap_exit set, so a root that fails while starting comes
 * back as an error, not as the master's death. */
static void master_main(void *arg)
{
    slot_t *s = arg;
    grove_reason_t why;
    if (start_root(s->app, &s->root, &why) != 0) {
        s->reason = why;
        publish(s, PH_FAILED);
        return;
    }
    publish(s, PH_RUNNING);
    master_loop(s);
}

/* A master that died without publishing (killed, or a callback crashed:
 * its crash report says how) is seen from here. Returns true when this
 * call moved the slot from -> to. */
static bool master_lost(slot_t *s, int from, int to)
{
    if (grove_is_alive(s->master))
        return false;
    /* The master is gone, so a failed exchange means it published just
     * before dying; ours means it never will. */
    if (!atomic_compare_exchange_strong(&s->phase, &from, to))
        return false;
    s->reason = grove_reason_error(0, "application master died");
    return true;
}

/* ---- the watchdog ------------------------------------------------------------ */

/* WATCHDOG_USEC, if it is meant for this process (sd_watchdog_enabled's
 * rule: WATCHDOG_PID unset or ours); else 0. */
static uint64_t watchdog_usec(void)
{
    const char *v = getenv("WATCHDOG_USEC");
    if (v == NULL || v[0] < '0' || v[0] > '9')
        return 0;
    char *end;
    unsigned long long usec = strtoull(v, &end, 10);
    if (*end != '\0' || usec == 0 || usec > UINT64_MAX / 1000u)
        return 0;
    const char *p = getenv("WATCHDOG_PID");
    if (p != NULL && p[0] != '\0') {
        long long pid = strtoll(p, &end, 10);
        if (*end != '\0' || pid != (long long)getpid())
            return 0;
    }
    return usec;
}

/* systemd arms the watchdog once start-up is complete (READY=1). */
static void watchdog_arm(run_t *r)
{
    uint64_t usec = r->opts->no_notify ? 0 : watchdog_usec();
    if (usec == 0)
        return;
    r->wd_period_ns = usec * 1000u / 2;
    r->wd_next_ns = grove__now_ns(); /* the first feed at once */
}

/* Reads only what the controller wrote before spawning it and leaves
 * alone until it is dead. */
static void probe_main(void *arg)
{
    const run_t *r = arg;
    for (size_t i = 0; i < r->probe_n; i++) {
        grove_child_counts_t c;
        grove_server_t root = grove_server_pid(r->probe_roots[i]);
        if (grove_sup_count_children(root, &c) != 0)
            return;
    }
    if (grove__now_ns() < r->probe_deadline_ns)
        (void)grove_sd_notify("WATCHDOG=1");
}

/* A probe still alive at the next period is stuck in a call to a root
 * that does not answer: that period went unfed, and it goes now. */
static void probe_end(run_t *r)
{
    if (grove_pid_is_none(r->probe))
        return;
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(r->probe, &kill);
    grove_wait(r->probe, GROVE_INFINITY, NULL);
    r->probe = GROVE_PID_NONE;
}

static void watchdog_tick(run_t *r)
{
    probe_end(r);
    uint64_t now = grove__now_ns();
    r->probe_n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (phase_of(&r->slots[i]) == PH_RUNNING)
            r->probe_roots[r->probe_n++] = r->slots[i].root;
    r->probe_deadline_ns = now + r->wd_period_ns;
    r->wd_next_ns += r->wd_period_ns;
    if (r->wd_next_ns <= now) /* we overslept: keep the rhythm from now */
        r->wd_next_ns = now + r->wd_period_ns;
    if (grove_spawn(probe_main, r, NULL, &r->probe) != 0)
        r->probe = GROVE_PID_NONE;
}

/* ---- the controller ------------------------------------------------------------ */

/* Waits for a wake-up, a signal, the next watchdog period or POLL_MS. */
static void pump(run_t *r)
{
    uint64_t now = grove__now_ns();
    uint64_t until = now + (uint64_t)POLL_MS * 1000000u;
    if (r->wd_period_ns && r->wd_next_ns < until)
        until = r->wd_next_ns;
    if (until > now)
        wake_wait(r, until - now);
    if (r->wd_period_ns && grove__now_ns() >= r->wd_next_ns)
        watchdog_tick(r);
}

/* Reports every root that ended by itself since the last look. */
static void scan_ended(run_t *r, bool stopping)
{
    for (size_t i = 0; i < r->n; i++) {
        slot_t *s = &r->slots[i];
        if (s->reported)
            continue;
        int ph = phase_of(s);
        if (ph == PH_RUNNING && master_lost(s, PH_RUNNING, PH_ENDED))
            ph = PH_ENDED;
        if (ph == PH_ENDED)
            report_end(r, s, stopping);
    }
}

/* Starts one application and waits for its master's verdict. Earlier
 * applications that end meanwhile are reported; what they decide is
 * acted on once this start returns, as OTP's controller does. */
static bool start_app(run_t *r, slot_t *s)
{
    grove_spawn_opts_t o = {.trap_exit = true};
    atomic_store_explicit(&s->phase, PH_STARTING, memory_order_relaxed);
    int rc = grove_spawn(master_main, s, &o, &s->master);
    if (rc != 0) {
        s->reason = grove_reason_error(rc, "cannot spawn its master: %s",
                                       grove_strerror(rc));
        atomic_store_explicit(&s->phase, PH_FAILED, memory_order_relaxed);
    }
    while (phase_of(s) == PH_STARTING &&
           !master_lost(s, PH_STARTING, PH_FAILED)) {
        pump(r);
        scan_ended(r, false);
    }
    if (phase_of(s) == PH_RUNNING) {
        report_started(s);
        return true;
    }
    report_reason(s, GROVE_LOG_ERROR, "failed to start");
    s->reported = true;
    r->fatal = true;
    return false;
}

/* Starts the applications in order. True when all of them run and
 * nothing asked to stop meanwhile. */
static bool start_apps(run_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (stop_asked() || r->fatal)
            return false;
        if (!start_app(r, &r->slots[i]))
            return false;
    }
    return !stop_asked() && !r->fatal;
}

/* Kills a master whose stop overran the shutdown bound, with its root. */
static void kill_app(slot_t *s)
{
    grove_log(GROVE_LOG_WARNING,
              "application %s did not stop within the shutdown time; "
              "killing it",
              s->app->name);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(s->master, &kill);
    grove_exit_signal(s->root, &kill);
    grove_wait(s->master, GROVE_INFINITY, NULL);
}

static void stop_app(slot_t *s, uint64_t deadline_ns)
{
    if (grove_send(s->master, TAG_STOP, &deadline_ns, sizeof deadline_ns))
        return; /* the master is gone: scan_ended reports it */
    grove_timeout_t wait = ms_until(deadline_ns);
    if (wait != GROVE_INFINITY)
        wait += GRACE_MS;
    grove_reason_t why = grove_reason_of(GROVE_EXIT_KILLED);
    int rc = grove_wait(s->master, wait, &why);
    if (rc == GROVE_ETIMEDOUT) {
        kill_app(s);
        why = grove_reason_of(GROVE_EXIT_KILLED);
    }
    int running = PH_RUNNING;
    /* Still running: the master died during the stop (killed, or a stop
     * callback crashed); its own exit reason tells which. */
    if (atomic_compare_exchange_strong(&s->phase, &running, PH_STOPPED))
        s->reason = why;
    if (phase_of(s) == PH_STOPPED) {
        report(s, GROVE_LOG_INFO, "exited", "stopped");
        s->reported = true;
    }
}

/* reverse start order, within one bound for the whole stop. */
static void stop_apps(run_t *r)
{
    grove_timeout_t bound = r->opts->shutdown_timeout;
    uint64_t deadline_ns =
        bound > 0 ? grove__now_ns() + (uint64_t)bound * 1000000u : 0;
    for (size_t i = r->n; i-- > 0;) {
        slot_t *s = &r->slots[i];
        if (phase_of(s) == PH_RUNNING)
            stop_app(s, deadline_ns);
    }
    scan_ended(r, true);
}

static void log_stop_cause(void)
{
    int sig = atomic_load_explicit(&g_signal, memory_order_relaxed);
    const char *by = sig == SIGTERM ? "SIGTERM"
                     : sig == SIGINT ? "SIGINT"
                                     : "grove_app_stop";
    grove_log(GROVE_LOG_NOTICE, "stopping applications (%s)", by);
}

static int run_apps(run_t *r)
{
    if (start_apps(r)) {
        notify(r, "READY=1");
        watchdog_arm(r);
        while (!stop_asked() && !r->fatal) {
            pump(r);
            scan_ended(r, false);
        }
    }
    if (!r->fatal)
        log_stop_cause();
    notify(r, "STOPPING=1");
    r->wd_period_ns = 0;
    probe_end(r);
    stop_apps(r);
    return r->fatal ? 1 : 0;
}

/* ---- grove_app_run ---------------------------------------------------------- */

static int refuse(const char *why)
{
    grove_log(GROVE_LOG_ERROR, "grove_app_run: %s", why);
    return 1;
}

static bool app_valid(const grove_app_t *apps, size_t i)
{
    const grove_app_t *a = &apps[i];
    if (a->name == NULL || a->name[0] == '\0')
        return !refuse("an application has no name");
    if ((a->root == NULL) == (a->start == NULL)) {
        grove_log(GROVE_LOG_ERROR,
                  "grove_app_run: application %s: set one of root, start",
                  a->name);
        return false;
    }
    if (a->type < GROVE_APP_TEMPORARY || a->type > GROVE_APP_PERMANENT) {
        grove_log(GROVE_LOG_ERROR, "grove_app_run: application %s: bad type",
                  a->name);
        return false;
    }
    for (size_t j = 0; j < i; j++)
        if (strcmp(apps[j].name, a->name) == 0) {
            grove_log(GROVE_LOG_ERROR,
                      "grove_app_run: application %s: name used twice",
                      a->name);
            return false;
        }
    return true;
}

static bool apps_valid(const grove_app_t *apps, size_t napps)
{
    if (apps == NULL && napps > 0)
        return !refuse("no applications given");
    for (size_t i = 0; i < napps; i++)
        if (!app_valid(apps, i))
            return false;
    return true;
}

static void set_current(run_t *r)
{
    pthread_mutex_lock(&g_state_lock);
    g_run = r;
    pthread_mutex_unlock(&g_state_lock);
}

/* Starts the runtime unless it runs; *ours says whether we did. */
static int runtime_up(const grove_app_opts_t *opts, bool *ours)
{
    int rc = grove_start(opts->runtime);
    *ours = rc == 0;
    if (rc == 0 || rc == GROVE_ESTARTED)
        return 0;
    grove_log(GROVE_LOG_ERROR, "grove_app_run: cannot start the runtime: %s",
              grove_strerror(rc));
    return 1;
}

static int run_with(run_t *r)
{
    atomic_store(&g_stop, 0);
    atomic_store(&g_signal, 0);
    wake_drain();
    if (!r->opts->no_signals)
        signals_take(r); /* before any runtime thread exists */
    bool ours = false;
    int rc = runtime_up(r->opts, &ours);
    if (rc == 0) {
        set_current(r);
        rc = run_apps(r);
        set_current(NULL);
    }
    if (ours)
        grove_stop();
    signals_give_back(r);
    return rc;
}

static int run_locked(const grove_app_t *apps, size_t napps,
                      const grove_app_opts_t *opts)
{
    run_t r = {.opts = opts, .n = napps};
    r.slots = grove__calloc(napps ? napps : 1, sizeof *r.slots);
    r.probe_roots = grove__calloc(napps ? napps : 1, sizeof *r.probe_roots);
    int rc;
    if (r.slots == NULL || r.probe_roots == NULL)
        rc = refuse("out of memory");
    else if (wake_open() != 0)
        rc = refuse("cannot make the wake pipe");
    else {
        for (size_t i = 0; i < napps; i++)
            r.slots[i].app = &apps[i];
        rc = run_with(&r);
    }
    free(r.slots);
    free(r.probe_roots);
    return rc;
}

GROVE_EXPORT int grove_app_run(const grove_app_t *apps, size_t napps,
                               const grove_app_opts_t *opts)
{
    static const grove_app_opts_t defaults;
    if (opts == NULL)
        opts = &defaults;
    if (!grove_pid_is_none(grove_self()))
        return refuse("called from a process");
    if (!apps_valid(apps, napps))
        return 1;
    if (pthread_mutex_trylock(&g_run_lock) != 0)
        return refuse("already running");
    int rc = run_locked(apps, napps, opts);
    pthread_mutex_unlock(&g_run_lock);
    return rc;
}

GROVE_EXPORT int grove_app_root(const char *name, grove_pid_t *pid)
{
    if (name == NULL || pid == NULL)
        return GROVE_EINVAL;
    int rc = GROVE_ENOTFOUND;
    pthread_mutex_lock(&g_state_lock);
    for (size_t i = 0; g_run != NULL && i < g_run->n; i++) {
        slot_t *s = &g_run->slots[i];
        if (strcmp(s->app->name, name) == 0 && phase_of(s) == PH_RUNNING) {
            *pid = s->root;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g_state_lock);
    return rc;
}
