/* restart_intensity.c: a supervisor that gives up, and the escalation.
 *
 * "A supervisor will give up if its children crash too often. [...]
 * exceed that and the supervisor itself crashes, propagating the failure
 * up the tree." The tree is the reference's pipeline under an application
 * supervisor:
 *
 *     MyApp.Supervisor (one_for_one, default 3 restarts in 5 s)
 *     └── MyApp.Pipeline.Supervisor (rest_for_one,
 *         │                          max_restarts: 5, max_seconds: 10)
 *         ├── MyApp.Pipeline.Producer
 *         ├── MyApp.Pipeline.Consumer   crashes 20 ms after it starts
 *         └── MyApp.Pipeline.MetricsCollector
 *
 * Part 1: the Consumer cannot reach its database for a while: it crashes
 * in each of its first 6 lives. The pipeline supervisor restarts it 5
 * times (rest_for_one: the MetricsCollector with it), gives up at the 6th
 * crash and exits with shutdown; MyApp.Supervisor then restarts the whole
 * subtree, the Producer included, and the 7th Consumer works.
 *
 * Part 2: the database is gone for good. Each new pipeline gives up in
 * turn, until MyApp.Supervisor exceeds its own intensity and gives up
 * too. Run as an application (grove_app_run), the program then ends with
 * exit status 1, "so the orchestrator (systemd, Kubernetes, whatever) can
 * intervene".
 *
 * Run:  build/release/examples/restart_intensity
 * Exits 0 when both parts escalated exactly as described.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <grove.h>

static int failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("  FAILED: " __VA_ARGS__);                               \
            printf("\n");                                                   \
            failures++;                                                     \
        }                                                                   \
    } while (0)

/* How many times each pipeline child was started, over both parts. */
static atomic_int producer_lives, consumer_lives, metrics_lives;
/* Lives in which the Consumer crashes (part 2: all of them). */
static atomic_int consumer_bad_lives = 6;

/* ---- the pipeline's workers ---------------------------------------------- */

static grove_gs_ret_t producer_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    atomic_fetch_add(&producer_lives, 1);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t metrics_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    atomic_fetch_add(&metrics_lives, 1);
    return GROVE_GS_INIT_OK();
}

/* The Consumer starts fine, then finds its database unreachable: the
 * timeout stands for its first attempt to write. */
static grove_gs_ret_t consumer_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    int life = atomic_fetch_add(&consumer_lives, 1) + 1;
    if (life <= atomic_load(&consumer_bad_lives))
        return grove_gs_with_timeout(GROVE_GS_INIT_OK(), 20);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t consumer_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    (void)m;
    return GROVE_GS_STOP(
        grove_reason_error(111, "cannot reach the database"));
}

static const grove_gs_callbacks_t producer = {
    .name = "MyApp.Pipeline.Producer", .init = producer_init};
static const grove_gs_callbacks_t consumer = {
    .name = "MyApp.Pipeline.Consumer",
    .init = consumer_init,
    .handle_info = consumer_info};
static const grove_gs_callbacks_t metrics = {
    .name = "MyApp.Pipeline.MetricsCollector", .init = metrics_init};

/* ---- the tree ------------------------------------------------------------ */

static const grove_child_spec_t pipeline_children[] = {
    {.id = "MyApp.Pipeline.Producer", .gen_server = &producer},
    {.id = "MyApp.Pipeline.Consumer", .gen_server = &consumer},
    {.id = "MyApp.Pipeline.MetricsCollector", .gen_server = &metrics},
};

static const grove_sup_spec_t pipeline_spec = {
    .name = "MyApp.Pipeline.Supervisor",
    .flags = {.strategy = GROVE_REST_FOR_ONE,
              .max_restarts = 5,
              .max_seconds = 10},
    .children = pipeline_children,
    .nchildren = 3,
};

/* MyApp.Pipeline.Supervisor.start_link: registered under its name. */
static int pipeline_start_link(void *arg, grove_pid_t *pid,
                               grove_reason_t *why)
{
    (void)arg;
    grove_sup_opts_t o = {.link = true, .name = "MyApp.Pipeline.Supervisor"};
    return grove_sup_start(&pipeline_spec, &o, pid, why);
}

static const grove_child_spec_t root_children[] = {
    {.id = "MyApp.Pipeline.Supervisor",
     .start = pipeline_start_link,
     .type = GROVE_SUPERVISOR},
};

static const grove_sup_spec_t root_spec = {
    .name = "MyApp.Supervisor",
    .flags = {.strategy = GROVE_ONE_FOR_ONE}, /* 3 restarts in 5 s */
    .children = root_children,
    .nchildren = 1,
};

/* ---- reports ------------------------------------------------------------- */

static const char *field(const grove_log_event_t *ev, const char *key)
{
    for (size_t i = 0; i < ev->nfields; i++)
        if (strcmp(ev->fields[i].key, key) == 0)
            return ev->fields[i].value;
    return "";
}

static atomic_int root_gave_up;
static atomic_bool quiet; /* part 2: only what the supervisors decide */

