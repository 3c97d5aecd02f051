/* Opening sockets: listen, accept, connect, wrap; and the small calls on
 * an open one (port, peer, shutdown, close). Every descriptor is
 * non-blocking and close-on-exec from its first moment. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/io.h"

#define SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)

/* ---- listening ---------------------------------------------------------- */

static int bind_listen(int fd, const struct sockaddr_storage *ss,
                       unsigned len, int backlog)
{
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0)
        return grove__io_errno(errno);
    return 0;
}

/* A listener's descriptor, ready to accept; the IPv6 wildcard falls back
 * to IPv4 where IPv6 is missing. */
static int tcp_listener(struct sockaddr_storage *ss, unsigned len,
                        int backlog, int *out)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_FLAGS, 0);
    if (fd < 0 && ss->ss_family == AF_INET6 && errno == EAFNOSUPPORT) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        uint16_t port = s6->sin6_port;
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        memset(ss, 0, sizeof *ss);
        s4->sin_family = AF_INET;
        s4->sin_port = port;
        len = sizeof *s4;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_FLAGS, 0);
    }
    if (fd < 0)
        return grove__io_errno(errno);
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    int rc = bind_listen(fd, ss, len, backlog);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

GROVE_EXPORT int grove_io_listen_tcp(const char *host, int port, int backlog,
                                     grove_io_t *out)
{
    if (grove_pid_is_none(grove_self()))
        return GROVE_ENOTPROC;
    if (!out)
        return GROVE_EINVAL;
    struct sockaddr_storage ss;
    unsigned len;
    int rc = grove__io_resolve(host, port, true, &ss, &len);
    int fd = -1;
    if (rc == 0)
        rc = tcp_listener(&ss, len, backlog, &fd);
    if (rc < 0)
        return rc;
    return grove__io_sock_new(fd, GROVE__SK_LISTEN, ss.ss_family, out);
}

GROVE_EXPORT int grove_io_listen_unix(const char *path, int backlog,
                                      grove_io_t *out)
{
    if (grove_pid_is_none(grove_self()))
        return GROVE_ENOTPROC;
    struct sockaddr_storage ss;
    unsigned len;
    if (!out || grove__io_unix_addr(path, &ss, &len) < 0)
        return GROVE_EINVAL;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_FLAGS, 0);
    if (fd < 0)
        return grove__io_errno(errno);
    int rc = bind_listen(fd, &ss, len, backlog);
    if (rc < 0) {
        close(fd);
        return rc == GROVE_ENOTFOUND ? GROVE_EINVAL : rc;
    }
    return grove__io_sock_new(fd, GROVE__SK_LISTEN, AF_UNIX, out);
}

GROVE_EXPORT int grove_io_accept(grove_io_t listener, grove_io_t *out,
                                 grove_timeout_t timeout_ms)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(listener, &s);
    if (rc < 0)
        return rc;
    if (!out || timeout_ms < GROVE_INFINITY)
        return GROVE_EINVAL;
    if (s->kind != GROVE__SK_LISTEN)
        return GROVE_ENOTSUP;
    int64_t deadline = grove__io_deadline(timeout_ms);
    for (;;) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_FLAGS);
        if (fd >= 0)
            return grove__io_sock_new(fd, GROVE__SK_STREAM, s->family, out);
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return grove__io_errno(errno);
        if ((rc = grove__io_wait(s, GROVE_IO_READABLE, deadline)) < 0)
            return rc;
    }
}

/* ---- connecting --------------------------------------------------------- */

/* Waits for a connect in progress to finish and reads its outcome. A UNIX
 * socket whose listener's backlog is full says EAGAIN instead of waiting:
 * it is retried after a short sleep. */
static int finish_connect(grove__io_sock_t *s,
                          const struct sockaddr_storage *ss, unsigned len,
                          int err, int64_t deadline)
{
    for (;;) {
        if (err == EAGAIN && s->family == AF_UNIX) {
            if (deadline != GROVE__IO_NEVER &&
                (int64_t)grove_now_ms() >= deadline)
                return GROVE_ETIMEDOUT;
            grove_sleep(5);
            if (connect(s->fd, (const struct sockaddr *)ss, len) == 0)
                return 0;
            err = errno;
            continue;
        }
        if (err != EINPROGRESS && err != EINTR)
            return err == ENOENT ? GROVE_ENOTFOUND : grove__io_errno(err);
        int rc = grove__io_wait(s, GROVE_IO_WRITABLE, deadline);
        if (rc < 0)
            return rc;
        socklen_t sl = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
            return grove__io_errno(errno);
        if (err == 0)
            return 0;
    }
}

