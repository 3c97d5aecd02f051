/* session_supervisor.c: SessionSupervisor, a DynamicSupervisor of user
 * sessions.
 *
 * From "Supervisors" (DynamicSupervisor):
 *
 *     defmodule MyApp.SessionSupervisor do
 *       use DynamicSupervisor
 *       def start_link(init_arg), do: DynamicSupervisor.start_link(
 *                                       __MODULE__, init_arg,
 *                                       name: __MODULE__)
 *       def init(_init_arg), do: DynamicSupervisor.init(
 *                                  strategy: :one_for_one)
 *       def start_session(user_id) do
 *         spec = {MyApp.Session, user_id}
 *         DynamicSupervisor.start_child(__MODULE__, spec)
 *       end
 *       def stop_session(pid),
 *         do: DynamicSupervisor.terminate_child(__MODULE__, pid)
 *     end
 *
 *     iex> DynamicSupervisor.count_children(MyApp.SessionSupervisor)
 *     %{active: 2, specs: 2, supervisors: 0, workers: 2}
 *
 * Each Session is a gen_server holding its user id and a request count.
 * The program starts two sessions, checks the counts of the iex session,
 * crashes one (it is restarted for the same user, fresh, while the other
 * keeps its state), and stops one with stop_session.
 *
 * Run:  build/release/examples/session_supervisor
 * Exits 0 when every count and state matches.
 */
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

#define SESSION_SUPERVISOR "MyApp.SessionSupervisor"

/* ---- MyApp.Session ------------------------------------------------------ */

enum { TOUCH = 1, CRASH };

typedef struct session {
    char user_id[32];
    int requests;
} session_t;

