/* Grove network I/O: sockets that park the calling process, not its
 * scheduler thread, and a pool for calls that can only block.
 *
 * Every socket is non-blocking. When a call would block, the calling
 * process waits in receive for a message sent when the descriptor is
 * ready; the schedulers drive the poller (epoll on Linux) themselves, an
 * idle one sleeping in it. Other processes keep running meanwhile. Timeouts are milliseconds as
 * everywhere else (0 polls, GROVE_INFINITY waits).
 *
 * Ownership. A socket belongs to the process that opened it, as a
 * resource: it is closed when that process exits, whatever the reason.
 * Only the owner may use it; other callers get GROVE_EINVAL. A handle is
 * a value like a pid: once the socket is closed, the handle is stale and
 * every call on it returns GROVE_ECLOSED, never touching a reused
 * descriptor. grove_io_handoff and grove_io_adopt move a socket to
 * another process (an acceptor handing connections to their handlers).
 * Every call but grove_io_stats returns GROVE_ENOTPROC when not called
 * from a process.
 *
 * Two styles of reading. Blocking calls (grove_io_read_until with a
 * timeout) suit a process that serves one socket. A process that must
 * also handle other messages (a gen_server per connection) asks for one
 * readiness message with grove_io_arm, Erlang's {active, once}, then
 * reads what is there with a timeout of 0.
 */
#ifndef GROVE_IO_H
#define GROVE_IO_H

#include "message.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A socket handle: slot and generation, never a pointer. Zero is none. */
typedef struct grove_io {
    uint64_t id;
} grove_io_t;

#define GROVE_IO_NONE ((grove_io_t){0})

/* Readiness for grove_io_arm. */
#define GROVE_IO_READABLE 1u
#define GROVE_IO_WRITABLE 2u

/* The default and the largest line grove_io_read_until accepts, delimiter
 * included. */
#define GROVE_IO_MAX_LINE_DEFAULT (64u * 1024u)
#define GROVE_IO_MAX_LINE_LIMIT (1u << 30)

/* ---- opening ------------------------------------------------------------ */

/* Listens on TCP host:port. host: a numeric address ("127.0.0.1", "::1"),
 * a name (resolved on the blocking pool), or NULL / "" for every address.
 * port 0 picks a free port (see grove_io_port). backlog <= 0: SOMAXCONN.
 * Returns 0 and *out; GROVE_EINVAL (bad port); GROVE_ENOTFOUND (unknown
 * host); GROVE_EEXIST (address in use); GROVE_ELIMIT (no descriptor
 * left); GROVE_ENOMEM; GROVE_ESYSCALL; GROVE_ENOTPROC. */
GROVE_EXPORT int grove_io_listen_tcp(const char *host, int port, int backlog,
                                     grove_io_t *out);

/* Listens on a UNIX stream socket at path; a leading '@' names an abstract
 * socket (Linux), which leaves no file behind. An existing file is not
 * removed. Returns as grove_io_listen_tcp; GROVE_EINVAL for a path too
 * long. */
GROVE_EXPORT int grove_io_listen_unix(const char *path, int backlog,
                                      grove_io_t *out);

/* The local port a TCP socket is bound to (the one port 0 picked).
 * Returns the port (> 0), GROVE_ENOTSUP (not TCP), GROVE_ECLOSED or
 * GROVE_EINVAL. */
GROVE_EXPORT int grove_io_port(grove_io_t sock);

/* Accepts one connection, waiting up to timeout_ms. Returns 0 and *out
 * (owned by the caller); GROVE_ETIMEDOUT; GROVE_ELIMIT (no descriptor
 * left: back off before retrying); GROVE_ENOTSUP (not a listener);
 * GROVE_ECLOSED; GROVE_EINVAL; GROVE_ENOMEM; GROVE_ESYSCALL. */
GROVE_EXPORT int grove_io_accept(grove_io_t listener, grove_io_t *out,
                                 grove_timeout_t timeout_ms);

