/* The epoll backend of the poller. A descriptor is registered once, for
 * reading and writing, edge-triggered (EPOLLET): the kernel reports a
 * change of readiness once, and waiting again costs no system call. What
 * a report means for the socket's slot (a waiter to wake, or readiness to
 * remember) is loop.c's business. */
#include "io/io.h"

#if defined(GROVE__POLL_EPOLL)

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The eventfd that wakes a thread sleeping in the poller carries this
 * token; no slot has it (slots are 32-bit indexes with a generation
 * above). */
#define WAKE_TOKEN UINT64_MAX

static int epfd = -1;
static int wakefd = -1;

static int open_error(int err)
{
    return err == EMFILE || err == ENFILE ? GROVE_ELIMIT : GROVE_ESYSCALL;
}

int grove__poller_open(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return open_error(errno);
    wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TOKEN};
    if (wakefd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) < 0) {
        int rc = open_error(errno);
        grove__poller_close();
        return rc;
    }
    return 0;
}

void grove__poller_close(void)
{
    if (wakefd >= 0)
        close(wakefd);
    if (epfd >= 0)
        close(epfd);
    wakefd = epfd = -1;
}

void grove__poller_wake(void)
{
    uint64_t one = 1;
    ssize_t n = write(wakefd, &one, sizeof one);
    (void)n; /* a full counter already wakes it */
}

static int ctl_error(int err)
{
    switch (err) {
    case EPERM:
        return GROVE_ENOTSUP; /* regular files and directories */
    case EBADF:
        return GROVE_ECLOSED;
    case ENOMEM:
    case ENOSPC:
        return GROVE_ENOMEM;
    default:
        return GROVE_ESYSCALL;
    }
}

int grove__poller_add(int fd, uint64_t token)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = token,
    };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    /* A fd the kernel still knows under this number (closed and
     * reopened without our forget): take it over. */
    if (errno == EEXIST && epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    return ctl_error(errno);
}

void grove__poller_forget(int fd)
{
    struct epoll_event ev = {0};
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

int grove__poller_wait(grove__poll_event_t *out, int max, int timeout_ms)
{
    struct epoll_event evs[256];
    if (max > 256)
        max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    if (n < 0)
        return 0; /* EINTR: the caller comes back */
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == WAKE_TOKEN) {
            /* Level-triggered: a look (timeout 0) leaves it for the one
             * that sleeps here, which it is meant for. */
            if (timeout_ms != 0) {
                uint64_t v;
                ssize_t r = read(wakefd, &v, sizeof v);
                (void)r;
            }
            continue;
        }
        uint32_t e = evs[i].events;
        unsigned g = 0;
        /* An error or hang-up wakes readers and writers alike: their next
         * call finds out what happened. */
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            g |= GROVE_IO_READABLE;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            g |= GROVE__IO_HUP;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            g |= GROVE_IO_WRITABLE;
        out[k].token = evs[i].data.u64;
        out[k++].events = g;
    }
    return k;
}

#endif
