/* game_manager.c: GameManager, games started on demand under a
 * DynamicSupervisor and found by id through a Registry.
 *
 * From "OTP Supervision" (DynamicSupervisor with Registry):
 *
 *     def start_game(game_id, opts \\ []) do
 *       spec = {MyApp.GameServer, Keyword.put(opts, :game_id, game_id)}
 *       DynamicSupervisor.start_child(MyApp.GameSupervisor, spec)
 *     end
 *     def stop_game(game_id) do
 *       case Registry.lookup(MyApp.GameRegistry, game_id) do
 *         [{pid, _}] -> DynamicSupervisor.terminate_child(
 *                         MyApp.GameSupervisor, pid)
 *         [] -> {:error, :not_found}
 *       end
 *     end
 *     def list_games do
 *       DynamicSupervisor.which_children(MyApp.GameSupervisor)
 *       |> Enum.map(fn {_, pid, _, _} -> pid end)
 *     end
 *
 * and GameServer.start_link(opts), which names each game
 * {:via, Registry, {MyApp.GameRegistry, game_id}}: game ids are strings
 * from users, never atoms (or, in C, global names).
 *
 * The application supervisor starts the GameSupervisor; the registry is a
 * shared table made before it. The program starts three games, plays one
 * by its via name, refuses a duplicate, stops one, crashes another (it
 * is restarted under the same name) and checks every step.
 *
 * Run:  build/release/examples/game_manager
 * Exits 0 when every step behaved as described.
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

static grove_registry_t *game_registry; /* MyApp.GameRegistry */
#define GAME_SUPERVISOR "game_supervisor" /* MyApp.GameSupervisor */

/* ---- GameServer --------------------------------------------------------- */

enum { GAME_JOIN = 1, GAME_INFO, GAME_CRASH };

#define ID_MAX 32

typedef struct game {
    char game_id[ID_MAX];
    int players;
    char state[16]; /* :waiting, :playing */
} game_t;

/* init(opts): {:ok, %{game_id: id, players: [], state: :waiting}} */
static grove_gs_ret_t game_init(grove_gs_t *gs, void *arg)
{
    game_t *g = grove_calloc(1, sizeof *g);
    if (!g)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    snprintf(g->game_id, sizeof g->game_id, "%s", (const char *)arg);
    snprintf(g->state, sizeof g->state, "waiting");
    grove_gs_set_state(gs, g);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t game_call(grove_gs_t *gs, const grove_msg_t *req,
                                grove_gs_from_t from)
{
    (void)from;
    game_t *g = grove_gs_state(gs);
    switch (grove_msg_tag(req)) {
    case GAME_JOIN:
        if (++g->players >= 2)
            snprintf(g->state, sizeof g->state, "playing");
        return GROVE_GS_REPLY(0, g, sizeof *g);
    case GAME_INFO:
        return GROVE_GS_REPLY(0, g, sizeof *g);
    default:
        grove_exit_error(1, "game %s: bad move", g->game_id);
    }
}

static const grove_gs_callbacks_t game_server = {
    .name = "GameServer",
    .init = game_init,
    .handle_call = game_call,
};

/* GameServer.start_link(game_id): the child's start function. Its
 * argument is the game id, kept by the supervisor for restarts: each
 * game's id lives in a table slot below for the program's life. */
static int game_start_link(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    const char *game_id = arg;
    grove_gs_opts_t o = {.link = true,
                         .via = grove_registry_via(game_registry),
                         .via_key = game_id,
                         .via_key_len = strlen(game_id)};
    return grove_gs_start(&game_server, arg, &o, pid, why);
}

/* {:via, Registry, {MyApp.GameRegistry, game_id}} */
static grove_server_t via(const char *game_id)
{
    return grove_server_via(grove_registry_via(game_registry), game_id,
                            strlen(game_id));
}

/* ---- GameManager -------------------------------------------------------- */

static char game_ids[8][ID_MAX];
static int ngames;

static const char *keep_id(const char *game_id)
{
    for (int i = 0; i < ngames; i++)
        if (strcmp(game_ids[i], game_id) == 0)
            return game_ids[i];
    if (ngames == 8)
        return NULL;
    snprintf(game_ids[ngames], ID_MAX, "%s", game_id);
    return game_ids[ngames++];
}

static int start_game(const char *game_id, grove_pid_t *pid)
{
    const char *id = keep_id(game_id);
    if (!id)
        return GROVE_ENOMEM;
    grove_child_spec_t spec = {.start = game_start_link, .arg = (void *)id};
    return grove_dynsup_start_child(grove_server_name(GAME_SUPERVISOR),
                                    &spec, pid, NULL);
}

static int stop_game(const char *game_id)
{
    grove_pid_t pid;
    if (grove_registry_whereis(game_registry, game_id, strlen(game_id),
                               &pid) != 0)
        return GROVE_ENOTFOUND; /* {:error, :not_found} */
    return grove_dynsup_terminate_child(grove_server_name(GAME_SUPERVISOR),
                                        pid);
}

static size_t list_games(grove_pid_t *out, size_t max)
{
    grove_child_info_t ci[16];
    size_t n = 0;
    grove_dynsup_which_children(grove_server_name(GAME_SUPERVISOR), ci, 16,
                                &n);
    size_t k = 0;
    for (size_t i = 0; i < n && i < 16 && k < max; i++)
        out[k++] = ci[i].pid;
    return k;
}

static game_t game_info(const char *game_id, uint64_t what)
{
    game_t g;
    memset(&g, 0, sizeof g);
    grove_msg_t *reply;
    if (grove_gs_call(via(game_id), what, NULL, 0, &reply, 1000) == 0) {
        memcpy(&g, grove_msg_data(reply), sizeof g);
        grove_msg_free(reply);
    }
    return g;
}

/* ---- the application ---------------------------------------------------- */

static int game_sup_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_dynsup_opts_t o = {.link = true, .name = GAME_SUPERVISOR};
    return grove_dynsup_start(&o, pid, why);
}

