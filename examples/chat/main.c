/* chat_server: the Grove chat server as a program, with the observer in
 * its tree; `make demo` runs it.
 *
 *   chat_server [--port N] [--host ADDR] [--max-clients N] [--poison]
 *               [--observer-port N | --no-observer] [--load [--clients N]
 *               [--fault-every MS] [--seed N]] [--seconds S] [--verbose]
 *               [--selftest]
 *
 * --port N           TCP port (default 6667; 0: any free port)
 * --host ADDR        address to listen on (default 127.0.0.1; 0.0.0.0 or ::
 *                    for every interface)
 * --max-clients N    connections at once (default: what descriptors allow)
 * --poison           enable GROVE-POISON (the sender's connection process
 *                    dereferences NULL) and GROVE-CRASHROOM #chan (that
 *                    room's process does): crash demonstrations
 * --observer-port N  the observer's port on 127.0.0.1 (default 8080, or
 *                    $CHAT_OBSERVER_PORT; 0: any free port)
 * --no-observer      no observer
 * --load             simulated clients chatting over TCP, and a random
 *                    fault every few seconds (load.c), one line each
 * --clients N        simulated clients (default 8, at most 64)
 * --fault-every MS   mean time between faults (default 3000)
 * --seed N           the load's random seed
 * --seconds S        stop after S seconds, as Ctrl-C would (default: run
 *                    until Ctrl-C)
 * --verbose          log the server's events (connections, joins) and full
 *                    crash reports to stderr
 * --selftest         start on a free port, chat between two clients, stop;
 *                    exit 0 if all went as expected (the smoke test)
 *
 * A default port (6667, 8080) that is busy is replaced by the next free
 * one, and the banner says so; a port given with --port or
 * --observer-port must be free. SIGINT or SIGTERM stops the tree in
 * reverse start order; the program then prints a summary and checks that
 * the tree left nothing behind (processes, messages, timers, resources,
 * arena bytes, descriptors), exiting 0 when it did not.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_internal.h"
#include "load.h"

#define PORT_TRIES 20 /* a busy default port: how many next ones to try */

static chat_opts_t opts = {.port = 6667};
static grove_observer_opts_t observer_opts = {.port = 8080};
static chat_load_opts_t load_opts;
static bool verbose, selftest, no_observer, load;
static bool port_given, observer_port_given;
static double seconds; /* 0: until Ctrl-C */
static grove_child_spec_t extras[2];
static grove_pid_t stopper = {0};
static int fds_base = -1, fds_end = -1; /* before the tree, after it */
static bool started;

/* What the summary reads, taken while the tree still runs. */
static struct {
    bool ok;
    chat_stats_t st;
} final;

/* ---- the observer, and busy ports --------------------------------------- */

/* The observer's start, inside the tree: on a busy default port it tries
 * the next ones. The port found is kept, so a restart reuses it. */
static int observer_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    grove_observer_opts_t *o = arg;
    int first = o->port;
    int tries = observer_port_given || first == 0 ? 1 : PORT_TRIES;
    int rc = GROVE_EEXIST;
    for (int i = 0; i < tries && rc == GROVE_EEXIST && o->port <= 65535;
         i++) {
        rc = grove_observer_child_start(o, pid, why);
        if (rc == GROVE_EEXIST)
            o->port++;
    }
    if (rc == 0) {
        o->port = grove_observer_port(*pid);
        return 0;
    }
    if (rc == GROVE_EEXIST) {
        o->port = first;
        *why = grove_reason_error(
            rc, "port %d is in use%s: try --observer-port N", first,
            tries > 1 ? ", and the next ones" : "");
    }
    return rc;
}

/* The chat port: a busy default one is replaced by the next free one
 * (the Acceptor then listens on it). */
static int pick_chat_port(grove_reason_t *why)
{
    const char *host = opts.host ? opts.host : "127.0.0.1";
    int first = opts.port;
    int tries = port_given || first == 0 ? 1 : PORT_TRIES;
    for (int i = 0; i < tries && opts.port <= 65535; i++, opts.port++) {
        grove_io_t probe;
        int rc = grove_io_listen_tcp(host, opts.port, 0, &probe);
        if (rc == 0) {
            grove_io_close(probe);
            return 0;
        }
        if (rc != GROVE_EEXIST) {
            *why = grove_reason_error(rc, "cannot listen on %s:%d: %s", host,
                                      opts.port, grove_strerror(rc));
            return rc;
        }
    }
    opts.port = first;
    *why = grove_reason_error(GROVE_EEXIST,
                              "%s:%d is in use%s: try --port N", host, first,
                              tries > 1 ? ", and the next ones" : "");
    return GROVE_EEXIST;
}

