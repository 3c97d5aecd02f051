/* The Grove chat server as a library: start it inside a Grove program
 * (tests, benchmarks, chat_server's main), find its port, stop it; and a
 * small IRC client for processes that want to talk to it.
 *
 *     chat.root (one_for_one)
 *     |-- chat.logger     Logger: a gen_server that logs events
 *     |-- chat.rooms      RoomSupervisor: a DynamicSupervisor of Room
 *     |                   gen_servers, one per channel, named through the
 *     |                   room Registry
 *     |-- chat.conns      ConnectionSupervisor: a DynamicSupervisor of one
 *     |                   gen_server per client (temporary children)
 *     `-- chat.acceptor   Acceptor: accepts and hands each socket to a new
 *                         connection process
 *
 * One server per OS process at a time.
 */
#ifndef GROVE_CHAT_H
#define GROVE_CHAT_H

#include <grove.h>

typedef struct chat_opts {
    const char *host;      /* address to listen on; NULL: 127.0.0.1 */
    int port;              /* 0: a free port (see chat_port) */
    bool poison;           /* enable GROVE-POISON and GROVE-CRASHROOM */
    uint32_t max_clients;  /* 0: as many as descriptors allow */
    bool link;             /* link the root supervisor to the caller */
    /* Children appended to the root after the Acceptor (an observer, a
     * load generator): started last, stopped first. The array is copied;
     * what its entries point to (arg, gs_opts) must outlive the tree. */
    const grove_child_spec_t *extra_children;
    size_t nextra_children;
} chat_opts_t;

/* Starts the server's tree from a Grove process; raises the descriptor
 * soft limit to the hard one first. Returns 0 and *root, GROVE_EALREADY
 * (a server runs), or the root supervisor's start error with *why. */
int chat_start(const chat_opts_t *opts, grove_pid_t *root,
               grove_reason_t *why);
/* The port the server listens on (0 when none runs). */
int chat_port(void);
/* Stops the tree (shutdown, in reverse start order), waits for it and
 * frees the server's tables. From a Grove process. Returns 0 or
 * GROVE_ENOTFOUND. */
int chat_stop(void);
/* Frees the tables once the tree has ended by other means (an
 * application's stop callback). */
void chat_cleanup(void);

/* The room process of a channel now. Returns 0 or GROVE_ENOTFOUND. */
int chat_room_pid(const char *chan, grove_pid_t *pid);

typedef struct chat_stats {
    uint64_t clients;      /* connection processes now */
    uint64_t rooms;        /* rooms now */
    uint64_t connects;     /* connections accepted so far */
    uint64_t messages;     /* PRIVMSG/NOTICE lines relayed to rooms */
    uint64_t room_crashes; /* room crashes seen by their members */
    uint64_t log_events;   /* events the Logger handled */
} chat_stats_t;

/* Fills *out. From a Grove process. Returns 0 or GROVE_ENOTFOUND. */
int chat_stats(chat_stats_t *out);

/* ---- a client, for tests and benchmarks ------------------------------- */

typedef struct chat_client {
    grove_io_t sock; /* owned by the process that opened it */
    char nick[32];
} chat_client_t;

/* Connects to host:port (NULL: 127.0.0.1) and registers as nick (NICK,
 * USER), waiting for the welcome (001). Returns 0; GROVE_EEXIST (nick in
 * use, 433); GROVE_ECLOSED; GROVE_ETIMEDOUT; or a connect error. */
int chat_client_open(chat_client_t *c, const char *host, int port,
                     const char *nick, grove_timeout_t timeout_ms);
/* Connects without registering. */
int chat_client_connect(chat_client_t *c, const char *host, int port,
                        grove_timeout_t timeout_ms);
/* Sends one line (CRLF added). Returns 0 or a grove_io_write error. */
int chat_client_send(chat_client_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Reads the next line into buf without its CRLF, answering PING on the
 * way. Returns its length or a grove_io_read_until error. */
int chat_client_line(chat_client_t *c, char *buf, size_t size,
                     grove_timeout_t timeout_ms);
/* Reads lines until one contains needle (kept in buf). Returns its length
 * or an error (GROVE_ETIMEDOUT when the time ran out first). */
int chat_client_expect(chat_client_t *c, const char *needle, char *buf,
                       size_t size, grove_timeout_t timeout_ms);
/* JOIN and wait for the end of the names list (366). */
int chat_client_join(chat_client_t *c, const char *chan,
                     grove_timeout_t timeout_ms);
/* Closes the connection (without QUIT). */
void chat_client_close(chat_client_t *c);

#endif
