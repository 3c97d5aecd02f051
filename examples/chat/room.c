/* Rooms: one gen_server per channel, started under the RoomSupervisor and
 * named by channel in the room Registry. A room knows its members (pid,
 * nick, user@host), monitors them so that a client that dies leaves its
 * rooms, and fans every line out as a cast to each member. It stops when
 * its last member leaves. A room that crashes is restarted by its
 * supervisor, empty; its members learn of it from their own monitors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_internal.h"

/* A room restarted after a crash, or one nobody joined, stops after this
 * long empty. */
#define EMPTY_TIMEOUT 30000
/* Lines sent between two yields. */
#define YIELD_EVERY 256

/* The start argument of a channel's room, kept across its restarts. A
 * supervisor restarts a child with the same argument, so it must outlive
 * any one room process: it is counted by the room processes using it
 * (plus starts in progress) and freed when the last one stops cleanly.
 * One left by a crash whose restart never came is freed with the server
 * (or reused by the next room of that name). */
struct room_arg {
    room_arg_t *next;
    int refs;
    bool clean; /* no restart will use it */
    char key[CHAN_MAX + 1];
    char name[CHAN_MAX + 1];
};

static room_arg_t *arg_get(const char *name, const char *key)
{
    chat_ctx_t *x = chat_ctx;
    pthread_mutex_lock(&x->args_lock);
    room_arg_t *a = x->args;
    while (a && strcmp(a->key, key) != 0)
        a = a->next;
    if (!a && (a = calloc(1, sizeof *a))) {
        snprintf(a->key, sizeof a->key, "%s", key);
        snprintf(a->name, sizeof a->name, "%s", name);
        a->clean = true;
        a->next = x->args;
        x->args = a;
    }
    if (a)
        a->refs++;
    pthread_mutex_unlock(&x->args_lock);
    return a;
}

static void arg_put(room_arg_t *a)
{
    chat_ctx_t *x = chat_ctx;
    pthread_mutex_lock(&x->args_lock);
    if (--a->refs == 0 && a->clean) {
        room_arg_t **pp = &x->args;
        while (*pp != a)
            pp = &(*pp)->next;
        *pp = a->next;
        free(a);
    }
    pthread_mutex_unlock(&x->args_lock);
}

static void arg_release(void *a) { arg_put(a); }

static void arg_set_clean(room_arg_t *a, bool clean)
{
    pthread_mutex_lock(&chat_ctx->args_lock);
    a->clean = clean;
    pthread_mutex_unlock(&chat_ctx->args_lock);
}

void room_args_free(void)
{
    room_arg_t *a = chat_ctx->args;
    while (a) {
        room_arg_t *next = a->next;
        free(a);
        a = next;
    }
    chat_ctx->args = NULL;
}

/* ---- the room ----------------------------------------------------------- */

typedef struct member {
    grove_pid_t pid;
    grove_ref_t mon;
    char nick[NICK_MAX + 1];
    char mask[USER_MAX + HOST_MAX + 2];
} member_t;

typedef struct room {
    room_arg_t *arg;
    char topic[TOPIC_MAX + 1];
    member_t *m;
    uint32_t n, cap;
    uint32_t sent;
} room_t;

static grove_gs_ret_t room_init(grove_gs_t *gs, void *arg)
{
    room_arg_t *a = arg;
    room_t *r = grove_calloc(1, sizeof *r);
    if (!r)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    /* The process holds the argument until it exits, however it exits. */
    pthread_mutex_lock(&chat_ctx->args_lock);
    a->refs++;
    a->clean = false;
    pthread_mutex_unlock(&chat_ctx->args_lock);
    if (grove_resource_attach(arg_release, a, NULL) != 0) {
        arg_put(a); /* kept: the supervisor retries with it */
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    }
    r->arg = a;
    grove_gs_set_state(gs, r);
    chat_log("room %s opened", a->name);
    return grove_gs_with_timeout(GROVE_GS_INIT_OK(), EMPTY_TIMEOUT);
}

static void room_terminate(grove_gs_t *gs, const grove_reason_t *reason)
{
    room_t *r = grove_gs_state(gs);
    /* A transient child is not restarted after these: nothing will use
     * the argument again. */
    if (r && grove_reason_is_shutdown_class(reason))
        arg_set_clean(r->arg, true);
}

static member_t *find_pid(room_t *r, grove_pid_t pid)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (grove_pid_equal(r->m[i].pid, pid))
            return &r->m[i];
    return NULL;
}

static void remove_member(room_t *r, member_t *m, bool demonitor)
{
    if (demonitor)
        grove_demonitor(m->mon, GROVE_DEMONITOR_FLUSH);
    *m = r->m[--r->n];
}

/* Sends line to every member but skip (NONE: to all). A busy room has
 * a message waiting whenever it looks, so it never blocks: it gives the
 * scheduler away now and then, or it would hold it for as long as the
 * chat goes on. */
