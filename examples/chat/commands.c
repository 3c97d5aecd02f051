/* A connection's commands, apart from the channel ones (channels.c):
 * registration (NICK, USER, CAP, PASS), PING/PONG, QUIT, the MODE and WHO
 * answers clients expect after a JOIN, the poison commands, and the
 * dispatch table. */
#include <stdio.h>
#include <string.h>

#include "chat_internal.h"

#define VERSION_TEXT "grove-0.1"

/* ---- registration ------------------------------------------------------- */

static void welcome(conn_t *c)
{
    if (c->registered || !c->has_nick || !c->has_user || c->cap_wait)
        return;
    c->registered = true;
    char prefix[IRC_LINE];
    conn_prefix(c, prefix, sizeof prefix);
    conn_numeric(c, 1, ":Welcome to the Grove chat network %s", prefix);
    conn_numeric(c, 2, ":Your host is %s, running version %s", SERVER_NAME,
                 VERSION_TEXT);
    conn_numeric(c, 3, ":This server was created %s", chat_ctx->created);
    conn_numeric(c, 4, "%s %s i nt", SERVER_NAME, VERSION_TEXT);
    conn_numeric(c, 5,
                 "CHANTYPES=#& CHANLIMIT=#&:%d NICKLEN=%d CHANNELLEN=%d "
                 "TOPICLEN=%d CASEMAPPING=rfc1459 NETWORK=Grove :are "
                 "supported by this server",
                 CHAN_LIMIT, NICK_MAX, CHAN_MAX, TOPIC_MAX);
    conn_numeric(c, 422, ":MOTD File is missing");
    chat_log("%s registered from %s", c->nick, c->host);
}

/* Takes key in the nick registry (entries die with the process), then
 * lets go of the old one. Returns false (and answers) when it is taken. */
static bool take_nick(conn_t *c, const char *nick, const char *key,
                      const char *old)
{
    grove_pid_t holder;
    int rc = grove_registry_register(chat_ctx->nicks, key, strlen(key), 0,
                                     &holder);
    if (rc == GROVE_EEXIST) {
        conn_numeric(c, 433, "%s :Nickname is already in use", nick);
        return false;
    }
    if (rc != 0) {
        conn_send(c, "ERROR :Server out of memory");
        c->stop = true;
        return false;
    }
    if (c->has_nick)
        grove_registry_unregister(chat_ctx->nicks, old, strlen(old));
    return true;
}

/* A registered client's new nick: it and its channels see NICK. */
static void announce_nick(conn_t *c, const char *nick)
{
    char prefix[IRC_LINE];
    conn_prefix(c, prefix, sizeof prefix);
    line_req_t q;
    memset(&q, 0, sizeof q);
    q.pid = grove_self();
    snprintf(q.arg, sizeof q.arg, "%s", nick);
    irc_format(q.line, ":%s NICK :%s", prefix, nick);
    conn_send(c, ":%s NICK :%s", prefix, nick);
    for (uint16_t i = 0; i < c->nchans; i++)
        grove_gs_cast(grove_server_pid(c->chans[i].room), ROOM_NICK, &q,
                      sizeof q);
}

static void cmd_nick(conn_t *c, const irc_msg_t *m)
{
    if (m->nparams < 1 || !*m->params[0]) {
        conn_numeric(c, 431, ":No nickname given");
        return;
    }
    const char *nick = m->params[0];
    if (!irc_valid_nick(nick)) {
        conn_numeric(c, 432, "%s :Erroneous nickname", nick);
        return;
    }
    char key[NICK_MAX + 1], old[NICK_MAX + 1];
    irc_casefold(nick, key, sizeof key);
    irc_casefold(c->nick, old, sizeof old);
    /* A change of case only keeps the registry entry. */
    bool same = c->has_nick && strcmp(key, old) == 0;
    if (!same && !take_nick(c, nick, key, old))
        return;
    if (c->registered)
        announce_nick(c, nick);
    snprintf(c->nick, sizeof c->nick, "%s", nick);
    c->has_nick = true;
    welcome(c);
}

static void cmd_user(conn_t *c, const irc_msg_t *m)
{
    if (c->registered || c->has_user) {
        conn_numeric(c, 462, ":You may not reregister");
        return;
    }
    /* Only characters that keep nick!user@host parseable. */
    size_t n = 0;
    for (const char *p = m->params[0]; *p && n < USER_MAX; p++)
        if (*p > ' ' && *p != '@' && *p != '!' && *p != ':')
            c->user[n++] = *p;
    c->user[n] = 0;
    if (!n)
        strcpy(c->user, "user");
    c->has_user = true;
    welcome(c);
}

/* IRCv3 capability negotiation: none are offered, but a client that
 * starts it waits for CAP END before registering. */
static void cmd_cap(conn_t *c, const irc_msg_t *m)
{
    const char *sub = m->params[0];
    if (strcmp(sub, "LS") == 0 || strcmp(sub, "LIST") == 0) {
        if (!c->registered)
            c->cap_wait = true;
        conn_send(c, ":" SERVER_NAME " CAP %s %s :", c->nick, sub);
    } else if (strcmp(sub, "REQ") == 0) {
        if (!c->registered)
            c->cap_wait = true;
        conn_send(c, ":" SERVER_NAME " CAP %s NAK :%s", c->nick,
                  m->nparams > 1 ? m->params[1] : "");
    } else if (strcmp(sub, "END") == 0) {
        c->cap_wait = false;
        welcome(c);
    } else {
        conn_numeric(c, 410, "%s :Invalid CAP command", sub);
    }
}

