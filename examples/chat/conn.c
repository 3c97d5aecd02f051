/* A connection: one gen_server per client, a temporary child of the
 * ConnectionSupervisor. It owns its socket (handed over by the Acceptor)
 * and reads it by readiness messages, so while idle it holds no stack and
 * no read buffer: lines from the client and lines from rooms (casts) are
 * both just messages. A malformed line or the poison command ends this
 * process alone; its socket closes with it. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "chat_internal.h"

/* Lines served per readiness message before letting other messages in:
 * a client that floods cannot starve room lines or the shutdown. */
#define LINES_PER_TURN 32
/* Bytes of queued lines written at once: eight or more lines a system
 * call, while an active connection touches little stack. */
#define OUT_BATCH 4096

static grove_gs_ret_t conn_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    conn_t *c = grove_calloc(1, sizeof *c);
    if (!c)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    strcpy(c->nick, "*");
    grove_gs_set_state(gs, c);
    return GROVE_GS_INIT_OK();
}

int conn_prefix(const conn_t *c, char *buf, size_t size)
{
    return snprintf(buf, size, "%s!%s@%s", c->nick, c->user, c->host);
}

static void send_raw(conn_t *c, const char *line, size_t len)
{
    if (c->stop)
        return;
    if (grove_io_write(c->sock, line, len, WRITE_TIMEOUT) != 0)
        c->stop = true; /* the client is gone or does not read */
}

