/* backoff.c: restart backoff for a child that keeps crashing.
 *
 * OTP restarts a crashed child at once. When the cause is outside the
 * child (here, MyApp.Repo's database is down for a while), restarting at
 * once only burns through the restart intensity: "A supervisor that
 * restarts a process every 50ms because the process keeps hitting a bad
 * config value isn't fault tolerance -- it's a hot loop." Grove's child
 * spec can space the restarts out instead (grove_child_spec_t.backoff):
 *
 *     .backoff = {.initial_ms = 50, .max_ms = 400, .jitter_pct = 10,
 *                 .reset_after_ms = 600}
 *
 * The delay starts at 50 ms and doubles up to 400 ms, with +/- 10% of
 * noise so that many children do not retry in step. The Repo here fails
 * in its first 6 lives; the restarts come after 50, 100, 200, 400, 400
 * and 400 ms, and the 7th life connects. Once it has run 600 ms
 * (reset_after_ms), one more crash is restarted after 50 ms again. The
 * program watches which_children, whose restart_delay_ms shows the delay
 * in force.
 *
 * Run:  build/release/examples/backoff
 * Exits 0 when the restarts followed the backoff schedule.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- MyApp.Repo ------------------------------------------------------------
 * Connects 10 ms after it starts; while the database is down, that fails
 * and the Repo crashes. The times of each start and crash are kept for
 * the check at the end. */

#define BAD_LIVES 6
#define MAX_LIVES 16

static atomic_int lives;
static atomic_bool database_down = true;
static long long started_at[MAX_LIVES + 1], crashed_at[MAX_LIVES + 1];

enum { REPO_CRASH = 1 };

static grove_gs_ret_t repo_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    /* One Repo lives at a time: record the start, then publish it. */
    int life = atomic_load(&lives) + 1;
    if (life <= MAX_LIVES)
        started_at[life] = now_ms();
    atomic_store(&lives, life);
    grove_gs_set_state(gs, (void *)(intptr_t)life);
    if (life == BAD_LIVES + 1)
        atomic_store(&database_down, false);
    return grove_gs_with_timeout(GROVE_GS_INIT_OK(), 10);
}

static grove_gs_ret_t crash(grove_gs_t *gs, const char *why)
{
    int life = (int)(intptr_t)grove_gs_state(gs);
    if (life <= MAX_LIVES)
        crashed_at[life] = now_ms();
    return GROVE_GS_STOP(grove_reason_error(111, "%s", why));
}

/* The timeout: time to connect. */
static grove_gs_ret_t repo_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)m;
    if (atomic_load(&database_down))
        return crash(gs, "connection refused");
    return GROVE_GS_NOREPLY(); /* connected */
}

/* A later, one-off failure (the network blinked). */
static grove_gs_ret_t repo_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)m;
    return crash(gs, "connection reset");
}

static const grove_gs_callbacks_t repo = {
    .name = "MyApp.Repo",
    .init = repo_init,
    .handle_info = repo_info,
    .handle_cast = repo_cast,
};

static const grove_child_spec_t children[] = {{
    .id = "MyApp.Repo",
    .gen_server = &repo,
    .backoff = {.initial_ms = 50,
                .max_ms = 400,
                .jitter_pct = 10,
                .reset_after_ms = 600},
}};

/* Every restart still counts toward the intensity, when it happens: the
 * 7 restarts of this run need more than the default 3 in 5 s. */
static const grove_sup_spec_t sup_spec = {
    .name = "MyApp.Supervisor",
    .flags = {.strategy = GROVE_ONE_FOR_ONE,
              .max_restarts = 10,
              .max_seconds = 10},
    .children = children,
    .nchildren = 1,
};

/* ---- watching which_children --------------------------------------------- */

static grove_child_info_t repo_info_now(grove_pid_t sup)
{
    grove_child_info_t c;
    size_t n = 0;
    memset(&c, 0, sizeof c);
    grove_sup_which_children(grove_server_pid(sup), &c, 1, &n);
    return c;
}