static void broadcast(room_t *r, const char *line, grove_pid_t skip)
{
    size_t len = strlen(line);
    for (uint32_t i = 0; i < r->n; i++) {
        if (grove_pid_equal(r->m[i].pid, skip))
            continue;
        grove_send(r->m[i].pid, CONN_LINE, line, len);
        if (++r->sent % YIELD_EVERY == 0)
            grove_yield();
    }
}

/* What to do after a request: an empty room stops (normal), or waits a
 * while if nobody ever was in it. */
static grove_gs_ret_t after(room_t *r, grove_gs_ret_t ret, bool left)
{
    if (r->n == 0 && left)
        return GROVE_GS_STOP(grove_reason_normal());
    if (r->n == 0)
        return grove_gs_with_timeout(ret, EMPTY_TIMEOUT);
    return ret;
}

static grove_gs_ret_t reply_names(room_t *r)
{
    size_t size = sizeof(names_reply_t) + 1;
    for (uint32_t i = 0; i < r->n; i++)
        size += strlen(r->m[i].nick) + 1;
    names_reply_t *nr = malloc(size);
    if (!nr)
        grove_exit_error(1, "out of memory");
    memcpy(nr->topic, r->topic, sizeof nr->topic);
    char *p = nr->names;
    for (uint32_t i = 0; i < r->n; i++)
        p += sprintf(p, i ? " %s" : "%s", r->m[i].nick);
    *p = 0;
    grove_gs_ret_t ret = GROVE_GS_REPLY(ROOM_NAMES, nr, size);
    free(nr);
    return ret;
}

static grove_gs_ret_t on_join(room_t *r, const member_req_t *q)
{
    if (!find_pid(r, q->pid)) {
        if (r->n == r->cap) {
            uint32_t cap = r->cap ? r->cap * 2 : 8;
            member_t *m = grove_realloc(r->m, cap * sizeof *m);
            if (!m)
                grove_exit_error(1, "out of memory");
            r->m = m;
            r->cap = cap;
        }
        member_t *m = &r->m[r->n];
        memset(m, 0, sizeof *m);
        if (grove_monitor(q->pid, &m->mon) != 0)
            return reply_names(r);
        m->pid = q->pid;
        memcpy(m->nick, q->nick, sizeof m->nick);
        memcpy(m->mask, q->mask, sizeof m->mask);
        char line[IRC_LINE + 1];
        irc_format(line, ":%s!%s JOIN %s", m->nick, m->mask, r->arg->name);
        broadcast(r, line, GROVE_PID_NONE);
        r->n++;
    }
    return reply_names(r);
}

static grove_gs_ret_t on_topic(room_t *r, const line_req_t *q)
{
    if (q->line[0] && find_pid(r, q->pid)) {
        snprintf(r->topic, sizeof r->topic, "%s", q->arg);
        broadcast(r, q->line, GROVE_PID_NONE);
    }
    return GROVE_GS_REPLY(ROOM_TOPIC, r->topic, strlen(r->topic) + 1);
}

static grove_gs_ret_t room_call(grove_gs_t *gs, const grove_msg_t *req,
                                grove_gs_from_t from)
{
    (void)from;
    room_t *r = grove_gs_state(gs);
    const void *d = grove_msg_data(req);
    size_t size = grove_msg_size(req);
    switch (grove_msg_tag(req)) {
    case ROOM_JOIN:
        GROVE_ASSERT(size == sizeof(member_req_t));
        return after(r, on_join(r, d), false);
    case ROOM_PART: {
        GROVE_ASSERT(size == sizeof(line_req_t));
        const line_req_t *q = d;
        member_t *m = find_pid(r, q->pid);
        int rc = m ? 0 : -1;
        if (m) {
            broadcast(r, q->line, q->pid);
            remove_member(r, m, true);
        }
        if (r->n == 0 && m)
            return GROVE_GS_STOP_REPLY(grove_reason_normal(), ROOM_PART,
                                       &rc, sizeof rc);
        return after(r, GROVE_GS_REPLY(ROOM_PART, &rc, sizeof rc), false);
    }
    case ROOM_TOPIC:
        GROVE_ASSERT(size == sizeof(line_req_t));
        return after(r, on_topic(r, d), false);
    case ROOM_NAMES:
        return after(r, reply_names(r), false);
    case ROOM_INFO: {
        room_info_t info;
        info.members = r->n;
        memcpy(info.name, r->arg->name, sizeof info.name);
        memcpy(info.topic, r->topic, sizeof info.topic);
        return after(r, GROVE_GS_REPLY(ROOM_INFO, &info, sizeof info), false);
    }
    default:
        grove_exit_error(2, "room: unknown call %llu",
                         (unsigned long long)grove_msg_tag(req));
    }
}

/* The deliberate crash of GROVE-CRASHROOM: a real NULL write, caught by
 * Grove as a fault of this room's process alone. Kept out of line and
 * away from the sanitizers, which would report it themselves. */