static grove_pid_t find_child(grove_pid_t sup, const char *id)
{
    grove_child_info_t kids[8];
    size_t n = 0;
    if (grove_sup_which_children(grove_server_pid(sup), kids, 8, &n) == 0)
        for (size_t i = 0; i < n && i < 8; i++)
            if (strcmp(kids[i].id, id) == 0)
                return kids[i].pid;
    return GROVE_PID_NONE;
}

/* ---- the application ---------------------------------------------------- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void banner(grove_pid_t root, int asked_port, int asked_obs)
{
    int port = chat_port();
    const char *host = opts.host ? opts.host : "127.0.0.1";
    const char *dial = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0
                           ? "127.0.0.1"
                           : host;
    printf("chat_server: listening on %s:%d (max %u clients, poison %s)\n",
           host, port, chat_ctx->opts.max_clients,
           opts.poison ? "on" : "off");
    if (asked_port && port != asked_port)
        printf("  (port %d was busy)\n", asked_port);
    printf("\n  connect:  irssi -c %s -p %d -n alice\n", dial, port);
    printf("            nc %s %d     and type:\n", dial, port);
    printf("              NICK alice\n"
           "              USER alice 0 * :Alice\n"
           "              JOIN #grove\n"
           "              PRIVMSG #grove :hello\n");
    if (!no_observer) {
        int op = grove_observer_port(find_child(root, "Chat.Observer"));
        printf("  observer: http://127.0.0.1:%d/   (or: grove-top --port "
               "%d)\n", op, op);
        if (asked_obs && op != asked_obs)
            printf("            (port %d was busy)\n", asked_obs);
    }
    if (load)
        printf("  load:     %d simulated clients in #grove #erlang #c #otp, "
               "a fault every ~%.1f s%s\n",
               load_opts.clients, load_opts.fault_every_ms / 1000.0,
               opts.poison ? " (GROVE-POISON and GROVE-CRASHROOM included)"
                           : "");
    if (seconds > 0)
        printf("  stops after %.1f s, or on Ctrl-C\n\n", seconds);
    else
        printf("  Ctrl-C stops it (the tree shuts down in reverse start "
               "order)\n\n");
    fflush(stdout);
}

/* Ends a bounded run as Ctrl-C would; a message ends it early. */
static void stopper_main(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv(&m, (grove_timeout_t)(seconds * 1000)) == 0)
        grove_msg_free(m);
    else
        grove_app_stop();
}

static int app_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    int asked = opts.port, asked_obs = observer_opts.port;
    int rc = pick_chat_port(why);
    fds_base = count_fds(); /* the runtime's own are open by now */
    size_t n = 0;
    if (!no_observer)
        extras[n++] = (grove_child_spec_t){
            .id = "Chat.Observer", .start = observer_start,
            .arg = &observer_opts, .type = GROVE_SUPERVISOR};
    if (load)
        extras[n++] = (grove_child_spec_t){
            .id = "Chat.Load", .start = chat_load_child_start,
            .arg = &load_opts, .type = GROVE_SUPERVISOR};
    opts.link = true;
    opts.extra_children = extras;
    opts.nextra_children = n;
    if (rc == 0)
        rc = chat_start(&opts, pid, why);
    if (rc != 0)
        return rc; /* the application's error report says why */
    started = true;
    banner(*pid, asked, asked_obs);
    if (seconds > 0)
        grove_spawn(stopper_main, NULL, NULL, &stopper);
    return 0;
}

static void app_prep_stop(void *arg)
{
    (void)arg;
    final.ok = chat_stats(&final.st) == 0;
    printf("\nchat_server: stopping: the tree shuts down in reverse start "
           "order\n");
    fflush(stdout);
}

static void app_stop(void *arg)
{
    (void)arg;
    chat_cleanup();
    grove_send(stopper, 1, NULL, 0); /* a no-op if it is gone */
    /* Every socket the tree had closes with the process that owned it. */
    for (int i = 0; i < 200 && (fds_end = count_fds()) != fds_base; i++)
        grove_sleep(10);
}

/* ---- reports ------------------------------------------------------------- */

static const char *field(const grove_log_event_t *ev, const char *key)
{
    for (size_t i = 0; i < ev->nfields; i++)
        if (strcmp(ev->fields[i].key, key) == 0)
            return ev->fields[i].value ? ev->fields[i].value : "";
    return "";
}