/* Polls which_children until the Repo has started its life number
 * `life`, printing each delay announced meanwhile; returns the delay. */
static uint32_t follow_until(grove_pid_t sup, int life, long long t0)
{
    uint32_t delay = 0;
    bool shown = false;
    long long deadline = now_ms() + 3000;
    while (atomic_load(&lives) < life && now_ms() < deadline) {
        grove_child_info_t c = repo_info_now(sup);
        if (c.state == GROVE_CHILD_RESTARTING && !shown) {
            delay = c.restart_delay_ms;
            printf("%6lld ms  crashed; restart_delay_ms = %u\n",
                   now_ms() - t0, c.restart_delay_ms);
            shown = true;
        }
        grove_sleep(2);
    }
    grove_sleep(5); /* let the supervisor record the start */
    grove_child_info_t c = repo_info_now(sup);
    char p[GROVE_PID_STR_MAX];
    printf("%6lld ms  life %d started as %s (restarts %llu)\n",
           now_ms() - t0, life, grove_pid_format(c.pid, p, sizeof p),
           (unsigned long long)c.restarts);
    return delay;
}

/* The crash-to-start gap must be the delay, give or take the jitter. */
static void check_gap(int life, uint32_t delay)
{
    long long gap = started_at[life] - crashed_at[life - 1];
    long long lo = delay - delay / 10 - 2, hi = delay + delay / 10 + 100;
    printf("           gap %lld ms for a delay of %u ms +/- 10%%\n", gap,
           delay);
    CHECK(gap >= lo && gap <= hi, "life %d started %lld ms after the "
          "crash, want %lld..%lld", life, gap, lo, hi);
}

static void session(void *arg)
{
    (void)arg;
    static const uint32_t schedule[BAD_LIVES] = {50, 100, 200, 400, 400,
                                                 400};
    grove_pid_t sup;
    long long t0 = now_ms();
    if (grove_sup_start(&sup_spec, NULL, &sup, NULL) != 0) {
        CHECK(0, "supervisor start");
        return;
    }
    printf("%6d ms  life 1 started; the database is down\n", 0);
    for (int life = 2; life <= BAD_LIVES + 1; life++) {
        uint32_t d = follow_until(sup, life, t0);
        CHECK(d == schedule[life - 2], "restart_delay_ms %u, want %u", d,
              schedule[life - 2]);
        check_gap(life, schedule[life - 2]);
    }

    /* Connected. After reset_after_ms of good health, the delay starts
     * over from initial_ms. */
    grove_sleep(700);
    grove_child_info_t c = repo_info_now(sup);
    printf("%6lld ms  still up (pid unchanged, restarts %llu); "
           "the network blinks\n",
           now_ms() - t0, (unsigned long long)c.restarts);
    CHECK(c.state == GROVE_CHILD_RUNNING &&
              atomic_load(&lives) == BAD_LIVES + 1,
          "the Repo did not stay up once the database was back");
    grove_gs_cast(grove_server_pid(c.pid), REPO_CRASH, NULL, 0);
    uint32_t d = follow_until(sup, BAD_LIVES + 2, t0);
    CHECK(d == 50, "after a healthy run the delay is %u, want 50", d);
    check_gap(BAD_LIVES + 2, 50);

    grove_sup_stats_t st;
    grove_sup_stats(grove_server_pid(sup), &st);
    printf("supervisor restarts: %llu, %llu inside the %d s window (max "
           "%d)\n",
           (unsigned long long)st.restarts,
           (unsigned long long)st.in_window, st.max_seconds,
           st.max_restarts);
    CHECK(st.restarts == BAD_LIVES + 1, "%llu restarts",
          (unsigned long long)st.restarts);
    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    grove_gs_stop(grove_server_pid(sup), &shutdown, 5000, NULL);
}

int main(void)
{
    /* The crashes are the point: the program prints its own account. */
    grove_log_clear_handlers();
    grove_reason_t reason;
    int rc = grove_run(session, NULL, &reason);
    if (rc != 0 || reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
