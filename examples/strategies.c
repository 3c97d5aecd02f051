/* strategies.c: one_for_one, one_for_all and rest_for_one side by side.
 *
 * The Elixir lesson's three diagrams, run. Each supervisor has children
 * A, B and C, started in that order; one child crashes and the program
 * prints which pids changed:
 *
 *   one_for_one   only the failed child is restarted
 *   one_for_all   all children are terminated and restarted
 *   rest_for_one  the failed child and those started after it are;
 *                 those started before it are left alone
 *
 * The last row is the lesson's rest_for_one example, [Database, Cache,
 * WebServer]: "If Database crashes, restart it, Cache, and WebServer".
 *
 * Run:  build/release/examples/strategies
 * Exits 0 when each strategy restarted exactly the children it should.
 */
#include <stdio.h>
#include <string.h>

#include <grove.h>

static int failures;

/* A child that crashes when asked to. */
static grove_gs_ret_t child_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    (void)gs;
    (void)msg;
    return GROVE_GS_STOP(grove_reason_error(1, "crashed on purpose"));
}

static const grove_gs_callbacks_t child = {.name = "child",
                                           .handle_cast = child_cast};

static const grove_child_spec_t abc[] = {
    {.id = "A", .gen_server = &child},
    {.id = "B", .gen_server = &child},
    {.id = "C", .gen_server = &child},
};

typedef struct scenario {
    const char *name;
    int strategy;
    int crash;              /* index of the child that crashes */
    const char *restarted;  /* which should get new pids */
} scenario_t;

static const scenario_t scenarios[] = {
    {"one_for_one", GROVE_ONE_FOR_ONE, 1, "B"},
    {"one_for_all", GROVE_ONE_FOR_ALL, 1, "ABC"},
    {"rest_for_one", GROVE_REST_FOR_ONE, 1, "BC"},
    {"rest_for_one", GROVE_REST_FOR_ONE, 0, "ABC"},
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

/* The children's pids in start order (which_children lists newest
 * first). */
static void pids_of(grove_pid_t sup, grove_pid_t out[3])
{
    grove_child_info_t kids[3];
    size_t n = 0;
    memset(out, 0, 3 * sizeof *out);
    if (grove_sup_which_children(grove_server_pid(sup), kids, 3, &n) == 0)
        for (size_t i = 0; i < n && i < 3; i++)
            out[2 - i] = kids[i].pid;
}

static void session(void *arg)
{
    (void)arg;
    grove_pid_t sups[N_SCENARIOS], before[N_SCENARIOS][3];

    /* Start every supervisor, then crash one child in each. */
    for (size_t s = 0; s < N_SCENARIOS; s++) {
        grove_sup_spec_t spec = {.name = scenarios[s].name,
                                 .flags = {.strategy = scenarios[s].strategy},
                                 .children = abc,
                                 .nchildren = 3};
        if (grove_sup_start(&spec, NULL, &sups[s], NULL) != 0) {
            printf("cannot start %s\n", scenarios[s].name);
            failures++;
            return;
        }
        pids_of(sups[s], before[s]);
    }
    for (size_t s = 0; s < N_SCENARIOS; s++)
        grove_gs_cast(grove_server_pid(before[s][scenarios[s].crash]), 0,
                      NULL, 0);

    printf("%-13s %-7s %-21s %-21s %s\n", "strategy", "crashes", "A", "B",
           "C");
    for (size_t s = 0; s < N_SCENARIOS; s++) {
        const scenario_t *sc = &scenarios[s];
        /* A restart is done in one step of the supervisor: once the
         * crashed child has a new pid, every restart it causes is over. */
        grove_pid_t after[3];
        for (int i = 0; i < 400; i++) {
            pids_of(sups[s], after);
            if (!grove_pid_is_none(after[sc->crash]) &&
                !grove_pid_equal(after[sc->crash], before[s][sc->crash]))
                break;
            grove_sleep(5);
        }
        printf("%-13s %-7c", sc->name, "ABC"[sc->crash]);
        for (int k = 0; k < 3; k++) {
            char a[GROVE_PID_STR_MAX], b[GROVE_PID_STR_MAX];
            char cell[2 * GROVE_PID_STR_MAX + 8];
            bool changed = !grove_pid_equal(before[s][k], after[k]);
            grove_pid_format(before[s][k], a, sizeof a);
            grove_pid_format(after[k], b, sizeof b);
            if (changed)
                snprintf(cell, sizeof cell, "%s -> %s", a, b);
            else
                snprintf(cell, sizeof cell, "%s", a);
            printf(k < 2 ? " %-21s" : " %s", cell);
            bool expected = strchr(sc->restarted, "ABC"[k]) != NULL;
            if (changed != expected) {
                printf("\n  FAILED: %c %s\n", "ABC"[k],
                       changed ? "was restarted" : "was not restarted");
                failures++;
            }
        }
        printf("\n");
        grove_reason_t shutdown = grove_reason_shutdown(NULL);
        grove_gs_stop(grove_server_pid(sups[s]), &shutdown, 5000, NULL);
    }
}

int main(void)
{
    /* The crashes are on purpose: keep the reports about them quiet. */
    grove_log_clear_handlers();
    grove_reason_t reason;
    int rc = grove_run(session, NULL, &reason);
    if (rc != 0 || reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