/* One line per supervisor report: [supervisor] what, child, reason. */
static void on_report(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "application_exited") == 0) {
        printf("  [application] %s\n", ev->text);
        return;
    }
    if (strcmp(ev->kind, "supervisor_report") != 0)
        return;
    const char *sup = field(ev, "supervisor_name");
    const char *ctx = field(ev, "context");
    bool gave_up = strcmp(ctx, "reached_max_restart_intensity") == 0;
    if (gave_up && strcmp(sup, "MyApp.Supervisor") == 0)
        atomic_fetch_add(&root_gave_up, 1);
    /* Part 2: what the top supervisor does, and every give-up. */
    if (atomic_load(&quiet) && !gave_up &&
        (strcmp(sup, "MyApp.Supervisor") != 0 ||
         strcmp(ctx, "child_started") == 0))
        return;
    const char *why = field(ev, "reason");
    if (gave_up)
        printf("  [%s] GAVE UP: too many restarts; exits shutdown (last "
               "exit: %s %s)\n",
               sup, field(ev, "child_id"), field(ev, "child_pid"));
    else
        printf("  [%s] %s %s %s%s%s\n", sup, ctx, field(ev, "child_id"),
               field(ev, "child_pid"), why[0] ? " " : "", why);
}

/* ---- part 1 -------------------------------------------------------------- */

static grove_pid_t whereis(const char *name)
{
    grove_pid_t p = GROVE_PID_NONE;
    grove_whereis(name, &p);
    return p;
}

static void part1(void *arg)
{
    (void)arg;
    char a[GROVE_PID_STR_MAX], b[GROVE_PID_STR_MAX], why[96];
    grove_pid_t root;
    int rc = grove_sup_start(&root_spec, NULL, &root, NULL);
    CHECK(rc == 0, "root start: %s", grove_errname(rc));
    if (rc != 0)
        return;
    grove_pid_t pipeline = whereis("MyApp.Pipeline.Supervisor");
    grove_ref_t ref;
    grove_monitor(pipeline, &ref);

    /* The crashes are under way already; wait for the pipeline's end. */
    grove_msg_t *down;
    rc = grove_recv_ref(&down, ref, 5000);
    CHECK(rc == 0, "MyApp.Pipeline.Supervisor did not give up");
    if (rc != 0)
        return;
    grove_reason_format(grove_msg_reason(down), why, sizeof why);
    printf("  MyApp.Pipeline.Supervisor %s exited: %s\n",
           grove_pid_format(pipeline, a, sizeof a), why);
    CHECK(grove_msg_reason(down)->kind == GROVE_EXIT_SHUTDOWN,
          "it exited %s, not shutdown", why);
    grove_msg_free(down);

    /* MyApp.Supervisor restarts the subtree: a new pipeline registers. */
    grove_pid_t again = GROVE_PID_NONE;
    for (int i = 0; i < 400 && grove_pid_is_none(again); i++) {
        grove_sleep(5);
        again = whereis("MyApp.Pipeline.Supervisor");
    }
    grove_sleep(100); /* the 7th Consumer would have crashed by now */
    printf("  new MyApp.Pipeline.Supervisor: %s -> %s\n",
           grove_pid_format(pipeline, a, sizeof a),
           grove_pid_format(again, b, sizeof b));
    CHECK(!grove_pid_is_none(again), "no new pipeline");

    grove_sup_stats_t st;
    grove_sup_stats(grove_server_pid(root), &st);
    printf("  MyApp.Supervisor restarts: %llu\n",
           (unsigned long long)st.restarts);
    CHECK(st.restarts == 1, "root restarted %llu times, want 1",
          (unsigned long long)st.restarts);
    printf("  lives: Producer %d, Consumer %d, MetricsCollector %d\n",
           atomic_load(&producer_lives), atomic_load(&consumer_lives),
           atomic_load(&metrics_lives));
    /* rest_for_one spared the Producer (2 lives: one per pipeline); the
     * MetricsCollector, started after the Consumer, went with it. */
    CHECK(atomic_load(&producer_lives) == 2, "Producer lives");
    CHECK(atomic_load(&consumer_lives) == 7, "Consumer lives");
    CHECK(atomic_load(&metrics_lives) == 7, "MetricsCollector lives");

    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    rc = grove_gs_stop(grove_server_pid(root), &shutdown, 5000, NULL);
    CHECK(rc == 0, "root stop: %s", grove_errname(rc));
}

/* ---- part 2 -------------------------------------------------------------- */

static const grove_app_t my_app = {
    .name = "my_app",
    .type = GROVE_APP_PERMANENT,
    .root = &root_spec,
};

int main(void)
{
    grove_log_clear_handlers();
    grove_log_add_handler(on_report, NULL, GROVE_LOG_INFO, NULL);

    printf("Part 1: the Consumer crashes in its first 6 lives\n");
    grove_reason_t reason;
    int rc = grove_run(part1, NULL, &reason);
    CHECK(rc == 0 && reason.kind == GROVE_EXIT_NORMAL, "part 1 ended badly");

    printf("\nPart 2: the Consumer always crashes (only MyApp.Supervisor's "
           "reports and the give-ups)\n");
    atomic_store(&consumer_bad_lives, 1 << 30);
    atomic_store(&quiet, true);
    grove_app_opts_t o = {.no_signals = true, .no_notify = true};
    rc = grove_app_run(&my_app, 1, &o);
    printf("  grove_app_run returned %d: the program would exit %d\n", rc,
           rc);
    CHECK(rc == 1, "grove_app_run returned %d, want 1", rc);
    /* The first give-up at the top ends the program. */
    CHECK(atomic_load(&root_gave_up) == 1, "MyApp.Supervisor gave up %d "
          "times, want 1", atomic_load(&root_gave_up));

    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
