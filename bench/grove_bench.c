/* Grove benchmark workloads.
 *
 * Run as `grove_bench NAME`. Prints one number, the workload's figure, on
 * stdout; a wrong result prints a message on stderr and exits with status
 * 1. The figure is timed inside the program, so runtime start-up and
 * shutdown are not part of it. bench/erlang/ and bench/go/ hold the same
 * workloads for BEAM and Go, and bench/run.sh compares the three.
 *
 * Every process waits with GROVE_INFINITY, as the peers' receives do:
 * a lost message shows up as a hang, which the runner's timeout turns into
 * a failed run.
 */
#define _POSIX_C_SOURCE 200809L

#include <grove.h>
#include <grove/dynamic_supervisor.h>
#include <grove/gen_server.h>
#include <grove/logger.h>
#include <grove/registry.h>
#include <grove/supervisor.h>

#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The figures compare runtimes at the same parallelism: BEAM runs with
 * +S 2:2 and Go with GOMAXPROCS=2. */
#ifndef BENCH_SCHEDULERS
#define BENCH_SCHEDULERS 2
#endif

#define SPAWN_TOTAL 1000000u
#define SPAWN_BATCH 10000u
#define RING_SIZE 1000u
#define RING_HOPS 1000000u
#define PINGPONG_TRIPS 1000000u
#define SKYNET_SIZE 1000000u
#define SKYNET_DIV 10u
#define SKYNET_SUM UINT64_C(499999500000)
#define IDLE_PROCS 100000u
#define IDLE_SETTLE_MS 2500
#define CALL_TOTAL 1000000u
#define RESTART_TOTAL 100000u
#define IDLE_SERVERS 100000u
#define SUP_CHILDREN 1000u
#define DYNSUP_CHILDREN 100000u
#define DYNSUP_POLL_MS 10
#define REG_PROCS 100000u
#define LOOKUP_TOTAL 1000000u
#define LOOKUP_WORKERS 2u
#define ECHO_CONNS "100"
#define ECHO_SECONDS "3"
#define FANOUT_MEMBERS 1000u
#define FANOUT_MESSAGES 1000u
/* Restarts allowed in the intensity window: none of these workloads is
 * about the intensity limit, so it must never be reached. */
#define BENCH_MAX_RESTARTS 1000000

/* Message tags. Each workload only ever has one or two kinds in flight,
 * but distinct tags make a stray message fail the check instead of being
 * counted. */
enum {
    TAG_TOKEN = 1,
    TAG_RING_DONE,
    TAG_STOP,
    TAG_PING,
    TAG_PONG,
    TAG_COUNT,
    TAG_SUM,
    TAG_READY,
    TAG_CALL,
    TAG_REPLY,
    TAG_GO,
    TAG_DONE,
    TAG_SOCKET,
    TAG_JOIN,
    TAG_BROADCAST,
    TAG_CHAT
};

/* The figure the benchmark process leaves for main() to print. */
static double bench_figure;

/* A failed check or runtime call ends the whole program at once: a
 * benchmark with a wrong answer has nothing worth cleaning up, and other
 * processes may be blocked waiting for the one that failed. */