static const grove_child_spec_t app_children[] = {
    {.id = "GameSupervisor", .start = game_sup_start,
     .type = GROVE_SUPERVISOR},
};

static const grove_sup_spec_t app = {
    .name = "MyApp.Supervisor",
    .flags = {.strategy = GROVE_ONE_FOR_ONE},
    .children = app_children,
    .nchildren = 1,
};

static void start_three(void)
{
    char a[GROVE_PID_STR_MAX];
    grove_pid_t pid, games[8];
    const char *ids[] = {"chess-1", "go-7", "poker-3"};
    for (int i = 0; i < 3; i++) {
        int rc = start_game(ids[i], &pid);
        printf("start_game(\"%s\") -> %s %s\n", ids[i], grove_errname(rc),
               grove_pid_format(pid, a, sizeof a));
        CHECK(rc == 0, "start_game(%s): %s", ids[i], grove_errname(rc));
    }
    CHECK(list_games(games, 8) == 3, "list_games should show 3 games");

    int rc = start_game("go-7", &pid);
    printf("start_game(\"go-7\") again -> %s\n", grove_errname(rc));
    CHECK(rc == GROVE_EALREADYSTARTED, "a duplicate game id is refused");

    game_info("chess-1", GAME_JOIN);
    game_t g = game_info("chess-1", GAME_JOIN);
    printf("two players joined chess-1 -> players %d, state %s\n",
           g.players, g.state);
    CHECK(g.players == 2 && strcmp(g.state, "playing") == 0,
          "chess-1 should be playing with 2 players");
}

static void stop_one(void)
{
    grove_pid_t pid, games[8];
    int rc = stop_game("go-7");
    printf("stop_game(\"go-7\") -> %s\n", grove_errname(rc));
    CHECK(rc == 0, "stop_game(go-7)");
    CHECK(list_games(games, 8) == 2, "two games left");
    CHECK(grove_registry_whereis(game_registry, "go-7", 4, &pid) ==
              GROVE_ENOTFOUND,
          "go-7 is no longer registered");
    rc = stop_game("tetris-0");
    printf("stop_game(\"tetris-0\") -> %s\n", grove_errname(rc));
    CHECK(rc == GROVE_ENOTFOUND, "an unknown game is not found");
}

/* A bad move crashes poker-3; the supervisor starts it again under the
 * same via name, fresh, and the other game does not notice. */
static void crash_one(void)
{
    char a[GROVE_PID_STR_MAX];
    grove_pid_t old, fresh = GROVE_PID_NONE, games[8];
    grove_registry_whereis(game_registry, "poker-3", 7, &old);
    grove_reason_t why;
    grove_gs_try_call(via("poker-3"), GAME_CRASH, NULL, 0, NULL, 1000, &why);
    for (int i = 0; i < 200; i++) {
        if (grove_registry_whereis(game_registry, "poker-3", 7, &fresh) ==
                0 &&
            !grove_pid_equal(fresh, old))
            break;
        grove_sleep(5);
    }
    game_t g = game_info("poker-3", GAME_INFO);
    printf("poker-3 crashed and came back as %s: players %d, state %s\n",
           grove_pid_format(fresh, a, sizeof a), g.players, g.state);
    CHECK(!grove_pid_equal(fresh, old) && g.players == 0 &&
              strcmp(g.state, "waiting") == 0,
          "poker-3 should be restarted fresh");
    g = game_info("chess-1", GAME_INFO);
    CHECK(g.players == 2, "chess-1 is untouched by poker-3's crash");
    CHECK(list_games(games, 8) == 2, "still two games");
}

static void main_process(void *arg)
{
    (void)arg;
    grove_pid_t sup;
    grove_reason_t why;
    if (grove_sup_start(&app, NULL, &sup, &why) != 0) {
        CHECK(0, "application start");
        return;
    }
    start_three();
    stop_one();
    crash_one();
    grove_gs_stop(grove_server_pid(sup), NULL, 5000, NULL);
}

int main(void)
{
    if (grove_start(NULL) != 0)
        return 1;
    grove_registry_opts_t ro = {.keys = GROVE_REG_UNIQUE};
    if (grove_registry_new(&ro, &game_registry) != 0)
        return 1;
    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    grove_registry_free(game_registry);
    grove_stop();
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
