/* football_match_tracker.c: one transient tracker per match.
 *
 * From "Supervisors: Building fault-tolerant Elixir applications":
 *
 *     def handle_cast({:event, event}, state) do
 *       new_state = case event do
 *         "home_goal" -> %{state | home_score: state[:home_score] + 1}
 *         "away_goal" -> %{state | away_score: state[:away_score] + 1}
 *         "end" -> Supervisor.terminate_child(:football_match_supervisor,
 *                                             self())
 *       end
 *       {:noreply, new_state}
 *     end
 *
 *     children = [worker(FootballMatchTracker, [], restart: :transient)]
 *     supervise(children, strategy: :simple_one_for_one)
 *
 * A match starts a FootballMatchTracker named after the match; events
 * update the score. An unknown event ("goal") crashes the tracker (the
 * case clause fails), and because it is transient the supervisor starts
 * it again from 0-0. On "end" the tracker stops normally, which a
 * transient child is not restarted after: it is gone for good. (Where the
 * article asks the supervisor to terminate the caller itself, stopping
 * with reason normal says the same thing without a call back into the
 * supervisor.) The simple_one_for_one supervisor is a DynamicSupervisor.
 *
 * Run:  build/release/examples/football_match_tracker
 * Exits 0 when the scores, the restart and the end behaved as described.
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

#define SUPERVISOR "football_match_supervisor"

enum { GET_SCORE = 1, EVENT };

typedef struct score {
    int home_score, away_score;
} score_t;

/* init(:ok): {:ok, %{home_score: 0, away_score: 0}} */
static grove_gs_ret_t tracker_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    score_t *s = grove_calloc(1, sizeof *s);
    if (!s)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, s);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t tracker_call(grove_gs_t *gs, const grove_msg_t *req,
                                   grove_gs_from_t from)
{
    (void)req;
    (void)from;
    return GROVE_GS_REPLY(0, grove_gs_state(gs), sizeof(score_t));
}

static bool is_event(const grove_msg_t *m, const char *name)
{
    return grove_msg_size(m) == strlen(name) &&
           memcmp(grove_msg_data(m), name, strlen(name)) == 0;
}

static grove_gs_ret_t tracker_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    score_t *s = grove_gs_state(gs);
    if (is_event(msg, "home_goal"))
        s->home_score++;
    else if (is_event(msg, "away_goal"))
        s->away_score++;
    else if (is_event(msg, "end"))
        return GROVE_GS_STOP(grove_reason_normal());
    else /* ** (CaseClauseError) no case clause matching: "goal" */
        grove_exit_error(1, "case_clause: %.*s", (int)grove_msg_size(msg),
                         (const char *)grove_msg_data(msg));
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t tracker = {
    .name = "FootballMatchTracker",
    .init = tracker_init,
    .handle_call = tracker_call,
    .handle_cast = tracker_cast,
};

/* FootballMatchTracker.start_link([match_id: match_id]) */
static int tracker_start_link(void *arg, grove_pid_t *pid,
                              grove_reason_t *why)
{
    grove_gs_opts_t o = {.link = true, .name = arg};
    return grove_gs_start(&tracker, NULL, &o, pid, why);
}

static void new_event(const char *match_id, const char *event)
{
    grove_gs_cast(grove_server_name(match_id), EVENT, event, strlen(event));
}

static score_t get_score(const char *match_id)
{
    score_t s = {-1, -1};
    grove_msg_t *reply;
    if (grove_gs_try_call(grove_server_name(match_id), GET_SCORE, NULL, 0,
                          &reply, 1000, NULL) == 0) {
        memcpy(&s, grove_msg_data(reply), sizeof s);
        grove_msg_free(reply);
    }
    return s;
}

static void show(const char *what, score_t s)
{
    printf("  %-46s -> %%{away_score: %d, home_score: %d}\n", what,
           s.away_score, s.home_score);
}

