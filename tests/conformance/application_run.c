/* Applications: OTP-SEMANTICS.md section 7 as grove_app_run
 * gives it: a program that runs supervision trees until SIGTERM or
 * SIGINT, stops them in reverse order and returns 0, or returns 1 when an
 * application ends the program; and the sd_notify protocol.
 *
 * Each test forks: the child calls grove_app_run and _exit()s with its
 * result. The child's test children and callbacks write their events to
 * a pipe (gt_ev_set_fd), which the parent reads into its own event log.
 * For sd_notify the parent binds an AF_UNIX datagram socket and passes
 * its path in NOTIFY_SOCKET. The parent never starts the runtime. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "behaviours.h"

typedef struct app_proc {
    pid_t pid;
    int ev_fd;     /* read end of the event pipe */
    int notify_fd; /* our datagram socket, or -1 */
    char dir[64];
    char path[108];
    char partial[256];
    size_t npartial;
    bool eof;
} app_proc_t;

static const grove_config_t app_cfg = {.schedulers = 2};

/* ---- the parent's side ---------------------------------------------- */

static void open_notify(app_proc_t *ap)
{
    snprintf(ap->dir, sizeof ap->dir, "/tmp/grove-notify-XXXXXX");
    if (!mkdtemp(ap->dir))
        GT_FAIL("mkdtemp: %s", strerror(errno));
    snprintf(ap->path, sizeof ap->path, "%s/notify", ap->dir);
    ap->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_TRUE(ap->notify_fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", ap->path);
    ASSERT_EQ(bind(ap->notify_fd, (struct sockaddr *)&sa, sizeof sa), 0);
}

static void close_notify(app_proc_t *ap)
{
    if (ap->notify_fd < 0)
        return;
    close(ap->notify_fd);
    unlink(ap->path);
    rmdir(ap->dir);
    ap->notify_fd = -1;
}

/* Forks the application. watchdog_usec > 0 also sets WATCHDOG_USEC. */
static void app_fork(app_proc_t *ap, const grove_app_t *apps, size_t n,
                     const grove_app_opts_t *opts, bool notify,
                     long watchdog_usec)
{
    memset(ap, 0, sizeof *ap);
    ap->notify_fd = -1;
    if (notify)
        open_notify(ap);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    fflush(NULL);
    ap->pid = fork();
    ASSERT_TRUE(ap->pid >= 0);
    if (ap->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(p[0]);
        if (ap->notify_fd >= 0)
            close(ap->notify_fd);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        if (notify)
            setenv("NOTIFY_SOCKET", ap->path, 1);
        if (watchdog_usec > 0) {
            char buf[32];
            snprintf(buf, sizeof buf, "%ld", watchdog_usec);
            setenv("WATCHDOG_USEC", buf, 1);
        }
        gt_ev_set_fd(p[1]);
        int rc = grove_app_run(apps, n, opts);
        _exit(rc);
    }
    close(p[1]);
    ap->ev_fd = p[0];
}

/* Reads whatever the pipe holds (waiting up to ms for some) and adds
 * each complete line to the event log. */
static void pump_events(app_proc_t *ap, int ms)
{
    if (ap->eof)
        return;
    struct pollfd pfd = {ap->ev_fd, POLLIN, 0};
    if (poll(&pfd, 1, ms) <= 0)
        return;
    char buf[512];
    ssize_t got = read(ap->ev_fd, buf, sizeof buf);
    if (got <= 0) {
        ap->eof = true;
        return;
    }
    for (ssize_t i = 0; i < got; i++) {
        if (buf[i] == '\n') {
            ap->partial[ap->npartial] = '\0';
            gt_order_add(gt_ev_log(), "%s", ap->partial);
            ap->npartial = 0;
        } else if (ap->npartial < sizeof ap->partial - 1) {
            ap->partial[ap->npartial++] = buf[i];
        }
    }
}

/* Reads everything the pipe holds now, without waiting. */
static void drain_events(app_proc_t *ap)
{
    struct pollfd pfd = {ap->ev_fd, POLLIN, 0};
    while (!ap->eof && poll(&pfd, 1, 0) > 0)
        pump_events(ap, 0);
}

static void wait_event_count(app_proc_t *ap, int n)
{
    int64_t dl = gt_now_ms() + gt_scaled_ms(10000);
    while (gt_ev_count() < n) {
        if (gt_now_ms() > dl || ap->eof)
            GT_FAIL("only %d of %d events arrived", gt_ev_count(), n);
        pump_events(ap, 10);
    }
}

/* Waits for the next sd_notify datagram; copies it to buf. */
static void next_notify(app_proc_t *ap, char *buf, size_t size)
{
    struct pollfd pfd = {ap->notify_fd, POLLIN, 0};
    int r = poll(&pfd, 1, (int)gt_scaled_ms(10000));
    if (r <= 0)
        GT_FAIL("no sd_notify message arrived");
    ssize_t got = recv(ap->notify_fd, buf, size - 1, 0);
    ASSERT_TRUE(got >= 0);
    buf[got] = '\0';
}

/* True when the datagram holds the line want ("READY=1"). */
static bool has_line(const char *msg, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = msg; p && *p;) {
        if (strncmp(p, want, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

/* Skips datagrams until one holds the line want. */
static void expect_notify(app_proc_t *ap, const char *want)
{
    char buf[512];
    for (int i = 0; i < 100; i++) {
        next_notify(ap, buf, sizeof buf);
        if (has_line(buf, want))
            return;
        if (strcmp(want, "READY=1") == 0 && has_line(buf, "STOPPING=1"))
            GT_FAIL("STOPPING=1 came before READY=1");
    }
    GT_FAIL("no %s among the sd_notify messages", want);
}

/* Waits for the application's exit; reads the rest of its events;
 * returns the wait status. Kills it if it does not end in time. */
static int app_wait(app_proc_t *ap)
{
    int64_t dl = gt_now_ms() + gt_scaled_ms(20000);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(ap->pid, &status, WNOHANG);
        if (r == ap->pid)
            break;
        if (gt_now_ms() > dl) {
            kill(ap->pid, SIGKILL);
            waitpid(ap->pid, &status, 0);
            GT_FAIL("the application did not end");
        }
        pump_events(ap, 10);
    }
    while (!ap->eof)
        pump_events(ap, 1000);
    close(ap->ev_fd);
    close_notify(ap);
    return status;
}

#define ASSERT_EXIT_STATUS(status, code)                                     \
    do {                                                                     \
        int gt_st_ = (status);                                               \
        if (!WIFEXITED(gt_st_))                                              \
            GT_FAIL("the application did not exit (signal %d)",             \
                    WIFSIGNALED(gt_st_) ? WTERMSIG(gt_st_) : 0);             \
        ASSERT_EQ(WEXITSTATUS(gt_st_), (code));                              \
    } while (0)

/* ---- the applications ------------------------------------------------ */

static void prep_stop_cb(void *arg) { gt_ev("prep_stop:%s", (char *)arg); }
static void stop_cb(void *arg) { gt_ev("app_stop:%s", (char *)arg); }

static grove_child_spec_t kids1[3], kids2[2];
static grove_sup_spec_t root1, root2;
static grove_app_t apps[2];
static grove_app_opts_t opts;

static void set_root(grove_sup_spec_t *r, grove_child_spec_t *kids,
                     size_t n, int max_restarts)
{
    memset(r, 0, sizeof *r);
    r->name = "root";
    r->flags.max_restarts = max_restarts;
    r->flags.max_seconds = 5;
    r->children = kids;
    r->nchildren = n;
}

static void set_app(grove_app_t *a, const char *name, int type,
                    const grove_sup_spec_t *root)
{
    memset(a, 0, sizeof *a);
    a->name = name;
    a->type = type;
    a->root = root;
    a->arg = (void *)name;
    a->prep_stop = prep_stop_cb;
    a->stop = stop_cb;
}

static void three_children(void)
{
    kids1[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids1[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    kids1[2] = gt_child("c", GT_START, GROVE_PERMANENT);
    set_root(&root1, kids1, 3, 3);
    set_app(&apps[0], "app1", GROVE_APP_PERMANENT, &root1);
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
}

/* A-3 and the header: SIGTERM stops the tree in reverse start order
 * between prep_stop and stop, and grove_app_run returns 0; sd_notify
 * says READY=1 once the whole tree is up, then STOPPING=1. */
static void stops_on_signal(int sig)
{
    three_children();
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, true, 0);
    expect_notify(&ap, "READY=1");
    /* READY=1 comes after every child has started. */
    drain_events(&ap);
    ASSERT_EVENTS("start:a", "start:b", "start:c");
    ASSERT_EQ(kill(ap.pid, sig), 0);
    expect_notify(&ap, "STOPPING=1");
    ASSERT_EXIT_STATUS(app_wait(&ap), 0);
    ASSERT_EVENTS("start:a", "start:b", "start:c", "prep_stop:app1",
                  "stop:c", "stop:b", "stop:a", "app_stop:app1");
}

TEST(application_A03_sigterm_stops_in_reverse_order)
{
    stops_on_signal(SIGTERM);
}

TEST(application_A03_sigint_stops_in_reverse_order)
{
    stops_on_signal(SIGINT);
}

/* The start notification comes only once the tree is up: with a child
 * whose start is slow, no READY=1 before its start event. */
static int slow_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    (void)why;
    grove_sleep(300);
    gt_ev("slow started");
    grove_spawn_opts_t o = {.link = true};
    return grove_spawn(gt_echo_main, NULL, &o, pid);
}

TEST(application_sd_notify_ready_after_tree_is_up)
{
    three_children();
    memset(&kids1[2], 0, sizeof kids1[2]);
    kids1[2].id = "slow";
    kids1[2].start = slow_start;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, true, 0);
    expect_notify(&ap, "READY=1");
    drain_events(&ap);
    ASSERT_EVENTS("start:a", "start:b", "slow started");
    ASSERT_EQ(kill(ap.pid, SIGTERM), 0);
    expect_notify(&ap, "STOPPING=1");
    ASSERT_EXIT_STATUS(app_wait(&ap), 0);
}

/* The header: with WATCHDOG_USEC set, WATCHDOG=1 is sent while the tree
 * is healthy. */
TEST(application_sd_notify_watchdog)
{
    three_children();
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, true, 200000);
    expect_notify(&ap, "READY=1");
    expect_notify(&ap, "WATCHDOG=1");
    expect_notify(&ap, "WATCHDOG=1");
    ASSERT_EQ(kill(ap.pid, SIGTERM), 0);
    expect_notify(&ap, "STOPPING=1");
    ASSERT_EXIT_STATUS(app_wait(&ap), 0);
}

/* the root supervisor reaches its intensity: it stops its other
 * children, prep_stop and stop still run, and grove_app_run returns 1 (a
 * permanent application, or a transient one: shutdown is not normal). */
static void root_gives_up(int type)
{
    kids1[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids1[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    gt_child_crash_runs("a", 2);
    set_root(&root1, kids1, 2, 1);
    set_app(&apps[0], "app1", type, &root1);
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, false, 0);
    ASSERT_EXIT_STATUS(app_wait(&ap), 1);
    ASSERT_EVENTS("start:a", "start:b", "start:a", "stop:b",
                  "prep_stop:app1", "app_stop:app1");
}

TEST(application_A05_permanent_root_gives_up_exit_1)
{
    root_gives_up(GROVE_APP_PERMANENT);
}

TEST(application_A06_transient_root_gives_up_exit_1)
{
    root_gives_up(GROVE_APP_TRANSIENT);
}

/* The same with sd_notify: READY=1 while the tree is up, STOPPING=1 on
 * the way out. The parent makes a child fail after READY=1 by writing
 * to a control pipe that the child polls. */
static int ctl_fd = -1;

static void crasher_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p = {ctl_fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0)
            grove_exit_error(5, "told to fail");
        grove_sleep(5);
    }
}

