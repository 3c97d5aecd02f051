/* observer.c: a small shop whose tree you can watch, and kill parts of,
 * in a browser or a terminal.
 *
 *     Shop.Supervisor (one_for_one)
 *     ├── Shop.Orders      a worker that takes orders
 *     ├── Shop.Payments    a worker that crashes every few seconds
 *     ├── Shop.Sessions    a DynamicSupervisor: sessions come and go
 *     └── observer         the observer, inside the tree it shows
 *
 * Run:  build/release/examples/observer [--port N] [SECONDS]
 * then open the URL it prints, or run build/release/examples/grove-top
 * with the same port. Ctrl-C stops it.
 *
 * With --selftest GROVE_TOP it checks itself instead (the smoke test):
 * the tree shows every part, a worker killed through POST /api/kill is
 * restarted under a new pid, and grove-top --once draws the tree.
 */
#define _POSIX_C_SOURCE 200809L
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <grove.h>

extern char **environ;

static grove_observer_opts_t observer_opts; /* loopback, kill on */
static double seconds;                       /* 0: until Ctrl-C */
static const char *selftest_top;             /* grove-top's path */
static int selftest_failed;

/* ---- the shop ----------------------------------------------------------- */

static void orders_main(void *arg)
{
    (void)arg;
    grove_register("Shop.Orders", grove_self());
    for (;;) {
        grove_msg_t *m;
        if (grove_recv(&m, GROVE_INFINITY) == 0)
            grove_msg_free(m);
    }
}

/* Crashes now and then, as payments code does. */
static void payments_main(void *arg)
{
    (void)arg;
    grove_sleep(3000 + rand() % 4000);
    grove_exit_error(402, "card declined in a way nobody expected");
}

static void session_main(void *arg)
{
    (void)arg;
    grove_sleep(2000 + rand() % 8000);
}

/* Opens and closes sessions under Shop.Sessions. */
static void traffic_main(void *arg)
{
    (void)arg;
    static const grove_child_spec_t session = {
        .id = "session", .entry = session_main, .restart = GROVE_TEMPORARY};
    for (;;) {
        grove_dynsup_start_child(grove_server_name("Shop.Sessions"), &session,
                                 NULL, NULL);
        grove_sleep(700);
    }
}

static int sessions_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_dynsup_opts_t o = {.link = true, .name = "Shop.Sessions",
                             .max_children = 20};
    return grove_dynsup_start(&o, pid, why);
}

static const grove_child_spec_t shop_children[] = {
    {.id = "Shop.Orders", .entry = orders_main},
    {.id = "Shop.Payments", .entry = payments_main,
     .backoff = {.initial_ms = 500, .max_ms = 4000}},
    {.id = "Shop.Sessions", .start = sessions_start,
     .type = GROVE_SUPERVISOR},
    {.id = "Shop.Traffic", .entry = traffic_main},
    {.id = "observer", .start = grove_observer_child_start,
     .arg = &observer_opts, .type = GROVE_SUPERVISOR},
};

static const grove_sup_spec_t shop = {
    .name = "Shop.Supervisor",
    .flags = {.max_restarts = 20, .max_seconds = 10},
    .children = shop_children,
    .nchildren = sizeof shop_children / sizeof shop_children[0],
};

/* ---- the self test: a client of its own observer ------------------------ */

/* One request over the io layer; the body (malloc'd) or NULL. */
static char *http(int port, const char *method, const char *path,
                  int *status)
{
    grove_io_t s;
    if (grove_io_connect_tcp("127.0.0.1", port, &s, 5000) < 0)
        return NULL;
    char req[256];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", method,
                     path, port);
    size_t len = 0, cap = 1 << 20;
    char *buf = malloc(cap);
    int rc = grove_io_write(s, req, (size_t)n, 5000);
    while (buf && rc == 0 && len + 1 < cap) {
        int k = grove_io_read(s, buf + len, cap - len - 1, 5000);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    grove_io_close(s);
    char *body = buf ? strstr((buf[len] = '\0', buf), "\r\n\r\n") : NULL;
    if (!body || sscanf(buf, "HTTP/1.1 %d", status) != 1) {
        free(buf);
        return NULL;
    }
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return buf;
}

static void check(bool ok, const char *what)
{
    printf("  %-4s %s\n", ok ? "ok" : "FAIL", what);
    selftest_failed += !ok;
}