static int connect_to(const struct sockaddr_storage *ss, unsigned len,
                      grove_io_t *out, grove_timeout_t timeout_ms)
{
    int64_t deadline = grove__io_deadline(timeout_ms);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_FLAGS, 0);
    if (fd < 0)
        return grove__io_errno(errno);
    int err = connect(fd, (const struct sockaddr *)ss, len) == 0 ? 0 : errno;
    grove_io_t h;
    int rc = grove__io_sock_new(fd, GROVE__SK_STREAM, ss->ss_family, &h);
    if (rc < 0)
        return rc;
    grove__io_sock_t *s;
    grove__io_get(h, &s);
    if (err)
        rc = finish_connect(s, ss, len, err, deadline);
    if (rc < 0) {
        grove_io_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

GROVE_EXPORT int grove_io_connect_tcp(const char *host, int port,
                                      grove_io_t *out,
                                      grove_timeout_t timeout_ms)
{
    if (grove_pid_is_none(grove_self()))
        return GROVE_ENOTPROC;
    if (!out || port <= 0 || timeout_ms < GROVE_INFINITY)
        return GROVE_EINVAL;
    struct sockaddr_storage ss;
    unsigned len;
    int rc = grove__io_resolve(host, port, false, &ss, &len);
    return rc < 0 ? rc : connect_to(&ss, len, out, timeout_ms);
}

GROVE_EXPORT int grove_io_connect_unix(const char *path, grove_io_t *out,
                                       grove_timeout_t timeout_ms)
{
    if (grove_pid_is_none(grove_self()))
        return GROVE_ENOTPROC;
    struct sockaddr_storage ss;
    unsigned len;
    if (!out || timeout_ms < GROVE_INFINITY ||
        grove__io_unix_addr(path, &ss, &len) < 0)
        return GROVE_EINVAL;
    return connect_to(&ss, len, out, timeout_ms);
}

/* ---- wrapping a descriptor ---------------------------------------------- */

static int kind_of(int fd, int *family)
{
    int type = 0, acc = 0;
    socklen_t n = sizeof type;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *family = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) < 0)
        return GROVE__SK_OTHER; /* not a socket */
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *family = ss.ss_family;
    n = sizeof acc;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &n) == 0 && acc)
        return GROVE__SK_LISTEN;
    return type == SOCK_STREAM ? GROVE__SK_STREAM : GROVE__SK_OTHER;
}

GROVE_EXPORT int grove_io_wrap(int fd, grove_io_t *out)
{
    if (grove_pid_is_none(grove_self()))
        return GROVE_ENOTPROC;
    int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    if (!out || fl < 0)
        return GROVE_EINVAL;
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return GROVE_ESYSCALL;
    int cl = fcntl(fd, F_GETFD);
    if (cl >= 0)
        fcntl(fd, F_SETFD, cl | FD_CLOEXEC);
    int family;
    int kind = kind_of(fd, &family);
    return grove__io_sock_new(fd, kind, family, out);
}

/* ---- small calls -------------------------------------------------------- */

GROVE_EXPORT int grove_io_port(grove_io_t sock)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(sock, &s);
    if (rc < 0)
        return rc;
    if (s->family != AF_INET && s->family != AF_INET6)
        return GROVE_ENOTSUP;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0)
        return grove__io_errno(errno);
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Formats an address; IPv4 seen through an IPv6 socket prints as IPv4. */
static int format_addr(const struct sockaddr_storage *ss, char *buf,
                       size_t size)
{
    char text[INET6_ADDRSTRLEN] = "";
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, text,
                  sizeof text);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        const struct in6_addr *a = &s6->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], text, sizeof text);
        else
            inet_ntop(AF_INET6, a, text, sizeof text);
    } else {
        strcpy(text, "unix");
    }
    size_t n = strlen(text);
    if (n >= size)
        return GROVE_EINVAL;
    memcpy(buf, text, n + 1);
    return (int)n;
}

GROVE_EXPORT int grove_io_peer(grove_io_t sock, char *buf, size_t size)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(sock, &s);
    if (rc < 0)
        return rc;
    if (!buf || !size)
        return GROVE_EINVAL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(s->fd, (struct sockaddr *)&ss, &len) < 0)
        return grove__io_errno(errno);
    return format_addr(&ss, buf, size);
}

GROVE_EXPORT int grove_io_fd(grove_io_t sock)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(sock, &s);
    return rc < 0 ? rc : s->fd;
}

GROVE_EXPORT int grove_io_shutdown(grove_io_t sock)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(sock, &s);
    if (rc < 0)
        return rc;
    if (s->kind != GROVE__SK_STREAM)
        return GROVE_ENOTSUP;
    return shutdown(s->fd, SHUT_WR) < 0 ? grove__io_errno(errno) : 0;
}

GROVE_EXPORT int grove_io_close(grove_io_t sock)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(sock, &s);
    if (rc < 0)
        return rc;
    /* Runs grove__io_sock_dtor: one way to close, whoever closes. */
    return grove_resource_release(s->res);
}
