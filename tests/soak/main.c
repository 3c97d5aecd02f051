/* grove_soak: a chaos soak of a realistic Grove application.
 *
 * It starts the supervision tree of tree.c (three levels of supervisors
 * with all three strategies and a DynamicSupervisor, about a thousand
 * workers), lets the chaos processes of chaos.c kill and fault it for the
 * given time, then stops the chaos, lets the tree settle and checks:
 *
 *  - the tree has the shape of its specs, every permanent child is
 *    alive, count_children agrees with which_children, the registry's
 *    entries are exactly the named children and point to live processes,
 *    and the live processes are exactly the tree's;
 *  - grove_sup_stats agrees with each supervisor's restart reports;
 *  - the fragile subtree escalated exactly once per kill past its limit
 *    (exit shutdown, seen and restarted by the root), and no other
 *    supervisor ever escalated;
 *  - after the whole tree is stopped: no process, message, timer,
 *    resource or arena byte is left (grove_stats back to its baseline),
 *    and the file descriptors are back to theirs.
 *
 * It prints a summary and exits 1 on any violation.
 *
 * Usage: grove_soak [--seconds N] [--scale F] [--kill-rate R]
 *                   [--fault-rate R] [--oom-every S] [--schedulers N]
 *                   [--seed S] [--no-supervisor-kills] [--verbose]
 * SOAK_SECONDS gives the duration when --seconds does not (default 600).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "soak.h"

#if defined(GROVE_ASAN)
/* Grove's handler must see the deliberate faults, and the allocation
 * failure fault asks for more than a sanitizer allows: NULL, please. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
           "allow_user_segv_handler=1:detect_stack_use_after_return=0:"
           "allocator_may_return_null=1";
}
#endif
#if defined(GROVE_TSAN)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
           "allow_user_segv_handler=1:allocator_may_return_null=1";
}
#endif

/* ---- configuration ------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: grove_soak [--seconds N] [--scale F] "
                    "[--kill-rate R] [--fault-rate R] [--oom-every S] "
                    "[--schedulers N] [--seed S] [--no-supervisor-kills] "
                    "[--verbose]\n");
    exit(2);
}

static void configure(int argc, char **argv)
{
    soak_cfg_t *c = &soak_cfg;
    const char *env = getenv("SOAK_SECONDS");
    double scale = 1.0;
    c->seconds = env ? atoi(env) : 600;
    c->kill_rate = 40;
    c->fault_rate = 20;
    c->mult = 1;
    c->sup_kills = true;
#if defined(GROVE_TSAN)
    scale = 0.125; /* TSan: a smaller tree, slower chaos */
    c->kill_rate = 10;
    c->fault_rate = 5;
    c->mult = 4;
#elif defined(GROVE_ASAN)
    c->mult = 2;
#endif
    const char *m = getenv("GROVE_TEST_TIMEOUT_MULT");
    if (m && atoi(m) > 0)
        c->mult = atoi(m);
    c->seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    c->oom_every_s = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--verbose") == 0) {
            c->verbose = true;
            continue;
        }
        if (strcmp(a, "--no-supervisor-kills") == 0) {
            c->sup_kills = false;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(a, "--seconds") == 0)
            c->seconds = atoi(v);
        else if (strcmp(a, "--scale") == 0)
            scale = atof(v);
        else if (strcmp(a, "--kill-rate") == 0)
            c->kill_rate = atof(v);
        else if (strcmp(a, "--fault-rate") == 0)
            c->fault_rate = atof(v);
        else if (strcmp(a, "--oom-every") == 0)
            c->oom_every_s = atoi(v);
        else if (strcmp(a, "--schedulers") == 0)
            c->schedulers = atoi(v);
        else if (strcmp(a, "--seed") == 0)
            c->seed = strtoull(v, NULL, 0);
        else
            usage();
    }
    if (c->seconds < 1 || scale <= 0 || c->kill_rate < 0 ||
        c->fault_rate < 0)
        usage();
    c->pool_workers = (int)(300 * scale) > 4 ? (int)(300 * scale) : 4;
    c->shards = 4;
    c->shard_workers = (int)(80 * scale) > 2 ? (int)(80 * scale) : 2;
    c->sessions = (int)(150 * scale) > 4 ? (int)(150 * scale) : 4;
    if (c->oom_every_s < 0)
        c->oom_every_s = c->seconds <= 60 ? 3 : 10;
}

