/* A connection's channel commands: JOIN, PART, PRIVMSG and NOTICE,
 * NAMES, LIST, TOPIC, and leaving every room at QUIT. The room does the
 * fan-out; the connection keeps its own list of rooms, each monitored,
 * so that a room crash reaches it as a DOWN message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_internal.h"

#define CALL_TIMEOUT 5000
#define NAMES_PER_LINE 400 /* bytes of names in one 353 line */
#define LIST_MAX 1000      /* rooms listed by one LIST */
#define TARGETS_MAX 8      /* comma-separated targets in one command */

static int call_room(grove_pid_t room, uint64_t tag, const void *req,
                     size_t size, grove_msg_t **reply)
{
    return grove_gs_try_call(grove_server_pid(room), tag, req, size, reply,
                             CALL_TIMEOUT, NULL);
}

static bool is_chan_name(const char *s) { return s[0] == '#' || s[0] == '&'; }

/* Splits a comma list (a copy in buf) into at most TARGETS_MAX items. */
static int split(const char *list, char *buf, size_t size, char **items)
{
    snprintf(buf, size, "%s", list);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && n < TARGETS_MAX;
         t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    return n;
}

/* 353 lines of at most NAMES_PER_LINE bytes of names, then 366. */
static void send_names(conn_t *c, const char *chan, const char *names)
{
    while (*names) {
        size_t n = strlen(names);
        if (n > NAMES_PER_LINE) {
            n = NAMES_PER_LINE;
            while (n > 0 && names[n] != ' ')
                n--;
        }
        conn_numeric(c, 353, "= %s :%.*s", chan, (int)n, names);
        names += n;
        while (*names == ' ')
            names++;
    }
    conn_numeric(c, 366, "%s :End of NAMES list", chan);
}

/* ---- JOIN and PART ------------------------------------------------------ */

/* Joins the room, monitoring it first so that no crash can slip between
 * the join and the monitor. A room that is just stopping (its last
 * member left) is opened afresh. */
static int enter(conn_t *c, const char *name, chan_t *ch, grove_msg_t **rep)
{
    member_req_t q;
    memset(&q, 0, sizeof q);
    q.pid = grove_self();
    snprintf(q.nick, sizeof q.nick, "%s", c->nick);
    snprintf(q.mask, sizeof q.mask, "%s@%s", c->user, c->host);
    int rc = GROVE_EBUSY;
    for (int tries = 0; tries < 5 && rc != 0; tries++) {
        if ((rc = room_open(name, &ch->room)) < 0)
            return rc;
        if (grove_monitor(ch->room, &ch->mon) < 0)
            return GROVE_ENOMEM;
        rc = call_room(ch->room, ROOM_JOIN, &q, sizeof q, rep);
        if (rc < 0)
            grove_demonitor(ch->mon, GROVE_DEMONITOR_FLUSH);
    }
    return rc;
}

static void join_one(conn_t *c, const char *name)
{
    if (!irc_valid_chan(name)) {
        conn_numeric(c, 403, "%s :No such channel", name);
        return;
    }
    if (conn_chan(c, name))
        return;
    if (c->nchans >= CHAN_LIMIT) {
        conn_numeric(c, 405, "%s :You have joined too many channels", name);
        return;
    }
    if (c->nchans == c->capchans) {
        /* Most clients sit in a channel or two: grow by a few. */
        uint16_t cap = c->capchans + 4;
        chan_t *a = grove_realloc(c->chans, cap * sizeof *a);
        if (!a)
            grove_exit_error(1, "out of memory");
        c->chans = a;
        c->capchans = cap;
    }
    chan_t *ch = &c->chans[c->nchans];
    grove_msg_t *rep;
    if (enter(c, name, ch, &rep) < 0) {
        conn_numeric(c, 437, "%s :Channel is temporarily unavailable", name);
        return;
    }
    snprintf(ch->name, sizeof ch->name, "%s", name);
    c->nchans++;
    const names_reply_t *nr = grove_msg_data(rep);
    char prefix[IRC_LINE];
    conn_prefix(c, prefix, sizeof prefix);
    conn_send(c, ":%s JOIN %s", prefix, name);
    if (nr->topic[0])
        conn_numeric(c, 332, "%s :%s", name, nr->topic);
    send_names(c, name, nr->names);
    grove_msg_free(rep);
    chat_log("%s joined %s", c->nick, name);
}

