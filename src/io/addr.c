/* Addresses: numeric hosts parsed at once, names resolved by getaddrinfo
 * on the blocking pool (it can only block), UNIX paths, and the mapping
 * of socket errno values to Grove's codes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "io/io.h"

int grove__io_errno(int err)
{
    switch (err) {
    case EPIPE:
    case ECONNRESET:
    case ECONNREFUSED:
    case ENOTCONN:
    case EBADF:
    case ESHUTDOWN:
        return GROVE_ECLOSED;
    case ETIMEDOUT:
        return GROVE_ETIMEDOUT;
    case EMFILE:
    case ENFILE:
        return GROVE_ELIMIT;
    case ENOMEM:
    case ENOBUFS:
        return GROVE_ENOMEM;
    case EADDRINUSE:
        return GROVE_EEXIST;
    case ENOENT:
    case EADDRNOTAVAIL:
        return GROVE_ENOTFOUND;
    case EINVAL:
    case EAFNOSUPPORT:
        return GROVE_EINVAL;
    default:
        return GROVE_ESYSCALL;
    }
}

/* Parses a numeric IPv4 or IPv6 address ("[::1]" too). */
static bool parse_numeric(const char *host, int port,
                          struct sockaddr_storage *ss, unsigned *len)
{
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof buf) {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = 0;
        host = buf;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof *s4;
        return true;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        return true;
    }
    return false;
}

/* A getaddrinfo request, on the heap: if the caller dies while the pool
 * thread resolves, the pool frees it afterwards. */
typedef struct gai_job {
    char host[256];
    char service[8];
    int flags;
    int rc;
    struct addrinfo *res;
} gai_job_t;

static void gai_run(void *arg)
{
    gai_job_t *j = arg;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = j->flags;
    j->rc = getaddrinfo(j->host, j->service, &hints, &j->res);
}

static void gai_free(void *arg)
{
    gai_job_t *j = arg;
    if (j->res)
        freeaddrinfo(j->res);
    free(j);
}

static int resolve_name(const char *host, int port, bool passive,
                        struct sockaddr_storage *ss, unsigned *len)
{
    gai_job_t *j = grove__calloc(1, sizeof *j);
    if (!j)
        return GROVE_ENOMEM;
    snprintf(j->host, sizeof j->host, "%s", host);
    snprintf(j->service, sizeof j->service, "%d", port);
    j->flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int rc = grove_io_blocking_owned(gai_run, j, gai_free);
    if (rc < 0) {
        gai_free(j);
        return rc;
    }
    if (j->rc == EAI_MEMORY)
        rc = GROVE_ENOMEM;
    else if (j->rc != 0 || !j->res || j->res->ai_addrlen > sizeof *ss)
        rc = GROVE_ENOTFOUND;
    else {
        memcpy(ss, j->res->ai_addr, j->res->ai_addrlen);
        *len = (unsigned)j->res->ai_addrlen;
    }
    gai_free(j);
    return rc;
}

int grove__io_resolve(const char *host, int port, bool passive,
                      struct sockaddr_storage *ss, unsigned *len)
{
    if (port < 0 || port > 65535 || (host && strlen(host) > 255))
        return GROVE_EINVAL;
    if (!host || !*host) {
        /* The wildcard is IPv6's, which also takes IPv4 once the
         * listener clears IPV6_V6ONLY; connecting goes to loopback. */
        host = passive ? "::" : "127.0.0.1";
    }
    if (parse_numeric(host, port, ss, len))
        return 0;
    return resolve_name(host, port, passive, ss, len);
}

int grove__io_unix_addr(const char *path, struct sockaddr_storage *ss,
                        unsigned *len)
{
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n >= sizeof un->sun_path)
        return GROVE_EINVAL;
    memset(ss, 0, sizeof *ss);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n);
    if (path[0] == '@') {
        /* Abstract namespace: a leading NUL, and the length says where
         * the name ends. */
        un->sun_path[0] = 0;
        *len = (unsigned)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (unsigned)sizeof *un;
    }
    return 0;
}
