/* The io layer's interface: the poller backend, the socket table and the
 * parking of a process on a descriptor. Upper layers include only this
 * header; the public functions live in grove/io.h.
 *
 * How a process waits. The schedulers drive the poller (grove__netpoll_t
 * in core.h): an idle scheduler sleeps in it, busy ones look at it now
 * and then, and the service thread does when nobody did for a while (in
 * deterministic builds, which have no service thread, an I/O thread sleeps
 * in it instead). A descriptor is registered once, edge-triggered. A
 * process whose call would block records in its socket's slot what it
 * waits for and the reference it will receive on, and waits with
 * grove_recv_ref and its deadline. A report sends that reference from
 * under the slot's lock, so a waiter that times out can tell, under the
 * same lock, whether a wake-up is on its way (then it removes it from its
 * mailbox) or never will be. A report nobody waited for is remembered in
 * the slot (ready): the next wait for it returns at once and the call is
 * tried again, since the edge will not come back. Readiness messages
 * (grove_io_arm) travel the same way.
 *
 * Backends. One file per backend implements grove__poller_*; each file
 * guards itself with the macro below, so exactly one of them compiles to
 * code: poll_epoll.c on Linux, poll_stub.c (GROVE_ENOSYS) elsewhere. A
 * kqueue or io_uring backend is one more file and one more line here.
 */
#ifndef GROVE_IO_IO_H
#define GROVE_IO_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "base/failpoint.h"
#include "core/core.h"
#include "grove/io.h"

#if defined(__linux__)
#define GROVE__POLL_EPOLL 1
#else
#define GROVE__POLL_STUB 1
#endif

/* ---- the poller backend (one file each) --------------------------------- */

/* Beside GROVE_IO_READABLE and GROVE_IO_WRITABLE in a report: the peer
 * shut its side, or the connection failed. It stays in the slot's ready
 * bits for good, since a read that ends before the end of file says
 * nothing about it (see grove__io_read_sys). */
#define GROVE__IO_HUP 0x100u

typedef struct grove__poll_event {
    uint64_t token;  /* what grove__poller_add was given */
    unsigned events; /* GROVE_IO_READABLE | GROVE_IO_WRITABLE | HUP */
} grove__poll_event_t;

/* Creates the poller. Returns 0, GROVE_ENOSYS, GROVE_ELIMIT or
 * GROVE_ESYSCALL. Called before anyone polls. */
GROVE__HIDDEN int grove__poller_open(void);
/* Closes the poller once nobody polls any more. */
GROVE__HIDDEN void grove__poller_close(void);
/* Makes a grove__poller_wait in progress, or the next one with a
 * timeout, return (from any thread). */
GROVE__HIDDEN void grove__poller_wake(void);
/* Registers fd once, for every later change of its readiness to reading
 * or writing (edge-triggered), reported with token. Returns 0;
 * GROVE_ENOTSUP when fd cannot be polled (a regular file: always ready);
 * GROVE_ECLOSED (a bad fd); GROVE_ENOMEM; GROVE_ESYSCALL. */
GROVE__HIDDEN int grove__poller_add(int fd, uint64_t token);
/* Removes fd before it is closed. */
GROVE__HIDDEN void grove__poller_forget(int fd);
/* Waits up to timeout_ms (-1: no limit; 0: only a look) for reports;
 * returns how many were written to out (0 after an interruption, a wake
 * or the timeout). Only a wait with a timeout other than 0 consumes a
 * wake request. Several threads may call it at once. */
GROVE__HIDDEN int grove__poller_wait(grove__poll_event_t *out, int max,
                                     int timeout_ms);

/* ---- sockets ------------------------------------------------------------ */

enum {
    GROVE__SK_STREAM = 0, /* a connected TCP or UNIX socket */
    GROVE__SK_LISTEN,     /* a listening socket */
    GROVE__SK_OTHER       /* a wrapped descriptor (pipe, terminal) */
};

/* A socket, reached only by its owner process (and by whoever closes it
 * while it is in transit, when nobody owns it). */
typedef struct grove__io_sock {
    int fd;
    uint32_t slot;
    uint8_t kind;     /* GROVE__SK_* */
    uint8_t family;   /* AF_INET, AF_INET6, AF_UNIX or 0 */
    bool eof;         /* the descriptor returned end of file */
    bool drained;     /* the last read emptied the kernel's queue, and no
                         report came during it (see grove__io_read_sys) */
    bool skipping;    /* discarding the rest of a too-long line */
    grove_resource_t *res; /* in the owner, NULL in transit */
    /* The read buffer: bytes [start, end) are unread; a line handed out
     * by read_until stays in place until the next call (pending). */
    char *buf;
    uint32_t start, end, cap;
    uint32_t scan;    /* bytes after start known to hold no delimiter */
    uint32_t pending; /* length of the line handed out last */
    uint32_t max_line;
} grove__io_sock_t;

/* A slot of the socket table. A handle is (gen << 32 | index + 1); gen
 * moves on when the socket closes, so old handles and old poller reports
 * find a different generation and are ignored. */
