/* pgo_train.c: the training run of the profile-guided build (make pgo).
 *
 * The compiler learns from this program's run which branches of the
 * runtime are taken and which code is hot, and lays the library out for
 * that. It is a service-shaped mix of what Grove programs do most, written
 * for this purpose alone (not the benchmark programs): clients calling and
 * casting to gen_servers, processes trading messages and selective
 * receives, links and monitors reporting exits, a supervisor restarting
 * crashed workers, a DynamicSupervisor starting and stopping children, a
 * Registry holding and resolving keys, and tasks awaited. Every step
 * checks its outcome, so a build whose runtime misbehaves fails here
 * instead of learning from a wrong run.
 *
 *     grove_pgo_train [ROUNDS]     (default 10)
 */
#define _POSIX_C_SOURCE 200809L
#include <grove.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ThreadSanitizer follows each process as a thread of its own, and gives
 * up past 8,128 of them alive at once: its test build runs a smaller
 * crowd. */
#if defined(GROVE_TSAN) || defined(__SANITIZE_THREAD__)
#define CROWD 2000
#else
#define CROWD 10000
#endif

enum {
    T_GET = 1,
    T_ADD,
    T_DONE,
    T_PING,
    T_PONG,
    T_READY,
    CLIENTS = 8,
    CLIENT_OPS = 4000,
    WORKERS = 4,
    KILLS = 4000,
    DYN_CHILDREN = CROWD,
    REG_HOLDERS = CROWD,
    LOOKERS = 4,
    TASKS = 4000,
    LINKED = 4000,
};

static unsigned rounds = 10;
static grove_pid_t trainer;

static void must(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "grove_pgo_train: %s: %s\n", what,
                grove_strerror(rc));
        exit(1);
    }
}

static uint64_t u64_of(const grove_msg_t *m)
{
    uint64_t v = 0;
    if (grove_msg_size(m) == sizeof v)
        memcpy(&v, grove_msg_data(m), sizeof v);
    return v;
}

static void expect_done(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        grove_msg_t *m;
        must(grove_recv_tag(&m, T_DONE, 60000), "waiting for a client");
        grove_msg_free(m);
    }
}

/* ---- a counter gen_server: get is a call, add a cast, a ready note
 * goes to the trainer when it starts under a supervisor --------------- */

