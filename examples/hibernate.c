/* hibernate.c: idle processes that hold no stack.
 *
 * Shows: grove_hibernate, Erlang's hibernate/3 for a plain process. Ten
 * thousand sessions (a thousand under ThreadSanitizer) each keep a small state in their own arena
 * (grove_alloc) and hibernate between requests: while they wait, none of
 * them has a stack. Each request starts the session's function afresh on
 * a new stack, with the request still queued for it to receive; it
 * answers, updates its state and hibernates again. A "quit" request makes
 * the function return, which ends the session normally.
 *
 * Run:  build/release/examples/hibernate
 * Exits 0 when every session answered every request with the right count
 * and held no stack while it waited.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <grove.h>

/* ThreadSanitizer tracks every stack a process starts on as a thread of
 * its own, and stops at 8,128 of them: its build runs fewer sessions. */
#ifdef GROVE_TSAN
enum { SESSIONS = 1000 };
#else
enum { SESSIONS = 10000 };
#endif
enum { ROUNDS = 3 };
enum { TAG_HIT = 1, TAG_QUIT, TAG_COUNT };

typedef struct session {
    grove_pid_t owner; /* who gets the answers */
    uint64_t hits;
} session_t;

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* Runs once per request, on a fresh stack: takes the request that woke
 * it, answers, and hibernates again (or returns, on quit). */
static void serve(void *arg)
{
    session_t *s = arg;
    grove_msg_t *m;
    if (grove_recv(&m, 0) != 0)
        grove_exit_error(1, "woken without a request");
    bool quit = grove_msg_tag(m) == TAG_QUIT;
    grove_msg_free(m);
    if (quit)
        return; /* the session ends normally */
    s->hits++;
    grove_send(s->owner, TAG_COUNT, &s->hits, sizeof s->hits);
    grove_hibernate(serve, s);
}

static void session_start(void *arg)
{
    session_t *s = grove_alloc(sizeof *s); /* freed when the session ends */
    if (!s)
        grove_exit_error(2, "no memory for the session");
    s->owner = *(const grove_pid_t *)arg;
    s->hits = 0;
    grove_hibernate(serve, s);
}

static void count_stackless(grove_pid_t pid, void *arg)
{
    grove_process_info_t info;
    if (grove_process_info(pid, &info) == 0 &&
        info.status == GROVE_STATUS_WAITING && info.stack_size == 0)
        ++*(size_t *)arg;
}

static void main_process(void *arg)
{
    static grove_pid_t sessions[SESSIONS];
    grove_pid_t self = grove_self();
    (void)arg;

    printf("starting %d sessions\n", SESSIONS);
    for (int i = 0; i < SESSIONS; i++) {
        if (grove_spawn(session_start, &self, NULL, &sessions[i]) != 0) {
            check(false, "spawn a session");
            return;
        }
        if (i % 1000 == 999)
            grove_yield(); /* a long loop lets the others run */
    }
    for (int round = 1; round <= ROUNDS; round++) {
        /* Let them all settle into their wait, then count them. */
        size_t stackless = 0;
        for (int tries = 0; tries < 500 && stackless < SESSIONS; tries++) {
            grove_sleep(10);
            stackless = 0;
            grove_processes(count_stackless, &stackless);
        }
        char what[96];
        snprintf(what, sizeof what,
                 "round %d: all %d sessions wait with no stack (%zu)", round,
                 SESSIONS, stackless);
        check(stackless == SESSIONS, what);
        for (int i = 0; i < SESSIONS; i++) {
            grove_send(sessions[i], TAG_HIT, NULL, 0);
            if (i % 1000 == 999)
                grove_yield();
        }
        size_t right = 0;
        for (int i = 0; i < SESSIONS; i++) {
            grove_msg_t *m;
            if (grove_recv_tag(&m, TAG_COUNT, 10000) != 0)
                break;
            uint64_t hits;
            memcpy(&hits, grove_msg_data(m), sizeof hits);
            right += hits == (uint64_t)round;
            grove_msg_free(m);
        }
        snprintf(what, sizeof what,
                 "round %d: every session answered with count %d", round,
                 round);
        check(right == SESSIONS, what);
    }
    static grove_ref_t refs[SESSIONS];
    for (int i = 0; i < SESSIONS; i++) {
        grove_monitor(sessions[i], &refs[i]);
        grove_send(sessions[i], TAG_QUIT, NULL, 0);
        if (i % 1000 == 999)
            grove_yield();
    }
    size_t normal = 0;
    for (int i = 0; i < SESSIONS; i++) {
        grove_msg_t *m;
        if (grove_recv_ref(&m, refs[i], 10000) != 0)
            break;
        normal += grove_msg_reason(m)->kind == GROVE_EXIT_NORMAL;
        grove_msg_free(m);
    }
    check(normal == SESSIONS, "quit ends every session normally");
    grove_stats_t st;
    grove_stats(&st);
    check(st.arena_bytes_live == 0, "their arenas were freed with them");
}

int main(void)
{
    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
