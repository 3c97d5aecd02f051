/* chat_rooms.c: ChatApp, the supervision-tree exercise of "Supervisors".
 *
 *     ChatApp.Supervisor (one_for_one)
 *     |-- ChatApp.Logger          a gen_server that logs events
 *     `-- ChatApp.RoomSupervisor  a DynamicSupervisor of rooms
 *         |-- Room "elixir"       a gen_server per room, registered
 *         |-- Room "erlang"       by name in ChatApp.RoomRegistry
 *         `-- ...
 *
 *     children = [
 *       ChatApp.Logger,
 *       {DynamicSupervisor, name: ChatApp.RoomSupervisor,
 *                           strategy: :one_for_one}
 *     ]
 *     Supervisor.init(children, strategy: :one_for_one)
 *
 * Rooms support join, leave and send_message, and tell the Logger about
 * each. The requirements: rooms are created at run time; if a room
 * crashes only that room restarts; if the logger crashes it restarts
 * independently. The program checks both: after a room crashes, every
 * other room has the same pid, members and messages, and the logger the
 * same pid and its running count; after the logger crashes, every room is
 * untouched.
 *
 * Run:  build/release/examples/chat_rooms
 * Exits 0 when the crashes stayed inside their own process.
 */
#include <stdarg.h>
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

#define LOGGER "ChatApp.Logger"
#define ROOM_SUPERVISOR "ChatApp.RoomSupervisor"
#define NAME_MAX_ 16
#define TEXT_MAX 64
#define MEMBERS_MAX 8

static grove_registry_t *rooms; /* ChatApp.RoomRegistry */

/* ---- ChatApp.Logger ----------------------------------------------------- */

enum { LOG_EVENT = 1, LOG_COUNT, LOG_CRASH };

static grove_gs_ret_t logger_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    long *count = grove_calloc(1, sizeof *count);
    if (!count)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, count);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t logger_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    long *count = grove_gs_state(gs);
    ++*count;
    printf("    [log %ld] %.*s\n", *count, (int)grove_msg_size(m),
           (const char *)grove_msg_data(m));
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t logger_call(grove_gs_t *gs, const grove_msg_t *req,
                                  grove_gs_from_t from)
{
    (void)from;
    if (grove_msg_tag(req) == LOG_CRASH)
        grove_exit_error(2, "logger: disk full");
    long *count = grove_gs_state(gs);
    return GROVE_GS_REPLY(0, count, sizeof *count);
}

static const grove_gs_callbacks_t logger_cb = {
    .name = "ChatApp.Logger",
    .init = logger_init,
    .handle_call = logger_call,
    .handle_cast = logger_cast,
};

static const grove_gs_opts_t logger_opts = {.name = LOGGER};