/* ---- the controller process --------------------------------------------- */

#define MAX_HELPERS 64

typedef struct helpers {
    grove_pid_t pid[MAX_HELPERS];
    grove_ref_t ref[MAX_HELPERS];
    int n;
} helpers_t;

static void spawn_helper(helpers_t *h, grove_entry_fn fn, void *arg)
{
    if (h->n == MAX_HELPERS)
        return;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &h->ref[h->n]};
    int rc = grove_spawn(fn, arg, &o, &h->pid[h->n]);
    if (rc != 0)
        soak_violation("spawning a chaos helper: %s", grove_errname(rc));
    else
        h->n++;
}

static void stop_helpers(helpers_t *h)
{
    for (int i = 0; i < h->n; i++)
        grove_send(h->pid[i], TAG_STOP, NULL, 0);
    for (int i = 0; i < h->n; i++) {
        grove_msg_t *m;
        if (grove_recv_ref(&m, h->ref[i], soak_ms(60000)) != 0) {
            soak_violation("a chaos helper did not stop");
            continue;
        }
        const grove_reason_t *r = grove_msg_reason(m);
        if (r->kind != GROVE_EXIT_NORMAL) {
            char buf[160];
            grove_reason_format(r, buf, sizeof buf);
            soak_violation("a chaos helper ended with %s", buf);
        }
        grove_msg_free(m);
    }
    h->n = 0;
}

static void progress(uint64_t t_ms)
{
    unsigned long kills = 0, faults = 0;
    for (int k = 0; k < K__COUNT; k++)
        kills += soak_get(&soak_ctr.kills[k]);
    for (int f = 0; f < F__COUNT; f++)
        faults += soak_get(&soak_ctr.faults_sent[f]);
    grove_stats_t st;
    grove_stats(&st);
    soak_say("[%4llus] kills %lu, faults %lu, restarts %lu, escalations "
             "%lu, processes %llu, RSS %.0f MiB",
             (unsigned long long)(t_ms / 1000), kills, faults,
             soak_total_restarts(),
             soak_get(&soak_ctr.fragile_escalations),
             (unsigned long long)st.processes_alive,
             (double)soak_rss() / (1 << 20));
}

/* Runs the chaos for the configured time. Returns false if the root
 * itself ended (that is a violation). */
static bool run_chaos(grove_ref_t root_ref)
{
    helpers_t h = {.n = 0};
    int nchaos = grove_scheduler_count();
    for (int i = 0; i < nchaos; i++)
        spawn_helper(&h, soak_chaos_main, (void *)(intptr_t)i);
    spawn_helper(&h, soak_prober_main, NULL);
    spawn_helper(&h, soak_fragile_main, NULL);
    uint64_t start = grove_now_ms(), end = start + soak_cfg.seconds * 1000u;
    uint64_t every = soak_cfg.seconds * 1000u / 60;
    every = every < 500 ? 500 : every;
    uint64_t next_sample = start, next_progress = start + 60000;
    bool root_alive = true;
    for (uint64_t now; (now = grove_now_ms()) < end;) {
        if (now >= next_sample) {
            soak_rss_sample(now - start);
            soak_tree_sample_windows();
            next_sample += every;
        }
        if (now >= next_progress) {
            progress(now - start);
            next_progress += 60000;
        }
        uint64_t until = next_sample < end ? next_sample : end;
        grove_msg_t *m;
        if (grove_recv_ref(&m, root_ref, (grove_timeout_t)(until - now)) ==
            0) {
            char buf[160];
            grove_reason_format(grove_msg_reason(m), buf, sizeof buf);
            soak_violation("the root supervisor ended: %s", buf);
            grove_msg_free(m);
            root_alive = false;
            break;
        }
    }
    soak_rss_sample(grove_now_ms() - start);
    stop_helpers(&h);
    return root_alive;
}

/* Quiets the session manager: no session starts or stops after this. */
static void pause_sessions(void)
{
    atomic_store(&soak_paused, true);
    uint64_t t0 = grove_now_ms();
    while ((int64_t)(grove_now_ms() - t0) < soak_ms(30000)) {
        grove_msg_t *r = NULL;
        if (grove_gs_try_call(grove_server_name(N_SESSMGR), TAG_SYNC, NULL,
                              0, &r, 5000, NULL) == 0) {
            grove_msg_free(r);
            return;
        }
        grove_sleep(10);
    }
    soak_violation("the session manager did not answer after the chaos");
}