static grove_gs_ret_t session_init(grove_gs_t *gs, void *arg)
{
    session_t *s = grove_calloc(1, sizeof *s);
    if (!s)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    snprintf(s->user_id, sizeof s->user_id, "%s", (const char *)arg);
    grove_gs_set_state(gs, s);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t session_call(grove_gs_t *gs, const grove_msg_t *req,
                                   grove_gs_from_t from)
{
    (void)from;
    session_t *s = grove_gs_state(gs);
    if (grove_msg_tag(req) == CRASH)
        grove_exit_error(1, "session %s: lost its connection", s->user_id);
    s->requests++;
    return GROVE_GS_REPLY(0, s, sizeof *s);
}

static const grove_gs_callbacks_t session_cb = {
    .name = "MyApp.Session",
    .init = session_init,
    .handle_call = session_call,
};

/* ---- MyApp.SessionSupervisor -------------------------------------------- */

static grove_server_t sessions(void)
{
    return grove_server_name(SESSION_SUPERVISOR);
}

/* start_session(user_id); user_id must outlive the session (restarts
 * start it again with the same argument). */
static int start_session(const char *user_id, grove_pid_t *pid)
{
    grove_child_spec_t spec = {.gen_server = &session_cb,
                               .arg = (void *)user_id};
    return grove_dynsup_start_child(sessions(), &spec, pid, NULL);
}

static int stop_session(grove_pid_t pid)
{
    return grove_dynsup_terminate_child(sessions(), pid);
}

static session_t touch(grove_pid_t pid)
{
    session_t s;
    memset(&s, 0, sizeof s);
    grove_msg_t *reply;
    if (grove_gs_try_call(grove_server_pid(pid), TOUCH, NULL, 0, &reply,
                          1000, NULL) == 0) {
        memcpy(&s, grove_msg_data(reply), sizeof s);
        grove_msg_free(reply);
    }
    return s;
}

static void print_counts(grove_child_counts_t c)
{
    printf("  count_children -> %%{active: %zu, specs: %zu, supervisors: "
           "%zu, workers: %zu}\n",
           c.active, c.specs, c.supervisors, c.workers);
}

static grove_child_counts_t counts(void)
{
    grove_child_counts_t c;
    memset(&c, 0, sizeof c);
    grove_dynsup_count_children(sessions(), &c);
    return c;
}

/* The pid the supervisor lists other than `other`. */
static grove_pid_t the_other_child(grove_pid_t other)
{
    grove_child_info_t ci[4];
    size_t n = 0;
    grove_dynsup_which_children(sessions(), ci, 4, &n);
    for (size_t i = 0; i < n && i < 4; i++)
        if (ci[i].pid.id && !grove_pid_equal(ci[i].pid, other))
            return ci[i].pid;
    return GROVE_PID_NONE;
}

/* The iex session: two sessions, and the counts it shows. */
static void two_sessions(grove_pid_t *s1, grove_pid_t *s2)
{
    char a[GROVE_PID_STR_MAX];
    int rc1 = start_session("user_1", s1);
    printf("  start_session(\"user_1\") -> {:ok, %s}\n",
           grove_pid_format(*s1, a, sizeof a));
    int rc2 = start_session("user_2", s2);
    printf("  start_session(\"user_2\") -> {:ok, %s}\n",
           grove_pid_format(*s2, a, sizeof a));
    CHECK(rc1 == 0 && rc2 == 0, "both sessions start");
    grove_child_counts_t c = counts();
    print_counts(c);
    CHECK(c.active == 2 && c.specs == 2 && c.supervisors == 0 &&
              c.workers == 2,
          "two active worker sessions");
}

/* user_2's session crashes: restarted fresh, user_1 keeps going. */
static void one_crashes(grove_pid_t s1, grove_pid_t s2)
{
    char a[GROVE_PID_STR_MAX];
    touch(s1);
    touch(s1);
    touch(s2);
    grove_gs_try_call(grove_server_pid(s2), CRASH, NULL, 0, NULL, 1000,
                      NULL);
    grove_pid_t s2b = GROVE_PID_NONE;
    for (int i = 0; i < 200 && grove_pid_is_none(s2b); i++) {
        s2b = the_other_child(s1);
        if (grove_pid_equal(s2b, s2))
            s2b = GROVE_PID_NONE;
        if (grove_pid_is_none(s2b))
            grove_sleep(5);
    }
    session_t st = touch(s2b);
    printf("  user_2 crashed; its new session %s has seen %d request(s)\n",
           grove_pid_format(s2b, a, sizeof a), st.requests);
    CHECK(strcmp(st.user_id, "user_2") == 0 && st.requests == 1,
          "user_2's session is restarted for the same user, fresh");
    st = touch(s1);
    CHECK(st.requests == 3, "user_1's session kept its state (%d)",
          st.requests);
}

static void one_stops(grove_pid_t s1)
{
    char a[GROVE_PID_STR_MAX];
    int rc = stop_session(s1);
    printf("  stop_session(%s) -> %s\n", grove_pid_format(s1, a, sizeof a),
           rc == 0 ? ":ok" : grove_errname(rc));
    CHECK(rc == 0 && !grove_is_alive(s1), "stop_session ends it");
    grove_child_counts_t c = counts();
    print_counts(c);
    CHECK(c.active == 1 && c.specs == 1, "one session left");
    CHECK(stop_session(s1) == GROVE_ENOTFOUND,
          "a stopped session is no longer a child");
}

static void main_process(void *arg)
{
    (void)arg;
    grove_dynsup_opts_t o = {.name = SESSION_SUPERVISOR};
    grove_pid_t sup;
    char a[GROVE_PID_STR_MAX];
    if (grove_dynsup_start(&o, &sup, NULL) != 0) {
        CHECK(0, "SessionSupervisor.start_link");
        return;
    }
    printf("  MyApp.SessionSupervisor.start_link(:ok) -> {:ok, %s}\n",
           grove_pid_format(sup, a, sizeof a));
    grove_pid_t s1 = GROVE_PID_NONE, s2 = GROVE_PID_NONE;
    two_sessions(&s1, &s2);
    one_crashes(s1, s2);
    one_stops(s1);
    grove_gs_stop(grove_server_pid(sup), NULL, 5000, NULL);
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