/* Waits until the name is held by a pid other than old (NONE: any). */
static grove_pid_t await_name(const char *name, grove_pid_t old)
{
    for (int i = 0; i < 400; i++) {
        grove_pid_t p;
        if (grove_whereis(name, &p) == 0 && !grove_pid_equal(p, old))
            return p;
        grove_sleep(5);
    }
    return GROVE_PID_NONE;
}

/* Starts match_123 and scores a goal; returns the tracker's pid. */
static grove_pid_t kick_off(void)
{
    char a[GROVE_PID_STR_MAX];
    grove_child_spec_t spec = {.start = tracker_start_link,
                               .arg = "match_123",
                               .restart = GROVE_TRANSIENT};
    grove_pid_t pid = GROVE_PID_NONE;
    int rc = grove_dynsup_start_child(grove_server_name(SUPERVISOR), &spec,
                                      &pid, NULL);
    printf("  %-46s -> %s %s\n", "start_child([[match_id: :match_123]])",
           grove_errname(rc), grove_pid_format(pid, a, sizeof a));
    CHECK(rc == 0, "start_child: %s", grove_errname(rc));

    score_t s = get_score("match_123");
    show("get_score(:match_123)", s);
    CHECK(s.home_score == 0 && s.away_score == 0, "a new match is 0-0");
    new_event("match_123", "home_goal");
    s = get_score("match_123");
    show("new_event(\"home_goal\"); get_score", s);
    CHECK(s.home_score == 1 && s.away_score == 0, "home leads 1-0");
    return pid;
}

/* An event nobody handles: the tracker crashes and is restarted from
 * zero. Returns the new pid. */
static grove_pid_t bad_event(grove_pid_t pid)
{
    char a[GROVE_PID_STR_MAX], b[GROVE_PID_STR_MAX];
    new_event("match_123", "goal");
    grove_pid_t again = await_name("match_123", pid);
    score_t s = get_score("match_123");
    printf("  %-46s -> restarted as %s (was %s)\n", "new_event(\"goal\")",
           grove_pid_format(again, a, sizeof a),
           grove_pid_format(pid, b, sizeof b));
    show("get_score(:match_123)", s);
    CHECK(!grove_pid_is_none(again), "the crashed tracker was restarted");
    CHECK(s.home_score == 0 && s.away_score == 0,
          "the restarted tracker starts from zero");
    return again;
}

/* "end": a normal stop, after which a transient child stays down. */
static void final_whistle(grove_pid_t pid)
{
    grove_ref_t mref;
    grove_monitor(pid, &mref);
    new_event("match_123", "end");
    grove_msg_t *m;
    if (grove_recv_ref(&m, mref, 2000) == 0) {
        CHECK(grove_msg_reason(m)->kind == GROVE_EXIT_NORMAL,
              "the match ended normally");
        grove_msg_free(m);
    }
    grove_sleep(50); /* time for a restart, were one coming */
    grove_pid_t none;
    int rc = grove_whereis("match_123", &none);
    printf("  %-46s -> %s\n", "new_event(\"end\"); whereis(:match_123)",
           rc == 0 ? "a pid" : "nil");
    CHECK(rc == GROVE_ENOTFOUND, "an ended match is not restarted");
    grove_child_counts_t c;
    grove_dynsup_count_children(grove_server_name(SUPERVISOR), &c);
    CHECK(c.specs == 0, "the supervisor has no children left");
    grove_sup_stats_t st;
    grove_dynsup_stats(grove_server_name(SUPERVISOR), &st);
    printf("  %-46s -> %llu\n", "restarts (DynamicSupervisor stats)",
           (unsigned long long)st.restarts);
    CHECK(st.restarts == 1, "one restart: the bad event, not the end");
}

static void main_process(void *arg)
{
    (void)arg;
    grove_dynsup_opts_t o = {.name = SUPERVISOR};
    grove_pid_t sup;
    if (grove_dynsup_start(&o, &sup, NULL) != 0) {
        CHECK(0, "FootballMatchSupervisor.start_link");
        return;
    }
    printf("FootballMatchSupervisor.start_link() -> {:ok, sup}\n");
    final_whistle(bad_event(kick_off()));
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