static bool same_pids(const soak_walk_t *a, const soak_walk_t *b)
{
    return a->npids == b->npids &&
           memcmp(a->pids, b->pids, a->npids * sizeof *a->pids) == 0;
}

/* Walks until two walks 250 ms apart find no issue and the same
 * processes; then the checking walk, whose issues are violations. */
static void settle_and_check(grove_pid_t root)
{
    uint64_t t0 = grove_now_ms();
    soak_walk_t prev = {0}, w;
    for (;;) {
        soak_tree_walk(root, false, &w);
        bool settled = w.issues == 0 && prev.pids && same_pids(&prev, &w);
        soak_walk_free(&prev);
        prev = w;
        if (settled)
            break;
        if ((int64_t)(grove_now_ms() - t0) > soak_ms(60000)) {
            soak_violation("the tree did not settle in %lld ms: %s",
                           (long long)soak_ms(60000), w.first_issue);
            break;
        }
        grove_sleep(250);
    }
    soak_walk_free(&prev);
    uint64_t settled_ms = grove_now_ms() - t0;
    soak_tree_walk(root, true, &w);
    soak_say("after %llu ms: %zu processes (%zu supervisors, %zu "
             "workers, %zu sessions), %zu registry names; %s",
             (unsigned long long)settled_ms, w.npids, w.supervisors,
             w.workers, w.sessions, w.registered,
             w.issues ? "shape, counts, names or processes WRONG"
                      : "settled; shape, counts, names and processes "
                        "match");
    soak_walk_free(&w);
}

/* Where the intensity limits say: fragile, once per driver cycle, seen
 * by the root; nowhere else. */
static void check_escalations(void)
{
    const char *names[64];
    size_t n = soak_sup_names(names, 64);
    unsigned long cycles = soak_get(&soak_ctr.fragile_cycles),
                  esc = soak_get(&soak_ctr.fragile_escalations), shut, rst;
    soak_fragile_seen(&shut, &rst);
    for (size_t i = 0; i < n; i++) {
        soak_sup_counts_t c;
        soak_sup_counts_by_name(names[i], &c);
        bool fragile = strcmp(names[i], "fragile") == 0;
        if (!fragile && c.escalations)
            soak_violation("%s escalated %lu times; its limit is generous",
                           names[i], c.escalations);
        if (fragile && (c.escalations != esc || esc != cycles))
            soak_violation("fragile: %lu driver cycles, %lu escalations "
                           "seen by the driver, %lu reported", cycles, esc,
                           c.escalations);
    }
    if (shut != esc || rst != esc)
        soak_violation("root saw fragile exit with shutdown %lu times and "
                       "restarted it %lu times; it escalated %lu times",
                       shut, rst, esc);
    if (esc == 0)
        soak_violation("fragile never escalated: no cycle completed");
}

typedef struct live {
    grove_pid_t pid[16];
    size_t n;
} live_t;

static void note_live(grove_pid_t pid, void *arg)
{
    live_t *l = arg;
    if (pid.id != grove_self().id && l->n < 16)
        l->pid[l->n] = pid;
    l->n += pid.id != grove_self().id;
}

/* Nothing of the tree may be left once its root has ended: supervisors
 * wait for their children, so only the last steps of some exits may
 * still be running. */
static void check_nothing_left(void)
{
    live_t l = {.n = 0};
    for (int i = 0; i < 100 * soak_cfg.mult; i++) {
        l.n = 0;
        grove_processes(note_live, &l);
        if (l.n == 0)
            break;
        grove_sleep(10);
    }
    for (size_t i = 0; i < l.n && i < 16; i++) {
        grove_process_info_t info;
        memset(&info, 0, sizeof info);
        grove_process_info(l.pid[i], &info);
        char p[GROVE_PID_STR_MAX];
        soak_violation("process %s (name \"%s\", %zu links) outlives the "
                       "tree", grove_pid_format(l.pid[i], p, sizeof p),
                       info.name, info.links);
    }
    size_t left = grove_registry_count(soak_reg);
    if (left)
        soak_violation("%zu registry entries outlive the tree", left);
}

