/* The acceptor: a gen_server that owns the listening socket, accepts on
 * readiness messages and starts one connection process per client under
 * the connection supervisor, handing it the socket and a reference to
 * the state. A restarted acceptor listens on the port the first one got,
 * so a page left open keeps working. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "obs.h"

/* Accepts per readiness message, so a flood of connections still lets
 * the acceptor's other messages (a shutdown) through. */
#define ACCEPTS_PER_TURN 32
/* Out of descriptors: wait before accepting again rather than spin on a
 * listener that stays readable. */
#define LIMIT_BACKOFF_MS 100

typedef struct acc {
    grove__obs_t *o;
    grove_io_t listener;
} acc_t;

/* Loopback only when the socket is bound to 127.0.0.0/8 or ::1. */
static bool bound_to_loopback(grove_io_t l)
{
    struct sockaddr_storage ss;
    socklen_t n = sizeof ss;
    int fd = grove_io_fd(l);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &n) < 0)
        return false;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

static grove_gs_ret_t acc_init(grove_gs_t *gs, void *arg)
{
    grove__obs_t *o = arg;
    acc_t *a = grove_calloc(1, sizeof *a);
    if (!a || grove__obs_attach(o) < 0)
        return GROVE_GS_INIT_STOP(grove_reason_error(GROVE_ENOMEM,
                                                     "out of memory"));
    a->o = o;
    grove__obs_note_thread(o);
    int port = atomic_load_explicit(&o->port, memory_order_relaxed);
    if (!port)
        port = o->want_port;
    int rc = grove_io_listen_tcp(o->bind, port, 0, &a->listener);
    if (rc < 0) {
        atomic_store_explicit(&o->listen_error, rc, memory_order_relaxed);
        return GROVE_GS_INIT_STOP(grove_reason_error(
            rc, "observer: cannot listen on %s:%d: %s", o->bind, port,
            grove_strerror(rc)));
    }
    bool lo = bound_to_loopback(a->listener);
    atomic_store_explicit(&o->loopback, lo, memory_order_relaxed);
    atomic_store_explicit(&o->port, grove_io_port(a->listener),
                          memory_order_relaxed);
    grove_io_arm(a->listener, GROVE_IO_READABLE, GROVE__OBS_TAG_READY);
    grove_gs_set_state(gs, a);
    return GROVE_GS_INIT_OK();
}

/* A busy observer says so in HTTP rather than leave the client waiting. */
static void turn_away(grove_io_t sock)
{
    static const char body[] = "{\"error\":\"too many connections\"}\n";
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 503 Service Unavailable\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\nRetry-After: 1\r\n"
                     "Connection: close\r\n\r\n%s",
                     sizeof body - 1, body);
    /* A fresh socket's send buffer is empty: this never waits. */
    grove_io_write(sock, msg, (size_t)n, 0);
    grove_io_close(sock);
}

static const grove_child_spec_t conn_spec = {
    .id = "connection",
    .entry = grove__obs_conn_main,
    .restart = GROVE_TEMPORARY,
    .shutdown = GROVE_SHUTDOWN_BRUTAL_KILL,
};

static void start_connection(grove__obs_t *o, grove_io_t sock)
{
    grove_pid_t conns = {atomic_load_explicit(&o->conns,
                                              memory_order_relaxed)};
    grove_pid_t pid;
    int rc = grove_dynsup_start_child(grove_server_pid(conns), &conn_spec,
                                      &pid, NULL);
    if (rc < 0 || grove_pid_is_none(pid)) {
        turn_away(sock);
        return;
    }
    /* Whatever happens to the process now, the reference and the socket
     * travel in messages that release them if it is gone. */
    grove__obs_give(o, pid);
    grove_io_handoff(sock, pid, GROVE__OBS_TAG_SOCKET);
}

static grove_gs_ret_t acc_info(grove_gs_t *gs, const grove_msg_t *m)
{
    acc_t *a = grove_gs_state(gs);
    if (grove_msg_tag(m) != GROVE__OBS_TAG_READY)
        return GROVE_GS_NOREPLY();
    for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
        grove_io_t sock;
        int rc = grove_io_accept(a->listener, &sock, 0);
        if (rc == GROVE_ETIMEDOUT)
            break;
        if (rc == GROVE_ELIMIT || rc == GROVE_ENOMEM) {
            grove_send_after(grove_self(), LIMIT_BACKOFF_MS,
                             GROVE__OBS_TAG_READY, NULL, 0, NULL);
            return GROVE_GS_NOREPLY();
        }
        if (rc < 0)
            return GROVE_GS_STOP(grove_reason_error(
                rc, "observer: accept: %s", grove_strerror(rc)));
        start_connection(a->o, sock);
        if (i == ACCEPTS_PER_TURN - 1) {
            grove_send(grove_self(), GROVE__OBS_TAG_READY, NULL, 0);
            return GROVE_GS_NOREPLY();
        }
    }
    grove_io_arm(a->listener, GROVE_IO_READABLE, GROVE__OBS_TAG_READY);
    return GROVE_GS_NOREPLY();
}

const grove_gs_callbacks_t grove__obs_acceptor_cb = {
    .name = "Grove.Observer.Acceptor",
    .init = acc_init,
    .handle_info = acc_info,
};