/* The pid of Shop.Orders as the tree shows it ("" if absent). */
static void orders_pid(const char *tree, char out[GROVE_PID_STR_MAX])
{
    const char *id = tree ? strstr(tree, "\"id\":\"Shop.Orders\"") : NULL;
    out[0] = '\0';
    /* Each entry starts with its pid: look back for the last one. */
    for (const char *p = tree; p && id && (p = strstr(p, "{\"pid\":\"")) &&
                               p < id;
         p++)
        sscanf(p, "{\"pid\":\"%31[^\"]", out);
}

typedef struct top_job {
    int port, status;
} top_job_t;

static void run_top(void *arg)
{
    top_job_t *j = arg;
    char port[16];
    snprintf(port, sizeof port, "%d", j->port);
    char *argv[] = {(char *)selftest_top, "--once", "--port", port, NULL};
    pid_t pid;
    j->status = -1;
    if (posix_spawn(&pid, selftest_top, NULL, NULL, argv, environ) == 0)
        waitpid(pid, &j->status, 0);
}

static void selftest_main(void *arg)
{
    grove_pid_t obs = *(grove_pid_t *)arg;
    int port = grove_observer_port(obs), st = 0;
    char before[GROVE_PID_STR_MAX], after[GROVE_PID_STR_MAX], path[80];
    char *tree = http(port, "GET", "/api/tree", &st);
    check(st == 200 && tree && strstr(tree, "Shop.Sessions"),
          "GET /api/tree shows the shop");
    orders_pid(tree, before);
    free(tree);
    snprintf(path, sizeof path, "/api/kill?pid=%s", before);
    free(http(port, "POST", path, &st));
    check(st == 200, "POST /api/kill kills Shop.Orders");
    for (int i = 0; i < 100; i++) {
        grove_sleep(50);
        tree = http(port, "GET", "/api/tree", &st);
        orders_pid(tree, after);
        free(tree);
        if (after[0] && strcmp(after, before) != 0)
            break;
    }
    check(after[0] && strcmp(after, before) != 0,
          "the tree shows Shop.Orders restarted under a new pid");
    free(http(port, "GET", "/readyz", &st));
    check(st == 200 || st == 503, "GET /readyz answers");
    /* On the heap: a process waiting long has its stack trimmed, and
     * the pool thread must not write into it. */
    top_job_t *j = malloc(sizeof *j);
    *j = (top_job_t){port, -1};
    bool ran = j && grove_io_blocking_owned(run_top, j, free) == 0;
    check(ran && WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0,
          "grove-top --once draws a frame");
    free(j); /* ours again after the call, whatever it returned */
    grove_app_stop();
}

/* ---- the program -------------------------------------------------------- */

/* Ends the run when the time is up, as Ctrl-C would. */
static void stopper_main(void *arg)
{
    (void)arg;
    grove_sleep((grove_timeout_t)(seconds * 1000));
    grove_app_stop();
}

static int app_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    int rc = grove_sup_start(&shop, &(grove_sup_opts_t){.link = true}, pid,
                             why);
    if (rc < 0)
        return rc;
    size_t n = 0;
    grove_child_info_t kids[8];
    grove_sup_which_children(grove_server_pid(*pid), kids, 8, &n);
    grove_pid_t obs = GROVE_PID_NONE;
    for (size_t i = 0; i < n && i < 8; i++)
        if (strcmp(kids[i].id, "observer") == 0)
            obs = kids[i].pid;
    printf("observer: open http://127.0.0.1:%d/ (or grove-top --port %d)\n",
           grove_observer_port(obs), grove_observer_port(obs));
    fflush(stdout);
    static grove_pid_t observer;
    observer = obs;
    if (selftest_top)
        grove_spawn(selftest_main, &observer, NULL, NULL);
    else if (seconds > 0)
        grove_spawn(stopper_main, NULL, NULL, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            observer_opts.port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--selftest") == 0 && i + 1 < argc)
            selftest_top = argv[++i];
        else if ((seconds = atof(argv[i])) <= 0) {
            fprintf(stderr, "usage: %s [--port N] [SECONDS] "
                            "[--selftest GROVE_TOP]\n", argv[0]);
            return 2;
        }
    }
    grove_app_t app = {.name = "shop", .start = app_start};
    grove_app_opts_t o = {.no_notify = true};
    if (!selftest_top)
        grove_log_clear_handlers(); /* the page shows the reports */
    int rc = grove_app_run(&app, 1, &o);
    if (selftest_top)
        printf("%s\n", selftest_failed ? "FAILED" : "OK");
    return rc != 0 || selftest_failed ? 1 : 0;
}