static grove_gs_ret_t ctr_init(grove_gs_t *gs, void *arg)
{
    grove_gs_set_state(gs, (void *)(uintptr_t)0);
    if (arg)
        must(grove_send(trainer, T_READY, NULL, 0), "ready");
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t ctr_call(grove_gs_t *gs, const grove_msg_t *req,
                               grove_gs_from_t from)
{
    uint64_t v = (uintptr_t)grove_gs_state(gs);
    (void)from;
    if (grove_msg_tag(req) != T_GET)
        grove_exit_error(GROVE_EINVAL, "unknown call");
    return GROVE_GS_REPLY(T_GET, &v, sizeof v);
}

static grove_gs_ret_t ctr_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    uintptr_t v = (uintptr_t)grove_gs_state(gs);
    grove_gs_set_state(gs, (void *)(v + u64_of(msg)));
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t counter = {
    .name = "train_counter",
    .init = ctr_init,
    .handle_call = ctr_call,
    .handle_cast = ctr_cast,
};

static uint64_t ctr_get(grove_server_t srv)
{
    grove_msg_t *r;
    must(grove_gs_call(srv, T_GET, NULL, 0, &r, 5000), "call");
    uint64_t v = u64_of(r);
    grove_msg_free(r);
    return v;
}

static void client(void *arg)
{
    grove_pid_t srv = *(const grove_pid_t *)arg;
    uint64_t one = 1, last = 0;
    for (unsigned i = 0; i < CLIENT_OPS; i++) {
        if (i % 3 == 0) {
            uint64_t v = ctr_get(grove_server_pid(srv));
            if (v < last) {
                fprintf(stderr, "grove_pgo_train: counter went back\n");
                exit(1);
            }
            last = v;
        } else {
            must(grove_gs_cast(grove_server_pid(srv), T_ADD, &one, sizeof one),
                 "cast");
        }
    }
    must(grove_send(trainer, T_DONE, NULL, 0), "done");
}

static void calls_and_casts(void)
{
    grove_pid_t srv[2];
    grove_reason_t why;
    for (int i = 0; i < 2; i++)
        must(grove_gs_start(&counter, NULL, NULL, &srv[i], &why), "start");
    for (int i = 0; i < CLIENTS; i++)
        must(grove_spawn(client, &srv[i % 2], NULL, NULL), "spawn client");
    expect_done(CLIENTS);
    uint64_t total = ctr_get(grove_server_pid(srv[0])) +
                     ctr_get(grove_server_pid(srv[1]));
    if (total != (uint64_t)CLIENTS * (CLIENT_OPS - (CLIENT_OPS + 2) / 3)) {
        fprintf(stderr, "grove_pgo_train: %" PRIu64 " casts counted\n", total);
        exit(1);
    }
    for (int i = 0; i < 2; i++)
        must(grove_gs_stop(grove_server_pid(srv[i]), NULL, 5000, NULL),
             "stop");
}

/* ---- messages: ping-pong by tag and request-reply by reference -------- */

static void ponger(void *arg)
{
    (void)arg;
    for (;;) {
        grove_msg_t *m;
        must(grove_recv(&m, GROVE_INFINITY), "recv");
        if (grove_msg_tag(m) == T_DONE) {
            grove_msg_free(m);
            return;
        }
        uint64_t v = u64_of(m) + 1;
        must(grove_send_ref(grove_msg_from(m), T_PONG, grove_msg_ref(m), &v,
                            sizeof v), "pong");
        grove_msg_free(m);
    }
}

static void pinger(void *arg)
{
    grove_pid_t peer;
    (void)arg;
    must(grove_spawn(ponger, NULL, NULL, &peer), "spawn ponger");
    for (uint64_t i = 0; i < CLIENT_OPS; i++) {
        grove_msg_t *m;
        grove_ref_t ref = grove_make_ref();
        must(grove_send_ref(peer, T_PING, ref, &i, sizeof i), "ping");
        must(grove_recv_ref(&m, ref, 5000), "await pong");
        if (u64_of(m) != i + 1) {
            fprintf(stderr, "grove_pgo_train: wrong pong\n");
            exit(1);
        }
        grove_msg_free(m);
    }
    must(grove_send(peer, T_DONE, NULL, 0), "done");
    must(grove_send(trainer, T_DONE, NULL, 0), "done");
}

static void messages(void)
{
    for (int i = 0; i < CLIENTS; i++)
        must(grove_spawn(pinger, NULL, NULL, NULL), "spawn pinger");
    expect_done(CLIENTS);
}

/* ---- links and monitors: children exit normally and abnormally -------- */

static void short_life(void *arg)
{
    if ((uintptr_t)arg % 2)
        grove_exit_error(GROVE_EINVAL, "odd child");
}

static void exits(void)
{
    must(grove_trap_exit(true), "trap_exit");
    for (uintptr_t i = 0; i < LINKED; i++) {
        grove_pid_t pid;
        grove_ref_t ref;
        grove_msg_t *m;
        must(grove_spawn(short_life, (void *)i, NULL, &pid), "spawn");
        must(grove_link(pid), "link");
        must(grove_monitor(pid, &ref), "monitor");
        must(grove_recv_ref(&m, ref, 5000), "DOWN");
        grove_msg_free(m);
    }
    grove_msg_t *m;
    while (grove_recv(&m, 0) == 0) /* the EXIT messages of the links */
        grove_msg_free(m);
    must(grove_trap_exit(false), "trap_exit");
}

/* ---- a supervisor restarting named workers ---------------------------- */

static void restarts(void)
{
    static const char *names[WORKERS] = {"train_w0", "train_w1", "train_w2",
                                         "train_w3"};
    grove_gs_opts_t opts[WORKERS];
    grove_child_spec_t kids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        opts[i] = (grove_gs_opts_t){.name = names[i]};
        kids[i] = (grove_child_spec_t){.id = names[i],
                                       .gen_server = &counter,
                                       .gs_opts = &opts[i],
                                       .arg = &trainer,
                                       .restart = GROVE_PERMANENT};
    }
    grove_sup_spec_t spec = {
        .flags = {.strategy = GROVE_ONE_FOR_ONE, .max_restarts = 1000000,
                  .max_seconds = 1},
        .children = kids,
        .nchildren = WORKERS,
    };
    grove_pid_t sup, old;
    grove_reason_t why, kill = grove_reason_of(GROVE_EXIT_KILL);
    must(grove_sup_start(&spec, NULL, &sup, &why), "sup start");
    for (int i = 0; i < WORKERS; i++) {
        grove_msg_t *m;
        must(grove_recv_tag(&m, T_READY, 5000), "ready");
        grove_msg_free(m);
    }
    for (unsigned i = 0; i < KILLS; i++) {
        grove_msg_t *m;
        const char *name = names[i % WORKERS];
        must(grove_whereis(name, &old), "whereis");
        must(grove_exit_signal(old, &kill), "kill");
        must(grove_recv_tag(&m, T_READY, 5000), "restarted");
        grove_msg_free(m);
        (void)ctr_get(grove_server_name(name));
    }
    grove_sup_stats_t st;
    must(grove_sup_stats(grove_server_pid(sup), &st), "sup stats");
    if (st.restarts != KILLS) {
        fprintf(stderr, "grove_pgo_train: %" PRIu64 " restarts\n",
                st.restarts);
        exit(1);
    }
    must(grove_gs_stop(grove_server_pid(sup), NULL, GROVE_INFINITY, NULL),
         "sup stop");
}

/* ---- a DynamicSupervisor and a Registry ------------------------------- */

static grove_registry_t *reg;

static void holder(void *arg)
{
    uint64_t key = (uintptr_t)arg;
    grove_msg_t *m;
    must(grove_registry_register(reg, &key, sizeof key, key, NULL),
         "register");
    must(grove_send(trainer, T_READY, NULL, 0), "ready");
    must(grove_recv_tag(&m, T_DONE, GROVE_INFINITY), "go");
    grove_msg_free(m);
}