static void stop_tree(grove_pid_t root, grove_ref_t root_ref)
{
    grove_reason_t sd = grove_reason_shutdown(NULL), why;
    uint64_t t0 = grove_now_ms();
    int rc = grove_gs_stop(grove_server_pid(root), &sd, soak_ms(120000),
                           &why);
    if (rc != 0)
        soak_violation("stopping the root: %s", grove_errname(rc));
    grove_msg_t *m;
    if (grove_recv_ref(&m, root_ref, soak_ms(10000)) == 0)
        grove_msg_free(m);
    soak_say("tree stopped in %llu ms",
             (unsigned long long)(grove_now_ms() - t0));
    check_nothing_left();
}

static void controller(void *arg)
{
    (void)arg;
    grove_pid_t root;
    grove_reason_t why;
    grove_ref_t root_ref;
    uint64_t t0 = grove_now_ms();
    int rc = soak_tree_start(&root, &why);
    if (rc != 0) {
        char buf[160];
        grove_reason_format(&why, buf, sizeof buf);
        soak_violation("starting the tree: %s (%s)", grove_errname(rc), buf);
        return;
    }
    grove_monitor(root, &root_ref);
    uint64_t up_ms = grove_now_ms() - t0;
    /* A process that has ended counts as live until its scheduler has
     * completed its exit, and sessions start meanwhile: the walk is
     * repeated while it finds issues, for up to 5 s, and the last one
     * reports them (a stranger is named). */
    soak_walk_t w;
    for (uint64_t t1 = grove_now_ms();;) {
        bool last = (int64_t)(grove_now_ms() - t1) > soak_ms(5000);
        soak_tree_walk(root, last, &w);
        if (w.issues == 0 || last)
            break;
        soak_walk_free(&w);
        grove_sleep(50);
    }
    soak_say("tree up in %llu ms: %zu processes (%zu supervisors, %zu "
             "workers)", (unsigned long long)up_ms, w.npids, w.supervisors,
             w.workers);
    soak_walk_free(&w);
    if (!run_chaos(root_ref)) {
        check_escalations();
        check_nothing_left();
        return;
    }
    pause_sessions();
    settle_and_check(root);
    soak_tree_print(root);
    check_escalations();
    stop_tree(root, root_ref);
}

/* ---- main --------------------------------------------------------------- */

/* After the controller: every counter back to its baseline. The last
 * exits may still be releasing, and timers of dead processes still
 * pending (they fire within a second, then drop their message). */
static void check_leaks(const grove_stats_t *base)
{
    grove_stats_t st;
    struct timespec nap = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 100 * soak_cfg.mult + 300; i++) {
        grove_stats(&st);
        if (st.processes_alive == base->processes_alive &&
            st.messages_live == base->messages_live &&
            st.timers_live == base->timers_live &&
            st.resources_live == base->resources_live &&
            st.arena_bytes_live == base->arena_bytes_live)
            break;
        nanosleep(&nap, NULL);
    }
    long long d[5] = {
        (long long)(st.processes_alive - base->processes_alive),
        (long long)(st.messages_live - base->messages_live),
        (long long)(st.timers_live - base->timers_live),
        (long long)(st.resources_live - base->resources_live),
        (long long)(st.arena_bytes_live - base->arena_bytes_live)};
    static const char *const what[5] = {"processes", "messages", "timers",
                                        "resources", "arena bytes"};
    for (int i = 0; i < 5; i++)
        if (d[i])
            soak_violation("%lld %s leaked (grove_stats after the tree "
                           "stopped, against the baseline)", d[i], what[i]);
    soak_say("leaks: processes %lld, messages %lld, timers %lld, resources "
             "%lld, arena bytes %lld (spawned %llu, crashed %llu)",
             d[0], d[1], d[2], d[3], d[4],
             (unsigned long long)(st.processes_spawned -
                                  base->processes_spawned),
             (unsigned long long)(st.processes_crashed -
                                  base->processes_crashed));
}

