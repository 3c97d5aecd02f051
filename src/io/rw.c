/* Reading and writing: the read buffer behind grove_io_read_until, raw
 * reads that drain it first, and write-all. Each call retries its system
 * call after every wake-up, so a spurious wake-up costs one EAGAIN. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/io.h"

/* A first buffer holds a few IRC- or HTTP-sized lines; it doubles up to
 * the socket's line limit. */
#define BUF_FIRST 1024u

/* Consumes the line handed out last and gives an empty buffer back: idle
 * connections then hold no buffer at all. */
void grove__io_settle(grove__io_sock_t *s)
{
    s->start += s->pending;
    s->pending = 0;
    if (s->start == s->end) {
        s->start = s->end = s->scan = 0;
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
    }
}

/* Makes room after end for at least one more read. */
static int make_room(grove__io_sock_t *s)
{
    if (s->end < s->cap)
        return 0;
    if (s->start > 0) {
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->end -= s->start;
        s->start = 0;
        return 0;
    }
    uint32_t limit = s->max_line > BUF_FIRST ? s->max_line : BUF_FIRST;
    uint32_t cap = s->cap ? s->cap * 2 : BUF_FIRST;
    if (cap > limit || cap < s->cap)
        cap = limit;
    if (cap <= s->cap)
        return GROVE_ETOOLONG; /* unreachable: read_until checks first */
    char *b = grove__realloc(s->buf, cap);
    if (!b)
        return GROVE_ENOMEM;
    s->buf = b;
    s->cap = cap;
    return 0;
}

/* Reads more bytes into the buffer, waiting until the deadline. Returns
 * the count, GROVE_ECLOSED at end of file, or an error. */