TEST(application_A05_root_gives_up_notify)
{
    int ctl[2];
    ASSERT_EQ(pipe(ctl), 0);
    ctl_fd = ctl[0];
    kids1[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids1[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    memset(&kids1[2], 0, sizeof kids1[2]);
    kids1[2].id = "crasher";
    kids1[2].entry = crasher_main;
    set_root(&root1, kids1, 3, GROVE_NO_RESTARTS);
    set_app(&apps[0], "app1", GROVE_APP_PERMANENT, &root1);
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, true, 0);
    close(ctl[0]);
    expect_notify(&ap, "READY=1");
    ASSERT_EQ(write(ctl[1], "x", 1), 1);
    expect_notify(&ap, "STOPPING=1");
    ASSERT_EXIT_STATUS(app_wait(&ap), 1);
    close(ctl[1]);
    ASSERT_EVENTS("start:a", "start:b", "stop:b", "stop:a",
                  "prep_stop:app1", "app_stop:app1");
}

/* applications start in order and stop in reverse order, each
 * between its own prep_stop and stop. */
TEST(application_A04_two_apps_stop_in_reverse_order)
{
    kids1[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids2[0] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    set_root(&root1, kids1, 1, 3);
    set_root(&root2, kids2, 1, 3);
    set_app(&apps[0], "app1", GROVE_APP_PERMANENT, &root1);
    set_app(&apps[1], "app2", GROVE_APP_TEMPORARY, &root2);
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
    app_proc_t ap;
    app_fork(&ap, apps, 2, &opts, true, 0);
    expect_notify(&ap, "READY=1");
    wait_event_count(&ap, 2);
    ASSERT_EVENTS("start:a", "start:b");
    ASSERT_EQ(kill(ap.pid, SIGTERM), 0);
    ASSERT_EXIT_STATUS(app_wait(&ap), 0);
    ASSERT_EVENTS("start:a", "start:b", "prep_stop:app2", "stop:b",
                  "app_stop:app2", "prep_stop:app1", "stop:a",
                  "app_stop:app1");
}

/* an application that fails to start (its root supervisor cannot
 * start a child) ends the program with 1, after the applications already
 * running are stopped. */
TEST(application_A02_start_failure_exit_1)
{
    kids1[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids2[0] = gt_child("b", GT_START, GROVE_PERMANENT);
    gt_child_fail("b", 1, -1);
    set_root(&root1, kids1, 1, 3);
    set_root(&root2, kids2, 1, 3);
    set_app(&apps[0], "app1", GROVE_APP_PERMANENT, &root1);
    set_app(&apps[1], "app2", GROVE_APP_PERMANENT, &root2);
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
    app_proc_t ap;
    app_fork(&ap, apps, 2, &opts, false, 0);
    ASSERT_EXIT_STATUS(app_wait(&ap), 1);
    ASSERT_EVENTS("start:a", "fail:b", "prep_stop:app1", "stop:a",
                  "app_stop:app1");
}

/* a start function instead of a root spec; its error fails the
 * start. */
static int app_start_fn(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    const grove_sup_spec_t *root = arg;
    if (!root) {
        gt_ev("start refused");
        *why = grove_reason_error(2, "no root");
        return GROVE_ESTARTFAIL;
    }
    grove_sup_opts_t o = {.link = true};
    int rc = grove_sup_start(root, &o, pid, why);
    gt_ev("root started %s", grove_errname(rc));
    return rc;
}

TEST(application_A02_start_function)
{
    kids1[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    kids1[1] = gt_child("b", GT_GEN_SERVER, GROVE_PERMANENT);
    set_root(&root1, kids1, 2, 3);
    memset(&apps[0], 0, sizeof apps[0]);
    apps[0].name = "app1";
    apps[0].type = GROVE_APP_PERMANENT;
    apps[0].start = app_start_fn;
    apps[0].arg = &root1;
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, true, 0);
    expect_notify(&ap, "READY=1");
    wait_event_count(&ap, 3);
    ASSERT_EVENTS("start:a", "start:b", "root started GROVE_OK");
    ASSERT_EQ(kill(ap.pid, SIGTERM), 0);
    ASSERT_EXIT_STATUS(app_wait(&ap), 0);
    ASSERT_EVENTS("start:a", "start:b", "root started GROVE_OK", "stop:b",
                  "stop:a");
}

TEST(application_A02_start_function_fails)
{
    memset(&apps[0], 0, sizeof apps[0]);
    apps[0].name = "app1";
    apps[0].type = GROVE_APP_PERMANENT;
    apps[0].start = app_start_fn;
    apps[0].arg = NULL;
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, false, 0);
    ASSERT_EXIT_STATUS(app_wait(&ap), 1);
    ASSERT_EVENTS("start refused");
}

/* grove_app_stop from inside the tree stops the program as SIGTERM
 * does; grove_app_root finds a running application's root. */
static void stopper_main(void *arg)
{
    (void)arg;
    grove_pid_t root = GROVE_PID_NONE;
    int64_t dl = gt_now_ms() + gt_scaled_ms(10000);
    while (grove_app_root("app1", &root) != 0) {
        if (gt_now_ms() > dl)
            grove_exit_error(1, "no root");
        grove_sleep(1);
    }
    bool alive = grove_is_alive(root);
    gt_ev("root %s", alive ? "alive" : "dead");
    grove_pid_t other;
    gt_ev("nope %s", grove_errname(grove_app_root("nope", &other)));
    grove_app_stop();
    grove_msg_t *m;
    grove_recv(&m, GROVE_INFINITY);
}

TEST(application_grove_app_stop_and_root)
{
    kids1[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    memset(&kids1[1], 0, sizeof kids1[1]);
    kids1[1].id = "stopper";
    kids1[1].entry = stopper_main;
    set_root(&root1, kids1, 2, 3);
    set_app(&apps[0], "app1", GROVE_APP_PERMANENT, &root1);
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, false, 0);
    ASSERT_EXIT_STATUS(app_wait(&ap), 0);
    ASSERT_EVENTS("start:a", "root alive", "nope GROVE_ENOTFOUND",
                  "prep_stop:app1", "stop:a", "app_stop:app1");
}

/* no_signals: grove_app_run leaves SIGTERM alone (its default action
 * ends the process). */
TEST(application_no_signals)
{
    three_children();
    opts.no_signals = true;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, true, 0);
    expect_notify(&ap, "READY=1");
    ASSERT_EQ(kill(ap.pid, SIGTERM), 0);
    int status = app_wait(&ap);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_EQ(WTERMSIG(status), SIGTERM);
}

/* no_notify: NOTIFY_SOCKET is ignored. */
TEST(application_no_notify)
{
    three_children();
    opts.no_notify = true;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, true, 0);
    wait_event_count(&ap, 3);
    struct pollfd pfd = {ap.notify_fd, POLLIN, 0};
    ASSERT_EQ(poll(&pfd, 1, 200), 0);
    ASSERT_EQ(kill(ap.pid, SIGTERM), 0);
    ASSERT_EXIT_STATUS(app_wait(&ap), 0);
}