static _Noreturn void fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static _Noreturn void fail(const char *fmt, ...)
{
    va_list ap;

    fputs("grove_bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _Exit(1);
}

static void check_rc(int rc, const char *what)
{
    if (rc < 0)
        fail("%s: %s (%s)", what, grove_strerror(rc), grove_errname(rc));
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static double per_op(uint64_t t0, uint64_t t1, uint64_t ops)
{
    return (double)(t1 - t0) / (double)ops;
}

static grove_pid_t spawn_checked(grove_entry_fn fn, void *arg,
                                 const grove_spawn_opts_t *opts)
{
    grove_pid_t pid;
    int rc = grove_spawn(fn, arg, opts, &pid);
    grove_stats_t st;

    /* The runtime's counters say which limit a failed spawn ran into. */
    if (rc < 0 && grove_stats(&st) == 0)
        fail("grove_spawn: %s (%s); %" PRIu64 " processes alive, %" PRIu64
             " stacks mapped, %" PRIu64 " parked", grove_strerror(rc),
             grove_errname(rc), st.processes_alive, st.stacks_mapped,
             st.stacks_parked);
    check_rc(rc, "grove_spawn");
    return pid;
}

static void send_empty(grove_pid_t to, uint64_t tag)
{
    check_rc(grove_send(to, tag, NULL, 0), "grove_send");
}

static void send_u64(grove_pid_t to, uint64_t tag, uint64_t value)
{
    check_rc(grove_send(to, tag, &value, sizeof value), "grove_send");
}

static grove_msg_t *recv_any(void)
{
    grove_msg_t *m;

    check_rc(grove_recv(&m, GROVE_INFINITY), "grove_recv");
    return m;
}

/* Receives the next message, which must be a user message with this tag;
 * returns it for the caller to read and free. */
static grove_msg_t *recv_expect(uint64_t tag)
{
    grove_msg_t *m = recv_any();

    if (grove_msg_kind(m) != GROVE_MSG_USER || grove_msg_tag(m) != tag)
        fail("expected a message tagged %" PRIu64 ", got kind %d tag %"
             PRIu64, tag, grove_msg_kind(m), grove_msg_tag(m));
    return m;
}

/* The payload of a message carrying one uint64_t. */
static uint64_t msg_u64(const grove_msg_t *m)
{
    uint64_t value;

    if (grove_msg_size(m) != sizeof value)
        fail("message of %zu bytes, expected %zu", grove_msg_size(m),
             sizeof value);
    /* The payload has no alignment promise beyond what a copy needs. */
    memcpy(&value, grove_msg_data(m), sizeof value);
    return value;
}

static uint64_t recv_u64(uint64_t tag)
{
    grove_msg_t *m = recv_expect(tag);
    uint64_t value = msg_u64(m);

    grove_msg_free(m);
    return value;
}

/* ---- spawn_exit: ns per process spawned and exited ------------------
 * The spawner starts children in batches, so the number alive at once
 * stays bounded, each with a monitor; a batch is done when every child's
 * DOWN has arrived, i.e. the child has exited, not just started. */

static void spawn_exit_child(void *arg)
{
    (void)arg;
}

static void bench_spawn_exit(void *arg)
{
    grove_spawn_opts_t opts = {.monitor = true};
    uint64_t normal = 0;
    uint64_t t0, t1;

    (void)arg;
    t0 = now_ns();
    for (uint32_t left = SPAWN_TOTAL; left > 0;) {
        uint32_t n = left < SPAWN_BATCH ? left : SPAWN_BATCH;

        for (uint32_t i = 0; i < n; i++)
            spawn_checked(spawn_exit_child, NULL, &opts);
        for (uint32_t i = 0; i < n; i++) {
            grove_msg_t *m = recv_any();
            const grove_reason_t *why = grove_msg_reason(m);

            if (grove_msg_kind(m) != GROVE_MSG_DOWN)
                fail("spawn_exit: expected DOWN, got kind %d",
                     grove_msg_kind(m));
            if (why != NULL && why->kind == GROVE_EXIT_NORMAL)
                normal++;
            grove_msg_free(m);
        }
        left -= n;
    }
    t1 = now_ns();
    if (normal != SPAWN_TOTAL)
        fail("spawn_exit: %" PRIu64 " of %u children exited normally",
             normal, SPAWN_TOTAL);
    bench_figure = per_op(t0, t1, SPAWN_TOTAL);
}

/* ---- ring_hop: ns per hop of a token round a ring --------------------
 * The token carries the hops still to make; the node that gets 0 reports
 * its index, which must be RING_HOPS % RING_SIZE. */

struct ring_node {
    grove_pid_t next;
    grove_pid_t main;
    uint64_t index;
};

/* Static because the nodes outlive the benchmark process's use of them:
 * they read it until they take their stop message. */
static struct ring_node ring_nodes[RING_SIZE];

static void ring_node_run(void *arg)
{
    const struct ring_node *node = arg;

    for (;;) {
        grove_msg_t *m = recv_any();
        uint64_t hops;

        if (grove_msg_tag(m) == TAG_STOP) {
            grove_msg_free(m);
            return;
        }
        if (grove_msg_tag(m) != TAG_TOKEN)
            fail("ring_hop: node got tag %" PRIu64, grove_msg_tag(m));
        hops = msg_u64(m);
        grove_msg_free(m);
        if (hops == 0)
            send_u64(node->main, TAG_RING_DONE, node->index);
        else
            send_u64(node->next, TAG_TOKEN, hops - 1);
    }
}

static void bench_ring_hop(void *arg)
{
    grove_pid_t pids[RING_SIZE];
    uint64_t last, t0, t1;

    (void)arg;
    for (uint32_t i = 0; i < RING_SIZE; i++) {
        ring_nodes[i].main = grove_self();
        ring_nodes[i].index = i;
        pids[i] = spawn_checked(ring_node_run, &ring_nodes[i], NULL);
    }
    /* Filled in before the token is sent: a node reads its next only on
     * getting the token, and the send orders these writes before it. */
    for (uint32_t i = 0; i < RING_SIZE; i++)
        ring_nodes[i].next = pids[(i + 1) % RING_SIZE];

    t0 = now_ns();
    send_u64(pids[0], TAG_TOKEN, RING_HOPS);
    last = recv_u64(TAG_RING_DONE);
    t1 = now_ns();

    for (uint32_t i = 0; i < RING_SIZE; i++)
        send_empty(pids[i], TAG_STOP);
    if (last != RING_HOPS % RING_SIZE)
        fail("ring_hop: token finished at node %" PRIu64 ", expected %u",
             last, RING_HOPS % RING_SIZE);
    bench_figure = per_op(t0, t1, RING_HOPS);
}

/* ---- pingpong: ns per round trip between two processes ---------------- */

static void pingpong_ponger(void *arg)
{
    uint64_t count = 0;

    (void)arg;
    for (;;) {
        grove_msg_t *m = recv_any();
        grove_pid_t from = grove_msg_from(m);
        uint64_t tag = grove_msg_tag(m);

        grove_msg_free(m);
        if (tag == TAG_PING) {
            count++;
            send_empty(from, TAG_PONG);
        } else if (tag == TAG_STOP) {
            send_u64(from, TAG_COUNT, count);
            return;
        } else {
            fail("pingpong: ponger got tag %" PRIu64, tag);
        }
    }
}

static void bench_pingpong(void *arg)
{
    grove_pid_t ponger = spawn_checked(pingpong_ponger, NULL, NULL);
    uint64_t count, t0, t1;

    (void)arg;
    t0 = now_ns();
    for (uint32_t i = 0; i < PINGPONG_TRIPS; i++) {
        send_empty(ponger, TAG_PING);
        grove_msg_free(recv_expect(TAG_PONG));
    }
    t1 = now_ns();

    send_empty(ponger, TAG_STOP);
    count = recv_u64(TAG_COUNT);
    if (count != PINGPONG_TRIPS)
        fail("pingpong: %" PRIu64 " round trips, expected %u", count,
             PINGPONG_TRIPS);
    bench_figure = per_op(t0, t1, PINGPONG_TRIPS);
}

/* ---- skynet: ms for a tree of SKYNET_SIZE leaves, fan-out SKYNET_DIV ---
 * Leaves send their number up; every other node sums its children's. */

struct skynet_args {
    grove_pid_t parent;
    uint64_t num;
    uint64_t size;
};

static void skynet_node(void *arg);

/* Each node's arguments are its own heap block, like the closure a BEAM
 * or Go node gets. They cannot live in the parent's stack frame: a
 * process waiting in receive may have its stack parked, unreadable by
 * anyone else, until it runs again. */
static void skynet_spawn(grove_pid_t parent, uint64_t num, uint64_t size)
{
    struct skynet_args *a = malloc(sizeof *a);

    if (a == NULL)
        fail("skynet: out of memory");
    a->parent = parent;
    a->num = num;
    a->size = size;
    spawn_checked(skynet_node, a, NULL);
}

static void skynet_node(void *arg)
{
    struct skynet_args self = *(const struct skynet_args *)arg;
    uint64_t sub, sum = 0;
    grove_pid_t me;

    free(arg);
    if (self.size == 1) {
        send_u64(self.parent, TAG_SUM, self.num);
        return;
    }
    me = grove_self();
    sub = self.size / SKYNET_DIV;
    for (uint32_t i = 0; i < SKYNET_DIV; i++)
        skynet_spawn(me, self.num + i * sub, sub);
    for (uint32_t i = 0; i < SKYNET_DIV; i++)
        sum += recv_u64(TAG_SUM);
    send_u64(self.parent, TAG_SUM, sum);
}

static void bench_skynet(void *arg)
{
    uint64_t sum, t0, t1;

    (void)arg;
    t0 = now_ns();
    skynet_spawn(grove_self(), 0, SKYNET_SIZE);
    sum = recv_u64(TAG_SUM);
    t1 = now_ns();
    if (sum != SKYNET_SUM)
        fail("skynet: sum %" PRIu64 ", expected %" PRIu64, sum, SKYNET_SUM);
    bench_figure = (double)(t1 - t0) / 1e6;
}

/* ---- idle_process_bytes: resident bytes per process blocked in receive
 * Measured as the growth of the OS process's resident set, from
 * /proc/self/statm, as the peers do, once the processes have waited long
 * enough for the runtime to give their idle stack pages back. */

static uint64_t rss_bytes(void)
{
    unsigned long size_pages, resident_pages;
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    int got;

    if (f == NULL)
        fail("idle_process_bytes: cannot open /proc/self/statm");
    got = fscanf(f, "%lu %lu", &size_pages, &resident_pages);
    fclose(f);
    if (got != 2 || page <= 0)
        fail("idle_process_bytes: cannot read /proc/self/statm");
    return (uint64_t)resident_pages * (uint64_t)page;
}

/* Static, for the same reason as skynet's arguments: the benchmark
 * process's stack may be parked while it waits for the children. */
static grove_pid_t idle_main_pid;

static void idle_child(void *arg)
{
    (void)arg;
    send_empty(idle_main_pid, TAG_READY);
    /* Never answered: the runtime's stop ends it. */
    grove_msg_free(recv_any());
}

static void bench_idle_process_bytes(void *arg)
{
    grove_stats_t stats;
    uint64_t before, after;

    (void)arg;
    idle_main_pid = grove_self();
    before = rss_bytes();
    for (uint32_t i = 0; i < IDLE_PROCS; i++)
        spawn_checked(idle_child, NULL, NULL);
    for (uint32_t i = 0; i < IDLE_PROCS; i++)
        grove_msg_free(recv_expect(TAG_READY));
    check_rc(grove_sleep(IDLE_SETTLE_MS), "grove_sleep");
    after = rss_bytes();

    check_rc(grove_stats(&stats), "grove_stats");
    if (stats.processes_alive < IDLE_PROCS)
        fail("idle_process_bytes: %" PRIu64 " processes alive, expected "
             "at least %u", stats.processes_alive, IDLE_PROCS);
    /* Not an error, as the figure is still what it costs, but worth
     * knowing when reading a high figure. */
    if (stats.stacks_parked < IDLE_PROCS)
        fprintf(stderr, "grove_bench: note: %" PRIu64 " of %u idle stacks "
                "parked\n", stats.stacks_parked, IDLE_PROCS);
    bench_figure = after > before
                       ? (double)(after - before) / (double)IDLE_PROCS
                       : 0.0;
}

/* ---- the gen_server the supervision workloads use ---------------------
 * A call tagged TAG_CALL carrying n is answered with n + 1; TAG_COUNT is
 * answered with the number of TAG_CALLs served. The state is that count.
 * A non-NULL start argument points to a pid that init tells it started,
 * so the benchmark can wait for a supervisor's restarts. */

static grove_gs_ret_t srv_init(grove_gs_t *gs, void *arg)
{
    const grove_pid_t *notify = arg;

    grove_gs_set_state(gs, (void *)(uintptr_t)0);
    if (notify != NULL)
        send_empty(*notify, TAG_READY);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t srv_handle_call(grove_gs_t *gs, const grove_msg_t *req,
                                      grove_gs_from_t from)
{
    uintptr_t count = (uintptr_t)grove_gs_state(gs);
    uint64_t n;

    (void)from;
    if (grove_msg_tag(req) == TAG_COUNT) {
        n = count;
        return GROVE_GS_REPLY(TAG_COUNT, &n, sizeof n);
    }
    if (grove_msg_tag(req) != TAG_CALL)
        fail("server: call tagged %" PRIu64, grove_msg_tag(req));
    n = msg_u64(req) + 1;
    grove_gs_set_state(gs, (void *)(count + 1));
    return GROVE_GS_REPLY(TAG_REPLY, &n, sizeof n);
}

static const grove_gs_callbacks_t srv_callbacks = {
    .name = "bench_server",
    .init = srv_init,
    .handle_call = srv_handle_call,
};

static uint64_t srv_call(grove_server_t srv, uint64_t tag, uint64_t n)
{
    grove_msg_t *reply;
    uint64_t value;

    check_rc(grove_gs_call(srv, tag, &n, sizeof n, &reply, GROVE_INFINITY),
             "grove_gs_call");
    value = msg_u64(reply);
    grove_msg_free(reply);
    return value;
}

static grove_pid_t srv_start(void *arg)
{
    grove_pid_t pid;
    grove_reason_t why;

    check_rc(grove_gs_start(&srv_callbacks, arg, NULL, &pid, &why),
             "grove_gs_start");
    return pid;
}

static void srv_stop(grove_pid_t pid)
{
    check_rc(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY, NULL),
             "grove_gs_stop");
}

static const grove_reason_t *kill_reason(void)
{
    static grove_reason_t kill;

    kill = grove_reason_of(GROVE_EXIT_KILL);
    return &kill;
}

/* ---- call: ns per gen_server call round trip ---------------------------- */

static void bench_call(void *arg)
{
    grove_pid_t pid = srv_start(NULL);
    grove_server_t srv = grove_server_pid(pid);
    uint64_t count, t0, t1;

    (void)arg;
    t0 = now_ns();
    for (uint64_t i = 0; i < CALL_TOTAL; i++)
        if (srv_call(srv, TAG_CALL, i) != i + 1)
            fail("call: wrong answer to request %" PRIu64, i);
    t1 = now_ns();
    count = srv_call(srv, TAG_COUNT, 0);
    srv_stop(pid);
    if (count != CALL_TOTAL)
        fail("call: server counted %" PRIu64 " calls, expected %u", count,
             CALL_TOTAL);
    bench_figure = per_op(t0, t1, CALL_TOTAL);
}

/* ---- restart: us from killing a named permanent child to its
 * replacement answering a call under the same name ----------------------- */

static grove_pid_t restart_main_pid;

static void bench_restart(void *arg)
{
    grove_gs_opts_t gs_opts = {.name = "bench_worker"};
    grove_child_spec_t child = {
        .id = "worker",
        .gen_server = &srv_callbacks,
        .gs_opts = &gs_opts,
        .arg = &restart_main_pid,
        .restart = GROVE_PERMANENT,
    };
    grove_sup_spec_t spec = {
        .name = "bench_sup",
        .flags = {.strategy = GROVE_ONE_FOR_ONE,
                  .max_restarts = BENCH_MAX_RESTARTS,
                  .max_seconds = 5},
        .children = &child,
        .nchildren = 1,
    };
    grove_server_t worker = grove_server_name("bench_worker");
    grove_sup_stats_t stats;
    grove_pid_t sup, old, now;
    grove_reason_t why;
    uint64_t total = 0;

    (void)arg;
    restart_main_pid = grove_self();
    check_rc(grove_sup_start(&spec, NULL, &sup, &why), "grove_sup_start");
    grove_msg_free(recv_expect(TAG_READY));
    for (uint32_t i = 0; i < RESTART_TOTAL; i++) {
        uint64_t t0, t1;

        check_rc(grove_whereis("bench_worker", &old), "grove_whereis");
        t0 = now_ns();
        check_rc(grove_exit_signal(old, kill_reason()), "grove_exit_signal");
        grove_msg_free(recv_expect(TAG_READY));
        if (srv_call(worker, TAG_CALL, i) != (uint64_t)i + 1)
            fail("restart: wrong answer after restart %u", i);
        t1 = now_ns();
        total += t1 - t0;
        check_rc(grove_whereis("bench_worker", &now), "grove_whereis");
        if (grove_pid_equal(now, old))
            fail("restart: the name still names the killed child");
    }
    check_rc(grove_sup_stats(grove_server_pid(sup), &stats),
             "grove_sup_stats");
    srv_stop(sup);
    if (stats.restarts != RESTART_TOTAL)
        fail("restart: %" PRIu64 " restarts, expected %u", stats.restarts,
             RESTART_TOTAL);
    bench_figure = (double)total / RESTART_TOTAL / 1e3;
}

/* ---- idle_genserver_bytes: resident bytes per idle gen_server ---------- */

static void bench_idle_genserver_bytes(void *arg)
{
    grove_stats_t stats;
    uint64_t before, after;

    (void)arg;
    before = rss_bytes();
    for (uint32_t i = 0; i < IDLE_SERVERS; i++)
        srv_start(NULL);
    check_rc(grove_sleep(IDLE_SETTLE_MS), "grove_sleep");
    after = rss_bytes();
    check_rc(grove_stats(&stats), "grove_stats");
    if (stats.processes_alive < IDLE_SERVERS)
        fail("idle_genserver_bytes: %" PRIu64 " processes alive, expected "
             "at least %u", stats.processes_alive, IDLE_SERVERS);
    if (stats.stacks_parked < IDLE_SERVERS)
        fprintf(stderr, "grove_bench: note: %" PRIu64 " of %u idle stacks "
                "parked\n", stats.stacks_parked, IDLE_SERVERS);
    bench_figure = after > before
                       ? (double)(after - before) / (double)IDLE_SERVERS
                       : 0.0;
}

/* ---- sup_start_1k, sup_shutdown_1k: ms to start a supervisor with 1,000
 * gen_server children, and to shut it down ------------------------------- */

static char sup_ids[SUP_CHILDREN][16];
static grove_child_spec_t sup_children[SUP_CHILDREN];

static void sup_1k(bool shutdown_figure)
{
    grove_sup_spec_t spec = {
        .name = "bench_sup",
        .flags = {.strategy = GROVE_ONE_FOR_ONE},
        .children = sup_children,
        .nchildren = SUP_CHILDREN,
    };
    static grove_child_info_t info[SUP_CHILDREN];
    grove_child_counts_t counts;
    grove_pid_t sup;
    grove_reason_t why;
    uint64_t t0, t1, t2;
    size_t n;

    for (uint32_t i = 0; i < SUP_CHILDREN; i++) {
        snprintf(sup_ids[i], sizeof sup_ids[i], "w%u", i);
        sup_children[i] = (grove_child_spec_t){
            .id = sup_ids[i],
            .gen_server = &srv_callbacks,
            .restart = GROVE_PERMANENT,
        };
    }
    t0 = now_ns();
    check_rc(grove_sup_start(&spec, NULL, &sup, &why), "grove_sup_start");
    t1 = now_ns();
    check_rc(grove_sup_count_children(grove_server_pid(sup), &counts),
             "grove_sup_count_children");
    if (counts.active != SUP_CHILDREN)
        fail("sup: %zu children active, expected %u", counts.active,
             SUP_CHILDREN);
    check_rc(grove_sup_which_children(grove_server_pid(sup), info,
                                      SUP_CHILDREN, &n),
             "grove_sup_which_children");
    t2 = now_ns();
    srv_stop(sup);
    t2 = now_ns() - t2;
    for (size_t i = 0; i < n; i++)
        if (grove_is_alive(info[i].pid))
            fail("sup: a child outlived its supervisor");
    bench_figure = shutdown_figure ? (double)t2 / 1e6
                                   : (double)(t1 - t0) / 1e6;
}

static void bench_sup_start_1k(void *arg)
{
    (void)arg;
    sup_1k(false);
}

static void bench_sup_shutdown_1k(void *arg)
{
    (void)arg;
    sup_1k(true);
}

/* ---- dynsup_*: a DynamicSupervisor with 100,000 gen_server children:
 * ns per start_child, ms to stop it, ms from killing every child to all
 * of them restarted ------------------------------------------------------- */

enum dynsup_figure { DYNSUP_START, DYNSUP_SHUTDOWN, DYNSUP_RESTART_ALL };

static grove_pid_t dynsup_main_pid;

static size_t dynsup_active(grove_pid_t sup)
{
    grove_child_counts_t counts;

    check_rc(grove_dynsup_count_children(grove_server_pid(sup), &counts),
             "grove_dynsup_count_children");
    return counts.active;
}

static void dynsup_run(enum dynsup_figure figure)
{
    grove_dynsup_opts_t opts = {.max_restarts = BENCH_MAX_RESTARTS,
                                .max_seconds = 5};
    bool notify = figure == DYNSUP_RESTART_ALL;
    grove_child_spec_t child = {
        .id = "worker",
        .gen_server = &srv_callbacks,
        .arg = notify ? &dynsup_main_pid : NULL,
        .restart = GROVE_PERMANENT,
    };
    grove_pid_t *pids = malloc(DYNSUP_CHILDREN * sizeof *pids);
    grove_pid_t sup;
    grove_reason_t why;
    uint64_t t0, t1;

    if (pids == NULL)
        fail("dynsup: out of memory");
    dynsup_main_pid = grove_self();
    check_rc(grove_dynsup_start(&opts, &sup, &why), "grove_dynsup_start");
    t0 = now_ns();
    for (uint32_t i = 0; i < DYNSUP_CHILDREN; i++)
        check_rc(grove_dynsup_start_child(grove_server_pid(sup), &child,
                                          &pids[i], &why),
                 "grove_dynsup_start_child");
    t1 = now_ns();
    if (dynsup_active(sup) != DYNSUP_CHILDREN)
        fail("dynsup: %zu children active, expected %u", dynsup_active(sup),
             DYNSUP_CHILDREN);
    if (figure == DYNSUP_START)
        bench_figure = per_op(t0, t1, DYNSUP_CHILDREN);

    if (figure == DYNSUP_RESTART_ALL) {
        for (uint32_t i = 0; i < DYNSUP_CHILDREN; i++)
            grove_msg_free(recv_expect(TAG_READY));
        t0 = now_ns();
        for (uint32_t i = 0; i < DYNSUP_CHILDREN; i++)
            check_rc(grove_exit_signal(pids[i], kill_reason()),
                     "grove_exit_signal");
        /* Every replacement's init says so; then the count must agree. */
        for (uint32_t i = 0; i < DYNSUP_CHILDREN; i++)
            grove_msg_free(recv_expect(TAG_READY));
        while (dynsup_active(sup) != DYNSUP_CHILDREN)
            check_rc(grove_sleep(DYNSUP_POLL_MS), "grove_sleep");
        t1 = now_ns();
        for (uint32_t i = 0; i < DYNSUP_CHILDREN; i++)
            if (grove_is_alive(pids[i]))
                fail("dynsup: a killed child is still alive");
        bench_figure = (double)(t1 - t0) / 1e6;
        /* The stop below checks the replacements, not the killed ones. */
        for (uint32_t i = 0; i < DYNSUP_CHILDREN; i++)
            pids[i] = GROVE_PID_NONE;
    }

    t0 = now_ns();
    srv_stop(sup);
    t1 = now_ns();
    for (uint32_t i = 0; i < DYNSUP_CHILDREN; i++)
        if (!grove_pid_is_none(pids[i]) && grove_is_alive(pids[i]))
            fail("dynsup: a child outlived its supervisor");
    if (figure == DYNSUP_SHUTDOWN)
        bench_figure = (double)(t1 - t0) / 1e6;
    free(pids);
}

static void bench_dynsup_start_100k(void *arg)
{
    (void)arg;
    dynsup_run(DYNSUP_START);
}

static void bench_dynsup_shutdown_100k(void *arg)
{
    (void)arg;
    dynsup_run(DYNSUP_SHUTDOWN);
}

static void bench_dynsup_restart_all_100k(void *arg)
{
    (void)arg;
    dynsup_run(DYNSUP_RESTART_ALL);
}

/* ---- registry_register, registry_lookup, wake_100k: a unique Registry
 * with two partitions. register: ns per key, 100,000 waiting processes
 * told to go at once, each registering its own key (the key is its index,
 * 4 bytes) and saying so. lookup: ns per lookup, 1,000,000 of them by two
 * processes at once over those keys, each checked. wake_100k: the same
 * run as register without the registration, so that register's figure
 * less this one is what the registration itself costs.
 * Both sides time the same work: the holders are spawned before the clock
 * starts (on the BEAM side too), so register is a GO message, the holder
 * waking, its registration and its DONE message, per key. Much of that is
 * the wake-up of 100,000 idle processes, not the registration, so the
 * figure is bounded by the runtime's resume cost. ------------------------- */

enum reg_figure { REG_REGISTER, REG_LOOKUP, REG_WAKE };

static grove_registry_t *reg;
static grove_pid_t reg_main_pid;
static bool reg_skip; /* wake_100k: holders register nothing */

static void reg_holder(void *arg)
{
    uint32_t key = (uint32_t)(uintptr_t)arg;
    grove_pid_t holder;

    grove_msg_free(recv_expect(TAG_GO));
    if (!reg_skip)
        check_rc(grove_registry_register(reg, &key, sizeof key, key, &holder),
                 "grove_registry_register");
    send_empty(reg_main_pid, TAG_DONE);
    /* Holds the key until the runtime's stop ends it. */
    grove_msg_free(recv_any());
}

static void reg_looker(void *arg)
{
    uint32_t first = (uint32_t)(uintptr_t)arg;
    uint64_t bad = 0;

    for (uint32_t i = 0; i < LOOKUP_TOTAL / LOOKUP_WORKERS; i++) {
        uint32_t key = (first + i * 7919u) % REG_PROCS;
        grove_reg_entry_t e;
        size_t n;

        check_rc(grove_registry_lookup(reg, &key, sizeof key, &e, 1, &n),
                 "grove_registry_lookup");
        if (n != 1 || e.value != key)
            bad++;
    }
    send_u64(reg_main_pid, TAG_DONE, bad);
}

static void registry_run(enum reg_figure figure)
{
    grove_registry_opts_t opts = {.keys = GROVE_REG_UNIQUE, .partitions = 2};
    grove_pid_t *pids = malloc(REG_PROCS * sizeof *pids);
    uint64_t t0, t1, bad = 0;
    uint32_t expected;

    if (pids == NULL)
        fail("registry: out of memory");
    reg_main_pid = grove_self();
    reg_skip = figure == REG_WAKE;
    expected = reg_skip ? 0 : REG_PROCS;
    check_rc(grove_registry_new(&opts, &reg), "grove_registry_new");
    for (uint32_t i = 0; i < REG_PROCS; i++)
        pids[i] = spawn_checked(reg_holder, (void *)(uintptr_t)i, NULL);
    t0 = now_ns();
    for (uint32_t i = 0; i < REG_PROCS; i++)
        send_empty(pids[i], TAG_GO);
    for (uint32_t i = 0; i < REG_PROCS; i++)
        grove_msg_free(recv_expect(TAG_DONE));
    t1 = now_ns();
    if (grove_registry_count(reg) != expected)
        fail("registry: %zu keys registered, expected %u",
             grove_registry_count(reg), expected);
    bench_figure = per_op(t0, t1, REG_PROCS);
    if (figure == REG_LOOKUP) {
        t0 = now_ns();
        for (uint32_t w = 0; w < LOOKUP_WORKERS; w++)
            spawn_checked(reg_looker, (void *)(uintptr_t)(w * 50000u), NULL);
        for (uint32_t w = 0; w < LOOKUP_WORKERS; w++)
            bad += recv_u64(TAG_DONE);
        t1 = now_ns();
        if (bad != 0)
            fail("registry_lookup: %" PRIu64 " lookups wrong", bad);
        bench_figure = per_op(t0, t1, LOOKUP_TOTAL);
    }
    free(pids);
}

static void bench_registry_register(void *arg)
{
    (void)arg;
    registry_run(REG_REGISTER);
}

static void bench_registry_lookup(void *arg)
{
    (void)arg;
    registry_run(REG_LOOKUP);
}

static void bench_wake_100k(void *arg)
{
    (void)arg;
    registry_run(REG_WAKE);
}

/* ---- tcp_echo_rps: echo requests per second over loopback -------------
 * An acceptor hands each connection to a new process that reads and
 * writes back what it read, with blocking grove_io calls. The load is
 * bench/tcp_client.c (shared with the BEAM and Go sides), run as a child
 * program: its figure, with every echo checked, is this one. */

extern char **environ;

static void echo_conn(void *arg)
{
    grove_msg_t *m = recv_expect(TAG_SOCKET);
    grove_io_t sock;
    char buf[4096];
    int one = 1, n;

    (void)arg;
    check_rc(grove_io_adopt(m, &sock), "grove_io_adopt");
    grove_msg_free(m);
    setsockopt(grove_io_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while ((n = grove_io_read(sock, buf, sizeof buf, GROVE_INFINITY)) > 0)
        if (grove_io_write(sock, buf, (size_t)n, GROVE_INFINITY) < 0)
            break;
    if (n < 0 && n != GROVE_ECLOSED)
        check_rc(n, "grove_io_read");
    grove_io_close(sock);
}

static void echo_acceptor(void *arg)
{
    grove_pid_t main_pid = *(const grove_pid_t *)arg;
    grove_io_t listener, sock;
    uint64_t port;

    check_rc(grove_io_listen_tcp("127.0.0.1", 0, 1024, &listener),
             "grove_io_listen_tcp");
    port = (uint64_t)grove_io_port(listener);
    send_u64(main_pid, TAG_READY, port);
    for (;;) {
        grove_pid_t pid;

        check_rc(grove_io_accept(listener, &sock, GROVE_INFINITY),
                 "grove_io_accept");
        pid = spawn_checked(echo_conn, NULL, NULL);
        check_rc(grove_io_handoff(sock, pid, TAG_SOCKET), "grove_io_handoff");
    }
}

struct child_wait {
    pid_t pid;
    int status;
};

static void wait_child(void *arg)
{
    struct child_wait *w = arg;

    while (waitpid(w->pid, &w->status, 0) < 0)
        ;
}

/* The client program: $BENCH_TCP_CLIENT, else tcp_echo_client beside this
 * program. */
static void client_path(char *buf, size_t size)
{
    const char *env = getenv("BENCH_TCP_CLIENT");
    ssize_t n;
    char *slash;

    if (env != NULL && env[0] != '\0') {
        snprintf(buf, size, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", buf, size - 1);
    if (n < 0)
        fail("readlink /proc/self/exe");
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (slash == NULL || (size_t)(slash - buf) + 17 > size)
        fail("no directory for tcp_echo_client");
    strcpy(slash + 1, "tcp_echo_client");
}

static void bench_tcp_echo_rps(void *arg)
{
    grove_pid_t self = grove_self();
    grove_pid_t acceptor;
    char path[4096], port_arg[16], line[64];
    char *argv[5];
    int fds[2], n;
    posix_spawn_file_actions_t fa;
    struct child_wait w = {0};
    grove_io_t out;
    const char *text;
    char *end;

    (void)arg;
    acceptor = spawn_checked(echo_acceptor, &self, NULL);
    snprintf(port_arg, sizeof port_arg, "%" PRIu64, recv_u64(TAG_READY));
    client_path(path, sizeof path);
    argv[0] = path;
    argv[1] = port_arg;
    argv[2] = ECHO_CONNS;
    argv[3] = ECHO_SECONDS;
    argv[4] = NULL;
    if (pipe(fds) < 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0)
        fail("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    if (posix_spawn(&w.pid, path, &fa, NULL, argv, environ) != 0)
        fail("cannot run %s", path);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    check_rc(grove_io_wrap(fds[0], &out), "grove_io_wrap");
    n = grove_io_read_until(out, '\n', &text, GROVE_INFINITY);
    if (n > 0 && (size_t)n < sizeof line) {
        memcpy(line, text, (size_t)n);
        line[n] = '\0';
    } else {
        line[0] = '\0';
    }
    grove_io_close(out);
    check_rc(grove_io_blocking(wait_child, &w), "grove_io_blocking");
    if (!WIFEXITED(w.status) || WEXITSTATUS(w.status) != 0)
        fail("tcp_echo_rps: the client failed (status %d)", w.status);
    bench_figure = strtod(line, &end);
    if (end == line || bench_figure <= 0)
        fail("tcp_echo_rps: the client printed '%s'", line);
    check_rc(grove_exit_signal(acceptor, kill_reason()), "grove_exit_signal");
}

/* ---- chat_fanout: deliveries per second in a room of 1,000 ------------
 * The in-process core of a chat room: a Room gen_server holds its
 * members' pids; each cast broadcast is sent by the room to every member,
 * a process that checks it sees 0, 1, 2, ... in order and reports when it
 * has them all. FANOUT_MESSAGES broadcasts, timed from the first cast to
 * the last member's report. */

struct room {
    grove_pid_t members[FANOUT_MEMBERS];
    uint32_t count;
};

static grove_gs_ret_t room_init(grove_gs_t *gs, void *arg)
{
    grove_gs_set_state(gs, arg);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t room_handle_call(grove_gs_t *gs, const grove_msg_t *req,
                                       grove_gs_from_t from)
{
    struct room *r = grove_gs_state(gs);
    grove_pid_t pid;

    (void)from;
    if (grove_msg_tag(req) != TAG_JOIN || grove_msg_size(req) != sizeof pid ||
        r->count == FANOUT_MEMBERS)
        fail("room: bad call tagged %" PRIu64, grove_msg_tag(req));
    memcpy(&pid, grove_msg_data(req), sizeof pid);
    r->members[r->count++] = pid;
    return GROVE_GS_REPLY(TAG_JOIN, NULL, 0);
}

static grove_gs_ret_t room_handle_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    struct room *r = grove_gs_state(gs);

    if (grove_msg_tag(msg) != TAG_BROADCAST)
        fail("room: cast tagged %" PRIu64, grove_msg_tag(msg));
    for (uint32_t i = 0; i < r->count; i++)
        check_rc(grove_send(r->members[i], TAG_CHAT, grove_msg_data(msg),
                            grove_msg_size(msg)),
                 "grove_send");
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t room_callbacks = {
    .name = "bench_room",
    .init = room_init,
    .handle_call = room_handle_call,
    .handle_cast = room_handle_cast,
};

static void fanout_member(void *arg)
{
    grove_pid_t main_pid = *(const grove_pid_t *)arg;

    for (uint64_t want = 0; want < FANOUT_MESSAGES; want++)
        if (recv_u64(TAG_CHAT) != want)
            fail("chat_fanout: a member got a message out of order");
    send_empty(main_pid, TAG_DONE);
}

static struct room fanout_room;

static void bench_chat_fanout(void *arg)
{
    grove_pid_t self = grove_self(), room;
    grove_server_t srv;
    grove_reason_t why;
    grove_msg_t *reply;
    uint64_t t0, t1;

    (void)arg;
    check_rc(grove_gs_start(&room_callbacks, &fanout_room, NULL, &room, &why),
             "grove_gs_start");
    srv = grove_server_pid(room);
    for (uint32_t i = 0; i < FANOUT_MEMBERS; i++) {
        grove_pid_t m = spawn_checked(fanout_member, &self, NULL);

        check_rc(grove_gs_call(srv, TAG_JOIN, &m, sizeof m, &reply,
                               GROVE_INFINITY), "grove_gs_call");
        grove_msg_free(reply);
    }
    t0 = now_ns();
    for (uint64_t seq = 0; seq < FANOUT_MESSAGES; seq++)
        check_rc(grove_gs_cast(srv, TAG_BROADCAST, &seq, sizeof seq),
                 "grove_gs_cast");
    for (uint32_t i = 0; i < FANOUT_MEMBERS; i++)
        grove_msg_free(recv_expect(TAG_DONE));
    t1 = now_ns();
    srv_stop(room);
    bench_figure = (double)FANOUT_MEMBERS * FANOUT_MESSAGES /
                   ((double)(t1 - t0) / 1e9);
}

/* ---- the workload table ------------------------------------------------
 * A new workload is one entry here, one function above, and its name in
 * bench/run.sh's list. */

struct workload {
    const char *name;
    grove_entry_fn run;
};

static const struct workload workloads[] = {
    {"spawn_exit", bench_spawn_exit},
    {"ring_hop", bench_ring_hop},
    {"pingpong", bench_pingpong},
    {"skynet", bench_skynet},
    {"idle_process_bytes", bench_idle_process_bytes},
    {"call", bench_call},
    {"restart", bench_restart},
    {"idle_genserver_bytes", bench_idle_genserver_bytes},
    {"sup_start_1k", bench_sup_start_1k},
    {"sup_shutdown_1k", bench_sup_shutdown_1k},
    {"dynsup_start_100k", bench_dynsup_start_100k},
    {"dynsup_shutdown_100k", bench_dynsup_shutdown_100k},
    {"dynsup_restart_all_100k", bench_dynsup_restart_all_100k},
    {"registry_register", bench_registry_register},
    {"registry_lookup", bench_registry_lookup},
    {"wake_100k", bench_wake_100k},
    {"tcp_echo_rps", bench_tcp_echo_rps},
    {"chat_fanout", bench_chat_fanout},
};

#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

static void usage(void)
{
    fputs("usage: grove_bench NAME\nworkloads:", stderr);
    for (size_t i = 0; i < N_WORKLOADS; i++)
        fprintf(stderr, " %s", workloads[i].name);
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    const struct workload *w = NULL;
    grove_config_t cfg = {0};
    grove_reason_t reason;
    int rc;

    if (argc != 2) {
        usage();
        return 2;
    }
    for (size_t i = 0; i < N_WORKLOADS; i++)
        if (strcmp(argv[1], workloads[i].name) == 0)
            w = &workloads[i];
    if (w == NULL) {
        fprintf(stderr, "grove_bench: unknown workload '%s'\n", argv[1]);
        usage();
        return 2;
    }

    /* Logging off, as on the other sides: restarts and shutdowns would
     * otherwise print supervisor reports. */
    setenv("GROVE_LOG_LEVEL", "none", 1);
    grove_log_clear_handlers();

    cfg.schedulers = BENCH_SCHEDULERS;
    /* skynet has up to 1,111,111 processes alive at once, past the
     * default table size. */
    cfg.max_processes = UINT32_C(1) << 21;
    /* A spawner starting a batch, or 100,000 idle processes, runs long
     * without yielding on purpose; reports about it are noise here. */
    cfg.long_schedule_ms = -1;

    rc = grove_start(&cfg);
    check_rc(rc, "grove_start");
    rc = grove_run(w->run, NULL, &reason);
    check_rc(rc, "grove_run");
    if (reason.kind != GROVE_EXIT_NORMAL) {
        char text[256];

        grove_reason_format(&reason, text, sizeof text);
        fail("%s: the benchmark process exited with %s", w->name, text);
    }
    check_rc(grove_stop(), "grove_stop");

    printf("%.3f\n", bench_figure);
    return fflush(stdout) == 0 ? 0 : 1;
}