static int fill(grove__io_sock_t *s, int64_t deadline)
{
    for (;;) {
        int rc = make_room(s);
        if (rc < 0)
            return rc;
        ssize_t n = grove__io_read_sys(s, s->buf + s->end, s->cap - s->end);
        if (n > 0) {
            s->end += (uint32_t)n;
            return (int)n;
        }
        if (n == 0) {
            s->eof = true;
            return GROVE_ECLOSED;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return grove__io_errno(errno);
        /* Nothing buffered: wait without holding a buffer. */
        grove__io_settle(s);
        if ((rc = grove__io_wait(s, GROVE_IO_READABLE, deadline)) < 0)
            return rc;
    }
}

static int get_stream(grove_io_t h, grove__io_sock_t **out)
{
    int rc = grove__io_get(h, out);
    if (rc == 0 && (*out)->kind == GROVE__SK_LISTEN)
        rc = GROVE_ENOTSUP;
    return rc;
}

GROVE_EXPORT int grove_io_read(grove_io_t sock, void *buf, size_t size,
                               grove_timeout_t timeout_ms)
{
    grove__io_sock_t *s;
    int rc = get_stream(sock, &s);
    if (rc < 0)
        return rc;
    if (!buf || !size || timeout_ms < GROVE_INFINITY)
        return GROVE_EINVAL;
    if (size > INT32_MAX)
        size = INT32_MAX;
    grove__io_settle(s);
    size_t have = s->end - s->start;
    if (have) {
        size_t n = have < size ? have : size;
        memcpy(buf, s->buf + s->start, n);
        s->start += (uint32_t)n;
        s->scan = 0;
        return (int)n;
    }
    int64_t deadline = grove__io_deadline(timeout_ms);
    for (;;) {
        ssize_t n = s->eof ? 0 : grove__io_read_sys(s, buf, size);
        if (n > 0)
            return (int)n;
        if (n == 0) {
            s->eof = true;
            return GROVE_ECLOSED;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return grove__io_errno(errno);
        if ((rc = grove__io_wait(s, GROVE_IO_READABLE, deadline)) < 0)
            return rc;
    }
}

/* In skipping mode, drops bytes up to and including the next delimiter.
 * Returns true once it is found (normal reading resumes after it). */
static bool skip_line(grove__io_sock_t *s, int delim)
{
    char *p = memchr(s->buf + s->start, delim, s->end - s->start);
    if (!p) {
        s->start = s->end = s->scan = 0;
        return false;
    }
    s->start = (uint32_t)(p - s->buf) + 1;
    s->scan = 0;
    s->skipping = false;
    return true;
}

/* Looks for a whole line in the buffer. Returns its length, 0 if there is
 * none yet, or GROVE_ETOOLONG (the bytes are then dropped). */
static int find_line(grove__io_sock_t *s, int delim)
{
    uint32_t have = s->end - s->start;
    char *from = s->buf + s->start + s->scan;
    char *p = memchr(from, delim, have - s->scan);
    if (p) {
        uint32_t len = (uint32_t)(p - (s->buf + s->start)) + 1;
        if (len <= s->max_line)
            return (int)len;
        s->start += len; /* complete but too long: drop just this line */
        s->scan = 0;
        return GROVE_ETOOLONG;
    }
    s->scan = have;
    if (have < s->max_line)
        return 0;
    s->start = s->end = s->scan = 0;
    s->skipping = true;
    return GROVE_ETOOLONG;
}

GROVE_EXPORT int grove_io_read_until(grove_io_t sock, int delim,
                                     const char **line,
                                     grove_timeout_t timeout_ms)
{
    grove__io_sock_t *s;
    int rc = get_stream(sock, &s);
    if (rc < 0)
        return rc;
    if (!line || delim < 0 || delim > 255 || timeout_ms < GROVE_INFINITY)
        return GROVE_EINVAL;
    grove__io_settle(s);
    int64_t deadline = grove__io_deadline(timeout_ms);
    for (;;) {
        if (s->buf && s->skipping)
            skip_line(s, delim);
        if (s->buf && !s->skipping && s->end > s->start) {
            int len = find_line(s, delim);
            if (len > 0) {
                *line = s->buf + s->start;
                s->pending = (uint32_t)len;
                s->scan = 0;
                return len;
            }
            if (len < 0)
                return len;
        }
        if (s->eof)
            return GROVE_ECLOSED;
        if ((rc = fill(s, deadline)) < 0)
            return rc;
    }
}

GROVE_EXPORT int grove_io_set_max_line(grove_io_t sock, size_t max)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(sock, &s);
    if (rc < 0)
        return rc;
    if (max < 2 || max > GROVE_IO_MAX_LINE_LIMIT)
        return GROVE_EINVAL;
    s->max_line = (uint32_t)max;
    return 0;
}

GROVE_EXPORT int grove_io_buffered(grove_io_t sock)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(sock, &s);
    if (rc < 0)
        return rc;
    return (int)(s->end - s->start - s->pending);
}

/* send() where possible: MSG_NOSIGNAL keeps a closed peer from raising
 * SIGPIPE in the whole OS process. Pipes and terminals take write(). */
static ssize_t put(grove__io_sock_t *s, const char *p, size_t n)
{
    if (s->kind == GROVE__SK_OTHER && s->family == 0)
        return write(s->fd, p, n);
    return send(s->fd, p, n, MSG_NOSIGNAL);
}

GROVE_EXPORT int grove_io_write(grove_io_t sock, const void *data,
                                size_t size, grove_timeout_t timeout_ms)
{
    grove__io_sock_t *s;
    int rc = get_stream(sock, &s);
    if (rc < 0)
        return rc;
    if ((!data && size) || timeout_ms < GROVE_INFINITY)
        return GROVE_EINVAL;
    int64_t deadline = grove__io_deadline(timeout_ms);
    const char *p = data;
    while (size > 0) {
        ssize_t n = put(s, p, size);
        if (n >= 0) {
            p += n;
            size -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return grove__io_errno(errno);
        if ((rc = grove__io_wait(s, GROVE_IO_WRITABLE, deadline)) < 0)
            return rc;
    }
    return 0;
}