/* shutdown_timeout bounds the whole shutdown: a child that never stops
 * (infinity, ignoring the signal) does not keep the program alive. */
TEST(application_shutdown_timeout)
{
    three_children();
    kids1[1].shutdown = GROVE_SHUTDOWN_INFINITY;
    gt_child_ignore_shutdown("b", true);
    opts.shutdown_timeout = 300;
    app_proc_t ap;
    app_fork(&ap, apps, 1, &opts, true, 0);
    expect_notify(&ap, "READY=1");
    ASSERT_EQ(kill(ap.pid, SIGTERM), 0);
    int status = app_wait(&ap);
    ASSERT_TRUE(WIFEXITED(status));
}

/* grove_sd_notify by itself: GROVE_ENOTFOUND without NOTIFY_SOCKET; the
 * message as given otherwise. */
TEST(application_sd_notify_direct)
{
    unsetenv("NOTIFY_SOCKET");
    ASSERT_ERR(grove_sd_notify("READY=1"), GROVE_ENOTFOUND);
    app_proc_t ap;
    memset(&ap, 0, sizeof ap);
    open_notify(&ap);
    setenv("NOTIFY_SOCKET", ap.path, 1);
    ASSERT_OK(grove_sd_notify("STATUS=testing"));
    char buf[128];
    next_notify(&ap, buf, sizeof buf);
    ASSERT_STREQ(buf, "STATUS=testing");
    close_notify(&ap);
    ASSERT_ERR(grove_sd_notify("READY=1"), GROVE_ESYSCALL);
    unsetenv("NOTIFY_SOCKET");
}