static void part_one(conn_t *c, const char *name, const char *msg)
{
    chan_t *ch = conn_chan(c, name);
    grove_pid_t room;
    if (!ch) {
        if (irc_valid_chan(name) && room_find(name, &room) == 0)
            conn_numeric(c, 442, "%s :You're not on that channel", name);
        else
            conn_numeric(c, 403, "%s :No such channel", name);
        return;
    }
    char prefix[IRC_LINE];
    conn_prefix(c, prefix, sizeof prefix);
    line_req_t q;
    memset(&q, 0, sizeof q);
    q.pid = grove_self();
    irc_format(q.line, ":%s PART %s :%s", prefix, ch->name, msg);
    grove_msg_t *rep;
    if (call_room(ch->room, ROOM_PART, &q, sizeof q, &rep) == 0)
        grove_msg_free(rep);
    conn_send(c, ":%s PART %s :%s", prefix, ch->name, msg);
    conn_chan_remove(c, ch);
}

void cmd_join(conn_t *c, const irc_msg_t *m)
{
    if (strcmp(m->params[0], "0") == 0) {
        while (c->nchans > 0)
            part_one(c, c->chans[c->nchans - 1].name, "Left all channels");
        return;
    }
    char buf[IRC_LINE], *items[TARGETS_MAX];
    int n = split(m->params[0], buf, sizeof buf, items);
    for (int i = 0; i < n && !c->stop; i++)
        join_one(c, items[i]);
}

void cmd_part(conn_t *c, const irc_msg_t *m)
{
    char buf[IRC_LINE], *items[TARGETS_MAX];
    int n = split(m->params[0], buf, sizeof buf, items);
    for (int i = 0; i < n && !c->stop; i++)
        part_one(c, items[i], m->nparams > 1 ? m->params[1] : c->nick);
}

void conn_quit_rooms(conn_t *c, const char *why)
{
    line_req_t q;
    memset(&q, 0, sizeof q);
    q.pid = grove_self();
    char prefix[IRC_LINE];
    conn_prefix(c, prefix, sizeof prefix);
    irc_format(q.line, ":%s QUIT :%s", prefix, why);
    while (c->nchans > 0) {
        chan_t *ch = &c->chans[c->nchans - 1];
        grove_gs_cast(grove_server_pid(ch->room), ROOM_QUIT, &q, sizeof q);
        conn_chan_remove(c, ch);
    }
}

/* ---- messages ----------------------------------------------------------- */

static void deliver(conn_t *c, const char *target, const char *verb,
                    const char *text, bool notice)
{
    char prefix[IRC_LINE];
    conn_prefix(c, prefix, sizeof prefix);
    line_req_t q;
    memset(&q, 0, sizeof q);
    q.pid = grove_self();
    int len = irc_format(q.line, ":%s %s %s :%s", prefix, verb, target, text);
    grove_pid_t pid;
    if (is_chan_name(target)) {
        chan_t *ch = conn_chan(c, target);
        if (ch)
            grove_gs_cast(grove_server_pid(ch->room), ROOM_SAY, &q, sizeof q);
        else if (!notice && irc_valid_chan(target) &&
                 room_find(target, &pid) == 0)
            conn_numeric(c, 404, "%s :Cannot send to channel", target);
        else if (!notice)
            conn_numeric(c, 401, "%s :No such nick/channel", target);
        return;
    }
    char key[NICK_MAX + 1];
    irc_casefold(target, key, sizeof key);
    if (strlen(target) <= NICK_MAX &&
        grove_registry_whereis(chat_ctx->nicks, key, strlen(key), &pid) == 0)
        grove_send(pid, CONN_LINE, q.line, (size_t)len);
    else if (!notice)
        conn_numeric(c, 401, "%s :No such nick/channel", target);
}

static void message(conn_t *c, const irc_msg_t *m, const char *verb,
                    bool notice)
{
    if (m->nparams < 1 || !*m->params[0]) {
        if (!notice)
            conn_numeric(c, 411, ":No recipient given (%s)", verb);
        return;
    }
    if (m->nparams < 2 || !*m->params[1]) {
        if (!notice)
            conn_numeric(c, 412, ":No text to send");
        return;
    }
    char buf[IRC_LINE], *items[TARGETS_MAX];
    int n = split(m->params[0], buf, sizeof buf, items);
    for (int i = 0; i < n; i++)
        deliver(c, items[i], verb, m->params[1], notice);
}

