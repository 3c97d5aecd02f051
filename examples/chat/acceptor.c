/* The Acceptor: a gen_server that owns the listening socket, accepts on
 * readiness messages, starts one connection process per client under the
 * ConnectionSupervisor and hands it the socket. A restarted Acceptor
 * listens on the same port again. */
#include <stdio.h>
#include <string.h>

#include "chat_internal.h"

/* Connections accepted per readiness message before other messages (a
 * port query, the shutdown) get a turn. */
#define ACCEPTS_PER_TURN 64
/* Out of descriptors: wait this long before accepting again, instead of
 * spinning on a listener that stays readable. */
#define EMFILE_BACKOFF 100

typedef struct acceptor {
    grove_io_t listener;
    int port;
} acceptor_t;

static grove_gs_ret_t acceptor_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    chat_ctx_t *x = chat_ctx;
    acceptor_t *a = grove_calloc(1, sizeof *a);
    if (!a)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    int port = atomic_load(&x->port);
    int rc = grove_io_listen_tcp(x->host, port ? port : x->opts.port, 0,
                                 &a->listener);
    if (rc < 0)
        return GROVE_GS_INIT_STOP(grove_reason_error(
            rc, "cannot listen on %s:%d: %s", x->host,
            port ? port : x->opts.port, grove_strerror(rc)));
    a->port = grove_io_port(a->listener);
    atomic_store(&x->port, a->port);
    grove_io_arm(a->listener, GROVE_IO_READABLE, ACC_READY);
    grove_gs_set_state(gs, a);
    chat_log("listening on %s:%d", x->host, a->port);
    return GROVE_GS_INIT_OK();
}

static const grove_child_spec_t conn_spec = {
    .id = "connection",
    .gen_server = &chat_conn_cb,
    .restart = GROVE_TEMPORARY,
    .shutdown = GROVE_SHUTDOWN_BRUTAL_KILL,
};

/* One client: a new connection process, which then gets the socket. */
static void start_connection(grove_io_t sock)
{
    grove_pid_t pid;
    int rc = grove_dynsup_start_child(grove_server_name(NAME_CONNS),
                                      &conn_spec, &pid, NULL);
    if (rc == 0 && !grove_pid_is_none(pid)) {
        atomic_fetch_add_explicit(&chat_ctx->connects, 1,
                                  memory_order_relaxed);
        /* On failure the socket is closed: the process died meanwhile. */
        grove_io_handoff(sock, pid, CONN_HANDOFF);
        return;
    }
    static const char full[] = "ERROR :Server full\r\n";
    if (rc == GROVE_EMAXCHILDREN)
        grove_io_write(sock, full, sizeof full - 1, 0);
    grove_io_close(sock);
}

static grove_gs_ret_t acceptor_info(grove_gs_t *gs, const grove_msg_t *m)
{
    acceptor_t *a = grove_gs_state(gs);
    if (grove_msg_tag(m) != ACC_READY)
        return GROVE_GS_NOREPLY();
    for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
        grove_io_t sock;
        int rc = grove_io_accept(a->listener, &sock, 0);
        if (rc == GROVE_ETIMEDOUT)
            break;
        if (rc == GROVE_ELIMIT || rc == GROVE_ENOMEM) {
            chat_log("accept: %s; backing off", grove_strerror(rc));
            grove_send_after(grove_self(), EMFILE_BACKOFF, ACC_READY, NULL, 0,
                             NULL);
            return GROVE_GS_NOREPLY();
        }
        if (rc < 0)
            return GROVE_GS_STOP(grove_reason_error(rc, "accept: %s",
                                                    grove_strerror(rc)));
        start_connection(sock);
        if (i == ACCEPTS_PER_TURN - 1) {
            grove_send(grove_self(), ACC_READY, NULL, 0);
            return GROVE_GS_NOREPLY();
        }
    }
    grove_io_arm(a->listener, GROVE_IO_READABLE, ACC_READY);
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t acceptor_call(grove_gs_t *gs, const grove_msg_t *req,
                                    grove_gs_from_t from)
{
    (void)req;
    (void)from;
    acceptor_t *a = grove_gs_state(gs);
    return GROVE_GS_REPLY(ACC_PORT, &a->port, sizeof a->port);
}

const grove_gs_callbacks_t chat_acceptor_cb = {
    .name = "Chat.Acceptor",
    .init = acceptor_init,
    .handle_call = acceptor_call,
    .handle_info = acceptor_info,
};