/* One line per crash (a gen_server's crash brings two reports: the
 * server's and the process's; the first is shown) and per supervisor
 * that gave up; the observer's page and event stream have the rest. */
static void on_event(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    static grove_pid_t last; /* handlers run under the handler lock */
    char p[GROVE_PID_STR_MAX];
    if (strcmp(ev->kind, "crash_report") == 0) {
        if (grove_pid_equal(ev->pid, last))
            return;
        last = ev->pid;
        const char *server = field(ev, "server");
        int n = (int)strcspn(server, ";");
        const char *name = field(ev, "name");
        printf("%8.1fs  crash     %.*s%s%s %s: %s\n",
               (double)grove_now_ms() / 1000.0, n, server,
               n && name[0] ? " " : "", name,
               grove_pid_format(ev->pid, p, sizeof p), field(ev, "reason"));
    } else if (strcmp(ev->kind, "supervisor_report") == 0) {
        const char *ctx = field(ev, "context");
        if (strcmp(ctx, "reached_max_restart_intensity") == 0 ||
            strcmp(ctx, "shutdown_error") == 0)
            printf("%8.1fs  %-9s %s\n", (double)grove_now_ms() / 1000.0,
                   "sup", ev->text);
    } else {
        printf("%8.1fs  %-9s %s\n", (double)grove_now_ms() / 1000.0,
               grove_log_level_name(ev->level), ev->text);
    }
    fflush(stdout);
}

static int self_test_steps(void)
{
    chat_client_t a, b;
    char line[600];
    int port = chat_port();
    if (chat_client_open(&a, NULL, port, "alice", 5000) != 0 ||
        chat_client_open(&b, NULL, port, "bob", 5000) != 0 ||
        chat_client_join(&a, "#grove", 5000) != 0 ||
        chat_client_join(&b, "#grove", 5000) != 0)
        return 1;
    chat_client_send(&a, "PRIVMSG #grove :hello from alice");
    if (chat_client_expect(&b, "hello from alice", line, sizeof line,
                           5000) < 0)
        return 2;
    chat_client_send(&b, "PRIVMSG alice :hi back");
    if (chat_client_expect(&a, "PRIVMSG alice :hi back", line, sizeof line,
                           5000) < 0)
        return 3;
    chat_client_send(&a, "QUIT :bye");
    if (chat_client_expect(&b, "QUIT :Quit: bye", line, sizeof line, 5000) <
        0)
        return 4;
    chat_client_close(&a);
    chat_client_close(&b);
    return 0;
}

static void self_test(void *arg)
{
    int *status = arg;
    opts.port = 0;
    grove_pid_t root;
    grove_reason_t why;
    if (chat_start(&opts, &root, &why) != 0) {
        *status = 10;
        return;
    }
    *status = self_test_steps();
    chat_stop();
    printf("chat_server selftest: %s (%d)\n", *status ? "FAILED" : "ok",
           *status);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: chat_server [--port N] [--host ADDR] [--max-clients N] "
            "[--poison]\n"
            "                   [--observer-port N | --no-observer]\n"
            "                   [--load [--clients N] [--fault-every MS] "
            "[--seed N]]\n"
            "                   [--seconds S] [--verbose] [--selftest]\n");
    exit(2);
}

static int port_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > 65535)
        usage();
    return (int)v;
}

static void parse_args(int argc, char **argv)
{
    const char *env = getenv("CHAT_OBSERVER_PORT");
    if (env && *env)
        observer_opts.port = port_arg(env), observer_port_given = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--port") == 0 && more)
            opts.port = port_arg(argv[++i]), port_given = true;
        else if (strcmp(a, "--host") == 0 && more)
            opts.host = argv[++i];
        else if (strcmp(a, "--max-clients") == 0 && more)
            opts.max_clients = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--poison") == 0)
            opts.poison = true;
        else if (strcmp(a, "--observer-port") == 0 && more)
            observer_opts.port = port_arg(argv[++i]),
            observer_port_given = true;
        else if (strcmp(a, "--no-observer") == 0)
            no_observer = true;
        else if (strcmp(a, "--load") == 0)
            load = true;
        else if (strcmp(a, "--clients") == 0 && more)
            load_opts.clients = atoi(argv[++i]);
        else if (strcmp(a, "--fault-every") == 0 && more)
            load_opts.fault_every_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--seed") == 0 && more)
            load_opts.seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--seconds") == 0 && more)
            seconds = atof(argv[++i]);
        else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)
            verbose = true;
        else if (strcmp(a, "--selftest") == 0)
            selftest = true;
        else
            usage();
    }
    if (load_opts.clients <= 0 || load_opts.clients > CHAT_LOAD_MAX_CLIENTS)
        load_opts.clients = load_opts.clients > 0 ? CHAT_LOAD_MAX_CLIENTS : 8;
    if (!load_opts.fault_every_ms)
        load_opts.fault_every_ms = 3000;
    load_opts.poison = opts.poison;
    if (seconds < 0 || seconds > 1e7)
        usage();
}