static void print_summary(void)
{
    soak_counters_t *c = &soak_ctr;
    char buf[512];
    size_t used = 0;
    unsigned long total = 0;
    for (int k = 0; k < K__COUNT; k++) {
        total += soak_get(&c->kills[k]);
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s %lu",
                                 k ? ", " : "", soak_kill_names[k],
                                 soak_get(&c->kills[k]));
    }
    soak_say("kills: %lu (%s); %lu chaos targets already gone", total, buf,
             soak_get(&c->kill_misses));
    soak_say("faults (sent / run):");
    for (int f = 0; f < F__COUNT; f++)
        soak_say("  %-20s %7lu / %lu", soak_fault_names[f],
                 soak_get(&c->faults_sent[f]), soak_get(&c->faults_run[f]));
    soak_say("  allocation failures: %lu ended in a NULL from grove_alloc, "
             "at most %lu MiB held", soak_get(&c->oom_null),
             soak_get(&c->oom_max_bytes) >> 20);
    uint64_t n, max, p99;
    double mean;
    soak_latency_summary(&n, &max, &mean, &p99);
    soak_say("restart latency (kill to replacement registered and "
             "answering): %llu probes, max %llu ms, p99 %llu ms, mean "
             "%.2f ms", (unsigned long long)n, (unsigned long long)max,
             (unsigned long long)p99, mean);
    unsigned long shut, rst;
    soak_fragile_seen(&shut, &rst);
    soak_say("escalations: fragile %lu (driver cycles %lu; root saw "
             "shutdown %lu, restarted %lu); others 0 expected",
             soak_get(&c->fragile_escalations),
             soak_get(&c->fragile_cycles), shut, rst);
    soak_say("sessions: %lu started (%lu failed), %lu stopped, %lu "
             "reconnected; migrations %lu",
             soak_get(&c->sessions_started),
             soak_get(&c->sessions_start_failed),
             soak_get(&c->sessions_stopped),
             soak_get(&c->sessions_reconnected), soak_get(&c->migrations));
    soak_say("calls: %lu ok, %lu timed out, %lu noproc, %lu server exited; "
             "%lu ticks, %lu gen_server timeouts, %lu terminate callbacks",
             soak_get(&c->calls_ok), soak_get(&c->calls_timeout),
             soak_get(&c->calls_noproc), soak_get(&c->calls_exited),
             soak_get(&c->ticks), soak_get(&c->gs_timeouts),
             soak_get(&c->terminates));
    soak_print_reports();
    soak_print_rss();
}

int main(int argc, char **argv)
{
    configure(argc, argv);
    int fd_before = soak_count_fds();
    grove_config_t rc_cfg = {.schedulers = soak_cfg.schedulers};
    int rc = grove_start(&rc_cfg);
    if (rc != 0) {
        fprintf(stderr, "grove_start: %s\n", grove_errname(rc));
        return 1;
    }
    grove_registry_opts_t ro = {.keys = GROVE_REG_UNIQUE, .name = "soak"};
    if (soak_log_install() != 0 || grove_registry_new(&ro, &soak_reg) != 0 ||
        soak_tree_build() != 0) {
        fprintf(stderr, "grove_soak: setup failed\n");
        return 1;
    }
    soak_say("grove soak: %d s, seed %#llx, %d schedulers, %zu static "
             "workers + ~%d sessions; chaos %.0f kills/s%s + %.0f "
             "faults/s, an allocation failure every %d s (0: none)",
             soak_cfg.seconds, (unsigned long long)soak_cfg.seed,
             grove_scheduler_count(), soak_nworkers, soak_cfg.sessions,
             soak_cfg.kill_rate,
             soak_cfg.sup_kills ? "" : " (no supervisors)",
             soak_cfg.fault_rate, soak_cfg.oom_every_s);
    int fd_base = soak_count_fds();
    grove_stats_t base;
    grove_stats(&base);
    grove_pid_t ctl;
    grove_reason_t end;
    if ((rc = grove_spawn(controller, NULL, NULL, &ctl)) != 0 ||
        (rc = grove_wait(ctl, GROVE_INFINITY, &end)) != 0)
        soak_violation("running the controller: %s", grove_errname(rc));
    else if (end.kind != GROVE_EXIT_NORMAL)
        soak_violation("the controller ended with kind %s",
                       grove_exit_kind_name(end.kind));
    check_leaks(&base);
    int fd_end = soak_count_fds();
    if (fd_end != fd_base)
        soak_violation("file descriptors: %d open after the tree stopped, "
                       "%d before it started", fd_end, fd_base);
    grove_registry_free(soak_reg);
    soak_log_remove();
    grove_stop();
    soak_tree_free();
    int fd_after = soak_count_fds();
    if (fd_after != fd_before)
        soak_violation("file descriptors: %d open after grove_stop, %d "
                       "before grove_start", fd_after, fd_before);
    print_summary();
    int v = soak_violations();
    if (v)
        soak_dump_recent();
    soak_say("result: %s (%d violations, seed %#llx)", v ? "FAIL" : "PASS",
             v, (unsigned long long)soak_cfg.seed);
    return v ? 1 : 0;
}