typedef struct grove__io_slot {
    grove__spin_t lock;
    uint32_t gen;
    uint32_t next_free;
    grove__io_sock_t *sock; /* NULL when free */
    grove_pid_t owner;      /* NONE while in transit */
    bool added;             /* fd registered with the poller */
    atomic_uint ready;      /* reported while nobody waited for it */
    /* a blocking call waiting, woken by a message carrying wait_ref */
    unsigned wait_ev;
    grove_pid_t wait_pid;
    grove_ref_t wait_ref;
    /* a readiness message asked with grove_io_arm */
    unsigned arm_ev;
    grove_pid_t arm_pid;
    uint64_t arm_tag;
} grove__io_slot_t;

/* Deadlines are absolute ms on grove_now_ms()'s clock. */
#define GROVE__IO_NEVER INT64_MAX
GROVE__HIDDEN int64_t grove__io_deadline(grove_timeout_t timeout);

/* Opens the poller and hands it to the schedulers (or starts the I/O
 * thread) if needed; both end at grove_stop (grove__at_stop), when no
 * socket is left. Returns 0 or an error of grove__poller_open or of
 * thread creation. */
GROVE__HIDDEN int grove__io_start(void);
/* Makes a socket for fd owned by the caller: a slot, the struct and the
 * resource that closes it when the caller exits. On failure fd is
 * closed. Returns 0 and *out, GROVE_ENOMEM, GROVE_ELIMIT or
 * GROVE_ENOTPROC. */
GROVE__HIDDEN int grove__io_sock_new(int fd, int kind, int family,
                                     grove_io_t *out);
/* Finds the caller's socket behind h. Returns 0, GROVE_EINVAL (malformed,
 * or not the caller's), GROVE_ECLOSED (stale) or GROVE_ENOTPROC. */
GROVE__HIDDEN int grove__io_get(grove_io_t h, grove__io_sock_t **out);
GROVE__HIDDEN grove__io_slot_t *grove__io_slot(uint32_t index);
GROVE__HIDDEN grove_io_t grove__io_handle(const grove__io_sock_t *s,
                                          uint32_t gen);
/* Closes and frees s: the slot goes stale, the poller forgets fd, fd is
 * closed. Safe for a socket in transit (nobody's resource). */
GROVE__HIDDEN void grove__io_sock_free(grove__io_sock_t *s);
/* The resource destructor the owner carries. */
GROVE__HIDDEN void grove__io_sock_dtor(void *sock);
/* Consumes the line read_until handed out last; frees an empty read
 * buffer, so an idle socket holds none. */
GROVE__HIDDEN void grove__io_settle(grove__io_sock_t *s);
/* Reads from s's descriptor, as read(2) but without the system call
 * when it would only say EAGAIN: a short read empties the kernel's queue
 * of bytes, and with the slot's READABLE report cleared just before it,
 * any byte that comes later leaves a report. An end of file or an error
 * waiting behind the bytes leaves GROVE__IO_HUP, which turns the shortcut
 * off. Returns read(2)'s result (errno set on -1). */
GROVE__HIDDEN ssize_t grove__io_read_sys(grove__io_sock_t *s, void *buf,
                                         size_t size);
/* Parks the caller until s is ready for ev or the deadline passes.
 * Returns 0 (ready, or woken: try the call again), GROVE_ETIMEDOUT or an
 * error of grove__poller_add. */
GROVE__HIDDEN int grove__io_wait(grove__io_sock_t *s, unsigned ev,
                                 int64_t deadline);
/* Registers the slot's descriptor with the poller unless it is already;
 * under the slot's lock. Returns as grove__poller_add. */
GROVE__HIDDEN int grove__io_register_locked(grove__io_slot_t *sl, int fd,
                                            uint32_t index);
/* Maps an errno of a socket call to a GROVE_E* code. */
GROVE__HIDDEN int grove__io_errno(int err);

/* Counters (relaxed: statistics only). */
typedef struct grove__io_counters {
    atomic_uint_fast64_t sockets, waits, events, threads, jobs;
} grove__io_counters_t;
extern GROVE__HIDDEN grove__io_counters_t grove__io_count;

/* ---- addresses ---------------------------------------------------------- */

/* Resolves host:port for a TCP socket into *ss (the first address; host
 * NULL or "" is the wildcard when passive, loopback otherwise). Numeric
 * hosts are parsed at once; names go to the blocking pool. Returns 0,
 * GROVE_ENOTFOUND, GROVE_EINVAL or GROVE_ENOMEM. */
struct sockaddr_storage;
GROVE__HIDDEN int grove__io_resolve(const char *host, int port, bool passive,
                                    struct sockaddr_storage *ss,
                                    unsigned *len);
/* Fills a UNIX address from path ('@': abstract). Returns 0 or
 * GROVE_EINVAL. */
GROVE__HIDDEN int grove__io_unix_addr(const char *path,
                                      struct sockaddr_storage *ss,
                                      unsigned *len);

#endif