/* ---- the end: a summary and a leak check --------------------------------- */

static void summary(void)
{
    if (final.ok)
        printf("chat_server: server: %llu connections accepted, %llu "
               "messages relayed, %llu room crashes seen by members, %llu "
               "events logged\n",
               (unsigned long long)final.st.connects,
               (unsigned long long)final.st.messages,
               (unsigned long long)final.st.room_crashes,
               (unsigned long long)final.st.log_events);
    if (load) {
        chat_load_totals_t t;
        chat_load_totals(&t);
        printf("chat_server: summary: clients connected %llu, messages "
               "sent %llu, messages delivered %llu, faults injected %llu, "
               "restarts seen %llu\n",
               (unsigned long long)t.connected, (unsigned long long)t.sent,
               (unsigned long long)t.delivered, (unsigned long long)t.faults,
               (unsigned long long)t.restarts);
    }
}

/* Every counter back to where it was before the tree started. The last
 * exits may still be releasing, and timers of dead processes still
 * pending: they fire within a second, then drop their message. */
static int check_leaks(const grove_stats_t *base)
{
    grove_stats_t st;
    for (int i = 0; i < 300; i++) {
        grove_stats(&st);
        if (st.processes_alive == base->processes_alive &&
            st.messages_live == base->messages_live &&
            st.timers_live == base->timers_live &&
            st.resources_live == base->resources_live &&
            st.arena_bytes_live == base->arena_bytes_live)
            break;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    long long d[5] = {
        (long long)(st.processes_alive - base->processes_alive),
        (long long)(st.messages_live - base->messages_live),
        (long long)(st.timers_live - base->timers_live),
        (long long)(st.resources_live - base->resources_live),
        (long long)(st.arena_bytes_live - base->arena_bytes_live)};
    bool none = !d[0] && !d[1] && !d[2] && !d[3] && !d[4];
    printf("chat_server: leaks: %s (processes %lld, messages %lld, timers "
           "%lld, resources %lld, arena bytes %lld; %llu processes spawned, "
           "%llu crashed)\n",
           none ? "none" : "FOUND", d[0], d[1], d[2], d[3], d[4],
           (unsigned long long)(st.processes_spawned -
                                base->processes_spawned),
           (unsigned long long)(st.processes_crashed -
                                base->processes_crashed));
    return none ? 0 : 1;
}

static void log_handlers(void)
{
    grove_log_clear_handlers();
    if (verbose)
        grove_log_add_handler(grove_log_text_handler, NULL, GROVE_LOG_INFO,
                              NULL);
    else
        grove_log_add_handler(on_event, NULL, GROVE_LOG_WARNING, NULL);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (selftest) {
        if (verbose)
            grove_log_add_handler(grove_log_text_handler, NULL,
                                  GROVE_LOG_INFO, NULL);
        int status = 99;
        if (grove_run(self_test, &status, NULL) != 0)
            return 99;
        return status;
    }
    log_handlers();
    /* The runtime is ours, so that its counters can be read once the
     * tree has gone. SIGINT and SIGTERM are blocked first, as
     * grove_app_run would: its threads inherit the mask, and the signals
     * reach only the thread that waits for them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    int rc = grove_start(NULL);
    if (rc != 0) {
        fprintf(stderr, "chat_server: grove_start: %s\n", grove_strerror(rc));
        return 1;
    }
    grove_stats_t base;
    grove_stats(&base);
    grove_app_t app = {.name = "chat", .type = GROVE_APP_PERMANENT,
                       .start = app_start, .prep_stop = app_prep_stop,
                       .stop = app_stop};
    rc = grove_app_run(&app, 1, NULL);
    if (!started) {
        grove_stop();
        return rc ? rc : 1;
    }
    summary();
    int leaks = check_leaks(&base);
    if (fds_end != fds_base) {
        printf("chat_server: descriptors: %d open after the tree stopped, "
               "%d before it started\n", fds_end, fds_base);
        leaks = 1;
    }
    grove_stop();
    printf("chat_server: %s\n", rc == 0 && !leaks ? "stopped cleanly"
                                                   : "FAILED");
    return rc != 0 ? rc : leaks;
}