static void cmd_pass(conn_t *c, const irc_msg_t *m)
{
    (void)m;
    if (c->registered)
        conn_numeric(c, 462, ":You may not reregister");
}

/* ---- liveness and leaving ----------------------------------------------- */

static void cmd_ping(conn_t *c, const irc_msg_t *m)
{
    if (m->nparams < 1) {
        conn_numeric(c, 409, ":No origin specified");
        return;
    }
    conn_send(c, ":%s PONG %s :%s", SERVER_NAME, SERVER_NAME, m->params[0]);
}

static void cmd_pong(conn_t *c, const irc_msg_t *m)
{
    (void)c;
    (void)m;
}

static void cmd_quit(conn_t *c, const irc_msg_t *m)
{
    char why[TOPIC_MAX];
    snprintf(why, sizeof why, "Quit: %s",
             m->nparams > 0 ? m->params[0] : "");
    conn_quit_rooms(c, why);
    conn_send(c, "ERROR :Closing Link: %s (%s)", c->host, why);
    c->stop = true;
}

/* ---- what clients ask after joining ------------------------------------- */

static void cmd_mode(conn_t *c, const irc_msg_t *m)
{
    const char *target = m->params[0];
    if (target[0] == '#' || target[0] == '&') {
        if (m->nparams == 1)
            conn_numeric(c, 324, "%s +", target);
        else if (strcmp(m->params[1], "b") == 0 ||
                 strcmp(m->params[1], "+b") == 0)
            conn_numeric(c, 368, "%s :End of channel ban list", target);
        else
            conn_numeric(c, 482, "%s :You're not channel operator", target);
        return;
    }
    char a[NICK_MAX + 1], b[NICK_MAX + 1];
    irc_casefold(target, a, sizeof a);
    irc_casefold(c->nick, b, sizeof b);
    if (strcmp(a, b) != 0)
        conn_numeric(c, 502, ":Cannot change mode for other users");
    else
        conn_numeric(c, 221, "+");
}

static void cmd_who(conn_t *c, const irc_msg_t *m)
{
    conn_numeric(c, 315, "%s :End of WHO list",
                 m->nparams > 0 ? m->params[0] : "*");
}

/* ---- poison (only with --poison) ---------------------------------------- */

/* A real NULL write in this connection's own code: Grove catches the
 * fault and ends this process alone. Out of line and away from the
 * sanitizers, which would report it themselves. */
__attribute__((noinline, no_sanitize("address", "undefined", "thread")))
static void conn_poison(void)
{
    static int *volatile nowhere;
    *nowhere = 1;
}

static void cmd_poison(conn_t *c, const irc_msg_t *m)
{
    (void)m;
    chat_log("%s sent GROVE-POISON", c->nick);
    conn_poison();
}

static void cmd_crashroom(conn_t *c, const irc_msg_t *m)
{
    grove_pid_t room;
    if (!irc_valid_chan(m->params[0]) || room_find(m->params[0], &room) != 0) {
        conn_numeric(c, 403, "%s :No such channel", m->params[0]);
        return;
    }
    chat_log("%s crashes room %s", c->nick, m->params[0]);
    grove_gs_cast(grove_server_pid(room), ROOM_CRASH, NULL, 0);
}

/* ---- dispatch ----------------------------------------------------------- */

typedef struct command {
    const char *name;
    void (*fn)(conn_t *c, const irc_msg_t *m);
    int min_params;  /* fewer: 461 */
    bool early;      /* allowed before registration */
    bool poison;     /* only with --poison */
} command_t;

static const command_t commands[] = {
    {"NICK", cmd_nick, 0, true, false},
    {"USER", cmd_user, 4, true, false},
    {"CAP", cmd_cap, 1, true, false},
    {"PASS", cmd_pass, 0, true, false},
    {"PING", cmd_ping, 0, true, false},
    {"PONG", cmd_pong, 0, true, false},
    {"QUIT", cmd_quit, 0, true, false},
    {"JOIN", cmd_join, 1, false, false},
    {"PART", cmd_part, 1, false, false},
    {"PRIVMSG", cmd_privmsg, 0, false, false},
    {"NOTICE", cmd_notice, 0, false, false},
    {"NAMES", cmd_names, 0, false, false},
    {"LIST", cmd_list, 0, false, false},
    {"TOPIC", cmd_topic, 1, false, false},
    {"MODE", cmd_mode, 1, false, false},
    {"WHO", cmd_who, 0, false, false},
    {"GROVE-POISON", cmd_poison, 0, false, true},
    {"GROVE-CRASHROOM", cmd_crashroom, 1, false, true},
};

static const command_t *lookup(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].poison && !chat_ctx->opts.poison
                       ? NULL
                       : &commands[i];
    return NULL;
}

void conn_command(conn_t *c, char *line)
{
    irc_msg_t m;
    int rc = irc_parse(line, &m);
    if (rc > 0)
        return;
    if (rc < 0) {
        /* Not IRC at all: let this connection crash, nothing else. */
        conn_send(c, "ERROR :Malformed line");
        grove_exit_error(2, "malformed line from %s", c->nick);
    }
    const command_t *cmd = lookup(m.cmd);
    if (!cmd && !c->registered)
        conn_numeric(c, 451, ":You have not registered");
    else if (!cmd)
        conn_numeric(c, 421, "%s :Unknown command", m.cmd);
    else if (!cmd->early && !c->registered)
        conn_numeric(c, 451, ":You have not registered");
    else if (m.nparams < cmd->min_params)
        conn_numeric(c, 461, "%s :Not enough parameters", m.cmd);
    else
        cmd->fn(c, &m);
}
