/* What the chat server's files share: limits, the server context, the
 * IRC helpers, and the messages between connections, rooms and the
 * logger. */
#ifndef GROVE_CHAT_INTERNAL_H
#define GROVE_CHAT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "chat.h"

#define SERVER_NAME "grove-chat"
#define NICK_MAX 30
#define USER_MAX 10
#define HOST_MAX 63
#define CHAN_MAX 50
#define TOPIC_MAX 390
#define CHAN_LIMIT 32    /* channels one client may be in */
#define IRC_LINE 512     /* an outgoing line, CRLF included (RFC 2812) */
#define IN_LINE_MAX 2048 /* an incoming line: RFC 2812 says 512 */
#define WRITE_TIMEOUT 10000

#define NAME_ROOT "chat.root"
#define NAME_LOGGER "chat.logger"
#define NAME_ROOMS "chat.rooms"
#define NAME_CONNS "chat.conns"
#define NAME_ACCEPTOR "chat.acceptor"

/* ---- the server context ------------------------------------------------ */

typedef struct room_arg room_arg_t;

typedef struct chat_ctx {
    chat_opts_t opts;
    char host[64];
    char created[64];           /* for RPL_CREATED */
    grove_registry_t *rooms;    /* channel key -> Room */
    grove_registry_t *nicks;    /* nick key -> connection */
    atomic_int port;            /* kept across Acceptor restarts */
    atomic_uint_fast64_t connects, messages, room_crashes;
    pthread_mutex_t args_lock;  /* room start arguments */
    room_arg_t *args;
    grove_child_spec_t *children; /* the root's: ours, then the extras */
    grove_sup_spec_t root_spec;
} chat_ctx_t;

extern chat_ctx_t *chat_ctx;

/* ---- IRC text ----------------------------------------------------------- */

#define IRC_MAX_PARAMS 15

typedef struct irc_msg {
    const char *cmd;
    int nparams;
    const char *params[IRC_MAX_PARAMS];
} irc_msg_t;

/* Splits a line (no CRLF; modified in place) into command and params.
 * Returns 0, 1 for an empty line (ignored), -1 when malformed. */
int irc_parse(char *line, irc_msg_t *out);
/* RFC 1459 case mapping into out (size > strlen(in)). */
void irc_casefold(const char *in, char *out, size_t size);
bool irc_valid_nick(const char *nick);
bool irc_valid_chan(const char *chan);
/* Formats a line and ends it with CRLF, cut to IRC_LINE. Returns its
 * length. */
int irc_format(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int irc_vformat(char *buf, const char *fmt, va_list ap);

/* ---- the Logger --------------------------------------------------------- */

extern const grove_gs_callbacks_t chat_logger_cb;
/* Casts an event to the Logger (dropped if it is down). */
void chat_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
enum { LOG_EVENT = 1, LOG_COUNT };

/* ---- rooms -------------------------------------------------------------- */

enum {
    ROOM_JOIN = 0x524f4f4d00000001ull, /* call: member_req_t */
    ROOM_PART,  /* call: line_req_t; reply int (0, or -1 not a member) */
    ROOM_SAY,   /* cast: line_req_t, to every member but the sender */
    ROOM_QUIT,  /* cast: line_req_t; the sender leaves */
    ROOM_NICK,  /* cast: line_req_t with the new nick in arg */
    ROOM_TOPIC, /* call: line_req_t; arg empty: query; reply the topic */
    ROOM_NAMES, /* call: reply the names */
    ROOM_INFO,  /* call: reply room_info_t */
    ROOM_CRASH  /* cast: dereference NULL (GROVE-CRASHROOM) */
};

typedef struct member_req {
    grove_pid_t pid;
    char nick[NICK_MAX + 1];
    char mask[USER_MAX + HOST_MAX + 2]; /* user@host */
} member_req_t;

typedef struct line_req {
    grove_pid_t pid;
    char arg[TOPIC_MAX + 1];
    char line[IRC_LINE + 1];
} line_req_t;

typedef struct room_info {
    uint32_t members;
    char name[CHAN_MAX + 1];
    char topic[TOPIC_MAX + 1];
} room_info_t;

/* The reply to ROOM_JOIN and ROOM_NAMES: the topic, then the names
 * separated by spaces (NUL-terminated). */
typedef struct names_reply {
    char topic[TOPIC_MAX + 1];
    char names[];
} names_reply_t;

/* Finds or starts the room for a channel (valid name). Returns 0 and its
 * pid, or an error. */
int room_open(const char *chan, grove_pid_t *pid);
/* The running room of a channel, if any. */
int room_find(const char *chan, grove_pid_t *pid);
/* Frees every room argument (the tree is down). */
void room_args_free(void);

/* ---- connections -------------------------------------------------------- */

enum {
    CONN_HANDOFF = 0x434f4e4e00000001ull, /* info: the socket (adopt) */
    CONN_READY,  /* info: readable */
    CONN_MORE,   /* info: lines may be waiting in the buffer */
    CONN_LINE    /* info (a plain message): a line to write as is */
};

extern const grove_gs_callbacks_t chat_conn_cb;

typedef struct chan {
    char name[CHAN_MAX + 1];
    grove_pid_t room;
    grove_ref_t mon;
} chan_t;

typedef struct conn {
    grove_io_t sock;
    char nick[NICK_MAX + 1];
    char user[USER_MAX + 1];
    char host[HOST_MAX + 1];
    bool has_nick, has_user, registered, cap_wait;
    bool stop;       /* end after this line (QUIT, a failed write) */
    uint16_t nchans, capchans;
    chan_t *chans;   /* grown on JOIN, up to CHAN_LIMIT */
} conn_t;

/* Writes a formatted line to the client; a failure marks it to stop. */
void conn_send(conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A numeric reply: ":server NNN nick <text>". */
void conn_numeric(conn_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* nick!user@host */
int conn_prefix(const conn_t *c, char *buf, size_t size);
/* Handles one line from the client. */
void conn_command(conn_t *c, char *line);
chan_t *conn_chan(conn_t *c, const char *name);
void conn_chan_remove(conn_t *c, chan_t *ch);
/* Channel commands (channels.c). */
void cmd_join(conn_t *c, const irc_msg_t *m);
void cmd_part(conn_t *c, const irc_msg_t *m);
void cmd_names(conn_t *c, const irc_msg_t *m);
void cmd_list(conn_t *c, const irc_msg_t *m);
void cmd_topic(conn_t *c, const irc_msg_t *m);
void cmd_privmsg(conn_t *c, const irc_msg_t *m);
void cmd_notice(conn_t *c, const irc_msg_t *m);
void conn_quit_rooms(conn_t *c, const char *why);
/* A room this connection was in went down. */
void conn_room_down(conn_t *c, grove_ref_t mon, const grove_reason_t *r);

/* ---- the Acceptor ------------------------------------------------------- */

extern const grove_gs_callbacks_t chat_acceptor_cb;
enum { ACC_READY = 0x4143430000000001ull, ACC_PORT };

#endif