static void log_event(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void log_event(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        grove_gs_cast(grove_server_name(LOGGER), LOG_EVENT, line,
                      (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static long logged(void)
{
    long n = -1;
    grove_msg_t *reply;
    if (grove_gs_try_call(grove_server_name(LOGGER), LOG_COUNT, NULL, 0,
                          &reply, 1000, NULL) == 0) {
        memcpy(&n, grove_msg_data(reply), sizeof n);
        grove_msg_free(reply);
    }
    return n;
}

/* ---- ChatApp.Room ------------------------------------------------------- */

enum { ROOM_JOIN = 1, ROOM_LEAVE, ROOM_SEND, ROOM_INFO, ROOM_CRASH };

typedef struct room {
    char name[NAME_MAX_];
    char members[MEMBERS_MAX][NAME_MAX_];
    int nmembers;
    int messages;
    char last[TEXT_MAX];
} room_t;

typedef struct room_req {
    char user[NAME_MAX_];
    char text[TEXT_MAX];
} room_req_t;

static grove_gs_ret_t room_init(grove_gs_t *gs, void *arg)
{
    room_t *r = grove_calloc(1, sizeof *r);
    if (!r)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    snprintf(r->name, sizeof r->name, "%s", (const char *)arg);
    grove_gs_set_state(gs, r);
    log_event("room %s opened", r->name);
    return GROVE_GS_INIT_OK();
}

static int find_member(const room_t *r, const char *user)
{
    for (int i = 0; i < r->nmembers; i++)
        if (strcmp(r->members[i], user) == 0)
            return i;
    return -1;
}

static void join(room_t *r, const char *user)
{
    if (find_member(r, user) >= 0 || r->nmembers == MEMBERS_MAX)
        return;
    snprintf(r->members[r->nmembers++], NAME_MAX_, "%s", user);
    log_event("%s joined %s", user, r->name);
}

static void leave(room_t *r, const char *user)
{
    int i = find_member(r, user);
    if (i < 0)
        return;
    memmove(r->members[i], r->members[i + 1],
            (size_t)(r->nmembers - i - 1) * NAME_MAX_);
    r->nmembers--;
    log_event("%s left %s", user, r->name);
}

static void say(room_t *r, const char *user, const char *text)
{
    if (find_member(r, user) < 0)
        return; /* only members speak */
    r->messages++;
    snprintf(r->last, sizeof r->last, "%s", text);
    log_event("%s in %s: %s", user, r->name, text);
}

static grove_gs_ret_t room_call(grove_gs_t *gs, const grove_msg_t *m,
                                grove_gs_from_t from)
{
    (void)from;
    room_t *r = grove_gs_state(gs);
    room_req_t q;
    memset(&q, 0, sizeof q);
    if (grove_msg_size(m) == sizeof q)
        memcpy(&q, grove_msg_data(m), sizeof q);
    switch (grove_msg_tag(m)) {
    case ROOM_JOIN:
        join(r, q.user);
        break;
    case ROOM_LEAVE:
        leave(r, q.user);
        break;
    case ROOM_SEND:
        say(r, q.user, q.text);
        break;
    case ROOM_CRASH:
        grove_exit_error(3, "room %s: corrupt message", r->name);
    default:
        break;
    }
    return GROVE_GS_REPLY(0, r, sizeof *r);
}

static const grove_gs_callbacks_t room_cb = {
    .name = "ChatApp.Room",
    .init = room_init,
    .handle_call = room_call,
};

/* Room.start_link(name): registered in the RoomRegistry. */
static int room_start_link(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    const char *name = arg;
    grove_gs_opts_t o = {.link = true, .via = grove_registry_via(rooms),
                         .via_key = name, .via_key_len = strlen(name)};
    return grove_gs_start(&room_cb, arg, &o, pid, why);
}

static grove_server_t room(const char *name)
{
    return grove_server_via(grove_registry_via(rooms), name, strlen(name));
}

/* name must outlive the room: its restarts use it again. */
static int create_room(const char *name)
{
    grove_child_spec_t spec = {.start = room_start_link, .arg = (void *)name};
    return grove_dynsup_start_child(grove_server_name(ROOM_SUPERVISOR),
                                    &spec, NULL, NULL);
}

static room_t room_request(const char *name, uint64_t op, const char *user,
                           const char *text)
{
    room_req_t q;
    room_t r;
    memset(&q, 0, sizeof q);
    memset(&r, 0, sizeof r);
    snprintf(q.user, sizeof q.user, "%s", user ? user : "");
    snprintf(q.text, sizeof q.text, "%s", text ? text : "");
    grove_msg_t *reply;
    if (grove_gs_try_call(room(name), op, &q, sizeof q, &reply, 1000,
                          NULL) == 0) {
        memcpy(&r, grove_msg_data(reply), sizeof r);
        grove_msg_free(reply);
    }
    return r;
}

static grove_pid_t room_pid(const char *name)
{
    grove_pid_t pid = GROVE_PID_NONE;
    grove_registry_whereis(rooms, name, strlen(name), &pid);
    return pid;
}

/* ---- ChatApp.Supervisor ------------------------------------------------- */

static int room_sup_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_dynsup_opts_t o = {.link = true, .name = ROOM_SUPERVISOR};
    return grove_dynsup_start(&o, pid, why);
}

static const grove_child_spec_t chat_children[] = {
    {.id = "ChatApp.Logger", .gen_server = &logger_cb,
     .gs_opts = &logger_opts},
    {.id = "ChatApp.RoomSupervisor", .start = room_sup_start,
     .type = GROVE_SUPERVISOR},
};

static const grove_sup_spec_t chat_app = {
    .name = "ChatApp.Supervisor",
    .flags = {.strategy = GROVE_ONE_FOR_ONE},
    .children = chat_children,
    .nchildren = 2,
};

/* ---- the run ------------------------------------------------------------ */

static const char *const room_names[] = {"elixir", "erlang", "c"};
#define NROOMS 3

typedef struct snapshot {
    grove_pid_t pid[NROOMS];
    room_t state[NROOMS];
    grove_pid_t logger;
} snapshot_t;

static snapshot_t snap(void)
{
    snapshot_t s;
    for (int i = 0; i < NROOMS; i++) {
        s.pid[i] = room_pid(room_names[i]);
        s.state[i] = room_request(room_names[i], ROOM_INFO, NULL, NULL);
    }
    grove_whereis(LOGGER, &s.logger);
    return s;
}

static bool same_room(const room_t *a, const room_t *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static grove_pid_t await_room(const char *name, grove_pid_t old)
{
    for (int i = 0; i < 400; i++) {
        grove_pid_t p = room_pid(name);
        if (!grove_pid_is_none(p) && !grove_pid_equal(p, old))
            return p;
        grove_sleep(5);
    }
    return GROVE_PID_NONE;
}

static void open_rooms(void)
{
    for (int i = 0; i < NROOMS; i++)
        CHECK(create_room(room_names[i]) == 0, "create_room(%s)",
              room_names[i]);
    room_request("elixir", ROOM_JOIN, "alice", NULL);
    room_request("elixir", ROOM_JOIN, "bob", NULL);
    room_request("erlang", ROOM_JOIN, "carol", NULL);
    room_request("c", ROOM_JOIN, "dave", NULL);
    room_request("elixir", ROOM_SEND, "alice", "supervisors are neat");
    room_request("erlang", ROOM_SEND, "carol", "let it crash");
    room_request("c", ROOM_SEND, "dave", "segfaults too?");
    room_t r = room_request("elixir", ROOM_LEAVE, "bob", NULL);
    CHECK(r.nmembers == 1 && r.messages == 1, "elixir: alice, one message");
}

/* Room "elixir" crashes: it alone restarts, empty. */
static void room_crashes(void)
{
    printf("  room \"elixir\" crashes\n");
    snapshot_t before = snap();
    long count = logged();
    grove_gs_try_call(room("elixir"), ROOM_CRASH, NULL, 0, NULL, 1000, NULL);
    grove_pid_t fresh = await_room("elixir", before.pid[0]);
    CHECK(!grove_pid_is_none(fresh), "elixir was restarted");
    snapshot_t after = snap();
    CHECK(after.state[0].nmembers == 0 && after.state[0].messages == 0,
          "the restarted room starts empty");
    for (int i = 1; i < NROOMS; i++) {
        CHECK(grove_pid_equal(before.pid[i], after.pid[i]) &&
                  same_room(&before.state[i], &after.state[i]),
              "room %s is untouched", room_names[i]);
    }
    CHECK(grove_pid_equal(before.logger, after.logger),
          "the logger is untouched");
    /* Only the restarted room's "opened" line went to the logger since. */
    CHECK(logged() == count + 1, "the logger kept counting (%ld -> %ld)",
          count, logged());
    room_request("elixir", ROOM_JOIN, "alice", NULL);
    room_t r = room_request("elixir", ROOM_SEND, "alice", "back again");
    CHECK(r.messages == 1, "the new elixir room works");
}

/* The logger crashes: it restarts on its own, the rooms do not notice. */
static void logger_crashes(void)
{
    printf("  the logger crashes\n");
    snapshot_t before = snap();
    grove_gs_try_call(grove_server_name(LOGGER), LOG_CRASH, NULL, 0, NULL,
                      1000, NULL);
    grove_pid_t lg = GROVE_PID_NONE;
    for (int i = 0; i < 400; i++) {
        if (grove_whereis(LOGGER, &lg) == 0 &&
            !grove_pid_equal(lg, before.logger))
            break;
        grove_sleep(5);
    }
    snapshot_t after = snap();
    CHECK(!grove_pid_equal(after.logger, before.logger) && logged() == 0,
          "the logger restarted on its own, fresh");
    for (int i = 0; i < NROOMS; i++)
        CHECK(grove_pid_equal(before.pid[i], after.pid[i]) &&
                  same_room(&before.state[i], &after.state[i]),
              "room %s is untouched by the logger's crash", room_names[i]);
    room_request("c", ROOM_SEND, "dave", "still here");
    CHECK(logged() == 1, "rooms log to the new logger");
}

static void main_process(void *arg)
{
    (void)arg;
    grove_pid_t sup;
    grove_sup_opts_t o = {.name = "ChatApp.Supervisor"};
    grove_reason_t why;
    if (grove_sup_start(&chat_app, &o, &sup, &why) != 0) {
        CHECK(0, "ChatApp.Supervisor.start_link");
        return;
    }
    open_rooms();
    room_crashes();
    logger_crashes();
    grove_gs_stop(grove_server_pid(sup), NULL, 5000, NULL);
}

int main(void)
{
    if (grove_start(NULL) != 0)
        return 1;
    grove_registry_opts_t ro = {.keys = GROVE_REG_UNIQUE,
                                .name = "ChatApp.RoomRegistry"};
    if (grove_registry_new(&ro, &rooms) != 0)
        return 1;
    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    grove_registry_free(rooms);
    grove_stop();
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
