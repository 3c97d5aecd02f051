/* A small IRC client over Grove's I/O, for tests and benchmarks: each
 * client belongs to the process that opened it, and reading answers the
 * server's PINGs on the way. */
#include <stdio.h>
#include <string.h>

#include "chat_internal.h"

int chat_client_connect(chat_client_t *c, const char *host, int port,
                        grove_timeout_t timeout_ms)
{
    memset(c, 0, sizeof *c);
    return grove_io_connect_tcp(host ? host : "127.0.0.1", port, &c->sock,
                                timeout_ms);
}

int chat_client_send(chat_client_t *c, const char *fmt, ...)
{
    char line[IN_LINE_MAX + 3];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return GROVE_EINVAL;
    if ((size_t)n > sizeof line - 3)
        n = (int)sizeof line - 3;
    line[n++] = '\r';
    line[n++] = '\n';
    return grove_io_write(c->sock, line, (size_t)n, WRITE_TIMEOUT);
}

static grove_timeout_t left(int64_t deadline)
{
    if (deadline == INT64_MAX)
        return GROVE_INFINITY;
    int64_t now = (int64_t)grove_now_ms();
    return now >= deadline ? 0 : deadline - now;
}

int chat_client_line(chat_client_t *c, char *buf, size_t size,
                     grove_timeout_t timeout_ms)
{
    int64_t deadline = timeout_ms == GROVE_INFINITY
                           ? INT64_MAX
                           : (int64_t)grove_now_ms() + timeout_ms;
    for (;;) {
        const char *line;
        int n = grove_io_read_until(c->sock, '\n', &line, left(deadline));
        if (n < 0)
            return n;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n >= 5 && memcmp(line, "PING ", 5) == 0) {
            int rc = chat_client_send(c, "PONG %.*s", n - 5, line + 5);
            if (rc < 0)
                return rc;
            continue;
        }
        size_t k = (size_t)n < size ? (size_t)n : size - 1;
        memcpy(buf, line, k);
        buf[k] = 0;
        return (int)k;
    }
}

int chat_client_expect(chat_client_t *c, const char *needle, char *buf,
                       size_t size, grove_timeout_t timeout_ms)
{
    int64_t deadline = timeout_ms == GROVE_INFINITY
                           ? INT64_MAX
                           : (int64_t)grove_now_ms() + timeout_ms;
    for (;;) {
        int n = chat_client_line(c, buf, size, left(deadline));
        if (n < 0 || strstr(buf, needle))
            return n;
    }
}

int chat_client_open(chat_client_t *c, const char *host, int port,
                     const char *nick, grove_timeout_t timeout_ms)
{
    int rc = chat_client_connect(c, host, port, timeout_ms);
    if (rc < 0)
        return rc;
    snprintf(c->nick, sizeof c->nick, "%s", nick);
    if ((rc = chat_client_send(c, "NICK %s", nick)) < 0 ||
        (rc = chat_client_send(c, "USER %s 0 * :Grove client", nick)) < 0)
        goto fail;
    char buf[IRC_LINE + 1];
    for (;;) {
        rc = chat_client_line(c, buf, sizeof buf, timeout_ms);
        if (rc < 0)
            goto fail;
        const char *code = strchr(buf, ' ');
        if (code && strncmp(code + 1, "001 ", 4) == 0)
            return 0;
        if (code && strncmp(code + 1, "433 ", 4) == 0) {
            rc = GROVE_EEXIST;
            goto fail;
        }
    }
fail:
    chat_client_close(c);
    return rc;
}

int chat_client_join(chat_client_t *c, const char *chan,
                     grove_timeout_t timeout_ms)
{
    int rc = chat_client_send(c, "JOIN %s", chan);
    char buf[IRC_LINE + 1], want[CHAN_MAX + 8];
    snprintf(want, sizeof want, " 366 %s %s ", c->nick, chan);
    if (rc == 0)
        rc = chat_client_expect(c, want, buf, sizeof buf, timeout_ms);
    return rc < 0 ? rc : 0;
}

void chat_client_close(chat_client_t *c)
{
    grove_io_close(c->sock);
    c->sock = GROVE_IO_NONE;
}