void cmd_privmsg(conn_t *c, const irc_msg_t *m)
{
    message(c, m, "PRIVMSG", false);
}

void cmd_notice(conn_t *c, const irc_msg_t *m)
{
    message(c, m, "NOTICE", true);
}

/* ---- NAMES, LIST, TOPIC ------------------------------------------------- */

static void names_of(conn_t *c, const char *name)
{
    grove_pid_t room;
    grove_msg_t *rep;
    if (irc_valid_chan(name) && room_find(name, &room) == 0 &&
        call_room(room, ROOM_NAMES, NULL, 0, &rep) == 0) {
        const names_reply_t *nr = grove_msg_data(rep);
        send_names(c, name, nr->names);
        grove_msg_free(rep);
        return;
    }
    conn_numeric(c, 366, "%s :End of NAMES list", name);
}

void cmd_names(conn_t *c, const irc_msg_t *m)
{
    if (m->nparams == 0) {
        for (uint16_t i = 0; i < c->nchans; i++)
            names_of(c, c->chans[i].name);
        if (c->nchans == 0)
            conn_numeric(c, 366, "* :End of NAMES list");
        return;
    }
    char buf[IRC_LINE], *items[TARGETS_MAX];
    int n = split(m->params[0], buf, sizeof buf, items);
    for (int i = 0; i < n; i++)
        names_of(c, items[i]);
}

typedef struct room_list {
    grove_pid_t *pids;
    int n;
} room_list_t;

static void collect(const void *key, size_t len, grove_pid_t pid,
                    uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)value;
    room_list_t *l = arg;
    if (l->n < LIST_MAX)
        l->pids[l->n++] = pid;
}

static void list_one(conn_t *c, grove_pid_t room)
{
    grove_msg_t *rep;
    if (call_room(room, ROOM_INFO, NULL, 0, &rep) != 0)
        return; /* stopped meanwhile */
    const room_info_t *info = grove_msg_data(rep);
    conn_numeric(c, 322, "%s %u :%s", info->name, info->members, info->topic);
    grove_msg_free(rep);
}

void cmd_list(conn_t *c, const irc_msg_t *m)
{
    conn_numeric(c, 321, "Channel :Users  Name");
    room_list_t l = {grove_alloc(LIST_MAX * sizeof(grove_pid_t)), 0};
    if (!l.pids)
        grove_exit_error(1, "out of memory");
    if (m->nparams > 0) {
        char buf[IRC_LINE], *items[TARGETS_MAX];
        int n = split(m->params[0], buf, sizeof buf, items);
        for (int i = 0; i < n; i++)
            if (irc_valid_chan(items[i]) &&
                room_find(items[i], &l.pids[l.n]) == 0)
                l.n++;
    } else {
        grove_registry_select(chat_ctx->rooms, NULL, collect, &l);
    }
    for (int i = 0; i < l.n && !c->stop; i++)
        list_one(c, l.pids[i]);
    grove_free(l.pids);
    conn_numeric(c, 323, ":End of LIST");
}

void cmd_topic(conn_t *c, const irc_msg_t *m)
{
    const char *name = m->params[0];
    chan_t *ch = conn_chan(c, name);
    grove_pid_t room;
    if (!ch) {
        if (irc_valid_chan(name) && room_find(name, &room) == 0)
            conn_numeric(c, 442, "%s :You're not on that channel", name);
        else
            conn_numeric(c, 403, "%s :No such channel", name);
        return;
    }
    line_req_t q;
    memset(&q, 0, sizeof q);
    q.pid = grove_self();
    if (m->nparams > 1) {
        char prefix[IRC_LINE];
        conn_prefix(c, prefix, sizeof prefix);
        snprintf(q.arg, sizeof q.arg, "%s", m->params[1]);
        irc_format(q.line, ":%s TOPIC %s :%s", prefix, ch->name, q.arg);
    }
    grove_msg_t *rep;
    if (call_room(ch->room, ROOM_TOPIC, &q, sizeof q, &rep) != 0)
        return;
    const char *topic = grove_msg_data(rep);
    if (m->nparams == 1 && topic[0])
        conn_numeric(c, 332, "%s :%s", ch->name, topic);
    else if (m->nparams == 1)
        conn_numeric(c, 331, "%s :No topic is set", ch->name);
    grove_msg_free(rep);
}