void conn_send(conn_t *c, const char *fmt, ...)
{
    char line[IRC_LINE + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = irc_vformat(line, fmt, ap);
    va_end(ap);
    send_raw(c, line, (size_t)n);
}

void conn_numeric(conn_t *c, int code, const char *fmt, ...)
{
    char text[IRC_LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    conn_send(c, ":" SERVER_NAME " %03d %s %s", code, c->nick, text);
}

/* The socket arrives: take it, learn the peer, wait for lines. */
static grove_gs_ret_t adopt(conn_t *c, const grove_msg_t *m)
{
    if (grove_io_adopt(m, &c->sock) != 0)
        return GROVE_GS_STOP(grove_reason_shutdown("no socket"));
    if (grove_io_peer(c->sock, c->host, sizeof c->host) < 0)
        strcpy(c->host, "unknown");
    int one = 1;
    setsockopt(grove_io_fd(c->sock), IPPROTO_TCP, TCP_NODELAY, &one,
               sizeof one);
    grove_io_set_max_line(c->sock, IN_LINE_MAX);
    chat_log("connection from %s", c->host);
    if (grove_io_arm(c->sock, GROVE_IO_READABLE, CONN_READY) != 0)
        return GROVE_GS_STOP(grove_reason_shutdown("arm failed"));
    return GROVE_GS_NOREPLY();
}

/* Serves the lines that are there, then waits for more. */
static grove_gs_ret_t serve(conn_t *c)
{
    char buf[IN_LINE_MAX + 1];
    for (int i = 0; i < LINES_PER_TURN; i++) {
        const char *line;
        int n = grove_io_read_until(c->sock, '\n', &line, 0);
        if (n == GROVE_ETIMEDOUT) {
            if (grove_io_arm(c->sock, GROVE_IO_READABLE, CONN_READY) != 0)
                return GROVE_GS_STOP(grove_reason_shutdown("arm failed"));
            return GROVE_GS_NOREPLY();
        }
        if (n == GROVE_ETOOLONG) {
            conn_send(c, "ERROR :Line too long");
            return GROVE_GS_STOP(grove_reason_shutdown("line too long"));
        }
        if (n < 0) /* closed by the peer, or reset */
            return GROVE_GS_STOP(grove_reason_normal());
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        memcpy(buf, line, (size_t)n);
        buf[n] = 0;
        if (memchr(buf, 0, (size_t)n)) {
            conn_send(c, "ERROR :Malformed line");
            grove_exit_error(2, "malformed line from %s", c->nick);
        }
        conn_command(c, buf);
        if (c->stop)
            return GROVE_GS_STOP(grove_reason_normal());
    }
    grove_send(grove_self(), CONN_MORE, NULL, 0);
    return GROVE_GS_NOREPLY();
}

chan_t *conn_chan(conn_t *c, const char *name)
{
    char a[CHAN_MAX + 1], b[CHAN_MAX + 1];
    irc_casefold(name, a, sizeof a);
    for (uint16_t i = 0; i < c->nchans; i++) {
        irc_casefold(c->chans[i].name, b, sizeof b);
        if (strcmp(a, b) == 0)
            return &c->chans[i];
    }
    return NULL;
}

void conn_chan_remove(conn_t *c, chan_t *ch)
{
    grove_demonitor(ch->mon, GROVE_DEMONITOR_FLUSH);
    *ch = c->chans[--c->nchans];
}

/* A room went down under this client: it restarts empty, so the client
 * is no longer in it. Tell it, and close the channel on its side. */
void conn_room_down(conn_t *c, grove_ref_t mon, const grove_reason_t *r)
{
    for (uint16_t i = 0; i < c->nchans; i++) {
        chan_t *ch = &c->chans[i];
        if (ch->mon.id != mon.id)
            continue;
        bool crash = !grove_reason_is_shutdown_class(r);
        if (crash)
            atomic_fetch_add_explicit(&chat_ctx->room_crashes, 1,
                                      memory_order_relaxed);
        conn_send(c, ":" SERVER_NAME " NOTICE %s :Room %s %s; you are no "
                  "longer in it", c->nick, ch->name,
                  crash ? "crashed and was restarted empty" : "closed");
        char prefix[IRC_LINE];
        conn_prefix(c, prefix, sizeof prefix);
        conn_send(c, ":%s PART %s :%s", prefix, ch->name,
                  crash ? "Room crashed" : "Room closed");
        *ch = c->chans[--c->nchans];
        return;
    }
}

/* Lines for the client (from rooms and other clients): this one and
 * whatever more are queued go out in one write, and the scheduler is
 * given away after it, so that a busy client neither costs a system call
 * per line nor holds its scheduler. */
static grove_gs_ret_t write_lines(conn_t *c, const grove_msg_t *first)
{
    char out[OUT_BATCH];
    size_t n = grove_msg_size(first);
    memcpy(out, grove_msg_data(first), n);
    grove_msg_t *m;
    while (n + IRC_LINE + 1 <= sizeof out &&
           grove_recv_tag(&m, CONN_LINE, 0) == 0) {
        size_t k = grove_msg_size(m);
        if (k <= IRC_LINE + 1) {
            memcpy(out + n, grove_msg_data(m), k);
            n += k;
        }
        grove_msg_free(m);
    }
    send_raw(c, out, n);
    grove_yield();
    if (c->stop)
        return GROVE_GS_STOP(grove_reason_shutdown("write failed"));
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t conn_info(grove_gs_t *gs, const grove_msg_t *m)
{
    conn_t *c = grove_gs_state(gs);
    if (grove_msg_kind(m) == GROVE_MSG_DOWN) {
        conn_room_down(c, grove_msg_ref(m), grove_msg_reason(m));
        return c->stop ? GROVE_GS_STOP(grove_reason_normal())
                       : GROVE_GS_NOREPLY();
    }
    switch (grove_msg_tag(m)) {
    case CONN_HANDOFF:
        return adopt(c, m);
    case CONN_READY:
    case CONN_MORE:
        return serve(c);
    case CONN_LINE:
        return write_lines(c, m);
    default:
        return GROVE_GS_NOREPLY();
    }
}

static void conn_terminate(grove_gs_t *gs, const grove_reason_t *reason)
{
    conn_t *c = grove_gs_state(gs);
    char why[64];
    grove_reason_format(reason, why, sizeof why);
    chat_log("%s (%s) disconnected: %s", c ? c->nick : "?",
             c ? c->host : "?", why);
}

static int conn_status(grove_gs_t *gs, char *buf, size_t size)
{
    conn_t *c = grove_gs_state(gs);
    return snprintf(buf, size, "client %s from %s, %u channels",
                    c ? c->nick : "?", c ? c->host : "?",
                    c ? c->nchans : 0);
}

const grove_gs_callbacks_t chat_conn_cb = {
    .name = "Chat.Connection",
    .init = conn_init,
    .handle_info = conn_info,
    .terminate = conn_terminate,
    .format_status = conn_status,
};