__attribute__((noinline, no_sanitize("address", "undefined", "thread")))
static void room_poison(void)
{
    static int *volatile nowhere;
    *nowhere = 1;
}

static grove_gs_ret_t room_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    room_t *r = grove_gs_state(gs);
    uint64_t tag = grove_msg_tag(msg);
    if (tag == ROOM_CRASH)
        room_poison();
    GROVE_ASSERT(grove_msg_size(msg) == sizeof(line_req_t));
    const line_req_t *q = grove_msg_data(msg);
    member_t *m = find_pid(r, q->pid);
    if (!m)
        return after(r, GROVE_GS_NOREPLY(), false);
    broadcast(r, q->line, q->pid);
    if (tag == ROOM_SAY)
        atomic_fetch_add_explicit(&chat_ctx->messages, 1,
                                  memory_order_relaxed);
    else if (tag == ROOM_NICK)
        snprintf(m->nick, sizeof m->nick, "%.*s", NICK_MAX, q->arg);
    else if (tag == ROOM_QUIT) {
        remove_member(r, m, true);
        return after(r, GROVE_GS_NOREPLY(), true);
    }
    return GROVE_GS_NOREPLY();
}

/* A member died without leaving: the others see it quit. */
static grove_gs_ret_t room_info(grove_gs_t *gs, const grove_msg_t *msg)
{
    room_t *r = grove_gs_state(gs);
    if (grove_msg_tag(msg) == GROVE_GS_TIMEOUT_TAG)
        return r->n == 0 ? GROVE_GS_STOP(grove_reason_normal())
                         : GROVE_GS_NOREPLY();
    if (grove_msg_kind(msg) != GROVE_MSG_DOWN)
        return after(r, GROVE_GS_NOREPLY(), false);
    grove_ref_t ref = grove_msg_ref(msg);
    for (uint32_t i = 0; i < r->n; i++) {
        member_t *m = &r->m[i];
        if (m->mon.id != ref.id)
            continue;
        const grove_reason_t *why = grove_msg_reason(msg);
        bool clean = grove_reason_is_shutdown_class(why);
        char line[IRC_LINE + 1];
        irc_format(line, ":%s!%s QUIT :%s", m->nick, m->mask,
                   clean ? "Connection closed" : "Client crashed");
        if (!clean)
            chat_log("client %s crashed; leaves %s", m->nick, r->arg->name);
        remove_member(r, m, false);
        broadcast(r, line, GROVE_PID_NONE);
        return after(r, GROVE_GS_NOREPLY(), true);
    }
    return after(r, GROVE_GS_NOREPLY(), false);
}

static int room_status(grove_gs_t *gs, char *buf, size_t size)
{
    room_t *r = grove_gs_state(gs);
    return snprintf(buf, size, "room %s, %u members", r ? r->arg->name : "?",
                    r ? r->n : 0);
}

static const grove_gs_callbacks_t room_cb = {
    .name = "Chat.Room",
    .init = room_init,
    .handle_call = room_call,
    .handle_cast = room_cast,
    .handle_info = room_info,
    .terminate = room_terminate,
    .format_status = room_status,
};

/* ---- finding and starting rooms ----------------------------------------- */

/* The child's start: a room named by its channel key. When the name is
 * already taken (a fresh room of the channel won the race with this
 * restart), the start is ignored, which also drops this child. */
static int room_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    room_arg_t *a = arg;
    grove_gs_opts_t o = {.link = true,
                         .via = grove_registry_via(chat_ctx->rooms),
                         .via_key = a->key,
                         .via_key_len = strlen(a->key),
                         .trap_exit = true};
    int rc = grove_gs_start(&room_cb, a, &o, pid, why);
    return rc == GROVE_EALREADYSTARTED ? GROVE_EIGNORE : rc;
}

int room_find(const char *chan, grove_pid_t *pid)
{
    char key[CHAN_MAX + 1];
    irc_casefold(chan, key, sizeof key);
    return grove_registry_whereis(chat_ctx->rooms, key, strlen(key), pid);
}

int room_open(const char *chan, grove_pid_t *pid)
{
    char key[CHAN_MAX + 1];
    irc_casefold(chan, key, sizeof key);
    for (int tries = 0; tries < 5; tries++) {
        if (grove_registry_whereis(chat_ctx->rooms, key, strlen(key), pid) ==
            0)
            return 0;
        room_arg_t *a = arg_get(chan, key);
        if (!a)
            return GROVE_ENOMEM;
        grove_child_spec_t spec = {.start = room_start,
                                   .arg = a,
                                   .restart = GROVE_TRANSIENT};
        int rc = grove_dynsup_start_child(grove_server_name(NAME_ROOMS),
                                          &spec, pid, NULL);
        arg_put(a);
        if ((rc == 0 && pid->id) || rc == GROVE_EALREADYSTARTED)
            return 0;
        if (rc != 0 && rc != GROVE_EIGNORE)
            return rc;
    }
    return GROVE_EBUSY;
}
