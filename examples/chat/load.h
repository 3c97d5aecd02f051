/* Simulated load for chat_server --load: clients that chat over real TCP
 * and a chaos process that injects a fault every few seconds, so that the
 * tree (and the observer's page) shows life. Built on the public API
 * only: grove.h and chat.h.
 *
 *     chat.load            (one_for_one)
 *     |-- chat.load.clients  (one_for_one) sim.1 .. sim.N: each a process
 *     |                      that connects, registers, joins channels,
 *     |                      chats, sometimes leaves and comes back
 *     `-- Chat.Chaos         kills a connection, crashes a room, sends
 *                            GROVE-POISON (with --poison), kills a
 *                            simulated client or the Logger; one line each
 */
#ifndef GROVE_CHAT_LOAD_H
#define GROVE_CHAT_LOAD_H

#include <grove.h>

#define CHAT_LOAD_MAX_CLIENTS 64

typedef struct chat_load_opts {
    int clients;             /* simulated clients; 0: 8 */
    uint32_t fault_every_ms; /* mean time between faults; 0: 3000 */
    bool poison;             /* the server has GROVE-POISON on */
    uint64_t seed;           /* 0: from the clock */
} chat_load_opts_t;

/* What the load saw so far. */
typedef struct chat_load_totals {
    uint64_t connected;  /* registrations that got 001 */
    uint64_t sent;       /* PRIVMSG lines sent to channels */
    uint64_t delivered;  /* PRIVMSG lines received from channels */
    uint64_t faults;     /* faults injected */
    uint64_t restarts;   /* faults whose target came back under a new pid */
} chat_load_totals_t;

/* A child spec's start function for the load's supervisor (arg: a
 * chat_load_opts_t that outlives the tree). Start it after the chat
 * server's Acceptor: it reads chat_port(). */
int chat_load_child_start(void *arg, grove_pid_t *pid, grove_reason_t *why);

void chat_load_totals(chat_load_totals_t *out);

#endif
