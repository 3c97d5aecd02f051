/* application.c: supervision trees run as a program.
 *
 * Shows:
 *   1. grove_app_run starting two applications, each a root supervisor
 *      given as a spec: "counter" (permanent) with a gen_server and a plain
 *      worker under it, and "flaky" (temporary) whose only worker crashes;
 *   2. a temporary application whose root gives up is reported (an
 *      "application_exited" event) while the others keep running;
 *   3. grove_app_root finding an application's root supervisor;
 *   4. grove_app_stop from another thread, as SIGTERM would: prep_stop,
 *      the tree's orderly shutdown, then stop, and an exit status of 0.
 *
 * Run:  build/release/examples/application
 * Stops itself after a second (or at Ctrl-C). Exits 0 when every step
 * behaved as described above.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <grove.h>

enum { TAG_BUMP = 1, TAG_GET, TAG_COUNT };

/* ---- the counter application ------------------------------------------- */

/* A gen_server holding a number: casts bump it, a call reads it. Its
 * state lives in process memory, freed with the process however it ends. */
static grove_gs_ret_t counter_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    grove_gs_set_state(gs, grove_calloc(1, sizeof(uint64_t)));
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t counter_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    uint64_t *n = grove_gs_state(gs);
    if (grove_msg_tag(m) == TAG_BUMP)
        (*n)++;
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t counter_call(grove_gs_t *gs, const grove_msg_t *req,
                                   grove_gs_from_t from)
{
    (void)req;
    (void)from;
    uint64_t *n = grove_gs_state(gs);
    return GROVE_GS_REPLY(TAG_COUNT, n, sizeof *n);
}

static const grove_gs_callbacks_t counter_cb = {
    .name = "counter",
    .init = counter_init,
    .handle_call = counter_call,
    .handle_cast = counter_cast,
};
static const grove_gs_opts_t counter_opts = {.name = "counter"};

/* A plain worker that bumps the counter every 20 ms, by name: after a
 * restart the counter has a new pid but the same name. */
static void ticker(void *arg)
{
    (void)arg;
    for (;;) {
        grove_gs_cast(grove_server_name("counter"), TAG_BUMP, NULL, 0);
        grove_sleep(20);
    }
}

static const grove_child_spec_t counter_children[] = {
    {.id = "counter", .gen_server = &counter_cb, .gs_opts = &counter_opts},
    {.id = "ticker", .entry = ticker},
};
static const grove_sup_spec_t counter_root = {
    .name = "counter_sup",
    .flags = {.strategy = GROVE_REST_FOR_ONE},
    .children = counter_children,
    .nchildren = 2,
};

/* What the callbacks saw, checked by main at the end. */
static atomic_int steps; /* 1 after prep_stop, 2 after stop */
static uint64_t final_count;

/* Runs in the application's master process, before the tree stops: the
 * counter still runs, so a last call reads it (as a real service would
 * flush a buffer or deregister from a load balancer here). */
static void counter_prep_stop(void *arg)
{
    (void)arg;
    grove_msg_t *reply;
    if (grove_gs_call(grove_server_name("counter"), TAG_GET, NULL, 0, &reply,
                      1000) == 0) {
        memcpy(&final_count, grove_msg_data(reply), sizeof final_count);
        grove_msg_free(reply);
    }
    printf("counter: prep_stop, the count is %llu\n",
           (unsigned long long)final_count);
    int expected = 0;
    atomic_compare_exchange_strong(&steps, &expected, 1);
}

/* Runs after the whole tree has ended. */
static void counter_stop(void *arg)
{
    (void)arg;
    grove_pid_t pid;
    bool gone = grove_whereis("counter", &pid) != 0;
    printf("counter: stop, the server is %s\n", gone ? "gone" : "still up");
    int expected = 1;
    if (gone)
        atomic_compare_exchange_strong(&steps, &expected, 2);
}

/* ---- the flaky application ---------------------------------------------- */

/* Crashes after 200 ms. Its supervisor may not restart anything
 * (GROVE_NO_RESTARTS), so it gives up and exits with shutdown. */
static void flake(void *arg)
{
    (void)arg;
    grove_sleep(200);
    grove_exit_error(1, "flake gave up");
}

static const grove_child_spec_t flaky_children[] = {
    {.id = "flake", .entry = flake},
};
static const grove_sup_spec_t flaky_root = {
    .name = "flaky_sup",
    .flags = {.max_restarts = GROVE_NO_RESTARTS},
    .children = flaky_children,
    .nchildren = 1,
};

/* ---- watching the reports ------------------------------------------------ */

static atomic_int flaky_reported;

/* A log handler: sees every event, keeps the one about "flaky". */
static void on_event(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "application_exited") != 0)
        return;
    for (size_t i = 0; i < ev->nfields; i++)
        if (strcmp(ev->fields[i].key, "application") == 0 &&
            strcmp(ev->fields[i].value, "flaky") == 0)
            atomic_store(&flaky_reported, 1);
    printf("report: %s\n", ev->text);
}

/* ---- main ------------------------------------------------------------------ */

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static atomic_int root_found;

/* Another thread: finds the counter's root, then asks for the stop a
 * service manager's SIGTERM would. */
static void *stopper(void *arg)
{
    (void)arg;
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    grove_pid_t root;
    char buf[GROVE_PID_STR_MAX];
    if (grove_app_root("counter", &root) == 0 && grove_is_alive(root)) {
        printf("the counter's root supervisor is %s\n",
               grove_pid_format(root, buf, sizeof buf));
        atomic_store(&root_found, 1);
    }
    grove_app_stop();
    return NULL;
}

int main(void)
{
    static const grove_app_t apps[] = {
        {.name = "counter",
         .type = GROVE_APP_PERMANENT,
         .root = &counter_root,
         .prep_stop = counter_prep_stop,
         .stop = counter_stop},
        {.name = "flaky", .type = GROVE_APP_TEMPORARY, .root = &flaky_root},
    };
    grove_log_add_handler(on_event, NULL, GROVE_LOG_INFO, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, stopper, NULL) != 0)
        return 1;
    /* Starts the runtime and both applications, runs until the stop. */
    int status = grove_app_run(apps, 2, NULL);
    pthread_join(t, NULL);

    check(status == 0, "exit status 0 after grove_app_stop");
    check(atomic_load(&steps) == 2, "prep_stop, then the tree, then stop");
    check(final_count > 0, "the counter counted");
    check(atomic_load(&flaky_reported), "flaky's end was reported");
    check(atomic_load(&root_found), "grove_app_root found the root");
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