/* how the end of one application (its root gave up after READY=1)
 * affects the others: a temporary one's end is only reported and the
 * program runs on; a permanent one's end stops the rest in reverse
 * order and the program returns 1. */
static void second_app_ends(int type, app_proc_t *ap, int ctl_w)
{
    kids1[0] = gt_child("a", GT_START, GROVE_PERMANENT);
    memset(&kids2[0], 0, sizeof kids2[0]);
    kids2[0].id = "crasher";
    kids2[0].entry = crasher_main;
    set_root(&root1, kids1, 1, 3);
    set_root(&root2, kids2, 1, GROVE_NO_RESTARTS);
    set_app(&apps[0], "app1", GROVE_APP_PERMANENT, &root1);
    set_app(&apps[1], "app2", type, &root2);
    memset(&opts, 0, sizeof opts);
    opts.runtime = &app_cfg;
    app_fork(ap, apps, 2, &opts, true, 0);
    close(ctl_fd);
    expect_notify(ap, "READY=1");
    ASSERT_EQ(write(ctl_w, "x", 1), 1);
}

TEST(application_A06_temporary_app_ends_alone)
{
    int ctl[2];
    ASSERT_EQ(pipe(ctl), 0);
    ctl_fd = ctl[0];
    app_proc_t ap;
    second_app_ends(GROVE_APP_TEMPORARY, &ap, ctl[1]);
    wait_event_count(&ap, 3);
    ASSERT_EVENTS("start:a", "prep_stop:app2", "app_stop:app2");
    /* The program and app1 run on until told to stop. */
    ASSERT_EQ(waitpid(ap.pid, NULL, WNOHANG), 0);
    ASSERT_EQ(kill(ap.pid, SIGTERM), 0);
    expect_notify(&ap, "STOPPING=1");
    ASSERT_EXIT_STATUS(app_wait(&ap), 0);
    close(ctl[1]);
    ASSERT_EVENTS("start:a", "prep_stop:app2", "app_stop:app2",
                  "prep_stop:app1", "stop:a", "app_stop:app1");
}

TEST(application_A06_permanent_app_ends_all)
{
    int ctl[2];
    ASSERT_EQ(pipe(ctl), 0);
    ctl_fd = ctl[0];
    app_proc_t ap;
    second_app_ends(GROVE_APP_PERMANENT, &ap, ctl[1]);
    ASSERT_EXIT_STATUS(app_wait(&ap), 1);
    close(ctl[1]);
    ASSERT_EVENTS("start:a", "prep_stop:app2", "app_stop:app2",
                  "prep_stop:app1", "stop:a", "app_stop:app1");
}