/* Resolves every key, as many processes at once do. */
static void looker(void *arg)
{
    (void)arg;
    for (uint64_t k = 1; k <= REG_HOLDERS; k++) {
        grove_reg_entry_t e;
        size_t n;
        must(grove_registry_lookup(reg, &k, sizeof k, &e, 1, &n), "lookup");
        if (n != 1 || e.value != k) {
            fprintf(stderr, "grove_pgo_train: key %" PRIu64 " lost\n", k);
            exit(1);
        }
    }
    must(grove_send(trainer, T_DONE, NULL, 0), "done");
}

/* A crowd, as of user sessions: many children of a DynamicSupervisor,
 * many processes holding Registry keys, all alive at once. */
static void dynamic(void)
{
    grove_dynsup_opts_t dopts = {0};
    static grove_pid_t kids[DYN_CHILDREN], holders[REG_HOLDERS];
    grove_pid_t dsup;
    grove_reason_t why;
    must(grove_dynsup_start(&dopts, &dsup, &why), "dynsup start");
    grove_server_t ds = grove_server_pid(dsup);
    for (unsigned i = 0; i < DYN_CHILDREN; i++) {
        grove_child_spec_t c = {.id = "train_child", .gen_server = &counter,
                                .restart = GROVE_TEMPORARY};
        must(grove_dynsup_start_child(ds, &c, &kids[i], &why), "start_child");
    }
    for (unsigned i = 0; i < DYN_CHILDREN; i += 2)
        must(grove_dynsup_terminate_child(ds, kids[i]), "terminate_child");
    must(grove_gs_stop(ds, NULL, GROVE_INFINITY, NULL), "dynsup stop");

    grove_registry_opts_t ropts = {.keys = GROVE_REG_UNIQUE};
    must(grove_registry_new(&ropts, &reg), "registry");
    for (uintptr_t i = 0; i < REG_HOLDERS; i++)
        must(grove_spawn(holder, (void *)(i + 1), NULL, &holders[i]), "spawn");
    for (unsigned i = 0; i < REG_HOLDERS; i++) {
        grove_msg_t *m;
        must(grove_recv_tag(&m, T_READY, 5000), "registered");
        grove_msg_free(m);
    }
    for (int i = 0; i < LOOKERS; i++)
        must(grove_spawn(looker, NULL, NULL, NULL), "spawn looker");
    expect_done(LOOKERS);
    for (uint64_t k = 1; k <= REG_HOLDERS; k++) {
        grove_pid_t pid;
        must(grove_registry_whereis(reg, &k, sizeof k, &pid), "whereis");
    }
    for (unsigned i = 0; i < REG_HOLDERS; i++) {
        grove_ref_t ref;
        grove_msg_t *m;
        must(grove_monitor(holders[i], &ref), "monitor");
        must(grove_send(holders[i], T_DONE, NULL, 0), "go");
        must(grove_recv_ref(&m, ref, 5000), "DOWN");
        grove_msg_free(m);
    }
    if (grove_registry_count(reg) != 0) {
        fprintf(stderr, "grove_pgo_train: registry kept dead entries\n");
        exit(1);
    }
    must(grove_registry_free(reg), "registry free");
}

/* ---- tasks ------------------------------------------------------------ */

static int square(void *arg, void **result, size_t *size)
{
    uint64_t *v = malloc(sizeof *v);
    if (!v)
        return GROVE_ENOMEM;
    *v = (uint64_t)(uintptr_t)arg * (uint64_t)(uintptr_t)arg;
    *result = v;
    *size = sizeof *v;
    return 0;
}

static void tasks(void)
{
    for (uintptr_t i = 0; i < TASKS; i++) {
        grove_task_t t;
        grove_msg_t *r;
        must(grove_task_async(square, (void *)i, &t), "async");
        must(grove_task_await(&t, 5000, &r), "await");
        if (u64_of(r) != (uint64_t)i * i) {
            fprintf(stderr, "grove_pgo_train: wrong task result\n");
            exit(1);
        }
        grove_msg_free(r);
    }
}

static void train(void *arg)
{
    (void)arg;
    trainer = grove_self();
    for (unsigned r = 0; r < rounds; r++) {
        calls_and_casts();
        messages();
        exits();
        restarts();
        dynamic();
        tasks();
    }
}

int main(int argc, char **argv)
{
    grove_reason_t why;
    if (argc > 1)
        rounds = (unsigned)strtoul(argv[1], NULL, 10);
    setenv("GROVE_LOG_LEVEL", "none", 1);
    must(grove_start(NULL), "grove_start");
    int rc = grove_run(train, NULL, &why);
    must(rc, "grove_run");
    if (why.kind != GROVE_EXIT_NORMAL) {
        char buf[256];
        grove_reason_format(&why, buf, sizeof buf);
        fprintf(stderr, "grove_pgo_train: ended with %s\n", buf);
        return 1;
    }
    must(grove_stop(), "grove_stop");
    return 0;
}