/* Connects to TCP host:port (host as for listen; NULL is loopback) within
 * timeout_ms. Returns 0 and *out; GROVE_ECLOSED (refused or reset);
 * GROVE_ETIMEDOUT; GROVE_ENOTFOUND; GROVE_EINVAL; GROVE_ELIMIT;
 * GROVE_ENOMEM; GROVE_ESYSCALL; GROVE_ENOTPROC. */
GROVE_EXPORT int grove_io_connect_tcp(const char *host, int port,
                                      grove_io_t *out,
                                      grove_timeout_t timeout_ms);

/* Connects to a UNIX stream socket ('@' for abstract). Returns as
 * grove_io_connect_tcp. */
GROVE_EXPORT int grove_io_connect_unix(const char *path, grove_io_t *out,
                                       grove_timeout_t timeout_ms);

/* Takes an open descriptor (a socket, pipe or terminal) into Grove: it is
 * made non-blocking and becomes the caller's, closed with it. Returns 0,
 * GROVE_EINVAL (not an open descriptor), GROVE_ENOMEM or
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_io_wrap(int fd, grove_io_t *out);

/* ---- reading and writing ------------------------------------------------ */

/* Reads up to size bytes: what the read buffer holds first, else what the
 * socket has. Returns the number read (> 0); GROVE_ECLOSED when the peer
 * closed (or reset) and nothing is left; GROVE_ETIMEDOUT; GROVE_ENOTSUP
 * (a listener); GROVE_EINVAL; GROVE_ESYSCALL. */
GROVE_EXPORT int grove_io_read(grove_io_t sock, void *buf, size_t size,
                               grove_timeout_t timeout_ms);

/* Reads one line ending in delim (a byte value), through the socket's read
 * buffer. Returns its length, delimiter included, and sets *line to its
 * first byte, inside the buffer: valid until the next call on sock.
 * Errors: GROVE_ETIMEDOUT (no whole line yet; what came stays buffered);
 * GROVE_ECLOSED (the peer closed before a delimiter; the unterminated
 * bytes can still be taken with grove_io_read); GROVE_ETOOLONG (the line
 * passed the socket's maximum: its bytes are discarded up to the next
 * delimiter, so the next call reads the line after it); GROVE_ENOTSUP;
 * GROVE_EINVAL; GROVE_ESYSCALL. */
GROVE_EXPORT int grove_io_read_until(grove_io_t sock, int delim,
                                     const char **line,
                                     grove_timeout_t timeout_ms);

/* Sets the longest line grove_io_read_until accepts (delimiter included;
 * 2 to GROVE_IO_MAX_LINE_LIMIT). Returns 0, GROVE_EINVAL or
 * GROVE_ECLOSED. */
GROVE_EXPORT int grove_io_set_max_line(grove_io_t sock, size_t max);

/* Bytes waiting in the socket's read buffer (already read from the
 * descriptor). Returns the count, GROVE_EINVAL or GROVE_ECLOSED. */
GROVE_EXPORT int grove_io_buffered(grove_io_t sock);

/* Writes all of data[0..size) within timeout_ms. Returns 0;
 * GROVE_ETIMEDOUT (part may have been written); GROVE_ECLOSED (the peer
 * is gone); GROVE_ENOTSUP; GROVE_EINVAL; GROVE_ESYSCALL. Never raises
 * SIGPIPE on sockets. */
GROVE_EXPORT int grove_io_write(grove_io_t sock, const void *data,
                                size_t size, grove_timeout_t timeout_ms);

/* Closes the writing side (the peer reads end of file); reading goes on.
 * Returns 0, GROVE_ENOTSUP (not a stream socket), GROVE_ECLOSED or
 * GROVE_EINVAL. */
GROVE_EXPORT int grove_io_shutdown(grove_io_t sock);

/* Closes a socket now; the handle becomes stale. Returns 0, GROVE_ECLOSED
 * (already closed) or GROVE_EINVAL (not the caller's). */
GROVE_EXPORT int grove_io_close(grove_io_t sock);

/* ---- readiness messages ------------------------------------------------- */

/* Asks for one message when sock becomes ready for events
 * (GROVE_IO_READABLE and/or GROVE_IO_WRITABLE; an error or hang-up counts
 * as both). The message has the given tag and a grove_io_t as its data;
 * then the request is spent: arm again for the next. A new arm replaces
 * the previous one; a blocking call on sock meanwhile keeps it. Only the
 * descriptor is watched, not the read buffer: drain it with a timeout of
 * 0 until GROVE_ETIMEDOUT before arming. After a close, a message already
 * sent may still arrive; calls with its handle return GROVE_ECLOSED.
 * Returns 0, GROVE_EINVAL, GROVE_ECLOSED or GROVE_ESYSCALL. */
GROVE_EXPORT int grove_io_arm(grove_io_t sock, unsigned events,
                              uint64_t tag);

/* ---- handing a socket to another process -------------------------------- */

/* Gives sock to process to: the caller loses it at once, and to receives
 * a message with this tag to take it with grove_io_adopt. Until then the
 * socket belongs to the message: if to exits first, or frees the message
 * without adopting, the socket is closed. Returns 0; GROVE_EINVAL or
 * GROVE_ECLOSED (nothing changed); GROVE_ENOPROC or GROVE_ENOMEM (the
 * socket could not travel and was closed). */
GROVE_EXPORT int grove_io_handoff(grove_io_t sock, grove_pid_t to,
                                  uint64_t tag);

/* Takes the socket a grove_io_handoff message carries; it becomes the
 * caller's. Returns 0 and *out; GROVE_EINVAL (not a handoff message, or
 * already adopted); GROVE_ECLOSED; GROVE_ENOMEM (still in the message). */
GROVE_EXPORT int grove_io_adopt(const grove_msg_t *msg, grove_io_t *out);

/* ---- the blocking pool -------------------------------------------------- */

/* Runs fn(arg) on a pool thread while the calling process waits; for
 * calls that can only block (files, getaddrinfo, fsync). Returns 0 once
 * fn has returned; GROVE_ENOMEM or GROVE_ESYSCALL (fn did not run);
 * GROVE_EINVAL (NULL fn); GROVE_ENOTPROC. If the caller dies while fn
 * runs, fn still runs to its end: arg must then stay valid, so never
 * point it into the caller's stack or grove_alloc memory when the caller
 * may be killed meanwhile (use grove_io_blocking_owned). */
GROVE_EXPORT int grove_io_blocking(void (*fn)(void *arg), void *arg);

/* As grove_io_blocking for heap arguments: if the caller dies before it
 * has the result, dtor(arg) runs on the pool thread after fn. On 0 the
 * caller owns arg again; on an error dtor has not run. */
GROVE_EXPORT int grove_io_blocking_owned(void (*fn)(void *arg), void *arg,
                                         void (*dtor)(void *arg));

/* ---- introspection ------------------------------------------------------ */

/* The socket's descriptor, for options Grove does not wrap (getsockopt,
 * TCP_NODELAY). Do not close it. Returns the fd, GROVE_EINVAL or
 * GROVE_ECLOSED. */
GROVE_EXPORT int grove_io_fd(grove_io_t sock);

/* Writes the peer's address as text ("127.0.0.1", "::1", a path) into buf.
 * Returns its length, GROVE_EINVAL, GROVE_ECLOSED or GROVE_ESYSCALL. */
GROVE_EXPORT int grove_io_peer(grove_io_t sock, char *buf, size_t size);

typedef struct grove_io_stats {
    uint64_t sockets_open;   /* handles not yet closed */
    uint64_t waits;          /* times a process parked on a descriptor */
    uint64_t events;         /* readiness reports the poller handed out */
    uint64_t pool_threads;   /* blocking-pool threads started */
    uint64_t pool_jobs;      /* blocking calls run */
} grove_io_stats_t;

/* Fills *out with the I/O layer's counters. Returns 0 or GROVE_EINVAL. */
GROVE_EXPORT int grove_io_stats(grove_io_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
